/*
 * memfault MODE: set up a mapping, show that it works, then make ONE access
 * that must fault.  The faulting access is the program's last action, so
 * the expected result is exit status 139 (SIGSEGV) with the output so far.
 */
#include "t.h"
#include <stdint.h>
#include <sys/mman.h>

#define PG 4096UL

static const char rodata[] = "read-only data";
static volatile unsigned char sink;

static unsigned char *map(size_t len, int prot)
{
	unsigned char *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("mmap failed: %s\n", errname(errno));
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "munmap")) {
		unsigned char *p = map(4 * PG, PROT_READ | PROT_WRITE);
		p[PG] = 42;
		SAY("wrote 42, read back %d\n", p[PG]);
		SAY("munmap: %s\n", errname(munmap(p, 4 * PG) ? errno : 0));
		sink = p[PG];
	} else if (!strcmp(m, "munmap-middle")) {
		unsigned char *p = map(4 * PG, PROT_READ | PROT_WRITE);
		memset(p, 1, 4 * PG);
		SAY("munmap of page 2 of 4: %s\n", errname(munmap(p + 2 * PG, PG) ? errno : 0));
		SAY("pages 1 and 3 still readable: %s\n", p[PG] == 1 && p[3 * PG] == 1 ? "yes" : "NO");
		sink = p[2 * PG + 100];
	} else if (!strcmp(m, "ro-write")) {
		unsigned char *p = map(PG, PROT_READ | PROT_WRITE);
		p[0] = 7;
		SAY("mprotect PROT_READ: %s\n", errname(mprotect(p, PG, PROT_READ) ? errno : 0));
		SAY("read after mprotect: %d\n", p[0]);
		p[0] = 8;
	} else if (!strcmp(m, "ro-mmap-write")) {
		unsigned char *p = map(PG, PROT_READ);
		SAY("read-only mapping reads %d\n", p[0]);
		p[0] = 8;
	} else if (!strcmp(m, "none-read")) {
		unsigned char *p = map(PG, PROT_READ | PROT_WRITE);
		p[0] = 7;
		SAY("mprotect PROT_NONE: %s\n", errname(mprotect(p, PG, PROT_NONE) ? errno : 0));
		sink = p[0];
	} else if (!strcmp(m, "none-write")) {
		unsigned char *p = map(PG, PROT_NONE);
		SAY("mapped one PROT_NONE page\n");
		p[10] = 1;
	} else if (!strcmp(m, "guard")) {
		/* A PROT_NONE guard page below a read-write region, like a thread stack. */
		unsigned char *g = map(5 * PG, PROT_NONE);
		unsigned char *p = g + PG;
		SAY("mprotect 4 pages above the guard read-write: %s\n",
		    errname(mprotect(p, 4 * PG, PROT_READ | PROT_WRITE) ? errno : 0));
		memset(p, 3, 4 * PG);
		SAY("region usable: %s\n", p[0] == 3 && p[4 * PG - 1] == 3 ? "yes" : "NO");
		sink = p[-1];
	} else if (!strcmp(m, "below-stack")) {
		/* 256 MiB below the stack pointer: beyond any stack growth limit. */
		volatile unsigned char *sp = (volatile unsigned char *)__builtin_frame_address(0);
		SAY("reading 256 MiB below the stack\n");
		sink = sp[-(256L << 20)];
	} else if (!strcmp(m, "nx-exec")) {
		/* Code in a mapping without PROT_EXEC must not run. */
		unsigned char *p = map(PG, PROT_READ | PROT_WRITE);
		p[0] = 0xc3;	/* ret */
		SAY("calling into a PROT_READ|PROT_WRITE page\n");
		((void (*)(void))p)();
		SAY("call returned\n");
	} else if (!strcmp(m, "nx-stack")) {
		unsigned char code[16] = { 0xc3 };
		SAY("calling into the stack\n");
		((void (*)(void))code)();
		SAY("call returned\n");
	} else if (!strcmp(m, "write-text")) {
		SAY("writing to main's code\n");
		*(volatile unsigned char *)(uintptr_t)main = 0xc3;
	} else if (!strcmp(m, "write-rodata")) {
		SAY("rodata says: %s\n", rodata);
		*(volatile char *)(uintptr_t)rodata = 'X';
	} else if (!strcmp(m, "null")) {
		SAY("reading a null pointer\n");
		sink = *(volatile unsigned char *)(uintptr_t)0;
	} else if (!strcmp(m, "noncanonical")) {
		/* A non-canonical address gives #GP rather than #PF; still SIGSEGV. */
		SAY("reading a non-canonical address\n");
		sink = *(volatile unsigned char *)0x0000900000000000UL;
		sink = *(volatile unsigned char *)0x8000000000000000UL;
	} else {
		printf("unknown mode '%s'\n", m);
		return 2;
	}
	printf("no fault\n");
	return 0;
}
