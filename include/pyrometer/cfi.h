/*
 * cfi.h - the reduced DWARF call frame row of one PC (x86-64), read from an
 * .eh_frame through its .eh_frame_hdr search table.
 *
 * A row says where the caller's frame is: CFA = RSP or RBP + cfa_off, and
 * for the return address and the callee-saved registers RBX, RBP, R12-R15
 * either "unchanged", "undefined" (the return address: the outermost
 * frame) or "saved at CFA + off". Code that needs more (expressions,
 * signal frames, registers kept in other registers) gets -ENOTSUP and is
 * left to a full DWARF unwinder.
 *
 * Addresses are file vaddrs of the module; bytes come through the caller's
 * callback, so the tables may live anywhere (and are untrusted).
 */
#ifndef PYROMETER_CFI_H
#define PYROMETER_CFI_H

#include <stddef.h>
#include <stdint.h>

/* Row registers, in this order: RBX, RBP, R12, R13, R14, R15, the return
 * address (DWARF 3, 6, 12-16). */
#define CFI_NREGS 7
#define CFI_RA 6

enum cfi_rule {
	CFI_SAME = 0,      /* the register keeps its value */
	CFI_UNDEF = 1,     /* no value (return address: no caller) */
	CFI_OFFSET = 2,    /* saved at CFA + off */
};

struct cfi_row {
	uint8_t cfa_reg;   /* DWARF number: 7 = RSP, 6 = RBP */
	uint8_t cfa_expr;  /* internal: the CFA is an expression */
	int64_t cfa_off;
	uint8_t rule[CFI_NREGS];
	int64_t off[CFI_NREGS];
};

struct cfi_src {
	/* len bytes at file vaddr, or NULL when they are not all there */
	const uint8_t *(*bytes)(void *arg, uint64_t vaddr, size_t len);
	void *arg;
};

/* An .eh_frame_hdr binary search table: fde_count pairs of int32
 * (initial location, FDE address), relative to hdr_vaddr. */
struct cfi_table {
	uint64_t hdr_vaddr, table_vaddr, fde_count;
};

/*
 * The row in effect at pc (a file vaddr; callers' return addresses minus
 * one). 0; -ENOENT when no FDE of the table covers pc; -ENOTSUP when the
 * row needs a full unwinder; -EINVAL for malformed tables.
 */
int cfi_row_at(const struct cfi_src *src, const struct cfi_table *t, uint64_t pc,
	       struct cfi_row *row);

#endif
