/*
 * rootfs_impl.h: what the files of rootfs/ share among themselves.  Not
 * an interface: everything outside rootfs/ uses rootfs.h.
 */
#ifndef DUNERUN_ROOTFS_IMPL_H
#define DUNERUN_ROOTFS_IMPL_H

#include "rootfs.h"

struct node {
	char *path;             /* clean, as in the image; the table's key */
	enum image_type type;   /* IMG_DIR, IMG_REG or IMG_SYMLINK */
	uint32_t mode;
	uint64_t size;
	const uint8_t *data;    /* in one of the rootfs's mappings */
	char *target;           /* IMG_SYMLINK, already fixed (rootfs_fix_target) */
	uint64_t ino;           /* IMG_REG: hard links share it */
	size_t layer;           /* the layer that last made or passed it */
	int dead;
};

struct rootfs {
	struct node *node;
	size_t nnodes, capnodes;
	uint32_t *table;        /* node index + 1, open addressing */
	size_t tabsize;
	uint64_t next_ino, max_files, files, bytes;
	struct { void *p; size_t len; } *map;
	size_t nmaps, capmaps;
	struct rootfs_layer *layer;
	size_t nlayers;         /* finished layers; layer[nlayers] is being read */
	struct rootfs_stats stats;
	struct image_entry *entry;
	void (*progress)(void *, uint64_t, uint64_t);
	void *arg;
};

/* A member of any source, as tree.c applies it (tar's fields). */
struct rootfs_member {
	const char *name, *link;
	enum tar_type type;
	uint32_t mode;
	uint64_t uid, gid, size;
	const uint8_t *data;
};

int rootfs_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keeps a mapping until rootfs_free. */
int rootfs_keep_map(struct rootfs *fs, void *p, size_t len);

/* A layer is begun, fed members, and ended. */
int rootfs_begin_layer(struct rootfs *fs, const char *kind, const char *name);
int rootfs_member(struct rootfs *fs, const struct rootfs_member *m,
		  char *err, size_t errlen);
void rootfs_end_layer(struct rootfs *fs);

/* A plain (uncompressed) tar as one layer. */
int rootfs_apply_plain(struct rootfs *fs, const uint8_t *p, size_t len,
		       const char *kind, const char *name, char *err, size_t errlen);

/* p[0..len) uncompressed by its magic (gzip, zstd), or itself.  A new
 * mapping is kept in fs; at most max bytes come out. */
int rootfs_unpack(struct rootfs *fs, const uint8_t *p, size_t len, uint64_t max,
		  const uint8_t **out, size_t *outlen, const char *name,
		  char *err, size_t errlen);

/* Where an image format's named files come from: a directory, or an
 * archive in memory. */
struct store {
	int dirfd;                  /* -1 for an archive */
	const uint8_t *tar;
	size_t tarlen;
	const char *source;         /* for messages */
};

/* Maps fd whole, kept until rootfs_free ("" of length 0 if empty);
 * errno EINVAL if it is not a regular file. */
int rootfs_map_fd(struct rootfs *fs, int fd, const uint8_t **p, size_t *len);

/* The regular member path (clean) of the archive p[0..len), through the
 * symlinks and hard links docker save puts between layers: 1 and its
 * data, 0 if there is none, -1 on a bad archive. */
int rootfs_tar_find(const uint8_t *p, size_t len, const char *path,
		    const uint8_t **data, size_t *size, char *err, size_t errlen);

/* The file at path in the store; missing, an error naming it. */
int rootfs_get(struct rootfs *fs, const struct store *st, const char *path,
	       const uint8_t **p, size_t *len, char *err, size_t errlen);

/* The front ends: an OCI layout, a docker-save archive, a directory
 * (which takes fd). */
int rootfs_oci(struct rootfs *fs, const struct store *st, char *err, size_t errlen);
int rootfs_docker(struct rootfs *fs, const struct store *st, char *err, size_t errlen);
int rootfs_directory(struct rootfs *fs, int fd, const char *name, char *err, size_t errlen);

/* Exposed for the unit tests through rootfs.c's callers. */
int rootfs_clean_name(const char *name, char *out, size_t outlen);
int rootfs_fix_target(const char *path, const char *target, char *out, size_t outlen);

#endif
