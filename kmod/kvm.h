/*
 * kmod: the launcher's interface to Linux's own kvm module (/dev/kvm).
 *
 * One VM with one memory slot and one vCPU in 64-bit mode.  Every call
 * either succeeds or returns -1 with a one-line message in vm->err that
 * says what to do, never a crash.
 */
#ifndef DUNERUN_KVM_H
#define DUNERUN_KVM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kvm_vm {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	char err[256];
};

/* Opens /dev/kvm, checks the API version and capabilities, and creates
 * the VM and its vCPU (with the host's supported CPUID). */
int kvm_vm_open(struct kvm_vm *vm);
/* A new VM and vCPU from the same /dev/kvm descriptor, for a forked
 * launcher: KVM serves a VM only to the process that made it. */
int kvm_vm_recreate(struct kvm_vm *vm);

/* What a vCPU is, to carry it into a new VM. */
struct kvm_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
};
int kvm_vm_save(struct kvm_vm *vm, struct kvm_state *st);
/* After kvm_vm_boot, which sets the MSRs and XCR0. */
int kvm_vm_restore(struct kvm_vm *vm, const struct kvm_state *st);
void kvm_vm_close(struct kvm_vm *vm);

/* Registers guest-physical [0, size) backed by host memory at host. */
int kvm_vm_set_memory(struct kvm_vm *vm, void *host, uint64_t size);

/* The boot state: 64-bit paging with CR3 = root, the descriptor tables,
 * and syscall MSRs.  The first instruction runs in ring 3 at rip, or in
 * ring 0 if ring0. */
struct kvm_boot {
	uint64_t cr3;
	uint64_t gdt_base, idt_base, tss_base;
	uint16_t gdt_limit, idt_limit;
	uint64_t lstar;
	uint64_t rip, rsp;
	int ring0;
};
int kvm_vm_boot(struct kvm_vm *vm, const struct kvm_boot *boot);

/* Whether the host is PVM with its native supervisor mode (the vCPU
 * reads the PVM signature MSR): 1 or 0. */
int kvm_vm_pvm(struct kvm_vm *vm);

/* Enters the guest until the next exit.  Returns the exit reason
 * (KVM_EXIT_*), or -1 on error; EINTR gives KVM_EXIT_INTR. */
int kvm_vm_run(struct kvm_vm *vm);

int kvm_vm_get_regs(struct kvm_vm *vm, struct kvm_regs *regs);
int kvm_vm_set_regs(struct kvm_vm *vm, const struct kvm_regs *regs);
/* The x87, SSE and AVX state, in the standard (non-compacted) XSAVE
 * layout; KVM_SET_XSAVE refuses reserved bits set. */
int kvm_vm_get_xsave(struct kvm_vm *vm, struct kvm_xsave *x);
int kvm_vm_set_xsave(struct kvm_vm *vm, const struct kvm_xsave *x);
int kvm_vm_get_sregs(struct kvm_vm *vm, struct kvm_sregs *sregs);
int kvm_vm_set_sregs(struct kvm_vm *vm, const struct kvm_sregs *sregs);
/* Queues external interrupt vector for the guest (no in-kernel irqchip:
 * taken when the guest next runs with interrupts enabled).  An interrupt
 * already queued is not an error. */
int kvm_vm_interrupt(struct kvm_vm *vm, uint32_t vector);
/* Sets the user FS and GS bases (arch_prctl). */
int kvm_vm_set_segment_bases(struct kvm_vm *vm, uint64_t fs, uint64_t gs);

#endif
