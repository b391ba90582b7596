/*
 * dir.c: a directory as a root filesystem (rootfs.h): walked without
 * following a symlink, each regular file mapped, a file with several
 * links remembered by device and inode so its other names become hard
 * links.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs_impl.h"

#define MAX_DEPTH 512           /* directories inside directories */

struct walk {
	struct rootfs *fs;
	const char *source;
	struct { dev_t dev; ino_t ino; char *path; } *seen;    /* hard links */
	size_t nseen;
	char *err;
	size_t errlen;
};

/* The first path seen for a file with several links, or NULL (and it
 * is remembered). */
static const char *seen_before(struct walk *w, const struct stat *st, const char *path)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return w->seen[i].path;
	void *n = realloc(w->seen, (w->nseen + 1) * sizeof *w->seen);
	if (n) {
		w->seen = n;
		w->seen[w->nseen].dev = st->st_dev;
		w->seen[w->nseen].ino = st->st_ino;
		if ((w->seen[w->nseen].path = strdup(path)))
			w->nseen++;
	}
	return NULL;
}

static int walk_dir(struct walk *w, int fd, const char *path, int depth);

/* One directory entry at dir/name, its image path being path. */
static int walk_one(struct walk *w, int dir, const char *name, const char *path, int depth)
{
	struct stat st;
	char link[IMAGE_PATH_MAX + 1];
	struct rootfs_member m = { .name = path, .link = link };
	int fd = -1, r;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return rootfs_fail(w->err, w->errlen, "%s: %s: %s", w->source, path, strerror(errno));
	m.mode = st.st_mode & 07777;
	m.uid = st.st_uid;
	m.gid = st.st_gid;
	link[0] = 0;
	if (S_ISSOCK(st.st_mode)) {
		w->fs->stats.sockets++;
		return 0;
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dir, name, link, sizeof link - 1);
		if (n < 0 || n >= (ssize_t)sizeof link - 1)
			return rootfs_fail(w->err, w->errlen, "%s: %s: cannot read the link", w->source, path);
		link[n] = 0;
		m.type = TAR_SYMLINK;
	} else if (S_ISDIR(st.st_mode)) {
		m.type = TAR_DIR;
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		m.type = S_ISCHR(st.st_mode) ? TAR_CHR : TAR_BLK;
	} else if (S_ISFIFO(st.st_mode)) {
		m.type = TAR_FIFO;
	} else {
		const char *first = st.st_nlink > 1 ? seen_before(w, &st, path) : NULL;
		m.type = first ? TAR_HARDLINK : TAR_REG;
		if (first)
			snprintf(link, sizeof link, "%s", first);
	}
	if (m.type == TAR_REG || m.type == TAR_DIR) {
		fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			    (m.type == TAR_DIR ? O_DIRECTORY : 0));
		if (fd < 0)
			return rootfs_fail(w->err, w->errlen, "%s: %s: %s", w->source, path, strerror(errno));
		if (m.type == TAR_REG) {
			size_t len;
			r = rootfs_map_fd(w->fs, fd, &m.data, &len);
			m.size = len;
			close(fd);
			if (r < 0)
				return rootfs_fail(w->err, w->errlen, "%s: %s: %s", w->source, path, strerror(errno));
		}
	}
	char why[256];
	if (rootfs_member(w->fs, &m, why, sizeof why) < 0) {
		if (fd >= 0 && m.type == TAR_DIR)
			close(fd);
		return rootfs_fail(w->err, w->errlen, "%s: %s: %s", w->source, path, why);
	}
	return m.type == TAR_DIR ? walk_dir(w, fd, path, depth + 1) : 0;
}

/* Takes fd. */
static int walk_dir(struct walk *w, int fd, const char *path, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(fd);
		return rootfs_fail(w->err, w->errlen, "%s: %s: %s", w->source, path, strerror(errno));
	}
	if (depth > MAX_DEPTH) {
		closedir(d);
		return rootfs_fail(w->err, w->errlen, "%s: %s: directories nested too deep", w->source, path);
	}
	while (r == 0 && (errno = 0, de = readdir(d))) {
		char sub[IMAGE_PATH_MAX + 2];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "/" : "", de->d_name) >= (int)sizeof sub - 1)
			r = rootfs_fail(w->err, w->errlen, "%s: %s/%s: name too long", w->source, path, de->d_name);
		else
			r = walk_one(w, dirfd(d), de->d_name, sub, depth);
	}
	if (r == 0 && errno)
		r = rootfs_fail(w->err, w->errlen, "%s: %s: %s", w->source, path, strerror(errno));
	closedir(d);
	return r;
}

int rootfs_directory(struct rootfs *fs, int fd, const char *name, char *err, size_t errlen)
{
	struct walk w = { .fs = fs, .source = name, .err = err, .errlen = errlen };
	int r;

	if (rootfs_begin_layer(fs, "dir", name) < 0) {
		close(fd);
		return rootfs_fail(err, errlen, "out of memory");
	}
	r = walk_dir(&w, fd, "", 0);
	for (size_t i = 0; i < w.nseen; i++)
		free(w.seen[i].path);
	free(w.seen);
	if (r == 0)
		rootfs_end_layer(fs);
	return r;
}
