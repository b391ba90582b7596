/*
 * fuzz_rootfs: libFuzzer harness for rootfs/ (tar reader, layers,
 * whiteouts, and the OCI and docker front ends).
 *
 * An input starting with 'L' is a source for rootfs_load (through a
 * memory file): a tar that may be a docker-save archive or an OCI layout
 * in a tar, compressed or not.  Any other input is one layer, applied
 * twice (so whiteouts and replacements meet a lower layer).
 *
 * Whatever is accepted must make a valid image: rootfs_entries handed to
 * image_write must never be refused (the tree keeps what an image holds,
 * or the build would fail late, or worse, write what a reader refuses).
 * A refusal must come with a one-line printable reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "rootfs.h"

static void check_tree(struct rootfs *fs)
{
	struct image img = { .manifest = "", .policy = "" };
	char err[200];
	size_t n;
	int fd = memfd_create("fuzz_rootfs", 0);

	img.entry = rootfs_entries(fs, &n);
	img.nentries = n;
	CHECK(img.entry && fd >= 0);
	if (image_write(fd, &img, NULL, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "image_write: %s\n", err);
		CHECK(0);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rootfs *fs = rootfs_new(4096, NULL, NULL);
	char err[600];
	int r;

	CHECK(fs);
	memset(err, 0, sizeof err);
	if (size > 0 && data[0] == 'L') {
		int fd = memfd_create("source", 0);
		char path[64];
		CHECK(fd >= 0 && write(fd, data + 1, size - 1) == (ssize_t)(size - 1));
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		r = rootfs_load(fs, AT_FDCWD, path, "source", err, sizeof err);
		close(fd);
	} else {
		/* An exact copy, so that ASan sees a read past the end. */
		uint8_t *p = malloc(size ? size : 1);
		CHECK(p);
		memcpy(p, data, size);
		r = rootfs_apply_tar(fs, p, size, "tar", "layer", err, sizeof err);
		if (r == 0)
			r = rootfs_apply_tar(fs, p, size, "tar", "layer", err, sizeof err);
		if (r == 0)
			check_tree(fs);
		rootfs_free(fs);
		free(p);
		if (r != 0)
			check_err(err, sizeof err);
		return 0;
	}
	if (r == 0)
		check_tree(fs);
	else
		check_err(err, sizeof err);
	rootfs_free(fs);
	return 0;
}
