/*
 * test_policy: unit tests for policy/: the promise table, limits, the
 * policy and manifest texts, and the Dunefile parser.
 *
 *	musl-gcc -static -O1 -g -Wall -Wextra -Iinclude -Ipolicy \
 *	    policy/[a-z]*.c tests/unit/test_policy.c -o build/unit/test_policy
 *
 * (policy/[a-z]*.c stands for every C file in policy/.)
 *	test_policy [--docs docs/policy.md]
 *	test_policy --print-table
 *
 * Run from the top of the tree: it checks that docs/policy.md holds the
 * table policy_table_markdown() writes.  --print-table prints that table
 * to paste into the docs.
 *
 * Prints one line per check and ends with "N passed, N failed".
 */
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "check.h"
#include "dunefile.h"
#include "policy.h"

#define TABLE_BEGIN "<!-- begin promise table: test_policy --print-table -->\n"
#define TABLE_END   "<!-- end promise table -->\n"

static struct policy with(const char *promises)
{
	struct policy p;
	char err[POLICY_ERRLEN];

	policy_init(&p);
	if (policy_parse_promises(&p, promises, err) < 0)
		check(0, "promises '%s': %s", promises, err);
	return p;
}

static int streq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* ---- the table ------------------------------------------------------------ */

static void test_table(void)
{
	long nr, prev = -1;
	const char *name;
	size_t i;
	int sorted = 1;

	for (i = 0; policy_table_row(i, &nr, &name); i++) {
		if (nr <= prev) {
			sorted = 0;
			check(0, "table: %s (%ld) is out of order", name, nr);
		}
		prev = nr;
	}
	check(sorted && i > 150, "table: %zu rows in number order", i);

	/* A few names as Linux spells them, as sys_name() does. */
	policy_table_row(0, &nr, &name);
	check(nr == 0 && strcmp(name, "read") == 0, "table: row 0 is read");
}

struct call {
	const char *what;
	long nr;
	uint64_t args[6];
	const char *needs;	/* policy_promise_for */
};

static void test_promise_for(void)
{
	static const struct call calls[] = {
		{ "read", SYS_read, {0}, "stdio" },
		{ "exit_group", SYS_exit_group, {0}, NULL },
		{ "socket AF_INET", SYS_socket, { AF_INET, SOCK_STREAM }, "inet" },
		{ "socket AF_INET6 dgram|cloexec", SYS_socket,
		  { AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC }, "inet" },
		{ "socket AF_UNIX", SYS_socket, { AF_UNIX, SOCK_STREAM }, "unix" },
		{ "socket AF_NETLINK", SYS_socket, { AF_NETLINK, SOCK_RAW }, NULL },
		{ "socket AF_INET raw", SYS_socket, { AF_INET, SOCK_RAW }, NULL },
		{ "socketpair AF_UNIX", SYS_socketpair, { AF_UNIX, SOCK_STREAM }, "stdio" },
		{ "socketpair AF_INET", SYS_socketpair, { AF_INET, SOCK_STREAM }, NULL },
		{ "connect", SYS_connect, {0}, "inet" },
		{ "open O_RDONLY", SYS_open, { 0, O_RDONLY }, "rpath" },
		{ "open O_WRONLY", SYS_open, { 0, O_WRONLY }, "wpath" },
		{ "open O_RDWR", SYS_open, { 0, O_RDWR }, "wpath" },
		{ "open O_RDONLY|O_TRUNC", SYS_open, { 0, O_RDONLY | O_TRUNC }, "wpath" },
		{ "openat O_CREAT", SYS_openat, { AT_FDCWD, 0, O_WRONLY | O_CREAT }, "cpath" },
		{ "openat O_TMPFILE", SYS_openat, { AT_FDCWD, 0, O_RDWR | O_TMPFILE }, "cpath" },
		{ "openat O_RDONLY", SYS_openat, { AT_FDCWD, 0, O_RDONLY | O_CLOEXEC }, "rpath" },
		{ "openat2", SYS_openat2, {0}, "cpath" },
		{ "creat", SYS_creat, {0}, "cpath" },
		{ "mmap PROT_READ", SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE }, "stdio" },
		{ "mmap PROT_EXEC", SYS_mmap, { 0, 4096, PROT_READ | PROT_EXEC }, "prot_exec" },
		{ "mprotect PROT_EXEC", SYS_mprotect, { 0, 4096, PROT_EXEC }, "prot_exec" },
		{ "pkey_mprotect PROT_EXEC", SYS_pkey_mprotect, { 0, 4096, PROT_EXEC }, "prot_exec" },
		{ "ptrace", SYS_ptrace, {0}, NULL },
		{ "mount", SYS_mount, {0}, NULL },
		{ "bpf", SYS_bpf, {0}, NULL },
		{ "kexec_load", SYS_kexec_load, {0}, NULL },
		{ "init_module", SYS_init_module, {0}, NULL },
		{ "perf_event_open", SYS_perf_event_open, {0}, NULL },
		{ "keyctl", SYS_keyctl, {0}, NULL },
		/* Only ever a change to nothing (sys/misc.c): EPERM otherwise. */
		{ "setuid", SYS_setuid, {0}, "stdio" },
		{ "number -1", -1, {0}, NULL },
		{ "number 100000", 100000, {0}, NULL },
		{ "execve", SYS_execve, {0}, "exec" },
		{ "execveat", SYS_execveat, {0}, "exec" },
		{ "fork", SYS_fork, {0}, "proc" },
		{ "clone (process)", SYS_clone, { SIGCHLD }, "proc" },
		{ "clone (thread)", SYS_clone,
		  { CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD }, "stdio" },
		{ "wait4", SYS_wait4, {0}, "proc" },
		{ "kill", SYS_kill, {0}, "proc" },
		{ "prlimit64 get", SYS_prlimit64, { 0, RLIMIT_NOFILE, 0, 0x1000 }, "stdio" },
		{ "prlimit64 set", SYS_prlimit64, { 0, RLIMIT_NOFILE, 0x1000, 0 }, "proc" },
		{ "ioctl TCGETS", SYS_ioctl, { 1, TCGETS }, "stdio" },
		{ "ioctl TIOCGWINSZ", SYS_ioctl, { 1, TIOCGWINSZ }, "stdio" },
		{ "ioctl TCSETS", SYS_ioctl, { 1, TCSETS }, "tty" },
		{ "ioctl TIOCSTI", SYS_ioctl, { 1, TIOCSTI }, NULL },
		{ "fcntl F_SETFL", SYS_fcntl, { 1, F_SETFL }, "stdio" },
		{ "fcntl F_SETOWN", SYS_fcntl, { 1, F_SETOWN }, NULL },
		{ "arch_prctl ARCH_SET_FS", SYS_arch_prctl, { 0x1002 }, "stdio" },
		{ "arch_prctl ARCH_SET_CPUID", SYS_arch_prctl, { 0x1012 }, NULL },
		{ "prctl PR_GET_NAME", SYS_prctl, { PR_GET_NAME }, "stdio" },
		{ "prctl PR_SET_NO_NEW_PRIVS", SYS_prctl, { PR_SET_NO_NEW_PRIVS, 1 }, "stdio" },
		{ "prctl PR_SET_SECCOMP", SYS_prctl, { PR_SET_SECCOMP }, NULL },
		{ "prctl PR_CAP_AMBIENT", SYS_prctl, { PR_CAP_AMBIENT }, NULL },
		{ "openat O_PATH", SYS_openat, { AT_FDCWD, 0, O_PATH | O_CLOEXEC }, "rpath" },
		{ "openat O_PATH|O_WRONLY|O_CREAT", SYS_openat,
		  { AT_FDCWD, 0, O_PATH | O_WRONLY | O_CREAT }, "rpath" },
		{ "mkdir", SYS_mkdir, {0}, "cpath" },
		{ "unlinkat", SYS_unlinkat, {0}, "cpath" },
		{ "rename", SYS_rename, {0}, "cpath" },
		{ "stat", SYS_stat, {0}, "rpath" },
		{ "getdents64", SYS_getdents64, {0}, "rpath" },
		{ "getcwd", SYS_getcwd, {0}, "rpath" },
		{ "truncate", SYS_truncate, {0}, "wpath" },
		{ "ftruncate", SYS_ftruncate, {0}, "wpath" },
		{ "chmod", SYS_chmod, {0}, "fattr" },
		{ "getrandom", SYS_getrandom, {0}, "stdio" },
		{ "futex", SYS_futex, {0}, "stdio" },
	};
	size_t i;

	for (i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		const char *got = policy_promise_for(calls[i].nr, calls[i].args);

		check(streq(got, calls[i].needs), "promise_for %s: %s (want %s)",
		      calls[i].what, got ? got : "NULL",
		      calls[i].needs ? calls[i].needs : "NULL");
	}
}

static void test_allows(void)
{
	struct policy none = with(""), stdio = with("stdio"),
		all = with("stdio rpath wpath cpath tmppath fattr tty inet unix "
			   "proc exec prot_exec supervisor"),
		rw = with("stdio rpath wpath"), c = with("stdio cpath"),
		tmp = with("stdio tmppath"), x = with("stdio prot_exec");
	uint64_t creat_rw[6] = { AT_FDCWD, 0, O_RDWR | O_CREAT };
	uint64_t mmap_x[6] = { 0, 4096, PROT_READ | PROT_EXEC };
	uint64_t inet[6] = { AF_INET, SOCK_STREAM };

	check(policy_allows(&none, SYS_exit, NULL), "exit with no promises");
	check(policy_allows(&none, SYS_exit_group, NULL), "exit_group with no promises");
	check(!policy_allows(&none, SYS_write, NULL), "write needs stdio");
	check(policy_allows(&stdio, SYS_write, NULL), "write with stdio");
	check(!policy_allows(&all, SYS_ptrace, NULL), "ptrace denied with everything");
	check(!policy_allows(&all, -5, NULL), "nr -5 denied");
	check(!policy_allows(&all, 1 << 20, NULL), "nr 2^20 denied");
	check(policy_allows(&all, SYS_openat, creat_rw), "openat O_RDWR|O_CREAT with all");
	check(!policy_allows(&rw, SYS_openat, creat_rw), "openat O_RDWR|O_CREAT without cpath");
	check(streq(policy_missing(&rw, SYS_openat, creat_rw), "cpath"),
	      "missing for O_RDWR|O_CREAT with rpath wpath: cpath");
	check(streq(policy_missing(&c, SYS_openat, creat_rw), "wpath"),
	      "missing for O_RDWR|O_CREAT with cpath: wpath");
	check(policy_missing(&all, SYS_openat, creat_rw) == NULL, "missing: NULL when allowed");
	check(policy_missing(&all, SYS_ptrace, NULL) == NULL, "missing: NULL when never");
	check(!policy_allows(&stdio, SYS_mmap, mmap_x), "mmap PROT_EXEC without prot_exec");
	check(policy_allows(&x, SYS_mmap, mmap_x), "mmap PROT_EXEC with prot_exec");
	check(!policy_allows(&none, SYS_mmap, mmap_x) &&
	      !policy_allows(&(struct policy){ .promises = PROMISE_BIT(PROMISE_PROT_EXEC) },
			     SYS_mmap, mmap_x), "mmap PROT_EXEC needs stdio too");
	check(streq(policy_missing(&stdio, SYS_mmap, mmap_x), "prot_exec"),
	      "missing for mmap PROT_EXEC: prot_exec");
	check(!policy_allows(&stdio, SYS_socket, inet), "socket AF_INET without inet");
	check(streq(policy_missing(&stdio, SYS_socket, inet), "inet"),
	      "missing for socket AF_INET: inet");
	check(policy_allows(&all, SYS_socket, inet), "socket AF_INET with inet");

	/* tmppath stands in for rpath wpath cpath fattr on path calls only. */
	check(!policy_allows(&tmp, SYS_openat, creat_rw), "tmppath: openat outside /tmp");
	check(policy_allows_tmp(&tmp, SYS_openat, creat_rw), "tmppath: openat under /tmp");
	check(policy_allows_tmp(&tmp, SYS_unlink, NULL), "tmppath: unlink under /tmp");
	check(!policy_allows_tmp(&stdio, SYS_unlink, NULL), "no tmppath: unlink under /tmp");
	check(!policy_allows_tmp(&tmp, SYS_execve, NULL), "tmppath: no execve");
	check(!policy_allows_tmp(&tmp, SYS_socket, inet), "tmppath: no socket");
	check(policy_allows(&tmp, SYS_ftruncate, NULL), "tmppath: ftruncate");
	check(policy_path_args(SYS_openat) == 2 && policy_path_args(SYS_open) == 1 &&
	      policy_path_args(SYS_renameat2) == (2 | 8) && policy_path_args(SYS_read) == 0 &&
	      policy_path_args(SYS_symlink) == 2 && policy_path_args(-1) == 0,
	      "path_args");
	check(promise_lookup("prot_exec", 9) == PROMISE_PROT_EXEC &&
	      promise_lookup("prot", 4) < 0 && promise_lookup("stdiox", 6) < 0,
	      "promise_lookup");
	check(promise_name(NPROMISE) == NULL && streq(promise_name(PROMISE_SUPERVISOR),
						      "supervisor"), "promise_name");
}

/* ---- limits and the policy text ---------------------------------------- */

static void limit_ok(const char *s, enum limit l, uint64_t want)
{
	struct policy p;
	char err[POLICY_ERRLEN] = "";
	int r;

	policy_init(&p);
	r = policy_parse_limit(&p, s, err);
	check(r == 0 && p.limit[l] == want, "limit %s = %llu (got %llu %s)", s,
	      (unsigned long long)want, (unsigned long long)p.limit[l], err);
}

static void limit_bad(const char *s, const char *msg)
{
	struct policy p, before;
	char err[POLICY_ERRLEN] = "";
	int r;

	policy_init(&p);
	before = p;
	r = policy_parse_limit(&p, s, err);
	check(r < 0 && strstr(err, msg) && memcmp(&p, &before, sizeof p) == 0,
	      "limit %s refused: %s", s, err);
}

static void test_limits(void)
{
	struct policy p;
	char err[POLICY_ERRLEN];

	limit_ok("memory=256M", LIMIT_MEMORY, 256ULL << 20);
	limit_ok("memory=1", LIMIT_MEMORY, 1);
	limit_ok("memory=4k", LIMIT_MEMORY, 4096);
	limit_ok("memory=2G", LIMIT_MEMORY, 2ULL << 30);
	limit_ok("fsize=64M", LIMIT_FSIZE, 64ULL << 20);
	limit_ok("output=16M", LIMIT_OUTPUT, 16ULL << 20);
	limit_ok("output=1024T", LIMIT_OUTPUT, 1ULL << 50);
	limit_ok("procs=64", LIMIT_PROCS, 64);
	limit_ok("procs=4096", LIMIT_PROCS, 4096);
	limit_ok("time=60s", LIMIT_TIME, 60000);
	limit_ok("time=250ms", LIMIT_TIME, 250);
	limit_ok("time=2m", LIMIT_TIME, 120000);
	limit_ok("cpu=1h", LIMIT_CPU, 3600000);
	limit_ok("cpu=30s", LIMIT_CPU, 30000);
	limit_ok("nofile=64", LIMIT_NOFILE, 64);
	limit_ok("nofile=1048576", LIMIT_NOFILE, 1048576);
	limit_ok("memory=0010", LIMIT_MEMORY, 10);

	limit_bad("memory", "not NAME=VALUE");
	limit_bad("stack=1M", "unknown limit 'stack'");
	limit_bad("=1", "unknown limit ''");
	limit_bad("memory=", "is not bytes");
	limit_bad("memory=M", "is not bytes");
	limit_bad("memory=-1", "is not bytes");
	limit_bad("memory=+1", "is not bytes");
	limit_bad("memory=1.5G", "is not bytes");
	limit_bad("memory=1 G", "is not bytes");
	limit_bad("memory=1MB", "is not bytes");
	limit_bad("memory=1s", "is not bytes");
	limit_bad("memory=0", "at least 1");
	limit_bad("memory=0M", "at least 1");
	limit_bad("memory=1025T", "too large");
	limit_bad("memory=18446744073709551615", "too large");
	limit_bad("memory=18446744073709551616", "is not bytes");
	limit_bad("memory=99999999999999999999999999", "is not bytes");
	limit_bad("memory=17179869184G", "too large");
	limit_bad("time=60", "is not a number with ms");
	limit_bad("time=60S", "is not a number with ms");
	limit_bad("time=60sec", "is not a number with ms");
	limit_bad("time=1M", "is not a number with ms");
	limit_bad("time=9000h", "too large");
	limit_bad("cpu=18446744073709551615h", "too large");
	limit_bad("nofile=64K", "is not a number");
	limit_bad("nofile=1048577", "too large");
	limit_bad("nofile=0", "at least 1");

	policy_init(&p);
	check(policy_parse_limit(&p, "memory=1M", err) == 0 &&
	      policy_parse_limit(&p, "memory=2M", err) < 0 &&
	      strstr(err, "set twice") && p.limit[LIMIT_MEMORY] == 1 << 20,
	      "limit set twice refused: %s", err);
	check(policy_parse_promises(&p, "stdio bogus", err) < 0 &&
	      strcmp(err, "unknown promise 'bogus'") == 0 && p.promises == 0,
	      "unknown promise leaves the policy alone: %s", err);
	check(policy_parse_promises(&p, "STDIO", err) < 0,
	      "promises are lower case");
	check(policy_parse_on_deny(&p, "kill", err) == 0 && p.on_deny == ON_DENY_KILL &&
	      policy_parse_on_deny(&p, "abort", err) < 0, "on-deny");
}

static void policy_text_ok(const char *text)
{
	struct policy p;
	char err[POLICY_ERRLEN] = "", out[POLICY_TEXT_MAX];
	int r = policy_from_text(text, strlen(text), &p, err);

	check(r == 0 && policy_to_text(&p, out) == strlen(text) &&
	      strcmp(out, text) == 0, "policy text round trip: %zu bytes %s", strlen(text), err);
}

static void policy_text_bad(const char *text, size_t len, const char *what)
{
	struct policy p;
	char err[POLICY_ERRLEN] = "";

	check(policy_from_text(text, len, &p, err) < 0, "policy text refused: %s (%s)",
	      what, err);
}

static void test_policy_text(void)
{
	struct policy p, q;
	char err[POLICY_ERRLEN], text[POLICY_TEXT_MAX];
	size_t n;
	int l;

	policy_init(&p);
	n = policy_to_text(&p, text);
	check(strcmp(text, "allow\nlimit\non-deny eperm\n") == 0 && n == strlen(text),
	      "empty policy text");

	/* The largest policy there is. */
	p.promises = PROMISE_BIT(NPROMISE) - 1;
	for (l = 0; l < NLIMIT; l++)
		p.limit[l] = 18446744073709551615ULL;
	p.on_deny = ON_DENY_KILL;
	n = policy_to_text(&p, text);
	check(n < POLICY_TEXT_MAX - 1 && n == strlen(text), "largest policy text fits (%zu)", n);

	policy_init(&p);
	policy_parse_promises(&p, "inet stdio rpath", err);
	policy_parse_limit(&p, "memory=256M", err);
	policy_parse_limit(&p, "time=60s", err);
	policy_parse_limit(&p, "nofile=64", err);
	p.on_deny = ON_DENY_KILL;
	policy_to_text(&p, text);
	check(strcmp(text, "allow stdio rpath inet\nlimit memory=268435456 time=60000ms "
		     "nofile=64\non-deny kill\n") == 0, "policy text of a policy");
	check(policy_from_text(text, strlen(text), &q, err) == 0 &&
	      memcmp(&p, &q, sizeof p) == 0, "policy text reads back to the same policy");

	policy_text_ok("allow\nlimit\non-deny eperm\n");
	policy_text_ok("allow stdio rpath wpath cpath tmppath fattr tty inet unix proc exec "
		       "prot_exec supervisor\nlimit memory=1 time=1ms cpu=1ms nofile=1 "
		       "fsize=1 output=1\non-deny kill\n");
	policy_text_ok("allow supervisor\nlimit output=1125899906842624\non-deny eperm\n");

	policy_text_bad("", 0, "empty");
	policy_text_bad("allow\nlimit\non-deny eperm", 27, "no final newline");
	policy_text_bad("allow\nlimit\non-deny eperm\n\n", 28, "trailing line");
	policy_text_bad("allow rpath stdio\nlimit\non-deny eperm\n", 36, "promise order");
	policy_text_bad("allow stdio stdio\nlimit\non-deny eperm\n", 36, "repeated promise");
	policy_text_bad("allow  stdio\nlimit\non-deny eperm\n", 31, "two spaces");
	policy_text_bad("allow stdio \nlimit\non-deny eperm\n", 31, "trailing space");
	policy_text_bad("allow\nlimit memory=1M\non-deny eperm\n", 34, "size with a unit");
	policy_text_bad("allow\nlimit time=1s\non-deny eperm\n", 32, "time in seconds");
	policy_text_bad("allow\nlimit memory=01\non-deny eperm\n", 34, "leading zero");
	policy_text_bad("allow\nlimit nofile=1 memory=1\non-deny eperm\n", 42, "limit order");
	policy_text_bad("allow\nlimit memory=1 memory=1\non-deny eperm\n", 42, "limit twice");
	policy_text_bad("allow\nlimit memory=0\non-deny eperm\n", 33, "zero");
	policy_text_bad("allow\nlimit\non-deny abort\n", 26, "bad on-deny");
	policy_text_bad("allow\r\nlimit\non-deny eperm\n", 27, "CRLF");
	policy_text_bad("allow\0\nlimit\non-deny eperm\n", 27, "NUL");
	policy_text_bad("limit\nallow\non-deny eperm\n", 26, "line order");
	policy_text_bad("allowstdio\nlimit\non-deny eperm\n", 30, "no space");
	policy_text_bad("allow\nlimit \non-deny eperm\n", 26, "limit trailing space");
	{
		static char big[4096];

		memset(big, 'a', sizeof big);
		policy_text_bad(big, sizeof big, "too long");
	}
}

/* ---- the Dunefile ------------------------------------------------------ */

static int parse(const char *text, struct dunefile *df, char *err)
{
	/* Exactly its length: ASan catches a read past the end. */
	size_t len = strlen(text);
	char *copy = malloc(len ? len : 1);
	int r;

	memcpy(copy, text, len);
	r = dunefile_parse(copy, len, "app/Dunefile", df, err);
	free(copy);
	return r;
}

static void dune_bad_len(const char *text, size_t len, const char *want)
{
	struct dunefile df;
	char err[DUNEFILE_ERRLEN] = "";
	char *copy = malloc(len ? len : 1);
	int r;

	memcpy(copy, text, len);
	r = dunefile_parse(copy, len, "app/Dunefile", &df, err);
	free(copy);

	check(r < 0 && strcmp(err, want) == 0 && df.ncopy == 0 && df.manifest.argc == 0,
	      "Dunefile error \"%s\" (got \"%s\")", want, err);
	dunefile_free(&df);
}

static void dune_bad(const char *text, const char *want)
{
	dune_bad_len(text, strlen(text), want);
}

static const char example[] =
	"# A small web service.\n"
	"\n"
	"COPY build/server /bin/server\n"
	"copy [\"static files\", \"/srv/static\"]\n"
	"COPY conf/ /etc/server/\n"
	"ENTRYPOINT [\"/bin/server\", \"--port\", \"8080\", \"caf\\u00e9 \\\"q\\\"\\n\\t\\\\\", "
	"\"\\ud83d\\ude00\"]\n"
	"ENV LANG=C.UTF-8 GREETING=\"hello world\" EMPTY= SINGLE='a b\\c' ESC=a\\ b\n"
	"ENV PATH /bin:/usr/bin\n"
	"ENV LANG=C\n"
	"WorkDir /srv\n"
	"VOLUME /data /cache\n"
	"VOLUME [\"/data\", \"/logs\"]\n"
	"   # an indented comment\n"
	"ALLOW stdio rpath \\\n"
	"      # a comment inside a continuation\n"
	"\n"
	"      inet\t\\\r\n"
	"  prot_exec\r\n"
	"LIMIT memory=256M time=60s cpu=30s nofile=64 fsize=64M output=16M\n"
	"on-deny kill";

static void test_dunefile_ok(void)
{
	struct dunefile df;
	struct manifest *m = &df.manifest;
	char err[DUNEFILE_ERRLEN] = "";
	int r = parse(example, &df, err);

	check(r == 0, "example Dunefile parses: %s", err);
	if (r < 0)
		return;
	check(df.ncopy == 3 && strcmp(df.copy[0].src, "build/server") == 0 &&
	      strcmp(df.copy[0].dest, "/bin/server") == 0 && df.copy[0].line == 3 &&
	      strcmp(df.copy[1].src, "static files") == 0 &&
	      strcmp(df.copy[1].dest, "/srv/static") == 0 && df.copy[1].line == 4 &&
	      strcmp(df.copy[2].dest, "/etc/server/") == 0, "COPY");
	check(m->argc == 5 && strcmp(m->argv[0], "/bin/server") == 0 &&
	      strcmp(m->argv[3], "caf\xc3\xa9 \"q\"\n\t\\") == 0 &&
	      strcmp(m->argv[4], "\xf0\x9f\x98\x80") == 0 && m->argv[5] == NULL &&
	      df.entrypoint_line == 6,
	      "ENTRYPOINT with escapes");
	check(m->nenv == 6 && strcmp(m->env[0], "LANG=C") == 0 &&
	      strcmp(m->env[1], "GREETING=hello world") == 0 &&
	      strcmp(m->env[2], "EMPTY=") == 0 && strcmp(m->env[3], "SINGLE=a b\\c") == 0 &&
	      strcmp(m->env[4], "ESC=a b") == 0 &&
	      strcmp(m->env[5], "PATH=/bin:/usr/bin") == 0 && m->env[6] == NULL,
	      "ENV (both forms, quotes, replaced key)");
	check(streq(m->workdir, "/srv"), "WORKDIR");
	check(m->nvolumes == 3 && strcmp(m->volumes[0], "/data") == 0 &&
	      strcmp(m->volumes[1], "/cache") == 0 && strcmp(m->volumes[2], "/logs") == 0,
	      "VOLUME (both forms, repeat ignored)");
	check(df.policy.promises == (PROMISE_BIT(PROMISE_STDIO) | PROMISE_BIT(PROMISE_RPATH) |
				     PROMISE_BIT(PROMISE_INET) | PROMISE_BIT(PROMISE_PROT_EXEC)),
	      "ALLOW across continuation lines");
	check(df.policy.limit[LIMIT_MEMORY] == 256 << 20 && df.policy.limit[LIMIT_TIME] == 60000 &&
	      df.policy.limit[LIMIT_CPU] == 30000 && df.policy.limit[LIMIT_NOFILE] == 64 &&
	      df.policy.limit[LIMIT_FSIZE] == 64 << 20 &&
	      df.policy.limit[LIMIT_OUTPUT] == 16 << 20, "LIMIT");
	check(df.policy.on_deny == ON_DENY_KILL, "ON-DENY");

	/* The manifest of a parsed Dunefile round-trips. */
	{
		struct manifest back;
		size_t n;
		char *text = manifest_to_text(m, &n), *again;

		check(text && strcmp(text,
			"argv /bin/server\nargv --port\nargv 8080\n"
			"argv caf%C3%A9%20\"q\"%0A%09\\\nargv %F0%9F%98%80\n"
			"env LANG=C\nenv GREETING=hello%20world\nenv EMPTY=\n"
			"env SINGLE=a%20b\\c\nenv ESC=a%20b\nenv PATH=/bin:/usr/bin\n"
			"workdir /srv\nvolume /data\nvolume /cache\nvolume /logs\n") == 0,
		      "manifest text of the example");
		r = manifest_from_text(text, n, &back, err);
		check(r == 0, "manifest reads back: %s", err);
		again = r == 0 ? manifest_to_text(&back, &n) : NULL;
		check(again && strcmp(again, text) == 0 && back.argc == m->argc &&
		      strcmp(back.argv[3], m->argv[3]) == 0, "manifest round trip");
		free(text);
		free(again);
		if (r == 0)
			manifest_free(&back);
	}
	dunefile_free(&df);

	/* FROM, first, in either form; comments and blank lines before it. */
	r = parse("# base\n\nFROM [\"debian rootfs.tar\"]\nENTRYPOINT [\"/p\"]\n", &df, err);
	check(r == 0 && df.from && !strcmp(df.from, "debian rootfs.tar") && df.from_line == 3,
	      "FROM [\"debian rootfs.tar\"] at line 3: %s", r ? err : "");
	dunefile_free(&df);

	/* The smallest Dunefile. */
	r = parse("ENTRYPOINT [\"/p\"]", &df, err);
	check(r == 0 && df.manifest.argc == 1 && df.policy.promises == 0 &&
	      df.policy.on_deny == ON_DENY_EPERM && df.manifest.workdir == NULL,
	      "smallest Dunefile: %s", r ? err : "");
	dunefile_free(&df);
}

static void test_dunefile_errors(void)
{
	char big[DF_MAX_LINE + 64];

	dune_bad("", "app/Dunefile:1: no ENTRYPOINT");
	dune_bad("# nothing\n\nCOPY a /a\n\n", "app/Dunefile:4: no ENTRYPOINT");
	dune_bad("FROM a\nFROM b\nENTRYPOINT [\"/p\"]\n", "app/Dunefile:2: FROM twice (line 1)");
	dune_bad("COPY a /a\nFROM b\n", "app/Dunefile:2: FROM must be the first instruction");
	dune_bad("FROM\n", "app/Dunefile:1: FROM takes one source: a directory, a tar archive, "
		 "an OCI layout or a docker-save archive");
	dune_bad("FROM a b\n", "app/Dunefile:1: FROM takes one source: a directory, a tar archive, "
		 "an OCI layout or a docker-save archive");
	dune_bad("FROM /srv/rootfs\n", "app/Dunefile:1: FROM source '/srv/rootfs' must be relative "
		 "to the context");
	dune_bad("FROM x/../../y\n", "app/Dunefile:1: FROM source 'x/../../y' must not contain '..'");
	dune_bad("\n\nRUN make\n", "app/Dunefile:3: RUN is not supported: nothing runs at build time");
	dune_bad("CMD [\"x\"]\n", "app/Dunefile:1: CMD is not supported: put the arguments in ENTRYPOINT");
	dune_bad("EXPOSE 80\n", "app/Dunefile:1: unknown instruction 'EXPOSE'");
	dune_bad("ENTRY\x01POINT\n", "app/Dunefile:1: unknown instruction 'ENTRY?POINT'");
	dune_bad("ENTRYPOINT /bin/sh -c x\n", "app/Dunefile:1: ENTRYPOINT must use the exec form: "
		 "ENTRYPOINT [\"/bin/prog\", \"arg\", ...]");
	dune_bad("ENTRYPOINT\n", "app/Dunefile:1: ENTRYPOINT must use the exec form: "
		 "ENTRYPOINT [\"/bin/prog\", \"arg\", ...]");
	dune_bad("ENTRYPOINT []\n", "app/Dunefile:1: ENTRYPOINT needs a program");
	dune_bad("ENTRYPOINT [\"bin/p\"]\n",
		 "app/Dunefile:1: ENTRYPOINT program 'bin/p' must be an absolute path");
	dune_bad("ENTRYPOINT [\"/bin/../p\"]\n",
		 "app/Dunefile:1: ENTRYPOINT program '/bin/../p' must not contain '..'");
	dune_bad("ENTRYPOINT [\"/p\"]\nENTRYPOINT [\"/q\"]\n",
		 "app/Dunefile:2: ENTRYPOINT given twice (first at line 1)");
	dune_bad("ENTRYPOINT [\"/p\"\n", "app/Dunefile:1: ENTRYPOINT: bad JSON array: expected ',' or ']'");
	dune_bad("ENTRYPOINT [\"/p\",]\n", "app/Dunefile:1: ENTRYPOINT: bad JSON array: expected a string");
	dune_bad("ENTRYPOINT [/p]\n", "app/Dunefile:1: ENTRYPOINT: bad JSON array: expected a string");
	dune_bad("ENTRYPOINT ['/p']\n", "app/Dunefile:1: ENTRYPOINT: bad JSON array: expected a string");
	dune_bad("ENTRYPOINT [\"/p\"] x\n", "app/Dunefile:1: ENTRYPOINT: bad JSON array: text after ']'");
	dune_bad("ENTRYPOINT [\"/p]\n", "app/Dunefile:1: ENTRYPOINT: bad JSON array: unterminated string");
	dune_bad("ENTRYPOINT [\"/p\\x\"]\n", "app/Dunefile:1: ENTRYPOINT: bad JSON array: unknown escape");
	dune_bad("ENTRYPOINT [\"/p\\u12\"]\n",
		 "app/Dunefile:1: ENTRYPOINT: bad JSON array: \\u needs four hex digits");
	dune_bad("ENTRYPOINT [\"/p\\u0000\"]\n",
		 "app/Dunefile:1: ENTRYPOINT: bad JSON array: \\u0000 is not allowed");
	dune_bad("ENTRYPOINT [\"/p\\ud800\"]\n",
		 "app/Dunefile:1: ENTRYPOINT: bad JSON array: unpaired surrogate");
	dune_bad("ENTRYPOINT [\"/p\\udc00\"]\n",
		 "app/Dunefile:1: ENTRYPOINT: bad JSON array: unpaired surrogate");
	dune_bad("ENTRYPOINT [\"/p\\ud800\\u0041\"]\n",
		 "app/Dunefile:1: ENTRYPOINT: bad JSON array: unpaired surrogate");
	dune_bad("ENTRYPOINT [\"/p\t\"]\n",
		 "app/Dunefile:1: ENTRYPOINT: bad JSON array: control character in a string");
	dune_bad("COPY\n", "app/Dunefile:1: COPY takes a source and a destination");
	dune_bad("COPY a\n", "app/Dunefile:1: COPY takes a source and a destination");
	dune_bad("COPY a b c\n", "app/Dunefile:1: COPY takes a source and a destination");
	dune_bad("COPY [\"a\"]\n", "app/Dunefile:1: COPY takes a source and a destination");
	dune_bad("COPY --chown=1 a /a\n", "app/Dunefile:1: COPY options such as --chown are not supported");
	dune_bad("COPY a ../a\n", "app/Dunefile:1: COPY destination '../a' must be an absolute path");
	dune_bad("COPY a /b/../../a\n", "app/Dunefile:1: COPY destination '/b/../../a' must not contain '..'");
	dune_bad("COPY a /..\n", "app/Dunefile:1: COPY destination '/..' must not contain '..'");
	dune_bad("COPY ../a /a\n", "app/Dunefile:1: COPY source '../a' must not contain '..'");
	dune_bad("COPY a/.. /a\n", "app/Dunefile:1: COPY source 'a/..' must not contain '..'");
	dune_bad("COPY /etc/passwd /a\n",
		 "app/Dunefile:1: COPY source '/etc/passwd' must be relative to the context");
	dune_bad("COPY [\"\", \"/a\"]\n", "app/Dunefile:1: COPY source '' is empty");
	dune_bad("COPY [\"a\", \"/a\"\n", "app/Dunefile:1: COPY: bad JSON array: expected ',' or ']'");
	dune_bad("ENV\n", "app/Dunefile:1: ENV needs KEY=VALUE or KEY VALUE");
	dune_bad("ENV KEY\n", "app/Dunefile:1: ENV needs KEY=VALUE or KEY VALUE");
	dune_bad("ENV =x\n", "app/Dunefile:1: ENV needs KEY=VALUE or KEY VALUE");
	dune_bad("ENV A=1 B\n", "app/Dunefile:1: ENV: 'B' is not KEY=VALUE");
	dune_bad("ENV A=\"1\n", "app/Dunefile:1: ENV: unterminated quote");
	dune_bad("ENV 1A=1\n", "app/Dunefile:1: ENV: '1A' is not a variable name (letters, digits, '_')");
	dune_bad("ENV A-B=1\n", "app/Dunefile:1: ENV: 'A-B' is not a variable name (letters, digits, '_')");
	dune_bad("WORKDIR\n", "app/Dunefile:1: WORKDIR needs a path");
	dune_bad("WORKDIR srv\n", "app/Dunefile:1: WORKDIR must be an absolute path");
	dune_bad("WORKDIR /srv/..\n", "app/Dunefile:1: WORKDIR must not contain '..'");
	dune_bad("VOLUME\n", "app/Dunefile:1: VOLUME needs a path");
	dune_bad("VOLUME []\n", "app/Dunefile:1: VOLUME needs a path");
	dune_bad("VOLUME /a data\n", "app/Dunefile:1: VOLUME must be an absolute path");
	dune_bad("VOLUME [\"/a\" \"/b\"]\n", "app/Dunefile:1: VOLUME: bad JSON array: expected ',' or ']'");
	dune_bad("ALLOW\n", "app/Dunefile:1: ALLOW needs promises, e.g. ALLOW stdio rpath");
	dune_bad("ALLOW stdio \\\n  network\n", "app/Dunefile:1: unknown promise 'network'");
	dune_bad("LIMIT\n", "app/Dunefile:1: LIMIT needs NAME=VALUE, e.g. LIMIT memory=256M");
	dune_bad("LIMIT memory=1X\n", "app/Dunefile:1: limit memory: '1X' is not bytes, "
		 "or a number with K, M, G or T");
	dune_bad("LIMIT time=10\n", "app/Dunefile:1: limit time: '10' is not a number with ms, s, m or h");
	dune_bad("LIMIT memory=1M\nLIMIT memory=2M\n", "app/Dunefile:2: limit memory is set twice");
	dune_bad("LIMIT stack=1M\n", "app/Dunefile:1: unknown limit 'stack' (known: memory time "
		 "cpu nofile fsize output procs)");
	dune_bad("ON-DENY\n", "app/Dunefile:1: ON-DENY takes one of eperm, kill");
	dune_bad("ON-DENY eperm kill\n", "app/Dunefile:1: ON-DENY takes one of eperm, kill");
	dune_bad("ON-DENY abort\n", "app/Dunefile:1: on-deny 'abort': expected eperm or kill");
	dune_bad("ON-DENY kill\non-deny kill\n", "app/Dunefile:2: ON-DENY given twice (first at line 1)");
	dune_bad("ALLOW stdio \\\n", "app/Dunefile:1: the last line ends in '\\'");
	dune_bad("ALLOW stdio \\\n# c\n\n", "app/Dunefile:1: the last line ends in '\\'");
	{
		static const char nul[] = "ENTRYPOINT [\"/p\"]\n\n\nCOPY a\0 /a\n";

		dune_bad_len(nul, sizeof nul - 1, "app/Dunefile:4: NUL byte");
	}

	memset(big, 'a', sizeof big);
	memcpy(big, "COPY ", 5);
	big[sizeof big - 1] = '\0';
	dune_bad(big, "app/Dunefile:1: instruction too long (at most 65536 bytes)");
	{
		struct dunefile df;
		char err[DUNEFILE_ERRLEN];
		char *huge = calloc(1, DF_MAX_TEXT + 1);

		check(dunefile_parse(huge, DF_MAX_TEXT + 1, NULL, &df, err) < 0 &&
		      strcmp(err, "Dunefile:1: file too large (at most 1048576 bytes)") == 0,
		      "file too large: %s", err);
		free(huge);
	}
	{
		/* 257 ENTRYPOINT strings, 65 volumes. */
		char *s = malloc(8192), *o = s;
		int i;

		o += sprintf(o, "ENTRYPOINT [\"/p\"");
		for (i = 0; i < DF_MAX_ARGS; i++)
			o += sprintf(o, ",\"%d\"", i);
		sprintf(o, "]\n");
		dune_bad(s, "app/Dunefile:1: ENTRYPOINT: more than 256 strings");
		o = s + sprintf(s, "VOLUME");
		for (i = 0; i <= DF_MAX_VOLUMES; i++)
			o += sprintf(o, " /v%d", i);
		dune_bad(s, "app/Dunefile:1: more than 64 VOLUMEs");
		free(s);
	}
	{
		char s[DF_MAX_STR + 64];

		strcpy(s, "WORKDIR /");
		memset(s + 9, 'a', DF_MAX_STR);
		s[9 + DF_MAX_STR] = '\0';
		dune_bad(s, "app/Dunefile:1: WORKDIR is too long");
	}
}

/* ---- the manifest text ------------------------------------------------- */

static void manifest_bad(const char *text, const char *want)
{
	struct manifest m;
	char err[DUNEFILE_ERRLEN] = "";
	size_t len = strlen(text);
	char *copy = malloc(len ? len : 1);
	int r;

	memcpy(copy, text, len);
	r = manifest_from_text(copy, len, &m, err);
	check(r < 0 && strstr(err, want) && m.argv == NULL,
	      "manifest refused: %s (got \"%s\")", want, err);
	free(copy);
}

static void test_manifest(void)
{
	struct manifest m = {0}, back;
	char err[DUNEFILE_ERRLEN] = "", s[256];
	size_t n;
	char *text;
	int i, r;

	/* Every byte value but NUL survives. */
	check(manifest_add_arg(&m, "/p", err) == 0, "add argv[0]");
	for (i = 1; i < 256; i++)
		s[i - 1] = (char)i;
	s[255] = '\0';
	check(manifest_add_arg(&m, s, err) == 0 && manifest_add_arg(&m, "", err) == 0 &&
	      manifest_set_env(&m, "K", 1, s, err) == 0 &&
	      manifest_set_workdir(&m, "/a b", err) == 0 &&
	      manifest_add_volume(&m, "/%", err) == 0, "build a manifest");
	text = manifest_to_text(&m, &n);
	r = manifest_from_text(text, n, &back, err);
	check(r == 0 && back.argc == 3 && strcmp(back.argv[1], s) == 0 &&
	      strcmp(back.argv[2], "") == 0 && strcmp(back.env[0] + 2, s) == 0 &&
	      strcmp(back.workdir, "/a b") == 0 && strcmp(back.volumes[0], "/%") == 0,
	      "manifest with every byte round-trips: %s", err);
	for (i = 0; i < (int)n; i++)
		if (text[i] != '\n' && (text[i] < 0x20 || text[i] >= 0x7f))
			break;
	check(i == (int)n, "manifest text is printable ASCII");
	free(text);
	manifest_free(&back);
	manifest_free(&m);

	manifest_bad("", "no ENTRYPOINT");
	manifest_bad("argv p\n", "must be an absolute path");
	manifest_bad("argv /p", "no newline");
	manifest_bad("argv\n", "malformed line");
	manifest_bad("argv /p%\n", "malformed line");
	manifest_bad("argv /p%2\n", "malformed line");
	manifest_bad("argv /p%00\n", "malformed line");
	manifest_bad("argv /p%0g\n", "malformed line");
	manifest_bad("argv /p%41\n", "not in canonical form");
	manifest_bad("argv /p%0a\n", "malformed line");
	manifest_bad("argv /a b\n", "not in canonical form");
	manifest_bad("argv /p\r\n", "not in canonical form");
	manifest_bad("argv /p\nargv  x\n", "not in canonical form");
	manifest_bad("env A=1\nargv /p\n", "not in canonical form");
	manifest_bad("argv /p\nenv A=1\nenv A=2\n", "not in canonical form");
	manifest_bad("argv /p\nvolume /v\nvolume /v\n", "not in canonical form");
	manifest_bad("argv /p\nworkdir /a\nworkdir /b\n", "not in canonical form");
	manifest_bad("argv /p\nenv A\n", "ENV without '='");
	manifest_bad("argv /p\nenv 1=2\n", "not a variable name");
	manifest_bad("argv /p\nworkdir x\n", "must be an absolute path");
	manifest_bad("argv /p\nvolume /a/../b\n", "must not contain '..'");
	manifest_bad("argv /p\ncmd x\n", "unknown field");
	manifest_bad("argv /p\nlayer a%0Ab\n", "not one line");
	manifest_bad("argv /p\nlayer \n", "empty");
	manifest_bad("argv /p\nlayer oci%20x%201\nvolume /v\n", "not in canonical form");
	{
		struct manifest lm = { 0 }, lb;
		char *lt;
		size_t ln;

		check(manifest_add_arg(&lm, "/p", err) == 0 &&
		      manifest_add_layer(&lm, "oci sha256:00 12", err) == 0 &&
		      manifest_add_layer(&lm, "tar rootfs.tar 3", err) == 0, "a manifest with layers");
		lt = manifest_to_text(&lm, &ln);
		r = manifest_from_text(lt, ln, &lb, err);
		check(r == 0 && lb.nlayers == 2 && !strcmp(lb.layers[1], "tar rootfs.tar 3") &&
		      strstr(lt, "layer oci%20sha256:00%2012\n"), "layers round-trip (%zu bytes)", ln);
		free(lt);
		if (r == 0)
			manifest_free(&lb);
		manifest_free(&lm);
	}
	manifest_bad("argv /p\n\n", "malformed line");
	{
		char *t = malloc(DF_MAX_STR * 4), *o = t;

		o += sprintf(o, "argv /");
		memset(o, 'a', DF_MAX_STR);
		strcpy(o + DF_MAX_STR, "\n");
		manifest_bad(t, "malformed line");
		o = t;
		for (i = 0; i <= DF_MAX_ARGS; i++)
			o += sprintf(o, "argv /%d\n", i);
		manifest_bad(t, "more than 256 ENTRYPOINT strings");
		free(t);
	}
}

/* ---- docs/policy.md ---------------------------------------------------- */

static char *table(void)
{
	size_t n = policy_table_markdown(NULL, 0);
	char *t = malloc(n + 1);

	policy_table_markdown(t, n + 1);
	return t;
}

static void test_docs(const char *path)
{
	FILE *f = fopen(path, "r");
	static char doc[1 << 20];
	size_t n;
	char *b, *e, *t;

	if (!f) {
		check(0, "docs: cannot open %s", path);
		return;
	}
	n = fread(doc, 1, sizeof doc - 1, f);
	doc[n] = '\0';
	fclose(f);
	b = strstr(doc, TABLE_BEGIN);
	e = b ? strstr(b, TABLE_END) : NULL;
	check(b && e, "docs: %s has the table markers", path);
	if (!b || !e)
		return;
	{
		/* The example Dunefile in the docs parses. */
		char *x = strstr(doc, "### Example\n\n```\n"), *end;
		struct dunefile df;
		char err[DUNEFILE_ERRLEN] = "";

		x = x ? x + strlen("### Example\n\n```\n") : NULL;
		end = x ? strstr(x, "```") : NULL;
		check(end && dunefile_parse(x, end - x, path, &df, err) == 0 &&
		      df.ncopy == 2 && df.policy.promises != 0,
		      "docs: the example Dunefile parses %s", err);
		if (end)
			dunefile_free(&df);
	}
	b += strlen(TABLE_BEGIN);
	*e = '\0';
	t = table();
	check(strlen(t) == policy_table_markdown(NULL, 0), "table: length as promised");
	check(strcmp(b, t) == 0, "docs: the table in %s matches policy_table_markdown() "
	      "(refresh it with test_policy --print-table)", path);
	free(t);
}

int main(int argc, char **argv)
{
	const char *docs = "docs/policy.md";

	if (argc == 2 && strcmp(argv[1], "--print-table") == 0) {
		char *t = table();

		printf("%s%s%s", TABLE_BEGIN, t, TABLE_END);
		free(t);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--docs") == 0)
		docs = argv[2];
	test_table();
	test_promise_for();
	test_allows();
	test_limits();
	test_policy_text();
	test_dunefile_ok();
	test_dunefile_errors();
	test_manifest();
	test_docs(docs);
	return check_summary();
}
