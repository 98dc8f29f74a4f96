/*
 * mixed.h - one sample's stack as the program ran it: Python frames in place
 * of the eval-loop calls that ran them, native frames around them.
 *
 * Shared by record (which aggregates the frames) and dump (which prints
 * them). The builder owns the unwinder and the symbol cache of one target;
 * strings it hands out are interned in the caller's pool (or the Python
 * runtime's) and live as long as it.
 */
#ifndef PYROMETER_CLI_MIXED_H
#define PYROMETER_CLI_MIXED_H

#include <stdint.h>
#include <sys/types.h>

#include "pyrometer/cli.h"
#include "pyrometer/native.h"
#include "pyrometer/python.h"
#include "pyrometer/sample.h"
#include "pyrometer/unwind.h"

struct strpool;
struct target_mem;

#define MIXED_MAX_NATIVE 512   /* native frames kept per sample */

struct mixed_frame {
	const char *name, *file;
	int line;
	int kind;                /* enum prof_kind */
};

struct mixed {
	pid_t pid;
	struct py_runtime *rt;   /* NULL: not a Python process */
	enum cli_native native;
	struct unwinder *uw;     /* NULL with --native none */
	struct native_syms *syms;
	struct strpool *pool;
	const char *s_unknown, *s_no_python, *s_truncated, *s_mismatch, *s_empty;

	/* Scratch for the producer: the sample's native stack. */
	uint64_t pcs[MIXED_MAX_NATIVE], sps[MIXED_MAX_NATIVE];
	struct py_activations acts;
	struct py_raw_frame raw[PY_MAX_FRAMES];

	/* Scratch for the consumer. */
	struct py_frame_info info[PY_MAX_FRAMES];
	struct native_sym nsym[MIXED_MAX_NATIVE];
	unsigned char is_eval[MIXED_MAX_NATIVE];
	int place[PY_MAX_ACTIVATIONS];

	/* The last built stack, innermost frame first. */
	struct mixed_frame out[PY_MAX_FRAMES + MIXED_MAX_NATIVE + 4];
	int nout;

	int bpf;                 /* most Python stacks come from the BPF backend:
				    the delays are of the others only */

	/* Counts. */
	uint64_t native_samples, unwind_failures, truncated, mismatches;
	/* How long after its sample each Python stack was read: counts by
	 * power-of-two microseconds (bucket b: [2^(b-1), 2^b) us). */
	uint64_t delay[32];
};

/*
 * Set up for process pid (rt may be NULL); with native != NATIVE_NONE the
 * module map is read from /proc/PID/maps. 0 or -errno.
 */
int mixed_init(struct mixed *m, pid_t pid, struct py_runtime *rt, struct target_mem *mem,
	       struct strpool *pool, enum cli_native native);
void mixed_release(struct mixed *m);

/* The Python runtime found after mixed_init (a launched command). 0 or
 * -ENOMEM. */
int mixed_set_runtime(struct mixed *m, struct py_runtime *rt);

/* Unwind a sample into rs (native part): regs[UNWIND_NREGS] as
 * unwind_regs_unpack gives them, stack is stack_len bytes at SP. */
void mixed_unwind(struct mixed *m, const uint64_t *regs, const uint8_t *stack,
		  size_t stack_len, struct raw_sample *rs);

/* Read thread tid's Python stack into rs (Python part). sp, stack_len: the
 * sample's stack pointer and the size of its stack copy (0, 0: none). */
void mixed_read_python(struct mixed *m, pid_t tid, uint64_t sp, size_t stack_len,
		       struct raw_sample *rs);

/* The same from a record of the BPF backend (status PYSTACK_OK), read at
 * the sample itself. Returns 1 when the stack was deeper than the kernel
 * walks and its outer part was read from user space, else 0. */
struct pystack_record;
int mixed_python_from_record(struct mixed *m, const struct pystack_record *rec, uint64_t sp,
			     size_t stack_len, struct raw_sample *rs);

enum mixed_status {
	MIXED_PYTHON = 0,        /* Python frames were found */
	MIXED_NO_PYTHON,         /* the thread ran no Python code */
	MIXED_UNREADABLE,        /* its Python stack could not be read */
};

/* Build m->out from a raw sample. */
enum mixed_status mixed_build(struct mixed *m, const struct raw_sample *rs);

/* Count a Python stack read delay_ns after its sample. */
void mixed_note_delay(struct mixed *m, uint64_t delay_ns);

/* The "native stacks: ..." summary line (no newline), into buf. */
void mixed_stats_line(const struct mixed *m, unsigned stack_size, char *buf, size_t cap);

#endif
