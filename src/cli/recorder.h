/*
 * recorder.h - the sampler behind `record` and `top`: attach to a process
 * (or launch a command), open its events, and fold every sample into a
 * profile, until told to stop.
 */
#ifndef PYROMETER_CLI_RECORDER_H
#define PYROMETER_CLI_RECORDER_H

#include <stdint.h>

#include "pyrometer/cli.h"
#include "pyrometer/output.h"

struct recorder;
struct tui_snapshot;

/*
 * Attach (or launch) and open the events as o says; oo gets --sort,
 * --weight and --color-by resolved. live: for top (a window profile that
 * resets, no per-sample log, no notices on stderr). EXIT_OK and *out, or the
 * status to exit with (message printed).
 */
int recorder_start(const struct cli_opts *o, int live, struct output_opts *oo,
		   struct recorder **out);

/*
 * Sample until -d passes, a signal arrives, the target exits, or tick
 * returns non-zero. tick (may be NULL) is called when due: it sets its next
 * time with recorder_next_tick().
 */
void recorder_run(struct recorder *r, int (*tick)(void *ctx, struct recorder *r, uint64_t now),
		  void *ctx);
void recorder_next_tick(struct recorder *r, uint64_t at_ns);

/* Write the outputs (w[0..nout), NULL: the table), print the statistics,
 * free everything. Returns the exit status. */
int recorder_end(struct recorder *r, const struct writer *const *w, int nout,
		 struct output_opts *oo);

/* top: a snapshot for the screen (NULL when out of memory), the window
 * restarted, whether the target exited (and its status when launched, else
 * -1), and the end without outputs. */
struct tui_snapshot *recorder_snapshot(struct recorder *r, int exited, int status);
void recorder_reset_window(struct recorder *r);
int recorder_target_exited(struct recorder *r, int *status);
int recorder_finish_live(struct recorder *r, int rc);

/* SIGINT, SIGTERM or SIGHUP arrived. */
int recorder_interrupted(void);

#endif
