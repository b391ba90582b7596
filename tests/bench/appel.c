/*
 * appel [-n ROUNDS] [-r REPEATS] native|dune|ring0: Appel and Li's
 * virtual memory primitives for user programs (ASPLOS 1991), measured as
 * Dune's bench_dune.c and bench_linux.c do, with page protection and a
 * fault handler of each kind:
 *
 *   native  mprotect, and a SIGSEGV handler (SA_SIGINFO, si_addr)
 *   dune    dune_protect, and a dune_trap handler (tf->addr)
 *   ring0   (dunerun exec --supervisor) the W bit of the page's PTE,
 *           written directly, and invlpg; a dune_trap handler that the
 *           supervisor enters without an exit, as in Dune
 *
 * A round touches NRPGS pages of a 2 * NRPGS page area; a repeat is
 * ROUNDS rounds.  Each benchmark prints `NAME min_ns median_ns` over the
 * repeats:
 *
 *   trap    from the faulting write to the handler's first line, per
 *           fault (bench_dune's "user fault", by rdtsc calibrated against
 *           CLOCK_MONOTONIC; the handler unprotects)
 *   prot1   protect one page, write it, the handler unprotects it; per
 *           page
 *   protN   one protect call over NRPGS pages, per call (the faults on
 *           each page that follow are checked but not timed: timed with
 *           them it would be appel2)
 *   appel1  NRPGS pages protected; per fault the handler unprotects the
 *           page and protects the one NRPGS pages on (PROT1+TRAP+UNPROT);
 *           per fault.  Unlike bench_dune.c, the pages it protects are
 *           made writable again between rounds, so that every protect
 *           changes something
 *   appel2  protect NRPGS pages in one call, write each, the handler
 *           unprotects the faulting page (PROTN+TRAP+UNPROT); per fault
 *   syscall a syscall from ring 3 and back, per call: natively getpid
 *           into Linux; under dune getpid into dunerun; under ring0 a
 *           user context's syscall stopping dune_user_run, whose caller
 *           (the ring-0 program) answers it and runs the context on
 *
 * Every write is read back and every round's fault count checked; a
 * mismatch exits 1.  dune and ring0 print n/a for each if dune_init
 * fails or (ring0) the program is not in ring 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dune.h"

#define PG      4096UL
#define NRPGS   100

enum mode { COUNT, TRAP, UNPROT, APPEL1 };

/*
 * What the fault handler needs, which a handler of either kind can only
 * find in a global.  mode says what it does with a fault on the area.
 * The fields both sides write are volatile: the compiler must neither
 * keep them in registers across a faulting write nor move them past it.
 */
static struct {
	char *mem;                      /* 2 * NRPGS pages */
	volatile enum mode mode;
	volatile long faults;
	volatile uint64_t trap_tsc;     /* TRAP: rdtsc just before the write */
	volatile uint64_t trap_cycles;  /* TRAP: the sum, write to handler */
	int (*protect)(void *addr, size_t len, int prot);
	uint64_t *pte[2 * NRPGS];       /* ring0: each page's PTE */
	struct dune_user *user;         /* ring0: the syscall benchmark's context */
} h;

static int mprotect_errno(void *addr, size_t len, int prot)
{
	return mprotect(addr, len, prot) < 0 ? -errno : 0;
}

static int dune_protect_int(void *addr, size_t len, int prot)
{
	long r = dune_protect(addr, len, prot);

	return r < 0 ? (int)r : 0;
}

/* Ring 0: the W bit of each page's PTE, then invlpg (a CR3 reload for
 * many pages), as Dune's own protect does. */
static int pte_protect(void *addr, size_t len, int prot)
{
	size_t first = ((char *)addr - h.mem) / PG, n = len / PG;

	if (first + n > 2 * NRPGS)
		return -EINVAL;
	for (size_t i = first; i < first + n; i++) {
		if (prot & PROT_WRITE)
			*h.pte[i] |= DUNE_PTE_W;
		else
			*h.pte[i] &= ~DUNE_PTE_W;
	}
	if (n > 32)
		dune_flush_all();
	else
		for (size_t i = first; i < first + n; i++)
			dune_flush_one(h.mem + i * PG);
	return 0;
}

/* write(2) and _exit only: safe in a handler of either kind. */
static void die(const char *what)
{
	if (write(2, "appel: ", 7) > 0 && write(2, what, strlen(what)) > 0)
		(void)!write(2, "\n", 1);
	_exit(1);
}

/* A fault at addr: 1 if it was ours and is dealt with, 0 if not. */
static int fault(uintptr_t addr)
{
	uint64_t now = dune_rdtsc();
	uintptr_t off = addr - (uintptr_t)h.mem;
	char *page = h.mem + off / PG * PG;

	if (off >= 2 * NRPGS * PG)
		return 0;
	if (h.mode == TRAP)
		h.trap_cycles += now - h.trap_tsc;
	h.faults++;
	if (h.protect(page, PG, PROT_READ | PROT_WRITE) < 0)
		die("unprotect in the handler failed");
	if (h.mode == APPEL1 && off < NRPGS * PG &&
	    h.protect(page + NRPGS * PG, PG, PROT_READ) < 0)
		die("protect in the handler failed");
	return 1;
}

/* Not ours: the default action back, so the write faults again and the
 * program dies of it as it would have. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	if (!fault((uintptr_t)si->si_addr))
		signal(SIGSEGV, SIG_DFL);
}

/* Not ours: upcalls off, so the fault kills the program when it recurs. */
static void on_trap(struct dune_tf *tf)
{
	if (tf->vector != 14 || !fault(tf->addr))
		dune_trap(NULL, 0);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* TSC ticks per ns, against CLOCK_MONOTONIC over 20 ms. */
static double tsc_per_ns(void)
{
	double t0 = now_ns(), t1;
	uint64_t c0 = dune_rdtsc();

	while ((t1 = now_ns()) - t0 < 20e6)
		;
	return (dune_rdtsc() - c0) / (t1 - t0);
}

static void protect(void *addr, size_t len, int prot)
{
	if (h.protect(addr, len, prot) < 0)
		die("protect failed");
}

/* Writes v to page i and checks it is there after the fault. */
static void touch(int i, char v)
{
	volatile char *p = h.mem + i * PG;

	*p = v;
	if (*p != v)
		die("a write was lost across the fault");
}

static void expect_faults(long n, const char *what)
{
	if (h.faults != n) {
		fprintf(stderr, "appel: %s: %ld faults, expected %ld\n", what, h.faults, n);
		exit(1);
	}
	h.faults = 0;
}

/* Untimed: the whole area writable and written, so no fault is left. */
static void reset(void)
{
	h.mode = COUNT;
	protect(h.mem, 2 * NRPGS * PG, PROT_READ | PROT_WRITE);
	for (int i = 0; i < 2 * NRPGS; i++)
		touch(i, (char)i);
	expect_faults(0, "priming");
}

/* Each benchmark runs `rounds` rounds and returns ns per unit. */

static double bench_trap(int rounds, double tpn)
{
	reset();
	h.trap_cycles = 0;
	for (int r = 0; r < rounds; r++) {
		protect(h.mem, NRPGS * PG, PROT_READ);
		h.mode = TRAP;
		for (int i = 0; i < NRPGS; i++) {
			h.trap_tsc = dune_rdtsc();
			touch(i, (char)(r + i));
		}
		expect_faults(NRPGS, "trap");
	}
	return h.trap_cycles / tpn / ((double)rounds * NRPGS);
}

static double bench_prot1(int rounds, double tpn)
{
	reset();
	h.mode = UNPROT;
	double t0 = now_ns();
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < NRPGS; i++) {
			protect(h.mem + i * PG, PG, PROT_READ);
			touch(i, (char)(r + i));
		}
	double t = now_ns() - t0;
	expect_faults((long)rounds * NRPGS, "prot1");
	return t / ((double)rounds * NRPGS);
}

static double bench_protN(int rounds, double tpn)
{
	double t = 0;

	reset();
	h.mode = UNPROT;
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();
		protect(h.mem, NRPGS * PG, PROT_READ);
		t += now_ns() - t0;
		for (int i = 0; i < NRPGS; i++)
			touch(i, (char)(r + i));
		expect_faults(NRPGS, "protN");
	}
	return t / rounds;
}

/* The pages NRPGS on that appel1's handler protected must fault. */
static void check_appel1_protected(void)
{
	h.mode = UNPROT;
	for (int i = NRPGS; i < 2 * NRPGS; i++)
		touch(i, (char)i);
	expect_faults(NRPGS, "appel1's second half");
}

static double bench_appel1(int rounds, double tpn)
{
	double t = 0;

	reset();
	for (int r = 0; r < rounds; r++) {
		/* The second half writable again, or from the second round on
		 * the handler's protect would find it protected already and
		 * mprotect would return at once (bench_dune.c does not). */
		h.mode = COUNT;
		protect(h.mem, 2 * NRPGS * PG, PROT_READ | PROT_WRITE);
		protect(h.mem, NRPGS * PG, PROT_READ);
		h.mode = APPEL1;
		double t0 = now_ns();
		for (int i = 0; i < NRPGS; i++)
			touch(i, (char)(r + i));
		t += now_ns() - t0;
		expect_faults(NRPGS, "appel1");
	}
	check_appel1_protected();
	return t / ((double)rounds * NRPGS);
}

static double bench_appel2(int rounds, double tpn)
{
	double t = 0;

	for (int r = 0; r < rounds; r++) {
		reset();
		h.mode = UNPROT;
		double t0 = now_ns();
		protect(h.mem, NRPGS * PG, PROT_READ);
		for (int i = 0; i < NRPGS; i++)
			touch(i, (char)(r + i));
		t += now_ns() - t0;
		expect_faults(NRPGS, "appel2");
	}
	return t / ((double)rounds * NRPGS);
}

/* A user context whose code is `1: mov $SYS_getpid, %eax; syscall;
 * jmp 1b`, for ring0. */
static int make_user_context(void)
{
	static const uint8_t code[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7 };
	long root = dune_root_new(), page = dune_page_alloc();

	h.user = aligned_alloc(64, sizeof *h.user);
	if (root < 0 || page < 0 || !h.user)
		return root < 0 ? (int)root : page < 0 ? (int)page : -ENOMEM;
	memset(h.user, 0, sizeof *h.user);
	memcpy(dune_page_ptr(page), code, sizeof code);
	int r = dune_map(root, (void *)0x10000000, page, PG, DUNE_PTE_U);
	h.user->root = root;
	h.user->tf.rip = 0x10000000;
	h.user->tf.rsp = 0x20000000;    /* unmapped: the code never touches it */
	return r;
}

static double bench_syscall(int rounds, double tpn)
{
	long n = (long)rounds * 1000;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		if (!h.user) {
			if (syscall(SYS_getpid) <= 0)
				die("getpid failed");
		} else {
			if (dune_user_run(h.user) != DUNE_EXIT_SYSCALL || h.user->tf.rax != 39)
				die("the user context did not stop at its syscall");
			h.user->tf.rax = 1;     /* the answer, as a handler would */
		}
	}
	return (now_ns() - t0) / n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const struct {
	const char *name;
	double (*run)(int rounds, double tpn);
} benches[] = {
	{ "trap", bench_trap },
	{ "prot1", bench_prot1 },
	{ "protN", bench_protN },
	{ "appel1", bench_appel1 },
	{ "appel2", bench_appel2 },
	{ "syscall", bench_syscall },
};

/* Ring 0 only: every page present with a 4 KiB PTE of its own (a
 * dune_protect round splits any 2 MiB page), their PTEs noted. */
static int install_ring0(void)
{
	if (!dune_in_ring0())
		return -EPERM;
	memset(h.mem, 0, 2 * NRPGS * PG);
	if (dune_protect(h.mem, 2 * NRPGS * PG, PROT_READ) < 0 ||
	    dune_protect(h.mem, 2 * NRPGS * PG, PROT_READ | PROT_WRITE) < 0)
		return -EFAULT;
	for (int i = 0; i < 2 * NRPGS; i++)
		if (!(h.pte[i] = dune_pte_rw(dune_root_current(), h.mem + i * PG, 0)))
			return -EFAULT;
	h.protect = pte_protect;
	return make_user_context();
}

static int install(const char *mode)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	int r;

	if (strcmp(mode, "native")) {
		if ((r = dune_init()) < 0 || (r = dune_trap(on_trap, 1ULL << 14)) < 0)
			return r;
		h.protect = dune_protect_int;
		return strcmp(mode, "ring0") ? 0 : install_ring0();
	}
	sigemptyset(&sa.sa_mask);
	h.protect = mprotect_errno;
	return sigaction(SIGSEGV, &sa, NULL) < 0 ? -errno : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: appel [-n ROUNDS] [-r REPEATS] native|dune|ring0\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int rounds = 50, reps = 7, c;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		if (c == 'n')
			rounds = atoi(optarg);
		else if (c == 'r')
			reps = atoi(optarg);
		else
			usage();
	}
	if (optind != argc - 1 || rounds <= 0 || reps <= 0)
		usage();
	const char *mode = argv[optind];
	int nb = sizeof benches / sizeof *benches;
	if (strcmp(mode, "native") && strcmp(mode, "dune") && strcmp(mode, "ring0"))
		usage();

	h.mem = mmap(NULL, 2 * NRPGS * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h.mem == MAP_FAILED) {
		perror("appel: mmap");
		return 1;
	}
	int r = install(mode);
	if (r < 0) {
		fprintf(stderr, "appel: %s: %s\n", mode,
			r == -EPERM && !strcmp(mode, "ring0") ? "needs ring 0 (dunerun exec --supervisor)"
							       : strerror(-r));
		for (int b = 0; b < nb; b++)
			printf("%s n/a\n", benches[b].name);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);       /* each row out before a failed check */
	double tpn = tsc_per_ns(), v[reps];
	for (int b = 0; b < nb; b++) {
		for (int k = 0; k < reps; k++)
			v[k] = benches[b].run(rounds, tpn);
		qsort(v, reps, sizeof *v, cmp_double);
		printf("%s %.0f %.0f\n", benches[b].name, v[0], v[(reps - 1) / 2]);
	}
	return 0;
}
