/*
 * svg.c - flame graphs as one self-contained, interactive SVG document
 * (svg.h): the writer for .svg files, and the differential graph of two
 * profiles.
 *
 * The trie is laid out once: every node gets its inclusive weight, samples
 * and event counts (a child's id is always above its parent's, so one pass
 * from the last node down adds each node into its parent), then its left
 * edge in units of weight (siblings ordered by their text, so two runs of
 * the same program look alike). The document carries each frame's start,
 * width and depth in those units; the script scales them to pixels when it
 * zooms, and reads the frame's text from its <title>, so no string from the
 * target ever sits inside the script.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/counts.h"
#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "pyrometer/run.h"
#include "pyrometer/strpool.h"
#include "pyrometer/svg.h"

/* Geometry, in pixels. CHAR_PX is the average advance of a 12 px
 * sans-serif character: labels are cut to the frame's width by counting
 * characters, here and in the script alike. */
#define WIDTH     1200
#define PAD       10
#define AVAIL     (WIDTH - 2 * PAD)
#define FRAME_H   16
#define CHAR_PX   7.08
#define TITLE_H   56      /* title, subtitle and the controls */
#define LEGEND_H  22
#define FOOT_H    34      /* the details line and "Matched:" */

/*
 * Frames narrower than 0.1 px of the 1200 px graph are left out (their
 * descendants are narrower still): nobody can see or click them, and
 * without the cut a profile of 100k nodes would make a file of tens of
 * megabytes that a browser renders slowly. Zooming cannot bring them back,
 * as with flamegraph.pl's --minwidth.
 */
#define MIN_PX    0.1

/*
 * And at most this many frames, about 10 MB: when more are wide enough,
 * the deepest rows go (the graph stops at a depth, and says so), since
 * width alone cannot bound a deep recursion whose every level is wide.
 */
#define MAX_FRAMES 32768

/* ---- XML text --------------------------------------------------------- */

/* The character at s[0..n) (n >= 1): its length in bytes, and its code
 * point in *cp; bytes that are not UTF-8 give U+FFFD for one byte. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = esc_utf8(s, n, cp);
	if (len)
		return len;
	*cp = 0xfffd;
	return 1;
}

static size_t utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k = 0;
	uint32_t c;
	while (n) {
		size_t len = utf8_next(p, n, &c);
		p += len;
		n -= len;
		k++;
	}
	return k;
}

/* One character (raw: its bytes) as XML 1.0 text that is also safe in a
 * quoted attribute. XML has no way to write most control characters, even
 * as references: they become visible \xNN, C1 controls by their two
 * bytes, as esc_term writes them. */
static void xml_char(FILE *f, uint32_t c, const unsigned char *raw, size_t len)
{
	switch (c) {
	case '&':
		fputs("&amp;", f);
		return;
	case '<':
		fputs("&lt;", f);
		return;
	case '>':
		fputs("&gt;", f);
		return;
	case '"':
		fputs("&quot;", f);
		return;
	case '\'':
		fputs("&#39;", f);
		return;
	}
	if (c < 0x20 || c == 0x7f)
		fprintf(f, "\\x%02x", (unsigned)c);
	else if (c >= 0x80 && c <= 0x9f)
		fprintf(f, "\\x%02x\\x%02x", raw[0], raw[1]);
	else if (c == 0xfffd || c == 0xfffe || c == 0xffff)
		fputs("\xef\xbf\xbd", f);   /* not characters in XML */
	else
		fwrite(raw, 1, len, f);
}

/* s escaped, its first max characters at most. */
static void xml_put(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t k = 0; n && k < max; k++) {
		uint32_t c;
		size_t len = utf8_next(p, n, &c);
		xml_char(f, c, p, len);
		p += len;
		n -= len;
	}
}

/* s cut to fit width pixels: whole, or its start and "..", or nothing
 * (the script's fit() does the same after a zoom). */
static void xml_fit(FILE *f, const char *s, double width)
{
	double room = floor((width - 6) / CHAR_PX);
	size_t chars = utf8_chars(s);
	if (room >= (double)chars) {
		xml_put(f, s, SIZE_MAX);
	} else if (room >= 3) {
		xml_put(f, s, (size_t)room - 2);
		fputs("..", f);
	}
}

/* ---- frame text ------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* Python frames "qualname (file:line)", native "symbol [module]",
 * markers and threads as they are; NULL when out of memory. */
static const char *frame_label(struct sbuf *b, const struct prof_frame *fr)
{
	char num[24];
	b->len = 0;
	sb_add(b, "");
	sb_add(b, fr->name);
	if (fr->kind == PROF_PYTHON) {
		sb_add(b, " (");
		sb_add(b, fr->file);
		if (fr->line >= 0) {
			snprintf(num, sizeof(num), ":%d", fr->line);
			sb_add(b, num);
		}
		sb_add(b, ")");
	} else if (fr->kind == PROF_NATIVE && fr->file[0]) {
		sb_add(b, " [");
		sb_add(b, fr->file);
		sb_add(b, "]");
	}
	return b->oom ? NULL : b->s;
}

/* Whether two frames of different profiles are the same place. */
static int frame_same(const struct prof_frame *a, const struct prof_frame *b)
{
	return a->line == b->line && a->kind == b->kind && !strcmp(a->name, b->name) &&
	       !strcmp(a->file, b->file);
}

/* ---- layout ----------------------------------------------------------- */

struct layout {
	const struct profile *p;
	size_t n, nev;
	uint64_t *w;          /* inclusive weight, by node */
	uint64_t *samples;    /* inclusive samples */
	uint64_t *cnt;        /* inclusive event counts, n * nev */
	uint64_t *x;          /* left edge, in units of weight */
	uint32_t *order;      /* nodes but the root, grouped by parent */
	uint32_t maxdepth;    /* of the frames drawn */
	uint32_t depth_cap;   /* frames deeper are not drawn (MAX_FRAMES) */
	int capped;           /* some wide enough frames are deeper */
	double scale;         /* pixels per unit of weight */
};

static void layout_free(struct layout *l)
{
	free(l->w);
	free(l->samples);
	free(l->cnt);
	free(l->x);
	free(l->order);
	memset(l, 0, sizeof(*l));
}

/* Inclusive weights, samples and counts. weight_event as in output_opts.
 * 0, -ENOMEM, or -EINVAL for a trie whose parents do not come first. */
static int layout_weigh(struct layout *l, const struct profile *p, int weight_event)
{
	memset(l, 0, sizeof(*l));
	l->p = p;
	l->n = profile_nnodes(p);
	l->nev = profile_nevents(p);
	l->w = calloc(l->n, sizeof(*l->w));
	l->samples = calloc(l->n, sizeof(*l->samples));
	l->cnt = calloc(l->n * l->nev + 1, sizeof(*l->cnt));
	if (!l->w || !l->samples || !l->cnt) {
		layout_free(l);
		return -ENOMEM;
	}
	int by_event = weight_event > 0 && (size_t)weight_event <= l->nev;
	for (uint32_t id = 0; id < l->n; id++) {
		const uint64_t *c = profile_node_counts(p, id);
		l->samples[id] = profile_node(p, id)->self;
		if (c)
			memcpy(&l->cnt[(size_t)id * l->nev], c, l->nev * sizeof(*c));
		l->w[id] = by_event ? c[weight_event - 1] : l->samples[id];
	}
	for (uint32_t id = (uint32_t)l->n; id-- > 1;) {
		uint32_t up = profile_node(p, id)->parent;
		if (up >= id) {
			layout_free(l);
			return -EINVAL;
		}
		l->w[up] += l->w[id];
		l->samples[up] += l->samples[id];
		for (size_t k = 0; k < l->nev; k++)
			l->cnt[(size_t)up * l->nev + k] += l->cnt[(size_t)id * l->nev + k];
	}
	l->scale = l->w[PROF_ROOT] ? (double)AVAIL / (double)l->w[PROF_ROOT] : 0;
	l->depth_cap = UINT32_MAX;
	return 0;
}

static int wide(const struct layout *l, uint32_t id)
{
	return l->w[id] && (double)l->w[id] * l->scale >= MIN_PX;
}

static int drawn(const struct layout *l, uint32_t id)
{
	return wide(l, id) && profile_node(l->p, id)->depth <= l->depth_cap;
}

static int cmp_siblings(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct prof_node *x = profile_node(p, i), *y = profile_node(p, j);
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	const struct prof_frame *f = profile_frame_get(p, x->frame);
	const struct prof_frame *g = profile_frame_get(p, y->frame);
	int c = strcmp(f->name, g->name);
	if (!c)
		c = strcmp(f->file, g->file);
	if (!c)
		c = (f->line > g->line) - (f->line < g->line);
	if (!c)
		c = (f->kind > g->kind) - (f->kind < g->kind);
	return c ? c : (i > j) - (i < j);
}

/* The depth at which MAX_FRAMES wide enough frames are reached. */
static int layout_cap(struct layout *l)
{
	l->depth_cap = l->maxdepth;
	if (l->n <= MAX_FRAMES)
		return 0;
	size_t *rows = calloc((size_t)l->maxdepth + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (uint32_t id = 0; id < l->n; id++)
		if (wide(l, id))
			rows[profile_node(l->p, id)->depth]++;
	size_t sum = 0;
	for (uint32_t d = 0; d <= l->maxdepth; d++) {
		sum += rows[d];
		if (sum > MAX_FRAMES) {
			l->depth_cap = d - 1;
			l->maxdepth = d - 1;
			l->capped = 1;
			break;
		}
	}
	free(rows);
	return 0;
}

/* Left edges: children side by side from their parent's left edge, in
 * the order of their text. Groups come by parent id, and a parent's id is
 * below its children's, so its edge is known before its group. */
static int layout_place(struct layout *l)
{
	size_t m = l->n - 1;
	l->x = calloc(l->n, sizeof(*l->x));
	l->order = malloc((m ? m : 1) * sizeof(*l->order));
	if (!l->x || !l->order)
		return -ENOMEM;
	for (size_t i = 0; i < m; i++)
		l->order[i] = (uint32_t)i + 1;
	qsort_r(l->order, m, sizeof(*l->order), cmp_siblings, (void *)l->p);
	uint32_t parent = UINT32_MAX;
	uint64_t edge = 0;
	for (size_t i = 0; i < m; i++) {
		uint32_t id = l->order[i];
		const struct prof_node *nd = profile_node(l->p, id);
		if (nd->parent != parent) {
			parent = nd->parent;
			edge = l->x[parent];
		}
		l->x[id] = edge;
		edge += l->w[id];
		if (wide(l, id) && nd->depth > l->maxdepth)
			l->maxdepth = nd->depth;
	}
	return layout_cap(l);
}

/* ---- colours ---------------------------------------------------------- */

struct rgb {
	int r, g, b;
};

static const struct rgb GREY = { 200, 200, 200 };        /* no value */
static const struct rgb ROOT_RGB = { 205, 205, 205 };    /* "all" */
static const struct rgb SAME = { 238, 238, 238 };        /* diff: unchanged */
static const struct rgb GREW = { 225, 35, 35 };
static const struct rgb SHRANK = { 35, 85, 225 };
/* A metric, low to high: green, yellow, red (dark enough ends to tell
 * apart, light enough to read black text on). */
static const struct rgb STOPS[3] = { { 90, 190, 100 }, { 250, 220, 60 }, { 235, 70, 40 } };

static struct rgb mix(struct rgb a, struct rgb b, double t)
{
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	return (struct rgb){ (int)lround(a.r + (b.r - a.r) * t), (int)lround(a.g + (b.g - a.g) * t),
			     (int)lround(a.b + (b.b - a.b) * t) };
}

static struct rgb scale_color(double t)
{
	return t < 0.5 ? mix(STOPS[0], STOPS[1], 2 * t) : mix(STOPS[1], STOPS[2], 2 * t - 1);
}

static struct rgb diff_color(double delta, double scale)
{
	return mix(SAME, delta > 0 ? GREW : SHRANK, fabs(delta) / scale);
}

/* One palette per kind, the shade picked by a hash of the name and line,
 * so that neighbours (often one function at two lines) differ and a frame
 * keeps its colour from run to run.
 * Kernel functions (a native frame of module "[kernel...]") go with the
 * markers: neither is code of the target's. */
static struct rgb kind_color(const struct prof_frame *fr)
{
	uint32_t h = strpool_hash(fr->name, strlen(fr->name)) ^ (uint32_t)fr->line * 2654435761u;
	double a = (h & 0xff) / 255.0, b = (h >> 8 & 0xff) / 255.0, c = (h >> 16 & 0xff) / 255.0;
	int kind = fr->kind;
	if (kind == PROF_NATIVE && !strncmp(fr->file, "[kernel", 7))
		kind = PROF_PSEUDO;
	switch (kind) {
	case PROF_PYTHON:   /* orange to yellow */
		return (struct rgb){ 225 + (int)(30 * a), 110 + (int)(110 * b), 30 + (int)(50 * c) };
	case PROF_NATIVE:   /* blue to azure */
		return (struct rgb){ 70 + (int)(60 * a), 140 + (int)(70 * b), 205 + (int)(50 * c) };
	case PROF_THREAD:   /* green */
		return (struct rgb){ 100 + (int)(60 * a), 185 + (int)(50 * b), 100 + (int)(50 * c) };
	default:            /* violet grey */
		return (struct rgb){ 170 + (int)(40 * a), 140 + (int)(40 * b), 200 + (int)(40 * c) };
	}
}

/* ---- the document ----------------------------------------------------- */

enum mode {
	MODE_KIND,     /* colour by frame kind */
	MODE_METRIC,   /* shade by a metric */
	MODE_DIFF,     /* colour by the change of share */
};

struct svg {
	FILE *f;
	const struct output_opts *o;
	const struct layout *l;
	const struct profile *base;   /* MODE_DIFF */
	enum mode mode;
	enum metric met;              /* MODE_METRIC */
	int where[COUNTS_ROLES];
	int no_metric;                /* color_by asked for a metric these events lack */
	double *val;                  /* per node: the metric (NAN: none), or the
					 change of share in percentage points */
	double *before;               /* MODE_DIFF: base's share per node, % */
	double lo, hi;                /* the ends of the colour scale */
	int height, base_y;           /* document height; bottom of the root row */
	struct sbuf label;
};

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* Clocks count nanoseconds: shown as milliseconds. */
static void put_count(FILE *f, uint64_t v, int role)
{
	if (role == EVR_CPU_CLOCK || role == EVR_TASK_CLOCK)
		fprintf(f, "%.3f ms", (double)v / 1e6);
	else
		fprintf(f, "%llu", (unsigned long long)v);
}

static void put_value(FILE *f, double v)
{
	fprintf(f, fabs(v) < 10 ? "%.3f" : fabs(v) < 1000 ? "%.1f" : "%.0f", v);
}

static struct rgb frame_color(const struct svg *s, uint32_t id, const struct prof_frame *fr)
{
	switch (s->mode) {
	case MODE_METRIC:
		if (isnan(s->val[id]))
			return GREY;
		return scale_color(s->hi > s->lo ? (s->val[id] - s->lo) / (s->hi - s->lo) : 0.5);
	case MODE_DIFF:
		return diff_color(s->val[id], s->hi);
	default:
		return fr ? kind_color(fr) : ROOT_RGB;
	}
}

/* The <title> after the frame's text: one line per number. */
static void put_hover(struct svg *s, uint32_t id)
{
	const struct layout *l = s->l;
	FILE *f = s->f;
	if (s->mode == MODE_DIFF)
		fprintf(f, "\nbase %.2f%%, now %.2f%%, change %+.2f pp", s->before[id],
			pct(l->w[id], l->w[PROF_ROOT]), s->val[id]);
	fprintf(f, "\nsamples: %llu (%.2f%%)", (unsigned long long)l->samples[id],
		pct(l->samples[id], l->samples[PROF_ROOT]));
	for (size_t k = 0; k < l->nev; k++) {
		const struct prof_event *ev = profile_event(l->p, k);
		uint64_t v = l->cnt[(size_t)id * l->nev + k], all = l->cnt[k];
		fputc('\n', f);
		xml_put(f, ev->name, SIZE_MAX);
		fputs(": ", f);
		put_count(f, v, ev->role);
		fprintf(f, " (%.2f%%)", pct(v, all));
	}
	if (s->mode == MODE_METRIC) {
		fprintf(f, "\n%s: ", metric_info(s->met)->label);
		if (isnan(s->val[id]))
			fputs("-", f);
		else
			put_value(f, s->val[id]);
	}
}

static int put_frame(struct svg *s, uint32_t id)
{
	const struct layout *l = s->l;
	FILE *f = s->f;
	const struct prof_node *nd = profile_node(l->p, id);
	const struct prof_frame *fr = id == PROF_ROOT ? NULL : profile_frame_get(l->p, nd->frame);
	const char *label = fr ? frame_label(&s->label, fr) : "all";
	if (!label)
		return -ENOMEM;
	double x = PAD + (double)l->x[id] * l->scale, w = (double)l->w[id] * l->scale;
	int y = s->base_y - (int)(nd->depth + 1) * FRAME_H;
	struct rgb c = frame_color(s, id, fr);
	fprintf(f, "<g data-s=\"%llu\" data-w=\"%llu\" data-d=\"%u\"><title>",
		(unsigned long long)l->x[id], (unsigned long long)l->w[id], nd->depth);
	xml_put(f, label, SIZE_MAX);
	put_hover(s, id);
	fprintf(f, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
		"fill=\"rgb(%d,%d,%d)\"/><text x=\"%.2f\" y=\"%d\">",
		x, y, w, FRAME_H - 1, c.r, c.g, c.b, x + 3, y + 11);
	xml_fit(f, label, w);
	fputs("</text></g>\n", f);
	return 0;
}

static const char style[] =
	"<defs><linearGradient id=\"bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
	"<stop offset=\"0%\" stop-color=\"#f6f6f9\"/><stop offset=\"100%\" stop-color=\"#e4e4ec\"/>"
	"</linearGradient></defs>\n"
	"<style type=\"text/css\">\n"
	"text { font-family: Verdana, 'DejaVu Sans', sans-serif; font-size: 12px; fill: #000; }\n"
	"#title { font-size: 17px; text-anchor: middle; }\n"
	"#subtitle { text-anchor: middle; fill: #555; }\n"
	"#search, #matched { text-anchor: end; }\n"
	".ctl { cursor: pointer; fill: #1f3f9f; }\n"
	".ctl:hover { text-decoration: underline; }\n"
	"#frames g { cursor: pointer; }\n"
	"#frames g:hover rect { stroke: #000; stroke-width: 0.5; }\n"
	"#frames text { pointer-events: none; }\n"
	".dim { opacity: 0.5; }\n"
	".hide { display: none; }\n"
	"</style>\n";

static void put_head(struct svg *s)
{
	FILE *f = s->f;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" data-width=\"%d\" data-pad=\"%d\" "
		"data-char=\"%.2f\" data-total=\"%llu\">\n",
		WIDTH, s->height, WIDTH, s->height, WIDTH, PAD, CHAR_PX,
		(unsigned long long)s->l->w[PROF_ROOT]);
	fputs(style, f);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"url(#bg)\"/>\n",
		WIDTH, s->height);
}

/* A run's target command line is cut to this many characters. */
#define TITLE_CHARS 80

static void put_subtitle(struct svg *s, const struct profile *p)
{
	FILE *f = s->f;
	const struct run *r = s->o->run;
	size_t nev = r ? r->nev : profile_nevents(p);
	if (nev > PROF_EVENTS_MAX)
		nev = PROF_EVENTS_MAX;
	fprintf(f, "<text id=\"subtitle\" x=\"%d\" y=\"42\">", WIDTH / 2);
	for (size_t k = 0; k < nev; k++) {
		const char *name = r ? r->ev[k].name : profile_event(p, k)->name;
		fputs(k ? ", " : "events: ", f);
		xml_put(f, name ? name : "?", SIZE_MAX);
	}
	if (nev)
		fputs("; ", f);
	if (r)
		fprintf(f, "duration %.2f s; ", (double)r->duration_ns / 1e9);
	if (r && r->backend && r->backend[0]) {
		fputs("backend ", f);
		xml_put(f, r->backend, SIZE_MAX);
		fputs("; ", f);
	}
	fprintf(f, "%llu samples; width: ",
		(unsigned long long)(r ? r->samples : profile_samples(p)));
	int we = s->o->weight_event;
	if (we > 0 && (size_t)we <= profile_nevents(p))
		xml_put(f, profile_event(p, (size_t)we - 1)->name, SIZE_MAX);
	else
		fputs("samples", f);
	if (s->mode == MODE_METRIC)
		fprintf(f, "; colour: %s", metric_info(s->met)->label);
	else if (s->no_metric)
		fprintf(f, "; colour by %s: not measured by these events",
			metric_info((enum metric)(s->o->color_by - 1))->key);
	if (s->mode == MODE_DIFF)
		fprintf(f, "; base: %llu samples; red: share grew, blue: share shrank",
			(unsigned long long)profile_samples(s->base));
	if (s->l->capped)
		fprintf(f, "; frames deeper than %u left out", s->l->depth_cap);
	fputs("</text>\n", f);
}

/* "pyrometer: TARGET (pid N)". */
static void put_title(struct svg *s, const struct profile *p, const char *what)
{
	FILE *f = s->f;
	const struct run *r = s->o->run;
	fprintf(f, "<text id=\"title\" x=\"%d\" y=\"24\">%s: ", WIDTH / 2, what);
	if (r && r->target && r->target[0]) {
		xml_put(f, r->target, TITLE_CHARS);
		if (utf8_chars(r->target) > TITLE_CHARS)
			fputs("...", f);
		fprintf(f, " (pid %d)", (int)r->pid);
	} else if (r) {
		fprintf(f, "pid %d", (int)r->pid);
	} else {
		fputs("profile", f);
	}
	fputs("</text>\n", f);
	put_subtitle(s, p);
}

/* The colour scale: its name and low end, the gradient, the high end. */
static void put_legend(struct svg *s)
{
	FILE *f = s->f;
	int y = TITLE_H + 2, cx = WIDTH / 2;
	struct rgb c[3] = { diff_color(-1, 1), SAME, diff_color(1, 1) };
	if (s->mode == MODE_METRIC)
		for (int i = 0; i < 3; i++)
			c[i] = scale_color(i / 2.0);
	fputs("<g id=\"legend\"><defs><linearGradient id=\"scale\">", f);
	for (int i = 0; i < 3; i++)
		fprintf(f, "<stop offset=\"%d%%\" stop-color=\"rgb(%d,%d,%d)\"/>", i * 50, c[i].r,
			c[i].g, c[i].b);
	fprintf(f, "</linearGradient></defs>\n<text id=\"legend-lo\" x=\"%d\" y=\"%d\" "
		"text-anchor=\"end\">", cx - 156, y + 11);
	if (s->mode == MODE_DIFF) {
		fprintf(f, "shrank %.2f pp", s->lo);
	} else {
		fprintf(f, "%s ", metric_info(s->met)->label);
		if (s->lo <= s->hi)
			put_value(f, s->lo);
		else
			fputs("-", f);
	}
	fprintf(f, "</text><rect x=\"%d\" y=\"%d\" width=\"300\" height=\"12\" "
		"fill=\"url(#scale)\"/><text id=\"legend-hi\" x=\"%d\" y=\"%d\">",
		cx - 150, y, cx + 156, y + 11);
	if (s->mode == MODE_DIFF)
		fprintf(f, "grew %+.2f pp", s->hi);
	else if (s->lo <= s->hi)
		put_value(f, s->hi);
	else
		fputs("-", f);
	fputs("</text>", f);
	if (s->mode == MODE_METRIC)
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"rgb(%d,%d,%d)\"/>"
			"<text x=\"%d\" y=\"%d\">no value</text>",
			cx + 260, y, GREY.r, GREY.g, GREY.b, cx + 276, y + 11);
	fputs("</g>\n", f);
}

static void put_controls(struct svg *s)
{
	fprintf(s->f, "<text id=\"unzoom\" class=\"ctl hide\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" class=\"ctl\" x=\"%d\" y=\"24\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"matched\" class=\"hide\" x=\"%d\" y=\"%d\"></text>\n",
		PAD, WIDTH - PAD, PAD, s->height - 12, WIDTH - PAD, s->height - 12);
}

/*
 * The interactive part. It holds no data: every number and string comes
 * from the frames' attributes and <title>s through the DOM, so nothing the
 * target named can become code. Kept free of the CDATA terminator.
 */
static const char script[] =
	"(function () {\n"
	"  \"use strict\";\n"
	"  var root = document.documentElement;\n"
	"  var num = function (el, name) { return Number(el.getAttribute(name)); };\n"
	"  var PAD = num(root, \"data-pad\"), AVAIL = num(root, \"data-width\") - 2 * PAD;\n"
	"  var TOTAL = num(root, \"data-total\"), CHAR = num(root, \"data-char\");\n"
	"  var MATCH = \"rgb(230,0,230)\";\n"
	"  var details = document.getElementById(\"details\");\n"
	"  var unzoomBtn = document.getElementById(\"unzoom\");\n"
	"  var searchBtn = document.getElementById(\"search\");\n"
	"  var matched = document.getElementById(\"matched\");\n"
	"  var group = document.getElementById(\"frames\");\n"
	"  var frames = [], zoomed = null, term = \"\";\n"
	"\n"
	"  /* Every frame's numbers and text come from its element: the script\n"
	"   * holds no data of its own. */\n"
	"  var gs = group ? group.children : [];\n"
	"  for (var i = 0; i < gs.length; i++) {\n"
	"    var g = gs[i], t = g.getElementsByTagName(\"title\")[0];\n"
	"    var info = t ? t.textContent : \"\";\n"
	"    var it = {\n"
	"      g: g, rect: g.getElementsByTagName(\"rect\")[0],\n"
	"      text: g.getElementsByTagName(\"text\")[0],\n"
	"      s: num(g, \"data-s\"), w: num(g, \"data-w\"), d: num(g, \"data-d\"),\n"
	"      info: info, label: info.split(\"\\n\")[0], chars: null\n"
	"    };\n"
	"    it.fill = it.rect.getAttribute(\"fill\");\n"
	"    g.pyroIndex = i;\n"
	"    frames.push(it);\n"
	"  }\n"
	"\n"
	"  function itemOf(el) {\n"
	"    for (; el && el !== group; el = el.parentNode)\n"
	"      if (el.pyroIndex !== undefined)\n"
	"        return frames[el.pyroIndex];\n"
	"    return null;\n"
	"  }\n"
	"\n"
	"  /* The label cut to the frame's width, as the writer cut it. */\n"
	"  function fit(it, width) {\n"
	"    if (!it.chars)\n"
	"      it.chars = Array.from(it.label);\n"
	"    var room = Math.floor((width - 6) / CHAR);\n"
	"    if (it.chars.length <= room)\n"
	"      it.text.textContent = it.label;\n"
	"    else if (room >= 3)\n"
	"      it.text.textContent = it.chars.slice(0, room - 2).join(\"\") + \"..\";\n"
	"    else\n"
	"      it.text.textContent = \"\";\n"
	"  }\n"
	"\n"
	"  function place(it, x, width) {\n"
	"    it.rect.setAttribute(\"x\", x);\n"
	"    it.rect.setAttribute(\"width\", width);\n"
	"    it.text.setAttribute(\"x\", x + 3);\n"
	"    fit(it, width);\n"
	"  }\n"
	"\n"
	"  function show(it, on, dim) {\n"
	"    it.g.classList.toggle(\"hide\", !on);\n"
	"    it.g.classList.toggle(\"dim\", !!dim);\n"
	"  }\n"
	"\n"
	"  function zoom(z) {\n"
	"    frames.forEach(function (it) {\n"
	"      if (it.d < z.d && it.s <= z.s && it.s + it.w >= z.s + z.w) {\n"
	"        show(it, true, true);\n"
	"        place(it, PAD, AVAIL);\n"
	"      } else if (it.d >= z.d && it.s >= z.s && it.s + it.w <= z.s + z.w) {\n"
	"        show(it, true, false);\n"
	"        place(it, PAD + (it.s - z.s) / z.w * AVAIL, it.w / z.w * AVAIL);\n"
	"      } else {\n"
	"        show(it, false, false);\n"
	"      }\n"
	"    });\n"
	"    zoomed = z;\n"
	"    unzoomBtn.classList.remove(\"hide\");\n"
	"  }\n"
	"\n"
	"  function unzoom() {\n"
	"    frames.forEach(function (it) {\n"
	"      show(it, true, false);\n"
	"      place(it, PAD + it.s / TOTAL * AVAIL, it.w / TOTAL * AVAIL);\n"
	"    });\n"
	"    zoomed = null;\n"
	"    unzoomBtn.classList.add(\"hide\");\n"
	"  }\n"
	"\n"
	"  function clearSearch() {\n"
	"    frames.forEach(function (it) {\n"
	"      it.rect.setAttribute(\"fill\", it.fill);\n"
	"      it.g.classList.remove(\"match\");\n"
	"    });\n"
	"    term = \"\";\n"
	"    matched.textContent = \"\";\n"
	"    matched.classList.add(\"hide\");\n"
	"    searchBtn.textContent = \"Search\";\n"
	"  }\n"
	"\n"
	"  /* A regular expression, or the string itself when it is not one. */\n"
	"  function search(s) {\n"
	"    clearSearch();\n"
	"    if (!s)\n"
	"      return;\n"
	"    var re;\n"
	"    try {\n"
	"      re = new RegExp(s);\n"
	"    } catch (err) {\n"
	"      re = new RegExp(s.replace(/[.*+?^${}()|[\\]\\\\\\/]/g, \"\\\\$&\"));\n"
	"    }\n"
	"    var spans = [];\n"
	"    frames.forEach(function (it) {\n"
	"      if (it.d === 0 || !re.test(it.label))\n"
	"        return;\n"
	"      it.rect.setAttribute(\"fill\", MATCH);\n"
	"      it.g.classList.add(\"match\");\n"
	"      spans.push([it.s, it.s + it.w]);\n"
	"    });\n"
	"    /* A match inside another match counts once. */\n"
	"    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
	"    var sum = 0, end = -1;\n"
	"    spans.forEach(function (sp) {\n"
	"      var from = Math.max(sp[0], end);\n"
	"      if (sp[1] > from) {\n"
	"        sum += sp[1] - from;\n"
	"        end = sp[1];\n"
	"      }\n"
	"    });\n"
	"    term = s;\n"
	"    matched.textContent = \"Matched: \" + (TOTAL ? 100 * sum / TOTAL : 0).toFixed(1) + \"%\";\n"
	"    matched.classList.remove(\"hide\");\n"
	"    searchBtn.textContent = \"Reset Search\";\n"
	"  }\n"
	"\n"
	"  function ask() {\n"
	"    var s = window.prompt(\"Search frames (regular expression):\", term);\n"
	"    if (s !== null)\n"
	"      search(s);\n"
	"  }\n"
	"\n"
	"  if (group) {\n"
	"    group.addEventListener(\"mouseover\", function (e) {\n"
	"      var it = itemOf(e.target);\n"
	"      if (it)\n"
	"        details.textContent = it.info.split(\"\\n\").join(\"  |  \");\n"
	"    });\n"
	"    group.addEventListener(\"mouseout\", function () {\n"
	"      details.textContent = \" \";\n"
	"    });\n"
	"    group.addEventListener(\"click\", function (e) {\n"
	"      var it = itemOf(e.target);\n"
	"      if (it && it.d === 0)\n"
	"        unzoom();\n"
	"      else if (it)\n"
	"        zoom(it);\n"
	"    });\n"
	"  }\n"
	"  unzoomBtn.addEventListener(\"click\", unzoom);\n"
	"  searchBtn.addEventListener(\"click\", function () {\n"
	"    if (term)\n"
	"      clearSearch();\n"
	"    else\n"
	"      ask();\n"
	"  });\n"
	"  window.addEventListener(\"keydown\", function (e) {\n"
	"    if ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.key === \"F\")) {\n"
	"      e.preventDefault();\n"
	"      ask();\n"
	"    } else if (e.key === \"Escape\") {\n"
	"      clearSearch();\n"
	"      if (zoomed)\n"
	"        unzoom();\n"
	"    }\n"
	"  });\n"
	"})();\n";

static int render(struct svg *s, const struct profile *p, const char *what)
{
	const struct layout *l = s->l;
	FILE *f = s->f;
	int top = TITLE_H + (s->mode == MODE_KIND ? 0 : LEGEND_H);
	s->base_y = top + (int)(l->maxdepth + 1) * FRAME_H;
	s->height = s->base_y + FOOT_H;
	put_head(s);
	put_title(s, p, what);
	if (s->mode != MODE_KIND)
		put_legend(s);
	put_controls(s);
	fputs("<g id=\"frames\">\n", f);
	int e = 0;
	if (l->w[PROF_ROOT]) {
		e = put_frame(s, PROF_ROOT);
		for (size_t i = 0; !e && i + 1 < l->n; i++)
			if (drawn(l, l->order[i]))
				e = put_frame(s, l->order[i]);
	}
	fputs("</g>\n", f);
	if (!l->w[PROF_ROOT])
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no samples</text>\n",
			WIDTH / 2, top + 12);
	fputs("<script type=\"text/javascript\"><![CDATA[\n", f);
	fputs(script, f);
	fputs("]]></script>\n</svg>\n", f);
	if (e)
		return e;
	return ferror(f) ? -EIO : 0;
}

/* MODE_METRIC when o->color_by names a metric the events give. */
static int shade_prepare(struct svg *s)
{
	const struct layout *l = s->l;
	int m = s->o->color_by - 1;
	if (m < 0 || m >= MET_N)
		return 0;
	int roles[PROF_EVENTS_MAX];
	enum metric have[MET_N];
	for (size_t k = 0; k < l->nev; k++)
		roles[k] = profile_event(l->p, k)->role;
	size_t nm = metrics_for(roles, l->nev, have, s->where);
	int ok = 0;
	for (size_t i = 0; i < nm; i++)
		ok |= (int)have[i] == m;
	if (!ok) {
		s->no_metric = 1;
		return 0;
	}
	s->val = malloc(l->n * sizeof(*s->val));
	if (!s->val)
		return -ENOMEM;
	s->lo = INFINITY;
	s->hi = -INFINITY;
	for (uint32_t id = 0; id < l->n; id++) {
		double v;
		if (metric_value((enum metric)m, &l->cnt[(size_t)id * l->nev], s->where,
				 l->samples[id], &v) < 0)
			v = NAN;
		s->val[id] = v;
		if (!isnan(v) && drawn(l, id)) {
			s->lo = v < s->lo ? v : s->lo;
			s->hi = v > s->hi ? v : s->hi;
		}
	}
	s->met = (enum metric)m;
	s->mode = MODE_METRIC;
	return 0;
}

static int write_svg(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct profile *merged = NULL;
	if (!o->threads) {
		merged = profile_without_threads(p);
		if (!merged)
			return -ENOMEM;
		p = merged;
	}
	struct layout l;
	struct svg s = { .f = f, .o = o, .l = &l };
	int e = layout_weigh(&l, p, o->weight_event);
	if (!e)
		e = layout_place(&l);
	if (!e)
		e = shade_prepare(&s);
	if (!e)
		e = render(&s, p, "pyrometer");
	free(s.val);
	free(s.label.s);
	layout_free(&l);
	profile_free(merged);
	return e;
}

static const char *const svg_exts[] = { ".svg", NULL };
const struct writer writer_svg = { "svg", svg_exts, write_svg };

/* ---- differential ----------------------------------------------------- */

#define NO_NODE UINT32_MAX

static uint32_t child_hash(uint32_t parent, const struct prof_frame *fr)
{
	uint32_t h = strpool_hash(fr->name, strlen(fr->name));
	h = (h ^ strpool_hash(fr->file, strlen(fr->file))) * 16777619u;
	h = (h ^ (uint32_t)fr->line) * 16777619u;
	h = (h ^ (uint32_t)fr->kind) * 16777619u;
	return (h ^ parent) * 2654435761u;
}

/*
 * match[id] = the node of base at the same path as cur's node id, or
 * NO_NODE. base's nodes go in a table keyed by (parent, frame text); cur's
 * parents come before their children, so a node's parent is matched
 * before the node is looked up.
 */
static int diff_match(const struct profile *base, const struct profile *cur, uint32_t *match)
{
	size_t bn = profile_nnodes(base), cap = 16;
	while (cap < bn * 2)
		cap *= 2;
	uint32_t *slot = malloc(cap * sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	memset(slot, 0xff, cap * sizeof(*slot));
	for (uint32_t id = 1; id < bn; id++) {
		const struct prof_node *nd = profile_node(base, id);
		size_t i = child_hash(nd->parent, profile_frame_get(base, nd->frame)) & (cap - 1);
		while (slot[i] != NO_NODE)
			i = (i + 1) & (cap - 1);
		slot[i] = id;
	}
	match[PROF_ROOT] = PROF_ROOT;
	for (uint32_t id = 1; id < profile_nnodes(cur); id++) {
		const struct prof_node *nd = profile_node(cur, id);
		const struct prof_frame *fr = profile_frame_get(cur, nd->frame);
		uint32_t up = match[nd->parent];
		match[id] = NO_NODE;
		if (up == NO_NODE)
			continue;
		for (size_t i = child_hash(up, fr) & (cap - 1); slot[i] != NO_NODE;
		     i = (i + 1) & (cap - 1)) {
			const struct prof_node *b = profile_node(base, slot[i]);
			if (b->parent == up && frame_same(profile_frame_get(base, b->frame), fr)) {
				match[id] = slot[i];
				break;
			}
		}
	}
	free(slot);
	return 0;
}

/* Shares before and after, and the scale: the largest change among the
 * frames drawn, at least 0.1 pp (smaller changes never look strong). */
static int diff_prepare(struct svg *s, const struct layout *base)
{
	const struct layout *l = s->l;
	uint32_t *match = malloc(l->n * sizeof(*match));
	s->val = malloc(l->n * sizeof(*s->val));
	s->before = malloc(l->n * sizeof(*s->before));
	int e = match && s->val && s->before ? diff_match(base->p, l->p, match) : -ENOMEM;
	if (e) {
		free(match);
		return e;
	}
	s->hi = 0.1;
	for (uint32_t id = 0; id < l->n; id++) {
		uint32_t b = match[id];
		s->before[id] = b == NO_NODE ? 0 : pct(base->w[b], base->w[PROF_ROOT]);
		s->val[id] = pct(l->w[id], l->w[PROF_ROOT]) - s->before[id];
		if (id != PROF_ROOT && drawn(l, id) && fabs(s->val[id]) > s->hi)
			s->hi = fabs(s->val[id]);
	}
	s->lo = -s->hi;
	s->base = base->p;
	s->mode = MODE_DIFF;
	free(match);
	return 0;
}

/* base's weight_event for cur's: its event of the same name. */
static int base_weight_event(const struct profile *base, const struct profile *cur, int we)
{
	if (we <= 0 || (size_t)we > profile_nevents(cur))
		return 0;
	const char *name = profile_event(cur, (size_t)we - 1)->name;
	for (size_t k = 0; k < profile_nevents(base); k++)
		if (!strcmp(profile_event(base, k)->name, name))
			return (int)k + 1;
	return -EINVAL;
}

int svg_write_diff(FILE *f, const struct profile *base, const struct profile *cur,
		   const struct output_opts *o)
{
	int bw = base_weight_event(base, cur, o->weight_event);
	if (bw < 0)
		return bw;
	struct profile *mb = NULL, *mc = NULL;
	if (!o->threads) {
		mb = profile_without_threads(base);
		mc = profile_without_threads(cur);
		if (!mb || !mc) {
			profile_free(mb);
			profile_free(mc);
			return -ENOMEM;
		}
		base = mb;
		cur = mc;
	}
	struct layout lb = { 0 }, lc = { 0 };
	struct svg s = { .f = f, .o = o, .l = &lc };
	int e = layout_weigh(&lb, base, bw);
	if (!e)
		e = layout_weigh(&lc, cur, o->weight_event);
	if (!e)
		e = layout_place(&lc);
	if (!e)
		e = diff_prepare(&s, &lb);
	if (!e)
		e = render(&s, cur, "pyrometer diff");
	free(s.val);
	free(s.before);
	free(s.label.s);
	layout_free(&lc);
	layout_free(&lb);
	profile_free(mc);
	profile_free(mb);
	return e;
}
