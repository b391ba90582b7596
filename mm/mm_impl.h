/*
 * mm's internal structures, shared by its files (not part of mm.h).
 */
#ifndef DUNERUN_MM_IMPL_H
#define DUNERUN_MM_IMPL_H

#include <stdint.h>
#include "mm.h"
#include "dunerun/abi.h"

#define HUGE_SIZE       (2UL << 20)
#define PAGES_PER_HUGE  512

/* x86-64 page-table entry bits. */
#define PTE_P           0x001ULL
#define PTE_W           0x002ULL
#define PTE_U           0x004ULL
#define PTE_A           0x020ULL
#define PTE_D           0x040ULL
#define PTE_PS          0x080ULL
#define PTE_NX          (1ULL << 63)
#define PTE_ADDR        0x000ffffffffff000ULL

/* x86 page-fault error code bits. */
#define PF_PRESENT      0x01
#define PF_WRITE        0x02
#define PF_USER         0x04
#define PF_FETCH        0x10

/* A 2 MiB chunk of guest-physical memory. */
enum chunk_state { CHUNK_FREE, CHUNK_SPLIT, CHUNK_HUGE, CHUNK_RESERVED };
struct chunk {
	uint8_t state;
	uint16_t used;          /* CHUNK_SPLIT: pages in use */
	uint64_t bitmap[8];     /* CHUNK_SPLIT: which pages are in use */
};

struct vma {
	uint64_t start, end;    /* page-aligned, end exclusive */
	int prot;
	int maxprot;            /* what mprotect may grant (shared files) */
	int shared;             /* pages are a host file's, not ours to drop */
	int stub;               /* a page of syscall-site stubs (patch.c): ours,
				   and it yields to whatever the program asks for */
	uint32_t file;          /* 1 + index in mm->files of the file mapped, or 0 */
	uint64_t pgoff;         /* with file: the file offset at start */
};

/* A file some mapping came from, for /proc/self/maps (maps.c). */
struct mapped_file {
	char *path;
	uint64_t dev, ino;
	int fd;                 /* the launcher's descriptor of the file, which
				   private pages are read from on first touch;
				   -1 if they were copied in at mmap */
};

struct mm {
	uint8_t *host;          /* guest-physical 0 in the launcher */
	uint64_t size;
	uint64_t root;          /* PML4 guest-physical address (GPA_ROOT) */
	int split;              /* a user root at GPA_USER_ROOT too (mm_create) */
	struct kcb *kcb;

	struct chunk *chunk;
	uint32_t nchunks;
	uint32_t next_free;     /* search hint for a free chunk */
	uint32_t split_hint;    /* a split chunk likely to have free pages */
	uint64_t used, peak;    /* bytes of guest-physical memory in use */

	struct vma *vma;        /* sorted, non-overlapping */
	int nvma, vma_cap;
	uint64_t brk_base, brk;
	uint64_t vdso_size;      /* bytes of the vDSO at GVA_VDSO (mm_map_vdso) */

	uint64_t *file_page;    /* bitmap: the page is a host file mapping */
	struct mapped_file *files;      /* the names VMAs' file fields index */
	uint32_t nfiles, files_cap;

	int window;             /* the Dune window is mapped (mm_dune_window) */
	uint64_t queued;        /* entries queued since the queue was empty */
	int locked;
	int full_resync;
	/* Pages unmapped but maybe still reachable through a stale
	 * translation, until the supervisor applies the queue. */
	struct { uint64_t gpa; int huge; } *pending;
	int npending, pending_cap;
	uint64_t last_resync;   /* address of the last re-synced fault */
	int resync_whole;       /* and the whole shadow was dropped for it */
	struct patch_table *patch;      /* patched syscall sites (patch.c) */
};

/* phys.c: zero-filled pages.  0 means out of memory. */
uint64_t phys_alloc_page(struct mm *mm);
uint64_t phys_alloc_huge(struct mm *mm);
void phys_free_page(struct mm *mm, uint64_t gpa);
void phys_free_huge(struct mm *mm, uint64_t gpa);
void phys_split_huge(struct mm *mm, uint64_t gpa);
int phys_init(struct mm *mm);
/* Frees an unmapped page once the supervisor has applied the rewrites. */
int phys_free_later(struct mm *mm, uint64_t gpa, int huge);
void phys_reclaim(struct mm *mm);

/* pagetable.c */
static inline uint64_t *pt_host(struct mm *mm, uint64_t gpa)
{
	return (uint64_t *)(mm->host + gpa);
}
/* The entry for va at level (4 = PML4 ... 1 = PT), creating tables on the
 * way if create.  NULL if absent (or a huge page sits above level). */
uint64_t *pt_entry(struct mm *mm, uint64_t va, int level, int create,
		   uint64_t table_flags);
/* The same in the tables under another root. */
uint64_t *pt_entry_in(struct mm *mm, uint64_t root, uint64_t va, int level,
		      int create, uint64_t table_flags);
/* The leaf entry mapping va (a PTE, or a PDE with PS), or NULL. */
uint64_t *pt_leaf(struct mm *mm, uint64_t va, int *is_huge);
/* Changes an entry, which maps step bytes at va (step 0: unknown).
 * Changing a present entry queues a rewrite for the supervisor; filling
 * an absent one needs none. */
int pt_set(struct mm *mm, uint64_t *entry, uint64_t value, uint64_t va, uint64_t step);
/* Queues a rewrite of entry, and a TLB flush of what it maps (all of
 * it, if step is 0). */
int pt_queue(struct mm *mm, uint64_t *entry, uint64_t va, uint64_t step);
/* Splits the 2 MiB page mapping va into 512 small pages. */
int pt_split_huge(struct mm *mm, uint64_t va);
/* Removes mappings in [start, end), freeing their pages. */
int pt_unmap_range(struct mm *mm, uint64_t start, uint64_t end);
/* Sets the protection of present mappings in [start, end). */
int pt_protect_range(struct mm *mm, uint64_t start, uint64_t end, int prot);
/* The leaf bits for prot, for a user page. */
uint64_t pt_prot_bits(int prot);
/* Clears bit (PTE_D or PTE_A) in the 4 KiB pages of [start, end) that
 * have it, setting bit k of bitmap for page k; splits 2 MiB pages first.
 * Returns the number of pages, or -1 (no memory for a split). */
long pt_collect_range(struct mm *mm, uint64_t start, uint64_t end, uint64_t bit,
		      uint64_t *bitmap);
/* Moves the pages of [from, from+len) to the unmapped [to, to+len). */
int pt_move_range(struct mm *mm, uint64_t from, uint64_t to, uint64_t len);

/* access.c: fault a page in for the host (as if the program touched it). */
enum mm_fault mm_touch(struct mm *mm, uint64_t va, int write);

/* vma.c */
struct vma *vma_find(struct mm *mm, uint64_t addr);
/* A stub page's VMA at [va, va+4096), if that range is free.  0 or -1. */
int vma_insert_stub(struct mm *mm, uint64_t va);
/* Drops [start, end) from the VMA list.  0 or -ENOMEM. */
int vma_remove(struct mm *mm, uint64_t start, uint64_t end);

/* patch.c */
/* The pages of [start, end) are about to change: patched sites there
 * get their original bytes back first (restore), or are just dropped
 * (the pages go away), and are looked at afresh when next run. */
void patch_forget(struct mm *mm, uint64_t start, uint64_t end, int restore);
/* The program asks for [start, end), where stub pages are: the sites
 * whose stubs are there get their original bytes back, and the pages
 * go, as if they had never been there. */
void patch_evacuate(struct mm *mm, uint64_t start, uint64_t end);
void mm_patch_free(struct mm *mm);

/* maps.c: the file's index + 1 for a VMA's file field, or 0 (unnamed)
 * if f is NULL or the table is full. */
uint32_t mm_file_index(struct mm *mm, const struct mm_file *f);
/* Gives file index idx a descriptor of its own for reading pages (a
 * duplicate of fd).  Returns 0, or -1 if it has none and cannot. */
int mm_file_keep_fd(struct mm *mm, uint32_t idx, int fd);
void mm_files_free(struct mm *mm);

#endif
