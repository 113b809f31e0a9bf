/*
 * pack.c: build an image from a static program and the runtime.
 *
 * The image is the runtime ELF, byte for byte, followed by the payload
 * (api/ukimage.h) at the next 4 KiB file offset, a new program header table
 * that adds one PT_LOAD for the payload, a new section header table that adds
 * one section per payload entry (so readelf and debuggers can see them) and a
 * new section name table. The runtime's own headers stay where they were, as
 * dead bytes: copying the runtime verbatim keeps its boot note and every
 * offset inside it valid.
 *
 * The application and the --file inputs are untrusted (a build context); the
 * application goes through elf_parse, the one checked ELF parser. The runtime
 * is our own build output, but it is still read with bounds checks only.
 */
#define _GNU_SOURCE
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "ukimage.h"

/* ELF constants that runtime/elf.h has no use for. */
#define PACK_SHT_PROGBITS 1
#define PACK_SHF_ALLOC 2
#define PACK_PN_XNUM 0xffffu
#define PACK_SHN_LORESERVE 0xff00u

#define PACK_MEM_DEFAULT 64u
/* Manifest, app, symtab, strtab: what is left of the entry table is for files. */
#define PACK_FILES_MAX (UKIMG_MAX_ENTRIES - 4)

/* The runtime ELF as far as pack needs it. */
struct pack_rt {
	Elf64_Ehdr eh;	/* copied: embedded bytes need not be aligned */
	Elf64_Phdr *ph; /* copy of its program headers */
	unsigned phnum;
	Elf64_Shdr *sh; /* copy of its section headers; [0] is the null section */
	unsigned shnum;
	const uint8_t *shstr; /* its section name table, or NULL */
	size_t shstrsize;
	uint32_t shstr_name; /* sh_name of that table's own section */
	const uint8_t *sym;  /* its .symtab, or NULL */
	size_t symsize;
	const uint8_t *str; /* the string table .symtab links to */
	size_t strsize;
	uint64_t load_end; /* highest p_paddr + p_memsz of a PT_LOAD */
};

struct pack_entry {
	struct ukimg_entry ue; /* as written into the payload */
	const void *data;      /* the bytes, or NULL: copied from host_path */
	const char *host_path;
	uint32_t sh_name; /* offset of its section's name in the new table */
};

struct pack_ctx {
	const struct pack_opts *o;
	char *err;
	size_t errlen;
	const char *name;     /* image name */
	const char *app_base; /* argv[0] in the guest */
	unsigned mem_mib;
	struct pack_rt rt;
	void *app;
	size_t app_size;
	char *manifest;
	size_t manifest_size;
	struct pack_entry *ents;
	unsigned nents;
	char *shstr; /* new section name table */
	size_t shstrsize;
	uint32_t shstr_name;
	uint64_t payload_off; /* file offset of the payload */
	uint64_t payload_addr;
	uint64_t payload_size;
	uint64_t phoff, shoff, shstroff;
	int out_errno; /* writing the output failed with it (the host's fault, not the input's) */
	unsigned phnum, shnum;
	int fd; /* the temporary output file */
	uint64_t pos;
};

__attribute__((format(printf, 3, 0))) static int pack_verr(char *err, size_t errlen,
							   const char *fmt, va_list ap)
{
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	return -1;
}

__attribute__((format(printf, 3, 4))) static int pack_errf(char *err, size_t errlen,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pack_verr(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

__attribute__((format(printf, 2, 3))) static int pack_err(struct pack_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pack_verr(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int pack_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static uint64_t pack_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static const char *pack_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * Open without blocking: a FIFO or a device named by a hostile build context
 * must be refused by the fstat check, not hang the packer in open().
 */
static int pack_open_regular(const char *path, struct stat *st, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return pack_errf(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, st) < 0) {
		pack_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto close_fd;
	}
	if (!S_ISREG(st->st_mode)) {
		pack_errf(err, errlen, "%s: not a regular file", path);
		goto close_fd;
	}
	if (st->st_size > (off_t)PACK_FILE_MAX) {
		pack_errf(err, errlen, "%s: too large (%lld bytes, at most %u MiB)", path,
			  (long long)st->st_size, PACK_FILE_MAX >> 20);
		goto close_fd;
	}
	return fd;
close_fd:
	close(fd);
	return -1;
}

/* Reads exactly len bytes; a short file means it shrank since fstat. */
static int pack_read_exact(int fd, const char *path, void *buf, size_t len, char *err,
			   size_t errlen)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pack_errf(err, errlen, "%s: %s", path, strerror(errno));
		if (n == 0)
			return pack_errf(err, errlen, "%s: file changed while it was being read",
					 path);
		done += (size_t)n;
	}
	return 0;
}

/* After the size fstat gave, the file must end: a grown file gives a torn image. */
static int pack_expect_eof(int fd, const char *path, char *err, size_t errlen)
{
	char extra;
	ssize_t n;

	do
		n = read(fd, &extra, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return pack_errf(err, errlen, "%s: %s", path, strerror(errno));
	if (n > 0)
		return pack_errf(err, errlen, "%s: file changed while it was being read", path);
	return 0;
}

int pack_read_file(const char *path, void **buf, size_t *size, mode_t *mode, char *err,
		   size_t errlen)
{
	struct stat st;
	void *data;
	int fd;

	fd = pack_open_regular(path, &st, err, errlen);
	if (fd < 0)
		return -1;
	if (st.st_size == 0) {
		pack_errf(err, errlen, "%s: empty file", path);
		goto close_fd;
	}
	/* malloc's alignment (16 on glibc) satisfies elf_parse's 8. */
	data = malloc((size_t)st.st_size);
	if (!data) {
		pack_errf(err, errlen, "%s: out of memory", path);
		goto close_fd;
	}
	if (pack_read_exact(fd, path, data, (size_t)st.st_size, err, errlen) < 0 ||
	    pack_expect_eof(fd, path, err, errlen) < 0)
		goto free_data;
	close(fd);
	*buf = data;
	*size = (size_t)st.st_size;
	if (mode)
		*mode = st.st_mode;
	return 0;
free_data:
	free(data);
close_fd:
	close(fd);
	return -1;
}

/* Printable ASCII only: the name ends up in logs, file names and the manifest. */
static int pack_check_name(struct pack_ctx *c)
{
	size_t len = strlen(c->name);

	if (len == 0)
		return pack_err(c, "image name is empty");
	if (len >= UKIMG_NAME_MAX)
		return pack_err(c, "image name \"%s\" is too long (%zu bytes, at most %u)", c->name,
				len, UKIMG_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)c->name[i];

		if (ch < 0x20 || ch > 0x7e)
			return pack_err(c, "image name \"%s\" has a non-printable character",
					c->name);
	}
	return 0;
}

static int pack_check_env(struct pack_ctx *c)
{
	const struct pack_opts *o = c->o;

	if (o->nenv && !o->env)
		return pack_err(c, "env list is NULL");
	for (size_t i = 0; i < o->nenv; i++) {
		const char *eq = strchr(o->env[i], '=');

		if (!eq || eq == o->env[i])
			return pack_err(c, "env \"%s\": expected KEY=VALUE", o->env[i]);
	}
	return 0;
}

/*
 * A guest path must be absolute and canonical: no empty, "." or ".."
 * component, no trailing slash. ".." could climb out of wherever the runtime
 * roots its ramfs; the rest keeps duplicate detection a plain strcmp.
 */
static int pack_check_guest_path(struct pack_ctx *c, const char *p)
{
	size_t len = strlen(p);
	const char *s, *e;

	if (p[0] != '/')
		return pack_err(c, "guest path \"%s\" is not absolute", p);
	if (len >= UKIMG_NAME_MAX)
		return pack_err(c, "guest path \"%s\" is too long (%zu bytes, at most %u)", p, len,
				UKIMG_NAME_MAX - 1);
	for (s = p + 1;; s = e + 1) {
		e = strchrnul(s, '/');
		if (e - s == 2 && s[0] == '.' && s[1] == '.')
			return pack_err(c, "guest path \"%s\" contains \"..\"", p);
		if (e == s || (e - s == 1 && s[0] == '.'))
			return pack_err(c,
					"guest path \"%s\" is not canonical (empty or \".\" "
					"component, or trailing '/')",
					p);
		if (!*e)
			return 0;
	}
}

static int pack_check_files(struct pack_ctx *c)
{
	const struct pack_opts *o = c->o;

	if (o->nfiles > PACK_FILES_MAX)
		return pack_err(c, "too many files (%zu, at most %u)", o->nfiles, PACK_FILES_MAX);
	if (o->nfiles && !o->files)
		return pack_err(c, "file list is NULL");
	for (size_t i = 0; i < o->nfiles; i++) {
		const struct pack_file *f = &o->files[i];

		if (!f->host_path || !f->host_path[0] || !f->guest_path)
			return pack_err(c, "file %zu: missing host or guest path", i + 1);
		if (pack_check_guest_path(c, f->guest_path) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(o->files[j].guest_path, f->guest_path))
				return pack_err(c, "guest path \"%s\" given twice", f->guest_path);
	}
	return 0;
}

static int pack_check_opts(struct pack_ctx *c)
{
	const struct pack_opts *o = c->o;

	if (!o->app_path || !o->app_path[0])
		return pack_err(c, "no application given");
	if (!o->out_path || !o->out_path[0])
		return pack_err(c, "no output path given");
	if (!o->runtime || o->runtime_size == 0)
		return pack_err(c, "no runtime given");
	if (o->nargs && !o->args)
		return pack_err(c, "argument list is NULL");
	c->app_base = pack_basename(o->app_path);
	if (!c->app_base[0])
		return pack_err(c, "%s: not a file name", o->app_path);
	c->name = o->name ? o->name : c->app_base;
	c->mem_mib = o->mem_mib ? o->mem_mib : PACK_MEM_DEFAULT;
	if (pack_check_name(c) < 0 || pack_check_env(c) < 0 || pack_check_files(c) < 0)
		return -1;
	return 0;
}

static int pack_rt_header(struct pack_ctx *c, const uint8_t *data, size_t size)
{
	const Elf64_Ehdr *eh = &c->rt.eh;
	const unsigned char *id = eh->e_ident;

	if (size < 4 || memcmp(data, "\177ELF", 4))
		return pack_err(c, "runtime: not an ELF file");
	if (size < sizeof(Elf64_Ehdr))
		return pack_err(c, "runtime: truncated ELF header");
	memcpy(&c->rt.eh, data, sizeof(c->rt.eh));
	if (id[4] != 2 || id[5] != 1 || eh->e_machine != EM_X86_64)
		return pack_err(c, "runtime: not a 64-bit little-endian x86-64 ELF file");
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return pack_err(c, "runtime: not an executable");
	/* One more program header must still fit below PN_XNUM. */
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum >= PACK_PN_XNUM - 1)
		return pack_err(c, "runtime: bad program header table");
	if (!pack_range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return pack_err(c, "runtime: program headers outside the file");
	return 0;
}

static int pack_rt_segments(struct pack_ctx *c, const uint8_t *data, size_t size)
{
	struct pack_rt *rt = &c->rt;
	unsigned nload = 0, nnote = 0;

	rt->phnum = rt->eh.e_phnum;
	rt->ph = malloc(rt->phnum * sizeof(*rt->ph));
	if (!rt->ph)
		return pack_err(c, "out of memory");
	memcpy(rt->ph, data + rt->eh.e_phoff, rt->phnum * sizeof(*rt->ph));
	for (unsigned i = 0; i < rt->phnum; i++) {
		const Elf64_Phdr *p = &rt->ph[i];

		if (p->p_type != PT_LOAD && p->p_type != PT_NOTE)
			continue;
		if (!pack_range_ok(p->p_offset, p->p_filesz, size))
			return pack_err(c, "runtime: segment %u outside the file", i);
		if (p->p_type == PT_NOTE) {
			nnote++;
			continue;
		}
		/* Room left to round the end up to the payload's alignment. */
		if (p->p_filesz > p->p_memsz || p->p_memsz > UINT64_MAX - UKIMG_ALIGN ||
		    p->p_paddr > UINT64_MAX - UKIMG_ALIGN - p->p_memsz)
			return pack_err(c, "runtime: bad loadable segment %u", i);
		nload++;
		if (p->p_paddr + p->p_memsz > rt->load_end)
			rt->load_end = p->p_paddr + p->p_memsz;
	}
	if (!nload)
		return pack_err(c, "runtime: no PT_LOAD segment");
	/* The boot loader finds the runtime's entry point through its note. */
	if (!nnote)
		return pack_err(c, "runtime: no PT_NOTE segment");
	return 0;
}

static int pack_rt_shstrtab(struct pack_ctx *c, const uint8_t *data, size_t size)
{
	struct pack_rt *rt = &c->rt;
	const Elf64_Shdr *s;

	if (rt->eh.e_shstrndx == 0)
		return 0;
	if (rt->eh.e_shstrndx >= rt->shnum)
		return pack_err(c, "runtime: bad section name table index");
	s = &rt->sh[rt->eh.e_shstrndx];
	if (s->sh_type != SHT_STRTAB || !pack_range_ok(s->sh_offset, s->sh_size, size))
		return pack_err(c, "runtime: bad section name table");
	rt->shstr = data + s->sh_offset;
	rt->shstrsize = s->sh_size;
	rt->shstr_name = s->sh_name;
	return 0;
}

static int pack_rt_sections(struct pack_ctx *c, const uint8_t *data, size_t size)
{
	struct pack_rt *rt = &c->rt;
	const Elf64_Ehdr *eh = &rt->eh;

	if (eh->e_shnum == 0) {
		/* e_shoff without e_shnum means extended numbering, which we never emit. */
		if (eh->e_shoff)
			return pack_err(c, "runtime: extended section numbering not supported");
		/* No sections: the new table still needs its null section. */
		rt->sh = calloc(1, sizeof(*rt->sh));
		if (!rt->sh)
			return pack_err(c, "out of memory");
		rt->shnum = 1;
		return 0;
	}
	if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !pack_range_ok(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), size))
		return pack_err(c, "runtime: bad section header table");
	rt->shnum = eh->e_shnum;
	rt->sh = malloc(rt->shnum * sizeof(*rt->sh));
	if (!rt->sh)
		return pack_err(c, "out of memory");
	memcpy(rt->sh, data + eh->e_shoff, rt->shnum * sizeof(*rt->sh));
	return pack_rt_shstrtab(c, data, size);
}

/* The first SHT_SYMTAB and the string table it links to, if there is one. */
static int pack_rt_symtab(struct pack_ctx *c, const uint8_t *data, size_t size)
{
	struct pack_rt *rt = &c->rt;

	for (unsigned i = 0; i < rt->shnum; i++) {
		const Elf64_Shdr *s = &rt->sh[i], *str;

		if (s->sh_type != SHT_SYMTAB)
			continue;
		if (s->sh_entsize != sizeof(Elf64_Sym) || s->sh_size % sizeof(Elf64_Sym) ||
		    s->sh_link == 0 || s->sh_link >= rt->shnum ||
		    !pack_range_ok(s->sh_offset, s->sh_size, size))
			return pack_err(c, "runtime: bad symbol table (section %u)", i);
		str = &rt->sh[s->sh_link];
		if (str->sh_type != SHT_STRTAB ||
		    !pack_range_ok(str->sh_offset, str->sh_size, size))
			return pack_err(c, "runtime: bad string table (section %u)", s->sh_link);
		rt->sym = data + s->sh_offset;
		rt->symsize = s->sh_size;
		rt->str = data + str->sh_offset;
		rt->strsize = str->sh_size;
		return 0;
	}
	return 0;
}

static int pack_rt_parse(struct pack_ctx *c)
{
	const uint8_t *data = c->o->runtime;
	size_t size = c->o->runtime_size;

	if (pack_rt_header(c, data, size) < 0 || pack_rt_segments(c, data, size) < 0 ||
	    pack_rt_sections(c, data, size) < 0 || pack_rt_symtab(c, data, size) < 0)
		return -1;
	return 0;
}

static void pack_rt_free(struct pack_rt *rt)
{
	free(rt->ph);
	free(rt->sh);
}

static int pack_read_app(struct pack_ctx *c)
{
	struct elf_image img;
	int rc;

	if (pack_read_file(c->o->app_path, &c->app, &c->app_size, NULL, c->err, c->errlen) < 0)
		return -1;
	rc = elf_parse(&img, c->app, c->app_size);
	if (rc != ELF_OK)
		return pack_err(c, "%s: %s", c->o->app_path, elf_strerror(rc));
	return 0;
}

/* NUL-terminated key=value strings, in the order api/ukimage.h lists them. */
static int pack_manifest(struct pack_ctx *c)
{
	const struct pack_opts *o = c->o;
	FILE *f = open_memstream(&c->manifest, &c->manifest_size);
	int bad;

	if (!f)
		return pack_err(c, "out of memory");
	fprintf(f, "name=%s%cmem=%u%capp=%s%c", c->name, 0, c->mem_mib, 0, c->app_base, 0);
	if (o->port)
		fprintf(f, "port=%u%c", o->port, 0);
	for (size_t i = 0; i < o->nargs; i++)
		fprintf(f, "arg=%s%c", o->args[i], 0);
	for (size_t i = 0; i < o->nenv; i++)
		fprintf(f, "env=%s%c", o->env[i], 0);
	bad = ferror(f);
	if (fclose(f) || bad)
		return pack_err(c, "out of memory");
	return 0;
}

static void pack_add_entry(struct pack_ctx *c, uint32_t type, const void *data, uint64_t size)
{
	struct pack_entry *e = &c->ents[c->nents++];

	e->ue.type = type;
	e->ue.size = size;
	e->data = data;
}

/* Sizes and modes of the --file inputs; their bytes are copied at write time. */
static int pack_add_files(struct pack_ctx *c)
{
	const struct pack_opts *o = c->o;
	struct stat st;

	for (size_t i = 0; i < o->nfiles; i++) {
		const struct pack_file *f = &o->files[i];
		struct pack_entry *e;
		int fd = pack_open_regular(f->host_path, &st, c->err, c->errlen);

		if (fd < 0)
			return -1;
		close(fd);
		e = &c->ents[c->nents];
		pack_add_entry(c, UKIMG_FILE, NULL, (uint64_t)st.st_size);
		e->ue.mode = st.st_mode & 0777;
		e->host_path = f->host_path;
		/* Fits: pack_check_guest_path bounded the length. */
		strcpy(e->ue.name, f->guest_path);
	}
	return 0;
}

static int pack_entries(struct pack_ctx *c)
{
	struct pack_rt *rt = &c->rt;

	c->ents = calloc(c->o->nfiles + 4, sizeof(*c->ents));
	if (!c->ents)
		return pack_err(c, "out of memory");
	pack_add_entry(c, UKIMG_MANIFEST, c->manifest, c->manifest_size);
	pack_add_entry(c, UKIMG_APP, c->app, c->app_size);
	if (pack_add_files(c) < 0)
		return -1;
	if (rt->sym) {
		pack_add_entry(c, UKIMG_RTSYMTAB, rt->sym, rt->symsize);
		pack_add_entry(c, UKIMG_RTSTRTAB, rt->str, rt->strsize);
	}
	return 0;
}

static const char *pack_section_name(uint32_t type)
{
	switch (type) {
	case UKIMG_MANIFEST: return ".uk.manifest";
	case UKIMG_APP: return ".uk.app";
	case UKIMG_FILE: return ".uk.file";
	case UKIMG_RTSYMTAB: return ".uk.rtsymtab";
	default: return ".uk.rtstrtab";
	}
}

static uint32_t pack_shstr_add(struct pack_ctx *c, const char *name)
{
	uint32_t off = (uint32_t)c->shstrsize;
	size_t len = strlen(name) + 1;

	memcpy(c->shstr + c->shstrsize, name, len);
	c->shstrsize += len;
	return off;
}

/*
 * The new section name table: the old one verbatim, so every old sh_name
 * stays valid, then each new name once.
 */
static int pack_shstrtab(struct pack_ctx *c)
{
	const struct pack_rt *rt = &c->rt;
	uint32_t name_off[UKIMG_RTSTRTAB + 1] = {0};
	size_t max = rt->shstrsize + 2 + sizeof(".shstrtab") + 5 * sizeof(".uk.manifest");

	c->shstr = malloc(max);
	if (!c->shstr)
		return pack_err(c, "out of memory");
	if (rt->shstrsize)
		memcpy(c->shstr, rt->shstr, rt->shstrsize);
	c->shstrsize = rt->shstrsize;
	if (!c->shstrsize || c->shstr[c->shstrsize - 1])
		c->shstr[c->shstrsize++] = 0;
	c->shstr_name = rt->shstr ? rt->shstr_name : pack_shstr_add(c, ".shstrtab");
	for (unsigned i = 0; i < c->nents; i++) {
		uint32_t type = c->ents[i].ue.type;

		if (!name_off[type])
			name_off[type] = pack_shstr_add(c, pack_section_name(type));
		c->ents[i].sh_name = name_off[type];
	}
	return 0;
}

/* Where everything goes; see the comment at the top of this file. */
static int pack_layout(struct pack_ctx *c)
{
	const struct pack_rt *rt = &c->rt;
	uint64_t off = sizeof(struct ukimg_header) + c->nents * sizeof(struct ukimg_entry);

	for (unsigned i = 0; i < c->nents; i++) {
		struct ukimg_entry *ue = &c->ents[i].ue;

		off = pack_align(off, ue->type == UKIMG_APP ? UKIMG_ALIGN : 8);
		ue->offset = off;
		off += ue->size;
	}
	c->payload_size = off;
	c->payload_off = pack_align(c->o->runtime_size, UKIMG_ALIGN);
	c->payload_addr = pack_align(rt->load_end, UKIMG_ALIGN);
	if (c->payload_addr > UINT64_MAX - c->payload_size)
		return pack_err(c, "runtime: no address space left for the payload");
	c->phnum = rt->phnum + 1;
	c->shnum = rt->shnum + c->nents + 1;
	if (c->shnum >= PACK_SHN_LORESERVE)
		return pack_err(c, "runtime: too many sections");
	c->phoff = pack_align(c->payload_off + c->payload_size, 8);
	c->shoff = c->phoff + c->phnum * sizeof(Elf64_Phdr);
	c->shstroff = c->shoff + c->shnum * sizeof(Elf64_Shdr);
	return 0;
}

static int pack_write(struct pack_ctx *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(c->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			c->out_errno = errno;
			return pack_err(c, "%s: write failed: %s", c->o->out_path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
		c->pos += (uint64_t)n;
	}
	return 0;
}

/* Zero-fill up to file offset `to`: the image is written strictly in file order. */
static int pack_pad(struct pack_ctx *c, uint64_t to)
{
	static const char zeros[4096];

	while (c->pos < to) {
		size_t n = to - c->pos < sizeof(zeros) ? (size_t)(to - c->pos) : sizeof(zeros);

		if (pack_write(c, zeros, n) < 0)
			return -1;
	}
	return 0;
}

static int pack_write_runtime(struct pack_ctx *c)
{
	Elf64_Ehdr eh = c->rt.eh;

	eh.e_phoff = c->phoff;
	eh.e_phnum = (uint16_t)c->phnum;
	eh.e_shoff = c->shoff;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = (uint16_t)c->shnum;
	eh.e_shstrndx = (uint16_t)(c->shnum - 1);
	if (pack_write(c, &eh, sizeof(eh)) < 0)
		return -1;
	return pack_write(c, (const uint8_t *)c->o->runtime + sizeof(eh),
			  c->o->runtime_size - sizeof(eh));
}

/* Copies a --file input; it must still be the size it had when laid out. */
static int pack_copy_file(struct pack_ctx *c, const struct pack_entry *e)
{
	const size_t bufsize = 64 * 1024;
	uint64_t left = e->ue.size;
	struct stat st;
	int ret = -1;
	char *buf;
	int fd;

	fd = pack_open_regular(e->host_path, &st, c->err, c->errlen);
	if (fd < 0)
		return -1;
	if ((uint64_t)st.st_size != left) {
		pack_err(c, "%s: file changed while it was being read", e->host_path);
		goto close_fd;
	}
	buf = malloc(bufsize);
	if (!buf) {
		pack_err(c, "out of memory");
		goto close_fd;
	}
	while (left) {
		size_t n = left < bufsize ? (size_t)left : bufsize;

		if (pack_read_exact(fd, e->host_path, buf, n, c->err, c->errlen) < 0 ||
		    pack_write(c, buf, n) < 0)
			goto free_buf;
		left -= n;
	}
	ret = pack_expect_eof(fd, e->host_path, c->err, c->errlen);
free_buf:
	free(buf);
close_fd:
	close(fd);
	return ret;
}

static int pack_write_payload(struct pack_ctx *c)
{
	struct ukimg_header h = {.version = UKIMG_VERSION, .nentries = c->nents};

	memcpy(h.magic, UKIMG_MAGIC, sizeof(h.magic));
	h.size = c->payload_size;
	if (pack_pad(c, c->payload_off) < 0 || pack_write(c, &h, sizeof(h)) < 0)
		return -1;
	for (unsigned i = 0; i < c->nents; i++)
		if (pack_write(c, &c->ents[i].ue, sizeof(c->ents[i].ue)) < 0)
			return -1;
	for (unsigned i = 0; i < c->nents; i++) {
		const struct pack_entry *e = &c->ents[i];

		if (pack_pad(c, c->payload_off + e->ue.offset) < 0)
			return -1;
		if (e->data ? pack_write(c, e->data, e->ue.size) : pack_copy_file(c, e))
			return -1;
	}
	return 0;
}

static int pack_write_phdrs(struct pack_ctx *c)
{
	Elf64_Phdr p = {
		.p_type = PT_LOAD,
		.p_flags = PF_R,
		.p_offset = c->payload_off,
		.p_vaddr = c->payload_addr,
		.p_paddr = c->payload_addr,
		.p_filesz = c->payload_size,
		.p_memsz = c->payload_size,
		.p_align = UKIMG_ALIGN,
	};

	if (pack_pad(c, c->phoff) < 0 ||
	    pack_write(c, c->rt.ph, c->rt.phnum * sizeof(*c->rt.ph)) < 0)
		return -1;
	return pack_write(c, &p, sizeof(p));
}

static int pack_write_shdrs(struct pack_ctx *c)
{
	Elf64_Shdr s;

	if (pack_write(c, c->rt.sh, c->rt.shnum * sizeof(*c->rt.sh)) < 0)
		return -1;
	for (unsigned i = 0; i < c->nents; i++) {
		const struct ukimg_entry *ue = &c->ents[i].ue;

		s = (Elf64_Shdr){
			.sh_name = c->ents[i].sh_name,
			.sh_type = PACK_SHT_PROGBITS,
			.sh_flags = PACK_SHF_ALLOC,
			.sh_addr = c->payload_addr + ue->offset,
			.sh_offset = c->payload_off + ue->offset,
			.sh_size = ue->size,
			.sh_addralign = ue->type == UKIMG_APP ? UKIMG_ALIGN : 8,
			.sh_entsize = ue->type == UKIMG_RTSYMTAB ? sizeof(Elf64_Sym) : 0,
		};
		if (pack_write(c, &s, sizeof(s)) < 0)
			return -1;
	}
	s = (Elf64_Shdr){
		.sh_name = c->shstr_name,
		.sh_type = SHT_STRTAB,
		.sh_offset = c->shstroff,
		.sh_size = c->shstrsize,
		.sh_addralign = 1,
	};
	return pack_write(c, &s, sizeof(s));
}

static int pack_write_all(struct pack_ctx *c)
{
	if (pack_write_runtime(c) < 0 || pack_write_payload(c) < 0 || pack_write_phdrs(c) < 0 ||
	    pack_write_shdrs(c) < 0 || pack_write(c, c->shstr, c->shstrsize) < 0)
		return -1;
	return 0;
}

/*
 * Makes the rename itself durable. Best effort: the image is complete and in
 * place by now, and failing here would mean deleting a good image.
 */
static void pack_sync_dir(const char *out_path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(out_path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - out_path + 1), out_path) >=
		 (int)sizeof(dir))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
}

/* A temporary file next to the output, renamed over it once complete and synced. */
static int pack_output(struct pack_ctx *c)
{
	const char *out = c->o->out_path;
	char tmp[PATH_MAX];
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out) >= (int)sizeof(tmp))
		return pack_err(c, "%s: path too long", out);
	c->fd = mkostemp(tmp, O_CLOEXEC);
	if (c->fd < 0) {
		c->out_errno = errno;
		return pack_err(c, "%s: cannot create: %s", out, strerror(errno));
	}
	if (pack_write_all(c) < 0)
		goto unlink_tmp;
	/* mkostemp makes 0600; an image is meant to be read by others, e.g. QEMU. */
	if (fchmod(c->fd, 0644) < 0 || fsync(c->fd) < 0) {
		c->out_errno = errno;
		pack_err(c, "%s: %s", tmp, strerror(errno));
		goto unlink_tmp;
	}
	rc = close(c->fd);
	c->fd = -1;
	if (rc < 0) {
		c->out_errno = errno;
		pack_err(c, "%s: %s", tmp, strerror(errno));
		goto unlink_tmp;
	}
	if (rename(tmp, out) < 0) {
		c->out_errno = errno;
		pack_err(c, "%s: %s", out, strerror(errno));
		goto unlink_tmp;
	}
	pack_sync_dir(out);
	return 0;
unlink_tmp:
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	unlink(tmp);
	return -1;
}

int pack_image(const struct pack_opts *o, char *err, size_t errlen)
{
	struct pack_ctx c = {.o = o, .err = err, .errlen = errlen, .fd = -1};
	int ret = -1;

	if (errlen)
		err[0] = 0;
	if (pack_check_opts(&c) < 0)
		return -1;
	if (pack_read_app(&c) < 0)
		goto free_app;
	if (pack_rt_parse(&c) < 0)
		goto free_rt;
	if (pack_manifest(&c) < 0)
		goto free_manifest;
	if (pack_entries(&c) < 0 || pack_shstrtab(&c) < 0 || pack_layout(&c) < 0)
		goto free_layout;
	ret = pack_output(&c);
	if (ret < 0 && c.out_errno)
		ret = -2;
free_layout:
	free(c.shstr);
	free(c.ents);
free_manifest:
	free(c.manifest);
free_rt:
	pack_rt_free(&c.rt);
free_app:
	free(c.app);
	if (ret == -2)
		errno = c.out_errno;
	return ret;
}
