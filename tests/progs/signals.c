/*
 * rt_sigaction / rt_sigprocmask / sigaltstack round trips: whatever is set
 * must be read back unchanged.  No signal is delivered here (see sigdeliver.c).
 */
#include "t.h"
#include <signal.h>

/* The kernel's struct sigaction (not libc's): handler, flags, restorer, 8-byte mask. */
struct ksa {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

static void handler(int sig) { (void)sig; }
static void restorer(void) {}

int main(void)
{
	struct ksa sa = { handler, SA_RESTART | SA_SIGINFO | 0x04000000 /* SA_RESTORER */, restorer,
			  (1UL << (SIGUSR2 - 1)) | (1UL << (SIGTERM - 1)) };
	struct ksa old;
	memset(&old, 0x55, sizeof old);
	CHECK(SYS4(SYS_rt_sigaction, SIGUSR1, NULL, &old, 8) == 0, "rt_sigaction get SIGUSR1");
	CHECK(old.handler == SIG_DFL, "initial SIGUSR1 handler is SIG_DFL");
	CHECK(SYS4(SYS_rt_sigaction, SIGUSR1, &sa, NULL, 8) == 0, "rt_sigaction set SIGUSR1");
	memset(&old, 0, sizeof old);
	CHECK(SYS4(SYS_rt_sigaction, SIGUSR1, NULL, &old, 8) == 0, "rt_sigaction get SIGUSR1 again");
	CHECK(old.handler == (void *)handler, "handler read back");
	CHECK(old.flags == sa.flags, "flags read back");
	CHECK(old.restorer == (void *)restorer, "restorer read back");
	CHECK(old.mask == sa.mask, "mask read back");
	/* Setting and getting in one call returns the previous action. */
	struct ksa ign = { SIG_IGN, 0x04000000, restorer, 0 };
	CHECK(SYS4(SYS_rt_sigaction, SIGUSR1, &ign, &old, 8) == 0 && old.handler == (void *)handler,
	      "set SIG_IGN returns the previous handler");
	CHECK(SYS4(SYS_rt_sigaction, SIGUSR1, NULL, &old, 8) == 0 && old.handler == SIG_IGN, "SIG_IGN read back");
	/* SIGKILL and SIGSTOP cannot be caught; bad numbers and sizes are refused. */
	EXPECT_ERR(SYS4(SYS_rt_sigaction, SIGKILL, &sa, NULL, 8), EINVAL, "rt_sigaction SIGKILL");
	EXPECT_ERR(SYS4(SYS_rt_sigaction, SIGSTOP, &sa, NULL, 8), EINVAL, "rt_sigaction SIGSTOP");
	EXPECT_ERR(SYS4(SYS_rt_sigaction, 0, &sa, NULL, 8), EINVAL, "rt_sigaction signal 0");
	EXPECT_ERR(SYS4(SYS_rt_sigaction, 65, &sa, NULL, 8), EINVAL, "rt_sigaction signal 65");
	EXPECT_ERR(SYS4(SYS_rt_sigaction, SIGUSR1, &sa, NULL, 4), EINVAL, "rt_sigaction sigsetsize 4");
	EXPECT_ERR(SYS4(SYS_rt_sigaction, SIGUSR1, 8, NULL, 8), EFAULT, "rt_sigaction from a bad pointer");
	CHECK(SYS4(SYS_rt_sigaction, SIGKILL, NULL, &old, 8) == 0 && old.handler == SIG_DFL,
	      "rt_sigaction can read SIGKILL's action");
	/* Real-time signals too. */
	CHECK(SYS4(SYS_rt_sigaction, 64, &sa, NULL, 8) == 0 && SYS4(SYS_rt_sigaction, 64, NULL, &old, 8) == 0 &&
	      old.handler == (void *)handler, "rt_sigaction round trip on signal 64");
	/* libc's sigaction agrees. */
	struct sigaction ls;
	CHECK(sigaction(SIGUSR1, NULL, &ls) == 0 && ls.sa_handler == SIG_IGN, "libc sigaction sees SIG_IGN");

	/* rt_sigprocmask. */
	unsigned long set, cur = 12345;
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &cur, 8) == 0, "rt_sigprocmask get");
	CHECK(cur == 0, "initial mask is empty");
	set = (1UL << (SIGUSR1 - 1)) | (1UL << (SIGINT - 1));
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_BLOCK, &set, &cur, 8) == 0 && cur == 0, "SIG_BLOCK USR1|INT");
	unsigned long more = 1UL << (SIGHUP - 1);
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_BLOCK, &more, &cur, 8) == 0 && cur == set, "SIG_BLOCK HUP returns USR1|INT");
	unsigned long less = 1UL << (SIGINT - 1);
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_UNBLOCK, &less, &cur, 8) == 0 && cur == (set | more),
	      "SIG_UNBLOCK INT returns USR1|INT|HUP");
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &cur, 8) == 0 &&
	      cur == ((1UL << (SIGUSR1 - 1)) | more), "mask is now USR1|HUP");
	/* KILL and STOP are silently never blocked. */
	unsigned long ks = (1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1));
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &ks, NULL, 8) == 0, "SIG_SETMASK KILL|STOP");
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &cur, 8) == 0 && cur == 0,
	      "KILL and STOP are not in the mask");
	unsigned long all = ~0UL;
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8) == 0 &&
	      SYS4(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &cur, 8) == 0 && cur == (all & ~ks),
	      "blocking everything blocks all but KILL and STOP");
	EXPECT_ERR(SYS4(SYS_rt_sigprocmask, 7, &set, NULL, 8), EINVAL, "rt_sigprocmask with a bad how");
	EXPECT_ERR(SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &set, NULL, 16), EINVAL, "rt_sigprocmask sigsetsize 16");
	unsigned long none = 0;
	CHECK(SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8) == 0, "mask cleared");
	sigset_t ss;
	CHECK(sigprocmask(SIG_SETMASK, NULL, &ss) == 0 && !sigismember(&ss, SIGUSR1), "libc sigprocmask agrees");

	/* rt_sigpending: nothing pending. */
	unsigned long pend = 99;
	CHECK(SYS2(SYS_rt_sigpending, &pend, 8) == 0 && pend == 0, "rt_sigpending: nothing pending");

	/* sigaltstack round trip. */
	static char altstack[65536];
	stack_t st = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 }, ost;
	CHECK(SYS2(SYS_sigaltstack, NULL, &ost) == 0 && ost.ss_flags == SS_DISABLE, "initial sigaltstack disabled");
	CHECK(SYS2(SYS_sigaltstack, &st, NULL) == 0, "sigaltstack set 64 KiB");
	CHECK(SYS2(SYS_sigaltstack, NULL, &ost) == 0 && ost.ss_sp == altstack && ost.ss_size == sizeof altstack &&
	      ost.ss_flags == 0, "sigaltstack read back");
	stack_t tiny = { .ss_sp = altstack, .ss_size = 100, .ss_flags = 0 };
	EXPECT_ERR(SYS2(SYS_sigaltstack, &tiny, NULL), ENOMEM, "sigaltstack of 100 bytes");
	return t_done();
}
