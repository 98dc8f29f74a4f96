/*
 * pystack.bpf.c - the kernel half of the BPF backend: at every overflow of a
 * sampling event it walks the sampled thread's Python frames, while the
 * thread is stopped at the sample, and hands user space (frame, code object,
 * instruction) triples in a ring buffer. User space joins each record with
 * the perf sample of the same thread and count.
 *
 * Built with clang's BPF target; one object serves every CPython version:
 * what differs (offsets, how the innermost frame is reached) is in the
 * layouts map, filled per process from src/python/.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

#include "pystack_abi.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYSTACK_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pystack_layout);
} layouts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYSTACK_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct pystack_thread);
} threads SEC(".maps");

struct scratch {
	struct pystack_record rec;
	__u8 frame[PYSTACK_FRAME_READ + 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} ring SEC(".maps");

/* [0]: records the ring had no room for */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline __u64 read_u64(__u64 addr, int *err)
{
	__u64 v = 0;
	if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr))
		*err = 1;
	return v;
}

/* A field of the frame just read; off comes from the layout, so bound it
 * for the verifier (the buffer has 8 bytes of room past the read size). */
static __always_inline __u64 field(const __u8 *buf, __s32 off)
{
	return *(const __u64 *)(buf + ((__u32)off & (PYSTACK_FRAME_READ - 1)));
}

static __always_inline __u8 byte(const __u8 *buf, __s32 off)
{
	return off < 0 ? 0 : buf[(__u32)off & (PYSTACK_FRAME_READ - 1)];
}

/* Is the code reference of the frame at addr a code object? */
static __always_inline int code_ok(const struct pystack_layout *L, __u64 frame)
{
	int err = 0;
	__u64 code = read_u64(frame + L->fr_code, &err) & L->code_mask;
	if (err || !code)
		return 0;
	__u64 type = read_u64(code + L->ob_type, &err);
	return !err && type == L->code_type;
}

/* The innermost frame at the sample, 0 when the thread runs no Python code;
 * -1 in *status when it cannot be trusted. */
static __always_inline __u64 top_frame(const struct pystack_layout *L, __u64 tstate,
				       struct pystack_record *rec)
{
	int err = 0;
	if (L->ts_cframe >= 0)
		rec->cframe = read_u64(tstate + L->ts_cframe, &err);
	if (L->top == PYSTACK_TOP_FRAME || L->top == PYSTACK_TOP_CURRENT) {
		__u64 top = read_u64(tstate + L->ts_top, &err);
		if (err)
			rec->status = PYSTACK_READ_FAILED;
		return top;
	}
	/* 3.11/3.12: an eval-loop call stores its marker in the thread state
	 * before it fills in the marker's frame; in that window the frame is
	 * garbage or NULL and the caller's marker still names the right one. */
	__u64 cframe = rec->cframe;
	if (err || !cframe) {
		rec->status = err ? PYSTACK_READ_FAILED : PYSTACK_OK;
		return 0;
	}
	__u64 top = read_u64(cframe + L->cf_current_frame, &err);
	if (!err && top && (!L->code_type || code_ok(L, top)))
		return top;
	__u64 prev = read_u64(cframe + L->cf_previous, &err);
	if (err || !prev) {
		/* the outermost marker: no Python frame, or a torn one */
		rec->status = err || top ? PYSTACK_TOP_INVALID : PYSTACK_OK;
		return 0;
	}
	err = 0;
	top = read_u64(prev + L->cf_current_frame, &err);
	if (err || (top && L->code_type && !code_ok(L, top))) {
		rec->status = PYSTACK_TOP_INVALID;
		return 0;
	}
	return top;
}

/* What one step of the frame walk needs (on the caller's stack). */
struct walk_ctx {
	__u64 addr;               /* the frame to read next, 0: done */
	__u64 code_mask;
	__u32 size;               /* bytes to read per frame */
	__u32 n;                  /* frames written */
	__s32 fr_back, fr_code, fr_instr, fr_owner, fr_is_entry;
};

/* Read the frame at w->addr into the record; 1 ends the walk. */
static long walk_step(__u32 i, void *ctx)
{
	struct walk_ctx *w = ctx;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	__u32 size = w->size;

	if (!s || !w->addr)
		return 1;
	if (size > PYSTACK_FRAME_READ)
		size = PYSTACK_FRAME_READ;
	if (bpf_probe_read_user(s->frame, size, (const void *)w->addr))
		return 1;      /* left to user space, from w->addr */
	/* bound the index where it is used (the compiler may reload it) */
	__u32 k = i;
	__asm__ volatile("" : "+r"(k));
	if (k >= PYSTACK_MAX_FRAMES)
		return 1;
	struct pystack_frame *f = &s->rec.frames[k];
	f->addr = w->addr;
	f->code = field(s->frame, w->fr_code) & w->code_mask;
	f->instr = field(s->frame, w->fr_instr);
	f->owner = byte(s->frame, w->fr_owner);
	f->is_entry = byte(s->frame, w->fr_is_entry);
	w->addr = field(s->frame, w->fr_back);
	w->n = k + 1;
	return 0;
}

/* Walk the current thread's Python frames into a record. count: the
 * sampling event's count (0 when the program cannot read it); before: the
 * program runs before the event is counted and its sample taken. */
static __always_inline void walk(struct scratch *s, __u64 count, __u32 before)
{
	__u32 zero = 0;
	struct pystack_record *rec = &s->rec;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;

	rec->pid = pid;
	rec->tid = tid;
	rec->time = bpf_ktime_get_ns();
	rec->tstate = rec->cframe = rec->next = 0;
	rec->nframes = 0;
	rec->status = PYSTACK_OK;
	rec->count = count;
	rec->before = before;
	rec->pad = 0;

	const struct pystack_layout *L = bpf_map_lookup_elem(&layouts, &pid);
	const struct pystack_thread *t = L ? bpf_map_lookup_elem(&threads, &tid) : 0;
	if (!L)
		rec->status = PYSTACK_NO_PROC;
	else if (!t)
		rec->status = PYSTACK_NO_THREAD;
	__u64 addr = 0;
	if (L && t) {
		int err = 0;
		rec->tstate = t->tstate;
		__u64 owner = read_u64(t->tstate + L->ts_owner, &err);
		if (err)
			rec->status = PYSTACK_READ_FAILED;
		else if ((L->owner_is_tid ? (__u32)owner : owner) != t->owner)
			rec->status = PYSTACK_STALE_THREAD;
		else
			addr = top_frame(L, t->tstate, rec);
	}
	if (rec->status == PYSTACK_OK && L) {
		struct walk_ctx w = {
			.addr = addr, .code_mask = L->code_mask, .size = L->fr_read,
			.fr_back = L->fr_back, .fr_code = L->fr_code, .fr_instr = L->fr_instr,
			.fr_owner = L->fr_owner, .fr_is_entry = L->fr_is_entry,
		};
		if (w.size > PYSTACK_FRAME_READ)
			w.size = PYSTACK_FRAME_READ;
		if (w.size < 8)
			w.size = 8;
		/* bpf_loop: the verifier checks one step, not 160 of them */
		bpf_loop(PYSTACK_MAX_FRAMES, walk_step, &w, 0);
		rec->nframes = w.n;
		rec->next = w.addr;
	}
	__u64 len = sizeof(*rec) - sizeof(rec->frames) +
		    (__u64)rec->nframes * sizeof(struct pystack_frame);
	if (len > sizeof(*rec))
		len = sizeof(*rec);
	if (bpf_ringbuf_output(&ring, rec, len, BPF_RB_NO_WAKEUP)) {
		__u64 *d = bpf_map_lookup_elem(&drops, &zero);
		if (d)
			__sync_fetch_and_add(d, 1);
	}
}

/* Software and hardware events: run at the overflow, after the count. */
SEC("perf_event")
int pystack_sample(struct bpf_perf_event_data *ctx)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (s) {
		struct bpf_perf_event_value v = { 0 };
		walk(s, bpf_perf_prog_read_value(ctx, &v, sizeof(v)) == 0 ? v.counter : 0, 0);
	}
	return 1;   /* and keep the perf sample: registers, stack copy, counts */
}

/* The programs of tracing events: run at the hit, before the event is
 * counted (so no count to read). 1 keeps the event and its sample. */
static __always_inline int walk_before_count(void)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (s)
		walk(s, 0, 1);
	return 1;
}

SEC("uprobe")
int pystack_uprobe(void *ctx)
{
	(void)ctx;
	return walk_before_count();
}

/* Tracepoints: events raised in the kernel on the thread's behalf. */
SEC("tracepoint")
int pystack_tracepoint(void *ctx)
{
	(void)ctx;
	return walk_before_count();
}
