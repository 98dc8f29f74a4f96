/*
 * linetable.c - instruction index -> source line for CPython 3.8 and later.
 *
 * Three encodings, one per era (see /work/shared/cpython-internals.md §5):
 *  - 3.8/3.9 co_lnotab: (address increment, signed line increment) byte
 *    pairs, addresses in bytes;
 *  - 3.10 co_linetable: (range length, signed line delta) byte pairs,
 *    addresses in bytes, delta -128 meaning "this range has no line";
 *  - 3.11+ location table: variable-length entries of 1-8 code units each,
 *    whose first byte has bit 7 set.
 *
 * This runs once per Python frame per sample, on bytes copied out of another
 * process. So: a single forward scan, no allocation, every byte read checked
 * against len, and lines kept in a 64-bit accumulator so a hostile table can
 * neither overflow nor make us loop past its end.
 */
#include <limits.h>
#include <stdbool.h>

#include "pyrometer/linetable.h"

/* A location entry's first byte; every other byte of an entry is < 0x80. */
#define LOC_ENTRY_START 0x80u
/* Location codes with a meaning for the line (others leave it unchanged). */
#define LOC_ONE_LINE0 10
#define LOC_ONE_LINE2 12
#define LOC_NO_COLUMNS 13
#define LOC_LONG 14
#define LOC_NONE 15
/* varints carry 6 bits per byte, 0x40 meaning "more follows". */
#define VARINT_MORE 0x40u
#define VARINT_BITS 0x3fu
/* A line delta fits in 32 bits; 6 chunks (36 bits) is more than CPython ever
 * writes, and bounding it keeps a run of continuation bytes from shifting
 * past the accumulator's width. */
#define VARINT_MAX_CHUNKS 6
/* 3.10's marker for "no line" in a line delta. */
#define LINETABLE_NO_LINE (-128)

enum py_linetable_format py_linetable_format_for(int major, int minor)
{
	if (major < 3 || (major == 3 && minor <= 9))
		return PY_LT_LNOTAB;
	if (major == 3 && minor == 10)
		return PY_LT_LINETABLE;
	return PY_LT_LOCATIONS;
}

/* A computed line outside int's range can only come from a forged table. */
static bool line_in_range(int64_t line)
{
	return line >= INT_MIN && line <= INT_MAX;
}

/* Lines below zero do not exist; report them as "no line". */
static int line_result(int64_t line)
{
	return line < 0 || line > INT_MAX ? -1 : (int)line;
}

static int lnotab_line(const uint8_t *tab, size_t len, int firstlineno, int64_t byte)
{
	int64_t line = firstlineno;
	int64_t addr = 0;

	/* Pairs only: a dangling byte means the copy or the table is bad. */
	if (len % 2)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		addr += tab[i];
		/* The line increment of a pair applies from its address on. */
		if (addr > byte)
			break;
		line += (int8_t)tab[i + 1];
		if (!line_in_range(line))
			return -1;
	}
	/* The last line runs to the end of the code, which the table does not
	 * record, so an index past the last pair still gets that line. */
	return line_result(line);
}

static int linetable_line(const uint8_t *tab, size_t len, int firstlineno, int64_t byte)
{
	int64_t line = firstlineno;
	int64_t start = 0;

	if (len % 2)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int64_t end = start + tab[i];
		int delta = (int8_t)tab[i + 1];
		bool has_line = delta != LINETABLE_NO_LINE;

		/* Zero-length entries still move the line: they are how deltas
		 * beyond +-127 are spelled. */
		if (has_line) {
			line += delta;
			if (!line_in_range(line))
				return -1;
		}
		if (byte < end)
			return has_line ? line_result(line) : -1;
		start = end;
	}
	return -1;
}

/*
 * Read a location-table varint starting at *pos. Fails when it runs off the
 * table, into the next entry, or past VARINT_MAX_CHUNKS bytes.
 */
static int read_varint(const uint8_t *tab, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t val = 0;

	for (unsigned chunk = 0; chunk < VARINT_MAX_CHUNKS; chunk++) {
		uint8_t b;

		if (*pos >= len)
			return -1;
		b = tab[(*pos)++];
		if (b & LOC_ENTRY_START)
			return -1;
		val |= (uint64_t)(b & VARINT_BITS) << (6 * chunk);
		if (!(b & VARINT_MORE)) {
			*out = val;
			return 0;
		}
	}
	return -1;
}

/* Signed varints keep the sign in bit 0 and the magnitude above it. */
static int read_svarint(const uint8_t *tab, size_t len, size_t pos, int64_t *out)
{
	uint64_t u;

	if (read_varint(tab, len, &pos, &u))
		return -1;
	*out = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return 0;
}

/* Line delta of the entry whose first byte is tab[pos]. */
static int location_delta(const uint8_t *tab, size_t len, size_t pos, int64_t *delta)
{
	unsigned code = (tab[pos] >> 3) & 15;

	if (code == LOC_NO_COLUMNS || code == LOC_LONG)
		return read_svarint(tab, len, pos + 1, delta);
	if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2)
		*delta = code - LOC_ONE_LINE0;
	else
		*delta = 0; /* short forms and "no location" keep the line */
	return 0;
}

static int locations_line(const uint8_t *tab, size_t len, int firstlineno, int64_t idx)
{
	int64_t line = firstlineno;
	int64_t addr = 0;
	size_t pos = 0;

	while (pos < len) {
		uint8_t head = tab[pos];
		int64_t delta;

		if (!(head & LOC_ENTRY_START))
			return -1;
		if (location_delta(tab, len, pos, &delta))
			return -1;
		line += delta;
		if (!line_in_range(line))
			return -1;
		addr += (head & 7) + 1;
		if (idx < addr)
			return ((head >> 3) & 15) == LOC_NONE ? -1 : line_result(line);
		/* Column data is not needed: skip to the next entry's first byte. */
		do
			pos++;
		while (pos < len && !(tab[pos] & LOC_ENTRY_START));
	}
	return -1;
}

int py_linetable_line(enum py_linetable_format fmt, const uint8_t *tab, size_t len,
		      int firstlineno, int32_t idx)
{
	if (idx < 0)
		return firstlineno;
	if (!tab)
		len = 0;

	switch (fmt) {
	case PY_LT_LNOTAB:
		return lnotab_line(tab, len, firstlineno, 2 * (int64_t)idx);
	case PY_LT_LINETABLE:
		return linetable_line(tab, len, firstlineno, 2 * (int64_t)idx);
	case PY_LT_LOCATIONS:
		return locations_line(tab, len, firstlineno, idx);
	}
	return -1;
}
