/*
 * A policy's promises, limits and on-deny: parsing them from the words of
 * a Dunefile, and the canonical text stored in images.
 */
#include <stdio.h>
#include <string.h>
#include "policy.h"

enum unit { U_SIZE, U_TIME, U_COUNT };

static const struct {
	const char *name;
	enum unit unit;
	uint64_t max;
} limits[NLIMIT] = {
	[LIMIT_MEMORY] = { "memory", U_SIZE, LIMIT_SIZE_MAX },
	[LIMIT_TIME] = { "time", U_TIME, LIMIT_TIME_MAX },
	[LIMIT_CPU] = { "cpu", U_TIME, LIMIT_TIME_MAX },
	[LIMIT_NOFILE] = { "nofile", U_COUNT, LIMIT_NOFILE_MAX },
	[LIMIT_FSIZE] = { "fsize", U_SIZE, LIMIT_SIZE_MAX },
	[LIMIT_OUTPUT] = { "output", U_SIZE, LIMIT_SIZE_MAX },
	[LIMIT_PROCS] = { "procs", U_COUNT, LIMIT_PROCS_MAX },
};

static const char *const on_deny_names[] = { "eperm", "kill" };

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof *p);
	p->on_deny = ON_DENY_EPERM;
}

const char *limit_name(enum limit l)
{
	return (unsigned)l < NLIMIT ? limits[l].name : NULL;
}

/* s[0..len) for a message: at most 40 bytes, unprintable ones as '?'. */
static void quote(char *dst, size_t n, const char *s, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < len && k + 4 < n && i < 40; i++)
		dst[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len && k + 4 < n) {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int policy_parse_promises(struct policy *p, const char *s,
			  char err[POLICY_ERRLEN])
{
	uint32_t add = 0;
	char q[48];

	while (*s) {
		size_t len = 0;
		int pr;

		while (is_blank(*s))
			s++;
		while (s[len] && !is_blank(s[len]))
			len++;
		if (len == 0)
			break;
		pr = promise_lookup(s, len);
		if (pr < 0) {
			quote(q, sizeof q, s, len);
			snprintf(err, POLICY_ERRLEN, "unknown promise '%s'", q);
			return -1;
		}
		add |= PROMISE_BIT(pr);
		s += len;
	}
	p->promises |= add;
	return 0;
}

/* The decimal digits at *s, advancing *s.  -1 if none or too large. */
static int digits(const char **s, uint64_t *v)
{
	const char *q = *s;
	uint64_t n = 0;

	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		unsigned d = *q - '0';

		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*s = q;
	*v = n;
	return 0;
}

/* The multiplier a unit suffix stands for, or 0. */
static uint64_t unit(enum unit u, const char *s)
{
	static const struct { enum unit u; const char *s; uint64_t mul; } t[] = {
		{ U_SIZE, "", 1 },
		{ U_SIZE, "K", 1ULL << 10 }, { U_SIZE, "k", 1ULL << 10 },
		{ U_SIZE, "M", 1ULL << 20 }, { U_SIZE, "m", 1ULL << 20 },
		{ U_SIZE, "G", 1ULL << 30 }, { U_SIZE, "g", 1ULL << 30 },
		{ U_SIZE, "T", 1ULL << 40 }, { U_SIZE, "t", 1ULL << 40 },
		{ U_TIME, "ms", 1 }, { U_TIME, "s", 1000 },
		{ U_TIME, "m", 60 * 1000 }, { U_TIME, "h", 3600 * 1000 },
		{ U_COUNT, "", 1 },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].u == u && strcmp(t[i].s, s) == 0)
			return t[i].mul;
	return 0;
}

static const char *const unit_help[] = {
	[U_SIZE] = "bytes, or a number with K, M, G or T",
	[U_TIME] = "a number with ms, s, m or h",
	[U_COUNT] = "a number",
};

int policy_parse_limit(struct policy *p, const char *s,
		       char err[POLICY_ERRLEN])
{
	const char *eq = strchr(s, '=');
	const char *v;
	uint64_t n, mul;
	char q[48];
	int l;

	if (!eq) {
		quote(q, sizeof q, s, strlen(s));
		snprintf(err, POLICY_ERRLEN, "limit '%s' is not NAME=VALUE", q);
		return -1;
	}
	for (l = 0; l < NLIMIT; l++)
		if (strlen(limits[l].name) == (size_t)(eq - s) &&
		    memcmp(limits[l].name, s, eq - s) == 0)
			break;
	if (l == NLIMIT) {
		quote(q, sizeof q, s, eq - s);
		snprintf(err, POLICY_ERRLEN, "unknown limit '%s' (known: memory "
			 "time cpu nofile fsize output procs)", q);
		return -1;
	}
	v = eq + 1;
	if (digits(&v, &n) < 0 || (mul = unit(limits[l].unit, v)) == 0) {
		quote(q, sizeof q, eq + 1, strlen(eq + 1));
		snprintf(err, POLICY_ERRLEN, "limit %s: '%s' is not %s",
			 limits[l].name, q, unit_help[limits[l].unit]);
		return -1;
	}
	if (n == 0) {
		snprintf(err, POLICY_ERRLEN, "limit %s must be at least 1",
			 limits[l].name);
		return -1;
	}
	if (n > limits[l].max / mul) {
		snprintf(err, POLICY_ERRLEN, "limit %s is too large (at most %llu%s)",
			 limits[l].name, (unsigned long long)limits[l].max,
			 limits[l].unit == U_TIME ? "ms" : "");
		return -1;
	}
	if (p->limit[l]) {
		snprintf(err, POLICY_ERRLEN, "limit %s is set twice",
			 limits[l].name);
		return -1;
	}
	p->limit[l] = n * mul;
	return 0;
}

int policy_parse_on_deny(struct policy *p, const char *s,
			 char err[POLICY_ERRLEN])
{
	size_t i;
	char q[48];

	for (i = 0; i < sizeof on_deny_names / sizeof on_deny_names[0]; i++)
		if (strcmp(s, on_deny_names[i]) == 0) {
			p->on_deny = (enum on_deny)i;
			return 0;
		}
	quote(q, sizeof q, s, strlen(s));
	snprintf(err, POLICY_ERRLEN, "on-deny '%s': expected eperm or kill", q);
	return -1;
}

size_t policy_to_text(const struct policy *p, char buf[POLICY_TEXT_MAX])
{
	size_t n = 0;
	int i;

	/* Bounded by construction: 13 promises and 6 limits of at most
	 * 20 digits fit well within POLICY_TEXT_MAX. */
	n += snprintf(buf + n, POLICY_TEXT_MAX - n, "allow");
	for (i = 0; i < NPROMISE; i++)
		if (p->promises & PROMISE_BIT(i))
			n += snprintf(buf + n, POLICY_TEXT_MAX - n, " %s",
				      promise_name(i));
	n += snprintf(buf + n, POLICY_TEXT_MAX - n, "\nlimit");
	for (i = 0; i < NLIMIT; i++)
		if (p->limit[i])
			n += snprintf(buf + n, POLICY_TEXT_MAX - n, " %s=%llu%s",
				      limits[i].name,
				      (unsigned long long)p->limit[i],
				      limits[i].unit == U_TIME ? "ms" : "");
	n += snprintf(buf + n, POLICY_TEXT_MAX - n, "\non-deny %s\n",
		      on_deny_names[p->on_deny == ON_DENY_KILL]);
	return n;
}

/* Splits the next '\n'-terminated line off *s (NUL-terminated, writable).
 * NULL if there is none. */
static char *next_line(char **s)
{
	char *line = *s, *nl = strchr(line, '\n');

	if (!nl)
		return NULL;
	*nl = '\0';
	*s = nl + 1;
	return line;
}

int policy_from_text(const char *text, size_t len, struct policy *p,
		     char err[POLICY_ERRLEN])
{
	char in[POLICY_TEXT_MAX], out[POLICY_TEXT_MAX];
	char *s = in, *line;

	policy_init(p);
	if (len >= POLICY_TEXT_MAX || memchr(text, '\0', len)) {
		snprintf(err, POLICY_ERRLEN, "policy text: too long or not text");
		return -1;
	}
	memcpy(in, text, len);
	in[len] = '\0';

	line = next_line(&s);
	if (!line || strncmp(line, "allow", 5) != 0 ||
	    (line[5] && line[5] != ' ')) {
		snprintf(err, POLICY_ERRLEN, "policy text: expected 'allow'");
		return -1;
	}
	if (policy_parse_promises(p, line + 5, err) < 0)
		return -1;

	line = next_line(&s);
	if (!line || strncmp(line, "limit", 5) != 0 ||
	    (line[5] && line[5] != ' ')) {
		snprintf(err, POLICY_ERRLEN, "policy text: expected 'limit'");
		return -1;
	}
	for (line += 5; *line == ' '; ) {
		char *word = line + 1, *end = strchr(word, ' ');

		if (end)
			*end = '\0';
		if (policy_parse_limit(p, word, err) < 0)
			return -1;
		if (!end)
			break;
		*end = ' ';
		line = end;
	}

	line = next_line(&s);
	if (!line || strncmp(line, "on-deny ", 8) != 0) {
		snprintf(err, POLICY_ERRLEN, "policy text: expected 'on-deny'");
		return -1;
	}
	if (policy_parse_on_deny(p, line + 8, err) < 0)
		return -1;

	/* Whatever else differs from the canonical text (spacing, order,
	 * units, leading zeros, trailing bytes) is refused here. */
	if (policy_to_text(p, out) != len || memcmp(out, text, len) != 0) {
		snprintf(err, POLICY_ERRLEN, "policy text: not in canonical form");
		return -1;
	}
	return 0;
}
