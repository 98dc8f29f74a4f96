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
#define REC_MAX 512

/* The sample fields perf_parse_record() knows how to step over or read. */
#define KNOWN_SAMPLE_BITS                                                               \
	(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | \
	 PERF_SAMPLE_ADDR | PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU |  \
	 PERF_SAMPLE_PERIOD)

/* What the handlers saw. */
struct seen {
	int samples, forks, exits, comms, losts;
	struct perf_sample sample;
	pid_t pid, tid;
	char comm[64];
	size_t comm_len;
	uint64_t lost;
};

static void on_sample(void *ctx, const struct perf_sample *s)
{
	struct seen *v = ctx;
	v->samples++;
	v->sample = *s;
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
	return (struct perf_handlers){ v, on_sample, on_fork, on_exit_rec, on_comm, on_lost };
}

static int calls(const struct seen *v)
{
	return v->samples + v->forks + v->exits + v->comms + v->losts;
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
	/* The two named in the sampler's comment, spelled out. */
	struct rec r;
	struct seen v;
	struct perf_handlers h = handlers(&v);
	sample_default(&r, 1, 2, 3, 4, 5);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT | PERF_SAMPLE_CALLCHAIN, &h),
			 -EINVAL);
	assert_int_equal(parse_rec(&r, PERF_SAMPLE_FIELDS_DEFAULT | PERF_SAMPLE_READ, &h),
			 -EINVAL);
	assert_int_equal(calls(&v), 0);
}

/*
 * Each valid record cut to every shorter length, twice: with header.size
 * still saying the full size, and with header.size matching the cut (a
 * consistent but too short record). Also header.size disagreeing with a
 * full-length buffer either way. All -EINVAL, no handler called.
 */
static void check_truncations(const struct rec *full, size_t min_valid, uint64_t st)
{
	uint8_t b[REC_MAX + 16];

	for (size_t len = 0; len < full->n; len++) {
		struct seen v;
		struct perf_handlers h = handlers(&v);

		memcpy(b, full->b, full->n);
		int ret = parse_exact(b, len, st, &h);
		if (ret != -EINVAL)
			fail_msg("type %u, len %zu of %zu (size %zu): got %d", full->b[0], len,
				 full->n, full->n, ret);
		assert_int_equal(calls(&v), 0);

		if (len < sizeof(struct perf_event_header) || len >= min_valid)
			continue;
		set_hdr_size(b, (uint16_t)len);
		ret = parse_exact(b, len, st, &h);
		if (ret != -EINVAL)
			fail_msg("type %u, len %zu = size: got %d", full->b[0], len, ret);
		assert_int_equal(calls(&v), 0);
	}

	/* header.size smaller or larger than the bytes given */
	struct seen v;
	struct perf_handlers h = handlers(&v);
	memset(b, 0, sizeof(b));
	memcpy(b, full->b, full->n);
	assert_int_equal(parse_exact(b, full->n + 8, st, &h), -EINVAL);
	set_hdr_size(b, (uint16_t)(full->n + 8));
	assert_int_equal(parse_exact(b, full->n, st, &h), -EINVAL);
	set_hdr_size(b, 0);
	assert_int_equal(parse_exact(b, full->n, st, &h), -EINVAL);
	set_hdr_size(b, UINT16_MAX);
	assert_int_equal(parse_exact(b, full->n, st, &h), -EINVAL);
	assert_int_equal(calls(&v), 0);

	/* and the full record is accepted, so the cuts above were the cause */
	assert_int_equal(parse_exact(full->b, full->n, st, &h), 0);
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
	check_truncations(&r, r.n, KNOWN_SAMPLE_BITS);

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
	rec_begin(&r, PERF_RECORD_MMAP);
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

/* Types the sampler does not handle are skipped whole, with no callback. */
static void test_unknown_type(void **state)
{
	static const uint32_t types[] = { PERF_RECORD_MMAP, PERF_RECORD_THROTTLE,
					  PERF_RECORD_UNTHROTTLE, PERF_RECORD_READ,
					  PERF_RECORD_MMAP2, 0, 0x7fff, 0xffffffffu };
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
