/*
 * The unit tests' one assertion: prints "ok" or "FAIL" and a description
 * per check, and check_summary() prints "N passed, N failed" and gives
 * the exit status.
 */
#ifndef DUNERUN_CHECK_H
#define DUNERUN_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int passed, failed;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static int check_summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

#endif
