/*
 * events.c: the event log over the API (see events.h). A follower polls the
 * store for events after the last one it sent, like a log follower polls
 * the console file: every transition is a store row already, so there is
 * no second path for events to get lost on.
 */
#define _GNU_SOURCE
#include "events.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "since.h"
#include "store.h"
#include "util.h"

#define EVENTS_POLL_MS 200
#define EVENTS_BATCH 500

struct events_follow {
	struct http_poll poll; /* first: http_poll_end frees the struct */
	struct daemon *d;
	char subject[STORE_INSTANCE_ID_LEN + 1]; /* "" = every subject */
	int64_t after, since_ms;
};

int events_parse_since(const char *s, int64_t now_ms, int64_t *after, int64_t *since_ms)
{
	size_t digits = strspn(s, "0123456789");

	*after = *since_ms = 0;
	/* All digits: an event id (not unix seconds, unlike the logs' since). */
	if (digits && !s[digits]) {
		if (digits > 15)
			return -EINVAL;
		*after = strtoll(s, NULL, 10);
		return 0;
	}
	return since_parse(s, now_ms, since_ms) < 0 || *since_ms < 0 ? -EINVAL : 0;
}

struct events_out {
	struct util_buf b;
	int64_t last;
	int n;
};

static int events_add(const struct store_event *ev, void *opaque)
{
	struct events_out *o = opaque;
	char time[40], *line;
	json_t *j;

	util_time_str(ev->time, time, sizeof(time));
	j = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?}", "id", (json_int_t)ev->seq, "time", time,
		      "type", ev->kind, "subject", ev->subject[0] ? ev->subject : NULL, "name",
		      ev->name[0] ? ev->name : NULL, "detail", ev->detail);
	line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!line)
		return -ENOMEM;
	util_buf_puts(&o->b, line);
	util_buf_puts(&o->b, "\n");
	free(line);
	o->last = ev->seq;
	o->n++;
	return o->b.oom ? -ENOMEM : 0;
}

/* Events after *after into o (at most EVENTS_BATCH); advances *after. 0 or -errno. */
static int events_batch(struct daemon *d, const char *subject, int64_t *after, int64_t since_ms,
			struct events_out *o)
{
	int ret;

	o->last = *after;
	o->n = 0;
	ret = store_event_list(d->store, *after, since_ms, subject[0] ? subject : NULL,
			       EVENTS_BATCH, events_add, o);
	*after = o->last;
	return ret;
}

static void events_follow_tick(uv_timer_t *t)
{
	struct events_follow *f = t->data;
	struct events_out o;

	do {
		o = (struct events_out){0};
		if (events_batch(f->d, f->subject, &f->after, f->since_ms, &o) < 0) {
			util_buf_free(&o.b);
			http_poll_end(&f->poll);
			return;
		}
		if (o.b.len)
			http_stream_write(f->poll.req, o.b.s, o.b.len);
		util_buf_free(&o.b);
	} while (o.n == EVENTS_BATCH && !http_req_gone(f->poll.req));
	if (f->d->stopping)
		http_poll_end(&f->poll);
}

void events_api_get(struct daemon *d, struct http_req *req)
{
	struct events_follow *f;
	struct store_instance inst;
	struct events_out o;
	struct util_buf all = {0};
	char since[64], ref[STORE_NAME_MAX], follow[8];
	int64_t after = 0, since_ms = 0;
	int r, ret;

	if ((r = http_query(req, "since", 0, since, sizeof(since))) < 0 ||
	    (r > 0 && events_parse_since(since, util_now_ms(), &after, &since_ms) < 0)) {
		http_respond_error(
			req, 400, "bad_query",
			"since must be an event id, an RFC 3339 time like 2026-01-31T10:00:00Z "
			"or a duration like 10m");
		return;
	}
	if (!(f = calloc(1, sizeof(*f)))) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	if ((r = http_query(req, "instance", 0, ref, sizeof(ref))) < 0) {
		http_respond_error(req, 400, "bad_query", "malformed instance parameter");
		goto free_f;
	}
	if (r > 0) {
		if ((ret = store_instance_find(d->store, ref, &inst)) < 0) {
			if (ret == -ENOENT)
				http_respond_error(req, 404, "instance_not_found", "no instance %s",
						   ref);
			else
				http_respond_error(req, ret == -EINVAL ? 409 : 500,
						   ret == -EINVAL ? "ambiguous" : "store_error",
						   "cannot resolve instance %s", ref);
			goto free_f;
		}
		snprintf(f->subject, sizeof(f->subject), "%s", inst.id);
		store_instance_clear(&inst);
	}
	f->d = d;
	f->after = after;
	f->since_ms = since_ms;
	r = http_query(req, "follow", 0, follow, sizeof(follow));
	if (r > 0 && (!strcmp(follow, "1") || !strcmp(follow, "true") || !follow[0])) {
		http_poll_start(&f->poll, d->loop, req, "application/x-ndjson", events_follow_tick,
				EVENTS_POLL_MS);
		return;
	}
	/* The whole log up to now in one answer. */
	do {
		o = (struct events_out){0};
		if ((ret = events_batch(d, f->subject, &f->after, since_ms, &o)) < 0) {
			util_buf_free(&o.b);
			util_buf_free(&all);
			http_respond_error(req, 500, "store_error", "cannot read the events");
			goto free_f;
		}
		if (o.b.len)
			util_buf_add(&all, o.b.s, o.b.len);
		util_buf_free(&o.b);
	} while (o.n == EVENTS_BATCH);
	if (all.oom)
		http_respond_error(req, 500, "internal", "out of memory");
	else
		http_respond(req, 200, "application/x-ndjson", all.s ? all.s : "", all.len, NULL);
	util_buf_free(&all);
free_f:
	free(f);
}
