/*
 * show: prints what the program was given, for tests/hostile-images.sh:
 * "argv[N]=...", "env ..." (one line per environment string, in order)
 * and "cwd ...".
 */
#include "t.h"

extern char **environ;

int main(int argc, char **argv)
{
	char cwd[4096];

	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		printf("env %s\n", *e);
	printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : errname(errno));
	return 0;
}
