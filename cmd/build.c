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
#include <unistd.h>

#include "cmd.h"
#include "dunefile.h"
#include "image.h"
#include "loader.h"

#define MAX_FILES (1 << 20)

struct builder {
	const char *dunefile;   /* for messages */
	int context;            /* directory descriptor */
	struct image_entry *entry;
	size_t n, cap;
	uint64_t bytes;
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

static void drop_data(struct image_entry *e)
{
	if (e->type == IMG_REG && e->size)
		munmap((void *)e->data, e->size);
	free((void *)e->target);
	e->data = NULL;
	e->target = NULL;
}

/* Adds (or, as a later COPY does, replaces) an entry; takes path. */
static struct image_entry *add(struct builder *b, char *path, int line)
{
	struct image_entry *e = find(b, path);

	if (e) {
		drop_data(e);
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
		if (!p) {
			fail(b, line, "out of memory");
			free(path);
			return NULL;
		}
		b->entry = p;
		b->cap = cap;
	}
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
			return fail(b, line, "'%s' is a file, not a directory", buf);
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

/* The entry a path names inside the image, following symlinks. */
static struct image_entry *resolve(struct builder *b, const char *path)
{
	char cur[PATH_MAX];

	snprintf(cur, sizeof cur, "%s", path + strspn(path, "/"));
	for (int hops = 0; hops < 40; hops++) {
		struct image_entry *e = find(b, cur);
		if (!e || e->type != IMG_SYMLINK)
			return e;
		char dir[PATH_MAX], next[PATH_MAX];
		snprintf(dir, sizeof dir, "%s", cur);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		snprintf(next, sizeof next, "%s%s%s", slash ? dir : "", slash ? "/" : "", e->target);
		/* Targets never climb above the root (image_target_ok); fold "..". */
		char out[PATH_MAX] = "";
		for (char *save, *tok = strtok_r(next, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
			if (!strcmp(tok, "."))
				continue;
			if (!strcmp(tok, "..")) {
				char *s = strrchr(out, '/');
				if (s)
					*s = 0;
				else
					out[0] = 0;
				continue;
			}
			size_t l = strlen(out);
			snprintf(out + l, sizeof out - l, "%s%s", l ? "/" : "", tok);
		}
		snprintf(cur, sizeof cur, "%s", out);
	}
	return NULL;
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
		printf("\n");
	}
done:
	if (r < 0)
		fprintf(stderr, "dunerun build: %s\n", b.err);
	for (size_t k = 0; k < b.n; k++) {
		drop_data(&b.entry[k]);
		free((void *)b.entry[k].path);
	}
	free(b.entry);
	if (b.context >= 0)
		close(b.context);
	dunefile_free(&df);
	return r < 0 ? 1 : 0;
}
