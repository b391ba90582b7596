/*
 * test_loader: unit tests for loader/elf.c and loader/stack.c.
 *
 *	cc -O1 -g -fsanitize=address,undefined -I include -I loader \
 *	    loader/elf.c loader/stack.c tests/unit/test_loader.c -o test_loader
 *	test_loader [-s STATIC]... [-d DYNAMIC]...
 *
 * e.g. test_loader -s /bin/busybox -d /bin/ls (busybox from Debian's
 * busybox-static).
 *
 * -s names a real static executable that must parse (a plain path means
 * the same); -d names a dynamically linked one, whose interpreter must be
 * found.
 * Without arguments only the built-in checks run: ELF files built in
 * memory, valid and malformed, and stacks decoded back.
 *
 * Every buffer handed to the code under test is malloc'd at exactly its
 * length, so that ASan reports a read one byte past it.
 *
 * Prints one line per check and ends with "N passed, N failed".
 */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "dunerun/abi.h"
#include "loader.h"



/* ---- ELF files built in memory --------------------------------------- */

#define MAXPH 40

/* A file: its ELF header, its program headers (written at e_phoff) and
 * its total size.  Segment bytes other than the headers are zero. */
struct mk {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAXPH];
	size_t size;
};

static Elf64_Phdr phdr(uint32_t type, uint32_t flags, uint64_t off,
		       uint64_t vaddr, uint64_t filesz, uint64_t memsz)
{
	Elf64_Phdr p = {
		.p_type = type, .p_flags = flags, .p_offset = off,
		.p_vaddr = vaddr, .p_paddr = vaddr, .p_filesz = filesz,
		.p_memsz = memsz, .p_align = 0x1000,
	};
	return p;
}

/* The smallest sensible static executable: headers and code in an R+X
 * segment, data and bss in an RW one. */
static struct mk base_exec(void)
{
	struct mk m;

	memset(&m, 0, sizeof m);
	memcpy(m.eh.e_ident, ELFMAG, SELFMAG);
	m.eh.e_ident[EI_CLASS] = ELFCLASS64;
	m.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m.eh.e_ident[EI_VERSION] = EV_CURRENT;
	m.eh.e_type = ET_EXEC;
	m.eh.e_machine = EM_X86_64;
	m.eh.e_version = EV_CURRENT;
	m.eh.e_entry = 0x400100;
	m.eh.e_phoff = sizeof(Elf64_Ehdr);
	m.eh.e_ehsize = sizeof(Elf64_Ehdr);
	m.eh.e_phentsize = sizeof(Elf64_Phdr);
	m.eh.e_phnum = 3;
	m.ph[0] = phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x1000, 0x1000);
	m.ph[1] = phdr(PT_LOAD, PF_R | PF_W, 0x1000, 0x401000, 0x100, 0x2000);
	m.ph[2] = phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0);
	m.size = 0x1100;
	return m;
}

/* The same, as a static-pie linked at 0. */
static struct mk base_pie(void)
{
	struct mk m = base_exec();

	m.eh.e_type = ET_DYN;
	m.eh.e_entry = 0x100;
	m.ph[0].p_vaddr = 0;
	m.ph[1].p_vaddr = 0x1000;
	return m;
}

/* Serialises m into a fresh buffer of exactly m->size bytes.  Program
 * headers that would fall outside the file are cut off. */
static uint8_t *render(const struct mk *m)
{
	uint8_t *d = calloc(1, m->size ? m->size : 1);
	size_t i, off;

	if (!d) {
		perror("calloc");
		exit(2);
	}
	memcpy(d, &m->eh, m->size < sizeof m->eh ? m->size : sizeof m->eh);
	for (i = 0; i < m->eh.e_phnum && i < MAXPH; i++) {
		off = m->eh.e_phoff + i * sizeof(Elf64_Phdr);
		if (m->eh.e_phoff > m->size || off + sizeof(Elf64_Phdr) > m->size)
			break;
		memcpy(d + off, &m->ph[i], sizeof(Elf64_Phdr));
	}
	return d;
}

static int parse(const struct mk *m, struct elf_image *img, char *err,
		 size_t errlen)
{
	uint8_t *d = render(m);
	int r;

	err[0] = 0;
	r = elf_parse(d, m->size, img, err, errlen);
	free(d);
	return r;
}

/* A reason must be one line that starts lower-case and says what. */
static int good_msg(const char *err)
{
	return err[0] && islower((unsigned char)err[0]) && !strchr(err, '\n');
}

static void expect_ok(const char *what, const struct mk *m, struct elf_image *img)
{
	char err[256];
	int r = parse(m, img, err, sizeof err);

	check(r == 0, "accept %s%s%s", what, r ? ": " : "", r ? err : "");
}

static void expect_fail(const char *what, const struct mk *m, const char *want)
{
	struct elf_image img;
	char err[256];
	int r = parse(m, &img, err, sizeof err);

	check(r == -1 && good_msg(err) && strstr(err, want),
	      "reject %s: \"%s\"", what, err);
}

static void test_valid(void)
{
	struct elf_image img;
	struct mk m;
	int i;

	m = base_exec();
	expect_ok("minimal ET_EXEC", &m, &img);
	check(img.pie == 0 && img.entry == 0x400100 && img.nseg == 2 &&
	      img.lo == 0x400000 && img.hi == 0x403000 &&
	      img.phnum == 3 && img.phentsize == 56 && img.stack_exec == 0,
	      "minimal ET_EXEC: pie %d entry 0x%llx nseg %d lo 0x%llx hi 0x%llx",
	      img.pie, (unsigned long long)img.entry, img.nseg,
	      (unsigned long long)img.lo, (unsigned long long)img.hi);
	check(img.seg[0].prot == (PROT_READ | PROT_EXEC) &&
	      img.seg[1].prot == (PROT_READ | PROT_WRITE) &&
	      img.seg[1].filesz == 0x100 && img.seg[1].memsz == 0x2000 &&
	      img.seg[1].offset == 0x1000,
	      "minimal ET_EXEC: segment fields and protections");
	check(img.phdr_vaddr == 0x400040,
	      "phdr_vaddr found through the segment holding e_phoff: 0x%llx",
	      (unsigned long long)img.phdr_vaddr);

	m = base_pie();
	expect_ok("static-pie (ET_DYN, no PT_INTERP)", &m, &img);
	check(img.pie == 1 && img.lo == 0 && img.hi == 0x3000 &&
	      img.phdr_vaddr == 0x40 && img.entry == 0x100,
	      "static-pie: pie %d lo 0x%llx hi 0x%llx phdr 0x%llx", img.pie,
	      (unsigned long long)img.lo, (unsigned long long)img.hi,
	      (unsigned long long)img.phdr_vaddr);

	m = base_exec();
	m.ph[3] = m.ph[2];
	m.ph[2] = phdr(PT_PHDR, PF_R, 0x40, 0x400040, 4 * 56, 4 * 56);
	m.eh.e_phnum = 4;
	expect_ok("PT_PHDR", &m, &img);
	check(img.phdr_vaddr == 0x400040, "phdr_vaddr from PT_PHDR");

	/* Headers in no segment: nothing to point AT_PHDR at. */
	m = base_exec();
	m.eh.e_phoff = 0x1100;
	m.size = 0x1100 + 3 * 56;
	expect_ok("program headers outside every segment", &m, &img);
	check(img.phdr_vaddr == 0, "phdr_vaddr 0 when headers are not loaded");

	m = base_exec();
	m.ph[2].p_flags = PF_R | PF_W | PF_X;
	expect_ok("PT_GNU_STACK with PF_X", &m, &img);
	check(img.stack_exec == 1, "stack_exec set by PT_GNU_STACK PF_X");

	m = base_exec();
	m.eh.e_phnum = 2;
	expect_ok("no PT_GNU_STACK", &m, &img);
	check(img.stack_exec == 0, "stack_exec 0 without PT_GNU_STACK");

	m = base_exec();
	m.ph[0].p_flags = PF_R | PF_W | PF_X;
	expect_ok("W+X segment", &m, &img);
	check(img.seg[0].prot == (PROT_READ | PROT_WRITE | PROT_EXEC),
	      "W+X segment keeps its protection");

	/* GNU ld's layout: data starts on the page where text ends. */
	m = base_exec();
	m.ph[0].p_filesz = m.ph[0].p_memsz = 0x800;
	m.ph[1] = phdr(PT_LOAD, PF_R | PF_W, 0x800, 0x400800, 0x100, 0x2000);
	m.size = 0x900;
	expect_ok("segments sharing a boundary page", &m, &img);
	check(img.lo == 0x400000 && img.hi == 0x403000,
	      "shared page: lo 0x%llx hi 0x%llx", (unsigned long long)img.lo,
	      (unsigned long long)img.hi);

	m = base_exec();
	m.ph[0].p_align = 0;
	m.ph[1].p_align = 0x200000;
	expect_ok("p_align 0 and 2 MiB", &m, &img);

	m = base_exec();
	m.ph[3] = m.ph[2];
	m.ph[2] = phdr(PT_LOAD, PF_R, 0x1000, 0x500000, 0, 0);
	m.eh.e_phnum = 4;
	expect_ok("empty PT_LOAD", &m, &img);
	check(img.nseg == 2, "empty PT_LOAD is not a segment (nseg %d)", img.nseg);

	m = base_exec();
	for (i = 0; i < ELF_MAX_SEGS; i++)
		m.ph[i] = phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000 + i * 0x1000,
			       0x100, 0x100);
	m.eh.e_phnum = ELF_MAX_SEGS;
	m.eh.e_entry = 0x400010;
	m.size = 0x1000;
	expect_ok("ELF_MAX_SEGS segments", &m, &img);
	check(img.nseg == ELF_MAX_SEGS, "nseg %d", img.nseg);

	/* The last byte user space allows. */
	m = base_exec();
	m.ph[1].p_vaddr = USER_MMAP_TOP - 0x2000;
	expect_ok("segment ending at USER_MMAP_TOP", &m, &img);
	check(img.hi == USER_MMAP_TOP, "hi 0x%llx", (unsigned long long)img.hi);

	m = base_exec();
	m.eh.e_entry = 0x400fff;
	expect_ok("entry at the last byte of the text segment", &m, &img);
}

static void test_malformed(void)
{
	struct mk m;
	char want[80];
	int i;

	m = base_exec();
	m.eh.e_ident[0] = 0x7e;
	expect_fail("bad magic", &m, "bad magic");
	m = base_exec();
	m.size = 3;
	expect_fail("3-byte file", &m, "bad magic");
	m = base_exec();
	m.size = 63;
	expect_fail("63-byte file", &m, "truncated");

	m = base_exec();
	m.eh.e_ident[EI_CLASS] = ELFCLASS32;
	expect_fail("ELFCLASS32", &m, "64-bit");
	m = base_exec();
	m.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	expect_fail("big-endian", &m, "little-endian");
	m = base_exec();
	m.eh.e_ident[EI_VERSION] = 2;
	expect_fail("EI_VERSION 2", &m, "version");
	m = base_exec();
	m.eh.e_version = 0;
	expect_fail("e_version 0", &m, "version");
	m = base_exec();
	m.eh.e_machine = EM_AARCH64;
	expect_fail("aarch64", &m, "not x86-64 (e_machine 183)");
	m = base_exec();
	m.eh.e_type = ET_REL;
	expect_fail("ET_REL", &m, "relocatable");
	m = base_exec();
	m.eh.e_type = ET_CORE;
	expect_fail("ET_CORE", &m, "core");
	m = base_exec();
	m.eh.e_phentsize = 32;
	expect_fail("e_phentsize 32", &m, "program header size 32");
	m = base_exec();
	m.eh.e_phnum = 0;
	expect_fail("no program headers", &m, "no program headers");
	m = base_exec();
	m.eh.e_phnum = 0xfffe;
	expect_fail("huge phnum", &m, "truncated: program headers end");
	m = base_exec();
	m.eh.e_phnum = PN_XNUM;
	expect_fail("PN_XNUM", &m, "PN_XNUM");
	m = base_exec();
	m.eh.e_phoff = 0xffffffffffffffc0ULL;
	expect_fail("phoff overflowing with the table size", &m, "truncated");
	m = base_exec();
	m.eh.e_phoff = 0x1100;
	expect_fail("phoff at end of file", &m, "truncated");
	m = base_exec();
	m.eh.e_phoff = 0x1100 - 56;
	expect_fail("table crossing end of file", &m,
		    "program headers end at byte 4464 but the file has 4352 bytes");

	m = base_exec();
	m.ph[1].p_filesz = 0x2001;
	expect_fail("filesz > memsz", &m, "exceeds memory size");
	m = base_exec();
	m.ph[1].p_offset = 0x2000;
	expect_fail("offset beyond file", &m, "outside the file");
	/* Found by fuzz_elf: a bss-only segment's offset was not checked. */
	m = base_exec();
	m.ph[1].p_filesz = 0;
	m.ph[1].p_offset = 0x2000;
	expect_fail("bss-only segment with offset beyond file", &m,
		    "outside the file");
	m = base_exec();
	m.ph[1].p_filesz = 0x101;
	expect_fail("segment one byte past file", &m, "outside the file");
	m = base_exec();
	m.ph[1].p_offset = 0xfffffffffffff000ULL;
	m.ph[1].p_vaddr = 0x401000;
	expect_fail("offset+filesz overflow", &m, "outside the file");
	m = base_exec();
	m.ph[1].p_vaddr = 0xfffffffffffff000ULL;
	expect_fail("vaddr+memsz overflow", &m, "outside user space");
	m = base_exec();
	m.ph[1].p_vaddr = 0xffffffff80001000ULL;
	m.ph[1].p_memsz = 0x1000;
	expect_fail("kernel-half vaddr", &m, "outside user space");
	m = base_exec();
	m.ph[1].p_vaddr = USER_MMAP_TOP - 0x1000;
	expect_fail("segment crossing USER_MMAP_TOP", &m, "outside user space");
	m = base_pie();
	m.ph[1].p_memsz = 0xfffffffffffff000ULL;
	expect_fail("pie with a huge memsz", &m, "outside user space");
	m = base_exec();
	m.ph[0].p_vaddr = 0;
	m.ph[1].p_vaddr = 0x1000;
	m.eh.e_entry = 0x100;
	expect_fail("ET_EXEC at address 0", &m, "below");
	m = base_exec();
	m.ph[1].p_vaddr = 0x401010;
	expect_fail("vaddr and offset not congruent", &m, "modulo the page");

	m = base_exec();
	m.eh.e_entry = 0x401000;
	expect_fail("entry in a data segment", &m, "entry point 0x401000");
	m = base_exec();
	m.eh.e_entry = 0x400000 + 0x1000;
	expect_fail("entry one past the text segment", &m, "entry point");
	m = base_exec();
	m.eh.e_entry = 0;
	expect_fail("entry 0", &m, "entry point");
	m = base_pie();
	m.eh.e_entry = 0x9000;
	expect_fail("pie entry beyond the image", &m, "entry point");

	m = base_exec();
	m.ph[0].p_type = PT_NOTE;
	m.ph[1].p_type = PT_NOTE;
	expect_fail("no PT_LOAD", &m, "no loadable segments");
	m = base_exec();
	for (i = 0; i <= ELF_MAX_SEGS; i++)
		m.ph[i] = phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000 + i * 0x1000,
			       0x100, 0x100);
	m.eh.e_phnum = ELF_MAX_SEGS + 1;
	m.size = 0x1000;
	snprintf(want, sizeof want, "more than %d", ELF_MAX_SEGS);
	expect_fail("too many segments", &m, want);
	m = base_exec();
	m.ph[1].p_vaddr = 0x400000 + 0x1000 - 0x800;
	m.ph[1].p_offset = 0x800;
	expect_fail("overlapping segments", &m, "overlaps");
	m = base_exec();
	m.ph[1].p_vaddr = 0x300000;
	expect_fail("unsorted segments", &m, "overlaps or precedes");

	m = base_exec();
	m.ph[3] = m.ph[2];
	m.ph[2] = phdr(PT_PHDR, PF_R, 0x40, 0x500000, 4 * 56, 4 * 56);
	m.eh.e_phnum = 4;
	expect_fail("PT_PHDR outside every segment", &m, "PT_PHDR");
	m.ph[2].p_vaddr = 0x401100;
	expect_fail("PT_PHDR in bss", &m, "PT_PHDR");
	m.ph[2].p_vaddr = 0x400fff - 4 * 56 + 2;
	expect_fail("PT_PHDR crossing the end of a segment", &m, "PT_PHDR");

	m = base_exec();
	m.ph[2] = phdr(PT_INTERP, PF_R, 0x200, 0x400200, 26, 26);
	{
		uint8_t *d = render(&m);
		struct elf_image img;
		char err[256];
		int r;

		memcpy(d + 0x200, "/lib/ld-linux-x86-64.so.2", 26);
		r = elf_parse(d, m.size, &img, err, sizeof err);
		check(r == 0 && elf_interp(d, &img) &&
		      strcmp(elf_interp(d, &img), "/lib/ld-linux-x86-64.so.2") == 0 &&
		      img.interp_len == 26, "PT_INTERP names the interpreter");

		/* Linux takes the string up to its first NUL. */
		memcpy(d + 0x200, "/lib/ld\0junk", 12);
		r = elf_parse(d, m.size, &img, err, sizeof err);
		check(r == 0 && strcmp(elf_interp(d, &img), "/lib/ld") == 0 &&
		      img.interp_len == 8, "PT_INTERP cut at its first NUL");

		memset(d + 0x200, 'a', 26);
		r = elf_parse(d, m.size, &img, err, sizeof err);
		check(r == -1 && good_msg(err) && strstr(err, "PT_INTERP") &&
		      !strstr(err, "aaa"), "PT_INTERP without a NUL: \"%s\"", err);

		memset(d + 0x200, 0, 26);
		r = elf_parse(d, m.size, &img, err, sizeof err);
		check(r == -1 && strstr(err, "empty"), "PT_INTERP empty: \"%s\"", err);
		free(d);
	}
	m = base_exec();
	m.ph[2] = phdr(PT_INTERP, PF_R, 0x200, 0x400200, 0x100000, 0x100000);
	expect_fail("PT_INTERP outside the file", &m, "outside the file");
	m.ph[2].p_filesz = m.ph[2].p_memsz = 0x1001;
	m.ph[2].p_offset = 0;
	expect_fail("PT_INTERP longer than PATH_MAX", &m, "1 to 4095 bytes");
	m = base_pie();
	m.ph[2] = phdr(PT_INTERP, PF_R, 0x200, 0x200, 1, 1);
	expect_fail("ET_DYN with a 1-byte PT_INTERP", &m, "PT_INTERP");

	/* The reason is cut to fit, and err may be absent. */
	m = base_exec();
	m.eh.e_machine = EM_AARCH64;
	{
		uint8_t *d = render(&m);
		struct elf_image img;
		char err[8];
		int r;

		memset(err, 'x', sizeof err);
		r = elf_parse(d, m.size, &img, err, 5);
		check(r == -1 && strcmp(err, "not ") == 0 && err[5] == 'x',
		      "short err buffer: cut to \"%s\"", err);
		r = elf_parse(d, m.size, &img, NULL, 0);
		check(r == -1, "NULL err buffer");
		free(d);
	}
}

/* Every prefix of a valid file shorter than what its headers and segments
 * need is refused; every longer one is accepted. */
static void test_truncations(const char *name, const uint8_t *data, size_t size,
			     size_t maxlen)
{
	struct elf_image img;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	size_t need, n, i, bad = 0, lenient = 0;
	char err[256];

	memcpy(&eh, data, sizeof eh);
	need = eh.e_phoff + eh.e_phnum * sizeof ph;
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, data + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_LOAD && ph.p_filesz &&
		    ph.p_offset + ph.p_filesz > need)
			need = ph.p_offset + ph.p_filesz;
	}
	if (maxlen > size)
		maxlen = size;
	for (n = 0; n <= maxlen; n++) {
		uint8_t *d = malloc(n ? n : 1);
		int r;

		memcpy(d, data, n);
		r = elf_parse(d, n, &img, err, sizeof err);
		if (n < need && (r != -1 || !good_msg(err)))
			bad++;
		if (n >= need && r != 0)
			lenient++;
		free(d);
	}
	check(bad == 0 && lenient == 0,
	      "%s: every truncation to 0..%zu bytes (need %zu): %zu wrongly "
	      "accepted, %zu wrongly refused", name, maxlen, need, bad, lenient);
}

/* ---- Real executables ------------------------------------------------ */

static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (d = malloc(n ? n : 1)) &&
	    fread(d, 1, n, f) == (size_t)n) {
		*size = n;
	} else {
		free(d);
		d = NULL;
	}
	fclose(f);
	return d;
}

static void test_static_file(const char *path)
{
	struct elf_image img;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	char err[256];
	uint8_t *d;
	size_t size, i, loads = 0;
	int r, ok, x = 0;

	d = slurp(path, &size);
	if (!d) {
		check(0, "%s: %s", path, strerror(errno));
		return;
	}
	r = elf_parse(d, size, &img, err, sizeof err);
	check(r == 0, "%s: parses%s%s", path, r ? ": " : "", r ? err : "");
	if (r) {
		free(d);
		return;
	}

	/* Compare with the file, read independently. */
	memcpy(&eh, d, sizeof eh);
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, d + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_LOAD && ph.p_memsz)
			loads++;
		if (ph.p_type == PT_GNU_STACK)
			x = (ph.p_flags & PF_X) != 0;
	}
	check(img.pie == (eh.e_type == ET_DYN) && img.entry == eh.e_entry &&
	      (size_t)img.nseg == loads && img.phnum == eh.e_phnum &&
	      img.stack_exec == x,
	      "%s: %s, entry 0x%llx, %d segments, %u program headers", path,
	      img.pie ? "static-pie" : "static", (unsigned long long)img.entry,
	      img.nseg, img.phnum);
	check(img.lo % 4096 == 0 && img.hi % 4096 == 0 && img.lo < img.hi &&
	      img.lo <= img.entry && img.entry < img.hi &&
	      img.hi <= USER_MMAP_TOP,
	      "%s: span 0x%llx-0x%llx is page-aligned and holds the entry", path,
	      (unsigned long long)img.lo, (unsigned long long)img.hi);

	ok = 1;
	for (i = 0; i < (size_t)img.nseg; i++) {
		const struct elf_seg *s = &img.seg[i];
		ok &= s->filesz <= s->memsz && s->offset + s->filesz <= size &&
		      s->vaddr % 4096 == s->offset % 4096 &&
		      s->vaddr >= img.lo && s->vaddr + s->memsz <= img.hi &&
		      (i == 0 || s->vaddr >= img.seg[i - 1].vaddr + img.seg[i - 1].memsz);
	}
	check(ok, "%s: segments inside the file and sorted", path);

	/* AT_PHDR must point at a copy of the program headers. */
	ok = 0;
	for (i = 0; i < (size_t)img.nseg; i++) {
		const struct elf_seg *s = &img.seg[i];
		uint64_t off;
		if (img.phdr_vaddr < s->vaddr ||
		    img.phdr_vaddr - s->vaddr >= s->filesz)
			continue;
		off = s->offset + (img.phdr_vaddr - s->vaddr);
		ok = off + eh.e_phnum * sizeof ph <= s->offset + s->filesz &&
		     memcmp(d + off, d + eh.e_phoff, eh.e_phnum * sizeof ph) == 0;
	}
	check(ok, "%s: phdr_vaddr 0x%llx holds the program headers", path,
	      (unsigned long long)img.phdr_vaddr);

	test_truncations(path, d, size, 8192);
	/* And around the end of the last file bytes. */
	{
		uint64_t end = 0;
		int bad = 0;
		for (i = 0; i < (size_t)img.nseg; i++)
			if (img.seg[i].offset + img.seg[i].filesz > end)
				end = img.seg[i].offset + img.seg[i].filesz;
		for (i = end - 2; i <= end + 1 && i <= size; i++) {
			uint8_t *t = malloc(i);
			memcpy(t, d, i);
			r = elf_parse(t, i, &img, err, sizeof err);
			bad += (i < end) != (r == -1);
			free(t);
		}
		check(bad == 0, "%s: truncated around the end of the segments "
		      "(byte %llu)", path, (unsigned long long)end);
	}
	free(d);
}

static void test_dynamic_file(const char *path)
{
	struct elf_image img;
	char err[256];
	uint8_t *d;
	size_t size;
	int r;

	d = slurp(path, &size);
	if (!d) {
		check(0, "%s: %s", path, strerror(errno));
		return;
	}
	err[0] = 0;
	r = elf_parse(d, size, &img, err, sizeof err);
	check(r == 0 && elf_interp(d, &img) && elf_interp(d, &img)[0] == '/',
	      "%s: parses, interpreter %s", path, r == 0 && elf_interp(d, &img) ?
	      elf_interp(d, &img) : err);
	free(d);
}

/* ---- The initial stack ----------------------------------------------- */

/* Reads a guest address back through buf, which stands for
 * [top - len, top). */
static const uint8_t *at(const uint8_t *buf, size_t len, uint64_t top,
			 uint64_t addr, size_t n)
{
	if (addr < top - len || addr > top || n > top - addr)
		return NULL;
	return buf + (addr - (top - len));
}

static uint64_t u64(const uint8_t *buf, size_t len, uint64_t top, uint64_t addr)
{
	const uint8_t *p = at(buf, len, top, addr, 8);
	uint64_t v = 0;

	if (p)
		memcpy(&v, p, 8);
	return v;
}

/* Is there a string equal to want at addr, wholly inside buf? */
static int str_at(const uint8_t *buf, size_t len, uint64_t top, uint64_t addr,
		  const char *want)
{
	const uint8_t *p = at(buf, len, top, addr, strlen(want) + 1);

	return p && memcmp(p, want, strlen(want) + 1) == 0;
}

static struct stack_aux sample_aux(void)
{
	struct stack_aux a;
	int i;

	memset(&a, 0, sizeof a);
	a.phdr = 0x400040;
	a.phent = 56;
	a.phnum = 10;
	a.entry = 0x40ebf0;
	a.uid = 1000;
	a.euid = 1001;
	a.gid = 1002;
	a.egid = 1003;
	a.secure = 0;
	a.hwcap = 0x178bfbff;
	a.hwcap2 = 2;
	a.clktck = 100;
	a.pagesz = 4096;
	for (i = 0; i < 16; i++)
		a.random[i] = 0xa0 + i;
	a.execfn = "/bin/busybox";
	a.platform = "x86_64";
	return a;
}

/* Decodes the stack at rsp and compares it with what was asked for. */
static int decode(const uint8_t *buf, size_t len, uint64_t top, uint64_t rsp,
		  char *const argv[], char *const envp[],
		  const struct stack_aux *aux, char *why, size_t whylen)
{
	uint64_t p = rsp, argc, type, val, seen = 0;
	size_t i, n;

#define WHY(...) do { snprintf(why, whylen, __VA_ARGS__); return 0; } while (0)
	if (rsp % 16)
		WHY("rsp 0x%llx not 16-byte aligned", (unsigned long long)rsp);
	if (!at(buf, len, top, rsp, 8))
		WHY("rsp outside the buffer");
	if (u64(buf, len, top, top - 8) != 0)
		WHY("no zero end marker at top");
	for (n = 0; argv && argv[n]; n++)
		;
	argc = u64(buf, len, top, p);
	p += 8;
	if (argc != n)
		WHY("argc %llu, want %zu", (unsigned long long)argc, n);
	for (i = 0; i < n; i++, p += 8)
		if (!str_at(buf, len, top, u64(buf, len, top, p), argv[i]))
			WHY("argv[%zu] wrong", i);
	if (!at(buf, len, top, p, 8) || u64(buf, len, top, p) != 0)
		WHY("argv not NULL-terminated");
	p += 8;
	for (n = 0; envp && envp[n]; n++, p += 8)
		if (!str_at(buf, len, top, u64(buf, len, top, p), envp[n]))
			WHY("envp[%zu] wrong", n);
	if (!at(buf, len, top, p, 8) || u64(buf, len, top, p) != 0)
		WHY("envp not NULL-terminated");
	p += 8;
	for (;; p += 16) {
		if (!at(buf, len, top, p, 16))
			WHY("auxv runs off the buffer");
		type = u64(buf, len, top, p);
		val = u64(buf, len, top, p + 8);
		if (type == AT_NULL)
			break;
		if (type < 64)
			seen |= 1ULL << type;
		switch (type) {
		case AT_PHDR: if (val != aux->phdr) WHY("AT_PHDR"); break;
		case AT_PHENT: if (val != aux->phent) WHY("AT_PHENT"); break;
		case AT_PHNUM: if (val != aux->phnum) WHY("AT_PHNUM"); break;
		case AT_PAGESZ: if (val != aux->pagesz) WHY("AT_PAGESZ"); break;
		case AT_BASE: if (val != 0) WHY("AT_BASE"); break;
		case AT_FLAGS: if (val != 0) WHY("AT_FLAGS"); break;
		case AT_ENTRY: if (val != aux->entry) WHY("AT_ENTRY"); break;
		case AT_UID: if (val != aux->uid) WHY("AT_UID"); break;
		case AT_EUID: if (val != aux->euid) WHY("AT_EUID"); break;
		case AT_GID: if (val != aux->gid) WHY("AT_GID"); break;
		case AT_EGID: if (val != aux->egid) WHY("AT_EGID"); break;
		case AT_SECURE: if (val != aux->secure) WHY("AT_SECURE"); break;
		case AT_HWCAP: if (val != aux->hwcap) WHY("AT_HWCAP"); break;
		case AT_HWCAP2: if (val != aux->hwcap2) WHY("AT_HWCAP2"); break;
		case AT_CLKTCK: if (val != aux->clktck) WHY("AT_CLKTCK"); break;
		case AT_RANDOM: {
			const uint8_t *r = at(buf, len, top, val, 16);
			if (!r || memcmp(r, aux->random, 16) != 0)
				WHY("AT_RANDOM bytes");
			break;
		}
		case AT_PLATFORM:
			if (!aux->platform ||
			    !str_at(buf, len, top, val, aux->platform))
				WHY("AT_PLATFORM");
			break;
		case AT_EXECFN:
			if (!aux->execfn || !str_at(buf, len, top, val, aux->execfn))
				WHY("AT_EXECFN");
			/* Linux puts it just under the end marker. */
			if (val + strlen(aux->execfn) + 1 != top - 8)
				WHY("AT_EXECFN not at the top");
			break;
		default:
			WHY("unexpected auxv type %llu", (unsigned long long)type);
		}
	}
	n = (1ULL << AT_PHDR) | (1ULL << AT_PHENT) | (1ULL << AT_PHNUM) |
	    (1ULL << AT_PAGESZ) | (1ULL << AT_BASE) | (1ULL << AT_FLAGS) |
	    (1ULL << AT_ENTRY) | (1ULL << AT_UID) | (1ULL << AT_EUID) |
	    (1ULL << AT_GID) | (1ULL << AT_EGID) | (1ULL << AT_SECURE) |
	    (1ULL << AT_RANDOM) | (1ULL << AT_HWCAP) | (1ULL << AT_HWCAP2) |
	    (1ULL << AT_CLKTCK) |
	    (aux->platform ? 1ULL << AT_PLATFORM : 0) |
	    (aux->execfn ? 1ULL << AT_EXECFN : 0);
	if (seen != n)
		WHY("auxv entries 0x%llx, want 0x%llx", (unsigned long long)seen,
		    (unsigned long long)n);
#undef WHY
	return 1;
}

/* Builds a stack in a buffer of exactly len bytes and decodes it. */
static int try_stack(size_t len, uint64_t top, char *const argv[],
		     char *const envp[], const struct stack_aux *aux,
		     uint64_t *rsp, char *why, size_t whylen)
{
	uint8_t *buf = malloc(len ? len : 1);
	int ok;

	memset(buf, 0x5a, len);
	*rsp = stack_build(buf, len, top, argv, envp, aux);
	ok = *rsp && decode(buf, len, top, *rsp, argv, envp, aux, why, whylen);
	if (!*rsp)
		snprintf(why, whylen, "did not fit");
	free(buf);
	return ok;
}

static void test_stack(void)
{
	char *argv[] = { "busybox", "sh", "-c", "echo hi", NULL };
	char *envp[] = { "PATH=/bin", "HOME=/", "A=", NULL };
	char *none[] = { NULL };
	struct stack_aux aux = sample_aux();
	uint64_t rsp, top = USER_STACK_TOP;
	size_t len, need = 0, fits = 0;
	char why[128];
	int ok, bad;

	ok = try_stack(4096, top, argv, envp, &aux, &rsp, why, sizeof why);
	check(ok, "stack: argv, envp and auxv decode back (rsp 0x%llx, %llu "
	      "bytes)%s%s", (unsigned long long)rsp,
	      (unsigned long long)(top - rsp), ok ? "" : ": ", ok ? "" : why);

	/* Every top alignment gives an aligned rsp. */
	bad = 0;
	for (len = 0; len < 16; len++)
		bad += !try_stack(4096, top - len, argv, envp, &aux, &rsp, why,
				  sizeof why);
	check(!bad, "stack: rsp aligned for tops at every offset mod 16");

	ok = try_stack(4096, top, none, none, &aux, &rsp, why, sizeof why);
	check(ok, "stack: empty argv and envp%s%s", ok ? "" : ": ", ok ? "" : why);
	ok = try_stack(4096, top, NULL, NULL, &aux, &rsp, why, sizeof why);
	check(ok, "stack: NULL argv and envp%s%s", ok ? "" : ": ", ok ? "" : why);

	aux.platform = NULL;
	aux.execfn = NULL;
	ok = try_stack(4096, top, argv, envp, &aux, &rsp, why, sizeof why);
	check(ok, "stack: no platform or execfn leaves their entries out%s%s",
	      ok ? "" : ": ", ok ? "" : why);
	aux = sample_aux();

	/* Find the smallest buffer that fits, then every smaller one must
	 * give 0 without touching memory outside (ASan watches). */
	for (len = 0; len < 4096; len++) {
		uint8_t *buf = malloc(len ? len : 1);
		rsp = stack_build(buf, len, top, argv, envp, &aux);
		free(buf);
		if (rsp && !need)
			need = len;
		if (!rsp && need)
			fits++;
	}
	check(need > 0 && fits == 0, "stack: every buffer under %zu bytes is "
	      "refused, every larger one fits", need);
	check(try_stack(need, top, argv, envp, &aux, &rsp, why, sizeof why),
	      "stack: the smallest buffer decodes back");

	check(stack_build(NULL, 0, top, argv, envp, &aux) == 0,
	      "stack: zero-length buffer refused");
	{
		uint8_t buf[256];
		check(stack_build(buf, sizeof buf, 100, argv, envp, &aux) == 0,
		      "stack: buffer larger than top refused");
	}

	/* Many arguments: fits in a big buffer, refused by a smaller one. */
	{
		enum { N = 5000 };
		char **many = malloc((N + 1) * sizeof *many);
		size_t i;
		for (i = 0; i < N; i++)
			many[i] = i % 2 ? "x" : "argument";
		many[N] = NULL;
		ok = try_stack(256 * 1024, top, many, envp, &aux, &rsp, why,
			       sizeof why);
		check(ok, "stack: %d arguments decode back%s%s", N,
		      ok ? "" : ": ", ok ? "" : why);
		{
			uint8_t *buf = malloc(40000);
			check(stack_build(buf, 40000, top, many, many, &aux) == 0,
			      "stack: %d arguments and %d variables do not fit "
			      "in 40000 bytes", N, N);
			free(buf);
		}
		free(many);
	}

	/* One string longer than the buffer. */
	{
		size_t n = 1 << 20;
		char *big = malloc(n + 1);
		char *bigv[] = { big, NULL };
		uint8_t *buf = malloc(65536);
		memset(big, 'z', n);
		big[n] = 0;
		check(stack_build(buf, 65536, top, bigv, NULL, &aux) == 0,
		      "stack: a 1 MiB argument does not fit in 64 KiB");
		check(stack_build(buf, 65536, top, NULL, bigv, &aux) == 0,
		      "stack: a 1 MiB variable does not fit in 64 KiB");
		aux.execfn = big;
		check(stack_build(buf, 65536, top, NULL, NULL, &aux) == 0,
		      "stack: a 1 MiB execfn does not fit in 64 KiB");
		aux = sample_aux();
		free(buf);
		free(big);
	}
}

int main(int argc, char **argv)
{
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_valid();
	test_malformed();
	{
		struct mk m = base_exec();
		uint8_t *d = render(&m);
		test_truncations("minimal ET_EXEC", d, m.size, m.size);
		free(d);
	}
	test_stack();

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			test_dynamic_file(argv[++i]);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			test_static_file(argv[++i]);
		else
			test_static_file(argv[i]);
	}

	return check_summary();
}
