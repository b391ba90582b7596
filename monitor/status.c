/*
 * How a run ended: the reason and limit behind an exit status, the
 * --status-json record, the time and cpu limits, and the launcher's
 * hardening.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "monitor_impl.h"
#include "sandbox.h"

static const char *const signame[32] = {
	NULL, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
	"SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2",
	"SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
	"SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
	"SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
};

void program_ended(const struct proc *p, struct run_result *res)
{
	res->status = p->exit_code;
	res->signal = p->exit_signal;
	res->limit = p->limit_hit;
	if (!p->exit_signal)
		res->reason = "exit";
	else if (p->limit_hit && !strcmp(p->limit_hit, "output"))
		res->reason = "policy";
	else if (p->exit_signal == SIGSYS && p->ndenied && p->policy &&
		 p->policy->on_deny == ON_DENY_KILL)
		res->reason = "policy";
	else
		res->reason = "signal";
}

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(((int64_t)(t.tv_sec - t0->tv_sec) * 1000000000 +
			   (t.tv_nsec - t0->tv_nsec)) / 1000000);
}

static uint64_t cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static const char *quoted(const char *s, char *buf, size_t len)
{
	if (!s)
		return "null";
	snprintf(buf, len, "\"%s\"", s);
	return buf;
}

void status_write(struct vmctx *vc, const struct run_result *res)
{
	const struct proc *p = &vc->proc;
	char line[1024], sig[16], reason[16], limit[16];
	int fd = vc->opt->status_fd, n;
	uint64_t guest = vc->mbox ? __atomic_load_n(&vc->mbox->guest_calls, __ATOMIC_RELAXED) : 0;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof line,
		     "{\"status\":%d,\"signal\":%s,\"reason\":%s,\"limit\":%s,"
		     "\"wall_ms\":%llu,\"cpu_ms\":%llu,\"peak_memory_bytes\":%llu,"
		     "\"syscalls\":{\"guest\":%llu,\"forwarded\":%llu,\"denied\":%llu}}\n",
		     res->status,
		     quoted(res->signal > 0 && res->signal < 32 ? signame[res->signal] : NULL,
			    sig, sizeof sig),
		     quoted(res->reason, reason, sizeof reason),
		     quoted(res->limit, limit, sizeof limit),
		     (unsigned long long)ms_since(&vc->started), (unsigned long long)cpu_ms(),
		     (unsigned long long)(vc->mm ? mm_peak_bytes(vc->mm) : 0),
		     (unsigned long long)guest,
		     (unsigned long long)(p->nforwarded - p->ndenied),
		     (unsigned long long)p->ndenied);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, n, 0) != n)
		fprintf(stderr, "dunerun: cannot write the status file: %s\n", strerror(errno));
}

/* Ends the whole run from the watchdog thread: the program cannot
 * handle SIGTERM yet, so its default action, the end, is taken at once. */
static void stop_run(struct vmctx *vc, int status, int sig, const char *limit, uint64_t ms)
{
	struct run_result res = { status, sig, "timeout", limit };

	fprintf(stderr, "dunerun: %s limit of %llu ms reached: program stopped\n",
		limit, (unsigned long long)ms);
	status_write(vc, &res);
	fflush(NULL);
	_exit(status);
}

static void *watchdog(void *arg)
{
	struct vmctx *vc = arg;
	const struct policy *pol = vc->opt->policy;
	uint64_t time_ms = pol->limit[LIMIT_TIME], left;
	struct timespec ts;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGXCPU);
	for (;;) {
		uint64_t spent = ms_since(&vc->started);
		left = time_ms > spent ? time_ms - spent : 0;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		int sig = sigtimedwait(&set, NULL, time_ms ? &ts : NULL);
		if (sig == SIGXCPU)
			stop_run(vc, 128 + SIGXCPU, SIGXCPU, "cpu", pol->limit[LIMIT_CPU]);
		if (sig < 0 && errno == EAGAIN && time_ms)
			stop_run(vc, 124, 0, "time", time_ms);
	}
	return NULL;
}

int watchdog_start(struct vmctx *vc)
{
	const struct policy *pol = vc->opt->policy;
	pthread_t t;
	sigset_t set;

	if (!pol || (!pol->limit[LIMIT_TIME] && !pol->limit[LIMIT_CPU]))
		return 0;
	if (pol->limit[LIMIT_CPU]) {
		/* The kernel counts the launcher's cpu time, the vCPU's
		 * included, in seconds; SIGXCPU at the soft limit goes to
		 * the watchdog, the only thread that waits for it. */
		struct rlimit rl;
		rl.rlim_cur = (pol->limit[LIMIT_CPU] + 999) / 1000;
		rl.rlim_max = rl.rlim_cur + 2;
		sigemptyset(&set);
		sigaddset(&set, SIGXCPU);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		if (setrlimit(RLIMIT_CPU, &rl) < 0)
			return -1;
	}
	if (pthread_create(&t, NULL, watchdog, vc) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}

int harden(struct vmctx *vc)
{
	const struct policy *pol = vc->opt->policy;
	char err[SANDBOX_ERRLEN];

	/* unix alone keeps no network: path sockets live in the view, and
	 * abstract ones in the new, empty network namespace. */
	if (harden_launcher(pol && (pol->promises & PROMISE_BIT(PROMISE_INET)), err) == 0)
		return 0;
	fprintf(stderr, "dunerun: cannot harden the launcher: %s\n", err);
	return -1;
}
