/*
 * test_svg.c - the SVG flame graph writer and the differential graph:
 * escaping of hostile names, weights by event, thread roots, shading by a
 * metric, diff colours, bounded output for a large profile, write errors.
 *
 * Profiles are built by hand; the document goes to an in-memory stream and
 * frames are found by the text of their <title>.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pyrometer/counts.h"
#include "pyrometer/evspec.h"
#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "pyrometer/run.h"
#include "pyrometer/strpool.h"
#include "pyrometer/svg.h"

static const char *intern(struct strpool *sp, const char *s)
{
	const char *r = strpool_intern(sp, s, strlen(s));
	assert_non_null(r);
	return r;
}

static uint32_t py(struct profile *p, struct strpool *sp, const char *name, const char *file,
		   int line)
{
	uint32_t id = profile_frame(p, intern(sp, name), intern(sp, file), line, PROF_PYTHON);
	assert_int_not_equal(id, UINT32_MAX);
	return id;
}

static void add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count,
		const uint64_t *vals)
{
	assert_int_not_equal(profile_add_counts(p, frames, n, count, vals), UINT32_MAX);
}

#define STACK(...) (const uint32_t[]){ __VA_ARGS__ }, \
	sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t)

/* Run a writer into memory; the text is malloc'ed. */
static char *render(const struct output_opts *o, const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(writer_svg.write(f, p, o), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(buf), len);
	return buf;
}

static char *render_diff(const struct output_opts *o, const struct profile *base,
			 const struct profile *cur)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(svg_write_diff(f, base, cur, o), 0);
	assert_int_equal(fclose(f), 0);
	/* a copy: GCC's -Wdangling-pointer takes buf for a local once this
	 * is inlined */
	char *text = strdup(buf);
	assert_non_null(text);
	free(buf);
	return text;
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0, at = 0;
	const char *hit;
	while ((hit = strstr(s + at, what)) != NULL) {
		n++;
		at = (size_t)(hit - s) + 1;
	}
	return n;
}

struct gframe {
	long long s, w;
	int d;
	int r, g, b;
	const char *title;   /* the <title>'s text, in the document */
};

/* The frame whose <title> starts with the line label (as escaped in the
 * document); 0 when there is none. */
static int find_frame(const char *svg, const char *label, struct gframe *out)
{
	char key[512];
	snprintf(key, sizeof(key), "<title>%s\n", label);
	const char *t = strstr(svg, key);
	if (!t)
		return 0;
	const char *g = t;
	while (g > svg && strncmp(g, "<g data-s=", 10))
		g--;
	assert_int_equal(sscanf(g, "<g data-s=\"%lld\" data-w=\"%lld\" data-d=\"%d\"", &out->s,
				&out->w, &out->d), 3);
	const char *fill = strstr(t, "fill=\"rgb(");
	assert_non_null(fill);
	assert_int_equal(sscanf(fill, "fill=\"rgb(%d,%d,%d)", &out->r, &out->g, &out->b), 3);
	out->title = t + 7;
	return 1;
}

/* The document holds only UTF-8 and no control characters but newlines. */
static void assert_clean_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc2 ? 1 : -1;
		assert_true(n >= 0);
		if (n == 0)
			assert_true(*p >= 0x20 || *p == '\n');
		for (int i = 1; i <= n; i++)
			assert_int_equal(p[i] & 0xc0, 0x80);
		p += n + 1;
	}
}

static void test_hostile_names(void **state)
{
	struct strpool sp;
	(void)state;
	strpool_init(&sp);
	struct profile *p = profile_new();
	assert_non_null(p);
	uint32_t m = py(p, &sp, "main", "app.py", 1);
	uint32_t x = py(p, &sp, "</text><script>alert(1)</script>", "a&b\"c'.py", 2);
	uint32_t c = py(p, &sp, "ctl\x01\x1b[1m\x7f", "]]>.py", 3);
	uint32_t u = py(p, &sp, "bad\xff\xc3(\xed\xa0\x80|\xef\xbf\xbe|\xc2\x85", "u.py", 4);
	uint32_t n = profile_frame(p, intern(&sp, "sym<T>"), intern(&sp, "lib&.so"), 0,
				   PROF_NATIVE);
	add(p, STACK(m, x), 5, NULL);
	add(p, STACK(m, c), 5, NULL);
	add(p, STACK(m, u), 5, NULL);
	add(p, STACK(m, n), 5, NULL);
	struct output_opts o = { 0 };
	char *svg = render(&o, p);
	struct gframe g;

	assert_null(strstr(svg, "<script>alert"));
	assert_int_equal(count(svg, "<script"), 1);
	assert_int_equal(count(svg, "]]>"), 1);   /* the script's own end */
	assert_true(find_frame(svg, "&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt; "
				    "(a&amp;b&quot;c&#39;.py:2)", &g));
	assert_int_equal(g.d, 2);
	assert_true(find_frame(svg, "ctl\\x01\\x1b[1m\\x7f (]]&gt;.py:3)", &g));
	/* invalid bytes, a surrogate and U+FFFE become U+FFFD; C1 as bytes */
	assert_true(find_frame(svg, "bad\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd"
				    "\xef\xbf\xbd|\xef\xbf\xbd|\\xc2\\x85 (u.py:4)", &g));
	assert_true(find_frame(svg, "sym&lt;T&gt; [lib&amp;.so]", &g));
	assert_clean_utf8(svg);
	free(svg);
	profile_free(p);
	strpool_release(&sp);
}

/* main;a: 10 samples, 0 faults. main;b: 1 sample, 100 faults. */
static struct profile *faults_profile(struct strpool *sp)
{
	const struct prof_event ev[] = { { intern(sp, "cpu-clock"), EVR_CPU_CLOCK },
					 { intern(sp, "page-faults"), EVR_PAGE_FAULTS } };
	struct profile *p = profile_new_events(ev, 2);
	assert_non_null(p);
	uint32_t m = py(p, sp, "main", "app.py", 1);
	uint32_t a = py(p, sp, "a", "app.py", 2);
	uint32_t b = py(p, sp, "b", "app.py", 3);
	add(p, STACK(m, a), 10, (const uint64_t[]){ 10000000, 0 });
	add(p, STACK(m, b), 1, (const uint64_t[]){ 1000000, 100 });
	return p;
}

static void test_weight_by_event(void **state)
{
	struct strpool sp;
	(void)state;
	strpool_init(&sp);
	struct profile *p = faults_profile(&sp);
	struct gframe g;

	struct output_opts o = { 0 };
	char *svg = render(&o, p);
	assert_non_null(strstr(svg, "data-total=\"11\""));
	assert_true(find_frame(svg, "a (app.py:2)", &g));
	assert_int_equal(g.w, 10);
	assert_non_null(strstr(g.title, "samples: 10 (90.91%)\ncpu-clock: 10.000 ms (90.91%)\n"
					"page-faults: 0 (0.00%)</title>"));
	assert_true(find_frame(svg, "b (app.py:3)", &g));
	assert_int_equal(g.w, 1);
	assert_int_equal(g.s, 10);   /* siblings by name: a, then b */
	assert_non_null(strstr(svg, "width: samples"));
	free(svg);

	o.weight_event = 2;
	svg = render(&o, p);
	assert_non_null(strstr(svg, "data-total=\"100\""));
	assert_false(find_frame(svg, "a (app.py:2)", &g));   /* weighs nothing */
	assert_true(find_frame(svg, "b (app.py:3)", &g));
	assert_int_equal(g.w, 100);
	assert_int_equal(g.s, 0);
	assert_non_null(strstr(svg, "width: page-faults"));
	free(svg);
	profile_free(p);
	strpool_release(&sp);
}

static void test_threads_and_title(void **state)
{
	struct strpool sp;
	(void)state;
	strpool_init(&sp);
	struct profile *p = profile_new();
	assert_non_null(p);
	const char *none = intern(&sp, "");
	uint32_t t1 = profile_frame(p, intern(&sp, "thread 1 (main)"), none, 1, PROF_THREAD);
	uint32_t t2 = profile_frame(p, intern(&sp, "thread 2"), none, 2, PROF_THREAD);
	uint32_t m = py(p, &sp, "main", "app.py", 1);
	uint32_t k = profile_frame(p, intern(&sp, "[unknown]"), none, 0, PROF_PSEUDO);
	add(p, STACK(t1, m), 3, NULL);
	add(p, STACK(t2, m), 2, NULL);
	add(p, STACK(t2, k), 1, NULL);
	struct gframe g;

	struct output_opts o = { .threads = 1 };
	char *svg = render(&o, p);
	assert_true(find_frame(svg, "thread 1 (main)", &g));
	assert_int_equal(g.d, 1);
	assert_int_equal(g.w, 3);
	assert_true(find_frame(svg, "[unknown]", &g));
	assert_int_equal(g.d, 2);
	assert_non_null(strstr(svg, "pyrometer: profile</text>"));
	assert_non_null(strstr(svg, ">6 samples; width: samples</text>"));
	free(svg);

	struct run r;
	run_init(&r);
	r.pid = 42;
	r.target = "python3 <b>&.py";
	r.duration_ns = 2500000000ull;
	r.samples = 6;
	r.nev = 1;
	r.ev[0].name = "cpu-clock";
	o.threads = 0;
	o.run = &r;
	svg = render(&o, p);
	assert_null(strstr(svg, "<title>thread "));
	assert_true(find_frame(svg, "main (app.py:1)", &g));
	assert_int_equal(g.d, 1);
	assert_int_equal(g.w, 5);
	assert_non_null(strstr(svg, ">pyrometer: python3 &lt;b&gt;&amp;.py (pid 42)</text>"));
	assert_non_null(strstr(svg, ">events: cpu-clock; duration 2.50 s; 6 samples;"));
	free(svg);
	run_release(&r);
	profile_free(p);
	strpool_release(&sp);
}

static void test_color_by_metric(void **state)
{
	struct strpool sp;
	(void)state;
	strpool_init(&sp);
	struct profile *p = faults_profile(&sp);
	struct gframe a, b, m;

	/* faults/ksample: a 0, b 100000, main 100/11 samples = 9090.9 */
	struct output_opts o = { .color_by = MET_FAULTS_PER_KSAMPLE + 1 };
	char *svg = render(&o, p);
	assert_non_null(strstr(svg, "<g id=\"legend\">"));
	assert_non_null(strstr(svg, ">FLT/KS 0.000</text>"));
	assert_non_null(strstr(svg, ">100000</text>"));
	assert_true(find_frame(svg, "a (app.py:2)", &a));
	assert_true(find_frame(svg, "b (app.py:3)", &b));
	assert_true(find_frame(svg, "main (app.py:1)", &m));
	assert_non_null(strstr(b.title, "\nFLT/KS: 100000</title>"));
	assert_true(a.g > a.r);    /* low end: green */
	assert_true(b.r > b.g);    /* high end: red */
	assert_true(m.g > b.g && m.g < a.g + 40);
	free(svg);

	/* A metric these events cannot give: colours by kind, and it says so. */
	o.color_by = MET_IPC + 1;
	svg = render(&o, p);
	assert_null(strstr(svg, "<g id=\"legend\">"));
	assert_non_null(strstr(svg, "colour by ipc: not measured by these events"));
	free(svg);
	profile_free(p);
	strpool_release(&sp);
}

/* base: main;grow 10, main;shrink 40, main;same 50
 * cur:  main;grow 40, main;shrink 10, main;same 50, main;new 100
 * shares: grow 10% -> 20%, shrink 40% -> 5%, same 50% -> 25%, new 0 -> 50%. */
static void test_diff(void **state)
{
	struct strpool sb, sc;   /* two pools: strings compared by content */
	(void)state;
	strpool_init(&sb);
	strpool_init(&sc);
	struct profile *base = profile_new(), *cur = profile_new();
	assert_non_null(base);
	assert_non_null(cur);
	uint32_t m = py(base, &sb, "main", "app.py", 1);
	add(base, STACK(m, py(base, &sb, "grow", "app.py", 2)), 10, NULL);
	add(base, STACK(m, py(base, &sb, "shrink", "app.py", 3)), 40, NULL);
	add(base, STACK(m, py(base, &sb, "same", "app.py", 4)), 50, NULL);
	uint32_t n = py(cur, &sc, "new", "app.py", 5);
	m = py(cur, &sc, "main", "app.py", 1);
	add(cur, STACK(m, n), 100, NULL);
	add(cur, STACK(m, py(cur, &sc, "same", "app.py", 4)), 50, NULL);
	add(cur, STACK(m, py(cur, &sc, "grow", "app.py", 2)), 40, NULL);
	add(cur, STACK(m, py(cur, &sc, "shrink", "app.py", 3)), 10, NULL);
	struct gframe g;

	struct output_opts o = { 0 };
	char *svg = render_diff(&o, base, cur);
	assert_non_null(strstr(svg, ">pyrometer diff: profile</text>"));
	assert_non_null(strstr(svg, "; base: 100 samples;"));
	assert_true(find_frame(svg, "grow (app.py:2)", &g));
	assert_non_null(strstr(g.title, "base 10.00%, now 20.00%, change +10.00 pp\n"));
	assert_true(g.r > 200 && g.g < 200 && g.g == g.b);           /* red */
	int grow_g = g.g;
	assert_true(find_frame(svg, "new (app.py:5)", &g));
	assert_non_null(strstr(g.title, "base 0.00%, now 50.00%, change +50.00 pp\n"));
	assert_true(g.r > 200 && g.g == g.b && g.g < grow_g);        /* redder */
	assert_true(find_frame(svg, "shrink (app.py:3)", &g));
	assert_non_null(strstr(g.title, "base 40.00%, now 5.00%, change -35.00 pp\n"));
	assert_true(g.b > 200 && g.r < 200 && g.g < 200);            /* blue */
	assert_true(find_frame(svg, "same (app.py:4)", &g));
	assert_non_null(strstr(g.title, "change -25.00 pp"));
	assert_true(find_frame(svg, "main (app.py:1)", &g));
	assert_non_null(strstr(g.title, "base 100.00%, now 100.00%, change +0.00 pp\n"));
	assert_true(g.r == g.g && g.g == g.b && g.r > 220);          /* unchanged */
	assert_non_null(strstr(svg, ">grew +50.00 pp</text>"));
	assert_int_equal(count(svg, "<script"), 1);
	free(svg);

	/* Weighting by an event base does not have. */
	struct profile *ev = profile_new_events(
		(const struct prof_event[]){ { intern(&sc, "page-faults"), EVR_PAGE_FAULTS } }, 1);
	assert_non_null(ev);
	add(ev, STACK(py(ev, &sc, "main", "app.py", 1)), 1, (const uint64_t[]){ 7 });
	o.weight_event = 1;
	FILE *f = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_int_equal(svg_write_diff(f, base, ev, &o), -EINVAL);
	fclose(f);
	profile_free(ev);
	profile_free(cur);
	profile_free(base);
	strpool_release(&sc);
	strpool_release(&sb);
}

/* 100k nodes, nearly all far below a tenth of a pixel: they are left out;
 * and a deep recursion stops at MAX_FRAMES frames. */
static void test_large_profile_bounded(void **state)
{
	struct strpool sp;
	(void)state;
	strpool_init(&sp);
	struct profile *p = profile_new();
	assert_non_null(p);
	uint32_t m = py(p, &sp, "main", "app.py", 1);
	add(p, STACK(m, py(p, &sp, "hot", "app.py", 2)), 1000000, NULL);
	for (int i = 0; i < 100000; i++)
		add(p, STACK(m, py(p, &sp, "leaf", "app.py", 10 + i)), 1, NULL);
	assert_true(profile_nnodes(p) > 100000);
	struct output_opts o = { 0 };
	char *svg = render(&o, p);
	assert_true(strlen(svg) < 64 * 1024);
	assert_int_equal(count(svg, "<g data-s="), 3);   /* all, main, hot */
	free(svg);
	profile_free(p);

	/* A recursion 40000 deep, every level full width: the deepest rows
	 * go, and the subtitle says where the graph stops. */
	enum { DEEP = 40000 };
	p = profile_new();
	assert_non_null(p);
	uint32_t *stack = malloc(DEEP * sizeof(*stack));
	assert_non_null(stack);
	uint32_t r = py(p, &sp, "recurse", "app.py", 3);
	for (int i = 0; i < DEEP; i++)
		stack[i] = r;
	add(p, stack, DEEP, 1, NULL);
	free(stack);
	svg = render(&o, p);
	assert_int_equal(count(svg, "<g data-s="), 32768);
	assert_non_null(strstr(svg, "; frames deeper than 32767 left out</text>"));
	assert_true(strlen(svg) < 16 * 1024 * 1024);
	free(svg);
	profile_free(p);
	strpool_release(&sp);
}

static void test_empty_and_errors(void **state)
{
	(void)state;
	struct profile *p = profile_new();
	assert_non_null(p);
	struct output_opts o = { 0 };
	char *svg = render(&o, p);
	assert_non_null(strstr(svg, ">no samples</text>"));
	assert_non_null(strstr(svg, "</svg>\n"));
	free(svg);

	/* /dev/full: the first flush fails, long before the end. */
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		skip();
	assert_int_equal(writer_svg.write(f, p, &o), -EIO);
	fclose(f);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_weight_by_event),
		cmocka_unit_test(test_threads_and_title),
		cmocka_unit_test(test_color_by_metric),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_large_profile_bounded),
		cmocka_unit_test(test_empty_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
