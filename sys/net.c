/*
 * Sockets, for programs whose policy allows inet or unix (the policy gate
 * in sys_call has already checked the domain).  Without either, as under
 * a plain `exec`, socket() fails with EACCES: the network is not offered.
 *
 * Each call is the host's own on the host descriptor behind the guest's;
 * addresses and option values are copied through bounded buffers, data
 * moves through mm_iov without copies.  Descriptors cannot travel in
 * control messages: they would be host numbers, so SCM_RIGHTS is refused
 * on send and any received are closed, with MSG_CTRUNC, as when a
 * receiver's buffer is too small.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "internal.h"

#define NET_IOV 64
#define ADDR_MAX 128            /* sizeof(struct sockaddr_storage) */
#define OPT_MAX 1024
#define CTL_MAX 1024

static int sock_host(struct proc *p, uint64_t fd)
{
	return fd_host(p, argint(fd));
}

/* Installs new host socket h as a guest descriptor. */
static long install(struct proc *p, long h, int flags)
{
	if (h < 0)
		return h;
	return fd_install(p, (int)h, flags & SOCK_CLOEXEC, 0);
}

long sys_socket(struct proc *p, const uint64_t *a)
{
	int type = argint(a[1]);

	if (!p->net)
		return -EACCES;
	return install(p, hostret(syscall(SYS_socket, argint(a[0]), type | SOCK_CLOEXEC,
					  argint(a[2]))), type);
}

long sys_socketpair(struct proc *p, const uint64_t *a)
{
	int type = argint(a[1]), h[2], fd[2];

	/* A connected pair of unnamed AF_UNIX sockets reaches nothing
	 * outside the program, like a pipe: it needs no network. */
	if (!p->net && argint(a[0]) != AF_UNIX)
		return -EACCES;
	long r = hostret(syscall(SYS_socketpair, argint(a[0]), type | SOCK_CLOEXEC,
				 argint(a[2]), h));
	if (r < 0)
		return r;
	if ((fd[0] = (int)install(p, h[0], type)) < 0) {
		close(h[1]);
		return fd[0];
	}
	if ((fd[1] = (int)install(p, h[1], type)) < 0) {
		uint64_t c = (uint64_t)fd[0];
		sys_close(p, &c);
		return fd[1];
	}
	if (mm_copy_out(p->mm, a[3], fd, sizeof fd) < 0) {
		for (int i = 0; i < 2; i++) {
			uint64_t c = (uint64_t)fd[i];
			sys_close(p, &c);
		}
		return -EFAULT;
	}
	return 0;
}

/* An address the program passes in: at most ADDR_MAX bytes. */
static long addr_in(struct proc *p, uint64_t gva, uint64_t len, char *buf)
{
	if ((int)len < 0 || len > ADDR_MAX)
		return -EINVAL;
	if (len && mm_copy_in(p->mm, buf, gva, len) < 0)
		return -EFAULT;
	return (long)len;
}

/* connect and bind: (fd, addr, len). */
static long with_addr(struct proc *p, const uint64_t *a, long nr)
{
	char addr[ADDR_MAX];
	int h = sock_host(p, a[0]);
	long len = addr_in(p, a[1], a[2], addr);

	if (h < 0)
		return h;
	if (len < 0)
		return len;
	return hostret(syscall(nr, h, addr, (socklen_t)len));
}

long sys_connect(struct proc *p, const uint64_t *a) { return with_addr(p, a, SYS_connect); }
long sys_bind(struct proc *p, const uint64_t *a) { return with_addr(p, a, SYS_bind); }

long sys_listen(struct proc *p, const uint64_t *a)
{
	int h = sock_host(p, a[0]);

	return h < 0 ? h : hostret(syscall(SYS_listen, h, argint(a[1])));
}

long sys_shutdown(struct proc *p, const uint64_t *a)
{
	int h = sock_host(p, a[0]);

	return h < 0 ? h : hostret(syscall(SYS_shutdown, h, argint(a[1])));
}

/*
 * An address the host fills in, for a guest (addr, lenp) pair: *lenp is
 * read, the host's length written back as Linux does (the full length,
 * even when the address was cut to fit).
 */
struct addr_out {
	char buf[ADDR_MAX];
	socklen_t len, cap;
};

static long addr_out_begin(struct proc *p, uint64_t gva, uint64_t lenp, struct addr_out *o)
{
	int cap;

	o->len = o->cap = 0;
	if (!gva)
		return 0;
	if (mm_copy_in(p->mm, &cap, lenp, sizeof cap) < 0)
		return -EFAULT;
	if (cap < 0)
		return -EINVAL;
	o->cap = (socklen_t)cap;
	o->len = sizeof o->buf;
	return 0;
}

static long addr_out_end(struct proc *p, uint64_t gva, uint64_t lenp, struct addr_out *o)
{
	socklen_t n = o->len < o->cap ? o->len : o->cap;

	if (!gva)
		return 0;
	if (mm_copy_out(p->mm, gva, o->buf, n) < 0 ||
	    mm_copy_out(p->mm, lenp, &o->len, sizeof o->len) < 0)
		return -EFAULT;
	return 0;
}

static long accept_common(struct proc *p, const uint64_t *a, int flags)
{
	struct addr_out o;
	int h = sock_host(p, a[0]);
	long r;

	if (h < 0)
		return h;
	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return -EINVAL;
	if ((r = addr_out_begin(p, a[1], a[2], &o)) < 0)
		return r;
	r = hostret(syscall(SYS_accept4, h, a[1] ? o.buf : NULL, a[1] ? &o.len : NULL,
			    flags | SOCK_CLOEXEC));
	if (r < 0)
		return r;
	if (addr_out_end(p, a[1], a[2], &o) < 0) {
		close((int)r);
		return -EFAULT;
	}
	return install(p, r, flags);
}

long sys_accept(struct proc *p, const uint64_t *a) { return accept_common(p, a, 0); }
long sys_accept4(struct proc *p, const uint64_t *a) { return accept_common(p, a, argint(a[3])); }

/* getsockname and getpeername: (fd, addr, lenp). */
static long name_of(struct proc *p, const uint64_t *a, long nr)
{
	struct addr_out o;
	int h = sock_host(p, a[0]);
	long r;

	if (h < 0)
		return h;
	if (!a[1] || (r = addr_out_begin(p, a[1], a[2], &o)) < 0)
		return a[1] ? r : -EFAULT;
	if ((r = hostret(syscall(nr, h, o.buf, &o.len))) < 0)
		return r;
	return addr_out_end(p, a[1], a[2], &o);
}

long sys_getsockname(struct proc *p, const uint64_t *a) { return name_of(p, a, SYS_getsockname); }
long sys_getpeername(struct proc *p, const uint64_t *a) { return name_of(p, a, SYS_getpeername); }

long sys_setsockopt(struct proc *p, const uint64_t *a)
{
	char val[OPT_MAX];
	int h = sock_host(p, a[0]), len = argint(a[4]);

	if (h < 0)
		return h;
	if (len < 0 || len > OPT_MAX)
		return -EINVAL;
	if (len && mm_copy_in(p->mm, val, a[3], len) < 0)
		return -EFAULT;
	return hostret(syscall(SYS_setsockopt, h, argint(a[1]), argint(a[2]), val, len));
}

long sys_getsockopt(struct proc *p, const uint64_t *a)
{
	char val[OPT_MAX];
	int h = sock_host(p, a[0]), cap;
	socklen_t len;
	long r;

	if (h < 0)
		return h;
	if (mm_copy_in(p->mm, &cap, a[4], sizeof cap) < 0)
		return -EFAULT;
	if (cap < 0)
		return -EINVAL;
	len = cap > OPT_MAX ? OPT_MAX : (socklen_t)cap;
	if ((r = hostret(syscall(SYS_getsockopt, h, argint(a[1]), argint(a[2]), val, &len))) < 0)
		return r;
	if (mm_copy_out(p->mm, a[3], val, len) < 0 ||
	    mm_copy_out(p->mm, a[4], &len, sizeof len) < 0)
		return -EFAULT;
	return 0;
}

/* The guest's buffers [gva, gva+len) as host iovecs appended at iov[*n]. */
static int add_iov(struct proc *p, uint64_t gva, uint64_t len, int write,
		   struct iovec *iov, int *n)
{
	if (len == 0)
		return 0;
	int k = mm_iov(p->mm, gva, len, write, iov + *n, NET_IOV - *n);
	if (k < 0)
		return -EFAULT;
	*n += k;
	return 0;
}

/* struct msghdr as the x86-64 kernel lays it out. */
struct guest_msghdr {
	uint64_t name;
	uint32_t namelen, pad;
	uint64_t iov, iovlen, ctl, ctllen;
	int32_t flags;
};

/* The guest's msghdr with its iovecs, name and control data, as a host
 * msghdr over bounded copies and zero-copy data. */
struct hmsg {
	struct msghdr m;
	struct iovec iov[NET_IOV];
	char name[ADDR_MAX];
	char ctl[CTL_MAX];
	struct guest_msghdr g;
};

static long msg_in(struct proc *p, uint64_t gva, int write, struct hmsg *h)
{
	struct { uint64_t base, len; } seg;
	int n = 0;

	if (mm_copy_in(p->mm, &h->g, gva, sizeof h->g) < 0)
		return -EFAULT;
	if (h->g.iovlen > 1024 || h->g.namelen > ADDR_MAX)
		return -EINVAL;
	for (uint64_t i = 0; i < h->g.iovlen && n < NET_IOV; i++) {
		if (mm_copy_in(p->mm, &seg, h->g.iov + i * sizeof seg, sizeof seg) < 0)
			return -EFAULT;
		if (add_iov(p, seg.base, seg.len, write, h->iov, &n) < 0)
			return -EFAULT;
	}
	memset(&h->m, 0, sizeof h->m);
	h->m.msg_iov = h->iov;
	h->m.msg_iovlen = n;
	if (h->g.name) {
		h->m.msg_name = h->name;
		h->m.msg_namelen = h->g.namelen;
		if (!write && mm_copy_in(p->mm, h->name, h->g.name, h->g.namelen) < 0)
			return -EFAULT;
	}
	if (h->g.ctl && h->g.ctllen) {
		h->m.msg_control = h->ctl;
		h->m.msg_controllen = h->g.ctllen > CTL_MAX ? CTL_MAX : h->g.ctllen;
		if (!write && mm_copy_in(p->mm, h->ctl, h->g.ctl, h->m.msg_controllen) < 0)
			return -EFAULT;
	}
	return 0;
}

/* Whether control data carries descriptors, which cannot cross. */
static int has_rights(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			return 1;
	return 0;
}

/* Closes descriptors the host received for the guest, which has no
 * slot that could name them, and says the control data was cut. */
static void drop_rights(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(c);
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		m->msg_controllen = 0;
		m->msg_flags |= MSG_CTRUNC;
		return;
	}
}

/* A send that the program asked not to signal must not be given SIGPIPE
 * by sys_call's EPIPE rule. */
static long sent(struct proc *p, int flags, long r)
{
	if (r == -EPIPE && (flags & MSG_NOSIGNAL))
		p->no_sigpipe = 1;
	return r;
}

long sys_sendmsg(struct proc *p, const uint64_t *a)
{
	struct hmsg h;
	int s = sock_host(p, a[0]);
	long r;

	if (s < 0)
		return s;
	if ((r = msg_in(p, a[1], 0, &h)) < 0)
		return r;
	if (h.m.msg_control && has_rights(&h.m))
		return -EINVAL;
	return sent(p, argint(a[2]), hostret(syscall(SYS_sendmsg, s, &h.m, argint(a[2]) | MSG_NOSIGNAL)));
}

long sys_recvmsg(struct proc *p, const uint64_t *a)
{
	struct hmsg h;
	int s = sock_host(p, a[0]);
	uint32_t namelen;
	uint64_t ctllen;
	long r;

	if (s < 0)
		return s;
	if ((r = msg_in(p, a[1], 1, &h)) < 0)
		return r;
	r = hostret(syscall(SYS_recvmsg, s, &h.m, argint(a[2]) | MSG_CMSG_CLOEXEC));
	if (r < 0)
		return r;
	drop_rights(&h.m);
	/* The kernel echoes the flag we added; the program did not ask. */
	if (!(argint(a[2]) & MSG_CMSG_CLOEXEC))
		h.m.msg_flags &= ~MSG_CMSG_CLOEXEC;
	namelen = h.m.msg_namelen;
	ctllen = h.m.msg_controllen;
	if ((h.g.name && mm_copy_out(p->mm, h.g.name, h.name,
				     namelen < h.g.namelen ? namelen : h.g.namelen) < 0) ||
	    (ctllen && mm_copy_out(p->mm, h.g.ctl, h.ctl, ctllen) < 0) ||
	    mm_copy_out(p->mm, a[1] + offsetof(struct guest_msghdr, namelen), &namelen, sizeof namelen) < 0 ||
	    mm_copy_out(p->mm, a[1] + offsetof(struct guest_msghdr, ctllen), &ctllen, sizeof ctllen) < 0 ||
	    mm_copy_out(p->mm, a[1] + offsetof(struct guest_msghdr, flags), &h.m.msg_flags, sizeof(int)) < 0)
		return -EFAULT;
	return r;
}

/* sendto and recvfrom: one buffer, an optional address. */
long sys_sendto(struct proc *p, const uint64_t *a)
{
	struct iovec iov[NET_IOV];
	char addr[ADDR_MAX];
	int s = sock_host(p, a[0]), n = 0;
	long len = a[4] ? addr_in(p, a[4], a[5], addr) : 0;
	struct msghdr m = { .msg_name = a[4] ? addr : NULL, .msg_namelen = (socklen_t)len,
			    .msg_iov = iov };

	if (s < 0)
		return s;
	if (len < 0)
		return len;
	if (add_iov(p, a[1], a[2], 0, iov, &n) < 0)
		return -EFAULT;
	m.msg_iovlen = n;
	return sent(p, argint(a[3]), hostret(syscall(SYS_sendmsg, s, &m, argint(a[3]) | MSG_NOSIGNAL)));
}

long sys_recvfrom(struct proc *p, const uint64_t *a)
{
	struct iovec iov[NET_IOV];
	struct addr_out o;
	int s = sock_host(p, a[0]), n = 0;
	long r;

	if (s < 0)
		return s;
	if ((r = addr_out_begin(p, a[4], a[5], &o)) < 0)
		return r;
	if (add_iov(p, a[1], a[2], 1, iov, &n) < 0)
		return -EFAULT;
	struct msghdr m = { .msg_name = a[4] ? o.buf : NULL, .msg_namelen = a[4] ? o.len : 0,
			    .msg_iov = iov, .msg_iovlen = n };
	r = hostret(syscall(SYS_recvmsg, s, &m, argint(a[3])));
	if (r < 0)
		return r;
	o.len = m.msg_namelen;
	return addr_out_end(p, a[4], a[5], &o) < 0 ? -EFAULT : r;
}
