/* catin: copy stdin to stdout with read/write, then report the byte count on stderr. */
#include "t.h"

int main(void)
{
	static char buf[65536];
	long total = 0, n;
	while ((n = read(0, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			long w = write(1, buf + off, n - off);
			if (w <= 0) {
				fprintf(stderr, "write failed: %s\n", errname(errno));
				return 1;
			}
			off += w;
		}
		total += n;
	}
	if (n < 0) {
		fprintf(stderr, "read failed: %s\n", errname(errno));
		return 1;
	}
	fprintf(stderr, "catin copied %ld bytes\n", total);
	return 0;
}
