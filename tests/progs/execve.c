/*
 * execve: the program replaces itself.  Failures return to the caller
 * (ENOENT, EACCES, ENOEXEC, ELOOP, EFAULT); a success passes argv, envp
 * and the descriptors without FD_CLOEXEC, through execveat on a
 * descriptor and through `#!` scripts, and the new program's status is
 * the run's.  Run in a scratch directory: it writes files there.
 */
#include "t.h"
#include <fcntl.h>
#include <sys/stat.h>

static void write_file(const char *name, const char *text, mode_t mode)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", name);
	close(fd);
	chmod(name, mode);
}

int main(int argc, char **argv)
{
	char self[4096];

	if (argc > 1 && !strcmp(argv[1], "child")) {
		char exe[4096] = "";
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = 0;
		printf("child: exe is absolute: %s, named %s\n", exe[0] == '/' ? "yes" : "no",
		       strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe);
		printf("child: argc=%d argv0=%s argv2=%s FOO=%s fd3=%s fd4=%s\n", argc, argv[0],
		       argc > 2 ? argv[2] : "-", getenv("FOO") ? getenv("FOO") : "(unset)",
		       fcntl(3, F_GETFD) >= 0 ? "open" : "closed",
		       fcntl(4, F_GETFD) >= 0 ? "open" : "closed");
		return argc > 3 ? atoi(argv[3]) : 7;
	}
	snprintf(self, sizeof self, "%s", argv[0]);
	char *env[] = { "FOO=bar", NULL };
	char *args[] = { "renamed", "child", "via-path", "7", NULL };

	EXPECT_ERR(SYS3(SYS_execve, "./does-not-exist", args, env), ENOENT, "execve of a missing file");
	write_file("plain", "just text\n", 0644);
	EXPECT_ERR(SYS3(SYS_execve, "./plain", args, env), EACCES, "execve of a file without x");
	write_file("garbage", "\x7f" "ELF but not really", 0755);
	EXPECT_ERR(SYS3(SYS_execve, "./garbage", args, env), ENOEXEC, "execve of a broken ELF");
	write_file("loop1", "#!./loop2\n", 0755);
	write_file("loop2", "#!./loop1\n", 0755);
	EXPECT_ERR(SYS3(SYS_execve, "./loop1", args, env), ELOOP, "execve of a #! loop");
	EXPECT_ERR(SYS3(SYS_execve, self, 8, env), EFAULT, "execve with a bad argv");
	EXPECT_ERR(SYS3(SYS_execve, ".", args, env), EACCES, "execve of a directory");

	int keep = open("plain", O_RDONLY), drop = open("plain", O_RDONLY | O_CLOEXEC);
	CHECK(keep == 3 && drop == 4, "descriptors 3 (kept) and 4 (close-on-exec)");
	fflush(stdout);

	/* A script whose interpreter is this program, with an argument. */
	char script[4200];
	snprintf(script, sizeof script, "#!%s child\n", self);
	write_file("script", script, 0755);
	if (argc > 1 && !strcmp(argv[1], "script")) {
		char *sargs[] = { "./script", "11", NULL };
		execve("./script", sargs, env);
		return 99;
	}
	if (argc > 1 && !strcmp(argv[1], "fd")) {
		int fd = open(self, O_RDONLY | O_CLOEXEC);
		char *fargs[] = { "by-fd", "child", "via-fd", "9", NULL };
		syscall(SYS_execveat, fd, "", fargs, env, AT_EMPTY_PATH);
		return 98;
	}
	execve(self, args, env);
	return 97;
}
