/*
 * The run cache (cache.h): entries named by an image's digest, each a
 * directory holding the extracted tree ("root") and a meta file ("meta").
 *
 *	DIR/<digest>.lock       flock'ed: shared by runs, exclusive to make
 *	DIR/<digest>/root/      the tree, as the image has it
 *	DIR/<digest>/meta       header, manifest, policy, index, sha256
 *	DIR/tmp.<digest>.*      an entry being made, or left by a crash
 *
 * The meta file is ours and checked (a sha256 over it catches a torn or
 * corrupted file); the tree is checked against the index on each use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "sandbox.h"

#define META_MAGIC "DUNERUN-CACHE\0\0\1"   /* 16 bytes: the meta file's version 1 */
#define META_MAX   (256u << 20)            /* 1 Mi entries of index, with paths */
#define LOCK_WAIT_MS 60000                 /* for another run to make an entry */

/* A growing byte buffer for the meta file. */
struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

/* A reader over the meta file: every take is bounds-checked. */
struct cursor {
	const uint8_t *p;
	size_t left;
};

static int fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, CACHE_ERRLEN, fmt, ap);
	va_end(ap);
	return -1;
}

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

/* Copies the next n bytes of the meta file to out (unless NULL) and
 * returns where they are, or NULL past its end. */
static const uint8_t *take(struct cursor *c, void *out, size_t n)
{
	const uint8_t *p = c->p;

	if (n > c->left)
		return NULL;
	if (out)
		memcpy(out, p, n);
	c->p += n;
	c->left -= n;
	return p;
}

/* A text of the meta file, as a malloc'd C string. */
static char *take_text(struct cursor *c)
{
	uint64_t n;
	const uint8_t *p;
	char *s;

	if (!take(c, &n, 8) || n > c->left || !(p = take(c, NULL, n)) ||
	    memchr(p, 0, n) || !(s = malloc(n + 1)))
		return NULL;
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static uint64_t ns(struct timespec t)
{
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One index record: what an lstat of the path must show again. */
static void put_record(struct buf *b, const char *path, const struct stat *st)
{
	uint32_t head[2] = { st->st_mode, (uint32_t)strlen(path) };

	put(b, head, 8);
	put64(b, st->st_size);
	put64(b, st->st_ino);
	put64(b, ns(st->st_mtim));
	put64(b, ns(st->st_ctim));
	put(b, path, head[1]);
}

/*
 * Appends the index of the tree under dir, whose path relative to the
 * tree is path[0..len) (empty for the root), depth first.  Counts the
 * records in *n.  Never follows a symlink; a mount point inside the tree
 * (another st_dev) is refused.
 */
static int index_tree(struct buf *b, int dir, char *path, size_t len, dev_t dev,
		      uint64_t *n)
{
	struct dirent *d;
	struct stat st;
	DIR *dp = fdopendir(dir);
	int r = 0;

	if (!dp) {
		close(dir);
		return -1;
	}
	while (r == 0 && (d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		size_t k = strlen(d->d_name), at = len ? len + 1 : 0;
		if (at + k > IMAGE_PATH_MAX) {
			errno = ENAMETOOLONG;
			r = -1;
			break;
		}
		if (at)
			path[len] = '/';
		memcpy(path + at, d->d_name, k + 1);
		if (fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (st.st_dev != dev && (errno = EXDEV))) {
			r = -1;
			break;
		}
		put_record(b, path, &st);
		++*n;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(dp), d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = sub < 0 ? -1 : index_tree(b, sub, path, at + k, dev, n);
		}
		path[len] = 0;
	}
	closedir(dp);
	return r;
}

/* The digest in hex, the entry's name. */
static void hex(const uint8_t digest[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/*
 * Removes name under dir, a tree or not, never following a symlink and
 * never entering another filesystem (a mount point in the cache is left
 * alone, with EXDEV).  Directories are made writable first, since an
 * image's may not be.  ENOENT is success.
 */
static int remove_tree(int dir, const char *name, dev_t dev)
{
	struct stat st;
	struct dirent *d;
	DIR *dp;
	int fd, r = 0;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	if (st.st_dev != dev) {
		errno = EXDEV;
		return -1;
	}
	if ((st.st_mode & 0700) != 0700)
		fchmodat(dir, name, 0700, 0);
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
		    remove_tree(dirfd(dp), d->d_name, dev) < 0)
			r = -1;
	closedir(dp);
	if (r == 0 && unlinkat(dir, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

int cache_where(const char *opt, char *out, size_t len, char err[CACHE_ERRLEN])
{
	const char *env = getenv("DUNERUN_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (opt)
		n = snprintf(out, len, "%s", opt);
	else if (env && *env)
		n = snprintf(out, len, "%s", env);
	else if (xdg && xdg[0] == '/') {
		mkdir(xdg, 0700);
		n = snprintf(out, len, "%s/dunerun", xdg);
	} else if (home && home[0] == '/') {
		/* ~/.cache may not exist yet: the user's, private, as XDG says. */
		n = snprintf(out, len, "%s/.cache", home);
		if (n > 0 && (size_t)n < len)
			mkdir(out, 0700);
		n = snprintf(out, len, "%s/.cache/dunerun", home);
	} else if (geteuid() == 0)
		n = snprintf(out, len, "/var/cache/dunerun");
	else
		return fail(err, "no cache directory: HOME is not set (set DUNERUN_CACHE, or use --no-cache)");
	if (n <= 0 || (size_t)n >= len)
		return fail(err, "the cache directory's path is too long");
	return 0;
}

/*
 * Opens the cache directory, creating it (mode 0700) if create is set.
 * It must be a real directory, not a symlink, owned by us and writable by
 * no one else: another user who could write in it could make our runs
 * see any files.
 */
static int open_dir(const char *path, int create, char *err)
{
	struct stat st;
	int fd;

	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return fail(err, "cache %s: cannot create it: %s", path, strerror(errno));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT && !create ? -2 :
			fail(err, "cache %s: %s", path,
			     errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory" : strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return fail(err, "cache %s: not ours, or writable by others (mode %o): not used",
			    path, st.st_mode & 07777);
	}
	return fd;
}

/* Looks at an entry another run also locks this many times (cache_open). */
#define MAKE_TRIES 8

/*
 * flock(fd, how), except that a blocking request gives up after
 * LOCK_WAIT_MS with EWOULDBLOCK: a run that is stopped or stuck while it
 * makes an entry must not hang the others, which then run from memory.
 */
static int lock_within(int fd, int how)
{
	struct timespec nap = { 0, 1000000 };
	long waited = 0;

	if (how & LOCK_NB)
		return flock(fd, how);
	while (flock(fd, how | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS)
			return -1;
		nanosleep(&nap, NULL);
		waited += nap.tv_nsec / 1000000;
		if (nap.tv_nsec < 64000000)
			nap.tv_nsec *= 2;
	}
	return 0;
}

/*
 * Opens and locks (LOCK_SH or LOCK_EX, maybe | LOCK_NB) the lock file
 * DIR/name.lock, never a symlink.  A prune may unlink the file between
 * our open and our lock: then the lock is on a file nobody else will
 * open, so it is taken again on the file now at that name (a bounded
 * number of times: EBUSY after).
 */
static int lock_entry(int dir, const char *name, int how)
{
	char lname[80];
	struct stat a, b;

	snprintf(lname, sizeof lname, "%s.lock", name);
	for (int tries = 0; tries < 100; tries++) {
		int fd = openat(dir, lname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		if (lock_within(fd, how) < 0) {
			close(fd);
			return -1;
		}
		if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
		    fstatat(dir, lname, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
	errno = EBUSY;
	return -1;
}

/* Reads the whole meta file of entry name, checking its size bound and
 * its sha256.  Returns the bytes (malloc'd) and their length, or NULL. */
static uint8_t *read_meta(int dir, const char *name, size_t *len)
{
	char path[80];
	struct stat st;
	uint8_t *p = NULL, sum[32];
	size_t got = 0;
	int fd;

	snprintf(path, sizeof path, "%s/meta", name);
	fd = openat(dir, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 32 &&
	    st.st_size <= META_MAX && (p = malloc(st.st_size))) {
		ssize_t n;
		while (got < (size_t)st.st_size && (n = read(fd, p + got, st.st_size - got)) > 0)
			got += n;
	}
	close(fd);
	if (!p || got != (size_t)st.st_size)
		goto bad;
	sha256(p, got - 32, sum);
	if (memcmp(sum, p + got - 32, 32) != 0)
		goto bad;
	*len = got - 32;
	return p;
bad:
	free(p);
	return NULL;
}

/* Whether one index record still describes its path under tree. */
static int record_ok(int tree, struct cursor *c, uint64_t dev, int root, char *why)
{
	uint32_t head[2];
	uint64_t v[4];
	const uint8_t *p;
	char path[IMAGE_PATH_MAX + 1];
	struct stat st;

	if (!take(c, head, 8) || !take(c, v, 32) || head[1] > IMAGE_PATH_MAX ||
	    !(p = take(c, NULL, head[1])))
		return 0;
	memcpy(path, p, head[1]);
	path[head[1]] = 0;
	/* Only the root's record may leave the image's path rule. */
	if (root ? strcmp(path, ".") != 0 : !image_path_ok(path)) {
		snprintf(why, CACHE_ERRLEN, "a bad path in its index");
		return 0;
	}
	if (fstatat(tree, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(why, CACHE_ERRLEN, "/%s: %s", root ? "" : path, strerror(errno));
		return 0;
	}
	if (st.st_mode != head[0] || (uint64_t)st.st_size != v[0] || st.st_ino != v[1] ||
	    ns(st.st_mtim) != v[2] || ns(st.st_ctim) != v[3] || st.st_dev != dev) {
		snprintf(why, CACHE_ERRLEN, "/%s changed", root ? "" : path);
		return 0;
	}
	return 1;
}

/*
 * Parses the meta file of e's entry and checks its tree against the
 * index.  Returns 1 (e's manifest and policy set), or 0 with why set.
 */
static int check_entry(struct cache_entry *e, int tree, char *why)
{
	size_t len;
	uint8_t *meta = read_meta(e->dir, e->name, &len);
	struct cursor c = { meta, len };
	const uint8_t *p;
	uint64_t dev, n, i;
	int ok = 0;

	snprintf(why, CACHE_ERRLEN, "its meta file is missing or damaged");
	if (!meta)
		return 0;
	if (!(p = take(&c, NULL, 16)) || memcmp(p, META_MAGIC, 16) ||
	    !(p = take(&c, NULL, IMAGE_HDR_SIZE)) || memcmp(p, e->hdr, IMAGE_HDR_SIZE) ||
	    !(e->manifest = take_text(&c)) || !(e->policy = take_text(&c)) ||
	    !take(&c, &dev, 8) || !take(&c, &n, 8) || n == 0)
		goto out;
	for (i = 0; i < n; i++)
		if (!record_ok(tree, &c, dev, i == 0, why))
			goto out;
	ok = c.left == 0;
out:
	free(meta);
	if (!ok) {
		free(e->manifest);
		free(e->policy);
		e->manifest = e->policy = NULL;
	}
	return ok;
}

/* Opens e's tree and checks the entry.  1: usable, 0: not (why set). */
static int use_entry(struct cache_entry *e, char *why)
{
	char rel[80];

	snprintf(rel, sizeof rel, "%s/root", e->name);
	e->tree = openat(e->dir, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (e->tree < 0) {
		snprintf(why, CACHE_ERRLEN, "no tree");
		return 0;
	}
	if (check_entry(e, e->tree, why))
		return 1;
	close(e->tree);
	e->tree = -1;
	return 0;
}

/* Removes what crashed extractions of entry name left (we hold its lock
 * exclusively, so no live one is at work), and the entry itself if
 * whole is set: renamed aside first, so that the name never shows a half
 * removed tree. */
static int remove_entry(int dir, const char *name, int whole)
{
	char prefix[80], aside[96];
	struct stat st;
	struct dirent *d;
	int r = 0, fd;
	DIR *dp;

	if (fstat(dir, &st) < 0)
		return -1;
	snprintf(aside, sizeof aside, "tmp.%s.old", name);
	if (whole && renameat(dir, name, dir, aside) < 0 && errno != ENOENT)
		return -1;
	snprintf(prefix, sizeof prefix, "tmp.%s.", name);
	if ((fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((d = readdir(dp)))
		if (!strncmp(d->d_name, prefix, strlen(prefix)) &&
		    remove_tree(dir, d->d_name, st.st_dev) < 0)
			r = -1;
	closedir(dp);
	return r;
}

static void entry_init(struct cache_entry *e)
{
	memset(e, 0, sizeof *e);
	e->tree = e->dir = e->lock = -1;
}

/* e->path: where the tree is, for a mount namespace of the run's own. */
static int set_path(struct cache_entry *e, const char *dir, char *err)
{
	int n = snprintf(e->path, sizeof e->path, "%s/%s/root", dir, e->name);

	return n > 0 && (size_t)n < sizeof e->path ? 0 : fail(err, "cache %s: path too long", dir);
}

/* A run keeps no descriptor of the cache directory: it is on the host's
 * tree, which the run's view must not reach. */
static int hit(struct cache_entry *e)
{
	close(e->dir);
	e->dir = -1;
	return CACHE_HIT;
}

int cache_open(const char *dir, const uint8_t hdr[IMAGE_HDR_SIZE],
	       struct cache_entry *e, char err[CACHE_ERRLEN])
{
	char why[CACHE_ERRLEN];

	entry_init(e);
	memcpy(e->hdr, hdr, IMAGE_HDR_SIZE);
	hex(hdr + 32, e->name);
	if ((e->dir = open_dir(dir, 1, err)) < 0 || set_path(e, dir, err) < 0)
		goto fail;
	/* Shared: waits for a run making the entry, not for runs using it.
	 * Making one needs the lock alone; when another run holds it too
	 * (a first run at the same moment, which will make it: our shared
	 * lock then waits for that; or a run using an entry we found
	 * wrong), we look again, a few times. */
	for (int tries = 0;; tries++) {
		if ((e->lock = lock_entry(e->dir, e->name, LOCK_SH)) < 0) {
			if (errno == EWOULDBLOCK)
				fail(err, "cache entry %.12s: another run has been making it for %d s",
				     e->name, LOCK_WAIT_MS / 1000);
			else
				fail(err, "cache %s: cannot lock %s.lock: %s", dir, e->name,
				     strerror(errno));
			goto fail;
		}
		if (use_entry(e, why))
			return hit(e);
		close(e->lock);
		e->lock = lock_entry(e->dir, e->name, LOCK_EX | LOCK_NB);
		if (e->lock >= 0)
			break;
		if (errno != EWOULDBLOCK || tries == MAKE_TRIES) {
			fail(err, errno == EWOULDBLOCK ? "cache entry %.12s is in use by another run and %s" :
			     "cache entry %.12s: cannot lock it: %s", e->name,
			     errno == EWOULDBLOCK ? why : strerror(errno));
			goto fail;
		}
		struct timespec nap = { 0, (tries + 1) * 10000000L };
		nanosleep(&nap, NULL);
	}
	/* Another run may have made it between our two locks. */
	if (use_entry(e, why)) {
		flock(e->lock, LOCK_SH);
		return hit(e);
	}
	struct stat st;
	if (fstatat(e->dir, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* why may quote a path from a forged index: one printable line. */
		for (char *c = why; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
		fprintf(stderr, "dunerun: note: cache entry %.12s: %s; making it again\n", e->name, why);
	}
	if (remove_entry(e->dir, e->name, 1) < 0) {
		fail(err, "cache entry %.12s: cannot remove it: %s", e->name, strerror(errno));
		goto fail;
	}
	return CACHE_MISS;
fail:
	cache_close(e);
	return -1;
}

/* mkdir -p of the absolute path under root, never through a symlink;
 * a component that exists as something else stops it quietly (the run
 * then reports what is in the way, as it would from a tmpfs). */
static int make_dirs(int root, const char *path)
{
	char name[IMAGE_NAME_MAX + 1];
	int dir = dup(root), sub;

	while (dir >= 0) {
		while (*path == '/')
			path++;
		size_t n = strcspn(path, "/");
		if (n == 0 || n > IMAGE_NAME_MAX || (n <= 2 && !strncmp(path, "..", n)))
			break;
		memcpy(name, path, n);
		name[n] = 0;
		path += n;
		if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST) {
			close(dir);
			return -1;
		}
		sub = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		dir = sub;
	}
	if (dir >= 0)
		close(dir);
	return 0;
}

/* The meta file's bytes for the tree at root: everything a later run
 * needs without the image, and the index it checks the tree against. */
static int build_meta(struct buf *b, const struct cache_entry *e, const struct image *img, int root)
{
	char path[IMAGE_PATH_MAX + 2] = "";
	struct stat st;
	uint64_t n = 1;
	size_t count_at;
	int sub;

	if (fstat(root, &st) < 0)
		return -1;
	put(b, META_MAGIC, 16);
	put(b, e->hdr, IMAGE_HDR_SIZE);
	put64(b, strlen(img->manifest));
	put(b, img->manifest, strlen(img->manifest));
	put64(b, strlen(img->policy));
	put(b, img->policy, strlen(img->policy));
	put64(b, st.st_dev);
	count_at = b->len;
	put64(b, 0);
	put_record(b, ".", &st);
	if ((sub = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    index_tree(b, sub, path, 0, st.st_dev, &n) < 0)
		return -1;
	if (b->oom) {
		errno = ENOMEM;
		return -1;
	}
	if (b->len + 32 > META_MAX) {
		errno = EFBIG;  /* a reader would refuse it: no entry, not one made each run */
		return -1;
	}
	memcpy(b->p + count_at, &n, 8);
	uint8_t sum[32];
	sha256(b->p, b->len, sum);
	put(b, sum, 32);
	return b->oom ? (errno = ENOMEM, -1) : 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			return n == 0 ? (errno = ENOSPC, -1) : -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Makes the whole entry in the directory tmp (a descriptor). */
static int make_entry(struct cache_entry *e, int tmp, const struct image *img,
		      const char *const *dirs, int ndirs, char *err)
{
	char xerr[SANDBOX_ERRLEN];
	struct buf b = { 0 };
	int root, fd, r = -1;

	if (mkdirat(tmp, "root", 0755) < 0 ||
	    (root = openat(tmp, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return fail(err, "%s", strerror(errno));
	if (view_extract(root, img, xerr) < 0) {
		close(root);
		return fail(err, "%s", xerr);
	}
	for (int i = 0; i < ndirs; i++)
		if (dirs[i] && make_dirs(root, dirs[i]) < 0) {
			close(root);
			return fail(err, "%s: %s", dirs[i], strerror(errno));
		}
	if (build_meta(&b, e, img, root) < 0) {
		fail(err, "cannot index the tree: %s", strerror(errno));
	} else if ((fd = openat(tmp, "meta", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
		   write_all(fd, b.p, b.len) < 0 || close(fd) < 0) {
		fail(err, "cannot write its index: %s", strerror(errno));
	} else {
		/* Not flushed: syncfs took 1.4 to 9 s here, flushing other
		 * writers' data too.  After a power cut a file whose size or
		 * times did not reach the disk fails the index check, and the
		 * entry is made again (docs/security.md). */
		r = 0;
	}
	free(b.p);
	close(root);
	return r;
}

int cache_fill(struct cache_entry *e, const struct image *img,
	       const char *const *dirs, int ndirs, char err[CACHE_ERRLEN])
{
	char tmpname[96], why[CACHE_ERRLEN], xerr[CACHE_ERRLEN];
	struct stat st = { 0 };
	int tmp = -1;

	snprintf(tmpname, sizeof tmpname, "tmp.%s.%d", e->name, (int)getpid());
	if (fstat(e->dir, &st) < 0 || mkdirat(e->dir, tmpname, 0700) < 0 ||
	    (tmp = openat(e->dir, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fail(err, "cannot make an entry: %s", strerror(errno));
		goto fail;
	}
	if (make_entry(e, tmp, img, dirs, ndirs, xerr) < 0) {
		fail(err, "cannot make entry %.12s: %s", e->name, xerr);
		goto fail;
	}
	if (renameat(e->dir, tmpname, e->dir, e->name) < 0) {
		fail(err, "cannot make entry %.12s: rename: %s", e->name, strerror(errno));
		goto fail;
	}
	close(tmp);
	flock(e->lock, LOCK_SH);
	if (!use_entry(e, why)) {
		/* A tree the check cannot read back (a directory without its
		 * owner's search permission, for a user other than root). */
		fail(err, "entry %.12s cannot be checked: %s", e->name, why);
		if (flock(e->lock, LOCK_EX | LOCK_NB) == 0)
			remove_entry(e->dir, e->name, 1);
		cache_close(e);
		return -1;
	}
	hit(e);
	return 0;
fail:
	if (tmp >= 0)
		close(tmp);
	remove_tree(e->dir, tmpname, st.st_dev);
	cache_close(e);
	return -1;
}

int cache_has(const struct cache_entry *e, const char *path)
{
	struct stat st;

	while (*path == '/')
		path++;
	return !*path || fstatat(e->tree, path, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

void cache_close(struct cache_entry *e)
{
	if (!e)
		return;
	if (e->tree >= 0)
		close(e->tree);
	if (e->lock >= 0)
		close(e->lock);
	if (e->dir >= 0)
		close(e->dir);
	free(e->manifest);
	free(e->policy);
	e->manifest = e->policy = NULL;
	e->tree = e->lock = e->dir = -1;
}

/* Whether name is an entry's ("<64 hex>"), its lock's ("<64 hex>.lock")
 * or a leftover's ("tmp.<64 hex>.*"); the digest in hex goes to out. */
static int entry_name(const char *name, char out[65])
{
	int tmp = !strncmp(name, "tmp.", 4);
	const char *h = tmp ? name + 4 : name;

	if (strspn(h, "0123456789abcdef") != 64 ||
	    (tmp ? h[64] != '.' : h[64] && strcmp(h + 64, ".lock")))
		return 0;
	memcpy(out, h, 64);
	out[64] = 0;
	return 1;
}

/* Prune: removes the entry with digest name, its leftovers and its lock
 * file unless a run holds it.  1: an entry removed, 0: none there or in
 * use (*busy set), -1: error. */
static int prune_one(int dir, const char *name, int *busy)
{
	char lname[80];
	struct stat st;
	int lock = lock_entry(dir, name, LOCK_EX | LOCK_NB);

	if (lock < 0) {
		*busy = errno == EWOULDBLOCK;
		return *busy ? 0 : -1;
	}
	int had = fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	int r = remove_entry(dir, name, 1);
	snprintf(lname, sizeof lname, "%s.lock", name);
	if (r == 0)
		unlinkat(dir, lname, 0);
	close(lock);
	return r < 0 ? -1 : had;
}

int cache_prune(const char *path, char err[CACHE_ERRLEN])
{
	char name[65], last[65] = "";
	struct dirent *d;
	int dir = open_dir(path, 0, err), removed = 0, busy = 0, r = 0;
	DIR *dp;

	if (dir == -2)
		return 0;       /* no cache: nothing to prune */
	if (dir < 0)
		return -1;
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dp = fdopendir(fd))) {
		close(dir);
		return fail(err, "cache %s: %s", path, strerror(errno));
	}
	/* Entries and leftovers; the directory changes as we go, so a name
	 * may come twice or not at all: prune again to be sure. */
	while ((d = readdir(dp))) {
		if (!entry_name(d->d_name, name) || !strcmp(name, last))
			continue;
		snprintf(last, sizeof last, "%s", name);
		int k = prune_one(dir, name, &busy);
		if (k < 0) {
			r = fail(err, "cache %s: cannot remove %.12s: %s", path, name, strerror(errno));
			break;
		}
		removed += k;
	}
	closedir(dp);
	close(dir);
	if (r == 0)
		printf("pruned %s: %d entr%s removed%s\n", path, removed, removed == 1 ? "y" : "ies",
		       busy ? ", some in use by runs kept" : "");
	return r;
}
