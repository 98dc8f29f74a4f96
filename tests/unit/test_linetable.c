/*
 * test_linetable.c - py_linetable_line against what each CPython computes.
 *
 * The vectors under vectors/ were produced by tools/gen-linetable-vectors
 * running inside each interpreter: the raw table of real code objects and
 * the line the interpreter gives every code unit. Any mismatch is a bug in
 * our decoder for that version. Hand-made tables cover the malformed and
 * corner cases no compiler emits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "pyrometer/linetable.h"

#include "vectors/linetable_3_8.h"
#include "vectors/linetable_3_9.h"
#include "vectors/linetable_3_10.h"
#include "vectors/linetable_3_11.h"
#include "vectors/linetable_3_11_debian.h"
#include "vectors/linetable_3_12.h"
#include "vectors/linetable_3_13.h"
/* Debian sid's builds, run here through tools/fetch-pythons. */
#include "vectors/linetable_3_14.h"
#include "vectors/linetable_3_15.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Report this many mismatches per set, then only count. */
#define MAX_REPORTED 10

/* Every index of every vector; returns the number of mismatches. */
static size_t check_set(const struct lt_vector_set *set)
{
	enum py_linetable_format fmt = py_linetable_format_for(set->major, set->minor);
	size_t mismatches = 0, units = 0;

	for (size_t v = 0; v < set->count; v++) {
		const struct lt_vector *vec = &set->vectors[v];

		for (int32_t i = 0; i < vec->units; i++) {
			int got = py_linetable_line(fmt, vec->table, vec->table_len,
						    vec->firstlineno, i);

			if (got == vec->lines[i])
				continue;
			if (mismatches++ < MAX_REPORTED)
				print_error("%s %s idx %d: expected %d, got %d\n", set->python,
					    vec->name, i, vec->lines[i], got);
		}
		units += (size_t)vec->units;

		/* A frame that has not started reports its first line. */
		if (py_linetable_line(fmt, vec->table, vec->table_len, vec->firstlineno,
				      -1) != vec->firstlineno) {
			mismatches++;
			print_error("%s %s: idx -1 is not firstlineno\n", set->python, vec->name);
		}
		/* From 3.10 on the table covers the code exactly, so one past its
		 * end has no line (co_lnotab has no end to check against). */
		if (fmt != PY_LT_LNOTAB &&
		    py_linetable_line(fmt, vec->table, vec->table_len, vec->firstlineno,
				      vec->units) != -1) {
			mismatches++;
			print_error("%s %s: idx past the end has a line\n", set->python,
				    vec->name);
		}
	}
	print_message("CPython %s: %zu code objects, %zu code units, %zu mismatches\n",
		      set->python, set->count, units, mismatches);
	return mismatches;
}

#define VECTOR_TEST(tag)                                         \
	static void test_vectors_##tag(void **state)             \
	{                                                        \
		(void)state;                                     \
		assert_true(lt_##tag##_set.count > 0);           \
		assert_int_equal(check_set(&lt_##tag##_set), 0); \
	}

VECTOR_TEST(3_8)
VECTOR_TEST(3_9)
VECTOR_TEST(3_10)
VECTOR_TEST(3_11)
VECTOR_TEST(3_11_debian)
VECTOR_TEST(3_12)
VECTOR_TEST(3_13)
VECTOR_TEST(3_14)
VECTOR_TEST(3_15)

/* The vectors' own major.minor must select the format we expect. */
static void test_format_for(void **state)
{
	(void)state;
	assert_int_equal(py_linetable_format_for(3, 8), PY_LT_LNOTAB);
	assert_int_equal(py_linetable_format_for(3, 9), PY_LT_LNOTAB);
	assert_int_equal(py_linetable_format_for(3, 10), PY_LT_LINETABLE);
	assert_int_equal(py_linetable_format_for(3, 11), PY_LT_LOCATIONS);
	assert_int_equal(py_linetable_format_for(3, 13), PY_LT_LOCATIONS);
	assert_int_equal(py_linetable_format_for(3, 15), PY_LT_LOCATIONS);
}

static int lnotab(const uint8_t *t, size_t n, int first, int32_t idx)
{
	return py_linetable_line(PY_LT_LNOTAB, t, n, first, idx);
}

static int linetable(const uint8_t *t, size_t n, int first, int32_t idx)
{
	return py_linetable_line(PY_LT_LINETABLE, t, n, first, idx);
}

static int locations(const uint8_t *t, size_t n, int first, int32_t idx)
{
	return py_linetable_line(PY_LT_LOCATIONS, t, n, first, idx);
}

static void test_empty_table(void **state)
{
	static const uint8_t none[1];

	(void)state;
	/* An empty co_lnotab means every instruction is on the first line. */
	assert_int_equal(lnotab(none, 0, 7, 0), 7);
	assert_int_equal(lnotab(NULL, 0, 7, 1000), 7);
	/* 3.10+ tables cover every instruction: empty means none has a line. */
	assert_int_equal(linetable(none, 0, 7, 0), -1);
	assert_int_equal(locations(none, 0, 7, 0), -1);
	/* NULL with a length is treated as empty, not dereferenced. */
	assert_int_equal(linetable(NULL, 4, 7, 0), -1);
	assert_int_equal(locations(NULL, 4, 7, 0), -1);
}

static void test_not_started(void **state)
{
	static const uint8_t bad[] = { 0x01 };

	(void)state;
	assert_int_equal(lnotab(bad, sizeof(bad), 42, -1), 42);
	assert_int_equal(linetable(bad, sizeof(bad), 42, -1), 42);
	assert_int_equal(locations(bad, sizeof(bad), 42, -1), 42);
	assert_int_equal(locations(NULL, 0, 42, INT32_MIN), 42);
}

static void test_lnotab(void **state)
{
	/* (address increment, line increment) pairs; first line 10. */
	static const uint8_t t[] = {
		6, 1,           /* byte 6: line 11 */
		4, 127, 0, 2,   /* byte 10: line 140, spelled as two pairs */
		255, 0, 1, 0x80, /* byte 266: line 140 - 128 = 12 */
		2, 0xff,        /* byte 268: line 11 */
	};

	(void)state;
	assert_int_equal(lnotab(t, sizeof(t), 10, 0), 10);
	assert_int_equal(lnotab(t, sizeof(t), 10, 2), 10);
	assert_int_equal(lnotab(t, sizeof(t), 10, 3), 11);
	assert_int_equal(lnotab(t, sizeof(t), 10, 4), 11);
	assert_int_equal(lnotab(t, sizeof(t), 10, 5), 140);
	assert_int_equal(lnotab(t, sizeof(t), 10, 132), 140);
	assert_int_equal(lnotab(t, sizeof(t), 10, 133), 12);
	assert_int_equal(lnotab(t, sizeof(t), 10, 134), 11);
	/* The last line runs on: co_lnotab does not record where code ends. */
	assert_int_equal(lnotab(t, sizeof(t), 10, 5000), 11);
	assert_int_equal(lnotab(t, sizeof(t), 10, INT32_MAX), 11);
	/* A dangling half pair is malformed. */
	assert_int_equal(lnotab(t, sizeof(t) - 1, 10, 0), -1);
	/* A line below zero is no line. */
	assert_int_equal(lnotab((const uint8_t[]){ 0, 0xf6 }, 2, 5, 0), -1);
}

static void test_linetable_no_line(void **state)
{
	static const uint8_t t[] = {
		6, 1,           /* bytes 0-5: 11 */
		4, 0x80,        /* bytes 6-9: no line, and the line stays 11 */
		2, 2,           /* bytes 10-11: 13 */
		0, 0x80,        /* empty, no line */
		2, 0xfd,        /* bytes 12-13: 10 */
	};

	(void)state;
	assert_int_equal(linetable(t, sizeof(t), 10, 0), 11);
	assert_int_equal(linetable(t, sizeof(t), 10, 2), 11);
	assert_int_equal(linetable(t, sizeof(t), 10, 3), -1);
	assert_int_equal(linetable(t, sizeof(t), 10, 4), -1);
	assert_int_equal(linetable(t, sizeof(t), 10, 5), 13);
	assert_int_equal(linetable(t, sizeof(t), 10, 6), 10);
	/* Past the last range. */
	assert_int_equal(linetable(t, sizeof(t), 10, 7), -1);
	assert_int_equal(linetable(t, sizeof(t), 10, INT32_MAX), -1);
	/* Cut in the middle of a pair. */
	assert_int_equal(linetable(t, sizeof(t) - 1, 10, 0), -1);
}

static void test_linetable_zero_length(void **state)
{
	/* A jump of +300 is written as zero-length entries plus a range. */
	static const uint8_t t[] = { 0, 127, 0, 127, 4, 46, 0, 0x81, 2, 0 };

	(void)state;
	assert_int_equal(linetable(t, sizeof(t), 1, 0), 301);
	assert_int_equal(linetable(t, sizeof(t), 1, 1), 301);
	/* Back by 127 through an empty entry, then a range on that line. */
	assert_int_equal(linetable(t, sizeof(t), 1, 2), 174);
	assert_int_equal(linetable(t, sizeof(t), 1, 3), -1);
}

/* First byte of a location entry: code and length in code units (1-8). */
#define LOC(code, units) (uint8_t)(0x80 | ((code) << 3) | ((units) - 1))

static void test_locations_forms(void **state)
{
	static const uint8_t t[] = {
		LOC(0, 2), 0x05,              /* short form: line 20, units 0-1 */
		LOC(11, 1), 4, 9,             /* one-line +1: 21, unit 2 */
		LOC(12, 1), 4, 9,             /* one-line +2: 23, unit 3 */
		LOC(13, 3), 0x07,             /* no columns, -3: 20, units 4-6 */
		LOC(15, 2),                   /* no location: units 7-8 */
		LOC(14, 1), 0x42, 0x04, 0, 5, 9, /* long, two-chunk 258 = +129: 149 */
		LOC(10, 8), 1, 2,             /* one-line +0: 149, units 10-17 */
	};

	(void)state;
	assert_int_equal(locations(t, sizeof(t), 20, 0), 20);
	assert_int_equal(locations(t, sizeof(t), 20, 1), 20);
	assert_int_equal(locations(t, sizeof(t), 20, 2), 21);
	assert_int_equal(locations(t, sizeof(t), 20, 3), 23);
	assert_int_equal(locations(t, sizeof(t), 20, 4), 20);
	assert_int_equal(locations(t, sizeof(t), 20, 6), 20);
	assert_int_equal(locations(t, sizeof(t), 20, 7), -1);
	assert_int_equal(locations(t, sizeof(t), 20, 8), -1);
	assert_int_equal(locations(t, sizeof(t), 20, 9), 149);
	assert_int_equal(locations(t, sizeof(t), 20, 10), 149);
	assert_int_equal(locations(t, sizeof(t), 20, 17), 149);
	assert_int_equal(locations(t, sizeof(t), 20, 18), -1);
	assert_int_equal(locations(t, sizeof(t), 20, INT32_MAX), -1);
}

static void test_locations_malformed(void **state)
{
	/* The varint says "more" and the table ends. */
	static const uint8_t truncated[] = { LOC(0, 1), 0, LOC(13, 1), 0x41 };
	/* The varint says "more" and the next entry starts. */
	static const uint8_t runs_into[] = { LOC(13, 1), 0x41, LOC(0, 1), 0 };
	/* More continuation chunks than any 32-bit delta needs. */
	static const uint8_t too_long[] = { LOC(13, 1), 0x40, 0x40, 0x40, 0x40,
					    0x40, 0x40, 0x40, 0x00 };
	/* The largest delta six chunks hold leaves int's range. */
	static const uint8_t huge[] = { LOC(13, 1), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x3e };
	/* Does not start with an entry byte. */
	static const uint8_t no_head[] = { 0x05, LOC(0, 1), 0 };
	/* Takes the line below zero. */
	static const uint8_t negative[] = { LOC(13, 1), 0x0b };

	(void)state;
	/* The intact entry before the damage still answers. */
	assert_int_equal(locations(truncated, sizeof(truncated), 3, 0), 3);
	assert_int_equal(locations(truncated, sizeof(truncated), 3, 1), -1);
	assert_int_equal(locations(runs_into, sizeof(runs_into), 3, 0), -1);
	assert_int_equal(locations(runs_into, sizeof(runs_into), 3, 1), -1);
	assert_int_equal(locations(too_long, sizeof(too_long), 3, 0), -1);
	assert_int_equal(locations(huge, sizeof(huge), 3, 0), -1);
	assert_int_equal(locations(no_head, sizeof(no_head), 3, 0), -1);
	assert_int_equal(locations(negative, sizeof(negative), 3, 0), -1);
	/* Five chunks that all say "more", then the end. */
	assert_int_equal(locations(too_long, 6, 3, 0), -1);
	/* Six chunks is the most we take, and still decodes (value 0). */
	assert_int_equal(locations((const uint8_t[]){ LOC(13, 1), 0x40, 0x40, 0x40, 0x40,
						      0x40, 0x00 }, 7, 3, 0), 3);
	/* An unknown format is never guessed at. */
	assert_int_equal(py_linetable_line((enum py_linetable_format)99, truncated,
					   sizeof(truncated), 3, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_3_8),
		cmocka_unit_test(test_vectors_3_9),
		cmocka_unit_test(test_vectors_3_10),
		cmocka_unit_test(test_vectors_3_11),
		cmocka_unit_test(test_vectors_3_11_debian),
		cmocka_unit_test(test_vectors_3_12),
		cmocka_unit_test(test_vectors_3_13),
		cmocka_unit_test(test_vectors_3_14),
		cmocka_unit_test(test_vectors_3_15),
		cmocka_unit_test(test_format_for),
		cmocka_unit_test(test_empty_table),
		cmocka_unit_test(test_not_started),
		cmocka_unit_test(test_lnotab),
		cmocka_unit_test(test_linetable_no_line),
		cmocka_unit_test(test_linetable_zero_length),
		cmocka_unit_test(test_locations_forms),
		cmocka_unit_test(test_locations_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
