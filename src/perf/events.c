/*
 * events.c - one cpu-clock sampling event and ring buffer per thread.
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
	int fd;
	int gone;                 /* close once drained */
	struct perf_event_mmap_page *meta;
	uint8_t *data;            /* data_pages pages after the meta page */
	size_t size;              /* bytes of data, a power of two */
};

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

int perf_set_init(struct perf_set *s, pid_t pid, unsigned hz)
{
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->period_ns = hz ? 1000000000ull / hz : 10000000ull;
	s->sample_type = PERF_SAMPLE_FIELDS_DEFAULT;
	/* 16 pages hold ~1300 samples of 48 bytes: over a second at 1 kHz, far
	 * more than one poll interval, at 68 KiB per thread. */
	s->data_pages = 16;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	return s->epfd < 0 ? -errno : 0;
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
	if (t->fd >= 0)
		close(t->fd);
	t->meta = NULL;
	t->fd = -1;
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

int perf_set_add_thread(struct perf_set *s, pid_t tid)
{
	if (find(s, tid))
		return 0;
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.sample_period = s->period_ns;
	a.sample_type = s->sample_type;
	a.sample_regs_user = s->regs_user;
	a.sample_stack_user = s->stack_user;
	/* Executable mappings made while sampling (a module imported, a
	 * library dlopen'ed), with inode and build-id data (mmap2). */
	a.mmap = s->mmap ? 1 : 0;
	a.mmap2 = s->mmap ? 1 : 0;
	/* User-space samples only: that is all a Python profile needs, and it
	 * is what kernel.perf_event_paranoid=2 allows an unprivileged user. */
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.task = 1;               /* FORK/EXIT records: threads come and go */
	a.comm = 1;               /* thread names */
	a.sample_id_all = 1;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	/* Wake the reader on every sample: the Python stack is read after the
	 * sample, and the sooner the closer to where the sample was taken. */
	a.wakeup_events = 1;

	int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t psz = (size_t)page_size();
	size_t size = s->data_pages * psz;
	void *m = mmap(NULL, psz + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	struct perf_thread *t = malloc(sizeof(*t));
	if (t && s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct perf_thread **nv = realloc(s->v, ncap * sizeof(*nv));
		if (nv) {
			s->v = nv;
			s->cap = ncap;
		}
	}
	if (!t || s->n == s->cap) {
		free(t);
		munmap(m, psz + size);
		close(fd);
		return -ENOMEM;
	}
	*t = (struct perf_thread){ tid, fd, 0, m, (uint8_t *)m + psz, size };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)s->n };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		thread_close(t);
		free(t);
		return err;
	}
	s->v[s->n++] = t;
	return 0;
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
		const struct perf_parse_cfg cfg = {
			.sample_type = s->sample_type, .sample_regs_user = s->regs_user,
		};
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
		handled += drain(s, t, h);
		if (t->gone) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, t->fd, NULL);
			thread_close(t);
		}
	}
	return handled;
}
