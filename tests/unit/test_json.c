/*
 * test_json: the strict JSON reader (json/json.h).
 *
 * Valid documents are compared with Python's json module: each is read by
 * json_parse and written back in one canonical form (keys sorted, ASCII
 * with \u escapes, no spaces), and python3 writes the same document with
 * json.dumps(sort_keys=True, separators=(',', ':')); the two must agree
 * byte for byte.  Malformed documents, and those Python accepts but RFC
 * 8259 leaves open and we refuse (duplicate keys, NaN, lone surrogates),
 * must be refused with a one-line message naming an offset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "json.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Python's ensure_ascii escaping: \uXXXX for everything past 0x7e (as
 * UTF-16, surrogate pairs for the astral planes) and for controls. */
static void put_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char tmp[16];

	puts_(b, "\"");
	while (*p) {
		unsigned cp = *p;
		int n = 1;
		if (cp >= 0xf0)
			cp &= 0x07, n = 4;
		else if (cp >= 0xe0)
			cp &= 0x0f, n = 3;
		else if (cp >= 0xc0)
			cp &= 0x1f, n = 2;
		for (int i = 1; i < n; i++)
			cp = cp << 6 | (p[i] & 0x3f);
		p += n;
		if (cp == '"' || cp == '\\') {
			snprintf(tmp, sizeof tmp, "\\%c", cp);
		} else if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f') {
			snprintf(tmp, sizeof tmp, "\\%c", "nrtbf"[strchr("\n\r\t\b\f", cp) - "\n\r\t\b\f"]);
		} else if (cp >= 0x20 && cp < 0x7f) {
			snprintf(tmp, sizeof tmp, "%c", cp);
		} else if (cp < 0x10000) {
			snprintf(tmp, sizeof tmp, "\\u%04x", cp);
		} else {
			cp -= 0x10000;
			snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		}
		puts_(b, tmp);
	}
	puts_(b, "\"");
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp((*(const struct json *const *)a)->key, (*(const struct json *const *)b)->key);
}

static void put_value(struct buf *b, const struct json *v)
{
	const struct json **m;
	const struct json *c;
	char tmp[32];
	int64_t i;
	size_t k = 0;

	switch (v->type) {
	case JSON_NULL: puts_(b, "null"); break;
	case JSON_TRUE: puts_(b, "true"); break;
	case JSON_FALSE: puts_(b, "false"); break;
	case JSON_NUMBER:
		/* The documents hold integers only: Python prints them exactly. */
		if (json_int(v, &i) == 0)
			snprintf(tmp, sizeof tmp, "%lld", (long long)i);
		else
			snprintf(tmp, sizeof tmp, "?");
		puts_(b, tmp);
		break;
	case JSON_STRING: put_string(b, v->str); break;
	case JSON_ARRAY:
		puts_(b, "[");
		for (c = v->child; c; c = c->next) {
			put_value(b, c);
			if (c->next)
				puts_(b, ",");
		}
		puts_(b, "]");
		break;
	case JSON_OBJECT:
		m = malloc((v->n + 1) * sizeof *m);
		for (c = v->child; c; c = c->next)
			m[k++] = c;
		qsort(m, k, sizeof *m, cmp_member);
		puts_(b, "{");
		for (size_t j = 0; j < k; j++) {
			put_string(b, m[j]->key);
			puts_(b, ":");
			put_value(b, m[j]);
			if (j + 1 < k)
				puts_(b, ",");
		}
		puts_(b, "}");
		free(m);
		break;
	}
}

/* What python3 makes of doc, canonical, or NULL if it refuses it. */
static char *python(const char *doc)
{
	char path[] = "/tmp/test_json.XXXXXX", cmd[256];
	struct buf out = { 0 };
	char line[4096];
	FILE *f;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, doc, strlen(doc)) != (ssize_t)strlen(doc))
		exit(2);
	close(fd);
	snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; "
		 "print(json.dumps(json.load(open(sys.argv[1], encoding=\"utf-8\")), sort_keys=True, "
		 "separators=(\",\", \":\")))' %s 2>/dev/null", path);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof line, f))
		puts_(&out, line);
	int st = f ? pclose(f) : -1;
	unlink(path);
	if (st != 0) {
		free(out.p);
		return NULL;
	}
	if (out.len && out.p[out.len - 1] == '\n')
		out.p[--out.len] = 0;
	return out.p;
}

static const char *valid[] = {
	"{}", "[]", "0", "-0", "123", "-9223372036854775808", "9223372036854775807",
	"\"\"", "true", "false", "null", " \t\r\n[ 1 , 2 ]\n",
	"{\"b\": 1, \"a\": [true, false, null], \"c\": {\"d\": \"e\"}}",
	"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
	"\"\\u00e9\\u4e2d\\ud83d\\ude00\"",
	"\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"",
	"[[[[[[[[[[\"deep\"]]]]]]]]]]",
	"{\"schemaVersion\": 2, \"manifests\": [{\"digest\": \"sha256:00\", \"size\": 7, "
	"\"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}}]}",
	"{\"a\": {\"a\": {\"a\": 1}}}",
};

/* Refused by us; the comment says whether Python accepts it. */
static const struct { const char *doc, *why; } malformed[] = {
	{ "", "empty" }, { " ", "only space" }, { "[1,]", "trailing comma" },
	{ "{\"a\":1,}", "trailing comma in an object" }, { "[1 2]", "missing comma" },
	{ "{\"a\" 1}", "missing colon" }, { "{a:1}", "bare key" }, { "['a']", "single quotes" },
	{ "01", "leading zero" }, { "1.", "no fraction digits" }, { ".5", "no integer part" },
	{ "1e", "no exponent digits" }, { "+1", "plus sign" }, { "-", "lone minus" },
	{ "NaN", "NaN (Python accepts)" }, { "Infinity", "Infinity (Python accepts)" },
	{ "\"\\x41\"", "unknown escape" }, { "\"\\u12\"", "short \\u" },
	{ "\"\\ud800\"", "lone high surrogate (Python accepts)" },
	{ "\"\\udc00\"", "lone low surrogate (Python accepts)" },
	{ "\"\\ud800\\u0041\"", "high surrogate and a non-surrogate (Python accepts)" },
	{ "\"\\u0000\"", "NUL in a string (Python accepts)" },
	{ "\"a\tb\"", "raw tab in a string" }, { "\"a\nb\"", "raw newline in a string" },
	{ "\"\xc3\"", "truncated UTF-8" }, { "\"\xc0\xaf\"", "overlong UTF-8" },
	{ "\"\xed\xa0\x80\"", "UTF-8 surrogate" }, { "\"\xf4\x90\x80\x80\"", "past U+10FFFF" },
	{ "\"\xff\"", "byte 0xff" }, { "\"\x80\"", "lone continuation byte" },
	{ "\"abc", "unterminated string" }, { "[1", "unterminated array" },
	{ "{\"a\":1", "unterminated object" }, { "[] []", "two values" },
	{ "{\"a\":1,\"a\":2}", "duplicate key (Python accepts)" }, { "tru", "truncated literal" },
	{ "nul", "truncated null" }, { "/* c */ 1", "a comment" }, { "[1]x", "text after" },
	{ "\xef\xbb\xbf{}", "a byte-order mark" },
};

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct json_doc doc;
		struct buf ours = { 0 };
		char err[200] = "";
		char *py = python(valid[i]);
		int r = json_parse(valid[i], strlen(valid[i]), NULL, &doc, err, sizeof err);
		if (r == 0) {
			put_value(&ours, doc.root);
			json_free(&doc);
		}
		check(r == 0 && py && !strcmp(ours.p, py), "valid %zu: ours %s, python3 %s %s", i,
		      ours.p ? ours.p : "(refused)", py ? py : "(refused)", err);
		free(ours.p);
		free(py);
	}
}

static void test_malformed(void)
{
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		struct json_doc doc;
		char err[200] = "";
		int r = json_parse(malformed[i].doc, strlen(malformed[i].doc), NULL, &doc, err, sizeof err);
		char *py = python(malformed[i].doc);
		int py_ok = py != NULL;
		free(py);
		/* Python's word is only a cross-check of the "(Python accepts)" notes. */
		check(r < 0 && strstr(err, "offset ") && !strchr(err, '\n') &&
		      py_ok == (strstr(malformed[i].why, "Python accepts") != NULL),
		      "refuses %s: %s", malformed[i].why, err);
		if (r == 0)
			json_free(&doc);
	}
}

static void test_limits(void)
{
	struct json_limits lim = { .max_bytes = 100, .max_depth = 3, .max_values = 5 };
	struct json_doc doc;
	char err[200];

	check(json_parse("[[[[1]]]]", 9, &lim, &doc, err, sizeof err) < 0 && strstr(err, "deeper"),
	      "depth 4 over a limit of 3: %s", err);
	check(json_parse("[[[1]]]", 7, &lim, &doc, err, sizeof err) == 0, "depth 3 at it");
	json_free(&doc);
	check(json_parse("[1,2,3,4,5]", 11, &lim, &doc, err, sizeof err) < 0 && strstr(err, "values"),
	      "6 values over a limit of 5: %s", err);
	char big[200];
	memset(big, ' ', sizeof big);
	big[0] = '1';
	check(json_parse(big, sizeof big, &lim, &doc, err, sizeof err) < 0 && strstr(err, "limit"),
	      "200 bytes over a limit of 100: %s", err);
	/* Default depth: 64.  A million brackets must not recurse a million deep. */
	size_t n = 1 << 20;
	char *deep = malloc(n);
	memset(deep, '[', n);
	check(json_parse(deep, n, NULL, &doc, err, sizeof err) < 0 && strstr(err, "deeper than 64"),
	      "a million '[' stop at depth 64: %s", err);
	free(deep);
}

static void test_access(void)
{
	const char *d = "{\"n\": 42, \"big\": 99999999999999999999, \"f\": 1.5, \"s\": \"x\", \"neg\": -7}";
	struct json_doc doc;
	char err[200];
	int64_t v;

	if (json_parse(d, strlen(d), NULL, &doc, err, sizeof err) < 0) {
		check(0, "parse for access: %s", err);
		return;
	}
	check(json_int(json_get(doc.root, "n"), &v) == 0 && v == 42, "json_int 42");
	check(json_int(json_get(doc.root, "neg"), &v) == 0 && v == -7, "json_int -7");
	check(json_int(json_get(doc.root, "big"), &v) < 0, "json_int refuses 10^20 (past int64)");
	check(json_int(json_get(doc.root, "f"), &v) < 0, "json_int refuses 1.5");
	check(json_get(doc.root, "f")->num == 1.5, "num of 1.5");
	check(!strcmp(json_str(json_get(doc.root, "s")), "x") && !json_str(json_get(doc.root, "n")),
	      "json_str of a string, NULL of a number");
	check(!json_get(doc.root, "missing") && !json_get(json_get(doc.root, "n"), "x") &&
	      !json_get(NULL, "x"), "json_get of what is not there is NULL");
	json_free(&doc);
	json_free(NULL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_valid();
	test_malformed();
	test_limits();
	test_access();
	return check_summary();
}
