/*
 * cmd_network.c: ukctl network create|ls|rm|inspect, the client of
 * /v1/networks. One command with subcommands, dispatched from a table like
 * ukctl's own.
 */
#define _GNU_SOURCE
#include "cmd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

struct cmd_network_sub {
	const char *name, *alias;
	int (*run)(struct cmd_ctx *x, int argc, char **argv);
};

static int cmd_network_create(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"subnet", required_argument, NULL, 's'},
		{"gateway", required_argument, NULL, 'g'},
		{"bridge", required_argument, NULL, 'b'},
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	json_t *body = json_object();
	struct client_resp resp;
	struct client_req rq = {
		.method = "POST", .path = "/v1/networks", .ctype = "application/json"};
	char *text = NULL;
	int c, json = 0, ret;

	if (!body)
		return cmd_fail("out of memory");
	while ((c = cmd_getopt(x, argc, argv, ":s:g:b:h", lo)) != -1) {
		if (c == 'h' || c == '?') {
			ret = c == 'h' ? CMD_OK : CMD_USAGE;
			goto put_body;
		}
		if (c == 'j')
			json = 1;
		else
			json_object_set_new(body,
					    c == 's'   ? "subnet"
					    : c == 'g' ? "gateway"
						       : "bridge",
					    json_string(optarg));
	}
	if (optind != argc - 1) {
		ret = cmd_usage_err(x, "network create needs exactly one NAME");
		goto put_body;
	}
	if (!json_object_get(body, "subnet")) {
		ret = cmd_usage_err(x, "network create needs --subnet A.B.C.D/P");
		goto put_body;
	}
	json_object_set_new(body, "name", json_string(argv[optind]));
	if (!(text = json_dumps(body, JSON_COMPACT))) {
		ret = cmd_fail("out of memory");
		goto put_body;
	}
	rq.body = text;
	rq.len = strlen(text);
	if ((ret = cmd_call(x, &rq, &resp, NULL)) == CMD_OK) {
		if (json)
			cmd_print_json(resp.json);
		else
			puts(json_string_value(json_object_get(resp.json, "name")));
		client_resp_clear(&resp);
	}
	free(text);
put_body:
	json_decref(body);
	return ret;
}

static char *cmd_network_table(json_t *nets)
{
	static const char *const hdr[] = {"NAME", "SUBNET", "GATEWAY", "BRIDGE", "INSTANCES"};
	struct table *t = table_new(5, hdr);
	json_t *n;
	size_t i;
	char *s;

	if (!t)
		return NULL;
	json_array_foreach(nets, i, n)
	{
		char count[24];

		snprintf(count, sizeof(count), "%lld",
			 (long long)json_integer_value(json_object_get(n, "instances")));
		table_cell(t, json_string_value(json_object_get(n, "name")), TABLE_PLAIN);
		table_cell(t, json_string_value(json_object_get(n, "subnet")), TABLE_PLAIN);
		table_cell(t, json_string_value(json_object_get(n, "gateway")), TABLE_PLAIN);
		table_cell(t, json_string_value(json_object_get(n, "bridge")), TABLE_PLAIN);
		table_cell(t, count, TABLE_PLAIN);
	}
	s = table_render(t, 0);
	table_free(t);
	return s;
}

static int cmd_network_ls(struct cmd_ctx *x, int argc, char **argv)
{
	int json = 0, quiet = 0, ret = cmd_opts_json(x, argc, argv, &json, &quiet, 0);
	json_t *nets;

	if (ret >= 0)
		return ret;
	if ((ret = cmd_get_json(x, "/v1/networks", &nets)))
		return ret;
	if (json) {
		cmd_print_json(nets);
	} else if (quiet) {
		cmd_print_ids(nets, "name");
	} else {
		ret = cmd_print(cmd_network_table(nets));
	}
	json_decref(nets);
	return ret;
}

static int cmd_network_rm(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {CMD_HELP_OPT, {0}};
	int c;

	while ((c = cmd_getopt(x, argc, argv, ":h", lo)) != -1)
		return c == 'h' ? CMD_OK : CMD_USAGE;
	if (optind >= argc)
		return cmd_usage_err(x, "no network given");
	return cmd_delete_each(x, argc, argv, "networks", NULL);
}

static int cmd_network_inspect(struct cmd_ctx *x, int argc, char **argv)
{
	int json = 0, ret = cmd_opts_json(x, argc, argv, &json, NULL, INT_MAX), r;
	json_t *n;
	char *path;

	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return cmd_usage_err(x, "no network given");
	ret = CMD_OK;
	for (int i = optind; i < argc; i++) {
		if (!(path = cmd_path("networks", argv[i], NULL)))
			return cmd_fail("out of memory");
		r = cmd_get_json(x, path, &n);
		free(path);
		if (r == CMD_UNREACHABLE)
			return r;
		if (r) {
			ret = r;
			continue;
		}
		if (json)
			cmd_print_json(n);
		else if (cmd_print(table_kv(n, cmd_now_ms(), x->color ? TABLE_COLOR : 0)))
			ret = CMD_FAIL;
		json_decref(n);
	}
	return ret;
}

static const struct cmd_network_sub cmd_network_subs[] = {
	{"create", NULL, cmd_network_create},
	{"ls", "list", cmd_network_ls},
	{"rm", "remove", cmd_network_rm},
	{"inspect", NULL, cmd_network_inspect},
};

static int cmd_network_run(struct cmd_ctx *x, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub && (!strcmp(sub, "-h") || !strcmp(sub, "--help"))) {
		fputs(x->cmd->usage, stdout);
		return CMD_OK;
	}
	if (!sub)
		return cmd_usage_err(x, "no subcommand given (create, ls, rm, inspect)");
	for (size_t i = 0; i < sizeof(cmd_network_subs) / sizeof(cmd_network_subs[0]); i++)
		if (!strcmp(sub, cmd_network_subs[i].name) ||
		    (cmd_network_subs[i].alias && !strcmp(sub, cmd_network_subs[i].alias)))
			return cmd_network_subs[i].run(x, argc - 1, argv + 1);
	return cmd_usage_err(x, "unknown subcommand \"%s\"", sub);
}

const struct cmd cmd_network = {
	"network",
	NULL,
	"manage guest networks",
	"Usage: ukctl network create --subnet A.B.C.D/P [--gateway IP] [--bridge IF] NAME\n"
	"       ukctl network ls [--json | -q]\n"
	"       ukctl network rm NAME...\n"
	"       ukctl network inspect [--json] NAME...\n"
	"\n"
	"Networks are Linux bridges in ukd's network namespace; instances on one\n"
	"network reach each other by address, instances on different networks do\n"
	"not, and the host reaches them only through published ports (run -p).\n"
	"uk0 always exists. A network with instances attached cannot be removed.\n"
	"\n"
	"Options (create):\n"
	"      --subnet CIDR   the IPv4 subnet, prefix 16 to 30 (required)\n"
	"      --gateway IP    the bridge's address (default: the first host address)\n"
	"      --bridge IF     the bridge's name (default: ukbr + the network's id)\n"
	"      --json          print the network as JSON\n"
	"\n"
	"Example:\n"
	"  ukctl network create --subnet 10.88.0.0/24 backend\n"
	"  ukctl run -d --net backend -p 8080:8080 httpd\n",
	cmd_network_run,
};
