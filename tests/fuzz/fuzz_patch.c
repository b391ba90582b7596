/*
 * fuzz_patch: libFuzzer harness for the syscall-site rewriter's decoder
 * and planner (patch/patch.h), which read the program's own bytes.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ipatch \
 *	    patch/x86.c patch/plan.c tests/fuzz/fuzz_patch.c -o /tmp/fuzz_patch
 *	/tmp/fuzz_patch -max_total_time=300 tests/fuzz/corpus/patch
 *
 * The input's first 8 bytes choose the site's address; the rest are the
 * bytes from the site on (a syscall first, for a plan to be made).  The
 * decoder must never read past what it was given nor accept more than
 * 15 bytes; a plan must cover the patch with whole instructions; the
 * stub and the site's bytes must say what patch.h promises: the guard
 * bytes, a way back after the borrowed instructions, a copy of each.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "patch.h"

static const uint8_t guard_top[] = { 0x3f, 0x37, 0x2f, 0x27, 0x1f, 0x1e, 0x17, 0x16, 0x0e,
				     0x07, 0x06, 0x60, 0x61, 0xea, 0xd6, 0xd4, 0xce, 0x9a, 0x82 };

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int32_t le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

/* Every instruction the decoder accepts, from each offset: within the
 * bytes given and at most 15 long. */
static void decode_all(const uint8_t *code, size_t n, uint64_t rip)
{
	for (size_t at = 0; at < n; at++) {
		struct x86_insn in;
		int len = x86_decode(code + at, n - at, rip + at, at & 1, &in);
		CHECK(len >= 0 && len <= 15 && (size_t)len <= n - at);
		CHECK(len == 0 || in.len == len);
		CHECK(in.disp_off == 0 || in.disp_off + 4 <= len);
	}
}

static void check_stub(const struct patch_plan *plan, uint64_t stub, const uint8_t *out,
		       const uint8_t site[PATCH_LEN])
{
	uint64_t s = plan->site;

	CHECK(site[0] == 0xe9 && site[2] == 0x06 && site[3] == 0x06);
	CHECK(memchr(guard_top, site[4], sizeof guard_top) != NULL);
	CHECK(s + PATCH_LEN + (uint64_t)(int64_t)le32(site + 1) == stub);
	/* movabs $S+2, %rcx; movabs $C, %r11; jmp *slot(%rip); C: movabs $S+2, %rcx */
	CHECK(out[0] == 0x48 && out[1] == 0xb9 && le64(out + 2) == s + 2);
	CHECK(out[10] == 0x49 && out[11] == 0xbb && le64(out + 12) == patch_continuation(stub));
	CHECK(out[20] == 0xff && out[21] == 0x25);
	CHECK(stub + 26 + (uint64_t)(int64_t)le32(out + 22) == (stub & ~4095ULL));
	CHECK(patch_continuation(stub) == stub + 26);
	CHECK(out[26] == 0x48 && out[27] == 0xb9 && le64(out + 28) == s + 2);
	/* Back after the borrowed instructions. */
	const uint8_t *back = out + plan->stub_len - 5;
	CHECK(back[0] == 0xe9);
	CHECK(stub + plan->stub_len + (uint64_t)(int64_t)le32(back + 1) == s + plan->covered);
	for (int i = 0; i < plan->ninsn; i++) {
		uint64_t c = patch_redirect(plan, stub, s + plan->off[i]);
		CHECK(c >= stub + 36 && c < stub + plan->stub_len - 5);
		CHECK(patch_original(plan, stub, c) == s + plan->off[i]);
		if (plan->insn[i].kind == X86_PLAIN || plan->insn[i].kind == X86_PADDING)
			CHECK(!memcmp(out + (c - stub), plan->code + plan->off[i], plan->insn[i].len));
	}
	CHECK(patch_redirect(plan, stub, s + 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	uint64_t site = le64(data) & ((1ULL << 47) - 1);
	size_t n = size - 8;
	uint8_t *code = malloc(n ? n : 1);     /* exactly n: ASan sees any overread */
	struct patch_plan plan;
	uint8_t out[PATCH_STUB_MAX], bytes[PATCH_LEN];

	memcpy(code, data + 8, n);
	decode_all(code, n, site);
	enum patch_refusal r = patch_plan(site, code, n, data[7] & 0x80 ? data[6] : -1, &plan);
	CHECK(r >= PATCH_OK && r < PATCH_REFUSALS);
	CHECK(patch_refusal_name(r)[0]);
	if (r == PATCH_OK) {
		CHECK(code[0] == 0x0f && code[1] == 0x05);
		CHECK(plan.covered >= PATCH_LEN && plan.covered <= PATCH_READ && plan.covered <= n);
		CHECK(plan.stub_len <= PATCH_STUB_MAX);
		CHECK(plan.ninsn >= 1 && plan.ninsn <= PATCH_MAX_INSN && plan.off[0] == 2);
		for (int i = 0; i < plan.ninsn; i++) {
			uint64_t end = i + 1 < plan.ninsn ? plan.off[i + 1] : plan.covered;
			CHECK(plan.off[i] + plan.insn[i].len == end);
			CHECK(plan.off[i] < PATCH_LEN);
		}
		for (int b = 0; b < PATCH_BANDS; b++) {
			uint64_t lo = patch_stub_window(site, b);
			if (!lo)
				continue;
			uint64_t stub = lo + (data[size - 1] & 0xf8);
			if (patch_emit(&plan, stub, stub & ~4095ULL, out, bytes) == PATCH_OK)
				check_stub(&plan, stub, out, bytes);
		}
	}
	free(code);
	return 0;
}
