/*
 * test_perf_events.c - perf_set with several events on the test's own
 * thread: a cpu-clock leader, a counted page-faults member and a
 * page-faults sampler of its own. Software events only (they exist on
 * every machine); nothing but the test itself is observed.
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
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pyrometer/counts.h"
#include "pyrometer/perf.h"

struct seen {
	struct perf_set *set;
	uint64_t samples[3], unknown, bad_nr, with_period;
	uint64_t member_total;
	struct counts_cfg cfg;
	struct counts_thread th;
	struct counts_stats st;
};

static void on_sample(void *ctx, const struct perf_sample *s)
{
	struct seen *v = ctx;
	int ev = perf_set_event_of(v->set, s->id);
	if (ev < 0 || ev > 2) {
		v->unknown++;
		return;
	}
	v->samples[ev]++;
	/* the leader reads its group (itself and the member), a solo event
	 * only itself */
	if (!(s->has & PERF_HAS_READ) || s->read.nr != (ev == 0 ? 2u : 1u))
		v->bad_nr++;
	/* fixed periods are not in the samples: PERF_SAMPLE_PERIOD would make
	 * the kernel sample every page fault */
	if (s->period)
		v->with_period++;
	uint64_t vals[3];
	counts_sample(&v->cfg, &v->th, ev, ev == 2 ? 64 : 1000000, &s->read, vals, &v->st);
	v->member_total += vals[1];
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_group_and_solo(void **state)
{
	(void)state;
	struct perf_set set;
	assert_int_equal(perf_set_init(&set, getpid(), 1000), 0);
	struct perf_ev_def d[3];
	memset(d, 0, sizeof(d));
	for (int i = 0; i < 3; i++) {
		d[i].attr.type = PERF_TYPE_SOFTWARE;
		d[i].attr.exclude_kernel = 1;
		d[i].attr.exclude_hv = 1;
	}
	d[0].attr.config = PERF_COUNT_SW_CPU_CLOCK;
	d[0].attr.sample_period = 1000000;   /* 1 ms */
	d[0].role = PERF_EV_LEADER;
	d[1].attr.config = PERF_COUNT_SW_PAGE_FAULTS;
	d[1].role = PERF_EV_MEMBER;
	d[2].attr.config = PERF_COUNT_SW_PAGE_FAULTS;
	d[2].attr.sample_period = 64;
	d[2].role = PERF_EV_SOLO;
	assert_int_equal(perf_set_events(&set, d, 3), 0);
	int e = perf_set_add_thread(&set, (pid_t)gettid());
	if (e == -EACCES || e == -EPERM) {
		perf_set_release(&set);
		skip();   /* perf_event_paranoid forbids even self-monitoring */
	}
	assert_int_equal(e, 0);

	struct seen v = { .set = &set };
	int roles[3] = { PERF_EV_LEADER, PERF_EV_MEMBER, PERF_EV_SOLO };
	counts_cfg_init(&v.cfg, roles, 3);
	const struct perf_handlers h = { .ctx = &v, .sample = on_sample };

	/* Fault in fresh pages and burn CPU for about 0.3 s, draining as we go. */
	size_t len = 8u << 20;
	double end = now() + 0.3;
	uint64_t faults = 0;
	while (now() < end) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(p != MAP_FAILED);
		for (size_t i = 0; i < len; i += 4096) {
			p[i] = 1;
			faults++;
		}
		munmap(p, len);
		/* and user time for the clock, which leaves out the kernel's */
		double spin = now() + 0.005;
		while (now() < spin)
			;
		perf_set_poll(&set, 0, &h);
	}
	perf_set_poll(&set, 0, &h);
	perf_set_release(&set);

	assert_int_equal(v.unknown, 0);
	assert_int_equal(v.bad_nr, 0);
	assert_true(v.samples[0] >= 50);          /* ~300 at 1 kHz */
	assert_int_equal(v.samples[1], 0);        /* a member never samples */
	assert_true(v.samples[2] >= faults / 64 / 2);
	assert_true(v.samples[2] <= faults / 64 * 2 + 100);   /* every 64th, not every one */
	assert_int_equal(v.with_period, 0);
	/* the member counted the faults the test made from the start (a
	 * member added to a running group would wait for a context switch);
	 * the last samples may come before the last few faults */
	assert_true(v.member_total >= faults * 9 / 10);
	assert_true(v.member_total <= faults + 10000);
	assert_int_equal(v.st.bad_reads, 0);
}

/* An event list must start with its leader and have only one. */
static void test_event_list_rules(void **state)
{
	(void)state;
	struct perf_set set;
	assert_int_equal(perf_set_init(&set, getpid(), 100), 0);
	struct perf_ev_def d[2];
	memset(d, 0, sizeof(d));
	d[0].role = PERF_EV_MEMBER;
	d[1].role = PERF_EV_LEADER;
	assert_int_equal(perf_set_events(&set, d, 2), -EINVAL);
	d[0].role = PERF_EV_LEADER;
	assert_int_equal(perf_set_events(&set, d, 2), -EINVAL);
	assert_int_equal(perf_set_events(&set, d, 0), -EINVAL);
	assert_int_equal(perf_set_events(&set, d, PERF_EVENTS_MAX + 1), -EINVAL);
	perf_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_and_solo),
		cmocka_unit_test(test_event_list_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
