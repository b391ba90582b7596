/*
 * json.c: the strict JSON reader (json.h).
 *
 * A recursive-descent parser over a cursor that never reads past len.
 * Values and decoded strings live in an arena of chunks freed at once;
 * a decoded string is never longer than its source, so the arena grows
 * with the text and the value count, both under the caller's limits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

const struct json_limits json_default_limits = {
	.max_bytes = 16 << 20,
	.max_depth = 64,
	.max_values = 1 << 20,
};

#define CHUNK (64 << 10)

struct chunk {
	struct chunk *prev;
	size_t used, cap;
	char mem[];
};

struct parser {
	const char *s;
	size_t len, pos;
	const struct json_limits *lim;
	size_t depth, values;
	struct chunk *arena;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->errlen == 0)
		return -1;
	n = snprintf(p->err, p->errlen, "offset %zu: ", p->pos);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

static void *alloc(struct parser *p, size_t size)
{
	struct chunk *c = p->arena;

	size = (size + 15) & ~(size_t)15;
	if (!c || c->cap - c->used < size) {
		size_t cap = size > CHUNK ? size : CHUNK;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->prev = p->arena;
		c->used = 0;
		c->cap = cap;
		p->arena = c;
	}
	c->used += size;
	return c->mem + c->used - size;
}

static void free_arena(struct chunk *c)
{
	while (c) {
		struct chunk *prev = c->prev;
		free(c);
		c = prev;
	}
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static int peek(struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static struct json *new_value(struct parser *p, enum json_type type)
{
	struct json *v;

	if (++p->values > p->lim->max_values) {
		fail(p, "more than %zu values", p->lim->max_values);
		return NULL;
	}
	if (!(v = alloc(p, sizeof *v))) {
		fail(p, "out of memory");
		return NULL;
	}
	memset(v, 0, sizeof *v);
	v->type = type;
	return v;
}

/* ---- strings -------------------------------------------------------- */

static int hex4(struct parser *p, unsigned *out)
{
	unsigned v = 0;

	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(p, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* After a backslash: one escape, appended to o.  Returns its length. */
static int escape(struct parser *p, char *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned cp, lo;
	const char *e;

	if (p->pos >= p->len)
		return fail(p, "truncated escape");
	char c = p->s[p->pos++];
	if (c != 'u') {
		if (!c || !(e = strchr(from, c)))
			return fail(p, "bad escape '\\%c'", c >= 0x20 && c < 0x7f ? c : '?');
		o[0] = to[e - from];
		return 1;
	}
	if (hex4(p, &cp) < 0)
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(p, "lone low surrogate \\u%04x", cp);
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
			return fail(p, "high surrogate \\u%04x without its pair", cp);
		p->pos += 2;
		if (hex4(p, &lo) < 0)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(p, "high surrogate followed by \\u%04x", lo);
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return fail(p, "\\u0000 in a string");
	return (int)put_utf8(o, cp);
}

/* One UTF-8 sequence starting at the cursor, copied to o.  Returns its
 * length.  Refuses overlong forms, surrogates and code points past
 * U+10FFFF (RFC 3629). */
static int utf8(struct parser *p, char *o)
{
	const unsigned char *s = (const unsigned char *)p->s + p->pos;
	size_t left = p->len - p->pos;
	unsigned cp, min;
	int n;

	if (s[0] < 0x80)
		n = 1, cp = s[0], min = 0;
	else if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return fail(p, "invalid UTF-8 byte 0x%02x", s[0]);
	if ((size_t)n > left)
		return fail(p, "truncated UTF-8 sequence");
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return fail(p, "invalid UTF-8 continuation byte 0x%02x", s[i]);
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(p, "invalid UTF-8 sequence (overlong, surrogate or past U+10FFFF)");
	memcpy(o, s, n);
	p->pos += n;
	return n;
}

/* A string at the cursor (on its opening quote), decoded into the arena. */
static const char *string(struct parser *p, size_t *len)
{
	size_t start = ++p->pos, end = start, k = 0;
	char *o;
	int n;

	/* Its source length bounds the decoded one. */
	while (end < p->len && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (end >= p->len) {
		fail(p, "unterminated string");
		return NULL;
	}
	if (!(o = alloc(p, end - start + 1))) {
		fail(p, "out of memory");
		return NULL;
	}
	while (p->s[p->pos] != '"') {
		unsigned char c = p->s[p->pos];
		if (c < 0x20) {
			fail(p, "control character 0x%02x in a string", c);
			return NULL;
		}
		if (c == '\\') {
			p->pos++;
			n = escape(p, o + k);
		} else {
			n = utf8(p, o + k);
		}
		if (n < 0)
			return NULL;
		k += n;
	}
	p->pos++;
	o[k] = 0;
	*len = k;
	return o;
}

/* ---- numbers and literals -------------------------------------------- */

static size_t digits(struct parser *p)
{
	size_t n = 0;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++, n++;
	return n;
}

static struct json *number(struct parser *p)
{
	size_t start = p->pos;
	struct json *v;
	char *t;

	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0') {
		p->pos++;
		if (peek(p) >= '0' && peek(p) <= '9') {
			fail(p, "leading zero in a number");
			return NULL;
		}
	} else if (digits(p) == 0) {
		fail(p, "bad number");
		return NULL;
	}
	if (peek(p) == '.') {
		p->pos++;
		if (digits(p) == 0) {
			fail(p, "no digits after '.'");
			return NULL;
		}
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (digits(p) == 0) {
			fail(p, "no digits in the exponent");
			return NULL;
		}
	}
	if (!(v = new_value(p, JSON_NUMBER)))
		return NULL;
	if (!(t = alloc(p, p->pos - start + 1))) {
		fail(p, "out of memory");
		return NULL;
	}
	memcpy(t, p->s + start, p->pos - start);
	t[p->pos - start] = 0;
	v->str = t;
	v->len = p->pos - start;
	v->num = strtod(t, NULL);
	return v;
}

static struct json *literal(struct parser *p)
{
	static const struct { const char *word; enum json_type type; } lits[] = {
		{ "null", JSON_NULL }, { "false", JSON_FALSE }, { "true", JSON_TRUE },
	};

	for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
		size_t n = strlen(lits[i].word);
		if (p->len - p->pos >= n && !memcmp(p->s + p->pos, lits[i].word, n)) {
			p->pos += n;
			return new_value(p, lits[i].type);
		}
	}
	fail(p, "unexpected %s", p->pos < p->len ? "character" : "end of text");
	return NULL;
}

/* ---- arrays and objects ---------------------------------------------- */

static struct json *value(struct parser *p);

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting the keys finds a duplicate in n log n, however many there are. */
static int unique_keys(struct parser *p, const struct json *obj)
{
	const char **k;
	const struct json *m;
	size_t i = 0;
	int r = 0;

	if (obj->n < 2)
		return 0;
	if (!(k = malloc(obj->n * sizeof *k)))
		return fail(p, "out of memory");
	for (m = obj->child; m; m = m->next)
		k[i++] = m->key;
	qsort(k, obj->n, sizeof *k, cmp_key);
	for (i = 1; i < obj->n && r == 0; i++)
		if (!strcmp(k[i - 1], k[i]))
			r = fail(p, "key \"%.40s\" twice in an object", k[i]);
	free(k);
	return r;
}

/* An array or an object, at its opening bracket. */
static struct json *container(struct parser *p, enum json_type type)
{
	char close = type == JSON_ARRAY ? ']' : '}';
	struct json *v, *last = NULL, *m;
	const char *key = NULL;
	size_t klen;

	if (++p->depth > p->lim->max_depth) {
		fail(p, "nested deeper than %zu", p->lim->max_depth);
		return NULL;
	}
	if (!(v = new_value(p, type)))
		return NULL;
	p->pos++;
	skip_ws(p);
	if (peek(p) == close) {
		p->pos++;
		p->depth--;
		return v;
	}
	for (;;) {
		skip_ws(p);
		if (type == JSON_OBJECT) {
			if (peek(p) != '"') {
				fail(p, "expected a key");
				return NULL;
			}
			if (!(key = string(p, &klen)))
				return NULL;
			skip_ws(p);
			if (peek(p) != ':') {
				fail(p, "expected ':'");
				return NULL;
			}
			p->pos++;
		}
		if (!(m = value(p)))
			return NULL;
		m->key = key;
		*(last ? &last->next : &v->child) = m;
		last = m;
		v->n++;
		skip_ws(p);
		if (peek(p) == close)
			break;
		if (peek(p) != ',') {
			fail(p, "expected ',' or '%c'", close);
			return NULL;
		}
		p->pos++;
	}
	p->pos++;
	p->depth--;
	if (type == JSON_OBJECT && unique_keys(p, v) < 0)
		return NULL;
	return v;
}

static struct json *value(struct parser *p)
{
	struct json *v;
	int c;

	skip_ws(p);
	c = peek(p);
	if (c == '{')
		return container(p, JSON_OBJECT);
	if (c == '[')
		return container(p, JSON_ARRAY);
	if (c == '"') {
		if (!(v = new_value(p, JSON_STRING)))
			return NULL;
		v->str = string(p, &v->len);
		return v->str ? v : NULL;
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(p);
	return literal(p);
}

int json_parse(const char *text, size_t len, const struct json_limits *lim,
	       struct json_doc *doc, char *err, size_t errlen)
{
	struct parser p = {
		.s = text, .len = len, .lim = lim ? lim : &json_default_limits,
		.err = err, .errlen = errlen,
	};
	struct json *root;

	memset(doc, 0, sizeof *doc);
	if (len > p.lim->max_bytes)
		return fail(&p, "document of %zu bytes, the limit is %zu", len, p.lim->max_bytes);
	root = value(&p);
	if (root) {
		skip_ws(&p);
		if (p.pos != len) {
			fail(&p, "text after the value");
			root = NULL;
		}
	}
	if (!root) {
		free_arena(p.arena);
		return -1;
	}
	doc->root = root;
	doc->mem_ = p.arena;
	return 0;
}

void json_free(struct json_doc *doc)
{
	if (!doc)
		return;
	free_arena(doc->mem_);
	memset(doc, 0, sizeof *doc);
}

const struct json *json_get(const struct json *v, const char *key)
{
	if (!v || v->type != JSON_OBJECT)
		return NULL;
	for (v = v->child; v; v = v->next)
		if (!strcmp(v->key, key))
			return v;
	return NULL;
}

const char *json_str(const struct json *v)
{
	return v && v->type == JSON_STRING ? v->str : NULL;
}

int json_int(const struct json *v, int64_t *out)
{
	const char *s;
	int neg;
	uint64_t x = 0, max;

	if (!v || v->type != JSON_NUMBER || strpbrk(v->str, ".eE"))
		return -1;
	s = v->str;
	neg = *s == '-';
	s += neg;
	max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		unsigned d = *s - '0';
		if (x > (max - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}
