/* procself: what glibc, python and gcc read under /proc/self, checked
 * against the program's own view of itself: the mappings (maps) that hold
 * its code, libc's, its heap and its stack, glibc's main-thread stack
 * from them (pthread_getattr_np), the fd directory and exe. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The maps line whose range holds addr: its permissions and name. */
static int find_map(const void *addr, char perms[5], char *name, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		int n = 0;
		if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %*u %n", &lo, &hi, perms, &n) < 3)
			continue;
		if ((unsigned long)addr >= lo && (unsigned long)addr < hi) {
			snprintf(name, len, "%s", line + n);
			name[strcspn(name, "\n")] = 0;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static void show(const char *what, const void *addr, const char *want)
{
	char perms[5] = "", name[4096] = "";
	int ok = find_map(addr, perms, name, sizeof name);

	printf("%s: %s %s\n", what, ok ? perms : "not mapped",
	       !want ? "" : !strcmp(name, want) ? "(named right)" : name);
}

int main(int argc, char **argv)
{
	char exe[4096], self[4096];
	Dl_info libc;
	int local = 0;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	exe[n > 0 ? n : 0] = 0;
	if (!realpath(argv[0], self) || strcmp(self, exe))
		printf("exe: %s, not %s\n", exe, self);
	dladdr((void *)printf, &libc);
	show("main", (void *)main, exe);
	show("printf", (void *)printf, libc.dli_fname);
	show("heap", malloc(100), "[heap]");
	show("stack", &local, "[stack]");

	pthread_attr_t a;
	void *base;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) || pthread_attr_getstack(&a, &base, &size))
		printf("pthread_getattr_np failed\n");
	else
		printf("main stack holds a local: %s\n",
		       (char *)&local >= (char *)base && (char *)&local < (char *)base + size ? "yes" : "no");

	int fd = open("/proc/self/exe", O_RDONLY);
	close(7);
	dup2(fd, 9);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int seen[16] = { 0 }, dots = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] == '.')
			dots++;
		else if (atoi(e->d_name) < 16)
			seen[atoi(e->d_name)] = e->d_type == DT_LNK ? 1 : 2;
	printf("fd dir: . and .. %d, fd %d %s, 9 %s, 7 %s\n", dots, fd,
	       seen[fd] == 1 ? "listed" : "missing", seen[9] == 1 ? "listed" : "missing",
	       seen[7] ? "listed" : "absent");
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	n = readlink(self, exe + 2048, 2047);
	exe[2048 + (n > 0 ? n : 0)] = 0;
	printf("fd %d names the program: %s\n", fd, !strcmp(exe + 2048, exe) ? "yes" : exe + 2048);
	return 0;
}
