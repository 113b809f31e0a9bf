/*
 * client.h: ukctl's HTTP client for ukd's API (api/openapi.yaml), on libcurl.
 *
 * A client talks to one daemon, named by a host string:
 *   unix:///path/to/ukd.sock   (the default is CLIENT_DEFAULT_HOST)
 *   tcp://host:port            (with a bearer token, when one is given)
 *
 * Requests are "calls": a call is started, then client_poll() moves every
 * call in flight until they are done, so a command can keep a log stream
 * open while it sends a stop request (what `ukctl run` does on Ctrl-C).
 * client_do() is the blocking shorthand for one call.
 *
 * Functions return 0 or a negative errno. A call that reached ukd is 0 even
 * when ukd refused it: the HTTP status and body are in the response.
 * -ECONNREFUSED means the daemon could not be reached at all; other errors
 * (-EIO, -ENOMEM) come with a message in the call's err buffer.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <jansson.h>
#include <stddef.h>

#define CLIENT_DEFAULT_HOST "unix:///run/ukd/ukd.sock"

struct client;
struct client_call;

/* Receives streamed body bytes; return nonzero to abort the call. */
typedef int (*client_data_fn)(const char *data, size_t len, void *opaque);
/* Upload progress: bytes sent so far and in total (0 if unknown). */
typedef void (*client_progress_fn)(size_t sent, size_t total, void *opaque);

struct client_req {
	const char *method; /* "GET", "POST", "DELETE" */
	const char *path;   /* "/v1/..." with any query, already escaped */
	const char *ctype;  /* Content-Type of body; NULL for no body */
	const void *body;
	size_t len;
	client_data_fn on_data;		/* optional: stream the body here, not into resp */
	client_progress_fn on_progress; /* optional */
	void *opaque;
};

struct client_resp {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated; NULL when streamed */
	size_t len;
	json_t *json;  /* the parsed body when ukd sent JSON, else NULL */
	char err[512]; /* why the call failed (return < 0) */
};

/*
 * Parses host (NULL: CLIENT_DEFAULT_HOST) and sets up libcurl. token may be
 * NULL; it is sent only over TCP. -EINVAL with a message in err for a host
 * string that is neither unix:// nor tcp://.
 */
int client_new(struct client **out, const char *host, const char *token, char *err, size_t errlen);
void client_free(struct client *c);

/* The host string in use, for messages. */
const char *client_host(const struct client *c);

/* Starts a call; its request must stay valid until it is done. */
int client_start(struct client *c, const struct client_req *rq, struct client_call **out);

/* Moves the calls in flight for at most timeout_ms. Returns the number still running. */
int client_poll(struct client *c, int timeout_ms);

/* 1 once the call is done. */
int client_call_done(const struct client_call *call);

/*
 * Takes the outcome of a finished call into resp (which the caller frees with
 * client_resp_clear) and frees the call. Returns 0 or -errno as above.
 */
int client_finish(struct client_call *call, struct client_resp *resp);

/* Aborts and frees a call that is still running. */
void client_cancel(struct client_call *call);

/* Starts one call and waits for it. */
int client_do(struct client *c, const struct client_req *rq, struct client_resp *resp);

void client_resp_clear(struct client_resp *resp);

/* ukd's error message from an error response ("HTTP 500" if it sent none). */
const char *client_error_message(const struct client_resp *resp, char *buf, size_t len);

/* Percent-escapes s for a path segment or query value (malloc'd, NULL on OOM). */
char *client_escape(const char *s);

#endif
