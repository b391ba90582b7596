/*
 * sigframe: what a handler sees in its frame and what rt_sigreturn
 * restores: a handler that repairs a fault by editing the saved context,
 * register and SSE state kept across a handler, the alternate stack,
 * SA_RESETHAND, SA_NODEFER nesting, the mask during and after a handler,
 * and a forged rt_sigreturn, which must kill with SIGSEGV as on Linux.
 */
#include "t.h"
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>

static volatile int hits, depth, max_depth, calls, on_alt, mask_had_usr2;
static char *altstack;

/* Skips the faulting 3-byte `movb $1, (%rax)`... by moving rip on. */
static void fixup(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 3;
	uc->uc_mcontext.gregs[REG_RBX] = 0x1234;
	hits++;
}

static void on_stack(int sig)
{
	char here;
	(void)sig;
	on_alt = &here >= altstack && &here < altstack + SIGSTKSZ;
	hits++;
}

static void nested(int sig)
{
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	if (++calls < 3)
		raise(sig);
	depth--;
}

static void check_mask(int sig)
{
	sigset_t cur;
	(void)sig;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	mask_had_usr2 = sigismember(&cur, SIGUSR2) && sigismember(&cur, SIGUSR1);
}

static void clobber_sse(int sig)
{
	volatile double x = 1.5;
	(void)sig;
	for (int i = 0; i < 10; i++)
		x = x * 3.25 + 0.5;
	__asm__ volatile("pxor %%xmm7, %%xmm7; pcmpeqd %%xmm6, %%xmm6" ::: "xmm6", "xmm7");
	hits++;
}

int main(void)
{
	struct sigaction sa = { 0 };

	/* A fault repaired by the handler: rip moved past it, rbx changed. */
	sa.sa_sigaction = fixup;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	long rbx;
	__asm__ volatile("xor %%eax, %%eax\n\t"
			 "mov $7, %%rbx\n\t"
			 ".byte 0xc6, 0x00, 0x01\n\t"   /* movb $1, (%rax): faults */
			 "mov %%rbx, %0"
			 : "=r"(rbx) : : "rax", "rbx", "memory");
	CHECK(hits == 1 && rbx == 0x1234, "a handler resumes past the fault with rbx it set");
	signal(SIGSEGV, SIG_DFL);

	/* SSE state survives a handler that uses it. */
	double keep = 2.75;
	__asm__ volatile("movsd %0, %%xmm6; movsd %0, %%xmm7" :: "m"(keep) : "xmm6", "xmm7");
	signal(SIGUSR1, clobber_sse);
	raise(SIGUSR1);
	double got6, got7;
	__asm__ volatile("movsd %%xmm6, %0; movsd %%xmm7, %1" : "=m"(got6), "=m"(got7));
	CHECK(got6 == 2.75 && got7 == 2.75, "xmm6 and xmm7 are restored after the handler");

	/* The alternate stack. */
	altstack = malloc(SIGSTKSZ);
	stack_t ss = { .ss_sp = altstack, .ss_size = SIGSTKSZ };
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	sa.sa_handler = on_stack;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	CHECK(on_alt, "an SA_ONSTACK handler runs on the alternate stack");
	sa.sa_flags = 0;
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	CHECK(!on_alt, "without SA_ONSTACK it runs on the normal stack");

	/* SA_RESETHAND: one shot, then the default (ignored for SIGURG). */
	sa.sa_handler = on_stack;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGURG, &sa, NULL);
	int before = hits;
	raise(SIGURG);
	raise(SIGURG);
	struct sigaction now;
	sigaction(SIGURG, NULL, &now);
	CHECK(hits == before + 1 && now.sa_handler == SIG_DFL, "SA_RESETHAND runs once");

	/* SA_NODEFER lets the handler be interrupted by its own signal. */
	sa.sa_handler = nested;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	CHECK(max_depth == 3 && depth == 0 && calls == 3, "SA_NODEFER nests three deep");
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	max_depth = calls = 0;
	raise(SIGUSR1);
	CHECK(max_depth == 1 && calls == 3, "without SA_NODEFER each raise inside waits for the return");

	/* The mask: the signal and sa_mask blocked in the handler, restored after. */
	sa.sa_handler = check_mask;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK(mask_had_usr2 && !sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGUSR1),
	      "handler mask includes the signal and sa_mask; both are unblocked after");

	/* A forged rt_sigreturn: a frame of garbage. */
	printf("forging rt_sigreturn\n");
	fflush(stdout);
	char *junk = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(junk, 0xff, 65536);
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "mov $15, %%eax\n\t"
			 "syscall" :: "r"(junk + 32768) : "memory");
	printf("survived a forged frame\n");
	return t_done();
}
