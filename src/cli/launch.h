/*
 * launch.h - `record -- CMD ARGS...`: start a command that waits at a gate
 * until its events are open (armed to start at exec), so that nothing it
 * runs is missed.
 */
#ifndef PYROMETER_CLI_LAUNCH_H
#define PYROMETER_CLI_LAUNCH_H

#include <sys/types.h>

struct launch {
	pid_t pid;
	int gate;     /* write end: a byte lets the child exec */
	int err;      /* read end: the child's errno when exec fails, EOF when it succeeded */
};

/* Fork the child, stopped at the gate; quiet: its stdout and stderr go to
 * /dev/null. 0 or -errno. */
int launch_fork(char *const *argv, int quiet, struct launch *l);

/* Open the gate and wait for the exec: 0, or -errno of a failed exec (the
 * child has exited then). */
int launch_go(struct launch *l);

/* Wait for the child; its exit status as a shell gives it (128 + signal
 * when killed). */
int launch_wait(struct launch *l);

/* Close the gate without opening it: the child exits without running. */
void launch_abort(struct launch *l);

#endif
