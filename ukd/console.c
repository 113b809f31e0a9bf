/* console.c: see console.h. */
#define _GNU_SOURCE
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logtime.h"

/* The log's two files, with the offsets they cover. */
struct console_src {
	int fd_old, fd_log;  /* console.log.1, console.log; -1 if missing */
	long long old_first; /* the offset of console.log.1's first byte */
	long long base, end; /* console.log covers [base, end) */
};

static int console_open_one(const char *dir, const char *name, int *fd, long long *size)
{
	char path[PATH_MAX];
	struct stat st;

	*fd = -1;
	*size = 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	errno = 0;
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int ret = errno ? -errno : -EINVAL;

		close(*fd);
		*fd = -1;
		return ret;
	}
	*size = (long long)st.st_size;
	return 0;
}

static void console_close(struct console_src *s)
{
	if (s->fd_old >= 0)
		close(s->fd_old);
	if (s->fd_log >= 0)
		close(s->fd_log);
}

static int console_open(const char *dir, struct console_src *s)
{
	long long size_old, size_log;
	int ret;

	s->fd_log = -1;
	if ((ret = console_open_one(dir, "console.log.1", &s->fd_old, &size_old)) < 0 ||
	    (ret = console_open_one(dir, "console.log", &s->fd_log, &size_log)) < 0) {
		console_close(s);
		return ret;
	}
	s->base = logtime_base(dir);
	s->old_first = s->base - size_old;
	s->end = s->base + size_log;
	return 0;
}

/* The oldest offset still on disk. */
static long long console_first(const struct console_src *s)
{
	if (s->fd_old < 0)
		return s->base;
	return s->old_first > 0 ? s->old_first : 0;
}

/* Reads [from, from + want) across both files into buf; *got may fall short. */
static int console_pread(const struct console_src *s, long long from, char *buf, size_t want,
			 size_t *got)
{
	*got = 0;
	while (*got < want) {
		long long at = from + (long long)*got;
		int fd = at < s->base ? s->fd_old : s->fd_log;
		long long pos = at < s->base ? at - s->old_first : at - s->base;
		size_t n = want - *got;
		ssize_t r;

		if (at < s->base && (long long)n > s->base - at)
			n = (size_t)(s->base - at);
		if (fd < 0)
			break;
		r = pread(fd, buf + *got, n, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* Reads at most max bytes from the end of the log into a malloc'd, NUL-terminated buffer. */
static int console_read_end(const char *dir, size_t max, char **out, size_t *len, long long *end)
{
	struct console_src s;
	long long from;
	size_t n;
	char *buf;
	int ret;

	*out = NULL;
	*len = 0;
	if (end)
		*end = 0;
	if ((ret = console_open(dir, &s)) < 0)
		return ret;
	from = s.end - (long long)max > console_first(&s) ? s.end - (long long)max
							  : console_first(&s);
	if (!(buf = malloc((size_t)(s.end - from) + 1))) {
		ret = -ENOMEM;
		goto close;
	}
	if ((ret = console_pread(&s, from, buf, (size_t)(s.end - from), &n)) < 0) {
		free(buf);
		goto close;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	if (end)
		*end = from + (long long)n;
close:
	console_close(&s);
	return ret;
}

/* Removes '\r' and NUL bytes in place (NUL would cut the text short). */
size_t console_clean(char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (s[i] != '\r' && s[i] != 0)
			s[n++] = s[i];
	s[n] = 0;
	return n;
}

int console_exit_status(const char *dir, int *status)
{
	char *buf, *line, *save;
	size_t len;
	int ret, found = 0;

	if ((ret = console_read_end(dir, 64u << 10, &buf, &len, NULL)) < 0 || !buf)
		return ret;
	console_clean(buf, len);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;
		long v;

		if (strncmp(line, "exit status ", 12) || line[12] < '0' || line[12] > '9')
			continue;
		v = strtol(line + 12, &end, 10);
		if (*end || v > 255)
			continue;
		*status = (int)v;
		found = 1;
	}
	free(buf);
	return found;
}

/* Keeps the last lines of buf (all if lines < 0); returns the new length. */
static size_t console_keep_lines(char *buf, size_t n, long lines)
{
	char *start = buf;

	if (lines >= 0) {
		/* Walk back over lines+1 newlines; a final newline does not start a line. */
		long seen = 0;
		size_t i = n;

		if (i && buf[i - 1] == '\n')
			i--;
		while (i > 0) {
			if (buf[i - 1] == '\n' && ++seen == lines)
				break;
			i--;
		}
		start = lines == 0 ? buf + n : buf + i;
	}
	n -= (size_t)(start - buf);
	memmove(buf, start, n + 1);
	return n;
}

int console_tail(const char *dir, long lines, char **out, size_t *len, long long *end)
{
	char *buf;
	size_t n;
	int ret;

	if ((ret = console_read_end(dir, CONSOLE_TAIL_MAX, &buf, &n, end)) < 0)
		return ret;
	if (!buf && !(buf = strdup("")))
		return -ENOMEM;
	n = console_clean(buf, n);
	*out = buf;
	*len = console_keep_lines(buf, n, lines);
	return 0;
}

int console_since(const char *dir, long long off, long lines, char **out, size_t *len,
		  long long *end)
{
	long long stop, first;
	size_t n, skip = 0;
	char *buf, *nl;
	int ret;

	if ((ret = console_read_end(dir, CONSOLE_TAIL_MAX, &buf, &n, &stop)) < 0)
		return ret;
	if (!buf && !(buf = strdup("")))
		return -ENOMEM;
	first = stop - (long long)n; /* the file offset of buf[0] */
	if (off > first) {
		skip = off - first < (long long)n ? (size_t)(off - first) : n;
		/* A line that began before off began before the time asked for: left out. */
		if (skip > 0 && skip < n && buf[skip - 1] != '\n')
			skip = (nl = memchr(buf + skip, '\n', n - skip)) ? (size_t)(nl - buf) + 1
									 : n;
	}
	n -= skip;
	memmove(buf, buf + skip, n + 1);
	n = console_clean(buf, n);
	*out = buf;
	*len = console_keep_lines(buf, n, lines);
	if (end)
		*end = stop;
	return 0;
}

int console_read_from(const char *dir, long long *off, size_t max, char **out, size_t *len)
{
	struct console_src s;
	size_t want, n;
	char *buf;
	int ret;

	*out = NULL;
	*len = 0;
	if ((ret = console_open(dir, &s)) < 0)
		return ret;
	if (s.end < *off)
		*off = 0;
	if (*off < console_first(&s))
		*off = console_first(&s);
	want = (size_t)(s.end - *off) < max ? (size_t)(s.end - *off) : max;
	if (!(buf = malloc(want + 1))) {
		ret = -ENOMEM;
		goto close;
	}
	if ((ret = console_pread(&s, *off, buf, want, &n)) < 0) {
		free(buf);
		goto close;
	}
	*off += (long long)n;
	*len = console_clean(buf, n);
	*out = buf;
close:
	console_close(&s);
	return ret;
}
