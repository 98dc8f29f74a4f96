/*
 * native.c - PC -> (symbol, module, flags), cached per PC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/modmap.h"
#include "pyrometer/native.h"
#include "pyrometer/strpool.h"
#include "pyrometer/symtab.h"

#define PC_CACHE_MAX (1u << 20)  /* entries; past this the cache starts over */

struct pc_slot {
	uint64_t pc;             /* 0 = empty */
	struct native_sym sym;
};

struct native_syms {
	struct strpool *pool;
	char *root;
	char *interp_path;
	char *exe_path;
	char *eval_name;
	size_t eval_len;
	struct symtab_cache tabs;
	struct pc_slot *slots;   /* open addressing on pc */
	size_t cap, count;
	uint64_t map_generation;
};

struct native_syms *native_syms_new(struct strpool *pool, const char *root,
				    const char *interp_path, const char *exe_path,
				    const char *eval_name)
{
	struct native_syms *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	ns->pool = pool;
	ns->root = root && *root ? strdup(root) : NULL;
	ns->interp_path = interp_path && *interp_path ? strdup(interp_path) : NULL;
	ns->exe_path = exe_path && *exe_path ? strdup(exe_path) : NULL;
	ns->eval_name = eval_name && *eval_name ? strdup(eval_name) : NULL;
	ns->eval_len = ns->eval_name ? strlen(ns->eval_name) : 0;
	symtab_cache_init(&ns->tabs, NULL);
	if ((root && *root && !ns->root) || (interp_path && *interp_path && !ns->interp_path) ||
	    (exe_path && *exe_path && !ns->exe_path) || (eval_name && *eval_name && !ns->eval_name)) {
		native_syms_free(ns);
		return NULL;
	}
	return ns;
}

void native_syms_free(struct native_syms *ns)
{
	if (!ns)
		return;
	symtab_cache_release(&ns->tabs);
	free(ns->slots);
	free(ns->root);
	free(ns->interp_path);
	free(ns->exe_path);
	free(ns->eval_name);
	free(ns);
}

static const char *intern(struct native_syms *ns, const char *s)
{
	const char *r = strpool_intern(ns->pool, s, strlen(s));
	return r ? r : "";
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The C library's process and thread start-up functions: below every
 * program's own frames. */
static int is_startup(const char *name)
{
	static const char *const names[] = {
		"_start", "__libc_start_main", "__libc_start_call_main", "start_thread",
		"clone", "clone3", "__clone", "__clone3", "__clone_internal",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* Work out what pc means (no cache). */
static void resolve(struct native_syms *ns, struct modmap *map, uint64_t pc,
		    struct native_sym *out)
{
	struct modmap_entry *e = modmap_find(map, pc);
	char buf[512];

	out->flags = 0;
	out->module = "";
	if (!e) {
		out->name = intern(ns, "[unknown]");
		out->flags = NATIVE_NOSYM;
		return;
	}
	if (!e->path || e->path[0] != '/') {
		out->name = intern(ns, "[anon]");
		out->flags = NATIVE_ANON | NATIVE_NOSYM;
		return;
	}
	out->module = intern(ns, base_name(e->path));
	if ((ns->interp_path && strcmp(e->path, ns->interp_path) == 0) ||
	    (ns->exe_path && strcmp(e->path, ns->exe_path) == 0))
		out->flags |= NATIVE_INTERP;

	const struct symtab *t = symtab_cache_get(&ns->tabs, e->path, ns->root);
	uint64_t off = pc - e->start + e->pgoff, vaddr = off;
	const char *name = NULL;
	if (t) {
		if (symtab_offset_to_vaddr(t, off, &vaddr) < 0)
			vaddr = off;
		if (symtab_lookup(t, vaddr, &name, NULL) < 0)
			name = NULL;
	}
	if (!name) {
		snprintf(buf, sizeof(buf), "[%s+0x%llx]", out->module, (unsigned long long)vaddr);
		out->name = intern(ns, buf);
		out->flags |= NATIVE_NOSYM;
		return;
	}
	if ((out->flags & NATIVE_INTERP) && ns->eval_name &&
	    strncmp(name, ns->eval_name, ns->eval_len) == 0 &&
	    (name[ns->eval_len] == '\0' || name[ns->eval_len] == '.'))
		out->flags |= NATIVE_EVAL;
	if (is_startup(name))
		out->flags |= NATIVE_STARTUP;
	char *dm = symtab_demangle(name);
	out->name = intern(ns, dm ? dm : name);
	free(dm);
}

void native_syms_get(struct native_syms *ns, struct modmap *map, uint64_t pc,
		     struct native_sym *out)
{
	if (ns->map_generation != map->generation || ns->count >= PC_CACHE_MAX) {
		/* A mapping changed: any PC may mean something else now. */
		if (ns->slots)
			memset(ns->slots, 0, ns->cap * sizeof(*ns->slots));
		ns->count = 0;
		ns->map_generation = map->generation;
	}
	if ((ns->count + 1) * 2 > ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 4096;
		struct pc_slot *nv = calloc(cap, sizeof(*nv));
		if (!nv) {
			resolve(ns, map, pc, out);
			return;
		}
		for (size_t i = 0; i < ns->cap; i++) {
			if (!ns->slots[i].pc)
				continue;
			size_t j = (size_t)(ns->slots[i].pc * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
			while (nv[j].pc)
				j = (j + 1) & (cap - 1);
			nv[j] = ns->slots[i];
		}
		free(ns->slots);
		ns->slots = nv;
		ns->cap = cap;
	}
	size_t mask = ns->cap - 1;
	size_t i = (size_t)(pc * 0x9e3779b97f4a7c15ull >> 20) & mask;
	for (; ns->slots[i].pc; i = (i + 1) & mask) {
		if (ns->slots[i].pc == pc) {
			*out = ns->slots[i].sym;
			return;
		}
	}
	resolve(ns, map, pc, out);
	if (pc) {
		ns->slots[i].pc = pc;
		ns->slots[i].sym = *out;
		ns->count++;
	}
}
