/*
 * stack.c - reading one thread's Python frames as raw (code, instruction)
 * pairs, as soon after the sample as possible.
 *
 * The target keeps running while we read, so the chain can change under us:
 * every pointer is checked by the next read, the depth is capped, and a read
 * that fails mid-walk keeps the frames read so far and flags the stack torn.
 *
 * Cost is system calls. A thread sampled twice in a row usually runs the same
 * functions, so each read first asks, in one batched call with the thread
 * state, for everything the previous read of that thread needed (struct
 * py_spec): its frames, its data-stack window, and the words that confirm its
 * code objects. Only what moved costs further calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pyrometer/target.h"

/* 3.11+ frames live in the thread's data stack chunk, contiguous and growing
 * upwards; one read of this window below the innermost frame covers the
 * whole stack up to some hundreds of frames. */
#define WINDOW 65536
/* Room above the last innermost frame, for calls made since. */
#define WINDOW_SLACK 1024
#define MAX_SPEC_THREADS 4096
/* Frames further above the chunk than this are not in it (the C-stack shims
 * of 3.12+, generators): they are read alone, not with a window. */
#define CHUNK_REACH (16u << 20)
/* Data-stack chunks followed per stack read (each costs a small read). */
#define MAX_CHUNKS 8

/* The speculation slot for tid (new ones zeroed), or NULL without memory. */
static struct py_spec *spec_for(struct py_runtime *rt, pid_t tid)
{
	if ((rt->spec_count + 1) * 2 > rt->spec_cap) {
		size_t cap = rt->spec_cap ? rt->spec_cap * 2 : 64;
		if (rt->spec_count >= MAX_SPEC_THREADS)
			cap = rt->spec_cap;   /* full of dead threads: start over */
		struct py_spec *nv = calloc(cap, sizeof(*nv));
		if (!nv)
			return NULL;
		if (cap != rt->spec_cap) {
			for (size_t i = 0; i < rt->spec_cap; i++) {
				if (!rt->spec[i].tid)
					continue;
				size_t j = (size_t)rt->spec[i].tid & (cap - 1);
				while (nv[j].tid)
					j = (j + 1) & (cap - 1);
				nv[j] = rt->spec[i];
			}
		} else {
			rt->spec_count = 0;
		}
		free(rt->spec);
		rt->spec = nv;
		rt->spec_cap = cap;
	}
	size_t mask = rt->spec_cap - 1;
	size_t i = (size_t)tid & mask;
	for (; rt->spec[i].tid; i = (i + 1) & mask)
		if (rt->spec[i].tid == tid)
			return &rt->spec[i];
	rt->spec[i].tid = tid;
	rt->spec_count++;
	return &rt->spec[i];
}

/* What one stack read has in hand. */
struct walk {
	struct py_runtime *rt;
	struct py_spec *sp;
	uint8_t ts[2048];
	uint64_t cframe_top;         /* speculative cframe->current_frame */
	int have_cframe_top;
	uint8_t *win;                /* 3.11+: frames [lo, hi) */
	uint64_t lo, hi;
	int nframes_ok;
	struct { uint64_t start, end, prev; } chunks[MAX_CHUNKS]; /* 3.11+ data stack */
	int nchunks;
	uint64_t next[SPEC_FRAMES];  /* frames read outside the window, for next time */
	int nnext;
	struct py_raw_frame *out;
	int cap, n;
	unsigned *flags;
	struct py_activations *acts; /* may be NULL */
	/* last, so that resetting a walk need not clear it */
	uint8_t frames[SPEC_FRAMES][512]; /* <= 3.10: speculative frame objects */
};

static uint8_t win_buf[WINDOW + WINDOW_SLACK];
static uint8_t code_words[SPEC_CODES][64];

/* The one batched read: thread state plus what the last read needed. */
static int read_speculative(struct walk *w, uint64_t tstate, size_t tslen)
{
	struct py_runtime *rt = w->rt;
	const struct py_layout *L = &rt->L;
	struct py_spec *sp = w->sp;
	struct target_iov iov[2 + SPEC_CODES + SPEC_FRAMES];
	int32_t clo, clen;
	int n = 0;

	py_code_check_span(L, &clo, &clen);
	iov[n++] = (struct target_iov){ tstate, w->ts, tslen };
	int cframe_at = -1;
	if (sp->cframe && L->ts_cframe >= 0 && L->cf_current_frame >= 0) {
		cframe_at = n;
		iov[n++] = (struct target_iov){ sp->cframe + (uint64_t)L->cf_current_frame,
						&w->cframe_top, 8 };
	}
	int codes_at = n;
	int ncodes = clen <= 64 ? sp->ncodes : 0;
	for (int i = 0; i < ncodes; i++)
		iov[n++] = (struct target_iov){ sp->codes[i] + (uint64_t)clo, code_words[i],
						(size_t)clen };
	/* Pieces that may run into unmapped memory go last: a short read
	 * stops there and spoils nothing before it. */
	int frames_at = n, win_at = -1;
	size_t flen = (size_t)L->fr_size;
	int nfr = flen <= sizeof(w->frames[0]) ? sp->nframes : 0;
	for (int i = 0; i < nfr; i++)
		iov[n++] = (struct target_iov){ sp->frames[i], w->frames[i], flen };
	if (sp->win_hi > sp->win_lo) {
		win_at = n;
		iov[n++] = (struct target_iov){ sp->win_lo, win_buf, sp->win_hi - sp->win_lo };
	}

	int ok = target_readv(rt->mem, iov, n);
	if (ok < 1)
		return -EFAULT;
	w->have_cframe_top = cframe_at >= 0 && ok > cframe_at;
	for (int i = 0; i < ncodes && codes_at + i < ok; i++)
		py_code_checked(rt, sp->codes[i], code_words[i]);
	w->nframes_ok = ok - frames_at < nfr ? (ok - frames_at > 0 ? ok - frames_at : 0) : nfr;
	if (win_at >= 0 && ok > win_at) {
		w->win = win_buf;
		w->lo = sp->win_lo;
		w->hi = sp->win_hi;
	}
	return 0;
}

/* The frames pushed since the last activation end form one activation,
 * anchored at the C-stack address anchor (0: not known yet). An empty one is
 * dropped (3.15's base frame, or a shim whose frame is not pushed yet). */
void py_acts_end(struct py_activations *a, int n, uint64_t anchor)
{
	if (!a || a->n >= PY_MAX_ACTIVATIONS || n == (a->n ? a->end[a->n - 1] : 0))
		return;
	a->end[a->n] = n;
	a->anchor[a->n] = anchor;
	a->n++;
}

static void end_activation(struct walk *w, uint64_t anchor)
{
	py_acts_end(w->acts, w->n, anchor);
}

int32_t py_lasti_index(const struct py_layout *L, int32_t lasti)
{
	/* 3.8/3.9 count f_lasti in bytes, 3.10 in code units. */
	return lasti < 0 ? -1 : (py_at_least(L, 3, 10) ? lasti : lasti / 2);
}

int32_t py_instr_index(const struct py_layout *L, uint64_t code, uint64_t instr)
{
	uint64_t start = code + (uint64_t)L->co_code_adaptive;
	int64_t idx = ((int64_t)instr - (int64_t)start) / 2;
	return idx < -1 || idx > (1 << 24) ? -1 : (int32_t)idx;
}

enum py_fclass py_frame_class(struct py_runtime *rt, const struct py_activations *acts,
			      uint64_t addr, int owner, uint64_t code)
{
	const struct py_layout *L = &rt->L;
	/* 3.12+: owner >= 3 marks the C-stack shim that starts an eval-loop
	 * activation (and 3.15's base frame): not a Python frame. Every
	 * shim has the same code (3.12's trampoline, later Py_None), so a
	 * shim caught before its owner byte was stored is known by it. */
	int shim_owner = owner == 3 || owner == 4;
	int on_cstack = acts && addr >= acts->cstack_lo && addr < acts->cstack_hi;
	int shim = shim_owner || (rt->shim_code && code == rt->shim_code);
	/* On the C stack only shims live; one that does not look like
	 * one is being set up (its stores not yet made), and its link
	 * to the caller cannot be trusted either. */
	if (py_at_least(L, 3, 12) && on_cstack && !shim)
		return PYF_HALF_MADE;
	if (py_at_least(L, 3, 12) && shim) {
		if (shim_owner && (on_cstack || !acts || !acts->cstack_hi))
			rt->shim_code = code;
		return PYF_SHIM;
	}
	/* An owner no frame has, or a misaligned code reference: memory
	 * that is no frame (any more). */
	return owner > 4 || (code & 7) ? PYF_BAD : PYF_CODE;
}

static int push(struct walk *w, uint64_t code, int32_t idx)
{
	if (w->n >= w->cap) {
		*w->flags |= PY_STACK_TRUNCATED;
		return -1;
	}
	w->out[w->n++] = (struct py_raw_frame){ code, idx };
	return 0;
}

/* Learn a chunk's extent from its header (previous, size). */
static int add_chunk(struct walk *w, uint64_t start)
{
	uint64_t hdr[2];
	if (w->nchunks >= MAX_CHUNKS)
		return -1;
	if (w->win && w->lo == start && w->hi - w->lo >= sizeof(hdr))
		memcpy(hdr, w->win, sizeof(hdr));
	else if (target_read(w->rt->mem, start, hdr, sizeof(hdr)) < 0)
		return -1;
	if (hdr[1] < 64 || hdr[1] > CHUNK_REACH || start > UINT64_MAX - hdr[1])
		return -1;
	int k = w->nchunks++;
	w->chunks[k].start = start;
	w->chunks[k].end = start + hdr[1];
	w->chunks[k].prev = hdr[0];
	return 0;
}

/*
 * Which data-stack chunk holds the frame at addr: the thread's current one
 * or, following `previous`, an older one (deep stacks outgrow the first).
 * -1 for frames in no chunk: generators' and the C-stack shims of 3.12+.
 */
static int chunk_of(struct walk *w, uint64_t addr, uint64_t chunk)
{
	const uint64_t fsize = (uint64_t)w->rt->L.fr_size;

	if (!w->nchunks && add_chunk(w, chunk) < 0)
		return -1;
	for (int k = 0;; k++) {
		if (k == w->nchunks) {
			uint64_t prev = w->chunks[k - 1].prev;
			if (!prev || add_chunk(w, prev) < 0)
				return -1;
		}
		if (addr > w->chunks[k].start && addr < w->chunks[k].end &&
		    w->chunks[k].end - addr >= fsize)
			return k;
	}
}

/*
 * The fsize bytes of the frame at addr: from the data-stack window, from the
 * frames read ahead, or read now. Frames found outside the window (heap
 * frames of <= 3.10, generators, the C-stack shims of 3.12+) are noted in
 * w->next for the next read of this thread. NULL when unreadable.
 */
static const uint8_t *frame_at(struct walk *w, uint64_t addr, uint64_t chunk)
{
	const uint64_t fsize = (uint64_t)w->rt->L.fr_size;
	static uint8_t single[512];

	/* Addresses are the target's (any 64-bit value): compare without
	 * sums that could wrap. */
	if (addr > UINT64_MAX - fsize)
		return NULL;
	if (w->win && addr >= w->lo && addr <= w->hi && w->hi - addr >= fsize)
		return w->win + (addr - w->lo);
	const uint8_t *f = NULL;
	for (int k = 0; k < w->nframes_ok && !f; k++)
		if (w->sp->frames[k] == addr)
			f = w->frames[k];
	/* 3.11+: a frame in a data-stack chunk comes with the frames below it
	 * in that chunk, up to a window. */
	int k = !f && chunk ? chunk_of(w, addr, chunk) : -1;
	if (k >= 0) {
		uint64_t from = w->chunks[k].start;
		if (addr + fsize - from > WINDOW)
			from = (addr + fsize - WINDOW) & ~(uint64_t)7;
		ssize_t got = target_read_partial(w->rt->mem, from, win_buf, addr + fsize - from);
		if (got == (ssize_t)(addr + fsize - from)) {
			w->win = win_buf;
			w->lo = from;
			w->hi = addr + fsize;
			return win_buf + (addr - from);
		}
	}
	if (!f && fsize <= sizeof(single) && target_read(w->rt->mem, addr, single, fsize) == 0)
		f = single;
	if (f && w->nnext < SPEC_FRAMES)
		w->next[w->nnext++] = addr;
	return f;
}

/* <= 3.10: one heap PyFrameObject per Python frame. */
static void walk_frame_objects(struct walk *w, uint64_t addr)
{
	const struct py_layout *L = &w->rt->L;

	for (int steps = 0; addr && steps <= PY_MAX_FRAMES; steps++) {
		const uint8_t *f = frame_at(w, addr, 0);
		if (!f) {
			*w->flags |= PY_STACK_TORN;
			break;
		}
		int32_t idx = py_lasti_index(L, i32_at(f, L->fr_lasti));
		if (push(w, u64_at(f, L->fr_code), idx) < 0)
			break;
		end_activation(w, 0);   /* one eval-loop call per frame */
		addr = u64_at(f, L->fr_back);
	}
}

/* Next time, ask for the chunk's window up to the innermost frame (top),
 * with room for a few more calls - never past the chunk's end, which the
 * chunk's header (the window's first bytes) tells. */
static void plan_window(struct walk *w, uint64_t top, uint64_t chunk)
{
	const uint64_t fsize = (uint64_t)w->rt->L.fr_size;
	struct py_spec *sp = w->sp;

	if (!w->win || w->lo != chunk || top < chunk || top > w->hi || w->hi - top < fsize ||
	    w->hi - w->lo < 16 || top > UINT64_MAX - (fsize + WINDOW_SLACK + CHUNK_REACH))
		return;
	uint64_t size = u64_at(w->win, 8);
	uint64_t end = size >= 64 && size <= CHUNK_REACH ? chunk + size : top + fsize;
	uint64_t hi = top + fsize + WINDOW_SLACK;
	sp->win_lo = chunk;
	sp->win_hi = hi < end ? hi : end;
	if (sp->win_hi - sp->win_lo > sizeof(win_buf))
		sp->win_hi = sp->win_lo + sizeof(win_buf);
	if (sp->win_hi < top + fsize)
		sp->win_lo = sp->win_hi = 0;
}

/* 3.11+: _PyInterpreterFrame chain through `previous`. */
static void walk_interp_frames(struct walk *w, uint64_t addr, uint64_t chunk)
{
	const struct py_layout *L = &w->rt->L;
	/* 3.14+ tag the code reference's low bits (deferred refcount). */
	const uint64_t code_mask = py_at_least(L, 3, 14) ? ~(uint64_t)3 : ~(uint64_t)0;
	struct py_spec *sp = w->sp;

	/* A whole chain ends at the outermost eval-loop call's entry: its
	 * shim (3.12+) or its frame marked is_entry (3.11). */
	int proper_end = 1;

	sp->win_lo = sp->win_hi = 0;
	for (int steps = 0; addr && steps < 4 * PY_MAX_FRAMES; steps++) {
		const uint8_t *f = frame_at(w, addr, chunk);
		if (!f) {
			*w->flags |= PY_STACK_TORN;
			break;
		}
		if (steps == 0)
			plan_window(w, addr, chunk);
		uint64_t prev = u64_at(f, L->fr_back);
		int owner = L->fr_owner >= 0 ? f[L->fr_owner] : 0;
		uint64_t code = u64_at(f, L->fr_code) & code_mask;
		enum py_fclass fc = py_frame_class(w->rt, w->acts, addr, owner, code);
		if (fc == PYF_SHIM) {
			end_activation(w, addr);  /* the shim is a local of that call */
			proper_end = 1;
			addr = prev;
			continue;
		}
		/* A chain followed into memory that is no frame any more (a C
		 * stack reused since, when a call from C returned during the
		 * read), or a thread-owned frame outside the thread's data
		 * stack. */
		if (fc != PYF_CODE ||
		    (owner == 0 && chunk && !(w->win && addr >= w->lo && addr < w->hi) &&
		     chunk_of(w, addr, chunk) < 0)) {
			*w->flags |= PY_STACK_TORN;
			break;
		}
		if (push(w, code, py_instr_index(L, code, u64_at(f, L->fr_instr))) < 0)
			break;
		/* 3.11: the oldest frame of an activation says so. */
		proper_end = L->fr_is_entry >= 0 && f[L->fr_is_entry];
		if (proper_end)
			end_activation(w, 0);
		addr = prev;
	}
	/* A chain that stops at an ordinary frame was cut by a change under
	 * the read (a call from C returning): its outer part is missing. */
	if (!addr && !proper_end)
		*w->flags |= PY_STACK_TORN;
}

/* Walk on from the frame at addr, in whichever chain the version has. */
static void walk_from(struct walk *w, uint64_t addr)
{
	const struct py_layout *L = &w->rt->L;
	if (L->ts_frame >= 0) {
		walk_frame_objects(w, addr);
		return;
	}
	uint64_t chunk = L->ts_datastack_chunk >= 0 ? u64_at(w->ts, L->ts_datastack_chunk) : 0;
	walk_interp_frames(w, addr, chunk);
}

static void remember_codes(struct py_spec *sp, const struct py_raw_frame *fr, int n)
{
	sp->ncodes = 0;
	for (int i = 0; i < n && sp->ncodes < SPEC_CODES; i++) {
		int dup = 0;
		for (int k = 0; k < sp->ncodes && !dup; k++)
			dup = sp->codes[k] == fr[i].code;
		if (!dup)
			sp->codes[sp->ncodes++] = fr[i].code;
	}
}

/*
 * One read of thread tid's stack. With start != 0 the walk goes on from the
 * frame at start, after the n0 frames (and the activations) already in
 * frames/acts: the outer part of a stack whose inner part was read at the
 * sample.
 */
static int read_once(struct py_runtime *rt, pid_t tid, struct py_raw_frame *frames, int cap,
		     unsigned *flags, struct py_activations *acts, uint64_t start, int n0)
{
	const struct py_layout *L = &rt->L;
	static struct walk w;
	size_t tslen = (size_t)L->ts_size < sizeof(w.ts) ? (size_t)L->ts_size : sizeof(w.ts);
	struct py_tmap_entry e;

	if (!start)
		*flags = 0;
	rt->seq++;
	for (int attempt = 0;; attempt++) {
		if (py_tmap_lookup(rt, tid, &e) < 0)
			return -ENOENT;
		memset(&w, 0, offsetof(struct walk, frames));
		w.rt = rt;
		w.sp = spec_for(rt, tid);
		if (!w.sp)
			return -ENOMEM;
		if (read_speculative(&w, e.tstate, tslen) < 0)
			return -EFAULT;
		/* The thread state may have been freed and reused since the map
		 * was built: it must still name this thread. */
		int same = L->ts_native_thread_id >= 0
			? (pid_t)u64_at(w.ts, L->ts_native_thread_id) == tid
			: u64_at(w.ts, L->ts_thread_id) == e.pthread;
		if (same)
			break;
		memset(w.sp, 0, sizeof(*w.sp));
		w.sp->tid = tid;
		if (attempt)
			return -ENOENT;
		py_threads_changed(rt);
	}
	w.out = frames;
	w.cap = cap;
	w.flags = flags;
	w.acts = acts;
	if (start) {
		w.n = n0;
		walk_from(&w, start);
		goto done;
	}
	if (acts) {
		acts->n = 0;   /* cstack_lo/hi are the caller's */
		acts->torn = 0;
		acts->tstate = e.tstate;
		acts->cframe = L->ts_cframe >= 0 ? u64_at(w.ts, L->ts_cframe) : 0;
		acts->cframe_root = L->ts_root_cframe >= 0
			? e.tstate + (uint64_t)L->ts_root_cframe : 0;
	}

	if (L->ts_frame >= 0) {
		walk_frame_objects(&w, u64_at(w.ts, L->ts_frame));
	} else {
		uint64_t top;
		if (L->ts_cframe >= 0) {
			uint64_t cframe = u64_at(w.ts, L->ts_cframe);
			int same_cframe = w.have_cframe_top && cframe == w.sp->cframe;
			w.sp->cframe = cframe;
			if (!cframe)
				return 0;
			if (same_cframe)
				top = w.cframe_top;
			else if (target_read(rt->mem, cframe + (uint64_t)L->cf_current_frame, &top,
					     sizeof(top)) < 0)
				return -EFAULT;
			/* An eval-loop call that has pushed its marker but not yet
			 * its frame (or is popping them): its caller's marker
			 * still names the current frame. */
			for (int up = 0; !top && up < 4; up++) {
				if (target_read(rt->mem, cframe + (uint64_t)L->cf_previous, &cframe,
						sizeof(cframe)) < 0 || !cframe ||
				    target_read(rt->mem, cframe + (uint64_t)L->cf_current_frame, &top,
						sizeof(top)) < 0)
					break;
			}
		} else {
			top = u64_at(w.ts, L->ts_current_frame);
		}
		uint64_t chunk = L->ts_datastack_chunk >= 0 ? u64_at(w.ts, L->ts_datastack_chunk)
							    : 0;
		walk_interp_frames(&w, top, chunk);
	}
done:
	end_activation(&w, 0);  /* frames left over (a cut or torn stack) */
	if (acts)
		acts->torn = (*flags & PY_STACK_TORN) != 0;
	remember_codes(w.sp, frames, w.n);
	memcpy(w.sp->frames, w.next, sizeof(w.next));
	w.sp->nframes = w.nnext;
	/* Nothing read before the chain broke: unreadable, not "no Python". */
	return w.n == 0 && (*flags & PY_STACK_TORN) ? -EAGAIN : w.n;
}

int py_stack_read(struct py_runtime *rt, pid_t tid, struct py_raw_frame *frames, int cap,
		  unsigned *flags, struct py_activations *acts)
{
	int n = read_once(rt, tid, frames, cap, flags, acts, 0, 0);

	/* The innermost frame changed under the read (a call starting or
	 * ending): such moments are short, so read once more. */
	if (n == -EAGAIN)
		n = read_once(rt, tid, frames, cap, flags, acts, 0, 0);
	return n == -EAGAIN ? -EFAULT : n;
}

int py_stack_continue(struct py_runtime *rt, pid_t tid, uint64_t from,
		      struct py_raw_frame *frames, int n, int cap, unsigned *flags,
		      struct py_activations *acts)
{
	int got = read_once(rt, tid, frames, cap, flags, acts, from, n);
	return got < 0 ? n : got;
}
