/*
 * fileio DIR: file I/O syscalls in a fresh directory.  open/openat/creat,
 * read/write/readv/writev, pread64/pwrite64, lseek, fstat/newfstatat/statx,
 * ftruncate, fsync/fdatasync, O_APPEND, O_TRUNC, O_EXCL.  Leaves files behind
 * that the harness compares after the run.
 */
#include "t.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

/* struct statx from <linux/stat.h>, which musl does not ship. */
struct statx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct statx {
	uint32_t stx_mask, stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink, stx_uid, stx_gid;
	uint16_t stx_mode, pad1;
	uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
	struct statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
	uint64_t spare[14];
};
#define STATX_BASIC_STATS 0x7ff

static void show(const char *what, const struct stat *st)
{
	printf("%s: size=%lld mode=%o nlink=%lu regular=%s\n", what, (long long)st->st_size,
	       st->st_mode & 07777, (unsigned long)st->st_nlink, S_ISREG(st->st_mode) ? "yes" : "no");
}

static char *slurp(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r = fd < 0 ? -1 : read(fd, buf, n - 1);
	buf[r < 0 ? 0 : r] = 0;
	if (fd >= 0)
		close(fd);
	return buf;
}

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fileio DIR (an existing, empty directory)\n");
		return 2;
	}
	umask(022);
	char buf[4096];

	/* open with O_CREAT, write, close, reopen, read. */
	int fd = SYS3(SYS_open, "a.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 3, "open(a.txt, O_CREAT) gives an fd >= 3");
	CHECK(SYS3(SYS_write, fd, "hello file\n", 11) == 11, "write 11 bytes");
	CHECK(SYS1(SYS_close, fd) == 0, "close");
	EXPECT_ERR(SYS1(SYS_close, fd), EBADF, "close it again");
	fd = SYS4(SYS_openat, AT_FDCWD, "a.txt", O_RDONLY, 0);
	CHECK(fd >= 0, "openat(AT_FDCWD, a.txt, O_RDONLY)");
	long n = SYS3(SYS_read, fd, buf, sizeof buf);
	printf("read %ld bytes: %.*s", n, (int)(n > 0 ? n : 0), buf);
	CHECK(SYS3(SYS_read, fd, buf, sizeof buf) == 0, "read at EOF returns 0");
	EXPECT_ERR(SYS3(SYS_write, fd, "x", 1), EBADF, "write to an O_RDONLY fd");
	close(fd);

	/* creat truncates. */
	fd = SYS2(SYS_creat, "a.txt", 0600);
	CHECK(fd >= 0, "creat(a.txt) on an existing file");
	close(fd);
	struct stat st;
	CHECK(SYS2(SYS_stat, "a.txt", &st) == 0 && st.st_size == 0, "creat truncated it to 0 bytes");
	show("stat a.txt", &st);

	/* O_EXCL. */
	EXPECT_ERR(SYS3(SYS_open, "a.txt", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST, "O_CREAT|O_EXCL on an existing file");

	/* writev then readv, with uneven iovecs. */
	fd = SYS4(SYS_openat, AT_FDCWD, "v.bin", O_RDWR | O_CREAT | O_TRUNC, 0640);
	struct iovec wv[3] = { { "abc", 3 }, { "", 0 }, { "defghij", 7 } };
	CHECK(SYS3(SYS_writev, fd, wv, 3) == 10, "writev 3+0+7 bytes");
	CHECK(SYS3(SYS_lseek, fd, 0, SEEK_CUR) == 10, "offset is 10 after writev");
	CHECK(SYS3(SYS_lseek, fd, 0, SEEK_SET) == 0, "lseek to 0");
	char r1[4] = { 0 }, r2[8] = { 0 };
	struct iovec rv[2] = { { r1, 4 }, { r2, 8 } };
	CHECK(SYS3(SYS_readv, fd, rv, 2) == 10, "readv 4+8 returns 10");
	printf("readv got '%.4s' and '%.6s'\n", r1, r2);
	EXPECT_ERR(SYS3(SYS_writev, fd, wv, -1), EINVAL, "writev with iovcnt -1");

	/* pread64/pwrite64 do not move the offset. */
	CHECK(SYS3(SYS_lseek, fd, 2, SEEK_SET) == 2, "lseek to 2");
	CHECK(SYS4(SYS_pwrite64, fd, "XY", 2, 5) == 2, "pwrite64 2 bytes at 5");
	char pb[5] = { 0 };
	CHECK(SYS4(SYS_pread64, fd, pb, 4, 4) == 4, "pread64 4 bytes at 4");
	printf("pread64 got '%.4s'\n", pb);
	CHECK(SYS3(SYS_lseek, fd, 0, SEEK_CUR) == 2, "offset still 2 after pread/pwrite");
	CHECK(SYS4(SYS_pread64, fd, pb, 4, 100) == 0, "pread64 past EOF returns 0");
	EXPECT_ERR(SYS4(SYS_pread64, fd, pb, 4, -1), EINVAL, "pread64 at offset -1");

	/* lseek variants, and holes. */
	CHECK(SYS3(SYS_lseek, fd, 0, SEEK_END) == 10, "SEEK_END is 10");
	CHECK(SYS3(SYS_lseek, fd, -3, SEEK_END) == 7, "SEEK_END-3 is 7");
	EXPECT_ERR(SYS3(SYS_lseek, fd, -100, SEEK_SET), EINVAL, "lseek to -100");
	EXPECT_ERR(SYS3(SYS_lseek, fd, 0, 99), EINVAL, "lseek with whence 99");
	CHECK(SYS3(SYS_lseek, fd, 100000, SEEK_SET) == 100000, "lseek past EOF to 100000");
	CHECK(SYS3(SYS_write, fd, "END", 3) == 3, "write at 100000 (leaves a hole)");
	CHECK(SYS2(SYS_fstat, fd, &st) == 0 && st.st_size == 100003, "fstat size 100003");
	char hole[16];
	CHECK(SYS4(SYS_pread64, fd, hole, 16, 50000) == 16 && !memcmp(hole, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16),
	      "the hole reads as zeros");

	/* ftruncate shrink and grow. */
	CHECK(SYS2(SYS_ftruncate, fd, 6) == 0, "ftruncate to 6");
	CHECK(SYS2(SYS_fstat, fd, &st) == 0 && st.st_size == 6, "size now 6");
	CHECK(SYS2(SYS_ftruncate, fd, 8192) == 0, "ftruncate to 8192");
	CHECK(SYS4(SYS_pread64, fd, pb, 4, 4) == 4 && pb[0] == 'e' && pb[1] == 'X' && pb[2] == 0 && pb[3] == 0,
	      "bytes before the cut kept, bytes after it zero");
	EXPECT_ERR(SYS2(SYS_ftruncate, fd, -1), EINVAL, "ftruncate to -1");
	CHECK(SYS1(SYS_fsync, fd) == 0, "fsync");
	CHECK(SYS1(SYS_fdatasync, fd) == 0, "fdatasync");
	CHECK(SYS2(SYS_truncate, "v.bin", 4096) == 0, "truncate(path) to 4096");
	CHECK(SYS2(SYS_fstat, fd, &st) == 0 && st.st_size == 4096, "fstat sees 4096");
	show("fstat v.bin", &st);
	close(fd);

	/* O_APPEND always writes at the end. */
	fd = SYS3(SYS_open, "log.txt", O_WRONLY | O_CREAT | O_APPEND, 0644);
	SYS3(SYS_write, fd, "one\n", 4);
	SYS3(SYS_lseek, fd, 0, SEEK_SET);
	SYS3(SYS_write, fd, "two\n", 4);
	close(fd);
	printf("O_APPEND file: %s", slurp("log.txt", buf, sizeof buf));
	/* O_TRUNC on open. */
	fd = SYS3(SYS_open, "log.txt", O_RDWR | O_TRUNC, 0);
	CHECK(fd >= 0 && SYS2(SYS_fstat, fd, &st) == 0 && st.st_size == 0, "O_TRUNC empties the file");
	SYS3(SYS_write, fd, "three\n", 6);
	close(fd);

	/* newfstatat and statx on the same file; AT_SYMLINK_NOFOLLOW; AT_EMPTY_PATH. */
	CHECK(SYS4(SYS_newfstatat, AT_FDCWD, "v.bin", &st, 0) == 0, "newfstatat(v.bin)");
	show("newfstatat v.bin", &st);
	struct stat st2;
	fd = open("v.bin", O_RDONLY);
	CHECK(SYS4(SYS_newfstatat, fd, "", &st2, AT_EMPTY_PATH) == 0 && st2.st_ino == st.st_ino,
	      "newfstatat with AT_EMPTY_PATH is the same inode");
	struct statx sx;
	memset(&sx, 0xff, sizeof sx);
	CHECK(SYS5(SYS_statx, AT_FDCWD, "v.bin", 0, STATX_BASIC_STATS, &sx) == 0, "statx(v.bin)");
	printf("statx v.bin: size=%llu mode=%o nlink=%u\n", (unsigned long long)sx.stx_size, sx.stx_mode & 07777,
	       sx.stx_nlink);
	CHECK((sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS, "statx filled the basic stats");
	CHECK(sx.stx_ino == st.st_ino && sx.stx_size == (uint64_t)st.st_size && sx.stx_uid == st.st_uid,
	      "statx agrees with newfstatat");
	CHECK(SYS5(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 && sx.stx_size == 4096,
	      "statx with AT_EMPTY_PATH");
	EXPECT_ERR(SYS5(SYS_statx, AT_FDCWD, "nope", 0, STATX_BASIC_STATS, &sx), ENOENT, "statx of a missing file");
	close(fd);
	CHECK(SYS2(SYS_lstat, ".", &st) == 0 && S_ISDIR(st.st_mode), "lstat(.) is a directory");

	/* A large write and read back (1 MiB in one call). */
	static char big[1 << 20], back[1 << 20];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 13 + (i >> 10));
	fd = SYS3(SYS_open, "big.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(SYS3(SYS_write, fd, big, sizeof big) == (long)sizeof big, "write 1 MiB in one call");
	SYS3(SYS_lseek, fd, 0, SEEK_SET);
	size_t got = 0;
	while (got < sizeof back) {
		long r = SYS3(SYS_read, fd, back + got, sizeof back - got);
		if (r <= 0)
			break;
		got += r;
	}
	CHECK(got == sizeof back && !memcmp(big, back, sizeof big), "read 1 MiB back intact");
	close(fd);

	/* stdio on top of it all. */
	FILE *f = fopen("stdio.txt", "w+");
	for (int i = 0; i < 1000; i++)
		fprintf(f, "line %d\n", i);
	rewind(f);
	int lines = 0;
	while (fgets(buf, sizeof buf, f))
		lines++;
	fclose(f);
	printf("stdio wrote and read %d lines\n", lines);
	return t_done();
}
