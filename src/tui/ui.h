/*
 * ui.h - the UI thread's state, shared by its three parts: keys.c turns a
 * key into a change of state (and says what must be recomputed), view.c
 * draws the state, tui.c runs the loop and talks to the sampler.
 *
 * Everything here belongs to the UI thread alone; what the sampler may see
 * is in struct tui (tui.c), behind its lock or atomics.
 */
#ifndef PYROMETER_TUI_UI_H
#define PYROMETER_TUI_UI_H

#include <stddef.h>
#include <wchar.h>

#include "model.h"
#include "pyrometer/tui.h"

enum ui_mode {
	UI_TABLE,
	UI_HELP,
	UI_DETAIL,      /* callers and callees of the selected row */
	UI_COLUMNS,     /* which event and metric columns show */
};

/* What an action needs done; the loop does the cheapest that suffices. */
enum {
	ACT_DRAW = 1,       /* redraw from the current rows */
	ACT_SELECT = 2,     /* filter and sort again, then redraw */
	ACT_BUILD = 4,      /* aggregate the profile again, then all of the above */
};

#define UI_FILTER_MAX 128
#define UI_INTERVAL_MIN_MS 250
#define UI_INTERVAL_MAX_MS 10000

struct ui {
	struct tui_snapshot *snap;       /* on screen; NULL until the first */
	struct tui_rows rows;
	int rows_ok;                     /* rows were built from snap */

	struct tui_view view;            /* lines, native, tid */
	int whole_run;                   /* 'a': the whole run, not the window */
	int sort, reverse;
	char filter[UI_FILTER_MAX];
	int editing;                     /* typing the filter after '/' */
	int paused;
	enum ui_mode mode;
	unsigned char hide[TUI_COL_N];   /* columns turned off with 'e' */
	int col_cursor;                  /* line in the columns chooser */

	size_t sel, top;                 /* selected line, first line shown */
	int follow;                      /* keep the selection on its row */
	struct {
		char *name, *file;       /* copies (malloc'ed), NULL: none */
		int line, kind;
	} sel_id;

	int interval_ms;
	int want_quit, want_reset;       /* for the loop to pass on */
	int reset_asked;                 /* until the next snapshot arrives */
	int oom;                         /* the last rebuild ran out of memory */

	int color, utf8;
	int lines, cols;                 /* screen size when last drawn */
};

/* keys.c: one key; returns ACT_* flags. */
unsigned keys_handle(struct ui *u, int ch);

/* The key bindings of the table, as data: the help screen lists them. */
#define KEYS_PER_BINDING 10
struct key_binding {
	int keys[KEYS_PER_BINDING];      /* 0-terminated when fewer */
	const char *label;               /* how the help screen names the keys */
	const char *help;
	unsigned (*act)(struct ui *u, int ch);
};
extern const struct key_binding keys_bindings[];
extern const size_t keys_nbindings;

/* The columns 'e' can turn off (events, then metrics), and their count. */
size_t keys_choosable(const struct ui *u, int *cols);

/* The table's visible columns in order (up to TUI_COL_N), and their count. */
size_t view_columns(const struct ui *u, int *cols);

/* The number of table lines the screen has room for. */
size_t view_page(const struct ui *u);

/* view.c */
void view_init_colors(struct ui *u);
void view_draw(struct ui *u);

/*
 * text.c: a name from the target made safe and fit for the screen: control
 * characters (C0, DEL, C1) and backslashes as \xNN (esc_term), bytes that
 * are not UTF-8 as U+FFFD, bidirectional and invisible format characters
 * as \uXXXX, everything outside ASCII as '?' when the locale is not UTF-8
 * (utf8 = 0). At most maxcols cells and cap - 1 characters; an escape is
 * never cut in half. Returns the characters written to out (NUL-terminated)
 * and the cells they take in *cols (may be NULL).
 */
size_t text_safe(wchar_t *out, size_t cap, const char *s, int utf8, int maxcols, int *cols);

/* The same for our own text, which is not escaped (controls become '?'). */
size_t text_fit(wchar_t *out, size_t cap, const char *s, int utf8, int maxcols, int *cols);

#endif
