/*
 * demangle.c - C++ names through the C++ runtime's __cxa_demangle, when the
 * process has one or libstdc++.so.6 can be loaded. The only place that
 * knows about the optional dependency: without it names stay mangled.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/symtab.h"

typedef char *(*cxa_demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static cxa_demangle_fn demangler;
static pthread_once_t demangler_once = PTHREAD_ONCE_INIT;

static void find_demangler(void)
{
	void *fn = dlsym(RTLD_DEFAULT, "__cxa_demangle");

	if (!fn) {
		/* The handle is never closed: the function must stay mapped for
		 * the life of the process. */
		void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
		if (h)
			fn = dlsym(h, "__cxa_demangle");
	}
	/* POSIX guarantees a dlsym result converts to a function pointer. */
	memcpy(&demangler, &fn, sizeof(demangler));
}

char *symtab_demangle(const char *name)
{
	int status = -1;

	if (!name || strncmp(name, "_Z", 2) != 0)
		return NULL;
	pthread_once(&demangler_once, find_demangler);
	if (!demangler)
		return NULL;
	char *out = demangler(name, NULL, NULL, &status);
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}
