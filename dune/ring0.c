/*
 * libdune for supervisor mode (dunerun exec --supervisor): the program
 * runs in guest ring 0, so it reads and writes page tables directly,
 * switches CR3, and runs code of its own in ring 3 under a root of its
 * own (include/dune.h, "Supervisor mode").
 *
 * Page tables are reached through the supervisor's direct map of guest
 * memory (GVA_DIRECT), which ring 0 may use.  Pages for new tables and
 * for user memory come from a pool of the program's own anonymous
 * memory: touched once, their guest-physical pages never move.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "dune.h"
#include "dunerun/abi.h"
#include "loader.h"

#define PAGE            4096UL
#define POOL_CHUNK      (2UL << 20)
#define PML4_USER_SLOTS 256             /* the lower half: the program's */

extern int dune_use_xsave;              /* dune.c */

/* The pool: pages carved from POOL_CHUNK mappings; freed pages are kept
 * on a list threaded through their first word. */
static uint64_t pool_next, pool_end, pool_free;

_Static_assert(sizeof(struct dune_user) >= DU_SIZE, "dune_user holds the ABI part");
_Static_assert(offsetof(struct dune_user, root) == DU_CR3 &&
	       offsetof(struct dune_user, fs_base) == DU_FS &&
	       offsetof(struct dune_user, host_rsp) == DU_HOST_RSP &&
	       offsetof(struct dune_user, host_fs) == DU_HOST_FS, "abi.h's DU_*");

int dune_in_ring0(void)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return (cs & 3) == 0;
}

static uint64_t *phys(uint64_t pa)
{
	return (uint64_t *)(GVA_DIRECT + pa);
}

dune_root_t dune_root_current(void)
{
	uint64_t cr3;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	return cr3 & DUNE_PTE_ADDR;
}

void dune_root_switch(dune_root_t root)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(root) : "memory");
}

void dune_flush_one(const void *va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

void dune_flush_all(void)
{
	dune_root_switch(dune_root_current());
}

/* A zeroed page for a table or user memory: its guest-physical address,
 * or 0 when the program's memory is exhausted. */
static uint64_t page_alloc(void)
{
	if (pool_free) {
		uint64_t pa = pool_free;
		pool_free = *phys(pa);
		memset(phys(pa), 0, PAGE);
		return pa;
	}
	if (pool_next == pool_end) {
		void *m = mmap(NULL, POOL_CHUNK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return 0;
		pool_next = (uint64_t)m;
		pool_end = pool_next + POOL_CHUNK;
	}
	volatile uint64_t *va = (volatile uint64_t *)pool_next;
	*va = 0;                        /* the launcher maps it now */
	pool_next += PAGE;
	long pa = dune_va_to_pa(dune_root_current(), (const void *)va);
	return pa < 0 ? 0 : (uint64_t)pa;
}

static void page_free(uint64_t pa)
{
	*phys(pa) = pool_free;
	pool_free = pa;
}

long dune_page_alloc(void)
{
	if (!dune_in_ring0())
		return -EPERM;
	uint64_t pa = page_alloc();
	return pa ? (long)pa : -ENOMEM;
}

void *dune_page_ptr(uint64_t pa)
{
	return phys(pa & DUNE_PTE_ADDR);
}

long dune_root_new(void)
{
	if (!dune_in_ring0())
		return -EPERM;
	uint64_t root = page_alloc();
	if (!root)
		return -ENOMEM;
	/* The upper half is the supervisor's (no user access): exceptions
	 * and syscalls from the user context reach it through any root. */
	memcpy(phys(root) + PML4_USER_SLOTS, phys(GPA_ROOT) + PML4_USER_SLOTS,
	       PML4_USER_SLOTS * 8);
	return (long)root;
}

/* Copies table t of level (4 = PML4) below the user half's limit: new
 * tables, the same pages.  2 MiB pages stay shared as they are. */
static long clone_table(uint64_t t, int level)
{
	uint64_t copy = page_alloc();
	int n = level == 4 ? PML4_USER_SLOTS : 512;

	if (!copy)
		return -ENOMEM;
	memcpy(phys(copy), phys(t), PAGE);
	for (int i = 0; level > 1 && i < n; i++) {
		uint64_t e = phys(t)[i];
		if (!(e & DUNE_PTE_P) || (level == 2 && (e & DUNE_PTE_PS)) ||
		    (level == 4 && i == DUNE_WINDOW_SLOT))
			continue;
		long sub = clone_table(e & DUNE_PTE_ADDR, level - 1);
		if (sub < 0)
			return sub;
		phys(copy)[i] = (uint64_t)sub | (e & ~DUNE_PTE_ADDR);
	}
	return (long)copy;
}

long dune_root_clone(dune_root_t src)
{
	if (!dune_in_ring0())
		return -EPERM;
	return clone_table(src & DUNE_PTE_ADDR, 4);
}

static void free_table(uint64_t t, int level)
{
	int n = level == 4 ? PML4_USER_SLOTS : 512;

	for (int i = 0; level > 1 && i < n; i++) {
		uint64_t e = phys(t)[i];
		if ((e & DUNE_PTE_P) && !(level == 2 && (e & DUNE_PTE_PS)) &&
		    !(level == 4 && i == DUNE_WINDOW_SLOT))
			free_table(e & DUNE_PTE_ADDR, level - 1);
	}
	page_free(t);
}

void dune_root_free(dune_root_t root)
{
	if (dune_in_ring0() && root != GPA_ROOT && root != dune_root_current())
		free_table(root & DUNE_PTE_ADDR, 4);
}

/* The entry for v at level stop (12: its PTE, 21: its PDE) in root, or
 * the large page's above it; *level says where it is.  With create,
 * missing tables are made; without, NULL if one is missing.  The one walk
 * of dune_pte_rw, dune_va_to_pa and dune_collect_bits. */
static uint64_t *entry_at(dune_root_t root, uint64_t v, int stop, int create, int *level)
{
	uint64_t *t = phys(root & DUNE_PTE_ADDR);

	for (int shift = 39;; shift -= 9) {
		uint64_t *e = &t[(v >> shift) & 511];
		*level = shift;
		if (shift == stop)
			return e;
		if (!(*e & DUNE_PTE_P)) {
			uint64_t pa;
			if (!create || !(pa = page_alloc()))
				return NULL;
			*e = pa | DUNE_PTE_P | DUNE_PTE_W | DUNE_PTE_U;
		} else if (*e & DUNE_PTE_PS) {
			return e;
		}
		t = phys(*e & DUNE_PTE_ADDR);
	}
}

uint64_t *dune_pte_rw(dune_root_t root, const void *va, int create)
{
	int level;

	if (!dune_in_ring0() || (uint64_t)va >= (1UL << 47))
		return NULL;
	uint64_t *e = entry_at(root, (uint64_t)va, 12, create, &level);
	return level == 12 ? e : NULL;          /* a large page: not split here */
}

long dune_va_to_pa(dune_root_t root, const void *va)
{
	uint64_t v = (uint64_t)va;
	int level;

	if (!dune_in_ring0())
		return -EPERM;
	if (v >= (1UL << 47))
		return -EFAULT;
	const uint64_t *e = entry_at(root, v, 12, 0, &level);
	if (!e || !(*e & DUNE_PTE_P))
		return -EFAULT;
	uint64_t offset = (1UL << level) - 1;
	return (long)((*e & DUNE_PTE_ADDR & ~offset) | (v & offset));
}

/* The flags a caller may give a leaf: the rest are the hardware's. */
#define LEAF_FLAGS (DUNE_PTE_W | DUNE_PTE_U | DUNE_PTE_NX | DUNE_PTE_A | DUNE_PTE_D)

static int range_ok(const void *va, size_t len)
{
	uint64_t v = (uint64_t)va;

	return dune_in_ring0() && !(v & (PAGE - 1)) && !(len & (PAGE - 1)) &&
	       v < (1UL << 47) && len <= (1UL << 47) - v;
}

int dune_map(dune_root_t root, const void *va, uint64_t pa, size_t len, uint64_t flags)
{
	if (!range_ok(va, len) || (pa & (PAGE - 1)) || (flags & ~LEAF_FLAGS))
		return -EINVAL;
	for (size_t off = 0; off < len; off += PAGE) {
		uint64_t *e = dune_pte_rw(root, (const char *)va + off, 1);
		if (!e)
			return -ENOMEM;
		*e = (pa + off) | flags | DUNE_PTE_P;
	}
	return 0;
}

int dune_unmap(dune_root_t root, const void *va, size_t len)
{
	if (!range_ok(va, len))
		return -EINVAL;
	for (size_t off = 0; off < len; off += PAGE) {
		uint64_t *e = dune_pte_rw(root, (const char *)va + off, 0);
		if (e)
			*e = 0;
	}
	return 0;
}

int dune_set_flags(dune_root_t root, const void *va, size_t len, uint64_t set, uint64_t clear)
{
	if (!range_ok(va, len) || ((set | clear) & ~(LEAF_FLAGS | DUNE_PTE_P)))
		return -EINVAL;
	for (size_t off = 0; off < len; off += PAGE) {
		uint64_t *e = dune_pte_rw(root, (const char *)va + off, 0);
		if (!e || !(*e & (DUNE_PTE_P | DUNE_PTE_ADDR)))
			return -EFAULT;
		*e = (*e & ~clear) | set;
	}
	return 0;
}

static void set_bits(uint64_t *bitmap, size_t from, size_t n)
{
	for (size_t i = from; i < from + n; i++)
		bitmap[i / 64] |= 1ULL << (i % 64);
}

/* One walk per 2 MiB, then a scan of its page table.  A large page
 * counts as all its pages; its bit is cleared only when the range covers
 * a whole 2 MiB page, so that a collect over the rest still sees it. */
long dune_collect_bits(dune_root_t root, const void *va, size_t len, uint64_t bit,
		       uint64_t *bitmap)
{
	size_t n = len / PAGE;
	long found = 0;

	if (!range_ok(va, len) || (bit != DUNE_PTE_D && bit != DUNE_PTE_A))
		return -EINVAL;
	memset(bitmap, 0, (n + 63) / 64 * 8);
	for (size_t i = 0; i < n;) {
		uint64_t v = (uint64_t)va + i * PAGE;
		size_t first = (v >> 12) & 511, run = 512 - first;
		if (run > n - i)
			run = n - i;
		int level;
		uint64_t *pde = entry_at(root, v, 21, 0, &level);
		if (!pde || !(*pde & DUNE_PTE_P)) {
			/* nothing mapped: clean */
		} else if (*pde & DUNE_PTE_PS) {
			if (*pde & bit) {
				set_bits(bitmap, i, run);
				found += run;
				if (run == 512 && level == 21)  /* not a 1 GiB page's */
					*pde &= ~bit;
			}
		} else {
			uint64_t *pt = phys(*pde & DUNE_PTE_ADDR) + first;
			for (size_t k = 0; k < run; k++)
				if ((pt[k] & DUNE_PTE_P) && (pt[k] & bit)) {
					pt[k] &= ~bit;
					set_bits(bitmap, i + k, 1);
					found++;
				}
		}
		i += run;
	}
	return found;
}

/* ---- Ring 3 ---------------------------------------------------------- */

typedef uint64_t (*enter_fn)(struct dune_user *u);

static void fpu_save(uint8_t *area)
{
	if (dune_use_xsave)
		__asm__ volatile("xsave (%0)" : : "r"(area), "a"(7), "d"(0) : "memory");
	else
		__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

static void fpu_load(const uint8_t *area)
{
	if (dune_use_xsave)
		__asm__ volatile("xrstor (%0)" : : "r"(area), "a"(7), "d"(0) : "memory");
	else
		__asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

/* A clean x87/SSE state: control words at their reset values. */
static void fpu_clean(uint8_t *area)
{
	memset(area, 0, DUNE_FPU_AREA);
	area[0] = 0x7f;                 /* FCW 0x037f */
	area[1] = 0x03;
	area[24] = 0x80;                /* MXCSR 0x1f80 */
	area[25] = 0x1f;
	if (dune_use_xsave)
		area[512] = 3;          /* XSTATE_BV: x87 and SSE */
}

long dune_user_run(struct dune_user *u)
{
	uint8_t host_fpu[DUNE_FPU_AREA] __attribute__((aligned(64)));

	if (!dune_in_ring0())
		return -EPERM;
	if (!u->fpu_valid) {
		fpu_clean(u->fpu);
		u->fpu_valid = 1;
	}
	/* The user context's x87/SSE/AVX registers are its own: the
	 * program's code between two runs would otherwise clobber them. */
	memset(host_fpu + 512, 0, 64);
	fpu_save(host_fpu);
	fpu_load(u->fpu);
	enter_fn enter = (enter_fn)((const struct kernel_header *)GVA_KERNEL)->dune_enter;
	long why = (long)enter(u);
	fpu_save(u->fpu);
	fpu_load(host_fpu);
	/* The launcher interrupted the user context for a signal of the
	 * program's: a call it serves lets the handler run now. */
	if (why == DUNE_EXIT_INTERRUPT)
		syscall(SYS_sched_yield);
	return why;
}

long dune_jump_to_user(struct dune_user *u, dune_user_fn handler, void *arg)
{
	for (;;) {
		long why = dune_user_run(u);
		if (why < 0 || handler(u, why, arg) != DUNE_RESUME)
			return why;
	}
}

/* Copies between the program and a user root, page by page, through
 * the direct map: only pages the root maps with user access, as the
 * user context itself would see them (write: writable ones). */
static long user_copy(dune_root_t root, uint64_t va, void *buf, size_t len, int write)
{
	uint8_t *b = buf;

	if (!dune_in_ring0())
		return -EPERM;
	while (len) {
		uint64_t *e = va < (1UL << 47) ? dune_pte_rw(root, (void *)va, 0) : NULL;
		uint64_t need = DUNE_PTE_P | DUNE_PTE_U | (write ? DUNE_PTE_W : 0);
		if (!e || (*e & need) != need)
			return -EFAULT;
		size_t n = PAGE - (va & (PAGE - 1));
		n = n < len ? n : len;
		uint8_t *p = (uint8_t *)phys(*e & DUNE_PTE_ADDR) + (va & (PAGE - 1));
		if (write)
			memcpy(p, b, n);
		else
			memcpy(b, p, n);
		va += n;
		b += n;
		len -= n;
	}
	return 0;
}

long dune_user_copy_in(dune_root_t root, void *dst, uint64_t va, size_t len)
{
	return user_copy(root, va, dst, len, 0);
}

long dune_user_copy_out(dune_root_t root, uint64_t va, const void *src, size_t len)
{
	return user_copy(root, va, (void *)src, len, 1);
}

/* Fresh pages for [va, va+len) in the root, filled from data[0..n). */
static int map_fresh(dune_root_t root, uint64_t va, size_t len, uint64_t flags,
		     const uint8_t *data, size_t n)
{
	for (size_t off = 0; off < len; off += PAGE) {
		uint64_t *e = dune_pte_rw(root, (void *)(va + off), 1);
		uint64_t pa;
		if (!e)
			return -ENOMEM;
		if (!(*e & DUNE_PTE_P)) {
			if (!(pa = page_alloc()))
				return -ENOMEM;
			*e = pa | DUNE_PTE_P | DUNE_PTE_U | DUNE_PTE_W | DUNE_PTE_NX;
		}
		if (off < n)
			memcpy(phys(*e & DUNE_PTE_ADDR), data + off, n - off < PAGE ? n - off : PAGE);
		/* Segments sharing a page get the union of their rights. */
		if (!(flags & DUNE_PTE_NX))
			*e &= ~DUNE_PTE_NX;
	}
	return 0;
}

int dune_user_load_elf(struct dune_user *u, const void *elf, size_t len, char *err, size_t errlen)
{
	struct elf_image img;

	if (!dune_in_ring0())
		return -EPERM;
	if (elf_parse(elf, len, &img, err, errlen) < 0)
		return -ENOEXEC;
	if (img.pie || img.hi > (1UL << 46)) {
		if (errlen)
			strncpy(err, img.pie ? "a static-pie: link the user program at a fixed address"
					     : "segments beyond the user half", errlen - 1);
		return -ENOEXEC;
	}
	for (int i = 0; i < img.nseg; i++) {
		const struct elf_seg *s = &img.seg[i];
		uint64_t start = s->vaddr & ~(PAGE - 1), lead = s->vaddr - start;
		uint64_t end = (s->vaddr + s->memsz + PAGE - 1) & ~(PAGE - 1);
		int r = map_fresh(u->root, start, end - start, s->prot & PROT_EXEC ? 0 : DUNE_PTE_NX,
				  (const uint8_t *)elf + s->offset - lead, s->filesz + lead);
		if (r < 0)
			return r;
	}
	/* Write access only to pages a writable segment covers. */
	for (int i = 0; i < img.nseg; i++) {
		const struct elf_seg *s = &img.seg[i];
		if (s->prot & PROT_WRITE)
			continue;
		for (uint64_t p = s->vaddr & ~(PAGE - 1); p < s->vaddr + s->memsz; p += PAGE) {
			int writable = 0;
			for (int j = 0; j < img.nseg; j++)
				writable |= (img.seg[j].prot & PROT_WRITE) &&
					    p + PAGE > img.seg[j].vaddr &&
					    p < img.seg[j].vaddr + img.seg[j].memsz;
			if (!writable)
				dune_set_flags(u->root, (void *)p, PAGE, 0, DUNE_PTE_W);
		}
	}
	u->tf.rip = img.entry;
	u->elf_phdr = img.phdr_vaddr;
	u->elf_phnum = img.phnum;
	u->elf_entry = img.entry;
	return 0;
}

int dune_user_stack(struct dune_user *u, uint64_t top, size_t size, char *const argv[],
		    char *const envp[])
{
	static char *const none[] = { NULL };
	struct stack_aux aux = {
		.phdr = u->elf_phdr, .phent = 56, .phnum = u->elf_phnum,
		.entry = u->elf_entry, .pagesz = PAGE, .clktck = 100,
		.execfn = argv && argv[0] ? argv[0] : "user", .platform = "x86_64",
	};
	uint8_t buf[8192];

	if (!dune_in_ring0())
		return -EPERM;
	if ((top | size) & (PAGE - 1) || size < 2 * PAGE || top > (1UL << 47) || size > top)
		return -EINVAL;
	for (int i = 0; i < 16; i++)
		aux.random[i] = (uint8_t)(dune_rdtsc() >> (i % 8));
	int r = map_fresh(u->root, top - size, size, DUNE_PTE_NX, NULL, 0);
	if (r < 0)
		return r;
	uint64_t rsp = stack_build(buf, sizeof buf, top, argv ? argv : none,
				   envp ? envp : none, &aux);
	if (!rsp)
		return -E2BIG;
	if (dune_user_copy_out(u->root, rsp, buf + sizeof buf - (top - rsp), top - rsp) < 0)
		return -EFAULT;
	u->tf.rsp = rsp;
	return 0;
}
