/*
 * Signal delivery to the program itself: kill/tgkill/raise with handlers,
 * SA_SIGINFO details, blocked-then-unblocked delivery, queued real-time
 * signals, SIG_IGN, and a caught SIGSEGV left with siglongjmp.  Ends by
 * raising SIGTERM with the default action, so the expected status is 143.
 * (Timer signals are sigtimer's.)
 */
#include "t.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t hits, last_sig, last_code, last_pid_ok;
static volatile uintptr_t fault_addr;
static sigjmp_buf jb;

static void h(int sig)
{
	hits++;
	last_sig = sig;
}

static void hinfo(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	hits++;
	last_sig = sig;
	last_code = si->si_code;
	last_pid_ok = si->si_pid == getpid();
}

static void hsegv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	last_sig = sig;
	last_code = si->si_code;
	fault_addr = (uintptr_t)si->si_addr;
	siglongjmp(jb, 1);
}

int main(void)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = h;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "install SIGUSR1 handler");
	CHECK(kill(getpid(), SIGUSR1) == 0, "kill(getpid(), SIGUSR1)");
	CHECK(hits == 1 && last_sig == SIGUSR1, "handler ran once for SIGUSR1");
	CHECK(raise(SIGUSR1) == 0 && hits == 2, "raise(SIGUSR1) ran the handler");
	CHECK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1) == 0 && hits == 3,
	      "tgkill ran the handler");

	/* SA_SIGINFO: si_code SI_USER and si_pid for kill(). */
	sa.sa_sigaction = hinfo;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0, "install SA_SIGINFO SIGUSR2 handler");
	kill(getpid(), SIGUSR2);
	CHECK(hits == 4 && last_sig == SIGUSR2, "SA_SIGINFO handler ran");
	CHECK(last_code == SI_USER, "si_code is SI_USER");
	CHECK(last_pid_ok, "si_pid is our pid");

	/* Blocked: pending until unblocked, then delivered once. */
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR1);
	CHECK(hits == 4, "blocked signal not delivered");
	CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1), "SIGUSR1 is pending");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	CHECK(hits == 5, "delivered exactly once on unblock (standard signals do not queue)");

	/* Real-time signals queue. */
	sa.sa_handler = h;
	sa.sa_flags = 0;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	union sigval sv = { .sival_int = 7 };
	sigqueue(getpid(), SIGRTMIN + 1, sv);
	sigqueue(getpid(), SIGRTMIN + 1, sv);
	sigqueue(getpid(), SIGRTMIN + 1, sv);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	CHECK(hits == 8, "three queued real-time signals delivered three times");

	/* SIG_IGN: nothing happens. */
	signal(SIGUSR1, SIG_IGN);
	kill(getpid(), SIGUSR1);
	CHECK(hits == 8, "ignored signal has no effect");

	/* A caught SIGSEGV, left with siglongjmp. */
	char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sa.sa_sigaction = hsegv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(jb, 1) == 0) {
		*(volatile char *)(p + 123) = 1;
		printf("no fault\n");
	}
	CHECK(last_sig == SIGSEGV, "SIGSEGV handler ran");
	CHECK(last_code == SEGV_ACCERR, "si_code is SEGV_ACCERR");
	CHECK(fault_addr == (uintptr_t)p + 123, "si_addr is the faulting address");
	munmap(p, 4096);
	if (sigsetjmp(jb, 1) == 0)
		*(volatile char *)(p + 5) = 1;
	CHECK(last_code == SEGV_MAPERR && fault_addr == (uintptr_t)p + 5, "SEGV_MAPERR on an unmapped page");
	signal(SIGSEGV, SIG_DFL);

	int failures = t_failures;
	printf("raising SIGTERM with the default action\n");
	fflush(stdout);
	signal(SIGTERM, SIG_DFL);
	raise(SIGTERM);
	printf("still alive\n");
	return failures ? 1 : 0;
}
