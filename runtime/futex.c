/*
 * futex.c: all waiters sit on one queue, each tagged with its address and
 * bitset; the number of threads is small, so a scan beats a hash table.
 */
#include "futex.h"

#include "errno.h"
#include "sched.h"
#include "uaccess.h"

static struct waitq waiters;

long futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset)
{
	struct thread *t = sched_current();
	uint32_t cur;

	if (uaddr % 4)
		return -EINVAL;
	if (!bitset)
		return -EINVAL;
	if (copy_from_user(&cur, uaddr, 4))
		return -EFAULT;
	if (cur != val)
		return -EAGAIN;
	t->wait_key = uaddr;
	t->wait_bitset = bitset;
	/* Like Linux: an untimed wait restarts under SA_RESTART, a timed one fails with EINTR. */
	long r = sched_block(&waiters, deadline);

	return r == -EINTR && !deadline ? -ERESTARTSYS : r;
}

struct match {
	uint64_t key;
	uint32_t bitset;
};

static int matches(struct thread *t, uint64_t arg)
{
	const struct match *m = (const struct match *)arg;

	return t->wait_key == m->key && (t->wait_bitset & m->bitset);
}

long futex_wake(uint64_t uaddr, int n, uint32_t bitset)
{
	struct match m = {uaddr, bitset};

	if (uaddr % 4 || !bitset)
		return -EINVAL;
	if (n <= 0)
		return 0;
	return waitq_wake(&waiters, n, matches, (uint64_t)&m);
}

long futex_requeue(uint64_t uaddr, int n, int n2, uint64_t uaddr2, int check, uint32_t val3)
{
	uint32_t cur;
	long woken, moved = 0;

	if (uaddr % 4 || uaddr2 % 4 || n < 0 || n2 < 0)
		return -EINVAL;
	if (check) {
		if (copy_from_user(&cur, uaddr, 4))
			return -EFAULT;
		if (cur != val3)
			return -EAGAIN;
	}
	woken = futex_wake(uaddr, n, ~0u);
	/* Requeueing is just re-keying: everyone waits on the same queue. */
	for (struct thread *t = waiters.head; t && moved < n2; t = t->next)
		if (t->wait_key == uaddr) {
			t->wait_key = uaddr2;
			moved++;
		}
	return woken + moved;
}
