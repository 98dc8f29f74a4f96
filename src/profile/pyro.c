/* pyro.c - placeholder until the writer is written: refuses to write. */
#include <errno.h>

#include "pyrometer/output.h"

static int write_pyro(FILE *f, const struct profile *p, const struct output_opts *o)
{
	(void)f;
	(void)p;
	(void)o;
	return -ENOSYS;
}

static const char *const exts[] = { ".pyro", NULL };
const struct writer writer_pyro = { "pyro", exts, write_pyro };
