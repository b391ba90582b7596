/*
 * test_rootfs BUSYBOX: the tar reader, layers and whiteouts (rootfs/).
 *
 * Archives are made by GNU tar in its gnu, pax and ustar formats, and
 * tar_next's listing of each is compared with Python's tarfile's.  Every
 * truncation and every changed header byte must be refused.  Symlink
 * targets made relative must resolve, in a chroot, where the originals
 * do (busybox readlink -f).  Whiteouts follow the OCI image spec's rules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "rootfs_impl.h"

static char dir[] = "/tmp/test_rootfs.XXXXXX";

static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		printf("FAIL command: %s\n", cmd);
		exit(2);
	}
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;

	if (!f)
		exit(2);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(*len ? *len : 1);
	if (fread(p, 1, *len, f) != *len)
		exit(2);
	fclose(f);
	return p;
}

/* "TYPE NAME SIZE LINK MODE UID GID" per member, names without a
 * trailing '/' (tarfile drops it), into out; -1 on a reader error. */
static int list(const uint8_t *p, size_t len, char *out, size_t outlen, size_t *end)
{
	struct tar t;
	struct tar_member m;
	char err[256];
	size_t k = 0;
	int r;

	tar_init(&t, p, len);
	out[0] = 0;
	while ((r = tar_next(&t, &m, err, sizeof err)) == 1) {
		char name[TAR_NAME_MAX + 1];
		snprintf(name, sizeof name, "%s", m.name);
		size_t n = strlen(name);
		while (n > 1 && name[n - 1] == '/')
			name[--n] = 0;
		k += snprintf(out + k, outlen - k, "%c %s %llu %s %o %llu %llu\n", "-hldcbp"[m.type], name,
			      (unsigned long long)m.size,
			      m.type == TAR_SYMLINK || m.type == TAR_HARDLINK ? m.link : "",
			      m.mode, (unsigned long long)m.uid, (unsigned long long)m.gid);
	}
	if (end)
		*end = t.pos;
	return r;
}

static char *python_list(const char *tarfile)
{
	char cmd[1024], line[16384];
	static char out[1 << 20];
	size_t k = 0;
	FILE *f;

	snprintf(cmd, sizeof cmd, "python3 -c '\n"
		 "import tarfile, sys\n"
		 "for m in tarfile.open(sys.argv[1]):\n"
		 "    t = \"-\" if m.isreg() else \"h\" if m.islnk() else \"l\" if m.issym() else "
		 "\"c\" if m.ischr() else \"b\" if m.isblk() else \"d\" if m.isdir() else \"p\"\n"
		 "    print(t, m.name, m.size if m.isreg() else 0, m.linkname if m.issym() or m.islnk() else \"\", "
		 "\"%%o\" %% m.mode, m.uid, m.gid)\n' %s", tarfile);
	f = popen(cmd, "r");
	out[0] = 0;
	while (f && fgets(line, sizeof line, f))
		k += snprintf(out + k, sizeof out - k, "%s", line);
	if (!f || pclose(f) != 0)
		return NULL;
	return out;
}

/* A tree with what each format must carry: long names and link
 * targets, a hard link, a FIFO, modes, other owners. */
static void make_tree(void)
{
	char longdir[200], longname[200], longlink[200];

	memset(longdir, 'd', 120);
	longdir[120] = 0;
	memset(longname, 'n', 150);
	longname[150] = 0;
	memset(longlink, 't', 160);
	longlink[160] = 0;
	sh("mkdir -p %s/tree/%s %s/short/%.70s/%.70s", dir, longdir, dir, longdir, longname);
	sh("cd %s/tree && printf 'hello\\n' > f && chmod 640 f && ln f hard && mkfifo fifo && "
	   "ln -s %s longlink && printf 'x%%.0s' $(seq 1 1000) > %s/%s && : > empty && "
	   "chown 1000:2000 empty && mkdir -p 'with space' && printf 'y' > 'with space/z'",
	   dir, longlink, longdir, longname);
	/* ustar: a name split into prefix and name, nothing longer. */
	sh("cd %s/short && printf 'abc' > %.70s/%.70s/%.60s && printf 'q' > top", dir, longdir, longname, longlink);
}

static void test_formats(void)
{
	static const char *fmts[] = { "gnu", "pax", "ustar" };
	static char ours[1 << 20];

	for (size_t i = 0; i < 3; i++) {
		char path[512];
		size_t len;
		snprintf(path, sizeof path, "%s/%s.tar", dir, fmts[i]);
		sh("tar --format=%s -C %s/%s -cf %s .", fmts[i], dir, i < 2 ? "tree" : "short", path);
		uint8_t *p = slurp(path, &len);
		int r = list(p, len, ours, sizeof ours, NULL);
		char *py = python_list(path);
		check(r == 0 && py && !strcmp(ours, py), "%s: tar_next lists what python's tarfile lists%s%s%s%s",
		      fmts[i], r || !py || strcmp(ours, py) ? "\nours:\n" : "", r || !py || strcmp(ours, py) ? ours : "",
		      r || !py || strcmp(ours, py) ? "python:\n" : "", r || !py || strcmp(ours, py) ? (py ? py : "(none)") : "");
		free(p);
	}
}

/* Every cut before the end block is refused; every cut after it reads
 * the same members. */
static void test_truncation(void)
{
	static char full[1 << 20], part[1 << 20];
	char path[512];
	size_t len, end;
	int bad = 0, tried = 0;

	snprintf(path, sizeof path, "%s/gnu.tar", dir);
	uint8_t *p = slurp(path, &len);
	list(p, len, full, sizeof full, &end);
	for (size_t cut = 0; cut <= len; cut += cut < end + 1024 ? 97 : 512) {
		uint8_t *q = malloc(cut ? cut : 1);      /* exact, for ASan */
		memcpy(q, p, cut);
		int r = list(q, cut, part, sizeof part, NULL);
		if (cut < end + 512 ? r != -1 : (r != 0 || strcmp(part, full)))
			bad++;
		tried++;
		free(q);
	}
	check(bad == 0, "%d cuts of a %zu-byte tar (end block at %zu): refused before it, whole after (%d wrong)",
	      tried, len, end, bad);
	free(p);
}

static void test_header_bytes(void)
{
	static char out[1 << 20];
	char path[512];
	size_t len;
	int missed = 0;

	snprintf(path, sizeof path, "%s/gnu.tar", dir);
	uint8_t *p = slurp(path, &len);
	for (int i = 0; i < 512; i++) {
		if (i >= 148 && i < 156)
			continue;       /* the checksum field: its last bytes are padding */
		p[i] ^= 1;
		if (list(p, len, out, sizeof out, NULL) != -1)
			missed++;
		p[i] ^= 1;
	}
	check(missed == 0, "each of 504 header bytes changed: a bad checksum (%d missed)", missed);
	/* A header with a correct checksum over a size past the archive. */
	memcpy(p + 124, "77777777777", 11);
	unsigned sum = 0;
	memset(p + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += p[i];
	snprintf((char *)p + 148, 8, "%06o", sum);
	char err[256];
	struct tar t;
	struct tar_member m;
	tar_init(&t, p, len);
	check(tar_next(&t, &m, err, sizeof err) == -1 && strstr(err, "truncated"),
	      "a size past the archive: %s", err);
	free(p);
}

/* A ustar header with a right checksum. */
static void header(uint8_t *h, const char *name, char type, unsigned long size)
{
	unsigned sum = 0;

	memset(h, 0, 512);
	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 8);
	snprintf((char *)h + 124, 12, "%011lo", size);
	h[156] = (uint8_t)type;
	memcpy(h + 257, "ustar", 6);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

/* GNU long names at the limit: TAR_NAME_MAX bytes and a NUL are a
 * name, one byte more (no room for the NUL) is refused. */
static void test_long_names(void)
{
	for (int extra = 0; extra < 2; extra++) {
		size_t n = TAR_NAME_MAX + extra, len = 512 + (n + 1 + 511) / 512 * 512 + 512 + 1024;
		uint8_t *p = calloc(1, len);
		struct tar t;
		struct tar_member m;
		char err[256] = "";
		header(p, "././@LongLink", 'L', n + (extra ? 0 : 1));
		memset(p + 512, 'a', n);
		header(p + len - 1536, "short", '0', 0);
		tar_init(&t, p, len);
		int r = tar_next(&t, &m, err, sizeof err);
		check(extra ? r == -1 && strstr(err, "bad GNU long name") : r == 1 && strlen(m.name) == n,
		      "a GNU long name of %zu bytes%s: %s", n, extra ? " without its NUL" : "",
		      r == 1 ? "read" : err);
		free(p);
	}
}

/* Python writes the layers: whiteouts are only names. */
static void layer(const char *name, const char *members)
{
	sh("python3 -c '\n"
	   "import tarfile, io, sys\n"
	   "t = tarfile.open(sys.argv[1], \"w\")\n"
	   "for m in sys.argv[2].split():\n"
	   "    kind, _, path = m.partition(\":\")\n"
	   "    i = tarfile.TarInfo(path)\n"
	   "    if kind == \"d\": i.type = tarfile.DIRTYPE; i.mode = 0o755\n"
	   "    elif kind.startswith(\"h=\"): i.type = tarfile.LNKTYPE; i.linkname = kind[2:]\n"
	   "    else: i.size = len(kind); i.mode = 0o644\n"
	   "    t.addfile(i, io.BytesIO(kind.encode() if kind not in (\"d\",) and not kind.startswith(\"h=\") else b\"\"))\n"
	   "t.close()' %s/%s '%s'", dir, name, members);
}

/* The tree's entries as "TYPE PATH[=DATA|>TARGET]" lines. */
static void entries(struct rootfs *fs, char *out, size_t outlen)
{
	size_t n, k = 0;
	struct image_entry *e = rootfs_entries(fs, &n);

	out[0] = 0;
	for (size_t i = 0; e && i < n; i++)
		k += snprintf(out + k, outlen - k, "%c %s%s%.*s%s%s;", "?drlh"[e[i].type], e[i].path,
			      e[i].type == IMG_REG ? "=" : "", e[i].type == IMG_REG ? (int)e[i].size : 0,
			      e[i].type == IMG_REG ? (const char *)e[i].data : "",
			      e[i].target ? ">" : "", e[i].target ? e[i].target : "");
}

static int apply(struct rootfs *fs, const char *name, char *err, size_t errlen)
{
	char path[512];
	size_t len;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	uint8_t *p = slurp(path, &len);
	void *m = malloc(len);  /* kept: the tree points into it */
	memcpy(m, p, len);
	free(p);
	return rootfs_apply_tar(fs, m, len, "tar", name, err, errlen);
}

static void test_whiteouts(void)
{
	char err[512] = "", got[4096];
	struct rootfs *fs = rootfs_new(100, NULL, NULL);

	layer("l1.tar", "d:a one:a/x two:a/y three:b/z d:c four:c/w five:c/d/deep six:keep");
	/* c/kept comes before the opaque marker in the same layer: it stays
	 * (the marker hides lower layers only, OCI image-spec layer.md). */
	layer("l2.tar", "d:a d:a/.wh.x zz:.wh.b d:c new:c/kept :c/.wh..wh..opq new2:c/new :.wh.nothing");
	int r = apply(fs, "l1.tar", err, sizeof err);
	if (r == 0)
		r = apply(fs, "l2.tar", err, sizeof err);
	entries(fs, got, sizeof got);
	check(r == 0 && !strcmp(got, "d a;r a/y=two;d c;r c/kept=new;r c/new=new2;r keep=six;"),
	      "whiteout, opaque directory, a whiteout of nothing: %s%s", err, got);
	check(rootfs_nlayers(fs) == 2 && rootfs_layer(fs, 1)->files == 8,
	      "two layers, the second of 8 members");
	rootfs_free(fs);

	/* A file replacing a directory takes what was below it; a hard link
	 * keeps the old data when its first name is replaced. */
	fs = rootfs_new(100, NULL, NULL);
	layer("l3.tar", "d:d old:d/f old:f h=f:g");
	layer("l4.tar", "file:d new:f");
	r = apply(fs, "l3.tar", err, sizeof err);
	if (r == 0)
		r = apply(fs, "l4.tar", err, sizeof err);
	entries(fs, got, sizeof got);
	check(r == 0 && !strcmp(got, "r d=file;r f=new;r g=old;"),
	      "a file over a directory, a replaced hard link: %s%s", err, got);
	rootfs_free(fs);

	fs = rootfs_new(100, NULL, NULL);
	layer("l5.tar", "x:z x:a h=z:b h=a:y");
	r = apply(fs, "l5.tar", err, sizeof err);
	entries(fs, got, sizeof got);
	check(r == 0 && !strcmp(got, "r a=x;r b=x;h y>a;h z>b;"),
	      "links stored under the smallest name, the rest pointing to it: %s%s", err, got);
	rootfs_free(fs);

	fs = rootfs_new(5, NULL, NULL);
	layer("l6.tar", "a:1 a:2 a:3 a:4 a:5 a:6 a:7");
	r = apply(fs, "l6.tar", err, sizeof err);
	check(r < 0 && strstr(err, "more than 5 files") && strstr(err, "l6.tar: 6:"),
	      "a tree over its file limit: %s", err);
	rootfs_free(fs);

	static const struct { const char *members, *want; } bad[] = {
		{ ":.wh..wh..opq", "whiteout of the root" },
		{ "d:a :a/.wh..", "not a name" },
		{ "x:../x", "'..'" },
		{ "x:a/../../x", "'..'" },
		{ "h=../x:y", "outside the root" },
		{ "h=nothing:y", "not in the tree" },
		{ "d:a h=a:y", "not a regular file" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fs = rootfs_new(100, NULL, NULL);
		layer("bad.tar", bad[i].members);
		r = apply(fs, "bad.tar", err, sizeof err);
		check(r < 0 && strstr(err, bad[i].want) && strstr(err, "bad.tar: "),
		      "refuses '%s': %s", bad[i].members, err);
		rootfs_free(fs);
	}
}

/* Each target, made relative, resolves in a chroot where the original
 * did, both read by busybox readlink -f. */
static void test_targets(const char *busybox)
{
	static const struct { const char *path, *target; } cases[] = {
		{ "l", "/etc/passwd" }, { "a/b/l", "/etc/passwd" }, { "a/b/l", "/" },
		{ "l", "/" }, { "a/l", "../../../../etc/passwd" }, { "a/b/l", "/../../etc/./passwd" },
		{ "a/l", "./../etc/passwd" }, { "a/b/l", "../x" }, { "l", "etc/passwd" },
		{ "a/b/l", "//etc//passwd" },
	};
	char out[512], a[512], b[512];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r = rootfs_fix_target(cases[i].path, cases[i].target, out, sizeof out);
		sh("rm -rf %s/r1 %s/r2 && mkdir -p %s/r1/a/b %s/r1/etc && touch %s/r1/etc/passwd %s/r1/x && "
		   "cp %s %s/r1/busybox && cp -a %s/r1 %s/r2 && ln -s '%s' %s/r1/%s && ln -s '%s' %s/r2/%s",
		   dir, dir, dir, dir, dir, dir, busybox, dir, dir, dir,
		   cases[i].target, dir, cases[i].path, out, dir, cases[i].path);
		for (int k = 0; k < 2; k++) {
			char cmd[1024];
			snprintf(cmd, sizeof cmd, "chroot %s/r%d /busybox readlink -f /%s", dir, k + 1, cases[i].path);
			FILE *f = popen(cmd, "r");
			char *s = k ? b : a;
			if (!f || !fgets(s, 512, f))
				strcpy(s, "(none)");
			if (f)
				pclose(f);
		}
		check(r == 0 && !strcmp(a, b) && a[0] == '/' && out[0] != '/', "%s -> %s becomes %s: resolves to %.*s as before",
		      cases[i].path, cases[i].target, out, (int)strcspn(a, "\n"), a);
	}
	check(rootfs_fix_target("d/l", "a/../../../x", out, sizeof out) < 0,
	      "d/l -> a/../../../x (climbing out past a name) is refused");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: test_rootfs BUSYBOX\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return 2;
	make_tree();
	test_formats();
	test_truncation();
	test_header_bytes();
	test_long_names();
	test_whiteouts();
	test_targets(argv[1]);
	sh("rm -rf %s", dir);
	return check_summary();
}
