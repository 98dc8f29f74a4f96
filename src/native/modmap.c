/*
 * modmap.c - a process's executable mappings, sorted and non-overlapping.
 *
 * The array stays sorted by start; adding a mapping cuts the entries it
 * overlaps down to their uncovered remainders, so a lookup is one binary
 * search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/modmap.h"
#include "pyrometer/target.h"

void modmap_init(struct modmap *m)
{
	memset(m, 0, sizeof(*m));
}

void modmap_release(struct modmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* The index of the first entry ending after addr (m->n when none). */
static size_t first_ending_after(const struct modmap *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int reserve(struct modmap *m, size_t n)
{
	if (n <= m->cap)
		return 0;
	if (n > MODMAP_MAX_ENTRIES)
		return -E2BIG;
	size_t cap = m->cap ? m->cap : 64;
	while (cap < n)
		cap *= 2;
	struct modmap_entry *v = realloc(m->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->v = v;
	m->cap = cap;
	return 0;
}

static char *dup_or_null(const char *s, int *err)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*err = -ENOMEM;
	return d;
}

int modmap_add(struct modmap *m, uint64_t start, uint64_t end, uint64_t pgoff,
	       const char *path)
{
	if (start >= end)
		return -EINVAL;

	/* Entries [i, k) overlap the new range. */
	size_t i = first_ending_after(m, start), k = i;
	while (k < m->n && m->v[k].start < end)
		k++;

	struct modmap_entry left, right, added = {
		.start = start, .end = end, .pgoff = pgoff,
	};
	int has_left = k > i && m->v[i].start < start;
	int has_right = k > i && m->v[k - 1].end > end;
	int err = 0;

	added.path = dup_or_null(path, &err);
	if (has_left) {
		left = m->v[i];
		left.end = start;
	}
	if (has_right) {
		right = m->v[k - 1];
		right.pgoff += end - right.start;
		right.start = end;
		/* One entry split in two: each part needs its own path. */
		if (has_left && k - 1 == i)
			right.path = dup_or_null(right.path, &err);
	}
	size_t nnew = 1 + (size_t)has_left + (size_t)has_right;
	if (!err)
		err = reserve(m, m->n - (k - i) + nnew);
	if (err) {
		free(added.path);
		if (has_left && has_right && k - 1 == i)
			free(right.path);
		return err;
	}

	/* Paths of the covered entries that no remainder keeps. */
	for (size_t j = i; j < k; j++) {
		if ((has_left && j == i) || (has_right && j == k - 1))
			continue;
		free(m->v[j].path);
	}
	memmove(&m->v[i + nnew], &m->v[k], (m->n - k) * sizeof(*m->v));
	m->n = m->n - (k - i) + nnew;
	size_t at = i;
	if (has_left)
		m->v[at++] = left;
	m->v[at++] = added;
	if (has_right)
		m->v[at] = right;
	m->generation++;
	return 0;
}

int modmap_add_maps(struct modmap *m, const struct target_maps *maps)
{
	int added = 0;

	for (size_t i = 0; i < maps->n; i++) {
		const struct target_map *t = &maps->v[i];
		if (t->perms[2] != 'x')
			continue;
		int err = modmap_add(m, t->start, t->end, t->offset, t->path);
		if (err)
			return err;
		added++;
	}
	return added;
}

struct modmap_entry *modmap_find(struct modmap *m, uint64_t addr)
{
	size_t i = first_ending_after(m, addr);

	if (i < m->n && m->v[i].start <= addr)
		return &m->v[i];
	return NULL;
}
