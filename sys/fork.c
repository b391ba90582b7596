/*
 * fork, vfork and clone (the process form), wait4, waitid, and kill of
 * the program's children.
 *
 * A new guest process is a new launcher process: the monitor forks the
 * launcher (guest memory is private anonymous memory, so the child gets
 * a copy-on-write copy) and the child boots a VM of its own around that
 * copy.  Guest pids are host pids, so waiting and signalling are the
 * host's own calls, on children only.  Here the request is checked and
 * left in p->fork for the monitor, which alone can fork with the vCPU
 * stopped.  Where the launcher is hardened (images), fork is not offered
 * yet: the seccomp filter keeps a hardened launcher from making
 * processes, and these calls return ENOSYS.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "internal.h"

/* The clone flags a process (not thread) clone may carry. */
#define FORK_FLAGS (CSIGNAL | CLONE_VFORK | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | \
		    CLONE_CHILD_CLEARTID)

static long request(struct proc *p, uint64_t flags, uint64_t stack, uint64_t ptid,
		    uint64_t ctid)
{
	if (!p->can_fork)
		return -ENOSYS;
	if (flags & ~(uint64_t)FORK_FLAGS)
		return -ENOSYS;         /* threads and namespaces: not yet */
	if ((flags & CSIGNAL) > 64)
		return -EINVAL;
	p->fork = (struct fork_request){ 1, flags, stack, ptid, ctid };
	return 0;
}

long sys_fork(struct proc *p, const uint64_t *a)
{
	(void)a;
	return request(p, SIGCHLD, 0, 0, 0);
}

/* vfork's child borrows the parent's memory until it execs or exits;
 * a copy serves every program that keeps to what vfork permits. */
long sys_vfork(struct proc *p, const uint64_t *a)
{
	(void)a;
	return request(p, SIGCHLD, 0, 0, 0);
}

/* x86-64 clone: flags, stack, parent_tid, child_tid, tls.  CLONE_VM
 * with CLONE_VFORK (posix_spawn) gets a copy, as vfork does. */
long sys_clone(struct proc *p, const uint64_t *a)
{
	uint64_t flags = a[0];

	if (flags & CLONE_THREAD)
		return thread_clone(p, flags, a[1], a[2], a[3], a[4]);
	if ((flags & (CLONE_VM | CLONE_VFORK)) == (CLONE_VM | CLONE_VFORK))
		flags &= ~(uint64_t)CLONE_VM;
	return request(p, flags, a[1], a[2], a[3]);
}

/* clone3's argument block (include/uapi/linux/sched.h); the first 64
 * bytes are its first version, which every later one extends. */
struct clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define CLONE_ARGS_SIZE_VER0 64

/*
 * clone3(args, size): the same as clone, with the stack given as its
 * lowest address and size, and the exit signal apart from the flags.
 * What clone cannot express here (a pidfd, chosen tids, a cgroup) is
 * ENOSYS, on which glibc falls back to clone, as on a kernel before 5.3.
 * The rest is made as the clone it is, so that the policy judges it as
 * one (threads need stdio, processes proc) and the trace shows it.
 */
long sys_clone3(struct proc *p, const uint64_t *a)
{
	struct clone_args ca;
	size_t size = a[1];

	memset(&ca, 0, sizeof ca);
	if (size < CLONE_ARGS_SIZE_VER0 || size > 4096)
		return size < CLONE_ARGS_SIZE_VER0 ? -EINVAL : -E2BIG;
	if (mm_copy_in(p->mm, &ca, a[0], size < sizeof ca ? size : sizeof ca) < 0)
		return -EFAULT;
	if (ca.exit_signal > 64 || (ca.flags & CSIGNAL) ||
	    (ca.stack ? ca.stack_size == 0 : ca.stack_size != 0))
		return -EINVAL;
	if ((ca.flags & CLONE_PIDFD) || ca.set_tid || ca.set_tid_size ||
	    (ca.flags >> 32) || ca.cgroup)
		return -ENOSYS;
	uint64_t b[6] = {
		ca.flags | ca.exit_signal, ca.stack ? ca.stack + ca.stack_size : 0,
		ca.parent_tid, ca.child_tid, ca.tls,
	};
	return sys_call(p, SYS_clone, b);
}

int proc_is_child(struct proc *p, int pid)
{
	for (int i = 0; i < p->nchildren; i++)
		if (p->children[i] == pid)
			return 1;
	return 0;
}

/* A child that was waited for is gone. */
static void forget_child(struct proc *p, int pid)
{
	for (int i = 0; i < p->nchildren; i++)
		if (p->children[i] == pid) {
			p->children[i] = p->children[--p->nchildren];
			return;
		}
}

/* With several threads a wait would stop them all: it is made with
 * WNOHANG, and parks until it is made again.  Returns the flag to add. */
static int waits(struct proc *p, int options)
{
	return thread_many(p) && !(options & WNOHANG) ? WNOHANG : 0;
}

long sys_wait4(struct proc *p, const uint64_t *a)
{
	int status = 0, pid = argint(a[0]);
	struct rusage ru;
	long r;

	r = syscall(SYS_wait4, pid, &status, argint(a[2]) | waits(p, argint(a[2])),
		    a[3] ? &ru : NULL);
	if (r < 0)
		return -errno;
	if (r == 0 && waits(p, argint(a[2])))
		return park_recheck(p);
	if (r > 0 && (WIFEXITED(status) || WIFSIGNALED(status)))
		forget_child(p, (int)r);
	if (r > 0 && a[1] && mm_copy_out(p->mm, a[1], &status, sizeof status) < 0)
		return -EFAULT;
	if (r > 0 && a[3] && mm_copy_out(p->mm, a[3], &ru, sizeof ru) < 0)
		return -EFAULT;
	return r;
}

long sys_waitid(struct proc *p, const uint64_t *a)
{
	siginfo_t si;
	struct rusage ru;
	int type = argint(a[0]);
	long r;

	memset(&si, 0, sizeof si);
	r = syscall(SYS_waitid, type, (int)a[1], &si, argint(a[3]) | waits(p, argint(a[3])),
		    a[4] ? &ru : NULL);
	if (r < 0)
		return -errno;
	if (!si.si_pid && waits(p, argint(a[3])))
		return park_recheck(p);
	if (si.si_pid && !(argint(a[3]) & WNOWAIT))
		forget_child(p, si.si_pid);
	if ((a[2] && mm_copy_out(p->mm, a[2], &si, sizeof si) < 0) ||
	    (a[4] && mm_copy_out(p->mm, a[4], &ru, sizeof ru) < 0))
		return -EFAULT;
	return 0;
}

/*
 * Process groups and sessions.  Guest pids are host pids, so these are
 * the host's calls, on the processes of the run (procs.c); a terminal's
 * Ctrl-C goes to its foreground group of launchers, and each hands it to
 * its program.  A hardened launcher (images) is the run's one process:
 * it keeps the group and session it was started in.
 */
static long group_of(struct proc *p, int pid, pid_t (*get)(pid_t), pid_t cached)
{
	if (pid == 0 || pid == p->pid)
		return p->can_fork ? hostret(get(0)) : cached;
	if (p->can_fork && procs_member(p, pid))
		return hostret(get(pid));
	return -ESRCH;
}

long sys_getpgid(struct proc *p, const uint64_t *a)
{
	return group_of(p, argint(a[0]), getpgid, p->pgid);
}

long sys_getpgrp(struct proc *p, const uint64_t *a)
{
	(void)a;
	return group_of(p, 0, getpgid, p->pgid);
}

long sys_getsid(struct proc *p, const uint64_t *a)
{
	return group_of(p, argint(a[0]), getsid, p->sid);
}

/* setpgid of the caller or a child it made, as a shell does for a job. */
long sys_setpgid(struct proc *p, const uint64_t *a)
{
	int pid = argint(a[0]), pgid = argint(a[1]);

	if (pgid < 0)
		return -EINVAL;
	if (pid == 0)
		pid = p->pid;
	if (pid != p->pid && !proc_is_child(p, pid))
		return -ESRCH;
	if (!p->can_fork)
		return -EPERM;
	if (setpgid(pid, pgid) < 0)
		return -errno;
	if (pid == p->pid)
		p->pgid = pgid ? pgid : pid;
	return 0;
}

long sys_setsid(struct proc *p, const uint64_t *a)
{
	pid_t sid;

	(void)a;
	if (!p->can_fork)
		return -EPERM;
	if ((sid = setsid()) < 0)
		return -errno;
	p->sid = p->pgid = sid;
	return sid;
}

struct killing {
	int sig;
	pid_t pgid;             /* the group, or 0: every process but the caller */
	pid_t self;
};

static int kill_member(struct proc *p, pid_t pid, void *arg)
{
	struct killing *k = arg;

	(void)p;
	if (pid == k->self || (k->pgid && getpgid(pid) != k->pgid))
		return 0;
	return kill(pid, k->sig) == 0;
}

long kill_run(struct proc *p, int pid, int sig)
{
	pid_t mine = getpgid(0);
	struct killing k = { sig, pid == 0 ? mine : pid == -1 ? 0 : -pid, p->pid };
	int self = k.pgid && k.pgid == mine;

	if (pid > 0)
		return procs_member(p, pid) ? hostret(kill(pid, sig)) : -ESRCH;
	/* The caller takes its own signal the way it takes any. */
	int n = procs_each(p, kill_member, &k);
	if (self && sig)
		sig_send(p, sig, SI_USER);
	return n + self > 0 ? 0 : -ESRCH;
}

long kill_child(struct proc *p, int pid, int sig)
{
	return proc_is_child(p, pid) ? (syscall(SYS_kill, pid, sig) < 0 ? -errno : 0) : -ESRCH;
}
