/*
 * The address space's patched syscall sites (patch/patch.h).
 *
 * A site is patched the first time its syscall is served, if the bytes
 * after it can be borrowed, it lies in read-only private text, and its
 * stub fits in one of its windows (patch.h: the bands).  The patch is
 * the program's own copy of its text (file mappings are private copies),
 * like a debugger's breakpoint: the file and other processes never see
 * it, and a fork child inherits it with the rest of memory.
 *
 * What the program reads at a patched site is the patch (5 bytes,
 * e9 xx 06 06 xx).  Any change of the pages under a site first puts the
 * original bytes back: mprotect (so a program that makes its text
 * readable or writable to inspect or rewrite it sees and edits the
 * original), mremap; munmap and a fixed mmap over it drop the site.  A
 * site whose bytes are no longer the patch (madvise, a write through
 * another mapping) is forgotten the next time it is looked at.
 *
 * Stub pages are VMAs of their own, which go only when the program asks
 * for their range (patch_evacuate), their sites restored.  No thread is
 * inside a stub then: the launcher switches threads and delivers signals
 * only where the program runs its own code, and the thread making the
 * call returns to its site instead (mm_patch_epoch).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mm_impl.h"
#include "patch.h"

/* A branch target that keeps landing in a site's guard bytes costs an
 * exit each time: after this many, the site gets its original bytes. */
#define GUARD_HITS_MAX  8
#define STUB_PAGES_MAX  1024    /* 4 MiB of stubs */
/* Sites remembered, patched or not: a program that jumps into the entry
 * page with made-up return addresses must not grow the launcher. */
#define SITES_MAX       16384
#define STUB_ALIGN      8

struct site {
	uint64_t stub;          /* 0: the site keeps the slow path */
	uint8_t refusal;        /* enum patch_refusal, when stub is 0 */
	uint8_t live;           /* the patch is in place */
	uint8_t bytes[PATCH_LEN];       /* what the patch wrote */
	uint32_t guard_hits;
	struct patch_plan plan; /* plan.site: the key; 0 for an empty slot */
};

struct stub_page {
	uint64_t va, gpa;
	uint64_t used[PAGE_SIZE / STUB_ALIGN / 64];    /* 8-byte units in use */
};

struct patch_table {
	int on;
	struct site *site;      /* open addressing, cap a power of two */
	uint32_t cap, n;
	uint64_t lo, hi;        /* every site's bytes lie in [lo, hi) */
	struct stub_page *page;
	int npages;
	uint64_t epoch;         /* bumped when sites are restored or stub pages go */
	struct mm_patch_stats stats;
};

static uint32_t slot_of(uint64_t site, uint32_t cap)
{
	return (uint32_t)((site * 0x9e3779b97f4a7c15ULL) >> 40) & (cap - 1);
}

static struct site *lookup(struct patch_table *t, uint64_t site)
{
	if (!t->cap)
		return NULL;
	for (uint32_t i = slot_of(site, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (t->site[i].plan.site == site)
			return &t->site[i];
		if (!t->site[i].plan.site)
			return NULL;
	}
}

static int grow(struct patch_table *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 64;
	struct site *s = calloc(cap, sizeof *s);

	if (!s)
		return -1;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!t->site[i].plan.site)
			continue;
		uint32_t j = slot_of(t->site[i].plan.site, cap);
		while (s[j].plan.site)
			j = (j + 1) & (cap - 1);
		s[j] = t->site[i];
	}
	free(t->site);
	t->site = s;
	t->cap = cap;
	return 0;
}

/* A new entry for site (not in the table yet). */
static struct site *insert(struct patch_table *t, uint64_t site)
{
	if ((t->n + 1) * 4 > t->cap * 3 && grow(t) < 0)
		return NULL;
	uint32_t i = slot_of(site, t->cap);
	while (t->site[i].plan.site)
		i = (i + 1) & (t->cap - 1);
	t->n++;
	if (site < t->lo || !t->hi)
		t->lo = site;
	if (site + PATCH_READ > t->hi)
		t->hi = site + PATCH_READ;
	memset(&t->site[i], 0, sizeof t->site[i]);
	t->site[i].plan.site = site;
	return &t->site[i];
}

int mm_patch_enable(struct mm *mm, int on)
{
	if (!mm->patch) {
		mm->patch = calloc(1, sizeof *mm->patch);
		if (!mm->patch)
			return -1;
	}
	mm->patch->on = on;
	return 0;
}

void mm_patch_free(struct mm *mm)
{
	if (!mm->patch)
		return;
	free(mm->patch->site);
	free(mm->patch->page);
	free(mm->patch);
}

/* ---- the program's bytes ------------------------------------------- */

/* The host pointer to the byte the program reads at va, if its page is
 * present and user-readable; no page is faulted in. */
static uint8_t *text_ptr(struct mm *mm, uint64_t va)
{
	uint64_t *table = pt_host(mm, mm->root);

	if (va >= USER_VA_END)
		return NULL;
	for (int l = 4; l >= 1; l--) {
		uint64_t e = table[(va >> (12 + 9 * (l - 1))) & 511];
		uint64_t gpa = e & PTE_ADDR;
		if ((e & (PTE_P | PTE_U)) != (PTE_P | PTE_U))
			return NULL;
		if (l == 2 && (e & PTE_PS)) {
			gpa = (gpa & ~(HUGE_SIZE - 1)) + (va & (HUGE_SIZE - 1));
			return gpa < mm->size ? mm->host + gpa : NULL;
		}
		if (gpa < GPA_FREE || gpa + PAGE_SIZE > mm->size)
			return NULL;
		if (l == 1)
			return mm->host + gpa + (va & (PAGE_SIZE - 1));
		table = pt_host(mm, gpa);
	}
	return NULL;
}

/* Copies up to len bytes from va, stopping at the first one that is not
 * there.  Returns how many. */
static size_t read_text(struct mm *mm, uint64_t va, uint8_t *buf, size_t len)
{
	size_t n = 0;

	for (; n < len; n++) {
		uint8_t *p = text_ptr(mm, va + n);
		if (!p)
			break;
		buf[n] = *p;
	}
	return n;
}

/* Writes bytes at va, the last first: the first byte is what makes the
 * rest reachable (the jmp's opcode when patching). */
static int write_text(struct mm *mm, uint64_t va, const uint8_t *bytes, size_t len)
{
	uint8_t *p[PATCH_READ];

	for (size_t i = 0; i < len; i++)
		if (!(p[i] = text_ptr(mm, va + i)))
			return -1;
	for (size_t i = len; i-- > 1;)
		*p[i] = bytes[i];
	__atomic_store_n(p[0], bytes[0], __ATOMIC_RELEASE);
	return 0;
}

/* Whether [va, va+len) is read-only, executable, private memory: text
 * the program cannot write without asking us first. */
static int is_private_text(struct mm *mm, uint64_t va, uint64_t len)
{
	for (uint64_t a = va; a < va + len;) {
		struct vma *v = vma_find(mm, a);
		if (!v || v->shared || !(v->prot & PROT_EXEC) || (v->prot & PROT_WRITE))
			return 0;
		a = v->end;
	}
	return 1;
}

/* Whether the site's bytes are still the patch. */
static int still_patched(struct mm *mm, const struct site *s)
{
	uint8_t now[PATCH_LEN];

	return s->live && read_text(mm, s->plan.site, now, PATCH_LEN) == PATCH_LEN &&
	       !memcmp(now, s->bytes, PATCH_LEN);
}

/* Puts the original bytes back (if the patch is still there). */
static void unpatch(struct mm *mm, struct site *s)
{
	if (still_patched(mm, s) &&
	    write_text(mm, s->plan.site, s->plan.code, s->plan.covered) == 0)
		mm->patch->stats.restored++;
	s->live = 0;
}

/* ---- stub pages ---------------------------------------------------- */

/* Each stub page starts with a word holding the entry page's address,
 * for its stubs' `jmp *slot(%rip)`. */
#define SLOT_UNITS 1

static struct stub_page *stub_page(struct patch_table *t, uint64_t va)
{
	for (int i = 0; i < t->npages; i++)
		if (t->page[i].va == va)
			return &t->page[i];
	return NULL;
}

/* Maps a new stub page at va, user read and execute, if the program has
 * nothing there; filled with int3, so that a stray jump traps. */
static struct stub_page *stub_page_add(struct mm *mm, uint64_t va)
{
	struct patch_table *t = mm->patch;

	if (t->npages == STUB_PAGES_MAX)
		return NULL;
	struct stub_page *pg = realloc(t->page, (t->npages + 1) * sizeof *pg);
	if (!pg)
		return NULL;
	t->page = pg;
	uint64_t gpa = phys_alloc_page(mm);
	uint64_t *e = gpa ? pt_entry(mm, va, 1, 1, PTE_P | PTE_W | PTE_U) : NULL;
	if (!e || (*e & (PTE_P | PTE_KEEP)) || vma_insert_stub(mm, va) < 0) {
		if (gpa)
			phys_free_page(mm, gpa);
		return NULL;
	}
	memset(mm->host + gpa, 0xcc, PAGE_SIZE);
	uint64_t entry = GVA_ENTRY_PATCHED;
	memcpy(mm->host + gpa, &entry, sizeof entry);
	*e = gpa | PTE_P | PTE_U;
	pg = &t->page[t->npages++];
	memset(pg, 0, sizeof *pg);
	pg->va = va;
	pg->gpa = gpa;
	pg->used[0] = (1ULL << SLOT_UNITS) - 1;
	t->stats.stub_pages++;
	return pg;
}

/* Whether the 8-byte units of [va, va+len) are free (mark = 0) or marks
 * them used (mark = 1); every page must be a stub page. */
static int stub_range(struct patch_table *t, uint64_t va, uint64_t len, int mark)
{
	for (uint64_t a = va; a < va + len; a += STUB_ALIGN) {
		struct stub_page *pg = stub_page(t, a & ~(PAGE_SIZE - 1));
		uint64_t k = (a & (PAGE_SIZE - 1)) / STUB_ALIGN;
		if (!pg)
			return 0;
		if (mark)
			pg->used[k / 64] |= 1ULL << (k % 64);
		else if (pg->used[k / 64] >> (k % 64) & 1)
			return 0;
	}
	return 1;
}

/* A free place for len bytes in window [lo, lo+256); with create, on
 * new stub pages where the program has nothing.  0 if none. */
static uint64_t stub_fit(struct mm *mm, uint64_t lo, uint64_t len, int create)
{
	struct patch_table *t = mm->patch;

	for (uint64_t x = (lo + STUB_ALIGN - 1) & ~(uint64_t)(STUB_ALIGN - 1); x < lo + 256;
	     x += STUB_ALIGN) {
		int ok = 1;
		for (uint64_t pg = x & ~(PAGE_SIZE - 1); ok && pg < x + len; pg += PAGE_SIZE)
			ok = stub_page(t, pg) || (create && stub_page_add(mm, pg));
		if (ok && stub_range(t, x, len, 0)) {
			stub_range(t, x, len, 1);
			return x;
		}
	}
	return 0;
}

/* Stub space for a site: in a page it already has if a band allows,
 * else on new pages, trying the bands in order.  0 if none. */
static uint64_t stub_alloc(struct mm *mm, uint64_t site, uint64_t len)
{
	for (int create = 0; create < 2; create++) {
		for (int b = 0; b < PATCH_BANDS; b++) {
			uint64_t lo = patch_stub_window(site, b), x;
			if (lo && (x = stub_fit(mm, lo, len, create)))
				return x;
		}
	}
	return 0;
}

/* Copies a stub in (it may cross into the next page). */
static void stub_write(struct mm *mm, uint64_t va, const uint8_t *code, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		struct stub_page *pg = stub_page(mm->patch, (va + i) & ~(PAGE_SIZE - 1));
		mm->host[pg->gpa + ((va + i) & (PAGE_SIZE - 1))] = code[i];
	}
}

/* ---- sites --------------------------------------------------------- */

static enum patch_refusal make_patch(struct mm *mm, struct site *s)
{
	struct patch_plan *plan = &s->plan;
	uint64_t site = plan->site;
	uint8_t code[PATCH_READ], stub[PATCH_STUB_MAX];
	size_t n = read_text(mm, site, code, sizeof code);
	uint8_t prev;
	enum patch_refusal r;

	int has_prev = read_text(mm, site - 1, &prev, 1) == 1;
	r = patch_plan(site, code, n, has_prev ? prev : -1, plan);
	if (r != PATCH_OK)
		return r;
	if (!is_private_text(mm, site, plan->covered))
		return PATCH_NOT_TEXT;
	uint64_t x = stub_alloc(mm, site, plan->stub_len);
	if (!x)
		return PATCH_NO_ROOM;
	r = patch_emit(plan, x, x & ~(PAGE_SIZE - 1), stub, s->bytes);
	if (r != PATCH_OK)
		return r;       /* the space stays taken: rare, and harmless */
	stub_write(mm, x, stub, plan->stub_len);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (write_text(mm, site, s->bytes, PATCH_LEN) < 0)
		return PATCH_NOT_TEXT;
	s->stub = x;
	s->live = 1;
	return PATCH_OK;
}

uint64_t mm_patch_site(struct mm *mm, uint64_t ret)
{
	struct patch_table *t = mm->patch;
	uint64_t site = ret - 2;

	if (!t || !t->on || ret < 2)
		return 0;
	struct site *s = lookup(t, site);
	uint8_t insn[2];
	if (s) {
		/* Refused for good, or patched already (the call came from a
		 * copy of the original bytes elsewhere). */
		if ((!s->stub && s->refusal != PATCH_OK) || (s->stub && still_patched(mm, s)))
			return 0;
		s->live = 0;
		s->stub = 0;
	} else if (t->n >= SITES_MAX || read_text(mm, site, insn, 2) != 2 ||
		   insn[0] != 0x0f || insn[1] != 0x05 || !(s = insert(t, site))) {
		return 0;       /* not a syscall: the call came from elsewhere */
	}
	enum patch_refusal r = make_patch(mm, s);
	if (r != PATCH_OK) {
		s->refusal = (uint8_t)r;
		s->stub = 0;
		t->stats.refused[r]++;
		return 0;
	}
	t->stats.sites++;
	return patch_continuation(s->stub);
}

/* The live site whose patched bytes hold rip, past the syscall's first
 * byte (the guard bytes and borrowed instructions); NULL if none. */
static struct site *site_at(struct mm *mm, uint64_t rip)
{
	struct patch_table *t = mm->patch;

	if (!t || rip < t->lo || rip >= t->hi)
		return NULL;
	for (uint64_t back = 1; back < PATCH_LEN; back++) {
		struct site *s = lookup(t, rip - back);
		if (s && s->live) {
			if (still_patched(mm, s))
				return s;
			s->live = 0;
			return NULL;
		}
	}
	return NULL;
}

uint64_t mm_patch_resume(struct mm *mm, uint64_t rip)
{
	struct site *s = site_at(mm, rip);
	uint64_t c = s ? patch_redirect(&s->plan, s->stub, rip) : 0;

	return c ? c : rip;
}

uint64_t mm_patch_guard(struct mm *mm, uint64_t rip)
{
	struct site *s = site_at(mm, rip);

	if (!s)
		return 0;
	mm->patch->stats.guard_hits++;
	uint64_t c = patch_redirect(&s->plan, s->stub, rip);
	if (c && ++s->guard_hits <= GUARD_HITS_MAX)
		return c;
	/* Not an instruction boundary (a jump into the middle of one, as
	 * the original bytes have it), or a hot branch target: the site
	 * gets its original bytes back, and keeps them. */
	unpatch(mm, s);
	s->stub = 0;
	s->refusal = PATCH_AFTER_JUMP;
	return rip;
}

uint64_t mm_patch_original(struct mm *mm, uint64_t rip)
{
	struct patch_table *t = mm->patch;

	if (!mm_patch_in_stub(mm, rip))
		return rip;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct site *s = &t->site[i];
		if (s->plan.site && s->stub && rip >= s->stub && rip < s->stub + s->plan.stub_len) {
			uint64_t o = patch_original(&s->plan, s->stub, rip);
			return o ? o : rip;
		}
	}
	return rip;
}

void patch_forget(struct mm *mm, uint64_t start, uint64_t end, int restore)
{
	struct patch_table *t = mm->patch;

	if (!t || end <= t->lo || start >= t->hi)
		return;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct site *s = &t->site[i];
		if (!s->plan.site || s->plan.site + PATCH_READ <= start || s->plan.site >= end)
			continue;
		if (restore && s->live)
			unpatch(mm, s);
		t->epoch++;
		/* Looked at afresh the next time its syscall runs. */
		s->live = 0;
		s->stub = 0;
		s->refusal = PATCH_OK;
	}
}

int mm_patch_in_stub(struct mm *mm, uint64_t rip)
{
	struct vma *v = mm->patch && mm->patch->npages ? vma_find(mm, rip) : NULL;

	return v && v->stub;
}

uint64_t mm_patch_epoch(struct mm *mm)
{
	return mm->patch ? mm->patch->epoch : 0;
}

void patch_evacuate(struct mm *mm, uint64_t start, uint64_t end)
{
	struct patch_table *t = mm->patch;

	if (!t)
		return;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct site *s = &t->site[i];
		if (!s->plan.site || !s->stub || s->stub + s->plan.stub_len <= start ||
		    s->stub >= end)
			continue;
		unpatch(mm, s);
		s->stub = 0;
		s->refusal = PATCH_OK;
	}
	for (int i = 0; i < t->npages;) {
		struct stub_page *pg = &t->page[i];
		if (pg->va + PAGE_SIZE <= start || pg->va >= end) {
			i++;
			continue;
		}
		vma_remove(mm, pg->va, pg->va + PAGE_SIZE);
		pt_unmap_range(mm, pg->va, pg->va + PAGE_SIZE);
		*pg = t->page[--t->npages];
		t->epoch++;
	}
}

void mm_patch_stats(struct mm *mm, struct mm_patch_stats *st)
{
	memset(st, 0, sizeof *st);
	if (mm->patch)
		*st = mm->patch->stats;
}
