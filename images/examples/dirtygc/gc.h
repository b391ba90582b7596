/*
 * gc: an incremental mark-and-sweep collector whose write barrier is
 * the dirty bit of the heap's pages (track.h).
 *
 * The heap is one mmap'd region of 4 KiB pages.  Each page in use holds
 * objects of one size class (64, 128, 256 or 512 bytes), so the object
 * under any address is found by arithmetic, and a dirty page can be
 * rescanned object by object.  Mark and allocation bits live outside
 * the heap: marking must not write to the heap, or every page it
 * visits would look dirty.
 *
 * A cycle:
 *
 *   gc_begin      resets the tracker (every page clean), marks the roots
 *   gc_mark_step  marks a bounded amount; the mutator runs in between
 *                 and may store any pointer anywhere, without a barrier
 *   gc_finish     stops the world: collects the pages written since
 *                 gc_begin, rescans the marked objects on them, rescans
 *                 the roots, finishes marking, sweeps
 *
 * Objects allocated during marking are born marked (black).  A swept
 * object is poisoned (GC_FREE and a fill pattern), so a dangling
 * pointer to it is visible to anyone who looks.
 */
#ifndef GC_H
#define GC_H

#include <stddef.h>
#include <stdint.h>

#include "track.h"

#define GC_LIVE         0x4c495645u     /* "LIVE" */
#define GC_FREE         0xdeadbeefu
#define GC_POISON       0xdb            /* fills the rest of a freed object */

#define GC_PAGE         4096
#define GC_MIN_OBJ      64              /* the smallest size class */
#define GC_MAX_OBJ      512             /* the largest */

/* The fixed layout: a header, nslots pointers the collector follows,
 * then size payload bytes it never looks at. */
struct gc_obj {
	uint32_t magic;                 /* GC_LIVE, or GC_FREE once swept */
	uint8_t class;                  /* size class index */
	uint8_t nslots;
	uint16_t size;                  /* payload bytes */
	uint64_t id;                    /* unique per heap, from 1 */
	struct gc_obj *slot[];
};

static inline unsigned char *gc_payload(struct gc_obj *o)
{
	return (unsigned char *)&o->slot[o->nslots];
}

/* What one cycle did, for the caller to print. */
struct gc_cycle {
	uint64_t marked;                /* objects that survived the sweep */
	uint64_t freed;                 /* objects the sweep freed */
	uint64_t born_black;            /* allocated during marking */
	uint64_t steps;                 /* gc_mark_step calls */
	long dirty_pages;               /* found at the end of marking */
	uint64_t rescanned;             /* marked objects on those pages */
	uint64_t pause_ns;              /* gc_finish, the world stopped */
	uint64_t sweep_ns;              /* the sweep's part of it */
};

enum { GC_NO_BARRIER = 1 };             /* gc_open flag: skip the rescan */

struct gc_heap;

/* A heap of heap_bytes (rounded up to pages) tracked with method m.
 * NULL with errno set if it cannot be mapped or the method is not
 * available here. */
struct gc_heap *gc_open(size_t heap_bytes, enum track_method m, int flags);
void gc_close(struct gc_heap *h);

/* The mutator's roots: an array it owns and changes at will. */
void gc_set_roots(struct gc_heap *h, struct gc_obj **roots, size_t n);

/* A new object with nslots NULL slots and size payload bytes (zeroed),
 * or NULL if the heap is full or it does not fit the largest class. */
struct gc_obj *gc_alloc(struct gc_heap *h, unsigned nslots, unsigned size);

void gc_begin(struct gc_heap *h);
/* Scans at most budget objects; 0 once the grey objects are gone. */
int gc_mark_step(struct gc_heap *h, long budget);
/* Returns 0, or -errno if the tracker failed (the cycle still ends). */
int gc_finish(struct gc_heap *h, struct gc_cycle *c);

int gc_marking(const struct gc_heap *h);
int gc_is_marked(const struct gc_heap *h, const struct gc_obj *o);
void *gc_base(const struct gc_heap *h);
size_t gc_size(const struct gc_heap *h);
size_t gc_pages_used(const struct gc_heap *h);

#endif
