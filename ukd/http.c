/*
 * http.c: HTTP/1.1 over a unix socket, with libhttp-parser (see http.h).
 *
 * A connection reads until the parser reports a complete request, then
 * pauses the parser, stops reading and dispatches. Bytes after the request
 * (pipelining) are kept and parsed once the response is written. Any parse
 * error or limit breach gets its status code and closes the connection,
 * since the parser cannot resynchronize after an error.
 */
#define _GNU_SOURCE
#include "http.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define HTTP_READ_SIZE (64u << 10)
#define HTTP_DRAIN_TIMEOUT_MS 5000
#define HTTP_BACKLOG 4096

/* A unix socket or a TCP connection: both are streams to the rest of this file. */
union http_handle {
	uv_pipe_t pipe;
	uv_tcp_t tcp;
	uv_stream_t stream;
	uv_handle_t handle;
};

struct http_server {
	uv_loop_t *loop;
	union http_handle h;
	int tcp;
	/* TCP only: the bearer token's SHA-256; requests are compared against it. */
	uint8_t token_digest[SHA256_DIGEST_SIZE];
	int has_token;
	http_handler_fn handler;
	http_limit_fn limit;
	void *opaque;
	struct http_conn *conns;
	int nconns;
	int stopping;
	char *path;
};

struct http_conn {
	union http_handle h;
	uv_timer_t timer;
	struct http_server *srv;
	http_parser parser;
	struct http_req *req; /* being read, handled or streamed */
	int dispatched;	      /* req is with the handler */
	int complete;	      /* the parser finished req */
	int keep_alive;
	int close_after; /* close once the current response is written */
	int drain;	 /* ...but first read and drop what the client still sends */
	int draining;
	int closing;
	int handles; /* open libuv handles; the conn is freed at 0 */
	/* error found inside a parser callback, answered after execute returns */
	int err_status;
	const char *err_code, *err_msg;
	int authorized; /* the current request carried the server's bearer token */
	/* header being read: name and value, bounded; longer ones are not ours */
	char field[32], value[HTTP_TOKEN_MAX + 16];
	size_t field_len, value_len;
	int in_value;
	struct util_buf url;
	char *rest; /* bytes after the request, to parse later */
	size_t rest_len;
	struct http_conn *next, **pprev;
};

struct http_write {
	uv_write_t w;
	struct http_conn *conn;
	char *data;
	int ends_response; /* the response is complete once this is written */
	/* A borrowed second buffer (http_respond_borrowed), released once written. */
	void (*release)(void *);
	void *opaque;
};

static void http_conn_close(struct http_conn *c);
static void http_conn_feed(struct http_conn *c, const char *data, size_t len);
static void http_conn_timeout(uv_timer_t *t);
static void http_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void http_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* --- requests --- */

static void http_req_free(struct http_req *req)
{
	free(req->path);
	free(req->query);
	free(req->body);
	free(req);
}

int http_req_gone(const struct http_req *req)
{
	return !req->conn || req->conn->closing;
}

size_t http_req_queued(const struct http_req *req)
{
	return req->conn ? uv_stream_get_write_queue_size(&req->conn->h.stream) : 0;
}

static int http_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) into out (len+1 bytes); '+' is a space if plus. NUL is refused. */
static int http_decode(const char *s, size_t len, char *out, size_t outlen, int plus)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = http_hexval(s[i + 1]);
			lo = http_hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			ch = (char)(hi * 16 + lo);
			if (!ch)
				return -EINVAL;
			i += 2;
		} else if (ch == '+' && plus) {
			ch = ' ';
		}
		if (n + 1 >= outlen)
			return -EINVAL;
		out[n++] = ch;
	}
	out[n] = 0;
	return 0;
}

int http_query(const struct http_req *req, const char *key, int index, char *buf, size_t len)
{
	const char *p = req->query;
	size_t klen = strlen(key);

	while (*p) {
		const char *amp = strchrnul(p, '&');
		const char *eq = memchr(p, '=', (size_t)(amp - p));
		const char *kend = eq ? eq : amp;

		if ((size_t)(kend - p) == klen && !memcmp(p, key, klen) && index-- == 0) {
			if (!eq) {
				if (len)
					buf[0] = 0;
				return 1;
			}
			if (http_decode(eq + 1, (size_t)(amp - eq - 1), buf, len, 1) < 0)
				return -EINVAL;
			return 1;
		}
		p = *amp ? amp + 1 : amp;
	}
	return 0;
}

/* --- writing --- */

static void http_write_done(uv_write_t *w, int status)
{
	struct http_write *hw = (struct http_write *)w;
	struct http_conn *c = hw->conn;
	int ends = hw->ends_response;

	if (hw->release)
		hw->release(hw->opaque);
	free(hw->data);
	free(hw);
	if (status < 0) {
		http_conn_close(c);
		return;
	}
	if (!ends || c->closing)
		return;
	if (c->drain) {
		/*
		 * The request was refused before its body was read. Closing now
		 * would reset the connection under a client still sending, and it
		 * would never see the answer: drop its bytes until it hangs up.
		 */
		c->drain = 0;
		c->draining = 1;
		uv_timer_start(&c->timer, http_conn_timeout, HTTP_DRAIN_TIMEOUT_MS, 0);
		uv_read_start((uv_stream_t *)&c->h, http_alloc, http_read);
		return;
	}
	if (c->close_after || !c->keep_alive) {
		http_conn_close(c);
		return;
	}
	/* Ready for the next request on this connection. */
	c->complete = 0;
	http_parser_pause(&c->parser, 0);
	uv_timer_start(&c->timer, http_conn_timeout, HTTP_IDLE_TIMEOUT_MS, 0);
	if (c->rest) {
		char *rest = c->rest;
		size_t n = c->rest_len;

		c->rest = NULL;
		c->rest_len = 0;
		http_conn_feed(c, rest, n);
		free(rest);
	}
	if (!c->closing && !c->dispatched && !c->complete)
		uv_read_start((uv_stream_t *)&c->h, http_alloc, http_read);
}

/*
 * Takes ownership of data (malloc'd); extra (may be NULL) is borrowed and
 * follows it, released with release(opaque) once written or dropped.
 */
static void http_write2(struct http_conn *c, char *data, size_t len, const void *extra,
			size_t extra_len, void (*release)(void *), void *opaque, int ends_response)
{
	struct http_write *hw = calloc(1, sizeof(*hw));
	uv_buf_t bufs[2] = {uv_buf_init(data, (unsigned)len),
			    uv_buf_init((char *)extra, (unsigned)extra_len)};

	if (!hw) {
		free(data);
		if (release)
			release(opaque);
		http_conn_close(c);
		return;
	}
	hw->conn = c;
	hw->data = data;
	hw->ends_response = ends_response;
	hw->release = release;
	hw->opaque = opaque;
	if (uv_write(&hw->w, (uv_stream_t *)&c->h, bufs, extra ? 2 : 1, http_write_done) < 0) {
		free(data);
		free(hw);
		if (release)
			release(opaque);
		http_conn_close(c);
	}
}

/* Takes ownership of data (malloc'd). */
static void http_write(struct http_conn *c, char *data, size_t len, int ends_response)
{
	http_write2(c, data, len, NULL, 0, NULL, NULL, ends_response);
}

static const char *http_reason(int status)
{
	const char *s = http_status_str((enum http_status)status);

	return s && strcmp(s, "<unknown>") ? s : "Status";
}

/* The status line and headers; body_len < 0 means chunked. */
static void http_head(struct util_buf *b, struct http_conn *c, int status, const char *content_type,
		      long long body_len, const char *extra)
{
	util_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	if (content_type)
		util_buf_printf(b, "Content-Type: %s\r\n", content_type);
	if (body_len >= 0)
		util_buf_printf(b, "Content-Length: %lld\r\n", body_len);
	else
		util_buf_puts(b, "Transfer-Encoding: chunked\r\n");
	if (extra)
		util_buf_puts(b, extra);
	util_buf_puts(b, c->close_after || !c->keep_alive ? "Connection: close\r\n\r\n"
							  : "Connection: keep-alive\r\n\r\n");
}

/* Detaches req from its connection; returns the connection if it can still be written. */
static struct http_conn *http_req_finish(struct http_req *req)
{
	struct http_conn *c = req->conn;

	if (c) {
		c->req = NULL;
		c->dispatched = 0;
	}
	http_req_free(req);
	return c && !c->closing ? c : NULL;
}

void http_respond(struct http_req *req, int status, const char *content_type, const void *body,
		  size_t len, const char *extra_headers)
{
	struct http_conn *c = req->conn;
	struct util_buf b = {0};

	if (!c || c->closing) {
		http_req_finish(req);
		return;
	}
	if (status >= 400 && !c->complete)
		c->close_after = 1; /* the rest of the request was never read */
	http_head(&b, c, status, content_type, (long long)len, extra_headers);
	util_buf_add(&b, body, len);
	c = http_req_finish(req);
	if (b.oom) {
		util_buf_free(&b);
		http_conn_close(c);
		return;
	}
	http_write(c, b.s, b.len, 1);
}

void http_respond_borrowed(struct http_req *req, int status, const char *content_type,
			   const void *body, size_t len, void (*release)(void *), void *opaque)
{
	struct http_conn *c = req->conn;
	struct util_buf b = {0};

	if (!c || c->closing) {
		http_req_finish(req);
		release(opaque);
		return;
	}
	http_head(&b, c, status, content_type, (long long)len, NULL);
	c = http_req_finish(req);
	if (b.oom) {
		util_buf_free(&b);
		release(opaque);
		http_conn_close(c);
		return;
	}
	http_write2(c, b.s, b.len, body, len, release, opaque, 1);
}

void http_respond_json(struct http_req *req, int status, const char *json)
{
	http_respond(req, status, "application/json", json, strlen(json), NULL);
}

void http_respond_json_value(struct http_req *req, int status, json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;

	if (text)
		http_respond_json(req, status, text);
	else
		http_respond_error(req, 500, "internal", "out of memory");
	free(text);
	json_decref(value);
}

/* JSON string literal of s (control characters and quotes escaped). */
static void http_json_str(struct util_buf *b, const char *s)
{
	util_buf_puts(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			util_buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			util_buf_printf(b, "\\u%04x", ch);
		else
			util_buf_add(b, s, 1);
	}
	util_buf_puts(b, "\"");
}

/* An Error body with msg, and extra headers (may be NULL). */
static void http_error(struct http_req *req, int status, const char *code, const char *extra,
		       const char *msg)
{
	struct util_buf b = {0};

	util_buf_puts(&b, "{\"error\":{\"code\":");
	http_json_str(&b, code);
	util_buf_puts(&b, ",\"message\":");
	http_json_str(&b, msg);
	util_buf_puts(&b, "}}\n");
	if (b.oom)
		http_respond(req, 500, "application/json", "{}", 2, NULL);
	else
		http_respond(req, status, "application/json", b.s, b.len, extra);
	util_buf_free(&b);
}

void http_respond_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
	char msg[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_error(req, status, code, NULL, msg);
}

void http_stream_begin(struct http_req *req, int status, const char *content_type)
{
	struct http_conn *c = req->conn;
	struct util_buf b = {0};

	req->streaming = 1;
	if (!c || c->closing)
		return;
	/*
	 * A streamed response ends the connection: the client may send nothing
	 * more on it, so reading again only serves to notice it hanging up.
	 */
	c->close_after = 1;
	http_head(&b, c, status, content_type, -1, NULL);
	if (b.oom) {
		util_buf_free(&b);
		http_conn_close(c);
		return;
	}
	http_write(c, b.s, b.len, 0);
	uv_read_start((uv_stream_t *)&c->h, http_alloc, http_read);
}

void http_stream_write(struct http_req *req, const void *data, size_t len)
{
	struct http_conn *c = req->conn;
	struct util_buf b = {0};

	if (!c || c->closing || !len)
		return;
	util_buf_printf(&b, "%zx\r\n", len);
	util_buf_add(&b, data, len);
	util_buf_puts(&b, "\r\n");
	if (b.oom) {
		util_buf_free(&b);
		http_conn_close(c);
		return;
	}
	http_write(c, b.s, b.len, 0);
}

void http_stream_end(struct http_req *req)
{
	struct http_conn *c = http_req_finish(req);
	char *end;

	if (!c)
		return;
	if (!(end = strdup("0\r\n\r\n"))) {
		http_conn_close(c);
		return;
	}
	http_write(c, end, 5, 1);
}

static void http_poll_free(uv_handle_t *h)
{
	free(h->data);
}

void http_poll_end(struct http_poll *p)
{
	if (p->ended)
		return;
	p->ended = 1;
	uv_timer_stop(&p->timer);
	p->req->on_gone = NULL;
	http_stream_end(p->req);
	uv_close((uv_handle_t *)&p->timer, http_poll_free);
}

static void http_poll_gone(struct http_req *req)
{
	http_poll_end(req->user);
}

void http_poll_start(struct http_poll *p, uv_loop_t *loop, struct http_req *req,
		     const char *content_type, uv_timer_cb tick, uint64_t period_ms)
{
	p->req = req;
	uv_timer_init(loop, &p->timer);
	p->timer.data = p;
	req->user = p;
	req->on_gone = http_poll_gone;
	http_stream_begin(req, 200, content_type);
	uv_timer_start(&p->timer, tick, 0, period_ms);
}

/* --- parser callbacks --- */

static struct http_conn *http_conn_of(http_parser *p)
{
	return p->data;
}

static int http_fail(struct http_conn *c, int status, const char *code, const char *msg)
{
	c->err_status = status;
	c->err_code = code;
	c->err_msg = msg;
	return -1;
}

static int http_on_message_begin(http_parser *p)
{
	struct http_conn *c = http_conn_of(p);

	c->field_len = c->value_len = 0;
	c->in_value = 0;
	c->authorized = 0;
	c->url.len = 0;
	if (c->url.s)
		c->url.s[0] = 0;
	return 0;
}

static int http_on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);

	if (c->url.len + len > HTTP_URL_MAX)
		return http_fail(c, 414, "uri_too_long", "request URI too long");
	util_buf_add(&c->url, at, len);
	return c->url.oom ? http_fail(c, 500, "internal", "out of memory") : 0;
}

/*
 * "Bearer TOKEN" against the server's token. Both sides are hashed first, so
 * the comparison is of equal-length digests, in constant time (nettle's
 * memeql_sec): how long a wrong guess takes says nothing about the token.
 */
static int http_token_ok(const struct http_server *srv, const char *value)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx h;

	if (strncasecmp(value, "Bearer ", 7))
		return 0;
	value += 7;
	while (*value == ' ')
		value++;
	sha256_init(&h);
	sha256_update(&h, strlen(value), (const uint8_t *)value);
	sha256_digest(&h, sizeof(digest), digest);
	return memeql_sec(digest, srv->token_digest, sizeof(digest));
}

/* Keeps the headers ukd reads; a longer name or value than ours just stops matching. */
static void http_header_done(struct http_conn *c)
{
	struct http_req *req = c->req;

	c->field[c->field_len < sizeof(c->field) ? c->field_len : 0] = 0;
	c->value[c->value_len < sizeof(c->value) ? c->value_len : 0] = 0;
	if (!strcasecmp(c->field, "Content-Type"))
		snprintf(req->content_type, sizeof(req->content_type), "%.127s", c->value);
	else if (!strcasecmp(c->field, "Expect") && !strcasecmp(c->value, "100-continue"))
		req->expect_continue = 1;
	else if (!strcasecmp(c->field, "Authorization") && c->srv->has_token)
		c->authorized = http_token_ok(c->srv, c->value);
	c->field_len = c->value_len = 0;
	c->in_value = 0;
}

static void http_append(char *dst, size_t cap, size_t *len, const char *at, size_t n)
{
	/* Too long: remember an impossible length so the header is ignored. */
	if (*len + n >= cap) {
		*len = cap;
		return;
	}
	memcpy(dst + *len, at, n);
	*len += n;
}

static int http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);

	if (c->in_value)
		http_header_done(c);
	http_append(c->field, sizeof(c->field), &c->field_len, at, len);
	return 0;
}

static int http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);

	c->in_value = 1;
	http_append(c->value, sizeof(c->value), &c->value_len, at, len);
	return 0;
}

static int http_split_url(struct http_conn *c)
{
	struct http_req *req = c->req;
	struct http_parser_url u;
	const char *url = c->url.s ? c->url.s : "";
	size_t plen;

	http_parser_url_init(&u);
	if (http_parser_parse_url(url, c->url.len, 0, &u) || !(u.field_set & (1 << UF_PATH)))
		return http_fail(c, 400, "bad_request", "malformed request URI");
	plen = u.field_data[UF_PATH].len;
	req->path = malloc(plen + 1);
	req->query = strndup(u.field_set & (1 << UF_QUERY) ? url + u.field_data[UF_QUERY].off : "",
			     u.field_set & (1 << UF_QUERY) ? u.field_data[UF_QUERY].len : 0);
	if (!req->path || !req->query)
		return http_fail(c, 500, "internal", "out of memory");
	if (http_decode(url + u.field_data[UF_PATH].off, plen, req->path, plen + 1, 0) < 0)
		return http_fail(c, 400, "bad_request", "malformed percent-encoding in the path");
	return 0;
}

static int http_on_headers_complete(http_parser *p)
{
	struct http_conn *c = http_conn_of(p);
	struct http_req *req = c->req;
	char *cont;

	if (c->in_value)
		http_header_done(c);
	if (p->upgrade)
		return http_fail(c, 400, "bad_request", "protocol upgrades are not supported");
	/* Refused before the path is looked at or a byte of the body is read. */
	if (c->srv->has_token && !c->authorized)
		return http_fail(c, 401, "unauthorized",
				 "a bearer token is required: Authorization: Bearer TOKEN");
	if (http_split_url(c) < 0)
		return -1;
	req->method = p->method;
	req->limit = c->srv->limit(req, c->srv->opaque);
	/* Refused before a byte of the body is read. */
	if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
	    p->content_length > req->limit)
		return http_fail(c, 413, "payload_too_large", "request body too large");
	if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX && p->content_length) {
		req->body = malloc((size_t)p->content_length + 1);
		if (!req->body)
			return http_fail(c, 500, "internal", "out of memory");
	}
	if (req->expect_continue && (cont = strdup("HTTP/1.1 100 Continue\r\n\r\n")))
		http_write(c, cont, strlen(cont), 0);
	return 0;
}

static int http_on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);
	struct http_req *req = c->req;
	char *nb;

	if (req->body_len + len > req->limit)
		return http_fail(c, 413, "payload_too_large", "request body too large");
	/* Chunked bodies grow; a Content-Length body was allocated whole. */
	if (p->flags & F_CHUNKED) {
		if (!(nb = realloc(req->body, req->body_len + len + 1)))
			return http_fail(c, 500, "internal", "out of memory");
		req->body = nb;
	}
	memcpy(req->body + req->body_len, at, len);
	req->body_len += len;
	return 0;
}

static int http_on_message_complete(http_parser *p)
{
	struct http_conn *c = http_conn_of(p);

	c->keep_alive = http_should_keep_alive(p);
	c->complete = 1;
	/* Stop here: the next pipelined request waits until this one is answered. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings http_settings = {
	.on_message_begin = http_on_message_begin,
	.on_url = http_on_url,
	.on_header_field = http_on_header_field,
	.on_header_value = http_on_header_value,
	.on_headers_complete = http_on_headers_complete,
	.on_body = http_on_body,
	.on_message_complete = http_on_message_complete,
};

/* --- connections --- */

static void http_conn_handle_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;

	if (--c->handles)
		return;
	util_buf_free(&c->url);
	free(c->rest);
	free(c);
}

static void http_conn_close(struct http_conn *c)
{
	struct http_req *req;

	if (!c || c->closing)
		return;
	c->closing = 1;
	if ((req = c->req)) {
		c->req = NULL;
		if (c->dispatched) {
			/* The handler still owns it and answers into the void. */
			req->conn = NULL;
			if (req->streaming && req->on_gone)
				req->on_gone(req);
		} else {
			http_req_free(req);
		}
	}
	if (c->next)
		c->next->pprev = c->pprev;
	*c->pprev = c->next;
	c->srv->nconns--;
	uv_close((uv_handle_t *)&c->h, http_conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, http_conn_handle_closed);
}

static void http_conn_timeout(uv_timer_t *t)
{
	struct http_conn *c = t->data;

	if (c->req && !c->dispatched && !c->closing) {
		c->close_after = 1;
		c->dispatched = 1; /* so http_respond may take it */
		http_respond_error(c->req, 408, "request_timeout",
				   "request not received within %d s",
				   HTTP_REQUEST_TIMEOUT_MS / 1000);
		return;
	}
	http_conn_close(c);
}

static void http_dispatch(struct http_conn *c)
{
	struct http_req *req = c->req;

	uv_read_stop((uv_stream_t *)&c->h);
	uv_timer_stop(&c->timer);
	c->dispatched = 1;
	if (!req->body && !(req->body = strdup(""))) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	req->body[req->body_len] = 0;
	c->srv->handler(req, c->srv->opaque);
}

static void http_conn_error(struct http_conn *c, int status, const char *code, const char *msg)
{
	c->close_after = 1;
	c->drain = 1;
	uv_read_stop((uv_stream_t *)&c->h);
	uv_timer_stop(&c->timer);
	c->dispatched = 1;
	http_error(c->req, status, code, status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL,
		   msg);
}

static void http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
	enum http_errno e;
	size_t n;

	if (!c->req) {
		if (!(c->req = calloc(1, sizeof(*c->req)))) {
			http_conn_close(c);
			return;
		}
		c->req->conn = c;
		c->err_status = 0;
		uv_timer_start(&c->timer, http_conn_timeout, HTTP_REQUEST_TIMEOUT_MS, 0);
	}
	n = http_parser_execute(&c->parser, &http_settings, data, len);
	e = HTTP_PARSER_ERRNO(&c->parser);
	if (c->complete) {
		if (n < len) {
			free(c->rest);
			c->rest = malloc(len - n);
			if (!c->rest) {
				http_conn_close(c);
				return;
			}
			memcpy(c->rest, data + n, len - n);
			c->rest_len = len - n;
		}
		http_dispatch(c);
	} else if (c->err_status) {
		http_conn_error(c, c->err_status, c->err_code, c->err_msg);
	} else if (e == HPE_HEADER_OVERFLOW) {
		http_conn_error(c, 431, "headers_too_large", "request headers too large");
	} else if (e != HPE_OK) {
		http_conn_error(c, 400, "bad_request", http_errno_description(e));
	}
}

static void http_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(HTTP_READ_SIZE);
	buf->len = buf->base ? HTTP_READ_SIZE : 0;
}

static void http_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = s->data;

	if (nread < 0) {
		http_conn_close(c);
	} else if (nread > 0 && !c->closing) {
		/* While streaming or draining, the client has nothing to say: input is dropped. */
		if (!c->draining && !(c->req && c->req->streaming))
			http_conn_feed(c, buf->base, (size_t)nread);
	}
	free(buf->base);
}

/*
 * At the connection limit, the oldest connection without a request in the
 * handler's hands (idle, or still trickling its request in) gives way to the
 * new one, so that a flood of idle or slowloris clients cannot lock everyone
 * else out. -1 if every other connection is busy with a request.
 */
static int http_evict(struct http_server *srv, struct http_conn *keep)
{
	struct http_conn *c, *oldest = NULL;

	/* New connections go to the head of the list: the last match is the oldest. */
	for (c = srv->conns; c; c = c->next)
		if (c != keep && !c->dispatched && !c->closing)
			oldest = c;
	if (!oldest)
		return -1;
	log_debug("http: more than %d connections; closing the oldest idle one", HTTP_CONN_MAX);
	http_conn_close(oldest);
	return 0;
}

static void http_on_connection(uv_stream_t *server, int status)
{
	struct http_server *srv = server->data;
	struct http_conn *c;

	if (status < 0) {
		log_warn("http: accept: %s", uv_strerror(status));
		return;
	}
	if (!(c = calloc(1, sizeof(*c))))
		return;
	c->srv = srv;
	if (srv->tcp)
		uv_tcp_init(srv->loop, &c->h.tcp);
	else
		uv_pipe_init(srv->loop, &c->h.pipe, 0);
	uv_timer_init(srv->loop, &c->timer);
	c->h.handle.data = c->timer.data = c;
	c->handles = 2;
	c->next = srv->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &srv->conns;
	srv->conns = c;
	srv->nconns++;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->h) < 0) {
		http_conn_close(c);
		return;
	}
	if (srv->nconns > HTTP_CONN_MAX && http_evict(srv, c) < 0) {
		log_warn("http: %d connections busy with requests; refusing one", HTTP_CONN_MAX);
		http_conn_close(c);
		return;
	}
	if (srv->tcp)
		uv_tcp_nodelay(&c->h.tcp, 1);
	uv_timer_start(&c->timer, http_conn_timeout, HTTP_IDLE_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->h, http_alloc, http_read);
}

static void http_server_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	free(srv->path);
	free(srv);
}

/* A socket file someone still accepts on is live; anything else there is stale. */
static int http_socket_live(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, live;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return live;
}

/*
 * HTTP_CONN_MAX connections need as many fds beside the daemon's own; the
 * usual soft limit (1024) is below that, the hard one rarely is.
 */
static void http_raise_nofile(void)
{
	rlim_t want = HTTP_CONN_MAX + 1024;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warn("http: only %llu file descriptors; fewer than %d API connections may fit",
			 (unsigned long long)rl.rlim_cur, HTTP_CONN_MAX);
}

static struct http_server *http_server_new(uv_loop_t *loop, const char *path,
					   http_handler_fn handler, http_limit_fn limit,
					   void *opaque)
{
	struct http_server *srv = calloc(1, sizeof(*srv));

	if (!srv || !(srv->path = strdup(path))) {
		free(srv);
		return NULL;
	}
	srv->loop = loop;
	srv->handler = handler;
	srv->limit = limit;
	srv->opaque = opaque;
	http_parser_set_max_header_size(HTTP_HEAD_MAX);
	http_raise_nofile();
	return srv;
}

int http_server_start(struct http_server **out, uv_loop_t *loop, const char *path,
		      http_handler_fn handler, http_limit_fn limit, void *opaque)
{
	struct http_server *srv = http_server_new(loop, path, handler, limit, opaque);
	struct stat st;
	mode_t old;
	int ret;

	if (!srv)
		return -ENOMEM;
	if ((ret = http_socket_live(path)) != 0) {
		ret = ret > 0 ? -EADDRINUSE : ret;
		goto free_srv;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ret = -EEXIST; /* never remove what is not a socket */
			goto free_srv;
		}
		unlink(path);
	}
	uv_pipe_init(loop, &srv->h.pipe, 0);
	srv->h.handle.data = srv;
	/* The umask makes the socket 0660 from the start: no window with a wider mode. */
	old = umask(0117);
	ret = uv_pipe_bind(&srv->h.pipe, path);
	umask(old);
	if (ret == 0)
		/*
		 * A unix socket's client gets EAGAIN, not a wait, once the backlog
		 * is full: a deep one keeps a burst of connections from failing
		 * clients that connect meanwhile (the kernel caps it at somaxconn).
		 */
		ret = uv_listen(&srv->h.stream, HTTP_BACKLOG, http_on_connection);
	if (ret < 0) {
		/* The pipe handle lives in srv: the close callback frees both. */
		uv_close(&srv->h.handle, http_server_closed);
		return ret;
	}
	*out = srv;
	return 0;
free_srv:
	free(srv->path);
	free(srv);
	return ret;
}

/* HOST:PORT or [V6]:PORT into an address to bind (getaddrinfo: names work too). */
static int http_resolve(const char *hostport, struct sockaddr_storage *sa)
{
	char host[256];
	const char *colon = strrchr(hostport, ':'), *h = hostport;
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM},
			*res;
	size_t hlen;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -EINVAL;
	hlen = (size_t)(colon - hostport);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -EINVAL;
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int http_server_start_tcp(struct http_server **out, uv_loop_t *loop, const char *hostport,
			  const char *token, http_handler_fn handler, http_limit_fn limit,
			  void *opaque)
{
	struct http_server *srv;
	struct sockaddr_storage sa;
	struct sha256_ctx h;
	int ret;

	if (!token || !token[0] || strlen(token) > HTTP_TOKEN_MAX)
		return -EINVAL;
	if ((ret = http_resolve(hostport, &sa)) < 0)
		return ret;
	if (!(srv = http_server_new(loop, hostport, handler, limit, opaque)))
		return -ENOMEM;
	srv->tcp = 1;
	srv->has_token = 1;
	sha256_init(&h);
	sha256_update(&h, strlen(token), (const uint8_t *)token);
	sha256_digest(&h, sizeof(srv->token_digest), srv->token_digest);
	uv_tcp_init(loop, &srv->h.tcp);
	srv->h.handle.data = srv;
	ret = uv_tcp_bind(&srv->h.tcp, (const struct sockaddr *)&sa, 0);
	if (ret == 0)
		ret = uv_listen(&srv->h.stream, HTTP_BACKLOG, http_on_connection);
	if (ret < 0) {
		uv_close(&srv->h.handle, http_server_closed);
		return ret;
	}
	*out = srv;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv || srv->stopping)
		return;
	srv->stopping = 1;
	while (srv->conns)
		http_conn_close(srv->conns);
	if (!srv->tcp)
		unlink(srv->path);
	uv_close(&srv->h.handle, http_server_closed);
}
