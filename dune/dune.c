/*
 * libdune for ring 3 (include/dune.h): thin wrappers over dunerun's
 * Dune calls, the page-table window walk, and a printf for handlers.
 *
 * The library's process-wide state is the three values below: the
 * window (set once by dune_init), the trap handler the entry stub calls,
 * and whether the stub may use xsave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include "dune.h"
#include "dunerun/abi.h"

static const volatile uint64_t *window;
dune_trap_fn dune_trap_handler;         /* called by trap.S */
int dune_use_xsave;                     /* read by trap.S */

void dune_trap_entry(void);

_Static_assert(offsetof(struct dune_tf, rip) == 128 && offsetof(struct dune_tf, rflags) == 136,
	       "trap.S knows the frame");

static long dune_call(long nr, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

/* xsave needs CR4.OSXSAVE, which CPUID leaf 1 reports (ECX bit 27). */
static int os_has_xsave(void)
{
	uint32_t a = 1, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (c >> 27) & 1;
}

int dune_init(void)
{
	long r = dune_call(DUNE_SYS_WINDOW, 0, 0);

	if (r < 0)
		return (int)r;
	dune_use_xsave = os_has_xsave();
	window = (const volatile uint64_t *)r;
	return 0;
}

/* The window entry that the walk for va reads at level (1 = PTE ...
 * 4 = PML4E): each level up goes once more through slot 254. */
static const volatile uint64_t *window_entry(uint64_t va, int level)
{
	uint64_t at = DUNE_WINDOW, index = va >> 12;

	for (int l = 1; l < level; l++) {
		at += (uint64_t)DUNE_WINDOW_SLOT << (39 - 9 * l);
		index >>= 9;
	}
	return (const volatile uint64_t *)(at + index * 8);
}

const volatile uint64_t *dune_pte(const void *va)
{
	uint64_t v = (uint64_t)va;

	if (!window || v >= (1ULL << 47))
		return NULL;
	for (int level = 4; level > 1; level--) {
		uint64_t e = *window_entry(v, level);
		if (!(e & DUNE_PTE_P))
			return NULL;
		if (level == 2 && (e & DUNE_PTE_PS))
			return window_entry(v, 2);
	}
	return window_entry(v, 1);
}

long dune_batch(struct dune_op *ops, int n)
{
	return dune_call(DUNE_SYS_BATCH, (long)ops, n);
}

static long one_op(uint32_t kind, void *addr, size_t len, uint64_t *bitmap, int prot)
{
	struct dune_op op = { kind, prot, (uint64_t)addr, len, bitmap, 0 };
	long r = dune_batch(&op, 1);

	return r < 0 ? r : op.result;
}

long dune_collect_dirty(void *addr, size_t len, uint64_t *bitmap)
{
	return one_op(DUNE_COLLECT_DIRTY, addr, len, bitmap, 0);
}

long dune_collect_accessed(void *addr, size_t len, uint64_t *bitmap)
{
	return one_op(DUNE_COLLECT_ACCESSED, addr, len, bitmap, 0);
}

long dune_protect(void *addr, size_t len, int prot)
{
	return one_op(DUNE_PROTECT, addr, len, NULL, prot);
}

int dune_trap(dune_trap_fn fn, uint64_t vectors)
{
	dune_trap_handler = fn;
	return (int)dune_call(DUNE_SYS_TRAP, fn ? (long)dune_trap_entry : 0, (long)vectors);
}

/* ---- dune_printf ----------------------------------------------------- */

struct out { char buf[512]; size_t len; };

static void put(struct out *o, const char *s, size_t n)
{
	while (n-- && o->len < sizeof o->buf)
		o->buf[o->len++] = *s++;
}

static void put_num(struct out *o, unsigned long long v, int base, int neg)
{
	char tmp[24];
	int i = sizeof tmp;

	do
		tmp[--i] = "0123456789abcdef"[v % base];
	while ((v /= base));
	if (neg)
		tmp[--i] = '-';
	put(o, tmp + i, sizeof tmp - i);
}

/* One conversion at f (after '%'); returns the characters it used. */
static int convert(struct out *o, const char *f, va_list *ap)
{
	int longs = 0, n = 0;

	while (f[n] == 'l' || f[n] == 'z')
		longs += f[n++] == 'z' ? 2 : 1;
	char c = f[n++];
	if (c == 'd' || c == 'i') {
		long long v = longs ? va_arg(*ap, long long) : va_arg(*ap, int);
		put_num(o, v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10, v < 0);
	} else if (c == 'u' || c == 'x') {
		unsigned long long v = longs ? va_arg(*ap, unsigned long long) : va_arg(*ap, unsigned);
		put_num(o, v, c == 'x' ? 16 : 10, 0);
	} else if (c == 'p') {
		put(o, "0x", 2);
		put_num(o, (uintptr_t)va_arg(*ap, void *), 16, 0);
	} else if (c == 's') {
		const char *s = va_arg(*ap, const char *);
		s = s ? s : "(null)";
		put(o, s, strlen(s));
	} else if (c == 'c') {
		char ch = (char)va_arg(*ap, int);
		put(o, &ch, 1);
	} else if (c == '%') {
		put(o, "%", 1);
	} else {
		put(o, f - 1, c ? n + 1 : n);   /* as written; a lone '%' at the end too */
		if (!c)
			n--;
	}
	return n;
}

int dune_printf(const char *fmt, ...)
{
	struct out o = { .len = 0 };
	va_list ap;

	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%')
			put(&o, f, 1);
		else
			f += convert(&o, f + 1, &ap);
	}
	va_end(ap);
	return (int)write(2, o.buf, o.len);
}
