/* rows.c - per-location rows, their metrics, sorted for the tabular writers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rows.h"

static int cmp_default(const struct row *x, const struct row *y)
{
	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	int c = strcmp(x->frame->name, y->frame->name);
	if (c)
		return c;
	c = strcmp(x->frame->file, y->frame->file);
	if (c)
		return c;
	return (x->frame->line > y->frame->line) - (x->frame->line < y->frame->line);
}

/* qsort has no context argument: the order in force while sorting. */
static const struct output_opts *sort_by;

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int k = sort_by ? sort_by->sort_index : 0;
	if (sort_by && sort_by->sort == OUT_SORT_EVENT) {
		if (x->selfv[k] != y->selfv[k])
			return x->selfv[k] < y->selfv[k] ? 1 : -1;
		if (x->totalv[k] != y->totalv[k])
			return x->totalv[k] < y->totalv[k] ? 1 : -1;
	} else if (sort_by && sort_by->sort == OUT_SORT_METRIC) {
		/* rows without the metric go last */
		int hx = (x->met_ok >> k) & 1, hy = (y->met_ok >> k) & 1;
		if (hx != hy)
			return hy - hx;
		if (hx && x->met[k] != y->met[k])
			return x->met[k] < y->met[k] ? 1 : -1;
	}
	return cmp_default(x, y);
}

int rows_build(const struct profile *p, const struct output_opts *o, struct rows *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *self, *total;
	if (profile_totals_counts(p, &self, &total, &out->selfv, &out->totalv) < 0)
		return -ENOMEM;
	size_t nf = profile_nframes(p), nev = profile_nevents(p);
	out->nev = nev;
	int roles[PROF_EVENTS_MAX], where[COUNTS_ROLES];
	for (size_t k = 0; k < nev; k++)
		roles[k] = profile_event(p, k)->role;
	out->nmet = metrics_for(roles, nev, out->met, where);
	out->v = malloc((nf ? nf : 1) * sizeof(*out->v));
	if (!out->v) {
		free(self);
		free(total);
		rows_free(out);
		return -ENOMEM;
	}
	static const uint64_t none[1];
	for (uint32_t id = 0; id < nf; id++) {
		const struct prof_frame *f = profile_frame_get(p, id);
		if (f->kind == PROF_THREAD || f->kind == PROF_PROCESS)
			continue;
		const uint64_t *sv = nev ? &out->selfv[(size_t)id * nev] : none;
		const uint64_t *tv = nev ? &out->totalv[(size_t)id * nev] : none;
		int any = total[id] != 0;
		for (size_t k = 0; k < nev && !any; k++)
			any = tv[k] != 0;
		if (!any)
			continue;
		struct row *r = &out->v[out->n++];
		*r = (struct row){ .frame = f, .self = self[id], .total = total[id],
				   .selfv = sv, .totalv = tv };
		for (size_t i = 0; i < out->nmet; i++) {
			enum metric m = out->met[i];
			if (metric_value(m, tv, where, total[id], &r->met[m]) == 0)
				r->met_ok |= 1u << m;
		}
	}
	free(self);
	free(total);
	sort_by = o;
	qsort(out->v, (size_t)out->n, sizeof(*out->v), cmp_rows);
	sort_by = NULL;
	return 0;
}

void rows_free(struct rows *r)
{
	free(r->v);
	free(r->selfv);
	free(r->totalv);
	memset(r, 0, sizeof(*r));
}
