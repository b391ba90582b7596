/*
 * tree.c: the tree a root filesystem becomes, and applying a layer to it
 * (rootfs.h).
 *
 * Nodes are found by path through a hash table.  A deleted node stays in
 * the table, marked dead, and a later member at its path revives it, so
 * the table never needs tombstones.  A regular file carries an inode
 * number: a hard link copies it, replacing the file gives a new one, and
 * rootfs_entries stores each inode once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rootfs_impl.h"

int rootfs_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < errlen && err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			err[i] = '?';
	return -1;
}

struct rootfs *rootfs_new(uint64_t max_files,
			  void (*progress)(void *, uint64_t, uint64_t), void *arg)
{
	struct rootfs *fs = calloc(1, sizeof *fs);

	if (!fs)
		return NULL;
	fs->max_files = max_files;
	fs->progress = progress;
	fs->arg = arg;
	return fs;
}

void rootfs_free(struct rootfs *fs)
{
	if (!fs)
		return;
	for (size_t i = 0; i < fs->nnodes; i++) {
		free(fs->node[i].path);
		free(fs->node[i].target);
	}
	free(fs->node);
	free(fs->table);
	free(fs->entry);
	for (size_t i = 0; i < fs->nmaps; i++)
		munmap(fs->map[i].p, fs->map[i].len);
	free(fs->map);
	free(fs->layer);
	free(fs);
}

int rootfs_keep_map(struct rootfs *fs, void *p, size_t len)
{
	if (fs->nmaps == fs->capmaps) {
		size_t cap = fs->capmaps ? fs->capmaps * 2 : 64;
		void *n = realloc(fs->map, cap * sizeof *fs->map);
		if (!n)
			return -1;
		fs->map = n;
		fs->capmaps = cap;
	}
	fs->map[fs->nmaps].p = p;
	fs->map[fs->nmaps++].len = len;
	return 0;
}

const struct rootfs_stats *rootfs_stats(const struct rootfs *fs)
{
	return &fs->stats;
}

size_t rootfs_nlayers(const struct rootfs *fs)
{
	return fs->nlayers;
}

const struct rootfs_layer *rootfs_layer(const struct rootfs *fs, size_t i)
{
	return i < fs->nlayers ? &fs->layer[i] : NULL;
}

uint64_t rootfs_bytes(const struct rootfs *fs)
{
	uint64_t n = 0;
	uint8_t *seen = calloc(fs->next_ino ? fs->next_ino : 1, 1);

	for (size_t i = 0; i < fs->nnodes; i++) {
		const struct node *d = &fs->node[i];
		if (d->dead || d->type != IMG_REG || (seen && seen[d->ino]))
			continue;
		if (seen)
			seen[d->ino] = 1;
		n += d->size;
	}
	free(seen);
	return n;
}

/* ---- the table --------------------------------------------------------- */

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* The slot for path[0..n): holding its node index + 1, or 0 if absent. */
static uint32_t *slot(const struct rootfs *fs, const char *path, size_t n)
{
	size_t mask = fs->tabsize - 1, i = hash(path, n) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t k = fs->table[i];
		if (!k)
			return &fs->table[i];
		const char *p = fs->node[k - 1].path;
		if (!strncmp(p, path, n) && !p[n])
			return &fs->table[i];
	}
}

static int grow_table(struct rootfs *fs)
{
	size_t size = fs->tabsize ? fs->tabsize * 2 : 1024;
	uint32_t *old = fs->table;
	size_t oldsize = fs->tabsize;

	if (!(fs->table = calloc(size, sizeof *fs->table))) {
		fs->table = old;
		return -1;
	}
	fs->tabsize = size;
	for (size_t i = 0; i < oldsize; i++)
		if (old[i]) {
			const char *p = fs->node[old[i] - 1].path;
			*slot(fs, p, strlen(p)) = old[i];
		}
	free(old);
	return 0;
}

/* The live node at path[0..n), or NULL. */
static struct node *find(const struct rootfs *fs, const char *path, size_t n)
{
	uint32_t k = fs->tabsize ? *slot(fs, path, n) : 0;

	return k && !fs->node[k - 1].dead ? &fs->node[k - 1] : NULL;
}

/* The node for path, revived if dead or new, emptied either way. */
static struct node *make(struct rootfs *fs, const char *path, size_t n,
			 char *err, size_t errlen)
{
	uint32_t *s;
	struct node *d;

	if (fs->tabsize == 0 || fs->nnodes * 2 >= fs->tabsize)
		if (grow_table(fs) < 0)
			goto oom;
	s = slot(fs, path, n);
	if (*s) {
		d = &fs->node[*s - 1];
		free(d->target);
	} else {
		if (fs->nnodes >= fs->max_files) {
			rootfs_fail(err, errlen, "more than %llu files, an image's limit",
				    (unsigned long long)fs->max_files);
			return NULL;
		}
		if (fs->nnodes == fs->capnodes) {
			size_t cap = fs->capnodes ? fs->capnodes * 2 : 1024;
			void *nn = realloc(fs->node, cap * sizeof *fs->node);
			if (!nn)
				goto oom;
			fs->node = nn;
			fs->capnodes = cap;
		}
		d = &fs->node[fs->nnodes];
		memset(d, 0, sizeof *d);
		if (!(d->path = strndup(path, n)))
			goto oom;
		*s = (uint32_t)++fs->nnodes;
	}
	char *keep = d->path;
	memset(d, 0, sizeof *d);
	d->path = keep;
	d->layer = fs->nlayers;
	return d;
oom:
	rootfs_fail(err, errlen, "out of memory");
	return NULL;
}

/* Kills the nodes strictly below dir (all of them, or those from layers
 * below the current one).  A scan: whiteouts and replaced directories
 * are rare next to files. */
static void kill_below(struct rootfs *fs, const char *dir, int lower_only)
{
	size_t n = strlen(dir);

	for (size_t i = 0; i < fs->nnodes; i++) {
		struct node *d = &fs->node[i];
		if (!d->dead && (n == 0 || (!strncmp(d->path, dir, n) && d->path[n] == '/')) &&
		    (!lower_only || d->layer < fs->nlayers))
			d->dead = 1;
	}
}

/* ---- names -------------------------------------------------------------- */

/*
 * A member's name as a path in the image: a leading "/" and "."
 * components dropped (as GNU tar strips them), trailing "/" too.
 * Returns 0 and out ("" for the root), -1 for a ".." component, or -2
 * for a name or component longer than an image allows.
 */
int rootfs_clean_name(const char *name, char *out, size_t outlen)
{
	size_t k = 0;
	const char *p = name;

	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (n > IMAGE_NAME_MAX)
			return -2;
		if (n && !(n == 1 && p[0] == '.')) {
			if (k + !!k + n >= outlen || k + !!k + n > IMAGE_PATH_MAX)
				return -2;
			if (k)
				out[k++] = '/';
			memcpy(out + k, p, n);
			k += n;
		}
		p += n;
		p += strspn(p, "/");
	}
	out[k] = 0;
	return 0;
}

/*
 * A symlink target as the image holds it: relative, never climbing above
 * the root.  The link's parents are directories (rootfs never lets a
 * member pass a symlink), so ".." from the link's directory climbs real
 * directories, and above the root ".." stays at the root: an absolute
 * target becomes "../" for each directory above the link plus the rest,
 * and surplus leading ".." are dropped.  Exact, not a guess.
 */
int rootfs_fix_target(const char *path, const char *target, char *out, size_t outlen)
{
	size_t depth = 0, ups = 0, k = 0;
	const char *p = target;

	if (*target != '/' && image_target_ok(path, target)) {
		if (strlen(target) >= outlen)
			return -1;
		strcpy(out, target);
		return 0;
	}
	for (const char *s = path; (s = strchr(s, '/')); s++)
		depth++;
	if (*p == '/')
		ups = depth;
	/* The leading "." and ".." components: "." goes, ".." climbs, but
	 * not above the root. */
	for (p += strspn(p, "/");; p += strspn(p, "/")) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			ups += *target != '/' && ups < depth;
		else if (!(n == 1 && p[0] == '.'))
			break;
		p += n;
	}
	for (size_t i = 0; i < ups; i++) {
		if (k + 3 >= outlen)
			return -1;
		memcpy(out + k, i ? "/.." : "..", i ? 3 : 2);
		k += i ? 3 : 2;
	}
	size_t rest = strlen(p);
	if (k + 1 + rest >= outlen)
		return -1;
	if (k && rest)
		out[k++] = '/';
	memcpy(out + k, p, rest + 1);
	if (!out[0])
		strcpy(out, ".");
	return image_target_ok(path, out) ? 0 : -1;
}

/* ---- applying members ------------------------------------------------ */

/*
 * Makes sure each directory above path (n bytes) is a live directory,
 * making missing ones (0755), and marks them as the current layer's.
 * A symlink or a file on the way is refused: following a link here is
 * how an archive writes outside a root.
 */
static int parents(struct rootfs *fs, const char *path, char *err, size_t errlen)
{
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		size_t n = s - path;
		struct node *d = find(fs, path, n);
		if (d && d->type != IMG_DIR)
			return rootfs_fail(err, errlen, "goes through '%.*s', a %s", (int)(n > 200 ? 200 : n),
					   path, d->type == IMG_SYMLINK ? "symlink" : "file");
		if (!d) {
			if (!(d = make(fs, path, n, err, errlen)))
				return -1;
			d->type = IMG_DIR;
			d->mode = 0755;
		}
		d->layer = fs->nlayers;
	}
	return 0;
}

/* Is a symlink on the way to dir, or dir itself one?  A whiteout there
 * would delete what the link points to. */
static int through_link(const struct rootfs *fs, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t k = 1; k <= n; k++) {
		if (k < n && dir[k] != '/')
			continue;
		const struct node *d = find(fs, dir, k);
		if (!d)
			return 0;
		if (d->type == IMG_SYMLINK)
			return 1;
	}
	return 0;
}

/* A whiteout: .wh..wh..opq empties its directory of the lower layers'
 * files, .wh.NAME deletes NAME (and what is under it) from them. */
static int whiteout(struct rootfs *fs, char *path, char *base, char *err, size_t errlen)
{
	const char *name = base + 4;
	char *dir = path;

	if (base == path)
		dir = "";
	else
		base[-1] = 0;
	if (*dir && through_link(fs, dir))
		return rootfs_fail(err, errlen, "a whiteout through a symlink");
	if (!strcmp(name, ".wh..opq")) {
		if (!*dir)
			return rootfs_fail(err, errlen, "whiteout of the root");
		kill_below(fs, dir, 1);
		return 0;
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return rootfs_fail(err, errlen, "whiteout of '%s', not a name", name);
	char target[IMAGE_PATH_MAX + 1];
	if (snprintf(target, sizeof target, "%s%s%s", dir, *dir ? "/" : "", name) >= (int)sizeof target)
		return rootfs_fail(err, errlen, "name too long");
	struct node *d = find(fs, target, strlen(target));
	if (d && d->layer < fs->nlayers) {
		if (d->type == IMG_DIR)
			kill_below(fs, target, 0);
		d->dead = 1;
	}
	return 0;
}

/* The counts a member adds to the build's summary; 0 if it is dropped. */
static int keep(struct rootfs *fs, const struct rootfs_member *m)
{
	if (m->uid || m->gid)
		fs->stats.owners++;
	switch (m->type) {
	case TAR_CHR:
	case TAR_BLK:
		fs->stats.devices++;
		return 0;
	case TAR_FIFO:
		fs->stats.fifos++;
		return 0;
	default:
		if (m->type != TAR_SYMLINK && (m->mode & 06000))
			fs->stats.setid++;
		return 1;
	}
}

static int add_hardlink(struct rootfs *fs, const char *path, const char *link,
			char *err, size_t errlen)
{
	char t[IMAGE_PATH_MAX + 1];
	struct node *src, *d;

	if (rootfs_clean_name(link, t, sizeof t) < 0 || !t[0])
		return rootfs_fail(err, errlen, "hard link to '%.200s', outside the root", link);
	src = find(fs, t, strlen(t));
	if (!src || src->type != IMG_REG)
		return rootfs_fail(err, errlen, "hard link to '%.200s', %s", link,
				   src ? "not a regular file" : "which is not in the tree");
	if (!strcmp(t, path))
		return 0;                       /* a link to itself: nothing to do */
	struct node copy = *src;
	if (!(d = make(fs, path, strlen(path), err, errlen)))
		return -1;
	d->type = IMG_REG;
	d->mode = copy.mode;
	d->size = copy.size;
	d->data = copy.data;
	d->ino = copy.ino;
	return 0;
}

/* One member (not a whiteout) at its clean path. */
static int add(struct rootfs *fs, const char *path, const struct rootfs_member *m,
	       char *err, size_t errlen)
{
	struct node *d = find(fs, path, strlen(path));
	char target[IMAGE_PATH_MAX + 1];

	if (m->type == TAR_DIR && d && d->type == IMG_DIR) {
		d->mode = m->mode & 0777;
		d->layer = fs->nlayers;
		return 0;
	}
	if (d && d->type == IMG_DIR)
		kill_below(fs, path, 0);
	if (m->type == TAR_HARDLINK)
		return add_hardlink(fs, path, m->link, err, errlen);
	if (m->type == TAR_SYMLINK && rootfs_fix_target(path, m->link, target, sizeof target) < 0)
		return rootfs_fail(err, errlen, "symlink to '%.200s' leaves the root", m->link);
	if (!(d = make(fs, path, strlen(path), err, errlen)))
		return -1;
	d->mode = m->mode & 0777;
	switch (m->type) {
	case TAR_DIR:
		d->type = IMG_DIR;
		break;
	case TAR_SYMLINK:
		d->type = IMG_SYMLINK;
		d->mode = 0777;
		if (!(d->target = strdup(target)))
			return rootfs_fail(err, errlen, "out of memory");
		break;
	default:
		d->type = IMG_REG;
		d->size = m->size;
		d->data = m->data;
		d->ino = fs->next_ino++;
		fs->bytes += m->size;
		break;
	}
	return 0;
}

int rootfs_member(struct rootfs *fs, const struct rootfs_member *m,
		  char *err, size_t errlen)
{
	char path[IMAGE_PATH_MAX + 1];
	int r = rootfs_clean_name(m->name, path, sizeof path);

	if (r < 0)
		return rootfs_fail(err, errlen, r == -1 ? "a '..' component" :
				   "a name longer than an image allows (%d bytes, %d a component)",
				   IMAGE_PATH_MAX, IMAGE_NAME_MAX);
	fs->layer[fs->nlayers].files++;
	if (++fs->files % 256 == 0 && fs->progress)
		fs->progress(fs->arg, fs->files, fs->bytes);
	if (!keep(fs, m))
		return 0;
	char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!path[0]) {
		if (!strncmp(m->name, ".wh.", 4))
			return rootfs_fail(err, errlen, "whiteout of the root");
		return 0;                       /* the root itself: its mode is the runner's */
	}
	/* A whiteout makes nothing: its directory must be there already. */
	if (!strncmp(base, ".wh.", 4))
		return whiteout(fs, path, base, err, errlen);
	if (parents(fs, path, err, errlen) < 0)
		return -1;
	return add(fs, path, m, err, errlen);
}

/* ---- layers ------------------------------------------------------------ */

int rootfs_begin_layer(struct rootfs *fs, const char *kind, const char *name)
{
	void *n = realloc(fs->layer, (fs->nlayers + 1) * sizeof *fs->layer);

	if (!n)
		return -1;
	fs->layer = n;
	struct rootfs_layer *l = &fs->layer[fs->nlayers];
	memset(l, 0, sizeof *l);
	snprintf(l->kind, sizeof l->kind, "%s", kind);
	snprintf(l->name, sizeof l->name, "%s", name);
	return 0;
}

void rootfs_end_layer(struct rootfs *fs)
{
	fs->nlayers++;
}

/* A plain tar as the next layer. */
int rootfs_apply_plain(struct rootfs *fs, const uint8_t *p, size_t len,
		       const char *kind, const char *name, char *err, size_t errlen)
{
	struct tar *t = malloc(sizeof *t);
	struct tar_member tm;
	char why[256];
	int r;

	if (!t || rootfs_begin_layer(fs, kind, name) < 0) {
		free(t);
		return rootfs_fail(err, errlen, "%s: out of memory", name);
	}
	tar_init(t, p, len);
	while ((r = tar_next(t, &tm, why, sizeof why)) == 1) {
		struct rootfs_member m = {
			.name = tm.name, .link = tm.link, .type = tm.type, .mode = tm.mode,
			.uid = tm.uid, .gid = tm.gid, .size = tm.size, .data = tm.data,
		};
		if (rootfs_member(fs, &m, why, sizeof why) < 0) {
			rootfs_fail(err, errlen, "%s: %.200s: %s", name, tm.name, why);
			free(t);
			return -1;
		}
	}
	free(t);
	if (r < 0)
		return rootfs_fail(err, errlen, "%s: %s", name, why);
	rootfs_end_layer(fs);
	return 0;
}

/* ---- the result ----------------------------------------------------- */

static int cmp_node(const void *a, const void *b)
{
	return strcmp((*(const struct node *const *)a)->path,
		      (*(const struct node *const *)b)->path);
}

struct image_entry *rootfs_entries(struct rootfs *fs, size_t *n)
{
	size_t k = 0, ninos = fs->next_ino ? fs->next_ino : 1;
	struct node **sorted = malloc((fs->nnodes ? fs->nnodes : 1) * sizeof *sorted);
	uint32_t *first = malloc(ninos * sizeof *first);

	free(fs->entry);
	fs->entry = malloc((fs->nnodes ? fs->nnodes : 1) * sizeof *fs->entry);
	if (!fs->entry || !first || !sorted) {
		free(first);
		free(sorted);
		return NULL;
	}
	for (size_t i = 0; i < fs->nnodes; i++)
		if (!fs->node[i].dead)
			sorted[k++] = &fs->node[i];
	qsort(sorted, k, sizeof *sorted, cmp_node);
	memset(first, 0xff, ninos * sizeof *first);
	/* Sorted, so an inode's first name is its smallest: it holds the
	 * data, the later names link to it. */
	for (size_t i = 0; i < k; i++) {
		const struct node *d = sorted[i];
		struct image_entry *e = &fs->entry[i];
		*e = (struct image_entry){
			.path = d->path, .mode = d->mode, .type = d->type,
			.size = d->size, .data = d->data, .target = d->target,
		};
		if (d->type != IMG_REG)
			continue;
		if (first[d->ino] == UINT32_MAX) {
			first[d->ino] = (uint32_t)i;
			continue;
		}
		e->type = IMG_HARDLINK;
		e->target = fs->entry[first[d->ino]].path;
		e->mode = fs->entry[first[d->ino]].mode;
		e->data = NULL;
		e->size = 0;
	}
	free(first);
	free(sorted);
	*n = k;
	return fs->entry;
}
