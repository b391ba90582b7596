/* Clocks and sleeps: consistency between the clocks, and sleeps that last at least as asked. */
#include "t.h"
#include <time.h>
#include <sys/time.h>

static long long ns(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long mono(void)
{
	struct timespec t;
	SYS2(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	return ns(t);
}

int main(void)
{
	struct timespec rt, m1, m2, bt, res;
	struct timeval tv;
	CHECK(SYS2(SYS_clock_gettime, CLOCK_REALTIME, &rt) == 0, "clock_gettime(CLOCK_REALTIME)");
	CHECK(SYS2(SYS_gettimeofday, &tv, NULL) == 0, "gettimeofday");
	long t = SYS1(SYS_time, NULL);
	CHECK(rt.tv_sec > 1600000000, "realtime is after 2020");
	CHECK(tv.tv_sec - rt.tv_sec >= 0 && tv.tv_sec - rt.tv_sec <= 2, "gettimeofday within 2 s of CLOCK_REALTIME");
	CHECK(t - rt.tv_sec >= -1 && t - rt.tv_sec <= 2, "time() within 2 s of CLOCK_REALTIME");
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec in range");
	CHECK(time(NULL) - t <= 2 && time(NULL) >= t, "libc time() agrees with the syscall");
	struct timeval tv2;
	CHECK(gettimeofday(&tv2, NULL) == 0 && tv2.tv_sec - tv.tv_sec <= 2, "libc gettimeofday agrees");

	CHECK(SYS2(SYS_clock_gettime, CLOCK_MONOTONIC, &m1) == 0, "clock_gettime(CLOCK_MONOTONIC)");
	volatile unsigned long spin = 0;
	for (int i = 0; i < 5000000; i++)
		spin += i;
	CHECK(SYS2(SYS_clock_gettime, CLOCK_MONOTONIC, &m2) == 0, "clock_gettime(CLOCK_MONOTONIC) again");
	CHECK(ns(m2) > ns(m1), "clock monotonic advanced");
	CHECK(m1.tv_nsec >= 0 && m1.tv_nsec < 1000000000, "tv_nsec in range");
	CHECK(SYS2(SYS_clock_gettime, CLOCK_BOOTTIME, &bt) == 0 && ns(bt) >= ns(m1),
	      "CLOCK_BOOTTIME >= CLOCK_MONOTONIC");
	struct timespec c1, c2;
	CHECK(SYS2(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &c1) == 0, "CLOCK_PROCESS_CPUTIME_ID");
	CHECK(SYS2(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &c2) == 0, "CLOCK_THREAD_CPUTIME_ID");
	CHECK(SYS2(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, &m1) == 0, "CLOCK_MONOTONIC_COARSE");
	CHECK(SYS2(SYS_clock_gettime, CLOCK_REALTIME_COARSE, &m1) == 0, "CLOCK_REALTIME_COARSE");
	CHECK(clock_gettime(CLOCK_MONOTONIC, &m1) == 0 && ns(m1) >= ns(m2), "libc clock_gettime agrees");
	CHECK(SYS2(SYS_clock_getres, CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0 &&
	      res.tv_nsec <= 1000000, "clock_getres(CLOCK_MONOTONIC) <= 1 ms");
	EXPECT_ERR(SYS2(SYS_clock_gettime, 12345, &m1), EINVAL, "clock_gettime of an unknown clock");
	EXPECT_ERR(SYS2(SYS_clock_gettime, CLOCK_MONOTONIC, 8), EFAULT, "clock_gettime into a bad pointer");

	/* nanosleep 20 ms. */
	struct timespec req = { 0, 20000000 }, rem = { 7, 7 };
	long long a = mono();
	CHECK(SYS2(SYS_nanosleep, &req, &rem) == 0, "nanosleep(20ms) returns 0");
	long long d = mono() - a;
	CHECK(d >= 20000000, "nanosleep(20ms) slept >= 20ms");
	CHECK(d < 2000000000, "nanosleep(20ms) slept < 2s");
	/* clock_nanosleep, relative and absolute. */
	a = mono();
	CHECK(SYS4(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL) == 0, "clock_nanosleep relative 20ms");
	CHECK(mono() - a >= 20000000, "clock_nanosleep relative slept >= 20ms");
	struct timespec until;
	SYS2(SYS_clock_gettime, CLOCK_MONOTONIC, &until);
	until.tv_nsec += 30000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	CHECK(SYS4(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == 0,
	      "clock_nanosleep TIMER_ABSTIME +30ms");
	CHECK(mono() >= ns(until), "woke no earlier than the absolute deadline");
	struct timespec past = { 0, 1 };
	a = mono();
	CHECK(SYS4(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL) == 0 &&
	      mono() - a < 1000000000, "clock_nanosleep to a past deadline returns at once");
	struct timespec zero = { 0, 0 };
	CHECK(SYS2(SYS_nanosleep, &zero, NULL) == 0, "nanosleep(0)");
	struct timespec badns = { 0, 1000000000 };
	EXPECT_ERR(SYS2(SYS_nanosleep, &badns, NULL), EINVAL, "nanosleep with tv_nsec = 1e9");
	struct timespec neg = { -1, 0 };
	EXPECT_ERR(SYS2(SYS_nanosleep, &neg, NULL), EINVAL, "nanosleep with a negative time");
	EXPECT_ERR(SYS2(SYS_nanosleep, 8, NULL), EFAULT, "nanosleep from a bad pointer");
	CHECK(usleep(10000) == 0, "usleep(10000)");

	/* times(): ticks advance monotonically. */
	struct tms { long u, s, cu, cs; } tm;
	long t1 = SYS1(SYS_times, &tm);
	CHECK(t1 != -1 && tm.u >= 0 && tm.s >= 0, "times()");
	return t_done();
}
