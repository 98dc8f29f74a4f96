/*
 * pyro.h - .pyro recordings: a profile and its run (metadata, events,
 * threads, every sample) in one versioned, little-endian file that
 * `report` and `diff` render again. The format is documented in
 * man/pyrometer-format.5. Writing is writer_pyro (output.h).
 *
 * A recording comes from anywhere: the reader checks every size, offset
 * and index, and refuses what it cannot trust with a message.
 */
#ifndef PYROMETER_PYRO_H
#define PYROMETER_PYRO_H

#include <stddef.h>

#include "pyrometer/profile.h"
#include "pyrometer/run.h"
#include "pyrometer/strpool.h"

/*
 * Read path. On success returns 0, *prof is a new profile (its strings
 * interned in pool, which must outlive it) and *run is filled (run_init'ed
 * by the reader; run_release it). On failure returns -errno (-ENOENT, ...,
 * -EINVAL for a corrupt or truncated file, -EPROTONOSUPPORT for a newer
 * major version) with one line in err naming the problem, and leaves
 * nothing allocated.
 */
int pyro_read(const char *path, struct strpool *pool, struct profile **prof, struct run *run,
	      char *err, size_t errlen);

/* The same from memory (tests, fuzzing). */
int pyro_read_mem(const void *data, size_t len, struct strpool *pool, struct profile **prof,
		  struct run *run, char *err, size_t errlen);

#endif
