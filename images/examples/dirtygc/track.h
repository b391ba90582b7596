/*
 * track: find the pages of a heap written since the last look, five
 * ways, for the collector (gc.c) and for `make bench`.
 *
 *   mprotect      write-protect the heap; a SIGSEGV handler records the
 *                 page and unprotects it (the classic write barrier)
 *   soft-dirty    write 4 to /proc/self/clear_refs, read the soft-dirty
 *                 bit (55) of /proc/self/pagemap
 *   pagemap-scan  userfaultfd write-protect plus the PAGEMAP_SCAN ioctl
 *                 (PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC), Linux 6.7
 *   dune          dunerun's dirty-bit call (include/dune.h)
 *   ring0         the dirty bits themselves, read and cleared with plain
 *                 loads and stores, then a TLB flush: Dune's own way, for
 *                 a collector in ring 0 (dunerun exec --supervisor)
 *
 * Only one tracker may be open at a time (the mprotect method owns the
 * process's SIGSEGV handler).
 */
#ifndef TRACK_H
#define TRACK_H

#include <stddef.h>
#include <stdint.h>

enum track_method {
	TRACK_MPROTECT, TRACK_SOFTDIRTY, TRACK_PAGEMAP_SCAN, TRACK_DUNE, TRACK_RING0, TRACK_NMETHODS
};

struct tracker;

/* The method's name as above, and back (-1 if unknown). */
const char *track_name(enum track_method m);
int track_method(const char *name);

/* Starts tracking the page-aligned [base, base+len): every page counts
 * as clean from now on.  NULL with errno set if the method is not
 * available here (ENOSYS, EPERM...). */
struct tracker *track_open(enum track_method m, void *base, size_t len);

/* Sets bit i of bitmap (len / 4096 bits, cleared first) for each page i
 * written since track_open or the previous collect, and makes every
 * page clean again.  Returns the number of pages, or -errno. */
long track_collect(struct tracker *t, uint64_t *bitmap);

void track_close(struct tracker *t);

#endif
