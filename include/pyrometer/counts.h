/*
 * counts.h - from the kernel's samples to event counts per sample, and the
 * metrics derived from event totals.
 *
 * A thread's events are a group (a sampling leader and counted members,
 * read with every leader sample) plus events that sample alone. A leader
 * sample stands for its period of the leader's event and for what each
 * member counted since the thread's previous leader sample; a solo
 * sample stands for its period of its own event. When the kernel
 * multiplexes the group, a member's delta is scaled by the time the group
 * was enabled over the time it ran in that interval.
 *
 * Pure functions over caller-owned state: the recorder keeps one
 * struct counts_thread per thread, tests feed synthetic reads.
 */
#ifndef PYROMETER_COUNTS_H
#define PYROMETER_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "pyrometer/perf.h"

#define COUNTS_MAX PERF_EVENTS_MAX

/* The events, as opened: role per event (enum perf_ev_role). */
struct counts_cfg {
	size_t nev;
	int role[COUNTS_MAX];
	/* members[k] = the event index of the k-th member, in group order
	 * (the order the kernel reports them after the leader). */
	size_t nmembers;
	int members[COUNTS_MAX];
};

struct counts_thread {
	int seen;                        /* a leader read was taken before */
	uint64_t prev[COUNTS_MAX];       /* raw values at the previous read,
					    by event index */
	uint64_t prev_enabled, prev_running;
};

/* Totals for the stats: per event its count, and the group's time. */
struct counts_stats {
	uint64_t total[COUNTS_MAX];      /* what was attributed, scaled */
	uint64_t enabled, running;       /* the group's, summed over intervals */
	uint64_t bad_reads;              /* reads that did not fit the group */
};

/* Fill the member order of cfg from its roles (index order). */
void counts_cfg_init(struct counts_cfg *cfg, const int *roles, size_t nev);

/*
 * The counts one sample stands for. ev: the sampling event's index;
 * period: the sample's period; rd: its PERF_SAMPLE_READ (group format, id,
 * times), or NULL. Writes vals[0..cfg->nev) and adds them to st. Returns
 * 0, or -EINVAL when rd does not fit the group (then only the period is
 * counted).
 */
int counts_sample(const struct counts_cfg *cfg, struct counts_thread *t, int ev,
		  uint64_t period, const struct perf_read *rd, uint64_t *vals,
		  struct counts_stats *st);

/* Derived metrics. */
enum metric {
	MET_IPC,               /* instructions / cycles */
	MET_CPI,               /* cycles / instructions */
	MET_MPKI,              /* cache-misses per 1000 instructions */
	MET_CACHE_MISS_PCT,    /* cache-misses / cache-references, % */
	MET_BRANCH_MISS_PCT,   /* branch-misses / branches, % */
	MET_FAULTS_PER_KSAMPLE,/* page-faults per 1000 samples */
	MET_N
};

struct metric_info {
	const char *key;       /* for --sort: ipc, cpi, mpki, ... */
	const char *column;    /* CSV column: IPC, CPI, MPKI, cache_miss_pct, ... */
	const char *label;     /* table header */
};

const struct metric_info *metric_info(enum metric m);

/*
 * Which metrics apply to events with these roles (enum ev_role): writes
 * them to out (MET_N room) in enum order and returns how many.
 * where[role] is filled with the first event of each role, or -1.
 */
#define COUNTS_ROLES 16
size_t metrics_for(const int *roles, size_t nev, enum metric *out, int *where);

/*
 * A metric's value from event totals vals (by event index) and a sample
 * count; where as metrics_for gave it. Returns 0 and sets *out, or -1 when
 * the denominator is zero.
 */
int metric_value(enum metric m, const uint64_t *vals, const int *where, uint64_t samples,
		 double *out);

/* The metric whose key is s (case-insensitive), or -1. */
int metric_by_key(const char *s);

#endif
