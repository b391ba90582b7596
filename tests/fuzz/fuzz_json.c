/*
 * fuzz_json: libFuzzer harness for json_parse (json/json.c).
 *
 * Whatever it accepts must hold what json.h promises: strings valid
 * UTF-8 without NUL, their len their strlen, counts that match the
 * children, object keys unique, depth and value counts within the
 * limits.  A refusal must come with a one-line printable reason.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

static const struct json_limits lim = { .max_bytes = 1 << 16, .max_depth = 16, .max_values = 4096 };

static int utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], cp, k;
		if (c < 0x80) { i++; continue; }
		if ((c & 0xe0) == 0xc0) k = 2, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0) k = 3, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0) k = 4, cp = c & 0x07;
		else return 0;
		if (i + k > n) return 0;
		for (unsigned j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80) return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k;
	}
	return 1;
}

static size_t walk(const struct json *v, size_t depth)
{
	size_t values = 1, n = 0;

	CHECK(depth <= lim.max_depth + 1);
	if (v->type == JSON_STRING) {
		CHECK(v->str && strlen(v->str) == v->len && utf8_ok((const unsigned char *)v->str, v->len));
	}
	if (v->type == JSON_NUMBER)
		CHECK(v->str && strlen(v->str) == v->len && v->len > 0);
	for (const struct json *c = v->child; c; c = c->next) {
		n++;
		if (v->type == JSON_OBJECT) {
			CHECK(c->key && utf8_ok((const unsigned char *)c->key, strlen(c->key)));
			for (const struct json *d = v->child; d != c; d = d->next)
				CHECK(strcmp(d->key, c->key) != 0);
			CHECK(json_get(v, c->key) == c);
		} else {
			CHECK(!c->key);
		}
		values += walk(c, depth + (v->type == JSON_ARRAY || v->type == JSON_OBJECT));
	}
	CHECK(n == v->n);
	CHECK(v->type == JSON_ARRAY || v->type == JSON_OBJECT || (!v->child && v->n == 0));
	return values;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc doc;
	char err[160];

	memset(err, 0, sizeof err);
	if (json_parse((const char *)data, size, &lim, &doc, err, sizeof err) == 0) {
		CHECK(walk(doc.root, 0) <= lim.max_values);
		json_free(&doc);
	} else {
		check_err(err, sizeof err);
		CHECK(!doc.root);
	}
	return 0;
}
