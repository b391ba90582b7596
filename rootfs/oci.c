/*
 * oci.c: OCI image layouts and docker-save archives (rootfs.h).
 *
 * Image formats name their parts by digest; every blob read is hashed
 * and compared with its name (and descriptor size) before it is parsed
 * or applied, and a layer's uncompressed bytes with the config's
 * diff_id, so a layout edited or cut short is refused, not half-used.
 * OCI: image-spec's image-layout.md, image-index.md, manifest.md and
 * config.md.  docker save: manifest.json, [{"Config", "Layers"}].
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "rootfs_impl.h"

#define MAX_JSON  (4 << 20)     /* bytes of an index, manifest or config */
#define MAX_NEST  4             /* indexes pointing at indexes */

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
	if (rootfs_get(fs, st, path, p, len, err, errlen) < 0)
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

int rootfs_oci(struct rootfs *fs, const struct store *st, char *err, size_t errlen)
{
	struct json_doc layout, index;
	const uint8_t *p;
	size_t len;
	int r;

	if (rootfs_get(fs, st, "oci-layout", &p, &len, err, errlen) < 0 ||
	    parse_json(st, "oci-layout", p, len, &layout, err, errlen) < 0)
		return -1;
	r = json_str(json_get(layout.root, "imageLayoutVersion")) ? 0 :
	    rootfs_fail(err, errlen, "%s: oci-layout has no imageLayoutVersion", st->source);
	json_free(&layout);
	if (r < 0 || rootfs_get(fs, st, "index.json", &p, &len, err, errlen) < 0 ||
	    parse_json(st, "index.json", p, len, &index, err, errlen) < 0)
		return -1;
	const struct json *m = pick(index.root, st, err, errlen);
	r = m ? oci_desc(fs, st, m, 0, err, errlen) : -1;
	json_free(&index);
	return r;
}

/* ---- docker save ------------------------------------------------------ */

/* manifest.json: [{"Config": "x.json", "Layers": ["y/layer.tar", ...]}]. */
int rootfs_docker(struct rootfs *fs, const struct store *st, char *err, size_t errlen)
{
	struct json_doc man, config;
	const struct json *img, *layers, *l, *id;
	const uint8_t *p;
	size_t len;
	int r = -1;

	if (rootfs_get(fs, st, "manifest.json", &p, &len, err, errlen) < 0 ||
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
	    rootfs_get(fs, st, clean, &p, &len, err, errlen) < 0 ||
	    parse_json(st, cpath, p, len, &config, err, errlen) < 0)
		goto out;
	r = 0;
	if (!(id = diff_ids(config.root, layers->n, st, err, errlen)))
		r = -1;
	for (l = layers->child, id = id ? id->child : NULL; r == 0 && l; l = l->next, id = id->next) {
		const char *path = json_str(l);
		r = !path || rootfs_clean_name(path, clean, sizeof clean) < 0 ?
		    rootfs_fail(err, errlen, "%s: a layer that is not a path", st->source) :
		    rootfs_get(fs, st, clean, &p, &len, err, errlen);
		if (r == 0)
			r = layer(fs, "docker", json_str(id) ? json_str(id) : path, p, len,
				  json_str(id), st, err, errlen);
	}
	json_free(&config);
out:
	json_free(&man);
	return r;
}
