/*
 * runtime.c - finding the interpreter in a process, its version and layout,
 * and its threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "pyrometer/elfsym.h"
#include "pyrometer/strpool.h"
#include "pyrometer/target.h"

#define MAX_INTERPRETERS 64
#define MAX_THREADS 4096
/* A cache miss on a thread (a native thread, or one still starting) triggers
 * a rescan of the thread list at most this often. */
#define TMAP_MISS_RESCAN_NS (20 * 1000 * 1000ull)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_u64(struct py_runtime *rt, uint64_t addr, uint64_t *v)
{
	return target_read(rt->mem, addr, v, sizeof(*v));
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "python3.X" somewhere in a name or path -> minor X, else -1. */
static int minor_from_name(const char *s)
{
	for (const char *p = strstr(s, "python3."); p; p = strstr(p + 1, "python3.")) {
		char *end;
		long minor = strtol(p + 8, &end, 10);
		if (end != p + 8 && minor >= 0 && minor < 100)
			return (int)minor;
	}
	return -1;
}

struct found {
	char path[4096];        /* as the maps name it */
	char open_path[4200];   /* where we could open it */
	uint64_t runtime, version_sym, code_type; /* runtime addresses */
};

/* Look for _PyRuntime in every mapped file that looks like Python. */
static int find_runtime(pid_t pid, const struct target_maps *maps, struct found *f)
{
	static const char *const names[] = { "_PyRuntime", "Py_Version", "PyCode_Type" };
	int denied = 0;

	for (size_t i = 0; i < maps->n; i++) {
		const char *path = maps->v[i].path;
		if (!path || path[0] != '/' || !strstr(base_name(path), "python"))
			continue;
		int seen = 0;
		for (size_t k = 0; k < i && !seen; k++)
			seen = maps->v[k].path && strcmp(maps->v[k].path, path) == 0;
		if (seen)
			continue;

		/* Through /proc/PID/root the file is found even inside a container. */
		char rooted[4200];
		snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", (int)pid, path);
		uint64_t v[3];
		struct elfsym_file info;
		int r = elfsym_lookup(rooted, names, v, 3, &info);
		snprintf(f->open_path, sizeof(f->open_path), "%s", rooted);
		if (r < 0) {
			r = elfsym_lookup(path, names, v, 3, &info);
			snprintf(f->open_path, sizeof(f->open_path), "%s", path);
		}
		if (r == -EACCES || r == -EPERM)
			denied = 1;
		if (r < 0 || !v[0])
			continue;
		snprintf(f->path, sizeof(f->path), "%s", path);
		uint64_t *out[3] = { &f->runtime, &f->version_sym, &f->code_type };
		for (int k = 0; k < 3; k++) {
			*out[k] = 0;
			if (v[k] && elfsym_runtime_addr(&info, maps, path, v[k], out[k]) < 0)
				*out[k] = 0;
		}
		if (f->runtime)
			return 0;
	}
	return denied ? -EACCES : -ESRCH;
}

static void unsupported(char *err, size_t cap, pid_t pid, int major, int minor, const char *why)
{
	snprintf(err, cap, "process %d runs Python %d.%d%s, which is not supported "
		 "(supported: 3.8 to 3.15)", (int)pid, major, minor, why);
}

/* Choose the layout: compiled tables up to 3.12, the target's own
 * _Py_DebugOffsets from 3.13 on. */
static int learn_layout(struct py_runtime *rt, int major, int minor, char *err, size_t cap)
{
	if (major != 3 || minor < 8) {
		unsupported(err, cap, rt->pid, major, minor, "");
		return -ENOTSUP;
	}
	if (minor <= 12) {
		const struct py_layout *L = py_layout_find(major, minor);
		if (!L) {
			unsupported(err, cap, rt->pid, major, minor, "");
			return -ENOTSUP;
		}
		rt->L = *L;
		return 0;
	}
	uint8_t buf[4096];
	ssize_t got = target_read_partial(rt->mem, rt->runtime_addr, buf, sizeof(buf));
	if (got < 24) {
		snprintf(err, cap, "cannot read the interpreter state of process %d", (int)rt->pid);
		return -EFAULT;
	}
	int r = py_layout_from_debug_offsets(buf, (size_t)got, &rt->L);
	if (r == -ENOTSUP) {
		uint64_t ft;
		memcpy(&ft, buf + 16, sizeof(ft));
		unsupported(err, cap, rt->pid, rt->L.major, rt->L.minor,
			    ft ? " (free-threaded build)" : "");
		return r;
	}
	if (r < 0) {
		snprintf(err, cap, "process %d: Python %d.%d publishes no usable debug offsets",
			 (int)rt->pid, major, minor);
		return r;
	}
	return 0;
}

/* <= 3.10 keep only pthread_t; the kernel tid sits inside glibc's struct
 * pthread. Find where by looking for the pid in the main thread's. */
static void calibrate_pthread_tid(struct py_runtime *rt)
{
	rt->pthread_tid_off = -1;
	if (py_at_least(&rt->L, 3, 11) || rt->L.rt_main_thread < 0)
		return;
	uint64_t main_pthread;
	if (read_u64(rt, rt->runtime_addr + (uint64_t)rt->L.rt_main_thread, &main_pthread) < 0 ||
	    !main_pthread)
		return;
	int32_t words[512];
	ssize_t got = target_read_partial(rt->mem, main_pthread, words, sizeof(words));
	if (got <= 0)
		return;
	const int known = 0x2d0 / 4;   /* glibc 2.36 - 2.43, x86-64 */
	if (got > known * 4 && words[known] == rt->pid) {
		rt->pthread_tid_off = 0x2d0;
		return;
	}
	for (int i = 0; i < got / 4; i++)
		if (words[i] == rt->pid) {
			rt->pthread_tid_off = i * 4;
			return;
		}
}

int py_attach(pid_t pid, struct target_mem *mem, struct strpool *pool,
	      struct py_runtime **out, char *err, size_t errcap)
{
	struct target_maps maps;
	int r = target_maps_read(pid, &maps);
	if (r < 0) {
		snprintf(err, errcap, "cannot read the memory map of process %d: %s",
			 (int)pid, strerror(-r));
		return r;
	}
	struct found *f = calloc(1, sizeof(*f));
	struct py_runtime *rt = calloc(1, sizeof(*rt));
	if (!f || !rt) {
		r = -ENOMEM;
		snprintf(err, errcap, "out of memory");
		goto fail;
	}
	if (maps.n == 0) {
		/* An empty map is what a process we may not inspect shows. */
		r = -EACCES;
		snprintf(err, errcap, "cannot read the memory map of process %d", (int)pid);
		goto fail;
	}
	r = find_runtime(pid, &maps, f);
	if (r < 0) {
		char comm[64];
		target_comm(pid, pid, comm, sizeof(comm));
		if (r == -EACCES)
			snprintf(err, errcap, "cannot open the executable files of process %d",
				 (int)pid);
		else
			snprintf(err, errcap, "process %d (%s) is not CPython: no _PyRuntime "
				 "symbol in any mapped file", (int)pid, comm);
		goto fail;
	}
	rt->pid = pid;
	rt->mem = mem;
	rt->pool = pool;
	rt->runtime_addr = f->runtime;
	snprintf(rt->module_path, sizeof(rt->module_path), "%s", f->path);
	rt->code_type = f->code_type;
	rt->seq = 1;

	int major = 3, minor = -1, micro = -1;
	uint32_t hex;
	if (f->version_sym && target_read(mem, f->version_sym, &hex, sizeof(hex)) == 0 &&
	    (hex >> 24) == 3) {
		minor = (hex >> 16) & 0xff;
		micro = (hex >> 8) & 0xff;
	} else if (f->version_sym) {
		r = -EACCES;
		snprintf(err, errcap, "cannot read the memory of process %d", (int)pid);
		goto fail;
	}
	if (minor < 0)
		minor = minor_from_name(base_name(f->path));
	for (size_t i = 0; minor < 0 && i < maps.n; i++)
		if (maps.v[i].path)
			minor = minor_from_name(maps.v[i].path);
	if (minor < 0) {
		r = -ENOTSUP;
		snprintf(err, errcap, "cannot tell which Python version process %d runs", (int)pid);
		goto fail;
	}
	/* Reading the runtime proves we may read the target at all. */
	uint64_t probe;
	r = read_u64(rt, rt->runtime_addr, &probe);
	if (r < 0) {
		snprintf(err, errcap, "cannot read the memory of process %d: %s", (int)pid,
			 strerror(-r));
		goto fail;
	}
	r = learn_layout(rt, major, minor, err, errcap);
	if (r < 0)
		goto fail;
	if (rt->L.minor != minor && f->version_sym) {
		r = -EPROTO;
		snprintf(err, errcap, "process %d: version %d.%d does not match its debug offsets "
			 "(%d.%d)", (int)pid, major, minor, rt->L.major, rt->L.minor);
		goto fail;
	}
	if (micro >= 0)
		snprintf(rt->version, sizeof(rt->version), "%d.%d.%d", major, minor, micro);
	else if (elfsym_python_version(f->open_path, minor, rt->version,
					 sizeof(rt->version)) < 0)
		snprintf(rt->version, sizeof(rt->version), "%d.%d", major, minor);
	rt->ltfmt = py_linetable_format_for(major, minor);
	calibrate_pthread_tid(rt);
	free(f);
	target_maps_release(&maps);
	*out = rt;
	return 0;
fail:
	free(f);
	free(rt);
	target_maps_release(&maps);
	return r;
}

void py_detach(struct py_runtime *rt)
{
	if (!rt)
		return;
	py_codes_release(rt);
	free(rt->tmap);
	free(rt->spec);
	free(rt);
}

const char *py_version_string(const struct py_runtime *rt)
{
	return rt->version;
}

void py_get_stats(const struct py_runtime *rt, struct py_stats *out)
{
	*out = rt->stats;
}

/* The thread state holding interp's GIL, or 0. */
static uint64_t gil_holder(struct py_runtime *rt, uint64_t interp)
{
	const struct py_layout *L = &rt->L;
	uint64_t holder = 0, gil;
	int32_t locked = 0;

	if (L->rt_gilstate_current >= 0) {
		if (read_u64(rt, rt->runtime_addr + (uint64_t)L->rt_gilstate_current, &holder) < 0)
			return 0;
		return holder;
	}
	if (L->is_gil_ptr >= 0) {
		if (read_u64(rt, interp + (uint64_t)L->is_gil_ptr, &gil) < 0 || !gil)
			return 0;
		if (target_read(rt->mem, gil + (uint64_t)L->gil_locked, &locked, 4) < 0 ||
		    read_u64(rt, gil + (uint64_t)L->gil_last_holder, &holder) < 0)
			return 0;
		return locked ? holder : 0;
	}
	if (L->is_gil_locked >= 0 && L->is_gil_holder >= 0) {
		if (target_read(rt->mem, interp + (uint64_t)L->is_gil_locked, &locked, 4) < 0 ||
		    read_u64(rt, interp + (uint64_t)L->is_gil_holder, &holder) < 0)
			return 0;
		return locked ? holder : 0;
	}
	return 0;
}

static pid_t tstate_tid(struct py_runtime *rt, const uint8_t *ts, uint64_t *pthread)
{
	const struct py_layout *L = &rt->L;
	*pthread = u64_at(ts, L->ts_thread_id);
	if (L->ts_native_thread_id >= 0)
		return (pid_t)u64_at(ts, L->ts_native_thread_id);
	int32_t tid;
	if (rt->pthread_tid_off < 0 || !*pthread ||
	    target_read(rt->mem, *pthread + (uint64_t)rt->pthread_tid_off, &tid, 4) < 0)
		return 0;
	return tid;
}

/* Walk interpreters and their threads; call fn for each. */
static int walk_threads(struct py_runtime *rt,
			void (*fn)(void *ctx, const struct py_thread *t, uint64_t pthread),
			void *ctx)
{
	const struct py_layout *L = &rt->L;
	uint8_t ts[2048];
	size_t tslen = (size_t)L->ts_size < sizeof(ts) ? (size_t)L->ts_size : sizeof(ts);
	uint64_t interp;
	int count = 0;

	rt->stats.thread_scans++;
	int r = read_u64(rt, rt->runtime_addr + (uint64_t)L->rt_interp_head, &interp);
	if (r < 0)
		return r;
	for (int ni = 0; interp && ni < MAX_INTERPRETERS; ni++) {
		uint64_t holder = gil_holder(rt, interp);
		uint64_t tstate, next;
		if (read_u64(rt, interp + (uint64_t)L->is_threads_head, &tstate) < 0)
			break;
		for (int nt = 0; tstate && nt < MAX_THREADS; nt++) {
			if (target_read(rt->mem, tstate, ts, tslen) < 0)
				break;
			struct py_thread t = { .tstate = tstate, .holds_gil = holder == tstate };
			uint64_t pthread;
			t.tid = tstate_tid(rt, ts, &pthread);
			fn(ctx, &t, pthread);
			count++;
			tstate = u64_at(ts, L->ts_next);
		}
		if (read_u64(rt, interp + (uint64_t)L->is_next, &next) < 0)
			break;
		interp = next;
	}
	return count;
}

struct list_ctx {
	struct py_thread *out;
	int cap, n;
};

static void list_one(void *ctx, const struct py_thread *t, uint64_t pthread)
{
	struct list_ctx *c = ctx;
	(void)pthread;
	if (c->n < c->cap)
		c->out[c->n] = *t;
	c->n++;
}

int py_threads(struct py_runtime *rt, struct py_thread *out, int cap)
{
	struct list_ctx c = { out, cap, 0 };
	int r = walk_threads(rt, list_one, &c);
	return r < 0 ? r : c.n;
}

static void tmap_put(struct py_runtime *rt, pid_t tid, uint64_t tstate, uint64_t pthread)
{
	size_t mask = rt->tmap_cap - 1;
	size_t i = (size_t)tid * 2654435761u & mask;
	for (size_t probes = 0; probes < rt->tmap_cap; probes++, i = (i + 1) & mask) {
		struct py_tmap_entry *e = &rt->tmap[i];
		if (e->tid == 0 || e->tid == tid) {
			/* Subinterpreters may share an OS thread: keep the first. */
			if (e->tid == 0)
				*e = (struct py_tmap_entry){ tid, tstate, pthread };
			return;
		}
	}
}

struct refresh_ctx {
	struct py_runtime *rt;
	struct py_tmap_entry *tmp;
	int cap, n;
};

static void collect_one(void *ctx, const struct py_thread *t, uint64_t pthread)
{
	struct refresh_ctx *c = ctx;
	if (t->tid > 0 && c->n < c->cap)
		c->tmp[c->n++] = (struct py_tmap_entry){ t->tid, t->tstate, pthread };
}

void py_tmap_refresh(struct py_runtime *rt)
{
	static struct py_tmap_entry tmp[MAX_THREADS];
	struct refresh_ctx c = { rt, tmp, MAX_THREADS, 0 };

	rt->tmap_refreshed_ns = now_ns();
	if (walk_threads(rt, collect_one, &c) < 0)
		return;
	size_t cap = 64;
	while (cap < (size_t)c.n * 2)
		cap *= 2;
	if (cap != rt->tmap_cap) {
		struct py_tmap_entry *nt = calloc(cap, sizeof(*nt));
		if (!nt)
			return;
		free(rt->tmap);
		rt->tmap = nt;
		rt->tmap_cap = cap;
	} else {
		memset(rt->tmap, 0, cap * sizeof(*rt->tmap));
	}
	for (int i = 0; i < c.n; i++)
		tmap_put(rt, tmp[i].tid, tmp[i].tstate, tmp[i].pthread);
	rt->tmap_valid = 1;
	rt->tmap_generation++;
}

static int tmap_get(struct py_runtime *rt, pid_t tid, struct py_tmap_entry *out)
{
	if (!rt->tmap_cap)
		return -ENOENT;
	size_t mask = rt->tmap_cap - 1;
	size_t i = (size_t)tid * 2654435761u & mask;
	for (size_t probes = 0; probes < rt->tmap_cap; probes++, i = (i + 1) & mask) {
		struct py_tmap_entry *e = &rt->tmap[i];
		if (e->tid == 0)
			return -ENOENT;
		if (e->tid == tid) {
			*out = *e;
			return 0;
		}
	}
	return -ENOENT;
}

int py_tmap_lookup(struct py_runtime *rt, pid_t tid, struct py_tmap_entry *out)
{
	if (rt->tmap_valid && tmap_get(rt, tid, out) == 0)
		return 0;
	if (rt->tmap_valid && now_ns() - rt->tmap_refreshed_ns < TMAP_MISS_RESCAN_NS)
		return -ENOENT;
	py_tmap_refresh(rt);
	return tmap_get(rt, tid, out);
}

void py_threads_changed(struct py_runtime *rt)
{
	if (!rt)
		return;   /* not (yet) a Python process */
	rt->tmap_valid = 0;
}
