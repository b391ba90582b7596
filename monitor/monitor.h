/*
 * monitor: runs one program in a fresh VM.
 *
 * It loads the program, boots the VM straight into ring 3, and serves the
 * supervisor's exits (exceptions, syscalls) and the exitless syscall
 * mailbox until the program ends.
 */
#ifndef DUNERUN_MONITOR_H
#define DUNERUN_MONITOR_H

#include <stdint.h>

struct run_options {
	uint64_t mem;           /* guest RAM in bytes */
	int trace;              /* strace-style trace on stderr */
	int no_poll;            /* no polling host thread: every syscall exits */
	int stats;              /* print exit and syscall counts at the end */
};

/* How the program ended. */
struct run_result {
	int status;             /* exit status for dunerun itself */
	int signal;             /* nonzero: the program died of this signal */
};

/* Runs path with argv and envp.  Errors before the program starts are
 * reported on stderr and give status 125 (launcher), 126 (cannot execute)
 * or 127 (not found); a supervisor panic gives 125 too. */
struct run_result monitor_exec(const char *path, char *const argv[],
			       char *const envp[], const struct run_options *opt);

#endif
