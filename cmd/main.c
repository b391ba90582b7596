/*
 * dunerun: run static Linux programs in a fresh KVM virtual machine.
 */
#include <stdio.h>
#include <string.h>

#include <sys/capability.h>
#include <zstd.h>

#include "cmd.h"

/* The short form: a first argument naming an image file. */
static int names_image(const char *arg)
{
	size_t n = strlen(arg);

	return arg[0] != '-' && n > 3 && !strcmp(arg + n - 3, ".dz");
}

void print_usage(FILE *f)
{
	fputs("usage: dunerun [run] [OPTIONS] IMAGE.dz [ARGS...]\n"
	      "       dunerun exec [OPTIONS] PROGRAM [ARGS...]\n"
	      "       dunerun build [-f Dunefile] [-o app.dz] [CONTEXT]\n"
	      "       dunerun inspect IMAGE.dz\n"
	      "       dunerun prune [--cache DIR]\n"
	      "\n"
	      "run starts an image's program in its own KVM virtual machine, under\n"
	      "a tiny supervisor kernel, seeing only the image's files (read-only),\n"
	      "under the image's policy; ARGS replace the ENTRYPOINT's arguments.\n"
	      "exec does the same for a static x86-64 Linux PROGRAM of the host's,\n"
	      "with the host's files and environment.  build packages a program, its\n"
	      "files and a policy as an image; inspect shows what an image holds\n"
	      "(docs/policy.md, images/FORMAT.md).  run extracts an image of 1 MiB or\n"
	      "more once, into a cache keyed by its digest ($DUNERUN_CACHE, else\n"
	      "$XDG_CACHE_HOME/dunerun or ~/.cache/dunerun; /var/cache/dunerun for root\n"
	      "without HOME), and later runs use it; prune empties it.\n"
	      "\n"
	      "run and exec options:\n"
	      "  --bind HOST:GUEST[:ro|rw]  show a host file or directory at GUEST (default rw)\n"
	      "  --tmpfs PATH[:SIZE]   a fresh writable tmpfs at PATH (default 64M)\n"
	      "  --env KEY=VALUE       set a variable (run starts from the image's ENV only)\n"
	      "  --allow PROMISE,...   add promises to the policy (exec: enforce just these)\n"
	      "  --memory SIZE         guest memory and its limit, e.g. 512M (default 1G)\n"
	      "  --timeout TIME        wall-clock limit, e.g. 30s, 500ms, 2m; status 124\n"
	      "  --limit NAME=VALUE    any LIMIT of a Dunefile: cpu, nofile, fsize, output, procs\n"
	      "  --status-json FILE    write how the run ended, with its figures\n"
	      "  --audit FILE          write each denied syscall as a JSON line\n"
	      "  --trace               print every syscall, strace style, on stderr\n"
	      "  --no-poll             no polling syscall thread: every syscall is a VM exit\n"
	      "  --no-patch            keep every syscall instruction as it is (each traps);\n"
	      "                        DUNERUN_NO_PATCH=1 sets it\n"
	      "  --backend NAME        supervisor: auto (default), portable or pvm-native;\n"
	      "                        DUNERUN_BACKEND sets the default\n"
	      "  --stats               print VM exits and where syscalls were served\n"
	      "  --deterministic       threads switch only where they block, in a fixed order\n"
	      "  --cache DIR           the run cache to use (run and prune)\n"
	      "  --no-cache            read the image whole onto a tmpfs; the cache is not touched\n"
	      "  --supervisor          run the program in guest ring 0, with libdune's\n"
	      "                        privileged calls (docs/dune-api.md); VT-x/SVM hosts;\n"
	      "                        for an image, as `--allow supervisor`\n"
	      "  -h, --help            this help\n"
	      "  --version             print the version\n", f);
}

int usage_error(const char *synopsis)
{
	fprintf(stderr, "usage: dunerun %s (see dunerun --help)\n", synopsis);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "exec"))
		return cmd_exec(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "build"))
		return cmd_build(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "inspect"))
		return cmd_inspect(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "prune"))
		return cmd_prune(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		/* The static libraries, named so a build that lost them shows. */
		printf("dunerun %s (zstd %s, libcap with %d capabilities)\n",
		       DUNERUN_VERSION, ZSTD_versionString(), (int)cap_max_bits());
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "help"))) {
		print_usage(stdout);
		return 0;
	}
	/* The short form, with run's options or without. */
	if (argc >= 2 && (names_image(argv[1]) || !strncmp(argv[1], "--", 2)))
		return cmd_run(argc - 1, argv + 1);
	return usage_error("[run] IMAGE.dz | exec | build | inspect | prune ...");
}
