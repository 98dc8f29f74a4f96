/*
 * test_symtab.c - module symbol tables: this test binary, the libc it runs
 * with, and fixtures built at run time with cc/objcopy/xz the way
 * distributions strip binaries (.gnu_debugdata, .gnu_debuglink, build-id
 * directories), plus corrupt files.
 *
 * Expected addresses come from elfsym_lookup (name -> value, another code
 * path) or from the running process itself, never from the code under test.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pyrometer/elfsym.h"
#include "pyrometer/symtab.h"

/* ---- functions of this binary to find -------------------------------- */

__attribute__((noinline, used)) static int symtab_test_static_fn(int x)
{
	return x * 7 + (int)(intptr_t)&symtab_test_static_fn % 3;
}

__attribute__((noinline)) int symtab_test_global_fn(int x);
__attribute__((noinline)) int symtab_test_global_fn(int x)
{
	return symtab_test_static_fn(x) + 1;
}

/* In .rodata: no function covers it. */
static const char rodata_marker[64] = "not a function";

/* ---- helpers ---------------------------------------------------------- */

struct where {
	uintptr_t addr;
	uintptr_t bias;
	char path[4096];
	int found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct where *w = arg;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type != PT_LOAD || w->addr < start || w->addr - start >= ph->p_memsz)
			continue;
		w->bias = info->dlpi_addr;
		if (info->dlpi_name && info->dlpi_name[0]) {
			snprintf(w->path, sizeof(w->path), "%s", info->dlpi_name);
		} else {
			ssize_t n = readlink("/proc/self/exe", w->path, sizeof(w->path) - 1);
			w->path[n > 0 ? n : 0] = '\0';
		}
		w->found = 1;
		return 1;
	}
	return 0;
}

/* The file holding runtime address addr and addr's file vaddr in it. */
static uint64_t file_vaddr_of(const void *addr, char *path, size_t cap)
{
	struct where w = { .addr = (uintptr_t)addr };

	dl_iterate_phdr(find_object, &w);
	assert_true(w.found);
	snprintf(path, cap, "%s", w.path);
	return (uint64_t)(w.addr - w.bias);
}

static int have_tools(void)
{
	return system("{ command -v cc && command -v objcopy && command -v xz; } >/dev/null 2>&1") == 0;
}

static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	assert_true(n > 0);
	fseek(f, 0, SEEK_SET);
	void *buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void expect_sym(const struct symtab *t, uint64_t vaddr, const char *name, uint64_t off)
{
	const char *got = NULL;
	uint64_t got_off = ~0ull;

	assert_int_equal(symtab_lookup(t, vaddr, &got, &got_off), 0);
	assert_string_equal(got, name);
	assert_int_equal(got_off, off);
}

/* Value of one symbol through elfsym (name -> value), 0 if absent. */
static uint64_t value_of(const char *path, const char *name)
{
	struct elfsym_file info;
	uint64_t v = 0;
	const char *names[] = { name };

	assert_int_equal(elfsym_lookup(path, names, &v, 1, &info), 0);
	return v;
}

/* ---- fixtures built at run time ------------------------------------- */

static const char fixture_src[] =
	"static int __attribute__((noinline)) fixture_hidden(int x) { return x * 3 + 1; }\n"
	"int fixture_entry(int x) __asm__(\"_ZN7fixture5entryEi\");\n"
	"int __attribute__((noinline)) fixture_entry(int x) { return fixture_hidden(x) + 2; }\n"
	"int main(int argc, char **argv) { (void)argv; return fixture_entry(argc); }\n";

struct fixture {
	char dir[64];
	int ok;             /* the tools exist and the fixture was built */
	uint64_t hidden, entry; /* their vaddrs, from the unstripped file */
};

static int fixture_setup(void **state)
{
	static struct fixture fx;
	char path[256];

	*state = &fx;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/pyrometer-symtab.XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	if (!have_tools())
		return 0;
	snprintf(path, sizeof(path), "%s/fixture.c", fx.dir);
	write_file(path, fixture_src, strlen(fixture_src));
	/* full: unstripped. withdd: stripped + MiniDebugInfo, made as Fedora
	 * does (a symbols-only ELF, xz'd, added as .gnu_debugdata). linked:
	 * stripped + .gnu_debuglink to prog.debug. noid: no build-id. other:
	 * another build (different code, so a different build-id). */
	int rc = sh("set -e; cd '%s'; exec >/dev/null 2>&1;"
		    "cc -O0 -g -Wl,--build-id -o full fixture.c;"
		    "cc -O0 -g -Wl,--build-id=none -o noid fixture.c;"
		    "cc -O1 -g -Wl,--build-id -o other fixture.c;"
		    "objcopy --only-keep-debug full full.dbg;"
		    "objcopy --strip-debug --remove-section=.comment full.dbg mini;"
		    "xz -k mini;"
		    "objcopy --strip-all full stripped;"
		    "objcopy --add-section .gnu_debugdata=mini.xz stripped withdd;"
		    "head -c 4096 /dev/urandom > junk.xz;"
		    "objcopy --add-section .gnu_debugdata=junk.xz stripped baddd;"
		    "objcopy --only-keep-debug full prog.debug;"
		    "objcopy --strip-all --add-gnu-debuglink=prog.debug full linked;"
		    "objcopy --only-keep-debug other other.debug",
		    fx.dir);
	if (rc != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/full", fx.dir);
	fx.hidden = value_of(path, "fixture_hidden");
	fx.entry = value_of(path, "_ZN7fixture5entryEi");
	if (!fx.hidden || !fx.entry)
		return -1;
	fx.ok = 1;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *fx = *state;

	sh("rm -rf '%s'", fx->dir);
	return 0;
}

#define NEED_FIXTURE(fx)                                                            \
	do {                                                                        \
		if (!(fx)->ok) {                                                    \
			print_message("skipped: cc, objcopy or xz not installed\n"); \
			skip();                                                     \
		}                                                                   \
	} while (0)

/* ---- this binary ------------------------------------------------------ */

static void test_self(void **state)
{
	char path[4096], text[512];
	uint64_t st = file_vaddr_of((const void *)symtab_test_static_fn, path, sizeof(path));
	uint64_t gl = file_vaddr_of((const void *)symtab_test_global_fn, path, sizeof(path));
	uint64_t ro = file_vaddr_of(rodata_marker, path, sizeof(path));
	struct symtab *t = symtab_load(path, NULL);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->name, "test_symtab");
	assert_true(t->sources & SYMTAB_FROM_SYMTAB);
	expect_sym(t, st, "symtab_test_static_fn", 0);
	expect_sym(t, st + 3, "symtab_test_static_fn", 3);
	expect_sym(t, gl, "symtab_test_global_fn", 0);

	/* The symbol's size is the function's: its last byte is covered, the
	 * next byte belongs to something else or to nobody. */
	const char *name;
	uint64_t off;
	size_t i;
	for (i = 0; i < t->nsyms && t->syms[i].addr != gl; i++)
		;
	assert_true(i < t->nsyms);
	uint64_t size = t->syms[i].size;
	assert_true(size > 0 && size < 4096);
	expect_sym(t, gl + size - 1, "symtab_test_global_fn", size - 1);
	if (symtab_lookup(t, gl + size, &name, &off) == 0)
		assert_string_not_equal(name, "symtab_test_global_fn");
	/* Sorted, one symbol per address. */
	for (i = 1; i < t->nsyms; i++)
		assert_true(t->syms[i - 1].addr < t->syms[i].addr);

	assert_int_equal(symtab_format(t, gl + 5, text, sizeof(text)),
			 strlen("symtab_test_global_fn [test_symtab]"));
	assert_string_equal(text, "symtab_test_global_fn [test_symtab]");

	/* Data is in no function: module+vaddr. */
	assert_int_equal(symtab_lookup(t, ro, &name, &off), -ENOENT);
	char want[128];
	snprintf(want, sizeof(want), "[test_symtab+0x%" PRIx64 "]", ro);
	assert_int_equal(symtab_format(t, ro, text, sizeof(text)), strlen(want));
	assert_string_equal(text, want);
	/* Truncated like snprintf; the full length is still returned. */
	assert_int_equal(symtab_format(t, ro, text, 6), strlen(want));
	assert_string_equal(text, "[test");
	assert_int_equal(symtab_format(t, ro, NULL, 0), strlen(want));
	/* Below every symbol. */
	assert_int_equal(symtab_lookup(t, 0, NULL, NULL), -ENOENT);
	symtab_free(t);
}

/* PLT slots are named NAME@plt, as objdump names them in this binary. */
static void test_plt(void **state)
{
	char exe[4096], line[4200];
	(void)state;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	if (system("command -v objdump >/dev/null 2>&1") != 0) {
		print_message("skipped: objdump not installed\n");
		skip();
	}
	struct symtab *t = symtab_load(exe, NULL);
	assert_non_null(t);
	snprintf(line, sizeof(line), "objdump -d -j .plt -j .plt.sec '%s' 2>/dev/null", exe);
	FILE *f = popen(line, "r");
	assert_non_null(f);
	int slots = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char name[512];
		/* "0000000000001030 <malloc@plt>:" */
		size_t len;
		if (sscanf(line, "%llx <%511[^>]>:", &addr, name) != 2 ||
		    (len = strlen(name)) < 5 || strcmp(name + len - 4, "@plt") != 0)
			continue;   /* not a slot (the header is "X@plt-0x10") */
		const char *got;
		uint64_t off = 99;
		assert_int_equal(symtab_lookup(t, addr, &got, &off), 0);
		assert_string_equal(got, name);
		assert_int_equal(off, 0);
		assert_int_equal(symtab_lookup(t, addr + 15, &got, &off), 0);
		assert_string_equal(got, name);
		slots++;
	}
	pclose(f);
	print_message("  %d PLT slots named as objdump names them\n", slots);
	assert_true(slots >= 5);   /* printf, malloc, strcmp... */
	symtab_free(t);
}

/* The file offset of a runtime address, from /proc/self/maps, turned back
 * into a vaddr by the table's PT_LOADs. */
static void test_offsets(void **state)
{
	char path[4096], line[8192], mpath[4096];
	uint64_t gl = file_vaddr_of((const void *)symtab_test_global_fn, path, sizeof(path));
	uintptr_t pc = (uintptr_t)symtab_test_global_fn;
	uint64_t offset = 0, vaddr = 0, back = 0;
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, pgoff;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %4095s", &start, &end, &pgoff, mpath) == 4 &&
		    pc >= start && pc < end) {
			offset = pc - start + pgoff;
			found = 1;
		}
	}
	fclose(f);
	assert_true(found);

	struct symtab *t = symtab_load(path, NULL);
	assert_non_null(t);
	assert_true(t->nloads >= 2);
	assert_int_equal(symtab_offset_to_vaddr(t, offset, &vaddr), 0);
	assert_int_equal(vaddr, gl);
	assert_int_equal(symtab_vaddr_to_offset(t, vaddr, &back), 0);
	assert_int_equal(back, offset);
	assert_int_equal(symtab_offset_to_vaddr(t, UINT64_MAX - 1, &vaddr), -ENOENT);
	symtab_free(t);
}

/* The build-id as readelf prints it. */
static void test_build_id(void **state)
{
	char path[4096], cmd[4200], want[256] = "", hex[2 * SYMTAB_BUILD_ID_MAX + 1];

	(void)state;
	file_vaddr_of((const void *)symtab_test_global_fn, path, sizeof(path));
	struct symtab *t = symtab_load(path, NULL);
	assert_non_null(t);
	assert_int_equal(symtab_build_id(path, NULL, hex, sizeof(hex)), 0);
	assert_string_equal(hex, t->build_id);
	assert_true(strlen(hex) >= 16 && strspn(hex, "0123456789abcdef") == strlen(hex));

	snprintf(cmd, sizeof(cmd), "readelf -n '%s' 2>/dev/null | sed -n 's/.*Build ID: *//p'",
		 path);
	FILE *p = popen(cmd, "r");
	if (p && fgets(want, sizeof(want), p))
		want[strcspn(want, "\n")] = '\0';
	if (p)
		pclose(p);
	symtab_free(t);
	if (!want[0]) {
		print_message("skipped: readelf not installed\n");
		skip();
	}
	assert_string_equal(hex, want);
}

/* ---- the libc this test runs with (.dynsym) ------------------------- */

static void test_libc(void **state)
{
	char path[4096], path2[4096];
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

	(void)state;
	assert_non_null(h);
	/* From libc's own handle: sanitizers interpose malloc and qsort. */
	void *q = dlsym(h, "qsort"), *m = dlsym(h, "malloc");
	assert_non_null(q);
	assert_non_null(m);
	uint64_t qv = file_vaddr_of(q, path, sizeof(path));
	uint64_t mv = file_vaddr_of(m, path2, sizeof(path2));
	assert_string_equal(path, path2);

	struct symtab *t = symtab_load(path, NULL);
	assert_non_null(t);
	assert_true(t->sources & SYMTAB_FROM_DYNSYM);
	assert_int_equal(t->type, ET_DYN);
	expect_sym(t, qv, "qsort", 0);
	expect_sym(t, qv + 4, "qsort", 4);
	/* malloc and __libc_malloc are one function: the public name wins. */
	expect_sym(t, mv, "malloc", 0);
	char text[256];
	symtab_format(t, mv + 1, text, sizeof(text));
	char want[256];
	snprintf(want, sizeof(want), "malloc [%s]", t->name);
	assert_string_equal(text, want);
	symtab_free(t);
	dlclose(h);
}

/* ---- fixtures --------------------------------------------------------- */

static struct symtab *load_fx(const struct fixture *fx, const char *file, const char *dirs)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, file);
	return symtab_load_dirs(path, NULL, dirs);
}

static void test_debugdata(void **state)
{
	struct fixture *fx = *state;

	NEED_FIXTURE(fx);
	/* Stripped without it: the static function has no name. */
	struct symtab *t = load_fx(fx, "stripped", "");
	assert_non_null(t);
	assert_int_equal(symtab_lookup(t, fx->hidden, NULL, NULL), -ENOENT);
	assert_int_equal(t->sources & SYMTAB_FROM_DEBUGDATA, 0);
	symtab_free(t);

	t = load_fx(fx, "withdd", "");
	assert_non_null(t);
	assert_true(t->sources & SYMTAB_FROM_DEBUGDATA);
	assert_int_equal(t->sources & SYMTAB_FROM_SYMTAB, 0);
	expect_sym(t, fx->hidden, "fixture_hidden", 0);
	expect_sym(t, fx->hidden + 4, "fixture_hidden", 4);
	expect_sym(t, fx->entry, "_ZN7fixture5entryEi", 0);
	symtab_free(t);

	/* Garbage instead of xz: the rest of the file still loads. */
	t = load_fx(fx, "baddd", "");
	assert_non_null(t);
	assert_int_equal(t->sources & SYMTAB_FROM_DEBUGDATA, 0);
	assert_int_equal(symtab_lookup(t, fx->hidden, NULL, NULL), -ENOENT);
	symtab_free(t);
}

static void expect_debug_file(const struct fixture *fx, const char *dirs, const char *debug)
{
	struct symtab *t = load_fx(fx, "linked", dirs);

	assert_non_null(t);
	if (!debug) {
		assert_null(t->debug_path);
		assert_int_equal(symtab_lookup(t, fx->hidden, NULL, NULL), -ENOENT);
		symtab_free(t);
		return;
	}
	assert_true(t->sources & SYMTAB_FROM_DEBUGFILE);
	assert_non_null(t->debug_path);
	assert_string_equal(t->debug_path, debug);
	expect_sym(t, fx->hidden, "fixture_hidden", 0);
	expect_sym(t, fx->entry + 2, "_ZN7fixture5entryEi", 2);
	symtab_free(t);
}

static void test_debuglink(void **state)
{
	struct fixture *fx = *state;
	char want[512], dirs[256];

	NEED_FIXTURE(fx);
	const char *d = fx->dir;
	/* Next to the module. */
	snprintf(want, sizeof(want), "%s/prog.debug", d);
	expect_debug_file(fx, "", want);

	/* In its .debug/. */
	assert_int_equal(sh("cd '%s' && mkdir -p .debug && mv prog.debug .debug/", d), 0);
	snprintf(want, sizeof(want), "%s/.debug/prog.debug", d);
	expect_debug_file(fx, "", want);

	/* A debug file that changed since the link was made: CRC mismatch. */
	assert_int_equal(sh("cd '%s' && cp .debug/prog.debug good.debug && "
			    "echo x >> .debug/prog.debug", d), 0);
	expect_debug_file(fx, "", NULL);

	/* In DIR + the module's directory, DIR the second of the list. */
	snprintf(dirs, sizeof(dirs), "/nonexistent:%s/root", d);
	assert_int_equal(sh("cd '%s' && rm .debug/prog.debug && mkdir -p 'root%s' && "
			    "cp good.debug 'root%s/prog.debug'", d, d, d), 0);
	snprintf(want, sizeof(want), "%s/root%s/prog.debug", d, d);
	expect_debug_file(fx, dirs, want);
	assert_int_equal(sh("rm -r '%s/root'", d), 0);
	expect_debug_file(fx, dirs, NULL);
}

static void test_build_id_dir(void **state)
{
	struct fixture *fx = *state;
	char path[256], hex[2 * SYMTAB_BUILD_ID_MAX + 1], want[512], dirs[256];

	NEED_FIXTURE(fx);
	snprintf(path, sizeof(path), "%s/stripped", fx->dir);
	assert_int_equal(symtab_build_id(path, NULL, hex, sizeof(hex)), 0);
	snprintf(dirs, sizeof(dirs), "%s/bid", fx->dir);
	assert_int_equal(sh("mkdir -p '%s/.build-id/%.2s'", dirs, hex), 0);
	snprintf(want, sizeof(want), "%s/.build-id/%.2s/%s.debug", dirs, hex, hex + 2);

	/* Another build's debug file under this build-id: refused. */
	assert_int_equal(sh("cp '%s/other.debug' '%s'", fx->dir, want), 0);
	struct symtab *t = symtab_load_dirs(path, NULL, dirs);
	assert_non_null(t);
	assert_null(t->debug_path);
	assert_int_equal(symtab_lookup(t, fx->hidden, NULL, NULL), -ENOENT);
	symtab_free(t);

	assert_int_equal(sh("cp '%s/full.dbg' '%s'", fx->dir, want), 0);
	t = symtab_load_dirs(path, NULL, dirs);
	assert_non_null(t);
	assert_non_null(t->debug_path);
	assert_string_equal(t->debug_path, want);
	expect_sym(t, fx->hidden, "fixture_hidden", 0);

	/* The same through a root prefix: the module and the debug
	 * directory both seen from inside it. */
	char root[256], inner[256], inner_dirs[256];
	snprintf(root, sizeof(root), "%s/nsroot", fx->dir);
	assert_int_equal(sh("mkdir -p '%s/lib' '%s/dbg/.build-id/%.2s' && cp '%s' '%s/lib/m.so' && "
			    "cp '%s' '%s/dbg/.build-id/%.2s/%s.debug'",
			    root, root, hex, path, root, want, root, hex, hex + 2), 0);
	snprintf(inner, sizeof(inner), "/lib/m.so");
	snprintf(inner_dirs, sizeof(inner_dirs), "/dbg");
	struct symtab *r = symtab_load_dirs(inner, root, inner_dirs);
	assert_non_null(r);
	assert_string_equal(r->name, "m.so");
	assert_string_equal(r->path, "/lib/m.so");
	expect_sym(r, fx->hidden, "fixture_hidden", 0);
	assert_string_equal(r->build_id, t->build_id);
	symtab_free(r);
	symtab_free(t);
}

/* ---- demangling ----------------------------------------------------- */

static void test_demangle(void **state)
{
	struct fixture *fx = *state;
	char *dm = symtab_demangle("_ZN3foo3barEi");

	assert_null(symtab_demangle("qsort"));
	assert_null(symtab_demangle(NULL));
	void *cxx = dlopen("libstdc++.so.6", RTLD_LAZY);
	if (!dm && !cxx) {
		print_message("skipped: no C++ runtime (libstdc++.so.6) to demangle with\n");
		skip();
	}
	if (cxx)
		dlclose(cxx);
	assert_non_null(dm);
	assert_string_equal(dm, "foo::bar(int)");
	free(dm);
	/* Not a valid mangling: no name rather than a wrong one. */
	assert_null(symtab_demangle("_Z!!"));

	NEED_FIXTURE(fx);
	char text[256];
	struct symtab *t = load_fx(fx, "full", "");
	assert_non_null(t);
	symtab_format(t, fx->entry, text, sizeof(text));
	assert_string_equal(text, "fixture::entry(int) [full]");
	symtab_free(t);
}

/* ---- the cache ------------------------------------------------------ */

static void test_cache(void **state)
{
	struct fixture *fx = *state;
	struct symtab_cache c;
	char path[4096], copy[256];

	file_vaddr_of((const void *)symtab_test_global_fn, path, sizeof(path));
	symtab_cache_init(&c, "");
	const struct symtab *a = symtab_cache_get(&c, path, NULL);
	assert_non_null(a);
	assert_ptr_equal(symtab_cache_get(&c, path, ""), a);
	assert_int_equal(c.ntabs, 1);

	/* Not there: NULL, errno from the file system. */
	errno = 0;
	assert_null(symtab_cache_get(&c, "/nonexistent/libx.so", NULL));
	assert_int_equal(errno, ENOENT);

	/* Not ELF: remembered, same errno the second time. */
	snprintf(copy, sizeof(copy), "%s/notelf", fx->dir);
	write_file(copy, "#!/bin/sh\nexit 0\n", 17);
	errno = 0;
	assert_null(symtab_cache_get(&c, copy, NULL));
	assert_int_equal(errno, ENOEXEC);
	errno = 0;
	assert_null(symtab_cache_get(&c, copy, NULL));
	assert_int_equal(errno, ENOEXEC);

	if (!fx->ok)
		symtab_cache_release(&c);
	NEED_FIXTURE(fx);
	/* A copy: another inode, the same build-id, the same table. */
	char full[256];
	snprintf(full, sizeof(full), "%s/full", fx->dir);
	snprintf(copy, sizeof(copy), "%s/full-copy", fx->dir);
	assert_int_equal(sh("cp '%s' '%s'", full, copy), 0);
	const struct symtab *f1 = symtab_cache_get(&c, full, NULL);
	assert_non_null(f1);
	assert_ptr_not_equal(f1, a);
	assert_ptr_equal(symtab_cache_get(&c, copy, NULL), f1);

	/* No build-id: keyed by the file, so a copy is a table of its own. */
	char noid[256];
	snprintf(noid, sizeof(noid), "%s/noid", fx->dir);
	snprintf(copy, sizeof(copy), "%s/noid-copy", fx->dir);
	assert_int_equal(sh("cp '%s' '%s'", noid, copy), 0);
	const struct symtab *n1 = symtab_cache_get(&c, noid, NULL);
	assert_non_null(n1);
	assert_string_equal(n1->build_id, "");
	assert_ptr_equal(symtab_cache_get(&c, noid, NULL), n1);
	const struct symtab *n2 = symtab_cache_get(&c, copy, NULL);
	assert_non_null(n2);
	assert_ptr_not_equal(n1, n2);
	assert_int_equal(c.ntabs, 4); /* self, full, noid, noid-copy */
	symtab_cache_release(&c);
}

/* ---- untrusted files -------------------------------------------------- */

#ifndef FUZZ_ROUNDS
#define FUZZ_ROUNDS 300 /* per fixture; build with more to search longer */
#endif

/* Load must not crash; NULL comes with errno set. */
static void load_any(const char *path)
{
	errno = 0;
	struct symtab *t = symtab_load_dirs(path, NULL, "");
	if (!t) {
		assert_int_not_equal(errno, 0);
		return;
	}
	char text[128];
	for (size_t i = 0; i < t->nsyms; i++) {
		assert_non_null(t->syms[i].name);
		symtab_format(t, t->syms[i].addr, text, sizeof(text));
	}
	symtab_free(t);
}

static void test_corrupt(void **state)
{
	struct fixture *fx = *state;
	char self[4096], path[256];
	size_t len;

	file_vaddr_of((const void *)symtab_test_global_fn, self, sizeof(self));
	unsigned char *img = read_whole(self, &len);
	snprintf(path, sizeof(path), "%s/corrupt", fx->dir);

	/* Random bytes, an empty file, a directory: not ELF. */
	srand(12345);
	unsigned char junk[8192];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rand();
	write_file(path, junk, sizeof(junk));
	errno = 0;
	assert_null(symtab_load(path, NULL));
	assert_int_equal(errno, ENOEXEC);
	write_file(path, junk, 0);
	assert_null(symtab_load(path, NULL));
	assert_int_equal(errno, ENOEXEC);
	assert_null(symtab_load(fx->dir, NULL));
	assert_null(symtab_load("", NULL));
	assert_int_equal(errno, EINVAL);

	/* Truncated copies of this binary. */
	const size_t cuts[] = { 1, 16, 52, 63, 64, 65, 200, 4096, len / 3, len / 2, len - 4096, len - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		write_file(path, img, cuts[i]);
		load_any(path);
	}
	free(img);

	/* Bytes flipped in fixtures small enough to do it often; half of the
	 * flips land in the section headers and the tables they point at. */
	static const char *const victims[] = { "full", "withdd", "linked" };
	for (size_t v = 0; fx->ok && v < sizeof(victims) / sizeof(victims[0]); v++) {
		char src[256];
		snprintf(src, sizeof(src), "%s/%s", fx->dir, victims[v]);
		unsigned char *orig = read_whole(src, &len);
		unsigned char *buf = malloc(len);
		assert_non_null(buf);
		for (int round = 0; round < FUZZ_ROUNDS; round++) {
			memcpy(buf, orig, len);
			for (int k = 0; k < 8; k++) {
				size_t at = round & 1 ? (size_t)rand() % len
						      : len - 1 - (size_t)rand() % (len < 2048 ? len : 2048);
				buf[at] = (unsigned char)rand();
			}
			write_file(path, buf, len);
			load_any(path);
		}
		free(buf);
		free(orig);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_plt),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_build_id),
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_debugdata),
		cmocka_unit_test(test_debuglink),
		cmocka_unit_test(test_build_id_dir),
		cmocka_unit_test(test_demangle),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_corrupt),
	};

	return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
