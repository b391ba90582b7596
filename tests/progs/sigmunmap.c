/*
 * sigmunmap: a handler entered on the return from a call that changed
 * page tables (munmap) still gets its arguments: the signal number, the
 * siginfo and the ucontext.  The parent signals a child that maps and
 * unmaps in a loop; the child counts handler entries with bad arguments.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got, bad;

static void handler(int sig, siginfo_t *si, void *uc)
{
	got++;
	if (sig != SIGUSR1 || !si || si->si_signo != SIGUSR1 || !uc)
		bad++;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_RESTART };
	int status;
	pid_t child;

	sigaction(SIGUSR1, &sa, NULL);
	if ((child = fork()) == 0) {
		for (int i = 0; i < 100000 && got < 1000; i++) {
			char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				_exit(2);
			p[0] = 1;
			munmap(p, 1 << 16);
		}
		printf("handlers with bad arguments: %d\n", (int)bad);
		_exit(bad != 0);
	}
	while (waitpid(child, &status, WNOHANG) == 0) {
		kill(child, SIGUSR1);
		usleep(200);
	}
	if (WIFSIGNALED(status))
		printf("child killed by signal %d\n", WTERMSIG(status));
	return status != 0;
}
