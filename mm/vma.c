/*
 * The program's address-space map and the memory syscalls.
 *
 * Anonymous memory is mapped lazily: mmap records a VMA, and the first
 * touch faults the page in (see access.c).  File mappings are private
 * copies read at mmap time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mm_impl.h"

#define MMAP_MIN_ADDR   0x10000UL
#define PROT_ALL        (PROT_READ | PROT_WRITE | PROT_EXEC)
#define PREFAULT_MAX    (64UL << 10)

static uint64_t page_up(uint64_t x)
{
	return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* ---- the VMA list -------------------------------------------------- */

struct vma *vma_find(struct mm *mm, uint64_t addr)
{
	int lo = 0, hi = mm->nvma;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (addr < mm->vma[mid].start)
			hi = mid;
		else if (addr >= mm->vma[mid].end)
			lo = mid + 1;
		else
			return &mm->vma[mid];
	}
	return NULL;
}

/* Index of the first VMA that ends after addr. */
static int vma_after(struct mm *mm, uint64_t addr)
{
	int i = 0;

	while (i < mm->nvma && mm->vma[i].end <= addr)
		i++;
	return i;
}

static int range_is_free(struct mm *mm, uint64_t start, uint64_t end)
{
	int i = vma_after(mm, start);

	return i == mm->nvma || mm->vma[i].start >= end;
}

static int range_is_mapped(struct mm *mm, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end;) {
		struct vma *v = vma_find(mm, a);
		if (!v)
			return 0;
		a = v->end;
	}
	return 1;
}

static int vma_reserve(struct mm *mm, int extra)
{
	if (mm->nvma + extra <= mm->vma_cap)
		return 0;
	int cap = mm->vma_cap ? mm->vma_cap * 2 : 64;
	while (cap < mm->nvma + extra)
		cap *= 2;
	if (cap > 65536)
		return -ENOMEM;         /* Linux's max_map_count is similar */
	struct vma *v = realloc(mm->vma, cap * sizeof *v);
	if (!v)
		return -ENOMEM;
	mm->vma = v;
	mm->vma_cap = cap;
	return 0;
}

/* Moves v's start up to start, its file offset with it. */
static void vma_advance(struct vma *v, uint64_t start)
{
	v->pgoff += start - v->start;
	v->start = start;
}

/* Drops [start, end) from the VMA list, splitting VMAs at its edges. */
static int vma_cut(struct mm *mm, uint64_t start, uint64_t end)
{
	if (vma_reserve(mm, 1) < 0)
		return -ENOMEM;
	for (int i = vma_after(mm, start); i < mm->nvma && mm->vma[i].start < end;) {
		struct vma *v = &mm->vma[i];
		if (v->start < start && v->end > end) {
			memmove(v + 1, v, (mm->nvma - i) * sizeof *v);
			mm->nvma++;
			v[0].end = start;
			vma_advance(&v[1], end);
			return 0;
		}
		if (v->start < start) {
			v->end = start;
			i++;
		} else if (v->end > end) {
			vma_advance(v, end);
			i++;
		} else {
			memmove(v, v + 1, (mm->nvma - i - 1) * sizeof *v);
			mm->nvma--;
		}
	}
	return 0;
}

/* Whether w can continue v (v just below w): the same kind and, for a
 * file, the next bytes of the same file. */
static int vma_joins(const struct vma *v, const struct vma *w)
{
	return v->prot == w->prot && v->maxprot == w->maxprot && v->shared == w->shared &&
	       v->stub == w->stub && v->file == w->file &&
	       (!v->file || v->pgoff + (v->end - v->start) == w->pgoff);
}

/* Inserts a VMA over a free range, merging with equal neighbours. */
static int vma_insert_like(struct mm *mm, const struct vma *new)
{
	uint64_t start = new->start, end = new->end;
	int i = vma_after(mm, start);

	if (i > 0 && mm->vma[i - 1].end == start && vma_joins(&mm->vma[i - 1], new)) {
		mm->vma[i - 1].end = end;
		if (i < mm->nvma && mm->vma[i].start == end && vma_joins(new, &mm->vma[i])) {
			mm->vma[i - 1].end = mm->vma[i].end;
			memmove(&mm->vma[i], &mm->vma[i + 1], (mm->nvma - i - 1) * sizeof mm->vma[0]);
			mm->nvma--;
		}
		return 0;
	}
	if (i < mm->nvma && mm->vma[i].start == end && vma_joins(new, &mm->vma[i])) {
		mm->vma[i].start = start;
		mm->vma[i].pgoff = new->pgoff;
		return 0;
	}
	if (vma_reserve(mm, 1) < 0)
		return -ENOMEM;
	memmove(&mm->vma[i + 1], &mm->vma[i], (mm->nvma - i) * sizeof mm->vma[0]);
	mm->vma[i] = *new;
	mm->nvma++;
	return 0;
}

/* An ordinary private mapping. */
static int vma_insert(struct mm *mm, uint64_t start, uint64_t end, int prot)
{
	struct vma v = { start, end, prot, PROT_ALL, 0, 0, 0, 0 };

	return vma_insert_like(mm, &v);
}

/* A private mapping of file (NULL: anonymous) from offset off. */
static int vma_insert_file(struct mm *mm, uint64_t start, uint64_t end, int prot,
			   const struct mm_file *file, uint64_t off)
{
	struct vma v = { start, end, prot, PROT_ALL, 0, 0, mm_file_index(mm, file), off };

	return vma_insert_like(mm, &v);
}

int vma_insert_stub(struct mm *mm, uint64_t va)
{
	struct vma v = { va, va + PAGE_SIZE, PROT_READ | PROT_EXEC, PROT_READ | PROT_EXEC, 0, 1, 0, 0 };

	if (va < MMAP_MIN_ADDR || va + PAGE_SIZE > USER_MMAP_TOP ||
	    !range_is_free(mm, va, va + PAGE_SIZE))
		return -1;
	return vma_insert_like(mm, &v) < 0 ? -1 : 0;
}

int vma_remove(struct mm *mm, uint64_t start, uint64_t end)
{
	return vma_cut(mm, start, end);
}

/* Stub pages give way to anything the program does with their range:
 * they are not its, and it must find that range as it left it. */
static void yield_stubs(struct mm *mm, uint64_t start, uint64_t end)
{
	for (int i = vma_after(mm, start); i < mm->nvma && mm->vma[i].start < end; i++) {
		if (mm->vma[i].stub) {
			patch_evacuate(mm, start, end);
			return;
		}
	}
}

/* ---- creation ------------------------------------------------------ */

/* Guest RAM: MAP_NORESERVE, so it costs nothing until the guest uses it,
 * and 2 MiB-aligned, so a guest 2 MiB page can be one host huge page
 * (see phys_alloc_huge). */
static uint8_t *map_guest_ram(uint64_t size)
{
	uint8_t *p = mmap(NULL, size + HUGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	uint64_t lead = (HUGE_SIZE - ((uint64_t)p & (HUGE_SIZE - 1))) & (HUGE_SIZE - 1);
	if (lead)
		munmap(p, lead);
	munmap(p + lead + size, HUGE_SIZE - lead);
	return p + lead;
}

struct mm *mm_create(uint64_t mem_size, int split)
{
	struct mm *mm = calloc(1, sizeof *mm);

	if (!mm)
		return NULL;
	mem_size = (mem_size + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
	if (mem_size < 16 * HUGE_SIZE)
		mem_size = 16 * HUGE_SIZE;
	mm->size = mem_size;
	mm->host = map_guest_ram(mem_size);
	if (!mm->host)
		goto fail;
	mm->nchunks = mem_size / HUGE_SIZE;
	mm->chunk = calloc(mm->nchunks, sizeof *mm->chunk);
	if (!mm->chunk)
		goto fail;
	phys_init(mm);
	mm->kcb = (struct kcb *)(mm->host + GPA_KCB);
	mm->root = GPA_ROOT;
	mm->split = split;
	return mm;
fail:
	mm_destroy(mm);
	errno = ENOMEM;
	return NULL;
}

void mm_destroy(struct mm *mm)
{
	if (!mm)
		return;
	if (mm->host)
		munmap(mm->host, mm->size);
	free(mm->chunk);
	free(mm->vma);
	free(mm->file_page);
	mm_files_free(mm);
	free(mm->pending);
	mm_patch_free(mm);
	free(mm);
}

void *mm_host_base(struct mm *mm) { return mm->host; }
uint64_t mm_phys_size(struct mm *mm) { return mm->size; }
uint64_t mm_root(struct mm *mm) { return mm->root; }
uint64_t mm_peak_bytes(struct mm *mm) { return mm->peak; }
int mm_needs_full_resync(struct mm *mm) { return mm->full_resync; }

/* Called with the guest stopped, after the memory slot was re-registered:
 * every shadow translation is gone, so nothing queued matters any more. */
void mm_full_resync_done(struct mm *mm)
{
	mm_lock(mm);
	mm->full_resync = 0;
	mm->kcb->nupdates = 0;
	mm_unlock(mm);
}

void *mm_gpa(struct mm *mm, uint64_t gpa, uint64_t len)
{
	if (gpa > mm->size || len > mm->size - gpa)
		return NULL;
	return mm->host + gpa;
}

/* Maps [va, va+len) to guest-physical gpa with the given leaf bits, in
 * the tables under root. */
static int map_phys_in(struct mm *mm, uint64_t root, uint64_t va, uint64_t gpa,
		       uint64_t len, uint64_t bits, uint64_t table_flags)
{
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t *e = pt_entry_in(mm, root, va + off, 1, 1, table_flags);
		if (!e)
			return -ENOMEM;
		*e = (gpa + off) | bits;
	}
	return 0;
}

static int map_phys(struct mm *mm, uint64_t va, uint64_t gpa, uint64_t len,
		    uint64_t bits, uint64_t table_flags)
{
	return map_phys_in(mm, mm->root, va, gpa, len, bits, table_flags);
}

/* The vsyscall page shares the top PML4 slot with the supervisor: the
 * slot's entry allows user access, and the supervisor's own 1 GiB below
 * (a separate PDPT entry, without U outside the split) keeps it out of
 * reach. */
static int map_vsyscall(struct mm *mm, const struct kernel_header *kh, uint64_t root)
{
	const uint64_t flags = PTE_P | PTE_W | PTE_U;
	uint64_t *pdpte = pt_entry_in(mm, root, GVA_VSYSCALL, 3, 1, flags);
	uint64_t *kernel = pt_entry_in(mm, root, GVA_KERNEL, 3, 0, 0);

	if (!pdpte || (GVA_VSYSCALL >> 30) == (GVA_KERNEL >> 30) ||
	    (!mm->split && (!kernel || (*kernel & PTE_U))))
		return -EINVAL;
	*pt_entry_in(mm, root, GVA_VSYSCALL, 4, 0, 0) |= PTE_U;
	return map_phys_in(mm, root, GVA_VSYSCALL, GPA_KERNEL + kh->vsyscall_off,
			   PAGE_SIZE, PTE_P | PTE_U, flags);
}

/* The split's user root maps of the supervisor only what the hypervisor
 * reads or writes to deliver an exception from user mode: the IDT, the
 * GDT and TSS, and the stacks the gates switch to.  None of it is user
 * accessible there, so the program reaches nothing of the supervisor. */
static int map_user_root_supervisor(struct mm *mm, const struct kernel_header *kh)
{
	const uint64_t ro = PTE_P | PTE_NX, rw = PTE_P | PTE_W | PTE_NX;
	const uint64_t tables = PTE_P | PTE_W | PTE_U;
	uint64_t stack = kh->stack_top - SUPERVISOR_STACK;
	int r = 0;

	for (uint64_t va = kh->tables; !r && va < kh->idt + PAGE_SIZE; va += PAGE_SIZE)
		r = map_phys_in(mm, GPA_USER_ROOT, va, va - GVA_KERNEL_BASE, PAGE_SIZE, ro, tables);
	if (!r)
		r = map_phys_in(mm, GPA_USER_ROOT, stack, stack - GVA_KERNEL_BASE,
				kh->df_stack_top - stack, rw, tables);
	return r;
}

int mm_map_supervisor(struct mm *mm, const void *image, size_t image_len,
		      size_t entry_off, size_t entry_len)
{
	/* PVM's native supervisor mode livelocks on any page without user
	 * access that its supervisor touches: there, the kernel root maps
	 * everything user-accessible and the program never runs on it. */
	const uint64_t u = mm->split ? PTE_U : 0;
	const uint64_t kflags = PTE_P | PTE_W | u;
	const struct kernel_header *kh = image;
	uint64_t text_end = kh->tables - GVA_KERNEL;

	if (image_len > KERNEL_MAX || kh->image_end - GVA_KERNEL > KERNEL_MAX ||
	    text_end > image_len || kh->idt != kh->tables + PAGE_SIZE ||
	    kh->df_stack_top != kh->stack_top + PAGE_SIZE)
		return -EINVAL;
	memcpy(mm->host + GPA_KERNEL, image, image_len);
	/* All of guest-physical memory, for the supervisor's rewrites. */
	for (uint64_t pa = 0; pa < mm->size; pa += HUGE_SIZE) {
		uint64_t *pde = pt_entry(mm, GVA_DIRECT + pa, 2, 1, kflags);
		if (!pde)
			return -ENOMEM;
		*pde = pa | kflags | PTE_PS | PTE_NX;
	}
	/* The supervisor's window: text read-only, the rest no-execute. */
	int r = map_phys(mm, GVA_KERNEL, GPA_KERNEL, page_up(text_end),
			 PTE_P | u, kflags);
	if (!r)
		r = map_phys(mm, GVA_KERNEL + page_up(text_end),
			     GPA_KERNEL + page_up(text_end),
			     GPA_FREE - GPA_KERNEL - page_up(text_end),
			     kflags | PTE_NX, kflags);
	/* The user entry page and mailbox, like a vDSO and its data page. */
	if (!r)
		r = map_phys(mm, GVA_ENTRY, GPA_KERNEL + entry_off,
			     page_up(entry_len), PTE_P | PTE_U, kflags | PTE_U);
	if (!r)
		r = map_phys(mm, GVA_MBOX, GPA_MBOX, PAGE_SIZE,
			     PTE_P | PTE_W | PTE_U | PTE_NX, kflags | PTE_U);
	if (!r)
		r = map_vsyscall(mm, kh, mm->root);
	if (!r && mm->split)
		r = map_user_root_supervisor(mm, kh);
	if (!r && mm->split)
		r = map_vsyscall(mm, kh, GPA_USER_ROOT);
	return r;
}

int mm_map_vdso(struct mm *mm, const void *image, size_t len)
{
	if (len == 0 || len > VDSO_MAX)
		return -EINVAL;
	memcpy(mm->host + GPA_VDSO, image, len);
	mm->vdso_size = page_up(len);
	return map_phys(mm, GVA_VDSO, GPA_VDSO, page_up(len), PTE_P | PTE_U,
			PTE_P | PTE_W | PTE_U);
}

int mm_map_fixed(struct mm *mm, uint64_t addr, uint64_t len, int prot,
		 const struct mm_file *file, uint64_t off)
{
	uint64_t end = addr + page_up(len);

	if ((addr & (PAGE_SIZE - 1)) || end < addr || end > USER_VA_END)
		return -EINVAL;
	if (vma_cut(mm, addr, end) < 0)
		return -ENOMEM;
	return vma_insert_file(mm, addr, end, prot, file, off);
}

void mm_set_brk_base(struct mm *mm, uint64_t brk)
{
	mm->brk_base = mm->brk = page_up(brk);
}

/* The highest free range of len bytes below top, aligned, or 0. */
static uint64_t find_free(struct mm *mm, uint64_t len, uint64_t top, uint64_t align)
{
	uint64_t end = top;

	for (int i = mm->nvma - 1; i >= -1; i--) {
		uint64_t floor = i >= 0 ? mm->vma[i].end : MMAP_MIN_ADDR;
		if (floor < end && end - floor >= len) {
			uint64_t start = (end - len) & ~(align - 1);
			if (start >= floor)
				return start;
		}
		if (i >= 0 && mm->vma[i].start < end)
			end = mm->vma[i].start;
	}
	return 0;
}

uint64_t mm_pick_base(struct mm *mm, uint64_t len, uint64_t align)
{
	return find_free(mm, len, USER_MMAP_TOP / 2, align);
}

/* ---- the memory syscalls ------------------------------------------- */

/* A range the program may map or change: below the entry page, and
 * clear of the Dune window, whose "pages" are the page tables. */
static int user_range_ok(struct mm *mm, uint64_t addr, uint64_t len)
{
	if (addr + len < addr || addr + len > USER_VA_END)
		return 0;
	return !mm->window || addr + len <= DUNE_WINDOW || addr >= DUNE_WINDOW_END;
}

long mm_munmap(struct mm *mm, uint64_t addr, uint64_t len)
{
	if ((addr & (PAGE_SIZE - 1)) || len == 0)
		return -EINVAL;
	len = page_up(len);
	if (!len || !user_range_ok(mm, addr, len))
		return -EINVAL;
	yield_stubs(mm, addr, addr + len);
	patch_forget(mm, addr, addr + len, 0);
	if (vma_cut(mm, addr, addr + len) < 0)
		return -ENOMEM;
	return pt_unmap_range(mm, addr, addr + len) < 0 ? -ENOMEM : 0;
}

static int read_file_into(struct mm *mm, uint64_t addr, uint64_t len, int fd,
			  uint64_t off)
{
	char buf[65536];

	while (len > 0) {
		size_t want = len < sizeof buf ? len : sizeof buf;
		ssize_t got = pread(fd, buf, want, off);
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		if (mm_write_initial(mm, addr, buf, got) < 0)
			return -ENOMEM;
		addr += got, off += got, len -= got;
	}
	return 0;
}

/* Backs guest pages with the host file itself (MAP_SHARED over their
 * guest-physical memory), so stores reach the page cache and other
 * readers, as on Linux.  Only pages inside the file are mapped. */
static long map_shared_file(struct mm *mm, uint64_t addr, uint64_t len,
			    int prot, int fd, uint64_t off, const struct mm_file *file)
{
	struct stat st;
	int mode = fcntl(fd, F_GETFL);
	int maxprot = PROT_READ | PROT_EXEC | ((mode & O_ACCMODE) == O_RDWR ? PROT_WRITE : 0);

	if (mode < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	if ((mode & O_ACCMODE) == O_WRONLY || (prot & ~maxprot))
		return -EACCES;
	if (!mm->file_page) {
		mm->file_page = calloc(mm->size / PAGE_SIZE / 64 + 1, 8);
		if (!mm->file_page)
			return -ENOMEM;
	}
	struct vma v = { addr, addr + len, prot, maxprot, 1, 0, mm_file_index(mm, file), off };
	if (vma_insert_like(mm, &v) < 0)
		return -ENOMEM;
	int host_prot = PROT_READ | (maxprot & PROT_WRITE);
	for (uint64_t o = 0; o < len && off + o < (uint64_t)st.st_size; o += PAGE_SIZE) {
		uint64_t gpa = phys_alloc_page(mm);
		uint64_t *pte = gpa ? pt_entry(mm, addr + o, 1, 1, PTE_P | PTE_W | PTE_U) : NULL;
		if (!pte || mmap(mm->host + gpa, PAGE_SIZE, host_prot,
				 MAP_SHARED | MAP_FIXED, fd, off + o) == MAP_FAILED) {
			if (gpa)
				phys_free_page(mm, gpa);
			mm_munmap(mm, addr, len);
			return -ENOMEM;
		}
		mm->file_page[gpa / PAGE_SIZE / 64] |= 1ULL << (gpa / PAGE_SIZE % 64);
		*pte = gpa | pt_prot_bits(prot);
	}
	return addr;
}

/* Anonymous shared memory: the pages of a memfd of its own, so that a
 * fork child (a copy of the launcher) shares them, as Linux's would. */
static long map_shared_anon(struct mm *mm, uint64_t addr, uint64_t len, int prot)
{
	int fd = memfd_create("dunerun-shared", MFD_CLOEXEC);

	if (fd < 0)
		return -ENOMEM;
	static const struct mm_file name = { "/dev/zero (deleted)", 0, 0 };
	long r = ftruncate(fd, (off_t)len) < 0 ? -ENOMEM :
		 map_shared_file(mm, addr, len, prot, fd, 0, &name);
	close(fd);
	return r;
}

/* Whether a private mapping of regular file fd may have its pages read
 * when first touched, as Linux reads them, rather than all copied now:
 * a loader's mapping of a whole library, most of it never used, costs
 * only what is used.  Needs the file's name (mm_file_index) to keep a
 * descriptor under. */
static int lazy_file(struct mm *mm, int fd, const struct mm_file *file)
{
	struct stat st;
	uint32_t idx = mm_file_index(mm, file);

	return idx && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	       mm_file_keep_fd(mm, idx, fd) == 0;
}

long mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags,
	     int fd, uint64_t off, const struct mm_file *file)
{
	int type = flags & 0xf;
	int fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);

	if (len == 0 || (off & (PAGE_SIZE - 1)) || (prot & ~PROT_ALL))
		return -EINVAL;
	if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	/* Before anything is unmapped: a file must be open for reading. */
	if (!(flags & MAP_ANONYMOUS) && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	len = page_up(len);
	if (!len || len > USER_VA_END)
		return -ENOMEM;
	if (fixed) {
		if (addr & (PAGE_SIZE - 1))
			return -EINVAL;
		if (!user_range_ok(mm, addr, len))
			return -ENOMEM;
		if (addr < MMAP_MIN_ADDR)
			return -EPERM;
		yield_stubs(mm, addr, addr + len);
		if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) &&
		    !range_is_free(mm, addr, addr + len))
			return -EEXIST;
		long r = mm_munmap(mm, addr, len);
		if (r < 0)
			return r;
	} else {
		addr = page_up(addr);
		if (addr >= MMAP_MIN_ADDR && user_range_ok(mm, addr, len))
			yield_stubs(mm, addr, addr + len);      /* the hint is the program's */
		if (!addr || addr < MMAP_MIN_ADDR || !user_range_ok(mm, addr, len) ||
		    !range_is_free(mm, addr, addr + len)) {
			uint64_t top = (flags & MAP_32BIT) ? 0x80000000UL : USER_MMAP_TOP;
			addr = find_free(mm, len, top, PAGE_SIZE);
			if (!addr)
				return -ENOMEM;
		}
	}
	if (!(flags & MAP_ANONYMOUS) && type != MAP_PRIVATE)
		return map_shared_file(mm, addr, len, prot, fd, off, file);
	if (type != MAP_PRIVATE)
		return map_shared_anon(mm, addr, len, prot);
	if (vma_insert_file(mm, addr, addr + len, prot, flags & MAP_ANONYMOUS ? NULL : file,
			    off) < 0)
		return -ENOMEM;
	if ((flags & MAP_ANONYMOUS) && len <= PREFAULT_MAX && prot) {
		/* Small mappings are about to be used whole (malloc's); a
		 * fault per page costs far more than filling them now. */
		for (uint64_t a = addr; a < addr + len; a += PAGE_SIZE)
			mm_touch(mm, a, 0);
	}
	if (!(flags & MAP_ANONYMOUS) && !lazy_file(mm, fd, file)) {
		int r = read_file_into(mm, addr, len, fd, off);
		if (r < 0) {
			mm_munmap(mm, addr, len);
			return r;
		}
	}
	return addr;
}

long mm_mprotect(struct mm *mm, uint64_t addr, uint64_t len, int prot)
{
	if ((addr & (PAGE_SIZE - 1)) || (prot & ~PROT_ALL))
		return -EINVAL;
	len = page_up(len);
	if (len == 0)
		return 0;
	if (!user_range_ok(mm, addr, len))
		return -ENOMEM;
	yield_stubs(mm, addr, addr + len);
	if (!range_is_mapped(mm, addr, addr + len))
		return -ENOMEM;
	for (uint64_t a = addr; a < addr + len; a = vma_find(mm, a)->end)
		if (prot & ~vma_find(mm, a)->maxprot)
			return -EACCES;
	/* A program that changes its text's protection (to read it, or to
	 * rewrite it) sees and edits its own bytes, not our patches. */
	patch_forget(mm, addr, addr + len, 1);
	/* Each VMA in the range keeps its kind; only prot changes. */
	for (uint64_t a = addr; a < addr + len;) {
		struct vma v = *vma_find(mm, a);
		vma_advance(&v, a);
		v.end = v.end < addr + len ? v.end : addr + len;
		v.prot = prot;
		if (vma_cut(mm, v.start, v.end) < 0 || vma_insert_like(mm, &v) < 0)
			return -ENOMEM;
		a = v.end;
	}
	return pt_protect_range(mm, addr, addr + len, prot) < 0 ? -ENOMEM : 0;
}

long mm_madvise(struct mm *mm, uint64_t addr, uint64_t len, int advice)
{
	if (addr & (PAGE_SIZE - 1))
		return -EINVAL;
	len = page_up(len);
	if (!user_range_ok(mm, addr, len))
		return -EINVAL;
	yield_stubs(mm, addr, addr + len);
	if (!range_is_mapped(mm, addr, addr + len))
		return -ENOMEM;
	/* MADV_FREE lets Linux drop the pages lazily, under memory pressure;
	 * keeping them is one of its allowed outcomes, and saves a refault.
	 * MADV_DONTNEED drops private pages now: they read back as zero.
	 * Shared file pages stay: they read back from the file anyway. */
	if (advice != MADV_DONTNEED)
		return 0;
	for (uint64_t a = addr; a < addr + len;) {
		struct vma *v = vma_find(mm, a);
		uint64_t end = v->end < addr + len ? v->end : addr + len;
		if (!v->shared)
			patch_forget(mm, a, end, 0);
		if (!v->shared && pt_unmap_range(mm, a, end) < 0)
			return -ENOMEM;
		a = end;
	}
	return 0;
}

long mm_msync(struct mm *mm, uint64_t addr, uint64_t len, int flags)
{
	if ((addr & (PAGE_SIZE - 1)) || (flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) ||
	    ((flags & MS_ASYNC) && (flags & MS_SYNC)))
		return -EINVAL;
	len = page_up(len);
	if (!user_range_ok(mm, addr, len))
		return -ENOMEM;
	yield_stubs(mm, addr, addr + len);
	if (!range_is_mapped(mm, addr, addr + len))
		return -ENOMEM;
	if (!(flags & MS_SYNC))
		return 0;
	for (uint64_t a = addr; a < addr + len; a += PAGE_SIZE) {
		int huge;
		uint64_t *e = vma_find(mm, a)->shared ? pt_leaf(mm, a, &huge) : NULL;
		if (e && msync(mm->host + (*e & PTE_ADDR), PAGE_SIZE, MS_SYNC) < 0)
			return -EIO;
	}
	return 0;
}

long mm_brk(struct mm *mm, uint64_t addr)
{
	uint64_t old_end = page_up(mm->brk), new_end = page_up(addr);

	if (addr < mm->brk_base || new_end < addr || new_end > USER_MMAP_TOP / 2)
		return mm->brk;
	if (new_end < old_end) {
		if (mm_munmap(mm, new_end, old_end - new_end) < 0)
			return mm->brk;
	} else if (new_end > old_end) {
		yield_stubs(mm, old_end, new_end);
		if (!range_is_free(mm, old_end, new_end) ||
		    vma_insert(mm, old_end, new_end, PROT_READ | PROT_WRITE) < 0)
			return mm->brk;
	}
	mm->brk = addr;
	return mm->brk;
}

long mm_mremap(struct mm *mm, uint64_t old, uint64_t oldlen, uint64_t newlen,
	       int flags, uint64_t newaddr)
{
	if ((old & (PAGE_SIZE - 1)) || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	oldlen = page_up(oldlen);
	newlen = page_up(newlen);
	if (newlen == 0 || oldlen == 0 || !user_range_ok(mm, old, oldlen) ||
	    !user_range_ok(mm, old, newlen))
		return -EINVAL;
	struct vma *v = vma_find(mm, old);
	if (!v || old + oldlen > v->end)
		return -EFAULT;
	struct vma kind = *v;
	if (!(flags & MREMAP_FIXED)) {
		if (newlen <= oldlen) {
			long r = mm_munmap(mm, old + newlen, oldlen - newlen);
			return r < 0 ? r : (long)old;
		}
		yield_stubs(mm, old + oldlen, old + newlen);
		if (range_is_free(mm, old + oldlen, old + newlen)) {
			vma_advance(&kind, old + oldlen);
			kind.end = old + newlen;
			return vma_insert_like(mm, &kind) < 0 ? -ENOMEM : (long)old;
		}
		if (!(flags & MREMAP_MAYMOVE))
			return -ENOMEM;
		newaddr = find_free(mm, newlen, USER_MMAP_TOP, PAGE_SIZE);
		if (!newaddr)
			return -ENOMEM;
	} else {
		if ((newaddr & (PAGE_SIZE - 1)) || !user_range_ok(mm, newaddr, newlen) ||
		    (newaddr < old + oldlen && old < newaddr + newlen))
			return -EINVAL;
		long r = mm_munmap(mm, newaddr, newlen);
		if (r < 0)
			return r;
	}
	uint64_t keep = oldlen < newlen ? oldlen : newlen;
	/* The pages move, and a patch's jump is relative. */
	patch_forget(mm, old, old + oldlen, 1);
	vma_advance(&kind, old);
	kind.start = newaddr;
	kind.end = newaddr + newlen;
	if (vma_insert_like(mm, &kind) < 0 ||
	    pt_move_range(mm, old, newaddr, keep) < 0)
		return -ENOMEM;
	long r = mm_munmap(mm, old, oldlen);
	return r < 0 ? r : (long)newaddr;
}

int mm_mapped(struct mm *mm, uint64_t addr)
{
	return vma_find(mm, addr) != NULL;
}

/* The recursive PML4 entry makes the page tables readable at
 * DUNE_WINDOW: a walk through it ends one level early, at a table page.
 * Without W, and NX, nothing through it can be written or run.  Its
 * VMA has no access and cannot be changed, so no fault maps anything
 * there and no call reaches its "pages". */
long mm_dune_window(struct mm *mm)
{
	uint64_t root = mm->split ? GPA_USER_ROOT : mm->root;

	if (mm->window)
		return (long)DUNE_WINDOW;
	yield_stubs(mm, DUNE_WINDOW, DUNE_WINDOW_END);
	if (!range_is_free(mm, DUNE_WINDOW, DUNE_WINDOW_END))
		return -EBUSY;
	struct vma v = { DUNE_WINDOW, DUNE_WINDOW_END, PROT_NONE, PROT_NONE, 1, 0, 0, 0 };
	if (vma_insert_like(mm, &v) < 0)
		return -ENOMEM;
	if (pt_set(mm, &pt_host(mm, root)[DUNE_WINDOW_SLOT], root | PTE_P | PTE_U | PTE_NX, 0, 0) < 0)
		return -ENOMEM;
	mm->window = 1;
	return (long)DUNE_WINDOW;
}

long mm_collect(struct mm *mm, uint64_t addr, uint64_t len, int accessed, uint64_t *bitmap)
{
	if ((addr | len) & (PAGE_SIZE - 1))
		return -EINVAL;
	if (!user_range_ok(mm, addr, len))
		return -ENOMEM;
	long n = pt_collect_range(mm, addr, addr + len, accessed ? PTE_A : PTE_D, bitmap);
	return n < 0 ? -ENOMEM : n;
}

void mm_set_trap(struct mm *mm, uint64_t entry, uint64_t vectors)
{
	/* Written while the program waits in dune_trap: no stub reads them. */
	__atomic_store_n(&mm->kcb->trap_entry, entry, __ATOMIC_RELEASE);
	__atomic_store_n(&mm->kcb->trap_vectors, vectors, __ATOMIC_RELEASE);
}
