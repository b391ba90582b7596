/*
 * The trap upcall's way in and out, in ring 3 (include/dune.h).
 *
 * The launcher leaves the program's registers in a struct dune_tf below
 * the red zone and enters dune_trap_entry with rdi = rsp = that frame.
 * The handler is C, free to use the FPU, so the stub saves x87/SSE/AVX
 * around it (xsave where the OS enabled it, else fxsave), then resumes
 * with the frame's registers.  Nothing here enters the supervisor.
 */
#include "dunerun/abi.h"
#define FPU_AREA  1088          /* xsave of x87+SSE+AVX (832), 64-aligned */

	.text
	.globl dune_trap_entry
	.type dune_trap_entry, @function
dune_trap_entry:
	mov %rdi, %r12                  /* callee-saved; the program's is in the frame */
	sub $FPU_AREA, %rsp
	and $-64, %rsp
	cmpl $0, dune_use_xsave(%rip)
	je 1f
	xor %eax, %eax                  /* xrstor wants the header's reserved bytes clear */
	mov $8, %ecx
	lea 512(%rsp), %rdi
	rep stosq
	mov $7, %eax
	xor %edx, %edx
	xsave (%rsp)
	jmp 2f
1:	fxsave64 (%rsp)
2:	mov %r12, %rdi
	call *dune_trap_handler(%rip)
	cmpl $0, dune_use_xsave(%rip)
	je 3f
	mov $7, %eax
	xor %edx, %edx
	xrstor (%rsp)
	jmp 4f
3:	fxrstor64 (%rsp)
4:	mov %r12, %rdi
	jmp dune_resume
	.size dune_trap_entry, . - dune_trap_entry

/* Every register from the frame.  rip and rflags go just below the
 * frame's rsp, past the 128-byte red zone (the launcher leaves room for
 * them above the frame): popfq, then `ret $128` lands on rip with rsp
 * back where it was. */
	.globl dune_resume
	.type dune_resume, @function
dune_resume:
	mov TF_RSP(%rdi), %rax
	mov TF_RFLAGS(%rdi), %rcx
	mov %rcx, -144(%rax)
	mov TF_RIP(%rdi), %rcx
	mov %rcx, -136(%rax)
	lea -144(%rax), %rsp
	mov TF_RAX(%rdi), %rax
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
	mov TF_RDI(%rdi), %rdi
	popfq
	ret $128
	.size dune_resume, . - dune_resume

	.section .note.GNU-stack, "", @progbits
