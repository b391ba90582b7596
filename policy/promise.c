/*
 * The promise table: which system calls each promise opens, and the
 * argument rules of the few calls whose arguments decide.
 *
 * Each call has one row.  `any` is the promises of which one suffices;
 * the row's rule may narrow that from the arguments (a socket's domain
 * picks inet or unix) or add promises that are all needed as well (an
 * open's flags need rpath, wpath and cpath in combination).  A call with
 * no row is denied whatever the policy: ptrace, mount, bpf and the like.
 */
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "policy.h"
#include "dunerun/abi.h"

#define STDIO	  PROMISE_BIT(PROMISE_STDIO)
#define RPATH	  PROMISE_BIT(PROMISE_RPATH)
#define WPATH	  PROMISE_BIT(PROMISE_WPATH)
#define CPATH	  PROMISE_BIT(PROMISE_CPATH)
#define TMPPATH	  PROMISE_BIT(PROMISE_TMPPATH)
#define FATTR	  PROMISE_BIT(PROMISE_FATTR)
#define TTY	  PROMISE_BIT(PROMISE_TTY)
#define INET	  PROMISE_BIT(PROMISE_INET)
#define UNIX	  PROMISE_BIT(PROMISE_UNIX)
#define PROC	  PROMISE_BIT(PROMISE_PROC)
#define EXEC	  PROMISE_BIT(PROMISE_EXEC)
#define PROT_X	  PROMISE_BIT(PROMISE_PROT_EXEC)
/* Not a promise: every policy holds it. */
#define ALWAYS	  (1u << 31)

/* What tmppath stands in for under /tmp. */
#define TMP_STANDS_FOR (RPATH | WPATH | CPATH | FATTR)

static const char *const promise_names[NPROMISE] = {
	"stdio", "rpath", "wpath", "cpath", "tmppath", "fattr", "tty",
	"inet", "unix", "proc", "exec", "prot_exec", "supervisor",
};

/* The most specific first: what a denial names when several are needed. */
static const enum promise specific[NPROMISE] = {
	PROMISE_PROT_EXEC, PROMISE_CPATH, PROMISE_WPATH, PROMISE_RPATH,
	PROMISE_TMPPATH, PROMISE_FATTR, PROMISE_TTY, PROMISE_INET,
	PROMISE_UNIX, PROMISE_PROC, PROMISE_EXEC, PROMISE_SUPERVISOR,
	PROMISE_STDIO,
};

enum rule {
	R_NONE,		/* any, whatever the arguments */
	R_OPEN,		/* flags in args[1]: see open_needs() */
	R_OPENAT,	/* flags in args[2] */
	R_OPENAT2,	/* flags out of reach in a struct: all of rpath wpath cpath */
	R_CREAT,	/* O_CREAT|O_WRONLY|O_TRUNC: cpath and wpath */
	R_PROT,		/* PROT_EXEC in args[2] also needs prot_exec */
	R_SOCKET,	/* AF_INET/AF_INET6 inet, AF_UNIX unix; stream, dgram, seqpacket */
	R_SOCKETPAIR,	/* AF_UNIX only */
	R_PRLIMIT,	/* setting (args[2] != 0) needs proc */
	R_FCNTL,	/* the commands in fcntl_ok[] */
	R_IOCTL,	/* the requests in ioctl_stdio[] (stdio) and ioctl_tty[] (tty) */
	R_CLONE,	/* CLONE_THREAD: stdio; a new process: proc */
	R_ARCH_PRCTL,	/* the FS and GS base only */
	R_PRCTL,	/* the options in prctl_ok[] */
};

static const char *const rule_text[] = {
	[R_OPEN] = "flags: `O_RDONLY` rpath, `O_WRONLY` wpath, `O_RDWR` rpath and wpath, "
		   "`O_TRUNC` adds wpath, `O_CREAT` or `O_TMPFILE` adds cpath",
	[R_OPENAT] = "as `open`",
	[R_OPENAT2] = "the flags are in a struct: needs rpath, wpath and cpath",
	[R_CREAT] = "needs cpath and wpath",
	[R_PROT] = "`PROT_EXEC` needs prot_exec as well as stdio",
	[R_SOCKET] = "`AF_INET`, `AF_INET6`: inet; `AF_UNIX`: unix; other domains, "
		     "and types other than stream, datagram and seqpacket: denied",
	[R_SOCKETPAIR] = "`AF_UNIX` only",
	[R_PRLIMIT] = "reading: stdio; setting: proc",
	[R_FCNTL] = "descriptor flags, status flags, dup, locks, seals, pipe size; others denied",
	[R_IOCTL] = "stdio: `TCGETS`, `TIOCGWINSZ`, `TIOCGPGRP`, `TIOCGSID`, `FIONREAD`, "
		    "`FIONBIO`, `FIOCLEX`, `FIONCLEX`; tty: `TCSETS`, `TCSETSW`, `TCSETSF`, "
		    "`TIOCSWINSZ`, `TIOCSPGRP`, `TCFLSH`, `TCXONC`, `TCSBRK`; others denied",
	[R_CLONE] = "`CLONE_THREAD`: stdio; a new process: proc",
	[R_ARCH_PRCTL] = "`ARCH_SET_FS`, `ARCH_GET_FS`, `ARCH_SET_GS`, `ARCH_GET_GS` only",
	[R_PRCTL] = "`PR_SET_NAME`, `PR_GET_NAME`, `PR_SET_PDEATHSIG`, `PR_GET_PDEATHSIG`, "
		    "`PR_GET_DUMPABLE`, `PR_SET_DUMPABLE`, `PR_SET_NO_NEW_PRIVS`, "
		    "`PR_GET_NO_NEW_PRIVS` only",
};

struct row {
	long nr;
	const char *name;
	uint32_t any;
	enum rule rule;
	unsigned paths;		/* policy_path_args() */
};

#define C(n, any)		{ SYS_##n, #n, any, R_NONE, 0 }
#define P(n, any, paths)	{ SYS_##n, #n, any, R_NONE, paths }
#define A(n, any, rule, paths)	{ SYS_##n, #n, any, rule, paths }

/* In number order: lookup() is a binary search, and the unit test checks. */
static const struct row table[] = {
	C(read, STDIO),
	C(write, STDIO),
	A(open, 0, R_OPEN, 1),
	C(close, STDIO),
	P(stat, RPATH, 1),
	C(fstat, STDIO),
	P(lstat, RPATH, 1),
	C(poll, STDIO),
	C(lseek, STDIO),
	A(mmap, STDIO, R_PROT, 0),
	A(mprotect, STDIO, R_PROT, 0),
	C(munmap, STDIO),
	C(brk, STDIO),
	C(rt_sigaction, STDIO),
	C(rt_sigprocmask, STDIO),
	C(rt_sigreturn, STDIO),
	A(ioctl, 0, R_IOCTL, 0),
	C(pread64, STDIO),
	C(pwrite64, STDIO),
	C(readv, STDIO),
	C(writev, STDIO),
	P(access, RPATH, 1),
	C(pipe, STDIO),
	C(select, STDIO),
	C(sched_yield, STDIO),
	C(mremap, STDIO),
	C(msync, STDIO),
	C(mincore, STDIO),
	C(madvise, STDIO),
	C(dup, STDIO),
	C(dup2, STDIO),
	C(pause, STDIO),
	C(nanosleep, STDIO),
	C(getitimer, STDIO),
	C(alarm, STDIO),
	C(setitimer, STDIO),
	C(getpid, STDIO),
	C(sendfile, STDIO),
	A(socket, 0, R_SOCKET, 0),
	C(connect, INET | UNIX),
	C(accept, INET | UNIX),
	C(sendto, STDIO),
	C(recvfrom, STDIO),
	C(sendmsg, STDIO),
	C(recvmsg, STDIO),
	C(shutdown, STDIO),
	C(bind, INET | UNIX),
	C(listen, INET | UNIX),
	C(getsockname, STDIO),
	C(getpeername, STDIO),
	A(socketpair, STDIO, R_SOCKETPAIR, 0),
	C(setsockopt, INET | UNIX),
	C(getsockopt, INET | UNIX),
	A(clone, 0, R_CLONE, 0),
	C(fork, PROC),
	C(vfork, PROC),
	P(execve, EXEC, 1),
	C(exit, ALWAYS),
	C(wait4, PROC),
	C(kill, PROC),
	C(uname, STDIO),
	A(fcntl, STDIO, R_FCNTL, 0),
	C(flock, STDIO),
	C(fsync, STDIO),
	C(fdatasync, STDIO),
	P(truncate, WPATH, 1),
	C(ftruncate, WPATH | TMPPATH),
	C(getdents, RPATH | TMPPATH),
	C(getcwd, RPATH | WPATH | CPATH | TMPPATH),
	P(chdir, RPATH, 1),
	C(fchdir, RPATH | TMPPATH),
	P(rename, CPATH, 1 | 2),
	P(mkdir, CPATH, 1),
	P(rmdir, CPATH, 1),
	A(creat, 0, R_CREAT, 1),
	P(link, CPATH, 1 | 2),
	P(unlink, CPATH, 1),
	P(symlink, CPATH, 2),
	P(readlink, RPATH, 1),
	P(chmod, FATTR, 1),
	C(fchmod, FATTR | TMPPATH),
	P(chown, FATTR, 1),
	C(fchown, FATTR | TMPPATH),
	P(lchown, FATTR, 1),
	C(umask, STDIO),
	C(gettimeofday, STDIO),
	C(getrlimit, STDIO),
	C(getrusage, STDIO),
	C(sysinfo, STDIO),
	C(times, STDIO),
	C(getuid, STDIO),
	C(getgid, STDIO),
	C(setuid, STDIO),               /* only ever a change to nothing */
	C(setgid, STDIO),
	C(geteuid, STDIO),
	C(getegid, STDIO),
	C(setpgid, PROC),
	C(getppid, STDIO),
	C(getpgrp, STDIO),
	C(setsid, PROC),
	C(setreuid, STDIO),
	C(setregid, STDIO),
	C(getgroups, STDIO),
	C(setgroups, STDIO),
	C(setresuid, STDIO),
	C(getresuid, STDIO),
	C(setresgid, STDIO),
	C(getresgid, STDIO),
	C(getpgid, STDIO),
	C(setfsuid, STDIO),
	C(setfsgid, STDIO),
	C(getsid, STDIO),
	C(rt_sigpending, STDIO),
	C(rt_sigtimedwait, STDIO),
	C(rt_sigqueueinfo, PROC),
	C(rt_sigsuspend, STDIO),
	C(sigaltstack, STDIO),
	P(utime, FATTR, 1),
	P(statfs, RPATH, 1),
	C(fstatfs, STDIO),
	C(getpriority, PROC),
	C(setpriority, PROC),
	C(sched_getparam, STDIO),
	C(sched_getscheduler, STDIO),
	A(prctl, STDIO, R_PRCTL, 0),
	A(arch_prctl, STDIO, R_ARCH_PRCTL, 0),
	C(setrlimit, PROC),
	C(gettid, STDIO),
	P(setxattr, FATTR, 1),
	P(lsetxattr, FATTR, 1),
	C(fsetxattr, FATTR | TMPPATH),
	P(getxattr, RPATH, 1),
	P(lgetxattr, RPATH, 1),
	C(fgetxattr, STDIO),
	P(listxattr, RPATH, 1),
	P(llistxattr, RPATH, 1),
	C(flistxattr, STDIO),
	P(removexattr, FATTR, 1),
	P(lremovexattr, FATTR, 1),
	C(fremovexattr, FATTR | TMPPATH),
	C(tkill, STDIO),
	C(time, STDIO),
	C(futex, STDIO),
	C(sched_getaffinity, STDIO),
	C(epoll_create, STDIO),
	C(getdents64, RPATH | TMPPATH),
	C(set_tid_address, STDIO),
	C(fadvise64, STDIO),
	C(clock_gettime, STDIO),
	C(clock_getres, STDIO),
	C(clock_nanosleep, STDIO),
	C(exit_group, ALWAYS),
	C(epoll_wait, STDIO),
	C(epoll_ctl, STDIO),
	C(tgkill, STDIO),
	P(utimes, FATTR, 1),
	C(waitid, PROC),
	A(openat, 0, R_OPENAT, 2),
	P(mkdirat, CPATH, 2),
	P(fchownat, FATTR, 2),
	P(futimesat, FATTR, 2),
	P(newfstatat, RPATH, 2),
	P(unlinkat, CPATH, 2),
	P(renameat, CPATH, 2 | 8),
	P(linkat, CPATH, 2 | 8),
	P(symlinkat, CPATH, 4),
	P(readlinkat, RPATH, 2),
	P(fchmodat, FATTR, 2),
	P(faccessat, RPATH, 2),
	C(pselect6, STDIO),
	C(ppoll, STDIO),
	C(set_robust_list, STDIO),
	C(get_robust_list, STDIO),
	C(splice, STDIO),
	C(tee, STDIO),
	P(utimensat, FATTR, 2),
	C(epoll_pwait, STDIO),
	C(signalfd, STDIO),
	C(timerfd_create, STDIO),
	C(eventfd, STDIO),
	C(fallocate, WPATH | TMPPATH),
	C(timerfd_settime, STDIO),
	C(timerfd_gettime, STDIO),
	C(accept4, INET | UNIX),
	C(signalfd4, STDIO),
	C(eventfd2, STDIO),
	C(epoll_create1, STDIO),
	C(dup3, STDIO),
	C(pipe2, STDIO),
	C(preadv, STDIO),
	C(pwritev, STDIO),
	C(rt_tgsigqueueinfo, PROC),
	C(recvmmsg, STDIO),
	A(prlimit64, STDIO, R_PRLIMIT, 0),
	C(sendmmsg, STDIO),
	C(getcpu, STDIO),
	P(renameat2, CPATH, 2 | 8),
	C(getrandom, STDIO),
	C(memfd_create, STDIO),
	P(execveat, EXEC, 2),
	C(copy_file_range, STDIO),
	C(preadv2, STDIO),
	C(pwritev2, STDIO),
	A(pkey_mprotect, STDIO, R_PROT, 0),
	P(statx, RPATH, 2),
	C(rseq, STDIO),
	C(clone3, STDIO),               /* judged as the clone it becomes */
	C(close_range, STDIO),
	A(openat2, 0, R_OPENAT2, 2),
	P(faccessat2, RPATH, 2),
	C(epoll_pwait2, STDIO),
	/* dunerun's own calls: the program's page tables (include/dune.h).
	 * A protection change inside a batch is checked as mprotect. */
	{ DUNE_SYS_WINDOW, "dune_window", STDIO, R_NONE, 0 },
	{ DUNE_SYS_BATCH, "dune_batch", STDIO, R_NONE, 0 },
	{ DUNE_SYS_TRAP, "dune_trap", STDIO, R_NONE, 0 },
};

#define NROWS (sizeof table / sizeof table[0])

static const struct row *lookup(long nr)
{
	size_t lo = 0, hi = NROWS;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (table[mid].nr == nr)
			return &table[mid];
		if (table[mid].nr < nr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const unsigned long fcntl_ok[] = {
	F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK,
	F_SETLKW, F_DUPFD_CLOEXEC, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
	F_ADD_SEALS, F_GET_SEALS, F_GETPIPE_SZ, F_SETPIPE_SZ,
};

static const unsigned long ioctl_stdio[] = {
	TCGETS, TIOCGWINSZ, TIOCGPGRP, TIOCGSID, FIONREAD, FIONBIO,
	FIOCLEX, FIONCLEX,
};

static const unsigned long ioctl_tty[] = {
	TCSETS, TCSETSW, TCSETSF, TIOCSWINSZ, TIOCSPGRP, TCFLSH, TCXONC,
	TCSBRK,
};

/* asm/prctl.h, which musl does not ship. */
static const unsigned long arch_prctl_ok[] = { 0x1001, 0x1002, 0x1003, 0x1004 };

/* What a process may ask of prctl about itself without changing what it
 * may do (sys/misc.c serves just these). */
static const unsigned long prctl_ok[] = {
	PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE,
	PR_SET_NAME, PR_GET_NAME, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS,
};

static int in(unsigned long v, const unsigned long *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == v)
			return 1;
	return 0;
}

#define IN(v, set) in(v, set, sizeof set / sizeof set[0])

static uint32_t open_needs(uint64_t flags)
{
	uint32_t all;

	/* O_PATH only looks a file up: Linux ignores the access mode and
	 * every flag that would read, write or create. */
	if (flags & O_PATH)
		return RPATH;
	switch (flags & 3) {
	case O_RDONLY:
		all = RPATH;
		break;
	case O_WRONLY:
		all = WPATH;
		break;
	default:	/* O_RDWR, and 3, which Linux checks as both */
		all = RPATH | WPATH;
		break;
	}
	if (flags & O_TRUNC)
		all |= WPATH;
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		all |= CPATH;
	return all;
}

/*
 * What the call nr(args) needs: every promise in *all, and one of *any
 * unless *any is 0.  Both 0: no policy allows it.
 */
static void needs(long nr, const uint64_t *args, uint32_t *all, uint32_t *any)
{
	static const uint64_t zero[6];
	const struct row *r = lookup(nr);

	*all = *any = 0;
	if (!r)
		return;
	if (!args)
		args = zero;
	*any = r->any;
	switch (r->rule) {
	case R_NONE:
		break;
	case R_OPEN:
		*all = open_needs(args[1]);
		break;
	case R_OPENAT:
		*all = open_needs(args[2]);
		break;
	case R_OPENAT2:
		*all = RPATH | WPATH | CPATH;
		break;
	case R_CREAT:
		*all = CPATH | WPATH;
		break;
	case R_PROT:
		if (args[2] & PROT_EXEC)
			*all = PROT_X;
		break;
	case R_SOCKET:
		switch (args[1] & 0xf) {
		case SOCK_STREAM: case SOCK_DGRAM: case SOCK_SEQPACKET:
			break;
		default:
			return;
		}
		if (args[0] == AF_INET || args[0] == AF_INET6)
			*any = INET;
		else if (args[0] == AF_UNIX)
			*any = UNIX;
		break;
	case R_SOCKETPAIR:
		if (args[0] != AF_UNIX)
			*any = 0;
		break;
	case R_PRLIMIT:
		if (args[2] != 0)
			*any = PROC;
		break;
	case R_FCNTL:
		if (!IN(args[1], fcntl_ok))
			*any = 0;
		break;
	case R_IOCTL:
		if (IN(args[1], ioctl_stdio))
			*any = STDIO;
		else if (IN(args[1], ioctl_tty))
			*any = TTY;
		break;
	case R_CLONE:
		*any = (args[0] & CLONE_THREAD) ? STDIO : PROC;
		break;
	case R_ARCH_PRCTL:
		if (!IN(args[0], arch_prctl_ok))
			*any = 0;
		break;
	case R_PRCTL:
		if (!IN(args[0], prctl_ok))
			*any = 0;
		break;
	}
}

static int satisfied(uint32_t held, uint32_t all, uint32_t any)
{
	if (!all && !any)
		return 0;
	held |= ALWAYS;
	return (all & ~held) == 0 && (!any || (any & held));
}

int policy_allows(const struct policy *p, long nr, const uint64_t *args)
{
	uint32_t all, any;

	needs(nr, args, &all, &any);
	return satisfied(p->promises, all, any);
}

int policy_allows_tmp(const struct policy *p, long nr, const uint64_t *args)
{
	uint32_t all, any, held = p->promises;

	needs(nr, args, &all, &any);
	if (policy_path_args(nr) && (held & TMPPATH))
		held |= TMP_STANDS_FOR;
	return satisfied(held, all, any);
}

unsigned policy_path_args(long nr)
{
	const struct row *r = lookup(nr);

	return r ? r->paths : 0;
}

/* The most specific promise in mask, or NULL. */
static const char *pick(uint32_t mask)
{
	int i;

	for (i = 0; i < NPROMISE; i++)
		if (mask & PROMISE_BIT(specific[i]))
			return promise_names[specific[i]];
	return NULL;
}

/* The first promise in mask in table order, or NULL. */
static const char *first(uint32_t mask)
{
	int i;

	for (i = 0; i < NPROMISE; i++)
		if (mask & PROMISE_BIT(i))
			return promise_names[i];
	return NULL;
}

const char *policy_promise_for(long nr, const uint64_t *args)
{
	uint32_t all, any;

	needs(nr, args, &all, &any);
	if (all)
		return pick(all);
	return first(any & ~ALWAYS);
}

const char *policy_missing(const struct policy *p, long nr,
			   const uint64_t *args)
{
	uint32_t all, any;

	needs(nr, args, &all, &any);
	if (satisfied(p->promises, all, any))
		return NULL;
	if (all & ~p->promises)
		return pick(all & ~p->promises);
	return first(any & ~ALWAYS);
}

const char *promise_name(enum promise p)
{
	return (unsigned)p < NPROMISE ? promise_names[p] : NULL;
}

int promise_lookup(const char *s, size_t len)
{
	int i;

	for (i = 0; i < NPROMISE; i++)
		if (strlen(promise_names[i]) == len &&
		    memcmp(promise_names[i], s, len) == 0)
			return i;
	return -1;
}

/* ---- the table as Markdown ------------------------------------------ */

/* The promises under which docs list a row. */
static uint32_t shown_under(const struct row *r)
{
	switch (r->rule) {
	case R_OPEN: case R_OPENAT: case R_OPENAT2:
		return RPATH | WPATH | CPATH;
	case R_CREAT:
		return WPATH | CPATH;
	case R_PROT:
		return STDIO | PROT_X;
	case R_SOCKET:
		return INET | UNIX;
	case R_PRLIMIT: case R_CLONE:
		return STDIO | PROC;
	case R_IOCTL:
		return STDIO | TTY;
	default:
		return r->any;
	}
}

struct out {
	char *buf;
	size_t len, n;
};

static void put(struct out *o, const char *s)
{
	size_t k = strlen(s);

	if (o->n < o->len) {
		size_t room = o->len - o->n - 1;

		memcpy(o->buf + o->n, s, k < room ? k : room);
		o->buf[o->n + (k < room ? k : room)] = '\0';
	}
	o->n += k;
}

static void put_row(struct out *o, const char *label, uint32_t bit)
{
	size_t i;
	int any = 0;

	put(o, "| ");
	put(o, label);
	put(o, " |");
	for (i = 0; i < NROWS; i++) {
		if (!(shown_under(&table[i]) & bit))
			continue;
		put(o, " `");
		put(o, table[i].name);
		put(o, table[i].rule != R_NONE ? "`*" : "`");
		any = 1;
	}
	if (!any)
		put(o, " (none)");
	put(o, " |\n");
}

size_t policy_table_markdown(char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	char label[32];
	size_t i;
	int p;

	if (len)
		buf[0] = '\0';
	put(&o, "| Promise | System calls |\n|---|---|\n");
	for (p = 0; p < NPROMISE; p++) {
		snprintf(label, sizeof label, "`%s`", promise_names[p]);
		put_row(&o, label, PROMISE_BIT(p));
	}
	put_row(&o, "(always)", ALWAYS);
	put(&o, "\n| Call | Argument rule |\n|---|---|\n");
	for (i = 0; i < NROWS; i++) {
		if (table[i].rule == R_NONE)
			continue;
		put(&o, "| `");
		put(&o, table[i].name);
		put(&o, "` | ");
		put(&o, rule_text[table[i].rule]);
		put(&o, " |\n");
	}
	return o.n;
}

/* For the unit test: the table is in number order and names match. */
int policy_table_row(size_t i, long *nr, const char **name)
{
	if (i >= NROWS)
		return 0;
	*nr = table[i].nr;
	*name = table[i].name;
	return 1;
}
