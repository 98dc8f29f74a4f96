/*
 * pystack_abi.h - what the kernel-side stack walker (pystack.bpf.c) and
 * pyrometer share: the per-process layout, the per-thread entry and the
 * record written at each sample. Included by both sides, so only fixed-width
 * types and no pointers; the user-space side includes it through
 * <linux/types.h>.
 */
#ifndef PYROMETER_PYSTACK_ABI_H
#define PYROMETER_PYSTACK_ABI_H

/* Python frames walked in the kernel per sample; deeper stacks are
 * completed from user space (the record's `next` says where). */
#define PYSTACK_MAX_FRAMES 160
/* Bytes of each frame read in one go (the fields used sit in the first 128
 * of every version's frame; a shorter frame gets fewer). */
#define PYSTACK_FRAME_READ 128
#define PYSTACK_MAX_PROCS 64
#define PYSTACK_MAX_THREADS 16384

/* How the innermost frame is reached from the thread state. */
enum pystack_top {
	PYSTACK_TOP_FRAME = 1,    /* tstate->frame (<= 3.10) */
	PYSTACK_TOP_CFRAME = 2,   /* tstate->cframe->current_frame (3.11, 3.12) */
	PYSTACK_TOP_CURRENT = 3,  /* tstate->current_frame (3.13+) */
};

/* One process's offsets (bytes; -1: no such field). Key: its pid. */
struct pystack_layout {
	__u32 top;                /* enum pystack_top */
	__s32 ts_top;             /* the field the top is reached through */
	__s32 ts_cframe;          /* tstate->cframe, reported with the sample (3.10-3.12) */
	__s32 cf_current_frame;
	__s32 cf_previous;
	__s32 ts_owner;           /* the field that names the thread (see owner_is_tid) */
	__u32 owner_is_tid;       /* 1: ts_owner holds the kernel tid; 0: a pthread_t */
	__s32 fr_back;
	__s32 fr_code;
	__s32 fr_instr;           /* f_lasti (<= 3.10) or the instruction pointer */
	__s32 fr_owner;           /* -1 before 3.11 */
	__s32 fr_is_entry;        /* 3.11 only */
	__u32 fr_read;            /* bytes read per frame, <= PYSTACK_FRAME_READ */
	__s32 ob_type;
	__u64 code_mask;          /* 3.14+ tag the code reference's low bits */
	__u64 code_type;          /* &PyCode_Type; 0: not checked */
};

/* One thread, filled by user space from the interpreter's thread list. */
struct pystack_thread {
	__u64 tstate;
	__u64 owner;              /* what ts_owner must hold: tid or pthread_t */
};

enum pystack_status {
	PYSTACK_OK = 0,           /* frames[0..nframes) as they were at the sample */
	PYSTACK_NO_PROC = 1,      /* the process has no layout (not Python, not yet) */
	PYSTACK_NO_THREAD = 2,    /* the thread is not in the map */
	PYSTACK_STALE_THREAD = 3, /* the map's thread state belongs to another thread now */
	PYSTACK_READ_FAILED = 4,  /* the thread state could not be read */
	PYSTACK_TOP_INVALID = 5,  /* the innermost frame was half made (eval-loop entry) */
};

struct pystack_frame {
	__u64 addr;               /* the frame's address */
	__u64 code;               /* its code object (tag bits cleared) */
	__u64 instr;              /* f_lasti (low 32 bits) or the instruction pointer */
	__u8 owner;               /* 3.11+: who owns the frame */
	__u8 is_entry;            /* 3.11: the activation's first frame */
	__u8 pad[6];
};

struct pystack_record {
	__u32 pid, tid;
	__u64 time;               /* bpf_ktime_get_ns(), CLOCK_MONOTONIC */
	__u64 count;              /* the sampling event's count at the sample */
	__u64 tstate;
	__u64 cframe;             /* tstate->cframe at the sample (3.10 - 3.12), else 0 */
	__u64 next;               /* the frame beyond the last one walked, 0 = none */
	__u32 status;             /* enum pystack_status */
	__u32 nframes;
	__u32 before;             /* 1: written before the event was counted (uprobes,
				     tracepoints: no count; time before the sample's) */
	__u32 pad;
	struct pystack_frame frames[PYSTACK_MAX_FRAMES];
};

#endif
