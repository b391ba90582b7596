/*
 * source.c: what a FROM names, read into a tree (rootfs.h): a directory,
 * a tar archive, an OCI image layout (a directory or a tar of one), or a
 * docker-save archive.
 *
 * Image formats name their parts by digest; every blob read is hashed
 * and compared with its name before it is parsed or applied, and a
 * layer's uncompressed bytes with the config's diff_id, so a layout
 * edited or cut short is refused, not half-used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "rootfs_impl.h"

#define MAX_JSON  (4 << 20)     /* bytes of an index, manifest or config */
#define MAX_NEST  4             /* indexes pointing at indexes */
#define MAX_DEPTH 512           /* directories inside directories */

/* Where named files come from: a directory, or an archive in memory. */
struct store {
	int dirfd;                  /* -1 for an archive */
	const uint8_t *tar;
	size_t tarlen;
	const char *source;         /* for messages */
};

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
static int map_fd(struct rootfs *fs, int fd, const uint8_t **p, size_t *len)
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
static int tar_find(const uint8_t *p, size_t len, const char *path,
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
static int get(struct rootfs *fs, const struct store *st, const char *path,
	       const uint8_t **p, size_t *len, char *err, size_t errlen)
{
	if (st->dirfd < 0) {
		int r = tar_find(st->tar, st->tarlen, path, p, len, err, errlen);
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
	int r = map_fd(fs, fd, p, len);
	close(fd);
	if (r < 0)
		return rootfs_fail(err, errlen, "%s: %s: %s", st->source, path,
				   errno == EINVAL ? "not a regular file" : strerror(errno));
	return 0;
}

static void hex(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* "sha256:" and 64 lower-case hex digits; the hex in out. */
static int digest_ok(const char *digest, char out[65])
{
	if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 71 ||
	    strspn(digest + 7, "0123456789abcdef") != 64)
		return 0;
	memcpy(out, digest + 7, 65);
	return 1;
}

static int same_digest(const uint8_t *p, size_t len, const char *want)
{
	uint8_t d[32];
	char h[65];

	sha256(p, len, d);
	hex(d, h);
	return !strcmp(h, want);
}

/* The blob a descriptor names, its size and sha256 checked. */
static int blob(struct rootfs *fs, const struct store *st, const struct json *desc,
		const uint8_t **p, size_t *len, char *err, size_t errlen)
{
	const char *digest = json_str(json_get(desc, "digest"));
	char h[65], path[100];
	int64_t size;

	if (!digest_ok(digest, h))
		return rootfs_fail(err, errlen, "%s: a descriptor without a sha256 digest", st->source);
	snprintf(path, sizeof path, "blobs/sha256/%s", h);
	if (get(fs, st, path, p, len, err, errlen) < 0)
		return -1;
	if (json_int(json_get(desc, "size"), &size) == 0 && (uint64_t)size != *len)
		return rootfs_fail(err, errlen, "%s: blob %.19s... is %zu bytes, its descriptor says %lld",
				   st->source, digest, *len, (long long)size);
	if (!same_digest(*p, *len, h))
		return rootfs_fail(err, errlen, "%s: blob %.19s... does not match its digest", st->source, digest);
	return 0;
}

static int parse_json(const struct store *st, const char *what, const uint8_t *p,
		      size_t len, struct json_doc *doc, char *err, size_t errlen)
{
	struct json_limits lim = json_default_limits;
	char why[200];

	lim.max_bytes = MAX_JSON;
	if (json_parse((const char *)p, len, &lim, doc, why, sizeof why) < 0)
		return rootfs_fail(err, errlen, "%s: %s: %s", st->source, what, why);
	return 0;
}

/* One layer: its blob unpacked, checked against diff_id if given, and
 * applied.  The name shown is the digest. */
static int layer(struct rootfs *fs, const char *kind, const char *name,
		 const uint8_t *p, size_t len, const char *diff_id,
		 const struct store *st, char *err, size_t errlen)
{
	const uint8_t *q;
	size_t qlen;
	char h[65];

	if (rootfs_unpack(fs, p, len, image_default_limits.max_payload, &q, &qlen,
			  name, err, errlen) < 0)
		return -1;
	if (diff_id && (!digest_ok(diff_id, h) || !same_digest(q, qlen, h)))
		return rootfs_fail(err, errlen, "%s: layer %s does not match the config's diff_id %.19s...",
				   st->source, name, diff_id);
	return rootfs_apply_plain(fs, q, qlen, kind, name, err, errlen);
}

/* The config's rootfs.diff_ids, checked to be as many as the layers. */
static const struct json *diff_ids(const struct json *config, size_t nlayers,
				   const struct store *st, char *err, size_t errlen)
{
	const struct json *ids = json_get(json_get(config, "rootfs"), "diff_ids");

	if (!ids || ids->type != JSON_ARRAY || ids->n != nlayers) {
		rootfs_fail(err, errlen, "%s: the config's rootfs.diff_ids do not list the %zu layers",
			    st->source, nlayers);
		return NULL;
	}
	return ids;
}

/* ---- OCI image layouts ---------------------------------------------- */

static int is_index(const char *media)
{
	return media && (!strcmp(media, "application/vnd.oci.image.index.v1+json") ||
			 !strcmp(media, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

/* The descriptor for linux/amd64 among an index's manifests: the one
 * whose platform says so, or the only one if none says anything. */
static const struct json *pick(const struct json *index, const struct store *st,
			       char *err, size_t errlen)
{
	const struct json *ms = json_get(index, "manifests"), *m, *plain = NULL;
	size_t nplain = 0;

	if (!ms || ms->type != JSON_ARRAY) {
		rootfs_fail(err, errlen, "%s: an index without a manifests array", st->source);
		return NULL;
	}
	for (m = ms->child; m; m = m->next) {
		const struct json *pf = json_get(m, "platform");
		const char *arch = json_str(json_get(pf, "architecture"));
		const char *os = json_str(json_get(pf, "os"));
		if (arch && os && !strcmp(arch, "amd64") && !strcmp(os, "linux"))
			return m;
		if (!pf) {
			plain = m;
			nplain++;
		}
	}
	if (nplain == 1)
		return plain;
	rootfs_fail(err, errlen, "%s: no linux/amd64 manifest among %zu", st->source, ms->n);
	return NULL;
}

static int oci_manifest(struct rootfs *fs, const struct store *st, const struct json *m,
			char *err, size_t errlen)
{
	const struct json *cdesc = json_get(m, "config"), *layers = json_get(m, "layers"), *l, *id;
	struct json_doc config;
	const uint8_t *p;
	size_t len;
	int r = 0;

	if (!cdesc || !layers || layers->type != JSON_ARRAY)
		return rootfs_fail(err, errlen, "%s: a manifest without config and layers", st->source);
	if (blob(fs, st, cdesc, &p, &len, err, errlen) < 0 ||
	    parse_json(st, "config", p, len, &config, err, errlen) < 0)
		return -1;
	if (!(id = diff_ids(config.root, layers->n, st, err, errlen)))
		r = -1;
	for (l = layers->child, id = id ? id->child : NULL; r == 0 && l; l = l->next, id = id->next) {
		const char *digest = json_str(json_get(l, "digest"));
		r = blob(fs, st, l, &p, &len, err, errlen);
		if (r == 0)
			r = layer(fs, "oci", digest, p, len, json_str(id), st, err, errlen);
	}
	json_free(&config);
	return r;
}

/* An index or a manifest, by its descriptor. */
static int oci_desc(struct rootfs *fs, const struct store *st, const struct json *desc,
		    int nest, char *err, size_t errlen)
{
	struct json_doc doc;
	const uint8_t *p;
	size_t len;
	int r;

	if (nest > MAX_NEST)
		return rootfs_fail(err, errlen, "%s: indexes nested deeper than %d", st->source, MAX_NEST);
	if (blob(fs, st, desc, &p, &len, err, errlen) < 0 ||
	    parse_json(st, "manifest", p, len, &doc, err, errlen) < 0)
		return -1;
	const char *media = json_str(json_get(doc.root, "mediaType"));
	if (!media)
		media = json_str(json_get(desc, "mediaType"));
	if (is_index(media) || (!media && json_get(doc.root, "manifests"))) {
		const struct json *m = pick(doc.root, st, err, errlen);
		r = m ? oci_desc(fs, st, m, nest + 1, err, errlen) : -1;
	} else {
		r = oci_manifest(fs, st, doc.root, err, errlen);
	}
	json_free(&doc);
	return r;
}

static int oci(struct rootfs *fs, const struct store *st, char *err, size_t errlen)
{
	struct json_doc layout, index;
	const uint8_t *p;
	size_t len;
	int r;

	if (get(fs, st, "oci-layout", &p, &len, err, errlen) < 0 ||
	    parse_json(st, "oci-layout", p, len, &layout, err, errlen) < 0)
		return -1;
	r = json_str(json_get(layout.root, "imageLayoutVersion")) ? 0 :
	    rootfs_fail(err, errlen, "%s: oci-layout has no imageLayoutVersion", st->source);
	json_free(&layout);
	if (r < 0 || get(fs, st, "index.json", &p, &len, err, errlen) < 0 ||
	    parse_json(st, "index.json", p, len, &index, err, errlen) < 0)
		return -1;
	const struct json *m = pick(index.root, st, err, errlen);
	r = m ? oci_desc(fs, st, m, 0, err, errlen) : -1;
	json_free(&index);
	return r;
}

/* ---- docker save ------------------------------------------------------ */

/* manifest.json: [{"Config": "x.json", "Layers": ["y/layer.tar", ...]}]. */
static int docker(struct rootfs *fs, const struct store *st, char *err, size_t errlen)
{
	struct json_doc man, config;
	const struct json *img, *layers, *l, *id;
	const uint8_t *p;
	size_t len;
	int r = -1;

	if (get(fs, st, "manifest.json", &p, &len, err, errlen) < 0 ||
	    parse_json(st, "manifest.json", p, len, &man, err, errlen) < 0)
		return -1;
	img = man.root->type == JSON_ARRAY && man.root->n == 1 ? man.root->child : NULL;
	layers = json_get(img, "Layers");
	const char *cpath = json_str(json_get(img, "Config"));
	char clean[IMAGE_PATH_MAX + 1];
	if (!img || !cpath || !layers || layers->type != JSON_ARRAY) {
		rootfs_fail(err, errlen, "%s: manifest.json is not one image with Config and Layers", st->source);
		goto out;
	}
	if (rootfs_clean_name(cpath, clean, sizeof clean) < 0 ||
	    get(fs, st, clean, &p, &len, err, errlen) < 0 ||
	    parse_json(st, cpath, p, len, &config, err, errlen) < 0)
		goto out;
	r = 0;
	if (!(id = diff_ids(config.root, layers->n, st, err, errlen)))
		r = -1;
	for (l = layers->child, id = id ? id->child : NULL; r == 0 && l; l = l->next, id = id->next) {
		const char *path = json_str(l);
		r = !path || rootfs_clean_name(path, clean, sizeof clean) < 0 ?
		    rootfs_fail(err, errlen, "%s: a layer that is not a path", st->source) :
		    get(fs, st, clean, &p, &len, err, errlen);
		if (r == 0)
			r = layer(fs, "docker", json_str(id) ? json_str(id) : path, p, len,
				  json_str(id), st, err, errlen);
	}
	json_free(&config);
out:
	json_free(&man);
	return r;
}

/* ---- directories ------------------------------------------------------ */

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
			r = map_fd(w->fs, fd, &m.data, &len);
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

static int directory(struct rootfs *fs, int fd, const char *name, char *err, size_t errlen)
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
			int r = oci(fs, &st, err, errlen);
			close(fd);
			return r;
		}
		return directory(fs, fd, name, err, errlen);
	}
	int r = map_fd(fs, fd, &p, &len);
	close(fd);
	if (r < 0)
		return rootfs_fail(err, errlen, "%s: %s", name,
				   errno == EINVAL ? "not a directory or a file" : strerror(errno));
	if (rootfs_unpack(fs, p, len, image_default_limits.max_payload, &q, &qlen, name, err, errlen) < 0)
		return -1;
	st.tar = q;
	st.tarlen = qlen;
	if ((r = tar_find(q, qlen, "manifest.json", &d, &dlen, err, errlen)) == 1)
		return docker(fs, &st, err, errlen);
	if (r == 0 && (r = tar_find(q, qlen, "oci-layout", &d, &dlen, err, errlen)) == 1)
		return oci(fs, &st, err, errlen);
	if (r < 0)
		return prefix(err, errlen, name);
	return rootfs_apply_plain(fs, q, qlen, "tar", name, err, errlen);
}
