/* model.c - the live view's rows: aggregation, order, filter, callers and callees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pyrometer/evspec.h"

static const struct tui_col_info fixed_cols[] = {
	[TUI_COL_OWN_PCT] = { "OWN%", "share of the samples whose innermost frame is the row", 6 },
	[TUI_COL_TOTAL_PCT] = { "TOTAL%", "share of the samples with the row anywhere on the stack", 6 },
	[TUI_COL_OWN_TIME] = { "OWNTIME", "time in the row itself (a clock event, else samples / Hz)", 7 },
	[TUI_COL_TOTAL_TIME] = { "TOTTIME", "time in the row and everything it called", 7 },
};
static const struct tui_col_info event_col = { NULL, "the event's own count (K, M, G)", 7 };
static const struct tui_col_info metric_col = { NULL, "a metric over the row's total counts", 6 };
static const struct tui_col_info name_col = { "FUNCTION (FILE:LINE)", "where: Python file and line, "
					      "or the native module", 20 };

const struct tui_col_info *tui_col_info(int col)
{
	if (col >= 0 && col < TUI_COL_EVENT)
		return &fixed_cols[col];
	if (col >= TUI_COL_EVENT && col < TUI_COL_METRIC)
		return &event_col;
	if (col >= TUI_COL_METRIC && col < TUI_COL_NAME)
		return &metric_col;
	return col == TUI_COL_NAME ? &name_col : NULL;
}

/* ---- keys: the frames as the view merges them ---------------------------- */

struct key {
	const char *name, *file;
	int line, kind;
};

struct keyset {
	struct key *v;
	uint32_t n;
	uint32_t *slots;          /* key + 1, 0 = empty */
	size_t mask;
};

static uint64_t key_hash(const struct key *k)
{
	/* Names and files are interned: their addresses identify them. */
	uint64_t h = (uint64_t)(uintptr_t)k->name * 0x9e3779b97f4a7c15ull;
	h ^= (uint64_t)(uintptr_t)k->file * 0xc2b2ae3d27d4eb4full;
	h ^= ((uint64_t)(uint32_t)k->line << 3 | (uint64_t)k->kind) * 0x165667b19e3779f9ull;
	return h ^ (h >> 29);
}

static uint32_t key_intern(struct keyset *s, const struct key *k)
{
	for (size_t i = key_hash(k) & s->mask;; i = (i + 1) & s->mask) {
		uint32_t at = s->slots[i];
		if (!at) {
			s->v[s->n] = *k;
			s->slots[i] = ++s->n;
			return s->n - 1;
		}
		const struct key *o = &s->v[at - 1];
		if (o->name == k->name && o->file == k->file && o->line == k->line &&
		    o->kind == k->kind)
			return at - 1;
	}
}

/* A native frame without a symbol: "[module+0x1234]", file = module. */
static int is_address(const struct prof_frame *f)
{
	size_t n = strlen(f->name);
	return f->kind == PROF_NATIVE && f->file[0] && n > 4 && f->name[0] == '[' &&
	       f->name[n - 1] == ']' && strstr(f->name, "+0x");
}

/* Names for the keys that stand for a module's addresses: "[module]". */
static int name_modules(struct tui_rows *r, struct keyset *ks)
{
	for (uint32_t key = 0; key < ks->n; key++) {
		struct key *k = &ks->v[key];
		if (k->name)
			continue;
		char **names = realloc(r->names, (r->nnames + 1) * sizeof(*names));
		if (!names)
			return -ENOMEM;
		r->names = names;
		if (asprintf(&r->names[r->nnames], "[%s]", k->file) < 0)
			return -ENOMEM;
		k->name = r->names[r->nnames++];
		k->file = "";
	}
	return 0;
}

/* keymap[frame] = the frame's key, UINT32_MAX for frames that are not
 * levels of the view (thread and process roots, native frames when off). */
static int map_frames(const struct profile *p, const struct tui_view *v, uint32_t *keymap,
		      struct keyset *ks)
{
	size_t nf = profile_nframes(p), cap = 16;
	while (cap < nf * 2)
		cap *= 2;
	ks->v = malloc((nf ? nf : 1) * sizeof(*ks->v));
	ks->slots = calloc(cap, sizeof(*ks->slots));
	ks->mask = cap - 1;
	ks->n = 0;
	if (!ks->v || !ks->slots)
		return -ENOMEM;
	for (uint32_t id = 0; id < nf; id++) {
		const struct prof_frame *f = profile_frame_get(p, id);
		if (f->kind == PROF_THREAD || f->kind == PROF_PROCESS ||
		    (f->kind == PROF_NATIVE && !v->native)) {
			keymap[id] = UINT32_MAX;
			continue;
		}
		struct key k = { f->name, f->file, f->line, f->kind };
		if (f->kind == PROF_PYTHON && !v->lines)
			k.line = -1;
		if (!v->lines && is_address(f))
			k.name = NULL;  /* one key per module; named in name_modules */
		keymap[id] = key_intern(ks, &k);
	}
	return 0;
}

/* The thread of every node: the TID of the thread root above it, 0 for
 * none. A node's parent was made before it, so one pass in id order does. */
static pid_t *node_threads(const struct profile *p)
{
	size_t nn = profile_nnodes(p);
	pid_t *tid = calloc(nn ? nn : 1, sizeof(*tid));
	if (!tid)
		return NULL;
	for (uint32_t id = 1; id < nn; id++) {
		const struct prof_node *n = profile_node(p, id);
		const struct prof_frame *f = profile_frame_get(p, n->frame);
		tid[id] = f->kind == PROF_THREAD ? (pid_t)f->line :
			  n->parent < id ? tid[n->parent] : 0;
	}
	return tid;
}

/* Whether node id holds anything (samples or counts), and is in view. */
static int node_counts(const struct profile *p, const pid_t *tid, pid_t want, uint32_t id,
		       const uint64_t **vals)
{
	const struct prof_node *n = profile_node(p, id);
	size_t nev = profile_nevents(p);
	*vals = profile_node_counts(p, id);
	if (want && tid[id] != want)
		return 0;
	if (n->self)
		return 1;
	for (size_t k = 0; k < nev && *vals; k++)
		if ((*vals)[k])
			return 1;
	return 0;
}

/* ---- building ------------------------------------------------------------ */

static void add_vals(uint64_t *to, const uint64_t *vals, size_t nev)
{
	for (size_t k = 0; vals && k < nev; k++)
		to[k] += vals[k];
}

/* Self and total (each stack once per key) of every key. */
static int accumulate(struct tui_rows *r, const pid_t *tid, uint64_t *self, uint64_t *total)
{
	const struct profile *p = r->p;
	size_t nn = profile_nnodes(p), nev = r->nev;
	uint32_t *mark = malloc((r->nkeys ? r->nkeys : 1) * sizeof(*mark));
	if (!mark)
		return -ENOMEM;
	memset(mark, 0xff, (r->nkeys ? r->nkeys : 1) * sizeof(*mark));
	for (uint32_t id = 1; id < nn; id++) {
		const uint64_t *vals;
		if (!node_counts(p, tid, r->view.tid, id, &vals))
			continue;
		uint64_t s = profile_node(p, id)->self;
		r->samples += s;
		add_vals(r->evtotal, vals, nev);
		int leaf = 1;
		for (uint32_t k = id; k != PROF_ROOT; k = profile_node(p, k)->parent) {
			uint32_t key = r->keymap[profile_node(p, k)->frame];
			if (key == UINT32_MAX)
				continue;
			if (leaf) {
				self[key] += s;
				add_vals(&r->selfv[(size_t)key * nev], vals, nev);
				leaf = 0;
			}
			if (mark[key] == id)
				continue;   /* recursion: once per stack */
			mark[key] = id;
			total[key] += s;
			add_vals(&r->totalv[(size_t)key * nev], vals, nev);
		}
	}
	free(mark);
	return 0;
}

static void make_rows(struct tui_rows *r, const struct keyset *ks, const uint64_t *self,
		      const uint64_t *total)
{
	static const uint64_t none[1];
	size_t nev = r->nev;
	for (uint32_t key = 0; key < r->nkeys; key++) {
		const uint64_t *sv = nev ? &r->selfv[(size_t)key * nev] : none;
		const uint64_t *tv = nev ? &r->totalv[(size_t)key * nev] : none;
		int any = total[key] != 0;
		for (size_t k = 0; k < nev && !any; k++)
			any = tv[k] != 0;
		if (!any)
			continue;
		const struct key *kk = &ks->v[key];
		struct tui_row *row = &r->v[r->n];
		*row = (struct tui_row){ .name = kk->name, .file = kk->file, .line = kk->line,
					 .kind = kk->kind, .key = key, .self = self[key],
					 .total = total[key], .selfv = sv, .totalv = tv };
		for (size_t i = 0; i < r->nmet; i++) {
			enum metric m = r->met[i];
			if (metric_value(m, tv, r->where, total[key], &row->met[m]) == 0)
				row->met_ok |= 1u << m;
		}
		r->key_row[key] = (uint32_t)r->n++;
	}
}

static void events_of(struct tui_rows *r)
{
	r->nev = profile_nevents(r->p);
	r->clock_ev = -1;
	for (size_t k = 0; k < r->nev; k++) {
		r->roles[k] = profile_event(r->p, k)->role;
		if (r->clock_ev < 0 && (r->roles[k] == EVR_CPU_CLOCK || r->roles[k] == EVR_TASK_CLOCK))
			r->clock_ev = (int)k;
	}
	r->nmet = metrics_for(r->roles, r->nev, r->met, r->where);
}

int tui_rows_build(const struct profile *p, const struct tui_view *v, struct tui_rows *out)
{
	memset(out, 0, sizeof(*out));
	out->p = p;
	out->view = *v;
	out->hz = v->hz;
	events_of(out);
	size_t nf = profile_nframes(p), nev = out->nev;
	struct keyset ks = { 0 };
	uint64_t *self = NULL, *total = NULL;
	pid_t *tid = NULL;
	int err = -ENOMEM;

	out->keymap = malloc((nf ? nf : 1) * sizeof(*out->keymap));
	if (!out->keymap || map_frames(p, v, out->keymap, &ks) < 0)
		goto done;
	out->nkeys = ks.n;
	if (name_modules(out, &ks) < 0)
		goto done;
	size_t nk = ks.n ? ks.n : 1;
	self = calloc(nk, sizeof(*self));
	total = calloc(nk, sizeof(*total));
	out->selfv = calloc(nk * (nev ? nev : 1), sizeof(*out->selfv));
	out->totalv = calloc(nk * (nev ? nev : 1), sizeof(*out->totalv));
	out->evtotal = calloc(nev ? nev : 1, sizeof(*out->evtotal));
	out->v = malloc(nk * sizeof(*out->v));
	out->key_row = malloc(nk * sizeof(*out->key_row));
	tid = node_threads(p);
	if (!self || !total || !out->selfv || !out->totalv || !out->evtotal || !out->v ||
	    !out->key_row || !tid)
		goto done;
	memset(out->key_row, 0xff, nk * sizeof(*out->key_row));
	if (accumulate(out, tid, self, total) < 0)
		goto done;
	make_rows(out, &ks, self, total);
	for (size_t i = 0; i < out->nmet; i++) {
		enum metric m = out->met[i];
		if (metric_value(m, out->evtotal, out->where, out->samples,
				 &out->metric_total[m]) == 0)
			out->metric_total_ok |= 1u << m;
	}
	err = 0;
done:
	free(tid);
	free(total);
	free(self);
	free(ks.slots);
	free(ks.v);
	if (err)
		tui_rows_free(out);
	return err;
}

void tui_rows_free(struct tui_rows *r)
{
	free(r->v);
	free(r->order);
	free(r->evtotal);
	free(r->keymap);
	free(r->key_row);
	free(r->selfv);
	free(r->totalv);
	for (size_t i = 0; i < r->nnames; i++)
		free(r->names[i]);
	free(r->names);
	memset(r, 0, sizeof(*r));
}

/* ---- order and filter ---------------------------------------------------- */

const char *tui_row_label(const struct tui_row *row, char *buf, size_t len)
{
	if (row->kind == PROF_PYTHON && row->line >= 0)
		snprintf(buf, len, "%s (%s:%d)", row->name, row->file, row->line);
	else if ((row->kind == PROF_PYTHON || row->kind == PROF_NATIVE) && row->file[0])
		snprintf(buf, len, "%s (%s)", row->name, row->file);
	else
		snprintf(buf, len, "%s", row->name);
	return buf;
}

int tui_col_valid(const struct tui_rows *r, int col)
{
	if (col >= TUI_COL_EVENT && col < TUI_COL_METRIC)
		return (size_t)(col - TUI_COL_EVENT) < r->nev;
	if (col >= TUI_COL_METRIC && col < TUI_COL_NAME) {
		for (size_t i = 0; i < r->nmet; i++)
			if ((int)r->met[i] == col - TUI_COL_METRIC)
				return 1;
		return 0;
	}
	return col >= 0 && col < TUI_COL_N;
}

double tui_row_time(const struct tui_rows *r, const struct tui_row *row, int total)
{
	if (r->clock_ev >= 0)
		return (double)(total ? row->totalv : row->selfv)[r->clock_ev] / 1e9;
	uint64_t n = total ? row->total : row->self;
	return r->hz > 0 ? (double)n / r->hz : 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return (a < b) - (a > b);   /* larger first */
}

static int cmp_name(const struct tui_row *x, const struct tui_row *y)
{
	int c = strcmp(x->name, y->name);
	if (!c)
		c = strcmp(x->file, y->file);
	if (!c)
		c = (x->line > y->line) - (x->line < y->line);
	if (!c)
		c = (x->kind > y->kind) - (x->kind < y->kind);
	return c;
}

struct sort_ctx {
	const struct tui_rows *r;
	const struct tui_order *o;
};

/* The column's own order, each column's natural direction (numbers
 * largest first, names A to Z); 0 for a tie. */
static int cmp_col(const struct tui_rows *r, int col, const struct tui_row *x,
		   const struct tui_row *y)
{
	int k = col - TUI_COL_EVENT, m = col - TUI_COL_METRIC;
	switch (col) {
	case TUI_COL_OWN_PCT:
		return cmp_u64(x->self, y->self);
	case TUI_COL_TOTAL_PCT:
		return cmp_u64(x->total, y->total);
	case TUI_COL_OWN_TIME:
	case TUI_COL_TOTAL_TIME:
		if (r->clock_ev < 0)
			return col == TUI_COL_OWN_TIME ? cmp_u64(x->self, y->self) :
							 cmp_u64(x->total, y->total);
		k = r->clock_ev;
		return col == TUI_COL_OWN_TIME ? cmp_u64(x->selfv[k], y->selfv[k]) :
						 cmp_u64(x->totalv[k], y->totalv[k]);
	case TUI_COL_NAME:
		return cmp_name(x, y);
	}
	if (col >= TUI_COL_EVENT && col < TUI_COL_METRIC && (size_t)k < r->nev) {
		int c = cmp_u64(x->selfv[k], y->selfv[k]);
		return c ? c : cmp_u64(x->totalv[k], y->totalv[k]);
	}
	if (col >= TUI_COL_METRIC && col < TUI_COL_NAME) {
		int hx = (x->met_ok >> m) & 1, hy = (y->met_ok >> m) & 1;
		if (!hx || !hy)
			return 0;   /* the caller puts rows without it last */
		return (x->met[m] < y->met[m]) - (x->met[m] > y->met[m]);
	}
	return 0;
}

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;
	const struct tui_row *x = &c->r->v[*(const size_t *)a], *y = &c->r->v[*(const size_t *)b];
	int col = c->o->sort;
	if (col >= TUI_COL_METRIC && col < TUI_COL_NAME) {
		/* Rows without the metric go last, whichever the direction. */
		int m = col - TUI_COL_METRIC;
		int hx = (x->met_ok >> m) & 1, hy = (y->met_ok >> m) & 1;
		if (hx != hy)
			return hy - hx;
	}
	int d = cmp_col(c->r, col, x, y);
	if (d)
		return c->o->reverse ? -d : d;
	/* Ties: the default order, never reversed, so the list is stable. */
	if ((d = cmp_u64(x->self, y->self)) || (d = cmp_u64(x->total, y->total)))
		return d;
	return cmp_name(x, y);
}

int tui_rows_select(struct tui_rows *r, const struct tui_order *o)
{
	size_t *order = realloc(r->order, (r->n ? r->n : 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	r->order = order;
	r->nshown = 0;
	const char *want = o->filter && o->filter[0] ? o->filter : NULL;
	char label[1024];
	for (size_t i = 0; i < r->n; i++) {
		if (want && !strcasestr(tui_row_label(&r->v[i], label, sizeof(label)), want))
			continue;
		order[r->nshown++] = i;
	}
	struct tui_order ord = *o;
	if (!tui_col_valid(r, ord.sort))
		ord.sort = TUI_COL_OWN_PCT;
	struct sort_ctx ctx = { r, &ord };
	qsort_r(order, r->nshown, sizeof(*order), cmp_rows, &ctx);
	return 0;
}

/* ---- callers and callees ------------------------------------------------- */

static int cmp_rel(const void *a, const void *b)
{
	const struct tui_rel *x = a, *y = b;
	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return (x->row > y->row) - (x->row < y->row);
}

/* The weights (index nkeys: the edge) as a list, heaviest first. */
static int rel_list(const struct tui_rows *r, const uint64_t *w, struct tui_rel **out,
		    size_t *n)
{
	*n = 0;
	*out = malloc((r->nkeys + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (uint32_t key = 0; key <= r->nkeys; key++) {
		if (!w[key])
			continue;
		size_t row = key == r->nkeys ? TUI_REL_EDGE : r->key_row[key];
		if (row == UINT32_MAX)
			continue;   /* cannot happen: a level in view has a row */
		(*out)[(*n)++] = (struct tui_rel){ row, w[key] };
	}
	qsort(*out, *n, sizeof(**out), cmp_rel);
	return 0;
}

/* The node's path of keys, root first, into path; its length. */
static size_t key_path(const struct tui_rows *r, uint32_t id, uint32_t *path)
{
	size_t n = 0;
	for (uint32_t k = id; k != PROF_ROOT; k = profile_node(r->p, k)->parent) {
		uint32_t key = r->keymap[profile_node(r->p, k)->frame];
		if (key != UINT32_MAX)
			path[n++] = key;
	}
	for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
		uint32_t t = path[a];
		path[a] = path[b];
		path[b] = t;
	}
	return n;
}

/* Walk every stack in view through the row: weights of callers and callees. */
static int related_walk(const struct tui_rows *r, uint32_t want, int by_samples, uint64_t *wc,
			uint64_t *we, uint64_t *total)
{
	const struct profile *p = r->p;
	size_t nn = profile_nnodes(p), nk = r->nkeys + 1, depth = 1;
	for (uint32_t id = 1; id < nn; id++)
		if (profile_node(p, id)->depth > depth)
			depth = profile_node(p, id)->depth;
	uint32_t *path = malloc(depth * sizeof(*path));
	uint32_t *mc = malloc(nk * sizeof(*mc)), *me = malloc(nk * sizeof(*me));
	pid_t *tid = r->view.tid ? node_threads(p) : NULL;
	int err = -ENOMEM;
	if (!path || !mc || !me || (r->view.tid && !tid))
		goto done;
	memset(mc, 0xff, nk * sizeof(*mc));
	memset(me, 0xff, nk * sizeof(*me));
	for (uint32_t id = 1; id < nn; id++) {
		const uint64_t *vals;
		if (!node_counts(p, tid, r->view.tid, id, &vals))
			continue;
		uint64_t w = by_samples ? profile_node(p, id)->self : vals ? vals[0] : 0;
		if (!w)
			continue;
		size_t n = key_path(r, id, path);
		int seen = 0;
		for (size_t i = 0; i < n; i++) {
			if (path[i] != want)
				continue;
			seen = 1;
			uint32_t up = i ? path[i - 1] : r->nkeys;
			uint32_t down = i + 1 < n ? path[i + 1] : r->nkeys;
			if (mc[up] != id)
				mc[up] = id, wc[up] += w;
			if (me[down] != id)
				me[down] = id, we[down] += w;
		}
		*total += seen ? w : 0;
	}
	err = 0;
done:
	free(tid);
	free(me);
	free(mc);
	free(path);
	return err;
}

int tui_related_build(const struct tui_rows *r, size_t row, struct tui_related *out)
{
	memset(out, 0, sizeof(*out));
	if (row >= r->n)
		return -EINVAL;
	const struct tui_row *x = &r->v[row];
	int by_samples = x->total > 0;
	if (!by_samples && r->nev == 0)
		return 0;
	size_t nk = (size_t)r->nkeys + 1;
	uint64_t *wc = calloc(nk, sizeof(*wc)), *we = calloc(nk, sizeof(*we));
	int err = -ENOMEM;
	if (!wc || !we)
		goto done;
	if ((err = related_walk(r, x->key, by_samples, wc, we, &out->weight)) < 0 ||
	    (err = rel_list(r, wc, &out->callers, &out->ncallers)) < 0 ||
	    (err = rel_list(r, we, &out->callees, &out->ncallees)) < 0)
		goto done;
	err = 0;
done:
	free(we);
	free(wc);
	if (err)
		tui_related_free(out);
	return err;
}

void tui_related_free(struct tui_related *rel)
{
	free(rel->callers);
	free(rel->callees);
	memset(rel, 0, sizeof(*rel));
}

/* ---- human units --------------------------------------------------------- */

void tui_fmt_time(char *out, size_t cap, double s)
{
	if (s <= 0)
		snprintf(out, cap, "0");
	else if (s < 1e-3)
		snprintf(out, cap, "%.0fus", s * 1e6);
	else if (s < 1)
		snprintf(out, cap, "%.1fms", s * 1e3);
	else if (s < 100)
		snprintf(out, cap, "%.2fs", s);
	else if (s < 3600)
		snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else if (s < 3600 * 1000.0)
		snprintf(out, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
	else
		snprintf(out, cap, "%.0fh", s / 3600);
}

void tui_fmt_count(char *out, size_t cap, uint64_t v, int role)
{
	double d = (double)v;
	if (role == EVR_CPU_CLOCK || role == EVR_TASK_CLOCK)
		tui_fmt_time(out, cap, d / 1e9);
	else if (v < 10000)
		snprintf(out, cap, "%llu", (unsigned long long)v);
	else if (d < 999.95e3)
		snprintf(out, cap, "%.1fK", d / 1e3);
	else if (d < 999.995e6)
		snprintf(out, cap, "%.2fM", d / 1e6);
	else if (d < 999.995e9)
		snprintf(out, cap, "%.2fG", d / 1e9);
	else if (d < 999.995e12)
		snprintf(out, cap, "%.2fT", d / 1e12);
	else
		snprintf(out, cap, "%.1fP", d / 1e15);
}

void tui_fmt_metric(char *out, size_t cap, double v)
{
	if (v < 100)
		snprintf(out, cap, "%.2f", v);
	else if (v < 99999.5)
		snprintf(out, cap, "%.0f", v);
	else if (v < 999.95e6)
		snprintf(out, cap, "%.1fM", v / 1e6);
	else
		snprintf(out, cap, "%.1e", v);
}
