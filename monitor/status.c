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
#include <sys/syscall.h>
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

	if (fd < 0 || vc->is_child)
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

/* How long a program may take to end after the time limit's SIGTERM. */
#define GRACE_MS 2000
/* A thread's turn on the vCPU while others are ready to run; under
 * --deterministic, how long one may run without blocking before it is
 * preempted anyway, so that a spin-wait cannot hang the run. */
#define TIMESLICE_MS 10
#define DETERMINISTIC_SLICE_MS 2000
/* A signal that found the program in the entry page or a stub, after its
 * syscall was answered: kicked again this soon, in its own code then. */
#define REKICK_MS 1

/* The signals the launcher takes for the program.  Not SIGTSTP: Ctrl-Z
 * stops dunerun as a whole, as a shell expects. */
void monitor_signals(sigset_t *set)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
				    SIGALRM, SIGVTALRM, SIGPROF, SIGWINCH, SIGCHLD };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(set, sigs[i]);
}

/* Ends the whole run from the signal thread, unless the vCPU thread is
 * already reporting its end. */
static void stop_run(struct vmctx *vc, int status, int sig, const char *limit)
{
	struct run_result res = { status, sig, limit ? "timeout" : "signal", limit };

	if (__atomic_exchange_n(&vc->finished, 1, __ATOMIC_ACQ_REL))
		return;
	status_write(vc, &res);
	procs_leave(&vc->proc);
	fflush(NULL);
	_exit(status);
}

void watchdog_rekick(struct vmctx *vc)
{
	if (!__atomic_exchange_n(&vc->rekick, 1, __ATOMIC_ACQ_REL))
		watchdog_retick(vc);
}

void watchdog_retick(struct vmctx *vc)
{
	pid_t tid = __atomic_load_n(&vc->watchdog_tid, __ATOMIC_ACQUIRE);

	if (tid)
		syscall(SYS_tgkill, getpid(), tid, SIG_TICK);
}

void kick(struct vmctx *vc)
{
	pid_t pid = getpid(), service = __atomic_load_n(&vc->service_tid, __ATOMIC_ACQUIRE);

	syscall(SYS_tgkill, pid, vc->vcpu_tid, SIG_KICK);
	if (service)
		syscall(SYS_tgkill, pid, service, SIG_KICK);
}

static void post(struct vmctx *vc, int sig)
{
	__atomic_or_fetch(&vc->proc.host_pending, 1ULL << (sig - 1), __ATOMIC_ACQ_REL);
	kick(vc);
}

/* The time limit: SIGTERM first, as timeout(1) sends, and the end of
 * the run GRACE_MS later if the program is still there. */
static uint64_t time_up(struct vmctx *vc, uint64_t limit_ms)
{
	if (vc->timed_out) {
		fprintf(stderr, "dunerun: the program outlived SIGTERM by %d ms: killed\n", GRACE_MS);
		stop_run(vc, 124, 0, "time");
		return 0;
	}
	fprintf(stderr, "dunerun: time limit of %llu ms reached: SIGTERM sent\n",
		(unsigned long long)limit_ms);
	vc->timed_out = 1;
	post(vc, SIGTERM);
	return limit_ms + GRACE_MS;
}

static void *watchdog(void *arg)
{
	struct vmctx *vc = arg;
	const struct policy *pol = vc->opt->policy;
	uint64_t limit = pol ? pol->limit[LIMIT_TIME] : 0, deadline = limit, left;
	struct timespec ts;
	sigset_t set;
	int interrupts = 0;

	monitor_signals(&set);
	sigaddset(&set, SIGXCPU);
	sigaddset(&set, SIG_TICK);
	__atomic_store_n(&vc->watchdog_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (;;) {
		uint64_t spent = ms_since(&vc->started);
		/* With several threads, the vCPU is kicked every time slice:
		 * the kick is the preemption (thread.c).  A signal the last
		 * kick could not deliver gets another one soon. */
		int slicing = __atomic_load_n(&vc->nthreads, __ATOMIC_ACQUIRE) > 1 ||
			      __atomic_load_n(&vc->rekick, __ATOMIC_ACQUIRE);
		uint64_t slice = __atomic_load_n(&vc->rekick, __ATOMIC_ACQUIRE) ? REKICK_MS :
				 vc->opt->deterministic ? DETERMINISTIC_SLICE_MS : TIMESLICE_MS;
		left = deadline > spent ? deadline - spent : 0;
		if (slicing && (!deadline || left > slice))
			left = slice;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		int sig = sigtimedwait(&set, NULL, deadline || slicing ? &ts : NULL);
		if (sig < 0) {
			if (errno == EAGAIN && slicing) {
				if (!__atomic_exchange_n(&vc->rekick, 0, __ATOMIC_ACQ_REL))
					__atomic_store_n(&vc->tick, 1, __ATOMIC_RELEASE);
				syscall(SYS_tgkill, getpid(), vc->vcpu_tid, SIG_KICK);
			}
			if (errno == EAGAIN && deadline && ms_since(&vc->started) >= deadline)
				deadline = time_up(vc, limit);
		} else if (sig == SIG_TICK) {
			;       /* the number of threads changed: look again */
		} else if (sig == SIGXCPU) {
			fprintf(stderr, "dunerun: cpu limit of %llu ms reached: program stopped\n",
				(unsigned long long)pol->limit[LIMIT_CPU]);
			stop_run(vc, 128 + SIGXCPU, SIGXCPU, "cpu");
		} else if (sig == SIGINT && ++interrupts == 2) {
			/* A program that ignores Ctrl-C still stops at the second. */
			fprintf(stderr, "dunerun: second interrupt: stopping the run\n");
			stop_run(vc, 128 + SIGINT, SIGINT, NULL);
		} else {
			post(vc, sig);
		}
	}
	return NULL;
}

static void ignore_kick(int sig)
{
	(void)sig;
}

int watchdog_start(struct vmctx *vc)
{
	const struct policy *pol = vc->opt->policy;
	struct sigaction sa = { .sa_handler = ignore_kick };   /* no SA_RESTART */
	pthread_t t;
	sigset_t set;

	/* Every thread blocks the forwarded signals: they wait for the
	 * signal thread.  The kick interrupts, and does nothing else. */
	monitor_signals(&set);
	sigaddset(&set, SIGXCPU);
	sigaddset(&set, SIG_TICK);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigaction(SIG_KICK, &sa, NULL);
	if (pol && pol->limit[LIMIT_CPU]) {
		/* The kernel counts the launcher's cpu time, the vCPU's
		 * included, in seconds; SIGXCPU at the soft limit goes to
		 * the signal thread. */
		struct rlimit rl;
		rl.rlim_cur = (pol->limit[LIMIT_CPU] + 999) / 1000;
		rl.rlim_max = rl.rlim_cur + 2;
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
	if (harden_launcher(pol && (pol->promises & PROMISE_BIT(PROMISE_INET)),
			    vc->opt->fork_in_sandbox, err) == 0)
		return 0;
	fprintf(stderr, "dunerun: cannot harden the launcher: %s\n", err);
	return -1;
}
