/*
 * The parts of the program's /proc/self that the launcher's own would
 * get wrong: its mappings (maps), its signal state (the Sig lines of
 * status) and the list of its descriptors (the fd directory).  exe, cwd
 * and fd/N are rewritten to host paths in syscall.c; everything else
 * under /proc/self is the launcher's.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

/* Points hp at fd, a sealed snapshot the path names until the next
 * replaces it; fd is the launcher's own. */
static int snapshot(struct proc *p, int fd, struct hpath *hp)
{
	/* Sealed, so that it reads as Linux's does: it cannot be written. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		close(fd);
		return -EIO;
	}
	if (p->snapshot_fd >= 0)
		close(p->snapshot_fd);
	p->snapshot_fd = fd;
	return proc_fd_path(p, fd, "", hp->path, &hp->dir) < 0 ? -ENAMETOOLONG : 0;
}

static int new_snapshot(void)
{
	return memfd_create("proc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

int procfs_maps(struct proc *p, struct hpath *hp)
{
	int fd = new_snapshot();

	if (fd < 0)
		return -ENOMEM;
	if (mm_write_maps(p->mm, fd) < 0) {
		close(fd);
		return -EIO;
	}
	return snapshot(p, fd, hp);
}

/* The launcher's status with the program's signal state: what it has
 * pending, blocked, ignored and caught (the launcher's own differ: it
 * ignores SIGPIPE, for one). */
int procfs_status(struct proc *p, struct hpath *hp)
{
	uint64_t ign = 0, cgt = 0, mine = p->threads ? p->threads->t[p->threads->cur].tpending : 0;
	char line[512];
	FILE *in, *out;
	int fd, h;

	for (int i = 0; i < 64; i++) {
		ign |= (uint64_t)(p->sigact[i].handler == 1) << i;
		cgt |= (uint64_t)(p->sigact[i].handler > 1) << i;
	}
	h = p->procfd >= 0 ? openat(p->procfd, "self/status", O_RDONLY | O_CLOEXEC) :
			     open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (h < 0)
		return -ENOENT;
	if ((fd = new_snapshot()) < 0 || !(in = fdopen(h, "r"))) {
		close(h);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	out = fdopen(dup(fd), "w");
	while (out && fgets(line, sizeof line, in)) {
		const char *key[] = { "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:" };
		const uint64_t val[] = { mine, p->sigpending, p->sigmask, ign, cgt };
		size_t k;
		for (k = 0; k < 5 && strncmp(line, key[k], strlen(key[k])); k++)
			;
		if (k < 5)
			fprintf(out, "%s\t%016llx\n", key[k], (unsigned long long)val[k]);
		else
			fputs(line, out);
	}
	fclose(in);
	if (!out || fclose(out) != 0) {
		close(fd);
		return -EIO;
	}
	return snapshot(p, fd, hp);
}

/* A struct linux_dirent64 of name at buf[off], if it fits in size. */
static size_t put_dirent(uint8_t *buf, size_t off, size_t size, uint64_t ino,
			 int64_t next, unsigned char type, const char *name)
{
	size_t len = (offsetof(struct dirent64, d_name) + strlen(name) + 1 + 7) & ~(size_t)7;
	struct dirent64 d;

	if (off + len > size)
		return 0;
	memset(buf + off, 0, len);
	d.d_ino = ino;
	d.d_off = next;
	d.d_reclen = (unsigned short)len;
	d.d_type = type;
	memcpy(buf + off, &d, offsetof(struct dirent64, d_name));
	memcpy(buf + off + offsetof(struct dirent64, d_name), name, strlen(name) + 1);
	return len;
}

long procfs_fd_dirents(struct proc *p, int fd, uint8_t *buf, size_t size)
{
	struct proc_fd *f = &p->fd[fd];
	size_t off = 0, n;
	char name[16];

	/* Positions: 0 ".", 1 "..", then 2 + N for descriptor N. */
	for (; f->dir_next < 2 + PROC_MAX_FDS; f->dir_next++) {
		int k = f->dir_next - 2;
		if (k >= 0 && p->fd[k].host < 0)
			continue;
		snprintf(name, sizeof name, "%s", k == -2 ? "." : k == -1 ? ".." : "");
		if (k >= 0)
			snprintf(name, sizeof name, "%d", k);
		n = put_dirent(buf, off, size, k < 0 ? 1 : 1000 + k, f->dir_next + 1,
			       k < 0 ? DT_DIR : DT_LNK, name);
		if (!n)
			break;
		off += n;
	}
	return off == 0 && f->dir_next < 2 + PROC_MAX_FDS ? -EINVAL : (long)off;
}
