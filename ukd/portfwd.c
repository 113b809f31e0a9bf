/*
 * portfwd.c: the published-port relay (see portfwd.h).
 *
 * TCP: each accepted connection gets a guest-side socket from netns, which
 * connects to the guest; then bytes flow both ways with back-pressure (a
 * side stops reading while more than PORTFWD_HIGH_WATER bytes wait to be
 * written to the other) and half-close (EOF on one side becomes a shutdown
 * of the other). A connection is freed once its handles are closed and no
 * socket request is outstanding.
 *
 * UDP: one guest-side socket per client address (a flow), connected to the
 * guest, so replies find their way back; idle flows expire.
 */
#define _GNU_SOURCE
#include "portfwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define PORTFWD_BUF (64u << 10)

struct portfwd_conn;
struct portfwd_flow;

struct portfwd {
	uv_loop_t *loop;
	struct netns *ns;
	int udp;
	union {
		uv_tcp_t tcp;
		uv_udp_t udp;
	} l;
	uv_timer_t sweep; /* UDP: expires idle flows */
	int handles;	  /* open handles of f itself */
	int closing;
	struct sockaddr_in guest;
	int running;   /* the guest runs: else connections are reset at once */
	char what[96]; /* for the log */
	struct portfwd_conn *conns;
	struct portfwd_flow *flows;
	size_t active;
};

/* --- TCP --- */

struct portfwd_conn {
	struct portfwd *f;
	uv_tcp_t side[2]; /* 0: the host's client, 1: the guest */
	int open[2];	  /* handles initialized and not yet closed */
	int eof[2];	  /* side i sent EOF (and the other was shut down) */
	size_t queued[2]; /* bytes waiting to be written to side i */
	int reading[2];
	/*
	 * One read buffer per side, reused while what it held could be written
	 * at once (uv_try_write, the common case for request/response traffic):
	 * only a write that must wait gets its own copy.
	 */
	char *buf[2];
	int buf_busy[2];
	uv_connect_t connect;
	struct netns_req req;
	int req_pending;
	int closing;
	struct portfwd_conn *next, **pprev;
};

struct portfwd_write {
	uv_write_t w;
	struct portfwd_conn *c;
	int to;
	uv_buf_t buf;
};

static void portfwd_free_if_done(struct portfwd *f);

static void portfwd_conn_maybe_free(struct portfwd_conn *c)
{
	struct portfwd *f = c->f;

	if (c->open[0] || c->open[1] || c->req_pending)
		return;
	free(c->buf[0]);
	free(c->buf[1]);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	f->active--;
	free(c);
	portfwd_free_if_done(f);
}

static void portfwd_side_closed(uv_handle_t *h)
{
	struct portfwd_conn *c = h->data;

	c->open[(uv_tcp_t *)h == &c->side[1]] = 0;
	portfwd_conn_maybe_free(c);
}

static void portfwd_conn_close(struct portfwd_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	for (int i = 0; i < 2; i++)
		if (c->open[i] && !uv_is_closing((uv_handle_t *)&c->side[i]))
			uv_close((uv_handle_t *)&c->side[i], portfwd_side_closed);
	portfwd_conn_maybe_free(c);
}

static void portfwd_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(PORTFWD_BUF);
	buf->len = buf->base ? PORTFWD_BUF : 0;
}

static void portfwd_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void portfwd_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct portfwd_conn *c = h->data;
	int i = (uv_tcp_t *)h == &c->side[1];

	(void)hint;
	if (!c->buf[i])
		c->buf[i] = malloc(PORTFWD_BUF);
	if (c->buf[i] && !c->buf_busy[i]) {
		c->buf_busy[i] = 1;
		*buf = uv_buf_init(c->buf[i], PORTFWD_BUF);
		return;
	}
	portfwd_alloc(h, hint, buf);
}

/* Gives a read buffer back: the connection's own is reused, any other freed. */
static void portfwd_buf_done(struct portfwd_conn *c, int i, char *base)
{
	if (base && base == c->buf[i])
		c->buf_busy[i] = 0;
	else
		free(base);
}

static void portfwd_start_reading(struct portfwd_conn *c, int i)
{
	if (c->reading[i] || c->eof[i] || c->closing)
		return;
	if (uv_read_start((uv_stream_t *)&c->side[i], portfwd_conn_alloc, portfwd_read) == 0)
		c->reading[i] = 1;
}

static void portfwd_shutdown_done(uv_shutdown_t *req, int status)
{
	struct portfwd_conn *c = req->data;

	(void)status;
	free(req);
	/* Both directions ended: nothing more can flow. */
	if (c->eof[0] && c->eof[1])
		portfwd_conn_close(c);
}

static void portfwd_written(uv_write_t *w, int status)
{
	struct portfwd_write *pw = (struct portfwd_write *)w;
	struct portfwd_conn *c = pw->c;
	int to = pw->to;

	c->queued[to] -= pw->buf.len;
	free(pw); /* its bytes live right after it */
	if (status < 0) {
		portfwd_conn_close(c);
		return;
	}
	if (c->queued[to] < PORTFWD_HIGH_WATER / 2)
		portfwd_start_reading(c, !to);
}

static void portfwd_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct portfwd_conn *c = s->data;
	int from = (uv_tcp_t *)s == &c->side[1], to = !from, w = 0;
	struct portfwd_write *pw;
	uv_shutdown_t *sd;
	uv_buf_t rest;

	if (n == 0 || c->closing) {
		portfwd_buf_done(c, from, buf->base);
		return;
	}
	if (n < 0) {
		portfwd_buf_done(c, from, buf->base);
		if (n != UV_EOF) {
			portfwd_conn_close(c);
			return;
		}
		c->eof[from] = 1;
		uv_read_stop(s);
		c->reading[from] = 0;
		if (!(sd = malloc(sizeof(*sd))) ||
		    uv_shutdown(sd, (uv_stream_t *)&c->side[to], portfwd_shutdown_done) < 0) {
			free(sd);
			portfwd_conn_close(c);
			return;
		}
		sd->data = c;
		return;
	}
	/* Nothing queued towards that side: try to write it now, in order. */
	if (!c->queued[to]) {
		rest = uv_buf_init(buf->base, (unsigned)n);
		w = uv_try_write((uv_stream_t *)&c->side[to], &rest, 1);
		if (w < 0 && w != UV_EAGAIN) {
			portfwd_buf_done(c, from, buf->base);
			portfwd_conn_close(c);
			return;
		}
		if (w < 0)
			w = 0;
	}
	if (w == n) {
		portfwd_buf_done(c, from, buf->base);
		return;
	}
	n -= w;
	if (!(pw = malloc(sizeof(*pw) + (size_t)n))) {
		portfwd_buf_done(c, from, buf->base);
		portfwd_conn_close(c);
		return;
	}
	/* The rest waits in its own copy; the read buffer goes back at once. */
	memcpy(pw + 1, buf->base + w, (size_t)n);
	portfwd_buf_done(c, from, buf->base);
	pw->c = c;
	pw->to = to;
	pw->buf = uv_buf_init((char *)(pw + 1), (unsigned)n);
	if (uv_write(&pw->w, (uv_stream_t *)&c->side[to], &pw->buf, 1, portfwd_written) < 0) {
		free(pw);
		portfwd_conn_close(c);
		return;
	}
	c->queued[to] += (size_t)n;
	if (c->queued[to] > PORTFWD_HIGH_WATER) {
		uv_read_stop(s);
		c->reading[from] = 0;
	}
}

static void portfwd_connected(uv_connect_t *req, int status)
{
	struct portfwd_conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0) {
		log_debug("portfwd %s: guest: %s", c->f->what, uv_strerror(status));
		portfwd_conn_close(c);
		return;
	}
	portfwd_start_reading(c, 0);
	portfwd_start_reading(c, 1);
}

static void portfwd_got_socket(struct netns_req *r)
{
	struct portfwd_conn *c = r->data;
	int ret;

	c->req_pending = 0;
	if (r->fd < 0 || c->closing) {
		if (r->fd >= 0)
			close(r->fd);
		else
			log_warn("portfwd %s: no socket in the namespace: %s", c->f->what,
				 strerror(-r->fd));
		/* A connection already closing waited only for this answer. */
		if (c->closing)
			portfwd_conn_maybe_free(c);
		else
			portfwd_conn_close(c);
		return;
	}
	uv_tcp_init(c->f->loop, &c->side[1]);
	c->side[1].data = c;
	c->open[1] = 1;
	if ((ret = uv_tcp_open(&c->side[1], r->fd)) < 0) {
		close(r->fd);
		portfwd_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->side[1], 1);
	c->connect.data = c;
	if ((ret = uv_tcp_connect(&c->connect, &c->side[1], (const struct sockaddr *)&c->f->guest,
				  portfwd_connected)) < 0) {
		log_debug("portfwd %s: connect: %s", c->f->what, uv_strerror(ret));
		portfwd_conn_close(c);
	}
}

static void portfwd_accept(uv_stream_t *l, int status)
{
	struct portfwd *f = l->data;
	struct portfwd_conn *c;

	if (status < 0 || f->closing)
		return;
	if (!(c = calloc(1, sizeof(*c))))
		return;
	c->f = f;
	uv_tcp_init(f->loop, &c->side[0]);
	c->side[0].data = c;
	c->open[0] = 1;
	c->next = f->conns;
	if (f->conns)
		f->conns->pprev = &c->next;
	c->pprev = &f->conns;
	f->conns = c;
	f->active++;
	if (uv_accept(l, (uv_stream_t *)&c->side[0]) < 0) {
		portfwd_conn_close(c);
		return;
	}
	if (!f->running) {
		/* No guest behind the port: a reset now, not a connect that times out. */
		uv_os_fd_t fd;
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		if (uv_fileno((uv_handle_t *)&c->side[0], &fd) == 0)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		portfwd_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->side[0], 1);
	c->req.type = SOCK_STREAM;
	c->req.cb = portfwd_got_socket;
	c->req.data = c;
	c->req_pending = 1;
	netns_socket(f->ns, &c->req);
}

/* --- UDP --- */

struct portfwd_flow {
	struct portfwd *f;
	struct sockaddr_storage client;
	uv_udp_t sock;
	int open, req_pending, closing;
	struct netns_req req;
	uint64_t last;
	/* Datagrams that arrived before the flow's socket: a few are kept, not more. */
	uv_buf_t early[4];
	int nearly;
	struct portfwd_flow *next, **pprev;
};

struct portfwd_send {
	uv_udp_send_t s;
	uv_buf_t buf;
};

static void portfwd_flow_maybe_free(struct portfwd_flow *fl)
{
	struct portfwd *f = fl->f;

	if (fl->open || fl->req_pending)
		return;
	for (int i = 0; i < fl->nearly; i++)
		free(fl->early[i].base);
	*fl->pprev = fl->next;
	if (fl->next)
		fl->next->pprev = fl->pprev;
	f->active--;
	free(fl);
	portfwd_free_if_done(f);
}

static void portfwd_flow_closed(uv_handle_t *h)
{
	struct portfwd_flow *fl = h->data;

	fl->open = 0;
	portfwd_flow_maybe_free(fl);
}

static void portfwd_flow_close(struct portfwd_flow *fl)
{
	if (fl->closing)
		return;
	fl->closing = 1;
	if (fl->open)
		uv_close((uv_handle_t *)&fl->sock, portfwd_flow_closed);
	portfwd_flow_maybe_free(fl);
}

static void portfwd_sent(uv_udp_send_t *s, int status)
{
	struct portfwd_send *ps = (struct portfwd_send *)s;

	(void)status; /* UDP: a lost datagram is the application's business */
	free(ps->buf.base);
	free(ps);
}

static void portfwd_send(uv_udp_t *h, const uv_buf_t *buf, size_t n, const struct sockaddr *to)
{
	struct portfwd_send *ps = malloc(sizeof(*ps));

	if (!ps) {
		free(buf->base);
		return;
	}
	ps->buf = uv_buf_init(buf->base, (unsigned)n);
	if (uv_udp_send(&ps->s, h, &ps->buf, 1, to, portfwd_sent) < 0) {
		free(buf->base);
		free(ps);
	}
}

/* A reply from the guest: back to the flow's client, from the published port. */
static void portfwd_flow_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
			      const struct sockaddr *addr, unsigned flags)
{
	struct portfwd_flow *fl = h->data;

	(void)addr;
	(void)flags;
	if (n <= 0 || fl->closing || fl->f->closing) {
		free(buf->base);
		return;
	}
	fl->last = uv_now(fl->f->loop);
	portfwd_send(&fl->f->l.udp, buf, (size_t)n, (const struct sockaddr *)&fl->client);
}

static void portfwd_flow_socket(struct netns_req *r)
{
	struct portfwd_flow *fl = r->data;

	fl->req_pending = 0;
	if (r->fd < 0 || fl->closing) {
		if (r->fd >= 0)
			close(r->fd);
		if (fl->closing)
			portfwd_flow_maybe_free(fl);
		else
			portfwd_flow_close(fl);
		return;
	}
	uv_udp_init(fl->f->loop, &fl->sock);
	fl->sock.data = fl;
	fl->open = 1;
	if (uv_udp_open(&fl->sock, r->fd) < 0) {
		close(r->fd);
		portfwd_flow_close(fl);
		return;
	}
	if (uv_udp_connect(&fl->sock, (const struct sockaddr *)&fl->f->guest) < 0 ||
	    uv_udp_recv_start(&fl->sock, portfwd_alloc, portfwd_flow_recv) < 0) {
		portfwd_flow_close(fl);
		return;
	}
	for (int i = 0; i < fl->nearly; i++)
		portfwd_send(&fl->sock, &fl->early[i], fl->early[i].len, NULL);
	fl->nearly = 0;
}

static int portfwd_same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

	return b->sa_family == AF_INET && x->sin_family == AF_INET && x->sin_port == y->sin_port &&
	       x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static struct portfwd_flow *portfwd_flow_get(struct portfwd *f, const struct sockaddr *addr)
{
	struct portfwd_flow *fl;

	for (fl = f->flows; fl; fl = fl->next)
		if (!fl->closing && portfwd_same_addr(&fl->client, addr))
			return fl;
	if (addr->sa_family != AF_INET || f->active >= PORTFWD_UDP_FLOWS ||
	    !(fl = calloc(1, sizeof(*fl))))
		return NULL;
	fl->f = f;
	memcpy(&fl->client, addr, sizeof(struct sockaddr_in));
	fl->next = f->flows;
	if (f->flows)
		f->flows->pprev = &fl->next;
	fl->pprev = &f->flows;
	f->flows = fl;
	f->active++;
	fl->req.type = SOCK_DGRAM;
	fl->req.cb = portfwd_flow_socket;
	fl->req.data = fl;
	fl->req_pending = 1;
	netns_socket(f->ns, &fl->req);
	return fl;
}

static void portfwd_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
			     const struct sockaddr *addr, unsigned flags)
{
	struct portfwd *f = h->data;
	struct portfwd_flow *fl;

	(void)flags;
	if (n <= 0 || !addr || f->closing || !f->running || !(fl = portfwd_flow_get(f, addr)) ||
	    fl->closing) {
		free(buf->base);
		return;
	}
	fl->last = uv_now(f->loop);
	if (fl->open) {
		portfwd_send(&fl->sock, buf, (size_t)n, NULL);
	} else if (fl->nearly < (int)(sizeof(fl->early) / sizeof(fl->early[0]))) {
		fl->early[fl->nearly++] = uv_buf_init(buf->base, (unsigned)n);
	} else {
		free(buf->base);
	}
}

static void portfwd_sweep(uv_timer_t *t)
{
	struct portfwd *f = t->data;
	uint64_t now = uv_now(f->loop);

	for (struct portfwd_flow *fl = f->flows, *next; fl; fl = next) {
		next = fl->next;
		if (now - fl->last > PORTFWD_UDP_IDLE_MS)
			portfwd_flow_close(fl);
	}
}

/* --- listeners --- */

static void portfwd_free_if_done(struct portfwd *f)
{
	if (f->closing && !f->handles && !f->conns && !f->flows)
		free(f);
}

static void portfwd_handle_closed(uv_handle_t *h)
{
	struct portfwd *f = h->data;

	f->handles--;
	portfwd_free_if_done(f);
}

int portfwd_open(struct portfwd **out, uv_loop_t *loop, struct netns *ns, const char *proto,
		 const char *host_ip, unsigned host_port, uint32_t guest_ip, unsigned guest_port,
		 char *err, size_t errlen)
{
	struct portfwd *f = calloc(1, sizeof(*f));
	struct sockaddr_in addr;
	int ret;

	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->ns = ns;
	f->udp = !strcmp(proto, "udp");
	f->guest.sin_family = AF_INET;
	f->guest.sin_port = htons((uint16_t)guest_port);
	f->guest.sin_addr.s_addr = htonl(guest_ip);
	snprintf(f->what, sizeof(f->what), "%s:%u/%s", host_ip, host_port, proto);
	if ((ret = uv_ip4_addr(host_ip, (int)host_port, &addr)) < 0) {
		snprintf(err, errlen, "%s: not an IPv4 address", host_ip);
		free(f);
		return -EINVAL;
	}
	if (f->udp) {
		uv_udp_init(loop, &f->l.udp);
		f->l.udp.data = f;
		uv_timer_init(loop, &f->sweep);
		f->sweep.data = f;
		f->handles = 2;
		ret = uv_udp_bind(&f->l.udp, (const struct sockaddr *)&addr, 0);
		if (ret == 0)
			ret = uv_udp_recv_start(&f->l.udp, portfwd_alloc, portfwd_udp_recv);
		if (ret == 0)
			uv_timer_start(&f->sweep, portfwd_sweep, PORTFWD_UDP_IDLE_MS / 4,
				       PORTFWD_UDP_IDLE_MS / 4);
	} else {
		uv_tcp_init(loop, &f->l.tcp);
		f->l.tcp.data = f;
		f->handles = 1;
		/* libuv sets SO_REUSEADDR: TIME_WAIT of earlier runs does not block the port. */
		ret = uv_tcp_bind(&f->l.tcp, (const struct sockaddr *)&addr, 0);
		if (ret == 0)
			ret = uv_listen((uv_stream_t *)&f->l.tcp, 511, portfwd_accept);
	}
	if (ret < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", f->what,
			 ret == UV_EADDRINUSE ? "the port is in use" : uv_strerror(ret));
		portfwd_close(f);
		return ret == UV_EADDRINUSE ? -EADDRINUSE : ret;
	}
	*out = f;
	return 0;
}

void portfwd_close(struct portfwd *f)
{
	if (!f || f->closing)
		return;
	f->closing = 1;
	for (struct portfwd_conn *c = f->conns, *next; c; c = next) {
		next = c->next;
		portfwd_conn_close(c);
	}
	for (struct portfwd_flow *fl = f->flows, *next; fl; fl = next) {
		next = fl->next;
		portfwd_flow_close(fl);
	}
	if (f->udp) {
		uv_close((uv_handle_t *)&f->sweep, portfwd_handle_closed);
		uv_close((uv_handle_t *)&f->l.udp, portfwd_handle_closed);
	} else {
		uv_close((uv_handle_t *)&f->l.tcp, portfwd_handle_closed);
	}
}

void portfwd_set_guest(struct portfwd *f, uint32_t guest_ip)
{
	f->guest.sin_addr.s_addr = htonl(guest_ip);
}

void portfwd_set_running(struct portfwd *f, int running)
{
	f->running = running;
}

size_t portfwd_active(const struct portfwd *f)
{
	return f->active;
}
