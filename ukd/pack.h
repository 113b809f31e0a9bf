/*
 * pack.h: build an image (api/ukimage.h) from a static x86-64 program and the
 * runtime. Host-side library code: the `ukd pack` command and the daemon's
 * builder call it. Every input is checked; a refused input gives a one-line
 * reason and leaves no output file behind.
 */
#ifndef PACK_H
#define PACK_H

#include <stddef.h>
#include <sys/types.h>

/* Largest application or --file accepted, so a mistake cannot fill the disk. */
#define PACK_FILE_MAX (256u << 20)

struct pack_file {
	const char *host_path;	/* regular file on the host */
	const char *guest_path; /* absolute, canonical path in the guest ramfs */
};

struct pack_opts {
	const char *app_path; /* application ELF on the host */
	const char *out_path; /* image to write */
	const void *runtime;  /* runtime ELF bytes */
	size_t runtime_size;
	const char *name; /* default: app basename */
	unsigned mem_mib; /* default 64 */
	unsigned port;	  /* readiness port (the app is ready once it listens there); 0: none */
	const char **env; /* "K=V" strings */
	size_t nenv;
	const char **args; /* default args */
	size_t nargs;
	const struct pack_file *files;
	size_t nfiles;
};

/*
 * pack_image writes o->out_path. Returns 0, or -1 with a one-line
 * human-readable reason in err (errlen bytes), or -2 with the reason in err
 * and errno set when writing the output failed (a full disk, an I/O error:
 * the host's fault, not the inputs'). The image is written to a
 * temporary file in the same directory, synced and renamed into place, so a
 * failure leaves no output file and an old image is replaced atomically.
 */
int pack_image(const struct pack_opts *o, char *err, size_t errlen);

/*
 * pack_read_file reads a whole regular, non-empty file of at most
 * PACK_FILE_MAX bytes into a malloc'd buffer (suitably aligned for
 * elf_parse). On success sets *buf, *size and, if mode is not NULL, *mode and
 * returns 0; the caller frees *buf. Else returns -1 with a reason in err.
 */
int pack_read_file(const char *path, void **buf, size_t *size, mode_t *mode, char *err,
		   size_t errlen);

#endif
