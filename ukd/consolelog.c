/*
 * consolelog.c: ukd's writer of instance consoles (see consolelog.h).
 *
 * Per instance: a listening pipe, at most one connected client (QEMU), a
 * timer that resumes reading after each chunk (and dates the last bytes),
 * and the open console.log and console.idx. A handle-count frees the
 * struct only once libuv has closed every handle in it.
 */
#define _GNU_SOURCE
#include "consolelog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "logtime.h"
#include "qemusock.h"
#include "store.h"
#include "util.h"

/* Most that consolelog_unwatch writes out of the socket of a domain that ended. */
#define CONSOLELOG_DRAIN_MAX (4u << 20)

struct consolelog_client {
	uv_pipe_t pipe;
	struct consolelog_inst *ci; /* NULL once detached from its instance */
};

struct consolelog_inst {
	struct daemon *d;
	char id[STORE_INSTANCE_ID_LEN + 1];
	char dir[PATH_MAX];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uv_pipe_t server;
	uv_timer_t timer;
	int handles; /* open uv handles in this struct */
	int listening, write_failed;
	int polling;	       /* the guest is writing: read by the timer, not the loop */
	int64_t polling_since; /* since when it writes without a pause or a full chunk (uv_now) */
	struct consolelog_client *client;
	int log_fd, idx_fd;
	long long base, end;   /* console.log holds the run's bytes [base, end) */
	long long idx_off;     /* the offset the index recorded last */
	long long idx_size;    /* console.idx's size */
	int64_t idx_ms;	       /* and when */
	unsigned long dropped; /* bytes that could not be written */
	struct consolelog_inst *next;
};

static struct consolelog_inst *consolelog_list;
static unsigned consolelog_npolling; /* instances whose guest is writing */

/*
 * One read buffer for every instance: a chunk is written out in the read
 * callback that received it, on the one loop thread, before the next read.
 */
static char consolelog_buf[CONSOLELOG_CHUNK];

static void consolelog_file(struct consolelog_inst *ci, const char *name, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s", ci->dir, name) >= (int)len)
		buf[0] = 0;
}

int consolelog_socket_path(struct daemon *d, const char *id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/instances/%s/console.sock", d->cfg->root, id);

	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static struct consolelog_inst **consolelog_find(struct daemon *d, const char *id)
{
	for (struct consolelog_inst **pp = &consolelog_list; *pp; pp = &(*pp)->next)
		if ((*pp)->d == d && !strcmp((*pp)->id, id))
			return pp;
	return NULL;
}

/* --- the index --- */

/* Keeps the index small: rewritten without what is gone, and thinned (logtime.h). */
static void consolelog_index_rewrite(struct consolelog_inst *ci, long long oldest)
{
	int fd = logtime_rewrite(ci->dir, ci->base, oldest);
	struct stat st;

	if (fd < 0) {
		log_warn("instance %s: cannot rewrite console.idx: %s", ci->id, strerror(-fd));
		return;
	}
	if (ci->idx_fd >= 0)
		close(ci->idx_fd);
	ci->idx_fd = fd;
	ci->idx_size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
}

/* Half of --console-max: where console.log rotates. */
static long long consolelog_half(struct consolelog_inst *ci)
{
	size_t max = ci->d->cfg->console_max ? ci->d->cfg->console_max : CONSOLELOG_MAX_DEFAULT;

	return (long long)(max / 2);
}

static void consolelog_date(struct consolelog_inst *ci)
{
	long long half = consolelog_half(ci);
	int ret;

	if (ci->end == ci->idx_off || ci->idx_fd < 0)
		return;
	ci->idx_ms = util_now_ms();
	ci->idx_off = ci->end;
	if ((ret = logtime_append(ci->idx_fd, ci->idx_ms, ci->end)) < 0) {
		log_warn("instance %s: cannot write console.idx: %s", ci->id, strerror(-ret));
		return;
	}
	/* A big --console-max rotates rarely: the index is kept small in between too. */
	if ((ci->idx_size += ret) > (long long)LOGTIME_IDX_MAX)
		consolelog_index_rewrite(ci, ci->base > half ? ci->base - half : 0);
}

/* --- the log --- */

/*
 * console.log becomes console.log.1 and a new one begins at offset end. The
 * index learns the new base first: a crash in between misplaces one file's
 * offsets, where the other order would lose the base of both.
 */
static int consolelog_rotate(struct consolelog_inst *ci)
{
	char log[PATH_MAX], old[PATH_MAX];
	long long oldest = ci->base;
	int fd;

	consolelog_file(ci, "console.log", log, sizeof(log));
	consolelog_file(ci, "console.log.1", old, sizeof(old));
	ci->base = ci->end;
	consolelog_index_rewrite(ci, oldest);
	if (rename(log, old) < 0 && errno != ENOENT)
		return -errno;
	if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return -errno;
	close(ci->log_fd);
	ci->log_fd = fd;
	return 0;
}

static void consolelog_write(struct consolelog_inst *ci, const char *buf, size_t n)
{
	long long half = consolelog_half(ci);
	int ret;

	while (n > 0) {
		long long room = half - (ci->end - ci->base);
		size_t k = (long long)n < room ? n : (size_t)(room > 0 ? room : 0);
		ssize_t w;

		if (k == 0) {
			if ((ret = consolelog_rotate(ci)) < 0)
				goto fail;
			continue;
		}
		if ((w = write(ci->log_fd, buf, k)) < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = w < 0 ? -errno : -EIO;
			goto fail;
		}
		ci->end += w;
		buf += w;
		n -= (size_t)w;
	}
	ci->write_failed = 0;
	return;
fail:
	/* The disk is full, say: the guest goes on, its output is dropped and counted. */
	ci->dropped += n;
	if (!ci->write_failed)
		log_warn("instance %s: console output dropped: %s", ci->id, strerror(-ret));
	ci->write_failed = 1;
}

/* --- the channel --- */

static void consolelog_handle_closed(uv_handle_t *h)
{
	struct consolelog_inst *ci = h->data;

	if (--ci->handles == 0)
		free(ci);
}

static void consolelog_set_polling(struct consolelog_inst *ci, int on)
{
	if (ci->polling != on) {
		consolelog_npolling += on ? 1u : (unsigned)-1;
		if (on)
			ci->polling_since = (int64_t)uv_now(ci->d->loop);
	}
	ci->polling = on;
}

/*
 * The time between two polls of a writing guest's socket: the period, or
 * CONSOLELOG_FLOOD_PERIOD_MS once the guest has written without a pause for
 * CONSOLELOG_FLOOD_AFTER_MS and no poll took a full chunk meanwhile (a UART
 * trickles a few hundred bytes per poll), made longer when more than CONSOLELOG_POLLERS
 * guests write at once, so that however many flood, ukd polls about
 * CONSOLELOG_POLLERS * 1000 / CONSOLELOG_PERIOD_MS times a second in all.
 */
static uint64_t consolelog_period(const struct consolelog_inst *ci)
{
	unsigned n =
		consolelog_npolling > CONSOLELOG_POLLERS ? consolelog_npolling : CONSOLELOG_POLLERS;
	uint64_t p = (uint64_t)CONSOLELOG_PERIOD_MS * n / CONSOLELOG_POLLERS;

	if (ci->polling &&
	    (int64_t)uv_now(ci->d->loop) - ci->polling_since >= CONSOLELOG_FLOOD_AFTER_MS &&
	    p < CONSOLELOG_FLOOD_PERIOD_MS)
		p = CONSOLELOG_FLOOD_PERIOD_MS;
	return p;
}

static void consolelog_client_closed(uv_handle_t *h)
{
	free(h->data);
}

static void consolelog_client_close(struct consolelog_inst *ci)
{
	struct consolelog_client *c = ci->client;

	if (!c)
		return;
	ci->client = NULL;
	consolelog_set_polling(ci, 0);
	c->ci = NULL;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_close((uv_handle_t *)&c->pipe, consolelog_client_closed);
}

static void consolelog_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(consolelog_buf, sizeof(consolelog_buf));
}

static void consolelog_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void consolelog_timer_cb(uv_timer_t *t);

/* Writes out a chunk from the guest, and dates it if the index is due. */
static void consolelog_take(struct consolelog_inst *ci, const char *buf, size_t n)
{
	consolelog_write(ci, buf, n);
	if (util_now_ms() - ci->idx_ms >= LOGTIME_PERIOD_MS)
		consolelog_date(ci);
}

/*
 * While the guest writes, ukd polls its socket every CONSOLELOG_PERIOD_MS,
 * one chunk per poll: what the guest writes meanwhile waits in the socket,
 * and the guest waits once it is full (consolelog.h). A poll that finds
 * nothing hands the socket back to the loop, which wakes ukd at the next
 * byte: an idle console costs no wake-ups, a busy one one per period.
 */
static void consolelog_poll(struct consolelog_inst *ci)
{
	uv_os_fd_t fd;
	ssize_t n;

	if (uv_fileno((uv_handle_t *)&ci->client->pipe, &fd) < 0) {
		consolelog_client_close(ci);
		return;
	}
	n = recv(fd, consolelog_buf, sizeof(consolelog_buf), MSG_DONTWAIT);
	if (n > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0)
			consolelog_take(ci, consolelog_buf, (size_t)n);
		/* A full chunk: a fast writer, each poll worth its wake-up (no flood period). */
		if ((size_t)n == sizeof(consolelog_buf))
			ci->polling_since = (int64_t)uv_now(ci->d->loop);
		uv_timer_start(&ci->timer, consolelog_timer_cb, consolelog_period(ci), 0);
		return;
	}
	consolelog_set_polling(ci, 0);
	if (n == 0 || errno != EAGAIN) { /* QEMU went away */
		consolelog_client_close(ci);
		return;
	}
	uv_read_start((uv_stream_t *)&ci->client->pipe, consolelog_alloc, consolelog_read);
}

static void consolelog_timer_cb(uv_timer_t *t)
{
	struct consolelog_inst *ci = t->data;
	int64_t wait;

	if (ci->polling && ci->client) {
		consolelog_poll(ci);
		if (ci->polling)
			return;
	}
	/* Idle again: the last bytes are dated once the index is due. */
	if (ci->end == ci->idx_off)
		return;
	if ((wait = ci->idx_ms + LOGTIME_PERIOD_MS - util_now_ms()) <= 0)
		consolelog_date(ci);
	else
		uv_timer_start(&ci->timer, consolelog_timer_cb, (uint64_t)wait, 0);
}

static void consolelog_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct consolelog_client *c = s->data;
	struct consolelog_inst *ci = c->ci;

	if (!ci || nread == 0)
		return;
	if (nread < 0) {
		log_debug("instance %s: console channel closed: %s", ci->id,
			  uv_strerror((int)nread));
		consolelog_client_close(ci);
		consolelog_date(ci);
		return;
	}
	consolelog_take(ci, buf->base, (size_t)nread);
	uv_read_stop(s);
	consolelog_set_polling(ci, 1);
	uv_timer_start(&ci->timer, consolelog_timer_cb, consolelog_period(ci), 0);
}

/* A connection just accepted (c->pipe open) becomes the instance's console. */
static void consolelog_attach(struct consolelog_inst *ci, struct consolelog_client *c)
{
	char peer[PATH_MAX];
	uv_os_fd_t fd;
	int ret;

	consolelog_file(ci, "console.peer", peer, sizeof(peer)); /* QEMU's user (qemusock.h) */
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0)
		qemusock_peer_save(fd, peer);
	/* A new connection replaces the old one (QEMU reconnected). */
	consolelog_client_close(ci);
	c->ci = ci;
	ci->client = c;
	consolelog_set_polling(ci, 0);
	if ((ret = uv_read_start((uv_stream_t *)&c->pipe, consolelog_alloc, consolelog_read)) < 0) {
		log_warn("instance %s: console channel: %s", ci->id, uv_strerror(ret));
		consolelog_client_close(ci);
		return;
	}
	log_debug("instance %s: console channel connected", ci->id);
}

static void consolelog_connected(uv_stream_t *server, int status)
{
	struct consolelog_inst *ci = server->data;
	struct consolelog_client *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	uv_pipe_init(ci->d->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, consolelog_client_closed);
		return;
	}
	consolelog_attach(ci, c);
}

/*
 * Takes a connection still waiting in the listen queue, without the loop
 * (as health.c does): a guest that ends just after QEMU reconnected wrote
 * its last lines, "exit status N" among them, on that connection. 1 if one
 * was taken.
 */
static int consolelog_accept_pending(struct consolelog_inst *ci)
{
	struct consolelog_client *c;
	uv_os_fd_t sfd;
	int fd;

	if (!ci->listening || uv_fileno((uv_handle_t *)&ci->server, &sfd) < 0 ||
	    (fd = accept4(sfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return 0;
	if (!(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return 0;
	}
	uv_pipe_init(ci->d->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_pipe_open(&c->pipe, fd) < 0) {
		close(fd);
		uv_close((uv_handle_t *)&c->pipe, consolelog_client_closed);
		return 0;
	}
	consolelog_attach(ci, c);
	return 1;
}

/* --- watches --- */

static void consolelog_close(struct consolelog_inst **pp)
{
	struct consolelog_inst *ci = *pp;

	*pp = ci->next;
	consolelog_client_close(ci);
	if (ci->listening) {
		ci->listening = 0;
		unlink(ci->path);
	}
	if (ci->log_fd >= 0)
		close(ci->log_fd);
	if (ci->idx_fd >= 0)
		close(ci->idx_fd);
	uv_close((uv_handle_t *)&ci->server, consolelog_handle_closed);
	uv_close((uv_handle_t *)&ci->timer, consolelog_handle_closed);
}

/* Opens console.log and console.idx: emptied for a fresh run, else continued. */
static int consolelog_open_files(struct consolelog_inst *ci, int fresh)
{
	int trunc = fresh ? O_TRUNC : 0;
	char path[PATH_MAX];
	struct stat st;

	consolelog_file(ci, "console.log.1", path, sizeof(path));
	if (fresh && unlink(path) < 0 && errno != ENOENT)
		return -errno;
	consolelog_file(ci, "console.idx", path, sizeof(path));
	ci->base = fresh ? 0 : logtime_base(ci->dir);
	if ((ci->idx_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | trunc, 0644)) < 0)
		return -errno;
	consolelog_file(ci, "console.log", path, sizeof(path));
	if ((ci->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | trunc, 0644)) < 0)
		return -errno;
	if (fstat(ci->log_fd, &st) < 0)
		return -errno;
	ci->end = ci->idx_off = ci->base + (long long)st.st_size;
	ci->idx_size = fstat(ci->idx_fd, &st) == 0 ? (long long)st.st_size : 0;
	/* An index that grew past its bound under an older ukd starts small again. */
	if (ci->idx_size > (long long)LOGTIME_IDX_MAX)
		consolelog_index_rewrite(ci, 0);
	return 0;
}

int consolelog_watch(struct daemon *d, const char *id, int fresh)
{
	struct consolelog_inst *ci, **pp;
	char peer[PATH_MAX];
	int ret;

	if ((pp = consolelog_find(d, id)))
		consolelog_close(pp);
	if (!(ci = calloc(1, sizeof(*ci))))
		return -ENOMEM;
	ci->d = d;
	ci->log_fd = ci->idx_fd = -1;
	snprintf(ci->id, sizeof(ci->id), "%s", id);
	snprintf(ci->dir, sizeof(ci->dir), "%s/instances/%s", d->cfg->root, id);
	uv_pipe_init(d->loop, &ci->server, 0);
	uv_timer_init(d->loop, &ci->timer);
	ci->server.data = ci->timer.data = ci;
	ci->handles = 2;
	ci->next = consolelog_list;
	consolelog_list = ci;
	if ((ret = consolelog_socket_path(d, id, ci->path, sizeof(ci->path))) < 0 ||
	    (ret = consolelog_open_files(ci, fresh)) < 0)
		goto close;
	/* A running QEMU (not a fresh run) reconnects as the user it connected as. */
	consolelog_file(ci, "console.peer", peer, sizeof(peer));
	ci->listening = 1;
	if ((ret = qemusock_listen(&ci->server, ci->path, fresh ? NULL : peer, consolelog_connected,
				   id)) < 0)
		goto close;
	return 0;
close:
	log_warn("instance %s: no console log: %s", id, strerror(-ret));
	consolelog_close(&consolelog_list);
	return ret;
}

/* Writes out what is already queued on the client socket, without waiting. */
static void consolelog_drain(struct consolelog_inst *ci)
{
	size_t total = 0;
	uv_os_fd_t fd;
	ssize_t n;

	/* The connection in use first: a newer one replaces it. */
	do
		while (ci->client && total < CONSOLELOG_DRAIN_MAX &&
		       uv_fileno((uv_handle_t *)&ci->client->pipe, &fd) == 0 &&
		       (n = recv(fd, consolelog_buf, sizeof(consolelog_buf), MSG_DONTWAIT)) > 0) {
			consolelog_write(ci, consolelog_buf, (size_t)n);
			total += (size_t)n;
		}
	while (total < CONSOLELOG_DRAIN_MAX && consolelog_accept_pending(ci));
}

void consolelog_unwatch(struct daemon *d, const char *id)
{
	struct consolelog_inst **pp = consolelog_find(d, id);

	if (!pp)
		return;
	consolelog_drain(*pp);
	consolelog_date(*pp);
	if ((*pp)->dropped)
		log_warn("instance %s: %lu bytes of console output dropped", id, (*pp)->dropped);
	consolelog_close(pp);
}

void consolelog_close_all(struct daemon *d)
{
	struct consolelog_inst **pp = &consolelog_list;

	while (*pp) {
		if ((*pp)->d == d)
			consolelog_close(pp);
		else
			pp = &(*pp)->next;
	}
}
