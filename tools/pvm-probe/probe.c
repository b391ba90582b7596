/*
 * pvm-probe: a standalone VMM that probes kvm_pvm's native supervisor mode
 * (wrmsr 0x4b564d10 = flag-page GPA | flags) and its split page tables.
 *
 * Build: see README.md.  Run: ./probe -h
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "layout.h"

#define MSR_STAR   0xc0000081
#define MSR_LSTAR  0xc0000082
#define MSR_CSTAR  0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_GSBASE 0xc0000101
#define MSR_KGS    0xc0000102
#define MSR_PVM    0x4b564d10

#define PTE_P 1ULL
#define PTE_W 2ULL
#define PTE_U 4ULL
#define PTE_PS 0x80ULL

extern const unsigned char guest_elf[];
extern const unsigned int guest_elf_len;

static uint8_t *mem;
static int kvm, vmfd, vcpu;
static struct kvm_run *run;
static uint64_t pt_next = GPA_PT + 0x2000; /* roots at GPA_PT, GPA_PT+0x1000 */
static const uint64_t kroot = GPA_PT, uroot = GPA_PT + 0x1000;
static double tsc_mhz;
static int verbose;

/* options */
static const char *ktest = "loop", *utest = "syscall";
static long flags = 0x10;
static int emulated, diag, kU = 1, reps = 20, timeout = 5, npte = 512;
static long loopn = 1000000;
static int ist_all;          /* IST index for all vectors (0 = RSP0) */
static int outport = 0x81;
static int n80, n81, scret, exret, method;
static int start_user_cr3;   /* start with CR3 = uroot (split) */

enum { R_GDT, R_IDT, R_TSS, R_VIF, R_KDATA, R_KENTRY, R_KTEXT, R_STACK, R_IST,
       R_PTS, R_NREG };
static const char *rname[R_NREG] = { "gdt", "idt", "tss", "vif", "kdata",
	"kentry", "ktext", "stack", "ist", "pt" };
static const uint64_t rstart[R_NREG] = { GPA_GDT, GPA_IDT, GPA_TSS, GPA_VIF,
	GPA_KDATA, GPA_KENTRY, GPA_KTEXT, GPA_STACK, GPA_IST, GPA_PT };
static const uint64_t rend[R_NREG] = { GPA_GDT + 0x1000, GPA_IDT + 0x1000,
	GPA_TSS + 0x1000, GPA_VIF + 0x1000, GPA_KDATA + 0x1000,
	GPA_KENTRY + 0x1000, GPA_KTEXT_END, STACK_TOP, IST_TOP, GPA_PT_END };
static int umap[R_NREG];     /* user root: 0 absent, 1 U=0, 2 U=1 */
static int kmapU[R_NREG];    /* kernel root U bit per region (-1 = default kU) */

static void die(const char *m) { perror(m); exit(2); }

static uint64_t *gp(uint64_t gpa) { return (uint64_t *)(mem + gpa); }

static uint64_t alloc_pt(void)
{
	uint64_t p = pt_next;
	pt_next += 0x1000;
	if (pt_next > GPA_PT_END) { fprintf(stderr, "pt pool\n"); exit(2); }
	memset(mem + p, 0, 0x1000);
	return p;
}

/* returns GPA of the leaf PTE */
static uint64_t map4k(uint64_t root, uint64_t va, uint64_t gpa, uint64_t fl)
{
	uint64_t t = root;
	for (int lvl = 3; lvl > 0; lvl--) {
		int idx = (va >> (12 + 9 * lvl)) & 511;
		uint64_t *e = gp(t) + idx;
		if (!(*e & PTE_P))
			*e = alloc_pt() | PTE_P | PTE_W | PTE_U;
		t = *e & 0x000ffffffffff000ULL;
	}
	int idx = (va >> 12) & 511;
	gp(t)[idx] = gpa | fl;
	return t + idx * 8;
}

/* walk the guest tables the way hardware would; -1 if not present */
static int64_t walk(uint64_t cr3, uint64_t va, int *user)
{
	uint64_t t = cr3 & 0x000ffffffffff000ULL;
	int u = 1;
	for (int lvl = 3; lvl >= 0; lvl--) {
		int idx = (va >> (12 + 9 * lvl)) & 511;
		if (t >= MEM_SIZE) return -1;
		uint64_t e = gp(t)[idx];
		if (!(e & PTE_P)) return -1;
		u &= !!(e & PTE_U);
		if (lvl > 0 && (e & PTE_PS)) {
			uint64_t sz = 1ULL << (12 + 9 * lvl);
			if (user) *user = u;
			return (e & 0x000ffffffffff000ULL & ~(sz - 1)) | (va & (sz - 1));
		}
		t = e & 0x000ffffffffff000ULL;
	}
	if (user) *user = u;
	return t | (va & 0xfff);
}

static void load_elf(void)
{
	const Elf64_Ehdr *eh = (const void *)guest_elf;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(guest_elf + eh->e_phoff +
						      i * eh->e_phentsize);
		if (ph->p_type != PT_LOAD) continue;
		memcpy(mem + ph->p_paddr, guest_elf + ph->p_offset, ph->p_filesz);
	}
}

static uint64_t seg_desc(uint64_t tf) { return 0x000f00000000ffffULL | tf; }

static void build(void)
{
	uint64_t *tab = gp(GPA_KTEXT);   /* boot, lstar, vec[32] */
	uint64_t *gdt = gp(GPA_GDT), *idt = gp(GPA_IDT);
	uint8_t *tss = mem + GPA_TSS;
	uint64_t tss_va = KBASE + GPA_TSS;

	gdt[0x10 / 8] = seg_desc(0x00a09b0000000000ULL);
	gdt[0x18 / 8] = seg_desc(0x00c0930000000000ULL);
	gdt[0x20 / 8] = seg_desc(0x00c0fb0000000000ULL);
	gdt[0x28 / 8] = seg_desc(0x00c0f30000000000ULL);
	gdt[0x30 / 8] = seg_desc(0x00a0fb0000000000ULL);
	gdt[0x40 / 8] = 0x67 | (tss_va & 0xffffff) << 16 | 0x8bULL << 40 |
			((tss_va >> 24) & 0xff) << 56;
	gdt[0x48 / 8] = tss_va >> 32;
	uint64_t rsp0 = KBASE + STACK_TOP, ist = KBASE + IST_TOP;
	memcpy(tss + 4, &rsp0, 8);
	for (int i = 0; i < 7; i++) {
		uint64_t s = ist - i * 0x800;
		memcpy(tss + 36 + 8 * i, &s, 8);
	}
	uint16_t iomap = 104;
	memcpy(tss + 102, &iomap, 2);
	for (int v = 0; v < 32; v++) {
		uint64_t h = tab[2 + v];
		uint64_t attr = (v == 3 || v == 4) ? 0xee : 0x8e;
		uint64_t is = v == 8 ? 1 : ist_all;
		idt[2 * v] = (h & 0xffff) | 0x10ULL << 16 | is << 32 | attr << 40 |
			     ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}

	/* kernel root: user half */
	for (uint64_t a = GPA_UTEXT; a < GPA_UTEXT + 0x10000; a += 0x1000)
		map4k(kroot, a, a, PTE_P | PTE_U);
	for (uint64_t a = GPA_USTACK; a < USTACK_TOP; a += 0x1000)
		map4k(kroot, a, a, PTE_P | PTE_W | PTE_U);
	for (uint64_t a = GPA_RES; a < GPA_RES + 0x20000; a += 0x1000)
		map4k(kroot, a, a, PTE_P | PTE_W | PTE_U);
	uint64_t pte_gpa = map4k(kroot, VA_PTE, GPA_P1, PTE_P | PTE_W | PTE_U);
	uint64_t rw_pte = 0;
	for (int i = 0; i < 512; i++) {
		uint64_t g = map4k(kroot, VA_RW + i * 0x1000ULL, GPA_RW + i * 0x1000ULL,
				   PTE_P | PTE_W | PTE_U | 0x60 /* A D */);
		if (!i) rw_pte = g;
	}
	/* pte2: images A (as built) and B (-> GPA_RW2), page tags = GPA */
	memcpy(mem + GPA_IMG_A, mem + (rw_pte & ~0xfffULL), 0x1000);
	for (int i = 0; i < 512; i++) {
		gp(GPA_IMG_B)[i] = (gp(GPA_IMG_A)[i] & ~0x000ffffffffff000ULL) |
				   (GPA_RW2 + i * 0x1000ULL);
		*gp(GPA_RW + i * 0x1000ULL) = GPA_RW + i * 0x1000ULL;
		*gp(GPA_RW2 + i * 0x1000ULL) = GPA_RW2 + i * 0x1000ULL;
	}
	if (pt_next > GPA_IMG_A) { fprintf(stderr, "pt pool overlaps images\n"); exit(2); }
	memset(mem + GPA_P1, 0x11, 0x1000);
	memset(mem + GPA_P2, 0x22, 0x1000);
	/* kernel root: the supervisor half, KBASE + gpa for gpa < 4 MiB */
	for (uint64_t a = 0x1000; a < 0x400000; a += 0x1000) {
		int u = kU;
		for (int r = 0; r < R_NREG; r++)
			if (a >= rstart[r] && a < rend[r] && kmapU[r] >= 0)
				u = kmapU[r];
		map4k(kroot, KBASE + a, a, PTE_P | PTE_W | (u ? PTE_U : 0));
	}
	/* user root: same user half (shared PDPT), selected supervisor pages */
	gp(uroot)[0] = gp(kroot)[0];
	for (int r = 0; r < R_NREG; r++) {
		if (!umap[r]) continue;
		for (uint64_t a = rstart[r]; a < rend[r]; a += 0x1000)
			map4k(uroot, KBASE + a, a,
			      PTE_P | (umap[r] == 3 ? 0 : PTE_W) |
			      (umap[r] == 2 ? PTE_U : 0));
	}
	/* kdata */
	uint64_t *kd = gp(GPA_KDATA);
	kd[KD_PTE_KVA / 8] = KBASE + pte_gpa;
	kd[KD_RW_KVA / 8] = KBASE + rw_pte;
	kd[KD_NPTE / 8] = npte;
	kd[KD_REPS / 8] = reps;
	kd[KD_LOOPN / 8] = loopn;
	kd[0x30 / 8] = diag;
	kd[0x38 / 8] = outport;
	kd[KD_SCRET / 8] = scret;
	kd[KD_EXRET / 8] = exret;
	kd[KD_METHOD / 8] = method;
	uint64_t *res = gp(GPA_RES);
	res[R_REPS / 8] = reps;
	res[R_DIAG / 8] = diag;
	uint64_t *rd = res + R_AUX / 8 + 8;
	rd[0] = KBASE + GPA_KDATA;      /* never in the user root */
	rd[1] = KBASE + GPA_IDT;
	rd[2] = KBASE + STACK_TOP - 8;
	rd[3] = KBASE + GPA_KENTRY;
}

static struct kvm_segment seg(uint16_t sel, int code, int dpl)
{
	struct kvm_segment s = { .base = 0, .limit = 0xffffffff, .selector = sel,
		.type = code ? 0xb : 0x3, .present = 1, .dpl = dpl, .db = !code,
		.s = 1, .l = code, .g = 1 };
	return s;
}

static void setup_vcpu(void)
{
	struct kvm_sregs s;
	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0) die("GET_SREGS");
	s.cr0 = 0x80050033;
	s.cr3 = start_user_cr3 ? uroot : kroot;
	s.cr4 = 0x620;
	s.efer = 0xd01;
	s.gdt.base = KBASE + GPA_GDT;
	s.gdt.limit = 0x4f;
	s.idt.base = KBASE + GPA_IDT;
	s.idt.limit = 32 * 16 - 1;
	s.cs = seg(0x10, 1, 0);
	s.ss = seg(0x18, 0, 0);
	s.ds = s.es = s.fs = s.gs = seg(0x18, 0, 0);
	s.tr = (struct kvm_segment){ .base = KBASE + GPA_TSS, .limit = 0x67,
		.selector = 0x40, .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .unusable = 1 };
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0) die("SET_SREGS");

	uint64_t *tab = gp(GPA_KTEXT);
	struct { struct kvm_msrs h; struct kvm_msr_entry e[6]; } m = { .h.nmsrs = 6 };
	m.e[0] = (struct kvm_msr_entry){ .index = MSR_STAR, .data = 0x0023001000000000ULL };
	m.e[1] = (struct kvm_msr_entry){ .index = MSR_LSTAR, .data = tab[1] };
	m.e[2] = (struct kvm_msr_entry){ .index = MSR_CSTAR, .data = tab[1] };
	m.e[3] = (struct kvm_msr_entry){ .index = MSR_SFMASK, .data = 0x47700 };
	m.e[4] = (struct kvm_msr_entry){ .index = MSR_KGS, .data = 0 };
	m.e[5] = (struct kvm_msr_entry){ .index = MSR_GSBASE, .data = KBASE + GPA_KDATA };
	if (ioctl(vcpu, KVM_SET_MSRS, &m) != 6) die("SET_MSRS");

	uint64_t v = GPA_VIF | (uint64_t)flags;
	struct kvm_regs r = { .rip = tab[0], .rsp = KBASE + STACK_TOP, .rflags = 0x2 };
	if (!emulated) {
		r.rcx = MSR_PVM;
		r.rax = (uint32_t)v;
		r.rdx = v >> 32;
	}
	if (ioctl(vcpu, KVM_SET_REGS, &r) < 0) die("SET_REGS");
}

static void create_vm(void)
{
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) die("/dev/kvm");
	vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vmfd < 0) die("CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) die("mmap");
	struct kvm_userspace_memory_region reg = { .slot = 0, .guest_phys_addr = 0,
		.memory_size = MEM_SIZE, .userspace_addr = (uint64_t)mem };
	if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &reg) < 0) die("SET_MEM");
	vcpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) die("CREATE_VCPU");
	int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) die("mmap run");
	int n = 512;
	struct kvm_cpuid2 *c = calloc(1, sizeof *c + n * sizeof c->entries[0]);
	c->nent = n;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) < 0) die("GET_SUPPORTED_CPUID");
	if (ioctl(vcpu, KVM_SET_CPUID2, c) < 0) die("SET_CPUID2");
	free(c);
}

static void dump_state(const char *why)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	ioctl(vcpu, KVM_GET_REGS, &r);
	ioctl(vcpu, KVM_GET_SREGS, &s);
	printf("  [%s] rip=%llx rsp=%llx rflags=%llx rax=%llx rbx=%llx rcx=%llx "
	       "rdx=%llx r14=%llx r15=%llx\n", why, r.rip, r.rsp, r.rflags, r.rax,
	       r.rbx, r.rcx, r.rdx, r.r14, r.r15);
	printf("  [%s] cr0=%llx cr2=%llx cr3=%llx(%s) cr4=%llx efer=%llx cs=%x/dpl%d "
	       "ss=%x/dpl%d tr=%x idt=%llx gdt=%llx\n", why, s.cr0, s.cr2, s.cr3,
	       s.cr3 == kroot ? "kroot" : s.cr3 == uroot ? "uroot" : "?",
	       s.cr4, s.efer, s.cs.selector, s.cs.dpl, s.ss.selector, s.ss.dpl,
	       s.tr.selector, s.idt.base, s.gdt.base);
	printf("  [%s] vif: if=%u pending=%u cr2=%llx\n", why, mem[GPA_VIF],
	       mem[GPA_VIF + 1], (unsigned long long)gp(GPA_VIF)[1]);
	/* stack contents, through the kernel root */
	for (int i = 0; i < 8; i++) {
		int64_t g = walk(kroot, r.rsp + 8 * i, NULL);
		if (g < 0 || g >= MEM_SIZE) break;
		printf("  [%s]   rsp+%02x: %llx\n", why, 8 * i,
		       (unsigned long long)*gp(g));
	}
	struct kvm_vcpu_events ev;
	if (ioctl(vcpu, KVM_GET_VCPU_EVENTS, &ev) == 0)
		printf("  [%s] events: exc inj=%d pend=%d nr=%d err=%d(%x) "
		       "triple=%d\n", why, ev.exception.injected,
		       ev.exception.pending, ev.exception.nr,
		       ev.exception.has_error_code, ev.exception.error_code,
		       ev.triple_fault.pending);
}

static int cmpu(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void stats(const char *name, uint64_t *v, int n, int stride)
{
	uint64_t *t = malloc(n * sizeof *t);
	for (int i = 0; i < n; i++) t[i] = v[i * stride];
	qsort(t, n, sizeof *t, cmpu);
	if (n)
		printf("  %-28s n=%d min %.3f us  median %.3f us  max %.3f us\n",
		       name, n, t[0] / tsc_mhz, t[n / 2] / tsc_mhz,
		       t[n - 1] / tsc_mhz);
	free(t);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void calibrate(void)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t t0 = rdtsc();
	do clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec) < 2e7);
	uint64_t t1 = rdtsc();
	tsc_mhz = (t1 - t0) / (((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3);
}

static void on_alarm(int s) { (void)s; }

static void report(void)
{
	uint64_t *res = gp(GPA_RES);
	uint64_t *smp = res + R_SAMPLES / 8;
	uint64_t *aux = res + R_AUX / 8;
	if (!strcmp(ktest, "loop")) {
		stats("loop", smp, reps, 1);
		printf("  per iteration: %.3f ns (min)\n",
		       ({ uint64_t m = ~0ULL; for (int i = 0; i < reps; i++) if (smp[i] < m) m = smp[i]; m; }) / tsc_mhz * 1000.0 / loopn);
	} else if (!strcmp(ktest, "out")) {
		stats("out exit (guest rdtsc)", smp, reps, 1);
	} else if (!strcmp(ktest, "user")) {
		printf("  user samples: %llu\n", (unsigned long long)res[R_N / 8]);
		if (!strcmp(utest, "readk"))
			for (int i = 0; i < 4 && aux[8 + i]; i++)
				printf("  user read of %llx: %s\n",
				       (unsigned long long)aux[8 + i],
				       aux[i] ? "SUCCEEDED" : "faulted");
		if (!strcmp(utest, "readk"))
			printf("  user hypercall int $0x1b: %s\n", aux[4] ? "EXECUTED (user runs as supervisor!)" : "faulted (#UD)");
		else
			stats(utest, smp, res[R_N / 8], 1);
	} else if (!strcmp(ktest, "pte")) {
		const char *st[] = { "initial (P1)", "after host write", "+invlpg",
			"+FLUSH_TLB_ONE", "+FLUSH_TLB", "+mov cr3", "guest rewrite",
			"guest rewrite+invlpg" };
		for (int i = 0; i < 8; i++)
			printf("  %-22s reads %s\n", st[i],
			       (aux[i] & 0xff) == 0x11 ? "P1" : (aux[i] & 0xff) == 0x22 ? "P2" : "??");
		printf("  guest write w/o invlpg: %s then %s\n",
		       (aux[8] & 0xff) == 0x11 ? "P1" : "P2",
		       (aux[9] & 0xff) == 0x11 ? "P1" : "P2");
		stats("guest pte write+invlpg+use", smp, reps, 1);
	} else if (!strcmp(ktest, "rewrite")) {
		stats("rep movsq 1 pte", smp, reps, 4);
		char b[64];
		snprintf(b, sizeof b, "rep movsq %d ptes", npte);
		stats(b, smp + 1, reps, 4);
		stats("touch 512 pages after", smp + 2, reps, 4);
		stats("mov cr3 reload", smp + 3, reps, 4);
	} else if (!strcmp(ktest, "hc")) {
		stats("FLUSH_TLB_ONE hypercall", smp, reps, 8);
		stats("invlpg", smp + 1, reps, 8);
		stats("FLUSH_TLB hypercall", smp + 2, reps, 8);
		stats("rdmsr 0x4b564d13", smp + 3, reps, 8);
		stats("mov cr3 (same value)", smp + 4, reps, 8);
		stats("cli;sti", smp + 5, reps, 8);
		stats("pushf;popf", smp + 6, reps, 8);
		stats("rdtsc overhead (empty)", smp + 7, reps, 8);
	} else if (!strcmp(ktest, "pte2")) {
		static const char *mn[] = { "none", "invlpg each", "FLUSH_TLB hc",
			"mov cr3", "FLUSH_TLB_ONE each" };
		printf("  method: %s, %d PTEs rewritten with a new image each rep\n",
		       mn[method], npte);
		stats("rep movsq", smp, reps, 4);
		stats("flush", smp + 1, reps, 4);
		stats("touch+check", smp + 2, reps, 4);
		printf("  pages showing the new mapping per rep:");
		for (int i = 0; i < reps && i < 12; i++)
			printf(" %llu", (unsigned long long)smp[4 * i + 3]);
		printf("\n");
	} else if (!strcmp(ktest, "outimm")) {
		stats("out $0x80 (imm)", smp, reps, 2);
		stats("out $0x81 (imm)", smp + 1, reps, 2);
		printf("  exits seen by the VMM for port 0x80: %d, 0x81: %d\n", n80, n81);
	} else if (!strcmp(ktest, "int3k")) {
		stats("supervisor int3", smp, reps, 1);
	}
}

static void usage(void)
{
	puts("probe [-E] [-f flags] [-t loop|out|outimm|user|pte|pte2|rewrite|hc|int3k] "
	     "[-M method] [-u syscall|pf|ud|de|bp|readk|once]\n"
	     "      [-n reps] [-L loopn] [-d] [-K 0|1] [-k region=0|1,...] "
	     "[-m region=0|1|2|3,...|all=N] [-I ist] [-U] [-N npte] [-P port] [-R n] [-X n] [-T secs] [-v]\n"
	     " -E    stay emulated (no wrmsr)\n"
	     " -f    flags ORed into the wrmsr value (hex ok), default 0x10\n"
	     " -K    U bit of supervisor pages in the kernel root (default 1)\n"
	     " -k    per-region U bit override in the kernel root\n"
	     " -m    user root (kernel root + 0x1000): map region absent(0), U=0(1), U=1(2), U=0 read-only(3)\n"
	     " -I    IST index for all vectors (default 0 = RSP0)\n"
	     " -U    boot ring 0 on the user root (diagnostic)\n"
	     " -M    pte2 flush method: 0 none, 1 invlpg each, 2 FLUSH_TLB hc, 3 mov cr3, 4 FLUSH_TLB_ONE each\n"
	     " -N    pte2/rewrite: PTEs rewritten\n"
	     " -P    port for -t out (out %al,%dx)\n"
	     " -R    syscall return: 0 SYSRET hc, 1 IRET_FRAME hc, 2 sysretq, 3 iretq\n"
	     " -X    exception return: 0 IRET_FRAME hc, 1 iretq\n"
	     " -d    diag: the exception handler exits (port 0xd1) first\n"
	     " regions: gdt idt tss vif kdata kentry ktext stack ist pt");
	exit(2);
}

static void parse_map(char *s, int *arr, int kern)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		char *eq = strchr(tok, '=');
		if (!eq) usage();
		*eq = 0;
		int v = atoi(eq + 1), found = 0;
		for (int r = 0; r < R_NREG; r++)
			if (!strcmp(tok, "all") || !strcmp(tok, rname[r])) {
				arr[r] = v;
				found = 1;
			}
		if (!found && !kern) usage();
	}
}

int main(int argc, char **argv)
{
	int c;
	for (int r = 0; r < R_NREG; r++) kmapU[r] = -1;
	while ((c = getopt(argc, argv, "Ef:t:u:n:L:dK:k:m:I:UN:T:vhP:R:X:M:")) != -1) {
		switch (c) {
		case 'E': emulated = 1; break;
		case 'f': flags = strtol(optarg, NULL, 0); break;
		case 't': ktest = optarg; break;
		case 'u': utest = optarg; break;
		case 'n': reps = atoi(optarg); break;
		case 'L': loopn = atol(optarg); break;
		case 'd': diag = 1; break;
		case 'K': kU = atoi(optarg); break;
		case 'k': parse_map(optarg, kmapU, 1); break;
		case 'm': parse_map(optarg, umap, 0); break;
		case 'I': ist_all = atoi(optarg); break;
		case 'U': start_user_cr3 = 1; break;
		case 'N': npte = atoi(optarg); break;
		case 'T': timeout = atoi(optarg); break;
		case 'v': verbose = 1; break;
		case 'M': method = atoi(optarg); break;
		case 'R': scret = atoi(optarg); break;
		case 'X': exret = atoi(optarg); break;
		case 'P': outport = strtol(optarg, NULL, 0); break;
		default: usage();
		}
	}
	static const char *kt[] = { "", "loop", "out", "user", "pte", "rewrite", "hc", "int3k", "outimm", "pte2" };
	static const char *ut[] = { "", "syscall", "pf", "ud", "de", "bp", "readk", "once" };
	int kti = 0, uti = 0;
	for (int i = 1; i < 10; i++) {
		if (i < 8 && !strcmp(utest, ut[i])) uti = i;
		if (i >= 8) { if (!strcmp(ktest, kt[i])) kti = i; continue; }
		if (!strcmp(ktest, kt[i])) kti = i;
		if (!strcmp(utest, ut[i])) uti = i;
	}
	if (!kti || (kti == 3 && !uti)) usage();
	if (reps > 4000) reps = 4000;

	calibrate();
	/* KVM_RUN can spin in the kernel without noticing SIGALRM (events
	 * delivered natively, no exit): run the VM in a child that the
	 * parent SIGKILLs if it overstays. */
	fflush(stdout);
	pid_t child = fork();
	if (child > 0) {
		int st;
		for (int i = 0; i < (timeout + 2) * 20; i++) {
			if (waitpid(child, &st, WNOHANG) == child)
				return WIFEXITED(st) ? WEXITSTATUS(st) : 9;
			usleep(50000);
		}
		kill(child, SIGKILL);
		waitpid(child, &st, 0);
		printf("  RESULT: HUNG in KVM_RUN (no exit, deaf to SIGALRM): killed\n");
		return 10;
	}
	create_vm();
	load_elf();
	build();
	gp(GPA_KDATA)[KD_TEST / 8] = kti;
	gp(GPA_RES)[R_UTEST / 8] = uti;
	setup_vcpu();

	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	alarm(timeout);

	printf("probe: test=%s%s%s mode=%s flags=%#lx K.U=%d user-root:", ktest,
	       kti == 3 ? "/" : "", kti == 3 ? utest : "",
	       emulated ? "emulated" : "native", flags, kU);
	for (int r = 0; r < R_NREG; r++)
		if (umap[r]) printf(" %s=%s", rname[r], umap[r] == 2 ? "U1" : umap[r] == 3 ? "U0RO" : "U0");
	for (int r = 0; r < R_NREG; r++)
		if (kmapU[r] >= 0) printf(" k.%s=U%d", rname[r], kmapU[r]);
	if (ist_all) printf(" ist=%d", ist_all);
	printf(" tsc=%.1fMHz\n", tsc_mhz);

	int status = 1, nexit = 0, ndiag = 0;
	uint64_t t0 = rdtsc();
	for (;;) {
		int r = ioctl(vcpu, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR) {
				printf("  RESULT: TIMEOUT (livelock?) after %d exits\n", nexit);
				dump_state("timeout");
				status = 3;
				break;
			}
			die("KVM_RUN");
		}
		nexit++;
		if (run->exit_reason == KVM_EXIT_IO) {
			int port = run->io.port;
			if (port == 0x80) n80++;
			if (port == 0x81) n81++;
			if (port == P_NOP || port == outport) continue;
			if (port == P_DONE) {
				printf("  RESULT: OK (%d exits, %.0f us wall)\n", nexit,
				       (rdtsc() - t0) / tsc_mhz);
				report();
				if (verbose) dump_state("done");
				status = 0;
				break;
			}
			if (port == P_STEP) {
				/* pte test: host rewrites the live PTE P1 -> P2 */
				uint64_t kva = gp(GPA_KDATA)[KD_PTE_KVA / 8];
				uint64_t *pte = gp(kva - KBASE);
				*pte = (*pte & ~0x000ffffffffff000ULL) | GPA_P2;
				continue;
			}
			if (port == P_DIAG) {
				if (ndiag++ < 3) {
					printf("  DIAG: handler entered\n");
					dump_state("diag");
				}
				continue;
			}
			if (port == P_DF) {
				printf("  RESULT: DOUBLE FAULT handler\n");
				dump_state("df");
				status = 4;
				break;
			}
			printf("  RESULT: unexpected port %#x\n", port);
			dump_state("io");
			break;
		}
		if (run->exit_reason == KVM_EXIT_SHUTDOWN) {
			printf("  RESULT: SHUTDOWN (triple fault) after %d exits\n", nexit);
			dump_state("shutdown");
			status = 5;
			break;
		}
		if (run->exit_reason == KVM_EXIT_HLT) {
			printf("  RESULT: HLT\n");
			dump_state("hlt");
			break;
		}
		if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			printf("  RESULT: INTERNAL_ERROR suberror=%u ndata=%u",
			       run->internal.suberror, run->internal.ndata);
			for (unsigned i = 0; i < run->internal.ndata && i < 8; i++)
				printf(" %llx", run->internal.data[i]);
			printf("\n");
			dump_state("internal");
			status = 6;
			break;
		}
		if (run->exit_reason == KVM_EXIT_MMIO) {
			printf("  RESULT: MMIO at %llx\n", run->mmio.phys_addr);
			dump_state("mmio");
			status = 7;
			break;
		}
		printf("  RESULT: exit reason %u\n", run->exit_reason);
		dump_state("exit");
		status = 8;
		break;
	}
	return status;
}
