/*
 * dirs DIR: directory and name syscalls in a fresh directory.  mkdirat,
 * getdents64 (names printed sorted), symlink/readlink(at), link, access/
 * faccessat, getcwd/chdir/fchdir, renameat/renameat2, unlinkat, rmdir.
 */
#include "t.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2

struct d64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List a directory with raw getdents64, small buffer to force several calls. */
static void list(const char *path)
{
	int fd = SYS3(SYS_open, path, O_RDONLY | O_DIRECTORY, 0);
	char buf[128], *names[256];
	int n = 0, calls = 0;
	long r;
	while ((r = SYS3(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		calls++;
		for (long off = 0; off < r;) {
			struct d64 *d = (struct d64 *)(buf + off);
			char *s = malloc(300);
			const char *t = d->type == DT_DIR ? "dir" : d->type == DT_REG ? "file" :
					d->type == DT_LNK ? "link" : "other";
			snprintf(s, 300, "%s (%s)", d->name, t);
			if (n < 256)
				names[n++] = s;
			off += d->reclen;
		}
	}
	if (r < 0)
		printf("getdents64 failed: %s\n", errname((int)r));
	qsort(names, n, sizeof *names, cmp);
	printf("listing of %s: %d entries%s\n", path, n, calls > 1 ? " (several getdents64 calls)" : "");
	for (int i = 0; i < n; i++) {
		printf("  %s\n", names[i]);
		free(names[i]);
	}
	close(fd);
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, text, strlen(text));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: dirs DIR (an existing, empty directory)\n");
		return 2;
	}
	umask(022);
	char cwd[4096], buf[4096];

	/* getcwd reports the directory given. */
	CHECK(SYS2(SYS_getcwd, cwd, sizeof cwd) > 0, "getcwd");
	CHECK(!strcmp(cwd, argv[1]), "getcwd equals the directory we chdir'ed to");
	EXPECT_ERR(SYS2(SYS_getcwd, cwd, 2), ERANGE, "getcwd into a 2-byte buffer");

	/* mkdirat, nested; EEXIST; ENOENT for a missing parent. */
	CHECK(SYS3(SYS_mkdirat, AT_FDCWD, "d1", 0755) == 0, "mkdirat d1");
	CHECK(SYS2(SYS_mkdir, "d1/sub", 0700) == 0, "mkdir d1/sub");
	int dfd = SYS3(SYS_open, "d1", O_RDONLY | O_DIRECTORY, 0);
	CHECK(dfd >= 0, "open d1 O_DIRECTORY");
	CHECK(SYS3(SYS_mkdirat, dfd, "sub2", 0750) == 0, "mkdirat(d1fd, sub2)");
	EXPECT_ERR(SYS3(SYS_mkdirat, AT_FDCWD, "d1", 0755), EEXIST, "mkdirat an existing directory");
	EXPECT_ERR(SYS3(SYS_mkdirat, AT_FDCWD, "nope/x", 0755), ENOENT, "mkdirat under a missing parent");
	EXPECT_ERR(SYS3(SYS_open, "a-file-not-a-dir", O_RDONLY | O_DIRECTORY, 0), ENOENT, "O_DIRECTORY on a missing name");

	/* Files created relative to a directory fd. */
	int fd = SYS4(SYS_openat, dfd, "f1.txt", O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0, "openat(d1fd, f1.txt, O_CREAT)");
	write(fd, "one\n", 4);
	close(fd);
	put("top.txt", "top\n");
	for (int i = 0; i < 20; i++) {
		snprintf(buf, sizeof buf, "d1/many-%02d", i);
		put(buf, "x");
	}
	EXPECT_ERR(SYS3(SYS_open, "top.txt", O_RDONLY | O_DIRECTORY, 0), ENOTDIR, "O_DIRECTORY on a file");
	EXPECT_ERR(SYS3(SYS_open, "top.txt/x", O_RDONLY, 0), ENOTDIR, "path through a file");
	EXPECT_ERR(SYS3(SYS_open, "d1", O_WRONLY, 0), EISDIR, "open a directory for writing");

	/* Symlinks: create, readlink, readlinkat, follow, lstat, O_NOFOLLOW. */
	CHECK(SYS2(SYS_symlink, "top.txt", "ln") == 0, "symlink ln -> top.txt");
	CHECK(SYS3(SYS_symlinkat, "../top.txt", dfd, "up") == 0, "symlinkat d1/up -> ../top.txt");
	CHECK(SYS2(SYS_symlink, "missing", "dangling") == 0, "symlink dangling -> missing");
	long n = SYS3(SYS_readlink, "ln", buf, sizeof buf);
	printf("readlink(ln) = %ld '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	n = SYS4(SYS_readlinkat, dfd, "up", buf, sizeof buf);
	printf("readlinkat(d1fd, up) = %ld '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	n = SYS3(SYS_readlink, "ln", buf, 3);
	printf("readlink into 3 bytes = %ld '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	EXPECT_ERR(SYS3(SYS_readlink, "top.txt", buf, sizeof buf), EINVAL, "readlink of a regular file");
	EXPECT_ERR(SYS3(SYS_readlink, "nothing", buf, sizeof buf), ENOENT, "readlink of a missing name");
	fd = SYS3(SYS_open, "d1/up", O_RDONLY, 0);
	n = SYS3(SYS_read, fd, buf, sizeof buf);
	printf("read through d1/up: '%.*s'\n", (int)(n > 0 ? n - 1 : 0), buf);
	close(fd);
	EXPECT_ERR(SYS3(SYS_open, "ln", O_RDONLY | O_NOFOLLOW, 0), ELOOP, "O_NOFOLLOW on a symlink");
	EXPECT_ERR(SYS3(SYS_open, "dangling", O_RDONLY, 0), ENOENT, "open a dangling symlink");
	struct stat st;
	CHECK(SYS2(SYS_lstat, "ln", &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 7, "lstat(ln) is a 7-byte symlink");
	CHECK(SYS2(SYS_stat, "ln", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4, "stat(ln) follows to a 4-byte file");
	CHECK(SYS4(SYS_newfstatat, AT_FDCWD, "ln", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
	      "newfstatat AT_SYMLINK_NOFOLLOW sees the link");

	/* Hard links. */
	CHECK(SYS2(SYS_link, "top.txt", "hard") == 0, "link hard -> top.txt");
	CHECK(SYS2(SYS_stat, "top.txt", &st) == 0 && st.st_nlink == 2, "nlink is 2");
	CHECK(SYS5(SYS_linkat, dfd, "f1.txt", AT_FDCWD, "hard2", 0) == 0, "linkat d1/f1.txt -> hard2");

	/* access/faccessat. */
	CHECK(SYS2(SYS_access, "top.txt", F_OK) == 0, "access(top.txt, F_OK)");
	CHECK(SYS2(SYS_access, "top.txt", R_OK | W_OK) == 0, "access(top.txt, R_OK|W_OK)");
	EXPECT_ERR(SYS2(SYS_access, "missing", F_OK), ENOENT, "access of a missing file");
	CHECK(SYS3(SYS_faccessat, dfd, "f1.txt", R_OK) == 0, "faccessat(d1fd, f1.txt, R_OK)");
	EXPECT_ERR(SYS3(SYS_faccessat, dfd, "nope", F_OK), ENOENT, "faccessat of a missing name");
	chmod("top.txt", 0644);
	printf("access(top.txt, X_OK) -> %s\n", errname(SYS2(SYS_access, "top.txt", X_OK)));
	EXPECT_ERR(SYS2(SYS_access, "top.txt", 0x40), EINVAL, "access with a bad mode");

	/* chmod/fchmodat. */
	CHECK(SYS3(SYS_fchmodat, AT_FDCWD, "hard2", 0600) == 0, "fchmodat hard2 0600");
	CHECK(SYS2(SYS_stat, "d1/f1.txt", &st) == 0 && (st.st_mode & 0777) == 0600, "mode seen through the other link");

	/* rename family. */
	CHECK(SYS2(SYS_rename, "hard", "renamed") == 0, "rename hard -> renamed");
	CHECK(SYS4(SYS_renameat, dfd, "many-00", AT_FDCWD, "moved-00") == 0, "renameat d1/many-00 -> moved-00");
	EXPECT_ERR(SYS5(SYS_renameat2, AT_FDCWD, "renamed", AT_FDCWD, "moved-00", RENAME_NOREPLACE), EEXIST,
		   "renameat2 RENAME_NOREPLACE onto an existing name");
	put("swap-a", "AAA\n");
	put("swap-b", "B\n");
	long rx = SYS5(SYS_renameat2, AT_FDCWD, "swap-a", AT_FDCWD, "swap-b", RENAME_EXCHANGE);
	CHECK(rx == 0, "renameat2 RENAME_EXCHANGE swap-a <-> swap-b");
	CHECK(SYS2(SYS_stat, "swap-a", &st) == 0 && st.st_size == 2, "swap-a now has B's 2 bytes");
	CHECK(SYS5(SYS_renameat2, AT_FDCWD, "swap-a", AT_FDCWD, "swap-c", RENAME_NOREPLACE) == 0,
	      "renameat2 RENAME_NOREPLACE to a free name");
	CHECK(SYS2(SYS_rename, "moved-00", "renamed") == 0, "rename over an existing file replaces it");
	EXPECT_ERR(SYS2(SYS_rename, "d1", "d1/sub/inside"), EINVAL, "rename a directory into itself");
	EXPECT_ERR(SYS2(SYS_rename, "nothing", "x"), ENOENT, "rename a missing name");

	/* unlinkat, rmdir, ENOTEMPTY. */
	EXPECT_ERR(SYS3(SYS_unlinkat, AT_FDCWD, "d1", AT_REMOVEDIR), ENOTEMPTY, "unlinkat AT_REMOVEDIR a non-empty dir");
	EXPECT_ERR(SYS3(SYS_unlinkat, AT_FDCWD, "d1", 0), EISDIR, "unlinkat a directory without AT_REMOVEDIR");
	CHECK(SYS3(SYS_unlinkat, dfd, "sub2", AT_REMOVEDIR) == 0, "unlinkat(d1fd, sub2, AT_REMOVEDIR)");
	CHECK(SYS3(SYS_unlinkat, dfd, "many-01", 0) == 0, "unlinkat(d1fd, many-01)");
	CHECK(SYS1(SYS_unlink, "dangling") == 0, "unlink dangling");
	EXPECT_ERR(SYS1(SYS_unlink, "dangling"), ENOENT, "unlink it again");
	CHECK(SYS1(SYS_rmdir, "d1/sub") == 0, "rmdir d1/sub");
	EXPECT_ERR(SYS1(SYS_rmdir, "top.txt"), ENOTDIR, "rmdir a file");

	/* chdir/fchdir and relative paths. */
	CHECK(SYS1(SYS_chdir, "d1") == 0, "chdir d1");
	CHECK(SYS2(SYS_getcwd, buf, sizeof buf) > 0 && !strncmp(buf, cwd, strlen(cwd)) && !strcmp(buf + strlen(cwd), "/d1"),
	      "getcwd is DIR/d1");
	CHECK(SYS2(SYS_access, "../top.txt", F_OK) == 0, "../top.txt visible from d1");
	CHECK(SYS1(SYS_chdir, "..") == 0, "chdir ..");
	CHECK(SYS1(SYS_fchdir, dfd) == 0, "fchdir(d1fd)");
	CHECK(SYS2(SYS_access, "f1.txt", F_OK) == 0, "f1.txt visible after fchdir");
	EXPECT_ERR(SYS1(SYS_chdir, "f1.txt"), ENOTDIR, "chdir to a file");
	EXPECT_ERR(SYS1(SYS_fchdir, 1000), EBADF, "fchdir to a bad fd");
	CHECK(SYS1(SYS_chdir, cwd) == 0, "chdir back by absolute path");
	close(dfd);

	list(".");
	list("d1");
	return t_done();
}
