/*
 * socket.c: Linux sockets (AF_INET, TCP and UDP) on lwIP's raw API. Each
 * socket is a struct file whose ops read, write and poll a struct sock;
 * lwIP's callbacks (from the network interrupt or from calls made here)
 * queue data and connections on it and announce readiness with
 * vfs_notify, which wakes blocked callers and poll/select/epoll alike.
 */
#include "errno.h"
#include "fdtable.h"
#include "health.h"
#include "heap.h"
#include "lib.h"
#include "net.h"
#include "signal.h"
#include "syscall.h"
#include "uaccess.h"
#include "vfs.h"

#include "lwip/ip4_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#define AF_INET 2
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_NONBLOCK 04000
#define SOCK_CLOEXEC 02000000
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SO_TYPE 3
#define SO_ERROR 4
#define SO_BROADCAST 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_LINGER 13
#define SO_REUSEPORT 15
#define SO_RCVTIMEO 20
#define SO_SNDTIMEO 21
#define IPPROTO_TCP 6
#define TCP_NODELAY 1
#define MSG_PEEK 0x2
#define MSG_DONTWAIT 0x40
#define MSG_NOSIGNAL 0x4000
#define SHUT_RD 0
#define SHUT_WR 1
#define SHUT_RDWR 2
#define FIONREAD 0x541b
#define ACCEPT_MAX 1024
#define UDP_QUEUE_MAX 256

enum sock_state { S_NEW, S_LISTEN, S_CONNECTING, S_CONNECTED, S_CLOSED };

struct dgram {
	struct dgram *next;
	struct pbuf *p;
	ip_addr_t from;
	u16_t port;
};

struct sock {
	int type;
	enum sock_state state;
	struct file *file;
	struct tcp_pcb *tcp;
	struct udp_pcb *udp;
	struct pbuf *rx; /* TCP: received, not yet read */
	u16_t rx_off;	 /* bytes of rx already read */
	int rx_fin;	 /* the peer closed its side */
	int shut_wr;
	int err;	       /* pending error (SO_ERROR), positive errno */
	struct pending **accq; /* listening: connections not yet accepted */
	int acc_head, acc_count, backlog;
	struct dgram *dq, *dq_tail; /* UDP: received datagrams */
	int dq_len;
	int rcvbuf, sndbuf, keepalive, nodelay, reuse;
	struct {
		int onoff, secs;
	} linger;
	ip_addr_t bound_ip;
	u16_t bound_port;
};

/* A connection lwIP accepted that the application has not accept()ed yet. */
struct pending {
	struct tcp_pcb *pcb;
	int dead; /* reset while queued: lwIP freed the pcb */
};

struct sockaddr_in {
	uint16_t family, port;
	uint32_t addr;
	uint8_t zero[8];
};

static const struct file_ops sock_ops;

static struct sock *sock_of(int fd, int *err)
{
	struct file *f = fd_get(fd);

	*err = !f ? -EBADF : f->ops != &sock_ops ? -ENOTSOCK : 0;
	return *err ? 0 : f->priv;
}

static void notify(struct sock *s)
{
	vfs_notify(s->file);
}

static int lwip_errno(err_t e)
{
	switch (e) {
	case ERR_OK: return 0;
	case ERR_MEM:
	case ERR_BUF: return ENOMEM;
	case ERR_TIMEOUT: return ETIMEDOUT;
	case ERR_RTE: return EHOSTUNREACH;
	case ERR_INPROGRESS: return EINPROGRESS;
	case ERR_VAL: return EINVAL;
	case ERR_WOULDBLOCK: return EAGAIN;
	case ERR_USE: return EADDRINUSE;
	case ERR_ALREADY: return EALREADY;
	case ERR_ISCONN: return EISCONN;
	case ERR_CONN: return ENOTCONN;
	case ERR_ABRT: return ECONNABORTED;
	case ERR_RST: return ECONNRESET;
	case ERR_CLSD: return ENOTCONN;
	case ERR_ARG: return EINVAL;
	default: return EIO;
	}
}

/* Blocks until something changes or the socket's file is non-blocking (-EAGAIN). */
static int wait_ready(struct sock *s, int flags)
{
	net_timers_changed(); /* flush loopback traffic before deciding anything */
	if ((s->file->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT))
		return -EAGAIN;
	return vfs_wait(0) == -EINTR ? -ERESTARTSYS : 0;
}

/* ---- sockaddr ---- */

static int addr_from_user(uint64_t uaddr, uint64_t len, ip_addr_t *ip, u16_t *port)
{
	struct sockaddr_in sin;

	if (len < sizeof(sin) - 8 || len > 128)
		return -EINVAL;
	memset(&sin, 0, sizeof(sin));
	if (copy_from_user(&sin, uaddr, MIN(len, sizeof(sin))))
		return -EFAULT;
	if (sin.family != AF_INET)
		return -EAFNOSUPPORT;
	ip_addr_set_ip4_u32(ip, sin.addr);
	*port = lwip_ntohs(sin.port);
	return 0;
}

static long addr_to_user(const ip_addr_t *ip, u16_t port, uint64_t uaddr, uint64_t ulen)
{
	struct sockaddr_in sin = {
		AF_INET, lwip_htons(port), ip ? ip4_addr_get_u32(ip_2_ip4(ip)) : 0, {0}};
	uint32_t len;

	if (!uaddr)
		return 0;
	if (copy_from_user(&len, ulen, 4))
		return -EFAULT;
	if ((int32_t)len < 0)
		return -EINVAL;
	if (copy_to_user(uaddr, &sin, MIN(len, sizeof(sin))))
		return -EFAULT;
	len = sizeof(sin);
	return copy_to_user(ulen, &len, 4);
}

/* ---- lwIP callbacks ---- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct sock *s = arg;

	(void)pcb, (void)err;
	if (!s) { /* the socket was closed: drop and let lwIP finish */
		if (p) {
			tcp_recved(pcb, p->tot_len);
			pbuf_free(p);
		}
		return ERR_OK;
	}
	if (!p)
		s->rx_fin = 1;
	else if (s->rx)
		pbuf_cat(s->rx, p);
	else
		s->rx = p;
	notify(s);
	return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	(void)pcb, (void)len;
	if (arg)
		notify(arg);
	return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
	struct sock *s = arg;

	if (!s)
		return;
	s->tcp = 0; /* lwIP has freed the pcb */
	s->err = lwip_errno(err);
	if (s->state == S_CONNECTING && err == ERR_RST)
		s->err = ECONNREFUSED;
	s->state = S_CLOSED;
	notify(s);
}

static void attach(struct sock *s, struct tcp_pcb *pcb)
{
	s->tcp = pcb;
	tcp_arg(pcb, s);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
}

/* Connections wait in the listener's queue without a socket until accept(). */
static err_t on_pending_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg, (void)pcb, (void)err, (void)p;
	return ERR_MEM; /* lwIP keeps the data (refused_data) and delivers it once accepted */
}

static void on_pending_err(void *arg, err_t err)
{
	struct pending *q = arg;

	(void)err;
	q->dead = 1; /* accept() skips it */
	q->pcb = 0;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct sock *l = arg;
	struct pending *q;

	if (err != ERR_OK || !pcb || !l)
		return ERR_VAL;
	if (l->acc_count >= l->backlog || !(q = kmalloc(sizeof(*q)))) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	q->pcb = pcb;
	tcp_arg(pcb, q);
	tcp_recv(pcb, on_pending_recv);
	tcp_err(pcb, on_pending_err);
	l->accq[(l->acc_head + l->acc_count++) % l->backlog] = q;
	tcp_backlog_delayed(pcb);
	notify(l);
	return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct sock *s = arg;

	(void)pcb;
	s->state = err == ERR_OK ? S_CONNECTED : S_CLOSED;
	s->err = lwip_errno(err);
	notify(s);
	return ERR_OK;
}

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		   u16_t port)
{
	struct sock *s = arg;
	struct dgram *d;

	(void)pcb;
	if (s->dq_len >= UDP_QUEUE_MAX || !(d = kmalloc(sizeof(*d)))) {
		pbuf_free(p);
		return;
	}
	d->p = p;
	ip_addr_copy(d->from, *addr);
	d->port = port;
	if (s->dq_tail)
		s->dq_tail->next = d;
	else
		s->dq = d;
	s->dq_tail = d;
	s->dq_len++;
	notify(s);
}

/* ---- file operations ---- */

static long tcp_read(struct sock *s, void *buf, size_t len, int flags)
{
	size_t n = 0;

	while (!s->rx) {
		int err;

		if (s->rx_fin || s->state == S_CLOSED)
			return s->err && !s->rx_fin ? -s->err : 0;
		if (s->state != S_CONNECTED)
			return -ENOTCONN;
		if ((err = wait_ready(s, flags)))
			return err;
	}
	n = pbuf_copy_partial(s->rx, buf, (u16_t)MIN(len, 0xffff), s->rx_off);
	if (flags & MSG_PEEK)
		return (long)n;
	s->rx_off = (u16_t)(s->rx_off + n);
	while (s->rx && s->rx_off >= s->rx->len) {
		struct pbuf *head = s->rx;

		s->rx_off = (u16_t)(s->rx_off - head->len);
		s->rx = head->next;
		if (s->rx)
			pbuf_ref(s->rx);
		pbuf_free(head);
		/* pbuf_free of the head dropped the chain's reference; the ref keeps the tail */
	}
	if (s->tcp) {
		tcp_recved(s->tcp, (u16_t)n);
		net_timers_changed();
	}
	return (long)n;
}

static long tcp_write_data(struct sock *s, const void *buf, size_t len, int flags)
{
	size_t done = 0;

	while (done < len) {
		u16_t room;
		int err;

		if (s->shut_wr || s->state == S_CLOSED || !s->tcp) {
			if (!(flags & MSG_NOSIGNAL) && !done)
				signal_send(sched_current(), SIGPIPE);
			return done ? (long)done : -(s->err ? s->err : EPIPE);
		}
		if (s->state != S_CONNECTED)
			return -ENOTCONN;
		room = tcp_sndbuf(s->tcp);
		if (!room || tcp_sndqueuelen(s->tcp) >= TCP_SND_QUEUELEN) {
			tcp_output(s->tcp);
			if ((err = wait_ready(s, flags)))
				return done ? (long)done : err;
			continue;
		}
		room = (u16_t)MIN(room, len - done);
		if (tcp_write(s->tcp, (const char *)buf + done, room, TCP_WRITE_FLAG_COPY) !=
		    ERR_OK) {
			tcp_output(s->tcp);
			if ((err = wait_ready(s, flags)))
				return done ? (long)done : err;
			continue;
		}
		done += room;
	}
	tcp_output(s->tcp);
	net_timers_changed();
	return (long)done;
}

static long udp_recv_dgram(struct sock *s, void *buf, size_t len, int flags, ip_addr_t *from,
			   u16_t *port)
{
	struct dgram *d;
	long n;

	while (!s->dq) {
		int err = wait_ready(s, flags);

		if (err)
			return err;
	}
	d = s->dq;
	n = pbuf_copy_partial(d->p, buf, (u16_t)MIN(len, 0xffff), 0);
	if (from)
		ip_addr_copy(*from, d->from);
	if (port)
		*port = d->port;
	if (!(flags & MSG_PEEK)) {
		if (!(s->dq = d->next))
			s->dq_tail = 0;
		s->dq_len--;
		pbuf_free(d->p);
		kfree(d);
	}
	return n;
}

static long udp_send_dgram(struct sock *s, const void *buf, size_t len, const ip_addr_t *to,
			   u16_t port)
{
	struct pbuf *p;
	err_t e;

	if (len > 65507)
		return -EMSGSIZE;
	if (!(p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM)))
		return -ENOMEM;
	pbuf_take(p, buf, (u16_t)len);
	net_wake();
	e = to ? udp_sendto(s->udp, p, to, port) : udp_send(s->udp, p);
	pbuf_free(p);
	net_timers_changed();
	return e == ERR_OK ? (long)len : -lwip_errno(e);
}

static long sock_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	struct sock *s = f->priv;

	(void)pos;
	if (s->type == SOCK_STREAM)
		return tcp_read(s, buf, len, 0);
	return udp_recv_dgram(s, buf, len, 0, 0, 0);
}

static long sock_write(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
	struct sock *s = f->priv;

	(void)pos;
	if (s->type == SOCK_STREAM)
		return tcp_write_data(s, buf, len, 0);
	if (!s->udp || !(s->udp->flags & UDP_FLAGS_CONNECTED))
		return -EDESTADDRREQ;
	return udp_send_dgram(s, buf, len, 0, 0);
}

static unsigned sock_poll(struct file *f)
{
	struct sock *s = f->priv;
	unsigned ev = 0;

	if (s->type == SOCK_DGRAM)
		return (s->dq ? POLLIN | POLLRDNORM : 0) | POLLOUT | POLLWRNORM;
	switch (s->state) {
	case S_LISTEN: return s->acc_count ? POLLIN | POLLRDNORM : 0;
	case S_NEW: return POLLOUT | POLLHUP;
	case S_CONNECTING: return 0;
	case S_CLOSED: return POLLIN | POLLRDNORM | POLLHUP | (s->err ? POLLERR : 0) | POLLOUT;
	case S_CONNECTED: break;
	}
	if (s->rx || s->rx_fin)
		ev |= POLLIN | POLLRDNORM;
	if (s->rx_fin)
		ev |= POLLRDHUP;
	if (s->tcp && tcp_sndbuf(s->tcp) > TCP_SNDLOWAT && !s->shut_wr)
		ev |= POLLOUT | POLLWRNORM;
	if (s->err)
		ev |= POLLERR;
	return ev;
}

static int sock_stat(struct file *f, struct linux_stat *st)
{
	*st = (struct linux_stat){0};
	st->st_mode = S_IFSOCK | 0777;
	st->st_ino = (uint64_t)(uintptr_t)f->priv & 0xffffff;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	return 0;
}

static long sock_ioctl(struct file *f, unsigned long cmd, uint64_t arg)
{
	struct sock *s = f->priv;
	int n = 0;

	if (cmd != FIONREAD)
		return -ENOTTY;
	if (s->type == SOCK_STREAM && s->rx)
		n = s->rx->tot_len - s->rx_off;
	else if (s->type == SOCK_DGRAM && s->dq)
		n = s->dq->p->tot_len;
	return copy_to_user(arg, &n, sizeof(n));
}

static void drop_queues(struct sock *s)
{
	if (s->rx)
		pbuf_free(s->rx);
	s->rx = 0;
	while (s->dq) {
		struct dgram *d = s->dq;

		s->dq = d->next;
		pbuf_free(d->p);
		kfree(d);
	}
	for (; s->acc_count > 0; s->acc_count--, s->acc_head = (s->acc_head + 1) % s->backlog) {
		struct pending *q = s->accq[s->acc_head];

		if (!q->dead)
			tcp_abort(q->pcb); /* its err callback marks q dead */
		kfree(q);
	}
}

static void sock_release(struct file *f)
{
	struct sock *s = f->priv;

	if (s->tcp) {
		tcp_arg(s->tcp, 0); /* later callbacks find no socket */
		if (s->state == S_LISTEN) {
			tcp_close(s->tcp);
		} else if (s->rx || (s->linger.onoff && !s->linger.secs)) {
			tcp_abort(s->tcp); /* unread data or SO_LINGER 0: reset, as Linux does */
		} else {
			tcp_recv(s->tcp, on_recv);
			if (tcp_close(s->tcp) != ERR_OK)
				tcp_abort(s->tcp);
		}
	}
	if (s->udp)
		udp_remove(s->udp);
	drop_queues(s);
	kfree(s->accq);
	kfree(s);
	net_timers_changed();
}

static const struct file_ops sock_ops = {
	.read = sock_read,
	.write = sock_write,
	.stat = sock_stat,
	.ioctl = sock_ioctl,
	.poll = sock_poll,
	.release = sock_release,
};

/* ---- syscalls ---- */

static long new_socket_fd(struct sock *s, int flags)
{
	struct file *f = file_new(&sock_ops, s, O_RDWR | (flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));

	if (!f) {
		kfree(s);
		return -ENOMEM;
	}
	s->file = f;
	return fd_install(f, 0, flags & SOCK_CLOEXEC);
}

long sys_socket(const uint64_t *a)
{
	int domain = (int)a[0], type = (int)a[1] & 0xf, flags = (int)a[1] & ~0xf;
	struct sock *s;

	if (domain != AF_INET)
		return -EAFNOSUPPORT;
	if ((type != SOCK_STREAM && type != SOCK_DGRAM) ||
	    (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)))
		return -EINVAL;
	if (a[2] && a[2] != (type == SOCK_STREAM ? 6u : 17u))
		return -EPROTONOSUPPORT;
	if (!(s = kmalloc(sizeof(*s))))
		return -ENOMEM;
	net_stack_init();
	s->type = type;
	if (type == SOCK_STREAM ? !(s->tcp = tcp_new()) : !(s->udp = udp_new())) {
		kfree(s);
		return -ENOBUFS;
	}
	if (s->tcp)
		attach(s, s->tcp);
	else
		udp_recv(s->udp, on_udp, s);
	s->rcvbuf = s->sndbuf = TCP_WND;
	return new_socket_fd(s, flags);
}

long sys_bind(const uint64_t *a)
{
	int err;
	struct sock *s = sock_of((int)a[0], &err);
	ip_addr_t ip;
	u16_t port;
	err_t e;

	if (!s)
		return err;
	if ((err = addr_from_user(a[1], a[2], &ip, &port)))
		return err;
	if (s->type == SOCK_STREAM) {
		if (!s->tcp || s->state != S_NEW)
			return -EINVAL;
		if (s->reuse)
			ip_set_option(s->tcp, SOF_REUSEADDR);
		e = tcp_bind(s->tcp, &ip, port);
	} else {
		e = udp_bind(s->udp, &ip, port);
	}
	return e == ERR_OK ? 0 : -lwip_errno(e);
}

long sys_listen(const uint64_t *a)
{
	int err, backlog = (int)a[1];
	struct sock *s = sock_of((int)a[0], &err);
	struct tcp_pcb *l;

	if (!s)
		return err;
	if (s->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	if (s->state == S_LISTEN)
		return 0;
	if (s->state != S_NEW || !s->tcp)
		return -EINVAL;
	backlog = backlog <= 0 ? 1 : MIN(backlog, ACCEPT_MAX);
	if (!(s->accq = kmalloc(sizeof(*s->accq) * (size_t)backlog)))
		return -ENOMEM;
	if (!(l = tcp_listen_with_backlog(s->tcp, (u8_t)MIN(backlog, 255)))) {
		kfree(s->accq);
		s->accq = 0;
		return -ENOMEM;
	}
	s->tcp = l; /* the original pcb is freed by tcp_listen */
	s->backlog = backlog;
	s->state = S_LISTEN;
	tcp_arg(l, s);
	tcp_accept(l, on_accept);
	health_note_listen(l->local_port);
	return 0;
}

static long do_accept(int fd, uint64_t uaddr, uint64_t ulen, int flags)
{
	int err;
	struct sock *l = sock_of(fd, &err), *s;
	struct tcp_pcb *pcb = 0;
	struct pending *q;
	long nfd;

	if (!l)
		return err;
	if (l->state != S_LISTEN || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)))
		return -EINVAL;
	for (;;) {
		while (!l->acc_count) {
			if ((err = wait_ready(l, 0)))
				return err;
			if (l->state != S_LISTEN)
				return -EINVAL;
		}
		q = l->accq[l->acc_head];
		l->acc_head = (l->acc_head + 1) % l->backlog;
		l->acc_count--;
		pcb = q->dead ? 0 : q->pcb;
		kfree(q);
		if (pcb)
			break; /* else it was reset while queued: take the next */
	}
	tcp_backlog_accepted(pcb);
	if (!(s = kmalloc(sizeof(*s)))) {
		tcp_abort(pcb);
		return -ENOMEM;
	}
	s->type = SOCK_STREAM;
	s->state = S_CONNECTED;
	s->rcvbuf = s->sndbuf = TCP_WND;
	attach(s, pcb);
	if (l->nodelay)
		tcp_nagle_disable(pcb);
	if ((nfd = new_socket_fd(s, flags)) < 0) {
		tcp_abort(pcb);
		return nfd;
	}
	/* Data that arrived before accept() was kept by lwIP; it comes now. */
	if (pcb->refused_data) /* lwIP's function assumes there is some */
		tcp_process_refused_data(pcb);
	net_timers_changed();
	if (uaddr && (err = (int)addr_to_user(&pcb->remote_ip, pcb->remote_port, uaddr, ulen)))
		return err;
	return nfd;
}

long sys_accept(const uint64_t *a)
{
	return do_accept((int)a[0], a[1], a[2], 0);
}

long sys_accept4(const uint64_t *a)
{
	return do_accept((int)a[0], a[1], a[2], (int)a[3]);
}

long sys_connect(const uint64_t *a)
{
	int err;
	struct sock *s = sock_of((int)a[0], &err);
	ip_addr_t ip;
	u16_t port;
	err_t e;

	if (!s)
		return err;
	if ((err = addr_from_user(a[1], a[2], &ip, &port)))
		return err;
	if (s->type == SOCK_DGRAM) {
		e = udp_connect(s->udp, &ip, port);
		return e == ERR_OK ? 0 : -lwip_errno(e);
	}
	if (s->state == S_CONNECTED)
		return -EISCONN;
	if (s->state == S_CONNECTING && (s->file->flags & O_NONBLOCK))
		return -EALREADY;
	if (s->state != S_CONNECTING) { /* else blocking again: wait, as Linux does */
		if (s->state != S_NEW || !s->tcp)
			return -EINVAL;
		s->state = S_CONNECTING;
		net_wake();
		if ((e = tcp_connect(s->tcp, &ip, port, on_connected)) != ERR_OK) {
			s->state = S_NEW;
			return -lwip_errno(e);
		}
		net_timers_changed();
		if (s->file->flags & O_NONBLOCK)
			return -EINPROGRESS;
	}
	while (s->state == S_CONNECTING) {
		net_timers_changed();
		if (s->state != S_CONNECTING)
			break;
		if (vfs_wait(0) == -EINTR)
			return -ERESTARTSYS; /* restarted, it goes on waiting (below) */
	}
	return s->state == S_CONNECTED ? 0 : -(s->err ? s->err : ECONNREFUSED);
}

struct msghdr {
	uint64_t name;
	uint32_t namelen, pad0;
	uint64_t iov, iovlen, control, controllen;
	int32_t flags, pad1;
};

struct iovec {
	uint64_t base, len;
};

/* One send or receive of a user buffer, through a bounce buffer. */
static long xfer(struct sock *s, int send, uint64_t ubuf, size_t len, int flags,
		 const ip_addr_t *to, u16_t port, ip_addr_t *from, u16_t *from_port)
{
	size_t chunk = MIN(len, 65536);
	char *buf = kmalloc(chunk ? chunk : 1);
	long n;

	if (!buf)
		return -ENOMEM;
	if (send) {
		if (copy_from_user(buf, ubuf, chunk))
			n = -EFAULT;
		else if (s->type == SOCK_STREAM)
			n = tcp_write_data(s, buf, chunk, flags);
		else if (!to && !(s->udp->flags & UDP_FLAGS_CONNECTED))
			n = -EDESTADDRREQ;
		else
			n = udp_send_dgram(s, buf, chunk, to, port);
	} else {
		n = s->type == SOCK_STREAM ? tcp_read(s, buf, chunk, flags)
					   : udp_recv_dgram(s, buf, chunk, flags, from, from_port);
		if (n > 0 && copy_to_user(ubuf, buf, (size_t)n))
			n = -EFAULT;
	}
	kfree(buf);
	return n;
}

long sys_sendto(const uint64_t *a)
{
	int err;
	struct sock *s = sock_of((int)a[0], &err);
	ip_addr_t ip;
	u16_t port = 0;

	if (!s)
		return err;
	if (a[4] && s->type == SOCK_DGRAM && (err = addr_from_user(a[4], a[5], &ip, &port)))
		return err;
	return xfer(s, 1, a[1], a[2], (int)a[3], a[4] && s->type == SOCK_DGRAM ? &ip : 0, port, 0,
		    0);
}

long sys_recvfrom(const uint64_t *a)
{
	int err;
	struct sock *s = sock_of((int)a[0], &err);
	ip_addr_t from;
	u16_t port = 0;
	long n;

	if (!s)
		return err;
	ip_addr_set_zero(&from);
	n = xfer(s, 0, a[1], a[2], (int)a[3], 0, 0, &from, &port);
	if (n >= 0 && a[4]) {
		if (s->type == SOCK_STREAM && s->tcp)
			err = (int)addr_to_user(&s->tcp->remote_ip, s->tcp->remote_port, a[4],
						a[5]);
		else
			err = (int)addr_to_user(&from, port, a[4], a[5]);
		if (err)
			return err;
	}
	return n;
}

static long msg_io(int send, const uint64_t *a)
{
	int err;
	struct sock *s = sock_of((int)a[0], &err);
	struct msghdr m;
	struct iovec iov;
	ip_addr_t ip;
	u16_t port = 0;
	long total = 0;

	if (!s)
		return err;
	if (copy_from_user(&m, a[1], sizeof(m)))
		return -EFAULT;
	if (m.iovlen > 1024)
		return -EMSGSIZE;
	if (send && m.name && s->type == SOCK_DGRAM &&
	    (err = addr_from_user(m.name, m.namelen, &ip, &port)))
		return err;
	for (uint64_t i = 0; i < m.iovlen; i++) {
		long n;

		if (copy_from_user(&iov, m.iov + i * sizeof(iov), sizeof(iov)))
			return total ? total : -EFAULT;
		if (!iov.len)
			continue;
		n = xfer(s, send, iov.base, iov.len, (int)a[2] | (total ? MSG_DONTWAIT : 0),
			 send && m.name && s->type == SOCK_DGRAM ? &ip : 0, port, 0, 0);
		if (n < 0)
			return total ? total : n;
		total += n;
		if ((uint64_t)n < iov.len || s->type == SOCK_DGRAM)
			break;
	}
	if (!send) {
		uint32_t zero = 0;

		/* No source address or control data is reported (namelen/controllen 0). */
		copy_to_user(a[1] + __builtin_offsetof(struct msghdr, namelen), &zero, 4);
		copy_to_user(a[1] + __builtin_offsetof(struct msghdr, controllen), &zero, 4);
	}
	return total;
}

long sys_sendmsg(const uint64_t *a)
{
	return msg_io(1, a);
}

long sys_recvmsg(const uint64_t *a)
{
	return msg_io(0, a);
}

long sys_shutdown(const uint64_t *a)
{
	int err, how = (int)a[1];
	struct sock *s = sock_of((int)a[0], &err);

	if (!s)
		return err;
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (s->type != SOCK_STREAM || s->state != S_CONNECTED || !s->tcp)
		return -ENOTCONN;
	if (how != SHUT_RD)
		s->shut_wr = 1;
	if (how != SHUT_WR)
		s->rx_fin = 1;
	tcp_shutdown(s->tcp, how != SHUT_WR, how != SHUT_RD);
	net_timers_changed();
	notify(s);
	return 0;
}

static long name_of(const uint64_t *a, int peer)
{
	int err;
	struct sock *s = sock_of((int)a[0], &err);
	const ip_addr_t *ip = 0;
	u16_t port = 0;

	if (!s)
		return err;
	if (s->tcp) {
		if (peer && s->state != S_CONNECTED)
			return -ENOTCONN;
		ip = peer ? &s->tcp->remote_ip : &s->tcp->local_ip;
		port = peer ? s->tcp->remote_port : s->tcp->local_port;
	} else if (s->udp) {
		if (peer && !(s->udp->flags & UDP_FLAGS_CONNECTED))
			return -ENOTCONN;
		ip = peer ? &s->udp->remote_ip : &s->udp->local_ip;
		port = peer ? s->udp->remote_port : s->udp->local_port;
	} else if (peer) {
		return -ENOTCONN;
	}
	return addr_to_user(ip, port, a[1], a[2]);
}

long sys_getsockname(const uint64_t *a)
{
	return name_of(a, 0);
}

long sys_getpeername(const uint64_t *a)
{
	return name_of(a, 1);
}

long sys_setsockopt(const uint64_t *a)
{
	int err, level = (int)a[1], opt = (int)a[2], v = 0;
	struct sock *s = sock_of((int)a[0], &err);

	if (!s)
		return err;
	if (a[4] < 4 || copy_from_user(&v, a[3], 4))
		return a[4] < 4 ? -EINVAL : -EFAULT;
	if (level == SOL_SOCKET) {
		switch (opt) {
		case SO_REUSEADDR:
		case SO_REUSEPORT: /* accepted: one process owns every port anyway */
			s->reuse = !!v;
			if (s->tcp && v)
				ip_set_option(s->tcp, SOF_REUSEADDR);
			return 0;
		case SO_KEEPALIVE:
			s->keepalive = !!v;
			if (s->tcp && v)
				ip_set_option(s->tcp, SOF_KEEPALIVE);
			else if (s->tcp)
				ip_reset_option(s->tcp, SOF_KEEPALIVE);
			return 0;
		case SO_RCVBUF: s->rcvbuf = v; return 0;
		case SO_SNDBUF: s->sndbuf = v; return 0;
		case SO_BROADCAST: return 0;
		case SO_LINGER:
			if (a[4] < 8 || copy_from_user(&s->linger, a[3], 8))
				return -EINVAL;
			return 0;
		case SO_RCVTIMEO:
		case SO_SNDTIMEO: return 0; /* accepted; timeouts are not enforced yet */
		default: return -ENOPROTOOPT;
		}
	}
	if (level == IPPROTO_TCP && opt == TCP_NODELAY) {
		s->nodelay = !!v;
		if (s->tcp && s->state != S_LISTEN && v)
			tcp_nagle_disable(s->tcp);
		else if (s->tcp && s->state != S_LISTEN)
			tcp_nagle_enable(s->tcp);
		return 0;
	}
	if (level == IPPROTO_TCP)
		return 0; /* TCP_KEEPIDLE and friends: accepted */
	return -ENOPROTOOPT;
}

long sys_getsockopt(const uint64_t *a)
{
	int err, level = (int)a[1], opt = (int)a[2], v;
	struct sock *s = sock_of((int)a[0], &err);
	uint32_t len;

	if (!s)
		return err;
	if (copy_from_user(&len, a[4], 4))
		return -EFAULT;
	if (level == SOL_SOCKET) {
		switch (opt) {
		case SO_TYPE: v = s->type; break;
		case SO_ERROR:
			v = s->err;
			s->err = 0;
			break;
		case SO_REUSEADDR:
		case SO_REUSEPORT: v = s->reuse; break;
		case SO_KEEPALIVE: v = s->keepalive; break;
		case SO_RCVBUF: v = s->rcvbuf; break;
		case SO_SNDBUF: v = s->sndbuf; break;
		case SO_LINGER:
			if (len < 8)
				return -EINVAL;
			len = 8;
			return copy_to_user(a[3], &s->linger, 8) || copy_to_user(a[4], &len, 4)
				       ? -EFAULT
				       : 0;
		default: return -ENOPROTOOPT;
		}
	} else if (level == IPPROTO_TCP && opt == TCP_NODELAY) {
		v = s->nodelay;
	} else {
		return -ENOPROTOOPT;
	}
	if (len < 4)
		return -EINVAL;
	len = 4;
	return copy_to_user(a[3], &v, 4) || copy_to_user(a[4], &len, 4) ? -EFAULT : 0;
}
