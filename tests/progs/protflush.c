/*
 * protflush: a protection change must reach the TLB at once.  A page is
 * written (so a writable translation is cached), made read-only, and
 * written again: that write must fault, every time.  Also through
 * PROT_NONE and back, a page in the middle of a 2 MiB region, and after
 * munmap plus a fresh mmap at the same place (the new page reads zero).
 * Prints the counts; the same natively and under dunerun.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PG 4096

static volatile int faults;
static char *volatile page;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	faults++;
	mprotect(page, PG, PROT_READ | PROT_WRITE);
}

static int missed_write_faults(char *p, int rounds)
{
	int missed = 0;

	page = p;
	for (int i = 0; i < rounds; i++) {
		p[0] = (char)i;
		mprotect(p, PG, PROT_READ);
		int before = faults;
		p[0] = (char)(i + 1);
		missed += faults == before || p[0] != (char)(i + 1);
	}
	return missed;
}

static int missed_none_faults(char *p, int rounds)
{
	int missed = 0;

	page = p;
	for (int i = 0; i < rounds; i++) {
		(void)*(volatile char *)p;
		mprotect(p, PG, PROT_NONE);
		int before = faults;
		(void)*(volatile char *)p;
		missed += faults == before;
	}
	return missed;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);

	char *small = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *big = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(big, 1, 8 << 20);
	printf("small page, read-only: missed %d of 300\n", missed_write_faults(small, 300));
	printf("inside a 2 MiB page, read-only: missed %d of 300\n", missed_write_faults(big + (3 << 20) + 5 * PG, 300));
	printf("PROT_NONE: missed %d of 300\n", missed_none_faults(small + PG, 300));
	int stale = 0;
	for (int i = 0; i < 100; i++) {
		char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		p[0] = 7;
		munmap(p, PG);
		char *q = mmap(p, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		stale += q[0] != 0;
		munmap(q, PG);
	}
	printf("munmap then mmap: %d stale of 100\n", stale);
	printf("faults %d\n", faults);
	return 0;
}
