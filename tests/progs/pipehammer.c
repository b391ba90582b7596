/* Hammers a pipe between two processes: the writer sends 64 MiB in
 * chunks of varying size, the reader reads with other sizes; both
 * checksum what passed, and the parent compares.  A second pass does
 * 2000 one-byte ping-pongs over two pipes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL (64 << 20)

static uint64_t mix(uint64_t h, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

int main(void)
{
	static unsigned char buf[65536];
	int p[2], back[2], q[2];
	uint64_t sent = 0xcbf29ce484222325ULL, got = sent;
	size_t done = 0;
	uint32_t x = 12345;

	if (pipe(p) || pipe(back))
		return 1;
	pid_t w = fork();
	if (w == 0) {
		close(p[0]);
		close(back[0]);
		while (done < TOTAL) {
			x = x * 1103515245 + 12345;
			size_t n = 1 + (x >> 8) % sizeof buf;
			if (n > TOTAL - done)
				n = TOTAL - done;
			for (size_t i = 0; i < n; i++)
				buf[i] = (unsigned char)(done + i * 7);
			if (write(p[1], buf, n) != (ssize_t)n)
				_exit(2);
			sent = mix(sent, buf, n);
			done += n;
		}
		close(p[1]);
		if (write(back[1], &sent, sizeof sent) != sizeof sent)
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	close(back[1]);
	ssize_t n;
	size_t sizes[] = { 1, 4096, 100, 65536, 7, 30000 };
	for (int k = 0; (n = read(p[0], buf, sizes[k % 6])) > 0; k++) {
		got = mix(got, buf, (size_t)n);
		done += (size_t)n;
	}
	if (read(back[0], &sent, sizeof sent) != sizeof sent)
		return 1;
	int st;
	waitpid(w, &st, 0);
	printf("%zu bytes through the pipe; checksums %s; writer status %d\n", done,
	       sent == got ? "match" : "DIFFER", WEXITSTATUS(st));

	/* Ping-pong: one byte each way, 2000 times. */
	if (pipe(p) || pipe(q))
		return 1;
	pid_t e = fork();
	char c;
	if (e == 0) {
		while (read(p[0], &c, 1) == 1 && c != 0)
			if (write(q[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	int ok = 0;
	for (int i = 0; i < 2000; i++) {
		c = (char)('a' + i % 26);
		char r = 0;
		if (write(p[1], &c, 1) == 1 && read(q[0], &r, 1) == 1 && r == c)
			ok++;
	}
	c = 0;
	if (write(p[1], &c, 1) != 1)
		return 1;
	waitpid(e, &st, 0);
	printf("ping-pong: %d of 2000 round trips; echo status %d\n", ok, WEXITSTATUS(st));
	return 0;
}
