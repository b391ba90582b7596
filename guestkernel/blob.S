/* Embeds the supervisor image and the vDSO in the launcher: nothing is
 * installed beside the dunerun binary. */
	.section .rodata
	.balign 4096
	.globl guest_image
guest_image:
	.incbin GUEST_IMAGE
guest_image_end:
	.balign 8
	.globl guest_image_len
guest_image_len:
	.quad guest_image_end - guest_image

	.balign 4096
	.globl vdso_image
vdso_image:
	.incbin VDSO_IMAGE
vdso_image_end:
	.balign 8
	.globl vdso_image_len
vdso_image_len:
	.quad vdso_image_end - vdso_image
	.section .note.GNU-stack, "", @progbits
