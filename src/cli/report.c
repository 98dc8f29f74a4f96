/*
 * report.c - `pyrometer report` renders a .pyro recording in any format;
 * `pyrometer diff` compares two recordings location by location, and fails
 * (exit 3) when a location's share of an event grew past --fail-over.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outsel.h"
#include "pyrometer/cli.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "pyrometer/pyro.h"
#include "pyrometer/run.h"
#include "pyrometer/strpool.h"
#include "pyrometer/svg.h"

/* A recording as read: its profile and run. */
struct loaded {
	struct profile *prof;
	struct run run;
};

static int load(const char *path, struct strpool *pool, struct loaded *l)
{
	char err[512];
	int e = pyro_read(path, pool, &l->prof, &l->run, err, sizeof(err));
	if (e < 0) {
		cli_error("%s", err);
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}

static void unload(struct loaded *l)
{
	profile_free(l->prof);
	run_release(&l->run);
}

static size_t event_names(const struct profile *p, const char **names, int *roles)
{
	size_t n = profile_nevents(p);
	for (size_t k = 0; k < n; k++) {
		names[k] = profile_event(p, k)->name;
		roles[k] = profile_event(p, k)->role;
	}
	return n;
}

/* Replace *p by q (NULL: out of memory). */
static int swap_profile(struct profile **p, struct profile *q)
{
	if (!q) {
		cli_error("out of memory");
		return EXIT_CANNOT;
	}
	profile_free(*p);
	*p = q;
	return EXIT_OK;
}

int cmd_report(const struct cli_opts *o)
{
	const struct writer *w;
	int rc = outsel_writer(o, o->output, &w);
	if (rc != EXIT_OK)
		return rc;
	if (o->by == BY_STACK) {
		/* stacks are what the stack formats show; a table or CSV has rows */
		if (!w || w == &writer_table)
			w = &writer_folded;
		else if (w == &writer_csv) {
			cli_error("--by stack needs a stack format (collapsed, svg, speedscope, "
				  "pprof), not CSV (see 'pyrometer report --help')");
			return EXIT_USAGE;
		}
	}
	struct strpool pool;
	strpool_init(&pool);
	struct loaded l = { 0 };
	rc = load(o->files[0], &pool, &l);
	if (rc != EXIT_OK)
		goto out;
	const char *names[PROF_EVENTS_MAX];
	int roles[PROF_EVENTS_MAX];
	size_t nev = event_names(l.prof, names, roles);
	struct output_opts oo = { 0 };
	rc = outsel_keys(o, names, roles, nev, &oo);
	if (rc != EXIT_OK)
		goto out;
	if (o->from > 0 || o->to >= 0) {
		uint64_t from = (uint64_t)(o->from * 1e9);
		uint64_t to = o->to >= 0 ? (uint64_t)(o->to * 1e9) : UINT64_MAX;
		rc = swap_profile(&l.prof, run_cut(&l.run, l.prof, from, to));
		if (rc != EXIT_OK)
			goto out;
	}
	if (o->by == BY_FUNCTION) {
		rc = swap_profile(&l.prof, profile_transform(l.prof, PROF_DROP_LINES));
		if (rc != EXIT_OK)
			goto out;
	}
	oo.threads = o->threads;
	oo.top = o->output || w ? 0 : 20;
	/* A cut or regrouped profile no longer matches the run's samples. */
	oo.run = o->from > 0 || o->to >= 0 || o->by == BY_FUNCTION ? NULL : &l.run;
	if (w == &writer_pyro && !oo.run) {
		cli_error("a .pyro recording cannot be written from a cut or regrouped profile; "
			  "drop --from/--to/--by or choose another format");
		rc = EXIT_USAGE;
		goto out;
	}
	rc = outsel_write(o->output, w, l.prof, &oo);
out:
	unload(&l);
	strpool_release(&pool);
	return rc;
}

/* ---------------------------------------------------------------- diff */

/* One location of either run, with its own share of each compared event. */
struct drow {
	const struct prof_frame *frame;   /* strings shared by both runs (one pool) */
	double base[PROF_EVENTS_MAX], cur[PROF_EVENTS_MAX];
};

struct dtable {
	struct drow *v;
	size_t n, cap;
	size_t nev;
	int base_ev[PROF_EVENTS_MAX], cur_ev[PROF_EVENTS_MAX];   /* event index in each run */
	const char *names[PROF_EVENTS_MAX];
	int sort;                         /* the compared event rows are ordered by */
};

static int same_frame(const struct prof_frame *a, const struct prof_frame *b)
{
	return a->name == b->name && a->file == b->file && a->line == b->line && a->kind == b->kind;
}

static int cmp_frame(const void *pa, const void *pb)
{
	const struct drow *a = pa, *b = pb;
	int c = strcmp(a->frame->name, b->frame->name);
	if (c)
		return c;
	c = strcmp(a->frame->file, b->frame->file);
	if (c)
		return c;
	if (a->frame->line != b->frame->line)
		return a->frame->line < b->frame->line ? -1 : 1;
	return a->frame->kind - b->frame->kind;
}

/* Add each location of p with its own share (%) of each compared event. */
static int add_side(struct dtable *t, const struct profile *p, int side)
{
	uint64_t *self, *total, *selfv, *totalv;
	if (profile_totals_counts(p, &self, &total, &selfv, &totalv) < 0)
		return -ENOMEM;
	size_t nf = profile_nframes(p), nev = profile_nevents(p);
	uint64_t all[PROF_EVENTS_MAX];
	profile_count_totals(p, all);
	int rc = 0;
	for (uint32_t id = 0; id < nf; id++) {
		const struct prof_frame *f = profile_frame_get(p, id);
		if (f->kind == PROF_THREAD)
			continue;
		int any = 0;
		for (size_t k = 0; k < t->nev; k++) {
			int e = side ? t->cur_ev[k] : t->base_ev[k];
			any |= selfv[(size_t)id * nev + (size_t)e] != 0;
		}
		if (!any)
			continue;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 256;
			struct drow *nv = realloc(t->v, cap * sizeof(*nv));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			t->v = nv;
			t->cap = cap;
		}
		struct drow *r = &t->v[t->n++];
		memset(r, 0, sizeof(*r));
		r->frame = f;
		for (size_t k = 0; k < t->nev; k++) {
			int e = side ? t->cur_ev[k] : t->base_ev[k];
			double share = all[e] ? 100.0 * (double)selfv[(size_t)id * nev + (size_t)e] /
						(double)all[e] : 0.0;
			if (side)
				r->cur[k] = share;
			else
				r->base[k] = share;
		}
	}
	free(self);
	free(total);
	free(selfv);
	free(totalv);
	return rc;
}

/* Rows of the same location (from the two sides) into one. */
static void merge_rows(struct dtable *t)
{
	qsort(t->v, t->n, sizeof(*t->v), cmp_frame);
	size_t out = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (out && same_frame(t->v[out - 1].frame, t->v[i].frame)) {
			for (size_t k = 0; k < t->nev; k++) {
				t->v[out - 1].base[k] += t->v[i].base[k];
				t->v[out - 1].cur[k] += t->v[i].cur[k];
			}
			continue;
		}
		t->v[out++] = t->v[i];
	}
	t->n = out;
}

static const struct dtable *sorting;

static int cmp_delta(const void *pa, const void *pb)
{
	const struct drow *a = pa, *b = pb;
	int k = sorting->sort;
	double da = a->cur[k] - a->base[k], db = b->cur[k] - b->base[k];
	if (da != db)
		return da < db ? 1 : -1;
	return cmp_frame(pa, pb);
}

static void location(FILE *f, const struct prof_frame *fr,
		     size_t (*esc)(char *, size_t, const char *), int csv)
{
	if (csv) {
		esc_put(f, esc, fr->name);
		fputc(',', f);
		esc_put(f, esc, fr->file);
		fprintf(f, ",%d", fr->line < 0 ? 0 : fr->line);
		return;
	}
	esc_put(f, esc, fr->name);
	fputs("  ", f);
	if (fr->kind == PROF_PYTHON) {
		esc_put(f, esc, fr->file);
		if (fr->line >= 0)
			fprintf(f, ":%d", fr->line);
	} else if (fr->kind == PROF_NATIVE && fr->file[0]) {
		fputc('[', f);
		esc_put(f, esc, fr->file);
		fputc(']', f);
	}
}

static int write_diff_csv(FILE *f, const struct dtable *t)
{
	fputs("function,file,line", f);
	for (size_t k = 0; k < t->nev; k++) {
		char cell[160];
		static const char *const suffix[3] = { "_base_pct", "_new_pct", "_delta_pct" };
		for (int j = 0; j < 3; j++) {
			snprintf(cell, sizeof(cell), "%s%s", t->names[k], suffix[j]);
			fputc(',', f);
			esc_put(f, esc_csv, cell);
		}
	}
	fputc('\n', f);
	for (size_t i = 0; i < t->n; i++) {
		const struct drow *r = &t->v[i];
		location(f, r->frame, esc_csv, 1);
		for (size_t k = 0; k < t->nev; k++)
			fprintf(f, ",%.2f,%.2f,%+.2f", r->base[k], r->cur[k], r->cur[k] - r->base[k]);
		fputc('\n', f);
	}
	return ferror(f) ? -EIO : 0;
}

static int write_diff_table(FILE *f, const struct dtable *t, size_t top)
{
	for (size_t k = 0; k < t->nev; k++) {
		char name[40];
		esc_term(name, sizeof(name), t->names[k]);
		fprintf(f, "%s%s: BASE%%    NEW%%   DELTA", k ? "  " : "", name);
	}
	fputs("  FUNCTION  LOCATION\n", f);
	for (size_t i = 0; i < t->n && i < top; i++) {
		const struct drow *r = &t->v[i];
		for (size_t k = 0; k < t->nev; k++) {
			char name[40];
			size_t w = esc_term(name, sizeof(name), t->names[k]) + 2;
			fprintf(f, "%s%*.2f %7.2f %+7.2f", k ? "  " : "", (int)(w + 5), r->base[k],
				r->cur[k], r->cur[k] - r->base[k]);
		}
		fputs("  ", f);
		location(f, r->frame, esc_term, 0);
		fputc('\n', f);
	}
	if (t->n == 0)
		fputs("(no samples)\n", f);
	return ferror(f) ? -EIO : 0;
}

/* Write the diff to -o or stdout: table, CSV or differential SVG. */
static int write_diff(const struct cli_opts *o, const struct writer *w, const struct dtable *t,
		      const struct profile *base, const struct profile *cur,
		      const struct output_opts *oo)
{
	char tmp[4096];
	FILE *f = stdout;
	if (o->output) {
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d", o->output, (int)getpid());
		f = fopen(tmp, "w");
		if (!f) {
			cli_error("cannot write %s: %s", o->output, strerror(errno));
			return EXIT_CANNOT;
		}
	}
	int e;
	if (w == &writer_csv)
		e = write_diff_csv(f, t);
	else if (w == &writer_svg)
		e = svg_write_diff(f, base, cur, oo);
	else
		e = write_diff_table(f, t, o->output ? t->n : 30);
	if (o->output) {
		if (fclose(f) != 0 && e == 0)
			e = -EIO;
		if (e == 0 && rename(tmp, o->output) != 0)
			e = -errno;
		if (e != 0)
			unlink(tmp);
	} else if (fflush(stdout) != 0 && e == 0) {
		e = -EIO;
	}
	if (e < 0) {
		cli_error("cannot write %s: %s", o->output ? o->output : "the diff", strerror(-e));
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}

int cmd_diff(const struct cli_opts *o)
{
	const struct writer *w;
	int rc = outsel_writer(o, o->output, &w);
	if (rc != EXIT_OK)
		return rc;
	if (w && w != &writer_csv && w != &writer_svg && w != &writer_table) {
		cli_error("diff writes a table, CSV (.csv) or a differential flame graph (.svg), "
			  "not %s (see 'pyrometer diff --help')", w->name);
		return EXIT_USAGE;
	}
	/* One pool for both: the same string is the same pointer in both. */
	struct strpool pool;
	strpool_init(&pool);
	struct loaded b = { 0 }, c = { 0 };
	struct dtable t = { 0 };
	rc = load(o->files[0], &pool, &b);
	if (rc == EXIT_OK)
		rc = load(o->files[1], &pool, &c);
	if (rc != EXIT_OK)
		goto out;
	/* The events both runs have, in the new run's order. */
	for (size_t k = 0; k < profile_nevents(c.prof); k++) {
		for (size_t j = 0; j < profile_nevents(b.prof); j++) {
			if (strcmp(profile_event(c.prof, k)->name, profile_event(b.prof, j)->name))
				continue;
			t.names[t.nev] = profile_event(c.prof, k)->name;
			t.cur_ev[t.nev] = (int)k;
			t.base_ev[t.nev] = (int)j;
			t.nev++;
		}
	}
	if (t.nev == 0) {
		cli_error("%s and %s have no event in common", o->files[0], o->files[1]);
		rc = EXIT_CANNOT;
		goto out;
	}
	if (o->sort) {
		t.sort = -1;
		for (size_t k = 0; k < t.nev; k++)
			if (!strcmp(o->sort, t.names[k]))
				t.sort = (int)k;
		if (t.sort < 0) {
			cli_error("--sort: '%s' is not an event of both recordings", o->sort);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	/* The flame graph keeps lines in its frames, as every flame graph does;
	 * the rows are functions unless --by line. */
	unsigned flags = PROF_DROP_THREADS | (o->by == BY_LINE ? 0 : PROF_DROP_LINES);
	if (w == &writer_svg)
		flags = PROF_DROP_THREADS;
	rc = swap_profile(&b.prof, profile_transform(b.prof, flags));
	if (rc == EXIT_OK)
		rc = swap_profile(&c.prof, profile_transform(c.prof, flags));
	if (rc != EXIT_OK)
		goto out;
	if (add_side(&t, b.prof, 0) < 0 || add_side(&t, c.prof, 1) < 0) {
		cli_error("out of memory");
		rc = EXIT_CANNOT;
		goto out;
	}
	merge_rows(&t);
	sorting = &t;
	qsort(t.v, t.n, sizeof(*t.v), cmp_delta);
	sorting = NULL;

	struct output_opts oo = { .run = &c.run };
	if (t.sort > 0)
		oo.weight_event = t.cur_ev[t.sort] + 1;
	rc = write_diff(o, w, &t, b.prof, c.prof, &oo);
	if (rc != EXIT_OK || o->fail_over < 0)
		goto out;
	/* The gate: a location that matters now and grew too much. */
	int k = t.sort, failed = 0;
	for (size_t i = 0; i < t.n; i++) {
		const struct drow *r = &t.v[i];
		double delta = r->cur[k] - r->base[k];
		if (r->cur[k] < o->min_share || !(delta > o->fail_over))
			continue;
		if (!failed++)
			fprintf(stderr, "pyrometer: regression: the %s share of these grew by more "
				"than %.2f points:\n", t.names[k], o->fail_over);
		fputs("pyrometer:   ", stderr);
		location(stderr, r->frame, esc_term, 0);
		fprintf(stderr, "  %.2f%% -> %.2f%% (%+.2f)\n", r->base[k], r->cur[k], delta);
	}
	if (failed)
		rc = EXIT_REGRESSION;
out:
	free(t.v);
	unload(&b);
	unload(&c);
	strpool_release(&pool);
	return rc;
}
