/*
 * eventfd.c: eventfd (a 64-bit counter) and timerfd (expirations of a
 * one-shot or periodic timer, computed from the TSC when asked: a timer
 * nobody waits on costs nothing, and poll/epoll sleep until its deadline).
 */
#include "cpu.h"
#include "errno.h"
#include "fdtable.h"
#include "heap.h"
#include "lib.h"
#include "syscall.h"
#include "time.h"
#include "uaccess.h"
#include "vfs.h"

#define EFD_SEMAPHORE 1
#define EFD_MAX 0xfffffffffffffffeull
#define TFD_TIMER_ABSTIME 1
#define TFD_TIMER_CANCEL_ON_SET 2

struct eventfd {
	uint64_t count;
	int semaphore;
};

static long efd_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	struct eventfd *e = f->priv;
	uint64_t v;

	(void)pos;
	if (len < 8)
		return -EINVAL;
	while (!e->count) {
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (vfs_wait(0) == -EINTR)
			return -ERESTARTSYS;
	}
	v = e->semaphore ? 1 : e->count;
	e->count -= v;
	memcpy(buf, &v, 8);
	vfs_notify(f);
	return 8;
}

static long efd_write(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
	struct eventfd *e = f->priv;
	uint64_t v;

	(void)pos;
	if (len < 8)
		return -EINVAL;
	memcpy(&v, buf, 8);
	if (v == ~0ull)
		return -EINVAL;
	while (EFD_MAX - e->count < v) {
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (vfs_wait(0) == -EINTR)
			return -ERESTARTSYS;
	}
	e->count += v;
	vfs_notify(f);
	return 8;
}

static unsigned efd_poll(struct file *f)
{
	struct eventfd *e = f->priv;

	return (e->count ? POLLIN | POLLRDNORM : 0) |
	       (e->count < EFD_MAX ? POLLOUT | POLLWRNORM : 0);
}

static void priv_release(struct file *f)
{
	kfree(f->priv);
}

static const struct file_ops eventfd_ops = {
	.read = efd_read,
	.write = efd_write,
	.poll = efd_poll,
	.release = priv_release,
};

long sys_eventfd2(const uint64_t *a)
{
	struct eventfd *e;
	struct file *f;
	int flags = (int)a[1];

	if (flags & ~(O_NONBLOCK | O_CLOEXEC | EFD_SEMAPHORE))
		return -EINVAL;
	if (!(e = kmalloc(sizeof(*e))))
		return -ENOMEM;
	e->count = (uint32_t)a[0];
	e->semaphore = flags & EFD_SEMAPHORE;
	if (!(f = file_new(&eventfd_ops, e, O_RDWR | (flags & O_NONBLOCK)))) {
		kfree(e);
		return -ENOMEM;
	}
	return fd_install(f, 0, flags & O_CLOEXEC);
}

long sys_eventfd(const uint64_t *a)
{
	uint64_t args[6] = {a[0], 0};

	return sys_eventfd2(args);
}

struct timerfd {
	int clock;
	uint64_t next;	    /* TSC of the next expiration; 0: disarmed */
	uint64_t interval;  /* TSC cycles; 0: one-shot */
	uint64_t announced; /* the expiration last made visible to edge-triggered epoll */
};

struct itimerspec {
	int64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

/* Expirations due now, advancing the timer past them. */
static uint64_t tfd_take(struct timerfd *t)
{
	uint64_t now = rdtsc(), n;

	if (!t->next || now < t->next)
		return 0;
	if (!t->interval) {
		t->next = 0;
		return 1;
	}
	n = 1 + (now - t->next) / t->interval;
	t->next += n * t->interval;
	return n;
}

static long tfd_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	struct timerfd *t = f->priv;
	uint64_t n;

	(void)pos;
	if (len < 8)
		return -EINVAL;
	while (!(n = tfd_take(t))) {
		if (f->flags & O_NONBLOCK || !t->next)
			return f->flags & O_NONBLOCK ? -EAGAIN : -EINVAL;
		if (vfs_wait(t->next) == -EINTR)
			return -ERESTARTSYS;
	}
	memcpy(buf, &n, 8);
	return 8;
}

static unsigned tfd_poll(struct file *f)
{
	struct timerfd *t = f->priv;

	if (!t->next || rdtsc() < t->next)
		return 0;
	if (t->announced != t->next) { /* a new expiration is an edge */
		t->announced = t->next;
		f->seq++;
	}
	return POLLIN | POLLRDNORM;
}

static uint64_t tfd_deadline(struct file *f)
{
	return ((struct timerfd *)f->priv)->next;
}

static const struct file_ops timerfd_ops = {
	.read = tfd_read,
	.poll = tfd_poll,
	.deadline = tfd_deadline,
	.release = priv_release,
};

long sys_timerfd_create(const uint64_t *a)
{
	int clock = (int)a[0], flags = (int)a[1];
	struct timerfd *t;
	struct file *f;

	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME)
		return -EINVAL;
	if (flags & ~(O_NONBLOCK | O_CLOEXEC))
		return -EINVAL;
	if (!(t = kmalloc(sizeof(*t))))
		return -ENOMEM;
	t->clock = clock;
	if (!(f = file_new(&timerfd_ops, t, O_RDWR | (flags & O_NONBLOCK)))) {
		kfree(t);
		return -ENOMEM;
	}
	return fd_install(f, 0, flags & O_CLOEXEC);
}

static struct timerfd *timerfd_of(int fd)
{
	struct file *f = fd_get(fd);

	return f && f->ops == &timerfd_ops ? f->priv : 0;
}

static void tsc_to_ts(uint64_t tsc, int64_t *sec, int64_t *nsec)
{
	uint64_t ns = time_tsc_to_ns(tsc);

	*sec = (int64_t)(ns / 1000000000);
	*nsec = (int64_t)(ns % 1000000000);
}

static long tfd_get(struct timerfd *t, uint64_t uout)
{
	struct itimerspec it = {0};
	uint64_t now = rdtsc();

	tsc_to_ts(t->interval, &it.interval_sec, &it.interval_nsec);
	if (t->next)
		tsc_to_ts(t->next > now ? t->next - now : 1, &it.value_sec, &it.value_nsec);
	return uout ? copy_to_user(uout, &it, sizeof(it)) : 0;
}

long sys_timerfd_settime(const uint64_t *a)
{
	struct timerfd *t = timerfd_of((int)a[0]);
	struct itimerspec it;
	int64_t ns, interval;
	long err;

	if (!t)
		return fd_get((int)a[0]) ? -EINVAL : -EBADF;
	if (a[1] & ~(uint64_t)(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET))
		return -EINVAL;
	if (copy_from_user(&it, a[2], sizeof(it)))
		return -EFAULT;
	if (it.value_nsec < 0 || it.value_nsec >= 1000000000 || it.interval_nsec < 0 ||
	    it.interval_nsec >= 1000000000 || it.value_sec < 0 || it.interval_sec < 0)
		return -EINVAL;
	if ((err = tfd_get(t, a[3])))
		return err;
	ns = MIN(it.value_sec, 1ll << 33) * 1000000000 + it.value_nsec;
	interval = MIN(it.interval_sec, 1ll << 33) * 1000000000 + it.interval_nsec;
	t->interval = interval ? time_ns_to_tsc((uint64_t)interval) : 0;
	if (!ns) {
		t->next = 0;
	} else {
		if (a[1] & TFD_TIMER_ABSTIME) {
			int64_t now = time_now_ns(t->clock);

			ns = ns > now ? ns - now : 0;
		}
		t->next = rdtsc() + time_ns_to_tsc((uint64_t)ns) + 1;
	}
	vfs_notify(0);
	return 0;
}

long sys_timerfd_gettime(const uint64_t *a)
{
	struct timerfd *t = timerfd_of((int)a[0]);

	if (!t)
		return fd_get((int)a[0]) ? -EINVAL : -EBADF;
	return tfd_get(t, a[1]);
}
