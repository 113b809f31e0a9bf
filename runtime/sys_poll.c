/*
 * sys_poll.c: poll, ppoll, select, pselect6 and epoll. All of them scan
 * their files' current readiness, and sleep in vfs_wait until something
 * changes, a file's own deadline (timerfd) passes, or the timeout ends.
 */
#include "cpu.h"
#include "errno.h"
#include "fdtable.h"
#include "heap.h"
#include "lib.h"
#include "ramfs.h"
#include "signal.h"
#include "syscall.h"
#include "time.h"
#include "uaccess.h"
#include "vfs.h"

#define NFDS_MAX FD_MAX
#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
#define EPOLLET (1u << 31)
#define EPOLLONESHOT (1u << 30)
#define EPOLLEXCLUSIVE (1u << 28)
#define EPOLLWAKEUP (1u << 29)
#define ALWAYS (POLLERR | POLLHUP | POLLNVAL)

struct pollfd {
	int32_t fd;
	int16_t events, revents;
};

struct timespec {
	int64_t sec, nsec;
};

/* What a file reports now (files without a poll op are always ready, as on Linux). */
static unsigned readiness(struct file *f)
{
	return f->ops->poll ? f->ops->poll(f) : (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : MIN(a, b);
}

/* A timeout in ms (-1: none) as a TSC deadline; *now_only for a zero timeout. */
static uint64_t ms_deadline(int64_t ms, int *now_only)
{
	*now_only = ms == 0;
	return ms > 0 ? rdtsc() + time_ns_to_tsc((uint64_t)ms * 1000000) : 0;
}

static long ts_deadline(uint64_t uts, uint64_t *deadline, int *now_only)
{
	struct timespec ts;

	*deadline = 0;
	*now_only = 0;
	if (!uts)
		return 0;
	if (copy_from_user(&ts, uts, sizeof(ts)))
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
		return -EINVAL;
	*now_only = !ts.sec && !ts.nsec;
	if (!*now_only)
		*deadline = rdtsc() + time_ns_to_tsc((uint64_t)MIN(ts.sec, 1ll << 31) * 1000000000 +
						     (uint64_t)ts.nsec);
	return 0;
}

/*
 * The wait shared by every poll flavour: scan() fills results and returns
 * how many are ready, plus the earliest deadline of any file it looked at.
 */
static long wait_for(long (*scan)(void *ctx, uint64_t *file_deadline), void *ctx, uint64_t deadline,
		     int now_only)
{
	for (;;) {
		uint64_t file_deadline = 0;
		long n = scan(ctx, &file_deadline);

		if (n || now_only)
			return n;
		if (deadline && rdtsc() >= deadline)
			return 0;
		if (signal_pending())
			return -EINTR;
		vfs_wait(earlier(deadline, file_deadline));
	}
}

struct poll_ctx {
	struct pollfd *fds;
	uint64_t n;
};

static long poll_scan(void *c, uint64_t *file_deadline)
{
	struct poll_ctx *p = c;
	long ready = 0;

	for (uint64_t i = 0; i < p->n; i++) {
		struct pollfd *pfd = &p->fds[i];
		struct file *f = pfd->fd >= 0 ? fd_get(pfd->fd) : 0;

		pfd->revents = 0;
		if (pfd->fd < 0)
			continue;
		if (!f) {
			pfd->revents = POLLNVAL;
		} else {
			pfd->revents = (int16_t)(readiness(f) & ((uint16_t)pfd->events | ALWAYS));
			if (f->ops->deadline)
				*file_deadline = earlier(*file_deadline, f->ops->deadline(f));
		}
		ready += pfd->revents != 0;
	}
	return ready;
}

static long do_poll(uint64_t ufds, uint64_t n, uint64_t deadline, int now_only)
{
	struct poll_ctx ctx = {0, n};
	long r;

	if (n > NFDS_MAX)
		return -EINVAL;
	if (n && !(ctx.fds = kmalloc(n * sizeof(struct pollfd))))
		return -ENOMEM;
	if (copy_from_user(ctx.fds, ufds, n * sizeof(struct pollfd))) {
		kfree(ctx.fds);
		return -EFAULT;
	}
	r = wait_for(poll_scan, &ctx, deadline, now_only);
	if (r >= 0 && copy_to_user(ufds, ctx.fds, n * sizeof(struct pollfd)))
		r = -EFAULT;
	kfree(ctx.fds);
	return r;
}

long sys_poll(const uint64_t *a)
{
	int now_only;
	uint64_t deadline = ms_deadline((int)a[2] < 0 ? -1 : (int)a[2], &now_only);

	return do_poll(a[0], a[1], deadline, now_only);
}

long sys_ppoll(const uint64_t *a)
{
	uint64_t deadline, old;
	int now_only;
	long r = ts_deadline(a[2], &deadline, &now_only);

	if (r)
		return r;
	if ((r = signal_swap_mask(a[3], a[4], &old)))
		return r;
	r = do_poll(a[0], a[1], deadline, now_only);
	signal_restore_mask(old);
	return r;
}

struct select_ctx {
	int n;
	uint64_t in[3][NFDS_MAX / 64], out[3][NFDS_MAX / 64];
};

static long select_scan(void *c, uint64_t *file_deadline)
{
	struct select_ctx *s = c;
	static const unsigned want[3] = {POLLIN | POLLHUP | POLLERR, POLLOUT | POLLERR, POLLPRI};
	long ready = 0;

	memset(s->out, 0, sizeof(s->out));
	for (int fd = 0; fd < s->n; fd++) {
		uint64_t bit = 1ull << (fd % 64);
		struct file *f;
		unsigned ev;

		if (!((s->in[0][fd / 64] | s->in[1][fd / 64] | s->in[2][fd / 64]) & bit))
			continue;
		if (!(f = fd_get(fd)))
			return -EBADF;
		ev = readiness(f);
		if (f->ops->deadline)
			*file_deadline = earlier(*file_deadline, f->ops->deadline(f));
		for (int k = 0; k < 3; k++)
			if ((s->in[k][fd / 64] & bit) && (ev & want[k])) {
				s->out[k][fd / 64] |= bit;
				ready++;
			}
	}
	return ready;
}

static long do_select(int n, const uint64_t *sets, uint64_t deadline, int now_only)
{
	struct select_ctx *s;
	size_t bytes = (size_t)(n + 63) / 64 * 8;
	long r = 0;

	if (n < 0 || n > NFDS_MAX)
		return -EINVAL;
	if (!(s = kmalloc(sizeof(*s))))
		return -ENOMEM;
	s->n = n;
	for (int k = 0; k < 3 && !r; k++)
		if (sets[k] && copy_from_user(s->in[k], sets[k], bytes))
			r = -EFAULT;
	if (!r)
		r = wait_for(select_scan, s, deadline, now_only);
	for (int k = 0; k < 3 && r >= 0; k++)
		if (sets[k] && copy_to_user(sets[k], s->out[k], bytes))
			r = -EFAULT;
	kfree(s);
	return r;
}

long sys_select(const uint64_t *a)
{
	int64_t tv[2];
	int now_only = 0;
	uint64_t deadline = 0;

	if (a[4]) {
		if (copy_from_user(tv, a[4], sizeof(tv)))
			return -EFAULT;
		if (tv[0] < 0 || tv[1] < 0)
			return -EINVAL;
		deadline =
			ms_deadline(tv[0] * 1000 + tv[1] / 1000 + (tv[1] % 1000 != 0), &now_only);
	}
	return do_select((int)a[0], &a[1], deadline, now_only);
}

long sys_pselect6(const uint64_t *a)
{
	uint64_t deadline, old, sig[2] = {0, 0};
	int now_only;
	long r = ts_deadline(a[4], &deadline, &now_only);

	if (r)
		return r;
	if (a[5] && copy_from_user(sig, a[5], sizeof(sig)))
		return -EFAULT;
	if ((r = signal_swap_mask(sig[0], sig[1], &old)))
		return r;
	r = do_select((int)a[0], &a[1], deadline, now_only);
	signal_restore_mask(old);
	return r;
}

/* ---- epoll ---- */

struct epoll_event {
	uint32_t events;
	uint64_t data;
} __attribute__((packed));

struct epitem {
	struct epitem *next;
	int fd;
	struct file *f; /* no reference: an item whose fd now names another file is dropped */
	uint32_t events;
	uint64_t data;
	uint64_t seen_seq; /* edge-triggered: the change last reported */
	int disabled;	   /* one-shot, after it fired */
};

struct epoll {
	struct epitem *items;
};

static struct epitem *ep_find(struct epoll *ep, int fd)
{
	for (struct epitem *i = ep->items; i; i = i->next)
		if (i->fd == fd)
			return i;
	return 0;
}

/* Items whose descriptor was closed (or reused for another file) go away, as on Linux. */
static void ep_prune(struct epoll *ep)
{
	for (struct epitem **p = &ep->items; *p;) {
		struct epitem *i = *p;

		if (fd_get(i->fd) != i->f) {
			*p = i->next;
			kfree(i);
		} else {
			p = &i->next;
		}
	}
}

static unsigned ep_item_ready(struct epitem *i)
{
	unsigned ev;

	if (i->disabled)
		return 0;
	ev = readiness(i->f) & (i->events | POLLERR | POLLHUP);
	if ((i->events & EPOLLET) && i->f->seq == i->seen_seq)
		return 0;
	return ev;
}

static unsigned ep_poll(struct file *f)
{
	struct epoll *ep = f->priv;

	ep_prune(ep);
	for (struct epitem *i = ep->items; i; i = i->next)
		if (ep_item_ready(i))
			return POLLIN | POLLRDNORM;
	return 0;
}

static void ep_release(struct file *f)
{
	struct epoll *ep = f->priv;

	while (ep->items) {
		struct epitem *i = ep->items;

		ep->items = i->next;
		kfree(i);
	}
	kfree(ep);
}

static const struct file_ops epoll_ops = {
	.poll = ep_poll,
	.release = ep_release,
};

long sys_epoll_create1(const uint64_t *a)
{
	struct epoll *ep;
	struct file *f;

	if (a[0] & ~(uint64_t)O_CLOEXEC)
		return -EINVAL;
	if (!(ep = kmalloc(sizeof(*ep))))
		return -ENOMEM;
	if (!(f = file_new(&epoll_ops, ep, O_RDWR))) {
		kfree(ep);
		return -ENOMEM;
	}
	return fd_install(f, 0, a[0] & O_CLOEXEC);
}

long sys_epoll_create(const uint64_t *a)
{
	uint64_t args[6] = {0};

	return (int)a[0] <= 0 ? -EINVAL : sys_epoll_create1(args);
}

long sys_epoll_ctl(const uint64_t *a)
{
	struct file *ef = fd_get((int)a[0]), *f = fd_get((int)a[2]);
	struct epoll_event ev;
	struct epoll *ep;
	struct epitem *i;

	if (!ef || !f)
		return -EBADF;
	if (ef->ops != &epoll_ops || f == ef)
		return -EINVAL;
	if (f->ops == &epoll_ops || ramfs_inode_of(f))
		return f->ops == &epoll_ops ? -EINVAL : -EPERM;
	if (a[1] != EPOLL_CTL_DEL && copy_from_user(&ev, a[3], sizeof(ev)))
		return -EFAULT;
	ep = ef->priv;
	ep_prune(ep);
	i = ep_find(ep, (int)a[2]);
	switch (a[1]) {
	case EPOLL_CTL_ADD:
		if (i)
			return -EEXIST;
		if (!(i = kmalloc(sizeof(*i))))
			return -ENOMEM;
		i->fd = (int)a[2];
		i->f = f;
		i->next = ep->items;
		ep->items = i;
		break;
	case EPOLL_CTL_MOD:
		if (!i)
			return -ENOENT;
		break;
	case EPOLL_CTL_DEL:
		if (!i)
			return -ENOENT;
		for (struct epitem **p = &ep->items; *p; p = &(*p)->next)
			if (*p == i) {
				*p = i->next;
				break;
			}
		kfree(i);
		return 0;
	default: return -EINVAL;
	}
	i->events = ev.events & ~(EPOLLEXCLUSIVE | EPOLLWAKEUP);
	i->data = ev.data;
	i->disabled = 0;
	i->seen_seq = f->seq - 1; /* so a ready file is reported once even when edge-triggered */
	vfs_notify(ef);
	return 0;
}

struct ep_ctx {
	struct epoll *ep;
	struct epoll_event *out;
	int max;
};

static long ep_scan(void *c, uint64_t *file_deadline)
{
	struct ep_ctx *e = c;
	int n = 0;

	ep_prune(e->ep);
	for (struct epitem *i = e->ep->items; i && n < e->max; i = i->next) {
		unsigned ev = ep_item_ready(i);

		if (i->f->ops->deadline && !i->disabled)
			*file_deadline = earlier(*file_deadline, i->f->ops->deadline(i->f));
		if (!ev)
			continue;
		e->out[n].events = ev;
		e->out[n].data = i->data;
		n++;
		i->seen_seq = i->f->seq;
		if (i->events & EPOLLONESHOT)
			i->disabled = 1;
	}
	return n;
}

static long do_epoll_wait(int epfd, uint64_t uev, int max, int timeout)
{
	struct file *ef = fd_get(epfd);
	struct ep_ctx ctx;
	uint64_t deadline;
	int now_only;
	long n;

	if (!ef)
		return -EBADF;
	if (ef->ops != &epoll_ops || max <= 0 || max > 65536)
		return -EINVAL;
	if (!(ctx.out = kmalloc((size_t)max * sizeof(struct epoll_event))))
		return -ENOMEM;
	ctx.ep = ef->priv;
	ctx.max = max;
	deadline = ms_deadline(timeout < 0 ? -1 : timeout, &now_only);
	n = wait_for(ep_scan, &ctx, deadline, now_only);
	if (n > 0 && copy_to_user(uev, ctx.out, (size_t)n * sizeof(struct epoll_event)))
		n = -EFAULT;
	kfree(ctx.out);
	return n;
}

long sys_epoll_wait(const uint64_t *a)
{
	return do_epoll_wait((int)a[0], a[1], (int)a[2], (int)a[3]);
}

long sys_epoll_pwait(const uint64_t *a)
{
	uint64_t old;
	long r = signal_swap_mask(a[4], a[5], &old);

	if (r)
		return r;
	r = do_epoll_wait((int)a[0], a[1], (int)a[2], (int)a[3]);
	signal_restore_mask(old);
	return r;
}
