/*
 * flood [MIB]: write MIB (default 64) MiB of a deterministic pattern to
 * stdout in writes of varying sizes.  The harness pipes it into sha256sum.
 */
#include "t.h"

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 64;
	long total = mib << 20, done = 0;
	static unsigned char buf[1 << 17];
	unsigned x = 12345;
	for (size_t i = 0; i < sizeof buf; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (unsigned char)(x >> 16);
	}
	long sizes[] = { 1, 4095, 4096, 65536, 131072, 777, 100000 };
	for (int k = 0; done < total; k++) {
		long n = sizes[k % 7];
		if (n > total - done)
			n = total - done;
		buf[0] = (unsigned char)k;
		long w = write(1, buf, n);
		if (w <= 0) {
			fprintf(stderr, "write failed after %ld bytes\n", done);
			return 1;
		}
		done += w;
	}
	fprintf(stderr, "flood wrote %ld bytes\n", done);
	return 0;
}
