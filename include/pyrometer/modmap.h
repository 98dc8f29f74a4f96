/*
 * modmap.h - the executable mappings of one process: address -> module.
 *
 * Filled at attach from /proc/PID/maps (modmap_add_maps) and then one
 * mapping at a time from PERF_RECORD_MMAP2 records (modmap_add). Entries
 * never overlap: a new mapping replaces whatever it overlaps, and an old
 * mapping only partly covered keeps its uncovered parts (with their file
 * offsets adjusted), the way the kernel's own mmap(MAP_FIXED) behaves.
 *
 * Paths come from the target and are untrusted bytes; anonymous
 * executable memory (JIT code, CPython's -X perf trampolines) may be added
 * with a NULL path so that it is known as code without a module.
 *
 * Ownership: the map owns its entries and their paths. The owner of the
 * map (the unwinder) may annotate entries (mod, bias, state); the map
 * never looks at those fields, starts them at NULL/0 and copies them when
 * it splits an entry. Not thread-safe.
 */
#ifndef PYROMETER_MODMAP_H
#define PYROMETER_MODMAP_H

#include <stddef.h>
#include <stdint.h>

struct target_maps;

#define MODMAP_MAX_ENTRIES (1u << 20) /* hostile mmap storms stop here */

struct modmap_entry {
	uint64_t start, end;   /* runtime addresses, [start, end) */
	uint64_t pgoff;        /* file offset mapped at start */
	char *path;            /* owned; NULL for anonymous memory */
	/* The owner's annotations (see above). */
	void *mod;
	uint64_t bias;
	int state;
};

struct modmap {
	struct modmap_entry *v; /* sorted by start, non-overlapping; owned */
	size_t n, cap;
	uint64_t generation;   /* bumped by every change */
};

void modmap_init(struct modmap *m);
void modmap_release(struct modmap *m);

/*
 * Add the mapping [start, end) of file offset pgoff of path (copied; NULL
 * for anonymous). 0, -EINVAL for an empty or inverted range, -E2BIG past
 * MODMAP_MAX_ENTRIES, -ENOMEM (the map is unchanged on error).
 */
int modmap_add(struct modmap *m, uint64_t start, uint64_t end, uint64_t pgoff,
	       const char *path);

/*
 * Add every executable mapping of maps (from target_maps_read). Returns
 * the number added, or the first error of modmap_add.
 */
int modmap_add_maps(struct modmap *m, const struct target_maps *maps);

/* The entry holding addr, or NULL. Valid until the next change. */
struct modmap_entry *modmap_find(struct modmap *m, uint64_t addr);

#endif
