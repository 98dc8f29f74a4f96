/* table.c - the summary a person reads on the terminal. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

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

static int write_table(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct row *rows;
	int n = rows_build(p, &rows);
	if (n < 0)
		return n;
	double all = (double)profile_samples(p);
	int top = o->top > 0 && o->top < n ? o->top : n;
	char name[41];

	fprintf(f, "%7s %7s  %-40s %s\n", "OWN%", "TOTAL%", "FUNCTION", "LOCATION");
	for (int i = 0; i < top; i++) {
		const struct prof_frame *fr = rows[i].frame;
		/* Pad by the escaped name's length; a long name pushes the
		 * location right rather than being cut. */
		size_t len = esc_term(name, sizeof(name), fr->name);
		if (len < sizeof(name))
			len = columns(name);
		fprintf(f, "%7.2f %7.2f  ", all > 0 ? 100.0 * (double)rows[i].self / all : 0,
			all > 0 ? 100.0 * (double)rows[i].total / all : 0);
		esc_put(f, esc_term, fr->name);
		fprintf(f, "%*s ", len < 40 ? (int)(40 - len) : 0, "");
		if (fr->kind == PROF_PYTHON) {
			esc_put(f, esc_term, fr->file);
			fprintf(f, ":%d\n", fr->line < 0 ? 0 : fr->line);
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
	free(rows);
	return ferror(f) ? -EIO : 0;
}

static const char *const no_exts[] = { NULL };
const struct writer writer_table = { "table", no_exts, write_table };
