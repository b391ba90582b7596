/*
 * The program's descriptor table.
 *
 * Guest descriptor N names p->fd[N].host, a private host descriptor that
 * only this table holds.  Host descriptors are always close-on-exec on the
 * host; the program's close-on-exec flag is kept in the table.  The
 * program can only ever name slots of this table, never a host number.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

/* The launcher's 0, 1 and 2 are duplicated at or above this number. */
#define HOST_STDIO_MIN 64

/* Host duplicates start at 3 so that, should the launcher run with 0, 1
 * or 2 closed, a program's file never takes the place of its stdio. */
int host_dup(int h)
{
	return (int)hostret(syscall(SYS_fcntl, h, F_DUPFD_CLOEXEC, 3));
}

int fd_limit(struct proc *p)
{
	uint64_t soft = p->rlim[RLIMIT_NOFILE][0];

	return soft < PROC_MAX_FDS ? (int)soft : PROC_MAX_FDS;
}

int fd_host(struct proc *p, int fd)
{
	if (fd < 0 || fd >= PROC_MAX_FDS || p->fd[fd].host < 0)
		return -EBADF;
	return p->fd[fd].host;
}

int fd_lowest(struct proc *p, int min)
{
	int fd, lim = fd_limit(p);

	for (fd = min < 0 ? 0 : min; fd < lim; fd++)
		if (p->fd[fd].host < 0)
			return fd;
	return -EMFILE;
}

int fd_install(struct proc *p, int h, int cloexec, int min)
{
	int fd = fd_lowest(p, min);

	if (fd < 0) {
		close(h);
		return fd;
	}
	p->fd[fd].host = h;
	p->fd[fd].cloexec = !!cloexec;
	p->fd[fd].output = 0;
	p->fd[fd].fd_dir = p->fd[fd].dir_next = 0;
	return fd;
}

/* Frees slot fd and closes its host descriptor; returns close's result. */
static long fd_close(struct proc *p, int fd)
{
	int h = p->fd[fd].host;

	p->fd[fd].host = -1;
	p->fd[fd].cloexec = 0;
	p->fd[fd].output = 0;
	/* Linux frees the descriptor even when close reports an error. */
	return hostret(syscall(SYS_close, h));
}

int proc_init(struct proc *p, struct mm *mm, const char *exe)
{
	struct rlimit rl;
	int i, h, r;

	memset(p, 0, sizeof *p);
	p->mm = mm;
	/* /proc/self/exe is absolute with symlinks resolved; glibc's static
	 * startup asserts the former. */
	p->exe = exe && realpath(exe, p->exe_buf) ? p->exe_buf : exe;
	/* Linux names a process after the file it runs, cut at 15 bytes. */
	if (exe)
		snprintf(p->comm, sizeof p->comm, "%s", strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe);
	p->cwd = -1;
	p->procfd = -1;
	p->snapshot_fd = -1;
	p->audit_fd = -1;
	p->trace_fd = 2;
	for (i = 0; i < PROC_MAX_FDS; i++)
		p->fd[i].host = -1;

	for (i = 0; i < 3; i++) {
		h = fcntl(i, F_DUPFD_CLOEXEC, HOST_STDIO_MIN);
		if (h >= 0) {
			p->fd[i].host = h;
			p->fd[i].output = i > 0;
		} else if (errno != EBADF) /* a closed launcher fd stays closed */
			goto fail;
	}
	p->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p->cwd < 0)
		goto fail;

	p->pid = p->tid = getpid();
	p->pgid = getpgrp();
	p->sid = getsid(0);
	p->uid = getuid();
	p->euid = geteuid();
	p->gid = getgid();
	p->egid = getegid();

	for (i = 0; i < 16; i++) {
		if (getrlimit(i, &rl) < 0)
			rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		p->rlim[i][0] = rl.rlim_cur;
		p->rlim[i][1] = rl.rlim_max;
	}
	/* The table holds PROC_MAX_FDS descriptors, so that is the limit. */
	for (i = 0; i < 2; i++)
		if (p->rlim[RLIMIT_NOFILE][i] > PROC_MAX_FDS)
			p->rlim[RLIMIT_NOFILE][i] = PROC_MAX_FDS;

	sig_init(p);
	return 0;

fail:
	r = -errno;
	proc_release(p);
	return r;
}

void proc_release(struct proc *p)
{
	int i;

	exec_request_free(p->exec);
	p->exec = NULL;
	thread_only_me(p);
	for (i = 0; i < PROC_MAX_FDS; i++)
		if (p->fd[i].host >= 0)
			fd_close(p, i);
	if (p->cwd >= 0)
		close(p->cwd);
	p->cwd = -1;
	if (p->snapshot_fd >= 0)
		close(p->snapshot_fd);
	p->snapshot_fd = -1;
}

long sys_close(struct proc *p, const uint64_t *a)
{
	int fd = argint(a[0]);

	if (fd_host(p, fd) < 0)
		return -EBADF;
	return fd_close(p, fd);
}

/* Installs host descriptor h, a duplicate of old's, at the lowest free
 * slot from min; the copy is output if old is. */
static long install_dup(struct proc *p, int old, int h, int cloexec, int min)
{
	int fd = fd_install(p, h, cloexec, min);

	if (fd >= 0)
		p->fd[fd].output = p->fd[old].output;
	return fd;
}

long sys_dup(struct proc *p, const uint64_t *a)
{
	int old = argint(a[0]), h = fd_host(p, old), fd;

	if (h < 0)
		return h;
	if ((fd = fd_lowest(p, 0)) < 0)
		return fd;
	if ((h = host_dup(h)) < 0)
		return h;
	return install_dup(p, old, h, 0, fd);
}

/* dup2 and dup3 after their own checks: newfd becomes a copy of oldfd. */
static long dup_to(struct proc *p, int oldfd, int newfd, int cloexec)
{
	int h = fd_host(p, oldfd);

	if (h < 0)
		return h;
	if (newfd < 0 || newfd >= fd_limit(p))
		return -EBADF;
	if ((h = host_dup(h)) < 0)
		return h;
	if (p->fd[newfd].host >= 0)
		fd_close(p, newfd); /* dup2 ignores errors closing newfd */
	p->fd[newfd].host = h;
	p->fd[newfd].cloexec = cloexec;
	p->fd[newfd].output = p->fd[oldfd].output;
	return newfd;
}

long sys_dup2(struct proc *p, const uint64_t *a)
{
	int oldfd = argint(a[0]), newfd = argint(a[1]);

	if (oldfd == newfd)
		return fd_host(p, oldfd) < 0 ? -EBADF : newfd;
	return dup_to(p, oldfd, newfd, 0);
}

long sys_dup3(struct proc *p, const uint64_t *a)
{
	int oldfd = argint(a[0]), newfd = argint(a[1]), flags = argint(a[2]);

	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	if (oldfd == newfd)
		return -EINVAL;
	return dup_to(p, oldfd, newfd, !!(flags & O_CLOEXEC));
}

long sys_fcntl(struct proc *p, const uint64_t *a)
{
	int fd = argint(a[0]), cmd = argint(a[1]);
	int h = fd_host(p, fd), nfd;
	struct flock fl;
	long r;

	if (h < 0)
		return h;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		/* The minimum is an unsigned long in Linux. */
		if (a[2] >= (uint64_t)fd_limit(p))
			return -EINVAL;
		if ((nfd = fd_lowest(p, (int)a[2])) < 0)
			return nfd;
		if ((h = host_dup(h)) < 0)
			return h;
		return install_dup(p, fd, h, cmd == F_DUPFD_CLOEXEC, nfd);
	case F_GETFD:
		return p->fd[fd].cloexec ? FD_CLOEXEC : 0;
	case F_SETFD:
		p->fd[fd].cloexec = !!(a[2] & FD_CLOEXEC);
		return 0;
	case F_GETFL:
	case F_SETFL:
	case F_GETPIPE_SZ:
	case F_SETPIPE_SZ:
	case F_GET_SEALS:
	case F_ADD_SEALS:
		/* Integer arguments that only concern the file itself. */
		return hostret(syscall(SYS_fcntl, h, cmd, argint(a[2])));
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		if (mm_copy_in(p->mm, &fl, a[2], sizeof fl) < 0)
			return -EFAULT;
		r = hostret(syscall(SYS_fcntl, h, cmd, &fl));
		if (r == 0 && (cmd == F_GETLK || cmd == F_OFD_GETLK) &&
		    mm_copy_out(p->mm, a[2], &fl, sizeof fl) < 0)
			return -EFAULT;
		return r;
	default:
		return -EINVAL;
	}
}

_Static_assert(sizeof(struct flock) == 32, "struct flock is the kernel's");

long sys_pipe2(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[1]), fd[2], h[2];

	if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	if ((fd[0] = fd_lowest(p, 0)) < 0 || (fd[1] = fd_lowest(p, fd[0] + 1)) < 0)
		return -EMFILE;
	if (syscall(SYS_pipe2, h, (flags & ~O_CLOEXEC) | O_CLOEXEC) < 0)
		return -errno;
	if (mm_copy_out(p->mm, a[0], fd, sizeof fd) < 0) {
		close(h[0]);
		close(h[1]);
		return -EFAULT;
	}
	fd_install(p, h[0], flags & O_CLOEXEC, fd[0]);
	fd_install(p, h[1], flags & O_CLOEXEC, fd[1]);
	return 0;
}

long sys_pipe(struct proc *p, const uint64_t *a)
{
	uint64_t b[6] = { a[0], 0 };

	return sys_pipe2(p, b);
}

/* Linux's CLOSE_RANGE_UNSHARE and CLOSE_RANGE_CLOEXEC (linux/close_range.h). */
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)

long sys_close_range(struct proc *p, const uint64_t *a)
{
	unsigned first = (uint32_t)a[0], last = (uint32_t)a[1];
	unsigned flags = (uint32_t)a[2], fd;

	if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))
		return -EINVAL;
	if (first > last)
		return -EINVAL;
	if (last >= PROC_MAX_FDS)
		last = PROC_MAX_FDS - 1;
	for (fd = first; fd <= last; fd++) {
		if (p->fd[fd].host < 0)
			continue;
		if (flags & CLOSE_RANGE_CLOEXEC)
			p->fd[fd].cloexec = 1;
		else
			fd_close(p, fd);
	}
	return 0;
}
