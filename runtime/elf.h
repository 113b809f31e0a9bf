/*
 * elf.h: the one checked parser for ELF files. Pure code with no libc
 * dependency, compiled into the runtime (guest loader, crash symbolizer) and
 * into ukd (packer, builder) and a fuzz target. Nothing is read from the file
 * before its bounds have been checked.
 */
#ifndef ELF_H
#define ELF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	unsigned char e_ident[16];
	uint16_t e_type, e_machine;
	uint32_t e_version;
	uint64_t e_entry, e_phoff, e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
} Elf64_Ehdr;

typedef struct {
	uint32_t p_type, p_flags;
	uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
} Elf64_Phdr;

typedef struct {
	uint32_t sh_name, sh_type;
	uint64_t sh_flags, sh_addr, sh_offset, sh_size;
	uint32_t sh_link, sh_info;
	uint64_t sh_addralign, sh_entsize;
} Elf64_Shdr;

typedef struct {
	uint32_t st_name;
	unsigned char st_info, st_other;
	uint16_t st_shndx;
	uint64_t st_value, st_size;
} Elf64_Sym;

#define ET_EXEC 2
#define ET_DYN 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PT_NOTE 4
#define PT_PHDR 6
#define PT_TLS 7
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define SHT_SYMTAB 2
#define SHT_STRTAB 3
#define STT_FUNC 2

enum elf_err {
	ELF_OK = 0,
	ELF_E_TRUNCATED = -1, /* shorter than its headers say */
	ELF_E_NOT_ELF = -2,
	ELF_E_CLASS = -3,   /* not 64-bit little-endian */
	ELF_E_MACHINE = -4, /* not x86-64 */
	ELF_E_TYPE = -5,    /* neither ET_EXEC nor ET_DYN */
	ELF_E_DYNAMIC = -6, /* has an interpreter: dynamically linked */
	ELF_E_PHDR = -7,    /* bad program header table */
	ELF_E_SEGMENT = -8, /* segment outside the file, overlapping, unaligned */
	ELF_E_WX = -9,	    /* a segment both writable and executable */
	ELF_E_ENTRY = -10,  /* entry point outside every executable segment */
	ELF_E_NOLOAD = -11, /* no loadable segment */
	ELF_E_SPAN = -12,   /* segments span too much address space */
};

/* What a checked ELF file looks like to its users. */
struct elf_image {
	const uint8_t *data;
	size_t size;
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph; /* eh->e_phnum entries, all inside data */
	unsigned phnum;
	int pie;	     /* ET_DYN: loaded at a chosen base */
	uint64_t lo, hi;     /* page-aligned span of the PT_LOAD segments */
	uint64_t phdr_vaddr; /* where the program headers are once loaded, or 0 */
	/* symbol table, if the file has one (else NULL / 0) */
	const Elf64_Sym *syms;
	size_t nsyms;
	const char *strs;
	size_t strsize;
};

/*
 * elf_parse checks an executable (static or static-PIE x86-64 Linux program)
 * and fills *img. It MUST reject everything a loader could be hurt by: headers
 * or segments outside the buffer, dynamic linking, W+X segments, overlapping
 * segments, an entry point that is not in an executable segment. Returns
 * ELF_OK or a negative enum elf_err.
 */
int elf_parse(struct elf_image *img, const void *data, size_t size);

/* A short English description of an elf_err value. */
const char *elf_strerror(int err);

/*
 * elf_find_symtab_range looks for a function symbol covering `vaddr` (an
 * address as linked, i.e. without any load base) in a symbol table whose
 * entries and names have already been bounds-checked by the caller.
 * Returns the name (NUL-terminated inside strs) and sets *off, or NULL.
 */
const char *elf_symbolize(const Elf64_Sym *syms, size_t nsyms, const char *strs, size_t strsize,
			  uint64_t vaddr, uint64_t *off);

#endif
