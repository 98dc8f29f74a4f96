/* rows.h - the per-location rows the tabular writers share. */
#ifndef PYROMETER_OUTPUT_ROWS_H
#define PYROMETER_OUTPUT_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "pyrometer/counts.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"

struct row {
	const struct prof_frame *frame;
	uint64_t self, total;               /* samples */
	const uint64_t *selfv, *totalv;     /* event counts, nev each */
	double met[MET_N];                  /* by enum metric, over the totals */
	unsigned met_ok;                    /* bit m: met[m] has a value */
};

struct rows {
	struct row *v;
	int n;
	size_t nev;
	enum metric met[MET_N];             /* the metrics that apply, in order */
	size_t nmet;
	uint64_t *selfv, *totalv;           /* the storage behind each row's */
};

/* Rows for every location (Python frames, native frames and markers, not
 * thread roots) with samples or event counts, ordered by o (own samples,
 * then total, then name, file, line by default). 0 or -ENOMEM. */
int rows_build(const struct profile *p, const struct output_opts *o, struct rows *out);
void rows_free(struct rows *r);

#endif
