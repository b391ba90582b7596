/*
 * The guest-physical page allocator.
 *
 * Memory is handed out in 2 MiB chunks, either whole (for a 2 MiB page)
 * or split into 4 KiB pages.  Every free page is zero: pages are cleared
 * when freed, and a chunk that becomes wholly free is given back to the
 * host with MADV_DONTNEED, which also zeroes it and releases host memory.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mm_impl.h"

int phys_init(struct mm *mm)
{
	/* The first chunks hold the supervisor, the KCB and the mailbox. */
	for (uint64_t c = 0; c < GPA_FREE / HUGE_SIZE; c++)
		mm->chunk[c].state = CHUNK_RESERVED;
	mm->next_free = GPA_FREE / HUGE_SIZE;
	mm->split_hint = mm->next_free;
	return 0;
}

static void account(struct mm *mm, int64_t bytes)
{
	mm->used += bytes;
	if (mm->used > mm->peak)
		mm->peak = mm->used;
}

static int64_t take_free_chunk(struct mm *mm)
{
	for (uint32_t n = 0; n < mm->nchunks; n++) {
		uint32_t c = (mm->next_free + n) % mm->nchunks;
		if (mm->chunk[c].state == CHUNK_FREE) {
			mm->next_free = c + 1;
			return c;
		}
	}
	return -1;
}

uint64_t phys_alloc_huge(struct mm *mm)
{
	int64_t c = take_free_chunk(mm);

	if (c < 0)
		return 0;
	mm->chunk[c].state = CHUNK_HUGE;
	account(mm, HUGE_SIZE);
	/* One host huge page lets the hypervisor map the whole guest 2 MiB
	 * page at once: first touch gets several times cheaper.  Chunks of
	 * small pages stay small, so the host zeroes only what is used. */
	madvise(mm->host + (uint64_t)c * HUGE_SIZE, HUGE_SIZE, MADV_HUGEPAGE);
	return (uint64_t)c * HUGE_SIZE;
}

static int take_page_in(struct mm *mm, uint32_t c, uint64_t *gpa)
{
	struct chunk *ch = &mm->chunk[c];

	if (ch->state != CHUNK_SPLIT || ch->used == PAGES_PER_HUGE)
		return 0;
	for (int w = 0; w < 8; w++) {
		if (ch->bitmap[w] == ~0ULL)
			continue;
		int bit = __builtin_ctzll(~ch->bitmap[w]);
		ch->bitmap[w] |= 1ULL << bit;
		ch->used++;
		*gpa = (uint64_t)c * HUGE_SIZE + (uint64_t)(w * 64 + bit) * PAGE_SIZE;
		return 1;
	}
	return 0;
}

uint64_t phys_alloc_page(struct mm *mm)
{
	uint64_t gpa;

	if (take_page_in(mm, mm->split_hint, &gpa))
		goto done;
	for (uint32_t c = 0; c < mm->nchunks; c++) {
		if (take_page_in(mm, c, &gpa)) {
			mm->split_hint = c;
			goto done;
		}
	}
	int64_t c = take_free_chunk(mm);
	if (c < 0)
		return 0;
	mm->chunk[c].state = CHUNK_SPLIT;
	mm->chunk[c].used = 0;
	memset(mm->chunk[c].bitmap, 0, sizeof mm->chunk[c].bitmap);
	mm->split_hint = c;
	take_page_in(mm, c, &gpa);
done:
	account(mm, PAGE_SIZE);
	return gpa;
}

static void release_chunk(struct mm *mm, uint32_t c)
{
	madvise(mm->host + (uint64_t)c * HUGE_SIZE, HUGE_SIZE, MADV_DONTNEED);
	madvise(mm->host + (uint64_t)c * HUGE_SIZE, HUGE_SIZE, MADV_NOHUGEPAGE);
	mm->chunk[c].state = CHUNK_FREE;
}

/* A page that mapped a host file gets anonymous (zero) memory back;
 * clearing it in place would write zeros into the file. */
static int unmap_file_page(struct mm *mm, uint64_t gpa)
{
	uint64_t bit = gpa / PAGE_SIZE;

	if (!mm->file_page || !(mm->file_page[bit / 64] & (1ULL << (bit % 64))))
		return 0;
	mm->file_page[bit / 64] &= ~(1ULL << (bit % 64));
	mmap(mm->host + gpa, PAGE_SIZE, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return 1;
}

void phys_free_page(struct mm *mm, uint64_t gpa)
{
	uint32_t c = gpa / HUGE_SIZE;
	uint32_t i = (gpa % HUGE_SIZE) / PAGE_SIZE;
	struct chunk *ch = &mm->chunk[c];

	if (c >= mm->nchunks || ch->state != CHUNK_SPLIT ||
	    !(ch->bitmap[i / 64] & (1ULL << (i % 64))))
		return;
	ch->bitmap[i / 64] &= ~(1ULL << (i % 64));
	account(mm, -(int64_t)PAGE_SIZE);
	int was_file = unmap_file_page(mm, gpa);
	if (--ch->used == 0) {
		release_chunk(mm, c);
		return;
	}
	if (!was_file)
		memset(mm->host + gpa, 0, PAGE_SIZE);
	mm->split_hint = c;
}

void phys_free_huge(struct mm *mm, uint64_t gpa)
{
	uint32_t c = gpa / HUGE_SIZE;

	if (c >= mm->nchunks || mm->chunk[c].state != CHUNK_HUGE)
		return;
	account(mm, -(int64_t)HUGE_SIZE);
	release_chunk(mm, c);
}

/* A 2 MiB page becomes 512 small pages, all in use. */
void phys_split_huge(struct mm *mm, uint64_t gpa)
{
	uint64_t c = gpa / HUGE_SIZE;

	/* Only a chunk handed out whole: a program in ring 0 (supervisor
	 * mode) may have written a 2 MiB entry of its own anywhere. */
	if (c >= mm->nchunks || mm->chunk[c].state != CHUNK_HUGE)
		return;
	struct chunk *ch = &mm->chunk[c];
	ch->state = CHUNK_SPLIT;
	ch->used = PAGES_PER_HUGE;
	memset(ch->bitmap, 0xff, sizeof ch->bitmap);
}

int phys_free_later(struct mm *mm, uint64_t gpa, int huge)
{
	if (mm->npending == mm->pending_cap) {
		int cap = mm->pending_cap ? mm->pending_cap * 2 : 256;
		void *p = realloc(mm->pending, cap * sizeof *mm->pending);
		if (!p)
			return -1;
		mm->pending = p;
		mm->pending_cap = cap;
	}
	mm->pending[mm->npending].gpa = gpa;
	mm->pending[mm->npending].huge = huge;
	mm->npending++;
	return 0;
}

void phys_reclaim(struct mm *mm)
{
	for (int i = 0; i < mm->npending; i++) {
		if (mm->pending[i].huge)
			phys_free_huge(mm, mm->pending[i].gpa);
		else
			phys_free_page(mm, mm->pending[i].gpa);
	}
	mm->npending = 0;
}
