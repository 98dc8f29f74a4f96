/*
 * bpf.c - the Python side of the BPF backend: the offsets the kernel walker
 * needs, the thread entries it looks up, and its records turned back into
 * raw frames by the same rules stack.c applies to a read from user space.
 */
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"
#include "../bpf/pystack_abi.h"

static int32_t max32(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

int py_bpf_layout(const struct py_runtime *rt, struct pystack_layout *out, char *err,
		  size_t errcap)
{
	const struct py_layout *L = &rt->L;
	struct pystack_layout o = { 0 };

	if (L->ts_frame >= 0) {
		o.top = PYSTACK_TOP_FRAME;
		o.ts_top = L->ts_frame;
		o.fr_instr = L->fr_lasti;
	} else if (L->ts_cframe >= 0 && L->cf_current_frame >= 0 && L->cf_previous >= 0) {
		o.top = PYSTACK_TOP_CFRAME;
		o.ts_top = L->ts_cframe;
		o.fr_instr = L->fr_instr;
		o.code_type = rt->code_type;
	} else {
		o.top = PYSTACK_TOP_CURRENT;
		o.ts_top = L->ts_current_frame;
		o.fr_instr = L->fr_instr;
	}
	o.ts_cframe = L->ts_cframe;
	o.cf_current_frame = L->cf_current_frame;
	o.cf_previous = L->cf_previous;
	o.owner_is_tid = L->ts_native_thread_id >= 0;
	o.ts_owner = o.owner_is_tid ? L->ts_native_thread_id : L->ts_thread_id;
	o.fr_back = L->fr_back;
	o.fr_code = L->fr_code;
	o.fr_owner = L->fr_owner;
	o.fr_is_entry = L->fr_is_entry;
	o.ob_type = L->ob_type;
	o.code_mask = py_at_least(L, 3, 14) ? ~(uint64_t)3 : ~(uint64_t)0;

	int32_t need = max32(max32(o.fr_back, o.fr_code), o.fr_instr) + 8;
	need = max32(need, max32(o.fr_owner, o.fr_is_entry) + 1);
	if (o.ts_top < 0 || o.ts_owner < 0 || o.fr_back < 0 || o.fr_code < 0 ||
	    o.fr_instr < 0 || need > PYSTACK_FRAME_READ || (o.top == PYSTACK_TOP_CFRAME &&
							    o.ob_type < 0)) {
		snprintf(err, errcap, "Python %s keeps its frames where the kernel walker "
			 "does not look", rt->version);
		return -ENOTSUP;
	}
	o.fr_read = (uint32_t)(L->fr_size > 0 && L->fr_size < need ? L->fr_size : need);
	*out = o;
	return 0;
}

uint64_t py_threads_generation(const struct py_runtime *rt)
{
	return rt->tmap_generation;
}

int py_bpf_threads(struct py_runtime *rt, pid_t *tids, struct pystack_thread *out, int cap)
{
	const struct py_layout *L = &rt->L;
	int n = 0;

	if (!rt->tmap_valid)
		py_tmap_refresh(rt);
	for (size_t i = 0; i < rt->tmap_cap && n < cap; i++) {
		const struct py_tmap_entry *e = &rt->tmap[i];
		if (!e->tid)
			continue;
		tids[n] = e->tid;
		out[n].tstate = e->tstate;
		out[n].owner = L->ts_native_thread_id >= 0 ? (uint64_t)(uint32_t)e->tid : e->pthread;
		n++;
	}
	return n;
}

int py_stack_from_record(struct py_runtime *rt, const struct pystack_record *rec,
			 struct py_raw_frame *frames, int cap, unsigned *flags,
			 struct py_activations *acts, int *deep)
{
	const struct py_layout *L = &rt->L;
	int n = 0, proper_end = 1;   /* as in stack.c's walk */
	int nrec = rec->nframes <= PYSTACK_MAX_FRAMES ? (int)rec->nframes : PYSTACK_MAX_FRAMES;

	*flags = 0;
	*deep = 0;
	/* The record's code objects were alive at its sample, but a cached
	 * decode of one of those addresses may be of an object freed before
	 * then (CPython reuses freed blocks at once). Cached names are trusted
	 * when confirmed after the sample, as for a stack read from user space:
	 * a record newer than the last confirmation round starts a new one, so
	 * a batch of records costs one round, not one per record. */
	if (rec->time >= rt->seq_ns) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		rt->seq++;
		rt->seq_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	}
	if (acts) {
		acts->n = 0;
		acts->torn = 0;
		acts->tstate = rec->tstate;
		acts->cframe = rec->cframe;
		acts->cframe_root = L->ts_root_cframe >= 0
			? rec->tstate + (uint64_t)L->ts_root_cframe : 0;
	}
	for (int i = 0; i < nrec; i++) {
		const struct pystack_frame *f = &rec->frames[i];
		if (n >= cap) {
			*flags |= PY_STACK_TRUNCATED;
			break;
		}
		if (L->ts_frame >= 0) {
			/* <= 3.10: one eval-loop call per frame */
			frames[n++] = (struct py_raw_frame){
				f->code, py_lasti_index(L, (int32_t)(uint32_t)f->instr) };
			py_acts_end(acts, n, 0);
			continue;
		}
		enum py_fclass fc = py_frame_class(rt, acts, f->addr, f->owner, f->code);
		if (fc == PYF_SHIM) {
			py_acts_end(acts, n, f->addr);
			proper_end = 1;
			continue;
		}
		if (fc != PYF_CODE) {
			*flags |= PY_STACK_TORN;
			break;
		}
		frames[n++] = (struct py_raw_frame){ f->code, py_instr_index(L, f->code, f->instr) };
		proper_end = L->fr_is_entry >= 0 && f->is_entry;
		if (proper_end)
			py_acts_end(acts, n, 0);
	}
	if (!(*flags & (PY_STACK_TORN | PY_STACK_TRUNCATED)) && rec->next && n < cap) {
		/* Deeper than the kernel walks: the rest from user space. */
		*deep = 1;
		n = py_stack_continue(rt, (pid_t)rec->tid, rec->next, frames, n, cap, flags, acts);
	} else {
		if (!rec->next && !proper_end && !(*flags & PY_STACK_TRUNCATED))
			*flags |= PY_STACK_TORN;
		py_acts_end(acts, n, 0);
	}
	if (acts)
		acts->torn = (*flags & PY_STACK_TORN) != 0;
	return n;
}
