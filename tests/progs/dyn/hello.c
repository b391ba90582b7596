/* hello: the smallest dynamic program, for glibc's and musl's loaders. */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("hello from %s, %d arguments\n", argc > 1 ? argv[1] : "?", argc - 1);
	return 0;
}
