/*
 * fuzz_image: libFuzzer harness for image_read (images/image.c).
 *
 *	tests/fuzz/build_image_fuzzer.sh build      # -> build/fuzz/fuzz_image
 *	build/fuzz/fuzz_image -max_total_time=300 tests/fuzz/corpus/image
 *
 * An input starting with 'P' (or 'Q') is a payload: the harness
 * compresses the rest and puts a correct version-1 (version-2) header on it, so that the fuzzer reaches the
 * payload parser without having to forge a sha256.  Any other input is
 * the image file itself, for the header and frame checks.
 *
 * Whatever image_read accepts must satisfy what image.h promises, since
 * the runner uses it without checking again; written back with
 * image_write it must give the same payload (the format has one encoding
 * per content).  A refusal must come with a one-line printable reason.
 * Any broken promise aborts.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include "fuzz.h"
#include "image.h"


/* Small limits: the fuzzer's memory limit is not the runner's. */
static const struct image_limits lim = {
	.max_payload = 1 << 20,
	.max_entries = 4096,
	.max_text = 64 << 10,
};


static int is_type(const struct image *img, const char *path, size_t len,
		   enum image_type type)
{
	size_t i;

	for (i = 0; i < img->nentries; i++)
		if (strlen(img->entry[i].path) == len &&
		    memcmp(img->entry[i].path, path, len) == 0)
			return img->entry[i].type == type;
	return 0;
}

static void check_image(const struct image *img)
{
	volatile uint8_t sink = 0;
	const struct image_entry *e;
	const char *slash;
	size_t i;

	CHECK(img->manifest && strlen(img->manifest) <= lim.max_text);
	CHECK(img->policy && strlen(img->policy) <= lim.max_text);
	CHECK(img->nentries <= lim.max_entries);
	for (i = 0; i < img->nentries; i++) {
		e = &img->entry[i];
		CHECK(image_path_ok(e->path));
		CHECK(i == 0 || strcmp(img->entry[i - 1].path, e->path) < 0);
		CHECK((e->mode & ~0777u) == 0);
		slash = strrchr(e->path, '/');
		CHECK(!slash || is_type(img, e->path, (size_t)(slash - e->path), IMG_DIR));
		switch (e->type) {
		case IMG_DIR:
			CHECK(e->size == 0 && !e->data && !e->target);
			break;
		case IMG_REG:
			CHECK(e->data && !e->target && e->size <= lim.max_payload);
			if (e->size) {
				sink ^= e->data[0];
				sink ^= e->data[e->size - 1];
			}
			break;
		case IMG_SYMLINK:
			CHECK(e->target && !e->data && e->size == strlen(e->target));
			CHECK(image_target_ok(e->path, e->target));
			break;
		case IMG_HARDLINK:
			CHECK(e->target && !e->data && e->size == strlen(e->target));
			CHECK(strcmp(e->target, e->path) < 0);
			CHECK(is_type(img, e->target, strlen(e->target), IMG_REG));
			break;
		default:
			CHECK(0);
		}
	}
	(void)sink;
}

/* Written back, the image must have the same payload, so the same
 * digest, and read again the same entries. */
static void check_rewrite(struct image *img)
{
	uint8_t digest[32], *f;
	struct image again;
	char err[200];
	off_t len;
	int fd;

	memcpy(digest, img->digest, 32);
	fd = memfd_create("fuzz_image", 0);
	CHECK(fd >= 0);
	CHECK(image_write(fd, img, NULL, NULL, err, sizeof err) == 0);
	CHECK(memcmp(digest, img->digest, 32) == 0);
	len = lseek(fd, 0, SEEK_END);
	f = malloc((size_t)len);
	CHECK(f && pread(fd, f, (size_t)len, 0) == len);
	close(fd);
	CHECK(image_read(f, (size_t)len, &lim, &again, err, sizeof err) == 0);
	CHECK(again.nentries == img->nentries);
	CHECK(memcmp(again.digest, digest, 32) == 0);
	image_release(&again);
	free(f);
}

/* The file for a payload: header and a frame at level 1. */
static uint8_t *seal(const uint8_t *p, size_t len, int version, size_t *flen)
{
	size_t cap = ZSTD_compressBound(len), r;
	ZSTD_CCtx *c = ZSTD_createCCtx();
	uint8_t *f = malloc(IMAGE_HDR_SIZE + cap);
	int i;

	CHECK(c && f);
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	r = ZSTD_compress2(c, f + IMAGE_HDR_SIZE, cap, p, len);
	CHECK(!ZSTD_isError(r));
	ZSTD_freeCCtx(c);
	memset(f, 0, IMAGE_HDR_SIZE);
	memcpy(f, "DUNEIMG", 8);
	f[8] = (uint8_t)version;
	for (i = 0; i < 8; i++) {
		f[16 + i] = (uint8_t)(r >> 8 * i);
		f[24 + i] = (uint8_t)((uint64_t)len >> 8 * i);
	}
	sha256(p, len, f + 32);
	*flen = IMAGE_HDR_SIZE + r;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image img;
	uint8_t *f;
	size_t len;
	char err[160];

	if (size > 0 && (data[0] == 'P' || data[0] == 'Q')) {
		f = seal(data + 1, size - 1, data[0] == 'P' ? 1 : 2, &len);
	} else {
		/* An exact copy, so that ASan sees a read past the end. */
		f = malloc(size ? size : 1);
		CHECK(f);
		memcpy(f, data, size);
		len = size;
	}
	memset(err, 0, sizeof err);
	if (image_read(f, len, &lim, &img, err, sizeof err) == 0) {
		free(f);        /* the image must not point into the file */
		check_image(&img);
		check_rewrite(&img);
		image_release(&img);
	} else {
		free(f);
		check_err(err, sizeof err);
		CHECK(img.entry == NULL && img.nentries == 0);
	}
	return 0;
}
