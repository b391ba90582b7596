/*
 * The run's processes: how many are alive at once, against LIMIT procs.
 *
 * Every launcher process of a run (one per guest process) shares one
 * table, mapped shared before the first fork, holding the pid of each
 * live one.  A process takes a slot for its child before forking and
 * gives its own back when it ends.  One killed outright (SIGKILL) cannot
 * give it back, so a full table is first swept of pids that are gone; a
 * zombie still counts until it is waited for, as with RLIMIT_NPROC.
 * This is the launcher's own count: RLIMIT_NPROC does not bind root.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "policy.h"

struct procs {
	int lock;
	int limit;
	int warned;             /* the limit was reported (once a run) */
	pid_t pid[LIMIT_PROCS_MAX];
};

/* Processes a run may have when nothing says otherwise: a fork bomb
 * stops here rather than at the host's limits. */
#define DEFAULT_PROCS 1024

static void lock(struct procs *t)
{
	while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void unlock(struct procs *t)
{
	__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
}

int procs_open(struct proc *p, const struct policy *pol)
{
	struct procs *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (t == MAP_FAILED)
		return -1;
	t->limit = pol && pol->limit[LIMIT_PROCS] ? (int)pol->limit[LIMIT_PROCS] : DEFAULT_PROCS;
	t->pid[0] = getpid();
	p->run = t;
	p->run_slot = 0;
	return 0;
}

/* A free slot, or -1; full, the table is swept of pids that are gone. */
static int free_slot(struct procs *t)
{
	int n = 0, free = -1;

	for (int i = 0; i < t->limit; i++) {
		if (t->pid[i] > 0 && kill(t->pid[i], 0) < 0 && errno == ESRCH)
			t->pid[i] = 0;
		if (t->pid[i])
			n++;
		else if (free < 0)
			free = i;
	}
	return n < t->limit ? free : -1;
}

int procs_reserve(struct proc *p)
{
	struct procs *t = p->run;
	int i;

	lock(t);
	for (i = 0; i < t->limit && t->pid[i]; i++)
		;
	if (i == t->limit)
		i = free_slot(t);
	if (i >= 0)
		t->pid[i] = -1;         /* taken; the pid comes with the fork */
	else if (!t->warned++)
		fprintf(stderr, "dunerun: the limit of %d processes is reached: fork fails "
			"with EAGAIN (raise it with --limit procs=N)\n", t->limit);
	unlock(t);
	return i;
}

void procs_set(struct proc *p, int slot, pid_t pid)
{
	__atomic_store_n(&p->run->pid[slot], pid, __ATOMIC_RELEASE);
}

void procs_leave(struct proc *p)
{
	if (p->run && p->run_slot >= 0)
		procs_set(p, p->run_slot, 0);
	p->run_slot = -1;
}

int procs_member(struct proc *p, pid_t pid)
{
	if (!p->run || pid <= 0)
		return 0;
	for (int i = 0; i < p->run->limit; i++)
		if (__atomic_load_n(&p->run->pid[i], __ATOMIC_ACQUIRE) == pid)
			return 1;
	return 0;
}

int procs_each(struct proc *p, int (*fn)(struct proc *p, pid_t pid, void *arg), void *arg)
{
	int n = 0;

	for (int i = 0; p->run && i < p->run->limit; i++) {
		pid_t pid = __atomic_load_n(&p->run->pid[i], __ATOMIC_ACQUIRE);
		if (pid > 0)
			n += fn(p, pid, arg);
	}
	return n;
}
