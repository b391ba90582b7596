/* Anonymous memory: mmap, munmap, mprotect, mremap, madvise, MAP_FIXED and friends. */
#include "t.h"
#include <stdint.h>
#include <sys/mman.h>

#define PG 4096UL

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed + (i >> 12));
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed + (i >> 12)))
			return 0;
	return 1;
}

static int zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void *mm(void *a, size_t len, int prot, int flags)
{
	return (void *)SYS6(SYS_mmap, a, len, prot, flags, -1, 0);
}

static int bad(void *p)
{
	return (uintptr_t)p > (uintptr_t)-4096;
}

int main(void)
{
	/* Basic anonymous private mapping: zero-filled, page aligned, writable. */
	size_t len = 16 * PG;
	unsigned char *a = mm(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	CHECK(!bad(a), "mmap 64 KiB anonymous");
	CHECK(((uintptr_t)a & (PG - 1)) == 0, "mapping is page aligned");
	CHECK(zero(a, len), "new mapping reads as zeros");
	fill(a, len, 1);
	CHECK(same(a, len, 1), "pattern written and read back");

	/* A length that is not a multiple of the page size is rounded up. */
	unsigned char *o = mm(NULL, 5000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	CHECK(!bad(o), "mmap 5000 bytes");
	o[8191] = 9;
	CHECK(o[8191] == 9, "byte 8191 of a 5000-byte mapping is usable (rounded to 2 pages)");
	CHECK(SYS2(SYS_munmap, o, 5000) == 0, "munmap 5000 bytes");

	/* MAP_FIXED over the middle replaces those pages with fresh zero pages. */
	unsigned char *f = mm(a + 4 * PG, 2 * PG, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	CHECK(f == a + 4 * PG, "MAP_FIXED returns the requested address");
	CHECK(zero(f, 2 * PG), "MAP_FIXED pages are zero");
	CHECK(same(a, 4 * PG, 1), "pages below the MAP_FIXED range kept");
	int ok = 1;
	for (size_t i = 6 * PG; i < len; i++)
		ok &= a[i] == (unsigned char)(i * 31 + 1 + (i >> 12));
	CHECK(ok, "pages above the MAP_FIXED range kept");

	/* MAP_FIXED_NOREPLACE over an existing mapping fails with EEXIST. */
	void *nr = mm(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
	printf("MAP_FIXED_NOREPLACE over a mapping -> %s\n",
	       bad(nr) ? errname((int)(intptr_t)nr) : "success");

	/* Errors. */
	EXPECT_ERR((long)mm(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), EINVAL, "mmap length 0");
	EXPECT_ERR((long)mm((void *)(a + 1), PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
		   EINVAL, "mmap MAP_FIXED at an unaligned address");
	EXPECT_ERR((long)mm(NULL, PG, PROT_READ, MAP_ANONYMOUS), EINVAL, "mmap without SHARED or PRIVATE");
	EXPECT_ERR(SYS2(SYS_munmap, a + 1, PG), EINVAL, "munmap at an unaligned address");
	EXPECT_ERR(SYS3(SYS_mprotect, a + 1, PG, PROT_READ), EINVAL, "mprotect at an unaligned address");
	EXPECT_ERR((long)mm(NULL, (size_t)1 << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), ENOMEM,
		   "mmap 4 EiB");

	/* mprotect to read-only and back: contents survive. */
	CHECK(SYS3(SYS_mprotect, a, len, PROT_READ) == 0, "mprotect PROT_READ");
	CHECK(same(a, 4 * PG, 1), "read-only pages still readable with the same data");
	CHECK(SYS3(SYS_mprotect, a, len, PROT_READ | PROT_WRITE) == 0, "mprotect back to PROT_READ|PROT_WRITE");
	a[0] = 0xee;
	CHECK(a[0] == 0xee, "writable again after mprotect");
	a[0] = (unsigned char)(0 * 31 + 1);
	/* PROT_NONE then back. */
	CHECK(SYS3(SYS_mprotect, a + PG, PG, PROT_NONE) == 0, "mprotect one page PROT_NONE");
	CHECK(SYS3(SYS_mprotect, a + PG, PG, PROT_READ | PROT_WRITE) == 0, "and back to read-write");
	CHECK(same(a, 4 * PG, 1), "data intact after PROT_NONE round trip");

	/* mremap: grow, possibly moving; contents preserved; new tail zero. */
	/* Map 5 pages and replace the fifth with a read-only neighbour, so that
	 * growing in place is impossible and MREMAP_MAYMOVE must move. */
	unsigned char *r = mm(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	fill(r, 4 * PG, 7);
	void *blk = mm(r + 4 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	CHECK(blk == r + 4 * PG, "placed a read-only neighbour mapping right after the region");
	EXPECT_ERR(SYS4(SYS_mremap, r, 4 * PG, 64 * PG, 0), ENOMEM,
		   "mremap grow in place with a neighbour in the way");
	unsigned char *r2 = (void *)SYS4(SYS_mremap, r, 4 * PG, 64 * PG, MREMAP_MAYMOVE);
	CHECK(!bad(r2), "mremap grow 16 KiB -> 256 KiB with MREMAP_MAYMOVE");
	CHECK(r2 != r, "the region moved");
	CHECK(same(r2, 4 * PG, 7), "moved region keeps its contents");
	CHECK(zero(r2 + 4 * PG, 60 * PG), "grown tail is zero");
	r2[64 * PG - 1] = 1;
	CHECK(r2[64 * PG - 1] == 1, "last byte of the grown region writable");
	/* Shrink in place. */
	unsigned char *r3 = (void *)SYS4(SYS_mremap, r2, 64 * PG, 2 * PG, 0);
	CHECK(r3 == r2, "mremap shrink stays in place");
	CHECK(same(r3, 2 * PG, 7), "shrunk region keeps its contents");
	/* Grow in place when there is room: first make room by unmapping above. */
	SYS2(SYS_munmap, r3 + 2 * PG, 62 * PG);
	unsigned char *r4 = (void *)SYS4(SYS_mremap, r3, 2 * PG, 8 * PG, 0);
	CHECK(r4 == r3, "mremap grow in place when the space above is free");
	CHECK(same(r4, 2 * PG, 7) && zero(r4 + 2 * PG, 6 * PG), "in-place growth keeps data, zero tail");
	/* MREMAP_FIXED: move to a chosen address. */
	unsigned char *dst = mm(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	unsigned char *r5 = (void *)SYS5(SYS_mremap, r4, 8 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	CHECK(r5 == dst, "mremap MREMAP_FIXED moves to the requested address");
	CHECK(same(r5, 2 * PG, 7), "MREMAP_FIXED keeps the contents");
	EXPECT_ERR(SYS4(SYS_mremap, r4, PG, 2 * PG, MREMAP_MAYMOVE), EFAULT, "mremap of the old, now unmapped address");
	SYS2(SYS_munmap, blk, PG);

	/* madvise: DONTNEED on private anonymous memory zero-fills; WILLNEED/NORMAL are no-ops. */
	CHECK(SYS3(SYS_madvise, a, 2 * PG, MADV_WILLNEED) == 0, "madvise WILLNEED");
	CHECK(SYS3(SYS_madvise, a, 2 * PG, MADV_NORMAL) == 0, "madvise NORMAL");
	CHECK(same(a, 2 * PG, 1), "data unchanged by WILLNEED/NORMAL");
	CHECK(SYS3(SYS_madvise, a, 2 * PG, MADV_DONTNEED) == 0, "madvise DONTNEED");
	CHECK(zero(a, 2 * PG), "DONTNEED pages read back as zero");
	CHECK(a[2 * PG] == (unsigned char)(2 * PG * 31 + 1 + 2), "page after the DONTNEED range kept");
	EXPECT_ERR(SYS3(SYS_madvise, a + 1, PG, MADV_DONTNEED), EINVAL, "madvise at an unaligned address");

	/* Partial munmap in the middle splits the mapping; both halves stay usable. */
	CHECK(SYS2(SYS_munmap, a + 8 * PG, 2 * PG) == 0, "munmap 2 pages in the middle");
	a[7 * PG] = 0x11;
	a[10 * PG] = 0x22;
	CHECK(a[7 * PG] == 0x11 && a[10 * PG] == 0x22, "pages on both sides of the hole still usable");
	CHECK(SYS2(SYS_munmap, a, len) == 0, "munmap the whole range including the hole");
	CHECK(SYS2(SYS_munmap, a, len) == 0, "munmap of an already unmapped range succeeds");

	/* MAP_SHARED|MAP_ANONYMOUS behaves like private memory within one process. */
	unsigned char *s = mm(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
	CHECK(!bad(s) && zero(s, 4 * PG), "MAP_SHARED|MAP_ANONYMOUS mapping, zero-filled");
	fill(s, 4 * PG, 3);
	CHECK(same(s, 4 * PG, 3), "shared anonymous pattern round trip");

	/* A large sparse mapping: 1 GiB with MAP_NORESERVE, touch one byte per 16 MiB. */
	size_t glen = (size_t)1 << 30;
	unsigned char *g = mm(NULL, glen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	CHECK(!bad(g), "mmap 1 GiB MAP_NORESERVE");
	ok = 1;
	for (size_t off = 0; off < glen; off += 16 << 20)
		g[off + 123] = (unsigned char)(off >> 24);
	for (size_t off = 0; off < glen; off += 16 << 20)
		ok &= g[off + 123] == (unsigned char)(off >> 24) && g[off] == 0;
	CHECK(ok, "sparse touches across 1 GiB read back");
	CHECK(SYS2(SYS_munmap, g, glen) == 0, "munmap 1 GiB");

	/* Many small mappings and unmappings (allocator churn). */
	ok = 1;
	for (int i = 0; i < 2000; i++) {
		unsigned char *p = mm(NULL, (size_t)(1 + i % 7) * PG, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS);
		if (bad(p)) { ok = 0; break; }
		p[0] = (unsigned char)i;
		ok &= p[0] == (unsigned char)i;
		ok &= SYS2(SYS_munmap, p, (size_t)(1 + i % 7) * PG) == 0;
	}
	CHECK(ok, "2000 map/touch/unmap cycles");

	/* PROT_EXEC anonymous memory: write a tiny function and call it. */
	unsigned char *x = mm(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	static const unsigned char code[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 }; /* mov $42,%eax; ret */
	memcpy(x, code, sizeof code);
	CHECK(SYS3(SYS_mprotect, x, PG, PROT_READ | PROT_EXEC) == 0, "mprotect PROT_READ|PROT_EXEC");
	int (*fn)(void) = (int (*)(void))x;
	CHECK(fn() == 42, "generated code in an anonymous mapping returns 42");
	return t_done();
}
