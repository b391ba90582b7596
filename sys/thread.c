/*
 * Threads: clone's thread form, a thread's exit, futexes between threads,
 * thread-directed signals, and parking calls that would block.
 *
 * The threads of a process take turns on its one vCPU; the monitor
 * switches between them during exits (sys.h, docs/design.md).  This file
 * keeps their table and decides who runs next; it never touches the
 * vCPU.  While one thread runs, every other is ready (preempted, or with
 * its syscall's result known) or parked in a syscall that would have
 * blocked.  Parking is what lets a thread wait on a futex or a pipe while
 * the others run: a blocking host call would stop them all.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define NSEC 1000000000LL
/* How often a call that cannot be watched (wait4, poll on very many
 * descriptors) is made again. */
#define RECHECK_NS 2000000LL
/* Thread ids start past Linux's largest pid (PID_MAX_LIMIT, 2^22), so a
 * tid never names another process. */
#define FIRST_TID 0x400000
#define LAST_TID 0x3fffffff     /* FUTEX_TID_MASK */

/* The clone flags of a thread: what pthread_create and Go pass.  Each
 * thread shares everything but its registers and the fields below. */
#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
		      CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | \
		      CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED)
#define THREAD_NEEDS (CLONE_VM | CLONE_SIGHAND | CLONE_THREAD)

int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * NSEC + t.tv_nsec;
}

static struct thread *running(struct proc *p)
{
	return &p->threads->t[p->threads->cur];
}

static void save_fields(const struct proc *p, struct thread *t)
{
	t->tid = p->tid;
	t->sigmask = p->sigmask;
	t->saved_mask = p->saved_mask;
	t->saved_mask_valid = p->saved_mask_valid;
	t->tid_address = p->tid_address;
	t->robust_list = p->robust_list;
	t->robust_len = p->robust_len;
	t->fs_base = p->fs_base;
	t->gs_base = p->gs_base;
	t->altstack.sp = p->altstack.sp;
	t->altstack.size = p->altstack.size;
	t->altstack.flags = p->altstack.flags;
}

static void load_fields(struct proc *p, const struct thread *t)
{
	p->tid = t->tid;
	p->sigmask = t->sigmask;
	p->saved_mask = t->saved_mask;
	p->saved_mask_valid = t->saved_mask_valid;
	p->tid_address = t->tid_address;
	p->robust_list = t->robust_list;
	p->robust_len = t->robust_len;
	p->fs_base = t->fs_base;
	p->gs_base = t->gs_base;
	p->altstack.sp = t->altstack.sp;
	p->altstack.size = t->altstack.size;
	p->altstack.flags = t->altstack.flags;
	p->fs_dirty = 1;
}

static struct thread *by_tid(struct proc *p, int tid)
{
	for (int i = 0; i < PROC_MAX_THREADS; i++)
		if (p->threads->t[i].state != T_FREE && p->threads->t[i].tid == tid)
			return &p->threads->t[i];
	return NULL;
}

static pid_t new_tid(struct proc *p)
{
	struct threads *ts = p->threads;
	pid_t tid;

	do {
		tid = FIRST_TID + (pid_t)(((uint64_t)p->pid * 4096 + ts->seq++) %
					  (LAST_TID - FIRST_TID));
	} while (by_tid(p, tid));
	return tid;
}

/* The table, made at the first thread clone: the caller is thread 0. */
static struct threads *table(struct proc *p)
{
	struct threads *ts = p->threads;

	if (ts)
		return ts;
	if (!(ts = calloc(1, sizeof *ts)))
		return NULL;
	ts->n = 1;
	ts->born = -1;
	ts->t[0].state = T_RUNNING;
	p->threads = ts;
	return ts;
}

long thread_clone(struct proc *p, uint64_t flags, uint64_t stack, uint64_t ptid,
		  uint64_t ctid, uint64_t tls)
{
	struct threads *ts;
	struct thread *t = NULL;
	pid_t tid;

	if ((flags & THREAD_NEEDS) != THREAD_NEEDS || (flags & ~(uint64_t)THREAD_FLAGS))
		return -EINVAL;
	if (!(ts = table(p)))
		return -ENOMEM;
	for (int i = 0; i < PROC_MAX_THREADS && !t; i++)
		if (ts->t[i].state == T_FREE) {
			t = &ts->t[i];
			ts->born = i;
		}
	if (!t)
		return -EAGAIN;
	tid = new_tid(p);
	if (((flags & CLONE_PARENT_SETTID) && mm_copy_out(p->mm, ptid, &tid, sizeof tid) < 0) ||
	    ((flags & CLONE_CHILD_SETTID) && mm_copy_out(p->mm, ctid, &tid, sizeof tid) < 0)) {
		ts->born = -1;
		return -EFAULT;
	}
	memset(t, 0, sizeof *t);
	save_fields(p, t);
	/* A new thread has no alternate signal stack and no robust list. */
	t->tid = tid;
	t->altstack.sp = t->altstack.size = 0;
	t->altstack.flags = SS_DISABLE;
	t->saved_mask_valid = 0;
	t->robust_list = t->robust_len = 0;
	t->tid_address = flags & CLONE_CHILD_CLEARTID ? ctid : 0;
	if (flags & CLONE_SETTLS)
		t->fs_base = tls;
	t->park.arg[1] = stack;         /* for the monitor: where it starts */
	t->state = T_READY;
	t->resume = RESUME_RESULT;
	t->result = 0;
	ts->n++;
	return tid;
}

/* --- futexes between the threads of one process --- */

/* Wakes up to n threads waiting on addr with a bit of bitset, oldest
 * first.  Returns how many. */
static int futex_wake(struct proc *p, uint64_t addr, uint32_t bitset, int n)
{
	struct threads *ts = p->threads;
	int woken = 0;

	while (woken < n) {
		struct thread *oldest = NULL;
		for (int i = 0; i < PROC_MAX_THREADS; i++) {
			struct thread *t = &ts->t[i];
			if (t->state == T_PARKED && t->park.kind == PARK_FUTEX &&
			    t->park.futex == addr && (t->park.bitset & bitset) &&
			    (!oldest || t->park.order < oldest->park.order))
				oldest = t;
		}
		if (!oldest)
			break;
		oldest->state = T_READY;
		oldest->resume = RESUME_RESULT;
		oldest->result = 0;
		woken++;
	}
	return woken;
}

/* Moves up to n waiters from addr to addr2. */
static int futex_requeue(struct proc *p, uint64_t addr, uint64_t addr2, int n)
{
	int moved = 0;

	for (int i = 0; i < PROC_MAX_THREADS && moved < n; i++) {
		struct thread *t = &p->threads->t[i];
		if (t->state == T_PARKED && t->park.kind == PARK_FUTEX && t->park.futex == addr) {
			t->park.futex = addr2;
			moved++;
		}
	}
	return moved;
}

int thread_many(struct proc *p)
{
	return p->threads && p->threads->n > 1;
}

/* The deadline of a wait that lasts rel (NULL: none).  A call made again
 * keeps the deadline it had the first time. */
static int64_t deadline_in(struct proc *p, const struct timespec *rel)
{
	if (p->threads->again)
		return running(p)->park.deadline;
	return rel ? deadline_after(p, rel) : 0;
}

static long park(struct proc *p, int kind, int64_t deadline)
{
	struct park *k = &running(p)->park;

	k->kind = kind;
	k->deadline = deadline;
	k->nfds = 0;
	k->recheck_at = kind == PARK_RECHECK ? mono_ns() + RECHECK_NS : 0;
	return -EPARK;
}

long park_fds(struct proc *p, const struct pollfd *f, unsigned n, const struct timespec *t)
{
	struct park *k = &running(p)->park;
	long r = park(p, PARK_FDS, deadline_in(p, t));

	if (n > PARK_MAX_FDS) {
		k->nfds = -1;
		k->recheck_at = mono_ns() + RECHECK_NS;
		return r;
	}
	k->nfds = (int)n;
	for (unsigned i = 0; i < n; i++) {
		k->fds[i].fd = f[i].fd;
		k->fds[i].events = f[i].events;
	}
	return r;
}

long park_futex(struct proc *p, uint64_t addr, uint32_t bitset, int64_t deadline)
{
	struct park *k = &running(p)->park;

	k->futex = addr;
	k->bitset = bitset;
	return park(p, PARK_FUTEX, deadline);
}

long park_sleep(struct proc *p, int64_t deadline)
{
	return park(p, PARK_SLEEP, deadline);
}

long park_signal(struct proc *p, uint64_t want, const struct timespec *t)
{
	running(p)->park.want = want;
	return park(p, PARK_SIGNAL, deadline_in(p, t));
}

long park_yield(struct proc *p)
{
	return park(p, PARK_YIELD, 0);
}

long park_recheck(struct proc *p)
{
	return park(p, PARK_RECHECK, 0);
}

int park_expired(struct proc *p)
{
	return p->threads && p->threads->expired;
}

/* Now on the scheduler's clock: CLOCK_MONOTONIC, or under
 * --deterministic the run's own clock, which moves only while every
 * thread waits.  Then the order in which sleeps and timeouts end
 * depends on the program alone, not on how fast the host ran it. */
static int64_t sched_now(const struct proc *p)
{
	return p->deterministic && p->threads ? p->threads->vclock : mono_ns();
}

/* Deadlines saturate far out. */
static int64_t deadline_in_ns(struct proc *p, int64_t left)
{
	if (left > INT64_MAX / 4)
		return INT64_MAX / 2;
	return sched_now(p) + (left > 0 ? left : 0) + 1;
}

int64_t deadline_after(struct proc *p, const struct timespec *rel)
{
	if (rel->tv_sec > INT64_MAX / 4 / NSEC)
		return INT64_MAX / 2;
	return deadline_in_ns(p, rel->tv_sec * NSEC + rel->tv_nsec);
}

int64_t deadline_at(struct proc *p, clockid_t c, const struct timespec *abs)
{
	struct timespec now;

	clock_gettime(c, &now);
	if (abs->tv_sec - now.tv_sec > INT64_MAX / 4 / NSEC)
		return INT64_MAX / 2;
	return deadline_in_ns(p, (abs->tv_sec - now.tv_sec) * NSEC + (abs->tv_nsec - now.tv_nsec));
}

long thread_futex(struct proc *p, int cmd, const uint64_t *a, int64_t deadline)
{
	uint32_t bitset = cmd == 9 || cmd == 10 ? (uint32_t)a[5] : ~0u;

	switch (cmd) {
	case 0: case 9:                 /* FUTEX_WAIT(_BITSET): the value matched */
		return park_futex(p, a[0], bitset, deadline);
	case 1: case 10:                /* FUTEX_WAKE(_BITSET) */
		return futex_wake(p, a[0], bitset, argint(a[2]));
	default: {                      /* FUTEX_(CMP_)REQUEUE */
		int woken = futex_wake(p, a[0], ~0u, argint(a[2]));
		int moved = futex_requeue(p, a[0], a[4], argint(a[3]));
		return cmd == 4 ? woken + moved : woken;
	}
	}
}

/* --- the calls that block on one descriptor --- */

/* The event a call waits for on its descriptor a[0], or 0 if it does not
 * wait on one (or asked not to). */
static short fd_event(uint64_t nr, const uint64_t *a)
{
	switch (nr) {
	case SYS_recvfrom: case SYS_sendto:
		if (a[3] & MSG_DONTWAIT)
			return 0;
		return nr == SYS_recvfrom ? POLLIN : POLLOUT;
	case SYS_recvmsg: case SYS_sendmsg:
		if (a[2] & MSG_DONTWAIT)
			return 0;
		return nr == SYS_recvmsg ? POLLIN : POLLOUT;
	case SYS_read: case SYS_readv: case SYS_accept: case SYS_accept4:
		return POLLIN;
	case SYS_write: case SYS_writev:
		return POLLOUT;
	}
	return 0;
}

/* Whether the call would wait for its descriptor a[0]: it is blocking
 * and not ready (f says for what).  A ready one, or an error the call
 * will report, does not wait. */
static int fd_waits(struct proc *p, uint64_t nr, const uint64_t *a, struct pollfd *f)
{
	short ev = fd_event(nr, a);
	int h, fl;

	if (!ev || (h = fd_host(p, argint(a[0]))) < 0)
		return 0;
	fl = fcntl(h, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return 0;
	*f = (struct pollfd){ h, ev, 0 };
	return poll(f, 1, 0) == 0;
}

int thread_probe(struct proc *p, uint64_t nr, const uint64_t *a)
{
	struct pollfd f;

	if (!fd_waits(p, nr, a, &f))
		return 0;
	park_fds(p, &f, 1, NULL);
	return 1;
}

int sys_may_block(struct proc *p, uint64_t nr, const uint64_t *a)
{
	struct pollfd f;

	switch (nr) {
	case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_pause: case SYS_rt_sigsuspend:
	case SYS_rt_sigtimedwait: case SYS_ppoll: case SYS_select: case SYS_pselect6:
	case SYS_connect:
		return 1;
	case SYS_poll:
		return argint(a[2]) != 0;
	case SYS_epoll_wait: case SYS_epoll_pwait:
		return argint(a[3]) != 0;
	case SYS_futex:                 /* WAIT, WAIT_BITSET */
		return (argint(a[1]) & 127) == 0 || (argint(a[1]) & 127) == 9;
	case SYS_wait4:
		return !(argint(a[2]) & WNOHANG);
	case SYS_waitid:
		return !(argint(a[3]) & WNOHANG);
	}
	return fd_waits(p, nr, a, &f);
}

/* --- signals to one thread --- */

long thread_kill(struct proc *p, int tid, int sig)
{
	struct thread *t = p->threads ? by_tid(p, tid) : NULL;

	if (!t)
		return -ESRCH;
	if (sig)
		t->tpending |= 1ULL << (sig - 1);
	return 0;
}

/* --- exit of one thread --- */

void thread_exit(struct proc *p)
{
	struct threads *ts = p->threads;
	uint32_t zero = 0;

	/* CLONE_CHILD_CLEARTID: pthread_join waits on this word. */
	if (p->tid_address && mm_copy_out(p->mm, p->tid_address, &zero, sizeof zero) == 0)
		futex_wake(p, p->tid_address, ~0u, 1);
	running(p)->state = T_FREE;
	ts->n--;
	ts->died = 1;
}

/* --- scheduling --- */

/* How parked thread t goes on now, or -1 if it still waits.  now is
 * CLOCK_MONOTONIC (for rechecks); vnow the scheduler's clock (for
 * deadlines), or -1 to leave deadlines out. */
static int due(const struct proc *p, const struct thread *t, int64_t now, int64_t vnow,
	       long *result)
{
	const struct park *k = &t->park;
	uint64_t sigs = p->sigpending | t->tpending;

	*result = 0;
	if (k->kind == PARK_YIELD)
		return RESUME_RESULT;
	if (k->kind == PARK_SIGNAL && (sigs & (~t->sigmask | k->want)))
		return RESUME_AGAIN;
	if (sigs & ~t->sigmask) {
		*result = -EINTR;
		return RESUME_RESULT;
	}
	if (vnow >= 0 && k->deadline && vnow >= k->deadline) {
		if (k->kind == PARK_FUTEX)
			*result = -ETIMEDOUT;
		return k->kind == PARK_FUTEX || k->kind == PARK_SLEEP ? RESUME_RESULT : RESUME_EXPIRED;
	}
	if (k->recheck_at && now >= k->recheck_at)
		return RESUME_AGAIN;
	if (k->kind == PARK_FDS && k->nfds > 0 &&
	    poll((struct pollfd *)k->fds, (nfds_t)k->nfds, 0) > 0)
		return RESUME_AGAIN;
	return -1;
}

/* Whether thread i can run now; if so, sets how it goes on. */
static int runnable(struct proc *p, int i, int64_t now, int64_t vnow)
{
	struct thread *t = &p->threads->t[i];
	int how;

	if (t->state == T_READY)
		return 1;
	if (t->state != T_PARKED || (how = due(p, t, now, vnow, &t->result)) < 0)
		return 0;
	t->resume = how;
	return 1;
}

static void switch_to(struct proc *p, int i)
{
	struct thread *t = &p->threads->t[i];
	uint64_t sigs = t->tpending;

	p->threads->cur = i;
	t->state = T_RUNNING;
	t->tpending = 0;
	load_fields(p, t);
	for (int sig = 1; sigs; sig++, sigs >>= 1)
		if (sigs & 1)
			sig_send(p, sig, SI_TKILL);
}

/* The parked thread with the earliest deadline (the lowest index of
 * equals), or -1. */
static int earliest(const struct proc *p)
{
	int best = -1;

	for (int i = 0; i < PROC_MAX_THREADS; i++) {
		const struct thread *t = &p->threads->t[i];
		if (t->state == T_PARKED && t->park.deadline &&
		    (best < 0 || t->park.deadline < p->threads->t[best].park.deadline))
			best = i;
	}
	return best;
}

/* Nothing can run: sleeps until a watched descriptor is ready, a parked
 * wait's time is up, at most max ns (-1: no bound), or a signal for the
 * program comes (its kick).  SIG_KICK is let through only inside ppoll,
 * so a kick just before is not lost.  Returns the ns it slept. */
static int64_t wait_for_any(struct proc *p, int64_t now, int64_t max)
{
	struct pollfd f[256];
	nfds_t n = 0;
	int64_t until = max >= 0 ? now + max : INT64_MAX;
	sigset_t kick, old, during;

	for (int i = 0; i < PROC_MAX_THREADS; i++) {
		const struct park *k = &p->threads->t[i].park;
		if (p->threads->t[i].state != T_PARKED)
			continue;
		if (!p->deterministic && k->deadline && k->deadline < until)
			until = k->deadline;
		if (k->recheck_at && k->recheck_at < until)
			until = k->recheck_at;
		for (int j = 0; k->kind == PARK_FDS && j < k->nfds; j++) {
			if (n == sizeof f / sizeof f[0]) {
				until = now + RECHECK_NS < until ? now + RECHECK_NS : until;
				break;
			}
			f[n].fd = k->fds[j].fd;
			f[n++].events = k->fds[j].events;
		}
	}
	struct timespec ts, *tp = NULL;
	if (until != INT64_MAX) {
		int64_t left = until > now ? until - now : 0;
		ts.tv_sec = left / NSEC;
		ts.tv_nsec = left % NSEC;
		tp = &ts;
	}
	sigemptyset(&kick);
	sigaddset(&kick, SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	during = old;
	sigdelset(&during, SIG_KICK);
	if (!__atomic_load_n(&p->host_pending, __ATOMIC_ACQUIRE))
		ppoll(f, n, tp, &during);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return mono_ns() - now;
}

/* Round robin from the thread after the current one; the current one
 * (which just parked, or was preempted) comes last. */
static int next_ordinary(struct proc *p)
{
	for (;;) {
		int64_t now;
		sig_take_host(p);
		if (p->exited)
			return -1;
		now = mono_ns();
		for (int k = 1; k <= PROC_MAX_THREADS; k++) {
			int i = (p->threads->cur + k) % PROC_MAX_THREADS;
			if (runnable(p, i, now, now))
				return i;
		}
		wait_for_any(p, now, -1);
	}
}

/*
 * --deterministic: the same round robin over what can run without
 * looking at a clock (woken futexes, yields, signals, ready pipes);
 * only when nothing can does the run's clock move, to the earliest
 * deadline, after that much real time spent waiting.  A thread that
 * yields or was preempted counts as waiting for that: it runs again
 * only if no deadline is pending.
 */
static int next_deterministic(struct proc *p)
{
	struct threads *ts = p->threads;

	for (;;) {
		int64_t now, e;
		sig_take_host(p);
		if (p->exited)
			return -1;
		now = mono_ns();
		for (int k = 1; k < PROC_MAX_THREADS; k++) {
			int i = (ts->cur + k) % PROC_MAX_THREADS;
			if (runnable(p, i, now, -1))
				return i;
		}
		if ((e = earliest(p)) >= 0 && ts->vclock >= ts->t[e].park.deadline &&
		    runnable(p, e, now, ts->vclock))
			return e;
		if (e < 0 && runnable(p, ts->cur, now, -1))
			return ts->cur;
		int64_t left = e >= 0 ? ts->t[e].park.deadline - ts->vclock : -1;
		int64_t slept = wait_for_any(p, now, left);
		if (e >= 0)
			ts->vclock = slept >= left ? ts->t[e].park.deadline : ts->vclock + slept;
	}
}

int thread_next(struct proc *p)
{
	int i = p->deterministic ? next_deterministic(p) : next_ordinary(p);

	if (i >= 0)
		switch_to(p, i);
	return i;
}

void thread_park(struct proc *p)
{
	struct thread *t = running(p);

	save_fields(p, t);
	t->state = T_PARKED;
	t->park.order = ++p->threads->seq;
}

void thread_preempted(struct proc *p)
{
	struct thread *t = running(p);

	save_fields(p, t);
	t->state = T_READY;
	t->resume = RESUME_CONTEXT;
}

long thread_call_again(struct proc *p)
{
	struct threads *ts = p->threads;
	struct thread *t = running(p);
	uint64_t arg[6];
	long r;

	memcpy(arg, t->park.arg, sizeof arg);
	ts->again = 1;
	ts->expired = t->resume == RESUME_EXPIRED;
	r = sys_call(p, t->park.nr, arg);
	ts->again = ts->expired = 0;
	return r;
}

int thread_others_ready(struct proc *p)
{
	int64_t now = mono_ns();
	long ignored;

	for (int i = 0; i < PROC_MAX_THREADS; i++) {
		const struct thread *t = &p->threads->t[i];
		if (i != p->threads->cur && (t->state == T_READY ||
		    (t->state == T_PARKED && due(p, t, now, sched_now(p), &ignored) >= 0) ||
		    (p->deterministic && t->state == T_PARKED && t->park.deadline)))
			return 1;
	}
	return 0;
}

void thread_only_me(struct proc *p)
{
	free(p->threads);
	p->threads = NULL;
	p->tid = p->pid;
}
