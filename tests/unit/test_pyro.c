/*
 * test_pyro.c - .pyro recordings: a hand-built recording (two threads,
 * Python, native and marker frames, three events, a few hundred samples)
 * survives write then read field for field; cut, flipped, re-versioned,
 * re-ordered and hand-made broken files are refused with a message, never
 * crash (the ASan/UBSan build checks every read stays in bounds: every
 * damaged file lives in a buffer of exactly its own size).
 *
 * The format is checked from its specification too: the test has its own
 * CRC-32 and encodes small files field by field from the man page.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pyrometer/cli.h"
#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/perf.h"
#include "pyrometer/profile.h"
#include "pyrometer/pyro.h"
#include "pyrometer/run.h"
#include "pyrometer/strpool.h"

#define HEADER 16
#define SEC_HEAD 12

/* ---- helpers ---- */

/* CRC-32 bit by bit, as the man page describes it. */
static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320u & (0 - (crc & 1)));
	}
	return ~crc;
}

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return rnd_state >> 33;
}

static const char *intern(struct strpool *sp, const char *s)
{
	const char *r = strpool_intern(sp, s, strlen(s));
	assert_non_null(r);
	return r;
}

static uint64_t get_le(const unsigned char *p, size_t bytes)
{
	uint64_t v = 0;
	for (size_t i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void set_le(unsigned char *p, uint64_t v, size_t bytes)
{
	for (size_t i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The stored checksum made right again after an edit. */
static void fix_crc(unsigned char *f, size_t len)
{
	set_le(f + len - 4, crc32_ref(f, len - 4), 4);
}

static unsigned char *copy(const unsigned char *f, size_t len)
{
	unsigned char *c = malloc(len ? len : 1);
	assert_non_null(c);
	memcpy(c, f, len);
	return c;
}

/* A growing byte buffer, for files made by hand. */
struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void b_bytes(struct buf *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		b->cap = (b->n + len) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void b_le(struct buf *b, uint64_t v, size_t bytes)
{
	unsigned char x[8];
	set_le(x, v, bytes);
	b_bytes(b, x, bytes);
}

static void b_uvar(struct buf *b, uint64_t v)
{
	do {
		unsigned char x = (unsigned char)(v & 0x7f);
		v >>= 7;
		x |= v ? 0x80 : 0;
		b_bytes(b, &x, 1);
	} while (v);
}

static void b_svar(struct buf *b, int64_t v)
{
	b_uvar(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void b_str(struct buf *b, const char *s)
{
	b_uvar(b, strlen(s));
	b_bytes(b, s, strlen(s));
}

static void b_header(struct buf *b, unsigned major, unsigned minor)
{
	static const unsigned char magic[10] = { 'P', 'Y', 'R', 'O', 0x89, '\r', '\n', 0x1a,
						 '\n', 0 };
	b_bytes(b, magic, sizeof(magic));
	b_le(b, major, 2);
	b_le(b, minor, 2);
	b_le(b, 0, 2);
}

static void b_section(struct buf *b, uint32_t type, const struct buf *body)
{
	b_le(b, type, 4);
	b_le(b, body->n, 8);
	b_bytes(b, body->p, body->n);
}

static void b_end(struct buf *b)
{
	b_le(b, 0, 4);
	b_le(b, 4, 8);
	b_le(b, crc32_ref(b->p, b->n), 4);
}

/* A file's sections, as the walk from the header finds them. */
struct sec {
	uint32_t type;
	size_t at, len;   /* of the body */
};

static size_t sections(const unsigned char *f, size_t len, struct sec *out, size_t max)
{
	size_t pos = HEADER, n = 0;
	while (pos + SEC_HEAD <= len && n < max) {
		out[n].type = (uint32_t)get_le(f + pos, 4);
		out[n].len = (size_t)get_le(f + pos + 4, 8);
		out[n].at = pos + SEC_HEAD;
		pos = out[n].at + out[n].len;
		if (out[n++].type == 0)
			break;
	}
	return n;
}

/* ---- the recording ---- */

struct fix {
	struct strpool pool;
	struct profile *p;
	struct run run;
	unsigned char *file;
	size_t len;
};

static int write_mem(const struct profile *p, const struct run *r, unsigned char **out,
		     size_t *len)
{
	char *data = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&data, &n);
	assert_non_null(f);
	struct output_opts o = { .run = r };
	int e = writer_pyro.write(f, p, &o);
	assert_int_equal(fclose(f), 0);
	*out = (unsigned char *)data;
	*len = n;
	return e;
}

static void fill_run_meta(struct fix *x)
{
	struct run *r = &x->run;
	r->version = intern(&x->pool, "0.1.0");
	r->cmdline = intern(&x->pool, "pyrometer record -p 4242 -e cycles,instructions -o a.pyro");
	r->pid = 4242;
	r->target = intern(&x->pool, "python3 app.py --name=\xc3\xbc\t\"quoted\"");
	r->python = intern(&x->pool, "3.12.1");
	r->host = intern(&x->pool, "build-box");
	r->kernel = intern(&x->pool, "6.1.0-18-amd64");
	r->start_unix_ns = 1763800000123456789ull;
	r->duration_ns = 2500000001ull;
	r->hz = 997;
	r->native = NATIVE_ALL;
	r->samples = 400;
	r->lost = 3;
	r->unreadable = 0;
	r->no_python = 17;
	r->unwind_failures = 5;
	r->truncated = 1;
	r->mismatches = UINT64_MAX;
}

static void fill_events(struct fix *x, struct prof_event *pev)
{
	static const struct {
		const char *name, *fq;
		int role, how;
		uint64_t period;
		double pct;
	} ev[3] = {
		{ "cycles", "perf::CYCLES:u", EVR_CYCLES, PERF_EV_LEADER, 0, 100.0 },
		{ "instructions", "perf::INSTRUCTIONS:u", EVR_INSTRUCTIONS, PERF_EV_MEMBER, 0,
		  87.25 },
		{ "page-faults", "page-faults", EVR_PAGE_FAULTS, PERF_EV_SOLO, 100, 1.0 / 3 },
	};
	x->run.nev = 3;
	for (size_t k = 0; k < 3; k++) {
		struct run_event *e = &x->run.ev[k];
		e->name = intern(&x->pool, ev[k].name);
		e->fqname = intern(&x->pool, ev[k].fq);
		e->role = ev[k].role;
		e->how = ev[k].how;
		e->period = ev[k].period;
		e->running_pct = ev[k].pct;
		pev[k] = (struct prof_event){ e->name, e->role };
	}
}

/* Frames of every kind; some strings shared, some odd. */
static size_t make_frames(struct fix *x, uint32_t *fr)
{
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	const char *app = intern(&x->pool, "app.py"), *util = intern(&x->pool, "lib/util.py");
	const char *none = intern(&x->pool, ""), *libc = intern(&x->pool, "libc.so.6");
	struct {
		const char *name, *file;
		int line, kind;
	} f[] = {
		{ "main", app, 10, PROF_PYTHON },
		{ "work", app, 22, PROF_PYTHON },
		{ "work", app, 23, PROF_PYTHON },
		{ "helper", util, -1, PROF_PYTHON },
		{ "<lambda>", util, 100000, PROF_PYTHON },
		{ longname, app, 1, PROF_PYTHON },
		{ "memcpy", libc, 0, PROF_NATIVE },
		{ "_ZN3foo3barEv", none, 0, PROF_NATIVE },
		{ "compute\xe2\x86\x92step", intern(&x->pool, "_ext.cpython-312.so"), 0,
		  PROF_NATIVE },
		{ "[unknown]", none, 0, PROF_PSEUDO },
		{ "[no Python frames]", none, 0, PROF_PSEUDO },
		{ "with;semi\x01" "ctl", none, 0, PROF_PSEUDO },
	};
	size_t n = sizeof(f) / sizeof(f[0]);
	for (size_t i = 0; i < n; i++) {
		fr[i] = profile_frame(x->p, intern(&x->pool, f[i].name), f[i].file, f[i].line,
				      f[i].kind);
		assert_true(fr[i] != UINT32_MAX);
	}
	/* a frame no stack uses */
	assert_true(profile_frame(x->p, intern(&x->pool, "unused"), app, 7, PROF_PYTHON) !=
		    UINT32_MAX);
	return n;
}

static void fixture_build(struct fix *x)
{
	struct prof_event pev[3];
	uint32_t fr[16], roots[2], path[12];
	static const pid_t tids[2] = { 101, 102 };

	memset(x, 0, sizeof(*x));
	strpool_init(&x->pool);
	run_init(&x->run);
	fill_run_meta(x);
	fill_events(x, pev);
	x->p = profile_new_events(pev, 3);
	assert_non_null(x->p);
	roots[0] = profile_frame(x->p, intern(&x->pool, "thread 101 (main)"), intern(&x->pool, ""),
				 101, PROF_THREAD);
	roots[1] = profile_frame(x->p, intern(&x->pool, "thread 102 (w\xc3\xb6rker)"),
				 intern(&x->pool, ""), 102, PROF_THREAD);
	size_t nfr = make_frames(x, fr);

	x->run.threads = calloc(2, sizeof(*x->run.threads));
	assert_non_null(x->run.threads);
	x->run.nthreads = 2;
	x->run.threads[0] = (struct run_thread){ 101, intern(&x->pool, "main"), 0 };
	x->run.threads[1] = (struct run_thread){ 102, intern(&x->pool, "w\xc3\xb6rker"), 0 };

	rnd_state = 42;
	uint64_t time = 0;
	for (int i = 0; i < 400; i++) {
		int t = (int)(rnd() % 2);
		size_t depth = 1 + rnd() % 10;
		path[0] = roots[t];
		for (size_t d = 1; d < depth; d++)
			path[d] = fr[rnd() % nfr];
		/* cycles lead (instructions read with them); faults sample alone */
		uint32_t ev = rnd() % 4 == 0 ? 2 : 0;
		uint64_t vals[3] = { 0, 0, 0 };
		if (ev == 0) {
			vals[0] = 1000000 + rnd() % 5000;
			vals[1] = i == 7 ? UINT64_MAX : rnd() % 3000000;
		} else {
			vals[2] = 100;
		}
		/* one sample with no frames at all: the root's own */
		if (i == 200)
			depth = 0;
		uint32_t node = profile_add_counts(x->p, path, depth, ev == 0, vals);
		assert_true(node != UINT32_MAX);
		time += i % 50 == 0 ? 0 : rnd() % 2000000;
		assert_int_equal(run_add_sample(&x->run, time, tids[t], node, ev, vals), 0);
		x->run.threads[t].samples += ev == 0;
		x->run.ev[ev].samples++;
		for (int k = 0; k < 3; k++)
			x->run.ev[k].total += vals[k];
	}
	assert_int_equal(write_mem(x->p, &x->run, &x->file, &x->len), 0);
}

static void fixture_free(struct fix *x)
{
	free(x->file);
	run_release(&x->run);
	profile_free(x->p);
	strpool_release(&x->pool);
}

/* ---- comparisons ---- */

static void assert_same_str(const char *a, const char *b)
{
	assert_string_equal(a ? a : "", b ? b : "");
}

static void assert_same_profile(const struct profile *a, const struct profile *b)
{
	size_t nev = profile_nevents(a);
	assert_int_equal(profile_nevents(b), nev);
	for (size_t k = 0; k < nev; k++) {
		assert_same_str(profile_event(a, k)->name, profile_event(b, k)->name);
		assert_int_equal(profile_event(a, k)->role, profile_event(b, k)->role);
	}
	assert_int_equal(profile_nframes(a), profile_nframes(b));
	for (uint32_t id = 0; id < profile_nframes(a); id++) {
		const struct prof_frame *fa = profile_frame_get(a, id);
		const struct prof_frame *fb = profile_frame_get(b, id);
		assert_same_str(fa->name, fb->name);
		assert_same_str(fa->file, fb->file);
		assert_int_equal(fa->line, fb->line);
		assert_int_equal(fa->kind, fb->kind);
	}
	assert_int_equal(profile_nnodes(a), profile_nnodes(b));
	for (uint32_t id = 0; id < profile_nnodes(a); id++) {
		const struct prof_node *na = profile_node(a, id), *nb = profile_node(b, id);
		assert_int_equal(na->parent, nb->parent);
		assert_int_equal(na->depth, nb->depth);
		assert_int_equal(na->self, nb->self);
		if (id != PROF_ROOT) {
			assert_int_equal(na->frame, nb->frame);
			const struct prof_frame *fa = profile_frame_get(a, na->frame);
			const struct prof_frame *fb = profile_frame_get(b, nb->frame);
			assert_same_str(fa->name, fb->name);
			assert_same_str(fa->file, fb->file);
		}
		if (nev)
			assert_memory_equal(profile_node_counts(a, id), profile_node_counts(b, id),
					    nev * sizeof(uint64_t));
	}
	assert_int_equal(profile_samples(a), profile_samples(b));
}

static void assert_same_run(const struct run *a, const struct run *b)
{
	assert_same_str(a->version, b->version);
	assert_same_str(a->cmdline, b->cmdline);
	assert_int_equal(a->pid, b->pid);
	assert_same_str(a->target, b->target);
	assert_same_str(a->python, b->python);
	assert_same_str(a->host, b->host);
	assert_same_str(a->kernel, b->kernel);
	assert_int_equal(a->start_unix_ns, b->start_unix_ns);
	assert_int_equal(a->duration_ns, b->duration_ns);
	assert_int_equal(a->hz, b->hz);
	assert_int_equal(a->native, b->native);
	assert_int_equal(a->samples, b->samples);
	assert_int_equal(a->lost, b->lost);
	assert_int_equal(a->unreadable, b->unreadable);
	assert_int_equal(a->no_python, b->no_python);
	assert_int_equal(a->unwind_failures, b->unwind_failures);
	assert_int_equal(a->truncated, b->truncated);
	assert_int_equal(a->mismatches, b->mismatches);
	assert_int_equal(a->nev, b->nev);
	for (size_t k = 0; k < a->nev; k++) {
		const struct run_event *ea = &a->ev[k], *eb = &b->ev[k];
		assert_same_str(ea->name, eb->name);
		assert_same_str(ea->fqname, eb->fqname);
		assert_int_equal(ea->role, eb->role);
		assert_int_equal(ea->how, eb->how);
		assert_int_equal(ea->period, eb->period);
		assert_int_equal(ea->total, eb->total);
		assert_int_equal(ea->samples, eb->samples);
		assert_memory_equal(&ea->running_pct, &eb->running_pct, sizeof(double));
	}
	assert_int_equal(a->nthreads, b->nthreads);
	for (size_t i = 0; i < a->nthreads; i++) {
		assert_int_equal(a->threads[i].tid, b->threads[i].tid);
		assert_same_str(a->threads[i].comm, b->threads[i].comm);
		assert_int_equal(a->threads[i].samples, b->threads[i].samples);
	}
	assert_int_equal(a->nsamples, b->nsamples);
	for (size_t i = 0; i < a->nsamples; i++) {
		assert_int_equal(a->s[i].time, b->s[i].time);
		assert_int_equal(a->s[i].tid, b->s[i].tid);
		assert_int_equal(a->s[i].node, b->s[i].node);
		assert_int_equal(a->s[i].event, b->s[i].event);
	}
	if (a->nev && a->nsamples)
		assert_memory_equal(a->counts, b->counts, a->nsamples * a->nev * sizeof(uint64_t));
}

/*
 * What a reader that said yes promises: every index in range, the trie
 * well formed; and the result writes again and reads back the same.
 */
static void assert_consistent(const struct profile *p, const struct run *r,
			      struct strpool *pool)
{
	size_t nn = profile_nnodes(p), nf = profile_nframes(p), nev = profile_nevents(p);
	assert_int_equal(r->nev, nev);
	for (uint32_t id = 0; id < nf; id++) {
		const struct prof_frame *f = profile_frame_get(p, id);
		assert_non_null(f->name);
		assert_non_null(f->file);
		assert_in_range(f->kind, PROF_PYTHON, PROF_NATIVE);
	}
	for (uint32_t id = 1; id < nn; id++) {
		const struct prof_node *n = profile_node(p, id);
		assert_true(n->parent < id);
		assert_true(n->frame < nf);
		assert_int_equal(n->depth, profile_node(p, n->parent)->depth + 1);
	}
	for (size_t i = 0; i < r->nsamples; i++) {
		assert_true(r->s[i].node < nn);
		assert_true(r->s[i].event < (nev ? nev : 1));
	}
	for (size_t i = 0; i < r->nthreads; i++)
		assert_non_null(r->threads[i].comm);

	unsigned char *again;
	size_t len;
	struct profile *q;
	struct run rq;
	char err[256];
	assert_int_equal(write_mem(p, r, &again, &len), 0);
	assert_int_equal(pyro_read_mem(again, len, pool, &q, &rq, err, sizeof(err)), 0);
	assert_same_profile(p, q);
	assert_same_run(r, &rq);
	profile_free(q);
	run_release(&rq);
	free(again);
}

/* Read a copy of f[0..len) in a buffer of exactly that size. */
static int read_copy(const unsigned char *f, size_t len, struct strpool *pool,
		     struct profile **q, struct run *rq, char *err, size_t errlen)
{
	unsigned char *c = copy(f, len);
	int e = pyro_read_mem(c, len, pool, q, rq, err, errlen);
	free(c);
	return e;
}

/* A read that must fail, with a message holding want. */
static void assert_refused(const unsigned char *f, size_t len, int code, const char *want)
{
	struct strpool pool;
	struct profile *q = (struct profile *)1;
	struct run rq;
	char err[256] = "";
	strpool_init(&pool);
	int e = read_copy(f, len, &pool, &q, &rq, err, sizeof(err));
	if (e != code || !strstr(err, want))
		fail_msg("len %zu: got %d '%s', wanted %d '...%s...'", len, e, err, code, want);
	assert_null(q);
	assert_int_equal(rq.nsamples, 0);
	assert_null(rq.s);
	assert_null(rq.threads);
	assert_null(strchr(err, '\n'));
	strpool_release(&pool);
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
	struct fix x;
	struct strpool pool;
	struct profile *q;
	struct run rq;
	char err[256];

	(void)state;
	fixture_build(&x);
	/* a pool of its own: the reader interns everything it returns */
	strpool_init(&pool);
	int e = pyro_read_mem(x.file, x.len, &pool, &q, &rq, err, sizeof(err));
	if (e)
		fail_msg("%s", err);
	assert_int_equal(profile_nnodes(q), profile_nnodes(x.p));
	assert_true(profile_nnodes(q) > 300);
	assert_int_equal(rq.nsamples, 400);
	assert_same_profile(x.p, q);
	assert_same_run(&x.run, &rq);
	assert_ptr_equal(rq.host, strpool_intern(&pool, "build-box", 9));

	/* and writing what was read gives the same bytes */
	unsigned char *again;
	size_t len;
	assert_int_equal(write_mem(q, &rq, &again, &len), 0);
	assert_int_equal(len, x.len);
	assert_memory_equal(again, x.file, len);
	free(again);

	profile_free(q);
	run_release(&rq);
	strpool_release(&pool);
	fixture_free(&x);
}

/* The layout the man page gives: header, sections, END with CRC-32. */
static void test_layout(void **state)
{
	struct fix x;
	struct sec s[16];

	(void)state;
	assert_int_equal(crc32_ref((const unsigned char *)"123456789", 9), 0xcbf43926u);
	fixture_build(&x);
	assert_memory_equal(x.file, "PYRO\x89\r\n\x1a\n\0", 10);
	assert_int_equal(get_le(x.file + 10, 2), 1);
	assert_int_equal(get_le(x.file + 12, 2), 0);
	size_t n = sections(x.file, x.len, s, 16);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(s[i].type, i + 1);
	assert_int_equal(s[7].type, 0);
	assert_int_equal(s[7].len, 4);
	assert_int_equal(s[7].at + 4, x.len);
	assert_int_equal(get_le(x.file + x.len - 4, 4), crc32_ref(x.file, x.len - 4));
	/* samples in time order cost a few bytes each */
	assert_true(s[6].len < 400 * 20);
	fixture_free(&x);
}

static void test_read_file(void **state)
{
	struct fix x;
	struct strpool pool;
	struct profile *q;
	struct run rq;
	char dir[] = "/tmp/test_pyro.XXXXXX", path[64], err[512];

	(void)state;
	fixture_build(&x);
	strpool_init(&pool);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.pyro", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	struct output_opts o = { .run = &x.run };
	assert_int_equal(writer_pyro.write(f, x.p, &o), 0);
	assert_int_equal(fclose(f), 0);
	int e = pyro_read(path, &pool, &q, &rq, err, sizeof(err));
	if (e)
		fail_msg("%s", err);
	assert_same_profile(x.p, q);
	assert_same_run(&x.run, &rq);
	profile_free(q);
	run_release(&rq);

	/* a text file, an empty one, none at all: named in the message */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("function,file,line\nmain,app.py,10\n", f);
	fclose(f);
	assert_int_equal(pyro_read(path, &pool, &q, &rq, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a.pyro is not a pyrometer recording"));
	assert_null(q);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(pyro_read(path, &pool, &q, &rq, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a.pyro is not a pyrometer recording"));
	unlink(path);
	assert_int_equal(pyro_read(path, &pool, &q, &rq, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "a.pyro: "));
	assert_null(q);
	rmdir(dir);
	strpool_release(&pool);
	fixture_free(&x);
}

static void test_write_refuses(void **state)
{
	struct fix x;
	struct output_opts o = { 0 };

	(void)state;
	fixture_build(&x);
	FILE *f = fopen("/dev/null", "w");
	assert_non_null(f);
	/* no run */
	assert_int_equal(writer_pyro.write(f, x.p, &o), -EINVAL);
	assert_int_equal(writer_pyro.write(f, x.p, NULL), -EINVAL);
	/* events that are not the profile's */
	o.run = &x.run;
	x.run.nev = 2;
	assert_int_equal(writer_pyro.write(f, x.p, &o), -EINVAL);
	x.run.nev = 3;
	x.run.ev[1].role = EVR_CYCLES;
	assert_int_equal(writer_pyro.write(f, x.p, &o), -EINVAL);
	x.run.ev[1].role = EVR_INSTRUCTIONS;
	/* a sample outside the trie */
	x.run.s[5].node = (uint32_t)profile_nnodes(x.p);
	assert_int_equal(writer_pyro.write(f, x.p, &o), -EINVAL);
	x.run.s[5].node = 1;
	assert_int_equal(writer_pyro.write(f, x.p, &o), 0);
	fclose(f);

	/* a full disk */
	f = fopen("/dev/full", "w");
	if (f) {
		assert_int_equal(writer_pyro.write(f, x.p, &o), -EIO);
		fclose(f);
	}
	fixture_free(&x);
}

/* A run with no events, threads or samples writes and reads too. */
static void test_empty_run(void **state)
{
	struct strpool pool;
	struct run r, rq;
	struct profile *q;
	unsigned char *f;
	size_t len;
	char err[256];

	(void)state;
	strpool_init(&pool);
	run_init(&r);
	struct profile *p = profile_new();
	assert_non_null(p);
	assert_int_equal(write_mem(p, &r, &f, &len), 0);
	int e = pyro_read_mem(f, len, &pool, &q, &rq, err, sizeof(err));
	if (e)
		fail_msg("%s", err);
	assert_same_profile(p, q);
	assert_same_run(&r, &rq);
	profile_free(q);
	run_release(&rq);
	free(f);
	profile_free(p);
	strpool_release(&pool);
}

/* ---- damage ---- */

static void test_truncated(void **state)
{
	struct fix x;
	struct sec s[16];

	(void)state;
	fixture_build(&x);
	assert_refused(x.file, 0, -EINVAL, "buffer is not a pyrometer recording");
	/* every byte of the header and the first section's header, every 64th,
	 * the last few, and each section's end */
	for (size_t cut = 1; cut < x.len; cut++) {
		if (cut > HEADER + SEC_HEAD && cut % 64 && cut + 20 < x.len)
			continue;
		assert_refused(x.file, cut, -EINVAL, "buffer is truncated");
	}
	size_t n = sections(x.file, x.len, s, 16);
	for (size_t i = 0; i + 1 < n; i++)
		assert_refused(x.file, s[i].at + s[i].len, -EINVAL, "no END section");
	assert_refused(x.file, 4, -EINVAL, "header ends at byte 16 of 4");
	assert_refused(x.file, s[6].at + 10, -EINVAL, "(section SAMPLES ends at byte");
	fixture_free(&x);
}

/* Any changed byte breaks the checksum (or the header, or a length). */
static void test_flipped_bytes(void **state)
{
	struct fix x;
	struct strpool pool;

	(void)state;
	fixture_build(&x);
	strpool_init(&pool);
	rnd_state = 1234;
	for (int i = 0; i < 1000; i++) {
		unsigned char *c = copy(x.file, x.len);
		size_t at = rnd() % x.len;
		c[at] ^= (unsigned char)(1 + rnd() % 255);
		struct profile *q;
		struct run rq;
		char err[256];
		int e = pyro_read_mem(c, x.len, &pool, &q, &rq, err, sizeof(err));
		if (e == 0)
			fail_msg("byte %zu changed, read anyway", at);
		assert_null(q);
		free(c);
	}
	strpool_release(&pool);
	fixture_free(&x);
}

/*
 * The same with the checksum made right again, so the parsers see the
 * damage: one to three bytes changed; each read refuses or gives a
 * consistent recording.
 */
static void test_flipped_bytes_past_checksum(void **state)
{
	struct fix x;
	struct strpool pool;
	int ok = 0;

	(void)state;
	fixture_build(&x);
	strpool_init(&pool);
	rnd_state = 5678;
	for (int i = 0; i < 1000; i++) {
		unsigned char *c = copy(x.file, x.len);
		int nflips = 1 + (int)(rnd() % 3);
		for (int k = 0; k < nflips; k++)
			c[rnd() % (x.len - 4)] ^= (unsigned char)(1 + rnd() % 255);
		fix_crc(c, x.len);
		struct profile *q;
		struct run rq;
		char err[256] = "";
		int e = pyro_read_mem(c, x.len, &pool, &q, &rq, err, sizeof(err));
		if (e == 0) {
			ok++;
			assert_consistent(q, &rq, &pool);
			profile_free(q);
			run_release(&rq);
		} else {
			assert_true(e == -EINVAL || e == -EPROTONOSUPPORT);
			assert_true(err[0] != '\0');
			assert_null(q);
		}
		free(c);
	}
	print_message("%d of 1000 damaged recordings read as consistent\n", ok);
	strpool_release(&pool);
	fixture_free(&x);
}

static void test_bad_checksum(void **state)
{
	struct fix x;

	(void)state;
	fixture_build(&x);
	unsigned char *c = copy(x.file, x.len);
	c[x.len - 1] ^= 0x40;
	assert_refused(c, x.len, -EINVAL, "buffer is corrupt: checksum mismatch");
	free(c);
	fixture_free(&x);
}

static void test_not_recordings(void **state)
{
	static const char text[] = "# pyrometer table\nfunction  file  line\n";
	struct fix x;

	(void)state;
	assert_refused((const unsigned char *)"", 0, -EINVAL, "is not a pyrometer recording");
	assert_refused((const unsigned char *)text, sizeof(text) - 1, -EINVAL,
		       "buffer is not a pyrometer recording");
	assert_refused((const unsigned char *)"PYR", 3, -EINVAL, "truncated");

	/* LF -> CRLF, as a text-mode copy does */
	fixture_build(&x);
	unsigned char *c = malloc(2 * x.len);
	assert_non_null(c);
	size_t n = 0;
	for (size_t i = 0; i < x.len; i++) {
		if (x.file[i] == '\n')
			c[n++] = '\r';
		c[n++] = x.file[i];
	}
	assert_refused(c, n, -EINVAL, "buffer is damaged");
	free(c);
	fixture_free(&x);
}

static void test_versions(void **state)
{
	struct fix x;
	struct strpool pool;
	struct profile *q;
	struct run rq;
	char err[256];

	(void)state;
	fixture_build(&x);
	strpool_init(&pool);
	unsigned char *c = copy(x.file, x.len);
	set_le(c + 10, 2, 2);
	set_le(c + 12, 3, 2);
	assert_refused(c, x.len, -EPROTONOSUPPORT,
		       "buffer was written by a newer pyrometer (format 2.3); "
		       "this one reads up to 1");
	set_le(c + 10, 0, 2);
	assert_refused(c, x.len, -EINVAL, "is corrupt");

	/* a newer minor version reads (its checksum covers the header) */
	set_le(c + 10, 1, 2);
	set_le(c + 12, 7, 2);
	set_le(c + 14, 0xffff, 2);
	fix_crc(c, x.len);
	int e = read_copy(c, x.len, &pool, &q, &rq, err, sizeof(err));
	if (e)
		fail_msg("%s", err);
	assert_same_profile(x.p, q);
	assert_same_run(&x.run, &rq);
	profile_free(q);
	run_release(&rq);
	free(c);
	strpool_release(&pool);
	fixture_free(&x);
}

/*
 * Rebuild x's file from its sections: order[] lists which (by index, -1
 * ends), extra bytes go after section `grow`'s body, an unknown section
 * before END when `unknown`.
 */
static struct buf rebuild(const struct fix *x, const int *order, int grow, int unknown,
			  unsigned minor)
{
	struct sec s[16];
	struct buf b = { 0 };
	sections(x->file, x->len, s, 16);
	b_header(&b, 1, minor);
	for (int i = 0; order[i] >= 0; i++) {
		const struct sec *e = &s[order[i]];
		struct buf body = { 0 };
		b_bytes(&body, x->file + e->at, e->len);
		if (order[i] == grow)
			b_bytes(&body, "\x01\x02\x03", 3);
		b_section(&b, e->type, &body);
		free(body.p);
	}
	if (unknown) {
		struct buf body = { 0 };
		b_bytes(&body, "future data", 11);
		b_section(&b, 0x4e455753u, &body);
		free(body.p);
	}
	b_end(&b);
	return b;
}

static void assert_reads_same(const struct fix *x, const struct buf *b)
{
	struct strpool pool;
	struct profile *q;
	struct run rq;
	char err[256];
	strpool_init(&pool);
	int e = read_copy(b->p, b->n, &pool, &q, &rq, err, sizeof(err));
	if (e)
		fail_msg("%s", err);
	assert_same_profile(x->p, q);
	assert_same_run(&x->run, &rq);
	profile_free(q);
	run_release(&rq);
	strpool_release(&pool);
}

static void test_sections(void **state)
{
	static const int all[] = { 0, 1, 2, 3, 4, 5, 6, -1 };
	static const int reversed[] = { 6, 5, 4, 3, 2, 1, 0, -1 };
	static const int no_frames[] = { 0, 1, 2, 4, 5, 6, -1 };
	static const int twice[] = { 0, 1, 2, 3, 4, 5, 6, 1, -1 };
	struct fix x;
	struct buf b;

	(void)state;
	fixture_build(&x);
	/* the writer's own layout, rebuilt: the same bytes */
	b = rebuild(&x, all, -1, 0, 0);
	assert_int_equal(b.n, x.len);
	assert_memory_equal(b.p, x.file, x.len);
	free(b.p);
	/* unknown sections are skipped, at any minor version */
	b = rebuild(&x, all, -1, 1, 0);
	assert_reads_same(&x, &b);
	free(b.p);
	/* any order */
	b = rebuild(&x, reversed, -1, 1, 0);
	assert_reads_same(&x, &b);
	free(b.p);
	/* fields after a section's records: a newer minor's, skipped */
	for (int grow = 0; grow < 7; grow++) {
		b = rebuild(&x, all, grow, 0, 1);
		assert_reads_same(&x, &b);
		free(b.p);
		b = rebuild(&x, all, grow, 0, 0);
		assert_refused(b.p, b.n, -EINVAL, "bytes after its last record");
		free(b.p);
	}
	b = rebuild(&x, no_frames, -1, 0, 0);
	assert_refused(b.p, b.n, -EINVAL, "buffer is corrupt: it has no FRAMES section");
	free(b.p);
	b = rebuild(&x, twice, -1, 0, 0);
	assert_refused(b.p, b.n, -EINVAL, "a second STRINGS section");
	free(b.p);
	/* bytes after END */
	b = rebuild(&x, all, -1, 0, 0);
	b_bytes(&b, "\0", 1);
	assert_refused(b.p, b.n, -EINVAL, "1 bytes follow the END section");
	free(b.p);
	fixture_free(&x);
}

/* ---- small files by hand, from the man page ---- */

/* One field of a small recording changed from what is right. */
struct mini {
	uint64_t nstrings, frame_name, frame_kind, nframes, nnodes;
	uint64_t node_back, node_frame, sample_node, sample_event, nev, depth;
	int dup_frame, dup_node;
	const char *meta_key, *meta_val, *string0;
};

static const struct mini mini_ok = {
	.nstrings = 2, .frame_name = 0, .frame_kind = PROF_PYTHON, .nframes = 1, .nnodes = 2,
	.node_back = 1, .node_frame = 0, .sample_node = 1, .sample_event = 0, .nev = 0,
	.depth = 1, .meta_key = "pid", .meta_val = "77", .string0 = "f",
};

static void mini_events(struct buf *b, const struct mini *m)
{
	b_uvar(b, m->nev);
	for (uint64_t k = 0; k < m->nev && k < 9; k++) {
		b_uvar(b, 0);       /* name */
		b_uvar(b, 0);       /* fqname */
		b_uvar(b, EVR_OTHER);
		b_uvar(b, PERF_EV_SOLO);
		b_uvar(b, 10);      /* period */
		b_uvar(b, 20);      /* total */
		b_uvar(b, 2);       /* samples */
		double pct = 100;
		uint64_t bits;
		memcpy(&bits, &pct, 8);
		b_le(b, bits, 8);
	}
}

static void mini_nodes(struct buf *b, const struct mini *m)
{
	uint64_t nev = m->nev < 9 ? m->nev : 0;
	b_uvar(b, m->nnodes + (m->depth - 1) + (m->dup_node ? 1 : 0));
	b_uvar(b, 0);                        /* the root's self */
	for (uint64_t k = 0; k < nev; k++)
		b_uvar(b, 0);
	for (uint64_t d = 1; d < m->depth; d++) {  /* a chain down */
		b_uvar(b, 1);
		b_uvar(b, 0);
		b_uvar(b, 0);
		for (uint64_t k = 0; k < nev; k++)
			b_uvar(b, 0);
	}
	for (int i = 0; i < 1 + m->dup_node; i++) {
		b_uvar(b, m->node_back + (uint64_t)i);
		b_uvar(b, m->node_frame);
		b_uvar(b, 1);                /* self */
		for (uint64_t k = 0; k < nev; k++)
			b_uvar(b, 5);
	}
}

static struct buf mini_build(const struct mini *m)
{
	struct buf b = { 0 }, s = { 0 };
	uint64_t nev = m->nev < 9 ? m->nev : 0;
	b_header(&b, 1, 0);

	b_uvar(&s, 2);                       /* META: two entries */
	b_str(&s, "host");
	b_str(&s, "hand");
	b_str(&s, m->meta_key);
	b_str(&s, m->meta_val);
	b_section(&b, 1, &s);

	s.n = 0;                             /* STRINGS */
	b_uvar(&s, m->nstrings);
	b_uvar(&s, strlen(m->string0) + (m->string0[0] == 0 ? 1 : 0));
	b_bytes(&s, m->string0, strlen(m->string0) + (m->string0[0] == 0 ? 1 : 0));
	b_str(&s, "m.py");
	b_section(&b, 2, &s);

	s.n = 0;
	mini_events(&s, m);
	b_section(&b, 3, &s);

	s.n = 0;                             /* FRAMES */
	b_uvar(&s, m->nframes + (m->dup_frame ? 1 : 0));
	for (int i = 0; i < 1 + m->dup_frame; i++) {
		b_uvar(&s, m->frame_name);
		b_uvar(&s, 1);
		b_svar(&s, 1);
		b_uvar(&s, m->frame_kind);
	}
	b_section(&b, 4, &s);

	s.n = 0;
	mini_nodes(&s, m);
	b_section(&b, 5, &s);

	s.n = 0;                             /* THREADS */
	b_uvar(&s, 1);
	b_svar(&s, 77);
	b_uvar(&s, 1);
	b_uvar(&s, 1);
	b_section(&b, 6, &s);

	s.n = 0;                             /* SAMPLES */
	b_uvar(&s, 2);
	for (int i = 0; i < 2; i++) {
		b_svar(&s, i ? -5 : 1000);   /* times 1000, 995 */
		b_svar(&s, 77);
		b_uvar(&s, i ? m->sample_node : 1);
		b_uvar(&s, i ? m->sample_event : 0);
		for (uint64_t k = 0; k < nev; k++)
			b_uvar(&s, 5);
	}
	b_section(&b, 7, &s);
	free(s.p);
	b_end(&b);
	return b;
}

static void test_hand_made(void **state)
{
	struct strpool pool;
	struct profile *q;
	struct run rq;
	char err[256];

	(void)state;
	strpool_init(&pool);
	struct buf b = mini_build(&mini_ok);
	int e = read_copy(b.p, b.n, &pool, &q, &rq, err, sizeof(err));
	if (e)
		fail_msg("%s", err);
	free(b.p);
	assert_int_equal(profile_nframes(q), 1);
	assert_string_equal(profile_frame_get(q, 0)->name, "f");
	assert_string_equal(profile_frame_get(q, 0)->file, "m.py");
	assert_int_equal(profile_frame_get(q, 0)->line, 1);
	assert_int_equal(profile_nnodes(q), 2);
	assert_int_equal(profile_node(q, 1)->self, 1);
	assert_int_equal(rq.pid, 77);
	assert_string_equal(rq.host, "hand");
	assert_string_equal(rq.version, "");   /* not in META: empty */
	assert_int_equal(rq.nthreads, 1);
	assert_int_equal(rq.threads[0].tid, 77);
	assert_string_equal(rq.threads[0].comm, "m.py");
	assert_int_equal(rq.nsamples, 2);
	assert_int_equal(rq.s[0].time, 1000);
	assert_int_equal(rq.s[1].time, 995);
	profile_free(q);
	run_release(&rq);

	/* with events, an unknown META key, and a deep chain */
	struct mini m = mini_ok;
	m.nev = 2;
	m.meta_key = "from_the_future";
	m.meta_val = "whatever";
	m.depth = 300;
	b = mini_build(&m);
	e = read_copy(b.p, b.n, &pool, &q, &rq, err, sizeof(err));
	if (e)
		fail_msg("%s", err);
	free(b.p);
	assert_int_equal(profile_nevents(q), 2);
	assert_int_equal(profile_nnodes(q), 301);
	assert_int_equal(profile_node(q, 300)->depth, 300);
	assert_int_equal(profile_node(q, 300)->parent, 299);
	assert_int_equal(profile_node_counts(q, 300)[1], 5);
	assert_int_equal(rq.counts[3], 5);
	assert_consistent(q, &rq, &pool);
	profile_free(q);
	run_release(&rq);
	strpool_release(&pool);
}

struct bad {
	const char *want;
	void (*change)(struct mini *);
};

static void bad_string_index(struct mini *m) { m->frame_name = 2; }
static void bad_kind(struct mini *m) { m->frame_kind = 4; }
static void bad_parent(struct mini *m) { m->node_back = 2; }
static void own_parent(struct mini *m) { m->node_back = 0; }
static void bad_node_frame(struct mini *m) { m->node_frame = 1; }
static void bad_sample_node(struct mini *m) { m->sample_node = 2; }
static void bad_sample_event(struct mini *m) { m->sample_event = 1; }
static void bad_event_index(struct mini *m) { m->nev = 2; m->sample_event = 2; }
static void huge_strings(struct mini *m) { m->nstrings = 1ull << 40; }
static void huge_frames(struct mini *m) { m->nframes = UINT64_MAX; }
static void huge_nodes(struct mini *m) { m->nnodes = 1ull << 33; }
static void no_root(struct mini *m) { m->nnodes = 0; m->node_back = 0; }
static void dup_frame(struct mini *m) { m->dup_frame = 1; }
static void dup_node(struct mini *m) { m->dup_node = 1; }
static void many_events(struct mini *m) { m->nev = 9; }
static void few_strings(struct mini *m) { m->nstrings = 3; }
static void nul_string(struct mini *m) { m->string0 = ""; }
static void bad_pid(struct mini *m) { m->meta_val = "12x"; }
static void big_pid(struct mini *m) { m->meta_val = "4294967296"; }
static void bad_native(struct mini *m) { m->meta_key = "native"; m->meta_val = "some"; }
static void bad_hz(struct mini *m) { m->meta_key = "hz"; m->meta_val = ""; }
static void too_deep(struct mini *m) { m->depth = 8193; }

static void test_hand_made_broken(void **state)
{
	static const struct bad bad[] = {
		{ "buffer is corrupt: section FRAMES: frame name 2 at byte", bad_string_index },
		{ "buffer is corrupt: section FRAMES: frame kind 4", bad_kind },
		{ "buffer is corrupt: section NODES: parent distance 2", bad_parent },
		{ "buffer is corrupt: section NODES: node 1 is its own parent", own_parent },
		{ "buffer is corrupt: section NODES: frame index 1", bad_node_frame },
		{ "buffer is corrupt: section SAMPLES: sample node 2", bad_sample_node },
		{ "buffer is corrupt: section SAMPLES: sample event 1", bad_sample_event },
		{ "buffer is corrupt: section SAMPLES: sample event 2", bad_event_index },
		{ "buffer is corrupt: section STRINGS: 1099511627776 strings cannot fit",
		  huge_strings },
		{ "buffer is corrupt: section FRAMES: 18446744073709551615 frames cannot fit",
		  huge_frames },
		{ "buffer is corrupt: section NODES: 8589934592 nodes cannot fit", huge_nodes },
		{ "buffer is corrupt: section NODES has no root node", no_root },
		{ "buffer is corrupt: section FRAMES: frame 1 repeats frame 0", dup_frame },
		{ "buffer is corrupt: section NODES: node 2 repeats node 1", dup_node },
		{ "buffer is corrupt: 9 events (this pyrometer takes at most 8)", many_events },
		{ "buffer is corrupt: section STRINGS ends inside a value", few_strings },
		{ "buffer is corrupt: section STRINGS: string 0 at byte", nul_string },
		{ "buffer is corrupt: section META: pid has a bad value", bad_pid },
		{ "buffer is corrupt: section META: pid has a bad value", big_pid },
		{ "buffer is corrupt: section META: native has a bad value", bad_native },
		{ "buffer is corrupt: section META: hz has a bad value", bad_hz },
		{ "buffer is corrupt: section NODES: node 8193 is deeper than 8192 frames",
		  too_deep },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mini m = mini_ok;
		bad[i].change(&m);
		struct buf b = mini_build(&m);
		assert_refused(b.p, b.n, -EINVAL, bad[i].want);
		free(b.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_write_refuses),
		cmocka_unit_test(test_empty_run),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_flipped_bytes_past_checksum),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_not_recordings),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_hand_made),
		cmocka_unit_test(test_hand_made_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
