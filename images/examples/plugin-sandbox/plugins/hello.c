/* A well-behaved plugin: prints, asks its pid (emulated: 1), reads the
 * page the sandbox shares with it and leaves a reply there. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SHARED ((char *)0x600000000000UL)

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	printf("hello from the plugin (%s, %d args)\n", name ? name + 1 : argv[0], argc);
	printf("getpid: %d\n", (int)getpid());
	printf("shared page says: %s\n", SHARED);
	unsigned sum = 0;
	for (int i = 1; i <= 1000; i++)
		sum = sum * 31 + (unsigned)i;
	printf("checksum: %u\n", sum);
	fflush(stdout);
	strcpy(SHARED, "the plugin was here");
	return 0;
}
