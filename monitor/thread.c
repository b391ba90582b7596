/*
 * Switching the program's threads on its one vCPU, during exits.
 *
 * A thread that is not running is its user registers (what a signal
 * frame would hold) and its x87/SSE/AVX state, kept here, and its struct
 * thread in sys, which decides who runs next.  A switch is a few ioctls
 * on the vCPU thread: no guest code runs for it, which matters where
 * ring 0 is emulated one instruction at a time.  Switches happen where
 * the vCPU is stopped anyway: a syscall that parks or ends its thread,
 * and an interruption (the preemption tick) in the program's own code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor_impl.h"

struct thread_ctx {
	struct kvm_regs regs;
	struct kvm_xsave xs;
	uint64_t cr3;           /* supervisor mode: its page-table root */
};

/* IF and the reserved bit 1, always set in a thread's rflags. */
#define USER_RFLAGS_SET  0x202UL

static struct thread_ctx *ctx(struct vmctx *vc, int i)
{
	if (!vc->ctx[i])
		vc->ctx[i] = malloc(sizeof *vc->ctx[i]);
	return vc->ctx[i];
}

/* Thread i's registers are regs; its x87/SSE/AVX state the vCPU's now,
 * and in supervisor mode its root too: a ring-0 thread keeps the root it
 * switched to (dune_root_switch), as on a CPU of its own. */
static int save(struct vmctx *vc, int i, const struct kvm_regs *regs)
{
	struct thread_ctx *c = ctx(vc, i);
	struct kvm_sregs s;

	if (!c)
		return -1;
	c->regs = *regs;
	if (vc->supervisor) {
		if (kvm_vm_get_sregs(&vc->vm, &s) < 0)
			return -1;
		c->cr3 = s.cr3;
	}
	return kvm_vm_get_xsave(&vc->vm, &c->xs);
}

/* Supervisor mode: the root a thread being loaded runs on.  The
 * supervisor's half is the same in every root, so its stub goes on. */
static int load_root(struct vmctx *vc, uint64_t cr3)
{
	struct kvm_sregs s;

	if (kvm_vm_get_sregs(&vc->vm, &s) < 0)
		return -1;
	if (s.cr3 == cr3)
		return 0;
	s.cr3 = cr3;
	return kvm_vm_set_sregs(&vc->vm, &s);
}

/* Puts thread i, which sys made the running one, on the vCPU: through
 * the stub's iret at a syscall exit (at), else (preemption) directly. */
static int load(struct vmctx *vc, int i, struct uctx *at)
{
	struct proc *p = &vc->proc;
	struct thread *t = &p->threads->t[i];
	struct thread_ctx *c = vc->ctx[i];
	struct uctx u = { 0 };

	if (!c || kvm_vm_set_xsave(&vc->vm, &c->xs) < 0)
		return -1;
	if (vc->supervisor && load_root(vc, c->cr3) < 0)
		return -1;
	if (at)
		u = *at;
	u.regs = c->regs;
	if (t->resume == RESUME_CONTEXT) {
		deliver_one(vc, &u);
	} else {
		u.regs.rax = (uint64_t)t->result;
		signal_after_call(vc, &u, t->park.nr, t->result);
	}
	if (p->exited)
		return 0;
	vc->mbox->vv_tid = (uint64_t)p->tid;
	p->fs_dirty = 0;
	if (set_segment_bases(vc, p->fs_base, p->gs_base, !at) < 0)
		return -1;
	if (at) {
		/* The iret goes straight to the thread, past the entry page. */
		__atomic_store_n(&vc->mbox->state, MB_IDLE, __ATOMIC_RELEASE);
		return uctx_put(vc, &u);
	}
	u.regs.rflags = (u.regs.rflags & USER_RFLAGS_MASK) | USER_RFLAGS_SET;
	u.regs.rip = resume_at(vc, u.regs.rip);
	return kvm_vm_set_regs(&vc->vm, &u.regs);
}

/* The next thread that can run, its parked call made again if that is
 * how it goes on; then on the vCPU.  Returns 1, or 0 if the program
 * ended meanwhile, -1 on a vCPU error. */
static int run_next(struct vmctx *vc, struct uctx *at)
{
	struct proc *p = &vc->proc;

	pthread_mutex_lock(&vc->lock);
	for (;;) {
		int i = thread_next(p);
		if (i < 0)
			break;
		struct thread *t = &p->threads->t[i];
		if (t->resume == RESUME_AGAIN || t->resume == RESUME_EXPIRED) {
			mm_lock(vc->mm);
			long r = thread_call_again(p);
			mm_unlock(vc->mm);
			if (p->exited)
				break;
			if (r == -EPARK) {
				thread_park(p);
				continue;
			}
			t->resume = RESUME_RESULT;
			t->result = r;
		}
		pthread_mutex_unlock(&vc->lock);
		return load(vc, i, at) < 0 ? -1 : 1;
	}
	pthread_mutex_unlock(&vc->lock);
	return 0;
}

/* A thread clone's new thread: the caller's registers at the syscall,
 * fork's 0 in rax, on the stack it was given. */
static int born(struct vmctx *vc, const struct uctx *u)
{
	struct threads *ts = vc->proc.threads;
	struct kvm_regs regs = u->regs;
	int i = ts->born;

	ts->born = -1;
	regs.rax = 0;
	if (ts->t[i].park.arg[1])
		regs.rsp = ts->t[i].park.arg[1];
	if (__atomic_exchange_n(&vc->nthreads, ts->n, __ATOMIC_ACQ_REL) < 2)
		watchdog_retick(vc);
	return save(vc, i, &regs);
}

int thread_after_syscall(struct vmctx *vc, int parked)
{
	struct threads *ts = vc->proc.threads;
	struct uctx u;

	if (ts->born < 0 && !ts->died && !parked)
		return 0;
	if (syscall_uctx(vc, &u) < 0)
		return -1;
	if (ts->born >= 0 && born(vc, &u) < 0)
		return -1;
	if (ts->died) {
		ts->died = 0;
		__atomic_store_n(&vc->nthreads, ts->n, __ATOMIC_RELEASE);
		return run_next(vc, &u);
	}
	if (!parked)
		return 0;
	pthread_mutex_lock(&vc->lock);
	thread_park(&vc->proc);
	pthread_mutex_unlock(&vc->lock);
	if (save(vc, ts->cur, &u.regs) < 0)
		return -1;
	return run_next(vc, &u);
}

int thread_preempt(struct vmctx *vc)
{
	struct proc *p = &vc->proc;
	struct kvm_sregs s;
	struct kvm_regs r;

	int tick = __atomic_exchange_n(&vc->tick, 0, __ATOMIC_ACQ_REL);

	/* Under --deterministic only a thread that ran a whole (long) slice
	 * without blocking is preempted: signals do not switch threads. */
	if (!p->threads || p->threads->n < 2 || (vc->opt->deterministic && !tick))
		return 0;
	if (kvm_vm_get_sregs(&vc->vm, &s) < 0 || kvm_vm_get_regs(&vc->vm, &r) < 0)
		return -1;
	/* Only in the program's own code: in the entry page or the
	 * supervisor, a syscall or an exit is under way. */
	if (!in_program_code(vc, &s, &r))
		return 0;
	pthread_mutex_lock(&vc->lock);
	int others = thread_others_ready(p);
	if (others)
		thread_preempted(p);
	pthread_mutex_unlock(&vc->lock);
	if (!others)
		return 0;
	if (vc->opt->deterministic && !vc->warned_slice++)
		fprintf(stderr, "dunerun: --deterministic: a thread ran 2 s without blocking "
			"while others waited; preempting it (this run's order is not reproducible)\n");
	if (save(vc, p->threads->cur, &r) < 0)
		return -1;
	return run_next(vc, NULL) < 0 ? -1 : 0;
}

void thread_forget(struct vmctx *vc)
{
	for (int i = 0; i < PROC_MAX_THREADS; i++) {
		free(vc->ctx[i]);
		vc->ctx[i] = NULL;
	}
	__atomic_store_n(&vc->nthreads, 1, __ATOMIC_RELEASE);
	vc->mbox->vv_tid = (uint64_t)vc->proc.tid;
}
