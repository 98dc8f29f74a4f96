/* run.c - a run's samples in time order, and profiles cut from them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/run.h"

void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
}

void run_release(struct run *r)
{
	free(r->threads);
	free(r->s);
	free(r->counts);
	memset(r, 0, sizeof(*r));
}

int run_add_sample(struct run *r, uint64_t time, pid_t tid, uint32_t node, uint32_t event,
		   const uint64_t *counts)
{
	if (r->nsamples == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		struct run_sample *ns = realloc(r->s, cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		r->s = ns;
		if (r->nev) {
			uint64_t *nc = realloc(r->counts, cap * r->nev * sizeof(*nc));
			if (!nc)
				return -ENOMEM;
			r->counts = nc;
		}
		r->cap = cap;
	}
	r->s[r->nsamples] = (struct run_sample){ time, tid, node, event };
	if (r->nev) {
		uint64_t *c = &r->counts[r->nsamples * r->nev];
		if (counts)
			memcpy(c, counts, r->nev * sizeof(*c));
		else
			memset(c, 0, r->nev * sizeof(*c));
	}
	r->nsamples++;
	return 0;
}

struct profile *run_cut(const struct run *r, const struct profile *p, uint64_t from,
			uint64_t to)
{
	size_t nev = profile_nevents(p);
	struct prof_event ev[PROF_EVENTS_MAX];
	for (size_t k = 0; k < nev; k++)
		ev[k] = *profile_event(p, k);
	struct profile *q = profile_new_events(ev, nev);
	struct profile_scratch sc = { 0 };
	if (!q)
		return NULL;
	for (size_t i = 0; i < r->nsamples; i++) {
		const struct run_sample *s = &r->s[i];
		if (s->time < from || s->time >= to || !profile_node(p, s->node))
			continue;
		const uint64_t *c = nev && r->nev == nev ? &r->counts[i * nev] : NULL;
		if (profile_add_path_of(q, p, s->node, 0, s->event == 0, c, &sc) == UINT32_MAX) {
			free(sc.path);
			profile_free(q);
			return NULL;
		}
	}
	free(sc.path);
	return q;
}
