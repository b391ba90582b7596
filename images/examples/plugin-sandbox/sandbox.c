/*
 * sandbox: runs an untrusted plugin (a static x86-64 ELF) in ring 3 under
 * a page table of its own, as in Dune's sandbox (Belay et al., OSDI 2012).
 * The sandbox itself runs in guest ring 0 (dunerun exec --supervisor) and
 * sees every syscall and exception the plugin makes:
 *
 *   - write and writev to stdout are carried out (the bytes are copied
 *     out of the plugin's memory first); exit and exit_group end it;
 *   - getpid is emulated (the plugin is pid 1 of its own world), and so
 *     are the few calls musl's start-up makes (arch_prctl for its thread
 *     pointer, set_tid_address; ioctl answers "not a terminal");
 *   - everything else (fork, open...) is denied with EPERM, and each
 *     denial is logged on stderr;
 *   - an exception (a page it may not touch, a privileged instruction)
 *     stops it, reported;
 *   - a time budget (an interval timer of the sandbox's) stops it too.
 *
 * The plugin's root maps only its own segments, its stack and one shared
 * page; nothing of the sandbox.
 *
 * usage: sandbox [-b BUDGET_MS] PLUGIN [ARGS...]
 * Exit status: the plugin's own; 128+11 after a fault, 128+4 after an
 * illegal or privileged instruction, 128+9 when its budget ran out;
 * 2 for usage errors, 1 if it could not be started.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include "dune.h"

#define STACK_TOP       0x7ff000000000UL
#define STACK_SIZE      (256UL << 10)
#define SHARED_VA       0x600000000000UL /* one page both sides see */
#define IO_MAX          (64UL << 10)     /* bytes one write may copy */
#define IOV_MAX_PLUGIN  64

/* One run: the plugin's context and what the sandbox keeps about it. */
struct run {
	struct dune_user *user;
	char *shared;                   /* the shared page, as the sandbox sees it */
	int exited, status;
	unsigned denied;
};

static volatile sig_atomic_t budget_spent;

static void on_alarm(int sig)
{
	(void)sig;
	budget_spent = 1;
}

static const char *syscall_name(long nr)
{
	switch (nr) {
	case SYS_read: return "read";
	case SYS_open: return "open";
	case SYS_openat: return "openat";
	case SYS_fork: return "fork";
	case SYS_vfork: return "vfork";
	case SYS_clone: return "clone";
	case SYS_execve: return "execve";
	case SYS_kill: return "kill";
	case SYS_mmap: return "mmap";
	case SYS_brk: return "brk";
	case SYS_socket: return "socket";
	case SYS_ptrace: return "ptrace";
	default: return "syscall";
	}
}

/* write/writev to stdout, from the plugin's memory. */
static long plugin_write(struct run *r, uint64_t buf, uint64_t len)
{
	static char data[IO_MAX];

	if (len > IO_MAX)
		len = IO_MAX;
	if (dune_user_copy_in(r->user->root, data, buf, len) < 0)
		return -EFAULT;
	return write(1, data, len) < 0 ? -errno : (long)len;
}

static long plugin_writev(struct run *r, uint64_t iovp, uint64_t n)
{
	struct { uint64_t base, len; } iov[IOV_MAX_PLUGIN];
	long total = 0;

	if (n > IOV_MAX_PLUGIN)
		return -EINVAL;
	if (dune_user_copy_in(r->user->root, iov, iovp, n * sizeof iov[0]) < 0)
		return -EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		long w = plugin_write(r, iov[i].base, iov[i].len);
		if (w < 0)
			return total ? total : w;
		total += w;
	}
	return total;
}

static long deny(struct run *r, long nr)
{
	struct dune_tf *tf = &r->user->tf;

	r->denied++;
	fprintf(stderr, "sandbox: denied %s (syscall %ld) at rip %#lx\n", syscall_name(nr), nr,
		(unsigned long)tf->rip);
	return -EPERM;
}

/* Serves one syscall of the plugin; the result goes back in rax. */
static void serve(struct run *r)
{
	struct dune_tf *tf = &r->user->tf;
	long nr = (long)tf->rax, ret;

	switch (nr) {
	case SYS_write:
		ret = tf->rdi == 1 ? plugin_write(r, tf->rsi, tf->rdx) : deny(r, nr);
		break;
	case SYS_writev:
		ret = tf->rdi == 1 ? plugin_writev(r, tf->rsi, tf->rdx) : deny(r, nr);
		break;
	case SYS_exit:
	case SYS_exit_group:
		r->exited = 1;
		r->status = (int)(tf->rdi & 0xff);
		return;
	case SYS_getpid:
		ret = 1;
		break;
	case SYS_arch_prctl:            /* musl's thread pointer */
		if (tf->rdi == 0x1002 && tf->rsi < (1UL << 47)) {
			r->user->fs_base = tf->rsi;
			ret = 0;
		} else {
			ret = deny(r, nr);
		}
		break;
	case SYS_set_tid_address:
		ret = 1;
		break;
	case SYS_ioctl:                 /* isatty(1): no */
		ret = -ENOTTY;
		break;
	default:
		ret = deny(r, nr);
	}
	tf->rax = (uint64_t)ret;
}

/* What an exception of the plugin's is called, and the status it ends
 * with. */
static int report_fault(const struct dune_tf *tf)
{
	if (tf->vector == 14) {
		fprintf(stderr, "sandbox: plugin stopped: %s of %#lx (%s) at rip %#lx\n",
			tf->err & DUNE_PF_FETCH ? "instruction fetch" :
			tf->err & DUNE_PF_WRITE ? "write" : "read",
			(unsigned long)tf->addr,
			tf->err & DUNE_PF_PRESENT ? "protection" : "not mapped",
			(unsigned long)tf->rip);
		return 128 + SIGSEGV;
	}
	if (tf->vector == 13 || tf->vector == 6) {
		fprintf(stderr, "sandbox: plugin stopped: %s at rip %#lx\n",
			tf->vector == 13 ? "privileged instruction (#GP)" : "invalid opcode (#UD)",
			(unsigned long)tf->rip);
		return 128 + SIGILL;
	}
	fprintf(stderr, "sandbox: plugin stopped: exception %lu at rip %#lx\n",
		(unsigned long)tf->vector, (unsigned long)tf->rip);
	return 128 + SIGSEGV;
}

static int on_stop(struct dune_user *u, long why, void *arg)
{
	struct run *r = arg;

	if (why == DUNE_EXIT_SYSCALL) {
		serve(r);
		if (!r->exited)
			return DUNE_RESUME;
		return 1;
	}
	if (why == DUNE_EXIT_INTERRUPT)
		return budget_spent ? 1 : DUNE_RESUME;
	r->status = report_fault(&u->tf);
	return 1;
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	void *data = NULL;

	if (f && fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20) &&
	    (data = malloc(st.st_size)) && fread(data, 1, st.st_size, f) != (size_t)st.st_size) {
		free(data);
		data = NULL;
	}
	if (f)
		fclose(f);
	*len = data ? (size_t)st.st_size : 0;
	return data;
}

/* The plugin's world: its root, segments, stack and the shared page. */
static int build(struct run *r, const char *path, char **argv)
{
	char err[160] = "";
	size_t len;
	void *elf = read_file(path, &len);
	long root = dune_root_new(), shared = dune_page_alloc();

	if (!elf) {
		fprintf(stderr, "sandbox: %s: cannot read it\n", path);
		return -1;
	}
	r->user = aligned_alloc(64, sizeof *r->user);
	if (!r->user || root < 0 || shared < 0) {
		fprintf(stderr, "sandbox: out of memory\n");
		return -1;
	}
	memset(r->user, 0, sizeof *r->user);
	r->user->root = (dune_root_t)root;
	if (dune_user_load_elf(r->user, elf, len, err, sizeof err) < 0) {
		fprintf(stderr, "sandbox: %s: %s\n", path, err[0] ? err : "cannot load it");
		return -1;
	}
	free(elf);
	if (dune_user_stack(r->user, STACK_TOP, STACK_SIZE, argv, NULL) < 0 ||
	    dune_map(r->user->root, (void *)SHARED_VA, (uint64_t)shared, 4096,
		     DUNE_PTE_U | DUNE_PTE_W | DUNE_PTE_NX) < 0) {
		fprintf(stderr, "sandbox: cannot map the plugin's stack\n");
		return -1;
	}
	r->shared = dune_page_ptr((uint64_t)shared);
	snprintf(r->shared, 4096, "greetings from the sandbox");
	return 0;
}

int main(int argc, char **argv)
{
	long budget_ms = 1000;
	int i = 1;
	struct run r = { 0 };

	if (argc > 2 && !strcmp(argv[1], "-b")) {
		budget_ms = atol(argv[2]);
		i = 3;
	}
	if (i >= argc || budget_ms <= 0) {
		fprintf(stderr, "usage: sandbox [-b BUDGET_MS] PLUGIN [ARGS...]\n");
		return 2;
	}
	if (dune_init() < 0 || !dune_in_ring0()) {
		fprintf(stderr, "sandbox: needs ring 0: run it with dunerun exec --supervisor\n");
		return 1;
	}
	if (build(&r, argv[i], argv + i) < 0)
		return 1;
	signal(SIGALRM, on_alarm);
	struct itimerval t = { .it_value = { budget_ms / 1000, budget_ms % 1000 * 1000 } };
	setitimer(ITIMER_REAL, &t, NULL);
	long why = dune_jump_to_user(r.user, on_stop, &r);
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	if (why == DUNE_EXIT_INTERRUPT) {
		fprintf(stderr, "sandbox: plugin stopped: its time budget of %ld ms ran out "
			"at rip %#lx\n", budget_ms, (unsigned long)r.user->tf.rip);
		r.status = 128 + SIGKILL;
	}
	if (r.shared[0])
		printf("shared page: %.64s\n", r.shared);
	fprintf(stderr, "sandbox: plugin %s, status %d, %u calls denied\n",
		r.exited ? "exited" : "stopped", r.status, r.denied);
	dune_root_free(r.user->root);
	return r.status;
}
