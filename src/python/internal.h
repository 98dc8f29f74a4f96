/* internal.h - what the files of src/python/ share; nothing else includes it. */
#ifndef PYROMETER_PYTHON_INTERNAL_H
#define PYROMETER_PYTHON_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "pyrometer/linetable.h"
#include "pyrometer/pylayout.h"
#include "pyrometer/python.h"

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

	uint64_t runtime_addr;       /* &_PyRuntime */
	uint64_t code_type;          /* &PyCode_Type, 0 when unknown */
	int pthread_tid_off;         /* <= 3.10: where struct pthread keeps the tid */

	/* tid -> thread state, open addressing, rebuilt on demand */
	struct py_tmap_entry *tmap;
	size_t tmap_cap;
	int tmap_valid;
	uint64_t tmap_refreshed_ns;

	/* code cache, open addressing on the address */
	struct py_code *codes;
	size_t codes_cap, codes_count;

	struct py_stats stats;
};

/* runtime.c */
int py_tmap_lookup(struct py_runtime *rt, pid_t tid, struct py_tmap_entry *out);
void py_tmap_refresh(struct py_runtime *rt);

/* code.c */
void py_codes_release(struct py_runtime *rt);

#endif
