/*
 * The vDSO handed to every program (AT_SYSINFO_EHDR), as Linux does.
 * Each function makes the real syscall, so the semantics stay in the
 * launcher; libcs that require a vDSO (dietlibc) find one, and the rest
 * see the same symbols they would on Linux.
 */
.macro VCALL name, nr
	.globl __vdso_\name
	.type __vdso_\name, @function
	.weak \name
	.set \name, __vdso_\name
__vdso_\name:
	mov $\nr, %eax
	syscall
	ret
	.size __vdso_\name, . - __vdso_\name
.endm

	.text
	VCALL clock_gettime, 228
	VCALL gettimeofday, 96
	VCALL time, 201
	VCALL getcpu, 309
	VCALL clock_getres, 229
	.section .note.GNU-stack, "", @progbits
