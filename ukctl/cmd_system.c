/*
 * cmd_system.c: ukctl version, info and health.
 */
#define _GNU_SOURCE
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

#include "table.h"

static int cmd_version_run(struct cmd_ctx *x, int argc, char **argv)
{
	json_t *info = NULL, *out;
	int json = 0, ret = cmd_opts_json(x, argc, argv, &json, NULL, 0);

	if (ret >= 0)
		return ret;
	if (!json)
		printf("Client: ukctl %s\n", UKCTL_VERSION);
	fflush(stdout);
	ret = cmd_get_json(x, "/v1/system/info", &info);
	if (json) {
		out = json_pack(
			"{s:{s:s}, s:o}", "client", "version", UKCTL_VERSION, "server",
			ret ? json_null()
			    : json_pack("{s:O?}", "version", json_object_get(info, "version")));
		cmd_print_json(out);
		json_decref(out);
	} else if (!ret) {
		printf("Server: ukd %s\n", json_string_value(json_object_get(info, "version")));
	}
	json_decref(info);
	return ret;
}

const struct cmd cmd_version = {
	"version",
	NULL,
	"show the client's and the daemon's versions",
	"Usage: ukctl version [--json]\n"
	"\n"
	"Show ukctl's version and that of the ukd it talks to.\n"
	"\n"
	"Options:\n"
	"      --json   print {\"client\": {...}, \"server\": {...}}\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl -H unix:///run/ukd/ukd.sock version\n",
	cmd_version_run,
};

/*
 * Counts images and instances (by state) when the daemon does not report
 * them itself, so `info` shows them either way.
 */
static int cmd_info_counts(struct cmd_ctx *x, json_t *info)
{
	json_t *images, *instances, *inst, *by_state;
	size_t i;
	int ret;

	if (json_object_get(info, "images") && json_object_get(info, "instances"))
		return CMD_OK;
	if ((ret = cmd_get_json(x, "/v1/images", &images)))
		return ret;
	if ((ret = cmd_get_json(x, "/v1/instances", &instances))) {
		json_decref(images);
		return ret;
	}
	by_state = json_object();
	json_array_foreach(instances, i, inst)
	{
		const char *st = json_string_value(json_object_get(inst, "state"));
		json_t *n = json_object_get(by_state, st ? st : "unknown");

		json_object_set_new(by_state, st ? st : "unknown",
				    json_integer(n ? json_integer_value(n) + 1 : 1));
	}
	json_object_set_new(info, "images", json_integer((json_int_t)json_array_size(images)));
	json_object_set_new(info, "instances",
			    json_pack("{s:I, s:o}", "total", (json_int_t)json_array_size(instances),
				      "by_state", by_state));
	json_decref(images);
	json_decref(instances);
	return CMD_OK;
}

static int cmd_info_run(struct cmd_ctx *x, int argc, char **argv)
{
	json_t *info;
	int json = 0, ret = cmd_opts_json(x, argc, argv, &json, NULL, 0);

	if (ret >= 0)
		return ret;
	if ((ret = cmd_get_json(x, "/v1/system/info", &info)))
		return ret;
	if (json) {
		/* The API's own answer, unchanged, for scripts. */
		cmd_print_json(info);
	} else if (!(ret = cmd_info_counts(x, info))) {
		json_object_set_new(info, "client_version", json_string(UKCTL_VERSION));
		ret = cmd_print(table_kv(info, cmd_now_ms(), x->color ? TABLE_COLOR : 0));
	}
	json_decref(info);
	return ret;
}

const struct cmd cmd_info = {
	"info",
	NULL,
	"show the host and the daemon",
	"Usage: ukctl info [--json]\n"
	"\n"
	"Show what the daemon reports about itself and its host: version, state\n"
	"directory, accelerator (kvm or tcg) and why, libvirt's connection, and\n"
	"how many images and instances it holds.\n"
	"\n"
	"Options:\n"
	"      --json   print the API's JSON (GET /v1/system/info)\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl info\n",
	cmd_info_run,
};

/*
 * GET /v1/instances/REF/health. A ukd without the endpoint answers 404
 * "not_found" (no such path), which is not the same as "instance_not_found".
 */
static int cmd_health_one(struct cmd_ctx *x, const char *ref, json_t **out, int *unsupported)
{
	struct client_req rq = {.method = "GET"};
	struct client_resp resp;
	const char *code;
	int ret;

	if ((ret = cmd_client(x)))
		return ret;
	if (!(rq.path = cmd_path("instances", ref, "/health")))
		return cmd_fail("out of memory");
	ret = client_do(x->client, &rq, &resp);
	free((char *)rq.path);
	if (ret == 0 && resp.status == 200 && resp.json) {
		*out = json_incref(resp.json);
		client_resp_clear(&resp);
		return CMD_OK;
	}
	code = json_string_value(json_object_get(json_object_get(resp.json, "error"), "code"));
	if (ret == 0 && resp.status == 404 && code && !strcmp(code, "not_found")) {
		client_resp_clear(&resp);
		*unsupported = 1;
		return cmd_unsupported("health (instance health reports)");
	}
	return cmd_report(x, ret, &resp, NULL);
}

static int cmd_health_run(struct cmd_ctx *x, int argc, char **argv)
{
	json_t *all, *h;
	int json = 0, unsupported = 0, ret = cmd_opts_json(x, argc, argv, &json, NULL, 1 << 20), r;

	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return cmd_usage_err(x, "no instance given");
	if (!(all = json_array()))
		return cmd_fail("out of memory");
	ret = CMD_OK;
	for (int i = optind; i < argc; i++) {
		if ((r = cmd_health_one(x, argv[i], &h, &unsupported))) {
			ret = r;
			if (r == CMD_UNREACHABLE || unsupported)
				break;
			continue;
		}
		if (!json) {
			printf("%s%s:\n", json_array_size(all) ? "\n" : "", argv[i]);
			if (cmd_print(table_kv(h, cmd_now_ms(), x->color ? TABLE_COLOR : 0)))
				ret = CMD_FAIL;
		}
		json_array_append_new(all, h);
	}
	/* One instance: the API's object; several: an array, as inspect does. */
	if (json && json_array_size(all))
		cmd_print_json(argc - optind == 1 ? json_array_get(all, 0) : all);
	json_decref(all);
	return ret;
}

const struct cmd cmd_health = {
	"health",
	NULL,
	"show instances' health (needs a newer ukd)",
	"Usage: ukctl health [--json] INSTANCE...\n"
	"\n"
	"Show what each instance's health agent last reported: status (starting,\n"
	"healthy, unhealthy, exited), readiness, the latest heartbeat (memory, CPU,\n"
	"sockets, packets), application metrics, and a panic's backtrace. A ukd\n"
	"without health reporting says so (exit 1).\n"
	"\n"
	"Options:\n"
	"      --json   the API's JSON (an object for one instance, else an array)\n"
	"  -h, --help   show this help\n"
	"\n"
	"Example:\n"
	"  ukctl health web\n",
	cmd_health_run,
};
