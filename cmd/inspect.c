/*
 * dunerun inspect IMAGE: what an image holds, after the same checks the
 * runner makes (images/FORMAT.md): its digest, manifest, policy and files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "dunefile.h"
#include "image.h"

static void print_mode(const struct image_entry *e)
{
	static const char type[] = { [IMG_DIR] = 'd', [IMG_REG] = '-', [IMG_SYMLINK] = 'l',
				     [IMG_HARDLINK] = '-' };
	char s[11] = "----------";

	s[0] = type[e->type];
	for (int i = 0; i < 9; i++)
		if (e->mode & (0400 >> i))
			s[1 + i] = "rwxrwxrwx"[i];
	fputs(s, stdout);
}

static void print_manifest(const struct manifest *m)
{
	printf("entrypoint:");
	for (int i = 0; i < m->argc; i++)
		printf(" %s", m->argv[i]);
	printf("\n");
	for (int i = 0; i < m->nenv; i++)
		printf("env: %s\n", m->env[i]);
	if (m->workdir)
		printf("workdir: %s\n", m->workdir);
	for (int i = 0; i < m->nvolumes; i++)
		printf("volume: %s\n", m->volumes[i]);
	if (m->nlayers)
		printf("from: %d layer%s (kind, name, files)\n", m->nlayers, m->nlayers == 1 ? "" : "s");
	for (int i = 0; i < m->nlayers; i++)
		printf("layer: %s\n", m->layers[i]);
}

static int cmp_path(const void *key, const void *e)
{
	return strcmp(key, ((const struct image_entry *)e)->path);
}

/* The bytes of a file, or of the file a hard link names. */
static uint64_t file_size(const struct image *img, const struct image_entry *e)
{
	if (e->type == IMG_HARDLINK)
		e = bsearch(e->target, img->entry, img->nentries, sizeof *e, cmp_path);
	return e && e->type == IMG_REG ? e->size : 0;
}

/* Maps the whole file; the reader checks everything else. */
static const uint8_t *map_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p = MAP_FAILED;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "dunerun: %s: %s\n", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		fprintf(stderr, "dunerun: %s: not an image (%s)\n", path,
			S_ISREG(st.st_mode) ? "empty" : "not a regular file");
	} else {
		p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			fprintf(stderr, "dunerun: %s: %s\n", path, strerror(errno));
		*len = st.st_size;
	}
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

int image_open(const char *path, struct image *img, struct manifest *m, struct policy *pol)
{
	size_t len;
	const uint8_t *file = map_file(path, &len);
	char err[DUNEFILE_ERRLEN];

	if (!file)
		return -1;
	int r = image_read(file, len, NULL, img, err, sizeof err);
	munmap((void *)file, len);
	if (r < 0) {
		fprintf(stderr, "dunerun: %s: %s\n", path, err);
		return -1;
	}
	if (m && image_texts(path, img->manifest, img->policy, m, pol) < 0) {
		image_release(img);
		return -1;
	}
	return 0;
}

int image_texts(const char *path, const char *manifest, const char *policy,
		struct manifest *m, struct policy *pol)
{
	char err[DUNEFILE_ERRLEN];

	if (manifest_from_text(manifest, strlen(manifest), m, err) < 0)
		goto bad;
	if (policy_from_text(policy, strlen(policy), pol, err) < 0) {
		manifest_free(m);
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "dunerun: %s: %s\n", path, err);
	return -1;
}

int cmd_inspect(int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return usage_error("inspect IMAGE.dz");

	struct image img;
	struct manifest m;
	struct policy pol;
	if (image_open(argv[0], &img, &m, &pol) < 0)
		return 1;

	printf("image: %s\ndigest: sha256:", argv[0]);
	for (int i = 0; i < 32; i++)
		printf("%02x", img.digest[i]);
	printf("\n\n");
	print_manifest(&m);
	printf("\npolicy:\n%s", img.policy);
	if (img.policy[0] && img.policy[strlen(img.policy) - 1] != '\n')
		printf("\n");

	uint64_t total = 0;
	for (size_t i = 0; i < img.nentries; i++)
		total += img.entry[i].type == IMG_REG ? img.entry[i].size : 0;
	printf("\nfiles: %zu entries, %llu bytes\n", img.nentries, (unsigned long long)total);
	for (size_t i = 0; i < img.nentries; i++) {
		const struct image_entry *e = &img.entry[i];
		print_mode(e);
		printf(" %10llu /%s", (unsigned long long)file_size(&img, e), e->path);
		if (e->type == IMG_SYMLINK)
			printf(" -> %s", e->target);
		if (e->type == IMG_HARDLINK)
			printf(" => /%s", e->target);
		printf("\n");
	}
	manifest_free(&m);
	image_release(&img);
	return 0;
}
