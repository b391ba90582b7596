/*
 * tar.c: a reader for tar archives in memory (POSIX ustar and pax, GNU
 * long names), for rootfs.h.
 *
 * Every header's checksum is checked, every size is checked against what
 * is left before the data is handed out, and the archive must end with
 * its zero block: a tar cut short anywhere is an error, never a shorter
 * tree.
 */
#include <stdio.h>
#include <string.h>

#include "rootfs_impl.h"

#define BLOCK 512
#define PAX_MAX (1 << 20)       /* bytes of one pax extended header */

void tar_init(struct tar *t, const uint8_t *p, size_t len)
{
	memset(t, 0, sizeof *t);
	t->p = p;
	t->len = len;
}

/*
 * A numeric header field: octal digits, after optional spaces, ended by
 * a space or NUL or the field's end; or, with the high bit of its first
 * byte set, a big-endian base-256 number (GNU, for sizes past 8 GiB).
 * An empty field is 0 unless need is set.
 */
static int number(const uint8_t *f, size_t n, int need, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, digits = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;              /* negative */
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return -1;
			v = v << 8 | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
		if (v >> 61)
			return -1;
		v = v << 3 | (f[i] - '0');
	}
	if (i < n && f[i] != ' ' && f[i] != 0)
		return -1;
	if (need && digits == 0)
		return -1;
	*out = v;
	return 0;
}

/* The header's checksum: its bytes summed with the checksum field read
 * as spaces.  Old tars summed signed chars; both are accepted. */
static int checksum_ok(const uint8_t *h)
{
	uint64_t want;
	long u = 0, s = 0;

	if (number(h + 148, 8, 1, &want) < 0)
		return 0;
	for (int i = 0; i < BLOCK; i++) {
		int c = i >= 148 && i < 156 ? ' ' : h[i];
		u += (unsigned char)c;
		s += (signed char)c;
	}
	return (uint64_t)u == want || (uint64_t)s == want;
}

/* A NUL-terminated or full-width text field into out. */
static void field(char *out, const uint8_t *f, size_t n)
{
	size_t k = strnlen((const char *)f, n);

	memcpy(out, f, k);
	out[k] = 0;
}

static int all_zero(const uint8_t *h)
{
	for (int i = 0; i < BLOCK; i++)
		if (h[i])
			return 0;
	return 1;
}

/* Data of a GNU 'L' or 'K' member into out: a name and its NUL. */
static int long_name(char *out, const uint8_t *d, uint64_t size)
{
	size_t k;

	if (size == 0 || size > TAR_NAME_MAX + 1)
		return -1;
	k = strnlen((const char *)d, size);
	if (k == 0 || k > TAR_NAME_MAX)
		return -1;
	memcpy(out, d, k);
	out[k] = 0;
	return 0;
}

struct pax {
	int have_path, have_link, have_size;
	uint64_t size, uid, gid;
	int have_uid, have_gid;
};

static int decimal(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* One value of a pax text: a name (no NUL, at most TAR_NAME_MAX). */
static int pax_name(char *out, const char *v, size_t n)
{
	if (n == 0 || n > TAR_NAME_MAX || memchr(v, 0, n))
		return -1;
	memcpy(out, v, n);
	out[n] = 0;
	return 0;
}

/* Records "LEN KEY=VALUE\n", LEN counting the whole record.  The keys
 * that shape the tree are read; the rest (times, xattrs) are skipped. */
static int pax_parse(struct tar *t, struct pax *x, const uint8_t *d, uint64_t size)
{
	const char *s = (const char *)d;
	size_t pos = 0;

	while (pos < size) {
		size_t i = pos, rec;
		uint64_t len;
		while (i < size && i - pos < 20 && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i >= size || s[i] != ' ' || decimal(s + pos, i - pos, &len) < 0 ||
		    len > size - pos || len < (i - pos) + 3 || s[pos + len - 1] != '\n')
			return -1;
		rec = pos + len - 1;            /* the '\n' */
		const char *key = s + i + 1;
		const char *eq = memchr(key, '=', rec - (i + 1));
		if (!eq)
			return -1;
		size_t klen = eq - key, vlen = s + rec - (eq + 1);
		const char *val = eq + 1;
#define KEY(k) (klen == sizeof k - 1 && !memcmp(key, k, klen))
		if (KEY("path")) {
			if (pax_name(t->name, val, vlen) < 0)
				return -1;
			x->have_path = 1;
		} else if (KEY("linkpath")) {
			if (pax_name(t->link, val, vlen) < 0)
				return -1;
			x->have_link = 1;
		} else if (KEY("size")) {
			if (decimal(val, vlen, &x->size) < 0)
				return -1;
			x->have_size = 1;
		} else if (KEY("uid")) {
			if (decimal(val, vlen, &x->uid) < 0)
				return -1;
			x->have_uid = 1;
		} else if (KEY("gid")) {
			if (decimal(val, vlen, &x->gid) < 0)
				return -1;
			x->have_gid = 1;
		}
#undef KEY
		pos += len;
	}
	return 0;
}

static int member_type(int c, enum tar_type *type)
{
	static const char flags[] = "0\0" "7" "1" "2" "3" "4" "5" "6";
	static const enum tar_type types[] = {
		TAR_REG, TAR_REG, TAR_REG, TAR_HARDLINK, TAR_SYMLINK, TAR_CHR,
		TAR_BLK, TAR_DIR, TAR_FIFO,
	};

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (flags[i] == c) {
			*type = types[i];
			return 0;
		}
	return -1;
}

int tar_next(struct tar *t, struct tar_member *m, char *err, size_t errlen)
{
	struct pax x = { 0 };
	int have_long = 0, have_longlink = 0;

	for (;;) {
		const uint8_t *h = t->p + t->pos;
		uint64_t size, pad;

		if (t->len - t->pos < BLOCK)
			return rootfs_fail(err, errlen, t->pos == t->len ?
				    "no end-of-archive block at offset %zu: truncated" :
				    "truncated header at offset %zu", t->pos);
		if (all_zero(h))
			return 0;
		if (!checksum_ok(h))
			return rootfs_fail(err, errlen, "bad header checksum at offset %zu", t->pos);
		if (number(h + 124, 12, 1, &size) < 0)
			return rootfs_fail(err, errlen, "bad size field at offset %zu", t->pos);
		int c = h[156];
		if (c != 'x' && c != 'g' && c != 'L' && c != 'K' && x.have_size)
			size = x.size;
		pad = (size + BLOCK - 1) / BLOCK * BLOCK;
		if (size > t->len - t->pos - BLOCK || pad > t->len - t->pos - BLOCK)
			return rootfs_fail(err, errlen, "member at offset %zu: %llu bytes of data, the archive has %zu: truncated",
				    t->pos, (unsigned long long)size, t->len - t->pos - BLOCK);
		const uint8_t *d = h + BLOCK;
		size_t at = t->pos;
		t->pos += BLOCK + pad;

		if (c == 'x') {
			if (size > PAX_MAX || pax_parse(t, &x, d, size) < 0)
				return rootfs_fail(err, errlen, "bad pax header at offset %zu", at);
			continue;
		}
		if (c == 'g')
			continue;               /* global defaults: times and such */
		if (c == 'L' || c == 'K') {
			if (long_name(c == 'L' ? t->name : t->link, d, size) < 0)
				return rootfs_fail(err, errlen, "bad GNU long name at offset %zu", at);
			*(c == 'L' ? &have_long : &have_longlink) = 1;
			continue;
		}

		memset(m, 0, sizeof *m);
		if (!x.have_path && !have_long) {
			/* ustar splits a long name into prefix and name; GNU
			 * uses the prefix's bytes for other things. */
			if (!memcmp(h + 257, "ustar\0", 6) && h[345]) {
				field(t->name, h + 345, 155);
				size_t k = strlen(t->name);
				t->name[k] = '/';
				field(t->name + k + 1, h, 100);
			} else {
				field(t->name, h, 100);
			}
		}
		if (!x.have_link && !have_longlink)
			field(t->link, h + 157, 100);
		m->name = t->name;
		m->link = t->link;
		if (!t->name[0])
			return rootfs_fail(err, errlen, "member at offset %zu has an empty name", at);
		if (member_type(c, &m->type) < 0)
			return rootfs_fail(err, errlen, "%.200s: member type '%c' is not supported", t->name,
				    c >= 0x20 && c < 0x7f ? c : '?');
		uint64_t mode;
		if (number(h + 100, 8, 0, &mode) < 0 || number(h + 108, 8, 0, &m->uid) < 0 ||
		    number(h + 116, 8, 0, &m->gid) < 0)
			return rootfs_fail(err, errlen, "%.200s: bad mode, uid or gid field", t->name);
		m->mode = (uint32_t)(mode & 07777);
		if (x.have_uid)
			m->uid = x.uid;
		if (x.have_gid)
			m->gid = x.gid;
		if (m->type == TAR_REG) {
			m->size = size;
			m->data = d;
		}
		if ((m->type == TAR_SYMLINK || m->type == TAR_HARDLINK) && !t->link[0])
			return rootfs_fail(err, errlen, "%.200s: link with an empty target", t->name);
		return 1;
	}
}
