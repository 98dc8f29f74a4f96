/*
 * profile.h - the aggregated profile: interned frames, a trie of stacks,
 * and sample counts per stack.
 *
 * A frame is (name, file, line, kind) with name and file interned by the
 * caller (a strpool that outlives the profile): frames are compared by
 * pointer. A stack is a path in the trie from the root; each node counts the
 * samples whose stack ended exactly there ("self") and, for each of the
 * profile's events, the counts attributed to those samples.
 *
 * Ownership: the profile owns its arrays; it does not own the strings.
 */
#ifndef PYROMETER_PROFILE_H
#define PYROMETER_PROFILE_H

#include <stddef.h>
#include <stdint.h>

enum prof_kind {
	PROF_PYTHON = 0,   /* a Python function at a line */
	PROF_THREAD = 1,   /* the root "thread TID (name)"; line = TID */
	PROF_PSEUDO = 2,   /* an explicit marker: [unknown], [no Python frames] */
	PROF_NATIVE = 3,   /* a native function: name = symbol, file = module
			      file name ("" when unknown), line 0 */
	PROF_PROCESS = 4,  /* the root "process PID (comm)" (--subprocesses),
			      above the thread roots; line = PID */
};

struct prof_frame {
	const char *name;
	const char *file;
	int line;
	int kind;
};

#define PROF_ROOT 0u       /* node id of the trie's root; it has no frame */

struct prof_node {
	uint32_t parent;
	uint32_t frame;
	uint32_t depth;        /* frames from the root, the root being 0 */
	uint64_t self;
};

/* An event the profile counts: name interned by the caller, role an
 * enum ev_role (what derived metrics it feeds). */
struct prof_event {
	const char *name;
	int role;
};

#define PROF_EVENTS_MAX 8

struct profile;

/* A profile of sample counts only. */
struct profile *profile_new(void);

/* A profile that also counts nev events (<= PROF_EVENTS_MAX). */
struct profile *profile_new_events(const struct prof_event *ev, size_t nev);
size_t profile_nevents(const struct profile *p);
const struct prof_event *profile_event(const struct profile *p, size_t k);
void profile_free(struct profile *p);

/* The id of a frame, interned; UINT32_MAX when out of memory. */
uint32_t profile_frame(struct profile *p, const char *name, const char *file, int line,
		       int kind);

/* Count `count` samples for the stack frames[0..n) given root first.
 * Returns the leaf node id, or UINT32_MAX when out of memory. */
uint32_t profile_add(struct profile *p, const uint32_t *frames, size_t n, uint64_t count);

/* The same, adding vals[0..profile_nevents()) to the stack's event counts
 * (vals may be NULL: no counts). count may be 0 (a sample of an event
 * that samples alone adds counts, not samples). */
uint32_t profile_add_counts(struct profile *p, const uint32_t *frames, size_t n,
			    uint64_t count, const uint64_t *vals);

/* The child of node parent through frame, created when missing; counts
 * nothing. UINT32_MAX when out of memory or parent/frame is not valid. */
uint32_t profile_child(struct profile *p, uint32_t parent, uint32_t frame);

/* Add count samples and vals[0..profile_nevents()) (NULL: none) to node id
 * (which must exist). */
void profile_node_add(struct profile *p, uint32_t id, uint64_t count, const uint64_t *vals);

/* A node's own event counts (profile_nevents() values), or NULL when the
 * profile counts no events. */
const uint64_t *profile_node_counts(const struct profile *p, uint32_t id);

/* Event totals over the whole profile into out[0..profile_nevents()). */
void profile_count_totals(const struct profile *p, uint64_t *out);

uint64_t profile_samples(const struct profile *p);
size_t profile_nframes(const struct profile *p);
const struct prof_frame *profile_frame_get(const struct profile *p, uint32_t id);
size_t profile_nnodes(const struct profile *p);
const struct prof_node *profile_node(const struct profile *p, uint32_t id);

/*
 * Per-frame totals over the whole profile: self[id] = samples whose leaf is
 * that frame, total[id] = samples whose stack holds it at least once
 * (recursion counts once). Arrays of profile_nframes() entries, owned by the
 * caller (free() both). 0 or -ENOMEM.
 */
int profile_totals(const struct profile *p, uint64_t **self, uint64_t **total);

/* The same for event counts: selfv[id * nevents + k] and totalv[...]
 * (profile_nframes() * profile_nevents() entries, NULL when no events). */
int profile_totals_counts(const struct profile *p, uint64_t **self, uint64_t **total,
			  uint64_t **selfv, uint64_t **totalv);

/* A copy of the profile without its thread root frames (stacks of
 * different threads merged). NULL when out of memory. */
struct profile *profile_without_threads(const struct profile *p);

/* A copy with PROF_DROP_THREADS: no thread root frames; PROF_DROP_LINES:
 * Python frames at line -1, so a function's lines become one frame. NULL
 * when out of memory. */
#define PROF_DROP_THREADS 1u
#define PROF_DROP_LINES 2u
struct profile *profile_transform(const struct profile *p, unsigned flags);

/* A path buffer that profile_add_path_of() grows; free(path) when done. */
struct profile_scratch {
	uint32_t *path;
	size_t cap;
};

/*
 * Add to q the stack that ends at node id of p (frames interned in q, as
 * flags say: PROF_DROP_THREADS, PROF_DROP_LINES) with count samples and
 * vals. Returns q's leaf node, or UINT32_MAX (out of memory, no such node).
 */
uint32_t profile_add_path_of(struct profile *q, const struct profile *p, uint32_t id,
			     unsigned flags, uint64_t count, const uint64_t *vals,
			     struct profile_scratch *sc);

#endif
