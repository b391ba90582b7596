/*
 * errors DIR: error returns that a program sees through errno.  Missing files,
 * bad descriptors, bad pointers (EFAULT, never a crash), long names, and a
 * read that runs off the end of the caller's mapping.
 */
#include "t.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: errors DIR (an existing, empty directory)\n");
		return 2;
	}
	char buf[64];
	int fd = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	static char page[8192];
	memset(page, 'd', sizeof page);
	write(fd, page, sizeof page);
	lseek(fd, 0, SEEK_SET);

	/* Missing files. */
	EXPECT_ERR(SYS3(SYS_open, "does-not-exist", O_RDONLY, 0), ENOENT, "open of a missing file");
	errno = 0;
	CHECK(open("does-not-exist", O_RDONLY) == -1 && errno == ENOENT, "libc open sets errno to ENOENT");
	CHECK(fopen("does-not-exist", "r") == NULL && errno == ENOENT, "fopen sets errno to ENOENT");
	EXPECT_ERR(SYS3(SYS_open, "/does/not/exist", O_RDONLY, 0), ENOENT, "open of a missing absolute path");
	EXPECT_ERR(SYS3(SYS_open, "", O_RDONLY, 0), ENOENT, "open of an empty path");
	struct stat st;
	EXPECT_ERR(SYS2(SYS_stat, "does-not-exist", &st), ENOENT, "stat of a missing file");

	/* Bad descriptors. */
	EXPECT_ERR(SYS3(SYS_read, 99, buf, 1), EBADF, "read on a bad fd");
	EXPECT_ERR(SYS3(SYS_read, -1, buf, 1), EBADF, "read on fd -1");
	EXPECT_ERR(SYS3(SYS_write, 99, buf, 1), EBADF, "write on a bad fd");
	EXPECT_ERR(SYS2(SYS_fstat, 99, &st), EBADF, "fstat on a bad fd");
	EXPECT_ERR(SYS3(SYS_lseek, 99, 0, SEEK_SET), EBADF, "lseek on a bad fd");
	EXPECT_ERR(SYS4(SYS_openat, 99, "x", O_RDONLY, 0), EBADF, "openat relative to a bad fd");
	EXPECT_ERR(SYS4(SYS_openat, fd, "x", O_RDONLY, 0), ENOTDIR, "openat relative to a file fd");
	errno = 0;
	CHECK(read(99, buf, 1) == -1 && errno == EBADF, "libc read sets errno to EBADF");

	/* Bad pointers: the kernel returns EFAULT, the program does not crash. */
	EXPECT_ERR(SYS3(SYS_read, fd, (void *)8, 16), EFAULT, "read into (void*)8");
	EXPECT_ERR(SYS3(SYS_write, fd, (void *)8, 16), EFAULT, "write from (void*)8");
	EXPECT_ERR(SYS3(SYS_write, 1, (void *)8, 16), EFAULT, "write to stdout from (void*)8");
	EXPECT_ERR(SYS3(SYS_read, fd, (void *)0xffffffff80100000UL, 16), EFAULT, "read into a kernel address");
	EXPECT_ERR(SYS3(SYS_write, fd, (void *)0xffff888000000000UL, 16), EFAULT, "write from the kernel direct map");
	EXPECT_ERR(SYS3(SYS_open, (void *)8, O_RDONLY, 0), EFAULT, "open of a path at (char*)8");
	EXPECT_ERR(SYS2(SYS_stat, "data", (void *)8), EFAULT, "stat into (void*)8");
	EXPECT_ERR(SYS2(SYS_fstat, fd, (void *)0xffffffff80200000UL), EFAULT, "fstat into a kernel address");
	EXPECT_ERR(SYS3(SYS_readv, fd, (void *)8, 1), EFAULT, "readv with the iovec at (void*)8");
	struct iovec iv = { (void *)8, 4 };
	EXPECT_ERR(SYS3(SYS_readv, fd, &iv, 1), EFAULT, "readv into an iovec pointing at (void*)8");
	EXPECT_ERR(SYS2(SYS_pipe2, (void *)8, 0), EFAULT, "pipe2 into (void*)8");
	EXPECT_ERR(SYS2(SYS_getcwd, (void *)8, 100), EFAULT, "getcwd into (void*)8");
	EXPECT_ERR(SYS3(SYS_read, fd, (void *)0x800000000000UL, 16), EFAULT, "read into the first non-canonical address");

	/* A read that crosses from a mapped page into an unmapped one is short. */
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(m + 4096, 4096);
	lseek(fd, 0, SEEK_SET);
	long r = SYS3(SYS_read, fd, m + 4096 - 100, 1000);
	printf("read of 1000 bytes ending in an unmapped page returned %s%ld\n", r < 0 ? "error " : "", r < 0 ? -r : r);
	CHECK(r < 0 || (r >= 1 && r <= 100), "short read of at most 100 bytes, or an error");
	/* Read-only memory as a read buffer. */
	CHECK(mprotect(m, 4096, PROT_READ) == 0, "mprotect buffer PROT_READ");
	lseek(fd, 0, SEEK_SET);
	EXPECT_ERR(SYS3(SYS_read, fd, m, 16), EFAULT, "read into read-only memory");
	CHECK(SYS3(SYS_write, fd, m, 16) == 16, "write from read-only memory works");

	/* Names. */
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	EXPECT_ERR(SYS3(SYS_open, longname, O_RDONLY | O_CREAT, 0644), ENAMETOOLONG, "open of a 299-char name");
	static char longpath[5000];
	memset(longpath, 'a', sizeof longpath - 1);
	for (int i = 100; i < (int)sizeof longpath - 1; i += 100)
		longpath[i] = '/';
	EXPECT_ERR(SYS3(SYS_open, longpath, O_RDONLY, 0), ENAMETOOLONG, "open of a 4999-char path");
	EXPECT_ERR(SYS3(SYS_open, "data/", O_RDONLY, 0), ENOTDIR, "open of 'file/'");
	EXPECT_ERR(SYS3(SYS_open, "data", O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST, "O_EXCL on an existing file");
	EXPECT_ERR(SYS3(SYS_open, ".", O_RDWR, 0), EISDIR, "open . for writing");
	EXPECT_ERR(SYS3(SYS_read, open(".", O_RDONLY), buf, 1), EISDIR, "read from a directory fd");
	return t_done();
}
