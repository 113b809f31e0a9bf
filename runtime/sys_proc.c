/*
 * sys_proc.c: process identity, exit, signals (recorded; delivery comes with
 * the threads work), limits, uname, randomness and clocks.
 */
#include "cpu.h"
#include "errno.h"
#include "layout.h"
#include "lib.h"
#include "proc.h"
#include "random.h"
#include "syscall.h"
#include "time.h"
#include "uaccess.h"

#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define NSIG 64
#define PID 1

long sys_exit_group(const uint64_t *a)
{
	proc_exit((int)a[0]);
}

long sys_getpid(const uint64_t *a)
{
	(void)a;
	return PID;
}

long sys_getppid(const uint64_t *a)
{
	(void)a;
	return 0;
}

/* The application is the only user there is; it runs as root, as in a container. */
long sys_getuid(const uint64_t *a)
{
	(void)a;
	return 0;
}

long sys_geteuid(const uint64_t *a)
{
	return sys_getuid(a);
}

long sys_getgid(const uint64_t *a)
{
	return sys_getuid(a);
}

long sys_getegid(const uint64_t *a)
{
	return sys_getuid(a);
}

long sys_set_robust_list(const uint64_t *a)
{
	return a[1] == 24 ? 0 : -EINVAL;
}

long sys_arch_prctl(const uint64_t *a)
{
	uint64_t fs;

	switch (a[0]) {
	case ARCH_SET_FS:
		if (a[1] >= USER_TOP)
			return -EPERM;
		wrmsr(MSR_FS_BASE, a[1]);
		return 0;
	case ARCH_GET_FS: fs = rdmsr(MSR_FS_BASE); return copy_to_user(a[1], &fs, sizeof(fs));
	default: return -EINVAL;
	}
}

struct rlimit {
	uint64_t cur, max;
};

static struct rlimit rlimit_of(uint64_t res)
{
	const uint64_t inf = ~0ull;

	switch (res) {
	case 3: return (struct rlimit){8ull << 20, inf}; /* RLIMIT_STACK */
	case 7: return (struct rlimit){1024, 4096};	 /* RLIMIT_NOFILE */
	default: return (struct rlimit){inf, inf};
	}
}

long sys_prlimit64(const uint64_t *a)
{
	struct rlimit r = rlimit_of(a[1]);

	if ((a[0] != 0 && a[0] != PID) || a[1] > 15)
		return a[1] > 15 ? -EINVAL : -ESRCH;
	if (a[3] && copy_to_user(a[3], &r, sizeof(r)))
		return -EFAULT;
	return 0; /* new limits are accepted and not enforced */
}

long sys_getrlimit(const uint64_t *a)
{
	struct rlimit r = rlimit_of(a[0]);

	return a[0] > 15 ? -EINVAL : copy_to_user(a[1], &r, sizeof(r));
}

long sys_uname(const uint64_t *a)
{
	char u[6][65] = {"Linux", "ukd", "6.1.0-ukd", "#1 ukd runtime", "x86_64", "(none)"};

	return copy_to_user(a[0], u, sizeof(u));
}

#define GRND_MAX (1u << 25)

long sys_getrandom(const uint64_t *a)
{
	uint8_t chunk[256];
	uint64_t len = MIN(a[1], GRND_MAX);

	for (uint64_t done = 0; done < len; done += sizeof(chunk)) {
		size_t n = MIN(len - done, sizeof(chunk));

		random_fill(chunk, n);
		if (copy_to_user(a[0] + done, chunk, n))
			return done ? (long)done : -EFAULT;
	}
	return (long)len;
}

struct timespec {
	int64_t sec, nsec;
};

long sys_clock_gettime(const uint64_t *a)
{
	int64_t ns = time_now_ns((int)a[0]);
	struct timespec ts;

	if (ns < 0)
		return ns;
	ts = (struct timespec){ns / 1000000000, ns % 1000000000};
	return copy_to_user(a[1], &ts, sizeof(ts));
}

long sys_clock_getres(const uint64_t *a)
{
	struct timespec ts = {0, 1};

	if (time_now_ns((int)a[0]) < 0)
		return -EINVAL;
	return a[1] ? copy_to_user(a[1], &ts, sizeof(ts)) : 0;
}

long sys_gettimeofday(const uint64_t *a)
{
	int64_t ns = time_now_ns(CLOCK_REALTIME);
	int64_t tv[2] = {ns / 1000000000, ns % 1000000000 / 1000};

	return a[0] ? copy_to_user(a[0], tv, sizeof(tv)) : 0;
}

long sys_time(const uint64_t *a)
{
	int64_t t = time_now_ns(CLOCK_REALTIME) / 1000000000;

	if (a[0] && copy_to_user(a[0], &t, sizeof(t)))
		return -EFAULT;
	return t;
}

/* Restartable sequences need per-CPU preemption hooks we do not have; glibc
 * treats ENOSYS as "unsupported" and carries on, so this is not "unknown". */
long sys_rseq(const uint64_t *a)
{
	(void)a;
	return -ENOSYS;
}
