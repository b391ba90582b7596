/*
 * Driving Linux's kvm module through /dev/kvm.  See kvm.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm.h"
#include "dunerun/abi.h"

#define MSR_STAR        0xc0000081
#define MSR_LSTAR       0xc0000082
#define MSR_CSTAR       0xc0000083
#define MSR_SFMASK      0xc0000084

/* Flags cleared on `syscall`: TF, DF, NT and AC, as Linux does.  IF is
 * left alone: where syscall stays at CPL 3 the entry returns without
 * restoring RFLAGS. */
#define SFMASK_VALUE    0x44500

static int fail(struct kvm_vm *vm, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(vm->err, sizeof vm->err, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

static int open_dev_kvm(struct kvm_vm *vm)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd >= 0)
		return 0;
	switch (errno) {
	case ENOENT:
		return fail(vm, "/dev/kvm does not exist: load the kvm module "
			    "(modprobe kvm_intel or kvm_amd) or enable "
			    "virtualization in the firmware or the host VM");
	case EACCES:
	case EPERM:
		return fail(vm, "/dev/kvm: permission denied: add yourself to "
			    "the 'kvm' group (usermod -aG kvm $USER) or run as root");
	default:
		return fail(vm, "/dev/kvm: %s", strerror(errno));
	}
}

static int create_vm(struct kvm_vm *vm);

static int check_caps(struct kvm_vm *vm)
{
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);

	if (version != KVM_API_VERSION)
		return fail(vm, "/dev/kvm: API version %d, need %d", version,
			    KVM_API_VERSION);
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
		return fail(vm, "/dev/kvm: KVM_CAP_USER_MEMORY is missing");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXT_CPUID) <= 0)
		return fail(vm, "/dev/kvm: KVM_CAP_EXT_CPUID is missing");
	return 0;
}

/* Without KVM_SET_CPUID2 every CPUID leaf reads 0 and programs take the
 * slowest, oldest code paths, or refuse to run. */
static int set_cpuid(struct kvm_vm *vm)
{
	int n = 256;
	struct kvm_cpuid2 *cpuid = NULL;

	for (;;) {
		cpuid = calloc(1, sizeof *cpuid + n * sizeof cpuid->entries[0]);
		if (!cpuid)
			return fail(vm, "out of memory");
		cpuid->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		free(cpuid);
		if (errno != E2BIG || n > 4096)
			return fail(vm, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		n *= 2;
	}
	int r = ioctl(vm->vcpu_fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	if (r < 0)
		return fail(vm, "KVM_SET_CPUID2: %s", strerror(errno));
	return 0;
}

int kvm_vm_open(struct kvm_vm *vm)
{
	memset(vm, 0, sizeof *vm);
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
	if (open_dev_kvm(vm) < 0 || check_caps(vm) < 0)
		return -1;
	return create_vm(vm);
}

/* Closes the vCPU and the VM, keeping /dev/kvm open. */
static void close_vm(struct kvm_vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	vm->run = NULL;
	vm->vm_fd = vm->vcpu_fd = -1;
}

int kvm_vm_recreate(struct kvm_vm *vm)
{
	close_vm(vm);
	return create_vm(vm);
}

int kvm_vm_save(struct kvm_vm *vm, struct kvm_state *st)
{
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &st->regs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &st->sregs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &st->xsave) < 0)
		return fail(vm, "saving the vCPU: %s", strerror(errno));
	return 0;
}

int kvm_vm_restore(struct kvm_vm *vm, const struct kvm_state *st)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &st->sregs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_SET_REGS, &st->regs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &st->xsave) < 0)
		return fail(vm, "restoring the vCPU: %s", strerror(errno));
	return 0;
}

static int create_vm(struct kvm_vm *vm)
{
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return fail(vm, "KVM_CREATE_VM: %s", strerror(errno));
	/* KVM otherwise takes a guest's vmcall on AMD (vmmcall on Intel) as
	 * its own hypercall and rewrites the instruction in guest memory; a
	 * program's stray vmcall must be the #UD it is on bare metal.  Best
	 * effort: older kernels lack the switch. */
	struct kvm_enable_cap quirk = {
		.cap = KVM_CAP_DISABLE_QUIRKS2, .args = { KVM_X86_QUIRK_FIX_HYPERCALL_INSN },
	};
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2) > 0)
		ioctl(vm->vm_fd, KVM_ENABLE_CAP, &quirk);
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return fail(vm, "KVM_CREATE_VCPU: %s", strerror(errno));
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return fail(vm, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->run_size = size;
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		return fail(vm, "mmap of the vCPU run area: %s", strerror(errno));
	}
	return set_cpuid(vm);
}

void kvm_vm_close(struct kvm_vm *vm)
{
	close_vm(vm);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
}

int kvm_vm_set_memory(struct kvm_vm *vm, void *host, uint64_t size)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = size,
		.userspace_addr = (uint64_t)host,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail(vm, "KVM_SET_USER_MEMORY_REGION (%llu MiB): %s",
			    (unsigned long long)(size >> 20), strerror(errno));
	return 0;
}

static struct kvm_segment segment(uint16_t sel, int code, int dpl)
{
	struct kvm_segment s = {
		.base = 0, .limit = 0xffffffff, .selector = sel,
		.type = code ? 0xb : 0x3, .present = 1, .dpl = dpl,
		.db = 0, .s = 1, .l = code, .g = 1,
	};
	return s;
}

/* Sets MSRs e[0..n) (n <= 8); what names them in the error. */
static int set_msr_list(struct kvm_vm *vm, const struct kvm_msr_entry *e, unsigned n,
			const char *what)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[8];
	} m = { .hdr.nmsrs = n };

	memcpy(m.e, e, n * sizeof *e);
	if (ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m) != (int)n)
		return fail(vm, "KVM_SET_MSRS (%s): %s", what, strerror(errno));
	return 0;
}

static int set_msrs(struct kvm_vm *vm, uint64_t lstar)
{
	const struct kvm_msr_entry e[] = {
		{ .index = MSR_STAR, .data = STAR_VALUE },
		{ .index = MSR_LSTAR, .data = lstar },
		{ .index = MSR_CSTAR, .data = lstar },
		{ .index = MSR_SFMASK, .data = SFMASK_VALUE },
		{ .index = MSR_KERNEL_GS_BASE, .data = 0 },
	};

	return set_msr_list(vm, e, 5, "syscall MSRs");
}

/* Lets programs use AVX where the host has it: CR4.OSXSAVE plus an XCR0
 * of what the CPU supports among x87, SSE and AVX. */
static void enable_xsave(struct kvm_vm *vm, struct kvm_sregs *s)
{
	struct kvm_xcrs xcrs = { .nr_xcrs = 1 };

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) <= 0)
		return;
	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = 0x7;
	s->cr4 |= 1 << 18;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, s) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs) < 0)
		s->cr4 &= ~(1ULL << 18);
}

int kvm_vm_boot(struct kvm_vm *vm, const struct kvm_boot *b)
{
	struct kvm_sregs s;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return fail(vm, "KVM_GET_SREGS: %s", strerror(errno));
	s.cr0 = 0x80050033;     /* PG WP AM NE ET MP PE */
	s.cr3 = b->cr3;
	s.cr4 = 0x620;          /* OSXMMEXCPT OSFXSR PAE */
	s.efer = 0xd01;         /* NXE LMA LME SCE */
	s.gdt.base = b->gdt_base;
	s.gdt.limit = b->gdt_limit;
	s.idt.base = b->idt_base;
	s.idt.limit = b->idt_limit;
	/* The program starts in ring 3: nothing needs ring 0 to boot, except
	 * switching to a native supervisor mode. */
	if (b->ring0) {
		s.cs = segment(SEL_KCODE, 1, 0);
		s.ss = segment(SEL_KDATA, 0, 0);
	} else {
		s.cs = segment(SEL_UCODE, 1, 3);
		s.ss = segment(SEL_UDATA, 0, 3);
	}
	s.ds = s.es = s.fs = s.gs = segment(SEL_UDATA, 0, 3);
	s.tr = (struct kvm_segment){
		.base = b->tss_base, .limit = 0x67, .selector = SEL_TSS,
		.type = 0xb, .present = 1, .s = 0,
	};
	s.ldt = (struct kvm_segment){ .unusable = 1 };
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return fail(vm, "KVM_SET_SREGS: %s", strerror(errno));
	enable_xsave(vm, &s);
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return fail(vm, "KVM_SET_SREGS: %s", strerror(errno));
	if (set_msrs(vm, b->lstar) < 0)
		return -1;

	struct kvm_regs r = { .rip = b->rip, .rsp = b->rsp, .rflags = 0x202 };
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return fail(vm, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int kvm_vm_pvm(struct kvm_vm *vm)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} m = { .hdr.nmsrs = 1, .e[0].index = MSR_PVM_SIGNATURE };

	return ioctl(vm->vcpu_fd, KVM_GET_MSRS, &m) == 1 && m.e[0].data == PVM_SIGNATURE;
}

int kvm_vm_run(struct kvm_vm *vm)
{
	if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return KVM_EXIT_INTR;
		return fail(vm, "KVM_RUN: %s", strerror(errno));
	}
	return vm->run->exit_reason;
}

int kvm_vm_get_regs(struct kvm_vm *vm, struct kvm_regs *regs)
{
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, regs) < 0)
		return fail(vm, "KVM_GET_REGS: %s", strerror(errno));
	return 0;
}

int kvm_vm_set_regs(struct kvm_vm *vm, const struct kvm_regs *regs)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, regs) < 0)
		return fail(vm, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int kvm_vm_get_xsave(struct kvm_vm *vm, struct kvm_xsave *x)
{
	if (ioctl(vm->vcpu_fd, KVM_GET_XSAVE, x) < 0)
		return fail(vm, "KVM_GET_XSAVE: %s", strerror(errno));
	return 0;
}

int kvm_vm_set_xsave(struct kvm_vm *vm, const struct kvm_xsave *x)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_XSAVE, x) < 0)
		return fail(vm, "KVM_SET_XSAVE: %s", strerror(errno));
	return 0;
}

int kvm_vm_get_sregs(struct kvm_vm *vm, struct kvm_sregs *sregs)
{
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, sregs) < 0)
		return fail(vm, "KVM_GET_SREGS: %s", strerror(errno));
	return 0;
}

int kvm_vm_set_sregs(struct kvm_vm *vm, const struct kvm_sregs *sregs)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, sregs) < 0)
		return fail(vm, "KVM_SET_SREGS: %s", strerror(errno));
	return 0;
}

/* The bases as MSRs: one ioctl, where the segment registers would take
 * a read and a write (a thread switch makes it every time). */
int kvm_vm_set_segment_bases(struct kvm_vm *vm, uint64_t fs, uint64_t gs)
{
	const struct kvm_msr_entry e[] = {
		{ .index = MSR_FS_BASE, .data = fs },
		{ .index = MSR_GS_BASE, .data = gs },
	};

	return set_msr_list(vm, e, 2, "segment bases");
}

int kvm_vm_interrupt(struct kvm_vm *vm, uint32_t vector)
{
	struct kvm_interrupt irq = { .irq = vector };

	if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &irq) < 0 && errno != EEXIST)
		return fail(vm, "KVM_INTERRUPT: %s", strerror(errno));
	return 0;
}
