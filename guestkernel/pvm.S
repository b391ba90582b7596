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
	btq $14, GVA_KCB + KCB_TRAP_VECTORS
	jc pvm_trap_upcall
pvec_page_fault_exit:
	.endif
.endm
	TRAP_STUBS pvec, jmp pvm_return

/* The page tables pvm_trap_upcall walks: the kernel root's, through the
 * direct map (rdx); and CR2, which the mode writes to the flags page. */
.macro PVM_ROOT
	movabs $GVA_DIRECT + GPA_ROOT, %rdx
.endm
.macro PVM_CR2
	movabs $GVA_DIRECT + GPA_PVM_FLAGS + 8, %rdi
	mov (%rdi), %rdi
.endm
pvm_trap_upcall:
	PF_UPCALL pvec, 3, PVM_ROOT, PVM_CR2

/* LSTAR: `syscall` from the program lands here in ring 0, on the kernel
 * root but still on the program's stack, with rcx = its rip and r11 = its
 * rflags.  The fast paths return with `sysretq` having touched no stack. */
pvm_syscall:
	POST_SYSCALL
	RING0_SYSCALL pvm, sysretq, jmp pvm_return
