/*
 * sandbox: what confines the program's files and the launcher itself.
 *
 * view_enter() gives the launcher, and so the program, a private mount
 * namespace holding only the program's view: an image's files on a
 * read-only tmpfs (or its tree in the run cache, bound read-only), plus
 * the binds and tmpfs mounts asked for.  The host's tree is not in that
 * namespace at all, and the tmpfs dies with it, so nothing is left
 * behind however the run ends.
 *
 * harden_launcher() is the defence in depth applied after setup and
 * before the first guest instruction: no network namespace of the host's
 * (unless the policy wants one), no capabilities, no_new_privs, and a
 * seccomp filter allowing only what the run loop uses.
 *
 * Errors: one printable line without a newline in err[SANDBOX_ERRLEN].
 */
#ifndef DUNERUN_SANDBOX_H
#define DUNERUN_SANDBOX_H

#include <stdint.h>

struct image;

#define SANDBOX_ERRLEN 512

struct bind {
	const char *host;       /* an existing host file or directory */
	const char *guest;      /* absolute path in the view */
	int rw;                 /* 0: read-only */
};

struct tmpfs_mount {
	const char *guest;      /* absolute path in the view */
	uint64_t size;          /* bytes */
};

struct view {
	/* The image whose files form the root; NULL for `exec`, where the
	 * root stays the host's and only the binds and tmpfs are mounted. */
	const struct image *img;
	const struct bind *bind;
	int nbind;
	const struct tmpfs_mount *tmpfs;
	int ntmpfs;
	const char *workdir;    /* created in the image if missing, or NULL */
	/* Or, instead of img, an extracted tree (the run cache's: cache.h)
	 * shown read-only as the root: its path, opened again inside the
	 * new namespace, and a descriptor of it that the path must still
	 * name, which view_enter closes (a directory of the host's held
	 * open would be a way out of the view).  Every mount point must
	 * already exist in the tree. */
	const char *tree;
	int tree_fd;
};

/*
 * Moves the calling process (before it starts threads) into a new mount
 * namespace (through a user namespace when it lacks CAP_SYS_ADMIN) that
 * holds v, and makes v's root the process's root and working directory.
 * Opens *procfd, an O_PATH descriptor of a procfs for the launcher's own
 * use (/proc/self/fd/N lookups), which the view itself does not show.
 * Returns 0, or -1 with err set; on failure the process may already be
 * in the new namespaces, so the caller should only report and exit.
 */
int view_enter(const struct view *v, int *procfd, char err[SANDBOX_ERRLEN]);

/*
 * Writes img's tree under the directory root (a descriptor), as the view
 * does on its tmpfs: never through a symlink, each path created new.
 * The run cache uses it.  Returns 0, or -1 with err set.
 */
int view_extract(int root, const struct image *img, char err[SANDBOX_ERRLEN]);

/*
 * Confines the launcher for the rest of its life: a new empty network
 * namespace unless keep_net, then all capabilities dropped (effective,
 * permitted, inheritable, ambient and bounding), no_new_privs, and a
 * seccomp filter that kills the process on any system call outside the
 * run loop's list.  Without the privilege for a network namespace
 * (EPERM, EINVAL, ENOSPC) the host's network is kept and the rest still
 * applies.  Call it once, from the thread that will run the vCPU and
 * die_of(), before starting other threads: capabilities and
 * no_new_privs are per thread (the filter is set for all threads with
 * SECCOMP_FILTER_FLAG_TSYNC anyway), and only that thread may tkill
 * itself afterwards.  may_fork (a run in a PID namespace of its own
 * whose policy has proc) also lets it fork, make a VM for the child, and
 * wait for and signal processes.  The filter's list, argument checks and
 * reasons are in docs/security.md.  Prints nothing; returns 0, or -1
 * with err set.
 */
int harden_launcher(int keep_net, int may_fork, char err[SANDBOX_ERRLEN]);

#endif
