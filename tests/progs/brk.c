/* brk: query, grow, touch, shrink, regrow; the break must move exactly as asked. */
#include "t.h"
#include <stdint.h>

int main(void)
{
	uintptr_t b0 = SYS1(SYS_brk, 0);
	CHECK(b0 != 0, "brk(0) returns a nonzero break");
	CHECK(SYS1(SYS_brk, 0) == (long)b0, "brk(0) again returns the same break");

	/* Grow by 1 MiB and fill the new area. */
	uintptr_t want = b0 + (1 << 20);
	uintptr_t b1 = SYS1(SYS_brk, want);
	CHECK(b1 == want, "brk grew by 1048576");
	unsigned char *p = (unsigned char *)b0;
	for (size_t i = 0; i < (1 << 20); i++)
		p[i] = (unsigned char)(i * 7 + 3);
	int good = 1;
	for (size_t i = 0; i < (1 << 20); i++)
		good &= p[i] == (unsigned char)(i * 7 + 3);
	CHECK(good, "1 MiB pattern written and read back");

	/* An unaligned break is kept as given. */
	uintptr_t odd = b0 + 12345;
	CHECK(SYS1(SYS_brk, odd) == (long)odd, "brk to an unaligned address returns it exactly");
	CHECK(p[12000] == (unsigned char)(12000 * 7 + 3), "data below the shrunk break is kept");

	/* Shrink back to the start, then regrow: the area must come back zeroed. */
	CHECK(SYS1(SYS_brk, b0) == (long)b0, "brk shrank back to the initial break");
	CHECK(SYS1(SYS_brk, b0 + 65536) == (long)(b0 + 65536), "brk regrew by 65536");
	/* The page that held the old break may keep its bytes; pages wholly freed must be zero. */
	uintptr_t firstfree = (b0 + 4095) & ~(uintptr_t)4095;
	good = 1;
	for (uintptr_t a = firstfree; a < b0 + 65536; a++)
		good &= *(unsigned char *)a == 0;
	CHECK(good, "pages released by shrinking come back zero-filled");

	/* Growing by a large amount (64 MiB) and touching the last byte. */
	uintptr_t big = b0 + (64 << 20);
	CHECK(SYS1(SYS_brk, big) == (long)big, "brk grew by 64 MiB");
	((volatile unsigned char *)big)[-1] = 0x5a;
	CHECK(((volatile unsigned char *)big)[-1] == 0x5a, "last byte of the 64 MiB area is writable");

	/* Shrinking below the initial break is refused: the break stays where it was. */
	long r = SYS1(SYS_brk, b0 - (16 << 20));
	CHECK(r == (long)big, "brk below the start of the heap leaves the break unchanged");
	/* Absurd requests fail the same way. */
	r = SYS1(SYS_brk, 0x7ffffffff000);
	CHECK(r == (long)big, "brk to the top of user space leaves the break unchanged");
	CHECK(SYS1(SYS_brk, b0) == (long)b0, "brk back to the initial break");

	/* malloc still works after all this (musl uses brk and mmap). */
	char *m = malloc(100000);
	CHECK(m != NULL, "malloc(100000) after brk games");
	memset(m, 1, 100000);
	free(m);
	return t_done();
}
