/*
 * Unit tests of the run cache (cache/cache.h) against a hostile cache
 * directory: an entry is made from a small image, then its meta file is
 * cut at every length and has bytes changed at random, each time with
 * its sha256 made right again (as a forger would), so that the parser
 * and the index check, not the checksum, must refuse it.  No change may
 * crash the launcher or make it use a tree that differs from its index;
 * each refused entry is made again.  Then the names the cache uses are
 * planted as symlinks, and nothing outside the cache may change.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "check.h"
#include "image.h"

static char dir[64] = "/tmp/test_cache.XXXXXX";
static char cache[128];

/* A small tree: directories (one its owner cannot write), files, a link. */
static int make_image(struct image *img)
{
	static struct image_entry e[] = {
		{ "bin", 0755, IMG_DIR, 0, NULL, NULL },
		{ "bin/prog", 0755, IMG_REG, 5, (const uint8_t *)"#!ok\n", NULL },
		{ "etc", 0555, IMG_DIR, 0, NULL, NULL },
		{ "etc/conf", 0600, IMG_REG, 3, (const uint8_t *)"a=1", NULL },
		{ "etc/link", 0777, IMG_SYMLINK, 0, NULL, "conf" },
	};
	struct image in = { "argv /bin/prog\n", "allow stdio\n", e, 5, { 0 }, NULL };
	char err[200], path[160];
	struct stat st;
	uint8_t *p;
	int fd;

	snprintf(path, sizeof path, "%s/img.dz", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || image_write(fd, &in, NULL, NULL, err, sizeof err) < 0 || fstat(fd, &st) < 0 ||
	    !(p = malloc(st.st_size)) || pread(fd, p, st.st_size, 0) != st.st_size ||
	    image_read(p, st.st_size, NULL, img, err, sizeof err) < 0) {
		fprintf(stderr, "cannot make the image: %s\n", err);
		exit(1);
	}
	close(fd);
	free(p);
	return 0;
}

/* The image's header, as cache_open takes it. */
static uint8_t hdr[IMAGE_HDR_SIZE];

static int fill(const struct image *img)
{
	struct cache_entry e;
	char err[CACHE_ERRLEN];
	const char *dirs[] = { "/dev", "/work/dir" };
	int r = cache_open(cache, hdr, &e, err);

	if (r == CACHE_MISS)
		r = cache_fill(&e, img, dirs, 2, err) == 0 ? CACHE_HIT : -1;
	cache_close(&e);
	return r;
}

/* The entry's meta file: path, bytes, length. */
static char meta[256];

static uint8_t *read_meta(size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(meta, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0 || !(p = malloc(st.st_size)) ||
	    read(fd, p, st.st_size) != st.st_size)
		return NULL;
	close(fd);
	*len = st.st_size;
	return p;
}

/* Writes body[0..len) with a right sha256 after it, as the meta file. */
static void forge(const uint8_t *body, size_t len)
{
	uint8_t sum[32];
	int fd = open(meta, O_WRONLY | O_TRUNC);

	sha256(body, len, sum);
	if (fd < 0 || write(fd, body, len) != (ssize_t)len || write(fd, sum, 32) != 32)
		perror("forge");
	close(fd);
}

/* Opens the entry after a forgery: it must be refused (and made again)
 * or, if accepted, hold what the image does.  Returns 1 if accepted. */
static int reopen(int *ok)
{
	struct cache_entry e;
	char err[CACHE_ERRLEN], buf[8] = "";
	int r = cache_open(cache, hdr, &e, err);

	if (r == CACHE_HIT) {
		int fd = openat(e.tree, "etc/conf", O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof buf) != 3 || memcmp(buf, "a=1", 3))
			*ok = 0;
		if (fd >= 0)
			close(fd);
	} else if (r != CACHE_MISS) {
		*ok = 0;
	}
	cache_close(&e);
	return r == CACHE_HIT;
}

int main(void)
{
	struct image img;
	char err[CACHE_ERRLEN];
	size_t len, i;
	uint8_t *good;
	int ok, accepted = 0, n;

	if (!mkdtemp(dir))
		return 1;
	snprintf(cache, sizeof cache, "%s/cache", dir);
	make_image(&img);
	snprintf(meta, sizeof meta, "%s/%s", dir, "img.dz");
	int fd = open(meta, O_RDONLY);
	if (fd < 0 || read(fd, hdr, sizeof hdr) != sizeof hdr)
		return 1;
	close(fd);
	{
		char hex[65];
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", img.digest[i]);
		snprintf(meta, sizeof meta, "%s/%s/meta", cache, hex);
	}

	check(fill(&img) == CACHE_HIT, "an entry is made and used");
	struct cache_entry e;
	check(cache_open(cache, hdr, &e, err) == CACHE_HIT && !strcmp(e.manifest, img.manifest) &&
	      !strcmp(e.policy, img.policy) && cache_has(&e, "/work/dir") && cache_has(&e, "/dev") &&
	      !cache_has(&e, "/nothere"), "the entry holds the manifest, policy and mount points");
	cache_close(&e);
	good = read_meta(&len);
	check(good && len > 32, "the meta file is %zu bytes", len);
	if (!good)
		return check_summary();
	len -= 32;

	/* Cut at every length, the checksum made right.  Each re-make
	 * prints a note: those go to a file, where the last is checked. */
	char notes[160];
	snprintf(notes, sizeof notes, "%s/notes", dir);
	int saved = dup(2), nfd = open(notes, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(nfd, 2);
	ok = 1;
	for (i = 0; i < len; i++) {
		forge(good, i);
		accepted += reopen(&ok);
		if (fill(&img) != CACHE_HIT)
			ok = 0;
		free(good);
		good = read_meta(&len);
		len -= 32;
	}
	check(ok && accepted == 0, "a meta file cut at each of %zu lengths is refused (%d accepted)", len, accepted);

	/* Bytes changed at random: refused, or accepted only with the tree
	 * the image has (a forged manifest or policy is the forger's). */
	ok = 1;
	accepted = 0;
	srand(1);
	for (n = 0; n < 3000; n++) {
		uint8_t *bad = malloc(len);
		memcpy(bad, good, len);
		for (int k = 1 + rand() % 3; k > 0; k--)
			bad[rand() % len] ^= 1 << (rand() % 8);
		forge(bad, len);
		free(bad);
		if (reopen(&ok))
			accepted++;
		if (fill(&img) != CACHE_HIT)
			ok = 0;
		free(good);
		good = read_meta(&len);
		len -= 32;
	}
	dup2(saved, 2);
	check(ok, "3000 meta files with bytes changed: none crashes or shows another tree (%d accepted)",
	      accepted);
	free(good);
	{
		static char text[1 << 20];
		ssize_t k = pread(nfd, text, sizeof text - 1, 0);
		int printable = k > 0;
		for (ssize_t j = 0; j < k; j++)
			if (text[j] != '\n' && (text[j] < 0x20 || text[j] > 0x7e))
				printable = 0;
		check(printable && strstr(text, "making it again"),
		      "the notes about them are printable lines (%zd bytes)", k);
	}
	close(nfd);

	/* Symlinks where the cache's names are: none is followed. */
	char out[160], path[300], name[80];
	snprintf(out, sizeof out, "%s/outside", dir);
	mkdir(out, 0700);
	snprintf(path, sizeof path, "%s/keep", out);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	char *slash = strrchr(meta, '/');
	*slash = 0;
	snprintf(name, sizeof name, "%s", strrchr(meta, '/') + 1);
	snprintf(path, sizeof path, "rm -rf %s/%s", cache, name);
	if (system(path) != 0)
		return 1;
	snprintf(path, sizeof path, "%s/%s", cache, name);
	if (symlink(out, path) < 0)
		return 1;
	check(fill(&img) == CACHE_HIT, "an entry that is a symlink is replaced");
	snprintf(path, sizeof path, "%s/keep", out);
	struct stat st;
	check(stat(path, &st) == 0 && lstat(meta, &st) == 0 && S_ISDIR(st.st_mode),
	      "and what it pointed to is untouched");
	check(cache_prune(cache, err) == 0 && stat(path, &st) == 0, "prune leaves it too");

	snprintf(path, sizeof path, "%s/link", dir);
	symlink(cache, path);
	check(cache_open(path, hdr, &e, err) < 0 && strstr(err, "symlink"),
	      "a cache directory that is a symlink is refused: %s", err);
	chmod(cache, 0777);
	check(cache_open(cache, hdr, &e, err) < 0 && strstr(err, "writable by others"),
	      "a cache directory others may write is refused: %s", err);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	system(path);
	image_release(&img);
	return check_summary();
}
