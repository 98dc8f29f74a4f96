/* table.c - the summary a person reads on the terminal. */
#include <errno.h>
#include <stdlib.h>

#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "rows.h"

static int write_table(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct row *rows;
	int n = rows_build(p, &rows);
	if (n < 0)
		return n;
	double all = (double)profile_samples(p);
	int top = o->top > 0 && o->top < n ? o->top : n;
	char name[4096], file[4096];

	fprintf(f, "%7s %7s  %-40s %s\n", "OWN%", "TOTAL%", "FUNCTION", "LOCATION");
	for (int i = 0; i < top; i++) {
		const struct prof_frame *fr = rows[i].frame;
		esc_term(name, sizeof(name), fr->name);
		esc_term(file, sizeof(file), fr->file);
		fprintf(f, "%7.2f %7.2f  %-40s ", all > 0 ? 100.0 * (double)rows[i].self / all : 0,
			all > 0 ? 100.0 * (double)rows[i].total / all : 0, name);
		if (fr->kind == PROF_PYTHON)
			fprintf(f, "%s:%d\n", file, fr->line < 0 ? 0 : fr->line);
		else
			fputc('\n', f);
	}
	if (n == 0)
		fputs("(no samples)\n", f);
	free(rows);
	return ferror(f) ? -EIO : 0;
}

static const char *const no_exts[] = { NULL };
const struct writer writer_table = { "table", no_exts, write_table };
