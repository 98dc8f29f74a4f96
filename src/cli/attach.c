/* attach.c - the messages for failing to attach, shared by every command. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pyrometer/cli.h"

static int sysctl_int(const char *path, int missing)
{
	int v = missing;
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = missing;
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
		/* Name the settings that are in the way now, not all of them. */
		int paranoid = sysctl_int("/proc/sys/kernel/perf_event_paranoid", 2);
		int scope = sysctl_int("/proc/sys/kernel/yama/ptrace_scope", 0);
		char own[160] = "";
		if (paranoid > 2 && scope > 0)
			snprintf(own, sizeof(own), "set kernel.perf_event_paranoid <= 2 (it is %d) "
				 "and kernel.yama.ptrace_scope = 0 (it is %d)", paranoid, scope);
		else if (scope > 0)
			snprintf(own, sizeof(own), "set kernel.yama.ptrace_scope = 0 (it is %d)",
				 scope);
		else if (paranoid > 2)
			snprintf(own, sizeof(own), "set kernel.perf_event_paranoid <= 2 (it is %d)",
				 paranoid);
		else
			snprintf(own, sizeof(own), "profile only processes of your own user");
		cli_error("permission denied for process %d: run as root, or grant "
			  "CAP_SYS_PTRACE and CAP_PERFMON, or for your own processes %s",
			  (int)pid, own);
		break;
	}
	default:
		cli_error("%s", detail && *detail ? detail : strerror(-r));
		break;
	}
	return EXIT_CANNOT;
}
