/*
 * unpack.c: a compressed layer made plain (rootfs_impl.h), gzip with
 * zlib, zstd with libzstd, told apart by magic bytes, never by name.
 *
 * The output goes into an anonymous memory file, then is mapped: the
 * tree points into it, and nothing touches the host's disk.  Output is
 * bounded (a small gzip can claim terabytes), and a stream cut short or
 * corrupt is an error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memfd_create */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "rootfs_impl.h"

#define OUT_CHUNK (1 << 20)

struct sink {
	int fd;
	uint64_t total, max;
	uint8_t *buf;
	int over;               /* the output passed max */
};

static int emit(struct sink *s, const uint8_t *p, size_t n)
{
	if (n > s->max - s->total) {
		s->over = 1;
		return -1;
	}
	s->total += n;
	while (n) {
		ssize_t w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *stored(const struct sink *s)
{
	return s->over ? "decompresses to more than an image can hold" : "cannot store the output";
}

static const char *gunzip(struct sink *s, const uint8_t *p, size_t len)
{
	z_stream z;
	int r = Z_OK;

	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return "out of memory";
	z.next_in = (Bytef *)p;
	for (;;) {
		/* zlib counts in uInt: feed at most 1 GiB at a time. */
		size_t left = len - (size_t)((const uint8_t *)z.next_in - p);
		if (z.avail_in == 0)
			z.avail_in = (uInt)(left > (1u << 30) ? 1u << 30 : left);
		z.next_out = s->buf;
		z.avail_out = OUT_CHUNK;
		r = inflate(&z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && !(r == Z_BUF_ERROR && z.avail_out < OUT_CHUNK))
			break;
		if (emit(s, s->buf, OUT_CHUNK - z.avail_out) < 0) {
			inflateEnd(&z);
			return stored(s);
		}
		if (r == Z_STREAM_END) {
			left = len - (size_t)((const uint8_t *)z.next_in - p);
			if (left == 0)
				break;
			/* Concatenated members are one stream (RFC 1952). */
			if (left < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) {
				inflateEnd(&z);
				return "bytes after the gzip stream";
			}
			inflateReset(&z);
		}
	}
	inflateEnd(&z);
	if (r == Z_STREAM_END)
		return NULL;
	if (r == Z_BUF_ERROR)
		return "truncated gzip stream";
	return r == Z_DATA_ERROR ? "corrupt gzip stream" : "gzip error";
}

static const char *unzstd(struct sink *s, const uint8_t *p, size_t len)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { p, len, 0 };
	size_t r = 1;

	if (!d)
		return "out of memory";
	/* 128 MiB windows at most: zstd's own default limit for streams. */
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
	while (in.pos < in.size) {
		ZSTD_outBuffer out = { s->buf, OUT_CHUNK, 0 };
		size_t before = in.pos;
		r = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(r)) {
			ZSTD_freeDCtx(d);
			return "corrupt zstd stream";
		}
		if (emit(s, s->buf, out.pos) < 0) {
			ZSTD_freeDCtx(d);
			return stored(s);
		}
		if (in.pos == before && out.pos == 0)
			break;
	}
	/* Flush what the decoder still holds once the input is used up. */
	while (r != 0) {
		ZSTD_outBuffer out = { s->buf, OUT_CHUNK, 0 };
		r = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(r) || out.pos == 0)
			break;
		if (emit(s, s->buf, out.pos) < 0) {
			ZSTD_freeDCtx(d);
			return stored(s);
		}
	}
	ZSTD_freeDCtx(d);
	if (ZSTD_isError(r))
		return "corrupt zstd stream";
	return r ? "truncated zstd stream" : NULL;
}

int rootfs_unpack(struct rootfs *fs, const uint8_t *p, size_t len, uint64_t max,
		  const uint8_t **out, size_t *outlen, const char *name,
		  char *err, size_t errlen)
{
	static const uint8_t gz[] = { 0x1f, 0x8b }, zs[] = { 0x28, 0xb5, 0x2f, 0xfd },
		xz[] = { 0xfd, '7', 'z', 'X', 'Z' }, bz[] = { 'B', 'Z', 'h' };
	const char *(*fn)(struct sink *, const uint8_t *, size_t) = NULL;
	struct sink s = { .max = max };
	const char *why;

	if (len >= 2 && !memcmp(p, gz, 2))
		fn = gunzip;
	else if (len >= 4 && !memcmp(p, zs, 4))
		fn = unzstd;
	else if ((len >= 5 && !memcmp(p, xz, 5)) || (len >= 3 && !memcmp(p, bz, 3)))
		return rootfs_fail(err, errlen, "%s: xz and bzip2 are not supported (gzip, zstd or plain tar)", name);
	if (!fn) {
		*out = p;
		*outlen = len;
		return 0;
	}
	s.fd = memfd_create("dunerun-layer", MFD_CLOEXEC);
	s.buf = malloc(OUT_CHUNK);
	if (s.fd < 0 || !s.buf) {
		if (s.fd >= 0)
			close(s.fd);
		free(s.buf);
		return rootfs_fail(err, errlen, "%s: cannot make a buffer: %s", name, strerror(errno));
	}
	why = fn(&s, p, len);
	free(s.buf);
	void *m = NULL;
	if (!why && s.total) {
		m = mmap(NULL, s.total, PROT_READ, MAP_PRIVATE, s.fd, 0);
		if (m == MAP_FAILED)
			why = "cannot map the output";
		else if (rootfs_keep_map(fs, m, s.total) < 0) {
			munmap(m, s.total);
			why = "out of memory";
		}
	}
	close(s.fd);
	if (why)
		return rootfs_fail(err, errlen, "%s: %s", name, why);
	*out = m ? m : (const uint8_t *)"";
	*outlen = s.total;
	return 0;
}
