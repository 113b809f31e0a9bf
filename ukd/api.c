/*
 * api.c: routes of the REST API (see api.h).
 *
 * Paths are split into segments and matched against a small table; a known
 * path with another method is 405 with an Allow header, anything else 404.
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capacity.h"
#include "console.h"
#include "events.h"
#include "health.h"
#include "image.h"
#include "instance.h"
#include "listing.h"
#include "log.h"
#include "logtime.h"
#include "network.h"
#include "since.h"
#include "stats.h"
#include "store.h"
#include "util.h"
#include "virt.h"

#ifndef UKD_VERSION
#define UKD_VERSION "0.1.0"
#endif

#define API_SEGS_MAX 6
#define API_QUERY_LIST_MAX 256
#define API_FOLLOW_POLL_MS 200
/* A follower that reads slower than the guest writes gets no more than this queued. */
#define API_FOLLOW_QUEUED_MAX (1u << 20)
/* Build output held for a slow stream reader; more is dropped (the error keeps its end). */
#define API_STREAM_PENDING_MAX (1u << 20)

struct api_ctx {
	struct daemon *d;
	struct http_req *req;
	const char *seg[API_SEGS_MAX];
	int nseg;
	char *pathbuf;
};

typedef void (*api_fn)(struct api_ctx *c);

struct api_route {
	int method;
	const char *pattern[API_SEGS_MAX]; /* "*" matches one segment */
	api_fn fn;
};

/* Parses the body as a JSON object; answers 400 and returns NULL if it is not one. */
static json_t *api_body_json(struct http_req *req)
{
	json_error_t je;
	json_t *o;

	if (!req->body_len) {
		http_respond_error(req, 400, "invalid_json", "a JSON object body is required");
		return NULL;
	}
	o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		http_respond_error(req, 400, "invalid_json",
				   "malformed JSON at line %d column %d: %s", je.line, je.column,
				   je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		http_respond_error(req, 400, "invalid_json", "the body must be a JSON object");
		return NULL;
	}
	return o;
}

/* An integer query parameter in [lo, hi]; def if absent. -1 (answered 400) if malformed. */
static int api_query_int(struct http_req *req, const char *key, long lo, long hi, long def,
			 long *out)
{
	char buf[32], *end;
	int r = http_query(req, key, 0, buf, sizeof(buf));

	*out = def;
	if (r == 0)
		return 0;
	if (r > 0 && buf[0] >= '0' && buf[0] <= '9') {
		*out = strtol(buf, &end, 10);
		if (!*end && *out >= lo && *out <= hi)
			return 0;
	}
	http_respond_error(req, 400, "bad_query",
			   "query parameter %s must be an integer from %ld "
			   "to %ld",
			   key, lo, hi);
	return -1;
}

/* ?force=1 / true. */
static int api_query_bool(struct http_req *req, const char *key)
{
	char buf[8];

	if (http_query(req, key, 0, buf, sizeof(buf)) <= 0)
		return 0;
	return !strcmp(buf, "1") || !strcmp(buf, "true") || !buf[0];
}

/* --- system --- */

static int api_count_image(const struct store_image *img, void *opaque)
{
	(void)img;
	++*(json_int_t *)opaque;
	return 0;
}

/* Counts instances into {"total": N, "by_state": {STATE: N}}. */
static int api_count_instance(const struct store_instance *inst, void *opaque)
{
	json_t *by_state = json_object_get(opaque, "by_state");
	json_t *n = json_object_get(by_state, inst->observed);

	json_object_set_new(opaque, "total",
			    json_integer(json_integer_value(json_object_get(opaque, "total")) + 1));
	return json_object_set_new(by_state, inst->observed,
				   json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* A string field, or nothing (json_pack's s:o? leaves NULL out). */
static json_t *api_opt_str(const char *s)
{
	return s[0] ? json_string(s) : NULL;
}

static void api_system_info(struct api_ctx *c)
{
	struct daemon *d = c->d;
	const struct virt_host *h = &d->host;
	json_t *instances = json_pack("{s:i, s:{}}", "total", 0, "by_state");
	json_int_t images = 0;
	struct capacity cap;

	if (!instances || capacity_get(d, NULL, &cap) < 0 ||
	    store_image_list(d->store, api_count_image, &images) < 0 ||
	    store_instance_list(d->store, api_count_instance, instances) < 0) {
		json_decref(instances);
		http_respond_error(c->req, 500, "store_error", "cannot count images and instances");
		return;
	}
	http_respond_json_value(
		c->req, 200,
		json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:b, s:s?, s:o?, s:o?, s:o?}, "
			  "s:{s:I, s:I}, s:{s:I, s:I, s:f}, s:I, s:o}",
			  "version", UKD_VERSION, "root", d->cfg->root, "accelerator",
			  d->kvm ? "kvm" : "tcg", "accelerator_reason", d->accel_reason,
			  "schema_version", store_schema_version(), "libvirt", "uri",
			  d->cfg->libvirt_uri, "connected", d->connected, "error",
			  d->connected ? NULL : d->libvirt_error, "version",
			  api_opt_str(h->libvirt_version), "hypervisor", api_opt_str(h->hypervisor),
			  "hypervisor_version", api_opt_str(h->hypervisor_version), "host", "cpus",
			  (json_int_t)h->cpus, "memory_mib", (json_int_t)(h->memory_kib >> 10),
			  "capacity", "memory_limit_mib", (json_int_t)cap.limit_mib,
			  "memory_committed_mib", (json_int_t)cap.committed_mib, "overcommit",
			  d->cfg->mem_overcommit > 0 ? d->cfg->mem_overcommit
						     : CAPACITY_RATIO_DEFAULT,
			  "images", images, "instances", instances));
}

/* --- images --- */

static json_t *api_image_json(const struct store_image *img)
{
	char id[80], created[40];

	snprintf(id, sizeof(id), "sha256:%s", img->id);
	util_time_str(img->created, created, sizeof(created));
	return json_pack("{s:s, s:s?, s:s?, s:I, s:i, s:s}", "id", id, "name",
			 img->name[0] ? img->name : NULL, "tag", img->tag[0] ? img->tag : NULL,
			 "size", (json_int_t)img->size, "memory_mib", (int)img->mem_mib, "created",
			 created);
}

static int api_image_add(const struct store_image *img, void *opaque)
{
	return json_array_append_new(opaque, api_image_json(img)) < 0 ? -ENOMEM : 0;
}

static void api_images_list(struct api_ctx *c)
{
	json_t *a = json_array();

	if (!a || store_image_list(c->d->store, api_image_add, a) < 0) {
		json_decref(a);
		http_respond_error(c->req, 500, "store_error", "cannot list images");
		return;
	}
	http_respond_json_value(c->req, 200, a);
}

static int api_image_lookup(struct api_ctx *c, const char *ref, struct store_image *img)
{
	int ret = store_image_find(c->d->store, ref, img);

	if (ret == -ENOENT)
		http_respond_error(c->req, 404, "image_not_found", "no image %s", ref);
	else if (ret == -EINVAL)
		http_respond_error(c->req, 409, "ambiguous", "%s matches more than one image", ref);
	else if (ret < 0)
		http_respond_error(c->req, 500, "store_error", "the store failed");
	return ret;
}

static void api_image_get(struct api_ctx *c)
{
	struct store_image img;

	if (api_image_lookup(c, c->seg[2], &img) == 0)
		http_respond_json_value(c->req, 200, api_image_json(&img));
}

static void api_image_delete(struct api_ctx *c)
{
	struct store_image img;
	int users, ret;

	if (api_image_lookup(c, c->seg[2], &img) < 0)
		return;
	users = store_image_users(c->d->store, img.id);
	if (users < 0) {
		http_respond_error(c->req, 500, "store_error", "the store failed");
		return;
	}
	if (users > 0 && !api_query_bool(c->req, "force")) {
		http_respond_error(c->req, 409, "image_in_use",
				   "image %s is used by %d instance(s); delete them first or use "
				   "?force=1",
				   c->seg[2], users);
		return;
	}
	if ((ret = store_image_delete(c->d->store, img.id)) < 0) {
		http_respond_error(c->req, 500, "store_error", "cannot delete: %s", strerror(-ret));
		return;
	}
	/*
	 * The row goes first: a crash in between leaves an unreferenced file
	 * (the next ukd removes it: image_sweep), never a row without its file.
	 * A running guest keeps the bytes it loaded.
	 */
	if ((ret = image_remove(c->d->cfg->root, img.id)) < 0)
		log_warn("image sha256:%s: cannot remove its file: %s", img.id, strerror(-ret));
	log_info("image sha256:%s deleted", img.id);
	http_respond(c->req, 204, NULL, "", 0, NULL);
}

struct api_ingest {
	uv_work_t work;
	struct daemon *d;
	struct http_req *req;
	struct image_in in;
	struct image_out out;
	char name[STORE_NAME_MAX], tag[STORE_NAME_MAX];
	char **env, **args;
	size_t nenv, nargs;
	/*
	 * ?stream=1: the build's output travels from the worker through
	 * pending (under lock) and the async handle to the response.
	 */
	int stream;
	uv_async_t async;
	pthread_mutex_t lock;
	struct util_buf pending;
	struct build_output log;
};

static void api_ingest_free(struct api_ingest *g)
{
	if (g->stream) {
		pthread_mutex_destroy(&g->lock);
		util_buf_free(&g->pending);
	}
	for (size_t i = 0; i < g->nenv; i++)
		free(g->env[i]);
	for (size_t i = 0; i < g->nargs; i++)
		free(g->args[i]);
	free(g->env);
	free(g->args);
	free(g);
}

static void api_ingest_work(uv_work_t *w)
{
	struct api_ingest *g = w->data;

	image_ingest(&g->in, &g->out);
}

/* On the building thread: keeps the output for the loop (bounded) and wakes it. */
static void api_ingest_output(const char *data, size_t len, void *opaque)
{
	struct api_ingest *g = opaque;

	pthread_mutex_lock(&g->lock);
	if (g->pending.len < API_STREAM_PENDING_MAX)
		util_buf_add(&g->pending, data, len);
	pthread_mutex_unlock(&g->lock);
	uv_async_send(&g->async);
}

/* One NDJSON line of the build stream. */
static void api_stream_json(struct http_req *req, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text) {
		http_stream_write(req, text, strlen(text));
		http_stream_write(req, "\n", 1);
	}
	free(text);
	json_decref(o);
}

/* Sends what the build said since the last time as {"stream": TEXT}. */
static void api_ingest_flush(uv_async_t *a)
{
	struct api_ingest *g = a->data;
	struct util_buf b;

	pthread_mutex_lock(&g->lock);
	b = g->pending;
	memset(&g->pending, 0, sizeof(g->pending));
	pthread_mutex_unlock(&g->lock);
	if (!b.len) {
		util_buf_free(&b);
		return;
	}
	/* Compiler output is ASCII under LC_ALL=C; anything else must not break the JSON. */
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.s[i] >= 0x80 || !b.s[i])
			b.s[i] = '?';
	api_stream_json(g->req, json_pack("{s:s#}", "stream", b.s, (int)b.len));
	util_buf_free(&b);
}

static void api_ingest_closed(uv_handle_t *h)
{
	api_ingest_free(h->data);
}

/* The outcome, as a response or as the stream's last line. */
static void api_ingest_answer(struct api_ingest *g, int status, json_t *image, const char *code,
			      const char *msg)
{
	if (!g->stream) {
		if (image)
			http_respond_json_value(g->req, status, image);
		else
			http_respond_error(g->req, status, code, "%s", msg);
		return;
	}
	api_ingest_flush(&g->async);
	if (image)
		api_stream_json(g->req, json_pack("{s:o, s:i}", "image", image, "status", status));
	else
		api_stream_json(g->req, json_pack("{s:{s:s, s:s}, s:i}", "error", "code", code,
						  "message", msg, "status", status));
	http_stream_end(g->req);
}

/*
 * A failed upload that placed its file (no row lists it): removed, unless
 * another upload is being built (it may be of the same bytes and count on
 * the file) or a row lists it after all. ukd's next start removes what is
 * left unlisted.
 */
static void api_ingest_unplace(struct api_ingest *g)
{
	struct store_image img;
	char ref[STORE_IMAGE_ID_LEN + 8];
	int ret;

	if (!g->out.placed || g->d->ingests)
		return;
	snprintf(ref, sizeof(ref), "sha256:%s", g->out.img.id);
	if (store_image_find(g->d->store, ref, &img) != -ENOENT)
		return;
	if ((ret = image_remove(g->d->cfg->root, g->out.img.id)) < 0)
		log_warn("image sha256:%s: cannot remove its file: %s", g->out.img.id,
			 strerror(-ret));
}

static void api_ingest_done(uv_work_t *w, int status)
{
	struct api_ingest *g = w->data;
	struct store_image *img = &g->out.img;
	char msg[512];
	int ret;

	(void)status;
	g->d->ingests--;
	if (g->out.status) {
		api_ingest_unplace(g);
		log_info("image upload refused: %s", g->out.msg);
		api_ingest_answer(g, g->out.status, NULL, g->out.code, g->out.msg);
		goto free_g;
	}
	snprintf(img->tag, sizeof(img->tag), "%s", g->tag);
	if ((ret = store_image_put(g->d->store, img)) < 0) {
		snprintf(msg, sizeof(msg), "cannot record the image: %s", strerror(-ret));
		api_ingest_unplace(g);
		api_ingest_answer(g, ret == -ENOSPC ? 507 : 500, NULL,
				  ret == -ENOSPC ? "insufficient_storage" : "store_error", msg);
		goto free_g;
	}
	/* The stored row (created time of the first upload if it existed). */
	store_image_find(g->d->store, img->id, img);
	log_info("image %s:%s stored as sha256:%s (%lld bytes)", img->name, img->tag, img->id,
		 (long long)img->size);
	api_ingest_answer(g, g->out.existed ? 200 : 201, api_image_json(img), NULL, NULL);
free_g:
	if (g->stream)
		uv_close((uv_handle_t *)&g->async, api_ingest_closed);
	else
		api_ingest_free(g);
}

/*
 * ?stream=1: answers 200 at once with a chunked NDJSON stream of the build
 * ({"stream": TEXT}... then {"image": ...} or {"error": ...}, with the
 * status the plain request would have had). Returns 0 or -1 (answered 500).
 */
static int api_ingest_stream(struct api_ctx *c, struct api_ingest *g)
{
	int ret;

	if ((ret = uv_async_init(c->d->loop, &g->async, api_ingest_flush)) < 0) {
		http_respond_error(c->req, 500, "internal", "cannot stream: %s", uv_strerror(ret));
		return -1;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->async.data = g;
	g->stream = 1;
	g->log.fn = api_ingest_output;
	g->log.opaque = g;
	g->in.log = &g->log;
	http_stream_begin(c->req, 200, "application/x-ndjson");
	return 0;
}

/* Collects a repeated query parameter (env=K=V or arg=X). Returns 0 or -1 (answered). */
static int api_query_list(struct http_req *req, const char *key, char ***list, size_t *n)
{
	char buf[4096];
	int r;

	*list = calloc(API_QUERY_LIST_MAX + 1, sizeof(char *));
	if (!*list)
		return http_respond_error(req, 500, "internal", "out of memory"), -1;
	while ((r = http_query(req, key, (int)*n, buf, sizeof(buf))) > 0) {
		if (*n == API_QUERY_LIST_MAX)
			return http_respond_error(req, 400, "bad_query", "too many %s parameters",
						  key),
			       -1;
		if (!((*list)[(*n)++] = strdup(buf)))
			return http_respond_error(req, 500, "internal", "out of memory"), -1;
	}
	if (r < 0)
		return http_respond_error(req, 400, "bad_query", "malformed %s parameter", key), -1;
	return 0;
}

/* ?name=NAME[:TAG] into g. Returns 0 or -1 (answered). */
static int api_ingest_name(struct api_ctx *c, struct api_ingest *g, int is_tar)
{
	char ref[2 * STORE_NAME_MAX], *colon;
	int r = http_query(c->req, "name", 0, ref, sizeof(ref));

	snprintf(g->tag, sizeof(g->tag), "latest");
	if (r < 0 || (r == 0 && !is_tar)) {
		http_respond_error(c->req, r < 0 ? 400 : 422, "bad_name",
				   "give the image a name: ?name=NAME[:TAG]");
		return -1;
	}
	if (r == 0)
		return 0;
	if ((colon = strrchr(ref, ':'))) {
		*colon = 0;
		if (!image_tag_ok(colon + 1)) {
			http_respond_error(c->req, 422, "bad_name",
					   "tag \"%.100s\": use letters, digits, '.', '_' and '-'",
					   colon + 1);
			return -1;
		}
		snprintf(g->tag, sizeof(g->tag), "%.127s", colon + 1);
	}
	if (!image_name_ok(ref)) {
		http_respond_error(c->req, 422, "bad_name",
				   "image name \"%.100s\": use lowercase letters, digits, '.', '_' "
				   "and '-', starting with a letter or digit",
				   ref);
		return -1;
	}
	snprintf(g->name, sizeof(g->name), "%.127s", ref);
	g->in.name = g->name;
	return 0;
}

static int api_content_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	return !strncasecmp(ct, type, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static void api_images_post(struct api_ctx *c)
{
	struct http_req *req = c->req;
	const char *ct = req->content_type;
	struct api_ingest *g;
	long mem;
	int is_tar, ret;

	if (api_content_is(ct, "application/x-tar") || api_content_is(ct, "application/gzip") ||
	    api_content_is(ct, "application/x-gzip")) {
		is_tar = 1;
	} else if (api_content_is(ct, "application/octet-stream")) {
		is_tar = 0;
	} else {
		http_respond_error(req, 415, "unsupported_media_type",
				   "send a static ELF as application/octet-stream or a build "
				   "context as application/x-tar");
		return;
	}
	if (!req->body_len) {
		http_respond_error(req, 400, "empty_body", "the request has no body");
		return;
	}
	if (!(g = calloc(1, sizeof(*g)))) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	g->d = c->d;
	g->req = req;
	g->work.data = g;
	if (api_ingest_name(c, g, is_tar) < 0 ||
	    api_query_int(req, "mem", 1, INSTANCE_MEM_MAX, 0, &mem) < 0 ||
	    api_query_list(req, "env", &g->env, &g->nenv) < 0 ||
	    api_query_list(req, "arg", &g->args, &g->nargs) < 0)
		goto free_g;
	for (size_t i = 0; i < g->nenv; i++) {
		if (!strchr(g->env[i], '=') || g->env[i][0] == '=') {
			http_respond_error(req, 422, "bad_env", "env \"%.100s\": expected K=V",
					   g->env[i]);
			goto free_g;
		}
	}
	g->in.root = c->d->cfg->root;
	g->in.runtime = c->d->cfg->runtime;
	g->in.runtime_size = c->d->cfg->runtime_size;
	g->in.body = req->body;
	g->in.len = req->body_len;
	g->in.is_tar = is_tar;
	g->in.mem_mib = (unsigned)mem;
	g->in.env = (const char **)g->env;
	g->in.nenv = g->nenv;
	g->in.args = (const char **)g->args;
	g->in.nargs = g->nargs;
	g->in.args_set = g->nargs > 0;
	if (api_query_bool(req, "stream") && api_ingest_stream(c, g) < 0)
		goto free_g;
	if ((ret = uv_queue_work(c->d->loop, &g->work, api_ingest_work, api_ingest_done)) < 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "cannot queue the build: %s", uv_strerror(ret));
		api_ingest_answer(g, 500, NULL, "internal", msg);
		if (g->stream) {
			uv_close((uv_handle_t *)&g->async, api_ingest_closed);
			return;
		}
		goto free_g;
	}
	c->d->ingests++;
	return;
free_g:
	api_ingest_free(g);
}

/* --- instances --- */

/* The body comes from listing.c, which reuses what has not changed since the last one. */
static void api_instances_list(struct api_ctx *c)
{
	struct listing_body *b;
	int err;

	if (!(b = listing_instances(c->d->store, &err)))
		http_respond_error(c->req, 500, "store_error", "cannot list instances: %s",
				   strerror(-err));
	else
		http_respond_borrowed(c->req, 200, "application/json", b->data, b->len,
				      listing_release, b);
}

static void api_instances_post(struct api_ctx *c)
{
	json_t *body = api_body_json(c->req);

	if (!body)
		return;
	instance_create(c->d, c->req, body);
	json_decref(body);
}

static int api_instance_lookup(struct api_ctx *c, struct store_instance *inst)
{
	int ret = store_instance_find(c->d->store, c->seg[2], inst);

	if (ret == -ENOENT)
		http_respond_error(c->req, 404, "instance_not_found", "no instance %s", c->seg[2]);
	else if (ret == -EINVAL)
		http_respond_error(c->req, 409, "ambiguous", "%s matches more than one instance",
				   c->seg[2]);
	else if (ret < 0)
		http_respond_error(c->req, 500, "store_error", "the store failed");
	return ret;
}

static void api_instance_get(struct api_ctx *c)
{
	struct store_instance inst;

	if (api_instance_lookup(c, &inst) < 0)
		return;
	http_respond_json_value(c->req, 200, instance_json(&inst));
	store_instance_clear(&inst);
}

static void api_instance_delete(struct api_ctx *c)
{
	instance_act(c->d, c->req, c->seg[2], INSTANCE_DELETE, 0, api_query_bool(c->req, "force"));
}

static void api_instance_start(struct api_ctx *c)
{
	instance_act(c->d, c->req, c->seg[2], INSTANCE_START, 0, 0);
}

static void api_instance_stop(struct api_ctx *c)
{
	long t;

	if (api_query_int(c->req, "t", 0, 3600, 10, &t) == 0)
		instance_act(c->d, c->req, c->seg[2], INSTANCE_STOP, (int)t, 0);
}

static void api_instance_restart(struct api_ctx *c)
{
	long t;

	if (api_query_int(c->req, "t", 0, 3600, 10, &t) == 0)
		instance_act(c->d, c->req, c->seg[2], INSTANCE_RESTART, (int)t, 0);
}

static void api_events(struct api_ctx *c)
{
	events_api_get(c->d, c->req);
}

static void api_instance_kill(struct api_ctx *c)
{
	instance_act(c->d, c->req, c->seg[2], INSTANCE_KILL, 0, 0);
}

/* A log follower: polls the console file and streams what is new until the run ends. */
struct api_follow {
	struct http_poll poll; /* first: http_poll_end frees the struct */
	struct daemon *d;
	char id[STORE_INSTANCE_ID_LEN + 1];
	char dir[PATH_MAX]; /* the instance's directory */
	long long off;
};

static void api_follow_tick(uv_timer_t *t)
{
	struct api_follow *f = t->data;
	struct store_instance inst;
	char *buf;
	size_t len;
	int active = 0, behind = 0;

	/* Whether it still runs is read before the file, so no last words are missed. */
	if (store_instance_find(f->d->store, f->id, &inst) == 0) {
		active = instance_active(&inst);
		store_instance_clear(&inst);
	}
	/*
	 * A slow client's backlog stays on disk, not in ukd's memory: it reads
	 * on where it is once the socket took its queue, from the oldest byte
	 * still on disk if the log rotated past it meanwhile.
	 */
	while (!f->poll.ended && !http_req_gone(f->poll.req)) {
		if ((behind = http_req_queued(f->poll.req) >= API_FOLLOW_QUEUED_MAX))
			break;
		if (console_read_from(f->dir, &f->off, 256u << 10, &buf, &len) < 0)
			break;
		http_stream_write(f->poll.req, buf, len);
		free(buf);
		if (!len)
			break;
	}
	if ((!active && !behind) || f->d->stopping)
		http_poll_end(&f->poll);
}

/* ?since=T into *ms (0: absent). Returns 0, or -1 (answered 400). */
static int api_query_since(struct http_req *req, int64_t *ms)
{
	char buf[80];
	int r = http_query(req, "since", 0, buf, sizeof(buf));

	*ms = 0;
	if (r == 0)
		return 0;
	if (r > 0 && since_parse(buf, util_now_ms(), ms) == 0)
		return 0;
	http_respond_error(req, 400, "bad_query",
			   "since must be an RFC 3339 time (2024-05-01T10:00:00Z), a duration "
			   "before now (10m, 1h30m) or unix seconds");
	return -1;
}

static void api_instance_logs(struct api_ctx *c)
{
	struct store_instance inst;
	struct api_follow *f;
	char dir[PATH_MAX], *text;
	size_t len;
	long tail;
	long long end;
	int64_t since;
	int follow = api_query_bool(c->req, "follow"), ret;

	if (api_query_int(c->req, "tail", 0, 1L << 30, -1, &tail) < 0 ||
	    api_query_since(c->req, &since) < 0 || api_instance_lookup(c, &inst) < 0)
		return;
	snprintf(dir, sizeof(dir), "%s/instances/%s", c->d->cfg->root, inst.id);
	if (since)
		ret = console_since(dir, logtime_offset(dir, since), tail, &text, &len, &end);
	else
		ret = console_tail(dir, tail, &text, &len, &end);
	if (ret < 0) {
		http_respond_error(c->req, 500, "internal", "cannot read the console log");
		goto clear;
	}
	if (!follow) {
		http_respond(c->req, 200, "text/plain; charset=utf-8", text, len, NULL);
		goto free_text;
	}
	if (!(f = calloc(1, sizeof(*f)))) {
		http_respond_error(c->req, 500, "internal", "out of memory");
		goto free_text;
	}
	f->d = c->d;
	f->off = end;
	snprintf(f->id, sizeof(f->id), "%s", inst.id);
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	/* The backlog goes out before the first tick: the timer fires on a later turn. */
	http_poll_start(&f->poll, c->d->loop, c->req, "text/plain; charset=utf-8", api_follow_tick,
			API_FOLLOW_POLL_MS);
	http_stream_write(c->req, text, len);
free_text:
	free(text);
clear:
	store_instance_clear(&inst);
}

/* GET /v1/instances/{id}/health: what the guest's health agent last reported. */
static void api_instance_health(struct api_ctx *c)
{
	struct store_instance inst;

	if (api_instance_lookup(c, &inst) < 0)
		return;
	http_respond_json_value(c->req, 200, health_json(c->d, inst.id));
	store_instance_clear(&inst);
}

/* GET /v1/instances/{id}/stats?sample_ms=N: libvirt's counters, CPU % over the sample. */
static void api_instance_stats(struct api_ctx *c)
{
	long ms;

	if (api_query_int(c->req, "sample_ms", 0, STATS_SAMPLE_MAX_MS, STATS_SAMPLE_DEFAULT_MS,
			  &ms) == 0)
		stats_instance(c->d, c->req, c->seg[2], (int)ms);
}

/* GET /metrics: Prometheus text exposition of the instances' health and resource use. */
static void api_metrics(struct api_ctx *c)
{
	stats_metrics(c->d, c->req);
}

/* --- networks (network.c) --- */

static void api_networks_list(struct api_ctx *c)
{
	network_api_list(c->d, c->req);
}

static void api_networks_post(struct api_ctx *c)
{
	json_t *body = api_body_json(c->req);

	if (!body)
		return;
	network_api_create(c->d, c->req, body);
	json_decref(body);
}

static void api_network_get(struct api_ctx *c)
{
	network_api_get(c->d, c->req, c->seg[2]);
}

static void api_network_delete(struct api_ctx *c)
{
	network_api_delete(c->d, c->req, c->seg[2]);
}

/* --- routing --- */

static const struct api_route api_routes[] = {
	{HTTP_GET, {"v1", "system", "info"}, api_system_info},
	{HTTP_GET, {"v1", "images"}, api_images_list},
	{HTTP_POST, {"v1", "images"}, api_images_post},
	{HTTP_GET, {"v1", "images", "*"}, api_image_get},
	{HTTP_DELETE, {"v1", "images", "*"}, api_image_delete},
	{HTTP_GET, {"v1", "instances"}, api_instances_list},
	{HTTP_POST, {"v1", "instances"}, api_instances_post},
	{HTTP_GET, {"v1", "instances", "*"}, api_instance_get},
	{HTTP_DELETE, {"v1", "instances", "*"}, api_instance_delete},
	{HTTP_POST, {"v1", "instances", "*", "start"}, api_instance_start},
	{HTTP_POST, {"v1", "instances", "*", "stop"}, api_instance_stop},
	{HTTP_POST, {"v1", "instances", "*", "restart"}, api_instance_restart},
	{HTTP_POST, {"v1", "instances", "*", "kill"}, api_instance_kill},
	{HTTP_GET, {"v1", "instances", "*", "logs"}, api_instance_logs},
	{HTTP_GET, {"v1", "instances", "*", "health"}, api_instance_health},
	{HTTP_GET, {"v1", "instances", "*", "stats"}, api_instance_stats},
	{HTTP_GET, {"v1", "events"}, api_events},
	{HTTP_GET, {"metrics"}, api_metrics},
	{HTTP_GET, {"v1", "networks"}, api_networks_list},
	{HTTP_POST, {"v1", "networks"}, api_networks_post},
	{HTTP_GET, {"v1", "networks", "*"}, api_network_get},
	{HTTP_DELETE, {"v1", "networks", "*"}, api_network_delete},
};

#define API_NROUTES (sizeof(api_routes) / sizeof(api_routes[0]))

/* Splits path into segments in c (pathbuf owns them). -1 if too deep or malformed. */
static int api_split(struct api_ctx *c, const char *path)
{
	char *p, *save, *s;

	if (path[0] != '/' || !(c->pathbuf = strdup(path + 1)))
		return -1;
	for (s = strtok_r(c->pathbuf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (c->nseg == API_SEGS_MAX)
			return -1;
		c->seg[c->nseg++] = s;
	}
	/* An empty segment ("//") is not a path ukd serves. */
	for (p = (char *)path; *p; p++)
		if (p[0] == '/' && p[1] == '/')
			return -1;
	return 0;
}

static int api_match(const struct api_route *r, const struct api_ctx *c)
{
	int i;

	for (i = 0; i < API_SEGS_MAX && r->pattern[i]; i++)
		if (i >= c->nseg ||
		    (strcmp(r->pattern[i], "*") && strcmp(r->pattern[i], c->seg[i])))
			return 0;
	return i == c->nseg;
}

void api_handle(struct http_req *req, void *opaque)
{
	struct api_ctx c = {.d = opaque, .req = req};
	char allow[128] = "";
	int path_known = 0;

	log_debug("%s %s", http_method_str(req->method), req->path);
	if (api_split(&c, req->path) < 0) {
		http_respond_error(req, 404, "not_found", "no such path");
		goto free_path;
	}
	for (size_t i = 0; i < API_NROUTES; i++) {
		if (!api_match(&api_routes[i], &c))
			continue;
		if (api_routes[i].method == req->method) {
			api_routes[i].fn(&c);
			goto free_path;
		}
		path_known = 1;
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
			 allow[0] ? ", " : "", http_method_str(api_routes[i].method));
	}
	if (path_known) {
		char hdr[160], body[256];
		int n;

		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		n = snprintf(body, sizeof(body),
			     "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"%s is not "
			     "allowed here (allowed: %s)\"}}\n",
			     http_method_str(req->method), allow);
		http_respond(req, 405, "application/json", body, (size_t)n, hdr);
	} else {
		http_respond_error(req, 404, "not_found", "no such path: %.200s", req->path);
	}
free_path:
	free(c.pathbuf);
}

size_t api_body_limit(const struct http_req *req, void *opaque)
{
	struct daemon *d = opaque;

	if (req->method == HTTP_POST && !strcmp(req->path, "/v1/images"))
		return d->cfg->image_max;
	return req->method == HTTP_POST ? API_JSON_MAX : 64u << 10;
}
