/*
 * fuzz_json.c: libFuzzer target for every JSON document ukd accepts from a
 * client, through the same checked parsers the daemon runs:
 *
 *   'i' + body  POST /v1/instances: instance_check_body, instance_cmdline
 *               (the guest command line built from it) and network_port_parse
 *               for each of its "ports";
 *   'n' + body  POST /v1/networks: network_parse;
 *   'm' + text  an image build context's uk.json: build_manifest_read.
 *
 * The first byte picks the document (any other byte: by its value mod 3);
 * the rest is loaded with the flags the API uses (api.c: api_body_json). A
 * spec that is accepted must also yield a command line within the runtime's
 * limits or a clean -E2BIG, and a manifest that is accepted must hold only
 * relative source paths.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I api -I ukd -iquote runtime \
 *	tests/fuzz/fuzz_json.c ukd/{all but main}.c api/ukhealth.c runtime/elf.c \
 *	$(pkg-config --libs libuv sqlite3 jansson libvirt nettle libarchive) \
 *	-lhttp_parser -lpthread -o fuzz_json           (tests/CMakeLists.txt has the exact line)
 *   ./fuzz_json -max_total_time=3600 CORPUS_DIR tests/fuzz/corpus/json   (the long run)
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "instance.h"
#include "log.h"
#include "network.h"
#include "util.h"

static char dir[64], manifest[96];

static void cleanup(void)
{
	util_rmtree(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_json.%d", (int)getpid());
	snprintf(manifest, sizeof(manifest), "%s/uk.json", dir);
	util_rmtree(dir);
	if (util_mkdir(dir, 0700) < 0) {
		perror(dir);
		exit(1);
	}
	atexit(cleanup);
	/* Sources and files that a manifest may name, so that its checks run to the end. */
	for (const char *const *f = (const char *const[]){"main.c", "a.c", "www", NULL}; *f; f++) {
		char path[160];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		if ((fp = fopen(path, "w")))
			fclose(fp);
	}
	return 0;
}

static void fuzz_instance(json_t *body)
{
	char err[512], cmdline[INSTANCE_CMDLINE_MAX + 1];
	const char *image, *name;
	json_t *spec = NULL, *v;
	unsigned mem;
	int start;
	size_t i;

	if (instance_check_body(body, &spec, &image, &name, &start, &mem, err, sizeof(err)) == 0) {
		int r = instance_cmdline(json_object_get(spec, "env"),
					 json_object_get(spec, "args"), cmdline, sizeof(cmdline));

		if (r != 0 && r != -E2BIG)
			abort();
		if (r == 0 && strlen(cmdline) > INSTANCE_CMDLINE_MAX)
			abort();
	}
	json_decref(spec);
	json_array_foreach(json_object_get(body, "ports"), i, v)
	{
		struct store_port p;

		if (network_port_parse(v, &p) == 0 &&
		    (!p.host_port || p.host_port > 65535 || !p.guest_port || p.guest_port > 65535))
			abort();
	}
}

static void fuzz_network(json_t *body)
{
	struct store_network n = {0};
	char err[512];

	if (network_parse(body, &n, err, sizeof(err)) == 0 &&
	    ((n.gateway & (0xffffffffu << (32 - n.prefix))) != n.subnet || !n.bridge[0]))
		abort();
}

static void fuzz_manifest(const uint8_t *data, size_t size)
{
	struct build_manifest m;
	char err[512];
	FILE *f = fopen(manifest, "w");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	if (build_manifest_read(dir, &m, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < m.nsources; i++)
			if (!build_path_ok(m.sources[i], 0))
				abort();
		build_manifest_free(&m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *body;
	int kind;

	if (size < 1)
		return 0;
	kind = data[0] == 'i' ? 0 : data[0] == 'n' ? 1 : data[0] == 'm' ? 2 : data[0] % 3;
	if (kind == 2) {
		fuzz_manifest(data + 1, size - 1);
		return 0;
	}
	body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
	if (json_is_object(body)) {
		if (kind == 0)
			fuzz_instance(body);
		else
			fuzz_network(body);
	}
	json_decref(body);
	return 0;
}
