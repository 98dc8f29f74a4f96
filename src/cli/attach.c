/* attach.c - the messages for failing to attach, shared by every command. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pyrometer/cli.h"

static int paranoid_level(void)
{
	int v = -100;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -100;
		fclose(f);
	}
	return v;
}

int cli_attach_error(pid_t pid, int r, const char *detail)
{
	switch (r) {
	case -ESRCH:
		if (detail && *detail)
			cli_error("%s", detail);
		else
			cli_error("no process with PID %d", (int)pid);
		break;
	case -EACCES:
	case -EPERM: {
		int lvl = paranoid_level();
		char why[96] = "";
		if (lvl > 2)
			snprintf(why, sizeof(why), " (it is %d now)", lvl);
		cli_error("permission denied for process %d: run as root, or grant "
			  "CAP_SYS_PTRACE and CAP_PERFMON, or for your own processes set "
			  "kernel.perf_event_paranoid <= 2%s", (int)pid, why);
		break;
	}
	default:
		cli_error("%s", detail && *detail ? detail : strerror(-r));
		break;
	}
	return EXIT_CANNOT;
}
