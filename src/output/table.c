/* table.c - the summary a person reads on the terminal. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "rows.h"

/* Terminal columns a UTF-8 string takes: one per character, two for the
 * wide East Asian and emoji ranges. Close enough to align a table. */
static size_t columns(const char *s)
{
	size_t cols = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t c = *p;
		int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
		c &= extra ? 0x3fu >> extra : 0xffu;
		p++;
		for (int i = 0; i < extra && (*p & 0xc0) == 0x80; i++, p++)
			c = (c << 6) | (*p & 0x3fu);
		int wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
			   (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
			   (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) ||
			   (c >= 0x1f300 && c <= 0x1faff) || (c >= 0x20000 && c <= 0x3fffd);
		cols += wide ? 2 : 1;
	}
	return cols;
}

/* A count in at most 8 columns: 1234, 12.3K, 4.56M, 7.89G; clock events
 * (ns) as time: 850us, 12.3ms, 4.56s. */
static void human(char *out, size_t cap, uint64_t v, int role)
{
	double d = (double)v;
	if (role == EVR_CPU_CLOCK || role == EVR_TASK_CLOCK) {
		if (d < 1e6)
			snprintf(out, cap, "%.0fus", d / 1e3);
		else if (d < 1e9)
			snprintf(out, cap, "%.1fms", d / 1e6);
		else
			snprintf(out, cap, "%.2fs", d / 1e9);
	} else if (v < 10000) {
		snprintf(out, cap, "%llu", (unsigned long long)v);
	} else if (d < 1e6) {
		snprintf(out, cap, "%.1fK", d / 1e3);
	} else if (d < 1e9) {
		snprintf(out, cap, "%.2fM", d / 1e6);
	} else if (d < 1e12) {
		snprintf(out, cap, "%.2fG", d / 1e9);
	} else {
		snprintf(out, cap, "%.2fT", d / 1e12);
	}
}

/* An event column is as wide as its (escaped) name, at least 8. */
static int event_width(const char *name)
{
	char esc[64];
	size_t n = esc_term(esc, sizeof(esc), name);
	return n < 8 ? 8 : n > 24 ? 24 : (int)n;
}

static int write_table(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct rows rs;
	if (rows_build(p, o, &rs) < 0)
		return -ENOMEM;
	double all = (double)profile_samples(p);
	int n = rs.n;
	int top = o->top > 0 && o->top < n ? o->top : n;
	char name[41], cell[64];
	int width[PROF_EVENTS_MAX];

	/* Header: sample shares, each event's own count, the metrics. */
	fprintf(f, "%7s %7s", "OWN%", "TOTAL%");
	for (size_t k = 0; k < rs.nev; k++) {
		width[k] = event_width(profile_event(p, k)->name);
		esc_term(cell, sizeof(cell), profile_event(p, k)->name);
		cell[width[k]] = '\0';
		fprintf(f, " %*s", width[k], cell);
	}
	for (size_t j = 0; j < rs.nmet; j++)
		fprintf(f, " %7s", metric_info(rs.met[j])->label);
	fprintf(f, "  %-40s %s\n", "FUNCTION", "LOCATION");

	for (int i = 0; i < top; i++) {
		const struct row *r = &rs.v[i];
		const struct prof_frame *fr = r->frame;
		fprintf(f, "%7.2f %7.2f", all > 0 ? 100.0 * (double)r->self / all : 0,
			all > 0 ? 100.0 * (double)r->total / all : 0);
		for (size_t k = 0; k < rs.nev; k++) {
			human(cell, sizeof(cell), r->selfv[k], profile_event(p, k)->role);
			fprintf(f, " %*s", width[k], cell);
		}
		for (size_t j = 0; j < rs.nmet; j++) {
			enum metric m = rs.met[j];
			if (r->met_ok & (1u << m)) {
				double v = r->met[m];
				if (v < 1000)
					fprintf(f, " %7.2f", v);
				else if (v < 1e6)
					fprintf(f, " %7.0f", v);
				else
					fprintf(f, " %6.1fM", v / 1e6);
			} else
				fprintf(f, " %7s", "-");
		}
		fputs("  ", f);
		/* Pad by the escaped name's length; a long name pushes the
		 * location right rather than being cut. */
		size_t len = esc_term(name, sizeof(name), fr->name);
		if (len < sizeof(name))
			len = columns(name);
		esc_put(f, esc_term, fr->name);
		fprintf(f, "%*s ", len < 40 ? (int)(40 - len) : 0, "");
		if (fr->kind == PROF_PYTHON) {
			esc_put(f, esc_term, fr->file);
			if (fr->line >= 0)
				fprintf(f, ":%d", fr->line);
			fputc('\n', f);
		} else if (fr->kind == PROF_NATIVE && fr->file[0]) {
			fputc('[', f);
			esc_put(f, esc_term, fr->file);
			fputs("]\n", f);
		} else {
			fputc('\n', f);
		}
	}
	if (n == 0)
		fputs("(no samples)\n", f);
	rows_free(&rs);
	return ferror(f) ? -EIO : 0;
}

static const char *const no_exts[] = { NULL };
const struct writer writer_table = { "table", no_exts, write_table };
