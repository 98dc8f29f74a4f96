/*
 * tui.h - the live view of `pyrometer top`: an ncurses table of hot Python
 * functions or lines with live event counts and metrics.
 *
 * The sampler and the screen never wait on each other: the sampling thread
 * publishes a snapshot (a copy of the profiles and the header figures) now
 * and then, and the UI thread, which owns the terminal, draws the newest
 * one when it is due and reads keys. A slow terminal delays drawing, never
 * sampling.
 *
 * Thread safety: tui_publish, tui_take_reset, tui_interval and
 * tui_quit_requested may be called from the sampling thread while the UI
 * thread runs; everything else from the thread that opened the tui.
 */
#ifndef PYROMETER_TUI_H
#define PYROMETER_TUI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyrometer/profile.h"

#define TUI_EVENTS_MAX PROF_EVENTS_MAX

struct tui_thread {
	pid_t tid;
	char comm[17];
	int running;             /* state R in /proc */
};

/*
 * What the screen shows at one moment. Owned by whoever holds it: the
 * sampler fills one, tui_publish() hands it over, the UI frees it with
 * tui_snapshot_free(). The profiles carry thread root frames (PROF_THREAD,
 * line = TID) and every native frame; their strings live in a pool that
 * outlives the tui (the sampler's), so they stay valid.
 */
struct tui_snapshot {
	pid_t pid;
	char target[256];        /* its command line (untrusted: escape it) */
	char python[32];         /* "3.12.1", "" when not Python */
	struct tui_thread *threads;
	size_t nthreads;         /* total; running ones have .running */

	unsigned hz;             /* asked (-F) */
	double hz_achieved;      /* samples per second per running thread, last interval */
	uint64_t samples_window, samples_total, lost;
	double window_seconds, total_seconds;
	/* "hardware PMU" or "software fallback: no PMU exposed (virtual machine?)" */
	char source[200];

	size_t nev;
	char ev_names[TUI_EVENTS_MAX][64];
	int ev_roles[TUI_EVENTS_MAX];          /* enum ev_role */
	uint64_t ev_interval[TUI_EVENTS_MAX];  /* counts over the last interval */
	uint64_t samples_interval;
	double interval_seconds;

	int exited;              /* the target has exited: keep the data, say so */
	char exit_note[128];     /* e.g. "process 123 exited (status 0)" */

	struct profile *window;  /* since the last reset ('r') */
	struct profile *all;     /* the whole run */
};

void tui_snapshot_free(struct tui_snapshot *s);

struct tui;

/*
 * Take over the terminal (ncurses) and start the UI thread. Fails with
 * -ENOTTY (message in err) when stdout is not a terminal. The initial
 * refresh interval is interval seconds (0.25 to 10). The terminal is
 * restored by tui_close() on every path; tui_emergency_restore() is safe to
 * call from a fatal signal handler.
 */
int tui_open(double interval, struct tui **out, char *err, size_t errlen);

/* Stop the UI thread, restore the terminal, free everything. */
void tui_close(struct tui *t);

/* Restore the terminal only (async-signal-safe best effort). */
void tui_emergency_restore(void);

/* Hand over a snapshot (the tui owns it from now on). */
void tui_publish(struct tui *t, struct tui_snapshot *s);

/* The refresh interval in seconds as the user set it (+/-). */
double tui_interval(const struct tui *t);

/* The user pressed 'r' since the last call: reset the window. */
int tui_take_reset(struct tui *t);

/* The user quit ('q'). */
int tui_quit_requested(const struct tui *t);

#endif
