/* speedscope.c - placeholder until the writer is written: refuses to write. */
#include <errno.h>

#include "pyrometer/output.h"

static int write_speedscope(FILE *f, const struct profile *p, const struct output_opts *o)
{
	(void)f;
	(void)p;
	(void)o;
	return -ENOSYS;
}

static const char *const exts[] = { ".speedscope.json", NULL };
const struct writer writer_speedscope = { "speedscope", exts, write_speedscope };
