/*
 * cmd.c: helpers every ukctl command uses (see cmd.h).
 */
#define _GNU_SOURCE
#include "cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* The first line of a command's usage text ("Usage: ukctl ..."). */
static void cmd_usage_line(const struct cmd *c)
{
	const char *nl = strchr(c->usage, '\n');

	fprintf(stderr, "%.*s\n", nl ? (int)(nl - c->usage) : (int)strlen(c->usage), c->usage);
}

int cmd_usage_err(struct cmd_ctx *x, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ukctl %s: ", x->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cmd_usage_line(x->cmd);
	fprintf(stderr, "Try 'ukctl %s --help'.\n", x->name);
	return CMD_USAGE;
}

int cmd_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ukctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CMD_FAIL;
}

int cmd_unsupported(const char *what)
{
	return cmd_fail("%s is not supported by this ukd yet", what);
}

int cmd_getopt(struct cmd_ctx *x, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int idx = -1, c;

	/* ':' first: a missing value is ':' rather than '?', and getopt stays quiet. */
	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, &idx);
	switch (c) {
	case 'h': fputs(x->cmd->usage, stdout); return 'h';
	case ':': cmd_usage_err(x, "%s needs a value", argv[optind - 1]); return '?';
	case '?':
		if (optopt)
			cmd_usage_err(x, "unknown option -%c", optopt);
		else
			cmd_usage_err(x, "unknown option %s", argv[optind - 1]);
		return '?';
	default: return c;
	}
}

int cmd_opts_json(struct cmd_ctx *x, int argc, char **argv, int *json, int *quiet, int max_args)
{
	static const struct option lo_json[] = {
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	static const struct option lo_quiet[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	int c;

	while ((c = cmd_getopt(x, argc, argv, quiet ? ":qh" : ":h", quiet ? lo_quiet : lo_json)) !=
	       -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? CMD_OK : CMD_USAGE;
		*json |= c == 'j';
		if (c == 'q')
			*quiet = 1;
	}
	if (argc - optind > max_args)
		return cmd_usage_err(x, "unexpected argument \"%s\"", argv[optind + max_args]);
	return -1;
}

int cmd_client(struct cmd_ctx *x)
{
	char err[512];

	if (x->client)
		return CMD_OK;
	if (client_new(&x->client, x->host, x->token, err, sizeof(err)) < 0) {
		fprintf(stderr, "ukctl: %s\n", err);
		return CMD_USAGE;
	}
	return CMD_OK;
}

int cmd_report(struct cmd_ctx *x, int ret, struct client_resp *resp, const char *prefix)
{
	char buf[64];

	if (ret == -ECONNREFUSED) {
		fprintf(stderr,
			"ukctl: cannot reach ukd at %s: %s\n"
			"Is the daemon running? Start it with 'sudo ukd' (or 'ukd --root DIR "
			"--socket PATH'),\n"
			"or point ukctl at a running one with -H unix:///PATH or UKD_HOST.\n",
			client_host(x->client), resp->err);
		client_resp_clear(resp);
		return CMD_UNREACHABLE;
	}
	if (ret < 0)
		cmd_fail("talking to ukd at %s: %s", client_host(x->client), resp->err);
	else if (resp->status == 401)
		cmd_fail("ukd at %s refused the request: %s\n"
			 "Give ukctl the daemon's token: UKD_TOKEN=TOKEN or --token-file FILE.",
			 client_host(x->client),
			 x->token && x->token[0] ? "the token is wrong"
						 : "it needs a bearer token");
	else
		cmd_fail("%s%s%s", prefix ? prefix : "", prefix ? ": " : "",
			 client_error_message(resp, buf, sizeof(buf)));
	client_resp_clear(resp);
	return CMD_FAIL;
}

int cmd_call(struct cmd_ctx *x, const struct client_req *rq, struct client_resp *resp,
	     const char *prefix)
{
	int ret = cmd_client(x);

	if (ret) {
		memset(resp, 0, sizeof(*resp));
		return ret;
	}
	ret = client_do(x->client, rq, resp);
	if (ret == 0 && resp->status >= 200 && resp->status < 300)
		return CMD_OK;
	return cmd_report(x, ret, resp, prefix);
}

int cmd_get_json(struct cmd_ctx *x, const char *path, json_t **out)
{
	struct client_req rq = {.method = "GET", .path = path};
	struct client_resp resp;
	int ret = cmd_call(x, &rq, &resp, NULL);

	if (ret)
		return ret;
	if (!resp.json) {
		client_resp_clear(&resp);
		return cmd_fail("ukd sent something other than JSON for %s", path);
	}
	*out = json_incref(resp.json);
	client_resp_clear(&resp);
	return CMD_OK;
}

char *cmd_path(const char *prefix, const char *ref, const char *suffix)
{
	char *e = client_escape(ref), *out = NULL;

	if (e && asprintf(&out, "/v1/%s/%s%s", prefix, e, suffix ? suffix : "") < 0)
		out = NULL;
	free(e);
	return out;
}

void cmd_query_add(struct util_buf *url, const char *key, const char *value)
{
	char *e = client_escape(value);

	if (!e) {
		url->oom = 1;
		return;
	}
	util_buf_printf(url, "%s%s=%s", url->s && strchr(url->s, '?') ? "&" : "?", key, e);
	free(e);
}

int cmd_delete_each(struct cmd_ctx *x, int argc, char **argv, const char *kind, const char *query)
{
	struct client_resp resp;
	int ret = CMD_OK, r;

	for (; optind < argc; optind++) {
		char *path = cmd_path(kind, argv[optind], query);
		struct client_req rq = {.method = "DELETE", .path = path};

		if (!path)
			return cmd_fail("out of memory");
		r = cmd_call(x, &rq, &resp, NULL);
		free(path);
		if (r == CMD_UNREACHABLE)
			return r;
		if (r) {
			ret = r;
			continue;
		}
		printf("Deleted %s\n", argv[optind]);
		client_resp_clear(&resp);
	}
	return ret;
}

void cmd_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

void cmd_print_ids(json_t *list, const char *key)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) puts(json_string_value(json_object_get(v, key)));
}

int cmd_print(char *s)
{
	if (!s)
		return cmd_fail("out of memory");
	fputs(s, stdout);
	free(s);
	return CMD_OK;
}

int64_t cmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_parse_duration_ms(const char *s, int64_t *ms)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > 86400000ull)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		*ms = (int64_t)v;
	else if (!*end || !strcmp(end, "s"))
		*ms = (int64_t)v * 1000;
	else if (!strcmp(end, "m"))
		*ms = (int64_t)v * 60000;
	else if (!strcmp(end, "h"))
		*ms = (int64_t)v * 3600000;
	else
		return -EINVAL;
	return 0;
}

int cmd_parse_mib(const char *s, unsigned *mib)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (!strcasecmp(end, "g") || !strcasecmp(end, "gib") || !strcasecmp(end, "gb"))
		v *= 1024;
	else if (*end && strcasecmp(end, "m") && strcasecmp(end, "mib") && strcasecmp(end, "mb"))
		return -EINVAL;
	if (v == 0 || v > (1u << 20))
		return -EINVAL;
	*mib = (unsigned)v;
	return 0;
}
