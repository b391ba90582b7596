/*
 * image.h: the dunerun image format (app.dz), the whole interface.
 *
 * An image is a program's file tree, a manifest and a policy in one
 * zstd-compressed file.  images/FORMAT.md gives the bytes; this header
 * gives what the code promises.  Nothing here knows about VMs: the
 * builder writes with image_write, the runner reads with image_read.
 *
 * Errors: functions that can fail return 0 on success and -1 on failure,
 * with a one-line printable message (no newline, starting lower case) in
 * err[errlen].
 */
#ifndef DUNERUN_IMAGE_H
#define DUNERUN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_VERSION   2       /* the newest; written only when needed */
#define IMAGE_HDR_SIZE  96      /* fixed header before the zstd frame */
#define IMAGE_PATH_MAX  4095    /* bytes in a path or symlink target */
#define IMAGE_NAME_MAX  255     /* bytes in one path component */
#define IMAGE_MODE_MASK 0777u   /* the only mode bits an image holds */

enum image_type { IMG_DIR = 1, IMG_REG = 2, IMG_SYMLINK = 3, IMG_HARDLINK = 4 };

/*
 * One file.  path is relative to the image root and normal (see
 * image_path_ok).  The root directory itself is implicit and never an
 * entry; every other directory on the way to an entry must be an
 * IMG_DIR entry of its own.
 *
 * mode holds permission bits only.  image_write keeps mode & 0777: the
 * setuid, setgid and sticky bits and the file type bits are dropped,
 * since owners are not stored and the program runs as one user, so they
 * would mean nothing.  image_read refuses any other bit.
 *
 * IMG_REG: size bytes at data.  For image_write data may be NULL when
 * size is 0, and may be a mapped file: it is read once, in order.  After
 * image_read it is never NULL.
 * IMG_SYMLINK: target, relative, never leaving the root lexically (see
 * image_target_ok).  image_read also sets size to strlen(target).
 * IMG_HARDLINK: another name for the IMG_REG entry whose path is
 * target.  That entry sorts before this one (a group of hard links is
 * stored as its smallest path, holding the data, and links to it), and
 * the link's mode is its mode.  size is strlen(target) after image_read;
 * image_write derives it.  An image with a hard link is version 2, one
 * without is version 1, as before hard links existed.
 * IMG_DIR: size 0, data and target unused (NULL after image_read).
 */
struct image_entry {
	const char *path;
	uint32_t mode;
	enum image_type type;
	uint64_t size;
	const uint8_t *data;
	const char *target;
};

/*
 * An image in memory.  For image_write the caller fills manifest,
 * policy, entry and nentries (entries in any order); image_write fills
 * digest.
 * image_read fills everything; its strings and file data point into one
 * buffer owned by the image until image_release.
 *
 * manifest and policy are opaque text to this library (no NUL inside;
 * NULL is written as empty).
 */
struct image {
	const char *manifest;
	const char *policy;
	struct image_entry *entry;
	size_t nentries;
	uint8_t digest[32];         /* sha256 of the uncompressed payload */

	/* private to image.c */
	uint8_t *payload_;
};

/*
 * What image_read accepts, so a hostile file cannot make it allocate
 * without bound.  image_read with lim == NULL uses image_default_limits:
 * 4 GiB of payload, 1 Mi entries, 1 MiB of manifest and of policy.
 * image_write refuses what the default limits would.
 */
struct image_limits {
	uint64_t max_payload;       /* uncompressed payload bytes */
	uint64_t max_entries;
	uint64_t max_text;          /* bytes of manifest, and of policy */
};

extern const struct image_limits image_default_limits;

/*
 * Writes img to fd, from fd's current offset, which must be seekable
 * (the header, written last, holds the compressed size).  Entries are
 * written sorted by path; the caller's array is not reordered.  The
 * bytes depend only on the contents of img: no times, owners or host
 * details, so the same input gives the same file (for one zstd version).
 * Refuses what image_read would refuse: bad paths or targets, duplicate
 * paths, missing parent directories, text with NUL, too much of anything.
 * progress, if not NULL, is called after each 128 KiB of payload with
 * the payload bytes compressed so far and the compressed bytes written
 * so far.  Fills img->digest.
 */
int image_write(int fd, struct image *img,
		void (*progress)(void *arg, uint64_t in, uint64_t out),
		void *arg, char *err, size_t errlen);

/*
 * Parses and checks the image file[len] (the whole file, e.g. mapped).
 * On success fills *out, which then holds entries sorted by path, each
 * satisfying everything promised above, and owns its memory; the caller
 * may unmap file.  On failure *out holds nothing to release.
 */
int image_read(const uint8_t *file, size_t len,
	       const struct image_limits *lim, struct image *out,
	       char *err, size_t errlen);

/*
 * Checks the header at file[0..IMAGE_HDR_SIZE) of an image file of len
 * bytes, as image_read does first: magic, version, flags, reserved bytes,
 * the compressed size against len, the payload size against lim (NULL:
 * the defaults), which it stores in *payload_size.  The digest (bytes
 * 32..63) names the payload but is checked only by image_read: a caller
 * that trusts it without reading the payload (the run cache) must say so.
 */
int image_header(const uint8_t *file, uint64_t len, const struct image_limits *lim,
		 uint64_t *payload_size, char *err, size_t errlen);

/* Frees what image_read allocated; leaves *img empty.  NULL-safe. */
void image_release(struct image *img);

/*
 * The path rule, shared with the builder: 1..IMAGE_PATH_MAX bytes, no
 * leading or trailing '/', no empty, "." or ".." component, no component
 * longer than IMAGE_NAME_MAX.  Returns 1 if path is normal, else 0.
 */
int image_path_ok(const char *path);

/*
 * The symlink rule: target is 1..IMAGE_PATH_MAX bytes, not absolute, and
 * read from the directory holding the link (path), its ".." components
 * never climb above the image root.  Returns 1 if so, else 0.
 */
int image_target_ok(const char *path, const char *target);

/* SHA-256 (FIPS 180-4), one-shot and incremental. */
struct sha256 {
	uint32_t h[8];
	uint64_t len;               /* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
	int shani;                  /* use the SHA extensions (sha256_init decides) */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[32]);
void sha256(const void *data, size_t len, uint8_t out[32]);

#endif
