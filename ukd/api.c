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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "console.h"
#include "health.h"
#include "image.h"
#include "instance.h"
#include "log.h"
#include "network.h"
#include "store.h"
#include "util.h"
#include "virt.h"

#ifndef UKD_VERSION
#define UKD_VERSION "0.1.0"
#endif

#define API_SEGS_MAX 6
#define API_QUERY_LIST_MAX 256
#define API_FOLLOW_POLL_MS 200

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

static void api_send_json(struct http_req *req, int status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text)
		http_respond_json(req, status, text);
	else
		http_respond_error(req, 500, "internal", "out of memory");
	free(text);
	json_decref(o);
}

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

	if (!instances || store_image_list(d->store, api_count_image, &images) < 0 ||
	    store_instance_list(d->store, api_count_instance, instances) < 0) {
		json_decref(instances);
		http_respond_error(c->req, 500, "store_error", "cannot count images and instances");
		return;
	}
	api_send_json(
		c->req, 200,
		json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:b, s:s?, s:o?, s:o?, s:o?}, "
			  "s:{s:I, s:I}, s:I, s:o}",
			  "version", UKD_VERSION, "root", d->cfg->root, "accelerator",
			  d->kvm ? "kvm" : "tcg", "accelerator_reason", d->accel_reason,
			  "schema_version", store_schema_version(), "libvirt", "uri",
			  d->cfg->libvirt_uri, "connected", d->connected, "error",
			  d->connected ? NULL : d->libvirt_error, "version",
			  api_opt_str(h->libvirt_version), "hypervisor", api_opt_str(h->hypervisor),
			  "hypervisor_version", api_opt_str(h->hypervisor_version), "host", "cpus",
			  (json_int_t)h->cpus, "memory_mib", (json_int_t)(h->memory_kib >> 10),
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
	api_send_json(c->req, 200, a);
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
		api_send_json(c->req, 200, api_image_json(&img));
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
	 * The row goes first: a crash in between leaves an unreferenced file,
	 * never a row without its file. A running guest keeps the bytes it loaded.
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
};

static void api_ingest_free(struct api_ingest *g)
{
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

static void api_ingest_done(uv_work_t *w, int status)
{
	struct api_ingest *g = w->data;
	struct store_image *img = &g->out.img;
	int ret;

	(void)status;
	if (g->out.status) {
		log_info("image upload refused: %s", g->out.msg);
		http_respond_error(g->req, g->out.status, g->out.code, "%s", g->out.msg);
		goto free_g;
	}
	snprintf(img->tag, sizeof(img->tag), "%s", g->tag);
	if ((ret = store_image_put(g->d->store, img)) < 0) {
		http_respond_error(g->req, ret == -ENOSPC ? 507 : 500,
				   ret == -ENOSPC ? "insufficient_storage" : "store_error",
				   "cannot record the image: %s", strerror(-ret));
		goto free_g;
	}
	/* The stored row (created time of the first upload if it existed). */
	store_image_find(g->d->store, img->id, img);
	log_info("image %s:%s stored as sha256:%s (%lld bytes)", img->name, img->tag, img->id,
		 (long long)img->size);
	api_send_json(g->req, g->out.existed ? 200 : 201, api_image_json(img));
free_g:
	api_ingest_free(g);
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
	if ((ret = uv_queue_work(c->d->loop, &g->work, api_ingest_work, api_ingest_done)) < 0) {
		http_respond_error(req, 500, "internal", "cannot queue the build: %s",
				   uv_strerror(ret));
		goto free_g;
	}
	return;
free_g:
	api_ingest_free(g);
}

/* --- instances --- */

static int api_instance_add(const struct store_instance *inst, void *opaque)
{
	return json_array_append_new(opaque, instance_json(inst)) < 0 ? -ENOMEM : 0;
}

static void api_instances_list(struct api_ctx *c)
{
	json_t *a = json_array();

	if (!a || store_instance_list(c->d->store, api_instance_add, a) < 0) {
		json_decref(a);
		http_respond_error(c->req, 500, "store_error", "cannot list instances");
		return;
	}
	api_send_json(c->req, 200, a);
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
	api_send_json(c->req, 200, instance_json(&inst));
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

static void api_instance_kill(struct api_ctx *c)
{
	instance_act(c->d, c->req, c->seg[2], INSTANCE_KILL, 0, 0);
}

/* A log follower: polls the console file and streams what is new until the run ends. */
struct api_follow {
	uv_timer_t timer;
	struct daemon *d;
	struct http_req *req;
	char id[STORE_INSTANCE_ID_LEN + 1];
	char path[PATH_MAX];
	long long off;
	int ended;
};

static void api_follow_free(uv_handle_t *h)
{
	free(h->data);
}

static void api_follow_end(struct api_follow *f)
{
	if (f->ended)
		return;
	f->ended = 1;
	uv_timer_stop(&f->timer);
	f->req->on_gone = NULL;
	http_stream_end(f->req);
	uv_close((uv_handle_t *)&f->timer, api_follow_free);
}

static void api_follow_gone(struct http_req *req)
{
	api_follow_end(req->user);
}

static void api_follow_tick(uv_timer_t *t)
{
	struct api_follow *f = t->data;
	struct store_instance inst;
	char *buf;
	size_t len;
	int active = 0;

	/* Whether it still runs is read before the file, so no last words are missed. */
	if (store_instance_find(f->d->store, f->id, &inst) == 0) {
		active = instance_active(&inst);
		store_instance_clear(&inst);
	}
	do {
		if (console_read_from(f->path, &f->off, 256u << 10, &buf, &len) < 0)
			break;
		http_stream_write(f->req, buf, len);
		free(buf);
	} while (len && !f->ended && !http_req_gone(f->req));
	if (!active || f->d->stopping)
		api_follow_end(f);
}

static void api_instance_logs(struct api_ctx *c)
{
	struct store_instance inst;
	struct api_follow *f;
	char path[PATH_MAX], *text;
	size_t len;
	long tail;
	long long end;
	int follow = api_query_bool(c->req, "follow");

	if (api_query_int(c->req, "tail", 0, 1L << 30, -1, &tail) < 0 ||
	    api_instance_lookup(c, &inst) < 0)
		return;
	snprintf(path, sizeof(path), "%s/instances/%s/console.log", c->d->cfg->root, inst.id);
	if (console_tail(path, tail, &text, &len, &end) < 0) {
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
	f->req = c->req;
	f->off = end;
	snprintf(f->id, sizeof(f->id), "%s", inst.id);
	snprintf(f->path, sizeof(f->path), "%s", path);
	uv_timer_init(c->d->loop, &f->timer);
	f->timer.data = f;
	c->req->user = f;
	c->req->on_gone = api_follow_gone;
	http_stream_begin(c->req, 200, "text/plain; charset=utf-8");
	http_stream_write(c->req, text, len);
	uv_timer_start(&f->timer, api_follow_tick, 0, API_FOLLOW_POLL_MS);
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
	api_send_json(c->req, 200, health_json(c->d, inst.id));
	store_instance_clear(&inst);
}

/* GET /metrics: Prometheus text exposition of the instances' health. */
static void api_metrics(struct api_ctx *c)
{
	struct util_buf b = {0};

	health_metrics_text(c->d, &b);
	if (b.oom)
		http_respond_error(c->req, 500, "internal", "out of memory");
	else
		http_respond(c->req, 200, "text/plain; version=0.0.4", b.s ? b.s : "", b.len, NULL);
	util_buf_free(&b);
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
	{HTTP_POST, {"v1", "instances", "*", "kill"}, api_instance_kill},
	{HTTP_GET, {"v1", "instances", "*", "logs"}, api_instance_logs},
	{HTTP_GET, {"v1", "instances", "*", "health"}, api_instance_health},
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
