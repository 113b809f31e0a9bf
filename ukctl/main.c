/*
 * main.c: the ukctl program: global options, then one command from a table
 * (as kvmtool's kvm-cmd.c does). ukctl talks only to ukd's API.
 *
 * Hidden entries, for tests and the completion script:
 *   ukctl __render-test FILE   render a golden-test input (tests/ukctl/golden)
 *   ukctl __complete WHAT      names for completion: commands|instances|images
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "table.h"

static const struct cmd *const main_cmds[] = {
	&cmd_build, &cmd_images,  &cmd_rmi,  &cmd_image,   &cmd_run,	 &cmd_list,    &cmd_start,
	&cmd_stop,  &cmd_restart, &cmd_kill, &cmd_rm,	   &cmd_logs,	 &cmd_inspect, &cmd_health,
	&cmd_stats, &cmd_events,  &cmd_info, &cmd_version, &cmd_network,
};

#define MAIN_NCMDS (sizeof(main_cmds) / sizeof(main_cmds[0]))

static void main_usage(FILE *f)
{
	fputs("Usage: ukctl [-H HOST] COMMAND [OPTIONS] [ARGS...]\n"
	      "\n"
	      "The command-line client of ukd: build unikernel images and run them as VMs.\n"
	      "\n"
	      "Global options:\n"
	      "  -H, --host HOST  the daemon: unix:///PATH or tcp://HOST:PORT\n"
	      "                   (default $UKD_HOST, else " CLIENT_DEFAULT_HOST ")\n"
	      "      --token-file FILE  bearer token for tcp:// hosts (default $UKD_TOKEN)\n"
	      "  -h, --help       show this help\n"
	      "      --version    show ukctl's version\n"
	      "Environment: UKD_HOST, UKD_TOKEN (bearer token for tcp://), NO_COLOR.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < MAIN_NCMDS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%s%s%s", main_cmds[i]->name,
			 main_cmds[i]->alias ? ", " : "",
			 main_cmds[i]->alias ? main_cmds[i]->alias : "");
		fprintf(f, "  %-10s %s\n", name, main_cmds[i]->summary);
	}
	fputs("\nRun 'ukctl COMMAND --help' for a command's options and an example.\n"
	      "Exit status: 0 ok, 1 ukd reported an error, 2 usage error, 3 ukd unreachable;\n"
	      "`ukctl run` in the foreground exits with the program's status.\n"
	      "\n"
	      "Examples:\n"
	      "  ukctl build -t hello images/hello && ukctl run hello\n"
	      "  UKD_TOKEN=$(cat token) ukctl -H tcp://127.0.0.1:7654 ps\n",
	      f);
}

__attribute__((format(printf, 1, 2))) static int main_usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("ukctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nUsage: ukctl [-H HOST] COMMAND [OPTIONS] [ARGS...]\nTry 'ukctl --help'.\n",
	      stderr);
	return CMD_USAGE;
}

static const struct cmd *main_find(const char *name)
{
	for (size_t i = 0; i < MAIN_NCMDS; i++)
		if (!strcmp(name, main_cmds[i]->name) ||
		    (main_cmds[i]->alias && !strcmp(name, main_cmds[i]->alias)))
			return main_cmds[i];
	return NULL;
}

/*
 * A golden-test input: {"kind": "images"|"instances"|"kv"|"stats", "now": TIME,
 * "color": bool, "input": ..., "images": [...]}. Prints the rendering.
 */
static int main_render_test(const char *path)
{
	json_error_t je;
	json_t *in = json_load_file(path, 0, &je), *data;
	const char *kind;
	int64_t now = 0;
	int flags;
	char *out = NULL;

	if (!in) {
		fprintf(stderr, "ukctl: %s:%d: %s\n", path, je.line, je.text);
		return CMD_USAGE;
	}
	kind = json_string_value(json_object_get(in, "kind"));
	data = json_object_get(in, "input");
	flags = json_is_true(json_object_get(in, "color")) ? TABLE_COLOR : 0;
	table_parse_time(json_string_value(json_object_get(in, "now")), &now);
	if (kind && !strcmp(kind, "images"))
		out = table_images(data, now, flags);
	else if (kind && !strcmp(kind, "instances"))
		out = table_instances(data, json_object_get(in, "images"), now, flags);
	else if (kind && !strcmp(kind, "kv"))
		out = table_kv(data, now, flags);
	else if (kind && !strcmp(kind, "stats"))
		out = table_stats(data, flags);
	else if (kind && !strcmp(kind, "events"))
		out = table_events(data);
	json_decref(in);
	if (!out) {
		fprintf(stderr, "ukctl: %s: unknown kind or out of memory\n", path);
		return CMD_FAIL;
	}
	fputs(out, stdout);
	free(out);
	return CMD_OK;
}

/* Words for the bash completion script; quiet on any error (no hint, no noise). */
static int main_complete(struct cmd_ctx *x, const char *what)
{
	const char *path = !strcmp(what, "instances") ? "/v1/instances" : "/v1/images";
	struct client_req rq = {.method = "GET", .path = path};
	struct client_resp resp;
	json_t *o;
	size_t i;

	if (!strcmp(what, "commands")) {
		for (i = 0; i < MAIN_NCMDS; i++) {
			puts(main_cmds[i]->name);
			if (main_cmds[i]->alias)
				puts(main_cmds[i]->alias);
		}
		return CMD_OK;
	}
	if (client_new(&x->client, x->host, x->token, resp.err, sizeof(resp.err)) < 0 ||
	    client_do(x->client, &rq, &resp) < 0)
		return CMD_FAIL;
	json_array_foreach(resp.json, i, o)
	{
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *tag = json_string_value(json_object_get(o, "tag"));

		if (name && tag)
			printf("%s:%s\n", name, tag);
		else if (name)
			printf("%s\n", name);
	}
	client_resp_clear(&resp);
	return CMD_OK;
}

/* The token is the file's first line (as ukd reads its --token-file). */
static int main_token_file(struct cmd_ctx *x, const char *path)
{
	static char token[1024];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		fprintf(stderr, "ukctl: --token-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	token[n] = 0;
	token[strcspn(token, "\r\n")] = 0;
	if (!token[0]) {
		fprintf(stderr, "ukctl: --token-file %s is empty\n", path);
		return -1;
	}
	x->token = token;
	return 0;
}

/* Global options before the command; returns the index of the command, or -exit status. */
static int main_globals(struct cmd_ctx *x, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			main_usage(stdout);
			return -CMD_OK;
		}
		if (!strcmp(a, "--version")) {
			printf("ukctl %s\n", UKCTL_VERSION);
			return -CMD_OK;
		}
		if (!strncmp(a, "--host=", 7)) {
			x->host = a + 7;
		} else if (!strcmp(a, "-H") || !strcmp(a, "--host")) {
			if (++i >= argc)
				return -main_usage_err("%s needs a value", a);
			x->host = argv[i];
		} else if (!strncmp(a, "--token-file=", 13)) {
			if (main_token_file(x, a + 13) < 0)
				return -CMD_USAGE;
		} else if (!strcmp(a, "--token-file")) {
			if (++i >= argc)
				return -main_usage_err("%s needs a value", a);
			if (main_token_file(x, argv[i]) < 0)
				return -CMD_USAGE;
		} else {
			return -main_usage_err("unknown global option %s", a);
		}
	}
	if (i >= argc) {
		main_usage(stderr);
		return -CMD_USAGE;
	}
	return i;
}

int main(int argc, char **argv)
{
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
	struct cmd_ctx x = {0};
	int i, ret;

	x.host = getenv("UKD_HOST");
	x.host = x.host && x.host[0] ? x.host : NULL;
	x.token = getenv("UKD_TOKEN");
	/* Colours only for a person at a terminal that shows them. */
	x.color = isatty(STDOUT_FILENO) && !(no_color && no_color[0]) &&
		  !(term && !strcmp(term, "dumb"));
	x.stderr_tty = isatty(STDERR_FILENO);
	if ((i = main_globals(&x, argc, argv)) <= 0)
		return -i;
	if (!strcmp(argv[i], "__render-test") && i + 1 < argc)
		return main_render_test(argv[i + 1]);
	if (!strcmp(argv[i], "__complete") && i + 1 < argc) {
		ret = main_complete(&x, argv[i + 1]);
		client_free(x.client);
		return ret;
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 < argc && (x.cmd = main_find(argv[i + 1]))) {
			fputs(x.cmd->usage, stdout);
			return CMD_OK;
		}
		main_usage(stdout);
		return CMD_OK;
	}
	if (!(x.cmd = main_find(argv[i]))) {
		fprintf(stderr, "ukctl: unknown command %s\n\n", argv[i]);
		main_usage(stderr);
		return CMD_USAGE;
	}
	x.name = argv[i];
	optind = 0; /* glibc: a fresh scan of the command's own argv */
	ret = x.cmd->run(&x, argc - i, argv + i);
	client_free(x.client);
	fflush(stdout);
	return ret;
}
