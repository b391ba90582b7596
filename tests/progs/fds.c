/*
 * fds DIR: file descriptor syscalls.  fcntl (dup, cloexec, status flags,
 * record locks), dup/dup2/dup3, pipe2 (written and read in the same process),
 * poll/ppoll/select on pipes, ioctl TIOCGWINSZ/FIONREAD, flock, and EPIPE.
 */
#include "t.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/select.h>

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fds DIR (an existing, empty directory)\n");
		return 2;
	}
	char buf[256];
	int fd = open("f.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(fd, "0123456789", 10);

	/* dup shares the offset; the new fd is the lowest free one. */
	int d = SYS1(SYS_dup, fd);
	CHECK(d == fd + 1, "dup returns the lowest free fd");
	SYS3(SYS_lseek, fd, 3, SEEK_SET);
	CHECK(SYS3(SYS_lseek, d, 0, SEEK_CUR) == 3, "dup'ed fd shares the file offset");
	CHECK(SYS2(SYS_dup2, fd, 20) == 20, "dup2 to 20");
	CHECK(SYS2(SYS_dup2, fd, fd) == fd, "dup2 onto itself returns the fd");
	EXPECT_ERR(SYS2(SYS_dup2, 99, 21), EBADF, "dup2 from a bad fd");
	CHECK(SYS3(SYS_dup3, fd, 21, O_CLOEXEC) == 21, "dup3 to 21 with O_CLOEXEC");
	CHECK(SYS2(SYS_fcntl, 21, F_GETFD) == FD_CLOEXEC, "fd 21 has FD_CLOEXEC");
	CHECK(SYS2(SYS_fcntl, 20, F_GETFD) == 0, "fd 20 (dup2) has no FD_CLOEXEC");
	EXPECT_ERR(SYS3(SYS_dup3, fd, fd, 0), EINVAL, "dup3 onto itself");
	EXPECT_ERR(SYS3(SYS_dup3, fd, 22, 0x1234), EINVAL, "dup3 with bad flags");
	EXPECT_ERR(SYS1(SYS_dup, -1), EBADF, "dup(-1)");

	/* fcntl. */
	CHECK(SYS3(SYS_fcntl, fd, F_DUPFD, 30) == 30, "F_DUPFD 30 gives 30");
	CHECK(SYS3(SYS_fcntl, fd, F_DUPFD, 30) == 31, "F_DUPFD 30 again gives 31");
	int c = SYS3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 40);
	CHECK(c == 40 && SYS2(SYS_fcntl, c, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC 40 has FD_CLOEXEC");
	CHECK(SYS3(SYS_fcntl, c, F_SETFD, 0) == 0 && SYS2(SYS_fcntl, c, F_GETFD) == 0, "F_SETFD clears FD_CLOEXEC");
	CHECK(SYS3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) == 0 && SYS2(SYS_fcntl, fd, F_GETFD) == FD_CLOEXEC,
	      "F_SETFD sets FD_CLOEXEC");
	CHECK(SYS2(SYS_fcntl, d, F_GETFD) == 0, "FD_CLOEXEC is per descriptor, not shared with dups");
	long fl = SYS2(SYS_fcntl, fd, F_GETFL);
	printf("F_GETFL: accmode=%s append=%s nonblock=%s\n",
	       (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "other", fl & O_APPEND ? "yes" : "no",
	       fl & O_NONBLOCK ? "yes" : "no");
	CHECK(SYS3(SYS_fcntl, fd, F_SETFL, fl | O_APPEND | O_NONBLOCK) == 0, "F_SETFL O_APPEND|O_NONBLOCK");
	fl = SYS2(SYS_fcntl, d, F_GETFL);
	printf("F_GETFL on the dup: append=%s nonblock=%s (status flags are shared)\n",
	       fl & O_APPEND ? "yes" : "no", fl & O_NONBLOCK ? "yes" : "no");
	int ro = open("f.txt", O_RDONLY);
	CHECK((SYS2(SYS_fcntl, ro, F_GETFL) & O_ACCMODE) == O_RDONLY, "F_GETFL of an O_RDONLY open");
	EXPECT_ERR(SYS2(SYS_fcntl, 99, F_GETFL), EBADF, "F_GETFL on a bad fd");
	EXPECT_ERR(SYS2(SYS_fcntl, fd, 9999), EINVAL, "fcntl with an unknown command");

	/* Record locks (what sqlite uses) and flock. */
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5 };
	CHECK(SYS3(SYS_fcntl, fd, F_SETLK, &lk) == 0, "F_SETLK write lock on bytes 0-4");
	lk.l_type = F_RDLCK;
	CHECK(SYS3(SYS_fcntl, ro, F_GETLK, &lk) == 0 && lk.l_type == F_UNLCK,
	      "F_GETLK from the same process sees no conflict");
	lk.l_type = F_UNLCK;
	CHECK(SYS3(SYS_fcntl, fd, F_SETLK, &lk) == 0, "F_SETLK unlock");
	CHECK(SYS2(SYS_flock, fd, LOCK_EX | LOCK_NB) == 0, "flock LOCK_EX|LOCK_NB");
	CHECK(SYS2(SYS_flock, fd, LOCK_UN) == 0, "flock LOCK_UN");

	/* ioctl on a regular file. */
	struct winsize ws;
	EXPECT_ERR(SYS3(SYS_ioctl, fd, TIOCGWINSZ, &ws), ENOTTY, "ioctl TIOCGWINSZ on a regular file");
	EXPECT_ERR(SYS3(SYS_ioctl, 99, TIOCGWINSZ, &ws), EBADF, "ioctl on a bad fd");
	CHECK(!isatty(fd) && errno == ENOTTY, "isatty(file) is false with ENOTTY");

	/* pipe2: write then read in the same process. */
	int p[2];
	CHECK(SYS2(SYS_pipe2, p, 0) == 0, "pipe2");
	CHECK(SYS3(SYS_write, p[1], "through the pipe", 16) == 16, "write 16 bytes into the pipe");
	int avail = -1;
	CHECK(SYS3(SYS_ioctl, p[0], FIONREAD, &avail) == 0 && avail == 16, "FIONREAD says 16");
	long n = SYS3(SYS_read, p[0], buf, sizeof buf);
	printf("read %ld bytes from the pipe: %.*s\n", n, (int)(n > 0 ? n : 0), buf);
	EXPECT_ERR(SYS3(SYS_write, p[0], "x", 1), EBADF, "write to the read end");
	EXPECT_ERR(SYS3(SYS_lseek, p[0], 0, SEEK_SET), ESPIPE, "lseek on a pipe");
	EXPECT_ERR(SYS4(SYS_pread64, p[0], buf, 1, 0), ESPIPE, "pread64 on a pipe");

	/* poll: empty pipe not readable; after a write, readable; write end writable. */
	struct pollfd pf[2] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 } };
	CHECK(SYS3(SYS_poll, pf, 1, 0) == 0, "poll on an empty pipe with timeout 0 returns 0");
	CHECK(SYS3(SYS_poll, pf, 2, 0) == 1 && pf[1].revents == POLLOUT, "write end is POLLOUT");
	write(p[1], "z", 1);
	CHECK(SYS3(SYS_poll, pf, 2, 1000) == 2 && pf[0].revents == POLLIN, "after a write the read end is POLLIN");
	read(p[0], buf, 1);
	struct pollfd pb = { p[0], POLLIN, 0 };
	n = SYS3(SYS_poll, &pb, 1, 30);
	CHECK(n == 0, "poll with a 30 ms timeout on an empty pipe times out");
	struct timespec ts = { 0, 1000000 };
	CHECK(SYS5(SYS_ppoll, &pb, 1, &ts, NULL, 8) == 0, "ppoll 1 ms times out");
	struct pollfd bad = { 99, POLLIN, 0 };
	CHECK(SYS3(SYS_poll, &bad, 1, 0) == 1 && bad.revents == POLLNVAL, "poll on a bad fd gives POLLNVAL");

	/* select on the pipe. */
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	struct timeval tv = { 0, 0 };
	CHECK(select(p[0] + 1, &rs, NULL, NULL, &tv) == 0, "select on an empty pipe returns 0");
	write(p[1], "y", 1);
	FD_SET(p[0], &rs);
	tv.tv_usec = 100000;
	CHECK(select(p[0] + 1, &rs, NULL, NULL, &tv) == 1 && FD_ISSET(p[0], &rs), "select sees the pipe readable");
	read(p[0], buf, 1);

	/* O_NONBLOCK pipe: EAGAIN when empty; fill it up; EOF after the writer closes. */
	int q[2];
	CHECK(SYS2(SYS_pipe2, q, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2(O_NONBLOCK|O_CLOEXEC)");
	CHECK(SYS2(SYS_fcntl, q[0], F_GETFD) == FD_CLOEXEC, "both ends have FD_CLOEXEC");
	EXPECT_ERR(SYS3(SYS_read, q[0], buf, 1), EAGAIN, "read from an empty non-blocking pipe");
	long total = 0;
	static char chunk[4096];
	while ((n = SYS3(SYS_write, q[1], chunk, sizeof chunk)) > 0)
		total += n;
	printf("filled a non-blocking pipe: stopped with %s, capacity >= 4096: %s\n", errname((int)n),
	       total >= 4096 ? "yes" : "NO");
	long drained = 0;
	while ((n = SYS3(SYS_read, q[0], chunk, sizeof chunk)) > 0)
		drained += n;
	CHECK(drained == total, "drained exactly what was written");
	close(q[1]);
	CHECK(SYS3(SYS_read, q[0], buf, 1) == 0, "read after the writer closed returns EOF");
	struct pollfd ph = { q[0], POLLIN, 0 };
	CHECK(SYS3(SYS_poll, &ph, 1, 0) == 1 && (ph.revents & POLLHUP), "poll reports POLLHUP");
	close(q[0]);

	/* EPIPE with SIGPIPE ignored. */
	signal(SIGPIPE, SIG_IGN);
	close(p[0]);
	EXPECT_ERR(SYS3(SYS_write, p[1], "x", 1), EPIPE, "write to a pipe with no reader (SIGPIPE ignored)");
	close(p[1]);

	/* Closing: close on an unused fd; closed fds are reused lowest-first. */
	close(d);
	CHECK(SYS1(SYS_dup, fd) == d, "after close(d), dup reuses d");
	EXPECT_ERR(SYS1(SYS_close, 1000), EBADF, "close(1000)");
	return t_done();
}
