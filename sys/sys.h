/*
 * sys: the program's Linux system calls, implemented in the launcher.
 *
 * This is where syscall semantics live, in ordinary C, testable without a
 * VM.  The guest supervisor only carries requests here.  Every argument
 * comes from an untrusted program: pointers go through mm's checked
 * accessors, descriptors through the process's own descriptor table, so
 * the program can never name one of the launcher's descriptors.
 */
#ifndef DUNERUN_SYS_H
#define DUNERUN_SYS_H

#include <stdint.h>
#include <sys/types.h>

struct mm;
struct policy;

#define PROC_MAX_FDS 1024

struct proc_fd {
	int host;               /* host descriptor, -1 if the slot is free */
	int cloexec;
	int output;             /* a copy of stdout or stderr: counts as output */
	int fd_dir;             /* opened as /proc/self/fd: lists the program's */
	int dir_next;           /* with fd_dir: where getdents goes on */
};

/* What a signal's handler is told (the fields of siginfo it fills). */
struct sig_info {
	int code;               /* si_code: SI_USER, SI_TKILL, SEGV_MAPERR... */
	int pid, uid;           /* the sender, for signals a process sent */
	uint64_t value;         /* sigqueue's value */
	uint64_t addr;          /* the faulting address, for faults */
};

/* An execve that passed every check: what the monitor boots instead of
 * the current program (sys/exec.c). */
struct exec_request {
	uint8_t *data;          /* the ELF file */
	size_t size;
	uint64_t id[2];         /* its device and inode */
	uint8_t *interp;        /* the interpreter it names (PT_INTERP), or NULL */
	size_t interp_size;
	uint64_t interp_id[2];
	char interp_exe[4096];  /* the interpreter's absolute path */
	char **argv, **envp;    /* NULL-terminated */
	char path[4096];        /* the program's path as named, for AT_EXECFN */
	char exe[4096];         /* its absolute path, for /proc/self/exe */
};

/*
 * Threads.  A process's threads take turns on its one vCPU: the monitor
 * switches between them during exits (docs/design.md says why one vCPU).
 * The running thread's own state is in struct proc's fields (tid,
 * sigmask, fs_base...), so every handler serves "the caller" unchanged;
 * the others' is in their struct thread until they run again.
 *
 * In a process with more than one thread, a call that would block parks
 * the caller instead: the handler records why in its struct park and
 * returns -EPARK, and the monitor runs another thread.  The call is made
 * again when what it waits for may have come (or its result is known: a
 * futex wake, a timeout, a signal).
 */
#define PROC_MAX_THREADS 256
#define EPARK 4095              /* internal: never reaches the program */
#define PARK_MAX_FDS 16

enum park_kind {
	PARK_FDS,               /* ready descriptors, or the deadline */
	PARK_FUTEX,             /* a wake on a futex word, or the deadline */
	PARK_SLEEP,             /* the deadline */
	PARK_SIGNAL,            /* a signal: a handler to run, or one in want */
	PARK_YIELD,             /* nothing: others run first */
	PARK_RECHECK,           /* unknown: the call is made again now and then */
};

struct park {
	int kind;
	int nfds;               /* fds[] to watch; -1: too many, look again often */
	struct { int fd; short events, revents; } fds[PARK_MAX_FDS]; /* host pollfds */
	uint64_t futex;         /* PARK_FUTEX: the word's address and bitset */
	uint32_t bitset;
	uint64_t want;          /* PARK_SIGNAL: signals that end it besides handlers */
	int64_t deadline;       /* CLOCK_MONOTONIC ns; 0: none */
	int64_t recheck_at;     /* PARK_RECHECK, or nfds -1: look again then */
	uint64_t order;         /* futex waiters wake oldest first */
	uint64_t nr, arg[6];    /* the call, made again when the wait ends */
};

/* How a thread that is not running goes on. */
enum resume {
	RESUME_CONTEXT,         /* it was preempted: its registers as they were */
	RESUME_RESULT,          /* its syscall returns result */
	RESUME_AGAIN,           /* its syscall is made again */
	RESUME_EXPIRED,         /* the same, its wait over: the call must not wait */
};

enum thread_state { T_FREE, T_RUNNING, T_READY, T_PARKED };

struct thread {
	int state;
	int resume;
	long result;
	pid_t tid;
	uint64_t tpending;      /* signals sent to this thread (tkill, tgkill) */
	struct park park;
	/* The per-thread fields of struct proc while another thread runs. */
	uint64_t sigmask, saved_mask;
	int saved_mask_valid;
	uint64_t tid_address, robust_list, robust_len, fs_base, gs_base;
	struct { uint64_t sp, size; int flags; } altstack;
};

struct threads {
	int n;                  /* live threads */
	int cur;                /* the running one */
	int born;               /* a thread clone just made, for the monitor, or -1 */
	int died;               /* the running thread just ended */
	int again;              /* a parked call is being made again */
	int expired;            /* ... and is past its deadline: must not wait */
	uint64_t seq;           /* tids handed out, and parks */
	int64_t vclock;         /* --deterministic: the scheduler's clock, in ns */
	struct thread t[PROC_MAX_THREADS];
};

struct proc {
	struct mm *mm;
	struct proc_fd fd[PROC_MAX_FDS];
	int cwd;                /* host descriptor of the working directory */
	pid_t pid;              /* what getpid reports */
	pid_t tid;              /* the running thread's (pid for the first) */
	struct threads *threads; /* NULL until the first thread clone */
	int deterministic;      /* threads switch in an order that depends on
				   the program alone (thread.c) */
	pid_t pgid, sid;        /* the launcher's process group and session */
	uid_t uid, euid;
	gid_t gid, egid;
	uint64_t tid_address;   /* set_tid_address */
	uint64_t robust_list, robust_len;
	uint64_t fs_base, gs_base; /* arch_prctl; the caller loads them */
	int fs_dirty;           /* fs_base/gs_base changed: reload segment bases */
	uint64_t sigmask;
	struct { uint64_t handler, flags, restorer, mask; } sigact[64];
	const char *exe;        /* the program's path, for /proc/self/exe */
	/* A procfs directory for the launcher's own /proc/self/fd lookups
	 * (the image's view has no /proc), or -1: the host's /proc.  Not
	 * owned: proc_release leaves it open. */
	int procfd;
	int snapshot_fd;        /* the last /proc/self/maps or status snapshot, or -1 */
	int trace;              /* print every syscall on trace_fd */
	int trace_fd;
	int patched_call;       /* the call being served came from a patched
				   site (1, patch/patch.h) or the vDSO (2):
				   traced as such */
	int exited;             /* exit or exit_group was called, or a signal killed it */
	int exit_code;
	int exit_signal;        /* the signal that killed it (exit_code = 128 + it), or 0 */
	uint64_t nforwarded;    /* syscalls handled here */
	uint64_t nunknown;      /* of which were unknown (-ENOSYS) */
	/* The image's policy, or NULL (exec): every call is served.  Calls
	 * it denies are counted, reported once per name on trace_fd's
	 * stderr, and written as JSON lines to audit_fd if it is not -1. */
	const struct policy *policy;
	int audit_fd;
	uint64_t ndenied;
	uint8_t denied_seen[512 / 8];
	/* Bytes the program may write to stdout and stderr (0: no limit),
	 * and has written.  Past it the program dies of SIGXFSZ. */
	uint64_t output_limit, output_used;
	int net;                /* sockets are offered (the policy has inet or unix) */
	int no_sigpipe;         /* this call's EPIPE sends no SIGPIPE (MSG_NOSIGNAL) */
	const char *limit_hit;  /* "output", "fsize": the limit that killed it */
	/* Bookkeeping for calls that must read back what was set, added by
	 * sys/ (proc_init fills them in). */
	uint64_t rlim[16][2];   /* setrlimit/prlimit64: soft, hard per resource */
	struct { uint64_t sp, size; int flags; } altstack; /* sigaltstack */
	/* dune_trap: where exceptions in dune_trap_vectors go instead of a
	 * signal (libdune's entry stub), or 0.  Reset by execve. */
	uint64_t dune_trap_entry, dune_trap_vectors;
	/* Signals sent to the program (kill, tgkill, SIGPIPE from a write)
	 * that are blocked, or that have a handler for the caller to run,
	 * with what each handler is told; real-time signals count. */
	uint64_t sigpending;
	struct sig_info siginfo[64];
	uint8_t sigqueued[64];
	/* Signals the launcher received for the program (Ctrl-C, a timer),
	 * set by the monitor's signal thread, folded into sigpending by
	 * sig_take_host.  Atomic. */
	uint64_t host_pending;
	/* sigsuspend's caller's mask, for the handler's frame to restore. */
	uint64_t saved_mask;
	int saved_mask_valid;
	struct exec_request *exec; /* a successful execve for the monitor, or NULL */
	/* A fork for the monitor to make (sys/fork.c); the children made,
	 * which alone wait4 and kill reach.  can_fork: the launcher may. */
	struct fork_request { int pending; uint64_t flags, stack, ptid, ctid; } fork;
	int children[256];
	int nchildren;
	int can_fork;
	struct procs *run;      /* the run's process table (procs.c) and our slot */
	int run_slot;
	char comm[16];          /* prctl(PR_SET_NAME) */
	int pdeathsig, undumpable, no_new_privs; /* prctl's other per-process state */
	char exe_buf[4096];     /* exe resolved to an absolute path, if it could be */
};

/* Sets up p for a program: descriptors 0, 1 and 2 become private
 * duplicates of the launcher's, the working directory is the launcher's,
 * blocked and ignored signals are inherited as across execve.  The
 * launcher's SIGPIPE becomes ignored: a write to a broken pipe gives the
 * program EPIPE and its own SIGPIPE instead of killing the launcher.
 * Every field is (re)initialised, so set trace and trace_fd afterwards.
 * p->exe becomes exe's absolute, symlink-free path (what Linux shows as
 * /proc/self/exe) when it can be resolved.  Returns 0 or -errno. */
int proc_init(struct proc *p, struct mm *mm, const char *exe);
/* Closes every descriptor the process holds. */
void proc_release(struct proc *p);

/* Runs one system call for the program.  Returns the value the program
 * sees in rax (a result or -errno).  Unknown numbers give -ENOSYS.  After
 * exit/exit_group, or a signal whose default action ends the program,
 * p->exited is set and the return value is meaningless.
 * With p->trace set, prints the call strace-style: name, decoded
 * arguments, result, and where it was handled. */
long sys_call(struct proc *p, uint64_t nr, const uint64_t arg[6]);

/* The launcher's own signal that only interrupts a blocking host call
 * (its handler does nothing); the monitor sends it to the thread serving
 * the program when a signal arrives for the program. */
#define SIG_KICK 62

/* Signals for the monitor, which runs the handlers. */
/* Moves host_pending into the program's signals, each acting as its
 * disposition says (a default action may end the program). */
void sig_take_host(struct proc *p);
/* Takes the lowest pending signal the program does not block (all such
 * have handlers: others took their default action when sent).  Returns
 * it with its info, or 0. */
int sig_dequeue(struct proc *p, struct sig_info *info);
/* The same for the signals in set, blocked or not (sigtimedwait). */
int sig_take(struct proc *p, uint64_t set, struct sig_info *info);
/* A fault (SIGSEGV, SIGFPE...) in the program: 1 if a handler is to run
 * (the signal is pending), 0 if the program is dead of it. */
int sig_fault(struct proc *p, int sig, const struct sig_info *info);
/* Sets the blocked mask (rt_sigreturn), acting on what it unblocks. */
void sig_setmask(struct proc *p, uint64_t mask);
/* Whether a handler is waiting to run. */
static inline int sig_ready(const struct proc *p)
{
	return (p->sigpending & ~p->sigmask) != 0;
}
/* The program dies of sig now, whatever its handlers and mask say. */
void sig_kill(struct proc *p, int sig);

/* execve's last step, once the monitor has the new address space mm:
 * close-on-exec descriptors closed, handlers reset, the new name. */
void proc_exec(struct proc *p, struct mm *mm);
void exec_request_free(struct exec_request *x);
/* Whether pid is a child the program made. */
int proc_is_child(struct proc *p, int pid);

/* Threads (sys/thread.c), for the monitor. */
/* The running thread could not go on (it parked, or ended): picks the
 * next one and makes it the running one, waiting for one to be ready if
 * need be.  Returns its index; its struct thread says how it resumes.
 * -1 if the program ended meanwhile (a signal's default action). */
int thread_next(struct proc *p);
/* The running thread parks (sys_call returned -EPARK) or, preempted,
 * stays ready (resume RESUME_CONTEXT): its fields are saved. */
void thread_park(struct proc *p);
void thread_preempted(struct proc *p);
/* Makes the call of a thread that resumes with RESUME_AGAIN or
 * RESUME_EXPIRED: its result, or -EPARK if it parked again. */
long thread_call_again(struct proc *p);
/* Whether another thread is ready (or parked with a wait that is over). */
int thread_others_ready(struct proc *p);
/* Only the running thread goes on: after fork (in the child) and execve. */
void thread_only_me(struct proc *p);

/* The run's processes (sys/procs.c): one table, shared by every launcher
 * process of the run, mapped before the first fork.  It keeps LIMIT
 * procs, and it is the set that kill and process groups reach. */
/* Maps the table, with pol's limit (or the default), p as its first
 * member.  0 or -1. */
int procs_open(struct proc *p, const struct policy *pol);
/* A slot for a child about to be forked, or -1 (the run is at its
 * limit: fork fails with EAGAIN, said once per run on stderr). */
int procs_reserve(struct proc *p);
/* Who holds a slot (0: free again). */
void procs_set(struct proc *p, int slot, pid_t pid);
/* The process ends: its slot is free. */
void procs_leave(struct proc *p);
/* Whether pid is a live process of the run. */
int procs_member(struct proc *p, pid_t pid);
/* fn for each process of the run; the sum of what it returns. */
int procs_each(struct proc *p, int (*fn)(struct proc *p, pid_t pid, void *arg), void *arg);

/* Whether the call may wait (a sleep, a wait, a descriptor that is not
 * ready): the thread serving it stops polling meanwhile. */
int sys_may_block(struct proc *p, uint64_t nr, const uint64_t *a);

/* The name of syscall nr, or NULL. */
const char *sys_name(uint64_t nr);

#endif
