/*
 * The guest page tables, kept by the host in guest memory.
 *
 * The host fills absent entries directly: the hypervisor reads guest
 * tables when it misses, so a new mapping is seen.  An entry that was
 * present may be cached (in a shadow page table or a TLB), so changing it
 * also queues a rewrite for the supervisor.  Should the hypervisor ever
 * have cached an absent entry, the resulting spurious fault is re-synced
 * by mm_fault.
 */
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "mm_impl.h"

static uint64_t level_size(int level)
{
	return 1ULL << (12 + 9 * (level - 1));
}

static int index_of(uint64_t va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

/* The host only ever points entries inside guest memory, but the tables
 * live in guest memory: check before following one. */
static uint64_t *table_at(struct mm *mm, uint64_t entry)
{
	uint64_t gpa = entry & PTE_ADDR;

	if (gpa < GPA_FREE || gpa + PAGE_SIZE > mm->size)
		return NULL;
	return pt_host(mm, gpa);
}

/* The split's user root shares the program's half with the kernel root:
 * the same PML4 entries, so the same tables below them. */
static void mirror_user_half(struct mm *mm, uint64_t root, uint64_t va, const uint64_t *e)
{
	if (mm->split && root == mm->root && va < (1ULL << 47))
		pt_host(mm, GPA_USER_ROOT)[index_of(va, 4)] = *e;
}

uint64_t *pt_entry_in(struct mm *mm, uint64_t root, uint64_t va, int level,
		      int create, uint64_t table_flags)
{
	uint64_t *table = pt_host(mm, root);

	for (int l = 4;; l--) {
		uint64_t *e = &table[index_of(va, l)];
		if (l == level)
			return e;
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			uint64_t t = phys_alloc_page(mm);
			if (!t)
				return NULL;
			*e = t | table_flags;
			if (l == 4)
				mirror_user_half(mm, root, va, e);
		} else if (*e & PTE_PS) {
			return NULL;
		}
		table = table_at(mm, *e);
		if (!table)
			return NULL;
	}
}

uint64_t *pt_entry(struct mm *mm, uint64_t va, int level, int create,
		   uint64_t table_flags)
{
	return pt_entry_in(mm, mm->root, va, level, create, table_flags);
}

/* Walks towards va's leaf.  Returns the entry where the walk stops: an
 * absent entry, a 2 MiB page, or the 4 KiB PTE; *level says which. */
static uint64_t *walk(struct mm *mm, uint64_t va, int *level)
{
	uint64_t *table = pt_host(mm, mm->root);

	for (int l = 4;; l--) {
		uint64_t *e = &table[index_of(va, l)];
		*level = l;
		if (l == 1 || !(*e & PTE_P) || (*e & PTE_PS))
			return e;
		table = table_at(mm, *e);
		if (!table)
			return e;
	}
}

uint64_t *pt_leaf(struct mm *mm, uint64_t va, int *is_huge)
{
	int level;
	uint64_t *e = walk(mm, va, &level);

	*is_huge = level == 2 && (*e & PTE_PS);
	if (level == 1 || *is_huge)
		return (*e & (PTE_P | PTE_KEEP)) ? e : NULL;
	return NULL;
}

int pt_queue(struct mm *mm, uint64_t *entry, uint64_t va, uint64_t step)
{
	struct kcb *kcb = mm->kcb;
	uint64_t n = *(volatile uint64_t *)&kcb->nupdates;
	uint64_t kva = GVA_DIRECT + (uint64_t)((uint8_t *)entry - mm->host);
	typeof(kcb->update[0]) *last;

	if (!mm->locked)
		return -1;
	/* A program in ring 0 (supervisor mode) can write the KCB: a count
	 * past the queue is its own doing, and is never followed. */
	if (n > KCB_MAX_UPDATES) {
		mm->full_resync = 1;
		return 0;
	}
	/* The supervisor empties the queue when it applies it. */
	if (n == 0)
		mm->queued = 0;
	mm->queued++;
	last = n ? &kcb->update[n - 1] : NULL;
	if (!step || mm->queued > FLUSH_PAGES_MAX)
		kcb->flush = FLUSH_ALL;
	else if (!kcb->flush)
		kcb->flush = FLUSH_PAGES;
	/* Extend the last run when this entry follows it. */
	if (last && last->kva + last->count * 8 == kva && last->step == step &&
	    last->va + last->count * step == va) {
		last->count++;
		return 0;
	}
	if (n >= KCB_MAX_UPDATES) {
		mm->full_resync = 1;
		return 0;
	}
	kcb->update[n].kva = kva;
	kcb->update[n].count = 1;
	kcb->update[n].va = va;
	kcb->update[n].step = step;
	*(volatile uint64_t *)&kcb->nupdates = n + 1;
	return 0;
}

int pt_set(struct mm *mm, uint64_t *entry, uint64_t value, uint64_t va, uint64_t step)
{
	uint64_t old = *entry;

	*entry = value;
	if (old & PTE_P)
		return pt_queue(mm, entry, va, step);
	return 0;
}

uint64_t pt_prot_bits(int prot)
{
	uint64_t bits = PTE_U;

	if (!(prot & (PROT_READ | PROT_WRITE | PROT_EXEC)))
		return PTE_KEEP;
	bits |= PTE_P;
	if (prot & PROT_WRITE)
		bits |= PTE_W;
	if (!(prot & PROT_EXEC))
		bits |= PTE_NX;
	return bits;
}

int pt_split_huge(struct mm *mm, uint64_t va)
{
	uint64_t *pde = pt_entry(mm, va, 2, 0, 0);

	if (!pde || !(*pde & PTE_PS))
		return 0;
	uint64_t t = phys_alloc_page(mm);
	if (!t)
		return -1;
	uint64_t base = *pde & PTE_ADDR & ~(HUGE_SIZE - 1);
	uint64_t flags = *pde & (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_NX | PTE_KEEP);
	uint64_t *pt = pt_host(mm, t);
	for (int i = 0; i < PAGES_PER_HUGE; i++)
		pt[i] = (base + i * PAGE_SIZE) | flags;
	phys_split_huge(mm, base);
	return pt_set(mm, pde, t | PTE_P | PTE_W | PTE_U, va & ~(HUGE_SIZE - 1), HUGE_SIZE);
}

/* The first leaf entry (or absent PTE) at or after *va, before end;
 * absent tables are skipped whole.  *va and *level say where it is.
 * NULL at the end. */
static uint64_t *next_leaf(struct mm *mm, uint64_t *va, uint64_t start, uint64_t end,
			   int *level)
{
	while (*va < end && *va >= start) {
		uint64_t *e = walk(mm, *va, level);
		if (*level == 1 || (*e & PTE_P))
			return e;
		*va = (*va & ~(level_size(*level) - 1)) + level_size(*level);
	}
	return NULL;
}

/* Calls fn on every leaf in [start, end), splitting 2 MiB pages that the
 * range covers only in part.  Absent tables are skipped whole. */
static int for_each_leaf(struct mm *mm, uint64_t start, uint64_t end,
			 int (*fn)(struct mm *, uint64_t *, uint64_t, int, void *), void *arg)
{
	uint64_t va = start, *e;
	int level;

	while ((e = next_leaf(mm, &va, start, end, &level))) {
		if (level == 2) {
			if ((va & (HUGE_SIZE - 1)) || end - va < HUGE_SIZE) {
				if (pt_split_huge(mm, va) < 0)
					return -1;
				continue;
			}
			if (fn(mm, e, va, 1, arg) < 0)
				return -1;
			va += HUGE_SIZE;
			continue;
		}
		if (level == 1 && (*e & (PTE_P | PTE_KEEP)) && fn(mm, e, va, 0, arg) < 0)
			return -1;
		va += PAGE_SIZE;
	}
	return 0;
}

/* The bytes a leaf maps. */
static uint64_t leaf_size(int huge)
{
	return huge ? HUGE_SIZE : PAGE_SIZE;
}

static int unmap_leaf(struct mm *mm, uint64_t *e, uint64_t va, int huge, void *arg)
{
	uint64_t gpa = *e & PTE_ADDR;

	(void)arg;
	if (pt_set(mm, e, 0, va, leaf_size(huge)) < 0)
		return -1;
	return phys_free_later(mm, gpa, huge);
}

int pt_unmap_range(struct mm *mm, uint64_t start, uint64_t end)
{
	return for_each_leaf(mm, start, end, unmap_leaf, NULL);
}

static int protect_leaf(struct mm *mm, uint64_t *e, uint64_t va, int huge, void *arg)
{
	uint64_t keep = *e & (PTE_ADDR | PTE_A | PTE_D);
	uint64_t bits = pt_prot_bits(*(int *)arg);

	if (huge)
		keep |= PTE_PS;
	return pt_set(mm, e, keep | bits, va, leaf_size(huge));
}

int pt_protect_range(struct mm *mm, uint64_t start, uint64_t end, int prot)
{
	return for_each_leaf(mm, start, end, protect_leaf, &prot);
}

/* A table with more changed entries than this is rewritten whole, as
 * one run: the queue stays short however the changes are spread. */
#define WHOLE_TABLE_RUN 32

/* Collects and clears bit in entries first..last of one page table,
 * whose entry first maps va.  Page k of the caller's range is bit k of
 * bitmap, entry first is page at. */
static long collect_table(struct mm *mm, uint64_t *t, int first, int last, uint64_t va,
			  uint64_t bit, uint64_t *bitmap, uint64_t at)
{
	long found = 0;

	for (int i = first; i <= last; i++) {
		if ((t[i] & PTE_P) && (t[i] & bit)) {
			t[i] &= ~bit;
			bitmap[(at + i - first) / 64] |= 1ULL << (at + i - first) % 64;
			found++;
		}
	}
	for (int i = first; i <= last && found; i++) {
		uint64_t k = at + i - first;
		if ((found > WHOLE_TABLE_RUN || (bitmap[k / 64] >> k % 64 & 1)) &&
		    pt_queue(mm, &t[i], va + (uint64_t)(i - first) * PAGE_SIZE, PAGE_SIZE) < 0)
			return -1;
	}
	return found;
}

long pt_collect_range(struct mm *mm, uint64_t start, uint64_t end, uint64_t bit,
		      uint64_t *bitmap)
{
	long found = 0;
	uint64_t va = start, *e;
	int level;

	while ((e = next_leaf(mm, &va, start, end, &level))) {
		if (level == 2 && (*e & PTE_PS)) {
			/* The small pages inherit the bit: counted below. */
			if (pt_split_huge(mm, va) < 0)
				return -1;
			continue;
		}
		if (level != 1)         /* a table outside guest memory: never ours */
			return -1;
		int first = index_of(va, 1);
		uint64_t left = (end - va) / PAGE_SIZE;
		int last = left < (uint64_t)(PAGES_PER_HUGE - first) ? first + (int)left - 1 : PAGES_PER_HUGE - 1;
		long n = collect_table(mm, e - first, first, last, va, bit, bitmap, (va - start) / PAGE_SIZE);
		if (n < 0)
			return -1;
		found += n;
		va += (uint64_t)(last - first + 1) * PAGE_SIZE;
	}
	return found;
}

/* Moves every page of [from, from+len) to [to, to+len), for mremap.
 * The destination must be unmapped and page-table space is allocated as
 * needed; 2 MiB pages are split first unless both sides are aligned. */
int pt_move_range(struct mm *mm, uint64_t from, uint64_t to, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		int huge;
		uint64_t *src = pt_leaf(mm, from + off, &huge);
		if (!src)
			continue;
		if (huge && pt_split_huge(mm, from + off) < 0)
			return -1;
		src = pt_leaf(mm, from + off, &huge);
		uint64_t *dst = pt_entry(mm, to + off, 1, 1, PTE_P | PTE_W | PTE_U);
		if (!dst)
			return -1;
		*dst = *src;
		if (pt_set(mm, src, 0, from + off, PAGE_SIZE) < 0)
			return -1;
	}
	return 0;
}

/* The supervisor holds the lock only while it applies the queue, which
 * takes microseconds to milliseconds and never exits to us.  A lock held
 * for a second belongs to a guest stopped for good (a supervisor panic):
 * take it, rather than hang the launcher. */
#define LOCK_PATIENCE_NS 1000000000LL

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void mm_lock(struct mm *mm)
{
	uint32_t *lock = &mm->kcb->lock;
	uint32_t free = 0;
	long long give_up = 0;

	while (!__atomic_compare_exchange_n(lock, &free, 1, 0, __ATOMIC_ACQUIRE,
					    __ATOMIC_RELAXED)) {
		free = 0;
		if (!give_up)
			give_up = now_ns() + LOCK_PATIENCE_NS;
		else if (now_ns() > give_up)
			break;
		sched_yield();
	}
	mm->locked = 1;
	if (mm->npending && !mm->full_resync &&
	    __atomic_load_n(&mm->kcb->nupdates, __ATOMIC_ACQUIRE) == 0)
		phys_reclaim(mm);
}

uint64_t mm_unlock(struct mm *mm)
{
	uint64_t n = mm->kcb->nupdates;

	mm->locked = 0;
	__atomic_store_n(&mm->kcb->lock, 0, __ATOMIC_RELEASE);
	return n;
}
