/*
 * test_image: unit tests for images/image.c and images/sha256.c.
 *
 *	musl-gcc -static -O1 -g -Wall -Wextra -Iinclude -Iimages \
 *	    -isystem build/deps/include images/image.c images/sha256.c \
 *	    tests/unit/test_image.c \
 *	    -Lbuild/deps/lib -lzstd -o build/unit/test_image
 *	test_image [DIR]
 *
 * Images are written with image_write and read back; payloads the writer
 * would refuse to produce are built here from FORMAT.md, independently
 * of image.c, and sealed with zstd and a correct header, so the reader's
 * own checks are what refuse them.  Every buffer handed to image_read is
 * malloc'd at exactly its length, so that ASan (in a clang build) reports
 * a read one byte past it.
 *
 * With DIR, also packs every regular file, directory and symlink under
 * DIR into an image and prints the build rate (the number for FORMAT.md).
 *
 * Prints one line per check and ends with "N passed, N failed".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "check.h"
#include "image.h"

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		perror("malloc");
		exit(2);
	}
	return p;
}

/* ---- bytes ----------------------------------------------------------- */

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void b_put(struct bytes *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			perror("realloc");
			exit(2);
		}
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void b_32(struct bytes *b, uint32_t v)
{
	uint8_t x[4] = { v, v >> 8, v >> 16, v >> 24 };

	b_put(b, x, 4);
}

static void b_64(struct bytes *b, uint64_t v)
{
	b_32(b, (uint32_t)v);
	b_32(b, (uint32_t)(v >> 32));
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* A copy of b's bytes in a buffer of exactly that size. */
static uint8_t *exact(const uint8_t *p, size_t len)
{
	uint8_t *d = xmalloc(len);

	memcpy(d, p, len);
	return d;
}

/* ---- images through image_write ---------------------------------------- */

/* Writes img to a memory file and returns its bytes. */
static int write_mem(struct image *img, struct bytes *out, char *err,
		     size_t errlen)
{
	int fd = memfd_create("img", 0);
	off_t len;

	if (fd < 0) {
		perror("memfd_create");
		exit(2);
	}
	memset(out, 0, sizeof *out);
	if (image_write(fd, img, NULL, NULL, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	len = lseek(fd, 0, SEEK_END);
	out->p = xmalloc((size_t)len);
	out->len = out->cap = (size_t)len;
	if (pread(fd, out->p, out->len, 0) != len) {
		perror("pread");
		exit(2);
	}
	close(fd);
	return 0;
}

static const uint8_t bin[] = { 0, 1, 2, 0, 0xff, 'x', 0 };

/* A small tree, deliberately out of order, with modes carrying bits the
 * writer must drop. */
static struct image_entry sample[] = {
	{ "usr/bin/prog", 0104755, IMG_REG, 6, (const uint8_t *)"\x7f" "ELF!!", NULL },
	{ "usr", 040755, IMG_DIR, 0, NULL, NULL },
	{ "etc", 0755, IMG_DIR, 0, NULL, NULL },
	{ "etc/empty", 0600, IMG_REG, 0, NULL, NULL },
	{ "usr/bin", 02755, IMG_DIR, 0, NULL, NULL },
	{ "usr/bin/sh", 0777, IMG_SYMLINK, 0, NULL, "prog" },
	{ "etc/bin.dat", 0644, IMG_REG, sizeof bin, bin, NULL },
	{ "tmp", 01777, IMG_DIR, 0, NULL, NULL },
	{ "usr/lib", 0755, IMG_SYMLINK, 0, NULL, "../etc/./x/.." },
	{ "a.b", 0644, IMG_REG, 3, (const uint8_t *)"a.b", NULL },
	{ "a", 0755, IMG_DIR, 0, NULL, NULL },
	{ "a/b", 0644, IMG_REG, 1, (const uint8_t *)"\n", NULL },
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

static struct image sample_image(struct image_entry *e, size_t n)
{
	struct image img;

	memset(&img, 0, sizeof img);
	img.manifest = "entry = /usr/bin/prog\n";
	img.policy = "stdio rpath\n";
	img.entry = e;
	img.nentries = n;
	return img;
}

static int write_sample(struct bytes *out)
{
	struct image img = sample_image(sample, NSAMPLE);
	char err[200];

	if (write_mem(&img, out, err, sizeof err) < 0) {
		printf("image_write: %s\n", err);
		return -1;
	}
	return 0;
}

static const struct image_entry *find(const struct image_entry *e, size_t n,
				      const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(e[i].path, path) == 0)
			return &e[i];
	return NULL;
}

static int same_entry(const struct image_entry *want, const struct image_entry *got)
{
	if (!got || got->type != want->type ||
	    got->mode != (want->mode & 0777))
		return 0;
	switch (want->type) {
	case IMG_REG:
		return got->size == want->size && got->data &&
		       (want->size == 0 || memcmp(got->data, want->data, want->size) == 0);
	case IMG_SYMLINK:
		return got->target && strcmp(got->target, want->target) == 0 &&
		       got->size == strlen(want->target);
	default:
		return got->size == 0 && !got->data && !got->target;
	}
}

static void test_sha256(void)
{
	static const struct { const char *in; const char *hex; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t d[32];
	char hex[65];
	struct sha256 s;
	size_t i, j;
	char *a = xmalloc(1000000);

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		sha256(v[i].in, strlen(v[i].in), d);
		for (j = 0; j < 32; j++)
			sprintf(hex + 2 * j, "%02x", d[j]);
		check(strcmp(hex, v[i].hex) == 0, "sha256(\"%.10s\") = %.16s...", v[i].in, hex);
	}
	/* A million 'a's, fed in uneven pieces through the buffer. */
	memset(a, 'a', 1000000);
	sha256_init(&s);
	for (i = 0, j = 1; i < 1000000; i += j, j = j * 7 % 191 + 1)
		sha256_update(&s, a + i, j < 1000000 - i ? j : 1000000 - i);
	sha256_final(&s, d);
	for (j = 0; j < 32; j++)
		sprintf(hex + 2 * j, "%02x", d[j]);
	check(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
	      "sha256 of a million 'a's, incrementally");

	/* The SHA-NI path (where the CPU has it) and plain C agree on every
	 * length up to a few blocks and on a large pseudo-random buffer. */
	uint32_t x = 12345;
	for (i = 0; i < 1000000; i++)
		a[i] = (char)((x = x * 1103515245 + 12345) >> 16);
	int agree = 1;
	for (size_t len = 0; len <= 1000000; len = len < 300 ? len + 1 : len * 3) {
		struct sha256 fast, plain;
		uint8_t d1[32], d2[32];
		sha256_init(&fast);
		sha256_init(&plain);
		plain.shani = 0;
		sha256_update(&fast, a, len);
		sha256_update(&plain, a, len);
		sha256_final(&fast, d1);
		sha256_final(&plain, d2);
		agree &= !memcmp(d1, d2, 32);
	}
	sha256_init(&s);
	printf("     (this CPU %s the SHA extensions)\n", s.shani ? "has" : "lacks");
	check(agree, "the SHA-NI and plain C paths agree on 0..300 bytes and larger buffers");
	free(a);
}

static void test_rules(void)
{
	static const struct { const char *p; int ok; } paths[] = {
		{ "a", 1 }, { "a/b/c", 1 }, { ".a", 1 }, { "a..", 1 }, { "...", 1 },
		{ "a b/\xff", 1 },
		{ "", 0 }, { "/", 0 }, { "/a", 0 }, { "a/", 0 }, { "a//b", 0 },
		{ ".", 0 }, { "..", 0 }, { "a/.", 0 }, { "./a", 0 }, { "a/../b", 0 },
		{ "a/..", 0 },
	};
	static const struct { const char *path, *t; int ok; } targets[] = {
		{ "l", "x", 1 }, { "l", "a/b", 1 }, { "l", "./x", 1 },
		{ "d/l", "../x", 1 }, { "d/e/l", "../../x", 1 }, { "l", "a//b", 1 },
		{ "l", "a/../b", 1 }, { "d/l", "..", 1 },
		{ "l", "", 0 }, { "l", "/x", 0 }, { "l", "..", 0 }, { "l", "../x", 0 },
		{ "d/l", "../../x", 0 }, { "l", "a/../../x", 0 }, { "d/l", "x/../../..", 0 },
	};
	char longp[IMAGE_PATH_MAX + 2], name[IMAGE_NAME_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
		check(image_path_ok(paths[i].p) == paths[i].ok, "path \"%s\" %s",
		      paths[i].p, paths[i].ok ? "accepted" : "refused");
	check(!image_path_ok(NULL), "path NULL refused");
	for (i = 0; i < sizeof targets / sizeof targets[0]; i++)
		check(image_target_ok(targets[i].path, targets[i].t) == targets[i].ok,
		      "symlink %s -> \"%s\" %s", targets[i].path, targets[i].t,
		      targets[i].ok ? "accepted" : "refused");
	check(!image_target_ok("l", NULL), "symlink target NULL refused");

	memset(name, 'n', sizeof name);
	name[IMAGE_NAME_MAX] = 0;
	check(image_path_ok(name), "component of %d bytes accepted", IMAGE_NAME_MAX);
	name[IMAGE_NAME_MAX] = 'n';
	name[IMAGE_NAME_MAX + 1] = 0;
	check(!image_path_ok(name), "component of %d bytes refused", IMAGE_NAME_MAX + 1);
	for (i = 0; i < sizeof longp; i++)
		longp[i] = i % 2 ? '/' : 'x';
	longp[IMAGE_PATH_MAX] = 0;
	check(image_path_ok(longp), "path of %d bytes accepted", IMAGE_PATH_MAX);
	longp[IMAGE_PATH_MAX] = 'x';
	longp[IMAGE_PATH_MAX + 1] = 0;
	check(!image_path_ok(longp), "path of %d bytes refused", IMAGE_PATH_MAX + 1);
}

static void test_round_trip(void)
{
	struct image in = sample_image(sample, NSAMPLE), got;
	struct bytes f, f2;
	struct image_entry perm[NSAMPLE];
	char err[200];
	uint8_t *d;
	size_t i;
	int ok;

	if (write_mem(&in, &f, err, sizeof err) < 0) {
		check(0, "write the sample image: %s", err);
		return;
	}
	check(1, "write the sample image (%zu bytes)", f.len);
	d = exact(f.p, f.len);
	if (image_read(d, f.len, NULL, &got, err, sizeof err) < 0) {
		check(0, "read the sample image back: %s", err);
		free(d);
		return;
	}
	check(1, "read the sample image back");
	/* The image must not point into the file. */
	memset(d, 0xaa, f.len);
	free(d);
	check(got.nentries == NSAMPLE, "%zu entries back", got.nentries);
	check(strcmp(got.manifest, in.manifest) == 0 && strcmp(got.policy, in.policy) == 0,
	      "manifest and policy back");
	check(memcmp(got.digest, in.digest, 32) == 0, "reader's digest is the writer's");
	ok = 1;
	for (i = 0; i < NSAMPLE; i++)
		if (!same_entry(&sample[i], find(got.entry, got.nentries, sample[i].path))) {
			printf("  differs: %s\n", sample[i].path);
			ok = 0;
		}
	check(ok, "every entry back, modes masked to 0777");
	ok = 1;
	for (i = 1; i < got.nentries; i++)
		ok &= strcmp(got.entry[i - 1].path, got.entry[i].path) < 0;
	check(ok, "entries come back sorted");
	check(strcmp(got.entry[0].path, "a") == 0 && strcmp(got.entry[1].path, "a.b") == 0 &&
	      strcmp(got.entry[2].path, "a/b") == 0, "bytewise order: a < a.b < a/b");
	image_release(&got);
	check(got.entry == NULL && got.nentries == 0, "image_release empties the image");
	image_release(&got);
	image_release(NULL);

	/* Reproducible: the same contents, in another order, same bytes. */
	for (i = 0; i < NSAMPLE; i++)
		perm[i] = sample[(i * 5 + 3) % NSAMPLE];
	in = sample_image(perm, NSAMPLE);
	check(write_mem(&in, &f2, err, sizeof err) == 0 && f2.len == f.len &&
	      memcmp(f.p, f2.p, f.len) == 0, "a permuted input gives the same bytes");
	free(f2.p);
	in = sample_image(sample, NSAMPLE);
	check(write_mem(&in, &f2, err, sizeof err) == 0 && f2.len == f.len &&
	      memcmp(f.p, f2.p, f.len) == 0, "a second write gives the same bytes");
	free(f2.p);
	free(f.p);

	/* Empty image: no entries, no texts. */
	memset(&in, 0, sizeof in);
	ok = write_mem(&in, &f, err, sizeof err) == 0;
	d = ok ? exact(f.p, f.len) : NULL;
	check(ok && image_read(d, f.len, NULL, &got, err, sizeof err) == 0 &&
	      got.nentries == 0 && strcmp(got.manifest, "") == 0 && strcmp(got.policy, "") == 0,
	      "an empty image round-trips");
	image_release(&got);
	free(d);
	free(f.p);
}

/* The progress callback sees monotone counts ending at the totals. */
static uint64_t last_in, last_out;
static int progress_ok = 1, progress_calls;

static void progress(void *arg, uint64_t in, uint64_t out)
{
	(void)arg;
	progress_ok &= in >= last_in && out >= last_out;
	last_in = in;
	last_out = out;
	progress_calls++;
}

static void test_large(void)
{
	size_t n = 3 << 20, i;
	uint8_t *big = xmalloc(n), *d;
	struct image_entry e[2] = {
		{ "big", 0644, IMG_REG, n, NULL, NULL },
		{ "zero", 0644, IMG_REG, 0, NULL, NULL },
	};
	struct image img = sample_image(e, 2), got;
	char err[200];
	int fd = memfd_create("big", 0);
	off_t len;
	uint32_t x = 1;

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		big[i] = (uint8_t)(x >> 24) & (i % 4096 < 2048 ? 0xff : 0x0f);
	}
	e[0].data = big;
	check(image_write(fd, &img, progress, NULL, err, sizeof err) == 0,
	      "write a 3 MiB file with progress");
	len = lseek(fd, 0, SEEK_END);
	check(progress_ok && progress_calls > 10 && last_out + IMAGE_HDR_SIZE == (uint64_t)len &&
	      last_in > n, "progress: %d calls, monotone, ending at %llu -> %llu",
	      progress_calls, (unsigned long long)last_in, (unsigned long long)last_out);
	d = xmalloc((size_t)len);
	if (pread(fd, d, (size_t)len, 0) != len)
		exit(2);
	check(image_read(d, (size_t)len, NULL, &got, err, sizeof err) == 0 &&
	      got.nentries == 2 && got.entry[0].size == n &&
	      memcmp(got.entry[0].data, big, n) == 0, "3 MiB file round-trips");
	image_release(&got);
	free(d);
	close(fd);
	free(big);
}

static void write_refused(const char *what, struct image_entry *e, size_t n,
			  const char *manifest, const char *want)
{
	struct image img = sample_image(e, n);
	struct bytes f;
	char err[200] = "";
	int r;

	if (manifest)
		img.manifest = manifest;
	r = write_mem(&img, &f, err, sizeof err);
	check(r < 0 && strstr(err, want), "write refuses %s: %s", what, err);
	if (r == 0)
		free(f.p);
}

static void test_write_refusals(void)
{
	struct image_entry e[4];
	struct image img;
	char err[200], *big;
	int p[2];

#define E(i, path, type, target) (e[i] = (struct image_entry){ path, 0755, type, 0, NULL, target })
	E(0, "a/", IMG_DIR, NULL);
	write_refused("path \"a/\"", e, 1, NULL, "not normal");
	E(0, "/a", IMG_DIR, NULL);
	write_refused("path \"/a\"", e, 1, NULL, "not normal");
	E(0, "a/../b", IMG_DIR, NULL);
	write_refused("path \"a/../b\"", e, 1, NULL, "not normal");
	E(0, "a", IMG_DIR, NULL); E(1, "a", IMG_REG, NULL);
	write_refused("a duplicate", e, 2, NULL, "duplicate");
	E(0, "a/b", IMG_REG, NULL);
	write_refused("a missing parent", e, 1, NULL, "parent");
	E(0, "a", IMG_REG, NULL); E(1, "a/b", IMG_REG, NULL);
	write_refused("a parent that is a file", e, 2, NULL, "parent");
	E(0, "a", IMG_SYMLINK, "."); E(1, "a/b", IMG_REG, NULL);
	write_refused("a parent that is a symlink", e, 2, NULL, "parent");
	E(0, "l", IMG_SYMLINK, "/etc/passwd");
	write_refused("an absolute symlink", e, 1, NULL, "symlink");
	E(0, "l", IMG_SYMLINK, "../x");
	write_refused("an escaping symlink", e, 1, NULL, "symlink");
	E(0, "l", IMG_SYMLINK, NULL);
	write_refused("a symlink without target", e, 1, NULL, "symlink");
	E(0, "x", 7, NULL);
	write_refused("an unknown type", e, 1, NULL, "type");
	E(0, "x", IMG_REG, NULL);
	e[0].size = 10;
	write_refused("a file without data", e, 1, NULL, "no data");
	E(0, NULL, IMG_REG, NULL);
	write_refused("an entry without path", e, 1, NULL, "no path");

	/* Refused from the sizes alone, before a byte of data is read. */
	E(0, "big", IMG_REG, NULL);
	e[0].size = image_default_limits.max_payload;
	e[0].data = bin;
	write_refused("a file as large as the payload limit", e, 1, NULL, "payload larger");

	big = xmalloc(image_default_limits.max_text + 2);
	memset(big, 'm', image_default_limits.max_text + 1);
	big[image_default_limits.max_text + 1] = 0;
	write_refused("a manifest over the limit", e, 0, big, "longer");
	free(big);

	img = sample_image(sample, NSAMPLE);
	if (pipe(p) == 0) {
		check(image_write(p[1], &img, NULL, NULL, err, sizeof err) < 0 &&
		      strstr(err, "seekable"), "write refuses a pipe: %s", err);
		close(p[0]);
		close(p[1]);
	}
	img.nentries = image_default_limits.max_entries + 1;
	check(image_write(1, &img, NULL, NULL, err, sizeof err) < 0 && strstr(err, "entries"),
	      "write refuses too many entries: %s", err);
#undef E
}

/* ---- images built from FORMAT.md ------------------------------------- */

struct ent {
	uint32_t type, mode;
	const char *path;
	uint64_t size;          /* declared */
	const void *data;       /* REG: size bytes; SYMLINK: target.  A size
				 * over 64 is a lie: 1 byte, or the string */
	uint32_t pathlen;       /* 0: strlen(path); over 64: a lie */
};

/* The payload for n_claim entries, from the n records given. */
static struct bytes payload(uint32_t n_claim, const char *manifest,
			    const char *policy, const struct ent *e, size_t n)
{
	struct bytes b = { 0 };
	size_t i;

	b_32(&b, n_claim);
	b_32(&b, 0);
	b_64(&b, strlen(manifest));
	b_64(&b, strlen(policy));
	for (i = 0; i < n; i++) {
		b_32(&b, e[i].type);
		b_32(&b, e[i].mode);
		b_32(&b, e[i].pathlen ? e[i].pathlen : (uint32_t)strlen(e[i].path));
		b_32(&b, 0);
		b_64(&b, e[i].size);
	}
	b_put(&b, manifest, strlen(manifest) + 1);
	b_put(&b, policy, strlen(policy) + 1);
	for (i = 0; i < n; i++) {
		/* A pathlen over 64 is a lie: only the string is there. */
		if (e[i].pathlen && e[i].pathlen <= 64)
			b_put(&b, e[i].path, e[i].pathlen + 1);
		else
			b_put(&b, e[i].path, strlen(e[i].path) + 1);
		if (e[i].type == IMG_REG)
			b_put(&b, e[i].data, e[i].size <= 64 ? e[i].size : 1);
		if (e[i].type == IMG_SYMLINK || e[i].type == IMG_HARDLINK)
			b_put(&b, e[i].data, (e[i].size <= 64 ? e[i].size :
					      strlen(e[i].data)) + 1);
	}
	return b;
}

struct zopt {
	int no_checksum, no_size, window_log;
	int version;            /* 0: 1 */
};

/* A file: header and one zstd frame holding p[len]. */
static struct bytes seal(const uint8_t *p, size_t len, const struct zopt *o)
{
	static const struct zopt none;
	ZSTD_CCtx *c = ZSTD_createCCtx();
	struct bytes f = { 0 };
	size_t cap = ZSTD_compressBound(len), r;
	uint8_t hdr[IMAGE_HDR_SIZE] = "DUNEIMG";

	if (!o)
		o = &none;
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, !o->no_checksum);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, !o->no_size);
	if (o->window_log)
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, o->window_log);
	f.p = xmalloc(IMAGE_HDR_SIZE + cap);
	r = ZSTD_compress2(c, f.p + IMAGE_HDR_SIZE, cap, p, len);
	if (ZSTD_isError(r)) {
		printf("zstd: %s\n", ZSTD_getErrorName(r));
		exit(2);
	}
	ZSTD_freeCCtx(c);
	hdr[8] = o->version ? o->version : 1;
	put64(hdr + 16, r);
	put64(hdr + 24, len);
	sha256(p, len, hdr + 32);
	memcpy(f.p, hdr, IMAGE_HDR_SIZE);
	f.len = f.cap = IMAGE_HDR_SIZE + r;
	return f;
}

/* image_read on an exact copy of f[len]; 0 if accepted, else -1 with
 * err filled. */
static int try_read(const uint8_t *f, size_t len, const struct image_limits *lim,
		    char *err, size_t errlen)
{
	uint8_t *d = exact(f, len);
	struct image img;
	int r;

	err[0] = 0;
	r = image_read(d, len, lim, &img, err, errlen);
	if (r == 0)
		image_release(&img);
	else if (strlen(err) == 0 || strchr(err, '\n'))
		r = -2;         /* a refusal must say why, on one line */
	free(d);
	return r;
}

static void read_refused(const char *what, const struct bytes *f,
			 const struct image_limits *lim, const char *want)
{
	char err[200];

	check(try_read(f->p, f->len, lim, err, sizeof err) == -1 && strstr(err, want),
	      "read refuses %s: %s", what, err);
}

/* A payload from ents, sealed, must be refused with want in the message
 * (or accepted when want is NULL). */
static void crafted(const char *what, uint32_t n_claim, const struct ent *e,
		    size_t n, const char *want)
{
	struct bytes p = payload(n_claim, "m", "p", e, n);
	struct bytes f = seal(p.p, p.len, NULL);
	char err[200];

	if (want)
		read_refused(what, &f, NULL, want);
	else
		check(try_read(f.p, f.len, NULL, err, sizeof err) == 0,
		      "read accepts %s %s", what, err);
	free(p.p);
	free(f.p);
}

#define CRAFT(what, want, ...) do { \
	const struct ent e_[] = { __VA_ARGS__ }; \
	crafted(what, sizeof e_ / sizeof e_[0], e_, sizeof e_ / sizeof e_[0], want); \
} while (0)
#define D(p) { IMG_DIR, 0755, p, 0, NULL, 0 }
#define R(p, s, d) { IMG_REG, 0644, p, s, d, 0 }
#define L(p, t) { IMG_SYMLINK, 0777, p, sizeof t - 1, t, 0 }

static void test_payloads(void)
{
	struct ent e[2];
	struct bytes p, f, w;
	char err[200];
	size_t fl;

	/* The format as written here is the format image_write writes:
	 * the sample, sorted, modes masked. */
	{
		const struct ent s[] = {
			{ IMG_DIR, 0755, "a", 0, NULL, 0 },
			{ IMG_REG, 0644, "a.b", 3, "a.b", 0 },
			{ IMG_REG, 0644, "a/b", 1, "\n", 0 },
			{ IMG_DIR, 0755, "etc", 0, NULL, 0 },
			{ IMG_REG, 0644, "etc/bin.dat", sizeof bin, bin, 0 },
			{ IMG_REG, 0600, "etc/empty", 0, "", 0 },
			{ IMG_DIR, 0777, "tmp", 0, NULL, 0 },
			{ IMG_DIR, 0755, "usr", 0, NULL, 0 },
			{ IMG_DIR, 0755, "usr/bin", 0, NULL, 0 },
			{ IMG_REG, 0755, "usr/bin/prog", 6, "\x7f" "ELF!!", 0 },
			{ IMG_SYMLINK, 0777, "usr/bin/sh", 4, "prog", 0 },
			{ IMG_SYMLINK, 0755, "usr/lib", 13, "../etc/./x/..", 0 },
		};
		uint8_t *u;

		p = payload(12, "entry = /usr/bin/prog\n", "stdio rpath\n", s, 12);
		write_sample(&w);
		u = xmalloc(p.len + 1);
		fl = ZSTD_decompress(u, p.len + 1, w.p + IMAGE_HDR_SIZE, w.len - IMAGE_HDR_SIZE);
		check(fl == p.len && memcmp(u, p.p, p.len) == 0,
		      "image_write's payload is byte for byte FORMAT.md's (%zu bytes)", p.len);
		free(u);
		free(p.p);
		free(w.p);
	}

	CRAFT("a valid crafted tree", NULL, D("a"), R("a/f", 2, "hi"), L("a/l", "../x"));
	CRAFT("path \"../x\"", "not normal", R("../x", 0, ""));
	CRAFT("path \"/x\"", "not normal", R("/x", 0, ""));
	CRAFT("path \"a//b\"", "not normal", D("a"), R("a//b", 0, ""));
	CRAFT("path \"a/\"", "not normal", D("a/"));
	CRAFT("path \".\"", "not normal", D("."));
	CRAFT("an empty path", "not normal", D(""));
	CRAFT("path \"a/./b\"", "not normal", D("a"), R("a/./b", 0, ""));
	CRAFT("a duplicate", "duplicate", D("a"), D("a"));
	CRAFT("a duplicate file", "duplicate", R("a", 1, "x"), R("a", 1, "x"));
	CRAFT("unsorted entries", "not sorted", D("b"), D("a"));
	CRAFT("a/b before a.b", "not sorted", D("a"), R("a/b", 0, ""), R("a.b", 0, ""));
	CRAFT("a missing parent", "parent", D("a"), R("a/b/c", 0, ""));
	CRAFT("a parent that is a file", "parent", R("a", 0, ""), R("a/b", 0, ""));
	CRAFT("a parent that is a symlink", "parent", L("a", "b"), R("a/c", 0, ""), D("b"));
	CRAFT("an absolute symlink", "symlink", L("l", "/etc/passwd"));
	CRAFT("an escaping symlink", "symlink", D("d"), L("d/l", "../../etc"));
	CRAFT("an empty symlink", "symlink", L("l", ""));
	CRAFT("a directory with a size", "size", { IMG_DIR, 0755, "d", 5, NULL, 0 });
	CRAFT("type 0", "type", { 0, 0644, "x", 0, NULL, 0 });
	CRAFT("type 4 in version 1", "type", { 4, 0644, "x", 0, "", 0 });
	CRAFT("type 5", "type", { 5, 0644, "x", 0, NULL, 0 });
	CRAFT("a setuid file", "0777", { IMG_REG, 04755, "x", 0, NULL, 0 });
	CRAFT("a setgid directory", "0777", { IMG_DIR, 02755, "x", 0, NULL, 0 });
	CRAFT("a sticky directory", "0777", { IMG_DIR, 01777, "x", 0, NULL, 0 });
	CRAFT("file type bits in mode", "0777", { IMG_REG, 0100644, "x", 0, NULL, 0 });
	CRAFT("a NUL inside a path", "NUL", { IMG_REG, 0644, "a\0b", 0, NULL, 3 });
	CRAFT("a NUL inside a target", "NUL", { IMG_SYMLINK, 0777, "l", 3, "a\0b", 0 });
	CRAFT("a path length past the payload", "truncated", { IMG_REG, 0644, "a", 0, NULL, 4000 });
	CRAFT("a path over the limit", "too long", { IMG_REG, 0644, "a", 0, NULL, 5000 });
	CRAFT("a file size past the payload", "left in the payload", R("a", 1ULL << 40, "x"));
	CRAFT("a file size of 2^64-1", "left in the payload", R("a", UINT64_MAX, "x"));
	CRAFT("a target size of 2^64-1", "target", { IMG_SYMLINK, 0777, "l", UINT64_MAX, "x", 0 });

	/* Counts that the payload cannot hold. */
	e[0] = (struct ent)R("a", 0, "");
	crafted("2^32-1 entries", 0xffffffff, e, 1, "entries");
	crafted("1000 entries in a 1-entry payload", 1000, e, 1, "does not fit");
	crafted("2 entries claimed, 1 given", 2, e, 1, "");
	crafted("0 entries claimed, 1 given", 0, e, 1, "");
	{
		struct image_limits lim = image_default_limits;

		p = payload(1, "m", "p", e, 1);
		f = seal(p.p, p.len, NULL);
		lim.max_entries = 0;
		read_refused("more entries than the limit", &f, &lim, "limit");
		lim = image_default_limits;
		lim.max_text = 0;
		read_refused("a manifest over the limit", &f, &lim, "limit");
		lim = image_default_limits;
		lim.max_payload = p.len - 1;
		read_refused("a payload over the limit", &f, &lim, "limit");
		lim.max_payload = p.len;
		check(try_read(f.p, f.len, &lim, err, sizeof err) == 0,
		      "read accepts a payload exactly at the limit");
		free(f.p);
		free(p.p);
	}

	/* Texts. */
	p = payload(0, "m", "p", NULL, 0);
	p.p[8] = 5;     /* manifest length 5: runs over "m\0p\0" */
	f = seal(p.p, p.len, NULL);
	read_refused("a manifest length past the payload", &f, NULL, "manifest");
	free(f.p);
	p.p[8] = 3;     /* "m\0p" then NUL: holds a NUL */
	p.p[16] = 0;
	f = seal(p.p, p.len, NULL);
	read_refused("a manifest holding a NUL", &f, NULL, "manifest");
	free(f.p);
	p.p[8] = 1;
	p.p[16] = 1;
	p.p[4] = 1;
	f = seal(p.p, p.len, NULL);
	read_refused("a reserved payload field", &f, NULL, "reserved");
	free(f.p);
	f = seal(p.p, 10, NULL);
	read_refused("a payload shorter than its header", &f, NULL, "too short");
	free(f.p);
	free(p.p);
	e[0] = (struct ent)R("a", 0, "");
	p = payload(1, "m", "p", e, 1);
	p.p[24 + 12] = 1;    /* the record's reserved u32 */
	f = seal(p.p, p.len, NULL);
	read_refused("a reserved entry field", &f, NULL, "reserved");
	free(f.p);
	free(p.p);
}

/* ---- headers and frames ------------------------------------------------- */

static void test_frames(void)
{
	struct image_limits lim = image_default_limits;
	struct bytes f, g, p;
	struct zopt o = { 0 };
	char err[200];
	size_t i, len, bad, slack;
	uint8_t *z;
	int fhd, at, x;

	if (write_sample(&f) < 0) {
		check(0, "write the sample image");
		return;
	}
	len = f.len;

	for (i = 0, bad = 0; i < len; i++)
		if (try_read(f.p, i, NULL, err, sizeof err) != -1)
			bad++;
	check(bad == 0, "read refuses the image cut at each of %zu lengths", len);
	/* Every changed byte of the header is refused.  In the frame, a
	 * few bits are slack (padding the decoder ignores): a change there
	 * that zstd accepts must decode to the very same payload, which the
	 * digest checks, so only the count is reported. */
	for (i = 0, bad = 0, slack = 0; i < len; i++) {
		for (x = 1; x; x = x == 1 ? 0xff : 0) {
			f.p[i] ^= x;
			if (try_read(f.p, len, NULL, err, sizeof err) != -1) {
				if (i < IMAGE_HDR_SIZE)
					bad++;
				else
					slack++;
			}
			f.p[i] ^= x;
		}
	}
	check(bad == 0, "read refuses each of %zu bytes changed, two ways (%zu frame changes decode to the same payload)",
	      len, slack);
	check(try_read(f.p, len, NULL, err, sizeof err) == 0, "and the image is still good");

#define MUTATE(what, at, val, want) do { \
	uint8_t old_ = f.p[at]; \
	f.p[at] = val; \
	read_refused(what, &f, NULL, want); \
	f.p[at] = old_; \
} while (0)
	MUTATE("bad magic", 0, 'd', "magic");
	MUTATE("version 3", 8, 3, "version");
	MUTATE("version 2 without a hard link", 8, 2, "version");
	MUTATE("version 0", 8, 0, "version");
	MUTATE("unknown flags", 12, 1, "flags");
	MUTATE("a reserved header byte", 95, 1, "reserved");
	MUTATE("a compressed size too large", 16, f.p[16] + 1, "compressed bytes");
	MUTATE("a compressed size too small", 16, f.p[16] - 1, "compressed bytes");
	MUTATE("a huge compressed size", 23, 0x80, "compressed bytes");
	MUTATE("an uncompressed size off by one", 24, f.p[24] + 1, "disagrees");
	MUTATE("an uncompressed size of 2^63", 31, 0x80, "limit");
	MUTATE("a wrong digest", 40, f.p[40] ^ 0x10, "digest");
	MUTATE("a frame without zstd's magic", IMAGE_HDR_SIZE, 0, "not a zstd frame");
	MUTATE("a frame with its checksum flag cleared", IMAGE_HDR_SIZE + 4,
	       f.p[IMAGE_HDR_SIZE + 4] & ~0x04, "checksum");
	MUTATE("a wrong zstd checksum", len - 1, f.p[len - 1] ^ 1, "checksum");
#undef MUTATE

	/* Bytes after the frame: counted, or not, by the header. */
	g = f;
	g.p = xmalloc(len + 1);
	memcpy(g.p, f.p, len);
	g.p[len] = 0;
	g.len = len + 1;
	read_refused("a byte after the file's frame", &g, NULL, "compressed bytes");
	put64(g.p + 16, len + 1 - IMAGE_HDR_SIZE);
	read_refused("a byte after the frame, counted", &g, NULL, "after the zstd frame");
	free(g.p);
	g.p = xmalloc(2 * len - IMAGE_HDR_SIZE);
	memcpy(g.p, f.p, len);
	memcpy(g.p + len, f.p + IMAGE_HDR_SIZE, len - IMAGE_HDR_SIZE);
	g.len = 2 * len - IMAGE_HDR_SIZE;
	put64(g.p + 16, g.len - IMAGE_HDR_SIZE);
	read_refused("two frames", &g, NULL, "after the zstd frame");
	/* The frame cut short, the header agreeing. */
	for (i = IMAGE_HDR_SIZE, bad = 0; i < len; i++) {
		put64(g.p + 16, i - IMAGE_HDR_SIZE);
		bad += try_read(g.p, i, NULL, err, sizeof err) != -1;
	}
	check(bad == 0, "read refuses the frame cut at each of %zu lengths, the header agreeing",
	      len - IMAGE_HDR_SIZE);
	/* A skippable frame in its place. */
	g.p[IMAGE_HDR_SIZE] = 0x50;
	g.p[IMAGE_HDR_SIZE + 1] = 0x2a;
	g.p[IMAGE_HDR_SIZE + 2] = 0x4d;
	g.p[IMAGE_HDR_SIZE + 3] = 0x18;
	g.len = len;
	put64(g.p + 16, len - IMAGE_HDR_SIZE);
	read_refused("a skippable frame", &g, NULL, "not a zstd frame");
	free(g.p);
	free(f.p);

	p = payload(0, "m", "p", NULL, 0);
	o.no_checksum = 1;
	f = seal(p.p, p.len, &o);
	read_refused("a frame without checksum", &f, NULL, "checksum");
	free(f.p);
	o.no_checksum = 0;
	o.no_size = 1;
	f = seal(p.p, p.len, &o);
	read_refused("a frame without content size", &f, NULL, "does not state");
	free(f.p);
	free(p.p);

	/* Bombs.  64 MiB of zeros is a 2 KiB frame; the limit stops it
	 * before any of it is decompressed. */
	p.len = 64 << 20;
	p.p = calloc(1, p.len);
	f = seal(p.p, p.len, NULL);
	lim.max_payload = 1 << 20;
	read_refused("64 MiB of zeros under a 1 MiB limit", &f, &lim, "limit");
	check(f.len < 8192, "(that bomb is %zu bytes)", f.len);
	free(f.p);
	/* Frames that lie about their size: the header and the frame say
	 * 100000 bytes (zstd then decodes in one pass into our buffer) or
	 * 2 MiB (it streams, and our buffer's cap stops it), the blocks
	 * hold 8 MiB.  The window is kept below the size so that the frame
	 * is not "single segment", whose window would shrink with the lie
	 * and fail differently. */
	for (i = 0; i < 2; i++) {
		uint32_t lie = i ? 2 << 20 : 100000;

		o = (struct zopt){ .window_log = 19 };
		f = seal(p.p, 8 << 20, &o);
		z = f.p + IMAGE_HDR_SIZE;
		fhd = z[4];
		at = 5 + !(fhd & 0x20) + (int[]){ 0, 1, 2, 4 }[fhd & 3];
		check((fhd & 0x20) == 0 && (fhd >> 6) == 2, "the lying frame has a 4-byte size at %d", at);
		z[at] = (uint8_t)lie;
		z[at + 1] = (uint8_t)(lie >> 8);
		z[at + 2] = (uint8_t)(lie >> 16);
		z[at + 3] = (uint8_t)(lie >> 24);
		put64(f.p + 24, lie);
		read_refused(i ? "a frame expanding past its stated 2 MiB" :
			     "a frame expanding past its stated 100000 bytes", &f, NULL, "expands beyond");
		free(f.p);
	}
	/* A frame asking for a window larger than any writer uses. */
	o = (struct zopt){ .window_log = 24 };
	f = seal(p.p, 32 << 20, &o);
	read_refused("a frame with a 16 MiB window", &f, NULL, "zstd");
	free(f.p);
	free(p.p);
}

/* ---- the build rate of a real tree ----------------------------------- */

static struct image_entry *tree;
static size_t ntree, captree;
static uint64_t tree_bytes;

static void add_tree(const char *root, const char *rel)
{
	char full[8192], path[4096], target[IMAGE_PATH_MAX + 1];
	struct dirent *de;
	struct stat st;
	ssize_t n;
	DIR *d;
	int fd;

	snprintf(full, sizeof full, "%s/%s", root, rel);
	if (!(d = opendir(full)))
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof full, "%s/%s", root, path);
		if (!image_path_ok(path) || lstat(full, &st) < 0)
			continue;
		if (ntree == captree) {
			captree = captree * 2 + 64;
			tree = realloc(tree, captree * sizeof *tree);
		}
		tree[ntree] = (struct image_entry){ strdup(path), st.st_mode, IMG_DIR, 0, NULL, NULL };
		if (S_ISDIR(st.st_mode)) {
			ntree++;
			add_tree(root, path);
		} else if (S_ISREG(st.st_mode) && (fd = open(full, O_RDONLY)) >= 0) {
			tree[ntree].type = IMG_REG;
			tree[ntree].size = (uint64_t)st.st_size;
			if (st.st_size)
				tree[ntree].data = mmap(NULL, (size_t)st.st_size, PROT_READ,
							MAP_PRIVATE, fd, 0);
			close(fd);
			if (tree[ntree].data != MAP_FAILED) {
				tree_bytes += (uint64_t)st.st_size;
				ntree++;
			}
		} else if (S_ISLNK(st.st_mode) &&
			   (n = readlink(full, target, sizeof target - 1)) > 0) {
			target[n] = 0;
			tree[ntree].type = IMG_SYMLINK;
			tree[ntree].target = strdup(target);
			if (image_target_ok(path, target))
				ntree++;
		}
	}
	closedir(d);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench_tree(const char *root)
{
	struct image img, got;
	char err[200];
	double t0, t1, t2;
	off_t len;
	uint8_t *f;
	int fd;

	add_tree(root, "");
	img = sample_image(tree, ntree);
	fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	t0 = now();
	check(image_write(fd, &img, NULL, NULL, err, sizeof err) == 0,
	      "pack %s: %zu entries %s", root, ntree, err);
	t1 = now();
	len = lseek(fd, 0, SEEK_END);
	f = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	check(image_read(f, (size_t)len, NULL, &got, err, sizeof err) == 0 &&
	      got.nentries == ntree, "read it back %s", err);
	t2 = now();
	printf("tree %s: %.1f MiB in %zu entries -> %.1f MiB (%.1f%%); "
	       "build %.2f s = %.1f MiB/s, read %.2f s = %.1f MiB/s\n", root,
	       tree_bytes / 1048576.0, ntree, len / 1048576.0, 100.0 * len / tree_bytes,
	       t1 - t0, tree_bytes / 1048576.0 / (t1 - t0),
	       t2 - t1, tree_bytes / 1048576.0 / (t2 - t1));
	image_release(&got);
	munmap(f, (size_t)len);
	close(fd);
}

/* ---- hard links (version 2) -------------------------------------------- */

static struct bytes seal_version(const struct ent *e, size_t n, int version)
{
	struct bytes p = payload((uint32_t)n, "m", "p", e, n);
	struct zopt o = { .version = version };
	struct bytes f = seal(p.p, p.len, &o);

	free(p.p);
	return f;
}

static void test_hardlinks(void)
{
	struct image_entry e[] = {
		{ "z", 0755, IMG_HARDLINK, 0, NULL, "b" },
		{ "d", 0755, IMG_DIR, 0, NULL, NULL },
		{ "b", 0755, IMG_REG, 5, (const uint8_t *)"hello", NULL },
		{ "d/c", 0755, IMG_HARDLINK, 0, NULL, "b" },
	};
	struct image img = sample_image(e, 4), got;
	struct bytes f;
	char err[200];

	check(write_mem(&img, &f, err, sizeof err) == 0 && f.p[8] == 2,
	      "an image with hard links is written as version 2 (%s)", err);
	check(try_read(f.p, f.len, NULL, err, sizeof err) == 0, "and read back %s", err);
	if (image_read(f.p, f.len, NULL, &got, err, sizeof err) == 0) {
		const struct image_entry *c = find(got.entry, got.nentries, "d/c");
		check(c && c->type == IMG_HARDLINK && !strcmp(c->target, "b") && c->size == 1 &&
		      !c->data, "d/c is a hard link to b, size strlen(target)");
		image_release(&got);
	}
	free(f.p);
	if (write_sample(&f) == 0) {
		check(f.p[8] == 1, "an image without hard links is still version 1");
		free(f.p);
	}

#define HL(path, mode, type, target) (struct image_entry){ path, mode, type, 1, \
	type == IMG_REG ? (const uint8_t *)"x" : NULL, target }
	struct image_entry w[2];
	w[0] = HL("a", 0644, IMG_REG, NULL); w[1] = HL("b", 0755, IMG_HARDLINK, "a");
	write_refused("a hard link with another mode", w, 2, NULL, "hard link");
	w[0] = HL("z", 0644, IMG_REG, NULL); w[1] = HL("b", 0644, IMG_HARDLINK, "z");
	write_refused("a hard link to a later path", w, 2, NULL, "hard link");
	w[0] = HL("a", 0644, IMG_DIR, NULL); w[1] = HL("b", 0644, IMG_HARDLINK, "a");
	write_refused("a hard link to a directory", w, 2, NULL, "hard link");
	w[0] = HL("a", 0777, IMG_SYMLINK, "x"); w[1] = HL("b", 0777, IMG_HARDLINK, "a");
	write_refused("a hard link to a symlink", w, 2, NULL, "hard link");
	w[0] = HL("b", 0644, IMG_HARDLINK, "a");
	write_refused("a hard link to nothing", w, 1, NULL, "hard link");
	w[0] = HL("a", 0644, IMG_REG, NULL); w[1] = HL("b", 0644, IMG_HARDLINK, "./a");
	write_refused("a hard link to a path that is not normal", w, 2, NULL, "hard link");
	w[0] = HL("a", 0644, IMG_REG, NULL); w[1] = HL("b", 0644, IMG_HARDLINK, NULL);
	write_refused("a hard link without target", w, 2, NULL, "hard link");
#undef HL

	const struct ent link[] = {
		R("a", 1, "x"), { IMG_HARDLINK, 0644, "b", 1, "a", 0 },
	};
	f = seal_version(link, 2, 1);
	read_refused("a hard link in a version-1 image", &f, NULL, "unknown entry type 4");
	free(f.p);
	f = seal_version(link, 1, 2);
	read_refused("a version-2 image without a hard link", &f, NULL, "version");
	free(f.p);
	f = seal_version(link, 2, 3);
	read_refused("version 3", &f, NULL, "version");
	free(f.p);
	f = seal_version(link, 2, 2);
	check(try_read(f.p, f.len, NULL, err, sizeof err) == 0,
	      "read accepts the same hard link as version 2 %s", err);
	free(f.p);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_sha256();
	test_rules();
	test_round_trip();
	test_large();
	test_write_refusals();
	test_payloads();
	test_frames();
	test_hardlinks();
	if (argc > 1)
		bench_tree(argv[1]);
	return check_summary();
}
