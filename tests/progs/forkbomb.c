/* A fork bomb, bounded so that it ends: every process forks up to 4
 * children, 7 levels deep (5461 processes unchecked).  Under a process
 * limit, fork fails with EAGAIN; every process waits for the children
 * it made and passes up whether anyone below saw EAGAIN.  Meant for
 * dunerun with --limit procs=N only: natively it is a real fork bomb. */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int bomb(int depth)
{
	pid_t kids[4];
	int n = 0, saw = 0;

	for (int i = 0; i < 4 && depth > 0; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(bomb(depth - 1));
		if (pid < 0) {
			saw |= errno == EAGAIN;
			continue;
		}
		kids[n++] = pid;
	}
	for (int i = 0; i < n; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st))
			saw |= WEXITSTATUS(st);
	}
	return saw;
}

int main(void)
{
	int saw = bomb(7);

	printf("fork failed with EAGAIN somewhere: %s\n", saw ? "yes" : "no");
	return 0;
}
