/*
 * Page faults, and the checked accessors through which the launcher
 * reaches the program's memory.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "mm_impl.h"

static int access_allowed(int prot, uint32_t err)
{
	if (err & PF_WRITE)
		return prot & PROT_WRITE;
	if (err & PF_FETCH)
		return prot & PROT_EXEC;
	return prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
}

/* A fault costs tens of microseconds on hosts where exits are dear, and a
 * program touching one page of a mapping usually touches its neighbours:
 * fill the absent entries of the aligned 64 KiB around addr (same page
 * table, same mapping) too.  New entries need no rewrite. */
#define FAULT_AROUND_PAGES 16

/* Returns a bit for each entry it filled, by index in the 64 KiB. */
static uint32_t fault_around(struct mm *mm, const struct vma *v, uint64_t addr,
			     uint64_t *pte, uint64_t bits)
{
	uint64_t base = addr & ~(FAULT_AROUND_PAGES * PAGE_SIZE - 1);
	uint64_t *first = pte - ((addr - base) / PAGE_SIZE);
	uint32_t filled = 0;

	for (int i = 0; i < FAULT_AROUND_PAGES; i++) {
		uint64_t va = base + i * PAGE_SIZE;
		if (va < v->start || va >= v->end || first[i])
			continue;
		uint64_t gpa = phys_alloc_page(mm);
		if (!gpa)
			break;
		first[i] = gpa | bits;
		filled |= 1u << i;
	}
	return filled;
}

/* The host descriptor a private file mapping's pages are read from on
 * first touch, or -1 (anonymous memory, or a file copied in whole). */
static int file_reader(struct mm *mm, const struct vma *v)
{
	return v->file && !v->shared ? mm->files[v->file - 1].fd : -1;
}

/* Reads the file's bytes into the new pages of the 64 KiB window around
 * addr that filled marks, one preadv per run of neighbours.  Pages past
 * the file's end stay zero, as the tail of the file's last page. */
static void read_pages(struct mm *mm, const struct vma *v, int fd, uint64_t addr,
		       uint64_t *pte, uint32_t filled)
{
	uint64_t base = addr & ~(FAULT_AROUND_PAGES * PAGE_SIZE - 1);
	uint64_t *first = pte - ((addr - base) / PAGE_SIZE);

	for (int i = 0; i < FAULT_AROUND_PAGES;) {
		struct iovec iov[FAULT_AROUND_PAGES];
		int n = 0;
		while (i + n < FAULT_AROUND_PAGES && (filled >> (i + n) & 1)) {
			iov[n].iov_base = mm->host + (first[i + n] & PTE_ADDR);
			iov[n].iov_len = PAGE_SIZE;
			n++;
		}
		if (n) {
			uint64_t va = base + (uint64_t)i * PAGE_SIZE;
			ssize_t r = preadv(fd, iov, n, (off_t)(v->pgoff + (va - v->start)));
			(void)r;        /* a short read leaves the rest zero */
		}
		i += n ? n : 1;
	}
}

/* Maps a zeroed page at addr: a whole 2 MiB page where the mapping covers
 * the aligned 2 MiB around it, since one fault then serves 512 pages.  A
 * private file mapping's pages get the file's bytes, 64 KiB at a time. */
static enum mm_fault map_new(struct mm *mm, const struct vma *v, uint64_t addr)
{
	uint64_t bits = pt_prot_bits(v->prot);
	uint64_t base = addr & ~(HUGE_SIZE - 1);
	int fd = file_reader(mm, v);

	if (fd < 0 && base >= v->start && base + HUGE_SIZE <= v->end) {
		uint64_t *pde = pt_entry(mm, addr, 2, 1, PTE_P | PTE_W | PTE_U);
		if (!pde)
			return MM_FAULT_OOM;
		if (!(*pde & PTE_P)) {
			uint64_t gpa = phys_alloc_huge(mm);
			if (gpa) {
				*pde = gpa | bits | PTE_PS;
				return MM_FAULT_FIXED;
			}
		}
	}
	uint64_t *pte = pt_entry(mm, addr, 1, 1, PTE_P | PTE_W | PTE_U);
	if (!pte)
		return MM_FAULT_OOM;
	uint64_t gpa = phys_alloc_page(mm);
	if (!gpa)
		return MM_FAULT_OOM;
	*pte = gpa | bits;
	uint32_t filled = fault_around(mm, v, addr, pte, bits);
	if (fd >= 0)
		read_pages(mm, v, fd, addr, pte,
			   filled | 1u << ((addr / PAGE_SIZE) % FAULT_AROUND_PAGES));
	return MM_FAULT_FIXED;
}

/* The entry is right in memory but the program still faulted on it: the
 * hypervisor holds a stale copy.  Rewrite the whole path from the guest;
 * if the same page faults again, drop the hypervisor's whole shadow (the
 * monitor re-adds the memory slot after this exit); only a third fault
 * in a row is the program's own.  The same page can be stale again long
 * after a first rewrite (after a fork, say), so one retry was not
 * enough: a SIGSEGV for nothing. */
static enum mm_fault resync(struct mm *mm, uint64_t addr)
{
	uint64_t page = addr & ~(PAGE_SIZE - 1);

	if (mm->last_resync == page) {
		if (mm->resync_whole)
			return MM_FAULT_SEGV;   /* nothing helped: never loop */
		mm->resync_whole = 1;
		mm->full_resync = 1;
		return MM_FAULT_FIXED;
	}
	mm->last_resync = page;
	mm->resync_whole = 0;
	for (int level = 4; level >= 1; level--) {
		uint64_t *e = pt_entry(mm, addr, level, 0, 0);
		if (!e)
			break;
		if (pt_queue(mm, e, 0, 0) < 0)
			return MM_FAULT_SEGV;
		if (*e & PTE_PS)
			break;
	}
	return MM_FAULT_FIXED;
}

static enum mm_fault fault_in(struct mm *mm, uint64_t addr, uint32_t err,
			      int may_resync)
{
	if (addr >= USER_VA_END)
		return MM_FAULT_SEGV;
	struct vma *v = vma_find(mm, addr);
	if (!v || !access_allowed(v->prot, err))
		return MM_FAULT_SEGV;
	int huge;
	uint64_t *e = pt_leaf(mm, addr, &huge);
	if (e && (*e & PTE_P))
		return may_resync ? resync(mm, addr) : MM_FAULT_SEGV;
	if (e)
		return MM_FAULT_SEGV;   /* a PROT_NONE page the VMA disagrees with */
	mm->last_resync = 0;
	mm->resync_whole = 0;
	return map_new(mm, v, addr);
}

enum mm_fault mm_fault(struct mm *mm, uint64_t addr, uint32_t error_code)
{
	return fault_in(mm, addr, error_code, 1);
}

enum mm_fault mm_touch(struct mm *mm, uint64_t va, int write)
{
	return fault_in(mm, va, PF_USER | (write ? PF_WRITE : 0), 0);
}

/* The guest-physical address the program reaches at va, if the page
 * tables let a user access (a write, if write) through; else 0. */
static uint64_t translate(struct mm *mm, uint64_t va, int write)
{
	uint64_t need = PTE_P | PTE_U | (write ? PTE_W : 0);
	uint64_t *table = pt_host(mm, mm->root);

	/* The vDSO lies above the program's range but is its to read:
	 * ld.so passes its strings (its soname) to write. */
	if (!write && va >= GVA_VDSO && va - GVA_VDSO < mm->vdso_size)
		return GPA_VDSO + (va - GVA_VDSO);
	if (va >= USER_VA_END)
		return 0;
	for (int l = 4; l >= 1; l--) {
		uint64_t e = table[(va >> (12 + 9 * (l - 1))) & 511];
		if ((e & need) != need)
			return 0;
		uint64_t gpa = e & PTE_ADDR;
		if (l == 2 && (e & PTE_PS)) {
			gpa = (gpa & ~(HUGE_SIZE - 1)) + (va & (HUGE_SIZE - 1));
			return gpa + PAGE_SIZE <= mm->size ? gpa : 0;
		}
		if (gpa < GPA_FREE || gpa + PAGE_SIZE > mm->size)
			return 0;
		if (l == 1)
			return gpa + (va & (PAGE_SIZE - 1));
		table = pt_host(mm, gpa);
	}
	return 0;
}

/* Like translate, but first maps a page the program may use and has not
 * touched yet, as its own access would have. */
static uint8_t *user_ptr(struct mm *mm, uint64_t va, int write)
{
	uint64_t gpa = translate(mm, va, write);

	if (!gpa && mm_touch(mm, va, write) == MM_FAULT_FIXED)
		gpa = translate(mm, va, write);
	return gpa ? mm->host + gpa : NULL;
}

static size_t page_left(uint64_t va)
{
	return PAGE_SIZE - (va & (PAGE_SIZE - 1));
}

/* Copies between the launcher's buf and the program's [gva, gva+len). */
static int copy_user(struct mm *mm, uint64_t gva, void *buf, size_t len, int write)
{
	uint8_t *b = buf;

	if (gva + len < gva)
		return -EFAULT;
	while (len > 0) {
		size_t n = len < page_left(gva) ? len : page_left(gva);
		uint8_t *p = user_ptr(mm, gva, write);
		if (!p)
			return -EFAULT;
		if (write)
			memcpy(p, b, n);
		else
			memcpy(b, p, n);
		b += n, gva += n, len -= n;
	}
	return 0;
}

int mm_copy_in(struct mm *mm, void *dst, uint64_t gva, size_t len)
{
	return copy_user(mm, gva, dst, len, 0);
}

int mm_copy_out(struct mm *mm, uint64_t gva, const void *src, size_t len)
{
	return copy_user(mm, gva, (void *)src, len, 1);
}

long mm_copy_str(struct mm *mm, char *dst, uint64_t gva, size_t max)
{
	size_t done = 0;

	while (done < max) {
		size_t n = page_left(gva);
		if (n > max - done)
			n = max - done;
		uint8_t *p = user_ptr(mm, gva, 0);
		if (!p)
			return -EFAULT;
		uint8_t *nul = memchr(p, 0, n);
		if (nul) {
			memcpy(dst + done, p, nul - p + 1);
			return done + (nul - p);
		}
		memcpy(dst + done, p, n);
		done += n, gva += n;
	}
	return -ENAMETOOLONG;
}

int mm_iov(struct mm *mm, uint64_t gva, size_t len, int write,
	   struct iovec *iov, int maxiov)
{
	int n = 0;

	if (gva + len < gva)
		return -EFAULT;
	while (len > 0 && n <= maxiov) {
		size_t chunk = len < page_left(gva) ? len : page_left(gva);
		uint8_t *p = user_ptr(mm, gva, write);
		if (!p)
			return n ? n : -EFAULT;
		if (n > 0 && (uint8_t *)iov[n - 1].iov_base + iov[n - 1].iov_len == p) {
			iov[n - 1].iov_len += chunk;
		} else {
			if (n == maxiov)
				break;
			iov[n].iov_base = p;
			iov[n].iov_len = chunk;
			n++;
		}
		gva += chunk, len -= chunk;
	}
	return n;
}

int mm_write_initial(struct mm *mm, uint64_t gva, const void *src, size_t len)
{
	const uint8_t *s = src;

	while (len > 0) {
		size_t n = len < page_left(gva) ? len : page_left(gva);
		struct vma *v = vma_find(mm, gva);
		int huge;
		if (!v)
			return -EFAULT;
		if (!pt_leaf(mm, gva, &huge) && map_new(mm, v, gva) != MM_FAULT_FIXED)
			return -ENOMEM;
		uint64_t *e = pt_leaf(mm, gva, &huge);
		uint64_t gpa = *e & PTE_ADDR;
		gpa = huge ? (gpa & ~(HUGE_SIZE - 1)) + (gva & (HUGE_SIZE - 1))
			   : gpa + (gva & (PAGE_SIZE - 1));
		memcpy(mm->host + gpa, s, n);
		s += n, gva += n, len -= n;
	}
	return 0;
}
