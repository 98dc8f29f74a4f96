/*
 * tui.c - the terminal and the UI thread: taking over and restoring the
 * terminal, the hand-over of snapshots from the sampler, and the loop that
 * reads keys, rebuilds rows and draws.
 *
 * The sampler only ever takes the lock to swap one pointer (tui_publish) or
 * touches atomics; the UI thread does every allocation, aggregation and
 * terminal write, so a slow terminal slows the UI, never the sampling.
 */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "pyrometer/tui.h"
#include "ui.h"

struct tui {
	pthread_mutex_t lock;
	struct tui_snapshot *pending;    /* newest not yet taken; under lock */
	atomic_int quit, reset, stop;
	atomic_int interval_ms;
	int wake[2];                     /* publish -> UI thread */

	SCREEN *screen;
	FILE *in;                        /* the terminal for keys */
	int in_fd, own_in;
	pthread_t thread;
	int started;

	struct ui ui;                    /* the UI thread's */
};

/* ---- emergency restore --------------------------------------------------- */

/*
 * What tui_emergency_restore writes: prepared while the terminal is taken,
 * so the signal handler only calls write() and tcsetattr(), both
 * async-signal-safe.
 */
static char restore_seq[256];
static size_t restore_len;
static struct termios restore_tio;
static int restore_fd = -1;
static volatile sig_atomic_t restore_armed;

/* A terminfo capability without its $<..> padding, appended to restore_seq. */
static void restore_add(const char *cap)
{
	char *s = tigetstr(cap);
	if (!s || s == (char *)-1)
		return;
	for (; *s && restore_len + 1 < sizeof(restore_seq); s++) {
		if (s[0] == '$' && s[1] == '<' && strchr(s, '>')) {
			s = strchr(s, '>');
			continue;
		}
		restore_seq[restore_len++] = *s;
	}
}

static void restore_prepare(int fd, const struct termios *tio)
{
	restore_len = 0;
	restore_add("sgr0");     /* attributes off */
	restore_add("cnorm");    /* cursor visible */
	restore_add("rmkx");     /* keypad back to normal */
	restore_add("rmcup");    /* leave the alternate screen */
	restore_tio = *tio;
	restore_fd = fd;
	restore_armed = 1;
}

void tui_emergency_restore(void)
{
	if (!restore_armed)
		return;
	restore_armed = 0;
	ssize_t n = write(restore_fd, restore_seq, restore_len);
	(void)n;
	tcsetattr(restore_fd, TCSANOW, &restore_tio);
}

static void restore_at_exit(void)
{
	tui_emergency_restore();
}

/*
 * A crash while the screen is taken would leave the shell in raw mode on
 * the alternate screen: restore, then die of the same signal (the handler
 * was reset on entry, so the default action runs, core dump included).
 * Only where nobody else handles the signal.
 */
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct sigaction fatal_old[NFATAL];
static unsigned char fatal_ours[NFATAL];

static void on_fatal(int sig)
{
	tui_emergency_restore();
	raise(sig);
}

static void fatal_install(void)
{
	struct sigaction sa = { .sa_handler = on_fatal, .sa_flags = SA_RESETHAND | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFATAL; i++) {
		fatal_ours[i] = 0;
		if (sigaction(fatal_signals[i], NULL, &fatal_old[i]) < 0 ||
		    fatal_old[i].sa_handler != SIG_DFL || (fatal_old[i].sa_flags & SA_SIGINFO))
			continue;
		fatal_ours[i] = sigaction(fatal_signals[i], &sa, NULL) == 0;
	}
}

static void fatal_remove(void)
{
	for (size_t i = 0; i < NFATAL; i++)
		if (fatal_ours[i])
			sigaction(fatal_signals[i], &fatal_old[i], NULL);
}

/* ---- the hand-over ------------------------------------------------------- */

void tui_snapshot_free(struct tui_snapshot *s)
{
	if (!s)
		return;
	free(s->threads);
	if (s->window)
		profile_free(s->window);
	if (s->all)
		profile_free(s->all);
	free(s);
}

static void wake_ui(struct tui *t)
{
	char c = 1;
	ssize_t n = write(t->wake[1], &c, 1);   /* full pipe: already woken */
	(void)n;
}

void tui_publish(struct tui *t, struct tui_snapshot *s)
{
	pthread_mutex_lock(&t->lock);
	struct tui_snapshot *old = t->pending;
	t->pending = s;
	pthread_mutex_unlock(&t->lock);
	tui_snapshot_free(old);     /* never shown: the UI was busy or paused */
	wake_ui(t);
}

double tui_interval(const struct tui *t)
{
	return atomic_load(&((struct tui *)t)->interval_ms) / 1000.0;
}

int tui_take_reset(struct tui *t)
{
	return atomic_exchange(&t->reset, 0);
}

int tui_quit_requested(const struct tui *t)
{
	return atomic_load(&((struct tui *)t)->quit);
}

static struct tui_snapshot *take_pending(struct tui *t)
{
	pthread_mutex_lock(&t->lock);
	struct tui_snapshot *s = t->pending;
	t->pending = NULL;
	pthread_mutex_unlock(&t->lock);
	return s;
}

/* ---- rows ---------------------------------------------------------------- */

static void rebuild(struct ui *u)
{
	if (u->rows_ok)
		tui_rows_free(&u->rows);
	u->rows_ok = 0;
	if (!u->snap)
		return;
	const struct profile *p = u->whole_run ? u->snap->all : u->snap->window;
	u->view.hz = u->snap->hz;
	u->oom = !p || tui_rows_build(p, &u->view, &u->rows) < 0;
	u->rows_ok = !u->oom;
}

/* Names are compared by content: a "[module]" row's name is made anew
 * with every rebuild. */
static int same_row(const struct ui *u, const struct tui_row *r)
{
	return r->line == u->sel_id.line && r->kind == u->sel_id.kind &&
	       !strcmp(r->name, u->sel_id.name) && !strcmp(r->file, u->sel_id.file);
}

static void reselect(struct ui *u)
{
	if (!u->rows_ok)
		return;
	struct tui_order o = { u->sort, u->reverse, u->filter };
	if (tui_rows_select(&u->rows, &o) < 0) {
		tui_rows_free(&u->rows);
		u->rows_ok = 0;
		u->oom = 1;
		return;
	}
	if (!(u->follow || u->mode == UI_DETAIL) || !u->sel_id.name)
		return;
	for (size_t i = 0; i < u->rows.nshown; i++)
		if (same_row(u, &u->rows.v[u->rows.order[i]])) {
			u->sel = i;
			return;
		}
}

/* ---- the loop ------------------------------------------------------------ */

/* The terminal's size changed without a KEY_RESIZE reaching us (SIGWINCH
 * went to another thread): ask the kernel. */
static int resized(void)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return 0;
	if (ws.ws_row == LINES && ws.ws_col == COLS)
		return 0;
	resize_term(ws.ws_row, ws.ws_col);
	return 1;
}

/* Put the newest snapshot on screen (unless paused); the one it replaces
 * goes to *old, to be freed once the rows no longer point into it. */
static unsigned adopt(struct tui *t, struct tui_snapshot **old)
{
	struct ui *u = &t->ui;
	if (u->paused)
		return 0;
	struct tui_snapshot *s = take_pending(t);
	if (!s)
		return 0;
	*old = u->snap;
	u->snap = s;
	u->reset_asked = 0;
	return ACT_BUILD;
}

static void drain(int fd)
{
	char buf[64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void *ui_main(void *arg)
{
	struct tui *t = arg;
	struct ui *u = &t->ui;
	unsigned todo = ACT_DRAW;
	while (!atomic_load(&t->stop)) {
		struct pollfd pf[2] = { { t->in_fd, POLLIN, 0 }, { t->wake[0], POLLIN, 0 } };
		if (!todo && poll(pf, 2, 200) > 0 && (pf[1].revents & POLLIN))
			drain(t->wake[0]);
		int ch;
		while ((ch = wgetch(stdscr)) != ERR)
			todo |= keys_handle(u, ch);
		if (u->want_quit)
			atomic_store(&t->quit, 1);
		if (u->want_reset)
			atomic_store(&t->reset, 1);
		u->want_reset = 0;
		atomic_store(&t->interval_ms, u->interval_ms);
		if (resized())
			todo |= ACT_DRAW;
		struct tui_snapshot *old = NULL;
		todo |= adopt(t, &old);
		if (todo & ACT_BUILD)
			rebuild(u);
		tui_snapshot_free(old);
		if (todo & (ACT_BUILD | ACT_SELECT))
			reselect(u);
		if (todo || u->lines != LINES || u->cols != COLS)
			view_draw(u);
		todo = 0;
	}
	return NULL;
}

/* ---- open and close ------------------------------------------------------ */

static int open_input(struct tui *t, char *err, size_t errlen)
{
	if (isatty(STDIN_FILENO)) {
		t->in = stdin;
		t->in_fd = STDIN_FILENO;
		return 0;
	}
	/* stdin redirected: keys come from the controlling terminal. */
	t->in = fopen("/dev/tty", "r");
	if (!t->in) {
		snprintf(err, errlen, "top reads keys from the terminal, and /dev/tty cannot be "
			 "opened (%s); use `pyrometer record` instead", strerror(errno));
		return -ENOTTY;
	}
	t->in_fd = fileno(t->in);
	t->own_in = 1;
	return 0;
}

static int start_curses(struct tui *t, char *err, size_t errlen)
{
	struct termios tio;
	if (tcgetattr(STDOUT_FILENO, &tio) < 0) {
		snprintf(err, errlen, "cannot read the terminal's settings: %s", strerror(errno));
		return -ENOTTY;
	}
	const char *term = getenv("TERM");
	t->screen = newterm(term && term[0] ? term : "vt100", stdout, t->in);
	if (!t->screen) {
		snprintf(err, errlen, "terminal type '%s' is unknown to ncurses: set TERM "
			 "(e.g. TERM=xterm) or use `pyrometer record`", term ? term : "");
		return -ENOTTY;
	}
	set_term(t->screen);
	restore_prepare(STDOUT_FILENO, &tio);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	return 0;
}

static void ui_init(struct ui *u, double interval)
{
	memset(u, 0, sizeof(*u));
	u->sort = TUI_COL_OWN_PCT;
	/* CPI is IPC upside down: there on request ('e'). */
	u->hide[TUI_COL_METRIC + MET_CPI] = 1;
	u->interval_ms = (int)(interval * 1000 + 0.5);
	if (u->interval_ms < UI_INTERVAL_MIN_MS)
		u->interval_ms = UI_INTERVAL_MIN_MS;
	if (u->interval_ms > UI_INTERVAL_MAX_MS)
		u->interval_ms = UI_INTERVAL_MAX_MS;
	const char *no_color = getenv("NO_COLOR");
	u->color = has_colors() && !(no_color && no_color[0]);
	const char *cs = nl_langinfo(CODESET);
	u->utf8 = cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
	u->lines = LINES;
	u->cols = COLS;
}

static void tui_free(struct tui *t)
{
	if (t->own_in && t->in)
		fclose(t->in);
	if (t->wake[0] >= 0)
		close(t->wake[0]);
	if (t->wake[1] >= 0)
		close(t->wake[1]);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int tui_open(double interval, struct tui **out, char *err, size_t errlen)
{
	static int at_exit_set;
	*out = NULL;
	if (!isatty(STDOUT_FILENO)) {
		snprintf(err, errlen, "top needs a terminal and stdout is not one; "
			 "use `pyrometer record` to write a profile instead");
		return -ENOTTY;
	}
	struct tui *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->wake[0] = t->wake[1] = -1;
	int rc;
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((rc = open_input(t, err, errlen)) < 0)
		goto fail;
	/* Wide characters for names, as the user's locale encodes them. */
	setlocale(LC_CTYPE, "");
	if ((rc = start_curses(t, err, errlen)) < 0)
		goto fail;
	if (!at_exit_set && atexit(restore_at_exit) == 0)
		at_exit_set = 1;
	fatal_install();
	ui_init(&t->ui, interval);
	atomic_store(&t->interval_ms, t->ui.interval_ms);
	view_init_colors(&t->ui);
	if ((rc = -pthread_create(&t->thread, NULL, ui_main, t)) < 0) {
		snprintf(err, errlen, "cannot start the UI thread: %s", strerror(-rc));
		goto fail_curses;
	}
	t->started = 1;
	*out = t;
	return 0;
fail_curses:
	fatal_remove();
	endwin();
	delscreen(t->screen);
	restore_armed = 0;
fail:
	tui_free(t);
	return rc;
}

void tui_close(struct tui *t)
{
	if (!t)
		return;
	if (t->started) {
		atomic_store(&t->stop, 1);
		wake_ui(t);
		pthread_join(t->thread, NULL);
	}
	fatal_remove();
	endwin();
	delscreen(t->screen);
	restore_armed = 0;
	if (t->ui.rows_ok)
		tui_rows_free(&t->ui.rows);
	tui_snapshot_free(t->ui.snap);
	tui_snapshot_free(take_pending(t));
	free(t->ui.sel_id.name);
	free(t->ui.sel_id.file);
	tui_free(t);
}
