/*
 * args ARGS...: what the program receives at startup.  argv and selected
 * environment variables, the auxiliary vector's stable entries, the
 * standard descriptors, and that no other descriptor leaked in.
 */
#include "t.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/auxv.h>

extern char **environ;

int main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=[%s]\n", i, argv[i]);
	CHECK(argv[argc] == NULL, "argv is NULL-terminated");
	int nenv = 0;
	for (char **e = environ; *e; e++)
		nenv++;
	CHECK(nenv > 0, "environment is not empty");
	const char *v = getenv("DUNERUN_TEST_VAR");
	printf("DUNERUN_TEST_VAR=[%s]\n", v ? v : "(unset)");
	v = getenv("DUNERUN_TEST_EMPTY");
	printf("DUNERUN_TEST_EMPTY=[%s]\n", v ? v : "(unset)");
	CHECK((char *)environ == (char *)(argv + argc + 1), "envp follows argv on the initial stack");

	CHECK(getauxval(AT_PAGESZ) == 4096, "AT_PAGESZ is 4096");
	unsigned char *rnd = (unsigned char *)getauxval(AT_RANDOM);
	int nz = 0;
	for (int i = 0; rnd && i < 16; i++)
		nz |= rnd[i];
	CHECK(rnd && nz, "AT_RANDOM points at 16 bytes, not all zero");
	CHECK(getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid(), "AT_UID/AT_EUID match getuid/geteuid");
	CHECK(getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid(), "AT_GID/AT_EGID match getgid/getegid");
	CHECK(getauxval(AT_SECURE) == 0, "AT_SECURE is 0");
	CHECK(getauxval(AT_PHDR) != 0 && getauxval(AT_PHNUM) > 0 && getauxval(AT_PHENT) == 56,
	      "AT_PHDR/AT_PHNUM/AT_PHENT describe the program headers");
	CHECK(getauxval(AT_ENTRY) != 0, "AT_ENTRY is set");
	const char *fn = (const char *)getauxval(AT_EXECFN);
	printf("AT_EXECFN is argv[0]: %s\n", fn && !strcmp(fn, argv[0]) ? "yes" : "no");
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	CHECK((uintptr_t)argv > sp, "argv lies above main's frame");

	for (int fd = 0; fd < 3; fd++)
		printf("fd %d open: %s\n", fd, fcntl(fd, F_GETFD) >= 0 ? "yes" : "no");
	int leaked = 0;
	for (int fd = 3; fd < 1024; fd++)
		leaked += fcntl(fd, F_GETFD) >= 0;
	printf("descriptors >= 3 open at startup: %d\n", leaked);
	return t_done();
}
