/*
 * dunerun build [-f Dunefile] [-o app.dz] [CONTEXT]: packages a program,
 * its files and its policy as an image (images/FORMAT.md).
 *
 * The output appears whole or not at all: it is written to a temporary
 * file beside it, synced, and renamed; any failure (a full disk too)
 * removes the temporary file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "dunefile.h"
#include "image.h"
#include "loader.h"
#include "rootfs.h"

#define MAX_FILES (1 << 20)

struct builder {
	const char *dunefile;   /* for messages */
	int context;            /* directory descriptor */
	struct image_entry *entry;
	uint8_t *mapped;        /* per entry: its data is a mapping of ours */
	size_t n, cap;
	uint64_t bytes;
	struct rootfs *fs;      /* FROM's tree, which owns its entries' data */
	struct timespec start;
	int shown;              /* FROM's progress is on the terminal */
	char err[DUNEFILE_ERRLEN + PATH_MAX];
};

static int fail(struct builder *b, int line, const char *fmt, ...)
{
	va_list ap;
	int n = line ? snprintf(b->err, sizeof b->err, "%s:%d: ", b->dunefile, line)
		     : snprintf(b->err, sizeof b->err, "%s: ", b->dunefile);

	va_start(ap, fmt);
	vsnprintf(b->err + n, sizeof b->err - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The entry for path, or NULL. */
static struct image_entry *find(struct builder *b, const char *path)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->entry[i].path, path))
			return &b->entry[i];
	return NULL;
}

/* Frees what entry i holds.  Entries from FROM point into the tree's
 * memory, which is freed with it. */
static void drop_data(struct builder *b, size_t i)
{
	struct image_entry *e = &b->entry[i];

	if (b->mapped[i]) {
		if (e->type == IMG_REG && e->size)
			munmap((void *)e->data, e->size);
		free((void *)e->target);
	}
	b->mapped[i] = 0;
	e->data = NULL;
	e->target = NULL;
}

/*
 * Before a COPY replaces the file at e, the hard links to it (from FROM)
 * keep the old contents, as they would on a disk: the smallest of them
 * becomes the file, the others link to it.
 */
static void detach_links(struct builder *b, const struct image_entry *e)
{
	struct image_entry *heir = NULL;

	if (e->type != IMG_REG)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct image_entry *l = &b->entry[i];
		if (l->type != IMG_HARDLINK || strcmp(l->target, e->path))
			continue;
		if (!heir || strcmp(l->path, heir->path) < 0)
			heir = l;
	}
	if (!heir)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct image_entry *l = &b->entry[i];
		if (l != heir && l->type == IMG_HARDLINK && !strcmp(l->target, e->path))
			l->target = heir->path;
	}
	heir->type = IMG_REG;
	heir->target = NULL;
	heir->data = e->data;
	heir->size = e->size;
	/* The data goes with it: dropping e must not unmap it. */
	b->mapped[heir - b->entry] = b->mapped[e - b->entry];
	b->mapped[e - b->entry] = 0;
}

/* Adds (or, as a later COPY does, replaces) an entry; takes path. */
static struct image_entry *add(struct builder *b, char *path, int line)
{
	struct image_entry *e = find(b, path);

	if (e) {
		detach_links(b, e);
		drop_data(b, e - b->entry);
		free(path);
		return e;
	}
	if (b->n == MAX_FILES) {
		fail(b, line, "more than %d files", MAX_FILES);
		free(path);
		return NULL;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		void *p = realloc(b->entry, cap * sizeof *b->entry);
		void *m = p ? realloc(b->mapped, cap) : NULL;
		if (p)
			b->entry = p;
		if (!m) {
			fail(b, line, "out of memory");
			free(path);
			return NULL;
		}
		b->mapped = m;
		b->cap = cap;
	}
	b->mapped[b->n] = 0;
	e = &b->entry[b->n++];
	memset(e, 0, sizeof *e);
	e->path = path;
	return e;
}

/* Makes sure every directory above path is an entry (mode 0755). */
static int add_parents(struct builder *b, const char *path, int line)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		struct image_entry *e = find(b, buf);
		if (e && e->type != IMG_DIR)
			return fail(b, line, "'%s' is a %s, not a directory", buf,
				    e->type == IMG_SYMLINK ? "symlink" : "file");
		if (!e) {
			char *p = strdup(buf);
			if (!p || !(e = add(b, p, line)))
				return p ? -1 : fail(b, line, "out of memory");
			e->type = IMG_DIR;
			e->mode = 0755;
		}
		*s = '/';
	}
	return 0;
}

/* Maps a regular file read-only; the image writer reads it from there. */
static int take_file(struct builder *b, int fd, struct image_entry *e,
		     const struct stat *st, const char *src, int line)
{
	e->type = IMG_REG;
	e->size = st->st_size;
	if (st->st_size > 0) {
		void *p = mmap(NULL, st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			return fail(b, line, "COPY %s: %s", src, strerror(errno));
		e->data = p;
		b->mapped[e - b->entry] = 1;
	}
	b->bytes += st->st_size;
	return 0;
}

static int copy_at(struct builder *b, int dir, const char *name,
		   const char *dest, const char *src, int line, int depth);

static int copy_dir(struct builder *b, int fd, const char *dest,
		    const char *src, int line, int depth)
{
	DIR *d = fdopendir(fd);

	if (!d) {
		close(fd);
		return fail(b, line, "COPY %s: %s", src, strerror(errno));
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub_dest[PATH_MAX], sub_src[PATH_MAX];
		/* dest "" is the image's root, whose entries have no '/'. */
		if (snprintf(sub_dest, sizeof sub_dest, "%s%s%s", dest, dest[0] ? "/" : "",
			     de->d_name) >= (int)sizeof sub_dest ||
		    snprintf(sub_src, sizeof sub_src, "%s/%s", src, de->d_name) >= (int)sizeof sub_src) {
			r = fail(b, line, "COPY %s: path too long", src);
			break;
		}
		r = copy_at(b, dirfd(d), de->d_name, sub_dest, sub_src, line, depth + 1);
	}
	if (r == 0 && errno)
		r = fail(b, line, "COPY %s: %s", src, strerror(errno));
	closedir(d);
	return r;
}

/* Copies dir/name (never following a symlink) to dest in the image. */
static int copy_at(struct builder *b, int dir, const char *name,
		   const char *dest, const char *src, int line, int depth)
{
	struct stat st;

	if (depth > 64)
		return fail(b, line, "COPY %s: directories nested too deep", src);
	if (!image_path_ok(dest))
		return fail(b, line, "COPY %s: '%s' is not a valid path in the image", src, dest);
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(b, line, errno == ENOENT ? "COPY source '%s' not found"
			    : "COPY source '%s': %s", src, strerror(errno));
	if (add_parents(b, dest, line) < 0)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dir, name, target, sizeof target - 1);
		if (n < 0)
			return fail(b, line, "COPY %s: %s", src, strerror(errno));
		target[n] = 0;
		if (!image_target_ok(dest, target))
			return fail(b, line, "COPY %s: symlink to '%s' leaves the image "
				    "(absolute or climbing above its root)", src, target);
		char *path = strdup(dest), *t = strdup(target);
		struct image_entry *e = path && t ? add(b, path, line) : NULL;
		if (!e) {
			free(t);
			return path && t ? -1 : fail(b, line, "out of memory");
		}
		e->type = IMG_SYMLINK;
		e->mode = 0777;
		e->target = t;
		b->mapped[e - b->entry] = 1;
		return 0;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return fail(b, line, "COPY %s: not a file, directory or symlink", src);
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
			(S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return fail(b, line, "COPY %s: %s", src, strerror(errno));
	char *path = strdup(dest);
	struct image_entry *e = path ? add(b, path, line) : NULL;
	if (!e) {
		close(fd);
		return path ? -1 : fail(b, line, "out of memory");
	}
	e->mode = st.st_mode & 0777;
	if (S_ISDIR(st.st_mode)) {
		e->type = IMG_DIR;
		return copy_dir(b, fd, dest, src, line, depth);
	}
	int r = take_file(b, fd, e, &st, src, line);
	close(fd);
	return r;
}

/* One COPY: SRC relative to the context; DEST absolute.  A DEST ending in
 * '/', or naming a directory already copied, receives SRC by its name. */
static int copy(struct builder *b, const struct df_copy *c)
{
	char dest[PATH_MAX];
	const char *d = c->dest + strspn(c->dest, "/");
	size_t n = strlen(d);
	char srcbuf[PATH_MAX];
	snprintf(srcbuf, sizeof srcbuf, "%s", c->src);
	const char *base = basename(srcbuf);
	struct image_entry *e = n ? find(b, d) : NULL;
	int into = n == 0 || c->dest[strlen(c->dest) - 1] == '/' || (e && e->type == IMG_DIR);

	while (n > 0 && d[n - 1] == '/')
		n--;
	if (into && strcmp(base, ".") && strcmp(base, "/")) {
		struct stat st;
		/* Copying a directory into DEST/ merges its contents, as COPY does. */
		if (fstatat(b->context, c->src, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			snprintf(dest, sizeof dest, "%.*s", (int)n, d);
		else
			snprintf(dest, sizeof dest, "%.*s%s%s", (int)n, d, n ? "/" : "", base);
	} else {
		snprintf(dest, sizeof dest, "%.*s", (int)n, d);
	}
	if (!dest[0]) {         /* the whole context into the root */
		int fd = openat(b->context, c->src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return fail(b, c->line, "COPY %s: %s", c->src, strerror(errno));
		return copy_dir(b, fd, "", c->src, c->line, 0) < 0 ? -1 : 0;
	}
	return copy_at(b, b->context, c->src, dest, c->src, c->line, 0);
}

/* The entry a path names inside the image, following symlinks on the way
 * and at the end, as the runner will (a FROM tree's /lib64 is one). */
static struct image_entry *resolve(struct builder *b, const char *path)
{
	char cur[PATH_MAX] = "", rest[PATH_MAX], next[PATH_MAX];
	struct image_entry *e = NULL;
	int hops = 0;

	snprintf(rest, sizeof rest, "%s", path);
	for (char *r = rest;;) {
		r += strspn(r, "/");
		if (!*r)
			return cur[0] && e && e->type == IMG_HARDLINK ? find(b, e->target) : e;
		size_t n = strcspn(r, "/"), len = strlen(cur);
		if (n == 1 && r[0] == '.') {
			r += n;
			continue;
		}
		if (n == 2 && r[0] == '.' && r[1] == '.') {
			char *s = strrchr(cur, '/');
			*(s ? s : cur) = 0;
			e = cur[0] ? find(b, cur) : NULL;
			r += n;
			continue;
		}
		if (len + 1 + n >= sizeof cur)
			return NULL;
		snprintf(cur + len, sizeof cur - len, "%s%.*s", len ? "/" : "", (int)n, r);
		r += n;
		if (!(e = find(b, cur)))
			return NULL;
		if (e->type != IMG_SYMLINK)
			continue;
		/* Targets are relative to the link's directory (image_target_ok). */
		if (++hops > 40)
			return NULL;
		cur[len] = 0;
		snprintf(next, sizeof next, "%s/%s", e->target, r);
		snprintf(rest, sizeof rest, "%s", next);
		r = rest;
		e = cur[0] ? find(b, cur) : NULL;
	}
}

/* The ELF file at prog in the image must run; so must the interpreter
 * it names, if any (as Linux checks it: one level). */
static int check_executable(struct builder *b, int line, const char *prog, int is_interp)
{
	const char *what = is_interp ? "the interpreter " : "";
	struct image_entry *e = resolve(b, prog);
	char why[256];
	struct elf_image elf;

	if (!e)
		return fail(b, line, "ENTRYPOINT %s%s: no such file in the image", what, prog);
	if (e->type != IMG_REG)
		return fail(b, line, "ENTRYPOINT %s%s: not a regular file", what, prog);
	if (!(e->mode & 0111))
		return fail(b, line, "ENTRYPOINT %s%s: not executable", what, prog);
	if (elf_parse(e->data, e->size, &elf, why, sizeof why) < 0)
		return fail(b, line, "ENTRYPOINT %s%s: %s", what, prog, why);
	const char *interp = elf_interp(e->data, &elf);
	if (interp && is_interp)
		return fail(b, line, "ENTRYPOINT %s%s names an interpreter of its own", what, prog);
	return interp ? check_executable(b, line, interp, 1) : 0;
}

static int check_entrypoint(struct builder *b, const struct dunefile *df)
{
	return check_executable(b, df->entrypoint_line, df->manifest.argv[0], 0);
}

static void show_progress(void *arg, uint64_t in, uint64_t out)
{
	struct builder *b = arg;

	fprintf(stderr, "\rdunerun build: %zu files, %.1f of %.1f MiB, compressed %.1f MiB (%.2fx)",
		b->n, in / 1048576.0, b->bytes / 1048576.0, out / 1048576.0,
		out ? (double)in / out : 0.0);
}

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

static void show_from_progress(void *arg, uint64_t files, uint64_t bytes)
{
	struct builder *b = arg;
	double s = since(&b->start);

	b->shown = 1;
	fprintf(stderr, "\rdunerun build: FROM: %llu files, %.1f MiB, %.1f MiB/s",
		(unsigned long long)files, bytes / 1048576.0, s > 0 ? bytes / 1048576.0 / s : 0.0);
}

/* FROM: the root filesystem becomes the first entries, each layer a line
 * of the manifest. */
static int from(struct builder *b, struct dunefile *df)
{
	char err[DUNEFILE_ERRLEN], line[DF_MAX_STR];
	int tty = isatty(2);
	size_t n;

	clock_gettime(CLOCK_MONOTONIC, &b->start);
	b->fs = rootfs_new(image_default_limits.max_entries, tty ? show_from_progress : NULL, b);
	if (!b->fs)
		return fail(b, df->from_line, "out of memory");
	int r = rootfs_load(b->fs, b->context, df->from, df->from, err, sizeof err);
	if (b->shown)
		fputc('\n', stderr);
	if (r < 0)
		return fail(b, df->from_line, "FROM %s", err);
	struct image_entry *e = rootfs_entries(b->fs, &n);
	if (!e || !(b->entry = malloc((n ? n : 1) * sizeof *e)) || !(b->mapped = calloc(n ? n : 1, 1)))
		return fail(b, df->from_line, "out of memory");
	memcpy(b->entry, e, n * sizeof *e);
	b->n = b->cap = n;
	for (size_t i = 0; i < n; i++)
		if (!(b->entry[i].path = strdup(e[i].path)))
			return fail(b, df->from_line, "out of memory");
	b->bytes = rootfs_bytes(b->fs);
	for (size_t i = 0; i < rootfs_nlayers(b->fs); i++) {
		const struct rootfs_layer *l = rootfs_layer(b->fs, i);
		snprintf(line, sizeof line, "%s %s %llu", l->kind, l->name, (unsigned long long)l->files);
		if (manifest_add_layer(&df->manifest, line, err) < 0)
			return fail(b, df->from_line, "FROM: %s", err);
	}
	return 0;
}

/* What FROM dropped, for the summary line. */
static void print_dropped(const struct rootfs *fs)
{
	const struct rootfs_stats *s = rootfs_stats(fs);

	printf(", dropped: %llu device nodes, %llu fifos, %llu sockets, %llu setuid/setgid bits, "
	       "%llu owners", (unsigned long long)s->devices, (unsigned long long)s->fifos,
	       (unsigned long long)s->sockets, (unsigned long long)s->setid,
	       (unsigned long long)s->owners);
}

static char *read_dunefile(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > DF_MAX_TEXT) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path, DF_MAX_TEXT);
		goto out;
	}
	text = malloc(st.st_size + 1);
	if (!text || read(fd, text, st.st_size) != st.st_size) {
		snprintf(err, errlen, "%s: cannot read", path);
		free(text);
		text = NULL;
		goto out;
	}
	text[st.st_size] = 0;
	*len = st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return text;
}

/* Writes the image to a temporary file beside out, then renames it. */
static int write_image(struct builder *b, struct image *img, const char *out)
{
	char tmp[PATH_MAX];
	char err[256];

	if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out) >= (int)sizeof tmp)
		return fail(b, 0, "%s: path too long", out);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return fail(b, 0, "%s: %s", tmp, strerror(errno));
	int tty = isatty(2);
	int r = image_write(fd, img, tty ? show_progress : NULL, b, err, sizeof err);
	if (tty)
		fputc('\n', stderr);
	if (r < 0)
		fail(b, 0, "%s: %s", out, err);
	else if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		r = fail(b, 0, "%s: %s", out, strerror(errno));
	if (close(fd) < 0 && r == 0)
		r = fail(b, 0, "%s: %s", out, strerror(errno));
	if (r == 0 && rename(tmp, out) < 0)
		r = fail(b, 0, "%s: %s", out, strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}

/* The default output: the context directory's name, with ".dz". */
static void default_output(const char *context, char *out, size_t len)
{
	char real[PATH_MAX];
	const char *name = realpath(context, real) ? basename(real) : "image";

	snprintf(out, len, "%s.dz", strcmp(name, "/") ? name : "image");
}

int cmd_build(int argc, char **argv)
{
	const char *dunefile = NULL, *out = NULL, *context = ".";
	char dfpath[PATH_MAX], outbuf[PATH_MAX], perr[DUNEFILE_ERRLEN];
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-f") && i + 1 < argc)
			dunefile = argv[++i];
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (argv[i][0] == '-')
			return usage_error("build [-f Dunefile] [-o app.dz] [CONTEXT]");
		else
			break;
	}
	if (i < argc)
		context = argv[i++];
	if (i < argc)
		return usage_error("build [-f Dunefile] [-o app.dz] [CONTEXT]");
	if (!dunefile) {
		snprintf(dfpath, sizeof dfpath, "%s/Dunefile", context);
		dunefile = dfpath;
	}
	if (!out) {
		default_output(context, outbuf, sizeof outbuf);
		out = outbuf;
	}

	size_t len;
	char *text = read_dunefile(dunefile, &len, perr, sizeof perr);
	struct dunefile df;
	if (!text || dunefile_parse(text, len, dunefile, &df, perr) < 0) {
		fprintf(stderr, "dunerun build: %s\n", perr);
		free(text);
		return 1;
	}
	free(text);

	struct builder b = { .dunefile = dunefile };
	int r = -1;
	b.context = open(context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.context < 0) {
		fail(&b, 0, "context %s: %s", context, strerror(errno));
		goto done;
	}
	if (df.from && from(&b, &df) < 0)
		goto done;
	for (int c = 0; c < df.ncopy; c++)
		if (copy(&b, &df.copy[c]) < 0)
			goto done;
	if (check_entrypoint(&b, &df) < 0)
		goto done;

	size_t mlen;
	char policy[POLICY_TEXT_MAX];
	char *manifest = manifest_to_text(&df.manifest, &mlen);
	if (!manifest) {
		fail(&b, 0, "out of memory");
		goto done;
	}
	policy_to_text(&df.policy, policy);
	struct image img = {
		.manifest = manifest, .policy = policy,
		.entry = b.entry, .nentries = b.n,
	};
	r = write_image(&b, &img, out);
	free(manifest);
	if (r == 0) {
		printf("%s: %zu files, %.1f MiB, sha256:", out, b.n, b.bytes / 1048576.0);
		for (int k = 0; k < 32; k++)
			printf("%02x", img.digest[k]);
		if (b.fs)
			print_dropped(b.fs);
		printf("\n");
	}
done:
	if (r < 0)
		fprintf(stderr, "dunerun build: %s\n", b.err);
	for (size_t k = 0; k < b.n; k++) {
		drop_data(&b, k);
		free((void *)b.entry[k].path);
	}
	free(b.entry);
	free(b.mapped);
	rootfs_free(b.fs);
	if (b.context >= 0)
		close(b.context);
	dunefile_free(&df);
	return r < 0 ? 1 : 0;
}
