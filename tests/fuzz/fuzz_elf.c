/*
 * fuzz_elf.c: libFuzzer target for the checked ELF parser. Whatever elf_parse
 * accepts, the loader and the crash symbolizer will read, so every pointer it
 * hands back is walked here under ASan/UBSan.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I runtime \
 *	tests/fuzz/fuzz_elf.c runtime/elf.c -o fuzz_elf
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"

/* Touch every byte a user of *img may read, so ASan sees any overrun. */
static unsigned fuzz_elf_walk(const struct elf_image *img)
{
	unsigned acc = 0;

	for (unsigned i = 0; i < img->phnum; i++)
		acc += img->ph[i].p_type;
	for (size_t i = 0; i < img->nsyms; i++) {
		const Elf64_Sym *s = &img->syms[i];

		if (s->st_name < img->strsize)
			acc += (unsigned)strlen(img->strs + s->st_name);
	}
	return acc;
}

static void fuzz_elf_symbolize(const struct elf_image *img)
{
	const uint64_t probes[] = {img->eh->e_entry, img->lo, img->hi - 1, 0, UINT64_MAX};
	uint64_t off;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const char *name = elf_symbolize(img->syms, img->nsyms, img->strs, img->strsize,
						 probes[i], &off);

		if (name && strlen(name) >= img->strsize)
			abort(); /* a name must end inside the string table */
	}
	/* Each symbol's own address, bounded so one input stays fast. */
	for (size_t i = 0; i < img->nsyms && i < 64; i++)
		elf_symbolize(img->syms, img->nsyms, img->strs, img->strsize, img->syms[i].st_value,
			      &off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image img;
	uint64_t *buf;
	int err;

	/* elf_parse wants 8-aligned input, as the loader and ukd give it. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	err = elf_parse(&img, buf, size);
	if (err == ELF_OK) {
		volatile unsigned sink = fuzz_elf_walk(&img);

		(void)sink;
		fuzz_elf_symbolize(&img);
	}
	if (!elf_strerror(err))
		abort();
	free(buf);
	return 0;
}
