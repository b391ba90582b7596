/* prlimit64, getrlimit/setrlimit, and RLIMIT_NOFILE enforcement. */
#include "t.h"
#include <sys/resource.h>

int main(void)
{
	struct rlimit nf, st, nw;
	CHECK(SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &nf) == 0, "prlimit64 get RLIMIT_NOFILE");
	CHECK(nf.rlim_cur <= nf.rlim_max, "RLIMIT_NOFILE soft <= hard");
	CHECK(nf.rlim_cur >= 64, "RLIMIT_NOFILE soft >= 64");
	CHECK(SYS4(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &st) == 0, "prlimit64 get RLIMIT_STACK");
	CHECK(st.rlim_cur == RLIM_INFINITY || st.rlim_cur >= 65536, "RLIMIT_STACK soft is sane");
	CHECK(getrlimit(RLIMIT_AS, &nw) == 0 && nw.rlim_cur <= nw.rlim_max, "getrlimit RLIMIT_AS");

	/* Lower the soft NOFILE limit to 16 and read it back. */
	struct rlimit lo = { 16, nf.rlim_max }, old;
	CHECK(SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, &lo, &old) == 0, "prlimit64 set RLIMIT_NOFILE soft=16");
	CHECK(old.rlim_cur == nf.rlim_cur && old.rlim_max == nf.rlim_max, "prlimit64 returned the old limits");
	CHECK(getrlimit(RLIMIT_NOFILE, &nw) == 0 && nw.rlim_cur == 16, "getrlimit sees soft=16");

	/* dup until EMFILE: the first fd refused must be 16. */
	int last = -1, fd;
	while ((fd = dup(0)) >= 0)
		last = fd;
	printf("dup stopped with %s after fd %d\n", errname(errno), last);
	for (fd = 3; fd <= last; fd++)
		close(fd);
	EXPECT_ERR(SYS3(SYS_dup2, 0, 16, 0), EBADF, "dup2 to fd 16 with soft limit 16");

	struct rlimit toohigh = { nf.rlim_max + 1, nf.rlim_max };
	if (nf.rlim_max != RLIM_INFINITY)
		EXPECT_ERR(SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, &toohigh, NULL), EINVAL, "soft limit above hard");
	CHECK(setrlimit(RLIMIT_NOFILE, &nf) == 0, "setrlimit restores RLIMIT_NOFILE");
	EXPECT_ERR(SYS4(SYS_prlimit64, 0, 999, NULL, &nw), EINVAL, "prlimit64 with an unknown resource");
	EXPECT_ERR(SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, 8), EFAULT, "prlimit64 into a bad pointer");

	struct rusage ru;
	CHECK(SYS2(SYS_getrusage, RUSAGE_SELF, &ru) == 0, "getrusage(RUSAGE_SELF)");
	CHECK(ru.ru_maxrss >= 0, "ru_maxrss >= 0");
	return t_done();
}
