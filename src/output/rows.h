/* rows.h - the per-location rows the tabular writers share. */
#ifndef PYROMETER_OUTPUT_ROWS_H
#define PYROMETER_OUTPUT_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "pyrometer/profile.h"

struct row {
	const struct prof_frame *frame;
	uint64_t self, total;
};

/* Rows for every location (Python frames and markers, not thread roots)
 * that has samples, sorted by self samples, then total, then name, file,
 * line. *rows is malloc'ed; returns the count or -ENOMEM. */
int rows_build(const struct profile *p, struct row **rows);

#endif
