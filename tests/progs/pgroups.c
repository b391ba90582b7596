/* Process groups and sessions as a shell uses them: a job in a group of
 * its own (setpgid from both sides), a signal to the whole group, a
 * wait for any child of the group, and setsid in another child. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got = 1; }

int main(void)
{
	int ready[2], st;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("getpgrp is getpgid(0): %s; getsid(0) is getsid(getpid()): %s\n",
	       getpgrp() == getpgid(0) ? "yes" : "no", getsid(0) == getsid(getpid()) ? "yes" : "no");
	if (pipe(ready))
		return 1;
	pid_t job = fork();
	if (job == 0) {
		setpgid(0, 0);
		signal(SIGUSR1, on_usr1);
		pid_t g = fork();
		if (g == 0) {
			signal(SIGUSR1, SIG_DFL);
			if (write(ready[1], "g", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		if (write(ready[1], "c", 1) != 1)
			_exit(1);
		while (waitpid(g, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1 ? 10 + got : 2);
	}
	setpgid(job, job);              /* as a shell does: no race with the child's */
	char c[2];
	if (read(ready[0], c, 1) != 1 || read(ready[0], c + 1, 1) != 1)
		return 1;
	printf("the job leads its own group: %s\n", getpgid(job) == job ? "yes" : "no");
	printf("kill of the group: %d\n", kill(-job, SIGUSR1));
	pid_t w = waitpid(-job, &st, 0);
	printf("waitpid(-group) reaped the job: %s, status %d\n", w == job ? "yes" : "no",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	printf("kill of the group, all gone: %s\n", kill(-job, 0) < 0 && errno == ESRCH ? "ESRCH" : "?");
	printf("setpgid of a stranger: %s\n", setpgid(1, 1) < 0 && errno == ESRCH ? "ESRCH" : "?");

	pid_t s = fork();
	if (s == 0) {
		pid_t sid = setsid();
		_exit(sid == getpid() && getsid(0) == sid && getpgrp() == sid ? 0 : 1);
	}
	waitpid(s, &st, 0);
	printf("setsid in a child: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
	printf("setsid as a group leader: %s\n", setpgid(0, 0) == 0 && setsid() < 0 && errno == EPERM ? "EPERM" : "?");
	return 0;
}
