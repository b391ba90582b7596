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
 * another root need the program to run in ring 0: "Supervisor mode"
 * below, and docs/dune-api.md.
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

/* ---- Supervisor mode: dunerun exec --supervisor ------------------------ */
/*
 * With --supervisor the program runs in guest ring 0 (on VT-x/SVM hosts).
 * It is trusted inside its VM, which still cannot touch the host.  All of
 * the above works there too, and these calls, which need ring 0, work
 * only there: elsewhere they return -EPERM (or NULL) and do nothing.
 *
 * A root is the guest-physical address of a PML4.  The program's own
 * root is the launcher's: its syscalls (mmap, munmap...) keep using it,
 * so change its entries only for pages it owns, and only 4 KiB ones (a
 * 2 MiB page gives NULL here; dune_protect splits it).  Roots made here
 * are the program's: their lower half is its to fill, their upper half
 * the supervisor's.  Writes to a live root's entries need a flush.
 */
typedef uint64_t dune_root_t;

/* 1 if the program runs in ring 0. */
int dune_in_ring0(void);
dune_root_t dune_root_current(void);
/* A root mapping nothing in the lower half; -errno on failure. */
long dune_root_new(void);
/* A root whose lower-half tables are copies of src's (the pages they map
 * are shared); -errno on failure. */
long dune_root_clone(dune_root_t src);
/* mov CR3 (flushes the TLB; PCID is not used) for the calling thread:
 * each thread keeps its own root, as on a CPU of its own.  The root must
 * map the code and stack that run next. */
void dune_root_switch(dune_root_t root);
/* Returns a root's tables (not the pages they map) to libdune. */
void dune_root_free(dune_root_t root);

/* The 4 KiB PTE for va in root, writable; with create, missing tables
 * are made.  NULL if absent, under a 2 MiB page, or outside the lower
 * half. */
uint64_t *dune_pte_rw(dune_root_t root, const void *va, int create);
/* The guest-physical address va maps to in root, or -EFAULT. */
long dune_va_to_pa(dune_root_t root, const void *va);
/* Maps [va, va+len) to guest-physical [pa, pa+len) with flags (DUNE_PTE_W,
 * _U, _NX; present implied).  Page-aligned.  0 or -errno. */
int dune_map(dune_root_t root, const void *va, uint64_t pa, size_t len, uint64_t flags);
int dune_unmap(dune_root_t root, const void *va, size_t len);
/* Sets and clears leaf flags (P, W, U, NX, A, D) of mapped pages. */
int dune_set_flags(dune_root_t root, const void *va, size_t len, uint64_t set, uint64_t clear);
/* Collects and clears DUNE_PTE_D or DUNE_PTE_A over [va, va+len) of root
 * into bitmap (len / 4096 bits), with plain loads and stores; flush
 * before relying on the hardware setting the bit again.  A page under a
 * 2 MiB (or 1 GiB) entry with the bit set counts, with every page of it
 * in the range; the entry's bit is cleared only when the range holds
 * the whole 2 MiB page. */
long dune_collect_bits(dune_root_t root, const void *va, size_t len, uint64_t bit,
		       uint64_t *bitmap);
/* invlpg; a CR3 reload. */
void dune_flush_one(const void *va);
void dune_flush_all(void);
/* A zeroed page of the program's memory that never moves, for the
 * caller to map: its guest-physical address, or -errno; and a pointer
 * to a guest-physical page through the supervisor's direct map. */
long dune_page_alloc(void);
void *dune_page_ptr(uint64_t pa);

/* A user context: code run in ring 3 under root.  tf holds its
 * registers; when it stops, also why (vector, err, addr). */
#define DUNE_FPU_AREA 1088
struct dune_user {
	struct dune_tf tf;
	dune_root_t root;
	uint64_t fs_base;               /* its FS base (TLS) */
	uint64_t host_rsp, host_fs;     /* the supervisor's, while it runs */
	uint64_t elf_phdr, elf_entry;   /* dune_user_load_elf, for the stack */
	uint32_t elf_phnum;
	int fpu_valid;                  /* 0: starts with a clean FPU */
	uint8_t fpu[DUNE_FPU_AREA] __attribute__((aligned(64)));
};

/* Why dune_user_run returned, besides exception vectors 0-31 (14 is a
 * page fault: tf.addr, tf.err). */
#define DUNE_EXIT_INTERRUPT 32  /* the launcher had a signal for the program
				   (an alarm bounding the user code, say):
				   its handler has run when this returns */
#define DUNE_EXIT_SYSCALL 256   /* tf.rax is the number, rdi rsi rdx r10 r8
				   r9 the arguments; set tf.rax and run again
				   to return (tf.rip is already past it) */

/* Runs u in ring 3 from u->tf until it makes a syscall, raises an
 * exception or is interrupted; returns why, with u->tf updated.  Its
 * x87/SSE/AVX state is kept in u.  -EPERM outside ring 0. */
long dune_user_run(struct dune_user *u);

/* dune_user_run in a loop: handler decides after each stop, returning
 * DUNE_RESUME to run on, anything else to return dune_jump_to_user's
 * last reason. */
#define DUNE_RESUME 0
typedef int (*dune_user_fn)(struct dune_user *u, long why, void *arg);
long dune_jump_to_user(struct dune_user *u, dune_user_fn handler, void *arg);

/* Copies from and to a user root's memory, as the user context would
 * reach it (user pages; writable ones to write).  0 or -EFAULT. */
long dune_user_copy_in(dune_root_t root, void *dst, uint64_t va, size_t len);
long dune_user_copy_out(dune_root_t root, uint64_t va, const void *src, size_t len);

/* Loads a static, non-PIE x86-64 ELF (validated like dunerun's own
 * loader) into u->root with fresh pages: rip at its entry.  0 or -errno,
 * with a reason in err. */
int dune_user_load_elf(struct dune_user *u, const void *elf, size_t len, char *err, size_t errlen);
/* Maps a stack of size bytes below top in u->root and builds Linux's
 * initial stack (argc, argv, envp, auxv) on it: rsp at argc. */
int dune_user_stack(struct dune_user *u, uint64_t top, size_t size, char *const argv[],
		    char *const envp[]);

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
