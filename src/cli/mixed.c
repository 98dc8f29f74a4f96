/*
 * mixed.c - merging a sample's Python and native stacks (see mixed.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mixed.h"
#include "pyrometer/modmap.h"
#include "pyrometer/profile.h"
#include "pyrometer/strpool.h"
#include "pyrometer/target.h"

static const char *intern(struct strpool *pool, const char *s)
{
	const char *r = strpool_intern(pool, s, strlen(s));
	return r ? r : "";
}

static int read_target(void *arg, uint64_t addr, void *buf, size_t len)
{
	return target_read(arg, addr, buf, len);
}

/* The symbolizer knows which module is the interpreter (its frames are
 * hidden in auto mode) and its eval function. */
static struct native_syms *new_syms(const struct mixed *m, const char *root)
{
	char exe[4096] = "";
	if (m->rt) {
		char link[64];
		snprintf(link, sizeof(link), "/proc/%d/exe", (int)m->pid);
		ssize_t n = readlink(link, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
	}
	return native_syms_new(m->pool, root, m->rt ? py_module_path(m->rt) : NULL, exe,
			       m->rt ? PY_EVAL_FUNCTION : NULL);
}

int mixed_set_runtime(struct mixed *m, struct py_runtime *rt)
{
	m->rt = rt;
	if (m->native == NATIVE_NONE)
		return 0;
	char root[64];
	snprintf(root, sizeof(root), "/proc/%d/root", (int)m->pid);
	struct native_syms *syms = new_syms(m, root);
	if (!syms)
		return -ENOMEM;
	native_syms_free(m->syms);
	m->syms = syms;
	return 0;
}

int mixed_init(struct mixed *m, pid_t pid, struct py_runtime *rt, struct target_mem *mem,
	       struct strpool *pool, enum cli_native native)
{
	char root[64];
	struct target_maps maps;

	memset(m, 0, sizeof(*m));
	m->pid = pid;
	m->rt = rt;
	m->native = native;
	m->pool = pool;
	m->s_unknown = intern(pool, "[unknown]");
	m->s_no_python = intern(pool, "[no Python frames]");
	m->s_truncated = intern(pool, "[truncated]");
	m->s_mismatch = intern(pool, "[python-mismatch]");
	m->s_empty = intern(pool, "");
	if (native == NATIVE_NONE)
		return 0;

	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	m->uw = unwinder_new();
	if (!m->uw || unwinder_set_root(m->uw, root) < 0)
		return -ENOMEM;
	unwinder_set_reader(m->uw, read_target, mem);
	m->syms = new_syms(m, root);
	if (!m->syms)
		return -ENOMEM;
	int e = target_maps_read(pid, &maps);
	if (e < 0)
		return e;
	e = modmap_add_maps(unwinder_modmap(m->uw), &maps);
	target_maps_release(&maps);
	return e < 0 ? e : 0;
}

void mixed_release(struct mixed *m)
{
	native_syms_free(m->syms);
	unwinder_free(m->uw);
	m->syms = NULL;
	m->uw = NULL;
}

void mixed_unwind(struct mixed *m, const uint64_t *regs, const uint8_t *stack,
		  size_t stack_len, struct raw_sample *rs)
{
	if (!m->uw)
		return;
	rs->nnative = unwind_sample(m->uw, regs, UNWIND_NREGS, stack, stack ? stack_len : 0,
				   m->pcs, m->sps, MIXED_MAX_NATIVE, &rs->unwind_flags);
	rs->native_pcs = m->pcs;
	rs->native_sps = m->sps;
	rs->stack = stack;
	rs->stack_len = stack ? stack_len : 0;
}

/* The activations to fill for a sample (NULL without native frames), with
 * the C stack the sample's SP bounds. */
static struct py_activations *sample_acts(struct mixed *m, uint64_t sp, size_t stack_len)
{
	struct py_activations *acts = m->uw ? &m->acts : NULL;
	if (acts) {
		acts->cstack_lo = sp > PY_NEWER_SPAN ? sp - PY_NEWER_SPAN : 0;
		acts->cstack_hi = sp ? sp + stack_len : 0;
	}
	return acts;
}

void mixed_read_python(struct mixed *m, pid_t tid, uint64_t sp, size_t stack_len,
		       struct raw_sample *rs)
{
	rs->frames = m->raw;
	if (!m->rt) {
		rs->py_status = RAW_PY_NO_THREAD;
		return;
	}
	struct py_activations *acts = sample_acts(m, sp, stack_len);
	int got = py_stack_read(m->rt, tid, m->raw, PY_MAX_FRAMES, &rs->py_flags, acts);
	if (got >= 0)
		rs->nframes = got;
	else
		rs->py_status = got == -ENOENT ? RAW_PY_NO_THREAD : RAW_PY_UNREADABLE;
	rs->acts = acts;
}

int mixed_python_from_record(struct mixed *m, const struct pystack_record *rec, uint64_t sp,
			     size_t stack_len, struct raw_sample *rs)
{
	rs->frames = m->raw;
	struct py_activations *acts = sample_acts(m, sp, stack_len);
	int deep = 0;
	rs->nframes = py_stack_from_record(m->rt, rec, m->raw, PY_MAX_FRAMES, &rs->py_flags,
					   acts, &deep);
	rs->py_status = RAW_PY_OK;
	rs->acts = acts;
	return deep;
}

static void put(struct mixed *m, const char *name, const char *file, int line, int kind)
{
	if (m->nout < (int)(sizeof(m->out) / sizeof(m->out[0])))
		m->out[m->nout++] = (struct mixed_frame){ name, file, line, kind };
}

static void put_native(struct mixed *m, int i)
{
	put(m, m->nsym[i].name, m->nsym[i].module, 0, PROF_NATIVE);
}

/* Python frames [from, to) of info[], innermost first; shims are skipped. */
static void put_python(struct mixed *m, int from, int to)
{
	for (int k = from; k < to; k++)
		if (m->info[k].name)
			put(m, m->info[k].name, m->info[k].file, m->info[k].line, PROF_PYTHON);
}

/* Is native frame i shown? auto hides the interpreter's own frames, the
 * anonymous trampolines between them (-X perf), and in a Python process the
 * C library's start-up functions and every frame outside the outermost
 * Python frame (index outer). */
static int native_shown(const struct mixed *m, int i, int n, int outer)
{
	unsigned f = m->nsym[i].flags;
	if (m->native == NATIVE_ALL)
		return 1;
	if ((f & NATIVE_INTERP) || ((f & NATIVE_STARTUP) && m->rt))
		return 0;
	if (outer >= 0 && i > outer)
		return 0;
	if ((f & NATIVE_ANON) && i > 0 && i + 1 < n && (m->nsym[i - 1].flags & NATIVE_INTERP) &&
	    (m->nsym[i + 1].flags & NATIVE_INTERP))
		return 0;
	return 1;
}

/* Where the start-up region begins: past the outermost frame of the
 * interpreter that is not start-up code itself (main, Py_BytesMain). */
static int startup_boundary(const struct mixed *m, int n)
{
	int outer = -1;
	for (int i = 0; i < n; i++)
		if ((m->nsym[i].flags & (NATIVE_INTERP | NATIVE_STARTUP)) == NATIVE_INTERP)
			outer = i;
	return outer;
}

/* The shown native frames alone (start-up ones hidden), for a stack whose
 * Python part cannot be placed in it; replaces what was built. */
static void put_native_apart(struct mixed *m, int n)
{
	int outer = startup_boundary(m, n);

	m->nout = 0;
	for (int i = 0; i < n; i++)
		if (native_shown(m, i, n, outer))
			put_native(m, i);
}

/*
 * Merge the resolved Python frames (info[0..got), innermost first) with the
 * native stack of rs: each activation's frames take the place of its native
 * frame, activations newer than the sample are left out, and those beyond a
 * cut native stack go rootward of it. Returns 0, or -1 on a mismatch
 * (nothing is put; the caller writes both stacks apart).
 */
static int merge(struct mixed *m, const struct raw_sample *rs, int got)
{
	int n = rs->nnative;
	const struct py_activations *a = rs->acts;
	int nact = got > 0 && a ? a->n : 0;

	/* One info[] per raw frame: activation ends index info[] too. */
	if (nact && a->end[nact - 1] != got)
		return -1;
	if (nact) {
		struct py_native_stack ns = {
			.n = n, .sps = rs->native_sps,
			.complete = (rs->unwind_flags & UNWIND_STOP_MASK) == UNWIND_END,
			.stack = rs->stack, .stack_len = rs->stack_len, .is_eval = m->is_eval,
		};
		if (py_place_activations(m->rt, &m->acts, &ns, m->place) == PY_PLACE_MISMATCH)
			return -1;
	}
	int outer = -1;
	for (int k = 0; k < nact; k++)
		if (m->place[k] >= 0)
			outer = m->place[k];
	/* A torn walk lost the outer Python frames, or every frame read
	 * started after the sample: keep the native frames that ran them,
	 * under an [unknown] root. */
	int emitted = 0;
	for (int k = 0; k < nact; k++)
		emitted += m->place[k] != PY_PLACE_NEWER;
	int torn = nact && (a->torn || !emitted);
	if (torn)
		outer = startup_boundary(m, n);

	int k = 0;
	while (k < nact && m->place[k] == PY_PLACE_NEWER)
		k++;
	for (int i = 0; i < n; i++) {
		if (k < nact && m->place[k] == i) {
			put_python(m, k ? a->end[k - 1] : 0, a->end[k]);
			if (m->native == NATIVE_ALL)
				put_native(m, i);
			k++;
			continue;
		}
		if (native_shown(m, i, n, outer))
			put_native(m, i);
	}
	for (; k < nact; k++)
		put_python(m, k ? a->end[k - 1] : 0, a->end[k]);
	if (torn)
		put(m, m->s_unknown, m->s_empty, 0, PROF_PSEUDO);
	return 0;
}

enum mixed_status mixed_build(struct mixed *m, const struct raw_sample *rs)
{
	enum mixed_status st = MIXED_PYTHON;

	m->nout = 0;
	int got = rs->py_status == RAW_PY_OK ? rs->nframes : -1;
	if (got > 0)
		got = py_frames_resolve_each(m->rt, rs->frames, got, m->info);
	if (rs->py_status == RAW_PY_UNREADABLE || got == -EFAULT)
		st = MIXED_UNREADABLE;
	else if (got <= 0)
		st = MIXED_NO_PYTHON;

	int n = rs->nnative;
	if (n > 0) {
		m->native_samples++;
		unsigned stop = rs->unwind_flags & UNWIND_STOP_MASK;
		if (stop == UNWIND_TRUNCATED)
			m->truncated++;
		else if (stop == UNWIND_NO_INFO || stop == UNWIND_ERROR)
			m->unwind_failures++;
		for (int i = 0; i < n; i++) {
			native_syms_get(m->syms, unwinder_modmap(m->uw),
					i ? rs->native_pcs[i] - 1 : rs->native_pcs[i], &m->nsym[i]);
			m->is_eval[i] = (m->nsym[i].flags & NATIVE_EVAL) != 0;
		}
		if (merge(m, rs, got > 0 ? got : 0) < 0) {
			/* Both stacks, apart: Python above the marker, native below. */
			/* Both stacks, apart, under a [python-mismatch] root
			 * (the Python part may lack its outer frames): the Python
			 * frames, then the native frames but start-up ones. */
			m->mismatches++;
			put_native_apart(m, n);
			put_python(m, 0, got);
			put(m, m->s_mismatch, m->s_empty, 0, PROF_PSEUDO);
		}
		if (st == MIXED_UNREADABLE && m->rt) {
			/* The native stack under an [unknown] Python part, start-up
			 * frames hidden as for a mismatch. */
			put_native_apart(m, n);
			put(m, m->s_unknown, m->s_empty, 0, PROF_PSEUDO);
		}
		/* A thread of a Python process without Python frames: its
		 * native frames under a [no Python frames] root. */
		if (m->nout == 0 || (st == MIXED_NO_PYTHON && m->rt))
			put(m, st == MIXED_UNREADABLE ? m->s_unknown : m->s_no_python, m->s_empty, 0,
			    PROF_PSEUDO);
	} else if (st == MIXED_UNREADABLE) {
		put(m, m->s_unknown, m->s_empty, 0, PROF_PSEUDO);
	} else if (st == MIXED_NO_PYTHON) {
		put(m, m->s_no_python, m->s_empty, 0, PROF_PSEUDO);
	} else {
		put_python(m, 0, got);
	}
	if (got > 0 && (rs->py_flags & PY_STACK_TRUNCATED))
		put(m, m->s_truncated, m->s_empty, 0, PROF_PSEUDO);
	return st;
}

void mixed_note_delay(struct mixed *m, uint64_t delay_ns)
{
	uint64_t us = delay_ns / 1000;
	int b = 0;
	while (us && b < 31) {
		us >>= 1;
		b++;
	}
	m->delay[b]++;
}

/* The upper bound in microseconds of the bucket holding quantile q. */
static uint64_t delay_quantile(const struct mixed *m, double q)
{
	uint64_t total = 0, seen = 0;
	for (int b = 0; b < 32; b++)
		total += m->delay[b];
	for (int b = 0; b < 32; b++) {
		seen += m->delay[b];
		if (total && (double)seen >= q * (double)total)
			return (uint64_t)1 << b;
	}
	return 0;
}

void mixed_stats_line(const struct mixed *m, unsigned stack_size, char *buf, size_t cap)
{
	const struct unwind_stats *us = m->uw ? unwinder_stats(m->uw) : NULL;
	int n = snprintf(buf, cap, "native stacks: %llu unwind failures, %llu truncated (stack "
			 "copy %u bytes, see --stack-size), %llu Python/native mismatches, %llu "
			 "modules", (unsigned long long)m->unwind_failures,
			 (unsigned long long)m->truncated, stack_size,
			 (unsigned long long)m->mismatches,
			 (unsigned long long)(us ? us->modules : 0));
	if (m->rt && n > 0 && (size_t)n < cap && delay_quantile(m, 1.0))
		snprintf(buf + n, cap - (size_t)n, "; %s within %llu us of "
			 "their samples (median), %llu us (90%%)",
			 m->bpf ? "the Python stacks read from user space were read"
				: "Python stacks read",
			 (unsigned long long)delay_quantile(m, 0.5),
			 (unsigned long long)delay_quantile(m, 0.9));
}
