/*
 * image.h: the payload the packer appended to the runtime (api/ukimage.h):
 * the application ELF, the manifest, files and the runtime's own symbols.
 */
#ifndef IMAGE_H
#define IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "elf.h"

struct image_blob {
	const void *data;
	size_t size;
	const char *name;
};

/*
 * Checks the payload at physical address pa (mapped at va) whose bytes may
 * extend at most to `limit` bytes. Returns the payload size, or 0 (with a
 * console message) if there is no valid payload.
 */
uint64_t image_check(const void *va, uint64_t limit);
/* Re-points the image at its direct-map address once paging is final. */
void image_set_base(const void *va);
/* The index-th entry of the given type, or 0 if none. */
int image_find(uint32_t type, unsigned index, struct image_blob *out);
/* The mode bits of the index-th UKIMG_FILE entry. */
uint32_t image_file_mode(unsigned index);
/* Next manifest string after *pos (start with *pos = 0); NULL at the end. */
const char *image_manifest_next(size_t *pos);
/* The manifest value for key (first match), or NULL. */
const char *image_manifest_get(const char *key);

/* The runtime's own symbol table from the image (bounds-checked), for crash reports. */
const char *image_runtime_symbol(uint64_t addr, uint64_t *off);

#endif
