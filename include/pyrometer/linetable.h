/*
 * linetable.h - instruction index -> source line, for every CPython format.
 *
 * Pure functions over bytes copied out of the target: the table is untrusted,
 * so every read is bounds-checked and a malformed table yields "no line"
 * rather than a read past its end.
 */
#ifndef PYROMETER_LINETABLE_H
#define PYROMETER_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

enum py_linetable_format {
	PY_LT_LNOTAB,     /* 3.8, 3.9: co_lnotab, (addr_incr, line_incr) in bytes */
	PY_LT_LINETABLE,  /* 3.10: co_linetable, (range_len, line_delta), -128 = none */
	PY_LT_LOCATIONS,  /* 3.11+: location table, entries of code units */
};

/* The format a given CPython minor version uses. */
enum py_linetable_format py_linetable_format_for(int major, int minor);

/*
 * Line of the instruction at index idx, counted in 16-bit code units (so a
 * byte offset is 2*idx). Returns the line, or -1 when the instruction has no
 * line or idx lies outside the table. idx < 0 means "frame not started" and
 * returns firstlineno.
 */
int py_linetable_line(enum py_linetable_format fmt, const uint8_t *tab, size_t len,
		      int firstlineno, int32_t idx);

#endif
