/*
 * dunefile: the recipe of an image, and the manifest an image carries.
 *
 * A Dunefile follows Dockerfile conventions: one instruction per line,
 * instructions in any case, '#' comment lines, blank lines, and a
 * trailing '\' continuing a line.  The instructions:
 *
 *	FROM SOURCE              (first, once: a root filesystem to start from)
 *	COPY SRC DEST            COPY ["SRC", "DEST"]
 *	ENTRYPOINT ["/bin/prog", "arg", ...]     (exec form only)
 *	ENV KEY=VALUE ...        ENV KEY VALUE
 *	WORKDIR /path
 *	VOLUME /path ...         VOLUME ["/path", ...]
 *	ALLOW promise ...
 *	LIMIT name=value ...
 *	ON-DENY eperm|kill
 *
 * docs/policy.md is the reference.  The parser reads text only; it does
 * not look at the files COPY names.
 */
#ifndef DUNERUN_DUNEFILE_H
#define DUNERUN_DUNEFILE_H

#include <stddef.h>
#include "policy.h"

/* Error messages, "FILE:LINE: message", with the NUL. */
#define DUNEFILE_ERRLEN 512

/* Bounds on what a Dunefile or a manifest may hold. */
#define DF_MAX_TEXT	(1 << 20)	/* bytes of Dunefile */
#define DF_MAX_LINE	(64 << 10)	/* bytes of one instruction, joined */
#define DF_MAX_STR	4096		/* one path, argument or KEY=VALUE */
#define DF_MAX_ARGS	256		/* ENTRYPOINT strings */
#define DF_MAX_ENV	256		/* distinct ENV keys */
#define DF_MAX_VOLUMES	64
#define DF_MAX_COPIES	1024
#define DF_MAX_LAYERS	128		/* layers a FROM may list */

/* The longest manifest_to_text() result, without its NUL. */
#define MANIFEST_TEXT_MAX \
	((DF_MAX_ARGS + DF_MAX_ENV + DF_MAX_VOLUMES + DF_MAX_LAYERS + 1) * \
	 (3 * DF_MAX_STR + 16))

/* What the runner needs to start the program.  Every array ends in NULL;
 * every string is malloc'd, as are the arrays. */
struct manifest {
	char **argv;		/* argv[0] is an absolute path */
	int argc;		/* at least 1 once parsed */
	char **env;		/* "KEY=VALUE", keys distinct */
	int nenv;
	char *workdir;		/* absolute, or NULL: not set */
	char **volumes;		/* absolute, distinct */
	int nvolumes;
	char **layers;		/* what FROM read, one line each, for inspect */
	int nlayers;
};

struct df_copy {
	char *src;		/* relative to the context, no ".." */
	char *dest;		/* absolute in the image, no ".." */
	int line;		/* where the COPY is, for the builder's errors */
};

struct dunefile {
	char *from;		/* FROM's source, relative to the context, or NULL */
	int from_line;
	struct df_copy *copy;
	int ncopy;
	struct manifest manifest;
	int entrypoint_line;	/* where ENTRYPOINT is, for the builder's errors */
	struct policy policy;
};

/*
 * Parses text[0..len), a Dunefile named file (used in messages only).
 * On success fills df, which dunefile_free() releases, and returns 0.
 * On error (out of memory too) returns -1 with err set to
 * "FILE:LINE: message" and df empty.
 */
int dunefile_parse(const char *text, size_t len, const char *file,
		   struct dunefile *df, char err[DUNEFILE_ERRLEN]);

void dunefile_free(struct dunefile *df);

/*
 * Why path cannot be a path in the image (COPY's destination, WORKDIR,
 * VOLUME, the ENTRYPOINT program), or NULL if it can: it must be
 * absolute, shorter than DF_MAX_STR, with no ".." component.
 */
const char *dunefile_path_error(const char *path);

/*
 * The canonical text of m, stored in images: one field per line,
 *
 *	argv /bin/prog
 *	argv hello%20world
 *	env PATH=/bin
 *	workdir /srv
 *	volume /data
 *	layer oci%20sha256:0123...%201234
 *
 * in that order, each value with '%', space, control characters and bytes
 * from 0x7f up written as %XX (upper-case hex).  Returns a malloc'd
 * NUL-terminated string and its length in *len, or NULL if out of memory.
 */
char *manifest_to_text(const struct manifest *m, size_t *len);

/*
 * Reads text[0..len), untrusted bytes from an image.  Accepts exactly
 * what manifest_to_text() writes for a manifest a Dunefile could give
 * (argv[0] absolute, env keys valid and distinct, the bounds above), so
 * that the two round-trip byte for byte.  Returns 0, or -1 with err set
 * and m empty.  manifest_free() releases m.
 */
int manifest_from_text(const char *text, size_t len, struct manifest *m,
		       char err[DUNEFILE_ERRLEN]);

void manifest_free(struct manifest *m);

/*
 * Building a manifest.  Each copies its strings and checks them, and
 * returns 0, or -1 with err set (a message without FILE:LINE) and m
 * unchanged.  manifest_set_env replaces an earlier value of the key;
 * manifest_add_volume ignores a path already there.
 */
int manifest_add_arg(struct manifest *m, const char *s,
		     char err[DUNEFILE_ERRLEN]);
int manifest_set_env(struct manifest *m, const char *key, size_t keylen,
		     const char *value, char err[DUNEFILE_ERRLEN]);
int manifest_set_workdir(struct manifest *m, const char *path,
			 char err[DUNEFILE_ERRLEN]);
int manifest_add_volume(struct manifest *m, const char *path,
			char err[DUNEFILE_ERRLEN]);
/* A layer's description, free text of one line ("KIND NAME FILES" as the
 * builder writes it), appended. */
int manifest_add_layer(struct manifest *m, const char *text,
		       char err[DUNEFILE_ERRLEN]);

/*
 * Checks what manifest_from_text() promises of m.  Returns 0, or -1 with
 * err set.
 */
int manifest_check(const struct manifest *m, char err[DUNEFILE_ERRLEN]);

#endif
