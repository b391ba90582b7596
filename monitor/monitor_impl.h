/*
 * The monitor's internal state, shared by its files.
 */
#ifndef DUNERUN_MONITOR_IMPL_H
#define DUNERUN_MONITOR_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dunerun/abi.h"
#include "kvm.h"
#include "loader.h"
#include "mm.h"
#include "monitor.h"
#include "sys.h"

#define HUGE_PAGE (2UL << 20)

/* The supervisor image, embedded in the launcher (guestkernel/blob.S). */
extern const uint8_t guest_image[];
extern const size_t guest_image_len;
/* The vDSO every program gets (guestkernel/vdso.S). */
extern const uint8_t vdso_image[];
extern const size_t vdso_image_len;

/* Why the vCPU left the guest, for --stats. */
enum exit_kind {
	EXIT_PAGE_FAULT,
	EXIT_EXCEPTION,         /* any other exception */
	EXIT_SYSCALL_UNPOLLED,  /* a syscall nobody polled for (or waited for too long) */
	EXIT_SYSCALL_BOUNCED,   /* a syscall that may block, or only the vCPU thread serves */
	EXIT_SYSCALL_ASKED,     /* served, and the host asked for the exit (a signal...) */
	EXIT_INTERRUPT,         /* a kick: a signal, the time slice */
	EXIT_KINDS              /* (any other exit ends the run) */
};

struct vmctx {
	struct kvm_vm vm;
	struct mm *mm;
	struct proc proc;
	struct kernel_header kh;
	struct kvm_boot boot;
	struct mailbox *mbox;   /* guest-writable: read each field once */
	struct kcb *kcb;
	const struct run_options *opt;
	const char *path;
	int native;             /* the PVM native backend (guestkernel/pvm.S) */
	int supervisor;         /* the program runs in ring 0 (run_options) */

	/* Requests are served one at a time, by either thread. */
	pthread_mutex_t lock;
	pthread_t service;
	int service_running;
	int stop;               /* tells the service thread to finish */
	int wake;               /* futex word: wakes a sleeping service thread */
	int sleeping;           /* the service thread is (about to be) asleep */
	int in_flight;          /* the service thread owns the posted request */
	uint64_t poll_ns;       /* how long it spins after a request (adapted) */
	uint64_t slept_at;      /* when it last went to sleep */
	int vcpu_waiting;       /* the vCPU thread sleeps until in_flight clears */
	uint64_t nexits, nserved_polling, nserved_exit;
	uint64_t npatched_calls; /* calls that came from patched sites */
	uint64_t napplies;      /* answers that sent the guest to ring 0 to
				   apply page-table rewrites (no exit) */
	uint64_t nexit[EXIT_KINDS];     /* --stats: exits by why */
	uint64_t gtrace_seen;    /* guest-answered calls already traced */
	struct timespec started; /* for the wall time in --status-json */
	int ran;                 /* the program started */
	/* Signals: the threads a kick must reach, and how a run ends. */
	pid_t vcpu_tid, service_tid, watchdog_tid;
	int timed_out;           /* the time limit sent SIGTERM */
	int finished;            /* atomic: the run's end is being reported */
	int is_child;            /* a forked launcher: the first one reports the run */
	/* Threads: the contexts of those not running (thread.c), how many
	 * there are (atomic: the signal thread's preemption tick reads it). */
	struct thread_ctx *ctx[PROC_MAX_THREADS];
	int nthreads;
	int tick;               /* atomic: the signal thread's time slice ended */
	int rekick;             /* atomic: a due signal waits for another kick */
	int warned_slice;       /* --deterministic had to preempt: said so */
};

/* The supervisor's stack (SUPERVISOR_STACK bytes below the kernel
 * header's stack_top) at ring-0 address rsp, len bytes, as a host
 * pointer; NULL if that is not all on the stack. */
void *supervisor_stack(struct vmctx *vc, uint64_t rsp, size_t len);

int boot_supervisor(struct vmctx *vc);
/* Puts the vCPU at the program's first instruction (vc->boot). */
int boot_vcpu(struct vmctx *vc);
/* For `make bench`: times n iterations of a loop in the supervisor, as
 * the backend runs it, prints the cost of one, and boots the vCPU again. */
int time_supervisor(struct vmctx *vc, uint64_t n);
/* A forked VM: the parent's vCPU state st, and the program's segment
 * bases. */
int boot_resume(struct vmctx *vc, const struct kvm_state *st, uint64_t fs, uint64_t gs);
/* The program's FS and GS bases, from its next instruction on; the vCPU
 * stopped in the supervisor (an exit), or in the program's own code if
 * in_program (an interruption). */
int set_segment_bases(struct vmctx *vc, uint64_t fs, uint64_t gs, int in_program);
int boot_program(struct vmctx *vc, const char *path, char *const argv[],
		 char *const envp[], int *status);
/* The same for a program already read, with its interpreter if it
 * names one (x->interp). */
int boot_image(struct vmctx *vc, const struct exec_request *x, int *status);

/* status.c */
/* Fills res for a program that ended through sys (exit, or a signal). */
void program_ended(const struct proc *p, struct run_result *res);
/* --status-json: writes res and the run's figures, if asked for. */
void status_write(struct vmctx *vc, const struct run_result *res);
/* Starts the signal thread: it receives the signals sent to the
 * launcher for the program (Ctrl-C, kill, its interval timers) and
 * hands them over, and it keeps the time and cpu limits.  Call before
 * other threads start: it sets the signal mask they inherit. */
int watchdog_start(struct vmctx *vc);
/* Tells the signal thread the number of threads changed: it kicks the
 * vCPU every time slice while there are several (thread.c). */
void watchdog_retick(struct vmctx *vc);
/* A signal is due but the vCPU was not in the program's own code: the
 * signal thread kicks it again shortly. */
void watchdog_rekick(struct vmctx *vc);
/* The signal the signal thread waits for that says so. */
#define SIG_TICK 61
/* Interrupts whatever the vCPU and service threads are doing (KVM_RUN,
 * a blocking host call) so a signal for the program is looked at. */
void kick(struct vmctx *vc);
/* harden_launcher() for this run, reporting its error.  0 or -1. */
int harden(struct vmctx *vc);

/* Whether the vCPU stopped in the program's own code, not in the entry
 * page or the supervisor (where a syscall or an exit is under way).  The
 * PVM native mode can show a user CS in the supervisor, hence rip too.
 * In supervisor mode the program's code is ring 0's; ring 3 there is a
 * user context of the program's (libdune), never a place for a frame. */
static inline int in_program_code(const struct vmctx *vc, const struct kvm_sregs *s,
				  const struct kvm_regs *r)
{
	return (s->cs.selector & 3) == (vc->supervisor ? 0 : 3) && r->rip < GVA_ENTRY &&
	       !mm_patch_in_stub(vc->mm, r->rip);
}

/* The program's registers at an interruption: its own general registers
 * with rip, rflags and rsp from the supervisor's iret frame. */
struct uctx {
	struct kvm_regs regs;
	struct kvm_regs ring0;  /* the stub's, to resume it */
	uint64_t *iret;         /* host pointer: rip, cs, rflags, rsp, ss */
};

/* signal.c: running handlers, on the vCPU thread during an exit.  Each
 * returns 0 (done, or the program died: see proc.exited) or -1 (the
 * vCPU's state could not be read or written: a panic). */
/* After a syscall: the next pending handler, if any, instead of the
 * return to the caller. */
int signal_after_syscall(struct vmctx *vc);
/* After a fault sig_fault() left pending: its handler. */
int signal_after_fault(struct vmctx *vc);
/* After an interruption of the guest (KVM_EXIT_INTR): if it was running
 * the program's own code, the pending handler now; else at the next
 * syscall or exit. */
int signal_interrupt(struct vmctx *vc);
/* An exception the program asked to take itself (dune_trap): 1 if its
 * handler will run, 0 if it did not ask or its stack has no room (a
 * signal then), -1 as above. */
int trap_upcall(struct vmctx *vc, int vec, uint64_t err, uint64_t cr2);
/* rt_sigreturn: the interrupted context back from the handler's frame. */
int signal_return(struct vmctx *vc);
/* The program's registers in a supervisor stub (has_error_code: an
 * exception's), and back: the program resumes with u->regs when the
 * stub irets.  0 or -1. */
int uctx_get(struct vmctx *vc, struct uctx *u, int has_error_code);
int uctx_put(struct vmctx *vc, struct uctx *u);
/* Where the program resumes that is to resume at rip: inside a patched
 * syscall site (the instruction after a syscall, say), at the copy of
 * that instruction in the site's stub (mm_patch_resume). */
uint64_t resume_at(struct vmctx *vc, uint64_t rip);
/* At a syscall exit: the program's registers as it sees them once the
 * call has returned mb->ret.  0 or -1. */
int syscall_uctx(struct vmctx *vc, struct uctx *u);
/* The next pending handler on u, after syscall nr returned ret (its
 * SA_RESTART applied), or after an interruption (deliver_one): 1 if it
 * will run, 0 if there was none or the program died of it. */
int signal_after_call(struct vmctx *vc, struct uctx *u, uint64_t nr, long ret);
int deliver_one(struct vmctx *vc, struct uctx *u);

/* thread.c: switching the program's threads on the vCPU. */
/* After a syscall served on the vCPU thread, in a process that has made
 * threads: a thread clone's new thread, the caller parked (parked) or
 * gone.  Returns 1 if another thread now runs, 0 if the caller goes on,
 * -1 on a vCPU access error. */
int thread_after_syscall(struct vmctx *vc, int parked);
/* At an interruption of the program's own code: another thread's turn,
 * if one is ready.  0 or -1. */
int thread_preempt(struct vmctx *vc);
/* The contexts kept for threads, after execve or in a fork child. */
void thread_forget(struct vmctx *vc);

/* service.c */
/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);
int service_start(struct vmctx *vc);
void service_stop(struct vmctx *vc);
void service_kick(struct vmctx *vc);
/* Serves the posted mailbox request on the vCPU thread, during an exit.
 * Returns 1 if the request (rt_sigreturn) replaced the program's
 * registers, 2 if the call parked its thread (sys.h), 0 after an
 * ordinary call, -1 on a vCPU access error. */
int serve_request(struct vmctx *vc);
/* Whether the call must be served on the vCPU thread, during an exit:
 * it changes vCPU state or ends the program. */
int needs_vcpu(uint64_t nr);
/* --trace: prints the calls the guest answered since the last time. */
void trace_guest_calls(struct vmctx *vc);

#endif
