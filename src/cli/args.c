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
	"  events          list the events this machine can count, and why not others\n"
	"\n"
	"options:\n"
	"  -h, --help      show this help (pyrometer COMMAND --help for a command's)\n"
	"  -V, --version   show the version\n"
	"\n"
	"See pyrometer(1).\n";

static const char usage_record[] =
	"usage: pyrometer record -p PID [-e EVENTS] [-F HZ] [-d SECONDS] [-o FILE]\n"
	"                        [--threads] [--native MODE] [--stack-size BYTES]\n"
	"                        [--fallback] [--sort EVENT|METRIC] [--weight EVENT]\n"
	"\n"
	"Sample the threads of process PID and report where they spend their time and\n"
	"cause their events, by Python function and line, with the native (C) frames\n"
	"of extensions and libraries in between. The first event samples; the others\n"
	"are counted and read with every sample, or sample on their own when written\n"
	"NAME/period=N/. Recording stops after -d seconds, on Ctrl-C or SIGTERM, or\n"
	"when the process exits; the output is written in every case. A process that\n"
	"is not CPython gets a native profile.\n"
	"\n"
	"  -p, --pid PID           process to profile\n"
	"  -e, --events EVENTS     comma-separated events (see 'pyrometer events');\n"
	"                          default: cycles,instructions,cache-misses,\n"
	"                          branch-misses with a hardware PMU, else\n"
	"                          cpu-clock,page-faults,context-switches\n"
	"  -F, --frequency HZ      samples per second per thread of the first event\n"
	"                          (1-10000, default 100)\n"
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
	"      --fallback          leave out events that cannot be opened (a notice\n"
	"                          says which and why) instead of failing\n"
	"      --sort KEY          order table and CSV rows by an event's own count or\n"
	"                          a metric (ipc, cpi, mpki, cache-miss%, branch-miss%,\n"
	"                          faults/ksample) instead of own samples\n"
	"      --weight EVENT      collapsed stacks weighted by EVENT's count instead\n"
	"                          of the first event's samples\n"
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

static const char usage_events[] =
	"usage: pyrometer events [--all]\n"
	"\n"
	"List the events that -e accepts, grouped (hardware, software, tracepoint,\n"
	"uprobe), each marked usable on this machine or not with the reason: the quick\n"
	"way to learn whether a hardware PMU is visible.\n"
	"\n"
	"      --all   also every PMU-specific event name and every tracepoint\n"
	"  -h, --help  show this help\n";

void cli_usage(const char *cmd)
{
	if (cmd && strcmp(cmd, "record") == 0)
		fputs(usage_record, stdout);
	else if (cmd && strcmp(cmd, "dump") == 0)
		fputs(usage_dump, stdout);
	else if (cmd && strcmp(cmd, "events") == 0)
		fputs(usage_events, stdout);
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
		{ "events", required_argument, NULL, 'e' },
		{ "fallback", no_argument, NULL, 'f' },
		{ "sort", required_argument, NULL, 's' },
		{ "weight", required_argument, NULL, 'w' },
		{ "all", no_argument, NULL, 'A' },
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
	} else if (!strcmp(cmd, "events"))
		o->cmd = CMD_EVENTS;
	else
		return bad("", "unknown command '%s'", cmd);

	const char *shorts = o->cmd == CMD_RECORD ? "+:p:F:d:o:e:h" :
			     o->cmd == CMD_EVENTS ? "+:h" : "+:p:h";
	optind = 2;
	opterr = 0;
	int c;
	long v;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (o->cmd == CMD_EVENTS && c != 'A' && c != 'h' && c != ':')
			return bad(cmd, "unknown option '%s'", argv[optind - 1]);
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
		case 'e':
		case 'f':
		case 's':
		case 'w':
			if (o->cmd != CMD_RECORD)
				return bad(cmd, "%s takes no such option", cmd);
			if (c == 'f') {
				o->fallback = 1;
				break;
			}
			if (!*optarg)
				return bad(cmd, "%s needs a value", argv[optind - 1]);
			if (c == 'e')
				o->events = optarg;
			else if (c == 's')
				o->sort = optarg;
			else
				o->weight = optarg;
			break;
		case 'A':
			if (o->cmd != CMD_EVENTS)
				return bad(cmd, "%s takes no --all", cmd);
			o->all = 1;
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
	if (!o->pid && o->cmd != CMD_EVENTS)
		return bad(cmd, "%s needs -p PID", cmd);
	return -1;
}
