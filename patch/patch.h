/*
 * patch: rewriting a syscall site into a jump to a stub.
 *
 * On the hosts dunerun runs on, the `syscall` instruction itself traps
 * into the hypervisor (17-35 us on some), although the launcher could
 * serve the call through the mailbox without any exit.  So a site the
 * CPU has just executed (it is certainly a `syscall`, and the byte after
 * it certainly starts an instruction: the one the call returns to) is
 * rewritten into a plain jump:
 *
 *   S:   e9 LL 06 06 d6     jmp rel32 to the site's stub
 *
 * over the syscall and the instructions after it up to S+5, which the
 * stub runs in its place ("borrowed").  The displacement is chosen so
 * that its upper three bytes, which land where S+2, S+3 and S+4 were,
 * are invalid opcodes (06 06 and one of PATCH_BANDS): a jump from
 * elsewhere into the patched bytes (the instruction after a syscall is
 * a common branch target) traps with #UD instead of running garbage,
 * and the launcher sends it to the stub's copy of the instruction that
 * was there.  So a site's stub lies in one of a few 256-byte windows at
 * fixed distances from it (the bands, 96 MiB to 2 GiB away), in pages
 * of the program's half of the address space: the top half is slow or
 * unreachable for user code on some hypervisors.  The stub:
 *
 *   X:    movabs $S+2, %rcx        what `syscall` leaves in rcx
 *         movabs $C, %r11          the continuation
 *         jmp *slot(%rip)          the entry page's entry_patched (the
 *                                  first word of each stub page)
 *   C:    movabs $S+2, %rcx        (the entry returns here)
 *         the borrowed instructions, relocated
 *         jmp S+5+...              back after them
 *
 * Nothing here touches guest memory: it decodes bytes and builds bytes.
 * mm/patch.c decides where stubs go and writes them.
 */
#ifndef DUNERUN_PATCH_H
#define DUNERUN_PATCH_H

#include <stddef.h>
#include <stdint.h>

#define PATCH_LEN       5       /* the jmp rel32 written at the site */
#define PATCH_READ      48      /* bytes from the site the planner may read */
#define PATCH_MAX_INSN  5       /* borrowed instructions, at most */
#define PATCH_STUB_MAX  128     /* a stub's size, at most */
/* The displacement's two middle bytes: 06 06 (push es, invalid in
 * 64-bit mode); its top byte one of the bands', its low byte free. */
#define PATCH_DISP_MID  0x00060600u
#define PATCH_BANDS     19

/* Why a site keeps the slow path. */
enum patch_refusal {
	PATCH_OK,
	PATCH_UNDECODED,        /* an instruction after it is not one we relocate */
	PATCH_AFTER_JUMP,       /* code (not padding) after a jump or ret in the window */
	PATCH_NO_ROOM,          /* no stub space free within reach */
	PATCH_NOT_TEXT,         /* a writable or shared mapping, or not a syscall */
	PATCH_REFUSALS
};
const char *patch_refusal_name(enum patch_refusal r);

/* A decoded instruction: its length, and how a copy elsewhere must be
 * changed (relative operands). */
enum x86_kind {
	X86_PLAIN,              /* copied as it is */
	X86_RIPREL,             /* disp32 at disp_off is relative to the next rip */
	X86_JCC,                /* conditional branch to target */
	X86_JMP,                /* jmp to target */
	X86_CALL,               /* call to target */
	X86_RET,                /* ret, ret imm16: copied; nothing falls through */
	X86_JMP_INDIRECT,       /* jmp *r/m (disp_off if RIP-relative): nothing falls through */
	X86_PADDING,            /* nop or int3: fill between functions */
};
struct x86_insn {
	uint8_t len;
	uint8_t kind;
	uint8_t disp_off;       /* X86_RIPREL, X86_JMP_INDIRECT: where the disp32 is, or 0 */
	uint8_t cond;           /* X86_JCC: the condition (low nibble of the opcode) */
	uint64_t target;        /* X86_JCC, X86_JMP, X86_CALL */
};
/* Decodes the instruction at code[0..avail), which runs at rip.  Returns
 * its length, or 0 if it is not one of the (common, unprivileged, non-
 * vector-extension) instructions this decoder knows exactly: the caller
 * then leaves it alone.  padding: also accept int3 (0xcc) as padding. */
int x86_decode(const uint8_t *code, size_t avail, uint64_t rip, int padding,
	       struct x86_insn *out);

/* A site's plan: the instructions borrowed from S+2 on. */
struct patch_plan {
	uint64_t site;          /* S, the syscall's address */
	int ninsn;
	struct x86_insn insn[PATCH_MAX_INSN];
	uint8_t off[PATCH_MAX_INSN];    /* each one's offset from S */
	uint8_t covered;        /* bytes of S.. the patch replaces (>= PATCH_LEN) */
	uint8_t stub_len;       /* the stub's size */
	uint8_t code[PATCH_READ];       /* the original bytes from S */
};
/* Decodes the instructions after the syscall at code[0] (the program's
 * bytes from S, avail of them; prev_byte the one before S, or -1) and
 * plans the stub.  PATCH_OK or why not. */
enum patch_refusal patch_plan(uint64_t site, const uint8_t *code, size_t avail,
			      int prev_byte, struct patch_plan *plan);
/* The lowest stub address a site may use in band b (< PATCH_BANDS, in
 * order of preference); the next 255 are allowed too (the displacement's
 * free low byte).  0 if the band's window would wrap past either end
 * of the address space. */
uint64_t patch_stub_window(uint64_t site, int b);
/* Builds the stub at address stub (inside one of the site's windows)
 * into out[0..plan->stub_len), and the bytes to write at the site into
 * site_bytes.  slot: the address of an 8-byte word holding the entry
 * page's entry_patched, within 2 GiB of the stub.  PATCH_OK, or
 * PATCH_UNDECODED if a relative operand cannot reach from the stub. */
enum patch_refusal patch_emit(const struct patch_plan *plan, uint64_t stub,
			      uint64_t slot, uint8_t *out,
			      uint8_t site_bytes[PATCH_LEN]);
/* Where in the stub at stub the copy of the borrowed instruction that
 * was at address at (S+2 or a later boundary) is; 0 if at is not one. */
uint64_t patch_redirect(const struct patch_plan *plan, uint64_t stub, uint64_t at);
/* The stub's continuation (C above), where a call returns. */
uint64_t patch_continuation(uint64_t stub);
/* The original address of the instruction whose copy is at stub address
 * addr (a fault in a borrowed instruction); 0 if none. */
uint64_t patch_original(const struct patch_plan *plan, uint64_t stub, uint64_t addr);

#endif
