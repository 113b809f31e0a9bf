/*
 * vfs.c: open-file objects and the readiness wait. With one vCPU and a
 * handful of threads, one wait queue for "something became ready" is both
 * simple and fast enough: waiters re-check their own condition.
 */
#include "vfs.h"

#include "heap.h"
#include "lib.h"

static struct waitq ready_waiters;

struct file *file_new(const struct file_ops *ops, void *priv, int flags)
{
	struct file *f = kmalloc(sizeof(*f));

	if (!f)
		return 0;
	f->ops = ops;
	f->priv = priv;
	f->flags = flags;
	f->refs = 1;
	return f;
}

void file_get(struct file *f)
{
	f->refs++;
}

void file_put(struct file *f)
{
	if (--f->refs > 0)
		return;
	if (f->ops->release)
		f->ops->release(f);
	kfree(f);
}

void vfs_notify(struct file *f)
{
	if (f)
		f->seq++;
	waitq_wake(&ready_waiters, 1 << 30, 0, 0);
}

int vfs_wait(uint64_t deadline)
{
	return sched_block(&ready_waiters, deadline);
}
