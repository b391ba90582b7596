/*
 * policy: what an image's program may do, named the way OpenBSD's
 * pledge(2) names it.
 *
 * A policy is a set of promises ("stdio rpath inet"), each of which opens
 * a fixed list of Linux x86-64 system calls, some of them only for some
 * argument values (open flags, mmap protections, socket domains); a set of
 * resource limits; and what a denied call does to the program.
 * docs/policy.md has the table; promise.c is where it lives.
 *
 * Nothing here does I/O or touches a VM: the runner asks policy_allows()
 * before it serves a call, and says policy_missing() in its denial.
 */
#ifndef DUNERUN_POLICY_H
#define DUNERUN_POLICY_H

#include <stddef.h>
#include <stdint.h>

enum promise {
	PROMISE_STDIO,
	PROMISE_RPATH,
	PROMISE_WPATH,
	PROMISE_CPATH,
	PROMISE_TMPPATH,
	PROMISE_FATTR,
	PROMISE_TTY,
	PROMISE_INET,
	PROMISE_UNIX,
	PROMISE_PROC,
	PROMISE_EXEC,
	PROMISE_PROT_EXEC,
	PROMISE_SUPERVISOR,	/* ring 0 (docs/dune-api.md); opens no calls */
	NPROMISE
};

#define PROMISE_BIT(p) (1u << (p))

enum limit {
	LIMIT_MEMORY,		/* bytes of guest memory */
	LIMIT_TIME,		/* milliseconds of wall-clock time */
	LIMIT_CPU,		/* milliseconds of CPU time */
	LIMIT_NOFILE,		/* open descriptors */
	LIMIT_FSIZE,		/* bytes: largest file the program may write */
	LIMIT_OUTPUT,		/* bytes written to stdout and stderr together */
	LIMIT_PROCS,		/* processes of the run alive at once */
	NLIMIT
};

enum on_deny {
	ON_DENY_EPERM,		/* the call fails with EPERM (the default) */
	ON_DENY_KILL,		/* the program is killed with SIGSYS */
};

struct policy {
	uint32_t promises;	/* PROMISE_BIT()s */
	uint64_t limit[NLIMIT];	/* 0: not set (the runner's default) */
	enum on_deny on_deny;
};

/* Error messages: one line, at most POLICY_ERRLEN bytes with the NUL. */
#define POLICY_ERRLEN 256

/* The longest policy_to_text() result, with its NUL. */
#define POLICY_TEXT_MAX 512

/* Upper bounds a limit may take (after units are applied). */
#define LIMIT_SIZE_MAX   (1ULL << 50)		/* 1 PiB */
#define LIMIT_TIME_MAX   (366ULL * 24 * 3600 * 1000)	/* a year, in ms */
#define LIMIT_NOFILE_MAX (1ULL << 20)
#define LIMIT_PROCS_MAX  4096

/* An empty policy: no promises, no limits, on-deny eperm. */
void policy_init(struct policy *p);

/* A promise's name ("stdio"), or NULL if p is out of range. */
const char *promise_name(enum promise p);

/* The promise named by s[0..len), or -1. */
int promise_lookup(const char *s, size_t len);

/* A limit's name ("memory"), or NULL. */
const char *limit_name(enum limit l);

/*
 * Adds the promises named in s, separated by spaces or tabs, to p.
 * Repeats are harmless.  On error p is unchanged and err says which word
 * is not a promise.  Returns 0 or -1.
 */
int policy_parse_promises(struct policy *p, const char *s,
			  char err[POLICY_ERRLEN]);

/*
 * Sets one limit from "name=value": sizes (memory, fsize, output) are
 * bytes with an optional K, M, G or T suffix (powers of 1024); times
 * (time, cpu) take a unit, ms, s, m or h; nofile is a count.  Values are
 * at least 1 and at most the *_MAX above; a limit may be set only once.
 * On error p is unchanged.  Returns 0 or -1.
 */
int policy_parse_limit(struct policy *p, const char *s,
		       char err[POLICY_ERRLEN]);

/* Sets on_deny from "eperm" or "kill".  Returns 0 or -1. */
int policy_parse_on_deny(struct policy *p, const char *s,
			 char err[POLICY_ERRLEN]);

/*
 * The canonical text of p, stored in images:
 *
 *	allow stdio rpath
 *	limit memory=268435456 time=60000ms nofile=64
 *	on-deny eperm
 *
 * Always these three lines, each ending in '\n'; promises and limits in
 * the order of the enums above, sizes in bytes, times in ms, unset limits
 * left out.  Writes at most POLICY_TEXT_MAX bytes with the NUL and
 * returns the length without it.
 */
size_t policy_to_text(const struct policy *p, char buf[POLICY_TEXT_MAX]);

/*
 * Reads text[0..len), untrusted bytes from an image.  Accepts exactly
 * what policy_to_text() writes for some policy and nothing else, so that
 * policy_to_text(policy_from_text(t)) == t.  Returns 0, or -1 with err set
 * and p unspecified.
 */
int policy_from_text(const char *text, size_t len, struct policy *p,
		     char err[POLICY_ERRLEN]);

/*
 * System calls.  args are the call's six argument registers; NULL reads
 * as all zeros.
 */

/* Whether p allows the call nr(args). */
int policy_allows(const struct policy *p, long nr, const uint64_t *args);

/*
 * The same for a call whose path arguments (policy_path_args()) the
 * runner has found to lie under /tmp: there tmppath stands in for rpath,
 * wpath, cpath and fattr.
 */
int policy_allows_tmp(const struct policy *p, long nr, const uint64_t *args);

/*
 * The arguments of nr that name paths the call resolves, as a bitmask
 * (1 << i for args[i]); 0 for calls that take no path.  The runner checks
 * these for policy_allows_tmp().
 */
unsigned policy_path_args(long nr);

/*
 * The promise that allows the call nr(args), for messages such as
 * "denied: socket (needs ALLOW inet)".  When the call needs several
 * (openat with O_RDWR|O_CREAT needs rpath, wpath and cpath) this is the
 * most specific one; when any of several would do, the first.  NULL if
 * no promise would allow it (ptrace) or none is needed (exit).
 */
const char *policy_promise_for(long nr, const uint64_t *args);

/*
 * The promise p lacks for the call nr(args): the one to name in the
 * denial.  NULL if p allows the call or no promise would.
 */
const char *policy_missing(const struct policy *p, long nr,
			   const uint64_t *args);

/*
 * The promise table as the Markdown docs/policy.md shows it: one row per
 * promise with the system calls it opens, those with argument rules
 * marked '*'.  Writes at most len bytes with the NUL, as snprintf does,
 * and returns the full length.
 */
size_t policy_table_markdown(char *buf, size_t len);

/* Row i of the table (its number and name), for the unit test; 0 past
 * the end. */
int policy_table_row(size_t i, long *nr, const char **name);

#endif
