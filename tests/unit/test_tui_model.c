/*
 * test_tui_model.c - the live view's rows without a terminal: one profile
 * with two threads, four events, native and pseudo frames and recursion,
 * counts worked out by hand (below); rows per function and per line,
 * native frames on and off, one thread, the substring filter, every sort
 * column, callers and callees; then the text escaping and the units.
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include "../../src/tui/model.h"
#include "../../src/tui/ui.h"
#include "pyrometer/evspec.h"
#include "pyrometer/profile.h"
#include "pyrometer/strpool.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { EV_CPU, EV_INS, EV_CYC, EV_PF, NEV };

struct fixture {
	struct strpool sp;
	struct profile *p;
	struct tui_rows rows;
	int built;
};

static const char *intern(struct strpool *sp, const char *s)
{
	const char *r = strpool_intern(sp, s, strlen(s));
	assert_non_null(r);
	return r;
}

static void add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count,
		uint64_t cpu, uint64_t ins, uint64_t cyc, uint64_t pf)
{
	uint64_t vals[NEV] = { cpu, ins, cyc, pf };
	assert_int_not_equal(profile_add_counts(p, frames, n, count, vals), UINT32_MAX);
}

#define ADD(p, count, cpu, ins, cyc, pf, ...)                                    \
	add((p), (const uint32_t[]){ __VA_ARGS__ },                              \
	    sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t), (count), \
	    (cpu), (ins), (cyc), (pf))

/*
 *     stack (T1 = thread 101, T2 = thread 102)   n  cpu-clock  instr   cycles  faults
 * S1  T1;main;work@20                            5     5e7     5000     5000
 * S2  T1;main;work@21                            2     2e7     2000     2000
 * S3  T1;main;work@20;helper                     2     2e7    90000     1000
 * S4  T2;main;qsort;helper                       3     3e7    60000     3000
 * S5  T2;[unknown]                               1     1e9       10       10
 * S6  T1;main;rec;rec;rec                        4     4e7     4000    80000
 * S7  T1;main;qsort                              2     2e7     2000     2000    300
 * S8  T2;main;work@20  (counts only)             0                              100
 *                                               19 samples
 *
 * Per function, native frames off, all threads (own / total samples):
 *   work 7 / 9     helper 5 / 5     rec 4 / 4     main 2 / 18 (S7 lands on main)
 *   [unknown] 1 / 1
 * Own counts: instructions helper 150000, cycles rec 80000, faults main 300,
 * cpu-clock [unknown] 1e9. Total: main 1.8e8 ns, 163000 instr, 93000 cycles,
 * 400 faults. IPC over totals: helper 37.5, work 12.125, main 1.75,
 * [unknown] 1, rec 0.05. Faults per 1000 samples: main 22222, work 11111.
 */
static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	strpool_init(&x->sp);
	struct strpool *sp = &x->sp;
	struct prof_event ev[NEV] = {
		{ intern(sp, "cpu-clock"), EVR_CPU_CLOCK },
		{ intern(sp, "instructions"), EVR_INSTRUCTIONS },
		{ intern(sp, "cycles"), EVR_CYCLES },
		{ intern(sp, "page-faults"), EVR_PAGE_FAULTS },
	};
	x->p = profile_new_events(ev, NEV);
	if (!x->p)
		return -1;
	struct profile *p = x->p;
	const char *app = intern(sp, "app.py"), *lib = intern(sp, "lib.py"), *none = intern(sp, "");
	uint32_t T1 = profile_frame(p, intern(sp, "thread 101 (main)"), none, 101, PROF_THREAD);
	uint32_t T2 = profile_frame(p, intern(sp, "thread 102 (worker)"), none, 102, PROF_THREAD);
	uint32_t M = profile_frame(p, intern(sp, "main"), app, 10, PROF_PYTHON);
	uint32_t W20 = profile_frame(p, intern(sp, "work"), app, 20, PROF_PYTHON);
	uint32_t W21 = profile_frame(p, intern(sp, "work"), app, 21, PROF_PYTHON);
	uint32_t H = profile_frame(p, intern(sp, "helper"), lib, 5, PROF_PYTHON);
	uint32_t Q = profile_frame(p, intern(sp, "qsort"), intern(sp, "libc.so.6"), 0, PROF_NATIVE);
	uint32_t R = profile_frame(p, intern(sp, "rec"), app, 40, PROF_PYTHON);
	uint32_t U = profile_frame(p, intern(sp, "[unknown]"), none, 0, PROF_PSEUDO);
	ADD(p, 5, 50000000, 5000, 5000, 0, T1, M, W20);
	ADD(p, 2, 20000000, 2000, 2000, 0, T1, M, W21);
	ADD(p, 2, 20000000, 90000, 1000, 0, T1, M, W20, H);
	ADD(p, 3, 30000000, 60000, 3000, 0, T2, M, Q, H);
	ADD(p, 1, 1000000000, 10, 10, 0, T2, U);
	ADD(p, 4, 40000000, 4000, 80000, 0, T1, M, R, R, R);
	ADD(p, 2, 20000000, 2000, 2000, 300, T1, M, Q);
	ADD(p, 0, 0, 0, 0, 100, T2, M, W20);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	if (x) {
		if (x->built)
			tui_rows_free(&x->rows);
		profile_free(x->p);
		strpool_release(&x->sp);
		free(x);
	}
	return 0;
}

/* Build with the view, then order; returns the rows. */
static struct tui_rows *build(struct fixture *x, int lines, int native, pid_t tid, int sort,
			      int reverse, const char *filter)
{
	if (x->built)
		tui_rows_free(&x->rows);
	struct tui_view v = { .lines = lines, .native = native, .tid = tid, .hz = 100 };
	assert_int_equal(tui_rows_build(x->p, &v, &x->rows), 0);
	x->built = 1;
	struct tui_order o = { sort, reverse, filter };
	assert_int_equal(tui_rows_select(&x->rows, &o), 0);
	return &x->rows;
}

static const struct tui_row *shown(const struct tui_rows *r, size_t i)
{
	assert_true(i < r->nshown);
	return &r->v[r->order[i]];
}

/* The row called name (and at line, unless line is -2), or NULL. */
static const struct tui_row *find(const struct tui_rows *r, const char *name, int line)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].name, name) && (line == -2 || r->v[i].line == line))
			return &r->v[i];
	return NULL;
}

static size_t row_index(const struct tui_rows *r, const char *name, int line)
{
	const struct tui_row *row = find(r, name, line);
	assert_non_null(row);
	return (size_t)(row - r->v);
}

/* The names of the rows shown, joined by spaces. */
static const char *names(const struct tui_rows *r)
{
	static char buf[512];
	buf[0] = '\0';
	for (size_t i = 0; i < r->nshown; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, shown(r, i)->name);
	}
	return buf;
}

static void check_row(const struct tui_row *row, uint64_t self, uint64_t total)
{
	assert_non_null(row);
	assert_int_equal(row->self, self);
	assert_int_equal(row->total, total);
}

static void test_functions(void **state)
{
	struct fixture *x = *state;
	struct tui_rows *r = build(x, 0, 0, 0, TUI_COL_OWN_PCT, 0, NULL);
	assert_int_equal(r->samples, 19);
	assert_int_equal(r->n, 5);
	assert_string_equal(names(r), "work helper rec main [unknown]");
	check_row(find(r, "work", -1), 7, 9);
	check_row(find(r, "helper", -1), 5, 5);
	check_row(find(r, "rec", -1), 4, 4);       /* recursion counts once */
	check_row(find(r, "main", -1), 2, 18);     /* S7 without its native leaf */
	check_row(find(r, "[unknown]", 0), 1, 1);
	assert_null(find(r, "qsort", -2));
	assert_null(find(r, "thread 101 (main)", -2));

	const struct tui_row *w = find(r, "work", -1);
	assert_int_equal(w->selfv[EV_CPU], 70000000);
	assert_int_equal(w->selfv[EV_PF], 100);    /* S8: counts without samples */
	assert_int_equal(w->totalv[EV_INS], 97000);
	const struct tui_row *m = find(r, "main", -1);
	assert_int_equal(m->selfv[EV_PF], 300);
	assert_int_equal(m->totalv[EV_CPU], 180000000);
	assert_int_equal(m->totalv[EV_CYC], 93000);
	assert_int_equal(m->totalv[EV_PF], 400);
	assert_int_equal(r->evtotal[EV_CPU], 1180000000);
	assert_int_equal(r->evtotal[EV_PF], 400);

	/* Metrics over each row's totals; those of the whole view. */
	assert_true(w->met_ok & (1u << MET_IPC));
	assert_float_equal(w->met[MET_IPC], 12.125, 1e-9);
	assert_float_equal(m->met[MET_FAULTS_PER_KSAMPLE], 400.0 * 1000 / 18, 1e-6);
	assert_true(r->metric_total_ok & (1u << MET_IPC));
	assert_float_equal(r->metric_total[MET_IPC], 163010.0 / 93010.0, 1e-9);
	assert_int_equal(r->clock_ev, EV_CPU);
	assert_float_equal(tui_row_time(r, w, 0), 0.07, 1e-12);
	assert_float_equal(tui_row_time(r, m, 1), 0.18, 1e-12);
}

static void test_lines(void **state)
{
	struct fixture *x = *state;
	struct tui_rows *r = build(x, 1, 0, 0, TUI_COL_OWN_PCT, 0, NULL);
	assert_int_equal(r->n, 6);
	check_row(find(r, "work", 20), 5, 7);
	check_row(find(r, "work", 21), 2, 2);
	check_row(find(r, "main", 10), 2, 18);
	assert_null(find(r, "work", -1));
	assert_string_equal(names(r), "work helper rec main work [unknown]");
	assert_int_equal(shown(r, 0)->line, 20);
	char label[128];
	assert_string_equal(tui_row_label(shown(r, 0), label, sizeof(label)), "work (app.py:20)");
}

static void test_native(void **state)
{
	struct fixture *x = *state;
	struct tui_rows *r = build(x, 0, 1, 0, TUI_COL_OWN_PCT, 0, NULL);
	assert_int_equal(r->n, 6);
	check_row(find(r, "qsort", 0), 2, 5);
	check_row(find(r, "main", -1), 0, 18);
	check_row(find(r, "helper", -1), 5, 5);
	assert_int_equal(find(r, "main", -1)->selfv[EV_PF], 0);
	assert_int_equal(find(r, "qsort", 0)->selfv[EV_PF], 300);
	char label[128];
	assert_string_equal(tui_row_label(find(r, "qsort", 0), label, sizeof(label)),
			    "qsort (libc.so.6)");
	assert_string_equal(tui_row_label(find(r, "[unknown]", 0), label, sizeof(label)),
			    "[unknown]");
}

static void test_thread(void **state)
{
	struct fixture *x = *state;
	struct tui_rows *r = build(x, 0, 0, 102, TUI_COL_OWN_PCT, 0, NULL);
	assert_int_equal(r->samples, 4);
	assert_int_equal(r->evtotal[EV_PF], 100);
	assert_string_equal(names(r), "helper [unknown] main work");
	check_row(find(r, "helper", -1), 3, 3);
	check_row(find(r, "main", -1), 0, 3);
	check_row(find(r, "work", -1), 0, 0);      /* counts only */
	assert_int_equal(find(r, "work", -1)->totalv[EV_PF], 100);
	assert_null(find(r, "rec", -1));

	r = build(x, 0, 0, 101, TUI_COL_OWN_PCT, 0, NULL);
	assert_int_equal(r->samples, 15);
	assert_string_equal(names(r), "work rec main helper");
	check_row(find(r, "work", -1), 5 + 2, 9);

	r = build(x, 0, 0, 999, TUI_COL_OWN_PCT, 0, NULL);   /* no such thread */
	assert_int_equal(r->samples, 0);
	assert_int_equal(r->n, 0);
	assert_int_equal(r->nshown, 0);
}

static void test_filter(void **state)
{
	struct fixture *x = *state;
	struct tui_rows *r = build(x, 0, 0, 0, TUI_COL_OWN_PCT, 0, "help");
	assert_string_equal(names(r), "helper");
	r = build(x, 0, 0, 0, TUI_COL_OWN_PCT, 0, "LIB.PY");   /* the file, any case */
	assert_string_equal(names(r), "helper");
	r = build(x, 1, 0, 0, TUI_COL_OWN_PCT, 0, "app.py:2");
	assert_string_equal(names(r), "work work");
	r = build(x, 0, 0, 0, TUI_COL_OWN_PCT, 0, "nothing like it");
	assert_int_equal(r->nshown, 0);
	assert_int_equal(r->n, 5);
	/* Again without rebuilding: select alone lifts the filter. */
	struct tui_order o = { TUI_COL_OWN_PCT, 0, "" };
	assert_int_equal(tui_rows_select(r, &o), 0);
	assert_int_equal(r->nshown, 5);
}

static void test_sort_columns(void **state)
{
	struct fixture *x = *state;
	static const struct {
		int col;
		const char *order;
	} cases[] = {
		{ TUI_COL_OWN_PCT, "work helper rec main [unknown]" },
		{ TUI_COL_TOTAL_PCT, "main work helper rec [unknown]" },
		{ TUI_COL_OWN_TIME, "[unknown] work helper rec main" },
		{ TUI_COL_TOTAL_TIME, "[unknown] main work helper rec" },
		{ TUI_COL_EVENT + EV_CPU, "[unknown] work helper rec main" },
		{ TUI_COL_EVENT + EV_INS, "helper work rec main [unknown]" },
		{ TUI_COL_EVENT + EV_CYC, "rec work helper main [unknown]" },
		{ TUI_COL_EVENT + EV_PF, "main work helper rec [unknown]" },
		{ TUI_COL_METRIC + MET_IPC, "helper work main [unknown] rec" },
		{ TUI_COL_METRIC + MET_CPI, "rec [unknown] main work helper" },
		{ TUI_COL_METRIC + MET_FAULTS_PER_KSAMPLE, "main work helper rec [unknown]" },
		{ TUI_COL_NAME, "[unknown] helper main rec work" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct tui_rows *r = build(x, 0, 0, 0, cases[i].col, 0, NULL);
		assert_true(tui_col_valid(r, cases[i].col));
		if (strcmp(names(r), cases[i].order))
			fail_msg("column %d: got \"%s\", want \"%s\"", cases[i].col, names(r),
				 cases[i].order);
	}
	struct tui_rows *r = build(x, 0, 0, 0, TUI_COL_OWN_PCT, 1, NULL);
	assert_string_equal(names(r), "[unknown] main rec helper work");
	r = build(x, 0, 0, 0, TUI_COL_NAME, 1, NULL);
	assert_string_equal(names(r), "work rec main helper [unknown]");

	/* Metrics whose events are missing are not columns; sorting by one
	 * falls back to the own share. */
	assert_false(tui_col_valid(r, TUI_COL_METRIC + MET_MPKI));
	assert_false(tui_col_valid(r, TUI_COL_EVENT + NEV));
	r = build(x, 0, 0, 0, TUI_COL_METRIC + MET_MPKI, 0, NULL);
	assert_string_equal(names(r), "work helper rec main [unknown]");
}

/* Rows without a metric's value go last, in either direction. */
static void test_sort_missing_metric(void **state)
{
	struct fixture *x = *state;
	struct tui_rows *r = build(x, 0, 0, 102, TUI_COL_METRIC + MET_IPC, 0, NULL);
	assert_false(find(r, "work", -1)->met_ok & (1u << MET_IPC));   /* no cycles */
	assert_string_equal(names(r), "helper main [unknown] work");
	/* helper and main tie at 20: the tie keeps the default order */
	r = build(x, 0, 0, 102, TUI_COL_METRIC + MET_IPC, 1, NULL);
	assert_string_equal(names(r), "[unknown] helper main work");
}

struct rel_want {
	const char *name;   /* NULL: the edge (top of the stack, or self) */
	uint64_t weight;
};

static void check_rel(const struct tui_rows *r, const struct tui_rel *v, size_t n,
		      const struct rel_want *want, size_t nwant)
{
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		if (!want[i].name)
			assert_true(v[i].row == TUI_REL_EDGE);
		else
			assert_string_equal(r->v[v[i].row].name, want[i].name);
		assert_int_equal(v[i].weight, want[i].weight);
	}
}

static void test_related(void **state)
{
	struct fixture *x = *state;
	struct tui_rows *r = build(x, 0, 0, 0, TUI_COL_OWN_PCT, 0, NULL);
	struct tui_related rel;

	assert_int_equal(tui_related_build(r, row_index(r, "work", -1), &rel), 0);
	assert_int_equal(rel.weight, 9);
	check_rel(r, rel.callers, rel.ncallers, (struct rel_want[]){ { "main", 9 } }, 1);
	check_rel(r, rel.callees, rel.ncallees,
		  (struct rel_want[]){ { NULL, 7 }, { "helper", 2 } }, 2);
	tui_related_free(&rel);

	/* Recursion: each stack once per caller, so shares pass 100 %. */
	assert_int_equal(tui_related_build(r, row_index(r, "rec", -1), &rel), 0);
	assert_int_equal(rel.weight, 4);
	check_rel(r, rel.callers, rel.ncallers,
		  (struct rel_want[]){ { "main", 4 }, { "rec", 4 } }, 2);
	check_rel(r, rel.callees, rel.ncallees, (struct rel_want[]){ { "rec", 4 }, { NULL, 4 } },
		  2);
	tui_related_free(&rel);

	/* Native frames off: qsort is not a level, main calls helper. */
	assert_int_equal(tui_related_build(r, row_index(r, "main", -1), &rel), 0);
	assert_int_equal(rel.weight, 18);
	check_rel(r, rel.callers, rel.ncallers, (struct rel_want[]){ { NULL, 18 } }, 1);
	check_rel(r, rel.callees, rel.ncallees,
		  (struct rel_want[]){ { "work", 9 }, { "rec", 4 }, { "helper", 3 }, { NULL, 2 } },
		  4);
	tui_related_free(&rel);

	r = build(x, 0, 1, 0, TUI_COL_OWN_PCT, 0, NULL);
	assert_int_equal(tui_related_build(r, row_index(r, "helper", -1), &rel), 0);
	check_rel(r, rel.callers, rel.ncallers,
		  (struct rel_want[]){ { "qsort", 3 }, { "work", 2 } }, 2);
	tui_related_free(&rel);

	/* One thread: only its stacks. */
	r = build(x, 0, 0, 102, TUI_COL_OWN_PCT, 0, NULL);
	assert_int_equal(tui_related_build(r, row_index(r, "main", -1), &rel), 0);
	assert_int_equal(rel.weight, 3);
	check_rel(r, rel.callees, rel.ncallees, (struct rel_want[]){ { "helper", 3 } }, 1);
	tui_related_free(&rel);

	/* A row with counts and no samples: weighed by the first event. */
	assert_int_equal(tui_related_build(r, row_index(r, "work", -1), &rel), 0);
	assert_int_equal(rel.weight, 0);   /* S8 has no cpu-clock either */
	tui_related_free(&rel);
	assert_int_equal(tui_related_build(r, r->n, &rel), -22);
}

static void test_empty_profile(void **state)
{
	(void)state;
	struct profile *p = profile_new();
	assert_non_null(p);
	struct tui_rows r;
	struct tui_view v = { .hz = 100 };
	assert_int_equal(tui_rows_build(p, &v, &r), 0);
	struct tui_order o = { TUI_COL_OWN_PCT, 0, NULL };
	assert_int_equal(tui_rows_select(&r, &o), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.nshown, 0);
	assert_int_equal(r.samples, 0);
	assert_int_equal(r.nmet, 0);
	assert_int_equal(r.clock_ev, -1);
	tui_rows_free(&r);
	profile_free(p);
}

/* Without a clock event, times are samples over the rate. */
static void test_time_from_rate(void **state)
{
	(void)state;
	struct strpool sp;
	strpool_init(&sp);
	struct profile *p = profile_new();
	assert_non_null(p);
	uint32_t f = profile_frame(p, intern(&sp, "f"), intern(&sp, "a.py"), 1, PROF_PYTHON);
	assert_int_not_equal(profile_add(p, &f, 1, 50), UINT32_MAX);
	struct tui_rows r;
	struct tui_view v = { .hz = 200 };
	assert_int_equal(tui_rows_build(p, &v, &r), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(tui_row_time(&r, &r.v[0], 1), 0.25, 1e-12);
	tui_rows_free(&r);
	profile_free(p);
	strpool_release(&sp);
}

/* Native frames without a symbol: one row per module in the function view,
 * one per address in the line view. */
static void test_native_addresses(void **state)
{
	(void)state;
	struct strpool sp;
	strpool_init(&sp);
	struct profile *p = profile_new();
	assert_non_null(p);
	const char *so = intern(&sp, "libfoo.so");
	uint32_t m = profile_frame(p, intern(&sp, "main"), intern(&sp, "a.py"), 1, PROF_PYTHON);
	uint32_t a = profile_frame(p, intern(&sp, "[libfoo.so+0x10]"), so, 0, PROF_NATIVE);
	uint32_t b = profile_frame(p, intern(&sp, "[libfoo.so+0x20]"), so, 0, PROF_NATIVE);
	uint32_t c = profile_frame(p, intern(&sp, "foo_entry"), so, 0, PROF_NATIVE);
	assert_int_not_equal(profile_add(p, (uint32_t[]){ m, c, a }, 3, 3), UINT32_MAX);
	assert_int_not_equal(profile_add(p, (uint32_t[]){ m, c, b }, 3, 2), UINT32_MAX);
	assert_int_not_equal(profile_add(p, (uint32_t[]){ m, c, b, a }, 4, 1), UINT32_MAX);
	struct tui_rows r;
	struct tui_order o = { TUI_COL_OWN_PCT, 0, NULL };
	struct tui_view v = { .native = 1, .hz = 100 };
	assert_int_equal(tui_rows_build(p, &v, &r), 0);
	assert_int_equal(tui_rows_select(&r, &o), 0);
	assert_int_equal(r.n, 3);
	check_row(find(&r, "[libfoo.so]", 0), 6, 6);
	char label[64];
	assert_string_equal(tui_row_label(find(&r, "[libfoo.so]", 0), label, sizeof(label)),
			    "[libfoo.so]");
	struct tui_related rel;
	assert_int_equal(tui_related_build(&r, row_index(&r, "[libfoo.so]", 0), &rel), 0);
	check_rel(&r, rel.callers, rel.ncallers,
		  (struct rel_want[]){ { "foo_entry", 6 }, { "[libfoo.so]", 1 } }, 2);
	tui_related_free(&rel);
	tui_rows_free(&r);

	v.lines = 1;
	assert_int_equal(tui_rows_build(p, &v, &r), 0);
	assert_int_equal(r.n, 4);
	check_row(find(&r, "[libfoo.so+0x10]", 0), 4, 4);
	check_row(find(&r, "[libfoo.so+0x20]", 0), 2, 3);
	tui_rows_free(&r);
	profile_free(p);
	strpool_release(&sp);
}

/* ---- text and units ------------------------------------------------------ */

static void check_text(const char *s, int utf8, int maxcols, const wchar_t *want, int want_cols)
{
	wchar_t out[128];
	int cols = -1;
	size_t n = text_safe(out, ARRAY_LEN(out), s, utf8, maxcols, &cols);
	if (wcscmp(out, want))
		fail_msg("text_safe(\"%s\"): got \"%ls\", want \"%ls\"", s, out, want);
	assert_int_equal(n, wcslen(want));
	assert_int_equal(cols, want_cols);
}

static void test_text_safe(void **state)
{
	(void)state;
	/* Controls never reach the terminal. */
	check_text("\x1b[31mred\x1b[0m", 1, 80, L"\\x1b[31mred\\x1b[0m", 18);
	check_text("a\x07\x7f\x9b", 0, 80, L"a\\x07\\x7f?", 10);
	check_text("\xc2\x9b" "2J", 1, 80, L"\\xc2\\x9b2J", 10);       /* C1 CSI */
	check_text("x\xe2\x80\xaey", 1, 80, L"x\\u202ey", 8);        /* RLO */
	check_text("\xff", 1, 80, L"\xfffd", 1);
	check_text("back\\slash", 1, 80, L"back\\x5cslash", 13);
	/* An escape is shown whole or not at all. */
	check_text("ab\x1b", 1, 5, L"ab", 2);
	check_text("ab\x1b", 1, 6, L"ab\\x1b", 6);
	check_text("abcdef", 1, 4, L"abcd", 4);
	check_text("", 1, 10, L"", 0);
	check_text("abc", 1, 0, L"", 0);
	/* Without a UTF-8 locale, one '?' per character. */
	check_text("caf\xc3\xa9", 0, 80, L"caf?", 4);
	wchar_t out[8];
	int cols;
	assert_int_equal(text_safe(out, ARRAY_LEN(out), "abcdefghijkl", 1, 80, &cols), 7);
	assert_int_equal(cols, 7);
	assert_int_equal(text_fit(out, ARRAY_LEN(out), "a\\b\x01", 1, 80, &cols), 4);
	assert_true(!wcscmp(out, L"a\\b?"));
	if (setlocale(LC_CTYPE, "C.UTF-8")) {
		check_text("caf\xc3\xa9", 1, 80, L"caf\xe9", 4);
		check_text("\xe7\x81\xab!", 1, 80, L"\x706b!", 3);   /* wide */
		check_text("\xe7\x81\xab!", 1, 1, L"", 0);
		setlocale(LC_CTYPE, "C");
	}
}

static void test_units(void **state)
{
	(void)state;
	char b[32];
	static const struct {
		uint64_t v;
		int role;
		const char *want;
	} counts[] = {
		{ 0, EVR_OTHER, "0" },
		{ 9999, EVR_INSTRUCTIONS, "9999" },
		{ 12345, EVR_INSTRUCTIONS, "12.3K" },
		{ 999960, EVR_OTHER, "1.00M" },
		{ 4560000, EVR_CYCLES, "4.56M" },
		{ 7890000000ull, EVR_OTHER, "7.89G" },
		{ 1500000000ull, EVR_CPU_CLOCK, "1.50s" },
		{ 850000, EVR_TASK_CLOCK, "850us" },
	};
	for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
		tui_fmt_count(b, sizeof(b), counts[i].v, counts[i].role);
		assert_string_equal(b, counts[i].want);
		assert_true(strlen(b) <= 7);
	}
	static const struct {
		double s;
		const char *want;
	} times[] = {
		{ 0, "0" }, { 0.0005, "500us" }, { 0.0123, "12.3ms" }, { 4.56, "4.56s" },
		{ 125, "2m05s" }, { 3 * 3600 + 25 * 60, "3h25m" },
	};
	for (size_t i = 0; i < ARRAY_LEN(times); i++) {
		tui_fmt_time(b, sizeof(b), times[i].s);
		assert_string_equal(b, times[i].want);
	}
	tui_fmt_metric(b, sizeof(b), 1.234);
	assert_string_equal(b, "1.23");
	tui_fmt_metric(b, sizeof(b), 22222.2);
	assert_string_equal(b, "22222");
	tui_fmt_metric(b, sizeof(b), 1.5e6);
	assert_string_equal(b, "1.5M");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_functions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_native, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sort_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sort_missing_metric, setup, teardown),
		cmocka_unit_test_setup_teardown(test_related, setup, teardown),
		cmocka_unit_test(test_native_addresses),
		cmocka_unit_test(test_empty_profile),
		cmocka_unit_test(test_time_from_rate),
		cmocka_unit_test(test_text_safe),
		cmocka_unit_test(test_units),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
