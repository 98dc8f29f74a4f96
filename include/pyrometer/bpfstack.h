/*
 * bpfstack.h - the BPF sampling backend: a program run by the kernel at
 * every sample that reads the sampled thread's Python frames right there,
 * and the join of its records with the perf samples.
 *
 * The program is attached to every sampling event (perf_set.bpf_prog). Its
 * records arrive in a ring buffer of their own; bpfstack_consume() moves
 * them into per-thread queues, and bpfstack_take() hands over the record of
 * one perf sample, found by (thread, the event's count at the sample).
 */
#ifndef PYROMETER_BPFSTACK_H
#define PYROMETER_BPFSTACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpfstack;
struct pystack_layout;
struct pystack_thread;
struct pystack_record;

/*
 * Load the embedded program. On failure returns -errno and a one-line
 * reason in err (no "pyrometer:" prefix): -EPERM without root or CAP_BPF +
 * CAP_PERFMON, others where the kernel lacks what it needs.
 */
int bpfstack_open(struct bpfstack **out, char *err, size_t errcap);
void bpfstack_close(struct bpfstack *b);

/* The programs' fds, for PERF_EVENT_IOC_SET_BPF, by enum perf_bpf_kind:
 * [0] overflow of a software or hardware event, [1] uprobe, [2] tracepoint. */
int bpfstack_prog_fd(const struct bpfstack *b, int kind);

/* Process pid runs the interpreter laid out as L (0 or -errno); forget it. */
int bpfstack_add_process(struct bpfstack *b, pid_t pid, const struct pystack_layout *L);
void bpfstack_remove_process(struct bpfstack *b, pid_t pid);

/* Process pid's threads are now tids[0..n) -> t[0..n); the ones of pid not
 * listed are removed. 0 or -errno. */
int bpfstack_set_threads(struct bpfstack *b, pid_t pid, const pid_t *tids,
			 const struct pystack_thread *t, int n);
/* Thread tid ended: its entry and queued records go. */
void bpfstack_thread_gone(struct bpfstack *b, pid_t tid);

/* Move the records the kernel has written into the per-thread queues. */
void bpfstack_consume(struct bpfstack *b);

/*
 * The record of thread tid's perf sample taken at time (ns, CLOCK_MONOTONIC)
 * when its event's count was count; NULL when there is none (its record was
 * dropped, or the program did not run). before: the event's program runs
 * before the event is counted (uprobes, tracepoints): its record is the last
 * one written before the sample's time, and count is not used. Records of
 * earlier samples of the thread that no perf sample claimed (lost perf
 * records) are discarded on the way. Valid until the next call.
 */
const struct pystack_record *bpfstack_take(struct bpfstack *b, pid_t tid, uint64_t count,
					   uint64_t time, int before);

struct bpfstack_stats {
	uint64_t records;        /* records received */
	uint64_t orphans;        /* records whose perf sample never came */
	uint64_t kernel_drops;   /* records the ring had no room for */
	uint64_t queue_drops;    /* records dropped from an overlong queue */
};
void bpfstack_get_stats(struct bpfstack *b, struct bpfstack_stats *out);

#endif
