/*
 * Memory, process bookkeeping, identity, time and limits.
 *
 * Memory calls belong to mm; here they only get their descriptor
 * translated.  Thread state is bookkeeping: the launcher records what the
 * program asks for and reads it back, as Linux would.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

/* arch_prctl codes (asm/prctl.h). */
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
/* The first address past user space with 4-level paging; Linux refuses
 * segment bases at or above it (TASK_SIZE_MAX). */
#define TASK_SIZE_MAX 0x00007ffffffff000ULL


/* --- Memory --- */

long sys_brk(struct proc *p, const uint64_t *a)
{
	return mm_brk(p->mm, a[0]);
}

long sys_mmap(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[3]), h = -1, dir;
	char link[PATH_MAX], path[PATH_MAX];
	struct mm_file file = { NULL, 0, 0 };
	struct stat st;

	if (!(flags & MAP_ANONYMOUS)) {
		if ((h = fd_host(p, argint(a[4]))) < 0)
			return -EBADF;
		/* The file's name and identity, for /proc/self/maps. */
		ssize_t n = proc_fd_path(p, h, "", link, &dir) < 0 ? -1 :
			    readlinkat(dir, link, path, sizeof path - 1);
		if (n > 0 && fstat(h, &st) == 0) {
			path[n] = 0;
			file = (struct mm_file){ path, st.st_dev, st.st_ino };
		}
	}
	return mm_mmap(p->mm, a[0], a[1], argint(a[2]), flags, h, a[5], &file);
}

long sys_munmap(struct proc *p, const uint64_t *a)
{
	return mm_munmap(p->mm, a[0], a[1]);
}

long sys_mprotect(struct proc *p, const uint64_t *a)
{
	return mm_mprotect(p->mm, a[0], a[1], argint(a[2]));
}

long sys_mremap(struct proc *p, const uint64_t *a)
{
	return mm_mremap(p->mm, a[0], a[1], a[2], argint(a[3]), a[4]);
}

long sys_madvise(struct proc *p, const uint64_t *a)
{
	return mm_madvise(p->mm, a[0], a[1], argint(a[2]));
}

long sys_msync(struct proc *p, const uint64_t *a)
{
	return mm_msync(p->mm, a[0], a[1], argint(a[2]));
}

/* --- Threads (bookkeeping: a program has one) --- */

long sys_arch_prctl(struct proc *p, const uint64_t *a)
{
	uint64_t v;

	switch (argint(a[0])) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (a[1] >= TASK_SIZE_MAX)
			return -EPERM;
		if (argint(a[0]) == ARCH_SET_FS)
			p->fs_base = a[1];
		else
			p->gs_base = a[1];
		p->fs_dirty = 1;
		return 0;
	case ARCH_GET_FS:
	case ARCH_GET_GS:
		v = argint(a[0]) == ARCH_GET_FS ? p->fs_base : p->gs_base;
		return mm_copy_out(p->mm, a[1], &v, sizeof v) < 0 ? -EFAULT : 0;
	default:
		return -EINVAL;
	}
}

long sys_set_tid_address(struct proc *p, const uint64_t *a)
{
	p->tid_address = a[0];
	return p->tid;
}

long sys_set_robust_list(struct proc *p, const uint64_t *a)
{
	/* The length is sizeof(struct robust_list_head). */
	if (a[1] != 24)
		return -EINVAL;
	p->robust_list = a[0];
	p->robust_len = a[1];
	return 0;
}

long sys_get_robust_list(struct proc *p, const uint64_t *a)
{
	int pid = argint(a[0]);

	if (pid != 0 && pid != p->tid)
		return -ESRCH;
	if (mm_copy_out(p->mm, a[1], &p->robust_list, 8) < 0 ||
	    mm_copy_out(p->mm, a[2], &p->robust_len, 8) < 0)
		return -EFAULT;
	return 0;
}

/* futex operations (linux/futex.h). */
#define FUTEX_WAIT           0
#define FUTEX_WAKE           1
#define FUTEX_REQUEUE        3
#define FUTEX_CMP_REQUEUE    4
#define FUTEX_WAIT_BITSET    9
#define FUTEX_WAKE_BITSET    10
#define FUTEX_PRIVATE_FLAG   128
#define FUTEX_CLOCK_REALTIME 256

/* A futex wait's timeout as a CLOCK_MONOTONIC deadline in ns (0: none):
 * FUTEX_WAIT's is relative, FUTEX_WAIT_BITSET's absolute on the clock its
 * flag names. */
static int64_t futex_deadline(struct proc *p, int cmd, int op, const uint64_t *a,
			      const struct timespec *t)
{
	if (!a[3])
		return 0;
	if (cmd == FUTEX_WAIT_BITSET)
		return deadline_at(p, op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, t);
	return deadline_after(p, t);
}

/*
 * With one thread there is never a waiter to wake and no one else to
 * change a futex word: a wait whose value matches lasts until its timeout
 * (or forever, as it would in Linux).  With several, thread.c keeps the
 * waiters.  Futexes are private to the process: its memory is its own.
 * Operations on other threads' state (PI, WAKE_OP, requeue of PI) are
 * ENOSYS.
 */
long sys_futex(struct proc *p, const uint64_t *a)
{
	int op = argint(a[1]), cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
	uint32_t word, bitset = (uint32_t)a[5];
	struct timespec t;
	clockid_t clk;

	if (cmd != FUTEX_WAIT && cmd != FUTEX_WAKE && cmd != FUTEX_REQUEUE &&
	    cmd != FUTEX_CMP_REQUEUE && cmd != FUTEX_WAIT_BITSET &&
	    cmd != FUTEX_WAKE_BITSET)
		return -ENOSYS;
	if (a[0] & 3)
		return -EINVAL;
	if ((cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_WAKE_BITSET) && bitset == 0)
		return -EINVAL;
	if ((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && a[3]) {
		if (mm_copy_in(p->mm, &t, a[3], sizeof t) < 0)
			return -EFAULT;
		if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000L)
			return -EINVAL;
	}
	if (mm_copy_in(p->mm, &word, a[0], sizeof word) < 0)
		return -EFAULT;
	if (cmd == FUTEX_CMP_REQUEUE && word != (uint32_t)a[5])
		return -EAGAIN;
	if ((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && word != (uint32_t)a[2])
		return -EAGAIN;
	if (cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET)
		return p->threads ? thread_futex(p, cmd, a, 0) : 0;
	if (p->threads)
		return thread_futex(p, cmd, a, futex_deadline(p, cmd, op, a, &t));
	if (!a[3]) {
		for (;;)
			pause();
	}
	if (cmd == FUTEX_WAIT) {
		/* Relative, measured on CLOCK_MONOTONIC. */
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &t, &t) == EINTR)
			;
	} else {
		/* Absolute, on the clock the flag names. */
		clk = op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC;
		while (clock_nanosleep(clk, TIMER_ABSTIME, &t, NULL) == EINTR)
			;
	}
	return -ETIMEDOUT;
}

long sys_exit(struct proc *p, const uint64_t *a)
{
	if (thread_many(p)) {
		thread_exit(p);
		return 0;
	}
	p->exited = 1;
	p->exit_code = argint(a[0]) & 0xff;
	return 0;
}

long sys_exit_group(struct proc *p, const uint64_t *a)
{
	p->exited = 1;
	p->exit_code = argint(a[0]) & 0xff;
	return 0;
}

/* --- Identity: the launcher's own, since the guest is that process --- */

long sys_getpid(struct proc *p, const uint64_t *a) { (void)a; return p->pid; }
long sys_gettid(struct proc *p, const uint64_t *a) { (void)a; return p->tid; }
/* The launcher's parent is the program's: after the parent dies, the
 * reaper that took the launcher over (guest pids are host pids). */
long sys_getppid(struct proc *p, const uint64_t *a) { (void)p; (void)a; return getppid(); }
long sys_getuid(struct proc *p, const uint64_t *a) { (void)a; return p->uid; }
long sys_geteuid(struct proc *p, const uint64_t *a) { (void)a; return p->euid; }
long sys_getgid(struct proc *p, const uint64_t *a) { (void)a; return p->gid; }
long sys_getegid(struct proc *p, const uint64_t *a) { (void)a; return p->egid; }


/* getresuid and getresgid: the saved id is the effective one. */
static long put_ids(struct proc *p, const uint64_t *a, uint32_t r, uint32_t e)
{
	uint32_t id[3] = { r, e, e };
	int i;

	for (i = 0; i < 3; i++)
		if (mm_copy_out(p->mm, a[i], &id[i], sizeof id[i]) < 0)
			return -EFAULT;
	return 0;
}

long sys_getresuid(struct proc *p, const uint64_t *a)
{
	return put_ids(p, a, p->uid, p->euid);
}

long sys_getresgid(struct proc *p, const uint64_t *a)
{
	return put_ids(p, a, p->gid, p->egid);
}

long sys_getgroups(struct proc *p, const uint64_t *a)
{
	int size = argint(a[0]), n;
	gid_t *g;
	long r;

	if (size < 0)
		return -EINVAL;
	if ((n = getgroups(0, NULL)) < 0)
		return -errno;
	if (size == 0 || n == 0)
		return n;
	if (size < n)
		return -EINVAL;
	if (!(g = malloc((size_t)n * sizeof *g)))
		return -ENOMEM;
	r = hostret(getgroups(n, g));
	if (r > 0 && mm_copy_out(p->mm, a[1], g, (size_t)r * sizeof *g) < 0)
		r = -EFAULT;
	free(g);
	return r;
}

/*
 * The set*id calls.  The program runs as the launcher's user and cannot
 * become another (the launcher does not change its own credentials for
 * it), so a call succeeds when it changes nothing, as an unprivileged
 * process may always "set" its ids to what they are, and is EPERM when it
 * asks for another id, as it is for a process without CAP_SETUID.  A
 * requested id of -1 leaves that id alone.  The saved id is the effective
 * one (see put_ids).
 */
static int same_id(uint64_t want, uint32_t now)
{
	return (uint32_t)want == (uint32_t)-1 || (uint32_t)want == now;
}

static long set_ids(uint64_t r, uint64_t e, uint64_t s, uint32_t real, uint32_t eff)
{
	return same_id(r, real) && same_id(e, eff) && same_id(s, eff) ? 0 : -EPERM;
}

long sys_setuid(struct proc *p, const uint64_t *a)
{
	return (uint32_t)a[0] == (uint32_t)-1 ? -EINVAL : set_ids(a[0], a[0], -1, p->uid, p->euid);
}

long sys_setgid(struct proc *p, const uint64_t *a)
{
	return (uint32_t)a[0] == (uint32_t)-1 ? -EINVAL : set_ids(a[0], a[0], -1, p->gid, p->egid);
}

long sys_setreuid(struct proc *p, const uint64_t *a) { return set_ids(a[0], a[1], -1, p->uid, p->euid); }
long sys_setregid(struct proc *p, const uint64_t *a) { return set_ids(a[0], a[1], -1, p->gid, p->egid); }
long sys_setresuid(struct proc *p, const uint64_t *a) { return set_ids(a[0], a[1], a[2], p->uid, p->euid); }
long sys_setresgid(struct proc *p, const uint64_t *a) { return set_ids(a[0], a[1], a[2], p->gid, p->egid); }

/* setfsuid and setfsgid never fail: they return the old id, which is
 * the effective one, and change nothing. */
long sys_setfsuid(struct proc *p, const uint64_t *a) { (void)a; return p->euid; }
long sys_setfsgid(struct proc *p, const uint64_t *a) { (void)a; return p->egid; }

/* setgroups succeeds when it names the groups the process has. */
long sys_setgroups(struct proc *p, const uint64_t *a)
{
	int n = argint(a[0]), have = getgroups(0, NULL);
	gid_t *want, *now;
	long r = -EPERM;

	if (n < 0 || n > NGROUPS_MAX)
		return -EINVAL;
	if (have < 0 || n != have)
		return -EPERM;
	want = calloc((size_t)n + 1, sizeof *want);
	now = calloc((size_t)n + 1, sizeof *now);
	if (!want || !now)
		r = -ENOMEM;
	else if (mm_copy_in(p->mm, want, a[1], (size_t)n * sizeof *want) < 0)
		r = -EFAULT;
	else if (getgroups(n, now) == n) {
		r = 0;
		for (int i = 0; i < n && r == 0; i++) {
			int found = 0;
			for (int j = 0; j < n; j++)
				found |= want[i] == now[j];
			r = found ? 0 : -EPERM;
		}
	}
	free(want);
	free(now);
	return r;
}

/*
 * getpriority and setpriority, of the host's processes that are the
 * program's: itself, the processes of its run, its process group or its
 * user (who 0).  The raw call's value, 20 - nice, as Linux returns it.
 */
static long priority_target(struct proc *p, int which, int who)
{
	if (who == 0)
		return 0;
	if (which == PRIO_PROCESS && (who == p->pid || (p->can_fork && procs_member(p, who))))
		return 0;
	return which == PRIO_PROCESS || which == PRIO_PGRP || which == PRIO_USER ? -ESRCH : -EINVAL;
}

long sys_getpriority(struct proc *p, const uint64_t *a)
{
	long r = priority_target(p, argint(a[0]), argint(a[1]));

	return r < 0 ? r : hostret(syscall(SYS_getpriority, argint(a[0]), argint(a[1])));
}

long sys_setpriority(struct proc *p, const uint64_t *a)
{
	long r = priority_target(p, argint(a[0]), argint(a[1]));

	return r < 0 ? r : hostret(syscall(SYS_setpriority, argint(a[0]), argint(a[1]),
					  argint(a[2])));
}

/* memfd_create: a host memfd, a file like any other to the program.  Its
 * pages are never executable without prot_exec (it is not on a read-only
 * mount: see library_code in syscall.c). */
long sys_memfd_create(struct proc *p, const uint64_t *a)
{
	unsigned flags = (unsigned)a[1];
	char name[250];
	long r = mm_copy_str(p->mm, name, a[0], sizeof name);

	if (r == -ENAMETOOLONG)
		return -EINVAL;
	if (r < 0)
		return -EFAULT;
	if (flags & ~(unsigned)(MFD_CLOEXEC | MFD_ALLOW_SEALING))
		return -EINVAL;
	int fd = fd_lowest(p, 0);
	if (fd < 0)
		return fd;
	int h = memfd_create(name, flags | MFD_CLOEXEC);
	return h < 0 ? -errno : fd_install(p, h, flags & MFD_CLOEXEC, fd);
}

long sys_uname(struct proc *p, const uint64_t *a)
{
	struct utsname u;

	if (uname(&u) < 0)
		return -errno;
	strcpy(u.machine, "x86_64");
	return mm_copy_out(p->mm, a[0], &u, sizeof u) < 0 ? -EFAULT : 0;
}

_Static_assert(sizeof(struct utsname) == 6 * 65, "struct utsname is the kernel's");

long sys_umask(struct proc *p, const uint64_t *a)
{
	(void)p;
	/* The launcher's umask is the one host creates apply for the program. */
	return umask((mode_t)a[0] & 0777);
}

/*
 * prctl: the options a process uses about itself (its name, its parent-
 * death signal, dumpability, no_new_privs).  They are kept in the process
 * table; there is no other process to see them.  Other options: EINVAL,
 * as a kernel without them says.
 */
long sys_prctl(struct proc *p, const uint64_t *a)
{
	switch (a[0]) {
	case PR_SET_NAME: {
		/* Linux keeps the first 15 bytes of a longer name. */
		char name[16] = {0};
		for (size_t i = 0; i < sizeof name - 1; i++) {
			if (mm_copy_in(p->mm, name + i, a[1] + i, 1) < 0)
				return -EFAULT;
			if (!name[i])
				break;
		}
		memcpy(p->comm, name, sizeof name);
		return 0;
	}
	case PR_GET_NAME:
		return mm_copy_out(p->mm, a[1], p->comm, sizeof p->comm) < 0 ? -EFAULT : 0;
	case PR_SET_PDEATHSIG:
		if (a[1] > 64)
			return -EINVAL;
		p->pdeathsig = (int)a[1];
		return 0;
	case PR_GET_PDEATHSIG:
		return mm_copy_out(p->mm, a[1], &p->pdeathsig, sizeof p->pdeathsig) < 0 ? -EFAULT : 0;
	case PR_GET_DUMPABLE:
		return p->undumpable ? 0 : 1;
	case PR_SET_DUMPABLE:
		if (a[1] > 1)
			return -EINVAL;
		p->undumpable = !a[1];
		return 0;
	case PR_SET_NO_NEW_PRIVS:
		if (a[1] != 1 || a[2] || a[3] || a[4])
			return -EINVAL;
		p->no_new_privs = 1;
		return 0;
	case PR_GET_NO_NEW_PRIVS:
		if (a[1] || a[2] || a[3] || a[4])
			return -EINVAL;
		return p->no_new_privs;
	}
	return -EINVAL;
}

/* --- Time --- */

/* The clock ids the program may name: the fixed ones, and the CPU-time
 * clocks of itself (pid 0 or its own pid).  Other negative ids encode
 * other processes or descriptors (FD_TO_CLOCKID) and would name host
 * objects. */
static int clock_id(struct proc *p, int clk, clockid_t *out)
{
	int pid;

	if (clk >= 0) {
		*out = clk;
		return 0;
	}
	if ((clk & 7) == 3 || (clk & 7) == 7) /* CPUCLOCK_MAX / CLOCKFD */
		return -EINVAL;
	pid = ~(clk >> 3);
	if (pid != 0 && pid != p->pid)
		return -EINVAL;
	*out = (clockid_t)(int)(~0u << 3 | (unsigned)(clk & 7));
	return 0;
}

long sys_clock_gettime(struct proc *p, const uint64_t *a)
{
	struct timespec t;
	clockid_t c;
	int r;

	if ((r = clock_id(p, argint(a[0]), &c)) < 0)
		return r;
	if (clock_gettime(c, &t) < 0)
		return -errno;
	return mm_copy_out(p->mm, a[1], &t, sizeof t) < 0 ? -EFAULT : 0;
}

long sys_clock_getres(struct proc *p, const uint64_t *a)
{
	struct timespec t;
	clockid_t c;
	int r;

	if ((r = clock_id(p, argint(a[0]), &c)) < 0)
		return r;
	if (clock_getres(c, &t) < 0)
		return -errno;
	if (a[1] && mm_copy_out(p->mm, a[1], &t, sizeof t) < 0)
		return -EFAULT;
	return 0;
}

long sys_gettimeofday(struct proc *p, const uint64_t *a)
{
	struct timeval tv;
	struct { int minuteswest, dsttime; } tz;

	if (syscall(SYS_gettimeofday, &tv, &tz) < 0)
		return -errno;
	if (a[0] && mm_copy_out(p->mm, a[0], &tv, sizeof tv) < 0)
		return -EFAULT;
	if (a[1] && mm_copy_out(p->mm, a[1], &tz, sizeof tz) < 0)
		return -EFAULT;
	return 0;
}

long sys_time(struct proc *p, const uint64_t *a)
{
	int64_t t = time(NULL);

	if (a[0] && mm_copy_out(p->mm, a[0], &t, sizeof t) < 0)
		return -EFAULT;
	return t;
}

/* A sleep interrupted by a signal the launcher caught is resumed for the
 * time left: the program has no handler that could have run. */
/* A kick ended a host sleep: whether the program's sleep ends too (a
 * handler is to run, or it died), or it sleeps on. */
static int interrupted(struct proc *p)
{
	sig_take_host(p);
	return p->exited || sig_ready(p);
}

/* A sleep a signal cut short: the time left, as Linux reports it. */
static long slept_short(struct proc *p, uint64_t rem, const struct timespec *left)
{
	if (errno != EINTR)
		return -errno;
	if (rem && mm_copy_out(p->mm, rem, left, sizeof *left) < 0)
		return -EFAULT;
	return -EINTR;
}

/* Interval timers are the launcher's own, which nothing else uses: their
 * signals reach the program through the monitor's signal thread. */
long sys_getitimer(struct proc *p, const uint64_t *a)
{
	struct itimerval v;

	if (syscall(SYS_getitimer, argint(a[0]), &v) < 0)
		return -errno;
	return mm_copy_out(p->mm, a[1], &v, sizeof v) < 0 ? -EFAULT : 0;
}

long sys_setitimer(struct proc *p, const uint64_t *a)
{
	struct itimerval v, old;

	if (a[1] && mm_copy_in(p->mm, &v, a[1], sizeof v) < 0)
		return -EFAULT;
	if (!a[1])
		memset(&v, 0, sizeof v);
	if (syscall(SYS_setitimer, argint(a[0]), &v, &old) < 0)
		return -errno;
	return a[2] && mm_copy_out(p->mm, a[2], &old, sizeof old) < 0 ? -EFAULT : 0;
}

long sys_alarm(struct proc *p, const uint64_t *a)
{
	(void)p;
	return syscall(SYS_alarm, (unsigned)a[0]);
}

long sys_nanosleep(struct proc *p, const uint64_t *a)
{
	struct timespec t;

	if (mm_copy_in(p->mm, &t, a[0], sizeof t) < 0)
		return -EFAULT;
	if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000L)
		return -EINVAL;
	if (thread_many(p))
		return park_sleep(p, deadline_after(p, &t));
	while (syscall(SYS_nanosleep, &t, &t) < 0)
		if (errno != EINTR || interrupted(p))
			return slept_short(p, a[1], &t);
	return 0;
}

/* clock_nanosleep in a process with several threads: the deadline on
 * CLOCK_MONOTONIC, where the scheduler keeps its time. */
static long sleep_parked(struct proc *p, clockid_t c, int flags, const struct timespec *t)
{
	if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L)
		return -EINVAL;
	return park_sleep(p, flags & TIMER_ABSTIME ? deadline_at(p, c, t) : deadline_after(p, t));
}

long sys_clock_nanosleep(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[1]), r;
	struct timespec t;
	clockid_t c;

	if ((r = clock_id(p, argint(a[0]), &c)) < 0)
		return r;
	if (mm_copy_in(p->mm, &t, a[2], sizeof t) < 0)
		return -EFAULT;
	if (thread_many(p))
		return sleep_parked(p, c, flags, &t);
	/* Relative sleeps get the time left in t; absolute ones keep it. */
	while (syscall(SYS_clock_nanosleep, c, flags, &t,
		       flags & TIMER_ABSTIME ? NULL : &t) < 0)
		if (errno == EINTR && interrupted(p))
			return flags & TIMER_ABSTIME ? -EINTR : slept_short(p, a[3], &t);
		else if (errno != EINTR)
			return -errno;
	return 0;
}

long sys_times(struct proc *p, const uint64_t *a)
{
	struct tms t;
	long r = syscall(SYS_times, &t);

	if (r == -1)
		return -errno;
	if (a[0] && mm_copy_out(p->mm, a[0], &t, sizeof t) < 0)
		return -EFAULT;
	return r;
}

long sys_getrusage(struct proc *p, const uint64_t *a)
{
	int who = argint(a[0]);
	struct rusage ru;

	if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD)
		return -EINVAL;
	if (getrusage(who, &ru) < 0)
		return -errno;
	/* The kernel's struct rusage is musl's without its reserved tail. */
	return mm_copy_out(p->mm, a[1], &ru, 144) < 0 ? -EFAULT : 0;
}

long sys_sysinfo(struct proc *p, const uint64_t *a)
{
	struct sysinfo si;
	uint64_t unit, guest;

	if (sysinfo(&si) < 0)
		return -errno;
	/* The program has the VM's memory, not the host's. */
	unit = si.mem_unit ? si.mem_unit : 1;
	guest = mm_phys_size(p->mm) / unit;
	if (si.totalram > guest)
		si.totalram = guest;
	if (si.freeram > si.totalram)
		si.freeram = si.totalram;
	/* The kernel's struct sysinfo is musl's without its reserved tail. */
	return mm_copy_out(p->mm, a[0], &si, 112) < 0 ? -EFAULT : 0;
}

/* --- Randomness and scheduling --- */

long sys_getrandom(struct proc *p, const uint64_t *a)
{
	unsigned flags = (uint32_t)a[2];
	uint64_t len = a[1] > MAX_RW_COUNT ? MAX_RW_COUNT : a[1], done = 0;
	struct iovec iov[64];
	int n, i;
	long r;

	if (flags & ~(unsigned)(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
		return -EINVAL;
	if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM))
		return -EINVAL;
	while (done < len) {
		n = mm_iov(p->mm, a[0] + done, len - done, 1, iov, 64);
		if (n < 0)
			return done ? (long)done : -EFAULT;
		for (i = 0; i < n; i++) {
			do
				r = syscall(SYS_getrandom, iov[i].iov_base,
					    iov[i].iov_len, flags);
			while (r < 0 && errno == EINTR && done == 0);
			if (r < 0)
				return done ? (long)done : -errno;
			done += (uint64_t)r;
			if ((size_t)r < iov[i].iov_len)
				return (long)done;
		}
	}
	return (long)done;
}

long sys_sched_getaffinity(struct proc *p, const uint64_t *a)
{
	int pid = argint(a[0]);
	unsigned len = (uint32_t)a[1];
	unsigned char mask[1024];
	long r;

	/* Where the program may make processes its pids are the host's
	 * (or its run's PID namespace's), and Linux shows any of their
	 * masks (taskset -p PID); else it answers for itself only. */
	if (pid == p->pid)
		pid = 0;
	if (pid != 0 && !p->can_fork)
		return -ESRCH;
	if (len & 7)
		return -EINVAL;
	/* The host says how much of the mask it has (cpumask_size), and
	 * refuses buffers too small for its CPUs. */
	r = hostret(syscall(SYS_sched_getaffinity, pid,
			    len < sizeof mask ? len : sizeof mask, mask));
	if (r < 0)
		return r;
	return mm_copy_out(p->mm, a[2], mask, (size_t)r) < 0 ? -EFAULT : r;
}

/* The program's threads share the launcher's: its own vCPU thread runs
 * them, the others serve their calls, and threads made later inherit the
 * vCPU's mask.  So the mask is the whole launcher's.  Other processes
 * (under exec, host pids): the host's call.  Only without a policy. */
long sys_sched_setaffinity(struct proc *p, const uint64_t *a)
{
	int pid = argint(a[0]);
	size_t len = a[1] < 1024 ? (size_t)a[1] : 1024;
	unsigned char mask[1024] = {0};
	struct dirent *d;
	DIR *dir;
	long r = 0;

	if (p->policy)
		return -EPERM;
	if (mm_copy_in(p->mm, mask, a[2], len) < 0)
		return -EFAULT;
	if (pid != 0 && pid != p->pid)
		return hostret(syscall(SYS_sched_setaffinity, pid, len, mask));
	if (!(dir = opendir("/proc/self/task")))
		return hostret(syscall(SYS_sched_setaffinity, 0, len, mask));
	while ((d = readdir(dir)) && r == 0)
		if (d->d_name[0] != '.')
			r = hostret(syscall(SYS_sched_setaffinity, atoi(d->d_name), len, mask));
	closedir(dir);
	return r;
}

/* The scheduling calls answer for the program's one thread, and only it. */
static int own_pid(struct proc *p, int pid)
{
	if (pid < 0)
		return -EINVAL;
	return pid == 0 || pid == p->pid ? 0 : -ESRCH;
}

long sys_sched_getscheduler(struct proc *p, const uint64_t *a)
{
	int r = own_pid(p, argint(a[0]));

	return r < 0 ? r : hostret(syscall(SYS_sched_getscheduler, 0));
}

long sys_sched_getparam(struct proc *p, const uint64_t *a)
{
	int r = own_pid(p, argint(a[0])), prio;

	if (!a[1])
		return -EINVAL;
	if (r < 0)
		return r;
	if (syscall(SYS_sched_getparam, 0, &prio) < 0)
		return -errno;
	return mm_copy_out(p->mm, a[1], &prio, sizeof prio) < 0 ? -EFAULT : 0;
}

long sys_getcpu(struct proc *p, const uint64_t *a)
{
	unsigned cpu, node;

	if (syscall(SYS_getcpu, &cpu, &node, NULL) < 0)
		return -errno;
	if ((a[0] && mm_copy_out(p->mm, a[0], &cpu, sizeof cpu) < 0) ||
	    (a[1] && mm_copy_out(p->mm, a[1], &node, sizeof node) < 0))
		return -EFAULT;
	return 0;
}

long sys_sched_yield(struct proc *p, const uint64_t *a)
{
	(void)a;
	/* The other threads run on our vCPU: let them. */
	if (thread_many(p))
		return park_yield(p);
	sched_yield();
	return 0;
}

/* --- Resource limits: recorded, never applied to the launcher --- */

static long do_prlimit(struct proc *p, int pid, unsigned res, uint64_t newp,
		       uint64_t oldp)
{
	uint64_t nl[2], old[2];

	if (pid != 0 && pid != p->pid)
		return -ESRCH;
	if (res >= 16)
		return -EINVAL;
	if (newp) {
		if (mm_copy_in(p->mm, nl, newp, sizeof nl) < 0)
			return -EFAULT;
		if (nl[0] > nl[1])
			return -EINVAL;
		/* Raising a hard limit takes privilege; the table caps NOFILE. */
		if (nl[1] > p->rlim[res][1] && p->euid != 0)
			return -EPERM;
		if (res == RLIMIT_NOFILE && nl[1] > PROC_MAX_FDS)
			return -EPERM;
	}
	memcpy(old, p->rlim[res], sizeof old);
	if (newp)
		memcpy(p->rlim[res], nl, sizeof nl);
	if (oldp && mm_copy_out(p->mm, oldp, old, sizeof old) < 0)
		return -EFAULT;
	return 0;
}

long sys_prlimit64(struct proc *p, const uint64_t *a)
{
	return do_prlimit(p, argint(a[0]), (uint32_t)a[1], a[2], a[3]);
}

/* getrlimit and setrlimit have no optional pointer: NULL is a fault. */
long sys_getrlimit(struct proc *p, const uint64_t *a)
{
	if (!a[1])
		return (uint32_t)a[0] >= 16 ? -EINVAL : -EFAULT;
	return do_prlimit(p, 0, (uint32_t)a[0], 0, a[1]);
}

long sys_setrlimit(struct proc *p, const uint64_t *a)
{
	if (!a[1])
		return -EFAULT;
	return do_prlimit(p, 0, (uint32_t)a[0], a[1], 0);
}

