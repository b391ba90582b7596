/*
 * Calls on files and paths.
 *
 * Paths are fetched with argpath and resolved by the host's *at calls
 * against a host directory descriptor: the program's working directory
 * (p->cwd) or the host descriptor behind the program's dirfd.  Structures
 * the kernel writes are produced by the host into a local copy and then
 * copied out; on x86-64 musl's struct stat, statfs and termios prefix are
 * the kernel's layouts.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <termios.h>
#include <linux/loop.h>
#include <unistd.h>
#include "internal.h"

_Static_assert(sizeof(struct stat) == 144, "struct stat is the kernel's");
_Static_assert(sizeof(struct statfs) == 120, "struct statfs is the kernel's");

/* struct statx is 256 bytes (linux/stat.h); musl 1.2.3 does not define it. */
#define STATX_BYTES 256
/* The kernel's struct termios: four flags, c_line and 19 c_cc bytes. */
#define KTERMIOS_SIZE 36
/* getdents64 goes through a bounce buffer of at most this many bytes. */
#define DENTS_MAX 65536

/* What argpath accepts for a call with AT_EMPTY_PATH in flags. */
static int empty_path(int flags)
{
	return flags & AT_EMPTY_PATH ? PATH_EMPTY : 0;
}

/* statx and fstatat also take NULL for "" (Linux 6.11). */
static int null_path(int flags)
{
	return flags & AT_EMPTY_PATH ? PATH_NULL : 0;
}

/* --- Opening and closing --- */

static long do_open(struct proc *p, int dirfd, uint64_t path, int flags,
		    int mode)
{
	struct hpath hp;
	int fd, h, r;

	if ((r = argpath(p, dirfd, path, 0, &hp)) < 0)
		return r;
	if ((fd = fd_lowest(p, 0)) < 0)
		return fd;
	h = (int)syscall(SYS_openat, hp.dir, hp.path, flags | O_CLOEXEC, mode);
	if (h < 0)
		return -errno;
	fd = fd_install(p, h, flags & O_CLOEXEC, fd);
	if (fd >= 0)
		p->fd[fd].fd_dir = hp.fd_dir;
	return fd;
}

long sys_open(struct proc *p, const uint64_t *a)
{
	return do_open(p, AT_FDCWD, a[0], argint(a[1]), argint(a[2]));
}

long sys_openat(struct proc *p, const uint64_t *a)
{
	return do_open(p, argint(a[0]), a[1], argint(a[2]), argint(a[3]));
}

long sys_creat(struct proc *p, const uint64_t *a)
{
	return do_open(p, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, argint(a[1]));
}

long sys_lseek(struct proc *p, const uint64_t *a)
{
	int h = fd_host(p, argint(a[0]));

	if (h < 0)
		return h;
	return hostret(syscall(SYS_lseek, h, (int64_t)a[1], argint(a[2])));
}

/* --- Status --- */

static long put_stat(struct proc *p, uint64_t buf, long r, const struct stat *st)
{
	if (r < 0)
		return r;
	return mm_copy_out(p->mm, buf, st, sizeof *st) < 0 ? -EFAULT : 0;
}

static long do_fstatat(struct proc *p, int dirfd, uint64_t path, uint64_t buf,
		       int flags)
{
	struct hpath hp;
	struct stat st;
	int r;

	r = argpath(p, dirfd, path, empty_path(flags) | null_path(flags), &hp);
	if (r < 0)
		return r;
	return put_stat(p, buf, hostret(syscall(SYS_newfstatat, hp.dir, hp.path,
						&st, flags)), &st);
}

long sys_stat(struct proc *p, const uint64_t *a)
{
	return do_fstatat(p, AT_FDCWD, a[0], a[1], 0);
}

long sys_lstat(struct proc *p, const uint64_t *a)
{
	return do_fstatat(p, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
}

long sys_newfstatat(struct proc *p, const uint64_t *a)
{
	return do_fstatat(p, argint(a[0]), a[1], a[2], argint(a[3]));
}

long sys_fstat(struct proc *p, const uint64_t *a)
{
	int h = fd_host(p, argint(a[0]));
	struct stat st;

	if (h < 0)
		return h;
	return put_stat(p, a[1], hostret(syscall(SYS_fstat, h, &st)), &st);
}

long sys_statx(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[2]), r;
	unsigned char stx[STATX_BYTES];
	struct hpath hp;
	long ret;

	if ((r = argpath(p, argint(a[0]), a[1], empty_path(flags) | null_path(flags),
			 &hp)) < 0)
		return r;
	ret = hostret(syscall(SYS_statx, hp.dir, hp.path, flags,
			      (unsigned)a[3], stx));
	if (ret < 0)
		return ret;
	return mm_copy_out(p->mm, a[4], stx, sizeof stx) < 0 ? -EFAULT : 0;
}

long sys_statfs(struct proc *p, const uint64_t *a)
{
	struct hpath hp;
	struct statfs sf;
	int r, h;
	long ret;

	if ((r = argpath(p, AT_FDCWD, a[0], 0, &hp)) < 0)
		return r;
	/* There is no statfsat: open the path, then fstatfs. */
	h = (int)syscall(SYS_openat, hp.dir, hp.path, O_PATH | O_CLOEXEC);
	if (h < 0)
		return -errno;
	ret = hostret(syscall(SYS_fstatfs, h, &sf));
	close(h);
	if (ret < 0)
		return ret;
	return mm_copy_out(p->mm, a[1], &sf, sizeof sf) < 0 ? -EFAULT : 0;
}

long sys_fstatfs(struct proc *p, const uint64_t *a)
{
	int h = fd_host(p, argint(a[0]));
	struct statfs sf;
	long ret;

	if (h < 0)
		return h;
	if ((ret = hostret(syscall(SYS_fstatfs, h, &sf))) < 0)
		return ret;
	return mm_copy_out(p->mm, a[1], &sf, sizeof sf) < 0 ? -EFAULT : 0;
}

/* --- Directories --- */

long sys_getdents64(struct proc *p, const uint64_t *a)
{
	int h = fd_host(p, argint(a[0]));
	unsigned count = (uint32_t)a[2];
	size_t n = count < DENTS_MAX ? count : DENTS_MAX;
	void *buf;
	long r;

	if (h < 0)
		return h;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	if (p->fd[argint(a[0])].fd_dir)
		r = procfs_fd_dirents(p, argint(a[0]), buf, n);
	else
		r = hostret(syscall(SYS_getdents64, h, buf, n));
	if (r > 0 && mm_copy_out(p->mm, a[1], buf, (size_t)r) < 0)
		r = -EFAULT;
	free(buf);
	return r;
}

/* The program's working directory as a path, into buf[PATH_MAX]. */
static long cwd_path(struct proc *p, char *buf)
{
	char link[PATH_MAX];
	struct stat st;
	int dir;
	long n;

	/* An unlinked working directory has no path: Linux says ENOENT. */
	if (syscall(SYS_fstat, p->cwd, &st) == 0 && st.st_nlink == 0)
		return -ENOENT;
	proc_fd_path(p, p->cwd, "", link, &dir);
	n = readlinkat(dir, link, buf, PATH_MAX);
	if (n < 0)
		return -errno;
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	buf[n] = 0;
	return n;
}

long sys_getcwd(struct proc *p, const uint64_t *a)
{
	char buf[PATH_MAX];
	long n = cwd_path(p, buf);

	if (n < 0)
		return n;
	if ((uint64_t)n + 1 > a[1])
		return -ERANGE;
	if (mm_copy_out(p->mm, a[0], buf, (size_t)n + 1) < 0)
		return -EFAULT;
	return n + 1;
}

/* Makes host descriptor h (a directory) the working directory. */
static long set_cwd(struct proc *p, int h)
{
	struct stat st;

	if (syscall(SYS_fstat, h, &st) < 0) {
		close(h);
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		close(h);
		return -ENOTDIR;
	}
	/* chdir needs search permission; an O_PATH open does not check it. */
	if (syscall(SYS_faccessat2, h, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) < 0 &&
	    errno == EACCES) {
		close(h);
		return -EACCES;
	}
	close(p->cwd);
	p->cwd = h;
	return 0;
}

long sys_chdir(struct proc *p, const uint64_t *a)
{
	struct hpath hp;
	int r, h;

	if ((r = argpath(p, AT_FDCWD, a[0], 0, &hp)) < 0)
		return r;
	h = (int)syscall(SYS_openat, hp.dir, hp.path,
			 O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (h < 0)
		return -errno;
	return set_cwd(p, h);
}

/* The path argument at gva as the host's path-only calls (chroot, mount)
 * can take it: a relative one goes through its directory descriptor's
 * /proc/self/fd link.  0 or -errno. */
static long host_path(struct proc *p, uint64_t gva, char *buf, size_t len)
{
	struct hpath hp;
	long r = argpath(p, AT_FDCWD, gva, 0, &hp);

	if (r < 0)
		return r;
	if (hp.path[0] == '/')
		snprintf(buf, len, "%s", hp.path);
	else
		snprintf(buf, len, "/proc/self/fd/%d/%s", hp.dir, hp.path);
	return 0;
}

/* chroot, mount and umount2 change the process's view of the files.
 * The launcher is the program's process, in the host's mount namespace
 * under exec, as a native one would be; only the null sandbox (no
 * policy: every call served) offers them, and a hardened launcher's
 * seccomp filter forbids them. */
long sys_chroot(struct proc *p, const uint64_t *a)
{
	char path[PATH_MAX + 32];
	long r;

	if (p->policy)
		return -EPERM;
	if ((r = host_path(p, a[0], path, sizeof path)) < 0)
		return r;
	return chroot(path) < 0 ? -errno : 0;
}

/* The source is a path only for binds and moves (a device is named by an
 * absolute path; "tmpfs" is a name), and data is an options string. */
long sys_mount(struct proc *p, const uint64_t *a)
{
	static __thread char src[PATH_MAX + 32], dst[PATH_MAX + 32], type[256], data[4096];
	unsigned long flags = a[3];
	long r;

	if (p->policy)
		return -EPERM;
	if (a[0] && (flags & (MS_BIND | MS_MOVE))) {
		if ((r = host_path(p, a[0], src, sizeof src)) < 0)
			return r;
	} else if (a[0] && (r = mm_copy_str(p->mm, src, a[0], sizeof src)) < 0) {
		return r;
	}
	if ((r = host_path(p, a[1], dst, sizeof dst)) < 0)
		return r;
	if (a[2] && (r = mm_copy_str(p->mm, type, a[2], sizeof type)) < 0)
		return r;
	if (a[4] && (r = mm_copy_str(p->mm, data, a[4], sizeof data)) < 0)
		return r;
	return mount(a[0] ? src : NULL, dst, a[2] ? type : NULL, flags,
		     a[4] ? data : NULL) < 0 ? -errno : 0;
}

long sys_umount2(struct proc *p, const uint64_t *a)
{
	char dst[PATH_MAX + 32];
	long r;

	if (p->policy)
		return -EPERM;
	if ((r = host_path(p, a[0], dst, sizeof dst)) < 0)
		return r;
	return umount2(dst, argint(a[1])) < 0 ? -errno : 0;
}

long sys_fchdir(struct proc *p, const uint64_t *a)
{
	int h = fd_host(p, argint(a[0]));

	if (h < 0)
		return h;
	if ((h = host_dup(h)) < 0)
		return h;
	return set_cwd(p, h);
}

/* --- Links --- */

static long do_readlinkat(struct proc *p, int dirfd, uint64_t path,
			  uint64_t buf, int size)
{
	char target[PATH_MAX];
	struct hpath hp;
	long n;
	int r;

	if (size <= 0)
		return -EINVAL;
	if ((r = argpath(p, dirfd, path, PATH_EMPTY, &hp)) < 0)
		return r;
	if (hp.exe) {
		n = (long)strlen(p->exe);
		memcpy(target, p->exe, (size_t)n);
	} else {
		n = hostret(syscall(SYS_readlinkat, hp.dir, hp.path, target,
				    sizeof target));
		if (n < 0)
			return n;
	}
	if (n > size)
		n = size;
	return mm_copy_out(p->mm, buf, target, (size_t)n) < 0 ? -EFAULT : n;
}

long sys_readlink(struct proc *p, const uint64_t *a)
{
	return do_readlinkat(p, AT_FDCWD, a[0], a[1], argint(a[2]));
}

long sys_readlinkat(struct proc *p, const uint64_t *a)
{
	return do_readlinkat(p, argint(a[0]), a[1], a[2], argint(a[3]));
}

/* Two-path calls: rename, link. */
static long path2(struct proc *p, long nr, int d1, uint64_t p1, int d2,
		  uint64_t p2, int flags, int empty1)
{
	struct hpath *hp = malloc(2 * sizeof *hp);
	long r;

	if (!hp)
		return -ENOMEM;
	if ((r = argpath(p, d1, p1, empty1, &hp[0])) < 0 ||
	    (r = argpath(p, d2, p2, 0, &hp[1])) < 0)
		goto out;
	r = hostret(syscall(nr, hp[0].dir, hp[0].path, hp[1].dir, hp[1].path,
			    flags));
out:
	free(hp);
	return r;
}

long sys_rename(struct proc *p, const uint64_t *a)
{
	return path2(p, SYS_renameat2, AT_FDCWD, a[0], AT_FDCWD, a[1], 0, 0);
}

long sys_renameat(struct proc *p, const uint64_t *a)
{
	return path2(p, SYS_renameat2, argint(a[0]), a[1], argint(a[2]), a[3], 0, 0);
}

long sys_renameat2(struct proc *p, const uint64_t *a)
{
	return path2(p, SYS_renameat2, argint(a[0]), a[1], argint(a[2]), a[3],
		     argint(a[4]), 0);
}

long sys_link(struct proc *p, const uint64_t *a)
{
	return path2(p, SYS_linkat, AT_FDCWD, a[0], AT_FDCWD, a[1], 0, 0);
}

long sys_linkat(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[4]);

	return path2(p, SYS_linkat, argint(a[0]), a[1], argint(a[2]), a[3],
		     flags, empty_path(flags));
}

static long do_symlinkat(struct proc *p, uint64_t target, int dirfd, uint64_t path)
{
	char t[PATH_MAX];
	struct hpath hp;
	int r;

	/* The target is stored as it is: no rewriting, no resolution. */
	if ((r = argstr(p, target, t)) < 0)
		return r;
	if ((r = argpath(p, dirfd, path, 0, &hp)) < 0)
		return r;
	return hostret(syscall(SYS_symlinkat, t, hp.dir, hp.path));
}

long sys_symlink(struct proc *p, const uint64_t *a)
{
	return do_symlinkat(p, a[0], AT_FDCWD, a[1]);
}

long sys_symlinkat(struct proc *p, const uint64_t *a)
{
	return do_symlinkat(p, a[0], argint(a[1]), a[2]);
}

/* --- One-path calls --- */

/* A host *at call of the form nr(dir, path, x, y, z). */
static long path1(struct proc *p, long nr, int dirfd, uint64_t path,
		  long x, long y, long z, int empty_ok)
{
	struct hpath hp;
	int r;

	if ((r = argpath(p, dirfd, path, empty_ok, &hp)) < 0)
		return r;
	return hostret(syscall(nr, hp.dir, hp.path, x, y, z));
}

long sys_unlink(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_unlinkat, AT_FDCWD, a[0], 0, 0, 0, 0);
}

long sys_unlinkat(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_unlinkat, argint(a[0]), a[1], argint(a[2]), 0, 0, 0);
}

long sys_rmdir(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_unlinkat, AT_FDCWD, a[0], AT_REMOVEDIR, 0, 0, 0);
}

long sys_mkdir(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_mkdirat, AT_FDCWD, a[0], argint(a[1]), 0, 0, 0);
}

long sys_mkdirat(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_mkdirat, argint(a[0]), a[1], argint(a[2]), 0, 0, 0);
}

long sys_mknod(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_mknodat, AT_FDCWD, a[0], argint(a[1]),
		     (uint32_t)a[2], 0, 0);
}

long sys_mknodat(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_mknodat, argint(a[0]), a[1], argint(a[2]),
		     (uint32_t)a[3], 0, 0);
}

long sys_access(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_faccessat, AT_FDCWD, a[0], argint(a[1]), 0, 0, 0);
}

long sys_faccessat(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_faccessat, argint(a[0]), a[1], argint(a[2]), 0, 0, 0);
}

long sys_faccessat2(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[3]);

	return path1(p, SYS_faccessat2, argint(a[0]), a[1], argint(a[2]), flags,
		     0, empty_path(flags));
}

long sys_chmod(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_fchmodat, AT_FDCWD, a[0], argint(a[1]), 0, 0, 0);
}

long sys_fchmodat(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_fchmodat, argint(a[0]), a[1], argint(a[2]), 0, 0, 0);
}

long sys_chown(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_fchownat, AT_FDCWD, a[0], argint(a[1]), argint(a[2]),
		     0, 0);
}

long sys_lchown(struct proc *p, const uint64_t *a)
{
	return path1(p, SYS_fchownat, AT_FDCWD, a[0], argint(a[1]), argint(a[2]),
		     AT_SYMLINK_NOFOLLOW, 0);
}

long sys_fchownat(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[4]);

	return path1(p, SYS_fchownat, argint(a[0]), a[1], argint(a[2]),
		     argint(a[3]), flags, empty_path(flags));
}

long sys_utimensat(struct proc *p, const uint64_t *a)
{
	int dirfd = argint(a[0]), flags = argint(a[3]), h;
	struct timespec ts[2];
	struct hpath hp;
	int r;

	if (a[2] && mm_copy_in(p->mm, ts, a[2], sizeof ts) < 0)
		return -EFAULT;
	if (a[1] == 0 && dirfd != AT_FDCWD) {
		/* A NULL path means the descriptor itself (futimens). */
		if ((h = fd_host(p, dirfd)) < 0)
			return h;
		return hostret(syscall(SYS_utimensat, h, NULL, a[2] ? ts : NULL,
				       flags));
	}
	if ((r = argpath(p, dirfd, a[1], empty_path(flags), &hp)) < 0)
		return r;
	return hostret(syscall(SYS_utimensat, hp.dir, hp.path, a[2] ? ts : NULL,
			       flags));
}

long sys_truncate(struct proc *p, const uint64_t *a)
{
	char abs[PATH_MAX];
	struct hpath hp;
	int r;

	if ((r = argpath(p, AT_FDCWD, a[0], 0, &hp)) < 0)
		return r;
	/* /dev/fd/N and the like, rewritten to the launcher's procfs,
	 * have no name in the view: truncate what they open. */
	if (hp.dir == p->procfd && p->procfd >= 0) {
		int h = openat(hp.dir, hp.path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (h < 0)
			return -errno;
		r = (int)hostret(syscall(SYS_ftruncate, h, (int64_t)a[1]));
		close(h);
		return r;
	}
	/* There is no truncateat: a relative path is made absolute with the
	 * working directory's path. */
	if (hp.path[0] != '/' && hp.dir != AT_FDCWD) {
		long n = cwd_path(p, abs);
		if (n < 0)
			return n;
		if (snprintf(abs + n, sizeof abs - n, "/%s", hp.path) >= (int)(sizeof abs - n))
			return -ENAMETOOLONG;
		strcpy(hp.path, abs);
	}
	return hostret(syscall(SYS_truncate, hp.path, (int64_t)a[1]));
}

/* --- Descriptor calls that only concern the file --- */

/* A host call of the form nr(h, x, y, z) on the host descriptor of a[0]. */
static long fd1(struct proc *p, long nr, const uint64_t *a, long x, long y, long z)
{
	int h = fd_host(p, argint(a[0]));

	if (h < 0)
		return h;
	return hostret(syscall(nr, h, x, y, z));
}

long sys_ftruncate(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_ftruncate, a, (int64_t)a[1], 0, 0);
}

long sys_fsync(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_fsync, a, 0, 0, 0);
}

long sys_fdatasync(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_fdatasync, a, 0, 0, 0);
}

long sys_syncfs(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_syncfs, a, 0, 0, 0);
}

long sys_fchmod(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_fchmod, a, argint(a[1]), 0, 0);
}

long sys_fchown(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_fchown, a, argint(a[1]), argint(a[2]), 0);
}

long sys_flock(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_flock, a, argint(a[1]), 0, 0);
}

long sys_fadvise64(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_fadvise64, a, (int64_t)a[1], (int64_t)a[2], argint(a[3]));
}

long sys_fallocate(struct proc *p, const uint64_t *a)
{
	return fd1(p, SYS_fallocate, a, argint(a[1]), (int64_t)a[2], (int64_t)a[3]);
}

long sys_sync(struct proc *p, const uint64_t *a)
{
	(void)p;
	(void)a;
	sync();
	return 0;
}

/* --- ioctl: terminal queries; loop devices in the null sandbox --- */

/* The loop-device calls of mount -o loop and losetup: LOOP_SET_FD names
 * the backing file by the program's descriptor, the status calls carry a
 * struct loop_info64.  Like mount, only without a policy. */
static long loop_ioctl(struct proc *p, int h, unsigned cmd, uint64_t arg)
{
	struct loop_info64 info;
	long r;

	switch (cmd) {
	case LOOP_CTL_GET_FREE:
	case LOOP_CLR_FD:
		return hostret(ioctl(h, cmd, 0));
	case LOOP_SET_FD:
		if ((r = fd_host(p, argint(arg))) < 0)
			return r;
		return hostret(ioctl(h, cmd, (int)r));
	case LOOP_SET_STATUS64:
		if (mm_copy_in(p->mm, &info, arg, sizeof info) < 0)
			return -EFAULT;
		return hostret(ioctl(h, cmd, &info));
	case LOOP_GET_STATUS64:
		if ((r = hostret(ioctl(h, cmd, &info))) < 0)
			return r;
		return mm_copy_out(p->mm, arg, &info, sizeof info) < 0 ? -EFAULT : 0;
	}
	return -ENOTTY;
}

long sys_ioctl(struct proc *p, const uint64_t *a)
{
	int fd = argint(a[0]), h = fd_host(p, fd), v;
	unsigned cmd = (uint32_t)a[1];
	struct termios t;
	struct winsize ws;
	long r;

	if (h < 0)
		return h;
	switch (cmd) {
	case TCGETS:
		if ((r = hostret(ioctl(h, TCGETS, &t))) < 0)
			return r;
		return mm_copy_out(p->mm, a[2], &t, KTERMIOS_SIZE) < 0 ? -EFAULT : 0;
	case TIOCGWINSZ:
		if ((r = hostret(ioctl(h, TIOCGWINSZ, &ws))) < 0)
			return r;
		return mm_copy_out(p->mm, a[2], &ws, sizeof ws) < 0 ? -EFAULT : 0;
	case TIOCGPGRP:
	case FIONREAD:
		if ((r = hostret(ioctl(h, cmd, &v))) < 0)
			return r;
		return mm_copy_out(p->mm, a[2], &v, sizeof v) < 0 ? -EFAULT : 0;
	case FIONBIO:
		if (mm_copy_in(p->mm, &v, a[2], sizeof v) < 0)
			return -EFAULT;
		return hostret(ioctl(h, FIONBIO, &v));
	case FIOCLEX:
	case FIONCLEX:
		p->fd[fd].cloexec = cmd == FIOCLEX;
		return 0;
	default:
		return p->policy ? -ENOTTY : loop_ioctl(p, h, cmd, a[2]);
	}
}

_Static_assert(offsetof(struct termios, c_cc) + 19 == KTERMIOS_SIZE,
	       "the kernel's termios is a prefix of musl's");

/* ---- Extended attributes ------------------------------------------- */

/* Linux's bounds (include/uapi/linux/limits.h). */
#define XATTR_VALUE_MAX 65536
#define XATTR_NAME_LEN  256

enum xattr_op { X_GET, X_LIST, X_SET, X_REMOVE };

/* The host's *xattrat calls (Linux 6.13) and their argument block. */
#define NR_setxattrat    463
#define NR_getxattrat    464
#define NR_listxattrat   465
#define NR_removexattrat 466
struct xattr_args { uint64_t value; uint32_t size, flags; };

static long xattr_fd(enum xattr_op op, int h, const char *name, void *buf, size_t n, int flags)
{
	switch (op) {
	case X_GET: return hostret(fgetxattr(h, name, buf, n));
	case X_LIST: return hostret(flistxattr(h, buf, n));
	case X_SET: return hostret(fsetxattr(h, name, buf, n, flags));
	default: return hostret(fremovexattr(h, name));
	}
}

/* A path's attributes, its final symlink followed unless nofollow.
 * Hosts older than 6.13 have no *xattrat: there the file is opened
 * (without blocking, and never as a terminal) and the f* call made; a
 * symlink itself then has no attributes to read and none may be set,
 * as for user.* on Linux. */
static long xattr_path(enum xattr_op op, const struct hpath *hp, int nofollow,
		       const char *name, void *buf, size_t n, int flags)
{
	struct xattr_args xa = { (uintptr_t)buf, (uint32_t)n, (uint32_t)flags };
	unsigned at = nofollow ? AT_SYMLINK_NOFOLLOW : 0;
	long r;

	switch (op) {
	case X_GET: r = syscall(NR_getxattrat, hp->dir, hp->path, at, name, &xa, sizeof xa); break;
	case X_LIST: r = syscall(NR_listxattrat, hp->dir, hp->path, at, buf, n); break;
	case X_SET: r = syscall(NR_setxattrat, hp->dir, hp->path, at, name, &xa, sizeof xa); break;
	default: r = syscall(NR_removexattrat, hp->dir, hp->path, at, name); break;
	}
	if (r >= 0 || errno != ENOSYS)
		return hostret(r);
	int h = (int)syscall(SYS_openat, hp->dir, hp->path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
			     O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (h < 0 && errno == ELOOP && nofollow)
		return op == X_LIST ? 0 : op == X_GET ? -ENODATA : -EPERM;
	if (h < 0)
		return -errno;
	r = xattr_fd(op, h, name, buf, n, flags);
	close(h);
	return r;
}

/*
 * One call of the family: a[0] is a path (how = 'p' or 'l', the latter
 * not following a final symlink) or a descriptor (how = 'f'); then the
 * name (not for X_LIST), the value or list buffer and its size, and for
 * X_SET the flags.  Values pass through a bounce buffer of the size asked
 * (at most XATTR_VALUE_MAX, as Linux caps it).
 */
static long xattr_call(struct proc *p, const uint64_t *a, char how, enum xattr_op op)
{
	char name[XATTR_NAME_LEN];
	const uint64_t *v = op == X_LIST ? a + 1 : a + 2;    /* buffer, size */
	size_t n = v[1] > XATTR_VALUE_MAX ? XATTR_VALUE_MAX : v[1];
	void *buf = NULL;
	int flags = op == X_SET ? argint(a[4]) : 0;
	struct hpath hp;
	long r;

	if (op == X_REMOVE)
		n = 0;
	if (op != X_LIST) {
		r = mm_copy_str(p->mm, name, a[1], sizeof name);
		if (r == -ENAMETOOLONG || r == 0)
			return -ERANGE;
		if (r < 0)
			return -EFAULT;
	}
	if (op == X_SET && v[1] > XATTR_VALUE_MAX)
		return -E2BIG;
	if (n && !(buf = malloc(n)))
		return -ENOMEM;
	if (op == X_SET && n && mm_copy_in(p->mm, buf, v[0], n) < 0) {
		free(buf);
		return -EFAULT;
	}
	if (how == 'f') {
		int h = fd_host(p, argint(a[0]));
		r = h < 0 ? -EBADF : xattr_fd(op, h, name, buf, n, flags);
	} else if ((r = argpath(p, AT_FDCWD, a[0], 0, &hp)) == 0) {
		r = xattr_path(op, &hp, how == 'l', name, buf, n, flags);
	}
	if (r > 0 && (op == X_GET || op == X_LIST) && n &&
	    mm_copy_out(p->mm, v[0], buf, (size_t)r) < 0)
		r = -EFAULT;
	free(buf);
	return r;
}

long sys_getxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'p', X_GET); }
long sys_lgetxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'l', X_GET); }
long sys_fgetxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'f', X_GET); }
long sys_listxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'p', X_LIST); }
long sys_llistxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'l', X_LIST); }
long sys_flistxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'f', X_LIST); }
long sys_setxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'p', X_SET); }
long sys_lsetxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'l', X_SET); }
long sys_fsetxattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'f', X_SET); }
long sys_removexattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'p', X_REMOVE); }
long sys_lremovexattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'l', X_REMOVE); }
long sys_fremovexattr(struct proc *p, const uint64_t *a) { return xattr_call(p, a, 'f', X_REMOVE); }
