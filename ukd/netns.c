/*
 * netns.c: ukd's namespace and its socket thread (see netns.h).
 */
#define _GNU_SOURCE
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "netcmd.h"

struct netns {
	char *name;
	uv_loop_t *loop;
	uv_async_t async;
	pthread_t thread;
	int nsfd;
	/* lock guards everything below: the loop and the socket thread share it */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int quit;
	int ready; /* the thread answered setns: 1 ok, < 0 -errno */
	struct netns_req *pending, *done;
	int pool[NETNS_POOL];
	int npool;
};

static int netns_make(int type)
{
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* Appends r to the list at *head (requests are answered in order). */
static void netns_push(struct netns_req **head, struct netns_req *r)
{
	r->next = NULL;
	while (*head)
		head = &(*head)->next;
	*head = r;
}

/* Inside ukd's namespace only: the host's settings are none of ukd's business. */
static void netns_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		log_warn("netns: cannot set %s to %s: %s", path, value, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void *netns_thread(void *arg)
{
	struct netns *ns = arg;
	struct netns_req *r;
	int ok = setns(ns->nsfd, CLONE_NEWNET) < 0 ? -errno : 1, fd;

	if (ok == 1) {
		netns_sysctl("/proc/sys/net/ipv4/ip_forward", "0");
		netns_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
		netns_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	}
	pthread_mutex_lock(&ns->lock);
	ns->ready = ok;
	pthread_cond_broadcast(&ns->cond);
	while (ok == 1 && !ns->quit) {
		if ((r = ns->pending)) {
			ns->pending = r->next;
			pthread_mutex_unlock(&ns->lock);
			r->fd = netns_make(r->type);
			pthread_mutex_lock(&ns->lock);
			netns_push(&ns->done, r);
			uv_async_send(&ns->async);
		} else if (ns->npool < NETNS_POOL) {
			pthread_mutex_unlock(&ns->lock);
			fd = netns_make(SOCK_STREAM);
			pthread_mutex_lock(&ns->lock);
			if (fd >= 0) {
				ns->pool[ns->npool++] = fd;
			} else {
				/* Out of descriptors: try again later, not in a busy loop. */
				struct timespec t;

				clock_gettime(CLOCK_REALTIME, &t);
				t.tv_sec += 1;
				pthread_cond_timedwait(&ns->cond, &ns->lock, &t);
			}
		} else {
			pthread_cond_wait(&ns->cond, &ns->lock);
		}
	}
	pthread_mutex_unlock(&ns->lock);
	return NULL;
}

static void netns_drain(uv_async_t *a)
{
	struct netns *ns = a->data;
	struct netns_req *list, *next;

	pthread_mutex_lock(&ns->lock);
	list = ns->done;
	ns->done = NULL;
	pthread_mutex_unlock(&ns->lock);
	for (; list; list = next) {
		next = list->next;
		list->cb(list);
	}
}

/* Creates the namespace unless /run/netns/NAME is there already. */
static int netns_create(const char *name, char *err, size_t errlen)
{
	const char *add[] = {"ip", "netns", "add", name, NULL};
	char path[PATH_MAX], lines[64];
	struct stat st;
	int ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if (stat(path, &st) < 0) {
		ret = netcmd_run(add, NULL, NULL, err, errlen);
		if (ret < 0 && ret != -EEXIST)
			return ret;
		log_info("netns: created network namespace %s", name);
	}
	snprintf(lines, sizeof(lines), "link set dev lo up\n");
	return netcmd_ip_batch(name, lines, err, errlen);
}

static void netns_closed(uv_handle_t *h)
{
	struct netns *ns = h->data;

	pthread_mutex_destroy(&ns->lock);
	pthread_cond_destroy(&ns->cond);
	free(ns->name);
	free(ns);
}

int netns_open(struct netns **out, uv_loop_t *loop, const char *name, char *err, size_t errlen)
{
	struct netns *ns = calloc(1, sizeof(*ns));
	char path[PATH_MAX];
	int ret;

	if (!ns || (name && !(ns->name = strdup(name)))) {
		free(ns);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ns->loop = loop;
	ns->nsfd = -1;
	pthread_mutex_init(&ns->lock, NULL);
	pthread_cond_init(&ns->cond, NULL);
	if ((ret = uv_async_init(loop, &ns->async, netns_drain)) < 0) {
		snprintf(err, errlen, "uv_async_init: %s", uv_strerror(ret));
		goto free_ns;
	}
	ns->async.data = ns;
	uv_unref((uv_handle_t *)&ns->async);
	if (!name) {
		*out = ns;
		return 0;
	}
	if ((ret = netns_create(name, err, errlen)) < 0)
		goto close_async;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if ((ns->nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto close_async;
	}
	if ((ret = -pthread_create(&ns->thread, NULL, netns_thread, ns)) < 0) {
		snprintf(err, errlen, "cannot start the namespace thread: %s", strerror(-ret));
		goto close_fd;
	}
	pthread_mutex_lock(&ns->lock);
	while (!ns->ready)
		pthread_cond_wait(&ns->cond, &ns->lock);
	ret = ns->ready;
	pthread_mutex_unlock(&ns->lock);
	if (ret < 0) {
		pthread_join(ns->thread, NULL);
		snprintf(err, errlen, "setns into %s: %s", name, strerror(-ret));
		goto close_fd;
	}
	*out = ns;
	return 0;
close_fd:
	close(ns->nsfd);
close_async:
	/* The handle was never used; ns goes once libuv has closed it. */
	uv_close((uv_handle_t *)&ns->async, netns_closed);
	return ret;
free_ns:
	free(ns->name);
	free(ns);
	return ret;
}

const char *netns_name(const struct netns *ns)
{
	return ns->name;
}

void netns_socket(struct netns *ns, struct netns_req *r)
{
	int fd = -1;

	if (!ns->name) {
		r->fd = netns_make(r->type);
		r->cb(r);
		return;
	}
	pthread_mutex_lock(&ns->lock);
	if (r->type == SOCK_STREAM && ns->npool > 0)
		fd = ns->pool[--ns->npool];
	else
		netns_push(&ns->pending, r);
	pthread_cond_signal(&ns->cond);
	pthread_mutex_unlock(&ns->lock);
	if (fd >= 0) {
		r->fd = fd;
		r->cb(r);
	}
}

void netns_close(struct netns *ns)
{
	struct netns_req *r, *next;

	if (!ns)
		return;
	if (ns->name) {
		pthread_mutex_lock(&ns->lock);
		ns->quit = 1;
		pthread_cond_signal(&ns->cond);
		pthread_mutex_unlock(&ns->lock);
		pthread_join(ns->thread, NULL);
		close(ns->nsfd);
	}
	for (int i = 0; i < ns->npool; i++)
		close(ns->pool[i]);
	/* Answered or not, every request gets its callback, on this (the loop's) thread. */
	for (int k = 0; k < 2; k++) {
		for (r = k ? ns->pending : ns->done; r; r = next) {
			next = r->next;
			if (k) {
				r->fd = -ECANCELED;
			}
			r->cb(r);
		}
	}
	ns->pending = ns->done = NULL;
	uv_close((uv_handle_t *)&ns->async, netns_closed);
}
