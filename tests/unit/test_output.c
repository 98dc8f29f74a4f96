/*
 * test_output.c - the writers and escapers against expected text.
 *
 * One small profile with counts worked out by hand (below) feeds every
 * writer; output goes to an in-memory stream and is compared with the text
 * written out here. The file tests work in a fresh directory under /tmp.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pyrometer/output.h"
#include "pyrometer/profile.h"
#include "pyrometer/strpool.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
	struct strpool sp;
	struct profile *p;
	char dir[64];   /* a fresh directory for the file tests, or "" */
};

static const char *intern(struct strpool *sp, const char *s)
{
	const char *r = strpool_intern(sp, s, strlen(s));
	assert_non_null(r);
	return r;
}

static void add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count)
{
	assert_int_not_equal(profile_add(p, frames, n, count), UINT32_MAX);
}

#define ADD(p, count, ...)                                                   \
	add((p), (const uint32_t[]){ __VA_ARGS__ },                          \
	    sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t), (count))

/*
 * stack                               count
 * T1;main;work                          5
 * T2;main;work                          3
 * T1;main;work;helper                   2
 * T1;main                               1
 * T2;[unknown]                          1      12 samples
 *
 *             self  total   self%  total%
 * work          8    10     66.67   83.33
 * helper        2     2     16.67   16.67
 * main          1    11      8.33   91.67
 * [unknown]     1     1      8.33    8.33
 */
static int setup_small(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	strpool_init(&x->sp);
	x->p = profile_new();
	if (!x->p)
		return -1;
	struct strpool *sp = &x->sp;
	struct profile *p = x->p;
	const char *app = intern(sp, "app.py"), *lib = intern(sp, "lib.py"), *none = intern(sp, "");
	uint32_t T1 = profile_frame(p, intern(sp, "thread 1 (main)"), none, 0, PROF_THREAD);
	uint32_t T2 = profile_frame(p, intern(sp, "thread 2"), none, 0, PROF_THREAD);
	uint32_t M = profile_frame(p, intern(sp, "main"), app, 10, PROF_PYTHON);
	uint32_t W = profile_frame(p, intern(sp, "work"), app, 20, PROF_PYTHON);
	uint32_t H = profile_frame(p, intern(sp, "helper"), lib, 5, PROF_PYTHON);
	uint32_t U = profile_frame(p, intern(sp, "[unknown]"), none, 0, PROF_PSEUDO);
	ADD(p, 5, T1, M, W);
	ADD(p, 3, T2, M, W);
	ADD(p, 2, T1, M, W, H);
	ADD(p, 1, T1, M);
	ADD(p, 1, T2, U);
	*state = x;
	return 0;
}

static void remove_dir(const char *dir);

static int teardown(void **state)
{
	struct fixture *x = *state;
	if (x) {
		if (x->dir[0])
			remove_dir(x->dir);
		profile_free(x->p);
		strpool_release(&x->sp);
		free(x);
	}
	return 0;
}

/* Run a writer into memory; the text is malloc'ed. */
static char *capture(const struct writer *w, const struct profile *p, int threads, int top)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	struct output_opts o = { .threads = threads, .top = top };
	assert_int_equal(w->write(f, p, &o), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(buf), len);
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text, sorted, joined again: for outputs whose line order is
 * not part of the format. Every line must end with '\n'. */
static char *sorted_lines(const char *text)
{
	size_t n = 0, len = strlen(text);
	assert_true(len == 0 || text[len - 1] == '\n');
	for (const char *s = text; *s; s++)
		n += *s == '\n';
	char *copy = strdup(text);
	char **lines = calloc(n ? n : 1, sizeof(*lines));
	char *out = malloc(len + 1);
	assert_non_null(copy);
	assert_non_null(lines);
	assert_non_null(out);
	size_t i = 0;
	for (char *s = copy, *nl; (nl = strchr(s, '\n')); s = nl + 1) {
		*nl = '\0';
		lines[i++] = s;
	}
	qsort(lines, n, sizeof(*lines), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(lines);
	free(copy);
	return out;
}

static void expect_sorted_equal(const char *got, const char *want)
{
	char *g = sorted_lines(got), *w = sorted_lines(want);
	assert_string_equal(g, w);
	free(g);
	free(w);
}

/* ---- escaping ---- */

#define ESC(fn, in, want)                                             \
	do {                                                          \
		char out_[256];                                       \
		size_t n_ = fn(out_, sizeof(out_), (in));             \
		assert_string_equal(out_, (want));                    \
		assert_int_equal(n_, strlen(want));                   \
	} while (0)

static void test_esc_csv(void **state)
{
	(void)state;
	ESC(esc_csv, "plain_name", "plain_name");
	ESC(esc_csv, "", "");
	ESC(esc_csv, "a,b", "\"a,b\"");
	ESC(esc_csv, "say \"hi\"", "\"say \"\"hi\"\"\"");
	ESC(esc_csv, "\"", "\"\"\"\"");
	ESC(esc_csv, "line\nbreak", "\"line\nbreak\"");
	ESC(esc_csv, "cr\rhere", "\"cr\rhere\"");
	/* what a spreadsheet would run as a formula becomes text */
	ESC(esc_csv, "=SUM(A1:A9)", "'=SUM(A1:A9)");
	ESC(esc_csv, "+1", "'+1");
	ESC(esc_csv, "-1", "'-1");
	ESC(esc_csv, "@cmd", "'@cmd");
	/* both: the guard goes inside the quotes */
	ESC(esc_csv, "=HYPERLINK(\"x\",\"y\")", "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
	ESC(esc_csv, "-a,b", "\"'-a,b\"");
	/* only the first character matters for the guard */
	ESC(esc_csv, "a=b+c-d@e", "a=b+c-d@e");
	ESC(esc_csv, "日本", "日本");
}

static void test_esc_frame(void **state)
{
	(void)state;
	ESC(esc_frame, "plain", "plain");
	ESC(esc_frame, "a;b;;c", "a:b::c");
	ESC(esc_frame, "tab\there", "tab\\x09here");
	ESC(esc_frame, "nl\n", "nl\\x0a");
	ESC(esc_frame, "\x1b[31m", "\\x1b[31m");
	ESC(esc_frame, "\x01\x1f\x7f", "\\x01\\x1f\\x7f");
	ESC(esc_frame, "<lambda> (x.py:3)", "<lambda> (x.py:3)");
	ESC(esc_frame, "日本;語", "日本:語");
	ESC(esc_frame, "", "");
}

static void test_esc_term(void **state)
{
	(void)state;
	ESC(esc_term, "plain name", "plain name");
	ESC(esc_term, "\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07");
	ESC(esc_term, "a\rb\nc\td", "a\\x0db\\x0ac\\x09d");
	ESC(esc_term, "\x01", "\\x01");
	ESC(esc_term, "del\x7f", "del\\x7f");
	/* C1 controls in UTF-8: CSI (c2 9b) and both ends of the range */
	ESC(esc_term, "\xc2\x9b" "31m", "\\xc2\\x9b31m");
	ESC(esc_term, "x\xc2\x80y", "x\\xc2\\x80y");
	ESC(esc_term, "\xc2\x9f", "\\xc2\\x9f");
	/* neighbours that are not C1 stay as they are */
	ESC(esc_term, "\xc2\xa0", "\xc2\xa0");         /* no-break space */
	ESC(esc_term, "caf\xc3\xa9", "caf\xc3\xa9");   /* é */
	ESC(esc_term, "日本", "日本");
	ESC(esc_term, "\xe6\x97\xa5\x1b\xe6\x9c\xac", "\xe6\x97\xa5\\x1b\xe6\x9c\xac");
	/* a lone c2 at the end is not read past */
	ESC(esc_term, "end\xc2", "end\xc2");
	/* the backslash itself is escaped, so \x1b in a name cannot pass for an
	 * escaped ESC */
	ESC(esc_term, "a\\x1b", "a\\x5cx1b");
}

/* Output is cut to cap (always NUL-terminated); the return value is the
 * length it would have had. */
static void test_esc_cap(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(esc_csv(out, 4, "abcdef"), 6);
	assert_string_equal(out, "abc");
	assert_int_equal(out[4], 'Z');
	assert_int_equal(esc_csv(out, 1, "abc"), 3);
	assert_string_equal(out, "");
	memset(out, 'Z', sizeof(out));
	assert_int_equal(esc_csv(out, 0, "a,b"), 5);
	assert_int_equal(out[0], 'Z');
	assert_int_equal(esc_frame(out, sizeof(out), "\x1b\x1b\x1b"), 12);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_int_equal(esc_term(out, sizeof(out), "\xc2\x9b\xc2\x9b"), 16);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_int_equal(esc_term(out, sizeof(out), "abcdefg"), 7);
	assert_string_equal(out, "abcdefg");
}

/* ---- writers ---- */

static const char small_csv[] =
	"function,file,line,self_samples,total_samples,self_pct,total_pct\n"
	"work,app.py,20,8,10,66.67,83.33\n"
	"helper,lib.py,5,2,2,16.67,16.67\n"
	"main,app.py,10,1,11,8.33,91.67\n"
	"[unknown],,0,1,1,8.33,8.33\n";

static void test_csv(void **state)
{
	struct fixture *x = *state;

	/* the thread option changes nothing: thread roots are never rows */
	for (int threads = 0; threads <= 1; threads++) {
		char *got = capture(&writer_csv, x->p, threads, 0);
		assert_string_equal(got, small_csv);
		free(got);
	}
	/* top is for the table only */
	char *got = capture(&writer_csv, x->p, 1, 1);
	assert_string_equal(got, small_csv);
	free(got);
}

/* Ties: self, then total, then name, file, line; hostile names escaped;
 * a line < 0 is written as 0. */
static void test_csv_order_and_escaping(void **state)
{
	struct strpool sp;
	struct profile *p = profile_new();

	(void)state;
	assert_non_null(p);
	strpool_init(&sp);
	const char *a = intern(&sp, "a.py"), *b = intern(&sp, "b.py");
	uint32_t r = profile_frame(p, intern(&sp, "root"), a, 1, PROF_PYTHON);
	uint32_t z = profile_frame(p, intern(&sp, "zeta"), a, 1, PROF_PYTHON);
	uint32_t al2 = profile_frame(p, intern(&sp, "alpha"), b, 2, PROF_PYTHON);
	uint32_t al1b = profile_frame(p, intern(&sp, "alpha"), b, 1, PROF_PYTHON);
	uint32_t al9a = profile_frame(p, intern(&sp, "alpha"), a, 9, PROF_PYTHON);
	uint32_t ev = profile_frame(p, intern(&sp, "=evil,\"x\"\n"), intern(&sp, "-d,ir/f.py"), -1,
				    PROF_PYTHON);
	ADD(p, 1, r, z);
	ADD(p, 1, r, al2);
	ADD(p, 1, r, al1b);
	ADD(p, 1, r, al9a);
	ADD(p, 1, r, ev);
	ADD(p, 3, r);
	char *got = capture(&writer_csv, p, 0, 0);
	assert_string_equal(got, "function,file,line,self_samples,total_samples,self_pct,total_pct\n"
				 "root,a.py,1,3,8,37.50,100.00\n"
				 "\"'=evil,\"\"x\"\"\n\",\"'-d,ir/f.py\",0,1,1,12.50,12.50\n"
				 "alpha,a.py,9,1,1,12.50,12.50\n"
				 "alpha,b.py,1,1,1,12.50,12.50\n"
				 "alpha,b.py,2,1,1,12.50,12.50\n"
				 "zeta,a.py,1,1,1,12.50,12.50\n");
	free(got);
	profile_free(p);
	strpool_release(&sp);
}

static void test_empty_profile_writers(void **state)
{
	struct profile *p = profile_new();

	(void)state;
	assert_non_null(p);
	char *got = capture(&writer_csv, p, 0, 0);
	assert_string_equal(got,
			    "function,file,line,self_samples,total_samples,self_pct,total_pct\n");
	free(got);
	got = capture(&writer_folded, p, 0, 0);
	assert_string_equal(got, "");
	free(got);
	got = capture(&writer_folded, p, 1, 0);
	assert_string_equal(got, "");
	free(got);
	got = capture(&writer_table, p, 0, 0);
	assert_string_equal(got,
			    "   OWN%  TOTAL%  FUNCTION                                 LOCATION\n"
			    "(no samples)\n");
	free(got);
	profile_free(p);
}

static void test_folded_threads(void **state)
{
	struct fixture *x = *state;
	char *got = capture(&writer_folded, x->p, 1, 0);
	expect_sorted_equal(got, "thread 1 (main);main (app.py:10);work (app.py:20) 5\n"
				 "thread 2;main (app.py:10);work (app.py:20) 3\n"
				 "thread 1 (main);main (app.py:10);work (app.py:20);"
				 "helper (lib.py:5) 2\n"
				 "thread 1 (main);main (app.py:10) 1\n"
				 "thread 2;[unknown] 1\n");
	free(got);
}

static void test_folded_merged(void **state)
{
	struct fixture *x = *state;
	char *got = capture(&writer_folded, x->p, 0, 0);
	/* T1 and T2 main;work merge: 5 + 3 */
	expect_sorted_equal(got, "main (app.py:10);work (app.py:20) 8\n"
				 "main (app.py:10);work (app.py:20);helper (lib.py:5) 2\n"
				 "main (app.py:10) 1\n"
				 "[unknown] 1\n");
	assert_null(strstr(got, "thread"));
	free(got);
}

/* Names that would break the format: ';' splits frames, a newline splits
 * lines; a line < 0 has no number. */
static void test_folded_escaping(void **state)
{
	struct strpool sp;
	struct profile *p = profile_new();

	(void)state;
	assert_non_null(p);
	strpool_init(&sp);
	uint32_t t = profile_frame(p, intern(&sp, "thread 9 (a;b)"), intern(&sp, ""), 0,
				   PROF_THREAD);
	uint32_t f = profile_frame(p, intern(&sp, "f;g\nh"), intern(&sp, "x;y.py"), 3,
				   PROF_PYTHON);
	uint32_t g = profile_frame(p, intern(&sp, "g\x1b"), intern(&sp, "z.py"), -1,
				   PROF_PYTHON);
	ADD(p, 4, t, f, g);
	char *got = capture(&writer_folded, p, 1, 0);
	assert_string_equal(got, "thread 9 (a:b);f:g\\x0ah (x:y.py:3);g\\x1b (z.py) 4\n");
	free(got);
	got = capture(&writer_folded, p, 0, 0);
	assert_string_equal(got, "f:g\\x0ah (x:y.py:3);g\\x1b (z.py) 4\n");
	free(got);
	profile_free(p);
	strpool_release(&sp);
}

static void test_table(void **state)
{
	struct fixture *x = *state;
	static const char want[] =
		"   OWN%  TOTAL%  FUNCTION                                 LOCATION\n"
		"  66.67   83.33  work                                     app.py:20\n"
		"  16.67   16.67  helper                                   lib.py:5\n"
		"   8.33   91.67  main                                     app.py:10\n"
		"   8.33    8.33  [unknown]                                \n";

	char *got = capture(&writer_table, x->p, 0, 0);
	assert_string_equal(got, want);
	free(got);
	/* top limits the rows, header kept */
	got = capture(&writer_table, x->p, 0, 2);
	assert_string_equal(got,
			    "   OWN%  TOTAL%  FUNCTION                                 LOCATION\n"
			    "  66.67   83.33  work                                     app.py:20\n"
			    "  16.67   16.67  helper                                   lib.py:5\n");
	free(got);
	/* top above the row count: all of them */
	got = capture(&writer_table, x->p, 0, 100);
	assert_string_equal(got, want);
	free(got);
}

static void test_table_hostile(void **state)
{
	struct strpool sp;
	struct profile *p = profile_new();

	(void)state;
	assert_non_null(p);
	strpool_init(&sp);
	uint32_t f = profile_frame(p, intern(&sp, "evil\x1b[2J\xc2\x9b"), intern(&sp, "m\x07.py"),
				   7, PROF_PYTHON);
	ADD(p, 1, f);
	char *got = capture(&writer_table, p, 0, 0);
	assert_string_equal(got,
			    "   OWN%  TOTAL%  FUNCTION                                 LOCATION\n"
			    " 100.00  100.00  evil\\x1b[2J\\xc2\\x9b                      "
			    "m\\x07.py:7\n");
	assert_null(strchr(got, '\x1b'));
	assert_null(strchr(got, '\x07'));
	assert_null(strstr(got, "\xc2\x9b"));
	free(got);
	profile_free(p);
	strpool_release(&sp);
}

/* ---- files ---- */

static void test_output_for_path(void **state)
{
	(void)state;
	assert_ptr_equal(output_for_path("out.csv"), &writer_csv);
	assert_ptr_equal(output_for_path("/tmp/dir.x/profile.csv"), &writer_csv);
	assert_ptr_equal(output_for_path("out.folded"), &writer_folded);
	assert_ptr_equal(output_for_path("out.txt"), &writer_folded);
	assert_null(output_for_path("out.json"));
	assert_null(output_for_path("out"));
	assert_null(output_for_path("out.csv.bak"));
	assert_null(output_for_path("dir.csv/out"));
	assert_null(output_for_path(""));
	/* an ending alone is no file name */
	assert_null(output_for_path(".csv"));
	assert_string_equal(writer_csv.name, "csv");
	assert_non_null(writer_folded.name);
	assert_non_null(writer_table.name);
}

/* The small profile and a fresh, empty directory, removed by teardown
 * even when a test fails half way. */
static int setup_files(void **state)
{
	if (setup_small(state) != 0)
		return -1;
	struct fixture *x = *state;
	snprintf(x->dir, sizeof(x->dir), "/tmp/pyrometer-test-XXXXXX");
	return mkdtemp(x->dir) ? 0 : -1;
}

/* Names in dir other than . and .., joined with '/', sorted. */
static char *list_dir(const char *dir)
{
	char *names[64];
	size_t n = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		assert_true(n < ARRAY_LEN(names));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	char *out = calloc(1, 64 * 256);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, "/");
		strcat(out, names[i]);
		free(names[i]);
	}
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 65536);
	assert_non_null(buf);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* dir and what is in it, one level deep. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	char path[512];
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	closedir(d);
	rmdir(dir);
}

static void test_write_file(void **state)
{
	struct fixture *x = *state;
	const char *dir = x->dir;
	struct output_opts o = { .threads = 0 };
	char path[128];

	snprintf(path, sizeof(path), "%s/profile.csv", dir);
	assert_int_equal(output_write_file(&writer_csv, path, x->p, &o), 0);
	char *got = slurp(path);
	assert_string_equal(got, small_csv);
	free(got);
	char *names = list_dir(dir);
	assert_string_equal(names, "profile.csv"); /* no *.tmp.* left */
	free(names);
	/* an ordinary file's mode, not mkstemp's 0600 */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	mode_t um = umask(0);
	umask(um);
	assert_int_equal(st.st_mode & 0777, 0666 & ~um);

	/* an existing file is replaced whole */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("old contents that are longer than nothing at all\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/profile.csv", dir);
	assert_int_equal(output_write_file(&writer_folded, path, x->p, &o), 0);
	got = slurp(path);
	expect_sorted_equal(got, "main (app.py:10);work (app.py:20) 8\n"
				 "main (app.py:10);work (app.py:20);helper (lib.py:5) 2\n"
				 "main (app.py:10) 1\n"
				 "[unknown] 1\n");
	free(got);
	names = list_dir(dir);
	assert_string_equal(names, "profile.csv");
	free(names);
}

static int failing_write(FILE *f, const struct profile *p, const struct output_opts *o)
{
	(void)p;
	(void)o;
	fputs("half a file\n", f);
	return -EIO;
}

static const char *const no_exts[] = { NULL };
static const struct writer writer_failing = { "failing", no_exts, failing_write };

/* A writer that fails leaves neither a partial file nor a temporary one,
 * and an existing file keeps its contents. */
static void test_write_file_failing_writer(void **state)
{
	struct fixture *x = *state;
	const char *dir = x->dir;
	struct output_opts o = { 0 };
	char path[128];

	snprintf(path, sizeof(path), "%s/out.csv", dir);
	assert_int_equal(output_write_file(&writer_failing, path, x->p, &o), -EIO);
	char *names = list_dir(dir);
	assert_string_equal(names, "");
	free(names);

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("previous\n", f);
	fclose(f);
	assert_int_equal(output_write_file(&writer_failing, path, x->p, &o), -EIO);
	char *got = slurp(path);
	assert_string_equal(got, "previous\n");
	free(got);
	names = list_dir(dir);
	assert_string_equal(names, "out.csv");
	free(names);
}

static void test_write_file_missing_dir(void **state)
{
	struct fixture *x = *state;
	const char *dir = x->dir;
	struct output_opts o = { 0 };
	char path[160];

	snprintf(path, sizeof(path), "%s/no/such/dir/out.csv", dir);
	int r = output_write_file(&writer_csv, path, x->p, &o);
	assert_int_equal(r, -ENOENT);
	char *names = list_dir(dir);
	assert_string_equal(names, "");
	free(names);
}

static void test_check_path(void **state)
{
	struct fixture *x = *state;
	const char *dir = x->dir;
	char path[160];

	snprintf(path, sizeof(path), "%s/out.csv", dir);
	assert_int_equal(output_check_path(path), 0);
	/* checking creates nothing */
	char *names = list_dir(dir);
	assert_string_equal(names, "");
	free(names);

	snprintf(path, sizeof(path), "%s/missing/out.csv", dir);
	assert_int_equal(output_check_path(path), -ENOENT);

	/* a "directory" that is a file (access() says EACCES or ENOTDIR) */
	snprintf(path, sizeof(path), "%s/file", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/out.csv", dir);
	int r = output_check_path(path);
	assert_true(r == -EACCES || r == -ENOTDIR);

	/* an existing, writable file is fine to replace */
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(output_check_path(path), 0);

	if (geteuid() == 0) {
		print_message("test_check_path: running as root, which may write anywhere; "
			      "the unwritable-directory check is skipped\n");
	} else {
		char ro[96];
		snprintf(ro, sizeof(ro), "%s/ro", dir);
		assert_int_equal(mkdir(ro, 0500), 0);
		snprintf(path, sizeof(path), "%s/out.csv", ro);
		assert_int_equal(output_check_path(path), -EACCES);
		/* an existing file we may not write */
		snprintf(path, sizeof(path), "%s/readonly.csv", dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fclose(f);
		assert_int_equal(chmod(path, 0400), 0);
		assert_int_equal(output_check_path(path), -EACCES);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esc_csv),
		cmocka_unit_test(test_esc_frame),
		cmocka_unit_test(test_esc_term),
		cmocka_unit_test(test_esc_cap),
		cmocka_unit_test_setup_teardown(test_csv, setup_small, teardown),
		cmocka_unit_test(test_csv_order_and_escaping),
		cmocka_unit_test(test_empty_profile_writers),
		cmocka_unit_test_setup_teardown(test_folded_threads, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_folded_merged, setup_small, teardown),
		cmocka_unit_test(test_folded_escaping),
		cmocka_unit_test_setup_teardown(test_table, setup_small, teardown),
		cmocka_unit_test(test_table_hostile),
		cmocka_unit_test(test_output_for_path),
		cmocka_unit_test_setup_teardown(test_write_file, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_write_file_failing_writer, setup_files,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_file_missing_dir, setup_files,
						teardown),
		cmocka_unit_test_setup_teardown(test_check_path, setup_files, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
