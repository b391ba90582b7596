/*
 * loader: ELF64 x86-64 executables (static, or with an interpreter named
 * by PT_INTERP), and the initial process stack.
 *
 * Both halves are pure functions over byte buffers: they never touch the
 * VM, so they can be unit-tested and fuzzed on their own.  The caller maps
 * what elf_parse describes and copies what stack_build produces.
 */
#ifndef DUNERUN_LOADER_H
#define DUNERUN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGS 16

/* A PT_LOAD segment, validated: vaddr+memsz does not overflow, filesz <=
 * memsz, offset+filesz lies inside the file, and vaddr and offset are
 * congruent modulo the page size. */
struct elf_seg {
	uint64_t vaddr;         /* unrelocated */
	uint64_t memsz;
	uint64_t filesz;
	uint64_t offset;
	int prot;               /* PROT_READ | PROT_WRITE | PROT_EXEC */
};

struct elf_image {
	int pie;                /* ET_DYN: placed at a base of our choosing */
	uint64_t interp_off;    /* PT_INTERP: the interpreter's path, at */
	uint64_t interp_len;    /* data[interp_off..+len), NUL included; 0: none */
	uint64_t entry;         /* unrelocated */
	uint64_t phdr_vaddr;    /* unrelocated address of the program headers
				   in memory (for AT_PHDR), 0 if not loaded */
	uint16_t phnum;
	uint16_t phentsize;
	uint64_t lo, hi;        /* page-aligned span of all PT_LOAD segments */
	int stack_exec;         /* PT_GNU_STACK asks for an executable stack */
	int nseg;
	struct elf_seg seg[ELF_MAX_SEGS];
};

/* Parses and validates an executable held in data[0..size).  On failure
 * returns -1 and writes a one-line reason (no trailing newline) to err,
 * such as "program header 2: file size 9 exceeds memory size 8".  A
 * PT_INTERP path is checked to be a NUL-terminated string inside the file
 * (the caller loads the interpreter).  Never reads outside data. */
int elf_parse(const uint8_t *data, size_t size, struct elf_image *out,
	      char *err, size_t errlen);

/* The interpreter path of a parsed image, or NULL for a static one. */
static inline const char *elf_interp(const uint8_t *data, const struct elf_image *img)
{
	return img->interp_len ? (const char *)data + img->interp_off : NULL;
}

/* What the initial stack's auxiliary vector reports. */
struct stack_aux {
	uint64_t phdr, phent, phnum, entry;
	uint64_t base;          /* AT_BASE: the interpreter's load address, or 0 */
	uint64_t uid, euid, gid, egid, secure;
	uint64_t hwcap, hwcap2, clktck, pagesz;
	uint8_t random[16];     /* AT_RANDOM bytes */
	const char *execfn;     /* AT_EXECFN string */
	const char *platform;   /* AT_PLATFORM string, e.g. "x86_64" */
	uint64_t sysinfo_ehdr;  /* AT_SYSINFO_EHDR: the vDSO, or 0 for none */
};

/* Builds the System V initial process stack (argc, argv, envp, auxv and the
 * strings they point to) in buf, which stands for guest addresses
 * [top - buflen, top).  Returns the initial rsp (16-byte aligned, pointing
 * at argc), or 0 if the stack does not fit (the caller reports E2BIG). */
uint64_t stack_build(uint8_t *buf, size_t buflen, uint64_t top,
		     char *const argv[], char *const envp[],
		     const struct stack_aux *aux);

#endif
