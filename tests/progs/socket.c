/*
 * socket: dunerun refuses network access, so socket() fails with EACCES
 * there, while natively it succeeds.  This is the one case whose expected
 * output under dunerun differs from the native run.
 */
#include "t.h"
#include <sys/socket.h>

int main(void)
{
	long r = SYS3(SYS_socket, AF_INET, SOCK_STREAM, 0);
	printf("socket(AF_INET, SOCK_STREAM) -> %s\n", r >= 0 ? "OK" : errname((int)r));
	r = SYS3(SYS_socket, AF_UNIX, SOCK_DGRAM, 0);
	printf("socket(AF_UNIX, SOCK_DGRAM) -> %s\n", r >= 0 ? "OK" : errname((int)r));
	return 0;
}
