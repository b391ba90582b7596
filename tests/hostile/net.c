/*
 * net: a program that reaches for the network, run inside an image by
 * tests/hostile-images.sh.  One line per attempt, "ATTACK what -> RESULT"
 * (RESULT: "success" or the errno's name).
 *
 *   net sockets            one socket of each family
 *   net connect PORT       TCP to 127.0.0.1:PORT (a listener on the host)
 *   net abstract NAME      AF_UNIX to the abstract address "\0NAME" (the
 *                          host's, if the program shared its namespace)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "t.h"

#define NETLINK_ROUTE 0         /* <linux/netlink.h>, which musl lacks */

static void try_socket(const char *what, int domain, int type, int proto)
{
	int fd = socket(domain, type, proto);

	printf("ATTACK socket(%s) -> %s\n", what, fd < 0 ? errname(errno) : "success");
	if (fd >= 0)
		close(fd);
}

static void try_connect(const char *what, int domain, const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(domain, SOCK_STREAM, 0);

	if (fd < 0) {
		printf("ATTACK socket for %s -> %s\n", what, errname(errno));
		return;
	}
	int r = connect(fd, sa, len);
	printf("ATTACK connect(%s) -> %s\n", what, r < 0 ? errname(errno) : "success");
	if (r == 0) {
		char buf[64] = "";
		ssize_t n = read(fd, buf, sizeof buf - 1);
		printf("read %zd bytes from it: %s\n", n, n > 0 ? buf : "");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "sockets")) {
		try_socket("AF_INET, SOCK_STREAM", AF_INET, SOCK_STREAM, 0);
		try_socket("AF_INET6, SOCK_DGRAM", AF_INET6, SOCK_DGRAM, 0);
		try_socket("AF_UNIX, SOCK_STREAM", AF_UNIX, SOCK_STREAM, 0);
		try_socket("AF_NETLINK, NETLINK_ROUTE", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		try_socket("AF_PACKET, SOCK_RAW", AF_PACKET, SOCK_RAW, htons(3) /* ETH_P_ALL */);
		return 0;
	}
	if (!strcmp(cmd, "connect") && argc == 3) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		try_connect("127.0.0.1", AF_INET, (struct sockaddr *)&sin, sizeof sin);
		return 0;
	}
	if (!strcmp(cmd, "abstract") && argc == 3) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		size_t n = strlen(argv[2]);
		if (n > sizeof sun.sun_path - 1)
			n = sizeof sun.sun_path - 1;
		memcpy(sun.sun_path + 1, argv[2], n);
		try_connect("abstract unix", AF_UNIX, (struct sockaddr *)&sun,
			    offsetof(struct sockaddr_un, sun_path) + 1 + n);
		return 0;
	}
	fprintf(stderr, "usage: net sockets | connect PORT | abstract NAME\n");
	return 2;
}
