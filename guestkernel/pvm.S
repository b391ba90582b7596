/*
 * The PVM native backend: the same supervisor, for PVM hosts whose
 * native supervisor mode (docs/platform.md) runs ring 0 natively instead
 * of emulating it.  Included by entry.S, whose macros it shares: only
 * the way in (pvm_boot, LSTAR), the way back to the program, and the
 * exception vectors differ.
 *
 * In this mode the hypervisor switches between two page tables: the
 * program runs on the user root, which maps of the supervisor only what
 * exception delivery needs, and every entry (syscall, exception) starts
 * here on the kernel root.  Two rules of the mode shape the code:
 *  - never return to the program with a bare `iretq` (the hypervisor
 *    does not trap it, and the program would run as the supervisor):
 *    use `sysretq` or the IRET_FRAME hypercall;
 *  - an exit to the host costs ~25 us, so syscalls wait for the polling
 *    host thread here, in ring 0, as the entry page does in ring 3.
 */

/* Entered (emulated) in ring 0 with a return address on the stack, as a
 * call: switches the vCPU to native mode and returns natively.  The host
 * starts a program here (returning to pvm_return with the program's
 * first iret frame below) and resumes a forked VM here (returning to
 * where its parent was). */
	.globl pvm_boot
pvm_boot:
	push %rax
	push %rcx
	push %rdx
	mov $MSR_PVM_NATIVE, %ecx
	mov GVA_KCB + KCB_PVM_NATIVE, %eax
	mov GVA_KCB + KCB_PVM_NATIVE + 4, %edx
	wrmsr
	pop %rdx
	pop %rcx
	pop %rax
	ret

/* Returns through the iret frame at rsp (rip, cs, rflags, rsp, ss): to
 * the program with the IRET_FRAME hypercall, which takes rax, rbx and rdi
 * from the three words pushed over the frame; to the supervisor (a fault
 * it took itself) with `iretq`. */
pvm_return:
	testb $3, 8(%rsp)
	jz 1f
	cmpq $0, GVA_KCB + KCB_SEGMENTS
	jne pvm_load_segments
2:	push %rdi
	push %rbx
	push %rax
	mov %rsp, %rbx
	mov $PVM_HC_IRET_FRAME, %eax
	int $0x1b
	ud2
1:	iretq
/* The host changed the program's segment bases.  In the supervisor the
 * program's GS base is MSR_KERNEL_GS_BASE: the mode swaps GS on every
 * entry and return, as `swapgs` would. */
pvm_load_segments:
	push %rax
	push %rcx
	push %rdx
	movq $0, GVA_KCB + KCB_SEGMENTS
	mov $MSR_FS_BASE, %ecx
	mov GVA_KCB + KCB_FS_BASE, %eax
	mov GVA_KCB + KCB_FS_BASE + 4, %edx
	wrmsr
	mov $MSR_KERNEL_GS_BASE, %ecx
	mov GVA_KCB + KCB_GS_BASE, %eax
	mov GVA_KCB + KCB_GS_BASE + 4, %edx
	wrmsr
	pop %rdx
	pop %rcx
	pop %rax
	jmp 2b

/* A page fault goes to the program's dune_trap handler from here when
 * it can (pvm_trap_upcall), else to the host like every exception. */
.macro pvec_hook n
	.if \n == 14
	cmpq $0, GVA_KCB + KCB_TRAP_PF
	jne pvm_trap_upcall
pvec_page_fault_exit:
	.endif
.endm
	TRAP_STUBS pvec, jmp pvm_return

/* The leaf entry that maps rdi in the kernel root (a PTE, or the PDE of
 * a 2 MiB page), read through the direct map, or 0 if a table is
 * missing.  Clobbers rax, rcx, rdx, rsi. */
pvm_leaf:
	movabs $GVA_DIRECT + GPA_ROOT, %rdx
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

/* Whether rdi's page is mapped present, user and writable (ZF set). */
.macro USER_WRITABLE
	call pvm_leaf
	and $7, %eax
	cmp $7, %eax
.endm

/* A page fault from the program with a dune_trap handler for it: what
 * the host's trap_upcall (monitor/signal.c) would do, natively and with
 * no exit, when the page's entry forbids the access (a protection fault;
 * a missing page is the host's to map, and an entry that allows the
 * access is a stale translation for the host to re-sync) and the frame's
 * place below the red zone is mapped writable.  The same struct dune_tf
 * at the same place; anything else takes the exit. */
#define SAVED 48                        /* r8 rdi rsi rdx rcx rax, then the hardware frame */
#define HW_ERR   (SAVED + 0)
#define HW_RIP   (SAVED + 8)
#define HW_CS    (SAVED + 16)
#define HW_FLAGS (SAVED + 24)
#define HW_RSP   (SAVED + 32)
pvm_trap_upcall:
	testb $3, 16(%rsp)
	jz pvec_page_fault_exit
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	movabs $GVA_DIRECT + GPA_PVM_FLAGS + 8, %rax
	mov (%rax), %rdi                /* CR2, which the mode writes here */
	call pvm_leaf
	test $(1 | PTE_KEEP), %eax
	jz 9f                           /* nothing there: the host maps it */
	mov HW_ERR(%rsp), %rdx
	test $1, %al
	jz 5f                           /* PROT_NONE */
	test $4, %al
	jz 5f
	test $2, %dl
	jz 1f
	test $2, %al
	jz 5f                           /* a write to a read-only page */
1:	test $0x10, %dl
	jz 9f
	bt $63, %rax
	jnc 9f                          /* allowed after all: stale */
5:	mov HW_RSP(%rsp), %rsi
	lea -(128 + 16 + DUNE_TF_SIZE)(%rsi), %r8
	and $-16, %r8
	cmp %rsi, %r8
	jae 9f                          /* wrapped */
	cmp $0x10000, %r8
	jb 9f
	movabs $USER_VA_END, %rax
	cmp %rax, %rsi
	ja 9f
	mov %r8, %rdi
	USER_WRITABLE
	jne 9f
	lea DUNE_TF_SIZE - 1(%r8), %rdi
	USER_WRITABLE
	jne 9f
	/* struct dune_tf: rax rbx rcx rdx rsi rdi rbp rsp r8-r15 rip rflags
	 * vector err addr. */
	mov 40(%rsp), %rax
	mov %rax, 0(%r8)
	mov %rbx, 8(%r8)
	mov 32(%rsp), %rax
	mov %rax, 16(%r8)
	mov 24(%rsp), %rax
	mov %rax, 24(%r8)
	mov 16(%rsp), %rax
	mov %rax, 32(%r8)
	mov 8(%rsp), %rax
	mov %rax, 40(%r8)
	mov %rbp, 48(%r8)
	mov HW_RSP(%rsp), %rax
	mov %rax, 56(%r8)
	mov 0(%rsp), %rax
	mov %rax, 64(%r8)
	mov %r9, 72(%r8)
	mov %r10, 80(%r8)
	mov %r11, 88(%r8)
	mov %r12, 96(%r8)
	mov %r13, 104(%r8)
	mov %r14, 112(%r8)
	mov %r15, 120(%r8)
	mov HW_RIP(%rsp), %rax
	mov %rax, 128(%r8)
	mov HW_FLAGS(%rsp), %rax
	mov %rax, 136(%r8)
	movq $14, 144(%r8)
	mov HW_ERR(%rsp), %rax
	mov %rax, 152(%r8)
	movabs $GVA_DIRECT + GPA_PVM_FLAGS + 8, %rax
	mov (%rax), %rax
	mov %rax, 160(%r8)
	/* Into the entry with rdi = rsp = the frame, TF and DF clear. */
	mov GVA_KCB + KCB_TRAP_PF, %rax
	mov %rax, HW_RIP(%rsp)
	mov %r8, HW_RSP(%rsp)
	andq $~0x500, HW_FLAGS(%rsp)
	mov %r8, 8(%rsp)
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	add $8, %rsp
	jmp pvm_return
9:	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	jmp pvec_page_fault_exit

/* LSTAR: `syscall` from the program lands here in ring 0, on the kernel
 * root but still on the program's stack, with rcx = its rip and r11 = its
 * rflags.  The fast paths return with `sysretq` having touched no stack. */
pvm_syscall:
	POST_SYSCALL
	RING0_SYSCALL pvm, sysretq, jmp pvm_return
