/*
 * cli.h - subcommands and their options.
 *
 * cli_parse() turns argv into a struct cli_opts; each subcommand runs from
 * it and returns the process exit status (enum cli_exit). Only main() exits.
 */
#ifndef PYROMETER_CLI_H
#define PYROMETER_CLI_H

#include <sys/types.h>

enum cli_exit {
	EXIT_OK = 0,
	EXIT_USAGE = 1,       /* bad command line */
	EXIT_CANNOT = 2,      /* could not profile: no process, permission, not CPython... */
};

enum cli_cmd { CMD_NONE, CMD_RECORD, CMD_DUMP, CMD_EVENTS, CMD_HELP, CMD_VERSION };

enum cli_native {
	NATIVE_AUTO = 0,      /* extension and library frames; interpreter internals hidden */
	NATIVE_ALL,           /* every native frame */
	NATIVE_NONE,          /* Python frames only; no stack copy */
};

/* Default bytes of user stack copied per sample (see the man page). */
#define CLI_STACK_SIZE_DEFAULT 16384

struct cli_opts {
	enum cli_cmd cmd;
	pid_t pid;
	unsigned hz;          /* -F */
	double duration;      /* -d, seconds; 0 = until stopped */
	const char *output;   /* -o, NULL = table on stdout */
	int threads;          /* --threads */
	enum cli_native native; /* --native */
	unsigned stack_size;  /* --stack-size, bytes */
	const char *events;   /* -e, NULL = the default set */
	int fallback;         /* --fallback: drop events that cannot be opened */
	const char *sort;     /* --sort EVENT|METRIC, NULL = own samples */
	const char *weight;   /* --weight EVENT for collapsed stacks, NULL = the sampling event */
	int all;              /* events --all: every PMU-specific name and tracepoint */
};

/*
 * Parse argv. Returns -1 when parsing succeeded and the command should run,
 * or an exit status when it is already handled (help printed: EXIT_OK;
 * error printed: EXIT_USAGE).
 */
int cli_parse(int argc, char **argv, struct cli_opts *o);

void cli_usage(const char *cmd);

int cmd_record(const struct cli_opts *o);
int cmd_dump(const struct cli_opts *o);
int cmd_events(const struct cli_opts *o);

/* One-line error on stderr, "pyrometer: ..." */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Attach-time failures, shared by record and dump: print the message for
 * -errno r from target_check()/py_attach() and return EXIT_CANNOT.
 */
int cli_attach_error(pid_t pid, int r, const char *detail);

#endif
