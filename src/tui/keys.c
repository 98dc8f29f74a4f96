/*
 * keys.c - what each key does. Bindings are a table; an action changes the
 * UI's state and returns what must be recomputed (ACT_*), it never draws.
 */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

#define KEY_ESC 27
#define KEY_CTRL(c) ((c) & 0x1f)

/* ---- the table: selection and scrolling ---------------------------------- */

/* Copies, not pointers: "[module]" names die with their rows. */
static void remember_selection(struct ui *u)
{
	free(u->sel_id.name);
	free(u->sel_id.file);
	u->sel_id.name = u->sel_id.file = NULL;
	if (!u->rows_ok || u->sel >= u->rows.nshown)
		return;
	const struct tui_row *r = &u->rows.v[u->rows.order[u->sel]];
	u->sel_id.name = strdup(r->name);
	u->sel_id.file = strdup(r->file);
	u->sel_id.line = r->line;
	u->sel_id.kind = r->kind;
	if (!u->sel_id.name || !u->sel_id.file) {   /* then the selection won't follow */
		free(u->sel_id.name);
		free(u->sel_id.file);
		u->sel_id.name = u->sel_id.file = NULL;
	}
}

static unsigned act_move(struct ui *u, int ch)
{
	size_t n = u->rows_ok ? u->rows.nshown : 0, page = view_page(u);
	if (!n)
		return ACT_DRAW;
	switch (ch) {
	case KEY_UP:
		u->sel -= u->sel > 0;
		break;
	case KEY_DOWN:
		u->sel += u->sel + 1 < n;
		break;
	case KEY_PPAGE:
		u->sel = u->sel > page ? u->sel - page : 0;
		break;
	case KEY_NPAGE:
		u->sel = u->sel + page < n ? u->sel + page : n - 1;
		break;
	case KEY_HOME:
		u->sel = 0;
		break;
	case KEY_END:
		u->sel = n - 1;
		break;
	}
	/* At the top the list shows what is hottest now; anywhere else the
	 * selection stays on its row as the order changes. */
	u->follow = u->sel > 0;
	remember_selection(u);
	return ACT_DRAW;
}

/* ---- sorting ------------------------------------------------------------- */

static unsigned sort_by(struct ui *u, int col)
{
	if (u->sort == col)
		return ACT_DRAW;
	u->sort = col;
	u->reverse = 0;
	return ACT_SELECT;
}

static unsigned act_sort_nth(struct ui *u, int ch)
{
	int cols[TUI_COL_N];
	size_t n = view_columns(u, cols), i = (size_t)(ch - '1');
	return i < n ? sort_by(u, cols[i]) : ACT_DRAW;
}

static unsigned act_sort_step(struct ui *u, int ch)
{
	int cols[TUI_COL_N];
	size_t n = view_columns(u, cols), i = 0;
	while (i < n && cols[i] != u->sort)
		i++;
	if (i == n)
		i = 0;
	else if (ch == '<' || ch == ',')
		i = i ? i - 1 : n - 1;
	else
		i = i + 1 < n ? i + 1 : 0;
	return n ? sort_by(u, cols[i]) : ACT_DRAW;
}

static unsigned act_reverse(struct ui *u, int ch)
{
	(void)ch;
	u->reverse = !u->reverse;
	return ACT_SELECT;
}

/* ---- what the rows are --------------------------------------------------- */

static unsigned act_lines(struct ui *u, int ch)
{
	(void)ch;
	u->view.lines = !u->view.lines;
	return ACT_BUILD;
}

static unsigned act_native(struct ui *u, int ch)
{
	(void)ch;
	u->view.native = !u->view.native;
	return ACT_BUILD;
}

static int cmp_tid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* All threads, then each thread of the snapshot by TID, then all again. */
static unsigned act_thread(struct ui *u, int ch)
{
	(void)ch;
	if (!u->snap || !u->snap->nthreads) {
		u->view.tid = 0;
		return ACT_BUILD;
	}
	size_t n = u->snap->nthreads;
	pid_t tids[256];
	if (n > sizeof(tids) / sizeof(tids[0]))
		n = sizeof(tids) / sizeof(tids[0]);
	for (size_t i = 0; i < n; i++)
		tids[i] = u->snap->threads[i].tid;
	qsort(tids, n, sizeof(tids[0]), cmp_tid);
	pid_t next = 0;
	for (size_t i = 0; i < n && !next; i++)
		if (tids[i] > u->view.tid)
			next = tids[i];
	u->view.tid = next;
	return ACT_BUILD;
}

static unsigned act_whole_run(struct ui *u, int ch)
{
	(void)ch;
	u->whole_run = !u->whole_run;
	return ACT_BUILD;
}

/* ---- time ---------------------------------------------------------------- */

static unsigned act_pause(struct ui *u, int ch)
{
	(void)ch;
	u->paused = !u->paused;
	return ACT_DRAW;
}

static unsigned act_reset(struct ui *u, int ch)
{
	(void)ch;
	u->want_reset = 1;
	u->reset_asked = 1;
	return ACT_DRAW;
}

static unsigned act_interval(struct ui *u, int ch)
{
	static const int steps[] = { 250, 500, 1000, 2000, 3000, 5000, 10000 };
	size_t n = sizeof(steps) / sizeof(steps[0]), i = 0;
	while (i + 1 < n && steps[i] < u->interval_ms)
		i++;
	if (ch == '+' || ch == '=')
		i += i + 1 < n && steps[i] <= u->interval_ms;
	else
		i -= i > 0 && steps[i] >= u->interval_ms;
	u->interval_ms = steps[i];
	return ACT_DRAW;
}

/* ---- modes --------------------------------------------------------------- */

static unsigned act_quit(struct ui *u, int ch)
{
	(void)ch;
	u->want_quit = 1;
	return ACT_DRAW;
}

static unsigned act_help(struct ui *u, int ch)
{
	(void)ch;
	u->mode = UI_HELP;
	return ACT_DRAW;
}

static unsigned act_filter(struct ui *u, int ch)
{
	(void)ch;
	u->editing = 1;
	return ACT_DRAW;
}

static unsigned act_clear(struct ui *u, int ch)
{
	(void)ch;
	if (!u->filter[0])
		return ACT_DRAW;
	u->filter[0] = '\0';
	return ACT_SELECT;
}

static unsigned act_detail(struct ui *u, int ch)
{
	(void)ch;
	if (u->rows_ok && u->rows.nshown) {
		u->mode = UI_DETAIL;
		remember_selection(u);  /* the details stay with this row */
	}
	return ACT_DRAW;
}

static unsigned act_columns(struct ui *u, int ch)
{
	(void)ch;
	u->mode = UI_COLUMNS;
	u->col_cursor = 0;
	return ACT_DRAW;
}

static unsigned act_redraw(struct ui *u, int ch)
{
	(void)u;
	(void)ch;
	clearok(curscr, TRUE);
	return ACT_DRAW;
}

const struct key_binding keys_bindings[] = {
	{ { 'q' }, "q", "quit", act_quit },
	{ { 'h', '?', KEY_F(1) }, "h ?", "this help", act_help },
	{ { '1', '2', '3', '4', '5', '6', '7', '8', '9' }, "1-9", "sort by the Nth column",
	  act_sort_nth },
	{ { '<', '>', ',', '.' }, "< >", "sort by the column left / right", act_sort_step },
	{ { 'R' }, "R", "reverse the order", act_reverse },
	{ { 'l' }, "l", "rows per line / per function", act_lines },
	{ { 'n' }, "n", "native frames on / off", act_native },
	{ { 't' }, "t", "all threads, then each thread in turn", act_thread },
	{ { 'a' }, "a", "the whole run / the window since the last reset", act_whole_run },
	{ { 'r' }, "r", "reset the window", act_reset },
	{ { 'p' }, "p", "pause the display (sampling goes on)", act_pause },
	{ { '/' }, "/", "filter rows by a substring (Enter keeps it)", act_filter },
	{ { KEY_ESC }, "Esc", "clear the filter", act_clear },
	{ { KEY_UP, KEY_DOWN }, "Up Down", "select a row", act_move },
	{ { KEY_PPAGE, KEY_NPAGE, KEY_HOME, KEY_END }, "PgUp PgDn Home End", "scroll",
	  act_move },
	{ { '\n', '\r', KEY_ENTER }, "Enter", "callers and callees of the selected row",
	  act_detail },
	{ { 'e' }, "e", "choose the event and metric columns", act_columns },
	{ { '+', '=' }, "+", "refresh less often (up to 10 s)", act_interval },
	{ { '-', '_' }, "-", "refresh more often (down to 0.25 s)", act_interval },
	{ { KEY_CTRL('l'), KEY_RESIZE }, "Ctrl-L", "redraw the screen", act_redraw },
};
const size_t keys_nbindings = sizeof(keys_bindings) / sizeof(keys_bindings[0]);

static const struct key_binding *binding_of(int ch)
{
	for (size_t i = 0; i < keys_nbindings; i++)
		for (size_t j = 0; j < KEYS_PER_BINDING && keys_bindings[i].keys[j]; j++)
			if (keys_bindings[i].keys[j] == ch)
				return &keys_bindings[i];
	return NULL;
}

/* ---- keys in the other modes --------------------------------------------- */

static unsigned filter_key(struct ui *u, int ch)
{
	size_t len = strlen(u->filter);
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		u->editing = 0;
		return ACT_DRAW;
	}
	if (ch == KEY_ESC) {
		u->editing = 0;
		u->filter[0] = '\0';
		return ACT_SELECT;
	}
	if (ch == KEY_BACKSPACE || ch == 127 || ch == KEY_CTRL('h')) {
		/* a whole UTF-8 character */
		while (len && ((unsigned char)u->filter[len - 1] & 0xc0) == 0x80)
			len--;
		u->filter[len ? len - 1 : 0] = '\0';
		return ACT_SELECT;
	}
	if (ch == KEY_CTRL('u')) {
		u->filter[0] = '\0';
		return ACT_SELECT;
	}
	if (ch >= 0x20 && ch <= 0xff && ch != 127 && len + 1 < sizeof(u->filter)) {
		u->filter[len] = (char)ch;
		u->filter[len + 1] = '\0';
		return ACT_SELECT;
	}
	const struct key_binding *b = binding_of(ch);
	return b && b->act == act_move ? act_move(u, ch) : ACT_DRAW;
}

size_t keys_choosable(const struct ui *u, int *cols)
{
	size_t n = 0;
	if (!u->rows_ok)
		return 0;
	for (size_t k = 0; k < u->rows.nev; k++)
		cols[n++] = TUI_COL_EVENT + (int)k;
	for (size_t i = 0; i < u->rows.nmet; i++)
		cols[n++] = TUI_COL_METRIC + (int)u->rows.met[i];
	return n;
}

static unsigned columns_key(struct ui *u, int ch)
{
	int cols[TUI_COL_N];
	int n = (int)keys_choosable(u, cols);
	if (ch == KEY_UP && u->col_cursor > 0)
		u->col_cursor--;
	else if (ch == KEY_DOWN && u->col_cursor + 1 < n)
		u->col_cursor++;
	else if ((ch == ' ' || ch == '\n' || ch == '\r' || ch == KEY_ENTER) && u->col_cursor < n)
		u->hide[cols[u->col_cursor]] ^= 1;
	else if (ch >= '1' && ch <= '9' && ch - '1' < n)
		u->hide[cols[ch - '1']] ^= 1;
	else if (ch == KEY_ESC || ch == 'e')
		u->mode = UI_TABLE;
	else if (ch == 'q')
		return act_quit(u, ch);
	return ACT_DRAW;
}

static unsigned detail_key(struct ui *u, int ch)
{
	if (ch == KEY_UP || ch == KEY_DOWN)
		return act_move(u, ch);
	if (ch == 'q')
		return act_quit(u, ch);
	if (ch == KEY_RESIZE || ch == KEY_CTRL('l'))
		return act_redraw(u, ch);
	const struct key_binding *b = binding_of(ch);
	if (b && (b->act == act_pause || b->act == act_interval || b->act == act_reset))
		return b->act(u, ch);
	u->mode = UI_TABLE;
	return ACT_DRAW;
}

unsigned keys_handle(struct ui *u, int ch)
{
	if (ch == ERR)
		return 0;
	if (u->editing)
		return filter_key(u, ch);
	switch (u->mode) {
	case UI_HELP:
		if (ch == 'q')
			return act_quit(u, ch);
		u->mode = UI_TABLE;
		return ACT_DRAW;
	case UI_DETAIL:
		return detail_key(u, ch);
	case UI_COLUMNS:
		return columns_key(u, ch);
	case UI_TABLE:
		break;
	}
	const struct key_binding *b = binding_of(ch);
	return b ? b->act(u, ch) : 0;
}
