/*
 * pystr.h - decoding CPython str objects copied out of a target.
 *
 * The caller copies the object header (and, for compact strings, the data
 * that follows it); these functions interpret the bytes for a given layout
 * and never read outside what they are given.
 */
#ifndef PYROMETER_PYSTR_H
#define PYROMETER_PYSTR_H

#include <stddef.h>
#include <stdint.h>

struct py_layout;

/* What the state word of a PyASCIIObject says. */
struct pystr_info {
	unsigned kind;        /* 1, 2 or 4 bytes per character */
	int compact;
	int ascii;
	size_t length;        /* characters */
	size_t data_offset;   /* compact: where the characters start in the object */
};

/*
 * Parse the header of a str object (hdr holds at least len bytes from the
 * object's start). Returns 0, or -EINVAL when the header is not a usable
 * string (bad kind, not ready, header shorter than the layout needs).
 */
int pystr_parse(const struct py_layout *L, const uint8_t *hdr, size_t len,
		struct pystr_info *out);

/*
 * Convert n characters of the given kind (1 = Latin-1, 2 = UCS-2, 4 = UCS-4)
 * to UTF-8 in out (cap bytes, always NUL-terminated when cap > 0). Returns
 * the UTF-8 length written, or -1 when a code point is invalid (a surrogate
 * or > 0x10FFFF, written as U+FFFD) - the output is still usable. Output that
 * does not fit is cut at a character boundary.
 */
int pystr_to_utf8(unsigned kind, const uint8_t *data, size_t n, char *out, size_t cap);

#endif
