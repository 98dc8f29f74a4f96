/* csv.c - one row per Python location; columns are only ever appended. */
#include <errno.h>
#include <stdlib.h>

#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "rows.h"

static int write_csv(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct row *rows;
	int n = rows_build(p, &rows);
	(void)o;
	if (n < 0)
		return n;
	double all = (double)profile_samples(p);
	fputs("function,file,line,self_samples,total_samples,self_pct,total_pct\n", f);
	for (int i = 0; i < n; i++) {
		const struct prof_frame *fr = rows[i].frame;
		esc_put(f, esc_csv, fr->name);
		fputc(',', f);
		esc_put(f, esc_csv, fr->file);
		fprintf(f, ",%d,%llu,%llu,%.2f,%.2f\n", fr->line < 0 ? 0 : fr->line,
			(unsigned long long)rows[i].self, (unsigned long long)rows[i].total,
			all > 0 ? 100.0 * (double)rows[i].self / all : 0.0,
			all > 0 ? 100.0 * (double)rows[i].total / all : 0.0);
	}
	free(rows);
	return ferror(f) ? -EIO : 0;
}

static const char *const csv_exts[] = { ".csv", NULL };
const struct writer writer_csv = { "csv", csv_exts, write_csv };
