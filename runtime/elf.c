/*
 * elf.c: checked ELF parser. See elf.h for the contract. All arithmetic on
 * values from the file is done with overflow checks, since the file may be
 * hostile (a build context on the host, an image in the guest).
 */
#include "elf.h"

#define PAGE 4096ull
/* A static program never needs more than this much address space. */
#define SPAN_MAX (1ull << 40)

static int range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static uint64_t align_down(uint64_t v)
{
	return v & ~(PAGE - 1);
}

/* Byte reads only: called before the alignment of data is known. */
static int has_magic(const void *data)
{
	const unsigned char *id = data;

	return id[0] == 0x7f && id[1] == 'E' && id[2] == 'L' && id[3] == 'F';
}

static int check_header(const Elf64_Ehdr *eh, size_t size)
{
	const unsigned char *id = eh->e_ident;

	if (id[0] != 0x7f || id[1] != 'E' || id[2] != 'L' || id[3] != 'F')
		return ELF_E_NOT_ELF;
	if (id[4] != 2 || id[5] != 1) /* ELFCLASS64, ELFDATA2LSB */
		return ELF_E_CLASS;
	if (eh->e_machine != EM_X86_64)
		return ELF_E_MACHINE;
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return ELF_E_TYPE;
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > 256)
		return ELF_E_PHDR;
	if (eh->e_phoff % 8 ||
	    !range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return ELF_E_TRUNCATED;
	return ELF_OK;
}

static int check_load(const Elf64_Phdr *p, size_t size, uint64_t *prev_end)
{
	if (!range_ok(p->p_offset, p->p_filesz, size))
		return ELF_E_TRUNCATED;
	if (p->p_filesz > p->p_memsz || p->p_memsz > SPAN_MAX || p->p_vaddr > SPAN_MAX)
		return ELF_E_SEGMENT;
	/* Mappable page by page: file offset and address agree modulo the page. */
	if ((p->p_offset % PAGE) != (p->p_vaddr % PAGE))
		return ELF_E_SEGMENT;
	if ((p->p_flags & PF_W) && (p->p_flags & PF_X))
		return ELF_E_WX;
	/* Segments ascend and share no page, so each page has one permission. */
	if (align_down(p->p_vaddr) < *prev_end)
		return ELF_E_SEGMENT;
	*prev_end = align_down(p->p_vaddr + p->p_memsz + PAGE - 1);
	return ELF_OK;
}

static void find_symtab(struct elf_image *img)
{
	const Elf64_Ehdr *eh = img->eh;
	const Elf64_Shdr *sh;

	if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff % 8 ||
	    !range_ok(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), img->size))
		return;
	sh = (const Elf64_Shdr *)(img->data + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *s = &sh[i], *str;

		if (s->sh_type != SHT_SYMTAB || s->sh_link >= eh->e_shnum)
			continue;
		str = &sh[s->sh_link];
		if (s->sh_entsize != sizeof(Elf64_Sym) || s->sh_offset % 8 ||
		    !range_ok(s->sh_offset, s->sh_size, img->size) ||
		    !range_ok(str->sh_offset, str->sh_size, img->size) || str->sh_size == 0 ||
		    img->data[str->sh_offset + str->sh_size - 1] != 0)
			return;
		img->syms = (const Elf64_Sym *)(img->data + s->sh_offset);
		img->nsyms = s->sh_size / sizeof(Elf64_Sym);
		img->strs = (const char *)img->data + str->sh_offset;
		img->strsize = str->sh_size;
		return;
	}
}

int elf_parse(struct elf_image *img, const void *data, size_t size)
{
	const Elf64_Ehdr *eh = data;
	uint64_t prev_end = 0, lo = UINT64_MAX;
	int entry_ok = 0, err;

	*img = (struct elf_image){.data = data, .size = size};
	/* Magic first: a short text file is "not ELF", not "truncated". */
	if (size < 4 || !has_magic(data))
		return ELF_E_NOT_ELF;
	if (size < sizeof(Elf64_Ehdr) || ((uintptr_t)data % 8))
		return ELF_E_TRUNCATED;
	if ((err = check_header(eh, size)) != ELF_OK)
		return err;
	img->eh = eh;
	img->ph = (const Elf64_Phdr *)(img->data + eh->e_phoff);
	img->phnum = eh->e_phnum;
	img->pie = eh->e_type == ET_DYN;
	for (unsigned i = 0; i < img->phnum; i++) {
		const Elf64_Phdr *p = &img->ph[i];

		if (p->p_type == PT_INTERP)
			return ELF_E_DYNAMIC;
		if (p->p_type == PT_PHDR)
			img->phdr_vaddr = p->p_vaddr;
		if (p->p_type != PT_LOAD)
			continue;
		if ((err = check_load(p, size, &prev_end)) != ELF_OK)
			return err;
		if (lo == UINT64_MAX)
			lo = align_down(p->p_vaddr);
		if ((p->p_flags & PF_X) && eh->e_entry >= p->p_vaddr &&
		    eh->e_entry < p->p_vaddr + p->p_memsz)
			entry_ok = 1;
		/* Without PT_PHDR, the headers are visible if a segment maps them. */
		if (!img->phdr_vaddr && p->p_offset <= eh->e_phoff &&
		    eh->e_phoff + eh->e_phnum * sizeof(Elf64_Phdr) <= p->p_offset + p->p_filesz)
			img->phdr_vaddr = p->p_vaddr + (eh->e_phoff - p->p_offset);
	}
	if (lo == UINT64_MAX)
		return ELF_E_NOLOAD;
	if (!entry_ok)
		return ELF_E_ENTRY;
	if (prev_end - lo > SPAN_MAX || (!img->pie && lo < 0x10000))
		return ELF_E_SPAN;
	img->lo = lo;
	img->hi = prev_end;
	find_symtab(img);
	return ELF_OK;
}

const char *elf_strerror(int err)
{
	switch (err) {
	case ELF_OK: return "ok";
	case ELF_E_TRUNCATED: return "truncated: the file is shorter than its headers say";
	case ELF_E_NOT_ELF: return "not an ELF file";
	case ELF_E_CLASS: return "not a 64-bit little-endian ELF file (32-bit?)";
	case ELF_E_MACHINE: return "not an x86-64 program";
	case ELF_E_TYPE: return "not an executable (ET_EXEC or ET_DYN)";
	case ELF_E_DYNAMIC:
		return "dynamically linked (has an interpreter); link it statically (-static or -static-pie)";
	case ELF_E_PHDR: return "bad program header table";
	case ELF_E_SEGMENT:
		return "bad loadable segment (overlapping, unaligned or outside the file)";
	case ELF_E_WX: return "a segment is both writable and executable";
	case ELF_E_ENTRY: return "entry point is not inside an executable segment";
	case ELF_E_NOLOAD: return "no loadable segment";
	case ELF_E_SPAN: return "segments span an unusable address range";
	default: return "unknown ELF error";
	}
}

const char *elf_symbolize(const Elf64_Sym *syms, size_t nsyms, const char *strs, size_t strsize,
			  uint64_t vaddr, uint64_t *off)
{
	const Elf64_Sym *best = NULL;

	for (size_t i = 0; i < nsyms; i++) {
		const Elf64_Sym *s = &syms[i];

		if ((s->st_info & 0xf) != STT_FUNC || s->st_name >= strsize || s->st_value > vaddr)
			continue;
		if (s->st_size ? vaddr - s->st_value >= s->st_size : 0)
			continue;
		if (!best || s->st_value > best->st_value)
			best = s;
	}
	if (!best)
		return NULL;
	*off = vaddr - best->st_value;
	return strs + best->st_name;
}
