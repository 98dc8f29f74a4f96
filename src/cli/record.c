/*
 * record.c - `pyrometer record`: sample a process until told to stop, then
 * write the profile.
 *
 * Each sample names a thread; its Python stack is read from the target right
 * away (raw code/instruction pairs) and, unless --native=none, its native
 * stack is unwound from the sample's registers and stack copy. The two are
 * merged (each eval-loop call replaced by the Python frames it ran),
 * decoded through the caches, and added to the profile under a root frame
 * for the thread.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mixed.h"
#include "pyrometer/cli.h"
#include "pyrometer/counts.h"
#include "pyrometer/evspec.h"
#include "pyrometer/modmap.h"
#include "pyrometer/output.h"
#include "pyrometer/perf.h"
#include "pyrometer/profile.h"
#include "pyrometer/python.h"
#include "pyrometer/sample.h"
#include "pyrometer/strpool.h"
#include "pyrometer/target.h"
#include "pyrometer/unwind.h"

#define THREAD_RESCAN_NS (50 * 1000000ull)
#define MAX_TIDS 65536

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct thread_info {
	pid_t tid;                /* 0 = empty slot */
	uint32_t frame;           /* its root frame in the profile */
	char comm[17];
	struct counts_thread counts;  /* its group's previous read */
};

struct recorder {
	pid_t pid;
	struct target_mem mem;
	struct strpool pool;
	struct py_runtime *rt;
	struct profile *prof;
	struct perf_set perf;

	struct thread_info *threads;   /* open addressing on tid */
	size_t threads_cap, nthreads;

	struct mixed *mx;                /* the stack builder */

	struct ev_spec *ev;              /* the events, ev[0] sampling */
	size_t nev;
	int default_events;              /* -e not given: the default set */
	struct counts_cfg ccfg;
	struct counts_stats cstats;
	uint64_t vals[COUNTS_MAX];
	uint64_t ev_samples[COUNTS_MAX]; /* samples each event took */
	int user_only;                   /* clocks leave out kernel time (not allowed) */

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

static struct thread_info *thread_get(struct recorder *r, pid_t tid)
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
	target_comm(r->pid, tid, t->comm, sizeof(t->comm));
	t->frame = thread_frame(r, t);
	r->nthreads++;
	return t;
}

/* Consumer side of the seam: build the sample's stack and count it. */
static void aggregate(struct recorder *r, struct thread_info *t, const struct raw_sample *rs)
{
	r->samples++;
	struct mixed *m = r->mx;
	enum mixed_status st = mixed_build(m, rs);
	if (st == MIXED_UNREADABLE)
		r->unreadable++;
	else if (st == MIXED_NO_PYTHON && r->rt)
		r->no_python++;

	size_t n = 0;
	r->path[n++] = t->frame;
	for (int i = m->nout - 1; i >= 0; i--) {
		const struct mixed_frame *f = &m->out[i];
		uint32_t id = profile_frame(r->prof, f->name, f->file, f->line, f->kind);
		if (id == UINT32_MAX)
			return;
		r->path[n++] = id;
	}
	profile_add_counts(r->prof, r->path, n, rs->event == 0, rs->counts);
}

/* Producer side: the kernel's sample, the thread's Python stack read from
 * user space right away, and its native stack unwound from the sample. */
static void on_sample(void *ctx, const struct perf_sample *s)
{
	struct recorder *r = ctx;
	if (s->pid != r->pid)
		return;
	struct thread_info *t = thread_get(r, s->tid);
	if (!t)
		return;
	int ev = perf_set_event_of(&r->perf, s->id);
	if (ev < 0)
		return;
	r->ev_samples[ev]++;
	/* a sampler with a fixed period has no period in its samples */
	uint64_t period = s->period ? s->period : r->perf.ev[ev].attr.sample_period;
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
	mixed_read_python(r->mx, s->tid, sp, sp ? stack_len : 0, &rs);
	if (r->rt && s->time)
		mixed_note_delay(r->mx, now_ns() - s->time);
	if (sp)
		mixed_unwind(r->mx, r->regs, s->stack, stack_len, &rs);
	aggregate(r, t, &rs);
}

static void on_mmap2(void *ctx, const struct perf_mmap *m)
{
	struct recorder *r = ctx;
	if (!r->mx->uw || m->pid != r->pid || !(m->prot & PROT_EXEC))
		return;
	const char *path = m->filename && m->filename[0] == '/' ? m->filename : NULL;
	if (m->len)
		modmap_add(unwinder_modmap(r->mx->uw), m->addr, m->addr + m->len, m->pgoff, path);
}

static void on_fork(void *ctx, pid_t pid, pid_t tid)
{
	struct recorder *r = ctx;
	if (pid == r->pid && tid != pid) {
		perf_set_add_thread(&r->perf, tid);
		py_threads_changed(r->rt);
	}
}

static void on_exit_rec(void *ctx, pid_t pid, pid_t tid)
{
	struct recorder *r = ctx;
	if (pid == r->pid) {
		perf_set_thread_gone(&r->perf, tid);
		py_threads_changed(r->rt);
	}
}

static void on_comm(void *ctx, pid_t pid, pid_t tid, const char *comm)
{
	struct recorder *r = ctx;
	if (pid != r->pid)
		return;
	struct thread_info *t = thread_get(r, tid);
	if (t && strcmp(t->comm, comm) != 0) {
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
		t->frame = thread_frame(r, t);
	}
}

static void on_lost(void *ctx, uint64_t count)
{
	((struct recorder *)ctx)->lost += count;
}

/* Open an event for every thread not yet covered. Returns the first error
 * that is not "thread already gone". */
static int cover_threads(struct recorder *r)
{
	static pid_t tids[MAX_TIDS];
	int n = target_threads(r->pid, tids, MAX_TIDS);
	if (n < 0)
		return n;
	if (n > MAX_TIDS)
		n = MAX_TIDS;
	int err = 0;
	for (int i = 0; i < n; i++) {
		int e = perf_set_add_thread(&r->perf, tids[i]);
		if (e < 0 && e != -ESRCH && !err)
			err = e;
	}
	return err;
}

static int target_gone(int pidfd, pid_t pid)
{
	if (pidfd >= 0) {
		struct pollfd p = { pidfd, POLLIN, 0 };
		return poll(&p, 1, 0) > 0;
	}
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static void status_line(const struct recorder *r, double elapsed, uint64_t last_samples)
{
	fprintf(stderr, "\r\033[Kpyrometer: %.0f s, %llu samples/s, %llu samples, %llu lost",
		elapsed, (unsigned long long)(r->samples - last_samples),
		(unsigned long long)r->samples, (unsigned long long)r->lost);
	fflush(stderr);
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

/* Make the event list the perf set's; the counts' config follows. */
static int apply_events(struct recorder *r, const struct cli_opts *o)
{
	struct perf_ev_def defs[PERF_EVENTS_MAX];
	int roles[PERF_EVENTS_MAX];
	for (size_t i = 0; i < r->nev; i++) {
		event_def(r, i, o->hz, &defs[i]);
		roles[i] = (int)defs[i].role;
	}
	counts_cfg_init(&r->ccfg, roles, r->nev);
	return perf_set_events(&r->perf, defs, r->nev);
}

/* What replaces a sampling event that cannot be opened. */
static int cpu_clock_leader(struct recorder *r)
{
	struct ev_spec e;
	char err[256];
	if (ev_parse_one("cpu-clock", r->pid, &e, err, sizeof(err)) < 0)
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
 * Open the events on the process's main thread first: an event the kernel
 * refuses is named with the reason, and left out (with a notice) where the
 * events were not asked for explicitly or --fallback was given.
 */
static int open_first_thread(struct recorder *r, const struct cli_opts *o)
{
	int fallback = o->fallback || r->default_events;
	for (;;) {
		int e = apply_events(r, o);
		if (e == 0)
			e = perf_set_add_thread(&r->perf, r->pid);
		if (e == 0 || e == -ESRCH)
			return e;
		int k = r->perf.failed_event;
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
				  (int)r->pid, why,
				  fallback ? "" : " (--fallback leaves such events out)");
			return -ECANCELED;
		}
		fprintf(stderr, "pyrometer: %s unavailable: %s; %s\n", r->ev[k].name, why,
			k == 0 ? "sampling cpu-clock instead" : "not counted");
		if (k == 0) {
			drop_event(r, 0);
			if (cpu_clock_leader(r) < 0)
				return e;
		} else {
			drop_event(r, (size_t)k);
		}
	}
}

static int open_events(struct recorder *r, const struct cli_opts *o)
{
	int e = perf_set_init(&r->perf, r->pid, o->hz);
	if (e == 0 && r->mx->uw)
		e = perf_set_native(&r->perf, UNWIND_PERF_REGS_MASK, o->stack_size);
	if (e == 0)
		e = open_first_thread(r, o);
	if (e == -ECANCELED)
		return EXIT_CANNOT;
	if (e == 0 || e == -ESRCH)
		e = cover_threads(r);
	if (e == -EACCES || e == -EPERM)
		return cli_attach_error(r->pid, e, NULL);
	if (e < 0) {
		cli_error("cannot open a %s sampling event for process %d: %s",
			  r->nev ? r->ev[0].name : "cpu-clock", (int)r->pid, strerror(-e));
		return EXIT_CANNOT;
	}
	if (perf_set_threads(&r->perf) == 0) {
		cli_error("no process with PID %d", (int)r->pid);
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}

static void run_loop(struct recorder *r, const struct cli_opts *o)
{
	const struct perf_handlers h = {
		.ctx = r, .sample = on_sample, .fork = on_fork, .exit = on_exit_rec,
		.comm = on_comm, .lost = on_lost, .mmap2 = on_mmap2,
	};
	int pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
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
		int timeout = wake > now ? (int)((wake - now) / 1000000) + 1 : 0;
		perf_set_poll(&r->perf, timeout, &h);
		now = now_ns();
		if (now >= next_scan) {
			if (target_gone(pidfd, r->pid))
				break;
			cover_threads(r);
			next_scan = now + THREAD_RESCAN_NS;
		}
		if (status && now >= next_status) {
			status_line(r, (double)(now - start) / 1e9, status_samples);
			status_samples = r->samples;
			next_status += 1000000000ull;
		}
	}
	/* What the kernel already wrote is still ours to count. */
	perf_set_poll(&r->perf, 0, &h);
	if (status)
		fputs("\r\033[K", stderr);
	if (pidfd >= 0)
		close(pidfd);
}

#define DEFAULT_HW_EVENTS "cycles,instructions,cache-misses,branch-misses"
#define DEFAULT_SW_EVENTS "cpu-clock,page-faults,context-switches"

/*
 * The events: -e as given, or the default set - hardware where a PMU
 * answers, else software, saying once why. Returns EXIT_OK or the status
 * to exit with (the message printed).
 */
static int choose_events(struct recorder *r, const struct cli_opts *o)
{
	char err[512];
	const char *list = o->events;
	if (!list) {
		r->default_events = 1;
		list = DEFAULT_HW_EVENTS;
	}
	int n = ev_parse_list(list, r->pid, &r->ev, err, sizeof(err));
	if (n >= 0 && !o->events) {
		int e = ev_probe(&r->ev[0]);
		if (e < 0) {
			char why[256];
			ev_open_reason(&r->ev[0], e, why, sizeof(why));
			fprintf(stderr, "pyrometer: hardware counters unavailable: %s; sampling "
				"cpu-clock and counting page-faults,context-switches instead\n",
				why);
			free(r->ev);
			r->ev = NULL;
			n = ev_parse_list(DEFAULT_SW_EVENTS, r->pid, &r->ev, err, sizeof(err));
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
	return EXIT_OK;
}

/* --sort and --weight name events (or metrics) of this run. */
static int check_keys(struct recorder *r, const struct cli_opts *o, struct output_opts *oo)
{
	const char *names[PERF_EVENTS_MAX];
	int roles[PERF_EVENTS_MAX];
	char list[PERF_EVENTS_MAX * (EV_NAME_MAX + 2)] = "";
	for (size_t i = 0; i < r->nev; i++) {
		names[i] = r->ev[i].name;
		roles[i] = (int)r->ev[i].role;
		if (i)
			strcat(list, ", ");
		strcat(list, r->ev[i].name);
	}
	if (o->sort && output_sort_key(o->sort, names, roles, r->nev, oo) < 0) {
		cli_error("--sort: '%s' is neither an event of this run (%s) nor a metric "
			  "its events give (ipc, cpi, mpki, cache-miss%%, branch-miss%%, "
			  "faults/ksample)", o->sort, list);
		return EXIT_USAGE;
	}
	if (o->weight) {
		for (size_t i = 0; i < r->nev; i++)
			if (!strcmp(o->weight, names[i]))
				oo->weight_event = (int)i + 1;
		if (!oo->weight_event) {
			cli_error("--weight: '%s' is not an event of this run (%s)", o->weight,
				  list);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

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

static int write_output(struct recorder *r, const struct cli_opts *o,
			const struct writer *w, struct output_opts *oo_in)
{
	struct output_opts oo = *oo_in;
	oo.threads = o->threads;
	oo.top = o->output ? 0 : 20;
	int e;
	if (o->output)
		e = output_write_file(w, o->output, r->prof, &oo);
	else
		e = writer_table.write(stdout, r->prof, &oo);
	if (e < 0) {
		cli_error("cannot write %s: %s", o->output ? o->output : "the table",
			  strerror(-e));
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}

int cmd_record(const struct cli_opts *o)
{
	const struct writer *w = NULL;
	if (o->output) {
		w = output_for_path(o->output);
		if (!w) {
			cli_error("unknown output format for %s: use .csv, .txt or .folded "
				  "(see 'pyrometer record --help')", o->output);
			return EXIT_USAGE;
		}
		int e = output_check_path(o->output);
		if (e < 0) {
			cli_error("cannot write %s: %s", o->output, strerror(-e));
			return EXIT_CANNOT;
		}
	}
	int e = target_check(o->pid);
	if (e < 0)
		return cli_attach_error(o->pid, e, NULL);

	struct recorder *r = calloc(1, sizeof(*r));
	if (!r) {
		cli_error("out of memory");
		return EXIT_CANNOT;
	}
	int rc = EXIT_CANNOT;
	r->pid = o->pid;
	r->perf.epfd = -1;
	target_mem_init(&r->mem, o->pid);
	strpool_init(&r->pool);
	char err[512] = "";
	e = py_attach(o->pid, &r->mem, &r->pool, &r->rt, err, sizeof(err));
	if (e == -ESRCH && o->native != NATIVE_NONE) {
		/* Not Python: a native profile is still a profile. */
		fprintf(stderr, "pyrometer: %s; recording native stacks only\n", err);
		r->rt = NULL;
	} else if (e < 0) {
		rc = cli_attach_error(o->pid, e, err);
		goto out;
	}
	r->mx = malloc(sizeof(*r->mx));
	if (!r->mx) {
		cli_error("out of memory");
		goto out;
	}
	e = mixed_init(r->mx, o->pid, r->rt, &r->mem, &r->pool, o->native);
	if (e < 0) {
		cli_error("cannot read the memory map of process %d: %s", (int)r->pid,
			  strerror(-e));
		goto out;
	}
	rc = choose_events(r, o);
	if (rc != EXIT_OK)
		goto out;
	struct output_opts oo = { 0 };
	rc = check_keys(r, o, &oo);
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_CANNOT;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	rc = open_events(r, o);
	if (rc != EXIT_OK)
		goto out;
	/* The events that opened are the profile's columns. */
	struct prof_event pev[PROF_EVENTS_MAX];
	for (size_t i = 0; i < r->nev; i++)
		pev[i] = (struct prof_event){ intern(r, r->ev[i].name), (int)r->ev[i].role };
	rc = check_keys(r, o, &oo);   /* fallback may have left a key's event out */
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_CANNOT;
	r->prof = profile_new_events(pev, r->nev);
	if (!r->prof) {
		cli_error("out of memory");
		goto out;
	}
	run_loop(r, o);

	rc = write_output(r, o, w, &oo);
	events_line(r);
	if (r->mx->uw && r->mx->native_samples) {
		char line[512];
		mixed_stats_line(r->mx, o->stack_size, line, sizeof(line));
		fprintf(stderr, "pyrometer: %s\n", line);
	}
	/* The summary stays the last line: scripts read it. */
	if (r->no_python)
		fprintf(stderr, "pyrometer: %llu samples in threads running no Python code\n",
			(unsigned long long)r->no_python);
	fprintf(stderr, "pyrometer: %llu samples, %llu lost, %llu without a Python stack, "
		"%zu threads\n", (unsigned long long)r->samples, (unsigned long long)r->lost,
		(unsigned long long)r->unreadable, r->nthreads);
out:
	perf_set_release(&r->perf);
	if (r->mx)
		mixed_release(r->mx);
	free(r->mx);
	profile_free(r->prof);
	py_detach(r->rt);
	strpool_release(&r->pool);
	target_mem_release(&r->mem);
	free(r->threads);
	free(r->ev);
	free(r);
	return rc;
}
