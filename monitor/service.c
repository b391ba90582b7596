/*
 * Exitless syscalls: a host thread polls the mailbox.
 *
 * A VM exit costs 7-24 us on the hosts we target, a cross-core handoff
 * through shared memory well under one.  So while the program is making
 * syscalls a host thread spins on the mailbox; after a quiet spell it
 * sleeps, and the guest (seeing `polling` clear) takes the exit path,
 * whose handler wakes the thread again.
 *
 * Page-table changes are queued for the supervisor under the KCB lock
 * (see mm.h), so this thread serves them too.  Only syscalls that change
 * vCPU state or end the program are bounced to the exit path, where the
 * guest is stopped.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "monitor_impl.h"

/* How long to spin after the last request: adapted between these.  A
 * program whose calls come a little further apart than the spin would
 * otherwise exit at every call (tens of microseconds on some hosts),
 * while a longer spin costs a host core only while the program runs. */
#define POLL_NS_MIN 200000
#define POLL_NS_MAX 2000000

static void futex_wait(int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int needs_vcpu(uint64_t nr)
{
	switch (nr) {
	case SYS_arch_prctl: case SYS_exit: case SYS_exit_group: case SYS_rt_sigreturn:
	case SYS_execve: case SYS_execveat: case SYS_fork: case SYS_vfork: case SYS_clone:
	case SYS_clone3:
		return 1;
	}
	return 0;
}

/* A posted request, copied once: the guest may change the mailbox at
 * any time, so every decision is made on this copy. */
struct request {
	uint64_t nr, arg[6];
	uint64_t rip;           /* the program's return address */
	uint64_t cont;          /* nonzero: from a patched site's stub */
};

static void copy_request(struct mailbox *mb, struct request *rq)
{
	for (int i = 0; i < 6; i++)
		rq->arg[i] = __atomic_load_n(&mb->arg[i], __ATOMIC_RELAXED);
	rq->nr = __atomic_load_n(&mb->nr, __ATOMIC_RELAXED);
	rq->rip = __atomic_load_n(&mb->rip, __ATOMIC_RELAXED);
	rq->cont = __atomic_load_n(&mb->cont, __ATOMIC_RELAXED);
}

/* After a call from a `syscall` instruction: its site becomes a jump to
 * a stub (patch/patch.h), and this call returns through the stub too,
 * since the bytes it would return to are the patch now.  Unless the call
 * gave sites their bytes back (mprotect of text, say: the program may
 * read them next), or took the page of its own stub: then it returns to
 * its site.  Call with the memory locked. */
static void patch_call_site(struct vmctx *vc, const struct request *rq, uint64_t epoch)
{
	if (mm_patch_epoch(vc->mm) != epoch) {
		if (rq->cont && !mm_patch_in_stub(vc->mm, rq->cont))
			__atomic_store_n(&vc->mbox->cont, 0, __ATOMIC_RELAXED);
		return;
	}
	if (rq->cont || vc->proc.exited || vc->proc.exec)
		return;
	uint64_t cont = mm_patch_site(vc->mm, rq->rip);
	if (cont)
		__atomic_store_n(&vc->mbox->cont, cont, __ATOMIC_RELAXED);
}

/* Serves the request; a call that parked its thread (-EPARK) is left
 * unanswered, for the vCPU thread to switch threads. */
static long serve(struct vmctx *vc, const struct request *rq)
{
	struct mailbox *mb = vc->mbox;

	pthread_mutex_lock(&vc->lock);
	if (vc->opt->trace)
		trace_guest_calls(vc);
	mm_lock(vc->mm);
	/* A vDSO function enters like a patched site, returning where it
	 * says it came from. */
	vc->proc.patched_call = !rq->cont ? 0 : rq->cont == rq->rip ? 2 : 1;
	uint64_t epoch = mm_patch_epoch(vc->mm);
	long ret = sys_call(&vc->proc, rq->nr, rq->arg);
	vc->proc.patched_call = 0;
	vc->npatched_calls += rq->cont != 0;
	patch_call_site(vc, rq, epoch);
	uint64_t rewrites = mm_unlock(vc->mm);
	int resync = mm_needs_full_resync(vc->mm);
	pthread_mutex_unlock(&vc->lock);
	if (ret == -EPARK)
		return ret;
	mb->ret = ret;
	/* After an exit the supervisor applies the queue anyway; a polled
	 * answer tells the entry page what the program must not run before.
	 * A handler to run needs the vCPU thread: the exit path. */
	mb->action = resync || sig_ready(&vc->proc) ? MB_EXIT : rewrites ? MB_APPLY : MB_RETURN;
	vc->napplies += mb->action == MB_APPLY;
	/* A program that just died (exit, or a signal such as SIGPIPE) must
	 * not run on: send it to the exit path, where the vCPU thread stops. */
	__atomic_store_n(&mb->state, vc->proc.exited ? MB_BOUNCE : MB_DONE,
			 __ATOMIC_RELEASE);
	return ret;
}

void trace_guest_calls(struct vmctx *vc)
{
	struct mailbox *mb = vc->mbox;
	uint64_t n = __atomic_load_n(&mb->guest_calls, __ATOMIC_ACQUIRE);

	if (n - vc->gtrace_seen > MB_GTRACE_N) {
		dprintf(vc->proc.trace_fd, "... %llu calls answered in the guest not shown\n",
			(unsigned long long)(n - vc->gtrace_seen - MB_GTRACE_N));
		vc->gtrace_seen = n - MB_GTRACE_N;
	}
	for (; vc->gtrace_seen < n; vc->gtrace_seen++) {
		uint64_t nr = mb->gtrace[vc->gtrace_seen % MB_GTRACE_N].nr;
		long long ret = mb->gtrace[vc->gtrace_seen % MB_GTRACE_N].ret;
		const char *name = sys_name(nr);
		dprintf(vc->proc.trace_fd, "%s() = %lld [guest]\n", name ? name : "?", ret);
	}
}

int serve_request(struct vmctx *vc)
{
	struct request rq;

	copy_request(vc->mbox, &rq);
	if (rq.nr != SYS_rt_sigreturn)
		return serve(vc, &rq) == -EPARK ? 2 : 0;
	vc->proc.nforwarded++;
	if (vc->opt->trace)
		dprintf(vc->proc.trace_fd, "rt_sigreturn() = ? [host]\n");
	return signal_return(vc) < 0 ? -1 : 1;
}

/* Whether the call may wait: then the vCPU thread makes it.  A guest
 * spinning through a long wait would take a core from everything else,
 * the process at the other end of its pipe included, and the vCPU thread
 * sleeping in the call itself wakes straight back into the guest. */
static int may_block(struct vmctx *vc, uint64_t nr, const uint64_t arg[6])
{
	pthread_mutex_lock(&vc->lock);
	int r = sys_may_block(&vc->proc, nr, arg);
	pthread_mutex_unlock(&vc->lock);
	return r;
}

/* Takes a posted request: only one thread may serve it. */
static int take(struct mailbox *mb, uint32_t from)
{
	return __atomic_compare_exchange_n(&mb->state, &from, MB_TAKEN, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void poll_once(struct vmctx *vc, uint64_t *last)
{
	struct mailbox *mb = vc->mbox;

	if (__atomic_load_n(&mb->state, __ATOMIC_ACQUIRE) != MB_POSTED)
		return;
	__atomic_store_n(&vc->in_flight, 1, __ATOMIC_SEQ_CST);
	if (take(mb, MB_POSTED)) {
		struct request rq;
		copy_request(mb, &rq);
		int waits = !needs_vcpu(rq.nr) && may_block(vc, rq.nr, rq.arg);
		/* So does a call that parks its thread, to run another. */
		if (waits || needs_vcpu(rq.nr) || serve(vc, &rq) == -EPARK)
			__atomic_store_n(&mb->state, MB_BOUNCE, __ATOMIC_RELEASE);
		else
			vc->nserved_polling++;
		/* A program that waits on others is not making syscalls
		 * fast: polling on would only take their cores. */
		*last = waits ? 0 : now_ns();
	}
	__atomic_store_n(&vc->in_flight, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vc->vcpu_waiting, __ATOMIC_SEQ_CST))
		futex_wake(&vc->in_flight);
}

static void *service_main(void *arg)
{
	struct vmctx *vc = arg;
	struct mailbox *mb = vc->mbox;

	__atomic_store_n(&vc->service_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (;;) {
		/* wake before stop: service_stop sets stop, then bumps wake, so
		 * either stop shows here or the futex_wait below returns at
		 * once.  (Read the other way round, a stop that came between
		 * the two reads slept forever: a hang at exit, seen once in
		 * busybox's testsuite.) */
		int seen = __atomic_load_n(&vc->wake, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&vc->stop, __ATOMIC_ACQUIRE))
			break;
		uint64_t last = now_ns();
		__atomic_store_n(&mb->polling, 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&vc->stop, __ATOMIC_RELAXED)) {
			for (int i = 0; i < 256; i++) {
				poll_once(vc, &last);
				__builtin_ia32_pause();
			}
			if (now_ns() - last > __atomic_load_n(&vc->poll_ns, __ATOMIC_RELAXED))
				break;
		}
		/* The mirror image of the guest's post: clear polling, then
		 * look once more, so a request posted meanwhile is served. */
		__atomic_store_n(&mb->polling, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&vc->slept_at, now_ns(), __ATOMIC_RELAXED);
		__atomic_store_n(&vc->sleeping, 1, __ATOMIC_SEQ_CST);
		poll_once(vc, &last);
		if (__atomic_load_n(&vc->wake, __ATOMIC_ACQUIRE) == seen)
			futex_wait(&vc->wake, seen);
		__atomic_store_n(&vc->sleeping, 0, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

int service_start(struct vmctx *vc)
{
	/* A restart (after execve or fork) clears the last stop. */
	__atomic_store_n(&vc->stop, 0, __ATOMIC_RELEASE);
	if (!vc->poll_ns)
		vc->poll_ns = POLL_NS_MIN;
	if (pthread_create(&vc->service, NULL, service_main, vc) != 0)
		return -1;
	vc->service_running = 1;
	return 0;
}

void service_kick(struct vmctx *vc)
{
	/* Decided on our own state: the guest can write `polling`. */
	if (!vc->service_running || !__atomic_load_n(&vc->sleeping, __ATOMIC_SEQ_CST))
		return;
	/* A call so soon after the thread gave up: it gave up too early. */
	uint64_t asleep = now_ns() - __atomic_load_n(&vc->slept_at, __ATOMIC_RELAXED);
	uint64_t spin = vc->poll_ns;
	if (asleep < spin)
		spin = spin * 2 < POLL_NS_MAX ? spin * 2 : POLL_NS_MAX;
	else if (asleep > 8 * spin)
		spin = spin / 2 > POLL_NS_MIN ? spin / 2 : POLL_NS_MIN;
	__atomic_store_n(&vc->poll_ns, spin, __ATOMIC_RELAXED);
	__atomic_add_fetch(&vc->wake, 1, __ATOMIC_RELEASE);
	futex_wake(&vc->wake);
}

void service_stop(struct vmctx *vc)
{
	if (!vc->service_running)
		return;
	__atomic_store_n(&vc->stop, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&vc->wake, 1, __ATOMIC_RELEASE);
	futex_wake(&vc->wake);
	pthread_join(vc->service, NULL);
	vc->service_running = 0;
}
