/*
 * folded.c - collapsed stacks ("frame;frame;...;frame COUNT", root first),
 * the input of flamegraph.pl, inferno and speedscope.
 */
#include <errno.h>
#include <stdlib.h>

#include "pyrometer/output.h"
#include "pyrometer/profile.h"

static void frame_text(FILE *f, const struct prof_frame *fr)
{
	esc_put(f, esc_frame, fr->name);
	if (fr->kind == PROF_NATIVE && fr->file[0]) {
		fputs(" [", f);
		esc_put(f, esc_frame, fr->file);
		fputc(']', f);
	}
	if (fr->kind != PROF_PYTHON)
		return;
	fputs(" (", f);
	esc_put(f, esc_frame, fr->file);
	if (fr->line >= 0)
		fprintf(f, ":%d", fr->line);
	fputc(')', f);
}

/* A leaf's weight: its samples, or one event's counts. */
static uint64_t weight(const struct profile *p, uint32_t id, int weight_event)
{
	if (weight_event > 0 && (size_t)weight_event <= profile_nevents(p))
		return profile_node_counts(p, id)[weight_event - 1];
	return profile_node(p, id)->self;
}

static int write_stacks(FILE *f, const struct profile *p, int weight_event)
{
	uint32_t *path = NULL;
	size_t cap = 0;
	for (uint32_t id = 1; id < profile_nnodes(p); id++) {
		const struct prof_node *leaf = profile_node(p, id);
		uint64_t w = weight(p, id, weight_event);
		if (!w)
			continue;
		if (leaf->depth > cap) {
			cap = leaf->depth * 2;
			uint32_t *np = realloc(path, cap * sizeof(*np));
			if (!np) {
				free(path);
				return -ENOMEM;
			}
			path = np;
		}
		size_t n = 0;
		for (uint32_t k = id; k != PROF_ROOT; k = profile_node(p, k)->parent)
			path[n++] = profile_node(p, k)->frame;
		while (n--) {
			frame_text(f, profile_frame_get(p, path[n]));
			if (n)
				fputc(';', f);
		}
		fprintf(f, " %llu\n", (unsigned long long)w);
	}
	free(path);
	return ferror(f) ? -EIO : 0;
}

static int write_folded(FILE *f, const struct profile *p, const struct output_opts *o)
{
	if (o->threads)
		return write_stacks(f, p, o->weight_event);
	struct profile *merged = profile_without_threads(p);
	if (!merged)
		return -ENOMEM;
	int r = write_stacks(f, merged, o->weight_event);
	profile_free(merged);
	return r;
}

static const char *const folded_exts[] = { ".folded", ".txt", NULL };
const struct writer writer_folded = { "collapsed", folded_exts, write_folded };
