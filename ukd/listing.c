/* listing.c: see listing.h. */
#define _GNU_SOURCE
#include "listing.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"

/* One instance's text and the row it was rendered from (pointers kept apart). */
struct listing_entry {
	struct store_instance row; /* spec and message NULL */
	char *spec, *message;
	char *json;
	size_t len;
};

/* Kept in listing order (by creation), so an unchanged list hits entry i at row i. */
static struct {
	struct listing_entry *v;
	size_t n, cap;
	struct listing_body *body; /* the last body, for store_changes() == changes */
	int64_t changes;
} listing;

struct listing_walk {
	struct util_buf *out;
	size_t i;
	int ret;
};

static void listing_entry_clear(struct listing_entry *e)
{
	free(e->spec);
	free(e->message);
	free(e->json);
	memset(e, 0, sizeof(*e));
}

/*
 * 1 if e was rendered from inst. The rows' fixed fields are compared as
 * bytes (store_instance_row zeroes each row first, padding included), so a
 * field added to the row later is compared too.
 */
static int listing_same(const struct listing_entry *e, const struct store_instance *inst)
{
	struct store_instance plain;

	memcpy(&plain, inst, sizeof(plain)); /* padding too, unlike an assignment */
	plain.spec = plain.message = NULL;
	return e->json && !memcmp(&e->row, &plain, sizeof(plain)) && !strcmp(e->spec, inst->spec) &&
	       ((!e->message && !inst->message) ||
		(e->message && inst->message && !strcmp(e->message, inst->message)));
}

static int listing_render(struct listing_entry *e, const struct store_instance *inst)
{
	json_t *o = instance_json(inst);

	listing_entry_clear(e);
	e->json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	e->spec = strdup(inst->spec);
	e->message = inst->message ? strdup(inst->message) : NULL;
	if (!e->json || !e->spec || (inst->message && !e->message)) {
		listing_entry_clear(e);
		return -ENOMEM;
	}
	e->len = strlen(e->json);
	memcpy(&e->row, inst, sizeof(e->row));
	e->row.spec = e->row.message = NULL;
	return 0;
}

static int listing_row(const struct store_instance *inst, void *opaque)
{
	struct listing_walk *w = opaque;
	struct listing_entry *e;
	int ret;

	if (w->i == listing.cap) {
		size_t cap = listing.cap ? listing.cap * 2 : 64;
		void *p = realloc(listing.v, cap * sizeof(*listing.v));

		if (!p)
			return -ENOMEM;
		listing.v = p;
		memset(listing.v + listing.cap, 0, (cap - listing.cap) * sizeof(*listing.v));
		listing.cap = cap;
	}
	e = &listing.v[w->i];
	if (!listing_same(e, inst) && (ret = listing_render(e, inst)) < 0)
		return ret;
	if (w->i++)
		util_buf_add(w->out, ",", 1);
	util_buf_add(w->out, e->json, e->len);
	return w->out->oom ? -ENOMEM : 0;
}

static int listing_render_all(struct store *st, struct util_buf *out)
{
	struct listing_walk w = {.out = out};
	int ret;

	util_buf_add(out, "[", 1);
	ret = store_instance_list(st, listing_row, &w);
	/* Entries past the end belong to instances deleted since. */
	for (size_t i = w.i; i < listing.n; i++)
		listing_entry_clear(&listing.v[i]);
	listing.n = ret < 0 ? 0 : w.i;
	if (ret < 0) {
		listing_clear();
		return ret;
	}
	util_buf_add(out, "]", 1);
	return out->oom ? -ENOMEM : 0;
}

void listing_release(void *p)
{
	struct listing_body *b = p;

	if (b && --b->refs == 0)
		free(b);
}

struct listing_body *listing_instances(struct store *st, int *err)
{
	struct util_buf out = {0};
	int64_t changes = store_changes(st);
	struct listing_body *b;

	if (listing.body && listing.changes == changes) {
		listing.body->refs++;
		return listing.body;
	}
	/* Sized like the last one, so the text is not copied as it grows. */
	if (listing.body && (out.s = malloc(listing.body->len + 4096)))
		out.cap = listing.body->len + 4096;
	if ((*err = listing_render_all(st, &out)) < 0) {
		util_buf_free(&out);
		return NULL;
	}
	if (!(b = malloc(sizeof(*b) + out.len + 1))) {
		util_buf_free(&out);
		*err = -ENOMEM;
		return NULL;
	}
	b->refs = 2; /* the caller's and the cache's */
	b->len = out.len;
	memcpy(b->data, out.s, out.len + 1);
	util_buf_free(&out);
	listing_release(listing.body);
	listing.body = b;
	listing.changes = changes;
	return b;
}

void listing_clear(void)
{
	listing_release(listing.body);
	for (size_t i = 0; i < listing.cap; i++)
		listing_entry_clear(&listing.v[i]);
	free(listing.v);
	memset(&listing, 0, sizeof(listing));
}
