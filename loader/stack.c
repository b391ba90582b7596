/*
 * stack_build: the initial process stack of the System V x86-64 ABI, laid
 * out as Linux's execve does (fs/exec.c, fs/binfmt_elf.c) but for the order
 * of the random bytes and the platform string, which nothing relies on.
 * From the top:
 *
 *	8 zero bytes            end marker
 *	execfn string
 *	envp strings, argv strings (argv[0] lowest)
 *	16 AT_RANDOM bytes
 *	platform string
 *	padding                 so that rsp ends 16-byte aligned
 *	auxv pairs, AT_NULL
 *	envp pointers, NULL
 *	argv pointers, NULL
 *	argc                    <- rsp
 *
 * The stack is built down from the end of buf.  "pos" is the offset in buf
 * of the lowest byte placed so far; every step checks that what it adds
 * fits below pos before moving it, so no size can wrap.
 */
#include <elf.h>
#include <string.h>

#include "loader.h"

/* Pairs in the auxiliary vector, counting AT_NULL. */
#define AUXV_MAX 20

/* Reserves n bytes below *pos.  Returns 0 if they do not fit. */
static int take(size_t *pos, size_t n)
{
	if (n > *pos)
		return 0;
	*pos -= n;
	return 1;
}

/* Places a NUL-terminated string below *pos. */
static int put_str(uint8_t *buf, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (n == SIZE_MAX || !take(pos, n + 1))
		return 0;
	memcpy(buf + *pos, s, n + 1);
	return 1;
}

static void put_u64(uint8_t *buf, size_t pos, uint64_t v)
{
	memcpy(buf + pos, &v, sizeof v);
}

/* Counts a NULL-terminated pointer array; a NULL array is empty. */
static size_t count(char *const v[])
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

uint64_t stack_build(uint8_t *buf, size_t buflen, uint64_t top,
		     char *const argv[], char *const envp[],
		     const struct stack_aux *aux)
{
	uint64_t base, auxv[AUXV_MAX * 2], execfn = 0, platform = 0, rnd;
	size_t pos = buflen, argc, envc, words, strs, i, n;
	size_t a = 0;

	if (buflen > top)
		return 0;
	base = top - buflen;    /* guest address of buf[0] */

	if (!take(&pos, 8))
		return 0;
	memset(buf + pos, 0, 8);
	if (aux->execfn) {
		if (!put_str(buf, &pos, aux->execfn))
			return 0;
		execfn = base + pos;
	}

	/* Strings go in backwards so that they read forwards in memory. */
	argc = count(argv);
	envc = count(envp);
	for (i = envc; i > 0; i--)
		if (!put_str(buf, &pos, envp[i - 1]))
			return 0;
	for (i = argc; i > 0; i--)
		if (!put_str(buf, &pos, argv[i - 1]))
			return 0;
	strs = pos;

	if (!take(&pos, sizeof aux->random))
		return 0;
	memcpy(buf + pos, aux->random, sizeof aux->random);
	rnd = base + pos;
	if (aux->platform) {
		if (!put_str(buf, &pos, aux->platform))
			return 0;
		platform = base + pos;
	}

	/* A missing string leaves its entry out, as Linux does for
	 * AT_PLATFORM on machines that have none. */
	auxv[a++] = AT_PHDR;    auxv[a++] = aux->phdr;
	auxv[a++] = AT_PHENT;   auxv[a++] = aux->phent;
	auxv[a++] = AT_PHNUM;   auxv[a++] = aux->phnum;
	auxv[a++] = AT_PAGESZ;  auxv[a++] = aux->pagesz;
	auxv[a++] = AT_BASE;    auxv[a++] = aux->base;
	auxv[a++] = AT_FLAGS;   auxv[a++] = 0;
	auxv[a++] = AT_ENTRY;   auxv[a++] = aux->entry;
	auxv[a++] = AT_UID;     auxv[a++] = aux->uid;
	auxv[a++] = AT_EUID;    auxv[a++] = aux->euid;
	auxv[a++] = AT_GID;     auxv[a++] = aux->gid;
	auxv[a++] = AT_EGID;    auxv[a++] = aux->egid;
	auxv[a++] = AT_SECURE;  auxv[a++] = aux->secure;
	auxv[a++] = AT_RANDOM;  auxv[a++] = rnd;
	auxv[a++] = AT_HWCAP;   auxv[a++] = aux->hwcap;
	auxv[a++] = AT_HWCAP2;  auxv[a++] = aux->hwcap2;
	auxv[a++] = AT_CLKTCK;  auxv[a++] = aux->clktck;
	if (aux->platform) {
		auxv[a++] = AT_PLATFORM;
		auxv[a++] = platform;
	}
	if (aux->sysinfo_ehdr) {
		auxv[a++] = AT_SYSINFO_EHDR;
		auxv[a++] = aux->sysinfo_ehdr;
	}
	if (aux->execfn) {
		auxv[a++] = AT_EXECFN;
		auxv[a++] = execfn;
	}
	auxv[a++] = AT_NULL;    auxv[a++] = 0;

	/* argc, argv and its NULL, envp and its NULL, then auxv.  argc and
	 * envc count pointers held in memory, so neither is near SIZE_MAX,
	 * but the sum is checked against the room left all the same. */
	n = pos / 8;
	if (argc > n || envc > n - argc || a + 3 > n - argc - envc)
		return 0;
	words = 1 + argc + 1 + envc + 1 + a;

	/* The ABI wants rsp 16-byte aligned at process entry. */
	n = (base + pos - words * 8) % 16;
	if (!take(&pos, n))
		return 0;
	memset(buf + pos, 0, n);
	if (!take(&pos, words * 8))
		return 0;
	if (base + pos == 0)
		return 0;

	n = pos;
	put_u64(buf, n, argc);
	n += 8;
	for (i = 0; i < argc; i++, n += 8) {
		put_u64(buf, n, base + strs);
		strs += strlen(argv[i]) + 1;
	}
	put_u64(buf, n, 0);
	n += 8;
	for (i = 0; i < envc; i++, n += 8) {
		put_u64(buf, n, base + strs);
		strs += strlen(envp[i]) + 1;
	}
	put_u64(buf, n, 0);
	n += 8;
	memcpy(buf + n, auxv, a * 8);
	return base + pos;
}
