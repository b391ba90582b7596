/*
 * mmapprivate: a private file mapping as Linux gives it, now that its
 * pages are read when first touched: the file's bytes at the offset,
 * zeros past its end, a write that stays private, MADV_DONTNEED that
 * reads the file again, a page untouched until after the file changed
 * that shows the change, and EACCES for a file open only for writing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	int fd = open("lz.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	char buf[70000], c = 0;

	for (int i = 0; i < (int)sizeof buf; i++)
		buf[i] = 'a' + i % 26;
	if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
		return 1;
	char *p = mmap(0, 3 * 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 4096);
	if (p == MAP_FAILED)
		return 1;
	printf("bytes %c%c %c, past the end %d\n", p[0], p[65535], p[65000], p[70000 - 4096 + 10]);
	p[5] = 'Z';
	if (pread(fd, &c, 1, 4096 + 5) != 1)
		return 1;
	printf("written privately: file %c, mapping %c\n", c, p[5]);
	madvise(p, 4096, MADV_DONTNEED);
	printf("after MADV_DONTNEED %c\n", p[5]);
	char *q = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (q == MAP_FAILED || pwrite(fd, "X", 1, 1) != 1)
		return 1;
	printf("untouched page after the file changed: %c\n", q[1]);
	int w = open("lz.dat", O_WRONLY);
	void *r = mmap(0, 4096, PROT_READ, MAP_PRIVATE, w, 0);
	printf("write-only file: %s\n", r == MAP_FAILED ? "refused" : "mapped");
	return 0;
}
