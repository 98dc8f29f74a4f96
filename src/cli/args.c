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
	"  record -- CMD   start CMD and sample it until it exits\n"
	"  top -p PID      live view of the hottest functions and lines (also -- CMD)\n"
	"  report FILE     render a .pyro recording in any output format\n"
	"  diff BASE NEW   compare two recordings; --fail-over makes it a CI gate\n"
	"  events          list the events this machine can count, and why not others\n"
	"\n"
	"options:\n"
	"  -h, --help      show this help (pyrometer COMMAND --help for a command's)\n"
	"  -V, --version   show the version\n"
	"\n"
	"See pyrometer(1).\n";

static const char usage_record[] =
	"usage: pyrometer record -p PID [OPTIONS]\n"
	"       pyrometer record [OPTIONS] -- COMMAND [ARGS...]\n"
	"OPTIONS: [-e EVENTS] [-F HZ] [-d SECONDS] [-o FILE] [--format NAME] [--threads]\n"
	"         [--native MODE] [--stack-size BYTES] [--fallback] [--sort EVENT|METRIC]\n"
	"         [--weight EVENT] [--color-by METRIC] [--subprocesses] [--backend KIND]\n"
	"\n"
	"Sample the threads of process PID and report where they spend their time and\n"
	"cause their events, by Python function and line, with the native (C) frames\n"
	"of extensions and libraries in between. The first event samples; the others\n"
	"are counted and read with every sample, or sample on their own when written\n"
	"NAME/period=N/. Recording stops after -d seconds, on Ctrl-C or SIGTERM, or\n"
	"when the process exits; the output is written in every case. A process that\n"
	"is not CPython gets a native profile. With -- COMMAND, pyrometer starts the\n"
	"command with its events armed (nothing it runs is missed), records until it\n"
	"exits, and exits with its status (128+N when killed by signal N).\n"
	"\n"
	"  -p, --pid PID           process to profile\n"
	"  -e, --events EVENTS     comma-separated events (see 'pyrometer events');\n"
	"                          default: cycles,instructions,cache-misses,\n"
	"                          branch-misses with a hardware PMU, else\n"
	"                          cpu-clock,page-faults,context-switches\n"
	"  -F, --frequency HZ      samples per second per thread of the first event\n"
	"                          (1-10000, default 100)\n"
	"  -d, --duration SECONDS  stop after this long (default: until stopped)\n"
	"  -o, --output FILE       write FILE instead of a table on stdout (several -o\n"
	"                          write several files from one run); the format\n"
	"                          follows the ending: .csv (one row per location),\n"
	"                          .txt or .folded (collapsed stacks), .svg (flame\n"
	"                          graph), .speedscope.json, .pb.gz (pprof), .pyro\n"
	"                          (the whole recording, for report and diff)\n"
	"      --format NAME       csv, collapsed, svg, speedscope, pprof or pyro,\n"
	"                          whatever -o ends with (without -o: to stdout)\n"
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
	"      --weight EVENT      stack outputs weighted by EVENT's count instead\n"
	"                          of the first event's samples\n"
	"      --color-by METRIC   SVG: shade frames by a metric (ipc, mpki, ...)\n"
	"      --subprocesses      also sample the Python processes it starts\n"
	"                          (subprocess, multiprocessing), each stack under a\n"
	"                          root frame 'process PID (name)'\n"
	"      --backend KIND      how Python stacks are read: bpf (by a BPF program at\n"
	"                          the sample itself: events land on the exact line;\n"
	"                          needs root or CAP_BPF and CAP_PERFMON), user (from\n"
	"                          user space just after the sample), auto (default:\n"
	"                          bpf where it loads; $PYROMETER_BACKEND sets it)\n"
	"  -h, --help              show this help\n";

static const char usage_top[] =
	"usage: pyrometer top -p PID [-e EVENTS] [-F HZ] [--delay SECONDS] [--native MODE]\n"
	"       pyrometer top [OPTIONS] -- COMMAND [ARGS...]\n"
	"\n"
	"A live table of the hottest Python functions (or lines) with their event\n"
	"counts and metrics, refreshed every --delay seconds (default 1; + and -\n"
	"change it). Press h or ? for the keys, q to quit. Needs a terminal; to write\n"
	"a profile to a file use pyrometer record.\n"
	"\n"
	"  -p, --pid PID           process to watch\n"
	"  -e, --events EVENTS     as for record (see 'pyrometer events')\n"
	"  -F, --frequency HZ      samples per second per thread (1-10000, default 100)\n"
	"      --delay SECONDS     refresh interval, 0.25 to 10 (default 1)\n"
	"      --native MODE       auto (default), all or none, as for record\n"
	"      --backend KIND      auto (default), bpf or user, as for record\n"
	"      --fallback          leave out events that cannot be opened\n"
	"  -h, --help              show this help\n";

static const char usage_report[] =
	"usage: pyrometer report FILE.pyro [-o FILE] [--format NAME] [--by KIND]\n"
	"                        [--sort KEY] [--weight EVENT] [--color-by METRIC]\n"
	"                        [--threads] [--from SECONDS] [--to SECONDS]\n"
	"\n"
	"Render a recording made with record -o FILE.pyro, in any output format: the\n"
	"same output record would have written directly.\n"
	"\n"
	"  -o, --output FILE       as for record (default: the table on stdout)\n"
	"      --format NAME       csv, collapsed, svg, speedscope, pprof or pyro\n"
	"      --by KIND           line (default: rows per line), function (the lines\n"
	"                          of a function together) or stack (collapsed stacks)\n"
	"      --sort KEY          an event or a metric, as for record\n"
	"      --weight EVENT      stack outputs weighted by EVENT, as for record\n"
	"      --color-by METRIC   SVG: shade frames by a metric\n"
	"      --threads           stack outputs get a root frame per thread\n"
	"      --from SECONDS      only samples this long after the start or later\n"
	"      --to SECONDS        only samples before this long after the start\n"
	"  -h, --help              show this help\n";

static const char usage_diff[] =
	"usage: pyrometer diff BASE.pyro NEW.pyro [-o FILE] [--format NAME] [--by KIND]\n"
	"                      [--sort EVENT] [--fail-over POINTS] [--min-share PCT]\n"
	"\n"
	"Compare two recordings location by location: each event's own share in BASE\n"
	"and in NEW and the change in percentage points, largest growth first, as a\n"
	"table, CSV (.csv) or a differential flame graph (.svg: red grew, blue shrank).\n"
	"\n"
	"  -o, --output FILE       .csv, .svg, or a table on stdout\n"
	"      --format NAME       csv or svg\n"
	"      --by KIND           function (default) or line\n"
	"      --sort EVENT        the event to order by and to gate on (default: the\n"
	"                          first event of NEW that BASE has too)\n"
	"      --fail-over POINTS  exit 3, naming them, when locations whose share in\n"
	"                          NEW is at least --min-share grew by more than\n"
	"                          POINTS percentage points: a CI regression gate\n"
	"      --min-share PCT     ignore locations smaller than this in NEW (default 0)\n"
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
	else if (cmd && strcmp(cmd, "report") == 0)
		fputs(usage_report, stdout);
	else if (cmd && strcmp(cmd, "top") == 0)
		fputs(usage_top, stdout);
	else if (cmd && strcmp(cmd, "diff") == 0)
		fputs(usage_diff, stdout);
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

static int bad(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("pyrometer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'pyrometer %s --help')\n", cmd);
	return EXIT_USAGE;
}

/* Which commands take an option: a bit per enum cli_cmd. */
#define ON(c) (1u << (c))
#define REC ON(CMD_RECORD)
#define REP ON(CMD_REPORT)
#define DIF ON(CMD_DIFF)
#define TOP ON(CMD_TOP)

static const struct {
	int c;
	unsigned cmds;
} option_cmds[] = {
	{ 'p', REC | ON(CMD_DUMP) | TOP }, { 'F', REC | TOP }, { 'd', REC },
	{ 'o', REC | REP | DIF }, { 'T', REC | REP }, { 'N', REC | ON(CMD_DUMP) | TOP },
	{ 'S', REC | TOP }, { 'e', REC | TOP }, { 'f', REC | TOP }, { 's', REC | REP | DIF },
	{ 'w', REC | REP }, { 'A', ON(CMD_EVENTS) }, { 'D', TOP },
	{ 'm', REC | REP | DIF }, { 'c', REC | REP }, { 'b', REP | DIF }, { 'B', REP },
	{ 'E', REP }, { 'X', DIF }, { 'M', DIF }, { 'P', REC }, { 'K', REC | TOP },
};

static int parse_backend(const char *s, enum cli_backend *out)
{
	if (!strcmp(s, "auto"))
		*out = BACKEND_AUTO;
	else if (!strcmp(s, "bpf"))
		*out = BACKEND_BPF;
	else if (!strcmp(s, "user"))
		*out = BACKEND_USER;
	else
		return -1;
	return 0;
}

static int takes(enum cli_cmd cmd, int c)
{
	for (size_t i = 0; i < sizeof(option_cmds) / sizeof(option_cmds[0]); i++)
		if (option_cmds[i].c == c)
			return (option_cmds[i].cmds & ON(cmd)) != 0;
	return 1;   /* -h, errors */
}

static int parse_pct(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 100)
		return -1;
	*out = v;
	return 0;
}

static int parse_offset(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 1e9)
		return -1;
	*out = v;
	return 0;
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
		{ "format", required_argument, NULL, 'm' },
		{ "color-by", required_argument, NULL, 'c' },
		{ "by", required_argument, NULL, 'b' },
		{ "from", required_argument, NULL, 'B' },
		{ "to", required_argument, NULL, 'E' },
		{ "fail-over", required_argument, NULL, 'X' },
		{ "min-share", required_argument, NULL, 'M' },
		{ "subprocesses", no_argument, NULL, 'P' },
		{ "delay", required_argument, NULL, 'D' },
		{ "backend", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof(*o));
	o->hz = 100;
	o->stack_size = CLI_STACK_SIZE_DEFAULT;
	o->to = -1;
	o->fail_over = -1;
	o->argc = argc;
	o->argv = argv;

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
	else if (!strcmp(cmd, "report"))
		o->cmd = CMD_REPORT;
	else if (!strcmp(cmd, "diff")) {
		o->cmd = CMD_DIFF;
		o->by = BY_FUNCTION;   /* diff compares functions unless --by line */
	}
	else if (!strcmp(cmd, "top"))
		o->cmd = CMD_TOP;
	else
		return bad("", "unknown command '%s'", cmd);

	/* record stops at the first argument that is not an option (the
	 * command to launch follows "--"); report and diff take their files
	 * anywhere. */
	const char *shorts = o->cmd == CMD_RECORD || o->cmd == CMD_TOP ? "+:p:F:d:o:e:h" :
			     o->cmd == CMD_REPORT || o->cmd == CMD_DIFF ? ":o:h" :
			     o->cmd == CMD_EVENTS ? "+:h" : "+:p:h";
	const char *env = getenv("PYROMETER_BACKEND");
	if (env && *env && (o->cmd == CMD_RECORD || o->cmd == CMD_TOP) &&
	    parse_backend(env, &o->backend) < 0)
		return bad(cmd, "PYROMETER_BACKEND needs auto, bpf or user, not '%s'", env);
	optind = 2;
	opterr = 0;
	int c;
	long v;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (!takes(o->cmd, c))
			return bad(cmd, "%s takes no option '%s'", cmd, argv[optind - 1]);
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
				return bad(cmd, "-o needs a file name");
			if (o->noutputs && o->cmd != CMD_RECORD)
				return bad(cmd, "%s writes one output: give -o once", cmd);
			if (o->noutputs == (int)(sizeof(o->outputs) / sizeof(o->outputs[0])))
				return bad(cmd, "at most %d -o outputs", o->noutputs);
			if (!o->noutputs)
				o->output = optarg;
			o->outputs[o->noutputs++] = optarg;
			break;
		case 'T':
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
			if (parse_long(optarg, 1024, 65000, &v) < 0 || v % 8)
				return bad(cmd, "--stack-size needs a multiple of 8 from 1024 to 65000 "
					   "bytes, not '%s'", optarg);
			o->stack_size = (unsigned)v;
			break;
		case 'f':
			o->fallback = 1;
			break;
		case 'K':
			if (parse_backend(optarg, &o->backend) < 0)
				return bad(cmd, "--backend needs auto, bpf or user, not '%s'", optarg);
			break;
		case 'P':
			o->subprocesses = 1;
			break;
		case 'D': {
			char *end;
			errno = 0;
			double v = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(v >= 0.25) || v > 10)
				return bad(cmd, "--delay needs 0.25 to 10 seconds, not '%s'", optarg);
			o->delay = v;
			break;
		}
		case 'A':
			o->all = 1;
			break;
		case 'e':
		case 's':
		case 'w':
		case 'm':
		case 'c':
			if (!*optarg)
				return bad(cmd, "%s needs a value", argv[optind - 1]);
			if (c == 'e')
				o->events = optarg;
			else if (c == 's')
				o->sort = optarg;
			else if (c == 'w')
				o->weight = optarg;
			else if (c == 'm')
				o->format = optarg;
			else
				o->color_by = optarg;
			break;
		case 'b':
			if (!strcmp(optarg, "line"))
				o->by = BY_LINE;
			else if (!strcmp(optarg, "function"))
				o->by = BY_FUNCTION;
			else if (!strcmp(optarg, "stack") && o->cmd == CMD_REPORT)
				o->by = BY_STACK;
			else
				return bad(cmd, o->cmd == CMD_REPORT ?
					   "--by needs function, line or stack, not '%s'" :
					   "--by needs function or line, not '%s'", optarg);
			break;
		case 'B':
		case 'E':
			if (parse_offset(optarg, c == 'B' ? &o->from : &o->to) < 0)
				return bad(cmd, "%s needs seconds from the start of the recording "
					   "(0 or more), not '%s'", c == 'B' ? "--from" : "--to", optarg);
			break;
		case 'X':
		case 'M':
			if (parse_pct(optarg, c == 'X' ? &o->fail_over : &o->min_share) < 0)
				return bad(cmd, "%s needs percentage points from 0 to 100, not '%s'",
					   c == 'X' ? "--fail-over" : "--min-share", optarg);
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
	if (o->format && o->noutputs > 1)
		return bad(cmd, "--format applies to one -o; with several, each file's ending "
			   "chooses its format");
	int rest = argc - optind;
	switch (o->cmd) {
	case CMD_RECORD:
	case CMD_TOP:
		/* getopt leaves "--" consumed: what follows is the command */
		if (rest > 0 && optind > 2 && !strcmp(argv[optind - 1], "--")) {
			if (o->pid)
				return bad(cmd, "give either -p PID or -- COMMAND, not both");
			o->cmd_argv = argv + optind;
			return -1;
		}
		if (rest > 0)
			return bad(cmd, "unexpected argument '%s' (a command to launch goes after "
				   "--)", argv[optind]);
		if (!o->pid)
			return bad(cmd, "%s needs -p PID or -- COMMAND", cmd);
		return -1;
	case CMD_REPORT:
		if (rest == 0)
			return bad(cmd, "report needs a recording: pyrometer report FILE.pyro");
		if (rest > 1)
			return bad(cmd, "report takes one recording, not also '%s'", argv[optind + 1]);
		o->files[0] = argv[optind];
		if (o->to >= 0 && o->to <= o->from)
			return bad(cmd, "--to must be after --from");
		return -1;
	case CMD_DIFF:
		if (rest != 2)
			return bad(cmd, "diff needs two recordings: pyrometer diff BASE.pyro NEW.pyro");
		o->files[0] = argv[optind];
		o->files[1] = argv[optind + 1];
		return -1;
	case CMD_EVENTS:
		if (rest > 0)
			return bad(cmd, "unexpected argument '%s'", argv[optind]);
		return -1;
	default:
		if (rest > 0)
			return bad(cmd, "unexpected argument '%s'", argv[optind]);
		if (!o->pid)
			return bad(cmd, "%s needs -p PID", cmd);
		return -1;
	}
}
