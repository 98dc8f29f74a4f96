/*
 * events.c - the events of every thread: a group (a sampling leader and
 * counted members) plus events that sample alone, all writing into one
 * ring buffer per thread (the leader's; the others are redirected there).
 * Every sample starts with PERF_SAMPLE_IDENTIFIER, so a record tells which
 * event wrote it.
 *
 * Ring buffer protocol (see perf_event_open(2) and the kernel's
 * tools/lib/perf/mmap.c): data_head is read with acquire semantics so the
 * records it covers are visible, and data_tail is written with release
 * semantics only after we are done with them, so the kernel never
 * overwrites a record we are still reading.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pyrometer/perf.h"

struct perf_thread {
	pid_t tid;
	int fd;                   /* the leader's: its buffer is the thread's */
	int gone;                 /* close once drained */
	int fds[PERF_EVENTS_MAX]; /* fds[0] == fd */
	uint64_t ids[PERF_EVENTS_MAX];
	struct perf_event_mmap_page *meta;
	uint8_t *data;            /* data_pages pages after the meta page */
	size_t size;              /* bytes of data, a power of two */
};

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

enum perf_bpf_kind perf_set_bpf_kind(const struct perf_set *s, int ev)
{
	const struct perf_ev_def *d = &s->ev[ev];
	if (d->attr.type == PERF_TYPE_TRACEPOINT)
		return PERF_BPF_TRACEPOINT;
	return d->path ? PERF_BPF_UPROBE : PERF_BPF_OVERFLOW;
}

int perf_set_init(struct perf_set *s, pid_t pid, unsigned hz)
{
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->sample_type = PERF_SAMPLE_FIELDS_DEFAULT;
	s->failed_event = -1;
	s->bpf_prog[0] = s->bpf_prog[1] = s->bpf_prog[2] = -1;
	struct perf_event_attr *a = &s->ev[0].attr;
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_CPU_CLOCK;
	a->sample_period = hz ? 1000000000ull / hz : 10000000ull;
	/* User-space samples only: that is all a Python profile needs, and it
	 * is what kernel.perf_event_paranoid=2 allows an unprivileged user. */
	a->exclude_kernel = 1;
	a->exclude_hv = 1;
	s->ev[0].role = PERF_EV_LEADER;
	s->nev = 1;
	/* 16 pages hold ~1300 samples of 48 bytes: over a second at 1 kHz, far
	 * more than one poll interval, at 68 KiB per thread. */
	s->data_pages = 16;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	return s->epfd < 0 ? -errno : 0;
}

int perf_set_events(struct perf_set *s, const struct perf_ev_def *defs, size_t n)
{
	if (n < 1 || n > PERF_EVENTS_MAX || defs[0].role != PERF_EV_LEADER)
		return -EINVAL;
	for (size_t i = 1; i < n; i++)
		if (defs[i].role == PERF_EV_LEADER)
			return -EINVAL;
	memcpy(s->ev, defs, n * sizeof(*defs));
	s->nev = n;
	s->sample_type |= PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_READ;
	s->read_format = PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED |
			 PERF_FORMAT_TOTAL_TIME_RUNNING;
	return 0;
}

/* Which of t's events has this id, or -1. */
static int event_index(const struct perf_set *s, const struct perf_thread *t, uint64_t id)
{
	for (size_t i = 0; i < s->nev; i++)
		if (t->ids[i] == id)
			return (int)i;
	return -1;
}

int perf_set_event_of(const struct perf_set *s, uint64_t id)
{
	if (!s->cur)
		return -1;
	/* drain() looked the sample's event up already */
	if (id == s->cur_id)
		return s->cur_event;
	return event_index(s, s->cur, id);
}

int perf_set_native(struct perf_set *s, uint64_t regs_mask, uint32_t stack_size)
{
	if (stack_size == 0 || stack_size % 8 || stack_size > PERF_STACK_USER_MAX || !regs_mask)
		return -EINVAL;
	s->regs_user = regs_mask;
	s->stack_user = stack_size;
	s->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	s->mmap = 1;
	/* Room for some 16 samples with their stack copies (a wakeup comes
	 * with every sample, so a few suffice), and never less than before. */
	size_t psz = (size_t)page_size(), want = 16 * ((size_t)stack_size + 512) / psz, pages = 16;
	while (pages < want && pages < 256)
		pages *= 2;
	s->data_pages = pages;
	return 0;
}

static void thread_close(struct perf_thread *t)
{
	if (t->meta)
		munmap(t->meta, (size_t)page_size() + t->size);
	for (size_t i = 0; i < PERF_EVENTS_MAX; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	t->meta = NULL;
	t->fd = -1;
	for (size_t i = 0; i < PERF_EVENTS_MAX; i++)
		t->fds[i] = -1;
}

void perf_set_release(struct perf_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		thread_close(s->v[i]);
		free(s->v[i]);
	}
	free(s->v);
	free(s->scratch);
	if (s->epfd >= 0)
		close(s->epfd);
	memset(s, 0, sizeof(*s));
	s->epfd = -1;
}

static struct perf_thread *find(struct perf_set *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->tid == tid && s->v[i]->fd >= 0)
			return s->v[i];
	return NULL;
}

size_t perf_set_threads(const struct perf_set *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++)
		k += s->v[i]->fd >= 0;
	return k;
}

/*
 * What event i's samples carry. A sampler with a fixed period leaves out
 * PERF_SAMPLE_PERIOD (its period is known): with that bit, recent kernels
 * make a software event, tracepoint or uprobe sample at every occurrence
 * whatever its period.
 */
static uint64_t event_sample_type(const struct perf_set *s, size_t i)
{
	const struct perf_ev_def *d = &s->ev[i];
	if ((s->sample_type & PERF_SAMPLE_IDENTIFIER) && !d->attr.freq)
		return s->sample_type & ~(uint64_t)PERF_SAMPLE_PERIOD;
	return s->sample_type;
}

/* The attr of event i for thread sampling. */
static void event_attr(const struct perf_set *s, size_t i, struct perf_event_attr *a)
{
	const struct perf_ev_def *d = &s->ev[i];
	*a = d->attr;
	a->size = sizeof(*a);
	if (d->path)
		a->config1 = (uint64_t)(uintptr_t)d->path;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	a->sample_id_all = 1;
	/* The group starts disabled and is enabled whole once every member
	 * is in: a member added to a running group would only be scheduled
	 * in at the thread's next context switch, which a thread that keeps
	 * its CPU may never have. */
	a->disabled = d->role == PERF_EV_LEADER && s->nev > 1;
	a->inherit = 0;
	/* A launched command: armed now, counting from its exec on (a member
	 * follows its leader). */
	if (s->on_exec && d->role != PERF_EV_MEMBER) {
		a->disabled = 1;
		a->enable_on_exec = 1;
	}
	if (d->role == PERF_EV_MEMBER) {
		a->sample_period = 0;
		a->freq = 0;
		a->read_format = s->read_format;
		return;
	}
	a->sample_type = event_sample_type(s, i);
	a->read_format = s->read_format;
	a->sample_regs_user = s->regs_user;
	a->sample_stack_user = s->stack_user;
	/* Wake the reader on every sample: the Python stack is read after the
	 * sample, and the sooner the closer to where the sample was taken.
	 * When a BPF program reads it at the sample, the reader comes when a
	 * quarter of the buffer is full (or on its timer) instead. */
	if (s->bpf_prog[0] >= 0) {
		a->watermark = 1;
		a->wakeup_watermark = (uint32_t)(s->data_pages * (size_t)page_size() / 4);
	} else {
		a->wakeup_events = 1;
	}
	if (d->role != PERF_EV_LEADER)
		return;
	/* The side records come once, from the leader. Executable mappings
	 * made while sampling (a module imported, a library dlopen'ed), with
	 * inode and build-id data (mmap2); FORK/EXIT as threads come and go;
	 * COMM for thread names. */
	a->mmap = s->mmap ? 1 : 0;
	a->mmap2 = s->mmap ? 1 : 0;
	a->task = 1;
	a->comm = 1;
}

static int open_event(const struct perf_set *s, size_t i, pid_t tid, int group_fd)
{
	struct perf_event_attr a;
	event_attr(s, i, &a);
	int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, group_fd, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int perf_set_add_thread(struct perf_set *s, pid_t tid)
{
	if (find(s, tid))
		return 0;
	struct perf_thread *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->tid = tid;
	for (size_t i = 0; i < PERF_EVENTS_MAX; i++)
		t->fds[i] = -1;
	int err = 0;
	for (size_t i = 0; i < s->nev; i++) {
		int group = s->ev[i].role == PERF_EV_MEMBER ? t->fds[0] : -1;
		int fd = open_event(s, i, tid, group);
		if (fd < 0) {
			err = fd;
			s->failed_event = (int)i;
			goto fail;
		}
		t->fds[i] = fd;
		if ((s->sample_type & PERF_SAMPLE_IDENTIFIER) &&
		    ioctl(fd, PERF_EVENT_IOC_ID, &t->ids[i]) < 0) {
			err = -errno;
			goto fail;
		}
	}
	t->fd = t->fds[0];
	size_t psz = (size_t)page_size();
	t->size = s->data_pages * psz;
	void *m = mmap(NULL, psz + t->size, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	t->meta = m;
	t->data = (uint8_t *)m + psz;
	for (size_t i = 1; i < s->nev; i++) {
		if (s->ev[i].role == PERF_EV_SOLO &&
		    ioctl(t->fds[i], PERF_EVENT_IOC_SET_OUTPUT, t->fd) < 0) {
			err = -errno;
			s->failed_event = (int)i;
			goto fail;
		}
	}
	for (size_t i = 0; s->bpf_prog[0] >= 0 && i < s->nev; i++) {
		if (s->ev[i].role != PERF_EV_MEMBER &&
		    ioctl(t->fds[i], PERF_EVENT_IOC_SET_BPF,
			  s->bpf_prog[perf_set_bpf_kind(s, (int)i)]) < 0) {
			err = -errno;
			s->failed_event = (int)i;
			goto fail;
		}
	}
	if (s->nev > 1 && !s->on_exec &&
	    ioctl(t->fd, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP) < 0) {
		err = -errno;
		goto fail;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct perf_thread **nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv) {
			err = -ENOMEM;
			goto fail;
		}
		s->v = nv;
		s->cap = ncap;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)s->n };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, t->fd, &ev) < 0) {
		err = -errno;
		goto fail;
	}
	s->v[s->n++] = t;
	return 0;
fail:
	thread_close(t);
	free(t);
	return err;
}

void perf_set_thread_gone(struct perf_set *s, pid_t tid)
{
	struct perf_thread *t = find(s, tid);
	if (t)
		t->gone = 1;
}

/* Handle every complete record in t's buffer. */
static int drain(struct perf_set *s, struct perf_thread *t, const struct perf_handlers *h)
{
	uint64_t head = __atomic_load_n(&t->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = t->meta->data_tail;
	int handled = 0;

	while (tail < head) {
		struct perf_event_header hdr;
		size_t off = (size_t)(tail & (t->size - 1));
		if (head - tail < sizeof(hdr))
			break;
		/* the header itself may wrap */
		for (size_t i = 0; i < sizeof(hdr); i++)
			((uint8_t *)&hdr)[i] = t->data[(off + i) & (t->size - 1)];
		if (hdr.size < sizeof(hdr) || hdr.size > head - tail) {
			s->bad_records++;
			tail = head;     /* cannot resynchronise: drop the rest */
			break;
		}
		const uint8_t *rec = t->data + off;
		if (off + hdr.size > t->size) {
			if (s->scratch_cap < hdr.size) {
				uint8_t *nb = realloc(s->scratch, hdr.size);
				if (!nb)
					break;
				s->scratch = nb;
				s->scratch_cap = hdr.size;
			}
			size_t first = t->size - off;
			memcpy(s->scratch, t->data + off, first);
			memcpy(s->scratch + first, t->data, hdr.size - first);
			rec = s->scratch;
		}
		struct perf_parse_cfg cfg = {
			.sample_type = s->sample_type, .sample_regs_user = s->regs_user,
			.read_format = s->read_format,
		};
		/* Samplers differ in what their samples carry: a sample names
		 * its event in its first field. */
		if ((s->sample_type & PERF_SAMPLE_IDENTIFIER) && hdr.type == PERF_RECORD_SAMPLE &&
		    hdr.size >= sizeof(hdr) + 8) {
			memcpy(&s->cur_id, rec + sizeof(hdr), sizeof(s->cur_id));
			s->cur_event = event_index(s, t, s->cur_id);
			if (s->cur_event >= 0)
				cfg.sample_type = event_sample_type(s, (size_t)s->cur_event);
		}
		if (perf_parse_record_cfg(rec, hdr.size, &cfg, h) < 0)
			s->bad_records++;
		tail += hdr.size;
		handled++;
	}
	__atomic_store_n(&t->meta->data_tail, tail, __ATOMIC_RELEASE);
	return handled;
}

int perf_set_poll(struct perf_set *s, int timeout_ms, const struct perf_handlers *h)
{
	struct epoll_event evs[64];
	int nev = epoll_wait(s->epfd, evs, 64, timeout_ms);
	if (nev < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < nev; i++) {
		uint32_t k = evs[i].data.u32;
		if (k < s->n && (evs[i].events & (EPOLLHUP | EPOLLERR)))
			s->v[k]->gone = 1;
	}
	/* Drain all buffers, not only the ready ones: records other than
	 * samples do not wake us. Handlers may add threads while we drain:
	 * they are appended, and thread structs never move. */
	int handled = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct perf_thread *t = s->v[i];
		if (t->fd < 0)
			continue;
		s->cur = t;
		s->cur_id = 0;
		s->cur_event = -1;
		handled += drain(s, t, h);
		s->cur = NULL;
		if (t->gone) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, t->fd, NULL);
			thread_close(t);
		}
	}
	return handled;
}
