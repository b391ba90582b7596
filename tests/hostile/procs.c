/*
 * procs: a program that tries to make processes and to reach the host's
 * kernel interfaces, run inside an image by tests/hostile-images.sh.  One
 * line per attempt, "ATTACK what -> RESULT" (RESULT: "success" or the
 * errno's name).  The arguments are chosen so that a call the launcher
 * forwarded by mistake still harms nothing: signal 0, missing paths,
 * invalid flags.
 *
 *   procs spawn     fork, vfork, clone, execve, kill
 *   procs never     calls no promise allows (ptrace, mount, unshare...)
 */
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "t.h"

static void say(const char *what, long r)
{
	printf("ATTACK %s -> %s\n", what, r < 0 ? errname((int)r) : "success");
	fflush(stdout);
}

/* A new process that ran must not print twice: the child leaves at once. */
static long child_exits(long r)
{
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid(r, NULL, 0);
	return r;
}

/* vfork's child shares our stack: it must not return through it, so it
 * exits right after the syscall instruction.  Returns -errno on failure. */
static long raw_vfork(void)
{
	long ret;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov $60, %%eax\n\t"       /* exit(0) */
			 "xor %%edi, %%edi\n\t"
			 "syscall\n"
			 "1:"
			 : "=a"(ret) : "a"((long)SYS_vfork) : "rcx", "r11", "rdi", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "spawn")) {
		printf("start\n");
		fflush(stdout);
		say("fork", child_exits(SYS0(SYS_fork)));
		say("vfork", child_exits(raw_vfork()));
		say("clone(SIGCHLD)", child_exits(SYS5(SYS_clone, SIGCHLD, 0, 0, 0, 0)));
		char *args[] = { argv[0], "exec-ed", NULL }, *env[] = { NULL };
		say("execve(self)", SYS3(SYS_execve, argv[0], args, env));
		say("execve(/bin/sh)", SYS3(SYS_execve, "/bin/sh", args, env));
		say("kill(1, 0)", SYS2(SYS_kill, 1, 0));
		say("kill(-1, 0)", SYS2(SYS_kill, -1, 0));
		printf("end\n");
		return 0;
	}
	if (!strcmp(cmd, "exec-ed")) {
		printf("EXEC-ED: execve ran a new program\n");
		return 0;
	}
	if (!strcmp(cmd, "never")) {
		say("ptrace(PEEKDATA, 1)", SYS4(SYS_ptrace, 2 /* PTRACE_PEEKDATA */, 1, 0, 0));
		say("process_vm_readv(1)", SYS6(SYS_process_vm_readv, 1, 0, 0, 0, 0, 0));
		say("mount(bogus type)", SYS5(SYS_mount, "none", "/nonexistent", "nosuchfs", 0, 0));
		say("umount2(/nonexistent)", SYS2(SYS_umount2, "/nonexistent", 0));
		say("pivot_root", SYS2(SYS_pivot_root, "/nonexistent", "/nonexistent"));
		say("chroot(/nonexistent)", SYS1(SYS_chroot, "/nonexistent"));
		say("unshare(0)", SYS1(SYS_unshare, 0));
		say("setns(-1)", SYS2(SYS_setns, -1, 0));
		/* Only a change to nothing is allowed (sys/misc.c): another id never. */
		say("setuid(another id)", SYS1(SYS_setuid, getuid() + 1));
		say("personality(query)", SYS1(SYS_personality, 0xffffffffL));
		say("bpf(-1)", SYS3(SYS_bpf, -1, 0, 0));
		say("perf_event_open(NULL)", SYS5(SYS_perf_event_open, 0, 0, -1, -1, 0));
		say("keyctl(-1)", SYS2(SYS_keyctl, -1, 0));
		say("init_module(NULL)", SYS3(SYS_init_module, 0, 0, ""));
		say("kexec_load(bad flags)", SYS4(SYS_kexec_load, 0, 0, 0, 0xdead0000L));
		say("userfaultfd", SYS1(SYS_userfaultfd, 0));
		say("io_uring_setup(0)", SYS2(SYS_io_uring_setup, 0, 0));
		say("prctl(PR_SET_MM, bad)", SYS5(SYS_prctl, 35 /* PR_SET_MM */, 0xdead, 0, 0, 0));
		say("iopl(0)", SYS1(SYS_iopl, 0));
		say("mknod(/nonexistent/c)", SYS3(SYS_mknod, "/nonexistent/c", 020600, 0x103));
		return 0;
	}
	fprintf(stderr, "usage: procs spawn | never\n");
	return 2;
}
