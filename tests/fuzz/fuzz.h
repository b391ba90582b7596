/*
 * What the fuzz harnesses share: CHECK aborts (which libFuzzer reports as
 * a crash) on a broken promise, and check_err holds every refusal to the
 * project's rule for messages: one printable line, starting lower-case.
 */
#ifndef DUNERUN_FUZZ_H
#define DUNERUN_FUZZ_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

static inline void check_err(const char *err, size_t errlen)
{
	size_t n = strnlen(err, errlen), i;

	CHECK(n > 0 && n < errlen);
	CHECK(islower((unsigned char)err[0]));
	for (i = 0; i < n; i++)
		CHECK(err[i] >= 0x20 && err[i] < 0x7f);
}

#endif
