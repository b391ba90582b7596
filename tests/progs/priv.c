/*
 * priv INSN: execute ONE privileged (or otherwise trapping) instruction from
 * ring 3.  The program should die with the signal Linux delivers natively;
 * the harness checks that the exit status under dunerun is the same.
 * If the instruction does not trap, the program says so and exits 0.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned char desc[10];	/* a GDT/IDT descriptor for lgdt/lidt */

static void run(const char *insn)
{
	unsigned long v = 0;
#define I(name, ...) else if (!strcmp(insn, name)) { __VA_ARGS__; }
	if (0) {}
	I("cli", __asm__ volatile("cli"))
	I("sti", __asm__ volatile("sti"))
	I("hlt", __asm__ volatile("hlt"))
	I("inb", __asm__ volatile("inb $0x80, %%al" : "=a"(v)))
	I("outb", __asm__ volatile("outb %%al, $0x80" :: "a"(0)))
	I("inb-dx", __asm__ volatile("inb %%dx, %%al" : "=a"(v) : "d"(0x3f8)))
	I("outb-dx", __asm__ volatile("outb %%al, %%dx" :: "a"(0x41), "d"(0x3f8)))
	I("rdmsr", __asm__ volatile("rdmsr" : "=a"(v) : "c"(0x10) : "rdx"))
	I("wrmsr", __asm__ volatile("wrmsr" :: "c"(0xc0000082), "a"(0), "d"(0)))
	I("wrmsr-pvm", __asm__ volatile("wrmsr" :: "c"(0x4b564d10), "a"(0), "d"(0)))
	I("lgdt", __asm__ volatile("lgdt %0" :: "m"(desc)))
	I("lidt", __asm__ volatile("lidt %0" :: "m"(desc)))
	I("ltr", __asm__ volatile("ltr %w0" :: "r"(0x40)))
	I("read-cr3", __asm__ volatile("mov %%cr3, %0" : "=r"(v)))
	I("write-cr3", __asm__ volatile("mov %0, %%cr3" :: "r"(0UL)))
	I("read-cr0", __asm__ volatile("mov %%cr0, %0" : "=r"(v)))
	I("write-cr4", __asm__ volatile("mov %0, %%cr4" :: "r"(0UL)))
	I("read-dr7", __asm__ volatile("mov %%dr7, %0" : "=r"(v)))
	I("invlpg", __asm__ volatile("invlpg (%0)" :: "r"(desc)))
	I("wbinvd", __asm__ volatile("wbinvd"))
	I("clts", __asm__ volatile("clts"))
	I("swapgs", __asm__ volatile("swapgs"))
	I("sysretq", __asm__ volatile("sysretq"))
	I("ud2", __asm__ volatile("ud2"))
	I("int3", __asm__ volatile("int3"))
	I("int-3", __asm__ volatile(".byte 0xcd, 0x03"))
	I("icebp", __asm__ volatile(".byte 0xf1"))
	I("int-0x1a", __asm__ volatile("int $0x1a"))
	I("int-0x1b", __asm__ volatile("int $0x1b" :: "a"(0x100b), "b"(0), "c"(0), "d"(0)))
	I("int-0x0e", __asm__ volatile("int $0x0e"))
	I("int-0xff", __asm__ volatile("int $0xff"))
	I("vmcall", __asm__ volatile("vmcall"))
	I("vmmcall", __asm__ volatile("vmmcall"))
	else {
		printf("unknown instruction %s\n", insn);
		_exit(2);
	}
	printf("survived %s (value %s)\n", insn, v ? "nonzero" : "zero");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: priv INSN\n");
		return 2;
	}
	printf("executing %s\n", argv[1]);
	fflush(stdout);
	run(argv[1]);
	return 0;
}
