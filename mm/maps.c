/*
 * /proc/self/maps: the program's mappings in the form of Linux's
 * (fs/proc/task_mmu.c), from the VMA list, with the names Linux gives:
 * the file a mapping came from, [heap], [stack] and [vdso].  glibc reads
 * it to find the main thread's stack (pthread_getattr_np), and garbage
 * collectors and sanitizers read it to find what is mapped.  The table of
 * files also keeps the descriptors that private file pages are read from
 * when first touched (access.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mm_impl.h"

/* Distinct files named; beyond this, mappings show no name. */
#define FILES_MAX 4096

uint32_t mm_file_index(struct mm *mm, const struct mm_file *f)
{
	if (!f || !f->path)
		return 0;
	for (uint32_t i = 0; i < mm->nfiles; i++)
		if (mm->files[i].dev == f->dev && mm->files[i].ino == f->ino &&
		    !strcmp(mm->files[i].path, f->path))
			return i + 1;
	if (mm->nfiles == FILES_MAX)
		return 0;
	if (mm->nfiles == mm->files_cap) {
		uint32_t cap = mm->files_cap ? mm->files_cap * 2 : 16;
		struct mapped_file *n = realloc(mm->files, cap * sizeof *n);
		if (!n)
			return 0;
		mm->files = n;
		mm->files_cap = cap;
	}
	char *path = strdup(f->path);
	if (!path)
		return 0;
	mm->files[mm->nfiles] = (struct mapped_file){ path, f->dev, f->ino, -1 };
	return ++mm->nfiles;
}

int mm_file_keep_fd(struct mm *mm, uint32_t idx, int fd)
{
	struct mapped_file *f = &mm->files[idx - 1];

	if (f->fd < 0)
		f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return f->fd < 0 ? -1 : 0;
}

void mm_files_free(struct mm *mm)
{
	for (uint32_t i = 0; i < mm->nfiles; i++) {
		free(mm->files[i].path);
		if (mm->files[i].fd >= 0)
			close(mm->files[i].fd);
	}
	free(mm->files);
	mm->files = NULL;
	mm->nfiles = mm->files_cap = 0;
}

/* One line: the fixed fields, then the name from column 73, as Linux
 * pads it (seq_setwidth 25 + 6 * sizeof(void *) - 1). */
static void put_line(FILE *f, uint64_t start, uint64_t end, int prot, int shared,
		     uint64_t off, uint64_t dev, uint64_t ino, const char *name)
{
	int n = fprintf(f, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ",
			(unsigned long long)start, (unsigned long long)end,
			prot & PROT_READ ? 'r' : '-', prot & PROT_WRITE ? 'w' : '-',
			prot & PROT_EXEC ? 'x' : '-', shared ? 's' : 'p',
			(unsigned long long)off, major(dev), minor(dev),
			(unsigned long long)ino);
	if (name && *name)
		fprintf(f, "%*s%s", n < 72 ? 72 - n + 1 : 1, "", name);
	fputc('\n', f);
}

static const char *vma_name(struct mm *mm, const struct vma *v)
{
	if (v->file)
		return mm->files[v->file - 1].path;
	if (v->stub)
		return "[dunerun-stubs]";
	uint64_t brk_end = (mm->brk + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (v->start < brk_end && v->end > mm->brk_base)
		return "[heap]";
	if (v->start < USER_STACK_TOP && v->end >= USER_STACK_TOP)
		return "[stack]";
	return NULL;
}

int mm_write_maps(struct mm *mm, int fd)
{
	FILE *f = fdopen(dup(fd), "w");

	if (!f)
		return -ENOMEM;
	for (int i = 0; i < mm->nvma; i++) {
		const struct vma *v = &mm->vma[i];
		const struct mapped_file *mf = v->file ? &mm->files[v->file - 1] : NULL;
		put_line(f, v->start, v->end, v->prot, v->shared && v->file,
			 mf ? v->pgoff : 0, mf ? mf->dev : 0, mf ? mf->ino : 0, vma_name(mm, v));
	}
	/* Above the program's range: the supervisor's pages it may use. */
	put_line(f, GVA_ENTRY, GVA_ENTRY + PAGE_SIZE, PROT_READ | PROT_EXEC, 0, 0, 0, 0,
		 "[dunerun-entry]");
	put_line(f, GVA_MBOX, GVA_MBOX + PAGE_SIZE, PROT_READ | PROT_WRITE, 0, 0, 0, 0,
		 "[dunerun-mailbox]");
	if (mm->vdso_size)
		put_line(f, GVA_VDSO, GVA_VDSO + mm->vdso_size, PROT_READ | PROT_EXEC, 0, 0, 0, 0,
			 "[vdso]");
	put_line(f, GVA_VSYSCALL, GVA_VSYSCALL + PAGE_SIZE, PROT_EXEC, 0, 0, 0, 0, "[vsyscall]");
	return fclose(f) == 0 ? 0 : -EIO;
}
