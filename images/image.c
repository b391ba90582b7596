/*
 * image.c: writing and reading dunerun images (images/FORMAT.md).
 *
 * The reader faces hostile files.  It checks the header against the file,
 * decompresses into a buffer that may never grow past the header's
 * uncompressed size (itself under a limit), checks the digest, and only
 * then parses the payload, where every length is checked against what is
 * left before it is used.  The writer runs the same tree checks as the
 * reader, so it cannot produce an image the reader refuses.
 */
#define _POSIX_C_SOURCE 200809L      /* pwrite, off_t */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "image.h"

/* Fixed, since the level shapes the bytes.  On a 100 MiB tree of
 * binaries and text (FORMAT.md) level 6 builds at 80-100 MiB/s on one
 * core, four times the 20 MiB/s we need even on a slow host, for images
 * 7% smaller than level 3's; level 9 saves 6% more at half the rate,
 * level 19 runs at 3 MiB/s.  Reading costs the same at any level. */
#define ZSTD_LEVEL      6
/* The largest window zstd picks for levels up to 19; the reader refuses
 * frames asking for more, which bounds its own allocation. */
#define ZSTD_WINDOW_LOG 23

#define PAYLOAD_HDR 24          /* nentries, reserved, manifest, policy */
#define RECORD_SIZE 24          /* type, mode, path_len, reserved, size */
#define STAGE_SIZE  (128 << 10)

static const uint8_t magic[8] = "DUNEIMG";

const struct image_limits image_default_limits = {
	.max_payload = 4ULL << 30,
	.max_entries = 1 << 20,
	.max_text = 1 << 20,
};

/* Messages may quote paths from a hostile file; they stay one printable
 * line whatever the bytes. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (i = 0; err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			err[i] = '?';
	return -1;
}

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- the tree rules, shared by writer and reader -------------------- */

int image_path_ok(const char *path)
{
	const char *p = path, *c;
	size_t n;

	if (!path || !*path || strlen(path) > IMAGE_PATH_MAX)
		return 0;
	for (;;) {
		c = strchr(p, '/');
		n = c ? (size_t)(c - p) : strlen(p);
		if (n == 0 || n > IMAGE_NAME_MAX)
			return 0;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!c)
			return 1;
		p = c + 1;
	}
}

/* Lexical: a link whose target climbs through another symlink could
 * still leave the root at run time, so the runner confines resolution
 * to the image root itself; this check only refuses the obvious. */
int image_target_ok(const char *path, const char *target)
{
	const char *p, *c;
	size_t n;
	long depth = 0;

	if (!target || !*target || target[0] == '/' ||
	    strlen(target) > IMAGE_PATH_MAX)
		return 0;
	for (p = path; (p = strchr(p, '/')); p++)
		depth++;                /* directories above the link */
	for (p = target;; p = c + 1) {
		c = strchr(p, '/');
		n = c ? (size_t)(c - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			depth++;
		}
		if (!c)
			return 1;
	}
}

/* The entry for path[0..len) among the sorted e[0..n), or NULL. */
static const struct image_entry *lookup(const struct image_entry *e, size_t n,
					const char *path, size_t len)
{
	size_t lo = 0, hi = n, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = strncmp(e[mid].path, path, len);
		if (r == 0)
			r = e[mid].path[len] != 0;
		if (r == 0)
			return &e[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Is there a directory entry for path[0..len) among the sorted e[0..n)? */
static int have_dir(const struct image_entry *e, size_t n, const char *path,
		    size_t len)
{
	const struct image_entry *d = lookup(e, n, path, len);

	return d && d->type == IMG_DIR;
}

/* A hard link names a regular file before it, with the same mode: one
 * encoding per group of links, and extraction in order finds the file
 * already there. */
static int link_ok(const struct image_entry *e, size_t i)
{
	const struct image_entry *t;

	if (!e[i].target || !image_path_ok(e[i].target))
		return 0;
	t = lookup(e, i, e[i].target, strlen(e[i].target));
	return t && t->type == IMG_REG && t->mode == e[i].mode;
}

/* Everything image.h promises about a list of entries.  Sorted and
 * unique paths make the image's bytes a function of its contents. */
static int check_tree(const struct image_entry *e, size_t n, char *err,
		      size_t errlen)
{
	const char *slash;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (!image_path_ok(e[i].path))
			return fail(err, errlen, "entry %zu: path \"%.80s\" is not normal (relative, no empty, '.' or '..' components)",
				    i, e[i].path);
		if (i > 0 && (r = strcmp(e[i - 1].path, e[i].path)) >= 0)
			return fail(err, errlen, r == 0 ? "duplicate entry \"%.80s\"" :
				    "entries not sorted at \"%.80s\"", e[i].path);
		if (e[i].mode & ~IMAGE_MODE_MASK)
			return fail(err, errlen, "entry \"%.80s\": mode %#o has bits beyond 0777",
				    e[i].path, e[i].mode);
		slash = strrchr(e[i].path, '/');
		if (slash && !have_dir(e, i, e[i].path, (size_t)(slash - e[i].path)))
			return fail(err, errlen, "entry \"%.80s\": parent directory is not in the image",
				    e[i].path);
		switch (e[i].type) {
		case IMG_DIR:
			if (e[i].size != 0)
				return fail(err, errlen, "entry \"%.80s\": directory with a size", e[i].path);
			break;
		case IMG_REG:
			break;
		case IMG_SYMLINK:
			if (!image_target_ok(e[i].path, e[i].target))
				return fail(err, errlen, "entry \"%.80s\": symlink target \"%.80s\" is empty, absolute or leaves the image",
					    e[i].path, e[i].target ? e[i].target : "");
			break;
		case IMG_HARDLINK:
			if (!link_ok(e, i))
				return fail(err, errlen, "entry \"%.80s\": hard link to \"%.80s\", which is not a regular file before it with the same mode",
					    e[i].path, e[i].target ? e[i].target : "");
			break;
		default:
			return fail(err, errlen, "entry \"%.80s\": unknown entry type %u",
				    e[i].path, (unsigned)e[i].type);
		}
	}
	return 0;
}

/* ---- writing --------------------------------------------------------- */

/* The payload goes through a staging buffer into the hash and the
 * compressor, which then see large pieces whatever the entry sizes. */
struct writer {
	int fd;
	ZSTD_CCtx *cctx;
	struct sha256 sha;
	uint8_t stage[STAGE_SIZE];
	size_t nstage;
	uint8_t *zbuf;
	size_t zcap;
	uint64_t in, out;
	void (*progress)(void *, uint64_t, uint64_t);
	void *arg;
	char *err;
	size_t errlen;
};

static int write_all(struct writer *w, const uint8_t *p, size_t len)
{
	ssize_t r;

	while (len > 0) {
		r = write(w->fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail(w->err, w->errlen, "write: %s",
				    r < 0 ? strerror(errno) : "no progress");
		p += r;
		len -= (size_t)r;
		w->out += (uint64_t)r;
	}
	return 0;
}

static int compress(struct writer *w, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = { w->stage, w->nstage, 0 };
	ZSTD_outBuffer out;
	size_t r;

	sha256_update(&w->sha, w->stage, w->nstage);
	w->in += w->nstage;
	do {
		out = (ZSTD_outBuffer){ w->zbuf, w->zcap, 0 };
		r = ZSTD_compressStream2(w->cctx, &out, &in, end);
		if (ZSTD_isError(r))
			return fail(w->err, w->errlen, "zstd: %s", ZSTD_getErrorName(r));
		if (write_all(w, w->zbuf, out.pos) < 0)
			return -1;
	} while (end == ZSTD_e_end ? r != 0 : in.pos < in.size);
	w->nstage = 0;
	if (w->progress)
		w->progress(w->arg, w->in, w->out);
	return 0;
}

static int put(struct writer *w, const void *data, uint64_t len)
{
	const uint8_t *p = data;
	size_t n;

	while (len > 0) {
		if (w->nstage == STAGE_SIZE && compress(w, ZSTD_e_continue) < 0)
			return -1;
		n = STAGE_SIZE - w->nstage;
		if (n > len)
			n = (size_t)len;
		memcpy(w->stage + w->nstage, p, n);
		w->nstage += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int put_text(struct writer *w, const char *s)
{
	return put(w, s, strlen(s) + 1);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct image_entry *)a)->path,
		      ((const struct image_entry *)b)->path);
}

/* The entries as they will be written: sorted, mode masked, sizes of
 * directories and links derived rather than trusted. */
static struct image_entry *prepare(const struct image *img, char *err,
				   size_t errlen)
{
	struct image_entry *e;
	size_t i;

	e = malloc(img->nentries ? img->nentries * sizeof *e : 1);
	if (!e) {
		fail(err, errlen, "out of memory for %zu entries", img->nentries);
		return NULL;
	}
	for (i = 0; i < img->nentries; i++) {
		e[i] = img->entry[i];
		e[i].mode &= IMAGE_MODE_MASK;
		if (!e[i].path) {
			fail(err, errlen, "entry %zu has no path", i);
			goto bad;
		}
		if (e[i].type == IMG_DIR)
			e[i].size = 0;
		if (e[i].type == IMG_SYMLINK || e[i].type == IMG_HARDLINK)
			e[i].size = e[i].target ? strlen(e[i].target) : 0;
		if (e[i].type == IMG_REG && e[i].size && !e[i].data) {
			fail(err, errlen, "entry \"%.80s\": no data", e[i].path);
			goto bad;
		}
	}
	qsort(e, img->nentries, sizeof *e, cmp_entry);
	if (check_tree(e, img->nentries, err, errlen) == 0)
		return e;
bad:
	free(e);
	return NULL;
}

/* Adds n to *sum, refusing to pass max (and so to wrap). */
static int add(uint64_t *sum, uint64_t n, uint64_t max)
{
	if (n > max || *sum > max - n)
		return -1;
	*sum += n;
	return 0;
}

static int write_payload(struct writer *w, const struct image_entry *e,
			 size_t n, const char *manifest, const char *policy)
{
	uint8_t rec[RECORD_SIZE];
	size_t i;

	put32(rec, (uint32_t)n);
	put32(rec + 4, 0);
	put64(rec + 8, strlen(manifest));
	put64(rec + 16, strlen(policy));
	if (put(w, rec, PAYLOAD_HDR) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		put32(rec, e[i].type);
		put32(rec + 4, e[i].mode);
		put32(rec + 8, (uint32_t)strlen(e[i].path));
		put32(rec + 12, 0);
		put64(rec + 16, e[i].size);
		if (put(w, rec, RECORD_SIZE) < 0)
			return -1;
	}
	if (put_text(w, manifest) < 0 || put_text(w, policy) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (put_text(w, e[i].path) < 0)
			return -1;
		if (e[i].type == IMG_REG && put(w, e[i].data, e[i].size) < 0)
			return -1;
		if ((e[i].type == IMG_SYMLINK || e[i].type == IMG_HARDLINK) &&
		    put_text(w, e[i].target) < 0)
			return -1;
	}
	return compress(w, ZSTD_e_end);
}

/* Version 1 unless a hard link needs 2: an image without one stays
 * readable by a version-1 reader, and its bytes do not change. */
static uint32_t version_of(const struct image_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].type == IMG_HARDLINK)
			return 2;
	return 1;
}

int image_write(int fd, struct image *img,
		void (*progress)(void *arg, uint64_t in, uint64_t out),
		void *arg, char *err, size_t errlen)
{
	const struct image_limits *lim = &image_default_limits;
	const char *manifest = img->manifest ? img->manifest : "";
	const char *policy = img->policy ? img->policy : "";
	struct image_entry *e = NULL;
	struct writer *w = NULL;
	uint8_t hdr[IMAGE_HDR_SIZE];
	uint64_t len = PAYLOAD_HDR;
	off_t start;
	size_t i;
	int rc = -1;

	if (strlen(manifest) > lim->max_text || strlen(policy) > lim->max_text)
		return fail(err, errlen, "manifest or policy longer than %llu bytes",
			    (unsigned long long)lim->max_text);
	if (img->nentries > lim->max_entries)
		return fail(err, errlen, "too many entries: %zu, the limit is %llu",
			    img->nentries, (unsigned long long)lim->max_entries);
	start = lseek(fd, 0, SEEK_CUR);
	if (start < 0)
		return fail(err, errlen, "output is not seekable: %s", strerror(errno));
	if (!(e = prepare(img, err, errlen)))
		return -1;

	if (add(&len, strlen(manifest) + 1, lim->max_payload) < 0 ||
	    add(&len, strlen(policy) + 1, lim->max_payload) < 0)
		goto toobig;
	for (i = 0; i < img->nentries; i++)
		if (add(&len, RECORD_SIZE + strlen(e[i].path) + 1, lim->max_payload) < 0 ||
		    add(&len, e[i].size + (e[i].type == IMG_SYMLINK || e[i].type == IMG_HARDLINK),
			lim->max_payload) < 0)
			goto toobig;

	w = calloc(1, sizeof *w);
	if (!w || !(w->cctx = ZSTD_createCCtx())) {
		fail(err, errlen, "out of memory for the compressor");
		goto out;
	}
	w->fd = fd;
	w->zcap = ZSTD_CStreamOutSize();
	w->zbuf = malloc(w->zcap);
	w->progress = progress;
	w->arg = arg;
	w->err = err;
	w->errlen = errlen;
	sha256_init(&w->sha);
	if (!w->zbuf) {
		fail(err, errlen, "out of memory for the compressor");
		goto out;
	}
	/* Everything that shapes the frame is fixed here, so the bytes
	 * depend on the payload alone. */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(w->cctx, len))) {
		fail(err, errlen, "zstd: cannot set parameters");
		goto out;
	}

	/* A zero header until the frame is complete: an interrupted write
	 * leaves a file with bad magic, not a plausible image. */
	memset(hdr, 0, sizeof hdr);
	if (write_all(w, hdr, sizeof hdr) < 0)
		goto out;
	w->out = 0;
	if (write_payload(w, e, img->nentries, manifest, policy) < 0)
		goto out;

	memcpy(hdr, magic, 8);
	put32(hdr + 8, version_of(e, img->nentries));
	put32(hdr + 12, 0);
	put64(hdr + 16, w->out);
	put64(hdr + 24, len);
	sha256_final(&w->sha, img->digest);
	memcpy(hdr + 32, img->digest, 32);
	if (pwrite(fd, hdr, sizeof hdr, start) != (ssize_t)sizeof hdr) {
		fail(err, errlen, "write header: %s", strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
toobig:
	fail(err, errlen, "payload larger than %llu bytes",
	     (unsigned long long)lim->max_payload);
out:
	if (w) {
		ZSTD_freeCCtx(w->cctx);
		free(w->zbuf);
		free(w);
	}
	free(e);
	return rc;
}

/* ---- reading ----------------------------------------------------------- */

/* Decompresses the single frame src[len] into a new buffer of exactly
 * size bytes.  The buffer grows with what the frame really produces, up
 * to size + 1 bytes: reaching the extra byte means the frame holds more
 * than the header said, and decompression stops there. */
static uint8_t *inflate(const uint8_t *src, size_t len, uint64_t size,
			char *err, size_t errlen)
{
	ZSTD_DCtx *d;
	ZSTD_inBuffer in = { src, len, 0 };
	ZSTD_outBuffer out = { NULL, 0, 0 };
	uint64_t cap = size + 1, have = 0;
	size_t r, lastin, lastout;
	uint8_t *buf = NULL, *nb;

	if (!(d = ZSTD_createDCtx())) {
		fail(err, errlen, "out of memory for the decompressor");
		return NULL;
	}
	r = ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG);
	if (ZSTD_isError(r)) {
		fail(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
		goto bad;
	}
	for (;;) {
		if (out.pos == have) {
			if (have == cap) {
				fail(err, errlen, "zstd frame expands beyond the %llu bytes the header says",
				     (unsigned long long)size);
				goto bad;
			}
			have = have ? have * 2 : 1 << 20;
			if (have > cap)
				have = cap;
			if (!(nb = realloc(buf, (size_t)have))) {
				fail(err, errlen, "out of memory for a %llu-byte payload",
				     (unsigned long long)size);
				goto bad;
			}
			buf = nb;
			out.dst = buf;
			out.size = (size_t)have;
		}
		lastin = in.pos;
		lastout = out.pos;
		r = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) == ZSTD_error_checksum_wrong)
				fail(err, errlen, "zstd checksum mismatch: the image is corrupt");
			else if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
				fail(err, errlen, "zstd frame expands beyond the %llu bytes the header says",
				     (unsigned long long)size);
			else
				fail(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
			goto bad;
		}
		if (r == 0)
			break;
		if (in.pos == lastin && out.pos == lastout && out.pos < out.size) {
			fail(err, errlen, "truncated zstd frame");
			goto bad;
		}
	}
	if (in.pos != in.size) {
		fail(err, errlen, "trailing data: %zu bytes after the zstd frame", in.size - in.pos);
		goto bad;
	}
	if (out.pos != size) {
		fail(err, errlen, "zstd frame holds %zu bytes, the header says %llu",
		     out.pos, (unsigned long long)size);
		goto bad;
	}
	ZSTD_freeDCtx(d);
	return buf;
bad:
	ZSTD_freeDCtx(d);
	free(buf);
	return NULL;
}

/* A cursor over the payload: every take() checks what is left first. */
struct cursor {
	const uint8_t *p;
	uint64_t left;
};

static const uint8_t *take(struct cursor *c, uint64_t n)
{
	const uint8_t *p = c->p;

	if (n > c->left)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

/* A text of len bytes and its terminating NUL, with no NUL inside (a C
 * string that stopped early would hide bytes from whoever reads it). */
static const char *take_text(struct cursor *c, uint64_t len)
{
	const uint8_t *p;

	if (len == UINT64_MAX || !(p = take(c, len + 1)))
		return NULL;
	if (p[len] != 0 || memchr(p, 0, (size_t)len))
		return NULL;
	return (const char *)p;
}

static int parse(struct image *img, uint64_t size, uint32_t version,
		 const struct image_limits *lim, char *err, size_t errlen)
{
	struct cursor c = { img->payload_, size };
	const uint8_t *h, *rec;
	uint64_t n, mlen, plen, len, i;
	struct image_entry *e;
	uint32_t type;

	h = take(&c, PAYLOAD_HDR);
	if (!h)
		return fail(err, errlen, "payload too short for its header");
	n = get32(h);
	mlen = get64(h + 8);
	plen = get64(h + 16);
	if (get32(h + 4) != 0)
		return fail(err, errlen, "reserved payload field not zero");
	if (n > lim->max_entries)
		return fail(err, errlen, "too many entries: %llu, the limit is %llu",
			    (unsigned long long)n, (unsigned long long)lim->max_entries);
	/* Checked before the allocation: the records must fit in the
	 * payload, so the entry array is bounded by the data at hand. */
	if (n > c.left / RECORD_SIZE)
		return fail(err, errlen, "entry count %llu does not fit in a %llu-byte payload",
			    (unsigned long long)n, (unsigned long long)size);
	if (mlen > lim->max_text || plen > lim->max_text)
		return fail(err, errlen, "manifest or policy longer than the limit of %llu bytes",
			    (unsigned long long)lim->max_text);
	rec = take(&c, n * RECORD_SIZE);
	if (!(img->manifest = take_text(&c, mlen)))
		return fail(err, errlen, "manifest truncated or holds a NUL byte");
	if (!(img->policy = take_text(&c, plen)))
		return fail(err, errlen, "policy truncated or holds a NUL byte");

	img->entry = e = calloc(n ? n : 1, sizeof *e);
	if (!e)
		return fail(err, errlen, "out of memory for %llu entries",
			    (unsigned long long)n);
	img->nentries = n;
	for (i = 0; i < n; i++, rec += RECORD_SIZE) {
		type = get32(rec);
		e[i].mode = get32(rec + 4);
		len = get32(rec + 8);
		e[i].size = get64(rec + 16);
		if (get32(rec + 12) != 0)
			return fail(err, errlen, "entry %llu: reserved field not zero",
				    (unsigned long long)i);
		if (len > IMAGE_PATH_MAX || !(e[i].path = take_text(&c, len)))
			return fail(err, errlen, "entry %llu: path too long, truncated or holds a NUL byte",
				    (unsigned long long)i);
		if (type != IMG_DIR && type != IMG_REG && type != IMG_SYMLINK &&
		    !(type == IMG_HARDLINK && version >= 2))
			return fail(err, errlen, "entry \"%.80s\": unknown entry type %u",
				    e[i].path, type);
		e[i].type = (enum image_type)type;
		if (e[i].type == IMG_REG) {
			if (!(e[i].data = take(&c, e[i].size)))
				return fail(err, errlen, "entry \"%.80s\": %llu bytes of data, %llu left in the payload",
					    e[i].path, (unsigned long long)e[i].size,
					    (unsigned long long)c.left);
		} else if (e[i].type == IMG_SYMLINK || e[i].type == IMG_HARDLINK) {
			if (e[i].size > IMAGE_PATH_MAX ||
			    !(e[i].target = take_text(&c, e[i].size)))
				return fail(err, errlen, "entry \"%.80s\": link target too long, truncated or holds a NUL byte",
					    e[i].path);
		}
	}
	if (c.left != 0)
		return fail(err, errlen, "unused bytes at the end of the payload: %llu",
			    (unsigned long long)c.left);
	if (version != version_of(e, n))
		return fail(err, errlen, "image version %u, but its entries make it version %u",
			    version, version_of(e, n));
	return check_tree(e, n, err, errlen);
}

int image_header(const uint8_t *file, uint64_t len, const struct image_limits *lim,
		 uint64_t *payload_size, char *err, size_t errlen)
{
	uint64_t csize, usize;
	size_t i;

	if (!lim)
		lim = &image_default_limits;
	if (len < IMAGE_HDR_SIZE)
		return fail(err, errlen, "truncated header: %llu bytes, need %d",
			    (unsigned long long)len, IMAGE_HDR_SIZE);
	if (memcmp(file, magic, 8) != 0)
		return fail(err, errlen, "bad magic: not a dunerun image");
	if (get32(file + 8) < 1 || get32(file + 8) > IMAGE_VERSION)
		return fail(err, errlen, "image version %u, this dunerun reads 1 to %d",
			    get32(file + 8), IMAGE_VERSION);
	if (get32(file + 12) != 0)
		return fail(err, errlen, "unknown header flags %#x", get32(file + 12));
	for (i = 64; i < IMAGE_HDR_SIZE; i++)
		if (file[i] != 0)
			return fail(err, errlen, "reserved header bytes not zero");
	csize = get64(file + 16);
	usize = get64(file + 24);
	if (csize != len - IMAGE_HDR_SIZE)
		return fail(err, errlen, "header says %llu compressed bytes, the file has %llu after the header",
			    (unsigned long long)csize, (unsigned long long)(len - IMAGE_HDR_SIZE));
	if (usize > lim->max_payload)
		return fail(err, errlen, "payload of %llu bytes is over the limit of %llu",
			    (unsigned long long)usize, (unsigned long long)lim->max_payload);
	if (usize > SIZE_MAX - 1)
		return fail(err, errlen, "payload of %llu bytes does not fit in memory",
			    (unsigned long long)usize);
	*payload_size = usize;
	return 0;
}

int image_read(const uint8_t *file, size_t len,
	       const struct image_limits *lim, struct image *out,
	       char *err, size_t errlen)
{
	uint64_t csize, usize;
	unsigned long long fcs;
	uint8_t digest[32];

	memset(out, 0, sizeof *out);
	if (!lim)
		lim = &image_default_limits;
	if (image_header(file, len, lim, &usize, err, errlen) < 0)
		return -1;
	csize = len - IMAGE_HDR_SIZE;

	/* The frame header must promise what the format requires before a
	 * byte is decompressed: zstd's magic, a checksum, the same size. */
	file += IMAGE_HDR_SIZE;
	if (csize < 5 || get32(file) != ZSTD_MAGICNUMBER)
		return fail(err, errlen, "payload is not a zstd frame");
	if (!(file[4] & 0x04))
		return fail(err, errlen, "zstd frame has no checksum");
	fcs = ZSTD_getFrameContentSize(file, (size_t)csize);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return fail(err, errlen, "bad or truncated zstd frame header");
	if (fcs != usize)
		return fail(err, errlen, fcs == ZSTD_CONTENTSIZE_UNKNOWN ?
			    "zstd frame does not state its size" :
			    "zstd frame size disagrees with the header");

	out->payload_ = inflate(file, (size_t)csize, usize, err, errlen);
	if (!out->payload_)
		return -1;
	sha256(out->payload_, (size_t)usize, digest);
	if (memcmp(digest, file - IMAGE_HDR_SIZE + 32, 32) != 0) {
		image_release(out);
		return fail(err, errlen, "payload digest mismatch: the image is corrupt");
	}
	memcpy(out->digest, digest, 32);
	if (parse(out, usize, get32(file - IMAGE_HDR_SIZE + 8), lim, err, errlen) < 0) {
		image_release(out);
		return -1;
	}
	return 0;
}

void image_release(struct image *img)
{
	if (!img)
		return;
	free(img->entry);
	free(img->payload_);
	memset(img, 0, sizeof *img);
}
