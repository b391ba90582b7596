/* A hostile plugin: reads (or with "w", writes) the address it is given,
 * hoping for the sandbox's memory or the supervisor's. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	volatile char *p = (volatile char *)strtoul(argv[1], NULL, 16);
	if (argc > 2 && argv[2][0] == 'w')
		*p = 1;
	printf("read %#lx: %d\n", (unsigned long)p, *p);
	return 0;
}
