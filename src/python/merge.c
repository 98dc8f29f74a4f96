/*
 * merge.c - which native frame ran which Python frames.
 *
 * Every activation of the eval loop keeps a marker on the C stack, inside
 * its own native frame; the native frame whose stack range holds the
 * marker's address is that activation (cpython-internals.md, section 4).
 * The markers are:
 *   3.12+       the shim frame the eval loop pushes (its address);
 *   3.10, 3.11  the chain of C-stack frames tstate->cframe -> previous,
 *               one per activation, ending at the thread state's root;
 *   <= 3.9      none: activations are the native frames whose symbol is
 *               the eval loop function, one per Python frame.
 * No symbol is needed from 3.10 on, so stripped and split (.cold, unnamed
 * static) eval loops work.
 */
#include <string.h>

#include "internal.h"
#include "pyrometer/target.h"

/*
 * 3.10/3.11: activation k's marker is the k-th element of the chain, which
 * starts at the thread state's marker as read with the Python frames. The
 * links are read from the sample's stack copy where it holds them (an
 * activation present both at the sample and at the read has not moved, nor
 * have the links of those outside it), else from the target.
 */
static void anchors_from_chain(struct py_runtime *rt, struct py_activations *a,
			       const struct py_native_stack *nat)
{
	const struct py_layout *L = &rt->L;
	uint64_t c = a->cframe, lo = nat->sps[0], top = lo + nat->stack_len;

	/* Elements off this stack are not eval-loop locals (a root, which
	 * 3.10 may leave pointing at itself or at a stale element): skipped,
	 * and the walk ends where the chain loops. Elements just below the
	 * sampled SP are calls made since the sample: they count (and are
	 * then left out as newer). */
	for (int k = 0, steps = 0; k < a->n && steps < 2 * PY_MAX_ACTIVATIONS; steps++) {
		uint64_t was = c;
		if (!c || c == a->cframe_root)
			return;
		if (c < top && (c >= lo || lo - c < PY_NEWER_SPAN))
			a->anchor[k++] = c;
		uint64_t at = c + (uint64_t)L->cf_previous, rel = at - lo;
		if (nat->stack && rel < nat->stack_len && nat->stack_len - rel >= 8)
			memcpy(&c, nat->stack + rel, 8);
		else if (target_read(rt->mem, at, &c, 8) < 0)
			return;
		if (c == was)
			return;
	}
}

/*
 * <= 3.9: the eval-loop native frames, matched to the activations from the
 * root (the outer part of a stack is the part that has not changed between
 * the sample and the read): extra inner activations started after the
 * sample; extra inner eval frames returned before the read and keep no
 * Python frames.
 */
static enum py_place_result place_by_symbol(const struct py_activations *a,
					    const struct py_native_stack *nat, int *place)
{
	int ev[PY_MAX_ACTIVATIONS], m = 0;

	if (!nat->is_eval)
		return PY_PLACE_MISMATCH;
	for (int i = 0; i < nat->n && m < PY_MAX_ACTIVATIONS; i++)
		if (nat->is_eval[i])
			ev[m++] = i;
	if (!nat->complete) {
		/* The root is unknown: match from the innermost instead. */
		int k = 0;
		for (; k < a->n && k < m; k++)
			place[k] = ev[k];
		for (; k < a->n; k++)
			place[k] = PY_PLACE_BEYOND;
		return m >= a->n ? PY_PLACE_OK : PY_PLACE_PARTIAL;
	}
	for (int k = a->n - 1, j = m - 1; k >= 0; k--, j--)
		place[k] = j >= 0 ? ev[j] : PY_PLACE_NEWER;
	return PY_PLACE_OK;
}

/*
 * A complete native stack, but the markers ran out before the activations
 * did (3.10 can leave a callback's chain detached from its callers'): the
 * activations left are matched, from the root, to the eval-loop frames by
 * symbol beyond the last one placed, where symbols exist. Otherwise the two
 * stacks disagree.
 */
static enum py_place_result place_rest_by_symbol(const struct py_activations *a,
						 const struct py_native_stack *nat, int *place,
						 int last)
{
	int first = 0, m = 0;

	while (first < a->n && place[first] != PY_PLACE_BEYOND)
		first++;
	if (!nat->is_eval)
		return PY_PLACE_MISMATCH;
	for (int i = last + 1; i < nat->n; i++)
		m += nat->is_eval[i] != 0;
	if (m < a->n - first)
		return PY_PLACE_MISMATCH;
	for (int k = a->n - 1, i = nat->n - 1; k >= first; k--, i--) {
		while (!nat->is_eval[i])
			i--;
		place[k] = i;
	}
	return PY_PLACE_OK;
}

enum py_place_result py_place_activations(struct py_runtime *rt, struct py_activations *a,
					  const struct py_native_stack *nat, int *place)
{
	const struct py_layout *L = &rt->L;
	enum py_place_result res = PY_PLACE_OK;
	int last = -1, beyond = 0, newer_ok = 1;

	if (a->n == 0)
		return PY_PLACE_OK;
	if (nat->n <= 0)
		return PY_PLACE_MISMATCH;
	if (!py_at_least(L, 3, 10))
		return place_by_symbol(a, nat, place);
	if (L->cf_previous >= 0 && !py_at_least(L, 3, 12))
		anchors_from_chain(rt, a, nat);
	for (int k = 0; k < a->n; k++)
		place[k] = PY_PLACE_BEYOND;

	for (int k = 0; k < a->n; k++) {
		uint64_t x = a->anchor[k];
		if (x && x < nat->sps[0]) {
			/* Called after the sample: only the innermost may be. */
			if (!newer_ok)
				return PY_PLACE_MISMATCH;
			place[k] = PY_PLACE_NEWER;
			continue;
		}
		newer_ok = 0;
		int i = -1;
		if (x) {
			int lo = last + 1 > 0 ? last + 1 : 0;
			for (int j = lo; j < nat->n - 1 && i < 0; j++)
				if (x >= nat->sps[j] && x < nat->sps[j + 1])
					i = j;
			if (i < 0 && x >= nat->sps[nat->n - 1] && nat->complete)
				i = nat->n - 1;
			/* Inside a frame already used, or an earlier one: the
			 * stacks disagree. */
			if (i < 0 && x < nat->sps[nat->n - 1])
				return PY_PLACE_MISMATCH;
		}
		if (i < 0) {
			/* No marker known, or past the walk's end. */
			if (nat->complete && x)
				return PY_PLACE_MISMATCH;
			place[k] = PY_PLACE_BEYOND;
			beyond = 1;
			res = PY_PLACE_PARTIAL;
			continue;
		}
		if (beyond)
			return PY_PLACE_MISMATCH;
		place[k] = i;
		last = i;
	}
	/* A torn walk read only part of the stack: where its last frames
	 * belong is unknown. */
	if (res == PY_PLACE_PARTIAL && nat->complete)
		return a->torn ? PY_PLACE_MISMATCH : place_rest_by_symbol(a, nat, place, last);
	return res;
}

const char *py_module_path(const struct py_runtime *rt)
{
	return rt->module_path;
}
