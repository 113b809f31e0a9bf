/*
 * ukapp.c: the application-side health library (ukapp.h). Hosted C (libc),
 * built into libukapp.a; it talks to the runtime only through /dev/health.
 */
#define _GNU_SOURCE
#include "ukapp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UKAPP_UNKNOWN (-2)
#define UKAPP_ABSENT (-1)

/* /dev/health, opened once; UKAPP_ABSENT when it does not exist (native Linux). */
static int ukapp_fd = UKAPP_UNKNOWN;

static int ukapp_dev(void)
{
	int fd = __atomic_load_n(&ukapp_fd, __ATOMIC_ACQUIRE), expected = UKAPP_UNKNOWN;

	if (fd != UKAPP_UNKNOWN)
		return fd;
	fd = open("/dev/health", O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return -errno; /* not cached: it may work next time */
	if (fd < 0)
		fd = UKAPP_ABSENT;
	if (!__atomic_compare_exchange_n(&ukapp_fd, &expected, fd, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		if (fd >= 0)
			close(fd); /* another thread got there first */
		fd = expected;
	}
	return fd;
}

static int ukapp_send(const char *cmd, size_t len)
{
	int fd = ukapp_dev();

	if (fd == UKAPP_ABSENT)
		return 0;
	if (fd < 0)
		return fd;
	if (write(fd, cmd, len) < 0)
		return -errno;
	return 0;
}

int ukapp_ready(void)
{
	return ukapp_send("ready", 5);
}

int ukapp_not_ready(const char *reason)
{
	char buf[16 + UKAPP_REASON_MAX];
	int n = snprintf(buf, sizeof(buf), "not-ready %.*s", UKAPP_REASON_MAX,
			 reason ? reason : "");

	for (char *p = buf; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return ukapp_send(buf, (size_t)n);
}

static int ukapp_metric(const char *verb, const char *name, int64_t v)
{
	char buf[64 + UKAPP_METRIC_NAME_MAX];
	int n;

	if (!name || !name[0] || strlen(name) > UKAPP_METRIC_NAME_MAX ||
	    strcspn(name, " \n") != strlen(name))
		return -EINVAL;
	n = snprintf(buf, sizeof(buf), "%s %s %" PRId64, verb, name, v);
	return ukapp_send(buf, (size_t)n);
}

int ukapp_metric_set(const char *name, int64_t value)
{
	return ukapp_metric("metric", name, value);
}

int ukapp_metric_add(const char *name, int64_t delta)
{
	return ukapp_metric("metric-add", name, delta);
}
