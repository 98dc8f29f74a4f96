/* counts.c - event counts per sample (group deltas, multiplex scaling) and derived metrics. */
#include <errno.h>
#include <strings.h>

#include "pyrometer/counts.h"
#include "pyrometer/evspec.h"

void counts_cfg_init(struct counts_cfg *cfg, const int *roles, size_t nev)
{
	cfg->nev = nev > COUNTS_MAX ? COUNTS_MAX : nev;
	cfg->nmembers = 0;
	for (size_t i = 0; i < cfg->nev; i++) {
		cfg->role[i] = roles[i];
		if (roles[i] == PERF_EV_MEMBER)
			cfg->members[cfg->nmembers++] = (int)i;
	}
}

/* a * num / den without overflowing for counts up to 2^64 / 2^32. */
static uint64_t scale(uint64_t a, uint64_t num, uint64_t den)
{
	return (uint64_t)((unsigned __int128)a * num / den);
}

int counts_sample(const struct counts_cfg *cfg, struct counts_thread *t, int ev,
		  uint64_t period, const struct perf_read *rd, uint64_t *vals,
		  struct counts_stats *st)
{
	for (size_t i = 0; i < cfg->nev; i++)
		vals[i] = 0;
	if (ev < 0 || (size_t)ev >= cfg->nev)
		return -EINVAL;
	vals[ev] = period;
	st->total[ev] += period;
	if (cfg->role[ev] != PERF_EV_LEADER || cfg->nmembers == 0)
		return 0;
	/* The leader's read: v[0] is the leader, then the members in order. */
	if (!rd || rd->nr != 1 + cfg->nmembers) {
		st->bad_reads++;
		return -EINVAL;
	}
	uint64_t de = rd->time_enabled - t->prev_enabled;
	uint64_t dr = rd->time_running - t->prev_running;
	if (rd->time_enabled < t->prev_enabled || rd->time_running < t->prev_running)
		de = dr = 0;   /* a new event under an old tid: start over */
	for (size_t k = 0; k < cfg->nmembers; k++) {
		int m = cfg->members[k];
		uint64_t now = rd->v[1 + k].value, prev = t->seen ? t->prev[m] : 0;
		uint64_t d = now >= prev ? now - prev : now;
		if (dr && dr < de)
			d = scale(d, de, dr);
		vals[m] = d;
		st->total[m] += d;
		t->prev[m] = now;
	}
	st->enabled += de;
	st->running += dr;
	t->prev_enabled = rd->time_enabled;
	t->prev_running = rd->time_running;
	t->seen = 1;
	return 0;
}

static const struct metric_info metrics[MET_N] = {
	[MET_IPC] = { "ipc", "IPC", "IPC" },
	[MET_CPI] = { "cpi", "CPI", "CPI" },
	[MET_MPKI] = { "mpki", "MPKI", "MPKI" },
	[MET_CACHE_MISS_PCT] = { "cache-miss%", "cache_miss_pct", "CMISS%" },
	[MET_BRANCH_MISS_PCT] = { "branch-miss%", "branch_miss_pct", "BMISS%" },
	[MET_FAULTS_PER_KSAMPLE] = { "faults/ksample", "faults_per_ksample", "FLT/KS" },
};

/* Each metric's numerator and denominator roles; EVR_OTHER as the
 * denominator means "per 1000 samples". */
static const struct {
	int num, den;
	double factor;
} formula[MET_N] = {
	[MET_IPC] = { EVR_INSTRUCTIONS, EVR_CYCLES, 1.0 },
	[MET_CPI] = { EVR_CYCLES, EVR_INSTRUCTIONS, 1.0 },
	[MET_MPKI] = { EVR_CACHE_MISSES, EVR_INSTRUCTIONS, 1000.0 },
	[MET_CACHE_MISS_PCT] = { EVR_CACHE_MISSES, EVR_CACHE_REFERENCES, 100.0 },
	[MET_BRANCH_MISS_PCT] = { EVR_BRANCH_MISSES, EVR_BRANCHES, 100.0 },
	[MET_FAULTS_PER_KSAMPLE] = { EVR_PAGE_FAULTS, EVR_OTHER, 1000.0 },
};

const struct metric_info *metric_info(enum metric m)
{
	return m < MET_N ? &metrics[m] : NULL;
}

size_t metrics_for(const int *roles, size_t nev, enum metric *out, int *where)
{
	for (int r = 0; r < COUNTS_ROLES; r++)
		where[r] = -1;
	for (size_t i = 0; i < nev; i++)
		if (roles[i] > EVR_OTHER && roles[i] < COUNTS_ROLES && where[roles[i]] < 0)
			where[roles[i]] = (int)i;
	size_t n = 0;
	for (int m = 0; m < MET_N; m++) {
		if (where[formula[m].num] < 0)
			continue;
		if (formula[m].den != EVR_OTHER && where[formula[m].den] < 0)
			continue;
		out[n++] = (enum metric)m;
	}
	return n;
}

int metric_value(enum metric m, const uint64_t *vals, const int *where, uint64_t samples,
		 double *out)
{
	if (m >= MET_N || where[formula[m].num] < 0)
		return -1;
	double num = (double)vals[where[formula[m].num]], den;
	if (formula[m].den == EVR_OTHER)
		den = (double)samples;
	else if (where[formula[m].den] >= 0)
		den = (double)vals[where[formula[m].den]];
	else
		return -1;
	if (den <= 0)
		return -1;
	*out = formula[m].factor * num / den;
	return 0;
}

int metric_by_key(const char *s)
{
	for (int m = 0; m < MET_N; m++)
		if (!strcasecmp(s, metrics[m].key) || !strcasecmp(s, metrics[m].column))
			return m;
	return -1;
}
