/*
 * Signals: actions, the blocked mask, the alternate stack and pending
 * signals with what the handler is told about them (siginfo).
 *
 * A signal sent to the program (kill, tkill, tgkill or sigqueue to
 * itself, the SIGPIPE of a write to a broken pipe, a fault) gets its Linux
 * fate here: discarded if ignored, kept pending if blocked, the end of the
 * program if its default action terminates it.  A signal with a handler
 * stays pending until the monitor, which alone can change the program's
 * registers, takes it with sig_dequeue() and builds the handler's frame.
 * Signals never reach other processes.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>
#include "internal.h"

#define NSIG_KERNEL 64
#define SIGBIT(s) (1ULL << ((s) - 1))
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
/* The kernel's SIG_DFL and SIG_IGN handler values. */
#define K_SIG_DFL 0
#define K_SIG_IGN 1
/* sigaltstack: the kernel's minimum size and flag (asm/signal.h). */
#define K_MINSIGSTKSZ 2048
#define K_SS_AUTODISARM (1U << 31)

/* Signals whose default action is to do nothing. */
static int default_ignored(int sig)
{
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

/* Signals whose default action stops the process.  There is no one to
 * continue it, so they are treated as ignored. */
static int default_stops(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

void sig_kill(struct proc *p, int sig)
{
	p->exited = 1;
	p->exit_signal = sig;
	p->exit_code = 128 + sig;
}

/* Marks sig pending with its info.  A standard signal pending already
 * keeps its first info; real-time signals queue (up to 255 each, with
 * the latest info). */
static void make_pending(struct proc *p, int sig, const struct sig_info *info)
{
	int rt = sig >= 32;

	if (!(p->sigpending & SIGBIT(sig)) || rt)
		p->siginfo[sig - 1] = *info;
	if (rt && p->sigqueued[sig - 1] < 255)
		p->sigqueued[sig - 1]++;
	p->sigpending |= SIGBIT(sig);
}

/* An unblocked sig arrives: act as its disposition says. */
static void deliver(struct proc *p, int sig, const struct sig_info *info)
{
	uint64_t h = p->sigact[sig - 1].handler;

	if (sig == SIGKILL) {
		sig_kill(p, sig);
	} else if (h == K_SIG_IGN) {
		;
	} else if (h == K_SIG_DFL) {
		if (!default_ignored(sig) && !default_stops(sig))
			sig_kill(p, sig);
	} else {
		make_pending(p, sig, info);
	}
}

static void send_info(struct proc *p, int sig, const struct sig_info *info)
{
	/* Blocked signals are never discarded: the action may change before
	 * they are unblocked. */
	if (p->sigmask & SIGBIT(sig) & ~UNBLOCKABLE)
		make_pending(p, sig, info);
	else
		deliver(p, sig, info);
}

void sig_send(struct proc *p, int sig, int code)
{
	struct sig_info info = { .code = code, .pid = p->pid, .uid = p->uid };

	send_info(p, sig, &info);
}

int sig_take(struct proc *p, uint64_t set, struct sig_info *info)
{
	for (int sig = 1; sig <= NSIG_KERNEL; sig++) {
		uint64_t bit = SIGBIT(sig);
		if (!(p->sigpending & bit & set))
			continue;
		*info = p->siginfo[sig - 1];
		if (sig < 32 || --p->sigqueued[sig - 1] == 0)
			p->sigpending &= ~bit;
		return sig;
	}
	return 0;
}

int sig_dequeue(struct proc *p, struct sig_info *info)
{
	return sig_take(p, ~p->sigmask, info);
}

void sig_take_host(struct proc *p)
{
	/* Every syscall asks: a load first keeps the line shared. */
	if (!__atomic_load_n(&p->host_pending, __ATOMIC_ACQUIRE))
		return;
	uint64_t bits = __atomic_exchange_n(&p->host_pending, 0, __ATOMIC_ACQ_REL);

	for (int sig = 1; bits && sig <= NSIG_KERNEL && !p->exited; sig++) {
		if (!(bits & SIGBIT(sig)))
			continue;
		/* Timers are the kernel's; the rest came from another process. */
		int timer = sig == SIGALRM || sig == SIGVTALRM || sig == SIGPROF;
		struct sig_info info = { .code = timer ? SI_KERNEL : SI_USER };
		send_info(p, sig, &info);
	}
}

/*
 * Blocks until a handler is to run, the program has ended, or timeout
 * (NULL: none) passes: -EINTR, or -EAGAIN at the timeout.  SIG_KICK is
 * held blocked while we look, and let through only inside ppoll, so a
 * kick between the look and the sleep ends the sleep instead of being
 * lost.  want: the signals that end the wait besides handlers.
 */
static long wait_signal(struct proc *p, uint64_t want, const struct timespec *timeout)
{
	sigset_t kick, old, during;
	long r = -EINTR;

	if (thread_many(p)) {
		/* The other threads run meanwhile; the scheduler watches
		 * for the signal and the timeout. */
		sig_take_host(p);
		if (p->exited || sig_ready(p) || (p->sigpending & want))
			return -EINTR;
		return park_expired(p) ? -EAGAIN : park_signal(p, want, timeout);
	}
	sigemptyset(&kick);
	sigaddset(&kick, SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	during = old;
	sigdelset(&during, SIG_KICK);
	for (;;) {
		sig_take_host(p);
		if (p->exited || sig_ready(p) || (p->sigpending & want))
			break;
		if (ppoll(NULL, 0, timeout, &during) == 0) {
			r = -EAGAIN;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

long sys_pause(struct proc *p, const uint64_t *a)
{
	(void)a;
	return wait_signal(p, 0, NULL);
}

long sys_rt_sigsuspend(struct proc *p, const uint64_t *a)
{
	uint64_t mask;

	if (a[1] != 8)
		return -EINVAL;
	if (mm_copy_in(p->mm, &mask, a[0], sizeof mask) < 0)
		return -EFAULT;
	/* The handler's frame restores the caller's mask, not this one.  A
	 * parked sigsuspend made again has set both already. */
	if (!p->threads || !p->threads->again) {
		p->saved_mask = p->sigmask;
		p->saved_mask_valid = 1;
		sig_setmask(p, mask);
	}
	long r = wait_signal(p, 0, NULL);
	if (r == -EPARK)
		return r;
	if (!sig_ready(p)) {
		sig_setmask(p, p->saved_mask);
		p->saved_mask_valid = 0;
	}
	return r;
}

long sys_rt_sigtimedwait(struct proc *p, const uint64_t *a)
{
	struct { int32_t signo, errno_, code, pad; uint32_t pid, uid; uint64_t value; uint8_t rest[96]; } si;
	struct sig_info info;
	struct timespec ts;
	uint64_t set;
	int sig;

	if (a[3] != 8)
		return -EINVAL;
	if (mm_copy_in(p->mm, &set, a[0], sizeof set) < 0 ||
	    (a[2] && mm_copy_in(p->mm, &ts, a[2], sizeof ts) < 0))
		return -EFAULT;
	if (a[2] && (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000 || ts.tv_sec < 0))
		return -EINVAL;
	set &= ~UNBLOCKABLE;
	sig_take_host(p);
	if (!(p->sigpending & set)) {
		long r = wait_signal(p, set, a[2] ? &ts : NULL);
		if (!(p->sigpending & set))
			return r;
	}
	sig = sig_take(p, set, &info);
	if (a[1]) {
		memset(&si, 0, sizeof si);
		si.signo = sig;
		si.code = info.code;
		si.pid = (uint32_t)info.pid;
		si.uid = (uint32_t)info.uid;
		si.value = info.value;
		if (mm_copy_out(p->mm, a[1], &si, sizeof si) < 0)
			return -EFAULT;
	}
	return sig;
}

int sig_fault(struct proc *p, int sig, const struct sig_info *info)
{
	uint64_t h = p->sigact[sig - 1].handler;

	/* Like the kernel's force_sig: a fault the program blocks or
	 * ignores cannot be held back, it kills. */
	if ((p->sigmask & SIGBIT(sig)) || h == K_SIG_IGN || h == K_SIG_DFL) {
		sig_kill(p, sig);
		return 0;
	}
	make_pending(p, sig, info);
	return 1;
}

/* After a change of mask or action: pending signals that are no longer
 * blocked take their default action, in signal-number order as Linux
 * does; those with a handler stay pending for sig_dequeue. */
static void recheck_pending(struct proc *p)
{
	int sig;

	for (sig = 1; sig <= NSIG_KERNEL && !p->exited; sig++) {
		uint64_t bit = SIGBIT(sig), h = p->sigact[sig - 1].handler;
		if (!(p->sigpending & bit) || (p->sigmask & bit))
			continue;
		if (h != K_SIG_DFL && h != K_SIG_IGN)
			continue;
		p->sigpending &= ~bit;
		p->sigqueued[sig - 1] = 0;
		deliver(p, sig, &p->siginfo[sig - 1]);
	}
}

void sig_setmask(struct proc *p, uint64_t mask)
{
	p->sigmask = mask & ~UNBLOCKABLE;
	recheck_pending(p);
}

void sig_init(struct proc *p)
{
	struct { uint64_t handler, flags, restorer, mask; } ka;
	sigset_t set;
	int sig;

	/* Like execve: the blocked mask is kept, and so are ignored signals.
	 * The kernel's own call: libc's sigaction refuses the signals it
	 * keeps for itself (32-34), which a parent may still have ignored. */
	if (sigprocmask(SIG_BLOCK, NULL, &set) == 0)
		memcpy(&p->sigmask, &set, sizeof p->sigmask);
	p->sigmask &= ~UNBLOCKABLE;
	for (sig = 1; sig <= NSIG_KERNEL; sig++)
		if (syscall(SYS_rt_sigaction, sig, NULL, &ka, 8) == 0 && ka.handler == K_SIG_IGN)
			p->sigact[sig - 1].handler = K_SIG_IGN;
	p->altstack.flags = SS_DISABLE;
	/* The launcher writes for the program: a broken pipe must give EPIPE,
	 * and the program its SIGPIPE (see sys_call), not end the launcher. */
	signal(SIGPIPE, SIG_IGN);
}

long sys_rt_sigaction(struct proc *p, const uint64_t *a)
{
	int sig = argint(a[0]);
	struct { uint64_t handler, flags, restorer, mask; } act, old;

	if (a[3] != 8)
		return -EINVAL;
	if (sig < 1 || sig > NSIG_KERNEL)
		return -EINVAL;
	if (a[1] && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	/* Read the new action before writing the old: they may overlap. */
	if (a[1] && mm_copy_in(p->mm, &act, a[1], sizeof act) < 0)
		return -EFAULT;
	memcpy(&old, &p->sigact[sig - 1], sizeof old);
	if (a[1]) {
		act.mask &= ~UNBLOCKABLE;
		memcpy(&p->sigact[sig - 1], &act, sizeof act);
		/* A pending signal that is now ignored is discarded. */
		if (act.handler == K_SIG_IGN ||
		    (act.handler == K_SIG_DFL && default_ignored(sig))) {
			p->sigpending &= ~SIGBIT(sig);
			p->sigqueued[sig - 1] = 0;
		}
	}
	if (a[2] && mm_copy_out(p->mm, a[2], &old, sizeof old) < 0)
		return -EFAULT;
	return 0;
}

long sys_rt_sigprocmask(struct proc *p, const uint64_t *a)
{
	uint64_t set, old = p->sigmask;

	if (a[3] != 8)
		return -EINVAL;
	if (a[1]) {
		if (mm_copy_in(p->mm, &set, a[1], sizeof set) < 0)
			return -EFAULT;
		switch (argint(a[0])) {
		case SIG_BLOCK:
			p->sigmask |= set;
			break;
		case SIG_UNBLOCK:
			p->sigmask &= ~set;
			break;
		case SIG_SETMASK:
			p->sigmask = set;
			break;
		default:
			return -EINVAL;
		}
		p->sigmask &= ~UNBLOCKABLE;
	}
	if (a[2] && mm_copy_out(p->mm, a[2], &old, sizeof old) < 0)
		return -EFAULT;
	recheck_pending(p);
	return 0;
}

long sys_rt_sigpending(struct proc *p, const uint64_t *a)
{
	/* Pending means raised while blocked. */
	uint64_t set = p->sigpending & p->sigmask;

	if (a[1] > 8)
		return -EINVAL;
	return mm_copy_out(p->mm, a[0], &set, (size_t)a[1]) < 0 ? -EFAULT : 0;
}

long sys_sigaltstack(struct proc *p, const uint64_t *a)
{
	/* stack_t: { void *ss_sp; int ss_flags; size_t ss_size; } */
	struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss, old;
	int mode;

	memset(&old, 0, sizeof old);
	old.sp = p->altstack.sp;
	old.flags = p->altstack.flags;
	old.size = p->altstack.size;
	if (a[0]) {
		if (mm_copy_in(p->mm, &ss, a[0], sizeof ss) < 0)
			return -EFAULT;
		mode = ss.flags & ~(int32_t)K_SS_AUTODISARM;
		if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0)
			return -EINVAL;
		if (mode == SS_DISABLE) {
			ss.sp = 0;
			ss.size = 0;
		} else if (ss.size < K_MINSIGSTKSZ) {
			return -ENOMEM;
		}
		/* The program never runs on it, so SS_ONSTACK is never reported. */
		p->altstack.sp = ss.sp;
		p->altstack.size = ss.size;
		p->altstack.flags = mode == SS_DISABLE ? SS_DISABLE :
				    ss.flags & (int32_t)K_SS_AUTODISARM;
	}
	if (a[1] && mm_copy_out(p->mm, a[1], &old, sizeof old) < 0)
		return -EFAULT;
	return 0;
}

/* Sends sig (0: only checks) to the program itself. */
static long send_self(struct proc *p, int sig, int code)
{
	if (sig < 0 || sig > NSIG_KERNEL)
		return -EINVAL;
	if (sig)
		sig_send(p, sig, code);
	return 0;
}

long sys_kill(struct proc *p, const uint64_t *a)
{
	int pid = argint(a[0]), sig = argint(a[1]);

	if (sig < 0 || sig > NSIG_KERNEL)
		return -EINVAL;
	if (pid == p->pid)
		return send_self(p, sig, SI_USER);
	/* Where processes may be made, kill reaches the run's own. */
	if (p->can_fork)
		return kill_run(p, pid, sig);
	/* Else the program is alone: itself, its process group (0 or
	 * -pid) and nothing else; kill(-1) reaches everyone but the
	 * caller: no one. */
	if (pid == 0 || pid == -p->pid)
		return send_self(p, sig, SI_USER);
	return pid > 0 ? kill_child(p, pid, sig) : -ESRCH;
}

/* sig to thread tid of the program: the caller, or another thread, which
 * takes it when it runs next. */
static long send_thread(struct proc *p, int tid, int sig)
{
	if (sig < 0 || sig > NSIG_KERNEL)
		return -EINVAL;
	if (tid == p->tid)
		return send_self(p, sig, SI_TKILL);
	return thread_kill(p, tid, sig);
}

long sys_tkill(struct proc *p, const uint64_t *a)
{
	int tid = argint(a[0]);

	return tid <= 0 ? -EINVAL : send_thread(p, tid, argint(a[1]));
}

long sys_tgkill(struct proc *p, const uint64_t *a)
{
	int tgid = argint(a[0]), tid = argint(a[1]);

	if (tgid <= 0 || tid <= 0)
		return -EINVAL;
	if (tgid != p->pid)
		return argint(a[2]) < 0 || argint(a[2]) > NSIG_KERNEL ? -EINVAL : -ESRCH;
	return send_thread(p, tid, argint(a[2]));
}

/* sigqueue to itself: the caller's siginfo, whose code must say it came
 * from a process (negative), as Linux insists. */
long sys_rt_sigqueueinfo(struct proc *p, const uint64_t *a)
{
	int pid = argint(a[0]), sig = argint(a[1]);
	struct { int32_t signo, errno_, code, pad; uint32_t pid, uid; uint64_t value; } si;
	struct sig_info info;

	if (sig < 0 || sig > NSIG_KERNEL)
		return -EINVAL;
	if (mm_copy_in(p->mm, &si, a[2], sizeof si) < 0)
		return -EFAULT;
	if (si.code >= 0 || si.code == SI_TKILL)
		return -EPERM;
	if (pid != p->pid)
		return -ESRCH;
	info = (struct sig_info){ .code = si.code, .pid = si.pid, .uid = si.uid, .value = si.value };
	if (sig)
		send_info(p, sig, &info);
	return 0;
}
