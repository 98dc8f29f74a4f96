/*
 * pystr.c - make sense of a CPython str copied out of a target.
 *
 * The state word is a C bitfield; its bit positions are fixed by the x86-64
 * SysV ABI (first member in the lowest bits), so we test bits rather than
 * mirror the struct. Layout per version: /work/shared/cpython-internals.md §6.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "pyrometer/pylayout.h"
#include "pyrometer/pystr.h"

/* state: interned b0-1, kind b2-4, compact b5, ascii b6, then b7 is
 * "ready" up to 3.11 and "statically_allocated" from 3.12 on. */
#define STATE_KIND_SHIFT 2
#define STATE_KIND_MASK 7u
#define STATE_COMPACT (1u << 5)
#define STATE_ASCII (1u << 6)
#define STATE_READY (1u << 7)

#define UTF8_REPLACEMENT 0xfffdu

/* Whether a field of size bytes at off lies inside a len-byte header. */
static bool field_fits(int32_t off, size_t size, size_t len)
{
	return off >= 0 && (size_t)off <= len && size <= len - (size_t)off;
}

/* 3.12 dropped the "ready" bit together with the wstr representation. */
static bool has_ready_bit(const struct py_layout *L)
{
	return L->major < 3 || (L->major == 3 && L->minor <= 11);
}

int pystr_parse(const struct py_layout *L, const uint8_t *hdr, size_t len,
		struct pystr_info *out)
{
	uint32_t state;
	int64_t length;
	unsigned kind;
	int32_t data_offset = 0;

	if (!L || !hdr || !out)
		return -EINVAL;
	if (!field_fits(L->str_state, sizeof(state), len) ||
	    !field_fits(L->str_length, sizeof(length), len))
		return -EINVAL;
	memcpy(&state, hdr + L->str_state, sizeof(state));
	memcpy(&length, hdr + L->str_length, sizeof(length));

	/* Kind 0 is 3.11's not-yet-ready wstr string; 3 was never used. */
	kind = (state >> STATE_KIND_SHIFT) & STATE_KIND_MASK;
	if (kind != 1 && kind != 2 && kind != 4)
		return -EINVAL;
	if (has_ready_bit(L) && !(state & STATE_READY))
		return -EINVAL;
	/* An ASCII string is always one byte per character; anything else is
	 * a torn read or not a str at all. */
	if ((state & STATE_ASCII) && kind != 1)
		return -EINVAL;
	if (length < 0)
		return -EINVAL;

	if (state & STATE_COMPACT) {
		data_offset = (state & STATE_ASCII) ? L->str_ascii_size : L->str_compact_size;
		if (data_offset <= 0)
			return -EINVAL;
	}

	out->kind = kind;
	out->compact = !!(state & STATE_COMPACT);
	out->ascii = !!(state & STATE_ASCII);
	out->length = (size_t)length;
	out->data_offset = (size_t)data_offset;
	return 0;
}

/* Code point i of a kind-byte array (the target is little-endian x86-64,
 * like us, so a plain copy gives the value). */
static uint32_t char_at(unsigned kind, const uint8_t *data, size_t i)
{
	uint16_t u16;
	uint32_t u32;

	switch (kind) {
	case 1:
		return data[i];
	case 2:
		memcpy(&u16, data + 2 * i, sizeof(u16));
		return u16;
	default:
		memcpy(&u32, data + 4 * i, sizeof(u32));
		return u32;
	}
}

/* Encode cp (already valid) into buf; returns its length, 1-4. */
static size_t utf8_encode(uint32_t cp, char buf[4])
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | (cp >> 18));
	buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	buf[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Surrogates cannot be encoded in UTF-8 and nothing lies above 0x10FFFF. */
static bool codepoint_valid(uint32_t cp)
{
	return cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
}

int pystr_to_utf8(unsigned kind, const uint8_t *data, size_t n, char *out, size_t cap)
{
	/* Leave room for the NUL, and keep the length representable as int. */
	size_t room = cap ? cap - 1 : 0;
	size_t used = 0;
	bool bad = false;

	if (room > INT_MAX)
		room = INT_MAX;
	if (kind != 1 && kind != 2 && kind != 4) {
		bad = true;
		n = 0;
	}
	if (n && (!data || n > SIZE_MAX / kind)) {
		bad = true;
		n = 0;
	}
	if (!out)
		room = cap = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t cp = char_at(kind, data, i);
		bool valid = codepoint_valid(cp);
		char buf[4];
		size_t w = utf8_encode(valid ? cp : UTF8_REPLACEMENT, buf);

		/* Stop before a character that does not fit whole: a cut
		 * sequence would make the rest of the output invalid UTF-8.
		 * Only what was written counts towards the -1. */
		if (w > room - used)
			break;
		memcpy(out + used, buf, w);
		used += w;
		bad |= !valid;
	}
	if (cap)
		out[used] = '\0';
	return bad ? -1 : (int)used;
}
