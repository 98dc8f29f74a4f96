/*
 * view.c - draws the UI's state: the header, the table (or the help, the
 * callers and callees, the column chooser) and the key bar. It reads the
 * state and never changes it; every string from the target goes through
 * text_safe.
 */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "pyrometer/counts.h"
#include "pyrometer/evspec.h"
#include "ui.h"

#define HEADER_LINES 5          /* above the column titles */
#define NAME_MIN 20             /* the name column keeps at least this */
#define TEXT_MAX 1024

enum {
	CP_LABEL = 1,   /* header labels */
	CP_TITLE,       /* column titles */
	CP_HOT,         /* a large own share */
	CP_WARM,
	CP_NATIVE,      /* native frames' names */
	CP_FILE,        /* file:line */
	CP_ALERT,       /* paused, exited, out of memory */
	CP_KEY,         /* keys in the bottom bar */
	CP_PSEUDO,      /* [unknown] and other markers */
};

void view_init_colors(struct ui *u)
{
	if (!u->color)
		return;
	start_color();
	use_default_colors();
	init_pair(CP_LABEL, COLOR_CYAN, -1);
	init_pair(CP_TITLE, COLOR_BLACK, COLOR_GREEN);
	init_pair(CP_HOT, COLOR_RED, -1);
	init_pair(CP_WARM, COLOR_YELLOW, -1);
	init_pair(CP_NATIVE, COLOR_MAGENTA, -1);
	init_pair(CP_FILE, COLOR_CYAN, -1);
	init_pair(CP_ALERT, COLOR_WHITE, COLOR_RED);
	init_pair(CP_KEY, COLOR_BLACK, COLOR_CYAN);
	init_pair(CP_PSEUDO, COLOR_BLUE, -1);
}

/* Colour pair and attributes when the terminal has colour, else mono. */
static attr_t att(const struct ui *u, int pair, attr_t extra, attr_t mono)
{
	return u->color ? (attr_t)COLOR_PAIR(pair) | extra : mono;
}

static int put_text(const struct ui *u, int y, int x, int maxcols, const char *s, attr_t a,
		    int own)
{
	wchar_t buf[TEXT_MAX];
	int cols = 0;
	if (maxcols <= 0 || y < 0 || y >= LINES || x >= COLS)
		return 0;
	if (maxcols > COLS - x)
		maxcols = COLS - x;
	if (own)
		text_fit(buf, TEXT_MAX, s, u->utf8, maxcols, &cols);
	else
		text_safe(buf, TEXT_MAX, s, u->utf8, maxcols, &cols);
	attrset(a);
	mvaddnwstr(y, x, buf, -1);
	attrset(A_NORMAL);
	return cols;
}

/* Text that may come from the target at (y, x) in at most maxcols cells,
 * escaped; the cells it took. */
static int put(const struct ui *u, int y, int x, int maxcols, const char *s, attr_t a)
{
	return put_text(u, y, x, maxcols, s, a, 0);
}

/* Our own text (help, what the user typed): shown as it is. */
static int put_own(const struct ui *u, int y, int x, int maxcols, const char *s, attr_t a)
{
	return put_text(u, y, x, maxcols, s, a, 1);
}

/* A line built left to right from pieces. */
struct pen {
	const struct ui *u;
	int y, x;
};

static void pen_put(struct pen *p, const char *s, attr_t a)
{
	p->x += put(p->u, p->y, p->x, COLS - p->x, s, a);
}

static void pen_own(struct pen *p, const char *s, attr_t a)
{
	p->x += put_own(p->u, p->y, p->x, COLS - p->x, s, a);
}

/* "Label value": the value escaped unless own. */
static void pen_field(struct pen *p, const char *label, const char *value, int own)
{
	if (p->x > 0)
		pen_own(p, "  ", A_NORMAL);
	pen_own(p, label, att(p->u, CP_LABEL, A_BOLD, A_BOLD));
	pen_own(p, " ", A_NORMAL);
	if (own)
		pen_own(p, value, A_NORMAL);
	else
		pen_put(p, value, A_NORMAL);
}

static void pen_label(struct pen *p, const char *label, const char *value)
{
	pen_field(p, label, value, 0);
}

/* ---- columns ------------------------------------------------------------- */

static int col_width(const struct ui *u, int col)
{
	if (col >= TUI_COL_EVENT && col < TUI_COL_METRIC) {
		const char *name = profile_event(u->rows.p, (size_t)(col - TUI_COL_EVENT))->name;
		size_t n = strlen(name);
		return n < 7 ? 7 : n > 12 ? 12 : (int)n;
	}
	if (col >= TUI_COL_METRIC && col < TUI_COL_NAME) {
		size_t n = strlen(metric_info((enum metric)(col - TUI_COL_METRIC))->label);
		return n < 6 ? 6 : (int)n;
	}
	return tui_col_info(col)->width;
}

/*
 * The fixed columns, then the events and metrics not turned off, as many
 * as leave the name NAME_MIN cells; when not all fit, metrics (IPC, miss
 * rates) win over raw counts. Shown in the usual order whatever fits.
 */
size_t view_columns(const struct ui *u, int *cols)
{
	size_t n = 0;
	int used = 0;
	for (int c = TUI_COL_OWN_PCT; c < TUI_COL_EVENT; c++) {
		cols[n++] = c;
		used += tui_col_info(c)->width + 1;
	}
	int opt[TUI_COL_N];
	unsigned char keep[TUI_COL_N] = { 0 };
	size_t nopt = keys_choosable(u, opt);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nopt; i++) {
			int w = col_width(u, opt[i]) + 1;
			if ((opt[i] >= TUI_COL_METRIC) != (pass == 0) || u->hide[opt[i]] ||
			    used + w + NAME_MIN > COLS)
				continue;
			keep[i] = 1;
			used += w;
		}
	for (size_t i = 0; i < nopt; i++)
		if (keep[i])
			cols[n++] = opt[i];
	cols[n++] = TUI_COL_NAME;
	return n;
}

size_t view_page(const struct ui *u)
{
	(void)u;
	int n = LINES - HEADER_LINES - 2;
	return n > 1 ? (size_t)n : 1;
}

static const char *col_title(const struct ui *u, int col)
{
	if (col >= TUI_COL_EVENT && col < TUI_COL_METRIC)
		return profile_event(u->rows.p, (size_t)(col - TUI_COL_EVENT))->name;
	if (col >= TUI_COL_METRIC && col < TUI_COL_NAME)
		return metric_info((enum metric)(col - TUI_COL_METRIC))->label;
	return tui_col_info(col)->title;
}

/* ---- the header ---------------------------------------------------------- */

static void draw_identity(const struct ui *u, const struct tui_snapshot *s)
{
	struct pen p = { u, 0, 0 };
	char buf[64];
	snprintf(buf, sizeof(buf), "%d", (int)s->pid);
	pen_label(&p, "PID", buf);
	pen_label(&p, "Python", s->python[0] ? s->python : "(not Python)");
	pen_label(&p, "Command", s->target);
}

static const char *thread_comm(const struct tui_snapshot *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == tid)
			return s->threads[i].comm;
	return NULL;
}

static void draw_threads(const struct ui *u, const struct tui_snapshot *s)
{
	struct pen p = { u, 1, 0 };
	char buf[160];
	size_t running = 0;
	for (size_t i = 0; i < s->nthreads; i++)
		running += s->threads[i].running != 0;
	snprintf(buf, sizeof(buf), "%zu running / %zu total", running, s->nthreads);
	pen_label(&p, "Threads", buf);
	if (u->view.tid) {
		const char *comm = thread_comm(s, u->view.tid);
		snprintf(buf, sizeof(buf), "%d (%s)", (int)u->view.tid, comm ? comm : "gone");
		pen_label(&p, "Thread", buf);
	} else {
		pen_label(&p, "Thread", "all");
	}
	snprintf(buf, sizeof(buf), "%u Hz asked, %.1f Hz achieved", s->hz, s->hz_achieved);
	pen_label(&p, "Rate", buf);
}

static void draw_samples(const struct ui *u, const struct tui_snapshot *s)
{
	struct pen p = { u, 2, 0 };
	char buf[160], w[16], a[16];
	tui_fmt_time(w, sizeof(w), s->window_seconds);
	tui_fmt_time(a, sizeof(a), s->total_seconds);
	snprintf(buf, sizeof(buf), "%llu in window (%s), %llu total (%s)",
		 (unsigned long long)s->samples_window, w, (unsigned long long)s->samples_total, a);
	pen_label(&p, "Samples", buf);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->lost);
	pen_label(&p, "Lost", buf);
	pen_label(&p, "Source", s->source[0] ? s->source : "?");
}

/* Each event's count and each metric over the last interval. */
static void draw_interval(const struct ui *u, const struct tui_snapshot *s)
{
	struct pen p = { u, 3, 0 };
	char label[32], buf[96], v[16];
	snprintf(label, sizeof(label), "Last %.2fs", s->interval_seconds);
	snprintf(buf, sizeof(buf), "samples %llu", (unsigned long long)s->samples_interval);
	pen_label(&p, label, buf);
	size_t nev = s->nev < TUI_EVENTS_MAX ? s->nev : TUI_EVENTS_MAX;
	for (size_t k = 0; k < nev; k++) {
		pen_put(&p, "  ", A_NORMAL);
		pen_put(&p, s->ev_names[k], A_NORMAL);
		tui_fmt_count(v, sizeof(v), s->ev_interval[k], s->ev_roles[k]);
		snprintf(buf, sizeof(buf), " %s", v);
		pen_put(&p, buf, A_BOLD);
	}
	enum metric met[MET_N];
	int where[COUNTS_ROLES];
	size_t nmet = metrics_for(s->ev_roles, nev, met, where);
	for (size_t i = 0; i < nmet; i++) {
		double x;
		if (metric_value(met[i], s->ev_interval, where, s->samples_interval, &x) < 0)
			continue;
		tui_fmt_metric(v, sizeof(v), x);
		snprintf(buf, sizeof(buf), "  %s ", metric_info(met[i])->label);
		pen_put(&p, buf, A_NORMAL);
		pen_put(&p, v, A_BOLD);
	}
}

static void draw_status(const struct ui *u, const struct tui_snapshot *s)
{
	struct pen p = { u, 4, 0 };
	char buf[UI_FILTER_MAX + 64], t[16];
	tui_fmt_time(t, sizeof(t), u->whole_run ? s->total_seconds : s->window_seconds);
	snprintf(buf, sizeof(buf), "%s, native %s, %s (%s), every %.2gs",
		 u->view.lines ? "lines" : "functions", u->view.native ? "on" : "off",
		 u->whole_run ? "whole run" : "window", t, u->interval_ms / 1000.0);
	pen_label(&p, "View", buf);
	const char *title = u->rows_ok ? col_title(u, u->sort) : tui_col_info(u->sort)->title;
	snprintf(buf, sizeof(buf), "%s%s", title ? title : "?", u->reverse ? " (reversed)" : "");
	pen_label(&p, "Sort", buf);
	if (u->filter[0] && u->rows_ok) {
		snprintf(buf, sizeof(buf), "\"%s\" (%zu of %zu)", u->filter, u->rows.nshown,
			 u->rows.n);
		pen_field(&p, "Filter", buf, 1);
	}
	attr_t alert = att(u, CP_ALERT, A_BOLD, A_REVERSE | A_BOLD);
	if (u->paused) {
		pen_put(&p, "  ", A_NORMAL);
		pen_put(&p, " PAUSED ", alert);
	}
	if (u->reset_asked)
		pen_put(&p, "  reset asked", A_BOLD);
	if (u->oom) {
		pen_put(&p, "  ", A_NORMAL);
		pen_put(&p, " out of memory: showing less ", alert);
	}
	if (s->exited) {
		pen_put(&p, "  ", A_NORMAL);
		snprintf(buf, sizeof(buf), " %s; q quits ", s->exit_note[0] ? s->exit_note :
			 "the target exited");
		pen_put(&p, buf, alert);
	}
}

/* ---- the table ----------------------------------------------------------- */

static void draw_titles(const struct ui *u, const int *cols, size_t ncols, int y)
{
	attr_t a = att(u, CP_TITLE, A_BOLD, A_REVERSE | A_BOLD);
	attrset(a);
	mvhline(y, 0, ' ', COLS);
	int x = 0;
	for (size_t i = 0; i < ncols; i++) {
		attr_t ca = cols[i] == u->sort ? a | A_UNDERLINE : a;
		if (cols[i] == TUI_COL_NAME) {
			put(u, y, x, COLS - x, col_title(u, cols[i]), ca);
			break;
		}
		int w = col_width(u, cols[i]);
		wchar_t tmp[32];
		int tw = 0;
		text_safe(tmp, 32, col_title(u, cols[i]), u->utf8, w, &tw);
		put(u, y, x + w - tw, w, col_title(u, cols[i]), ca);
		x += w + 1;
	}
	attrset(A_NORMAL);
}

/* "file:line", the module of a native frame, or "". */
static void row_where(const struct tui_row *r, int base, char *buf, size_t len)
{
	const char *file = r->file;
	if (base && strrchr(file, '/'))
		file = strrchr(file, '/') + 1;
	if (r->kind == PROF_PYTHON && r->line >= 0)
		snprintf(buf, len, "%s:%d", file, r->line);
	else if (r->kind == PROF_PYTHON || r->kind == PROF_NATIVE)
		snprintf(buf, len, "%s", file);
	else
		buf[0] = '\0';
}

static int text_cols(const struct ui *u, const char *s)
{
	wchar_t tmp[TEXT_MAX];
	int cols = 0;
	text_safe(tmp, TEXT_MAX, s, u->utf8, TEXT_MAX, &cols);
	return cols;
}

/* Whether "name (where)" fits in w cells with the file as it is. */
static int name_fits(const struct ui *u, const struct tui_row *r, int w)
{
	char where[768];
	row_where(r, 0, where, sizeof(where));
	return text_cols(u, r->name) + (where[0] ? 3 + text_cols(u, where) : 0) <= w;
}

/* "name (where)", the file as its base name when base, cut to the screen. */
static void draw_name(const struct ui *u, const struct tui_row *r, int y, int x, int sel,
		      int base)
{
	int w = COLS - x;
	char where[768];
	attr_t na = sel ? A_REVERSE :
		    r->kind == PROF_NATIVE ? att(u, CP_NATIVE, 0, A_NORMAL) :
		    r->kind == PROF_PSEUDO ? att(u, CP_PSEUDO, 0, A_NORMAL) : A_NORMAL;
	attr_t fa = sel ? A_REVERSE : att(u, CP_FILE, 0, A_NORMAL);
	int used = put(u, y, x, w, r->name, na);
	row_where(r, base, where, sizeof(where));
	if (!where[0])
		return;
	used += put_own(u, y, x + used, w - used, " (", fa);
	used += put(u, y, x + used, w - used, where, fa);
	put_own(u, y, x + used, w - used, ")", fa);
}

static void cell_text(const struct ui *u, const struct tui_row *r, int col, char *buf,
		      size_t len, attr_t *a)
{
	const struct tui_rows *rs = &u->rows;
	double all = (double)rs->samples;
	*a = A_NORMAL;
	if (col == TUI_COL_OWN_PCT || col == TUI_COL_TOTAL_PCT) {
		double pct = all > 0 ? 100.0 * (double)(col == TUI_COL_OWN_PCT ? r->self :
							 r->total) / all : 0;
		snprintf(buf, len, "%.1f", pct);
		if (col == TUI_COL_OWN_PCT && pct >= 20)
			*a = att(u, CP_HOT, A_BOLD, A_BOLD);
		else if (col == TUI_COL_OWN_PCT && pct >= 5)
			*a = att(u, CP_WARM, 0, A_NORMAL);
	} else if (col == TUI_COL_OWN_TIME || col == TUI_COL_TOTAL_TIME) {
		tui_fmt_time(buf, len, tui_row_time(rs, r, col == TUI_COL_TOTAL_TIME));
	} else if (col >= TUI_COL_EVENT && col < TUI_COL_METRIC) {
		size_t k = (size_t)(col - TUI_COL_EVENT);
		tui_fmt_count(buf, len, r->selfv[k], rs->roles[k]);
	} else {
		int m = col - TUI_COL_METRIC;
		if (r->met_ok & (1u << m))
			tui_fmt_metric(buf, len, r->met[m]);
		else
			snprintf(buf, len, "-");
	}
}

static void draw_row(const struct ui *u, const struct tui_row *r, const int *cols,
		     size_t ncols, int y, int sel, int base)
{
	int x = 0;
	if (sel) {
		attrset(A_REVERSE);
		mvhline(y, 0, ' ', COLS);
		attrset(A_NORMAL);
	}
	for (size_t i = 0; i < ncols && x < COLS; i++) {
		if (cols[i] == TUI_COL_NAME) {
			draw_name(u, r, y, x, sel, base);
			break;
		}
		int w = col_width(u, cols[i]);
		char cell[32];
		attr_t a;
		cell_text(u, r, cols[i], cell, sizeof(cell), &a);
		int len = (int)strlen(cell);
		put(u, y, x + (len < w ? w - len : 0), w, cell, sel ? A_REVERSE : a);
		x += w + 1;
	}
}

static void draw_table(struct ui *u)
{
	int cols[TUI_COL_N];
	size_t ncols = view_columns(u, cols), page = view_page(u);
	int y0 = HEADER_LINES + 1;
	draw_titles(u, cols, ncols, HEADER_LINES);
	if (!u->rows_ok || !u->rows.nshown) {
		const char *why = !u->rows_ok ? "(no data yet)" :
				  u->rows.n ? "(no rows match the filter: Esc clears it)" :
					      "(no samples in view yet)";
		put(u, y0, 2, COLS - 2, why, A_BOLD);
		return;
	}
	/* Keep the selection on screen. */
	if (u->sel >= u->rows.nshown)
		u->sel = u->rows.nshown - 1;
	if (u->sel < u->top)
		u->top = u->sel;
	if (u->sel >= u->top + page)
		u->top = u->sel - page + 1;
	if (u->top + page > u->rows.nshown)
		u->top = u->rows.nshown > page ? u->rows.nshown - page : 0;
	/* Files by their base name in every row once one row needs it, so
	 * the column reads the same way all down. */
	int name_x = 0, base = 0;
	for (size_t i = 0; i + 1 < ncols; i++)
		name_x += col_width(u, cols[i]) + 1;
	for (size_t i = 0; i < page && u->top + i < u->rows.nshown && !base; i++)
		base = !name_fits(u, &u->rows.v[u->rows.order[u->top + i]], COLS - name_x);
	for (size_t i = 0; i < page && u->top + i < u->rows.nshown; i++) {
		size_t at = u->top + i;
		draw_row(u, &u->rows.v[u->rows.order[at]], cols, ncols, y0 + (int)i, at == u->sel,
			 base);
	}
}

/* ---- callers and callees ------------------------------------------------- */

static void rel_line(const struct ui *u, const struct tui_related *rel, const struct tui_rel *e,
		     int callers, int y)
{
	char buf[64], label[1024];
	double share = rel->weight ? 100.0 * (double)e->weight / (double)rel->weight : 0;
	snprintf(buf, sizeof(buf), "%7.1f%% %9llu  ", share, (unsigned long long)e->weight);
	int x = put(u, y, 0, COLS, buf, A_NORMAL);
	if (e->row == TUI_REL_EDGE)
		put(u, y, x, COLS - x, callers ? "(top of the stack)" : "(self)", A_BOLD);
	else
		put(u, y, x, COLS - x, tui_row_label(&u->rows.v[e->row], label, sizeof(label)),
		    A_NORMAL);
}

static int rel_section(const struct ui *u, const struct tui_related *rel, int callers, int y,
		       int lines)
{
	attr_t ta = att(u, CP_TITLE, A_BOLD, A_REVERSE | A_BOLD);
	const struct tui_rel *v = callers ? rel->callers : rel->callees;
	size_t n = callers ? rel->ncallers : rel->ncallees;
	attrset(ta);
	mvhline(y, 0, ' ', COLS);
	put(u, y, 0, COLS, callers ? "   SHARE   SAMPLES  CALLERS (who called it)" :
				     "   SHARE   SAMPLES  CALLEES (what it called)", ta);
	attrset(A_NORMAL);
	int used = 1;
	for (size_t i = 0; i < n && used < lines; i++, used++)
		rel_line(u, rel, &v[i], callers, y + used);
	if (n + 1 > (size_t)lines && lines > 1)
		put(u, y + lines - 1, 2, COLS - 2, "...", A_BOLD);
	return used;
}

static void draw_detail(struct ui *u)
{
	int y = HEADER_LINES, room = LINES - 1 - y;
	if (!u->rows_ok || u->sel >= u->rows.nshown) {
		put(u, y, 0, COLS, "(the row is gone: Esc returns)", A_BOLD);
		return;
	}
	const struct tui_row *r = &u->rows.v[u->rows.order[u->sel]];
	struct tui_related rel;
	char buf[160], label[1024];
	if (tui_related_build(&u->rows, u->rows.order[u->sel], &rel) < 0) {
		put(u, y, 0, COLS, "(out of memory)", A_BOLD);
		return;
	}
	struct pen p = { u, y, 0 };
	pen_put(&p, tui_row_label(r, label, sizeof(label)), A_BOLD);
	double all = (double)u->rows.samples;
	snprintf(buf, sizeof(buf), "  total %.1f%%, own %.1f%%  (Esc returns, Up/Down moves)",
		 all > 0 ? 100.0 * (double)r->total / all : 0,
		 all > 0 ? 100.0 * (double)r->self / all : 0);
	pen_put(&p, buf, A_NORMAL);
	room--;
	int half = room / 2;
	int used = rel_section(u, &rel, 1, y + 1, half);
	rel_section(u, &rel, 0, y + 1 + used, room - used);
	tui_related_free(&rel);
}

/* ---- the column chooser and the help ------------------------------------- */

static void draw_columns(const struct ui *u)
{
	int y = HEADER_LINES, cols[TUI_COL_N];
	size_t n = keys_choosable(u, cols);
	attr_t ta = att(u, CP_TITLE, A_BOLD, A_REVERSE | A_BOLD);
	attrset(ta);
	mvhline(y, 0, ' ', COLS);
	put(u, y, 0, COLS, "COLUMNS  Up/Down and Space, or 1-9: on/off; e or Esc returns", ta);
	attrset(A_NORMAL);
	if (!n)
		put(u, y + 1, 2, COLS - 2, "(no events or metrics)", A_BOLD);
	for (size_t i = 0; i < n && y + 1 + (int)i < LINES - 1; i++) {
		char buf[64];
		int c = cols[i], sel = (int)i == u->col_cursor;
		snprintf(buf, sizeof(buf), " %zu [%c] ", i + 1, u->hide[c] ? ' ' : 'x');
		attr_t a = sel ? A_REVERSE : A_NORMAL;
		int x = put_own(u, y + 1 + (int)i, 0, COLS, buf, a);
		put(u, y + 1 + (int)i, x, 24, col_title(u, c), a);
		x += 26;
		put_own(u, y + 1 + (int)i, x, COLS - x,
			c < TUI_COL_METRIC ? "event: own count" : "metric over the row's totals", a);
	}
}

static void draw_help(const struct ui *u)
{
	int y = 0;
	attr_t ta = att(u, CP_TITLE, A_BOLD, A_REVERSE | A_BOLD);
	attrset(ta);
	mvhline(y, 0, ' ', COLS);
	put(u, y++, 0, COLS, "pyrometer top: keys (any key returns)", ta);
	attrset(A_NORMAL);
	for (size_t i = 0; i < keys_nbindings && y < LINES - 1; i++) {
		const struct key_binding *b = &keys_bindings[i];
		put_own(u, y, 2, 20, b->label, att(u, CP_LABEL, A_BOLD, A_BOLD));
		put_own(u, y++, 22, COLS - 22, b->help, A_NORMAL);
	}
	if (y < LINES - 1)
		y++;
	for (int c = 0; c < TUI_COL_EVENT && y < LINES - 1; c++) {
		put(u, y, 2, 20, tui_col_info(c)->title, att(u, CP_LABEL, A_BOLD, A_BOLD));
		put(u, y++, 22, COLS - 22, tui_col_info(c)->what, A_NORMAL);
	}
	static const struct {
		const char *t, *w;
	} more[] = {
		{ "EVENT", "each event's own count (K, M, G; clock events as time)" },
		{ "IPC MPKI ...", "metrics over the row's total counts, where their events exist" },
		{ "", "Names from the target are shown with control characters as \\xNN." },
	};
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]) && y < LINES - 1; i++) {
		put_own(u, y, 2, 20, more[i].t, att(u, CP_LABEL, A_BOLD, A_BOLD));
		put_own(u, y++, 22, COLS - 22, more[i].w, A_NORMAL);
	}
}

/* ---- the bottom line ----------------------------------------------------- */

static void draw_keybar(const struct ui *u)
{
	int y = LINES - 1;
	if (u->editing) {
		int x = put(u, y, 0, COLS, "Filter: ", att(u, CP_LABEL, A_BOLD, A_BOLD));
		x += put_own(u, y, x, COLS - x - 1, u->filter, A_NORMAL);
		put(u, y, x, COLS - x, "_", A_BLINK);
		put(u, y, x + 2, COLS - x - 2, "  (Enter keeps, Esc clears)", A_NORMAL);
		return;
	}
	char every[16];
	snprintf(every, sizeof(every), "%.2gs", u->interval_ms / 1000.0);
	const struct {
		const char *key, *label;
	} bar[] = {
		{ "q", "Quit" }, { "h", "Help" }, { "/", "Filter" }, { "<>", "Sort" },
		{ "l", u->view.lines ? "Funcs" : "Lines" }, { "n", "Native" },
		{ "t", "Thread" }, { "p", u->paused ? "Resume" : "Pause" }, { "r", "Reset" },
		{ "a", u->whole_run ? "Window" : "All" }, { "Enter", "Calls" },
		{ "e", "Cols" }, { "+-", every },
	};
	attr_t ka = att(u, CP_KEY, A_BOLD, A_REVERSE);
	int x = 0;
	for (size_t i = 0; i < sizeof(bar) / sizeof(bar[0]) && x < COLS; i++) {
		x += put_own(u, y, x, COLS - x, i ? "  " : "", A_NORMAL);
		x += put_own(u, y, x, COLS - x, bar[i].key, ka);
		x += put_own(u, y, x, COLS - x, " ", A_NORMAL);
		x += put_own(u, y, x, COLS - x, bar[i].label, A_NORMAL);
	}
}

void view_draw(struct ui *u)
{
	erase();
	u->lines = LINES;
	u->cols = COLS;
	if (u->mode == UI_HELP) {
		draw_help(u);
	} else if (!u->snap) {
		put(u, 0, 0, COLS, "pyrometer top: waiting for the first samples...", A_BOLD);
	} else {
		draw_identity(u, u->snap);
		draw_threads(u, u->snap);
		draw_samples(u, u->snap);
		draw_interval(u, u->snap);
		draw_status(u, u->snap);
		if (u->mode == UI_DETAIL)
			draw_detail(u);
		else if (u->mode == UI_COLUMNS)
			draw_columns(u);
		else
			draw_table(u);
	}
	draw_keybar(u);
	wnoutrefresh(stdscr);
	doupdate();
}
