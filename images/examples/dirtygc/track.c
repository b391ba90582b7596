/*
 * track: the four ways of finding written pages (track.h).
 *
 * Every method keeps the same picture: a page is clean after track_open
 * and after each collect, and dirty from its first write after that.
 * The kernel (or the supervisor) keeps the bits for three of them; the
 * mprotect method keeps its own bitmap, filled by a SIGSEGV handler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "dune.h"
#include "track.h"

#define PG      4096UL

/* Linux 6.7's uapi, which the 6.1 headers here lack (linux/fs.h and
 * linux/userfaultfd.h of 6.7 and later define the same). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED     (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC           (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN            _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING     (1 << 0)
#define PM_SCAN_CHECK_WPASYNC   (1 << 1)
#define PAGE_IS_WRITTEN         (1 << 1)
#endif

#define PM_SOFT_DIRTY   (1ULL << 55)    /* a /proc/PID/pagemap entry's bit */
#define PM_CHUNK        65536           /* pagemap entries per pread (512 KiB) */
#define SCAN_REGIONS    16384           /* page_regions per PAGEMAP_SCAN */

struct tracker {
	enum track_method m;
	uintptr_t base;
	size_t len, npages, nwords;
	int pagemap, clear_refs, uffd;  /* -1 when the method has none */
	void *buf;                      /* pagemap entries or page_regions */
	uint64_t *bits;                 /* mprotect: written since the last collect */
	volatile int overflow;          /* mprotect: a page could not be unprotected */
	struct sigaction old;           /* mprotect: the SIGSEGV action before */
};

/*
 * The open mprotect tracker, for the SIGSEGV handler: a signal handler
 * has no argument to find it by.  Set before the handler is installed
 * and cleared after it is removed; only one may be open.
 */
static struct tracker *volatile segv_tracker;

static const char *const names[TRACK_NMETHODS] = {
	[TRACK_MPROTECT] = "mprotect",
	[TRACK_SOFTDIRTY] = "soft-dirty",
	[TRACK_PAGEMAP_SCAN] = "pagemap-scan",
	[TRACK_DUNE] = "dune",
	[TRACK_RING0] = "ring0",
};

const char *track_name(enum track_method m)
{
	return (unsigned)m < TRACK_NMETHODS ? names[m] : "?";
}

int track_method(const char *name)
{
	for (int m = 0; m < TRACK_NMETHODS; m++)
		if (strcmp(name, names[m]) == 0)
			return m;
	return -1;
}

/* ---- bitmaps ---------------------------------------------------------- */

static void set_bit(uint64_t *b, size_t i)
{
	b[i / 64] |= 1ULL << (i % 64);
}

/* Sets bits [lo, hi), a word at a time: PAGEMAP_SCAN returns runs. */
static void set_bits(uint64_t *b, size_t lo, size_t hi)
{
	while (lo < hi && lo % 64)
		set_bit(b, lo++);
	for (; lo + 64 <= hi; lo += 64)
		b[lo / 64] = ~0ULL;
	while (lo < hi)
		set_bit(b, lo++);
}

static long count_bits(const uint64_t *b, size_t nwords)
{
	long n = 0;

	for (size_t i = 0; i < nwords; i++)
		n += __builtin_popcountll(b[i]);
	return n;
}

/* ---- mprotect: a write barrier made of page protection --------------- */

/*
 * A write to a read-only page of the heap: note the page and let the
 * write go through.  Anything else is a real crash: put the default
 * action back and return, so the instruction faults again and kills
 * the program as it would have without us.
 */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	struct tracker *t = segv_tracker;
	uintptr_t a = (uintptr_t)si->si_addr;
	int saved = errno;              /* the interrupted code's */

	if (t && si->si_code == SEGV_ACCERR && a - t->base < t->len) {
		size_t i = (a - t->base) / PG;
		/* Atomic: another thread may fault on a page of the same word. */
		__atomic_fetch_or(&t->bits[i / 64], 1ULL << (i % 64), __ATOMIC_RELAXED);
		if (mprotect((void *)(t->base + i * PG), PG, PROT_READ | PROT_WRITE) == 0)
			goto out;
		/* Out of VMAs (vm.max_map_count): each unprotected page splits
		 * the heap's.  Give up precision, not correctness: open the
		 * whole heap and let collect report every page. */
		t->overflow = 1;
		if (mprotect((void *)t->base, t->len, PROT_READ | PROT_WRITE) == 0)
			goto out;
	}
	signal(SIGSEGV, SIG_DFL);
out:
	errno = saved;
}

static int mprotect_open(struct tracker *t)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_RESTART };

	if (segv_tracker)
		return -EBUSY;
	t->bits = calloc(t->nwords, 8);
	if (!t->bits)
		return -ENOMEM;
	segv_tracker = t;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &t->old) < 0) {
		segv_tracker = NULL;
		return -errno;
	}
	if (mprotect((void *)t->base, t->len, PROT_READ) < 0) {
		int e = errno;
		sigaction(SIGSEGV, &t->old, NULL);
		segv_tracker = NULL;
		return -e;
	}
	return 0;
}

/*
 * Copy out and clear first, then protect: the mutator is stopped while
 * the collector collects, so no write can fall between the two.
 */
static long mprotect_collect(struct tracker *t, uint64_t *bitmap)
{
	long r;

	if (t->overflow) {
		memset(bitmap, 0xff, t->nwords * 8);
		if (t->npages % 64)
			bitmap[t->nwords - 1] = (1ULL << (t->npages % 64)) - 1;
		/* Every page counts as written; -ENOMEM says the bitmap is a
		 * guess, and that tracking this heap page by page does not fit. */
		r = -ENOMEM;
	} else {
		memcpy(bitmap, t->bits, t->nwords * 8);
		r = count_bits(bitmap, t->nwords);
	}
	memset(t->bits, 0, t->nwords * 8);
	t->overflow = 0;
	if (mprotect((void *)t->base, t->len, PROT_READ) < 0)
		return -errno;
	return r;
}

static void mprotect_close(struct tracker *t)
{
	mprotect((void *)t->base, t->len, PROT_READ | PROT_WRITE);
	sigaction(SIGSEGV, &t->old, NULL);
	segv_tracker = NULL;
}

/* ---- soft-dirty: /proc/self/clear_refs and pagemap bit 55 ------------ */

/* Clears soft-dirty for the whole process, not just the heap. */
static int clear_soft_dirty(struct tracker *t)
{
	ssize_t n = write(t->clear_refs, "4", 1);

	return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

static int pagemap_entry(struct tracker *t, uintptr_t va, uint64_t *e)
{
	ssize_t n = pread(t->pagemap, e, 8, va / PG * 8);

	return n == 8 ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * Kernels built without CONFIG_MEM_SOFT_DIRTY accept the clear_refs
 * write and never set bit 55, which would look like a heap nobody
 * writes.  Write a page of our own after a clear to find out.
 */
static int soft_dirty_works(struct tracker *t)
{
	volatile char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e = 0;
	int r;

	if (p == MAP_FAILED)
		return -errno;
	p[0] = 1;
	r = clear_soft_dirty(t);
	if (r == 0) {
		p[0] = 2;
		r = pagemap_entry(t, (uintptr_t)p, &e);
	}
	munmap((void *)p, PG);
	if (r == 0 && !(e & PM_SOFT_DIRTY))
		r = -EOPNOTSUPP;
	return r;
}

static int softdirty_open(struct tracker *t)
{
	int r;

	t->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (t->pagemap < 0)
		return -errno;
	t->clear_refs = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (t->clear_refs < 0)
		return -errno;
	t->buf = malloc(PM_CHUNK * 8);
	if (!t->buf)
		return -ENOMEM;
	if ((r = soft_dirty_works(t)) < 0)
		return r;
	return clear_soft_dirty(t);
}

static long softdirty_collect(struct tracker *t, uint64_t *bitmap)
{
	uint64_t *e = t->buf;
	off_t off = t->base / PG * 8;

	for (size_t i = 0; i < t->npages;) {
		size_t n = t->npages - i < PM_CHUNK ? t->npages - i : PM_CHUNK;
		ssize_t got = pread(t->pagemap, e, n * 8, off + i * 8);
		if (got <= 0 || got % 8)
			return got < 0 ? -errno : -EIO;
		for (size_t k = 0; k < (size_t)got / 8; k++)
			if (e[k] & PM_SOFT_DIRTY)
				set_bit(bitmap, i + k);
		i += got / 8;
	}
	int r = clear_soft_dirty(t);
	return r < 0 ? r : count_bits(bitmap, t->nwords);
}

/* ---- pagemap-scan: async userfaultfd write protection ---------------- */

/*
 * WP_ASYNC: a write to a write-protected page is let through by the
 * kernel itself, which only clears the page's uffd-wp bit (no message,
 * no thread to serve it).  WP_UNPOPULATED: pages not faulted in yet are
 * protected too, so a first touch counts as a write.
 */
static int uffd_wp_open(struct tracker *t)
{
	uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	struct uffdio_register reg = {
		.range = { t->base, t->len }, .mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = { t->base, t->len }, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	/* User-mode only: needs no privilege (vm.unprivileged_userfaultfd). */
	t->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (t->uffd < 0)
		return -errno;
	/* An older kernel fails UFFDIO_API for features it does not know. */
	if (ioctl(t->uffd, UFFDIO_API, &api) < 0)
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	if ((api.features & want) != want)
		return -EOPNOTSUPP;
	if (ioctl(t->uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT)))
		return -EOPNOTSUPP;
	if (ioctl(t->uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
		return -errno;
	return 0;
}

static long scan_collect(struct tracker *t, uint64_t *bitmap)
{
	struct page_region *v = t->buf;
	struct pm_scan_arg a = {
		.size = sizeof a,
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = t->base, .end = t->base + t->len,
		.vec = (uintptr_t)v, .vec_len = SCAN_REGIONS,
		.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
	};

	/* The walk stops early (walk_end < end) when vec is full. */
	for (;;) {
		long n = ioctl(t->pagemap, PAGEMAP_SCAN, &a);
		if (n < 0)
			return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : -errno;
		for (long k = 0; k < n; k++)
			set_bits(bitmap, (v[k].start - t->base) / PG, (v[k].end - t->base) / PG);
		if (a.walk_end >= a.end)
			break;
		a.start = a.walk_end;
	}
	return count_bits(bitmap, t->nwords);
}

static int scan_open(struct tracker *t)
{
	int r;

	t->buf = malloc(SCAN_REGIONS * sizeof(struct page_region));
	if (!t->buf)
		return -ENOMEM;
	t->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (t->pagemap < 0)
		return -errno;
	return (r = uffd_wp_open(t)) < 0 ? r : 0;
}

/* ---- dune: the supervisor's dirty bits -------------------------------- */

static int dune_open(struct tracker *t)
{
	int r = dune_init();

	return r < 0 ? r : 0;
}

static long dune_collect(struct tracker *t, uint64_t *bitmap)
{
	return dune_collect_dirty((void *)t->base, t->len, bitmap);
}

/* ---- ring0: the dirty bits themselves ---------------------------------- */

/* Every page of the heap gets a 4 KiB entry of its own, or a written
 * 2 MiB page would count as 512: each page is touched (a read, so the
 * heap is committed now), then one launcher collect splits the 2 MiB
 * pages that made (as it does on a range's first collect). */
static int ring0_open(struct tracker *t)
{
	int r = dune_init();

	if (r < 0)
		return r;
	if (!dune_in_ring0())
		return -EPERM;
	for (uintptr_t a = t->base; a < t->base + t->len; a += PG)
		(void)*(volatile const char *)a;
	uint64_t *scratch = calloc(t->nwords, 8);
	if (!scratch)
		return -ENOMEM;
	long n = dune_collect_dirty((void *)t->base, t->len, scratch);
	free(scratch);
	return n < 0 ? (int)n : 0;
}

/* The TLB may hold a page's translation as already dirty, and the CPU
 * sets D again only when it walks the table: each page cleared is
 * flushed (all at once, past a few). */
static long ring0_collect(struct tracker *t, uint64_t *bitmap)
{
	long n = dune_collect_bits(dune_root_current(), (void *)t->base, t->len,
				   DUNE_PTE_D, bitmap);

	if (n > 32) {
		dune_flush_all();
	} else if (n > 0) {
		for (size_t i = 0; i < t->npages; i++)
			if (bitmap[i / 64] >> (i % 64) & 1)
				dune_flush_one((void *)(t->base + i * PG));
	}
	return n;
}

/* ---- the interface ---------------------------------------------------- */

static long collect(struct tracker *t, uint64_t *bitmap)
{
	switch (t->m) {
	case TRACK_MPROTECT: return mprotect_collect(t, bitmap);
	case TRACK_SOFTDIRTY: return softdirty_collect(t, bitmap);
	case TRACK_PAGEMAP_SCAN: return scan_collect(t, bitmap);
	case TRACK_DUNE: return dune_collect(t, bitmap);
	case TRACK_RING0: return ring0_collect(t, bitmap);
	default: return -EINVAL;
	}
}

long track_collect(struct tracker *t, uint64_t *bitmap)
{
	if (!t || !bitmap)
		return -EINVAL;
	memset(bitmap, 0, t->nwords * 8);
	return collect(t, bitmap);
}

static int open_method(struct tracker *t)
{
	switch (t->m) {
	case TRACK_MPROTECT: return mprotect_open(t);
	case TRACK_SOFTDIRTY: return softdirty_open(t);
	case TRACK_PAGEMAP_SCAN: return scan_open(t);
	case TRACK_DUNE: return dune_open(t);
	case TRACK_RING0: return ring0_open(t);
	default: return -EINVAL;
	}
}

/*
 * The methods whose bits the kernel or supervisor keeps start from
 * whatever was there: one collect thrown away makes every page clean.
 */
static int start_clean(struct tracker *t)
{
	uint64_t *scratch;
	long r;

	if (t->m == TRACK_MPROTECT || t->m == TRACK_SOFTDIRTY)
		return 0;               /* already clean: protected, or cleared */
	scratch = calloc(t->nwords, 8);
	if (!scratch)
		return -ENOMEM;
	r = collect(t, scratch);
	free(scratch);
	return r < 0 ? (int)r : 0;
}

static void release(struct tracker *t)
{
	if (t->pagemap >= 0)
		close(t->pagemap);
	if (t->clear_refs >= 0)
		close(t->clear_refs);
	if (t->uffd >= 0)
		close(t->uffd);         /* unregisters the range */
	free(t->buf);
	free(t->bits);
	free(t);
}

struct tracker *track_open(enum track_method m, void *base, size_t len)
{
	struct tracker *t;
	int r;

	if ((unsigned)m >= TRACK_NMETHODS || (uintptr_t)base % PG || len % PG || !len) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	*t = (struct tracker){
		.m = m, .base = (uintptr_t)base, .len = len, .npages = len / PG,
		.nwords = (len / PG + 63) / 64, .pagemap = -1, .clear_refs = -1, .uffd = -1,
	};
	r = open_method(t);
	if (r == 0)
		r = start_clean(t);     /* cannot fail for mprotect, which owns SIGSEGV */
	if (r < 0) {
		release(t);
		errno = -r;
		return NULL;
	}
	return t;
}

void track_close(struct tracker *t)
{
	if (!t)
		return;
	if (t->m == TRACK_MPROTECT)
		mprotect_close(t);
	release(t);
}
