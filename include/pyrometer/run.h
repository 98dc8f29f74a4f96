/*
 * run.h - what a recording knows besides the aggregated profile: the run's
 * metadata, its events, its threads and every sample in time order (so a
 * recording can be cut to a time range and rendered again later).
 *
 * Ownership: strings are interned in a strpool that outlives the run (the
 * recorder's, or the one a .pyro reader was given); the arrays belong to
 * the run (run_release frees them).
 */
#ifndef PYROMETER_RUN_H
#define PYROMETER_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyrometer/profile.h"

struct run_event {
	const char *name;        /* as given: the column name */
	const char *fqname;      /* fully qualified (libpfm4, tracepoint, uprobe file:offset) */
	int role;                /* enum ev_role */
	int how;                 /* enum perf_ev_role: leader, member, solo */
	uint64_t period;         /* fixed sampling period; 0 = by frequency, or counted */
	uint64_t total;          /* its count over the run (scaled) */
	uint64_t samples;        /* samples it took (0 for a member) */
	double running_pct;      /* share of the time it was counted (multiplexing), 100 = always */
};

struct run_thread {
	pid_t tid;
	const char *comm;        /* kernel name, "" when unknown */
	uint64_t samples;        /* samples of the first event */
};

/* One sample: when (ns since the run's start), which thread, which stack
 * (the profile node its stack ended at), which event took it. Its counts
 * are run.counts[i * nev .. + nev). */
struct run_sample {
	uint64_t time;
	pid_t tid;
	uint32_t node;
	uint32_t event;
};

struct run {
	/* metadata */
	const char *version;     /* pyrometer's */
	const char *cmdline;     /* pyrometer's own command line */
	pid_t pid;               /* the target */
	const char *target;      /* the target's command line */
	const char *python;      /* "3.12.1", "" when not Python */
	const char *host, *kernel;
	uint64_t start_unix_ns;  /* wall clock at the start */
	uint64_t duration_ns;
	unsigned hz;
	int native;              /* enum cli_native */
	const char *backend;     /* "bpf" or "user"; "" in recordings from before */

	struct run_event ev[PROF_EVENTS_MAX];
	size_t nev;

	/* stats */
	uint64_t samples, lost, unreadable, no_python;
	uint64_t unwind_failures, truncated, mismatches;
	uint64_t at_sample;      /* Python stacks read at the sample (BPF backend) */

	struct run_thread *threads;
	size_t nthreads;

	struct run_sample *s;
	uint64_t *counts;        /* nsamples * nev */
	size_t nsamples, cap;
};

void run_init(struct run *r);
void run_release(struct run *r);

/* Append one sample (counts: nev values, or NULL for zeros). 0 or -ENOMEM. */
int run_add_sample(struct run *r, uint64_t time, pid_t tid, uint32_t node, uint32_t event,
		   const uint64_t *counts);

/*
 * A new profile holding only the samples with from <= time < to (ns since
 * the start), built from the trie of p, which must be the profile the
 * samples' nodes belong to. NULL when out of memory.
 */
struct profile *run_cut(const struct run *r, const struct profile *p, uint64_t from,
			uint64_t to);

#endif
