/*
 * mmstress: churns the address space the way allocators do and checks
 * that memory never leaks between mappings: every new page reads zero,
 * every surviving page keeps its own pattern, and a page freed by munmap,
 * MADV_DONTNEED, mremap or mprotect round trips is never seen again.
 * Deterministic (a fixed LCG), so the output matches a native run.
 */
#include "t.h"
#include <sys/mman.h>

#define SLOTS 64
#define ROUNDS 3000

static unsigned long long seed = 12345;
static unsigned rnd(unsigned n)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (seed >> 33) % n;
}

static struct { unsigned char *p; size_t len; unsigned char tag; } slot[SLOTS];

/* Each page holds its tag in its first and last byte. */
static void fill(int i)
{
	for (size_t off = 0; off < slot[i].len; off += 4096) {
		slot[i].p[off] = slot[i].tag;
		slot[i].p[off + 4095] = slot[i].tag;
	}
}

static int intact(int i)
{
	for (size_t off = 0; off < slot[i].len; off += 4096)
		if (slot[i].p[off] != slot[i].tag || slot[i].p[off + 4095] != slot[i].tag)
			return 0;
	return 1;
}

static int zero(unsigned char *p, size_t len)
{
	for (size_t off = 0; off < len; off += 4096)
		if (p[off] || p[off + 4095])
			return 0;
	return 1;
}

int main(void)
{
	static const size_t sizes[] = { 4096, 8192, 65536, 69632, 1 << 20, 3 << 20 };
	long maps = 0, unmaps = 0, remaps = 0, drops = 0, protects = 0, bad = 0;

	for (int r = 0; r < ROUNDS; r++) {
		int i = rnd(SLOTS);
		if (!slot[i].p) {
			size_t len = sizes[rnd(6)];
			unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) { bad++; continue; }
			if (!zero(p, len)) bad++;
			slot[i].p = p, slot[i].len = len, slot[i].tag = 1 + rnd(255);
			fill(i);
			maps++;
			continue;
		}
		if (!intact(i)) bad++;
		switch (rnd(4)) {
		case 0:
			munmap(slot[i].p, slot[i].len);
			slot[i].p = NULL;
			unmaps++;
			break;
		case 1: {
			/* grow, or shrink once large, to keep the total bounded */
			size_t len = slot[i].len > (4 << 20) ? slot[i].len / 2 : slot[i].len * 2;
			unsigned char *p = mremap(slot[i].p, slot[i].len, len, MREMAP_MAYMOVE);
			if (p == MAP_FAILED) { bad++; break; }
			if (len > slot[i].len && !zero(p + slot[i].len, len - slot[i].len))
				bad++;
			slot[i].p = p, slot[i].len = len;
			fill(i);
			remaps++;
			break;
		}
		case 2:
			madvise(slot[i].p, slot[i].len, MADV_DONTNEED);
			if (!zero(slot[i].p, slot[i].len)) bad++;
			fill(i);
			drops++;
			break;
		case 3:
			mprotect(slot[i].p, slot[i].len, PROT_READ);
			if (!intact(i)) bad++;
			mprotect(slot[i].p, slot[i].len, PROT_READ | PROT_WRITE);
			slot[i].tag++;
			fill(i);
			protects++;
			break;
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].p && !intact(i))
			bad++;
	printf("maps %ld unmaps %ld remaps %ld drops %ld protects %ld\n",
	       maps, unmaps, remaps, drops, protects);
	printf("corrupted or non-zero pages seen: %ld\n", bad);
	return bad != 0;
}
