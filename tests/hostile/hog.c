/*
 * hog: a program that takes more than its share, run inside an image by
 * tests/hostile-images.sh to check the limits.
 *
 *   hog mem MIB        allocate and touch MIB MiB, 1 MiB at a time
 *   hog spin           loop forever without a system call
 *   hog sleep          print "sleeping", then sleep forever, 0.1 s at a time
 *   hog output BYTES   write BYTES of text to stdout
 *   hog exit N         exit with status N
 *   hog crash          die of SIGSEGV
 */
#include <time.h>

#include "t.h"

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "mem") && argc == 3) {
		long mib = atol(argv[2]);
		for (long i = 1; i <= mib; i++) {
			char *p = malloc(1 << 20);
			if (!p) {
				printf("malloc failed after %ld MiB\n", i - 1);
				return 3;
			}
			memset(p, (int)i, 1 << 20);
			if (i % 64 == 0) {
				printf("touched %ld MiB\n", i);
				fflush(stdout);
			}
		}
		printf("ESCAPED: touched all %ld MiB\n", mib);
		return 0;
	}
	if (!strcmp(cmd, "spin")) {
		for (volatile unsigned long i = 0;; i++)
			;
	}
	if (!strcmp(cmd, "sleep")) {
		struct timespec ts = { 0, 100000000 };
		printf("sleeping\n");
		fflush(stdout);
		for (;;)
			nanosleep(&ts, NULL);
	}
	if (!strcmp(cmd, "output") && argc == 3) {
		static char chunk[65536];
		long long left = atoll(argv[2]);
		for (size_t i = 0; i < sizeof chunk; i++)
			chunk[i] = i % 64 == 63 ? '\n' : 'a' + i % 26;
		while (left > 0) {
			ssize_t n = write(1, chunk, left < (long long)sizeof chunk ? (size_t)left : sizeof chunk);
			if (n < 0) {
				fprintf(stderr, "hog: write: %s\n", errname(errno));
				return 1;
			}
			left -= n;
		}
		return 0;
	}
	if (!strcmp(cmd, "exit") && argc == 3)
		return atoi(argv[2]);
	if (!strcmp(cmd, "crash")) {
		int *volatile null = NULL;
		return *null;
	}
	fprintf(stderr, "usage: hog mem MIB | spin | sleep | output BYTES | exit N | crash\n");
	return 2;
}
