/*
 * qemusock.c: the unix sockets ukd listens on for QEMU (see qemusock.h).
 */
#define _GNU_SOURCE
#include "qemusock.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int qemusock_peer_load(const char *peer, uid_t *uid, gid_t *gid)
{
	unsigned long u, g;
	FILE *f;
	int n;

	if (!(f = fopen(peer, "re")))
		return -errno;
	n = fscanf(f, "%lu %lu", &u, &g);
	fclose(f);
	if (n != 2)
		return -EINVAL;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

static void qemusock_peer_write(const char *peer, uid_t uid, gid_t gid)
{
	FILE *f;

	if ((f = fopen(peer, "we"))) {
		fprintf(f, "%lu %lu\n", (unsigned long)uid, (unsigned long)gid);
		fclose(f);
	}
}

void qemusock_peer_save(uv_os_fd_t fd, const char *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uid_t uid;
	gid_t gid;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid == 0 ||
	    (qemusock_peer_load(peer, &uid, &gid) == 0 && uid == cred.uid && gid == cred.gid))
		return;
	qemusock_peer_write(peer, cred.uid, cred.gid);
}

/*
 * No connection has told QEMU's user yet (ukd killed between the domain's
 * start and QEMU's first connect): the stale socket, which libvirt handed to
 * that user as the domain started, tells it instead. Without it the new
 * socket stayed root's and QEMU never reconnected: no health channel and no
 * console log for the guest's whole life (reliability.crash seed 7).
 */
static void qemusock_peer_from_stale(const char *path, const char *peer)
{
	struct stat st;
	uid_t uid;
	gid_t gid;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid != 0 &&
	    qemusock_peer_load(peer, &uid, &gid) < 0)
		qemusock_peer_write(peer, st.st_uid, st.st_gid);
}

static int qemusock_link_name(const char *id, char kind, char *buf, size_t len);
static int qemusock_point(const char *link, const char *path);

/* The link of a socket ukd listens on again (console.sock: 'c', health.sock: 'h'). */
static void qemusock_relink(const char *path, const char *id)
{
	const char *base = strrchr(path, '/');
	char link[64];
	int ret;

	base = base ? base + 1 : path;
	if (qemusock_link_name(id, base[0] == 'c' ? 'c' : 'h', link, sizeof(link)) == 0 &&
	    (ret = qemusock_point(link, path)) < 0)
		log_warn("instance %s: cannot link %s to %s: %s", id, link, path, strerror(-ret));
}

int qemusock_listen(uv_pipe_t *server, const char *path, const char *peer, uv_connection_cb cb,
		    const char *id)
{
	uid_t uid;
	gid_t gid;
	int ret;

	if (peer)
		qemusock_peer_from_stale(path, peer);
	unlink(path);
	if ((ret = uv_pipe_bind(server, path)) < 0)
		return ret;
	chmod(path, 0600);
	qemusock_relink(path, id);
	if (peer && qemusock_peer_load(peer, &uid, &gid) == 0 && chown(path, uid, gid) < 0)
		log_warn("instance %s: cannot hand %s to uid %lu: %s", id, path, (unsigned long)uid,
			 strerror(errno));
	return uv_listen((uv_stream_t *)server, 4, cb);
}

static int qemusock_link_name(const char *id, char kind, char *buf, size_t len)
{
	int n = snprintf(buf, len, QEMUSOCK_LINK_DIR "/%.16s%c", id, kind);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * 0 if QEMUSOCK_LINK_DIR is (now) a directory of ukd's user that no one else
 * may write: else another user could point a link at a socket or file of
 * theirs between ukd's symlink and QEMU's connect (and libvirt, as root,
 * chowns a chardev's path to QEMU's user).
 */
static int qemusock_link_dir(void)
{
	struct stat st;

	if (mkdir(QEMUSOCK_LINK_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(QEMUSOCK_LINK_DIR, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

/* The target of the link at link, NUL-terminated in to: its length, or -1. */
static ssize_t qemusock_readlink(const char *link, char *to, size_t len)
{
	ssize_t n = readlink(link, to, len - 1);

	if (n >= 0)
		to[n] = 0;
	return n;
}

/*
 * Points link at path, unless it does already: made under a temporary name
 * and renamed over, so a live link never goes missing.
 */
static int qemusock_point(const char *link, const char *path)
{
	char tmp[96], to[PATH_MAX];
	int ret;

	if (qemusock_readlink(link, to, sizeof(to)) >= 0 && !strcmp(to, path))
		return 0;
	if ((ret = qemusock_link_dir()) < 0)
		return ret;
	snprintf(tmp, sizeof(tmp), "%s.%ld", link, (long)getpid());
	unlink(tmp);
	if (symlink(path, tmp) < 0)
		return -errno;
	if (rename(tmp, link) < 0) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	return 0;
}

void qemusock_link(const char *path, const char *id, char kind, char *buf, size_t len)
{
	char link[64];
	int ret;

	if ((ret = qemusock_link_name(id, kind, link, sizeof(link))) == 0 && strlen(link) >= len)
		ret = -ENAMETOOLONG;
	/* qemusock_listen made it already: this only checks. */
	if (ret == 0 && (ret = qemusock_point(link, path)) == 0) {
		snprintf(buf, len, "%s", link);
		return;
	}
	log_warn("instance %s: no short link to %s (%s): QEMU gets the long path", id, path,
		 strerror(-ret));
	snprintf(buf, len, "%s", path);
}

/* 1 if the link at link points into directory dir. */
static int qemusock_link_into(const char *link, const char *dir)
{
	char to[PATH_MAX];
	size_t k = strlen(dir);

	if (qemusock_readlink(link, to, sizeof(to)) < 0)
		return 0;
	return !strncmp(to, dir, k) && to[k] == '/' && !strchr(to + k + 1, '/');
}

void qemusock_unlink(const char *id, const char *dir)
{
	char link[64];

	for (const char *k = "ch"; *k; k++)
		if (qemusock_link_name(id, *k, link, sizeof(link)) == 0 &&
		    qemusock_link_into(link, dir))
			unlink(link);
}

/* 1 if name is one of ours: 16 hex digits and c or h, or that and ".PID" (being made). */
static int qemusock_link_ours(const char *name, long *pid)
{
	char hex[17], *end;

	*pid = 0;
	if (strnlen(name, 17) < 17 || (name[16] != 'c' && name[16] != 'h'))
		return 0;
	memcpy(hex, name, 16);
	hex[16] = 0;
	if (!util_is_hex(hex, 16))
		return 0;
	if (!name[17])
		return 1;
	if (name[17] != '.' || (*pid = strtol(name + 18, &end, 10)) <= 0 || *end)
		return 0;
	return 1;
}

void qemusock_sweep(void)
{
	DIR *dir = opendir(QEMUSOCK_LINK_DIR);
	char link[PATH_MAX], to[PATH_MAX], *slash;
	struct dirent *e;
	struct stat st;
	long pid;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (!qemusock_link_ours(e->d_name, &pid))
			continue;
		snprintf(link, sizeof(link), QEMUSOCK_LINK_DIR "/%s", e->d_name);
		if (qemusock_readlink(link, to, sizeof(to)) < 0)
			continue;
		/*
		 * Gone with its instance's directory (its root was removed); not
		 * merely a socket being made again by its ukd. A half-made one
		 * whose maker is dead goes too.
		 */
		if ((slash = strrchr(to, '/')))
			*slash = 0;
		if ((pid && pid != getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH) ||
		    (slash && stat(to, &st) < 0 && errno == ENOENT))
			unlink(link);
	}
	closedir(dir);
}
