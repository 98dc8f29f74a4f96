/*
 * unwind.h - native call stacks from perf samples (x86-64).
 *
 * A sample taken with PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER holds
 * the thread's user registers and a copy of the top bytes of its stack,
 * starting at SP. The unwinder walks that copy with libunwind's remote API:
 *
 *   - stack memory comes from the copy only;
 *   - code and unwind tables come from the module files on disk, found
 *     through the process's module map (modmap.h) and read through the
 *     files' PT_LOAD segments (runtime address -> file offset);
 *   - unwind info is each module's .eh_frame, searched through the binary
 *     search table of its .eh_frame_hdr (PT_GNU_EH_FRAME), and its
 *     .debug_frame: the CFI of code built without unwind tables (-g
 *     -fno-asynchronous-unwind-tables). A module's .debug_frame, else the
 *     one of its separate debug file (SYMTAB_DEBUG_DIRS/.build-id/xx/
 *     yyyy.debug under the root, its build-id checked), is converted once
 *     at load into an in-memory .eh_frame and search table of its own
 *     (zlib-compressed sections are inflated first). For a PC the
 *     .eh_frame_hdr table is searched first and the .debug_frame one only
 *     when the first has no entry, so a binary whose code is mostly in
 *     .eh_frame with a few objects in .debug_frame unwinds through both.
 *     Only 32-bit DWARF CIEs of version 1, 3 or 4 with an empty
 *     augmentation are understood; other entries give no unwind info.
 *
 * CPython's -X perf trampolines (3.12+) are anonymous executable code
 * without CFI whose every copy reads `sub $8,%rsp; call *%rcx; add $8,%rsp;
 * ret`. A caller frame whose PC sits in anonymous memory on exactly the
 * bytes `add $8,%rsp; ret` (read from the target through the reader set
 * with unwinder_set_reader) is stepped by that layout: the return address
 * at SP+8, the caller's SP = SP+16, every other register unchanged.
 *
 * Other frames without CFI (JIT code, a module with neither .eh_frame_hdr
 * nor .debug_frame, the [vdso], which has no file): the unwinder falls
 * back to one frame-pointer step when RBP looks like a frame chain: RBP
 * lies inside the stack copy at or above SP, 8-aligned, the saved RBP it
 * points to is 0 or higher, and the return address at RBP+8 lies in an
 * executable mapping of the module map. The frame after such a step knows
 * only IP, SP and RBP; its callee-saved registers are unknown. Otherwise
 * the walk stops with UNWIND_NO_INFO. libunwind's own guessing for such
 * frames is never used.
 *
 * Everything is untrusted: the registers, the stack copy and the files.
 * Reads are bounds-checked, the walk is capped (UNWIND_MAX_FRAMES steps,
 * and the stack pointer must grow at every step), module tables are capped
 * (UNWIND_MAX_TABLE bytes), and a malformed input ends the walk with a
 * flag, never a crash.
 *
 * Off-by-one rule for callers: pcs[0] is the interrupted instruction, but
 * every later PC is a return address, which points after the call and may
 * already belong to the next function or line (a call to a noreturn
 * function is often the last instruction of its function). Symbolize and
 * attribute pcs[i] with pcs[i] - 1 for every i > 0. libunwind already does
 * so when it looks up the unwind info of caller frames. One exception it
 * cannot know about: the frame right after a frame-pointer step is looked
 * up at its return address itself.
 *
 * Threads: an unwinder and its module map belong to one thread at a time.
 */
#ifndef PYROMETER_UNWIND_H
#define PYROMETER_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include <asm/perf_regs.h>

struct modmap;

/* Registers are indexed as perf's enum perf_event_x86_regs. */
#define UNWIND_NREGS PERF_REG_X86_64_MAX

/* The registers the unwinder reads: ask perf for these
 * (perf_event_attr.sample_regs_user). Others are never consulted. */
#define UNWIND_PERF_REGS_MASK                                                   \
	((1ull << PERF_REG_X86_BX) | (1ull << PERF_REG_X86_BP) |                 \
	 (1ull << PERF_REG_X86_SP) | (1ull << PERF_REG_X86_IP) |                 \
	 (1ull << PERF_REG_X86_R12) | (1ull << PERF_REG_X86_R13) |               \
	 (1ull << PERF_REG_X86_R14) | (1ull << PERF_REG_X86_R15))

#define UNWIND_MAX_FRAMES 1024        /* steps per sample, whatever max says */
#define UNWIND_MAX_TABLE (64u << 20)  /* .eh_frame_hdr, .eh_frame, .debug_frame
					 and the .eh_frame made of it, each */
#define UNWIND_MAX_MODULES 4096       /* distinct module files per unwinder */

/* Why unwind_sample stopped: exactly one of the first five bits is set. */
enum {
	UNWIND_END = 1 << 0,       /* the outermost frame (return address
				      undefined or 0): the stack is complete */
	UNWIND_NO_INFO = 1 << 1,   /* a PC without unwind info (no module, a
				      module without .eh_frame_hdr or
				      .debug_frame, JIT code) and no
				      frame-pointer step possible */
	UNWIND_TRUNCATED = 1 << 2, /* the walk needed stack above the copy */
	UNWIND_MAX = 1 << 3,       /* max PCs (or UNWIND_MAX_FRAMES) reached */
	UNWIND_ERROR = 1 << 4,     /* bad registers, unreadable memory, a
				      stack pointer that did not grow, or
				      another libunwind error */
	UNWIND_STOP_MASK = (1 << 5) - 1,
	/* Informational, with any of the above. */
	UNWIND_FP_USED = 1 << 8,   /* some frame came from a frame-pointer step */
	UNWIND_TRAMPOLINE = 1 << 9, /* some frame was a -X perf trampoline */
};

/* Per-sample outcomes, counted rather than logged (for output metadata). */
struct unwind_stats {
	uint64_t samples, frames;
	uint64_t end, no_info, truncated, max, error; /* by stop reason */
	uint64_t fp_steps, trampoline_steps;
	uint64_t fast_steps;   /* frames stepped with cached reduced rows (cfi.h) */
	uint64_t slow_walks;   /* samples that needed libunwind for some frame */
	uint64_t modules, module_failures; /* module files loaded / unusable */
	uint64_t debug_frame;     /* modules with a table from .debug_frame */
};

struct unwinder;

/*
 * One unwinder per target process; its unwind tables are shared by all the
 * process's threads. NULL on ENOMEM. The unwinder owns its module map and
 * every table; unwinder_free() releases them all (NULL is fine).
 */
struct unwinder *unwinder_new(void);
void unwinder_free(struct unwinder *u);

/*
 * Where module paths are opened: root + path ("/proc/PID/root" for a
 * process in another mount namespace; NULL or "" for none, the default).
 * Set it before the first sample. 0 or -ENOMEM.
 */
int unwinder_set_root(struct unwinder *u, const char *root);

/*
 * The unwinder's module map (owned by u): fill it with modmap_add_maps()
 * at attach and modmap_add() for each PERF_RECORD_MMAP2 with PROT_EXEC.
 * Changing it is safe between samples: the unwinder notices and drops
 * libunwind's cached state.
 */
struct modmap *unwinder_modmap(struct unwinder *u);

const struct unwind_stats *unwinder_stats(const struct unwinder *u);

/*
 * Frames whose unwind rule is simple (CFA = RSP or RBP + offset, registers
 * saved at offsets from it: nearly all compiled code, and PLT stubs) are
 * stepped from rows cached per PC (cfi.h) without libunwind, which locks
 * and allocates for every frame; the first frame that needs more is handed
 * to libunwind with the registers known at that point, and libunwind walks
 * the rest. on = 0 turns the fast path off (tests compare both). Default on.
 */
void unwinder_set_fast(struct unwinder *u, int on);

/*
 * How the unwinder reads the target's own memory (only to recognise -X perf
 * trampolines, whose code lives in no file): read(arg, addr, buf, len)
 * returns 0 when all len bytes were read. Without a reader no trampoline is
 * recognised.
 */
void unwinder_set_reader(struct unwinder *u,
			 int (*read)(void *arg, uint64_t addr, void *buf, size_t len),
			 void *arg);

/*
 * Unwind one sample. regs[i] is register i of enum perf_event_x86_regs,
 * for i < nregs (see unwind_regs_unpack for perf's packed form); stack is
 * the stack copy, stack_len bytes starting at regs[SP].
 *
 * Writes at most max PCs, innermost first, pcs[0] = regs[IP] (see the
 * off-by-one rule above), and returns how many; *flags (may be NULL) gets
 * the stop reason and UNWIND_FP_USED. Without IP and SP in regs: returns 0
 * with UNWIND_ERROR.
 *
 * sps (may be NULL) gets each frame's stack pointer, sps[0] = regs[SP]:
 * frame i owns the stack bytes [sps[i], sps[i + 1]) - its locals, and for
 * the outermost frame written everything above sps[n - 1].
 */
int unwind_sample(struct unwinder *u, const uint64_t *regs, size_t nregs,
		  const uint8_t *stack, size_t stack_len, uint64_t *pcs, uint64_t *sps,
		  int max, unsigned *flags);

/*
 * perf's sample form -> the indexed form: packed holds one value per bit
 * of mask (sample_regs_user), lowest bit first, as PERF_SAMPLE_REGS_USER
 * writes them. regs (UNWIND_NREGS entries) gets them by index, 0 for
 * registers not in mask. 0, or -EINVAL when npacked is smaller than the
 * number of bits of mask below UNWIND_NREGS.
 */
int unwind_regs_unpack(uint64_t mask, const uint64_t *packed, size_t npacked,
		       uint64_t *regs);

#endif
