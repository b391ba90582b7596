/*
 * The program's file view: a private mount namespace whose root is a
 * tmpfs holding the image's files (or the image's tree in the run cache,
 * bound), made read-only, with the binds and tmpfs mounts asked for and
 * a minimal /dev.  The host's tree is detached from the namespace after
 * pivot_root, so no path the program names, and no path the launcher
 * could be tricked into naming, reaches it.
 *
 * The tmpfs belongs to the namespace alone: when the launcher ends, in
 * whatever way, the kernel frees it.  Nothing is written to the host
 * here (the cache writes its entries before, cache/cache.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <asm/unistd.h>
#include <unistd.h>

#include "image.h"
#include "sandbox.h"

/* Where the new root is assembled before pivot_root.  Mounting over the
 * host's /tmp is invisible outside this namespace. */
#define STAGE "/tmp"

/* Device nodes every program may expect, bound from the host's /dev. */
static const char *const devices[] = { "null", "zero", "full", "random", "urandom" };

static int fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, SANDBOX_ERRLEN, fmt, ap);
	va_end(ap);
	return -1;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A mount namespace of our own.  Without CAP_SYS_ADMIN, a user namespace
 * first, in which we keep our uid and gid. */
static int new_mount_namespace(char *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (unshare(CLONE_NEWNS) == 0)
		return 0;
	if (errno != EPERM)
		return fail(err, "cannot create a mount namespace: %s", strerror(errno));
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return fail(err, "cannot create a mount namespace: %s (run as root, "
			    "or enable unprivileged user namespaces)", strerror(errno));
	snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
	if (write_file("/proc/self/setgroups", "deny") < 0 ||
	    write_file("/proc/self/uid_map", map) < 0)
		return fail(err, "cannot map our uid in the user namespace: %s", strerror(errno));
	snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return fail(err, "cannot map our gid in the user namespace: %s", strerror(errno));
	return 0;
}

/*
 * Opens the directory path (absolute, in the tree under root) for
 * mounting on, creating missing components as directories, or the last
 * one as an empty file when file is set.  Never follows a symlink: the
 * image's links must not steer a mount out of the view.
 */
static int make_mountpoint(int root, const char *path, int file, char *err)
{
	char name[256];
	int dir = dup(root), fd;
	const char *p = path;

	while (dir >= 0) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			return dir;
		if (n >= sizeof name || (n <= 2 && !strncmp(p, "..", n))) {
			close(dir);
			return fail(err, "%s: not a usable mount point", path);
		}
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		int last = strspn(p, "/") == strlen(p);
		if (last && file) {
			fd = openat(dir, name, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd >= 0) {
				close(fd);
				fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			}
		} else {
			if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
				fd = -1;
			else
				fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		close(dir);
		if (fd < 0)
			return fail(err, "%s: cannot make a mount point at %s: %s", path, name,
				    errno == ENOTDIR || errno == ELOOP ? "a file or symlink is in the way"
								     : strerror(errno));
		dir = fd;
	}
	return fail(err, "%s: %s", path, strerror(errno));
}

/* mount(2) on the object behind an O_PATH descriptor. */
static int mount_at(const char *src, int target, const char *type,
		    unsigned long flags, const char *data)
{
	char path[40];

	snprintf(path, sizeof path, "/proc/self/fd/%d", target);
	return mount(src, path, type, flags, data);
}

/*
 * Binds the tree at src onto target, both O_PATH descriptors.  The new
 * mount API sets the flags on a detached copy before it is attached, so
 * there is no moment when a read-only bind is writable.  nosuid always;
 * a read-only source stays read-only whatever rw says.
 */
static int bind_at(int src, int target, int rw)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_NOSUID | (rw ? 0 : MOUNT_ATTR_RDONLY),
	};
	int tree = (int)syscall(__NR_open_tree, src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				AT_RECURSIVE | AT_EMPTY_PATH);
	int r;

	if (tree < 0)
		return -1;
	r = (int)syscall(__NR_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
			 &attr, sizeof attr);
	if (r == 0)
		r = (int)syscall(__NR_move_mount, tree, "", target, "",
				 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	close(tree);
	return r;
}

static int create_entry(int root, const struct image_entry *e)
{
	int fd;
	const uint8_t *p;
	uint64_t left;

	switch (e->type) {
	case IMG_DIR:
		/* Writable until view_extract is done with it. */
		return mkdirat(root, e->path, e->mode | 0700);
	case IMG_SYMLINK:
		return symlinkat(e->target, root, e->path);
	case IMG_HARDLINK:
		/* The file it names sorts first, so it is already here. */
		return linkat(root, e->target, root, e->path, 0);
	case IMG_REG:
		fd = openat(root, e->path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, e->mode);
		if (fd < 0)
			return -1;
		for (p = e->data, left = e->size; left > 0;) {
			ssize_t n = write(fd, p, left > (1 << 30) ? 1 << 30 : left);
			if (n <= 0) {
				if (n == 0)
					errno = ENOSPC;
				close(fd);
				return -1;
			}
			p += n;
			left -= n;
		}
		return close(fd);
	}
	errno = EINVAL;
	return -1;
}

/*
 * Writes the image's tree under root.  image_read has checked every path
 * and target, sorted the entries so parents come first, and refused
 * duplicates; O_EXCL and O_NOFOLLOW make sure of it anyway, since the
 * parents are walked by name here.
 */
static int extract(int root, const struct image *img, char *err)
{
	mode_t old = umask(0);
	size_t i;

	for (i = 0; i < img->nentries; i++)
		if (create_entry(root, &img->entry[i]) < 0) {
			umask(old);
			return fail(err, "cannot extract /%s: %s", img->entry[i].path,
				    strerror(errno));
		}
	umask(old);
	return 0;
}

int view_extract(int root, const struct image *img, char err[SANDBOX_ERRLEN])
{
	size_t i = img->nentries;

	if (extract(root, img, err) < 0)
		return -1;
	/* Children first: a directory without search permission would hide
	 * its own from fchmodat (ours, outside a user namespace). */
	while (i-- > 0) {
		const struct image_entry *e = &img->entry[i];
		if (e->type == IMG_DIR && (e->mode & 0700) != 0700 &&
		    fchmodat(root, e->path, e->mode, 0) < 0)
			return fail(err, "cannot extract /%s: %s", e->path, strerror(errno));
	}
	return 0;
}

/* /dev as a small tmpfs with the harmless host devices bound in, unless
 * the image has a /dev of its own that is not a directory. */
static int make_dev(int root, char *err)
{
	struct stat st;
	size_t i;
	int dev, host;

	if (fstatat(root, "dev", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
		return 0;
	if ((dev = make_mountpoint(root, "/dev", 0, err)) < 0)
		return -1;
	if (mount_at("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0) {
		close(dev);
		return fail(err, "cannot mount /dev: %s", strerror(errno));
	}
	close(dev);
	for (i = 0; i < sizeof devices / sizeof devices[0]; i++) {
		char path[32];
		snprintf(path, sizeof path, "/dev/%s", devices[i]);
		host = open(path, O_PATH | O_CLOEXEC);
		if (host < 0)
			continue;       /* a host without it: the program gets ENOENT */
		int target = make_mountpoint(root, path, 1, err);
		int r = target < 0 ? -1 : bind_at(host, target, 1);
		close(host);
		if (target >= 0)
			close(target);
		if (r < 0)
			return target < 0 ? -1 : fail(err, "cannot bind %s: %s", path, strerror(errno));
	}
	return 0;
}

static int mount_tmpfs(int root, const struct tmpfs_mount *t, char *err)
{
	char opts[64];
	int target = make_mountpoint(root, t->guest, 0, err);

	if (target < 0)
		return -1;
	snprintf(opts, sizeof opts, "mode=1777,size=%llu", (unsigned long long)t->size);
	int r = mount_at("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts);
	close(target);
	return r < 0 ? fail(err, "--tmpfs %s: %s", t->guest, strerror(errno)) : 0;
}

static int mount_bind(int root, int src, const struct bind *b, char *err)
{
	struct stat st;

	if (fstat(src, &st) < 0)
		return fail(err, "--bind %s: %s", b->host, strerror(errno));
	int target = make_mountpoint(root, b->guest, !S_ISDIR(st.st_mode), err);
	if (target < 0)
		return -1;
	int r = bind_at(src, target, b->rw);
	close(target);
	return r < 0 ? fail(err, "--bind %s:%s: %s", b->host, b->guest, strerror(errno)) : 0;
}

/* Binds and tmpfs mounts under root, in the order given. */
static int mount_extras(int root, const struct view *v, const int *src, char *err)
{
	int i;

	for (i = 0; i < v->ntmpfs; i++)
		if (mount_tmpfs(root, &v->tmpfs[i], err) < 0)
			return -1;
	for (i = 0; i < v->nbind; i++)
		if (mount_bind(root, src[i], &v->bind[i], err) < 0)
			return -1;
	return 0;
}

/* Makes the tree at STAGE the root and detaches the host's. */
static int pivot(char *err)
{
	if (chdir(STAGE) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(err, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return fail(err, "cannot detach the host's tree: %s", strerror(errno));
	/* Read-only from here: only binds and tmpfs mounts stay writable. */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return fail(err, "cannot make the image read-only: %s", strerror(errno));
	return 0;
}

/*
 * An extracted tree (the run cache's) bound read-only at STAGE.  It is
 * opened again by path in this namespace, where open_tree can clone it,
 * and must be the very directory the caller checked (v->tree_fd).
 */
static int tree_root(const struct view *v, char *err)
{
	struct stat a, b;
	int src = open(v->tree, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), stage, r = -1;

	if (src < 0 || fstat(src, &a) < 0 || fstat(v->tree_fd, &b) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		if (src >= 0)
			close(src);
		return fail(err, "%s: not the cached tree that was checked", v->tree);
	}
	stage = open(STAGE, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (stage >= 0) {
		r = bind_at(src, stage, 0);
		close(stage);
	}
	close(src);
	return r < 0 ? fail(err, "cannot bind the cached tree %s: %s", v->tree, strerror(errno)) : 0;
}

static int image_root(const struct view *v, const int *src, char *err)
{
	int root, r;

	if (v->tree ? tree_root(v, err) < 0 :
	    mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return v->tree ? -1 : fail(err, "cannot mount the image's tmpfs: %s", strerror(errno));
	root = open(STAGE, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return fail(err, "%s: %s", STAGE, strerror(errno));
	r = v->tree ? 0 : view_extract(root, v->img, err);
	if (r == 0)
		r = make_dev(root, err);
	if (r == 0 && v->workdir && (r = make_mountpoint(root, v->workdir, 0, err)) >= 0)
		r = close(r);
	if (r == 0)
		r = mount_extras(root, v, src, err);
	close(root);
	return r < 0 ? -1 : pivot(err);
}

/* exec: the host's tree with the binds and tmpfs mounts over it.  Their
 * mount points must exist: the launcher creates nothing on the host. */
static int host_root(const struct view *v, const int *src, char *err)
{
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), r;
	int i;
	struct stat st;

	if (root < 0)
		return fail(err, "/: %s", strerror(errno));
	for (i = 0; i < v->ntmpfs; i++)
		if (stat(v->tmpfs[i].guest, &st) < 0 || !S_ISDIR(st.st_mode)) {
			close(root);
			return fail(err, "--tmpfs %s: not an existing directory", v->tmpfs[i].guest);
		}
	for (i = 0; i < v->nbind; i++)
		if (stat(v->bind[i].guest, &st) < 0) {
			close(root);
			return fail(err, "--bind %s: %s does not exist (exec mounts over the host's "
				    "tree, it creates nothing)", v->bind[i].host, v->bind[i].guest);
		}
	r = mount_extras(root, v, src, err);
	close(root);
	return r;
}

int view_enter(const struct view *v, int *procfd, char err[SANDBOX_ERRLEN])
{
	int src[64], i = 0, r = -1;

	*procfd = -1;
	if (v->nbind > (int)(sizeof src / sizeof src[0]))
		return fail(err, "too many --bind options (at most %zu)", sizeof src / sizeof src[0]);
	if (v->img || v->tree || v->nbind || v->ntmpfs) {
		if (new_mount_namespace(err) < 0)
			return -1;
		/* Nothing we mount may propagate back to the host's namespace. */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return fail(err, "cannot make our mounts private: %s", strerror(errno));
	}
	/* Opened in the new namespace: only its mounts can be cloned. */
	for (i = 0; i < v->nbind; i++) {
		src[i] = open(v->bind[i].host, O_PATH | O_CLOEXEC);
		if (src[i] < 0) {
			fail(err, "--bind %s: %s", v->bind[i].host, strerror(errno));
			goto out;
		}
	}
	*procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*procfd < 0) {
		fail(err, "/proc: %s (dunerun needs procfs)", strerror(errno));
		goto out;
	}
	if (!v->img && !v->tree && v->nbind == 0 && v->ntmpfs == 0) {
		r = 0;          /* exec with nothing to mount: the host's tree as it is */
		goto out;
	}
	r = v->img || v->tree ? image_root(v, src, err) : host_root(v, src, err);
out:
	if (v->tree)
		close(v->tree_fd);
	while (--i >= 0)
		close(src[i]);
	return r;
}
