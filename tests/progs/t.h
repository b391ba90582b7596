/*
 * Helpers shared by the test programs in tests/progs/.
 *
 * Every program prints only deterministic facts, so that its output under
 * dunerun can be compared byte for byte with a native run.  Failed checks
 * are printed (never silently skipped) and make the program exit 1.
 */
#ifndef T_H
#define T_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static int t_failures;

/* Raw syscall returning -errno on failure, like the kernel's ABI. */
static inline long t_sys(long nr, long a, long b, long c, long d, long e, long f)
{
	long r = syscall(nr, a, b, c, d, e, f);
	return r == -1 ? -errno : r;
}
#define SYS0(n) t_sys(n, 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) t_sys(n, (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) t_sys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) t_sys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) t_sys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SYS5(n, a, b, c, d, e) t_sys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define SYS6(n, a, b, c, d, e, f) t_sys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

__attribute__((unused)) static const char *errname(int e)
{
	static char buf[32];
	switch (e < 0 ? -e : e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EMLINK: return "EMLINK";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ENOTSOCK: return "ENOTSOCK";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ETIMEDOUT: return "ETIMEDOUT";
	}
	snprintf(buf, sizeof buf, "errno%d", e < 0 ? -e : e);
	return buf;
}

/* CHECK(cond, fmt...): print "fmt: yes" or "fmt: NO" and count failures. */
#define CHECK(cond, ...) do { \
	int t_ok_ = !!(cond); \
	printf(__VA_ARGS__); \
	printf(": %s\n", t_ok_ ? "yes" : "NO"); \
	if (!t_ok_) t_failures++; \
} while (0)

/* EXPECT_ERR(expr, ERR): expr is a -errno style result; print its name. */
#define EXPECT_ERR(expr, err, what) do { \
	long t_r_ = (expr); \
	printf("%s -> %s", what, t_r_ < 0 ? errname((int)t_r_) : "success"); \
	if (t_r_ != -(long)(err)) { printf(" (expected %s) NO\n", errname(err)); t_failures++; } \
	else printf("\n"); \
} while (0)

/* OK(expr, what): expr is a -errno style result and must be >= 0. */
#define OK(expr, what) ({ \
	long t_r_ = (expr); \
	if (t_r_ < 0) { printf("%s failed: %s NO\n", what, errname((int)t_r_)); t_failures++; } \
	t_r_; \
})

/* Print, flush stdout and stderr: used before an action that may kill us. */
#define SAY(...) do { printf(__VA_ARGS__); fflush(stdout); } while (0)

__attribute__((unused)) static int t_done(void)
{
	printf("%s\n", t_failures ? "SOME CHECKS FAILED" : "all checks passed");
	return t_failures ? 1 : 0;
}

#endif
