/*
 * An x86-64 instruction length decoder for the instructions that follow
 * syscalls in compiled code: the general-purpose, x87 and SSE ones.  It
 * knows exactly what it accepts and refuses the rest (VEX and EVEX
 * encodings, privileged and I/O instructions, far transfers, string I/O,
 * moffs moves...): a refused instruction only means a site keeps the
 * slow path, while a wrong length would corrupt the program.
 *
 * Lengths follow the Intel SDM, volume 2, appendix A (opcode maps) and
 * section 2.2 (64-bit mode: REX, RIP-relative addressing).
 */
#include <string.h>

#include "patch.h"

/* One-byte opcode map. */
enum {
	M = 1,          /* a ModRM byte follows */
	I8 = 2,         /* an 8-bit immediate */
	I16 = 4,        /* a 16-bit immediate */
	IZ = 8,         /* 16 or 32 bits, by operand size */
	IV = 16,        /* 16, 32 or 64 bits (mov r, imm) */
	GRP = 32,       /* the ModRM reg field picks the form (f6 f7 fe ff c6 c7) */
	BAD = 64,       /* refused */
	PFX = 128,      /* a legacy prefix */
};

#define R4(a, b, c, d) a, b, c, d
static const uint8_t one[256] = {
	/* 00 */ R4(M, M, M, M), R4(I8, IZ, BAD, BAD), R4(M, M, M, M), R4(I8, IZ, BAD, 0),
	/* 10 */ R4(M, M, M, M), R4(I8, IZ, BAD, BAD), R4(M, M, M, M), R4(I8, IZ, BAD, BAD),
	/* 20 */ R4(M, M, M, M), R4(I8, IZ, PFX, BAD), R4(M, M, M, M), R4(I8, IZ, PFX, BAD),
	/* 30 */ R4(M, M, M, M), R4(I8, IZ, PFX, BAD), R4(M, M, M, M), R4(I8, IZ, PFX, BAD),
	/* 40 REX */ R4(0, 0, 0, 0), R4(0, 0, 0, 0), R4(0, 0, 0, 0), R4(0, 0, 0, 0),
	/* 50 */ R4(0, 0, 0, 0), R4(0, 0, 0, 0), R4(0, 0, 0, 0), R4(0, 0, 0, 0),
	/* 60 */ R4(BAD, BAD, BAD, M), R4(PFX, PFX, PFX, PFX), R4(IZ, M | IZ, I8, M | I8), R4(BAD, BAD, BAD, BAD),
	/* 70 jcc rel8 */ R4(I8, I8, I8, I8), R4(I8, I8, I8, I8), R4(I8, I8, I8, I8), R4(I8, I8, I8, I8),
	/* 80 */ R4(M | I8, M | IZ, BAD, M | I8), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, BAD, BAD),
	/* 90 */ R4(0, 0, 0, 0), R4(0, 0, 0, 0), R4(0, 0, BAD, 0), R4(0, 0, 0, 0),
	/* a0 */ R4(BAD, BAD, BAD, BAD), R4(0, 0, 0, 0), R4(I8, IZ, 0, 0), R4(0, 0, 0, 0),
	/* b0 */ R4(I8, I8, I8, I8), R4(I8, I8, I8, I8), R4(IV, IV, IV, IV), R4(IV, IV, IV, IV),
	/* c0 */ R4(M | I8, M | I8, I16, 0), R4(BAD, BAD, GRP, GRP), R4(BAD, 0, BAD, BAD), R4(BAD, BAD, BAD, BAD),
	/* d0 */ R4(M, M, M, M), R4(BAD, BAD, BAD, 0), R4(M, M, M, M), R4(M, M, M, M),
	/* e0 */ R4(BAD, BAD, BAD, BAD), R4(BAD, BAD, BAD, BAD), R4(IZ, IZ, BAD, I8), R4(BAD, BAD, BAD, BAD),
	/* f0 */ R4(PFX, BAD, PFX, PFX), R4(BAD, 0, GRP, GRP), R4(0, 0, BAD, BAD), R4(0, 0, GRP, GRP),
};

/* Two-byte map (0f xx).  0f 38 and 0f 3a are three-byte maps, below. */
static const uint8_t two[256] = {
	/* 00 */ R4(BAD, BAD, BAD, BAD), R4(BAD, BAD, BAD, BAD), R4(BAD, BAD, BAD, BAD), R4(BAD, M, BAD, BAD),
	/* 10 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M),
	/* 20 */ R4(BAD, BAD, BAD, BAD), R4(BAD, BAD, BAD, BAD), R4(M, M, M, M), R4(M, M, M, M),
	/* 30 */ R4(BAD, 0, BAD, BAD), R4(BAD, BAD, BAD, BAD), R4(BAD, BAD, BAD, BAD), R4(BAD, BAD, BAD, BAD),
	/* 40 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M),
	/* 50 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M),
	/* 60 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M),
	/* 70 */ R4(M | I8, M | I8, M | I8, M | I8), R4(M, M, M, 0), R4(BAD, BAD, BAD, BAD), R4(M, M, M, M),
	/* 80 jcc rel32 */ R4(IZ, IZ, IZ, IZ), R4(IZ, IZ, IZ, IZ), R4(IZ, IZ, IZ, IZ), R4(IZ, IZ, IZ, IZ),
	/* 90 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M),
	/* a0 */ R4(0, 0, 0, M), R4(M | I8, M, BAD, BAD), R4(0, 0, BAD, M), R4(M | I8, M, M, M),
	/* b0 */ R4(M, M, BAD, M), R4(BAD, BAD, M, M), R4(M, BAD, M | I8, M), R4(M, M, M, M),
	/* c0 */ R4(M, M, M | I8, M), R4(M | I8, M | I8, M | I8, M), R4(0, 0, 0, 0), R4(0, 0, 0, 0),
	/* d0 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M),
	/* e0 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M),
	/* f0 */ R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, M), R4(M, M, M, BAD),
};

/* ModRM (and SIB and displacement) at p: its size, or 0 if it runs
 * past end.  *rip_rel: the displacement is RIP-relative. */
static int modrm_len(const uint8_t *p, const uint8_t *end, int *rip_rel)
{
	if (p >= end)
		return 0;
	int mod = p[0] >> 6, rm = p[0] & 7, n = 1;

	*rip_rel = 0;
	if (mod == 3)
		return n;
	if (rm == 4) {
		if (p + 1 >= end)
			return 0;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;         /* disp32, no base */
		n++;
	} else if (mod == 0 && rm == 5) {
		*rip_rel = 1;
		n += 4;
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return p + n <= end ? n : 0;
}

static int imm_len(int flags, int opsize16, int rex_w)
{
	if (flags & I8)
		return 1;
	if (flags & I16)
		return 2;
	if (flags & IZ)
		return opsize16 && !rex_w ? 2 : 4;
	if (flags & IV)
		return rex_w ? 8 : opsize16 ? 2 : 4;
	return 0;
}

/* The forms of the group opcodes (c6 c7 f6 f7 fe ff) this decoder takes,
 * by the ModRM reg field; *flags gets their immediate, *kind the jump. */
static int group_ok(uint8_t op, int reg, int *flags, int *kind)
{
	switch (op) {
	case 0xc6: *flags = M | I8; return reg == 0;   /* c6 f8 is xabort */
	case 0xc7: *flags = M | IZ; return reg == 0;   /* c7 f8 is xbegin */
	case 0xf6: *flags = reg < 2 ? M | I8 : M; return 1;
	case 0xf7: *flags = reg < 2 ? M | IZ : M; return 1;
	case 0xfe: *flags = M; return reg < 2;
	case 0xff:
		*flags = M;
		if (reg == 4)
			*kind = X86_JMP_INDIRECT;
		/* inc, dec, jmp, push; not the calls (they push the stub's
		 * address) nor the far forms */
		return reg == 0 || reg == 1 || reg == 4 || reg == 6;
	}
	return 0;
}

static int is_nop(const uint8_t *p, int len, int nprefix)
{
	uint8_t op = p[nprefix];

	if (op == 0x90)
		return 1;
	return op == 0x0f && nprefix + 2 < len && p[nprefix + 1] == 0x1f &&
	       ((p[nprefix + 2] >> 3) & 7) == 0;
}

int x86_decode(const uint8_t *code, size_t avail, uint64_t rip, int padding,
	       struct x86_insn *out)
{
	const uint8_t *p = code, *end = code + (avail < 15 ? avail : 15);
	int opsize16 = 0, addr32 = 0, rex = 0, nprefix = 0, flags, kind = X86_PLAIN;
	int rip_rel = 0, mlen = 0;

	memset(out, 0, sizeof *out);
	if (padding && p < end && *p == 0xcc) {
		out->len = 1;
		out->kind = X86_PADDING;
		return 1;
	}
	/* Legacy prefixes, then at most one REX right before the opcode. */
	for (; p < end; p++) {
		if (one[*p] & PFX) {
			opsize16 |= *p == 0x66;
			addr32 |= *p == 0x67;
			rex = 0;        /* a REX before a prefix is ignored */
			nprefix++;
			continue;
		}
		if ((*p & 0xf0) == 0x40) {
			rex = *p;
			nprefix++;
			continue;
		}
		break;
	}
	if (p >= end)
		return 0;
	int rex_w = rex & 8;
	uint8_t op = *p++;
	if (op != 0x0f) {
		flags = one[op];
		if (flags & GRP) {
			if (p >= end || !group_ok(op, (*p >> 3) & 7, &flags, &kind))
				return 0;
		}
		if (op >= 0x70 && op <= 0x7f)
			kind = X86_JCC;
		else if (op == 0xe8)
			kind = X86_CALL;
		else if (op == 0xe9 || op == 0xeb)
			kind = X86_JMP;
		else if (op == 0xc2 || op == 0xc3)
			kind = X86_RET;
	} else {
		if (p >= end)
			return 0;
		uint8_t op2 = *p++;
		if (op2 == 0x38 || op2 == 0x3a) {
			if (p >= end)
				return 0;
			p++;            /* the third opcode byte: all take ModRM */
			flags = op2 == 0x3a ? M | I8 : M;
		} else {
			flags = two[op2];
			if (op2 >= 0x80 && op2 <= 0x8f) {
				kind = X86_JCC;
				op = 0x70 | (op2 & 15);
			}
		}
	}
	if (flags & (BAD | PFX))
		return 0;
	/* Relative branches with an operand-size prefix are rel16 on some
	 * CPUs and rel32 on others. */
	if (kind != X86_PLAIN && kind != X86_RET && kind != X86_JMP_INDIRECT && opsize16)
		return 0;
	if (flags & M) {
		mlen = modrm_len(p, end, &rip_rel);
		if (!mlen)
			return 0;
		p += mlen;
	}
	int ilen = imm_len(flags, opsize16, rex_w);
	if (kind == X86_JCC || kind == X86_JMP || kind == X86_CALL)
		ilen = (op == 0xeb || (op >= 0x70 && op <= 0x7f && code[nprefix] != 0x0f)) ? 1 : 4;
	if (p + ilen > end)
		return 0;
	p += ilen;
	int len = (int)(p - code);
	if (rip_rel) {
		if (addr32)
			return 0;       /* EIP-relative: never in compiled code */
		out->disp_off = (uint8_t)(len - ilen - 4);
		if (kind == X86_PLAIN)
			kind = X86_RIPREL;
	}
	if (kind == X86_JCC || kind == X86_JMP || kind == X86_CALL) {
		int64_t rel = ilen == 1 ? (int8_t)p[-1] :
			(int32_t)((uint32_t)p[-4] | (uint32_t)p[-3] << 8 |
				  (uint32_t)p[-2] << 16 | (uint32_t)p[-1] << 24);
		out->target = rip + (uint64_t)len + (uint64_t)rel;
		out->cond = op & 15;
	}
	if (kind == X86_PLAIN && is_nop(code, len, nprefix))
		kind = X86_PADDING;
	out->len = (uint8_t)len;
	out->kind = (uint8_t)kind;
	return len;
}
