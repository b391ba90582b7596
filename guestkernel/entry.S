/*
 * The guest supervisor: a trap layer of a few instructions.
 *
 * The launcher (the host) builds every table before the first guest
 * instruction and starts the program directly in ring 3, so the
 * supervisor has no boot code.  It exists for three moments:
 *
 *  - the user entry page (section .entry), where `syscall` lands.  On
 *    PVM hosts `syscall` stays at CPL 3, so this page is user code: it
 *    posts the request in the mailbox, where a host thread is usually
 *    polling, and waits for the answer without any exit.
 *  - exceptions.  Each vector's stub exits to the host with `out`, the
 *    port naming the vector; the user registers are untouched, so the
 *    host reads them and the hardware frame directly.
 *  - applying page-table rewrites the host queued in the KCB.
 *
 * On this platform ring 0 is emulated at about 0.7 us per instruction,
 * so every path here is counted in instructions, and nothing loops
 * except the rewrite queue.
 */
#include "dunerun/abi.h"

#define SPIN_LIMIT 8000         /* ~180 us of `pause` before asking for an exit */

	.section .head, "a"
	.quad KERNEL_MAGIC
	.quad __entry_lma - GVA_KERNEL
	.quad __entry_len
	.quad stack_top
	.quad df_stack_top
	.quad tables
	.quad idt
	.quad syscall_ring0
	.quad __image_end
	.quad vec0, vec1, vec2, vec3, vec4, vec5, vec6, vec7
	.quad vec8, vec9, vec10, vec11, vec12, vec13, vec14, vec15
	.quad vec16, vec17, vec18, vec19, vec20, vec21, vec22, vec23
	.quad vec24, vec25, vec26, vec27, vec28, vec29, vec30, vec31
	.quad __vsyscall_lma - GVA_KERNEL
	.quad pvm_boot, pvm_return, pvm_syscall
	.quad pvec0, pvec1, pvec2, pvec3, pvec4, pvec5, pvec6, pvec7
	.quad pvec8, pvec9, pvec10, pvec11, pvec12, pvec13, pvec14, pvec15
	.quad pvec16, pvec17, pvec18, pvec19, pvec20, pvec21, pvec22, pvec23
	.quad pvec24, pvec25, pvec26, pvec27, pvec28, pvec29, pvec30, pvec31
	.quad supervisor_loop
	.quad svec0, svec1, svec2, svec3, svec4, svec5, svec6, svec7
	.quad svec8, svec9, svec10, svec11, svec12, svec13, svec14, svec15
	.quad svec16, svec17, svec18, svec19, svec20, svec21, svec22, svec23
	.quad svec24, svec25, svec26, svec27, svec28, svec29, svec30, svec31
	.quad svec32
	.quad dune_enter
	.quad syscall_supervisor

/* ------------------------------------------------------------------ */
/* Posting a syscall to the mailbox, shared by the user entry page and
 * the PVM backend's ring-0 entry: both use only rax, rcx and r11, which
 * `syscall` clobbers anyway, and never the program's stack (it may keep
 * live data in its red zone).  POST_SYSCALL leaves rax = the mailbox. */
.macro POST_ARGS
	mov %rcx, MB_RIP(%rax)
	mov %r11, MB_RFLAGS(%rax)
	mov %rdi, MB_ARG0+0(%rax)
	mov %rsi, MB_ARG0+8(%rax)
	mov %rdx, MB_ARG0+16(%rax)
	mov %r10, MB_ARG0+24(%rax)
	mov %r8, MB_ARG0+32(%rax)
	mov %r9, MB_ARG0+40(%rax)
.endm
.macro POST_SYSCALL
	movabs %rax, GVA_MBOX + MB_NR
	movabs $GVA_MBOX, %rax
	movq $0, MB_CONT(%rax)          /* back to MB_RIP, unless the host patches */
	POST_ARGS
.endm

/* Answers identity queries from values the host published (the
 * cheapest round trip is no round trip), else waits for a polling host
 * thread.  Goes to \answered when the host answered, to \finish when the
 * guest did, to \exit when the request needs an exit. */
.macro SERVE_SYSCALL exit, answered, finish
	mov MB_NR(%rax), %rcx
	/* A `syscall` instruction's call goes to the host, which rewrites
	 * its site (patch/patch.h), unless the host does not rewrite. */
	cmpq $0, MB_CONT(%rax)
	jne identity\@
	cmpl $0, MB_PATCHING(%rax)
	jne post\@
identity\@:
	cmp $39, %rcx           /* getpid */
	je answer_pid\@
	cmp $186, %rcx          /* gettid */
	je answer_tid\@
	/* xchg is a full barrier: the posted state is visible before we
	 * read whether a host thread is polling (the host does the mirror
	 * image before it sleeps), so a request is never left unseen. */
post\@:
	mov $MB_POSTED, %ecx
	xchg %ecx, MB_STATE(%rax)
	cmpl $0, MB_POLLING(%rax)
	je \exit
	mov $SPIN_LIMIT, %r11d
spin\@:
	pause
	mov MB_STATE(%rax), %ecx
	cmp $MB_DONE, %ecx
	je \answered
	cmp $MB_BOUNCE, %ecx
	je \exit
	cmpl $0, MB_POLLING(%rax)       /* the host thread went to sleep */
	je \exit
	dec %r11d
	jnz spin\@
	jmp \exit
answer_tid\@:
	mov MB_VV_TID(%rax), %rcx
	jmp answer\@
answer_pid\@:
	mov MB_VV_PID(%rax), %rcx
answer\@:
	mov %rcx, MB_RET(%rax)
	incq MB_GUEST_CALLS(%rax)
	cmpl $0, MB_TRACE(%rax)
	je \finish
	/* --trace: record the call for the host to print. */
	mov MB_GUEST_CALLS(%rax), %r11
	dec %r11
	and $(MB_GTRACE_N - 1), %r11
	shl $4, %r11
	mov MB_NR(%rax), %rcx
	mov %rcx, MB_GTRACE(%rax, %r11)
	mov MB_RET(%rax), %rcx
	mov %rcx, MB_GTRACE+8(%rax, %r11)
	jmp \finish
.endm

/* The host answered (MB_DONE): what next, by its action. */
.macro ANSWERED exit, apply, finish
	mov MB_ACTION(%rax), %ecx
	test %ecx, %ecx
	jz \finish
	cmp $MB_EXIT, %ecx
	je \exit
	movl $0, MB_WANT_EXIT(%rax)     /* MB_APPLY: the queue, no exit */
	jmp \apply
.endm

/* The return address (a stub's continuation for a patched site,
 * patch/patch.h) and rflags back from the mailbox, for the return; rax
 * is still the mailbox. */
.macro FINISH_ADDR
	movl $MB_IDLE, MB_STATE(%rax)
	mov MB_RIP(%rax), %rcx
	cmpq $0, MB_CONT(%rax)
	cmovne MB_CONT(%rax), %rcx
	mov MB_RFLAGS(%rax), %r11
.endm
/* The same, and the result in rax. */
.macro FINISH_SYSCALL
	FINISH_ADDR
	mov MB_RET(%rax), %rax
.endm

/* ------------------------------------------------------------------ */
/* The user entry page, linked at GVA_ENTRY. */

	.section .entry, "ax"
	.globl entry_syscall
entry_syscall:
	POST_SYSCALL
entry_posted:
	/* Real VT-x/SVM: `syscall` did enter ring 0.  Continue in the
	 * supervisor proper, which must not return with a jump. */
	mov %cs, %ecx
	test $3, %cl
	jz entry_ring0
	SERVE_SYSCALL exit_path, answered, finish
exit_path:
	/* Ask the supervisor to exit to the host, which completes the
	 * request on the vCPU thread. */
	movl $1, MB_WANT_EXIT(%rax)
enter_supervisor:
	int3
	/* Where the supervisor returns after an exit or applying the queue
	 * (every backend): it used rax, rcx, rdx, rsi and rdi freely (pushing
	 * them costs emulated instructions); restore them here, natively. */
	.globl entry_trap_return
entry_trap_return:
	movabs $GVA_MBOX, %rax
	mov MB_ARG0+0(%rax), %rdi
	mov MB_ARG0+8(%rax), %rsi
	mov MB_ARG0+16(%rax), %rdx
	cmpl $MB_DONE, MB_STATE(%rax)
	jne exit_path
	jmp finish
answered:
	ANSWERED exit_path, enter_supervisor, finish
finish:
	/* FINISH_SYSCALL, with rflags back as sysret would leave them; the
	 * flags go through the mailbox's scratch word, since the program's
	 * stack below rsp may be live. */
	FINISH_ADDR
	mov %rsp, MB_USER_RSP(%rax)
	lea MB_SCRATCH + 8(%rax), %rsp
	push %r11
	popfq
	mov MB_USER_RSP(%rax), %rsp
	mov MB_RET(%rax), %rax
	jmp *%rcx

/* A patched site's stub (patch/patch.h) and the vDSO come here instead
 * of executing `syscall`: rax = the number, rcx = what `syscall` would
 * have left in rcx, r11 = where to return (MB_CONT), rflags the
 * program's.  Then on as for `syscall`, with r11 = rflags taken here. */
	.org GVA_ENTRY_PATCHED - GVA_ENTRY, 0xcc
	.globl entry_patched
entry_patched:
	movabs %rax, GVA_MBOX + MB_NR
	movabs $GVA_MBOX, %rax
	mov %r11, MB_CONT(%rax)
	mov %rsp, MB_USER_RSP(%rax)
	lea MB_SCRATCH + 8(%rax), %rsp
	pushfq
	pop %r11
	mov MB_USER_RSP(%rax), %rsp
	POST_ARGS
	jmp entry_posted

entry_ring0:
	movabs $syscall_ring0, %rcx
	jmp *%rcx
	.balign 4096

/* ------------------------------------------------------------------ */
/* Linux's legacy vsyscall page, linked at GVA_VSYSCALL: each entry makes
 * the real syscall, as the kernel's old "native" vsyscall mode did. */

	.section .vsyscall, "ax"
vsyscall_gettimeofday:
	mov $96, %eax
	syscall
	ret
	.balign 1024, 0
vsyscall_time:
	mov $201, %eax
	syscall
	ret
	.balign 1024, 0
vsyscall_getcpu:
	mov $309, %eax
	syscall
	ret
	.balign 4096, 0

/* ------------------------------------------------------------------ */
	.text

/* Exception stubs, for a backend whose return to the interrupted code is
 * \ret.  Each stub leaves every general register as the program had it
 * and exits with the vector as the port number; the host reads the
 * registers with KVM_GET_REGS and the frame at rsp.  Vectors without an
 * error code push a zero so the frame is always the same. */
.macro VEC p, n, has_error
\p\n:
	.if \has_error == 0
	pushq $0
	.endif
	\p\()_hook \n
	out %al, $\n
	jmp \p\()exception_return
.endm

.macro TRAP_STUBS p, ret:vararg
	VEC \p, 0, 0
	VEC \p, 1, 0
	VEC \p, 2, 0
	VEC \p, 4, 0
	VEC \p, 5, 0
	VEC \p, 6, 0
	VEC \p, 7, 0
	VEC \p, 8, 1
	VEC \p, 9, 0
	VEC \p, 10, 1
	VEC \p, 11, 1
	VEC \p, 12, 1
	VEC \p, 13, 1
	VEC \p, 14, 1
	VEC \p, 15, 0
	VEC \p, 16, 0
	VEC \p, 17, 1
	VEC \p, 18, 0
	VEC \p, 19, 0
	VEC \p, 20, 0
	VEC \p, 21, 1
	VEC \p, 22, 0
	VEC \p, 23, 0
	VEC \p, 24, 0
	VEC \p, 25, 0
	VEC \p, 26, 0
	VEC \p, 27, 0
	VEC \p, 28, 0
	VEC \p, 29, 1
	VEC \p, 30, 1
	VEC \p, 31, 0

/* #BP: either the entry page asking for the supervisor, or an int3 in
 * the program (SIGTRAP). */
\p\()3:
	.ifc \p,svec
	pushq $0
	svec_hook 3
	add $8, %rsp
	.endif
	push %rax
	movabs $entry_trap_return, %rax
	cmp %rax, 8(%rsp)
	pop %rax
	jne \p\()user_breakpoint
	SUPERVISOR_CALL \ret
\p\()user_breakpoint:
	pushq $0
	out %al, $3
	jmp \p\()exception_return

\p\()exception_return:
	cmpq $0, GVA_KCB + KCB_NUPDATES
	je 1f
	call apply_updates
1:	add $8, %rsp
	\ret
.endm

/* The entry page's request, with the iret frame to entry_trap_return on
 * the stack: an exit if it asked for one, the rewrite queue, \ret. */
.macro SUPERVISOR_CALL ret:vararg
	cmpl $0, GVA_MBOX_KERNEL + MB_WANT_EXIT
	je 1f
	out %al, $PORT_SYSCALL
	/* The host may have pointed the iret at a signal handler or another
	 * thread, past the entry page: every register is live then. */
	cmpq $0, GVA_KCB + KCB_NUPDATES
	je 2f
	call apply_updates
	\ret
1:	cmpq $0, GVA_KCB + KCB_NUPDATES
	je 2f
	call apply_queue        /* the entry page restores the registers */
2:	\ret
.endm

/* The leaf entry that maps rdi (a PTE, or the PDE of a 2 MiB page) in
 * the tables at rdx (a root, through the direct map), or 0 if a table is
 * missing.  Clobbers rax, rcx, rdx, rsi. */
page_leaf:
	mov $39, %cl
1:	mov %rdi, %rax
	shr %cl, %rax
	and $511, %eax
	mov (%rdx,%rax,8), %rax
	cmp $12, %cl
	je 3f
	test $1, %al
	jz 2f
	cmp $21, %cl
	jne 4f
	test $0x80, %al                 /* PS: a 2 MiB page */
	jnz 3f
4:	movabs $0x000ffffffffff000, %rdx
	and %rax, %rdx
	movabs $GVA_DIRECT, %rsi
	add %rsi, %rdx
	sub $9, %cl
	jmp 1b
2:	xor %eax, %eax
3:	ret

/*
 * A page fault from the program with a dune_trap handler for it: what
 * the host's trap_upcall (monitor/signal.c) would do, without an exit,
 * when the page's entry forbids the access (a protection fault; a
 * missing page is the host's to map, and an entry that allows the
 * access is a stale translation for the host to re-sync) and the
 * frame's place below the red zone is mapped user-writable.  The same
 * struct dune_tf at the same place; anything else takes the exit
 * (\p\()_page_fault_exit, in the hook).  Jumped to from the #PF stub's
 * hook, with the error code and the hardware frame on the stack.
 *   ring   the ring the program's own code runs in (3, or 0 in
 *          supervisor mode, where only its code below the entry page
 *          counts and a page without user access is not a fault cause);
 *   root   a macro loading the tables to walk into rdx (may clobber rax);
 *   cr2    a macro loading the fault address into rdi.
 */
/* Whether rdi's page is mapped present, user and writable (ZF set). */
.macro USER_WRITABLE root
	\root
	call page_leaf
	and $7, %eax
	cmp $7, %eax
.endm
/* The struct dune_tf at r8 gets a word the stub saved at rsp + off. */
.macro TF_FROM off, field
	mov \off(%rsp), %rax
	mov %rax, \field(%r8)
.endm
/* Saves what the upcall routines use, then CR2 (the macro cr2 loads it
 * into rdi; without one the slot holds rdi again). */
.macro UP_SAVE cr2=
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	\cr2
	push %rdi
.endm
/* Drops CR2 and restores what UP_SAVE saved. */
.macro UP_RESTORE
	add $8, %rsp
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
.endm
#define UP_SAVED 56                     /* cr2 r8 rdi rsi rdx rcx rax, then the hardware frame */
#define UP_CR2   0
#define UP_R8    8
#define UP_RDI   16
#define UP_RSI   24
#define UP_RDX   32
#define UP_RCX   40
#define UP_RAX   48
#define HW_ERR   (UP_SAVED + 0)
#define HW_RIP   (UP_SAVED + 8)
#define HW_CS    (UP_SAVED + 16)
#define HW_FLAGS (UP_SAVED + 24)
#define HW_RSP   (UP_SAVED + 32)
/* With the words saved as above and `extra` bytes more between them and
 * the hardware frame: r8 = the struct dune_tf's place below the red zone
 * of the program's stack, filled but for vector and addr; or a jump to
 * fail when that place is not mapped user-writable. */
.macro UP_FRAME extra, root, fail
	mov HW_RSP+\extra(%rsp), %rsi
	lea -(128 + 16 + DUNE_TF_SIZE)(%rsi), %r8
	and $-16, %r8
	cmp %rsi, %r8
	jae \fail                       /* wrapped */
	cmp $0x10000, %r8
	jb \fail
	movabs $USER_VA_END, %rax
	cmp %rax, %rsi
	ja \fail
	mov %r8, %rdi
	USER_WRITABLE \root
	jne \fail
	lea DUNE_TF_SIZE - 1(%r8), %rdi
	USER_WRITABLE \root
	jne \fail
	TF_FROM UP_RAX, TF_RAX
	mov %rbx, TF_RBX(%r8)
	TF_FROM UP_RCX, TF_RCX
	TF_FROM UP_RDX, TF_RDX
	TF_FROM UP_RSI, TF_RSI
	TF_FROM UP_RDI, TF_RDI
	mov %rbp, TF_RBP(%r8)
	TF_FROM HW_RSP+\extra, TF_RSP
	TF_FROM UP_R8, TF_R8
	mov %r9, TF_R9(%r8)
	mov %r10, TF_R10(%r8)
	mov %r11, TF_R11(%r8)
	mov %r12, TF_R12(%r8)
	mov %r13, TF_R13(%r8)
	mov %r14, TF_R14(%r8)
	mov %r15, TF_R15(%r8)
	TF_FROM HW_RIP+\extra, TF_RIP
	TF_FROM HW_FLAGS+\extra, TF_RFLAGS
	TF_FROM HW_ERR+\extra, TF_ERR
.endm

/* Points the hardware frame into dune_trap's entry with rdi = rsp = the
 * frame at r8, TF and DF clear. */
.macro UP_ENTER extra
	mov GVA_KCB + KCB_TRAP_ENTRY, %rax
	mov %rax, HW_RIP+\extra(%rsp)
	mov %r8, HW_RSP+\extra(%rsp)
	andq $~0x500, HW_FLAGS+\extra(%rsp)
	mov %r8, UP_RDI(%rsp)
.endm

/* Jumps to fail unless the exception is one to deliver: not at
 * dune_trap's entry itself (a handler that faults on entry would loop)
 * and, for a ring-0 program, not in the supervisor's own code. */
.macro UP_FROM_PROGRAM extra, ring, fail
	mov HW_RIP+\extra(%rsp), %rax
	cmp GVA_KCB + KCB_TRAP_ENTRY, %rax
	je \fail
	.if \ring == 0
	movabs $GVA_ENTRY, %rcx
	cmp %rcx, %rax
	jae \fail
	.endif
.endm

.macro PF_UPCALL p, ring, root, cr2
	testb $3, 16(%rsp)
	.if \ring == 3
	jz \p\()_page_fault_exit
	.else
	jnz \p\()_page_fault_exit
	.endif
	UP_SAVE \cr2
	UP_FROM_PROGRAM 0, \ring, 9f
	\root
	call page_leaf
	test $(1 | PTE_KEEP), %eax
	jz 9f                           /* nothing there: the host maps it */
	mov HW_ERR(%rsp), %rdx
	test $1, %al
	jz 5f                           /* PROT_NONE */
	.if \ring == 3
	test $4, %al
	jz 5f
	.endif
	test $2, %dl
	jz 1f
	test $2, %al
	jz 5f                           /* a write to a read-only page */
1:	test $0x10, %dl
	jz 9f
	bt $63, %rax
	jnc 9f                          /* allowed after all: stale */
5:	UP_FRAME 0, \root, 9f
	movq $14, TF_VECTOR(%r8)
	TF_FROM UP_CR2, TF_ADDR
	UP_ENTER 0
	UP_RESTORE
	jmp \p\()exception_return
9:	UP_RESTORE
	jmp \p\()_page_fault_exit
.endm

/* The portable backend: standard x86, as VT-x/SVM and an emulated ring 0
 * run it.  Every page fault exits: in an emulated ring 0, delivering a
 * dune_trap upcall here would cost more instructions than the exit. */
.macro vec_hook n
.endm
	TRAP_STUBS vec, iretq

/* Supervisor mode (dunerun exec --supervisor): the program runs in ring
 * 0 and may run code of its own in ring 3 under a page-table root of its
 * own (libdune's dune_user_run).  The IDT sends every vector to these
 * stubs on an IST stack (the supervisor stack), since an exception taken
 * in ring 0 would not switch stacks.  While a user context runs, whatever
 * it raises goes back to the program (dune_user_exit); everything else is
 * as in the portable backend. */
.macro svec_hook n
	cmpq $0, GVA_KCB + KCB_DUNE_USER
	je 1f
	testb $3, 16(%rsp)              /* the frame's CS: from ring 3? */
	jz 1f
	pushq $\n
	jmp dune_user_exit
1:
	.if \n == 14
	btq $14, GVA_KCB + KCB_TRAP_VECTORS
	jc ring0_trap_upcall
svec_page_fault_exit:
	.elseif \n < 32 && \n != 2 && \n != 8 && \n != 18
	btq $\n, GVA_KCB + KCB_TRAP_VECTORS
	jnc 2f
	pushq $\n
	call ring0_trap_vector          /* returns only if it could not */
	add $8, %rsp
2:
	.endif
.endm
	TRAP_STUBS svec, iretq

/* A protection fault in the ring-0 program goes to its dune_trap handler
 * from here, as Dune delivers it: no exit.  The tables walked are the
 * ones it runs on, which may be a root of its own. */
.macro RING0_ROOT
	mov %cr3, %rdx
	movabs $0x000ffffffffff000, %rax
	and %rax, %rdx
	movabs $GVA_DIRECT, %rax
	add %rax, %rdx
.endm
.macro RING0_CR2
	mov %cr2, %rdi
.endm
ring0_trap_upcall:
	PF_UPCALL svec, 0, RING0_ROOT, RING0_CR2

/* Any other vector the ring-0 program asked dune_trap for (#UD, #BP,
 * #DE...), from its own code: the same frame at the same place as the
 * launcher's trap_upcall, without an exit.  Called from the stub's hook
 * with the vector pushed over the error code; returns when it cannot
 * deliver (the exit then takes it). */
#define TV_EXTRA 16                     /* the return address and the vector */
ring0_trap_vector:
	testb $3, HW_CS - UP_SAVED + TV_EXTRA(%rsp)
	jnz 1f                          /* not from ring 0 */
	UP_SAVE                         /* the CR2 slot unused */
	UP_FROM_PROGRAM TV_EXTRA, 0, 9f
	UP_FRAME TV_EXTRA, RING0_ROOT, 9f
	TF_FROM UP_SAVED + 8, TF_VECTOR
	movq $0, TF_ADDR(%r8)
	UP_ENTER TV_EXTRA
	UP_RESTORE
	add $TV_EXTRA, %rsp
	jmp svecexception_return
9:	UP_RESTORE
1:	ret

/* Vector 32: the launcher's interrupt, when it has a signal for the
 * program while its user context runs.  Elsewhere it is ignored. */
svec32:
	pushq $0
	svec_hook DUNE_EXIT_INTERRUPT
	add $8, %rsp
	iretq

/* Enters a user context (struct dune_user at rdi, in the program's
 * memory; a SysV call from the program in ring 0): saves the caller's
 * callee-saved registers, stack, root and FS base, and returns to ring 3
 * on the context's root, KCB_DUNE_USER set so that its syscalls go to
 * dune_syscall.  The call returns (from dune_user_exit) with the reason
 * in rax.  The context is read before the root changes: the user root
 * need not map it. */
dune_enter:
	cli                             /* the launcher's interrupt waits for
					   the user context (iretq sets IF) */
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, DU_HOST_RSP(%rdi)
	mov %cr3, %rax
	mov %rax, GVA_KCB + KCB_DUNE_HOST_CR3
	mov $MSR_FS_BASE, %ecx
	rdmsr
	mov %eax, DU_HOST_FS(%rdi)
	mov %edx, DU_HOST_FS + 4(%rdi)
	mov DU_FS(%rdi), %eax
	mov DU_FS + 4(%rdi), %edx
	wrmsr
	mov DU_CR3(%rdi), %rax
	mov %rax, GVA_KCB + KCB_DUNE_SCRATCH
	mov %rdi, GVA_KCB + KCB_DUNE_USER
	mov $stack_top, %rsp
	pushq $SEL_UDATA
	pushq TF_RSP(%rdi)
	mov TF_RFLAGS(%rdi), %rax
	and $USER_RFLAGS_MASK, %rax
	or $0x202, %rax                 /* IF: the launcher's interrupt */
	push %rax
	pushq $SEL_UCODE
	pushq TF_RIP(%rdi)
	mov TF_RBX(%rdi), %rbx
	mov TF_RCX(%rdi), %rcx
	mov TF_RDX(%rdi), %rdx
	mov TF_RSI(%rdi), %rsi
	mov TF_RBP(%rdi), %rbp
	mov TF_R8(%rdi), %r8
	mov TF_R9(%rdi), %r9
	mov TF_R10(%rdi), %r10
	mov TF_R11(%rdi), %r11
	mov TF_R12(%rdi), %r12
	mov TF_R13(%rdi), %r13
	mov TF_R14(%rdi), %r14
	mov TF_R15(%rdi), %r15
	pushq TF_RAX(%rdi)
	pushq TF_RDI(%rdi)
	mov GVA_KCB + KCB_DUNE_SCRATCH, %rax
	mov %rax, %cr3
	pop %rdi
	pop %rax
	iretq

/* From a svec stub, on the supervisor stack: the vector, the error code
 * and the hardware frame, every register the user context's.  Saves them
 * in its struct dune_user (a struct dune_tf first), restores what
 * dune_enter saved, and returns from it with the vector. */
dune_user_exit:
	push %rax
	mov GVA_KCB + KCB_DUNE_HOST_CR3, %rax
	mov %rax, %cr3                  /* the context is the program's memory */
	mov GVA_KCB + KCB_DUNE_USER, %rax
	mov %rbx, TF_RBX(%rax)
	mov %rcx, TF_RCX(%rax)
	mov %rdx, TF_RDX(%rax)
	mov %rsi, TF_RSI(%rax)
	mov %rdi, TF_RDI(%rax)
	mov %rbp, TF_RBP(%rax)
	mov %r8, TF_R8(%rax)
	mov %r9, TF_R9(%rax)
	mov %r10, TF_R10(%rax)
	mov %r11, TF_R11(%rax)
	mov %r12, TF_R12(%rax)
	mov %r13, TF_R13(%rax)
	mov %r14, TF_R14(%rax)
	mov %r15, TF_R15(%rax)
	mov %rax, %rdi
	pop %rax
	mov %rax, TF_RAX(%rdi)
	pop %rax
	mov %rax, TF_VECTOR(%rdi)
	pop %rax
	mov %rax, TF_ERR(%rdi)
	pop %rax
	mov %rax, TF_RIP(%rdi)
	add $8, %rsp                    /* cs */
	pop %rax
	mov %rax, TF_RFLAGS(%rdi)
	pop %rax
	mov %rax, TF_RSP(%rdi)
	mov %cr2, %rax
	mov %rax, TF_ADDR(%rdi)
	movq $0, GVA_KCB + KCB_DUNE_USER
	mov $MSR_FS_BASE, %ecx
	mov DU_HOST_FS(%rdi), %eax
	mov DU_HOST_FS + 4(%rdi), %edx
	wrmsr
	mov DU_HOST_RSP(%rdi), %rsp
	mov TF_VECTOR(%rdi), %rax
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* LSTAR in supervisor mode: the ring-0 program's `syscall` or, while
 * one runs, a user context's, so that entering and leaving a user context
 * writes no MSR (KVM on VT-x intercepts writes to LSTAR: each would be a
 * VM exit). */
syscall_supervisor:
	cmpq $0, GVA_KCB + KCB_DUNE_USER
	jne dune_syscall
	POST_SYSCALL
	jmp syscall_ring0

/* A user context's `syscall`, in ring 0 on its stack (VT-x/SVM), becomes
 * the same exit with vector DUNE_EXIT_SYSCALL and the frame `syscall`
 * would have given an exception. */
dune_syscall:
	mov %rsp, GVA_KCB + KCB_USER_RSP
	mov $stack_top, %rsp
	pushq $SEL_UDATA
	pushq GVA_KCB + KCB_USER_RSP
	push %r11
	pushq $SEL_UCODE
	push %rcx
	pushq $0
	pushq $DUNE_EXIT_SYSCALL
	jmp dune_user_exit

/* Rewrite each queued run of page-table entries with its current values,
 * so the hypervisor's shadow of them (and the TLB) picks up what the host
 * wrote.  One `rep movsq` per run: ring 0 may be emulated per instruction. */
apply_updates:
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	call apply_queue
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	ret

/* The body: clobbers rax, rcx, rdx, rsi and rdi.  The host may be filling
 * the queue right now (for a request the program posted but did not wait
 * for); the lock makes us leave it alone, and the host asks again. */
apply_queue:
	mov $1, %eax
	xchg %eax, GVA_KCB + KCB_LOCK
	test %eax, %eax
	jnz 3f
	cld                     /* the interrupted program may have set DF */
	mov GVA_KCB + KCB_NUPDATES, %rdx
	test %rdx, %rdx
	jz 2f
	mov $(GVA_KCB + KCB_UPDATES), %rax
1:	mov (%rax), %rsi
	mov %rsi, %rdi
	mov 8(%rax), %rcx
	rep movsq
	add $32, %rax
	dec %rdx
	jnz 1b
	/* The TLB: flush what a few entries map, else reload CR3.  PVM's
	 * native mode has a hypercall for one page, much cheaper than its
	 * trapped invlpg. */
	cmpq $FLUSH_PAGES, GVA_KCB + KCB_FLUSH
	jne 5f
	mov GVA_KCB + KCB_NUPDATES, %rdx
	mov $(GVA_KCB + KCB_UPDATES), %rax
4:	mov 8(%rax), %rcx
	mov 16(%rax), %rsi
	mov 24(%rax), %rdi
6:	cmpq $0, GVA_KCB + KCB_PVM_NATIVE
	jne 8f
	invlpg (%rsi)
9:	add %rdi, %rsi
	dec %rcx
	jnz 6b
	add $32, %rax
	dec %rdx
	jnz 4b
	jmp 7f
8:	push %rax
	push %rbx
	mov %rsi, %rbx
	mov $PVM_HC_FLUSH_TLB_ONE, %eax
	int $0x1b
	pop %rbx
	pop %rax
	jmp 9b
5:	cmpq $0, GVA_KCB + KCB_FLUSH
	je 7f
	mov %cr3, %rax
	mov %rax, %cr3
7:	movq $0, GVA_KCB + KCB_FLUSH
	movq $0, GVA_KCB + KCB_NUPDATES
2:	movl $0, GVA_KCB + KCB_LOCK
3:	ret

/* A syscall the entry page posted, continued in ring 0 (rax = the
 * mailbox), on the caller's stack: wait for the polling host thread as
 * the entry page does, and return with \finish.  The exit path builds the
 * iret frame to entry_trap_return that the entry page's int3 would have
 * pushed, on the supervisor stack, and shares its code (\ret returns
 * through that frame).  A caller in ring 0 (supervisor mode) gets a
 * ring-0 frame, so the return stays in ring 0. */
.macro RING0_SYSCALL p, finish, ret:vararg
	SERVE_SYSCALL \p\()_exit, \p\()_answered, \p\()_finish
\p\()_answered:
	ANSWERED \p\()_exit, \p\()_enter, \p\()_finish
\p\()_finish:
	FINISH_SYSCALL
	\finish
\p\()_exit:
	movl $1, MB_WANT_EXIT(%rax)
\p\()_enter:
	mov %rsp, %rcx
	mov $stack_top, %rsp
	cmpq $0, GVA_KCB + KCB_SUPERVISOR
	jne 1f
	pushq $SEL_UDATA
	push %rcx
	pushq MB_RFLAGS(%rax)
	pushq $SEL_UCODE
	jmp 2f
1:	pushq $SEL_KDATA
	push %rcx
	pushq MB_RFLAGS(%rax)
	pushq $SEL_KCODE
2:	movabs $entry_trap_return, %rcx
	push %rcx
	SUPERVISOR_CALL \ret
.endm

/* Back to the caller of `syscall`: sysretq to ring 3, or for a caller in
 * ring 0 its rflags and a jump, below its red zone (the stack is its). */
.macro SYSCALL_RETURN
	cmpq $0, GVA_KCB + KCB_SUPERVISOR
	jne 1f
	sysretq
1:	lea -128(%rsp), %rsp
	push %r11
	popfq
	lea 128(%rsp), %rsp
	jmp *%rcx
.endm

/* Hosts where `syscall` enters ring 0 (VT-x/SVM): the entry page posted
 * the request and comes here. */
syscall_ring0:
	RING0_SYSCALL r0, SYSCALL_RETURN, iretq

#include "pvm.S"

/* How fast the supervisor runs (`make bench`, DUNERUN_SUPERVISOR_LOOP):
 * rcx iterations of dec/jnz between two rdtsc, the cycles left in rax
 * for the host at the exit. */
supervisor_loop:
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %rsi
1:	dec %rcx
	jnz 1b
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	sub %rsi, %rax
	out %al, $PORT_LOOP_DONE
	hlt

/* ------------------------------------------------------------------ */
	.bss
	.balign 4096
tables:	.skip 4096              /* GDT and TSS, filled by the host */
idt:	.skip 4096              /* IDT, filled by the host */
	.skip SUPERVISOR_STACK
stack_top:
	.skip 4096
df_stack_top:
