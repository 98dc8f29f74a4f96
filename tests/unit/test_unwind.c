/*
 * test_unwind.c - native unwinding of a real stack from a copy, the way a
 * perf sample carries it: this test calls outer -> middle -> inner (built
 * without frame pointers, so only CFI can walk them), captures the
 * registers and a copy of the stack in inner, and unwinds the copy with
 * the module map of this very process. Also: the module map itself, cut
 * copies, garbage, code without unwind info, the frame-pointer step, and
 * the cost of one unwind.
 *
 * Expected names come from symtab (another module) over this binary's
 * .symtab; the PCs from the unwinder are never compared with themselves.
 */
#include <errno.h>
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

NOFP static int unwind_test_inner(int x)
{
	unwind_test_capture(cap.regs);
	uint64_t sp = cap.regs[PERF_REG_X86_SP];
	size_t len = stack_end - sp < COPY_MAX ? (size_t)(stack_end - sp) & ~(size_t)7 : COPY_MAX;
	copy_stack(cap.stack, sp, len);
	cap.len = len;
	__asm__ volatile("" ::: "memory");
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
		cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
