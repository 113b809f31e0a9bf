/* logtime.c: see logtime.h. */
#define _GNU_SOURCE
#include "logtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "store.h"
#include "util.h"

struct logtime_w {
	uv_fs_event_t ev;
	uv_timer_t timer;
	struct daemon *d;
	char id[STORE_INSTANCE_ID_LEN + 1];
	char dir[PATH_MAX];
	int fd; /* console.idx, append-only */
	int64_t last_ms;
	long long last_size;
	int handles;
	struct logtime_w *next;
};

static struct logtime_w *logtime_list;

static void logtime_path(const char *dir, const char *name, char *buf, size_t len)
{
	/* dir comes from --root and a hex id: it fits; if not, no file matches "". */
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		buf[0] = 0;
}

/* Appends (now, size) if the log grew; a log that shrank was replaced: the index restarts. */
static void logtime_record(struct logtime_w *w)
{
	char path[PATH_MAX], line[64];
	struct stat st;
	int n;

	logtime_path(w->dir, "console.log", path, sizeof(path));
	w->last_ms = util_now_ms();
	if (stat(path, &st) < 0 || (long long)st.st_size == w->last_size)
		return;
	if ((long long)st.st_size < w->last_size && ftruncate(w->fd, 0) < 0)
		log_warn("instance %s: cannot reset console.idx: %s", w->id, strerror(errno));
	w->last_size = (long long)st.st_size;
	n = snprintf(line, sizeof(line), "%lld %lld\n", (long long)w->last_ms, w->last_size);
	if (write(w->fd, line, (size_t)n) != n)
		log_warn("instance %s: cannot write console.idx: %s", w->id, strerror(errno));
}

static void logtime_timer_cb(uv_timer_t *t)
{
	logtime_record(t->data);
}

static void logtime_event_cb(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct logtime_w *w = h->data;
	int64_t wait;

	(void)events;
	if (status < 0 || !filename || strcmp(filename, "console.log"))
		return;
	/* At most one record per period: QEMU may write the log a byte at a time. */
	if (uv_is_active((uv_handle_t *)&w->timer))
		return;
	wait = w->last_ms + LOGTIME_PERIOD_MS - util_now_ms();
	if (wait <= 0)
		logtime_record(w);
	else
		uv_timer_start(&w->timer, logtime_timer_cb, (uint64_t)wait, 0);
}

static void logtime_closed(uv_handle_t *h)
{
	struct logtime_w *w = h->data;

	if (--w->handles == 0)
		free(w);
}

static struct logtime_w **logtime_find(struct daemon *d, const char *id)
{
	struct logtime_w **pp;

	for (pp = &logtime_list; *pp; pp = &(*pp)->next)
		if ((*pp)->d == d && !strcmp((*pp)->id, id))
			return pp;
	return NULL;
}

static void logtime_close(struct logtime_w **pp)
{
	struct logtime_w *w = *pp;

	*pp = w->next;
	close(w->fd);
	uv_close((uv_handle_t *)&w->ev, logtime_closed);
	uv_close((uv_handle_t *)&w->timer, logtime_closed);
}

int logtime_watch(struct daemon *d, const char *id, int fresh)
{
	struct logtime_w *w, **pp;
	char path[PATH_MAX];
	struct stat st;
	int ret;

	if ((pp = logtime_find(d, id)))
		logtime_close(pp);
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->d = d;
	snprintf(w->id, sizeof(w->id), "%s", id);
	snprintf(w->dir, sizeof(w->dir), "%s/instances/%s", d->cfg->root, id);
	logtime_path(w->dir, "console.idx", path, sizeof(path));
	w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0644);
	if (w->fd < 0) {
		ret = -errno;
		free(w);
		return ret;
	}
	/* An adopted run goes on from what its log holds now. */
	logtime_path(w->dir, "console.log", path, sizeof(path));
	if (!fresh && stat(path, &st) == 0)
		w->last_size = (long long)st.st_size;
	uv_fs_event_init(d->loop, &w->ev);
	uv_timer_init(d->loop, &w->timer);
	w->ev.data = w->timer.data = w;
	w->handles = 2;
	w->next = logtime_list;
	logtime_list = w;
	if ((ret = uv_fs_event_start(&w->ev, logtime_event_cb, w->dir, 0)) < 0) {
		logtime_close(&logtime_list);
		return ret;
	}
	return 0;
}

void logtime_unwatch(struct daemon *d, const char *id)
{
	struct logtime_w **pp = logtime_find(d, id);

	if (!pp)
		return;
	logtime_record(*pp);
	logtime_close(pp);
}

void logtime_close_all(struct daemon *d)
{
	struct logtime_w **pp = &logtime_list;

	while (*pp) {
		if ((*pp)->d == d)
			logtime_close(pp);
		else
			pp = &(*pp)->next;
	}
}

long long logtime_offset(const char *dir, int64_t since_ms)
{
	char path[PATH_MAX], line[64];
	long long ms, size, off = 0;
	FILE *f;

	logtime_path(dir, "console.idx", path, sizeof(path));
	if (!(f = fopen(path, "re")))
		return 0;
	/* Entries are in time order: the last one before since_ms wins. */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lld %lld", &ms, &size) != 2 || size < 0)
			continue;
		if (ms >= since_ms)
			break;
		off = size;
	}
	fclose(f);
	return off;
}
