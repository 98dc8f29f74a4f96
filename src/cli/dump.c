/*
 * dump.c - `pyrometer dump`: every thread's Python stack, once; with
 * --native, its native stack merged in.
 *
 * A native stack needs the thread's registers. A thread blocked in a system
 * call publishes its stack pointer and PC in /proc/PID/task/TID/syscall;
 * its stack is then read from the target directly (the other registers are
 * unknown, which ends a walk that needs them). A running thread is sampled
 * once with a short cpu-clock event, like record does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mixed.h"
#include "pyrometer/cli.h"
#include "pyrometer/perf.h"
#include "pyrometer/profile.h"
#include "pyrometer/output.h"
#include "pyrometer/python.h"
#include "pyrometer/strpool.h"
#include "pyrometer/target.h"

#define MAX_DUMP_THREADS 4096

static int by_tid(const void *a, const void *b)
{
	const struct py_thread *x = a, *y = b;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* What one running thread's perf sample left us. */
struct snap {
	pid_t tid;
	int have;
	uint64_t regs[UNWIND_NREGS];
	uint8_t stack[CLI_STACK_SIZE_DEFAULT];
	size_t len;
};

static void on_snap(void *ctx, const struct perf_sample *s)
{
	struct snap *sn = ctx;
	if (sn->have || s->tid != sn->tid || !(s->has & PERF_HAS_REGS_USER) ||
	    unwind_regs_unpack(UNWIND_PERF_REGS_MASK, s->regs, s->nregs, sn->regs) < 0)
		return;
	sn->len = s->stack ? (size_t)s->stack_dyn_size : 0;
	if (sn->len > sizeof(sn->stack))
		sn->len = sizeof(sn->stack);
	if (sn->len)
		memcpy(sn->stack, s->stack, sn->len);
	sn->have = 1;
}

/* One sample of a running thread, within 100 ms of its CPU time. */
static int sample_running(pid_t pid, struct snap *sn)
{
	struct perf_set ps;
	const struct perf_handlers h = { .ctx = sn, .sample = on_snap };
	int e = perf_set_init(&ps, pid, 10000);

	if (e == 0)
		e = perf_set_native(&ps, UNWIND_PERF_REGS_MASK, CLI_STACK_SIZE_DEFAULT);
	if (e == 0)
		e = perf_set_add_thread(&ps, sn->tid);
	for (int i = 0; e == 0 && i < 20 && !sn->have; i++)
		perf_set_poll(&ps, 5, &h);
	perf_set_release(&ps);
	return e < 0 ? e : (sn->have ? 0 : -EAGAIN);
}

/* The registers and stack of thread tid, one way or the other. */
static int native_snapshot(struct target_mem *mem, pid_t pid, struct snap *sn)
{
	char path[96], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)sn->tid);
	FILE *f = fopen(path, "r");
	size_t got = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[got] = '\0';
	if (strncmp(buf, "running", 7) == 0 || got == 0)
		return sample_running(pid, sn);
	/* "NR ARG1 ... ARG6 SP PC" (or "-1 SP PC" outside a system call):
	 * the last two fields. */
	uint64_t v[9];
	int nv = 0;
	for (char *p = buf, *end; nv < 9; p = end) {
		long long x = strtoll(p, &end, 0);
		if (end == p)
			break;
		v[nv++] = (uint64_t)x;
	}
	if (nv < 3)
		return -EINVAL;
	memset(sn->regs, 0, sizeof(sn->regs));
	sn->regs[PERF_REG_X86_SP] = v[nv - 2];
	sn->regs[PERF_REG_X86_IP] = v[nv - 1];
	ssize_t n = target_read_partial(mem, v[nv - 2], sn->stack, sizeof(sn->stack));
	sn->len = n > 0 ? (size_t)n & ~(size_t)7 : 0;
	sn->have = 1;
	return 0;
}

static void print_frames(const struct mixed *m)
{
	char esc[4096], file[4096];
	for (int i = 0; i < m->nout; i++) {
		const struct mixed_frame *f = &m->out[i];
		esc_term(esc, sizeof(esc), f->name);
		esc_term(file, sizeof(file), f->file);
		if (f->kind == PROF_PYTHON)
			printf("    %s (%s:%d)\n", esc, file, f->line < 0 ? 0 : f->line);
		else if (f->kind == PROF_NATIVE && f->file[0])
			printf("    %s [%s]\n", esc, file);
		else
			printf("    %s\n", esc);
	}
}

static void print_thread_native(struct mixed *m, struct target_mem *mem, pid_t pid,
				const struct py_thread *t)
{
	static struct snap sn;
	struct raw_sample rs = { .pid = pid, .tid = t->tid };

	memset(&sn, 0, offsetof(struct snap, stack));
	sn.tid = t->tid;
	int e = t->tid > 0 ? native_snapshot(mem, pid, &sn) : -ENOENT;
	if (t->tid > 0)
		mixed_read_python(m, t->tid, e == 0 ? sn.regs[PERF_REG_X86_SP] : 0,
				  e == 0 ? sn.len : 0, &rs);
	else
		rs.py_status = RAW_PY_NO_THREAD;
	if (e == 0)
		mixed_unwind(m, sn.regs, sn.stack, sn.len, &rs);
	mixed_build(m, &rs);
	print_frames(m);
	if (e < 0)
		printf("    [no native stack: %s]\n", e == -EAGAIN ? "the thread was not sampled"
								: strerror(-e));
}

static void print_thread(struct py_runtime *rt, pid_t pid, const struct py_thread *t,
			 struct py_raw_frame *raw, struct py_frame_info *info, struct mixed *m,
			 struct target_mem *mem)
{
	char comm[17], esc[4096], file[4096];
	target_comm(pid, t->tid, comm, sizeof(comm));
	esc_term(esc, sizeof(esc), comm);
	printf("Thread %d \"%s\"%s\n", (int)t->tid, esc, t->holds_gil ? " holds the GIL" : "");
	if (m->uw) {
		print_thread_native(m, mem, pid, t);
		return;
	}

	unsigned flags = 0;
	int n = t->tid > 0 ? py_stack_read(rt, t->tid, raw, PY_MAX_FRAMES, &flags, NULL) : -ENOENT;
	if (n > 0)
		n = py_frames_resolve(rt, raw, n, info);
	if (n < 0) {
		printf("    [unknown] (%s)\n", n == -ENOENT ? "thread id not known"
							   : "stack could not be read");
		return;
	}
	if (n == 0)
		printf("    [no Python frames]\n");
	for (int i = 0; i < n; i++) {
		esc_term(esc, sizeof(esc), info[i].name);
		esc_term(file, sizeof(file), info[i].file);
		printf("    %s (%s:%d)\n", esc, file, info[i].line < 0 ? 0 : info[i].line);
	}
	if (flags & PY_STACK_TRUNCATED)
		printf("    [truncated]\n");
}

int cmd_dump(const struct cli_opts *o)
{
	int e = target_check(o->pid);
	if (e < 0)
		return cli_attach_error(o->pid, e, NULL);

	struct target_mem mem;
	struct strpool pool;
	struct py_runtime *rt = NULL;
	struct mixed *m = NULL;
	struct py_thread *threads = calloc(MAX_DUMP_THREADS, sizeof(*threads));
	struct py_raw_frame *raw = calloc(PY_MAX_FRAMES, sizeof(*raw));
	struct py_frame_info *info = calloc(PY_MAX_FRAMES, sizeof(*info));
	char err[512] = "";
	int rc = EXIT_CANNOT;

	target_mem_init(&mem, o->pid);
	strpool_init(&pool);
	if (!threads || !raw || !info) {
		cli_error("out of memory");
		goto out;
	}
	e = py_attach(o->pid, &mem, &pool, &rt, err, sizeof(err));
	if (e < 0) {
		rc = cli_attach_error(o->pid, e, err);
		goto out;
	}
	m = malloc(sizeof(*m));
	if (!m || (e = mixed_init(m, o->pid, rt, &mem, &pool, o->native)) < 0) {
		cli_error("cannot read the memory map of process %d: %s", (int)o->pid,
			  strerror(m ? -e : ENOMEM));
		goto out;
	}
	int n = py_threads(rt, threads, MAX_DUMP_THREADS);
	if (n < 0) {
		cli_error("cannot read the threads of process %d: %s", (int)o->pid, strerror(-n));
		goto out;
	}
	if (n > MAX_DUMP_THREADS)
		n = MAX_DUMP_THREADS;
	qsort(threads, (size_t)n, sizeof(*threads), by_tid);

	char cmdline[4096], esc[4096];
	target_cmdline(o->pid, cmdline, sizeof(cmdline));
	esc_term(esc, sizeof(esc), cmdline);
	printf("Process %d: %s\nPython %s\n", (int)o->pid, esc, py_version_string(rt));
	for (int i = 0; i < n; i++) {
		putchar('\n');
		print_thread(rt, o->pid, &threads[i], raw, info, m, &mem);
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_CANNOT;
	if (m->uw) {
		char line[512];
		mixed_stats_line(m, CLI_STACK_SIZE_DEFAULT, line, sizeof(line));
		fprintf(stderr, "pyrometer: %s\n", line);
	}
out:
	if (m)
		mixed_release(m);
	free(m);
	py_detach(rt);
	strpool_release(&pool);
	target_mem_release(&mem);
	free(threads);
	free(raw);
	free(info);
	return rc;
}
