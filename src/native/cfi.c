/*
 * cfi.c - the unwind rule at one PC, read straight from .eh_frame.
 *
 * libunwind interprets DWARF call frame information in full, but takes a
 * lock (two sigprocmask calls) for every frame it steps and allocates as it
 * parses. Almost every frame of compiled x86-64 code needs much less: the
 * CFA is RSP or RBP plus an offset, and the return address and callee-saved
 * registers are at fixed offsets from it or unchanged. This file computes
 * that reduced row for a PC, or says the PC needs more (an expression, a
 * signal frame, a register saved in another register) so that the caller
 * hands the frame to libunwind.
 *
 * Input is untrusted (the module files): every read goes through the
 * caller's bytes() callback, which returns NULL for anything outside the
 * tables it holds, and every count is bounded.
 */
#include <errno.h>
#include <string.h>

#include "pyrometer/cfi.h"

#define CFI_MAX_STATES 16      /* DW_CFA_remember_state nesting */
#define CFI_MAX_AUG 16         /* augmentation string length */

/* DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11;
 * DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus */
static const uint8_t plt_expr[11] = {
	0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22,
};

/* DWARF register numbers of x86-64 that the row tracks. */
static const uint8_t tracked_dwarf[CFI_NREGS] = { 3, 6, 12, 13, 14, 15, 16 };

static int tracked(uint64_t reg)
{
	for (int i = 0; i < CFI_NREGS; i++)
		if (tracked_dwarf[i] == reg)
			return i;
	return -1;
}

struct cur {
	const struct cfi_src *src;
	uint64_t pos, end;     /* file vaddrs */
	int bad;
};

static const uint8_t *take(struct cur *c, size_t n)
{
	if (c->bad || c->pos > c->end || c->end - c->pos < n) {
		c->bad = 1;
		return NULL;
	}
	const uint8_t *p = c->src->bytes(c->src->arg, c->pos, n);
	if (!p) {
		c->bad = 1;
		return NULL;
	}
	c->pos += n;
	return p;
}

static uint64_t u8(struct cur *c)
{
	const uint8_t *p = take(c, 1);
	return p ? *p : 0;
}

static uint64_t un(struct cur *c, size_t n)
{
	const uint8_t *p = take(c, n);
	uint64_t v = 0;
	if (p)
		memcpy(&v, p, n);   /* little-endian */
	return v;
}

static uint64_t uleb(struct cur *c)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		uint64_t b = u8(c);
		v |= (b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = 1;
	return 0;
}

static int64_t sleb(struct cur *c)
{
	uint64_t v = 0, b = 0;
	int shift = 0;
	do {
		if (shift >= 64) {
			c->bad = 1;
			return 0;
		}
		b = u8(c);
		v |= (b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

/* A DW_EH_PE-encoded pointer; pcrel is applied, other bases refused. */
static uint64_t enc_ptr(struct cur *c, uint8_t enc, int apply)
{
	uint64_t at = c->pos, v;

	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: v = un(c, 8); break;
	case 0x03: v = un(c, 4); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)un(c, 4); break;
	case 0x02: v = un(c, 2); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)un(c, 2); break;
	default: c->bad = 1; return 0;
	}
	if (!apply)
		return v;
	switch (enc & 0x70) {
	case 0x00: return v;
	case 0x10: return v + at;
	default: c->bad = 1; return 0;
	}
}

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc;
	int has_z;
	uint64_t insns, insns_end;
};

static int parse_cie(const struct cfi_src *src, uint64_t at, struct cie *cie)
{
	struct cur c = { src, at, at + 8, 0 };
	uint64_t len = un(&c, 4);

	if (c.bad || len == 0 || len >= 0xfffffff0u)
		return -ENOTSUP;
	c.end = at + 4 + len;
	if (un(&c, 4) != 0)
		return -EINVAL;                      /* not a CIE */
	uint64_t version = u8(&c);
	if (version != 1 && version != 3)
		return -ENOTSUP;
	char aug[CFI_MAX_AUG];
	size_t n = 0;
	for (;;) {
		uint64_t ch = u8(&c);
		if (c.bad || n == sizeof(aug))
			return -ENOTSUP;
		aug[n++] = (char)ch;
		if (!ch)
			break;
	}
	cie->code_align = uleb(&c);
	cie->data_align = sleb(&c);
	uint64_t ra = version == 1 ? u8(&c) : uleb(&c);
	if (ra != 16)
		return -ENOTSUP;
	cie->fde_enc = 0;
	cie->has_z = aug[0] == 'z';
	if (aug[0] && !cie->has_z)
		return -ENOTSUP;                     /* "eh" and other old forms */
	if (cie->has_z) {
		uint64_t alen = uleb(&c), aend = c.pos + alen;
		for (size_t i = 1; aug[i]; i++) {
			switch (aug[i]) {
			case 'R':
				cie->fde_enc = (uint8_t)u8(&c);
				break;
			case 'P': {
				uint8_t penc = (uint8_t)u8(&c);
				enc_ptr(&c, penc, 0);
				break;
			}
			case 'L':
				u8(&c);
				break;
			default:                     /* 'S' signal frames and others */
				return -ENOTSUP;
			}
		}
		if (c.bad || aend < c.pos || aend > c.end)
			return -EINVAL;
		c.pos = aend;
	}
	if (c.bad || cie->code_align == 0)
		return -EINVAL;
	cie->insns = c.pos;
	cie->insns_end = c.end;
	return 0;
}

/* Run the instructions [c->pos, c->end) into row, stopping before the
 * first advance past pc. init is the CIE's row (DW_CFA_restore). */
static int run(struct cur *c, const struct cie *cie, uint64_t *loc, uint64_t pc,
	       struct cfi_row *row, const struct cfi_row *init)
{
	struct cfi_row stack[CFI_MAX_STATES];
	int depth = 0;

	while (c->pos < c->end && !c->bad) {
		uint64_t op = u8(c), delta = 0, reg, v;
		int t;

		switch (op >> 6) {
		case 1:
			delta = (op & 0x3f) * cie->code_align;
			goto advance;
		case 2:
			reg = op & 0x3f;
			v = uleb(c);
			if ((t = tracked(reg)) >= 0) {
				row->rule[t] = CFI_OFFSET;
				row->off[t] = (int64_t)v * cie->data_align;
			}
			continue;
		case 3:
			if ((t = tracked(op & 0x3f)) >= 0) {
				if (!init)
					return -EINVAL;
				row->rule[t] = init->rule[t];
				row->off[t] = init->off[t];
			}
			continue;
		}
		switch (op) {
		case 0x00:                           /* nop */
			continue;
		case 0x02: delta = u8(c) * cie->code_align; goto advance;
		case 0x03: delta = un(c, 2) * cie->code_align; goto advance;
		case 0x04: delta = un(c, 4) * cie->code_align; goto advance;
		case 0x05:                           /* offset_extended */
		case 0x11:                           /* offset_extended_sf */
		case 0x2f: {                         /* GNU_negative_offset_extended */
			reg = uleb(c);
			int64_t off = op == 0x11 ? sleb(c) * cie->data_align
				    : op == 0x05 ? (int64_t)uleb(c) * cie->data_align
						 : -(int64_t)uleb(c) * cie->data_align;
			if ((t = tracked(reg)) >= 0) {
				row->rule[t] = CFI_OFFSET;
				row->off[t] = off;
			}
			continue;
		}
		case 0x06:                           /* restore_extended */
			if ((t = tracked(uleb(c))) >= 0) {
				if (!init)
					return -EINVAL;
				row->rule[t] = init->rule[t];
				row->off[t] = init->off[t];
			}
			continue;
		case 0x07:                           /* undefined */
		case 0x08:                           /* same_value */
			if ((t = tracked(uleb(c))) >= 0)
				row->rule[t] = op == 0x07 ? CFI_UNDEF : CFI_SAME;
			continue;
		case 0x09:                           /* register */
			reg = uleb(c);
			uleb(c);
			if (tracked(reg) >= 0)
				return -ENOTSUP;
			continue;
		case 0x0a:                           /* remember_state */
			if (depth == CFI_MAX_STATES)
				return -ENOTSUP;
			stack[depth++] = *row;
			continue;
		case 0x0b:                           /* restore_state */
			if (depth == 0)
				return -EINVAL;
			*row = stack[--depth];
			continue;
		case 0x0c:                           /* def_cfa */
			row->cfa_reg = (uint8_t)uleb(c);
			row->cfa_off = (int64_t)uleb(c);
			row->cfa_expr = 0;
			continue;
		case 0x12:                           /* def_cfa_sf */
			row->cfa_reg = (uint8_t)uleb(c);
			row->cfa_off = sleb(c) * cie->data_align;
			row->cfa_expr = 0;
			continue;
		case 0x0d:                           /* def_cfa_register */
			row->cfa_reg = (uint8_t)uleb(c);
			continue;
		case 0x0e:                           /* def_cfa_offset */
			row->cfa_off = (int64_t)uleb(c);
			continue;
		case 0x13:                           /* def_cfa_offset_sf */
			row->cfa_off = sleb(c) * cie->data_align;
			continue;
		case 0x0f: {                         /* def_cfa_expression */
			v = uleb(c);
			if (v > c->end - c->pos)
				return -EINVAL;
			const uint8_t *e = NULL;
			if (v == sizeof(plt_expr))
				e = take(c, v);
			else
				c->pos += v;
			if (c->bad)
				return -EINVAL;
			/* The one expression linkers write for PLT stubs: CFA =
			 * RSP + 8, or + 16 past the push of a lazy slot. pc is
			 * known here, and biases keep its low bits. */
			if (e && memcmp(e, plt_expr, sizeof(plt_expr)) == 0) {
				row->cfa_reg = 7;
				row->cfa_off = (pc & 15) >= 11 ? 16 : 8;
				row->cfa_expr = 0;
			} else {
				row->cfa_expr = 1;
			}
			continue;
		}
		case 0x10:                           /* expression */
		case 0x16:                           /* val_expression */
			reg = uleb(c);
			v = uleb(c);
			if (v > c->end - c->pos)
				return -EINVAL;
			c->pos += v;
			if (tracked(reg) >= 0)
				return -ENOTSUP;
			continue;
		case 0x14:                           /* val_offset */
		case 0x15:                           /* val_offset_sf */
			reg = uleb(c);
			if (op == 0x14)
				uleb(c);
			else
				sleb(c);
			if (tracked(reg) >= 0)
				return -ENOTSUP;
			continue;
		case 0x2e:                           /* GNU_args_size */
			uleb(c);
			continue;
		default:                             /* set_loc and the rest */
			return -ENOTSUP;
		}
advance:
		if (*loc + delta > pc)
			return 0;
		*loc += delta;
	}
	return c->bad ? -EINVAL : 0;
}

/* The FDE of pc through one binary search table. */
static int find_fde(const struct cfi_src *src, const struct cfi_table *t, uint64_t pc,
		    uint64_t *fde)
{
	uint64_t lo = 0, hi = t->fde_count;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const uint8_t *e = src->bytes(src->arg, t->table_vaddr + 8 * mid, 8);
		int32_t start;
		if (!e)
			return -EINVAL;
		memcpy(&start, e, 4);
		if (t->hdr_vaddr + (uint64_t)(int64_t)start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -ENOENT;
	const uint8_t *e = src->bytes(src->arg, t->table_vaddr + 8 * (lo - 1), 8);
	int32_t addr;
	if (!e)
		return -EINVAL;
	memcpy(&addr, e + 4, 4);
	*fde = t->hdr_vaddr + (uint64_t)(int64_t)addr;
	return 0;
}

int cfi_row_at(const struct cfi_src *src, const struct cfi_table *t, uint64_t pc,
	       struct cfi_row *row)
{
	uint64_t fde;
	int r = find_fde(src, t, pc, &fde);
	if (r < 0)
		return r;

	struct cur c = { src, fde, fde + 8, 0 };
	uint64_t len = un(&c, 4);
	if (c.bad || len == 0 || len >= 0xfffffff0u)
		return -ENOTSUP;
	c.end = fde + 4 + len;
	uint64_t ptr_at = c.pos, cie_ptr = un(&c, 4);
	if (c.bad || cie_ptr == 0 || cie_ptr > ptr_at)
		return -EINVAL;
	struct cie cie;
	if ((r = parse_cie(src, ptr_at - cie_ptr, &cie)) < 0)
		return r;
	uint64_t start = enc_ptr(&c, cie.fde_enc, 1);
	uint64_t range = enc_ptr(&c, cie.fde_enc & 0x0f, 0);
	if (c.bad)
		return -EINVAL;
	if (pc < start || pc - start >= range)
		return -ENOENT;
	if (cie.has_z) {
		uint64_t alen = uleb(&c);
		if (c.bad || alen > c.end - c.pos)
			return -EINVAL;
		c.pos += alen;
	}

	struct cfi_row init;
	memset(&init, 0, sizeof(init));
	for (int i = 0; i < CFI_NREGS; i++)
		init.rule[i] = CFI_SAME;
	struct cur ci = { src, cie.insns, cie.insns_end, 0 };
	uint64_t loc = start;
	/* The CIE's instructions set the initial row; they do not advance. */
	if ((r = run(&ci, &cie, &loc, UINT64_MAX, &init, NULL)) < 0)
		return r;
	loc = start;
	*row = init;
	if ((r = run(&c, &cie, &loc, pc, row, &init)) < 0)
		return r;
	if (row->cfa_expr || (row->cfa_reg != 7 && row->cfa_reg != 6))
		return -ENOTSUP;
	return 0;
}
