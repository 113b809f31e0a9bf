/*
 * health.c: ukd's health monitor (see health.h).
 *
 * Per instance: a listening pipe, at most one connected client (QEMU), a
 * liveness timer, the reader and a fixed read buffer, and the last of each
 * thing the guest reported. A handle-count frees the struct only once
 * libuv has closed every handle in it.
 */
#define _GNU_SOURCE
#include "health.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "qemusock.h"
#include "store.h"
#include "util.h"

#define HEALTH_INTERVAL_MS                                                    \
	HEALTH_INTERVAL_DEFAULT_MS /* what guests run with (no uk.heartbeat=) \
				    */
#define HEALTH_CHECK_MS 1000

struct health_client {
	uv_pipe_t pipe;
	struct health_inst *hi; /* NULL once detached from its instance */
};

struct health_inst {
	struct daemon *d;
	char id[STORE_INSTANCE_ID_LEN + 1];
	char image_id[STORE_IMAGE_ID_LEN + 1];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uv_pipe_t server;
	uv_timer_t timer;
	int handles; /* open uv handles in this struct */
	int listening, forgotten;
	int adopted;	      /* the domain ran before this ukd: its hello went to the last one */
	uint32_t interval_ms; /* the guest's heartbeat interval (uk.heartbeat=), 0: default */
	struct health_client *client;
	struct ukhealth_reader reader;
	uint8_t rbuf[HEALTH_FRAME_MAX];
	struct health_msg msg;
	/* What the guest reported. */
	int has_hello, has_exit, has_panic, ready;
	struct health_hello hello;
	struct health_heartbeat hb;
	int64_t hb_ms, hello_ms, connected_ms; /* 0: never */
	char not_ready[HEALTH_REASON_MAX + 1];
	struct health_exit exit;
	struct health_panic panic;
	struct health_log_dropped dropped;
	/* ukd's verdict. */
	int unhealthy, protocol_closed;
	char why[256];
	/*
	 * The input budget of the current HEALTH_CHECK_MS window: past
	 * HEALTH_RATE_FRAMES frames or HEALTH_RATE_BYTES bytes ukd stops reading
	 * (paused) until the next window; `over` windows in a row were exhausted.
	 */
	uint64_t win_frames0, win_bytes;
	unsigned win_events, over;
	int paused, win_full;
	int draining; /* health_drain: the domain has ended */
	/*
	 * A shutdown asked for before the guest could hear it (it was booting:
	 * no hello yet, or its channel not reconnected to this ukd): sent as soon
	 * as the guest speaks, with what is left of its deadline.
	 */
	uint32_t shutdown_deadline_ms;
	int64_t shutdown_asked_ms;	    /* 0: none pending */
	uint64_t throttled, events_dropped; /* windows cut short; events not recorded */
	struct health_inst *next;
};

static struct health_inst *health_list;

static struct health_inst *health_find(struct daemon *d, const char *id)
{
	for (struct health_inst *hi = health_list; hi; hi = hi->next)
		if (hi->d == d && !hi->forgotten && !strcmp(hi->id, id))
			return hi;
	return NULL;
}

int health_socket_path(struct daemon *d, const char *id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/instances/%s/health.sock", d->cfg->root, id);

	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/* Records an event; the guest's own ones (ready, panic, ...) within HEALTH_RATE_EVENTS a window. */
static int health_event_guest(struct health_inst *hi, const char *kind, const char *detail)
{
	int ret;

	if (hi->win_events >= HEALTH_RATE_EVENTS) {
		hi->events_dropped++;
		return -EAGAIN;
	}
	hi->win_events++;
	if ((ret = store_event_add(hi->d->store, kind, hi->id, detail)) < 0)
		log_warn("instance %s: cannot record %s: %s", hi->id, kind, strerror(-ret));
	return 0;
}

static void health_event(struct health_inst *hi, const char *kind, const char *detail)
{
	int ret = store_event_add(hi->d->store, kind, hi->id, detail);

	if (ret < 0)
		log_warn("instance %s: cannot record %s: %s", hi->id, kind, strerror(-ret));
}

__attribute__((format(printf, 2, 3))) static void health_set_unhealthy(struct health_inst *hi,
								       const char *fmt, ...)
{
	char was[sizeof(hi->why)];
	va_list ap;

	snprintf(was, sizeof(was), "%s", hi->unhealthy ? hi->why : "");
	va_start(ap, fmt);
	vsnprintf(hi->why, sizeof(hi->why), fmt, ap);
	va_end(ap);
	/* Once per verdict: a flood found after the heartbeats it held up went missing, too. */
	if (strcmp(was, hi->why)) {
		log_warn("instance %s: unhealthy: %s", hi->id, hi->why);
		health_event(hi, "instance.unhealthy", hi->why);
	}
	hi->unhealthy = 1;
}

/* --- handles --- */

static void health_inst_free_maybe(struct health_inst *hi)
{
	struct health_inst **pp;

	if (!hi->forgotten || hi->handles)
		return;
	for (pp = &health_list; *pp; pp = &(*pp)->next)
		if (*pp == hi) {
			*pp = hi->next;
			break;
		}
	free(hi);
}

static void health_handle_closed(uv_handle_t *h)
{
	struct health_inst *hi = h->data;

	hi->handles--;
	health_inst_free_maybe(hi);
}

static void health_client_closed(uv_handle_t *h)
{
	free(h->data);
}

static void health_client_close(struct health_inst *hi)
{
	struct health_client *c = hi->client;

	if (!c)
		return;
	hi->client = NULL;
	c->hi = NULL;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_close((uv_handle_t *)&c->pipe, health_client_closed);
}

static void health_stop_listening(struct health_inst *hi)
{
	health_client_close(hi);
	if (hi->listening) {
		hi->listening = 0;
		uv_close((uv_handle_t *)&hi->server, health_handle_closed);
		uv_close((uv_handle_t *)&hi->timer, health_handle_closed);
		unlink(hi->path);
	}
}

/* --- messages --- */

static int health_send(struct health_inst *hi, const struct health_msg *m)
{
	uint8_t buf[64];
	int n = ukhealth_encode(m, buf, sizeof(buf));
	uv_buf_t b;

	if (n < 0)
		return -EINVAL;
	if (!hi->client)
		return -ENOTCONN;
	b = uv_buf_init((char *)buf, (unsigned)n);
	/* Host frames are a dozen bytes: they fit the socket buffer, or the guest is wedged. */
	if (uv_try_write((uv_stream_t *)&hi->client->pipe, &b, 1) != n)
		return -EAGAIN;
	return 0;
}

static void health_on_hello(struct health_inst *hi, const struct health_hello *h)
{
	static const uint8_t zero[HEALTH_DIGEST_SIZE];
	char digest[2 * HEALTH_DIGEST_SIZE + 1];

	for (int i = 0; i < HEALTH_DIGEST_SIZE; i++)
		snprintf(digest + 2 * i, 3, "%02x", h->digest[i]);
	/* A guest claiming to be another instance, or to run another image, is not trusted. */
	if ((h->instance_id[0] && strcmp(h->instance_id, hi->id)) ||
	    (memcmp(h->digest, zero, sizeof(zero)) && strcmp(digest, hi->image_id))) {
		log_warn("instance %s: hello from instance \"%s\" image %.12s: not this instance",
			 hi->id, h->instance_id, digest);
		hi->reader.violations++;
		hi->reader.by_kind[HEALTH_V_PAYLOAD]++;
		return;
	}
	if (!hi->has_hello)
		log_info("instance %s: health hello: protocol %u, runtime %u.%u.%u, main %.3f ms "
			 "after the first instruction",
			 hi->id, h->version, h->runtime_version >> 16,
			 h->runtime_version >> 8 & 0xff, h->runtime_version & 0xff,
			 h->main_ns > h->first_ns ? (double)(h->main_ns - h->first_ns) / 1e6 : 0.0);
	hi->hello = *h;
	hi->has_hello = 1;
	hi->hello_ms = util_now_ms();
}

/* The guest can hear ukd: it said hello to this ukd or, adopted, spoke to it. */
static int health_listens(const struct health_inst *hi)
{
	return hi->client && (hi->has_hello || (hi->adopted && hi->hb_ms));
}

static int health_send_shutdown(struct health_inst *hi, uint32_t deadline_ms)
{
	struct health_msg m = {.type = HEALTH_SHUTDOWN};

	if (deadline_ms < HEALTH_DEADLINE_MIN_MS)
		deadline_ms = HEALTH_DEADLINE_MIN_MS;
	if (deadline_ms > HEALTH_DEADLINE_MAX_MS)
		deadline_ms = HEALTH_DEADLINE_MAX_MS;
	m.u.shutdown.deadline_ms = deadline_ms;
	return health_send(hi, &m);
}

/* A pending shutdown goes out once the guest listens. */
static void health_shutdown_pending(struct health_inst *hi)
{
	int64_t spent;
	int ret;

	if (!hi->shutdown_asked_ms || !health_listens(hi))
		return;
	spent = util_now_ms() - hi->shutdown_asked_ms;
	hi->shutdown_asked_ms = 0;
	if (spent >= (int64_t)hi->shutdown_deadline_ms)
		return; /* too late: ukd's own deadline ends it */
	if ((ret = health_send_shutdown(hi, hi->shutdown_deadline_ms - (uint32_t)spent)) < 0)
		log_warn("instance %s: cannot send the shutdown: %s", hi->id, strerror(-ret));
	else
		log_info("instance %s: shutdown sent to the guest once it listened (%lld ms late)",
			 hi->id, (long long)spent);
}

static void health_on_message(struct health_inst *hi, const struct health_msg *m)
{
	switch (m->type) {
	case HEALTH_HELLO: health_on_hello(hi, &m->u.hello); break;
	case HEALTH_HEARTBEAT:
		hi->hb = m->u.heartbeat;
		hi->hb_ms = util_now_ms();
		if (hi->unhealthy && !hi->protocol_closed) {
			hi->unhealthy = 0;
			log_info("instance %s: heartbeats again", hi->id);
			health_event(hi, "instance.healthy", "heartbeats again");
		}
		break;
	case HEALTH_READY:
		if (!hi->ready)
			health_event_guest(hi, "instance.ready", NULL);
		hi->ready = 1;
		hi->not_ready[0] = 0;
		break;
	case HEALTH_NOT_READY:
		if (hi->ready || strcmp(hi->not_ready, m->u.not_ready.reason))
			health_event_guest(hi, "instance.not-ready", m->u.not_ready.reason);
		hi->ready = 0;
		snprintf(hi->not_ready, sizeof(hi->not_ready), "%s", m->u.not_ready.reason);
		break;
	case HEALTH_LOG_DROPPED: hi->dropped = m->u.log_dropped; break;
	case HEALTH_EXIT:
		hi->shutdown_asked_ms = 0;
		hi->exit = m->u.exit;
		hi->has_exit = 1;
		break;
	case HEALTH_PANIC:
		hi->panic = m->u.panic;
		hi->has_panic = 1;
		if (health_event_guest(hi, "instance.panic", m->u.panic.reason) == 0)
			log_warn("instance %s: panic: %s at %s", hi->id, m->u.panic.reason,
				 m->u.panic.nframes && m->u.panic.frames[0].symbol[0]
					 ? m->u.panic.frames[0].symbol
					 : "?");
		break;
	}
}

/*
 * The channel was closed on a hostile guest: ukd destroys it (a libvirt job;
 * the restart policy decides what follows). Not while draining the channel
 * of a domain that has ended already: that run is over.
 */
static void health_offender(struct health_inst *hi)
{
	if (!hi->draining)
		instance_offender(hi->d, hi->id, hi->why);
}

/* Feeds bytes from the guest through the reader; closes the channel once it has had enough. */
static void health_consume(struct health_inst *hi, const uint8_t *p, size_t n)
{
	unsigned max = hi->d->cfg->health_violations ? (unsigned)hi->d->cfg->health_violations
						     : HEALTH_VIOLATIONS_DEFAULT;
	enum health_violation kind;
	size_t used;

	while (n && hi->client) {
		enum health_event ev =
			ukhealth_reader_feed(&hi->reader, p, n, &used, &hi->msg, &kind);

		p += used;
		n -= used;
		if (ev == HEALTH_R_MSG) {
			health_on_message(hi, &hi->msg);
			health_shutdown_pending(hi);
		} else if (ev == HEALTH_R_VIOLATION && kind == HEALTH_V_VERSION) {
			hi->protocol_closed = 1;
			health_set_unhealthy(hi,
					     "protocol: the guest speaks health protocol version "
					     "%u; this ukd speaks %u",
					     hi->reader.peer_version, HEALTH_VERSION);
			health_client_close(hi);
		} else if (ev == HEALTH_R_VIOLATION) {
			log_debug("instance %s: health protocol violation (%s)", hi->id,
				  ukhealth_violation_name(kind));
		}
		if (hi->client && hi->reader.violations >= max) {
			hi->protocol_closed = 1;
			health_set_unhealthy(hi,
					     "protocol: %llu violations (last: %s); channel closed",
					     (unsigned long long)hi->reader.violations,
					     ukhealth_violation_name(kind));
			health_client_close(hi);
			health_offender(hi);
		}
	}
}

/* --- libuv glue --- */

static void health_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct health_client *c = h->data;

	(void)suggested;
	/* One fixed buffer per instance: what a guest sends never grows ukd's memory. */
	*buf = c->hi ? uv_buf_init((char *)c->hi->rbuf, sizeof(c->hi->rbuf)) : uv_buf_init(NULL, 0);
}

static void health_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct health_client *c = s->data;
	struct health_inst *hi = c->hi;

	if (!hi)
		return;
	if (nread < 0) {
		log_debug("instance %s: health channel closed: %s", hi->id,
			  uv_strerror((int)nread));
		health_client_close(hi);
		return;
	}
	health_consume(hi, (const uint8_t *)buf->base, (size_t)nread);
	hi->win_bytes += (uint64_t)nread;
	/*
	 * Over this window's budget: stop reading until the next one. The bytes
	 * wait in the socket, QEMU stops taking them from the guest, and the
	 * guest's own writes stall: a flood slows only its sender.
	 */
	if (hi->client && !hi->paused &&
	    (hi->reader.frames - hi->win_frames0 >= HEALTH_RATE_FRAMES ||
	     hi->win_bytes >= HEALTH_RATE_BYTES)) {
		uv_read_stop((uv_stream_t *)&hi->client->pipe);
		hi->paused = 1;
		hi->win_full = 1;
		hi->throttled++;
	}
}

/* A new budget window (health_check): reading resumes; a flood that lasts is a verdict. */
static void health_window(struct health_inst *hi)
{
	int ret;

	hi->over = hi->win_full ? hi->over + 1 : 0;
	hi->win_full = 0;
	hi->win_frames0 = hi->reader.frames;
	hi->win_bytes = 0;
	hi->win_events = 0;
	if (!hi->client)
		return;
	if (hi->over >= HEALTH_FLOOD_WINDOWS) {
		hi->protocol_closed = 1;
		health_set_unhealthy(hi,
				     "flood: over %u frames or %u KiB per second for %u s; "
				     "channel closed",
				     HEALTH_RATE_FRAMES, HEALTH_RATE_BYTES >> 10,
				     HEALTH_FLOOD_WINDOWS * HEALTH_CHECK_MS / 1000);
		health_client_close(hi);
		health_offender(hi);
		return;
	}
	if (hi->paused) {
		hi->paused = 0;
		if ((ret = uv_read_start((uv_stream_t *)&hi->client->pipe, health_alloc,
					 health_read)) < 0) {
			log_warn("instance %s: health channel: %s", hi->id, uv_strerror(ret));
			health_client_close(hi);
		}
	}
}

/* Where QEMU's user is remembered (qemusock.h): the instance's health.peer. */
static void health_peer_file(struct health_inst *hi, char *buf, size_t len)
{
	snprintf(buf, len, "%s/instances/%s/health.peer", hi->d->cfg->root, hi->id);
}

/* A connection just accepted (c->pipe open) becomes the instance's channel. */
static void health_attach(struct health_inst *hi, struct health_client *c)
{
	char peer[PATH_MAX];
	uv_os_fd_t fd;
	int ret;

	if (hi->protocol_closed) { /* it broke the protocol: no second chance this run */
		uv_close((uv_handle_t *)&c->pipe, health_client_closed);
		return;
	}
	health_peer_file(hi, peer, sizeof(peer));
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0)
		qemusock_peer_save(fd, peer);
	/* A new connection replaces the old one (QEMU reconnected). */
	health_client_close(hi);
	c->hi = hi;
	hi->client = c;
	hi->connected_ms = util_now_ms();
	ukhealth_reader_init(&hi->reader, HEALTH_TO_HOST);
	hi->win_frames0 = 0;
	hi->win_bytes = 0;
	hi->paused = 0;
	if ((ret = uv_read_start((uv_stream_t *)&c->pipe, health_alloc, health_read)) < 0) {
		log_warn("instance %s: health channel: %s", hi->id, uv_strerror(ret));
		health_client_close(hi);
		return;
	}
	log_debug("instance %s: health channel connected", hi->id);
	if (hi->adopted || hi->has_hello || hi->hb_ms) { /* its hello went elsewhere */
		struct health_msg m = {.type = HEALTH_PING, .u.ping.flags = HEALTH_PING_HELLO};

		health_send(hi, &m);
	}
}

static void health_connected(uv_stream_t *server, int status)
{
	struct health_inst *hi = server->data;
	struct health_client *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	uv_pipe_init(hi->d->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, health_client_closed);
		return;
	}
	health_attach(hi, c);
}

/*
 * Takes a connection still waiting in the listen queue, without the loop:
 * a guest that exits just after QEMU reconnected (it held its exit frame
 * for the new ukd, runtime/health.h) may end before the loop has turned to
 * accept, and its frame waits on that connection. 1 if one was taken.
 */
static int health_accept_pending(struct health_inst *hi)
{
	struct health_client *c;
	uv_os_fd_t sfd;
	int fd;

	if (!hi->listening || uv_fileno((uv_handle_t *)&hi->server, &sfd) < 0 ||
	    (fd = accept4(sfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return 0;
	if (!(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return 0;
	}
	uv_pipe_init(hi->d->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_pipe_open(&c->pipe, fd) < 0) {
		close(fd);
		uv_close((uv_handle_t *)&c->pipe, health_client_closed);
		return 0;
	}
	health_attach(hi, c);
	return 1;
}

/* Liveness: heartbeats stopped arriving for `missed` intervals. */
static void health_check(uv_timer_t *t)
{
	struct health_inst *hi = t->data;
	int missed = hi->d->cfg->health_missed ? hi->d->cfg->health_missed : HEALTH_MISSED_DEFAULT;
	int64_t last = hi->hb_ms > hi->hello_ms ? hi->hb_ms : hi->hello_ms;
	int64_t interval = hi->interval_ms ? hi->interval_ms : HEALTH_INTERVAL_MS;

	health_window(hi);
	if (!hi->has_hello || hi->has_exit || hi->unhealthy)
		return;
	if (util_now_ms() - last > (int64_t)missed * interval + HEALTH_CHECK_MS)
		health_set_unhealthy(hi, "missed heartbeats: none for %lld ms",
				     (long long)(util_now_ms() - last));
}

/* A new run: everything the guest reported before goes (from `reader` on). */
static void health_reset(struct health_inst *hi)
{
	struct health_inst *next = hi->next;

	memset(&hi->reader, 0, sizeof(*hi) - offsetof(struct health_inst, reader));
	hi->next = next;
}

void health_set_interval(struct daemon *d, const char *id, uint32_t interval_ms)
{
	struct health_inst *hi = health_find(d, id);

	if (hi)
		hi->interval_ms = interval_ms;
}

int health_watch(struct daemon *d, const char *id, const char *image_id, int adopted)
{
	struct health_inst *hi = health_find(d, id);
	char peer[PATH_MAX];
	int ret;

	if (hi && (hi->listening || hi->client)) {
		health_stop_listening(hi);
		hi->forgotten = 1; /* freed once its handles are closed; a fresh one follows */
		health_inst_free_maybe(hi);
		hi = NULL;
	}
	if (!hi) {
		if (!(hi = calloc(1, sizeof(*hi))))
			return -ENOMEM;
		hi->d = d;
		snprintf(hi->id, sizeof(hi->id), "%s", id);
		hi->next = health_list;
		health_list = hi;
	} else {
		health_reset(hi);
	}
	snprintf(hi->image_id, sizeof(hi->image_id), "%s", image_id ? image_id : "");
	if ((ret = health_socket_path(d, id, hi->path, sizeof(hi->path))) < 0)
		return ret;
	uv_pipe_init(d->loop, &hi->server, 0);
	hi->server.data = hi;
	hi->handles++;
	uv_timer_init(d->loop, &hi->timer);
	hi->timer.data = hi;
	hi->handles++;
	/* An adopted guest's QEMU reconnects as the user it connected as. */
	health_peer_file(hi, peer, sizeof(peer));
	hi->listening = 1;
	if ((ret = qemusock_listen(&hi->server, hi->path, adopted ? peer : NULL, health_connected,
				   id)) < 0) {
		log_warn("instance %s: cannot listen on %s: %s", id, hi->path, uv_strerror(ret));
		health_stop_listening(hi);
		return ret;
	}
	/* On whole seconds of the loop's clock: every instance's check in one wake-up. */
	uv_timer_start(&hi->timer, health_check,
		       HEALTH_CHECK_MS - uv_now(d->loop) % HEALTH_CHECK_MS, HEALTH_CHECK_MS);
	hi->hello_ms = adopted ? util_now_ms() : 0;
	hi->adopted = adopted;
	return 0;
}

/* Reads what is already queued on the client socket, without waiting. */
static void health_drain(struct health_inst *hi)
{
	uv_os_fd_t fd;
	ssize_t n;

	hi->draining = 1;
	/* The connection in use first: a newer one replaces it. */
	do
		while (hi->client && uv_fileno((uv_handle_t *)&hi->client->pipe, &fd) == 0 &&
		       (n = recv(fd, hi->rbuf, sizeof(hi->rbuf), MSG_DONTWAIT)) > 0)
			health_consume(hi, hi->rbuf, (size_t)n);
	while (health_accept_pending(hi));
	hi->draining = 0;
}

void health_unwatch(struct daemon *d, const char *id)
{
	struct health_inst *hi = health_find(d, id);

	if (!hi)
		return;
	health_drain(hi);
	health_stop_listening(hi);
}

void health_forget(struct daemon *d, const char *id)
{
	struct health_inst *hi = health_find(d, id);

	if (!hi)
		return;
	health_stop_listening(hi);
	hi->forgotten = 1;
	health_inst_free_maybe(hi);
}

void health_close_all(struct daemon *d)
{
	for (struct health_inst *hi = health_list, *next; hi; hi = next) {
		next = hi->next;
		if (hi->d != d)
			continue;
		health_stop_listening(hi);
		hi->forgotten = 1;
		health_inst_free_maybe(hi);
	}
}

int health_shutdown(struct daemon *d, const char *id, unsigned deadline_ms)
{
	struct health_inst *hi = health_find(d, id);

	if (!hi || hi->draining || hi->protocol_closed || !hi->listening)
		return -ENOTCONN;
	if (health_listens(hi))
		return health_send_shutdown(hi, deadline_ms);
	/* Booting, or not reconnected since ukd started: it goes out when the guest speaks. */
	hi->shutdown_deadline_ms = deadline_ms;
	hi->shutdown_asked_ms = util_now_ms();
	return 0;
}

int health_exit_info(struct daemon *d, const char *id, struct health_exit *out)
{
	struct health_inst *hi = health_find(d, id);

	if (!hi)
		return 0;
	health_drain(hi);
	if (!hi->has_exit)
		return 0;
	*out = hi->exit;
	return 1;
}

/* --- the API's view --- */

static const char *health_status(const struct health_inst *hi)
{
	if (hi->has_exit)
		return "exited";
	if (hi->unhealthy)
		return "unhealthy";
	if (!hi->has_hello)
		return "unknown";
	return hi->ready ? "healthy" : "starting";
}

static json_t *health_heartbeat_json(const struct health_inst *hi)
{
	const struct health_heartbeat *h = &hi->hb;

	if (!hi->hb_ms)
		return json_null();
	return json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:{s:i, s:i, s:i, s:i}, s:I, s:I, "
		"s:I, s:I, s:I}",
		"seq", (json_int_t)h->seq, "age_ms", (json_int_t)(util_now_ms() - hi->hb_ms),
		"uptime_ns", (json_int_t)h->uptime_ns, "memory_used_bytes", (json_int_t)h->mem_used,
		"memory_limit_bytes", (json_int_t)h->mem_limit, "memory_peak_bytes",
		(json_int_t)h->mem_peak, "cpu_ns", (json_int_t)h->cpu_ns, "threads",
		(int)h->threads, "open_fds", (int)h->fds, "sockets", "listen",
		(int)h->sockets[HEALTH_SOCK_LISTEN], "established",
		(int)h->sockets[HEALTH_SOCK_ESTABLISHED], "time_wait",
		(int)h->sockets[HEALTH_SOCK_TIME_WAIT], "other", (int)h->sockets[HEALTH_SOCK_OTHER],
		"packets_in", (json_int_t)h->pkts_in, "packets_out", (json_int_t)h->pkts_out,
		"bytes_in", (json_int_t)h->bytes_in, "bytes_out", (json_int_t)h->bytes_out,
		"unknown_syscalls", (json_int_t)h->unknown_syscalls);
}

static json_t *health_hello_json(const struct health_inst *hi)
{
	const struct health_hello *h = &hi->hello;
	char version[32];

	if (!hi->has_hello)
		return json_null();
	snprintf(version, sizeof(version), "%u.%u.%u", h->runtime_version >> 16,
		 h->runtime_version >> 8 & 0xff, h->runtime_version & 0xff);
	return json_pack("{s:i, s:s, s:I, s:I, s:I}", "protocol_version", (int)h->version,
			 "runtime_version", version, "first_instruction_ns",
			 (json_int_t)h->first_ns, "main_ns", (json_int_t)h->main_ns,
			 "boot_to_main_ns",
			 (json_int_t)(h->main_ns > h->first_ns ? h->main_ns - h->first_ns : 0));
}

static json_t *health_panic_json(const struct health_inst *hi)
{
	const struct health_panic *p = &hi->panic;
	json_t *bt = json_array();

	if (!hi->has_panic || !bt) {
		json_decref(bt);
		return json_null();
	}
	for (uint32_t i = 0; i < p->nframes; i++) {
		const struct health_frame *f = &p->frames[i];
		char addr[24];

		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)f->addr);
		json_array_append_new(
			bt,
			json_pack("{s:s, s:s?, s:I, s:s}", "address", addr, "symbol",
				  f->symbol[0] ? f->symbol : NULL, "offset", (json_int_t)f->offset,
				  "in", f->where == HEALTH_IN_APP ? "application" : "runtime"));
	}
	return json_pack("{s:s, s:I, s:o}", "reason", p->reason, "fault_address",
			 (json_int_t)p->fault_addr, "backtrace", bt);
}

void health_metrics_text(struct daemon *d, struct util_buf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} gauges[] = {
		{"ukd_instance_uptime_ns", "guest uptime (ns)",
		 offsetof(struct health_heartbeat, uptime_ns)},
		{"ukd_instance_memory_used_bytes", "guest RAM in use",
		 offsetof(struct health_heartbeat, mem_used)},
		{"ukd_instance_memory_limit_bytes", "guest RAM",
		 offsetof(struct health_heartbeat, mem_limit)},
		{"ukd_instance_memory_peak_bytes", "most guest RAM ever in use",
		 offsetof(struct health_heartbeat, mem_peak)},
		{"ukd_instance_cpu_ns", "application CPU time (ns)",
		 offsetof(struct health_heartbeat, cpu_ns)},
		{"ukd_instance_unknown_syscalls", "unimplemented syscalls called",
		 offsetof(struct health_heartbeat, unknown_syscalls)},
	};

	for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		util_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name,
				gauges[g].help, gauges[g].name);
		for (struct health_inst *hi = health_list; hi; hi = hi->next)
			if (hi->d == d && !hi->forgotten && hi->hb_ms && !hi->has_exit)
				util_buf_printf(
					b, "%s{instance=\"%s\"} %llu\n", gauges[g].name, hi->id,
					*(const unsigned long long *)((const char *)&hi->hb +
								      gauges[g].off));
	}
	util_buf_puts(b, "# HELP ukd_instance_healthy 1 if ready and beating\n"
			 "# TYPE ukd_instance_healthy gauge\n");
	for (struct health_inst *hi = health_list; hi; hi = hi->next)
		if (hi->d == d && !hi->forgotten && hi->has_hello && !hi->has_exit)
			util_buf_printf(b, "ukd_instance_healthy{instance=\"%s\"} %d\n", hi->id,
					!strcmp(health_status(hi), "healthy"));
	/* Application metrics: names were checked by the reader ([A-Za-z_:][A-Za-z0-9_:]*). */
	util_buf_puts(b, "# HELP ukd_app_metric application metrics (ukapp_metric_set/add)\n"
			 "# TYPE ukd_app_metric gauge\n");
	for (struct health_inst *hi = health_list; hi; hi = hi->next)
		for (uint32_t i = 0; hi->d == d && !hi->forgotten && hi->hb_ms && !hi->has_exit &&
				     i < hi->hb.nmetrics;
		     i++)
			util_buf_printf(b, "ukd_app_metric{instance=\"%s\",name=\"%s\"} %lld\n",
					hi->id, hi->hb.metrics[i].name,
					(long long)hi->hb.metrics[i].value);
}

json_t *health_json(struct daemon *d, const char *id)
{
	struct health_inst *hi = health_find(d, id);
	json_t *metrics = json_object(), *viol = json_object(), *o;

	if (!metrics || !viol)
		goto oom;
	if (!hi) {
		o = json_pack("{s:s, s:n, s:b, s:n, s:s, s:n, s:n, s:o, s:{s:i}, s:n, s:n, s:i}",
			      "status", "unknown", "reason", "ready", 0, "not_ready_reason",
			      "channel", "none", "hello", "heartbeat", "metrics", json_object(),
			      "violations", "total", 0, "exit", "panic", "frames_dropped", 0);
		json_decref(metrics);
		json_decref(viol);
		if (o)
			json_object_set_new(o, "throttle",
					    json_pack("{s:i, s:i, s:i, s:i}", "seconds", 0,
						      "frames", 0, "bytes", 0, "events_dropped",
						      0));
		return o;
	}
	for (uint32_t i = 0; hi->hb_ms && i < hi->hb.nmetrics; i++)
		json_object_set_new(metrics, hi->hb.metrics[i].name,
				    json_integer(hi->hb.metrics[i].value));
	json_object_set_new(viol, "total", json_integer((json_int_t)hi->reader.violations));
	for (int k = 0; k < HEALTH_V_NKINDS; k++)
		json_object_set_new(viol, ukhealth_violation_name(k),
				    json_integer((json_int_t)hi->reader.by_kind[k]));
	o = json_pack("{s:s, s:s?, s:b, s:s?, s:s, s:o, s:o, s:o, s:o, s:o?, s:o, s:I}", "status",
		      health_status(hi), "reason", hi->unhealthy ? hi->why : NULL, "ready",
		      hi->ready, "not_ready_reason", hi->not_ready[0] ? hi->not_ready : NULL,
		      "channel",
		      hi->client      ? "connected"
		      : hi->listening ? "waiting"
				      : "closed",
		      "hello", health_hello_json(hi), "heartbeat", health_heartbeat_json(hi),
		      "metrics", metrics, "violations", viol, "exit",
		      hi->has_exit ? json_pack("{s:i, s:s, s:i}", "status", hi->exit.status,
					       "reason", ukhealth_exit_reason_name(hi->exit.reason),
					       "signal", hi->exit.signal)
				   : json_null(),
		      "panic", health_panic_json(hi), "frames_dropped",
		      (json_int_t)hi->dropped.health_frames);
	if (o)
		json_object_set_new(o, "throttle",
				    json_pack("{s:I, s:I, s:I, s:I}", "seconds",
					      (json_int_t)hi->throttled, "frames",
					      (json_int_t)hi->reader.frames, "bytes",
					      (json_int_t)hi->reader.bytes, "events_dropped",
					      (json_int_t)hi->events_dropped));
	return o;
oom:
	json_decref(metrics);
	json_decref(viol);
	return NULL;
}
