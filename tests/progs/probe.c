/*
 * probe ADDR [r|w|x]: read from, write to, or jump to ADDR (hex).  Used on
 * addresses that must never be accessible to a user program: the kernel half
 * (where dunerun's supervisor lives), the direct map, and low addresses that
 * coincide with dunerun's guest-physical supervisor image.  Natively and under
 * dunerun the program must die with SIGSEGV (status 139).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: probe ADDR [r|w|x]\n");
		return 2;
	}
	volatile unsigned long *p = (volatile unsigned long *)strtoul(argv[1], NULL, 16);
	const char *mode = argc > 2 ? argv[2] : "r";
	printf("probing %s mode %s\n", argv[1], mode);
	fflush(stdout);
	if (!strcmp(mode, "r")) {
		unsigned long v = *p;
		printf("read succeeded (value is %s)\n", v ? "nonzero" : "zero");
	} else if (!strcmp(mode, "w")) {
		*p = 0x4141414141414141UL;
		printf("write succeeded\n");
	} else if (!strcmp(mode, "x")) {
		((void (*)(void))p)();
		printf("call returned\n");
	} else {
		printf("unknown mode\n");
		return 2;
	}
	return 0;
}
