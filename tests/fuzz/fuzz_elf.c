/*
 * fuzz_elf: libFuzzer harness for elf_parse and stack_build.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I include -I loader \
 *	    loader/elf.c loader/stack.c tests/fuzz/fuzz_elf.c -o /tmp/fuzz_elf
 *	/tmp/fuzz_elf -max_total_time=300 tests/fuzz/corpus/elf
 *
 * The input is the file.  Whatever elf_parse accepts must satisfy what
 * loader.h promises, since the launcher maps it without checking again;
 * a refusal must come with a one-line printable reason.  The input's last
 * bytes also choose a stack size and an extra argument for stack_build,
 * whose result is decoded back.  Any broken promise aborts.
 */
#include <ctype.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "dunerun/abi.h"
#include "loader.h"


static void check_image(const uint8_t *data, size_t size,
			const struct elf_image *img)
{
	Elf64_Ehdr eh;
	int i, entry_ok = 0, phdr_ok = 0;
	volatile uint8_t sink = 0;

	CHECK(size >= sizeof eh);
	memcpy(&eh, data, sizeof eh);
	CHECK(img->nseg >= 1 && img->nseg <= ELF_MAX_SEGS);
	CHECK(img->phnum == eh.e_phnum && img->phentsize == sizeof(Elf64_Phdr));
	CHECK(eh.e_phoff <= size &&
	      (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) <= size - eh.e_phoff);
	CHECK(img->pie == (eh.e_type == ET_DYN));
	CHECK(img->entry == eh.e_entry);
	CHECK(img->lo % 4096 == 0 && img->hi % 4096 == 0);
	CHECK(img->lo < img->hi && img->hi <= USER_MMAP_TOP);
	CHECK(img->stack_exec == 0 || img->stack_exec == 1);

	for (i = 0; i < img->nseg; i++) {
		const struct elf_seg *s = &img->seg[i];

		CHECK(s->memsz > 0 && s->filesz <= s->memsz);
		CHECK(s->offset <= size && s->filesz <= size - s->offset);
		CHECK(s->vaddr >= img->lo && s->vaddr < img->hi);
		CHECK(s->memsz <= img->hi - s->vaddr);
		CHECK(s->vaddr % 4096 == s->offset % 4096);
		CHECK((s->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) == 0);
		if (!img->pie)
			CHECK(s->vaddr >= 0x10000);
		if (i > 0)
			CHECK(s->vaddr >= img->seg[i - 1].vaddr +
					  img->seg[i - 1].memsz);
		if ((s->prot & PROT_EXEC) && img->entry >= s->vaddr &&
		    img->entry - s->vaddr < s->memsz)
			entry_ok = 1;
		if (img->phdr_vaddr >= s->vaddr &&
		    img->phdr_vaddr - s->vaddr <= s->filesz &&
		    (uint64_t)img->phnum * img->phentsize <=
		    s->filesz - (img->phdr_vaddr - s->vaddr))
			phdr_ok = 1;
		/* What the launcher will copy must be readable. */
		if (s->filesz) {
			sink ^= data[s->offset];
			sink ^= data[s->offset + s->filesz - 1];
		}
	}
	(void)sink;
	CHECK(entry_ok);
	CHECK(img->phdr_vaddr == 0 || phdr_ok);
	CHECK(img->lo == (img->seg[0].vaddr & ~4095ULL));
}


static uint64_t rd(const uint8_t *buf, size_t len, uint64_t top, uint64_t a)
{
	uint64_t v;

	CHECK(a >= top - len && a <= top - 8);
	memcpy(&v, buf + (a - (top - len)), 8);
	return v;
}

static void check_str(const uint8_t *buf, size_t len, uint64_t top,
		      uint64_t a, const char *want)
{
	size_t n = strlen(want) + 1;

	CHECK(a >= top - len && a < top && n <= top - a);
	CHECK(memcmp(buf + (a - (top - len)), want, n) == 0);
}

static void check_stack(const uint8_t *data, size_t size,
			const struct elf_image *img)
{
	char extra[64];
	char *argv[] = { "prog", extra, "-x", NULL };
	char *envp[] = { "PATH=/bin", extra, NULL };
	struct stack_aux aux;
	uint64_t top, rsp, p, type, val;
	size_t len, n, i;
	uint8_t *buf;
	int have_random = 0;

	/* The last bytes: a stack of 0..2047 bytes, a top at any offset
	 * mod 16, and an argument of up to 63 bytes before them. */
	len = size >= 2 ? ((size_t)data[size - 1] << 3 | data[size - 2] >> 5) : 512;
	top = USER_STACK_TOP - (size ? data[size - 1] % 16 : 0);
	n = size > 2 ? size - 2 : 0;
	if (n > sizeof extra - 1)
		n = sizeof extra - 1;
	for (i = 0; i < n; i++)
		extra[i] = data[size - 3 - i] ? (char)data[size - 3 - i] : '.';
	extra[n] = 0;

	memset(&aux, 0, sizeof aux);
	aux.phdr = img->phdr_vaddr;
	aux.phent = img->phentsize;
	aux.phnum = img->phnum;
	aux.entry = img->entry;
	aux.pagesz = 4096;
	aux.clktck = 100;
	memset(aux.random, 0x42, sizeof aux.random);
	aux.execfn = "/usr/bin/prog";
	aux.platform = "x86_64";

	buf = malloc(len ? len : 1);
	CHECK(buf);
	rsp = stack_build(buf, len, top, argv, envp, &aux);
	if (rsp == 0) {
		free(buf);
		return;
	}
	CHECK(rsp % 16 == 0 && rsp >= top - len && rsp < top);
	CHECK(rd(buf, len, top, rsp) == 3);
	for (i = 0; i < 3; i++)
		check_str(buf, len, top, rd(buf, len, top, rsp + 8 + 8 * i), argv[i]);
	CHECK(rd(buf, len, top, rsp + 32) == 0);
	check_str(buf, len, top, rd(buf, len, top, rsp + 40), envp[0]);
	check_str(buf, len, top, rd(buf, len, top, rsp + 48), envp[1]);
	CHECK(rd(buf, len, top, rsp + 56) == 0);
	for (p = rsp + 64;; p += 16) {
		type = rd(buf, len, top, p);
		val = rd(buf, len, top, p + 8);
		if (type == AT_NULL)
			break;
		if (type == AT_ENTRY)
			CHECK(val == aux.entry);
		if (type == AT_PHDR)
			CHECK(val == aux.phdr);
		if (type == AT_EXECFN)
			check_str(buf, len, top, val, aux.execfn);
		if (type == AT_PLATFORM)
			check_str(buf, len, top, val, aux.platform);
		if (type == AT_RANDOM) {
			CHECK(val >= top - len && val <= top - 16);
			CHECK(memcmp(buf + (val - (top - len)), aux.random, 16) == 0);
			have_random = 1;
		}
	}
	CHECK(have_random);
	CHECK(rd(buf, len, top, top - 8) == 0);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image img;
	char err[160];

	memset(err, 0, sizeof err);
	if (elf_parse(data, size, &img, err, sizeof err) == 0) {
		check_image(data, size, &img);
		check_stack(data, size, &img);
	} else {
		check_err(err, sizeof err);
	}
	return 0;
}
