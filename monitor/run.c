/*
 * The vCPU loop: serves the supervisor's exits until the program ends.
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "monitor_impl.h"

enum { RUN_CONTINUE, RUN_DONE };

/* A syscall served longer than this waited for something. */
#define WAITED_NS 50000

static int exec_program(struct vmctx *vc, struct run_result *res);
static struct mm *new_mm(struct vmctx *vc);

/* Whether syscall sites are rewritten (patch/patch.h): unless
 * --no-patch, or the program runs in ring 0 (supervisor mode), where
 * its `syscall` does not trap anyway. */
static int patches_sites(const struct vmctx *vc)
{
	return !vc->opt->no_patch && !vc->opt->supervisor;
}
static int fork_program(struct vmctx *vc, struct run_result *res);
static int full_resync(struct vmctx *vc);
static void publish_identity(struct vmctx *vc);

/* What Linux delivers for each exception vector taken in user mode. */
static int vector_signal(int vec)
{
	switch (vec) {
	case 0: case 16: case 19: return SIGFPE;   /* #DE #MF #XM */
	case 1: case 3: return SIGTRAP;            /* #DB #BP */
	case 6: return SIGILL;                     /* #UD */
	case 7: return SIGFPE;                     /* #NM */
	case 11: case 12: case 17: return SIGBUS;  /* #NP #SS #AC */
	default: return SIGSEGV;                   /* #GP #PF #OF #BR #TS ... */
	}
}

static const char *vector_name(int vec)
{
	static const char *names[32] = {
		"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
		"#OF overflow", "#BR bound range", "#UD invalid opcode",
		"#NM device not available", "#DF double fault", "coprocessor",
		"#TS invalid TSS", "#NP segment not present", "#SS stack fault",
		"#GP general protection", "#PF page fault", "reserved",
		"#MF x87 error", "#AC alignment check", "#MC machine check",
		"#XM SIMD error", "#VE", "#CP",
	};
	return vec < 32 && names[vec] ? names[vec] : "reserved vector";
}

static void print_regs(const struct kvm_regs *r, const struct kvm_sregs *s)
{
	fprintf(stderr,
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  rip %016llx rflags %08llx cs %04x cr2 %016llx cr3 %016llx\n",
		r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
		r->rip, r->rflags, s->cs.selector, s->cr2, s->cr3);
}

static int panic(struct vmctx *vc, struct run_result *res, const char *what)
{
	struct kvm_regs r = {0};
	struct kvm_sregs s = {0};

	kvm_vm_get_regs(&vc->vm, &r);
	kvm_vm_get_sregs(&vc->vm, &s);
	fprintf(stderr, "dunerun: supervisor panic: %s\n", what);
	print_regs(&r, &s);
	res->status = 125;
	res->reason = "panic";
	return RUN_DONE;
}

static void describe_pf(char *buf, size_t len, uint64_t err)
{
	snprintf(buf, len, " (%s %s, %s)", err & 4 ? "user" : "supervisor",
		 err & 16 ? "instruction fetch" : err & 2 ? "write" : "read",
		 err & 1 ? "protection violation" : "page not present");
}

/* What a handler is told about a fault: si_code and si_addr as Linux
 * fills them for the vector. */
static struct sig_info fault_info(struct vmctx *vc, int vec, const uint64_t frame[6],
				  uint64_t cr2)
{
	struct sig_info si = { .addr = frame[1] };

	switch (vec) {
	case 14:
		si.addr = cr2;
		si.code = mm_mapped(vc->mm, cr2) ? SEGV_ACCERR : SEGV_MAPERR;
		break;
	case 0: si.code = FPE_INTDIV; break;
	case 6: si.code = ILL_ILLOPN; break;
	case 16: case 19: si.code = 0; break;       /* FPE_FLT*: from the status word */
	default:
		/* #GP, #SS, int3...: the kernel's own, with no address. */
		si.code = SI_KERNEL;
		si.addr = 0;
	}
	return si;
}

static int kill_program(struct vmctx *vc, struct run_result *res, int vec,
			const uint64_t frame[6], uint64_t cr2)
{
	int sig = vector_signal(vec);
	char detail[96] = "";
	struct sig_info si = fault_info(vc, vec, frame, cr2);

	/* The program's own trap handler runs instead, if it asked for
	 * this vector; or a signal handler, if it has one and does not
	 * block the signal. */
	int upcall = trap_upcall(vc, vec, frame[0], cr2);
	if (upcall)
		return upcall < 0 ? panic(vc, res, "cannot reach the vCPU's registers to run a trap handler")
				  : RUN_CONTINUE;
	if (sig_fault(&vc->proc, sig, &si)) {
		if (signal_after_fault(vc) < 0)
			return panic(vc, res, "cannot reach the vCPU's registers to run a signal handler");
		if (!vc->proc.exited)
			return RUN_CONTINUE;
		program_ended(&vc->proc, res);
		return RUN_DONE;
	}

	if (vec == 14)
		describe_pf(detail, sizeof detail, frame[0]);
	fprintf(stderr, "dunerun: %s: killed by %s: %s at rip 0x%llx, "
		"address 0x%llx, error 0x%llx%s\n", vc->path, strsignal(sig),
		vector_name(vec), (unsigned long long)frame[1],
		(unsigned long long)(vec == 14 ? cr2 : 0),
		(unsigned long long)frame[0], detail);
	res->signal = sig;
	res->status = 128 + sig;
	res->reason = "signal";
	return RUN_DONE;
}

/* The vector Linux on bare metal would have taken for an instruction
 * the host's hypervisor answered differently:
 * - some hosts (PVM) raise #UD for `int $n` from ring 3 instead of checking
 *   the gate's privilege.  Architecturally only vector 3 (DPL 3) is
 *   reachable; any other `int $n` is a #GP, which is what Linux reports;
 * - vmcall and vmmcall outside a VM are #UD, but KVM on AMD emulates them
 *   and injects #GP(0) when the caller is not in ring 0. */
static int native_vector(struct vmctx *vc, int vec, const uint64_t frame[6])
{
	uint8_t insn[3];
	size_t len = vec == 6 ? 2 : 3;   /* int $n is 2 bytes, vmcall 3 */

	if (vec != 6 && !(vec == 13 && frame[0] == 0))
		return vec;
	pthread_mutex_lock(&vc->lock);
	int r = mm_copy_in(vc->mm, insn, frame[1], len);
	pthread_mutex_unlock(&vc->lock);
	if (r < 0)
		return vec;
	if (vec == 6)
		return insn[0] != 0xcd ? 6 : insn[1] == 3 ? 3 : 13;
	if (insn[0] == 0x0f && insn[1] == 0x01 && (insn[2] == 0xc1 || insn[2] == 0xd9))
		return 6;
	return vec;
}

void *supervisor_stack(struct vmctx *vc, uint64_t rsp, size_t len)
{
	if (rsp < vc->kh.stack_top - SUPERVISOR_STACK || rsp > vc->kh.stack_top ||
	    len > vc->kh.stack_top - rsp)
		return NULL;
	return mm_gpa(vc->mm, rsp - GVA_KERNEL_BASE, len);
}

/* A #UD in a patched syscall site's guard bytes: a jump into the middle
 * of the patch (patch/patch.h), sent on to where the program meant to
 * go.  frame: the hardware frame on the supervisor stack. */
static int patch_guard(struct vmctx *vc, void *frame)
{
	uint64_t rip;

	memcpy(&rip, (uint8_t *)frame + 8, 8);
	pthread_mutex_lock(&vc->lock);
	mm_lock(vc->mm);
	uint64_t to = mm_patch_guard(vc->mm, rip);
	mm_unlock(vc->mm);
	pthread_mutex_unlock(&vc->lock);
	if (!to)
		return 0;
	memcpy((uint8_t *)frame + 8, &to, 8);
	return 1;
}

/* The exception stub left the user registers alone and the hardware
 * frame (error code, rip, cs, rflags, rsp, ss) at the ring-0 rsp. */
static int on_exception(struct vmctx *vc, struct run_result *res, int vec)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint64_t frame[6];
	void *at;

	if (kvm_vm_get_regs(&vc->vm, &r) < 0 || kvm_vm_get_sregs(&vc->vm, &s) < 0)
		return panic(vc, res, vc->vm.err);
	if (!(at = supervisor_stack(vc, r.rsp, sizeof frame)))
		return panic(vc, res, "exception with the supervisor stack out of bounds");
	memcpy(frame, at, sizeof frame);
	/* In supervisor mode the program's own code runs in ring 0 too. */
	int program = (frame[2] & 3) == 3 || (vc->supervisor && frame[1] < GVA_ENTRY);
	if (!program || vec == 8 || vec == 18) {
		char what[160];
		snprintf(what, sizeof what, "%s in the supervisor at rip 0x%llx, "
			 "error 0x%llx", vector_name(vec),
			 (unsigned long long)frame[1], (unsigned long long)frame[0]);
		return panic(vc, res, what);
	}
	vec = native_vector(vc, vec, frame);
	if (vec == 6 && patch_guard(vc, at))
		return RUN_CONTINUE;
	if (vec != 14)
		return kill_program(vc, res, vec, frame, 0);
	pthread_mutex_lock(&vc->lock);
	mm_lock(vc->mm);
	enum mm_fault fault = mm_fault(vc->mm, s.cr2, frame[0]);
	mm_unlock(vc->mm);
	pthread_mutex_unlock(&vc->lock);
	switch (fault) {
	case MM_FAULT_FIXED:
		/* A handler that became due meanwhile runs before the retry. */
		if (sig_ready(&vc->proc) && signal_after_fault(vc) < 0)
			return panic(vc, res, "cannot reach the vCPU's registers to run a signal handler");
		if (vc->proc.exited) {
			program_ended(&vc->proc, res);
			return RUN_DONE;
		}
		return RUN_CONTINUE;
	case MM_FAULT_OOM:
		fprintf(stderr, "dunerun: %s: memory limit of %llu MiB reached: "
			"program killed (raise it with --memory)\n", vc->path,
			(unsigned long long)(mm_phys_size(vc->mm) >> 20));
		res->signal = SIGKILL;
		res->status = 128 + SIGKILL;
		res->reason = "memory";
		res->limit = "memory";
		return RUN_DONE;
	default:
		return kill_program(vc, res, vec, frame, s.cr2);
	}
}

static int take(struct mailbox *mb, uint32_t from)
{
	return __atomic_compare_exchange_n(&mb->state, &from, MB_TAKEN, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* The guest asked for an exit: serve its request here, or wait for the
 * service thread that already took it. */
static int on_syscall_exit(struct vmctx *vc, struct run_result *res)
{
	struct mailbox *mb = vc->mbox;
	int served = 0;
	uint64_t t0 = now_ns();

	for (;;) {
		uint32_t s = __atomic_load_n(&mb->state, __ATOMIC_ACQUIRE);
		if (vc->proc.exited)
			break;
		if (s == MB_POSTED || s == MB_BOUNCE) {
			if (!take(mb, s))
				continue;
			served = serve_request(vc);
			vc->nserved_exit++;
			break;
		}
		if (s == MB_TAKEN && __atomic_load_n(&vc->in_flight, __ATOMIC_ACQUIRE)) {
			/* Announce the wait before sleeping; the futex rechecks
			 * in_flight, so a clear in between is never missed. */
			__atomic_store_n(&vc->vcpu_waiting, 1, __ATOMIC_SEQ_CST);
			syscall(SYS_futex, &vc->in_flight, FUTEX_WAIT_PRIVATE, 1,
				NULL, NULL, 0);
			__atomic_store_n(&vc->vcpu_waiting, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		break;
	}
	mb->want_exit = 0;
	/* A call that waited says the program is waiting on others, not
	 * making syscalls fast: the polling thread may sleep on. */
	if (now_ns() - t0 < WAITED_NS)
		service_kick(vc);
	if (vc->proc.exec && !vc->proc.exited)
		return exec_program(vc, res);
	if (vc->proc.fork.pending && !vc->proc.exited)
		return fork_program(vc, res);
	int switched = 0;
	if ((served == 0 || served == 2) && vc->proc.threads && !vc->proc.exited &&
	    (switched = thread_after_syscall(vc, served == 2)) < 0)
		return panic(vc, res, "cannot switch threads: the vCPU's state is out of reach");
	if (served < 0 || (served == 0 && !switched && !vc->proc.exited &&
			   signal_after_syscall(vc) < 0))
		return panic(vc, res, "cannot reach the vCPU's registers to run a signal handler");
	if (vc->proc.exited) {
		program_ended(&vc->proc, res);
		return RUN_DONE;
	}
	if (vc->proc.fs_dirty) {
		vc->proc.fs_dirty = 0;
		if (set_segment_bases(vc, vc->proc.fs_base, vc->proc.gs_base, 0) < 0)
			return panic(vc, res, vc->vm.err);
	}
	return RUN_CONTINUE;
}

/* The polling thread again, after execve or fork stopped it. */
static int restart_service(struct vmctx *vc, struct run_result *res)
{
	if (vc->opt->no_poll || service_start(vc) == 0)
		return RUN_CONTINUE;
	fprintf(stderr, "dunerun: cannot start the syscall thread\n");
	res->status = 125;
	res->reason = "error";
	return RUN_DONE;
}

/* A clean x87/SSE/AVX state for a new program: FCW and MXCSR at their
 * reset values, every register zero. */
static int reset_fpu(struct vmctx *vc)
{
	struct kvm_xsave xs;

	memset(&xs, 0, sizeof xs);
	xs.region[0] = 0x037f;          /* FCW, the low half of the first word */
	xs.region[6] = 0x1f80;          /* MXCSR, at byte 24 */
	return kvm_vm_set_xsave(&vc->vm, &xs);
}

/*
 * execve's second half, past the point of no return: a fresh address
 * space with the supervisor and the new program, the same VM and vCPU,
 * the same process (descriptors, pid, mask).  sys_execve checked the
 * file and copied the arguments; what fails here is the launcher's.
 */
static int exec_program(struct vmctx *vc, struct run_result *res)
{
	struct exec_request *x = vc->proc.exec;
	struct mm *old = vc->mm;
	int status;

	service_stop(vc);
	if (kvm_vm_set_memory(&vc->vm, mm_host_base(old), 0) < 0)
		return panic(vc, res, vc->vm.err);
	vc->mm = new_mm(vc);
	if (!vc->mm || boot_supervisor(vc) < 0 ||
	    boot_image(vc, x, &status) < 0) {
		fprintf(stderr, "dunerun: execve %s: cannot start it\n", x->path);
		res->status = 125;
		res->reason = "error";
		if (vc->mm)
			mm_destroy(vc->mm);
		vc->mm = old;
		return RUN_DONE;
	}
	proc_exec(&vc->proc, vc->mm);
	thread_forget(vc);
	vc->path = vc->proc.exe;
	mm_destroy(old);
	exec_request_free(x);
	vc->proc.exec = NULL;
	publish_identity(vc);
	if (kvm_vm_set_memory(&vc->vm, mm_host_base(vc->mm), mm_phys_size(vc->mm)) < 0 ||
	    reset_fpu(vc) < 0 || boot_vcpu(vc) < 0)
		return panic(vc, res, vc->vm.err);
	return restart_service(vc, res);
}

/* The forked launcher: its own VM around its copy of guest memory, the
 * parent's vCPU state in it, and its own threads.  The program sees
 * fork return 0. */
static int become_child(struct vmctx *vc, const struct kvm_state *st,
			const struct fork_request *f)
{
	struct proc *p = &vc->proc;
	int pid = getpid();

	vc->is_child = 1;
	vc->vcpu_tid = (pid_t)syscall(SYS_gettid);
	vc->service_tid = 0;
	vc->watchdog_tid = 0;
	vc->service_running = 0;
	p->pid = pid;
	thread_only_me(p);          /* fork copies the calling thread only */
	thread_forget(vc);
	p->nchildren = 0;
	p->sigpending = 0;
	p->host_pending = 0;
	memset(p->sigqueued, 0, sizeof p->sigqueued);
	vc->mbox->ret = 0;
	if (f->flags & CLONE_CHILD_SETTID)
		mm_copy_out(vc->mm, f->ctid, &pid, sizeof pid);
	if (f->flags & CLONE_CHILD_CLEARTID)
		p->tid_address = f->ctid;
	if (f->stack) {
		/* The child resumes on the stack it was given: the user rsp
		 * in the supervisor's iret frame (rip, cs, rflags, rsp, ss). */
		uint64_t *frame = supervisor_stack(vc, st->regs.rsp, 40);
		if (!frame)
			return -1;
		frame[3] = f->stack;
	}
	publish_identity(vc);
	if (kvm_vm_recreate(&vc->vm) < 0 ||
	    kvm_vm_set_memory(&vc->vm, mm_host_base(vc->mm), mm_phys_size(vc->mm)) < 0 ||
	    boot_resume(vc, st, p->fs_base, p->gs_base) < 0)
		return -1;
	return watchdog_start(vc);
}

/*
 * fork, vfork, clone: the launcher forks itself, with the vCPU stopped
 * and the service thread gone, so the child's copy of guest memory and
 * of the launcher's state is consistent.  Guest pids are host pids.
 */
static int fork_program(struct vmctx *vc, struct run_result *res)
{
	struct proc *p = &vc->proc;
	struct fork_request f = p->fork;
	struct kvm_state *st = malloc(sizeof *st);
	pid_t pid;

	p->fork.pending = 0;
	if (!st) {
		vc->mbox->ret = -ENOMEM;
		return RUN_CONTINUE;
	}
	int slot = procs_reserve(p);
	if (slot < 0) {
		vc->mbox->ret = -EAGAIN;
		free(st);
		return RUN_CONTINUE;
	}
	service_stop(vc);
	if (kvm_vm_save(&vc->vm, st) < 0) {
		free(st);
		return panic(vc, res, vc->vm.err);
	}
	fflush(NULL);
	pid = fork();
	procs_set(p, slot, pid < 0 ? 0 : pid ? pid : getpid());
	if (pid == 0) {
		p->run_slot = slot;
		if (become_child(vc, st, &f) < 0) {
			fprintf(stderr, "dunerun: fork: cannot start the child's VM: %s\n", vc->vm.err);
			procs_leave(p);
			_exit(125);
		}
	}
	if (pid < 0) {
		vc->mbox->ret = -errno;
	} else if (pid > 0) {
		/* The hypervisor may still map pages fork made copy-on-write
		 * (and the child then owns): drop its whole shadow of guest
		 * memory before the guest or we write to it again. */
		if (full_resync(vc) < 0) {
			free(st);
			return panic(vc, res, vc->vm.err);
		}
		vc->mbox->ret = pid;
		if (p->nchildren < (int)(sizeof p->children / sizeof p->children[0]))
			p->children[p->nchildren++] = pid;
		if (f.flags & CLONE_PARENT_SETTID)
			mm_copy_out(vc->mm, f.ptid, &pid, sizeof pid);
	}
	free(st);
	return restart_service(vc, res);
}

/* More page-table rewrites were needed than the queue holds: drop the
 * hypervisor's shadow of all guest memory instead. */
static int full_resync(struct vmctx *vc)
{
	int r = -1;

	pthread_mutex_lock(&vc->lock);
	if (kvm_vm_set_memory(&vc->vm, mm_host_base(vc->mm), 0) == 0 &&
	    kvm_vm_set_memory(&vc->vm, mm_host_base(vc->mm), mm_phys_size(vc->mm)) == 0) {
		mm_full_resync_done(vc->mm);
		r = 0;
	}
	pthread_mutex_unlock(&vc->lock);
	return r;
}

/* For --stats: why a syscall exit happened, from the mailbox's state. */
static enum exit_kind syscall_exit_kind(struct vmctx *vc)
{
	switch (__atomic_load_n(&vc->mbox->state, __ATOMIC_ACQUIRE)) {
	case MB_POSTED: return EXIT_SYSCALL_UNPOLLED;
	case MB_BOUNCE: return EXIT_SYSCALL_BOUNCED;
	default: return EXIT_SYSCALL_ASKED;
	}
}

static int handle_exit(struct vmctx *vc, struct run_result *res, int reason)
{
	struct kvm_run *run = vc->vm.run;

	switch (reason) {
	case KVM_EXIT_IO:
		if (run->io.direction != KVM_EXIT_IO_OUT)
			return panic(vc, res, "unexpected port input");
		if (run->io.port <= PORT_EXCEPTION_MAX) {
			vc->nexit[run->io.port == 14 ? EXIT_PAGE_FAULT : EXIT_EXCEPTION]++;
			return on_exception(vc, res, run->io.port);
		}
		if (run->io.port == PORT_SYSCALL) {
			vc->nexit[syscall_exit_kind(vc)]++;
			return on_syscall_exit(vc, res);
		}
		return panic(vc, res, "unexpected port output");
	case KVM_EXIT_INTR:
		vc->nexit[EXIT_INTERRUPT]++;
		if (thread_preempt(vc) < 0)
			return panic(vc, res, "cannot switch threads: the vCPU's state is out of reach");
		if (vc->proc.exited) {
			program_ended(&vc->proc, res);
			return RUN_DONE;
		}
		return RUN_CONTINUE;
	case KVM_EXIT_SHUTDOWN:
		return panic(vc, res, "triple fault");
	case KVM_EXIT_HLT:
		return panic(vc, res, "hlt in the supervisor");
	case KVM_EXIT_MMIO:
		return panic(vc, res, "access outside guest memory");
	case KVM_EXIT_INTERNAL_ERROR:
		return panic(vc, res, "the hypervisor could not emulate an instruction");
	case KVM_EXIT_FAIL_ENTRY:
		return panic(vc, res, "the hypervisor refused to enter the guest");
	default: {
		char what[64];
		snprintf(what, sizeof what, "unexpected exit reason %d", reason);
		return panic(vc, res, what);
	}
	}
}

/* Signals the launcher received for the program: their default action,
 * or a handler now if the program was running its own code.  One that
 * found it in the entry page or a stub after its syscall was answered
 * (no exit is coming to deliver it) gets another kick soon. */
static int on_host_signal(struct vmctx *vc, struct run_result *res)
{
	pthread_mutex_lock(&vc->lock);
	sig_take_host(&vc->proc);
	pthread_mutex_unlock(&vc->lock);
	if (!vc->proc.exited && signal_interrupt(vc) < 0)
		return panic(vc, res, "cannot reach the vCPU's registers to run a signal handler");
	if (!vc->proc.exited) {
		if (sig_ready(&vc->proc))
			watchdog_rekick(vc);
		return RUN_CONTINUE;
	}
	program_ended(&vc->proc, res);
	return RUN_DONE;
}

static void run_loop(struct vmctx *vc, struct run_result *res)
{
	for (;;) {
		int reason = kvm_vm_run(&vc->vm);
		vc->nexits++;
		if (reason < 0) {
			fprintf(stderr, "dunerun: %s\n", vc->vm.err);
			res->status = 125;
			res->reason = "error";
			return;
		}
		if (handle_exit(vc, res, reason) == RUN_DONE)
			return;
		if ((__atomic_load_n(&vc->proc.host_pending, __ATOMIC_ACQUIRE) ||
		     (reason == KVM_EXIT_INTR && sig_ready(&vc->proc))) &&
		    on_host_signal(vc, res) == RUN_DONE)
			return;
		if (mm_needs_full_resync(vc->mm) && full_resync(vc) < 0) {
			fprintf(stderr, "dunerun: %s\n", vc->vm.err);
			res->status = 125;
			res->reason = "error";
			return;
		}
	}
}

/* --stats: where the run's syscalls were served, and why it exited. */
static void print_stats(struct vmctx *vc)
{
	const uint64_t *x = vc->nexit;
	struct mm_patch_stats ps;
	unsigned long long refused = 0;

	mm_patch_stats(vc->mm, &ps);
	for (int r = 1; r < PATCH_REFUSALS; r++)
		refused += ps.refused[r];
	fprintf(stderr, "dunerun: %llu exits; syscalls: %llu served by polling, %llu by exit, "
		"%llu in the guest; %llu from patched sites or the vDSO\n",
		(unsigned long long)vc->nexits, (unsigned long long)vc->nserved_polling,
		(unsigned long long)vc->nserved_exit, (unsigned long long)vc->mbox->guest_calls,
		(unsigned long long)vc->npatched_calls);
	fprintf(stderr, "dunerun: exits: %llu page faults, %llu other exceptions, "
		"%llu syscalls unpolled, %llu bounced (may block), %llu after service, "
		"%llu interruptions, %llu other; %llu entries to ring 0 without an exit "
		"(page-table rewrites)\n",
		(unsigned long long)x[EXIT_PAGE_FAULT], (unsigned long long)x[EXIT_EXCEPTION],
		(unsigned long long)x[EXIT_SYSCALL_UNPOLLED], (unsigned long long)x[EXIT_SYSCALL_BOUNCED],
		(unsigned long long)x[EXIT_SYSCALL_ASKED], (unsigned long long)x[EXIT_INTERRUPT],
		(unsigned long long)(vc->nexits - x[EXIT_PAGE_FAULT] - x[EXIT_EXCEPTION] -
				     x[EXIT_SYSCALL_UNPOLLED] - x[EXIT_SYSCALL_BOUNCED] -
				     x[EXIT_SYSCALL_ASKED] - x[EXIT_INTERRUPT]),
		(unsigned long long)vc->napplies);
	fprintf(stderr, "dunerun: syscall sites: %llu patched (%llu stub pages), %llu kept slow",
		(unsigned long long)ps.sites, (unsigned long long)ps.stub_pages, refused);
	for (int r = 1; r < PATCH_REFUSALS; r++)
		if (ps.refused[r])
			fprintf(stderr, "; %llu %s", (unsigned long long)ps.refused[r],
				patch_refusal_name(r));
	fprintf(stderr, "; %llu jumps into a patch, %llu restored\n",
		(unsigned long long)ps.guard_hits, (unsigned long long)ps.restored);
}

static void publish_identity(struct vmctx *vc)
{
	struct mailbox *mb = vc->mbox;

	mb->vv_pid = vc->proc.pid;
	mb->vv_tid = vc->proc.tid;
	mb->trace = vc->opt->trace;
	mb->patching = patches_sites(vc);
}

/* For tests: DUNERUN_INJECT=supervisor-fault queues a rewrite of an
 * address past guest memory, so the supervisor faults in ring 0 at its
 * first apply and the panic path runs for real. */
static void inject_faults(struct vmctx *vc)
{
	const char *what = getenv("DUNERUN_INJECT");

	if (!what || strcmp(what, "supervisor-fault"))
		return;
	vc->kcb->update[0].kva = GVA_DIRECT + mm_phys_size(vc->mm);
	vc->kcb->update[0].count = 1;
	vc->kcb->nupdates = 1;
}

static void monitor_free(struct vmctx *vc)
{
	for (int i = 0; i < PROC_MAX_THREADS; i++)
		free(vc->ctx[i]);
	kvm_vm_close(&vc->vm);
	mm_destroy(vc->mm);
	free(vc);
}

static int choose_backend(struct vmctx *vc)
{
	int pvm = vc->opt->backend != BACKEND_PORTABLE && kvm_vm_pvm(&vc->vm);

	if (vc->opt->backend == BACKEND_PVM_NATIVE && !pvm) {
		fprintf(stderr, "dunerun: --backend pvm-native: this host's KVM is not PVM "
			"(use --backend portable)\n");
		return -1;
	}
	vc->native = vc->opt->backend == BACKEND_PVM_NATIVE ||
		     (vc->opt->backend == BACKEND_AUTO && pvm);
	vc->supervisor = vc->opt->supervisor;
	/* PVM's native mode has no ring 0 of its own to give a program, and
	 * its emulated ring 0 runs about a microsecond per instruction (and
	 * no SSE): a program there is asked for by name only. */
	if (vc->supervisor && vc->native) {
		fprintf(stderr, "dunerun: supervisor mode (--supervisor, allow supervisor): this host's KVM is PVM, whose ring 0 "
			"is emulated; it needs VT-x/SVM (--backend portable runs it anyway, slowly)\n");
		return -1;
	}
	return 0;
}

/* A fresh address space, its syscall sites rewritten as patches_sites
 * says. */
static struct mm *new_mm(struct vmctx *vc)
{
	struct mm *mm = mm_create(vc->opt->mem, vc->native);

	if (mm && mm_patch_enable(mm, patches_sites(vc)) < 0) {
		mm_destroy(mm);
		return NULL;
	}
	return mm;
}

struct vmctx *monitor_open(const struct run_options *opt)
{
	struct vmctx *vc = calloc(1, sizeof *vc);

	if (!vc) {
		fprintf(stderr, "dunerun: out of memory\n");
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &vc->started);
	vc->opt = opt;
	pthread_mutex_init(&vc->lock, NULL);
	if (kvm_vm_open(&vc->vm) < 0) {
		fprintf(stderr, "dunerun: %s\n", vc->vm.err);
		monitor_free(vc);
		return NULL;
	}
	if (choose_backend(vc) < 0) {
		monitor_free(vc);
		return NULL;
	}
	vc->mm = new_mm(vc);
	if (!vc->mm) {
		fprintf(stderr, "dunerun: cannot reserve %llu MiB of guest memory\n",
			(unsigned long long)(opt->mem >> 20));
		monitor_free(vc);
		return NULL;
	}
	return vc;
}

int monitor_forked(struct vmctx *vc)
{
	if (kvm_vm_recreate(&vc->vm) == 0)
		return 0;
	fprintf(stderr, "dunerun: %s\n", vc->vm.err);
	return -1;
}

/* The policy's limits that the process table and the host kernel keep. */
static void apply_limits(struct vmctx *vc)
{
	const struct policy *pol = vc->opt->policy;
	struct proc *p = &vc->proc;
	struct rlimit rl;

	p->policy = vc->opt->enforce ? pol : NULL;
	/* A hardened launcher makes processes only in a PID namespace of
	 * its own (its seccomp filter). */
	p->can_fork = !vc->opt->harden || vc->opt->fork_in_sandbox;
	p->deterministic = vc->opt->deterministic;
	p->procfd = vc->opt->procfd;
	p->audit_fd = vc->opt->audit_fd;
	if (!pol)
		return;
	p->output_limit = pol->limit[LIMIT_OUTPUT];
	p->net = !!(pol->promises & (PROMISE_BIT(PROMISE_INET) | PROMISE_BIT(PROMISE_UNIX)));
	if (pol->limit[LIMIT_NOFILE] && pol->limit[LIMIT_NOFILE] < p->rlim[RLIMIT_NOFILE][0])
		p->rlim[RLIMIT_NOFILE][0] = p->rlim[RLIMIT_NOFILE][1] = pol->limit[LIMIT_NOFILE];
	if (pol->limit[LIMIT_FSIZE]) {
		/* The host kernel counts the bytes; its EFBIG becomes the
		 * program's SIGXFSZ in sys, not the launcher's death. */
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = pol->limit[LIMIT_FSIZE];
		setrlimit(RLIMIT_FSIZE, &rl);
		p->rlim[RLIMIT_FSIZE][0] = p->rlim[RLIMIT_FSIZE][1] = rl.rlim_cur;
	}
}

struct run_result monitor_run(struct vmctx *vc, const char *path, char *const argv[],
			      char *const envp[])
{
	struct run_result res = { .status = 125, .reason = "error" };
	const struct run_options *opt = vc->opt;

	vc->path = path;
	if (boot_supervisor(vc) < 0 ||
	    boot_program(vc, path, argv, envp, &res.status) < 0)
		goto out;
	res.status = 125;
	if (proc_init(&vc->proc, vc->mm, path) < 0) {
		fprintf(stderr, "dunerun: cannot set up the process\n");
		goto out;
	}
	vc->proc.trace = opt->trace;
	vc->proc.trace_fd = 2;
	apply_limits(vc);
	if (procs_open(&vc->proc, vc->opt->policy) < 0) {
		fprintf(stderr, "dunerun: cannot map the process table\n");
		goto out_proc;
	}
	publish_identity(vc);
	inject_faults(vc);
	if (kvm_vm_set_memory(&vc->vm, mm_host_base(vc->mm), mm_phys_size(vc->mm)) < 0 ||
	    boot_vcpu(vc) < 0) {
		fprintf(stderr, "dunerun: %s\n", vc->vm.err);
		goto out_proc;
	}
	const char *loop = getenv("DUNERUN_SUPERVISOR_LOOP");
	if (loop && time_supervisor(vc, strtoull(loop, NULL, 0)) < 0) {
		fprintf(stderr, "dunerun: DUNERUN_SUPERVISOR_LOOP: the timing loop failed\n");
		goto out_proc;
	}
	if (opt->harden) {
		if (harden(vc) < 0)
			goto out_proc;
		vc->proc.no_new_privs = 1;
	}
	vc->vcpu_tid = (pid_t)syscall(SYS_gettid);
	if (watchdog_start(vc) < 0 || (!opt->no_poll && service_start(vc) < 0)) {
		fprintf(stderr, "dunerun: cannot start the launcher's threads\n");
		goto out_proc;
	}
	vc->ran = 1;
	run_loop(vc, &res);
	service_stop(vc);
	if (__atomic_exchange_n(&vc->finished, 1, __ATOMIC_ACQ_REL))
		pause();        /* the signal thread is ending the run */
	if (vc->timed_out)
		res = (struct run_result){ 124, 0, "timeout", "time" };
	status_write(vc, &res);
	if (opt->trace)
		trace_guest_calls(vc);
	if (opt->stats)
		print_stats(vc);
out_proc:
	procs_leave(&vc->proc);
	proc_release(&vc->proc);
out:
	if (!vc->ran)
		status_write(vc, &res);
	monitor_free(vc);
	return res;
}
