/* pvm-probe guest: supervisor stubs, boot/tests (kernel), user tests. */
#include "layout.h"
#define KD(x) (KBASE + GPA_KDATA + (x))
#define HC_SYSRET     0x100b
#define HC_IRET_FRAME 0x100d
#define HC_FLUSH_TLB  0x1007
#define HC_FLUSH_ONE  0x1008

.macro TSC reg
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, \reg
.endm

/* ================= .kentry: one page, the only code user-triggered
 * events run before they reach the tests.  Touches only its stack. */
	.section .kentry, "ax"
	.globl syscall_entry
syscall_entry:
	cmp $1, %rax
	je 1f
	cmpq $0, KD(KD_SCRET)
	jne sc_alt
	mov %rcx, %rbx          /* rip */
	mov %r11, %rcx          /* rflags */
	mov %rsp, %rdx          /* rsp */
	mov $HC_SYSRET, %eax
	int $0x1b
	ud2
1:	out %al, $P_DONE
	hlt
	jmp 1b
sc_alt:
	cmpq $1, KD(KD_SCRET)
	jne 2f
	mov %rax, KD(0x100)
	mov %rbx, KD(0x108)
	mov %rdi, KD(0x110)
	mov %rcx, KD(0x118)
	movq $0x33, KD(0x120)
	mov %r11, KD(0x128)
	mov %rsp, KD(0x130)
	movq $0x2b, KD(0x138)
	mov $KD(0x100), %rbx
	mov $HC_IRET_FRAME, %eax
	int $0x1b
	ud2
2:	cmpq $2, KD(KD_SCRET)
	jne 3f
	sysretq
3:	mov %rsp, KD(0x140)
	mov $(KBASE + STACK_TOP), %rsp
	pushq $0x2b
	pushq KD(0x140)
	push %r11
	pushq $0x33
	push %rcx
	iretq

.macro VEC n, err
	.globl vec\n
vec\n:
	.if \err == 0
	pushq $0
	.endif
	pushq $\n
	jmp common
.endm
	VEC 0,0
	VEC 1,0
	VEC 2,0
	VEC 3,0
	VEC 4,0
	VEC 5,0
	VEC 6,0
	VEC 7,0
	.globl vec8
vec8:	out %al, $P_DF
	hlt
	jmp vec8
	VEC 9,0
	VEC 10,1
	VEC 11,1
	VEC 12,1
	VEC 13,1
	VEC 14,1
	VEC 15,0
	VEC 16,0
	VEC 17,1
	VEC 18,0
	VEC 19,0
	VEC 20,0
	VEC 21,1
	VEC 22,0
	VEC 23,0
	VEC 24,0
	VEC 25,0
	VEC 26,0
	VEC 27,0
	VEC 28,0
	VEC 29,1
	VEC 30,1
	VEC 31,0

/* stack: vec, err, rip, cs, rflags, rsp, ss.  Resume the user at %r15
 * through IRET_FRAME; with %r14 != 0 exit to the host first (diag). */
common:
	test %r14, %r14
	jz 1f
	out %al, $P_DIAG
1:	add $16, %rsp
	mov %r15, (%rsp)
	cmpq $0, KD(KD_EXRET)
	jne 2f
	push %rdi
	push %rbx
	push %rax
	mov %rsp, %rbx
	mov $HC_IRET_FRAME, %eax
	int $0x1b
	ud2
2:	iretq
	.balign 4096

/* ================= .ktext: boot and kernel-side tests */
	.section .ktext, "ax"
	/* table read by the host at GPA_KTEXT: entry, lstar, vectors 0..31 */
	.quad boot, syscall_entry
	.quad vec0, vec1, vec2, vec3, vec4, vec5, vec6, vec7
	.quad vec8, vec9, vec10, vec11, vec12, vec13, vec14, vec15
	.quad vec16, vec17, vec18, vec19, vec20, vec21, vec22, vec23
	.quad vec24, vec25, vec26, vec27, vec28, vec29, vec30, vec31
	.org 0x200
	.globl boot
boot:
	test %ecx, %ecx
	jz 1f
	wrmsr
1:	mov KD(KD_TEST), %rax
	cmp $1, %rax
	je t_loop
	cmp $2, %rax
	je t_out
	cmp $3, %rax
	je t_user
	cmp $4, %rax
	je t_pte
	cmp $5, %rax
	je t_rewrite
	cmp $6, %rax
	je t_hc
	cmp $7, %rax
	je t_int3k
	cmp $8, %rax
	je t_outimm
	cmp $9, %rax
	je t_pte2
	out %al, $P_DONE
	hlt

/* 1: KD_REPS x (KD_LOOPN-iteration dec/jnz) */
t_loop:
	mov KD(KD_REPS), %rsi
	mov $(GPA_RES + R_SAMPLES), %edi
1:	TSC %r8
	mov KD(KD_LOOPN), %rcx
2:	dec %rcx
	jnz 2b
	TSC %rax
	sub %r8, %rax
	mov %rax, (%rdi)
	add $8, %rdi
	dec %rsi
	jnz 1b
	jmp done

/* 2: OUT exit round trips */
t_out:
	mov KD(KD_REPS), %rsi
	mov $(GPA_RES + R_SAMPLES), %edi
1:	TSC %r8
	mov KD(0x38), %edx
	out %al, %dx
	TSC %rax
	sub %r8, %rax
	mov %rax, (%rdi)
	add $8, %rdi
	dec %rsi
	jnz 1b
	jmp done

/* 8: OUT with immediate ports 0x80 and 0x81 */
t_outimm:
	mov KD(KD_REPS), %rsi
	mov $(GPA_RES + R_SAMPLES), %edi
1:	TSC %r8
	out %al, $0x80
	TSC %rax
	sub %r8, %rax
	mov %rax, (%rdi)
	TSC %r8
	out %al, $0x81
	TSC %rax
	sub %r8, %rax
	mov %rax, 8(%rdi)
	add $16, %rdi
	dec %rsi
	jnz 1b
	jmp done

/* 9: rewrite the live VA_RW page table with another image (A <-> B)
 * via rep movsq, flush by method KD_METHOD, count pages that show the
 * new mapping.  samples: {rewrite, flush, touch, nnew} per rep. */
t_pte2:
	mov $VA_RW, %esi            /* touch all: shadow them */
	mov $512, %ecx
1:	mov (%rsi), %rax
	add $4096, %rsi
	dec %ecx
	jnz 1b
	mov KD(KD_REPS), %r9
	mov $(GPA_RES + R_SAMPLES), %r10d
	xor %r12d, %r12d            /* iteration */
	cld
2:	inc %r12
	mov $(KBASE + GPA_IMG_A), %rsi
	mov $(KBASE + GPA_IMG_B), %rax
	test $1, %r12
	cmovnz %rax, %rsi           /* odd: B */
	mov $GPA_RW, %r13d
	mov $GPA_RW2, %eax
	cmovnz %rax, %r13           /* expected tag base */
	mov KD(KD_RW_KVA), %rdi
	mov KD(KD_NPTE), %rcx
	TSC %r8
	rep movsq
	TSC %rax
	sub %r8, %rax
	mov %rax, (%r10)
	/* flush */
	TSC %r8
	mov KD(KD_METHOD), %rax
	cmp $1, %rax
	je 11f
	cmp $2, %rax
	je 12f
	cmp $3, %rax
	je 13f
	cmp $4, %rax
	je 14f
	jmp 19f
11:	mov $VA_RW, %esi            /* invlpg each */
	mov KD(KD_NPTE), %rcx
3:	invlpg (%rsi)
	add $4096, %rsi
	dec %rcx
	jnz 3b
	jmp 19f
12:	mov $HC_FLUSH_TLB, %eax
	int $0x1b
	jmp 19f
13:	mov %cr3, %rax
	mov %rax, %cr3
	jmp 19f
14:	mov $VA_RW, %r14d           /* FLUSH_TLB_ONE each */
	mov KD(KD_NPTE), %r15
3:	mov %r14, %rbx
	mov $HC_FLUSH_ONE, %eax
	int $0x1b
	add $4096, %r14
	dec %r15
	jnz 3b
19:	TSC %rax
	sub %r8, %rax
	mov %rax, 8(%r10)
	/* touch and count */
	TSC %r8
	mov $VA_RW, %esi
	mov KD(KD_NPTE), %rcx
	xor %edx, %edx
	mov %r13, %r11
4:	mov (%rsi), %rax
	cmp %r11, %rax
	jne 5f
	inc %edx
5:	add $4096, %rsi
	add $4096, %r11
	dec %rcx
	jnz 4b
	mov %rdx, 24(%r10)
	TSC %rax
	sub %r8, %rax
	mov %rax, 16(%r10)
	add $32, %r10
	dec %r9
	jnz 2b
	jmp done

/* 3: enter user mode via SYSRET hypercall */
t_user:
	mov $user_main, %ebx
	mov $0x202, %ecx
	mov $USTACK_TOP, %edx
	mov $HC_SYSRET, %eax
	int $0x1b
	ud2

/* 4: PTE visibility.  aux[i] = value read at VA_PTE after each step. */
t_pte:
	mov $(GPA_RES + R_AUX), %edi
	mov $VA_PTE, %esi
	mov (%rsi), %rax
	mov %rax, 0(%rdi)
	out %al, $P_STEP            /* host rewrites the PTE: P1 -> P2 */
	mov (%rsi), %rax
	mov %rax, 8(%rdi)           /* after host write, no flush */
	invlpg (%rsi)
	mov (%rsi), %rax
	mov %rax, 16(%rdi)          /* after invlpg */
	mov %rsi, %rbx
	mov $HC_FLUSH_ONE, %eax
	int $0x1b
	mov (%rsi), %rax
	mov %rax, 24(%rdi)          /* after FLUSH_TLB_ONE */
	mov $HC_FLUSH_TLB, %eax
	int $0x1b
	mov (%rsi), %rax
	mov %rax, 32(%rdi)          /* after FLUSH_TLB */
	mov %cr3, %rax
	mov %rax, %cr3
	mov (%rsi), %rax
	mov %rax, 40(%rdi)          /* after mov cr3 */
	mov KD(KD_PTE_KVA), %rcx
	mov (%rcx), %rax
	mov %rax, (%rcx)            /* guest rewrites the PTE with its value */
	mov (%rsi), %rax
	mov %rax, 48(%rdi)          /* after guest rewrite, no flush */
	invlpg (%rsi)
	mov (%rsi), %rax
	mov %rax, 56(%rdi)          /* after guest rewrite + invlpg */
	/* timing: guest PTE write (P2->P1->P2 alternating) + invlpg + use */
	mov KD(KD_REPS), %r9
	mov $(GPA_RES + R_SAMPLES), %edi
	mov (%rcx), %r10            /* current pte (P2) */
	mov %r10, %r11
	xor $(GPA_P1 ^ GPA_P2), %r11  /* the other */
1:	TSC %r8
	mov %r11, (%rcx)
	invlpg (%rsi)
	mov (%rsi), %rax
	TSC %rax
	sub %r8, %rax
	mov %rax, (%rdi)
	add $8, %rdi
	xchg %r10, %r11
	dec %r9
	jnz 1b
	/* same without invlpg: write then use (is the shadow updated by the write trap?) */
	mov $(GPA_RES + R_AUX + 64), %edi
	mov %r11, (%rcx)
	mov (%rsi), %rax
	mov %rax, (%rdi)
	mov %r10, (%rcx)
	mov (%rsi), %rax
	mov %rax, 8(%rdi)
	jmp done

/* 5: rep movsq rewrite of the VA_RW page table: 1 and KD_NPTE entries */
t_rewrite:
	/* touch all 512 pages so they are shadowed */
	mov $VA_RW, %esi
	mov $512, %ecx
1:	mov (%rsi), %rax
	add $4096, %rsi
	dec %ecx
	jnz 1b
	mov KD(KD_REPS), %r9
	mov $(GPA_RES + R_SAMPLES), %r10d
	cld
2:	TSC %r8
	mov KD(KD_RW_KVA), %rsi
	mov %rsi, %rdi
	mov $1, %ecx
	rep movsq
	TSC %rax
	sub %r8, %rax
	mov %rax, (%r10)
	TSC %r8
	mov KD(KD_RW_KVA), %rsi
	mov %rsi, %rdi
	mov KD(KD_NPTE), %rcx
	rep movsq
	TSC %rax
	sub %r8, %rax
	mov %rax, 8(%r10)
	/* use all pages after rewrite (refill cost) */
	TSC %r8
	mov $VA_RW, %esi
	mov $512, %ecx
3:	mov (%rsi), %rax
	add $4096, %rsi
	dec %ecx
	jnz 3b
	TSC %rax
	sub %r8, %rax
	mov %rax, 16(%r10)
	/* mov cr3 reload */
	TSC %r8
	mov %cr3, %rax
	mov %rax, %cr3
	TSC %rax
	sub %r8, %rax
	mov %rax, 24(%r10)
	add $32, %r10
	dec %r9
	jnz 2b
	jmp done

/* 6: hypercall / trapped-instruction costs: FLUSH_TLB_ONE, invlpg, rdmsr */
t_hc:
	mov KD(KD_REPS), %r9
	mov $(GPA_RES + R_SAMPLES), %r10d
1:	TSC %r8
	mov $VA_PTE, %ebx
	mov $HC_FLUSH_ONE, %eax
	int $0x1b
	TSC %rax
	sub %r8, %rax
	mov %rax, (%r10)
	TSC %r8
	invlpg VA_PTE
	TSC %rax
	sub %r8, %rax
	mov %rax, 8(%r10)
	TSC %r8
	mov $VA_PTE, %ebx
	mov $HC_FLUSH_TLB, %eax
	int $0x1b
	TSC %rax
	sub %r8, %rax
	mov %rax, 16(%r10)
	TSC %r8
	mov $0x4b564d13, %ecx
	rdmsr
	TSC %rax
	sub %r8, %rax
	mov %rax, 24(%r10)
	TSC %r8
	mov %cr3, %rax
	mov %rax, %cr3
	TSC %rax
	sub %r8, %rax
	mov %rax, 32(%r10)
	TSC %r8
	cli
	sti
	TSC %rax
	sub %r8, %rax
	mov %rax, 40(%r10)
	TSC %r8
	pushf
	popf
	TSC %rax
	sub %r8, %rax
	mov %rax, 48(%r10)
	TSC %r8
	TSC %rax
	sub %r8, %rax
	mov %rax, 56(%r10)
	add $64, %r10
	dec %r9
	jnz 1b
	jmp done

/* 7: int3 from the supervisor itself (handler resumes at r15) */
t_int3k:
	mov KD(KD_REPS), %r9
	mov $(GPA_RES + R_SAMPLES), %r10d
	mov KD(KD_TEST+0x30), %r14   /* diag */
1:	lea 2f(%rip), %r15
	TSC %r8
	int3
2:	TSC %rax
	sub %r8, %rax
	mov %rax, (%r10)
	add $8, %r10
	dec %r9
	jnz 1b
	jmp done

done:
	out %al, $P_DONE
	hlt
	jmp done

/* ================= .utext: user mode */
	.section .utext, "ax"
	.globl user_main
user_main:
	mov $GPA_RES, %ebp
	mov R_DIAG(%rbp), %r14
	mov R_REPS(%rbp), %r12
	lea R_SAMPLES(%rbp), %r13
	mov R_UTEST(%rbp), %rax
	cmp $1, %rax
	je u_syscall
	cmp $2, %rax
	je u_pf
	cmp $3, %rax
	je u_ud
	cmp $4, %rax
	je u_de
	cmp $5, %rax
	je u_bp
	cmp $6, %rax
	je u_readk
	cmp $7, %rax
	je u_once
	jmp u_done

u_syscall:
1:	TSC %r8
	xor %eax, %eax
	syscall
	TSC %rax
	sub %r8, %rax
	mov %rax, (%r13)
	add $8, %r13
	incq R_N(%rbp)
	dec %r12
	jnz 1b
	jmp u_done

u_pf:
1:	lea 2f(%rip), %r15
	TSC %r8
	mov $VA_UNMAPPED, %esi
	movb (%rsi), %al
2:	TSC %rax
	sub %r8, %rax
	mov %rax, (%r13)
	add $8, %r13
	incq R_N(%rbp)
	dec %r12
	jnz 1b
	jmp u_done

u_ud:
1:	lea 2f(%rip), %r15
	TSC %r8
	ud2
2:	TSC %rax
	sub %r8, %rax
	mov %rax, (%r13)
	add $8, %r13
	incq R_N(%rbp)
	dec %r12
	jnz 1b
	jmp u_done

u_de:
1:	lea 2f(%rip), %r15
	TSC %r8
	mov $1, %eax
	xor %edx, %edx
	xor %ecx, %ecx
	div %ecx
2:	TSC %rax
	sub %r8, %rax
	mov %rax, (%r13)
	add $8, %r13
	incq R_N(%rbp)
	dec %r12
	jnz 1b
	jmp u_done

u_bp:
1:	lea 2f(%rip), %r15
	TSC %r8
	int3
2:	TSC %rax
	sub %r8, %rax
	mov %rax, (%r13)
	add $8, %r13
	incq R_N(%rbp)
	dec %r12
	jnz 1b
	jmp u_done

/* read the addresses at R_AUX+0x40..0x58: aux[i] = 1 if the read succeeded */
u_readk:
	xor %eax, %eax
	syscall                 /* exercise the syscall return path once */
	lea 5f(%rip), %r15
	mov $(GPA_RES + R_SAMPLES), %edi
	movq $0, 32+R_AUX(%rbp)
	mov $HC_FLUSH_TLB, %eax
	int $0x1b               /* a hypercall from user: #UD expected */
	movq $1, 32+R_AUX(%rbp)
5:	xor %ebx, %ebx
1:	lea 2f(%rip), %r15
	movq $0, R_AUX(%rbp,%rbx,8)
	mov R_AUX+0x40(%rbp,%rbx,8), %rsi
	test %rsi, %rsi
	jz 3f
	mov (%rsi), %rax
	movq $1, R_AUX(%rbp,%rbx,8)
2:	inc %ebx
	cmp $4, %ebx
	jne 1b
3:	jmp u_done

/* just return to the supervisor */
u_once:
	jmp u_done

u_done:
	mov $1, %eax
	syscall
	ud2
