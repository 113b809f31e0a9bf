/* logtime.c: see logtime.h. */
#define _GNU_SOURCE
#include "logtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void logtime_path(const char *dir, const char *name, char *buf, size_t len)
{
	/* dir comes from --root and a hex id: it fits; if not, no file matches "". */
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		buf[0] = 0;
}

long long logtime_base(const char *dir)
{
	char path[PATH_MAX], line[64];
	long long base = 0;
	FILE *f;

	logtime_path(dir, "console.idx", path, sizeof(path));
	if (!(f = fopen(path, "re")))
		return 0;
	if (fgets(line, sizeof(line), f) && sscanf(line, "base %lld", &base) == 1 && base < 0)
		base = 0;
	fclose(f);
	return base;
}

int logtime_append(int fd, int64_t ms, long long off)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%lld %lld\n", (long long)ms, off);

	return write(fd, line, (size_t)n) == n ? n : -errno;
}

/* The entries of the index at path, at offset oldest or later: a malloc'd array of pairs. */
static long long *logtime_load(const char *path, long long oldest, size_t *n)
{
	long long ms, off, *v = NULL, *nv;
	size_t cap = 0;
	char line[64];
	FILE *f;

	*n = 0;
	if (!(f = fopen(path, "re")))
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lld %lld", &ms, &off) != 2 || off < oldest)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			if (!(nv = realloc(v, cap * 2 * sizeof(*v))))
				break;
			v = nv;
		}
		v[2 * *n] = ms;
		v[2 * *n + 1] = off;
		(*n)++;
	}
	fclose(f);
	return v;
}

int logtime_rewrite(const char *dir, long long base, long long oldest)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t n, keep, step = 1;
	long long *v;
	FILE *f;
	int fd, ret = 0;

	logtime_path(dir, "console.idx", path, sizeof(path));
	logtime_path(dir, "console.idx.new", tmp, sizeof(tmp));
	v = logtime_load(path, oldest, &n);
	/*
	 * About 24 bytes a line. The newest quarter of the limit stays as it is
	 * (recent times precise to LOGTIME_PERIOD_MS); older entries are thinned
	 * into another quarter, so that rewrites stay rare.
	 */
	keep = LOGTIME_IDX_MAX / 4 / 24;
	keep = n < keep ? n : keep;
	while ((n - keep) / step * 24 > LOGTIME_IDX_MAX / 4)
		step *= 2;
	if (!(f = fopen(tmp, "we"))) {
		ret = -errno;
		goto free_v;
	}
	fprintf(f, "base %lld\n", base);
	/* Keeping the last entry of each step keeps lookups early, never late. */
	for (size_t i = 0; i < n; i++)
		if (i >= n - keep || (n - keep - 1 - i) % step == 0)
			fprintf(f, "%lld %lld\n", v[2 * i], v[2 * i + 1]);
	if (fflush(f) != 0 || ferror(f))
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0) {
		unlink(tmp);
		goto free_v;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	ret = fd < 0 ? -errno : fd;
free_v:
	free(v);
	return ret;
}

long long logtime_offset(const char *dir, int64_t since_ms)
{
	char path[PATH_MAX], line[64];
	long long ms, off, found = 0;
	FILE *f;

	logtime_path(dir, "console.idx", path, sizeof(path));
	if (!(f = fopen(path, "re")))
		return 0;
	/* Entries are in time order: the last one before since_ms wins. */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lld %lld", &ms, &off) != 2 || off < 0)
			continue;
		if (ms >= since_ms)
			break;
		found = off;
	}
	fclose(f);
	return found;
}
