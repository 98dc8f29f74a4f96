/*
 * symtab.c - a module's function symbols, from its ELF file, its
 * .gnu_debugdata and its separate debug file.
 *
 * Every source adds raw symbols to one collection; sorting and
 * de-duplicating happen once at the end, so the sources need no order.
 */
#include <byteswap.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyrometer/symtab.h"

struct raw_sym {
	uint64_t addr, size;
	size_t name;           /* offset into collect.names */
	unsigned rank;         /* lower wins at one address */
};

struct collect {
	struct raw_sym *v;
	size_t n, cap;
	char *names;
	size_t nlen, ncap;
	int truncated;
};

/* ---- paths ---------------------------------------------------------- */

static char *with_root(const char *root, const char *path)
{
	char *s;

	if (asprintf(&s, "%s%s", root ? root : "", path) < 0)
		return NULL;
	return s;
}

/* ---- collecting symbols -------------------------------------------- */

static size_t add_name(struct collect *c, const char *name, size_t len)
{
	if (len + 1 > SYMTAB_MAX_NAMES_BYTES - c->nlen) {
		c->truncated = 1;
		return SIZE_MAX;
	}
	if (c->nlen + len + 1 > c->ncap) {
		size_t cap = c->ncap ? c->ncap : 4096;
		while (cap < c->nlen + len + 1)
			cap *= 2;
		char *p = realloc(c->names, cap);
		if (!p)
			return SIZE_MAX;
		c->names = p;
		c->ncap = cap;
	}
	size_t off = c->nlen;
	memcpy(c->names + off, name, len);
	c->names[off + len] = '\0';
	c->nlen += len + 1;
	return off;
}

static int add_sym(struct collect *c, uint64_t addr, uint64_t size, const char *name,
		   size_t len, unsigned rank)
{
	if (c->n >= SYMTAB_MAX_SYMS) {
		c->truncated = 1;
		return -E2BIG;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct raw_sym *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	size_t off = add_name(c, name, len);
	if (off == SIZE_MAX)
		return c->truncated ? -E2BIG : -ENOMEM;
	c->v[c->n++] = (struct raw_sym){ .addr = addr, .size = size, .name = off, .rank = rank };
	return 0;
}

/* Global before weak before local, sized before unsized, fewer leading
 * underscores first: the public name of an aliased function wins. */
static unsigned sym_rank(const GElf_Sym *s, const char *name)
{
	unsigned bind;

	switch (GELF_ST_BIND(s->st_info)) {
	case STB_GLOBAL:
	case STB_GNU_UNIQUE:
		bind = 0;
		break;
	case STB_WEAK:
		bind = 1;
		break;
	default:
		bind = 2;
	}
	unsigned under = 0;
	while (name[under] == '_' && under < 15)
		under++;
	return bind << 8 | (s->st_size ? 0u : 1u) << 4 | under;
}

static int exec_section(Elf *elf, size_t ndx)
{
	Elf_Scn *scn = elf_getscn(elf, ndx);
	GElf_Shdr sh;

	return scn && gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_EXECINSTR);
}

/* The functions of one SHT_SYMTAB / SHT_DYNSYM section. Returns how many
 * were added; a malformed section adds none. */
static size_t scan_syms(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, size_t shnum,
			struct collect *c)
{
	if (sh->sh_entsize != gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT) ||
	    sh->sh_link == 0 || sh->sh_link >= shnum)
		return 0;
	GElf_Shdr strsh;
	Elf_Scn *strscn = elf_getscn(elf, sh->sh_link);
	if (!strscn || !gelf_getshdr(strscn, &strsh) || strsh.sh_type != SHT_STRTAB)
		return 0;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || !d->d_buf || d->d_type != ELF_T_SYM)
		return 0;

	size_t count = d->d_size / sh->sh_entsize, added = 0;
	/* Symbol 0 is the null symbol; gelf_getsym checks the index. */
	for (size_t i = 1; i < count && i < INT32_MAX; i++) {
		GElf_Sym s;
		if (!gelf_getsym(d, (int)i, &s))
			break;
		int type = GELF_ST_TYPE(s.st_info);
		if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE || s.st_value == 0)
			continue;
		if (type == STT_NOTYPE) {
			if (!s.st_size || !exec_section(elf, s.st_shndx))
				continue;
		} else if (type != STT_FUNC && type != STT_GNU_IFUNC) {
			continue;
		}
		/* elf_strptr checks the offset and the terminating NUL. */
		const char *name = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!name || !*name)
			continue;
		size_t len = strnlen(name, SYMTAB_MAX_NAME);
		if (len == SYMTAB_MAX_NAME)
			continue;
		if (add_sym(c, s.st_value, s.st_size, name, len, sym_rank(&s, name)) < 0)
			break;
		added++;
	}
	return added;
}

/* All symbol tables of elf of the given type (SHT_SYMTAB or SHT_DYNSYM). */
static size_t scan_all(Elf *elf, Elf64_Word type, struct collect *c)
{
	size_t shnum, added = 0;
	Elf_Scn *scn = NULL;

	if (elf_getshdrnum(elf, &shnum) != 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type)
			added += scan_syms(elf, scn, &sh, shnum, c);
	}
	return added;
}

/* ---- ELF helpers ---------------------------------------------------- */

/* An executable or shared object, or NULL. */
static Elf *begin_elf(int fd, char *mem, size_t len)
{
	Elf *elf = mem ? elf_memory(mem, len) : elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;

	if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh) &&
	    (eh.e_type == ET_EXEC || eh.e_type == ET_DYN))
		return elf;
	if (elf)
		elf_end(elf);
	return NULL;
}

static Elf_Scn *find_section(Elf *elf, const char *want, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, sh) || sh->sh_type != SHT_PROGBITS)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (name && strcmp(name, want) == 0)
			return scn;
	}
	return NULL;
}

static int note_build_id(Elf_Data *d, char *hex, size_t cap)
{
	size_t off = 0, next;
	GElf_Nhdr nh;
	size_t name_off, desc_off;

	if (!d || !d->d_buf)
		return -ENOENT;
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		off = next;
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 || nh.n_descsz == 0 ||
		    nh.n_descsz > SYMTAB_BUILD_ID_MAX || 2 * (size_t)nh.n_descsz >= cap ||
		    name_off > d->d_size - 4 || desc_off > d->d_size - nh.n_descsz)
			continue;
		const unsigned char *b = d->d_buf;
		if (memcmp(b + name_off, "GNU", 4) != 0)
			continue;
		for (size_t i = 0; i < nh.n_descsz; i++)
			snprintf(hex + 2 * i, 3, "%02x", b[desc_off + i]);
		return 0;
	}
	return -ENOENT;
}

/* From the note sections, else from PT_NOTE (a file without sections). */
static int elf_build_id(Elf *elf, char *hex, size_t cap)
{
	Elf_Scn *scn = NULL;
	size_t nph;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    note_build_id(elf_getdata(scn, NULL), hex, cap) == 0)
			return 0;
	}
	if (elf_getphdrnum(elf, &nph) != 0)
		return -ENOENT;
	for (size_t i = 0; i < nph && i < 4096; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
						   ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
		if (note_build_id(d, hex, cap) == 0)
			return 0;
	}
	return -ENOENT;
}

static void read_loads(Elf *elf, struct symtab *t)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph) != 0)
		return;
	for (size_t i = 0; i < nph && i < 4096 && t->nloads < SYMTAB_MAX_LOADS; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    ph.p_filesz > ph.p_memsz || ph.p_vaddr + ph.p_memsz < ph.p_vaddr ||
		    ph.p_offset + ph.p_filesz < ph.p_offset)
			continue;
		t->loads[t->nloads++] = (struct symtab_load){
			.vaddr = ph.p_vaddr, .offset = ph.p_offset, .filesz = ph.p_filesz,
			.memsz = ph.p_memsz, .flags = ph.p_flags };
	}
}

/* ---- .gnu_debugdata ------------------------------------------------- */

/* xz-decompress in[0..len) into a malloc'd buffer of at most
 * SYMTAB_MAX_DEBUGDATA bytes. 0, -EFBIG past the cap, -EINVAL if corrupt. */
static int unxz(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int err = 0;

	if (lzma_stream_decoder(&s, SYMTAB_MAX_DEBUGDATA, 0) != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = len;
	for (;;) {
		if (s.avail_out == 0) {
			if (cap == SYMTAB_MAX_DEBUGDATA) {
				err = -EFBIG;
				break;
			}
			size_t ncap = cap ? cap * 2 : 256 * 1024;
			if (ncap > SYMTAB_MAX_DEBUGDATA)
				ncap = SYMTAB_MAX_DEBUGDATA;
			uint8_t *p = realloc(buf, ncap);
			if (!p) {
				err = -ENOMEM;
				break;
			}
			buf = p;
			s.next_out = buf + cap;
			s.avail_out = ncap - cap;
			cap = ncap;
		}
		lzma_ret r = lzma_code(&s, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK) {
			err = r == LZMA_MEM_ERROR || r == LZMA_MEMLIMIT_ERROR ? -EFBIG : -EINVAL;
			break;
		}
	}
	if (err) {
		free(buf);
		lzma_end(&s);
		return err;
	}
	*out = buf;
	*out_len = cap - s.avail_out;
	lzma_end(&s);
	return 0;
}

static size_t scan_debugdata(Elf *elf, struct collect *c)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, ".gnu_debugdata", &sh);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	uint8_t *buf;
	size_t len, added = 0;

	if (!d || !d->d_buf || d->d_size == 0)
		return 0;
	if (unxz(d->d_buf, d->d_size, &buf, &len) != 0)
		return 0;
	Elf *mini = begin_elf(-1, (char *)buf, len);
	if (mini) {
		added = scan_all(mini, SHT_SYMTAB, c);
		elf_end(mini);
	}
	free(buf);
	return added;
}

/* ---- separate debug files ------------------------------------------- */

/* The CRC-32 of .gnu_debuglink: IEEE 802.3, reflected, as zlib's crc32. */
static int file_crc32(int fd, uint32_t *out)
{
	uint32_t table[256], crc = 0xffffffffu;
	unsigned char *buf = malloc(1 << 16);
	off_t pos = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;
		for (int k = 0; k < 8; k++)
			v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
		table[i] = v;
	}
	while ((n = pread(fd, buf, 1 << 16, pos)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
		pos += n;
	}
	free(buf);
	if (n < 0)
		return -EIO;
	*out = crc ^ 0xffffffffu;
	return 0;
}

/* The file name and CRC of .gnu_debuglink: a NUL-terminated base name,
 * padded to 4 bytes, then the CRC in the file's byte order. */
static int elf_debuglink(Elf *elf, char *name, size_t cap, uint32_t *crc)
{
	GElf_Shdr sh;
	GElf_Ehdr eh;
	Elf_Scn *scn = find_section(elf, ".gnu_debuglink", &sh);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;

	if (!d || !d->d_buf || !gelf_getehdr(elf, &eh))
		return -ENOENT;
	const char *b = d->d_buf;
	size_t len = strnlen(b, d->d_size);
	size_t off = (len + 4) & ~(size_t)3;
	if (len == 0 || len >= cap || off > d->d_size || d->d_size - off < 4 ||
	    memchr(b, '/', len) || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
		return -EINVAL;
	memcpy(name, b, len + 1);
	memcpy(crc, b + off, 4);
	int big = eh.e_ident[EI_DATA] == ELFDATA2MSB;
	if (big != (BYTE_ORDER == BIG_ENDIAN))
		*crc = bswap_32(*crc);
	return 0;
}

struct debug_want {
	const char *build_id;  /* must match when both files have one */
	int check_crc;
	uint32_t crc;
	dev_t dev;             /* the module itself, never its own debug file */
	ino_t ino;
};

/* Symbols of candidate debug file path, if it is the right one. */
static size_t try_debug_file(const char *path, const struct debug_want *w, struct symtab *t,
			     struct collect *c)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t added = 0;
	Elf *elf = NULL;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_dev == w->dev && st.st_ino == w->ino))
		goto out;
	if (w->check_crc) {
		uint32_t crc;
		if (file_crc32(fd, &crc) != 0 || crc != w->crc)
			goto out;
	}
	elf = begin_elf(fd, NULL, 0);
	if (!elf)
		goto out;
	char id[sizeof(t->build_id)];
	int has_id = elf_build_id(elf, id, sizeof(id)) == 0;
	/* Another build of the module, or (found by build-id, so it must
	 * carry one) not a debug file of anything known. */
	if ((*w->build_id && has_id && strcmp(id, w->build_id) != 0) ||
	    (!w->check_crc && !has_id))
		goto out;
	added = scan_all(elf, SHT_SYMTAB, c);
	if (added) {
		t->debug_path = strdup(path);
		t->sources |= SYMTAB_FROM_DEBUGFILE;
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return added;
}

/* try_debug_file() on root + DIR + tail for each DIR of the list, until
 * one is the debug file. */
static size_t try_each_dir(const char *root, const char *dirs, const char *tail,
			   const struct debug_want *w, struct symtab *t, struct collect *c)
{
	char *list = strdup(dirs), *save = NULL, *cand;
	size_t added = 0;

	for (char *d = list ? strtok_r(list, ":", &save) : NULL; d && !added;
	     d = strtok_r(NULL, ":", &save)) {
		if (asprintf(&cand, "%s%s%s", root, d, tail) < 0)
			break;
		added = try_debug_file(cand, w, t, c);
		free(cand);
	}
	free(list);
	return added;
}

/* .gnu_debuglink: next to the module, in its .debug/, then in each debug
 * directory + the module's directory (an absolute path only). */
static size_t by_debuglink(Elf *elf, const char *root, const char *debug_dirs,
			   struct debug_want *w, struct symtab *t, struct collect *c)
{
	char link[256], *cand;
	size_t added = 0;

	if (elf_debuglink(elf, link, sizeof(link), &w->crc) != 0)
		return 0;
	w->check_crc = 1;
	/* The module's directory: "" for one in "/", "." for a bare name. */
	const char *slash = strrchr(t->path, '/');
	char *dir = slash ? strndup(t->path, (size_t)(slash - t->path)) : strdup(".");
	if (!dir)
		return 0;
	for (int i = 0; i < 2 && !added; i++) {
		if (asprintf(&cand, "%s%s/%s%s", root, dir, i ? ".debug/" : "", link) < 0)
			break;
		added = try_debug_file(cand, w, t, c);
		free(cand);
	}
	if (!added && slash && asprintf(&cand, "%s/%s", dir, link) >= 0) {
		added = try_each_dir(root, debug_dirs, cand, w, t, c);
		free(cand);
	}
	free(dir);
	return added;
}

/* A separate debug file: by build-id first, as gdb does, then by link. */
static void scan_debug_file(Elf *elf, const char *root, const char *debug_dirs,
			    struct debug_want *w, struct symtab *t, struct collect *c)
{
	char *tail;

	if (!root)
		root = "";
	if (strlen(w->build_id) > 2 &&
	    asprintf(&tail, "/.build-id/%.2s/%s.debug", w->build_id, w->build_id + 2) >= 0) {
		size_t added = try_each_dir(root, debug_dirs, tail, w, t, c);
		free(tail);
		if (added)
			return;
	}
	by_debuglink(elf, root, debug_dirs, w, t, c);
}

/* ---- the table ------------------------------------------------------ */

static int cmp_raw(const void *a, const void *b, void *names)
{
	const struct raw_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp((const char *)names + x->name, (const char *)names + y->name);
}

/* End of the PT_LOAD segment holding vaddr, or 0. */
static uint64_t segment_end(const struct symtab *t, uint64_t vaddr)
{
	for (size_t i = 0; i < t->nloads; i++)
		if (vaddr >= t->loads[i].vaddr && vaddr - t->loads[i].vaddr < t->loads[i].memsz)
			return t->loads[i].vaddr + t->loads[i].memsz;
	return 0;
}

/* The section named name, or NULL. */
static Elf_Scn *section_named(Elf *elf, const char *name, GElf_Shdr *sh)
{
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	for (Elf_Scn *s = elf_nextscn(elf, NULL); s; s = elf_nextscn(elf, s)) {
		const char *n;
		if (gelf_getshdr(s, sh) && (n = elf_strptr(elf, shstrndx, sh->sh_name)) &&
		    strcmp(n, name) == 0)
			return s;
	}
	return NULL;
}

#define PLT_ENTRY 16  /* x86-64 */

/*
 * PLT slots, named NAME@plt as objdump and perf name them: slot i jumps to
 * the function of .rela.plt entry i. It is .plt.sec + 16 i when the PLT is
 * split for IBT, else .plt + 16 (i + 1), after .plt's own header. Without
 * these, a sample in a PLT slot would take the name of whatever symbol
 * precedes .plt (often _init).
 */
static size_t scan_plt(Elf *elf, struct collect *c)
{
	GElf_Shdr plt, sec, rel, dyn;
	Elf_Scn *s_plt = section_named(elf, ".plt", &plt);
	Elf_Scn *s_sec = section_named(elf, ".plt.sec", &sec);
	Elf_Scn *s_rel = section_named(elf, ".rela.plt", &rel);
	size_t added = 0;

	if (!s_rel || rel.sh_type != SHT_RELA || (!s_plt && !s_sec) ||
	    rel.sh_entsize != gelf_fsize(elf, ELF_T_RELA, 1, EV_CURRENT))
		return 0;
	Elf_Scn *s_dyn = elf_getscn(elf, rel.sh_link);
	Elf_Data *rd = elf_getdata(s_rel, NULL), *dd = s_dyn ? elf_getdata(s_dyn, NULL) : NULL;
	if (!rd || !dd || !gelf_getshdr(s_dyn, &dyn) || dd->d_type != ELF_T_SYM)
		return 0;
	uint64_t base = s_sec ? sec.sh_addr : plt.sh_addr + PLT_ENTRY;
	uint64_t end = s_sec ? sec.sh_addr + sec.sh_size : plt.sh_addr + plt.sh_size;
	size_t n = rd->d_size / rel.sh_entsize;
	char buf[SYMTAB_MAX_NAME + 8];

	for (size_t i = 0; i < n && i < INT32_MAX; i++) {
		GElf_Rela r;
		GElf_Sym sym;
		uint64_t addr = base + PLT_ENTRY * (uint64_t)i;
		if (addr < base || addr + PLT_ENTRY > end)
			break;
		if (!gelf_getrela(rd, (int)i, &r) || GELF_R_SYM(r.r_info) > INT32_MAX ||
		    !gelf_getsym(dd, (int)GELF_R_SYM(r.r_info), &sym))
			continue;
		const char *name = elf_strptr(elf, dyn.sh_link, sym.st_name);
		size_t len = name ? strnlen(name, SYMTAB_MAX_NAME) : 0;
		if (!len || len == SYMTAB_MAX_NAME)
			continue;
		memcpy(buf, name, len);
		memcpy(buf + len, "@plt", 5);
		/* Ranked after any real symbol at the same address. */
		if (add_sym(c, addr, PLT_ENTRY, buf, len + 4, 3u << 8) < 0)
			break;
		added++;
	}
	return added;
}

/* Sort, keep one symbol per address, fill sizes; c's buffers move into t. */
static int finish(struct symtab *t, struct collect *c)
{
	size_t n = 0;

	if (c->n)
		qsort_r(c->v, c->n, sizeof(*c->v), cmp_raw, c->names);
	for (size_t i = 0; i < c->n; i++)
		if (n == 0 || c->v[n - 1].addr != c->v[i].addr)
			c->v[n++] = c->v[i];
	if (n) {
		char *names = realloc(c->names, c->nlen);
		if (!names)
			return -ENOMEM;
		t->names = names;
		c->names = NULL;
		t->syms = malloc(n * sizeof(*t->syms));
		if (!t->syms)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct raw_sym *r = &c->v[i];
		uint64_t size = r->size;
		if (size == 0) {
			uint64_t end = segment_end(t, r->addr);
			if (i + 1 < n && (end == 0 || c->v[i + 1].addr < end))
				end = c->v[i + 1].addr;
			size = end ? end - r->addr : 0;
		}
		t->syms[i] = (struct symtab_sym){ .addr = r->addr, .size = size,
						  .name = t->names + r->name };
	}
	t->nsyms = n;
	t->truncated = c->truncated;
	return 0;
}

static int load_into(struct symtab *t, const char *root, const char *debug_dirs)
{
	char *full = with_root(root, t->path);
	int fd = full ? open(full, O_RDONLY | O_CLOEXEC) : -1;
	int err = full ? -errno : -ENOMEM;
	struct collect c = { 0 };
	struct stat st;
	Elf *elf = NULL;

	free(full);
	if (fd < 0)
		return err;
	err = -ENOEXEC;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(elf = begin_elf(fd, NULL, 0)))
		goto out;
	GElf_Ehdr eh;
	gelf_getehdr(elf, &eh); /* begin_elf checked it */
	t->type = eh.e_type;
	read_loads(elf, t);
	if (elf_build_id(elf, t->build_id, sizeof(t->build_id)) != 0)
		t->build_id[0] = '\0';

	if (scan_all(elf, SHT_DYNSYM, &c))
		t->sources |= SYMTAB_FROM_DYNSYM;
	scan_plt(elf, &c);
	if (scan_all(elf, SHT_SYMTAB, &c)) {
		t->sources |= SYMTAB_FROM_SYMTAB;
	} else {
		/* Stripped: what was stripped may be elsewhere. */
		if (scan_debugdata(elf, &c))
			t->sources |= SYMTAB_FROM_DEBUGDATA;
		struct debug_want w = { .build_id = t->build_id, .dev = st.st_dev, .ino = st.st_ino };
		scan_debug_file(elf, root, debug_dirs, &w, t, &c);
	}
	err = finish(t, &c);
out:
	free(c.v);
	free(c.names);
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

struct symtab *symtab_load_dirs(const char *path, const char *root, const char *debug_dirs)
{
	struct symtab *t;
	int err;

	if (!path || !*path) {
		errno = EINVAL;
		return NULL;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->path = strdup(path))) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	const char *slash = strrchr(t->path, '/');
	t->name = slash && slash[1] ? slash + 1 : t->path;
	err = load_into(t, root, debug_dirs ? debug_dirs : SYMTAB_DEBUG_DIRS);
	if (err) {
		symtab_free(t);
		errno = -err;
		return NULL;
	}
	return t;
}

struct symtab *symtab_load(const char *path, const char *root)
{
	return symtab_load_dirs(path, root, NULL);
}

void symtab_free(struct symtab *t)
{
	if (!t)
		return;
	free(t->syms);
	free(t->names);
	free(t->debug_path);
	free(t->path);
	free(t);
}

int symtab_lookup(const struct symtab *t, uint64_t file_vaddr, const char **name,
		  uint64_t *offset)
{
	size_t lo = 0, hi = t->nsyms;

	/* lo ends as the count of symbols starting at or below file_vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->syms[mid].addr <= file_vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -ENOENT;
	const struct symtab_sym *s = &t->syms[lo - 1];
	/* A size still 0 after the fill (outside every segment) covers its
	 * own address only. */
	uint64_t off = file_vaddr - s->addr;
	if (off >= (s->size ? s->size : 1))
		return -ENOENT;
	if (name)
		*name = s->name;
	if (offset)
		*offset = off;
	return 0;
}

size_t symtab_format(const struct symtab *t, uint64_t file_vaddr, char *out, size_t cap)
{
	const char *name;
	int n;

	if (symtab_lookup(t, file_vaddr, &name, NULL) == 0) {
		char *dm = symtab_demangle(name);
		n = snprintf(out, cap, "%s [%s]", dm ? dm : name, t->name);
		free(dm);
	} else {
		n = snprintf(out, cap, "[%s+0x%" PRIx64 "]", t->name, file_vaddr);
	}
	return n < 0 ? 0 : (size_t)n;
}

int symtab_offset_to_vaddr(const struct symtab *t, uint64_t offset, uint64_t *vaddr)
{
	for (size_t i = 0; i < t->nloads; i++) {
		const struct symtab_load *l = &t->loads[i];
		if (offset >= l->offset && offset - l->offset < l->filesz) {
			*vaddr = l->vaddr + (offset - l->offset);
			return 0;
		}
	}
	return -ENOENT;
}

int symtab_vaddr_to_offset(const struct symtab *t, uint64_t vaddr, uint64_t *offset)
{
	for (size_t i = 0; i < t->nloads; i++) {
		const struct symtab_load *l = &t->loads[i];
		if (vaddr >= l->vaddr && vaddr - l->vaddr < l->filesz) {
			*offset = l->offset + (vaddr - l->vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

int symtab_build_id(const char *path, const char *root, char *hex, size_t cap)
{
	char *full = with_root(root, path);
	int fd = full ? open(full, O_RDONLY | O_CLOEXEC) : -1;
	int err = full ? -errno : -ENOMEM;
	Elf *elf;

	free(full);
	if (fd < 0)
		return err;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		close(fd);
		return -ENOSYS;
	}
	elf = begin_elf(fd, NULL, 0);
	err = elf ? elf_build_id(elf, hex, cap) : -ENOEXEC;
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}
