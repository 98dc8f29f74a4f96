/*
 * backend.c - loading the kernel stack walker (pystack.bpf.c, embedded at
 * build time), keeping its maps, and joining its records with perf samples.
 *
 * Join: the kernel runs the program at an event's overflow before it writes
 * the perf sample, so a sample's record is in the ring before the sample is
 * in the perf buffer. Both streams are in overflow order per thread, and the
 * key (thread, the event's count at the sample) is exact: a record that is
 * older than the sample being matched belongs to a sample the perf buffer
 * lost, and is dropped.
 */
#include <errno.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pyrometer/bpfstack.h"
#include "pystack_abi.h"

/* The object file, built by the Makefile from pystack.bpf.c. */
__asm__(".pushsection .rodata\n"
	".balign 8\n"
	".global pyrometer_pystack_obj\n"
	"pyrometer_pystack_obj:\n"
	".incbin \"" PYSTACK_OBJ "\"\n"
	".global pyrometer_pystack_obj_end\n"
	"pyrometer_pystack_obj_end:\n"
	".popsection\n");
extern const char pyrometer_pystack_obj[], pyrometer_pystack_obj_end[];

#define NBUCKETS 1024
#define QUEUE_MAX 8192       /* records kept per thread waiting for their sample */
#define MAX_ENTRIES 16384

struct node {
	struct node *next;
	struct pystack_record rec;   /* only the header and rec.nframes frames */
};

struct queue {
	struct queue *next;          /* in its bucket */
	pid_t tid;
	struct node *head, *tail;
	int len;
};

struct entry {
	pid_t pid, tid;
};

struct bpfstack {
	struct bpf_object *obj;
	int prog_fd[3], layouts_fd, threads_fd, drops_fd;
	struct ring_buffer *ring;
	struct queue *buckets[NBUCKETS];
	struct node *taken;          /* handed out by the last take */
	struct entry *entries;       /* thread map entries, by process */
	size_t nentries, entries_cap;
	struct bpfstack_stats st;
};

static char last_msg[256];

/* libbpf's messages: the last one is kept for the error line. */
static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (getenv("PYROMETER_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	char line[256];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = 0;
	if (n)
		snprintf(last_msg, sizeof(last_msg), "%s", line);
	return 0;
}

static int on_record(void *ctx, void *data, size_t len);

static const char *why(int e)
{
	switch (e) {
	case EPERM:
		return "not permitted (the BPF backend needs root, or CAP_BPF and "
		       "CAP_PERFMON)";
	case EACCES:
		return "the kernel's verifier rejected it";
	case ENOSYS:
		return "this kernel has no BPF support";
	case EINVAL:
	case ENOTSUP:
		return "this kernel does not accept the program";
	default:
		return strerror(e);
	}
}

int bpfstack_open(struct bpfstack **out, char *err, size_t errcap)
{
	*out = NULL;
	struct bpfstack *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	libbpf_set_print(on_libbpf_print);
	last_msg[0] = 0;
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "pyrometer_pystack");
	size_t size = (size_t)(pyrometer_pystack_obj_end - pyrometer_pystack_obj);
	int e = 0;
	b->obj = bpf_object__open_mem(pyrometer_pystack_obj, size, &opts);
	if (!b->obj) {
		e = errno ? errno : EINVAL;
		snprintf(err, errcap, "cannot open the BPF program: %s", strerror(e));
		goto fail;
	}
	if ((e = -bpf_object__load(b->obj)) != 0) {
		if (e == EPERM || e == ENOSYS)
			snprintf(err, errcap, "cannot load the BPF program: %s", why(e));
		else
			snprintf(err, errcap, "cannot load the BPF program: %s%s%s", why(e),
				 last_msg[0] ? ": " : "", last_msg);
		goto fail;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(b->obj, "pystack_sample");
	struct bpf_program *up = bpf_object__find_program_by_name(b->obj, "pystack_uprobe");
	struct bpf_program *tp = bpf_object__find_program_by_name(b->obj, "pystack_tracepoint");
	struct bpf_map *ring = bpf_object__find_map_by_name(b->obj, "ring");
	struct bpf_map *lay = bpf_object__find_map_by_name(b->obj, "layouts");
	struct bpf_map *thr = bpf_object__find_map_by_name(b->obj, "threads");
	struct bpf_map *drops = bpf_object__find_map_by_name(b->obj, "drops");
	if (!prog || !up || !tp || !ring || !lay || !thr || !drops) {
		e = EINVAL;
		snprintf(err, errcap, "the embedded BPF program is incomplete (a build problem)");
		goto fail;
	}
	b->prog_fd[0] = bpf_program__fd(prog);
	b->prog_fd[1] = bpf_program__fd(up);
	b->prog_fd[2] = bpf_program__fd(tp);
	b->layouts_fd = bpf_map__fd(lay);
	b->threads_fd = bpf_map__fd(thr);
	b->drops_fd = bpf_map__fd(drops);
	b->ring = ring_buffer__new(bpf_map__fd(ring), on_record, b, NULL);
	if (!b->ring) {
		e = errno ? errno : ENOMEM;
		snprintf(err, errcap, "cannot map the BPF ring buffer: %s", strerror(e));
		goto fail;
	}
	*out = b;
	return 0;
fail:
	bpfstack_close(b);
	return -e;
}

static void free_queue_nodes(struct queue *q)
{
	for (struct node *n = q->head, *next; n; n = next) {
		next = n->next;
		free(n);
	}
	q->head = q->tail = NULL;
	q->len = 0;
}

void bpfstack_close(struct bpfstack *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		for (struct queue *q = b->buckets[i], *next; q; q = next) {
			next = q->next;
			free_queue_nodes(q);
			free(q);
		}
	}
	free(b->taken);
	free(b->entries);
	ring_buffer__free(b->ring);
	bpf_object__close(b->obj);
	free(b);
}

int bpfstack_prog_fd(const struct bpfstack *b, int kind)
{
	return kind >= 0 && kind < 3 ? b->prog_fd[kind] : -1;
}

int bpfstack_add_process(struct bpfstack *b, pid_t pid, const struct pystack_layout *L)
{
	__u32 key = (__u32)pid;
	return bpf_map_update_elem(b->layouts_fd, &key, L, BPF_ANY) < 0 ? -errno : 0;
}

void bpfstack_remove_process(struct bpfstack *b, pid_t pid)
{
	__u32 key = (__u32)pid;
	bpf_map_delete_elem(b->layouts_fd, &key);
	bpfstack_set_threads(b, pid, NULL, NULL, 0);
}

static struct queue **slot(struct bpfstack *b, pid_t tid)
{
	struct queue **q = &b->buckets[(uint32_t)tid * 2654435761u % NBUCKETS];
	while (*q && (*q)->tid != tid)
		q = &(*q)->next;
	return q;
}

static void drop_queue(struct bpfstack *b, pid_t tid)
{
	struct queue **q = slot(b, tid);
	if (*q) {
		struct queue *dead = *q;
		*q = dead->next;
		free_queue_nodes(dead);
		free(dead);
	}
}

int bpfstack_set_threads(struct bpfstack *b, pid_t pid, const pid_t *tids,
			 const struct pystack_thread *t, int n)
{
	int err = 0;
	/* Entries of pid that are no longer listed go. */
	size_t keep = 0;
	for (size_t i = 0; i < b->nentries; i++) {
		struct entry e = b->entries[i];
		int listed = e.pid != pid;
		for (int k = 0; k < n && !listed; k++)
			listed = tids[k] == e.tid;
		if (listed) {
			b->entries[keep++] = e;
		} else {
			__u32 key = (__u32)e.tid;
			bpf_map_delete_elem(b->threads_fd, &key);
		}
	}
	b->nentries = keep;
	for (int k = 0; k < n; k++) {
		__u32 key = (__u32)tids[k];
		if (bpf_map_update_elem(b->threads_fd, &key, &t[k], BPF_ANY) < 0) {
			err = -errno;
			continue;
		}
		int known = 0;
		for (size_t i = 0; i < b->nentries && !known; i++)
			known = b->entries[i].tid == tids[k];
		if (known || b->nentries >= MAX_ENTRIES)
			continue;
		if (b->nentries == b->entries_cap) {
			size_t cap = b->entries_cap ? b->entries_cap * 2 : 16;
			struct entry *nv = realloc(b->entries, cap * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			b->entries = nv;
			b->entries_cap = cap;
		}
		b->entries[b->nentries++] = (struct entry){ pid, tids[k] };
	}
	return err;
}

void bpfstack_thread_gone(struct bpfstack *b, pid_t tid)
{
	__u32 key = (__u32)tid;
	bpf_map_delete_elem(b->threads_fd, &key);
	for (size_t i = 0; i < b->nentries; i++) {
		if (b->entries[i].tid == tid) {
			b->entries[i] = b->entries[--b->nentries];
			break;
		}
	}
	drop_queue(b, tid);
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct bpfstack *b = ctx;
	const size_t head = offsetof(struct pystack_record, frames);
	const struct pystack_record *r = data;
	if (len < head)
		return 0;
	size_t nfr = (len - head) / sizeof(struct pystack_frame);
	if (r->nframes < nfr)
		nfr = r->nframes;
	b->st.records++;
	struct queue **qs = slot(b, (pid_t)r->tid);
	if (!*qs) {
		struct queue *nq = calloc(1, sizeof(*nq));
		if (!nq)
			return 0;
		nq->tid = (pid_t)r->tid;
		*qs = nq;
	}
	struct queue *q = *qs;
	if (q->len >= QUEUE_MAX) {
		struct node *old = q->head;
		q->head = old->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
		free(old);
		b->st.queue_drops++;
	}
	struct node *n = malloc(offsetof(struct node, rec) + head +
				nfr * sizeof(struct pystack_frame));
	if (!n)
		return 0;
	n->next = NULL;
	memcpy(&n->rec, r, head + nfr * sizeof(struct pystack_frame));
	n->rec.nframes = (__u32)nfr;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->len++;
	return 0;
}

void bpfstack_consume(struct bpfstack *b)
{
	ring_buffer__consume(b->ring);
}

/* Hand out the head of q (the match), or drop it (an orphan). */
static const struct pystack_record *pop(struct bpfstack *b, struct queue *q, int match)
{
	struct node *n = q->head;
	q->head = n->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	if (match) {
		free(b->taken);
		b->taken = n;
		return &n->rec;
	}
	free(n);
	b->st.orphans++;
	return NULL;
}

/* Records written before the event is counted: the sample's is the last
 * one older than the sample; older ones lost their samples. */
static const struct pystack_record *find_before(struct bpfstack *b, pid_t tid, uint64_t time)
{
	struct queue *q = *slot(b, tid);
	while (q && q->head && q->head->rec.time < time) {
		struct node *n = q->head;
		int last = !n->next || n->next->rec.time >= time;
		if (last && n->rec.before)
			return pop(b, q, 1);
		pop(b, q, 0);
	}
	return NULL;
}

static const struct pystack_record *find(struct bpfstack *b, pid_t tid, uint64_t count,
					 uint64_t time)
{
	struct queue *q = *slot(b, tid);
	while (q && q->head) {
		struct node *n = q->head;
		/* the program could not read the count: the time decides (the
		 * record is written within microseconds after the sample) */
		int match = n->rec.before ? 0
			  : n->rec.count ? n->rec.count == count
					 : n->rec.time >= time && n->rec.time - time < 1000000;
		if (!match && n->rec.time >= time)
			return NULL;   /* a later sample's: this one's was dropped */
		const struct pystack_record *r = pop(b, q, match);
		if (r)
			return r;
	}
	return NULL;
}

const struct pystack_record *bpfstack_take(struct bpfstack *b, pid_t tid, uint64_t count,
					   uint64_t time, int before)
{
	if (before) {
		/* the sample's record is older than the sample: consume first,
		 * so that the last one before it is known */
		bpfstack_consume(b);
		return find_before(b, tid, time);
	}
	const struct pystack_record *r = find(b, tid, count, time);
	if (!r) {
		/* written after the last look at the ring */
		bpfstack_consume(b);
		r = find(b, tid, count, time);
	}
	return r;
}

void bpfstack_get_stats(struct bpfstack *b, struct bpfstack_stats *out)
{
	*out = b->st;
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu > 0 && ncpu < 4096) {
		uint64_t *v = calloc((size_t)ncpu, sizeof(*v));
		__u32 key = 0;
		if (v && bpf_map_lookup_elem(b->drops_fd, &key, v) == 0)
			for (int i = 0; i < ncpu; i++)
				out->kernel_drops += v[i];
		free(v);
	}
}
