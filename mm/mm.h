/*
 * mm: the guest's memory, as the launcher sees and governs it.
 *
 * It owns guest-physical memory (one host mapping), the physical page
 * allocator, the guest page tables, and the program's address-space map
 * (VMAs).  It is the only way the launcher touches guest memory: every
 * guest pointer is walked through the guest page table, checked for user
 * access (and write access where the kernel would write), bounds-checked
 * against guest-physical memory, and only then turned into a host pointer.
 * A bad pointer gives -EFAULT; it can never reach launcher memory.
 *
 * Page tables the guest already uses cannot be changed from the host (the
 * hypervisor shadows them), so changes to live tables are queued in the
 * KCB and applied by the supervisor before the program runs again.
 */
#ifndef DUNERUN_MM_H
#define DUNERUN_MM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "patch.h"

struct mm;

#ifndef PAGE_SIZE
#define PAGE_SIZE 4096UL
#endif

/* Reserves guest-physical memory of mem_size bytes (rounded to 2 MiB)
 * backed lazily by the host.  Returns NULL with errno set.  split: the
 * page tables of PVM's native supervisor mode, where the kernel root
 * (GPA_ROOT, mm_root) maps the supervisor user-accessible, as that mode
 * requires, and the program runs on the user root (GPA_USER_ROOT), which
 * maps of the supervisor only what exception delivery needs, without
 * user access.  Otherwise there is one root, the supervisor's pages
 * without user access. */
struct mm *mm_create(uint64_t mem_size, int split);
void mm_destroy(struct mm *mm);

/* Host view of guest-physical memory, for the KVM memslot. */
void *mm_host_base(struct mm *mm);
uint64_t mm_phys_size(struct mm *mm);
/* The page-table root (guest-physical), for CR3. */
uint64_t mm_root(struct mm *mm);
/* Peak and current bytes of guest-physical memory in use. */
uint64_t mm_peak_bytes(struct mm *mm);

/* Host pointer to guest-physical [gpa, gpa+len), or NULL if outside. */
void *mm_gpa(struct mm *mm, uint64_t gpa, uint64_t len);

/* --- Building the initial address space (before the guest runs) --- */

/* The file a mapping comes from, as /proc/self/maps names it. */
struct mm_file {
	const char *path;
	uint64_t dev, ino;
};

/* Protection bits, as mmap's PROT_* (READ 1, WRITE 2, EXEC 4). */
/* Maps the supervisor image, its control block and the user entry page. */
int mm_map_supervisor(struct mm *mm, const void *image, size_t image_len,
		      size_t entry_off, size_t entry_len);
/* Copies the vDSO to GPA_VDSO and maps it at GVA_VDSO, user read+exec. */
int mm_map_vdso(struct mm *mm, const void *image, size_t len);
/* Creates a private mapping at exactly addr (page-aligned), like
 * mmap(MAP_FIXED); used by the loader for segments (file: the program's,
 * at offset off) and the stack (file NULL). */
int mm_map_fixed(struct mm *mm, uint64_t addr, uint64_t len, int prot,
		 const struct mm_file *file, uint64_t off);
/* Writes the program's mappings to fd in the form of Linux's
 * /proc/PID/maps.  Returns 0, or -errno. */
int mm_write_maps(struct mm *mm, int fd);
/* Writes into the program's memory whatever the page protections, for
 * loading segments and the initial stack before the program runs. */
int mm_write_initial(struct mm *mm, uint64_t gva, const void *src, size_t len);
/* Sets where brk starts (just past the program image). */
void mm_set_brk_base(struct mm *mm, uint64_t brk);
/* A free, page-aligned range of len bytes for a PIE image, or 0. */
uint64_t mm_pick_base(struct mm *mm, uint64_t len, uint64_t align);

/* --- The checked accessors: the only way to reach guest memory --- */

/* Copies len bytes from/to the program's virtual memory.  0 or -EFAULT. */
int mm_copy_in(struct mm *mm, void *dst, uint64_t gva, size_t len);
int mm_copy_out(struct mm *mm, uint64_t gva, const void *src, size_t len);
/* Copies a NUL-terminated string of at most max bytes including the NUL.
 * Returns its length, -EFAULT, or -ENAMETOOLONG. */
long mm_copy_str(struct mm *mm, char *dst, uint64_t gva, size_t max);
/* Describes [gva, gva+len) as host iovecs, for zero-copy I/O.  write is
 * nonzero when the host will write into the buffer.  Returns the number of
 * iovecs used (contiguous guest-physical runs are merged), or -EFAULT if
 * the first byte is bad.  A range that turns bad part-way is cut short
 * there, as Linux returns a short count. At most maxiov entries. */
int mm_iov(struct mm *mm, uint64_t gva, size_t len, int write,
	   struct iovec *iov, int maxiov);

/* --- Memory syscalls (Linux semantics; return value or -errno) --- */
long mm_brk(struct mm *mm, uint64_t addr);
/* fd is a host descriptor (or -1); file mappings are private copies.
 * file (may be NULL) names fd's file for mm_write_maps. */
long mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags,
	     int fd, uint64_t off, const struct mm_file *file);
long mm_munmap(struct mm *mm, uint64_t addr, uint64_t len);
long mm_mprotect(struct mm *mm, uint64_t addr, uint64_t len, int prot);
long mm_mremap(struct mm *mm, uint64_t old, uint64_t oldlen, uint64_t newlen,
	       int flags, uint64_t newaddr);
long mm_madvise(struct mm *mm, uint64_t addr, uint64_t len, int advice);
/* Shared file pages already live in the host's page cache; MS_SYNC also
 * writes them to the file system. */
long mm_msync(struct mm *mm, uint64_t addr, uint64_t len, int flags);

/* --- The Dune calls (include/dune.h) --- */

/* Maps the page tables read-only at DUNE_WINDOW.  Returns DUNE_WINDOW,
 * or -EBUSY if the program has mappings there. */
long mm_dune_window(struct mm *mm);
/* Collects and clears the dirty (accessed, if accessed) bits of the
 * pages of [addr, addr+len) into bitmap, a host buffer of len / 4096
 * bits that the caller zeroed.  Returns the pages found or -errno. */
long mm_collect(struct mm *mm, uint64_t addr, uint64_t len, int accessed, uint64_t *bitmap);

/* The program's dune_trap entry and vectors (0 and 0: none), for a
 * supervisor that can deliver them itself (KCB_TRAP_ENTRY and _VECTORS). */
void mm_set_trap(struct mm *mm, uint64_t entry, uint64_t vectors);

/* --- Patched syscall sites (patch/patch.h, mm/patch.c) --- */

/* Rewriting on or off for this address space (off: every syscall keeps
 * trapping, as --no-patch asks).  0, or -1 out of memory. */
int mm_patch_enable(struct mm *mm, int on);
/* The syscall returning to ret has just been served: rewrite its site
 * into a jump to a stub if it can be.  Returns where this call must
 * return instead of ret (the stub's continuation: the bytes at ret are
 * the patch now), or 0 if the site keeps the slow path. */
uint64_t mm_patch_site(struct mm *mm, uint64_t ret);
/* Where the program resumes when it is to resume at rip: the copy in a
 * stub of an instruction a patch covers, else rip itself. */
uint64_t mm_patch_resume(struct mm *mm, uint64_t rip);
/* A #UD at rip: if rip is in a patched site's guard bytes (a jump into
 * the middle of a patch), where to resume instead (a copy, or rip itself
 * with the site's original bytes back); 0 if it is no site's. */
uint64_t mm_patch_guard(struct mm *mm, uint64_t rip);
/* The program's view of rip: the original address of an instruction
 * whose copy in a stub is running, else rip itself. */
uint64_t mm_patch_original(struct mm *mm, uint64_t rip);
/* Whether rip is on a stub page: not the program's own code, though in
 * its half of the address space (no thread switch or signal frame there). */
int mm_patch_in_stub(struct mm *mm, uint64_t rip);
/* Bumped whenever sites get their bytes back or stub pages go back to
 * the program: a call that did either leaves its own site alone (it may
 * be the one the program is about to read), and returns to its site
 * instead if its stub went. */
uint64_t mm_patch_epoch(struct mm *mm);
struct mm_patch_stats {
	uint64_t sites;                 /* patched */
	uint64_t refused[PATCH_REFUSALS];       /* by enum patch_refusal */
	uint64_t guard_hits;            /* jumps into a patch, sent on */
	uint64_t restored;              /* sites given their bytes back */
	uint64_t stub_pages;
};
void mm_patch_stats(struct mm *mm, struct mm_patch_stats *st);

/* --- Faults --- */

/* Result of a user page fault. */
enum mm_fault {
	MM_FAULT_FIXED,         /* mapped (or re-synced); retry the access */
	MM_FAULT_SEGV,          /* no mapping allows it: SIGSEGV */
	MM_FAULT_OOM,           /* guest memory is exhausted */
};
/* Handles a #PF at addr with the x86 error code; MM_FAULT_FIXED means the
 * mapping was made (queued) and the instruction can be retried. */
enum mm_fault mm_fault(struct mm *mm, uint64_t addr, uint32_t error_code);
/* Whether a mapping covers addr: a SIGSEGV there is SEGV_ACCERR (the
 * mapping forbids the access), elsewhere SEGV_MAPERR. */
int mm_mapped(struct mm *mm, uint64_t addr);

/* Every change to guest memory happens between mm_lock and mm_unlock:
 * the lock is shared with the supervisor, which takes it to apply the
 * rewrite queue, so the two never touch the queue at once.  mm_lock also
 * returns pages freed earlier to the allocator once the supervisor has
 * applied every rewrite: until then a stale translation may still reach
 * them.  mm_unlock returns the number of rewrites the supervisor must
 * apply before the program runs on. */
void mm_lock(struct mm *mm);
uint64_t mm_unlock(struct mm *mm);
/* Nonzero if more rewrites were needed than the queue holds; the caller
 * must then drop the hypervisor's whole shadow (re-register memory). */
int mm_needs_full_resync(struct mm *mm);
void mm_full_resync_done(struct mm *mm);

#endif
