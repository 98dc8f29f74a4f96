/* pprof.c - placeholder until the writer is written: refuses to write. */
#include <errno.h>

#include "pyrometer/output.h"

static int write_pprof(FILE *f, const struct profile *p, const struct output_opts *o)
{
	(void)f;
	(void)p;
	(void)o;
	return -ENOSYS;
}

static const char *const exts[] = { ".pb.gz", NULL };
const struct writer writer_pprof = { "pprof", exts, write_pprof };
