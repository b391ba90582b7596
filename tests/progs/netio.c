/*
 * netio: sockets in one process, over loopback and socket pairs: stream
 * and datagram, vectored and flagged sends and receives, addresses in and
 * out, options, shutdown, and the errors bad arguments give.  Run under
 * dunerun with --allow inet,unix; prints only facts that hold natively.
 */
#include "t.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

static void pair_stream(void)
{
	int sv[2];
	char buf[64] = {0}, a[8] = {0}, b[64] = {0};

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair stream");
	CHECK(write(sv[0], "hello", 5) == 5 && read(sv[1], buf, sizeof buf) == 5 &&
	      !memcmp(buf, "hello", 5), "write/read across the pair");

	struct iovec out[3] = { { "one ", 4 }, { "two ", 4 }, { "three", 5 } };
	struct msghdr m = { .msg_iov = out, .msg_iovlen = 3 };
	CHECK(sendmsg(sv[0], &m, 0) == 13, "sendmsg of three iovecs");
	CHECK(recv(sv[1], buf, 4, MSG_PEEK) == 4 && !memcmp(buf, "one ", 4), "recv MSG_PEEK");
	struct iovec in[2] = { { a, 8 }, { b, sizeof b } };
	struct msghdr r = { .msg_iov = in, .msg_iovlen = 2 };
	long n = recvmsg(sv[1], &r, 0);
	CHECK(n == 13 && !memcmp(a, "one two ", 8) && !memcmp(b, "three", 5),
	      "recvmsg scatters into two iovecs");
	printf("recvmsg flags=%d namelen=%u\n", r.msg_flags, (unsigned)r.msg_namelen);

	CHECK(shutdown(sv[0], SHUT_WR) == 0, "shutdown SHUT_WR");
	CHECK(read(sv[1], buf, sizeof buf) == 0, "read after the peer's shutdown is EOF");
	CHECK(send(sv[0], "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE,
	      "send after SHUT_WR with MSG_NOSIGNAL: EPIPE, no signal");
	close(sv[0]);
	close(sv[1]);
}

static void pair_dgram(void)
{
	int sv[2];
	char buf[16];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair dgram");
	CHECK(fcntl(sv[0], F_GETFD) == FD_CLOEXEC, "SOCK_CLOEXEC sets close-on-exec");
	CHECK(sendto(sv[0], "first", 5, 0, NULL, 0) == 5 && send(sv[0], "second!", 7, 0) == 7,
	      "two datagrams");
	CHECK(recvfrom(sv[1], buf, 3, 0, NULL, NULL) == 3, "a short read takes 3 bytes");
	CHECK(recv(sv[1], buf, sizeof buf, MSG_TRUNC) == 7, "the next datagram is whole (7)");
	close(sv[0]);
	close(sv[1]);
}

static void tcp_loopback(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in peer, local;
	socklen_t len = sizeof addr;
	int srv = socket(AF_INET, SOCK_STREAM, 0), one = 1, val = 0;
	socklen_t vlen = sizeof val;
	char buf[70000];

	CHECK(srv >= 0, "socket(AF_INET, SOCK_STREAM)");
	CHECK(setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
	CHECK(bind(srv, (struct sockaddr *)&addr, sizeof addr) == 0, "bind 127.0.0.1:0");
	CHECK(listen(srv, 4) == 0, "listen");
	CHECK(getsockname(srv, (struct sockaddr *)&addr, &len) == 0 && len == sizeof addr &&
	      addr.sin_port != 0, "getsockname gives the port");
	int cli = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cli, (struct sockaddr *)&addr, sizeof addr) == 0, "connect");
	len = sizeof peer;
	int conn = accept4(srv, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	CHECK(conn >= 0 && fcntl(conn, F_GETFD) == FD_CLOEXEC, "accept4 with SOCK_CLOEXEC");
	len = sizeof local;
	CHECK(getsockname(cli, (struct sockaddr *)&local, &len) == 0 &&
	      local.sin_port == peer.sin_port, "accept's address is the client's");
	len = sizeof peer;
	CHECK(getpeername(cli, (struct sockaddr *)&peer, &len) == 0 &&
	      peer.sin_port == addr.sin_port, "getpeername is the server");
	CHECK(setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
	      getsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &val, &vlen) == 0 && val == 1 &&
	      vlen == sizeof val, "TCP_NODELAY round trip");
	vlen = sizeof val;
	CHECK(getsockopt(conn, SOL_SOCKET, SO_TYPE, &val, &vlen) == 0 && val == SOCK_STREAM,
	      "SO_TYPE is SOCK_STREAM");

	/* 64 KiB each way, read back in whatever pieces the stack gives. */
	memset(buf, 'z', sizeof buf);
	long sent = send(cli, buf, 65536, 0), got = 0, k;
	while (got < sent && (k = recv(conn, buf, sizeof buf, 0)) > 0)
		got += k;
	CHECK(sent == 65536 && got == sent, "64 KiB across loopback");
	close(cli);
	CHECK(recv(conn, buf, 1, 0) == 0, "EOF after the client closes");
	close(conn);
	close(srv);
}

static void udp_loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in b = a, from;
	socklen_t len = sizeof a;
	int sa = socket(AF_INET, SOCK_DGRAM, 0), sb = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[32] = {0};

	CHECK(bind(sa, (struct sockaddr *)&a, sizeof a) == 0 &&
	      getsockname(sa, (struct sockaddr *)&a, &len) == 0, "udp bind a");
	len = sizeof b;
	CHECK(bind(sb, (struct sockaddr *)&b, sizeof b) == 0 &&
	      getsockname(sb, (struct sockaddr *)&b, &len) == 0, "udp bind b");
	CHECK(sendto(sa, "ping", 4, 0, (struct sockaddr *)&b, sizeof b) == 4, "sendto b");
	len = sizeof from;
	CHECK(recvfrom(sb, buf, sizeof buf, 0, (struct sockaddr *)&from, &len) == 4 &&
	      !memcmp(buf, "ping", 4) && from.sin_port == a.sin_port && len == sizeof from,
	      "recvfrom names the sender");
	/* A too-small address buffer: cut, and the full length reported. */
	char small[4];
	len = sizeof small;
	sendto(sa, "pong", 4, 0, (struct sockaddr *)&b, sizeof b);
	CHECK(recvfrom(sb, buf, sizeof buf, 0, (struct sockaddr *)small, &len) == 4 &&
	      len == sizeof(struct sockaddr_in), "a short address buffer gets the full length");
	close(sa);
	close(sb);
}

static void unix_path(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = "netio.sock" };
	int srv = socket(AF_UNIX, SOCK_STREAM, 0), cli = socket(AF_UNIX, SOCK_STREAM, 0);
	char buf[8] = {0};

	unlink(addr.sun_path);
	CHECK(bind(srv, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(srv, 1) == 0,
	      "AF_UNIX bind and listen on a path");
	CHECK(connect(cli, (struct sockaddr *)&addr, sizeof addr) == 0, "connect by path");
	int conn = accept(srv, NULL, NULL);
	CHECK(conn >= 0 && write(cli, "path", 4) == 4 && read(conn, buf, sizeof buf) == 4,
	      "data over a path socket");
	close(conn);
	close(cli);
	close(srv);
	CHECK(unlink(addr.sun_path) == 0, "the socket file was made where asked");
}

static void bad_arguments(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), val;
	struct sockaddr_in a = { .sin_family = AF_INET };

	EXPECT_ERR(SYS3(SYS_connect, s, 8, sizeof a), EFAULT, "connect with a bad address");
	EXPECT_ERR(SYS3(SYS_bind, s, &a, 1000), EINVAL, "bind with an address too long");
	EXPECT_ERR(SYS5(SYS_getsockopt, s, SOL_SOCKET, SO_TYPE, &val, 8), EFAULT,
		   "getsockopt with a bad length pointer");
	EXPECT_ERR(SYS3(SYS_getsockname, s, 8, 8), EFAULT, "getsockname into bad pointers");
	EXPECT_ERR(SYS3(SYS_sendto, 999, "x", 1), EBADF, "sendto a closed descriptor");
	EXPECT_ERR(SYS3(SYS_listen, 0, 1, 0), ENOTSOCK, "listen on stdin");
	close(s);
}

int main(void)
{
	pair_stream();
	pair_dgram();
	tcp_loopback();
	udp_loopback();
	unix_path();
	bad_arguments();
	return t_done();
}
