/* set_tid_address, set_robust_list/get_robust_list, sched_getaffinity, sched_yield. */
#include "t.h"
#include <sched.h>

struct robust_list_head {
	void *next;
	long futex_offset;
	void *pending;
};

int main(void)
{
	static int tidword;
	long tid = SYS0(SYS_gettid);
	long r = SYS1(SYS_set_tid_address, &tidword);
	CHECK(r == tid, "set_tid_address returns the caller's tid");
	CHECK(SYS1(SYS_set_tid_address, NULL) == tid, "set_tid_address(NULL) returns the tid too");

	static struct robust_list_head head = { &head, 0, NULL };
	CHECK(SYS2(SYS_set_robust_list, &head, sizeof head) == 0, "set_robust_list");
	EXPECT_ERR(SYS2(SYS_set_robust_list, &head, sizeof head + 1), EINVAL, "set_robust_list with a bad size");
	void *got = NULL;
	size_t len = 0;
	CHECK(SYS3(SYS_get_robust_list, 0, &got, &len) == 0 && got == &head && len == sizeof head,
	      "get_robust_list returns the head and size set");

	cpu_set_t set;
	CPU_ZERO(&set);
	r = SYS3(SYS_sched_getaffinity, 0, sizeof set, &set);
	CHECK(r > 0 && r % 8 == 0, "sched_getaffinity returns a mask size");
	CHECK(CPU_COUNT(&set) > 0, "sched_getaffinity: count > 0");
	CHECK(sysconf(_SC_NPROCESSORS_ONLN) > 0, "sysconf(_SC_NPROCESSORS_ONLN) > 0");
	EXPECT_ERR(SYS3(SYS_sched_getaffinity, 0, 1, &set), EINVAL, "sched_getaffinity with a 1-byte mask");
	CHECK(SYS0(SYS_sched_yield) == 0, "sched_yield");
	printf("sched_getscheduler(0) = %ld\n", SYS1(SYS_sched_getscheduler, 0));
	unsigned cpu = 99, node = 99;
	CHECK(SYS3(SYS_getcpu, &cpu, &node, 0) == 0 && cpu < 4096, "getcpu gives a plausible cpu");

	/* futex: a wake with no waiters wakes 0; a wait on a changed value returns EAGAIN. */
	static int fw = 1;
	CHECK(SYS3(SYS_futex, &fw, 1 /* FUTEX_WAKE */, 1) == 0, "futex wake with no waiters wakes 0");
	EXPECT_ERR(SYS4(SYS_futex, &fw, 0 /* FUTEX_WAIT */, 2, NULL), EAGAIN, "futex wait on a changed value");
	struct timespec ts = { 0, 1000000 };
	EXPECT_ERR(SYS4(SYS_futex, &fw, 0 | 128 /* PRIVATE */, 1, &ts), ETIMEDOUT, "futex wait 1 ms times out");
	return t_done();
}
