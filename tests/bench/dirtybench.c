/*
 * dirtybench METHOD HEAP_MIB PERCENT REPEATS: the cost of finding the
 * written pages of a heap with one of track.h's methods.
 *
 * Each of REPEATS cycles writes one byte to PERCENT% of the heap's pages
 * (a different set each cycle, the same sets every run) and then makes
 * one track_collect, whose bitmap must name exactly those pages.  Prints
 *
 *   METHOD HEAP_MIB PERCENT min_us median_us write_us
 *
 * with the min and median time of a collect, and the median time of a
 * cycle's writes: the mprotect method pays a fault per page there, the
 * others pay at collect.  A method this machine lacks prints n/a in
 * place of the figures (and why on stderr) and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "track.h"

#define PG      4096UL

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* splitmix64: a fixed generator, so every run writes the same pages. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Moves k distinct pages, chosen at random, to perm[0..k): a partial
 * Fisher-Yates shuffle, continued from where the last cycle left it. */
static void choose(uint32_t *perm, size_t n, size_t k, uint64_t *seed)
{
	for (size_t i = 0; i < k; i++) {
		size_t j = i + next(seed) % (n - i);
		uint32_t x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return v[(n - 1) / 2];
}

/* The bitmap must hold exactly the pages written: no page missed, which
 * would lose a pointer, and none extra, which would only cost time but
 * would mean the method is not doing what it says. */
static void check(const char *method, const uint64_t *got, const uint64_t *want,
	size_t nwords, long r, size_t k, int cycle)
{
	for (size_t w = 0; w < nwords; w++) {
		if (got[w] == want[w])
			continue;
		int b = __builtin_ctzll(got[w] ^ want[w]);
		fprintf(stderr, "dirtybench: %s: cycle %d: page %zu %s\n", method, cycle,
			w * 64 + b, want[w] >> b & 1 ? "written but not reported" : "reported but not written");
		exit(1);
	}
	if (r != (long)k) {
		fprintf(stderr, "dirtybench: %s: cycle %d: collect returned %ld, %zu pages written\n",
			method, cycle, r, k);
		exit(1);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: dirtybench mprotect|soft-dirty|pagemap-scan|dune HEAP_MIB PERCENT REPEATS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc != 5)
		usage();
	const char *name = argv[1];
	int m = track_method(name), mib = atoi(argv[2]), pct = atoi(argv[3]), reps = atoi(argv[4]);
	if (m < 0 || mib <= 0 || pct < 0 || pct > 100 || reps <= 0)
		usage();

	size_t len = (size_t)mib << 20, n = len / PG, k = n * pct / 100, nwords = (n + 63) / 64;
	volatile char *heap = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *perm = malloc(n * sizeof *perm);
	uint64_t *got = malloc(nwords * 8), *want = malloc(nwords * 8);
	double *tc = malloc(reps * sizeof *tc), *tw = malloc(reps * sizeof *tw);
	if (heap == MAP_FAILED || !perm || !got || !want || !tc || !tw) {
		perror("dirtybench");
		return 1;
	}
	/* 4 KiB pages, as a collector's card table would see them; a 2 MiB
	 * page would be found written whole.  (Natively the default is
	 * madvise-only anyway.) */
	madvise((void *)heap, len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n; i++) {
		heap[i * PG] = 1;
		perm[i] = i;
	}

	struct tracker *t = track_open(m, (void *)heap, len);
	if (!t) {
		fprintf(stderr, "dirtybench: %s: %s\n", name, strerror(errno));
		printf("%s %d %d n/a\n", name, mib, pct);
		return 0;
	}
	uint64_t seed = 1;
	for (int c = 0; c < reps; c++) {
		choose(perm, n, k, &seed);
		double t0 = now_us();
		for (size_t i = 0; i < k; i++)
			heap[perm[i] * PG + i % PG] = (char)(c + 2);
		double t1 = now_us();
		long r = track_collect(t, got);
		double t2 = now_us();
		if (r == -ENOMEM && m == TRACK_MPROTECT) {
			/* Out of VMAs (vm.max_map_count) unprotecting page by page. */
			fprintf(stderr, "dirtybench: %s: %d%% of %d MiB splits the heap into more VMAs "
				"than vm.max_map_count allows\n", name, pct, mib);
			printf("%s %d %d n/a\n", name, mib, pct);
			return 0;
		}
		if (r < 0) {
			fprintf(stderr, "dirtybench: %s: collect: %s\n", name, strerror(-r));
			return 1;
		}
		memset(want, 0, nwords * 8);
		for (size_t i = 0; i < k; i++)
			want[perm[i] / 64] |= 1ULL << (perm[i] % 64);
		check(name, got, want, nwords, r, k, c);
		tw[c] = t1 - t0;
		tc[c] = t2 - t1;
	}
	track_close(t);

	double wmed = median(tw, reps), cmed = median(tc, reps);   /* sorts */
	printf("%s %d %d %.1f %.1f %.1f\n", name, mib, pct, tc[0], cmed, wmed);
	return 0;
}
