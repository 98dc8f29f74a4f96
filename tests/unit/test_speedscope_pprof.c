/*
 * test_speedscope_pprof.c - the speedscope and pprof writers on a profile
 * built by hand.
 *
 * speedscope's JSON is compared with the text written out here. The pprof
 * file is inflated with zlib and its protobuf walked field by field with a
 * small decoder of our own, then checked stack by stack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "pyrometer/run.h"
#include "pyrometer/strpool.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Every kind of trouble a target can put in a name: a quote, a backslash,
 * a newline, controls, DEL, valid two- and four-byte UTF-8, and bytes that
 * are not UTF-8 (0xff, an overlong '/', a surrogate's first bytes). */
#define HOSTILE "q\"b\\n\nc\x01\x7f \xc3\xa9 \xff\xc0\xaf\xed\xa0\x80 \xf0\x9f\x98\x80"
#define FFFD "\xef\xbf\xbd"
#define HOSTILE_JSON "q\\\"b\\\\n\\u000ac\\u0001\\u007f \xc3\xa9 " \
	FFFD FFFD FFFD FFFD FFFD FFFD " \xf0\x9f\x98\x80"
#define HOSTILE_UTF8 "q\"b\\n\nc\x01\x7f \xc3\xa9 " FFFD FFFD FFFD FFFD FFFD FFFD \
	" \xf0\x9f\x98\x80"

struct fixture {
	struct strpool sp;
	struct profile *p;
};

static const char *intern(struct strpool *sp, const char *s)
{
	const char *r = strpool_intern(sp, s, strlen(s));
	assert_non_null(r);
	return r;
}

static void add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count,
		uint64_t cpu, uint64_t faults)
{
	const uint64_t v[2] = { cpu, faults };
	assert_int_not_equal(profile_add_counts(p, frames, n, count, v), UINT32_MAX);
}

#define ADD(p, count, cpu, faults, ...)                                      \
	add((p), (const uint32_t[]){ __VA_ARGS__ },                          \
	    sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t), (count), (cpu), \
	    (faults))

/*
 * Events cpu-clock (ns) and page-faults. Nodes are numbered as added:
 *
 * node  stack                        samples  cpu-clock  page-faults
 *  3    T11;main;work:20                 5       5000         1
 *  4    T11;main;work:21                 2       2000         0
 *  7    T12;main;work:20                 3       3000         2
 *  8    T11;main;work:20;memcpy          1       1000         0
 *  9    T12;[unknown]                    1       1000         0
 * 10    T12;HOSTILE                      1       1000         4
 *  2    T11;main                         0          0         3
 *                                       13      13000        10
 * T11 = "thread 11 (main)", T12 = "thread 12" (no comm).
 */
static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	strpool_init(&x->sp);
	struct strpool *sp = &x->sp;
	const struct prof_event ev[2] = { { intern(sp, "cpu-clock"), EVR_CPU_CLOCK },
					  { intern(sp, "page-faults"), EVR_PAGE_FAULTS } };
	x->p = profile_new_events(ev, 2);
	if (!x->p)
		return -1;
	struct profile *p = x->p;
	const char *app = intern(sp, "app.py"), *none = intern(sp, "");
	uint32_t T11 = profile_frame(p, intern(sp, "thread 11 (main)"), none, 11, PROF_THREAD);
	uint32_t T12 = profile_frame(p, intern(sp, "thread 12"), none, 12, PROF_THREAD);
	uint32_t M = profile_frame(p, intern(sp, "main"), app, 10, PROF_PYTHON);
	uint32_t W = profile_frame(p, intern(sp, "work"), app, 20, PROF_PYTHON);
	uint32_t W2 = profile_frame(p, intern(sp, "work"), app, 21, PROF_PYTHON);
	uint32_t N = profile_frame(p, intern(sp, "memcpy"), intern(sp, "libc.so.6"), 0,
				   PROF_NATIVE);
	uint32_t U = profile_frame(p, intern(sp, "[unknown]"), none, 0, PROF_PSEUDO);
	uint32_t H = profile_frame(p, intern(sp, HOSTILE), intern(sp, "bad\"file.py"), 7,
				   PROF_PYTHON);
	ADD(p, 5, 5000, 1, T11, M, W);
	ADD(p, 2, 2000, 0, T11, M, W2);
	ADD(p, 3, 3000, 2, T12, M, W);
	ADD(p, 1, 1000, 0, T11, M, W, N);
	ADD(p, 1, 1000, 0, T12, U);
	ADD(p, 1, 1000, 4, T12, H);
	ADD(p, 0, 0, 3, T11, M);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	if (x) {
		profile_free(x->p);
		strpool_release(&x->sp);
		free(x);
	}
	return 0;
}

/* Run a writer into a temporary file and read it back (malloc'ed, NUL
 * added after *len bytes). */
static char *render(const struct writer *w, const struct profile *p,
		    const struct output_opts *o, size_t *len)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(w->write(f, p, o), 0);
	assert_int_equal(fflush(f), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* ------------------------------------------------------------ speedscope */

#define SS_HEAD                                                                      \
	"{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"     \
	"\"shared\":{\"frames\":[\n"                                                 \
	"{\"name\":\"main\",\"file\":\"app.py\",\"line\":10},\n"                     \
	"{\"name\":\"work\",\"file\":\"app.py\",\"line\":20},\n"                     \
	"{\"name\":\"work\",\"file\":\"app.py\",\"line\":21},\n"                     \
	"{\"name\":\"memcpy [libc.so.6]\",\"file\":\"libc.so.6\"},\n"                \
	"{\"name\":\"[unknown]\"},\n"                                                \
	"{\"name\":\"" HOSTILE_JSON "\",\"file\":\"bad\\\"file.py\",\"line\":7}]},\n" \
	"\"profiles\":[\n"
#define SS_TAIL(active)                                                              \
	"],\n\"name\":\"pyrometer\",\"activeProfileIndex\":" #active                 \
	",\"exporter\":\"pyrometer " PYROMETER_VERSION "\"}\n"

/* Samples by default: one profile per thread, stacks in depth-first order
 * without the thread root, the heavier thread active. */
static void test_speedscope_samples(void **state)
{
	struct fixture *x = *state;
	struct output_opts o = { 0 };
	char *got = render(&writer_speedscope, x->p, &o, NULL);
	assert_string_equal(got,
		SS_HEAD
		"{\"type\":\"sampled\",\"name\":\"thread 11 (main)\",\"unit\":\"none\","
		"\"startValue\":0,\"endValue\":8,\n"
		"\"samples\":[[0,1],[0,1,3],[0,2]],\n"
		"\"weights\":[5,1,2]},\n"
		"{\"type\":\"sampled\",\"name\":\"thread 12\",\"unit\":\"none\","
		"\"startValue\":0,\"endValue\":5,\n"
		"\"samples\":[[0,1],[4],[5]],\n"
		"\"weights\":[3,1,1]}"
		SS_TAIL(0));
	free(got);
}

/* --weight: an event's counts, in nanoseconds for a clock. A stack that
 * counted nothing of it is left out; a stack without samples is in. */
static void test_speedscope_weight(void **state)
{
	struct fixture *x = *state;
	struct output_opts o = { .weight_event = 1 };
	char *got = render(&writer_speedscope, x->p, &o, NULL);
	assert_non_null(strstr(got, "\"name\":\"thread 11 (main)\",\"unit\":\"nanoseconds\","
				    "\"startValue\":0,\"endValue\":8000,\n"
				    "\"samples\":[[0,1],[0,1,3],[0,2]],\n"
				    "\"weights\":[5000,1000,2000]}"));
	free(got);

	o.weight_event = 2;
	got = render(&writer_speedscope, x->p, &o, NULL);
	assert_string_equal(got,
		SS_HEAD
		"{\"type\":\"sampled\",\"name\":\"thread 11 (main)\",\"unit\":\"none\","
		"\"startValue\":0,\"endValue\":4,\n"
		"\"samples\":[[0],[0,1]],\n"
		"\"weights\":[3,1]},\n"
		"{\"type\":\"sampled\",\"name\":\"thread 12\",\"unit\":\"none\","
		"\"startValue\":0,\"endValue\":6,\n"
		"\"samples\":[[0,1],[5]],\n"
		"\"weights\":[2,4]}"
		SS_TAIL(1));
	free(got);
}

/* Without thread roots: one profile for everything. Empty: still one. */
static void test_speedscope_no_threads(void **state)
{
	struct fixture *x = *state;
	struct output_opts o = { 0 };
	struct profile *merged = profile_without_threads(x->p);
	assert_non_null(merged);
	char *got = render(&writer_speedscope, merged, &o, NULL);
	assert_non_null(strstr(got, "\"profiles\":[\n{\"type\":\"sampled\",\"name\":"
				    "\"all threads\",\"unit\":\"none\",\"startValue\":0,"
				    "\"endValue\":13,"));
	assert_null(strstr(got, "thread 1"));
	free(got);
	profile_free(merged);

	struct profile *empty = profile_new();
	assert_non_null(empty);
	got = render(&writer_speedscope, empty, &o, NULL);
	assert_string_equal(got,
		"{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"
		"\"shared\":{\"frames\":[]},\n"
		"\"profiles\":[\n"
		"{\"type\":\"sampled\",\"name\":\"all threads\",\"unit\":\"none\","
		"\"startValue\":0,\"endValue\":0,\n\"samples\":[],\n\"weights\":[]}"
		SS_TAIL(0));
	free(got);
	profile_free(empty);
}

/* A name cut short inside a UTF-8 sequence: the escaper stops at the NUL. */
static void test_speedscope_truncated_utf8(void **state)
{
	(void)state;
	struct strpool sp;
	strpool_init(&sp);
	struct profile *p = profile_new();
	assert_non_null(p);
	uint32_t f = profile_frame(p, intern(&sp, "ab\xe2\x82"), intern(&sp, "\xf0"), 1,
				   PROF_PYTHON);
	assert_int_not_equal(profile_add(p, &f, 1, 1), UINT32_MAX);
	struct output_opts o = { 0 };
	char *got = render(&writer_speedscope, p, &o, NULL);
	assert_non_null(strstr(got, "{\"name\":\"ab" FFFD FFFD "\",\"file\":\"" FFFD
				    "\",\"line\":1}"));
	free(got);
	profile_free(p);
	strpool_release(&sp);
}

/* ------------------------------------------------------------ pprof */

/* A protobuf reader: one field at a time. */
struct pbr {
	const uint8_t *p, *end;
};

struct pbf {
	unsigned field, wire;
	uint64_t v;              /* varint fields */
	const uint8_t *b;        /* length-delimited fields */
	size_t len;
};

static int pbr_varint(struct pbr *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		uint8_t c = *r->p++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* 1 and the next field, 0 at the end; a malformed message fails the test. */
static int pbr_next(struct pbr *r, struct pbf *f)
{
	uint64_t key;
	if (r->p == r->end)
		return 0;
	assert_int_equal(pbr_varint(r, &key), 0);
	f->field = (unsigned)(key >> 3);
	f->wire = (unsigned)(key & 7);
	if (f->wire == 0) {
		assert_int_equal(pbr_varint(r, &f->v), 0);
	} else {
		assert_int_equal(f->wire, 2);
		assert_int_equal(pbr_varint(r, &f->v), 0);
		assert_true(f->v <= (uint64_t)(r->end - r->p));
		f->b = r->p;
		f->len = (size_t)f->v;
		r->p += f->len;
	}
	return 1;
}

static struct pbr sub(const struct pbf *f)
{
	assert_int_equal(f->wire, 2);
	return (struct pbr){ f->b, f->b + f->len };
}

/* Packed varints (or a single unpacked one) appended to out. */
static void packed(const struct pbf *f, uint64_t *out, size_t *n, size_t cap)
{
	if (f->wire == 0) {
		assert_true(*n < cap);
		out[(*n)++] = f->v;
		return;
	}
	struct pbr r = sub(f);
	while (r.p < r.end) {
		assert_true(*n < cap);
		assert_int_equal(pbr_varint(&r, &out[(*n)++]), 0);
	}
}

struct dsample {
	uint64_t loc[16], val[8];
	size_t nloc, nval;
	uint64_t tid, tname;     /* label values; tname a string index */
	int labels;
};

struct decoded {
	char *str[64];
	size_t nstr;
	uint64_t type[8][2];     /* sample_type: (type, unit) */
	size_t ntype;
	struct dsample s[16];
	size_t ns;
	uint64_t loc[16][3];     /* id, function id, line */
	size_t nloc;
	uint64_t fn[16][4];      /* id, name, system name, filename */
	size_t nfn;
	uint64_t period_type[2], period, time, duration, default_type;
	uint64_t comment[16];
	size_t ncomment;
	size_t nmapping;
};

static void value_type(const struct pbf *f, uint64_t out[2])
{
	struct pbr r = sub(f);
	struct pbf g;
	while (pbr_next(&r, &g))
		if (g.field == 1 || g.field == 2)
			out[g.field - 1] = g.v;
}

static void decode_sample(const struct pbf *f, struct decoded *d)
{
	assert_true(d->ns < ARRAY_LEN(d->s));
	struct dsample *s = &d->s[d->ns++];
	struct pbr r = sub(f);
	struct pbf g;
	while (pbr_next(&r, &g)) {
		if (g.field == 1)
			packed(&g, s->loc, &s->nloc, ARRAY_LEN(s->loc));
		else if (g.field == 2)
			packed(&g, s->val, &s->nval, ARRAY_LEN(s->val));
		if (g.field != 3)
			continue;
		uint64_t key = 0, str = 0, num = 0;
		struct pbr lr = sub(&g);
		struct pbf h;
		while (pbr_next(&lr, &h)) {
			if (h.field == 1)
				key = h.v;
			else if (h.field == 2)
				str = h.v;
			else if (h.field == 3)
				num = h.v;
		}
		assert_true(key < d->nstr || d->nstr == 0);
		s->labels++;
		if (key && !strcmp(d->str[key], "thread_id"))
			s->tid = num;
		else if (key && !strcmp(d->str[key], "thread_name"))
			s->tname = str;
	}
}

static void decode_location(const struct pbf *f, struct decoded *d)
{
	assert_true(d->nloc < ARRAY_LEN(d->loc));
	uint64_t *l = d->loc[d->nloc++];
	struct pbr r = sub(f);
	struct pbf g;
	int lines = 0;
	while (pbr_next(&r, &g)) {
		if (g.field == 1) {
			l[0] = g.v;
		} else if (g.field == 4) {
			lines++;
			struct pbr lr = sub(&g);
			struct pbf h;
			while (pbr_next(&lr, &h))
				if (h.field == 1 || h.field == 2)
					l[h.field] = h.v;
		}
	}
	assert_int_equal(lines, 1);
}

static void decode_function(const struct pbf *f, struct decoded *d)
{
	assert_true(d->nfn < ARRAY_LEN(d->fn));
	uint64_t *fn = d->fn[d->nfn++];
	struct pbr r = sub(f);
	struct pbf g;
	while (pbr_next(&r, &g))
		if (g.field >= 1 && g.field <= 4)
			fn[g.field - 1] = g.v;
}

/* The message's strings come first: labels are resolved through them. */
static void decode_strings(const uint8_t *b, size_t n, struct decoded *d)
{
	struct pbr r = { b, b + n };
	struct pbf f;
	while (pbr_next(&r, &f)) {
		if (f.field != 6)
			continue;
		assert_int_equal(f.wire, 2);
		assert_true(d->nstr < ARRAY_LEN(d->str));
		d->str[d->nstr] = strndup((const char *)f.b, f.len);
		assert_non_null(d->str[d->nstr]);
		assert_int_equal(strlen(d->str[d->nstr]), f.len);
		d->nstr++;
	}
}

static void decode(const uint8_t *b, size_t n, struct decoded *d)
{
	memset(d, 0, sizeof(*d));
	decode_strings(b, n, d);
	struct pbr r = { b, b + n };
	struct pbf f;
	while (pbr_next(&r, &f)) {
		switch (f.field) {
		case 1:
			assert_true(d->ntype < ARRAY_LEN(d->type));
			value_type(&f, d->type[d->ntype++]);
			break;
		case 2:
			decode_sample(&f, d);
			break;
		case 3:
			d->nmapping++;
			break;
		case 4:
			decode_location(&f, d);
			break;
		case 5:
			decode_function(&f, d);
			break;
		case 9:
			d->time = f.v;
			break;
		case 10:
			d->duration = f.v;
			break;
		case 11:
			value_type(&f, d->period_type);
			break;
		case 12:
			d->period = f.v;
			break;
		case 13:
			assert_true(d->ncomment < ARRAY_LEN(d->comment));
			d->comment[d->ncomment++] = f.v;
			break;
		case 14:
			d->default_type = f.v;
			break;
		}
	}
	/* every index in range */
	for (size_t i = 0; i < d->ntype; i++)
		assert_true(d->type[i][0] < d->nstr && d->type[i][1] < d->nstr);
	for (size_t i = 0; i < d->nfn; i++)
		for (int k = 1; k < 4; k++)
			assert_true(d->fn[i][k] < d->nstr);
	for (size_t i = 0; i < d->ncomment; i++)
		assert_true(d->comment[i] < d->nstr);
	assert_true(d->default_type < d->nstr);
}

static void decoded_free(struct decoded *d)
{
	for (size_t i = 0; i < d->nstr; i++)
		free(d->str[i]);
}

/* gunzip: the writer must produce a gzip stream (header 1f 8b). */
static uint8_t *gunzip(const char *gz, size_t n, size_t *out_len)
{
	assert_true(n > 18);
	assert_int_equal((uint8_t)gz[0], 0x1f);
	assert_int_equal((uint8_t)gz[1], 0x8b);
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	size_t cap = 1 << 16, len = 0;
	uint8_t *out = malloc(cap);
	assert_non_null(out);
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)n;
	int r;
	do {
		if (len == cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		r = inflate(&z, Z_NO_FLUSH);
		assert_true(r == Z_OK || r == Z_STREAM_END);
		len = cap - z.avail_out;
	} while (r != Z_STREAM_END);
	assert_int_equal(z.avail_in, 0);   /* nothing after the stream */
	inflateEnd(&z);
	*out_len = len;
	return out;
}

static void pprof_decode(const struct profile *p, const struct output_opts *o,
			 struct decoded *d)
{
	size_t n, len;
	char *gz = render(&writer_pprof, p, o, &n);
	uint8_t *pb = gunzip(gz, n, &len);
	decode(pb, len, d);
	free(pb);
	free(gz);
}

static const char *fn_name(const struct decoded *d, uint64_t loc, uint64_t *line)
{
	for (size_t i = 0; i < d->nloc; i++) {
		if (d->loc[i][0] != loc)
			continue;
		*line = d->loc[i][2];
		for (size_t k = 0; k < d->nfn; k++)
			if (d->fn[k][0] == d->loc[i][1])
				return d->str[d->fn[k][1]];
	}
	fail_msg("location %llu or its function is missing", (unsigned long long)loc);
	return NULL;
}

/* "main:10;work:20": a sample's stack, root first, as names and lines. */
static void stack_text(const struct decoded *d, const struct dsample *s, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = s->nloc; i-- > 0;) {
		uint64_t line;
		const char *name = fn_name(d, s->loc[i], &line);
		len += (size_t)snprintf(out + len, cap - len, "%s%s:%llu", len ? ";" : "", name,
					(unsigned long long)line);
		assert_true(len < cap);
	}
}

static const struct dsample *find_sample(const struct decoded *d, const char *stack)
{
	char text[512];
	for (size_t i = 0; i < d->ns; i++) {
		stack_text(d, &d->s[i], text, sizeof(text));
		if (!strcmp(text, stack))
			return &d->s[i];
	}
	fail_msg("no sample with the stack %s", stack);
	return NULL;
}

static const char *str_at(const struct decoded *d, uint64_t i)
{
	assert_true(i < d->nstr);
	return d->str[i];
}

static void test_pprof_samples(void **state)
{
	struct fixture *x = *state;
	struct output_opts o = { 0 };
	struct decoded d;
	pprof_decode(x->p, &o, &d);

	assert_true(d.nstr > 0);
	assert_string_equal(d.str[0], "");
	for (size_t i = 1; i < d.nstr; i++)     /* each string once */
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(d.str[i], d.str[k]);
	assert_int_equal(d.ntype, 3);
	assert_string_equal(str_at(&d, d.type[0][0]), "samples");
	assert_string_equal(str_at(&d, d.type[0][1]), "count");
	assert_string_equal(str_at(&d, d.type[1][0]), "cpu-clock");
	assert_string_equal(str_at(&d, d.type[1][1]), "nanoseconds");
	assert_string_equal(str_at(&d, d.type[2][0]), "page-faults");
	assert_string_equal(str_at(&d, d.type[2][1]), "count");
	assert_string_equal(str_at(&d, d.default_type), "cpu-clock");
	assert_string_equal(str_at(&d, d.period_type[0]), "cpu-clock");
	assert_string_equal(str_at(&d, d.period_type[1]), "nanoseconds");
	assert_int_equal(d.nmapping, 1);

	/* one location per frame (thread roots are labels), one function per
	 * name and file: work:20 and work:21 share theirs */
	assert_int_equal(d.nloc, 6);
	assert_int_equal(d.nfn, 5);
	for (size_t i = 0; i < d.nfn; i++) {
		const char *name = str_at(&d, d.fn[i][1]), *file = str_at(&d, d.fn[i][3]);
		const char *sys = str_at(&d, d.fn[i][2]);
		if (!strcmp(name, "memcpy")) {
			assert_string_equal(file, "libc.so.6");
			assert_string_equal(sys, "memcpy");
		} else {
			assert_string_equal(sys, "");
		}
		if (!strcmp(name, "[unknown]"))
			assert_string_equal(file, "");
		if (!strcmp(name, "work"))
			assert_string_equal(file, "app.py");
	}

	static const struct {
		const char *stack;
		uint64_t val[3], tid;
		const char *comm;
	} want[] = {
		{ "main:10;work:20", { 5, 5000, 1 }, 11, "main" },
		{ "main:10;work:21", { 2, 2000, 0 }, 11, "main" },
		{ "main:10;work:20;memcpy:0", { 1, 1000, 0 }, 11, "main" },
		{ "main:10", { 0, 0, 3 }, 11, "main" },
		{ "[unknown]:0", { 1, 1000, 0 }, 12, NULL },
		{ HOSTILE_UTF8 ":7", { 1, 1000, 4 }, 12, NULL },
	};
	/* main;work:20 twice, once per thread */
	assert_int_equal(d.ns, ARRAY_LEN(want) + 1);
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const struct dsample *s = find_sample(&d, want[i].stack);
		assert_int_equal(s->nval, 3);
		assert_memory_equal(s->val, want[i].val, sizeof(want[i].val));
		assert_int_equal(s->tid, want[i].tid);
		if (want[i].comm) {
			assert_int_equal(s->labels, 2);
			assert_string_equal(str_at(&d, s->tname), want[i].comm);
		} else {
			assert_int_equal(s->labels, 1);
		}
	}
	uint64_t tot[3] = { 0 };
	for (size_t i = 0; i < d.ns; i++)
		for (size_t k = 0; k < 3; k++)
			tot[k] += d.s[i].val[k];
	assert_int_equal(tot[0], 13);
	assert_int_equal(tot[1], 13000);
	assert_int_equal(tot[2], 10);
	/* leaf first */
	const struct dsample *s = find_sample(&d, "main:10;work:20;memcpy:0");
	uint64_t line;
	assert_string_equal(fn_name(&d, s->loc[0], &line), "memcpy");
	decoded_free(&d);
}

/* What the run knows: times, period, comments; --weight picks the default. */
static void test_pprof_run(void **state)
{
	struct fixture *x = *state;
	struct run r;
	run_init(&r);
	r.version = "9.9.9";
	r.target = "python3 app.py";
	r.pid = 4242;
	r.python = "3.12.1";
	r.start_unix_ns = 1700000000123456789ull;
	r.duration_ns = 2000000000ull;
	r.hz = 250;
	r.nev = 2;
	r.ev[0] = (struct run_event){ .name = "cpu-clock", .fqname = "cpu-clock",
				      .role = EVR_CPU_CLOCK, .running_pct = 100 };
	r.ev[1] = (struct run_event){ .name = "page-faults", .fqname = "page-faults",
				      .role = EVR_PAGE_FAULTS, .total = 10, .running_pct = 100 };
	r.samples = 13;
	r.lost = 2;
	struct output_opts o = { .run = &r, .weight_event = 2 };
	struct decoded d;
	pprof_decode(x->p, &o, &d);
	assert_int_equal(d.time, 1700000000123456789ull);
	assert_int_equal(d.duration, 2000000000ull);
	assert_int_equal(d.period, 4000000);
	assert_string_equal(str_at(&d, d.default_type), "page-faults");
	int seen_version = 0, seen_target = 0, seen_stats = 0;
	for (size_t i = 0; i < d.ncomment; i++) {
		const char *c = str_at(&d, d.comment[i]);
		seen_version |= !strcmp(c, "pyrometer 9.9.9");
		seen_target |= !strcmp(c, "target: pid 4242 python3 app.py");
		seen_stats |= !strncmp(c, "stats: 13 samples, 2 lost,", 26);
	}
	assert_true(seen_version && seen_target && seen_stats);
	decoded_free(&d);

	/* a fixed period is the period */
	r.ev[0].period = 12345;
	pprof_decode(x->p, &o, &d);
	assert_int_equal(d.period, 12345);
	decoded_free(&d);
	run_release(&r);
}

/* Without thread roots there are no labels; without events, one value. */
static void test_pprof_plain(void **state)
{
	struct fixture *x = *state;
	struct output_opts o = { 0 };
	struct profile *merged = profile_without_threads(x->p);
	assert_non_null(merged);
	struct decoded d;
	pprof_decode(merged, &o, &d);
	/* work:20 of both threads merged */
	assert_int_equal(d.ns, 6);
	for (size_t i = 0; i < d.ns; i++)
		assert_int_equal(d.s[i].labels, 0);
	assert_int_equal(find_sample(&d, "main:10;work:20")->val[0], 8);
	decoded_free(&d);
	profile_free(merged);

	struct profile *empty = profile_new();
	assert_non_null(empty);
	pprof_decode(empty, &o, &d);
	assert_int_equal(d.ntype, 1);
	assert_string_equal(str_at(&d, d.type[0][0]), "samples");
	assert_string_equal(str_at(&d, d.default_type), "samples");
	assert_int_equal(d.ns, 0);
	assert_int_equal(d.nloc, 0);
	decoded_free(&d);
	profile_free(empty);
}

/* Enough distinct frames to grow the string table and to need several
 * chunks of compressed output. */
static void test_pprof_large(void **state)
{
	(void)state;
	struct strpool sp;
	strpool_init(&sp);
	struct profile *p = profile_new();
	assert_non_null(p);
	const char *file = intern(&sp, "big.py");
	char name[64];
	enum { N = 20000 };
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "function_%u_%08x", i, i * 2654435761u);
		uint32_t f[2];
		f[0] = profile_frame(p, intern(&sp, "root"), file, 1, PROF_PYTHON);
		f[1] = profile_frame(p, intern(&sp, name), file, (int)i + 2, PROF_PYTHON);
		assert_int_not_equal(profile_add(p, f, 2, i % 7 + 1), UINT32_MAX);
	}
	struct output_opts o = { 0 };
	size_t n, len;
	char *gz = render(&writer_pprof, p, &o, &n);
	uint8_t *pb = gunzip(gz, n, &len);
	/* walk it whole: strings, samples and their sum */
	struct pbr r = { pb, pb + len };
	struct pbf f;
	size_t nstr = 0, ns = 0;
	uint64_t sum = 0;
	while (pbr_next(&r, &f)) {
		if (f.field == 6)
			nstr++;
		if (f.field != 2)
			continue;
		ns++;
		struct pbr sr = sub(&f);
		struct pbf g;
		while (pbr_next(&sr, &g)) {
			uint64_t v[4];
			size_t nv = 0;
			if (g.field == 2) {
				packed(&g, v, &nv, ARRAY_LEN(v));
				assert_int_equal(nv, 1);
				sum += v[0];
			}
		}
	}
	assert_int_equal(ns, N);
	assert_int_equal(sum, profile_samples(p));
	assert_true(nstr >= N + 2);
	free(pb);
	free(gz);
	profile_free(p);
	strpool_release(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_speedscope_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_speedscope_weight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_speedscope_no_threads, setup, teardown),
		cmocka_unit_test(test_speedscope_truncated_utf8),
		cmocka_unit_test_setup_teardown(test_pprof_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pprof_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pprof_plain, setup, teardown),
		cmocka_unit_test(test_pprof_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
