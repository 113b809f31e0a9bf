/*
 * cmd_stats.c: ukctl stats, a live table of instances' resource use, like
 * `docker stats`.
 *
 * Every refresh asks ukd for each instance's stats with a one-second CPU
 * sample (GET /v1/instances/REF/stats?sample_ms=1000), all instances at
 * once, so one refresh takes about a second whatever their number. The
 * table is redrawn in place on a terminal; elsewhere (a pipe, a file) and
 * with --no-stream it is printed once.
 */
#define _GNU_SOURCE
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table.h"

#define CMD_STATS_SAMPLE_MS 1000
/* Requests in flight at once: well under ukd's connection limit. */
#define CMD_STATS_PARALLEL 32

struct cmd_stats_call {
	const char *ref;
	char *path;
	struct client_req rq;
	struct client_call *call;
};

/* The instances to show: the ones named, or every running one (re-listed each refresh). */
static int cmd_stats_refs(struct cmd_ctx *x, int argc, char **argv, json_t **refs)
{
	json_t *list, *inst;
	size_t i;
	int ret;

	if (!(*refs = json_array()))
		return cmd_fail("out of memory");
	if (argc > 0) {
		for (int k = 0; k < argc; k++)
			json_array_append_new(*refs, json_string(argv[k]));
		return CMD_OK;
	}
	if ((ret = cmd_get_json(x, "/v1/instances", &list))) {
		json_decref(*refs);
		return ret;
	}
	json_array_foreach(list, i, inst)
	{
		const char *state = json_string_value(json_object_get(inst, "state"));

		if (state && !strcmp(state, "running"))
			json_array_append(*refs, json_object_get(inst, "id"));
	}
	json_decref(list);
	return CMD_OK;
}

/*
 * One finished call into out: its stats, or for an instance that is not
 * running a row of dashes. A named instance that does not exist is an error.
 */
static int cmd_stats_take(struct cmd_ctx *x, struct cmd_stats_call *k, json_t *out, int named)
{
	struct client_resp resp;
	int ret = client_finish(k->call, &resp);
	char buf[64];

	k->call = NULL;
	if (ret == 0 && resp.status == 200 && resp.json) {
		json_array_append(out, resp.json);
		client_resp_clear(&resp);
		return CMD_OK;
	}
	if (ret == 0 && resp.status == 409) {
		/* It stopped (or is not started): shown if asked for by name, else gone. */
		if (named)
			json_array_append_new(
				out, json_pack("{s:s, s:s}", "name", k->ref, "error",
					       client_error_message(&resp, buf, sizeof(buf))));
		client_resp_clear(&resp);
		return CMD_OK;
	}
	if (ret == 0 && resp.status == 404 && !named) {
		client_resp_clear(&resp); /* deleted since the listing */
		return CMD_OK;
	}
	return cmd_report(x, ret, &resp, k->ref);
}

/* One refresh: every instance's stats into *out, in the order of refs. */
static int cmd_stats_cycle(struct cmd_ctx *x, json_t *refs, int named, json_t **out)
{
	size_t n = json_array_size(refs), next = 0, done = 0;
	struct cmd_stats_call *calls = calloc(n + 1, sizeof(*calls));
	json_t *rows = json_array();
	int ret = CMD_OK, running = 0;

	if (!calls || !rows) {
		free(calls);
		json_decref(rows);
		return cmd_fail("out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		calls[i].ref = json_string_value(json_array_get(refs, i));
		calls[i].path = cmd_path("instances", calls[i].ref, "/stats?sample_ms=1000");
		calls[i].rq = (struct client_req){.method = "GET", .path = calls[i].path};
		if (!calls[i].path)
			ret = cmd_fail("out of memory");
	}
	while (ret == CMD_OK && done < n) {
		for (; next < n && running < CMD_STATS_PARALLEL; next++, running++)
			if (client_start(x->client, &calls[next].rq, &calls[next].call) < 0) {
				ret = cmd_fail("out of memory");
				break;
			}
		client_poll(x->client, 200);
		/* Taken in order, so the rows keep the order of the instances. */
		while (done < next && calls[done].call && client_call_done(calls[done].call)) {
			running--;
			if ((ret = cmd_stats_take(x, &calls[done++], rows, named)))
				break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (calls[i].call)
			client_cancel(calls[i].call);
		free(calls[i].path);
	}
	free(calls);
	if (ret)
		json_decref(rows);
	else
		*out = rows;
	return ret;
}

static int cmd_stats_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"no-stream", no_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	int c, json = 0, stream = 1, ret, named;
	json_t *refs, *rows = NULL;

	while ((c = cmd_getopt(x, argc, argv, ":h", lo)) != -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? CMD_OK : CMD_USAGE;
		stream &= c != 's';
		json |= c == 'j';
	}
	/* A live table only makes sense for a person at a terminal. */
	if (json || !isatty(STDOUT_FILENO))
		stream = 0;
	if ((ret = cmd_client(x)))
		return ret;
	named = optind < argc;
	for (;;) {
		if ((ret = cmd_stats_refs(x, argc - optind, argv + optind, &refs)))
			return ret;
		ret = cmd_stats_cycle(x, refs, named, &rows);
		json_decref(refs);
		if (ret)
			return ret;
		if (json) {
			cmd_print_json(rows);
		} else {
			char *text = table_stats(rows, 0);

			/* Home and clear, then the table: a redraw without scrolling. */
			if (stream)
				fputs("\033[H\033[2J", stdout);
			ret = cmd_print(text);
			fflush(stdout);
		}
		/* Nothing to sample means no second spent waiting for ukd: pause instead. */
		if (stream && !json_array_size(rows))
			sleep(1);
		json_decref(rows);
		if (!stream || ret)
			return ret;
	}
}

const struct cmd cmd_stats = {
	"stats",
	NULL,
	"live resource usage of instances",
	"Usage: ukctl stats [--no-stream] [--json] [INSTANCE...]\n"
	"\n"
	"A live table of running instances' resource use, refreshed every second\n"
	"(Ctrl-C to quit): CPU % over the last second (100% = one host CPU), memory\n"
	"the guest uses of what its VM was given, network bytes and packets\n"
	"received / sent, and the host memory its QEMU holds. Without INSTANCE, all\n"
	"running instances. Printed once with --no-stream, --json, or when stdout\n"
	"is not a terminal.\n"
	"\n"
	"Options:\n"
	"      --no-stream  print one table and exit\n"
	"      --json       print the API's stats objects as a JSON array, once\n"
	"  -h, --help       show this help\n"
	"\n"
	"Examples:\n"
	"  ukctl stats\n"
	"  ukctl stats --no-stream web db\n",
	cmd_stats_run,
};
