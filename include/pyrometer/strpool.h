/*
 * strpool.h - interned strings.
 *
 * A pool hands out one stable, NUL-terminated copy per distinct byte string,
 * so interned strings compare equal exactly when their pointers do. The pool
 * owns every copy; they live until strpool_release(). Not thread-safe.
 */
#ifndef PYROMETER_STRPOOL_H
#define PYROMETER_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

struct strpool {
	const char **slots;  /* open addressing; NULL = empty */
	uint32_t *hashes;
	size_t cap, count;
	struct strpool_block *blocks;
};

void strpool_init(struct strpool *p);
void strpool_release(struct strpool *p);

/* The interned copy of s[0..len) - up to its first NUL, if any - or NULL
 * when out of memory. */
const char *strpool_intern(struct strpool *p, const char *s, size_t len);

/* FNV-1a; also used to hash interned pointers' contents elsewhere. */
uint32_t strpool_hash(const char *s, size_t len);

#endif
