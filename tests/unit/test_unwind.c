/*
 * test_unwind.c - native unwinding of a real stack from a copy, the way a
 * perf sample carries it: this test calls outer -> middle -> inner (built
 * without frame pointers, so only CFI can walk them), captures the
 * registers and a copy of the stack in inner, and unwinds the copy with
 * the module map of this very process. Also: the module map itself, cut
 * copies, garbage, code without unwind info, the frame-pointer step, and
 * the cost of one unwind.
 *
 * .debug_frame: a second chain runs through unwind_test_df_middle
 * (unwind_debug_frame.c, built without unwind tables: its CFI is in
 * .debug_frame only), so this binary is the mixed case of most code in
 * .eh_frame and one object in .debug_frame. Crafted modules check each CIE
 * version, the separate debug file found by build-id, and that truncated,
 * mutated or foreign .debug_frame bytes only ever mean "no unwind info".
 *
 * Expected names come from symtab (another module) over this binary's
 * .symtab; the PCs from the unwinder are never compared with themselves.
 */
#include <errno.h>
#include <elf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pyrometer/modmap.h"
#include "pyrometer/symtab.h"
#include "pyrometer/target.h"
#include "pyrometer/unwind.h"

#define COPY_MAX (128 * 1024)
#define MAX_PCS 128

/* ---- capturing a sample of ourselves ------------------------------- */

/*
 * void unwind_test_capture(uint64_t regs[UNWIND_NREGS]): the caller's
 * registers as they are when this returns: IP = the return address, SP =
 * just above it, callee-saved registers untouched. That is a consistent
 * state of the caller, like a sample taken right after the call.
 */
void unwind_test_capture(uint64_t *regs);
__asm__(".text\n"
	".p2align 4\n"
	".type unwind_test_capture, @function\n"
	"unwind_test_capture:\n"
	".cfi_startproc\n"
	"\tmovq %rbx, 8(%rdi)\n"     /* PERF_REG_X86_BX = 1 */
	"\tmovq %rbp, 48(%rdi)\n"    /* BP = 6 */
	"\tleaq 8(%rsp), %rax\n"
	"\tmovq %rax, 56(%rdi)\n"    /* SP = 7 */
	"\tmovq (%rsp), %rax\n"
	"\tmovq %rax, 64(%rdi)\n"    /* IP = 8 */
	"\tmovq %r12, 160(%rdi)\n"   /* R12 = 20 */
	"\tmovq %r13, 168(%rdi)\n"
	"\tmovq %r14, 176(%rdi)\n"
	"\tmovq %r15, 184(%rdi)\n"
	"\tret\n"
	".cfi_endproc\n"
	".size unwind_test_capture, .-unwind_test_capture\n");

struct capture {
	uint64_t regs[UNWIND_NREGS];
	uint8_t stack[COPY_MAX];
	size_t len;
};

static struct capture cap;
static uint64_t stack_end;     /* end of the mapping holding our stack */

/* The kernel's copy, done by hand: a word loop that the sanitizers do not
 * check, since it reads other frames' redzones on purpose. */
__attribute__((no_sanitize_address, noinline)) static void copy_stack(uint8_t *dst,
								       uint64_t sp,
								       size_t len)
{
	const volatile uint64_t *src = (const volatile uint64_t *)(uintptr_t)sp;

	for (size_t i = 0; i < len / 8; i++) {
		uint64_t w = src[i];
		memcpy(dst + 8 * i, &w, 8);
	}
}

#define NOFP __attribute__((noinline, noclone, optimize("omit-frame-pointer")))

/* A sample of the function this is inlined into: its registers and a copy
 * of its stack up to stack_end (COPY_MAX at most). */
static inline __attribute__((always_inline)) void sample_here(struct capture *c)
{
	unwind_test_capture(c->regs);
	uint64_t sp = c->regs[PERF_REG_X86_SP];
	size_t len = stack_end - sp < COPY_MAX ? (size_t)(stack_end - sp) & ~(size_t)7 : COPY_MAX;
	copy_stack(c->stack, sp, len);
	c->len = len;
	__asm__ volatile("" ::: "memory");
}

NOFP static int unwind_test_inner(int x)
{
	sample_here(&cap);
	return x + 1;
}

/* A local of unwind_test_middle: the unwinder must place it in that frame
 * (how eval-loop activations are found by their C-stack entry markers). */
static uint64_t middle_local_addr;

NOFP static int unwind_test_middle(int x)
{
	volatile int local = x;
	middle_local_addr = (uint64_t)(uintptr_t)&local;
	int r = unwind_test_inner(local * 2);
	__asm__ volatile("" ::: "memory");
	return r + 3;
}

NOFP static int unwind_test_outer(int x)
{
	int r = unwind_test_middle(x + 5);
	__asm__ volatile("" ::: "memory");
	return r * 2;
}

/* The chain df_outer -> df_middle (CFI in .debug_frame only) -> df_inner. */
int unwind_test_df_middle(int x, int (*next)(int, volatile char *));

static struct capture dfcap;

NOFP static int unwind_test_df_inner(int x, volatile char *buf)
{
	sample_here(&dfcap);
	return x + buf[1];
}

NOFP static int unwind_test_df_outer(int x)
{
	int r = unwind_test_df_middle(x + 1, unwind_test_df_inner);
	__asm__ volatile("" ::: "memory");
	return r * 2;
}

/* ---- helpers ---------------------------------------------------------- */

static struct unwinder *unwinder_of_self(void)
{
	struct target_maps maps;
	struct unwinder *u = unwinder_new();

	assert_non_null(u);
	assert_int_equal(target_maps_read(getpid(), &maps), 0);
	assert_true(modmap_add_maps(unwinder_modmap(u), &maps) > 0);
	target_maps_release(&maps);
	return u;
}

static void find_stack_end(void)
{
	struct target_maps maps;
	uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);

	assert_int_equal(target_maps_read(getpid(), &maps), 0);
	for (size_t i = 0; i < maps.n; i++)
		if (maps.v[i].start <= here && here < maps.v[i].end)
			stack_end = maps.v[i].end;
	target_maps_release(&maps);
	assert_true(stack_end != 0);
}

/* The name of the function holding pc (pc - 1 for callers). */
static const char *name_of(struct modmap *mm, struct symtab_cache *sc, uint64_t pc)
{
	struct modmap_entry *e = modmap_find(mm, pc);
	const char *name = NULL;
	uint64_t vaddr;

	if (!e || !e->path)
		return "?";
	const struct symtab *t = symtab_cache_get(sc, e->path, NULL);
	if (!t || symtab_offset_to_vaddr(t, pc - e->start + e->pgoff, &vaddr) != 0 ||
	    symtab_lookup(t, vaddr, &name, NULL) != 0)
		return "?";
	return name;
}

/* Names of pcs[0..n), with the off-by-one rule applied. */
static void names_of(struct unwinder *u, const uint64_t *pcs, int n, const char **names)
{
	static struct symtab_cache sc;
	static int init;

	if (!init) {
		symtab_cache_init(&sc, "");
		init = 1;
	}
	for (int i = 0; i < n; i++)
		names[i] = name_of(unwinder_modmap(u), &sc, i ? pcs[i] - 1 : pcs[i]);
}

static int index_of(const char **names, int n, int from, const char *want)
{
	for (int i = from; i < n; i++)
		if (strcmp(names[i], want) == 0)
			return i;
	return -1;
}

static int stop_bits(unsigned flags)
{
	return __builtin_popcount(flags & UNWIND_STOP_MASK);
}

/* A small ELF file with one executable PT_LOAD and no unwind info. */
static void write_bare_elf(char *path)
{
	static uint8_t img[4096];
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));

	memset(img, 0xc3, sizeof(img)); /* ret */
	memset(eh, 0, sizeof(*eh) + sizeof(*ph));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_filesz = ph->p_memsz = sizeof(img);
	ph->p_align = 4096;

	strcpy(path, "/tmp/pyrometer-unwind.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
}

/* ---- the module map --------------------------------------------------- */

static void test_modmap(void **state)
{
	struct modmap m;
	struct modmap_entry *e;

	(void)state;
	modmap_init(&m);
	assert_int_equal(modmap_add(&m, 0x5000, 0x5000, 0, "x"), -EINVAL);
	assert_int_equal(modmap_add(&m, 0x1000, 0x5000, 0, "/a"), 0);
	assert_int_equal(modmap_add(&m, 0x8000, 0x9000, 0x3000, NULL), 0);
	/* Inside /a: it splits, the right part keeps its file offset. */
	assert_int_equal(modmap_add(&m, 0x2000, 0x3000, 0x10, "/b"), 0);
	assert_int_equal(m.n, 4);
	e = modmap_find(&m, 0x1fff);
	assert_non_null(e);
	assert_string_equal(e->path, "/a");
	assert_int_equal(e->end, 0x2000);
	e = modmap_find(&m, 0x2000);
	assert_string_equal(e->path, "/b");
	e = modmap_find(&m, 0x3500);
	assert_string_equal(e->path, "/a");
	assert_int_equal(e->start, 0x3000);
	assert_int_equal(e->pgoff, 0x2000);
	e = modmap_find(&m, 0x8800);
	assert_non_null(e);
	assert_null(e->path);
	assert_null(modmap_find(&m, 0x5000));
	assert_null(modmap_find(&m, 0x0fff));
	assert_null(modmap_find(&m, 0x9000));
	/* Over the end of one and the start of the next. */
	assert_int_equal(modmap_add(&m, 0x4000, 0x8800, 0, "/c"), 0);
	assert_int_equal(modmap_find(&m, 0x3fff)->end, 0x4000);
	assert_string_equal(modmap_find(&m, 0x8000)->path, "/c");
	e = modmap_find(&m, 0x8800);
	assert_int_equal(e->start, 0x8800);
	assert_int_equal(e->pgoff, 0x3800);
	/* Over everything. */
	uint64_t gen = m.generation;
	assert_int_equal(modmap_add(&m, 0, 0x100000, 0, "/d"), 0);
	assert_int_equal(m.n, 1);
	assert_true(m.generation != gen);
	assert_string_equal(modmap_find(&m, 0x2000)->path, "/d");
	modmap_release(&m);
}

static void test_regs_unpack(void **state)
{
	uint64_t regs[UNWIND_NREGS];
	const uint64_t packed[] = { 11, 66, 77, 88, 2020, 2121, 2222, 2323 };

	(void)state;
	assert_int_equal(unwind_regs_unpack(UNWIND_PERF_REGS_MASK, packed, 8, regs), 0);
	assert_int_equal(regs[PERF_REG_X86_BX], 11);
	assert_int_equal(regs[PERF_REG_X86_BP], 66);
	assert_int_equal(regs[PERF_REG_X86_SP], 77);
	assert_int_equal(regs[PERF_REG_X86_IP], 88);
	assert_int_equal(regs[PERF_REG_X86_R12], 2020);
	assert_int_equal(regs[PERF_REG_X86_R15], 2323);
	assert_int_equal(regs[PERF_REG_X86_AX], 0);
	assert_int_equal(unwind_regs_unpack(UNWIND_PERF_REGS_MASK, packed, 7, regs), -EINVAL);
}

/* ---- unwinding the captured stack ------------------------------------ */

static uint64_t real_pcs[MAX_PCS];
static int real_n;
static unsigned real_flags;

static void test_unwind_real_stack(void **state)
{
	const char *names[MAX_PCS];

	(void)state;
	find_stack_end();
	assert_int_equal(unwind_test_outer(1), 2 * (2 * (1 + 5) + 1 + 3));
	assert_true(cap.len >= 1024);

	struct unwinder *u = unwinder_of_self();
	uint64_t sps[MAX_PCS];
	real_n = unwind_sample(u, cap.regs, UNWIND_NREGS, cap.stack, cap.len, real_pcs, sps, MAX_PCS,
			       &real_flags);
	assert_true(real_n >= 4);
	assert_int_equal(sps[0], cap.regs[PERF_REG_X86_SP]);
	for (int k = 1; k < real_n; k++)
		assert_true(sps[k] > sps[k - 1]);
	/* middle is frame 1: its local lies in [sps[1], sps[2]). */
	assert_true(middle_local_addr >= sps[1] && middle_local_addr < sps[2]);
	/* Rows cached per PC stepped every frame, and libunwind alone walks
	 * the same frames with the same stack pointers and outcome. */
	assert_int_equal(unwinder_stats(u)->fast_steps, (uint64_t)(real_n - 1));
	{
		struct unwinder *lu = unwinder_of_self();
		uint64_t lpcs[MAX_PCS], lsps[MAX_PCS];
		unsigned lflags;
		unwinder_set_fast(lu, 0);
		int ln = unwind_sample(lu, cap.regs, UNWIND_NREGS, cap.stack, cap.len, lpcs, lsps,
				       MAX_PCS, &lflags);
		assert_int_equal(ln, real_n);
		assert_int_equal(lflags, real_flags);
		assert_memory_equal(lpcs, real_pcs, (size_t)ln * sizeof(*lpcs));
		assert_memory_equal(lsps, sps, (size_t)ln * sizeof(*lsps));
		assert_int_equal(unwinder_stats(lu)->fast_steps, 0);
		unwinder_free(lu);
	}
	names_of(u, real_pcs, real_n, names);
	for (int i = 0; i < real_n; i++)
		print_message("  #%d %#llx %s\n", i, (unsigned long long)real_pcs[i], names[i]);
	print_message("  flags %#x, %zu bytes of stack copied\n", real_flags, cap.len);

	assert_int_equal(real_pcs[0], cap.regs[PERF_REG_X86_IP]);
	assert_int_equal(stop_bits(real_flags), 1);
	assert_false(real_flags & UNWIND_FP_USED);
	/* The whole stack was copied: the walk reaches its outermost frame. */
	if (cap.len == ((stack_end - cap.regs[PERF_REG_X86_SP]) & ~7ull))
		assert_int_equal(real_flags, UNWIND_END);
	assert_int_equal(index_of(names, real_n, 0, "unwind_test_inner"), 0);
	int i = index_of(names, real_n, 1, "unwind_test_middle");
	assert_int_equal(i, 1);
	i = index_of(names, real_n, i + 1, "unwind_test_outer");
	assert_int_equal(i, 2);
	i = index_of(names, real_n, i + 1, "test_unwind_real_stack");
	assert_int_equal(i, 3);
	assert_true(index_of(names, real_n, i + 1, "main") > i);

	const struct unwind_stats *st = unwinder_stats(u);
	assert_int_equal(st->samples, 1);
	assert_int_equal(st->frames, (uint64_t)real_n);
	assert_true(st->modules >= 2); /* this test and libc at least */
	unwinder_free(u);
}

/* The copy cut to 64 bytes: fewer frames, and the walk says why. */
static void test_truncated(void **state)
{
	uint64_t pcs[MAX_PCS];
	unsigned flags;

	(void)state;
	assert_true(real_n > 4);
	struct unwinder *u = unwinder_of_self();
	int n = unwind_sample(u, cap.regs, UNWIND_NREGS, cap.stack, 64, pcs, NULL, MAX_PCS, &flags);
	assert_true(n >= 1 && n < real_n);
	assert_int_equal(flags & UNWIND_STOP_MASK, UNWIND_TRUNCATED);
	assert_memory_equal(pcs, real_pcs, (size_t)n * sizeof(*pcs));

	/* No stack at all: only the interrupted PC. */
	n = unwind_sample(u, cap.regs, UNWIND_NREGS, NULL, 0, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, 1);
	assert_int_equal(flags & UNWIND_STOP_MASK, UNWIND_TRUNCATED);

	/* max reached. */
	n = unwind_sample(u, cap.regs, UNWIND_NREGS, cap.stack, cap.len, pcs, NULL, 3, &flags);
	assert_int_equal(n, 3);
	assert_int_equal(flags, UNWIND_MAX);
	assert_memory_equal(pcs, real_pcs, 3 * sizeof(*pcs));
	n = unwind_sample(u, cap.regs, UNWIND_NREGS, cap.stack, cap.len, pcs, NULL, 0, &flags);
	assert_int_equal(n, 0);
	assert_int_equal(flags, UNWIND_MAX);
	unwinder_free(u);
}

/* Registers and stacks of random bytes: never a crash, always a reason. */
static void test_garbage(void **state)
{
	uint64_t pcs[MAX_PCS], regs[UNWIND_NREGS];
	static uint8_t junk[8192];
	unsigned flags;
	int n;

	(void)state;
	struct unwinder *u = unwinder_of_self();

	/* Without IP and SP there is nothing to walk. */
	n = unwind_sample(u, cap.regs, PERF_REG_X86_IP, cap.stack, cap.len, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, 0);
	assert_int_equal(flags, UNWIND_ERROR);
	n = unwind_sample(u, NULL, 0, NULL, 0, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, 0);
	assert_int_equal(flags, UNWIND_ERROR);

	/* An IP outside every mapping: one frame, no unwind info. */
	memcpy(regs, cap.regs, sizeof(regs));
	regs[PERF_REG_X86_IP] = 0x10;
	regs[PERF_REG_X86_BP] = 0;
	n = unwind_sample(u, regs, UNWIND_NREGS, cap.stack, cap.len, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, 1);
	assert_int_equal(flags, UNWIND_NO_INFO);

	srand(12345);
	for (int round = 0; round < 3000; round++) {
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)rand();
		for (int i = 0; i < UNWIND_NREGS; i++)
			regs[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 10) ^ (uint64_t)rand();
		/* Real code and a real-looking SP half of the time, so that
		 * CFI runs over junk rather than stopping at once. */
		if (round & 1)
			regs[PERF_REG_X86_IP] = real_pcs[rand() % real_n];
		if (round & 2)
			regs[PERF_REG_X86_SP] = cap.regs[PERF_REG_X86_SP];
		if (round % 8 == 0)
			memcpy(junk, cap.stack, 64); /* a sane first frame, then junk */
		size_t len = (size_t)rand() % sizeof(junk);
		n = unwind_sample(u, regs, UNWIND_NREGS, junk, len, pcs, NULL, MAX_PCS, &flags);
		assert_true(n >= 1 && n <= MAX_PCS);
		assert_int_equal(pcs[0], regs[PERF_REG_X86_IP]);
		assert_int_equal(stop_bits(flags), 1);
	}
	const struct unwind_stats *st = unwinder_stats(u);
	print_message("  garbage: %llu samples, end %llu, no info %llu, truncated %llu, "
		      "error %llu, fp steps %llu\n",
		      (unsigned long long)st->samples, (unsigned long long)st->end,
		      (unsigned long long)st->no_info, (unsigned long long)st->truncated,
		      (unsigned long long)st->error, (unsigned long long)st->fp_steps);
	unwinder_free(u);
}

/*
 * A PC in a module without unwind info stops the walk; with a frame chain
 * at RBP, one frame-pointer step carries it over to code with CFI again.
 */
static void test_no_info(void **state)
{
	uint64_t pcs[MAX_PCS], regs[UNWIND_NREGS];
	static uint8_t stack[COPY_MAX + 16];
	char path[64];
	unsigned flags;
	const uint64_t base = 0x10000000, anon = 0x20000000;

	(void)state;
	write_bare_elf(path);
	struct unwinder *u = unwinder_of_self();
	assert_int_equal(modmap_add(unwinder_modmap(u), base, base + 4096, 0, path), 0);
	assert_int_equal(modmap_add(unwinder_modmap(u), anon, anon + 4096, 0, NULL), 0);

	memcpy(regs, cap.regs, sizeof(regs));
	regs[PERF_REG_X86_BP] = 0;
	regs[PERF_REG_X86_IP] = base + 0x100;
	int n = unwind_sample(u, regs, UNWIND_NREGS, cap.stack, cap.len, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, 1);
	assert_int_equal(flags, UNWIND_NO_INFO);
	regs[PERF_REG_X86_IP] = anon + 0x100;
	n = unwind_sample(u, regs, UNWIND_NREGS, cap.stack, cap.len, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, 1);
	assert_int_equal(flags, UNWIND_NO_INFO);

	/*
	 * A frame-pointer frame pushed below the captured stack, as JIT code
	 * or a trampoline called from inner would leave it: [saved RBP,
	 * return address into inner], with RBP pointing at it.
	 */
	uint64_t sp = cap.regs[PERF_REG_X86_SP] - 16, bp = cap.regs[PERF_REG_X86_BP];
	uint64_t saved = bp > sp && bp < stack_end ? bp : 0;
	memcpy(stack, &saved, 8);
	memcpy(stack + 8, &cap.regs[PERF_REG_X86_IP], 8);
	memcpy(stack + 16, cap.stack, cap.len);
	regs[PERF_REG_X86_SP] = regs[PERF_REG_X86_BP] = sp;
	for (int i = 0; i < 2; i++) {
		regs[PERF_REG_X86_IP] = (i ? anon : base) + 0x100;
		n = unwind_sample(u, regs, UNWIND_NREGS, stack, cap.len + 16, pcs, NULL, MAX_PCS, &flags);
		assert_int_equal(n, real_n + 1);
		assert_int_equal(flags, real_flags | UNWIND_FP_USED);
		assert_memory_equal(pcs + 1, real_pcs, (size_t)real_n * sizeof(*pcs));
	}
	/* A return address outside every mapping is no frame chain. */
	memset(stack + 8, 0, 8);
	n = unwind_sample(u, regs, UNWIND_NREGS, stack, cap.len + 16, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, 1);
	assert_int_equal(flags, UNWIND_NO_INFO);
	assert_int_equal(unwinder_stats(u)->fp_steps, 2);

	unwinder_free(u);
	unlink(path);
}

/* ---- .debug_frame ----------------------------------------------------- */

/*
 * The mixed case: this binary's .eh_frame covers everything but
 * unwind_test_df_middle, whose CFI only .debug_frame has. The walk must go
 * through it by CFI, without a frame-pointer step, to the outermost frame.
 */
static uint64_t df_pcs[MAX_PCS];
static int df_n;

/* A copy of this test binary whose .debug_frame is renamed away. */
static void write_self_without_debug_frame(char *path)
{
	static const char want[] = ".debug_frame";
	FILE *f = fopen("/proc/self/exe", "rb");
	long size;
	int found = 0;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > (long)sizeof(Elf64_Ehdr));
	rewind(f);
	uint8_t *img = malloc((size_t)size);
	assert_non_null(img);
	assert_int_equal(fread(img, 1, (size_t)size, f), (size_t)size);
	fclose(f);

	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	assert_true(eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) <= (uint64_t)size);
	assert_true(eh->e_shstrndx < eh->e_shnum);
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	uint64_t strs = sh[eh->e_shstrndx].sh_offset;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		uint64_t at = strs + sh[i].sh_name;
		if (at + sizeof(want) <= (uint64_t)size && memcmp(img + at, want, sizeof(want)) == 0) {
			img[at + 9] = 'x'; /* ".debug_frxme" */
			found = 1;
		}
	}
	assert_true(found);

	strcpy(path, "/tmp/pyrometer-unwind-nodf.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, (size_t)size), (ssize_t)size);
	close(fd);
	free(img);
}

static void test_debug_frame_stack(void **state)
{
	const char *names[MAX_PCS];
	uint64_t sps[MAX_PCS], pcs[MAX_PCS];
	unsigned flags;

	(void)state;
	find_stack_end();
	assert_int_equal(unwind_test_df_outer(1), 22);
	assert_true(dfcap.len >= 1024);

	struct unwinder *u = unwinder_of_self();
	df_n = unwind_sample(u, dfcap.regs, UNWIND_NREGS, dfcap.stack, dfcap.len, df_pcs, sps,
			     MAX_PCS, &flags);
	names_of(u, df_pcs, df_n, names);
	for (int i = 0; i < df_n; i++)
		print_message("  #%d %#llx %s\n", i, (unsigned long long)df_pcs[i], names[i]);
	print_message("  flags %#x\n", flags);
	assert_int_equal(stop_bits(flags), 1);
	assert_false(flags & UNWIND_FP_USED);
	if (dfcap.len == ((stack_end - dfcap.regs[PERF_REG_X86_SP]) & ~7ull))
		assert_int_equal(flags, UNWIND_END);
	assert_true(df_n >= 5);
	for (int k = 1; k < df_n; k++)
		assert_true(sps[k] > sps[k - 1]);
	assert_int_equal(index_of(names, df_n, 0, "unwind_test_df_inner"), 0);
	assert_int_equal(index_of(names, df_n, 1, "unwind_test_df_middle"), 1);
	assert_int_equal(index_of(names, df_n, 2, "unwind_test_df_outer"), 2);
	assert_int_equal(index_of(names, df_n, 3, "test_debug_frame_stack"), 3);
	assert_true(index_of(names, df_n, 4, "main") > 3);
	assert_true(unwinder_stats(u)->debug_frame >= 1);
	unwinder_free(u);

	/*
	 * The control: this binary again, its .debug_frame renamed away. Now
	 * nothing describes df_middle's frame: df_outer is never reached.
	 */
	char path[64], exe[4096];
	struct { uint64_t start, end, pgoff; } ex[32];
	size_t nex = 0;
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(k > 0);
	exe[k] = '\0';
	write_self_without_debug_frame(path);
	u = unwinder_of_self();
	struct modmap *mm = unwinder_modmap(u);
	for (size_t i = 0; i < mm->n && nex < 32; i++)
		if (mm->v[i].path && strcmp(mm->v[i].path, exe) == 0)
			ex[nex++] = (typeof(ex[0])){ mm->v[i].start, mm->v[i].end, mm->v[i].pgoff };
	assert_true(nex >= 1);
	for (size_t i = 0; i < nex; i++)
		assert_int_equal(modmap_add(mm, ex[i].start, ex[i].end, ex[i].pgoff, path), 0);
	int n = unwind_sample(u, dfcap.regs, UNWIND_NREGS, dfcap.stack, dfcap.len, pcs, NULL,
			      MAX_PCS, &flags);
	print_message("  without .debug_frame: %d frames, flags %#x\n", n, flags);
	assert_true(n >= 2);
	assert_int_equal(pcs[1], df_pcs[1]);
	for (int i = 2; i < n; i++)
		assert_true(pcs[i] != df_pcs[2]);
	assert_int_equal(unwinder_stats(u)->debug_frame, 0);
	unwinder_free(u);
	unlink(path);
}

/*
 * Crafted modules: one executable PT_LOAD of CRAFT_LOAD bytes holding at
 * CRAFT_CODE a function `sub $0x18,%rsp; ...; add $0x18,%rsp; ret`, no
 * .eh_frame, and the sections asked for. A sample at CRAFT_IP (after the
 * sub) whose return address is inner's captured PC continues into the
 * captured stack.
 */
#define CRAFT_LOAD 0x200
#define CRAFT_CODE 0x100
#define CRAFT_CODE_LEN 0x40
#define CRAFT_IP (CRAFT_CODE + 0x10)
#define CRAFT_FRAME 0x20          /* CFA - SP at CRAFT_IP */
#define CRAFT_DF_MAX 4096
#define CRAFT_BASE 0x10000000ull  /* where the tests map it */

struct wbuf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	assert_true(n <= w->cap - w->n);
	memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void put8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put32(struct wbuf *w, uint32_t v)
{
	put(w, &v, 4);
}

static void put64(struct wbuf *w, uint64_t v)
{
	put(w, &v, 8);
}

/* Patch the 32-bit length of the entry at start, padded with nops to 4. */
static void close_entry(struct wbuf *w, size_t start)
{
	while ((w->n - start) % 4)
		put8(w, 0);
	uint32_t len = (uint32_t)(w->n - start - 4);
	memcpy(w->p + start, &len, 4);
}

/* How a crafted .debug_frame differs from the plain one. */
struct df_opts {
	int version;              /* of the CIE: 1, 3, 4 (0 = 1) */
	int cie_last;             /* the CIE after the FDE */
	int dwarf64_first;        /* a 64-bit entry first */
	int zero_first;           /* a zero terminator first */
	const char *aug;          /* the CIE's augmentation (NULL = "") */
	int address_size;         /* version 4 only (0 = 8) */
	uint64_t pc, range;       /* of the FDE (0 = CRAFT_CODE, CRAFT_CODE_LEN) */
	int set_loc;              /* a DW_CFA_set_loc in the FDE */
	int32_t cie_ptr_delta;    /* added to the FDE's CIE pointer */
};

/* The .debug_frame describing the crafted function. */
static size_t craft_debug_frame(uint8_t *out, const struct df_opts *o)
{
	struct wbuf w = { out, 0, CRAFT_DF_MAX };
	int version = o->version ? o->version : 1;
	size_t cie = 0, fde = 0, start;
	uint64_t pc = o->pc ? o->pc : CRAFT_CODE, range = o->range ? o->range : CRAFT_CODE_LEN;

	if (o->dwarf64_first) {
		put32(&w, 0xffffffffu);
		put64(&w, 12);
		put64(&w, 0xffffffffffffffffull); /* a 64-bit CIE id */
		put32(&w, 0x01010101u);
	}
	if (o->zero_first)
		put32(&w, 0);
	for (int part = 0; part < 2; part++) {
		if (part == (o->cie_last ? 1 : 0)) {
			cie = start = w.n;
			put32(&w, 0);
			put32(&w, 0xffffffffu);
			put8(&w, (uint8_t)version);
			put(&w, o->aug ? o->aug : "", strlen(o->aug ? o->aug : "") + 1);
			if (version == 4) {
				put8(&w, (uint8_t)(o->address_size ? o->address_size : 8));
				put8(&w, 0);
			}
			put8(&w, 1);    /* code alignment */
			put8(&w, 0x78); /* data alignment -8 */
			put8(&w, 16);   /* RA register, as a byte or a ULEB128 */
			put(&w, "\x0c\x07\x08\x90\x01", 5); /* def_cfa rsp+8; rip at cfa-8 */
			close_entry(&w, start);
		} else {
			fde = start = w.n;
			put32(&w, 0);
			put32(&w, 0); /* patched below, once the CIE is placed */
			put64(&w, pc);
			put64(&w, range);
			if (o->set_loc) {
				put8(&w, 0x01);
				put64(&w, pc + 4);
			} else {
				put8(&w, 0x44); /* advance_loc 4 */
			}
			put(&w, "\x0e\x20", 2);         /* def_cfa_offset 32 */
			put8(&w, 0x40 | (0x3b - 4));    /* advance_loc to the add */
			put(&w, "\x0e\x08", 2);         /* def_cfa_offset 8 */
			close_entry(&w, start);
		}
	}
	uint32_t ptr = (uint32_t)((int64_t)cie + o->cie_ptr_delta);
	memcpy(out + fde + 4, &ptr, 4);
	return w.n;
}

/* Write the crafted module to path: .debug_frame df[0, df_len) when df,
 * a GNU build-id note when build_id (20 bytes). */
static void write_crafted_elf(const char *path, const uint8_t *df, size_t df_len,
			      const uint8_t *build_id)
{
	static uint8_t img[0x280 + CRAFT_DF_MAX + 8 + 4 * sizeof(Elf64_Shdr)];
	static const char strs[] = "\0.shstrtab\0.debug_frame\0.note.gnu.build-id";
	static const uint8_t code_head[] = { 0x48, 0x83, 0xec, 0x18 }; /* sub $0x18,%rsp */
	static const uint8_t code_tail[] = { 0x48, 0x83, 0xc4, 0x18, 0xc3 };
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));

	assert_true(df_len <= CRAFT_DF_MAX);
	memset(img, 0, sizeof(img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_filesz = ph->p_memsz = CRAFT_LOAD;
	ph->p_align = 4096;

	memset(img + CRAFT_CODE, 0x90, CRAFT_CODE_LEN);
	memcpy(img + CRAFT_CODE, code_head, sizeof(code_head));
	memcpy(img + CRAFT_CODE + 0x3b, code_tail, sizeof(code_tail));

	/* Sections: null, .shstrtab, then the note and .debug_frame if any. */
	size_t shoff = (0x280 + df_len + 7) & ~(size_t)7, nsh = 2;
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + shoff);
	memcpy(img + 0x240, strs, sizeof(strs));
	sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = 0x240,
			      .sh_size = sizeof(strs), .sh_addralign = 1 };
	if (build_id) {
		Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = 20, .n_type = NT_GNU_BUILD_ID };
		memcpy(img + 0x200, &nh, sizeof(nh));
		memcpy(img + 0x200 + sizeof(nh), "GNU", 4);
		memcpy(img + 0x200 + sizeof(nh) + 4, build_id, 20);
		sh[nsh++] = (Elf64_Shdr){ .sh_name = 24, .sh_type = SHT_NOTE, .sh_offset = 0x200,
					  .sh_size = sizeof(nh) + 4 + 20, .sh_addralign = 4 };
	}
	if (df) {
		memcpy(img + 0x280, df, df_len);
		sh[nsh++] = (Elf64_Shdr){ .sh_name = 11, .sh_type = SHT_PROGBITS, .sh_offset = 0x280,
					  .sh_size = df_len, .sh_addralign = 8 };
	}
	eh->e_shoff = shoff;
	eh->e_shnum = (uint16_t)nsh;
	eh->e_shstrndx = 1;

	size_t size = shoff + nsh * sizeof(Elf64_Shdr);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, size), (ssize_t)size);
	close(fd);
}

/* The captured stack of inner with a crafted frame pushed below it: a
 * sample at CRAFT_IP in the crafted module mapped at CRAFT_BASE. */
static size_t crafted_sample(uint64_t *regs, uint8_t *stack)
{
	memcpy(regs, cap.regs, UNWIND_NREGS * sizeof(*regs));
	regs[PERF_REG_X86_IP] = CRAFT_BASE + CRAFT_IP;
	regs[PERF_REG_X86_SP] = cap.regs[PERF_REG_X86_SP] - CRAFT_FRAME;
	memset(stack, 0, CRAFT_FRAME);
	memcpy(stack + CRAFT_FRAME - 8, &cap.regs[PERF_REG_X86_IP], 8);
	memcpy(stack + CRAFT_FRAME, cap.stack, cap.len);
	return CRAFT_FRAME + cap.len;
}

static uint8_t craft_stack[CRAFT_FRAME + COPY_MAX];

/*
 * The crafted .debug_frame with the module alone in the map: how many
 * frames, and *tables, whether the module got a table from .debug_frame.
 * Never a crash, always one stop reason. When strict, the walk is what the
 * plain .debug_frame gives (2 frames: the crafted one by its CFI, then
 * inner's PC, which is mapped nowhere here) or nothing at all (1 frame,
 * no table).
 */
static int crafted_frames(const char *path, const uint8_t *df, size_t df_len, int strict,
			  int *tables)
{
	uint64_t regs[UNWIND_NREGS], pcs[MAX_PCS];
	unsigned flags;

	write_crafted_elf(path, df, df_len, NULL);
	size_t len = crafted_sample(regs, craft_stack);
	regs[PERF_REG_X86_BP] = 0;
	struct unwinder *u = unwinder_new();
	assert_non_null(u);
	assert_int_equal(modmap_add(unwinder_modmap(u), CRAFT_BASE, CRAFT_BASE + 4096, 0, path), 0);
	int n = unwind_sample(u, regs, UNWIND_NREGS, craft_stack, len, pcs, NULL, MAX_PCS, &flags);
	assert_true(n >= 1 && n <= MAX_PCS);
	assert_int_equal(pcs[0], regs[PERF_REG_X86_IP]);
	assert_int_equal(stop_bits(flags), 1);
	*tables = (int)unwinder_stats(u)->debug_frame;
	if (strict && n == 2) {
		assert_int_equal(pcs[1], cap.regs[PERF_REG_X86_IP]);
		assert_int_equal(flags, UNWIND_NO_INFO);
		assert_int_equal(*tables, 1);
	} else if (strict) {
		assert_int_equal(n, 1);
		assert_int_equal(flags, UNWIND_NO_INFO);
		assert_int_equal(*tables, 0);
	}
	unwinder_free(u);
	return n;
}

/* Each form of CIE and entry layout, through to the captured stack. */
static void test_debug_frame_versions(void **state)
{
	static const struct df_opts good[] = {
		{ .version = 1 }, { .version = 3 }, { .version = 4 },
		{ .version = 4, .cie_last = 1 },
		{ .version = 3, .dwarf64_first = 1, .zero_first = 1 },
	};
	static uint8_t df[CRAFT_DF_MAX];
	uint64_t regs[UNWIND_NREGS], pcs[MAX_PCS];
	unsigned flags;
	char path[64];

	(void)state;
	assert_true(real_n > 4);
	strcpy(path, "/tmp/pyrometer-unwind-df.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t df_len = craft_debug_frame(df, &good[i]);
		write_crafted_elf(path, df, df_len, NULL);
		struct unwinder *u = unwinder_of_self();
		assert_int_equal(modmap_add(unwinder_modmap(u), CRAFT_BASE, CRAFT_BASE + 4096, 0,
					    path), 0);
		size_t len = crafted_sample(regs, craft_stack);
		int n = unwind_sample(u, regs, UNWIND_NREGS, craft_stack, len, pcs, NULL, MAX_PCS,
				      &flags);
		assert_int_equal(n, real_n + 1);
		assert_int_equal(flags, real_flags);
		assert_memory_equal(pcs + 1, real_pcs, (size_t)real_n * sizeof(*pcs));
		unwinder_free(u);
	}
	unlink(path);
}

/* What cannot be carried over is no unwind info, and nothing worse. */
static void test_debug_frame_malformed(void **state)
{
	static const struct df_opts bad[] = {
		{ .version = 2 },
		{ .version = 5 },
		{ .aug = "zR" },
		{ .version = 4, .address_size = 4 },
		{ .pc = 0x1000 },                     /* outside the executable PT_LOAD */
		{ .pc = 0xffffffffffffffffull },      /* a tombstone */
		{ .range = CRAFT_LOAD },              /* past the end of the code */
		{ .set_loc = 1 },
		{ .cie_ptr_delta = 4 },               /* into the middle of the CIE */
		{ .cie_ptr_delta = 0x10000 },         /* past the end */
	};
	static uint8_t df[CRAFT_DF_MAX], junk[CRAFT_DF_MAX];
	char path[64];
	int tables, made = 0;

	(void)state;
	strcpy(path, "/tmp/pyrometer-unwind-df.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = craft_debug_frame(df, &bad[i]);
		assert_int_equal(crafted_frames(path, df, len, 1, &tables), 1);
	}
	/* Each truncation cuts the FDE: no info; the whole is fine. */
	const struct df_opts v4 = { .version = 4 };
	size_t full = craft_debug_frame(df, &v4);
	for (size_t len = 0; len < full; len++)
		assert_int_equal(crafted_frames(path, df, len, 1, &tables), 1);
	assert_int_equal(crafted_frames(path, df, full, 1, &tables), 2);
	/* Lengths that lie, in both entries. */
	for (size_t at = 0; at < full; at += 4)
		for (uint32_t v = 0; v < 4; v++) {
			static const uint32_t lens[4] = { 1, 3, 0xfffffff0u, 0x7fffffffu };
			memcpy(junk, df, full);
			memcpy(junk + at, &lens[v], 4);
			crafted_frames(path, junk, full, 0, &tables);
		}
	/* Random bytes changed, random lengths, and plain garbage. */
	srand(4242);
	for (int round = 0; round < 400; round++) {
		size_t len = full;
		memcpy(junk, df, full);
		if (round % 4 == 3) {
			len = (size_t)rand() % 256;
			for (size_t i = 0; i < len; i++)
				junk[i] = (uint8_t)rand();
		} else {
			for (int k = rand() % 4; k >= 0; k--)
				junk[(size_t)rand() % full] = (uint8_t)rand();
		}
		crafted_frames(path, junk, len, 0, &tables);
		made += tables;
	}
	print_message("  mutated .debug_frame: %d of 400 gave a table\n", made);
	unlink(path);
}

/* .debug_frame from the separate debug file named by the module's build-id,
 * under the unwinder's root; a debug file of another build is ignored. */
static void test_debug_frame_debug_file(void **state)
{
	static const uint8_t id[20] = { 0xab, 0xcd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					11, 12, 13, 14, 15, 16, 17, 18 };
	static const char *const dirs[] = { "/usr", "/usr/lib", "/usr/lib/debug",
					    "/usr/lib/debug/.build-id",
					    "/usr/lib/debug/.build-id/ab" };
	static const char dbg[] =
		"/usr/lib/debug/.build-id/ab/cd0102030405060708090a0b0c0d0e0f101112.debug";
	static uint8_t df[CRAFT_DF_MAX];
	uint64_t regs[UNWIND_NREGS], pcs[MAX_PCS];
	char root[64], p[256];
	unsigned flags;

	(void)state;
	strcpy(root, "/tmp/pyrometer-unwind-root.XXXXXX");
	assert_non_null(mkdtemp(root));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		assert_int_equal(mkdir(p, 0700), 0);
	}
	const struct df_opts o = { .version = 4 };
	size_t df_len = craft_debug_frame(df, &o);
	snprintf(p, sizeof(p), "%s/mod.so", root);
	write_crafted_elf(p, NULL, 0, id);

	for (int other = 0; other < 2; other++) {
		uint8_t dbg_id[20];
		memcpy(dbg_id, id, sizeof(id));
		dbg_id[19] ^= (uint8_t)other;
		snprintf(p, sizeof(p), "%s%s", root, dbg);
		write_crafted_elf(p, df, df_len, dbg_id);

		struct unwinder *u = unwinder_new();
		assert_non_null(u);
		assert_int_equal(unwinder_set_root(u, root), 0);
		assert_int_equal(modmap_add(unwinder_modmap(u), CRAFT_BASE, CRAFT_BASE + 4096, 0,
					    "/mod.so"), 0);
		size_t len = crafted_sample(regs, craft_stack);
		regs[PERF_REG_X86_BP] = 0;
		int n = unwind_sample(u, regs, UNWIND_NREGS, craft_stack, len, pcs, NULL, MAX_PCS,
				      &flags);
		assert_int_equal(n, other ? 1 : 2);
		assert_int_equal(flags, UNWIND_NO_INFO);
		assert_int_equal(unwinder_stats(u)->debug_frame, other ? 0 : 1);
		unwinder_free(u);
	}

	unlink(p);
	snprintf(p, sizeof(p), "%s/mod.so", root);
	unlink(p);
	for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		rmdir(p);
	}
	rmdir(root);
}

/* What one sample costs once the tables are loaded. */
static void test_cost(void **state)
{
	uint64_t pcs[MAX_PCS];
	unsigned flags;
	struct timespec t0, t1;
	const int rounds = 10000;

	(void)state;
	struct unwinder *u = unwinder_of_self();
	int n = unwind_sample(u, cap.regs, UNWIND_NREGS, cap.stack, cap.len, pcs, NULL, MAX_PCS, &flags);
	assert_int_equal(n, real_n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < rounds; i++) {
		n = unwind_sample(u, cap.regs, UNWIND_NREGS, cap.stack, cap.len, pcs, NULL, MAX_PCS,
				  &flags);
		assert_int_equal(n, real_n);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
		    1e3 / rounds;
	print_message("  %d unwinds of %d frames: %.2f us per unwind\n", rounds, n, us);
	unwinder_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modmap),
		cmocka_unit_test(test_regs_unpack),
		/* The ones below use the stack captured by the first. */
		cmocka_unit_test(test_unwind_real_stack),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_no_info),
		cmocka_unit_test(test_debug_frame_stack),
		cmocka_unit_test(test_debug_frame_versions),
		cmocka_unit_test(test_debug_frame_malformed),
		cmocka_unit_test(test_debug_frame_debug_file),
		cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
