/*
 * record.c - `pyrometer record`: sample a process (or a command it starts,
 * and with --subprocesses the Python processes that one starts) until told
 * to stop, then write the outputs.
 *
 * Each sample names a thread; its Python stack is read from the target right
 * away (raw code/instruction pairs) and, unless --native=none, its native
 * stack is unwound from the sample's registers and stack copy. The two are
 * merged (each eval-loop call replaced by the Python frames it ran),
 * decoded through the caches, and added to the profile under a root frame
 * for the thread (and one for the process, with --subprocesses).
 */
#include <errno.h>
#include <dirent.h>
#include <linux/types.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../bpf/pystack_abi.h"
#include "launch.h"
#include "mixed.h"
#include "outsel.h"
#include "recorder.h"
#include "pyrometer/bpfstack.h"
#include "pyrometer/cli.h"
#include "pyrometer/counts.h"
#include "pyrometer/evspec.h"
#include "pyrometer/modmap.h"
#include "pyrometer/output.h"
#include "pyrometer/perf.h"
#include "pyrometer/profile.h"
#include "pyrometer/python.h"
#include "pyrometer/run.h"
#include "pyrometer/sample.h"
#include "pyrometer/strpool.h"
#include "pyrometer/target.h"
#include "pyrometer/tui.h"
#include "pyrometer/unwind.h"

#define THREAD_RESCAN_NS (50 * 1000000ull)
#define MAX_TIDS 65536
#define MAX_PROCS 64
/* A process's Python runtime appears some milliseconds after its exec:
 * looked for every 10 ms, for 3 s. */
#define ATTACH_TRIES 300
#define ATTACH_EVERY_NS (10 * 1000000ull)
#define BPF_DRAIN_NS (10 * 1000000ull)
/* Why a sample's Python stack came from user space with the BPF backend:
 * a record's pystack_status (1-5), or these. */
#define FB_NO_RECORD 0       /* no record matched the sample */
#define FB_NOT_WALKED 6      /* the walker does not know the process's layout */
#define FB_REASONS 7

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct recorder;

/* One profiled process: the target, or a Python process it started. */
struct proc {
	struct recorder *r;
	pid_t pid;
	struct target_mem mem;
	struct py_runtime *rt;       /* NULL: not (yet) known as Python */
	struct perf_set perf;
	struct mixed *mx;            /* the stack builder */
	uint32_t frame;              /* its root frame (--subprocesses), else UINT32_MAX */
	int pidfd;
	int gone;                    /* exited: its buffers drained and closed */
	int looking;                 /* its runtime is still being looked for */
	int attach_tries;
	uint64_t relisted;           /* when its threads were last listed again */
	char python[32];             /* its version, "" when not Python */
	int bpf_ok;                  /* the kernel walker knows its layout */
	uint64_t bpf_gen;            /* its thread listing the walker has */
	char target[4096];           /* its command line */
};

struct thread_info {
	pid_t tid;                /* 0 = empty slot */
	uint32_t frame;           /* its root frame in the profile */
	char comm[17];
	uint64_t samples;             /* of the first event */
	struct counts_thread counts;  /* its group's previous read */
};

struct recorder {
	const struct cli_opts *o;
	struct strpool pool;
	struct profile *prof;

	struct proc *procs[MAX_PROCS];   /* procs[0]: the target */
	size_t nprocs;
	pid_t candidates[MAX_PROCS];     /* --subprocesses: children not yet known as Python */
	int cand_tries[MAX_PROCS];
	size_t ncandidates;
	int epfd;                        /* every process's event set, when several */

	struct thread_info *threads;     /* open addressing on tid */
	size_t threads_cap, nthreads;

	struct ev_spec *ev;              /* the events, ev[0] sampling */
	size_t nev;
	int default_events;              /* -e not given: the default set */
	struct counts_cfg ccfg;
	struct counts_stats cstats;
	uint64_t vals[COUNTS_MAX];
	uint64_t ev_samples[COUNTS_MAX]; /* samples each event took */
	int user_only;                   /* clocks leave out kernel time (not allowed) */

	struct profile *window;          /* top: the samples since the last reset */
	char source[200];                /* where the events come from, for top */
	int (*tick)(void *ctx, struct recorder *r, uint64_t now);
	void *tick_ctx;
	uint64_t next_tick;
	int keep_samples;                /* the run keeps every sample (.pyro) */
	int live;                        /* top: stderr belongs to the screen */
	uint64_t last_total[COUNTS_MAX]; /* top: event totals at the last snapshot */
	uint64_t last_samples, last_snap_ns, window_start_ns;

	struct run run;                  /* metadata and every sample, for .pyro */
	uint64_t start_ns;               /* CLOCK_MONOTONIC at the start */
	struct launch launch;            /* -- CMD: the child */
	int launched;

	/* the BPF backend (NULL: the user-space one) */
	struct bpfstack *bpf;
	char backend_note[400];          /* which backend runs, and why */
	uint64_t bpf_exact;              /* Python stacks read at the sample */
	uint64_t bpf_fallback[FB_REASONS]; /* read from user space instead: by
					      pystack_status, or FB_NO_RECORD,
					      FB_NOT_WALKED */
	uint64_t bpf_deep;               /* completed from user space (deep stacks) */

	/* counts for the report */
	uint64_t samples, lost, unreadable, no_python;

	uint32_t path[PY_MAX_FRAMES + MIXED_MAX_NATIVE + 8];
	uint64_t regs[UNWIND_NREGS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *intern(struct recorder *r, const char *s)
{
	return strpool_intern(&r->pool, s, strlen(s));
}

static uint32_t thread_frame(struct recorder *r, const struct thread_info *t)
{
	char name[64];
	if (t->comm[0])
		snprintf(name, sizeof(name), "thread %d (%s)", (int)t->tid, t->comm);
	else
		snprintf(name, sizeof(name), "thread %d", (int)t->tid);
	return profile_frame(r->prof, intern(r, name), intern(r, ""), (int)t->tid, PROF_THREAD);
}

static struct thread_info *thread_get(struct recorder *r, const struct proc *p, pid_t tid)
{
	if ((r->nthreads + 1) * 2 > r->threads_cap) {
		size_t cap = r->threads_cap ? r->threads_cap * 2 : 64;
		struct thread_info *nv = calloc(cap, sizeof(*nv));
		if (!nv)
			return NULL;
		for (size_t i = 0; i < r->threads_cap; i++) {
			if (!r->threads[i].tid)
				continue;
			size_t j = (size_t)r->threads[i].tid & (cap - 1);
			while (nv[j].tid)
				j = (j + 1) & (cap - 1);
			nv[j] = r->threads[i];
		}
		free(r->threads);
		r->threads = nv;
		r->threads_cap = cap;
	}
	size_t mask = r->threads_cap - 1;
	size_t i = (size_t)tid & mask;
	for (; r->threads[i].tid; i = (i + 1) & mask)
		if (r->threads[i].tid == tid)
			return &r->threads[i];
	struct thread_info *t = &r->threads[i];
	t->tid = tid;
	target_comm(p->pid, tid, t->comm, sizeof(t->comm));
	t->frame = thread_frame(r, t);
	r->nthreads++;
	return t;
}

/* Consumer side of the seam: build the sample's stack and count it. */
static void aggregate(struct proc *p, struct thread_info *t, const struct raw_sample *rs)
{
	struct recorder *r = p->r;
	r->samples++;
	struct mixed *m = p->mx;
	enum mixed_status st = mixed_build(m, rs);
	if (st == MIXED_UNREADABLE)
		r->unreadable++;
	else if (st == MIXED_NO_PYTHON && p->rt)
		r->no_python++;

	size_t n = 0;
	if (p->frame != UINT32_MAX)
		r->path[n++] = p->frame;
	r->path[n++] = t->frame;
	for (int i = m->nout - 1; i >= 0; i--) {
		const struct mixed_frame *f = &m->out[i];
		uint32_t id = profile_frame(r->prof, f->name, f->file, f->line, f->kind);
		if (id == UINT32_MAX)
			return;
		r->path[n++] = id;
	}
	uint32_t leaf = profile_add_counts(r->prof, r->path, n, rs->event == 0, rs->counts);
	if (leaf != UINT32_MAX && r->keep_samples)
		run_add_sample(&r->run, rs->time > r->start_ns ? rs->time - r->start_ns : 0,
			       rs->tid, leaf, (uint32_t)rs->event, rs->counts);
	if (r->window) {
		/* the window interns its own frames */
		for (size_t i = 0; i < n; i++) {
			const struct prof_frame *f = profile_frame_get(r->prof, r->path[i]);
			r->path[i] = profile_frame(r->window, f->name, f->file, f->line, f->kind);
			if (r->path[i] == UINT32_MAX)
				return;
		}
		profile_add_counts(r->window, r->path, n, rs->event == 0, rs->counts);
	}
}

/* The BPF backend's thread map for p: the threads its runtime listed last. */
static void bpf_threads_sync(struct proc *p)
{
	static pid_t tids[MAX_TIDS];
	static struct pystack_thread ent[MAX_TIDS];
	int n = py_bpf_threads(p->rt, tids, ent, MAX_TIDS);   /* may list them again */
	bpfstack_set_threads(p->r->bpf, p->pid, tids, ent, n);
	p->bpf_gen = py_threads_generation(p->rt);
}

/* p's runtime is known: tell the kernel walker its layout and threads. */
static void bpf_proc_start(struct proc *p)
{
	struct recorder *r = p->r;
	struct pystack_layout L;
	char err[256];
	if (!r->bpf || !p->rt)
		return;
	if (py_bpf_layout(p->rt, &L, err, sizeof(err)) < 0) {
		if (!r->live)
			fprintf(stderr, "pyrometer: %s; its stacks are read from user space\n", err);
		return;
	}
	if (bpfstack_add_process(r->bpf, p->pid, &L) < 0)
		return;
	p->bpf_ok = 1;
	if (p->mx)
		p->mx->bpf = 1;
	bpf_threads_sync(p);
}

/* The Python part of sample s from the BPF backend's record of it, read at
 * the sample; from user space when there is none. Returns 1 for the former. */
static int python_at_sample(struct proc *p, const struct perf_sample *s, int ev, uint64_t sp,
			    size_t stack_len, struct raw_sample *rs)
{
	struct recorder *r = p->r;
	const struct pystack_record *rec = NULL;
	if (p->bpf_ok) {
		uint64_t count = (s->has & PERF_HAS_READ) && s->read.nr ? s->read.v[0].value : 0;
		int before = perf_set_bpf_kind(&p->perf, ev) != PERF_BPF_OVERFLOW;
		rec = bpfstack_take(r->bpf, s->tid, count, s->time, before);
	}
	if (rec && rec->status == PYSTACK_OK) {
		r->bpf_exact++;
		r->bpf_deep += (uint64_t)mixed_python_from_record(p->mx, rec, sp, stack_len, rs);
		return 1;
	}
	r->bpf_fallback[!p->bpf_ok ? FB_NOT_WALKED
		       : rec && rec->status < FB_NOT_WALKED ? rec->status : FB_NO_RECORD]++;
	mixed_read_python(p->mx, s->tid, sp, stack_len, rs);
	return 0;
}

/* Producer side: the kernel's sample, the thread's Python stack (read by
 * the BPF program at the sample, or from user space right away), and its
 * native stack unwound from the sample. */
static void on_sample(void *ctx, const struct perf_sample *s)
{
	struct proc *p = ctx;
	struct recorder *r = p->r;
	if (s->pid != p->pid)
		return;
	struct thread_info *t = thread_get(r, p, s->tid);
	if (!t)
		return;
	int ev = perf_set_event_of(&p->perf, s->id);
	if (ev < 0)
		return;
	r->ev_samples[ev]++;
	if (ev == 0)
		t->samples++;
	/* a sampler with a fixed period has no period in its samples */
	uint64_t period = s->period ? s->period : p->perf.ev[ev].attr.sample_period;
	counts_sample(&r->ccfg, &t->counts, ev, period,
		      (s->has & PERF_HAS_READ) ? &s->read : NULL, r->vals, &r->cstats);
	struct raw_sample rs = {
		.time = s->time, .pid = s->pid, .tid = s->tid, .cpu = s->cpu,
		.period = period, .event = ev, .counts = r->vals,
	};
	/* The sampled SP bounds the thread's C stack for the Python reader. */
	uint64_t sp = 0;
	size_t stack_len = s->stack ? (size_t)s->stack_dyn_size : 0;
	if ((s->has & PERF_HAS_REGS_USER) && s->nregs > 0 &&
	    unwind_regs_unpack(UNWIND_PERF_REGS_MASK, s->regs, s->nregs, r->regs) == 0)
		sp = r->regs[PERF_REG_X86_SP];
	int exact = 0;
	if (r->bpf && p->rt) {
		exact = python_at_sample(p, s, ev, sp, sp ? stack_len : 0, &rs);
		if (!exact && p->bpf_ok && py_threads_generation(p->rt) != p->bpf_gen)
			bpf_threads_sync(p);
	} else {
		mixed_read_python(p->mx, s->tid, sp, sp ? stack_len : 0, &rs);
	}
	uint64_t now = now_ns();
	if (p->rt && s->time && !exact)
		mixed_note_delay(p->mx, now - s->time);
	/* A thread without a thread state may have one since the threads were
	 * last listed (a forked child rebinds its main thread after fork):
	 * list them again, at most every 100 ms. */
	if (p->rt && rs.py_status != RAW_PY_OK && now - p->relisted > 100000000ull) {
		py_threads_changed(p->rt);
		p->relisted = now;
	}
	if (sp)
		mixed_unwind(p->mx, r->regs, s->stack, stack_len, &rs);
	aggregate(p, t, &rs);
}

static void on_mmap2(void *ctx, const struct perf_mmap *m)
{
	struct proc *p = ctx;
	if (!p->mx->uw || m->pid != p->pid || !(m->prot & PROT_EXEC))
		return;
	const char *path = m->filename && m->filename[0] == '/' ? m->filename : NULL;
	if (m->len)
		modmap_add(unwinder_modmap(p->mx->uw), m->addr, m->addr + m->len, m->pgoff, path);
}

static void on_fork(void *ctx, pid_t pid, pid_t tid)
{
	struct proc *p = ctx;
	if (pid == p->pid && tid != pid) {
		perf_set_add_thread(&p->perf, tid);
		py_threads_changed(p->rt);
	}
}

static void on_exit_rec(void *ctx, pid_t pid, pid_t tid)
{
	struct proc *p = ctx;
	if (pid == p->pid) {
		perf_set_thread_gone(&p->perf, tid);
		py_threads_changed(p->rt);
		if (p->r->bpf)
			bpfstack_thread_gone(p->r->bpf, tid);
	}
}

static void on_comm(void *ctx, pid_t pid, pid_t tid, const char *comm)
{
	struct proc *p = ctx;
	if (pid != p->pid)
		return;
	struct thread_info *t = thread_get(p->r, p, tid);
	if (t && strcmp(t->comm, comm) != 0) {
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
		t->frame = thread_frame(p->r, t);
	}
}

static void on_lost(void *ctx, uint64_t count)
{
	((struct proc *)ctx)->r->lost += count;
}

/* Has thread tid of process pid ended (or is it ending)? */
static int thread_gone(pid_t pid, pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* the state follows the command's closing parenthesis */
	const char *rp = strrchr(buf, ')');
	return !rp || rp[1] != ' ' || rp[2] == 'X' || rp[2] == 'Z';
}

/* Open an event for every thread of p not yet covered. Returns the first
 * error that is not "thread already gone". */
static int cover_threads(struct proc *p)
{
	static pid_t tids[MAX_TIDS];
	int n = target_threads(p->pid, tids, MAX_TIDS);
	if (n < 0)
		return n;
	if (n > MAX_TIDS)
		n = MAX_TIDS;
	int err = 0;
	for (int i = 0; i < n; i++) {
		int e = perf_set_add_thread(&p->perf, tids[i]);
		/* A thread that ended while its events were being set up fails
		 * in more ways than ESRCH (ENODEV from a step on its dead
		 * events): it is simply gone. One that is still there gets a
		 * second try before its error counts. */
		if (e < 0 && e != -ESRCH && !thread_gone(p->pid, tids[i])) {
			e = perf_set_add_thread(&p->perf, tids[i]);
			if (e < 0 && e != -ESRCH && !thread_gone(p->pid, tids[i]) && !err)
				err = e;
		}
	}
	return err;
}

static int proc_exited(const struct proc *p)
{
	if (p->pidfd >= 0) {
		struct pollfd pf = { p->pidfd, POLLIN, 0 };
		return poll(&pf, 1, 0) > 0;
	}
	return kill(p->pid, 0) < 0 && errno == ESRCH;
}

static void status_line(const struct recorder *r, double elapsed, uint64_t last_samples)
{
	fprintf(stderr, "\r\033[Kpyrometer: %.0f s, %llu samples/s, %llu samples, %llu lost",
		elapsed, (unsigned long long)(r->samples - last_samples),
		(unsigned long long)r->samples, (unsigned long long)r->lost);
	fflush(stderr);
}

/* ---------------------------------------------------------------- events */

#define DEFAULT_HW_EVENTS "cycles,instructions,cache-misses,branch-misses"
#define DEFAULT_SW_EVENTS "cpu-clock,page-faults,context-switches"

/*
 * The events: -e as given, or the default set - hardware where a PMU
 * answers, else software, saying once why. Returns EXIT_OK or the status
 * to exit with (the message printed).
 */
static int choose_events(struct recorder *r, const struct cli_opts *o, pid_t pid)
{
	char err[512];
	const char *list = o->events;
	if (!list) {
		r->default_events = 1;
		list = DEFAULT_HW_EVENTS;
	}
	int n = ev_parse_list(list, pid, &r->ev, err, sizeof(err));
	if (n >= 0 && !o->events) {
		int e = ev_probe(&r->ev[0]);
		if (e < 0) {
			char why[256];
			ev_open_reason(&r->ev[0], e, why, sizeof(why));
			if (!r->live)
				fprintf(stderr, "pyrometer: hardware counters unavailable: %s; "
					"sampling cpu-clock and counting "
					"page-faults,context-switches instead\n", why);
			snprintf(r->source, sizeof(r->source), "software fallback: %.170s", why);
			free(r->ev);
			r->ev = NULL;
			n = ev_parse_list(DEFAULT_SW_EVENTS, pid, &r->ev, err, sizeof(err));
		}
	}
	if (n < 0) {
		cli_error("%s", err);
		return n == -EINVAL ? EXIT_USAGE : EXIT_CANNOT;
	}
	if ((size_t)n > PERF_EVENTS_MAX) {
		cli_error("%d events given; at most %d can be sampled together", n,
			  PERF_EVENTS_MAX);
		return EXIT_USAGE;
	}
	r->nev = (size_t)n;
	if (!r->source[0])
		snprintf(r->source, sizeof(r->source), "%s",
			 r->ev[0].kind == EV_HARDWARE ? "hardware PMU" : "software events");
	return EXIT_OK;
}

/* The perf side of event i: who samples, how often. */
static void event_def(const struct recorder *r, size_t i, unsigned hz, struct perf_ev_def *d)
{
	const struct ev_spec *e = &r->ev[i];
	memset(d, 0, sizeof(*d));
	d->attr = e->attr;
	d->path = e->kind == EV_UPROBE ? e->path : NULL;
	d->role = i == 0 ? PERF_EV_LEADER : e->period ? PERF_EV_SOLO : PERF_EV_MEMBER;
	if (d->role == PERF_EV_MEMBER)
		return;
	/* A thread's CPU time includes what the kernel spends on its behalf
	 * (page faults, system calls): sampled where allowed, with the user
	 * registers and stack of the Python code that caused it. */
	if ((e->role == EVR_CPU_CLOCK || e->role == EVR_TASK_CLOCK) && !r->user_only)
		d->attr.exclude_kernel = 0;
	if (e->period) {
		d->attr.sample_period = e->period;
	} else if (e->role == EVR_CPU_CLOCK || e->role == EVR_TASK_CLOCK) {
		d->attr.sample_period = 1000000000ull / hz;   /* ns */
	} else {
		d->attr.freq = 1;
		d->attr.sample_freq = hz;
	}
}

static void drop_event(struct recorder *r, size_t i)
{
	memmove(&r->ev[i], &r->ev[i + 1], (r->nev - i - 1) * sizeof(*r->ev));
	r->nev--;
}

/* Make the event list p's perf set's; the counts' config follows. */
static int apply_events(struct recorder *r, struct proc *p)
{
	struct perf_ev_def defs[PERF_EVENTS_MAX];
	int roles[PERF_EVENTS_MAX];
	for (size_t i = 0; i < r->nev; i++) {
		event_def(r, i, r->o->hz, &defs[i]);
		roles[i] = (int)defs[i].role;
	}
	counts_cfg_init(&r->ccfg, roles, r->nev);
	return perf_set_events(&p->perf, defs, r->nev);
}

/* What replaces a sampling event that cannot be opened. */
static int cpu_clock_leader(struct recorder *r, pid_t pid)
{
	struct ev_spec e;
	char err[256];
	if (ev_parse_one("cpu-clock", pid, &e, err, sizeof(err)) < 0)
		return -1;
	for (size_t i = 0; i < r->nev; i++)
		if (r->ev[i].role == EVR_CPU_CLOCK)
			drop_event(r, i--);
	memmove(&r->ev[1], &r->ev[0], r->nev * sizeof(*r->ev));
	r->ev[0] = e;
	r->nev++;
	return 0;
}

/*
 * Open the events on the target's main thread first: an event the kernel
 * refuses is named with the reason, and left out (with a notice) where the
 * events were not asked for explicitly or --fallback was given.
 */
static int open_first_thread(struct recorder *r, struct proc *p)
{
	int fallback = r->o->fallback || r->default_events;
	for (;;) {
		int e = apply_events(r, p);
		if (e == 0)
			e = perf_set_add_thread(&p->perf, p->pid);
		if (e == 0 || e == -ESRCH)
			return e;
		int k = p->perf.failed_event;
		if (k < 0 || (size_t)k >= r->nev)
			return e;
		if ((e == -EACCES || e == -EPERM) && !r->user_only &&
		    (r->ev[k].role == EVR_CPU_CLOCK || r->ev[k].role == EVR_TASK_CLOCK)) {
			r->user_only = 1;   /* user time only, as paranoid allows */
			continue;
		}
		char why[256];
		ev_open_reason(&r->ev[k], e, why, sizeof(why));
		if (!fallback || (k == 0 && r->ev[0].role == EVR_CPU_CLOCK)) {
			if ((e == -EACCES || e == -EPERM) && k == 0 &&
			    r->ev[0].role == EVR_CPU_CLOCK)
				return e;   /* not allowed to profile at all */
			cli_error("cannot open event %s for process %d: %s%s", r->ev[k].name,
				  (int)p->pid, why,
				  fallback ? "" : " (--fallback leaves such events out)");
			return -ECANCELED;
		}
		fprintf(stderr, "pyrometer: %s unavailable: %s; %s\n", r->ev[k].name, why,
			k == 0 ? "sampling cpu-clock instead" : "not counted");
		if (k == 0) {
			drop_event(r, 0);
			if (cpu_clock_leader(r, p->pid) < 0)
				return e;
		} else {
			drop_event(r, (size_t)k);
		}
	}
}

static int perf_prepare(struct recorder *r, struct proc *p)
{
	int e = perf_set_init(&p->perf, p->pid, r->o->hz);
	for (int k = 0; r->bpf && k < 3; k++)
		p->perf.bpf_prog[k] = bpfstack_prog_fd(r->bpf, k);
	if (e == 0 && r->o->native != NATIVE_NONE)
		e = perf_set_native(&p->perf, UNWIND_PERF_REGS_MASK, r->o->stack_size);
	/* read in batches, not at every sample: twice the room */
	if (e == 0 && r->bpf)
		p->perf.data_pages *= 2;
	return e;
}

static int open_events(struct recorder *r, struct proc *p)
{
	int e = perf_prepare(r, p);
	p->perf.on_exec = r->launched;
	if (e == 0)
		e = open_first_thread(r, p);
	if (e == -ECANCELED)
		return EXIT_CANNOT;
	if (e == 0 || e == -ESRCH)
		e = cover_threads(p);
	if (e == -EACCES || e == -EPERM)
		return cli_attach_error(p->pid, e, NULL);
	if (e < 0) {
		cli_error("cannot open a %s sampling event for process %d: %s",
			  r->nev ? r->ev[0].name : "cpu-clock", (int)p->pid, strerror(-e));
		return EXIT_CANNOT;
	}
	if (perf_set_threads(&p->perf) == 0) {
		cli_error("no process with PID %d", (int)p->pid);
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}

/* ---------------------------------------------------------------- processes */

static struct proc *proc_new(struct recorder *r, pid_t pid)
{
	if (r->nprocs == MAX_PROCS)
		return NULL;
	struct proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->r = r;
	p->pid = pid;
	p->perf.epfd = -1;
	p->pidfd = -1;
	p->frame = UINT32_MAX;
	target_mem_init(&p->mem, pid);
	r->procs[r->nprocs++] = p;
	return p;
}

static void proc_free(struct proc *p)
{
	perf_set_release(&p->perf);
	if (p->mx)
		mixed_release(p->mx);
	free(p->mx);
	py_detach(p->rt);
	target_mem_release(&p->mem);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static int proc_mixed(struct recorder *r, struct proc *p)
{
	p->mx = calloc(1, sizeof(*p->mx));
	if (!p->mx)
		return -ENOMEM;
	return mixed_init(p->mx, p->pid, p->rt, &p->mem, &r->pool, r->o->native);
}

/* Its root frame with --subprocesses: "process PID (command)". */
static void proc_frame(struct recorder *r, struct proc *p)
{
	if (!r->o->subprocesses || !r->prof)
		return;
	char comm[64], name[128];
	target_comm(p->pid, p->pid, comm, sizeof(comm));
	snprintf(name, sizeof(name), "process %d (%s)", (int)p->pid, comm);
	p->frame = profile_frame(r->prof, intern(r, name), intern(r, ""), (int)p->pid,
				 PROF_PROCESS);
}

static void try_attach(struct proc *p)
{
	struct recorder *r = p->r;
	if (p->rt || p->attach_tries >= ATTACH_TRIES)
		return;
	char err[512];
	struct py_runtime *rt;
	int e = py_attach(p->pid, &p->mem, &r->pool, &rt, err, sizeof(err));
	if (e == 0) {
		p->rt = rt;
		p->looking = 0;
		mixed_set_runtime(p->mx, rt);
		snprintf(p->python, sizeof(p->python), "%s", py_version_string(rt));
		bpf_proc_start(p);
		return;
	}
	if (++p->attach_tries == ATTACH_TRIES) {
		p->looking = 0;
		if (r->o->native != NATIVE_NONE && !r->live)
			fprintf(stderr, "pyrometer: %s; recording native stacks only\n", err);
	}
}

/* The parent of process pid, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *close_paren = strrchr(buf, ')');
	int ppid;
	if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

static int known(const struct recorder *r, pid_t pid)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i]->pid == pid)
			return 1;
	for (size_t i = 0; i < r->ncandidates; i++)
		if (r->candidates[i] == pid)
			return 1;
	return 0;
}

/*
 * A child that may be Python: joins when its runtime is found (its events,
 * its stack builder, its root frame). Returns 1 when it joined (or can
 * never), 0 when it is to be looked at again.
 */
static int try_adopt(struct recorder *r, pid_t pid)
{
	if (r->nprocs == MAX_PROCS)
		return 1;
	struct proc *p = proc_new(r, pid);
	if (!p)
		return 1;
	char err[512];
	/* the runtime keeps a pointer to p->mem: it must not move */
	if (py_attach(pid, &p->mem, &r->pool, &p->rt, err, sizeof(err)) < 0) {
		r->nprocs--;
		proc_free(p);
		return 0;
	}
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	snprintf(p->python, sizeof(p->python), "%s", py_version_string(p->rt));
	target_cmdline(pid, p->target, sizeof(p->target));
	int e = proc_mixed(r, p);
	if (e == 0)
		e = perf_prepare(r, p);
	if (e == 0)
		e = apply_events(r, p);
	if (e == 0)
		e = cover_threads(p);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
	if (e == 0 && perf_set_threads(&p->perf) > 0 &&
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, p->perf.epfd, &ev) == 0) {
		proc_frame(r, p);
		bpf_proc_start(p);
		return 1;
	}
	p->gone = 1;   /* gone already, or not allowed: keep what it gave */
	perf_set_release(&p->perf);
	return 1;
}

/* --subprocesses: processes whose parent is followed, checked for Python. */
static void scan_children(struct recorder *r)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || known(r, (pid_t)pid))
			continue;
		pid_t ppid = parent_of((pid_t)pid);
		if (ppid <= 0 || !known(r, ppid))
			continue;
		if (r->ncandidates < MAX_PROCS) {
			r->cand_tries[r->ncandidates] = 0;
			r->candidates[r->ncandidates++] = (pid_t)pid;
		}
	}
	closedir(d);
	/* A candidate becomes a process once its Python runtime is found; one
	 * that exits is dropped; one that is still not Python after
	 * ATTACH_TRIES looks stays listed (unlooked-at) so that its own
	 * children are found. */
	for (size_t i = 0; i < r->ncandidates; i++) {
		pid_t pid = r->candidates[i];
		int drop = kill(pid, 0) < 0 && errno == ESRCH;
		if (!drop && r->cand_tries[i] < ATTACH_TRIES) {
			if (try_adopt(r, pid))
				drop = 1;
			else
				r->cand_tries[i]++;
		}
		if (drop) {
			r->ncandidates--;
			r->candidates[i] = r->candidates[r->ncandidates];
			r->cand_tries[i] = r->cand_tries[r->ncandidates];
			i--;
		}
	}
}

/* ---------------------------------------------------------------- the loop */

static void poll_procs(struct recorder *r, int timeout)
{
	if (r->nprocs == 1) {
		struct proc *p = r->procs[0];
		const struct perf_handlers h = {
			.ctx = p, .sample = on_sample, .fork = on_fork, .exit = on_exit_rec,
			.comm = on_comm, .lost = on_lost, .mmap2 = on_mmap2,
		};
		perf_set_poll(&p->perf, timeout, &h);
		return;
	}
	struct epoll_event evs[MAX_PROCS];
	epoll_wait(r->epfd, evs, MAX_PROCS, timeout);
	for (size_t i = 0; i < r->nprocs; i++) {
		struct proc *p = r->procs[i];
		if (p->gone)
			continue;
		const struct perf_handlers h = {
			.ctx = p, .sample = on_sample, .fork = on_fork, .exit = on_exit_rec,
			.comm = on_comm, .lost = on_lost, .mmap2 = on_mmap2,
		};
		perf_set_poll(&p->perf, 0, &h);
	}
}

static void run_loop(struct recorder *r, const struct cli_opts *o)
{
	struct proc *main_proc = r->procs[0];
	int status = o->output && isatty(STDERR_FILENO);
	uint64_t start = now_ns(), next_scan = start + THREAD_RESCAN_NS;
	uint64_t next_status = start + 1000000000ull, status_samples = 0;
	uint64_t deadline = o->duration > 0 ? start + (uint64_t)(o->duration * 1e9) : 0;

	while (!stop_requested) {
		uint64_t now = now_ns();
		if (deadline && now >= deadline)
			break;
		uint64_t wake = next_scan;
		if (deadline && deadline < wake)
			wake = deadline;
		if (r->tick && r->next_tick < wake)
			wake = r->next_tick > now ? r->next_tick : now;
		int looking = main_proc->looking;
		if (looking && now + ATTACH_EVERY_NS < wake)
			wake = now + ATTACH_EVERY_NS;
		/* With BPF the buffers wake us only when a quarter full: look at
		 * them often enough that new threads get their events soon. */
		if (r->bpf && now + BPF_DRAIN_NS < wake)
			wake = now + BPF_DRAIN_NS;
		int timeout = wake > now ? (int)((wake - now) / 1000000) + 1 : 0;
		poll_procs(r, timeout);
		if (looking)
			try_attach(main_proc);
		now = now_ns();
		if (now >= next_scan) {
			if (proc_exited(main_proc))
				break;
			for (size_t i = 0; i < r->nprocs; i++) {
				struct proc *p = r->procs[i];
				if (p->gone)
					continue;
				if (i > 0 && proc_exited(p)) {
					const struct perf_handlers h = {
						.ctx = p, .sample = on_sample, .lost = on_lost,
						.mmap2 = on_mmap2,
					};
					perf_set_poll(&p->perf, 0, &h);
					epoll_ctl(r->epfd, EPOLL_CTL_DEL, p->perf.epfd, NULL);
					perf_set_release(&p->perf);
					if (r->bpf && p->bpf_ok)
						bpfstack_remove_process(r->bpf, p->pid);
					p->gone = 1;
					continue;
				}
				cover_threads(p);
			}
			if (o->subprocesses)
				scan_children(r);
			next_scan = now + THREAD_RESCAN_NS;
		}
		if (status && now >= next_status) {
			status_line(r, (double)(now - start) / 1e9, status_samples);
			status_samples = r->samples;
			next_status += 1000000000ull;
		}
		if (r->tick && now >= r->next_tick && r->tick(r->tick_ctx, r, now))
			break;
	}
	/* What the kernel already wrote is still ours to count. */
	poll_procs(r, 0);
	if (status)
		fputs("\r\033[K", stderr);
}

/* ---------------------------------------------------------------- the end */

static void events_line(const struct recorder *r)
{
	char cell[64];
	fputs("pyrometer: events:", stderr);
	for (size_t i = 0; i < r->nev; i++) {
		uint64_t v = r->cstats.total[i];
		if (r->ev[i].role == EVR_CPU_CLOCK || r->ev[i].role == EVR_TASK_CLOCK)
			snprintf(cell, sizeof(cell), "%.3f s", (double)v / 1e9);
		else
			snprintf(cell, sizeof(cell), "%llu", (unsigned long long)v);
		fprintf(stderr, "%s %s %s", i ? "," : "", r->ev[i].name, cell);
		if (r->ccfg.role[i] == PERF_EV_SOLO)
			fprintf(stderr, " (%llu samples, every %llu)",
				(unsigned long long)r->ev_samples[i],
				(unsigned long long)r->ev[i].period);
	}
	/* The group runs as one: its members share the time it ran. */
	if (r->ccfg.nmembers && r->cstats.enabled &&
	    r->cstats.running * 1000 < r->cstats.enabled * 995) {
		fputs("; multiplexed:", stderr);
		for (size_t k = 0; k < r->ccfg.nmembers; k++)
			fprintf(stderr, "%s %s", k ? "," : "", r->ev[r->ccfg.members[k]].name);
		fprintf(stderr, " counted %.1f%% of the time (scaled)",
			100.0 * (double)r->cstats.running / (double)r->cstats.enabled);
	}
	if (r->cstats.bad_reads)
		fprintf(stderr, "; %llu group reads did not match the group",
			(unsigned long long)r->cstats.bad_reads);
	fputc('\n', stderr);
}

/* The run's metadata, as it stands at the end. */
static void fill_run(struct recorder *r, const struct cli_opts *o, uint64_t end_ns)
{
	struct run *run = &r->run;
	const struct proc *p = r->procs[0];
	char buf[4096];
	struct utsname u;
	run->version = intern(r, PYROMETER_VERSION);
	buf[0] = '\0';
	for (int i = 0; i < o->argc; i++) {
		size_t len = strlen(buf);
		snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "", o->argv[i]);
	}
	run->cmdline = intern(r, buf);
	run->pid = p->pid;
	run->target = intern(r, p->target);
	run->python = intern(r, p->python);
	if (uname(&u) == 0) {
		run->host = intern(r, u.nodename);
		run->kernel = intern(r, u.release);
	} else {
		run->host = run->kernel = intern(r, "");
	}
	run->duration_ns = end_ns > r->start_ns ? end_ns - r->start_ns : 0;
	run->hz = o->hz;
	run->native = (int)o->native;
	run->backend = intern(r, r->bpf ? "bpf" : "user");
	run->at_sample = r->bpf_exact;
	for (size_t i = 0; i < r->nev && i < PROF_EVENTS_MAX; i++) {
		const struct ev_spec *e = &r->ev[i];
		struct run_event *re = &run->ev[i];
		re->name = intern(r, e->name);
		re->fqname = intern(r, e->fqname);
		re->role = (int)e->role;
		re->how = r->ccfg.role[i];
		re->period = p->perf.ev[i].attr.freq ? 0 : p->perf.ev[i].attr.sample_period;
		re->total = r->cstats.total[i];
		re->samples = r->ev_samples[i];
		re->running_pct = 100.0;
		if (re->how == PERF_EV_MEMBER && r->cstats.enabled)
			re->running_pct = 100.0 * (double)r->cstats.running / (double)r->cstats.enabled;
	}
	run->samples = r->samples;
	run->lost = r->lost;
	run->unreadable = r->unreadable;
	run->no_python = r->no_python;
	run->unwind_failures = run->truncated = run->mismatches = 0;
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct mixed *m = r->procs[i]->mx;
		if (!m)
			continue;
		run->unwind_failures += m->unwind_failures;
		run->truncated += m->truncated;
		run->mismatches += m->mismatches;
	}
	free(run->threads);
	run->threads = calloc(r->nthreads ? r->nthreads : 1, sizeof(*run->threads));
	run->nthreads = 0;
	for (size_t i = 0; run->threads && i < r->threads_cap; i++) {
		const struct thread_info *t = &r->threads[i];
		if (t->tid)
			run->threads[run->nthreads++] = (struct run_thread){
				t->tid, intern(r, t->comm), t->samples };
	}
}

/* "backend: bpf, N of M Python stacks read at the sample (...)" */
static void backend_line(const struct recorder *r)
{
	if (!r->bpf)
		return;
	static const char *const why[FB_REASONS] = {
		[FB_NO_RECORD] = "no record",
		[PYSTACK_NO_PROC] = "process not known",
		[PYSTACK_NO_THREAD] = "thread not yet known",
		[PYSTACK_STALE_THREAD] = "thread state reused",
		[PYSTACK_READ_FAILED] = "thread state unreadable",
		[PYSTACK_TOP_INVALID] = "frame being set up",
		[FB_NOT_WALKED] = "version not walked",
	};
	uint64_t fb = 0;
	for (int i = 0; i < FB_REASONS; i++)
		fb += r->bpf_fallback[i];
	struct bpfstack_stats st;
	bpfstack_get_stats(r->bpf, &st);
	fprintf(stderr, "pyrometer: backend: bpf, %llu of %llu Python stacks read at the sample",
		(unsigned long long)r->bpf_exact, (unsigned long long)(r->bpf_exact + fb));
	if (fb) {
		fputs("; from user space:", stderr);
		const char *sep = " ";
		for (int i = 0; i < FB_REASONS; i++) {
			if (!r->bpf_fallback[i])
				continue;
			fprintf(stderr, "%s%llu %s", sep, (unsigned long long)r->bpf_fallback[i], why[i]);
			sep = ", ";
		}
	}
	if (r->bpf_deep)
		fprintf(stderr, "; %llu deeper than %d frames, completed from user space",
			(unsigned long long)r->bpf_deep, PYSTACK_MAX_FRAMES);
	if (st.kernel_drops)
		fprintf(stderr, "; %llu records lost in the kernel (ring full)",
			(unsigned long long)st.kernel_drops);
	fputc('\n', stderr);
}

static void print_stats(struct recorder *r, const struct cli_opts *o)
{
	events_line(r);
	backend_line(r);
	const struct mixed *m = r->procs[0]->mx;
	if (m && m->uw && m->native_samples) {
		char line[512];
		mixed_stats_line(m, o->stack_size, line, sizeof(line));
		fprintf(stderr, "pyrometer: %s\n", line);
	}
	if (r->nprocs > 1)
		fprintf(stderr, "pyrometer: %zu Python processes followed\n", r->nprocs);
	/* The summary stays the last line: scripts read it. */
	if (r->no_python)
		fprintf(stderr, "pyrometer: %llu samples in threads running no Python code\n",
			(unsigned long long)r->no_python);
	fprintf(stderr, "pyrometer: %llu samples, %llu lost, %llu without a Python stack, "
		"%zu threads\n", (unsigned long long)r->samples, (unsigned long long)r->lost,
		(unsigned long long)r->unreadable, r->nthreads);
}

/* ---------------------------------------------------------------- record */

/* Attach to the target of -p: its Python runtime, or a native profile. */
static int attach_target(struct recorder *r, struct proc *p)
{
	char err[512] = "";
	int e = py_attach(p->pid, &p->mem, &r->pool, &p->rt, err, sizeof(err));
	if (e == -ESRCH && r->o->native != NATIVE_NONE) {
		/* Not Python: a native profile is still a profile. */
		fprintf(stderr, "pyrometer: %s; recording native stacks only\n", err);
		p->rt = NULL;
	} else if (e < 0) {
		return cli_attach_error(p->pid, e, err);
	}
	if (p->rt)
		snprintf(p->python, sizeof(p->python), "%s", py_version_string(p->rt));
	target_cmdline(p->pid, p->target, sizeof(p->target));
	return EXIT_OK;
}

/*
 * --backend: load the BPF program unless told not to. auto falls back to
 * the user-space reader with a notice; bpf insists. The choice is said once.
 */
static int choose_backend(struct recorder *r, const struct cli_opts *o)
{
	char err[256];
	if (o->backend == BACKEND_USER) {
		snprintf(r->backend_note, sizeof(r->backend_note),
			 "user (Python stacks read from user space after each sample, as asked)");
	} else if (bpfstack_open(&r->bpf, err, sizeof(err)) == 0) {
		snprintf(r->backend_note, sizeof(r->backend_note),
			 "bpf (Python stacks read by a BPF program at each sample)");
	} else if (o->backend == BACKEND_BPF) {
		cli_error("%s; --backend user reads Python stacks from user space instead", err);
		return EXIT_CANNOT;
	} else {
		snprintf(r->backend_note, sizeof(r->backend_note),
			 "user (Python stacks read from user space after each sample: %s)", err);
	}
	return EXIT_OK;
}

/* -- CMD: the command, forked and waiting at its gate. */
static int start_command(struct recorder *r, const struct cli_opts *o)
{
	/* under top the screen is the terminal's: the command's output goes away */
	int e = launch_fork(o->cmd_argv, r->live, &r->launch);
	if (e < 0) {
		cli_error("cannot start %s: %s", o->cmd_argv[0], strerror(-e));
		return EXIT_CANNOT;
	}
	r->launched = 1;
	return EXIT_OK;
}

/* Open the command's gate; its runtime is looked for from now on. */
static int release_command(struct recorder *r, struct proc *p, const struct cli_opts *o)
{
	int e = launch_go(&r->launch);
	p->perf.on_exec = 0;   /* threads it starts count at once */
	if (e < 0) {
		cli_error("cannot run %s: %s", o->cmd_argv[0], strerror(-e));
		int st = launch_wait(&r->launch);
		r->launched = 0;
		return st == 127 || st == 126 ? st : EXIT_CANNOT;
	}
	p->looking = 1;
	target_cmdline(p->pid, p->target, sizeof(p->target));
	return EXIT_OK;
}

static void event_names(const struct recorder *r, const char **names, int *roles)
{
	for (size_t i = 0; i < r->nev; i++) {
		names[i] = r->ev[i].name;
		roles[i] = (int)r->ev[i].role;
	}
}

/* Free everything; the launched command is waited for (its status is
 * returned when rc is EXIT_OK). */
static int recorder_free(struct recorder *r, int rc)
{
	for (size_t i = 0; i < r->nprocs; i++)
		perf_set_release(&r->procs[i]->perf);
	bpfstack_close(r->bpf);
	r->bpf = NULL;
	if (r->launched && r->launch.gate >= 0) {
		/* Never released from its gate: it exits without running. */
		launch_abort(&r->launch);
	} else if (r->launched) {
		/* The command's status is ours, the output's failure aside. */
		int st = launch_wait(&r->launch);
		if (rc == EXIT_OK)
			rc = st;
	} else if (r->launch.pid > 0) {
		launch_abort(&r->launch);
	}
	for (size_t i = 0; i < r->nprocs; i++)
		proc_free(r->procs[i]);
	profile_free(r->prof);
	profile_free(r->window);
	run_release(&r->run);
	strpool_release(&r->pool);
	free(r->threads);
	free(r->ev);
	if (r->epfd >= 0)
		close(r->epfd);
	free(r);
	return rc;
}

int recorder_start(const struct cli_opts *o, int live, struct output_opts *oo,
		   struct recorder **out)
{
	*out = NULL;
	if (!o->cmd_argv) {
		int e = target_check(o->pid);
		if (e < 0)
			return cli_attach_error(o->pid, e, NULL);
	}
	struct recorder *r = calloc(1, sizeof(*r));
	if (!r) {
		cli_error("out of memory");
		return EXIT_CANNOT;
	}
	int rc = EXIT_CANNOT;
	r->o = o;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->launch.pid = -1;
	r->launch.gate = r->launch.err = -1;
	r->keep_samples = !live;
	r->live = live;
	run_init(&r->run);
	strpool_init(&r->pool);
	const char *names[PERF_EVENTS_MAX];
	int roles[PERF_EVENTS_MAX];
	if (o->cmd_argv && (rc = start_command(r, o)) != EXIT_OK)
		goto fail;
	rc = EXIT_CANNOT;
	struct proc *p = proc_new(r, r->launched ? r->launch.pid : o->pid);
	if (!p || r->epfd < 0) {
		cli_error("out of memory");
		goto fail;
	}
	if (!r->launched && (rc = attach_target(r, p)) != EXIT_OK)
		goto fail;
	rc = choose_backend(r, o);
	if (rc != EXIT_OK)
		goto fail;
	rc = choose_events(r, o, p->pid);
	if (rc != EXIT_OK)
		goto fail;
	event_names(r, names, roles);
	rc = outsel_keys(o, names, roles, r->nev, oo);
	if (rc != EXIT_OK)
		goto fail;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	rc = open_events(r, p);
	if (rc != EXIT_OK)
		goto fail;
	/* said once sampling has started: an error stays the only line */
	if (!live)
		fprintf(stderr, "pyrometer: backend: %s\n", r->backend_note);
	if (r->launched && (rc = release_command(r, p, o)) != EXIT_OK)
		goto fail;
	rc = EXIT_CANNOT;
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
	if (proc_mixed(r, p) < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, p->perf.epfd, &ev) < 0) {
		cli_error("cannot read the memory map of process %d", (int)p->pid);
		goto fail;
	}
	bpf_proc_start(p);
	/* The events that opened are the profile's columns. */
	struct prof_event pev[PROF_EVENTS_MAX];
	event_names(r, names, roles);
	for (size_t i = 0; i < r->nev; i++)
		pev[i] = (struct prof_event){ intern(r, r->ev[i].name), (int)r->ev[i].role };
	*oo = (struct output_opts){ 0 };
	rc = outsel_keys(o, names, roles, r->nev, oo);  /* --fallback may have left one out */
	if (rc != EXIT_OK)
		goto fail;
	rc = EXIT_CANNOT;
	r->prof = profile_new_events(pev, r->nev);
	if (live)
		r->window = profile_new_events(pev, r->nev);
	r->run.nev = r->nev;
	if (!r->prof || (live && !r->window)) {
		cli_error("out of memory");
		goto fail;
	}
	proc_frame(r, p);
	r->start_ns = now_ns();
	r->run.start_unix_ns = (uint64_t)time(NULL) * 1000000000ull;
	*out = r;
	return EXIT_OK;
fail:
	return recorder_free(r, rc);
}

void recorder_run(struct recorder *r, int (*tick)(void *ctx, struct recorder *r, uint64_t now),
		  void *ctx)
{
	r->tick = tick;
	r->tick_ctx = ctx;
	r->next_tick = now_ns();
	run_loop(r, r->o);
}

void recorder_next_tick(struct recorder *r, uint64_t at)
{
	r->next_tick = at;
}

int recorder_end(struct recorder *r, const struct writer *const *w, int nout,
		 struct output_opts *oo)
{
	const struct cli_opts *o = r->o;
	fill_run(r, o, now_ns());
	oo->threads = o->threads;
	oo->top = o->output || w[0] ? 0 : 20;
	oo->run = &r->run;
	int rc = EXIT_OK;
	for (int i = 0; i < nout; i++) {
		int e = outsel_write(o->noutputs ? o->outputs[i] : NULL, w[i], r->prof, oo);
		if (e != EXIT_OK)
			rc = e;
	}
	if (nout)
		print_stats(r, o);
	return recorder_free(r, rc);
}

int cmd_record(const struct cli_opts *o)
{
	const struct writer *w[8] = { NULL };
	int nout = o->noutputs ? o->noutputs : 1;
	for (int i = 0; i < nout; i++) {
		int rc = outsel_writer(o, o->noutputs ? o->outputs[i] : NULL, &w[i]);
		if (rc != EXIT_OK)
			return rc;
	}
	struct recorder *r;
	struct output_opts oo = { 0 };
	int rc = recorder_start(o, 0, &oo, &r);
	if (rc != EXIT_OK)
		return rc;
	recorder_run(r, NULL, NULL);
	return recorder_end(r, w, nout, &oo);
}

/* ---------------------------------------------------------------- top */

void recorder_reset_window(struct recorder *r)
{
	struct prof_event pev[PROF_EVENTS_MAX];
	size_t nev = profile_nevents(r->prof);
	for (size_t k = 0; k < nev; k++)
		pev[k] = *profile_event(r->prof, k);
	struct profile *w = profile_new_events(pev, nev);
	if (!w)
		return;
	profile_free(r->window);
	r->window = w;
	r->window_start_ns = now_ns();
}

static int thread_running(pid_t pid, pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'R';
}

struct tui_snapshot *recorder_snapshot(struct recorder *r, int exited, int status)
{
	struct tui_snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	const struct proc *p = r->procs[0];
	uint64_t now = now_ns();
	s->pid = p->pid;
	snprintf(s->target, sizeof(s->target), "%.255s", p->target);
	snprintf(s->python, sizeof(s->python), "%s", p->python);
	s->threads = calloc(r->nthreads ? r->nthreads : 1, sizeof(*s->threads));
	for (size_t i = 0; s->threads && i < r->threads_cap; i++) {
		const struct thread_info *t = &r->threads[i];
		if (!t->tid)
			continue;
		struct tui_thread *u = &s->threads[s->nthreads++];
		u->tid = t->tid;
		snprintf(u->comm, sizeof(u->comm), "%s", t->comm);
		u->running = !exited && thread_running(p->pid, t->tid);
	}
	s->hz = r->o->hz;
	double dt = r->last_snap_ns && now > r->last_snap_ns ?
		    (double)(now - r->last_snap_ns) / 1e9 : (double)(now - r->start_ns) / 1e9;
	uint64_t fresh = r->samples - r->last_samples;
	unsigned running = 0;
	for (size_t i = 0; i < s->nthreads; i++)
		running += s->threads[i].running;
	s->hz_achieved = dt > 0 ? (double)fresh / dt / (running ? running : 1) : 0;
	s->samples_window = profile_samples(r->window);
	s->samples_total = profile_samples(r->prof);
	s->lost = r->lost;
	s->window_seconds = (double)(now - (r->window_start_ns ? r->window_start_ns :
					    r->start_ns)) / 1e9;
	s->total_seconds = (double)(now - r->start_ns) / 1e9;
	snprintf(s->source, sizeof(s->source), "%.150s; stacks: %s", r->source,
		 r->bpf ? "bpf (at the sample)" : "user space");
	s->nev = r->nev < TUI_EVENTS_MAX ? r->nev : TUI_EVENTS_MAX;
	for (size_t k = 0; k < s->nev; k++) {
		snprintf(s->ev_names[k], sizeof(s->ev_names[k]), "%.63s", r->ev[k].name);
		s->ev_roles[k] = (int)r->ev[k].role;
		s->ev_interval[k] = r->cstats.total[k] - r->last_total[k];
		r->last_total[k] = r->cstats.total[k];
	}
	s->samples_interval = fresh;
	s->interval_seconds = dt;
	r->last_samples = r->samples;
	r->last_snap_ns = now;
	s->exited = exited;
	if (exited) {
		if (status >= 0)
			snprintf(s->exit_note, sizeof(s->exit_note), "process %d exited (status %d)",
				 (int)p->pid, status);
		else
			snprintf(s->exit_note, sizeof(s->exit_note), "process %d exited", (int)p->pid);
	}
	/* Copies: the sampler goes on adding to its own. */
	s->window = profile_transform(r->window, 0);
	s->all = profile_transform(r->prof, 0);
	if (!s->threads || !s->window || !s->all) {
		tui_snapshot_free(s);
		return NULL;
	}
	return s;
}

int recorder_target_exited(struct recorder *r, int *status)
{
	*status = -1;
	if (!proc_exited(r->procs[0]))
		return 0;
	if (r->launched) {
		*status = launch_wait(&r->launch);
		r->launched = 0;
	}
	return 1;
}

int recorder_finish_live(struct recorder *r, int rc)
{
	/* A launched command that still runs when the view is closed goes on
	 * running: no waiting for it. */
	if (r->launched && r->nprocs && !proc_exited(r->procs[0]))
		r->launched = 0;
	return recorder_free(r, rc);
}

int recorder_interrupted(void)
{
	return stop_requested != 0;
}
