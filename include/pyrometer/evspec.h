/*
 * evspec.h - event names, as a user writes them after -e, turned into
 * perf_event_attr settings.
 *
 * Names:
 *   hardware     through libpfm4: cycles, instructions, cache-misses,
 *                branch-misses, branches, cache-references, LLC-load-misses,
 *                and any PMU-specific name with unit masks and modifiers
 *                (INST_RETIRED:ANY_P:u)
 *   software     cpu-clock, task-clock, page-faults (faults), minor-faults,
 *                major-faults, context-switches (cs), cpu-migrations
 *                (migrations), alignment-faults, emulation-faults
 *   tracepoint   SUBSYSTEM:NAME, id read from tracefs (mounted when root and
 *                unmounted)
 *   uprobe       uprobe:LIBRARY:SYMBOL, LIBRARY a path or a file name (or
 *                its start, up to a '.' or '-') of a file mapped by the
 *                target, SYMBOL from its .dynsym or .symtab
 * Any of them may end in /period=N/: the event then samples every N
 * occurrences (on its own, "event mode", unless it is the first event).
 *
 * The list is comma-separated; commas inside /.../ do not split it.
 */
#ifndef PYROMETER_EVSPEC_H
#define PYROMETER_EVSPEC_H

#include <limits.h>
#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ev_kind { EV_HARDWARE, EV_SOFTWARE, EV_TRACEPOINT, EV_UPROBE };

/* What an event is, for derived metrics: only the generic events that the
 * metrics need are named; everything else is EVR_OTHER. */
enum ev_role {
	EVR_OTHER = 0,
	EVR_CYCLES,
	EVR_INSTRUCTIONS,
	EVR_CACHE_REFERENCES,
	EVR_CACHE_MISSES,
	EVR_BRANCHES,
	EVR_BRANCH_MISSES,
	EVR_CPU_CLOCK,        /* value in ns */
	EVR_TASK_CLOCK,       /* value in ns */
	EVR_PAGE_FAULTS,
	EVR_CONTEXT_SWITCHES,
};

#define EV_NAME_MAX 128

struct ev_spec {
	char name[EV_NAME_MAX];      /* as written, without the /.../ part:
					the column name in outputs */
	char fqname[256];            /* fully qualified (libpfm4's name with its
					modifiers, "tracepoint sched:sched_switch",
					"uprobe /usr/lib/.../libc.so.6:0x98930
					(malloc)"); cut to fit */
	enum ev_kind kind;
	enum ev_role role;
	/* type, config, config1 (0 for uprobes: see path), config2,
	 * exclude_kernel/exclude_hv/exclude_user as the name asks. Sampling
	 * fields (sample_period, sample_type, ...) are left zero. */
	struct perf_event_attr attr;
	uint64_t period;             /* /period=N/, 0 when not given */
	int in_kernel;               /* happens in kernel context (context
					switches, migrations, tracepoints): can
					only be seen with exclude_kernel = 0 */
	/* EV_UPROBE: the file; the opener sets attr.config1 to its address
	 * (the kernel reads it during perf_event_open only). */
	char path[PATH_MAX];
};

/*
 * Parse a comma-separated list. pid is the target (uprobe libraries are
 * looked up among its mappings; 0 = the caller). On success returns the
 * number of events and sets *out (malloc'ed, free()). On error returns
 * -EINVAL (bad syntax, unknown name, duplicate name, a library name that
 * matches several files, an IFUNC symbol), -ENOENT (no such tracepoint,
 * library or symbol; a SUBSYSTEM:NAME while tracefs cannot be read) or
 * another -errno, and writes one line (no "pyrometer:" prefix, no newline)
 * naming the problem and the fix to err (which may be NULL).
 *
 * Side effect: a SUBSYSTEM:NAME that libpfm4 does not know makes a root
 * caller mount tracefs on /sys/kernel/tracing if nothing is mounted there.
 */
int ev_parse_list(const char *list, pid_t pid, struct ev_spec **out, char *err,
		  size_t errlen);

/* One name (no commas) into *e; same returns as ev_parse_list. */
int ev_parse_one(const char *name, pid_t pid, struct ev_spec *e, char *err, size_t errlen);

/*
 * Why perf_event_open failed with -errno err for e, in a few words for a
 * message like "cannot count cycles: <reason>": "no PMU exposed (virtual
 * machine?)", "kernel.perf_event_paranoid=2 (needs root, CAP_PERFMON or
 * perf_event_paranoid <= 1)", "tracefs not mounted (needs root)", ...
 */
const char *ev_open_reason(const struct ev_spec *e, int err, char *buf, size_t len);

/*
 * Try to open e counting on the calling thread (and close it). 0 when it
 * opens, else -errno.
 */
int ev_probe(const struct ev_spec *e);

/*
 * A generic hardware or cache event ("cycles", "LLC-load-misses", with
 * ":u"/":k") encoded from our own table, without libpfm4: what
 * ev_parse_one falls back to when libpfm4 does not know the name. Sets
 * e->attr, e->fqname, e->kind and e->role; 0, or -EINVAL for another name
 * or modifier. For tests that compare it with libpfm4's encoding.
 */
int ev_generic_encode(const char *name, struct ev_spec *e);

/* ---- for `pyrometer events`: what this machine offers ---------------- */

/*
 * The software events, i = 0, 1, ... until NULL is returned: the name, and
 * its short alias or NULL in *alias.
 */
const char *ev_software_name(size_t i, const char **alias);

/*
 * The kernel's core PMU as sysfs names it ("cpu", "cpu_core", "armv8_pmuv3_0")
 * into buf (may be NULL). 0, or -ENOENT when none is exposed (most virtual
 * machines): hardware events then fail to open with ENOENT.
 */
int ev_core_pmu(char *buf, size_t len);

/*
 * The tracefs directory that holds events/ (static storage). Not mounted:
 * with mount_ok and running as root it is mounted on /sys/kernel/tracing
 * (and left mounted), else NULL with the reason and the fix in err.
 */
const char *ev_tracefs(int mount_ok, char *err, size_t errlen);

/*
 * Every tracepoint under root/events as "SUBSYSTEM:NAME", in sorted order,
 * to fn (NULL: only count); a non-zero return from fn stops the walk.
 * Returns the number of tracepoints (all of them, even when fn stopped the
 * walk), or -errno.
 */
int ev_tracepoints_each(const char *root, int (*fn)(const char *name, void *arg),
			void *arg);

/* One event libpfm4 knows, for ev_pfm_each. Strings are libpfm4's. */
struct ev_pmu_event {
	const char *pmu;          /* "perf", "spr", "amd64_fam19h_zen3", ... */
	const char *pmu_desc;
	int per_thread;           /* a core PMU or the kernel's generic one: can
				     count one thread (uncore PMUs cannot) */
	const char *event;        /* without the "PMU::" prefix */
	const char *umask;        /* NULL for the event itself, then each of
				     its unit masks (core PMUs only) */
};

/*
 * Every event of every PMU that libpfm4 reports present (by CPU model: the
 * kernel may still expose none), PMU by PMU, each followed by its unit masks
 * on a core PMU, to fn; non-zero from fn stops.
 * Returns the number visited, or -ENOSYS when libpfm4 cannot initialise.
 */
int ev_pfm_each(int (*fn)(const struct ev_pmu_event *ev, void *arg), void *arg);

#endif
