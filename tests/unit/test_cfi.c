/*
 * test_cfi.c - reduced CFI rows (cfi.h) from hand-assembled .eh_frame
 * tables: the rules of each instruction, remember/restore, the PLT
 * expression, what is refused, and malformed tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/cfi.h"

/* One buffer holds the search table then the .eh_frame; vaddr 0x10000. */
#define BASE 0x10000u

static uint8_t img[4096];
static size_t len;

static const uint8_t *bytes(void *arg, uint64_t v, size_t n)
{
	(void)arg;
	if (v < BASE || v - BASE > len || len - (v - BASE) < n)
		return NULL;
	return img + (v - BASE);
}

static const struct cfi_src src = { bytes, NULL };

static void put(const void *p, size_t n)
{
	memcpy(img + len, p, n);
	len += n;
}

static void put32(uint32_t v) { put(&v, 4); }
static void put8(uint8_t v) { put(&v, 1); }

/*
 * Layout: [0, 16) the table (one or two entries, relative to BASE), then a
 * CIE at 16 and FDEs after it. Returns the table. The CIE: version 1,
 * "zR", code align 1, data align -8, RA 16, FDE encoding pcrel sdata4,
 * instructions cie_insns. Each FDE covers [start, start + size) with its
 * instructions.
 */
struct fde_spec {
	uint32_t start, size;
	const uint8_t *insns;
	size_t ninsns;
};

static struct cfi_table build(const uint8_t *cie_insns, size_t ncie, const char *aug,
			      const struct fde_spec *f, int nf)
{
	uint32_t fde_at[4];
	memset(img, 0, sizeof(img));
	len = 16 * 2;                          /* table room */
	size_t cie = len;
	size_t alen = strlen(aug) + 1;
	uint32_t cie_len = (uint32_t)(4 + 1 + alen + 3 + (aug[0] == 'z' ? 2 : 0) + ncie);
	uint32_t pad = (4 - (cie_len + 4) % 4) % 4;
	put32(cie_len + pad);
	put32(0);                              /* CIE id */
	put8(1);                               /* version */
	put(aug, alen);
	put8(1);                               /* code align */
	put8(0x78);                            /* data align -8 (sleb) */
	put8(16);                              /* RA */
	if (aug[0] == 'z') {
		put8(1);                       /* aug data length */
		put8(0x1b);                    /* pcrel sdata4 */
	}
	put(cie_insns, ncie);
	for (uint32_t i = 0; i < pad; i++)
		put8(0);
	for (int k = 0; k < nf; k++) {
		fde_at[k] = (uint32_t)len;
		uint32_t flen = (uint32_t)(4 + 4 + 4 + 1 + f[k].ninsns);
		uint32_t fpad = (4 - (flen + 4) % 4) % 4;
		put32(flen + fpad);
		put32((uint32_t)(len - cie));  /* CIE pointer */
		int32_t rel = (int32_t)(f[k].start - (BASE + len));
		put(&rel, 4);
		put32(f[k].size);
		put8(0);                       /* aug data length */
		put(f[k].insns, f[k].ninsns);
		for (uint32_t i = 0; i < fpad; i++)
			put8(0);
	}
	for (int k = 0; k < nf; k++) {
		int32_t e[2] = { (int32_t)(f[k].start - BASE), (int32_t)fde_at[k] };
		memcpy(img + 8 * k, e, 8);
	}
	return (struct cfi_table){ BASE, BASE, (uint64_t)nf };
}

static const uint8_t std_cie[] = { 0x0c, 7, 8, 0x90, 1 }; /* def_cfa rsp+8; ra at cfa-8 */

static void test_rows(void **state)
{
	(void)state;
	/* push rbp; (cfa 16, rbp at cfa-16) mov rbp,rsp (cfa = rbp+16);
	 * push rbx (rbx at cfa-24); ...; remember; leave (cfa rsp+8);
	 * ret; restore (back to rbp-based) */
	static const uint8_t fn[] = {
		0x41, 0x0e, 16, 0x86, 2,            /* @+1: cfa_off 16, rbp cfa-16 */
		0x43, 0x0d, 6,                      /* @+4: cfa reg rbp */
		0x42, 0x83, 3,                      /* @+6: rbx cfa-24 */
		0x4a, 0x0a, 0x0c, 7, 8,             /* @+16: remember; cfa rsp+8 */
		0x41, 0x0b,                         /* @+17: restore */
	};
	struct fde_spec f[1] = { { 0x20000, 0x40, fn, sizeof(fn) } };
	struct cfi_table t = build(std_cie, sizeof(std_cie), "zR", f, 1);
	struct cfi_row r;

	assert_int_equal(cfi_row_at(&src, &t, 0x20000, &r), 0);
	assert_int_equal(r.cfa_reg, 7);
	assert_int_equal(r.cfa_off, 8);
	assert_int_equal(r.rule[CFI_RA], CFI_OFFSET);
	assert_int_equal(r.off[CFI_RA], -8);
	assert_int_equal(r.rule[1], CFI_SAME);

	assert_int_equal(cfi_row_at(&src, &t, 0x20003, &r), 0);
	assert_int_equal(r.cfa_reg, 7);
	assert_int_equal(r.cfa_off, 16);
	assert_int_equal(r.rule[1], CFI_OFFSET);      /* rbp */
	assert_int_equal(r.off[1], -16);

	assert_int_equal(cfi_row_at(&src, &t, 0x20005, &r), 0);
	assert_int_equal(r.cfa_reg, 6);
	assert_int_equal(r.cfa_off, 16);
	assert_int_equal(r.rule[0], CFI_SAME);        /* rbx not yet */
	assert_int_equal(cfi_row_at(&src, &t, 0x20006, &r), 0);
	assert_int_equal(r.rule[0], CFI_OFFSET);

	assert_int_equal(cfi_row_at(&src, &t, 0x20010, &r), 0);
	assert_int_equal(r.cfa_reg, 7);               /* after leave */
	assert_int_equal(r.cfa_off, 8);
	assert_int_equal(r.rule[0], CFI_OFFSET);
	assert_int_equal(r.off[0], -24);

	assert_int_equal(cfi_row_at(&src, &t, 0x2003f, &r), 0);
	assert_int_equal(r.cfa_reg, 6);               /* restored */

	/* Outside the FDE, and before the first one. */
	assert_int_equal(cfi_row_at(&src, &t, 0x20040, &r), -ENOENT);
	assert_int_equal(cfi_row_at(&src, &t, 0x1ffff, &r), -ENOENT);
}

/* The PLT stub expression: CFA = RSP + 8, or + 16 from byte 11 of a slot. */
static void test_plt(void **state)
{
	static const uint8_t fn[] = {
		0x0f, 11, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22,
	};
	struct fde_spec f[1] = { { 0x30000, 0x100, fn, sizeof(fn) } };
	struct cfi_table t = build(std_cie, sizeof(std_cie), "zR", f, 1);
	struct cfi_row r;

	(void)state;
	assert_int_equal(cfi_row_at(&src, &t, 0x30020, &r), 0);
	assert_int_equal(r.cfa_reg, 7);
	assert_int_equal(r.cfa_off, 8);
	assert_int_equal(cfi_row_at(&src, &t, 0x3002b, &r), 0);
	assert_int_equal(r.cfa_off, 16);
	/* Any other expression is left to libunwind. */
	static const uint8_t other[] = { 0x0f, 2, 0x77, 0x10 };
	f[0].insns = other;
	f[0].ninsns = sizeof(other);
	t = build(std_cie, sizeof(std_cie), "zR", f, 1);
	assert_int_equal(cfi_row_at(&src, &t, 0x30020, &r), -ENOTSUP);
}

/* What the reduced row cannot express. */
static void test_refused(void **state)
{
	struct cfi_row r;
	(void)state;
	/* rbx saved in another register */
	static const uint8_t reg[] = { 0x09, 3, 0 };
	struct fde_spec f[1] = { { 0x40000, 0x10, reg, sizeof(reg) } };
	struct cfi_table t = build(std_cie, sizeof(std_cie), "zR", f, 1);
	assert_int_equal(cfi_row_at(&src, &t, 0x40000, &r), -ENOTSUP);
	/* a signal frame CIE ("zRS") */
	static const uint8_t none[] = { 0 };
	f[0].insns = none;
	f[0].ninsns = 1;
	t = build(std_cie, sizeof(std_cie), "zRS", f, 1);
	assert_int_equal(cfi_row_at(&src, &t, 0x40000, &r), -ENOTSUP);
	/* CFA on a register other than RSP/RBP */
	static const uint8_t r12[] = { 0x0d, 12 };
	f[0].insns = r12;
	f[0].ninsns = sizeof(r12);
	t = build(std_cie, sizeof(std_cie), "zR", f, 1);
	assert_int_equal(cfi_row_at(&src, &t, 0x40000, &r), -ENOTSUP);
	/* restore_state without remember_state */
	static const uint8_t bad[] = { 0x0b };
	f[0].insns = bad;
	f[0].ninsns = 1;
	t = build(std_cie, sizeof(std_cie), "zR", f, 1);
	assert_int_equal(cfi_row_at(&src, &t, 0x40000, &r), -EINVAL);
}

/* Any byte of a valid table changed, and every truncation: no crash, and
 * only the documented answers. */
static void test_malformed(void **state)
{
	static const uint8_t fn[] = { 0x41, 0x0e, 16, 0x86, 2, 0x43, 0x0d, 6, 0x0a, 0x0b };
	struct fde_spec f[2] = { { 0x20000, 0x40, fn, sizeof(fn) },
				 { 0x20040, 0x40, fn, sizeof(fn) } };
	struct cfi_row r;
	uint8_t good[4096];
	size_t glen;

	(void)state;
	struct cfi_table t = build(std_cie, sizeof(std_cie), "zR", f, 2);
	memcpy(good, img, sizeof(good));
	glen = len;
	srand(12345);
	for (int round = 0; round < 20000; round++) {
		memcpy(img, good, sizeof(img));
		len = glen;
		if (round % 4 == 0) {
			len = (size_t)rand() % glen;
		} else {
			int flips = 1 + rand() % 3;
			for (int k = 0; k < flips; k++)
				img[(size_t)rand() % glen] = (uint8_t)rand();
		}
		uint64_t pc = 0x1fff0 + (uint64_t)(rand() % 0xa0);
		int ret = cfi_row_at(&src, &t, pc, &r);
		assert_true(ret == 0 || ret == -ENOENT || ret == -ENOTSUP || ret == -EINVAL);
		if (ret == 0)
			assert_true(r.cfa_reg == 6 || r.cfa_reg == 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_plt),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
