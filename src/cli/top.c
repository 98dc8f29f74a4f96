/*
 * top.c - `pyrometer top`: the recorder feeds the live view. Every refresh
 * interval the sampling loop hands the screen a snapshot; the screen's own
 * thread draws it and reads keys, so drawing never holds up sampling.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "pyrometer/cli.h"
#include "pyrometer/tui.h"
#include "recorder.h"

/* Keys are acted on within this long; the screen gets a snapshot every
 * refresh interval. */
#define KEY_CHECK_NS (100 * 1000000ull)

struct top {
	struct tui *tui;
	uint64_t next_publish;
};

static int tick(void *ctx, struct recorder *r, uint64_t now)
{
	struct top *t = ctx;
	if (tui_quit_requested(t->tui))
		return 1;
	int reset = tui_take_reset(t->tui);
	if (reset)
		recorder_reset_window(r);
	if (reset || now >= t->next_publish) {
		struct tui_snapshot *s = recorder_snapshot(r, 0, -1);
		if (s)
			tui_publish(t->tui, s);
		t->next_publish = now + (uint64_t)(tui_interval(t->tui) * 1e9);
	}
	recorder_next_tick(r, now + KEY_CHECK_NS);
	return 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int cmd_top(const struct cli_opts *o)
{
	if (!isatty(STDOUT_FILENO)) {
		cli_error("top needs a terminal, and standard output is not one; to write a "
			  "profile to a file, use 'pyrometer record -o FILE'");
		return EXIT_CANNOT;
	}
	struct recorder *r;
	struct output_opts oo = { 0 };
	int rc = recorder_start(o, 1, &oo, &r);
	if (rc != EXIT_OK)
		return rc;
	struct top t = { 0 };
	char err[256];
	int e = tui_open(o->delay > 0 ? o->delay : 1.0, &t.tui, err, sizeof(err));
	if (e < 0) {
		cli_error("%s", err);
		return recorder_finish_live(r, EXIT_CANNOT);
	}
	recorder_run(r, tick, &t);
	/* The target exited: its last data stays on screen until q. A signal
	 * or q ends at once. */
	int status = -1;
	if (!recorder_interrupted() && !tui_quit_requested(t.tui) &&
	    recorder_target_exited(r, &status)) {
		struct tui_snapshot *s = recorder_snapshot(r, 1, status);
		if (s)
			tui_publish(t.tui, s);
		while (!tui_quit_requested(t.tui) && !recorder_interrupted())
			pause_ms(50);
	}
	tui_close(t.tui);
	rc = recorder_finish_live(r, EXIT_OK);
	return status >= 0 ? status : rc;
}
