/* util.c: see util.h. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_time_str(int64_t ms, char *buf, size_t len)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	char ts[24];

	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", ts, (int)(ms % 1000));
}

int util_random_hex(char *hex, size_t n)
{
	unsigned char raw[64];

	if (n > sizeof(raw))
		return -EINVAL;
	if (getrandom(raw, n, 0) != (ssize_t)n)
		return -errno ? -errno : -EIO;
	for (size_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", raw[i]);
	return 0;
}

int util_random_uuid(char out[37])
{
	unsigned char u[16];

	if (getrandom(u, sizeof(u), 0) != sizeof(u))
		return -errno ? -errno : -EIO;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
	return 0;
}

int util_is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[len] == 0;
}

void util_buf_add(struct util_buf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *s;

		while (cap < b->len + len + 1)
			cap *= 2;
		if (!(s = realloc(b->s, cap))) {
			b->oom = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = 0;
}

void util_buf_puts(struct util_buf *b, const char *s)
{
	util_buf_add(b, s, strlen(s));
}

void util_buf_printf(struct util_buf *b, const char *fmt, ...)
{
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	util_buf_add(b, s, (size_t)n);
	free(s);
}

void util_buf_xml(struct util_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': util_buf_puts(b, "&amp;"); break;
		case '<': util_buf_puts(b, "&lt;"); break;
		case '>': util_buf_puts(b, "&gt;"); break;
		case '\'': util_buf_puts(b, "&apos;"); break;
		case '"': util_buf_puts(b, "&quot;"); break;
		default: util_buf_add(b, s, 1);
		}
	}
}

void util_buf_free(struct util_buf *b)
{
	free(b->s);
	*b = (struct util_buf){0};
}

int util_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = 0;
		return -ENAMETOOLONG;
	}
	return 0;
}

int util_mkdir(const char *path, unsigned mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int util_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int util_rmtree(const char *path)
{
	/* FTW_PHYS: a symlink inside is removed itself, never followed. */
	if (nftw(path, util_rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int util_sync_parent(const char *path)
{
	char dir[PATH_MAX];
	int fd, ret = 0;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

const char *util_json_known_keys(json_t *obj, const char *const *known, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		size_t i = 0;

		while (i < n && strcmp(k, known[i]))
			i++;
		if (i == n)
			return k;
	}
	return NULL;
}
