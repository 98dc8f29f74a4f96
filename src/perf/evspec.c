/*
 * evspec.c - event names into perf_event_attr settings.
 *
 * A name is tried, in this order, as: one of our software events; a uprobe
 * (it starts with "uprobe:"); a tracepoint that exists in tracefs; a name
 * libpfm4 knows; a tracepoint again, mounting tracefs when we may. Names
 * like "cycles:u" and "INST_RETIRED:ANY_P" look like tracepoints too, which
 * is why tracefs is only mounted once libpfm4 has said no.
 *
 * libpfm4 is used in this file only. The kernel's generic hardware and
 * cache events ("cycles", "LLC-load-misses") are also in our own table, so
 * they encode the same way without libpfm4 (or with a libpfm4 that spells
 * them differently).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pyrometer/elfsym.h"
#include "pyrometer/evspec.h"
#include "pyrometer/target.h"

/* After <linux/perf_event.h> (from evspec.h): libpfm4's header then uses the
 * kernel's definitions instead of its own copies. */
#include <perfmon/pfmlib_perf_event.h>

#define UPROBE_PREFIX "uprobe:"
#define UPROBE_TYPE_PATH "/sys/bus/event_source/devices/uprobe/type"
#define TRACEFS_MOUNT_HINT "mount -t tracefs nodev /sys/kernel/tracing"

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- software events ----------------------------------------------------- */

struct sw_event {
	const char *name, *alias;
	uint64_t config;
	enum ev_role role;
	int in_kernel;
};

static const struct sw_event sw_events[] = {
	{ "cpu-clock", NULL, PERF_COUNT_SW_CPU_CLOCK, EVR_CPU_CLOCK, 0 },
	{ "task-clock", NULL, PERF_COUNT_SW_TASK_CLOCK, EVR_TASK_CLOCK, 0 },
	{ "page-faults", "faults", PERF_COUNT_SW_PAGE_FAULTS, EVR_PAGE_FAULTS, 0 },
	{ "minor-faults", NULL, PERF_COUNT_SW_PAGE_FAULTS_MIN, EVR_OTHER, 0 },
	{ "major-faults", NULL, PERF_COUNT_SW_PAGE_FAULTS_MAJ, EVR_OTHER, 0 },
	/* The scheduler raises these two with kernel registers: with
	 * exclude_kernel they would always count zero. */
	{ "context-switches", "cs", PERF_COUNT_SW_CONTEXT_SWITCHES, EVR_CONTEXT_SWITCHES, 1 },
	{ "cpu-migrations", "migrations", PERF_COUNT_SW_CPU_MIGRATIONS, EVR_OTHER, 1 },
	{ "alignment-faults", NULL, PERF_COUNT_SW_ALIGNMENT_FAULTS, EVR_OTHER, 0 },
	{ "emulation-faults", NULL, PERF_COUNT_SW_EMULATION_FAULTS, EVR_OTHER, 0 },
};

#define N_SW (sizeof(sw_events) / sizeof(sw_events[0]))

const char *ev_software_name(size_t i, const char **alias)
{
	if (i >= N_SW)
		return NULL;
	if (alias)
		*alias = sw_events[i].alias;
	return sw_events[i].name;
}

static void set_software(struct ev_spec *e, const struct sw_event *sw)
{
	e->kind = EV_SOFTWARE;
	e->role = sw->role;
	e->in_kernel = sw->in_kernel;
	e->attr.type = PERF_TYPE_SOFTWARE;
	e->attr.config = sw->config;
	e->attr.exclude_kernel = !sw->in_kernel;
	e->attr.exclude_hv = 1;
	snprintf(e->fqname, sizeof(e->fqname), "software %s", sw->name);
}

static int parse_software(const char *name, struct ev_spec *e)
{
	for (size_t i = 0; i < N_SW; i++) {
		const struct sw_event *sw = &sw_events[i];
		if (strcmp(name, sw->name) == 0 || (sw->alias && strcmp(name, sw->alias) == 0)) {
			set_software(e, sw);
			return 1;
		}
	}
	return 0;
}

/* ---- the kernel's generic hardware and cache events ---------------------- */

static const struct {
	const char *name;
	uint64_t config;
} hw_generic[] = {
	{ "cycles", PERF_COUNT_HW_CPU_CYCLES },
	{ "cpu-cycles", PERF_COUNT_HW_CPU_CYCLES },
	{ "instructions", PERF_COUNT_HW_INSTRUCTIONS },
	{ "cache-references", PERF_COUNT_HW_CACHE_REFERENCES },
	{ "cache-misses", PERF_COUNT_HW_CACHE_MISSES },
	{ "branches", PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
	{ "branch-instructions", PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
	{ "branch-misses", PERF_COUNT_HW_BRANCH_MISSES },
	{ "bus-cycles", PERF_COUNT_HW_BUS_CYCLES },
	{ "stalled-cycles-frontend", PERF_COUNT_HW_STALLED_CYCLES_FRONTEND },
	{ "stalled-cycles-backend", PERF_COUNT_HW_STALLED_CYCLES_BACKEND },
	{ "ref-cycles", PERF_COUNT_HW_REF_CPU_CYCLES },
};

/* Indexed by PERF_COUNT_HW_CACHE_L1D ... PERF_COUNT_HW_CACHE_NODE. */
static const char *const cache_names[] = {
	"L1-dcache", "L1-icache", "LLC", "dTLB", "iTLB", "branch", "node",
};

static const struct {
	const char *suffix;
	unsigned op, result;
} cache_ops[] = {
	{ "loads", PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_ACCESS },
	{ "load-misses", PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_MISS },
	{ "stores", PERF_COUNT_HW_CACHE_OP_WRITE, PERF_COUNT_HW_CACHE_RESULT_ACCESS },
	{ "store-misses", PERF_COUNT_HW_CACHE_OP_WRITE, PERF_COUNT_HW_CACHE_RESULT_MISS },
	{ "prefetches", PERF_COUNT_HW_CACHE_OP_PREFETCH, PERF_COUNT_HW_CACHE_RESULT_ACCESS },
	{ "prefetch-misses", PERF_COUNT_HW_CACHE_OP_PREFETCH, PERF_COUNT_HW_CACHE_RESULT_MISS },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int eq_n(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* The first n bytes of name as a generic event: 1 and type/config set. */
static int generic_lookup(const char *name, size_t n, uint32_t *type, uint64_t *config)
{
	for (size_t i = 0; i < COUNT(hw_generic); i++) {
		if (eq_n(name, n, hw_generic[i].name)) {
			*type = PERF_TYPE_HARDWARE;
			*config = hw_generic[i].config;
			return 1;
		}
	}
	for (size_t c = 0; c < COUNT(cache_names); c++) {
		size_t cl = strlen(cache_names[c]);
		if (n <= cl + 1 || strncasecmp(name, cache_names[c], cl) != 0 || name[cl] != '-')
			continue;
		for (size_t k = 0; k < COUNT(cache_ops); k++) {
			if (eq_n(name + cl + 1, n - cl - 1, cache_ops[k].suffix)) {
				*type = PERF_TYPE_HW_CACHE;
				*config = c | (uint64_t)cache_ops[k].op << 8 |
					  (uint64_t)cache_ops[k].result << 16;
				return 1;
			}
		}
	}
	return 0;
}

/* Our own encoding of "GENERIC[:u][:k]", modifiers spelled as libpfm4 does. */
static int generic_encode(const char *name, size_t base_len, struct ev_spec *e)
{
	uint32_t type;
	uint64_t config;
	if (!generic_lookup(name, base_len, &type, &config))
		return PFM_ERR_NOTFOUND;
	int user = 0, kernel = 0;
	for (const char *p = name + base_len; *p; p += 2) {
		/* p[2] is only read once p[1] is known not to end the string */
		if (p[0] != ':' || (p[1] != 'u' && p[1] != 'k') || (p[2] != '\0' && p[2] != ':'))
			return PFM_ERR_ATTR;
		user |= p[1] == 'u';
		kernel |= p[1] == 'k';
	}
	if (!user && !kernel)
		user = 1;
	memset(&e->attr, 0, sizeof(e->attr));
	e->attr.type = type;
	e->attr.config = config;
	e->attr.exclude_user = !user;
	e->attr.exclude_kernel = !kernel;
	snprintf(e->fqname, sizeof(e->fqname), "%s type %u config 0x%" PRIx64 "%s%s",
		 type == PERF_TYPE_HARDWARE ? "hardware" : "hw-cache", type, config,
		 user ? ":u" : "", kernel ? ":k" : "");
	return PFM_SUCCESS;
}

/* ---- libpfm4 ------------------------------------------------------------- */

static int pfm_ready(void)
{
	static int state; /* 0 not tried, 1 ready, -1 failed */
	if (!state)
		state = pfm_initialize() == PFM_SUCCESS ? 1 : -1;
	return state > 0;
}

/* PFM_SUCCESS with e->attr and e->fqname set, or a PFM_ERR_* code. */
static int pfm_encode(const char *name, struct ev_spec *e)
{
	if (!pfm_ready())
		return PFM_ERR_NOINIT;
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	char *fstr = NULL;
	pfm_perf_encode_arg_t arg;
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.attr = &a;
	arg.fstr = &fstr;
	/* PLM3: user level only, unless the name's modifiers say otherwise. */
	int r = pfm_get_os_event_encoding(name, PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
	if (r == PFM_SUCCESS) {
		e->attr = a;
		copy_str(e->fqname, sizeof(e->fqname), fstr ? fstr : name);
	}
	free(fstr);
	return r;
}

/*
 * name through libpfm4 (generic names with the "perf::" prefix, so that no
 * CPU-specific event of the same name wins), then our table. PFM_SUCCESS,
 * PFM_ERR_NOTFOUND for a name nobody knows, or another PFM_ERR_* for a
 * known event with bad unit masks or modifiers.
 */
static int hw_encode(const char *name, struct ev_spec *e)
{
	size_t base_len = strcspn(name, ":");
	uint32_t type;
	uint64_t config;
	int generic = generic_lookup(name, base_len, &type, &config);
	char buf[EV_NAME_MAX + 8];
	snprintf(buf, sizeof(buf), "%s%s", generic ? "perf::" : "", name);
	int r = pfm_encode(buf, e);
	if (r == PFM_SUCCESS || !generic)
		return r;
	if (r != PFM_ERR_NOTFOUND && r != PFM_ERR_NOINIT)
		return r; /* libpfm4 knows the event: its word on modifiers counts */
	return generic_encode(name, base_len, e);
}

static int hw_finish(const char *name, struct ev_spec *e, char *err, size_t errlen);

int ev_generic_encode(const char *name, struct ev_spec *e)
{
	if (generic_encode(name, strcspn(name, ":"), e) != PFM_SUCCESS)
		return -EINVAL;
	return hw_finish(name, e, NULL, 0);
}

static enum ev_role hw_role(uint64_t config)
{
	switch (config & 0xffffffffu) { /* the high half may name a PMU */
	case PERF_COUNT_HW_CPU_CYCLES: return EVR_CYCLES;
	case PERF_COUNT_HW_INSTRUCTIONS: return EVR_INSTRUCTIONS;
	case PERF_COUNT_HW_CACHE_REFERENCES: return EVR_CACHE_REFERENCES;
	case PERF_COUNT_HW_CACHE_MISSES: return EVR_CACHE_MISSES;
	case PERF_COUNT_HW_BRANCH_INSTRUCTIONS: return EVR_BRANCHES;
	case PERF_COUNT_HW_BRANCH_MISSES: return EVR_BRANCH_MISSES;
	default: return EVR_OTHER;
	}
}

/* Kind, role and the settings we insist on, after libpfm4 or our table. */
static int hw_finish(const char *name, struct ev_spec *e, char *err, size_t errlen)
{
	struct perf_event_attr *a = &e->attr;
	if (a->freq)
		return fail(err, errlen, -EINVAL, "'%s': freq= is not supported "
			    "(write NAME/period=N/, or use -F)", name);
	if (a->sample_period && !e->period)
		e->period = a->sample_period;
	a->sample_period = 0;
	a->sample_type = 0;
	a->read_format = 0;
	a->size = sizeof(*a);
	a->exclude_hv = 1; /* never wanted, and it needs privileges */
	e->kind = EV_HARDWARE;
	e->role = EVR_OTHER;
	if (a->type == PERF_TYPE_HARDWARE) {
		e->role = hw_role(a->config);
	} else if (a->type == PERF_TYPE_SOFTWARE) {
		/* libpfm4's spelling of a software event (perf::PERF_COUNT_SW_...):
		 * its modifiers stand, but not for events seen in the kernel only */
		e->kind = EV_SOFTWARE;
		for (size_t i = 0; i < N_SW; i++) {
			if (sw_events[i].config == a->config) {
				e->role = sw_events[i].role;
				e->in_kernel = sw_events[i].in_kernel;
				if (e->in_kernel)
					a->exclude_kernel = 0;
				break;
			}
		}
	}
	return 0;
}

/* The event at libpfm4 index idx, then its unit masks when umasks. */
static int pfm_event_each(int idx, struct ev_pmu_event *ev, int umasks,
			  int (*fn)(const struct ev_pmu_event *ev, void *arg), void *arg)
{
	pfm_event_info_t info;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (pfm_get_event_info(idx, PFM_OS_NONE, &info) != PFM_SUCCESS)
		return 0;
	ev->event = info.name;
	ev->umask = NULL;
	if (fn && fn(ev, arg))
		return 1;
	for (int i = 0; umasks && i < info.nattrs; i++) {
		pfm_event_attr_info_t ai;
		memset(&ai, 0, sizeof(ai));
		ai.size = sizeof(ai);
		if (pfm_get_event_attr_info(idx, i, PFM_OS_NONE, &ai) != PFM_SUCCESS ||
		    ai.type != PFM_ATTR_UMASK || !ai.name)
			continue;
		ev->umask = ai.name;
		if (fn && fn(ev, arg))
			return 1;
	}
	return 0;
}

int ev_pfm_each(int (*fn)(const struct ev_pmu_event *ev, void *arg), void *arg)
{
	if (!pfm_ready())
		return -ENOSYS;
	int n = 0;
	for (int p = PFM_PMU_NONE; p < PFM_PMU_MAX; p++) {
		pfm_pmu_info_t pi;
		memset(&pi, 0, sizeof(pi));
		pi.size = sizeof(pi);
		if (pfm_get_pmu_info((pfm_pmu_t)p, &pi) != PFM_SUCCESS || !pi.is_present)
			continue;
		struct ev_pmu_event ev = {
			.pmu = pi.name,
			.pmu_desc = pi.desc ? pi.desc : "",
			.per_thread = pi.type == PFM_PMU_TYPE_CORE ||
				      pi.type == PFM_PMU_TYPE_OS_GENERIC,
		};
		/* The generic PMU's unit masks only work in combinations
		 * (READ:MISS), which its own aliases already spell out. */
		int umasks = pi.type == PFM_PMU_TYPE_CORE;
		for (int i = pi.first_event; i != -1; i = pfm_get_event_next(i)) {
			n++;
			if (pfm_event_each(i, &ev, umasks, fn, arg))
				return n;
		}
	}
	return n;
}

/* ---- tracepoints ---------------------------------------------------------- */

static const char *const tracefs_roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 when root/events is a directory; 0, or -EACCES when we may not look. */
static int has_events(const char *root)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/events", root);
	struct stat st;
	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode);
	return errno == EACCES ? -EACCES : 0;
}

const char *ev_tracefs(int mount_ok, char *err, size_t errlen)
{
	const char *denied = NULL;
	for (size_t i = 0; i < COUNT(tracefs_roots); i++) {
		int r = has_events(tracefs_roots[i]);
		if (r > 0)
			return tracefs_roots[i];
		if (r < 0 && !denied)
			denied = tracefs_roots[i];
	}
	if (denied) {
		fail(err, errlen, -EACCES, "tracefs at %s may only be read by root (run as root)",
		     denied);
		return NULL;
	}
	if (!mount_ok || geteuid() != 0) {
		fail(err, errlen, -EACCES, "tracefs is not mounted (run as root, or: "
		     TRACEFS_MOUNT_HINT ")");
		return NULL;
	}
	if (mount("nodev", tracefs_roots[0], "tracefs", 0, NULL) != 0) {
		fail(err, errlen, -errno, "tracefs is not mounted and mounting it failed: %s "
		     "(try: " TRACEFS_MOUNT_HINT ")", strerror(errno));
		return NULL;
	}
	if (has_events(tracefs_roots[0]))
		return tracefs_roots[0];
	fail(err, errlen, -ENOENT, "tracefs on %s has no events directory", tracefs_roots[0]);
	return NULL;
}

/* [A-Za-z0-9_-]+, and so never a path ("..", "/"). Some subsystems have a
 * '-' (xhci-hcd). */
static int is_word(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* SUBSYSTEM:NAME, both words: the subsystem's length, else 0. */
static size_t tp_shape(const char *name)
{
	const char *colon = strchr(name, ':');
	if (!colon || strchr(colon + 1, ':'))
		return 0;
	size_t sub = (size_t)(colon - name);
	if (!is_word(name, sub) || !is_word(colon + 1, strlen(colon + 1)))
		return 0;
	return sub;
}

/* The id of tracepoint SUB:NAME (tp_shape checked) under root: 0 or -errno. */
static int tp_id(const char *root, const char *name, size_t sub, uint64_t *id)
{
	char path[EV_NAME_MAX + 64];
	snprintf(path, sizeof(path), "%s/events/%.*s/%s/id", root, (int)sub, name,
		 name + sub + 1);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[32];
	int r = -EINVAL;
	if (fgets(line, sizeof(line), f) && isdigit((unsigned char)line[0])) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(line, &end, 10);
		if (!errno && (*end == '\n' || *end == '\0')) {
			*id = v;
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static void set_tracepoint(struct ev_spec *e, const char *name, uint64_t id)
{
	e->kind = EV_TRACEPOINT;
	e->role = EVR_OTHER;
	e->in_kernel = 1;
	e->attr.type = PERF_TYPE_TRACEPOINT;
	e->attr.config = id;
	e->attr.exclude_kernel = 0; /* tracepoints fire in the kernel */
	e->attr.exclude_hv = 1;
	snprintf(e->fqname, sizeof(e->fqname), "tracepoint %s", name);
}

/* After libpfm4 said no: tracepoint, mounting tracefs if need be, or the
 * error that fits best. */
static int tp_last_try(const char *name, size_t sub, struct ev_spec *e, char *err,
		       size_t errlen)
{
	char why[256];
	const char *root = ev_tracefs(1, why, sizeof(why));
	if (!root)
		return fail(err, errlen, -ENOENT, "unknown event '%s', and tracepoints cannot "
			    "be looked up: %s", name, why);
	uint64_t id;
	int r = tp_id(root, name, sub, &id);
	if (r == 0) {
		set_tracepoint(e, name, id);
		return 0;
	}
	char dir[EV_NAME_MAX + 64];
	snprintf(dir, sizeof(dir), "%s/events/%.*s", root, (int)sub, name);
	if (r == -ENOENT && is_dir(dir))
		return fail(err, errlen, -ENOENT, "no tracepoint '%s' (see 'pyrometer events "
			    "--all')", name);
	if (r == -ENOENT)
		return fail(err, errlen, -EINVAL, "unknown event '%s': neither a tracepoint "
			    "nor a hardware or software event (see 'pyrometer events --all')", name);
	return fail(err, errlen, r, "cannot read tracepoint '%s' in %s: %s", name, root,
		    strerror(-r));
}

struct tp_list {
	char **v;
	size_t n, cap;
};

static int tp_list_add(struct tp_list *l, const char *sub, const char *name)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 1024;
		char **nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	if (asprintf(&l->v[l->n], "%s:%s", sub, name) < 0)
		return -ENOMEM;
	l->n++;
	return 0;
}

/* The event directories of one subsystem (those that hold an id file). */
static int tp_scan_subsystem(const char *events, const char *sub, struct tp_list *l)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", events, sub);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	DIR *d = opendir(path);
	if (!d)
		return 0; /* a file such as "enable" or "header_page" */
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		char idpath[PATH_MAX];
		n = snprintf(idpath, sizeof(idpath), "%s/%s/id", path, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(idpath) || access(idpath, R_OK) != 0)
			continue;
		r = tp_list_add(l, sub, de->d_name);
	}
	closedir(d);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ev_tracepoints_each(const char *root, int (*fn)(const char *name, void *arg), void *arg)
{
	char events[PATH_MAX];
	snprintf(events, sizeof(events), "%s/events", root);
	DIR *d = opendir(events);
	if (!d)
		return -errno;
	struct tp_list l = { 0 };
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			r = tp_scan_subsystem(events, de->d_name, &l);
	closedir(d);
	if (r == 0 && fn) {
		qsort(l.v, l.n, sizeof(*l.v), cmp_str);
		for (size_t i = 0; i < l.n; i++)
			if (fn(l.v[i], arg))
				break;
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return r ? r : (int)l.n;
}

/* ---- uprobes ----------------------------------------------------------- */

static int read_int_file(const char *path, int *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int r = fscanf(f, "%d", out) == 1 ? 0 : -EINVAL;
	fclose(f);
	return r;
}

/* Files mapped by the target that match a library name, in two grades. */
struct lib_match {
	const struct target_map *first, *other; /* other: a different file */
};

static void lib_note(struct lib_match *m, const struct target_map *map)
{
	if (!m->first)
		m->first = map;
	else if (!m->other && strcmp(m->first->path, map->path) != 0)
		m->other = map;
}

/*
 * A path in the target's maps is in the target's mount namespace; use it
 * through /proc/PID/root when ours has no such file (a container).
 */
static void in_target_root(pid_t pid, const struct target_map *m, char *path, size_t cap)
{
	struct stat st;
	if (stat(path, &st) == 0 && st.st_ino == m->inode)
		return;
	char alt[PATH_MAX];
	int n = snprintf(alt, sizeof(alt), "/proc/%d/root%s", (int)pid, m->path);
	if (n > 0 && (size_t)n < cap && stat(alt, &st) == 0 && st.st_ino == m->inode)
		memcpy(path, alt, (size_t)n + 1);
}

static int pick_library(pid_t pid, const struct target_maps *maps, const char *lib,
			char *path, size_t cap, char *err, size_t errlen)
{
	struct lib_match exact = { 0 }, prefix = { 0 };
	size_t len = strlen(lib);
	for (size_t i = 0; i < maps->n; i++) {
		const struct target_map *m = &maps->v[i];
		if (!m->path || m->path[0] != '/')
			continue;
		size_t plen = strlen(m->path);
		if (plen > 10 && strcmp(m->path + plen - 10, " (deleted)") == 0)
			continue;
		const char *base = strrchr(m->path, '/') + 1;
		if (strcmp(base, lib) == 0)
			lib_note(&exact, m);
		else if (strncmp(base, lib, len) == 0 && (base[len] == '.' || base[len] == '-'))
			lib_note(&prefix, m);
	}
	const struct lib_match *use = exact.first ? &exact : &prefix;
	if (!use->first)
		return fail(err, errlen, -ENOENT, "no file named '%s' (or '%s.*', '%s-*') is "
			    "mapped by process %d: give the library's path", lib, lib, lib,
			    (int)pid);
	if (use->other)
		return fail(err, errlen, -EINVAL, "'%s' matches several files mapped by process "
			    "%d: %s and %s (give the path)", lib, (int)pid, use->first->path,
			    use->other->path);
	if (strlen(use->first->path) >= cap)
		return fail(err, errlen, -ENAMETOOLONG, "path too long: %s", use->first->path);
	strcpy(path, use->first->path);
	in_target_root(pid, use->first, path, cap);
	return 0;
}

/* LIBRARY of uprobe:LIBRARY:SYMBOL to an absolute path in e->path. */
static int find_library(const char *lib, pid_t pid, struct ev_spec *e, char *err,
			size_t errlen)
{
	if (strchr(lib, '/')) {
		if (!realpath(lib, e->path))
			return fail(err, errlen, -errno, "cannot find library %s: %s", lib,
				    strerror(errno));
		return 0;
	}
	pid_t who = pid ? pid : getpid();
	struct target_maps maps;
	int r = target_maps_read(who, &maps);
	if (r)
		return fail(err, errlen, r, "cannot read the mappings of process %d: %s",
			    (int)who, strerror(-r));
	r = pick_library(who, &maps, lib, e->path, sizeof(e->path), err, errlen);
	target_maps_release(&maps);
	return r;
}

/*
 * Symbol sym of the ELF file at e->path into e->attr.config2 as a file
 * offset. The file is the target's: libelf parses it (elfsym.c), and every
 * lookup is checked.
 */
static int uprobe_offset(struct ev_spec *e, const char *sym, char *err, size_t errlen)
{
	const char *names[1] = { sym };
	uint64_t value;
	int type;
	struct elfsym_file info;
	int r = elfsym_lookup_types(e->path, names, &value, &type, 1, &info);
	if (r == -ENOEXEC)
		return fail(err, errlen, r, "%s is not an ELF file", e->path);
	if (r)
		return fail(err, errlen, r, "cannot read %s: %s", e->path, strerror(-r));
	if (!value)
		return fail(err, errlen, -ENOENT, "no symbol %s in %s", sym, e->path);
	if (type == STT_GNU_IFUNC)
		return fail(err, errlen, -EINVAL, "%s in %s is an IFUNC: its address is a "
			    "resolver run once at load time, so a uprobe there counts no calls",
			    sym, e->path);
	uint64_t off = 0;
	if (elfsym_file_offset(&info, value, &off) < 0)
		return fail(err, errlen, -ENOENT, "symbol %s of %s is in no loadable segment",
			    sym, e->path);
	e->attr.config2 = off;
	return 0;
}

static int parse_uprobe(const char *name, pid_t pid, struct ev_spec *e, char *err,
			size_t errlen)
{
	const char *spec = name + strlen(UPROBE_PREFIX);
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || colon[1] == '\0')
		return fail(err, errlen, -EINVAL, "bad uprobe '%s': write uprobe:LIBRARY:SYMBOL "
			    "(uprobe:libc:malloc)", name);
	char lib[EV_NAME_MAX];
	snprintf(lib, sizeof(lib), "%.*s", (int)(colon - spec), spec);
	const char *sym = colon + 1;

	int type;
	if (read_int_file(UPROBE_TYPE_PATH, &type) != 0)
		return fail(err, errlen, -ENOENT, "this kernel has no uprobe PMU (%s is "
			    "missing)", UPROBE_TYPE_PATH);
	int r = find_library(lib, pid, e, err, errlen);
	if (r)
		return r;

	r = uprobe_offset(e, sym, err, errlen);
	if (r)
		return r;

	e->kind = EV_UPROBE;
	e->role = EVR_OTHER;
	e->in_kernel = 0;
	e->attr.type = (uint32_t)type;
	e->attr.config = 0;  /* bit 0 would make it a return probe */
	e->attr.config1 = 0; /* the opener points it at e->path */
	e->attr.exclude_kernel = 1;
	e->attr.exclude_hv = 1;
	/* A long path loses its start: the name is for people. */
	char tail[EV_NAME_MAX + 32];
	snprintf(tail, sizeof(tail), ":0x%" PRIx64 " (%s)", (uint64_t)e->attr.config2, sym);
	size_t room = sizeof(e->fqname) - strlen("uprobe ") - strlen(tail) - 1;
	size_t plen = strlen(e->path);
	const char *p = plen > room ? e->path + plen - room : e->path;
	snprintf(e->fqname, sizeof(e->fqname), "uprobe %.*s%s", (int)room, p, tail);
	return 0;
}

/* ---- one name ------------------------------------------------------------ */

static int is_term_start(const char *p)
{
	if (!isalpha((unsigned char)*p) && *p != '_')
		return 0;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	return *p == '=';
}

/*
 * Where the /.../ part of item starts (its length when there is none). A
 * uprobe's path has slashes of its own: there only "/TERM=" opens it.
 */
static size_t terms_at(const char *item, size_t len)
{
	int uprobe = strncmp(item, UPROBE_PREFIX, strlen(UPROBE_PREFIX)) == 0;
	for (size_t i = 0; i < len; i++)
		if (item[i] == '/' && (!uprobe || is_term_start(item + i + 1)))
			return i;
	return len;
}

static int parse_period(const char *v, size_t n, uint64_t *out)
{
	if (n == 0 || n > 19)
		return -EINVAL;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -EINVAL;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x == 0)
		return -EINVAL;
	*out = x;
	return 0;
}

/* "/period=N/" (terms separated by commas; period is the only one). */
static int parse_terms(const char *item, const char *t, struct ev_spec *e, char *err,
		       size_t errlen)
{
	const char *close = strchr(t + 1, '/');
	if (!close)
		return fail(err, errlen, -EINVAL, "missing closing '/' in '%s' (write "
			    "NAME/period=N/)", item);
	if (close[1])
		return fail(err, errlen, -EINVAL, "unexpected '%s' after the closing '/' in '%s'",
			    close + 1, item);
	if (close == t + 1)
		return fail(err, errlen, -EINVAL, "empty '//' in '%s' (write NAME/period=N/)", item);
	for (const char *p = t + 1; p < close;) {
		const char *end = p + strcspn(p, ",/");
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t klen = eq ? (size_t)(eq - p) : (size_t)(end - p);
		if (!eq || klen != 6 || strncmp(p, "period", 6) != 0)
			return fail(err, errlen, -EINVAL, "unknown term '%.*s' in '%s' (only "
				    "period=N is known)", (int)(end - p), p, item);
		if (parse_period(eq + 1, (size_t)(end - eq - 1), &e->period) != 0)
			return fail(err, errlen, -EINVAL, "bad period '%.*s' in '%s': a positive "
				    "whole number is needed", (int)(end - eq - 1), eq + 1, item);
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int resolve(const char *name, pid_t pid, struct ev_spec *e, char *err, size_t errlen)
{
	if (parse_software(name, e))
		return 0;
	if (strncmp(name, UPROBE_PREFIX, strlen(UPROBE_PREFIX)) == 0)
		return parse_uprobe(name, pid, e, err, errlen);

	size_t sub = tp_shape(name);
	if (sub) {
		const char *root = ev_tracefs(0, NULL, 0);
		uint64_t id;
		if (root && tp_id(root, name, sub, &id) == 0) {
			set_tracepoint(e, name, id);
			return 0;
		}
	}

	int r = hw_encode(name, e);
	if (r == PFM_SUCCESS)
		return hw_finish(name, e, err, errlen);
	memset(&e->attr, 0, sizeof(e->attr));
	e->fqname[0] = '\0';
	if (r == PFM_ERR_UMASK)
		return fail(err, errlen, -EINVAL, "'%s' needs a unit mask: %s:UMASK "
			    "('pyrometer events --all' lists them)", name, name);
	if (r != PFM_ERR_NOTFOUND && r != PFM_ERR_NOINIT)
		return fail(err, errlen, -EINVAL, "cannot use '%s': %s (libpfm4)", name,
			    pfm_strerror(r));
	if (sub)
		return tp_last_try(name, sub, e, err, errlen);
	return fail(err, errlen, -EINVAL, "unknown event '%s' (see 'pyrometer events')%s", name,
		    r == PFM_ERR_NOINIT ? "; libpfm4 could not initialise" : "");
}

int ev_parse_one(const char *item, pid_t pid, struct ev_spec *e, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	if (err && errlen)
		err[0] = '\0';
	size_t len = strlen(item);
	size_t nlen = terms_at(item, len);
	if (nlen == 0)
		return fail(err, errlen, -EINVAL, "empty event name in '%s'", item);
	if (nlen >= EV_NAME_MAX)
		return fail(err, errlen, -EINVAL, "event name too long (over %d characters): "
			    "'%.40s...'", EV_NAME_MAX - 1, item);
	memcpy(e->name, item, nlen);
	e->name[nlen] = '\0';
	int r = nlen < len ? parse_terms(item, item + nlen, e, err, errlen) : 0;
	if (r == 0)
		r = resolve(e->name, pid, e, err, errlen);
	e->attr.size = sizeof(e->attr);
	return r;
}

/* ---- the list ------------------------------------------------------------- */

/* Length of the item at s: up to a comma that is not inside /.../. */
static size_t item_len(const char *s)
{
	int uprobe = strncmp(s, UPROBE_PREFIX, strlen(UPROBE_PREFIX)) == 0;
	int in_terms = 0;
	size_t i;
	for (i = 0; s[i] && (in_terms || s[i] != ','); i++) {
		if (s[i] != '/')
			continue;
		if (in_terms)
			in_terms = 0;
		else if (!uprobe || is_term_start(s + i + 1))
			in_terms = 1;
	}
	return i;
}

static int add_event(struct ev_spec **v, size_t *n, size_t *cap, const char *item,
		     pid_t pid, char *err, size_t errlen)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct ev_spec *nv = realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return fail(err, errlen, -ENOMEM, "out of memory");
		*v = nv;
		*cap = ncap;
	}
	struct ev_spec *e = &(*v)[*n];
	int r = ev_parse_one(item, pid, e, err, errlen);
	if (r)
		return r;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, e->name) == 0)
			return fail(err, errlen, -EINVAL, "event '%s' is listed twice", e->name);
	(*n)++;
	return 0;
}

int ev_parse_list(const char *list, pid_t pid, struct ev_spec **out, char *err,
		  size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!list || !*list)
		return fail(err, errlen, -EINVAL, "empty event list");
	struct ev_spec *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	for (const char *s = list; r == 0;) {
		while (*s == ' ' || *s == '\t')
			s++;
		size_t len = item_len(s);
		size_t trimmed = len;
		while (trimmed && (s[trimmed - 1] == ' ' || s[trimmed - 1] == '\t'))
			trimmed--;
		if (trimmed == 0) {
			r = fail(err, errlen, -EINVAL, "empty item in event list '%s'", list);
			break;
		}
		char *item = strndup(s, trimmed);
		if (!item) {
			r = fail(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		r = add_event(&v, &n, &cap, item, pid, err, errlen);
		free(item);
		if (!s[len])
			break;
		s += len + 1;
	}
	if (r) {
		free(v);
		return r;
	}
	*out = v;
	return (int)n;
}

/* ---- opening ------------------------------------------------------------- */

static const char *const core_pmus[] = { "cpu", "cpu_core", "cpu_atom" };

int ev_core_pmu(char *buf, size_t len)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < COUNT(core_pmus); i++) {
		snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s", core_pmus[i]);
		if (access(path, F_OK) == 0) {
			if (buf && len)
				copy_str(buf, len, core_pmus[i]);
			return 0;
		}
	}
	/* Arm names its core PMUs after the architecture or the core. */
	DIR *d = opendir("/sys/bus/event_source/devices");
	if (!d)
		return -ENOENT;
	int r = -ENOENT;
	struct dirent *de;
	while (r && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "armv", 4) == 0) {
			if (buf && len)
				copy_str(buf, len, de->d_name);
			r = 0;
		}
	}
	closedir(d);
	return r;
}

const char *ev_open_reason(const struct ev_spec *e, int err, char *buf, size_t len)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case ENOENT:
	case ENODEV:
	case EOPNOTSUPP:
		if (e->kind == EV_HARDWARE && ev_core_pmu(NULL, 0) != 0)
			snprintf(buf, len, "no PMU exposed (virtual machine?)");
		else if (e->kind == EV_HARDWARE && err == EOPNOTSUPP)
			snprintf(buf, len, "this PMU cannot do that (sampling, or a modifier)");
		else if (e->kind == EV_HARDWARE)
			snprintf(buf, len, "this PMU has no such event");
		else if (e->kind == EV_TRACEPOINT && err == ENOENT)
			snprintf(buf, len, "no such tracepoint in this kernel");
		else
			snprintf(buf, len, "%s", strerror(err));
		break;
	case EACCES:
	case EPERM: {
		if (e->kind == EV_UPROBE) {
			snprintf(buf, len, "uprobes need root or CAP_PERFMON");
			break;
		}
		int paranoid = 2;
		read_int_file("/proc/sys/kernel/perf_event_paranoid", &paranoid);
		int need = e->in_kernel || e->kind == EV_TRACEPOINT || !e->attr.exclude_kernel ? 1 : 2;
		if (paranoid <= need)
			snprintf(buf, len, "permission denied although kernel.perf_event_paranoid=%d "
				 "(a container or seccomp profile may block perf_event_open)",
				 paranoid);
		else
			snprintf(buf, len, "kernel.perf_event_paranoid=%d (needs root, CAP_PERFMON "
				 "or perf_event_paranoid <= %d)", paranoid, need);
		break;
	}
	case EINVAL:
		snprintf(buf, len, "the kernel refused these settings");
		break;
	case EMFILE:
		snprintf(buf, len, "too many open files (raise ulimit -n)");
		break;
	default:
		snprintf(buf, len, "%s", strerror(err));
		break;
	}
	return buf;
}

int ev_probe(const struct ev_spec *e)
{
	struct perf_event_attr a = e->attr;
	a.size = sizeof(a);
	a.sample_period = 0;
	a.freq = 0;
	a.sample_type = 0;
	a.disabled = 0;
	if (e->kind == EV_UPROBE)
		a.config1 = (uint64_t)(uintptr_t)e->path;
	long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	close((int)fd);
	return 0;
}
