/*
 * pyro.c - .pyro recordings: writer_pyro writes a profile and its run,
 * pyro_read/pyro_read_mem read them back. man/pyrometer-format.5 is the
 * specification; this file follows it field by field.
 *
 * The writer encodes every section twice with the same code: once into a
 * sink that only counts bytes (the section's length goes before its body),
 * once into the file. Nothing is buffered beyond stdio's and a small block.
 *
 * The reader trusts nothing: it walks the section table and checks the
 * checksum before it parses a body, reads every value through a cursor
 * that stops at its section's end, checks every index against what it
 * indexes, and takes a count only when that many records could fit in the
 * bytes left (so no allocation is larger than the file allows).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyrometer/cli.h"
#include "pyrometer/counts.h"
#include "pyrometer/output.h"
#include "pyrometer/perf.h"
#include "pyrometer/pyro.h"

#define PYRO_MAJOR 1
#define PYRO_MINOR 0

#define HEADER_SIZE 16
#define MAGIC_SIZE 10
#define SECTION_HEAD 12         /* type u32, length u64 */
#define END_SIZE 4              /* the END section's body: CRC-32 */
#define PYRO_MAX_DEPTH 8192     /* frames in one stack: three times what the recorder takes */

/* "PYRO", then bytes that a text-mode or 7-bit copy changes (as PNG does):
 * a high-bit byte, CR LF, ^Z (which stops a DOS "type"), LF, and a NUL. */
static const unsigned char magic[MAGIC_SIZE] = { 'P', 'Y', 'R', 'O', 0x89, '\r', '\n', 0x1a,
						 '\n', 0 };

enum sec { SEC_END = 0, SEC_META, SEC_STRINGS, SEC_EVENTS, SEC_FRAMES, SEC_NODES,
	   SEC_THREADS, SEC_SAMPLES, SEC_N };

static const char *const sec_names[SEC_N] = { "END",    "META",  "STRINGS", "EVENTS",
					      "FRAMES", "NODES", "THREADS", "SAMPLES" };

/* ---- CRC-32 (ISO-HDLC: zlib, PNG, gzip), a nibble at a time ---- */

static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return ~crc;
}

static uint64_t zigzag(int64_t v)
{
	uint64_t u = (uint64_t)v;
	return (u << 1) ^ (0 - (u >> 63));
}

static int64_t unzigzag(uint64_t u)
{
	return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/*
 * The run's metadata as data: the META section writes every entry of this
 * table and the reader fills the fields it finds (unknown keys are a newer
 * writer's, and skipped).
 */
enum meta_type { M_STR, M_U64, M_UINT, M_PID, M_NATIVE };

struct meta_field {
	const char *key;
	enum meta_type type;
	size_t off;
};

#define META(key, type, field) { key, type, offsetof(struct run, field) }

static const struct meta_field meta_fields[] = {
	META("version", M_STR, version),
	META("cmdline", M_STR, cmdline),
	META("pid", M_PID, pid),
	META("target", M_STR, target),
	META("python", M_STR, python),
	META("host", M_STR, host),
	META("kernel", M_STR, kernel),
	META("start_unix_ns", M_U64, start_unix_ns),
	META("duration_ns", M_U64, duration_ns),
	META("hz", M_UINT, hz),
	META("native", M_NATIVE, native),
	META("backend", M_STR, backend),
	META("samples", M_U64, samples),
	META("lost", M_U64, lost),
	META("unreadable", M_U64, unreadable),
	META("no_python", M_U64, no_python),
	META("unwind_failures", M_U64, unwind_failures),
	META("truncated", M_U64, truncated),
	META("mismatches", M_U64, mismatches),
	META("at_sample", M_U64, at_sample),
};

#define N_META (sizeof(meta_fields) / sizeof(meta_fields[0]))

static const char *const native_names[] = {
	[NATIVE_AUTO] = "auto", [NATIVE_ALL] = "all", [NATIVE_NONE] = "none",
};

#define N_NATIVE (sizeof(native_names) / sizeof(native_names[0]))

/* ==== writing ==== */

/* Where encoded bytes go: a file (through a block, with the running CRC),
 * or nowhere, only counted (f == NULL). */
struct sink {
	FILE *f;
	unsigned char *buf;
	size_t used, cap;
	uint64_t n;               /* bytes put */
	uint32_t crc;             /* of every byte put (file sinks) */
	int err;
};

static void sink_flush(struct sink *s)
{
	if (s->f && s->used && fwrite(s->buf, 1, s->used, s->f) != s->used)
		s->err = -EIO;
	s->used = 0;
}

static void put_bytes(struct sink *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	s->n += len;
	if (!s->f)
		return;
	s->crc = crc32_update(s->crc, p, len);
	while (len) {
		if (s->used == s->cap)
			sink_flush(s);
		size_t k = s->cap - s->used < len ? s->cap - s->used : len;
		memcpy(s->buf + s->used, p, k);
		s->used += k;
		p += k;
		len -= k;
	}
}

static void put_le(struct sink *s, uint64_t v, size_t bytes)
{
	unsigned char b[8];
	for (size_t i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put_bytes(s, b, bytes);
}

/* Unsigned LEB128: seven bits a byte, low first, high bit = more. */
static void put_uvar(struct sink *s, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		b[n++] |= v ? 0x80 : 0;
	} while (v);
	put_bytes(s, b, n);
}

static void put_svar(struct sink *s, int64_t v)
{
	put_uvar(s, zigzag(v));
}

static void put_str(struct sink *s, const char *str)
{
	size_t len = strlen(str);
	put_uvar(s, len);
	put_bytes(s, str, len);
}

static void put_f64(struct sink *s, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof(bits));
	put_le(s, bits, 8);
}

/* The string table: each distinct string once, found again by content. */
struct strtab {
	const char **s;
	size_t n, cap;
	uint32_t *slots;          /* index + 1; 0 = empty */
	size_t mask;
};

static int strtab_init(struct strtab *t, size_t cap)
{
	size_t nslots = 16;
	while (nslots < 2 * cap)
		nslots *= 2;
	t->s = calloc(cap ? cap : 1, sizeof(*t->s));
	t->slots = calloc(nslots, sizeof(*t->slots));
	t->n = 0;
	t->cap = cap;
	t->mask = nslots - 1;
	if (!t->s || !t->slots) {
		free(t->s);
		free(t->slots);
		return -ENOMEM;
	}
	return 0;
}

static void strtab_release(struct strtab *t)
{
	free(t->s);
	free(t->slots);
}

/* The index of str, added when new (the table was sized for every string
 * the recording holds, so it never fills). */
static uint32_t strtab_index(struct strtab *t, const char *str)
{
	str = str_or_empty(str);
	size_t i = strpool_hash(str, strlen(str)) & t->mask;
	for (; t->slots[i]; i = (i + 1) & t->mask)
		if (strcmp(t->s[t->slots[i] - 1], str) == 0)
			return t->slots[i] - 1;
	t->s[t->n] = str;
	t->slots[i] = (uint32_t)++t->n;
	return (uint32_t)(t->n - 1);
}

struct wctx {
	const struct profile *p;
	const struct run *r;
	struct strtab st;
};

static int strtab_build(struct wctx *w)
{
	const struct profile *p = w->p;
	const struct run *r = w->r;
	size_t nf = profile_nframes(p);
	if (strtab_init(&w->st, 2 * nf + 2 * r->nev + r->nthreads) < 0)
		return -ENOMEM;
	for (uint32_t id = 0; id < nf; id++) {
		strtab_index(&w->st, profile_frame_get(p, id)->name);
		strtab_index(&w->st, profile_frame_get(p, id)->file);
	}
	for (size_t k = 0; k < r->nev; k++) {
		strtab_index(&w->st, r->ev[k].name);
		strtab_index(&w->st, r->ev[k].fqname);
	}
	for (size_t i = 0; i < r->nthreads; i++)
		strtab_index(&w->st, r->threads[i].comm);
	return 0;
}

static void enc_meta(struct sink *s, struct wctx *w)
{
	put_uvar(s, N_META);
	for (size_t i = 0; i < N_META; i++) {
		const struct meta_field *m = &meta_fields[i];
		const char *field = (const char *)w->r + m->off;
		char num[24];
		put_str(s, m->key);
		switch (m->type) {
		case M_STR:
			put_str(s, str_or_empty(*(const char *const *)field));
			break;
		case M_U64:
			snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)field);
			put_str(s, num);
			break;
		case M_UINT:
			snprintf(num, sizeof(num), "%u", *(const unsigned *)field);
			put_str(s, num);
			break;
		case M_PID:
			snprintf(num, sizeof(num), "%d", (int)*(const pid_t *)field);
			put_str(s, num);
			break;
		case M_NATIVE:
			put_str(s, native_names[*(const int *)field]);
			break;
		}
	}
}

static void enc_strings(struct sink *s, struct wctx *w)
{
	put_uvar(s, w->st.n);
	for (size_t i = 0; i < w->st.n; i++)
		put_str(s, w->st.s[i]);
}

static void enc_events(struct sink *s, struct wctx *w)
{
	put_uvar(s, w->r->nev);
	for (size_t k = 0; k < w->r->nev; k++) {
		const struct run_event *e = &w->r->ev[k];
		put_uvar(s, strtab_index(&w->st, e->name));
		put_uvar(s, strtab_index(&w->st, e->fqname));
		put_uvar(s, (uint64_t)e->role);
		put_uvar(s, (uint64_t)e->how);
		put_uvar(s, e->period);
		put_uvar(s, e->total);
		put_uvar(s, e->samples);
		put_f64(s, e->running_pct);
	}
}

static void enc_frames(struct sink *s, struct wctx *w)
{
	size_t nf = profile_nframes(w->p);
	put_uvar(s, nf);
	for (uint32_t id = 0; id < nf; id++) {
		const struct prof_frame *f = profile_frame_get(w->p, id);
		put_uvar(s, strtab_index(&w->st, f->name));
		put_uvar(s, strtab_index(&w->st, f->file));
		put_svar(s, f->line);
		put_uvar(s, (uint64_t)f->kind);
	}
}

static void put_counts(struct sink *s, const uint64_t *c, size_t nev)
{
	for (size_t k = 0; k < nev; k++)
		put_uvar(s, c ? c[k] : 0);
}

/* Nodes in id order, which is creation order: a parent always comes before
 * its children, so it is written as the distance back to it. */
static void enc_nodes(struct sink *s, struct wctx *w)
{
	size_t nn = profile_nnodes(w->p), nev = w->r->nev;
	put_uvar(s, nn);
	put_uvar(s, profile_node(w->p, PROF_ROOT)->self);
	put_counts(s, profile_node_counts(w->p, PROF_ROOT), nev);
	for (uint32_t id = 1; id < nn; id++) {
		const struct prof_node *n = profile_node(w->p, id);
		put_uvar(s, id - n->parent);
		put_uvar(s, n->frame);
		put_uvar(s, n->self);
		put_counts(s, profile_node_counts(w->p, id), nev);
	}
}

static void enc_threads(struct sink *s, struct wctx *w)
{
	put_uvar(s, w->r->nthreads);
	for (size_t i = 0; i < w->r->nthreads; i++) {
		const struct run_thread *t = &w->r->threads[i];
		put_svar(s, t->tid);
		put_uvar(s, strtab_index(&w->st, t->comm));
		put_uvar(s, t->samples);
	}
}

/* Times as signed differences from the previous sample (modulo 2^64), so
 * samples in time order cost a byte or three each. */
static void enc_samples(struct sink *s, struct wctx *w)
{
	const struct run *r = w->r;
	uint64_t prev = 0;
	put_uvar(s, r->nsamples);
	for (size_t i = 0; i < r->nsamples; i++) {
		const struct run_sample *x = &r->s[i];
		put_svar(s, (int64_t)(x->time - prev));
		prev = x->time;
		put_svar(s, x->tid);
		put_uvar(s, x->node);
		put_uvar(s, x->event);
		put_counts(s, r->nev ? &r->counts[i * r->nev] : NULL, r->nev);
	}
}

static void put_section(struct sink *s, enum sec type, void (*enc)(struct sink *, struct wctx *),
			struct wctx *w)
{
	struct sink count = { 0 };
	enc(&count, w);
	put_le(s, type, 4);
	put_le(s, count.n, 8);
	uint64_t at = s->n;
	enc(s, w);
	if (s->n - at != count.n && !s->err)
		s->err = -EINVAL;   /* an encoder that is not deterministic: a bug */
}

/*
 * Refuse what the reader would refuse, so that every file written can be
 * read: events that differ between the profile and the run, samples that
 * point outside the profile, values outside their enums, stacks deeper
 * than a reader takes.
 */
static int check_input(const struct profile *p, const struct run *r)
{
	size_t nev = profile_nevents(p), nn = profile_nnodes(p);
	if (r->nev != nev || (r->nthreads && !r->threads) || (r->nsamples && !r->s) ||
	    (r->nsamples && nev && !r->counts))
		return -EINVAL;
	if (r->native < 0 || (size_t)r->native >= N_NATIVE)
		return -EINVAL;
	for (size_t k = 0; k < nev; k++) {
		const struct run_event *e = &r->ev[k];
		if (strcmp(str_or_empty(e->name), str_or_empty(profile_event(p, k)->name)) != 0 ||
		    e->role != profile_event(p, k)->role || e->role < 0 ||
		    e->role >= COUNTS_ROLES || e->how < 0 || e->how > PERF_EV_SOLO)
			return -EINVAL;
	}
	for (uint32_t id = 0; id < profile_nframes(p); id++) {
		int kind = profile_frame_get(p, id)->kind;
		if (kind < PROF_PYTHON || kind > PROF_NATIVE)
			return -EINVAL;
	}
	for (uint32_t id = 1; id < nn; id++)
		if (profile_node(p, id)->depth > PYRO_MAX_DEPTH)
			return -EINVAL;
	for (size_t i = 0; i < r->nsamples; i++)
		if (r->s[i].node >= nn || r->s[i].event >= (nev ? nev : 1))
			return -EINVAL;
	return 0;
}

static int write_pyro(FILE *f, const struct profile *p, const struct output_opts *o)
{
	if (!o || !o->run)
		return -EINVAL;
	struct wctx w = { .p = p, .r = o->run };
	int e = check_input(p, w.r);
	if (e < 0)
		return e;
	if (strtab_build(&w) < 0)
		return -ENOMEM;
	unsigned char buf[16384];
	struct sink s = { .f = f, .buf = buf, .cap = sizeof(buf) };
	put_bytes(&s, magic, MAGIC_SIZE);
	put_le(&s, PYRO_MAJOR, 2);
	put_le(&s, PYRO_MINOR, 2);
	put_le(&s, 0, 2);   /* flags: none yet */
	put_section(&s, SEC_META, enc_meta, &w);
	put_section(&s, SEC_STRINGS, enc_strings, &w);
	put_section(&s, SEC_EVENTS, enc_events, &w);
	put_section(&s, SEC_FRAMES, enc_frames, &w);
	put_section(&s, SEC_NODES, enc_nodes, &w);
	put_section(&s, SEC_THREADS, enc_threads, &w);
	put_section(&s, SEC_SAMPLES, enc_samples, &w);
	put_le(&s, SEC_END, 4);
	put_le(&s, END_SIZE, 8);
	put_le(&s, s.crc, 4);   /* of every byte before it */
	sink_flush(&s);
	strtab_release(&w.st);
	if (s.err)
		return s.err;
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}

static const char *const exts[] = { ".pyro", NULL };
const struct writer writer_pyro = { "pyro", exts, write_pyro };

/* ==== reading ==== */

struct reader {
	const char *name;                 /* for messages: the path, or "buffer" */
	const unsigned char *data;
	size_t len;
	unsigned minor;
	char *err;
	size_t errlen;
	struct strpool *pool;
	struct {
		size_t at;                /* offset of the body; 0 = not seen */
		size_t len;
	} sec[SEC_N];
	const char **strs;                /* the string table, interned */
	size_t nstrs;
	struct prof_event ev[PROF_EVENTS_MAX];
	size_t nev;
	struct profile *prof;
	struct run *run;
	uint32_t *path;                   /* scratch: one node's frames */
};

__attribute__((format(printf, 3, 4))) static int fail(struct reader *rd, int err,
						       const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(rd->err, rd->errlen, "%s ", rd->name);
	if (n >= 0 && (size_t)n < rd->errlen) {
		va_start(ap, fmt);
		vsnprintf(rd->err + n, rd->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

#define corrupt(rd, ...) fail(rd, -EINVAL, "is corrupt: " __VA_ARGS__)

/* A cursor over one section's body. */
struct cur {
	struct reader *rd;
	enum sec sec;
	const unsigned char *p, *end;
};

static size_t cur_left(const struct cur *c)
{
	return (size_t)(c->end - c->p);
}

static size_t cur_offset(const struct cur *c)
{
	return (size_t)(c->p - c->rd->data);
}

static int get_uvar(struct cur *c, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		if (c->p == c->end)
			return corrupt(c->rd, "section %s ends inside a value (byte %zu)",
				       sec_names[c->sec], cur_offset(c));
		unsigned char b = *c->p++;
		/* the tenth byte holds bit 63 only */
		if (shift == 63 && b > 1)
			return corrupt(c->rd, "section %s: number too large at byte %zu",
				       sec_names[c->sec], cur_offset(c) - 1);
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	*out = v;
	return 0;
}

/* A value below limit; what names it in the message. */
static int get_below(struct cur *c, uint64_t limit, const char *what, uint64_t *out)
{
	size_t at = cur_offset(c);
	int e = get_uvar(c, out);
	if (e < 0)
		return e;
	if (*out >= limit)
		return corrupt(c->rd, "section %s: %s %" PRIu64 " at byte %zu is out of range "
			       "(%" PRIu64 " allowed)",
			       sec_names[c->sec], what, *out, at, limit);
	return 0;
}

static int get_u32(struct cur *c, uint64_t limit, const char *what, uint32_t *out)
{
	uint64_t v;
	int e = get_below(c, limit, what, &v);
	*out = (uint32_t)v;
	return e;
}

static int get_int(struct cur *c, const char *what, int *out)
{
	size_t at = cur_offset(c);
	uint64_t u;
	int e = get_uvar(c, &u);
	if (e < 0)
		return e;
	int64_t v = unzigzag(u);
	if (v < INT32_MIN || v > INT32_MAX)
		return corrupt(c->rd, "section %s: %s %" PRId64 " at byte %zu does not fit",
			       sec_names[c->sec], what, v, at);
	*out = (int)v;
	return 0;
}

static int get_str(struct cur *c, const char *what, const char **out)
{
	uint32_t i;
	int e = get_u32(c, c->rd->nstrs, what, &i);
	if (e == 0)
		*out = c->rd->strs[i];
	return e;
}

/* n records of at least min bytes each must fit in what is left. */
static int get_count(struct cur *c, size_t min, const char *what, size_t *out)
{
	uint64_t n;
	int e = get_uvar(c, &n);
	if (e < 0)
		return e;
	if (n > cur_left(c) / min || n >= UINT32_MAX)
		return corrupt(c->rd, "section %s: %" PRIu64 " %s cannot fit in its %zu bytes",
			       sec_names[c->sec], n, what, cur_left(c));
	*out = (size_t)n;
	return 0;
}

static int get_counts(struct cur *c, size_t nev, uint64_t *out)
{
	for (size_t k = 0; k < nev; k++) {
		int e = get_uvar(c, &out[k]);
		if (e < 0)
			return e;
	}
	return 0;
}

static struct cur cur_open(struct reader *rd, enum sec sec)
{
	const unsigned char *p = rd->data + rd->sec[sec].at;
	return (struct cur){ rd, sec, p, p + rd->sec[sec].len };
}

/* A section must end with its last record; a newer minor version may add
 * fields after them, which this reader skips. */
static int cur_close(struct cur *c)
{
	if (c->p != c->end && c->rd->minor <= PYRO_MINOR)
		return corrupt(c->rd, "section %s has %zu bytes after its last record",
			       sec_names[c->sec], cur_left(c));
	return 0;
}

/* ---- header and section table ---- */

static uint64_t get_le(const unsigned char *p, size_t bytes)
{
	uint64_t v = 0;
	for (size_t i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int read_header(struct reader *rd)
{
	size_t n = rd->len < MAGIC_SIZE ? rd->len : MAGIC_SIZE;
	if (rd->len == 0)
		return fail(rd, -EINVAL, "is not a pyrometer recording (it is empty)");
	if (memcmp(rd->data, magic, n < 4 ? n : 4) != 0)
		return fail(rd, -EINVAL, "is not a pyrometer recording");
	if (memcmp(rd->data, magic, n) != 0)
		return fail(rd, -EINVAL, "is damaged: the bytes after \"PYRO\" were changed "
			    "(copied as text, or over a 7-bit channel?)");
	if (rd->len < HEADER_SIZE)
		return fail(rd, -EINVAL, "is truncated (the header ends at byte %d of %zu)",
			    HEADER_SIZE, rd->len);
	unsigned major = (unsigned)get_le(rd->data + 10, 2);
	rd->minor = (unsigned)get_le(rd->data + 12, 2);
	if (major > PYRO_MAJOR)
		return fail(rd, -EPROTONOSUPPORT,
			    "was written by a newer pyrometer (format %u.%u); "
			    "this one reads up to %d", major, rd->minor, PYRO_MAJOR);
	if (major == 0)
		return corrupt(rd, "format version 0.%u does not exist", rd->minor);
	return 0;
}

static int read_end(struct reader *rd, size_t pos, uint64_t len)
{
	if (len != END_SIZE)
		return corrupt(rd, "the END section at byte %zu is %" PRIu64 " bytes long, not %d",
			       pos, len, END_SIZE);
	uint32_t stored = (uint32_t)get_le(rd->data + pos + SECTION_HEAD, 4);
	uint32_t crc = crc32_update(0, rd->data, pos + SECTION_HEAD);
	if (stored != crc)
		return corrupt(rd, "checksum mismatch (stored %08x, computed %08x): "
			       "the file was changed after it was written", stored, crc);
	size_t after = rd->len - pos - SECTION_HEAD - END_SIZE;
	if (after)
		return corrupt(rd, "%zu bytes follow the END section", after);
	return 0;
}

/* Walk the sections to END: where each known one lies, and whether the
 * file is whole and unchanged. */
static int read_sections(struct reader *rd)
{
	size_t pos = HEADER_SIZE;
	for (;;) {
		if (pos == rd->len)
			return fail(rd, -EINVAL, "is truncated (no END section: it ends at "
				    "byte %zu, after a whole section)", rd->len);
		if (rd->len - pos < SECTION_HEAD)
			return fail(rd, -EINVAL, "is truncated (a section header at byte %zu "
				    "ends at byte %zu of %zu)", pos, pos + SECTION_HEAD, rd->len);
		uint32_t type = (uint32_t)get_le(rd->data + pos, 4);
		uint64_t len = get_le(rd->data + pos + 4, 8);
		char tname[16];
		if (type < SEC_N)
			snprintf(tname, sizeof(tname), "%s", sec_names[type]);
		else
			snprintf(tname, sizeof(tname), "%" PRIu32, type);
		size_t left = rd->len - pos - SECTION_HEAD;
		if (len > left) {
			if (len - left > (uint64_t)1 << 40)
				return corrupt(rd, "section %s at byte %zu claims %" PRIu64
					       " bytes", tname, pos, len);
			return fail(rd, -EINVAL, "is truncated (section %s ends at byte %" PRIu64
				    " of %zu)", tname, pos + SECTION_HEAD + len, rd->len);
		}
		if (type == SEC_END)
			break;
		if (type < SEC_N) {
			if (rd->sec[type].at)
				return corrupt(rd, "a second %s section at byte %zu", tname, pos);
			rd->sec[type].at = pos + SECTION_HEAD;
			rd->sec[type].len = (size_t)len;
		}
		pos += SECTION_HEAD + (size_t)len;
	}
	int e = read_end(rd, pos, get_le(rd->data + pos + 4, 8));
	if (e < 0)
		return e;
	for (int t = SEC_META; t < SEC_N; t++)
		if (!rd->sec[t].at)
			return corrupt(rd, "it has no %s section", sec_names[t]);
	return 0;
}

/* ---- sections ---- */

static int read_strings(struct reader *rd)
{
	struct cur c = cur_open(rd, SEC_STRINGS);
	int e = get_count(&c, 1, "strings", &rd->nstrs);
	if (e < 0)
		return e;
	rd->strs = calloc(rd->nstrs ? rd->nstrs : 1, sizeof(*rd->strs));
	if (!rd->strs)
		return -ENOMEM;
	for (size_t i = 0; i < rd->nstrs; i++) {
		uint64_t len;
		size_t at = cur_offset(&c);
		if ((e = get_uvar(&c, &len)) < 0)
			return e;
		if (len > cur_left(&c))
			return corrupt(rd, "section STRINGS: string %zu at byte %zu runs past "
				       "the section's end", i, at);
		if (memchr(c.p, 0, len))
			return corrupt(rd, "section STRINGS: string %zu at byte %zu holds a NUL",
				       i, at);
		rd->strs[i] = strpool_intern(rd->pool, (const char *)c.p, len);
		if (!rd->strs[i])
			return -ENOMEM;
		c.p += len;
	}
	return cur_close(&c);
}

static int read_event(struct cur *c, struct run_event *e)
{
	uint64_t period, total, samples;
	uint32_t role, how;
	int r;
	if ((r = get_str(c, "event name", &e->name)) < 0 ||
	    (r = get_str(c, "event fqname", &e->fqname)) < 0 ||
	    (r = get_u32(c, COUNTS_ROLES, "event role", &role)) < 0 ||
	    (r = get_u32(c, PERF_EV_SOLO + 1, "event how", &how)) < 0 ||
	    (r = get_uvar(c, &period)) < 0 || (r = get_uvar(c, &total)) < 0 ||
	    (r = get_uvar(c, &samples)) < 0)
		return r;
	if (cur_left(c) < 8)
		return corrupt(c->rd, "section EVENTS ends inside a value (byte %zu)",
			       cur_offset(c));
	uint64_t bits = get_le(c->p, 8);
	memcpy(&e->running_pct, &bits, sizeof(bits));
	if (!isfinite(e->running_pct))
		return corrupt(c->rd, "section EVENTS: running share at byte %zu is not a number",
			       cur_offset(c));
	c->p += 8;
	e->role = (int)role;
	e->how = (int)how;
	e->period = period;
	e->total = total;
	e->samples = samples;
	return 0;
}

static int read_events(struct reader *rd)
{
	struct cur c = cur_open(rd, SEC_EVENTS);
	size_t n;
	int e = get_count(&c, 1, "events", &n);
	if (e < 0)
		return e;
	if (n > PROF_EVENTS_MAX)
		return corrupt(rd, "%zu events (this pyrometer takes at most %d)", n,
			       PROF_EVENTS_MAX);
	for (size_t k = 0; k < n; k++) {
		struct run_event *ev = &rd->run->ev[k];
		if ((e = read_event(&c, ev)) < 0)
			return e;
		rd->ev[k] = (struct prof_event){ ev->name, ev->role };
	}
	rd->nev = rd->run->nev = n;
	return cur_close(&c);
}

/* A decimal number, all digits, no sign, at most max. */
static int parse_num(const unsigned char *s, uint64_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (uint64_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = s[i] - '0';
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int meta_set(struct reader *rd, const struct meta_field *m, const unsigned char *val,
		    uint64_t len)
{
	char *field = (char *)rd->run + m->off;
	uint64_t v = 0;
	switch (m->type) {
	case M_STR: {
		const char *s = strpool_intern(rd->pool, (const char *)val, len);
		if (!s)
			return -ENOMEM;
		*(const char **)field = s;
		return 0;
	}
	case M_NATIVE:
		for (size_t i = 0; i < N_NATIVE; i++) {
			const char *name = native_names[i];
			if (strlen(name) == len && memcmp(val, name, len) == 0) {
				*(int *)field = (int)i;
				return 0;
			}
		}
		break;
	case M_U64:
		if (parse_num(val, len, UINT64_MAX, &v) == 0) {
			*(uint64_t *)field = v;
			return 0;
		}
		break;
	case M_UINT:
		if (parse_num(val, len, UINT32_MAX, &v) == 0) {
			*(unsigned *)field = (unsigned)v;
			return 0;
		}
		break;
	case M_PID:
		if (parse_num(val, len, INT32_MAX, &v) == 0) {
			*(pid_t *)field = (pid_t)v;
			return 0;
		}
		break;
	}
	return corrupt(rd, "section META: %s has a bad value (%" PRIu64 " bytes)", m->key, len);
}

/* One key or value: a length, then the bytes. */
static int get_bytes(struct cur *c, const unsigned char **out, uint64_t *len)
{
	size_t at = cur_offset(c);
	int e = get_uvar(c, len);
	if (e < 0)
		return e;
	if (*len > cur_left(c))
		return corrupt(c->rd, "section %s: the string at byte %zu runs past its end",
			       sec_names[c->sec], at);
	*out = c->p;
	c->p += *len;
	return 0;
}

static int read_meta(struct reader *rd)
{
	struct cur c = cur_open(rd, SEC_META);
	size_t n;
	int e = get_count(&c, 2, "entries", &n);
	if (e < 0)
		return e;
	/* strings a recording leaves out are empty, never NULL */
	for (size_t j = 0; j < N_META; j++) {
		const struct meta_field *m = &meta_fields[j];
		if (m->type == M_STR && (e = meta_set(rd, m, (const unsigned char *)"", 0)) < 0)
			return e;
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *key, *val;
		uint64_t klen, vlen;
		if ((e = get_bytes(&c, &key, &klen)) < 0 || (e = get_bytes(&c, &val, &vlen)) < 0)
			return e;
		for (size_t j = 0; j < N_META; j++) {
			const struct meta_field *m = &meta_fields[j];
			if (strlen(m->key) == klen && memcmp(key, m->key, klen) == 0) {
				if ((e = meta_set(rd, m, val, vlen)) < 0)
					return e;
				break;
			}
		}
	}
	return cur_close(&c);
}

static int read_frames(struct reader *rd)
{
	struct cur c = cur_open(rd, SEC_FRAMES);
	size_t n;
	int e = get_count(&c, 4, "frames", &n);
	if (e < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		const char *name = NULL, *file = NULL;
		int line;
		uint32_t kind;
		if ((e = get_str(&c, "frame name", &name)) < 0 ||
		    (e = get_str(&c, "frame file", &file)) < 0 ||
		    (e = get_int(&c, "frame line", &line)) < 0 ||
		    (e = get_u32(&c, PROF_NATIVE + 1, "frame kind", &kind)) < 0)
			return e;
		uint32_t id = profile_frame(rd->prof, name, file, line, (int)kind);
		if (id == UINT32_MAX)
			return -ENOMEM;
		if (id != i)
			return corrupt(rd, "section FRAMES: frame %zu repeats frame %" PRIu32, i,
				       id);
	}
	return cur_close(&c);
}

/*
 * Node id, child of parent through frame, with its own counts. The trie
 * gives ids in creation order; re-adding each node's path in file order
 * creates exactly that node (its ancestors have lower ids and exist), so
 * ids match the writer's. A (parent, frame) pair seen before would give
 * an old id: that is refused.
 */
static int add_node(struct reader *rd, uint32_t id, uint32_t parent, uint32_t frame,
		    uint64_t self, const uint64_t *counts)
{
	uint32_t depth = profile_node(rd->prof, parent)->depth + 1;
	if (depth > PYRO_MAX_DEPTH)
		return corrupt(rd, "section NODES: node %" PRIu32 " is deeper than %d frames", id,
			       PYRO_MAX_DEPTH);
	/* each node straight under its parent: constant time, whatever the depth */
	uint32_t got = profile_child(rd->prof, parent, frame);
	if (got == UINT32_MAX)
		return -ENOMEM;
	if (got != id)
		return corrupt(rd, "section NODES: node %" PRIu32 " repeats node %" PRIu32, id,
			       got);
	profile_node_add(rd->prof, id, self, counts);
	return 0;
}

static int read_nodes(struct reader *rd)
{
	struct cur c = cur_open(rd, SEC_NODES);
	size_t n, nframes = profile_nframes(rd->prof);
	uint64_t self, counts[PROF_EVENTS_MAX];
	int e = get_count(&c, 1 + rd->nev, "nodes", &n);
	if (e < 0)
		return e;
	if (n == 0)
		return corrupt(rd, "section NODES has no root node");
	if ((e = get_uvar(&c, &self)) < 0 || (e = get_counts(&c, rd->nev, counts)) < 0)
		return e;
	if (profile_add_counts(rd->prof, NULL, 0, self, counts) == UINT32_MAX)
		return -ENOMEM;
	/* a node is at most as deep as its id */
	if (!(rd->path = malloc((n < PYRO_MAX_DEPTH ? n : PYRO_MAX_DEPTH) * sizeof(*rd->path))))
		return -ENOMEM;
	for (uint32_t id = 1; id < n; id++) {
		uint32_t back, frame;
		if ((e = get_u32(&c, (uint64_t)id + 1, "parent distance", &back)) < 0 ||
		    (e = get_u32(&c, nframes, "frame index", &frame)) < 0 ||
		    (e = get_uvar(&c, &self)) < 0 || (e = get_counts(&c, rd->nev, counts)) < 0)
			return e;
		if (back == 0)
			return corrupt(rd, "section NODES: node %" PRIu32 " is its own parent", id);
		if ((e = add_node(rd, id, id - back, frame, self, counts)) < 0)
			return e;
	}
	return cur_close(&c);
}

static int read_threads(struct reader *rd)
{
	struct cur c = cur_open(rd, SEC_THREADS);
	size_t n;
	int e = get_count(&c, 3, "threads", &n);
	if (e < 0)
		return e;
	if (n && !(rd->run->threads = calloc(n, sizeof(*rd->run->threads))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct run_thread *t = &rd->run->threads[i];
		int tid;
		if ((e = get_int(&c, "thread id", &tid)) < 0 ||
		    (e = get_str(&c, "thread name", &t->comm)) < 0 ||
		    (e = get_uvar(&c, &t->samples)) < 0)
			return e;
		t->tid = tid;
		rd->run->nthreads = i + 1;
	}
	return cur_close(&c);
}

static int read_samples(struct reader *rd)
{
	struct cur c = cur_open(rd, SEC_SAMPLES);
	size_t n, nnodes = profile_nnodes(rd->prof);
	uint64_t time = 0, counts[PROF_EVENTS_MAX];
	int e = get_count(&c, 4 + rd->nev, "samples", &n);
	if (e < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		uint64_t dt;
		uint32_t node, event;
		int tid;
		if ((e = get_uvar(&c, &dt)) < 0 || (e = get_int(&c, "sample thread", &tid)) < 0 ||
		    (e = get_u32(&c, nnodes, "sample node", &node)) < 0 ||
		    (e = get_u32(&c, rd->nev ? rd->nev : 1, "sample event", &event)) < 0 ||
		    (e = get_counts(&c, rd->nev, counts)) < 0)
			return e;
		time += (uint64_t)unzigzag(dt);
		if (run_add_sample(rd->run, time, tid, node, event, counts) < 0)
			return -ENOMEM;
	}
	return cur_close(&c);
}

/* Sections in the order their contents depend on each other, whatever
 * their order in the file. */
static int read_all(struct reader *rd)
{
	int e;
	if ((e = read_header(rd)) < 0 || (e = read_sections(rd)) < 0 ||
	    (e = read_strings(rd)) < 0 || (e = read_events(rd)) < 0 || (e = read_meta(rd)) < 0)
		return e;
	if (!(rd->prof = profile_new_events(rd->ev, rd->nev)))
		return -ENOMEM;
	if ((e = read_frames(rd)) < 0 || (e = read_nodes(rd)) < 0 ||
	    (e = read_threads(rd)) < 0 || (e = read_samples(rd)) < 0)
		return e;
	return 0;
}

static int read_named(const char *name, const void *data, size_t len, struct strpool *pool,
		      struct profile **prof, struct run *run, char *err, size_t errlen)
{
	char scratch[1];
	struct reader rd = {
		.name = name, .data = data, .len = len, .pool = pool, .run = run,
		.err = err && errlen ? err : scratch, .errlen = err && errlen ? errlen : 1,
	};
	rd.err[0] = '\0';
	*prof = NULL;
	run_init(run);
	int e = read_all(&rd);
	if (e == -ENOMEM)
		fail(&rd, e, "cannot be read: out of memory");
	free(rd.strs);
	free(rd.path);
	if (e < 0) {
		profile_free(rd.prof);
		run_release(run);
		return e;
	}
	*prof = rd.prof;
	return 0;
}

int pyro_read_mem(const void *data, size_t len, struct strpool *pool, struct profile **prof,
		  struct run *run, char *err, size_t errlen)
{
	return read_named("buffer", data, len, pool, prof, run, err, errlen);
}

/* The whole of fd into a new buffer (regular files or pipes). */
static int slurp(int fd, unsigned char **out, size_t *len)
{
	struct stat st;
	size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	size_t n = 0;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			unsigned char *nb = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

int pyro_read(const char *path, struct strpool *pool, struct profile **prof, struct run *run,
	      char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	*prof = NULL;
	run_init(run);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int e = fd < 0 ? -errno : slurp(fd, &buf, &len);
	if (fd >= 0)
		close(fd);
	if (e < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	e = read_named(path, buf, len, pool, prof, run, err, errlen);
	free(buf);
	return e;
}
