/* profile.c - interned frames and the stack trie. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/profile.h"

struct profile {
	struct prof_frame *frames;
	size_t nframes, frames_cap;
	uint32_t *frame_slots;       /* hash of frames: id+1, 0 = empty */
	size_t frame_slots_cap;

	struct prof_node *nodes;
	size_t nnodes, nodes_cap;
	uint32_t *child_slots;       /* hash of (parent, frame) -> node id+1 */
	size_t child_slots_cap;

	uint64_t samples;

	struct prof_event events[PROF_EVENTS_MAX];
	size_t nev;
	uint64_t *counts;            /* nodes_cap * nev: each node's own counts */
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t frame_hash(const char *name, const char *file, int line, int kind)
{
	return mix((uint64_t)(uintptr_t)name * 31 + (uint64_t)(uintptr_t)file * 7 +
		   (uint64_t)(uint32_t)line * 131 + (uint64_t)kind);
}

static uint64_t child_hash(uint32_t parent, uint32_t frame)
{
	return mix(((uint64_t)parent << 32) | frame);
}

struct profile *profile_new_events(const struct prof_event *ev, size_t nev)
{
	if (nev > PROF_EVENTS_MAX)
		return NULL;
	struct profile *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->nodes_cap = 1024;
	p->nodes = calloc(p->nodes_cap, sizeof(*p->nodes));
	p->nev = nev;
	if (nev) {
		memcpy(p->events, ev, nev * sizeof(*ev));
		p->counts = calloc(p->nodes_cap * nev, sizeof(*p->counts));
	}
	if (!p->nodes || (nev && !p->counts)) {
		free(p->nodes);
		free(p->counts);
		free(p);
		return NULL;
	}
	p->nnodes = 1;   /* the root */
	return p;
}

struct profile *profile_new(void)
{
	return profile_new_events(NULL, 0);
}

size_t profile_nevents(const struct profile *p)
{
	return p->nev;
}

const struct prof_event *profile_event(const struct profile *p, size_t k)
{
	return k < p->nev ? &p->events[k] : NULL;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	free(p->frames);
	free(p->frame_slots);
	free(p->nodes);
	free(p->child_slots);
	free(p->counts);
	free(p);
}

/* Rebuild a hash of ids+1 at a new size; key(i) gives an entry's hash. */
static uint32_t *rehash(size_t n, size_t cap, uint64_t (*key)(const struct profile *, uint32_t),
			const struct profile *p)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return NULL;
	for (uint32_t id = 0; id < n; id++) {
		size_t i = key(p, id) & (cap - 1);
		while (slots[i])
			i = (i + 1) & (cap - 1);
		slots[i] = id + 1;
	}
	return slots;
}

static uint64_t frame_key(const struct profile *p, uint32_t id)
{
	const struct prof_frame *f = &p->frames[id];
	return frame_hash(f->name, f->file, f->line, f->kind);
}

static uint64_t node_key(const struct profile *p, uint32_t id)
{
	return child_hash(p->nodes[id].parent, p->nodes[id].frame);
}

uint32_t profile_frame(struct profile *p, const char *name, const char *file, int line, int kind)
{
	if ((p->nframes + 1) * 2 > p->frame_slots_cap) {
		size_t cap = p->frame_slots_cap ? p->frame_slots_cap * 2 : 256;
		uint32_t *slots = rehash(p->nframes, cap, frame_key, p);
		if (!slots)
			return UINT32_MAX;
		free(p->frame_slots);
		p->frame_slots = slots;
		p->frame_slots_cap = cap;
	}
	size_t mask = p->frame_slots_cap - 1;
	size_t i = frame_hash(name, file, line, kind) & mask;
	for (; p->frame_slots[i]; i = (i + 1) & mask) {
		const struct prof_frame *f = &p->frames[p->frame_slots[i] - 1];
		if (f->name == name && f->file == file && f->line == line && f->kind == kind)
			return p->frame_slots[i] - 1;
	}
	if (p->nframes == p->frames_cap) {
		size_t cap = p->frames_cap ? p->frames_cap * 2 : 256;
		struct prof_frame *nv = realloc(p->frames, cap * sizeof(*nv));
		if (!nv)
			return UINT32_MAX;
		p->frames = nv;
		p->frames_cap = cap;
	}
	uint32_t id = (uint32_t)p->nframes++;
	p->frames[id] = (struct prof_frame){ name, file, line, kind };
	p->frame_slots[i] = id + 1;
	return id;
}

static uint32_t child(struct profile *p, uint32_t parent, uint32_t frame)
{
	if ((p->nnodes + 1) * 2 > p->child_slots_cap) {
		size_t cap = p->child_slots_cap ? p->child_slots_cap * 2 : 1024;
		uint32_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return UINT32_MAX;
		for (uint32_t id = 1; id < p->nnodes; id++) {
			size_t i = node_key(p, id) & (cap - 1);
			while (slots[i])
				i = (i + 1) & (cap - 1);
			slots[i] = id + 1;
		}
		free(p->child_slots);
		p->child_slots = slots;
		p->child_slots_cap = cap;
	}
	size_t mask = p->child_slots_cap - 1;
	size_t i = child_hash(parent, frame) & mask;
	for (; p->child_slots[i]; i = (i + 1) & mask) {
		const struct prof_node *n = &p->nodes[p->child_slots[i] - 1];
		if (n->parent == parent && n->frame == frame)
			return p->child_slots[i] - 1;
	}
	if (p->nnodes == p->nodes_cap) {
		size_t cap = p->nodes_cap * 2;
		struct prof_node *nv = realloc(p->nodes, cap * sizeof(*nv));
		if (!nv)
			return UINT32_MAX;
		p->nodes = nv;
		if (p->nev) {
			uint64_t *nc = realloc(p->counts, cap * p->nev * sizeof(*nc));
			if (!nc)
				return UINT32_MAX;
			memset(nc + p->nodes_cap * p->nev, 0,
			       (cap - p->nodes_cap) * p->nev * sizeof(*nc));
			p->counts = nc;
		}
		p->nodes_cap = cap;
	}
	uint32_t id = (uint32_t)p->nnodes++;
	p->nodes[id] = (struct prof_node){ parent, frame, p->nodes[parent].depth + 1, 0 };
	p->child_slots[i] = id + 1;
	return id;
}

uint32_t profile_add_counts(struct profile *p, const uint32_t *frames, size_t n,
			    uint64_t count, const uint64_t *vals)
{
	uint32_t node = PROF_ROOT;
	for (size_t i = 0; i < n; i++) {
		node = child(p, node, frames[i]);
		if (node == UINT32_MAX)
			return UINT32_MAX;
	}
	p->nodes[node].self += count;
	p->samples += count;
	if (vals)
		for (size_t k = 0; k < p->nev; k++)
			p->counts[(size_t)node * p->nev + k] += vals[k];
	return node;
}

uint32_t profile_child(struct profile *p, uint32_t parent, uint32_t frame)
{
	if (parent >= p->nnodes || frame >= p->nframes)
		return UINT32_MAX;
	return child(p, parent, frame);
}

void profile_node_add(struct profile *p, uint32_t id, uint64_t count, const uint64_t *vals)
{
	if (id >= p->nnodes)
		return;
	p->nodes[id].self += count;
	p->samples += count;
	if (vals)
		for (size_t k = 0; k < p->nev; k++)
			p->counts[(size_t)id * p->nev + k] += vals[k];
}

uint32_t profile_add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count)
{
	return profile_add_counts(p, frames, n, count, NULL);
}

const uint64_t *profile_node_counts(const struct profile *p, uint32_t id)
{
	return p->nev && id < p->nnodes ? &p->counts[(size_t)id * p->nev] : NULL;
}

/* Does node id carry anything: samples or counts? */
static int node_has(const struct profile *p, uint32_t id)
{
	if (p->nodes[id].self)
		return 1;
	for (size_t k = 0; k < p->nev; k++)
		if (p->counts[(size_t)id * p->nev + k])
			return 1;
	return 0;
}

void profile_count_totals(const struct profile *p, uint64_t *out)
{
	for (size_t k = 0; k < p->nev; k++)
		out[k] = 0;
	for (uint32_t id = 1; id < p->nnodes; id++)
		for (size_t k = 0; k < p->nev; k++)
			out[k] += p->counts[(size_t)id * p->nev + k];
}

uint64_t profile_samples(const struct profile *p)
{
	return p->samples;
}

size_t profile_nframes(const struct profile *p)
{
	return p->nframes;
}

const struct prof_frame *profile_frame_get(const struct profile *p, uint32_t id)
{
	return id < p->nframes ? &p->frames[id] : NULL;
}

size_t profile_nnodes(const struct profile *p)
{
	return p->nnodes;
}

const struct prof_node *profile_node(const struct profile *p, uint32_t id)
{
	return id < p->nnodes ? &p->nodes[id] : NULL;
}

int profile_totals_counts(const struct profile *p, uint64_t **self_out, uint64_t **total_out,
			  uint64_t **selfv_out, uint64_t **totalv_out)
{
	size_t nf = p->nframes ? p->nframes : 1, nev = p->nev;
	uint64_t *self = calloc(nf, sizeof(*self));
	uint64_t *total = calloc(nf, sizeof(*total));
	uint32_t *stamp = calloc(nf, sizeof(*stamp));
	uint64_t *selfv = nev ? calloc(nf * nev, sizeof(*selfv)) : NULL;
	uint64_t *totalv = nev ? calloc(nf * nev, sizeof(*totalv)) : NULL;
	if (!self || !total || !stamp || (nev && (!selfv || !totalv))) {
		free(self);
		free(total);
		free(stamp);
		free(selfv);
		free(totalv);
		return -ENOMEM;
	}
	/* For each node with samples or counts, walk to the root once,
	 * counting each frame once per stack (the stamp) so recursion is not
	 * counted twice. */
	for (uint32_t id = 1; id < p->nnodes; id++) {
		const struct prof_node *leaf = &p->nodes[id];
		if (!node_has(p, id))
			continue;
		const uint64_t *c = nev ? &p->counts[(size_t)id * nev] : NULL;
		self[leaf->frame] += leaf->self;
		for (size_t k = 0; k < nev; k++)
			selfv[(size_t)leaf->frame * nev + k] += c[k];
		for (uint32_t n = id; n != PROF_ROOT; n = p->nodes[n].parent) {
			uint32_t f = p->nodes[n].frame;
			if (stamp[f] == id)
				continue;
			stamp[f] = id;
			total[f] += leaf->self;
			for (size_t k = 0; k < nev; k++)
				totalv[(size_t)f * nev + k] += c[k];
		}
	}
	free(stamp);
	*self_out = self;
	*total_out = total;
	if (selfv_out)
		*selfv_out = selfv;
	else
		free(selfv);
	if (totalv_out)
		*totalv_out = totalv;
	else
		free(totalv);
	return 0;
}

int profile_totals(const struct profile *p, uint64_t **self_out, uint64_t **total_out)
{
	return profile_totals_counts(p, self_out, total_out, NULL, NULL);
}

struct profile *profile_without_threads(const struct profile *p)
{
	return profile_transform(p, PROF_DROP_THREADS);
}

uint32_t profile_add_path_of(struct profile *q, const struct profile *p, uint32_t id,
			     unsigned flags, uint64_t count, const uint64_t *vals,
			     struct profile_scratch *sc)
{
	if (id >= p->nnodes)
		return UINT32_MAX;
	const struct prof_node *leaf = &p->nodes[id];
	if (leaf->depth > sc->cap) {
		size_t cap = leaf->depth * 2;
		uint32_t *np = realloc(sc->path, cap * sizeof(*np));
		if (!np)
			return UINT32_MAX;
		sc->path = np;
		sc->cap = cap;
	}
	/* the frames, leaf first, then turned root first */
	uint32_t *path = sc->path;
	size_t n = 0;
	for (uint32_t k = id; k != PROF_ROOT; k = p->nodes[k].parent) {
		const struct prof_frame *f = &p->frames[p->nodes[k].frame];
		if (f->kind == PROF_THREAD && (flags & PROF_DROP_THREADS))
			continue;
		int line = f->kind == PROF_PYTHON && (flags & PROF_DROP_LINES) ? -1 : f->line;
		uint32_t fid = profile_frame(q, f->name, f->file, line, f->kind);
		if (fid == UINT32_MAX)
			return UINT32_MAX;
		path[n++] = fid;
	}
	for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
		uint32_t t = path[a];
		path[a] = path[b];
		path[b] = t;
	}
	return profile_add_counts(q, path, n, count, vals);
}

struct profile *profile_transform(const struct profile *p, unsigned flags)
{
	struct profile *q = profile_new_events(p->events, p->nev);
	struct profile_scratch sc = { 0 };
	if (!q)
		return NULL;
	for (uint32_t id = 1; id < p->nnodes; id++) {
		if (!node_has(p, id))
			continue;
		if (profile_add_path_of(q, p, id, flags, p->nodes[id].self,
					profile_node_counts(p, id), &sc) == UINT32_MAX) {
			free(sc.path);
			profile_free(q);
			return NULL;
		}
	}
	free(sc.path);
	return q;
}
