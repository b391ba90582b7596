/*
 * libdune: the CPU's privileged memory features for a program running
 * under dunerun, as in Dune (Belay et al., OSDI 2012).  Link
 * build/libdune.a; the library is plain C with no dependency but libc.
 *
 * This is the ring-3 part of the API: what a program can be given
 * safely while it runs in guest ring 3 (dunerun's default).
 *
 *   - Its page tables, mapped read-only into a window of its address
 *     space, so it reads accessed and dirty bits with plain loads.
 *   - Clear-and-collect of dirty or accessed bits over a range, and
 *     protection changes, batched into one call to the supervisor.
 *   - Trap upcalls: a handler called with a writable trap frame for
 *     page faults (and, if asked, other exceptions); returning from it
 *     resumes the program with the frame's registers.
 *
 * Writing page tables, switching CR3 and running code in ring 3 under
 * another root need the program to run in ring 0 (Dune's supervisor
 * mode), which dunerun does not offer yet: docs/dune-api.md.
 *
 * Every function returns a negative errno on failure and never crashes
 * the program for a bad argument.  Outside dunerun, dune_init() returns
 * -ENOSYS and nothing else works, so a program can fall back to
 * mprotect and signals.
 */
#ifndef DUNE_H
#define DUNE_H

#include <stddef.h>
#include <stdint.h>

/* 0 under dunerun (maps the page-table window), -ENOSYS natively. */
int dune_init(void);

/* ---- Page tables, read-only ------------------------------------------- */

/* x86-64 page-table entry bits. */
#define DUNE_PTE_P      0x001ULL        /* present */
#define DUNE_PTE_W      0x002ULL        /* writable */
#define DUNE_PTE_U      0x004ULL        /* user */
#define DUNE_PTE_A      0x020ULL        /* accessed */
#define DUNE_PTE_D      0x040ULL        /* dirty */
#define DUNE_PTE_PS     0x080ULL        /* a 2 MiB page (in a PDE) */
#define DUNE_PTE_NX     (1ULL << 63)
#define DUNE_PTE_ADDR   0x000ffffffffff000ULL

/* The leaf entry for va, read through the window with plain loads: a
 * 4 KiB PTE (check DUNE_PTE_P: it may be absent), or the PDE of a 2 MiB
 * page (DUNE_PTE_PS set).  NULL if no page table covers va yet, va is
 * not a program address, or dune_init() has not succeeded.  The pointer
 * stays valid while the mapping does; the CPU sets A and D in it. */
const volatile uint64_t *dune_pte(const void *va);

/* ---- Dirty and accessed bits, and protection: batched ----------------- */

enum dune_op_kind {
	DUNE_COLLECT_DIRTY = 1,         /* pages written since the last collect */
	DUNE_COLLECT_ACCESSED = 2,      /* pages read or written since then */
	DUNE_PROTECT = 3,               /* as mprotect(addr, len, prot) */
};

/* One operation.  addr and len are page-aligned.  The collects set bit i
 * of bitmap (uint64_t words, len / 4096 bits, cleared first) when page i
 * of the range had the bit, and clear the bit in the same pass; result
 * is the number of pages found, or -errno.  2 MiB pages in the range are
 * split so that later collects see 4 KiB pages; a page not mapped yet
 * counts as clean. */
struct dune_op {
	uint32_t kind;
	int32_t prot;                   /* DUNE_PROTECT: PROT_* */
	uint64_t addr, len;
	uint64_t *bitmap;
	int64_t result;
};

#define DUNE_BATCH_MAX  1024

/* Runs ops[0..n) in order, in one call; each op's result is set.  Stops
 * at the first that fails.  Returns the number done, or -errno if ops
 * itself is bad. */
long dune_batch(struct dune_op *ops, int n);

/* One-op forms.  Return the pages found, 0, or -errno. */
long dune_collect_dirty(void *addr, size_t len, uint64_t *bitmap);
long dune_collect_accessed(void *addr, size_t len, uint64_t *bitmap);
long dune_protect(void *addr, size_t len, int prot);

/* ---- Traps ---------------------------------------------------------- */

/* What the handler is given.  Every field is writable: returning from
 * the handler resumes with these registers (rip, rsp and rflags too). */
struct dune_tf {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t vector;                /* 14 for a page fault */
	uint64_t err;                   /* the error code (x86 PF_* bits for #PF) */
	uint64_t addr;                  /* #PF: the faulting address (CR2) */
};

#define DUNE_PF_PRESENT 0x01            /* a protection fault, not a missing page */
#define DUNE_PF_WRITE   0x02
#define DUNE_PF_USER    0x04
#define DUNE_PF_FETCH   0x10

typedef void (*dune_trap_fn)(struct dune_tf *tf);

/* Calls fn for the exceptions in vectors (bit N = vector N; 1 << 14 for
 * page faults) that the program would otherwise die of or get a signal
 * for: a page fault that the supervisor cannot satisfy (an access the
 * protection forbids, or no mapping), #DE, #UD, #BP (int3), #GP...
 * The handler runs on the program's stack, below its red zone, with
 * the x87/SSE/AVX state saved and restored around it.  fn NULL turns
 * upcalls off.  Returns 0 or -errno. */
int dune_trap(dune_trap_fn fn, uint64_t vectors);

/* Resumes with tf's registers, from a handler or anywhere else. */
__attribute__((noreturn)) void dune_resume(const struct dune_tf *tf);

/* ---- Small things for handlers --------------------------------------- */

static inline uint64_t dune_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* printf to stderr with one write(2) and no allocation or locks, so it
 * is safe inside a trap handler.  Output past 512 bytes is cut.  Knows
 * %d %i %u %x %lu %ld %lx %llu %lld %llx %zu %p %s %c %%. */
int dune_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
