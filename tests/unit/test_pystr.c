/*
 * test_pystr.c - str headers and character data as a target would hold them.
 *
 * Layouts are built by hand with only the str fields set, so these tests do
 * not depend on the generated layout table; state words are built from the
 * bit positions documented for each version.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pyrometer/pylayout.h"
#include "pyrometer/pystr.h"

/* State word bits: interned b0-1, kind b2-4, compact b5, ascii b6, b7 is
 * "ready" (<= 3.11) or "statically allocated" (3.12+). */
#define ST_KIND(k) ((uint32_t)(k) << 2)
#define ST_COMPACT (1u << 5)
#define ST_ASCII (1u << 6)
#define ST_BIT7 (1u << 7)
#define ST_INTERNED 1u

#define HDR_LEN 80

/* Every field unknown except the ones a str needs. */
static struct py_layout layout(int minor, int32_t ascii_size, int32_t compact_size)
{
	struct py_layout L;

	memset(&L, 0xff, sizeof(L)); /* every int32_t field becomes -1 */
	L.major = 3;
	L.minor = minor;
	L.str_length = 16;
	L.str_state = 32;
	L.str_ascii_size = ascii_size;
	L.str_compact_size = compact_size;
	L.str_data = compact_size;
	return L;
}

static struct py_layout layout_3_11(void)
{
	return layout(11, 48, 72);
}

static struct py_layout layout_3_12(void)
{
	return layout(12, 40, 56);
}

/* An object header with the given state and length, padded with 0xee. */
static void make_hdr(uint8_t hdr[HDR_LEN], uint32_t state, int64_t length)
{
	memset(hdr, 0xee, HDR_LEN);
	memcpy(hdr + 16, &length, sizeof(length));
	memcpy(hdr + 32, &state, sizeof(state));
}

static int parse(const struct py_layout *L, uint32_t state, int64_t length,
		 struct pystr_info *info)
{
	uint8_t hdr[HDR_LEN];

	make_hdr(hdr, state, length);
	return pystr_parse(L, hdr, sizeof(hdr), info);
}

static void expect_info(const struct pystr_info *info, unsigned kind, int compact,
			int ascii, size_t length, size_t data_offset)
{
	assert_int_equal(info->kind, kind);
	assert_int_equal(info->compact, compact);
	assert_int_equal(info->ascii, ascii);
	assert_int_equal(info->length, length);
	assert_int_equal(info->data_offset, data_offset);
}

static void test_parse_3_11(void **state)
{
	struct py_layout L = layout_3_11();
	struct pystr_info info;

	(void)state;
	/* Compact ASCII: characters right after PyASCIIObject. */
	assert_int_equal(parse(&L, ST_INTERNED | ST_KIND(1) | ST_COMPACT | ST_ASCII | ST_BIT7,
			       5, &info), 0);
	expect_info(&info, 1, 1, 1, 5, 48);
	/* Compact UCS-2: after PyCompactUnicodeObject. */
	assert_int_equal(parse(&L, ST_KIND(2) | ST_COMPACT | ST_BIT7, 7, &info), 0);
	expect_info(&info, 2, 1, 0, 7, 72);
	/* Compact Latin-1 that is not ASCII. */
	assert_int_equal(parse(&L, ST_KIND(1) | ST_COMPACT | ST_BIT7, 3, &info), 0);
	expect_info(&info, 1, 1, 0, 3, 72);
	/* Legacy string: data behind a pointer, no offset. */
	assert_int_equal(parse(&L, ST_KIND(4) | ST_BIT7, 2, &info), 0);
	expect_info(&info, 4, 0, 0, 2, 0);
	/* Not ready: only wstr exists, nothing to decode. */
	assert_int_equal(parse(&L, ST_KIND(1) | ST_COMPACT | ST_ASCII, 5, &info), -EINVAL);
	/* Kind 0 (wstr) and 3 (never used) are not strings we can read. */
	assert_int_equal(parse(&L, ST_KIND(0) | ST_COMPACT | ST_BIT7, 5, &info), -EINVAL);
	assert_int_equal(parse(&L, ST_KIND(3) | ST_COMPACT | ST_BIT7, 5, &info), -EINVAL);
	assert_int_equal(parse(&L, ST_KIND(7) | ST_BIT7, 5, &info), -EINVAL);
}

static void test_parse_3_12(void **state)
{
	struct py_layout L = layout_3_12();
	struct pystr_info info;

	(void)state;
	/* No ready bit any more: a plain compact ASCII state is fine. */
	assert_int_equal(parse(&L, ST_KIND(1) | ST_COMPACT | ST_ASCII, 11, &info), 0);
	expect_info(&info, 1, 1, 1, 11, 40);
	/* Bit 7 is now "statically allocated" and changes nothing. */
	assert_int_equal(parse(&L, ST_INTERNED | ST_KIND(1) | ST_COMPACT | ST_ASCII | ST_BIT7,
			       0, &info), 0);
	expect_info(&info, 1, 1, 1, 0, 40);
	assert_int_equal(parse(&L, ST_KIND(2) | ST_COMPACT, 4, &info), 0);
	expect_info(&info, 2, 1, 0, 4, 56);
	assert_int_equal(parse(&L, ST_KIND(4) | ST_COMPACT, 1, &info), 0);
	expect_info(&info, 4, 1, 0, 1, 56);
	assert_int_equal(parse(&L, ST_KIND(2), 9, &info), 0);
	expect_info(&info, 2, 0, 0, 9, 0);
	assert_int_equal(parse(&L, ST_KIND(0) | ST_COMPACT, 5, &info), -EINVAL);
	assert_int_equal(parse(&L, ST_KIND(3) | ST_COMPACT | ST_ASCII, 5, &info), -EINVAL);
}

static void test_parse_rejects(void **state)
{
	struct py_layout L = layout_3_12();
	struct py_layout no_state = layout_3_12();
	struct py_layout no_sizes = layout(12, -1, -1);
	struct pystr_info info;
	uint8_t hdr[HDR_LEN];

	(void)state;
	/* ASCII strings are one byte per character, always. */
	assert_int_equal(parse(&L, ST_KIND(2) | ST_COMPACT | ST_ASCII, 5, &info), -EINVAL);
	assert_int_equal(parse(&L, ST_KIND(1) | ST_COMPACT | ST_ASCII, -1, &info), -EINVAL);

	/* The state word ends at byte 36: one byte less is too short. */
	make_hdr(hdr, ST_KIND(1) | ST_COMPACT | ST_ASCII, 5);
	assert_int_equal(pystr_parse(&L, hdr, 36, &info), 0);
	assert_int_equal(pystr_parse(&L, hdr, 35, &info), -EINVAL);
	assert_int_equal(pystr_parse(&L, hdr, 0, &info), -EINVAL);

	/* A layout that does not know where the fields are. */
	no_state.str_state = -1;
	assert_int_equal(pystr_parse(&no_state, hdr, sizeof(hdr), &info), -EINVAL);
	assert_int_equal(pystr_parse(&no_sizes, hdr, sizeof(hdr), &info), -EINVAL);
	assert_int_equal(pystr_parse(NULL, hdr, sizeof(hdr), &info), -EINVAL);
}

/* Convert and compare output and return value. */
static void expect_utf8(unsigned kind, const void *data, size_t n, size_t cap,
			const char *want, int want_ret)
{
	char out[64];

	assert_true(cap <= sizeof(out));
	memset(out, 'X', sizeof(out));
	assert_int_equal(pystr_to_utf8(kind, data, n, out, cap), want_ret);
	assert_string_equal(out, want);
	/* Nothing written beyond the NUL. */
	for (size_t i = strlen(want) + 1; i < sizeof(out); i++)
		assert_int_equal(out[i], 'X');
}

static void test_utf8_ascii_latin1(void **state)
{
	static const uint8_t latin1[] = { 0xe9, ' ', 0xff };

	(void)state;
	expect_utf8(1, "hello", 5, 64, "hello", 5);
	expect_utf8(1, latin1, 3, 64, "\xc3\xa9 \xc3\xbf", 5);
	expect_utf8(1, "", 0, 64, "", 0);
}

static void test_utf8_ucs2_ucs4(void **state)
{
	static const uint16_t nihon[] = { 0x65e5, 0x672c, 0x00f6 }; /* 日本ö */
	static const uint32_t wide[] = { 0x1f600, 'a', 0x10ffff };

	(void)state;
	expect_utf8(2, nihon, 3, 64, "\xe6\x97\xa5\xe6\x9c\xac\xc3\xb6", 8);
	expect_utf8(4, wide, 3, 64, "\xf0\x9f\x98\x80" "a\xf4\x8f\xbf\xbf", 9);
}

static void test_utf8_invalid(void **state)
{
	static const uint16_t lone[] = { 'a', 0xd800, 'b' };
	static const uint16_t low[] = { 0xdfff };
	static const uint32_t beyond[] = { 0x110000, 0xdc00, 'z' };

	(void)state;
	/* A lone surrogate becomes U+FFFD and the call says so. */
	expect_utf8(2, lone, 3, 64, "a\xef\xbf\xbd" "b", -1);
	expect_utf8(2, low, 1, 64, "\xef\xbf\xbd", -1);
	expect_utf8(4, beyond, 3, 64, "\xef\xbf\xbd\xef\xbf\xbdz", -1);
	/* Not a kind: nothing decoded, still a terminated string. */
	expect_utf8(3, "abc", 1, 64, "", -1);
}

static void test_utf8_cap(void **state)
{
	static const uint16_t nihon[] = { 0x65e5, 0x672c };
	char out[4] = { 'X', 'X', 'X', 'X' };

	(void)state;
	/* Room for one 3-byte character plus the NUL, not for a second. */
	expect_utf8(2, nihon, 2, 6, "\xe6\x97\xa5", 3);
	expect_utf8(2, nihon, 2, 4, "\xe6\x97\xa5", 3);
	/* Not even the first fits: an empty string, never half a sequence. */
	expect_utf8(2, nihon, 2, 3, "", 0);
	expect_utf8(1, "hello", 5, 3, "he", 2);
	expect_utf8(1, "hello", 5, 1, "", 0);
	/* cap 0: nothing at all is written. */
	assert_int_equal(pystr_to_utf8(1, (const uint8_t *)"hello", 5, out, 0), 0);
	assert_memory_equal(out, "XXXX", 4);
	/* A replacement that does not fit is not reported either. */
	expect_utf8(2, (const uint16_t[]){ 'a', 0xd800 }, 2, 3, "a", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_3_11),
		cmocka_unit_test(test_parse_3_12),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_utf8_ascii_latin1),
		cmocka_unit_test(test_utf8_ucs2_ucs4),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_utf8_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
