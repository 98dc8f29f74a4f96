/*
 * outsel.h - choosing and writing an output, shared by record, report and
 * diff: the writer from -o's ending or --format, the keys of --sort,
 * --weight and --color-by checked against the events of the profile.
 */
#ifndef PYROMETER_CLI_OUTSEL_H
#define PYROMETER_CLI_OUTSEL_H

#include <stddef.h>

#include "pyrometer/cli.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"

/*
 * The writer for output path (NULL: stdout) and --format (NULL in *w: the
 * table), the path checked for writability. Returns EXIT_OK or the status
 * to exit with (message printed).
 */
int outsel_writer(const struct cli_opts *o, const char *path, const struct writer **w);

/* --sort, --weight, --color-by against events names/roles (n of them) into
 * oo. EXIT_OK or EXIT_USAGE (message printed). */
int outsel_keys(const struct cli_opts *o, const char *const *names, const int *roles, size_t n,
		struct output_opts *oo);

/* Write p with w (NULL: the table) to path, or to stdout when path is
 * NULL. EXIT_OK or EXIT_CANNOT (message printed). */
int outsel_write(const char *path, const struct writer *w, const struct profile *p,
		 const struct output_opts *oo);

#endif
