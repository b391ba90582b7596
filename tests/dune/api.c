/*
 * api: checks libdune's ring-3 API (include/dune.h) under dunerun, one
 * line per check and "N passed, N failed" at the end.
 *
 *	api            every check
 *	api native     only that dune_init fails cleanly (run natively)
 *	api badstack   a trap with no stack to take the frame: dies of SIGSEGV
 *	api badentry   a handler entry that faults itself: dies of SIGSEGV
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dune.h"
#include "dunerun/abi.h"

#define PG 4096UL

struct tally { int pass, fail; };

static void check(struct tally *t, int ok, const char *name)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", name);
	fflush(stdout);
	ok ? t->pass++ : t->fail++;
}

static char *heap(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	memset(p, 1, len);
	return p;
}

static int bit(const uint64_t *b, size_t i) { return b[i / 64] >> i % 64 & 1; }

/* Writes pages i with i % step == phase, collects, compares. */
static int dirty_exact(char *h, size_t pages, int step, int phase, uint64_t *bm)
{
	long want = 0;
	for (size_t i = 0; i < pages; i++)
		if ((int)(i % step) == phase) {
			h[i * PG + 7] ^= 1;
			want++;
		}
	if (dune_collect_dirty(h, pages * PG, bm) != want)
		return 0;
	for (size_t i = 0; i < pages; i++)
		if (bit(bm, i) != ((int)(i % step) == phase))
			return 0;
	return 1;
}

static void check_window(struct tally *t)
{
	char *h = heap(64 * PG);
	const volatile uint64_t *pte = dune_pte(h + 5 * PG);

	check(t, pte && (*pte & (DUNE_PTE_P | DUNE_PTE_U | DUNE_PTE_W)) == 7, "window: a PTE reads present, user, writable");
	mprotect(h + 5 * PG, PG, PROT_READ);
	pte = dune_pte(h + 5 * PG);
	check(t, pte && (*pte & DUNE_PTE_P) && !(*pte & DUNE_PTE_W), "window: mprotect(PROT_READ) shows as W clear");
	mprotect(h + 5 * PG, PG, PROT_NONE);
	check(t, pte && !(*pte & DUNE_PTE_P), "window: PROT_NONE shows as not present");
	check(t, dune_pte((void *)0x10000) == NULL || !(*dune_pte((void *)0x10000) & DUNE_PTE_P),
	      "window: an unmapped address has no present entry");
	check(t, dune_pte((void *)0xffffffff80000000) == NULL, "window: kernel addresses give NULL");
	check(t, munmap((void *)DUNE_WINDOW, PG) < 0 && errno == EINVAL, "window: munmap of it fails (EINVAL)");
	check(t, mprotect((void *)DUNE_WINDOW, PG, PROT_READ | PROT_WRITE) < 0, "window: mprotect of it fails");
	check(t, mmap((void *)DUNE_WINDOW, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED,
	      "window: MAP_FIXED over it fails");
	void *hint = mmap((void *)(DUNE_WINDOW + PG), PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(t, hint != MAP_FAILED && ((uint64_t)hint < DUNE_WINDOW || (uint64_t)hint >= DUNE_WINDOW_END),
	      "window: an mmap hint inside it is placed elsewhere");
	check(t, write(1, (void *)DUNE_WINDOW, 0) == 0, "window: a zero-length write from it is fine");
	munmap(h, 64 * PG);
}

static sigjmp_buf segv_jmp;
static void on_segv(int sig) { siglongjmp(segv_jmp, sig); }

static int faults_on_write(volatile uint64_t *p)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	int got;

	sigaction(SIGSEGV, &sa, &old);
	if (!(got = sigsetjmp(segv_jmp, 1)))
		*p = 0;
	sigaction(SIGSEGV, &old, NULL);
	return got == SIGSEGV;
}

static void check_window_readonly(struct tally *t)
{
	char *h = heap(PG);
	check(t, faults_on_write((volatile uint64_t *)dune_pte(h)), "window: writing a PTE through it is SIGSEGV");
	check(t, faults_on_write((volatile uint64_t *)(DUNE_WINDOW_END - 8)), "window: writing the root through it is SIGSEGV");
	munmap(h, PG);
}

static void check_dirty(struct tally *t)
{
	size_t pages = 3 * 512 + 77;        /* 2 MiB pages and a tail */
	char *h = heap(pages * PG);
	uint64_t *bm = calloc(pages / 64 + 1, 8);

	check(t, dune_collect_dirty(h, pages * PG, bm) == (long)pages, "dirty: the first collect finds every written page");
	check(t, dune_collect_dirty(h, pages * PG, bm) == 0, "dirty: a second collect finds none");
	check(t, dirty_exact(h, pages, 7, 3, bm), "dirty: every 7th page written, exactly those found");
	check(t, dirty_exact(h, pages, 1, 0, bm), "dirty: all written, all found");
	check(t, dirty_exact(h, pages, 500, 499, bm), "dirty: sparse writes found");
	for (size_t i = 0; i < pages; i++)
		(void)*(volatile char *)(h + i * PG);
	check(t, dune_collect_dirty(h, pages * PG, bm) == 0, "dirty: reads leave pages clean");
	/* A range that starts mid-table: bit 0 is its first page. */
	h[600 * PG] = 9;
	check(t, dune_collect_dirty(h + 600 * PG, 10 * PG, bm) == 1 && bit(bm, 0) && !bit(bm, 1),
	      "dirty: a sub-range counts from its own start");
	const volatile uint64_t *pte = dune_pte(h + 3 * PG);
	h[3 * PG] = 1;
	int d1 = pte && (*pte & DUNE_PTE_D);
	dune_collect_dirty(h, pages * PG, bm);
	check(t, d1 && !(*pte & DUNE_PTE_D), "dirty: the D bit reads set after a write and clear after a collect");
	munmap(h, pages * PG);
	free(bm);
}

static void check_accessed(struct tally *t)
{
	size_t pages = 256;
	char *h = heap(pages * PG);
	uint64_t *bm = calloc(pages / 64, 8);
	volatile char sink;

	dune_collect_accessed(h, pages * PG, bm);
	check(t, dune_collect_accessed(h, pages * PG, bm) == 0, "accessed: none right after a collect");
	for (size_t i = 0; i < pages; i += 5)
		sink = h[i * PG];
	(void)sink;
	long n = dune_collect_accessed(h, pages * PG, bm);
	int ok = n == (long)(pages + 4) / 5;
	for (size_t i = 0; i < pages; i++)
		ok &= bit(bm, i) == (i % 5 == 0);
	check(t, ok, "accessed: exactly the pages read are found");
	munmap(h, pages * PG);
	free(bm);
}

static void check_batch(struct tally *t)
{
	char *h = heap(16 * PG);
	uint64_t bm[1];
	struct dune_op ops[3] = {
		{ DUNE_COLLECT_DIRTY, 0, (uint64_t)h, 16 * PG, bm, 0 },
		{ DUNE_PROTECT, PROT_READ, (uint64_t)h, 16 * PG, NULL, 0 },
		{ DUNE_COLLECT_DIRTY, 0, (uint64_t)h, 16 * PG, bm, 0 },
	};

	check(t, dune_batch(ops, 3) == 3 && ops[0].result == 16 && ops[1].result == 0 && ops[2].result == 0,
	      "batch: collect, protect, collect in one call");
	check(t, faults_on_write((volatile uint64_t *)h), "batch: its protect took effect");
	check(t, dune_batch(ops, -1) == -EINVAL && dune_batch(ops, DUNE_BATCH_MAX + 1) == -EINVAL,
	      "batch: a bad count is EINVAL");
	check(t, dune_batch(NULL, 1) == -EFAULT, "batch: a bad array is EFAULT");
	check(t, dune_batch((struct dune_op *)DUNE_WINDOW, 1) == -EFAULT, "batch: an array in the window is EFAULT");
	struct dune_op bad = { 99, 0, (uint64_t)h, PG, bm, 0 };
	check(t, dune_batch(&bad, 1) == 0 && bad.result == -EINVAL, "batch: an unknown op is EINVAL");
	check(t, dune_collect_dirty(h + 1, PG, bm) == -EINVAL, "collect: a misaligned range is EINVAL");
	check(t, dune_collect_dirty(h, PG, (uint64_t *)8) == -EFAULT, "collect: a bad bitmap is EFAULT");
	check(t, dune_collect_dirty(h, PG, (uint64_t *)dune_pte(h)) == -EFAULT, "collect: a bitmap in the window is EFAULT");
	check(t, dune_collect_dirty(h, 1ULL << 40, bm) == -E2BIG, "collect: a huge range is E2BIG");
	check(t, dune_collect_dirty((void *)(USER_VA_END - PG), 2 * PG, bm) < 0, "collect: past the user half fails");
	check(t, dune_protect((void *)DUNE_WINDOW, PG, PROT_READ | PROT_WRITE) < 0, "protect: the window cannot be made writable");
	munmap(h, 16 * PG);
}

/* ---- traps ---- */

struct trap_log { int n; uint64_t vector, err, addr; char *fix; };
static struct trap_log tlog;

static void on_trap(struct dune_tf *tf)
{
	volatile double x = 1.5;

	tlog.n++;
	tlog.vector = tf->vector;
	tlog.err = tf->err;
	tlog.addr = tf->addr;
	x = x * x;      /* the handler may use the FPU */
	switch (tf->vector) {
	case 14:
		dune_protect(tlog.fix, PG, PROT_READ | PROT_WRITE);
		break;
	case 6:         /* ud2 */
		tf->rip += 2;
		tf->rax = 1234;
		break;
	case 0:         /* div %rcx */
		tf->rip += 3;
		tf->rax = 77;
		tf->rdx = 0;
		break;
	}
}

static void check_traps(struct tally *t)
{
	char *h = heap(4 * PG);
	uint64_t r;

	check(t, dune_trap(on_trap, 1 << 14 | 1 << 6 | 1 << 0 | 1 << 3) == 0, "trap: handler registered");
	tlog.fix = h + PG;
	dune_protect(h + PG, PG, PROT_READ);
	h[PG + 10] = 42;
	check(t, tlog.n == 1 && h[PG + 10] == 42, "trap: a write to a read-only page runs the handler, which fixes it");
	check(t, tlog.vector == 14 && tlog.addr == (uint64_t)(h + PG + 10) &&
	      (tlog.err & (DUNE_PF_PRESENT | DUNE_PF_WRITE | DUNE_PF_USER)) == 7,
	      "trap: the frame has vector 14, the address and the error code");
	__asm__ volatile("ud2; mov %%rax, %0" : "=r"(r) : "a"(0));
	check(t, tlog.vector == 6 && r == 1234, "trap: #UD: the handler's rip and rax are resumed");
	__asm__ volatile("mov $5, %%rax; xor %%edx, %%edx; xor %%ecx, %%ecx; div %%rcx" : "=a"(r) : : "rcx", "rdx");
	check(t, tlog.vector == 0 && r == 77, "trap: #DE: resumed past the div with the handler's rax");
	int before = tlog.n;
	__asm__ volatile("int3");
	check(t, tlog.vector == 3 && tlog.n == before + 1, "trap: int3 runs the handler and goes on");
	/* Every register but rip/rflags survives a trap the handler does not touch. */
	uint64_t regs[2];
	dune_protect(h + PG, PG, PROT_READ);
	__asm__ volatile("mov $0x1111, %%r12; mov $0x2222, %%r15; movb $1, (%2); mov %%r12, %0; mov %%r15, %1"
			 : "=r"(regs[0]), "=r"(regs[1]) : "r"(h + PG) : "r12", "r15", "memory");
	check(t, regs[0] == 0x1111 && regs[1] == 0x2222, "trap: callee-saved registers survive");
	double d = 2.25;
	dune_protect(h + PG, PG, PROT_READ);
	__asm__ volatile("movsd %0, %%xmm7; movb $2, (%1); movsd %%xmm7, %0" : "+m"(d) : "r"(h + PG) : "xmm7", "memory");
	check(t, d == 2.25, "trap: SSE registers survive a handler that uses the FPU");
	check(t, dune_trap(on_trap, 1 << 8) == -EINVAL, "trap: #DF cannot be taken (EINVAL)");
	check(t, dune_trap(on_trap, 0) == -EINVAL, "trap: an empty vector set is EINVAL");
	dune_trap(NULL, 0);
	dune_protect(h + PG, PG, PROT_READ);
	check(t, faults_on_write((volatile uint64_t *)(h + PG)), "trap: after dune_trap(NULL), a fault is a signal again");
	munmap(h, 4 * PG);
}

static void check_fork(struct tally *t)
{
	char *h = heap(8 * PG);
	uint64_t bm[1];

	dune_collect_dirty(h, 8 * PG, bm);
	pid_t pid = fork();
	if (pid == 0) {
		h[2 * PG] = 1;
		_exit(dune_collect_dirty(h, 8 * PG, bm) == 1 && bm[0] == 4 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	check(t, WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork: the child has the window and its own dirty bits");
	check(t, dune_collect_dirty(h, 8 * PG, bm) == 0, "fork: the child's writes are not the parent's");
	munmap(h, 8 * PG);
}

/* The trap frame goes below rsp; with rsp at an unmapped address it
 * cannot, and the program dies of the fault as it would without one. */
static int bad_stack(void)
{
	dune_trap(on_trap, 1 << 14);
	__asm__ volatile("mov $0x1000, %%rsp; movb $1, (%%rsp)" ::: "memory");
	return 0;
}

/* A handler entry that itself faults: the fault it takes is a signal,
 * not another upcall (which would fault again, forever). */
static int bad_entry(void)
{
	char *page = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "0"(DUNE_SYS_TRAP), "D"(page), "S"(1L << 14)
			 : "rcx", "r11", "memory");
	if (r)
		return 3;
	*(volatile char *)page = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct tally t = { 0, 0 };
	int r = dune_init();

	if (argc > 1 && !strcmp(argv[1], "native")) {
		check(&t, r == -ENOSYS, "native: dune_init is ENOSYS");
		check(&t, dune_pte(&t) == NULL, "native: dune_pte is NULL");
	} else if (argc > 1 && !strcmp(argv[1], "badstack")) {
		return r < 0 ? 2 : bad_stack();
	} else if (argc > 1 && !strcmp(argv[1], "badentry")) {
		return r < 0 ? 2 : bad_entry();
	} else {
		check(&t, r == 0, "init: dune_init succeeds under dunerun");
		if (r)
			return 1;
		check(&t, dune_init() == 0, "init: a second dune_init is fine");
		check_window(&t);
		check_window_readonly(&t);
		check_dirty(&t);
		check_accessed(&t);
		check_batch(&t);
		check_traps(&t);
		check_fork(&t);
	}
	printf("%d passed, %d failed\n", t.pass, t.fail);
	return t.fail != 0;
}
