/*
 * micro MODE [N]: one microbenchmark, run natively or under dunerun; prints
 * the mean nanoseconds per operation over N operations.
 *   getpid  the cheapest syscall round trip
 *   write   a forwarded syscall: a 1-byte write to /dev/null
 *   touch   first touch of 256 MiB of fresh anonymous memory (ns per 4 KiB page)
 *   mmap    mmap + touch + munmap of 4 KiB
 *   fork    fork, the child's _exit, and waitpid
 */
#include <fcntl.h>
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

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "getpid";
	long n = argc > 2 ? atol(argv[2]) : 100000;
	double t0, t1;

	if (!strcmp(mode, "getpid")) {
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
