/*
 * events.c - `pyrometer events`: the event names this machine can count,
 * each tried by opening it on ourselves, and why the others cannot be.
 *
 * Names from libpfm4 and tracefs are printed with control characters
 * replaced; nothing from a target is read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pyrometer/cli.h"
#include "pyrometer/evspec.h"

#define NAME_COL 30

static const char *const hw_shown[] = {
	"cycles", "instructions", "cache-references", "cache-misses", "branches",
	"branch-misses", "ref-cycles", "bus-cycles", "LLC-load-misses",
	"L1-dcache-load-misses", "dTLB-load-misses",
};

static const char *const tp_shown[] = {
	"sched:sched_switch", "sched:sched_wakeup", "syscalls:sys_enter_write",
	"syscalls:sys_enter_read", "raw_syscalls:sys_enter", "exceptions:page_fault_user",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void put_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* "  NAME<padding>" */
static void put_name(const char *name)
{
	printf("  ");
	put_clean(name);
	size_t n = strlen(name);
	printf("%*s", n < NAME_COL ? (int)(NAME_COL - n) : 1, "");
}

/* "yes", or "no: why" for a parse error r or for failing to open e. */
static void put_verdict(int r, const struct ev_spec *e, const char *why, const char *note)
{
	char reason[256];
	if (r == 0)
		r = ev_probe(e);
	else
		reason[0] = '\0';
	if (r == 0) {
		printf("yes%s%s\n", note ? "   " : "", note ? note : "");
		return;
	}
	printf("no: ");
	put_clean(why[0] ? why : ev_open_reason(e, r, reason, sizeof(reason)));
	putchar('\n');
}

/* One line: the name as shown, then whether name opens on ourselves. */
static void show(const char *shown, const char *name, const char *note)
{
	char why[512];
	struct ev_spec e;
	int r = ev_parse_one(name, 0, &e, why, sizeof(why));
	put_name(shown);
	put_verdict(r, &e, r ? why : "", note);
}

static void summary(int have_pmu, const char *pmu)
{
	if (!have_pmu) {
		printf("hardware PMU: none exposed (virtual machine?) - pyrometer samples "
		       "cpu-clock and counts software events instead\n");
		return;
	}
	printf("hardware PMU: yes (%s)", pmu);
	struct ev_spec e;
	char why[512], reason[256];
	int r = ev_parse_one("cycles", 0, &e, why, sizeof(why));
	if (r == 0 && (r = ev_probe(&e)) != 0)
		snprintf(why, sizeof(why), "%s", ev_open_reason(&e, r, reason, sizeof(reason)));
	if (r) {
		printf(", but cycles cannot be opened: ");
		put_clean(why);
	}
	putchar('\n');
}

/* --all: libpfm4's names, PMU by PMU. */
struct pfm_walk {
	const char *last_pmu;
};

static int show_pfm_event(const struct ev_pmu_event *ev, void *arg)
{
	struct pfm_walk *w = arg;
	if (!w->last_pmu || strcmp(w->last_pmu, ev->pmu) != 0) {
		printf("hardware, libpfm4 PMU %s (", ev->pmu);
		put_clean(ev->pmu_desc);
		printf(")%s\n", ev->per_thread ? "" : ": not probed (counts a whole socket, not "
		       "a thread)");
		w->last_pmu = ev->pmu;
	}
	char name[EV_NAME_MAX];
	int n = snprintf(name, sizeof(name), "%s::%s%s%s", ev->pmu, ev->event,
			 ev->umask ? ":" : "", ev->umask ? ev->umask : "");
	if (n < 0 || (size_t)n >= sizeof(name))
		return 0;
	char why[512];
	struct ev_spec e;
	int r = ev_parse_one(name, 0, &e, why, sizeof(why));
	put_name(name);
	if (r && !ev->umask && strstr(why, "needs a unit mask"))
		printf("no: needs a unit mask (%s:UMASK)\n", name);
	else if (r == 0 && !ev->per_thread)
		printf("not probed\n");
	else
		put_verdict(r, &e, r ? why : "", NULL);
	return 0;
}

static void hardware(int have_pmu, const char *pmu, int all)
{
	if (have_pmu)
		printf("hardware (PMU: %s)\n", pmu);
	else
		printf("hardware (PMU: none exposed - virtual machine?)\n");
	for (size_t i = 0; i < COUNT(hw_shown); i++)
		show(hw_shown[i], hw_shown[i], NULL);
	if (!all)
		return;
	struct pfm_walk w = { 0 };
	if (ev_pfm_each(show_pfm_event, &w) < 0)
		printf("  (libpfm4 could not initialise: no PMU-specific names)\n");
}

static void software(void)
{
	printf("software\n");
	const char *name, *alias;
	for (size_t i = 0; (name = ev_software_name(i, &alias)) != NULL; i++) {
		char shown[64];
		if (alias)
			snprintf(shown, sizeof(shown), "%s (%s)", name, alias);
		else
			snprintf(shown, sizeof(shown), "%s", name);
		show(shown, name, NULL);
	}
}

static int show_tracepoint(const char *name, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < COUNT(tp_shown); i++)
		if (strcmp(name, tp_shown[i]) == 0)
			return 0; /* already shown, probed */
	put_name(name);
	printf("not probed\n");
	return 0;
}

static void tracepoints(int all)
{
	char why[512];
	const char *root = ev_tracefs(1, why, sizeof(why));
	if (!root) {
		printf("tracepoint (tracefs not available)\n");
		put_name("SUBSYSTEM:NAME");
		printf("no: ");
		put_clean(why);
		putchar('\n');
		return;
	}
	printf("tracepoint (tracefs at %s)\n", root);
	size_t present = 0;
	for (size_t i = 0; i < COUNT(tp_shown); i++) {
		show(tp_shown[i], tp_shown[i], NULL);
		struct ev_spec e;
		if (ev_parse_one(tp_shown[i], 0, &e, NULL, 0) == 0)
			present++;
	}
	if (all) {
		ev_tracepoints_each(root, show_tracepoint, NULL);
		return;
	}
	int n = ev_tracepoints_each(root, NULL, NULL);
	if (n > 0 && (size_t)n > present)
		printf("  ... (%zu more: pyrometer events --all)\n", (size_t)n - present);
}

static void uprobes(void)
{
	int present = access("/sys/bus/event_source/devices/uprobe", F_OK) == 0;
	printf("uprobe (%s)\n", present ? "uprobe PMU present" : "no uprobe PMU in this kernel");
	/* Tried on libc's malloc in this process. */
	show("uprobe:LIBRARY:SYMBOL", "uprobe:libc:malloc", "e.g. uprobe:libc:malloc");
}

int cmd_events(const struct cli_opts *o)
{
	char pmu[64] = "";
	int have_pmu = ev_core_pmu(pmu, sizeof(pmu)) == 0;

	summary(have_pmu, pmu);
	putchar('\n');
	hardware(have_pmu, pmu, o->all);
	software();
	tracepoints(o->all);
	uprobes();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("cannot write the list: %s", strerror(errno));
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}
