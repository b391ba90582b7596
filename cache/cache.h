/*
 * cache: an image's tree extracted once, on disk, and shown read-only to
 * every run of it, so that a big image does not cost its decompression
 * and a tmpfs full of files on each start.
 *
 * An entry is named by the image's digest (the payload's sha256 in its
 * header, images/FORMAT.md) and holds the tree and a meta file: the image
 * header, the manifest and the policy (so that a run from the cache reads
 * only the image's header), and an index of every path in the tree with
 * its type, mode, size, inode, mtime and ctime.  Each run checks the tree
 * against the index with one lstat per path; an entry that differs is
 * made again from the image, never used.  docs/security.md says what the
 * check catches and what it cannot.
 *
 * Concurrency: each digest has a lock file.  A run holds it shared for
 * its whole life (so neither prune nor a re-make removes a tree in use);
 * the one run that extracts holds it exclusively and builds the entry in
 * a temporary directory renamed into place when complete, so a crash
 * never leaves a partial entry under the digest's name, and the next
 * extraction removes what it left.
 *
 * Everything under the cache directory is reached relative to its
 * descriptor without following symlinks, and the directory must be the
 * user's own and writable by no one else.
 *
 * Errors: one printable line without a newline in err[CACHE_ERRLEN].
 */
#ifndef DUNERUN_CACHE_H
#define DUNERUN_CACHE_H

#include <limits.h>
#include <stdint.h>

#include "image.h"

#define CACHE_ERRLEN 512

enum { CACHE_HIT = 1, CACHE_MISS = 0 };

struct cache_entry {
	int tree;               /* O_PATH descriptor of the entry's tree, or -1 */
	char path[PATH_MAX];    /* its path, to open again in another mount namespace */
	char *manifest;         /* the image's manifest and policy texts (malloc'd) */
	char *policy;

	/* private to cache.c */
	int dir;                /* the cache directory */
	int lock;               /* the digest's lock file */
	char name[65];          /* the digest in hex: the entry's name */
	uint8_t hdr[IMAGE_HDR_SIZE];
};

/*
 * The cache directory's path into out[len]: opt (--cache) if not NULL,
 * else $DUNERUN_CACHE, $XDG_CACHE_HOME/dunerun, $HOME/.cache/dunerun, or
 * for root without HOME /var/cache/dunerun (relative XDG_CACHE_HOME and
 * HOME are ignored, as XDG says).  Returns 0, or -1 with err set when
 * there is none.
 */
int cache_where(const char *opt, char *out, size_t len, char err[CACHE_ERRLEN]);

/*
 * Finds the entry for the image whose header is hdr (already checked by
 * image_header) in the cache directory dir, creating dir if missing.
 * CACHE_HIT: e's tree, path, manifest and policy are the entry's, checked
 * against its index; the entry stays as it is while e is open (until
 * cache_close or the process's end, forked children included).
 * CACHE_MISS: there is no usable entry and e holds the right to make it:
 * call cache_fill, or cache_close.  A damaged entry is removed first,
 * with a note on stderr.
 * -1: the cache cannot be used (err says why); e holds nothing.
 */
int cache_open(const char *dir, const uint8_t hdr[IMAGE_HDR_SIZE],
	       struct cache_entry *e, char err[CACHE_ERRLEN]);

/*
 * After CACHE_MISS: extracts img (read from the image whose header was
 * given, so its digest matches) into the entry, with the directories
 * dirs[0..ndirs) (absolute paths) created when missing, as every run
 * needs them as mount points; then e is as after CACHE_HIT.  Returns 0,
 * or -1 with err set and nothing left in the cache; e is then closed.
 */
int cache_fill(struct cache_entry *e, const struct image *img,
	       const char *const *dirs, int ndirs, char err[CACHE_ERRLEN]);

/* Whether the absolute path exists in the entry's tree (not following a
 * final symlink): a run can mount on it without changing the entry. */
int cache_has(const struct cache_entry *e, const char *path);

/* Releases e (NULL-safe, idempotent); the entry may be removed after. */
void cache_close(struct cache_entry *e);

/*
 * Removes every entry not in use and every leftover of an interrupted
 * extraction from the cache directory dir, printing what it removed.
 * Returns 0, or -1 with err set.
 */
int cache_prune(const char *dir, char err[CACHE_ERRLEN]);

#endif
