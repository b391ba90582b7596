/* A hostile plugin: runs the privileged instruction it is named. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "cli";

	printf("trying %s\n", what);
	fflush(stdout);
	if (!strcmp(what, "cli"))
		__asm__ volatile("cli");
	else if (!strcmp(what, "hlt"))
		__asm__ volatile("hlt");
	else if (!strcmp(what, "cr3"))
		__asm__ volatile("mov %%rax, %%cr3" : : "a"(0x1000));
	else if (!strcmp(what, "wrmsr"))
		__asm__ volatile("wrmsr" : : "c"(0xc0000082), "a"(0), "d"(0));
	else if (!strcmp(what, "out"))
		__asm__ volatile("out %%al, $0x40" : : "a"(0));
	else if (!strcmp(what, "lidt")) {
		static char idt[10];
		__asm__ volatile("lidt %0" : : "m"(idt));
	}
	printf("%s did not fault\n", what);
	return 0;
}
