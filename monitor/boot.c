/*
 * Building the guest before its first instruction: descriptor tables,
 * the program image and its initial stack.  All bulk work happens here on
 * the host, where it is cheap, and none in the guest's ring 0.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor_impl.h"

#define STACK_SIZE      (8UL << 20)     /* like the default RLIMIT_STACK */
#define STACK_IMAGE_MAX (2UL << 20)     /* argv+envp, like Linux's ARG_MAX */
#define PROGRAM_MAX     (1UL << 30)

static uint64_t seg_desc(uint64_t type_flags)
{
	return 0x000f00000000ffffULL | type_flags;
}

/* GDT in Linux's layout (what PVM's native mode expects), then the TSS. */
static void build_tables(struct vmctx *vc, const struct kernel_header *kh)
{
	uint64_t *gdt = mm_gpa(vc->mm, kh->tables - GVA_KERNEL_BASE, 4096);
	uint64_t *idt = mm_gpa(vc->mm, kh->idt - GVA_KERNEL_BASE, 4096);
	uint8_t *tss = (uint8_t *)gdt + 0x100;
	uint64_t tss_va = kh->tables + 0x100;

	gdt[SEL_KCODE / 8] = seg_desc(0x00a09b0000000000ULL);
	gdt[SEL_KDATA / 8] = seg_desc(0x00c0930000000000ULL);
	gdt[0x20 / 8] = seg_desc(0x00c0fb0000000000ULL);
	gdt[SEL_UDATA / 8] = seg_desc(0x00c0f30000000000ULL);
	gdt[SEL_UCODE / 8] = seg_desc(0x00a0fb0000000000ULL);
	gdt[SEL_TSS / 8] = 0x67 | (tss_va & 0xffffff) << 16 | 0x8bULL << 40 |
			   ((tss_va >> 24) & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = tss_va >> 32;
	memcpy(tss + 4, &kh->stack_top, 8);             /* RSP0 */
	memcpy(tss + 36, &kh->df_stack_top, 8);         /* IST1 */
	memcpy(tss + 44, &kh->stack_top, 8);            /* IST2 */
	uint16_t iomap = 104;                           /* no I/O bitmap */
	memcpy(tss + 102, &iomap, 2);

	int nvec = vc->supervisor ? 33 : 32;
	for (int v = 0; v < nvec; v++) {
		uint64_t h = vc->supervisor ? kh->svector[v] :
			     vc->native ? kh->pvm_vector[v] : kh->vector[v];
		/* Interrupt gates; only #BP may be raised by ring 3 (int3).  A
		 * program in ring 0 takes its exceptions without a change of
		 * privilege, so without a change of stack unless the gate
		 * names one: every gate then uses the supervisor stack. */
		uint64_t attr = v == 3 ? 0xee : 0x8e;
		uint64_t ist = v == 8 ? 1 : vc->supervisor ? 2 : 0;
		idt[2 * v] = (h & 0xffff) | (uint64_t)SEL_KCODE << 16 | ist << 32 |
			     attr << 40 | ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}
	vc->boot.gdt_base = kh->tables;
	vc->boot.gdt_limit = 0x4f;
	vc->boot.idt_base = kh->idt;
	vc->boot.idt_limit = nvec * 16 - 1;
	vc->boot.tss_base = tss_va;
}

int boot_supervisor(struct vmctx *vc)
{
	const struct kernel_header *kh = (const void *)guest_image;

	if (guest_image_len < sizeof *kh || kh->magic != KERNEL_MAGIC ||
	    mm_map_supervisor(vc->mm, guest_image, guest_image_len,
			      kh->entry_off, kh->entry_len) < 0 ||
	    mm_map_vdso(vc->mm, vdso_image, vdso_image_len) < 0) {
		fprintf(stderr, "dunerun: the embedded supervisor image is invalid\n");
		return -1;
	}
	vc->kh = *kh;
	build_tables(vc, kh);
	vc->mbox = mm_gpa(vc->mm, GPA_MBOX, PAGE_SIZE);
	vc->kcb = mm_gpa(vc->mm, GPA_KCB, KCB_SIZE);
	vc->boot.cr3 = mm_root(vc->mm);
	vc->boot.lstar = vc->native ? kh->pvm_syscall :
			 vc->supervisor ? kh->syscall_supervisor : GVA_ENTRY;
	vc->kcb->pvm_native = vc->native ? GPA_PVM_FLAGS | PVM_FLAGS : 0;
	vc->kcb->supervisor = vc->supervisor;
	return 0;
}

/* Reads the whole program, and its device and inode into id.  Sets
 * *status to 127 or 126 on failure. */
static uint8_t *read_program(const char *path, size_t *size, uint64_t id[2], int *status)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	*status = 126;
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			*status = 127;
		fprintf(stderr, "dunerun: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "dunerun: %s: not a regular file\n", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)PROGRAM_MAX) {
		fprintf(stderr, "dunerun: %s: too large (%lld bytes)\n", path,
			(long long)st.st_size);
		close(fd);
		return NULL;
	}
	uint8_t *data = malloc(st.st_size ? st.st_size : 1);
	size_t got = 0;
	id[0] = st.st_dev;
	id[1] = st.st_ino;
	while (data && got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, st.st_size - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (!data || got != (size_t)st.st_size) {
		fprintf(stderr, "dunerun: %s: cannot read\n", path);
		free(data);
		return NULL;
	}
	*size = got;
	return data;
}

/* Maps img's segments at bias and copies their file bytes in.  As
 * Linux maps whole file pages, the bytes before vaddr in the first page
 * are the file's too; the pages past the file's bytes (bss) are
 * anonymous, and /proc/self/maps shows them so. */
static int load_segments(struct vmctx *vc, const struct elf_image *img,
			 const uint8_t *data, uint64_t bias, const struct mm_file *file)
{
	for (int i = 0; i < img->nseg; i++) {
		const struct elf_seg *s = &img->seg[i];
		uint64_t start = (s->vaddr + bias) & ~(PAGE_SIZE - 1);
		uint64_t lead = (s->vaddr + bias) - start;
		uint64_t end = s->vaddr + bias + s->memsz;
		uint64_t file_end = (s->vaddr + bias + s->filesz + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		if (file_end > start && mm_map_fixed(vc->mm, start, file_end - start, s->prot,
						     file, s->offset - lead) < 0)
			return -1;
		if (end > file_end && mm_map_fixed(vc->mm, file_end, end - file_end, s->prot,
						   NULL, 0) < 0)
			return -1;
		if (mm_write_initial(vc->mm, start, data + s->offset - lead,
				     s->filesz + lead) < 0)
			return -1;
	}
	return 0;
}

static uint64_t host_hwcap(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) ? d : 0;
}

static int build_stack(struct vmctx *vc, const struct elf_image *img,
		       uint64_t bias, uint64_t interp_bias, const char *path, char *const argv[],
		       char *const envp[], uint64_t *rsp)
{
	struct stack_aux aux = {
		.phdr = img->phdr_vaddr ? img->phdr_vaddr + bias : 0,
		.phent = img->phentsize, .phnum = img->phnum,
		.entry = img->entry + bias, .base = interp_bias,
		.uid = getuid(), .euid = geteuid(), .gid = getgid(), .egid = getegid(),
		.hwcap = host_hwcap(), .clktck = sysconf(_SC_CLK_TCK),
		.pagesz = PAGE_SIZE, .execfn = path, .platform = "x86_64",
		.sysinfo_ehdr = GVA_VDSO,
	};
	int prot = PROT_READ | PROT_WRITE | (img->stack_exec ? PROT_EXEC : 0);
	uint64_t top = USER_STACK_TOP;

	if (getrandom(aux.random, sizeof aux.random, 0) != sizeof aux.random)
		return -1;
	if (mm_map_fixed(vc->mm, top - STACK_SIZE, STACK_SIZE, prot, NULL, 0) < 0)
		return -1;
	uint8_t *buf = malloc(STACK_IMAGE_MAX);
	if (!buf)
		return -1;
	*rsp = stack_build(buf, STACK_IMAGE_MAX, top, argv, envp, &aux);
	if (!*rsp) {
		fprintf(stderr, "dunerun: %s: argument list too long\n", path);
		free(buf);
		return -1;
	}
	uint64_t used = top - *rsp;
	int r = mm_write_initial(vc->mm, *rsp, buf + STACK_IMAGE_MAX - used, used);
	free(buf);
	return r;
}

int boot_program(struct vmctx *vc, const char *path, char *const argv[],
		 char *const envp[], int *status)
{
	struct exec_request x = { .argv = (char **)argv, .envp = (char **)envp };
	struct elf_image img;
	char err[256];
	int r = -1;

	snprintf(x.path, sizeof x.path, "%s", path);
	if (!(x.data = read_program(path, &x.size, x.id, status)))
		return -1;
	if (!realpath(path, x.exe))
		x.exe[0] = 0;
	/* A dynamic program's interpreter is read here, in the launcher's
	 * view, which is the program's; a bad main file is reported by
	 * boot_image. */
	const char *interp = elf_parse(x.data, x.size, &img, err, sizeof err) == 0 ?
			     elf_interp(x.data, &img) : NULL;
	if (interp && !(x.interp = read_program(interp, &x.interp_size, x.interp_id, status)))
		fprintf(stderr, "dunerun: %s: cannot load its interpreter %s\n", path, interp);
	else if (interp && !realpath(interp, x.interp_exe))
		fprintf(stderr, "dunerun: %s: its interpreter %s: %s\n", path, interp, strerror(errno));
	else
		r = boot_image(vc, &x, status);
	free(x.data);
	free(x.interp);
	return r;
}

/* Checks the interpreter that main names, as Linux does: an ELF
 * executable that names no interpreter of its own. */
static int parse_interp(const struct exec_request *x, const struct elf_image *main,
			struct elf_image *img)
{
	char err[256];
	const char *name = elf_interp(x->data, main);

	if (elf_parse(x->interp, x->interp_size, img, err, sizeof err) < 0) {
		fprintf(stderr, "dunerun: %s: interpreter %s: %s\n", x->path, name, err);
		return -1;
	}
	if (img->interp_len) {
		fprintf(stderr, "dunerun: %s: interpreter %s names an interpreter "
			"of its own\n", x->path, name);
		return -1;
	}
	return 0;
}

/* Where an ET_DYN image goes: a free, 2 MiB-aligned span. */
static uint64_t pick_bias(struct vmctx *vc, const struct elf_image *img)
{
	return img->pie ? mm_pick_base(vc->mm, img->hi - img->lo, HUGE_PAGE) - img->lo : 0;
}

int boot_image(struct vmctx *vc, const struct exec_request *x, int *status)
{
	struct elf_image img, interp;
	char err[256];
	uint64_t bias, ibias = 0, rsp;

	*status = 126;
	if (elf_parse(x->data, x->size, &img, err, sizeof err) < 0) {
		fprintf(stderr, "dunerun: %s: %s\n", x->path, err);
		return -1;
	}
	if (img.interp_len && parse_interp(x, &img, &interp) < 0)
		return -1;
	*status = 125;
	bias = pick_bias(vc, &img);
	const struct mm_file prog = { x->exe[0] ? x->exe : x->path, x->id[0], x->id[1] };
	const struct mm_file ld = { x->interp_exe, x->interp_id[0], x->interp_id[1] };
	int bad = load_segments(vc, &img, x->data, bias, &prog) < 0;
	/* The interpreter is placed after the program, which it must not
	 * overlap, and starts first: it loads the libraries and jumps to
	 * the program's entry (AT_ENTRY). */
	if (!bad && img.interp_len) {
		ibias = pick_bias(vc, &interp);
		bad = load_segments(vc, &interp, x->interp, ibias, &ld) < 0;
	}
	if (bad || build_stack(vc, &img, bias, ibias, x->path, x->argv, x->envp, &rsp) < 0) {
		fprintf(stderr, "dunerun: %s: cannot load the program into "
			"guest memory (try a larger --mem)\n", x->path);
		return -1;
	}
	mm_set_brk_base(vc->mm, img.hi + bias);
	vc->boot.rip = img.interp_len ? interp.entry + ibias : img.entry + bias;
	vc->boot.rsp = rsp;
	return 0;
}

/* ---- The vCPU at the program: where the two backends differ ---- */

/* Boots the vCPU into ring 0 with regs r, to run at r.rip: the native
 * backend first calls pvm_boot, which switches to native mode and
 * returns there (the return address goes below r.rsp). */
static int boot_ring0(struct vmctx *vc, struct kvm_regs r)
{
	struct kvm_boot b = vc->boot;

	if (vc->native) {
		uint64_t *ret = supervisor_stack(vc, r.rsp - 8, 8);
		if (!ret)
			return -1;
		*ret = r.rip;
		r.rsp -= 8;
		r.rip = vc->kh.pvm_boot;
	}
	b.ring0 = 1;
	return kvm_vm_boot(&vc->vm, &b) < 0 ? -1 : kvm_vm_set_regs(&vc->vm, &r);
}

/* The native backend enters the program from ring 0, through
 * pvm_return and the iret frame written on the supervisor stack, which
 * loads the segment bases and enters the program with regs. */
static int enter_native(struct vmctx *vc, const struct kvm_regs *regs)
{
	struct kvm_regs r = *regs;
	uint64_t rsp = vc->kh.stack_top - 40;
	uint64_t *frame = supervisor_stack(vc, rsp, 40);

	if (!frame)
		return -1;
	frame[0] = regs->rip;
	frame[1] = SEL_UCODE;
	frame[2] = regs->rflags;
	frame[3] = regs->rsp;
	frame[4] = SEL_UDATA;
	r.rip = vc->kh.pvm_return;
	r.rsp = rsp;
	r.rflags = 2;
	return boot_ring0(vc, r);
}

int boot_vcpu(struct vmctx *vc)
{
	struct kvm_regs r = { .rip = vc->boot.rip, .rsp = vc->boot.rsp, .rflags = 0x202 };

	if (!vc->native) {
		struct kvm_boot b = vc->boot;
		b.ring0 = vc->supervisor;
		return kvm_vm_boot(&vc->vm, &b);
	}
	set_segment_bases(vc, 0, 0, 0);
	return enter_native(vc, &r);
}

static uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

int time_supervisor(struct vmctx *vc, uint64_t n)
{
	struct kvm_regs r = {
		.rip = vc->kh.supervisor_loop, .rsp = vc->kh.stack_top,
		.rflags = 2, .rcx = n,
	};

	if (n == 0 || boot_ring0(vc, r) < 0)
		return -1;
	uint64_t t0 = now_ns(), c0 = tsc();
	int exit = kvm_vm_run(&vc->vm);
	uint64_t t1 = now_ns(), c1 = tsc();
	if (exit != KVM_EXIT_IO || vc->vm.run->io.port != PORT_LOOP_DONE ||
	    kvm_vm_get_regs(&vc->vm, &r) < 0)
		return -1;
	/* The guest's TSC is the host's: its rate from the wall clock. */
	double ns = (double)r.rax * (double)(t1 - t0) / (double)(c1 - c0);
	fprintf(stderr, "dunerun: supervisor loop: %llu iterations, %.3f ns each\n",
		(unsigned long long)n, ns / (double)n);
	return boot_vcpu(vc);
}

/* A forked VM starts where its parent stopped, in the supervisor.  The
 * native backend's parent state is not one a fresh VM can start in (the
 * hypervisor runs its supervisor in ring 3): the child boots into ring 0
 * with the parent's registers and returns there from pvm_boot. */
int boot_resume(struct vmctx *vc, const struct kvm_state *st, uint64_t fs, uint64_t gs)
{
	if (!vc->native)
		return kvm_vm_boot(&vc->vm, &vc->boot) < 0 ? -1 : kvm_vm_restore(&vc->vm, st);
	set_segment_bases(vc, fs, gs, 0);
	if (boot_ring0(vc, st->regs) < 0)
		return -1;
	return kvm_vm_set_xsave(&vc->vm, &st->xsave);
}

int set_segment_bases(struct vmctx *vc, uint64_t fs, uint64_t gs, int in_program)
{
	if (!vc->native || in_program)
		return kvm_vm_set_segment_bases(&vc->vm, fs, gs);
	vc->kcb->fs_base = fs;
	vc->kcb->gs_base = gs;
	vc->kcb->segments = 1;
	return 0;
}
