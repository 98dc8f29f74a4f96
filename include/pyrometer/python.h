/*
 * python.h - the one module that knows CPython.
 *
 * py_attach() finds the interpreter in a running process and learns its
 * layout; after that the rest of pyrometer asks only for "the Python stack
 * of thread T" (as raw (code object, instruction) pairs, the seam that both
 * sampling backends feed) and for what a raw frame means (name, file, line).
 * No offset or version test leaves src/python/.
 *
 * Ownership: the runtime owns its caches and its string pool; every string
 * it hands out stays valid until py_detach().
 */
#ifndef PYROMETER_PYTHON_H
#define PYROMETER_PYTHON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct target_mem;
struct strpool;
struct py_runtime;

/*
 * Attach to the CPython in process pid. Reads go through mem; names are
 * interned in pool (both outlive the runtime). On failure returns -errno and
 * writes a one-line reason (no "pyrometer:" prefix) into err:
 *   -ESRCH   the process is not CPython (no _PyRuntime in any mapped file)
 *   -ENOTSUP the version is not supported (err names it)
 *   -EACCES  / -EPERM: its memory or maps may not be read
 *   other    the interpreter's state could not be read
 */
int py_attach(pid_t pid, struct target_mem *mem, struct strpool *pool,
	      struct py_runtime **out, char *err, size_t errcap);
void py_detach(struct py_runtime *rt);

/* "3.11.7" where the interpreter publishes it, else "3.9". */
const char *py_version_string(const struct py_runtime *rt);

/* One frame as sampled: which code object, which instruction. */
struct py_raw_frame {
	uint64_t code;       /* address of the PyCodeObject in the target */
	int32_t instr;       /* instruction index in code units; -1 = not started */
};

/* Deepest Python stack kept per sample; deeper stacks are cut at the root. */
#define PY_MAX_FRAMES 2048

enum py_stack_flags {
	PY_STACK_TRUNCATED = 1 << 0,  /* more than the caller's room */
	PY_STACK_TORN      = 1 << 1,  /* the chain changed under us; frames so far kept */
};

/*
 * Where the Python frames of one stack read were run natively: each C call
 * of the interpreter's eval loop (an "activation") runs one or more
 * consecutive Python frames. Activations are listed innermost first;
 * activation k holds the frames [k ? end[k - 1] : 0, end[k]).
 *
 * How an activation is found in the native stack depends on the version
 * and is private to src/python (py_place_activations); the fields below
 * are the evidence it uses, filled by py_stack_read.
 */
#define PY_MAX_ACTIVATIONS PY_MAX_FRAMES

struct py_activations {
	int n;
	int end[PY_MAX_ACTIVATIONS];
	uint64_t anchor[PY_MAX_ACTIVATIONS]; /* a C-stack address in the activation's
						native frame, 0 = not known yet */
	uint64_t cframe, cframe_root;         /* 3.10/3.11: the chain of C-stack
						 markers, innermost first */
	uint64_t tstate;
	int torn;                             /* the walk stopped on a frame that
						 changed under it (PY_STACK_TORN) */
	/* Input, set by the caller before py_stack_read (0, 0: unknown): a
	 * range known to be the thread's C stack (around the sample's SP).
	 * On 3.12+ every frame there is an eval-loop shim, whatever its
	 * fields say while it is being set up. */
	uint64_t cstack_lo, cstack_hi;
};

/*
 * The Python stack of kernel thread tid, innermost frame first, into
 * frames[0..cap). Returns the number of frames (0: the thread runs no Python
 * code now), or -ENOENT when tid has no Python thread state, or -EFAULT when
 * its state could not be read. *flags gets enum py_stack_flags bits. When
 * acts is not NULL it gets the frames' activations.
 */
int py_stack_read(struct py_runtime *rt, pid_t tid, struct py_raw_frame *frames,
		  int cap, unsigned *flags, struct py_activations *acts);

/*
 * Go on reading thread tid's stack from the frame at address from, after
 * frames[0..n) (and acts, when not NULL) already hold its inner part (read
 * at the sample by the BPF backend). Returns the new number of frames (n
 * when nothing more could be read).
 */
int py_stack_continue(struct py_runtime *rt, pid_t tid, uint64_t from,
		      struct py_raw_frame *frames, int n, int cap, unsigned *flags,
		      struct py_activations *acts);

/*
 * The BPF backend (src/bpf/) walks frames in the kernel with offsets it gets
 * from here, and its records come back here to become raw frames.
 */
struct pystack_layout;
struct pystack_thread;
struct pystack_record;

/* The kernel walker's layout for this interpreter; -ENOTSUP (with a reason
 * in err) when the walker cannot read this version. */
int py_bpf_layout(const struct py_runtime *rt, struct pystack_layout *out, char *err,
		  size_t errcap);

/* Bumped each time the runtime lists its threads again. */
uint64_t py_threads_generation(const struct py_runtime *rt);

/* The threads as the last listing found them, as the kernel walker's entries:
 * tids[i] -> out[i]. Returns how many (<= cap). */
int py_bpf_threads(struct py_runtime *rt, pid_t *tids, struct pystack_thread *out, int cap);

/*
 * A record of the kernel walker (status PYSTACK_OK) as raw frames and
 * activations, the same as py_stack_read would give at the sample; a stack
 * deeper than the walker's reach is completed by a read from user space and
 * *deep set. acts->cstack_lo/hi are the caller's, as for py_stack_read.
 * Returns the number of frames.
 */
int py_stack_from_record(struct py_runtime *rt, const struct pystack_record *rec,
			 struct py_raw_frame *frames, int cap, unsigned *flags,
			 struct py_activations *acts, int *deep);

/* The native side of the same sample, innermost frame first. */
struct py_native_stack {
	int n;
	const uint64_t *sps;     /* frame i owns the stack [sps[i], sps[i + 1]) */
	int complete;            /* the walk reached the outermost frame */
	const uint8_t *stack;    /* the sample's copy of the stack, at sps[0] */
	size_t stack_len;
	/* Per frame: its PC is in the eval loop function by symbol (only
	 * consulted by versions whose activations have no C-stack marker,
	 * <= 3.9); NULL when not known. */
	const unsigned char *is_eval;
};

enum py_place_result {
	PY_PLACE_OK = 0,        /* every activation has its native frame */
	PY_PLACE_PARTIAL = 1,   /* the outer ones lie beyond the unwound stack */
	PY_PLACE_MISMATCH = -1, /* the two stacks disagree */
};

/* How far below a sample's SP the C stack of calls made since the sample
 * may reach: markers there belong to calls newer than the sample. */
#define PY_NEWER_SPAN (1u << 20)

/* place[k] values that are not native frame indexes. */
#define PY_PLACE_NEWER (-1)  /* started after the sample: leave its frames out */
#define PY_PLACE_BEYOND (-2) /* beyond the unwound native stack: its frames go
				at the root, above the native frames */

/*
 * Which native frame each activation of acts ran in: place[k] = native
 * frame index (strictly increasing with k), or one of the PY_PLACE_ values.
 * Fills in anchors that only the native stack can tell (3.10/3.11 read
 * their chain of markers from the sample's stack copy).
 */
enum py_place_result py_place_activations(struct py_runtime *rt, struct py_activations *acts,
					  const struct py_native_stack *nat, int *place);

/* The path (as the target maps it) of the file holding the interpreter:
 * libpython or the python executable itself. */
const char *py_module_path(const struct py_runtime *rt);

/* The eval loop function's name: a native frame whose symbol is this, or
 * this followed by a '.' suffix (GCC's .cold parts), runs Python frames. */
#define PY_EVAL_FUNCTION "_PyEval_EvalFrameDefault"

/* What a raw frame means. Strings are interned in the runtime's pool. */
struct py_frame_info {
	const char *name;    /* qualified name (plain name before 3.11) */
	const char *file;
	int line;            /* -1: no line */
};

/*
 * Decode n raw frames. Code objects are decoded once and cached; cached ones
 * are checked against the target in one batched read. A frame whose code
 * object cannot be read gets name "[unknown code]"; interpreter-internal
 * shim frames are left out. Returns the number of entries written to out
 * (<= n), or -EFAULT when nothing could be checked (the target is gone).
 */
int py_frames_resolve(struct py_runtime *rt, const struct py_raw_frame *frames, int n,
		      struct py_frame_info *out);

/* The same, but one entry per raw frame (n on success): shim frames get
 * name NULL instead of being left out. */
int py_frames_resolve_each(struct py_runtime *rt, const struct py_raw_frame *frames, int n,
			   struct py_frame_info *out);

/* A Python thread, as the interpreter lists it. */
struct py_thread {
	pid_t tid;           /* kernel thread id; 0 when it could not be learnt */
	uint64_t tstate;     /* PyThreadState address */
	int holds_gil;
};

/*
 * List the Python threads of every interpreter into out[0..cap). Returns the
 * number found (may exceed cap), or -errno.
 */
int py_threads(struct py_runtime *rt, struct py_thread *out, int cap);

/* Forget the tid -> thread state map (a thread came or went); rt may be NULL. */
void py_threads_changed(struct py_runtime *rt);

/* Counters for the end-of-run report. */
struct py_stats {
	uint64_t thread_scans;
	uint64_t code_decodes;
	uint64_t code_invalidations;
};
void py_get_stats(const struct py_runtime *rt, struct py_stats *out);

#endif
