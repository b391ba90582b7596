/*
 * mmapfile DIR: file-backed mappings.  MAP_PRIVATE sees the file and keeps
 * its own changes; MAP_SHARED writes reach the file (msync); offsets; a
 * mapping past EOF.  The file left behind is compared by the harness.
 */
#include "t.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: mmapfile DIR (an existing, empty directory)\n");
		return 2;
	}
	int fd = open("m.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	static char data[3 * 4096];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = 'a' + i % 26;
	write(fd, data, sizeof data);

	/* MAP_PRIVATE, read-only. */
	char *p = mmap(NULL, sizeof data, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED, "mmap the file MAP_PRIVATE PROT_READ");
	CHECK(p != MAP_FAILED && !memcmp(p, data, sizeof data), "mapping shows the file's bytes");
	munmap(p, sizeof data);

	/* An offset mapping. */
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
	CHECK(p != MAP_FAILED && p[0] == data[4096], "mapping at offset 4096 starts with byte 4096");
	munmap(p, 4096);
	EXPECT_ERR((long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 100) == -1 ? -errno : 0, EINVAL,
		   "mmap at an unaligned offset");

	/* MAP_PRIVATE writable: changes stay private. */
	p = mmap(NULL, sizeof data, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	p[0] = 'P';
	char c;
	pread(fd, &c, 1, 0);
	CHECK(c == 'a', "a MAP_PRIVATE write does not reach the file");
	munmap(p, sizeof data);

	/* MAP_SHARED: changes reach the file; file writes show in the mapping. */
	p = mmap(NULL, sizeof data, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap the file MAP_SHARED read-write");
	memcpy(p + 100, "SHARED", 6);
	CHECK(msync(p, sizeof data, MS_SYNC) == 0, "msync MS_SYNC");
	char back[7] = { 0 };
	pread(fd, back, 6, 100);
	printf("file bytes 100..105 after a shared write: %s\n", back);
	pwrite(fd, "FILE", 4, 200);
	CHECK(!memcmp(p + 200, "FILE", 4), "a file write shows in the shared mapping");
	munmap(p, sizeof data);

	/* Past EOF: the tail of the last page reads zero. */
	ftruncate(fd, 5000);
	p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED && p[4999] == data[4999] && p[5000] == 0 && p[8191] == 0,
	      "bytes past EOF in the last page read as zero");
	munmap(p, 8192);

	/* A read-only fd cannot be mapped shared and writable. */
	int ro = open("m.bin", O_RDONLY);
	EXPECT_ERR((long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == -1 ? -errno : 0, EACCES,
		   "MAP_SHARED PROT_WRITE on an O_RDONLY fd");
	EXPECT_ERR((long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 99, 0) == -1 ? -errno : 0, EBADF,
		   "mmap of a bad fd");
	close(ro);
	close(fd);
	return t_done();
}
