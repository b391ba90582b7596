/*
 * The manifest: entrypoint, environment, working directory and volumes,
 * built field by field and written to and read from its canonical text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dunefile.h"

const char *dunefile_path_error(const char *path)
{
	const char *c;

	if (path[0] != '/')
		return "must be an absolute path";
	if (strlen(path) >= DF_MAX_STR)
		return "is too long";
	for (c = path; (c = strstr(c, "..")) != NULL; c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return "must not contain '..'";
	return NULL;
}

/* Appends a copy of s[0..len) to the NULL-terminated array *a of *n. */
static int push(char ***a, int *n, const char *s, size_t len)
{
	char **na = realloc(*a, (*n + 2) * sizeof **a);
	char *copy = malloc(len + 1);

	if (na)
		*a = na;
	if (!na || !copy) {
		free(copy);
		return -1;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	na[(*n)++] = copy;
	na[*n] = NULL;
	return 0;
}

static void free_list(char **a, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

void manifest_free(struct manifest *m)
{
	free_list(m->argv, m->argc);
	free_list(m->env, m->nenv);
	free(m->workdir);
	free_list(m->volumes, m->nvolumes);
	free_list(m->layers, m->nlayers);
	memset(m, 0, sizeof *m);
}

static int oom(char err[DUNEFILE_ERRLEN])
{
	snprintf(err, DUNEFILE_ERRLEN, "out of memory");
	return -1;
}

int manifest_add_arg(struct manifest *m, const char *s,
		     char err[DUNEFILE_ERRLEN])
{
	size_t len = strlen(s);

	if (m->argc >= DF_MAX_ARGS) {
		snprintf(err, DUNEFILE_ERRLEN, "more than %d ENTRYPOINT strings",
			 DF_MAX_ARGS);
		return -1;
	}
	if (len >= DF_MAX_STR) {
		snprintf(err, DUNEFILE_ERRLEN, "an ENTRYPOINT string is too long");
		return -1;
	}
	return push(&m->argv, &m->argc, s, len) < 0 ? oom(err) : 0;
}

static int key_ok(const char *k, size_t len)
{
	size_t i;

	if (len == 0 || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (i = 0; i < len; i++)
		if (!(k[i] == '_' || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= '0' && k[i] <= '9')))
			return 0;
	return 1;
}

int manifest_set_env(struct manifest *m, const char *key, size_t keylen,
		     const char *value, char err[DUNEFILE_ERRLEN])
{
	size_t vlen = strlen(value);
	char *kv;
	int i;

	if (!key_ok(key, keylen)) {
		char q[48];
		size_t j;

		for (j = 0; j < keylen && j < 40; j++)
			q[j] = (key[j] >= 0x20 && key[j] < 0x7f) ? key[j] : '?';
		q[j] = '\0';
		snprintf(err, DUNEFILE_ERRLEN, "ENV: '%s%s' is not a variable "
			 "name (letters, digits, '_')", q, keylen > 40 ? "..." : "");
		return -1;
	}
	if (keylen + 1 + vlen >= DF_MAX_STR) {
		snprintf(err, DUNEFILE_ERRLEN, "ENV: value too long");
		return -1;
	}
	kv = malloc(keylen + 1 + vlen + 1);
	if (!kv)
		return oom(err);
	memcpy(kv, key, keylen);
	kv[keylen] = '=';
	memcpy(kv + keylen + 1, value, vlen + 1);
	for (i = 0; i < m->nenv; i++)
		if (strncmp(m->env[i], kv, keylen + 1) == 0) {
			free(m->env[i]);
			m->env[i] = kv;
			return 0;
		}
	if (m->nenv >= DF_MAX_ENV) {
		free(kv);
		snprintf(err, DUNEFILE_ERRLEN, "more than %d ENV variables",
			 DF_MAX_ENV);
		return -1;
	}
	if (push(&m->env, &m->nenv, "", 0) < 0) {
		free(kv);
		return oom(err);
	}
	free(m->env[m->nenv - 1]);
	m->env[m->nenv - 1] = kv;
	return 0;
}

int manifest_set_workdir(struct manifest *m, const char *path,
			 char err[DUNEFILE_ERRLEN])
{
	const char *why = dunefile_path_error(path);
	char *copy;

	if (why) {
		snprintf(err, DUNEFILE_ERRLEN, "WORKDIR %s", why);
		return -1;
	}
	copy = strdup(path);
	if (!copy)
		return oom(err);
	free(m->workdir);
	m->workdir = copy;
	return 0;
}

int manifest_add_volume(struct manifest *m, const char *path,
			char err[DUNEFILE_ERRLEN])
{
	const char *why = dunefile_path_error(path);
	int i;

	if (why) {
		snprintf(err, DUNEFILE_ERRLEN, "VOLUME %s", why);
		return -1;
	}
	for (i = 0; i < m->nvolumes; i++)
		if (strcmp(m->volumes[i], path) == 0)
			return 0;
	if (m->nvolumes >= DF_MAX_VOLUMES) {
		snprintf(err, DUNEFILE_ERRLEN, "more than %d VOLUMEs",
			 DF_MAX_VOLUMES);
		return -1;
	}
	return push(&m->volumes, &m->nvolumes, path, strlen(path)) < 0 ?
	       oom(err) : 0;
}

int manifest_add_layer(struct manifest *m, const char *text,
		       char err[DUNEFILE_ERRLEN])
{
	size_t len = strlen(text);

	if (m->nlayers >= DF_MAX_LAYERS) {
		snprintf(err, DUNEFILE_ERRLEN, "more than %d layers", DF_MAX_LAYERS);
		return -1;
	}
	if (len == 0 || len >= DF_MAX_STR || strchr(text, '\n')) {
		snprintf(err, DUNEFILE_ERRLEN, "a layer's description is empty, too long or not one line");
		return -1;
	}
	return push(&m->layers, &m->nlayers, text, len) < 0 ? oom(err) : 0;
}

int manifest_check(const struct manifest *m, char err[DUNEFILE_ERRLEN])
{
	const char *why;
	int i, j;

	if (m->argc < 1 || m->argc > DF_MAX_ARGS) {
		snprintf(err, DUNEFILE_ERRLEN, "no ENTRYPOINT");
		return -1;
	}
	if ((why = dunefile_path_error(m->argv[0])) != NULL) {
		snprintf(err, DUNEFILE_ERRLEN, "ENTRYPOINT program %s", why);
		return -1;
	}
	for (i = 0; i < m->nenv; i++) {
		const char *eq = strchr(m->env[i], '=');

		if (!eq || !key_ok(m->env[i], eq - m->env[i])) {
			snprintf(err, DUNEFILE_ERRLEN, "bad ENV entry");
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strncmp(m->env[j], m->env[i], eq - m->env[i] + 1) == 0) {
				snprintf(err, DUNEFILE_ERRLEN, "ENV key twice");
				return -1;
			}
	}
	if (m->workdir && (why = dunefile_path_error(m->workdir)) != NULL) {
		snprintf(err, DUNEFILE_ERRLEN, "WORKDIR %s", why);
		return -1;
	}
	for (i = 0; i < m->nvolumes; i++) {
		if ((why = dunefile_path_error(m->volumes[i])) != NULL) {
			snprintf(err, DUNEFILE_ERRLEN, "VOLUME %s", why);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(m->volumes[j], m->volumes[i]) == 0) {
				snprintf(err, DUNEFILE_ERRLEN, "VOLUME twice");
				return -1;
			}
	}
	return 0;
}

/* ---- canonical text ---------------------------------------------------- */

static int must_escape(unsigned char c)
{
	return c <= ' ' || c == '%' || c >= 0x7f;
}

/* Appends "key value\n" to buf at *n (NULL: only counts). */
static void put_field(char *buf, size_t *n, const char *key, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = *n;

	for (; *key; key++, k++)
		if (buf)
			buf[k] = *key;
	if (buf)
		buf[k] = ' ';
	k++;
	for (; *v; v++) {
		unsigned char c = *v;

		if (must_escape(c)) {
			if (buf) {
				buf[k] = '%';
				buf[k + 1] = hex[c >> 4];
				buf[k + 2] = hex[c & 15];
			}
			k += 3;
		} else {
			if (buf)
				buf[k] = c;
			k++;
		}
	}
	if (buf)
		buf[k] = '\n';
	*n = k + 1;
}

static void put_all(const struct manifest *m, char *buf, size_t *n)
{
	int i;

	*n = 0;
	for (i = 0; i < m->argc; i++)
		put_field(buf, n, "argv", m->argv[i]);
	for (i = 0; i < m->nenv; i++)
		put_field(buf, n, "env", m->env[i]);
	if (m->workdir)
		put_field(buf, n, "workdir", m->workdir);
	for (i = 0; i < m->nvolumes; i++)
		put_field(buf, n, "volume", m->volumes[i]);
	for (i = 0; i < m->nlayers; i++)
		put_field(buf, n, "layer", m->layers[i]);
}

char *manifest_to_text(const struct manifest *m, size_t *len)
{
	char *buf;
	size_t n;

	put_all(m, NULL, &n);
	buf = malloc(n + 1);
	if (!buf)
		return NULL;
	put_all(m, buf, &n);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into out (room for DF_MAX_STR).  -1 if malformed. */
static int decode(const char *s, size_t len, char out[DF_MAX_STR])
{
	size_t i, k = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (k + 1 >= DF_MAX_STR)
			return -1;
		if (c == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = unhex(s[i + 1])) < 0 ||
			    (lo = unhex(s[i + 2])) < 0 || (hi | lo) == 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		out[k++] = c;
	}
	out[k] = '\0';
	return 0;
}

static int from_text(const char *text, size_t len, struct manifest *m,
		     char *val, char err[DUNEFILE_ERRLEN])
{
	size_t pos = 0;
	int lineno = 0;

	if (len > MANIFEST_TEXT_MAX) {
		snprintf(err, DUNEFILE_ERRLEN, "manifest: too long");
		return -1;
	}
	while (pos < len) {
		const char *line = text + pos, *nl, *sp;
		size_t llen;
		char e[DUNEFILE_ERRLEN];
		int r;

		lineno++;
		nl = memchr(line, '\n', len - pos);
		if (!nl) {
			snprintf(err, DUNEFILE_ERRLEN, "manifest:%d: no newline", lineno);
			return -1;
		}
		llen = nl - line;
		pos += llen + 1;
		sp = memchr(line, ' ', llen);
		if (!sp || decode(sp + 1, nl - sp - 1, val) < 0) {
			snprintf(err, DUNEFILE_ERRLEN, "manifest:%d: malformed line",
				 lineno);
			return -1;
		}
#define IS(k) (sp - line == sizeof k - 1 && memcmp(line, k, sizeof k - 1) == 0)
		if (IS("argv")) {
			r = manifest_add_arg(m, val, e);
		} else if (IS("env")) {
			const char *eq = strchr(val, '=');

			r = eq ? manifest_set_env(m, val, eq - val, eq + 1, e) : -1;
			if (!eq)
				snprintf(e, sizeof e, "ENV without '='");
		} else if (IS("workdir")) {
			r = manifest_set_workdir(m, val, e);
		} else if (IS("volume")) {
			r = manifest_add_volume(m, val, e);
		} else if (IS("layer")) {
			r = manifest_add_layer(m, val, e);
		} else {
			r = -1;
			snprintf(e, sizeof e, "unknown field");
		}
#undef IS
		if (r < 0) {
			snprintf(err, DUNEFILE_ERRLEN, "manifest:%d: %.200s", lineno, e);
			return -1;
		}
	}
	if (manifest_check(m, err) < 0)
		return -1;
	return 0;
}

int manifest_from_text(const char *text, size_t len, struct manifest *m,
		       char err[DUNEFILE_ERRLEN])
{
	char *val = malloc(DF_MAX_STR), *out = NULL;
	size_t n;
	int r = -1;

	memset(m, 0, sizeof *m);
	if (!val) {
		oom(err);
		goto done;
	}
	if (from_text(text, len, m, val, err) < 0)
		goto done;
	/* Order, repeats and anything else not canonical end here. */
	out = manifest_to_text(m, &n);
	if (!out) {
		oom(err);
		goto done;
	}
	if (n != len || memcmp(out, text, len) != 0) {
		snprintf(err, DUNEFILE_ERRLEN, "manifest: not in canonical form");
		goto done;
	}
	r = 0;
done:
	if (r < 0)
		manifest_free(m);
	free(val);
	free(out);
	return r;
}
