/*
 * arch_prctl: set the FS and GS bases to our own buffers, read them back both
 * with ARCH_GET_* and through %fs:/%gs: relative loads, then restore FS (musl
 * keeps its thread pointer there, so no libc call may happen in between).
 */
#include "t.h"
#include <stdint.h>
/* From <asm/prctl.h>, which musl does not ship. */
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

static uint64_t fsbuf[4] = { 0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0 };
static uint64_t gsbuf[2] = { 0xaaaaaaaaaaaaaaaa, 0xbbbbbbbbbbbbbbbb };

int main(void)
{
	uint64_t oldfs = 0, gotfs = 0, v0 = 0, v1 = 0, backfs = 0;
	long r1, r2, r3, r4;

	r1 = syscall(SYS_arch_prctl, ARCH_GET_FS, &oldfs);
	/* From here until the restore: raw syscalls only, no errno, no printf. */
	__asm__ volatile("syscall" : "=a"(r2) : "a"(SYS_arch_prctl), "D"(ARCH_SET_FS), "S"(fsbuf)
			 : "rcx", "r11", "memory");
	__asm__ volatile("syscall" : "=a"(r3) : "a"(SYS_arch_prctl), "D"(ARCH_GET_FS), "S"(&gotfs)
			 : "rcx", "r11", "memory");
	__asm__ volatile("movq %%fs:0, %0" : "=r"(v0));
	__asm__ volatile("movq %%fs:8, %0" : "=r"(v1));
	__asm__ volatile("movq $0x4444444444444444, %%rax; movq %%rax, %%fs:24" ::: "rax", "memory");
	/* A syscall while FS points at our buffer must not disturb it. */
	long pid;
	__asm__ volatile("syscall" : "=a"(pid) : "a"(SYS_getpid) : "rcx", "r11", "memory");
	uint64_t v0again;
	__asm__ volatile("movq %%fs:0, %0" : "=r"(v0again));
	__asm__ volatile("syscall" : "=a"(r4) : "a"(SYS_arch_prctl), "D"(ARCH_SET_FS), "S"(oldfs)
			 : "rcx", "r11", "memory");
	syscall(SYS_arch_prctl, ARCH_GET_FS, &backfs);

	CHECK(r1 == 0, "ARCH_GET_FS of the initial thread pointer");
	CHECK(oldfs != 0, "initial FS base is nonzero (musl's thread pointer)");
	CHECK(r2 == 0, "ARCH_SET_FS to a buffer");
	CHECK(r3 == 0 && gotfs == (uintptr_t)fsbuf, "ARCH_GET_FS returns the buffer address");
	CHECK(v0 == 0x1111111111111111, "%%fs:0 reads the buffer's first word");
	CHECK(v1 == 0x2222222222222222, "%%fs:8 reads the buffer's second word");
	CHECK(fsbuf[3] == 0x4444444444444444, "a store to %%fs:24 lands in the buffer");
	CHECK(pid > 0 && v0again == 0x1111111111111111, "FS base survives a syscall");
	CHECK(r4 == 0 && backfs == oldfs, "FS base restored");

	/* GS: set, read through %gs:, read back. */
	uint64_t oldgs = 1, gotgs = 0, g0 = 0, g1 = 0;
	CHECK(syscall(SYS_arch_prctl, ARCH_GET_GS, &oldgs) == 0, "ARCH_GET_GS");
	printf("initial GS base is zero: %s\n", oldgs == 0 ? "yes" : "no");
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, gsbuf) == 0, "ARCH_SET_GS to a buffer");
	CHECK(syscall(SYS_arch_prctl, ARCH_GET_GS, &gotgs) == 0 && gotgs == (uintptr_t)gsbuf,
	      "ARCH_GET_GS returns the buffer address");
	__asm__ volatile("movq %%gs:0, %0" : "=r"(g0));
	__asm__ volatile("movq %%gs:8, %0" : "=r"(g1));
	CHECK(g0 == 0xaaaaaaaaaaaaaaaa && g1 == 0xbbbbbbbbbbbbbbbb, "%%gs:0 and %%gs:8 read the buffer");
	getppid();
	__asm__ volatile("movq %%gs:8, %0" : "=r"(g1));
	CHECK(g1 == 0xbbbbbbbbbbbbbbbb, "GS base survives a syscall");
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, 0) == 0, "ARCH_SET_GS back to 0");

	/* Errors. */
	EXPECT_ERR(SYS2(SYS_arch_prctl, 0x9999, 0), EINVAL, "arch_prctl with an unknown code");
	EXPECT_ERR(SYS2(SYS_arch_prctl, ARCH_SET_FS, 0x800000000000UL), EPERM,
		   "ARCH_SET_FS to a non-user address");
	EXPECT_ERR(SYS2(SYS_arch_prctl, ARCH_GET_FS, 8), EFAULT, "ARCH_GET_FS into a bad pointer");
	return t_done();
}
