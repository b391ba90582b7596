/*
 * fuzz_dunefile: libFuzzer harness for the Dunefile parser, the policy
 * and manifest texts, and the promise table.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ipolicy \
 *	    policy/[a-z]*.c tests/fuzz/fuzz_dunefile.c -o /tmp/fuzz_dunefile
 *	/tmp/fuzz_dunefile -max_total_time=300 tests/fuzz/corpus/dunefile
 *
 * (policy/[a-z]*.c stands for every C file in policy/.)
 *
 * The input is fed to all three readers.  What dunefile_parse accepts must
 * keep dunefile.h's promises and its manifest and policy must go to text
 * and back unchanged; what policy_from_text or manifest_from_text accepts
 * must be exactly what the writer gives back; every refusal must come
 * with a one-line printable message.  The first 56 bytes also make a
 * system call for the promise table, whose answers must agree.  Any
 * broken promise aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dunefile.h"
#include "policy.h"


static void check_message(const char *err, size_t max)
{
	size_t n = strnlen(err, max);
	size_t i;

	CHECK(n > 0 && n < max);
	for (i = 0; i < n; i++)
		CHECK(err[i] != '\n');
}

static int rel_ok(const char *s)
{
	const char *c;

	if (!*s || *s == '/')
		return 0;
	for (c = s; (c = strstr(c, "..")) != NULL; c += 2)
		if ((c == s || c[-1] == '/') && (c[2] == '/' || c[2] == '\0'))
			return 0;
	return 1;
}

static void check_dunefile(const uint8_t *data, size_t size)
{
	struct dunefile df;
	struct manifest m;
	struct policy p;
	char err[DUNEFILE_ERRLEN], perr[POLICY_ERRLEN];
	char ptext[POLICY_TEXT_MAX], ptext2[POLICY_TEXT_MAX];
	char *text, *text2;
	size_t n, n2;
	int i;

	if (dunefile_parse((const char *)data, size, "F", &df, err) < 0) {
		check_message(err, sizeof err);
		CHECK(strncmp(err, "F:", 2) == 0);
		CHECK(df.ncopy == 0 && df.copy == NULL && df.manifest.argv == NULL);
		return;
	}
	CHECK(df.ncopy <= DF_MAX_COPIES);
	for (i = 0; i < df.ncopy; i++) {
		CHECK(rel_ok(df.copy[i].src));
		CHECK(dunefile_path_error(df.copy[i].dest) == NULL);
		CHECK(df.copy[i].line >= 1);
	}
	CHECK(manifest_check(&df.manifest, err) == 0);
	CHECK(df.manifest.argv[df.manifest.argc] == NULL);
	CHECK(df.entrypoint_line >= 1);

	text = manifest_to_text(&df.manifest, &n);
	CHECK(text && n <= MANIFEST_TEXT_MAX && strlen(text) == n);
	CHECK(manifest_from_text(text, n, &m, err) == 0);
	text2 = manifest_to_text(&m, &n2);
	CHECK(text2 && n2 == n && memcmp(text, text2, n) == 0);
	CHECK(m.argc == df.manifest.argc && m.nenv == df.manifest.nenv &&
	      m.nvolumes == df.manifest.nvolumes);
	for (i = 0; i < m.argc; i++)
		CHECK(strcmp(m.argv[i], df.manifest.argv[i]) == 0);
	free(text);
	free(text2);
	manifest_free(&m);

	n = policy_to_text(&df.policy, ptext);
	CHECK(n < POLICY_TEXT_MAX && strlen(ptext) == n);
	CHECK(policy_from_text(ptext, n, &p, perr) == 0);
	CHECK(memcmp(&p, &df.policy, sizeof p) == 0);
	CHECK(policy_to_text(&p, ptext2) == n && strcmp(ptext, ptext2) == 0);
	dunefile_free(&df);
}

static void check_policy_text(const uint8_t *data, size_t size)
{
	struct policy p;
	char err[POLICY_ERRLEN], out[POLICY_TEXT_MAX];

	if (policy_from_text((const char *)data, size, &p, err) < 0) {
		check_message(err, sizeof err);
		return;
	}
	CHECK(policy_to_text(&p, out) == size && memcmp(out, data, size) == 0);
}

static void check_manifest_text(const uint8_t *data, size_t size)
{
	struct manifest m;
	char err[DUNEFILE_ERRLEN], *out;
	size_t n;

	if (manifest_from_text((const char *)data, size, &m, err) < 0) {
		check_message(err, sizeof err);
		CHECK(m.argv == NULL && m.env == NULL && m.workdir == NULL);
		return;
	}
	CHECK(manifest_check(&m, err) == 0);
	out = manifest_to_text(&m, &n);
	CHECK(out && n == size && memcmp(out, data, size) == 0);
	free(out);
	manifest_free(&m);
}

static void check_call(const uint8_t *data, size_t size)
{
	struct policy all, p;
	uint64_t args[6];
	int32_t nr;
	const char *want, *missing;
	int allowed;

	if (size < 4 + sizeof args + 4)
		return;
	memcpy(&nr, data, 4);
	memcpy(args, data + 4, sizeof args);
	policy_init(&all);
	all.promises = PROMISE_BIT(NPROMISE) - 1;
	policy_init(&p);
	memcpy(&p.promises, data + 4 + sizeof args, 4);
	p.promises &= PROMISE_BIT(NPROMISE) - 1;

	want = policy_promise_for(nr, args);
	allowed = policy_allows(&p, nr, args);
	missing = policy_missing(&p, nr, args);
	CHECK(!want || promise_lookup(want, strlen(want)) >= 0);
	/* A call some promise opens is open to all of them together. */
	if (want)
		CHECK(policy_allows(&all, nr, args));
	if (allowed) {
		CHECK(missing == NULL);
		CHECK(policy_allows(&all, nr, args));
		CHECK(policy_allows_tmp(&p, nr, args));
	} else if (missing) {
		CHECK(promise_lookup(missing, strlen(missing)) >= 0);
		CHECK(!(p.promises & PROMISE_BIT(promise_lookup(missing, strlen(missing)))));
	} else {
		CHECK(!policy_allows(&all, nr, args));
	}
	if (!policy_path_args(nr))
		CHECK(policy_allows_tmp(&p, nr, args) == allowed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_dunefile(data, size);
	check_policy_text(data, size);
	check_manifest_text(data, size);
	check_call(data, size);
	return 0;
}
