/*
 * monitor: runs one program in a fresh VM.
 *
 * It loads the program, boots the VM straight into ring 3, and serves the
 * supervisor's exits (exceptions, syscalls) and the exitless syscall
 * mailbox until the program ends.
 */
#ifndef DUNERUN_MONITOR_H
#define DUNERUN_MONITOR_H

#include <signal.h>
#include <stdint.h>

#include "policy.h"

/* Which supervisor backend runs the program (docs/platform.md). */
enum backend {
	BACKEND_AUTO,           /* pvm-native where the host has it, else portable */
	BACKEND_PORTABLE,       /* standard x86: VT-x/SVM, or PVM's emulated ring 0 */
	BACKEND_PVM_NATIVE,     /* PVM's native supervisor mode */
};

struct run_options {
	uint64_t mem;           /* guest RAM in bytes */
	int trace;              /* strace-style trace on stderr */
	int no_poll;            /* no polling host thread: every syscall exits */
	int no_patch;           /* syscall sites are not rewritten (patch/patch.h) */
	int stats;              /* print exit and syscall counts at the end */
	/* The policy the program runs under: its limits (time, cpu, nofile,
	 * fsize, output; memory is mem above) always hold, its promises when
	 * enforce is set.  May be NULL: no limits, every call served. */
	const struct policy *policy;
	int enforce;            /* deny what policy does not allow (else: limits only) */
	int harden;             /* harden_launcher() before the program starts */
	int procfd;             /* sys's procfs (see struct proc), or -1 */
	int audit_fd;           /* JSON lines of denials, or -1 */
	int status_fd;          /* --status-json, or -1 */
	int deterministic;      /* threads switch only where they park: no preemption */
	int fork_in_sandbox;    /* hardened, yet the program may make processes
				   (the run has a PID namespace of its own) */
	enum backend backend;
	int supervisor;         /* the program runs in guest ring 0 (--supervisor) */
};

/* How the program ended. */
struct run_result {
	int status;             /* exit status for dunerun itself */
	int signal;             /* nonzero: the program died of this signal */
	const char *reason;     /* exit signal timeout memory policy panic */
	const char *limit;      /* the limit that ended it, or NULL */
};

struct vmctx;

/* Creates the VM and its memory (before any view is entered: /dev/kvm
 * must be reachable).  On error prints it and returns NULL: status 125. */
struct vmctx *monitor_open(const struct run_options *opt);

/* The signals the launcher passes on to the program: HUP INT QUIT TERM
 * USR1 USR2 ALRM VTALRM PROF WINCH CHLD. */
void monitor_signals(sigset_t *set);

/* After the launcher forked between monitor_open and monitor_run (to be
 * the first process of a PID namespace): the VM was the parent's, so the
 * child makes its own.  0, or -1 with a message on stderr. */
int monitor_forked(struct vmctx *vc);

/*
 * Runs path with argv and envp in vc, then frees vc.  Errors before the
 * program starts are reported on stderr and give status 125 (launcher),
 * 126 (cannot execute) or 127 (not found); a supervisor panic gives 125
 * too.  A time limit ends the process from another thread, with 124.
 */
struct run_result monitor_run(struct vmctx *vc, const char *path, char *const argv[],
			      char *const envp[]);

#endif
