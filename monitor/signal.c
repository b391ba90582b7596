/*
 * Running the program's signal handlers: the rt_sigframe Linux builds on
 * the user stack, and rt_sigreturn, which takes it down.
 *
 * Both happen on the vCPU thread during an exit, with the vCPU stopped
 * in a supervisor stub whose iret frame holds the program's rip, rflags
 * and rsp; every other register is the program's own.  Delivering a
 * signal saves all of that (and the x87/SSE/AVX state) in the frame,
 * then points the iret frame at the handler.  rt_sigreturn reads the
 * frame back, checking what the program may have changed in it, as the
 * kernel's restore_sigcontext does.  Signals are rare, so this is the
 * slow, simple path: no work for the supervisor.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>

#include "monitor_impl.h"
#include "dune.h"

/* The x86-64 kernel's structures, as the program's libc expects them. */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate, reserved[8];
};

struct k_ucontext {
	uint64_t flags, link;
	struct { uint64_t sp; int32_t flags, pad; uint64_t size; } stack;
	struct k_sigcontext mc;
	uint64_t sigmask;
};

struct k_siginfo {
	int32_t signo, errno_, code, pad;
	union {
		struct { uint32_t pid, uid; uint64_t value; } kill;
		struct { uint64_t addr; } fault;
		uint8_t bytes[112];
	};
};

struct k_rt_sigframe {
	uint64_t restorer;      /* the handler returns here */
	struct k_ucontext uc;
	struct k_siginfo info;
};

_Static_assert(sizeof(struct k_sigcontext) == 256, "sigcontext");
_Static_assert(offsetof(struct k_ucontext, sigmask) == 296, "ucontext");
_Static_assert(sizeof(struct k_siginfo) == 128, "siginfo");

#define UC_FP_XSTATE       0x1
#define UC_SIGCONTEXT_SS   0x2
#define UC_STRICT_RESTORE_SS 0x4
#define FP_XSTATE_MAGIC1   0x46505853U
#define FP_XSTATE_MAGIC2   0x46505845U
#define XSTATE_SIZE        832          /* legacy 512, header 64, AVX 256 */
#define XSTATE_FEATURES    0x7          /* x87, SSE, AVX: the guest's XCR0 */
#define K_SA_ONSTACK       0x08000000
#define K_SA_RESETHAND     0x80000000
#define K_SA_NODEFER       0x40000000
#define K_SA_RESTORER      0x04000000
#define K_SS_ONSTACK       1
#define K_SS_DISABLE       2

int uctx_get(struct vmctx *vc, struct uctx *u, int has_error_code)
{
	if (kvm_vm_get_regs(&vc->vm, &u->ring0) < 0 ||
	    !(u->iret = supervisor_stack(vc, u->ring0.rsp + (has_error_code ? 8 : 0), 40)))
		return -1;
	u->regs = u->ring0;
	/* Interrupted in a stub's copy of a borrowed instruction (a fault
	 * there): the program's view is the instruction's own address. */
	pthread_mutex_lock(&vc->lock);
	u->regs.rip = mm_patch_original(vc->mm, u->iret[0]);
	pthread_mutex_unlock(&vc->lock);
	u->regs.rflags = u->iret[2];
	u->regs.rsp = u->iret[3];
	return 0;
}

uint64_t resume_at(struct vmctx *vc, uint64_t rip)
{
	pthread_mutex_lock(&vc->lock);
	uint64_t to = mm_patch_resume(vc->mm, rip);
	pthread_mutex_unlock(&vc->lock);
	return to;
}

int uctx_put(struct vmctx *vc, struct uctx *u)
{
	struct kvm_regs r = u->regs;

	u->iret[0] = resume_at(vc, u->regs.rip);
	u->iret[2] = (u->iret[2] & ~USER_RFLAGS_MASK) | (u->regs.rflags & USER_RFLAGS_MASK);
	u->iret[3] = u->regs.rsp;
	r.rip = u->ring0.rip;
	r.rsp = u->ring0.rsp;
	r.rflags = u->ring0.rflags;
	return kvm_vm_set_regs(&vc->vm, &r);
}

static void to_sigcontext(const struct kvm_regs *r, struct k_sigcontext *mc)
{
	mc->r8 = r->r8; mc->r9 = r->r9; mc->r10 = r->r10; mc->r11 = r->r11;
	mc->r12 = r->r12; mc->r13 = r->r13; mc->r14 = r->r14; mc->r15 = r->r15;
	mc->rdi = r->rdi; mc->rsi = r->rsi; mc->rbp = r->rbp; mc->rbx = r->rbx;
	mc->rdx = r->rdx; mc->rax = r->rax; mc->rcx = r->rcx; mc->rsp = r->rsp;
	mc->rip = r->rip; mc->eflags = r->rflags;
}

static void from_sigcontext(const struct k_sigcontext *mc, struct kvm_regs *r)
{
	r->r8 = mc->r8; r->r9 = mc->r9; r->r10 = mc->r10; r->r11 = mc->r11;
	r->r12 = mc->r12; r->r13 = mc->r13; r->r14 = mc->r14; r->r15 = mc->r15;
	r->rdi = mc->rdi; r->rsi = mc->rsi; r->rbp = mc->rbp; r->rbx = mc->rbx;
	r->rdx = mc->rdx; r->rax = mc->rax; r->rcx = mc->rcx; r->rsp = mc->rsp;
	r->rip = mc->rip; r->rflags = mc->eflags;
}

/* Where the frame goes: the alternate stack if the action asks for it,
 * one is set and we are not on it already; else below the red zone. */
static uint64_t frame_top(const struct proc *p, uint64_t flags, uint64_t rsp)
{
	uint64_t sp = p->altstack.sp, size = p->altstack.size;
	int on_alt = rsp > sp && rsp <= sp + size;

	if ((flags & K_SA_ONSTACK) && p->altstack.flags != K_SS_DISABLE && !on_alt)
		return sp + size;
	return rsp - 128;
}

/* Builds the frame for sig and points u at the handler.  0, or -1 if the
 * frame cannot be written (the kernel then kills with SIGSEGV). */
static int push_frame(struct vmctx *vc, struct uctx *u, int sig, const struct sig_info *si,
		      const char **why)
{
	struct proc *p = &vc->proc;
	const typeof(p->sigact[0]) *act = &p->sigact[sig - 1];
	struct kvm_xsave xs;
	struct k_rt_sigframe f;
	uint64_t top = frame_top(p, act->flags, u->regs.rsp), fp, frame;
	uint32_t magic2 = FP_XSTATE_MAGIC2;

	if (!(act->flags & K_SA_RESTORER)) {
		*why = "no SA_RESTORER";
		return -1;
	}
	if (kvm_vm_get_xsave(&vc->vm, &xs) < 0) {
		*why = vc->vm.err;
		return -1;
	}
	fp = (top - XSTATE_SIZE - 4) & ~63ULL;
	frame = ((fp - sizeof f) & ~15ULL) - 8;   /* as after a call */

	/* The frame holds the x87, SSE and AVX components only: its header
	 * says so, whatever else the hypervisor keeps for the vCPU. */
	uint64_t bv;
	memcpy(&bv, (uint8_t *)xs.region + 512, 8);
	bv &= XSTATE_FEATURES;
	memcpy((uint8_t *)xs.region + 512, &bv, 8);
	/* The fxsave area's software bytes say an XSAVE image follows. */
	uint32_t *sw = (uint32_t *)((uint8_t *)xs.region + 464);
	sw[0] = FP_XSTATE_MAGIC1;
	sw[1] = XSTATE_SIZE + 4;                   /* extended size */
	memcpy(&sw[2], &(uint64_t){ XSTATE_FEATURES }, 8);
	sw[4] = XSTATE_SIZE;

	memset(&f, 0, sizeof f);
	f.restorer = act->restorer;
	f.uc.flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f.uc.stack.sp = p->altstack.sp;
	f.uc.stack.size = p->altstack.size;
	f.uc.stack.flags = p->altstack.flags;
	to_sigcontext(&u->regs, &f.uc.mc);
	f.uc.mc.cs = 0x33;
	f.uc.mc.ss = 0x2b;
	f.uc.mc.fpstate = fp;
	/* After sigsuspend, the handler's return restores the mask the
	 * program had before it, not the one it waited with. */
	uint64_t old = p->saved_mask_valid ? p->saved_mask : p->sigmask;
	p->saved_mask_valid = 0;
	f.uc.mc.oldmask = old;
	f.uc.mc.cr2 = si->addr;
	f.uc.sigmask = old;
	f.info.signo = sig;
	f.info.code = si->code;
	if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP) {
		f.info.fault.addr = si->addr;
	} else {
		f.info.kill.pid = si->pid;
		f.info.kill.uid = si->uid;
		f.info.kill.value = si->value;
	}
	pthread_mutex_lock(&vc->lock);
	mm_lock(vc->mm);
	int bad = mm_copy_out(vc->mm, fp, xs.region, XSTATE_SIZE) < 0 ||
		  mm_copy_out(vc->mm, fp + XSTATE_SIZE, &magic2, 4) < 0 ||
		  mm_copy_out(vc->mm, frame, &f, sizeof f) < 0;
	mm_unlock(vc->mm);
	pthread_mutex_unlock(&vc->lock);
	if (bad) {
		*why = "the stack is not writable there";
		return -1;
	}

	u->regs.rip = act->handler;
	u->regs.rsp = frame;
	u->regs.rdi = (uint64_t)sig;
	u->regs.rsi = frame + offsetof(struct k_rt_sigframe, info);
	u->regs.rdx = frame + offsetof(struct k_rt_sigframe, uc);
	u->regs.rax = 0;
	u->regs.rflags &= ~(0x100UL | 0x400UL);    /* TF, DF: as the ABI wants */

	/* The handler runs with its mask; SA_RESETHAND is one-shot. */
	uint64_t mask = p->sigmask | act->mask;
	if (!(act->flags & K_SA_NODEFER))
		mask |= 1ULL << (sig - 1);
	if (act->flags & K_SA_RESETHAND)
		p->sigact[sig - 1].handler = 0;
	sig_setmask(p, mask);
	return 0;
}

/* A frame that cannot be built kills the program with SIGSEGV, as Linux
 * does.  Returns 0: the program has ended. */
static int frame_failed(struct vmctx *vc, const struct uctx *u, int sig, const char *why)
{
	fprintf(stderr, "dunerun: %s: cannot build the frame for signal %d at sp 0x%llx: %s\n",
		vc->path, sig, (unsigned long long)u->regs.rsp, why);
	sig_kill(&vc->proc, SIGSEGV);
	return 0;
}

int deliver_one(struct vmctx *vc, struct uctx *u)
{
	struct sig_info si;
	int sig = sig_dequeue(&vc->proc, &si);

	if (!sig)
		return 0;
	const char *why = "";
	return push_frame(vc, u, sig, &si, &why) < 0 ? frame_failed(vc, u, sig, why) : 1;
}

/* Calls that SA_RESTART makes again after the handler (the kernel's
 * -ERESTARTSYS ones); sleeps and waits for signals always end in EINTR. */
static int restartable(uint64_t nr)
{
	switch (nr) {
	case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
	case SYS_pread64: case SYS_pwrite64: case SYS_preadv: case SYS_pwritev:
	case SYS_open: case SYS_openat: case SYS_ioctl: case SYS_fcntl: case SYS_flock:
	case SYS_accept: case SYS_accept4: case SYS_connect: case SYS_recvfrom:
	case SYS_sendto: case SYS_recvmsg: case SYS_sendmsg: case SYS_wait4:
		return 1;
	}
	return 0;
}

int syscall_uctx(struct vmctx *vc, struct uctx *u)
{
	struct mailbox *mb = vc->mbox;

	if (uctx_get(vc, u, 0) < 0)
		return -1;
	/* rax holds the result, rcx and r11 what `syscall` left in them;
	 * the supervisor used rdi, rsi and rdx, which the mailbox keeps. */
	u->regs.rip = u->regs.rcx = mb->rip;
	u->regs.rflags = u->regs.r11 = mb->rflags;
	u->regs.rax = mb->ret;
	u->regs.rdi = mb->arg[0];
	u->regs.rsi = mb->arg[1];
	u->regs.rdx = mb->arg[2];
	return 0;
}

int signal_after_call(struct vmctx *vc, struct uctx *u, uint64_t nr, long ret)
{
	struct proc *p = &vc->proc;
	struct sig_info si;
	int sig = sig_dequeue(p, &si);

	if (!sig)
		return 0;
	/* SA_RESTART: the handler returns to the syscall instruction, to
	 * make the interrupted call again. */
	if (ret == -EINTR && (p->sigact[sig - 1].flags & SA_RESTART) && restartable(nr)) {
		u->regs.rip -= 2;
		u->regs.rax = nr;
	}
	const char *why = "";
	return push_frame(vc, u, sig, &si, &why) < 0 ? frame_failed(vc, u, sig, why) : 1;
}

int signal_after_syscall(struct vmctx *vc)
{
	struct mailbox *mb = vc->mbox;
	struct uctx u;

	if (!sig_ready(&vc->proc))
		return 0;
	if (syscall_uctx(vc, &u) < 0)
		return -1;
	if (signal_after_call(vc, &u, mb->nr, mb->ret) <= 0)
		return 0;
	/* The iret goes straight to the handler, past the entry page. */
	__atomic_store_n(&mb->state, MB_IDLE, __ATOMIC_RELEASE);
	return uctx_put(vc, &u);
}

int signal_after_fault(struct vmctx *vc)
{
	struct uctx u;

	if (uctx_get(vc, &u, 1) < 0)
		return -1;
	return deliver_one(vc, &u) ? uctx_put(vc, &u) : 0;
}

/* dune_trap (include/dune.h): the registers go in a struct dune_tf
 * below the red zone, and libdune's entry stub runs with rdi pointing
 * at it; the stub saves the FPU state itself and resumes the program
 * with no call back here.  A stack that cannot take the frame gets the
 * signal instead. */
_Static_assert(sizeof(struct dune_tf) == DUNE_TF_SIZE, "pvm.S writes the frame too");

int trap_upcall(struct vmctx *vc, int vec, uint64_t err, uint64_t cr2)
{
	struct proc *p = &vc->proc;
	struct uctx u;
	struct dune_tf tf;

	if (!p->dune_trap_entry || !(p->dune_trap_vectors >> vec & 1))
		return 0;
	if (uctx_get(vc, &u, 1) < 0)
		return -1;
	const struct kvm_regs *r = &u.regs;
	/* The entry itself faulting (unmapped, say) would only fault again. */
	if (r->rip == p->dune_trap_entry)
		return 0;
	tf = (struct dune_tf){
		r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
		r->rip, r->rflags, (uint64_t)vec, err, vec == 14 ? cr2 : 0,
	};
	/* 16 bytes more than the red zone: dune_resume puts rip and rflags
	 * there.  pvm.S's pvm_trap_upcall puts it at the same place. */
	uint64_t at = (r->rsp - 128 - 16 - sizeof tf) & ~15ULL;
	pthread_mutex_lock(&vc->lock);
	mm_lock(vc->mm);
	int bad = r->rsp < 4096 || mm_copy_out(vc->mm, at, &tf, sizeof tf) < 0;
	mm_unlock(vc->mm);
	pthread_mutex_unlock(&vc->lock);
	if (bad)
		return 0;
	u.regs.rip = p->dune_trap_entry;
	u.regs.rsp = at;
	u.regs.rdi = at;
	u.regs.rflags &= ~(0x100UL | 0x400UL);     /* TF, DF */
	return uctx_put(vc, &u) < 0 ? -1 : 1;
}

int signal_interrupt(struct vmctx *vc)
{
	struct kvm_sregs s;
	struct uctx u;

	if (!sig_ready(&vc->proc))
		return 0;
	if (kvm_vm_get_sregs(&vc->vm, &s) < 0 || kvm_vm_get_regs(&vc->vm, &u.regs) < 0)
		return -1;
	/* A user context (supervisor mode) is interrupted back to the
	 * program, which takes the signal at its next syscall. */
	if (vc->supervisor && (s.cs.selector & 3) == 3 && vc->kcb->dune_user)
		return kvm_vm_interrupt(&vc->vm, DUNE_EXIT_INTERRUPT);
	/* Only the program's own code can take a frame here.  In the entry
	 * page or the supervisor, the syscall or exit under way delivers. */
	if (!in_program_code(vc, &s, &u.regs))
		return 0;
	return deliver_one(vc, &u) ? kvm_vm_set_regs(&vc->vm, &u.regs) : 0;
}

/* Checks what the program may have changed in a frame's x87/SSE/AVX
 * image before the hypervisor loads it: a reserved MXCSR bit, or an XSAVE
 * header naming other features or the compacted form, would fault. */
static int fpstate_ok(const struct kvm_xsave *xs)
{
	const uint8_t *b = (const uint8_t *)xs->region;
	uint32_t mxcsr;
	uint64_t hdr[8];

	memcpy(&mxcsr, b + 24, 4);
	memcpy(hdr, b + 512, sizeof hdr);
	if (mxcsr & 0xffff0000U)
		return 0;
	if (hdr[0] & ~(uint64_t)XSTATE_FEATURES || hdr[1])
		return 0;
	for (int i = 2; i < 8; i++)
		if (hdr[i])
			return 0;
	return 1;
}

int signal_return(struct vmctx *vc)
{
	struct proc *p = &vc->proc;
	struct k_ucontext uc;
	struct kvm_xsave xs;
	struct uctx u;
	int bad;

	if (uctx_get(vc, &u, 0) < 0 || kvm_vm_get_xsave(&vc->vm, &xs) < 0)
		return -1;
	/* Components past AVX are not in frames: they keep their state. */
	uint64_t kept;
	memcpy(&kept, (uint8_t *)xs.region + 512, 8);
	kept &= ~(uint64_t)XSTATE_FEATURES;
	pthread_mutex_lock(&vc->lock);
	mm_lock(vc->mm);
	/* The handler's `ret` popped the restorer: the ucontext is at rsp. */
	bad = mm_copy_in(vc->mm, &uc, u.regs.rsp, sizeof uc) < 0 ||
	      (uc.mc.fpstate && mm_copy_in(vc->mm, xs.region, uc.mc.fpstate, XSTATE_SIZE) < 0);
	mm_unlock(vc->mm);
	pthread_mutex_unlock(&vc->lock);
	const char *why = bad ? "unreadable" : !uc.mc.fpstate ? NULL :
			  !fpstate_ok(&xs) ? "bad x87/SSE state" : NULL;
	if (!why && uc.mc.fpstate) {
		uint64_t bv;
		memcpy(&bv, (uint8_t *)xs.region + 512, 8);
		bv |= kept;
		memcpy((uint8_t *)xs.region + 512, &bv, 8);
		if (kvm_vm_set_xsave(&vc->vm, &xs) < 0)
			why = "x87/SSE state refused";
	}
	if (why) {
		fprintf(stderr, "dunerun: %s: rt_sigreturn with a bad frame at sp 0x%llx (%s)\n",
			vc->path, (unsigned long long)u.regs.rsp, why);
		sig_kill(p, SIGSEGV);
		return 0;
	}
	from_sigcontext(&uc.mc, &u.regs);
	sig_setmask(p, uc.sigmask);
	/* A pending signal the restored mask lets through runs now. */
	if (!p->exited)
		deliver_one(vc, &u);
	__atomic_store_n(&vc->mbox->state, MB_IDLE, __ATOMIC_RELEASE);
	return p->exited ? 0 : uctx_put(vc, &u);
}
