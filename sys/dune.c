/*
 * The Dune calls (include/dune.h): the program's own page-table
 * features, for a program in ring 3.
 *
 * They touch only the caller's address space, through mm, and so are
 * as safe to offer as mprotect: the window maps the page tables without
 * write access, a collect only clears accessed and dirty bits, and a
 * protection change is mprotect's, under the same policy.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "internal.h"
#include "policy.h"
#include "dune.h"
#include "dunerun/abi.h"

/* The largest range one collect takes: its bitmap is 2 MiB. */
#define COLLECT_MAX (64ULL << 30)

long sys_dune_window(struct proc *p, const uint64_t *a)
{
	return mm_dune_window(p->mm);
}

static long collect(struct proc *p, const struct dune_op *op)
{
	if (op->len > COLLECT_MAX)
		return -E2BIG;
	size_t words = (op->len / PAGE_SIZE + 63) / 64;
	uint64_t *bitmap = calloc(words ? words : 1, 8);
	if (!bitmap)
		return -ENOMEM;
	long n = mm_collect(p->mm, op->addr, op->len, op->kind == DUNE_COLLECT_ACCESSED, bitmap);
	if (n >= 0 && mm_copy_out(p->mm, (uint64_t)op->bitmap, bitmap, words * 8) < 0)
		n = -EFAULT;
	free(bitmap);
	return n;
}

static long protect(struct proc *p, const struct dune_op *op)
{
	const uint64_t arg[6] = { op->addr, op->len, (uint64_t)op->prot };

	if (p->policy && !policy_allows(p->policy, SYS_mprotect, arg))
		return -EPERM;
	return mm_mprotect(p->mm, op->addr, op->len, op->prot);
}

static long run_op(struct proc *p, const struct dune_op *op)
{
	switch (op->kind) {
	case DUNE_COLLECT_DIRTY:
	case DUNE_COLLECT_ACCESSED:
		return collect(p, op);
	case DUNE_PROTECT:
		return protect(p, op);
	}
	return -EINVAL;
}

/* Each op is copied in once and its result copied out at once: the
 * program may change the array meanwhile, but only its own view. */
long sys_dune_batch(struct proc *p, const uint64_t *a)
{
	uint64_t ops = a[0];
	long n = (long)a[1];

	if (n < 0 || n > DUNE_BATCH_MAX)
		return -EINVAL;
	for (long i = 0; i < n; i++) {
		struct dune_op op;
		uint64_t at = ops + i * sizeof op;
		if (mm_copy_in(p->mm, &op, at, sizeof op) < 0)
			return i ? i : -EFAULT;
		op.result = run_op(p, &op);
		if (mm_copy_out(p->mm, at + offsetof(struct dune_op, result),
				&op.result, sizeof op.result) < 0)
			return i ? i : -EFAULT;
		if (op.result < 0)
			return i;
	}
	return n;
}

/* Vectors 0-31 that the program may take itself; #DF and #MC end it. */
#define TRAP_VECTORS (0xffffffffULL & ~(1ULL << 8 | 1ULL << 18))

long sys_dune_trap(struct proc *p, const uint64_t *a)
{
	if (a[0] && (a[1] & ~TRAP_VECTORS || !a[1]))
		return -EINVAL;
	if (a[0] >= USER_VA_END)
		return -EFAULT;
	p->dune_trap_entry = a[0];
	p->dune_trap_vectors = a[0] ? a[1] : 0;
	mm_set_trap(p->mm, p->dune_trap_entry, p->dune_trap_vectors);
	return 0;
}
