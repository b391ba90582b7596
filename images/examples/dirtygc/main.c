/*
 * dirtygc [-m METHOD] [-s SEED] [-c CYCLES] [-h HEAP_MIB] [-v] [-B]
 *
 * A mutator for gc.c that does its worst: it builds a random graph of
 * lists and trees under 64 roots, and while each cycle's marking runs
 * in small steps it keeps moving subtrees from one place to another
 * (store the pointer into an object the collector may already have
 * scanned, then overwrite the old reference), allocates, and drops
 * objects.  Only the dirty-page rescan at the end of marking saves
 * the moved objects.
 *
 * After each cycle it walks the graph from the roots on its own (its
 * own visited bitmap, not the collector's marks) and checks that every
 * object it reaches is still allocated (not poisoned by the sweep) and
 * has its payload's checksum: "LIVE OBJECT FREED" and status 1 if not.
 *
 * stdout depends only on the seed, the cycles and the heap size, not on
 * the method or on where it runs.  -v adds timings to stderr.  -B turns
 * the barrier off (no rescan of dirty pages): the check must then fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc.h"

#define NROOTS          64
#define STEP_BUDGET     256     /* objects scanned per mark step */
#define OPS_PER_STEP    16      /* mutator operations between steps */
#define IDLE_OPS        2000    /* between cycles, with no marking */
#define MAX_DEPTH       64
#define CUT_UP          4       /* cut() looks this far up from a leaf */
#define CUT_MAX         32      /* and drops at most this many objects */

/* ---- Randomness: splitmix64, so every platform draws the same --------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(struct rng *r, unsigned n)
{
	return rnd(r) % n;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL + (h >> 29);
}

/* ---- The mutator ------------------------------------------------------ */

struct mutator {
	struct gc_heap *heap;
	struct rng rng;
	struct gc_obj *roots[NROOTS];
	uint64_t target;                /* live objects to keep, about */
	int shrink;                     /* above the target: drop more */
	uint64_t hazards;               /* unmarked objects stored in marked ones */

	/* The verifier's own state. */
	uint64_t *seen;                 /* one bit per 64 bytes of heap */
	struct gc_obj **stack;
	size_t sp, cap;
	uint64_t digest;
};

/* The payload starts with a checksum of the object's id and the rest. */
static uint64_t payload_sum(struct gc_obj *o)
{
	unsigned char *p = gc_payload(o);
	uint64_t h = mix(0xcbf29ce484222325ULL, o->id);
	for (unsigned i = 8; i < o->size; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void fill_payload(struct mutator *m, struct gc_obj *o)
{
	unsigned char *p = gc_payload(o);
	for (unsigned i = 8; i < o->size; i += 8) {
		uint64_t v = rnd(&m->rng);
		unsigned n = o->size - i < 8 ? o->size - i : 8;
		memcpy(p + i, &v, n);
	}
	uint64_t sum = payload_sum(o);
	memcpy(p, &sum, 8);
}

/* Mostly small objects, some large: all four size classes get pages. */
static struct gc_obj *new_obj(struct mutator *m)
{
	unsigned nslots = 1 + below(&m->rng, 4);
	unsigned size = 8 + (below(&m->rng, 8) ? below(&m->rng, 48) : below(&m->rng, 440));
	struct gc_obj *o = gc_alloc(m->heap, nslots, size);
	if (o)
		fill_payload(m, o);
	return o;
}

/* An object under root r, down random slots to depth at most max,
 * stopping early one time in stop (never if stop is 0).  NULL if the
 * root is empty. */
static struct gc_obj *descend(struct mutator *m, unsigned r, unsigned stop, int max)
{
	struct gc_obj *o = m->roots[r];
	for (int d = 0; o && d < max && (!stop || below(&m->rng, stop)); d++) {
		struct gc_obj *c = o->slot[below(&m->rng, o->nslots)];
		if (!c)
			break;
		o = c;
	}
	return o;
}

/* A random object, most often within a few levels of a root. */
static struct gc_obj *walk(struct mutator *m)
{
	return descend(m, below(&m->rng, NROOTS), 8, MAX_DEPTH);
}

/* Stores v in o's slot k, counting the stores that would lose v to a
 * collector without a barrier (-v prints them as hazards). */
static void store(struct mutator *m, struct gc_obj *o, unsigned k, struct gc_obj *v)
{
	if (v && gc_marking(m->heap) && gc_is_marked(m->heap, o) && !gc_is_marked(m->heap, v))
		m->hazards++;
	o->slot[k] = v;
}

/* A chain of one to eight new objects at the end of a random path. */
static void grow(struct mutator *m)
{
	unsigned r = below(&m->rng, NROOTS);
	if (!m->roots[r]) {
		m->roots[r] = new_obj(m);
		return;
	}
	struct gc_obj *o = m->roots[r];
	for (int d = 0; d < 4 * MAX_DEPTH; d++) {
		unsigned k = below(&m->rng, o->nslots);
		if (!o->slot[k]) {
			for (unsigned n = 1 + below(&m->rng, 8); n && o; n--) {
				struct gc_obj *c = new_obj(m);
				if (c)
					store(m, o, k, c);
				o = c;
				k = 0;
			}
			return;
		}
		o = o->slot[k];
	}
}

/* The classic hazard: a subtree hung under another object (perhaps
 * scanned already), then its old reference overwritten (perhaps before
 * its holder was scanned). */
static void move(struct mutator *m)
{
	struct gc_obj *a = walk(m);
	struct gc_obj *b = walk(m);
	if (!a || !b)
		return;
	unsigned i = below(&m->rng, a->nslots), j = below(&m->rng, b->nslots);
	struct gc_obj *c = a->slot[i], *old = b->slot[j];
	if (!c)
		return;
	store(m, b, j, c);
	store(m, a, i, old);
}

/* A new object in place of an old child, which it adopts. */
static void replace(struct mutator *m)
{
	struct gc_obj *o = walk(m);
	if (!o)
		return;
	unsigned k = below(&m->rng, o->nslots);
	struct gc_obj *old = o->slot[k], *n = new_obj(m);
	if (!n)
		return;
	store(m, n, 0, old);
	store(m, o, k, n);
}

/* A random non-NULL slot of o, or -1. */
static int some_child(struct mutator *m, struct gc_obj *o)
{
	unsigned n = 0, k;
	for (k = 0; k < o->nslots; k++)
		n += o->slot[k] != NULL;
	if (!n)
		return -1;
	n = below(&m->rng, n);
	for (k = 0; !o->slot[k] || n--; k++)
		;
	return k;
}

/* Objects under o, counting no further than limit. */
static unsigned size_under(struct gc_obj *o, unsigned limit)
{
	unsigned n = 1;
	for (unsigned k = 0; k < o->nslots && n < limit; k++)
		if (o->slot[k])
			n += size_under(o->slot[k], limit - n);
	return n;
}

/* Down a random path to a leaf, then up to the highest of the last few
 * objects with at most CUT_MAX under it, which goes: a cut nearer a
 * root would empty the heap in a few cycles.  Gives up on a path that
 * is too long: it may be a cycle. */
static void cut(struct mutator *m)
{
	struct gc_obj *o = m->roots[below(&m->rng, NROOTS)], *up[CUT_UP] = { 0 };
	unsigned upk[CUT_UP] = { 0 };
	for (int d = 0; o; d++) {
		int k = some_child(m, o);
		if (k < 0)
			break;
		if (d == 16 * MAX_DEPTH)
			return;
		memmove(up + 1, up, sizeof up - sizeof *up);
		memmove(upk + 1, upk, sizeof upk - sizeof *upk);
		up[0] = o, upk[0] = k;
		o = o->slot[k];
	}
	int l = 0;
	while (l + 1 < CUT_UP && up[l + 1] && size_under(up[l + 1]->slot[upk[l + 1]], CUT_MAX + 1) <= CUT_MAX)
		l++;
	if (up[l])
		store(m, up[l], upk[l], NULL);
}

/* Roots change too: a new object takes a root's place, adopting the old
 * tree and sharing a random object of another root's, so that the graph
 * is not only trees. */
static void reroot(struct mutator *m)
{
	unsigned r = below(&m->rng, NROOTS);
	struct gc_obj *n = new_obj(m);
	if (!n)
		return;
	store(m, n, 0, m->roots[r]);
	if (n->nslots > 1)
		store(m, n, 1, walk(m));
	m->roots[r] = n;
}

static void rewrite(struct mutator *m)
{
	struct gc_obj *o = walk(m);
	if (o)
		fill_payload(m, o);
}

/* One random operation.  Above the target size, cuts take the place of
 * everything that allocates but reroot, so the heap shrinks; moves go on
 * in both modes, since they make the hazard. */
static void mutate(struct mutator *m)
{
	unsigned op = below(&m->rng, 100);
	if (op < 40)
		move(m);
	else if (m->shrink && op < 85)
		cut(m);
	else if (op < 60)
		replace(m);
	else if (op < 85)
		grow(m);
	else if (op < 90)
		reroot(m);
	else
		rewrite(m);
}

/* ---- Verification, independent of the collector's marks ------------ */

static void die_freed(int cycle, struct gc_obj *o, const char *how, struct gc_obj *parent,
                      unsigned where, struct gc_heap *h)
{
	fflush(stdout);
	fprintf(stderr, "dirtygc: LIVE OBJECT FREED in cycle %d: the object at heap offset %#zx, "
	        "%s %u", cycle, (size_t)((char *)o - (char *)gc_base(h)), how, where);
	if (parent)
		fprintf(stderr, " of object %llu", (unsigned long long)parent->id);
	fprintf(stderr, ", %s\n", o->magic == GC_FREE ? "was swept" : "is not an object");
	exit(1);
}

static void vpush(struct mutator *m, struct gc_obj *o)
{
	if (m->sp == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 4096;
		m->stack = realloc(m->stack, m->cap * sizeof *m->stack);
		if (!m->stack) {
			fputs("dirtygc: out of memory\n", stderr);
			exit(2);
		}
	}
	m->stack[m->sp++] = o;
}

/* Checks one reference, from a root (parent NULL) or a slot. */
static void visit(struct mutator *m, int cycle, struct gc_obj *o, struct gc_obj *parent, unsigned where)
{
	const char *how = parent ? "slot" : "root";
	if (!o)
		return;
	size_t off = (char *)o - (char *)gc_base(m->heap);
	if (off >= gc_size(m->heap) || off % GC_MIN_OBJ) {
		fflush(stdout);
		fprintf(stderr, "dirtygc: %s %u points outside the heap in cycle %d\n", how, where, cycle);
		exit(1);
	}
	if (m->seen[off / GC_MIN_OBJ / 64] & 1ULL << off / GC_MIN_OBJ % 64)
		return;
	if (o->magic != GC_LIVE)
		die_freed(cycle, o, how, parent, where, m->heap);
	uint64_t sum;
	memcpy(&sum, gc_payload(o), 8);
	if (sum != payload_sum(o)) {
		fflush(stdout);
		fprintf(stderr, "dirtygc: LIVE OBJECT FREED in cycle %d: object %llu's payload changed\n",
		        cycle, (unsigned long long)o->id);
		exit(1);
	}
	m->seen[off / GC_MIN_OBJ / 64] |= 1ULL << off / GC_MIN_OBJ % 64;
	m->digest = mix(mix(m->digest, o->id), sum);
	vpush(m, o);
}

/* Returns the number of objects reachable from the roots. */
static uint64_t verify(struct mutator *m, int cycle)
{
	uint64_t n = 0;
	memset(m->seen, 0, gc_size(m->heap) / GC_MIN_OBJ / 8);
	for (unsigned r = 0; r < NROOTS; r++)
		visit(m, cycle, m->roots[r], NULL, r);
	while (m->sp) {
		struct gc_obj *o = m->stack[--m->sp];
		n++;
		for (unsigned k = 0; k < o->nslots; k++)
			visit(m, cycle, o->slot[k], o, k);
	}
	return n;
}

/* ---- Cycles ----------------------------------------------------------- */

struct totals {
	uint64_t pause_max, pause_sum;
	long dirty;
};

static void report(int cycle, const struct gc_cycle *c, uint64_t hazards)
{
	fprintf(stderr, "dirtygc: cycle %d: pause %.3f ms (sweep %.3f ms), %ld dirty pages, "
	        "%llu objects rescanned, %llu mark steps, %llu born black, %llu hazards\n",
	        cycle, c->pause_ns / 1e6, c->sweep_ns / 1e6, c->dirty_pages,
	        (unsigned long long)c->rescanned, (unsigned long long)c->steps,
	        (unsigned long long)c->born_black, (unsigned long long)hazards);
}

/* One collection with the mutator running between the mark steps. */
static void cycle(struct mutator *m, int n, int verbose, struct totals *t)
{
	struct gc_cycle c;
	uint64_t hazards = m->hazards;
	gc_begin(m->heap);
	while (gc_mark_step(m->heap, STEP_BUDGET))
		for (int i = 0; i < OPS_PER_STEP; i++)
			mutate(m);
	int err = gc_finish(m->heap, &c);
	if (err < 0)
		fprintf(stderr, "dirtygc: cycle %d: collecting dirty pages: %s (rescanned all)\n",
		        n, strerror(-err));
	uint64_t live = verify(m, n);
	printf("cycle %d: live %llu freed %llu\n", n, (unsigned long long)live,
	       (unsigned long long)c.freed);
	if (verbose)
		report(n, &c, m->hazards - hazards);
	t->pause_max = c.pause_ns > t->pause_max ? c.pause_ns : t->pause_max;
	t->pause_sum += c.pause_ns;
	t->dirty += c.dirty_pages;
	/* Drop only while above the target, so the graph stays big. */
	m->shrink = live > m->target;
}

static void build(struct mutator *m)
{
	size_t npages = gc_size(m->heap) / GC_PAGE;
	for (unsigned r = 0; r < NROOTS; r++)
		m->roots[r] = new_obj(m);
	while (gc_pages_used(m->heap) < npages * 2 / 5)
		grow(m);
	m->target = verify(m, 0);
}

static void usage(void)
{
	fputs("usage: dirtygc [-m mprotect|soft-dirty|pagemap-scan|dune|ring0] [-s SEED] [-c CYCLES]"
	      " [-h HEAP_MIB] [-v] [-B]\n", stderr);
	exit(2);
}

static long number(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < min || v > max)
		usage();
	return v;
}

static struct gc_heap *open_heap(size_t bytes, int method, int flags)
{
	struct gc_heap *h = gc_open(bytes, method, flags);
	if (h)
		return h;
	if ((method == TRACK_DUNE || method == TRACK_RING0) && errno == ENOSYS)
		fprintf(stderr, "dirtygc: method %s: dune_init: %s (run under dunerun)\n",
		        track_name(method), strerror(errno));
	else if (method == TRACK_RING0 && errno == EPERM)
		fprintf(stderr, "dirtygc: method ring0: needs ring 0 (dunerun exec --supervisor)\n");
	else
		fprintf(stderr, "dirtygc: method %s: %s\n", track_name(method), strerror(errno));
	exit(2);
}

int main(int argc, char **argv)
{
	int method = TRACK_MPROTECT, cycles = 10, verbose = 0, flags = 0, opt;
	long seed = 1, heap_mib = 32;
	while ((opt = getopt(argc, argv, "m:s:c:h:vB")) != -1) {
		switch (opt) {
		case 'm':
			if ((method = track_method(optarg)) < 0)
				usage();
			break;
		case 's': seed = number(optarg, 0, 0x7fffffff); break;
		case 'c': cycles = number(optarg, 1, 100000); break;
		case 'h': heap_mib = number(optarg, 1, 1 << 16); break;
		case 'v': verbose = 1; break;
		case 'B': flags |= GC_NO_BARRIER; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	struct mutator m = { .rng = { seed } };
	m.heap = open_heap((size_t)heap_mib << 20, method, flags);
	m.seen = calloc(gc_size(m.heap) / GC_MIN_OBJ / 8, 1);
	if (!m.seen) {
		fputs("dirtygc: out of memory\n", stderr);
		return 2;
	}
	gc_set_roots(m.heap, m.roots, NROOTS);
	build(&m);

	struct totals t = { 0 };
	for (int n = 1; n <= cycles; n++) {
		cycle(&m, n, verbose, &t);
		for (int i = 0; i < IDLE_OPS; i++)
			mutate(&m);
	}
	printf("checksum %016llx\n", (unsigned long long)m.digest);
	if (verbose)
		fprintf(stderr, "dirtygc: method %s%s: pause max %.3f ms, mean %.3f ms, "
		        "%ld dirty pages, %llu hazards\n", track_name(method),
		        flags & GC_NO_BARRIER ? " without barrier" : "", t.pause_max / 1e6,
		        t.pause_sum / 1e6 / cycles, t.dirty, (unsigned long long)m.hazards);
	gc_close(m.heap);
	free(m.seen);
	free(m.stack);
	return 0;
}
