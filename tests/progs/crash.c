/*
 * crash MODE: die the way a buggy program does.  Expected native statuses:
 * recurse 139 (stack overflow), divzero 136, intmin-div 136, abort 134.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile long zero = 0, minus1 = -1, lmin = LONG_MIN, never = -1;

/* Not a tail call: the array and its use after the call keep every frame alive. */
static long __attribute__((noinline)) recurse(long n)
{
	volatile char pad[256];
	if (n == never)
		return 0;
	pad[n & 255] = (char)n;
	return recurse(n + 1) + pad[(n * 7) & 255];
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	printf("crash mode %s\n", m);
	fflush(stdout);
	if (!strcmp(m, "recurse"))
		printf("%ld\n", recurse(0));
	else if (!strcmp(m, "divzero"))
		printf("%ld\n", 10 / zero);
	else if (!strcmp(m, "intmin-div"))
		printf("%ld\n", lmin / minus1);
	else if (!strcmp(m, "abort"))
		abort();
	else if (!strcmp(m, "raise-segv"))
		raise(SIGSEGV);
	else if (!strcmp(m, "raise-term"))
		raise(SIGTERM);
	else {
		printf("unknown mode\n");
		return 2;
	}
	printf("survived\n");
	return 0;
}
