/*
 * restart.c: restart policies and their timers (see restart.h).
 */
#define _GNU_SOURCE
#include "restart.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

struct restart_timer {
	uv_timer_t timer;
	struct daemon *d;
	char id[STORE_INSTANCE_ID_LEN + 1];
	restart_due_fn due;
	struct restart_timer *next;
};

int restart_parse(const char *s, struct restart_policy *out, char *err, size_t len)
{
	static const char hint[] = "use no, on-failure[:MAX], always or unless-stopped";
	const char *p;
	unsigned long max = 0;

	memset(out, 0, sizeof(*out));
	if (!strcmp(s, "no")) {
		out->mode = RESTART_NO;
		return 0;
	}
	if (!strcmp(s, "always")) {
		out->mode = RESTART_ALWAYS;
		return 0;
	}
	if (!strcmp(s, "unless-stopped")) {
		out->mode = RESTART_UNLESS_STOPPED;
		return 0;
	}
	if (strncmp(s, "on-failure", 10) || (s[10] && s[10] != ':')) {
		snprintf(err, len, "restart policy \"%.40s\" is unknown: %s", s, hint);
		return -EINVAL;
	}
	out->mode = RESTART_ON_FAILURE;
	if (!s[10])
		return 0;
	/* Digits only, no sign or blanks, and a bound: strtoul alone accepts " -1". */
	p = s + 11;
	if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 7 ||
	    (max = strtoul(p, NULL, 10)) < 1 || max > RESTART_MAX_LIMIT) {
		snprintf(err, len,
			 "restart policy \"%.40s\": MAX must be a number of restarts from 1 to %d",
			 s, RESTART_MAX_LIMIT);
		return -EINVAL;
	}
	out->max = (unsigned)max;
	return 0;
}

void restart_format(const struct restart_policy *p, char *buf, size_t len)
{
	switch (p->mode) {
	case RESTART_ON_FAILURE:
		if (p->max)
			snprintf(buf, len, "on-failure:%u", p->max);
		else
			snprintf(buf, len, "on-failure");
		break;
	case RESTART_ALWAYS: snprintf(buf, len, "always"); break;
	case RESTART_UNLESS_STOPPED: snprintf(buf, len, "unless-stopped"); break;
	default: snprintf(buf, len, "no"); break;
	}
}

void restart_of_spec(const char *spec_json, struct restart_policy *out)
{
	json_t *spec = json_loads(spec_json, 0, NULL);
	const char *s = json_string_value(json_object_get(spec, "restart"));
	char err[128];

	if (!s || restart_parse(s, out, err, sizeof(err)) < 0)
		memset(out, 0, sizeof(*out));
	json_decref(spec);
}

int restart_wanted(const struct restart_policy *p, int failed)
{
	switch (p->mode) {
	case RESTART_ON_FAILURE: return failed;
	case RESTART_ALWAYS:
	case RESTART_UNLESS_STOPPED: return 1;
	default: return 0;
	}
}

int64_t restart_delay_ms(int64_t streak)
{
	int64_t ms = RESTART_DELAY_MIN_MS;

	for (int64_t i = 0; i < streak && ms < RESTART_DELAY_MAX_MS; i++)
		ms *= 2;
	return ms < RESTART_DELAY_MAX_MS ? ms : RESTART_DELAY_MAX_MS;
}

int restart_limit_hit(const struct restart_policy *p, int64_t streak)
{
	return p->mode == RESTART_ON_FAILURE && p->max && streak >= p->max;
}

/* --- timers --- */

static struct restart_timer **restart_find(struct daemon *d, const char *id)
{
	struct restart_timer **pp;

	for (pp = &d->restarts; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->id, id))
			return pp;
	return NULL;
}

static void restart_free(uv_handle_t *h)
{
	free(h->data);
}

static void restart_unlink(struct restart_timer **pp)
{
	struct restart_timer *t = *pp;

	*pp = t->next;
	uv_timer_stop(&t->timer);
	uv_close((uv_handle_t *)&t->timer, restart_free);
}

static void restart_fire(uv_timer_t *h)
{
	struct restart_timer *t = h->data;
	struct restart_timer **pp = restart_find(t->d, t->id);
	char id[STORE_INSTANCE_ID_LEN + 1];
	struct daemon *d = t->d;
	restart_due_fn due = t->due;

	snprintf(id, sizeof(id), "%s", t->id);
	/* Gone before the call: the handler may schedule the next restart. */
	if (pp && *pp == t)
		restart_unlink(pp);
	due(d, id);
}

int restart_schedule(struct daemon *d, const char *id, int64_t due_ms, restart_due_fn due)
{
	struct restart_timer **pp = restart_find(d, id), *t;
	int64_t delay = due_ms - util_now_ms();

	if (pp) {
		t = *pp;
	} else {
		if (!(t = calloc(1, sizeof(*t))))
			return -ENOMEM;
		uv_timer_init(d->loop, &t->timer);
		t->timer.data = t;
		t->d = d;
		snprintf(t->id, sizeof(t->id), "%s", id);
		t->next = d->restarts;
		d->restarts = t;
	}
	t->due = due;
	uv_timer_start(&t->timer, restart_fire, delay > 0 ? (uint64_t)delay : 0, 0);
	return 0;
}

void restart_cancel(struct daemon *d, const char *id)
{
	struct restart_timer **pp = restart_find(d, id);

	if (pp)
		restart_unlink(pp);
}

int restart_pending(struct daemon *d, const char *id)
{
	return restart_find(d, id) != NULL;
}

void restart_close_all(struct daemon *d)
{
	while (d->restarts)
		restart_unlink(&d->restarts);
}
