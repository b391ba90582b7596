/*
 * dunerun: run static Linux programs in a fresh KVM virtual machine.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sys/capability.h>
#include <zstd.h>

#include "cmd.h"
#include "monitor.h"

#define DEFAULT_MEM (1ULL << 30)

extern char **environ;

static void usage(FILE *f)
{
	fputs("usage: dunerun exec [OPTIONS] PROGRAM [ARGS...]\n"
	      "       dunerun build [-f Dunefile] [-o app.dz] [CONTEXT]\n"
	      "       dunerun inspect IMAGE.dz\n"
	      "\n"
	      "exec runs a static x86-64 Linux PROGRAM in its own KVM virtual\n"
	      "machine, under a tiny supervisor kernel, as if it ran natively.\n"
	      "build packages a program, its files and a policy as an image;\n"
	      "inspect shows what an image holds (docs/policy.md, images/FORMAT.md).\n"
	      "\n"
	      "exec options:\n"
	      "  --mem SIZE     guest memory, e.g. 512M or 4G (default 1G; backed lazily)\n"
	      "  --trace        print every syscall, strace style, on stderr\n"
	      "  --no-poll      no polling syscall thread: every syscall is a VM exit\n"
	      "  --stats        print VM exits and where syscalls were served, at the end\n"
	      "  -h, --help     this help\n"
	      "  --version      print the version\n", f);
}

/* Parses "512M", "4G", "1048576". Returns 0 on a malformed size. */
static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (errno || end == s || s[0] == '-')
		return 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case '\0': break;
	default: return 0;
	}
	if ((*end == 'i' || *end == 'I') && shift)
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > (1ULL << 46) >> shift)
		return 0;
	return v << shift;
}

/* Finds PROGRAM as execvp would: names with a slash are used as given. */
static const char *find_program(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/') || !path)
		return name;
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, len, "%.*s%s%s", (int)n, path, n ? "/" : "", name);
		if (access(buf, X_OK) == 0)
			return buf;
		path += n + (path[n] == ':');
	}
	return name;
}

/* Dies of the program's signal, so our parent sees what a native run
 * would have shown (no core file: the program is not this process). */
static void die_of(int sig)
{
	struct rlimit none = { 0, 0 };

	fflush(NULL);
	setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* Each descriptor the program holds is one of ours, so allow as many as
 * the hard limit lets us. */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int usage_error(const char *synopsis)
{
	fprintf(stderr, "usage: dunerun %s (see dunerun --help)\n", synopsis);
	return 2;
}

int cmd_exec(int argc, char **argv)
{
	struct run_options opt = { .mem = DEFAULT_MEM };
	int i;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--trace")) {
			opt.trace = 1;
		} else if (!strcmp(a, "--no-poll")) {
			opt.no_poll = 1;
		} else if (!strcmp(a, "--stats")) {
			opt.stats = 1;
		} else if (!strcmp(a, "--mem") || !strncmp(a, "--mem=", 6)) {
			const char *v = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
			opt.mem = v ? parse_size(v) : 0;
			if (opt.mem < (64ULL << 20)) {
				fprintf(stderr, "dunerun: --mem needs a size of at "
					"least 64M, such as 512M or 2G\n");
				return 2;
			}
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "dunerun: unknown option '%s' (see dunerun --help)\n", a);
			return 2;
		}
	}
	if (i >= argc)
		return usage_error("exec [OPTIONS] PROGRAM [ARGS...]");
	char buf[PATH_MAX];
	const char *path = find_program(argv[i], buf, sizeof buf);
	raise_nofile();
	struct run_result r = monitor_exec(path, argv + i, environ, &opt);
	if (r.signal)
		die_of(r.signal);
	return r.status;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "exec"))
		return cmd_exec(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "build"))
		return cmd_build(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "inspect"))
		return cmd_inspect(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		/* The static libraries, named so a build that lost them shows. */
		printf("dunerun %s (zstd %s, libcap with %d capabilities)\n",
		       DUNERUN_VERSION, ZSTD_versionString(), (int)cap_max_bits());
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "help"))) {
		usage(stdout);
		return 0;
	}
	return usage_error("exec|build|inspect ...");
}
