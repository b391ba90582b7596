/*
 * rootfs.h: a root filesystem as image entries, the whole interface.
 *
 * A Dunefile's FROM names a root filesystem: a directory, a tar archive
 * (plain, gzip or zstd, told apart by their magic bytes), an OCI image
 * layout (oci-layout, index.json, blobs/sha256/...), or a docker-save
 * archive (a tar whose manifest.json names a config and layer tars).
 * rootfs_load reads it into a tree, layer by layer, with OCI whiteouts;
 * rootfs_entries hands the tree to the image writer.
 *
 * What a tree keeps: directories, regular files, symlinks and hard
 * links, with their permission bits.  What it drops, counting each:
 * device nodes, FIFOs and sockets, setuid and setgid bits (and the
 * sticky bit, silently), owners other than root.  What it refuses, with
 * a one-line error naming the source and the member: a name with a ".."
 * component or too long for an image, a member reached through a
 * symlink or a file, a whiteout of the root or through a symlink, a hard
 * link out of the tree or to nothing, more files than the tree's limit,
 * a truncated or corrupt archive or stream, a blob whose sha256 is not
 * its name, a layer that is not its config's diff_id, a source that is
 * neither a directory nor a file (a FIFO is not waited on).
 * A leading "/" or "./" in a member's name is stripped, as GNU tar does.
 * An absolute symlink target is made relative (the image root is the
 * program's root, so it names the same file); one that still climbs out
 * of the root is refused.  Nothing is ever written to the host: the tree
 * lives in memory, its file data in mappings of the source or of
 * decompressed layers.
 *
 * Errors: functions that can fail return -1 with a printable one-line
 * message in err[errlen], else 0.
 */
#ifndef DUNERUN_ROOTFS_H
#define DUNERUN_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* ---- tar archives (ustar, pax and GNU long names) ------------------- */

#define TAR_NAME_MAX 8192       /* bytes in a member's name or link */

enum tar_type { TAR_REG, TAR_HARDLINK, TAR_SYMLINK, TAR_DIR, TAR_CHR,
		TAR_BLK, TAR_FIFO };

struct tar_member {
	const char *name;       /* as stored (pax path, GNU L, prefix/name) */
	const char *link;       /* TAR_SYMLINK, TAR_HARDLINK: as stored */
	enum tar_type type;
	uint32_t mode;          /* the header's mode bits, 07777 at most */
	uint64_t uid, gid;
	uint64_t size;          /* TAR_REG: bytes at data; else 0 */
	const uint8_t *data;
};

/* A reader over an archive in memory.  Fields are private. */
struct tar {
	const uint8_t *p;
	size_t len, pos;
	char name[TAR_NAME_MAX + 1], link[TAR_NAME_MAX + 1];
};

void tar_init(struct tar *t, const uint8_t *p, size_t len);

/*
 * The next member into *m (its strings live in t until the next call).
 * Returns 1, or 0 at the end-of-archive block, or -1 with err set: a
 * bad checksum, a truncated header or member, no end block, a malformed
 * pax record, a member type it does not know.
 */
int tar_next(struct tar *t, struct tar_member *m, char *err, size_t errlen);

/* ---- trees ------------------------------------------------------------ */

struct rootfs;

/* What was dropped while reading, for the build's summary. */
struct rootfs_stats {
	uint64_t devices, fifos, sockets;   /* device nodes, FIFOs, sockets */
	uint64_t setid;                      /* setuid or setgid bits cleared */
	uint64_t owners;                     /* entries not owned by root */
};

/* One layer read into the tree, for inspect. */
struct rootfs_layer {
	char kind[16];          /* "dir", "tar", "oci", "docker" */
	char name[160];         /* a digest "sha256:..." or the source's name */
	uint64_t files;         /* members applied, whiteouts included */
};

/* max_files bounds the tree (an image's entry limit); progress, if not
 * NULL, is called every 256 files with the files and bytes so far. */
struct rootfs *rootfs_new(uint64_t max_files,
			  void (*progress)(void *arg, uint64_t files, uint64_t bytes),
			  void *arg);
void rootfs_free(struct rootfs *fs);

/*
 * Reads source (a path relative to the directory dirfd, or absolute),
 * whatever kind it is, into fs; what is there already stays below it.
 * name is what messages and the layer list call it.
 */
int rootfs_load(struct rootfs *fs, int dirfd, const char *source,
		const char *name, char *err, size_t errlen);

/*
 * Applies one layer, a tar archive p[0..len) (plain, gzip or zstd), over
 * what fs holds, with whiteouts: ".wh.NAME" deletes NAME from the layers
 * below, ".wh..wh..opq" empties its directory of them.  p must stay
 * mapped until rootfs_free when it is not compressed.
 */
int rootfs_apply_tar(struct rootfs *fs, const uint8_t *p, size_t len,
		     const char *kind, const char *name, char *err, size_t errlen);

/*
 * The tree as image entries (image.h), sorted by path: regular files
 * that are one file under several names are stored once, at the
 * smallest name, and the others are IMG_HARDLINK entries to it.  The
 * array and its strings belong to fs; *n is set to their count.
 * Returns NULL if out of memory.
 */
struct image_entry *rootfs_entries(struct rootfs *fs, size_t *n);

const struct rootfs_stats *rootfs_stats(const struct rootfs *fs);
size_t rootfs_nlayers(const struct rootfs *fs);
const struct rootfs_layer *rootfs_layer(const struct rootfs *fs, size_t i);

/* Bytes of regular file data in the tree. */
uint64_t rootfs_bytes(const struct rootfs *fs);

#endif
