/*
 * view: a program that tries to leave its file view, run inside an image
 * by tests/hostile-images.sh.
 *
 * Each attempt prints one line, "ATTACK what -> RESULT", where RESULT is
 * "success" or the errno's name; a CONTROL line is something that must
 * work (so that a program that cannot run at all does not pass), and a
 * WRITE line is a write to the read-only image (EROFS when the policy
 * allows it, EPERM when it does not).  The script judges the lines; the
 * program always exits 0 unless it is misused.  SETUP lines (making a
 * symlink on a tmpfs) are not judged.
 *
 *   view read PATH...          open and read each PATH (+PATH: a CONTROL)
 *   view escape HOSTPATH       reach HOSTPATH through .., fds and /proc
 *   view symlinks HOSTPATH     make symlinks to it in /tmp and follow them
 *   view write FILE DIR        modify FILE and DIR of the image
 *   view fill PATH BYTES [ignore]  write BYTES to PATH, 64 KiB at a time
 *                              (ignore: SIGXFSZ ignored, as by nohup)
 *   view fds                   open descriptors until refused
 *   view inherited FD...       use descriptors the program did not open
 *   view cat PATH              print PATH
 *   view put PATH TEXT         create or replace PATH holding TEXT
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "t.h"

static const char *result(long r)
{
	return r < 0 ? errname(errno) : "success";
}

static void line(const char *kind, const char *what, long r)
{
	printf("%s %s -> %s\n", kind, what, result(r));
	fflush(stdout);
}

/* Opens path and reads from it; a directory counts as read if it opens. */
static long open_read(const char *path, int flags)
{
	char buf[64];
	int fd = open(path, flags);

	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof buf) < 0 && errno != EISDIR) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* An ATTACK line for a directory that must be the root itself. */
static void differs(const char *what, int yes)
{
	printf("ATTACK %s is not the root -> %s\n", what, yes ? "success" : "no");
	fflush(stdout);
}

static void attack_open(const char *what, const char *path)
{
	char desc[4400];

	snprintf(desc, sizeof desc, "%s open(\"%s\")", what, path);
	line("ATTACK", desc, open_read(path, O_RDONLY));
}

static long attack_openat(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int do_read(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *path = argv[i] + (argv[i][0] == '+');
		char desc[4200];
		snprintf(desc, sizeof desc, "read %s", path);
		line(argv[i][0] == '+' ? "CONTROL" : "ATTACK", desc, open_read(path, O_RDONLY));
	}
	return 0;
}

static int do_escape(const char *host, const char *self)
{
	const char *rel = host + (host[0] == '/');
	char p[4400], desc[4500];
	struct stat a, b;

	line("CONTROL", "open(\"/app/data.txt\")", open_read("/app/data.txt", O_RDONLY));
	int fd = open("/app/data.txt", O_PATH);
	line("CONTROL", "open(\"/app/data.txt\", O_PATH)", fd);
	close(fd);
	attack_open("direct", host);
	snprintf(p, sizeof p, "/../../../../../../../../../../%s", rel);
	attack_open("dotdot", p);
	snprintf(p, sizeof p, "/..//..///./../%s", rel);
	attack_open("dotdot", p);
	line("ATTACK", "stat(host path)", stat(host, &a));
	line("ATTACK", "access(host path)", access(host, F_OK));
	line("ATTACK", "open(host path, O_PATH)", open_read(host, O_PATH));

	/* `..` from the root is the root. */
	long r = stat("/", &a) == 0 && stat("/..", &b) == 0;
	differs("stat(\"/..\")", r && (a.st_dev != b.st_dev || a.st_ino != b.st_ino));
	chdir("/");
	for (int i = 0; i < 64; i++)
		chdir("..");
	char cwd[4096] = "?";
	getcwd(cwd, sizeof cwd);
	printf("CONTROL cwd after 64 chdir(\"..\") is %s -> %s\n", cwd,
	       strcmp(cwd, "/") ? "wrong" : "success");
	attack_open("after chdir(\"..\") loop", rel);

	/* The same from descriptors of directories inside the view. */
	int app = open("/app", O_RDONLY | O_DIRECTORY);
	int root = open("/", O_RDONLY | O_DIRECTORY);
	snprintf(p, sizeof p, "../../../../../../../../%s", rel);
	snprintf(desc, sizeof desc, "openat(/app fd, \"%s\")", p);
	line("ATTACK", desc, attack_openat(app, p));
	snprintf(desc, sizeof desc, "openat(/ fd, \"%s\")", p);
	line("ATTACK", desc, attack_openat(root, p));
	int up = openat(root, "..", O_RDONLY | O_DIRECTORY);
	r = up >= 0 && fstat(up, &b) == 0 && fstat(root, &a) == 0;
	differs("openat(/ fd, \"..\")", r && (a.st_dev != b.st_dev || a.st_ino != b.st_ino));
	fchdir(app);
	chdir("../../../../../../../..");
	attack_open("after fchdir(/app) and chdir(\"../../..\")", rel);
	chdir("/");

	/* Descriptor and process paths, which a host procfs would resolve. */
	snprintf(p, sizeof p, "/dev/fd/%d/../../../../../../%s", app, rel);
	attack_open("fd path", p);
	snprintf(p, sizeof p, "/proc/self/fd/%d/../../../../../../%s", app, rel);
	attack_open("fd path", p);
	snprintf(p, sizeof p, "/proc/self/root/%s", rel);
	attack_open("proc root", p);
	snprintf(p, sizeof p, "/proc/self/cwd/../../../../../../%s", rel);
	attack_open("proc cwd", p);
	snprintf(p, sizeof p, "/proc/1/root/%s", rel);
	attack_open("init's root", p);
	snprintf(p, sizeof p, "/proc/thread-self/root/%s", rel);
	attack_open("proc root", p);
	/* /proc/self/exe may be answered, with the program's own path. */
	char target[4096];
	ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
	target[n > 0 ? n : 0] = 0;
	if (n < 0 || !strcmp(target, self))
		printf("ATTACK readlink(\"/proc/self/exe\") names a host path -> %s\n",
		       n < 0 ? errname(errno) : "no");
	else
		printf("ATTACK readlink(\"/proc/self/exe\") names a host path -> success: %s\n", target);

	/* open_by_handle_at, the "shocker" escape: inode 2 is the root
	 * directory of ext2/3/4, handle type 1 is FILEID_INO32_GEN. */
	struct { unsigned int bytes; int type; unsigned int ino, gen; } h = { 8, 1, 2, 0 };
	r = syscall(SYS_open_by_handle_at, root, &h, O_RDONLY | O_DIRECTORY);
	line("ATTACK", "open_by_handle_at(inode 2)", r);
	return 0;
}

static int do_symlinks(const char *host)
{
	char p[4400], t[4400];

	line("CONTROL", "symlink(\"/\", \"/tmp/root\")", symlink("/", "/tmp/root"));
	line("CONTROL", "open(\"/tmp/root/app/data.txt\")",
	     open_read("/tmp/root/app/data.txt", O_RDONLY));
	line("SETUP", "symlink(host path, \"/tmp/abs\")", symlink(host, "/tmp/abs"));
	attack_open("absolute symlink", "/tmp/abs");
	line("SETUP", "symlink(\"/etc\", \"/tmp/etc\")", symlink("/etc", "/tmp/etc"));
	attack_open("absolute symlink", "/tmp/etc/passwd");
	snprintf(t, sizeof t, "../../../../../../../../..%s", host);
	line("SETUP", "symlink(\"../../..host path\", \"/tmp/rel\")", symlink(t, "/tmp/rel"));
	attack_open("relative symlink", "/tmp/rel");
	line("SETUP", "symlink(\"..\", \"/tmp/up\")", symlink("..", "/tmp/up"));
	snprintf(p, sizeof p, "/tmp/up/tmp/up/../../../../..%s", host);
	attack_open("chained symlinks", p);
	mkdir("/tmp/d", 0755);
	line("SETUP", "symlink(\"../../../../..\", \"/tmp/d/esc\")",
	     symlink("../../../../..", "/tmp/d/esc"));
	snprintf(p, sizeof p, "/tmp/d/esc%s", host);
	attack_open("relative symlink", p);
	line("WRITE", "symlink(\"x\", \"/app/newlink\")", symlink("x", "/app/newlink"));
	return 0;
}

static int do_write(const char *file, const char *dir)
{
	char p[4200], q[4200];
	struct stat st;
	long r;

#define PATH(name) (snprintf(p, sizeof p, "%s/%s", dir, name), p)
	line("WRITE", "open(O_WRONLY)", r = open(file, O_WRONLY));
	line("WRITE", "open(O_RDWR)", r = open(file, O_RDWR));
	line("WRITE", "open(O_WRONLY|O_TRUNC)", r = open(file, O_WRONLY | O_TRUNC));
	line("WRITE", "open(O_WRONLY|O_APPEND)", r = open(file, O_WRONLY | O_APPEND));
	line("WRITE", "creat(new)", r = creat(PATH("new"), 0644));
	line("WRITE", "open(new, O_CREAT|O_EXCL)", r = open(PATH("new2"), O_WRONLY | O_CREAT | O_EXCL, 0644));
	line("WRITE", "unlink", unlink(file));
	snprintf(q, sizeof q, "%s/renamed", dir);
	line("WRITE", "rename", rename(file, q));
	line("WRITE", "chmod", chmod(file, 0777));
	line("WRITE", "chown", chown(file, 1, 1));
	line("WRITE", "utimes", utimes(file, NULL));
	line("WRITE", "mkdir", mkdir(PATH("newdir"), 0755));
	line("WRITE", "rmdir", rmdir(PATH("sub")));
	line("WRITE", "truncate", truncate(file, 0));
	line("WRITE", "symlink", symlink("x", PATH("sl")));
	line("WRITE", "link", link(file, PATH("hl")));

	/* Descriptor routes around the path checks. */
	int fd = open(file, O_RDONLY);
	line("ATTACK", "write to an O_RDONLY descriptor", write(fd, "x", 1));
	line("ATTACK", "ftruncate an O_RDONLY descriptor", ftruncate(fd, 0));
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	line("ATTACK", "mmap(PROT_WRITE, MAP_SHARED) an O_RDONLY descriptor", m == MAP_FAILED ? -1 : 0);
	line("ATTACK", "fchmod an O_RDONLY descriptor", fchmod(fd, 0777));
	line("ATTACK", "mknod a fifo", mknod(PATH("fifo"), S_IFIFO | 0600, 0));
	r = stat(file, &st);
	printf("CONTROL %s still there -> %s\n", file, result(r));
	return 0;
#undef PATH
}

static int do_fill(const char *path, long long bytes, int ignore)
{
	static char chunk[65536];
	long long done = 0;
	char msg[128];

	if (ignore)
		signal(SIGXFSZ, SIG_IGN);
	memset(chunk, 'x', sizeof chunk);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("fill: open %s -> %s\n", path, errname(errno));
		return 1;
	}
	while (done < bytes) {
		ssize_t n = write(fd, chunk, bytes - done < (long long)sizeof chunk ?
				  (size_t)(bytes - done) : sizeof chunk);
		if (n < 0) {
			int n = snprintf(msg, sizeof msg, "fill: %s after %lld bytes\n",
					 errname(errno), done);
			write(1, msg, n);
			return 0;
		}
		done += n;
		/* Unbuffered: the program may be killed at the next write. */
		int m = snprintf(msg, sizeof msg, "wrote %lld\n", done);
		write(1, msg, m);
	}
	printf("fill: all %lld bytes written\n", done);
	return 0;
}

static int do_fds(void)
{
	int last = -1;

	for (int i = 0; i < 100000; i++) {
		int fd = open("/", O_RDONLY | O_DIRECTORY);
		if (fd < 0) {
			printf("fds: opened up to fd %d, then %s\n", last, errname(errno));
			return 0;
		}
		last = fd;
	}
	printf("fds: opened up to fd %d, never refused\n", last);
	return 0;
}

static int do_inherited(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int fd = atoi(argv[i]);
		char desc[128], buf[16];
		struct stat st;

		snprintf(desc, sizeof desc, "fstat(%d)", fd);
		line("ATTACK", desc, fstat(fd, &st));
		snprintf(desc, sizeof desc, "read(%d)", fd);
		line("ATTACK", desc, read(fd, buf, sizeof buf));
		snprintf(desc, sizeof desc, "openat(%d, \"sentinel\")", fd);
		line("ATTACK", desc, attack_openat(fd, "sentinel"));
		snprintf(desc, sizeof desc, "fchdir(%d)", fd);
		line("ATTACK", desc, fchdir(fd));
	}
	return 0;
}

static int do_cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		printf("cat %s -> %s\n", path, errname(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, n, stdout);
	return 0;
}

static int do_put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long r = fd;

	if (fd >= 0) {
		r = write(fd, text, strlen(text));
		if (r >= 0)
			r = close(fd);
	}
	printf("put %s -> %s\n", path, result(r));
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "read"))
		return do_read(argc - 2, argv + 2);
	if (!strcmp(cmd, "escape") && argc == 3)
		return do_escape(argv[2], argv[0]);
	if (!strcmp(cmd, "symlinks") && argc == 3)
		return do_symlinks(argv[2]);
	if (!strcmp(cmd, "write") && argc == 4)
		return do_write(argv[2], argv[3]);
	if (!strcmp(cmd, "fill") && (argc == 4 || argc == 5))
		return do_fill(argv[2], atoll(argv[3]), argc == 5);
	if (!strcmp(cmd, "fds"))
		return do_fds();
	if (!strcmp(cmd, "inherited"))
		return do_inherited(argc - 2, argv + 2);
	if (!strcmp(cmd, "cat") && argc == 3)
		return do_cat(argv[2]);
	if (!strcmp(cmd, "put") && argc == 4)
		return do_put(argv[2], argv[3]);
	fprintf(stderr, "usage: view read|escape|symlinks|write|fill|fds|inherited|cat|put ...\n");
	return 2;
}
