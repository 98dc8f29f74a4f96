/*
 * csv.c - one row per location; columns are only ever appended: the
 * sample columns, then EVENT_self,EVENT_total for each event in the order
 * given, then one column per derived metric that applies (computed over
 * the row's totals; empty where its denominator is zero).
 */
#include <errno.h>
#include <stdlib.h>

#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "rows.h"

static void header_cell(FILE *f, const char *name, const char *suffix)
{
	char cell[160];
	snprintf(cell, sizeof(cell), "%s%s", name, suffix);
	fputc(',', f);
	esc_put(f, esc_csv, cell);
}

static int write_csv(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct rows rs;
	if (rows_build(p, o, &rs) < 0)
		return -ENOMEM;
	double all = (double)profile_samples(p);
	fputs("function,file,line,self_samples,total_samples,self_pct,total_pct", f);
	for (size_t k = 0; k < rs.nev; k++) {
		header_cell(f, profile_event(p, k)->name, "_self");
		header_cell(f, profile_event(p, k)->name, "_total");
	}
	for (size_t i = 0; i < rs.nmet; i++)
		fprintf(f, ",%s", metric_info(rs.met[i])->column);
	fputc('\n', f);
	for (int i = 0; i < rs.n; i++) {
		const struct row *r = &rs.v[i];
		const struct prof_frame *fr = r->frame;
		esc_put(f, esc_csv, fr->name);
		fputc(',', f);
		esc_put(f, esc_csv, fr->file);
		fprintf(f, ",%d,%llu,%llu,%.2f,%.2f", fr->line < 0 ? 0 : fr->line,
			(unsigned long long)r->self, (unsigned long long)r->total,
			all > 0 ? 100.0 * (double)r->self / all : 0.0,
			all > 0 ? 100.0 * (double)r->total / all : 0.0);
		for (size_t k = 0; k < rs.nev; k++)
			fprintf(f, ",%llu,%llu", (unsigned long long)r->selfv[k],
				(unsigned long long)r->totalv[k]);
		for (size_t j = 0; j < rs.nmet; j++) {
			enum metric m = rs.met[j];
			if (r->met_ok & (1u << m))
				fprintf(f, ",%.3f", r->met[m]);
			else
				fputc(',', f);
		}
		fputc('\n', f);
	}
	rows_free(&rs);
	return ferror(f) ? -EIO : 0;
}

static const char *const csv_exts[] = { ".csv", NULL };
const struct writer writer_csv = { "csv", csv_exts, write_csv };
