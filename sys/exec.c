/*
 * execve and execveat: the program replaces itself.
 *
 * Everything that can fail is done here, before the point of no return,
 * so a failed execve returns its error to the program, which runs on as
 * on Linux: the file is found in the program's view, checked, read whole,
 * `#!` lines are followed (four deep, as Linux), an ELF interpreter
 * (PT_INTERP) is read and checked too,
 * and argv and envp are copied out of guest memory.  What is left, a new
 * address space, the supervisor and the new program, is the monitor's
 * (p->exec), which it does on the vCPU thread before the guest runs on.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"
#include "loader.h"

#define EXEC_ARG_MAX  (2UL << 20)       /* bytes of argv and envp, as ARG_MAX */
#define EXEC_FILE_MAX (1UL << 30)
#define EXEC_DEPTH    4                 /* #! interpreters, as Linux's */
#define ARG_STRLEN_MAX (128UL << 10)    /* one string, as MAX_ARG_STRLEN */

/* Reads the file at dir/path, which must be a regular file the caller
 * may execute, into a malloc'd buffer (*size bytes), and sets exe to its
 * absolute path (what the kernel shows as /proc/self/exe) and id to its
 * device and inode.  Returns NULL with *err set on failure. */
static uint8_t *read_executable(struct proc *p, int dir, const char *path, int flags,
				size_t *size, char exe[PATH_MAX], uint64_t id[2], long *err)
{
	struct stat st;
	int h = (int)syscall(SYS_openat, dir, path, O_RDONLY | O_CLOEXEC | flags), ldir;
	uint8_t *data = NULL;
	size_t got = 0;
	char link[PATH_MAX];

	if (h < 0) {
		*err = -errno;
		return NULL;
	}
	/* Resolved by the kernel from the descriptor: the program's working
	 * directory is not the launcher's, so realpath would be wrong. */
	ssize_t n = -1;
	if (proc_fd_path(p, h, "", link, &ldir) == 0)
		n = readlinkat(ldir, link, exe, PATH_MAX - 1);
	exe[n > 0 ? n : 0] = 0;
	*err = -EACCES;
	if (syscall(SYS_fstat, h, &st) < 0 || !S_ISREG(st.st_mode) ||
	    syscall(SYS_faccessat2, h, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) < 0)
		goto out;
	id[0] = st.st_dev;
	id[1] = st.st_ino;
	*err = -E2BIG;
	if ((uint64_t)st.st_size > EXEC_FILE_MAX || !(data = malloc(st.st_size + 1)))
		goto out;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(h, data + got, st.st_size - got);
		if (n <= 0)
			break;
		got += n;
	}
	*err = -EIO;
	if (got != (size_t)st.st_size) {
		free(data);
		data = NULL;
	}
	*size = got;
out:
	close(h);
	return data;
}

/* Copies the guest's NULL-terminated string array at gva into list,
 * starting at *n, within the byte budget *left. */
static long copy_strings(struct proc *p, uint64_t gva, char ***list, size_t *n, size_t *left)
{
	static __thread char buf[ARG_STRLEN_MAX];

	for (uint64_t i = 0; gva; i++) {
		uint64_t s;
		if (mm_copy_in(p->mm, &s, gva + 8 * i, 8) < 0)
			return -EFAULT;
		if (!s)
			return 0;
		long len = mm_copy_str(p->mm, buf, s, sizeof buf);
		if (len == -ENAMETOOLONG || (size_t)len + 9 > *left)
			return -E2BIG;
		if (len < 0)
			return -EFAULT;
		char **l = realloc(*list, (*n + 2) * sizeof *l);
		if (!l)
			return -ENOMEM;
		*list = l;
		if (!(l[*n] = strdup(buf)))
			return -ENOMEM;
		l[++*n] = NULL;
		*left -= len + 9;
	}
	return 0;
}

/* argv and envp into x, within ARG_MAX's budget; NULL reads as empty. */
static long copy_args(struct proc *p, uint64_t argv, uint64_t envp, struct exec_request *x)
{
	size_t n = 0, left = EXEC_ARG_MAX;
	long r;

	if ((r = copy_strings(p, argv, &x->argv, &n, &left)) < 0)
		return r;
	n = 0;
	if ((r = copy_strings(p, envp, &x->envp, &n, &left)) < 0)
		return r;
	if ((!x->argv && !(x->argv = calloc(1, sizeof *x->argv))) ||
	    (!x->envp && !(x->envp = calloc(1, sizeof *x->envp))))
		return -ENOMEM;
	return 0;
}

static void free_strings(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

void exec_request_free(struct exec_request *x)
{
	if (!x)
		return;
	free(x->data);
	free(x->interp);
	free_strings(x->argv);
	free_strings(x->envp);
	free(x);
}

/* A "#!interpreter [arg]" first line: the interpreter runs with the
 * script's path after its own name.  Returns 1 if it was one. */
static int shebang(const uint8_t *data, size_t size, char *interp, char *arg)
{
	size_t end, i = 2;

	if (size < 2 || data[0] != '#' || data[1] != '!')
		return 0;
	for (end = 2; end < size && end < 256 && data[end] != '\n'; end++)
		;
	while (i < end && (data[i] == ' ' || data[i] == '\t'))
		i++;
	size_t s = i;
	while (i < end && data[i] != ' ' && data[i] != '\t')
		i++;
	memcpy(interp, data + s, i - s);
	interp[i - s] = 0;
	while (i < end && (data[i] == ' ' || data[i] == '\t'))
		i++;
	size_t e = end;
	while (e > i && (data[e - 1] == ' ' || data[e - 1] == '\t' || data[e - 1] == '\r'))
		e--;
	memcpy(arg, data + i, e - i);
	arg[e - i] = 0;
	return 1;
}

/* Puts the strings of front before argv[1..] (argv[0] is replaced). */
static long prepend(char ***argv, const char *const front[], int nfront)
{
	size_t n = 0;

	while ((*argv)[n])
		n++;
	char **l = malloc((n + nfront + 1) * sizeof *l);
	if (!l)
		return -ENOMEM;
	for (int i = 0; i < nfront; i++)
		if (!(l[i] = strdup(front[i])))
			return -ENOMEM;
	for (size_t i = 1; i < n; i++)
		l[nfront + i - 1] = (*argv)[i];
	l[nfront + (n ? n - 1 : 0)] = NULL;
	if (n)
		free((*argv)[0]);
	free(*argv);
	*argv = l;
	return 0;
}

static long do_exec(struct proc *p, int dirfd, uint64_t path, uint64_t argv,
		    uint64_t envp, int flags)
{
	struct exec_request *x = calloc(1, sizeof *x);
	struct hpath hp;
	struct elf_image img;
	char err[256], interp[256], arg[256], cur[sizeof hp.path];
	long r;

	if (!x)
		return -ENOMEM;
	if ((r = argpath(p, dirfd, path, flags & AT_EMPTY_PATH ? PATH_EMPTY : 0, &hp)) < 0)
		goto fail;
	/* x->path stays the name execve was given (Linux's bprm->filename):
	 * a script's AT_EXECFN and comm are its own, not its interpreter's. */
	snprintf(x->path, sizeof x->path, "%s", hp.path);
	snprintf(cur, sizeof cur, "%s", hp.path);
	/* execveat(fd, "", AT_EMPTY_PATH): the file behind the descriptor. */
	if (!hp.path[0] && proc_fd_path(p, hp.dir, "", hp.path, &hp.dir) < 0)
		goto fail;
	int open_flags = flags & AT_SYMLINK_NOFOLLOW ? O_NOFOLLOW : 0;
	/* As Linux: the file is checked before the arguments are read. */
	for (int depth = 0;; depth++) {
		x->data = read_executable(p, hp.dir, hp.path, open_flags, &x->size, x->exe, x->id, &r);
		if (!x->data)
			goto fail;
		if (depth == 0 && (r = copy_args(p, argv, envp, x)) < 0)
			goto fail;
		if (!shebang(x->data, x->size, interp, arg))
			break;
		r = -ELOOP;
		if (depth == EXEC_DEPTH || !interp[0])
			goto fail;
		const char *front[3];
		int nfront = 0;
		front[nfront++] = interp;
		if (arg[0])
			front[nfront++] = arg;
		front[nfront++] = cur;
		if ((r = prepend(&x->argv, front, nfront)) < 0)
			goto fail;
		free(x->data);
		x->data = NULL;
		hp.dir = p->cwd;
		snprintf(hp.path, sizeof hp.path, "%s", interp);
		snprintf(cur, sizeof cur, "%s", interp);
		open_flags = 0;
	}
	/* A file that is not an executable Linux can run is ENOEXEC; a
	 * missing interpreter is ENOENT, a bad one ELIBBAD, as there. */
	r = -ENOEXEC;
	if (elf_parse(x->data, x->size, &img, err, sizeof err) < 0)
		goto fail;
	const char *ld = elf_interp(x->data, &img);
	if (ld) {
		x->interp = read_executable(p, p->cwd, ld, 0, &x->interp_size, x->interp_exe,
					    x->interp_id, &r);
		if (!x->interp)
			goto fail;
		r = -ELIBBAD;
		if (elf_parse(x->interp, x->interp_size, &img, err, sizeof err) < 0 ||
		    img.interp_len)
			goto fail;
	}
	exec_request_free(p->exec);
	p->exec = x;
	return 0;
fail:
	exec_request_free(x);
	return r;
}

long sys_execve(struct proc *p, const uint64_t *a)
{
	return do_exec(p, AT_FDCWD, a[0], a[1], a[2], 0);
}

long sys_execveat(struct proc *p, const uint64_t *a)
{
	int flags = argint(a[4]);

	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	return do_exec(p, argint(a[0]), a[1], a[2], a[3], flags);
}

/* The program's processes are the launcher's, which others find by name
 * in /proc (pidof and ps read the comm of /proc/PID/stat): the launcher
 * takes the program's name.  /proc/self/comm is the thread group's, from
 * whichever thread writes it (a prctl would name this thread only). */
static void name_launcher(struct proc *p)
{
	int h;

	if (p->procfd < 0 || (h = openat(p->procfd, "self/comm", O_WRONLY | O_CLOEXEC)) < 0)
		return;
	ssize_t n = write(h, p->comm, strlen(p->comm));
	(void)n;        /* the name is only for others to see */
	close(h);
}

void proc_exec(struct proc *p, struct mm *mm)
{
	int i;

	p->mm = mm;
	/* Descriptors marked close-on-exec go; the rest stay. */
	for (i = 0; i < PROC_MAX_FDS; i++)
		if (p->fd[i].host >= 0 && p->fd[i].cloexec) {
			uint64_t fd = (uint64_t)i;
			sys_close(p, &fd);
		}
	/* Handled signals go back to their default; ignored ones stay. */
	for (i = 0; i < 64; i++)
		if (p->sigact[i].handler > 1)
			memset(&p->sigact[i], 0, sizeof p->sigact[i]);
	p->altstack.sp = p->altstack.size = 0;
	p->altstack.flags = SS_DISABLE;
	p->dune_trap_entry = p->dune_trap_vectors = 0;
	p->fs_base = p->gs_base = 0;
	p->tid_address = p->robust_list = p->robust_len = 0;
	thread_only_me(p);
	snprintf(p->exe_buf, sizeof p->exe_buf, "%s", p->exec->exe[0] ? p->exec->exe : p->exec->path);
	p->exe = p->exe_buf;
	const char *base = strrchr(p->exec->path, '/');
	snprintf(p->comm, sizeof p->comm, "%s", base ? base + 1 : p->exec->path);
	name_launcher(p);
}
