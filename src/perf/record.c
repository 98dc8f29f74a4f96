/* record.c - turning kernel records into callbacks, checking every size. */
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>

#include "pyrometer/perf.h"

#ifndef PERF_RECORD_MISC_MMAP_BUILD_ID
#define PERF_RECORD_MISC_MMAP_BUILD_ID (1 << 14)
#endif
#ifndef PERF_FORMAT_LOST
#define PERF_FORMAT_LOST (1u << 4)
#endif

#define BUILD_ID_MAX 20  /* the kernel's BUILD_ID_SIZE_MAX */

struct cursor {
	const uint8_t *p, *end;
};

/* Sizes come from the record as u64: compared before any cast to size_t. */
static int fits(const struct cursor *c, uint64_t n)
{
	return n <= (uint64_t)(c->end - c->p);
}

static int take(struct cursor *c, void *out, size_t n)
{
	if (!fits(c, n))
		return -EINVAL;
	memcpy(out, c->p, n);
	c->p += n;
	return 0;
}

static int take_u64(struct cursor *c, uint64_t *v)
{
	return take(c, v, sizeof(*v));
}

/* Step over n bytes; *at (if not NULL) gets where they start. */
static int skip(struct cursor *c, uint64_t n, const uint8_t **at)
{
	if (!fits(c, n))
		return -EINVAL;
	if (at)
		*at = c->p;
	c->p += n;
	return 0;
}

/* A u64 taken only when cond holds; 0 when it does not. */
static int take_if(struct cursor *c, uint64_t cond, uint64_t *v)
{
	return cond ? take_u64(c, v) : 0;
}

/* struct read_format, both layouts (perf_event.h, "read_format"). */
static int parse_read(struct cursor *c, uint64_t fmt, struct perf_read *r)
{
	const uint64_t group = fmt & PERF_FORMAT_GROUP;
	const uint64_t id = fmt & PERF_FORMAT_ID;
	const uint64_t lost = fmt & PERF_FORMAT_LOST;

	r->format = fmt;
	r->nr = 1;
	if (group && take_u64(c, &r->nr) < 0)
		return -EINVAL;
	if (r->nr > PERF_READ_MAX)
		return -EINVAL;
	if (!group && take_u64(c, &r->v[0].value) < 0)
		return -EINVAL;
	if (take_if(c, fmt & PERF_FORMAT_TOTAL_TIME_ENABLED, &r->time_enabled) < 0 ||
	    take_if(c, fmt & PERF_FORMAT_TOTAL_TIME_RUNNING, &r->time_running) < 0)
		return -EINVAL;
	if (!group)
		return take_if(c, id, &r->v[0].id) < 0 || take_if(c, lost, &r->v[0].lost) < 0
			       ? -EINVAL
			       : 0;
	for (uint64_t i = 0; i < r->nr; i++) {
		struct perf_read_value *v = &r->v[i];
		if (take_u64(c, &v->value) < 0 || take_if(c, id, &v->id) < 0 ||
		    take_if(c, lost, &v->lost) < 0)
			return -EINVAL;
	}
	return 0;
}

/* u64 abi; u64 regs[popcount(mask)] if abi != PERF_SAMPLE_REGS_ABI_NONE. */
static int parse_regs(struct cursor *c, uint64_t mask, struct perf_sample *s)
{
	if (take_u64(c, &s->regs_abi) < 0)
		return -EINVAL;
	if (s->regs_abi == PERF_SAMPLE_REGS_ABI_NONE)
		return 0;
	s->nregs = (uint32_t)__builtin_popcountll(mask);
	return take(c, s->regs, s->nregs * sizeof(s->regs[0]));
}

/* u64 size; u8 data[size]; u64 dyn_size if size != 0. */
static int parse_stack(struct cursor *c, struct perf_sample *s)
{
	if (take_u64(c, &s->stack_size) < 0)
		return -EINVAL;
	if (s->stack_size == 0)
		return 0;
	if (skip(c, s->stack_size, &s->stack) < 0 || take_u64(c, &s->stack_dyn_size) < 0)
		return -EINVAL;
	return s->stack_dyn_size <= s->stack_size ? 0 : -EINVAL;
}

/* u64 nr; u64 ips[nr]. */
static int parse_callchain(struct cursor *c, struct perf_sample *s)
{
	if (take_u64(c, &s->callchain_nr) < 0 || s->callchain_nr > UINT64_MAX / 8)
		return -EINVAL;
	return skip(c, s->callchain_nr * 8, &s->callchain);
}

/* u32 size; u8 data[size] (the kernel pads size so the next field is aligned). */
static int skip_raw(struct cursor *c)
{
	uint32_t size;
	return take(c, &size, sizeof(size)) < 0 ? -EINVAL : skip(c, size, NULL);
}

/* The fields up to CPU: fixed size, each one u64 (TID and CPU two u32). */
static int parse_sample_ids(struct cursor *c, uint64_t st, struct perf_sample *s)
{
	uint32_t pair[2];

	if (take_if(c, st & PERF_SAMPLE_IDENTIFIER, &s->id) < 0 ||
	    take_if(c, st & PERF_SAMPLE_IP, &s->ip) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_TID) {
		if (take(c, pair, 8) < 0)
			return -EINVAL;
		s->pid = (pid_t)pair[0];
		s->tid = (pid_t)pair[1];
	}
	if (take_if(c, st & PERF_SAMPLE_TIME, &s->time) < 0 ||
	    take_if(c, st & PERF_SAMPLE_ADDR, &s->addr) < 0 ||
	    take_if(c, st & PERF_SAMPLE_ID, &s->id) < 0 ||
	    take_if(c, st & PERF_SAMPLE_STREAM_ID, &s->stream_id) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_CPU) {
		if (take(c, pair, 8) < 0)
			return -EINVAL;
		s->cpu = pair[0];   /* pair[1] is reserved */
	}
	return 0;
}

static int parse_sample(struct cursor *c, const struct perf_parse_cfg *cfg,
			struct perf_sample *s)
{
	const uint64_t st = cfg->sample_type;

	memset(s, 0, sizeof(*s));
	/* A field we cannot step over would put every later one at the wrong
	 * offset: refuse instead of misparsing. */
	if (st & ~(uint64_t)PERF_PARSE_SAMPLE_TYPES)
		return -EINVAL;
	if ((st & PERF_SAMPLE_READ) && (cfg->read_format & ~(uint64_t)PERF_PARSE_READ_FORMATS))
		return -EINVAL;
	if (parse_sample_ids(c, st, s) < 0 ||
	    take_if(c, st & PERF_SAMPLE_PERIOD, &s->period) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_READ) {
		if (parse_read(c, cfg->read_format, &s->read) < 0)
			return -EINVAL;
		s->has |= PERF_HAS_READ;
	}
	if (st & PERF_SAMPLE_CALLCHAIN) {
		if (parse_callchain(c, s) < 0)
			return -EINVAL;
		s->has |= PERF_HAS_CALLCHAIN;
	}
	if ((st & PERF_SAMPLE_RAW) && skip_raw(c) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_REGS_USER) {
		if (parse_regs(c, cfg->sample_regs_user, s) < 0)
			return -EINVAL;
		s->has |= PERF_HAS_REGS_USER;
	}
	if (st & PERF_SAMPLE_STACK_USER) {
		if (parse_stack(c, s) < 0)
			return -EINVAL;
		s->has |= PERF_HAS_STACK_USER;
	}
	return 0;
}

/*
 * MMAP:  u32 pid, tid; u64 addr, len, pgoff; char filename[];
 * MMAP2: the same up to pgoff, then the file's identity (maj, min, ino,
 *        ino_generation, or a build-id), u32 prot, flags; char filename[].
 * The name is NUL-padded to 8 bytes; a sample_id trailer may follow.
 */
static int parse_mmap(struct cursor *c, const struct perf_event_header *hdr,
		      struct perf_mmap *m)
{
	uint32_t pair[2];

	memset(m, 0, sizeof(*m));
	m->type = hdr->type;
	m->misc = hdr->misc;
	if (take(c, pair, 8) < 0 || take_u64(c, &m->addr) < 0 || take_u64(c, &m->len) < 0 ||
	    take_u64(c, &m->pgoff) < 0)
		return -EINVAL;
	m->pid = (pid_t)pair[0];
	m->tid = (pid_t)pair[1];
	if (hdr->type == PERF_RECORD_MMAP2) {
		uint8_t id[24];   /* the union: 4 + 4 + 8 + 8 or 1 + 1 + 2 + 20 */
		if (take(c, id, sizeof(id)) < 0 || take(c, pair, 8) < 0)
			return -EINVAL;
		m->prot = pair[0];
		m->flags = pair[1];
		m->has_build_id = (hdr->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) != 0;
		if (m->has_build_id) {
			m->build_id_size = id[0];
			if (m->build_id_size > BUILD_ID_MAX)
				return -EINVAL;
			memcpy(m->build_id, id + 4, m->build_id_size);
		} else {
			memcpy(&m->maj, id, 4);
			memcpy(&m->min, id + 4, 4);
			memcpy(&m->ino, id + 8, 8);
			memcpy(&m->ino_generation, id + 16, 8);
		}
	}
	size_t avail = (size_t)(c->end - c->p);
	if (memchr(c->p, '\0', avail) == NULL)
		return -EINVAL;
	m->filename = (const char *)c->p;
	return 0;
}

int perf_parse_record_cfg(const void *rec, size_t len, const struct perf_parse_cfg *cfg,
			  const struct perf_handlers *h)
{
	struct perf_event_header hdr;
	struct cursor c = { rec, (const uint8_t *)rec + len };
	uint32_t pair[2];

	if (take(&c, &hdr, sizeof(hdr)) < 0 || hdr.size != len)
		return -EINVAL;
	switch (hdr.type) {
	case PERF_RECORD_SAMPLE: {
		struct perf_sample s;
		if (parse_sample(&c, cfg, &s) < 0)
			return -EINVAL;
		if (h->sample)
			h->sample(h->ctx, &s);
		return 0;
	}
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2: {
		struct perf_mmap m;
		if (parse_mmap(&c, &hdr, &m) < 0)
			return -EINVAL;
		if (h->mmap2)
			h->mmap2(h->ctx, &m);
		return 0;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		uint32_t ids[4];   /* pid, ppid, tid, ptid */
		if (take(&c, ids, sizeof(ids)) < 0)
			return -EINVAL;
		if (hdr.type == PERF_RECORD_FORK && h->fork)
			h->fork(h->ctx, (pid_t)ids[0], (pid_t)ids[2]);
		if (hdr.type == PERF_RECORD_EXIT && h->exit)
			h->exit(h->ctx, (pid_t)ids[0], (pid_t)ids[2]);
		return 0;
	}
	case PERF_RECORD_COMM: {
		char comm[17];
		if (take(&c, pair, 8) < 0)
			return -EINVAL;
		size_t avail = (size_t)(c.end - c.p);
		size_t n = strnlen((const char *)c.p, avail < 16 ? avail : 16);
		memcpy(comm, c.p, n);
		comm[n] = '\0';
		if (h->comm)
			h->comm(h->ctx, (pid_t)pair[0], (pid_t)pair[1], comm);
		return 0;
	}
	case PERF_RECORD_LOST: {
		uint64_t id_lost[2];
		if (take(&c, id_lost, sizeof(id_lost)) < 0)
			return -EINVAL;
		if (h->lost)
			h->lost(h->ctx, id_lost[1]);
		return 0;
	}
	case PERF_RECORD_LOST_SAMPLES: {
		uint64_t lost;
		if (take(&c, &lost, sizeof(lost)) < 0)
			return -EINVAL;
		if (h->lost)
			h->lost(h->ctx, lost);
		return 0;
	}
	default:
		return 0;  /* records we did not ask for are skipped by size */
	}
}

int perf_parse_record(const void *rec, size_t len, uint64_t sample_type,
		      const struct perf_handlers *h)
{
	const struct perf_parse_cfg cfg = { .sample_type = sample_type };

	return perf_parse_record_cfg(rec, len, &cfg, h);
}
