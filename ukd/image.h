/*
 * image.h: turning an upload into a stored image file.
 *
 * image_ingest takes an upload (a static ELF, or a tar build context that it
 * compiles), packs it with the runtime, hashes the result (sha256) and moves
 * it to ROOT/images/sha256/HEX.img, mode 0644 in 0755 directories so that
 * libvirt's QEMU (user libvirt-qemu) can read it. Work happens in a private
 * directory under ROOT/tmp that is removed afterwards: a refused or failed
 * build stores nothing, except the file it placed if only its directory's
 * sync failed (out->placed). The store row is the caller's job (on the loop).
 *
 * image_ingest blocks: run it on a worker thread.
 */
#ifndef IMAGE_H
#define IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "build.h"
#include "store.h"

struct image_in {
	const char *root;
	const void *runtime; /* runtime ELF bytes */
	size_t runtime_size;
	const void *body;
	size_t len;
	int is_tar;
	const char *name; /* NULL: from uk.json (tar only) */
	unsigned mem_mib; /* 0: from uk.json, else the default */
	const char **env; /* "K=V", added after uk.json's */
	size_t nenv;
	const char **args; /* replace uk.json's if nargs or args_set */
	size_t nargs;
	int args_set;
	const struct build_output *log; /* hears the build as it happens, or NULL */
};

struct image_out {
	int status;	/* HTTP status of a refusal; 0 on success */
	char code[32];	/* API error code */
	char msg[4096]; /* reason, with compiler output for a failed build */
	struct store_image img;
	int existed; /* the same bytes were stored already */
	/*
	 * This upload put the file at its content address, even if it failed
	 * afterwards: no row lists it then, and the caller removes it (unless
	 * another upload of the same bytes may count on it).
	 */
	int placed;
};

/* Returns 0 (out->img filled) or -1 with out->status, code and msg set. */
int image_ingest(const struct image_in *in, struct image_out *out);

/* ROOT/images/sha256/HEX.img into buf. */
void image_path(const char *root, const char *id, char *buf, size_t len);

/* Removes an image file. Returns 0 or -errno. */
int image_remove(const char *root, const char *id);

/*
 * At startup, before the API serves: removes the files of ROOT/images/sha256
 * that no image row holds. An upload killed between placing its file and
 * storing its row, or a delete killed between removing the row and the file,
 * leaves one.
 */
void image_sweep(const char *root, struct store *st);

/* 1 if name is a valid image or instance name: [a-z0-9][a-z0-9._-]*, < STORE_NAME_MAX. */
int image_name_ok(const char *name);

/* 1 if tag is valid: [A-Za-z0-9_][A-Za-z0-9._-]*, < STORE_NAME_MAX. */
int image_tag_ok(const char *tag);

#endif
