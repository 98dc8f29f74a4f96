/* args.c - command line parsing and help text (kept in step with man/pyrometer.1). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/cli.h"

static const char usage_main[] =
	"usage: pyrometer COMMAND [OPTIONS]\n"
	"\n"
	"Sampling profiler for running CPython processes (3.8 to 3.15).\n"
	"\n"
	"commands:\n"
	"  record -p PID   sample a running Python process, report hot functions and lines\n"
	"  dump -p PID     print every thread's current Python stack once\n"
	"\n"
	"options:\n"
	"  -h, --help      show this help (pyrometer COMMAND --help for a command's)\n"
	"  -V, --version   show the version\n"
	"\n"
	"See pyrometer(1).\n";

static const char usage_record[] =
	"usage: pyrometer record -p PID [-F HZ] [-d SECONDS] [-o FILE] [--threads]\n"
	"                        [--native MODE] [--stack-size BYTES]\n"
	"\n"
	"Sample the threads of process PID on CPU time (cpu-clock) and report where\n"
	"they spend it, by Python function and line, with the native (C) frames of\n"
	"extensions and libraries in between. Recording stops after -d seconds, on\n"
	"Ctrl-C or SIGTERM, or when the process exits; the output is written in every\n"
	"case. A process that is not CPython gets a native profile.\n"
	"\n"
	"  -p, --pid PID           process to profile\n"
	"  -F, --frequency HZ      samples per second of CPU time per thread (1-10000,\n"
	"                          default 100)\n"
	"  -d, --duration SECONDS  stop after this long (default: until stopped)\n"
	"  -o, --output FILE       write FILE instead of a table on stdout; the format\n"
	"                          follows the ending: .csv (one row per location),\n"
	"                          .txt or .folded (collapsed stacks for flame graphs)\n"
	"      --threads           collapsed stacks get a root frame per thread\n"
	"      --native MODE       native frames: auto (default: extension and library\n"
	"                          frames, the interpreter's own hidden), all (every\n"
	"                          frame), none (Python frames only, lowest overhead)\n"
	"      --stack-size BYTES  user stack copied per sample for native unwinding\n"
	"                          (1024-65000, multiple of 8; default 16384)\n"
	"  -h, --help              show this help\n";

static const char usage_dump[] =
	"usage: pyrometer dump -p PID [--native MODE]\n"
	"\n"
	"Print the current Python stack of every thread of process PID once: thread\n"
	"id, name, whether it holds the GIL, and its frames innermost first.\n"
	"\n"
	"  -p, --pid PID      process to inspect\n"
	"      --native MODE  none (default: Python frames only), auto (with the native\n"
	"                     frames of extensions and libraries) or all (every frame)\n"
	"  -h, --help         show this help\n";

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("pyrometer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_usage(const char *cmd)
{
	if (cmd && strcmp(cmd, "record") == 0)
		fputs(usage_record, stdout);
	else if (cmd && strcmp(cmd, "dump") == 0)
		fputs(usage_dump, stdout);
	else
		fputs(usage_main, stdout);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e7)
		return -1;
	*out = v;
	return 0;
}

static int bad(const char *cmd, const char *fmt, const char *arg)
{
	fputs("pyrometer: ", stderr);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'pyrometer %s --help')\n", cmd);
	return EXIT_USAGE;
}

int cli_parse(int argc, char **argv, struct cli_opts *o)
{
	static const struct option longs[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "threads", no_argument, NULL, 'T' },
		{ "native", required_argument, NULL, 'N' },
		{ "stack-size", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof(*o));
	o->hz = 100;
	o->stack_size = CLI_STACK_SIZE_DEFAULT;

	if (argc < 2) {
		cli_usage(NULL);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		cli_usage(argc > 2 ? argv[2] : NULL);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		o->cmd = CMD_VERSION;
		return -1;
	}
	if (!strcmp(cmd, "record"))
		o->cmd = CMD_RECORD;
	else if (!strcmp(cmd, "dump")) {
		o->cmd = CMD_DUMP;
		o->native = NATIVE_NONE;   /* dump shows native frames on request */
	} else
		return bad("", "unknown command '%s'", cmd);

	const char *shorts = o->cmd == CMD_RECORD ? "+:p:F:d:o:h" : "+:p:h";
	optind = 2;
	opterr = 0;
	int c;
	long v;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_long(optarg, 1, INT_MAX, &v) < 0)
				return bad(cmd, "-p needs a process id, not '%s'", optarg);
			o->pid = (pid_t)v;
			break;
		case 'F':
			if (parse_long(optarg, 1, 10000, &v) < 0)
				return bad(cmd, "-F needs a rate from 1 to 10000 Hz, not '%s'", optarg);
			o->hz = (unsigned)v;
			break;
		case 'd':
			if (parse_seconds(optarg, &o->duration) < 0)
				return bad(cmd, "-d needs a positive number of seconds, not '%s'",
					   optarg);
			break;
		case 'o':
			if (!*optarg)
				return bad(cmd, "-o needs a file name%s", "");
			o->output = optarg;
			break;
		case 'T':
			if (o->cmd != CMD_RECORD)
				return bad(cmd, "%s takes no --threads", cmd);
			o->threads = 1;
			break;
		case 'N':
			if (!strcmp(optarg, "auto"))
				o->native = NATIVE_AUTO;
			else if (!strcmp(optarg, "all"))
				o->native = NATIVE_ALL;
			else if (!strcmp(optarg, "none"))
				o->native = NATIVE_NONE;
			else
				return bad(cmd, "--native needs auto, all or none, not '%s'", optarg);
			break;
		case 'S':
			if (o->cmd != CMD_RECORD)
				return bad(cmd, "%s takes no --stack-size", cmd);
			if (parse_long(optarg, 1024, 65000, &v) < 0 || v % 8)
				return bad(cmd, "--stack-size needs a multiple of 8 from 1024 to 65000 "
					   "bytes, not '%s'", optarg);
			o->stack_size = (unsigned)v;
			break;
		case 'h':
			cli_usage(cmd);
			return EXIT_OK;
		case ':':
			return bad(cmd, "option %s needs a value", argv[optind - 1]);
		default:
			return bad(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad(cmd, "unexpected argument '%s'", argv[optind]);
	if (!o->pid)
		return bad(cmd, "%s needs -p PID", cmd);
	return -1;
}
