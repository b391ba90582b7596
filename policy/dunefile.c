/*
 * The Dunefile parser.
 *
 * Lines are joined (a trailing '\' continues one; comment and blank lines
 * inside a continuation are skipped, as Docker does) into one instruction
 * of at most DF_MAX_LINE bytes, which its handler takes apart in place:
 * shell-form words split at blanks, JSON arrays decoded into a scratch
 * buffer of the same size (a decoded string is never longer than its
 * source).  Every error names the line the instruction starts on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dunefile.h"

#define MAX_WORDS 64	/* shell-form words of one instruction */

struct parser {
	const char *file;
	int line;		/* where the instruction starts */
	char *err;
	struct dunefile *df;
	char *scratch;		/* DF_MAX_LINE + 1 bytes */
	int entrypoint_line;	/* 0: none yet */
	int instructions;	/* seen so far, this one included */
	int on_deny_line;
};

static int fail(struct parser *ps, const char *fmt, ...)
{
	char msg[280];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(ps->err, DUNEFILE_ERRLEN, "%.200s:%d: %s", ps->file, ps->line,
		 msg);
	return -1;
}

/* s for a message: at most 40 bytes, unprintable ones as '?'. */
static const char *quote(char q[48], const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < 40; i++)
		q[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	strcpy(q + i, s[i] ? "..." : "");
	return q;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Splits s in place at blanks.  Stores the first max words in w and
 * returns how many there are, which may be more.
 */
static int split_words(char *s, char **w, int max)
{
	int n = 0;

	for (;;) {
		while (is_blank(*s))
			*s++ = '\0';
		if (!*s)
			return n;
		if (n < max)
			w[n] = s;
		n++;
		while (*s && !is_blank(*s))
			s++;
	}
}

/* ---- JSON arrays of strings ------------------------------------------- */

static int hex4(const char *s, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static char *utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = cp;
	} else if (cp < 0x800) {
		*o++ = 0xc0 | cp >> 6;
		*o++ = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		*o++ = 0xe0 | cp >> 12;
		*o++ = 0x80 | (cp >> 6 & 0x3f);
		*o++ = 0x80 | (cp & 0x3f);
	} else {
		*o++ = 0xf0 | cp >> 18;
		*o++ = 0x80 | (cp >> 12 & 0x3f);
		*o++ = 0x80 | (cp >> 6 & 0x3f);
		*o++ = 0x80 | (cp & 0x3f);
	}
	return o;
}

/*
 * Decodes the JSON string at *s (just past its opening quote) to o,
 * NUL-terminated.  Advances *s past the closing quote and returns the end
 * of the output, or NULL with *why set.
 */
static char *json_string(const char **s, char *o, const char **why)
{
	const char *p = *s, *start = o;

	for (;;) {
		unsigned char c = *p++;
		unsigned cp, lo;

		if (c == '"')
			break;
		if (c == '\0') {
			*why = "unterminated string";
			return NULL;
		}
		if (c < 0x20) {
			*why = "control character in a string";
			return NULL;
		}
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		switch (c = *p++) {
		case '"': case '\\': case '/':
			*o++ = c;
			break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (hex4(p, &cp) < 0) {
				*why = "\\u needs four hex digits";
				return NULL;
			}
			p += 4;
			if (cp == 0) {
				*why = "\\u0000 is not allowed";
				return NULL;
			}
			if (cp >= 0xdc00 && cp < 0xe000) {
				*why = "unpaired surrogate";
				return NULL;
			}
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (p[0] != '\\' || p[1] != 'u' ||
				    hex4(p + 2, &lo) < 0 || lo < 0xdc00 || lo >= 0xe000) {
					*why = "unpaired surrogate";
					return NULL;
				}
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			o = utf8(o, cp);
			break;
		default:
			*why = "unknown escape";
			return NULL;
		}
	}
	if (o - start >= DF_MAX_STR) {
		*why = "string too long";
		return NULL;
	}
	*o++ = '\0';
	*s = p;
	return o;
}

/*
 * Decodes the JSON array of strings s into ps->scratch, pointed to by
 * w[0..max).  Returns the count, or -1 with the error set.
 */
static int json_array(struct parser *ps, const char *what, const char *s,
		      char **w, int max)
{
	const char *why = NULL;
	char *o = ps->scratch;
	int n = 0;

	while (is_blank(*s))
		s++;
	if (*s++ != '[')
		return fail(ps, "%s: expected a JSON array", what);
	while (is_blank(*s))
		s++;
	if (*s == ']') {
		s++;
	} else {
		for (;;) {
			if (*s++ != '"') {
				why = "expected a string";
				break;
			}
			if (n == max)
				return fail(ps, "%s: more than %d strings", what, max);
			w[n++] = o;
			o = json_string(&s, o, &why);
			if (!o)
				break;
			while (is_blank(*s))
				s++;
			if (*s == ']') {
				s++;
				break;
			}
			if (*s++ != ',') {
				why = "expected ',' or ']'";
				break;
			}
			while (is_blank(*s))
				s++;
		}
	}
	while (!why && is_blank(*s))
		s++;
	if (!why && *s)
		why = "text after ']'";
	if (why)
		return fail(ps, "%s: bad JSON array: %s", what, why);
	return n;
}

/* The strings of a shell-form or JSON-form argument list, as for VOLUME
 * and COPY. */
static int words_or_json(struct parser *ps, const char *what, char *args,
			 char **w, int max)
{
	if (args[0] == '[')
		return json_array(ps, what, args, w, max);
	return split_words(args, w, max);
}

/* ---- instructions ----------------------------------------------------- */

/* Why s cannot be a path in the context (COPY's and FROM's source), or
 * NULL. */
static const char *source_error(const char *s)
{
	const char *c;

	if (s[0] == '\0')
		return "is empty";
	if (s[0] == '/')
		return "must be relative to the context";
	if (strlen(s) >= DF_MAX_STR)
		return "is too long";
	for (c = s; (c = strstr(c, "..")) != NULL; c += 2)
		if ((c == s || c[-1] == '/') && (c[2] == '/' || c[2] == '\0'))
			return "must not contain '..'";
	return NULL;
}

static int do_copy(struct parser *ps, char *args)
{
	struct dunefile *df = ps->df;
	struct df_copy *nc;
	const char *why = NULL;
	char *w[3], q[48];
	int n;

	if (strncmp(args, "--", 2) == 0)
		return fail(ps, "COPY options such as --chown are not supported");
	n = words_or_json(ps, "COPY", args, w, 3);
	if (n < 0)
		return -1;
	if (n != 2)
		return fail(ps, "COPY takes a source and a destination");
	if ((why = source_error(w[0])) != NULL)
		return fail(ps, "COPY source '%s' %s", quote(q, w[0]), why);
	if ((why = dunefile_path_error(w[1])) != NULL)
		return fail(ps, "COPY destination '%s' %s", quote(q, w[1]), why);
	if (df->ncopy >= DF_MAX_COPIES)
		return fail(ps, "more than %d COPYs", DF_MAX_COPIES);
	nc = realloc(df->copy, (df->ncopy + 1) * sizeof *nc);
	if (!nc)
		return fail(ps, "out of memory");
	df->copy = nc;
	nc += df->ncopy;
	nc->src = strdup(w[0]);
	nc->dest = strdup(w[1]);
	nc->line = ps->line;
	df->ncopy++;
	if (!nc->src || !nc->dest)
		return fail(ps, "out of memory");
	return 0;
}

/* FROM SOURCE: the first instruction, once.  SOURCE follows COPY's
 * rule for a source: relative to the context, without "..". */
static int do_from(struct parser *ps, char *args)
{
	struct dunefile *df = ps->df;
	char *w[2], q[48];
	const char *why;
	int n;

	if (df->from)
		return fail(ps, "FROM twice (line %d)", df->from_line);
	if (ps->instructions > 1)
		return fail(ps, "FROM must be the first instruction");
	n = words_or_json(ps, "FROM", args, w, 2);
	if (n < 0)
		return -1;
	if (n != 1)
		return fail(ps, "FROM takes one source: a directory, a tar archive, an OCI layout "
			    "or a docker-save archive");
	if ((why = source_error(w[0])) != NULL)
		return fail(ps, "FROM source '%s' %s", quote(q, w[0]), why);
	if (!(df->from = strdup(w[0])))
		return fail(ps, "out of memory");
	df->from_line = ps->line;
	return 0;
}

static int do_entrypoint(struct parser *ps, char *args)
{
	struct manifest *m = &ps->df->manifest;
	char *w[DF_MAX_ARGS], e[DUNEFILE_ERRLEN], q[48];
	const char *why;
	int i, n;

	if (ps->entrypoint_line)
		return fail(ps, "ENTRYPOINT given twice (first at line %d)",
			    ps->entrypoint_line);
	if (args[0] != '[')
		return fail(ps, "ENTRYPOINT must use the exec form: "
			    "ENTRYPOINT [\"/bin/prog\", \"arg\", ...]");
	n = json_array(ps, "ENTRYPOINT", args, w, DF_MAX_ARGS);
	if (n < 0)
		return -1;
	if (n == 0)
		return fail(ps, "ENTRYPOINT needs a program");
	if ((why = dunefile_path_error(w[0])) != NULL)
		return fail(ps, "ENTRYPOINT program '%s' %s", quote(q, w[0]), why);
	for (i = 0; i < n; i++)
		if (manifest_add_arg(m, w[i], e) < 0)
			return fail(ps, "%s", e);
	ps->entrypoint_line = ps->df->entrypoint_line = ps->line;
	return 0;
}

/*
 * One ENV value at *s, shell style: up to an unquoted blank, with "..."
 * (where \" and \\ are escapes), '...' (literal) and \c (c) outside
 * quotes.  Decoded to o; advances *s.  -1 on an unterminated quote.
 */
static int env_value(const char **s, char *o)
{
	const char *p = *s;
	char quote = 0;

	while (*p && (quote || !is_blank(*p))) {
		if (!quote && (*p == '"' || *p == '\'')) {
			quote = *p++;
		} else if (quote && *p == quote) {
			quote = 0;
			p++;
		} else if (*p == '\\' && quote != '\'' && p[1] &&
			   (!quote || p[1] == '"' || p[1] == '\\')) {
			*o++ = p[1];
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	*s = p;
	return quote ? -1 : 0;
}

static int do_env(struct parser *ps, char *args)
{
	struct manifest *m = &ps->df->manifest;
	const char *s = args;
	char e[DUNEFILE_ERRLEN], q[48];
	size_t klen = 0;

	while (s[klen] && s[klen] != '=' && !is_blank(s[klen]))
		klen++;
	if (klen == 0)
		return fail(ps, "ENV needs KEY=VALUE or KEY VALUE");
	if (s[klen] != '=') {
		/* ENV KEY VALUE: the rest of the line is the value. */
		const char *v = s + klen;

		while (is_blank(*v))
			v++;
		if (!*v)
			return fail(ps, "ENV needs KEY=VALUE or KEY VALUE");
		if (manifest_set_env(m, s, klen, v, e) < 0)
			return fail(ps, "%s", e);
		return 0;
	}
	while (*s) {
		const char *key = s;

		klen = 0;
		while (s[klen] && s[klen] != '=' && !is_blank(s[klen]))
			klen++;
		if (s[klen] != '=') {
			char *w = ps->scratch;

			memcpy(w, s, klen);
			w[klen] = '\0';
			return fail(ps, "ENV: '%s' is not KEY=VALUE", quote(q, w));
		}
		s += klen + 1;
		if (env_value(&s, ps->scratch) < 0)
			return fail(ps, "ENV: unterminated quote");
		if (manifest_set_env(m, key, klen, ps->scratch, e) < 0)
			return fail(ps, "%s", e);
		while (is_blank(*s))
			s++;
	}
	return 0;
}

static int do_workdir(struct parser *ps, char *args)
{
	char e[DUNEFILE_ERRLEN];

	if (!*args)
		return fail(ps, "WORKDIR needs a path");
	if (manifest_set_workdir(&ps->df->manifest, args, e) < 0)
		return fail(ps, "%s", e);
	return 0;
}

static int do_volume(struct parser *ps, char *args)
{
	char *w[DF_MAX_VOLUMES + 1], e[DUNEFILE_ERRLEN];
	int i, n;

	n = words_or_json(ps, "VOLUME", args, w, DF_MAX_VOLUMES + 1);
	if (n < 0)
		return -1;
	if (n == 0)
		return fail(ps, "VOLUME needs a path");
	if (n > DF_MAX_VOLUMES)
		return fail(ps, "more than %d VOLUMEs", DF_MAX_VOLUMES);
	for (i = 0; i < n; i++)
		if (manifest_add_volume(&ps->df->manifest, w[i], e) < 0)
			return fail(ps, "%s", e);
	return 0;
}

static int do_allow(struct parser *ps, char *args)
{
	char e[POLICY_ERRLEN];

	if (!*args)
		return fail(ps, "ALLOW needs promises, e.g. ALLOW stdio rpath");
	if (policy_parse_promises(&ps->df->policy, args, e) < 0)
		return fail(ps, "%s", e);
	return 0;
}

static int do_limit(struct parser *ps, char *args)
{
	char *w[MAX_WORDS], e[POLICY_ERRLEN];
	int i, n = split_words(args, w, MAX_WORDS);

	if (n == 0)
		return fail(ps, "LIMIT needs NAME=VALUE, e.g. LIMIT memory=256M");
	if (n > MAX_WORDS)
		return fail(ps, "LIMIT: too many words");
	for (i = 0; i < n; i++)
		if (policy_parse_limit(&ps->df->policy, w[i], e) < 0)
			return fail(ps, "%s", e);
	return 0;
}

static int do_on_deny(struct parser *ps, char *args)
{
	char *w[1], e[POLICY_ERRLEN];

	if (ps->on_deny_line)
		return fail(ps, "ON-DENY given twice (first at line %d)",
			    ps->on_deny_line);
	if (split_words(args, w, 1) != 1)
		return fail(ps, "ON-DENY takes one of eperm, kill");
	if (policy_parse_on_deny(&ps->df->policy, w[0], e) < 0)
		return fail(ps, "%s", e);
	ps->on_deny_line = ps->line;
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct parser *, char *);
	const char *why;	/* for Dockerfile instructions we do not have */
} instructions[] = {
	{ "COPY", do_copy, NULL },
	{ "ENTRYPOINT", do_entrypoint, NULL },
	{ "ENV", do_env, NULL },
	{ "WORKDIR", do_workdir, NULL },
	{ "VOLUME", do_volume, NULL },
	{ "ALLOW", do_allow, NULL },
	{ "LIMIT", do_limit, NULL },
	{ "ON-DENY", do_on_deny, NULL },
	{ "FROM", do_from, NULL },
	{ "RUN", NULL, "nothing runs at build time" },
	{ "CMD", NULL, "put the arguments in ENTRYPOINT" },
	{ "ADD", NULL, "use COPY" },
};

static int instruction(struct parser *ps, char *s)
{
	char *args = s, q[48];
	size_t i;

	while (*args && !is_blank(*args))
		args++;
	if (*args)
		*args++ = '\0';
	while (is_blank(*args))
		args++;
	for (i = 0; i < sizeof instructions / sizeof instructions[0]; i++) {
		if (strcasecmp(s, instructions[i].name) != 0)
			continue;
		if (!instructions[i].fn)
			return fail(ps, "%s is not supported: %s",
				    instructions[i].name, instructions[i].why);
		return instructions[i].fn(ps, args);
	}
	return fail(ps, "unknown instruction '%s'", quote(q, s));
}

/* ---- lines ------------------------------------------------------------ */

/* The next line at text[*pos..len): its start and length without the
 * '\n' and a '\r' before it.  Advances *pos. */
static const char *next_line(const char *text, size_t len, size_t *pos,
			     size_t *llen)
{
	const char *line = text + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - line) : len - *pos;

	*pos += n + (nl != NULL);
	if (n && line[n - 1] == '\r')
		n--;
	*llen = n;
	return line;
}

/* Trims blanks from both ends of line[0..*n). */
static const char *trim(const char *line, size_t *n)
{
	while (*n && is_blank(*line))
		line++, (*n)--;
	while (*n && is_blank(line[*n - 1]))
		(*n)--;
	return line;
}

static int skippable(const char *line, size_t n)
{
	return n == 0 || line[0] == '#';
}

static int parse(struct parser *ps, const char *text, size_t len, char *buf)
{
	size_t pos = 0;
	int lineno = 0;

	if (len > DF_MAX_TEXT) {
		ps->line = 1;
		return fail(ps, "file too large (at most %d bytes)", DF_MAX_TEXT);
	}
	if (memchr(text, '\0', len)) {
		const char *z = memchr(text, '\0', len), *c;

		ps->line = 1;
		for (c = text; c < z; c++)
			ps->line += *c == '\n';
		return fail(ps, "NUL byte");
	}
	while (pos < len) {
		size_t n, used = 0;
		const char *line = next_line(text, len, &pos, &n);

		lineno++;
		line = trim(line, &n);
		if (skippable(line, n))
			continue;
		ps->line = lineno;
		for (;;) {
			int more = n && line[n - 1] == '\\';

			if (more)
				n--;
			if (n > DF_MAX_LINE - used)
				return fail(ps, "instruction too long (at most "
					    "%d bytes)", DF_MAX_LINE);
			memcpy(buf + used, line, n);
			used += n;
			if (!more)
				break;
			do {
				if (pos >= len)
					return fail(ps, "the last line ends in '\\'");
				line = next_line(text, len, &pos, &n);
				lineno++;
				line = trim(line, &n);
			} while (skippable(line, n));
		}
		buf[used] = '\0';
		ps->instructions++;
		if (instruction(ps, buf) < 0)
			return -1;
	}
	if (!ps->entrypoint_line) {
		ps->line = lineno > 0 ? lineno : 1;
		return fail(ps, "no ENTRYPOINT");
	}
	return 0;
}

int dunefile_parse(const char *text, size_t len, const char *file,
		   struct dunefile *df, char err[DUNEFILE_ERRLEN])
{
	struct parser ps = { .file = file ? file : "Dunefile", .err = err, .df = df };
	char *buf = malloc(DF_MAX_LINE + 1);
	int r;

	memset(df, 0, sizeof *df);
	policy_init(&df->policy);
	ps.scratch = malloc(DF_MAX_LINE + 1);
	if (!buf || !ps.scratch) {
		ps.line = 1;
		r = fail(&ps, "out of memory");
	} else {
		r = parse(&ps, text, len, buf);
	}
	free(buf);
	free(ps.scratch);
	if (r < 0)
		dunefile_free(df);
	return r;
}

void dunefile_free(struct dunefile *df)
{
	int i;

	for (i = 0; i < df->ncopy; i++) {
		free(df->copy[i].src);
		free(df->copy[i].dest);
	}
	free(df->copy);
	free(df->from);
	manifest_free(&df->manifest);
	memset(df, 0, sizeof *df);
	policy_init(&df->policy);
}
