/*
 * pprof.c - pprof's profile.proto (github.com/google/pprof,
 * proto/profile.proto), encoded here by hand and gzipped with zlib.
 *
 * Sample values: "samples" first, then one value per event of the profile.
 * One Sample per stack of the trie that counted anything, its locations
 * leaf first, labelled with the thread it ran on ("thread_id" = TID,
 * "thread_name" = comm) when it hangs under a thread root. One Location per
 * frame, each with a single Line; one Function per (kind, name, file), so
 * the lines of a Python function share it.
 *
 * The top-level message needs no length prefix, so fields go to the
 * compressor as soon as they are encoded; the string table is collected on
 * the way (pointers to the strings, deduplicated) and written last.
 * Python and marker frames get no system_name: see put_functions().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "pyrometer/run.h"
#include "pyrometer/strpool.h"

/* Field numbers of profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4, PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9, PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12, PROFILE_COMMENT = 13, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VALUETYPE_TYPE = 1, VALUETYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3 };
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_LINE = 4 };
enum {
	MAPPING_ID = 1, MAPPING_FILENAME = 5, MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8, MAPPING_HAS_LINE_NUMBERS = 9,
};
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4 };

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* ------------------------------------------------------------ encoding */

/* A growing byte buffer; oom is sticky and checked once at the end. */
struct buf {
	uint8_t *b;
	size_t len, cap;
	int oom;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->oom || !n)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *nb = realloc(b->b, cap);
		if (!nb) {
			b->oom = 1;
			return;
		}
		b->b = nb;
		b->cap = cap;
	}
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void pb_varint(struct buf *b, uint64_t v)
{
	uint8_t out[10];
	size_t n = 0;
	do {
		out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	buf_put(b, out, n);
}

static void pb_key(struct buf *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

/* A varint field; zero is proto3's default and is left out. Every value
 * here is >= 0, so int64 and uint64 fields encode alike. */
static void pb_uint(struct buf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;
	pb_key(b, field, WIRE_VARINT);
	pb_varint(b, v);
}

static void pb_bytes(struct buf *b, unsigned field, const void *p, size_t n)
{
	pb_key(b, field, WIRE_LEN);
	pb_varint(b, n);
	buf_put(b, p, n);
}

static void pb_msg(struct buf *b, unsigned field, struct buf *m)
{
	pb_bytes(b, field, m->b, m->len);
	b->oom |= m->oom;
	m->len = 0;
}

/* The gzip stream the encoded fields go through. */
struct gz {
	z_stream z;
	FILE *f;
	int err;
	unsigned char out[16384];
};

static int gz_open(struct gz *g, FILE *f)
{
	memset(&g->z, 0, sizeof(g->z));
	g->f = f;
	g->err = 0;
	/* windowBits 15 + 16: a gzip header and trailer, not zlib's */
	return deflateInit2(&g->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			    Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -ENOMEM;
}

static void gz_run(struct gz *g, int flush)
{
	do {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		int r = deflate(&g->z, flush);
		if (r == Z_STREAM_ERROR) {
			g->err = -EIO;
			return;
		}
		size_t n = sizeof(g->out) - g->z.avail_out;
		if (n && fwrite(g->out, 1, n, g->f) != n) {
			g->err = -EIO;
			return;
		}
		if (r == Z_STREAM_END)
			return;
	} while (g->z.avail_out == 0 || flush == Z_FINISH);
}

/* Compress and empty b. */
static void gz_take(struct gz *g, struct buf *b)
{
	if (!g->err && b->len) {
		g->z.next_in = b->b;
		g->z.avail_in = (uInt)b->len;
		gz_run(g, Z_NO_FLUSH);
	}
	b->len = 0;
}

static int gz_close(struct gz *g)
{
	if (!g->err)
		gz_run(g, Z_FINISH);
	deflateEnd(&g->z);
	return g->err;
}

/* ------------------------------------------------------------ strings */

/* The string table: index 0 is "", each distinct string once. It points at
 * the profile's strings and at copies it made in its own pool. */
struct strtab {
	const char **v;
	size_t n, cap;
	uint32_t *slot;          /* open addressing: index + 1, 0 = empty */
	size_t nslot;
	int oom;
	struct strpool own;
};

static int strtab_grow(struct strtab *t)
{
	size_t nslot = t->nslot ? t->nslot * 2 : 256;
	uint32_t *slot = calloc(nslot, sizeof(*slot));
	const char **v = realloc(t->v, nslot / 2 * sizeof(*v));
	if (!slot || !v) {
		free(slot);
		if (v)
			t->v = v;
		return -ENOMEM;
	}
	t->v = v;
	t->cap = nslot / 2;
	for (size_t i = 0; i < t->n; i++) {
		size_t h = strpool_hash(v[i], strlen(v[i])) & (nslot - 1);
		while (slot[h])
			h = (h + 1) & (nslot - 1);
		slot[h] = (uint32_t)i + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

/* The index of s, added when new; 0 ("") when out of memory. */
static uint64_t str_id(struct strtab *t, const char *s)
{
	if (t->oom)
		return 0;
	if (t->n >= t->cap && strtab_grow(t) < 0) {
		t->oom = 1;
		return 0;
	}
	size_t h = strpool_hash(s, strlen(s)) & (t->nslot - 1);
	for (; t->slot[h]; h = (h + 1) & (t->nslot - 1))
		if (strcmp(t->v[t->slot[h] - 1], s) == 0)
			return t->slot[h] - 1;
	t->slot[h] = (uint32_t)t->n + 1;
	t->v[t->n] = s;
	return t->n++;
}

/* The index of a string formatted here (copied into the table's pool). */
static uint64_t str_fmt(struct strtab *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static uint64_t str_fmt(struct strtab *t, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	const char *s = strpool_intern(&t->own, text, strlen(text));
	if (!s) {
		t->oom = 1;
		return 0;
	}
	return str_id(t, s);
}

static int strtab_init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	strpool_init(&t->own);
	str_id(t, "");
	return t->oom ? -ENOMEM : 0;
}

static void strtab_release(struct strtab *t)
{
	strpool_release(&t->own);
	free(t->slot);
	free(t->v);
}

/* The length of the valid UTF-8 sequence at s (NUL-terminated: the NUL
 * ends a sequence before any byte past it is read), or 0 when it is not
 * one. */
static int utf8_len(const unsigned char *s)
{
	uint32_t cp;
	return (int)esc_utf8(s, 4, &cp);
}

/* proto3 strings are UTF-8: bytes from the target that are not become
 * U+FFFD. */
static void put_utf8(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		int n = utf8_len(s);
		if (n) {
			buf_put(b, s, (size_t)n);
			s += n;
		} else {
			buf_put(b, "\xef\xbf\xbd", 3);
			s++;
		}
	}
}

static void put_strings(struct gz *g, struct buf *top, const struct strtab *t)
{
	struct buf one = { 0 };
	for (size_t i = 0; i < t->n; i++) {
		put_utf8(&one, t->v[i]);
		pb_msg(top, PROFILE_STRING_TABLE, &one);
		if (top->len > 65536)
			gz_take(g, top);
	}
	top->oom |= one.oom;
	free(one.b);
}

/* ------------------------------------------------------------ the profile */

struct pp {
	const struct profile *p;
	struct strtab st;
	struct buf top, msg, sub;
	struct gz gz;
	uint64_t *loc;       /* frame id -> Location id, 0 for thread roots */
	uint64_t *fn;        /* frame id -> Function id */
	int64_t *comm;       /* thread root frame id -> its comm's string index,
				-1 when not worked out yet */
};

/* Compressed once enough is pending. */
static void pp_flush(struct pp *c)
{
	if (c->top.len > 65536)
		gz_take(&c->gz, &c->top);
}

static const char *event_unit(int role)
{
	return role == EVR_CPU_CLOCK || role == EVR_TASK_CLOCK ? "nanoseconds" : "count";
}

static void value_type(struct pp *c, unsigned field, const char *type, const char *unit)
{
	pb_uint(&c->sub, VALUETYPE_TYPE, str_id(&c->st, type));
	pb_uint(&c->sub, VALUETYPE_UNIT, str_id(&c->st, unit));
	pb_msg(&c->top, field, &c->sub);
}

/* Frames of one function: same kind, name and file. */
static int function_cmp(const struct profile *p, uint32_t x, uint32_t y)
{
	const struct prof_frame *f = profile_frame_get(p, x), *g = profile_frame_get(p, y);
	int d = f->kind - g->kind;
	if (!d)
		d = strcmp(f->name, g->name);
	return d ? d : strcmp(f->file, g->file);
}

static int frame_cmp(const void *a, const void *b, void *arg)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int d = function_cmp(arg, x, y);
	return d ? d : (x > y) - (x < y);
}

/* Locations are numbered in frame order; functions too, in the order of
 * their first frame, so that the file does not depend on where the
 * strings sit in memory. */
static int number_frames(struct pp *c)
{
	size_t nf = profile_nframes(c->p), n = 0;
	uint32_t *by = malloc((nf ? nf : 1) * sizeof(*by));
	uint32_t *first = malloc((nf ? nf : 1) * sizeof(*first));
	if (!by || !first) {
		free(by);
		free(first);
		return -ENOMEM;
	}
	for (uint32_t id = 0; id < nf; id++)
		if (profile_frame_get(c->p, id)->kind != PROF_THREAD)
			by[n++] = id;
	qsort_r(by, n, sizeof(*by), frame_cmp, (void *)c->p);
	for (size_t i = 0; i < n; i++)
		first[by[i]] = i && !function_cmp(c->p, by[i - 1], by[i]) ? first[by[i - 1]]
									    : by[i];
	uint64_t next_fn = 1, next_loc = 1;
	for (uint32_t id = 0; id < nf; id++) {
		if (profile_frame_get(c->p, id)->kind == PROF_THREAD)
			continue;
		c->loc[id] = next_loc++;
		c->fn[id] = first[id] == id ? next_fn++ : c->fn[first[id]];
	}
	free(first);
	free(by);
	return 0;
}

static void put_functions(struct pp *c)
{
	uint64_t done = 0;
	for (uint32_t id = 0; id < profile_nframes(c->p); id++) {
		const struct prof_frame *f = profile_frame_get(c->p, id);
		if (f->kind == PROF_THREAD || c->fn[id] <= done)
			continue;
		done = c->fn[id];
		uint64_t name = str_id(&c->st, f->name);
		pb_uint(&c->msg, FUNCTION_ID, c->fn[id]);
		pb_uint(&c->msg, FUNCTION_NAME, name);
		/* pprof "demangles" a function whose system name equals its
		 * name, cutting <...> and (...) out of it as C++ template and
		 * parameter lists: <module>, <lambda> and <listcomp> would come
		 * out empty. Only native symbols have a system name. */
		if (f->kind == PROF_NATIVE)
			pb_uint(&c->msg, FUNCTION_SYSTEM_NAME, name);
		pb_uint(&c->msg, FUNCTION_FILENAME, str_id(&c->st, f->file));
		pb_msg(&c->top, PROFILE_FUNCTION, &c->msg);
		pp_flush(c);
	}
}

/* One mapping that every location belongs to, saying that they come
 * symbolized: pprof then neither looks for binaries nor complains that
 * the main one is missing. Its file is the target's program, the first
 * word of its command line, which pprof shows as "File:". */
static void put_mapping(struct pp *c, const struct run *r)
{
	const char *cmd = r && r->target && r->target[0] ? r->target : "python";
	pb_uint(&c->msg, MAPPING_ID, 1);
	pb_uint(&c->msg, MAPPING_FILENAME, str_fmt(&c->st, "%.*s", (int)strcspn(cmd, " "), cmd));
	pb_uint(&c->msg, MAPPING_HAS_FUNCTIONS, 1);
	pb_uint(&c->msg, MAPPING_HAS_FILENAMES, 1);
	pb_uint(&c->msg, MAPPING_HAS_LINE_NUMBERS, 1);
	pb_msg(&c->top, PROFILE_MAPPING, &c->msg);
}

static void put_locations(struct pp *c)
{
	for (uint32_t id = 0; id < profile_nframes(c->p); id++) {
		const struct prof_frame *f = profile_frame_get(c->p, id);
		if (f->kind == PROF_THREAD)
			continue;
		pb_uint(&c->sub, LINE_FUNCTION_ID, c->fn[id]);
		pb_uint(&c->sub, LINE_LINE, f->line > 0 ? (uint64_t)f->line : 0);
		pb_uint(&c->msg, LOCATION_ID, c->loc[id]);
		pb_uint(&c->msg, LOCATION_MAPPING_ID, 1);
		pb_msg(&c->msg, LOCATION_LINE, &c->sub);
		pb_msg(&c->top, PROFILE_LOCATION, &c->msg);
		pp_flush(c);
	}
}

/* "thread TID (comm)" -> the string index of comm; 0 ("") when the root
 * carries no name. */
static uint64_t thread_comm(struct pp *c, uint32_t frame)
{
	if (c->comm[frame] >= 0)
		return (uint64_t)c->comm[frame];
	const char *name = profile_frame_get(c->p, frame)->name;
	const char *open = strchr(name, '('), *end = name + strlen(name);
	uint64_t id = 0;
	if (open && end > open + 1 && end[-1] == ')')
		id = str_fmt(&c->st, "%.*s", (int)(end - open - 2), open + 1);
	c->comm[frame] = (int64_t)id;
	return id;
}

static void put_label(struct pp *c, uint64_t key, uint64_t str, uint64_t num)
{
	pb_uint(&c->sub, LABEL_KEY, key);
	pb_uint(&c->sub, LABEL_STR, str);
	pb_uint(&c->sub, LABEL_NUM, num);
	pb_msg(&c->msg, SAMPLE_LABEL, &c->sub);
}

static int node_counted(const struct profile *p, uint32_t id)
{
	const uint64_t *v = profile_node_counts(p, id);
	if (profile_node(p, id)->self)
		return 1;
	for (size_t k = 0; v && k < profile_nevents(p); k++)
		if (v[k])
			return 1;
	return 0;
}

/* One Sample per stack that counted anything. */
static void put_samples(struct pp *c)
{
	uint64_t key_tid = str_id(&c->st, "thread_id");
	uint64_t key_name = str_id(&c->st, "thread_name");
	for (uint32_t id = 1; id < profile_nnodes(c->p); id++) {
		if (!node_counted(c->p, id))
			continue;
		int thread = -1;
		for (uint32_t k = id; k != PROF_ROOT; k = profile_node(c->p, k)->parent) {
			uint32_t fr = profile_node(c->p, k)->frame;
			if (c->loc[fr])
				pb_varint(&c->sub, c->loc[fr]);
			else
				thread = (int)fr;
		}
		pb_msg(&c->msg, SAMPLE_LOCATION_ID, &c->sub);
		const uint64_t *v = profile_node_counts(c->p, id);
		pb_varint(&c->sub, profile_node(c->p, id)->self);
		for (size_t k = 0; k < profile_nevents(c->p); k++)
			pb_varint(&c->sub, v[k]);
		pb_msg(&c->msg, SAMPLE_VALUE, &c->sub);
		if (thread >= 0) {
			const struct prof_frame *t = profile_frame_get(c->p, (uint32_t)thread);
			put_label(c, key_tid, 0, t->line > 0 ? (uint64_t)t->line : 0);
			uint64_t comm = thread_comm(c, (uint32_t)thread);
			if (comm)
				put_label(c, key_name, comm, 0);
		}
		pb_msg(&c->top, PROFILE_SAMPLE, &c->msg);
		pp_flush(c);
	}
}

/* ------------------------------------------------------------ the header */

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int is_clock(int role)
{
	return role == EVR_CPU_CLOCK || role == EVR_TASK_CLOCK;
}

/* The first event's period: fixed (/period=N/), or 1/hz for a clock. */
static void put_period(struct pp *c, const struct run *r)
{
	if (!profile_nevents(c->p)) {
		value_type(c, PROFILE_PERIOD_TYPE, "samples", "count");
		pb_uint(&c->top, PROFILE_PERIOD, 1);
		return;
	}
	const struct prof_event *ev = profile_event(c->p, 0);
	value_type(c, PROFILE_PERIOD_TYPE, ev->name, event_unit(ev->role));
	uint64_t period = 0;
	if (r && r->nev && r->ev[0].period)
		period = r->ev[0].period;
	else if (r && r->hz && is_clock(ev->role))
		period = 1000000000ull / r->hz;
	pb_uint(&c->top, PROFILE_PERIOD, period);
}

static void comment(struct pp *c, uint64_t id)
{
	pb_uint(&c->top, PROFILE_COMMENT, id);
}

/* What the run knows goes into comments (pprof -comments shows them). */
static void put_run(struct pp *c, const struct run *r)
{
	if (!r) {
		comment(c, str_fmt(&c->st, "pyrometer %s", PYROMETER_VERSION));
		return;
	}
	pb_uint(&c->top, PROFILE_TIME_NANOS, r->start_unix_ns);
	pb_uint(&c->top, PROFILE_DURATION_NANOS, r->duration_ns);
	comment(c, str_fmt(&c->st, "pyrometer %s", r->version ? r->version : PYROMETER_VERSION));
	if (r->cmdline && r->cmdline[0])
		comment(c, str_fmt(&c->st, "command: %s", r->cmdline));
	comment(c, str_fmt(&c->st, "target: pid %d %s", (int)r->pid, nz(r->target)));
	if (r->python && r->python[0])
		comment(c, str_fmt(&c->st, "python: %s", r->python));
	if (r->backend && r->backend[0])
		comment(c, str_fmt(&c->st, "backend: %s, %llu Python stacks read at the sample",
				   r->backend, (unsigned long long)r->at_sample));
	if (r->host || r->kernel)
		comment(c, str_fmt(&c->st, "host: %s, kernel %s", nz(r->host), nz(r->kernel)));
	for (size_t k = 0; k < r->nev && k < PROF_EVENTS_MAX; k++) {
		const struct run_event *e = &r->ev[k];
		comment(c, str_fmt(&c->st,
				   "event %s (%s): total %llu, %llu samples, counted %.1f%%",
				   nz(e->name), nz(e->fqname), (unsigned long long)e->total,
				   (unsigned long long)e->samples, e->running_pct));
	}
	comment(c, str_fmt(&c->st,
			   "stats: %llu samples, %llu lost, %llu unreadable, %llu without "
			   "Python frames, %llu unwind failures, %llu truncated, %llu mismatches",
			   (unsigned long long)r->samples, (unsigned long long)r->lost,
			   (unsigned long long)r->unreadable, (unsigned long long)r->no_python,
			   (unsigned long long)r->unwind_failures,
			   (unsigned long long)r->truncated, (unsigned long long)r->mismatches));
}

static void put_header(struct pp *c, const struct output_opts *o)
{
	size_t nev = profile_nevents(c->p);
	value_type(c, PROFILE_SAMPLE_TYPE, "samples", "count");
	for (size_t k = 0; k < nev; k++) {
		const struct prof_event *ev = profile_event(c->p, k);
		value_type(c, PROFILE_SAMPLE_TYPE, ev->name, event_unit(ev->role));
	}
	/* what pprof shows unless told otherwise: --weight's event, else the
	 * first event's counts */
	const char *def = "samples";
	if (o->weight_event > 0 && (size_t)o->weight_event <= nev)
		def = profile_event(c->p, (size_t)o->weight_event - 1)->name;
	else if (nev)
		def = profile_event(c->p, 0)->name;
	pb_uint(&c->top, PROFILE_DEFAULT_SAMPLE_TYPE, str_id(&c->st, def));
	put_period(c, o->run);
	put_run(c, o->run);
}

static int write_pprof(FILE *f, const struct profile *p, const struct output_opts *o)
{
	struct pp c = { .p = p };
	size_t nf = profile_nframes(p) ? profile_nframes(p) : 1;
	int r = strtab_init(&c.st);
	c.loc = calloc(nf, sizeof(*c.loc));
	c.fn = calloc(nf, sizeof(*c.fn));
	c.comm = malloc(nf * sizeof(*c.comm));
	if (r < 0 || !c.loc || !c.fn || !c.comm) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nf; i++)
		c.comm[i] = -1;
	r = number_frames(&c);
	if (r < 0)
		goto out;
	r = gz_open(&c.gz, f);
	if (r < 0)
		goto out;
	put_header(&c, o);
	put_mapping(&c, o->run);
	put_functions(&c);
	put_locations(&c);
	put_samples(&c);
	put_strings(&c.gz, &c.top, &c.st);   /* last: every string is in */
	gz_take(&c.gz, &c.top);
	r = gz_close(&c.gz);
	if (!r && (c.top.oom || c.msg.oom || c.sub.oom || c.st.oom))
		r = -ENOMEM;
	if (!r && ferror(f))
		r = -EIO;
out:
	free(c.sub.b);
	free(c.msg.b);
	free(c.top.b);
	free(c.comm);
	free(c.fn);
	free(c.loc);
	strtab_release(&c.st);
	return r;
}

static const char *const exts[] = { ".pb.gz", NULL };
const struct writer writer_pprof = { "pprof", exts, write_pprof };
