/*
 * forkwait: fork, a copy of memory in the child, wait4 and waitid with
 * statuses and signals, and a pipe between parent and child.
 */
#include "t.h"
#include <signal.h>
#include <sys/wait.h>

int main(void)
{
	int x = 5, fds[2], st;
	char buf[16] = {0};

	CHECK(pipe(fds) == 0, "pipe");
	pid_t pid = fork();
	if (pid == 0) {
		x = 7;
		CHECK(getppid() != getpid(), "the child has its own pid");
		if (write(fds[1], "from child", 10) != 10)
			return 9;
		return x;
	}
	CHECK(pid > 0, "fork returns the child's pid");
	CHECK(read(fds[0], buf, sizeof buf) == 10 && !strcmp(buf, "from child"), "the pipe carries the child's bytes");
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7, "waitpid: exit status 7");
	pid_t reaped = pid;
	CHECK(x == 5, "the parent's memory is its own");
	EXPECT_ERR(SYS4(SYS_wait4, -1, &st, 0, 0), ECHILD, "no more children");

	/* A child killed by a signal, seen by waitid. */
	pid = fork();
	if (pid == 0) {
		raise(SIGTERM);
		return 1;
	}
	siginfo_t si;
	CHECK(waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_code == CLD_KILLED &&
	      si.si_status == SIGTERM, "waitid: killed by SIGTERM");

	/* kill reaches a child. */
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	CHECK(kill(pid, SIGKILL) == 0, "kill(child, SIGKILL)");
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	      "the child died of SIGKILL");
	EXPECT_ERR(SYS2(SYS_kill, reaped, 0), ESRCH, "kill of a child already reaped");
	return t_done();
}
