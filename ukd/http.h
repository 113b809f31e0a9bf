/*
 * http.h: the API's HTTP/1.1 server on a unix socket (and optionally TCP with a
 * bearer token), on the daemon's libuv loop. Requests are parsed by libhttp-parser (never by hand);
 * this module owns connections, limits and timeouts, and hands each complete request to one
 * handler.
 *
 * Limits: a request line + headers of at most HTTP_HEAD_MAX bytes, a body of
 * at most what the limit callback allows for its method and path (413
 * otherwise, answered before the body is read), HTTP_REQUEST_TIMEOUT_MS to
 * send a whole request and HTTP_IDLE_TIMEOUT_MS between keep-alive
 * requests. At most HTTP_CONN_MAX connections: past that, the oldest one
 * without a request being handled is closed for the new one. One request at
 * a time per connection: the next one is read only
 * after the response is written.
 *
 * The handler MUST answer every request exactly once (http_respond*, or
 * http_stream_begin ... http_stream_end), now or later. If the client goes
 * away first, the request stays valid (http_req_gone says so) and the answer
 * is dropped; that is how asynchronous handlers need no cancellation.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <uv.h>

#define HTTP_HEAD_MAX (16u << 10)
#define HTTP_URL_MAX 4096u
#define HTTP_REQUEST_TIMEOUT_MS 60000
#define HTTP_IDLE_TIMEOUT_MS 30000
#define HTTP_CONN_MAX 1024
/* Longest bearer token a TCP listener accepts. */
#define HTTP_TOKEN_MAX 512

struct http_server;
struct http_req;
struct json_t; /* jansson's json_t */

struct http_req {
	int method;  /* enum http_method of http_parser.h */
	char *path;  /* percent-decoded path, no query */
	char *query; /* raw query string (after '?'), "" if none */
	char content_type[128];
	char *body; /* NUL-terminated (not counted in body_len) */
	size_t body_len;
	/*
	 * Set by a streaming handler: called once if the client goes away
	 * before http_stream_end. The handler still calls http_stream_end.
	 */
	void (*on_gone)(struct http_req *req);
	void *user;
	/* private */
	struct http_conn *conn;
	size_t limit;
	int streaming;
	int expect_continue;
};

typedef void (*http_handler_fn)(struct http_req *req, void *opaque);
/* Body limit in bytes for this method and path (req->path, req->method are set). */
typedef size_t (*http_limit_fn)(const struct http_req *req, void *opaque);

/* Listens on path (mode 0660). Returns 0 or -errno; a live socket there is -EADDRINUSE. */
int http_server_start(struct http_server **out, uv_loop_t *loop, const char *path,
		      http_handler_fn handler, http_limit_fn limit, void *opaque);

/*
 * Listens on TCP at HOST:PORT ([V6]:PORT for IPv6). Every request must carry
 * "Authorization: Bearer TOKEN" (token: 1..HTTP_TOKEN_MAX bytes); others are
 * answered 401 with "WWW-Authenticate: Bearer" before their path is routed
 * or their body read. Returns 0 or -errno (-EINVAL: bad address or token).
 */
int http_server_start_tcp(struct http_server **out, uv_loop_t *loop, const char *hostport,
			  const char *token, http_handler_fn handler, http_limit_fn limit,
			  void *opaque);

/*
 * Stops listening, closes every connection (pending requests become gone)
 * and frees the server once its handles are closed.
 */
void http_server_stop(struct http_server *srv);

/* 1 if the client is gone: an answer would be dropped. */
int http_req_gone(const struct http_req *req);

/* Bytes of the answer queued for the client but not yet taken by the socket. */
size_t http_req_queued(const struct http_req *req);

/*
 * Returns the value of query parameter key, percent-decoded, in buf
 * (len bytes): 1 if present, 0 if absent, -EINVAL if malformed or too long.
 * With index > 0, the index'th repetition of key.
 */
int http_query(const struct http_req *req, const char *key, int index, char *buf, size_t len);

/* Answers with a body (copied); extra_headers ("Name: value\r\n"...) may be NULL. */
void http_respond(struct http_req *req, int status, const char *content_type, const void *body,
		  size_t len, const char *extra_headers);

/*
 * Answers with a body that is not copied: it must stay valid until
 * release(opaque) is called (once, when the response is written or dropped).
 */
void http_respond_borrowed(struct http_req *req, int status, const char *content_type,
			   const void *body, size_t len, void (*release)(void *), void *opaque);

/* Answers with JSON text (copied). */
void http_respond_json(struct http_req *req, int status, const char *json);

/*
 * Answers with the compact text of a jansson value and releases it (the
 * caller's reference is taken). A NULL value, as from a failed json_pack,
 * or one that cannot be serialized answers 500 "out of memory".
 */
void http_respond_json_value(struct http_req *req, int status, struct json_t *value);

/* Answers {"error":{"code":code,"message":...}}. */
__attribute__((format(printf, 4, 5))) void
http_respond_error(struct http_req *req, int status, const char *code, const char *fmt, ...);

/* Starts a chunked response; then http_stream_write any number of times, then http_stream_end. */
void http_stream_begin(struct http_req *req, int status, const char *content_type);
void http_stream_write(struct http_req *req, const void *data, size_t len);
void http_stream_end(struct http_req *req);

/*
 * A streamed answer fed by a timer (log and event followers): put it first in
 * a calloc'd struct; http_poll_start begins the chunked response and calls
 * tick (with t->data the struct) now and every period_ms; http_poll_end, from
 * the tick or when the client goes, ends the response and frees the struct.
 */
struct http_poll {
	uv_timer_t timer;
	struct http_req *req;
	int ended;
};

void http_poll_start(struct http_poll *p, uv_loop_t *loop, struct http_req *req,
		     const char *content_type, uv_timer_cb tick, uint64_t period_ms);
void http_poll_end(struct http_poll *p);

#endif
