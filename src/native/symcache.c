/*
 * symcache.c - one symbol table per module, shared by every process that
 * maps it.
 *
 * Two kinds of keys lead to a table: "b:<build-id>" and
 * "f:<dev>:<inode>:<mtime>:<size>". A stat() finds a file seen before
 * without opening it; a new file with a known build-id (the same library
 * in another container, a copy) gets its file key pointed at the table
 * already loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pyrometer/strpool.h"
#include "pyrometer/symtab.h"

struct symtab_cache_slot {
	char *key;             /* owned; NULL = empty */
	struct symtab *tab;    /* owned by the cache's tabs; NULL = failed */
	int err;               /* errno of the failure */
};

void symtab_cache_init(struct symtab_cache *c, const char *debug_dirs)
{
	memset(c, 0, sizeof(*c));
	if (debug_dirs)
		c->debug_dirs = strdup(debug_dirs);
}

void symtab_cache_release(struct symtab_cache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		free(c->slots[i].key);
	for (size_t i = 0; i < c->ntabs; i++)
		symtab_free(c->tabs[i]);
	free(c->slots);
	free(c->tabs);
	free(c->debug_dirs);
	memset(c, 0, sizeof(*c));
}

static struct symtab_cache_slot *find_slot(struct symtab_cache_slot *slots, size_t cap,
					   const char *key)
{
	size_t i = strpool_hash(key, strlen(key)) & (cap - 1);

	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow(struct symtab_cache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 64;
	struct symtab_cache_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].key)
			*find_slot(slots, cap, c->slots[i].key) = c->slots[i];
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return 0;
}

static const struct symtab_cache_slot *lookup(const struct symtab_cache *c, const char *key)
{
	if (!c->cap)
		return NULL;
	const struct symtab_cache_slot *s = find_slot(c->slots, c->cap, key);
	return s->key ? s : NULL;
}

/* Takes key (freed on failure). */
static int insert(struct symtab_cache *c, char *key, struct symtab *tab, int err)
{
	if ((c->count + 1) * 4 > c->cap * 3 && grow(c) != 0) {
		free(key);
		return -ENOMEM;
	}
	struct symtab_cache_slot *s = find_slot(c->slots, c->cap, key);
	if (s->key) {
		free(key);
		return 0;
	}
	*s = (struct symtab_cache_slot){ .key = key, .tab = tab, .err = err };
	c->count++;
	return 0;
}

static int keep_table(struct symtab_cache *c, struct symtab *t)
{
	if (c->ntabs == c->tabs_cap) {
		size_t cap = c->tabs_cap ? c->tabs_cap * 2 : 16;
		struct symtab **v = realloc(c->tabs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->tabs = v;
		c->tabs_cap = cap;
	}
	c->tabs[c->ntabs++] = t;
	return 0;
}

static char *build_id_key(const char *hex)
{
	char *k;

	return asprintf(&k, "b:%s", hex) < 0 ? NULL : k;
}

const struct symtab *symtab_cache_get(struct symtab_cache *c, const char *path,
				      const char *root)
{
	char *full, *fkey = NULL, *bkey = NULL, hex[2 * SYMTAB_BUILD_ID_MAX + 1];
	const struct symtab_cache_slot *hit;
	struct stat st;

	if (!path || !*path) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&full, "%s%s", root ? root : "", path) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	int rc = stat(full, &st);
	free(full);
	if (rc != 0)
		return NULL; /* not remembered: the file may appear later */
	if (asprintf(&fkey, "f:%ju:%ju:%jd.%09ld:%jd", (uintmax_t)st.st_dev,
		     (uintmax_t)st.st_ino, (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		     (intmax_t)st.st_size) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	if ((hit = lookup(c, fkey)) != NULL) {
		free(fkey);
		if (!hit->tab)
			errno = hit->err;
		return hit->tab;
	}

	if (symtab_build_id(path, root, hex, sizeof(hex)) == 0 && (bkey = build_id_key(hex)) &&
	    (hit = lookup(c, bkey)) != NULL) {
		struct symtab *t = hit->tab;
		free(bkey);
		insert(c, fkey, t, 0); /* out of memory: found by build-id again */
		return t;
	}
	free(bkey);

	struct symtab *t = symtab_load_dirs(path, root, c->debug_dirs);
	if (!t) {
		int err = errno;
		/* A file that is no ELF stays so; a missing one may come back. */
		if (err == ENOEXEC)
			insert(c, fkey, NULL, err);
		else
			free(fkey);
		errno = err;
		return NULL;
	}
	if (keep_table(c, t) != 0) {
		symtab_free(t);
		free(fkey);
		errno = ENOMEM;
		return NULL;
	}
	insert(c, fkey, t, 0);
	if (t->build_id[0] && (bkey = build_id_key(t->build_id)))
		insert(c, bkey, t, 0);
	return t;
}
