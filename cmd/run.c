/*
 * dunerun run [OPTIONS] IMAGE.dz [ARGS...]: runs an image's program in a
 * fresh VM, inside a view of the image's files, under its policy.
 * dunerun exec [OPTIONS] PROGRAM [ARGS...]: the same for a program of the
 * host's, with the host's files and no policy unless --allow names one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "cmd.h"
#include "dunefile.h"
#include "image.h"
#include "monitor.h"
#include "sandbox.h"

#define DEFAULT_MEM   (1ULL << 30)
#define MIN_MEM       (32ULL << 20)     /* what mm_create needs */
#define DEFAULT_TMPFS (64ULL << 20)
#define MAX_BINDS     64
#define MAX_TMPFS     16
#define MAX_ENV       1024
/* Smaller images run from a tmpfs, uncached: reading one whole costs a
 * few ms at most more than a cached run (docs/design.md, "The run
 * cache"), and the cache stays free of the many a test suite builds. */
#define CACHE_MIN_PAYLOAD (1ULL << 20)

extern char **environ;

/* What the command line asked for, beside the program. */
struct cli {
	struct run_options opt;
	struct policy extra;            /* --allow, --memory, --timeout */
	int have_allow;
	struct bind bind[MAX_BINDS];
	int nbind;
	struct tmpfs_mount tmpfs[MAX_TMPFS];
	int ntmpfs;
	const char *env[MAX_ENV];       /* --env K=V */
	int nenv;
	const char *status_path, *audit_path;
	const char *cache_dir;          /* --cache DIR, or NULL: cache_where decides */
	int no_cache;
};

__attribute__((format(printf, 1, 2)))
static int bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("dunerun: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

/* A limit from the command line, with the Dunefile's syntax. */
static int parse_limit(struct policy *p, const char *name, const char *value)
{
	char text[256], err[POLICY_ERRLEN];
	struct policy tmp;
	int l = !strcmp(name, "memory") ? LIMIT_MEMORY : LIMIT_TIME;
	size_t n = strspn(value, "0123456789");

	policy_init(&tmp);
	/* A bare number of seconds, as timeout(1) takes it. */
	snprintf(text, sizeof text, "%s=%s%s", name, value,
		 l == LIMIT_TIME && n > 0 && value[n] == 0 ? "s" : "");
	if (policy_parse_limit(&tmp, text, err) < 0)
		return bad("--%s %s: %s", l == LIMIT_TIME ? "timeout" : name, value, err);
	if (l == LIMIT_MEMORY && tmp.limit[l] < MIN_MEM)
		return bad("--memory %s: at least 32M is needed", value);
	p->limit[l] = tmp.limit[l];
	return 0;
}

static int parse_bind(struct cli *c, char *spec)
{
	char *guest = strchr(spec, ':'), *mode;

	if (c->nbind == MAX_BINDS)
		return bad("too many --bind options (at most %d)", MAX_BINDS);
	if (!guest || guest == spec)
		return bad("--bind %s: use HOST:GUEST[:ro|rw]", spec);
	*guest++ = 0;
	mode = strchr(guest, ':');
	if (mode)
		*mode++ = 0;
	if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
		return bad("--bind: '%s' is not ro or rw", mode);
	if (dunefile_path_error(guest))
		return bad("--bind: the guest path %s must be absolute, without ..", guest);
	c->bind[c->nbind++] = (struct bind){ spec, guest, !mode || !strcmp(mode, "rw") };
	return 0;
}

static int parse_tmpfs(struct cli *c, char *spec)
{
	char *size = strchr(spec, ':');
	struct policy tmp;
	char text[128], err[POLICY_ERRLEN];

	if (c->ntmpfs == MAX_TMPFS)
		return bad("too many --tmpfs options (at most %d)", MAX_TMPFS);
	if (size)
		*size++ = 0;
	if (dunefile_path_error(spec) || !strcmp(spec, "/"))
		return bad("--tmpfs %s: the path must be absolute, without .., and not /", spec);
	policy_init(&tmp);
	snprintf(text, sizeof text, "memory=%s", size ? size : "64M");
	if (policy_parse_limit(&tmp, text, err) < 0)
		return bad("--tmpfs: %s", err);
	c->tmpfs[c->ntmpfs++] = (struct tmpfs_mount){ spec, tmp.limit[LIMIT_MEMORY] };
	return 0;
}

/* --backend, or DUNERUN_BACKEND for a default (how CI runs the whole
 * suite under each backend). */
static int parse_backend(struct run_options *opt, const char *what, const char *name)
{
	if (!strcmp(name, "auto"))
		opt->backend = BACKEND_AUTO;
	else if (!strcmp(name, "portable"))
		opt->backend = BACKEND_PORTABLE;
	else if (!strcmp(name, "pvm-native"))
		opt->backend = BACKEND_PVM_NATIVE;
	else
		return bad("%s%s: use auto, portable or pvm-native", what, name);
	return 0;
}

/* The value of option name at argv[*i]: "--name=V" or "--name V". */
static char *value_of(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* Parses the options shared by run and exec.  Returns the index of the
 * first operand, or -1 (reported; status 2). */
static int parse_options(struct cli *c, int argc, char **argv, void (*help)(void))
{
	char err[POLICY_ERRLEN];
	const char *env = getenv("DUNERUN_BACKEND");
	char *v;
	int i;

	if (env && *env && parse_backend(&c->opt, "DUNERUN_BACKEND=", env) < 0)
		return -1;
	/* For running a whole suite the old way: DUNERUN_NO_PATCH=1. */
	env = getenv("DUNERUN_NO_PATCH");
	if (env && *env && strcmp(env, "0"))
		c->opt.no_patch = 1;
	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return i + 1;
		if (!strcmp(a, "--trace")) {
			c->opt.trace = 1;
		} else if (!strcmp(a, "--no-poll")) {
			c->opt.no_poll = 1;
		} else if (!strcmp(a, "--no-patch")) {
			c->opt.no_patch = 1;
		} else if (!strcmp(a, "--stats")) {
			c->opt.stats = 1;
		} else if (!strcmp(a, "--deterministic")) {
			c->opt.deterministic = 1;
		} else if (!strcmp(a, "--supervisor")) {
			c->opt.supervisor = 1;
		} else if (!strcmp(a, "--no-cache")) {
			c->no_cache = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			help();
			exit(0);
		} else if ((v = value_of(argc, argv, &i, "--memory")) ||
			   (v = value_of(argc, argv, &i, "--mem"))) {
			if (parse_limit(&c->extra, "memory", v) < 0)
				return -1;
		} else if ((v = value_of(argc, argv, &i, "--timeout"))) {
			if (parse_limit(&c->extra, "time", v) < 0)
				return -1;
		} else if ((v = value_of(argc, argv, &i, "--limit"))) {
			if (policy_parse_limit(&c->extra, v, err) < 0)
				return bad("--limit %s: %s", v, err);
			if (c->extra.limit[LIMIT_MEMORY] && c->extra.limit[LIMIT_MEMORY] < MIN_MEM)
				return bad("--limit %s: at least 32M is needed", v);
		} else if ((v = value_of(argc, argv, &i, "--allow"))) {
			for (char *q = v; (q = strchr(q, ',')); )
				*q = ' ';
			if (policy_parse_promises(&c->extra, v, err) < 0)
				return bad("--allow: %s", err);
			c->have_allow = 1;
		} else if ((v = value_of(argc, argv, &i, "--bind"))) {
			if (parse_bind(c, v) < 0)
				return -1;
		} else if ((v = value_of(argc, argv, &i, "--tmpfs"))) {
			if (parse_tmpfs(c, v) < 0)
				return -1;
		} else if ((v = value_of(argc, argv, &i, "--env"))) {
			if (!strchr(v, '=') || v[0] == '=')
				return bad("--env %s: use KEY=VALUE", v);
			if (c->nenv == MAX_ENV)
				return bad("too many --env options (at most %d)", MAX_ENV);
			c->env[c->nenv++] = v;
		} else if ((v = value_of(argc, argv, &i, "--backend"))) {
			if (parse_backend(&c->opt, "--backend ", v) < 0)
				return -1;
		} else if ((v = value_of(argc, argv, &i, "--status-json"))) {
			c->status_path = v;
		} else if ((v = value_of(argc, argv, &i, "--audit"))) {
			c->audit_path = v;
		} else if ((v = value_of(argc, argv, &i, "--cache"))) {
			c->cache_dir = v;
		} else {
			return bad("unknown option '%s', or it lacks its value (see dunerun --help)", a);
		}
	}
	return i;
}

/* Opens the files the launcher writes, before any view hides them. */
static int open_outputs(struct cli *c)
{
	c->opt.status_fd = c->opt.audit_fd = -1;
	if (c->status_path &&
	    (c->opt.status_fd = open(c->status_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return bad("--status-json %s: cannot create it", c->status_path);
	if (c->audit_path &&
	    (c->opt.audit_fd = open(c->audit_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return bad("--audit %s: cannot create it", c->audit_path);
	return 0;
}

/* Sets KEY=VALUE in env[0..*n), replacing an earlier KEY. */
static void env_set(const char **env, int *n, const char *kv)
{
	size_t klen = strcspn(kv, "=") + 1;

	for (int i = 0; i < *n; i++)
		if (!strncmp(env[i], kv, klen)) {
			env[i] = kv;
			return;
		}
	env[(*n)++] = kv;
}

/* The program's environment: base (NULL-terminated: the launcher's, or
 * the image's ENV), then each --env, a later KEY replacing an earlier. */
static char *const *environment(const struct cli *c, char *const *base)
{
	static const char *env[MAX_ENV * 2 + 1];
	int n = 0;

	for (; base && *base && n < MAX_ENV; base++)
		env_set(env, &n, *base);
	for (int k = 0; k < c->nenv; k++)
		env_set(env, &n, c->env[k]);
	env[n] = NULL;
	return (char *const *)env;
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

/* The parent of a run in a PID namespace of its own: passes on the
 * signals sent to dunerun (a terminal's, SI_KERNEL, reach the whole
 * process group, the child too, so they are not passed twice), and ends
 * as the run does. */
static void relay(pid_t child)
{
	siginfo_t si;
	sigset_t set;
	int st;

	monitor_signals(&set);
	for (;;) {
		if (waitpid(child, &st, WNOHANG) == child) {
			if (WIFSIGNALED(st))
				die_of(WTERMSIG(st));
			exit(WEXITSTATUS(st));
		}
		if (sigwaitinfo(&set, &si) > 0 && si.si_signo != SIGCHLD && si.si_code != SI_KERNEL)
			kill(child, si.si_signo);
	}
}

/*
 * A hardened run whose policy lets it make processes gets a PID
 * namespace of its own: then its kill and wait reach its own processes
 * only, even from a subverted launcher, and they all die with the
 * first, which runs the program.  That one is this process's child
 * (PID namespaces take effect for children); this one relays.  Returns
 * in the child, 0 or -1.
 */
static int pid_namespace(struct vmctx *vc)
{
	sigset_t set, old;
	pid_t child;

	if (unshare(CLONE_NEWPID) < 0) {
		fprintf(stderr, "dunerun: cannot make a PID namespace: %s\n", strerror(errno));
		return -1;
	}
	monitor_signals(&set);
	sigprocmask(SIG_BLOCK, &set, &old);     /* none is lost before relay() */
	fflush(NULL);
	if ((child = fork()) < 0) {
		fprintf(stderr, "dunerun: fork: %s\n", strerror(errno));
		return -1;
	}
	if (child > 0)
		relay(child);
	sigprocmask(SIG_SETMASK, &old, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);       /* dunerun killed: so is the run */
	return monitor_forked(vc);
}

/* Starts the VM, enters the view, and runs argv[0] there. */
static int launch(struct cli *c, const struct view *v, const struct policy *pol,
		  char *const argv[], char *const envp[])
{
	char err[SANDBOX_ERRLEN];
	struct vmctx *vc;
	struct run_result r;

	c->opt.policy = pol;
	c->opt.mem = pol->limit[LIMIT_MEMORY] ? pol->limit[LIMIT_MEMORY] : DEFAULT_MEM;
	raise_nofile();
	if (!(vc = monitor_open(&c->opt)))
		return 125;
	if (view_enter(v, &c->opt.procfd, err) < 0) {
		fprintf(stderr, "dunerun: %s\n", err);
		return 125;
	}
	if (c->opt.fork_in_sandbox && pid_namespace(vc) < 0)
		return 125;
	if (v->workdir && chdir(v->workdir) < 0) {
		fprintf(stderr, "dunerun: WORKDIR %s: %s\n", v->workdir, strerror(errno));
		return 125;
	}
	r = monitor_run(vc, argv[0], argv, envp);
	if (r.signal)
		die_of(r.signal);
	return r.status;
}

static void exec_help(void)
{
	print_usage(stdout);
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

int cmd_exec(int argc, char **argv)
{
	static struct cli c;
	char buf[PATH_MAX];
	int i;

	policy_init(&c.extra);
	if ((i = parse_options(&c, argc, argv, exec_help)) < 0)
		return 2;
	if (i >= argc)
		return usage_error("exec [OPTIONS] PROGRAM [ARGS...]");
	if (open_outputs(&c) < 0)
		return 125;
	/* Without --allow every call is served, as the host would. */
	c.opt.enforce = c.have_allow;
	struct view v = { NULL, c.bind, c.nbind, c.tmpfs, c.ntmpfs, NULL, NULL, -1 };
	argv[i] = (char *)find_program(argv[i], buf, sizeof buf);
	return launch(&c, &v, &c.extra, argv + i, environment(&c, environ));
}

/* The image's policy, with the command line's promises and limits. */
static void merge_policy(struct policy *pol, const struct policy *extra)
{
	pol->promises |= extra->promises;
	for (int l = 0; l < NLIMIT; l++)
		if (extra->limit[l])
			pol->limit[l] = extra->limit[l];
}

/* tmppath promises a writable /tmp: one is mounted unless asked for. */
static void add_default_tmp(struct cli *c, const struct policy *pol)
{
	int i;

	if (!(pol->promises & PROMISE_BIT(PROMISE_TMPPATH)) || c->ntmpfs == MAX_TMPFS)
		return;
	for (i = 0; i < c->ntmpfs; i++)
		if (!strcmp(c->tmpfs[i].guest, "/tmp"))
			return;
	for (i = 0; i < c->nbind; i++)
		if (!strcmp(c->bind[i].guest, "/tmp"))
			return;
	c->tmpfs[c->ntmpfs++] = (struct tmpfs_mount){ "/tmp", DEFAULT_TMPFS };
}

/* The image a run starts: its manifest and policy, and its files either
 * as a tree in the run cache (ce.tree >= 0) or read whole (loaded). */
struct run_image {
	struct image img;
	int loaded;
	struct manifest m;
	struct policy pol;
	struct cache_entry ce;
};

/* The image file's header, checked: 0, or -1 (the whole read says why). */
static int read_header(const char *path, uint8_t hdr[IMAGE_HDR_SIZE], uint64_t *payload)
{
	char err[128];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = -1;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    pread(fd, hdr, IMAGE_HDR_SIZE, 0) == IMAGE_HDR_SIZE)
		r = image_header(hdr, st.st_size, NULL, payload, err, sizeof err);
	close(fd);
	return r;
}

static int read_whole(const char *path, struct run_image *ri, int texts)
{
	if (image_open(path, &ri->img, texts ? &ri->m : NULL, &ri->pol) < 0)
		return -1;
	ri->loaded = 1;
	return 0;
}

/* The mount points every run of the image makes: the cache entry has
 * them, since a run never changes an entry. */
static int entry_dirs(const struct run_image *ri, const char *dirs[3])
{
	int n = 0;

	dirs[n++] = "/dev";
	if (ri->m.workdir)
		dirs[n++] = ri->m.workdir;
	if (ri->pol.promises & PROMISE_BIT(PROMISE_TMPPATH))
		dirs[n++] = "/tmp";
	return n;
}

static void cache_note(const char *err)
{
	fprintf(stderr, "dunerun: note: %s; running the image from memory\n", err);
}

/* Opens the image at path for a run: from the run cache when the image is
 * big enough and the cache usable, making the entry on a first run;
 * otherwise (or when caching fails, with a note) read whole.  0, or -1
 * after printing why. */
static int open_run_image(const struct cli *c, const char *path, struct run_image *ri)
{
	char dir[PATH_MAX], err[CACHE_ERRLEN];
	uint8_t hdr[IMAGE_HDR_SIZE];
	const char *dirs[3];
	uint64_t size;
	int r;

	ri->ce.tree = -1;
	if (c->no_cache || read_header(path, hdr, &size) < 0 || size < CACHE_MIN_PAYLOAD)
		return read_whole(path, ri, 1);
	if (cache_where(c->cache_dir, dir, sizeof dir, err) < 0 ||
	    (r = cache_open(dir, hdr, &ri->ce, err)) < 0) {
		cache_note(err);
		return read_whole(path, ri, 1);
	}
	if (r == CACHE_HIT) {
		if (image_texts(path, ri->ce.manifest, ri->ce.policy, &ri->m, &ri->pol) == 0)
			return 0;
		cache_close(&ri->ce);
		return -1;
	}
	if (read_whole(path, ri, 1) < 0) {
		cache_close(&ri->ce);
		return -1;
	}
	/* The file may have changed since its header was read. */
	if (memcmp(ri->img.digest, hdr + 32, 32) != 0) {
		cache_close(&ri->ce);
		cache_note("the image changed while it was read");
	} else if (cache_fill(&ri->ce, &ri->img, dirs, entry_dirs(ri, dirs), err) < 0) {
		cache_note(err);
	}
	return 0;
}

/* A run from the cache mounts only on what the entry has: a --bind or
 * --tmpfs elsewhere needs a tree of the run's own, the image read whole
 * onto a tmpfs as without the cache.  0, or -1 after printing why. */
static int fit_entry(const struct cli *c, const char *path, struct run_image *ri)
{
	int i, fits = 1;

	if (ri->ce.tree < 0)
		return 0;
	for (i = 0; i < c->nbind; i++)
		fits &= cache_has(&ri->ce, c->bind[i].guest);
	for (i = 0; i < c->ntmpfs; i++)
		fits &= cache_has(&ri->ce, c->tmpfs[i].guest);
	if (fits)
		return 0;
	cache_close(&ri->ce);
	return ri->loaded ? 0 : read_whole(path, ri, 0);
}

int cmd_run(int argc, char **argv)
{
	static struct cli c;
	static struct run_image ri;
	struct manifest *m = &ri.m;
	struct policy *pol = &ri.pol;
	char **args;
	int i;

	policy_init(&c.extra);
	if ((i = parse_options(&c, argc, argv, exec_help)) < 0)
		return 2;
	if (i >= argc)
		return usage_error("run [OPTIONS] IMAGE.dz [ARGS...]");
	if (open_run_image(&c, argv[i], &ri) < 0)
		return 125;
	if (open_outputs(&c) < 0)
		return 125;
	merge_policy(pol, &c.extra);
	add_default_tmp(&c, pol);
	if (fit_entry(&c, argv[i], &ri) < 0)
		return 125;
	/* ARGS replace the ENTRYPOINT's arguments; argv[0] stays. */
	args = argc - i > 1 ? argv + i : m->argv;
	if (args != m->argv)
		args[0] = m->argv[0];
	c.opt.enforce = 1;
	c.opt.harden = 1;
	c.opt.fork_in_sandbox = !!(pol->promises & PROMISE_BIT(PROMISE_PROC));
	/* Ring 0 changes nothing the launcher checks: every call still
	 * reaches it and meets the policy.  --supervisor is --allow supervisor. */
	if (c.opt.supervisor)
		pol->promises |= PROMISE_BIT(PROMISE_SUPERVISOR);
	c.opt.supervisor = !!(pol->promises & PROMISE_BIT(PROMISE_SUPERVISOR));
	int cached = ri.ce.tree >= 0;
	struct view v = { cached ? NULL : &ri.img, c.bind, c.nbind, c.tmpfs, c.ntmpfs, m->workdir,
			  cached ? ri.ce.path : NULL, ri.ce.tree };
	return launch(&c, &v, pol, args, environment(&c, m->env));
}
