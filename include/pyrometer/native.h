/*
 * native.h - what a native PC means: its symbol, its module, and whether it
 * belongs to the interpreter.
 *
 * Symbolizing is the costly part of a native frame, and a process runs the
 * same few thousand PCs over and over: answers are cached per PC (dropped
 * when the module map changes) and their strings interned in the caller's
 * pool, so profile frames can be compared by pointer.
 */
#ifndef PYROMETER_NATIVE_H
#define PYROMETER_NATIVE_H

#include <stdint.h>

struct modmap;
struct strpool;

enum native_flags {
	NATIVE_INTERP = 1 << 0,  /* in the interpreter's file (libpython or python) */
	NATIVE_EVAL = 1 << 1,    /* in the eval loop function, by symbol */
	NATIVE_ANON = 1 << 2,    /* anonymous code (JIT, -X perf trampolines) */
	NATIVE_NOSYM = 1 << 3,   /* no symbol: name is "[module+0xVADDR]" */
	NATIVE_STARTUP = 1 << 4, /* process or thread start-up code (_start,
				    __libc_start_main, start_thread, clone3...) */
};

struct native_sym {
	const char *name;    /* demangled symbol, or "[module+0xVADDR]", "[anon]", "[unknown]" */
	const char *module;  /* file name of the module ("libc.so.6"), "" when none */
	unsigned flags;      /* enum native_flags */
};

struct native_syms;

/*
 * Module files are opened at root + path (root: "/proc/PID/root", or NULL).
 * interp_path: the interpreter's file as the target maps it, or NULL for a
 * process that is not Python; exe_path: its main executable (a python
 * launcher when libpython is shared), or NULL - frames of both are
 * NATIVE_INTERP; eval_name: the eval loop's symbol (or NULL). NULL on
 * ENOMEM.
 */
struct native_syms *native_syms_new(struct strpool *pool, const char *root,
				    const char *interp_path, const char *exe_path,
				    const char *eval_name);
void native_syms_free(struct native_syms *ns);

/* The meaning of pc (already adjusted: pc - 1 for return addresses) in the
 * process whose executable mappings are map. Never fails: unknown code gets
 * "[unknown]". */
void native_syms_get(struct native_syms *ns, struct modmap *map, uint64_t pc,
		     struct native_sym *out);

#endif
