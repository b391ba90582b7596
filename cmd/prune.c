/*
 * dunerun prune [--cache DIR]: empties the run cache (cache/cache.h) of
 * every entry no run is using, and of what interrupted extractions left.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "cmd.h"

int cmd_prune(int argc, char **argv)
{
	char dir[PATH_MAX], err[CACHE_ERRLEN];
	const char *opt = NULL;

	if (argc == 2 && !strcmp(argv[0], "--cache"))
		opt = argv[1];
	else if (argc == 1 && !strncmp(argv[0], "--cache=", 8))
		opt = argv[0] + 8;
	else if (argc != 0)
		return usage_error("prune [--cache DIR]");
	if (cache_where(opt, dir, sizeof dir, err) < 0 || cache_prune(dir, err) < 0) {
		fprintf(stderr, "dunerun: %s\n", err);
		return 1;
	}
	return 0;
}
