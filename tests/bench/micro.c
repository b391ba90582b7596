/*
 * micro MODE [N]: one microbenchmark, run natively or under dunerun; prints
 * the mean nanoseconds per operation over N operations.
 *   getpid  the cheapest syscall round trip
 *   write   a forwarded syscall: a 1-byte write to /dev/null
 *   touch   first touch of 256 MiB of fresh anonymous memory (ns per 4 KiB page)
 *   mmap    mmap + touch + munmap of 4 KiB
 *   fork    fork, the child's _exit, and waitpid
 *   spawn   fork, execve of this program (which exits at once), waitpid
 *   pingpong  one byte there and back between two processes over two pipes
 *   pipe    64 KiB writes through a pipe to another process (ns per 64 KiB)
 *   futex   a futex ping-pong between two threads (ns per round trip)
 */
#include <fcntl.h>
#define FUTEX_WAIT_PRIVATE 128  /* linux/futex.h, which musl-gcc lacks */
#define FUTEX_WAKE_PRIVATE 129
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long pingpong(long n)
{
	int there[2], back[2];
	char c = 1;

	if (pipe(there) || pipe(back))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		while (read(there[0], &c, 1) == 1 && c)
			if (write(back[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	for (long i = 0; i < n; i++)
		if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
			return -1;
	c = 0;
	if (write(there[1], &c, 1) != 1)
		return -1;
	return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

static long pipe_bw(long n)
{
	static char buf[65536];
	int p[2];

	if (pipe(p))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		while (read(p[0], buf, sizeof buf) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	for (long i = 0; i < n; i++)
		if (write(p[1], buf, sizeof buf) != sizeof buf)
			return -1;
	close(p[1]);
	return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

/* Two threads take turns: each waits for the word to be its own value,
 * sets the other's and wakes it. */
static int turn;
static long rounds;

static void pass(int mine, int other)
{
	while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != mine)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, other, NULL, NULL, 0);
	__atomic_store_n(&turn, other, __ATOMIC_RELEASE);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *partner(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++)
		pass(1, 0);
	return NULL;
}

static long futex_pingpong(long n)
{
	pthread_t t;

	rounds = n;
	if (pthread_create(&t, NULL, partner, NULL))
		return -1;
	for (long i = 0; i < n; i++)
		pass(0, 1);
	return pthread_join(t, NULL) ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "getpid";
	long n = argc > 2 ? atol(argv[2]) : 100000;
	double t0, t1;

	if (!strcmp(mode, "exit"))
		return 0;
	if (!strcmp(mode, "spawn") || !strcmp(mode, "pingpong") || !strcmp(mode, "pipe") ||
	    !strcmp(mode, "futex")) {
		long r = 0;
		t0 = now_ns();
		if (!strcmp(mode, "pingpong"))
			r = pingpong(n);
		else if (!strcmp(mode, "pipe"))
			r = pipe_bw(n);
		else if (!strcmp(mode, "futex"))
			r = futex_pingpong(n);
		for (long i = 0; !strcmp(mode, "spawn") && i < n; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				execl("/proc/self/exe", argv[0], "exit", (char *)NULL);
				_exit(127);
			}
			int st;
			if (pid < 0 || waitpid(pid, &st, 0) != pid || st != 0)
				return 1;
		}
		t1 = now_ns();
		if (r < 0)
			return 1;
		printf("%.1f\n", (t1 - t0) / n);
		return 0;
	}

	if (!strcmp(mode, "loop")) {
		/* The dec/jnz loop the supervisor times for
		 * DUNERUN_SUPERVISOR_LOOP, here in ring 3. */
		long c = n;
		t0 = now_ns();
		__asm__ volatile("1: dec %0; jnz 1b" : "+r"(c));
		t1 = now_ns();
	} else if (!strcmp(mode, "getpid")) {
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid);
		t1 = now_ns();
	} else if (!strcmp(mode, "write")) {
		int fd = open("/dev/null", O_WRONLY);
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			if (write(fd, "x", 1) != 1)
				return 1;
		t1 = now_ns();
	} else if (!strcmp(mode, "touch")) {
		size_t len = 256UL << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		n = len / 4096;
		t0 = now_ns();
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
		t1 = now_ns();
	} else if (!strcmp(mode, "fork")) {
		t0 = now_ns();
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid)
				return 1;
		}
		t1 = now_ns();
	} else if (!strcmp(mode, "mmap")) {
		t0 = now_ns();
		for (long i = 0; i < n; i++) {
			char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				return 1;
			p[0] = 1;
			munmap(p, 4096);
		}
		t1 = now_ns();
	} else {
		fprintf(stderr, "micro: unknown mode %s\n", mode);
		return 2;
	}
	printf("%.1f\n", (t1 - t0) / n);
	return 0;
}
