/*
 * test_evspec.c - event names into perf_event_attr: list syntax, software
 * and generic hardware names (encoded without opening them, so no PMU is
 * needed), uprobes on this process's libc, tracepoints (when tracefs is
 * mounted or we may mount it), and the reasons given for open failures.
 *
 * A uprobe's file offset is checked against the loader's view of libc
 * (dl_iterate_phdr) and against the bytes of malloc in memory, not against
 * the ELF reader the code under test uses.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "pyrometer/evspec.h"

#define ERRLEN 512

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Parse a list that must fail with rc; the message must contain word. */
static void list_fails(const char *list, int rc, const char *word)
{
	struct ev_spec *v = (struct ev_spec *)1;
	char err[ERRLEN] = "";
	int r = ev_parse_list(list, 0, &v, err, sizeof(err));
	if (r != rc || !strstr(err, word))
		print_error("list '%s': got %d '%s', want %d and '%s'\n", list, r, err, rc, word);
	assert_int_equal(r, rc);
	assert_null(v);
	assert_non_null(strstr(err, word));
}

static void one(const char *name, struct ev_spec *e)
{
	char err[ERRLEN] = "";
	int r = ev_parse_one(name, 0, e, err, sizeof(err));
	if (r)
		print_error("'%s': %d %s\n", name, r, err);
	assert_int_equal(r, 0);
	assert_string_equal(e->name, name);
	assert_int_equal(e->attr.size, sizeof(e->attr));
	assert_true(e->fqname[0] != '\0');
}

/* ---- lists --------------------------------------------------------------- */

static void test_list(void **state)
{
	(void)state;
	struct ev_spec *v = NULL;
	char err[ERRLEN];
	int n = ev_parse_list("cpu-clock,task-clock,cs", 0, &v, err, sizeof(err));
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "cpu-clock");
	assert_string_equal(v[1].name, "task-clock");
	assert_string_equal(v[2].name, "cs");
	for (int i = 0; i < n; i++)
		assert_int_equal(v[i].period, 0);
	free(v);

	n = ev_parse_list(" cycles , instructions", 0, &v, err, sizeof(err));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "cycles");
	assert_string_equal(v[1].name, "instructions");
	free(v);
}

static void test_period(void **state)
{
	(void)state;
	struct ev_spec *v = NULL;
	char err[ERRLEN];
	int n = ev_parse_list("cycles/period=100000/,instructions,page-faults/period=7/", 0, &v,
			      err, sizeof(err));
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "cycles");
	assert_int_equal(v[0].period, 100000);
	assert_int_equal(v[0].attr.sample_period, 0);
	assert_int_equal(v[1].period, 0);
	assert_string_equal(v[2].name, "page-faults");
	assert_int_equal(v[2].period, 7);
	free(v);

	n = ev_parse_list("cpu-clock/period=1000000/", 0, &v, err, sizeof(err));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].period, 1000000);
	free(v);

	/* A comma inside /.../ does not split the list. */
	list_fails("cycles/period=5,freq=2/,cpu-clock", -EINVAL, "freq");
}

static void test_bad_terms(void **state)
{
	(void)state;
	list_fails("cycles/period=0/", -EINVAL, "period");
	list_fails("cycles/period=abc/", -EINVAL, "abc");
	list_fails("cycles/period=-5/", -EINVAL, "period");
	list_fails("cycles/period=/", -EINVAL, "period");
	list_fails("cycles/period=99999999999999999999/", -EINVAL, "period");
	list_fails("cycles/period=100", -EINVAL, "missing closing '/'");
	list_fails("cycles/period=100,instructions", -EINVAL, "missing closing '/'");
	list_fails("cycles/freq=5/", -EINVAL, "unknown term 'freq=5'");
	list_fails("cycles/freq=5/", -EINVAL, "only period=N");
	list_fails("cycles//", -EINVAL, "//");
	list_fails("cycles/period=1/x", -EINVAL, "after the closing");
	list_fails("/period=1/", -EINVAL, "empty event name");
}

static void test_empty_and_duplicate(void **state)
{
	(void)state;
	list_fails("", -EINVAL, "empty");
	list_fails("cpu-clock,,task-clock", -EINVAL, "empty item");
	list_fails("cpu-clock,", -EINVAL, "empty item");
	list_fails(",cpu-clock", -EINVAL, "empty item");
	list_fails("cpu-clock,task-clock,cpu-clock", -EINVAL, "'cpu-clock' is listed twice");
	list_fails("cycles/period=10/,cycles", -EINVAL, "'cycles' is listed twice");

	char longname[EV_NAME_MAX + 10];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	list_fails(longname, -EINVAL, "too long");
	/* EV_NAME_MAX - 1 characters fit (and are then unknown). */
	longname[EV_NAME_MAX - 1] = '\0';
	list_fails(longname, -EINVAL, "unknown event");
}

/* ---- software -------------------------------------------------------------- */

static const struct {
	const char *name;
	uint64_t config;
	enum ev_role role;
	int in_kernel;
} sw_cases[] = {
	{ "cpu-clock", PERF_COUNT_SW_CPU_CLOCK, EVR_CPU_CLOCK, 0 },
	{ "task-clock", PERF_COUNT_SW_TASK_CLOCK, EVR_TASK_CLOCK, 0 },
	{ "page-faults", PERF_COUNT_SW_PAGE_FAULTS, EVR_PAGE_FAULTS, 0 },
	{ "faults", PERF_COUNT_SW_PAGE_FAULTS, EVR_PAGE_FAULTS, 0 },
	{ "minor-faults", PERF_COUNT_SW_PAGE_FAULTS_MIN, EVR_OTHER, 0 },
	{ "major-faults", PERF_COUNT_SW_PAGE_FAULTS_MAJ, EVR_OTHER, 0 },
	{ "context-switches", PERF_COUNT_SW_CONTEXT_SWITCHES, EVR_CONTEXT_SWITCHES, 1 },
	{ "cs", PERF_COUNT_SW_CONTEXT_SWITCHES, EVR_CONTEXT_SWITCHES, 1 },
	{ "cpu-migrations", PERF_COUNT_SW_CPU_MIGRATIONS, EVR_OTHER, 1 },
	{ "migrations", PERF_COUNT_SW_CPU_MIGRATIONS, EVR_OTHER, 1 },
	{ "alignment-faults", PERF_COUNT_SW_ALIGNMENT_FAULTS, EVR_OTHER, 0 },
	{ "emulation-faults", PERF_COUNT_SW_EMULATION_FAULTS, EVR_OTHER, 0 },
};

static void test_software(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sw_cases) / sizeof(sw_cases[0]); i++) {
		struct ev_spec e;
		one(sw_cases[i].name, &e);
		assert_int_equal(e.kind, EV_SOFTWARE);
		assert_int_equal(e.attr.type, PERF_TYPE_SOFTWARE);
		assert_int_equal(e.attr.config, sw_cases[i].config);
		assert_int_equal(e.role, sw_cases[i].role);
		assert_int_equal(e.in_kernel, sw_cases[i].in_kernel);
		assert_int_equal(e.attr.exclude_kernel, !sw_cases[i].in_kernel);
		assert_int_equal(e.attr.exclude_user, 0);
		assert_int_equal(e.attr.exclude_hv, 1);
		assert_int_equal(e.attr.sample_period, 0);
		assert_int_equal(e.period, 0);
	}
	/* Every name the events command lists parses, aliases too. */
	const char *name, *alias;
	size_t n = 0;
	for (size_t i = 0; (name = ev_software_name(i, &alias)) != NULL; i++, n++) {
		struct ev_spec e;
		one(name, &e);
		if (alias)
			one(alias, &e);
	}
	assert_int_equal(n, 9);
}

/* ---- generic hardware names (no PMU needed: nothing is opened) ------------- */

#define CACHE(id, op, res) \
	((id) | (PERF_COUNT_HW_CACHE_OP_##op << 8) | (PERF_COUNT_HW_CACHE_RESULT_##res << 16))

static const struct {
	const char *name;
	uint32_t type;
	uint64_t config;
	enum ev_role role;
	int user, kernel;
} hw_cases[] = {
	{ "cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, EVR_CYCLES, 1, 0 },
	{ "cpu-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, EVR_CYCLES, 1, 0 },
	{ "instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, EVR_INSTRUCTIONS, 1, 0 },
	{ "cache-references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES,
	  EVR_CACHE_REFERENCES, 1, 0 },
	{ "cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, EVR_CACHE_MISSES, 1, 0 },
	{ "branches", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS, EVR_BRANCHES, 1, 0 },
	{ "branch-instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
	  EVR_BRANCHES, 1, 0 },
	{ "branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES, EVR_BRANCH_MISSES, 1, 0 },
	{ "bus-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BUS_CYCLES, EVR_OTHER, 1, 0 },
	{ "ref-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_REF_CPU_CYCLES, EVR_OTHER, 1, 0 },
	{ "LLC-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_LL, READ, MISS),
	  EVR_OTHER, 1, 0 },
	{ "LLC-loads", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_LL, READ, ACCESS),
	  EVR_OTHER, 1, 0 },
	{ "L1-dcache-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_L1D, READ, MISS),
	  EVR_OTHER, 1, 0 },
	{ "L1-dcache-loads", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_L1D, READ, ACCESS),
	  EVR_OTHER, 1, 0 },
	{ "L1-icache-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_L1I, READ, MISS),
	  EVR_OTHER, 1, 0 },
	{ "dTLB-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_DTLB, READ, MISS),
	  EVR_OTHER, 1, 0 },
	{ "iTLB-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_ITLB, READ, MISS),
	  EVR_OTHER, 1, 0 },
	{ "LLC-store-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_LL, WRITE, MISS),
	  EVR_OTHER, 1, 0 },
	{ "cycles:u", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, EVR_CYCLES, 1, 0 },
	{ "cycles:k", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, EVR_CYCLES, 0, 1 },
	{ "instructions:u", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, EVR_INSTRUCTIONS, 1, 0 },
	{ "LLC-load-misses:u", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_LL, READ, MISS),
	  EVR_OTHER, 1, 0 },
};

static void test_hardware(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hw_cases) / sizeof(hw_cases[0]); i++) {
		struct ev_spec e;
		one(hw_cases[i].name, &e);
		if (e.attr.type != hw_cases[i].type || e.attr.config != hw_cases[i].config)
			print_error("%s: type %u config %#llx\n", hw_cases[i].name, e.attr.type,
				    (unsigned long long)e.attr.config);
		assert_int_equal(e.kind, EV_HARDWARE);
		assert_int_equal(e.attr.type, hw_cases[i].type);
		assert_int_equal(e.attr.config, hw_cases[i].config);
		assert_int_equal(e.role, hw_cases[i].role);
		assert_int_equal(e.attr.exclude_user, !hw_cases[i].user);
		assert_int_equal(e.attr.exclude_kernel, !hw_cases[i].kernel);
		assert_int_equal(e.attr.exclude_hv, 1);
		assert_int_equal(e.in_kernel, 0);
		assert_int_equal(e.attr.sample_period, 0);
		assert_int_equal(e.attr.freq, 0);
	}
}

/* Our own table agrees with libpfm4 wherever both know a name. */
static void test_generic_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hw_cases) / sizeof(hw_cases[0]); i++) {
		struct ev_spec a, b;
		memset(&b, 0, sizeof(b));
		one(hw_cases[i].name, &a);
		assert_int_equal(ev_generic_encode(hw_cases[i].name, &b), 0);
		assert_int_equal(b.kind, EV_HARDWARE);
		assert_int_equal(b.attr.type, a.attr.type);
		assert_int_equal(b.attr.config, a.attr.config);
		assert_int_equal(b.attr.exclude_user, a.attr.exclude_user);
		assert_int_equal(b.attr.exclude_kernel, a.attr.exclude_kernel);
		assert_int_equal(b.attr.exclude_hv, 1);
		assert_int_equal(b.role, a.role);
	}
	static const char *const others[] = {
		"L1-dcache-stores", "L1-dcache-prefetch-misses", "branch-loads", "node-load-misses",
		"stalled-cycles-frontend", "stalled-cycles-backend", "iTLB-loads", "cycles:u:k",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		struct ev_spec a, b;
		one(others[i], &a);
		assert_int_equal(ev_generic_encode(others[i], &b), 0);
		assert_int_equal(b.attr.type, a.attr.type);
		assert_int_equal(b.attr.config, a.attr.config);
	}
	struct ev_spec b;
	assert_int_equal(ev_generic_encode("cycles:x", &b), -EINVAL);
	assert_int_equal(ev_generic_encode("cycles:", &b), -EINVAL);
	assert_int_equal(ev_generic_encode("cycles:uk", &b), -EINVAL);
	assert_int_equal(ev_generic_encode("cycles::u", &b), -EINVAL);
	assert_int_equal(ev_generic_encode("cycles:u:", &b), -EINVAL);
	assert_int_equal(ev_generic_encode("LLC-misses", &b), -EINVAL);
	assert_int_equal(ev_generic_encode("cpu-clock", &b), -EINVAL);
}

static void test_unknown(void **state)
{
	(void)state;
	struct ev_spec e;
	char err[ERRLEN];
	assert_int_equal(ev_parse_one("nosuchevent", 0, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'nosuchevent'"));
	assert_non_null(strstr(err, "pyrometer events"));
	assert_int_equal(ev_parse_one("cyclez", 0, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cyclez"));
	/* A known event with a bad modifier: libpfm4's (or our) complaint. */
	assert_int_equal(ev_parse_one("cycles:x", 0, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cycles:x"));
	list_fails("cpu-clock,bogus-event", -EINVAL, "'bogus-event'");
	/* A NULL err is allowed. */
	assert_int_equal(ev_parse_one("nosuchevent", 0, &e, NULL, 0), -EINVAL);
}

/* ---- uprobes --------------------------------------------------------------- */

struct libc_view {
	uintptr_t addr;     /* malloc in memory */
	uint64_t offset;    /* its file offset, from the loader's headers */
	int found;
};

static int find_in_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct libc_view *v = arg;
	(void)size;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libc.so"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && v->addr >= start && v->addr - start < ph->p_memsz) {
			v->offset = v->addr - start + ph->p_offset;
			v->found = 1;
			return 1;
		}
	}
	return 0;
}

/* Where libc's own malloc is (not a sanitizer's interposed one). */
static struct libc_view libc_malloc(void)
{
	struct libc_view v = { 0 };
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	v.addr = (uintptr_t)dlsym(h, "malloc");
	assert_true(v.addr != 0);
	dl_iterate_phdr(find_in_libc, &v);
	dlclose(h);
	assert_true(v.found);
	return v;
}

static int uprobe_type(void)
{
	int type = -1;
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	return type;
}

static void test_uprobe(void **state)
{
	(void)state;
	int type = uprobe_type();
	if (type < 0) {
		printf("skipped: this kernel has no uprobe PMU\n");
		skip();
	}
	struct ev_spec e;
	one("uprobe:libc:malloc", &e);
	assert_int_equal(e.kind, EV_UPROBE);
	assert_int_equal(e.attr.type, (uint32_t)type);
	assert_true(e.path[0] == '/');
	assert_true(ends_with(e.path, "libc.so.6"));
	assert_int_equal(e.attr.config, 0);
	assert_int_equal(e.attr.config1, 0);
	assert_true(e.attr.config2 != 0);
	assert_int_equal(e.attr.exclude_kernel, 1);
	assert_int_equal(e.in_kernel, 0);
	assert_int_equal(e.role, EVR_OTHER);
	assert_true(strncmp(e.fqname, "uprobe /", 8) == 0);
	assert_true(ends_with(e.fqname, " (malloc)"));

	/* The same offset as the loader's program headers give, and the file
	 * holds malloc's code there. */
	struct libc_view v = libc_malloc();
	assert_int_equal(e.attr.config2, v.offset);
	struct stat st;
	assert_int_equal(stat(e.path, &st), 0);
	assert_true(e.attr.config2 + 16 <= (uint64_t)st.st_size);
	unsigned char file[16];
	int fd = open(e.path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, file, sizeof(file), (off_t)e.attr.config2), sizeof(file));
	close(fd);
	assert_memory_equal(file, (const void *)v.addr, sizeof(file));

	/* By path, by our own pid, with a period after the path's slashes. */
	char name[EV_NAME_MAX], err[ERRLEN];
	struct ev_spec e2;
	assert_true(snprintf(name, sizeof(name), "uprobe:%s:malloc", e.path) < (int)sizeof(name));
	one(name, &e2);
	assert_int_equal(e2.attr.config2, e.attr.config2);
	assert_string_equal(e2.path, e.path);
	assert_int_equal(ev_parse_one("uprobe:libc:malloc", getpid(), &e2, err, sizeof(err)), 0);
	assert_int_equal(e2.attr.config2, e.attr.config2);

	char list[2 * EV_NAME_MAX];
	assert_true(snprintf(list, sizeof(list), "uprobe:%s:malloc/period=3/,cpu-clock", e.path) <
		    (int)sizeof(list));
	struct ev_spec *l = NULL;
	assert_int_equal(ev_parse_list(list, 0, &l, err, sizeof(err)), 2);
	assert_string_equal(l[0].name, name);
	assert_int_equal(l[0].period, 3);
	assert_string_equal(l[1].name, "cpu-clock");
	free(l);

	/* Root (or CAP_PERFMON) may open it on ourselves. */
	if (geteuid() == 0)
		assert_int_equal(ev_probe(&e), 0);
}

/* A function of this binary for a uprobe to count. */
__attribute__((noinline)) int evspec_test_probed(int x);
__attribute__((noinline)) int evspec_test_probed(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

/* End to end, where uprobes may be opened: the offset makes the kernel
 * count exactly the calls made. */
static void test_uprobe_counts(void **state)
{
	(void)state;
	if (uprobe_type() < 0 || geteuid() != 0) {
		printf("skipped: uprobes need root and a uprobe PMU\n");
		skip();
	}
	char exe[PATH_MAX], name[EV_NAME_MAX + PATH_MAX];
	assert_non_null(realpath("/proc/self/exe", exe));
	const char *base = strrchr(exe, '/') + 1;
	snprintf(name, sizeof(name), "uprobe:%s:evspec_test_probed", base);
	struct ev_spec e;
	one(name, &e);
	assert_string_equal(e.path, exe);

	struct perf_event_attr a = e.attr;
	a.config1 = (uint64_t)(uintptr_t)e.path;
	a.disabled = 1;
	int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, PERF_EVENT_IOC_ENABLE, 0), 0);
	int x = 0;
	for (int i = 0; i < 25; i++)
		x = evspec_test_probed(x);
	assert_int_equal(ioctl(fd, PERF_EVENT_IOC_DISABLE, 0), 0);
	uint64_t count = 0;
	assert_int_equal(read(fd, &count, sizeof(count)), sizeof(count));
	close(fd);
	assert_int_equal(x, 25);
	assert_int_equal(count, 25);
}

static void test_uprobe_errors(void **state)
{
	(void)state;
	if (uprobe_type() < 0) {
		printf("skipped: this kernel has no uprobe PMU\n");
		skip();
	}
	struct ev_spec e;
	char err[ERRLEN];
	assert_int_equal(ev_parse_one("uprobe:libc:no_such_symbol_xyz", 0, &e, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "no symbol no_such_symbol_xyz in /"));
	assert_int_equal(ev_parse_one("uprobe:libnosuchlib:malloc", 0, &e, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "libnosuchlib"));
	assert_int_equal(ev_parse_one("uprobe:/no/such/libfoo.so:malloc", 0, &e, err,
				      sizeof(err)), -ENOENT);
	/* glibc's memcpy is an IFUNC on x86-64: its symbol is the resolver. */
#if defined(__x86_64__) && defined(__GLIBC__)
	assert_int_equal(ev_parse_one("uprobe:libc:memcpy", 0, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "IFUNC"));
#endif
	assert_int_equal(ev_parse_one("uprobe:libc", 0, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "uprobe:LIBRARY:SYMBOL"));
	assert_int_equal(ev_parse_one("uprobe:libc:", 0, &e, err, sizeof(err)), -EINVAL);
	assert_int_equal(ev_parse_one("uprobe:libc:malloc/freq=1/", 0, &e, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "freq"));
}

/* ---- tracepoints --------------------------------------------------------- */

static const char *tracefs_or_skip(void)
{
	char why[ERRLEN];
	const char *root = ev_tracefs(geteuid() == 0, why, sizeof(why));
	if (!root) {
		printf("skipped: %s\n", why);
		skip();
	}
	return root;
}

static uint64_t read_id(const char *root, const char *sub, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/events/%s/%s/id", root, sub, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned long long id = 0;
	assert_int_equal(fscanf(f, "%llu", &id), 1);
	fclose(f);
	return id;
}

struct tp_seen {
	int sched_switch;
	int unsorted;
	char last[EV_NAME_MAX * 2];
	int n;
};

static int note_tp(const char *name, void *arg)
{
	struct tp_seen *s = arg;
	if (strcmp(name, "sched:sched_switch") == 0)
		s->sched_switch = 1;
	if (s->n && strcmp(s->last, name) >= 0)
		s->unsorted = 1;
	snprintf(s->last, sizeof(s->last), "%s", name);
	s->n++;
	return 0;
}

static void test_tracepoint(void **state)
{
	(void)state;
	const char *root = tracefs_or_skip();
	struct ev_spec e;
	one("sched:sched_switch", &e);
	assert_int_equal(e.kind, EV_TRACEPOINT);
	assert_int_equal(e.attr.type, PERF_TYPE_TRACEPOINT);
	assert_int_equal(e.attr.config, read_id(root, "sched", "sched_switch"));
	assert_int_equal(e.in_kernel, 1);
	assert_int_equal(e.attr.exclude_kernel, 0);
	assert_string_equal(e.fqname, "tracepoint sched:sched_switch");
	if (geteuid() == 0)
		assert_int_equal(ev_probe(&e), 0);

	/* Tracepoints, hardware names with modifiers and periods in one list. */
	struct ev_spec *v = NULL;
	char err[ERRLEN];
	int n = ev_parse_list("cycles:u,sched:sched_switch/period=1/,cs", 0, &v, err,
			      sizeof(err));
	assert_int_equal(n, 3);
	assert_int_equal(v[0].kind, EV_HARDWARE);
	assert_int_equal(v[1].kind, EV_TRACEPOINT);
	assert_int_equal(v[1].period, 1);
	assert_int_equal(v[2].kind, EV_SOFTWARE);
	free(v);

	assert_int_equal(ev_parse_one("sched:no_such_tracepoint", 0, &e, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "sched:no_such_tracepoint"));
	assert_non_null(strstr(err, "pyrometer events --all"));
	assert_int_equal(ev_parse_one("nosuchsubsys:foo", 0, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nosuchsubsys:foo"));

	struct tp_seen seen = { 0 };
	int count = ev_tracepoints_each(root, note_tp, &seen);
	assert_true(count > 10);
	assert_int_equal(seen.n, count);
	assert_true(seen.sched_switch);
	assert_false(seen.unsorted);
	assert_int_equal(ev_tracepoints_each(root, NULL, NULL), count);
}

/* ---- opening and reasons --------------------------------------------------- */

static void test_probe(void **state)
{
	(void)state;
	struct ev_spec e;
	one("cpu-clock", &e);
	assert_int_equal(ev_probe(&e), 0);
	one("page-faults", &e);
	assert_int_equal(ev_probe(&e), 0);

	one("cycles", &e);
	if (ev_core_pmu(NULL, 0) != 0) {
		int r = ev_probe(&e);
		assert_true(r < 0);
		char buf[256];
		ev_open_reason(&e, r, buf, sizeof(buf));
		assert_string_equal(buf, "no PMU exposed (virtual machine?)");
	}
}

static void test_open_reason(void **state)
{
	(void)state;
	struct ev_spec hw, cs, up = { 0 };
	char buf[256];
	one("cycles", &hw);
	one("cs", &cs);
	up.kind = EV_UPROBE;
	up.attr.exclude_kernel = 1;

	const char *r = ev_open_reason(&hw, -ENOENT, buf, sizeof(buf));
	assert_ptr_equal(r, buf);
	if (ev_core_pmu(NULL, 0) != 0)
		assert_string_equal(buf, "no PMU exposed (virtual machine?)");
	else
		assert_string_equal(buf, "this PMU has no such event");
	ev_open_reason(&hw, ENOENT, buf, sizeof(buf)); /* either sign */
	assert_true(strstr(buf, "PMU") != NULL);

	int paranoid = 2;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (f) {
		if (fscanf(f, "%d", &paranoid) != 1)
			paranoid = 2;
		fclose(f);
	}
	char want[128];
	ev_open_reason(&hw, -EACCES, buf, sizeof(buf));
	if (paranoid > 2) {
		snprintf(want, sizeof(want), "kernel.perf_event_paranoid=%d (needs root, "
			 "CAP_PERFMON or perf_event_paranoid <= 2)", paranoid);
		assert_string_equal(buf, want);
	}
	ev_open_reason(&cs, -EPERM, buf, sizeof(buf));
	if (paranoid > 1) {
		snprintf(want, sizeof(want), "kernel.perf_event_paranoid=%d (needs root, "
			 "CAP_PERFMON or perf_event_paranoid <= 1)", paranoid);
		assert_string_equal(buf, want);
	}
	ev_open_reason(&up, -EACCES, buf, sizeof(buf));
	assert_string_equal(buf, "uprobes need root or CAP_PERFMON");
	ev_open_reason(&cs, -EINVAL, buf, sizeof(buf));
	assert_string_equal(buf, "the kernel refused these settings");
	ev_open_reason(&cs, -EMFILE, buf, sizeof(buf));
	assert_string_equal(buf, "too many open files (raise ulimit -n)");
	ev_open_reason(&cs, -EBADF, buf, sizeof(buf));
	assert_string_equal(buf, strerror(EBADF));
	/* A short buffer is cut, not overrun. */
	char tiny[8];
	ev_open_reason(&hw, -EMFILE, tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

struct pfm_seen {
	int perf_cycles;
	int n;
};

static int note_pfm(const struct ev_pmu_event *ev, void *arg)
{
	struct pfm_seen *s = arg;
	assert_non_null(ev->pmu);
	assert_non_null(ev->event);
	if (strcmp(ev->pmu, "perf") == 0 && strcmp(ev->event, "PERF_COUNT_HW_CPU_CYCLES") == 0)
		s->perf_cycles = 1;
	s->n++;
	return 0;
}

static void test_pfm_each(void **state)
{
	(void)state;
	struct pfm_seen s = { 0 };
	int n = ev_pfm_each(note_pfm, &s);
	if (n == -ENOSYS) {
		printf("skipped: libpfm4 does not initialise here\n");
		skip();
	}
	assert_true(n > 0);
	assert_true(s.n >= n);
	assert_true(s.perf_cycles);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_bad_terms),
		cmocka_unit_test(test_empty_and_duplicate),
		cmocka_unit_test(test_software),
		cmocka_unit_test(test_hardware),
		cmocka_unit_test(test_generic_table),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_uprobe),
		cmocka_unit_test(test_uprobe_counts),
		cmocka_unit_test(test_uprobe_errors),
		cmocka_unit_test(test_tracepoint),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_open_reason),
		cmocka_unit_test(test_pfm_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
