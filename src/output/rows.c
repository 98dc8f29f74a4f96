/* rows.c - per-location rows sorted for the tabular writers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rows.h"

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
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

int rows_build(const struct profile *p, struct row **out)
{
	uint64_t *self, *total;
	if (profile_totals(p, &self, &total) < 0)
		return -ENOMEM;
	size_t nf = profile_nframes(p);
	struct row *rows = malloc((nf ? nf : 1) * sizeof(*rows));
	if (!rows) {
		free(self);
		free(total);
		return -ENOMEM;
	}
	int n = 0;
	for (uint32_t id = 0; id < nf; id++) {
		const struct prof_frame *f = profile_frame_get(p, id);
		if (f->kind == PROF_THREAD || !total[id])
			continue;
		rows[n++] = (struct row){ f, self[id], total[id] };
	}
	free(self);
	free(total);
	qsort(rows, (size_t)n, sizeof(*rows), cmp_rows);
	*out = rows;
	return n;
}
