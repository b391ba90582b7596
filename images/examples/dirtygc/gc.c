/*
 * gc: incremental mark and sweep with the dirty bit as write barrier
 * (gc.h says what a cycle does).
 *
 * Why the dirty pages are enough: marking starts right after a collect
 * that left every page clean, and marks are never cleared until the
 * sweep.  When an object is scanned, every child it has then gets
 * marked.  So if a marked object points to an unmarked one at the end,
 * the pointer was stored after the object's scan (or after its birth,
 * for one born black), and that store dirtied its page.  Rescanning the
 * marked objects of the dirty pages, and the roots (which live outside
 * the heap), finds every such pointer.  A page reported dirty that was
 * not written costs a rescan that marks nothing, so methods that differ
 * only in false positives mark exactly the same objects.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "gc.h"

#define NCLASSES        4
#define NO_PAGE         (-1)

struct gc_heap {
	char *base;
	size_t len, npages;
	int flags;
	struct tracker *track;
	uint64_t *dirty;                /* track_collect's bitmap */

	/* Per page, outside the heap so that marking writes nothing in it. */
	uint8_t *class;                 /* 0 free, else size class + 1 */
	uint64_t *alloc;                /* bit i: object i is allocated */
	uint64_t *mark;                 /* bit i: object i is marked */
	int32_t *next;                  /* the page's list: partial or free */
	int32_t partial[NCLASSES];      /* pages of the class with room */
	int32_t free_pages;
	size_t used;                    /* pages with a class */

	struct gc_obj **stack;          /* grey objects */
	size_t sp, cap;

	struct gc_obj **roots;
	size_t nroots;

	int marking;
	uint64_t next_id;
	struct gc_cycle cycle;
};

static size_t class_size(int c) { return (size_t)GC_MIN_OBJ << c; }
static unsigned per_page(int c) { return GC_PAGE / class_size(c); }

static uint64_t full_mask(int c)
{
	unsigned n = per_page(c);
	return n == 64 ? ~0ULL : (1ULL << n) - 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p) {
		fputs("gc: out of memory for the collector's tables\n", stderr);
		abort();
	}
	return p;
}

/* ---- Pages and objects --------------------------------------------- */

static struct gc_obj *obj_at(struct gc_heap *h, size_t page, unsigned i)
{
	return (struct gc_obj *)(h->base + page * GC_PAGE + i * class_size(h->class[page] - 1));
}

/* Page and index of o; 0 if o is not an object of this heap. */
static int locate(const struct gc_heap *h, const void *o, size_t *page, unsigned *i)
{
	const char *p = o;
	if (p < h->base || p >= h->base + h->len)
		return 0;
	size_t off = p - h->base;
	*page = off / GC_PAGE;
	if (!h->class[*page])
		return 0;
	size_t sz = class_size(h->class[*page] - 1);
	if (off % GC_PAGE % sz)
		return 0;
	*i = off % GC_PAGE / sz;
	return 1;
}

/* The free pages and each class's partial pages are lists threaded
 * through next[], kept in address order so allocation is reproducible. */
static void rebuild_lists(struct gc_heap *h)
{
	int32_t *tail[NCLASSES + 1];
	for (int c = 0; c < NCLASSES; c++)
		tail[c] = &h->partial[c];
	tail[NCLASSES] = &h->free_pages;
	h->used = 0;
	for (size_t p = 0; p < h->npages; p++) {
		int c = h->class[p] - 1, list;
		if (c < 0)
			list = NCLASSES;
		else if (h->alloc[p] != full_mask(c))
			list = c;
		else {
			h->used++;
			continue;
		}
		h->used += c >= 0;
		*tail[list] = p;
		tail[list] = &h->next[p];
	}
	for (int l = 0; l <= NCLASSES; l++)
		*tail[l] = NO_PAGE;
}

static int32_t take_page(struct gc_heap *h, int c)
{
	int32_t p = h->free_pages;
	if (p == NO_PAGE)
		return NO_PAGE;
	h->free_pages = h->next[p];
	h->class[p] = c + 1;
	h->alloc[p] = h->mark[p] = 0;
	h->next[p] = h->partial[c];
	h->partial[c] = p;
	h->used++;
	return p;
}

struct gc_obj *gc_alloc(struct gc_heap *h, unsigned nslots, unsigned size)
{
	size_t bytes = sizeof(struct gc_obj) + nslots * sizeof(void *) + size;
	int c = 0;
	while (c < NCLASSES && class_size(c) < bytes)
		c++;
	if (c == NCLASSES || nslots > 255)
		return NULL;
	int32_t p = h->partial[c];
	if (p == NO_PAGE && (p = take_page(h, c)) == NO_PAGE)
		return NULL;
	unsigned i = __builtin_ctzll(~h->alloc[p]);
	h->alloc[p] |= 1ULL << i;
	if (h->alloc[p] == full_mask(c))
		h->partial[c] = h->next[p];

	struct gc_obj *o = obj_at(h, p, i);
	memset(o, 0, class_size(c));
	o->magic = GC_LIVE;
	o->class = c;
	o->nslots = nslots;
	o->size = size;
	o->id = ++h->next_id;
	/* Born black: its slots are all NULL now, and any pointer stored in
	 * it later dirties its page. */
	if (h->marking) {
		h->mark[p] |= 1ULL << i;
		h->cycle.born_black++;
	}
	return o;
}

/* ---- Marking ---------------------------------------------------------- */

static void push(struct gc_heap *h, struct gc_obj *o)
{
	if (h->sp == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 4096;
		h->stack = realloc(h->stack, h->cap * sizeof *h->stack);
		if (!h->stack) {
			fputs("gc: out of memory for the mark stack\n", stderr);
			abort();
		}
	}
	h->stack[h->sp++] = o;
}

/* White to grey: marked, waiting on the stack to be scanned. */
static void shade(struct gc_heap *h, struct gc_obj *o)
{
	size_t p;
	unsigned i;
	if (!o || !locate(h, o, &p, &i) || h->mark[p] & 1ULL << i)
		return;
	h->mark[p] |= 1ULL << i;
	push(h, o);
}

/* Grey to black. */
static void scan(struct gc_heap *h, struct gc_obj *o)
{
	for (unsigned k = 0; k < o->nslots; k++)
		shade(h, o->slot[k]);
}

static void shade_roots(struct gc_heap *h)
{
	for (size_t r = 0; r < h->nroots; r++)
		shade(h, h->roots[r]);
}

static void drain(struct gc_heap *h)
{
	while (h->sp)
		scan(h, h->stack[--h->sp]);
}

void gc_begin(struct gc_heap *h)
{
	memset(&h->cycle, 0, sizeof h->cycle);
	/* Everything clean from here: a page found dirty at the end was
	 * written during marking. */
	track_collect(h->track, h->dirty);
	h->marking = 1;
	shade_roots(h);
}

int gc_mark_step(struct gc_heap *h, long budget)
{
	h->cycle.steps++;
	while (budget-- > 0 && h->sp)
		scan(h, h->stack[--h->sp]);
	return h->sp > 0;
}

/* Pushes the marked objects of the dirty pages again: any of them may
 * have had a pointer to a white object stored in it since its scan. */
static void rescan_dirty(struct gc_heap *h)
{
	for (size_t w = 0; w < (h->npages + 63) / 64; w++) {
		for (uint64_t bits = h->dirty[w]; bits; bits &= bits - 1) {
			size_t p = w * 64 + __builtin_ctzll(bits);
			if (!h->class[p])
				continue;
			for (uint64_t m = h->mark[p] & h->alloc[p]; m; m &= m - 1) {
				push(h, obj_at(h, p, __builtin_ctzll(m)));
				h->cycle.rescanned++;
			}
		}
	}
}

/* ---- Sweeping ------------------------------------------------------- */

static void poison(struct gc_obj *o)
{
	memset(o, GC_POISON, class_size(o->class));
	o->magic = GC_FREE;
}

static void sweep_page(struct gc_heap *h, size_t p)
{
	uint64_t dead = h->alloc[p] & ~h->mark[p];
	for (uint64_t d = dead; d; d &= d - 1)
		poison(obj_at(h, p, __builtin_ctzll(d)));
	h->cycle.freed += __builtin_popcountll(dead);
	h->cycle.marked += __builtin_popcountll(h->mark[p]);
	h->alloc[p] = h->mark[p];
	h->mark[p] = 0;
	if (!h->alloc[p])
		h->class[p] = 0;
}

static void sweep(struct gc_heap *h)
{
	for (size_t p = 0; p < h->npages; p++)
		if (h->class[p])
			sweep_page(h, p);
	rebuild_lists(h);
}

int gc_finish(struct gc_heap *h, struct gc_cycle *c)
{
	uint64_t t0 = now_ns();
	long n = track_collect(h->track, h->dirty);
	h->cycle.dirty_pages = n;
	if (n >= 0 && !(h->flags & GC_NO_BARRIER))
		rescan_dirty(h);
	if (n < 0) {
		/* No record of the writes: every marked object may hide one. */
		memset(h->dirty, 0xff, (h->npages + 63) / 64 * 8);
		rescan_dirty(h);
	}
	shade_roots(h);
	drain(h);
	uint64_t t1 = now_ns();
	sweep(h);
	h->marking = 0;
	uint64_t t2 = now_ns();
	h->cycle.pause_ns = t2 - t0;
	h->cycle.sweep_ns = t2 - t1;
	if (c)
		*c = h->cycle;
	return n < 0 ? (int)n : 0;
}

/* ---- The heap --------------------------------------------------------- */

struct gc_heap *gc_open(size_t heap_bytes, enum track_method m, int flags)
{
	struct gc_heap *h = zalloc(sizeof *h);
	h->len = (heap_bytes + GC_PAGE - 1) / GC_PAGE * GC_PAGE;
	h->npages = h->len / GC_PAGE;
	h->flags = flags;
	if (!h->len || h->npages > INT32_MAX) {
		free(h);
		errno = EINVAL;
		return NULL;
	}
	h->base = mmap(NULL, h->len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->base == MAP_FAILED) {
		free(h);
		return NULL;
	}
	/* A huge page is dirty as a whole for some methods: only costs
	 * rescans, but 4 KiB pages keep the rescan small.  Advice only. */
	madvise(h->base, h->len, MADV_NOHUGEPAGE);
	h->class = zalloc(h->npages);
	h->alloc = zalloc(h->npages * sizeof *h->alloc);
	h->mark = zalloc(h->npages * sizeof *h->mark);
	h->next = zalloc(h->npages * sizeof *h->next);
	h->dirty = zalloc((h->npages + 63) / 64 * sizeof *h->dirty);
	rebuild_lists(h);
	h->track = track_open(m, h->base, h->len);
	if (!h->track) {
		int e = errno;
		gc_close(h);
		errno = e;
		return NULL;
	}
	return h;
}

void gc_close(struct gc_heap *h)
{
	if (h->track)
		track_close(h->track);
	munmap(h->base, h->len);
	free(h->class);
	free(h->alloc);
	free(h->mark);
	free(h->next);
	free(h->dirty);
	free(h->stack);
	free(h);
}

void gc_set_roots(struct gc_heap *h, struct gc_obj **roots, size_t n)
{
	h->roots = roots;
	h->nroots = n;
}

int gc_marking(const struct gc_heap *h) { return h->marking; }
void *gc_base(const struct gc_heap *h) { return h->base; }
size_t gc_size(const struct gc_heap *h) { return h->len; }
size_t gc_pages_used(const struct gc_heap *h) { return h->used; }

int gc_is_marked(const struct gc_heap *h, const struct gc_obj *o)
{
	size_t p;
	unsigned i;
	return locate(h, o, &p, &i) && h->mark[p] & 1ULL << i;
}
