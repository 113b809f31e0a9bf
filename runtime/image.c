/*
 * image.c: reads the payload. Every entry is checked once in image_check,
 * so the accessors can trust offsets and sizes afterwards.
 */
#include "image.h"

#include "ukimage.h"
#include "console.h"
#include "lib.h"

static const uint8_t *base;
static const struct ukimg_header *hdr;
static const struct ukimg_entry *ents;
static struct image_blob manifest;
static const Elf64_Sym *rt_syms;
static size_t rt_nsyms, rt_strsize;
static const char *rt_strs;

static int check_entry(const struct ukimg_entry *e, uint64_t size)
{
	if (e->offset > size || e->size > size - e->offset)
		return 0;
	if (strnlen(e->name, UKIMG_NAME_MAX) == UKIMG_NAME_MAX)
		return 0;
	if (e->type == UKIMG_APP && e->offset % 8)
		return 0;
	if (e->type == UKIMG_RTSYMTAB && (e->offset % 8 || e->size % sizeof(Elf64_Sym)))
		return 0;
	if (e->type == UKIMG_MANIFEST && e->size && base[e->offset + e->size - 1] != 0)
		return 0;
	return 1;
}

uint64_t image_check(const void *va, uint64_t limit)
{
	const struct ukimg_header *h = va;
	uint64_t table;

	if (limit < sizeof(*h) || memcmp(h->magic, UKIMG_MAGIC, 8) != 0) {
		kprintf("runtime: this image carries no application (no payload after the runtime)\n");
		return 0;
	}
	table = sizeof(*h) + (uint64_t)h->nentries * sizeof(struct ukimg_entry);
	if (h->version != UKIMG_VERSION || h->nentries > UKIMG_MAX_ENTRIES || h->size > limit ||
	    table > h->size) {
		kprintf("runtime: image payload header is invalid (version %u)\n", h->version);
		return 0;
	}
	base = va;
	ents = (const struct ukimg_entry *)(base + sizeof(*h));
	for (unsigned i = 0; i < h->nentries; i++)
		if (!check_entry(&ents[i], h->size)) {
			kprintf("runtime: image payload entry %u is invalid\n", i);
			return 0;
		}
	image_set_base(va);
	return h->size;
}

static void load_runtime_symbols(void)
{
	struct image_blob s, t;

	if (!image_find(UKIMG_RTSYMTAB, 0, &s) || !image_find(UKIMG_RTSTRTAB, 0, &t) || !t.size ||
	    ((const char *)t.data)[t.size - 1] != 0)
		return;
	rt_syms = s.data;
	rt_nsyms = s.size / sizeof(Elf64_Sym);
	rt_strs = t.data;
	rt_strsize = t.size;
}

void image_set_base(const void *va)
{
	base = va;
	hdr = va;
	ents = (const struct ukimg_entry *)(base + sizeof(*hdr));
	manifest = (struct image_blob){0};
	image_find(UKIMG_MANIFEST, 0, &manifest);
	rt_syms = 0;
	load_runtime_symbols();
}

int image_find(uint32_t type, unsigned index, struct image_blob *out)
{
	for (unsigned i = 0; hdr && i < hdr->nentries; i++) {
		if (ents[i].type != type || index--)
			continue;
		out->data = base + ents[i].offset;
		out->size = ents[i].size;
		out->name = ents[i].name;
		return 1;
	}
	return 0;
}

uint32_t image_file_mode(unsigned index)
{
	for (unsigned i = 0; hdr && i < hdr->nentries; i++)
		if (ents[i].type == UKIMG_FILE && !index--)
			return ents[i].mode & 07777;
	return 0644;
}

const char *image_manifest_next(size_t *pos)
{
	const char *s;

	if (*pos >= manifest.size)
		return 0;
	s = (const char *)manifest.data + *pos;
	*pos += strlen(s) + 1; /* the last byte is NUL (checked) */
	return s;
}

const char *image_manifest_get(const char *key)
{
	size_t pos = 0, klen = strlen(key);
	const char *s;

	while ((s = image_manifest_next(&pos)))
		if (!strncmp(s, key, klen) && s[klen] == '=')
			return s + klen + 1;
	return 0;
}

const char *image_runtime_symbol(uint64_t addr, uint64_t *off)
{
	return elf_symbolize(rt_syms, rt_nsyms, rt_strs, rt_strsize, addr, off);
}
