/*
 * elfsym.h - symbols and load segments of an ELF file on disk.
 *
 * The file belongs to (or is mapped by) the target, so it is untrusted:
 * libelf does the parsing and every index and size is checked here.
 */
#ifndef PYROMETER_ELFSYM_H
#define PYROMETER_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

struct target_maps;

#define ELFSYM_MAX_LOADS 16

struct elfsym_load {
	uint64_t vaddr, offset, memsz, filesz;
};

struct elfsym_file {
	int type;                 /* ET_EXEC, ET_DYN, ... */
	size_t nloads;
	struct elfsym_load loads[ELFSYM_MAX_LOADS];
};

/*
 * Look up n symbol names in .dynsym, then .symtab; values[i] gets st_value,
 * or 0 when the file has no such defined symbol. Of a versioned symbol
 * (memcpy@GLIBC_2.2.5, memcpy@@GLIBC_2.14) the default version wins.
 * types, when not NULL, gets each symbol's STT_* type. Returns 0, or
 * -errno (-ENOEXEC for a file that is not a usable ELF).
 */
#define ELFSYM_MAX_NAMES 16
int elfsym_lookup(const char *path, const char *const *names, uint64_t *values,
		  size_t n, struct elfsym_file *info);
int elfsym_lookup_types(const char *path, const char *const *names, uint64_t *values,
			int *types, size_t n, struct elfsym_file *info);

/* The file offset of file address vaddr (in a loaded segment's file part):
 * 0, or -ERANGE. */
int elfsym_file_offset(const struct elfsym_file *info, uint64_t vaddr, uint64_t *off);

/*
 * Where file-relative address vaddr of the file mapped at map_path lives in
 * the process described by maps. Returns 0 and sets *out, or -ENOENT when
 * no mapping covers the segment holding vaddr.
 */
int elfsym_runtime_addr(const struct elfsym_file *info, const struct target_maps *maps,
			const char *map_path, uint64_t vaddr, uint64_t *out);

/*
 * Find, in the file's .rodata, the interpreter's own version string for
 * 3.minor ("3.9.18", "3.10.0rc2"): a NUL-terminated string that is exactly
 * such a version. Used where no Py_Version symbol exists (<= 3.10).
 * Returns 0 and fills out, or -ENOENT.
 */
int elfsym_python_version(const char *path, int minor, char *out, size_t cap);

#endif
