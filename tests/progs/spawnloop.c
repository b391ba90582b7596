/* N fork+execve+wait cycles (default 1000): every child execs this
 * program again, which exits with a status of its own.  Afterwards the
 * process's descriptors (its /proc/self/fd: the launcher's, under
 * dunerun) and resident memory must be what they were after the first
 * few cycles: nothing leaks per process. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int cycles = argc > 1 ? atoi(argv[1]) : 1000, bad = 0, fds0 = 0;
	long rss0 = 0, sum = 0;

	if (argc > 2)                   /* the child, exec'd */
		return atoi(argv[2]) % 7;
	for (int i = 0; i < cycles; i++) {
		char arg[16];
		snprintf(arg, sizeof arg, "%d", i);
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "0", arg, (char *)NULL);
			_exit(127);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != i % 7)
			bad++;
		else
			sum += WEXITSTATUS(st);
		if (i == 9) {
			fds0 = count_fds();
			rss0 = rss_kb();
		}
	}
	int fds = count_fds();
	long rss = rss_kb();
	printf("%d cycles, %d bad, status sum %ld\n", cycles, bad, sum);
	printf("descriptors after 10 and after all: %s\n", fds == fds0 ? "the same" : "DIFFERENT");
	printf("resident memory grew less than 2 MiB: %s\n", rss - rss0 < 2048 ? "yes" : "NO");
	if (fds != fds0 || rss - rss0 >= 2048)
		fprintf(stderr, "fds %d -> %d, rss %ld -> %ld kB\n", fds0, fds, rss0, rss);
	return bad != 0;
}
