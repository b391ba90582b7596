/* A hostile plugin: tries to make a process, open a file and write to
 * stderr, and reports what it got. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	pid_t pid = fork();
	printf("fork: %d (%s)\n", (int)pid, pid < 0 ? strerror(errno) : "a child!");
	int fd = open("/etc/passwd", O_RDONLY);
	printf("open: %d (%s)\n", fd, fd < 0 ? strerror(errno) : "opened!");
	long w = write(2, "x\n", 2);
	printf("write to stderr: %ld\n", w);
	return 3;
}
