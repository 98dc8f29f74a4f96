/*
 * speedscope.c - speedscope's JSON file format
 * (https://www.speedscope.app/file-format-schema.json).
 *
 * Every frame is listed once under "shared"; each thread root of the trie
 * becomes one "sampled" profile whose samples are its stacks (root first,
 * the thread root itself left out) and whose weights are the samples - or
 * one event's counts (--weight) - that ended there. Stacks that hang under
 * no thread root (profiles built without them) make one more profile.
 *
 * Stacks are written in a depth-first walk of the trie, so neighbours share
 * their prefixes and speedscope's "time order" view draws each subtree as
 * one block instead of scattering it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "pyrometer/run.h"

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"
#define NO_INDEX UINT32_MAX

/* The length of the valid UTF-8 sequence at s (NUL-terminated: the NUL
 * ends a sequence before any byte past it is read), or 0 when it is not
 * one. */
static int utf8_len(const unsigned char *s)
{
	uint32_t cp;
	return (int)esc_utf8(s, 4, &cp);
}

/* The characters of s inside a JSON string: quotes and backslashes
 * escaped, control characters as \u00XX, every byte that is not part of
 * valid UTF-8 as U+FFFD, so the file stays valid UTF-8 whatever the target
 * named its functions. */
static void json_chars(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		int n = utf8_len(s);
		if (n == 0) {
			fputs("\xef\xbf\xbd", f);
			s++;
		} else if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s++);
		} else {
			fwrite(s, 1, (size_t)n, f);
			s += n;
		}
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	json_chars(f, s);
	fputc('"', f);
}

/* One speedscope profile: a thread root's subtree (root != PROF_ROOT), or
 * every subtree that hangs under no thread root (root == PROF_ROOT). */
struct group {
	uint32_t root;
	const char *name;
	uint64_t total;
};

struct ss {
	const struct profile *p;
	int weight_event;
	uint32_t *child, *sib;   /* first child, next sibling; 0 = none */
	uint32_t *index;         /* frame id -> index in shared.frames */
	uint32_t *path;          /* frame ids by depth, during a walk */
	struct group *g;
	size_t ng;
};

static uint64_t weight(const struct ss *c, uint32_t id)
{
	if (c->weight_event > 0 && (size_t)c->weight_event <= profile_nevents(c->p))
		return profile_node_counts(c->p, id)[c->weight_event - 1];
	return profile_node(c->p, id)->self;
}

static int is_thread(const struct profile *p, uint32_t node)
{
	return profile_frame_get(p, profile_node(p, node)->frame)->kind == PROF_THREAD;
}

/* Child and sibling links (children in id order), the frame indices and
 * room for the longest path. */
static int ss_init(struct ss *c, const struct profile *p, int weight_event)
{
	size_t nn = profile_nnodes(p), nf = profile_nframes(p);
	uint32_t maxdepth = 0;
	*c = (struct ss){ .p = p, .weight_event = weight_event };
	c->child = calloc(nn, sizeof(*c->child));
	c->sib = calloc(nn, sizeof(*c->sib));
	c->index = malloc((nf ? nf : 1) * sizeof(*c->index));
	for (uint32_t id = 1; id < nn; id++)
		if (profile_node(p, id)->depth > maxdepth)
			maxdepth = profile_node(p, id)->depth;
	c->path = malloc(((size_t)maxdepth + 1) * sizeof(*c->path));
	/* at most one group per child of the root, plus the threadless one */
	c->g = calloc(nn + 1, sizeof(*c->g));
	if (!c->child || !c->sib || !c->index || !c->path || !c->g)
		return -ENOMEM;
	for (uint32_t id = (uint32_t)nn - 1; id >= 1; id--) {
		uint32_t up = profile_node(p, id)->parent;
		c->sib[id] = c->child[up];
		c->child[up] = id;
	}
	uint32_t next = 0;
	for (uint32_t id = 0; id < nf; id++)
		c->index[id] = profile_frame_get(p, id)->kind == PROF_THREAD ? NO_INDEX : next++;
	return 0;
}

static void ss_release(struct ss *c)
{
	free(c->g);
	free(c->path);
	free(c->index);
	free(c->sib);
	free(c->child);
}

/* The next node after n in a pre-order walk of top's subtree, or 0. */
static uint32_t walk_next(const struct ss *c, uint32_t top, uint32_t n)
{
	if (c->child[n])
		return c->child[n];
	for (; n != top; n = profile_node(c->p, n)->parent)
		if (c->sib[n])
			return c->sib[n];
	return 0;
}

enum pass { PASS_TOTAL, PASS_SAMPLES, PASS_WEIGHTS };

static void put_stack(FILE *f, const struct ss *c, uint32_t depth)
{
	int first = 1;
	fputc('[', f);
	for (uint32_t d = 0; d < depth; d++) {
		uint32_t i = c->index[c->path[d]];
		if (i == NO_INDEX)
			continue;
		fprintf(f, first ? "%u" : ",%u", i);
		first = 0;
	}
	fputc(']', f);
}

/* Walk one subtree: add up its weight, or write its stacks or weights. */
static void walk(FILE *f, struct ss *c, uint32_t top, enum pass pass, uint64_t *total,
		 int *first)
{
	for (uint32_t n = top; n; n = walk_next(c, top, n)) {
		const struct prof_node *node = profile_node(c->p, n);
		c->path[node->depth - 1] = node->frame;
		uint64_t w = weight(c, n);
		if (!w)
			continue;
		*total += w;
		if (pass == PASS_TOTAL)
			continue;
		if (!*first)
			fputc(',', f);
		*first = 0;
		if (pass == PASS_SAMPLES)
			put_stack(f, c, node->depth);
		else
			fprintf(f, "%llu", (unsigned long long)w);
	}
}

static uint64_t group_pass(FILE *f, struct ss *c, const struct group *g, enum pass pass)
{
	uint64_t total = 0;
	int first = 1;
	if (g->root != PROF_ROOT) {
		walk(f, c, g->root, pass, &total, &first);
		return total;
	}
	for (uint32_t r = c->child[PROF_ROOT]; r; r = c->sib[r])
		if (!is_thread(c->p, r))
			walk(f, c, r, pass, &total, &first);
	return total;
}

/* One group per thread root with weight, then the threadless stacks. */
static void find_groups(struct ss *c)
{
	int threadless = 0;
	for (uint32_t r = c->child[PROF_ROOT]; r; r = c->sib[r]) {
		if (!is_thread(c->p, r)) {
			threadless = 1;
			continue;
		}
		struct group *g = &c->g[c->ng];
		g->root = r;
		g->name = profile_frame_get(c->p, profile_node(c->p, r)->frame)->name;
		g->total = group_pass(NULL, c, g, PASS_TOTAL);
		if (g->total)
			c->ng++;
	}
	if (threadless) {
		struct group *g = &c->g[c->ng];
		g->root = PROF_ROOT;
		g->name = c->ng ? "no thread" : "all threads";
		g->total = group_pass(NULL, c, g, PASS_TOTAL);
		if (g->total)
			c->ng++;
	}
	if (!c->ng)   /* nothing weighs anything: still one (empty) profile */
		c->g[c->ng++] = (struct group){ .root = PROF_ROOT, .name = "all threads" };
}

static void put_frame(FILE *f, const struct prof_frame *fr)
{
	fputs("{\"name\":", f);
	if (fr->kind == PROF_NATIVE && fr->file[0]) {
		/* "symbol [module]", as the other writers show it */
		fputc('"', f);
		json_chars(f, fr->name);
		fputs(" [", f);
		json_chars(f, fr->file);
		fputs("]\"", f);
	} else {
		json_str(f, fr->name);
	}
	if (fr->kind == PROF_PYTHON || (fr->kind == PROF_NATIVE && fr->file[0])) {
		fputs(",\"file\":", f);
		json_str(f, fr->file);
	}
	if (fr->kind == PROF_PYTHON && fr->line > 0)
		fprintf(f, ",\"line\":%d", fr->line);
	fputc('}', f);
}

static const char *unit(const struct profile *p, int weight_event)
{
	if (weight_event <= 0 || (size_t)weight_event > profile_nevents(p))
		return "none";
	int role = profile_event(p, (size_t)weight_event - 1)->role;
	return role == EVR_CPU_CLOCK || role == EVR_TASK_CLOCK ? "nanoseconds" : "none";
}

static void put_profile(FILE *f, struct ss *c, const struct group *g, const char *u)
{
	fputs("{\"type\":\"sampled\",\"name\":", f);
	json_str(f, g->name);
	fprintf(f, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%llu,\n\"samples\":[", u,
		(unsigned long long)g->total);
	group_pass(f, c, g, PASS_SAMPLES);
	fputs("],\n\"weights\":[", f);
	group_pass(f, c, g, PASS_WEIGHTS);
	fputs("]}", f);
}

static int write_speedscope(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct ss c;
	if (ss_init(&c, p, o->weight_event) < 0) {
		ss_release(&c);
		return -ENOMEM;
	}
	find_groups(&c);
	size_t active = 0;
	for (size_t i = 1; i < c.ng; i++)
		if (c.g[i].total > c.g[active].total)
			active = i;

	fputs("{\"$schema\":\"" SPEEDSCOPE_SCHEMA "\",\n\"shared\":{\"frames\":[", f);
	int first = 1;
	for (uint32_t id = 0; id < profile_nframes(p); id++) {
		if (c.index[id] == NO_INDEX)
			continue;
		fputs(first ? "\n" : ",\n", f);
		first = 0;
		put_frame(f, profile_frame_get(p, id));
	}
	fputs("]},\n\"profiles\":[\n", f);
	const char *u = unit(p, o->weight_event);
	for (size_t i = 0; i < c.ng; i++) {
		if (i)
			fputs(",\n", f);
		put_profile(f, &c, &c.g[i], u);
	}
	fputs("],\n\"name\":", f);
	const struct run *r = o->run;
	json_str(f, r && r->target && r->target[0] ? r->target : "pyrometer");
	fprintf(f, ",\"activeProfileIndex\":%zu,\"exporter\":\"pyrometer ", active);
	json_chars(f, r && r->version && r->version[0] ? r->version : PYROMETER_VERSION);
	if (r && r->backend && r->backend[0]) {
		fputs(", backend ", f);
		json_chars(f, r->backend);
	}
	fputs("\"}\n", f);
	ss_release(&c);
	return ferror(f) ? -EIO : 0;
}

static const char *const exts[] = { ".speedscope.json", NULL };
const struct writer writer_speedscope = { "speedscope", exts, write_speedscope };
