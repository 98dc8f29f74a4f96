/* record.c - turning kernel records into callbacks, checking every size. */
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>

#include "pyrometer/perf.h"

struct cursor {
	const uint8_t *p, *end;
};

static int take(struct cursor *c, void *out, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return -EINVAL;
	memcpy(out, c->p, n);
	c->p += n;
	return 0;
}

static int parse_sample(struct cursor *c, uint64_t st, struct perf_sample *s)
{
	uint64_t skip;
	uint32_t pair[2];

	memset(s, 0, sizeof(*s));
	if ((st & PERF_SAMPLE_IDENTIFIER) && take(c, &skip, 8) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_IP) && take(c, &skip, 8) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_TID) {
		if (take(c, pair, 8) < 0)
			return -EINVAL;
		s->pid = (pid_t)pair[0];
		s->tid = (pid_t)pair[1];
	}
	if ((st & PERF_SAMPLE_TIME) && take(c, &s->time, 8) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_ADDR) && take(c, &skip, 8) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_ID) && take(c, &skip, 8) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_STREAM_ID) && take(c, &skip, 8) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_CPU) {
		if (take(c, pair, 8) < 0)
			return -EINVAL;
		s->cpu = pair[0];
	}
	if ((st & PERF_SAMPLE_PERIOD) && take(c, &s->period, 8) < 0)
		return -EINVAL;
	/* Fields after PERIOD (READ, CALLCHAIN, REGS, STACK...) are not asked
	 * for by this sampler; a sample_type naming one is refused rather than
	 * misparsed. */
	const uint64_t known = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			       PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR | PERF_SAMPLE_ID |
			       PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD;
	return (st & ~known) ? -EINVAL : 0;
}

int perf_parse_record(const void *rec, size_t len, uint64_t sample_type,
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
		if (parse_sample(&c, sample_type, &s) < 0)
			return -EINVAL;
		if (h->sample)
			h->sample(h->ctx, &s);
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
