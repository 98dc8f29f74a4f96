/*
 * code.c - what a raw frame means: code objects decoded once, cached by
 * address, and checked on every use.
 *
 * Addresses are reused after a code object is freed, so a cached entry is
 * trusted only while the pointers it was decoded from (filename, name,
 * line table) still read the same; all entries a sample needs are checked
 * in one batched read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pyrometer/pystr.h"
#include "pyrometer/strpool.h"
#include "pyrometer/target.h"

#define MAX_NAME_CHARS 4096
#define MAX_TABLE_BYTES (1u << 20)
#define MAX_CACHED_CODES (1u << 17)

static int32_t name_off(const struct py_layout *L)
{
	return L->co_qualname >= 0 ? L->co_qualname : L->co_name;
}

/* The words compared on every hit, in a fixed order. */
static void check_words(const struct py_layout *L, const uint8_t *code, uint64_t out[4])
{
	out[0] = u64_at(code, L->co_filename);
	out[1] = u64_at(code, name_off(L));
	out[2] = u64_at(code, L->co_linetable);
	out[3] = (uint64_t)(uint32_t)i32_at(code, L->co_firstlineno);
}

void py_codes_release(struct py_runtime *rt)
{
	for (size_t i = 0; i < rt->codes_cap; i++)
		free(rt->codes[i].table);
	free(rt->codes);
	rt->codes = NULL;
	rt->codes_cap = rt->codes_count = 0;
}

static size_t slot_of(uint64_t addr, size_t cap)
{
	return (size_t)((addr >> 4) * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
}

static struct py_code *code_find(struct py_runtime *rt, uint64_t addr)
{
	if (!rt->codes_cap)
		return NULL;
	size_t mask = rt->codes_cap - 1;
	for (size_t i = slot_of(addr, rt->codes_cap);; i = (i + 1) & mask) {
		struct py_code *c = &rt->codes[i];
		if (c->addr == addr)
			return c;
		if (!c->addr)
			return NULL;
	}
}

/* A slot for addr (found or new), or NULL when out of memory. */
static struct py_code *code_slot(struct py_runtime *rt, uint64_t addr)
{
	struct py_code *c = code_find(rt, addr);
	if (c)
		return c;
	if (rt->codes_count >= MAX_CACHED_CODES)
		py_codes_release(rt);  /* a bound on memory, not an expected path */
	if ((rt->codes_count + 1) * 2 > rt->codes_cap) {
		size_t ncap = rt->codes_cap ? rt->codes_cap * 2 : 1024;
		struct py_code *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return NULL;
		for (size_t i = 0; i < rt->codes_cap; i++) {
			if (!rt->codes[i].addr)
				continue;
			size_t j = slot_of(rt->codes[i].addr, ncap);
			while (nv[j].addr)
				j = (j + 1) & (ncap - 1);
			nv[j] = rt->codes[i];
		}
		free(rt->codes);
		rt->codes = nv;
		rt->codes_cap = ncap;
	}
	size_t mask = rt->codes_cap - 1;
	size_t i = slot_of(addr, rt->codes_cap);
	while (rt->codes[i].addr)
		i = (i + 1) & mask;
	rt->codes_count++;
	rt->codes[i].addr = addr;
	return &rt->codes[i];
}

/* Read a str object's text as UTF-8 and intern it. */
static const char *read_str(struct py_runtime *rt, uint64_t addr)
{
	const struct py_layout *L = &rt->L;
	uint8_t hdr[128];
	struct pystr_info si;
	size_t hlen = (size_t)(L->str_compact_size > L->str_data + 8 ? L->str_compact_size
								       : L->str_data + 8);

	if (!addr || hlen > sizeof(hdr) || target_read(rt->mem, addr, hdr, hlen) < 0 ||
	    pystr_parse(L, hdr, hlen, &si) < 0)
		return NULL;
	size_t n = si.length < MAX_NAME_CHARS ? si.length : MAX_NAME_CHARS;
	uint64_t data = si.compact ? addr + si.data_offset : u64_at(hdr, L->str_data);
	static uint8_t raw[MAX_NAME_CHARS * 4];
	static char utf8[MAX_NAME_CHARS * 4 + 1];
	if (n && target_read(rt->mem, data, raw, n * si.kind) < 0)
		return NULL;
	int len = pystr_to_utf8(si.kind, raw, n, utf8, sizeof(utf8));
	size_t ulen = len >= 0 ? (size_t)len : strlen(utf8);
	return strpool_intern(rt->pool, utf8, ulen);
}

/* Copy a bytes object's contents; *len gets its size. */
static uint8_t *read_bytes(struct py_runtime *rt, uint64_t addr, uint32_t *len)
{
	const struct py_layout *L = &rt->L;
	uint8_t hdr[64];
	if (!addr || target_read(rt->mem, addr, hdr, (size_t)L->bytes_ob_sval) < 0)
		return NULL;
	uint64_t size = u64_at(hdr, L->var_ob_size);
	if (size > MAX_TABLE_BYTES)
		return NULL;
	uint8_t *b = malloc(size ? size : 1);
	if (!b)
		return NULL;
	if (size && target_read(rt->mem, addr + (uint64_t)L->bytes_ob_sval, b, size) < 0) {
		free(b);
		return NULL;
	}
	*len = (uint32_t)size;
	return b;
}

/* Decode the code object at addr into c (whose addr is already set). */
static int code_decode(struct py_runtime *rt, struct py_code *c, uint64_t addr)
{
	const struct py_layout *L = &rt->L;
	uint8_t buf[512];
	size_t len = (size_t)L->co_size < sizeof(buf) ? (size_t)L->co_size : sizeof(buf);

	rt->stats.code_decodes++;
	free(c->table);
	c->table = NULL;
	c->name = c->file = NULL;
	if (target_read(rt->mem, addr, buf, len) < 0)
		return -EFAULT;
	if (rt->code_type && u64_at(buf, L->ob_type) != rt->code_type)
		return -EINVAL;
	check_words(L, buf, c->check);
	c->name = read_str(rt, c->check[1]);
	c->file = read_str(rt, c->check[0]);
	c->table = read_bytes(rt, c->check[2], &c->table_len);
	if (!c->name || !c->file || !c->table)
		return -EFAULT;
	c->firstlineno = i32_at(buf, L->co_firstlineno);
	c->firsttraceable = L->co_firsttraceable >= 0 ? i32_at(buf, L->co_firsttraceable) : 0;
	c->last_idx = -2;
	c->checked_seq = rt->seq;
	return 0;
}

static int code_line(struct py_runtime *rt, struct py_code *c, int32_t idx)
{
	if (idx != c->last_idx) {
		c->last_line = py_linetable_line(rt->ltfmt, c->table, c->table_len,
						 c->firstlineno, idx);
		c->last_idx = idx;
	}
	return c->last_line;
}

/* The init-cleanup shim of 3.13/3.14 (`__init__` in file `__init__`, no line)
 * is interpreter machinery, not user code. */
static int is_shim(const struct py_code *c)
{
	return (strcmp(c->name, "__init__") == 0 && strcmp(c->file, "__init__") == 0) ||
	       (strcmp(c->name, "<interpreter trampoline>") == 0 && strcmp(c->file, "<shim>") == 0);
}

void py_code_check_span(const struct py_layout *L, int32_t *off, int32_t *len)
{
	int32_t offs[3] = { L->co_filename, name_off(L), L->co_linetable };
	int32_t lo = offs[0], hi = offs[0] + 8;
	for (int k = 1; k < 3; k++) {
		lo = offs[k] < lo ? offs[k] : lo;
		hi = offs[k] + 8 > hi ? offs[k] + 8 : hi;
	}
	*off = lo;
	*len = hi - lo;
}

static int words_match(const struct py_layout *L, const struct py_code *c, const uint8_t *w,
		       int32_t lo)
{
	return u64_at(w, L->co_filename - lo) == c->check[0] &&
	       u64_at(w, name_off(L) - lo) == c->check[1] &&
	       u64_at(w, L->co_linetable - lo) == c->check[2];
}

void py_code_checked(struct py_runtime *rt, uint64_t addr, const uint8_t *words)
{
	struct py_code *c = code_find(rt, addr);
	int32_t lo, len;
	if (!c || !c->name)
		return;
	py_code_check_span(&rt->L, &lo, &len);
	if (words_match(&rt->L, c, words, lo)) {
		c->checked_seq = rt->seq;
	} else {
		rt->stats.code_invalidations++;
		c->name = NULL;  /* decoded again on its next use */
	}
}

static int resolve(struct py_runtime *rt, const struct py_raw_frame *frames, int n,
		   struct py_frame_info *out, int keep_shims);

int py_frames_resolve(struct py_runtime *rt, const struct py_raw_frame *frames, int n,
		      struct py_frame_info *out)
{
	return resolve(rt, frames, n, out, 0);
}

int py_frames_resolve_each(struct py_runtime *rt, const struct py_raw_frame *frames, int n,
			   struct py_frame_info *out)
{
	return resolve(rt, frames, n, out, 1);
}

static int resolve(struct py_runtime *rt, const struct py_raw_frame *frames, int n,
		   struct py_frame_info *out, int keep_shims)
{
	static struct target_iov iov[PY_MAX_FRAMES];
	static uint8_t words[PY_MAX_FRAMES][64];
	static uint64_t checked[PY_MAX_FRAMES];
	int32_t lo, len;
	int nchk = 0;

	py_code_check_span(&rt->L, &lo, &len);
	/* 1. Check, in one batched read, every distinct cached code object of
	 * this stack that the stack read did not already confirm. */
	for (int i = 0; i < n; i++) {
		uint64_t a = frames[i].code;
		const struct py_code *c = code_find(rt, a);
		if (!c || !c->name || c->checked_seq == rt->seq || len > 64)
			continue;
		int dup = 0;
		for (int k = 0; k < nchk && !dup; k++)
			dup = checked[k] == a;
		if (dup)
			continue;
		checked[nchk] = a;
		iov[nchk] = (struct target_iov){ a + (uint64_t)lo, words[nchk], (size_t)len };
		nchk++;
	}
	if (nchk) {
		int ok = target_readv(rt->mem, iov, nchk);
		if (ok < 0)
			return -EFAULT;
		for (int k = 0; k < nchk; k++) {
			struct py_code *c = code_find(rt, checked[k]);
			if (k < ok && words_match(&rt->L, c, words[k], lo))
				continue;
			rt->stats.code_invalidations++;
			c->name = NULL;  /* forces a fresh decode below */
		}
	}

	/* 2. Decode what is missing; 3. answer. */
	int m = 0;
	for (int i = 0; i < n; i++) {
		struct py_code *c = code_find(rt, frames[i].code);
		if (!c || !c->name) {
			c = code_slot(rt, frames[i].code);
			if (c && code_decode(rt, c, frames[i].code) < 0)
				c->name = NULL;
		}
		if (!c || !c->name || !c->file) {
			out[m++] = (struct py_frame_info){
				strpool_intern(rt->pool, "[unknown code]", 14),
				strpool_intern(rt->pool, "", 0), -1 };
			continue;
		}
		if (is_shim(c)) {
			if (keep_shims)
				out[m++] = (struct py_frame_info){ NULL, NULL, -1 };
			continue;
		}
		out[m++] = (struct py_frame_info){ c->name, c->file, code_line(rt, c, frames[i].instr) };
	}
	return m;
}
