/* elfsym.c - symbol values and load segments, through libelf. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pyrometer/elfsym.h"
#include "pyrometer/target.h"

/* What the lookup has found so far, per name. */
struct found {
	const char *const *names;
	uint64_t *values;
	int *types;
	unsigned char hidden[ELFSYM_MAX_NAMES];  /* a non-default version */
	size_t n;
};

/* versym: .gnu.version, parallel to .dynsym (NULL for .symtab). A default
 * version replaces a hidden one found before. */
static void scan_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, Elf_Data *versym,
			struct found *f)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	if (!data || sh->sh_entsize == 0)
		return;
	size_t count = data->d_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(data, (int)i, &sym))
			break;
		if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		const char *name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name)
			continue;
		for (size_t k = 0; k < f->n; k++) {
			if (strcmp(name, f->names[k]) != 0)
				continue;
			GElf_Versym ver = 0;
			int hidden = versym && gelf_getversym(versym, (int)i, &ver) &&
				     (ver & 0x8000);
			if (f->values[k] && !(f->hidden[k] && !hidden))
				continue;
			f->values[k] = sym.st_value;
			f->hidden[k] = (unsigned char)hidden;
			if (f->types)
				f->types[k] = GELF_ST_TYPE(sym.st_info);
		}
	}
}

static int all_found(const uint64_t *values, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!values[k])
			return 0;
	return 1;
}

int elfsym_lookup_types(const char *path, const char *const *names, uint64_t *values,
			int *types, size_t n, struct elfsym_file *info)
{
	if (n > ELFSYM_MAX_NAMES)
		return -EINVAL;
	memset(values, 0, n * sizeof(*values));
	memset(info, 0, sizeof(*info));
	if (types)
		memset(types, 0, n * sizeof(*types));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = -ENOEXEC;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		goto out;
	info->type = eh.e_type;

	size_t nph;
	if (elf_getphdrnum(elf, &nph) != 0)
		goto out;
	for (size_t i = 0; i < nph && info->nloads < ELFSYM_MAX_LOADS; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		info->loads[info->nloads++] = (struct elfsym_load){
			.vaddr = ph.p_vaddr, .offset = ph.p_offset, .memsz = ph.p_memsz,
			.filesz = ph.p_filesz };
	}

	struct found f = { .names = names, .values = values, .types = types, .n = n };
	Elf_Data *versym = NULL;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym)
			versym = elf_getdata(scn, NULL);
	}
	/* .dynsym first: it survives stripping and holds the exported names. */
	for (int pass = 0; pass < 2 && !all_found(values, n); pass++) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn)) != NULL) {
			GElf_Shdr sh;
			if (!gelf_getshdr(scn, &sh))
				continue;
			if (sh.sh_type == (pass == 0 ? SHT_DYNSYM : SHT_SYMTAB))
				scan_symtab(elf, scn, &sh, pass == 0 ? versym : NULL, &f);
		}
	}
	err = 0;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

int elfsym_lookup(const char *path, const char *const *names, uint64_t *values,
		  size_t n, struct elfsym_file *info)
{
	return elfsym_lookup_types(path, names, values, NULL, n, info);
}

int elfsym_file_offset(const struct elfsym_file *info, uint64_t vaddr, uint64_t *off)
{
	for (size_t i = 0; i < info->nloads; i++) {
		const struct elfsym_load *ld = &info->loads[i];
		if (vaddr >= ld->vaddr && vaddr - ld->vaddr < ld->filesz) {
			*off = vaddr - ld->vaddr + ld->offset;
			return 0;
		}
	}
	return -ERANGE;
}

int elfsym_runtime_addr(const struct elfsym_file *info, const struct target_maps *maps,
			const char *map_path, uint64_t vaddr, uint64_t *out)
{
	for (size_t i = 0; i < info->nloads; i++) {
		const struct elfsym_load *ld = &info->loads[i];
		if (vaddr < ld->vaddr || vaddr - ld->vaddr >= ld->memsz)
			continue;
		uint64_t page_off = ld->offset & ~(uint64_t)0xfff;
		/* Each segment is mapped starting at its page-aligned file offset.
		 * Match that start exactly first: the previous segment's mapping
		 * can cover the same file page too (its end is rounded up), at an
		 * address that is not this segment's. */
		const struct target_map *best = NULL;
		for (size_t k = 0; k < maps->n; k++) {
			const struct target_map *m = &maps->v[k];
			if (!m->path || strcmp(m->path, map_path) != 0)
				continue;
			if (page_off < m->offset || page_off - m->offset >= m->end - m->start)
				continue;
			if (!best || m->offset == page_off)
				best = m;
		}
		if (best) {
			const struct target_map *m = best;
			/* bias maps the segment's file offset to where it is mapped */
			uint64_t seg_addr = m->start + (ld->offset - m->offset);
			*out = seg_addr + (vaddr - ld->vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

/* "3.<minor>.<micro>" with an optional release tag (a1, b2, rc1) and '+'. */
static int is_version(const char *s, size_t n, int minor)
{
	char prefix[16];
	int plen = snprintf(prefix, sizeof(prefix), "3.%d.", minor);
	if (n <= (size_t)plen || n > 16 || memcmp(s, prefix, (size_t)plen) != 0)
		return 0;
	size_t i = (size_t)plen;
	size_t digits = i;
	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	if (i == digits)
		return 0;
	while (i < n && islower((unsigned char)s[i]))
		i++;
	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	if (i < n && s[i] == '+')
		i++;
	return i == n;
}

int elfsym_python_version(const char *path, int minor, char *out, size_t cap)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = -ENOENT;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx;
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		goto out;
	Elf_Scn *scn = NULL;
	while (err && (scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".rodata") != 0)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			continue;
		const char *b = d->d_buf;
		/* The linker may keep the literal as the tail of a longer string
		 * ("Python-3.9.18"), so a start is any '3' not preceded by a
		 * character that could belong to a number or a word. */
		for (size_t i = 0; i + 6 < d->d_size && err; i++) {
			if (b[i] != '3' || (i && (isalnum((unsigned char)b[i - 1]) ||
						  b[i - 1] == '.' || b[i - 1] == '_')))
				continue;
			size_t n = strnlen(b + i, d->d_size - i);
			if (i + n < d->d_size && is_version(b + i, n, minor) && n < cap) {
				memcpy(out, b + i, n);
				out[n] = '\0';
				err = 0;
			}
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}
