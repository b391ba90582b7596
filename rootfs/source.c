/*
 * source.c: what a FROM names, told apart and read (rootfs.h): a
 * directory (dir.c), an OCI layout in a directory or a tar, a
 * docker-save archive (oci.c), or a tar archive of a tree; and the store
 * the image formats read their named files from.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs_impl.h"

int rootfs_apply_tar(struct rootfs *fs, const uint8_t *p, size_t len,
		     const char *kind, const char *name, char *err, size_t errlen)
{
	const uint8_t *q;
	size_t qlen;

	if (rootfs_unpack(fs, p, len, image_default_limits.max_payload, &q, &qlen,
			  name, err, errlen) < 0)
		return -1;
	return rootfs_apply_plain(fs, q, qlen, kind, name, err, errlen);
}

/* Maps fd whole (kept in fs); an empty file is "" of length 0. */
int rootfs_map_fd(struct rootfs *fs, int fd, const uint8_t **p, size_t *len)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	*len = (size_t)st.st_size;
	*p = (const uint8_t *)"";
	if (st.st_size == 0)
		return 0;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	if (rootfs_keep_map(fs, m, (size_t)st.st_size) < 0) {
		munmap(m, (size_t)st.st_size);
		errno = ENOMEM;
		return -1;
	}
	*p = m;
	return 0;
}

/* The member of an archive named path (clean), following the links that
 * docker save uses between layers.  1 if found, 0 if not, -1 on error. */
int rootfs_tar_find(const uint8_t *p, size_t len, const char *path,
		    const uint8_t **data, size_t *size, char *err, size_t errlen)
{
	char want[IMAGE_PATH_MAX + 1], got[IMAGE_PATH_MAX + 1];
	struct tar *t = malloc(sizeof *t);
	struct tar_member m;
	int r = 0;

	if (!t)
		return rootfs_fail(err, errlen, "out of memory");
	snprintf(want, sizeof want, "%s", path);
	for (int hops = 0; hops < 8 && r == 0; hops++) {
		tar_init(t, p, len);
		while ((r = tar_next(t, &m, err, errlen)) == 1) {
			if (rootfs_clean_name(m.name, got, sizeof got) < 0 || strcmp(got, want))
				continue;
			if (m.type == TAR_REG) {
				*data = m.data;
				*size = m.size;
				break;
			}
			if (m.type != TAR_SYMLINK && m.type != TAR_HARDLINK) {
				r = 0;
				break;
			}
			/* A symlink is read from its directory, a hard link from the top. */
			char *slash = strrchr(got, '/');
			char next[2 * IMAGE_PATH_MAX + 2];
			if (m.type == TAR_SYMLINK && slash && m.link[0] != '/')
				snprintf(next, sizeof next, "%.*s/%s", (int)(slash - got), got, m.link);
			else
				snprintf(next, sizeof next, "%s", m.link);
			/* Fold "dir/../" as docker's relative layer links need. */
			char *s;
			while ((s = strstr(next, "/../"))) {
				char *b = s;
				while (b > next && b[-1] != '/')
					b--;
				memmove(b, s + 4, strlen(s + 4) + 1);
			}
			if (rootfs_clean_name(next, want, sizeof want) < 0) {
				r = 0;
				break;
			}
			r = 2;                  /* look again for want */
			break;
		}
		if (r == 2)
			r = 0;
		else
			break;
	}
	free(t);
	return r;
}

/* Puts "name: " before the message in err. */
static int prefix(char *err, size_t errlen, const char *name)
{
	char why[512];

	snprintf(why, sizeof why, "%s", err);
	return rootfs_fail(err, errlen, "%s: %s", name, why);
}

/* The file at path in the store.  Missing: an error naming it. */
int rootfs_get(struct rootfs *fs, const struct store *st, const char *path,
	       const uint8_t **p, size_t *len, char *err, size_t errlen)
{
	if (st->dirfd < 0) {
		int r = rootfs_tar_find(st->tar, st->tarlen, path, p, len, err, errlen);
		if (r < 0)
			return prefix(err, errlen, st->source);
		if (r == 0)
			return rootfs_fail(err, errlen, "%s: %s is missing", st->source, path);
		return 0;
	}
	int fd = openat(st->dirfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return rootfs_fail(err, errlen, "%s: %s %s", st->source, path,
				   errno == ENOENT ? "is missing" : strerror(errno));
	int r = rootfs_map_fd(fs, fd, p, len);
	close(fd);
	if (r < 0)
		return rootfs_fail(err, errlen, "%s: %s: %s", st->source, path,
				   errno == EINVAL ? "not a regular file" : strerror(errno));
	return 0;
}

/* ---- what a source is ------------------------------------------------ */

int rootfs_load(struct rootfs *fs, int dirfd, const char *source, const char *name,
		char *err, size_t errlen)
{
	struct store st = { .dirfd = -1, .source = name };
	const uint8_t *p, *q, *d;
	size_t len, qlen, dlen;
	struct stat sb;
	/* O_NONBLOCK: a FIFO named as a source must not hang the build. */
	int fd = openat(dirfd, source, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0) {
		rootfs_fail(err, errlen, "%s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(sb.st_mode)) {
		if (faccessat(fd, "oci-layout", F_OK, 0) == 0) {
			st.dirfd = fd;
			int r = rootfs_oci(fs, &st, err, errlen);
			close(fd);
			return r;
		}
		return rootfs_directory(fs, fd, name, err, errlen);
	}
	int r = rootfs_map_fd(fs, fd, &p, &len);
	close(fd);
	if (r < 0)
		return rootfs_fail(err, errlen, "%s: %s", name,
				   errno == EINVAL ? "not a directory or a file" : strerror(errno));
	if (rootfs_unpack(fs, p, len, image_default_limits.max_payload, &q, &qlen, name, err, errlen) < 0)
		return -1;
	st.tar = q;
	st.tarlen = qlen;
	if ((r = rootfs_tar_find(q, qlen, "manifest.json", &d, &dlen, err, errlen)) == 1)
		return rootfs_docker(fs, &st, err, errlen);
	if (r == 0 && (r = rootfs_tar_find(q, qlen, "oci-layout", &d, &dlen, err, errlen)) == 1)
		return rootfs_oci(fs, &st, err, errlen);
	if (r < 0)
		return prefix(err, errlen, name);
	return rootfs_apply_plain(fs, q, qlen, "tar", name, err, errlen);
}
