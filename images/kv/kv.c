/*
 * kv: an in-memory key-value server speaking the Redis protocol (RESP2), so
 * redis-cli and redis-benchmark drive it unmodified. Commands: PING, ECHO,
 * GET, SET [EX s|PX ms] [NX|XX], DEL, EXISTS, INCR, DECR, INCRBY, DECRBY,
 * EXPIRE, PEXPIRE, TTL, PTTL, MGET, MSET, DBSIZE, FLUSHALL, INFO, CONFIG GET,
 * COMMAND, SELECT 0, QUIT.
 *
 * Usage: kv [--port N] [--aof FILE] [--appendfsync always|everysec|no]
 * With --aof (e.g. /dev/vda, a virtio-blk disk), every write is appended to
 * FILE as RESP and replayed at start. The log's first 16 bytes are a header
 * ("UKDKVAOF" + the length of the log), so a raw disk works as the file.
 * Runs unchanged as a Linux process.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 1024
#define MAX_BULK (512u << 20)
#define MAX_INLINE (64u << 10)
#define MAX_CONN 4096
#define AOF_MAGIC "UKDKVAOF"
#define AOF_HDR 16

struct entry {
	struct entry *next;
	uint64_t hash;
	char *key, *val;
	size_t klen, vlen;
	int64_t expires_ms; /* 0: never */
};

struct buf {
	char *p;
	size_t len, cap;
};

struct conn {
	int fd;
	struct buf in, out;
	size_t out_off;
	int closing;
};

static struct entry **table;
static size_t nbuckets = 1024, nkeys;
static int aof_fd = -1, fsync_policy = 1; /* 0 no, 1 everysec, 2 always */
static uint64_t aof_len;
static int64_t last_fsync_ms;
static unsigned long commands_done;
static int replaying;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "kv: out of memory\n");
		exit(1);
	}
	return p;
}

static void buf_put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_put(b, tmp, (size_t)n);
}

/* ---- the table ---- */

static uint64_t hash(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	return h;
}

static void entry_free(struct entry *e)
{
	free(e->key);
	free(e->val);
	free(e);
}

static struct entry **slot(const char *k, size_t n, uint64_t h)
{
	struct entry **p = &table[h % nbuckets];

	for (; *p; p = &(*p)->next)
		if ((*p)->hash == h && (*p)->klen == n && !memcmp((*p)->key, k, n))
			break;
	return p;
}

/* The live entry for k, removing it first if it has expired. */
static struct entry *lookup(const char *k, size_t n)
{
	struct entry **p = slot(k, n, hash(k, n)), *e = *p;

	if (e && e->expires_ms && e->expires_ms <= now_ms()) {
		*p = e->next;
		entry_free(e);
		nkeys--;
		return 0;
	}
	return e;
}

static void grow(void)
{
	size_t old = nbuckets;
	struct entry **t = table;

	nbuckets *= 2;
	table = calloc(nbuckets, sizeof(*table));
	if (!table) {
		table = t;
		nbuckets = old;
		return;
	}
	for (size_t i = 0; i < old; i++)
		while (t[i]) {
			struct entry *e = t[i];

			t[i] = e->next;
			e->next = table[e->hash % nbuckets];
			table[e->hash % nbuckets] = e;
		}
	free(t);
}

static void store(const char *k, size_t kn, const char *v, size_t vn, int64_t expires)
{
	uint64_t h = hash(k, kn);
	struct entry **p = slot(k, kn, h), *e = *p;

	if (!e) {
		if (nkeys >= nbuckets)
			grow(), p = slot(k, kn, h);
		e = calloc(1, sizeof(*e));
		if (!e)
			exit(1);
		e->hash = h;
		e->key = xrealloc(0, kn);
		memcpy(e->key, k, kn);
		e->klen = kn;
		e->next = *p;
		*p = e;
		nkeys++;
	}
	e->val = xrealloc(e->val, vn);
	memcpy(e->val, v, vn);
	e->vlen = vn;
	e->expires_ms = expires;
}

static int del(const char *k, size_t n)
{
	struct entry **p, *e;

	if (!lookup(k, n))
		return 0;
	p = slot(k, n, hash(k, n));
	e = *p;
	*p = e->next;
	entry_free(e);
	nkeys--;
	return 1;
}

static void flushall(void)
{
	for (size_t i = 0; i < nbuckets; i++)
		while (table[i]) {
			struct entry *e = table[i];

			table[i] = e->next;
			entry_free(e);
		}
	nkeys = 0;
}

/* ---- replies ---- */

static void ok(struct buf *o)
{
	buf_put(o, "+OK\r\n", 5);
}

static void err(struct buf *o, const char *msg)
{
	buf_printf(o, "-%s\r\n", msg);
}

static void integer(struct buf *o, long long v)
{
	buf_printf(o, ":%lld\r\n", v);
}

static void bulk(struct buf *o, const char *p, size_t n)
{
	buf_printf(o, "$%zu\r\n", n);
	buf_put(o, p, n);
	buf_put(o, "\r\n", 2);
}

static void nil(struct buf *o)
{
	buf_put(o, "$-1\r\n", 5);
}

/* ---- the append-only file ---- */

static void aof_append(int argc, char **argv, size_t *lens)
{
	struct buf b = {0};

	if (aof_fd < 0 || replaying)
		return;
	buf_printf(&b, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++)
		bulk(&b, argv[i], lens[i]);
	if (pwrite(aof_fd, b.p, b.len, AOF_HDR + (off_t)aof_len) != (ssize_t)b.len) {
		fprintf(stderr, "kv: AOF write failed: %s\n", strerror(errno));
		exit(1);
	}
	aof_len += b.len;
	free(b.p);
	/* The header names the log's length: the log ends exactly where it says. */
	char hdr[AOF_HDR];
	memcpy(hdr, AOF_MAGIC, 8);
	memcpy(hdr + 8, &aof_len, 8);
	pwrite(aof_fd, hdr, AOF_HDR, 0);
	if (fsync_policy == 2 || (fsync_policy == 1 && now_ms() - last_fsync_ms >= 1000)) {
		fsync(aof_fd);
		last_fsync_ms = now_ms();
	}
}

/* ---- commands ---- */

static int eq(const char *a, const char *b)
{
	return !strcasecmp(a, b);
}

/* Arguments point into the request buffer and are not NUL-terminated. */
static int arg_is(const char *a, size_t n, const char *word)
{
	return strlen(word) == n && !strncasecmp(a, word, n);
}

static int parse_ll(const char *s, size_t n, long long *v)
{
	char tmp[32], *end;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	errno = 0;
	*v = strtoll(tmp, &end, 10);
	return *end || errno ? -1 : 0;
}

static void cmd_set(struct buf *o, int argc, char **argv, size_t *lens)
{
	int64_t expires = 0;
	int nx = 0, xx = 0;

	for (int i = 3; i < argc; i++) {
		long long v;

		int ex = arg_is(argv[i], lens[i], "EX"), px = arg_is(argv[i], lens[i], "PX");

		if ((ex || px) && i + 1 < argc && !parse_ll(argv[i + 1], lens[i + 1], &v) &&
		    v > 0) {
			expires = now_ms() + (ex ? v * 1000 : v);
			i++;
		} else if (arg_is(argv[i], lens[i], "NX")) {
			nx = 1;
		} else if (arg_is(argv[i], lens[i], "XX")) {
			xx = 1;
		} else {
			err(o, "ERR syntax error");
			return;
		}
	}
	if ((nx && lookup(argv[1], lens[1])) || (xx && !lookup(argv[1], lens[1]))) {
		nil(o);
		return;
	}
	store(argv[1], lens[1], argv[2], lens[2], expires);
	ok(o);
}

static void cmd_incr(struct buf *o, char **argv, size_t *lens, long long by)
{
	struct entry *e = lookup(argv[1], lens[1]);
	long long v = 0;
	char tmp[32];
	int n;

	if (e && parse_ll(e->val, e->vlen, &v)) {
		err(o, "ERR value is not an integer or out of range");
		return;
	}
	v += by;
	n = snprintf(tmp, sizeof(tmp), "%lld", v);
	store(argv[1], lens[1], tmp, (size_t)n, e ? e->expires_ms : 0);
	integer(o, v);
}

static void cmd_info(struct buf *o)
{
	char tmp[256];
	int n = snprintf(tmp, sizeof(tmp),
			 "# Server\r\nredis_version:7.0.0-ukd-kv\r\n# Keyspace\r\ndb0:keys=%zu\r\n"
			 "# Stats\r\ntotal_commands_processed:%lu\r\naof_enabled:%d\r\n",
			 nkeys, commands_done, aof_fd >= 0);
	bulk(o, tmp, (size_t)n);
}

static const char *const writes[] = {"SET",    "DEL",	  "INCR", "DECR",     "INCRBY", "DECRBY",
				     "EXPIRE", "PEXPIRE", "MSET", "FLUSHALL", 0};

static int is_write(const char *c)
{
	for (int i = 0; writes[i]; i++)
		if (eq(c, writes[i]))
			return 1;
	return 0;
}

static void execute(struct buf *o, int argc, char **argv, size_t *lens, int *quit)
{
	const char *c = argv[0];
	long long v;

	commands_done++;
#define ARITY(n)                                                 \
	do {                                                     \
		if (argc < (n)) {                                \
			err(o, "ERR wrong number of arguments"); \
			return;                                  \
		}                                                \
	} while (0)
	if (eq(c, "PING")) {
		argc > 1 ? bulk(o, argv[1], lens[1]) : buf_put(o, "+PONG\r\n", 7);
	} else if (eq(c, "ECHO")) {
		ARITY(2);
		bulk(o, argv[1], lens[1]);
	} else if (eq(c, "GET")) {
		struct entry *e;

		ARITY(2);
		(e = lookup(argv[1], lens[1])) ? bulk(o, e->val, e->vlen) : nil(o);
	} else if (eq(c, "SET")) {
		ARITY(3);
		cmd_set(o, argc, argv, lens);
	} else if (eq(c, "DEL") || eq(c, "EXISTS")) {
		long long n = 0;

		ARITY(2);
		for (int i = 1; i < argc; i++)
			n += eq(c, "DEL") ? del(argv[i], lens[i]) : !!lookup(argv[i], lens[i]);
		integer(o, n);
	} else if (eq(c, "INCR") || eq(c, "DECR")) {
		ARITY(2);
		cmd_incr(o, argv, lens, eq(c, "INCR") ? 1 : -1);
	} else if (eq(c, "INCRBY") || eq(c, "DECRBY")) {
		ARITY(3);
		if (parse_ll(argv[2], lens[2], &v)) {
			err(o, "ERR value is not an integer or out of range");
			return;
		}
		cmd_incr(o, argv, lens, eq(c, "INCRBY") ? v : -v);
	} else if (eq(c, "EXPIRE") || eq(c, "PEXPIRE")) {
		struct entry *e;

		ARITY(3);
		if (parse_ll(argv[2], lens[2], &v)) {
			err(o, "ERR value is not an integer or out of range");
			return;
		}
		if (!(e = lookup(argv[1], lens[1]))) {
			integer(o, 0);
			return;
		}
		e->expires_ms = now_ms() + (eq(c, "EXPIRE") ? v * 1000 : v);
		integer(o, 1);
	} else if (eq(c, "TTL") || eq(c, "PTTL")) {
		struct entry *e;

		ARITY(2);
		if (!(e = lookup(argv[1], lens[1])))
			integer(o, -2);
		else if (!e->expires_ms)
			integer(o, -1);
		else
			integer(o, eq(c, "TTL") ? (e->expires_ms - now_ms() + 999) / 1000
						: e->expires_ms - now_ms());
	} else if (eq(c, "MGET")) {
		ARITY(2);
		buf_printf(o, "*%d\r\n", argc - 1);
		for (int i = 1; i < argc; i++) {
			struct entry *e = lookup(argv[i], lens[i]);

			e ? bulk(o, e->val, e->vlen) : nil(o);
		}
	} else if (eq(c, "MSET")) {
		if (argc < 3 || argc % 2 == 0) {
			err(o, "ERR wrong number of arguments for 'mset' command");
			return;
		}
		for (int i = 1; i < argc; i += 2)
			store(argv[i], lens[i], argv[i + 1], lens[i + 1], 0);
		ok(o);
	} else if (eq(c, "DBSIZE")) {
		integer(o, (long long)nkeys);
	} else if (eq(c, "FLUSHALL") || eq(c, "FLUSHDB")) {
		flushall();
		ok(o);
	} else if (eq(c, "INFO")) {
		cmd_info(o);
	} else if (eq(c, "CONFIG")) {
		buf_put(o, "*0\r\n",
			4); /* nothing configurable: an empty answer, as for unknown keys */
	} else if (eq(c, "COMMAND")) {
		buf_put(o, "*0\r\n", 4);
	} else if (eq(c, "SELECT")) {
		argc == 2 && lens[1] == 1 && argv[1][0] == '0'
			? ok(o)
			: err(o, "ERR DB index is out of range");
	} else if (eq(c, "QUIT")) {
		ok(o);
		*quit = 1;
	} else {
		char msg[128];

		snprintf(msg, sizeof(msg), "ERR unknown command '%.64s'", c);
		err(o, msg);
		return;
	}
	if (is_write(c))
		aof_append(argc, argv, lens);
}

/* ---- the protocol ---- */

/*
 * Parses one command from in[0..len): RESP arrays of bulk strings, or an
 * inline command. Returns bytes used, 0 if incomplete, -1 on a protocol
 * error (the connection is then closed after an error reply).
 */
static long parse(const char *in, size_t len, int *argc, char **argv, size_t *lens)
{
	const char *p = in, *end = in + len, *nl;
	long long n, blen;

	if (!len)
		return 0;
	if (*p != '*') { /* inline: words on one line */
		if (!(nl = memchr(p, '\n', len)))
			return len > MAX_INLINE ? -1 : 0;
		*argc = 0;
		for (const char *q = p; q < nl && *argc < MAX_ARGS;) {
			while (q < nl && isspace((unsigned char)*q))
				q++;
			const char *w = q;
			while (q < nl && !isspace((unsigned char)*q))
				q++;
			if (q > w)
				argv[*argc] = (char *)w, lens[(*argc)++] = (size_t)(q - w);
		}
		return nl + 1 - in;
	}
	if (!(nl = memchr(p, '\n', len)))
		return len > 64 ? -1 : 0;
	if (parse_ll(p + 1, (size_t)(nl - p - 2), &n) || n < 1 || n > MAX_ARGS)
		return -1;
	p = nl + 1;
	for (int i = 0; i < n; i++) {
		if (p >= end)
			return 0;
		if (*p != '$')
			return -1;
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			return end - p > 64 ? -1 : 0;
		if (parse_ll(p + 1, (size_t)(nl - p - 2), &blen) || blen < 0 || blen > MAX_BULK)
			return -1;
		p = nl + 1;
		if ((size_t)(end - p) < (size_t)blen + 2)
			return 0;
		argv[i] = (char *)p;
		lens[i] = (size_t)blen;
		p += blen + 2;
	}
	*argc = (int)n;
	return p - in;
}

/* Runs every complete command in in; returns -1 to close. */
static int process(struct buf *in, struct buf *out)
{
	static char *argv[MAX_ARGS];
	static size_t lens[MAX_ARGS];
	size_t off = 0;
	int quit = 0;

	while (off < in->len && !quit) {
		int argc = 0;
		long used = parse(in->p + off, in->len - off, &argc, argv, lens);

		if (used == 0)
			break;
		if (used < 0) {
			err(out, "ERR Protocol error");
			return -1;
		}
		if (argc > 0) {
			/* Commands are NUL-terminated for strcasecmp: the byte after each is \r. */
			char cmd[32];
			size_t n = lens[0] < sizeof(cmd) ? lens[0] : sizeof(cmd) - 1;

			memcpy(cmd, argv[0], n);
			cmd[n] = 0;
			argv[0] = cmd;
			execute(out, argc, argv, lens, &quit);
		}
		off += (size_t)used;
	}
	memmove(in->p, in->p + off, in->len - off);
	in->len -= off;
	return quit ? -1 : 0;
}

/* ---- AOF replay ---- */

static void aof_open(const char *path)
{
	char hdr[AOF_HDR];
	struct buf in = {0}, out = {0};

	aof_fd = open(path, O_RDWR | O_CREAT, 0600);
	if (aof_fd < 0) {
		fprintf(stderr, "kv: cannot open AOF %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (pread(aof_fd, hdr, AOF_HDR, 0) == AOF_HDR && !memcmp(hdr, AOF_MAGIC, 8))
		memcpy(&aof_len, hdr + 8, 8);
	if (aof_len) {
		in.p = xrealloc(0, aof_len);
		in.cap = aof_len;
		if (pread(aof_fd, in.p, aof_len, AOF_HDR) != (ssize_t)aof_len) {
			fprintf(stderr, "kv: AOF %s is shorter than its header says\n", path);
			exit(1);
		}
		in.len = aof_len;
		replaying = 1;
		process(&in, &out);
		replaying = 0;
		free(in.p);
		free(out.p);
	}
	printf("kv: AOF %s: replayed %zu keys from %llu bytes\n", path, nkeys,
	       (unsigned long long)aof_len);
}

/* ---- the server ---- */

static void conn_close(struct conn *c, int ep)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, 0);
	close(c->fd);
	free(c->in.p);
	free(c->out.p);
	free(c);
}

static int flush_out(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)n;
	}
	c->out.len = c->out_off = 0;
	return 1;
}

static void on_event(struct conn *c, int ep, uint32_t events)
{
	char tmp[65536];
	int r;

	if (events & EPOLLIN) {
		for (;;) {
			ssize_t n = read(c->fd, tmp, sizeof(tmp));

			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				conn_close(c, ep);
				return;
			}
			if (n < 0)
				break;
			buf_put(&c->in, tmp, (size_t)n);
			if (c->in.len > MAX_BULK + 1024) {
				c->closing = 1;
				break;
			}
		}
		if (process(&c->in, &c->out) < 0)
			c->closing = 1;
	}
	r = flush_out(c);
	if (r < 0 || (r > 0 && c->closing)) {
		conn_close(c, ep);
		return;
	}
	struct epoll_event ev = {EPOLLIN | (r == 0 ? EPOLLOUT : 0), {.ptr = c}};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(int argc, char **argv)
{
	int port = 6379, one = 1, lfd, ep;
	struct epoll_event ev = {EPOLLIN, {.ptr = 0}}, events[64];
	const char *aof = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--aof") && i + 1 < argc)
			aof = argv[++i];
		else if (!strcmp(argv[i], "--appendfsync") && i + 1 < argc) {
			const char *p = argv[++i];

			fsync_policy = !strcmp(p, "always") ? 2 : !strcmp(p, "no") ? 0 : 1;
		} else {
			fprintf(stderr,
				"usage: kv [--port N] [--aof FILE] [--appendfsync always|everysec|no]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	table = calloc(nbuckets, sizeof(*table));
	if (aof)
		aof_open(aof);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 512)) {
		perror("kv: cannot listen");
		return 1;
	}
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("kv: listening on port %d\n", port);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, events, 64, fsync_policy == 1 && aof_fd >= 0 ? 1000 : -1);

		if (fsync_policy == 1 && aof_fd >= 0 && now_ms() - last_fsync_ms >= 1000) {
			fsync(aof_fd);
			last_fsync_ms = now_ms();
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			if (c) {
				on_event(c, ep, events[i].events);
				continue;
			}
			for (int fd; (fd = accept4(lfd, 0, 0, SOCK_NONBLOCK)) >= 0;) {
				struct epoll_event cev = {EPOLLIN, {0}};

				if (fd >= MAX_CONN || !(c = calloc(1, sizeof(*c)))) {
					close(fd);
					continue;
				}
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				c->fd = fd;
				cev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
			}
		}
	}
}
