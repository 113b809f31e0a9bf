/*
 * ukimage.h: the image format shared by the packer (ukd/pack.c, host) and the
 * runtime (runtime/image.c, guest). Self-contained: both sides compile it.
 *
 * An image is the runtime's ELF file with one extra PT_LOAD segment, the
 * payload, placed at the first 4 KiB boundary after the runtime's highest
 * loaded byte (its `_end`). The payload starts with a header and a table of
 * entries; every entry's bytes lie inside the payload. The runtime MUST check
 * every offset and size against the payload's size before it reads an entry:
 * the image is input from whoever built it.
 *
 * Manifest entry: a sequence of NUL-terminated "key=value" strings. Keys:
 *   name=NAME      image name
 *   mem=MIB        memory the image wants (informational for the host)
 *   arg=VALUE      one default argument (repeatable, in order; argv[1..])
 *   env=K=V        one environment variable (repeatable)
 *   app=BASENAME   the application file's base name (argv[0])
 *   port=N         readiness: the application is ready once it listens on N
 * File entries carry the guest path in `name` and the bytes as content.
 */
#ifndef UKIMAGE_H
#define UKIMAGE_H

#include <stdint.h>

#define UKIMG_MAGIC "UKIMAGE\0"
#define UKIMG_VERSION 1
#define UKIMG_ALIGN 4096u
#define UKIMG_NAME_MAX 112 /* including the NUL */
#define UKIMG_MAX_ENTRIES 1024u

enum ukimg_type {
	UKIMG_APP = 1,	    /* the application ELF, unmodified */
	UKIMG_MANIFEST = 2, /* NUL-separated key=value strings */
	UKIMG_FILE = 3,	    /* a file for the ramfs; name = guest path */
	UKIMG_RTSYMTAB = 4, /* the runtime's Elf64_Sym table */
	UKIMG_RTSTRTAB = 5, /* the runtime's string table for it */
};

struct ukimg_header {
	char magic[8];	   /* UKIMG_MAGIC */
	uint32_t version;  /* UKIMG_VERSION */
	uint32_t nentries; /* <= UKIMG_MAX_ENTRIES */
	uint64_t size;	   /* bytes in the payload, header included */
};

struct ukimg_entry {
	uint32_t type;	 /* enum ukimg_type */
	uint32_t mode;	 /* file mode bits for UKIMG_FILE, else 0 */
	uint64_t offset; /* from the start of the header; UKIMG_APP: 4 KiB aligned */
	uint64_t size;
	char name[UKIMG_NAME_MAX]; /* NUL-terminated */
};

_Static_assert(sizeof(struct ukimg_header) == 24, "ukimg_header layout");
_Static_assert(sizeof(struct ukimg_entry) == 136, "ukimg_entry layout");

#endif
