/*
 * test_counts.c - hardware paths without hardware: PERF_RECORD_SAMPLE
 * records with group reads, laid out as the kernel writes them, go through
 * the record parser, the per-thread deltas (with multiplex scaling), the
 * profile and the CSV writer; the derived metrics come out of the totals.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pyrometer/counts.h"
#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/perf.h"
#include "pyrometer/profile.h"

/* What the recorder asks for when it has events. */
#define ST (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | \
	    PERF_SAMPLE_PERIOD | PERF_SAMPLE_READ)
#define RF (PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED | \
	    PERF_FORMAT_TOTAL_TIME_RUNNING)

struct rec {
	uint8_t b[512];
	size_t n;
};

static void put64(struct rec *r, uint64_t v)
{
	memcpy(r->b + r->n, &v, 8);
	r->n += 8;
}

/*
 * A sample of event id with the group's read: enabled/running times and
 * the values (leader first) with ids id, id+1, ...
 */
static void sample_rec(struct rec *r, uint64_t id, pid_t tid, uint64_t period,
		       uint64_t enabled, uint64_t running, const uint64_t *v, size_t nv)
{
	r->n = sizeof(struct perf_event_header);
	put64(r, id);                                   /* IDENTIFIER */
	put64(r, (uint64_t)(uint32_t)tid << 32 | (uint32_t)tid);  /* pid, tid */
	put64(r, 1000);                                 /* TIME */
	put64(r, 0);                                    /* CPU, res */
	put64(r, period);                               /* PERIOD */
	put64(r, nv);                                   /* READ: nr */
	put64(r, enabled);
	put64(r, running);
	for (size_t i = 0; i < nv; i++) {
		put64(r, v[i]);
		put64(r, id + i);
	}
	struct perf_event_header h = { PERF_RECORD_SAMPLE, 0, (uint16_t)r->n };
	memcpy(r->b, &h, sizeof(h));
}

/* The events of these tests: cycles sampling, three members counted. */
enum { CYC, INS, MISS, BMISS, NEV };
static const int ev_roles[NEV] = { EVR_CYCLES, EVR_INSTRUCTIONS, EVR_CACHE_MISSES,
				   EVR_BRANCH_MISSES };
static const int perf_roles[NEV] = { PERF_EV_LEADER, PERF_EV_MEMBER, PERF_EV_MEMBER,
				     PERF_EV_MEMBER };

struct run {
	struct counts_cfg cfg;
	struct counts_thread th;
	struct counts_stats st;
	struct profile *prof;
	uint32_t stack;            /* the frame every sample lands on */
	uint64_t last[NEV];
	int rc;
};

static void on_sample(void *ctx, const struct perf_sample *s)
{
	struct run *r = ctx;
	assert_true(s->has & PERF_HAS_READ);
	int ev = (int)(s->id - 100);  /* ids 100.. in event order */
	r->rc = counts_sample(&r->cfg, &r->th, ev, s->period, &s->read, r->last, &r->st);
	profile_add_counts(r->prof, &r->stack, 1, ev == 0, r->last);
}

static void feed(struct run *r, const struct rec *rec)
{
	const struct perf_parse_cfg cfg = { .sample_type = ST, .read_format = RF };
	const struct perf_handlers h = { .ctx = r, .sample = on_sample };
	uint8_t *copy = malloc(rec->n);   /* exact length: overreads show */
	memcpy(copy, rec->b, rec->n);
	assert_int_equal(perf_parse_record_cfg(copy, rec->n, &cfg, &h), 0);
	free(copy);
}

static void run_init(struct run *r, const char *frame)
{
	memset(r, 0, sizeof(*r));
	counts_cfg_init(&r->cfg, perf_roles, NEV);
	struct prof_event pev[NEV] = { { "cycles", EVR_CYCLES },
				       { "instructions", EVR_INSTRUCTIONS },
				       { "cache-misses", EVR_CACHE_MISSES },
				       { "branch-misses", EVR_BRANCH_MISSES } };
	r->prof = profile_new_events(pev, NEV);
	assert_non_null(r->prof);
	r->stack = profile_frame(r->prof, frame, "app.py", 1, PROF_PYTHON);
}

/* Deltas: each sample gets what the members counted since the previous
 * one; the first sample what they counted since they were enabled. */
static void test_group_deltas(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, "f");
	struct rec rec;
	uint64_t v1[NEV] = { 1000, 1500, 10, 4 };
	sample_rec(&rec, 100, 7, 1000, 500, 500, v1, NEV);
	feed(&r, &rec);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.last[CYC], 1000);
	assert_int_equal(r.last[INS], 1500);
	assert_int_equal(r.last[MISS], 10);
	assert_int_equal(r.last[BMISS], 4);

	uint64_t v2[NEV] = { 2000, 3500, 13, 9 };
	sample_rec(&rec, 100, 7, 1000, 900, 900, v2, NEV);
	feed(&r, &rec);
	assert_int_equal(r.last[INS], 2000);
	assert_int_equal(r.last[MISS], 3);
	assert_int_equal(r.last[BMISS], 5);

	uint64_t tot[NEV];
	profile_count_totals(r.prof, tot);
	assert_int_equal(tot[CYC], 2000);
	assert_int_equal(tot[INS], 3500);
	assert_int_equal(tot[MISS], 13);
	assert_int_equal(profile_samples(r.prof), 2);
	assert_int_equal(r.st.enabled, 900);
	assert_int_equal(r.st.running, 900);
	profile_free(r.prof);
}

/* Multiplexed: the group ran 250 of 1000 ns in the interval, so the
 * members' deltas are scaled by 4; the time ratio is in the stats. */
static void test_multiplex_scaling(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, "f");
	struct rec rec;
	uint64_t v1[NEV] = { 100, 100, 1, 1 };
	sample_rec(&rec, 100, 7, 100, 1000, 1000, v1, NEV);
	feed(&r, &rec);
	uint64_t v2[NEV] = { 200, 350, 11, 4 };
	sample_rec(&rec, 100, 7, 100, 2000, 1250, v2, NEV);
	feed(&r, &rec);
	assert_int_equal(r.last[INS], 1000);   /* 250 * 1000/250 */
	assert_int_equal(r.last[MISS], 40);
	assert_int_equal(r.last[BMISS], 12);
	assert_int_equal(r.last[CYC], 100);    /* a sampled period is not scaled */
	assert_int_equal(r.st.enabled, 2000);
	assert_int_equal(r.st.running, 1250);
	profile_free(r.prof);
}

/* A read with the wrong number of values is counted, not trusted. */
static void test_bad_read(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, "f");
	struct rec rec;
	uint64_t v[2] = { 100, 100 };
	sample_rec(&rec, 100, 7, 100, 10, 10, v, 2);
	feed(&r, &rec);
	assert_int_equal(r.rc, -EINVAL);
	assert_int_equal(r.st.bad_reads, 1);
	assert_int_equal(r.last[CYC], 100);
	assert_int_equal(r.last[INS], 0);
	profile_free(r.prof);
}

/* A solo ("event mode") sample stands for its period of its own event and
 * for no sample of the leader. */
static void test_solo_sample(void **state)
{
	(void)state;
	static const int roles[2] = { PERF_EV_LEADER, PERF_EV_SOLO };
	struct counts_cfg cfg;
	struct counts_thread th = { 0 };
	struct counts_stats st = { 0 };
	uint64_t vals[2];
	counts_cfg_init(&cfg, roles, 2);
	assert_int_equal(cfg.nmembers, 0);
	struct perf_read rd = { .nr = 1, .time_enabled = 5, .time_running = 5 };
	rd.v[0].value = 1;
	assert_int_equal(counts_sample(&cfg, &th, 1, 1, &rd, vals, &st), 0);
	assert_int_equal(vals[0], 0);
	assert_int_equal(vals[1], 1);
	assert_int_equal(counts_sample(&cfg, &th, 0, 250000, NULL, vals, &st), 0);
	assert_int_equal(vals[0], 250000);
	assert_int_equal(vals[1], 0);
	assert_int_equal(counts_sample(&cfg, &th, 2, 1, NULL, vals, &st), -EINVAL);
}

/* IPC and MPKI per function from synthetic counts: a dependent chain
 * (IPC 0.5) and an independent one (IPC 3), the CSV columns and --sort. */
static void test_metrics_per_function(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, "chain");
	uint32_t chain = r.stack;
	uint32_t wide = profile_frame(r.prof, "wide", "app.py", 9, PROF_PYTHON);
	uint64_t cum[NEV] = { 0 };
	struct rec rec;
	for (int i = 0; i < 40; i++) {
		int is_chain = i % 2 == 0;
		/* the counts since the previous sample belong to this one */
		cum[CYC] += 1000000;
		cum[INS] += is_chain ? 500000 : 3000000;
		cum[MISS] += is_chain ? 5000 : 300;
		cum[BMISS] += 10;
		r.stack = is_chain ? chain : wide;
		sample_rec(&rec, 100, 7, 1000000, 1000u * (i + 1), 1000u * (i + 1), cum, NEV);
		feed(&r, &rec);
	}
	int where[COUNTS_ROLES];
	enum metric have[MET_N];
	size_t nm = metrics_for(ev_roles, NEV, have, where);
	assert_int_equal(nm, 3);   /* IPC, CPI, MPKI: no references, no branches */
	assert_int_equal(have[0], MET_IPC);
	assert_int_equal(have[1], MET_CPI);
	assert_int_equal(have[2], MET_MPKI);

	FILE *f = tmpfile();
	struct output_opts o = { 0 };
	const char *names[NEV] = { "cycles", "instructions", "cache-misses", "branch-misses" };
	assert_int_equal(output_sort_key("ipc", names, ev_roles, NEV, &o), 0);
	assert_int_equal(o.sort, OUT_SORT_METRIC);
	assert_int_equal(output_sort_key("branch-miss%", names, ev_roles, NEV, &o), -1);
	assert_int_equal(output_sort_key("nope", names, ev_roles, NEV, &o), -1);
	assert_int_equal(output_sort_key("ipc", names, ev_roles, NEV, &o), 0);
	assert_int_equal(writer_csv.write(f, r.prof, &o), 0);
	rewind(f);
	char line[512];
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "function,file,line,self_samples,total_samples,self_pct,"
			    "total_pct,cycles_self,cycles_total,instructions_self,"
			    "instructions_total,cache-misses_self,cache-misses_total,"
			    "branch-misses_self,branch-misses_total,IPC,CPI,MPKI\n");
	/* sorted by IPC: wide first */
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "wide,app.py,9,20,20,50.00,50.00,20000000,20000000,"
			    "60000000,60000000,6000,6000,200,200,3.000,0.333,0.100\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "chain,app.py,1,20,20,50.00,50.00,20000000,20000000,"
			    "10000000,10000000,100000,100000,200,200,0.500,2.000,10.000\n");
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);

	/* collapsed stacks weighted by cache-misses */
	f = tmpfile();
	o = (struct output_opts){ .weight_event = MISS + 1 };
	assert_int_equal(writer_folded.write(f, r.prof, &o), 0);
	rewind(f);
	char a[128], b[128];
	assert_non_null(fgets(a, sizeof(a), f));
	assert_non_null(fgets(b, sizeof(b), f));
	assert_true((!strcmp(a, "chain (app.py:1) 100000\n") && !strcmp(b, "wide (app.py:9) 6000\n")) ||
		    (!strcmp(b, "chain (app.py:1) 100000\n") && !strcmp(a, "wide (app.py:9) 6000\n")));
	fclose(f);
	profile_free(r.prof);
}

/* Metrics that need a missing input are not offered; zero denominators
 * give no value. */
static void test_metric_inputs(void **state)
{
	(void)state;
	int roles[3] = { EVR_CPU_CLOCK, EVR_PAGE_FAULTS, EVR_CONTEXT_SWITCHES };
	int where[COUNTS_ROLES];
	enum metric have[MET_N];
	assert_int_equal(metrics_for(roles, 3, have, where), 1);
	assert_int_equal(have[0], MET_FAULTS_PER_KSAMPLE);
	uint64_t vals[3] = { 5000000, 30, 2 };
	double v;
	assert_int_equal(metric_value(MET_FAULTS_PER_KSAMPLE, vals, where, 20, &v), 0);
	assert_true(v > 1499.9 && v < 1500.1);
	assert_int_equal(metric_value(MET_FAULTS_PER_KSAMPLE, vals, where, 0, &v), -1);
	assert_int_equal(metric_value(MET_IPC, vals, where, 20, &v), -1);

	int hw[4] = { EVR_CYCLES, EVR_INSTRUCTIONS, EVR_BRANCHES, EVR_BRANCH_MISSES };
	assert_int_equal(metrics_for(hw, 4, have, where), 3);
	assert_int_equal(have[2], MET_BRANCH_MISS_PCT);
	uint64_t hv[4] = { 100, 0, 1000, 25 };
	assert_int_equal(metric_value(MET_CPI, hv, where, 1, &v), -1);   /* 0 instructions */
	assert_int_equal(metric_value(MET_BRANCH_MISS_PCT, hv, where, 1, &v), 0);
	assert_true(v > 2.49 && v < 2.51);
	assert_int_equal(metric_by_key("MPKI"), MET_MPKI);
	assert_int_equal(metric_by_key("branch-miss%"), MET_BRANCH_MISS_PCT);
	assert_int_equal(metric_by_key("bogus"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_deltas),
		cmocka_unit_test(test_multiplex_scaling),
		cmocka_unit_test(test_bad_read),
		cmocka_unit_test(test_solo_sample),
		cmocka_unit_test(test_metrics_per_function),
		cmocka_unit_test(test_metric_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
