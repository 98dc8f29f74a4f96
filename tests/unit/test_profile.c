/*
 * test_profile.c - interned strings and frames, the stack trie, per-frame
 * totals and the thread-less copy.
 *
 * Stacks are written root first, as the sampler adds them; expected self and
 * total counts are worked out by hand next to each set of stacks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pyrometer/profile.h"
#include "pyrometer/strpool.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *intern(struct strpool *sp, const char *s)
{
	const char *r = strpool_intern(sp, s, strlen(s));
	assert_non_null(r);
	return r;
}

/* ---- strpool ---- */

static void test_strpool_hash(void **state)
{
	(void)state;
	/* FNV-1a 32-bit reference values */
	assert_int_equal(strpool_hash("", 0), 0x811c9dc5u);
	assert_int_equal(strpool_hash("a", 1), 0xe40c292cu);
	assert_int_equal(strpool_hash("foobar", 6), 0xbf9cf968u);
	/* only len bytes count */
	assert_int_equal(strpool_hash("foobarXYZ", 6), 0xbf9cf968u);
}

static void test_strpool_same_and_different(void **state)
{
	struct strpool sp;
	char buf[16];

	(void)state;
	strpool_init(&sp);
	const char *a = intern(&sp, "hello");
	/* equal content from a different buffer: the same copy */
	snprintf(buf, sizeof(buf), "%s", "hello");
	assert_ptr_equal(strpool_intern(&sp, buf, 5), a);
	assert_ptr_not_equal(a, buf);
	assert_string_equal(a, "hello");

	const char *b = intern(&sp, "world");
	assert_ptr_not_equal(a, b);
	assert_string_equal(b, "world");
	assert_string_equal(a, "hello");

	const char *e = strpool_intern(&sp, "", 0);
	assert_non_null(e);
	assert_string_equal(e, "");
	assert_ptr_equal(strpool_intern(&sp, "xyz", 0), e);
	assert_ptr_not_equal(e, a);
	assert_int_equal(sp.count, 3);
	strpool_release(&sp);
	assert_int_equal(sp.count, 0);
	assert_null(sp.slots);
}

/* One string a prefix of another, interned in both orders, and from
 * buffers that are not NUL-terminated where the length ends. */
static void test_strpool_prefixes(void **state)
{
	struct strpool sp;

	(void)state;
	strpool_init(&sp);
	const char *abc = strpool_intern(&sp, "abc", 3);
	const char *ab = strpool_intern(&sp, "abc", 2);
	assert_non_null(abc);
	assert_non_null(ab);
	assert_ptr_not_equal(ab, abc);
	assert_string_equal(abc, "abc");
	assert_string_equal(ab, "ab");
	const char *a = strpool_intern(&sp, "abcdef", 1);
	assert_string_equal(a, "a");
	assert_ptr_not_equal(a, ab);

	/* the other order */
	const char *xy = strpool_intern(&sp, "xy", 2);
	const char *xyz = strpool_intern(&sp, "xyz", 3);
	assert_ptr_not_equal(xy, xyz);
	assert_string_equal(xy, "xy");
	assert_string_equal(xyz, "xyz");

	/* and back again: each finds its own */
	assert_ptr_equal(strpool_intern(&sp, "abcd", 3), abc);
	assert_ptr_equal(strpool_intern(&sp, "ab!", 2), ab);
	assert_ptr_equal(strpool_intern(&sp, "xyzzy", 2), xy);
	assert_ptr_equal(strpool_intern(&sp, "xyzzy", 3), xyz);
	assert_int_equal(sp.count, 5);
	strpool_release(&sp);
}

/*
 * Strings whose FNV-1a hashes are equal (found by search offline): the
 * pool must fall back to the bytes. "ab" is also a prefix of its partner,
 * so a comparison that stops at the shorter length would merge them.
 */
static void test_strpool_hash_collisions(void **state)
{
	static const char shorter[] = "ab", longer[] = "abIJt!-c";
	static const char same1[] = "fn_Wv;z8", same2[] = "fn_{}m:c";
	struct strpool sp;

	(void)state;
	assert_int_equal(strpool_hash(shorter, 2), strpool_hash(longer, 8));
	assert_int_equal(strpool_hash(same1, 8), strpool_hash(same2, 8));

	/* the longer one first, then its prefix, then again */
	strpool_init(&sp);
	const char *l = intern(&sp, longer);
	const char *sh = intern(&sp, shorter);
	assert_ptr_not_equal(l, sh);
	assert_string_equal(l, longer);
	assert_string_equal(sh, shorter);
	assert_ptr_equal(intern(&sp, longer), l);
	assert_ptr_equal(intern(&sp, shorter), sh);
	strpool_release(&sp);

	/* the prefix first */
	strpool_init(&sp);
	sh = intern(&sp, shorter);
	l = intern(&sp, longer);
	assert_ptr_not_equal(l, sh);
	assert_string_equal(l, longer);
	assert_string_equal(sh, shorter);
	strpool_release(&sp);

	/* same length, same hash, other bytes */
	strpool_init(&sp);
	const char *a = intern(&sp, same1), *b = intern(&sp, same2);
	assert_ptr_not_equal(a, b);
	assert_string_equal(a, same1);
	assert_string_equal(b, same2);
	assert_ptr_equal(intern(&sp, same2), b);
	assert_ptr_equal(intern(&sp, same1), a);
	strpool_release(&sp);
}

/* Enough strings to grow the table several times; every pointer handed out
 * stays valid and is found again. */
static void test_strpool_many(void **state)
{
	enum { N = 50000 };
	struct strpool sp;
	const char **got = calloc(N, sizeof(*got));
	char buf[32];

	(void)state;
	assert_non_null(got);
	strpool_init(&sp);
	for (int i = 0; i < N; i++) {
		int n = snprintf(buf, sizeof(buf), "name_%d", i);
		got[i] = strpool_intern(&sp, buf, (size_t)n);
		assert_non_null(got[i]);
	}
	assert_int_equal(sp.count, N);
	assert_true(sp.cap >= 2 * (size_t)N);
	for (int i = 0; i < N; i++) {
		int n = snprintf(buf, sizeof(buf), "name_%d", i);
		assert_string_equal(got[i], buf);
		assert_ptr_equal(strpool_intern(&sp, buf, (size_t)n), got[i]);
	}
	assert_int_equal(sp.count, N);
	strpool_release(&sp);
	free(got);
}

/* Strings larger than a block get their own; small ones keep working
 * around them, and nothing already handed out moves. */
static void test_strpool_long(void **state)
{
	const size_t big = 200 * 1024, exact = 64 * 1024;
	struct strpool sp;
	char *s = malloc(big + 1);

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < big; i++)
		s[i] = (char)('a' + i % 26);
	s[big] = '\0';

	strpool_init(&sp);
	const char *small1 = intern(&sp, "before");
	const char *l1 = strpool_intern(&sp, s, big);
	assert_non_null(l1);
	assert_int_equal(strlen(l1), big);
	assert_memory_equal(l1, s, big);
	const char *small2 = intern(&sp, "after");
	/* one byte short of the block with its NUL, exactly a block, one over */
	const char *e1 = strpool_intern(&sp, s + 1, exact - 1);
	const char *e2 = strpool_intern(&sp, s + 2, exact);
	const char *e3 = strpool_intern(&sp, s + 3, exact + 1);
	assert_non_null(e1);
	assert_non_null(e2);
	assert_non_null(e3);
	assert_int_equal(strlen(e1), exact - 1);
	assert_int_equal(strlen(e2), exact);
	assert_int_equal(strlen(e3), exact + 1);
	assert_memory_equal(e2, s + 2, exact);

	assert_ptr_equal(strpool_intern(&sp, s, big), l1);
	assert_ptr_equal(strpool_intern(&sp, s + 2, exact), e2);
	/* the same content minus one byte is another string */
	const char *l2 = strpool_intern(&sp, s, big - 1);
	assert_ptr_not_equal(l2, l1);
	assert_int_equal(strlen(l2), big - 1);
	assert_string_equal(small1, "before");
	assert_string_equal(small2, "after");
	assert_ptr_equal(intern(&sp, "before"), small1);
	strpool_release(&sp);
	free(s);
}

/* ---- frames ---- */

static void test_frame_interning(void **state)
{
	struct strpool sp;
	struct profile *p = profile_new();
	char other[8];

	(void)state;
	assert_non_null(p);
	strpool_init(&sp);
	const char *f = intern(&sp, "f"), *g = intern(&sp, "g");
	const char *m = intern(&sp, "m.py"), *n = intern(&sp, "n.py");

	uint32_t a = profile_frame(p, f, m, 10, PROF_PYTHON);
	assert_int_equal(a, 0);
	assert_int_equal(profile_frame(p, f, m, 10, PROF_PYTHON), a);
	/* each field matters */
	uint32_t by_line = profile_frame(p, f, m, 11, PROF_PYTHON);
	uint32_t by_kind = profile_frame(p, f, m, 10, PROF_PSEUDO);
	uint32_t by_kind2 = profile_frame(p, f, m, 10, PROF_THREAD);
	uint32_t by_name = profile_frame(p, g, m, 10, PROF_PYTHON);
	uint32_t by_file = profile_frame(p, f, n, 10, PROF_PYTHON);
	uint32_t neg_line = profile_frame(p, f, m, -1, PROF_PYTHON);
	uint32_t ids[] = { a, by_line, by_kind, by_kind2, by_name, by_file, neg_line };
	for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
		assert_int_not_equal(ids[i], UINT32_MAX);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(ids[i], ids[j]);
	}
	assert_int_equal(profile_nframes(p), ARRAY_LEN(ids));

	/* strings are compared by pointer: equal text elsewhere is another frame */
	snprintf(other, sizeof(other), "f");
	uint32_t by_ptr = profile_frame(p, other, m, 10, PROF_PYTHON);
	assert_int_not_equal(by_ptr, a);
	assert_int_equal(profile_frame(p, intern(&sp, "f"), m, 10, PROF_PYTHON), a);

	/* looked up again: the same ids, the same fields */
	assert_int_equal(profile_frame(p, f, m, 11, PROF_PYTHON), by_line);
	assert_int_equal(profile_frame(p, f, m, 10, PROF_PSEUDO), by_kind);
	assert_int_equal(profile_frame(p, f, m, -1, PROF_PYTHON), neg_line);
	const struct prof_frame *fr = profile_frame_get(p, by_file);
	assert_non_null(fr);
	assert_ptr_equal(fr->name, f);
	assert_ptr_equal(fr->file, n);
	assert_int_equal(fr->line, 10);
	assert_int_equal(fr->kind, PROF_PYTHON);
	fr = profile_frame_get(p, by_kind2);
	assert_int_equal(fr->kind, PROF_THREAD);
	assert_null(profile_frame_get(p, (uint32_t)profile_nframes(p)));
	assert_null(profile_frame_get(p, UINT32_MAX));

	profile_free(p);
	strpool_release(&sp);
}

/* Thousands of frames that differ only in line or kind: probe chains in
 * the frame table pass entries with the same strings, which must not match. */
static void test_frame_lines_and_kinds(void **state)
{
	enum { LINES = 3000 };
	struct strpool sp;
	struct profile *p = profile_new();
	static uint32_t ids[3][LINES];

	(void)state;
	assert_non_null(p);
	strpool_init(&sp);
	const char *name = intern(&sp, "run"), *file = intern(&sp, "loop.py");
	for (int kind = 0; kind < 3; kind++)
		for (int line = 0; line < LINES; line++)
			ids[kind][line] = profile_frame(p, name, file, line, kind);
	assert_int_equal(profile_nframes(p), 3 * LINES);
	for (int kind = 0; kind < 3; kind++) {
		for (int line = 0; line < LINES; line++) {
			uint32_t id = profile_frame(p, name, file, line, kind);
			if (id != ids[kind][line])
				fail_msg("kind %d line %d: id %u, first %u", kind, line, id,
					 ids[kind][line]);
			const struct prof_frame *f = profile_frame_get(p, id);
			assert_int_equal(f->line, line);
			assert_int_equal(f->kind, kind);
		}
	}
	assert_int_equal(profile_nframes(p), 3 * LINES);
	profile_free(p);
	strpool_release(&sp);
}

static void test_empty_profile(void **state)
{
	struct profile *p = profile_new();
	uint64_t *self = NULL, *total = NULL;

	(void)state;
	assert_non_null(p);
	assert_int_equal(profile_samples(p), 0);
	assert_int_equal(profile_nframes(p), 0);
	assert_int_equal(profile_nnodes(p), 1);
	const struct prof_node *root = profile_node(p, PROF_ROOT);
	assert_non_null(root);
	assert_int_equal(root->depth, 0);
	assert_int_equal(root->self, 0);
	assert_null(profile_node(p, 1));
	assert_int_equal(profile_totals(p, &self, &total), 0);
	assert_non_null(self);
	assert_non_null(total);
	free(self);
	free(total);
	struct profile *q = profile_without_threads(p);
	assert_non_null(q);
	assert_int_equal(profile_samples(q), 0);
	assert_int_equal(profile_nnodes(q), 1);
	profile_free(q);
	profile_free(p);
	profile_free(NULL);
}

/* ---- stacks and totals ---- */

struct fixture {
	struct strpool sp;
	struct profile *p;
	uint32_t A, B, C, D;
};

static void fixture_init(struct fixture *x)
{
	strpool_init(&x->sp);
	x->p = profile_new();
	assert_non_null(x->p);
	const char *file = intern(&x->sp, "app.py");
	x->A = profile_frame(x->p, intern(&x->sp, "A"), file, 1, PROF_PYTHON);
	x->B = profile_frame(x->p, intern(&x->sp, "B"), file, 2, PROF_PYTHON);
	x->C = profile_frame(x->p, intern(&x->sp, "C"), file, 3, PROF_PYTHON);
	x->D = profile_frame(x->p, intern(&x->sp, "D"), file, 4, PROF_PYTHON);
}

static void fixture_release(struct fixture *x)
{
	profile_free(x->p);
	strpool_release(&x->sp);
}

static uint32_t add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count)
{
	uint32_t leaf = profile_add(p, frames, n, count);
	assert_int_not_equal(leaf, UINT32_MAX);
	return leaf;
}

#define ADD(p, count, ...)                                                   \
	add((p), (const uint32_t[]){ __VA_ARGS__ },                          \
	    sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t), (count))

/* The frames from the root to node id, root first; returns the depth. */
static size_t path_of(const struct profile *p, uint32_t id, uint32_t *out, size_t cap)
{
	size_t n = 0;
	for (uint32_t k = id; k != PROF_ROOT; k = profile_node(p, k)->parent) {
		assert_true(n < cap);
		out[n++] = profile_node(p, k)->frame;
	}
	for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
		uint32_t t = out[a];
		out[a] = out[b];
		out[b] = t;
	}
	return n;
}

static void check_sum_of_self(const struct profile *p, const uint64_t *self)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < profile_nframes(p); i++)
		sum += self[i];
	assert_int_equal(sum, profile_samples(p));
}

static void test_stacks_and_totals(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	uint32_t A = x.A, B = x.B, C = x.C, D = x.D;
	/*
	 * stack          count   A self/total  B      C      D
	 * A                1     1/1
	 * A;B              2       /2          2/2
	 * A;B;C            3       /3           /3    3/3
	 * A;B;A;B;A        4     4/4            /4
	 * D                5                                 5/5
	 * A;C              6       /6                 6/6
	 * A;B (again)      7       /7          7/7
	 *                 28     5/23         9/16   9/9    5/5
	 */
	uint32_t n_a = ADD(x.p, 1, A);
	uint32_t n_ab = ADD(x.p, 2, A, B);
	uint32_t n_abc = ADD(x.p, 3, A, B, C);
	uint32_t n_rec = ADD(x.p, 4, A, B, A, B, A);
	uint32_t n_d = ADD(x.p, 5, D);
	uint32_t n_ac = ADD(x.p, 6, A, C);
	assert_int_equal(ADD(x.p, 7, A, B), n_ab);

	assert_int_equal(profile_samples(x.p), 28);
	/* root, A, AB, ABC, ABA, ABAB, ABABA, D, AC */
	assert_int_equal(profile_nnodes(x.p), 9);
	assert_int_equal(profile_node(x.p, n_a)->self, 1);
	assert_int_equal(profile_node(x.p, n_ab)->self, 9);
	assert_int_equal(profile_node(x.p, n_abc)->self, 3);
	assert_int_equal(profile_node(x.p, n_rec)->self, 4);
	assert_int_equal(profile_node(x.p, n_d)->self, 5);
	assert_int_equal(profile_node(x.p, n_ac)->self, 6);
	/* prefixes share nodes */
	assert_int_equal(profile_node(x.p, n_ab)->parent, n_a);
	assert_int_equal(profile_node(x.p, n_abc)->parent, n_ab);
	assert_int_equal(profile_node(x.p, n_ac)->parent, n_a);
	assert_int_equal(profile_node(x.p, n_a)->parent, PROF_ROOT);
	assert_int_equal(profile_node(x.p, n_d)->parent, PROF_ROOT);
	assert_int_equal(profile_node(x.p, n_rec)->depth, 5);
	assert_int_equal(profile_node(x.p, n_abc)->depth, 3);
	assert_int_equal(profile_node(x.p, n_d)->depth, 1);
	/* the trie gives the stacks back */
	uint32_t path[8];
	assert_int_equal(path_of(x.p, n_rec, path, 8), 5);
	assert_memory_equal(path, ((uint32_t[]){ A, B, A, B, A }), 5 * sizeof(uint32_t));
	assert_int_equal(path_of(x.p, n_ac, path, 8), 2);
	assert_memory_equal(path, ((uint32_t[]){ A, C }), 2 * sizeof(uint32_t));
	/* the inner node of the recursion has no samples of its own */
	uint32_t n_abab = profile_node(x.p, n_rec)->parent;
	assert_int_equal(profile_node(x.p, n_abab)->self, 0);
	assert_int_equal(profile_node(x.p, n_abab)->frame, B);

	uint64_t *self, *total;
	assert_int_equal(profile_totals(x.p, &self, &total), 0);
	assert_int_equal(self[A], 5);
	assert_int_equal(total[A], 23);
	assert_int_equal(self[B], 9);
	assert_int_equal(total[B], 16);
	assert_int_equal(self[C], 9);
	assert_int_equal(total[C], 9);
	assert_int_equal(self[D], 5);
	assert_int_equal(total[D], 5);
	check_sum_of_self(x.p, self);
	for (size_t i = 0; i < profile_nframes(x.p); i++)
		assert_true(total[i] <= profile_samples(x.p) && self[i] <= total[i]);
	free(self);
	free(total);
	fixture_release(&x);
}

/* A frame used at several depths of one stack, and a frame with no samples
 * of its own (only on the way to others). */
static void test_totals_recursion_deep(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	uint32_t A = x.A, B = x.B, C = x.C;
	ADD(x.p, 10, A, A, A);            /* direct recursion, 3 deep */
	ADD(x.p, 1, B, A, B, A, B, A, C); /* 3 x A, 3 x B */
	ADD(x.p, 2, C, C);

	uint64_t *self, *total;
	assert_int_equal(profile_totals(x.p, &self, &total), 0);
	assert_int_equal(self[A], 10);
	assert_int_equal(total[A], 11);
	assert_int_equal(self[B], 0);
	assert_int_equal(total[B], 1);
	assert_int_equal(self[C], 3);
	assert_int_equal(total[C], 3);
	assert_int_equal(self[x.D], 0);
	assert_int_equal(total[x.D], 0);
	check_sum_of_self(x.p, self);
	free(self);
	free(total);
	fixture_release(&x);
}

/* Stacks of two threads that differ only in the root merge into one. */
static void test_without_threads(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	uint32_t A = x.A, B = x.B, C = x.C;
	const char *none = intern(&x.sp, "");
	uint32_t T1 = profile_frame(x.p, intern(&x.sp, "thread 1 (main)"), none, 0, PROF_THREAD);
	uint32_t T2 = profile_frame(x.p, intern(&x.sp, "thread 2"), none, 0, PROF_THREAD);
	uint32_t U = profile_frame(x.p, intern(&x.sp, "[unknown]"), none, 0, PROF_PSEUDO);
	ADD(x.p, 2, T1, A, B);
	ADD(x.p, 3, T2, A, B);
	ADD(x.p, 1, T1, C);
	ADD(x.p, 4, T2, A);
	ADD(x.p, 5, T1, U);
	ADD(x.p, 6, T2, U);
	ADD(x.p, 7, T2, A, B, C);
	size_t before_nodes = profile_nnodes(x.p);

	struct profile *q = profile_without_threads(x.p);
	assert_non_null(q);
	/* the original is untouched */
	assert_int_equal(profile_nnodes(x.p), before_nodes);
	assert_int_equal(profile_samples(x.p), 28);

	assert_int_equal(profile_samples(q), 28);
	/* A, B, C, [unknown]: no thread frames */
	assert_int_equal(profile_nframes(q), 4);
	for (uint32_t i = 0; i < profile_nframes(q); i++)
		assert_int_not_equal(profile_frame_get(q, i)->kind, PROF_THREAD);
	/* root, A, AB, ABC, C, [unknown] */
	assert_int_equal(profile_nnodes(q), 6);

	/* frames keep their strings; look them up in q by the same pointers */
	const struct prof_frame *fa = profile_frame_get(x.p, A);
	const struct prof_frame *fb = profile_frame_get(x.p, B);
	const struct prof_frame *fc = profile_frame_get(x.p, C);
	const struct prof_frame *fu = profile_frame_get(x.p, U);
	size_t nf = profile_nframes(q);
	uint32_t qa = profile_frame(q, fa->name, fa->file, fa->line, fa->kind);
	uint32_t qb = profile_frame(q, fb->name, fb->file, fb->line, fb->kind);
	uint32_t qc = profile_frame(q, fc->name, fc->file, fc->line, fc->kind);
	uint32_t qu = profile_frame(q, fu->name, fu->file, fu->line, fu->kind);
	assert_int_equal(profile_nframes(q), nf); /* all were there already */

	/* adding 0 samples finds existing nodes without changing them */
	assert_int_equal(profile_node(q, ADD(q, 0, qa, qb))->self, 5);
	assert_int_equal(profile_node(q, ADD(q, 0, qc))->self, 1);
	assert_int_equal(profile_node(q, ADD(q, 0, qa))->self, 4);
	assert_int_equal(profile_node(q, ADD(q, 0, qu))->self, 11);
	assert_int_equal(profile_node(q, ADD(q, 0, qa, qb, qc))->self, 7);
	assert_int_equal(profile_nnodes(q), 6);
	assert_int_equal(profile_samples(q), 28);

	uint64_t *self, *total;
	assert_int_equal(profile_totals(q, &self, &total), 0);
	assert_int_equal(self[qa], 4);
	assert_int_equal(total[qa], 16);
	assert_int_equal(self[qb], 5);
	assert_int_equal(total[qb], 12);
	assert_int_equal(self[qc], 8);
	assert_int_equal(total[qc], 8);
	assert_int_equal(self[qu], 11);
	check_sum_of_self(q, self);
	free(self);
	free(total);

	/* the same totals as the threaded profile, frame for frame */
	uint64_t *self0, *total0;
	assert_int_equal(profile_totals(x.p, &self0, &total0), 0);
	assert_int_equal(self0[A], 4);
	assert_int_equal(total0[A], 16);
	assert_int_equal(total0[T1], 8);
	assert_int_equal(total0[T2], 20);
	assert_int_equal(self0[T1] + self0[T2], 0);
	check_sum_of_self(x.p, self0);
	free(self0);
	free(total0);
	profile_free(q);
	fixture_release(&x);
}

/*
 * Thousands of frames and nodes, so both hash tables grow many times while
 * ids are in use: ids stay stable and every count stays exact.
 *   for each i: R;f_i            (i % 7) + 1 samples
 *               R;f_i;f_(i+1)    1 sample
 *   self[f_i]  = (i % 7) + 1 + 1   (leaf of its own, and of i-1's pair)
 *   total[f_i] = (i % 7) + 1 + 2   (its own two stacks, and i-1's pair)
 */
static void test_many_frames_and_nodes(void **state)
{
	enum { N = 6000 };
	struct strpool sp;
	struct profile *p = profile_new();
	uint32_t *id = malloc(N * sizeof(*id));
	uint32_t *leaf = malloc(N * sizeof(*leaf));
	char buf[32];

	(void)state;
	assert_non_null(p);
	assert_non_null(id);
	assert_non_null(leaf);
	strpool_init(&sp);
	const char *file = intern(&sp, "big.py");
	uint32_t R = profile_frame(p, intern(&sp, "<module>"), file, 1, PROF_PYTHON);
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "fn_%d", i);
		id[i] = profile_frame(p, intern(&sp, buf), file, i + 2, PROF_PYTHON);
		assert_int_equal(id[i], (uint32_t)i + 1);
	}
	assert_int_equal(profile_nframes(p), N + 1);
	uint64_t expect_samples = 0;
	for (int i = 0; i < N; i++) {
		leaf[i] = ADD(p, (uint64_t)(i % 7) + 1, R, id[i]);
		ADD(p, 1, R, id[i], id[(i + 1) % N]);
		expect_samples += (uint64_t)(i % 7) + 2;
	}
	assert_int_equal(profile_nnodes(p), 2 * N + 2);
	assert_int_equal(profile_samples(p), expect_samples);

	/* after all the growth, the same ids and nodes come back */
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "fn_%d", i);
		assert_int_equal(profile_frame(p, intern(&sp, buf), file, i + 2, PROF_PYTHON),
				 id[i]);
		assert_int_equal(ADD(p, 0, R, id[i]), leaf[i]);
		const struct prof_node *nd = profile_node(p, leaf[i]);
		assert_int_equal(nd->self, (uint64_t)(i % 7) + 1);
		assert_int_equal(nd->frame, id[i]);
		assert_int_equal(nd->depth, 2);
	}
	assert_int_equal(profile_nframes(p), N + 1);
	assert_int_equal(profile_nnodes(p), 2 * N + 2);

	uint64_t *self, *total;
	assert_int_equal(profile_totals(p, &self, &total), 0);
	assert_int_equal(self[R], 0);
	assert_int_equal(total[R], expect_samples);
	for (int i = 0; i < N; i++) {
		if (self[id[i]] != (uint64_t)(i % 7) + 2 || total[id[i]] != (uint64_t)(i % 7) + 3)
			fail_msg("fn_%d: self %llu total %llu", i,
				 (unsigned long long)self[id[i]], (unsigned long long)total[id[i]]);
	}
	check_sum_of_self(p, self);
	free(self);
	free(total);

	/* a deep stack: one path of N nodes, each frame once */
	struct profile *d = profile_new();
	assert_non_null(d);
	uint32_t *frames = malloc(N * sizeof(*frames));
	assert_non_null(frames);
	for (int i = 0; i < N; i++)
		frames[i] = profile_frame(d, profile_frame_get(p, id[i])->name, file, 0,
					  PROF_PYTHON);
	uint32_t deep = add(d, frames, N, 3);
	assert_int_equal(profile_node(d, deep)->depth, N);
	assert_int_equal(profile_nnodes(d), N + 1);
	assert_int_equal(profile_totals(d, &self, &total), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(total[frames[i]], 3);
	assert_int_equal(self[frames[N - 1]], 3);
	check_sum_of_self(d, self);
	free(self);
	free(total);
	struct profile *dq = profile_without_threads(d);
	assert_non_null(dq);
	assert_int_equal(profile_nnodes(dq), N + 1);
	assert_int_equal(profile_samples(dq), 3);
	profile_free(dq);
	free(frames);
	profile_free(d);

	profile_free(p);
	strpool_release(&sp);
	free(id);
	free(leaf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strpool_hash),
		cmocka_unit_test(test_strpool_same_and_different),
		cmocka_unit_test(test_strpool_prefixes),
		cmocka_unit_test(test_strpool_hash_collisions),
		cmocka_unit_test(test_strpool_many),
		cmocka_unit_test(test_strpool_long),
		cmocka_unit_test(test_frame_interning),
		cmocka_unit_test(test_frame_lines_and_kinds),
		cmocka_unit_test(test_empty_profile),
		cmocka_unit_test(test_stacks_and_totals),
		cmocka_unit_test(test_totals_recursion_deep),
		cmocka_unit_test(test_without_threads),
		cmocka_unit_test(test_many_frames_and_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
