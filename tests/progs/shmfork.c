/*
 * shmfork: anonymous MAP_SHARED memory made before a fork is shared
 * with the child (PostgreSQL's shared buffers, nginx's zones), and
 * MAP_PRIVATE memory is not; both ways, and with a grandchild.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "t.h"

#define LEN (3 * 4096 + 100)

static void child_writes(volatile unsigned char *shared, volatile unsigned char *priv, int v)
{
	pid_t pid = fork();
	if (pid < 0)
		exit(2);
	if (pid == 0) {
		for (int i = 0; i < LEN; i += 512)
			shared[i] = (unsigned char)v, priv[i] = (unsigned char)v;
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static int all(volatile unsigned char *p, int v)
{
	for (int i = 0; i < LEN; i += 512)
		if (p[i] != v)
			return 0;
	return 1;
}

int main(void)
{
	volatile unsigned char *shared = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
					      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile unsigned char *priv = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (shared == MAP_FAILED || priv == MAP_FAILED)
		return 2;
	printf("fresh shared memory is zero: %s\n", all(shared, 0) ? "yes" : "NO");
	child_writes(shared, priv, 7);
	printf("child's writes to shared memory seen: %s\n", all(shared, 7) ? "yes" : "NO");
	printf("child's writes to private memory seen: %s\n", all(priv, 7) ? "YES" : "no");
	/* The parent writes, a child reads and answers through the memory. */
	shared[0] = 42;
	pid_t pid = fork();
	if (pid == 0) {
		shared[1] = shared[0] == 42 ? 1 : 2;
		/* and a grandchild */
		child_writes(shared, priv, 9);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("parent's write seen by the child: %s\n", shared[1] == 1 ? "yes" : "NO");
	printf("grandchild's writes seen: %s\n", shared[512] == 9 ? "yes" : "NO");
	munmap((void *)shared, LEN);
	return 0;
}
