/*
 * sigwait: a signal that the program takes ends poll, ppoll, select,
 * pselect6 and epoll_pwait with EINTR, and the masks of ppoll, pselect6
 * and epoll_pwait let in, only for the wait, a signal blocked outside it.
 * This is how make -j waits for its children (SIGCHLD, blocked except in
 * pselect); under the old launcher the waits never ended.
 */
#include "t.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>

static volatile sig_atomic_t got;

static void on_signal(int sig)
{
	got = sig;
}

/* A child that exits at once: its SIGCHLD comes while SIGCHLD is blocked. */
static void child_exits(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	/* Let it end, with SIGCHLD left pending. */
	while (waitid(P_PID, pid, NULL, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t chld, empty;
	int pfd[2], ep, r;

	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&empty);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if (pipe(pfd) < 0)
		return 1;

	/* pselect6 with a mask that lets the pending SIGCHLD in. */
	child_exits();
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(pfd[0], &rd);
	got = 0;
	r = pselect(pfd[0] + 1, &rd, NULL, NULL, NULL, &empty);
	printf("pselect: %d %s, handler %s\n", r, r < 0 ? strerror(errno) : "",
	       got == SIGCHLD ? "ran" : "did not run");
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("after pselect SIGCHLD is %s\n", sigismember(&now, SIGCHLD) ? "blocked again" : "unblocked");
	reap();

	/* ppoll, the same. */
	child_exits();
	struct pollfd pf = { pfd[0], POLLIN, 0 };
	got = 0;
	r = ppoll(&pf, 1, NULL, &empty);
	printf("ppoll: %d %s, handler %s\n", r, r < 0 ? strerror(errno) : "",
	       got == SIGCHLD ? "ran" : "did not run");
	reap();

	/* epoll_pwait, the same. */
	ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev);
	child_exits();
	got = 0;
	r = epoll_pwait(ep, &out, 1, -1, &empty);
	printf("epoll_pwait: %d %s, handler %s\n", r, r < 0 ? strerror(errno) : "",
	       got == SIGCHLD ? "ran" : "did not run");
	reap();

	/* poll and select with no mask: SIGALRM comes during the wait. */
	alarm(1);
	got = 0;
	r = poll(&pf, 1, 10000);
	printf("poll: %d %s, handler %s\n", r, r < 0 ? strerror(errno) : "",
	       got == SIGALRM ? "ran" : "did not run");
	alarm(1);
	got = 0;
	struct timeval tv = { 10, 0 };
	FD_SET(pfd[0], &rd);
	r = select(pfd[0] + 1, &rd, NULL, NULL, &tv);
	printf("select: %d %s, handler %s\n", r, r < 0 ? strerror(errno) : "",
	       got == SIGALRM ? "ran" : "did not run");

	/* A blocked signal does not end the wait: it times out. */
	sigaddset(&chld, SIGALRM);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	alarm(1);
	r = poll(&pf, 1, 1500);
	printf("poll with SIGALRM blocked: %d\n", r);
	return 0;
}
