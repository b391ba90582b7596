/* getrandom: sizes, flags, and that the bytes look random. */
#include "t.h"
#include <sys/random.h>

static int allzero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(void)
{
	unsigned char a[16], b[16], big[65536];
	memset(a, 0, sizeof a);
	long r = SYS3(SYS_getrandom, a, sizeof a, 0);
	printf("getrandom returned %ld bytes, not all zero: %s\n", r, allzero(a, sizeof a) ? "NO" : "yes");
	r = SYS3(SYS_getrandom, b, sizeof b, GRND_NONBLOCK);
	printf("getrandom(GRND_NONBLOCK) returned %ld bytes\n", r);
	CHECK(memcmp(a, b, sizeof a) != 0, "two calls give different bytes");
	r = SYS3(SYS_getrandom, big, sizeof big, 0);
	CHECK(r > 0 && r <= (long)sizeof big, "getrandom 64 KiB returns some bytes");
	int counts[256] = { 0 }, seen = 0;
	for (long i = 0; i < r; i++)
		counts[big[i]]++;
	for (int i = 0; i < 256; i++)
		seen += counts[i] > 0;
	CHECK(r < 4096 || seen == 256, "all 256 byte values appear in the 64 KiB");
	CHECK(SYS3(SYS_getrandom, a, 0, 0) == 0, "getrandom of 0 bytes returns 0");
	EXPECT_ERR(SYS3(SYS_getrandom, a, sizeof a, 0x100), EINVAL, "getrandom with an unknown flag");
	EXPECT_ERR(SYS3(SYS_getrandom, 8, 16, 0), EFAULT, "getrandom into a bad pointer");
	return t_done();
}
