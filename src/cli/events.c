/* events.c - `pyrometer events` (being written). */
#include "pyrometer/cli.h"
int cmd_events(const struct cli_opts *o)
{
	(void)o;
	return EXIT_CANNOT;
}
