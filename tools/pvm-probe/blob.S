	.section .rodata
	.balign 64
	.globl guest_elf, guest_elf_len
guest_elf:
	.incbin "guest.elf"
guest_elf_end:
	.balign 4
guest_elf_len:
	.long guest_elf_end - guest_elf
	.section .note.GNU-stack, "", @progbits
