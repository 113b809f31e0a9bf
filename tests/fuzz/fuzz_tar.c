/*
 * fuzz_tar.c: libFuzzer target for the build-context reader (ukd/build.c:
 * build_unpack over libarchive), which unpacks what a client uploads to
 * POST /v1/images as a tar (or tar.gz) archive.
 *
 * Each input is unpacked into a fresh private directory. Whatever the
 * archive says, everything created must stay inside that directory and be a
 * regular file or a directory: the target walks the directory afterwards and
 * aborts on anything else (a link, a device, a name with ".."), then
 * removes it.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I api -I ukd -iquote runtime \
 *	tests/fuzz/fuzz_tar.c ukd/build.c ukd/pack.c ukd/util.c ukd/log.c runtime/elf.c \
 *	-ljansson -larchive -o fuzz_tar
 *   ./fuzz_tar -max_total_time=3600 CORPUS_DIR tests/fuzz/corpus/tar   (the long run)
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "util.h"

static char base[64], dir[96];

static int check_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (!strcmp(path, base))
		return 0;
	if (strncmp(path, dir, strlen(dir)) || strstr(path, "/../") ||
	    (flag != FTW_F && flag != FTW_D && flag != FTW_DP) ||
	    (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))) {
		fprintf(stderr, "fuzz_tar: unpacked something that is not ours: %s\n", path);
		abort();
	}
	return 0;
}

static void cleanup(void)
{
	util_rmtree(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "/tmp/fuzz_tar.%d", (int)getpid());
	snprintf(dir, sizeof(dir), "%s/ctx", base);
	util_rmtree(base);
	if (util_mkdir(base, 0700) < 0) {
		perror(base);
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];

	if (util_mkdir(dir, 0700) < 0)
		abort();
	err[0] = 0;
	if (build_unpack(data, size, dir, err, sizeof(err)) < 0 && !err[0])
		abort(); /* a refusal always says why */
	if (nftw(dir, check_one, 16, FTW_PHYS) < 0)
		abort();
	/* Nothing may appear beside the context directory either. */
	nftw(base, check_one, 16, FTW_PHYS | FTW_DEPTH);
	util_rmtree(dir);
	return 0;
}
