/*
 * test_bpf_record.c - the BPF backend's records as raw frames: the layout the
 * kernel walker gets for each version, and py_stack_from_record on synthetic
 * records (instruction indexes, activations, shims, torn chains), the same
 * rules as a read from user space.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/types.h>
#include <string.h>
#include <unistd.h>

#include "../../src/bpf/pystack_abi.h"
#include "../../src/python/internal.h"
#include "pyrometer/python.h"
#include "pyrometer/target.h"

static struct py_runtime rt;
static struct target_mem mem;
static struct pystack_record rec;
static struct py_raw_frame frames[PY_MAX_FRAMES];
static struct py_activations acts;

static void use_version(int minor)
{
	memset(&rt, 0, sizeof(rt));
	const struct py_layout *L = py_layout_find(3, minor);
	assert_non_null(L);
	rt.L = *L;
	snprintf(rt.version, sizeof(rt.version), "3.%d", minor);
	target_mem_init(&mem, getpid());
	rt.mem = &mem;
	memset(&rec, 0, sizeof(rec));
	memset(&acts, 0, sizeof(acts));
}

static void frame(uint64_t addr, uint64_t code, uint64_t instr, int owner, int is_entry)
{
	struct pystack_frame *f = &rec.frames[rec.nframes++];
	*f = (struct pystack_frame){ .addr = addr, .code = code, .instr = instr,
				     .owner = (__u8)owner, .is_entry = (__u8)is_entry };
}

static int decode(unsigned *flags, int *deep)
{
	return py_stack_from_record(&rt, &rec, frames, PY_MAX_FRAMES, flags, &acts, deep);
}

/* Every version 3.8 - 3.12 from the compiled table gets a layout the
 * walker can use, reaching the top the way the version keeps it. */
static void test_layouts(void **state)
{
	char err[128];
	(void)state;
	for (int minor = 8; minor <= 12; minor++) {
		struct pystack_layout L;
		use_version(minor);
		assert_int_equal(py_bpf_layout(&rt, &L, err, sizeof(err)), 0);
		assert_true(L.fr_read >= 8 && L.fr_read <= PYSTACK_FRAME_READ);
		assert_true((uint32_t)L.fr_code + 8 <= L.fr_read);
		assert_true((uint32_t)L.fr_back + 8 <= L.fr_read);
		/* f_lasti is an int before 3.11, the instruction pointer after */
		assert_true((uint32_t)L.fr_instr + (minor <= 10 ? 4 : 8) <= L.fr_read);
		assert_int_equal(L.top, minor <= 10 ? PYSTACK_TOP_FRAME : PYSTACK_TOP_CFRAME);
		assert_int_equal(L.owner_is_tid, minor >= 11);
		assert_int_equal(L.code_mask, ~(uint64_t)0);
		assert_int_equal(L.ts_cframe >= 0, minor >= 10);
	}
	/* A layout with the frame's fields out of the walker's reach: refused,
	 * with a reason naming the version. */
	use_version(12);
	rt.L.fr_instr = 4000;
	struct pystack_layout L;
	assert_int_equal(py_bpf_layout(&rt, &L, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "3.12"));
}

/* <= 3.10: one activation per frame; f_lasti in bytes before 3.10. */
static void test_frame_objects(void **state)
{
	unsigned flags;
	int deep;
	(void)state;
	use_version(8);
	frame(0x7000, 0xa000, 20, 0, 0);
	frame(0x7100, 0xb000, 0xffffffff00000006ull, 0, 0);  /* high bits: not f_lasti */
	frame(0x7200, 0xc000, (uint32_t)-1, 0, 0);           /* not started */
	assert_int_equal(decode(&flags, &deep), 3);
	assert_int_equal(flags, 0);
	assert_int_equal(deep, 0);
	assert_int_equal(frames[0].code, 0xa000);
	assert_int_equal(frames[0].instr, 10);
	assert_int_equal(frames[1].instr, 3);
	assert_int_equal(frames[2].instr, -1);
	assert_int_equal(acts.n, 3);
	assert_int_equal(acts.end[0], 1);
	assert_int_equal(acts.end[2], 3);

	use_version(10);
	frame(0x7000, 0xa000, 20, 0, 0);
	assert_int_equal(decode(&flags, &deep), 1);
	assert_int_equal(frames[0].instr, 20);
}

/* 3.11: the frame marked is_entry ends an activation; a chain that ends on
 * a frame without the mark was cut (torn). */
static void test_entry_frames(void **state)
{
	unsigned flags;
	int deep;
	(void)state;
	use_version(11);
	uint64_t base = (uint64_t)rt.L.co_code_adaptive;
	rec.tstate = 0x5000;
	rec.cframe = 0x6000;
	frame(0x7000, 0xa000, 0xa000 + base + 8, 0, 0);
	frame(0x7100, 0xb000, 0xb000 + base + 2, 0, 1);
	frame(0x7200, 0xc000, 0xc000 + base, 0, 1);
	assert_int_equal(decode(&flags, &deep), 3);
	assert_int_equal(flags, 0);
	assert_int_equal(frames[0].instr, 4);
	assert_int_equal(frames[1].instr, 1);
	assert_int_equal(frames[2].instr, 0);
	assert_int_equal(acts.n, 2);
	assert_int_equal(acts.end[0], 2);
	assert_int_equal(acts.end[1], 3);
	assert_int_equal(acts.cframe, 0x6000);
	assert_int_equal(acts.tstate, 0x5000);

	use_version(11);
	frame(0x7000, 0xa000, 0xa000 + base, 0, 0);
	frame(0x7100, 0xb000, 0xb000 + base, 0, 0);
	assert_int_equal(decode(&flags, &deep), 2);
	assert_true(flags & PY_STACK_TORN);
	assert_true(acts.torn);

	/* Frames beyond the walker's reach: read from user space (here the
	 * thread has no state, so nothing more comes, and it says so). */
	use_version(11);
	frame(0x7000, 0xa000, 0xa000 + base, 0, 1);
	rec.next = 0x7100;
	assert_int_equal(decode(&flags, &deep), 1);
	assert_int_equal(deep, 1);
}

/* 3.12: shims on the C stack start activations, anchored at their address;
 * a non-shim frame on the C stack is one being set up: the walk stops. */
static void test_shims(void **state)
{
	unsigned flags;
	int deep;
	(void)state;
	use_version(12);
	uint64_t base = (uint64_t)rt.L.co_code_adaptive;
	acts.cstack_lo = 0x10000;
	acts.cstack_hi = 0x20000;
	frame(0x7000, 0xa000, 0xa000 + base + 10, 0, 0);
	frame(0x1f000, 0xd000, 0, 3, 0);                     /* shim */
	frame(0x7100, 0xb000, 0xb000 + base + 4, 0, 0);
	frame(0x7200, 0xc000, 0xc000 + base + 6, 0, 0);
	frame(0x1f800, 0xd000, 0, 3, 0);                     /* shim */
	assert_int_equal(decode(&flags, &deep), 3);
	assert_int_equal(flags, 0);
	assert_int_equal(frames[0].instr, 5);
	assert_int_equal(frames[2].code, 0xc000);
	assert_int_equal(acts.n, 2);
	assert_int_equal(acts.end[0], 1);
	assert_int_equal(acts.anchor[0], 0x1f000);
	assert_int_equal(acts.end[1], 3);
	assert_int_equal(acts.anchor[1], 0x1f800);
	assert_int_equal(rt.shim_code, 0xd000);

	/* The shim's code, once known, marks a shim whose owner byte is not
	 * stored yet. */
	memset(&rec, 0, sizeof(rec));
	memset(&acts, 0, sizeof(acts));
	acts.cstack_lo = 0x10000;
	acts.cstack_hi = 0x20000;
	frame(0x7000, 0xa000, 0xa000 + base, 0, 0);
	frame(0x1f000, 0xd000, 0, 0, 0);
	assert_int_equal(decode(&flags, &deep), 1);
	assert_int_equal(flags, 0);
	assert_int_equal(acts.anchor[0], 0x1f000);

	/* On the C stack, not a shim: half made, the walk stops there. */
	memset(&rec, 0, sizeof(rec));
	memset(&acts, 0, sizeof(acts));
	acts.cstack_lo = 0x10000;
	acts.cstack_hi = 0x20000;
	frame(0x7000, 0xa000, 0xa000 + base, 0, 0);
	frame(0x1f000, 0xe000, 0, 0, 0);
	frame(0x7100, 0xb000, 0xb000 + base, 0, 0);
	assert_int_equal(decode(&flags, &deep), 1);
	assert_true(flags & PY_STACK_TORN);

	/* A misaligned code reference is no frame. */
	memset(&rec, 0, sizeof(rec));
	memset(&acts, 0, sizeof(acts));
	frame(0x7000, 0xa003, 0, 0, 0);
	assert_int_equal(decode(&flags, &deep), 0);
	assert_true(flags & PY_STACK_TORN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_frame_objects),
		cmocka_unit_test(test_entry_frames),
		cmocka_unit_test(test_shims),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
