/*
 * model.h - what the live view shows, computed from one profile and the
 * user's choices, without a terminal: the rows (one per function or per
 * line), their order, the substring filter, and a row's callers and callees.
 *
 * Pure functions over caller-owned data: the UI thread rebuilds the rows
 * when a snapshot arrives or a choice changes, and the unit tests build
 * profiles by hand and check the rows.
 *
 * Ownership: struct tui_rows owns its arrays; rows point into the profile's
 * frames and strings, so the rows must be freed before the profile is.
 */
#ifndef PYROMETER_TUI_MODEL_H
#define PYROMETER_TUI_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyrometer/counts.h"
#include "pyrometer/profile.h"

/*
 * The table's columns, as data. Events and metrics are families: column
 * TUI_COL_EVENT + k is event k, TUI_COL_METRIC + m is metric m (enum
 * metric). A column id is also a sort key.
 */
enum {
	TUI_COL_OWN_PCT = 0,      /* own samples / samples of the view */
	TUI_COL_TOTAL_PCT,        /* samples under the row / samples */
	TUI_COL_OWN_TIME,         /* own time: a clock event's count, else samples / Hz */
	TUI_COL_TOTAL_TIME,
	TUI_COL_EVENT,            /* + k: event k's own count */
	TUI_COL_METRIC = TUI_COL_EVENT + PROF_EVENTS_MAX,  /* + m */
	TUI_COL_NAME = TUI_COL_METRIC + MET_N,             /* function (file:line) */
	TUI_COL_N
};

struct tui_col_info {
	const char *title;        /* header; NULL for the families (named by event) */
	const char *what;         /* one line for the help screen */
	int width;                /* cells, not counting the separating space */
};

/* The fixed columns' descriptions (events and metrics get their names). */
const struct tui_col_info *tui_col_info(int col);

/* How the view is cut: what a change here needs is a rebuild. */
struct tui_view {
	int lines;                /* 1: a row per line (and per address of a
				     native frame without a symbol); 0: per
				     function (and per module: "[libfoo.so]") */
	int native;               /* 1: native frames are rows and stack levels */
	pid_t tid;                /* 0: every thread; else only that thread */
	double hz;                /* the sampling rate, for times without a clock event */
};

/* How the rows are shown: a change here needs tui_rows_select only. */
struct tui_order {
	int sort;                 /* a column id */
	int reverse;              /* flip the column's natural order */
	const char *filter;       /* substring of "name (file:line)", case-insensitive;
				     NULL or "" for none */
};

struct tui_row {
	const char *name, *file;  /* the profile's strings */
	int line;                 /* -1 in the function view */
	int kind;                 /* enum prof_kind */
	uint32_t key;             /* the row's identity for tui_related */
	uint64_t self, total;     /* samples */
	const uint64_t *selfv, *totalv;   /* nev event counts each */
	double met[MET_N];        /* by enum metric, over the row's totals */
	unsigned met_ok;          /* bit m: met[m] has a value */
};

struct tui_rows {
	struct tui_row *v;        /* every row with samples or counts */
	size_t n;
	size_t *order;            /* the rows shown: filtered and sorted */
	size_t nshown;

	size_t nev;
	int roles[PROF_EVENTS_MAX];
	int clock_ev;             /* the first cpu-clock/task-clock event, or -1 */
	enum metric met[MET_N];   /* the metrics that apply, in enum order */
	size_t nmet;
	int where[COUNTS_ROLES];  /* metrics_for's */

	uint64_t samples;         /* of the threads in view: 100 % */
	uint64_t *evtotal;        /* nev: event totals of the threads in view */
	double metric_total[MET_N];   /* over those totals */
	unsigned metric_total_ok;
	double hz;

	/* For tui_related: the profile and how its frames map to rows. */
	const struct profile *p;
	struct tui_view view;
	uint32_t *keymap;         /* frame id -> key, UINT32_MAX: not a level */
	uint32_t nkeys;
	uint32_t *key_row;        /* key -> row index, UINT32_MAX when none */
	uint64_t *selfv, *totalv; /* the storage behind the rows' */
	char **names;             /* "[module]" names made for the function view */
	size_t nnames;
};

/*
 * Aggregate p as v says into out (every row, not yet ordered: call
 * tui_rows_select). Thread roots are never rows; with a tid only the stacks
 * under that thread's root count. 0 or -ENOMEM (out is then empty).
 */
int tui_rows_build(const struct profile *p, const struct tui_view *v, struct tui_rows *out);

/* Fill r->order with the rows o lets through, in o's order. 0 or -ENOMEM. */
int tui_rows_select(struct tui_rows *r, const struct tui_order *o);

void tui_rows_free(struct tui_rows *r);

/* Whether a sort column exists for these rows (its event or metric is there). */
int tui_col_valid(const struct tui_rows *r, int col);

/* A row's own and total time in seconds. */
double tui_row_time(const struct tui_rows *r, const struct tui_row *row, int total);

/* "name (file:line)" as the name column and the filter see it (raw, not
 * escaped): into buf, returns buf. */
const char *tui_row_label(const struct tui_row *row, char *buf, size_t len);

/* One caller or callee of a row. row is an index into r->v, or TUI_REL_EDGE
 * for the top of the stack (callers) and the row's own samples (callees). */
#define TUI_REL_EDGE SIZE_MAX
struct tui_rel {
	size_t row;
	uint64_t weight;          /* samples (event 0's counts when the row has
				     no samples) through this caller or callee */
};

struct tui_related {
	uint64_t weight;          /* the row's total in the same unit: 100 % */
	struct tui_rel *callers, *callees;   /* heaviest first */
	size_t ncallers, ncallees;
};

/*
 * The callers and callees of row index `row` in the stacks rows r were
 * built from. Each stack counts once per caller (callee) however often the
 * row recurs in it, so shares of a recursive row may add up past 100 %.
 * 0 or -ENOMEM.
 */
int tui_related_build(const struct tui_rows *r, size_t row, struct tui_related *out);
void tui_related_free(struct tui_related *rel);

/* Human units in at most 7 cells: 1234, 12.3K, 4.56M, 7.89G; a clock
 * event's nanoseconds as time. */
void tui_fmt_count(char *out, size_t cap, uint64_t v, int role);
/* Seconds in at most 7 cells: 850us, 12.3ms, 4.56s, 12m34s, 3h25m. */
void tui_fmt_time(char *out, size_t cap, double s);
/* A metric value in at most 7 cells. */
void tui_fmt_metric(char *out, size_t cap, double v);

#endif
