/*
 * netcmd.c: running ip and ebtables (see netcmd.h).
 */
#define _GNU_SOURCE
#include "netcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

static pthread_mutex_t netcmd_ebtables_lock = PTHREAD_MUTEX_INITIALIZER;

/* Output of a bounded size, read while the child runs (it could fill a pipe otherwise). */
struct netcmd_io {
	int in, out, err;
	const char *input;
	size_t input_len, input_off;
	struct util_buf obuf, ebuf;
};

static int netcmd_pump(struct netcmd_io *io)
{
	struct pollfd p[3];
	char buf[16384];

	while (io->out >= 0 || io->err >= 0 || io->in >= 0) {
		int n = 0, ip = -1, op = -1, ep = -1;

		if (io->in >= 0)
			p[ip = n++] = (struct pollfd){.fd = io->in, .events = POLLOUT};
		if (io->out >= 0)
			p[op = n++] = (struct pollfd){.fd = io->out, .events = POLLIN};
		if (io->err >= 0)
			p[ep = n++] = (struct pollfd){.fd = io->err, .events = POLLIN};
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (ip >= 0 && p[ip].revents) {
			ssize_t w = write(io->in, io->input + io->input_off,
					  io->input_len - io->input_off);

			if (w > 0)
				io->input_off += (size_t)w;
			if (w < 0 || io->input_off == io->input_len) {
				close(io->in);
				io->in = -1;
			}
		}
		for (int k = 0; k < 2; k++) {
			int idx = k ? ep : op, *fd = k ? &io->err : &io->out;
			struct util_buf *b = k ? &io->ebuf : &io->obuf;
			ssize_t r;

			if (idx < 0 || !p[idx].revents)
				continue;
			r = read(*fd, buf, sizeof(buf));
			if (r > 0 && b->len + (size_t)r <= NETCMD_OUT_MAX) {
				util_buf_add(b, buf, (size_t)r);
			} else if (r <= 0 && !(r < 0 && errno == EINTR)) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	return 0;
}

static int netcmd_errno(const char *msg)
{
	if (strstr(msg, "Cannot find device") || strstr(msg, "does not exist") ||
	    strstr(msg, "No such file") || strstr(msg, "No chain/target/match") ||
	    strstr(msg, "Chain not found") || strstr(msg, "No such device"))
		return -ENOENT;
	if (strstr(msg, "File exists") || strstr(msg, "already exists"))
		return -EEXIST;
	return -EIO;
}

int netcmd_run(const char *const argv[], const char *input, char **out, char *err, size_t errlen)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, status, ret;
	struct netcmd_io io = {.in = -1, .out = -1, .err = -1};
	posix_spawn_file_actions_t fa;
	pid_t pid;

	if (out)
		*out = NULL;
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto close_pipes;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	ret = -posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(-ret));
		goto close_pipes;
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	pin[0] = pout[1] = perr[1] = -1;
	io.in = pin[1];
	io.out = pout[0];
	io.err = perr[0];
	pin[1] = pout[0] = perr[0] = -1;
	io.input = input ? input : "";
	io.input_len = strlen(io.input);
	/* SIGPIPE is ignored by the daemon: a child that exits early gives EPIPE here. */
	if (!io.input_len) {
		close(io.in);
		io.in = -1;
	}
	ret = netcmd_pump(&io);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret == 0 && (io.obuf.oom || io.ebuf.oom))
		ret = -ENOMEM;
	if (ret == 0 && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		const char *msg = io.ebuf.s ? io.ebuf.s : "";
		size_t len = strlen(msg);

		while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
			len--;
		snprintf(err, errlen, "%s: %.*s", argv[0], (int)(len > 400 ? 400 : len),
			 len ? msg : "failed");
		ret = netcmd_errno(msg);
	}
	if (ret == 0 && out) {
		*out = io.obuf.s ? io.obuf.s : strdup("");
		io.obuf.s = NULL;
		if (!*out)
			ret = -ENOMEM;
	}
	util_buf_free(&io.obuf);
	util_buf_free(&io.ebuf);
close_pipes:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	return ret;
}

int netcmd_ip_batch(const char *ns, const char *lines, char *err, size_t errlen)
{
	const char *with_ns[] = {"ip", "-n", ns, "-batch", "-", NULL};
	const char *here[] = {"ip", "-batch", "-", NULL};

	return netcmd_run(ns ? with_ns : here, lines, NULL, err, errlen);
}

int netcmd_ebtables(const char *ns, const char *lines, char *err, size_t errlen)
{
	char *text, nspath[128];
	const char *here[] = {"ebtables-restore", "--noflush", NULL};
	const char *with_ns[] = {"nsenter", nspath, "ebtables-restore", "--noflush", NULL};
	int ret;

	/* nsenter only enters the namespace; ip netns exec also remounts /sys (measured: 9 vs 11
	 * ms). */
	snprintf(nspath, sizeof(nspath), "--net=/run/netns/%s", ns ? ns : "");
	if (asprintf(&text, "*nat\n%sCOMMIT\n", lines) < 0)
		return -ENOMEM;
	/*
	 * One ruleset transaction at a time from this process: ebtables-nft
	 * checks the ruleset's generation on commit, and two of ukd's workers
	 * committing at once would make one of them fail for nothing.
	 */
	pthread_mutex_lock(&netcmd_ebtables_lock);
	ret = netcmd_run(ns ? with_ns : here, text, NULL, err, errlen);
	pthread_mutex_unlock(&netcmd_ebtables_lock);
	free(text);
	return ret;
}
