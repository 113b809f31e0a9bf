/*
 * client.c: HTTP calls to ukd through libcurl's multi interface (see client.h).
 *
 * All HTTP framing (chunked streams, 100-continue, keep-alive) is libcurl's;
 * this file only maps a host string to curl options and collects bodies.
 */
#define _GNU_SOURCE
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A daemon that does not accept within this long is as good as absent. */
#define CLIENT_CONNECT_TIMEOUT_S 10L

struct client {
	CURLM *multi;
	char host[PATH_MAX + 16];
	char unix_path[PATH_MAX]; /* "" for TCP */
	char base[PATH_MAX];	  /* "http://localhost" or "http://host:port" */
	char auth[1024];	  /* "Authorization: Bearer ..." or "" */
};

struct client_call {
	struct client *c;
	CURL *easy;
	struct curl_slist *hdrs;
	struct client_req rq;
	struct util_buf body; /* what was not streamed */
	int done, streamed;
	CURLcode result;
	char curl_err[CURL_ERROR_SIZE];
};

static int client_parse_host(struct client *c, const char *host, char *err, size_t errlen)
{
	size_t n;

	snprintf(c->host, sizeof(c->host), "%s", host);
	if (!strncmp(host, "unix://", 7) && host[7] == '/') {
		if (strlen(host + 7) >= sizeof(c->unix_path))
			goto bad;
		snprintf(c->unix_path, sizeof(c->unix_path), "%s", host + 7);
		snprintf(c->base, sizeof(c->base), "http://localhost");
		return 0;
	}
	if (!strncmp(host, "tcp://", 6)) {
		/* host:port with a port, and nothing after it: no path, no user info. */
		n = strlen(host + 6);
		if (!n || n > 255 || strpbrk(host + 6, "/@?#") || !strrchr(host + 6, ':') ||
		    !strrchr(host + 6, ':')[1])
			goto bad;
		snprintf(c->base, sizeof(c->base), "http://%s", host + 6);
		return 0;
	}
bad:
	snprintf(err, errlen,
		 "bad host \"%s\": expected unix:///PATH or tcp://HOST:PORT (from -H or "
		 "UKD_HOST)",
		 host);
	return -EINVAL;
}

int client_new(struct client **out, const char *host, const char *token, char *err, size_t errlen)
{
	struct client *c;
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return -ENOMEM;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto err_global;
	}
	if ((ret = client_parse_host(c, host ? host : CLIENT_DEFAULT_HOST, err, errlen)) < 0)
		goto err_free;
	/* A token travels only over TCP: a unix socket is guarded by its file mode. */
	if (token && token[0] && !c->unix_path[0])
		snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", token);
	if (!(c->multi = curl_multi_init())) {
		snprintf(err, errlen, "cannot initialize libcurl");
		ret = -ENOMEM;
		goto err_free;
	}
	*out = c;
	return 0;
err_free:
	free(c);
err_global:
	curl_global_cleanup();
	return ret;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	curl_multi_cleanup(c->multi);
	free(c);
	curl_global_cleanup();
}

const char *client_host(const struct client *c)
{
	return c->host;
}

static size_t client_write_cb(char *data, size_t size, size_t nmemb, void *opaque)
{
	struct client_call *k = opaque;
	size_t len = size * nmemb;
	long status = 0;

	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
	/* Only a successful body is streamed; an error body is kept for its message. */
	if (k->rq.on_data && status >= 200 && status < 300) {
		k->streamed = 1;
		return k->rq.on_data(data, len, k->rq.opaque) ? 0 : len;
	}
	util_buf_add(&k->body, data, len);
	return k->body.oom ? 0 : len;
}

static int client_xfer_cb(void *opaque, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			  curl_off_t ulnow)
{
	struct client_call *k = opaque;

	(void)dltotal;
	(void)dlnow;
	if (k->rq.on_progress && ultotal > 0)
		k->rq.on_progress((size_t)ulnow, (size_t)ultotal, k->rq.opaque);
	return 0;
}

static int client_setup(struct client_call *k)
{
	struct client *c = k->c;
	const struct client_req *rq = &k->rq;
	char url[PATH_MAX * 2], hdr[256];
	CURL *e = k->easy;

	snprintf(url, sizeof(url), "%s%s", c->base, rq->path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (c->unix_path[0])
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->unix_path);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, k->curl_err);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ukctl/" UKCTL_VERSION);
	/* No proxy from the environment: ukd is local or named exactly. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	if (rq->on_progress) {
		curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, client_xfer_cb);
		curl_easy_setopt(e, CURLOPT_XFERINFODATA, k);
		curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	}
	if (!strcmp(rq->method, "POST")) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	snprintf(hdr, sizeof(hdr), "Content-Type: %s", rq->ctype ? rq->ctype : "");
	/* "Content-Type:" with no value tells libcurl to send none. */
	if (!(k->hdrs = curl_slist_append(NULL, hdr)))
		return -ENOMEM;
	if (c->auth[0] && !curl_slist_append(k->hdrs, c->auth))
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, k->hdrs);
	return 0;
}

static void client_call_free(struct client_call *k)
{
	curl_multi_remove_handle(k->c->multi, k->easy);
	curl_easy_cleanup(k->easy);
	curl_slist_free_all(k->hdrs);
	util_buf_free(&k->body);
	free(k);
}

int client_start(struct client *c, const struct client_req *rq, struct client_call **out)
{
	struct client_call *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->c = c;
	k->rq = *rq;
	if (!(k->easy = curl_easy_init())) {
		free(k);
		return -ENOMEM;
	}
	curl_easy_setopt(k->easy, CURLOPT_PRIVATE, k);
	if (client_setup(k) < 0 || curl_multi_add_handle(c->multi, k->easy) != CURLM_OK) {
		client_call_free(k);
		return -ENOMEM;
	}
	*out = k;
	return 0;
}

int client_poll(struct client *c, int timeout_ms)
{
	struct client_call *k;
	CURLMsg *m;
	int running = 0, left;

	curl_multi_perform(c->multi, &running);
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&k);
		k->done = 1;
		k->result = m->data.result;
	}
	if (running)
		curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
	return running;
}

int client_call_done(const struct client_call *call)
{
	return call->done;
}

static int client_curl_error(struct client_call *k, struct client_resp *resp)
{
	long oserr = 0;
	const char *what = k->curl_err[0] ? k->curl_err : curl_easy_strerror(k->result);

	curl_easy_getinfo(k->easy, CURLINFO_OS_ERRNO, &oserr);
	switch (k->result) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
		if (k->result != CURLE_OPERATION_TIMEDOUT || !k->body.len) {
			snprintf(resp->err, sizeof(resp->err), "%s",
				 oserr ? strerror((int)oserr) : what);
			return -ECONNREFUSED;
		}
		break;
	case CURLE_WRITE_ERROR:
		if (k->body.oom) {
			snprintf(resp->err, sizeof(resp->err), "out of memory");
			return -ENOMEM;
		}
		/* The stream's consumer asked to stop: not an error of the call. */
		return 0;
	default: break;
	}
	snprintf(resp->err, sizeof(resp->err), "%s", what);
	return -EIO;
}

int client_finish(struct client_call *k, struct client_resp *resp)
{
	const char *ctype = NULL;
	int ret = 0;

	memset(resp, 0, sizeof(*resp));
	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	if (k->result != CURLE_OK && (ret = client_curl_error(k, resp)) < 0)
		goto free_call;
	curl_easy_getinfo(k->easy, CURLINFO_CONTENT_TYPE, &ctype);
	if (!k->streamed) {
		resp->body = k->body.s ? k->body.s : strdup("");
		resp->len = k->body.len;
		k->body.s = NULL;
		if (!resp->body) {
			ret = -ENOMEM;
			goto free_call;
		}
	}
	if (resp->body && ctype && !strncmp(ctype, "application/json", 16))
		resp->json = json_loadb(resp->body, resp->len, 0, NULL);
free_call:
	client_call_free(k);
	return ret;
}

void client_cancel(struct client_call *call)
{
	client_call_free(call);
}

int client_do(struct client *c, const struct client_req *rq, struct client_resp *resp)
{
	struct client_call *k;
	int ret;

	if ((ret = client_start(c, rq, &k)) < 0) {
		memset(resp, 0, sizeof(*resp));
		snprintf(resp->err, sizeof(resp->err), "out of memory");
		return ret;
	}
	while (!k->done)
		client_poll(c, 1000);
	return client_finish(k, resp);
}

void client_resp_clear(struct client_resp *resp)
{
	free(resp->body);
	json_decref(resp->json);
	resp->body = NULL;
	resp->json = NULL;
}

const char *client_error_message(const struct client_resp *resp, char *buf, size_t len)
{
	json_t *msg = json_object_get(json_object_get(resp->json, "error"), "message");

	if (json_is_string(msg))
		return json_string_value(msg);
	snprintf(buf, len, "ukd answered HTTP %ld", resp->status);
	return buf;
}

char *client_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *copy;

	/* curl's string must be freed with curl_free; hand back a plain malloc'd copy. */
	if (!e)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}
