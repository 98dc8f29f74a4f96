/*
 * test_layout.c - the generated layout tables against the shared reference
 * table, and py_layout_from_debug_offsets on synthetic _Py_DebugOffsets.
 *
 * The reference is cpython-offsets-table.txt, compiled independently of
 * tools/gen-offsets. It is looked up as $PYROMETER_SHARED (the file, or the
 * folder holding it), else ../shared/cpython-offsets-table.txt relative to the
 * current directory (tests run from the repository root, shared/ beside it).
 * A missing reference fails the test: a silent pass would check nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/pylayout.h"

/* ---- the reference table ------------------------------------------------ */

#define TXT_COLS 32
#define TXT_ROWS 1024
#define TXT_TOK 64

struct txt_row {
	char key[TXT_TOK];
	char val[TXT_COLS][TXT_TOK];
};

struct txt {
	char path[512];
	int ncols;
	char col[TXT_COLS][TXT_TOK];
	int nrows;
	struct txt_row row[TXT_ROWS];
};

static struct txt *ref;
static int ref_loaded;

static void ref_path(char *buf, size_t len)
{
	const char *env = getenv("PYROMETER_SHARED");
	const char *name = "cpython-offsets-table.txt";
	size_t n;

	if (!env || !*env) {
		snprintf(buf, len, "../shared/%s", name);
		return;
	}
	n = strlen(env);
	if (n > 4 && strcmp(env + n - 4, ".txt") == 0)
		snprintf(buf, len, "%s", env);
	else
		snprintf(buf, len, "%s/%s", env, name);
}

/* Split line into at most max whitespace-separated tokens. */
static int tokenize(char *line, char tok[][TXT_TOK], int max)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == max || strlen(t) >= TXT_TOK)
			return -1;
		strcpy(tok[n++], t);
	}
	return n;
}

static const char *ref_load_error;

static struct txt *ref_get(void)
{
	static char why[700];
	char line[4096], tok[TXT_COLS + 1][TXT_TOK];
	FILE *f;
	int lineno = 0;

	if (ref_loaded)
		return ref;
	ref_loaded = 1;
	ref = calloc(1, sizeof(*ref));
	if (!ref) {
		ref_load_error = "out of memory";
		return NULL;
	}
	ref_path(ref->path, sizeof(ref->path));
	f = fopen(ref->path, "r");
	if (!f) {
		snprintf(why, sizeof(why), "cannot open the reference table %s (%s); "
			 "set PYROMETER_SHARED to the folder holding "
			 "cpython-offsets-table.txt", ref->path, strerror(errno));
		goto fail;
	}
	while (fgets(line, sizeof(line), f)) {
		int n = tokenize(line, tok, TXT_COLS + 1);

		lineno++;
		if (n == 0)
			continue;
		if (n < 0 || (ref->ncols && n != ref->ncols + 1) || ref->nrows == TXT_ROWS) {
			snprintf(why, sizeof(why), "%s:%d: malformed line", ref->path, lineno);
			fclose(f);
			goto fail;
		}
		if (!ref->ncols) {
			if (strcmp(tok[0], "key") != 0 || n < 2) {
				snprintf(why, sizeof(why), "%s: no header line", ref->path);
				fclose(f);
				goto fail;
			}
			ref->ncols = n - 1;
			for (int i = 1; i < n; i++)
				strcpy(ref->col[i - 1], tok[i]);
			continue;
		}
		strcpy(ref->row[ref->nrows].key, tok[0]);
		for (int i = 1; i < n; i++)
			strcpy(ref->row[ref->nrows].val[i - 1], tok[i]);
		ref->nrows++;
	}
	fclose(f);
	if (ref->nrows == 0) {
		snprintf(why, sizeof(why), "%s: empty", ref->path);
		goto fail;
	}
	return ref;
fail:
	ref_load_error = why;
	free(ref);
	ref = NULL;
	return NULL;
}

/* Every test that needs the reference fails, loudly, without it. */
static const struct txt *ref_need(void)
{
	const struct txt *t = ref_get();

	if (!t)
		fail_msg("%s", ref_load_error);
	return t;
}

enum ref_kind { REF_NOKEY, REF_NOCOL, REF_ABSENT, REF_NUM, REF_OTHER };

static enum ref_kind ref_value(const struct txt *t, const char *key, const char *col, long *v)
{
	int c, r;
	char *end;

	for (c = 0; c < t->ncols && strcmp(t->col[c], col) != 0; c++)
		;
	if (c == t->ncols)
		return REF_NOCOL;
	for (r = 0; r < t->nrows && strcmp(t->row[r].key, key) != 0; r++)
		;
	if (r == t->nrows)
		return REF_NOKEY;
	if (strcmp(t->row[r].val[c], "-") == 0) {
		*v = -1;
		return REF_ABSENT;
	}
	*v = strtol(t->row[r].val[c], &end, 10);
	return *end ? REF_OTHER : REF_NUM;
}

static int ref_has_col(const struct txt *t, const char *col)
{
	for (int c = 0; c < t->ncols; c++)
		if (strcmp(t->col[c], col) == 0)
			return 1;
	return 0;
}

/* ---- what each struct py_layout field means, per minor version ---------- */

struct field {
	size_t off;
	const char *name;
};

#define LF(f) { offsetof(struct py_layout, f), #f }

static const struct field layout_fields[] = {
	LF(rt_interp_head), LF(rt_main_thread), LF(rt_gilstate_current),
	LF(is_next), LF(is_threads_head), LF(is_gil_ptr), LF(is_gil_locked),
	LF(is_gil_holder), LF(gil_locked), LF(gil_last_holder),
	LF(ts_size), LF(ts_next), LF(ts_interp), LF(ts_frame), LF(ts_cframe),
	LF(cf_current_frame), LF(cf_previous), LF(ts_root_cframe), LF(ts_current_frame), LF(ts_thread_id),
	LF(ts_native_thread_id), LF(ts_datastack_chunk),
	LF(fr_size), LF(fr_back), LF(fr_code), LF(fr_lasti), LF(fr_instr),
	LF(fr_is_entry), LF(fr_owner),
	LF(co_size), LF(co_firstlineno), LF(co_filename), LF(co_name),
	LF(co_qualname), LF(co_linetable), LF(co_code_adaptive), LF(co_firsttraceable),
	LF(ob_type), LF(var_ob_size), LF(bytes_ob_sval), LF(str_length),
	LF(str_state), LF(str_ascii_size), LF(str_compact_size), LF(str_data),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A new field in pylayout.h must get its line here (and a rule below). */
_Static_assert(2 * sizeof(int) + NELEM(layout_fields) * sizeof(int32_t) ==
	       sizeof(struct py_layout), "layout_fields misses a struct py_layout field");

/*
 * From minor lo to hi the field holds the reference's key (+ add); in a minor
 * no rule covers, the field must be -1. Rules reach 3.15 so that layouts
 * built from debug offsets are checked with the same rules.
 */
struct rule {
	size_t off;
	int lo, hi;
	const char *key;
	int add;
};

#define R(f, lo, hi, key) { offsetof(struct py_layout, f), lo, hi, key, 0 }
/* A value the reference lacks, stated here from the struct's definition. */
#define K(f, lo, hi, value) { offsetof(struct py_layout, f), lo, hi, NULL, value }

static const struct rule layout_rules[] = {
	R(rt_interp_head, 8, 15, "runtime.interpreters.head"),
	R(rt_main_thread, 8, 12, "runtime.main_thread(pthread_t)"),
	R(rt_gilstate_current, 8, 11, "runtime.gilstate.tstate_current"),
	R(is_next, 8, 15, "interp.next"),
	R(is_threads_head, 8, 10, "interp.tstate_head"),
	R(is_threads_head, 11, 15, "interp.threads.head"),
	R(is_gil_ptr, 12, 12, "interp.ceval.gil(ptr)"),
	R(is_gil_locked, 13, 15, "interp._gil.locked"),
	R(is_gil_holder, 13, 15, "interp._gil.last_holder"),
	R(gil_locked, 8, 12, "gil_runtime_state.locked"),
	R(gil_last_holder, 8, 12, "gil_runtime_state.last_holder"),
	R(ts_size, 8, 15, "tstate.sizeof"),
	R(ts_next, 8, 15, "tstate.next"),
	R(ts_interp, 8, 15, "tstate.interp"),
	R(ts_frame, 8, 10, "tstate.frame"),
	R(ts_cframe, 10, 12, "tstate.cframe"),
	R(cf_current_frame, 11, 12, "cframe.current_frame"),
	/* 3.10: struct _cframe { int use_tracing; struct _cframe *previous; } */
	K(cf_previous, 10, 10, 8),
	R(cf_previous, 11, 12, "cframe.previous"),
	R(ts_root_cframe, 10, 12, "tstate.root_cframe"),
	R(ts_current_frame, 13, 15, "tstate.current_frame"),
	R(ts_thread_id, 8, 15, "tstate.thread_id"),
	R(ts_native_thread_id, 11, 15, "tstate.native_thread_id"),
	R(ts_datastack_chunk, 11, 15, "tstate.datastack_chunk"),
	/* <= 3.10: read up to the end of int f_lasti, the furthest field used */
	{ offsetof(struct py_layout, fr_size), 8, 10, "PyFrameObject.f_lasti", sizeof(int) },
	R(fr_size, 11, 15, "iframe.sizeof"),
	R(fr_back, 8, 10, "PyFrameObject.f_back"),
	R(fr_back, 11, 15, "iframe.previous"),
	R(fr_code, 8, 10, "PyFrameObject.f_code"),
	R(fr_code, 11, 12, "iframe.f_code"),
	R(fr_code, 13, 15, "iframe.f_executable"),
	R(fr_lasti, 8, 10, "PyFrameObject.f_lasti"),
	R(fr_instr, 11, 12, "iframe.prev_instr"),
	R(fr_instr, 13, 15, "iframe.instr_ptr"),
	R(fr_is_entry, 11, 11, "iframe.is_entry"),
	R(fr_owner, 11, 15, "iframe.owner"),
	R(co_size, 8, 15, "code.sizeof"),
	R(co_firstlineno, 8, 15, "code.co_firstlineno"),
	R(co_filename, 8, 15, "code.co_filename"),
	R(co_name, 8, 15, "code.co_name"),
	R(co_qualname, 11, 15, "code.co_qualname"),
	R(co_linetable, 8, 9, "code.co_lnotab"),
	R(co_linetable, 10, 15, "code.co_linetable"),
	R(co_code_adaptive, 11, 15, "code.co_code_adaptive"),
	R(co_firsttraceable, 11, 12, "code._co_firsttraceable"),
	R(ob_type, 8, 15, "PyObject.ob_type"),
	R(var_ob_size, 8, 15, "PyVarObject.ob_size"),
	R(bytes_ob_sval, 8, 15, "PyBytesObject.ob_sval"),
	R(str_length, 8, 15, "PyASCIIObject.length"),
	R(str_state, 8, 15, "PyASCIIObject.state"),
	R(str_ascii_size, 8, 15, "PyASCIIObject.sizeof"),
	R(str_compact_size, 8, 15, "PyCompactUnicodeObject.sizeof"),
	R(str_data, 8, 15, "PyUnicodeObject.data"),
};

static const struct rule *rule_for(size_t off, int minor)
{
	for (size_t i = 0; i < NELEM(layout_rules); i++) {
		const struct rule *r = &layout_rules[i];

		if (r->off == off && r->lo <= minor && minor <= r->hi)
			return r;
	}
	return NULL;
}

static int32_t get32(const void *s, size_t off)
{
	int32_t v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

/* Compare every field of l with the reference's column col; count checks. */
static int check_layout(const struct txt *t, const struct py_layout *l, const char *col,
			int *checked)
{
	int bad = 0;

	for (size_t i = 0; i < NELEM(layout_fields); i++) {
		const struct field *f = &layout_fields[i];
		const struct rule *r = rule_for(f->off, l->minor);
		int32_t have = get32(l, f->off);
		long want = -1;

		if (r && !r->key) {
			want = r->add;
		} else if (r) {
			enum ref_kind k = ref_value(t, r->key, col, &want);

			if (k == REF_NOKEY || k == REF_NOCOL || k == REF_OTHER) {
				print_error("3.%d %s: reference has no number for %s in column %s\n",
					    l->minor, f->name, r->key, col);
				bad++;
				continue;
			}
			if (k == REF_NUM)
				want += r->add;
		}
		if (have != want) {
			print_error("3.%d %s = %d, reference column %s says %ld (%s)\n",
				    l->minor, f->name, (int)have, col, want,
				    r ? (r->key ? r->key : "stated in test_layout.c")
				      : "absent in this version");
			bad++;
		}
		(*checked)++;
	}
	return bad;
}

/* ---- what each struct py_debug_pos field means -------------------------- */

#define DF(f, key) { offsetof(struct py_debug_pos, f), #f, key }

struct dbg_field {
	size_t off;
	const char *name;
	const char *key;
};

static const struct dbg_field dbg_fields[] = {
	DF(size, "runtime.sizeof(_Py_DebugOffsets)"),
	DF(version, "dbg@version"),
	DF(free_threaded, "dbg@free_threaded"),
	DF(rt_interp_head, "dbg@runtime_state.interpreters_head"),
	DF(is_next, "dbg@interpreter_state.next"),
	DF(is_threads_head, "dbg@interpreter_state.threads_head"),
	DF(is_gil_locked, "dbg@interpreter_state.gil_runtime_state_locked"),
	DF(is_gil_holder, "dbg@interpreter_state.gil_runtime_state_holder"),
	DF(ts_size, "dbg@thread_state.size"),
	DF(ts_next, "dbg@thread_state.next"),
	DF(ts_interp, "dbg@thread_state.interp"),
	DF(ts_current_frame, "dbg@thread_state.current_frame"),
	DF(ts_thread_id, "dbg@thread_state.thread_id"),
	DF(ts_native_thread_id, "dbg@thread_state.native_thread_id"),
	DF(ts_datastack_chunk, "dbg@thread_state.datastack_chunk"),
	DF(fr_size, "dbg@interpreter_frame.size"),
	DF(fr_previous, "dbg@interpreter_frame.previous"),
	DF(fr_executable, "dbg@interpreter_frame.executable"),
	DF(fr_instr_ptr, "dbg@interpreter_frame.instr_ptr"),
	DF(fr_owner, "dbg@interpreter_frame.owner"),
	DF(co_size, "dbg@code_object.size"),
	DF(co_filename, "dbg@code_object.filename"),
	DF(co_name, "dbg@code_object.name"),
	DF(co_qualname, "dbg@code_object.qualname"),
	DF(co_linetable, "dbg@code_object.linetable"),
	DF(co_firstlineno, "dbg@code_object.firstlineno"),
	DF(co_code_adaptive, "dbg@code_object.co_code_adaptive"),
	DF(ob_type, "dbg@pyobject.ob_type"),
	DF(bytes_ob_size, "dbg@bytes_object.ob_size"),
	DF(bytes_ob_sval, "dbg@bytes_object.ob_sval"),
	DF(str_state, "dbg@unicode_object.state"),
	DF(str_length, "dbg@unicode_object.length"),
	DF(str_ascii_size, "dbg@unicode_object.asciiobject_size"),
};

_Static_assert(2 * sizeof(int) + NELEM(dbg_fields) * sizeof(int32_t) ==
	       sizeof(struct py_debug_pos), "dbg_fields misses a struct py_debug_pos field");

/* Which py_layout field each published uint64 lands in (the contract of
 * py_layout_from_debug_offsets, written out independently of layout.c). */
struct dbg_map {
	size_t pos, layout;
};

#define DM(p, l) { offsetof(struct py_debug_pos, p), offsetof(struct py_layout, l) }

static const struct dbg_map dbg_map[] = {
	DM(rt_interp_head, rt_interp_head), DM(is_next, is_next),
	DM(is_threads_head, is_threads_head), DM(is_gil_locked, is_gil_locked),
	DM(is_gil_holder, is_gil_holder), DM(ts_size, ts_size), DM(ts_next, ts_next),
	DM(ts_interp, ts_interp), DM(ts_current_frame, ts_current_frame),
	DM(ts_thread_id, ts_thread_id), DM(ts_native_thread_id, ts_native_thread_id),
	DM(ts_datastack_chunk, ts_datastack_chunk), DM(fr_size, fr_size),
	DM(fr_previous, fr_back), DM(fr_executable, fr_code), DM(fr_instr_ptr, fr_instr),
	DM(fr_owner, fr_owner), DM(co_size, co_size), DM(co_filename, co_filename),
	DM(co_name, co_name), DM(co_qualname, co_qualname), DM(co_linetable, co_linetable),
	DM(co_firstlineno, co_firstlineno), DM(co_code_adaptive, co_code_adaptive),
	DM(ob_type, ob_type), DM(bytes_ob_size, var_ob_size),
	DM(bytes_ob_sval, bytes_ob_sval), DM(str_state, str_state),
	DM(str_length, str_length), DM(str_ascii_size, str_ascii_size),
};

/* Every py_debug_pos field but size/version/free_threaded is mapped. */
_Static_assert(NELEM(dbg_map) + 3 == NELEM(dbg_fields), "dbg_map misses a field");

/* ---- (a) the generated tables against the reference --------------------- */

static void test_tables_cover_versions(void **state)
{
	(void)state;
	for (int m = 8; m <= 12; m++) {
		if (!py_layout_find(3, m))
			fail_msg("py_layout_table has no 3.%d: rerun tools/gen-offsets", m);
	}
	assert_non_null(py_debug_pos_find(3, 13));
	assert_null(py_layout_find(3, 7));
	assert_null(py_layout_find(3, 13));
	assert_null(py_layout_find(2, 8));
	assert_null(py_debug_pos_find(3, 12));
	for (int m = 14; m <= 15; m++) {
		if (!py_debug_pos_find(3, m))
			print_message("note: no py_debug_pos for 3.%d (headers were not found "
				      "when the table was generated)\n", m);
	}
	for (size_t i = 0; i < py_layout_table_len; i++) {
		const struct py_layout *l = &py_layout_table[i];

		assert_int_equal(l->major, 3);
		assert_ptr_equal(py_layout_find(l->major, l->minor), l);
	}
	for (size_t i = 0; i < py_debug_pos_table_len; i++) {
		const struct py_debug_pos *p = &py_debug_pos_table[i];

		assert_int_equal(p->major, 3);
		assert_ptr_equal(py_debug_pos_find(p->major, p->minor), p);
	}
}

static void test_layout_table_matches_reference(void **state)
{
	const struct txt *t = ref_need();
	int bad = 0, checked = 0;
	char col[TXT_TOK];

	(void)state;
	for (size_t i = 0; i < py_layout_table_len; i++) {
		const struct py_layout *l = &py_layout_table[i];

		snprintf(col, sizeof(col), "%d.%d", l->major, l->minor);
		if (!ref_has_col(t, col)) {
			print_error("3.%d: no column %s in %s\n", l->minor, col, t->path);
			bad++;
			continue;
		}
		bad += check_layout(t, l, col, &checked);
		/* Debian's 3.11 must be served by the same entry. */
		snprintf(col, sizeof(col), "deb%d.%d", l->major, l->minor);
		if (ref_has_col(t, col))
			bad += check_layout(t, l, col, &checked);
	}
	print_message("py_layout_table: %d field values checked against %s\n", checked, t->path);
	assert_int_equal(bad, 0);
}

static void test_debug_pos_table_matches_reference(void **state)
{
	const struct txt *t = ref_need();
	int bad = 0, checked = 0, unchecked = 0;
	char col[TXT_TOK];

	(void)state;
	for (size_t i = 0; i < py_debug_pos_table_len; i++) {
		const struct py_debug_pos *p = &py_debug_pos_table[i];
		int have_col;

		snprintf(col, sizeof(col), "%d.%d", p->major, p->minor);
		have_col = ref_has_col(t, col);
		for (size_t j = 0; j < NELEM(dbg_fields); j++) {
			const struct dbg_field *f = &dbg_fields[j];
			int32_t have = get32(p, f->off);
			long want;
			enum ref_kind k = have_col ? ref_value(t, f->key, col, &want) : REF_NOCOL;

			if (k == REF_NUM || k == REF_ABSENT) {
				if (have != want) {
					print_error("3.%d %s = %d, reference says %ld (%s)\n",
						    p->minor, f->name, (int)have, want, f->key);
					bad++;
				}
				checked++;
				continue;
			}
			/* Not in the reference: say so, and still demand a
			 * plausible position (an aligned uint64 inside the struct). */
			print_message("not cross-checked: 3.%d %s = %d (%s not in the reference%s)\n",
				      p->minor, f->name, (int)have, f->key,
				      have_col ? "" : " column");
			unchecked++;
			if (f->off == offsetof(struct py_debug_pos, size)) {
				if (have < 24) {
					print_error("3.%d size = %d is too small\n", p->minor, (int)have);
					bad++;
				}
			} else if (have != -1 &&
				   (have % 8 != 0 || have < 8 || have > p->size - 8)) {
				print_error("3.%d %s = %d is not a uint64 inside a %d-byte struct\n",
					    p->minor, f->name, (int)have, (int)p->size);
				bad++;
			}
		}
		/* No two fields may share a position. */
		for (size_t j = 1; j < NELEM(dbg_fields); j++) {
			for (size_t k = j + 1; k < NELEM(dbg_fields); k++) {
				int32_t a = get32(p, dbg_fields[j].off);

				if (a != -1 && a == get32(p, dbg_fields[k].off)) {
					print_error("3.%d: %s and %s share position %d\n", p->minor,
						    dbg_fields[j].name, dbg_fields[k].name, (int)a);
					bad++;
				}
			}
		}
	}
	print_message("py_debug_pos_table: %d positions checked, %d not cross-checked\n",
		      checked, unchecked);
	assert_int_equal(bad, 0);
}

/* ---- (b) py_layout_from_debug_offsets ----------------------------------- */

static void put64(uint8_t *buf, int32_t pos, uint64_t v)
{
	memcpy(buf + pos, &v, sizeof(v));
}

/* A zeroed _Py_DebugOffsets of 3.minor with the cookie and version set. */
static uint8_t *dbg_buf(const struct py_debug_pos *p)
{
	uint8_t *buf = calloc(1, (size_t)p->size);

	assert_non_null(buf);
	memcpy(buf, "xdebugpy", 8);
	put64(buf, p->version, (uint64_t)p->major << 24 | (uint64_t)p->minor << 16 | 0xf0);
	put64(buf, p->free_threaded, 0);
	return buf;
}

static const struct py_debug_pos *pos_313(void)
{
	const struct py_debug_pos *p = py_debug_pos_find(3, 13);

	if (!p)
		fail_msg("py_debug_pos_table has no 3.13: rerun tools/gen-offsets");
	return p;
}

static void test_debug_offsets_known_values(void **state)
{
	const struct py_debug_pos *p = pos_313();
	uint8_t *buf = dbg_buf(p);
	struct py_layout l;

	(void)state;
	/* Distinct values, so a field read from the wrong place shows. */
	for (size_t i = 0; i < NELEM(dbg_map); i++)
		put64(buf, get32(p, dbg_map[i].pos), 1000 + 8 * i);
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), 0);
	assert_int_equal(l.major, 3);
	assert_int_equal(l.minor, 13);
	for (size_t i = 0; i < NELEM(dbg_map); i++)
		assert_int_equal(get32(&l, dbg_map[i].layout), 1000 + 8 * i);
	assert_int_equal(l.str_compact_size, l.str_ascii_size + 16);
	assert_int_equal(l.str_data, l.str_compact_size);
	assert_int_equal(l.ts_frame, -1);
	assert_int_equal(l.ts_cframe, -1);
	assert_int_equal(l.cf_current_frame, -1);
	assert_int_equal(l.cf_previous, -1);
	assert_int_equal(l.ts_root_cframe, -1);
	assert_int_equal(l.fr_lasti, -1);
	assert_int_equal(l.fr_is_entry, -1);
	assert_int_equal(l.co_firsttraceable, -1);
	assert_int_equal(l.rt_main_thread, -1);
	assert_int_equal(l.rt_gilstate_current, -1);
	assert_int_equal(l.is_gil_ptr, -1);
	assert_int_equal(l.gil_locked, -1);
	assert_int_equal(l.gil_last_holder, -1);
	free(buf);
}

/*
 * For each minor with positions: a buffer holding what that interpreter
 * publishes (the reference's compiled numbers) must give a py_layout whose
 * every field, derived ones included, matches the reference.
 */
static void test_debug_offsets_reference_values(void **state)
{
	const struct txt *t = ref_need();
	int bad = 0, checked = 0;
	char col[TXT_TOK];

	(void)state;
	for (size_t i = 0; i < py_debug_pos_table_len; i++) {
		const struct py_debug_pos *p = &py_debug_pos_table[i];
		uint8_t *buf;
		struct py_layout l;

		snprintf(col, sizeof(col), "%d.%d", p->major, p->minor);
		if (!ref_has_col(t, col)) {
			print_message("not cross-checked: 3.%d (no column %s)\n", p->minor, col);
			continue;
		}
		buf = dbg_buf(p);
		for (size_t j = 0; j < NELEM(dbg_map); j++) {
			const struct rule *r = rule_for(dbg_map[j].layout, p->minor);
			int32_t at = get32(p, dbg_map[j].pos);
			long v = 0;

			if (at < 0)
				continue;
			if (!r || ref_value(t, r->key, col, &v) != REF_NUM)
				fail_msg("3.%d: no reference number for debug position %d", p->minor, at);
			put64(buf, at, (uint64_t)v);
		}
		assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), 0);
		assert_int_equal(l.major, p->major);
		assert_int_equal(l.minor, p->minor);
		bad += check_layout(t, &l, col, &checked);
		free(buf);
	}
	print_message("layouts from debug offsets: %d field values checked\n", checked);
	assert_int_equal(bad, 0);
}

static void test_debug_offsets_bad_cookie(void **state)
{
	const struct py_debug_pos *p = pos_313();
	uint8_t *buf = dbg_buf(p);
	struct py_layout l;

	(void)state;
	buf[0] = 'X';
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), -EINVAL);
	assert_int_equal(py_layout_from_debug_offsets(NULL, 0, &l), -EINVAL);
	assert_int_equal(l.ts_current_frame, -1);
	free(buf);
}

static void test_debug_offsets_unknown_version(void **state)
{
	const struct py_debug_pos *p = pos_313();
	uint8_t *buf = dbg_buf(p);
	struct py_layout l;

	(void)state;
	put64(buf, 8, 0x036300f0);   /* 3.99.0 */
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), -ENOTSUP);
	assert_int_equal(l.major, 3);
	assert_int_equal(l.minor, 99);
	free(buf);
}

static void test_debug_offsets_free_threaded(void **state)
{
	const struct py_debug_pos *p = pos_313();
	uint8_t *buf = dbg_buf(p);
	struct py_layout l;

	(void)state;
	put64(buf, p->free_threaded, 1);
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), -ENOTSUP);
	assert_int_equal(l.major, 3);
	assert_int_equal(l.minor, 13);
	free(buf);
}

/* Every length short of the last field read must fail; each call gets a heap
 * copy of exactly that length so a sanitizer catches any read past it. */
static void test_debug_offsets_truncated(void **state)
{
	const struct py_debug_pos *p = pos_313();
	uint8_t *buf = dbg_buf(p);
	size_t need = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(dbg_map); i++) {
		int32_t at = get32(p, dbg_map[i].pos);

		if (at >= 0 && (size_t)at + 8 > need)
			need = (size_t)at + 8;
	}
	for (size_t len = 0; len <= (size_t)p->size; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		struct py_layout l;
		int err;

		assert_non_null(copy);
		memcpy(copy, buf, len);
		err = py_layout_from_debug_offsets(copy, len, &l);
		if (len < need)
			assert_true(err < 0);
		else
			assert_int_equal(err, 0);
		if (len < 24)
			assert_int_equal(err, -EINVAL);
		free(copy);
	}
	free(buf);
}

static void test_debug_offsets_out_of_range(void **state)
{
	const struct py_debug_pos *p = pos_313();
	uint8_t *buf = dbg_buf(p);
	struct py_layout l;

	(void)state;
	put64(buf, p->ts_current_frame, UINT64_C(1) << 30);
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), -EPROTO);
	assert_int_equal(l.ts_current_frame, -1);
	/* Would truncate to 8 if narrowed before the check. */
	put64(buf, p->ts_current_frame, (UINT64_C(1) << 32) + 8);
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), -EPROTO);
	put64(buf, p->ts_current_frame, (UINT64_C(1) << 20) + 1);
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), -EPROTO);
	put64(buf, p->ts_current_frame, UINT64_C(1) << 20);
	assert_int_equal(py_layout_from_debug_offsets(buf, (size_t)p->size, &l), 0);
	assert_int_equal(l.ts_current_frame, 1 << 20);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_cover_versions),
		cmocka_unit_test(test_layout_table_matches_reference),
		cmocka_unit_test(test_debug_pos_table_matches_reference),
		cmocka_unit_test(test_debug_offsets_known_values),
		cmocka_unit_test(test_debug_offsets_reference_values),
		cmocka_unit_test(test_debug_offsets_bad_cookie),
		cmocka_unit_test(test_debug_offsets_unknown_version),
		cmocka_unit_test(test_debug_offsets_free_threaded),
		cmocka_unit_test(test_debug_offsets_truncated),
		cmocka_unit_test(test_debug_offsets_out_of_range),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	free(ref);
	return rc;
}
