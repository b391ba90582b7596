/*
 * The subcommands of the dunerun command line, one file each.
 */
#ifndef DUNERUN_CMD_H
#define DUNERUN_CMD_H

struct image;
struct manifest;
struct policy;

/* Each takes the arguments after its name and returns the exit status. */
int cmd_exec(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_prune(int argc, char **argv);

#include <stdio.h>

/* The --help text. */
void print_usage(FILE *f);

/* Reads and checks the image file at path, its manifest and its policy
 * (not parsed when m is NULL).  0, or -1 after printing why. */
int image_open(const char *path, struct image *img, struct manifest *m,
	       struct policy *pol);

/* Parses an image's manifest and policy texts (from the image at path,
 * or its cache entry).  0, or -1 after printing why, m and pol empty. */
int image_texts(const char *path, const char *manifest, const char *policy,
		struct manifest *m, struct policy *pol);

/* Prints "usage: dunerun SYNOPSIS (see dunerun --help)"; returns 2. */
int usage_error(const char *synopsis);

#endif
