/*
 * layout.c - find the struct py_layout that describes a target CPython.
 *
 * 3.8 - 3.12 come from the compiled py_layout_table[]; 3.13+ are filled from
 * the target's own _Py_DebugOffsets, with py_debug_pos_table[] saying where
 * each number sits inside it (both tables are generated: layout_table.c).
 */
#include "pyrometer/pylayout.h"

#include <errno.h>
#include <string.h>

/*
 * The head of _Py_DebugOffsets is the one part that is stable across minor
 * versions: it is how a reader learns which minor it is looking at before it
 * knows anything else. char cookie[8]; uint64_t version; uint64_t free_threaded.
 */
#define DEBUG_COOKIE "xdebugpy"
#define DEBUG_COOKIE_LEN 8
#define DEBUG_VERSION_POS 8
#define DEBUG_FREE_THREADED_POS 16
#define DEBUG_HEAD_LEN 24

/* No offset or size pyrometer reads is anywhere near this; a larger value
 * means the bytes are not what we think they are. */
#define DEBUG_VALUE_MAX (UINT64_C(1) << 20)

const struct py_layout *py_layout_find(int major, int minor)
{
	for (size_t i = 0; i < py_layout_table_len; i++) {
		const struct py_layout *l = &py_layout_table[i];

		if (l->major == major && l->minor == minor)
			return l;
	}
	return NULL;
}

const struct py_debug_pos *py_debug_pos_find(int major, int minor)
{
	for (size_t i = 0; i < py_debug_pos_table_len; i++) {
		const struct py_debug_pos *p = &py_debug_pos_table[i];

		if (p->major == major && p->minor == minor)
			return p;
	}
	return NULL;
}

/* Which struct py_layout field each published debug offset fills. */
struct debug_map {
	size_t pos;     /* offsetof(struct py_debug_pos, ...) */
	size_t layout;  /* offsetof(struct py_layout, ...) */
};

#define MAP(p, l) { offsetof(struct py_debug_pos, p), offsetof(struct py_layout, l) }

static const struct debug_map debug_map[] = {
	MAP(rt_interp_head, rt_interp_head),
	MAP(is_next, is_next),
	MAP(is_threads_head, is_threads_head),
	MAP(is_gil_locked, is_gil_locked),
	MAP(is_gil_holder, is_gil_holder),
	MAP(ts_size, ts_size),
	MAP(ts_next, ts_next),
	MAP(ts_interp, ts_interp),
	MAP(ts_current_frame, ts_current_frame),
	MAP(ts_thread_id, ts_thread_id),
	MAP(ts_native_thread_id, ts_native_thread_id),
	MAP(ts_datastack_chunk, ts_datastack_chunk),
	MAP(fr_size, fr_size),
	MAP(fr_previous, fr_back),
	MAP(fr_executable, fr_code),
	MAP(fr_instr_ptr, fr_instr),
	MAP(fr_owner, fr_owner),
	MAP(co_size, co_size),
	MAP(co_filename, co_filename),
	MAP(co_name, co_name),
	MAP(co_qualname, co_qualname),
	MAP(co_linetable, co_linetable),
	MAP(co_firstlineno, co_firstlineno),
	MAP(co_code_adaptive, co_code_adaptive),
	MAP(ob_type, ob_type),
	MAP(bytes_ob_size, var_ob_size),
	MAP(bytes_ob_sval, bytes_ob_sval),
	MAP(str_state, str_state),
	MAP(str_length, str_length),
	MAP(str_ascii_size, str_ascii_size),
};

static int32_t field_get(const void *s, size_t off)
{
	int32_t v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

static void field_set(void *s, size_t off, int32_t v)
{
	memcpy((char *)s + off, &v, sizeof(v));
}

/* The uint64 at byte pos of buf, if it lies inside both buf and the
 * _Py_DebugOffsets this minor version defines (size bytes). */
static int read_u64(const uint8_t *buf, size_t len, int32_t size, int32_t pos, uint64_t *v)
{
	if (pos < 0 || size < 0 || (size_t)pos > len || len - (size_t)pos < sizeof(*v) ||
	    pos > size || size - pos < (int32_t)sizeof(*v))
		return -EPROTO;
	memcpy(v, buf + pos, sizeof(*v));
	return 0;
}

/*
 * Fields _Py_DebugOffsets does not publish. The values below hold for every
 * non-free-threaded 3.13+ build (tools/gen-offsets refuses headers that
 * break the first two):
 *  - str_compact_size: PyCompactUnicodeObject is PyASCIIObject followed by
 *    Py_ssize_t utf8_length and char *utf8, so 16 bytes more;
 *  - str_data: PyUnicodeObject is PyCompactUnicodeObject followed by the data
 *    pointer;
 *  - the rest do not exist in 3.13+ (ts_frame, ts_cframe, cf_current_frame,
 *    fr_lasti, fr_is_entry, rt_main_thread, rt_gilstate_current), or pyrometer
 *    reads the GIL through is_gil_locked/is_gil_holder instead of is_gil_ptr,
 *    gil_locked and gil_last_holder, or CPython stopped publishing them
 *    (co_firsttraceable): all -1.
 */
static void fill_unpublished(struct py_layout *out)
{
	out->ts_frame = -1;
	out->ts_cframe = -1;
	out->cf_current_frame = -1;
	out->cf_previous = -1;
	out->ts_root_cframe = -1;
	out->fr_lasti = -1;
	out->fr_is_entry = -1;
	out->co_firsttraceable = -1;
	out->rt_main_thread = -1;
	out->rt_gilstate_current = -1;
	out->is_gil_ptr = -1;
	out->gil_locked = -1;
	out->gil_last_holder = -1;
	if (out->str_ascii_size >= 0) {
		out->str_compact_size = out->str_ascii_size + 16;
		out->str_data = out->str_compact_size;
	} else {
		out->str_compact_size = -1;
		out->str_data = -1;
	}
}

/*
 * On failure *out holds only major/minor (0 when the buffer could not be
 * identified at all); every other field is -1.
 */
int py_layout_from_debug_offsets(const uint8_t *buf, size_t len, struct py_layout *out)
{
	const struct py_debug_pos *pos;
	struct py_layout l;
	uint64_t version, free_threaded;

	if (!out)
		return -EINVAL;
	/* Every field of struct py_layout is an int: all bytes 0xff is -1,
	 * "absent", in each of them until it is read. */
	memset(out, 0xff, sizeof(*out));
	out->major = 0;
	out->minor = 0;
	if (!buf || len < DEBUG_HEAD_LEN ||
	    memcmp(buf, DEBUG_COOKIE, DEBUG_COOKIE_LEN) != 0)
		return -EINVAL;

	memcpy(&version, buf + DEBUG_VERSION_POS, sizeof(version));
	memcpy(&free_threaded, buf + DEBUG_FREE_THREADED_POS, sizeof(free_threaded));
	/* PY_VERSION_HEX: 0xMMmmppRS */
	out->major = (int)(version >> 24 & 0xff);
	out->minor = (int)(version >> 16 & 0xff);
	/* Free-threaded builds move every PyObject field; no table covers them. */
	if (free_threaded != 0)
		return -ENOTSUP;
	pos = py_debug_pos_find(out->major, out->minor);
	if (!pos)
		return -ENOTSUP;

	l = *out;
	for (size_t i = 0; i < sizeof(debug_map) / sizeof(debug_map[0]); i++) {
		int32_t at = field_get(pos, debug_map[i].pos);
		uint64_t v;
		int err;

		if (at < 0)
			continue;   /* this minor does not publish it: stays -1 */
		/* A buffer too short for this minor is as wrong as a bad value. */
		err = read_u64(buf, len, pos->size, at, &v);
		if (err)
			return err;
		if (v > DEBUG_VALUE_MAX)
			return -EPROTO;
		field_set(&l, debug_map[i].layout, (int32_t)v);
	}
	fill_unpublished(&l);
	*out = l;
	return 0;
}
