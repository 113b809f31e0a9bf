/* console.c: see console.h. */
#define _GNU_SOURCE
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads at most max bytes from the end of path into a malloc'd, NUL-terminated buffer. */
static int console_read_end(const char *path, size_t max, char **out, size_t *len, long long *end)
{
	struct stat st;
	size_t n = 0, want;
	off_t off;
	char *buf;
	int fd, ret = 0;

	*out = NULL;
	*len = 0;
	if (end)
		*end = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto close_fd;
	}
	want = (size_t)st.st_size < max ? (size_t)st.st_size : max;
	off = st.st_size - (off_t)want;
	if (!(buf = malloc(want + 1))) {
		ret = -ENOMEM;
		goto close_fd;
	}
	while (n < want) {
		ssize_t r = pread(fd, buf + n, want - n, off + (off_t)n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			ret = -errno;
			goto close_fd;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	if (end)
		*end = (long long)off + (long long)n;
close_fd:
	close(fd);
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

int console_exit_status(const char *path, int *status)
{
	char *buf, *line, *save;
	size_t len;
	int ret, found = 0;

	if ((ret = console_read_end(path, 64u << 10, &buf, &len, NULL)) < 0 || !buf)
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

int console_tail(const char *path, long lines, char **out, size_t *len, long long *end)
{
	char *buf;
	size_t n;
	int ret;

	if ((ret = console_read_end(path, CONSOLE_TAIL_MAX, &buf, &n, end)) < 0)
		return ret;
	if (!buf && !(buf = strdup("")))
		return -ENOMEM;
	n = console_clean(buf, n);
	*out = buf;
	*len = console_keep_lines(buf, n, lines);
	return 0;
}

int console_since(const char *path, long long off, long lines, char **out, size_t *len,
		  long long *end)
{
	long long stop, first;
	size_t n, skip = 0;
	char *buf, *nl;
	int ret;

	if ((ret = console_read_end(path, CONSOLE_TAIL_MAX, &buf, &n, &stop)) < 0)
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

int console_read_from(const char *path, long long *off, size_t max, char **out, size_t *len)
{
	struct stat st;
	size_t want;
	ssize_t r;
	char *buf;
	int fd, ret = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto close_fd;
	}
	if (st.st_size < *off)
		*off = 0;
	want = (size_t)(st.st_size - *off) < max ? (size_t)(st.st_size - *off) : max;
	if (!(buf = malloc(want + 1))) {
		ret = -ENOMEM;
		goto close_fd;
	}
	r = pread(fd, buf, want, (off_t)*off);
	if (r < 0) {
		free(buf);
		ret = -errno;
		goto close_fd;
	}
	*off += r;
	*len = console_clean(buf, (size_t)r);
	*out = buf;
close_fd:
	close(fd);
	return ret;
}
