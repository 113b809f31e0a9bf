/*
 * build.h: turn a build context into a static-PIE application ELF.
 *
 * A build context is a tar archive (optionally gzip-compressed) holding
 * `uk.json` and C sources. It is untrusted input: build_unpack accepts only
 * regular files and directories with relative, canonical paths (no "..", no
 * absolute paths, no links or devices), within count and size limits, and
 * creates every file itself with O_EXCL|O_NOFOLLOW inside a private
 * directory. build_compile runs musl-gcc the way the project's own `uk_app`
 * does (CMakeLists.txt), with a clean environment and a time limit.
 *
 * All functions block (run them on a worker thread) and return 0 or -1 with
 * a one-line reason in err.
 */
#ifndef BUILD_H
#define BUILD_H

#include <stddef.h>

#include "pack.h"

#define BUILD_ENTRIES_MAX 1000
#define BUILD_UNPACKED_MAX (64u << 20) /* bytes of all files together */
#define BUILD_PATH_MAX 255
#define BUILD_SOURCES_MAX 64
#define BUILD_FILES_MAX 256
#define BUILD_TIMEOUT_S 120
#define BUILD_OUTPUT_MAX (64u << 10) /* compiler output kept for the error */

/*
 * Where a build's progress ("compiling x.c") and the compiler's output go
 * while it runs, chunk by chunk, on the building thread. fn may be NULL.
 */
struct build_output {
	void (*fn)(const char *data, size_t len, void *opaque);
	void *opaque;
};

/* Says data (len bytes) to log if there is one. */
void build_say(const struct build_output *log, const char *data, size_t len);

struct build_manifest {
	char *name; /* NULL if uk.json has none */
	char **sources;
	size_t nsources;
	char **env; /* "K=V" */
	size_t nenv;
	char **args;
	size_t nargs;
	unsigned mem_mib;	 /* 0 if unset */
	unsigned port;		 /* readiness port, 0 if unset */
	struct pack_file *files; /* "files": {"PATH in the context": "/guest/path"} */
	size_t nfiles;
};

int build_unpack(const void *tar, size_t len, const char *dir, char *err, size_t errlen);

/* Reads and checks dir/uk.json. */
int build_manifest_read(const char *dir, struct build_manifest *m, char *err, size_t errlen);
void build_manifest_free(struct build_manifest *m);

/*
 * Compiles m's sources (relative to dir) into out_elf, with objects in
 * objdir. On a compiler failure *output holds what the compiler said
 * (malloc'd; else NULL). log (may be NULL) hears each step and the
 * compiler's output as it comes.
 */
int build_compile(const char *dir, const struct build_manifest *m, const char *objdir,
		  const char *out_elf, const struct build_output *log, char **output, char *err,
		  size_t errlen);

/*
 * 1 if p is a relative, canonical path of at most BUILD_PATH_MAX bytes: no
 * empty, "." or ".." component, no leading '/'. A single trailing '/' is
 * allowed if dir_ok.
 */
int build_path_ok(const char *p, int dir_ok);

/*
 * Kills the processes whose working directory is under dir (a ukd's private
 * tmp, where only builds work): compilers that a ukd killed mid-build left
 * running, each in its own process group and so beyond that ukd's time
 * limit. Call it before emptying dir. Returns how many it killed.
 */
int build_end_orphans(const char *dir);

#endif
