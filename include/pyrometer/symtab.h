/*
 * symtab.h - function symbols of one ELF module: address -> name.
 *
 * A struct symtab is read once from a module on disk and is immutable
 * afterwards, so one table can serve every process and thread that maps the
 * module. Its symbols come from, merged:
 *
 *   - the file's .dynsym and .symtab;
 *   - when the file has no .symtab (it was stripped):
 *     - .gnu_debugdata ("MiniDebugInfo"): an xz-compressed ELF whose .symtab
 *       holds the functions .dynsym lacks;
 *     - a separate debug file, found by build-id
 *       (DIR/.build-id/ab/cdef...debug, its own build-id must match) or by
 *       .gnu_debuglink (next to the file, in its .debug/ subdirectory, then
 *       DIR/<the file's directory>/; the link's CRC32 must match), for each
 *       DIR of the debug directories (default SYMTAB_DEBUG_DIRS).
 *
 * Kept: STT_FUNC and STT_GNU_IFUNC symbols, and STT_NOTYPE symbols with a
 * size in an executable section (hand-written assembly). One symbol per
 * address: global before weak before local, then sized before unsized, then
 * fewer leading underscores ("malloc" over "__libc_malloc"), then the
 * smaller name in byte order, so the choice is the same on every run. A symbol of size 0
 * covers up to the next symbol, or, for the last one, to the end of the
 * PT_LOAD segment holding it.
 *
 * Addresses are ELF virtual addresses of the file ("file vaddr": st_value,
 * what `nm`, `objdump`, `gdb` and `addr2line -e` use), not runtime addresses
 * and not file offsets. A sampler turns a PC into one with the PC's mapping:
 * file offset = pc - map start + map offset, then symtab_offset_to_vaddr().
 *
 * Every file read here belongs to the target and is untrusted: libelf
 * parses, every index and size is checked here, symbol counts, name sizes
 * and decompressed sizes are capped, and a malformed part is skipped
 * (a corrupt file gives NULL or a table with fewer symbols, never a crash).
 *
 * Loading shares no state between tables; a loaded table is immutable and
 * may be read from any thread. Names are the file's raw bytes: whoever
 * writes them out escapes them.
 */
#ifndef PYROMETER_SYMTAB_H
#define PYROMETER_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

/* Where separate debug files live when the caller names no other place:
 * a colon-separated list, like gdb's debug-file-directory. */
#define SYMTAB_DEBUG_DIRS "/usr/lib/debug"

#define SYMTAB_MAX_SYMS 10000000u          /* symbols read, all sources */
#define SYMTAB_MAX_NAME 65536u             /* longer names are skipped */
#define SYMTAB_MAX_NAMES_BYTES (512u << 20) /* all names together */
#define SYMTAB_MAX_DEBUGDATA (256u << 20)  /* .gnu_debugdata, decompressed */
#define SYMTAB_MAX_LOADS 32
#define SYMTAB_BUILD_ID_MAX 64             /* bytes; GCC's default sha1 is 20 */

/* Which sources gave symbols (struct symtab.sources). */
enum {
	SYMTAB_FROM_DYNSYM = 1 << 0,
	SYMTAB_FROM_SYMTAB = 1 << 1,
	SYMTAB_FROM_DEBUGDATA = 1 << 2,
	SYMTAB_FROM_DEBUGFILE = 1 << 3,
};

struct symtab_sym {
	uint64_t addr, size;   /* file vaddr; size after the size-0 fill */
	const char *name;      /* raw (mangled) name, points into the table */
};

struct symtab_load {
	uint64_t vaddr, offset, filesz, memsz;
	uint32_t flags;        /* PF_X | PF_W | PF_R */
};

struct symtab {
	char *path;            /* the path given (without root); owned */
	const char *name;      /* basename of path, for output; points into path */
	char *debug_path;      /* the debug file used (with root), or NULL; owned */
	char build_id[2 * SYMTAB_BUILD_ID_MAX + 1]; /* lowercase hex, "" if none */
	int type;              /* ET_EXEC or ET_DYN */
	unsigned sources;      /* SYMTAB_FROM_* */
	int truncated;         /* a cap was hit: some symbols were left out */
	size_t nloads;
	struct symtab_load loads[SYMTAB_MAX_LOADS];
	size_t nsyms;
	struct symtab_sym *syms; /* sorted by addr, one per addr; owned */
	char *names;           /* every name, NUL-terminated; owned */
};

/*
 * Load the module at path, as seen by a process whose filesystem root is
 * root: files are opened as root + path ("/proc/PID/root" reaches a process
 * in another mount namespace; NULL or "" for none). Debug directories are
 * looked up under root too. symtab_load_dirs() names the debug directories
 * (colon-separated; NULL means SYMTAB_DEBUG_DIRS; "" means none).
 *
 * Returns a table the caller frees with symtab_free(), possibly with no
 * symbols (a fully stripped file: addresses still format as module+offset),
 * or NULL with errno set: ENOENT/EACCES/... from open, ENOEXEC for a file
 * that is not an ELF executable or shared object, ENOMEM.
 */
struct symtab *symtab_load(const char *path, const char *root);
struct symtab *symtab_load_dirs(const char *path, const char *root, const char *debug_dirs);

void symtab_free(struct symtab *t);

/*
 * The symbol covering file_vaddr: 0, *name (owned by t, valid until
 * symtab_free) and *offset from the symbol's start; -ENOENT when no symbol
 * covers it. Either out pointer may be NULL.
 */
int symtab_lookup(const struct symtab *t, uint64_t file_vaddr, const char **name,
		  uint64_t *offset);

/*
 * A frame's text for collapsed stacks: "symbol [module]", with C++ names
 * demangled when a demangler is available, or "[module+0xVADDR]" when no
 * symbol covers the address. VADDR is the file vaddr in hex, so
 * `addr2line -e FILE 0xVADDR` and gdb resolve it directly; it is the
 * convention of the sanitizers' "(module+0x...)" too. For the text of a
 * shared library or PIE linked by GNU ld it equals the file offset; for a
 * non-PIE executable (ET_EXEC, e.g. Debian's python3) it does not, and only
 * the vaddr works with those tools.
 *
 * Writes at most cap bytes including the NUL (nothing when cap is 0) and
 * returns the length of the whole text, like snprintf. Demangling
 * allocates: intern the result rather than calling this for every sample.
 */
size_t symtab_format(const struct symtab *t, uint64_t file_vaddr, char *out, size_t cap);

/* File offset <-> file vaddr through the PT_LOAD segments' file-backed
 * parts (p_filesz). 0, or -ENOENT when no segment holds the address. */
int symtab_offset_to_vaddr(const struct symtab *t, uint64_t offset, uint64_t *vaddr);
int symtab_vaddr_to_offset(const struct symtab *t, uint64_t vaddr, uint64_t *offset);

/*
 * The GNU build-id of root + path as lowercase hex into hex (cap >= 2 *
 * SYMTAB_BUILD_ID_MAX + 1 holds any). 0, -ENOENT when the file has none,
 * -ENOEXEC for a non-ELF, -errno from open.
 */
int symtab_build_id(const char *path, const char *root, char *hex, size_t cap);

/*
 * The demangled form of a C++ name ("_Z..."), malloc'd: the caller frees
 * it. NULL when name is not mangled, the demangler rejects it, or no
 * demangler is available (__cxa_demangle, looked up at run time in the
 * process or in libstdc++.so.6; pyrometer does not link a C++ runtime).
 * Thread-safe.
 */
char *symtab_demangle(const char *name);

/*
 * One table per module, however many processes map it: keyed by build-id
 * when the file has one, else by (device, inode, mtime, size) of the file:
 * a file replaced in place gets a new key, while hard links, bind mounts and
 * copies of one build share a table. A stat() finds a file seen before
 * without opening it. Files that are not ELF are remembered too, with their
 * errno; missing files are not (they may appear later).
 *
 * The cache owns every table; they live until symtab_cache_release().
 * Not thread-safe.
 */
struct symtab_cache {
	char *debug_dirs;                 /* owned copy; NULL = default */
	struct symtab_cache_slot *slots;  /* open addressing; key NULL = empty */
	size_t cap, count;
	struct symtab **tabs;             /* every table made, owned */
	size_t ntabs, tabs_cap;
};

/* debug_dirs as for symtab_load_dirs(), copied. */
void symtab_cache_init(struct symtab_cache *c, const char *debug_dirs);
void symtab_cache_release(struct symtab_cache *c);

/*
 * The table of root + path, loaded on first use. NULL with errno set as
 * symtab_load() does (the errno of a remembered failure is given again).
 */
const struct symtab *symtab_cache_get(struct symtab_cache *c, const char *path,
				      const char *root);

#endif
