/*
 * listing.h: the body of GET /v1/instances, fast with many instances.
 *
 * Two levels of reuse. While the store has not changed at all
 * (store_changes), the last body is answered again as it is, without a copy.
 * Otherwise the rows are read, and rendering an instance (instance_json,
 * then text), which costs far more than reading its row, is skipped for
 * each row that is unchanged: the row is compared field by field with the
 * one its text was made from. Both rely on instance_json being a function
 * of the row alone (instance.h says so).
 */
#ifndef LISTING_H
#define LISTING_H

#include "store.h"
#include "util.h"

/* A finished body, shared by the responses that send it (reference counted). */
struct listing_body {
	int refs;
	size_t len;
	char data[]; /* the JSON array, oldest instance first */
};

/* The current body (a new reference: listing_release it), or NULL with -errno in *err. */
struct listing_body *listing_instances(struct store *st, int *err);

/* Drops a reference (void * so that it can be http_respond_borrowed's release). */
void listing_release(void *body);

/* Drops the kept texts and body (daemon shutdown). */
void listing_clear(void);

#endif
