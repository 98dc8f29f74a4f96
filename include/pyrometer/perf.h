/*
 * perf.h - perf_event_open sampling of one process's threads.
 *
 * One sampling event per thread (per-task, any CPU), each with its own ring
 * buffer: the kernel lets a per-task buffer serve only its own task. Threads
 * that appear later are announced by PERF_RECORD_FORK on their parent's
 * event and by a periodic look at /proc, and get their own event then.
 *
 * Records are untrusted bytes: perf_parse_record_cfg() (and its older,
 * narrower form perf_parse_record()) checks every size before it reads and
 * hands what it understood to a table of callbacks, which the sampler, the
 * tests and later a recording replay all implement.
 */
#ifndef PYROMETER_PERF_H
#define PYROMETER_PERF_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* What the sampler asks the kernel to put in each sample. */
#define PERF_SAMPLE_FIELDS_DEFAULT \
	(PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD)

/*
 * The sample fields perf_parse_record_cfg() reads, in the kernel's order up
 * to and including STACK_USER; BRANCH_STACK (its layout depends on
 * branch_sample_type) and every field after STACK_USER are refused.
 */
#define PERF_PARSE_SAMPLE_TYPES                                                          \
	(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |  \
	 PERF_SAMPLE_ADDR | PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU |   \
	 PERF_SAMPLE_PERIOD | PERF_SAMPLE_READ | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_RAW | \
	 PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

/* The read_format bits it understands (PERF_FORMAT_LOST is bit 4, Linux 6.0). */
#define PERF_PARSE_READ_FORMATS                                                       \
	(PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID | \
	 PERF_FORMAT_GROUP | (1u << 4))

#define PERF_SAMPLE_REGS_MAX 64   /* popcount of a u64 mask: never more */
#define PERF_READ_MAX 16          /* group members; a larger nr is malformed for us */

/* Which optional parts a struct perf_sample carries (its has field). */
#define PERF_HAS_READ       (1u << 0)
#define PERF_HAS_CALLCHAIN  (1u << 1)
#define PERF_HAS_REGS_USER  (1u << 2)
#define PERF_HAS_STACK_USER (1u << 3)

/* One counter of a PERF_SAMPLE_READ. */
struct perf_read_value {
	uint64_t value;
	uint64_t id;      /* 0 unless PERF_FORMAT_ID */
	uint64_t lost;    /* 0 unless PERF_FORMAT_LOST */
};

/*
 * PERF_SAMPLE_READ, both formats in one shape: without PERF_FORMAT_GROUP
 * the event's own value is v[0] and nr is 1.
 */
struct perf_read {
	uint64_t format;  /* the attr.read_format it was parsed with */
	uint64_t nr;      /* entries of v in use, <= PERF_READ_MAX */
	uint64_t time_enabled, time_running;  /* 0 unless in format */
	struct perf_read_value v[PERF_READ_MAX];
};

/*
 * One sample. Fields not in sample_type are zero. The struct and every
 * pointer in it are valid only during the sample callback: stack and
 * callchain point into the record, which the ring buffer reuses afterwards.
 * Copy what must outlive the call.
 */
struct perf_sample {
	uint64_t time;       /* ns, CLOCK_MONOTONIC (perf's clock) */
	pid_t pid, tid;
	uint32_t cpu;
	uint64_t period;
	uint64_t ip, addr, stream_id;
	uint64_t id;         /* PERF_SAMPLE_ID or PERF_SAMPLE_IDENTIFIER (the same value) */
	unsigned has;        /* PERF_HAS_* */

	struct perf_read read;  /* PERF_HAS_READ */

	/* PERF_HAS_CALLCHAIN: callchain_nr u64 addresses (PERF_CONTEXT_* markers
	 * included, as the kernel wrote them). Not necessarily 8-aligned: read
	 * them with perf_sample_callchain_ip(). */
	const uint8_t *callchain;
	uint64_t callchain_nr;

	/* PERF_HAS_REGS_USER: PERF_SAMPLE_REGS_ABI_NONE (no user context, e.g.
	 * a kernel thread: nregs 0), _32 or _64 (any other value is passed on
	 * as is; the layout rule, values follow iff abi != NONE, is the same).
	 * regs[i] is the register of the i-th lowest bit set in
	 * attr.sample_regs_user. */
	uint64_t regs_abi;
	uint32_t nregs;
	uint64_t regs[PERF_SAMPLE_REGS_MAX];

	/* PERF_HAS_STACK_USER: the kernel copied stack_size bytes from the user
	 * stack pointer up, of which the first stack_dyn_size (<= stack_size)
	 * are valid. stack is NULL when stack_size is 0 (no user context). */
	const uint8_t *stack;
	uint64_t stack_size, stack_dyn_size;
};

static inline uint64_t perf_sample_callchain_ip(const struct perf_sample *s, size_t i)
{
	uint64_t ip;
	memcpy(&ip, s->callchain + 8 * i, sizeof(ip));
	return ip;
}

/*
 * PERF_RECORD_MMAP2, or the older PERF_RECORD_MMAP (type says which; it has
 * no prot, flags nor file identity, and those stay zero).
 */
struct perf_mmap {
	uint32_t type;
	uint16_t misc;       /* header.misc: cpumode, PERF_RECORD_MISC_MMAP_DATA... */
	pid_t pid, tid;
	uint64_t addr, len, pgoff;
	uint32_t prot, flags;
	/* The file: with PERF_RECORD_MISC_MMAP_BUILD_ID (attr.build_id) its
	 * build-id, else its device and inode. */
	int has_build_id;
	uint8_t build_id_size;   /* <= 20 */
	uint8_t build_id[20];
	uint32_t maj, min;
	uint64_t ino, ino_generation;
	/* NUL-terminated, inside the record: valid during the callback only. */
	const char *filename;
};

struct perf_handlers {
	void *ctx;
	void (*sample)(void *ctx, const struct perf_sample *s);
	/* fork: a new task tid in process pid; exit: tid ended */
	void (*fork)(void *ctx, pid_t pid, pid_t tid);
	void (*exit)(void *ctx, pid_t pid, pid_t tid);
	void (*comm)(void *ctx, pid_t pid, pid_t tid, const char *comm);
	void (*lost)(void *ctx, uint64_t count);
	void (*mmap2)(void *ctx, const struct perf_mmap *m);  /* MMAP2 and MMAP */
};

/* What the kernel was asked for: the attr fields that shape a record. */
struct perf_parse_cfg {
	uint64_t sample_type;
	uint64_t sample_regs_user;  /* counts the registers of REGS_USER */
	uint64_t read_format;       /* shapes READ */
};

/*
 * Parse one record of len bytes (header included) taken with cfg, and call
 * the matching handler (NULL handlers are skipped). Returns 0, or -EINVAL
 * for a record that is malformed (too short for what its type and cfg
 * promise, a count over our caps, dyn_size > size, a file name without its
 * NUL) or that cfg asks for fields outside PERF_PARSE_SAMPLE_TYPES /
 * PERF_PARSE_READ_FORMATS; no handler is called then. Bytes after what a
 * record's type defines (the sample_id_all trailer) are ignored. Record
 * types not handled here are skipped by size.
 */
int perf_parse_record_cfg(const void *rec, size_t len, const struct perf_parse_cfg *cfg,
			  const struct perf_handlers *h);

/* The same with sample_regs_user = 0 and read_format = 0. */
int perf_parse_record(const void *rec, size_t len, uint64_t sample_type,
		      const struct perf_handlers *h);

/* The events of one process. */
struct perf_thread;

/* Most events a thread gets: the group's leader and members, and the
 * events that sample on their own. */
#define PERF_EVENTS_MAX 8

enum perf_ev_role {
	PERF_EV_LEADER,     /* samples; the members are read with each sample */
	PERF_EV_MEMBER,     /* counted in the leader's group */
	PERF_EV_SOLO,       /* samples on its own overflow ("event mode") */
};

/*
 * One event as opened for every thread. attr carries type, config,
 * config2, the exclude_* bits and, for samplers, sample_period or
 * freq/sample_freq; the set fills in everything else. path, when not NULL,
 * becomes attr.config1 (a uprobe's file).
 */
struct perf_ev_def {
	struct perf_event_attr attr;
	const char *path;
	enum perf_ev_role role;
};

struct perf_set {
	pid_t pid;
	uint64_t sample_type;
	uint64_t read_format;
	uint64_t regs_user;       /* sample_regs_user; 0 = no register sample */
	uint32_t stack_user;      /* bytes of user stack per sample; 0 = none */
	int mmap;                 /* MMAP2 records for executable mappings */
	size_t data_pages;        /* ring buffer data pages per thread (power of 2) */
	struct perf_ev_def ev[PERF_EVENTS_MAX];  /* ev[0] is the leader */
	size_t nev;
	int failed_event;         /* the event of the last failed open, or -1 */
	int on_exec;              /* events start when the thread calls exec */
	/* BPF programs run at each sample, by enum perf_bpf_kind; -1: none
	 * (perf_set_init). With them, samples wake the reader in batches. */
	int bpf_prog[3];
	int epfd;
	struct perf_thread **v;   /* each allocated alone: stable while handlers add */
	size_t n, cap;
	struct perf_thread *cur;  /* the thread whose buffer is being read */
	uint64_t cur_id;          /* the sample being handled: its id and event */
	int cur_event;
	uint8_t *scratch;         /* a record that wraps the ring is copied here */
	size_t scratch_cap;
	uint64_t bad_records;
};

/* Which kind of BPF program an event takes (PERF_EVENT_IOC_SET_BPF). */
enum perf_bpf_kind {
	PERF_BPF_OVERFLOW = 0,    /* software and hardware: run at the overflow */
	PERF_BPF_UPROBE = 1,      /* uprobes: run at the hit, before it is counted */
	PERF_BPF_TRACEPOINT = 2,  /* tracepoints: likewise */
};
enum perf_bpf_kind perf_set_bpf_kind(const struct perf_set *s, int ev);

/* Prepare a set sampling cpu-clock at hz, user space only. 0 or -errno. */
int perf_set_init(struct perf_set *s, pid_t pid, unsigned hz);

/*
 * Before the first thread: replace the events with defs[0..n) (defs[0]
 * the leader, then members and solo samplers in any order). Every sample
 * then carries PERF_SAMPLE_IDENTIFIER and a group READ (id, time enabled
 * and running). 0, or -EINVAL (n out of 1..PERF_EVENTS_MAX, defs[0] not a
 * leader, another leader).
 */
int perf_set_events(struct perf_set *s, const struct perf_ev_def *defs, size_t n);

/* Which event (index into ev[]) a sample with this id came from, among the
 * thread being read (valid in handlers only); -1 when unknown. */
int perf_set_event_of(const struct perf_set *s, uint64_t id);

/*
 * Before the first thread: sample the user registers of regs_mask and
 * stack_size bytes of user stack (a multiple of 8, at most
 * PERF_STACK_USER_MAX), and ask for MMAP2 records of executable mappings.
 * 0, or -EINVAL for a size out of range.
 */
#define PERF_STACK_USER_MAX 65000u  /* a record's size is 16 bits */
int perf_set_native(struct perf_set *s, uint64_t regs_mask, uint32_t stack_size);
void perf_set_release(struct perf_set *s);

/*
 * Open the events for thread tid (no-op when it has them). Returns 0,
 * -ESRCH when the thread is gone, or -errno from perf_event_open
 * (EACCES/EPERM: not allowed; ENOENT/EOPNOTSUPP: no such event here), with
 * failed_event naming the event that failed.
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
