/* strpool.c - interning: one copy per distinct string, stable addresses. */
#include <stdlib.h>
#include <string.h>

#include "pyrometer/strpool.h"

#define BLOCK_SIZE (64 * 1024)

/* Copies live in large blocks so interning costs no malloc per string. */
struct strpool_block {
	struct strpool_block *next;
	size_t used, cap;
	char data[];
};

uint32_t strpool_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

void strpool_init(struct strpool *p)
{
	memset(p, 0, sizeof(*p));
}

void strpool_release(struct strpool *p)
{
	struct strpool_block *b = p->blocks;
	while (b) {
		struct strpool_block *next = b->next;
		free(b);
		b = next;
	}
	free(p->slots);
	free(p->hashes);
	memset(p, 0, sizeof(*p));
}

static char *pool_alloc(struct strpool *p, size_t n)
{
	struct strpool_block *b = p->blocks;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > BLOCK_SIZE ? n : BLOCK_SIZE;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = p->blocks;
		p->blocks = b;
	}
	char *r = b->data + b->used;
	b->used += n;
	return r;
}

static int grow(struct strpool *p)
{
	size_t ncap = p->cap ? p->cap * 2 : 1024;
	const char **slots = calloc(ncap, sizeof(*slots));
	uint32_t *hashes = calloc(ncap, sizeof(*hashes));
	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -1;
	}
	for (size_t i = 0; i < p->cap; i++) {
		if (!p->slots[i])
			continue;
		size_t j = p->hashes[i] & (ncap - 1);
		while (slots[j])
			j = (j + 1) & (ncap - 1);
		slots[j] = p->slots[i];
		hashes[j] = p->hashes[i];
	}
	free(p->slots);
	free(p->hashes);
	p->slots = slots;
	p->hashes = hashes;
	p->cap = ncap;
	return 0;
}

const char *strpool_intern(struct strpool *p, const char *s, size_t len)
{
	/* Copies are C strings: a NUL ends the string, so it ends the key. */
	len = strnlen(s, len);
	if ((p->count + 1) * 2 > p->cap && grow(p) < 0)
		return NULL;
	uint32_t h = strpool_hash(s, len);
	size_t i = h & (p->cap - 1);
	while (p->slots[i]) {
		if (p->hashes[i] == h && strncmp(p->slots[i], s, len) == 0 &&
		    p->slots[i][len] == '\0')
			return p->slots[i];
		i = (i + 1) & (p->cap - 1);
	}
	char *copy = pool_alloc(p, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	p->slots[i] = copy;
	p->hashes[i] = h;
	p->count++;
	return copy;
}
