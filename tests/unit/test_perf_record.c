/*
 * test_perf_record.c - perf_parse_record() against records built by hand.
 *
 * Records are laid out as the kernel writes them (perf_event.h documents each
 * one). Every record is handed to the parser in a heap buffer of exactly the
 * length under test, so a read past the end shows up under valgrind or ASan.
 * The handlers only record what they receive; each test then checks both the
 * values and which handlers were (not) called.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pyrometer/perf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define REC_MAX 1024

/* The sample fields of fixed size, each 8 bytes. */
#define FIXED_SAMPLE_BITS                                                               \
	(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | \
	 PERF_SAMPLE_ADDR | PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU |  \
	 PERF_SAMPLE_PERIOD)

/* Every sample field the parser knows how to step over or read: the fixed
 * ones and the variable ones up to STACK_USER, except BRANCH_STACK. Written
 * out here rather than taken from perf.h, so that a change there shows. */
#define KNOWN_SAMPLE_BITS                                                                  \
	(FIXED_SAMPLE_BITS | PERF_SAMPLE_READ | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_RAW | \
	 PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

/* What the handlers saw. Pointers into the record are valid only during
 * the callback, so what they point to is copied there (which also makes a
 * pointer past the record show up under valgrind or ASan). */
struct seen {
	int samples, forks, exits, comms, losts, mmaps;
	struct perf_sample sample;
	uint8_t stack[512];            /* sample.stack_dyn_size bytes */
	uint64_t callchain[64];        /* sample.callchain_nr entries */
	pid_t pid, tid;
	char comm[64];
	size_t comm_len;
	uint64_t lost;
	struct perf_mmap mmap;
	char filename[256];
};

static void on_sample(void *ctx, const struct perf_sample *s)
{
	struct seen *v = ctx;
	v->samples++;
	v->sample = *s;
	v->sample.stack = NULL;
	v->sample.callchain = NULL;
	assert_true(s->stack_dyn_size <= s->stack_size);
	assert_true(s->stack_dyn_size <= sizeof(v->stack));
	assert_true((s->stack == NULL) == (s->stack_size == 0));
	if (s->stack_dyn_size)
		memcpy(v->stack, s->stack, s->stack_dyn_size);
	assert_true(s->callchain_nr <= ARRAY_LEN(v->callchain));
	for (size_t i = 0; i < s->callchain_nr; i++)
		v->callchain[i] = perf_sample_callchain_ip(s, i);
	assert_true(s->nregs <= PERF_SAMPLE_REGS_MAX);
	assert_true(s->read.nr <= PERF_READ_MAX);
}

static void on_mmap2(void *ctx, const struct perf_mmap *m)
{
	struct seen *v = ctx;
	v->mmaps++;
	v->mmap = *m;
	v->mmap.filename = NULL;
	/* strlen on purpose: the name must be NUL-terminated within bounds */
	size_t n = strlen(m->filename);
	assert_true(n < sizeof(v->filename));
	memcpy(v->filename, m->filename, n + 1);
}

static void on_fork(void *ctx, pid_t pid, pid_t tid)
{
	struct seen *v = ctx;
	v->forks++;
	v->pid = pid;
	v->tid = tid;
}

static void on_exit_rec(void *ctx, pid_t pid, pid_t tid)
{
	struct seen *v = ctx;
	v->exits++;
	v->pid = pid;
	v->tid = tid;
}

static void on_comm(void *ctx, pid_t pid, pid_t tid, const char *comm)
{
	struct seen *v = ctx;
	v->comms++;
	v->pid = pid;
	v->tid = tid;
	/* strlen on purpose: the name must be NUL-terminated within bounds */
	v->comm_len = strlen(comm);
	assert_true(v->comm_len < sizeof(v->comm));
	memcpy(v->comm, comm, v->comm_len + 1);
}

static void on_lost(void *ctx, uint64_t count)
{
	struct seen *v = ctx;
	v->losts++;
	v->lost = count;
}

static struct perf_handlers handlers(struct seen *v)
{
	memset(v, 0, sizeof(*v));
	return (struct perf_handlers){ .ctx = v, .sample = on_sample, .fork = on_fork,
				       .exit = on_exit_rec, .comm = on_comm, .lost = on_lost };
}

static struct perf_handlers handlers_ext(struct seen *v)
{
	struct perf_handlers h = handlers(v);
	h.mmap2 = on_mmap2;
	return h;
}

static int calls(const struct seen *v)
{
	return v->samples + v->forks + v->exits + v->comms + v->losts + v->mmaps;
}

/* A record under construction; size is kept in the header when finished. */
struct rec {
	uint8_t b[REC_MAX];
	size_t n;
};

static void rec_begin(struct rec *r, uint32_t type)
{
	memset(r, 0, sizeof(*r));
	struct perf_event_header h = { .type = type, .misc = PERF_RECORD_MISC_USER };
	memcpy(r->b, &h, sizeof(h));
	r->n = sizeof(h);
}

static void rec_put(struct rec *r, const void *p, size_t n)
{
	assert_true(r->n + n <= REC_MAX);
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void rec_u32(struct rec *r, uint32_t v)
{
	rec_put(r, &v, sizeof(v));
}

static void rec_u64(struct rec *r, uint64_t v)
{
	rec_put(r, &v, sizeof(v));
}

static void rec_end(struct rec *r)
{
	uint16_t size = (uint16_t)r->n;
	memcpy(r->b + offsetof(struct perf_event_header, size), &size, sizeof(size));
}

/* Sets header.size to the given value, whatever the record's length. */
static void set_hdr_size(uint8_t *b, uint16_t size)
{
	memcpy(b + offsetof(struct perf_event_header, size), &size, sizeof(size));
}

/* Parse len bytes of b from a buffer of exactly len bytes. */
static int parse_exact(const uint8_t *b, size_t len, uint64_t st, const struct perf_handlers *h)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, b, len);
	int r = perf_parse_record(copy, len, st, h);
	free(copy);
	return r;
}

static int parse_rec(const struct rec *r, uint64_t st, const struct perf_handlers *h)
{
	return parse_exact(r->b, r->n, st, h);
}

/* The same through perf_parse_record_cfg(). */
static int parse_exact_cfg(const uint8_t *b, size_t len, const struct perf_parse_cfg *cfg,
			   const struct perf_handlers *h)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, b, len);
	int r = perf_parse_record_cfg(copy, len, cfg, h);
	free(copy);
	return r;
}

static int parse_rec_cfg(const struct rec *r, const struct perf_parse_cfg *cfg,
			 const struct perf_handlers *h)
{
	return parse_exact_cfg(r->b, r->n, cfg, h);
}

/* A sample with the default fields, in the kernel's order. */
static void sample_default(struct rec *r, uint32_t pid, uint32_t tid, uint64_t time,
			   uint32_t cpu, uint64_t period)
{
	rec_begin(r, PERF_RECORD_SAMPLE);
	rec_u32(r, pid);
	rec_u32(r, tid);
	rec_u64(r, time);
	rec_u32(r, cpu);
	rec_u32(r, 0xdeadbeef); /* res */
	rec_u64(r, period);
	rec_end(r);
}

static void fork_exit(struct rec *r, uint32_t type, uint32_t pid, uint32_t ppid, uint32_t tid,
		      uint32_t ptid)
{
	rec_begin(r, type);
	rec_u32(r, pid);
	rec_u32(r, ppid);
	rec_u32(r, tid);
	rec_u32(r, ptid);
	rec_u64(r, 123456789); /* time */
	rec_end(r);
}

/* COMM with the name bytes given as is (the kernel pads to 8 with NULs). */
static void comm_rec(struct rec *r, uint32_t pid, uint32_t tid, const void *name, size_t n)
{
	rec_begin(r, PERF_RECORD_COMM);
	rec_u32(r, pid);
	rec_u32(r, tid);
	rec_put(r, name, n);
	rec_end(r);
}

static void lost_rec(struct rec *r, uint64_t id, uint64_t lost)
{
	rec_begin(r, PERF_RECORD_LOST);
	rec_u64(r, id);
	rec_u64(r, lost);
	rec_end(r);
}

static void lost_samples_rec(struct rec *r, uint64_t lost)
{
	rec_begin(r, PERF_RECORD_LOST_SAMPLES);
	rec_u64(r, lost);
	rec_end(r);
}

static void test_sample_default(void **state)
{
	struct seen v;
	struct perf_handlers h = handlers(&v);
	struct rec r;

	(void)state;
	assert_int_equal(PERF_SAMPLE_FIELDS_DEFAULT, PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
							     PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD);
	sample_default(&r, 4242, 4243, 0x0123456789abcdefull, 7, 10000000);
	assert_int_equal(r.n, sizeof(struct perf_event_header) + 32);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.samples, 1);
	assert_int_equal(calls(&v), 1);
	assert_int_equal(v.sample.pid, 4242);
	assert_int_equal(v.sample.tid, 4243);
	assert_true(v.sample.time == 0x0123456789abcdefull);
	assert_int_equal(v.sample.cpu, 7);
	assert_int_equal(v.sample.period, 10000000);
	assert_int_equal(v.sample.has, 0);
	assert_null(v.sample.stack);
	assert_null(v.sample.callchain);
}

/* Every payload byte 0xff: each field comes back all ones, nothing else. */
static void test_sample_all_ones(void **state)
{
	struct seen v;
	struct perf_handlers h = handlers(&v);
	struct rec r;

	(void)state;
	rec_begin(&r, PERF_RECORD_SAMPLE);
	memset(r.b + r.n, 0xff, 32);
	r.n += 32;
	rec_end(&r);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.samples, 1);
	assert_int_equal(v.sample.pid, -1);
	assert_int_equal(v.sample.tid, -1);
	assert_true(v.sample.time == UINT64_MAX);
	assert_true(v.sample.cpu == UINT32_MAX);
	assert_true(v.sample.period == UINT64_MAX);
}

/* The fields it steps over: each subset of them, with distinct values in
 * every slot, still puts pid/tid/time/cpu/period where they belong. */
static void test_sample_skipped_fields(void **state)
{
	static const uint64_t skipped[] = { PERF_SAMPLE_IDENTIFIER, PERF_SAMPLE_IP,
					    PERF_SAMPLE_ADDR, PERF_SAMPLE_ID,
					    PERF_SAMPLE_STREAM_ID };
	(void)state;
	for (unsigned mask = 0; mask < 1u << ARRAY_LEN(skipped); mask++) {
		uint64_t st = PERF_SAMPLE_FIELDS_DEFAULT;
		for (size_t i = 0; i < ARRAY_LEN(skipped); i++)
			if (mask & (1u << i))
				st |= skipped[i];
		struct rec r;
		rec_begin(&r, PERF_RECORD_SAMPLE);
		/* the kernel's order for these bits */
		if (st & PERF_SAMPLE_IDENTIFIER)
			rec_u64(&r, 0x1111111111111111ull);
		if (st & PERF_SAMPLE_IP)
			rec_u64(&r, 0x2222222222222222ull);
		rec_u32(&r, 100);
		rec_u32(&r, 101);
		rec_u64(&r, 555);
		if (st & PERF_SAMPLE_ADDR)
			rec_u64(&r, 0x3333333333333333ull);
		if (st & PERF_SAMPLE_ID)
			rec_u64(&r, 0x4444444444444444ull);
		if (st & PERF_SAMPLE_STREAM_ID)
			rec_u64(&r, 0x5555555555555555ull);
		rec_u32(&r, 3);
		rec_u32(&r, 0);
		rec_u64(&r, 999);
		rec_end(&r);

		struct seen v;
		struct perf_handlers h = handlers(&v);
		assert_int_equal(parse_rec(&r, st, &h), 0);
		assert_int_equal(v.samples, 1);
		assert_int_equal(v.sample.pid, 100);
		assert_int_equal(v.sample.tid, 101);
		assert_int_equal(v.sample.time, 555);
		assert_int_equal(v.sample.cpu, 3);
		assert_int_equal(v.sample.period, 999);
		/* and the ones it now hands on too */
		assert_int_equal(v.sample.ip, (st & PERF_SAMPLE_IP) ? 0x2222222222222222ull : 0);
		assert_int_equal(v.sample.addr,
				 (st & PERF_SAMPLE_ADDR) ? 0x3333333333333333ull : 0);
		assert_int_equal(v.sample.id, (st & PERF_SAMPLE_ID) ? 0x4444444444444444ull
					      : (st & PERF_SAMPLE_IDENTIFIER) ? 0x1111111111111111ull
									      : 0);
		assert_int_equal(v.sample.stream_id,
				 (st & PERF_SAMPLE_STREAM_ID) ? 0x5555555555555555ull : 0);
	}
}

/* Fields left out of sample_type stay zero in struct perf_sample. */
static void test_sample_subset(void **state)
{
	struct seen v;
	struct perf_handlers h = handlers(&v);
	struct rec r;

	(void)state;
	rec_begin(&r, PERF_RECORD_SAMPLE);
	rec_u32(&r, 77);
	rec_u32(&r, 78);
	rec_end(&r);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_TID, &h), 0);
	assert_int_equal(v.samples, 1);
	assert_int_equal(v.sample.pid, 77);
	assert_int_equal(v.sample.tid, 78);
	assert_int_equal(v.sample.time, 0);
	assert_int_equal(v.sample.cpu, 0);
	assert_int_equal(v.sample.period, 0);
}

/*
 * Every bit of sample_type, one at a time on top of the default: a bit the
 * parser steps over parses, any other (CALLCHAIN, READ, ... and bits the
 * kernel has not defined yet) is refused, even with plenty of bytes after
 * the fields it knows.
 */
static void test_sample_unknown_bits(void **state)
{
	(void)state;
	for (int bit = 0; bit < 64; bit++) {
		uint64_t b = 1ull << bit;
		uint64_t st = PERF_SAMPLE_FIELDS_DEFAULT | b;
		struct rec r;
		rec_begin(&r, PERF_RECORD_SAMPLE);
		memset(r.b + r.n, 0, 256);
		r.n += 256;
		rec_end(&r);

		struct seen v;
		struct perf_handlers h = handlers(&v);
		int ret = parse_rec(&r, st, &h);
		if (b & KNOWN_SAMPLE_BITS) {
			if (ret != 0)
				fail_msg("sample_type bit %d: got %d, want 0", bit, ret);
			assert_int_equal(v.samples, 1);
		} else {
			if (ret != -EINVAL)
				fail_msg("sample_type bit %d: got %d, want -EINVAL", bit, ret);
			assert_int_equal(calls(&v), 0);
		}
	}
	/* The header's list agrees with ours. */
	assert_true(PERF_PARSE_SAMPLE_TYPES == KNOWN_SAMPLE_BITS);
	/* A field named but absent from the record (the default record ends at
	 * PERIOD) is a short record; BRANCH_STACK, and the fields after
	 * STACK_USER, are refused outright. */
	struct rec r;
	struct seen v;
	struct perf_handlers h = handlers(&v);
	sample_default(&r, 1, 2, 3, 4, 5);
	static const uint64_t refused[] = { PERF_SAMPLE_CALLCHAIN, PERF_SAMPLE_READ,
					    PERF_SAMPLE_REGS_USER, PERF_SAMPLE_STACK_USER,
					    PERF_SAMPLE_BRANCH_STACK, PERF_SAMPLE_WEIGHT,
					    PERF_SAMPLE_REGS_INTR };
	for (size_t i = 0; i < ARRAY_LEN(refused); i++)
		assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT | refused[i], &h),
				 -EINVAL);
	assert_int_equal(calls(&v), 0);
}

/*
 * Each valid record cut to every shorter length, twice: with header.size
 * still saying the full size, and with header.size matching the cut (a
 * consistent but too short record). Also header.size disagreeing with a
 * full-length buffer either way. All -EINVAL, no handler called.
 */
static void check_truncations_cfg(const struct rec *full, size_t min_valid,
				  const struct perf_parse_cfg *cfg)
{
	uint8_t b[REC_MAX + 16];

	for (size_t len = 0; len < full->n; len++) {
		struct seen v;
		struct perf_handlers h = handlers_ext(&v);

		memcpy(b, full->b, full->n);
		int ret = parse_exact_cfg(b, len, cfg, &h);
		if (ret != -EINVAL)
			fail_msg("type %u, len %zu of %zu (size %zu): got %d", full->b[0], len,
				 full->n, full->n, ret);
		assert_int_equal(calls(&v), 0);

		if (len < sizeof(struct perf_event_header) || len >= min_valid)
			continue;
		set_hdr_size(b, (uint16_t)len);
		ret = parse_exact_cfg(b, len, cfg, &h);
		if (ret != -EINVAL)
			fail_msg("type %u, len %zu = size: got %d", full->b[0], len, ret);
		assert_int_equal(calls(&v), 0);
	}

	/* header.size smaller or larger than the bytes given */
	struct seen v;
	struct perf_handlers h = handlers_ext(&v);
	memset(b, 0, sizeof(b));
	memcpy(b, full->b, full->n);
	assert_int_equal(parse_exact_cfg(b, full->n + 8, cfg, &h), -EINVAL);
	set_hdr_size(b, (uint16_t)(full->n + 8));
	assert_int_equal(parse_exact_cfg(b, full->n, cfg, &h), -EINVAL);
	set_hdr_size(b, 0);
	assert_int_equal(parse_exact_cfg(b, full->n, cfg, &h), -EINVAL);
	set_hdr_size(b, UINT16_MAX);
	assert_int_equal(parse_exact_cfg(b, full->n, cfg, &h), -EINVAL);
	assert_int_equal(calls(&v), 0);

	/* and the full record is accepted, so the cuts above were the cause */
	assert_int_equal(parse_exact_cfg(full->b, full->n, cfg, &h), 0);
}

static void check_truncations(const struct rec *full, size_t min_valid, uint64_t st)
{
	const struct perf_parse_cfg cfg = { .sample_type = st };
	check_truncations_cfg(full, min_valid, &cfg);
}

static void test_truncations(void **state)
{
	const size_t hdr = sizeof(struct perf_event_header);
	struct rec r;

	(void)state;
	sample_default(&r, 1, 2, 3, 4, 5);
	check_truncations(&r, r.n, PERF_SAMPLE_FIELDS_DEFAULT);
	sample_default(&r, 1, 2, 3, 4, 5);
	memset(r.b + hdr, 0xff, r.n - hdr);
	check_truncations(&r, r.n, PERF_SAMPLE_FIELDS_DEFAULT);

	rec_begin(&r, PERF_RECORD_SAMPLE);
	for (int i = 0; i < 9; i++)
		rec_u64(&r, 0x0101010101010101ull * (uint64_t)(i + 1));
	rec_end(&r);
	check_truncations(&r, r.n, FIXED_SAMPLE_BITS);

	fork_exit(&r, PERF_RECORD_FORK, 10, 1, 11, 10);
	check_truncations(&r, hdr + 16, 0);
	fork_exit(&r, PERF_RECORD_EXIT, 10, 1, 11, 10);
	check_truncations(&r, hdr + 16, 0);
	/* the name bytes may be cut (see test_comm); pid and tid may not */
	comm_rec(&r, 10, 11, "python3\0", 8);
	check_truncations(&r, hdr + 8, 0);
	lost_rec(&r, 1, 2);
	check_truncations(&r, r.n, 0);
	lost_samples_rec(&r, 3);
	check_truncations(&r, r.n, 0);
	/* a type we skip still needs a whole header that matches len */
	rec_begin(&r, PERF_RECORD_THROTTLE);
	rec_u64(&r, 0);
	rec_end(&r);
	check_truncations(&r, hdr, 0);
}

static void test_fork_exit(void **state)
{
	struct seen v;
	struct perf_handlers h = handlers(&v);
	struct rec r;

	(void)state;
	/* pid, ppid, tid, ptid all different so a mix-up shows */
	fork_exit(&r, PERF_RECORD_FORK, 1000, 999, 1005, 1001);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.forks, 1);
	assert_int_equal(calls(&v), 1);
	assert_int_equal(v.pid, 1000);
	assert_int_equal(v.tid, 1005);

	h = handlers(&v);
	fork_exit(&r, PERF_RECORD_EXIT, 2000, 1, 2007, 2003);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.exits, 1);
	assert_int_equal(calls(&v), 1);
	assert_int_equal(v.pid, 2000);
	assert_int_equal(v.tid, 2007);

	/* without the trailing time (sample_id_all off would still have it,
	 * but only pid..ptid are needed) */
	h = handlers(&v);
	rec_begin(&r, PERF_RECORD_FORK);
	rec_u32(&r, 5);
	rec_u32(&r, 4);
	rec_u32(&r, 6);
	rec_u32(&r, 5);
	rec_end(&r);
	assert_int_equal(parse_rec(&r, 0, &h), 0);
	assert_int_equal(v.forks, 1);
	assert_int_equal(v.pid, 5);
	assert_int_equal(v.tid, 6);
}

static void test_comm(void **state)
{
	struct seen v;
	struct perf_handlers h = handlers(&v);
	struct rec r;

	(void)state;
	comm_rec(&r, 300, 301, "worker\0\0", 8);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.comms, 1);
	assert_int_equal(calls(&v), 1);
	assert_int_equal(v.pid, 300);
	assert_int_equal(v.tid, 301);
	assert_string_equal(v.comm, "worker");

	/* followed by sample_id_all data: the name ends at its NUL */
	h = handlers(&v);
	rec_begin(&r, PERF_RECORD_COMM);
	rec_u32(&r, 1);
	rec_u32(&r, 2);
	rec_put(&r, "py\0\0\0\0\0\0", 8);
	rec_u64(&r, 0x4141414141414141ull);
	rec_end(&r);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_string_equal(v.comm, "py");

	/* 16 bytes, no NUL anywhere, record ends there: 16 chars, terminated */
	h = handlers(&v);
	comm_rec(&r, 7, 8, "0123456789abcdef", 16);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.comms, 1);
	assert_int_equal(v.comm_len, 16);
	assert_string_equal(v.comm, "0123456789abcdef");

	/* longer than a comm can be, no NUL: cut at 16 */
	h = handlers(&v);
	comm_rec(&r, 7, 8, "0123456789abcdefGHIJKLMN", 24);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.comm_len, 16);
	assert_string_equal(v.comm, "0123456789abcdef");

	/* name cut by the end of the record, no NUL: what is there, terminated */
	h = handlers(&v);
	comm_rec(&r, 7, 8, "abc", 3);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.comms, 1);
	assert_string_equal(v.comm, "abc");

	/* every byte 0xff, 16 of them */
	h = handlers(&v);
	comm_rec(&r, 7, 8, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
		 16);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.comm_len, 16);
}

static void test_lost(void **state)
{
	struct seen v;
	struct perf_handlers h = handlers(&v);
	struct rec r;

	(void)state;
	lost_rec(&r, 0xaaaaaaaaaaaaaaaaull, 12345);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.losts, 1);
	assert_int_equal(calls(&v), 1);
	assert_int_equal(v.lost, 12345);

	h = handlers(&v);
	lost_rec(&r, 1, UINT64_MAX);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_true(v.lost == UINT64_MAX);

	h = handlers(&v);
	lost_samples_rec(&r, 678);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
	assert_int_equal(v.losts, 1);
	assert_int_equal(calls(&v), 1);
	assert_int_equal(v.lost, 678);
}

/* Types the parser does not handle are skipped whole, with no callback. */
static void test_unknown_type(void **state)
{
	static const uint32_t types[] = { PERF_RECORD_THROTTLE, PERF_RECORD_UNTHROTTLE,
					  PERF_RECORD_READ, 0, 0x7fff, 0xffffffffu };
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		for (size_t extra = 0; extra <= 64; extra += 32) {
			struct seen v;
			struct perf_handlers h = handlers(&v);
			struct rec r;
			rec_begin(&r, types[i]);
			memset(r.b + r.n, 0x5a, extra);
			r.n += extra;
			rec_end(&r);
			assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &h), 0);
			assert_int_equal(calls(&v), 0);
		}
	}
}

/* A table with no callbacks (or only some) parses every kind of record. */
static void test_null_handlers(void **state)
{
	struct perf_handlers none = { 0 };
	struct rec recs[6];

	(void)state;
	sample_default(&recs[0], 1, 2, 3, 4, 5);
	fork_exit(&recs[1], PERF_RECORD_FORK, 1, 0, 2, 1);
	fork_exit(&recs[2], PERF_RECORD_EXIT, 1, 0, 2, 1);
	comm_rec(&recs[3], 1, 2, "name\0\0\0\0", 8);
	lost_rec(&recs[4], 1, 2);
	lost_samples_rec(&recs[5], 2);
	for (size_t i = 0; i < ARRAY_LEN(recs); i++)
		assert_int_equal(parse_rec(&recs[i], PERF_SAMPLE_FIELDS_DEFAULT, &none), 0);

	/* only lost set: it alone is called, the rest skipped */
	struct seen v;
	memset(&v, 0, sizeof(v));
	struct perf_handlers only_lost = { .ctx = &v, .lost = on_lost };
	for (size_t i = 0; i < ARRAY_LEN(recs); i++)
		assert_int_equal(parse_rec(&recs[i], PERF_SAMPLE_FIELDS_DEFAULT, &only_lost), 0);
	assert_int_equal(v.losts, 2);
	assert_int_equal(calls(&v), 2);

	/* still refused when malformed */
	assert_int_equal(parse_exact(recs[0].b, recs[0].n - 1, PERF_SAMPLE_FIELDS_DEFAULT, &none),
			 -EINVAL);
}

/*
 * Samples with the variable fields, built from a description in the
 * kernel's order; the parser must hand the description back.
 */
struct want {
	uint32_t pid, tid, cpu;
	uint64_t id, ip, time, addr, stream_id, period;
	struct perf_read read;          /* format comes from the cfg */
	uint64_t callchain_nr, callchain[8];
	uint32_t raw_size;
	uint64_t regs_abi, regs[PERF_SAMPLE_REGS_MAX];
	uint64_t stack_size, stack_dyn_size;
	uint8_t stack_fill;             /* 0: a pattern of distinct bytes */
};

#define X86_BP_SP_IP ((1ull << 6) | (1ull << 7) | (1ull << 8))
#define X86_18_REGS 0xff03ffull    /* ax..ip, flags, r8..r15 */

static uint8_t stack_byte(const struct want *w, size_t i)
{
	return w->stack_fill ? w->stack_fill : (uint8_t)(i * 7 + 1);
}

static size_t nregs_of(const struct perf_parse_cfg *cfg, const struct want *w)
{
	return w->regs_abi == PERF_SAMPLE_REGS_ABI_NONE
		       ? 0
		       : (size_t)__builtin_popcountll(cfg->sample_regs_user);
}

static void put_read(struct rec *r, uint64_t fmt, const struct perf_read *rd)
{
	const int group = (fmt & PERF_FORMAT_GROUP) != 0;

	rec_u64(r, group ? rd->nr : rd->v[0].value);
	if (fmt & PERF_FORMAT_TOTAL_TIME_ENABLED)
		rec_u64(r, rd->time_enabled);
	if (fmt & PERF_FORMAT_TOTAL_TIME_RUNNING)
		rec_u64(r, rd->time_running);
	for (uint64_t i = 0; i < (group ? rd->nr : 1); i++) {
		if (group)
			rec_u64(r, rd->v[i].value);
		if (fmt & PERF_FORMAT_ID)
			rec_u64(r, rd->v[i].id);
		if (fmt & PERF_FORMAT_LOST)
			rec_u64(r, rd->v[i].lost);
	}
}

static void put_variable(struct rec *r, const struct perf_parse_cfg *cfg, const struct want *w)
{
	const uint64_t st = cfg->sample_type;

	if (st & PERF_SAMPLE_READ)
		put_read(r, cfg->read_format, &w->read);
	if (st & PERF_SAMPLE_CALLCHAIN) {
		rec_u64(r, w->callchain_nr);
		for (uint64_t i = 0; i < w->callchain_nr; i++)
			rec_u64(r, w->callchain[i]);
	}
	if (st & PERF_SAMPLE_RAW) {
		rec_u32(r, w->raw_size);
		for (uint32_t i = 0; i < w->raw_size; i++)
			rec_put(r, "\xab", 1);
	}
	if (st & PERF_SAMPLE_REGS_USER) {
		rec_u64(r, w->regs_abi);
		for (size_t i = 0; i < nregs_of(cfg, w); i++)
			rec_u64(r, w->regs[i]);
	}
	if (st & PERF_SAMPLE_STACK_USER) {
		rec_u64(r, w->stack_size);
		for (uint64_t i = 0; i < w->stack_size; i++) {
			uint8_t b = stack_byte(w, i);
			rec_put(r, &b, 1);
		}
		if (w->stack_size)
			rec_u64(r, w->stack_dyn_size);
	}
}

static void sample_build(struct rec *r, const struct perf_parse_cfg *cfg, const struct want *w)
{
	const uint64_t st = cfg->sample_type;

	rec_begin(r, PERF_RECORD_SAMPLE);
	if (st & PERF_SAMPLE_IDENTIFIER)
		rec_u64(r, w->id);
	if (st & PERF_SAMPLE_IP)
		rec_u64(r, w->ip);
	if (st & PERF_SAMPLE_TID) {
		rec_u32(r, w->pid);
		rec_u32(r, w->tid);
	}
	if (st & PERF_SAMPLE_TIME)
		rec_u64(r, w->time);
	if (st & PERF_SAMPLE_ADDR)
		rec_u64(r, w->addr);
	if (st & PERF_SAMPLE_ID)
		rec_u64(r, w->id);
	if (st & PERF_SAMPLE_STREAM_ID)
		rec_u64(r, w->stream_id);
	if (st & PERF_SAMPLE_CPU) {
		rec_u32(r, w->cpu);
		rec_u32(r, 0xdeadbeef); /* res */
	}
	if (st & PERF_SAMPLE_PERIOD)
		rec_u64(r, w->period);
	put_variable(r, cfg, w);
	rec_end(r);
}

/* Expected value of a fixed field: what was written, or 0 when absent. */
#define IF_ST(bit, val) ((st & (bit)) ? (val) : 0)

static void check_read(const struct perf_sample *s, const struct perf_parse_cfg *cfg,
		       const struct want *w)
{
	const uint64_t fmt = cfg->read_format;

	if (!(cfg->sample_type & PERF_SAMPLE_READ)) {
		assert_int_equal(s->read.nr, 0);
		assert_int_equal(s->read.format, 0);
		return;
	}
	assert_int_equal(s->read.format, fmt);
	assert_int_equal(s->read.nr, (fmt & PERF_FORMAT_GROUP) ? w->read.nr : 1);
	assert_int_equal(s->read.time_enabled,
			 (fmt & PERF_FORMAT_TOTAL_TIME_ENABLED) ? w->read.time_enabled : 0);
	assert_int_equal(s->read.time_running,
			 (fmt & PERF_FORMAT_TOTAL_TIME_RUNNING) ? w->read.time_running : 0);
	for (size_t i = 0; i < PERF_READ_MAX; i++) {
		const struct perf_read_value *g = &s->read.v[i], *e = &w->read.v[i];
		int used = i < s->read.nr;
		assert_int_equal(g->value, used ? e->value : 0);
		assert_int_equal(g->id, used && (fmt & PERF_FORMAT_ID) ? e->id : 0);
		assert_int_equal(g->lost, used && (fmt & PERF_FORMAT_LOST) ? e->lost : 0);
	}
}

static void check_variable(const struct seen *v, const struct perf_parse_cfg *cfg,
			   const struct want *w)
{
	const uint64_t st = cfg->sample_type;
	const struct perf_sample *s = &v->sample;

	check_read(s, cfg, w);
	assert_int_equal(s->callchain_nr, IF_ST(PERF_SAMPLE_CALLCHAIN, w->callchain_nr));
	for (size_t i = 0; i < s->callchain_nr; i++)
		assert_int_equal(v->callchain[i], w->callchain[i]);

	assert_int_equal(s->regs_abi, IF_ST(PERF_SAMPLE_REGS_USER, w->regs_abi));
	size_t nregs = IF_ST(PERF_SAMPLE_REGS_USER, nregs_of(cfg, w));
	assert_int_equal(s->nregs, nregs);
	for (size_t i = 0; i < PERF_SAMPLE_REGS_MAX; i++)
		assert_int_equal(s->regs[i], i < nregs ? w->regs[i] : 0);

	assert_int_equal(s->stack_size, IF_ST(PERF_SAMPLE_STACK_USER, w->stack_size));
	assert_int_equal(s->stack_dyn_size,
			 IF_ST(PERF_SAMPLE_STACK_USER, w->stack_size ? w->stack_dyn_size : 0));
	for (size_t i = 0; i < s->stack_dyn_size; i++)
		assert_int_equal(v->stack[i], stack_byte(w, i));
}

/* v saw exactly one sample, and it is w as seen through cfg. */
static void check_sample(const struct seen *v, const struct perf_parse_cfg *cfg,
			 const struct want *w)
{
	const uint64_t st = cfg->sample_type;
	const struct perf_sample *s = &v->sample;

	assert_int_equal(v->samples, 1);
	assert_int_equal(calls(v), 1);
	assert_int_equal(s->id, IF_ST(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_ID, w->id));
	assert_int_equal(s->ip, IF_ST(PERF_SAMPLE_IP, w->ip));
	assert_int_equal(s->pid, IF_ST(PERF_SAMPLE_TID, (pid_t)w->pid));
	assert_int_equal(s->tid, IF_ST(PERF_SAMPLE_TID, (pid_t)w->tid));
	assert_int_equal(s->time, IF_ST(PERF_SAMPLE_TIME, w->time));
	assert_int_equal(s->addr, IF_ST(PERF_SAMPLE_ADDR, w->addr));
	assert_int_equal(s->stream_id, IF_ST(PERF_SAMPLE_STREAM_ID, w->stream_id));
	assert_int_equal(s->cpu, IF_ST(PERF_SAMPLE_CPU, w->cpu));
	assert_int_equal(s->period, IF_ST(PERF_SAMPLE_PERIOD, w->period));
	unsigned has = IF_ST(PERF_SAMPLE_READ, PERF_HAS_READ) |
		       IF_ST(PERF_SAMPLE_CALLCHAIN, PERF_HAS_CALLCHAIN) |
		       IF_ST(PERF_SAMPLE_REGS_USER, PERF_HAS_REGS_USER) |
		       IF_ST(PERF_SAMPLE_STACK_USER, PERF_HAS_STACK_USER);
	assert_int_equal(s->has, has);
	check_variable(v, cfg, w);
}

/* Build w under cfg, parse it, check it came back; then every cut. */
static void round_trip(const struct perf_parse_cfg *cfg, const struct want *w)
{
	struct rec r;
	struct seen v;
	struct perf_handlers h = handlers_ext(&v);

	sample_build(&r, cfg, w);
	assert_int_equal(parse_rec_cfg(&r, cfg, &h), 0);
	check_sample(&v, cfg, w);
	check_truncations_cfg(&r, r.n, cfg);
}

/* A description with a distinct value in every slot. */
static void want_distinct(struct want *w)
{
	memset(w, 0, sizeof(*w));
	w->pid = 4242;
	w->tid = 4243;
	w->cpu = 5;
	w->id = 0x1d1d1d1d1d1d1d1dull;
	w->ip = 0x00007f1234567890ull;
	w->time = 0x0123456789abcdefull;
	w->addr = 0xaddaddaddaddull;
	w->stream_id = 0x5151515151515151ull;
	w->period = 10000000;
	w->read.nr = 3;
	w->read.time_enabled = 1000001;
	w->read.time_running = 999999;
	for (size_t i = 0; i < PERF_READ_MAX; i++) {
		w->read.v[i].value = 100000 + i;
		w->read.v[i].id = 7000 + i;
		w->read.v[i].lost = 30 + i;
	}
	w->callchain_nr = 3;
	w->callchain[0] = (uint64_t)PERF_CONTEXT_USER;
	w->callchain[1] = 0x00007f0000001234ull;
	w->callchain[2] = 0x0000555555554321ull;
	w->raw_size = 4;
	w->regs_abi = PERF_SAMPLE_REGS_ABI_64;
	for (size_t i = 0; i < PERF_SAMPLE_REGS_MAX; i++)
		w->regs[i] = 0x1000000000000000ull + 0x0101 * i;
	w->stack_size = 64;
	w->stack_dyn_size = 40;
}

/* Every value all ones; sizes and counts sane so the record stays valid. */
static void want_ones(struct want *w, uint64_t stack_size)
{
	memset(w, 0xff, sizeof(*w));
	w->read.nr = 3;
	w->callchain_nr = 3;
	w->raw_size = 4;
	w->stack_size = stack_size;
	w->stack_dyn_size = stack_size;
	w->stack_fill = 0xff;
}

static void test_regs_user(void **state)
{
	const uint64_t st = PERF_SAMPLE_FIELDS_DEFAULT | PERF_SAMPLE_REGS_USER;
	struct perf_parse_cfg cfg = { st, X86_BP_SP_IP, 0 };
	struct want w;
	struct rec r;

	(void)state;
	want_distinct(&w);
	round_trip(&cfg, &w);
	sample_build(&r, &cfg, &w);
	assert_int_equal(r.n, sizeof(struct perf_event_header) + 32 + 8 + 3 * 8);

	cfg.sample_regs_user = X86_18_REGS;
	round_trip(&cfg, &w);
	w.regs_abi = PERF_SAMPLE_REGS_ABI_32;
	round_trip(&cfg, &w);
	cfg.sample_regs_user = UINT64_MAX;           /* 64 registers, the most */
	round_trip(&cfg, &w);
	cfg.sample_regs_user = 0;                    /* an ABI, no registers */
	round_trip(&cfg, &w);

	/* ABI_NONE (no user context): no values, whatever the mask */
	cfg.sample_regs_user = X86_18_REGS;
	w.regs_abi = PERF_SAMPLE_REGS_ABI_NONE;
	round_trip(&cfg, &w);
	sample_build(&r, &cfg, &w);
	assert_int_equal(r.n, sizeof(struct perf_event_header) + 32 + 8);
	/* and the field after it is read where it is, not 18 values on */
	cfg.sample_type |= PERF_SAMPLE_STACK_USER;
	round_trip(&cfg, &w);

	/* all ones: an ABI the parser passes on as is, three registers */
	struct seen v;
	struct perf_handlers h = handlers_ext(&v);
	cfg = (struct perf_parse_cfg){ PERF_SAMPLE_REGS_USER, X86_BP_SP_IP, 0 };
	rec_begin(&r, PERF_RECORD_SAMPLE);
	memset(r.b + r.n, 0xff, 32);
	r.n += 32;
	rec_end(&r);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	want_ones(&w, 0);
	check_sample(&v, &cfg, &w);
	check_truncations_cfg(&r, r.n, &cfg);
}

static void test_stack_user(void **state)
{
	const size_t hdr = sizeof(struct perf_event_header);
	struct perf_parse_cfg cfg = { PERF_SAMPLE_FIELDS_DEFAULT | PERF_SAMPLE_STACK_USER, 0, 0 };
	struct want w;
	struct rec r;
	struct seen v;
	struct perf_handlers h;

	(void)state;
	want_distinct(&w);
	round_trip(&cfg, &w);                        /* 64 bytes, 40 valid */
	w.stack_dyn_size = 64;
	round_trip(&cfg, &w);
	w.stack_dyn_size = 0;
	round_trip(&cfg, &w);

	/* size 0: no data and no dyn_size; what follows is not taken for one */
	w.stack_size = 0;
	round_trip(&cfg, &w);
	sample_build(&r, &cfg, &w);
	assert_int_equal(r.n, hdr + 32 + 8);
	rec_u64(&r, 24);
	rec_end(&r);
	h = handlers_ext(&v);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	check_sample(&v, &cfg, &w);

	/* dyn_size > size */
	want_distinct(&w);
	static const uint64_t bad_dyn[] = { 65, 1ull << 32, UINT64_MAX };
	for (size_t i = 0; i < ARRAY_LEN(bad_dyn); i++) {
		w.stack_dyn_size = bad_dyn[i];
		sample_build(&r, &cfg, &w);
		h = handlers_ext(&v);
		assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
		assert_int_equal(calls(&v), 0);
	}

	/* size past the end of the record, including sizes that wrap a pointer */
	w.stack_dyn_size = 40;
	static const uint64_t bad_size[] = { 72, 65, 1ull << 32, UINT64_MAX - 7, UINT64_MAX };
	for (size_t i = 0; i < ARRAY_LEN(bad_size); i++) {
		sample_build(&r, &cfg, &w);
		memcpy(r.b + hdr + 32, &bad_size[i], 8);
		h = handlers_ext(&v);
		assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
		assert_int_equal(calls(&v), 0);
	}

	/* all ones in the stack bytes */
	want_ones(&w, 64);
	round_trip(&cfg, &w);
}

static void test_read(void **state)
{
	const uint64_t te_tr_id = PERF_FORMAT_TOTAL_TIME_ENABLED |
				  PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID;
	struct perf_parse_cfg cfg = { PERF_SAMPLE_FIELDS_DEFAULT | PERF_SAMPLE_READ, 0,
				      PERF_FORMAT_GROUP | te_tr_id };
	struct want w;
	struct rec r;
	struct seen v;
	struct perf_handlers h;

	(void)state;
	want_distinct(&w);
	round_trip(&cfg, &w);                        /* the group of issue 4 */
	sample_build(&r, &cfg, &w);
	assert_int_equal(r.n, sizeof(struct perf_event_header) + 32 + 8 + 16 + 3 * 16);

	/* every format, grouped (1, 3 and the most members) and not */
	for (uint64_t fmt = 0; fmt < 32; fmt++) {
		cfg.read_format = fmt;
		for (uint64_t nr = 0; nr <= PERF_READ_MAX; nr += nr < 3 ? 1 : PERF_READ_MAX - 3) {
			w.read.nr = nr;
			round_trip(&cfg, &w);
		}
	}

	/* all ones */
	want_ones(&w, 0);
	for (uint64_t fmt = 0; fmt < 32; fmt++) {
		cfg.read_format = fmt;
		round_trip(&cfg, &w);
	}

	/* more members than we keep, or than the record holds */
	want_distinct(&w);
	cfg.read_format = PERF_FORMAT_GROUP;
	static const uint64_t bad_nr[] = { PERF_READ_MAX + 1, 1ull << 60, UINT64_MAX };
	for (size_t i = 0; i < ARRAY_LEN(bad_nr); i++) {
		sample_default(&r, 1, 2, 3, 4, 5);
		rec_u64(&r, bad_nr[i]);
		for (int k = 0; k < PERF_READ_MAX + 1; k++)
			rec_u64(&r, 9);
		rec_end(&r);
		h = handlers_ext(&v);
		assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
		assert_int_equal(calls(&v), 0);
	}

	/* a read_format bit we do not know: refused, plenty of bytes or not;
	 * ignored when the sample has no READ */
	w.read.nr = 1;
	cfg.read_format = PERF_FORMAT_GROUP | te_tr_id;
	sample_build(&r, &cfg, &w);
	memset(r.b + r.n, 0, 256);
	r.n += 256;
	rec_end(&r);
	for (int bit = 5; bit < 64; bit++) {
		cfg.read_format = (PERF_FORMAT_GROUP | te_tr_id) | (1ull << bit);
		h = handlers_ext(&v);
		assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
		assert_int_equal(calls(&v), 0);
	}
	sample_default(&r, 1, 2, 3, 4, 5);
	cfg.sample_type = PERF_SAMPLE_FIELDS_DEFAULT;
	h = handlers_ext(&v);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	assert_int_equal(v.samples, 1);

	/* the old entry point: read_format 0, the value alone */
	struct perf_handlers hb = handlers(&v);
	sample_default(&r, 1, 2, 3, 4, 5);
	rec_u64(&r, 31337);
	rec_end(&r);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT | PERF_SAMPLE_READ, &hb), 0);
	assert_int_equal(v.samples, 1);
	assert_int_equal(v.sample.has, PERF_HAS_READ);
	assert_int_equal(v.sample.read.nr, 1);
	assert_int_equal(v.sample.read.v[0].value, 31337);
}

static void test_callchain_raw(void **state)
{
	const size_t hdr = sizeof(struct perf_event_header);
	struct perf_parse_cfg cfg = { PERF_SAMPLE_FIELDS_DEFAULT | PERF_SAMPLE_CALLCHAIN |
					      PERF_SAMPLE_RAW | PERF_SAMPLE_REGS_USER,
				      X86_BP_SP_IP, 0 };
	struct want w;
	struct rec r;
	struct seen v;
	struct perf_handlers h;

	(void)state;
	want_distinct(&w);
	round_trip(&cfg, &w);
	w.callchain_nr = 0;
	round_trip(&cfg, &w);
	w.callchain_nr = ARRAY_LEN(w.callchain);
	round_trip(&cfg, &w);
	for (uint32_t raw = 0; raw <= 20; raw += 4) { /* u32 size + data: 4, 12, 20 align */
		w.raw_size = raw;
		round_trip(&cfg, &w);
	}

	/* counts past the end, including ones whose byte size wraps: times 8,
	 * (1 << 61) + 3 is 24, just the three addresses that are there */
	w.raw_size = 4;
	w.callchain_nr = 3;
	static const uint64_t bad_nr[] = { 9, 1ull << 61, (1ull << 61) + 3, UINT64_MAX };
	for (size_t i = 0; i < ARRAY_LEN(bad_nr); i++) {
		sample_build(&r, &cfg, &w);
		memcpy(r.b + hdr + 32, &bad_nr[i], 8);
		h = handlers_ext(&v);
		assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
		assert_int_equal(calls(&v), 0);
	}
	static const uint32_t bad_raw[] = { 48, 49, UINT32_MAX };
	for (size_t i = 0; i < ARRAY_LEN(bad_raw); i++) {
		sample_build(&r, &cfg, &w);
		memcpy(r.b + hdr + 32 + 8 + 3 * 8, &bad_raw[i], 4);
		h = handlers_ext(&v);
		assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
		assert_int_equal(calls(&v), 0);
	}

	want_ones(&w, 0);
	round_trip(&cfg, &w);
}

/* Every field the parser knows in one record, the way issue 3 and 4 ask. */
static void test_sample_combined(void **state)
{
	struct perf_parse_cfg cfg = { KNOWN_SAMPLE_BITS, X86_18_REGS,
				      PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
					      PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID };
	struct want w;

	(void)state;
	want_distinct(&w);
	round_trip(&cfg, &w);
	want_ones(&w, 64);
	round_trip(&cfg, &w);

	/* the most of everything this test's buffer holds */
	cfg.sample_regs_user = UINT64_MAX;
	cfg.read_format |= PERF_FORMAT_LOST;
	want_distinct(&w);
	w.read.nr = 4;
	round_trip(&cfg, &w);

	/* and with no user context: ABI_NONE, an empty stack */
	w.regs_abi = PERF_SAMPLE_REGS_ABI_NONE;
	w.stack_size = 0;
	round_trip(&cfg, &w);
}

/* PERF_RECORD_MMAP2 with fixed values, in either form, then the name. */
static void mmap2_rec(struct rec *r, uint16_t misc, const void *name, size_t n)
{
	rec_begin(r, PERF_RECORD_MMAP2);
	memcpy(r->b + offsetof(struct perf_event_header, misc), &misc, sizeof(misc));
	rec_u32(r, 500);
	rec_u32(r, 501);
	rec_u64(r, 0x00007f0000001000ull);
	rec_u64(r, 0x21000);
	rec_u64(r, 0x3000);
	if (misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
		uint8_t id[24];
		memset(id, 0xee, sizeof(id));   /* reserved bytes: ignored */
		id[0] = 20;
		for (int i = 0; i < 20; i++)
			id[4 + i] = (uint8_t)(0xb0 + i);
		rec_put(r, id, sizeof(id));
	} else {
		rec_u32(r, 8);
		rec_u32(r, 1);
		rec_u64(r, 123456);
		rec_u64(r, 7);
	}
	rec_u32(r, 5);   /* PROT_READ | PROT_EXEC */
	rec_u32(r, 2);   /* MAP_PRIVATE */
	rec_put(r, name, n);
	rec_end(r);
}

static void mmap_old_rec(struct rec *r, uint16_t misc, const void *name, size_t n)
{
	rec_begin(r, PERF_RECORD_MMAP);
	memcpy(r->b + offsetof(struct perf_event_header, misc), &misc, sizeof(misc));
	rec_u32(r, 600);
	rec_u32(r, 602);
	rec_u64(r, 0x400000);
	rec_u64(r, 0x1000);
	rec_u64(r, 0);
	rec_put(r, name, n);
	rec_end(r);
}

#define LIBPY "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"
#define LIBPY_PADDED LIBPY "\0"   /* 46 chars, NUL, NUL: 48 bytes */
#define MMAP2_NAME_AT (sizeof(struct perf_event_header) + 64)

static void check_mmap_common(const struct seen *v, uint32_t type, uint16_t misc)
{
	assert_int_equal(v->mmaps, 1);
	assert_int_equal(calls(v), 1);
	assert_int_equal(v->mmap.type, type);
	assert_int_equal(v->mmap.misc, misc);
}

static void test_mmap2(void **state)
{
	const uint16_t user = PERF_RECORD_MISC_USER;
	const uint16_t bid = PERF_RECORD_MISC_USER | PERF_RECORD_MISC_MMAP_BUILD_ID;
	const struct perf_parse_cfg cfg = { PERF_SAMPLE_FIELDS_DEFAULT, 0, 0 };
	struct rec r;
	struct seen v;
	struct perf_handlers h = handlers_ext(&v);

	(void)state;
	assert_int_equal(sizeof(LIBPY_PADDED), 48);   /* the literal's own NUL included */
	mmap2_rec(&r, user, LIBPY_PADDED, 48);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	check_mmap_common(&v, PERF_RECORD_MMAP2, user);
	assert_int_equal(v.mmap.pid, 500);
	assert_int_equal(v.mmap.tid, 501);
	assert_int_equal(v.mmap.addr, 0x00007f0000001000ull);
	assert_int_equal(v.mmap.len, 0x21000);
	assert_int_equal(v.mmap.pgoff, 0x3000);
	assert_int_equal(v.mmap.has_build_id, 0);
	assert_int_equal(v.mmap.build_id_size, 0);
	assert_int_equal(v.mmap.maj, 8);
	assert_int_equal(v.mmap.min, 1);
	assert_int_equal(v.mmap.ino, 123456);
	assert_int_equal(v.mmap.ino_generation, 7);
	assert_int_equal(v.mmap.prot, 5);
	assert_int_equal(v.mmap.flags, 2);
	assert_string_equal(v.filename, LIBPY);
	check_truncations_cfg(&r, MMAP2_NAME_AT + sizeof(LIBPY), &cfg);

	h = handlers_ext(&v);
	mmap2_rec(&r, bid, LIBPY_PADDED, 48);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	check_mmap_common(&v, PERF_RECORD_MMAP2, bid);
	assert_int_equal(v.mmap.has_build_id, 1);
	assert_int_equal(v.mmap.build_id_size, 20);
	for (int i = 0; i < 20; i++)
		assert_int_equal(v.mmap.build_id[i], 0xb0 + i);
	assert_int_equal(v.mmap.maj, 0);
	assert_int_equal(v.mmap.min, 0);
	assert_int_equal(v.mmap.ino, 0);
	assert_int_equal(v.mmap.ino_generation, 0);
	assert_int_equal(v.mmap.prot, 5);
	assert_int_equal(v.mmap.flags, 2);
	assert_string_equal(v.filename, LIBPY);
	check_truncations_cfg(&r, MMAP2_NAME_AT + sizeof(LIBPY), &cfg);

	/* a shorter build-id: the rest of the array stays zero; over 20: refused */
	const size_t bid_size_at = MMAP2_NAME_AT - 32;
	for (unsigned size = 0; size <= 255; size++) {
		h = handlers_ext(&v);
		mmap2_rec(&r, bid, LIBPY_PADDED, 48);
		r.b[bid_size_at] = (uint8_t)size;
		int ret = parse_rec_cfg(&r, &cfg, &h);
		if (size > 20) {
			assert_int_equal(ret, -EINVAL);
			assert_int_equal(calls(&v), 0);
			continue;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(v.mmap.build_id_size, size);
		for (unsigned i = 0; i < 20; i++)
			assert_int_equal(v.mmap.build_id[i], i < size ? 0xb0 + i : 0);
	}
}

static void test_mmap2_names(void **state)
{
	const uint16_t user = PERF_RECORD_MISC_USER;
	const struct perf_parse_cfg cfg = { PERF_SAMPLE_FIELDS_DEFAULT, 0, 0 };
	struct rec r;
	struct seen v;
	struct perf_handlers h = handlers_ext(&v);

	(void)state;
	/* followed by a sample_id_all trailer: the name ends at its NUL */
	mmap2_rec(&r, user, "[vdso]\0\0AAAAAAAAAAAAAAAA", 24);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	assert_string_equal(v.filename, "[vdso]");

	/* empty */
	h = handlers_ext(&v);
	mmap2_rec(&r, user, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	assert_int_equal(v.mmaps, 1);
	assert_string_equal(v.filename, "");

	/* no NUL before the end (none at all, or a trailer without one) */
	static const char *const unterminated[] = { "", "abcdefgh", "/lib/x.so\x01\x02" };
	for (size_t i = 0; i < ARRAY_LEN(unterminated); i++) {
		h = handlers_ext(&v);
		mmap2_rec(&r, user, unterminated[i], strlen(unterminated[i]));
		assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
		assert_int_equal(calls(&v), 0);
		/* refused with no callback to call, too */
		struct perf_handlers none = { 0 };
		assert_int_equal(parse_rec_cfg(&r, &cfg, &none), -EINVAL);
	}
	/* the name's last byte the record's last, and it is the NUL */
	h = handlers_ext(&v);
	mmap2_rec(&r, user, "abcdefg", 8);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	assert_string_equal(v.filename, "abcdefg");

	/* every number all ones; with a build-id, its size 255 is refused */
	h = handlers_ext(&v);
	mmap2_rec(&r, user, "x\0\0\0\0\0\0\0", 8);
	memset(r.b + sizeof(struct perf_event_header), 0xff, 64);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	assert_int_equal(v.mmap.pid, -1);
	assert_int_equal(v.mmap.tid, -1);
	assert_int_equal(v.mmap.addr, UINT64_MAX);
	assert_int_equal(v.mmap.len, UINT64_MAX);
	assert_int_equal(v.mmap.pgoff, UINT64_MAX);
	assert_int_equal(v.mmap.maj, UINT32_MAX);
	assert_int_equal(v.mmap.min, UINT32_MAX);
	assert_int_equal(v.mmap.ino, UINT64_MAX);
	assert_int_equal(v.mmap.ino_generation, UINT64_MAX);
	assert_int_equal(v.mmap.prot, UINT32_MAX);
	assert_int_equal(v.mmap.flags, UINT32_MAX);
	assert_string_equal(v.filename, "x");
	h = handlers_ext(&v);
	mmap2_rec(&r, PERF_RECORD_MISC_USER | PERF_RECORD_MISC_MMAP_BUILD_ID, "x\0\0\0\0\0\0\0", 8);
	memset(r.b + sizeof(struct perf_event_header), 0xff, 64);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
	assert_int_equal(calls(&v), 0);

	/* the old entry point has no callback for it, but still checks it */
	struct perf_handlers hb = handlers(&v);
	mmap2_rec(&r, user, LIBPY_PADDED, 48);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &hb), 0);
	assert_int_equal(calls(&v), 0);
	mmap2_rec(&r, user, "abcdefgh", 8);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT, &hb), -EINVAL);

	/* no callbacks at all: parsed, nothing called */
	struct perf_handlers none = { 0 };
	mmap2_rec(&r, user, LIBPY_PADDED, 48);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &none), 0);
	mmap_old_rec(&r, user, LIBPY_PADDED, 48);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &none), 0);
}

/* The older PERF_RECORD_MMAP: no identity, prot nor flags. */
static void test_mmap_old(void **state)
{
	const uint16_t data = PERF_RECORD_MISC_USER | PERF_RECORD_MISC_MMAP_DATA;
	const struct perf_parse_cfg cfg = { PERF_SAMPLE_FIELDS_DEFAULT, 0, 0 };
	struct rec r;
	struct seen v;
	struct perf_handlers h = handlers_ext(&v);

	(void)state;
	mmap_old_rec(&r, data, "/tmp/data.bin\0\0\0", 16);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	check_mmap_common(&v, PERF_RECORD_MMAP, data);
	assert_int_equal(v.mmap.pid, 600);
	assert_int_equal(v.mmap.tid, 602);
	assert_int_equal(v.mmap.addr, 0x400000);
	assert_int_equal(v.mmap.len, 0x1000);
	assert_int_equal(v.mmap.pgoff, 0);
	assert_int_equal(v.mmap.prot, 0);
	assert_int_equal(v.mmap.flags, 0);
	assert_int_equal(v.mmap.has_build_id, 0);
	assert_int_equal(v.mmap.ino, 0);
	assert_string_equal(v.filename, "/tmp/data.bin");
	check_truncations_cfg(&r, sizeof(struct perf_event_header) + 32 + 14, &cfg);

	/* the build-id bit means something else here (it aliases EXACT_IP) */
	h = handlers_ext(&v);
	mmap_old_rec(&r, PERF_RECORD_MISC_USER | PERF_RECORD_MISC_MMAP_BUILD_ID, "a\0\0\0\0\0\0\0",
		     8);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), 0);
	assert_int_equal(v.mmap.has_build_id, 0);
	assert_string_equal(v.filename, "a");

	h = handlers_ext(&v);
	mmap_old_rec(&r, data, "unterminated", 12);
	assert_int_equal(parse_rec_cfg(&r, &cfg, &h), -EINVAL);
	assert_int_equal(calls(&v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_default),
		cmocka_unit_test(test_sample_all_ones),
		cmocka_unit_test(test_sample_skipped_fields),
		cmocka_unit_test(test_sample_subset),
		cmocka_unit_test(test_sample_unknown_bits),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_fork_exit),
		cmocka_unit_test(test_comm),
		cmocka_unit_test(test_lost),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_null_handlers),
		cmocka_unit_test(test_regs_user),
		cmocka_unit_test(test_stack_user),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_callchain_raw),
		cmocka_unit_test(test_sample_combined),
		cmocka_unit_test(test_mmap2),
		cmocka_unit_test(test_mmap2_names),
		cmocka_unit_test(test_mmap_old),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
