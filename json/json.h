/*
 * json.h: a small strict JSON reader (RFC 8259), the whole interface.
 *
 * It reads untrusted documents (an OCI image's index.json and manifests,
 * a docker-save manifest.json, an OCI runtime config.json) into a tree
 * of values, and refuses rather than guesses:
 *
 *   - exactly one value, with only JSON whitespace around it;
 *   - no comments, trailing commas, single quotes, NaN or leading zeros;
 *   - strings: valid UTF-8 (no overlong forms, surrogates or code points
 *     past U+10FFFF), no raw control characters, escapes as the RFC
 *     lists them, \u surrogates only in pairs, and no NUL (\u0000): every
 *     string is a C string whose length is its strlen;
 *   - objects: no key twice (two readers picking different duplicates is
 *     how confusion attacks on manifests work);
 *   - at most lim->max_depth nested arrays and objects, lim->max_bytes
 *     of text and lim->max_values values, so a hostile document cannot
 *     make it recurse or allocate without bound.
 *
 * Errors: json_parse returns -1 with a one-line printable message that
 * names the byte offset, in err[errlen].
 */
#ifndef DUNERUN_JSON_H
#define DUNERUN_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING,
	JSON_ARRAY, JSON_OBJECT,
};

/*
 * One value.  Arrays and objects hold n children, first at child and
 * the rest along next, in document order; an object's children carry
 * their key.  A number keeps its text (num is strtod's reading of it);
 * json_int reads exact integers from the text.
 */
struct json {
	enum json_type type;
	const char *key;            /* member of an object: its key, else NULL */
	const char *str;            /* STRING: the decoded text; NUMBER: as written */
	size_t len;                 /* STRING, NUMBER: strlen(str) */
	double num;                 /* NUMBER */
	struct json *child;         /* ARRAY, OBJECT: first element or member */
	struct json *next;          /* the next sibling, or NULL */
	size_t n;                   /* ARRAY, OBJECT: how many children */
};

struct json_limits {
	size_t max_bytes;           /* text */
	size_t max_depth;           /* nested arrays and objects */
	size_t max_values;          /* values of every kind */
};

/* 16 MiB of text, depth 64, a million values. */
extern const struct json_limits json_default_limits;

/* A parsed document: root and the memory behind every value. */
struct json_doc {
	struct json *root;
	void *mem_;                 /* private to json.c */
};

/*
 * Parses text[0..len) (no NUL needed) under lim (NULL: the defaults).
 * Returns 0 and fills doc, or -1 with err set and doc empty.
 */
int json_parse(const char *text, size_t len, const struct json_limits *lim,
	       struct json_doc *doc, char *err, size_t errlen);

/* Frees what json_parse allocated; leaves doc empty.  NULL-safe. */
void json_free(struct json_doc *doc);

/* The member of object v named key, or NULL (also when v is not an
 * object or is NULL). */
const struct json *json_get(const struct json *v, const char *key);

/* The string of v if v is a string, else NULL (v may be NULL). */
const char *json_str(const struct json *v);

/* Reads v as an integer written without fraction or exponent that fits
 * in int64_t.  Returns 0 and sets *out, or -1. */
int json_int(const struct json *v, int64_t *out);

#endif
