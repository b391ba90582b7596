/*
 * elf_parse: validate an ELF64 x86-64 executable and describe its PT_LOAD
 * segments and its interpreter.  The file comes from the user and is not trusted: every
 * offset and size is checked against the buffer before use, and every sum
 * is checked for overflow before it is compared.
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "dunerun/abi.h"
#include "loader.h"

#define PAGE 4096ULL

/* A program image must end below the region kept for the stack, mmap and
 * the entry page, also when it is not relocated (ET_EXEC). */
#define USER_TOP ((uint64_t)USER_MMAP_TOP)

/* Linux refuses fixed mappings below vm.mmap_min_addr (64 KiB by default)
 * so that a NULL pointer always faults; an ET_EXEC that asks for them is
 * refused here too. */
#define USER_BOTTOM 0x10000ULL

/* Linux's bound on a PT_INTERP string (binfmt_elf.c). */
#define INTERP_MAX 4096

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *type_name(unsigned t)
{
	switch (t) {
	case ET_NONE: return "no file type";
	case ET_REL: return "relocatable object";
	case ET_CORE: return "core dump";
	default: return "unknown type";
	}
}

/* The first PT_INTERP, as Linux takes it: its bytes inside the file, at
 * most INTERP_MAX, ending in the NUL that ends the path, and the path not
 * empty. */
static int find_interp(const uint8_t *data, size_t size, const Elf64_Phdr *ph,
		       struct elf_image *out, char *err, size_t errlen)
{
	if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		return fail(err, errlen, "the interpreter path (PT_INTERP) lies "
			    "outside the file");
	if (ph->p_filesz < 2 || ph->p_filesz > INTERP_MAX ||
	    data[ph->p_offset + ph->p_filesz - 1] != 0)
		return fail(err, errlen, "the interpreter path (PT_INTERP) is not "
			    "a string of 1 to %d bytes", INTERP_MAX - 1);
	out->interp_off = ph->p_offset;
	out->interp_len = strlen((const char *)data + ph->p_offset) + 1;
	if (out->interp_len == 1)
		return fail(err, errlen, "the interpreter path (PT_INTERP) is empty");
	return 0;
}

static int to_prot(uint32_t flags)
{
	return (flags & PF_R ? PROT_READ : 0) |
	       (flags & PF_W ? PROT_WRITE : 0) |
	       (flags & PF_X ? PROT_EXEC : 0);
}

int elf_parse(const uint8_t *data, size_t size, struct elf_image *out,
	      char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t phsize, end;
	int i, have_phdr = 0, exec_entry = 0;

	memset(out, 0, sizeof *out);

	if (size < SELFMAG || memcmp(data, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, "not an ELF file (bad magic)");
	if (size < sizeof eh)
		return fail(err, errlen, "truncated: the ELF header needs %zu bytes "
			    "but the file has %zu", sizeof eh, size);
	memcpy(&eh, data, sizeof eh);

	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return fail(err, errlen, "not a 64-bit ELF file (class %u)",
			    eh.e_ident[EI_CLASS]);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, "not little-endian (data encoding %u)",
			    eh.e_ident[EI_DATA]);
	if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
		return fail(err, errlen, "unknown ELF version %u/%u",
			    eh.e_ident[EI_VERSION], (unsigned)eh.e_version);
	if (eh.e_machine != EM_X86_64)
		return fail(err, errlen, "not x86-64 (e_machine %u)",
			    (unsigned)eh.e_machine);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return fail(err, errlen, "not an executable (e_type %u: %s)",
			    (unsigned)eh.e_type, type_name(eh.e_type));
	if (eh.e_phentsize != sizeof ph)
		return fail(err, errlen, "bad program header size %u (expected %zu)",
			    (unsigned)eh.e_phentsize, sizeof ph);
	if (eh.e_phnum == 0)
		return fail(err, errlen, "no program headers");
	/* PN_XNUM moves the real count into section header 0; no static
	 * executable needs 65535 program headers, so we do not follow it. */
	if (eh.e_phnum == PN_XNUM)
		return fail(err, errlen, "too many program headers (PN_XNUM)");

	/* phnum < 2^16 and phentsize is 56, so phsize cannot overflow. */
	phsize = (uint64_t)eh.e_phnum * sizeof ph;
	if (eh.e_phoff > size)
		return fail(err, errlen, "truncated: program headers start at byte "
			    "%llu but the file has %zu bytes",
			    (unsigned long long)eh.e_phoff, size);
	if (phsize > size - eh.e_phoff)
		return fail(err, errlen, "truncated: program headers end at byte "
			    "%llu but the file has %zu bytes",
			    (unsigned long long)(eh.e_phoff + phsize), size);

	out->pie = eh.e_type == ET_DYN;
	out->entry = eh.e_entry;
	out->phnum = eh.e_phnum;
	out->phentsize = eh.e_phentsize;

	for (i = 0; i < eh.e_phnum; i++) {
		struct elf_seg *s;

		memcpy(&ph, data + eh.e_phoff + (size_t)i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_INTERP && !out->interp_len &&
		    find_interp(data, size, &ph, out, err, errlen) < 0)
			return -1;
		if (ph.p_type == PT_GNU_STACK)
			out->stack_exec = (ph.p_flags & PF_X) != 0;
		if (ph.p_type == PT_PHDR && !have_phdr) {
			out->phdr_vaddr = ph.p_vaddr;
			have_phdr = 1;
		}
		if (ph.p_type != PT_LOAD)
			continue;

		if (ph.p_filesz > ph.p_memsz)
			return fail(err, errlen, "program header %d: file size %llu "
				    "exceeds memory size %llu", i,
				    (unsigned long long)ph.p_filesz,
				    (unsigned long long)ph.p_memsz);
		/* Checked also for a segment with no file bytes (pure bss),
		 * so that data + offset always points into the file. */
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return fail(err, errlen, "program header %d: file bytes at "
				    "offset %llu size %llu lie outside the file "
				    "(%zu bytes)", i,
				    (unsigned long long)ph.p_offset,
				    (unsigned long long)ph.p_filesz, size);
		if (ph.p_vaddr >= USER_TOP || ph.p_memsz > USER_TOP - ph.p_vaddr)
			return fail(err, errlen, "program header %d: address 0x%llx "
				    "size 0x%llx is outside user space", i,
				    (unsigned long long)ph.p_vaddr,
				    (unsigned long long)ph.p_memsz);
		/* Linux maps segments from the file with mmap, which needs
		 * this; we hold programs to the same rule so that what runs
		 * here runs there.  p_align is not used: segments are placed
		 * at their own addresses, and a PIE's base is page-aligned. */
		if (ph.p_vaddr % PAGE != ph.p_offset % PAGE)
			return fail(err, errlen, "program header %d: address 0x%llx "
				    "and file offset 0x%llx differ modulo the page "
				    "size", i, (unsigned long long)ph.p_vaddr,
				    (unsigned long long)ph.p_offset);
		if (!out->pie && ph.p_memsz && ph.p_vaddr < USER_BOTTOM)
			return fail(err, errlen, "program header %d: address 0x%llx "
				    "is below 0x%llx, where nothing may be mapped",
				    i, (unsigned long long)ph.p_vaddr, USER_BOTTOM);
		/* Linux maps nothing for an empty segment; neither do we. */
		if (ph.p_memsz == 0)
			continue;
		if (out->nseg == ELF_MAX_SEGS)
			return fail(err, errlen, "too many PT_LOAD segments "
				    "(more than %d)", ELF_MAX_SEGS);
		if (out->nseg > 0) {
			const struct elf_seg *p = &out->seg[out->nseg - 1];
			/* Linkers may start a segment on the page where the
			 * previous one ends, but never on its bytes. */
			if (ph.p_vaddr < p->vaddr + p->memsz)
				return fail(err, errlen, "program header %d: segment "
					    "at 0x%llx overlaps or precedes the one "
					    "at 0x%llx", i,
					    (unsigned long long)ph.p_vaddr,
					    (unsigned long long)p->vaddr);
		}

		s = &out->seg[out->nseg++];
		s->vaddr = ph.p_vaddr;
		s->memsz = ph.p_memsz;
		s->filesz = ph.p_filesz;
		s->offset = ph.p_offset;
		s->prot = to_prot(ph.p_flags);

		if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_vaddr &&
		    eh.e_entry - ph.p_vaddr < ph.p_memsz)
			exec_entry = 1;
	}

	if (out->nseg == 0)
		return fail(err, errlen, "no loadable segments (PT_LOAD)");
	if (!exec_entry)
		return fail(err, errlen, "entry point 0x%llx is not in an "
			    "executable segment", (unsigned long long)eh.e_entry);

	/* libc reads its program headers (for TLS and, in a static-pie, to
	 * find its own load address) through AT_PHDR, so they must be loaded.
	 * Without PT_PHDR, Linux finds them through the segment whose file
	 * bytes contain them; without that too, AT_PHDR is 0. */
	for (i = 0; i < out->nseg; i++) {
		const struct elf_seg *s = &out->seg[i];
		if (have_phdr) {
			if (out->phdr_vaddr >= s->vaddr &&
			    out->phdr_vaddr - s->vaddr <= s->filesz &&
			    phsize <= s->filesz - (out->phdr_vaddr - s->vaddr))
				break;
		} else if (eh.e_phoff >= s->offset &&
			   eh.e_phoff - s->offset <= s->filesz &&
			   phsize <= s->filesz - (eh.e_phoff - s->offset)) {
			out->phdr_vaddr = s->vaddr + (eh.e_phoff - s->offset);
			break;
		}
	}
	if (have_phdr && i == out->nseg)
		return fail(err, errlen, "program header table (PT_PHDR) at "
			    "0x%llx is not in a segment's file bytes",
			    (unsigned long long)out->phdr_vaddr);

	/* Segments are sorted and below USER_TOP, so neither rounding
	 * can overflow. */
	out->lo = out->seg[0].vaddr & ~(PAGE - 1);
	end = out->seg[out->nseg - 1].vaddr + out->seg[out->nseg - 1].memsz;
	out->hi = (end + PAGE - 1) & ~(PAGE - 1);
	return 0;
}
