/* internal.h - what the files of src/python/ share; nothing else includes it. */
#ifndef PYROMETER_PYTHON_INTERNAL_H
#define PYROMETER_PYTHON_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "pyrometer/linetable.h"
#include "pyrometer/pylayout.h"
#include "pyrometer/python.h"

/* Fields of bytes copied out of the target, at any alignment. */
static inline uint64_t u64_at(const uint8_t *b, int32_t off)
{
	uint64_t v;
	memcpy(&v, b + off, sizeof(v));
	return v;
}

static inline int32_t i32_at(const uint8_t *b, int32_t off)
{
	int32_t v;
	memcpy(&v, b + off, sizeof(v));
	return v;
}

static inline int py_at_least(const struct py_layout *L, int major, int minor)
{
	return L->major > major || (L->major == major && L->minor >= minor);
}

/* A decoded code object. Key: its address; checked by the words in `check`. */
struct py_code {
	uint64_t addr;               /* 0 = empty slot */
	uint64_t check[4];           /* filename, name/qualname, linetable pointers, firstlineno */
	const char *name, *file;     /* interned */
	int firstlineno;
	int firsttraceable;          /* code units; 0 when unknown */
	uint8_t *table;              /* copy of the line table */
	uint32_t table_len;
	int32_t last_idx, last_line; /* one-entry memo of the last lookup */
	uint64_t checked_seq;        /* the stack read that last confirmed it */
};

/*
 * What the last stack read of a thread touched. The next read of the same
 * thread asks for all of it in the same system call as the thread state;
 * whatever still matches is used as read, fresh, and only what changed costs
 * another call. Nothing here is trusted: each piece is used only where the
 * address the walk arrives at equals the address that was read.
 */
#define SPEC_CODES 16
#define SPEC_FRAMES 16

struct py_spec {
	pid_t tid;                   /* 0 = empty */
	uint64_t cframe;             /* 3.11/3.12: last tstate->cframe */
	uint64_t win_lo, win_hi;     /* 3.11+: last data-stack window */
	uint64_t frames[SPEC_FRAMES];/* <= 3.10: last frame objects, innermost first */
	int nframes;
	uint64_t codes[SPEC_CODES];  /* code objects of the last stack */
	int ncodes;
};

struct py_tmap_entry {
	pid_t tid;                   /* 0 = empty */
	uint64_t tstate;
	uint64_t pthread;            /* thread_id, to check the entry on <= 3.10 */
};

struct py_runtime {
	pid_t pid;
	struct target_mem *mem;
	struct strpool *pool;
	struct py_layout L;
	enum py_linetable_format ltfmt;
	char version[32];

	char module_path[4096];      /* the file holding _PyRuntime, as mapped */
	uint64_t runtime_addr;       /* &_PyRuntime */
	uint64_t code_type;          /* &PyCode_Type, 0 when unknown */
	uint64_t shim_code;          /* 3.12+: the code of eval-loop shim frames, once seen */
	int pthread_tid_off;         /* <= 3.10: where struct pthread keeps the tid */

	/* tid -> thread state, open addressing, rebuilt on demand */
	struct py_tmap_entry *tmap;
	size_t tmap_cap;
	int tmap_valid;
	uint64_t tmap_refreshed_ns;
	uint64_t tmap_generation;    /* listings so far */

	/* speculation per thread, open addressing on tid */
	struct py_spec *spec;
	size_t spec_cap, spec_count;
	uint64_t seq;                /* stack reads so far */
	uint64_t seq_ns;             /* CLOCK_MONOTONIC when a record last began one */

	/* code cache, open addressing on the address */
	struct py_code *codes;
	size_t codes_cap, codes_count;

	struct py_stats stats;
};

/* stack.c: the rules a frame walk follows, whoever read the frames */

/* Close the activation that ends after frame n, anchored at anchor (0: not
 * known); an empty one is dropped. a may be NULL. */
void py_acts_end(struct py_activations *a, int n, uint64_t anchor);
/* The instruction index (code units, -1: not started) of an f_lasti
 * (<= 3.10) or of an instruction pointer into code's bytecode (3.11+). */
int32_t py_lasti_index(const struct py_layout *L, int32_t lasti);
int32_t py_instr_index(const struct py_layout *L, uint64_t code, uint64_t instr);

/* What a 3.11+ frame at addr is, by its owner byte and code reference. */
enum py_fclass {
	PYF_CODE,        /* a Python frame */
	PYF_SHIM,        /* 3.12+: the shim starting an eval-loop call */
	PYF_HALF_MADE,   /* on the C stack but no shim yet: being set up */
	PYF_BAD,         /* no frame: the chain went astray */
};
/* Learns the shims' code object (rt->shim_code) on the way. acts may be
 * NULL; its cstack_lo/hi bound the thread's C stack. */
enum py_fclass py_frame_class(struct py_runtime *rt, const struct py_activations *acts,
			      uint64_t addr, int owner, uint64_t code);

/* runtime.c */
int py_tmap_lookup(struct py_runtime *rt, pid_t tid, struct py_tmap_entry *out);
void py_tmap_refresh(struct py_runtime *rt);

/* code.c */
void py_codes_release(struct py_runtime *rt);
/* Where the words that confirm a cached code object sit: [*off, *off+*len). */
void py_code_check_span(const struct py_layout *L, int32_t *off, int32_t *len);
/* Words read at addr+off (len bytes) in stack read rt->seq: confirm or drop
 * the cached entry for addr. */
void py_code_checked(struct py_runtime *rt, uint64_t addr, const uint8_t *words);

#endif
