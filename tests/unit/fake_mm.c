/*
 * fake_mm: the mm.h accessors over a plain host buffer, for unit tests of
 * sys/ without a VM.
 *
 * "Guest memory" is [FAKE_BASE, FAKE_BASE + FAKE_SIZE), backed by one
 * malloc'd buffer; every other address is -EFAULT.  The last FAKE_RO bytes
 * are read-only: the kernel may read them but not write them.  mm_iov
 * gives one iovec per page, as if no two pages were physically
 * contiguous, so that callers' rounds of bounded iovec arrays get tested.
 * The memory syscalls are not faked: they return -ENOSYS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "mm.h"

#define FAKE_BASE 0x10000ULL
#define FAKE_SIZE (16ULL << 20)
#define FAKE_RO   (64ULL << 10)
#define FAKE_PAGE 4096ULL

struct mm {
	unsigned char *mem;
};

struct mm *mm_create(uint64_t mem_size, int split)
{
	struct mm *mm = calloc(1, sizeof *mm);

	(void)mem_size;
	if (!mm)
		return NULL;
	mm->mem = calloc(1, FAKE_SIZE);
	if (!mm->mem) {
		free(mm);
		return NULL;
	}
	return mm;
}

void mm_destroy(struct mm *mm)
{
	if (mm) {
		free(mm->mem);
		free(mm);
	}
}

void *mm_host_base(struct mm *mm)
{
	return mm->mem;
}

uint64_t mm_phys_size(struct mm *mm)
{
	(void)mm;
	return FAKE_SIZE;
}

/* How many bytes from gva on are accessible (for writing if write), and
 * where they are on the host. */
static uint64_t span(struct mm *mm, uint64_t gva, int write, unsigned char **host)
{
	uint64_t end = FAKE_BASE + FAKE_SIZE - (write ? FAKE_RO : 0);

	if (gva < FAKE_BASE || gva >= end)
		return 0;
	*host = mm->mem + (gva - FAKE_BASE);
	return end - gva;
}

int mm_copy_in(struct mm *mm, void *dst, uint64_t gva, size_t len)
{
	unsigned char *h;

	if (len == 0)
		return 0;
	if (span(mm, gva, 0, &h) < len)
		return -EFAULT;
	memcpy(dst, h, len);
	return 0;
}

int mm_copy_out(struct mm *mm, uint64_t gva, const void *src, size_t len)
{
	unsigned char *h;

	if (len == 0)
		return 0;
	if (span(mm, gva, 1, &h) < len)
		return -EFAULT;
	memcpy(h, src, len);
	return 0;
}

long mm_copy_str(struct mm *mm, char *dst, uint64_t gva, size_t max)
{
	unsigned char *h;
	uint64_t n = span(mm, gva, 0, &h), i;

	for (i = 0; i < max; i++) {
		if (i >= n)
			return -EFAULT;
		dst[i] = (char)h[i];
		if (!h[i])
			return (long)i;
	}
	return -ENAMETOOLONG;
}

int mm_iov(struct mm *mm, uint64_t gva, size_t len, int write,
	   struct iovec *iov, int maxiov)
{
	unsigned char *h;
	uint64_t n = span(mm, gva, write, &h), chunk;
	int k = 0;

	if (len == 0)
		return 0;
	if (n == 0)
		return -EFAULT;
	if (len > n)
		len = n;
	while (len > 0 && k < maxiov) {
		chunk = FAKE_PAGE - (gva & (FAKE_PAGE - 1));
		if (chunk > len)
			chunk = len;
		iov[k].iov_base = h;
		iov[k].iov_len = chunk;
		k++;
		h += chunk;
		gva += chunk;
		len -= chunk;
	}
	return k;
}

long mm_brk(struct mm *mm, uint64_t addr)
{
	(void)mm; (void)addr;
	return -ENOSYS;
}

long mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags,
	     int fd, uint64_t off, const struct mm_file *file)
{
	(void)mm; (void)addr; (void)len; (void)prot; (void)flags; (void)off; (void)file;
	/* Tell the test which host descriptor it was given. */
	return fd >= 0 ? 0x1000000 + fd : -ENOSYS;
}

long mm_munmap(struct mm *mm, uint64_t addr, uint64_t len)
{
	(void)mm; (void)addr; (void)len;
	return -ENOSYS;
}

long mm_mprotect(struct mm *mm, uint64_t addr, uint64_t len, int prot)
{
	(void)mm; (void)addr; (void)len; (void)prot;
	return -ENOSYS;
}

long mm_mremap(struct mm *mm, uint64_t old, uint64_t oldlen, uint64_t newlen,
	       int flags, uint64_t newaddr)
{
	(void)mm; (void)old; (void)oldlen; (void)newlen; (void)flags; (void)newaddr;
	return -ENOSYS;
}

long mm_madvise(struct mm *mm, uint64_t addr, uint64_t len, int advice)
{
	(void)mm; (void)addr; (void)len; (void)advice;
	return -ENOSYS;
}

long mm_msync(struct mm *mm, uint64_t addr, uint64_t len, int flags)
{
	(void)mm; (void)addr; (void)len; (void)flags;
	return -ENOSYS;
}

int mm_write_maps(struct mm *mm, int fd)
{
	(void)mm; (void)fd;
	return -ENOSYS;
}

long mm_dune_window(struct mm *mm)
{
	(void)mm;
	return -ENOSYS;
}

long mm_collect(struct mm *mm, uint64_t addr, uint64_t len, int accessed, uint64_t *bitmap)
{
	(void)mm; (void)addr; (void)len; (void)accessed; (void)bitmap;
	return -ENOSYS;
}

void mm_set_trap(struct mm *mm, uint64_t entry, uint64_t vectors)
{
	(void)mm; (void)entry; (void)vectors;
}
