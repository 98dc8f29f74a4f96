/*
 * test_merge.c - placing the Python frames of a sample in its native stack
 * (py_place_activations), on synthetic stacks for each family of versions:
 * shim markers (3.12+), the chain of C-stack markers (3.10/3.11, read from
 * this process's own memory), and eval-loop symbols (<= 3.9).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/python/internal.h"
#include "pyrometer/python.h"
#include "pyrometer/target.h"

static struct py_runtime rt;
static struct target_mem mem;

static void use_version(int minor)
{
	memset(&rt, 0, sizeof(rt));
	const struct py_layout *L = py_layout_find(3, minor);
	assert_non_null(L);
	rt.L = *L;
	target_mem_init(&mem, getpid());
	rt.mem = &mem;
}

/* Native frames at SPs 0x1000, 0x1100, ... (frame i owns [0x1000 + 0x100 i,
 * 0x1100 + 0x100 i)). */
static uint64_t sps[16];

static struct py_native_stack native(int n, int complete)
{
	for (int i = 0; i < n; i++)
		sps[i] = 0x1000 + 0x100 * (uint64_t)i;
	return (struct py_native_stack){ .n = n, .sps = sps, .complete = complete };
}

static struct py_activations acts;

static void activation(int end, uint64_t anchor)
{
	acts.end[acts.n] = end;
	acts.anchor[acts.n] = anchor;
	acts.n++;
}

/* 3.12+: each activation's shim address lies in its native frame. */
static void test_shims(void **state)
{
	int place[8];
	(void)state;
	use_version(12);
	struct py_native_stack ns = native(8, 1);

	memset(&acts, 0, sizeof(acts));
	activation(1, 0x1230);     /* frame 2 */
	activation(3, 0x1510);     /* frame 5 */
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[0], 2);
	assert_int_equal(place[1], 5);

	/* An activation whose marker lies below the sampled SP started
	 * after the sample: its frames are left out. */
	memset(&acts, 0, sizeof(acts));
	activation(1, 0x0f00);
	activation(2, 0x1230);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[0], PY_PLACE_NEWER);
	assert_int_equal(place[1], 2);

	/* Two activations in one native frame, or out of order: mismatch. */
	memset(&acts, 0, sizeof(acts));
	activation(1, 0x1230);
	activation(2, 0x1240);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_MISMATCH);
	memset(&acts, 0, sizeof(acts));
	activation(1, 0x1530);
	activation(2, 0x1240);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_MISMATCH);
	/* A newer activation outside an older one is no newer at all. */
	memset(&acts, 0, sizeof(acts));
	activation(1, 0x1230);
	activation(2, 0x0f00);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_MISMATCH);
}

/* A native stack cut short: outer activations lie beyond it. */
static void test_truncated_native(void **state)
{
	int place[8];
	(void)state;
	use_version(12);
	struct py_native_stack ns = native(4, 0);

	memset(&acts, 0, sizeof(acts));
	activation(1, 0x1110);     /* frame 1 */
	activation(2, 0x1900);     /* past frame 3's start: unknown */
	activation(4, 0x1a00);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_PARTIAL);
	assert_int_equal(place[0], 1);
	assert_int_equal(place[1], PY_PLACE_BEYOND);
	assert_int_equal(place[2], PY_PLACE_BEYOND);

	/* The same markers on a complete stack: the outermost frame owns
	 * everything above it. */
	ns = native(4, 1);
	memset(&acts, 0, sizeof(acts));
	activation(1, 0x1110);
	activation(2, 0x1900);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[1], 3);
}

/*
 * 3.10/3.11: markers form a chain through `previous`; the chain lives on
 * a real stack here (this process's memory, read like the target's), and
 * ends at the thread state's root marker.
 */
static void test_chain(void **state)
{
	int place[8];
	static uint64_t stack[80];    /* a fake C stack: 512 bytes at stack + 16 */
	/* The thread state, with the root marker, lives off the stack. */
	uint64_t *root = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	assert_true(root != MAP_FAILED);
	(void)state;
	use_version(11);
	const int prev = rt.L.cf_previous / 8;
	memset(stack, 0, sizeof(stack));
	memset(root, 0, 4 * sizeof(*root));
	uint64_t base = (uint64_t)(uintptr_t)(stack + 16);

	/* Native frames of 64 bytes each over the fake stack. */
	for (int i = 0; i < 8; i++)
		sps[i] = base + 64 * (uint64_t)i;
	struct py_native_stack ns = { .n = 8, .sps = sps, .complete = 1,
				      .stack = (const uint8_t *)(stack + 16), .stack_len = 512 };
	/* Markers in frames 1 and 4, then the root. */
	uint64_t m1 = base + 64 + 16, m4 = base + 4 * 64 + 8;
	stack[16 + (m1 - base) / 8 + (size_t)prev] = m4;
	stack[16 + (m4 - base) / 8 + (size_t)prev] = (uint64_t)(uintptr_t)root;

	memset(&acts, 0, sizeof(acts));
	activation(2, 0);
	activation(5, 0);
	acts.cframe = m1;
	acts.cframe_root = (uint64_t)(uintptr_t)root;
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(acts.anchor[0], m1);
	assert_int_equal(acts.anchor[1], m4);
	assert_int_equal(place[0], 1);
	assert_int_equal(place[1], 4);

	/* A call made since the sample: its marker lies below the sampled
	 * SP (outside the copy) and links to m1. It takes the first
	 * activation, which is left out as newer. */
	uint64_t newer = base - 64;
	stack[16 - 8 + (size_t)prev] = m1;
	memset(&acts, 0, sizeof(acts));
	activation(1, 0);
	activation(3, 0);
	activation(6, 0);
	acts.cframe = newer;
	acts.cframe_root = (uint64_t)(uintptr_t)root;
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[0], PY_PLACE_NEWER);
	assert_int_equal(place[1], 1);
	assert_int_equal(place[2], 4);

	/* 3.10 may leave a root that points at itself: the walk ends there.
	 * On a cut native stack the activation with no marker goes to the
	 * root side. */
	uint64_t loop = (uint64_t)(uintptr_t)root;
	root[prev] = loop;
	stack[16 + (m4 - base) / 8 + (size_t)prev] = loop;
	ns.complete = 0;
	memset(&acts, 0, sizeof(acts));
	activation(1, 0);
	activation(2, 0);
	activation(3, 0);
	acts.cframe = m1;
	acts.cframe_root = 0;          /* unknown: only the loop ends it */
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_PARTIAL);
	assert_int_equal(place[0], 1);
	assert_int_equal(place[1], 4);
	assert_int_equal(place[2], PY_PLACE_BEYOND);

	/* On a complete one it must be somewhere: by the eval loop's symbol
	 * beyond the last frame placed, else the stacks disagree. */
	ns.complete = 1;
	memset(&acts, 0, sizeof(acts));
	activation(1, 0);
	activation(2, 0);
	activation(3, 0);
	acts.cframe = m1;
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_MISMATCH);
	unsigned char is_eval[8] = { 0, 1, 0, 0, 1, 0, 1, 0 };
	ns.is_eval = is_eval;
	memset(&acts, 0, sizeof(acts));
	activation(1, 0);
	activation(2, 0);
	activation(3, 0);
	acts.cframe = m1;
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[0], 1);
	assert_int_equal(place[1], 4);
	assert_int_equal(place[2], 6);
	/* No eval frame left beyond frame 4 for two activations. */
	memset(&acts, 0, sizeof(acts));
	activation(1, 0);
	activation(2, 0);
	activation(3, 0);
	activation(4, 0);
	acts.cframe = m1;
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_MISMATCH);
	munmap(root, 4096);
}

/* <= 3.9: eval-loop frames by symbol, matched from the root. */
static void test_by_symbol(void **state)
{
	int place[8];
	unsigned char is_eval[8] = { 0, 1, 0, 0, 1, 0, 1, 0 };
	(void)state;
	use_version(9);
	struct py_native_stack ns = native(8, 1);
	ns.is_eval = is_eval;

	memset(&acts, 0, sizeof(acts));
	for (int k = 1; k <= 3; k++)
		activation(k, 0);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[0], 1);
	assert_int_equal(place[1], 4);
	assert_int_equal(place[2], 6);

	/* One Python frame more than eval calls: the innermost is newer. */
	memset(&acts, 0, sizeof(acts));
	for (int k = 1; k <= 4; k++)
		activation(k, 0);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[0], PY_PLACE_NEWER);
	assert_int_equal(place[1], 1);
	assert_int_equal(place[3], 6);

	/* One fewer (the innermost call returned before the read): the outer
	 * two keep their frames. */
	memset(&acts, 0, sizeof(acts));
	for (int k = 1; k <= 2; k++)
		activation(k, 0);
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_OK);
	assert_int_equal(place[0], 4);
	assert_int_equal(place[1], 6);

	/* Without symbols nothing can be placed. */
	ns.is_eval = NULL;
	assert_int_equal(py_place_activations(&rt, &acts, &ns, place), PY_PLACE_MISMATCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shims),
		cmocka_unit_test(test_truncated_native),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_by_symbol),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
