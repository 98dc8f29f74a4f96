/*
 * perf.h - perf_event_open sampling of one process's threads.
 *
 * One sampling event per thread (per-task, any CPU), each with its own ring
 * buffer: the kernel lets a per-task buffer serve only its own task. Threads
 * that appear later are announced by PERF_RECORD_FORK on their parent's
 * event and by a periodic look at /proc, and get their own event then.
 *
 * Records are untrusted bytes: perf_parse_record() checks every size before
 * it reads and hands what it understood to a table of callbacks, which the
 * sampler, the tests and later a recording replay all implement.
 */
#ifndef PYROMETER_PERF_H
#define PYROMETER_PERF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the sampler asks the kernel to put in each sample. */
#define PERF_SAMPLE_FIELDS_DEFAULT \
	(PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD)

struct perf_sample {
	uint64_t time;       /* ns, CLOCK_MONOTONIC (perf's clock) */
	pid_t pid, tid;
	uint32_t cpu;
	uint64_t period;
};

struct perf_handlers {
	void *ctx;
	void (*sample)(void *ctx, const struct perf_sample *s);
	/* fork: a new task tid in process pid; exit: tid ended */
	void (*fork)(void *ctx, pid_t pid, pid_t tid);
	void (*exit)(void *ctx, pid_t pid, pid_t tid);
	void (*comm)(void *ctx, pid_t pid, pid_t tid, const char *comm);
	void (*lost)(void *ctx, uint64_t count);
};

/*
 * Parse one record of len bytes (header included) taken with the given
 * sample_type, and call the matching handler (NULL handlers are skipped).
 * Returns 0, or -EINVAL for a record that is malformed (too short for what
 * its type and sample_type promise).
 */
int perf_parse_record(const void *rec, size_t len, uint64_t sample_type,
		      const struct perf_handlers *h);

/* The events of one process. */
struct perf_thread;

struct perf_set {
	pid_t pid;
	uint64_t period_ns;       /* cpu-clock period */
	uint64_t sample_type;
	size_t data_pages;        /* ring buffer data pages per thread (power of 2) */
	int epfd;
	struct perf_thread **v;   /* each allocated alone: stable while handlers add */
	size_t n, cap;
	uint8_t *scratch;         /* a record that wraps the ring is copied here */
	size_t scratch_cap;
	uint64_t bad_records;
};

/* Prepare a set sampling cpu-clock at hz. 0 or -errno. */
int perf_set_init(struct perf_set *s, pid_t pid, unsigned hz);
void perf_set_release(struct perf_set *s);

/*
 * Open the event for thread tid (no-op when it has one). Returns 0, -ESRCH
 * when the thread is gone, or -errno from perf_event_open (EACCES/EPERM:
 * not allowed; ENOENT/EOPNOTSUPP: no such event here).
 */
int perf_set_add_thread(struct perf_set *s, pid_t tid);

/* Threads with an open event. */
size_t perf_set_threads(const struct perf_set *s);

/*
 * Wait up to timeout_ms for data, then read every ring buffer through h.
 * Buffers of threads that ended are drained and closed. Returns the number
 * of records handled, or -errno (EINTR is returned as 0).
 */
int perf_set_poll(struct perf_set *s, int timeout_ms, const struct perf_handlers *h);

/* Mark tid's event to be closed once its buffer is drained. */
void perf_set_thread_gone(struct perf_set *s, pid_t tid);

#endif
