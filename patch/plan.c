/*
 * Planning a site's patch and building its stub (patch.h).
 */
#include <string.h>

#include "patch.h"

/* The stub's head: movabs $S+2, %rcx; movabs $C, %r11; jmp *slot(%rip). */
#define HEAD_LEN 26
/* The continuation's first instruction: movabs $S+2, %rcx. */
#define CONT_LEN 10
#define JMP_LEN  5

static const char *const refusal_names[PATCH_REFUSALS] = {
	[PATCH_OK] = "patched",
	[PATCH_UNDECODED] = "an instruction after the syscall that is not relocated",
	[PATCH_AFTER_JUMP] = "code after a jump within the patch",
	[PATCH_NO_ROOM] = "no stub space within reach",
	[PATCH_NOT_TEXT] = "not read-only private text",
};

const char *patch_refusal_name(enum patch_refusal r)
{
	return r < PATCH_REFUSALS ? refusal_names[r] : "?";
}

/* The bytes a relocated copy of in takes in the stub. */
static int copy_len(const struct x86_insn *in)
{
	switch (in->kind) {
	case X86_JCC: return 6;                 /* 0f 8x rel32 */
	case X86_JMP: return JMP_LEN;           /* e9 rel32 */
	case X86_CALL: return 5 + JMP_LEN;      /* push imm32; jmp rel32 */
	default: return in->len;
	}
}

static int ends_flow(const struct x86_insn *in)
{
	return in->kind == X86_RET || in->kind == X86_JMP || in->kind == X86_JMP_INDIRECT;
}

enum patch_refusal patch_plan(uint64_t site, const uint8_t *code, size_t avail,
			      int prev_byte, struct patch_plan *plan)
{
	size_t at = 2, stub = HEAD_LEN + CONT_LEN;
	int after_jump = 0;

	memset(plan, 0, sizeof *plan);
	plan->site = site;
	if (avail > PATCH_READ)
		avail = PATCH_READ;
	/* A syscall with an operand-size prefix would leave that prefix on
	 * the jmp written after it (rel16 on some CPUs). */
	if (avail < PATCH_LEN || code[0] != 0x0f || code[1] != 0x05 || prev_byte == 0x66)
		return PATCH_NOT_TEXT;
	while (at < PATCH_LEN) {
		struct x86_insn *in = &plan->insn[plan->ninsn];
		if (plan->ninsn == PATCH_MAX_INSN ||
		    !x86_decode(code + at, avail - at, site + at, after_jump, in))
			return PATCH_UNDECODED;
		/* After a jump or ret, only padding may be overwritten: what
		 * follows is code only if something else jumps there. */
		if (after_jump && in->kind != X86_PADDING)
			return PATCH_AFTER_JUMP;
		after_jump |= ends_flow(in);
		plan->off[plan->ninsn++] = (uint8_t)at;
		stub += (size_t)copy_len(in);
		at += in->len;
	}
	plan->covered = (uint8_t)at;
	plan->stub_len = (uint8_t)(stub + JMP_LEN);
	memcpy(plan->code, code, avail);
	return PATCH_OK;
}

/* The displacement's top byte, which lands where S+4 was: opcodes that
 * are invalid in 64-bit mode whatever follows them.  Far above first:
 * the program's heap grows up from its text. */
static const uint8_t band_top[PATCH_BANDS] = {
	0x3f, 0x37, 0x2f, 0x27, 0x1f, 0x1e, 0x17, 0x16, 0x0e, 0x07, 0x06,   /* +96 MiB..+1 GiB */
	0x60, 0x61,                                                         /* +1.5 GiB */
	0xea, 0xd6, 0xd4, 0xce, 0x9a, 0x82,                                 /* -0.3..-2 GiB */
};

static int is_band_top(uint8_t top)
{
	return memchr(band_top, top, sizeof band_top) != NULL;
}

uint64_t patch_stub_window(uint64_t site, int b)
{
	if (b < 0 || b >= PATCH_BANDS)
		return 0;
	int64_t d = (int32_t)((uint32_t)band_top[b] << 24 | PATCH_DISP_MID);
	uint64_t x = site + PATCH_LEN + (uint64_t)d;
	/* Neither wrapped nor past the canonical lower half. */
	if ((d < 0 && x > site) || (d > 0 && x < site) || x >= (1ULL << 47) - 4096)
		return 0;
	return x;
}

uint64_t patch_continuation(uint64_t stub)
{
	return stub + HEAD_LEN;
}

/* Where the copy of borrowed instruction i starts in the stub at stub. */
static uint64_t copy_at(const struct patch_plan *plan, uint64_t stub, int i)
{
	uint64_t at = stub + HEAD_LEN + CONT_LEN;

	for (int k = 0; k < i; k++)
		at += (uint64_t)copy_len(&plan->insn[k]);
	return at;
}

uint64_t patch_redirect(const struct patch_plan *plan, uint64_t stub, uint64_t at)
{
	for (int i = 0; i < plan->ninsn; i++)
		if (plan->site + plan->off[i] == at)
			return copy_at(plan, stub, i);
	return 0;
}

uint64_t patch_original(const struct patch_plan *plan, uint64_t stub, uint64_t addr)
{
	for (int i = 0; i < plan->ninsn; i++) {
		uint64_t c = copy_at(plan, stub, i);
		if (addr >= c && addr < c + (uint64_t)copy_len(&plan->insn[i]))
			return plan->site + plan->off[i];
	}
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* rel32 from next (the address after the operand's instruction) to
 * target, or -1 if it does not fit. */
static int rel32(uint64_t target, uint64_t next, uint32_t *out)
{
	int64_t d = (int64_t)(target - next);

	if (d < INT32_MIN || d > INT32_MAX)
		return -1;
	*out = (uint32_t)(int32_t)d;
	return 0;
}

/* A branch target inside the patched bytes goes to what now stands for
 * it: the stub itself for the syscall, a copy for a borrowed one. */
static uint64_t retarget(const struct patch_plan *plan, uint64_t stub, uint64_t target)
{
	if (target == plan->site)
		return stub;
	uint64_t c = patch_redirect(plan, stub, target);
	return c ? c : target;
}

/* Writes the relocated copy of borrowed instruction i at out, which runs
 * at address at.  0, or -1 if an operand cannot reach. */
static int relocate(const struct patch_plan *plan, int i, uint64_t stub, uint64_t at,
		    uint8_t *out)
{
	const struct x86_insn *in = &plan->insn[i];
	const uint8_t *src = plan->code + plan->off[i];
	uint64_t orig_next = plan->site + plan->off[i] + in->len;
	uint64_t target = retarget(plan, stub, in->target);
	uint32_t r;

	switch (in->kind) {
	case X86_JCC:
		out[0] = 0x0f;
		out[1] = (uint8_t)(0x80 | in->cond);
		if (rel32(target, at + 6, &r) < 0)
			return -1;
		put32(out + 2, r);
		return 0;
	case X86_CALL:
		/* The callee must see the original return address. */
		if (orig_next > INT32_MAX)
			return -1;
		out[0] = 0x68;
		put32(out + 1, (uint32_t)orig_next);
		out += 5;
		at += 5;
		__attribute__((fallthrough));  /* then jump to the callee */
	case X86_JMP:
		out[0] = 0xe9;
		if (rel32(target, at + JMP_LEN, &r) < 0)
			return -1;
		put32(out + 1, r);
		return 0;
	default:
		memcpy(out, src, in->len);
		if (in->disp_off) {
			const uint8_t *d = src + in->disp_off;
			int32_t disp = (int32_t)((uint32_t)d[0] | (uint32_t)d[1] << 8 |
						 (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24);
			if (rel32(orig_next + (uint64_t)(int64_t)disp, at + in->len, &r) < 0)
				return -1;
			put32(out + in->disp_off, r);
		}
		return 0;
	}
}

enum patch_refusal patch_emit(const struct patch_plan *plan, uint64_t stub,
			      uint64_t slot, uint8_t *out,
			      uint8_t site_bytes[PATCH_LEN])
{
	uint64_t ret = plan->site + 2, cont = stub + HEAD_LEN;
	uint32_t r, s;
	uint8_t *p = out;

	/* The displacement must carry the guard bytes. */
	if (rel32(stub, plan->site + PATCH_LEN, &r) < 0 ||
	    (r & 0x00ffff00u) != PATCH_DISP_MID || !is_band_top((uint8_t)(r >> 24)) ||
	    rel32(slot, stub + HEAD_LEN, &s) < 0)
		return PATCH_NO_ROOM;
	site_bytes[0] = 0xe9;
	put32(site_bytes + 1, r);

	p[0] = 0x48; p[1] = 0xb9; put64(p + 2, ret);           /* movabs $S+2, %rcx */
	p[10] = 0x49; p[11] = 0xbb; put64(p + 12, cont);       /* movabs $C, %r11 */
	p[20] = 0xff; p[21] = 0x25; put32(p + 22, s);           /* jmp *slot(%rip) */
	p += HEAD_LEN;
	p[0] = 0x48; p[1] = 0xb9; put64(p + 2, ret);           /* C: movabs $S+2, %rcx */
	p += CONT_LEN;
	for (int i = 0; i < plan->ninsn; i++) {
		uint64_t at = stub + (uint64_t)(p - out);
		if (relocate(plan, i, stub, at, p) < 0)
			return PATCH_UNDECODED;
		p += copy_len(&plan->insn[i]);
	}
	p[0] = 0xe9;
	if (rel32(plan->site + plan->covered, stub + (uint64_t)(p - out) + JMP_LEN, &r) < 0)
		return PATCH_NO_ROOM;
	put32(p + 1, r);
	return PATCH_OK;
}
