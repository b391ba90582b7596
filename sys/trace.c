/*
 * strace-style tracing: one line per call,
 *
 *     openat(AT_FDCWD, "/etc/passwd", 0x80000, 0) = 3 [host]
 *     read(3, 0x7fffffffe000, 4096) = -1 EBADF (Bad file descriptor) [host]
 *
 * The arguments are formatted before the call (strings the program passes
 * in are read while they are still what it passed) and the line is
 * written with a single write() after it.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

/* Strings and buffers are shown up to this many bytes. */
#define TRACE_STR 32
/* Room kept for the result when formatting the arguments. */
#define TRACE_TAIL 128

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n : o->size - o->len - 1;
}

/* Quotes s[0..n) C-style; "..." after the quote marks truncation. */
static void put_quoted(struct out *o, const unsigned char *s, size_t n, int more)
{
	size_t i;

	put(o, "\"");
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\n': put(o, "\\n"); break;
		case '\t': put(o, "\\t"); break;
		case '\r': put(o, "\\r"); break;
		case '"': put(o, "\\\""); break;
		case '\\': put(o, "\\\\"); break;
		default:
			if (s[i] < 0x20 || s[i] >= 0x7f)
				put(o, "\\x%02x", s[i]);
			else
				put(o, "%c", s[i]);
		}
	}
	put(o, more ? "\"..." : "\"");
}

static void put_ptr(struct out *o, uint64_t v)
{
	if (v)
		put(o, "0x%llx", (unsigned long long)v);
	else
		put(o, "NULL");
}

static void put_str(struct proc *p, struct out *o, uint64_t gva)
{
	unsigned char s[TRACE_STR + 1];
	long n = mm_copy_str(p->mm, (char *)s, gva, sizeof s);

	if (n >= 0) {
		put_quoted(o, s, (size_t)n, 0);
	} else if (n == -ENAMETOOLONG &&
		   mm_copy_in(p->mm, s, gva, TRACE_STR) == 0) {
		put_quoted(o, s, TRACE_STR, 1);
	} else {
		put_ptr(o, gva);
	}
}

static void put_buf(struct proc *p, struct out *o, uint64_t gva, uint64_t len)
{
	unsigned char s[TRACE_STR];
	size_t n = len < TRACE_STR ? (size_t)len : TRACE_STR;

	if (mm_copy_in(p->mm, s, gva, n) == 0)
		put_quoted(o, s, n, len > TRACE_STR);
	else
		put_ptr(o, gva);
}

static void put_arg(struct proc *p, struct out *o, int kind, uint64_t v,
		    uint64_t next)
{
	switch (kind) {
	case K_INT:
		put(o, "%d", argint(v));
		break;
	case K_DIRFD:
		if (argint(v) == AT_FDCWD)
			put(o, "AT_FDCWD");
		else
			put(o, "%d", argint(v));
		break;
	case K_LONG:
		put(o, "%lld", (long long)v);
		break;
	case K_ULONG:
		put(o, "%llu", (unsigned long long)v);
		break;
	case K_HEX:
		put(o, "0x%llx", (unsigned long long)v);
		break;
	case K_OCT:
		if (v)
			put(o, "0%llo", (unsigned long long)v);
		else
			put(o, "0");
		break;
	case K_PTR:
		put_ptr(o, v);
		break;
	case K_STR:
		put_str(p, o, v);
		break;
	case K_BUF:
		put_buf(p, o, v, next);
		break;
	}
}

int trace_begin(struct proc *p, const char *name, uint64_t nr,
		const struct sysent *e, const uint64_t *a, char *buf,
		size_t size)
{
	struct out o = { buf, size > TRACE_TAIL ? size - TRACE_TAIL : 1, 0 };
	int i;

	if (name)
		put(&o, "%s(", name);
	else
		put(&o, "syscall_%llu(", (unsigned long long)nr);
	for (i = 0; i < 6 && e->arg[i] != K_NONE; i++) {
		if (i)
			put(&o, ", ");
		put_arg(p, &o, e->arg[i], a[i], i < 5 ? a[i + 1] : 0);
	}
	return (int)o.len;
}

#define E(x) [x] = #x
static const char *const errname[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(ENOTBLK), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV),
	E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
	E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK),
	E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK),
	E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ENOSTR),
	E(ENODATA), E(ETIME), E(ENOSR), E(EREMOTE), E(ENOLINK), E(EPROTO),
	E(EMULTIHOP), E(EBADMSG), E(EOVERFLOW), E(EBADFD), E(EILSEQ),
	E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE),
	E(ENOPROTOOPT), E(EPROTONOSUPPORT), E(EOPNOTSUPP), E(EAFNOSUPPORT),
	E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH),
	E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS), E(EISCONN), E(ENOTCONN),
	E(ETIMEDOUT), E(ECONNREFUSED), E(EHOSTUNREACH), E(EALREADY),
	E(EINPROGRESS), E(ESTALE), E(EDQUOT), E(ECANCELED), E(EOWNERDEAD),
	E(ENOTRECOVERABLE),
};
#undef E

void trace_end(struct proc *p, const struct sysent *e, long ret, char *buf,
	       size_t len, size_t size)
{
	struct out o = { buf, size, len };
	ssize_t w;

	if (e->ret == K_NONE) {
		put(&o, ") = ?");
	} else if (ret < 0 && ret >= -4095) {
		long err = -ret;
		if (err < (long)(sizeof errname / sizeof errname[0]) && errname[err])
			put(&o, ") = -1 %s (%s)", errname[err], strerror((int)err));
		else
			put(&o, ") = -1 E%ld (%s)", err, strerror((int)err));
	} else if (e->ret == K_HEX) {
		put(&o, ") = 0x%lx", (unsigned long)ret);
	} else {
		put(&o, ") = %ld", ret);
	}
	put(&o, p->patched_call == 1 ? " [host, patched]\n" :
		p->patched_call == 2 ? " [host, vdso]\n" : " [host]\n");
	if (o.len && o.buf[o.len - 1] != '\n')
		o.buf[o.len - 1] = '\n';
	w = write(p->trace_fd, o.buf, o.len);
	(void)w;
}
