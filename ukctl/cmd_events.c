/*
 * cmd_events.c: ukctl events, the daemon's event log (GET /v1/events), as
 * lines for people or, with --json, the API's JSON lines unchanged.
 */
#define _GNU_SOURCE
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "util.h"

struct cmd_events_out {
	int json;
	struct util_buf line; /* a partial line, until its newline arrives */
};

static void cmd_events_line(struct cmd_events_out *o, const char *line, size_t len)
{
	json_t *ev;
	char *text;

	if (!len)
		return;
	if (o->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
		return;
	}
	ev = json_loadb(line, len, 0, NULL);
	text = ev ? table_event_line(ev) : NULL;
	if (text)
		fputs(text, stdout);
	else
		fprintf(stderr, "ukctl: an event ukctl cannot read: %.*s\n", (int)len, line);
	free(text);
	json_decref(ev);
}

/* Event lines as they come, each printed once it is whole. */
static int cmd_events_on_data(const char *data, size_t len, void *opaque)
{
	struct cmd_events_out *o = opaque;
	const char *nl;

	while (len && (nl = memchr(data, '\n', len))) {
		size_t n = (size_t)(nl - data);

		if (o->line.len) {
			util_buf_add(&o->line, data, n);
			if (!o->line.oom)
				cmd_events_line(o, o->line.s, o->line.len);
			o->line.len = 0;
		} else {
			cmd_events_line(o, data, n);
		}
		data += n + 1;
		len -= n + 1;
	}
	if (len)
		util_buf_add(&o->line, data, len);
	fflush(stdout);
	return o->line.oom;
}

static int cmd_events_run(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"follow", no_argument, NULL, 'f'},
		{"since", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		CMD_HELP_OPT,
		{0},
	};
	struct cmd_events_out o = {0};
	struct client_req rq = {.method = "GET", .on_data = cmd_events_on_data, .opaque = &o};
	struct client_resp resp;
	struct util_buf q = {0};
	const char *since = NULL;
	int c, follow = 0, ret;

	while ((c = cmd_getopt(x, argc, argv, ":fh", lo)) != -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? CMD_OK : CMD_USAGE;
		follow |= c == 'f';
		o.json |= c == 'j';
		if (c == 's')
			since = optarg;
	}
	if (argc - optind > 1)
		return cmd_usage_err(x, "one instance at a time");
	util_buf_puts(&q, "/v1/events");
	if (since)
		cmd_query_add(&q, "since", since);
	if (optind < argc)
		cmd_query_add(&q, "instance", argv[optind]);
	if (follow)
		cmd_query_add(&q, "follow", "1");
	if (q.oom) {
		util_buf_free(&q);
		return cmd_fail("out of memory");
	}
	rq.path = q.s;
	ret = cmd_call(x, &rq, &resp, NULL);
	if (ret == CMD_OK)
		client_resp_clear(&resp);
	if (o.line.len) /* a last line without its newline */
		cmd_events_line(&o, o.line.s, o.line.len);
	util_buf_free(&o.line);
	util_buf_free(&q);
	return ret;
}

const struct cmd cmd_events = {
	"events",
	NULL,
	"show what happened to instances and images",
	"Usage: ukctl events [-f] [--since T] [--json] [INSTANCE]\n"
	"\n"
	"Print the daemon's event log, oldest first: one line per event with its\n"
	"time (UTC), the instance's (or image's) name, the event and its detail:\n"
	"created, starting, started, ready, not-ready, unhealthy, exited (status),\n"
	"restarted, crash-loop, stopping, stopped, removed, ... With INSTANCE, only\n"
	"that instance's events.\n"
	"\n"
	"Options:\n"
	"  -f, --follow     keep printing new events as they happen (Ctrl-C to stop)\n"
	"      --since T    events after event id T, or since a time: 2024-05-01T10:00:00Z,\n"
	"                   or a duration ago: 30s, 10m, 2h, 1d\n"
	"      --json       the API's JSON, one object per line\n"
	"  -h, --help       show this help\n"
	"\n"
	"Examples:\n"
	"  ukctl events --since 10m web\n"
	"  ukctl events -f --json\n",
	cmd_events_run,
};
