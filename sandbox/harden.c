/*
 * harden_launcher: the launcher's own confinement for the rest of its
 * life, applied once the VM is set up and before the first guest
 * instruction runs.
 *
 * The guest cannot reach the host except through the launcher, so this
 * is defence in depth: should a bug in sys/ or mm/ hand the program
 * control of the launcher, it gets a process with no network of the
 * host's, no capabilities, no way to gain any (no_new_privs, no execve),
 * and only the system calls the run loop makes.
 *
 * The order matters.  The network namespace needs CAP_SYS_ADMIN, and
 * shrinking the bounding set needs CAP_SETPCAP, so both come before the
 * capabilities are cleared; installing a filter without CAP_SYS_ADMIN
 * needs no_new_privs, so that comes after; the filter comes last, so
 * that none of the calls above need to be in it.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sys/capability.h>

#include "sandbox.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* x32 calls are x86-64 numbers with this bit set: another ABI, with its
 * own argument layouts, that nothing here uses. */
#define X32_SYSCALL_BIT 0x40000000U

/* Namespace flags a clone must not carry, even for a thread. */
#define CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
			CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

/*
 * The system calls the launcher may make after hardening, whatever their
 * arguments.  The ones allowed only with some arguments (ioctl, fcntl,
 * mmap, mprotect, clone, prlimit64, tkill, tgkill) are in build_filter.
 * Each group is sorted by number.  A call missing here kills the
 * launcher with SIGSYS (status 159), so a new host call in sys/, mm/ or
 * monitor/ needs its line here; docs/security.md says why each is safe.
 */
static const int allowed[] = {
	/* Files: what sys/ forwards for the program, through descriptors
	 * of its own table or paths resolved against them, and mm/'s
	 * file mappings.  open, stat, lstat, access and readlink are what
	 * musl's open(), fopen(), opendir(), stat(), lstat(), access() and
	 * readlink() make: no more than their *at forms. */
	SYS_read, SYS_write, SYS_open, SYS_close, SYS_stat, SYS_fstat,
	SYS_lstat, SYS_lseek, SYS_pread64, SYS_pwrite64, SYS_readv,
	SYS_writev, SYS_access, SYS_sendfile, SYS_flock, SYS_fsync,
	SYS_fdatasync, SYS_truncate, SYS_ftruncate, SYS_readlink,
	SYS_fchmod, SYS_fchown, SYS_fstatfs, SYS_sync, SYS_getdents64,
	SYS_fadvise64, SYS_openat, SYS_mkdirat, SYS_mknodat, SYS_fchownat,
	SYS_newfstatat, SYS_unlinkat, SYS_linkat, SYS_symlinkat,
	SYS_readlinkat, SYS_fchmodat, SYS_faccessat, SYS_ppoll,
	SYS_utimensat, SYS_fallocate, SYS_pipe2, SYS_preadv, SYS_pwritev,
	SYS_syncfs, SYS_renameat2, SYS_copy_file_range, SYS_preadv2,
	SYS_pwritev2, SYS_statx, SYS_faccessat2,
	SYS_fgetxattr, SYS_flistxattr, SYS_fsetxattr, SYS_fremovexattr,
	463, 464, 465, 466,     /* setxattrat, getxattrat, listxattrat, removexattrat */

	/* Readiness: the program's poll, epoll and eventfd on its own
	 * descriptors, and the thread scheduler's look at what a parked
	 * thread waits for (sys/thread.c). */
	SYS_poll, SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_eventfd2,

	/* Sockets: the policy decides what the program may have; with a
	 * network namespace of its own there is nothing to reach. */
	SYS_socket, SYS_connect, SYS_accept, SYS_sendto, SYS_recvfrom,
	SYS_sendmsg, SYS_recvmsg, SYS_shutdown, SYS_bind, SYS_listen,
	SYS_getsockname, SYS_getpeername, SYS_socketpair, SYS_setsockopt,
	SYS_getsockopt, SYS_accept4, SYS_recvmmsg, SYS_sendmmsg,

	/* Memory: the launcher's heap (musl's malloc) and guest memory
	 * (mm/), whose anonymous shared mappings are memfds' pages (so a
	 * forked launcher shares them); mmap and mprotect are in
	 * build_filter. */
	SYS_munmap, SYS_brk, SYS_mremap, SYS_msync, SYS_madvise, SYS_memfd_create,

	/* Time, identity, limits and scheduling: sys/ answers the program
	 * from the launcher's own, and sleeps for it; the program's
	 * interval timers are the launcher's (their signals are forwarded). */
	SYS_sched_yield, SYS_pause, SYS_nanosleep, SYS_getitimer, SYS_alarm,
	SYS_setitimer, SYS_getpid, SYS_uname,
	SYS_umask, SYS_gettimeofday, SYS_getrlimit, SYS_getrusage,
	SYS_sysinfo, SYS_times, SYS_getuid, SYS_getgid, SYS_geteuid,
	SYS_getegid, SYS_getppid, SYS_getgroups, SYS_sched_getparam,
	SYS_sched_getscheduler, SYS_setrlimit, SYS_gettid,
	SYS_sched_getaffinity, SYS_clock_gettime, SYS_clock_getres,
	SYS_clock_nanosleep, SYS_getcpu, SYS_getrandom, SYS_getpriority, SYS_setpriority,

	/* Threads and signals: the polling and watchdog threads, futexes,
	 * the launcher's own death by the program's signal (die_of in
	 * cmd/); set_robust_list and rseq are what glibc makes at
	 * thread start, sigaltstack what a crash handler would. */
	SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_exit, SYS_rt_sigtimedwait,
	SYS_sigaltstack, SYS_futex, SYS_exit_group, SYS_set_robust_list,
	SYS_rseq,

	/* The kernel resumes a sleep interrupted by a stop and continue
	 * (^Z, fg) with this call, not the original one. */
	SYS_restart_syscall,
};

/* The ioctls: the vCPU loop's, and the terminal queries sys_ioctl
 * forwards.  Nothing else: TIOCSTI would type into the user's shell. */
static const uint32_t allowed_ioctl[] = {
	KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS,
	KVM_SET_USER_MEMORY_REGION, KVM_GET_XSAVE, KVM_SET_XSAVE,
	KVM_CHECK_EXTENSION, KVM_SET_MSRS, KVM_SET_XCRS,      /* execve: a new boot */
	KVM_INTERRUPT,                          /* supervisor mode: a user context stops */
	TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD, FIONBIO,
};

/* With processes: a forked launcher's new VM (kmod's create_vm). */
static const uint32_t fork_ioctl[] = {
	KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_GET_VCPU_MMAP_SIZE, KVM_GET_SUPPORTED_CPUID,
	KVM_SET_CPUID2, KVM_ENABLE_CAP,
};

/* With processes: making them (musl's fork() is SYS_fork on x86-64),
 * waiting for them, signalling them (the run's own PID namespace holds
 * no others), and their groups and sessions. */
static const int fork_allowed[] = {
	SYS_fork, SYS_kill, SYS_wait4, SYS_setpgid, SYS_getpgid, SYS_setsid, SYS_getsid,
	SYS_waitid,
};

/* The fcntls sys_fcntl forwards and mm/ and musl make.  Not F_SETOWN,
 * F_SETOWN_EX or F_SETSIG, which would signal other processes. */
static const uint32_t allowed_fcntl[] = {
	F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK,
	F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_DUPFD_CLOEXEC,
	F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS,
};

/* ---- The network ------------------------------------------------------ */

/* A new network namespace holds only a loopback device that is down: no
 * host interface, no abstract Unix socket of the host's.  Creating one
 * takes privilege (root, or the user namespace view_enter made); without
 * it (EPERM), or without namespaces in the kernel (EINVAL) or allowed by
 * the administrator (ENOSPC: user.max_net_namespaces), the launcher keeps
 * the host's network and the rest of the hardening still applies. */
static int leave_network(char err[SANDBOX_ERRLEN])
{
	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	if (errno == EPERM || errno == EINVAL || errno == ENOSPC)
		return 0;
	snprintf(err, SANDBOX_ERRLEN, "unshare(CLONE_NEWNET): %s", strerror(errno));
	return -1;
}

/* ---- Capabilities ----------------------------------------------------- */

static int has_setpcap(void)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t cur = cap_get_proc();

	if (cur) {
		cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &v);
		cap_free(cur);
	}
	return v == CAP_SET;
}

/* The bounding set limits what an execve could ever grant.  Shrinking it
 * takes CAP_SETPCAP; a launcher without that (an ordinary user in the
 * kvm group) cannot, and need not: with no_new_privs and no execve it
 * can never gain what the bounding set would have kept from it. */
static int drop_bounding(char err[SANDBOX_ERRLEN])
{
	cap_value_t c, n = cap_max_bits();

	if (!has_setpcap())
		return 0;
	for (c = 0; c < n; c++) {
		/* EINVAL: a capability this kernel does not have. */
		if (cap_drop_bound(c) < 0 && errno != EINVAL) {
			snprintf(err, SANDBOX_ERRLEN, "cap_drop_bound(%d): %s",
				 (int)c, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Empties the effective, permitted, inheritable and ambient sets of the
 * calling thread; threads started later inherit the empty sets. */
static int drop_caps(char err[SANDBOX_ERRLEN])
{
	cap_t none;
	int r;

	if (drop_bounding(err) < 0)
		return -1;
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		snprintf(err, SANDBOX_ERRLEN, "cap_reset_ambient: %s", strerror(errno));
		return -1;
	}
	if (!(none = cap_init())) {
		snprintf(err, SANDBOX_ERRLEN, "cap_init: %s", strerror(errno));
		return -1;
	}
	r = cap_clear(none) < 0 ? -1 : cap_set_proc(none);
	if (r < 0)
		snprintf(err, SANDBOX_ERRLEN, "cap_set_proc: %s", strerror(errno));
	cap_free(none);
	return r;
}

/* ---- The seccomp filter ----------------------------------------------- */

/* Room for the whole program: the prologue, two instructions per allowed
 * call, and the argument checks. */
#define FILTER_MAX 512

struct filter {
	struct sock_filter insn[FILTER_MAX];
	int n;
};

static void emit(struct filter *f, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (f->n < FILTER_MAX)
		f->insn[f->n] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
	f->n++;
}

/* The low 32 bits of argument i (x86-64 is little-endian): all that the
 * kernel reads of every argument checked here. */
static void load_arg(struct filter *f, int i)
{
	emit(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, args[i]));
}

/* Call nr returns action.  The accumulator holds the call's number. */
static void emit_call(struct filter *f, int nr, uint32_t action)
{
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, nr);
	emit(f, BPF_RET | BPF_K, 0, 0, action);
}

/* Call nr is allowed if argument i is one of val[0..n), else it kills.
 * The block ends in a return either way, so the accumulator still holds
 * the number for whatever follows it. */
static void emit_values(struct filter *f, int nr, int i, const uint32_t *val, int n)
{
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 2 * n + 2, nr);
	load_arg(f, i);
	for (int k = 0; k < n; k++)
		emit_call(f, val[k], SECCOMP_RET_ALLOW);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
}

/* Call nr is allowed if argument i has none of the bits in forbid and,
 * unless need is 0, one of the bits in need. */
static void emit_bits(struct filter *f, int nr, int i, uint32_t forbid, uint32_t need)
{
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, need ? 6 : 4, nr);
	load_arg(f, i);
	emit(f, BPF_JMP | BPF_JSET | BPF_K, 0, 1, forbid);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
	if (need)
		emit(f, BPF_JMP | BPF_JSET | BPF_K, 0, 1, need);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
	if (need)
		emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
}

/*
 * The filter.  Calls decided by their number alone are cached by the
 * kernel (Linux 5.11 and later) and never run it; of the others, ioctl
 * comes first because KVM_RUN is the run loop's most frequent call.
 */
static void build_filter(struct filter *f, int may_fork)
{
	const uint32_t pid = (uint32_t)getpid(), tid = (uint32_t)syscall(SYS_gettid);
	const uint32_t zero = 0;
	uint32_t ioctls[NELEM(allowed_ioctl) + NELEM(fork_ioctl)];
	int nioctl = NELEM(allowed_ioctl);

	memcpy(ioctls, allowed_ioctl, sizeof allowed_ioctl);
	if (may_fork) {
		memcpy(ioctls + nioctl, fork_ioctl, sizeof fork_ioctl);
		nioctl += NELEM(fork_ioctl);
	}

	f->n = 0;
	/* Another architecture's numbers mean other calls. */
	emit(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
	emit(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
	emit(f, BPF_JMP | BPF_JGE | BPF_K, 0, 1, X32_SYSCALL_BIT);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);

	emit_values(f, SYS_ioctl, 1, ioctls, nioctl);
	emit_values(f, SYS_fcntl, 1, allowed_fcntl, NELEM(allowed_fcntl));
	/* Threads, never new namespaces; a process is fork's (may_fork). */
	emit_bits(f, SYS_clone, 0, CLONE_NS_FLAGS, CLONE_THREAD);
	/* Nothing is ever mapped executable again. */
	emit_bits(f, SYS_mmap, 2, PROT_EXEC, 0);
	emit_bits(f, SYS_mprotect, 2, PROT_EXEC, 0);
	/* Limits and signals only for the launcher itself (raise() is tkill
	 * of the calling thread).  With processes, the run's PID namespace
	 * is what keeps signals in: a forked launcher is another pid. */
	emit_values(f, SYS_prlimit64, 0, &zero, 1);
	if (may_fork) {
		emit_call(f, SYS_tkill, SECCOMP_RET_ALLOW);
		emit_call(f, SYS_tgkill, SECCOMP_RET_ALLOW);
		for (size_t k = 0; k < NELEM(fork_allowed); k++)
			emit_call(f, fork_allowed[k], SECCOMP_RET_ALLOW);
	} else {
		emit_values(f, SYS_tkill, 0, &tid, 1);
		emit_values(f, SYS_tgkill, 0, &pid, 1);
	}
	/* clone3's flags are in memory, out of the filter's reach; ENOSYS
	 * makes a libc fall back to clone (musl 1.2 never tries clone3). */
	emit_call(f, SYS_clone3, SECCOMP_RET_ERRNO | ENOSYS);

	for (size_t k = 0; k < NELEM(allowed); k++)
		emit_call(f, allowed[k], SECCOMP_RET_ALLOW);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
}

/* For all threads at once (TSYNC); a kernel without the seccomp call
 * (before 3.17) also lacks TSYNC, and there the calling thread's filter
 * is what threads started later inherit. */
static int install_filter(int may_fork, char err[SANDBOX_ERRLEN])
{
	struct filter f;
	struct sock_fprog prog;
	long r;

	build_filter(&f, may_fork);
	if (f.n > FILTER_MAX) {
		snprintf(err, SANDBOX_ERRLEN, "seccomp: the filter needs %d "
			 "instructions, FILTER_MAX is %d", f.n, FILTER_MAX);
		return -1;
	}
	prog.len = (unsigned short)f.n;
	prog.filter = f.insn;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r < 0 && errno == ENOSYS)
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
	if (r > 0) {
		/* TSYNC names a thread that could not take the filter. */
		snprintf(err, SANDBOX_ERRLEN, "seccomp: thread %ld cannot be "
			 "synchronized", r);
		return -1;
	}
	if (r < 0) {
		snprintf(err, SANDBOX_ERRLEN, "seccomp: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int harden_launcher(int keep_net, int may_fork, char err[SANDBOX_ERRLEN])
{
	if (!keep_net && leave_network(err) < 0)
		return -1;
	if (drop_caps(err) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, SANDBOX_ERRLEN, "prctl(PR_SET_NO_NEW_PRIVS): %s",
			 strerror(errno));
		return -1;
	}
	return install_filter(may_fork, err);
}
