/*
 * daemon.c: the ukd daemon's life cycle (see daemon.h).
 *
 * Start: state directories, an exclusive lock on the root (one daemon per
 * state directory), the store, libvirt's event thread, the API socket; then
 * (in the background) the libvirt connection and reconciliation. The API
 * serves images even while libvirt is unreachable; instance operations then
 * answer 503 until the connection is back.
 *
 * Stop (SIGTERM/SIGINT): stop listening, drop pending answers, let running
 * worker jobs finish, close libvirt and the store. Guests keep running; the
 * next start adopts them.
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "build.h"
#include "check.h"
#include "health.h"
#include "http.h"
#include "image.h"
#include "instance.h"
#include "listing.h"
#include "restart.h"
#include "log.h"
#include "consolelog.h"
#include "network.h"
#include "qemusock.h"
#include "store.h"
#include "util.h"
#include "virt.h"

#ifndef UKD_VERSION
#define UKD_VERSION "0.1.0"
#endif

#define DAEMON_RECONNECT_MIN_MS 1000
#define DAEMON_RECONNECT_MAX_MS 5000

struct daemon_connect_job {
	uv_work_t work;
	struct daemon *d;
	int ret;
	char err[512];
	struct virt_domain *doms;
	size_t n;
	struct virt_host host;
};

static void daemon_connect_work(uv_work_t *w)
{
	struct daemon_connect_job *j = w->data;

	j->ret = virt_connect(j->d->virt, j->err, sizeof(j->err));
	if (j->ret == 0)
		j->ret = virt_list(j->d->virt, &j->doms, &j->n, j->err, sizeof(j->err));
	/* Only informational (GET /v1/system/info): a failure here is no reason to retry. */
	if (j->ret == 0)
		virt_host_info(j->d->virt, &j->host, j->err, sizeof(j->err));
}

static void daemon_reconnect_cb(uv_timer_t *t)
{
	daemon_connect(t->data);
}

/* How long after a reconcile the adopted domains are looked at again. */
#define DAEMON_RECHECK_MS 3000

struct daemon_recheck_job {
	uv_work_t work;
	struct daemon *d;
	struct virt_domain *was, *doms; /* adopted at the reconcile; listed now */
	size_t nwas, n;
	int ret;
	char err[256];
};

static void daemon_recheck_work(uv_work_t *w)
{
	struct daemon_recheck_job *j = w->data;

	j->ret = virt_list(j->d->virt, &j->doms, &j->n, j->err, sizeof(j->err));
}

static void daemon_recheck_done(uv_work_t *w, int status)
{
	struct daemon_recheck_job *j = w->data;
	struct daemon *d = j->d;

	(void)status;
	if (!d->stopping && j->ret == 0)
		instance_recheck(d, j->was, j->nwas, j->doms, j->n);
	free(j->was);
	free(j->doms);
	free(j);
}

static void daemon_recheck(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct daemon_recheck_job *j;

	if (d->stopping || !(j = calloc(1, sizeof(*j))))
		return;
	j->work.data = j;
	j->d = d;
	/* The job owns the list it compares with: a later reconcile makes a new one. */
	j->was = d->adopted;
	j->nwas = d->nadopted;
	d->adopted = NULL;
	d->nadopted = 0;
	if (uv_queue_work(d->loop, &j->work, daemon_recheck_work, daemon_recheck_done) < 0) {
		free(j->was);
		free(j);
	}
}

static void daemon_connected(struct daemon *d)
{
	if (!d->stopping)
		d->connected = 1;
}

static void daemon_connect_done(uv_work_t *w, int status)
{
	struct daemon_connect_job *j = w->data;
	struct daemon *d = j->d;

	(void)status;
	d->connecting = 0;
	if (d->stopping)
		goto free_job;
	if (j->ret < 0) {
		if (strcmp(d->libvirt_error, j->err))
			log_error("libvirt: %s; retrying", j->err);
		snprintf(d->libvirt_error, sizeof(d->libvirt_error), "%s", j->err);
		d->connected = 0;
		uv_timer_start(&d->reconnect, daemon_reconnect_cb, (uint64_t)d->reconnect_ms, 0);
		d->reconnect_ms = d->reconnect_ms * 2 > DAEMON_RECONNECT_MAX_MS
					  ? DAEMON_RECONNECT_MAX_MS
					  : d->reconnect_ms * 2;
		goto free_job;
	}
	log_info("libvirt: connected to %s; %zu ukd domain(s) running", d->cfg->libvirt_uri, j->n);
	d->libvirt_error[0] = 0;
	d->reconnect_ms = DAEMON_RECONNECT_MIN_MS;
	d->host = j->host;
	instance_reconcile(d, j->doms, j->n);
	/* Instances are served once taps and filters match the store too. */
	network_reconcile(d, daemon_connected);
	/* The list may have been stale already: looked at again shortly. */
	free(d->adopted);
	d->adopted = j->doms;
	d->nadopted = j->n;
	j->doms = NULL;
	uv_timer_start(&d->recheck, daemon_recheck, DAEMON_RECHECK_MS, 0);
free_job:
	free(j->doms);
	free(j);
}

void daemon_connect(struct daemon *d)
{
	struct daemon_connect_job *j;

	if (d->connecting || d->stopping)
		return;
	if (!(j = calloc(1, sizeof(*j)))) {
		uv_timer_start(&d->reconnect, daemon_reconnect_cb, DAEMON_RECONNECT_MAX_MS, 0);
		return;
	}
	j->work.data = j;
	j->d = d;
	if (uv_queue_work(d->loop, &j->work, daemon_connect_work, daemon_connect_done) < 0) {
		free(j);
		return;
	}
	d->connecting = 1;
}

static void daemon_on_event(const struct virt_event *ev, void *opaque)
{
	struct daemon *d = opaque;

	if (d->stopping)
		return;
	if (ev->kind == VIRT_EV_DISCONNECTED) {
		/* Events may have been lost: reconnect and reconcile from libvirt's state. */
		d->connected = 0;
		snprintf(d->libvirt_error, sizeof(d->libvirt_error), "connection to libvirt lost");
		daemon_connect(d);
		return;
	}
	instance_on_event(d, ev);
}

static void daemon_stop(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (d->stopping)
		return;
	if (signum)
		log_info("signal %d: shutting down (instances keep running)", signum);
	d->stopping = 1;
	http_server_stop(d->http);
	d->http = NULL;
	http_server_stop(d->http_tcp);
	d->http_tcp = NULL;
	instance_shutdown(d);
	restart_close_all(d);
	health_close_all(d);
	consolelog_close_all(d);
	listing_clear();
	network_stop(d);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->reconnect, NULL);
	uv_close((uv_handle_t *)&d->recheck, NULL);
	free(d->adopted);
	d->adopted = NULL;
}

/* ROOT and its subdirectories; tmp is private (emptied by daemon_tmp once locked). */
static int daemon_dirs(const struct daemon_cfg *cfg)
{
	static const struct {
		const char *sub;
		unsigned mode;
	} dirs[] = {
		{"", 0755},	      {"/images", 0755}, {"/images/sha256", 0755},
		{"/instances", 0755}, {"/tmp", 0700},
	};
	char path[PATH_MAX];
	struct stat st;
	int ret;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", cfg->root, dirs[i].sub);
		if ((ret = util_mkdir(path, dirs[i].mode)) < 0) {
			log_error("cannot create %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	/* libvirt's QEMU runs as libvirt-qemu and must reach the image files. */
	if (stat(cfg->root, &st) == 0 && (st.st_mode & 0005) != 0005)
		log_warn("%s is not world-searchable (mode %03o): libvirt's QEMU cannot read "
			 "images in it",
			 cfg->root, st.st_mode & 0777);
	return 0;
}

/*
 * Empties ROOT/tmp: build directories a killed ukd left, and the compilers
 * still working in them. Only once the lock is held: a second ukd started on
 * the same root (refused by the lock) must not take the build directories of
 * the one that runs.
 */
static int daemon_tmp(const struct daemon_cfg *cfg)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), "%s/tmp", cfg->root);
	if ((ret = build_end_orphans(path)) > 0)
		log_info("killed %d build process(es) that a killed ukd left running in %s", ret,
			 path);
	if ((ret = util_rmtree(path)) < 0)
		log_warn("cannot empty %s: %s", path, strerror(-ret));
	if ((ret = util_mkdir(path, 0700)) < 0) {
		log_error("cannot create %s: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

static int daemon_lock(struct daemon *d)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/ukd.lock", d->cfg->root);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		log_error("another ukd is running with state directory %s", d->cfg->root);
		close(d->lock_fd);
		return -EBUSY;
	}
	return 0;
}

/*
 * Forks; the parent waits until the child reports ready (or fails) and exits
 * with the matching status, so `ukd && ukctl ...` works. Must run before any
 * thread exists. Returns the write end of the readiness pipe in the child.
 */
static int daemon_background(const char *root)
{
	char path[PATH_MAX], c;
	int fds[2], null;
	pid_t pid;
	FILE *logf;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	if ((pid = fork()) < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) == 1 ? 0 : 1);
	}
	close(fds[0]);
	setsid();
	snprintf(path, sizeof(path), "%s/ukd.log", root);
	if ((logf = fopen(path, "ae")))
		log_set_file(logf);
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	return fds[1];
}

static int daemon_socket_dir(const char *socket)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", socket);
	if (!(slash = strrchr(dir, '/')) || slash == dir)
		return 0;
	*slash = 0;
	return util_mkdir(dir, 0755);
}

static int daemon_start(struct daemon *d)
{
	char path[PATH_MAX];
	int ret;

	uv_timer_init(d->loop, &d->reconnect);
	d->reconnect.data = d;
	uv_timer_init(d->loop, &d->recheck);
	d->recheck.data = d;
	uv_signal_init(d->loop, &d->sigterm);
	uv_signal_init(d->loop, &d->sigint);
	d->sigterm.data = d->sigint.data = d;
	uv_signal_start(&d->sigterm, daemon_stop, SIGTERM);
	uv_signal_start(&d->sigint, daemon_stop, SIGINT);
	snprintf(path, sizeof(path), "%s/ukd.db", d->cfg->root);
	if ((ret = store_open(path, &d->store)) < 0)
		return ret;
	image_sweep(d->cfg->root, d->store);
	qemusock_sweep();
	if ((ret = network_start(d)) < 0)
		return ret;
	if ((ret = virt_new(&d->virt, d->loop, d->cfg->libvirt_uri, daemon_on_event, d)) < 0) {
		log_error("cannot start libvirt's event loop");
		return ret;
	}
	if ((ret = daemon_socket_dir(d->cfg->socket)) < 0 ||
	    (ret = http_server_start(&d->http, d->loop, d->cfg->socket, api_handle, api_body_limit,
				     d)) < 0) {
		log_error("cannot listen on %s: %s", d->cfg->socket,
			  ret == -EADDRINUSE ? "another server is listening there"
					     : strerror(-ret));
		return ret;
	}
	if (d->cfg->listen &&
	    (ret = http_server_start_tcp(&d->http_tcp, d->loop, d->cfg->listen, d->cfg->token,
					 api_handle, api_body_limit, d)) < 0) {
		log_error("cannot listen on %s: %s", d->cfg->listen,
			  ret == -EINVAL ? "not an address HOST:PORT" : strerror(-ret));
		return ret;
	}
	return 0;
}

/* Whether guests get virtio-rng: "auto" means only if they would lack RDRAND. */
static int daemon_want_rng(const char *opt, int kvm)
{
	char line[4096];
	int rdrand = 0;
	FILE *f;

	if (opt && strcmp(opt, "auto"))
		return !strcmp(opt, "on");
	if (!kvm)
		return 0; /* TCG's maximum CPU model emulates RDRAND */
	if (!(f = fopen("/proc/cpuinfo", "r")))
		return 1;
	while (!rdrand && fgets(line, sizeof(line), f))
		rdrand = !strncmp(line, "flags", 5) && strstr(line, " rdrand");
	fclose(f);
	return !rdrand;
}

int daemon_run(const struct daemon_cfg *cfg)
{
	struct daemon d = {.cfg = cfg, .lock_fd = -1, .reconnect_ms = DAEMON_RECONNECT_MIN_MS};
	int ready_fd = -1, ret, kvm;

	log_set_level(cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	if ((kvm = check_accel(cfg->accel, d.accel_reason, sizeof(d.accel_reason))) < 0) {
		log_error("%s", d.accel_reason);
		return 2;
	}
	d.kvm = kvm;
	d.rng = daemon_want_rng(cfg->rng, kvm);
	if (daemon_dirs(cfg) < 0 || daemon_lock(&d) < 0 || daemon_tmp(cfg) < 0)
		return 1;
	if (!cfg->foreground && (ready_fd = daemon_background(cfg->root)) < 0) {
		log_error("cannot go to the background: %s", strerror(-ready_fd));
		return 1;
	}
	d.loop = uv_default_loop();
	snprintf(d.libvirt_error, sizeof(d.libvirt_error), "connecting");
	ret = daemon_start(&d);
	if (ret < 0) {
		/* The same teardown as for a signal. */
		daemon_stop(&d.sigterm, 0);
	} else {
		log_info("ukd %s serving %s%s%s (state %s, libvirt %s, accelerator %s: %s; "
			 "virtio-rng %s)",
			 UKD_VERSION, cfg->socket, cfg->listen ? " and tcp://" : "",
			 cfg->listen ? cfg->listen : "", cfg->root, cfg->libvirt_uri,
			 d.kvm ? "kvm" : "tcg", d.accel_reason, d.rng ? "on" : "off");
		if (ready_fd >= 0) {
			(void)!write(ready_fd, "1", 1);
			close(ready_fd);
		}
		daemon_connect(&d);
	}
	/* Runs until the signal handler has closed the server, signals and timers, and jobs end. */
	uv_run(d.loop, UV_RUN_DEFAULT);
	virt_free(d.virt);
	uv_run(d.loop, UV_RUN_DEFAULT);
	store_close(d.store);
	uv_loop_close(d.loop);
	close(d.lock_fd);
	log_info("stopped");
	return ret < 0 ? 1 : 0;
}
