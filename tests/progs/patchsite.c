/*
 * What a program sees of its syscall sites, which dunerun rewrites into
 * jumps (patch/patch.h): each mode prints facts that must be the same as
 * in a native run.
 *
 *   regs [N]     after each of N syscalls from one site (the first takes
 *                the `syscall` instruction, the rest the patch), every
 *                register but rax, rcx and r11 is as it was, rcx is the
 *                return address, r11 and rflags the flags before the call;
 *                the instruction after the syscall is RIP-relative
 *   redzone [N]  a leaf function's red zone (below rsp) survives syscalls
 *   selfsum      the program's text, made readable again with mprotect,
 *                is its original bytes, and reading it otherwise differs
 *                from them only by the patches' five bytes at syscalls
 *   smc          code that rewrites a syscall site after it has run: the
 *                new instruction runs, and the bytes read back are the
 *                program's own
 *   sigrestart   a blocking read restarted (SA_RESTART) across timer
 *                signals whose handler makes syscalls
 *   spawn PROG ARG...  posix_spawn (musl: clone with CLONE_VFORK on a
 *                stack of its own) three times, waiting for each
 *   nullcall     a call through a NULL pointer: SIGSEGV
 */
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "t.h"

/* ---- regs ------------------------------------------------------------ */

struct probe {
	uint64_t rbx, rdx, rsi, rdi, rbp, r8, r9, r10, r12, r13, r14, r15;
	uint64_t rcx, r11, flags_before, flags_after, ret;
};
struct probe probe_out;

/* regs_probe(nr): every register set to a known value, CF ZF PF set,
 * `syscall`, then everything stored in probe_out.  The instruction
 * right after the syscall is RIP-relative (its copy in a stub must be
 * relocated).  Callee-saved registers are restored before returning. */
__asm__(
	".text\n"
	".globl regs_probe\n"
	"regs_probe:\n"
	"	push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
	"	mov %rdi, %rax\n"
	"	mov $0x1111, %rbx; mov $0x2222, %rdx; mov $0x3333, %rsi\n"
	"	mov $0x4444, %rdi; mov $0x5555, %rbp; mov $0x8888, %r8\n"
	"	mov $0x9999, %r9; mov $0xaaaa, %r10; mov $0xcccc, %r12\n"
	"	mov $0xdddd, %r13; mov $0xeeee, %r14; mov $0xffff, %r15\n"
	"	cmp %rax, %rax; stc\n"
	"	pushfq; popq %rcx\n"
	"	mov %rcx, probe_out+112(%rip)\n"
	"	mov $-1, %rcx; mov $-1, %r11\n"
	"	syscall\n"
	"regs_probe_ret:\n"
	"	mov %rcx, probe_out+96(%rip)\n"
	"	mov %r11, probe_out+104(%rip)\n"
	"	pushfq; popq %rcx\n"
	"	mov %rcx, probe_out+120(%rip)\n"
	"	lea regs_probe_ret(%rip), %rcx\n"
	"	mov %rcx, probe_out+128(%rip)\n"
	"	mov %rbx, probe_out+0(%rip); mov %rdx, probe_out+8(%rip)\n"
	"	mov %rsi, probe_out+16(%rip); mov %rdi, probe_out+24(%rip)\n"
	"	mov %rbp, probe_out+32(%rip); mov %r8, probe_out+40(%rip)\n"
	"	mov %r9, probe_out+48(%rip); mov %r10, probe_out+56(%rip)\n"
	"	mov %r12, probe_out+64(%rip); mov %r13, probe_out+72(%rip)\n"
	"	mov %r14, probe_out+80(%rip); mov %r15, probe_out+88(%rip)\n"
	"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
	"	ret\n");
void regs_probe(long nr);

#define ARITH_FLAGS 0x8d5       /* CF PF AF ZF SF OF */

static int regs_ok(void)
{
	const struct probe *p = &probe_out;
	const uint64_t want[] = { 0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x8888, 0x9999,
				  0xaaaa, 0xcccc, 0xdddd, 0xeeee, 0xffff };
	const uint64_t *got = &p->rbx;

	for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
		if (got[i] != want[i])
			return 0;
	return 1;
}

static void regs(int n)
{
	const long nrs[] = { SYS_getpid, SYS_getuid, SYS_umask };
	const char *names[] = { "getpid", "getuid", "umask" };

	for (int k = 0; k < 3; k++) {
		int bad_regs = 0, bad_rcx = 0, bad_r11 = 0, bad_flags = 0;
		for (int i = 0; i < n; i++) {
			regs_probe(nrs[k]);
			const struct probe *p = &probe_out;
			bad_regs += !regs_ok();
			bad_rcx += p->rcx != p->ret;
			bad_r11 += (p->r11 & ARITH_FLAGS) != (p->flags_before & ARITH_FLAGS);
			bad_flags += (p->flags_after & ARITH_FLAGS) != (p->flags_before & ARITH_FLAGS);
		}
		printf("%s x%d: registers kept %s, rcx %s, r11 %s, rflags %s\n", names[k], n,
		       bad_regs ? "NO" : "yes", bad_rcx ? "WRONG" : "the return address",
		       bad_r11 ? "WRONG" : "the flags", bad_flags ? "CHANGED" : "kept");
		if (bad_regs || bad_rcx || bad_r11 || bad_flags)
			t_failures++;
	}
}

/* ---- redzone --------------------------------------------------------- */

/* redzone_leaf(nr): live data at -8, -64 and -128(%rsp) across a
 * syscall; 0 if all of it survived. */
__asm__(
	".text\n"
	".globl redzone_leaf\n"
	"redzone_leaf:\n"
	"	movabs $0x0123456789abcdef, %rax\n"
	"	mov %rax, -8(%rsp)\n"
	"	mov %rax, -128(%rsp)\n"
	"	not %rax\n"
	"	mov %rax, -64(%rsp)\n"
	"	mov %rdi, %rax\n"
	"	syscall\n"
	"	movabs $0x0123456789abcdef, %rcx\n"
	"	cmp %rcx, -8(%rsp); jne 1f\n"
	"	cmp %rcx, -128(%rsp); jne 1f\n"
	"	not %rcx\n"
	"	cmp %rcx, -64(%rsp); jne 1f\n"
	"	xor %eax, %eax; ret\n"
	"1:	mov $1, %eax; ret\n");
long redzone_leaf(long nr);

static void redzone(int n)
{
	int lost = 0;

	for (int i = 0; i < n; i++) {
		lost += redzone_leaf(SYS_getpid) != 0;
		lost += redzone_leaf(SYS_getuid) != 0;
	}
	printf("red zone across %d syscalls: %s\n", 2 * n, lost ? "CLOBBERED" : "intact");
	t_failures += lost != 0;
}

/* ---- selfsum --------------------------------------------------------- */

static uintptr_t text_lo, text_hi;

static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && !text_lo) {
			text_lo = info->dlpi_addr + ph->p_vaddr;
			text_hi = text_lo + ph->p_memsz;
		}
	}
	return 1;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void busy_syscalls(void)
{
	for (int i = 0; i < 20; i++) {
		getuid();
		syscall(SYS_getpid);
		redzone_leaf(SYS_getppid);
	}
}

static void selfsum(void)
{
	dl_iterate_phdr(find_text, NULL);
	uintptr_t lo = text_lo & ~4095UL, hi = (text_hi + 4095) & ~4095UL;
	size_t n = text_hi - text_lo;
	unsigned char *orig = malloc(n);

	busy_syscalls();
	/* The program looks at its own protection: it sees its own bytes. */
	if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC) < 0) {
		printf("mprotect: %s\n", strerror(errno));
		t_failures++;
		return;
	}
	memcpy(orig, (void *)text_lo, n);
	printf("text after mprotect: fnv1a %016llx over %zu bytes\n",
	       (unsigned long long)fnv1a(orig, n), n);
	busy_syscalls();
	/* Read as it is: the originals, but where a syscall became a jump. */
	const unsigned char *now = (const unsigned char *)text_lo;
	int odd = 0;
	for (size_t i = 0; i < n; i++) {
		if (now[i] == orig[i])
			continue;
		int patch = i + 5 <= n && orig[i] == 0x0f && orig[i + 1] == 0x05 &&
			    now[i] == 0xe9 && now[i + 2] == 0x06 && now[i + 3] == 0x06;
		if (!patch)
			odd++;
		i += patch ? 4 : 0;
	}
	printf("text read as it is: %s\n", odd ? "UNEXPLAINED DIFFERENCES" :
	       "the original, but for patched syscall sites");
	t_failures += odd != 0;
	free(orig);
}

/* ---- smc ------------------------------------------------------------- */

/* mov $nr, %eax; syscall; ret, then int3 padding. */
static void write_call(unsigned char *p, int nr)
{
	const unsigned char code[] = { 0xb8, (unsigned char)nr, 0, 0, 0, 0x0f, 0x05, 0xc3 };

	memset(p, 0xcc, 64);
	memcpy(p, code, sizeof code);
}

static void smc(void)
{
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char want[64];
	long (*f)(void) = (long (*)(void))p;
	long pid = getpid(), uid = getuid(), r = 0;

	write_call(p, SYS_getpid);
	memcpy(want, p, sizeof want);
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	for (int i = 0; i < 10; i++)
		r += f() != pid;
	printf("generated getpid: %s\n", r ? "WRONG" : "ok");
	mprotect(p, 4096, PROT_READ | PROT_WRITE);
	printf("its bytes, writable again: %s\n", memcmp(p, want, sizeof want) ? "CHANGED" : "as written");
	/* Rewrite the site that has run: now getuid. */
	p[1] = SYS_getuid;
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	r = 0;
	for (int i = 0; i < 10; i++)
		r += f() != uid;
	printf("rewritten to getuid: %s\n", r ? "WRONG" : "ok");
	t_failures += r != 0;
	munmap(p, 4096);

	/* Writable and executable at once: rewritten without telling anyone. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("rwx: %s\n", strerror(errno));
		return;
	}
	f = (long (*)(void))p;
	write_call(p, SYS_getpid);
	r = 0;
	for (int i = 0; i < 10; i++)
		r += f() != pid;
	p[1] = SYS_getuid;
	for (int i = 0; i < 10; i++)
		r += f() != uid;
	printf("rwx page rewritten in place: %s\n", r ? "WRONG" : "ok");
	t_failures += r != 0;
}

/* ---- sigrestart ------------------------------------------------------ */

static int pipe_fd[2];
static volatile int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
	getpid();               /* answered in the guest */
	getuid();               /* served by the host */
	if (alarms == 5) {
		struct itimerval off = { 0 };
		setitimer(ITIMER_REAL, &off, NULL);
		if (write(pipe_fd[1], "x", 1) != 1)
			_exit(3);
	}
}

static void sigrestart(void)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval every = { { 0, 10000 }, { 0, 10000 } };
	char c = 0;

	if (pipe(pipe_fd) < 0 || sigaction(SIGALRM, &sa, NULL) < 0)
		exit(2);
	setitimer(ITIMER_REAL, &every, NULL);
	ssize_t n = read(pipe_fd[0], &c, 1);
	printf("read = %zd '%c' after %d signals\n", n, c, alarms);
	t_failures += n != 1 || alarms != 5;
}

/* ---- spawn ----------------------------------------------------------- */

extern char **environ;

static void spawn(char **argv)
{
	for (int i = 0; i < 3; i++) {
		pid_t pid;
		int st;
		int e = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
		if (e) {
			printf("posix_spawn: %s\n", strerror(e));
			t_failures++;
			return;
		}
		if (waitpid(pid, &st, 0) != pid) {
			printf("waitpid: %s\n", strerror(errno));
			t_failures++;
			return;
		}
		printf("child %d: exit %d\n", i, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	int n = argc > 2 ? atoi(argv[2]) : 1000;

	if (!strcmp(m, "regs"))
		regs(n);
	else if (!strcmp(m, "redzone"))
		redzone(n);
	else if (!strcmp(m, "selfsum"))
		selfsum();
	else if (!strcmp(m, "smc"))
		smc();
	else if (!strcmp(m, "sigrestart"))
		sigrestart();
	else if (!strcmp(m, "spawn") && argc > 2)
		spawn(argv + 2);
	else if (!strcmp(m, "nullcall"))
		((void (*)(void))0)();
	else {
		printf("usage: patchsite regs|redzone|selfsum|smc|sigrestart|spawn PROG...|nullcall\n");
		return 2;
	}
	return t_failures ? 1 : 0;
}
