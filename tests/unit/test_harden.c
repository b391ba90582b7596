/*
 * harden_launcher(), each time in a forked child, so that this process
 * stays as it was: what the child is left with (inspected from here,
 * through /proc and capget), which calls still work, which calls kill it
 * with SIGSYS, and how long a new network namespace takes.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>

#include <sys/capability.h>

#include "check.h"
#include "sandbox.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The exit status of a child whose harden_launcher() failed. */
#define HARDEN_FAILED 100

static char datafile[] = "/tmp/test_harden.XXXXXX";
static const char data[] = "harden me";

/* ---- Children ------------------------------------------------------- */

/* In a child: hardens, or says why not on stderr and exits. */
static void harden_or_exit(int keep_net)
{
	char err[SANDBOX_ERRLEN];

	if (harden_launcher(keep_net, 0, err) < 0) {
		dprintf(2, "harden_launcher: %s\n", err);
		_exit(HARDEN_FAILED);
	}
}

static const char *describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s", strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == HARDEN_FAILED)
		snprintf(buf, len, "harden_launcher failed");
	else
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	return buf;
}

/* Runs fn in a child, hardened (harden >= 0 is keep_net) or not
 * (harden < 0); returns its wait status. */
static int in_child(int harden, void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (harden >= 0)
			harden_or_exit(harden);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static int killed_by_sigsys(int status)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

/* ---- What the child is left with ------------------------------------ */

/* The value of a "Name:\tvalue" line of /proc/PID/status, or "". */
static void proc_status(pid_t pid, const char *name, char *val, size_t len)
{
	char path[64], line[256];
	size_t n = strlen(name);
	FILE *f;

	val[0] = 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			snprintf(val, len, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
			val[strcspn(val, "\n")] = 0;
			break;
		}
	}
	fclose(f);
}

static ino_t net_ns(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Whether this (unhardened) process holds capability cap, effective. */
static int have_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return d[cap / 32].effective >> (cap % 32) & 1;
}

/* Puts CAP_NET_BIND_SERVICE in the ambient set, where hardening must
 * find it and clear it.  Whether it could (it takes the capability). */
static int raise_ambient(void)
{
	cap_value_t c = CAP_NET_BIND_SERVICE;
	cap_t caps = cap_get_proc();
	int ok;

	ok = caps && cap_set_flag(caps, CAP_INHERITABLE, 1, &c, CAP_SET) == 0 &&
	     cap_set_proc(caps) == 0 && cap_set_ambient(c, CAP_SET) == 0;
	cap_free(caps);
	return ok;
}

/*
 * A child hardens itself, reads its own network namespace through
 * /proc (readlink must survive the filter), reports, and waits; this
 * process looks at it meanwhile.
 */
static void test_state(int keep_net)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int ready[2], go[2], status = -1, can_unshare = have_cap(CAP_SYS_ADMIN);
	int can_bound = have_cap(CAP_SETPCAP), ambient = 0;
	char val[64], link[64], mine[64] = "", buf[64];
	ino_t before = net_ns(getpid()), after;
	ssize_t n;
	pid_t pid;

	if (pipe(ready) < 0 || pipe(go) < 0) {
		check(0, "pipes for the state test: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		check(0, "fork for the state test: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		char raised = raise_ambient() ? 'A' : '-';
		harden_or_exit(keep_net);
		write(ready[1], &raised, 1);
		n = readlink("/proc/self/ns/net", link, sizeof link - 1);
		if (n < 0)
			n = 0;
		write(ready[1], link, n);
		close(ready[1]);
		read(go[0], buf, 1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], buf, 1) == 1)
		ambient = buf[0] == 'A';
	n = read(ready[0], mine, sizeof mine - 1);
	mine[n > 0 ? n : 0] = 0;

	snprintf(buf, sizeof buf, "net:[%llu]", (unsigned long long)net_ns(pid));
	check(n > 0 && strcmp(mine, buf) == 0,
	      "keep_net=%d: readlink of /proc/self/ns/net works (\"%s\")", keep_net, mine);
	after = net_ns(pid);
	if (keep_net || !can_unshare)
		check(after && after == before, "keep_net=%d: the network namespace "
		      "is still the host's (%llu)", keep_net, (unsigned long long)after);
	else
		check(after && after != before, "keep_net=%d: a network namespace of "
		      "its own (%llu, host %llu)", keep_net, (unsigned long long)after,
		      (unsigned long long)before);

	h.pid = pid;
	memset(d, 0xff, sizeof d);
	n = syscall(SYS_capget, &h, d);
	check(n == 0 && !d[0].effective && !d[1].effective && !d[0].permitted &&
	      !d[1].permitted && !d[0].inheritable && !d[1].inheritable,
	      "keep_net=%d: capget shows no capabilities (effective %08x%08x, "
	      "permitted %08x%08x)", keep_net, d[1].effective, d[0].effective,
	      d[1].permitted, d[0].permitted);
	proc_status(pid, "CapAmb", val, sizeof val);
	check(strcmp(val, "0000000000000000") == 0, "keep_net=%d: no ambient "
	      "capabilities (CapAmb %s; one raised before hardening: %s)", keep_net,
	      val, ambient ? "yes" : "no");
	proc_status(pid, "CapBnd", val, sizeof val);
	if (can_bound)
		check(strcmp(val, "0000000000000000") == 0, "keep_net=%d: an empty "
		      "bounding set, so no CAP_SYS_ADMIN in it (CapBnd %s)", keep_net, val);
	else
		check(val[0] != 0, "keep_net=%d: the bounding set is left alone "
		      "without CAP_SETPCAP (CapBnd %s)", keep_net, val);
	proc_status(pid, "NoNewPrivs", val, sizeof val);
	check(strcmp(val, "1") == 0, "keep_net=%d: no_new_privs is set (%s)", keep_net, val);
	proc_status(pid, "Seccomp", val, sizeof val);
	check(strcmp(val, "2") == 0, "keep_net=%d: a seccomp filter is installed "
	      "(mode %s)", keep_net, val);

	write(go[1], "x", 1);
	close(go[1]);
	close(ready[0]);
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "keep_net=%d: the child then exits normally (%s)", keep_net,
	      describe(status, buf, sizeof buf));
}

/* ---- Calls that must keep working ----------------------------------- */

static int ok_write(void)
{
	int p[2];
	char c = 0;

	return pipe2(p, O_CLOEXEC) == 0 && write(p[1], "y", 1) == 1 &&
	       read(p[0], &c, 1) == 1 && c == 'y' && close(p[0]) == 0 &&
	       close(p[1]) == 0;
}

static int ok_mmap(void)
{
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return 0;
	m[12345] = 1;
	return mprotect(m, 4096, PROT_READ) == 0 && munmap(m, 1 << 20) == 0;
}

static int ok_malloc(void)
{
	char *small = malloc(100), *big = malloc(8 << 20), *bigger;

	if (!small || !big)
		return 0;
	memset(big, 1, 8 << 20);
	bigger = realloc(big, 32 << 20);        /* mremap */
	free(small);
	free(bigger);
	return bigger != NULL;
}

static int read_data(int fd)
{
	char buf[sizeof data] = "";
	int ok = fd >= 0 && read(fd, buf, sizeof buf) == sizeof data - 1 &&
		 memcmp(buf, data, sizeof data - 1) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static int ok_open(void)
{
	return read_data(open(datafile, O_RDONLY | O_CLOEXEC));
}

static int ok_openat(void)
{
	return read_data(openat(AT_FDCWD, datafile, O_RDONLY | O_CLOEXEC));
}

static int ok_stat(void)
{
	struct stat st;
	int fd = openat(AT_FDCWD, datafile, O_RDONLY | O_CLOEXEC), ok;

	ok = stat(datafile, &st) == 0 && st.st_size == sizeof data - 1 &&
	     fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	return ok;
}

static void *thread_main(void *arg)
{
	return arg;
}

static int ok_thread(void)
{
	pthread_t t;
	void *ret = NULL;
	int x;

	return pthread_create(&t, NULL, thread_main, &x) == 0 &&
	       pthread_join(t, &ret) == 0 && ret == &x;
}

static int ok_futex(void)
{
	int word = 1;

	return syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0 &&
	       syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0) == -1 &&
	       errno == EAGAIN;
}

static int ok_clock(void)
{
	struct timespec t = { 0, 0 }, d = { 0, 1000 };

	/* The syscall itself, not the vDSO. */
	return syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t) == 0 &&
	       (t.tv_sec || t.tv_nsec) && nanosleep(&d, NULL) == 0;
}

/* FIONREAD on a pipe; KVM_RUN reaches the kernel, which finds no vCPU
 * behind descriptor -1. */
static int ok_ioctl(void)
{
	int p[2], n = -1, ok;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	ok = write(p[1], "abc", 3) == 3 && ioctl(p[0], FIONREAD, &n) == 0 && n == 3 &&
	     ioctl(-1, KVM_RUN, 0) == -1 && errno == EBADF;
	close(p[0]);
	close(p[1]);
	return ok;
}

static int ok_fcntl(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 10), ok;

	ok = fd >= 10 && fcntl(fd, F_GETFD) == FD_CLOEXEC && fcntl(fd, F_GETFL) >= 0;
	close(fd);
	return ok;
}

static int ok_limits(void)
{
	struct rlimit r;

	return getrlimit(RLIMIT_NOFILE, &r) == 0 && setrlimit(RLIMIT_NOFILE, &r) == 0;
}

static int ok_signal_self(void)
{
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	return sigprocmask(SIG_BLOCK, &set, &old) == 0 &&
	       syscall(SYS_tkill, syscall(SYS_gettid), 0) == 0 &&
	       syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0) == 0 &&
	       sigprocmask(SIG_SETMASK, &old, NULL) == 0;
}

static int ok_socket(void)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return 0;
	close(s);
	return 1;
}

static int ok_clone3_enosys(void)
{
	/* A size of 0 is EINVAL to the kernel: without the filter's
	 * ENOSYS this could never create anything. */
	return syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS;
}

static const struct {
	const char *name;
	int (*fn)(void);
} works[] = {
	{ "write and read a pipe", ok_write },
	{ "mmap, mprotect and munmap", ok_mmap },
	{ "malloc, realloc and free", ok_malloc },
	{ "open and read a file", ok_open },
	{ "openat and read a file", ok_openat },
	{ "stat and fstat", ok_stat },
	{ "pthread_create and pthread_join (clone with CLONE_THREAD)", ok_thread },
	{ "futex wake and wait", ok_futex },
	{ "clock_gettime and nanosleep", ok_clock },
	{ "ioctl FIONREAD and KVM_RUN", ok_ioctl },
	{ "fcntl F_DUPFD_CLOEXEC, F_GETFD, F_GETFL", ok_fcntl },
	{ "getrlimit and setrlimit (prlimit64 of itself)", ok_limits },
	{ "tkill and tgkill of itself", ok_signal_self },
	{ "socket", ok_socket },
	{ "clone3 fails with ENOSYS", ok_clone3_enosys },
};

/* One child runs every call above in turn and sends back one result
 * byte each; a call that kills it leaves the rest unreported. */
static void test_works(int keep_net)
{
	unsigned char res[NELEM(works)];
	int p[2], status = -1;
	ssize_t got = 0, n;
	size_t i;
	char buf[64];
	pid_t pid;

	if (pipe(p) < 0) {
		check(0, "a pipe for the calls that work: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		harden_or_exit(keep_net);
		for (i = 0; i < NELEM(works); i++) {
			unsigned char r = works[i].fn() ? 1 : 0;
			write(p[1], &r, 1);
		}
		_exit(0);
	}
	close(p[1]);
	while (got < (ssize_t)sizeof res && (n = read(p[0], res + got, sizeof res - got)) > 0)
		got += n;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	for (i = 0; i < NELEM(works); i++)
		check((ssize_t)i < got && res[i], "keep_net=%d: %s works after "
		      "hardening%s", keep_net, works[i].name, (ssize_t)i < got ? "" :
		      " (the child died before)");
	check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "keep_net=%d: the child ran them all (%s)", keep_net,
	      describe(status, buf, sizeof buf));
}

/* ---- Calls that must kill ------------------------------------------- */

static void no_execve(void)
{
	char *argv[] = { "true", NULL };

	execve("/bin/true", argv, environ);
}

static void no_execveat(void)
{
	syscall(SYS_execveat, -1, "", NULL, NULL, AT_EMPTY_PATH);
}

static void no_fork(void) { syscall(SYS_fork); }

static void no_clone_process(void)
{
	/* fork's flags, through clone itself. */
	syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
}

static void no_clone_thread_ns(void)
{
	/* A thread in a new network namespace: the kernel would refuse it
	 * (EPERM without CAP_SYS_ADMIN) before starting anything. */
	syscall(SYS_clone, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_NEWNET,
		0, NULL, NULL, 0);
}

static void no_x32(void) { syscall(SYS_getpid | 0x40000000); }

static void no_i386(void)
{
	long r = 20;    /* getpid in the i386 table */

	__asm__ volatile("int $0x80" : "+a"(r) : : "memory");
}

static void no_mount(void)
{
	mount("none", "/nonexistent-dunerun-test", "tmpfs", 0, NULL);
}

static void no_umount(void) { syscall(SYS_umount2, "/nonexistent-dunerun-test", 0); }
static void no_ptrace(void) { syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0); }
static void no_unshare(void) { unshare(CLONE_NEWNET); }
static void no_setns(void) { syscall(SYS_setns, -1, 0); }
static void no_chroot(void) { syscall(SYS_chroot, "/nonexistent-dunerun-test"); }
static void no_pivot_root(void) { syscall(SYS_pivot_root, "/nonexistent-a", "/nonexistent-b"); }
static void no_open_by_handle(void) { syscall(SYS_open_by_handle_at, -1, NULL, 0); }
static void no_name_to_handle(void) { syscall(SYS_name_to_handle_at, -1, "", NULL, NULL, 0); }
static void no_bpf(void) { syscall(SYS_bpf, 9999, NULL, 0); }
static void no_kexec(void) { syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL); }
static void no_init_module(void) { syscall(SYS_init_module, NULL, 0, ""); }
static void no_perf(void) { syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static void no_userfaultfd(void) { syscall(SYS_userfaultfd, ~0); }
static void no_keyctl(void) { syscall(SYS_keyctl, 9999, 0, 0, 0, 0); }
static void no_io_uring(void) { syscall(SYS_io_uring_setup, 0, NULL); }
static void no_process_vm(void) { syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0); }
static void no_setuid(void) { syscall(SYS_setresuid, -1, -1, -1); }
static void no_capset(void) { syscall(SYS_capset, NULL, NULL); }
static void no_seccomp(void) { syscall(SYS_seccomp, 9999, 0, NULL); }
static void no_prctl(void) { prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); }
static void no_kill(void) { kill(getppid(), 0); }
static void no_tkill_other(void) { syscall(SYS_tkill, getppid(), 0); }
static void no_tgkill_other(void) { syscall(SYS_tgkill, getppid(), getppid(), 0); }
static void no_prlimit_other(void) { syscall(SYS_prlimit64, getppid(), RLIMIT_CORE, NULL, NULL); }
static void no_clock_settime(void) { syscall(SYS_clock_settime, CLOCK_MONOTONIC, NULL); }
static void no_reboot(void) { syscall(SYS_reboot, 0, 0, 0, NULL); }
static void no_fsopen(void) { syscall(SYS_fsopen, "nonexistent", 0); }

/* On a pipe: should the filter let it through, nothing is typed into a
 * terminal and no file shared with this process changes. */
static void no_tiocsti(void)
{
	int p[2];
	char c = 'x';

	if (pipe(p) == 0)
		ioctl(p[0], TIOCSTI, &c);
}

static void no_setown(void)
{
	int p[2];

	if (pipe(p) == 0)
		fcntl(p[0], F_SETOWN, getppid());
}

static void no_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void no_mprotect_exec(void)
{
	void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m != MAP_FAILED)
		mprotect(m, 4096, PROT_READ | PROT_EXEC);
}

static const struct {
	const char *name;
	void (*fn)(void);
} kills[] = {
	{ "execve(\"/bin/true\")", no_execve },
	{ "execveat", no_execveat },
	{ "fork", no_fork },
	{ "clone without CLONE_THREAD", no_clone_process },
	{ "clone of a thread with CLONE_NEWNET", no_clone_thread_ns },
	{ "an x32 call (getpid | 0x40000000)", no_x32 },
	{ "an i386 call (int $0x80)", no_i386 },
	{ "mount", no_mount },
	{ "umount2", no_umount },
	{ "ptrace(PTRACE_TRACEME)", no_ptrace },
	{ "unshare(CLONE_NEWNET)", no_unshare },
	{ "setns", no_setns },
	{ "chroot", no_chroot },
	{ "pivot_root", no_pivot_root },
	{ "open_by_handle_at", no_open_by_handle },
	{ "name_to_handle_at", no_name_to_handle },
	{ "bpf", no_bpf },
	{ "kexec_load", no_kexec },
	{ "init_module", no_init_module },
	{ "perf_event_open", no_perf },
	{ "userfaultfd", no_userfaultfd },
	{ "keyctl", no_keyctl },
	{ "io_uring_setup", no_io_uring },
	{ "process_vm_readv", no_process_vm },
	{ "setresuid", no_setuid },
	{ "capset", no_capset },
	{ "seccomp", no_seccomp },
	{ "prctl", no_prctl },
	{ "kill", no_kill },
	{ "tkill of another process", no_tkill_other },
	{ "tgkill of another process", no_tgkill_other },
	{ "prlimit64 of another process", no_prlimit_other },
	{ "clock_settime", no_clock_settime },
	{ "reboot", no_reboot },
	{ "fsopen", no_fsopen },
	{ "ioctl TIOCSTI", no_tiocsti },
	{ "fcntl F_SETOWN", no_setown },
	{ "mmap with PROT_EXEC", no_mmap_exec },
	{ "mprotect with PROT_EXEC", no_mprotect_exec },
};

static void test_kills(void)
{
	char buf[64];
	int i386_reaches_kernel;
	size_t i;
	int st;

	/* The harness itself: unhardened, the same calls do not kill. */
	st = in_child(-1, no_fork);
	check(st != -1 && WIFEXITED(st), "unhardened, fork does not kill (%s)",
	      describe(st, buf, sizeof buf));
	st = in_child(-1, no_x32);
	check(st != -1 && WIFEXITED(st), "unhardened, an x32 call does not kill (%s)",
	      describe(st, buf, sizeof buf));
	/* A kernel built without i386 emulation answers int $0x80 with
	 * SIGSEGV before any filter runs: the call cannot reach it at all. */
	st = in_child(-1, no_i386);
	i386_reaches_kernel = st != -1 && WIFEXITED(st);
	for (i = 0; i < NELEM(kills); i++) {
		st = in_child(1, kills[i].fn);
		if (kills[i].fn == no_i386 && !i386_reaches_kernel) {
			check(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
			      "%s faults, this kernel has no i386 entry (%s)",
			      kills[i].name, describe(st, buf, sizeof buf));
			continue;
		}
		check(killed_by_sigsys(st), "%s kills with SIGSYS (%s)", kills[i].name,
		      describe(st, buf, sizeof buf));
	}
}

/* ---- may_fork: a run in a PID namespace of its own ------------------- */

/* /dev/kvm, opened before hardening, as the launcher opens it. */
#define KVM_FD 100

/* Hardened with may_fork, fn runs; its exit status (or how it died). */
static int forking_child(void (*fn)(void))
{
	char err[SANDBOX_ERRLEN];
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int kvm = open("/dev/kvm", O_RDWR);
		if (kvm >= 0 && kvm != KVM_FD) {
			dup2(kvm, KVM_FD);
			close(kvm);
		}
		if (harden_launcher(1, 1, err) < 0)
			_exit(HARDEN_FAILED);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* fork, wait4, kill and process groups work, and the forked child may
 * make a VM on the inherited /dev/kvm descriptor. */
static void makes_processes(void)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int vm = fcntl(KVM_FD, F_GETFD) < 0 ? 0 : ioctl(KVM_FD, KVM_CREATE_VM, 0);
		_exit(vm < 0 ? 2 : 7);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		_exit(3);
	if (kill(getpid(), 0) < 0 || getpgid(0) < 0 || getsid(0) < 0)
		_exit(4);
	if (syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0) < 0)
		_exit(5);
}

static void test_may_fork(void)
{
	char buf[64];
	int st = forking_child(makes_processes);

	check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "may_fork: fork, wait4, kill, getpgid and a child's KVM_CREATE_VM work (%s)",
	      describe(st, buf, sizeof buf));
	st = forking_child(no_clone_process);
	check(killed_by_sigsys(st), "may_fork: clone without CLONE_THREAD still kills (%s)",
	      describe(st, buf, sizeof buf));
	st = forking_child(no_unshare);
	check(killed_by_sigsys(st), "may_fork: unshare still kills (%s)", describe(st, buf, sizeof buf));
	st = forking_child(no_execve);
	check(killed_by_sigsys(st), "may_fork: execve still kills (%s)", describe(st, buf, sizeof buf));
}

/* ---- Stopped and continued ------------------------------------------ */

/* ^Z and fg during a sleep: the kernel resumes it with restart_syscall,
 * which the filter must let through. */
static void test_restart(void)
{
	int ready[2], status = -1;
	struct timespec settle = { 0, 50 * 1000 * 1000 };
	char c, buf[64];
	pid_t pid;

	if (pipe(ready) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct timespec t = { 0, 300 * 1000 * 1000 };
		harden_or_exit(1);
		write(ready[1], "x", 1);
		_exit(nanosleep(&t, NULL) == 0 ? 0 : 1);
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		check(0, "a child for the stop test");
		return;
	}
	nanosleep(&settle, NULL);
	kill(pid, SIGSTOP);
	waitpid(pid, &status, WUNTRACED);
	kill(pid, SIGCONT);
	waitpid(pid, &status, 0);
	close(ready[0]);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a sleep stopped and continued finishes (restart_syscall; %s)",
	      describe(status, buf, sizeof buf));
}

/* ---- Failures and fallbacks ----------------------------------------- */

/* Installs a filter of our own that answers the seccomp call with
 * SECCOMP_RET_ERRNO | e, as a kernel without it (ENOSYS) or a container
 * runtime that forbids it would. */
static int stub_seccomp(int e)
{
	struct sock_filter insn[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | e),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { NELEM(insn), insn };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static void test_failures(void)
{
	char err[SANDBOX_ERRLEN], buf[64];
	int status = -1, p[2];
	ssize_t n;
	pid_t pid;

	/* seccomp() refused: harden_launcher says so and returns -1. */
	if (pipe(p) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		int r = stub_seccomp(EINVAL) < 0 ? 2 : harden_launcher(1, 0, err) == -1 ? 0 : 1;
		if (r == 0)
			write(p[1], err, strlen(err));
		_exit(r);
	}
	close(p[1]);
	n = read(p[0], err, sizeof err - 1);
	err[n > 0 ? n : 0] = 0;
	close(p[0]);
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	      strcmp(err, "seccomp: Invalid argument") == 0,
	      "a refused filter gives -1 and \"%s\" (%s)", err,
	      describe(status, buf, sizeof buf));

	/* No seccomp() at all: the prctl fallback installs the filter. */
	pid = fork();
	if (pid == 0) {
		if (stub_seccomp(ENOSYS) < 0)
			_exit(2);
		harden_or_exit(1);
		syscall(SYS_fork);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	check(killed_by_sigsys(status), "without seccomp(), prctl installs the "
	      "filter: fork then kills (%s)", describe(status, buf, sizeof buf));
}

/* ---- The cost of a network namespace -------------------------------- */

static void measure_unshare(void)
{
	long ns[5];
	int p[2], i, k;
	struct timespec t0, t1;

	if (!have_cap(CAP_SYS_ADMIN) || pipe(p) < 0) {
		printf("# unshare(CLONE_NEWNET) not measured: no CAP_SYS_ADMIN\n");
		return;
	}
	for (i = 0; i < 5; i++) {
		long d = -1;
		pid_t pid = fork();
		if (pid == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (unshare(CLONE_NEWNET) == 0) {
				clock_gettime(CLOCK_MONOTONIC, &t1);
				d = (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec;
			}
			write(p[1], &d, sizeof d);
			_exit(0);
		}
		if (pid < 0 || read(p[0], &d, sizeof d) != sizeof d)
			d = -1;
		waitpid(pid, NULL, 0);
		/* Insertion sort, for the median. */
		for (k = i; k > 0 && ns[k - 1] > d; k--)
			ns[k] = ns[k - 1];
		ns[k] = d;
	}
	close(p[0]);
	close(p[1]);
	check(ns[0] > 0, "unshare(CLONE_NEWNET) works with CAP_SYS_ADMIN");
	printf("# unshare(CLONE_NEWNET): median %ld us (min %ld, max %ld) over 5 runs\n",
	       ns[2] / 1000, ns[0] / 1000, ns[4] / 1000);
}

int main(void)
{
	struct rlimit none = { 0, 0 };
	int fd;

	/* SIGSYS dumps core by default; the children here die of it often. */
	setrlimit(RLIMIT_CORE, &none);
	fd = mkstemp(datafile);
	if (fd < 0 || write(fd, data, sizeof data - 1) != sizeof data - 1) {
		perror("test_harden: the data file");
		return 1;
	}
	close(fd);
	fflush(stdout);         /* children must not inherit pending output */

	test_state(0);
	test_state(1);
	test_works(0);
	test_works(1);
	test_kills();
	test_may_fork();
	test_restart();
	test_failures();
	measure_unshare();

	unlink(datafile);
	return check_summary();
}
