/*
 * exitcode N [exit|exit_group]: say so on stderr, then exit with status N
 * (0..255): by returning from main, or by the raw exit or exit_group syscall.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;
	const char *how = argc > 2 ? argv[2] : "return";
	fprintf(stderr, "exiting with %d (%s)\n", n, how);
	if (!strcmp(how, "exit"))
		syscall(SYS_exit, n);
	else if (!strcmp(how, "exit_group"))
		syscall(SYS_exit_group, n);
	return n;
}
