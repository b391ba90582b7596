/*
 * sigtimer: signals that arrive on their own: setitimer's SIGALRM caught
 * in sigsuspend, and one that interrupts nanosleep with EINTR.
 */
#include "t.h"
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t hits, last_sig;

static void h(int sig)
{
	hits++;
	last_sig = sig;
}

int main(void)
{
	struct sigaction sa = { 0 };
	sigset_t set;

	/* A timer: setitimer 50 ms, wait with sigsuspend. */
	sa.sa_handler = h;
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer 50 ms");
	sigset_t empty;
	sigemptyset(&empty);
	int before = hits;
	sigsuspend(&empty);
	CHECK(hits == before + 1 && last_sig == SIGALRM, "SIGALRM arrived during sigsuspend");

	/* Interrupted sleep: EINTR without SA_RESTART. */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	it.it_value.tv_usec = 20000;
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec ts = { 5, 0 }, rem = { 0, 0 };
	int r = nanosleep(&ts, &rem);
	CHECK(r == -1 && errno == EINTR, "nanosleep(5s) interrupted by SIGALRM with EINTR");
	CHECK(rem.tv_sec >= 3 && rem.tv_sec <= 5, "remaining time reported");

	return t_done();
}
