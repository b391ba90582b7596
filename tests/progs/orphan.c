/*
 * orphan: a child whose parent dies is reparented, and getppid says so
 * (its parent's pid no more), as on Linux; the child's own getpid does
 * not change.
 */
#include <signal.h>
#include <sys/wait.h>

#include "t.h"

int main(void)
{
	int fds[2], ready[2];
	char c;

	if (pipe(fds) < 0 || pipe(ready) < 0)
		return 2;
	pid_t parent = fork();
	if (parent < 0)
		return 2;
	if (parent > 0) {
		/* The test's process waits for the middle one only. */
		waitpid(parent, NULL, 0);
		/* Then for the grandchild's report through the pipe. */
		close(fds[1]);
		if (read(fds[0], &c, 1) != 1)
			return 3;
		printf("orphan reparented: %s\n", c == 'y' ? "yes" : "NO");
		return c == 'y' ? 0 : 1;
	}
	pid_t middle = getpid();
	pid_t kid = fork();
	if (kid < 0)
		_exit(2);
	if (kid > 0) {
		/* Once the grandchild has seen its parent, the parent dies. */
		if (read(ready[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(fds[0]);
	pid_t before = getppid();
	if (write(ready[1], "r", 1) != 1)
		_exit(2);
	for (int i = 0; i < 500 && getppid() == middle; i++)
		usleep(10000);
	int ok = before == middle && getppid() != middle;
	if (write(fds[1], ok ? "y" : "n", 1) != 1)
		_exit(2);
	_exit(0);
}
