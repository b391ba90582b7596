/*
 * Internal interface of sys/: argument fetchers, the descriptor table and
 * the handlers the syscall table points at.  Nothing outside sys/ includes
 * this; the public interface is sys.h.
 */
#ifndef DUNERUN_SYS_INTERNAL_H
#define DUNERUN_SYS_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <poll.h>
#include <time.h>
#include "sys.h"
/* mm.h defines PAGE_SIZE (4096UL) unguarded; limits.h has its own. */
#undef PAGE_SIZE
#include "mm.h"

/* A handler gets the six raw argument registers and returns what the
 * program sees in rax. */
typedef long sys_fn(struct proc *p, const uint64_t *a);

/* Linux caps one read or write at this many bytes (INT_MAX & PAGE_MASK). */
#define MAX_RW_COUNT 0x7ffff000L

/* --- Argument fetchers (argint / argaddr / argstr in xv6) --- */

/* The kernel declares int arguments as int: only the low 32 bits count. */
static inline int argint(uint64_t a)
{
	return (int)(uint32_t)a;
}

/* Turns a host result (-1 with errno) into what Linux returns (-errno). */
static inline long hostret(long r)
{
	return r == -1 ? -errno : r;
}

/* Copies the string at gva into buf[PATH_MAX]: 0, -EFAULT or -ENAMETOOLONG. */
int argstr(struct proc *p, uint64_t gva, char *buf);

/* A path argument resolved for a host *at call: the host directory
 * descriptor to resolve it against and the path itself (which may have
 * been rewritten, e.g. /proc/self/fd/N names the host descriptor). */
struct hpath {
	int dir;
	int exe;                /* the path named /proc/self/exe */
	int fd_dir;             /* the path named the /proc/self/fd directory */
	char path[PATH_MAX];
};
/* What argpath accepts besides a non-empty string. */
#define PATH_EMPTY 1            /* "" names dirfd itself (AT_EMPTY_PATH) */
#define PATH_NULL  2            /* so does NULL (statx, fstatat since 6.11) */
/* Fetches the path at gva relative to the guest directory descriptor
 * dirfd (AT_FDCWD means the working directory).  Returns 0, -EFAULT,
 * -ENAMETOOLONG, -ENOENT or -EBADF. */
int argpath(struct proc *p, int dirfd, uint64_t gva, int accept,
	    struct hpath *hp);

/* The path of host descriptor h, followed by tail, through the launcher's
 * procfs ("/proc/self/fd/H/tail"), in buf[PATH_MAX]; *dir is the
 * directory descriptor it is relative to.  0 or -ENAMETOOLONG. */
int proc_fd_path(struct proc *p, int h, const char *tail, char *buf, int *dir);

/* procfs.c.  Point hp at a fresh snapshot of /proc/self/maps, or of
 * /proc/self/status with the program's signal state. */
int procfs_maps(struct proc *p, struct hpath *hp);
int procfs_status(struct proc *p, struct hpath *hp);
/* getdents64 of a /proc/self/fd directory opened as fd: the program's
 * descriptors, from where the last call stopped.  Returns the bytes put
 * in buf[0..size), 0 at the end, or -EINVAL if one entry does not fit. */
long procfs_fd_dirents(struct proc *p, int fd, uint8_t *buf, size_t size);

/* --- The descriptor table (fd.c) --- */

/* The host descriptor behind guest descriptor fd, or -EBADF. */
int fd_host(struct proc *p, int fd);
/* The lowest free guest descriptor >= min, or -EMFILE. */
int fd_lowest(struct proc *p, int min);
/* Puts host descriptor h in the lowest free slot >= min.  Returns the
 * guest descriptor; on -EMFILE closes h. */
int fd_install(struct proc *p, int h, int cloexec, int min);
/* How many descriptors the program may have (RLIMIT_NOFILE, capped). */
int fd_limit(struct proc *p);
/* A private host duplicate of h (close-on-exec on the host), or -errno. */
int host_dup(int h);

/* --- Signals (signal.c) --- */

/* Sets up the signal state a program inherits across execve. */
void sig_init(struct proc *p);
/* sig is sent to the program: discarded, kept pending, or the end of it. */
void sig_send(struct proc *p, int sig, int code);


/* --- Threads (thread.c) --- */

/* CLOCK_MONOTONIC in ns. */
int64_t mono_ns(void);

/* Whether the process has more than one thread: calls that would block
 * park instead (sys.h). */
int thread_many(struct proc *p);
/* Each records why the running thread waits and returns -EPARK.  A NULL
 * timeout waits for ever; a call made again keeps its first deadline. */
long park_fds(struct proc *p, const struct pollfd *f, unsigned n, const struct timespec *t);
long park_futex(struct proc *p, uint64_t addr, uint32_t bitset, int64_t deadline);
long park_sleep(struct proc *p, int64_t deadline);
long park_signal(struct proc *p, uint64_t want, const struct timespec *t);
long park_recheck(struct proc *p);
long park_yield(struct proc *p);
/* Whether the call is being made again past its deadline: it must not wait. */
int park_expired(struct proc *p);
/* A parked wait's deadline, in ns on the scheduler's clock (sys.h): rel
 * from now, or the absolute time abs on clock c.  Never 0 (no deadline). */
int64_t deadline_after(struct proc *p, const struct timespec *rel);
int64_t deadline_at(struct proc *p, clockid_t c, const struct timespec *abs);
/* Before a call: if it would block on its descriptor, parks (1). */
int thread_probe(struct proc *p, uint64_t nr, const uint64_t *a);
long thread_clone(struct proc *p, uint64_t flags, uint64_t stack, uint64_t ptid,
		  uint64_t ctid, uint64_t tls);
/* A futex operation between threads, the word already checked for a
 * wait (cmd is the operation without its flags). */
long thread_futex(struct proc *p, int cmd, const uint64_t *a, int64_t deadline);
/* tkill/tgkill of another thread: -ESRCH if there is no such thread. */
long thread_kill(struct proc *p, int tid, int sig);
/* exit of one thread of several. */
void thread_exit(struct proc *p);

/* --- Tracing (trace.c) --- */

/* How the tracer shows an argument or a result. */
enum argkind {
	K_NONE,         /* no more arguments */
	K_INT,          /* signed 32-bit decimal (descriptors, counts) */
	K_DIRFD,        /* like K_INT, AT_FDCWD by name */
	K_LONG,         /* signed 64-bit decimal */
	K_ULONG,        /* unsigned 64-bit decimal (sizes) */
	K_HEX,          /* flags */
	K_OCT,          /* modes */
	K_PTR,          /* addresses; NULL by name */
	K_STR,          /* a NUL-terminated string, quoted */
	K_BUF,          /* bytes the program passes in; length is the next argument */
};

struct sysent {
	sys_fn *fn;
	unsigned char arg[6];   /* enum argkind */
	unsigned char ret;      /* K_LONG, K_HEX (addresses) or K_NONE (no return) */
};

/* Formats "name(args" into buf before the call; returns its length. */
int trace_begin(struct proc *p, const char *name, uint64_t nr,
		const struct sysent *e, const uint64_t *a, char *buf,
		size_t size);
/* Appends ") = result [host]\n" and writes the line with one write(). */
void trace_end(struct proc *p, const struct sysent *e, long ret, char *buf,
	       size_t len, size_t size);

/* --- Handlers --- */

/* fd.c */
sys_fn sys_close, sys_dup, sys_dup2, sys_dup3, sys_fcntl, sys_pipe,
	sys_pipe2, sys_close_range;
/* rw.c */
sys_fn sys_read, sys_write, sys_pread64, sys_pwrite64, sys_readv,
	sys_writev, sys_preadv, sys_pwritev, sys_preadv2, sys_pwritev2,
	sys_sendfile, sys_copy_file_range;
/* file.c */
sys_fn sys_open, sys_openat, sys_creat, sys_lseek, sys_fstat, sys_stat,
	sys_lstat, sys_newfstatat, sys_statx, sys_getdents64, sys_readlink,
	sys_readlinkat, sys_access, sys_faccessat, sys_faccessat2,
	sys_getcwd, sys_chdir, sys_chroot, sys_mount, sys_umount2, sys_fchdir, sys_unlink, sys_unlinkat,
	sys_mkdir, sys_mkdirat, sys_rmdir, sys_rename, sys_renameat,
	sys_renameat2, sys_link, sys_linkat, sys_symlink, sys_symlinkat,
	sys_chmod, sys_fchmod, sys_fchmodat, sys_chown, sys_lchown,
	sys_fchown, sys_fchownat, sys_truncate, sys_ftruncate, sys_fsync,
	sys_fdatasync, sys_ioctl, sys_utimensat, sys_mknod, sys_mknodat,
	sys_getxattr, sys_lgetxattr, sys_fgetxattr, sys_listxattr, sys_llistxattr,
	sys_flistxattr, sys_setxattr, sys_lsetxattr, sys_fsetxattr, sys_removexattr,
	sys_lremovexattr, sys_fremovexattr,
	sys_statfs, sys_fstatfs, sys_fadvise64, sys_fallocate, sys_flock,
	sys_sync, sys_syncfs;
/* poll.c */
sys_fn sys_poll, sys_ppoll, sys_select, sys_pselect6, sys_epoll_create,
	sys_epoll_create1, sys_epoll_ctl, sys_epoll_wait, sys_epoll_pwait, sys_eventfd,
	sys_eventfd2;
/* signal.c */
sys_fn sys_rt_sigaction, sys_rt_sigprocmask, sys_rt_sigpending,
	sys_sigaltstack, sys_kill, sys_tkill, sys_tgkill, sys_rt_sigqueueinfo, sys_pause,
	sys_rt_sigsuspend, sys_rt_sigtimedwait, sys_getitimer, sys_setitimer, sys_alarm,
	sys_execve, sys_execveat, sys_fork, sys_vfork, sys_clone, sys_clone3, sys_wait4, sys_waitid,
	sys_getpgrp, sys_getpgid, sys_getsid, sys_setpgid, sys_setsid;
/* kill(pid) of a child: the host's kill.  -ESRCH for any other pid. */
long kill_child(struct proc *p, int pid, int sig);
/* kill where processes may be made: pid, a group (0, -pgid) or all
 * (-1) of the run's processes (procs.c); -ESRCH if none. */
long kill_run(struct proc *p, int pid, int sig);
/* misc.c */
/* dune.c */
sys_fn sys_dune_window, sys_dune_batch, sys_dune_trap;
sys_fn sys_brk, sys_mmap, sys_munmap, sys_mprotect, sys_mremap,
	sys_madvise, sys_msync, sys_arch_prctl, sys_prctl, sys_set_tid_address, sys_set_robust_list,
	sys_get_robust_list, sys_futex, sys_exit, sys_exit_group,
	sys_getpid, sys_gettid, sys_getppid, sys_getuid, sys_geteuid,
	sys_getgid, sys_getegid, sys_getresuid, sys_getresgid, sys_getgroups,
	sys_setuid, sys_setgid, sys_setreuid, sys_setregid, sys_setresuid, sys_setresgid,
	sys_setfsuid, sys_setfsgid, sys_setgroups, sys_getpriority, sys_setpriority,
	sys_memfd_create,
	sys_uname, sys_umask,
	sys_clock_gettime, sys_clock_getres, sys_gettimeofday, sys_time,
	sys_nanosleep, sys_clock_nanosleep, sys_times, sys_getrusage,
	sys_sysinfo, sys_getrandom, sys_sched_setaffinity, sys_sched_getaffinity, sys_sched_yield,
	sys_sched_getscheduler, sys_sched_getparam, sys_getcpu,
	sys_prlimit64, sys_getrlimit, sys_setrlimit, sys_socket,
	sys_socketpair, sys_connect, sys_bind, sys_listen, sys_shutdown, sys_accept, sys_accept4,
	sys_getsockname, sys_getpeername, sys_setsockopt, sys_getsockopt, sys_sendmsg,
	sys_recvmsg, sys_sendto, sys_recvfrom;

#endif
