/*
 * unwind.c - perf sample (registers + stack copy) -> native PCs, through
 * libunwind's remote API.
 *
 * libunwind sees a whole address space through our accessors: the stack
 * copy, the module files on disk (each module's .eh_frame_hdr and
 * .eh_frame are read once into memory, other file bytes are pread on
 * demand) and the sample's registers. Unwind info is found by handing
 * libunwind the module's .eh_frame_hdr search table as a
 * UNW_INFO_FORMAT_REMOTE_TABLE; libunwind binary-searches it through
 * access_mem. Everything is in runtime addresses: a module's load bias
 * comes from its executable mapping and its PT_LOAD segments.
 *
 * A module with a .debug_frame section (in the file itself, else in its
 * separate debug file found by build-id) gets a second table: the
 * .debug_frame is converted at load time into a synthetic .eh_frame and a
 * synthetic .eh_frame_hdr search table over it, both held in memory and
 * placed at file vaddrs beyond the module's last PT_LOAD segment (see
 * debug_frame_convert). module_read serves those bytes like the real
 * tables, so libunwind searches and parses both the same way; the real
 * table is searched first and the synthetic one only for a PC it does not
 * cover.
 *
 * When a PC has no unwind info, find_proc_info answers -UNW_ESTOPUNWIND
 * rather than -UNW_ENOINFO, so that unw_step returns at once instead of
 * guessing with its own frame-pointer heuristics; the walk then decides
 * (frame-pointer step or stop) with the stack copy in hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libunwind.h>

#include "pyrometer/cfi.h"
#include "pyrometer/modmap.h"
#include "pyrometer/symtab.h"
#include "pyrometer/unwind.h"

/* Exported by libunwind-x86_64 but absent from its public headers. */
#define dwarf_search_unwind_table _Ux86_64_dwarf_search_unwind_table
extern int dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
				     unw_proc_info_t *pi, int need_unwind_info, void *arg);

#define UW_MAX_LOADS 32
#define UW_MAX_PHDRS 4096
#define UW_MAX_SECTIONS 65536
#define UW_PAGE 4096u
/* How far above SP a thread's stack may reach: a failed read there means
 * the walk ran off the copy rather than into garbage. */
#define UW_STACK_SPAN (256ull << 20)
#define UW_CACHE_SIZE 4096 /* libunwind's register-state cache, entries */

/* DW_EH_PE_* pointer encodings used by .eh_frame_hdr. */
#define EH_PE_OMIT 0xff
#define EH_PE_FORMAT 0x0f
#define EH_PE_UDATA4 0x03
#define EH_PE_SDATA4 0x0b
#define EH_PE_APPL 0x70
#define EH_PE_PCREL 0x10
#define EH_PE_DATAREL 0x30
#define EH_PE_TABLE (EH_PE_DATAREL | EH_PE_SDATA4) /* datarel sdata4: searchable */
#define EH_PE_FDE (EH_PE_PCREL | EH_PE_SDATA4)     /* FDE pointers we write */

/* The synthetic tables made from .debug_frame start this far above the
 * page-aligned end of the module's last PT_LOAD segment. */
#define UW_SYN_GAP (64u << 10)

/* modmap_entry.state */
enum { MAP_UNRESOLVED = 0, MAP_OK = 1, MAP_NONE = -1 };

struct uw_load {
	uint64_t vaddr, offset, filesz;
	uint32_t flags;
};

/* A binary search table of FDEs in .eh_frame_hdr form: fde_count pairs of
 * int32 (initial location, FDE address), relative to hdr_vaddr. */
struct uw_table {
	uint64_t hdr_vaddr, table_vaddr, fde_count;
};

/* One module file; immutable once loaded, shared by its mappings. */
struct uw_module {
	char *path;               /* root + path, opened on demand; owned */
	size_t nloads;
	struct uw_load loads[UW_MAX_LOADS];
	/* The search tables, in lookup order: .eh_frame_hdr's, then the one
	 * made from .debug_frame. */
	size_t ntables;
	struct uw_table tables[2];
	uint64_t hdr_vaddr;
	uint8_t *hdr;             /* .eh_frame_hdr bytes; owned */
	size_t hdr_len;
	uint64_t ehf_vaddr;
	uint8_t *ehf;             /* .eh_frame bytes; owned */
	size_t ehf_len;
	/* The synthetic .eh_frame and .eh_frame_hdr made from .debug_frame,
	 * one buffer at file vaddr syn_vaddr, above every PT_LOAD. */
	uint64_t syn_vaddr;
	uint8_t *syn;             /* owned */
	size_t syn_len;
};

struct uw_key {
	char *key;                /* "b:<build-id>" or "f:dev:ino:mtime:size" */
	struct uw_module *mod;
};

struct unwinder {
	unw_addr_space_t as;
	struct modmap map;
	uint64_t map_generation;  /* of the map libunwind's cache matches */
	char *root;
	struct uw_module **mods;  /* owned */
	size_t nmods, mods_cap;
	struct uw_key *keys;      /* owned keys; mods point into mods */
	size_t nkeys, keys_cap;
	int fd;                   /* the file of fd_mod, open for preads */
	const struct uw_module *fd_mod;
	int (*read)(void *arg, uint64_t addr, void *buf, size_t len);
	void *read_arg;
	/* Verdicts on anonymous code: is this return address a -X perf
	 * trampoline's? Direct-mapped by address; 0 = empty slot. */
	struct { uint64_t pc; int yes; } tramp[256];
	/* Reduced CFI rows by runtime PC (see cfi.h), open addressing; cleared
	 * with libunwind's cache when the map changes. */
	struct row_slot *rows;
	size_t rows_cap, rows_count;
	int no_fast;              /* unwinder_set_fast(u, 0): libunwind only */
	struct unwind_stats stats;
};

/* A cached row: status 1 = row, 0 = empty slot, -1 = no FDE covers the PC,
 * -2 = the row needs libunwind. */
struct row_slot {
	uint64_t pc;
	int status;
	struct cfi_row row;
};

#define UW_ROWS_MAX (1u << 18)

/* The sample being walked: the accessors' arg. */
struct uw_ctx {
	struct unwinder *u;
	const uint64_t *regs;
	size_t nregs;
	const uint8_t *stack;
	uint64_t stack_base;
	size_t stack_len;
	/* After a frame-pointer or trampoline step the cursor restarts from
	 * these registers (perf numbering); ov_mask says which are known. */
	int override;
	uint64_t ov_mask;
	uint64_t ov[UNWIND_NREGS];
	/* The module of the last find_proc_info, for its table reads. */
	const struct uw_module *cur;
	uint64_t cur_bias;
	int noinfo;               /* find_proc_info found nothing */
	int ran_off;              /* a read fell above the stack copy */
};

/* ---- module files -------------------------------------------------- */

static void module_free(struct uw_module *m)
{
	if (!m)
		return;
	free(m->path);
	free(m->hdr);
	free(m->ehf);
	free(m->syn);
	free(m);
}

/* The file offset of file vaddr v and how many file bytes follow it in
 * its segment; 0 when no segment's file part holds v. */
static uint64_t module_offset(const struct uw_module *m, uint64_t v, uint64_t *off)
{
	for (size_t i = 0; i < m->nloads; i++) {
		const struct uw_load *l = &m->loads[i];
		if (v >= l->vaddr && v - l->vaddr < l->filesz) {
			*off = l->offset + (v - l->vaddr);
			return l->filesz - (v - l->vaddr);
		}
	}
	return 0;
}

/* Read len bytes at file vaddr v into a new buffer; NULL on any failure. */
static uint8_t *read_vaddr(int fd, const struct uw_module *m, uint64_t v, size_t len)
{
	uint64_t off;

	if (len == 0 || len > UNWIND_MAX_TABLE || module_offset(m, v, &off) < len)
		return NULL;
	uint8_t *buf = malloc(len);
	if (buf && pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* One DW_EH_PE-encoded value of the .eh_frame_hdr at *pos. */
static int eh_decode(const struct uw_module *m, uint8_t enc, size_t *pos, uint64_t *out)
{
	const uint8_t *p = m->hdr + *pos;
	size_t left = m->hdr_len - *pos, n;
	uint64_t v;

	switch (enc & EH_PE_FORMAT) {
	case 0x00: case 0x04: case 0x0c: n = 8; break;      /* absptr, (s|u)data8 */
	case 0x03: case 0x0b: n = 4; break;                 /* (s|u)data4 */
	case 0x02: case 0x0a: n = 2; break;                 /* (s|u)data2 */
	default: return -1;
	}
	if (left < n || (enc & 0x80)) /* DW_EH_PE_indirect: not in a header */
		return -1;
	if (n == 8) {
		memcpy(&v, p, 8);
	} else if (n == 4) {
		uint32_t x;
		memcpy(&x, p, 4);
		v = (enc & 0x08) ? (uint64_t)(int64_t)(int32_t)x : x;
	} else {
		uint16_t x;
		memcpy(&x, p, 2);
		v = (enc & 0x08) ? (uint64_t)(int64_t)(int16_t)x : x;
	}
	switch (enc & EH_PE_APPL) {
	case 0: break;
	case EH_PE_PCREL: v += m->hdr_vaddr + *pos; break;
	case EH_PE_DATAREL: v += m->hdr_vaddr; break;
	default: return -1;
	}
	*pos += n;
	*out = v;
	return 0;
}

/* The size of .eh_frame at vaddr from the section headers; 0 if unknown. */
static uint64_t eh_frame_size(Elf *elf, uint64_t vaddr)
{
	size_t shstrndx, nscn;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0 || elf_getshdrnum(elf, &nscn) != 0 ||
	    nscn > UW_MAX_SECTIONS)
		return 0;
	for (Elf_Scn *s = elf_nextscn(elf, NULL); s; s = elf_nextscn(elf, s)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_PROGBITS || sh.sh_addr != vaddr)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".eh_frame") == 0)
			return sh.sh_size;
	}
	return 0;
}

/* Read .eh_frame_hdr (PT_GNU_EH_FRAME) and the .eh_frame it points to. */
static void module_tables(struct uw_module *m, Elf *elf, int fd, const GElf_Phdr *eh)
{
	if (eh->p_filesz < 12 || eh->p_filesz > UNWIND_MAX_TABLE)
		return;
	/* hdr_len stays 0 until the bytes are in: module_read trusts it. */
	m->hdr_vaddr = eh->p_vaddr;
	m->hdr = read_vaddr(fd, m, m->hdr_vaddr, eh->p_filesz);
	if (!m->hdr)
		return;
	m->hdr_len = eh->p_filesz;
	if (m->hdr[0] != 1 || m->hdr[3] != EH_PE_TABLE)
		return;

	size_t pos = 4;
	uint64_t ehf, count;
	if (m->hdr[1] == EH_PE_OMIT || m->hdr[2] == EH_PE_OMIT ||
	    eh_decode(m, m->hdr[1], &pos, &ehf) != 0 || eh_decode(m, m->hdr[2], &pos, &count) != 0)
		return;
	if (count == 0 || count > (m->hdr_len - pos) / 8)
		return;

	/* .eh_frame's length: its section, else the rest of its segment. */
	uint64_t off, len = eh_frame_size(elf, ehf), room = module_offset(m, ehf, &off);
	if (len == 0 || len > room)
		len = room;
	if (len > UNWIND_MAX_TABLE)
		len = UNWIND_MAX_TABLE;
	m->ehf = read_vaddr(fd, m, ehf, len);
	if (!m->ehf)
		return;
	m->ehf_vaddr = ehf;
	m->ehf_len = len;
	m->tables[m->ntables++] = (struct uw_table){
		.hdr_vaddr = m->hdr_vaddr, .table_vaddr = m->hdr_vaddr + pos, .fde_count = count,
	};
}

/* ---- .debug_frame -> a synthetic .eh_frame and search table -------- */

/*
 * .debug_frame (32-bit DWARF call frame information) is rewritten entry by
 * entry into the .eh_frame form that libunwind's remote table search reads:
 *
 *   - a CIE (id 0xffffffff; version 1, 3 or 4 with an empty augmentation
 *     and, for version 4, 8-byte addresses and no segment selector) becomes
 *     a CIE with id 0, version 1 (3 when the return address register is
 *     ULEB128-coded), augmentation "zR" with FDE pointers DW_EH_PE_pcrel |
 *     DW_EH_PE_sdata4, and the same alignment factors, return address
 *     register and initial instructions, byte for byte;
 *   - an FDE (CIE pointer = the CIE's section offset; absolute 8-byte
 *     initial location and range) becomes an FDE whose CIE pointer counts
 *     back from the field to the CIE, whose initial location is pc-relative
 *     in file vaddr space, whose range takes 4 bytes, with no augmentation
 *     data and the same instructions.
 *
 * The image at file vaddr syn_vaddr is that .eh_frame, a zero terminator,
 * then an .eh_frame_hdr (version 1, eh_frame_ptr pcrel sdata4, fde_count
 * udata4, table datarel sdata4) whose table is sorted by initial location.
 * Pc-relative fields do not depend on the load bias, so runtime address =
 * file vaddr + bias holds for the image as for the real tables.
 *
 * What cannot be carried over is skipped, entry by entry: 64-bit DWARF,
 * CIEs of other versions or with an augmentation, the FDEs of such CIEs,
 * FDEs outside the module's executable segments (the tombstones left by
 * discarded code), ranges or offsets beyond int32, and instructions that
 * do not decode or use DW_CFA_set_loc (its operand is absolute in
 * .debug_frame but FDE-encoded in .eh_frame). The section is untrusted:
 * every read below is checked against its end.
 */

struct df_cie {
	size_t off;               /* of the entry in .debug_frame */
	uint8_t version;          /* of the CIE written: 1 or 3 */
	size_t fields, fields_len; /* alignment factors and RA register */
	size_t insns, insns_len;  /* initial instructions */
	size_t out;               /* offset in the image; SIZE_MAX: not written */
};

struct df_fde {
	uint64_t pc;              /* initial location, file vaddr */
	size_t out;               /* offset of the FDE in the image */
};

/* The image being written, at most UNWIND_MAX_TABLE bytes of .eh_frame. */
struct df_buf {
	uint8_t *p;
	size_t len, cap;
	int full;                 /* a write failed: the image ends here */
};

static int rd_u8(const uint8_t *d, size_t end, size_t *pos, uint8_t *v)
{
	if (*pos >= end)
		return -1;
	*v = d[(*pos)++];
	return 0;
}

static int rd_u32(const uint8_t *d, size_t end, size_t *pos, uint32_t *v)
{
	if (*pos > end || end - *pos < 4)
		return -1;
	memcpy(v, d + *pos, 4);
	*pos += 4;
	return 0;
}

static int rd_u64(const uint8_t *d, size_t end, size_t *pos, uint64_t *v)
{
	if (*pos > end || end - *pos < 8)
		return -1;
	memcpy(v, d + *pos, 8);
	*pos += 8;
	return 0;
}

/* A ULEB128 value; bits beyond 64 are dropped. */
static int rd_uleb(const uint8_t *d, size_t end, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	unsigned shift = 0;

	while (*pos < end) {
		uint8_t b = d[(*pos)++];
		if (shift < 64)
			r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
		if (shift < 64)
			shift += 7;
	}
	return -1;
}

/* Step over a LEB128 value, signed or not. */
static int skip_leb(const uint8_t *d, size_t end, size_t *pos)
{
	uint64_t v;

	return rd_uleb(d, end, pos, &v);
}

/*
 * Do the call frame instructions d[pos, end) decode, all operands inside,
 * without DW_CFA_set_loc or opcodes libunwind does not know on x86-64?
 * 0 if so, -1 if not.
 */
static int cfa_check(const uint8_t *d, size_t pos, size_t end)
{
	while (pos < end) {
		uint8_t op = d[pos++];
		unsigned lebs = 0, bytes = 0, block = 0;
		uint64_t n;

		if (op & 0xc0) {
			/* advance_loc and restore carry their operand in the
			 * opcode; offset adds a ULEB128 offset. */
			if ((op & 0xc0) == 0x80 && skip_leb(d, end, &pos) != 0)
				return -1;
			continue;
		}
		switch (op) {
		case 0x00: case 0x0a: case 0x0b: /* nop, remember/restore_state */
			break;
		case 0x02: bytes = 1; break;     /* advance_loc1 */
		case 0x03: bytes = 2; break;     /* advance_loc2 */
		case 0x04: bytes = 4; break;     /* advance_loc4 */
		case 0x06: case 0x07: case 0x08: /* restore_extended, undefined, same_value */
		case 0x0d: case 0x0e: case 0x13: /* def_cfa_register, def_cfa_offset(_sf) */
		case 0x2e:                       /* GNU_args_size */
			lebs = 1;
			break;
		case 0x05: case 0x09: case 0x0c: /* offset_extended, register, def_cfa */
		case 0x11: case 0x12:            /* offset_extended_sf, def_cfa_sf */
		case 0x14: case 0x15:            /* val_offset(_sf) */
		case 0x2f:                       /* GNU_negative_offset_extended */
			lebs = 2;
			break;
		case 0x0f:                       /* def_cfa_expression */
			block = 1;
			break;
		case 0x10: case 0x16:            /* expression, val_expression */
			lebs = 1;
			block = 1;
			break;
		default:                         /* set_loc (0x01) and the unknown */
			return -1;
		}
		for (; lebs > 0; lebs--)
			if (skip_leb(d, end, &pos) != 0)
				return -1;
		if (end - pos < bytes)
			return -1;
		pos += bytes;
		if (block && (rd_uleb(d, end, &pos, &n) != 0 || n > end - pos))
			return -1;
		if (block)
			pos += (size_t)n;
	}
	return 0;
}

/*
 * The entry at pos of .debug_frame d[0, len): 1 with its body d[*body,
 * *end) after the length field; 0 for an entry to skip (a zero terminator,
 * 64-bit DWARF, a body too short for an id), *end still set; -1 where the
 * section stops making sense (a length past its end).
 */
static int df_entry(const uint8_t *d, size_t len, size_t pos, size_t *body, size_t *end)
{
	uint32_t l32;
	uint64_t l64;

	if (rd_u32(d, len, &pos, &l32) != 0)
		return -1;
	if (l32 == 0xffffffffu) {
		if (rd_u64(d, len, &pos, &l64) != 0 || l64 > len - pos)
			return -1;
		*end = pos + (size_t)l64;
		return 0;
	}
	if (l32 >= 0xfffffff0u || l32 > len - pos)
		return -1;
	*body = pos;
	*end = pos + l32;
	return l32 >= 4 ? 1 : 0;
}

/* The CIE whose body after the id is d[pos, end): 0, or -1 when it cannot
 * be carried over. */
static int df_parse_cie(const uint8_t *d, size_t pos, size_t end, struct df_cie *c)
{
	uint8_t version, b, asz, ssz;

	if (rd_u8(d, end, &pos, &version) != 0 || (version != 1 && version != 3 && version != 4))
		return -1;
	/* Only the empty augmentation: any other leaves its data unknown. */
	if (rd_u8(d, end, &pos, &b) != 0 || b != 0)
		return -1;
	if (version == 4 && (rd_u8(d, end, &pos, &asz) != 0 || rd_u8(d, end, &pos, &ssz) != 0 ||
			     asz != 8 || ssz != 0))
		return -1;
	c->fields = pos;
	if (skip_leb(d, end, &pos) != 0 || skip_leb(d, end, &pos) != 0)
		return -1;
	if (version == 1 ? rd_u8(d, end, &pos, &b) != 0 : skip_leb(d, end, &pos) != 0)
		return -1;
	c->fields_len = pos - c->fields;
	c->version = version == 1 ? 1 : 3;
	c->insns = pos;
	c->insns_len = end - pos;
	c->out = SIZE_MAX;
	return cfa_check(d, pos, end);
}

static int buf_put(struct df_buf *b, const void *src, size_t n)
{
	if (b->full || n > UNWIND_MAX_TABLE - b->len) {
		b->full = 1;
		return -1;
	}
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		if (cap > UNWIND_MAX_TABLE) /* len + n fits: checked above */
			cap = UNWIND_MAX_TABLE;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->full = 1;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

static int buf_put32(struct df_buf *b, uint32_t v)
{
	return buf_put(b, &v, 4);
}

/* Close the entry that starts at start: DW_CFA_nop padding to a multiple
 * of 4 bytes, then its length. 0, or -1 (the entry is dropped) when the
 * image is full. */
static int buf_close(struct df_buf *b, size_t start)
{
	static const uint8_t nops[3] = { 0 };
	uint32_t len;

	buf_put(b, nops, (4 - (b->len - start) % 4) % 4);
	if (b->full) {
		b->len = start;
		return -1;
	}
	len = (uint32_t)(b->len - start - 4);
	memcpy(b->p + start, &len, 4);
	return 0;
}

static int df_put_cie(struct df_buf *b, const uint8_t *d, struct df_cie *c)
{
	static const uint8_t aug[] = { 'z', 'R', 0 };
	static const uint8_t augdata[] = { 1, EH_PE_FDE }; /* ULEB128 length 1 */
	size_t start = b->len;

	buf_put32(b, 0);
	buf_put32(b, 0); /* the .eh_frame CIE id */
	buf_put(b, &c->version, 1);
	buf_put(b, aug, sizeof(aug));
	buf_put(b, d + c->fields, c->fields_len);
	buf_put(b, augdata, sizeof(augdata));
	buf_put(b, d + c->insns, c->insns_len);
	if (buf_close(b, start) != 0)
		return -1;
	c->out = start;
	return 0;
}

/* Does [pc, pc + range) lie in the file part of an executable PT_LOAD? */
static int df_in_text(const struct uw_module *m, uint64_t pc, uint64_t range)
{
	for (size_t i = 0; i < m->nloads; i++) {
		const struct uw_load *l = &m->loads[i];
		if ((l->flags & PF_X) && pc >= l->vaddr && pc - l->vaddr < l->filesz &&
		    range <= l->filesz - (pc - l->vaddr))
			return 1;
	}
	return 0;
}

static int df_cie_cmp(const void *key, const void *elem)
{
	size_t off = *(const size_t *)key, o = ((const struct df_cie *)elem)->off;

	return off < o ? -1 : off > o;
}

static int df_fde_cmp(const void *a, const void *b)
{
	const struct df_fde *x = a, *y = b;

	if (x->pc != y->pc)
		return x->pc < y->pc ? -1 : 1;
	return x->out < y->out ? -1 : x->out > y->out;
}

/* Grow a vector of elements of size sz to hold one more. */
static int vec_grow(void **v, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *p = realloc(*v, c * sz);
	if (!p)
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

/* The FDE whose body after the CIE pointer is d[pos, end), written to b
 * as an .eh_frame FDE of the written CIE c. 0, 1 when skipped, -1 when
 * the image is full. */
static int df_put_fde(const struct uw_module *m, struct df_buf *b, const uint8_t *d,
		      size_t pos, size_t end, struct df_cie *c, struct df_fde *f)
{
	uint64_t pc, range;

	if (rd_u64(d, end, &pos, &pc) != 0 || rd_u64(d, end, &pos, &range) != 0 ||
	    range == 0 || range > INT32_MAX || !df_in_text(m, pc, range) ||
	    cfa_check(d, pos, end) != 0)
		return 1;
	if (c->out == SIZE_MAX && df_put_cie(b, d, c) != 0)
		return -1;

	size_t start = b->len;
	/* pc_begin is relative to its own field, 8 bytes into the FDE. */
	int64_t rel = (int64_t)(pc - (m->syn_vaddr + start + 8));
	if (rel < INT32_MIN || rel > INT32_MAX)
		return 1;
	buf_put32(b, 0);
	buf_put32(b, (uint32_t)(start + 4 - c->out));
	buf_put32(b, (uint32_t)(int32_t)rel);
	buf_put32(b, (uint32_t)range);
	buf_put(b, "", 1); /* no augmentation data */
	buf_put(b, d + pos, end - pos);
	if (buf_close(b, start) != 0)
		return -1;
	f->pc = pc;
	f->out = start;
	return 0;
}

/*
 * Convert .debug_frame d[0, len) of module m (its loads and syn_vaddr
 * set) into m->syn and add its search table; nothing when no FDE is left.
 */
static void debug_frame_convert(struct uw_module *m, const uint8_t *d, size_t len)
{
	struct df_cie *cies = NULL;
	struct df_fde *fdes = NULL;
	size_t ncies = 0, cies_cap = 0, nfdes = 0, fdes_cap = 0, body, end;
	struct df_buf b = { 0 };
	uint32_t id;
	int r;

	if (len > UNWIND_MAX_TABLE || m->syn_vaddr == 0)
		return;
	/* The CIEs first: an FDE may name a CIE further on. */
	for (size_t pos = 0; (r = df_entry(d, len, pos, &body, &end)) >= 0; pos = end) {
		struct df_cie c = { .off = pos };
		if (r == 0 || rd_u32(d, end, &body, &id) != 0 || id != 0xffffffffu ||
		    df_parse_cie(d, body, end, &c) != 0)
			continue;
		if (vec_grow((void **)&cies, ncies, &cies_cap, sizeof(*cies)) != 0)
			goto out;
		cies[ncies++] = c;
	}
	if (ncies == 0)
		goto out;
	for (size_t pos = 0; (r = df_entry(d, len, pos, &body, &end)) >= 0; pos = end) {
		struct df_cie *c;
		size_t key;
		if (r == 0 || rd_u32(d, end, &body, &id) != 0 || id == 0xffffffffu)
			continue;
		key = id;
		c = bsearch(&key, cies, ncies, sizeof(*cies), df_cie_cmp);
		if (!c || vec_grow((void **)&fdes, nfdes, &fdes_cap, sizeof(*fdes)) != 0)
			continue;
		r = df_put_fde(m, &b, d, body, end, c, &fdes[nfdes]);
		if (r < 0)
			break;
		if (r == 0)
			nfdes++;
	}
	if (nfdes == 0)
		goto out;

	/* The terminator, then the header 8-aligned, then the table. */
	qsort(fdes, nfdes, sizeof(*fdes), df_fde_cmp);
	size_t hdr_off = (b.len + 4 + 7) & ~(size_t)7, total = hdr_off + 12 + 8 * nfdes;
	uint8_t *img = realloc(b.p, total);
	if (!img)
		goto out;
	b.p = img;
	memset(img + b.len, 0, hdr_off - b.len);

	uint64_t hdr_vaddr = m->syn_vaddr + hdr_off;
	int32_t ehf_ptr = -(int32_t)(hdr_off + 4);
	uint32_t n = 0;
	img[hdr_off] = 1;
	img[hdr_off + 1] = EH_PE_FDE;
	img[hdr_off + 2] = EH_PE_UDATA4;
	img[hdr_off + 3] = EH_PE_TABLE;
	memcpy(img + hdr_off + 4, &ehf_ptr, 4);
	for (size_t i = 0; i < nfdes; i++) {
		int64_t loc = (int64_t)(fdes[i].pc - hdr_vaddr);
		int32_t e[2] = { (int32_t)loc, -(int32_t)(hdr_off - fdes[i].out) };
		if (loc < INT32_MIN || loc > INT32_MAX)
			continue;
		memcpy(img + hdr_off + 12 + 8 * (size_t)n++, e, 8);
	}
	memcpy(img + hdr_off + 8, &n, 4);
	if (n == 0)
		goto out;
	m->syn = img;
	m->syn_len = hdr_off + 12 + 8 * (size_t)n;
	b.p = NULL;
	m->tables[m->ntables++] = (struct uw_table){
		.hdr_vaddr = hdr_vaddr, .table_vaddr = hdr_vaddr + 12, .fde_count = n,
	};
out:
	free(b.p);
	free(fdes);
	free(cies);
}

/* The bytes of elf's .debug_frame, decompressed when it is; NULL when it
 * has none or it is unusable. They belong to elf. */
static const uint8_t *debug_frame_data(Elf *elf, size_t *len)
{
	size_t shstrndx, nscn;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0 || elf_getshdrnum(elf, &nscn) != 0 ||
	    nscn > UW_MAX_SECTIONS)
		return NULL;
	for (Elf_Scn *s = elf_nextscn(elf, NULL); s; s = elf_nextscn(elf, s)) {
		GElf_Shdr sh;
		GElf_Chdr ch;
		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".debug_frame") != 0)
			continue;
		if (sh.sh_size > UNWIND_MAX_TABLE)
			return NULL;
		/* A compressed section says how big it will be: capped first. */
		if ((sh.sh_flags & SHF_COMPRESSED) &&
		    (!gelf_getchdr(s, &ch) || ch.ch_size > UNWIND_MAX_TABLE ||
		     elf_compress(s, 0, 0) < 0))
			return NULL;
		Elf_Data *data = elf_getdata(s, NULL);
		if (!data || !data->d_buf || data->d_size == 0 || data->d_size > UNWIND_MAX_TABLE)
			return NULL;
		*len = data->d_size;
		return data->d_buf;
	}
	return NULL;
}

/* Add the table from the .debug_frame of the ELF file at full, if any. */
static void debug_frame_file(struct uw_module *m, const char *full)
{
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	GElf_Ehdr eh;
	const uint8_t *d;
	size_t len;

	if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getclass(elf) == ELFCLASS64 &&
	    gelf_getehdr(elf, &eh) && eh.e_machine == EM_X86_64 &&
	    (d = debug_frame_data(elf, &len)))
		debug_frame_convert(m, d, len);
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
}

/*
 * The table from the .debug_frame of the module's separate debug file:
 * DIR/.build-id/xx/yyyy.debug under root, for each DIR of
 * SYMTAB_DEBUG_DIRS, whose own build-id must be id.
 */
static void debug_frame_debug_file(struct uw_module *m, const char *root, const char *id)
{
	char hex[2 * SYMTAB_BUILD_ID_MAX + 1];

	if (strlen(id) <= 2)
		return;
	for (const char *p = SYMTAB_DEBUG_DIRS; !m->syn; p++) {
		size_t n = strcspn(p, ":");
		char *rel = NULL, *full = NULL;
		if (n > 0 && asprintf(&rel, "%.*s/.build-id/%.2s/%s.debug", (int)n, p, id,
				      id + 2) < 0)
			rel = NULL;
		if (rel && symtab_build_id(rel, root, hex, sizeof(hex)) == 0 &&
		    strcmp(hex, id) == 0) {
			if (asprintf(&full, "%s%s", root ? root : "", rel) < 0)
				full = NULL;
			if (full)
				debug_frame_file(m, full);
		}
		free(full);
		free(rel);
		p += n; /* at the ':' before the next directory, or the end */
		if (!*p)
			break;
	}
}

/*
 * A module from its file (full: root + path; build_id: its build-id in hex,
 * "" if none): NULL with errno when it is not a usable ELF.
 */
static struct uw_module *module_load(const char *full, const char *root, const char *build_id)
{
	struct uw_module *m = calloc(1, sizeof(*m));
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	Elf *elf = NULL;
	int err = ENOEXEC;

	if (!m || !(m->path = strdup(full))) {
		err = ENOMEM;
		goto fail;
	}
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	if (elf_version(EV_CURRENT) == EV_NONE || !(elf = elf_begin(fd, ELF_C_READ, NULL)) ||
	    elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64)
		goto fail;
	GElf_Ehdr eh;
	size_t nph;
	if (!gelf_getehdr(elf, &eh) || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) ||
	    eh.e_machine != EM_X86_64 || elf_getphdrnum(elf, &nph) != 0 || nph > UW_MAX_PHDRS)
		goto fail;

	GElf_Phdr ehp = { .p_type = PT_NULL };
	uint64_t top = 0; /* the end of the highest PT_LOAD */
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_GNU_EH_FRAME)
			ehp = ph;
		if (ph.p_type == PT_LOAD && ph.p_vaddr + ph.p_memsz >= ph.p_vaddr &&
		    ph.p_vaddr + ph.p_memsz > top)
			top = ph.p_vaddr + ph.p_memsz;
		if (ph.p_type != PT_LOAD || ph.p_filesz == 0 || m->nloads >= UW_MAX_LOADS ||
		    ph.p_vaddr + ph.p_filesz < ph.p_vaddr || ph.p_offset + ph.p_filesz < ph.p_offset)
			continue;
		m->loads[m->nloads++] = (struct uw_load){
			.vaddr = ph.p_vaddr, .offset = ph.p_offset,
			.filesz = ph.p_filesz, .flags = ph.p_flags,
		};
	}
	if (m->nloads == 0)
		goto fail;
	if (ehp.p_type == PT_GNU_EH_FRAME)
		module_tables(m, elf, fd, &ehp);
	/* Far below 2^64 (user space ends at 2^47), so nothing wraps. */
	if (top < (1ull << 48)) {
		size_t len;
		const uint8_t *d = debug_frame_data(elf, &len);
		m->syn_vaddr = ((top + UW_PAGE - 1) & ~(uint64_t)(UW_PAGE - 1)) + UW_SYN_GAP;
		if (d)
			debug_frame_convert(m, d, len);
		else if (build_id && *build_id)
			debug_frame_debug_file(m, root, build_id);
	}
	elf_end(elf);
	close(fd);
	return m;
fail:
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	module_free(m);
	errno = err;
	return NULL;
}

/* ---- the module cache ---------------------------------------------- */

static struct uw_module *key_find(const struct unwinder *u, const char *key)
{
	for (size_t i = 0; i < u->nkeys; i++)
		if (strcmp(u->keys[i].key, key) == 0)
			return u->keys[i].mod;
	return NULL;
}

static int key_add(struct unwinder *u, const char *key, struct uw_module *mod)
{
	if (u->nkeys == u->keys_cap) {
		size_t cap = u->keys_cap ? u->keys_cap * 2 : 32;
		struct uw_key *k = realloc(u->keys, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		u->keys = k;
		u->keys_cap = cap;
	}
	char *s = strdup(key);
	if (!s)
		return -ENOMEM;
	u->keys[u->nkeys++] = (struct uw_key){ .key = s, .mod = mod };
	return 0;
}

static int mod_add(struct unwinder *u, struct uw_module *m)
{
	if (u->nmods == u->mods_cap) {
		size_t cap = u->mods_cap ? u->mods_cap * 2 : 32;
		struct uw_module **v = realloc(u->mods, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		u->mods = v;
		u->mods_cap = cap;
	}
	u->mods[u->nmods++] = m;
	return 0;
}

/*
 * The module of path: by file identity first (no open), then by build-id,
 * else loaded. NULL when the file is missing or unusable.
 */
static struct uw_module *module_get(struct unwinder *u, const char *path)
{
	char *full = NULL, fkey[128], bkey[2 * SYMTAB_BUILD_ID_MAX + 3] = "b:";
	struct stat st;
	struct uw_module *m = NULL;

	if (!path || path[0] != '/' || asprintf(&full, "%s%s", u->root ? u->root : "", path) < 0)
		return NULL;
	if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	snprintf(fkey, sizeof(fkey), "f:%llu:%llu:%lld.%09ld:%lld",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, (long long)st.st_size);
	if ((m = key_find(u, fkey)) || u->nmods >= UNWIND_MAX_MODULES)
		goto out;
	if (symtab_build_id(path, u->root, bkey + 2, sizeof(bkey) - 2) == 0 &&
	    (m = key_find(u, bkey))) {
		if (key_add(u, fkey, m) != 0)
			m = NULL;
		goto out;
	}
	if (!(m = module_load(full, u->root, bkey + 2))) {
		u->stats.module_failures++;
		goto out;
	}
	if (mod_add(u, m) != 0) {
		module_free(m);
		m = NULL;
		goto out;
	}
	u->stats.modules++;
	if (m->ntables == 0)
		u->stats.module_failures++;
	if (m->syn)
		u->stats.debug_frame++;
	/* A failed key only costs a reload later. */
	key_add(u, fkey, m);
	if (bkey[2])
		key_add(u, bkey, m);
out:
	free(full);
	return m;
}

/* The load bias of a mapping: runtime address - file vaddr. */
static int mapping_bias(const struct uw_module *m, const struct modmap_entry *e, uint64_t *bias)
{
	const struct uw_load *best = NULL;

	for (size_t i = 0; i < m->nloads; i++) {
		const struct uw_load *l = &m->loads[i];
		uint64_t lo = l->offset & ~(uint64_t)(UW_PAGE - 1);
		if (e->pgoff < lo || e->pgoff >= l->offset + l->filesz)
			continue;
		if (!best || ((l->flags & PF_X) && !(best->flags & PF_X)))
			best = l;
	}
	if (!best)
		return -ENOENT;
	/* vaddr(pgoff) = best->vaddr + pgoff - best->offset */
	*bias = e->start - best->vaddr + best->offset - e->pgoff;
	return 0;
}

/* Resolve an entry's module and bias once; 0 when it has a module. */
static int mapping_resolve(struct unwinder *u, struct modmap_entry *e)
{
	if (e->state == MAP_UNRESOLVED) {
		struct uw_module *m = module_get(u, e->path);
		e->state = MAP_NONE;
		if (m && mapping_bias(m, e, &e->bias) == 0) {
			e->mod = m;
			e->state = MAP_OK;
		}
	}
	return e->state == MAP_OK ? 0 : -ENOENT;
}

/* ---- reading the target's address space ---------------------------- */

/* Up to 8 bytes of module m (at bias) at runtime address addr. */
static int module_read(struct unwinder *u, const struct uw_module *m, uint64_t bias,
		       uint64_t addr, unw_word_t *val)
{
	uint64_t v = addr - bias, off;

	/* The synthetic image: nothing else lies around it, so the bytes of
	 * a word that overlaps its ends are 0. */
	if (m->syn && v < m->syn_vaddr + m->syn_len && v + 8 > m->syn_vaddr) {
		uint8_t b[8] = { 0 };
		for (unsigned i = 0; i < 8; i++)
			if (v + i - m->syn_vaddr < m->syn_len)
				b[i] = m->syn[v + i - m->syn_vaddr];
		memcpy(val, b, 8);
		return 0;
	}
	if (v - m->hdr_vaddr < m->hdr_len && m->hdr_len - (v - m->hdr_vaddr) >= 8) {
		memcpy(val, m->hdr + (v - m->hdr_vaddr), 8);
		return 0;
	}
	if (v - m->ehf_vaddr < m->ehf_len && m->ehf_len - (v - m->ehf_vaddr) >= 8) {
		memcpy(val, m->ehf + (v - m->ehf_vaddr), 8);
		return 0;
	}
	uint64_t room = module_offset(m, v, &off);
	if (room == 0)
		return -UNW_EINVAL;
	if (u->fd_mod != m) {
		if (u->fd >= 0)
			close(u->fd);
		u->fd_mod = NULL;
		u->fd = open(m->path, O_RDONLY | O_CLOEXEC);
		if (u->fd < 0)
			return -UNW_EINVAL;
		u->fd_mod = m;
	}
	size_t n = room < 8 ? (size_t)room : 8;
	uint8_t b[8] = { 0 };
	if (pread(u->fd, b, n, (off_t)off) != (ssize_t)n)
		return -UNW_EINVAL;
	memcpy(val, b, 8);
	return 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
		      void *arg)
{
	struct uw_ctx *c = arg;
	uint64_t rel = addr - c->stack_base;

	(void)as;
	if (write)
		return -UNW_EINVAL;
	if (rel < c->stack_len) {
		if (c->stack_len - rel >= 8) {
			memcpy(val, c->stack + rel, 8);
			return 0;
		}
		c->ran_off = 1;
		return -UNW_EINVAL;
	}
	if (c->cur && module_read(c->u, c->cur, c->cur_bias, addr, val) == 0)
		return 0;
	struct modmap_entry *e = modmap_find(&c->u->map, addr);
	if (e && mapping_resolve(c->u, e) == 0)
		return module_read(c->u, e->mod, e->bias, addr, val);
	/* A module's read-only data (a DWARF expression in .eh_frame, read
	 * when libunwind reuses a cached register state and so never asked
	 * find_proc_info first) lies outside its executable mapping: any
	 * loaded module whose segments hold the address serves it. */
	for (size_t i = 0; i < c->u->map.n; i++) {
		const struct modmap_entry *me = &c->u->map.v[i];
		uint64_t off;
		if (me->state == MAP_OK && module_offset(me->mod, addr - me->bias, &off) &&
		    module_read(c->u, me->mod, me->bias, addr, val) == 0)
			return 0;
	}
	if (rel >= c->stack_len && rel < UW_STACK_SPAN)
		c->ran_off = 1;
	return -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
		      void *arg)
{
	const struct uw_ctx *c = arg;
	size_t idx;

	(void)as;
	if (write)
		return -UNW_EREADONLYREG;
	switch (reg) {
	case UNW_X86_64_RIP: idx = PERF_REG_X86_IP; break;
	case UNW_X86_64_RSP: idx = PERF_REG_X86_SP; break;
	case UNW_X86_64_RBP: idx = PERF_REG_X86_BP; break;
	case UNW_X86_64_RBX: idx = PERF_REG_X86_BX; break;
	case UNW_X86_64_R12: idx = PERF_REG_X86_R12; break;
	case UNW_X86_64_R13: idx = PERF_REG_X86_R13; break;
	case UNW_X86_64_R14: idx = PERF_REG_X86_R14; break;
	case UNW_X86_64_R15: idx = PERF_REG_X86_R15; break;
	default: return -UNW_EBADREG;
	}
	if (c->override) {
		if (!(c->ov_mask & (1ull << idx)))
			return -UNW_EBADREG;
		*val = c->ov[idx];
		return 0;
	}
	if (idx >= c->nregs)
		return -UNW_EBADREG;
	*val = c->regs[idx];
	return 0;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct uw_ctx *c = arg;
	struct modmap_entry *e = modmap_find(&c->u->map, ip);
	const struct uw_module *m;

	if (!e || mapping_resolve(c->u, e) != 0 || (m = e->mod)->ntables == 0) {
		c->noinfo = 1;
		return -UNW_ESTOPUNWIND;
	}
	c->cur = m;
	c->cur_bias = e->bias;

	/* .eh_frame_hdr's table first; the .debug_frame one for the PCs it
	 * does not cover (objects built without unwind tables). */
	for (size_t i = 0; i < m->ntables; i++) {
		const struct uw_table *t = &m->tables[i];
		unw_dyn_info_t di;
		memset(&di, 0, sizeof(di));
		di.start_ip = e->start;
		di.end_ip = e->end;
		di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
		di.u.rti.segbase = t->hdr_vaddr + e->bias;
		/* In words; a table entry is two int32s, one word. */
		di.u.rti.table_len = t->fde_count * 8 / sizeof(unw_word_t);
		di.u.rti.table_data = t->table_vaddr + e->bias;
		int ret = dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
		if (ret != -UNW_ENOINFO)
			return ret;
	}
	c->noinfo = 1;
	return -UNW_ESTOPUNWIND;
}

/* libunwind frees what dwarf_search_unwind_table allocated itself. */
static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	(void)as, (void)pi, (void)arg;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as, (void)addr, (void)arg;
	return -UNW_ENOINFO;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			void *arg)
{
	(void)as, (void)reg, (void)val, (void)write, (void)arg;
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cu, void *arg)
{
	(void)as, (void)cu, (void)arg;
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *off, void *arg)
{
	(void)as, (void)addr, (void)buf, (void)len, (void)off, (void)arg;
	return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

/* ---- the unwinder -------------------------------------------------- */

struct unwinder *unwinder_new(void)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->fd = -1;
	modmap_init(&u->map);
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->as) {
		free(u);
		return NULL;
	}
	/* Register states are cached by IP; the map's generation says when
	 * an IP may have changed meaning (unw_flush_cache then). The
	 * per-thread cache takes no lock: the global one blocks and unblocks
	 * signals (two system calls) around every lookup. An unwinder is used
	 * by one thread at a time, and libunwind tells its addresses spaces
	 * apart in that cache by generation. */
	unw_set_caching_policy(u->as, UNW_CACHE_PER_THREAD);
	unw_set_cache_size(u->as, UW_CACHE_SIZE, 0);
	return u;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	unw_destroy_addr_space(u->as);
	if (u->fd >= 0)
		close(u->fd);
	for (size_t i = 0; i < u->nkeys; i++)
		free(u->keys[i].key);
	free(u->keys);
	for (size_t i = 0; i < u->nmods; i++)
		module_free(u->mods[i]);
	free(u->mods);
	modmap_release(&u->map);
	free(u->rows);
	free(u->root);
	free(u);
}

int unwinder_set_root(struct unwinder *u, const char *root)
{
	char *r = root && *root ? strdup(root) : NULL;

	if (root && *root && !r)
		return -ENOMEM;
	free(u->root);
	u->root = r;
	return 0;
}

void unwinder_set_reader(struct unwinder *u,
			 int (*read)(void *arg, uint64_t addr, void *buf, size_t len),
			 void *arg)
{
	u->read = read;
	u->read_arg = arg;
	memset(u->tramp, 0, sizeof(u->tramp));
}

void unwinder_set_fast(struct unwinder *u, int on)
{
	u->no_fast = !on;
}

struct modmap *unwinder_modmap(struct unwinder *u)
{
	return &u->map;
}

const struct unwind_stats *unwinder_stats(const struct unwinder *u)
{
	return &u->stats;
}

int unwind_regs_unpack(uint64_t mask, const uint64_t *packed, size_t npacked,
		       uint64_t *regs)
{
	size_t k = 0;

	memset(regs, 0, UNWIND_NREGS * sizeof(*regs));
	for (int i = 0; i < UNWIND_NREGS; i++) {
		if (!(mask & (1ull << i)))
			continue;
		if (k >= npacked)
			return -EINVAL;
		regs[i] = packed[k++];
	}
	return 0;
}

/*
 * One frame-pointer step from a frame without unwind info whose RBP is bp
 * and SP is sp: [bp] is the caller's RBP, [bp + 8] the return address.
 * Taken only when that looks like a real frame (see unwind.h); then the
 * cursor restarts at the caller. 0, or -1 to stop.
 */
/* The frame-pointer frame at SP sp with RBP bp, if it looks like one (see
 * unwind.h): its return address and the caller's RBP. 0, or -1. */
static int fp_frame(const struct uw_ctx *c, uint64_t sp, uint64_t bp, uint64_t *ret,
		    uint64_t *saved)
{
	uint64_t rel = bp - c->stack_base;

	if (bp < sp || bp % 8 != 0 || rel >= c->stack_len || c->stack_len - rel < 16)
		return -1;
	memcpy(saved, c->stack + rel, 8);
	memcpy(ret, c->stack + rel + 8, 8);
	if ((*saved != 0 && *saved <= bp) || !modmap_find(&c->u->map, *ret))
		return -1;
	return 0;
}

/* The return address of the -X perf trampoline frame at SP sp (it is at
 * sp + 8; the caller's SP is sp + 16). 0, or -1. */
static int tramp_frame(const struct uw_ctx *c, uint64_t sp, uint64_t *ret)
{
	uint64_t rel = sp + 8 - c->stack_base;

	if (rel >= c->stack_len || c->stack_len - rel < 8)
		return -1;
	memcpy(ret, c->stack + rel, 8);
	return modmap_find(&c->u->map, *ret) ? 0 : -1;
}

static int fp_step(struct uw_ctx *c, unw_cursor_t *cu, uint64_t sp, uint64_t bp)
{
	uint64_t saved, ret;

	if (fp_frame(c, sp, bp, &ret, &saved) < 0)
		return -1;
	c->override = 1;
	c->ov_mask = (1ull << PERF_REG_X86_IP) | (1ull << PERF_REG_X86_SP) |
		     (1ull << PERF_REG_X86_BP);
	c->ov[PERF_REG_X86_IP] = ret;
	c->ov[PERF_REG_X86_SP] = bp + 16;
	c->ov[PERF_REG_X86_BP] = saved;
	c->cur = NULL;
	return unw_init_remote(cu, c->u->as, c) == 0 ? 0 : -1;
}

/* Is ip the return point of a -X perf trampoline: anonymous code reading
 * `add $8,%rsp; ret` (48 83 c4 08 c3)? Verdicts are cached per address. */
static int is_trampoline(struct unwinder *u, uint64_t ip)
{
	static const uint8_t body[5] = { 0x48, 0x83, 0xc4, 0x08, 0xc3 };
	struct modmap_entry *e = modmap_find(&u->map, ip);
	size_t slot = (ip ^ (ip >> 12)) % (sizeof(u->tramp) / sizeof(u->tramp[0]));
	uint8_t code[5];

	if (!u->read || !e || (e->path && e->path[0] == '/'))
		return 0;
	if (u->tramp[slot].pc == ip)
		return u->tramp[slot].yes;
	int yes = u->read(u->read_arg, ip, code, sizeof(code)) == 0 &&
		  memcmp(code, body, sizeof(body)) == 0;
	u->tramp[slot].pc = ip;
	u->tramp[slot].yes = yes;
	return yes;
}

/*
 * Step over a trampoline frame at ip with stack pointer sp: the return
 * address is at sp + 8, the caller's SP is sp + 16, and the callee-saved
 * registers pass through untouched (their values in cu). 0, or -1.
 */
static int trampoline_step(struct uw_ctx *c, unw_cursor_t *cu, uint64_t sp)
{
	static const struct { unw_regnum_t unw; int perf; } keep[] = {
		{ UNW_X86_64_RBX, PERF_REG_X86_BX }, { UNW_X86_64_RBP, PERF_REG_X86_BP },
		{ UNW_X86_64_R12, PERF_REG_X86_R12 }, { UNW_X86_64_R13, PERF_REG_X86_R13 },
		{ UNW_X86_64_R14, PERF_REG_X86_R14 }, { UNW_X86_64_R15, PERF_REG_X86_R15 },
	};
	uint64_t ret, mask = 0, vals[UNWIND_NREGS] = { 0 };

	if (tramp_frame(c, sp, &ret) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		unw_word_t v;
		if (unw_get_reg(cu, keep[i].unw, &v) == 0) {
			vals[keep[i].perf] = v;
			mask |= 1ull << keep[i].perf;
		}
	}
	memcpy(c->ov, vals, sizeof(vals));
	c->ov_mask = mask | (1ull << PERF_REG_X86_IP) | (1ull << PERF_REG_X86_SP);
	c->ov[PERF_REG_X86_IP] = ret;
	c->ov[PERF_REG_X86_SP] = sp + 16;
	c->override = 1;
	c->cur = NULL;
	return unw_init_remote(cu, c->u->as, c) == 0 ? 0 : -1;
}

static unsigned walk(struct uw_ctx *c, uint64_t *pcs, uint64_t *sps, int max, int *np)
{
	unw_cursor_t cu;
	unw_word_t ip, sp = c->override ? c->ov[PERF_REG_X86_SP] : c->regs[PERF_REG_X86_SP], bp;
	unsigned fl = 0;
	int n = *np;

	if (unw_init_remote(&cu, c->u->as, c) != 0)
		return UNWIND_ERROR;
	for (;;) {
		if (n >= max)
			return fl | UNWIND_MAX;
		c->noinfo = 0;
		c->ran_off = 0;
		int r = unw_step(&cu);
		if (r == -UNW_ESTOPUNWIND && c->noinfo) {
			/* The frame at pcs[n - 1] has no unwind info. */
			if (n > 1 && is_trampoline(c->u, pcs[n - 1]) &&
			    trampoline_step(c, &cu, sp) == 0) {
				c->u->stats.trampoline_steps++;
				fl |= UNWIND_TRAMPOLINE;
			} else if (unw_get_reg(&cu, UNW_X86_64_RBP, &bp) == 0 &&
				   fp_step(c, &cu, sp, bp) == 0) {
				c->u->stats.fp_steps++;
				fl |= UNWIND_FP_USED;
			} else {
				return fl | UNWIND_NO_INFO;
			}
			sp = c->ov[PERF_REG_X86_SP];
			if (sps)
				sps[n] = sp;
			pcs[n++] = c->ov[PERF_REG_X86_IP];
			*np = n;
			continue;
		}
		if (r < 0)
			return fl | (c->ran_off ? UNWIND_TRUNCATED : UNWIND_ERROR);
		if (r == 0)
			return fl | UNWIND_END;
		unw_word_t nsp;
		if (unw_get_reg(&cu, UNW_REG_IP, &ip) != 0 || unw_get_reg(&cu, UNW_REG_SP, &nsp) != 0)
			return fl | UNWIND_ERROR;
		if (ip == 0)
			return fl | UNWIND_END;
		/* Each caller's frame lies above its callee's: this bounds
		 * the walk even on a cyclic stack. */
		if (nsp <= sp)
			return fl | UNWIND_ERROR;
		sp = nsp;
		if (sps)
			sps[n] = sp;
		pcs[n++] = ip;
		*np = n;
	}
}

/* ---- the fast path: reduced rows, no libunwind ----------------------- */

/* Bytes of a module's in-memory tables at file vaddr v. */
static const uint8_t *module_bytes(void *arg, uint64_t v, size_t len)
{
	const struct uw_module *m = arg;
	const struct { uint64_t vaddr; const uint8_t *p; size_t len; } b[3] = {
		{ m->hdr_vaddr, m->hdr, m->hdr_len },
		{ m->ehf_vaddr, m->ehf, m->ehf_len },
		{ m->syn_vaddr, m->syn, m->syn_len },
	};
	for (int i = 0; i < 3; i++)
		if (b[i].p && v - b[i].vaddr < b[i].len && b[i].len - (v - b[i].vaddr) >= len)
			return b[i].p + (v - b[i].vaddr);
	return NULL;
}

/* The cached row of runtime PC pc (the lookup address). */
static const struct row_slot *row_for(struct unwinder *u, uint64_t pc)
{
	static struct row_slot scratch;

	if ((u->rows_count + 1) * 2 > u->rows_cap) {
		size_t cap = u->rows_cap ? u->rows_cap * 2 : 4096;
		if (u->rows_count >= UW_ROWS_MAX)
			cap = u->rows_cap;   /* full: start over */
		struct row_slot *nv = calloc(cap, sizeof(*nv));
		if (nv) {
			for (size_t i = 0; cap != u->rows_cap && i < u->rows_cap; i++) {
				if (!u->rows[i].status)
					continue;
				size_t j = (size_t)(u->rows[i].pc * 0x9e3779b97f4a7c15ull >> 24) & (cap - 1);
				while (nv[j].status)
					j = (j + 1) & (cap - 1);
				nv[j] = u->rows[i];
			}
			if (cap == u->rows_cap)
				u->rows_count = 0;
			free(u->rows);
			u->rows = nv;
			u->rows_cap = cap;
		}
	}
	struct row_slot *s = &scratch;
	if (u->rows_cap) {
		size_t mask = u->rows_cap - 1;
		size_t i = (size_t)(pc * 0x9e3779b97f4a7c15ull >> 24) & mask;
		for (; u->rows[i].status; i = (i + 1) & mask)
			if (u->rows[i].pc == pc)
				return &u->rows[i];
		s = &u->rows[i];
		u->rows_count++;
	}
	s->pc = pc;
	s->status = -1;
	struct modmap_entry *e = modmap_find(&u->map, pc);
	if (e && mapping_resolve(u, e) == 0) {
		const struct uw_module *m = e->mod;
		const struct cfi_src src = { module_bytes, (void *)m };
		for (size_t i = 0; i < m->ntables; i++) {
			const struct cfi_table t = { m->tables[i].hdr_vaddr, m->tables[i].table_vaddr,
						     m->tables[i].fde_count };
			int r = cfi_row_at(&src, &t, pc - e->bias, &s->row);
			if (r == 0) {
				s->status = 1;
				break;
			}
			if (r != -ENOENT) {
				s->status = -2;
				break;
			}
		}
	}
	return s;
}

/* perf register of each cfi.h row register but the return address. */
static const int row_perf_reg[CFI_NREGS - 1] = {
	PERF_REG_X86_BX, PERF_REG_X86_BP, PERF_REG_X86_R12,
	PERF_REG_X86_R13, PERF_REG_X86_R14, PERF_REG_X86_R15,
};

/*
 * Walk from the sample's registers with cached rows for as long as every
 * frame has a simple one. Returns a stop reason with UNWIND_END etc., or 0
 * when a frame needs libunwind: then c->override holds that frame's
 * registers (pcs[*np - 1] is the frame) for walk() to go on from.
 */
static unsigned fast_walk(struct uw_ctx *c, uint64_t *pcs, uint64_t *sps, int max, int *np)
{
	uint64_t regs[UNWIND_NREGS] = { 0 }, known = 0;
	unsigned fl = 0;
	int n = *np;

	for (size_t i = 0; i < sizeof(row_perf_reg) / sizeof(row_perf_reg[0]); i++) {
		int r = row_perf_reg[i];
		if ((size_t)r < c->nregs) {
			regs[r] = c->regs[r];
			known |= 1ull << r;
		}
	}
	regs[PERF_REG_X86_SP] = c->regs[PERF_REG_X86_SP];
	regs[PERF_REG_X86_IP] = c->regs[PERF_REG_X86_IP];
	for (;;) {
		uint64_t ip = regs[PERF_REG_X86_IP], sp = regs[PERF_REG_X86_SP];
		const struct row_slot *s = row_for(c->u, n > 1 ? ip - 1 : ip);
		const struct cfi_row *row = &s->row;
		uint64_t cfa, ra, v;

		if (s->status == -1) {
			/* No unwind info: a -X perf trampoline (every register
			 * passes through), else one frame-pointer step, as walk()
			 * does; see unwind.h. */
			uint64_t bp = regs[PERF_REG_X86_BP], saved;
			if (n > 1 && is_trampoline(c->u, ip) && tramp_frame(c, sp, &ra) == 0) {
				cfa = sp + 16;
				c->u->stats.trampoline_steps++;
				fl |= UNWIND_TRAMPOLINE;
			} else if ((known & (1ull << PERF_REG_X86_BP)) &&
				   fp_frame(c, sp, bp, &ra, &saved) == 0) {
				cfa = bp + 16;
				regs[PERF_REG_X86_BP] = saved;
				known = 1ull << PERF_REG_X86_BP;
				c->u->stats.fp_steps++;
				fl |= UNWIND_FP_USED;
			} else {
				return fl | UNWIND_NO_INFO;
			}
			goto step;
		}
		if (s->status != 1 || (row->cfa_reg == 6 && !(known & (1ull << PERF_REG_X86_BP))))
			goto hand_over;
		cfa = (row->cfa_reg == 7 ? sp : regs[PERF_REG_X86_BP]) + (uint64_t)row->cfa_off;
		if (row->rule[CFI_RA] == CFI_UNDEF)
			return fl | UNWIND_END;
		if (row->rule[CFI_RA] != CFI_OFFSET)
			goto hand_over;
		uint64_t rel = cfa + (uint64_t)row->off[CFI_RA] - c->stack_base;
		if (rel >= c->stack_len || c->stack_len - rel < 8)
			return fl | (rel < UW_STACK_SPAN ? UNWIND_TRUNCATED : UNWIND_ERROR);
		memcpy(&ra, c->stack + rel, 8);
		for (int k = 0; k < CFI_NREGS - 1; k++) {
			int r = row_perf_reg[k];
			if (row->rule[k] == CFI_UNDEF) {
				known &= ~(1ull << r);
			} else if (row->rule[k] == CFI_OFFSET) {
				rel = cfa + (uint64_t)row->off[k] - c->stack_base;
				if (rel < c->stack_len && c->stack_len - rel >= 8) {
					memcpy(&v, c->stack + rel, 8);
					regs[r] = v;
					known |= 1ull << r;
				} else {
					known &= ~(1ull << r);
				}
			}
		}
		c->u->stats.fast_steps++;
step:
		if (ra == 0)
			return fl | UNWIND_END;
		if (cfa <= sp)
			return fl | UNWIND_ERROR;
		if (n >= max)
			return fl | UNWIND_MAX;
		regs[PERF_REG_X86_SP] = cfa;
		regs[PERF_REG_X86_IP] = ra;
		if (sps)
			sps[n] = cfa;
		pcs[n++] = ra;
		*np = n;
	}
hand_over:
	c->override = 1;
	c->ov_mask = known | (1ull << PERF_REG_X86_SP) | (1ull << PERF_REG_X86_IP);
	memcpy(c->ov, regs, sizeof(regs));
	return fl;
}

int unwind_sample(struct unwinder *u, const uint64_t *regs, size_t nregs,
		  const uint8_t *stack, size_t stack_len, uint64_t *pcs, uint64_t *sps,
		  int max, unsigned *flags)
{
	unsigned fl;
	int n = 0;

	if (max > UNWIND_MAX_FRAMES)
		max = UNWIND_MAX_FRAMES;
	if (!regs || nregs <= PERF_REG_X86_IP || nregs <= PERF_REG_X86_SP) {
		fl = UNWIND_ERROR;
	} else if (max <= 0) {
		fl = UNWIND_MAX;
	} else {
		if (u->map_generation != u->map.generation) {
			unw_flush_cache(u->as, 0, 0);
			if (u->rows)
				memset(u->rows, 0, u->rows_cap * sizeof(*u->rows));
			u->rows_count = 0;
			u->map_generation = u->map.generation;
		}
		struct uw_ctx c = {
			.u = u, .regs = regs, .nregs = nregs,
			.stack = stack, .stack_base = regs[PERF_REG_X86_SP],
			.stack_len = stack ? stack_len : 0,
		};
		if (sps)
			sps[n] = regs[PERF_REG_X86_SP];
		pcs[n++] = regs[PERF_REG_X86_IP];
		fl = u->no_fast ? 0 : fast_walk(&c, pcs, sps, max, &n);
		if (!(fl & UNWIND_STOP_MASK)) {
			/* A frame the rows cannot step: libunwind goes on from it. */
			u->stats.slow_walks++;
			fl |= walk(&c, pcs, sps, max, &n);
		}
	}

	u->stats.samples++;
	u->stats.frames += (uint64_t)n;
	switch (fl & UNWIND_STOP_MASK) {
	case UNWIND_END: u->stats.end++; break;
	case UNWIND_NO_INFO: u->stats.no_info++; break;
	case UNWIND_TRUNCATED: u->stats.truncated++; break;
	case UNWIND_MAX: u->stats.max++; break;
	default: u->stats.error++; break;
	}
	if (flags)
		*flags = fl;
	return n;
}
