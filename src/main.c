/* main.c - subcommand dispatch; the only place that decides the exit status. */
#include <stdio.h>

#include "pyrometer/cli.h"

int main(int argc, char **argv)
{
	struct cli_opts o;
	int r = cli_parse(argc, argv, &o);
	if (r >= 0)
		return r;
	switch (o.cmd) {
	case CMD_VERSION:
		printf("pyrometer %s\n", PYROMETER_VERSION);
		return EXIT_OK;
	case CMD_RECORD:
		return cmd_record(&o);
	case CMD_DUMP:
		return cmd_dump(&o);
	case CMD_EVENTS:
		return cmd_events(&o);
	case CMD_REPORT:
		return cmd_report(&o);
	case CMD_DIFF:
		return cmd_diff(&o);
	case CMD_TOP:
		return cmd_top(&o);
	default:
		cli_usage(NULL);
		return EXIT_USAGE;
	}
}
