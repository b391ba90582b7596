/*
 * sigasync: signals that arrive while the program is busy: a timer in a
 * loop of its own code, a blocking read interrupted (EINTR) or restarted
 * (SA_RESTART), pause, and sigtimedwait with and without a timeout.
 */
#include "t.h"
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t ticks;
static int pipe_w = -1;

static void tick(int sig)
{
	(void)sig;
	ticks++;
}

static void tick_and_feed(int sig)
{
	(void)sig;
	ticks++;
	if (write(pipe_w, "x", 1) != 1)
		ticks = -1000;
}

static void arm(long ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
	struct sigaction sa = { 0 };
	int fds[2];
	char c;

	/* A timer that fires while the program runs its own code. */
	sa.sa_handler = tick;
	sigaction(SIGALRM, &sa, NULL);
	arm(30);
	for (volatile unsigned long n = 0; !ticks; n++)
		;
	CHECK(ticks == 1, "SIGALRM interrupted a busy loop");

	/* A blocking read: EINTR without SA_RESTART... */
	CHECK(pipe(fds) == 0, "pipe");
	pipe_w = fds[1];
	arm(30);
	errno = 0;
	CHECK(read(fds[0], &c, 1) == -1 && errno == EINTR && ticks == 2,
	      "a blocking read ends in EINTR after the handler");

	/* ...and made again with it: the handler feeds the pipe. */
	sa.sa_handler = tick_and_feed;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	arm(30);
	CHECK(read(fds[0], &c, 1) == 1 && c == 'x' && ticks == 3,
	      "with SA_RESTART the read is made again and gets the handler's byte");

	/* pause returns after the handler. */
	sa.sa_handler = tick;
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	arm(20);
	CHECK(pause() == -1 && errno == EINTR && ticks == 4, "pause returns EINTR after the handler");

	/* sigtimedwait: a timeout, then a signal taken without a handler. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct timespec ts = { 0, 50 * 1000000 };
	siginfo_t si;
	CHECK(sigtimedwait(&set, &si, &ts) == -1 && errno == EAGAIN, "sigtimedwait times out");
	raise(SIGUSR1);
	CHECK(sigtimedwait(&set, &si, &ts) == SIGUSR1 && si.si_signo == SIGUSR1 &&
	      si.si_code == SI_TKILL, "sigtimedwait takes a pending SIGUSR1 (SI_TKILL)");
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	arm(20);
	CHECK(sigwaitinfo(&set, &si) == SIGALRM && ticks == 4, "sigwaitinfo takes a timer's SIGALRM");
	return t_done();
}
