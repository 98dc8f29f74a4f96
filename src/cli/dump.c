/* dump.c - `pyrometer dump`: every thread's Python stack, once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/cli.h"
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

static void print_thread(struct py_runtime *rt, pid_t pid, const struct py_thread *t,
			 struct py_raw_frame *raw, struct py_frame_info *info)
{
	char comm[17], esc[4096], file[4096];
	target_comm(pid, t->tid, comm, sizeof(comm));
	esc_term(esc, sizeof(esc), comm);
	printf("Thread %d \"%s\"%s\n", (int)t->tid, esc, t->holds_gil ? " holds the GIL" : "");

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
		print_thread(rt, o->pid, &threads[i], raw, info);
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_CANNOT;
out:
	py_detach(rt);
	strpool_release(&pool);
	target_mem_release(&mem);
	free(threads);
	free(raw);
	free(info);
	return rc;
}
