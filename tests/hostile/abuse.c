#define _GNU_SOURCE
/*
 * abuse: a program that attacks the launcher through its own interfaces.
 * Every attempt must fail cleanly inside the program; the launcher must
 * neither crash nor let the program reach the supervisor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ENTRY 0x7fffffff0000UL
#define MBOX  0x7fffffff1000UL

static void show(const char *what, long r)
{
	printf("%-44s %s\n", what, r < 0 ? strerror(-r) : "ok");
}

static long raw(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

int main(void)
{
	char buf[64];

	show("syscall -1", raw(-1, 0, 0, 0, 0, 0, 0));
	show("syscall 0xffffffff", raw(0xffffffffL, 0, 0, 0, 0, 0, 0));
	show("syscall 1<<40", raw(1L << 40, 0, 0, 0, 0, 0, 0));
	show("write from the supervisor image", raw(SYS_write, 1, 0xffffffff80100000L, 16, 0, 0, 0));
	show("write from the direct map", raw(SYS_write, 1, 0xffff888000000000L, 16, 0, 0, 0));
	show("write from a non-canonical address", raw(SYS_write, 1, 0x0000800000000000L, 16, 0, 0, 0));
	/* Linux writes up to the first unmapped page; /dev/null keeps the
	 * stack's bytes out of the output. */
	long devnull = raw(SYS_open, (long)"/dev/null", 1, 0, 0, 0, 0);
	show("write with a wrapping length", raw(SYS_write, devnull, (long)buf, -1L, 0, 0, 0));
	show("read into the entry page", raw(SYS_read, 0, ENTRY, 16, 0, 0, 0));
	show("read into the mailbox", raw(SYS_read, 0, MBOX, 16, 0, 0, 0));
	show("open a kernel-half path", raw(SYS_open, 0xffffffff80100000L, 0, 0, 0, 0, 0));
	show("mmap MAP_FIXED over the entry page",
	     raw(SYS_mmap, ENTRY, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	show("mmap MAP_FIXED over the supervisor",
	     raw(SYS_mmap, 0xffffffff80100000L, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	show("munmap the entry page", raw(SYS_munmap, ENTRY, 8192, 0, 0, 0, 0));
	show("mprotect the entry page writable", raw(SYS_mprotect, ENTRY, 4096, PROT_READ | PROT_WRITE, 0, 0, 0));
	show("mremap onto the entry page",
	     raw(SYS_mremap, 0x10000, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, ENTRY, 0));
	show("brk into the kernel half is refused", raw(SYS_brk, 0xffffffff80000000L, 0, 0, 0, 0, 0) == 0xffffffff80000000L ? -EINVAL : 0);
	show("huge mmap", raw(SYS_mmap, 0, 1L << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("close the launcher's high descriptors", raw(SYS_close, 1000, 0, 0, 0, 0, 0));
	show("dup2 onto a huge descriptor", raw(SYS_dup2, 1, 1 << 30, 0, 0, 0, 0));

	/* Forge the mailbox: the values the guest serves are the program's
	 * own, and a forged request state must not confuse the launcher. */
	volatile unsigned long *mb = (volatile unsigned long *)MBOX;
	mb[0x60 / 8] = 42;              /* the pid served in the guest */
	/* A site's first call goes to the launcher, which rewrites the site;
	 * from then on the guest answers, from the forged value. */
	long pid = 0;
	for (int i = 0; i < 3; i++)
		pid = getpid();
	show("getpid after forging the mailbox", pid == 42 ? 0 : -EINVAL);
	mb[0] = 0xffffffffffffffffUL;   /* state and polling: garbage */
	mb[0x58 / 8] = 0xffffffffffffffffUL; /* action and want_exit */
	show("write after corrupting the mailbox", write(1, "", 0));
	printf("still alive\n");
	return 0;
}
