/*
 * Unit tests of the syscall-site rewriter's decoder and planner
 * (patch/patch.h).
 *
 *	objdump -d -w PROGRAM... | test_patch
 *
 * First, encodings whose right decoding or plan is known by hand.  Then
 * a differential test against objdump over real programs: every
 * instruction the decoder accepts must have objdump's length (and, for a
 * branch, its target), and every syscall site's plan must borrow whole
 * instructions as objdump splits them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "patch.h"

#define CHECK(c) check((c), "%s", #c)
/* Over thousands of instructions only the differences are printed. */
static long diffs;
#define CHECKF(c, ...) do { if (!(c) && diffs++ < 20) check(0, __VA_ARGS__); } while (0)

/* The bytes written in hex ("48 89 c7") into b; how many. */
static size_t unhex(const char *hex, uint8_t *b, size_t max)
{
	size_t n = 0;

	for (const char *p = hex; *p && n < max; ) {
		if (*p == ' ') {
			p++;
			continue;
		}
		b[n++] = (uint8_t)strtoul((char[3]){ p[0], p[1], 0 }, NULL, 16);
		p += 2;
	}
	return n;
}

static int decode(const char *hex, uint64_t rip, struct x86_insn *in)
{
	uint8_t b[32];

	return x86_decode(b, unhex(hex, b, sizeof b), rip, 0, in);
}

static void known_lengths(void)
{
	struct x86_insn in;
	static const struct { const char *hex; int len; } cases[] = {
		{ "48 3d 00 f0 ff ff", 6 },             /* cmp $-4096, %rax */
		{ "48 89 c7", 3 },                      /* mov %rax, %rdi */
		{ "c3", 1 }, { "c2 08 00", 3 },         /* ret, ret $8 */
		{ "66 0f 1f 44 00 00", 6 },             /* nopw 0(%rax,%rax) */
		{ "f3 0f 1e fa", 4 },                   /* endbr64 */
		{ "48 b8 01 02 03 04 05 06 07 08", 10 },        /* movabs $imm64, %rax */
		{ "66 b8 01 02", 4 },                   /* mov $imm16, %ax */
		{ "41 b8 01 02 03 04", 6 },             /* mov $imm32, %r8d */
		{ "c7 44 24 08 01 00 00 00", 8 },       /* movl $1, 8(%rsp) */
		{ "66 c7 44 24 08 01 00", 7 },          /* movw $1, 8(%rsp) */
		{ "f6 c1 01", 3 }, { "f7 c1 01 00 00 00", 6 },  /* test $imm, %cl / %ecx */
		{ "f7 d8", 2 },                         /* neg %eax */
		{ "64 48 8b 04 25 28 00 00 00", 9 },    /* mov %fs:0x28, %rax */
		{ "48 8b 05 10 00 00 00", 7 },          /* mov 0x10(%rip), %rax */
		{ "0f 05", 0 }, { "0f 0b", 0 },         /* syscall, ud2: refused */
		{ "cd 80", 0 }, { "cc", 0 }, { "f4", 0 },       /* int, int3, hlt */
		{ "c5 f8 77", 0 },                      /* vzeroupper (VEX) */
		{ "ff d0", 0 }, { "e8 00 00 00 00", 5 },        /* call *%rax refused, call rel32 */
		{ "66 e9 00 00", 0 },                   /* jmp rel16 */
		{ "48", 0 }, { "0f", 0 }, { "48 8b", 0 },       /* cut short */
		{ "67 48 8b 05 10 00 00 00", 0 },       /* EIP-relative */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check(decode(cases[i].hex, 0x400000, &in) == cases[i].len,
		      "decode %s: %d, want %d", cases[i].hex, decode(cases[i].hex, 0x400000, &in),
		      cases[i].len);
	CHECK(decode("74 05", 0x1000, &in) == 2 && in.kind == X86_JCC && in.target == 0x1007 &&
	      in.cond == 4);
	CHECK(decode("0f 85 00 01 00 00", 0x1000, &in) == 6 && in.kind == X86_JCC &&
	      in.target == 0x1106 && in.cond == 5);
	CHECK(decode("eb fe", 0x1000, &in) == 2 && in.kind == X86_JMP && in.target == 0x1000);
	CHECK(decode("48 8b 05 10 00 00 00", 0x1000, &in) == 7 && in.kind == X86_RIPREL &&
	      in.disp_off == 3);
	CHECK(decode("ff 25 10 00 00 00", 0x1000, &in) == 6 && in.kind == X86_JMP_INDIRECT &&
	      in.disp_off == 2);
	CHECK(decode("66 0f 1f 44 00 00", 0, &in) == 6 && in.kind == X86_PADDING);
}

/* Plans for a syscall at 0x401000 followed by hex, then int3 padding. */
static enum patch_refusal plan_of(const char *hex, struct patch_plan *plan)
{
	uint8_t b[PATCH_READ];

	memset(b, 0xcc, sizeof b);
	b[0] = 0x0f;
	b[1] = 0x05;
	unhex(hex, b + 2, sizeof b - 2);
	return patch_plan(0x401000, b, sizeof b, -1, plan);
}

static int32_t le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

static void known_plans(void)
{
	struct patch_plan plan;
	uint8_t stub[PATCH_STUB_MAX], site[PATCH_LEN];

	/* glibc: cmp $-4096, %rax after the syscall. */
	CHECK(plan_of("48 3d 00 f0 ff ff c3", &plan) == PATCH_OK && plan.ninsn == 1 &&
	      plan.covered == 8);
	/* musl's __syscall_cp_c: ret, then padding. */
	CHECK(plan_of("c3 66 0f 1f 44 00 00", &plan) == PATCH_OK && plan.ninsn == 2 &&
	      plan.covered == 9);
	/* ret, then the next function's code: not ours to overwrite. */
	CHECK(plan_of("c3 31 c0 c3", &plan) == PATCH_AFTER_JUMP);
	CHECK(plan_of("eb f8 31 c0 eb d0", &plan) == PATCH_AFTER_JUMP);
	/* exit_group; hlt */
	CHECK(plan_of("f4 c3", &plan) == PATCH_UNDECODED);
	/* a prefixed syscall */
	uint8_t pre[] = { 0x0f, 0x05, 0x48, 0x89, 0xc7 };
	CHECK(patch_plan(0x401000, pre, sizeof pre, 0x66, &plan) == PATCH_NOT_TEXT);
	CHECK(patch_plan(0x401000, pre, sizeof pre, 0x48, &plan) == PATCH_OK);

	/* A RIP-relative load after the syscall, relocated into the stub. */
	CHECK(plan_of("48 8b 05 f9 0f 00 00", &plan) == PATCH_OK);
	uint64_t x = patch_stub_window(0x401000, 0);
	CHECK(x && patch_emit(&plan, x, x & ~4095ULL, stub, site) == PATCH_OK);
	CHECK(site[0] == 0xe9 && site[2] == 0x06 && site[3] == 0x06 && site[4] == 0x3f);
	uint64_t c = patch_redirect(&plan, x, 0x401002);
	const uint8_t *copy = stub + (c - x);
	CHECK(copy[0] == 0x48 && copy[1] == 0x8b && copy[2] == 0x05);
	CHECK(c + 7 + (uint64_t)(int64_t)le32(copy + 3) == 0x401009 + 0xff9);
	/* A jcc after the syscall: rel32 in the stub, same target. */
	CHECK(plan_of("78 10 c3", &plan) == PATCH_OK);
	CHECK(patch_emit(&plan, x, x & ~4095ULL, stub, site) == PATCH_OK);
	c = patch_redirect(&plan, x, 0x401002);
	copy = stub + (c - x);
	CHECK(copy[0] == 0x0f && copy[1] == 0x88 &&
	      c + 6 + (uint64_t)(int64_t)le32(copy + 2) == 0x401004 + 0x10);
	/* A call after the syscall: the original return address pushed. */
	CHECK(plan_of("e8 00 10 00 00", &plan) == PATCH_OK);
	CHECK(patch_emit(&plan, x, x & ~4095ULL, stub, site) == PATCH_OK);
	copy = stub + (patch_redirect(&plan, x, 0x401002) - x);
	CHECK(copy[0] == 0x68 && le32(copy + 1) == 0x401007 && copy[5] == 0xe9);
	/* A branch back to the syscall goes to the stub itself. */
	CHECK(plan_of("eb fc", &plan) == PATCH_OK);
	CHECK(patch_emit(&plan, x, x & ~4095ULL, stub, site) == PATCH_OK);
	c = patch_redirect(&plan, x, 0x401002);
	copy = stub + (c - x);
	CHECK(copy[0] == 0xe9 && c + 5 + (uint64_t)(int64_t)le32(copy + 1) == x);

	/* Bands: every window lies in the program's half, and a stub outside
	 * one is refused. */
	for (int b = 0; b < PATCH_BANDS; b++) {
		uint64_t lo = patch_stub_window(0x7ffe00001000ULL, b);
		CHECK(lo == 0 || lo < (1ULL << 47));
	}
	CHECK(patch_stub_window(0x401000, PATCH_BANDS) == 0);
	CHECK(patch_emit(&plan, x + 512, (x + 512) & ~4095ULL, stub, site) == PATCH_NO_ROOM);
}

/* ---- against objdump ------------------------------------------------ */

struct line {
	uint64_t addr, target;
	uint8_t bytes[16];
	int len;
	int is_syscall;
};

/* "  401000:\t48 83 ec 08 \tsub ..." (objdump -d -w).  0 if not one. */
static int parse(const char *s, struct line *l)
{
	char *end;

	memset(l, 0, sizeof *l);
	l->addr = strtoull(s, &end, 16);
	if (end == s || end[0] != ':' || end[1] != '\t')
		return 0;
	s = end + 2;
	while (*s && *s != '\t') {
		if (*s == ' ') {
			s++;
			continue;
		}
		unsigned long v = strtoul(s, &end, 16);
		if (end != s + 2 || l->len == 16)
			return 0;
		l->bytes[l->len++] = (uint8_t)v;
		s = end;
	}
	if (*s != '\t' || !l->len)
		return 0;
	s++;
	l->is_syscall = !strncmp(s, "syscall", 7);
	/* A direct branch: "jmp    401234 <name+0x12>". */
	if ((s[0] == 'j' || !strncmp(s, "call", 4)) && !strchr(s, '*')) {
		const char *t = strchr(s, ' ');
		while (t && *t == ' ')
			t++;
		if (t && strchr(t, '<'))
			l->target = strtoull(t, NULL, 16);
	}
	return 1;
}

#define WINDOW 64

static void against_objdump(FILE *in)
{
	static struct line ring[WINDOW];
	char buf[1024];
	long n = 0, accepted = 0, sites = 0, planned = 0;
	int pending[WINDOW] = { 0 }, npending = 0;

	/* Lines in a ring, so a syscall's plan can be checked against the
	 * instructions objdump shows after it. */
	while (fgets(buf, sizeof buf, in)) {
		struct line l;
		if (!parse(buf, &l))
			continue;
		if (n && l.addr != ring[(n - 1) % WINDOW].addr + (uint64_t)ring[(n - 1) % WINDOW].len) {
			npending = 0;   /* a gap (another section): no plan across it */
		}
		ring[n % WINDOW] = l;
		struct x86_insn insn;
		uint8_t b[32];
		memset(b, 0x90, sizeof b);
		memcpy(b, l.bytes, l.len);
		int len = x86_decode(b, sizeof b, l.addr, 0, &insn);
		if (len) {
			accepted++;
			CHECKF(len == l.len, "%llx: length %d, objdump %d",
			       (unsigned long long)l.addr, len, l.len);
			if (l.target && (insn.kind == X86_JCC || insn.kind == X86_JMP || insn.kind == X86_CALL))
				CHECKF(insn.target == l.target, "%llx: target %llx, objdump %llx",
				       (unsigned long long)l.addr, (unsigned long long)insn.target,
				       (unsigned long long)l.target);
		}
		if (l.is_syscall && npending < WINDOW)
			pending[npending++] = (int)(n % WINDOW);
		n++;
		/* Plan the sites whose next PATCH_READ bytes are all here. */
		for (int i = 0; i < npending; i++) {
			const struct line *s = &ring[pending[i]];
			if (l.addr + (uint64_t)l.len < s->addr + PATCH_READ && l.addr >= s->addr)
				continue;
			uint8_t code[PATCH_READ];
			size_t got = 0;
			long k = 0;
			for (long j = pending[i]; got < PATCH_READ && k < WINDOW; j = (j + 1) % WINDOW, k++) {
				const struct line *m = &ring[j];
				if (m->addr != s->addr + got)
					break;
				size_t take = (size_t)m->len < PATCH_READ - got ? (size_t)m->len : PATCH_READ - got;
				memcpy(code + got, m->bytes, take);
				got += take;
			}
			struct patch_plan plan;
			sites++;
			if (patch_plan(s->addr, code, got, -1, &plan) == PATCH_OK) {
				planned++;
				/* Each borrowed instruction is one objdump shows. */
				uint64_t at = s->addr + 2;
				for (int b2 = 0, j = (pending[i] + 1) % WINDOW; b2 < plan.ninsn; b2++, j = (j + 1) % WINDOW) {
					CHECKF(ring[j].addr == at && ring[j].len == plan.insn[b2].len,
					       "site %llx: borrowed instruction %d at %llx, objdump has %llx (%d)",
					       (unsigned long long)s->addr, b2, (unsigned long long)at,
					       (unsigned long long)ring[j].addr, ring[j].len);
					at += plan.insn[b2].len;
				}
			}
			pending[i--] = pending[--npending];
		}
	}
	check(!diffs && n > 0 && accepted > n / 2 && sites > 0 && planned > sites / 2,
	      "objdump: %ld instructions, %ld decoded (%ld differ); %ld syscall sites, %ld planned",
	      n, accepted, diffs, sites, planned);
}

int main(void)
{
	known_lengths();
	known_plans();
	against_objdump(stdin);
	return check_summary();
}
