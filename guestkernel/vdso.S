/*
 * The vDSO handed to every program (AT_SYSINFO_EHDR), as Linux does.
 * Each function makes the real call, so the semantics stay in the
 * launcher; libcs that require a vDSO (dietlibc) find one, and the rest
 * see the same symbols they would on Linux.  The call goes as a patched
 * syscall site's does (patch/patch.h): straight to the entry page, rcx
 * and r11 the return address, without the `syscall` instruction's trap.
 */
#include "dunerun/abi.h"

.macro VCALL name, nr
	.globl __vdso_\name
	.type __vdso_\name, @function
	.weak \name
	.set \name, __vdso_\name
__vdso_\name:
	mov $\nr, %eax
	lea 1f(%rip), %rcx
	mov %rcx, %r11
	jmp *entry_patched(%rip)
1:	ret
	.size __vdso_\name, . - __vdso_\name
.endm

	.text
entry_patched:
	.quad GVA_ENTRY_PATCHED
	VCALL clock_gettime, 228
	VCALL gettimeofday, 96
	VCALL time, 201
	VCALL getcpu, 309
	VCALL clock_getres, 229
	.section .note.GNU-stack, "", @progbits
