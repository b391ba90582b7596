/*
 * libdune's supervisor-mode calls (include/dune.h), run under
 * `dunerun exec --supervisor`: one line per check, then the counts.
 * With the argument "ring3" (run without --supervisor) it checks that
 * every ring-0 call refuses cleanly instead.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dune.h"
#include "dunerun/abi.h"

static int passed, failed;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", what);
	ok ? passed++ : failed++;
}

static volatile int traps;
static volatile uint64_t last_vector, last_addr;

/* Fixes what the checks below break on purpose. */
static void on_trap(struct dune_tf *tf)
{
	traps++;
	last_vector = tf->vector;
	last_addr = tf->addr;
	if (tf->vector == 6) {
		tf->rip += 2;                   /* ud2 */
	} else if (tf->vector == 14) {
		void *page = (void *)(tf->addr & ~4095UL);
		uint64_t *pte = dune_pte_rw(dune_root_current(), page, 0);
		if (pte && !(*pte & DUNE_PTE_W)) {
			*pte |= DUNE_PTE_W;     /* the Appel-Li way: fix the PTE */
			dune_flush_one(page);
		} else {
			dune_protect(page, 4096, PROT_READ | PROT_WRITE);
		}
	}
}

static void ring3_refuses(void)
{
	struct dune_user u = { 0 };

	check(dune_init() == 0, "dune_init under dunerun");
	check(!dune_in_ring0(), "ring 3 without --supervisor");
	check(dune_root_new() == -EPERM, "dune_root_new: -EPERM in ring 3");
	check(dune_user_run(&u) == -EPERM, "dune_user_run: -EPERM in ring 3");
	check(dune_pte_rw(0, &u, 0) == NULL, "dune_pte_rw: NULL in ring 3");
	check(dune_page_alloc() == -EPERM, "dune_page_alloc: -EPERM in ring 3");
}

static void syscalls_and_faults(void)
{
	check(dune_in_ring0(), "the program runs in ring 0");
	check(getpid() > 0 && getppid() > 0, "getpid and getppid from ring 0");
	size_t big = 64 << 20;
	char *p = malloc(big);
	memset(p, 7, big);
	check(p && p[big - 1] == 7, "64 MiB malloc'd and touched (faults served)");
	free(p);
	pid_t pid = fork();
	if (pid == 0)
		_exit(dune_in_ring0() ? 42 : 1);
	int st = 0;
	check(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42,
	      "fork: the child runs in ring 0 too and exits 42");
	check(dune_trap(on_trap, 1 << 14 | 1 << 6) == 0, "dune_trap in ring 0");
	__asm__ volatile("ud2");
	check(traps == 1 && last_vector == 6, "#UD in ring 0 goes to the handler, which skips it");
	char *ro = mmap(NULL, 1 << 16, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro[100] = 5;
	check(traps == 2 && last_vector == 14 && ro[100] == 5,
	      "a write to a read-only page faults to the handler (CR0.WP), which allows it");
}

/* A written 2 MiB page counts as its 512 pages; collecting part of it
 * leaves its bit for the rest. */
static void dirty_huge_page(void)
{
	char *buf = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *huge = (char *)(((uint64_t)buf + (2 << 20)) & ~((2UL << 20) - 1));
	uint64_t bm[8];

	huge[0] = 1;                            /* mapped as one 2 MiB page */
	if (dune_pte_rw(dune_root_current(), huge, 0)) {
		check(0, "a 2 MiB page to collect (got 4 KiB pages)");
		return;
	}
	long part = dune_collect_bits(dune_root_current(), huge + (4 << 12), 4 << 12, DUNE_PTE_D, bm);
	check(part == 4 && bm[0] == 15, "part of a written 2 MiB page: its pages in range, all of them");
	long whole = dune_collect_bits(dune_root_current(), huge, 2 << 20, DUNE_PTE_D, bm);
	int all = 1;
	for (int i = 0; i < 8; i++)
		all &= bm[i] == ~0ULL;
	check(whole == 512 && all, "the whole 2 MiB page after that: still dirty, 512 pages");
	dune_flush_all();
	check(dune_collect_bits(dune_root_current(), huge, 2 << 20, DUNE_PTE_D, bm) == 0,
	      "and clean once collected whole");
	huge[4096 * 7] = 2;
	dune_collect_bits(dune_root_current(), huge, 2 << 20, DUNE_PTE_D, bm);
	check(bm[0] == ~0ULL, "written again: dirty again (the flush let the CPU set D)");
	munmap(buf, 8 << 20);
}

static void own_page_tables(void)
{
	char *buf = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *page = (char *)(((uint64_t)buf + (2 << 20)) & ~((2UL << 20) - 1)) + 4096;
	page[0] = 1;
	dune_protect(page, 4096, PROT_READ | PROT_WRITE);       /* a 4 KiB PTE now */
	uint64_t *pte = dune_pte_rw(dune_root_current(), page, 0);
	check(pte && (*pte & DUNE_PTE_ADDR) == (uint64_t)dune_va_to_pa(dune_root_current(), page),
	      "dune_pte_rw and dune_va_to_pa agree on the program's own page");
	uint64_t bm[1];
	dune_collect_bits(dune_root_current(), page, 4096, DUNE_PTE_D, bm);
	dune_flush_one(page);
	page[8] = 2;
	check(dune_collect_bits(dune_root_current(), page, 4096, DUNE_PTE_D, bm) == 1 && bm[0] == 1,
	      "the dirty bit, read and cleared with plain loads and stores");
	int before = traps;
	dune_set_flags(dune_root_current(), page, 4096, 0, DUNE_PTE_W);
	dune_flush_one(page);
	page[16] = 3;
	check(traps == before + 1 && last_addr == (uint64_t)page + 16 && page[16] == 3,
	      "a PTE made read-only by hand faults once; the handler's PTE write fixes it");
	long clone = dune_root_clone(dune_root_current());
	dune_root_t home = dune_root_current();
	if (clone > 0) {
		dune_root_switch(clone);
		int same = page[16] == 3;
		dune_root_switch(home);
		check(same, "a cloned root runs the program and sees its pages");
		dune_root_free(clone);
	} else {
		check(0, "dune_root_clone");
	}
}

struct root_probe {
	const char *page;
	int fd;
	char seen;
};

/* Waits for a byte on fd, then reads the page through its own root. */
static void *read_when_woken(void *arg)
{
	struct root_probe *rp = arg;
	char c;

	if (read(rp->fd, &c, 1) == 1)
		rp->seen = rp->page[0];
	return NULL;
}

/* A thread keeps the root it switched to while others run theirs: the
 * main thread's clone maps the page to another frame ('b'); the second
 * thread, woken by the main thread from the clone, still sees the
 * program's own ('a'), and the main thread its clone after the join. */
static void threads_keep_their_roots(void)
{
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fds[2];
	pthread_t t;

	page[0] = 'a';
	dune_protect(page, 4096, PROT_READ | PROT_WRITE);       /* a 4 KiB PTE */
	struct root_probe rp = { page, -1, 0 };
	if (pipe(fds) < 0 || (rp.fd = fds[0], pthread_create(&t, NULL, read_when_woken, &rp))) {
		check(0, "a pipe and a thread");
		return;
	}
	dune_root_t home = dune_root_current();
	long clone = dune_root_clone(home), frame = dune_page_alloc();
	if (clone < 0 || frame < 0 || dune_map(clone, page, frame, 4096, DUNE_PTE_W | DUNE_PTE_NX) < 0) {
		check(0, "a clone with the page mapped elsewhere");
		return;
	}
	*(char *)dune_page_ptr(frame) = 'b';
	dune_root_switch(clone);
	char before = page[0];
	if (write(fds[1], "x", 1) != 1)
		rp.seen = '?';
	pthread_join(t, NULL);
	char after = page[0];
	pid_t pid = fork();                     /* a child goes on in its parent's root */
	if (pid == 0)
		_exit(page[0] == 'b' ? 42 : 1);
	int st = 0;
	int child = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	dune_root_switch(home);
	printf("root probe: main %c then %c, the other thread %c\n", before, after, rp.seen ? rp.seen : '-');
	check(before == 'b' && after == 'b' && rp.seen == 'a',
	      "threads keep their own roots across a switch between them");
	check(child == 42, "a fork child starts on its parent's current root");
	dune_root_free(clone);
	close(fds[0]);
	close(fds[1]);
}

/* User code, position-independent: getpid by syscall, ud2, a read of an
 * unmapped page, a store to xmm0 and a syscall, the xmm0 value back in
 * rax and a syscall, then cli. */
static const unsigned char user_code[] = {
	0xb8, 39, 0, 0, 0,                      /* mov $39, %eax */
	0x0f, 0x05,                             /* syscall */
	0x0f, 0x0b,                             /* ud2 */
	0x8a, 0x04, 0x25, 0x00, 0x40, 0x23, 0x01, /* mov 0x1234000, %al */
	0x48, 0xb8, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x08, /* movabs $0x0877665544332211, %rax */
	0x66, 0x48, 0x0f, 0x6e, 0xc0,           /* movq %rax, %xmm0 */
	0x0f, 0x05,                             /* syscall */
	0x66, 0x48, 0x0f, 0x7e, 0xc0,           /* movq %xmm0, %rax */
	0x0f, 0x05,                             /* syscall */
	0xfa,                                   /* cli */
};

static void user_context(void)
{
	struct dune_user *u = aligned_alloc(64, sizeof *u);
	long root = dune_root_new(), code = dune_page_alloc(), stack = dune_page_alloc();

	memset(u, 0, sizeof *u);
	check(root > 0 && code > 0 && stack > 0, "a new root and two pages");
	memcpy(dune_page_ptr(code), user_code, sizeof user_code);
	check(dune_map(root, (void *)0x10000000, code, 4096, DUNE_PTE_U) == 0 &&
	      dune_map(root, (void *)0x20000000, stack, 4096, DUNE_PTE_U | DUNE_PTE_W | DUNE_PTE_NX) == 0,
	      "code and stack mapped in the user root");
	u->root = root;
	u->tf.rip = 0x10000000;
	u->tf.rsp = 0x20001000;
	u->tf.rbx = 0xb0b;
	long why = dune_user_run(u);
	check(why == DUNE_EXIT_SYSCALL && u->tf.rax == 39 && u->tf.rip == 0x10000007,
	      "a user syscall stops the context: number and return address");
	u->tf.rax = 4242;
	why = dune_user_run(u);
	check(why == 6 && u->tf.rax == 4242 && u->tf.rbx == 0xb0b && u->tf.rip == 0x10000007,
	      "the emulated result and the registers carry over; #UD stops it");
	u->tf.rip += 2;
	why = dune_user_run(u);
	check(why == 14 && u->tf.addr == 0x1234000 && (u->tf.err & DUNE_PF_USER) &&
	      !(u->tf.err & DUNE_PF_PRESENT), "a read of an unmapped page: #PF with address and error");
	u->tf.rip += 7;
	why = dune_user_run(u);
	check(why == DUNE_EXIT_SYSCALL, "the user context stores to xmm0 and calls");
	__asm__ volatile("pxor %%xmm0, %%xmm0" ::: "xmm0");
	why = dune_user_run(u);
	check(why == DUNE_EXIT_SYSCALL && u->tf.rax == 0x0877665544332211ULL,
	      "its xmm0 survives the program's own use of the register");
	why = dune_user_run(u);
	check(why == 13, "cli in ring 3: #GP stops it");
	uint64_t word = 0;
	check(dune_user_copy_in(root, &word, 0x10000000, 8) == 0 && !memcmp(&word, user_code, 8),
	      "dune_user_copy_in reads the user root's memory");
	check(dune_user_copy_out(root, 0x10000000, &word, 8) == -EFAULT,
	      "dune_user_copy_out refuses a read-only user page");
	check(dune_user_copy_in(root, &word, 0x30000000, 8) == -EFAULT,
	      "dune_user_copy_in refuses an unmapped address");
	dune_root_free(root);
}

/* A program in ring 0 may write what a ring-3 one cannot reach: the
 * supervisor's control block and its own page tables.  The launcher
 * reads both; it must stay whole whatever they hold (supervisor.sh checks
 * that it still writes --status-json).  The program may well die. */
static void hostile(void)
{
	char *region = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *huge = (char *)(((uint64_t)region + (2 << 20)) & ~((2UL << 20) - 1));
	huge[0] = 1;
	/* A 2 MiB entry of its own, far past guest memory. */
	uint64_t *t = dune_page_ptr(dune_root_current());
	for (int shift = 39; shift > 21; shift -= 9)
		t = dune_page_ptr(t[((uint64_t)huge >> shift) & 511]);
	t[((uint64_t)huge >> 21) & 511] = (1ULL << 45) | DUNE_PTE_PS | DUNE_PTE_P | DUNE_PTE_W | DUNE_PTE_U;
	dune_flush_all();
	printf("mprotect over it: %d\n", mprotect(huge + 4096, 4096, PROT_READ));
	/* A rewrite-queue count far past the queue. */
	*(volatile uint64_t *)(GVA_KCB + KCB_NUPDATES) = 1ULL << 40;
	printf("munmap after it: %d\n", munmap(region, 4096));
	printf("survived\n");
}

/* One act of a hostile ring-0 program that only the launcher can end:
 * each must end the run with a report, never hang or crash dunerun. */
static void hostile_act(const char *act)
{
	static const uint8_t idt0[10];          /* limit 0: no gate at all */
	uint64_t *kernel_text = (uint64_t *)GVA_KERNEL;

	if (!strcmp(act, "spin"))               /* interrupts off, forever */
		__asm__ volatile("cli; 1: jmp 1b");
	else if (!strcmp(act, "hlt"))
		__asm__ volatile("cli; hlt");
	else if (!strcmp(act, "idt"))           /* then any exception triple-faults */
		__asm__ volatile("lidt %0; ud2" :: "m"(idt0));
	else if (!strcmp(act, "port-out"))
		__asm__ volatile("outb %%al, $0x99" :: "a"(0));
	else if (!strcmp(act, "port-in"))
		__asm__ volatile("inb $0x99, %%al" ::: "rax");
	else if (!strcmp(act, "forged-exception"))  /* a frame of its own making */
		__asm__ volatile("push $0x1234; push $0x8; push $0x2; push $0x7; push $0; outb %%al, $14"
				 ::: "memory");
	else if (!strcmp(act, "kernel-text"))
		kernel_text[64] = 0xccccccccccccccccULL;
	else if (!strcmp(act, "lstar")) {       /* syscall then jumps to nowhere */
		__asm__ volatile("wrmsr" :: "c"(MSR_LSTAR), "a"(0x1000), "d"(0));
		getpid();
	}
	printf("survived %s\n", act);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "hostile")) {
		setvbuf(stdout, NULL, _IONBF, 0);
		hostile();
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "ud")) {      /* N #UDs to the handler */
		long n = atol(argv[2]);
		if (dune_init() < 0 || dune_trap(on_trap, 1 << 6) < 0)
			return 1;
		for (long i = 0; i < n; i++)
			__asm__ volatile("ud2");
		printf("%d traps\n", traps);
		return traps != n;
	}
	if (argc > 2 && !strcmp(argv[1], "act")) {
		setvbuf(stdout, NULL, _IONBF, 0);
		hostile_act(argv[2]);
		return 0;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "ring3")) {
		ring3_refuses();
	} else {
		check(dune_init() == 0, "dune_init under dunerun --supervisor");
		syscalls_and_faults();
		own_page_tables();
		dirty_huge_page();
		threads_keep_their_roots();
		user_context();
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
