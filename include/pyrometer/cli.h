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
	EXIT_REGRESSION = 3,  /* diff --fail-over: a function's share grew too much */
};

enum cli_cmd {
	CMD_NONE, CMD_RECORD, CMD_DUMP, CMD_EVENTS, CMD_REPORT, CMD_DIFF, CMD_TOP, CMD_HELP,
	CMD_VERSION
};

enum cli_by { BY_LINE = 0, BY_FUNCTION, BY_STACK };

enum cli_native {
	NATIVE_AUTO = 0,      /* extension and library frames; interpreter internals hidden */
	NATIVE_ALL,           /* every native frame */
	NATIVE_NONE,          /* Python frames only; no stack copy */
};

enum cli_backend {
	BACKEND_AUTO = 0,     /* BPF where it loads, else user space */
	BACKEND_BPF,          /* Python stacks read by a BPF program at the sample */
	BACKEND_USER,         /* read from user space right after the sample */
};

/* Default bytes of user stack copied per sample (see the man page). */
#define CLI_STACK_SIZE_DEFAULT 16384

struct cli_opts {
	enum cli_cmd cmd;
	pid_t pid;
	unsigned hz;          /* -F */
	double duration;      /* -d, seconds; 0 = until stopped */
	const char *output;   /* -o, NULL = table on stdout (the first -o) */
	const char *outputs[8];  /* record: every -o, each written from the same run */
	int noutputs;
	int threads;          /* --threads */
	int subprocesses;     /* --subprocesses: follow the Python processes it starts */
	double delay;         /* top --delay: seconds between refreshes */
	enum cli_native native; /* --native */
	enum cli_backend backend; /* --backend (default: $PYROMETER_BACKEND, else auto) */
	unsigned stack_size;  /* --stack-size, bytes */
	const char *events;   /* -e, NULL = the default set */
	int fallback;         /* --fallback: drop events that cannot be opened */
	const char *sort;     /* --sort EVENT|METRIC, NULL = own samples */
	const char *weight;   /* --weight EVENT for collapsed stacks, NULL = the sampling event */
	int all;              /* events --all: every PMU-specific name and tracepoint */
	const char *format;   /* --format NAME, NULL = by the -o extension */
	const char *color_by; /* --color-by METRIC (SVG) */
	char **cmd_argv;      /* record -- CMD ARGS...: the command to launch (NULL-terminated) */
	const char *files[2]; /* report FILE, diff BASE NEW */
	enum cli_by by;       /* --by */
	double from, to;      /* --from/--to seconds; to < 0 = the end */
	double fail_over;     /* diff --fail-over PCT, < 0 = no gate */
	double min_share;     /* diff --min-share PCT */
	int argc;             /* pyrometer's own command line, for recordings */
	char **argv;
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
int cmd_report(const struct cli_opts *o);
int cmd_diff(const struct cli_opts *o);
int cmd_top(const struct cli_opts *o);

/* One-line error on stderr, "pyrometer: ..." */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Attach-time failures, shared by record and dump: print the message for
 * -errno r from target_check()/py_attach() and return EXIT_CANNOT.
 */
int cli_attach_error(pid_t pid, int r, const char *detail);

#endif
