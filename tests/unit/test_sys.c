/*
 * test_sys: unit tests for sys/, the program's system calls.
 *
 *	musl-gcc -static -Wall -Wextra -I include -I sys -I mm \
 *	    sys/[a-z]*.c tests/unit/fake_mm.c tests/unit/test_sys.c -o test_sys
 *
 * (sys/[a-z]*.c stands for every C file in sys/.)
 *
 * Calls go through sys_call() exactly as the launcher makes them, with
 * "guest memory" provided by fake_mm.c: [FAKE_BASE, FAKE_BASE + 16 MiB),
 * the last 64 KiB of it read-only, everything else unmapped.  Files live
 * in a fresh directory under $TMPDIR (or /tmp), removed at the end.
 *
 * Prints one line per check and ends with "N passed, N failed".
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "policy.h"
#include "sys.h"
#undef PAGE_SIZE
#include "mm.h"

/* The fake's layout (fake_mm.c). */
#define FAKE_BASE 0x10000ULL
#define FAKE_SIZE (16ULL << 20)
#define FAKE_RO   (64ULL << 10)
#define G_END     (FAKE_BASE + FAKE_SIZE)
#define G_RO      (G_END - FAKE_RO)
#define G_BAD     0xdead0000ULL   /* not guest memory */
/* Scratch for strings and structs; big buffers use fixed addresses below. */
#define G_SCRATCH (FAKE_BASE + (12ULL << 20))
#define G_BIG     (FAKE_BASE + (4ULL << 20))

static struct proc P;
static struct mm *M;
static uint64_t scratch = G_SCRATCH;
static char dir[256];           /* the test directory */


/* Checks that expr (a long) equals want, and shows both. */
#define EQ(expr, want) do {						\
	long r_ = (long)(expr), w_ = (long)(want);			\
	check(r_ == w_, "%s = %ld (want %ld)", #expr, r_, w_);		\
} while (0)

static long call6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		  uint64_t a3, uint64_t a4, uint64_t a5)
{
	uint64_t a[6] = { a0, a1, a2, a3, a4, a5 };

	return sys_call(&P, nr, a);
}

/* SC(nr, args...): a system call with up to six arguments.  Negative ints
 * are sign-extended, as the registers would hold them. */
#define SC(...) SC_(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)
#define SC_(nr, a, b, c, d, e, f, ...)					\
	call6(nr, (uint64_t)(a), (uint64_t)(b), (uint64_t)(c),		\
	      (uint64_t)(d), (uint64_t)(e), (uint64_t)(f))

/* The host address of guest address gva. */
static void *H(uint64_t gva)
{
	return (char *)mm_host_base(M) + (gva - FAKE_BASE);
}

/* n bytes of scratch guest memory, 16-aligned and zeroed. */
static uint64_t galloc(size_t n)
{
	uint64_t g;

	if (scratch + n + 16 > G_RO)
		scratch = G_SCRATCH;
	g = scratch;
	scratch = (scratch + n + 15) & ~15ULL;
	memset(H(g), 0, n);
	return g;
}

/* A copy of s in guest memory. */
static uint64_t gstr(const char *s)
{
	uint64_t g = galloc(strlen(s) + 1);

	strcpy(H(g), s);
	return g;
}

/* A path under the test directory, in guest memory. */
static uint64_t gpath(const char *name)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return gstr(buf);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(path);
}

/* ---- Files ------------------------------------------------------------ */

static void test_files(void)
{
	uint64_t buf = galloc(64), out = galloc(64), st = galloc(sizeof(struct stat));
	struct stat hs;
	int fd;

	fd = (int)SC(SYS_openat, AT_FDCWD, gpath("f1"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	EQ(fd, 3);
	strcpy(H(buf), "hello world");
	EQ(SC(SYS_write, fd, buf, 11), 11);
	EQ(SC(SYS_lseek, fd, 0, SEEK_CUR), 11);
	EQ(SC(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ(SC(SYS_read, fd, out, 64), 11);
	check(memcmp(H(out), "hello world", 11) == 0, "read back what was written");
	EQ(SC(SYS_read, fd, out, 64), 0);
	EQ(SC(SYS_pread64, fd, out, 5, 6), 5);
	check(memcmp(H(out), "world", 5) == 0, "pread64 at offset 6");
	EQ(SC(SYS_pwrite64, fd, buf, 5, 100), 5);
	EQ(SC(SYS_pread64, fd, out, 5, -1), -EINVAL);
	EQ(SC(SYS_fstat, fd, st), 0);
	check(((struct stat *)H(st))->st_size == 105, "fstat size 105");
	EQ(SC(SYS_stat, gpath("f1"), st), 0);
	check(((struct stat *)H(st))->st_size == 105, "stat size 105");
	stat(dir, &hs);
	EQ(SC(SYS_newfstatat, AT_FDCWD, gstr(dir), st, 0), 0);
	check(((struct stat *)H(st))->st_ino == hs.st_ino, "newfstatat inode of the test directory");
	EQ(SC(SYS_newfstatat, fd, gstr(""), st, AT_EMPTY_PATH), 0);
	check(((struct stat *)H(st))->st_size == 105, "newfstatat AT_EMPTY_PATH on the descriptor");
	EQ(SC(SYS_newfstatat, fd, 0, st, AT_EMPTY_PATH), 0);
	EQ(SC(SYS_newfstatat, fd, gstr(""), st, 0), -ENOENT);
	{
		uint64_t sx = galloc(256);
		EQ(SC(SYS_statx, AT_FDCWD, gpath("f1"), 0, 0x7ff, sx), 0);
		/* stx_size is at offset 40 of struct statx. */
		check(*(uint64_t *)((char *)H(sx) + 40) == 105, "statx size 105");
	}
	EQ(SC(SYS_ftruncate, fd, 50), 0);
	EQ(SC(SYS_fstat, fd, st), 0);
	check(((struct stat *)H(st))->st_size == 50, "ftruncate to 50");
	EQ(SC(SYS_fsync, fd), 0);
	EQ(SC(SYS_fdatasync, fd), 0);
	EQ(SC(SYS_close, fd), 0);
	EQ(SC(SYS_close, fd), -EBADF);

	/* open, creat and access relative to the working directory. */
	EQ(SC(SYS_access, gpath("f1"), R_OK | W_OK), 0);
	EQ(SC(SYS_access, gpath("nope"), F_OK), -ENOENT);
	EQ(SC(SYS_faccessat2, AT_FDCWD, gpath("f1"), R_OK, AT_EACCESS), 0);
	fd = (int)SC(SYS_creat, gpath("f2"), 0644);
	EQ(fd, 3);
	EQ(SC(SYS_close, fd), 0);
	fd = (int)SC(SYS_open, gpath("f2"), O_RDONLY);
	EQ(SC(SYS_write, fd, buf, 1), -EBADF);
	EQ(SC(SYS_close, fd), 0);
	EQ(SC(SYS_open, gpath("nope"), O_RDONLY), -ENOENT);
	EQ(SC(SYS_open, gpath("f1"), O_RDONLY | O_DIRECTORY), -ENOTDIR);
}

static void test_paths(void)
{
	uint64_t buf = galloc(PATH_MAX), st = galloc(sizeof(struct stat));
	char host[PATH_MAX];
	int fd, dfd;

	EQ(SC(SYS_mkdir, gpath("sub"), 0755), 0);
	EQ(SC(SYS_mkdir, gpath("sub"), 0755), -EEXIST);
	EQ(SC(SYS_chdir, gpath("sub")), 0);
	EQ(SC(SYS_getcwd, buf, PATH_MAX), (long)strlen(dir) + 5);
	snprintf(host, sizeof host, "%s/sub", dir);
	check(strcmp(H(buf), host) == 0, "getcwd is %s", (char *)H(buf));
	EQ(SC(SYS_getcwd, buf, 3), -ERANGE);
	EQ(SC(SYS_getcwd, G_BAD, PATH_MAX), -EFAULT);
	/* Relative paths resolve against the program's directory. */
	fd = (int)SC(SYS_open, gstr("rel"), O_CREAT | O_WRONLY, 0600);
	EQ(fd, 3);
	EQ(SC(SYS_close, fd), 0);
	snprintf(host, sizeof host, "%s/sub/rel", dir);
	check(access(host, F_OK) == 0, "relative open created sub/rel");
	EQ(SC(SYS_truncate, gstr("rel"), 7), 0);
	{
		struct stat hs;
		check(stat(host, &hs) == 0 && hs.st_size == 7, "truncate of a relative path");
	}
	EQ(SC(SYS_chdir, gstr("..")), 0);
	EQ(SC(SYS_chdir, gpath("f1")), -ENOTDIR);
	EQ(SC(SYS_chdir, gpath("nope")), -ENOENT);
	/* A guest directory descriptor for the *at calls, and fchdir. */
	dfd = (int)SC(SYS_openat, AT_FDCWD, gpath("sub"), O_RDONLY | O_DIRECTORY);
	EQ(dfd, 3);
	EQ(SC(SYS_faccessat, dfd, gstr("rel"), F_OK), 0);
	EQ(SC(SYS_faccessat, 99, gstr("rel"), F_OK), -EBADF);
	EQ(SC(SYS_faccessat, 99, gpath("f1"), F_OK), 0);   /* absolute: dirfd ignored */
	EQ(SC(SYS_renameat, dfd, gstr("rel"), dfd, gstr("rel2")), 0);
	EQ(SC(SYS_renameat2, dfd, gstr("rel2"), AT_FDCWD, gpath("moved"), 0), 0);
	EQ(SC(SYS_rename, gpath("moved"), gpath("moved2")), 0);
	EQ(SC(SYS_link, gpath("moved2"), gpath("hard")), 0);
	EQ(SC(SYS_unlink, gpath("moved2")), 0);
	EQ(SC(SYS_symlink, gstr("hard"), gpath("sym")), 0);
	EQ(SC(SYS_readlink, gpath("sym"), buf, 100), 4);
	check(memcmp(H(buf), "hard", 4) == 0, "readlink gives the stored target");
	EQ(SC(SYS_lstat, gpath("sym"), st), 0);
	check(S_ISLNK(((struct stat *)H(st))->st_mode), "lstat sees a symlink");
	EQ(SC(SYS_stat, gpath("sym"), st), 0);
	check(S_ISREG(((struct stat *)H(st))->st_mode), "stat follows it");
	EQ(SC(SYS_readlink, gpath("sym"), buf, 0), -EINVAL);
	EQ(SC(SYS_readlink, gpath("hard"), buf, 10), -EINVAL);
	EQ(SC(SYS_chmod, gpath("hard"), 0640), 0);
	EQ(SC(SYS_stat, gpath("hard"), st), 0);
	check((((struct stat *)H(st))->st_mode & 0777) == 0640, "chmod 0640");
	EQ(SC(SYS_fchmodat, AT_FDCWD, gpath("hard"), 0600), 0);
	EQ(SC(SYS_utimensat, AT_FDCWD, gpath("hard"), 0, 0), 0);
	EQ(SC(SYS_fchdir, dfd), 0);
	EQ(SC(SYS_getcwd, buf, PATH_MAX), (long)strlen(dir) + 5);
	EQ(SC(SYS_fchdir, 99), -EBADF);
	EQ(SC(SYS_chdir, gstr(dir)), 0);
	EQ(SC(SYS_mkdirat, dfd, gstr("d2"), 0700), 0);
	EQ(SC(SYS_unlinkat, dfd, gstr("d2"), AT_REMOVEDIR), 0);
	EQ(SC(SYS_mkdir, gpath("d3"), 0700), 0);
	EQ(SC(SYS_rmdir, gpath("d3")), 0);
	EQ(SC(SYS_rmdir, gstr(dir)), -ENOTEMPTY);
	EQ(SC(SYS_rmdir, gpath("sub")), 0);
	EQ(SC(SYS_close, dfd), 0);
	/* Bad and oversized path arguments. */
	EQ(SC(SYS_open, G_BAD, O_RDONLY), -EFAULT);
	EQ(SC(SYS_open, 0, O_RDONLY), -EFAULT);
	EQ(SC(SYS_stat, gpath("hard"), G_BAD), -EFAULT);
	EQ(SC(SYS_stat, gpath("hard"), G_RO), -EFAULT);
	EQ(SC(SYS_open, gstr(""), O_RDONLY), -ENOENT);
	{
		uint64_t g = galloc(PATH_MAX + 10);
		memset(H(g), 'a', PATH_MAX + 5);
		EQ(SC(SYS_open, g, O_RDONLY), -ENAMETOOLONG);
		/* A string running off the end of guest memory. */
		memset(H(G_END - 8), 'b', 8);
		EQ(SC(SYS_stat, G_END - 8, st), -EFAULT);
	}
	EQ(SC(SYS_statfs, gstr(dir), galloc(120)), 0);
}

/* ---- The descriptor table --------------------------------------------- */

static void test_fds(void)
{
	uint64_t st = galloc(sizeof(struct stat)), buf = galloc(16);
	int i, fd, h2;

	for (i = 0; i < 3; i++)
		check(P.fd[i].host >= 64, "guest fd %d is host fd %d, not the launcher's", i,
		      P.fd[i].host);
	/* The launcher's own descriptor numbers mean nothing to the program. */
	EQ(SC(SYS_fstat, P.cwd, st), -EBADF);
	EQ(SC(SYS_fstat, -1, st), -EBADF);
	EQ(SC(SYS_fstat, PROC_MAX_FDS, st), -EBADF);
	EQ(SC(SYS_fstat, 1 << 30, st), -EBADF);
	EQ(SC(SYS_read, 500, buf, 1), -EBADF);
	/* An int argument: only the low 32 bits count. */
	EQ(SC(SYS_fstat, (1ULL << 32) | 1, st), 0);

	/* Closing guest fd 2 leaves the launcher's stderr alone. */
	h2 = P.fd[2].host;
	EQ(SC(SYS_close, 2), 0);
	check(fcntl(2, F_GETFD) >= 0, "host fd 2 still open after the program closed its 2");
	check(fcntl(h2, F_GETFD) < 0, "the private duplicate was closed");
	EQ(SC(SYS_write, 2, buf, 1), -EBADF);
	/* Lowest free: the next descriptor is 2 again. */
	fd = (int)SC(SYS_open, gstr("/dev/null"), O_WRONLY);
	EQ(fd, 2);
	EQ(SC(SYS_write, 2, buf, 1), 1);
	check(P.fd[2].host != 2, "guest 2 is not host 2");
	EQ(SC(SYS_dup2, 1, 2), 2);      /* back to stdout's file */

	/* dup, dup2, dup3. */
	fd = (int)SC(SYS_open, gstr("/dev/null"), O_RDONLY | O_CLOEXEC);
	EQ(fd, 3);
	EQ(SC(SYS_fcntl, 3, F_GETFD), FD_CLOEXEC);
	EQ(SC(SYS_dup, 3), 4);
	EQ(SC(SYS_fcntl, 4, F_GETFD), 0);
	EQ(SC(SYS_dup2, 3, 10), 10);
	EQ(SC(SYS_fcntl, 10, F_GETFD), 0);
	EQ(SC(SYS_dup2, 3, 3), 3);
	EQ(SC(SYS_dup2, 99, 5), -EBADF);
	EQ(SC(SYS_dup2, 99, 99), -EBADF);
	EQ(SC(SYS_dup2, 3, PROC_MAX_FDS), -EBADF);
	EQ(SC(SYS_dup2, 3, -1), -EBADF);
	EQ(SC(SYS_dup3, 3, 3, 0), -EINVAL);
	EQ(SC(SYS_dup3, 3, 11, O_CLOEXEC), 11);
	EQ(SC(SYS_fcntl, 11, F_GETFD), FD_CLOEXEC);
	EQ(SC(SYS_dup3, 3, 12, O_NONBLOCK), -EINVAL);
	{
		/* dup2 onto an open descriptor replaces (and closes) it. */
		int old = P.fd[10].host;
		EQ(SC(SYS_dup2, 1, 10), 10);
		check(fcntl(old, F_GETFD) < 0, "dup2 closed the old host descriptor of 10");
	}
	EQ(SC(SYS_dup, 99), -EBADF);
	EQ(SC(SYS_dup, 3), 5);          /* lowest free */

	/* fcntl. */
	EQ(SC(SYS_fcntl, 3, F_DUPFD, 20), 20);
	EQ(SC(SYS_fcntl, 3, F_DUPFD, 20), 21);
	EQ(SC(SYS_fcntl, 3, F_DUPFD_CLOEXEC, 0), 6);
	EQ(SC(SYS_fcntl, 6, F_GETFD), FD_CLOEXEC);
	EQ(SC(SYS_fcntl, 6, F_SETFD, 0), 0);
	EQ(SC(SYS_fcntl, 6, F_GETFD), 0);
	EQ(SC(SYS_fcntl, 3, F_DUPFD, PROC_MAX_FDS), -EINVAL);
	EQ(SC(SYS_fcntl, 3, F_DUPFD, -1), -EINVAL);
	EQ(SC(SYS_fcntl, 3, F_GETFL) & O_ACCMODE, O_RDONLY);
	EQ(SC(SYS_fcntl, 3, F_SETFL, O_NONBLOCK), 0);
	EQ(SC(SYS_fcntl, 3, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	EQ(SC(SYS_fcntl, 3, F_SETOWN, 1), -EINVAL);
	EQ(SC(SYS_fcntl, 3, 9999), -EINVAL);
	EQ(SC(SYS_fcntl, 99, F_GETFD), -EBADF);
	EQ(SC(SYS_ioctl, 3, FIOCLEX), 0);
	EQ(SC(SYS_fcntl, 3, F_GETFD), FD_CLOEXEC);
	EQ(SC(SYS_ioctl, 3, FIONCLEX), 0);
	EQ(SC(SYS_fcntl, 3, F_GETFD), 0);
	{
		int lf = (int)SC(SYS_open, gpath("lockme"), O_CREAT | O_RDWR, 0600);
		uint64_t fl = galloc(sizeof(struct flock));
		struct flock *f = H(fl);
		f->l_type = F_WRLCK;
		f->l_whence = SEEK_SET;
		EQ(SC(SYS_fcntl, lf, F_SETLK, fl), 0);
		f->l_type = F_WRLCK;
		EQ(SC(SYS_fcntl, lf, F_OFD_GETLK, fl), 0);
		EQ(SC(SYS_fcntl, lf, F_SETLK, G_BAD), -EFAULT);
		EQ(SC(SYS_close, lf), 0);
	}

	/* close_range. */
	EQ(SC(SYS_close_range, 20, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */), 0);
	EQ(SC(SYS_fcntl, 21, F_GETFD), FD_CLOEXEC);
	EQ(SC(SYS_close_range, 4, ~0U, 0), 0);
	EQ(SC(SYS_fcntl, 21, F_GETFD), -EBADF);
	EQ(SC(SYS_fcntl, 4, F_GETFD), -EBADF);
	EQ(SC(SYS_close_range, 5, 4, 0), -EINVAL);
	EQ(SC(SYS_dup, 0), 4);
	EQ(SC(SYS_close, 4), 0);
	EQ(SC(SYS_close, 3), 0);

	/* RLIMIT_NOFILE bounds the table. */
	{
		uint64_t rl = galloc(16);
		uint64_t *v = H(rl);
		EQ(SC(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, rl), 0);
		check(v[0] <= PROC_MAX_FDS && v[1] <= PROC_MAX_FDS, "NOFILE %llu/%llu within the table",
		      (unsigned long long)v[0], (unsigned long long)v[1]);
		uint64_t hard = v[1];
		v[0] = 4;
		EQ(SC(SYS_setrlimit, RLIMIT_NOFILE, rl), 0);
		EQ(SC(SYS_dup, 0), 3);
		EQ(SC(SYS_dup, 0), -EMFILE);
		EQ(SC(SYS_dup2, 0, 5), -EBADF);
		EQ(SC(SYS_close, 3), 0);
		v[0] = v[1] = hard + 1;
		EQ(SC(SYS_setrlimit, RLIMIT_NOFILE, rl), -EPERM);
		v[0] = 8; v[1] = 4;
		EQ(SC(SYS_setrlimit, RLIMIT_NOFILE, rl), -EINVAL);
		v[0] = hard; v[1] = hard;
		EQ(SC(SYS_setrlimit, RLIMIT_NOFILE, rl), 0);
		EQ(SC(SYS_getrlimit, RLIMIT_NOFILE, rl), 0);
		check(v[0] == hard, "getrlimit reads back what was set");
		EQ(SC(SYS_getrlimit, 16, rl), -EINVAL);
		EQ(SC(SYS_getrlimit, RLIMIT_NOFILE, 0), -EFAULT);
		EQ(SC(SYS_prlimit64, 1, RLIMIT_NOFILE, 0, rl), -ESRCH);
		EQ(SC(SYS_prlimit64, P.pid, RLIMIT_STACK, 0, rl), 0);
	}
	/* Filling the table: EMFILE, never beyond PROC_MAX_FDS. */
	{
		int n = 0;
		while (SC(SYS_dup, 0) >= 0)
			n++;
		EQ(SC(SYS_dup, 0), -EMFILE);
		check(n + 3 == (int)P.rlim[RLIMIT_NOFILE][0], "filled the table with %d more", n);
		EQ(SC(SYS_close_range, 3, ~0U, 0), 0);
	}
}

static void test_pipe_poll(void)
{
	uint64_t fds = galloc(8), pfd = galloc(5 * sizeof(struct pollfd)), buf = galloc(64);
	uint64_t ts = galloc(16), sets = galloc(3 * 128), tv = galloc(16);
	struct pollfd *pf = H(pfd);
	int *f = H(fds), rd, wr;

	EQ(SC(SYS_pipe2, fds, O_CLOEXEC), 0);
	rd = f[0];
	wr = f[1];
	check(rd == 3 && wr == 4, "pipe2 gave %d and %d", rd, wr);
	EQ(SC(SYS_fcntl, rd, F_GETFD), FD_CLOEXEC);
	EQ(SC(SYS_pipe2, fds, O_RDWR), -EINVAL);
	EQ(SC(SYS_pipe2, G_RO, 0), -EFAULT);
	EQ(SC(SYS_dup, 0), 5);           /* the failed pipe2 left nothing behind */
	EQ(SC(SYS_close, 5), 0);

	pf[0] = (struct pollfd){ rd, POLLIN, 0 };
	pf[1] = (struct pollfd){ wr, POLLOUT, 0 };
	pf[2] = (struct pollfd){ -1, POLLIN, 77 };
	pf[3] = (struct pollfd){ 77, POLLIN, 0 };
	EQ(SC(SYS_poll, pfd, 3, 0), 1);
	check(pf[0].revents == 0 && pf[1].revents == POLLOUT && pf[2].revents == 0,
	      "empty pipe: writable only (%#x %#x %#x)", pf[0].revents, pf[1].revents,
	      pf[2].revents);
	check(pf[0].fd == rd && pf[1].fd == wr, "poll leaves guest fds in place");
	strcpy(H(buf), "ping");
	EQ(SC(SYS_write, wr, buf, 4), 4);
	EQ(SC(SYS_poll, pfd, 4, 1000), 3);
	check(pf[0].revents == POLLIN && pf[3].revents == POLLNVAL,
	      "readable, and a closed fd is POLLNVAL (%#x %#x)", pf[0].revents, pf[3].revents);
	EQ(SC(SYS_poll, G_BAD, 1, 0), -EFAULT);
	EQ(SC(SYS_poll, pfd, 100000, 0), -EINVAL);
	*(struct timespec *)H(ts) = (struct timespec){ 0, 1000000 };
	EQ(SC(SYS_ppoll, pfd, 1, ts, 0, 8), 1);
	EQ(SC(SYS_ppoll, pfd, 1, ts, galloc(8), 4), -EINVAL);
	*(struct timespec *)H(ts) = (struct timespec){ 0, 2000000000L };
	EQ(SC(SYS_ppoll, pfd, 1, ts, 0, 8), -EINVAL);

	/* select: the read set and the write set. */
	{
		uint64_t *r = H(sets), *w = (uint64_t *)H(sets) + 16;
		memset(H(sets), 0, 3 * 128);
		r[0] = 1ULL << rd;
		w[0] = 1ULL << wr;
		*(int64_t *)H(tv) = 1;
		*((int64_t *)H(tv) + 1) = 0;
		EQ(SC(SYS_select, wr + 1, sets, sets + 128, 0, tv), 2);
		check(r[0] == 1ULL << rd && w[0] == 1ULL << wr, "select marks both");
		r[0] = 1ULL << 9;
		EQ(SC(SYS_select, 10, sets, 0, 0, tv), -EBADF);
		r[0] = 0;
		*(int64_t *)H(tv) = 0;
		*((int64_t *)H(tv) + 1) = 1000;
		EQ(SC(SYS_select, 10, sets, 0, 0, tv), 0);
		EQ(SC(SYS_select, -1, 0, 0, 0, tv), -EINVAL);
		r[0] = 1ULL << rd;
		*(struct timespec *)H(ts) = (struct timespec){ 0, 0 };
		EQ(SC(SYS_pselect6, rd + 1, sets, 0, 0, ts, 0), 1);
	}

	EQ(SC(SYS_ioctl, rd, FIONREAD, buf + 8), 0);
	EQ(*(int *)H(buf + 8), 4);
	EQ(SC(SYS_read, rd, buf + 16, 64), 4);
	check(memcmp(H(buf + 16), "ping", 4) == 0, "read the ping back");
	EQ(SC(SYS_ioctl, rd, TIOCGWINSZ, buf), -ENOTTY);
	EQ(SC(SYS_ioctl, rd, TCGETS, buf), -ENOTTY);
	EQ(SC(SYS_ioctl, rd, 0x1234, buf), -ENOTTY);
	EQ(SC(SYS_ioctl, 99, TCGETS, buf), -EBADF);
	/* A read from an empty pipe after the writer closed: EOF, not a hang. */
	EQ(SC(SYS_close, wr), 0);
	EQ(SC(SYS_read, rd, G_BIG, 1 << 20), 0);
	EQ(SC(SYS_close, rd), 0);
	EQ(SC(SYS_pipe, fds), 0);
	EQ(SC(SYS_fcntl, f[0], F_GETFD), 0);
	EQ(SC(SYS_close, f[0]), 0);
	EQ(SC(SYS_close, f[1]), 0);
}

/* ---- Big and bad buffers ---------------------------------------------- */

static void test_buffers(void)
{
	uint64_t big = G_BIG, iov = galloc(4 * 16);
	unsigned char *hb = H(big);
	uint64_t *v = H(iov);
	size_t n = 1 << 20, i;
	int fd, nul, zero;
	long r;

	for (i = 0; i < n; i++)
		hb[i] = (unsigned char)(i * 7 + i / 4096);
	fd = (int)SC(SYS_open, gpath("big"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	/* 1 MiB is 256 pages: several rounds of 64 host iovecs. */
	EQ(SC(SYS_write, fd, big + 1, n - 1), (long)n - 1);
	memset(hb, 0, n);
	EQ(SC(SYS_pread64, fd, big + 3, n, 0), (long)n - 1);
	for (i = 0; i < n - 1 && hb[i + 3] == (unsigned char)((i + 1) * 7 + (i + 1) / 4096); i++)
		;
	check(i == n - 1, "1 MiB read back intact across page rounds");
	/* A huge count reads what there is and allocates nothing. */
	EQ(SC(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ(SC(SYS_read, fd, big, 1ULL << 62), (long)n - 1);
	EQ(SC(SYS_read, fd, big, ~0ULL), 0);
	EQ(SC(SYS_pread64, fd, big, 1ULL << 62, 100), (long)n - 101);

	/* readv/writev across several buffers. */
	v[0] = big; v[1] = 10;
	v[2] = big + 8192; v[3] = 0;
	v[4] = big + 100000; v[5] = 300000;
	v[6] = G_RO; v[7] = 5;          /* read-only: can be written out, not read into */
	EQ(SC(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ(SC(SYS_writev, fd, iov, 4), 300015);
	EQ(SC(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ(SC(SYS_readv, fd, iov, 3), 300010);
	/* The last buffer is read-only: readv stops short there. */
	EQ(SC(SYS_readv, fd, iov, 4), 300010);
	EQ(SC(SYS_preadv, fd, iov, 3, 0, 0), 300010);
	EQ(SC(SYS_pwritev, fd, iov, 1, 5, 0), 10);
	EQ(SC(SYS_preadv2, fd, iov, 1, -1, 0, 0), 10);
	EQ(SC(SYS_pwritev2, fd, iov, 1, 0, 0, 0), 10);
	EQ(SC(SYS_readv, fd, iov, -1), -EINVAL);
	EQ(SC(SYS_readv, fd, iov, 1025), -EINVAL);
	EQ(SC(SYS_readv, fd, G_BAD, 1), -EFAULT);
	EQ(SC(SYS_readv, fd, iov, 0), 0);
	v[1] = 1ULL << 63;
	EQ(SC(SYS_readv, fd, iov, 1), -EINVAL);
	v[1] = 10;

	/* Faults. */
	EQ(SC(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ(SC(SYS_read, fd, G_BAD, 10), -EFAULT);
	EQ(SC(SYS_read, fd, G_RO, 10), -EFAULT);       /* read-only memory */
	EQ(SC(SYS_write, fd, G_BAD, 10), -EFAULT);
	EQ(SC(SYS_write, fd, G_RO, 10), 10);           /* but it can be written out */
	EQ(SC(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ(SC(SYS_read, fd, G_RO - 100, 1000), 100);   /* short where it turns bad */
	EQ(SC(SYS_read, fd, big, 0), 0);
	EQ(SC(SYS_read, fd, G_BAD, 0), 0);
	EQ(SC(SYS_close, fd), 0);

	nul = (int)SC(SYS_open, gstr("/dev/null"), O_WRONLY);
	EQ(SC(SYS_write, nul, FAKE_BASE, 1ULL << 62), (long)FAKE_SIZE);
	EQ(SC(SYS_write, nul, G_END - 10, 100), 10);
	EQ(SC(SYS_read, nul, big, 10), -EBADF);
	EQ(SC(SYS_close, nul), 0);
	zero = (int)SC(SYS_open, gstr("/dev/zero"), O_RDONLY);
	hb[0] = 1;
	r = SC(SYS_read, zero, big, 1ULL << 62);
	check(r > 0 && r <= (long)(G_RO - big) && hb[0] == 0,
	      "huge read from /dev/zero gives %ld bytes", r);
	EQ(SC(SYS_close, zero), 0);

	/* getdents64 and getrandom with huge counts. */
	r = SC(SYS_getrandom, big, 1ULL << 62, 0);
	EQ(r, (long)(G_RO - big));
	EQ(SC(SYS_getrandom, big, 16, GRND_NONBLOCK | GRND_RANDOM), 16);
	EQ(SC(SYS_getrandom, big, 16, 0x100), -EINVAL);
	EQ(SC(SYS_getrandom, G_BAD, 16, 0), -EFAULT);
	EQ(SC(SYS_getrandom, big, 0, 0), 0);
}

struct dirent64_k {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static void test_getdents(void)
{
	uint64_t buf = G_BIG;
	const char *names[] = { "alpha", "beta", "gamma" };
	int fd, i, seen = 0, pos;
	long r;

	EQ(SC(SYS_mkdir, gpath("dents"), 0700), 0);
	for (i = 0; i < 3; i++) {
		char p[64];
		snprintf(p, sizeof p, "dents/%s", names[i]);
		fd = (int)SC(SYS_open, gpath(p), O_CREAT | O_WRONLY, 0600);
		SC(SYS_close, fd);
	}
	fd = (int)SC(SYS_open, gpath("dents"), O_RDONLY | O_DIRECTORY);
	EQ(SC(SYS_getdents64, fd, buf, 1), -EINVAL);
	r = SC(SYS_getdents64, fd, buf, 0x7fffffff);
	check(r > 0, "getdents64 returned %ld bytes", r);
	for (pos = 0; pos < r;) {
		struct dirent64_k *d = (struct dirent64_k *)((char *)H(buf) + pos);
		for (i = 0; i < 3; i++)
			if (strcmp(d->name, names[i]) == 0)
				seen |= 1 << i;
		if (d->reclen == 0)
			break;
		pos += d->reclen;
	}
	check(seen == 7, "found alpha, beta and gamma");
	EQ(SC(SYS_getdents64, fd, buf, 4096), 0);
	EQ(SC(SYS_lseek, fd, 0, SEEK_SET), 0);
	EQ(SC(SYS_getdents64, fd, G_RO, 4096), -EFAULT);
	EQ(SC(SYS_getdents64, 99, buf, 4096), -EBADF);
	EQ(SC(SYS_close, fd), 0);
}

static void test_proc_self(void)
{
	uint64_t buf = galloc(PATH_MAX), st = galloc(sizeof(struct stat));
	char want[PATH_MAX];
	struct stat hs;
	int fd;

	EQ(SC(SYS_readlink, gstr("/proc/self/exe"), buf, PATH_MAX), (long)strlen(P.exe));
	check(memcmp(H(buf), P.exe, strlen(P.exe)) == 0, "/proc/self/exe is the program");
	EQ(SC(SYS_readlink, gstr("/proc/self/exe"), buf, 4), 4);
	EQ(SC(SYS_readlinkat, AT_FDCWD, gstr("/proc/self/exe"), buf, 0), -EINVAL);
	snprintf(want, sizeof want, "/proc/%d/exe", (int)P.pid);
	EQ(SC(SYS_readlink, gstr(want), buf, PATH_MAX), (long)strlen(P.exe));
	EQ(SC(SYS_readlink, gstr("/proc/self/exe"), G_RO, 100), -EFAULT);

	/* /proc/self/fd/N names the program's N, not the launcher's. */
	fd = (int)SC(SYS_open, gpath("f1"), O_RDONLY);
	EQ(fd, 3);
	snprintf(want, sizeof want, "%s/f1", dir);
	EQ(SC(SYS_readlink, gstr("/proc/self/fd/3"), buf, PATH_MAX), (long)strlen(want));
	check(memcmp(H(buf), want, strlen(want)) == 0, "/proc/self/fd/3 is f1");
	EQ(SC(SYS_readlink, gstr("/dev/fd/3"), buf, PATH_MAX), (long)strlen(want));
	EQ(SC(SYS_readlink, gstr("/proc/self/fd/9"), buf, PATH_MAX), -ENOENT);
	EQ(SC(SYS_stat, gstr("/proc/self/fd/3"), st), 0);
	stat(want, &hs);
	check(((struct stat *)H(st))->st_ino == hs.st_ino, "stat /proc/self/fd/3 is f1");
	EQ(SC(SYS_readlink, gstr("/proc/self/cwd"), buf, PATH_MAX), (long)strlen(dir));
	EQ(SC(SYS_close, fd), 0);
}

/* ---- Process state ------------------------------------------------------ */

static void test_process(void)
{
	uint64_t b = galloc(512), *v = H(b);

	EQ(SC(SYS_getpid), P.pid);
	EQ(SC(SYS_gettid), P.pid);
	EQ(SC(SYS_getppid), getppid());
	EQ(SC(SYS_getuid), getuid());
	EQ(SC(SYS_geteuid), geteuid());
	EQ(SC(SYS_getgid), getgid());
	EQ(SC(SYS_getegid), getegid());
	EQ(SC(SYS_getpgrp), getpgrp());
	EQ(SC(SYS_getpgid, 0), getpgrp());
	EQ(SC(SYS_getsid, 0), getsid(0));
	EQ(SC(SYS_getsid, 1), -ESRCH);
	EQ(SC(SYS_set_tid_address, 0x1234), P.pid);
	check(P.tid_address == 0x1234, "set_tid_address recorded");
	EQ(SC(SYS_set_robust_list, 0x5000, 24), 0);
	EQ(SC(SYS_set_robust_list, 0x5000, 16), -EINVAL);
	EQ(SC(SYS_getgroups, 0, 0), getgroups(0, NULL));
	EQ(SC(SYS_getgroups, -1, b), -EINVAL);

	/* arch_prctl. */
	EQ(SC(SYS_arch_prctl, 0x1002, 0x7f0000001000ULL), 0);
	check(P.fs_base == 0x7f0000001000ULL && P.fs_dirty, "ARCH_SET_FS recorded, fs_dirty set");
	EQ(SC(SYS_arch_prctl, 0x1003, b), 0);
	EQ(v[0], 0x7f0000001000LL);
	EQ(SC(SYS_arch_prctl, 0x1001, 0x1000), 0);
	EQ(SC(SYS_arch_prctl, 0x1004, b), 0);
	EQ(v[0], 0x1000);
	EQ(SC(SYS_arch_prctl, 0x1002, 0xffffffff80000000ULL), -EPERM);
	EQ(SC(SYS_arch_prctl, 0x1002, 0x0000800000000000ULL), -EPERM);
	EQ(SC(SYS_arch_prctl, 0x1003, G_BAD), -EFAULT);
	EQ(SC(SYS_arch_prctl, 0x1003, G_RO), -EFAULT);
	EQ(SC(SYS_arch_prctl, 0x9999, b), -EINVAL);
	check(P.fs_base == 0x7f0000001000ULL, "refused bases left fs_base alone");

	/* rt_sigaction: kernel layout { handler, flags, restorer, mask }. */
	v[0] = 0x401000; v[1] = 0x04000000; v[2] = 0x402000; v[3] = ~0ULL;
	EQ(SC(SYS_rt_sigaction, SIGINT, b, 0, 8), 0);
	EQ(SC(SYS_rt_sigaction, SIGINT, 0, b + 64, 8), 0);
	check(v[8] == 0x401000 && v[9] == 0x04000000 && v[10] == 0x402000 &&
	      v[11] == ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1))),
	      "rt_sigaction reads back, mask without SIGKILL/SIGSTOP");
	EQ(SC(SYS_rt_sigaction, SIGINT, b, b, 8), 0);   /* act and oact overlap */
	EQ(v[0], 0x401000);
	EQ(SC(SYS_rt_sigaction, SIGKILL, b, 0, 8), -EINVAL);
	EQ(SC(SYS_rt_sigaction, SIGKILL, 0, b + 64, 8), 0);
	EQ(SC(SYS_rt_sigaction, SIGINT, b, 0, 4), -EINVAL);
	EQ(SC(SYS_rt_sigaction, 0, 0, b, 8), -EINVAL);
	EQ(SC(SYS_rt_sigaction, 65, 0, b, 8), -EINVAL);
	EQ(SC(SYS_rt_sigaction, 64, 0, b, 8), 0);
	EQ(SC(SYS_rt_sigaction, SIGINT, G_BAD, 0, 8), -EFAULT);
	EQ(SC(SYS_rt_sigaction, SIGINT, 0, G_RO, 8), -EFAULT);

	/* rt_sigprocmask. */
	v[0] = 1ULL << (SIGUSR1 - 1) | 1ULL << (SIGKILL - 1);
	EQ(SC(SYS_rt_sigprocmask, SIG_SETMASK, b, 0, 8), 0);
	check(P.sigmask == 1ULL << (SIGUSR1 - 1), "SIGKILL cannot be blocked");
	v[0] = 1ULL << (SIGUSR2 - 1);
	EQ(SC(SYS_rt_sigprocmask, SIG_BLOCK, b, b + 8, 8), 0);
	EQ(v[1], 1LL << (SIGUSR1 - 1));
	EQ(SC(SYS_rt_sigprocmask, SIG_UNBLOCK, b, 0, 8), 0);
	EQ(P.sigmask, 1LL << (SIGUSR1 - 1));
	EQ(SC(SYS_rt_sigprocmask, 7, b, 0, 8), -EINVAL);
	EQ(SC(SYS_rt_sigprocmask, 7, 0, 0, 8), 0);
	EQ(SC(SYS_rt_sigprocmask, SIG_BLOCK, b, 0, 16), -EINVAL);

	/* sigaltstack: { sp, flags, size }. */
	EQ(SC(SYS_sigaltstack, 0, b), 0);
	EQ(*(int *)H(b + 8), SS_DISABLE);
	v[0] = 0x700000; v[1] = 0; v[2] = 65536;
	EQ(SC(SYS_sigaltstack, b, 0), 0);
	EQ(SC(SYS_sigaltstack, 0, b + 64), 0);
	check(v[8] == 0x700000 && *(int *)H(b + 72) == 0 && v[10] == 65536, "sigaltstack reads back");
	v[2] = 100;
	EQ(SC(SYS_sigaltstack, b, 0), -ENOMEM);
	v[1] = 5;
	EQ(SC(SYS_sigaltstack, b, 0), -EINVAL);

	/* Identity and time. */
	EQ(SC(SYS_uname, b), 0);
	check(strcmp((char *)H(b) + 4 * 65, "x86_64") == 0, "uname machine is x86_64");
	EQ(SC(SYS_uname, G_RO), -EFAULT);
	EQ(SC(SYS_clock_gettime, CLOCK_MONOTONIC, b), 0);
	check(v[0] > 0 || v[1] > 0, "clock_gettime gave a time");
	EQ(SC(SYS_clock_gettime, CLOCK_REALTIME, G_BAD), -EFAULT);
	EQ(SC(SYS_clock_gettime, 999, b), -EINVAL);
	EQ(SC(SYS_clock_gettime, ~3 * 8 + 3, b), -EINVAL);        /* FD_TO_CLOCKID(3) */
	EQ(SC(SYS_clock_gettime, ~12345 * 8 + 2, b), -EINVAL);    /* another pid's CPU clock */
	EQ(SC(SYS_clock_gettime, -6, b), 0);                       /* own process CPU */
	EQ(SC(SYS_clock_getres, CLOCK_MONOTONIC, 0), 0);
	EQ(SC(SYS_gettimeofday, b, 0), 0);
	{
		long t = SC(SYS_time, b);
		check(t > 1600000000 && (long)v[0] == t, "time %ld", t);
	}
	v[0] = 0; v[1] = 1000000;
	EQ(SC(SYS_nanosleep, b, 0), 0);
	v[1] = 1000000000;
	EQ(SC(SYS_nanosleep, b, 0), -EINVAL);
	EQ(SC(SYS_nanosleep, G_BAD, 0), -EFAULT);
	v[0] = 0; v[1] = 1000;
	EQ(SC(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, b, 0), 0);
	{
		long r = SC(SYS_sched_getaffinity, 0, 512, b);
		check(r > 0 && r % 8 == 0 && (v[0] & 1), "sched_getaffinity gave %ld bytes", r);
	}
	EQ(SC(SYS_sched_getaffinity, 0, 7, b), -EINVAL);
	EQ(SC(SYS_sched_getaffinity, 1, 512, b), -ESRCH);
	EQ(SC(SYS_sched_yield), 0);
	EQ(SC(SYS_getrusage, RUSAGE_SELF, b), 0);
	EQ(SC(SYS_getrusage, 5, b), -EINVAL);
	EQ(SC(SYS_sysinfo, b), 0);
	check(v[4] * *(uint32_t *)H(b + 104) <= FAKE_SIZE, "sysinfo totalram within guest memory");
	check(SC(SYS_times, b) > 0, "times");
	{
		long old = SC(SYS_umask, 027);
		EQ(SC(SYS_umask, old), 027);
	}

	/* Memory calls reach mm with host descriptors. */
	EQ(SC(SYS_mmap, 0, 4096, 1, 0x02 /* MAP_PRIVATE */, 99, 0), -EBADF);
	EQ(SC(SYS_mmap, 0, 4096, 1, 0x22, 99, 0), -ENOSYS);   /* anonymous: fd ignored */
	EQ(SC(SYS_mmap, 0, 4096, 1, 0x02, 0, 0), 0x1000000 + P.fd[0].host);
	EQ(SC(SYS_brk, 0), -ENOSYS);

	/* Networking is refused, but not an unnamed AF_UNIX pair, which
	 * reaches nothing (closed again); unknown numbers are ENOSYS. */
	EQ(SC(SYS_socket, 2, 1, 0), -EACCES);
	EQ(SC(SYS_socketpair, 2, 1, 0, b), -EACCES);
	{
		int pair[2] = { -1, -1 };
		EQ(SC(SYS_socketpair, 1, 1, 0, b), 0);
		mm_copy_in(M, pair, b, sizeof pair);
		EQ(SC(SYS_close, pair[0]), 0);
		EQ(SC(SYS_close, pair[1]), 0);
	}
	{
		uint64_t before = P.nunknown, fwd = P.nforwarded;
		EQ(SC(SYS_clone, 0), -ENOSYS);         /* no fork where the launcher may not */
		EQ(SC(SYS_syslog, 0), -ENOSYS);
		EQ(SC(335), -ENOSYS);
		EQ(SC(1024), -ENOSYS);
		EQ(SC(0xffffffffULL), -ENOSYS);
		EQ(SC(1ULL << 63), -ENOSYS);
		EQ(SC(~0ULL), -ENOSYS);
		EQ(P.nunknown - before, 6);
		EQ(P.nforwarded - fwd, 7);
	}
	check(sys_name(0) && strcmp(sys_name(0), "read") == 0, "sys_name(0) is read");
	check(sys_name(SYS_clone) && strcmp(sys_name(SYS_clone), "clone") == 0, "sys_name knows clone");
	check(sys_name(335) == NULL && sys_name(1ULL << 40) == NULL, "no name for 335 or 2^40");
}

/* ---- Signals sent to the program ---------------------------------------- */

/* Clears a death so that the next check starts alive. */
static void revive(void)
{
	P.exited = 0;
	P.exit_code = 0;
	P.exit_signal = 0;
}

static void set_action(int sig, uint64_t handler)
{
	uint64_t b = galloc(32), *v = H(b);

	v[0] = handler;
	SC(SYS_rt_sigaction, sig, b, 0, 8);
}

static void test_signals(void)
{
	uint64_t b = galloc(64), *v = H(b), fds = galloc(8);
	int *f = H(fds);

	revive();
	v[0] = 0;
	EQ(SC(SYS_rt_sigprocmask, SIG_SETMASK, b, 0, 8), 0);
	P.sigpending = 0;
	/* Nothing ever reaches another process. */
	EQ(SC(SYS_kill, 1, SIGKILL), -ESRCH);
	EQ(SC(SYS_kill, -1, SIGTERM), -ESRCH);
	EQ(SC(SYS_tkill, 1, SIGTERM), -ESRCH);
	EQ(SC(SYS_tgkill, P.pid, 1, SIGTERM), -ESRCH);
	EQ(SC(SYS_tgkill, 0, P.pid, SIGTERM), -EINVAL);
	EQ(SC(SYS_kill, P.pid, 65), -EINVAL);
	EQ(SC(SYS_kill, P.pid, 0), 0);
	check(!P.exited, "signal 0 and refused kills leave the program alive");

	/* Default actions: some terminate, some do nothing. */
	set_action(SIGTERM, 0);
	EQ(SC(SYS_kill, P.pid, SIGCHLD), 0);
	EQ(SC(SYS_kill, 0, SIGWINCH), 0);
	check(!P.exited && P.sigpending == 0, "SIGCHLD and SIGWINCH are ignored by default");
	EQ(SC(SYS_tgkill, P.pid, P.pid, SIGTERM), 0);
	check(P.exited && P.exit_signal == SIGTERM && P.exit_code == 143,
	      "tgkill SIGTERM ends the program (code %d)", P.exit_code);
	revive();
	/* Ignored: discarded. */
	set_action(SIGTERM, 1);
	EQ(SC(SYS_kill, P.pid, SIGTERM), 0);
	check(!P.exited && P.sigpending == 0, "ignored SIGTERM is discarded");
	EQ(SC(SYS_kill, P.pid, SIGKILL), 0);
	check(P.exited && P.exit_signal == SIGKILL, "SIGKILL cannot be ignored");
	revive();
	/* Blocked: pending, reported, and delivered when unblocked. */
	set_action(SIGTERM, 0);
	v[0] = 1ULL << (SIGTERM - 1);
	EQ(SC(SYS_rt_sigprocmask, SIG_BLOCK, b, 0, 8), 0);
	EQ(SC(SYS_tkill, P.pid, SIGTERM), 0);
	check(!P.exited, "blocked SIGTERM does not end the program");
	EQ(SC(SYS_rt_sigpending, b + 8, 8), 0);
	EQ(v[1], 1LL << (SIGTERM - 1));
	EQ(SC(SYS_rt_sigpending, b + 8, 16), -EINVAL);
	EQ(SC(SYS_rt_sigpending, G_RO, 8), -EFAULT);
	EQ(SC(SYS_rt_sigprocmask, SIG_UNBLOCK, b, 0, 8), 0);
	check(P.exited && P.exit_signal == SIGTERM, "unblocking the pending SIGTERM ends the program");
	revive();
	P.sigpending = 0;
	/* A handler: pending for the caller to run. */
	set_action(SIGUSR1, 0x401000);
	EQ(SC(SYS_kill, P.pid, SIGUSR1), 0);
	check(!P.exited && P.sigpending == 1ULL << (SIGUSR1 - 1), "a handled signal is left pending");
	EQ(SC(SYS_rt_sigpending, b + 8, 8), 0);
	EQ(v[1], 0);                 /* not blocked: not "pending" to the program */
	P.sigpending = 0;
	set_action(SIGUSR1, 0);

	/* A write to a broken pipe: EPIPE, and SIGPIPE, which ends the program
	 * by default; the launcher itself survives. */
	EQ(SC(SYS_pipe2, fds, 0), 0);
	EQ(SC(SYS_close, f[0]), 0);
	set_action(SIGPIPE, 1);
	EQ(SC(SYS_write, f[1], b, 1), -EPIPE);
	check(!P.exited, "SIGPIPE ignored: EPIPE only");
	set_action(SIGPIPE, 0);
	EQ(SC(SYS_write, f[1], b, 1), -EPIPE);
	check(P.exited && P.exit_signal == SIGPIPE && P.exit_code == 141,
	      "default SIGPIPE ends the program");
	revive();
	EQ(SC(SYS_close, f[1]), 0);
}

static void test_threads(void)
{
	uint64_t b = galloc(64), *v = H(b);
	uint32_t *w = H(b + 32);
	struct timespec t0, t1;

	*w = 1;
	EQ(SC(SYS_futex, b + 32, 1 /* WAKE */, 1), 0);
	EQ(SC(SYS_futex, b + 32, 0 /* WAIT */, 2, 0), -EAGAIN);
	EQ(SC(SYS_futex, b + 33, 0, 1, 0), -EINVAL);
	EQ(SC(SYS_futex, G_BAD, 0, 1, 0), -EFAULT);
	EQ(SC(SYS_futex, b + 32, 6 /* LOCK_PI */, 0, 0), -ENOSYS);
	v[0] = 0; v[1] = 2000000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EQ(SC(SYS_futex, b + 32, 0 | 128, 1, b), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	check((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec >= 2000000,
	      "futex wait lasted its 2 ms timeout");
	clock_gettime(CLOCK_MONOTONIC, (struct timespec *)H(b));
	EQ(SC(SYS_futex, b + 32, 9 /* WAIT_BITSET */, 1, b, 0, ~0U), -ETIMEDOUT);
	EQ(SC(SYS_futex, b + 32, 9, 1, b, 0, 0), -EINVAL);
	v[1] = 1000000000;
	EQ(SC(SYS_futex, b + 32, 0, 1, b), -EINVAL);
	EQ(SC(SYS_getresuid, b, b + 4, b + 8), 0);
	check(((uint32_t *)H(b))[0] == P.uid && ((uint32_t *)H(b))[2] == P.euid, "getresuid");
	EQ(SC(SYS_getresgid, b, b + 4, G_BAD), -EFAULT);
	EQ(SC(SYS_sched_getscheduler, 0), 0);
	EQ(SC(SYS_sched_getscheduler, -1), -EINVAL);
	EQ(SC(SYS_sched_getscheduler, 1), -ESRCH);
	EQ(SC(SYS_sched_getparam, 0, b), 0);
	EQ(SC(SYS_getcpu, b, 0, 0), 0);
	EQ(SC(SYS_get_robust_list, 0, b, b + 8), 0);
	check(v[0] == 0x5000 && v[1] == 24, "get_robust_list reads back");
}

/* The monitor's part of a thread switch, without a vCPU: the running
 * thread parks, and the next one the scheduler picks runs. */
static int park_and_next(void)
{
	thread_park(&P);
	return thread_next(&P);
}

#define THREAD (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
		CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

static void test_thread_table(void)
{
	uint64_t b = galloc(64);
	uint32_t *word = H(b), *ctid = H(b + 8), *ptid = H(b + 16);
	struct thread *t;
	int pfd[2], i;
	long t1, t2;

	EQ(SC(SYS_clone, CLONE_THREAD | CLONE_VM, 0x1000), -EINVAL);   /* no CLONE_SIGHAND */
	EQ(SC(SYS_clone, THREAD | CLONE_NEWNS, 0x1000), -EINVAL);
	check(!P.threads, "a refused thread clone makes no thread table");
	t1 = SC(SYS_clone, THREAD, 0x1000, b + 16, b + 8, 0x7000);
	check(t1 >= 0x400000 && t1 < 0x40000000 && *ptid == (uint32_t)t1,
	      "a thread's tid is past pid_max and written at ptid (%ld)", t1);
	check(P.threads && P.threads->n == 2 && P.threads->born == 1 &&
	      P.threads->t[1].park.arg[1] == 0x1000, "the new thread is recorded with its stack");
	P.threads->born = -1;
	EQ(SC(SYS_gettid), P.pid);

	/* A futex wait parks the caller; the new thread runs, with its TLS. */
	*word = 5;
	EQ(SC(SYS_futex, b, 128 /* WAIT_PRIVATE */, 5, 0), -EPARK);
	i = park_and_next();
	check(i == 1 && P.tid == t1 && P.fs_base == 0x7000 && P.tid_address == b + 8,
	      "the new thread runs next, with its tid, TLS and clear-tid word");
	EQ(SC(SYS_gettid), t1);
	EQ(SC(SYS_futex, b, 128 + 1 /* WAKE_PRIVATE */, 9), 1);
	/* tgkill of the other thread: it takes the signal when it runs. */
	P.sigact[SIGUSR1 - 1].handler = 0x1234;
	EQ(SC(SYS_tgkill, P.pid, P.pid, SIGUSR1), 0);
	check(!(P.sigpending & (1ULL << (SIGUSR1 - 1))), "a signal for another thread is not the caller's");
	EQ(SC(SYS_tgkill, P.pid, 12345, SIGUSR1), -ESRCH);
	EQ(SC(SYS_tgkill, 1, t1, SIGUSR1), -ESRCH);

	/* The thread ends: its tid word is cleared and the process lives on. */
	*ctid = (uint32_t)t1;
	EQ(SC(SYS_exit, 7), 0);
	check(!P.exited && P.threads->died && P.threads->n == 1 && *ctid == 0,
	      "a thread's exit clears its tid word; the process lives on");
	P.threads->died = 0;
	i = thread_next(&P);
	t = &P.threads->t[0];
	check(i == 0 && t->resume == RESUME_RESULT && t->result == 0 && P.tid == P.pid,
	      "the woken waiter resumes with 0");
	check(P.sigpending & (1ULL << (SIGUSR1 - 1)), "and takes the signal sent to it");
	P.sigpending = 0;
	P.sigact[SIGUSR1 - 1].handler = 0;

	/* Two more: futex waiters wake oldest first; a requeue moves them. */
	t1 = SC(SYS_clone, THREAD, 0x2000, b + 16, b + 8, 0);
	t2 = SC(SYS_clone, THREAD, 0x3000, b + 16, b + 8, 0);
	check(t1 > 0 && t2 > 0 && t1 != t2 && P.threads->n == 3, "two more threads, distinct tids");
	*word = 1;
	EQ(SC(SYS_futex, b, 0, 1, 0), -EPARK);
	i = park_and_next();
	check(i == 1 && P.tid == t1, "the next thread runs (%d)", i);
	EQ(SC(SYS_futex, b, 0, 1, 0), -EPARK);
	i = park_and_next();
	check(i == 2 && P.tid == t2, "and the next (%d)", i);
	EQ(SC(SYS_futex, b, 4 /* CMP_REQUEUE */, 1, 5, b + 4, 2), -EAGAIN);
	EQ(SC(SYS_futex, b, 4 /* CMP_REQUEUE */, 1, 5, b + 4, 1), 2);
	check(P.threads->t[0].state == T_READY && P.threads->t[1].state == T_PARKED &&
	      P.threads->t[1].park.futex == b + 4, "requeue woke the oldest and moved the other");
	EQ(SC(SYS_futex, b + 4, 1, 1), 1);

	/* A read of an empty pipe parks; a write makes it go again. */
	EQ(SC(SYS_pipe2, b + 24, 0), 0);
	memcpy(pfd, H(b + 24), sizeof pfd);
	EQ(SC(SYS_read, pfd[0], b + 40, 8), -EPARK);
	i = park_and_next();
	check(i == 0 && P.threads->t[0].resume == RESUME_RESULT, "the woken thread runs (%d)", i);
	check(P.threads->t[2].park.nr == SYS_read && P.threads->t[2].park.kind == PARK_FDS,
	      "the reader waits on its descriptor");
	EQ(SC(SYS_write, pfd[1], b, 3), 3);
	/* A sleep parks until its deadline. */
	*(struct timespec *)H(b + 48) = (struct timespec){ 0, 1000000 };
	EQ(SC(SYS_nanosleep, b + 48, 0), -EPARK);
	i = park_and_next();
	check(i == 1, "the requeued thread runs (%d)", i);
	EQ(SC(SYS_sched_yield), -EPARK);
	i = park_and_next();
	check(i == 2 && P.threads->t[2].resume == RESUME_AGAIN, "the reader goes again (%d)", i);
	EQ(thread_call_again(&P), 3);
	/* A poll that times out: its call made again must not wait. */
	*(struct pollfd *)H(b + 40) = (struct pollfd){ pfd[0], POLLIN, 0 };
	EQ(SC(SYS_poll, b + 40, 1, 2), -EPARK);
	usleep(3000);   /* past the sleep's deadline and the poll's */
	i = park_and_next();
	check(i == 0 && P.threads->t[0].resume == RESUME_RESULT, "the sleeper wakes at its deadline (%d)", i);
	EQ(SC(SYS_exit, 0), 0);
	P.threads->died = 0;
	i = thread_next(&P);
	check(i == 1 && P.threads->t[1].resume == RESUME_RESULT, "the yielder goes on (%d)", i);
	EQ(SC(SYS_exit, 0), 0);
	P.threads->died = 0;
	i = thread_next(&P);
	check(i == 2 && P.threads->t[2].resume == RESUME_EXPIRED, "the poll's deadline passes (%d)", i);
	EQ(thread_call_again(&P), 0);
	SC(SYS_close, pfd[0]);
	SC(SYS_close, pfd[1]);
	thread_only_me(&P);
	P.tid = P.pid;
	check(!P.threads, "back to one thread");
}

/* ---- Policy, limits, prctl ---------------------------------------------- */

/* Reads what fd holds now, nonblocking, into buf (NUL-terminated). */
static char *drain(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size - 1);

	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

static void test_policy_gate(void)
{
	struct policy pol;
	char err[POLICY_ERRLEN], buf[1024];
	int report[2], audit[2];

	policy_init(&pol);
	check(policy_parse_promises(&pol, "stdio rpath", err) == 0, "policy stdio rpath");
	check(pipe2(report, O_CLOEXEC | O_NONBLOCK) == 0 && pipe2(audit, O_CLOEXEC | O_NONBLOCK) == 0,
	      "pipes for the report and the audit log");
	P.policy = &pol;
	P.trace_fd = report[1];
	P.audit_fd = audit[1];
	EQ(SC(SYS_socket, AF_INET, SOCK_STREAM, 0), -EPERM);
	EQ(SC(SYS_socket, AF_INET, SOCK_STREAM, 0), -EPERM);
	EQ(SC(SYS_mkdir, gpath("denied"), 0755), -EPERM);
	EQ(SC(SYS_getpid), P.pid);
	EQ(P.ndenied, 3);
	drain(report[0], buf, sizeof buf);
	check(!strcmp(buf, "dunerun: denied: socket (needs ALLOW inet)\n"
		       "dunerun: denied: mkdir (needs ALLOW cpath)\n"),
	      "one report per name, naming the promise: %s", buf);
	drain(audit[0], buf, sizeof buf);
	check(!strcmp(buf, "{\"syscall\":\"socket\",\"nr\":41,\"promise\":\"inet\",\"action\":\"eperm\"}\n"
		       "{\"syscall\":\"socket\",\"nr\":41,\"promise\":\"inet\",\"action\":\"eperm\"}\n"
		       "{\"syscall\":\"mkdir\",\"nr\":83,\"promise\":\"cpath\",\"action\":\"eperm\"}\n"),
	      "every denial in the audit log: %s", buf);
	struct stat st;
	check(stat(dir, &st) == 0 && lstat(strcat(strcpy(buf, dir), "/denied"), &st) < 0,
	      "the denied mkdir made nothing");

	/* tmppath: lexically under /tmp only. */
	check(policy_parse_promises(&pol, "tmppath", err) == 0, "add tmppath");
	EQ(SC(SYS_mkdir, gstr("/tmp/../x"), 0755), -EPERM);
	EQ(SC(SYS_mkdir, gstr("tmp/x"), 0755), -EPERM);
	check(SC(SYS_mkdir, gstr("/tmp/nonexistent-dir/x"), 0755) == -ENOENT,
	      "mkdir under /tmp reaches the host (ENOENT)");

	/* ON-DENY kill: SIGSYS. */
	pol.on_deny = ON_DENY_KILL;
	SC(SYS_ptrace, 0);
	check(P.exited && P.exit_signal == SIGSYS, "on-deny kill ends the program with SIGSYS");
	revive();
	drain(report[0], buf, sizeof buf);
	check(strstr(buf, "denied: ptrace (no promise allows it): killing the program") != NULL,
	      "the kill is reported: %s", buf);
	P.policy = NULL;
	P.trace_fd = 2;
	P.audit_fd = -1;
	for (int i = 0; i < 2; i++) {
		close(report[i]);
		close(audit[i]);
	}
}

static void test_output_limit(void)
{
	int pfd[2];
	uint64_t b = galloc(100);
	char buf[256];

	check(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0, "a pipe for stdout");
	int fd = (int)SC(SYS_dup, 1);
	int h = P.fd[fd].host;
	check(P.fd[fd].output, "a dup of stdout counts as output");
	P.fd[fd].host = pfd[1];
	P.output_limit = 150;
	P.output_used = 0;
	memset(H(b), 'o', 100);
	EQ(SC(SYS_write, fd, b, 100), 100);
	check(!P.exited, "under the limit the program goes on");
	EQ(SC(SYS_write, fd, b, 100), 50);
	check(P.exited && P.exit_signal == SIGXFSZ && P.limit_hit && !strcmp(P.limit_hit, "output"),
	      "past the limit: what fits is written, then SIGXFSZ");
	EQ(read(pfd[0], buf, sizeof buf), 150);
	revive();
	P.limit_hit = NULL;
	P.output_limit = 0;
	P.fd[fd].host = h;
	SC(SYS_close, fd);
	close(pfd[0]);
	close(pfd[1]);
}

static void test_prctl(void)
{
	uint64_t b = galloc(32);

	EQ(SC(SYS_prctl, PR_GET_NAME, b), 0);
	check(!strcmp(H(b), "prog"), "the name is the program's file name: %s", (char *)H(b));
	EQ(SC(SYS_prctl, PR_SET_NAME, gstr("a-name-longer-than-fifteen")), 0);
	EQ(SC(SYS_prctl, PR_GET_NAME, b), 0);
	check(!strcmp(H(b), "a-name-longer-t"), "a long name is cut at 15 bytes: %s", (char *)H(b));
	EQ(SC(SYS_prctl, PR_SET_NAME, G_BAD), -EFAULT);
	EQ(SC(SYS_prctl, PR_GET_DUMPABLE), 1);
	EQ(SC(SYS_prctl, PR_SET_DUMPABLE, 2), -EINVAL);
	EQ(SC(SYS_prctl, PR_SET_PDEATHSIG, SIGTERM), 0);
	EQ(SC(SYS_prctl, PR_GET_PDEATHSIG, b), 0);
	EQ(*(int *)H(b), SIGTERM);
	EQ(SC(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	EQ(SC(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
	EQ(SC(SYS_prctl, PR_SET_SECCOMP, 2), -EINVAL);
}

/* ---- Tracing ------------------------------------------------------------ */

/* Runs one call with tracing on and returns the line it printed. */
static char *traced(char *line, size_t size, uint64_t nr, uint64_t a0, uint64_t a1,
		    uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	int pfd[2];
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
		return strcpy(line, "(pipe failed)");
	P.trace = 1;
	P.trace_fd = pfd[1];
	call6(nr, a0, a1, a2, a3, a4, a5);
	P.trace = 0;
	P.trace_fd = 2;
	n = read(pfd[0], line, size - 1);
	line[n < 0 ? 0 : n] = 0;
	/* A second read finds nothing: one write per line. */
	if (read(pfd[0], line + (n < 0 ? 0 : n), 1) > 0)
		strcpy(line, "(more than one write)");
	close(pfd[0]);
	close(pfd[1]);
	return line;
}

#define TR(want, nr, ...) do {						\
	char l_[2048];							\
	uint64_t t_[6] = { __VA_ARGS__ };				\
	traced(l_, sizeof l_, nr, t_[0], t_[1], t_[2], t_[3], t_[4], t_[5]); \
	check(strcmp(l_, want) == 0, "trace: %.*s%s", (int)strcspn(l_, "\n"), l_, \
	      strcmp(l_, want) ? "  (want different)" : "");		\
	if (strcmp(l_, want))						\
		printf("     want: %s", want);				\
} while (0)

static void test_trace(void)
{
	uint64_t longp = gstr("/nonexistent/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	uint64_t esc = gstr("a\"b\\c\nd\x01");
	uint64_t data = gstr("hello\n");
	char want[256];
	int fd;

	TR("openat(AT_FDCWD, \"/nonexistent/x\", 0x0, 0) = -1 ENOENT (No such file or directory) [host]\n",
	   SYS_openat, (uint64_t)AT_FDCWD, gstr("/nonexistent/x"), 0, 0);
	TR("open(\"/nonexistent/aaaaaaaaaaaaaaaaaaa\"..., 0x241, 0644) = -1 ENOENT (No such file or directory) [host]\n",
	   SYS_open, longp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	TR("open(0xdead0000, 0x0, 0) = -1 EFAULT (Bad address) [host]\n",
	   SYS_open, G_BAD, 0, 0);
	TR("open(NULL, 0x0, 0) = -1 EFAULT (Bad address) [host]\n", SYS_open, 0, 0, 0);
	TR("stat(\"a\\\"b\\\\c\\nd\\x01\", NULL) = -1 ENOENT (No such file or directory) [host]\n",
	   SYS_stat, esc, 0);
	fd = (int)SC(SYS_open, gstr("/dev/null"), O_WRONLY);
	snprintf(want, sizeof want, "write(%d, \"hello\\n\", 6) = 6 [host]\n", fd);
	TR(want, SYS_write, (uint64_t)fd, data, 6);
	snprintf(want, sizeof want, "write(%d, 0xdead0000, 6) = -1 EFAULT (Bad address) [host]\n", fd);
	TR(want, SYS_write, (uint64_t)fd, G_BAD, 6);
	snprintf(want, sizeof want, "mmap(NULL, 4096, 0x1, 0x2, %d, 0) = 0x%x [host]\n", fd,
		 0x1000000 + P.fd[fd].host);
	TR(want, SYS_mmap, 0, 4096, 1, 2, (uint64_t)fd, 0);
	SC(SYS_close, fd);
	TR("close(-1) = -1 EBADF (Bad file descriptor) [host]\n", SYS_close, ~0ULL);
	TR("getpid() = 1234 [host]\n", SYS_getpid, 0);
	TR("syscall_999(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented) [host]\n",
	   999, 1, 2, 3, 4, 5, 6);
	TR("clone(0x11, NULL, NULL, NULL, 0x0) = -1 ENOSYS (Function not implemented) [host]\n",
	   SYS_clone, 0x11);
	TR("socket(2, 1, 0) = -1 EACCES (Permission denied) [host]\n", SYS_socket, 2, 1, 0);
	TR("exit_group(3) = ? [host]\n", SYS_exit_group, 3);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	int i;

	/* The launcher runs with 0, 1 and 2 open; make sure we do too. */
	for (i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0)
			open("/dev/null", O_RDWR);
	snprintf(dir, sizeof dir, "%s/test_sys.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* The test directory's real path, as getcwd and readlink report it. */
	{
		char real[PATH_MAX];
		if (realpath(dir, real) && strlen(real) < sizeof dir)
			strcpy(dir, real);
	}
	M = mm_create(FAKE_SIZE, 0);
	EQ(proc_init(&P, M, "/opt/dunerun-test/prog"), 0);
	check(P.cwd >= 0 && P.trace_fd == 2 && !P.exited, "proc_init set up cwd and trace_fd");

	test_files();
	test_paths();
	test_fds();
	test_pipe_poll();
	test_buffers();
	test_getdents();
	test_proc_self();
	test_process();
	test_signals();
	test_threads();
	test_thread_table();
	test_policy_gate();
	test_output_limit();
	test_prctl();
	{
		pid_t pid = P.pid;
		P.pid = 1234;
		test_trace();
		P.pid = pid;
	}
	check(P.exited && P.exit_code == 3, "exit_group(3) set exited and exit_code");
	P.exited = 0;
	EQ(SC(SYS_exit_group, 300), 0);
	check(P.exited && P.exit_code == 300 % 256, "exit_group(300) gives status 44");
	EQ(SC(SYS_exit, -1), 0);
	EQ(P.exit_code, 255);

	proc_release(&P);
	check(P.cwd == -1 && P.fd[0].host == -1, "proc_release closed everything");

	/* /proc/self/exe is absolute even when the launcher was given a
	 * relative path (glibc's static startup asserts it). */
	{
		char want[PATH_MAX], cwd[PATH_MAX];
		int fd;
		snprintf(want, sizeof want, "%s/prog", dir);
		fd = open(want, O_CREAT | O_WRONLY, 0700);
		close(fd);
		if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
			EQ(proc_init(&P, M, "./prog"), 0);
			check(strcmp(P.exe, want) == 0, "relative exe resolved to %s", P.exe);
			proc_release(&P);
			EQ(proc_init(&P, M, "./missing"), 0);
			check(strcmp(P.exe, "./missing") == 0, "an unresolvable exe is kept");
			proc_release(&P);
			if (chdir(cwd) < 0)
				perror("chdir");
		}
	}
	mm_destroy(M);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_summary();
}
