/*
 * stack.c - reading one thread's Python frames as raw (code, instruction)
 * pairs, as soon after the sample as possible.
 *
 * The target keeps running while we read, so the chain can change under us:
 * every pointer is checked by the next read, the depth is capped, and a read
 * that fails mid-walk keeps the frames read so far and flags the stack torn.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "pyrometer/target.h"

/* 3.11+ frames live in the thread's data stack chunk, contiguous and growing
 * upwards; one read of this window below the innermost frame usually covers
 * the whole stack. */
#define WINDOW 8192

static uint64_t u64_at(const uint8_t *b, int32_t off)
{
	uint64_t v;
	memcpy(&v, b + off, sizeof(v));
	return v;
}

static int32_t i32_at(const uint8_t *b, int32_t off)
{
	int32_t v;
	memcpy(&v, b + off, sizeof(v));
	return v;
}

/* <= 3.10: one heap PyFrameObject per Python frame. */
static int walk_frame_objects(struct py_runtime *rt, uint64_t addr, struct py_raw_frame *fr,
			      int cap, unsigned *flags)
{
	const struct py_layout *L = &rt->L;
	uint8_t buf[512];
	size_t len = (size_t)L->fr_size < sizeof(buf) ? (size_t)L->fr_size : sizeof(buf);
	int n = 0;

	while (addr) {
		if (n >= cap) {
			*flags |= PY_STACK_TRUNCATED;
			break;
		}
		if (target_read(rt->mem, addr, buf, len) < 0) {
			*flags |= PY_STACK_TORN;
			break;
		}
		int32_t lasti = i32_at(buf, L->fr_lasti);
		/* 3.8/3.9 count f_lasti in bytes, 3.10 in code units. */
		int32_t idx = lasti < 0 ? -1 : (py_at_least(L, 3, 10) ? lasti : lasti / 2);
		fr[n++] = (struct py_raw_frame){ u64_at(buf, L->fr_code), idx };
		addr = u64_at(buf, L->fr_back);
	}
	return n;
}

/* 3.11+: _PyInterpreterFrame chain through `previous`. */
static int walk_interp_frames(struct py_runtime *rt, uint64_t addr, uint64_t chunk,
			      struct py_raw_frame *fr, int cap, unsigned *flags)
{
	const struct py_layout *L = &rt->L;
	static uint8_t win[WINDOW];
	uint64_t lo = 0, hi = 0;
	const uint64_t fsize = (uint64_t)L->fr_size;
	/* 3.14+ tag the code reference's low bits (deferred refcount). */
	const uint64_t code_mask = py_at_least(L, 3, 14) ? ~(uint64_t)3 : ~(uint64_t)0;
	int n = 0;

	for (int steps = 0; addr && steps < 4 * PY_MAX_FRAMES; steps++) {
		if (addr < lo || addr + fsize > hi) {
			uint64_t from = addr;
			if (chunk && addr > chunk && addr - chunk < WINDOW - fsize)
				from = chunk;
			else if (chunk && addr > chunk)
				from = (addr + fsize - WINDOW) & ~(uint64_t)7;
			ssize_t got = target_read_partial(rt->mem, from, win, addr + fsize - from);
			if (got < (ssize_t)(addr + fsize - from) && from != addr) {
				/* Not in this chunk after all (a generator's frame, an
				 * older chunk): read the frame alone. */
				from = addr;
				got = target_read_partial(rt->mem, from, win, fsize);
			}
			if (got < (ssize_t)(addr + fsize - from)) {
				*flags |= PY_STACK_TORN;
				break;
			}
			lo = from;
			hi = addr + fsize;
		}
		const uint8_t *f = win + (addr - lo);
		uint64_t prev = u64_at(f, L->fr_back);
		int owner = L->fr_owner >= 0 ? f[L->fr_owner] : 0;
		/* 3.12+: owner >= 3 marks the C-stack shim that starts an eval-loop
		 * activation (and 3.15's base frame): not a Python frame. */
		if (py_at_least(L, 3, 12) && owner >= 3) {
			addr = prev;
			continue;
		}
		if (n >= cap) {
			*flags |= PY_STACK_TRUNCATED;
			break;
		}
		uint64_t code = u64_at(f, L->fr_code) & code_mask;
		uint64_t instr = u64_at(f, L->fr_instr);
		uint64_t first = code + (uint64_t)L->co_code_adaptive;
		int64_t idx = ((int64_t)instr - (int64_t)first) / 2;
		if (idx < -1 || idx > (1 << 24))
			idx = -1;
		fr[n++] = (struct py_raw_frame){ code, (int32_t)idx };
		addr = prev;
	}
	return n;
}

int py_stack_read(struct py_runtime *rt, pid_t tid, struct py_raw_frame *frames, int cap,
		  unsigned *flags)
{
	const struct py_layout *L = &rt->L;
	uint8_t ts[2048];
	size_t tslen = (size_t)L->ts_size < sizeof(ts) ? (size_t)L->ts_size : sizeof(ts);
	struct py_tmap_entry e;

	*flags = 0;
	for (int attempt = 0;; attempt++) {
		if (py_tmap_lookup(rt, tid, &e) < 0)
			return -ENOENT;
		if (target_read(rt->mem, e.tstate, ts, tslen) < 0)
			return -EFAULT;
		/* The thread state may have been freed and reused since the map
		 * was built: it must still name this thread. */
		int same = L->ts_native_thread_id >= 0
			? (pid_t)u64_at(ts, L->ts_native_thread_id) == tid
			: u64_at(ts, L->ts_thread_id) == e.pthread;
		if (same)
			break;
		if (attempt)
			return -ENOENT;
		py_threads_changed(rt);
	}

	if (L->ts_frame >= 0)
		return walk_frame_objects(rt, u64_at(ts, L->ts_frame), frames, cap, flags);

	uint64_t top;
	if (L->ts_cframe >= 0) {
		uint64_t cframe = u64_at(ts, L->ts_cframe);
		if (!cframe)
			return 0;
		if (target_read(rt->mem, cframe + (uint64_t)L->cf_current_frame, &top,
				sizeof(top)) < 0)
			return -EFAULT;
	} else {
		top = u64_at(ts, L->ts_current_frame);
	}
	uint64_t chunk = L->ts_datastack_chunk >= 0 ? u64_at(ts, L->ts_datastack_chunk) : 0;
	return walk_interp_frames(rt, top, chunk, frames, cap, flags);
}
