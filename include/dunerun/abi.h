/*
 * The one ABI shared by the launcher (host) and the guest supervisor.
 *
 * Everything the two sides agree on lives here: the guest-physical and
 * guest-virtual layout, the I/O ports the supervisor uses to exit to the
 * host, and the two shared pages.  The header is included from C on the
 * host and from assembly in the guest, so layouts are given as byte
 * offsets that the host checks with static asserts.
 *
 * Trust: the guest is untrusted.  Every field the guest can write is read
 * once by the host, copied, and validated before use.
 */
#ifndef DUNERUN_ABI_H
#define DUNERUN_ABI_H

/* ---- Guest-physical layout ------------------------------------------ */

/* Nothing is mapped at guest-physical 0..GPA_KERNEL: a stray physical
 * pointer never lands on supervisor state. */
#define GPA_KERNEL      0x100000        /* supervisor image (text, data, stacks) */
#define KERNEL_MAX      0x100000        /* the image must fit in 1 MiB */
#define GPA_KCB         0x200000        /* kernel control block + update queue */
#define KCB_SIZE        0x100000
#define GPA_MBOX        0x300000        /* the user-visible mailbox page */
#define GPA_VDSO        0x301000        /* the vDSO image, after the mailbox */
#define VDSO_MAX        0x2000
#define GPA_ROOT        0x380000        /* the page-table root (CR3) */
#define GPA_USER_ROOT   0x381000        /* the split's user root: GPA_ROOT + 4096 */
#define GPA_PVM_FLAGS   0x382000        /* PVM native mode's flag page */
#define GPA_FREE        0x400000        /* the host's page allocator starts here */

/* ---- Guest-virtual layout ------------------------------------------- */

/* The supervisor lives in the top 2 GiB (PML4 slot 511), never user-accessible. */
#define GVA_KERNEL_BASE 0xffffffff80000000
#define GVA_KERNEL      (GVA_KERNEL_BASE + GPA_KERNEL)
#define GVA_KCB         (GVA_KERNEL_BASE + GPA_KCB)
/* The supervisor's own alias of the mailbox (fits a 32-bit displacement). */
#define GVA_MBOX_KERNEL (GVA_KERNEL_BASE + GPA_MBOX)
/* All guest-physical memory, supervisor only, for applying page-table
 * updates.  PML4 slot 273: slot 256 is unusable on PVM hosts. */
#define GVA_DIRECT      0xffff888000000000

/* The user-visible syscall entry page (like Linux's vDSO) and mailbox.
 * `syscall` lands in the entry page; on hosts where it does not change
 * privilege (PVM) the entry runs at CPL 3, which is why it is user code. */
#define GVA_ENTRY       0x00007fffffff0000
#define GVA_MBOX        0x00007fffffff1000
#define GVA_VDSO        0x00007fffffff2000 /* AT_SYSINFO_EHDR */
/* Linux's legacy vsyscall page: user code at a fixed kernel-half address,
 * which old static libcs call (and dietlibc reads when there is no vDSO). */
#define GVA_VSYSCALL    0xffffffffff600000
/* Where patched syscall sites' stubs (patch/patch.h) and the vDSO enter
 * the entry page instead of executing `syscall`. */
#define GVA_ENTRY_PATCHED (GVA_ENTRY + 0x800)
#define USER_STACK_TOP  0x00007ffffff00000
#define USER_MMAP_TOP   0x00007fff00000000
#define USER_VA_END     0x00007fffffff0000 /* first address the program may not map */

/* ---- The Dune calls (include/dune.h) ------------------------------- */
/* Private syscall numbers, far past Linux's own, so a program can tell
 * it runs natively (-ENOSYS) from under dunerun. */
#define DUNE_SYS_WINDOW 0x1d00  /* () -> DUNE_WINDOW, mapped */
#define DUNE_SYS_BATCH  0x1d01  /* (struct dune_op *, n) -> ops done */
#define DUNE_SYS_TRAP   0x1d02  /* (entry, vector mask): trap upcalls */
/* The page tables, read-only, through a recursive PML4 entry in slot
 * 254: the PTE of a program address va is at DUNE_WINDOW + (va >> 9)
 * rounded down to 8, its PDE at DUNE_WINDOW_PD + (va >> 18) & ~7. */
#define DUNE_WINDOW_SLOT 254
#define DUNE_WINDOW     0x00007f0000000000
#define DUNE_WINDOW_END 0x00007f8000000000

/* ---- Segments (Linux layout, as the PVM native mode wants) ---------- */
#define SEL_KCODE       0x10
#define SEL_KDATA       0x18
#define SEL_UDATA       0x2b
#define SEL_UCODE       0x33
#define SEL_TSS         0x40
#define STAR_VALUE      0x0023001000000000

/* ---- PVM's native supervisor mode (docs/platform.md) ---------------- */
/* Writing MSR_PVM_NATIVE = flag page GPA | flags makes the next
 * supervisor instruction run natively.  The flags: PVM_SPLIT returns to
 * user on CR3 + 4096; PVM_PREFLIP switches to CR3 - 4096 before an
 * exception from user mode is handled; PVM_PREFLIP_SYSCALL does the same
 * for `syscall`, which then enters the supervisor at LSTAR; PVM_CR2_CELL
 * writes a fault's CR2 into the flag page. */
#define MSR_PVM_NATIVE          0x4b564d10
#define MSR_PVM_SIGNATURE       0x4b564d11      /* reads PVM_SIGNATURE */
#define MSR_LSTAR               0xc0000082
#define MSR_FS_BASE             0xc0000100
#define MSR_GS_BASE             0xc0000101
#define MSR_KERNEL_GS_BASE      0xc0000102
#define PVM_SIGNATURE           0x4d5650        /* "PVM" */
#define PVM_SPLIT               0x01
#define PVM_PREFLIP             0x02
#define PVM_PREFLIP_SYSCALL     0x04
#define PVM_CR2_CELL            0x10
#define PVM_FLAGS (PVM_SPLIT | PVM_PREFLIP | PVM_PREFLIP_SYSCALL | PVM_CR2_CELL)
/* Hypercalls: `int $0x1b` from the supervisor, rax = number, rbx = arg. */
#define PVM_HC_FLUSH_TLB        0x1007
#define PVM_HC_FLUSH_TLB_ONE    0x1008  /* rbx = the address */
#define PVM_HC_IRET_FRAME       0x100d  /* rbx -> { rax, rbx, rdi, rip, cs, rflags, rsp, ss } */

/* A page-table entry's software bit: not present, but the page is kept
 * (PROT_NONE), so an access is a protection fault, not a missing page. */
#define PTE_KEEP        0x200
/* The frame dune_trap's entry gets (struct dune_tf, include/dune.h). */
#define DUNE_TF_SIZE    168
#define TF_RAX          0
#define TF_RBX          8
#define TF_RCX          16
#define TF_RDX          24
#define TF_RSI          32
#define TF_RDI          40
#define TF_RBP          48
#define TF_RSP          56
#define TF_R8           64
#define TF_R9           72
#define TF_R10          80
#define TF_R11          88
#define TF_R12          96
#define TF_R13          104
#define TF_R14          112
#define TF_R15          120
#define TF_RIP          128
#define TF_RFLAGS       136
#define TF_VECTOR       144
#define TF_ERR          152
#define TF_ADDR         160
/* A user context of supervisor mode (struct dune_user, include/dune.h):
 * a struct dune_tf, then the root and FS base it runs with, then what
 * dune_enter keeps of the program meanwhile. */
#define DU_CR3          168
#define DU_FS           176
#define DU_HOST_RSP     184
#define DU_HOST_FS      192
#define DU_SIZE         200
/* Why a user context stopped, besides exception vectors 0-31. */
#define DUNE_EXIT_INTERRUPT 32  /* the launcher had a signal for the program */
#define DUNE_EXIT_SYSCALL 256   /* a syscall: rax and the arguments in the frame */
/* The rflags bits a program may set: CF PF AF ZF SF TF DF OF AC RF. */
#define USER_RFLAGS_MASK 0x40dd5

/* ---- Exits: `out %al, $port` from the supervisor -------------------- */

/* Ports 0..31: exception vector N was taken; the hardware frame is on the
 * ring-0 stack and the user registers are untouched (KVM_GET_REGS). */
#define PORT_EXCEPTION_MAX 31
#define PORT_SYSCALL    0x40    /* the mailbox holds a posted syscall */
#define PORT_LOOP_DONE  0x41    /* supervisor_loop finished: rax = TSC cycles */

/* ---- The mailbox page (GPA_MBOX, user-visible at GVA_MBOX) ---------- */

/* state: written by the guest (POSTED) and by the host (TAKEN, DONE). */
#define MB_IDLE         0
#define MB_POSTED       1
#define MB_TAKEN        2
#define MB_DONE         3
#define MB_BOUNCE       4       /* the host asks for the exit path instead */

/* action, written by the host with DONE: what the entry does next. */
#define MB_RETURN       0       /* return to the program */
#define MB_APPLY        1       /* enter the supervisor to apply the queue first */
#define MB_EXIT         2       /* take the exit path first (the host has
				   work only the vCPU thread can do) */

#define MB_STATE        0x00    /* u32 */
#define MB_POLLING      0x04    /* u32: a host thread is polling `state` */
#define MB_NR           0x08    /* u64 syscall number (rax) */
#define MB_ARG0         0x10    /* u64 x6: rdi rsi rdx r10 r8 r9 */
#define MB_RIP          0x40    /* u64: rcx at entry, the return address */
#define MB_RFLAGS       0x48    /* u64: r11 at entry */
#define MB_RET          0x50    /* u64: result (rax) */
#define MB_ACTION       0x58    /* u32 */
#define MB_WANT_EXIT    0x5c    /* u32: the entry asks the supervisor to exit */
#define MB_VV_PID       0x60    /* u64: read-only values served in the guest */
#define MB_VV_UID       0x68    /* u64: uid | euid << 32 */
#define MB_VV_GID       0x70    /* u64: gid | egid << 32 */
/* 0x78: unused (getppid is the host's: it changes when the parent dies) */
#define MB_GUEST_CALLS  0x80    /* u64: syscalls answered in the guest */
#define MB_TRACE        0x88    /* u32: 1 = record calls answered in the guest */
#define MB_PATCHING     0x8c    /* u32: 1 = the host rewrites syscall sites, so a
				   `syscall` instruction's call goes to it even
				   when the guest could answer it */
#define MB_GTRACE       0x90    /* { u64 nr; u64 ret; } [32]: the last calls
				   answered in the guest, at guest_calls - 1 */
#define MB_GTRACE_N     32
#define MB_VV_TID       0x290   /* u64: the running thread's id */
/* A patched site's call (patch/patch.h): where the entry returns, instead
 * of MB_RIP (0: to MB_RIP).  The host sets it too when it patches the
 * site of the call it serves, whose return address is then the patch. */
#define MB_CONT         0x298
#define MB_USER_RSP     0x2a0   /* u64: the program's rsp while the entry
				   uses MB_SCRATCH as its stack */
#define MB_SCRATCH      0x2a8   /* u64: pushfq/popfq without the program's stack */

/* ---- The kernel control block (GPA_KCB, supervisor only) ------------ */

/* The host cannot change page-table entries the guest already uses:
 * shadow paging (and a TLB) keeps a copy that the host's writes to guest
 * memory do not reach.  So the host writes the new entries into memory
 * and queues where they are; the supervisor reads each queued run of
 * entries and writes the same values back (one `rep movsq` onto itself),
 * which the hypervisor does see.  Rewriting the current values makes a
 * repeated or reordered rewrite harmless. */
#define KCB_NUPDATES    0x00    /* u64: runs queued in KCB_UPDATES */
#define KCB_FLUSH       0x08    /* u64: after rewriting, flush the TLB: */
#define FLUSH_PAGES     1       /* invlpg each queued entry's address */
#define FLUSH_ALL       2       /* reload CR3 */
/* Beyond this many queued entries one CR3 reload is cheaper than
 * invlpg each (both are trapped or emulated on PVM hosts). */
#define FLUSH_PAGES_MAX 16
#define KCB_USER_RSP    0x10    /* u64: user rsp across the ring-0 syscall path */
#define KCB_LOCK        0x18    /* u32: held by whichever side changes or
				   applies the queue (host: CAS, guest: xchg) */
#define KCB_PVM_NATIVE  0x20    /* u64: the value pvm_boot writes to MSR_PVM_NATIVE */
/* The native backend loads the program's segment bases itself before it
 * returns to the program (the hypervisor keeps them from the host there):
 * when KCB_SEGMENTS is nonzero, it clears it and loads these two. */
#define KCB_SEGMENTS    0x28    /* u64 */
#define KCB_FS_BASE     0x30    /* u64 */
#define KCB_GS_BASE     0x38    /* u64 */
/* dune_trap's entry and vectors (bit N: vector N; 0 when none).  The
 * supervisor delivers some itself, without an exit: the native backend a
 * protection fault (pvm.S), when the page-table entry forbids the access
 * (PTE_KEEP marks a PROT_NONE page) and the frame's stack pages are
 * mapped writable; supervisor mode's stubs, for a ring-0 program, that
 * and every other vector (entry.S, ring0_trap_vector). */
#define KCB_TRAP_ENTRY  0x40    /* u64 */
#define KCB_TRAP_VECTORS 0x68   /* u64 */
/* Nonzero when the program runs in ring 0 (dunerun exec --supervisor):
 * its syscalls return to ring 0. */
#define KCB_SUPERVISOR  0x48    /* u64 */
/* Supervisor mode's user contexts (libdune's dune_user_run): the running
 * one's struct dune_user (a program address, 0 if none), the program's
 * root to return to, and dune_enter's scratch word. */
#define KCB_DUNE_USER   0x50    /* u64 */
#define KCB_DUNE_HOST_CR3 0x58  /* u64 */
#define KCB_DUNE_SCRATCH 0x60   /* u64 */
#define KCB_UPDATES     0x80    /* { u64 kva, count, va, step; } [KCB_MAX_UPDATES]:
				   runs of entries, kva in GVA_DIRECT; entry i
				   maps va + i * step (step 0: unknown) */
#define KCB_MAX_UPDATES ((KCB_SIZE - KCB_UPDATES) / 32)

/* ---- The supervisor image's header (at GVA_KERNEL) ------------------ */
#define KERNEL_MAGIC    0x314e52454e5544ULL /* "DUNERN1" */
#define KH_MAGIC        0x00
#define KH_ENTRY_OFF    0x08    /* image offset of the user entry page(s) */
#define KH_ENTRY_LEN    0x10
#define KH_STACK_TOP    0x18    /* ring-0 stack (TSS.RSP0) */
#define KH_DF_STACK_TOP 0x20    /* double-fault stack (TSS.IST1) */
#define KH_TABLES       0x28    /* a zeroed page for the GDT and TSS */
#define KH_IDT          0x30    /* a zeroed page for the IDT */
#define KH_SYSCALL_R0   0x38    /* ring-0 syscall path (real VT-x/SVM) */
#define KH_IMAGE_END    0x40    /* end of the image including bss */
#define KH_VECTORS      0x48    /* u64 handler address [32] */
#define KH_VSYSCALL_OFF 0x148   /* image offset of the vsyscall page */
/* The PVM native backend's entry points (guestkernel/pvm.S). */
#define KH_PVM_BOOT     0x150   /* switches to native mode, then `ret` */
#define KH_PVM_RETURN   0x158   /* returns through the iret frame at rsp */
#define KH_PVM_SYSCALL  0x160   /* LSTAR */
#define KH_PVM_VECTORS  0x168   /* u64 handler address [32] */
#define KH_LOOP         0x268   /* supervisor_loop, for `make bench` */
/* Supervisor mode (dunerun exec --supervisor): its vectors 0-32, the
 * call that enters a user context (libdune's dune_user_run), and LSTAR. */
#define KH_SVECTORS     0x270   /* u64 handler address [33] */
#define KH_DUNE_ENTER   0x378
#define KH_SYSCALL_SUPERVISOR 0x380

/* The supervisor's stack, below kernel_header.stack_top: exception
 * frames are read from it, and only from it. */
#define SUPERVISOR_STACK 16384

#ifndef __ASSEMBLER__
#include <stdint.h>

struct kernel_header {
	uint64_t magic;
	uint64_t entry_off, entry_len;
	uint64_t stack_top, df_stack_top;
	uint64_t tables, idt;
	uint64_t syscall_ring0;
	uint64_t image_end;
	uint64_t vector[32];
	uint64_t vsyscall_off;
	uint64_t pvm_boot, pvm_return, pvm_syscall;
	uint64_t pvm_vector[32];
	uint64_t supervisor_loop;
	uint64_t svector[33];
	uint64_t dune_enter;
	uint64_t syscall_supervisor;
};
_Static_assert(__builtin_offsetof(struct kernel_header, vector) == KH_VECTORS, "abi");
_Static_assert(__builtin_offsetof(struct kernel_header, vsyscall_off) == KH_VSYSCALL_OFF, "abi");
_Static_assert(__builtin_offsetof(struct kernel_header, pvm_boot) == KH_PVM_BOOT, "abi");
_Static_assert(__builtin_offsetof(struct kernel_header, pvm_vector) == KH_PVM_VECTORS, "abi");
_Static_assert(__builtin_offsetof(struct kernel_header, supervisor_loop) == KH_LOOP, "abi");
_Static_assert(__builtin_offsetof(struct kernel_header, svector) == KH_SVECTORS, "abi");
_Static_assert(__builtin_offsetof(struct kernel_header, dune_enter) == KH_DUNE_ENTER, "abi");
_Static_assert(__builtin_offsetof(struct kernel_header, syscall_supervisor) == KH_SYSCALL_SUPERVISOR, "abi");

struct mailbox {
	uint32_t state;
	uint32_t polling;
	uint64_t nr;
	uint64_t arg[6];
	uint64_t rip;
	uint64_t rflags;
	int64_t ret;
	uint32_t action;
	uint32_t want_exit;
	uint64_t vv_pid;
	uint64_t vv_uid;
	uint64_t vv_gid;
	uint64_t unused;
	uint64_t guest_calls;
	uint32_t trace;
	uint32_t patching;
	struct { uint64_t nr, ret; } gtrace[MB_GTRACE_N];
	uint64_t vv_tid;
	uint64_t cont;
	uint64_t user_rsp;
	uint64_t scratch;
};

struct kcb {
	uint64_t nupdates;
	uint64_t flush;
	uint64_t user_rsp;
	uint32_t lock;
	uint32_t pad0;
	uint64_t pvm_native;
	uint64_t segments, fs_base, gs_base;
	uint64_t trap_entry;
	uint64_t supervisor;
	uint64_t dune_user, dune_host_cr3, dune_scratch;
	uint64_t trap_vectors;
	uint64_t pad1[2];
	struct { uint64_t kva, count, va, step; } update[KCB_MAX_UPDATES];
};

_Static_assert(__builtin_offsetof(struct mailbox, nr) == MB_NR, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, arg) == MB_ARG0, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, rip) == MB_RIP, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, ret) == MB_RET, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, action) == MB_ACTION, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, want_exit) == MB_WANT_EXIT, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, vv_pid) == MB_VV_PID, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, guest_calls) == MB_GUEST_CALLS, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, trace) == MB_TRACE, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, patching) == MB_PATCHING, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, gtrace) == MB_GTRACE, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, vv_tid) == MB_VV_TID, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, cont) == MB_CONT, "abi");
_Static_assert(__builtin_offsetof(struct mailbox, scratch) == MB_SCRATCH, "abi");
_Static_assert(__builtin_offsetof(struct kcb, update) == KCB_UPDATES, "abi");
_Static_assert(__builtin_offsetof(struct kcb, lock) == KCB_LOCK, "abi");
_Static_assert(__builtin_offsetof(struct kcb, pvm_native) == KCB_PVM_NATIVE, "abi");
_Static_assert(__builtin_offsetof(struct kcb, gs_base) == KCB_GS_BASE, "abi");
_Static_assert(__builtin_offsetof(struct kcb, trap_entry) == KCB_TRAP_ENTRY, "abi");
_Static_assert(__builtin_offsetof(struct kcb, supervisor) == KCB_SUPERVISOR, "abi");
_Static_assert(__builtin_offsetof(struct kcb, dune_scratch) == KCB_DUNE_SCRATCH, "abi");
_Static_assert(__builtin_offsetof(struct kcb, trap_vectors) == KCB_TRAP_VECTORS, "abi");
_Static_assert(sizeof(struct kcb) <= KCB_SIZE, "abi");
#endif

#endif
