/*
 * output.h - writers: one file per format behind one small interface.
 *
 * Every writer reads the same aggregated profile. Names in it come from the
 * target and are untrusted: each writer escapes them for its own format.
 * Files are written to a temporary name in the destination's directory and
 * renamed when complete, so a killed profiler never leaves half a file.
 */
#ifndef PYROMETER_OUTPUT_H
#define PYROMETER_OUTPUT_H

#include <stdio.h>

struct profile;

enum out_sort {
	OUT_SORT_SAMPLES = 0,  /* own samples, then total samples */
	OUT_SORT_EVENT,        /* an event's own count (sort_index: the event) */
	OUT_SORT_METRIC,       /* a derived metric (sort_index: enum metric) */
};

struct run;

struct output_opts {
	int threads;         /* keep the per-thread root frames */
	int top;             /* rows for the table (0: all) */
	enum out_sort sort;  /* row order of the table and CSV */
	int sort_index;
	int weight_event;    /* collapsed stacks, speedscope: 0 = samples of the
				first event, k + 1 = event k's counts */
	int color_by;        /* SVG: 0 = by frame kind, m + 1 = shade by metric m
				(enum metric) */
	/* The run behind the profile: metadata (title, pprof labels, .pyro)
	 * and every sample (.pyro). NULL when not known. */
	const struct run *run;
};

/*
 * Resolve a --sort key against the events (names[0..n), roles as enum
 * ev_role): an event name, or a metric key (ipc, cpi, mpki, cache-miss%,
 * branch-miss%, faults/ksample) whose inputs are among the events. 0 and
 * sets o->sort / o->sort_index, or -1.
 */
int output_sort_key(const char *key, const char *const *names, const int *roles, size_t n,
		    struct output_opts *o);

struct writer {
	const char *name;
	const char *const *exts;   /* NULL-terminated file name endings */
	int (*write)(FILE *f, const struct profile *p, const struct output_opts *o);
};

extern const struct writer writer_csv;
extern const struct writer writer_folded;
extern const struct writer writer_table;
extern const struct writer writer_svg;         /* .svg: interactive flame graph */
extern const struct writer writer_speedscope;  /* .speedscope.json */
extern const struct writer writer_pprof;       /* .pb.gz: gzipped profile.proto */
extern const struct writer writer_pyro;        /* .pyro: the whole recording */

/* The writer called name ("csv", "collapsed", "svg", "speedscope",
 * "pprof", "pyro"), or NULL: --format. */
const struct writer *output_by_name(const char *name);

/* The writer a file name asks for by its ending, or NULL. */
const struct writer *output_for_path(const char *path);

/*
 * Check that path can be created (its directory is writable) before any
 * work is done. 0 or -errno.
 */
int output_check_path(const char *path);

/* Write through a temporary file and rename. 0 or -errno. */
int output_write_file(const struct writer *w, const char *path, const struct profile *p,
		      const struct output_opts *o);

/* Escaping shared by writers. Each appends to out (cap bytes, NUL-terminated,
 * cut when full) and returns the length it would have had. */
size_t esc_csv(char *out, size_t cap, const char *s);       /* RFC 4180 + formula guard */
size_t esc_frame(char *out, size_t cap, const char *s);     /* collapsed stacks: no ';' or controls */
size_t esc_term(char *out, size_t cap, const char *s);      /* terminal: controls as \xNN */

/*
 * The UTF-8 character at s[0..n) (n >= 1): its length in bytes and its code
 * point in *cp; 0 when the bytes there are not UTF-8 (an overlong form, a
 * surrogate, past U+10FFFF, a sequence cut short). Writers replace such a
 * byte by U+FFFD.
 */
#include <stdint.h>
size_t esc_utf8(const unsigned char *s, size_t n, uint32_t *cp);

/* fputs(s escaped by esc) to f, whatever its length. */
void esc_put(FILE *f, size_t (*esc)(char *, size_t, const char *), const char *s);

#endif
