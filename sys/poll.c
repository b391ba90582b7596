/*
 * poll, ppoll, select and pselect6.
 *
 * All four become one host ppoll over the host descriptors behind the
 * program's.  A signal the program takes ends the wait with EINTR (never
 * restarted, as on Linux); one it does not take (ignored, or blocked)
 * leaves the wait to go on with the time that is left.  ppoll and
 * pselect6 wait with the mask they are given, as sigsuspend does.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define NSEC 1000000000L

/* A timeout as Linux validates it: seconds and nanoseconds not negative,
 * nanoseconds below a second. */
static int valid_ts(const struct timespec *t)
{
	return t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < NSEC;
}

/*
 * Host ppoll on f[0..n) with timeout *t (NULL waits forever).  Restarts
 * on EINTR with the remaining time, and leaves the time that was left in
 * *t.  Returns the host's count or -errno.  In a process with several
 * threads, a wait parks the thread instead (-EPARK).
 */
static long host_poll(struct proc *p, struct pollfd *f, unsigned n, struct timespec *t)
{
	struct timespec zero = { 0, 0 };
	int64_t end = 0, left;
	long r;

	if (thread_many(p) && (!t || t->tv_sec || t->tv_nsec)) {
		r = syscall(SYS_ppoll, f, n, &zero, NULL, 8);
		if (r != 0)
			return hostret(r);
		if (!park_expired(p))
			return park_fds(p, f, n, t);
		if (t)
			*t = zero;
		return 0;
	}
	if (t) {
		/* Timeouts past 2^62 ns (146 years) are forever in practice. */
		if (t->tv_sec > (INT64_MAX / 2) / NSEC)
			t = NULL;
		else
			end = mono_ns() + t->tv_sec * NSEC + t->tv_nsec;
	}
	for (;;) {
		/* A signal already waiting: the descriptors are looked at,
		 * but not waited for. */
		sig_take_host(p);
		if (p->exited || sig_ready(p)) {
			r = syscall(SYS_ppoll, f, n, &zero, NULL, 8);
			return r == 0 ? -EINTR : hostret(r);
		}
		r = syscall(SYS_ppoll, f, n, t, NULL, 8);
		if (t) {
			left = end - mono_ns();
			if (left < 0)
				left = 0;
			t->tv_sec = left / NSEC;
			t->tv_nsec = left % NSEC;
		}
		if (r >= 0 || errno != EINTR)
			return hostret(r);
	}
}

/* ppoll and pselect6: the program waits with its mask replaced by the
 * one at mask (size bytes), if any; a handler that then runs returns to
 * the caller's own mask (saved_mask), as after sigsuspend.  A parked
 * call made again has set both already. */
static int wait_mask(struct proc *p, uint64_t mask, uint64_t size)
{
	uint64_t set;

	if (!mask)
		return 0;
	if (size != 8)
		return -EINVAL;
	if (mm_copy_in(p->mm, &set, mask, sizeof set) < 0)
		return -EFAULT;
	/* Made again after a signal that ran no handler: set already. */
	if (!p->saved_mask_valid && (!p->threads || !p->threads->again)) {
		p->saved_mask = p->sigmask;
		p->saved_mask_valid = 1;
		sig_setmask(p, set);
	}
	return 0;
}

/* The wait is over: the caller's mask again, unless a handler is to
 * run first (signal_after_call restores it through its frame). */
static long wait_mask_done(struct proc *p, uint64_t mask, long r)
{
	if (mask && r != -EPARK && p->saved_mask_valid && !sig_ready(p)) {
		sig_setmask(p, p->saved_mask);
		p->saved_mask_valid = 0;
	}
	return r;
}

/* poll and ppoll: translate the descriptors, wait, copy revents back.
 * A descriptor that is not open reports POLLNVAL, a negative one nothing. */
static long do_poll(struct proc *p, uint64_t ufds, unsigned n, struct timespec *t)
{
	struct pollfd g[PROC_MAX_FDS], h[PROC_MAX_FDS];
	unsigned i, nval = 0;
	long r;

	if (n > (unsigned)fd_limit(p))
		return -EINVAL;
	if (n && mm_copy_in(p->mm, g, ufds, n * sizeof g[0]) < 0)
		return -EFAULT;
	for (i = 0; i < n; i++) {
		h[i].fd = g[i].fd < 0 ? -1 : fd_host(p, g[i].fd);
		h[i].events = g[i].events;
		h[i].revents = 0;
		if (g[i].fd >= 0 && h[i].fd < 0) {
			h[i].fd = -1;
			nval++;
		}
	}
	if (nval) {
		/* Something is ready already: do not wait. */
		struct timespec zero = { 0, 0 };
		r = host_poll(p, h, n, &zero);
	} else {
		r = host_poll(p, h, n, t);
	}
	if (r < 0)
		return r;
	for (r = 0, i = 0; i < n; i++) {
		if (g[i].fd >= 0 && h[i].fd < 0)
			g[i].revents = POLLNVAL;
		else
			g[i].revents = h[i].revents;
		if (g[i].revents)
			r++;
	}
	if (n && mm_copy_out(p->mm, ufds, g, n * sizeof g[0]) < 0)
		return -EFAULT;
	return r;
}

long sys_poll(struct proc *p, const uint64_t *a)
{
	int ms = argint(a[2]);
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	return do_poll(p, a[0], (uint32_t)a[1], ms < 0 ? NULL : &t);
}

long sys_ppoll(struct proc *p, const uint64_t *a)
{
	struct timespec t;
	long r;

	if (a[2]) {
		if (mm_copy_in(p->mm, &t, a[2], sizeof t) < 0)
			return -EFAULT;
		if (!valid_ts(&t))
			return -EINVAL;
	}
	if ((r = wait_mask(p, a[3], a[4])) < 0)
		return r;
	r = wait_mask_done(p, a[3], do_poll(p, a[0], (uint32_t)a[1], a[2] ? &t : NULL));
	/* Linux writes back the time left, and ignores a failure to. */
	if (a[2] && r != -EFAULT)
		mm_copy_out(p->mm, a[2], &t, sizeof t);
	return r;
}

/* --- select --- */

#define FDS_WORDS (PROC_MAX_FDS / 64)

/* Which poll events make a descriptor ready for each of select's sets. */
static const short sel_in = POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR;
static const short sel_out = POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR;
static const short sel_ex = POLLPRI;

static long do_select(struct proc *p, int n, const uint64_t set[3],
		      struct timespec *t)
{
	static const short ask[3] = { POLLIN, POLLOUT, POLLPRI };
	const short ready[3] = { sel_in, sel_out, sel_ex };
	uint64_t in[3][FDS_WORDS], out[3][FDS_WORDS];
	struct pollfd f[PROC_MAX_FDS];
	int fd, k, nf = 0, idx[PROC_MAX_FDS];
	size_t bytes;
	long r;

	if (n < 0)
		return -EINVAL;
	if (n > PROC_MAX_FDS)
		n = PROC_MAX_FDS;
	bytes = (size_t)(n + 63) / 64 * 8;
	memset(in, 0, sizeof in);
	memset(out, 0, sizeof out);
	for (k = 0; k < 3; k++)
		if (set[k] && bytes && mm_copy_in(p->mm, in[k], set[k], bytes) < 0)
			return -EFAULT;
	for (fd = 0; fd < n; fd++) {
		short ev = 0;
		for (k = 0; k < 3; k++)
			if (in[k][fd / 64] >> (fd % 64) & 1)
				ev |= ask[k];
		if (!ev)
			continue;
		if ((f[nf].fd = fd_host(p, fd)) < 0)
			return -EBADF;
		f[nf].events = ev;
		f[nf].revents = 0;
		idx[nf++] = fd;
	}
	if ((r = host_poll(p, f, nf, t)) < 0)
		return r;
	r = 0;
	for (k = 0; k < nf; k++) {
		int i;
		fd = idx[k];
		for (i = 0; i < 3; i++) {
			if ((in[i][fd / 64] >> (fd % 64) & 1) && (f[k].revents & ready[i])) {
				out[i][fd / 64] |= 1ULL << (fd % 64);
				r++;
			}
		}
	}
	for (k = 0; k < 3; k++)
		if (set[k] && bytes && mm_copy_out(p->mm, set[k], out[k], bytes) < 0)
			return -EFAULT;
	return r;
}

long sys_select(struct proc *p, const uint64_t *a)
{
	const uint64_t set[3] = { a[1], a[2], a[3] };
	struct { int64_t sec, usec; } tv;
	struct timespec t;
	long r;

	if (a[4]) {
		if (mm_copy_in(p->mm, &tv, a[4], sizeof tv) < 0)
			return -EFAULT;
		/* Linux folds whole seconds out of tv_usec before checking. */
		t.tv_sec = tv.sec + tv.usec / 1000000;
		t.tv_nsec = tv.usec % 1000000 * 1000;
		if (!valid_ts(&t))
			return -EINVAL;
	}
	r = do_select(p, argint(a[0]), set, a[4] ? &t : NULL);
	if (a[4] && r != -EFAULT) {
		tv.sec = t.tv_sec;
		tv.usec = t.tv_nsec / 1000;
		mm_copy_out(p->mm, a[4], &tv, sizeof tv);
	}
	return r;
}

long sys_pselect6(struct proc *p, const uint64_t *a)
{
	const uint64_t set[3] = { a[1], a[2], a[3] };
	struct timespec t;
	uint64_t sig[2] = { 0, 0 };  /* { const sigset_t *ss; size_t ss_len; } */
	long r;

	if (a[4]) {
		if (mm_copy_in(p->mm, &t, a[4], sizeof t) < 0)
			return -EFAULT;
		if (!valid_ts(&t))
			return -EINVAL;
	}
	if (a[5]) {
		if (mm_copy_in(p->mm, sig, a[5], sizeof sig) < 0)
			return -EFAULT;
		if ((r = wait_mask(p, sig[0], sig[1])) < 0)
			return r;
	}
	r = wait_mask_done(p, sig[0], do_select(p, argint(a[0]), set, a[4] ? &t : NULL));
	if (a[4] && r != -EFAULT)
		mm_copy_out(p->mm, a[4], &t, sizeof t);
	return r;
}

/* --- epoll and eventfd: the host's own, on the host descriptors --- */

#define EP_MAX_EVENTS 1024      /* per call; the program calls again for more */

static long epoll_install(struct proc *p, int cloexec)
{
	int h = epoll_create1(EPOLL_CLOEXEC);

	return h < 0 ? -errno : fd_install(p, h, cloexec, 0);
}

long sys_epoll_create(struct proc *p, const uint64_t *a)
{
	return argint(a[0]) <= 0 ? -EINVAL : epoll_install(p, 0);
}

long sys_epoll_create1(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[0]);

	return flags & ~EPOLL_CLOEXEC ? -EINVAL : epoll_install(p, flags & EPOLL_CLOEXEC);
}

/* The event's data is the program's own: it comes back as it was given. */
long sys_epoll_ctl(struct proc *p, const uint64_t *a)
{
	int ep = fd_host(p, argint(a[0])), h = fd_host(p, argint(a[2]));
	int op = argint(a[1]);
	struct epoll_event ev = { 0 };

	if (ep < 0 || h < 0)
		return -EBADF;
	if (op != EPOLL_CTL_DEL && mm_copy_in(p->mm, &ev, a[3], sizeof ev) < 0)
		return -EFAULT;
	return hostret(epoll_ctl(ep, op, h, &ev));
}

static long do_epoll_wait(struct proc *p, const uint64_t *a, int ms)
{
	struct epoll_event ev[EP_MAX_EVENTS];
	int ep = fd_host(p, argint(a[0])), max = argint(a[2]);
	long r;

	if (ep < 0)
		return -EBADF;
	if (max <= 0 || max > INT_MAX / (int)sizeof ev[0])
		return -EINVAL;
	if (max > EP_MAX_EVENTS)
		max = EP_MAX_EVENTS;
	if (thread_many(p) && ms != 0) {
		struct timespec t = { ms / 1000, ms % 1000 * 1000000L };
		struct pollfd f = { ep, POLLIN, 0 };
		r = hostret(epoll_wait(ep, ev, max, 0));
		if (r == 0 && !park_expired(p))
			return park_fds(p, &f, 1, ms < 0 ? NULL : &t);
	} else {
		/* A signal already waiting: look, do not wait (as host_poll). */
		sig_take_host(p);
		int now = ms != 0 && (p->exited || sig_ready(p));
		r = hostret(epoll_wait(ep, ev, max, now ? 0 : ms));
		if (r == 0 && now)
			r = -EINTR;
	}
	if (r > 0 && mm_copy_out(p->mm, a[1], ev, r * sizeof ev[0]) < 0)
		return -EFAULT;
	return r;
}

long sys_epoll_wait(struct proc *p, const uint64_t *a)
{
	return do_epoll_wait(p, a, argint(a[3]));
}

/* With the mask given, as ppoll. */
long sys_epoll_pwait(struct proc *p, const uint64_t *a)
{
	long r = wait_mask(p, a[4], a[5]);

	return r < 0 ? r : wait_mask_done(p, a[4], do_epoll_wait(p, a, argint(a[3])));
}

long sys_eventfd2(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[1]);
	int h;

	if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE))
		return -EINVAL;
	h = eventfd((unsigned)a[0], (flags & ~EFD_CLOEXEC) | EFD_CLOEXEC);
	return h < 0 ? -errno : fd_install(p, h, flags & EFD_CLOEXEC, 0);
}

long sys_eventfd(struct proc *p, const uint64_t *a)
{
	const uint64_t b[2] = { a[0], 0 };

	return sys_eventfd2(p, b);
}
