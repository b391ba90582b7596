/*
 * read, write and their vector and positional forms.
 *
 * The host reads and writes guest memory directly: mm_iov describes the
 * program's buffer as host iovecs, and the host's readv/writev family
 * does the I/O.  A call is made in rounds of at most RW_IOV host iovecs,
 * so no buffer the program names is ever allocated or copied.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "internal.h"

#define RW_IOV 64

/* One buffer the program names: a guest address and a length. */
struct gseg {
	uint64_t base, len;
};

/* Whether more rounds may follow a full one without blocking where Linux
 * would not: a read from a pipe, terminal or socket returns what one
 * round got, as one read() would; regular files and block devices go on. */
static int more_follows(int h)
{
	struct stat st;

	if (syscall(SYS_fstat, h, &st) < 0)
		return 0;
	return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
}

/* One host call.  pos < 0 means the file position (readv/writev). */
static long host_rw(int h, int write, struct iovec *iov, int n, int64_t pos,
		    int rwf)
{
	if (rwf)
		return hostret(syscall(write ? SYS_pwritev2 : SYS_preadv2,
				       h, iov, n, pos, 0, rwf));
	if (pos < 0)
		return hostret(syscall(write ? SYS_writev : SYS_readv, h, iov, n));
	return hostret(syscall(write ? SYS_pwritev : SYS_preadv, h, iov, n, pos, 0));
}

/*
 * Reads into (or writes from) the guest buffers seg[0..nseg) on host
 * descriptor h, at pos (or the file position if pos < 0), with preadv2
 * flags rwf.  Like Linux: at most MAX_RW_COUNT bytes; -EFAULT only when
 * nothing was transferred; an error after progress returns the progress;
 * a buffer that turns bad part-way gives a short count.  budget is the
 * most to transfer, at most MAX_RW_COUNT.
 */
static long do_rw(struct proc *p, int h, int write, const struct gseg *seg,
		  int nseg, int64_t pos, int rwf, uint64_t budget)
{
	struct iovec iov[RW_IOV];
	uint64_t done = 0, off = 0, want, got, len;
	int i = 0, n, k, bad, checked = 0;
	long r;

	for (;;) {
		/* Describe the next stretch of the buffers as host iovecs. */
		n = 0;
		want = 0;
		bad = 0;
		while (n < RW_IOV && i < nseg && want < budget) {
			if (off == seg[i].len) {
				i++;
				off = 0;
				continue;
			}
			len = seg[i].len - off;
			if (len > budget - want)
				len = budget - want;
			k = mm_iov(p->mm, seg[i].base + off, len, !write,
				   iov + n, RW_IOV - n);
			if (k < 0) {
				bad = 1;
				break;
			}
			for (got = 0; k > 0; k--)
				got += iov[n++].iov_len;
			want += got;
			off += got;
			if (got < len) {
				/* Cut short with iovecs to spare: the range turned bad. */
				bad = n < RW_IOV;
				break;
			}
		}
		if (n == 0) {
			if (bad && done == 0)
				return -EFAULT;
			if (done > 0 || bad)
				return (long)done;
			/* Nothing to transfer: the host still checks the descriptor. */
		}
		r = host_rw(h, write, iov, n, pos, rwf);
		if (r < 0)
			return done ? (long)done : r;
		done += (uint64_t)r;
		budget -= (uint64_t)r;
		if (pos >= 0)
			pos += r;
		if ((uint64_t)r < want || bad || budget == 0 || n == 0)
			return (long)done;
		if (i == nseg || (i == nseg - 1 && off == seg[i].len))
			return (long)done;
		if (!write && !checked) {
			if (!more_follows(h))
				return (long)done;
			checked = 1;
		}
	}
}

/*
 * The output limit.  A write of want bytes to fd may move the returned
 * number of bytes: all of them unless fd is stdout or stderr (or a copy)
 * and the limit is near.  Then the program dies of SIGXFSZ, as it would
 * writing past RLIMIT_FSIZE, once what fits is written: output_end.
 */
static uint64_t output_room(struct proc *p, int fd, uint64_t want)
{
	uint64_t room = p->output_limit - p->output_used;

	if (want > MAX_RW_COUNT)
		want = MAX_RW_COUNT;
	if (!p->output_limit || !p->fd[fd].output || want <= room)
		return want;
	return room;
}

static long output_end(struct proc *p, int fd, uint64_t want, uint64_t room, long r)
{
	if (!p->output_limit || !p->fd[fd].output)
		return r;
	if (want > MAX_RW_COUNT)
		want = MAX_RW_COUNT;
	if (r > 0)
		p->output_used += r;
	if (room < want && (r < 0 || (uint64_t)r == room)) {
		p->limit_hit = "output";
		dprintf(p->trace_fd, "dunerun: output limit of %llu bytes reached\n",
			(unsigned long long)p->output_limit);
		sig_kill(p, SIGXFSZ);
		return r > 0 ? r : -EFBIG;
	}
	return r;
}

/* One transfer: output-limited when it writes. */
static long transfer(struct proc *p, int fd, int h, int write, const struct gseg *seg,
		     int nseg, int64_t pos, int rwf)
{
	uint64_t want = 0, room;
	int i;

	if (!write)
		return do_rw(p, h, 0, seg, nseg, pos, rwf, MAX_RW_COUNT);
	for (i = 0; i < nseg && want < MAX_RW_COUNT; i++)
		want += seg[i].len > MAX_RW_COUNT ? MAX_RW_COUNT : seg[i].len;
	room = output_room(p, fd, want);
	if (room == 0 && want > 0)
		return output_end(p, fd, want, room, -EFBIG);
	return output_end(p, fd, want, room, do_rw(p, h, 1, seg, nseg, pos, rwf, room));
}

/* read, write, pread64, pwrite64: one buffer. */
static long rw1(struct proc *p, const uint64_t *a, int write, int positional)
{
	struct gseg seg = { a[1], a[2] };
	int64_t pos = positional ? (int64_t)a[3] : -1;
	int h;

	if (positional && pos < 0)
		return -EINVAL;
	if ((h = fd_host(p, argint(a[0]))) < 0)
		return h;
	return transfer(p, argint(a[0]), h, write, &seg, 1, pos, 0);
}

long sys_read(struct proc *p, const uint64_t *a) { return rw1(p, a, 0, 0); }
long sys_write(struct proc *p, const uint64_t *a) { return rw1(p, a, 1, 0); }
long sys_pread64(struct proc *p, const uint64_t *a) { return rw1(p, a, 0, 1); }
long sys_pwrite64(struct proc *p, const uint64_t *a) { return rw1(p, a, 1, 1); }

/* The vector forms.  pos is -1 for the file position; rwf the v2 flags. */
static long rwv(struct proc *p, const uint64_t *a, int write, int64_t pos, int rwf)
{
	int h = fd_host(p, argint(a[0])), cnt = argint(a[2]), i;
	struct gseg *seg;
	long r;

	if (h < 0)
		return h;
	if (cnt < 0 || cnt > IOV_MAX)
		return -EINVAL;
	if (cnt == 0)
		return do_rw(p, h, write, NULL, 0, pos, rwf, MAX_RW_COUNT);
	/* struct iovec is { base, len }: the guest's array is a gseg array. */
	seg = malloc(cnt * sizeof *seg);
	if (!seg)
		return -ENOMEM;
	if (mm_copy_in(p->mm, seg, a[1], cnt * sizeof *seg) < 0) {
		free(seg);
		return -EFAULT;
	}
	for (i = 0; i < cnt; i++) {
		if ((int64_t)seg[i].len < 0) {
			free(seg);
			return -EINVAL;
		}
	}
	r = transfer(p, argint(a[0]), h, write, seg, cnt, pos, rwf);
	free(seg);
	return r;
}

long sys_readv(struct proc *p, const uint64_t *a) { return rwv(p, a, 0, -1, 0); }
long sys_writev(struct proc *p, const uint64_t *a) { return rwv(p, a, 1, -1, 0); }

/* On x86-64 the offset is the fourth argument whole; the fifth (the high
 * half on 32-bit) is ignored, as in Linux. */
static long prwv(struct proc *p, const uint64_t *a, int write, int v2)
{
	int64_t pos = (int64_t)a[3];
	int rwf = v2 ? argint(a[5]) : 0;

	if (pos < 0 && !(v2 && pos == -1))
		return -EINVAL;
	if (v2 && pos == -1 && rwf == 0)
		return rwv(p, a, write, -1, 0);
	return rwv(p, a, write, pos, rwf);
}

long sys_preadv(struct proc *p, const uint64_t *a) { return prwv(p, a, 0, 0); }
long sys_pwritev(struct proc *p, const uint64_t *a) { return prwv(p, a, 1, 0); }
long sys_preadv2(struct proc *p, const uint64_t *a) { return prwv(p, a, 0, 1); }
long sys_pwritev2(struct proc *p, const uint64_t *a) { return prwv(p, a, 1, 1); }

/* sendfile and copy_file_range move data between two host descriptors;
 * only the offsets live in guest memory. */
long sys_sendfile(struct proc *p, const uint64_t *a)
{
	int fd = argint(a[0]), out = fd_host(p, fd), in = fd_host(p, argint(a[1]));
	uint64_t count;
	int64_t off;
	long r;

	if (out < 0 || in < 0)
		return -EBADF;
	count = output_room(p, fd, a[3]);
	if (!a[2])
		return output_end(p, fd, a[3], count,
				  hostret(syscall(SYS_sendfile, out, in, NULL, count)));
	if (mm_copy_in(p->mm, &off, a[2], sizeof off) < 0)
		return -EFAULT;
	r = output_end(p, fd, a[3], count, hostret(syscall(SYS_sendfile, out, in, &off, count)));
	if (r >= 0 && mm_copy_out(p->mm, a[2], &off, sizeof off) < 0)
		return -EFAULT;
	return r;
}

long sys_copy_file_range(struct proc *p, const uint64_t *a)
{
	int in = fd_host(p, argint(a[0])), fd = argint(a[2]), out = fd_host(p, fd);
	uint64_t count;
	int64_t off[2];
	uint64_t ptr[2] = { a[1], a[3] };
	long r;
	int i;

	if (in < 0 || out < 0)
		return -EBADF;
	for (i = 0; i < 2; i++)
		if (ptr[i] && mm_copy_in(p->mm, &off[i], ptr[i], sizeof off[i]) < 0)
			return -EFAULT;
	count = output_room(p, fd, a[4]);
	r = output_end(p, fd, a[4], count,
		       hostret(syscall(SYS_copy_file_range, in, ptr[0] ? &off[0] : NULL,
				       out, ptr[1] ? &off[1] : NULL, count, argint(a[5]))));
	for (i = 0; r >= 0 && i < 2; i++)
		if (ptr[i] && mm_copy_out(p->mm, ptr[i], &off[i], sizeof off[i]) < 0)
			return -EFAULT;
	return r;
}
