/* Process identity: pids, uids, gids, uname. Prints only facts that do not vary between runs. */
#include "t.h"
#include <sys/utsname.h>

int main(void)
{
	long pid = SYS0(SYS_getpid), tid = SYS0(SYS_gettid), ppid = SYS0(SYS_getppid);
	CHECK(pid > 0, "getpid > 0");
	CHECK(pid == tid, "pid == gettid");
	CHECK(ppid > 0, "getppid > 0");
	CHECK(ppid != pid, "getppid != getpid");
	CHECK(SYS0(SYS_getpid) == pid, "getpid is stable");
	CHECK(getpid() == pid, "libc getpid agrees with the raw syscall");
	/* In a PID namespace the group or session leader may be invisible (0), so print
	 * how they relate to us rather than asserting they are positive. */
	long pgrp = SYS0(SYS_getpgrp), sid = SYS1(SYS_getsid, 0);
	CHECK(pgrp >= 0 && sid >= 0, "getpgrp and getsid(0) succeed");
	CHECK(SYS1(SYS_getpgid, 0) == pgrp, "getpgid(0) == getpgrp");
	CHECK(SYS1(SYS_getpgid, pid) == pgrp, "getpgid(self) == getpgrp");
	printf("pgrp_is_self=%d sid_is_self=%d pgrp_visible=%d\n", pgrp == pid, sid == pid, pgrp > 0);

	/* uid/gid values are the same for the native and the dunerun run: print them. */
	printf("getuid=%ld geteuid=%ld getgid=%ld getegid=%ld\n", SYS0(SYS_getuid), SYS0(SYS_geteuid),
	       SYS0(SYS_getgid), SYS0(SYS_getegid));
	unsigned r, e, s;
	CHECK(syscall(SYS_getresuid, &r, &e, &s) == 0 && r == getuid() && e == geteuid(), "getresuid agrees");
	CHECK(syscall(SYS_getresgid, &r, &e, &s) == 0 && r == getgid() && e == getegid(), "getresgid agrees");
	long ng = SYS2(SYS_getgroups, 0, 0);
	CHECK(ng >= 0, "getgroups(0, NULL) >= 0");

	struct utsname u;
	CHECK(SYS1(SYS_uname, &u) == 0, "uname");
	printf("sysname=%s machine=%s\n", u.sysname, u.machine);
	CHECK(strlen(u.release) > 0, "release is nonempty");
	EXPECT_ERR(SYS1(SYS_uname, 8), EFAULT, "uname into a bad pointer");

	/* umask round trip. */
	long old = SYS1(SYS_umask, 027);
	CHECK(SYS1(SYS_umask, old) == 027, "umask returns the value set before");
	printf("umask=%03lo\n", old);
	/* An unknown syscall number gives ENOSYS. */
	EXPECT_ERR(SYS0(999), ENOSYS, "syscall 999");
	EXPECT_ERR(SYS0(-1), ENOSYS, "syscall -1");
	return t_done();
}
