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
	uint32_t *path = NULL;
	size_t cap = 0;
	if (!q)
		return NULL;
	for (size_t i = 0; i < r->nsamples; i++) {
		const struct run_sample *s = &r->s[i];
		const struct prof_node *leaf = profile_node(p, s->node);
		if (s->time < from || s->time >= to || !leaf)
			continue;
		if (leaf->depth > cap) {
			cap = leaf->depth * 2;
			uint32_t *np = realloc(path, cap * sizeof(*np));
			if (!np)
				goto fail;
			path = np;
		}
		/* the frames, root first; frame ids are the same in q as in p */
		size_t n = leaf->depth;
		for (uint32_t k = s->node; k != PROF_ROOT; k = profile_node(p, k)->parent) {
			const struct prof_frame *f = profile_frame_get(p, profile_node(p, k)->frame);
			uint32_t id = profile_frame(q, f->name, f->file, f->line, f->kind);
			if (id == UINT32_MAX)
				goto fail;
			path[--n] = id;
		}
		const uint64_t *c = nev && r->nev == nev ? &r->counts[i * nev] : NULL;
		if (profile_add_counts(q, path, leaf->depth, s->event == 0, c) == UINT32_MAX)
			goto fail;
	}
	free(path);
	return q;
fail:
	free(path);
	profile_free(q);
	return NULL;
}
