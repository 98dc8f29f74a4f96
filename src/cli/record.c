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

#include "pyrometer/cli.h"
#include "pyrometer/modmap.h"
#include "pyrometer/native.h"
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
#define MAX_NATIVE 512         /* native frames kept per sample */

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

	/* native stacks (native != NATIVE_NONE) */
	enum cli_native native;
	struct unwinder *uw;
	struct native_syms *syms;
	uint64_t native_pcs[MAX_NATIVE], native_sps[MAX_NATIVE];
	uint64_t uregs[UNWIND_NREGS];
	struct py_activations acts;
	int place[PY_MAX_ACTIVATIONS];
	struct native_sym nsym[MAX_NATIVE];
	unsigned char is_eval[MAX_NATIVE];

	/* counts for the report */
	uint64_t samples, lost, unreadable, no_python;
	uint64_t mismatches, native_truncated, unwind_failures, native_samples;

	uint32_t f_unknown, f_no_python, f_truncated, f_mismatch;
	struct py_raw_frame raw[PY_MAX_FRAMES];
	struct py_frame_info info[PY_MAX_FRAMES];
	uint32_t path[PY_MAX_FRAMES + MAX_NATIVE + 4];
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
	return profile_frame(r->prof, intern(r, name), intern(r, ""), 0, PROF_THREAD);
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

/* Innermost-first stack under construction; reversed into r->path. */
struct build {
	uint32_t v[PY_MAX_FRAMES + MAX_NATIVE + 2];
	size_t n;
};

static void put(struct build *b, uint32_t id)
{
	if (id != UINT32_MAX && b->n < sizeof(b->v) / sizeof(b->v[0]))
		b->v[b->n++] = id;
}

static uint32_t native_frame(struct recorder *r, int i)
{
	const struct native_sym *s = &r->nsym[i];
	return profile_frame(r->prof, s->name, s->module, 0, PROF_NATIVE);
}

/* Python frames [from, to) of the resolved info[], innermost first. */
static void put_python(struct recorder *r, struct build *b, int from, int to)
{
	for (int k = from; k < to; k++) {
		const struct py_frame_info *fi = &r->info[k];
		if (!fi->name)
			continue;   /* an interpreter shim */
		put(b, profile_frame(r->prof, fi->name, fi->file, fi->line, PROF_PYTHON));
	}
}

/* Is native frame i shown? auto hides the interpreter's own frames, the
 * anonymous trampolines between them (-X perf), and the process and thread
 * start-up frames outside the outermost Python frame (from index outer on). */
static int native_shown(const struct recorder *r, int i, int n, int outer)
{
	unsigned f = r->nsym[i].flags;
	if (r->native == NATIVE_ALL)
		return 1;
	if (f & NATIVE_INTERP)
		return 0;
	if (outer >= 0 && i > outer)
		return 0;
	if ((f & NATIVE_ANON) && i > 0 && i + 1 < n && (r->nsym[i - 1].flags & NATIVE_INTERP) &&
	    (r->nsym[i + 1].flags & NATIVE_INTERP))
		return 0;
	return 1;
}

/*
 * Merge the resolved Python frames (info[0..got), innermost first) with the
 * native stack of rs into b, innermost first: each activation's frames take
 * the place of its native frame, activations newer than the sample are left
 * out, and those beyond a cut native stack go rootward of it. Returns 0, or
 * -1 on a mismatch (the caller then writes both stacks apart).
 */
static int merge(struct recorder *r, const struct raw_sample *rs, int got, struct build *b)
{
	int n = rs->nnative;
	const struct py_activations *a = rs->acts;
	int nact = got > 0 && a ? a->n : 0;
	/* One info[] per raw frame: activation ends index info[] too. */
	if (nact && a->end[nact - 1] != got)
		return -1;
	if (nact) {
		struct py_native_stack ns = {
			.n = n, .sps = rs->native_sps,
			.complete = (rs->unwind_flags & UNWIND_STOP_MASK) == UNWIND_END,
			.stack = rs->stack, .stack_len = rs->stack_len, .is_eval = r->is_eval,
		};
		enum py_place_result pr = py_place_activations(r->rt, &r->acts, &ns, r->place);
		if (pr == PY_PLACE_MISMATCH)
			return -1;
	}
	/* The outermost native frame holding Python frames. */
	int outer = -1;
	for (int k = 0; k < nact; k++)
		if (r->place[k] >= 0)
			outer = r->place[k];

	int k = 0;   /* next activation, innermost first */
	while (k < nact && r->place[k] == PY_PLACE_NEWER)
		k++;
	for (int i = 0; i < n; i++) {
		if (k < nact && r->place[k] == i) {
			put_python(r, b, k ? a->end[k - 1] : 0, a->end[k]);
			if (r->native == NATIVE_ALL)
				put(b, native_frame(r, i));
			k++;
			continue;
		}
		if (native_shown(r, i, n, outer))
			put(b, native_frame(r, i));
	}
	/* Activations past the unwound stack: at the root. */
	for (; k < nact; k++)
		put_python(r, b, k ? a->end[k - 1] : 0, a->end[k]);
	return 0;
}

/* Consumer side of the seam: decode a raw sample and count it. */
static void aggregate(struct recorder *r, const struct raw_sample *rs)
{
	struct thread_info *t = thread_get(r, rs->tid);
	if (!t)
		return;
	r->samples++;
	static struct build bb;
	struct build *b = &bb;
	b->n = 0;

	int got = rs->py_status == RAW_PY_OK ? rs->nframes : -1;
	if (got > 0)
		got = py_frames_resolve_each(r->rt, rs->frames, got, r->info);
	int unreadable = rs->py_status == RAW_PY_UNREADABLE || got == -EFAULT;
	if (unreadable)
		r->unreadable++;
	else if (got <= 0 && r->rt)
		r->no_python++;

	int n = rs->nnative;
	if (n > 0) {
		r->native_samples++;
		unsigned stop = rs->unwind_flags & UNWIND_STOP_MASK;
		if (stop == UNWIND_TRUNCATED)
			r->native_truncated++;
		else if (stop == UNWIND_NO_INFO || stop == UNWIND_ERROR)
			r->unwind_failures++;
		for (int i = 0; i < n; i++) {
			native_syms_get(r->syms, unwinder_modmap(r->uw),
					i ? rs->native_pcs[i] - 1 : rs->native_pcs[i], &r->nsym[i]);
			r->is_eval[i] = (r->nsym[i].flags & NATIVE_EVAL) != 0;
		}
		if (merge(r, rs, got > 0 ? got : 0, b) < 0) {
			/* Both stacks, apart: Python above the marker, native below. */
			r->mismatches++;
			b->n = 0;
			for (int i = 0; i < n; i++)
				if (native_shown(r, i, n, -1))
					put(b, native_frame(r, i));
			put(b, r->f_mismatch);
			put_python(r, b, 0, got);
		}
		if (b->n == 0)
			put(b, unreadable ? r->f_unknown : r->f_no_python);
	} else if (unreadable) {
		put(b, r->f_unknown);
	} else if (got <= 0) {
		put(b, r->f_no_python);
	} else {
		put_python(r, b, 0, got);
	}
	if (got > 0 && (rs->py_flags & PY_STACK_TRUNCATED))
		put(b, r->f_truncated);
	put(b, t->frame);

	size_t m = 0;
	for (size_t i = b->n; i-- > 0;)
		r->path[m++] = b->v[i];
	profile_add(r->prof, r->path, m, 1);
}

static int read_target(void *arg, uint64_t addr, void *buf, size_t len)
{
	return target_read(arg, addr, buf, len);
}

/* Producer side: the kernel's sample, the thread's Python stack read from
 * user space right away, and its native stack unwound from the sample. */
static void on_sample(void *ctx, const struct perf_sample *s)
{
	struct recorder *r = ctx;
	if (s->pid != r->pid)
		return;
	struct raw_sample rs = {
		.time = s->time, .pid = s->pid, .tid = s->tid, .cpu = s->cpu,
		.period = s->period, .frames = r->raw,
	};
	if (r->rt) {
		struct py_activations *acts = r->uw ? &r->acts : NULL;
		int got = py_stack_read(r->rt, s->tid, r->raw, PY_MAX_FRAMES, &rs.py_flags, acts);
		if (got >= 0)
			rs.nframes = got;
		else
			rs.py_status = got == -ENOENT ? RAW_PY_NO_THREAD : RAW_PY_UNREADABLE;
		rs.acts = acts;
	} else {
		rs.py_status = RAW_PY_NO_THREAD;
	}
	if (r->uw && (s->has & PERF_HAS_REGS_USER) && s->nregs > 0 &&
	    unwind_regs_unpack(UNWIND_PERF_REGS_MASK, s->regs, s->nregs, r->uregs) == 0) {
		size_t len = s->stack ? (size_t)s->stack_dyn_size : 0;
		rs.nnative = unwind_sample(r->uw, r->uregs, UNWIND_NREGS, s->stack, len,
					   r->native_pcs, r->native_sps, MAX_NATIVE,
					   &rs.unwind_flags);
		rs.native_pcs = r->native_pcs;
		rs.native_sps = r->native_sps;
		rs.stack = s->stack;
		rs.stack_len = len;
	}
	aggregate(r, &rs);
}

static void on_mmap2(void *ctx, const struct perf_mmap *m)
{
	struct recorder *r = ctx;
	if (!r->uw || m->pid != r->pid || !(m->prot & PROT_EXEC))
		return;
	const char *path = m->filename && m->filename[0] == '/' ? m->filename : NULL;
	if (m->len)
		modmap_add(unwinder_modmap(r->uw), m->addr, m->addr + m->len, m->pgoff, path);
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

/* The unwinder, its module map from /proc/PID/maps, and the symbolizer. */
static int setup_native(struct recorder *r)
{
	char root[64];
	struct target_maps maps;

	snprintf(root, sizeof(root), "/proc/%d/root", (int)r->pid);
	r->uw = unwinder_new();
	if (!r->uw || unwinder_set_root(r->uw, root) < 0)
		return -ENOMEM;
	unwinder_set_reader(r->uw, read_target, &r->mem);
	r->syms = native_syms_new(&r->pool, root, r->rt ? py_module_path(r->rt) : NULL,
				  r->rt ? PY_EVAL_FUNCTION : NULL);
	if (!r->syms)
		return -ENOMEM;
	int e = target_maps_read(r->pid, &maps);
	if (e < 0)
		return e;
	e = modmap_add_maps(unwinder_modmap(r->uw), &maps);
	target_maps_release(&maps);
	return e < 0 ? e : 0;
}

static int open_events(struct recorder *r, const struct cli_opts *o)
{
	int e = perf_set_init(&r->perf, r->pid, o->hz);
	if (e == 0 && r->uw)
		e = perf_set_native(&r->perf, UNWIND_PERF_REGS_MASK, o->stack_size);
	if (e == 0)
		e = cover_threads(r);
	if (e == -EACCES || e == -EPERM)
		return cli_attach_error(r->pid, e, NULL);
	if (e < 0) {
		cli_error("cannot open a cpu-clock sampling event for process %d: %s",
			  (int)r->pid, strerror(-e));
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

static int write_output(struct recorder *r, const struct cli_opts *o,
			const struct writer *w)
{
	struct output_opts oo = { .threads = o->threads, .top = o->output ? 0 : 20 };
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
	r->native = o->native;
	if (o->native != NATIVE_NONE && setup_native(r) < 0) {
		cli_error("cannot read the memory map of process %d", (int)r->pid);
		goto out;
	}
	r->prof = profile_new();
	if (!r->prof) {
		cli_error("out of memory");
		goto out;
	}
	r->f_unknown = profile_frame(r->prof, intern(r, "[unknown]"), intern(r, ""), 0,
				     PROF_PSEUDO);
	r->f_no_python = profile_frame(r->prof, intern(r, "[no Python frames]"),
				       intern(r, ""), 0, PROF_PSEUDO);
	r->f_truncated = profile_frame(r->prof, intern(r, "[truncated]"), intern(r, ""), 0,
				       PROF_PSEUDO);
	r->f_mismatch = profile_frame(r->prof, intern(r, "[python-mismatch]"), intern(r, ""), 0,
				      PROF_PSEUDO);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	rc = open_events(r, o);
	if (rc != EXIT_OK)
		goto out;
	run_loop(r, o);

	rc = write_output(r, o, w);
	if (r->uw && r->native_samples) {
		const struct unwind_stats *us = unwinder_stats(r->uw);
		fprintf(stderr, "pyrometer: native stacks: %llu unwind failures, %llu truncated "
			"(stack copy %u bytes, see --stack-size), %llu Python/native mismatches, "
			"%llu modules\n", (unsigned long long)r->unwind_failures,
			(unsigned long long)r->native_truncated, o->stack_size,
			(unsigned long long)r->mismatches, (unsigned long long)us->modules);
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
	native_syms_free(r->syms);
	unwinder_free(r->uw);
	profile_free(r->prof);
	py_detach(r->rt);
	strpool_release(&r->pool);
	target_mem_release(&r->mem);
	free(r->threads);
	free(r);
	return rc;
}
