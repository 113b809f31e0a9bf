/*
 * ukhealth.c: the health protocol's codec and incremental reader (ukhealth.h).
 * Compiled into the runtime (freestanding: no libc here, not even memcpy)
 * and into ukd, and fuzzed (tests/fuzz/fuzz_health.c). Every byte from the
 * other side of the VM boundary passes through ukhealth_reader_feed and
 * ukhealth_decode, which read nothing beyond the length they were given.
 */
#include "ukhealth.h"

struct rd {
	const uint8_t *p;
	uint32_t len, off;
	int bad;
};

struct wr {
	uint8_t *p;
	size_t cap, n;
	int bad;
};

static uint64_t get(struct rd *r, unsigned n)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += n;
	return v;
}

static int printable(uint8_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static int id_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '.' || c == '_' || c == '-';
}

static int metric_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '_' || c == ':';
}

/* A str8 of at most max bytes, each accepted by ok(), into out (max + 1 bytes). */
static void get_str(struct rd *r, char *out, unsigned max, int (*ok)(uint8_t))
{
	unsigned n = (unsigned)get(r, 1);

	out[0] = 0;
	if (r->bad || n > max || r->len - r->off < n) {
		r->bad = 1;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!ok(r->p[r->off + i])) {
			r->bad = 1;
			return;
		}
		out[i] = (char)r->p[r->off + i];
	}
	out[n] = 0;
	r->off += n;
}

static void put(struct wr *w, uint64_t v, unsigned n)
{
	if (w->bad || w->cap - w->n < n) {
		w->bad = 1;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		w->p[w->n++] = (uint8_t)(v >> (8 * i));
}

static void put_str(struct wr *w, const char *s, unsigned max, int (*ok)(uint8_t))
{
	unsigned n = 0;

	while (n <= max && s[n])
		if (!ok((uint8_t)s[n++]))
			w->bad = 1;
	if (n > max)
		w->bad = 1;
	put(w, n, 1);
	for (unsigned i = 0; i < n && !w->bad; i++)
		put(w, (uint8_t)s[i], 1);
}

static int metric_name_ok(const char *s)
{
	return s[0] && !(s[0] >= '0' && s[0] <= '9');
}

/* --- decoding --- */

static void dec_hello(struct rd *r, struct health_hello *h)
{
	h->flags = (uint16_t)get(r, 2);
	h->runtime_version = (uint32_t)get(r, 4);
	h->first_ns = get(r, 8);
	h->main_ns = get(r, 8);
	h->wall_ns = get(r, 8);
	for (unsigned i = 0; i < HEALTH_DIGEST_SIZE; i++)
		h->digest[i] = (uint8_t)get(r, 1);
	get_str(r, h->instance_id, HEALTH_ID_MAX, id_char);
	if (h->flags)
		r->bad = 1;
}

static void dec_heartbeat(struct rd *r, struct health_heartbeat *h)
{
	h->seq = get(r, 8);
	h->uptime_ns = get(r, 8);
	h->mem_used = get(r, 8);
	h->mem_limit = get(r, 8);
	h->mem_peak = get(r, 8);
	h->cpu_ns = get(r, 8);
	h->threads = (uint32_t)get(r, 4);
	h->fds = (uint32_t)get(r, 4);
	for (int i = 0; i < HEALTH_SOCK_NSTATES; i++)
		h->sockets[i] = (uint32_t)get(r, 4);
	h->pkts_in = get(r, 8);
	h->pkts_out = get(r, 8);
	h->bytes_in = get(r, 8);
	h->bytes_out = get(r, 8);
	h->unknown_syscalls = get(r, 8);
	h->nmetrics = (uint32_t)get(r, 1);
	if (h->nmetrics > HEALTH_METRICS_MAX) {
		r->bad = 1;
		return;
	}
	for (uint32_t i = 0; i < h->nmetrics && !r->bad; i++) {
		get_str(r, h->metrics[i].name, HEALTH_METRIC_NAME_MAX, metric_char);
		h->metrics[i].value = (int64_t)get(r, 8);
		if (!r->bad && !metric_name_ok(h->metrics[i].name))
			r->bad = 1;
	}
}

static void dec_exit(struct rd *r, struct health_exit *e)
{
	e->status = (uint8_t)get(r, 1);
	e->reason = (uint8_t)get(r, 1);
	e->signal = (uint8_t)get(r, 1);
	if (get(r, 1) || e->reason >= HEALTH_EXIT_NREASONS || e->signal > 64 ||
	    (e->reason == HEALTH_EXIT_SIGNAL && !e->signal))
		r->bad = 1;
}

static void dec_panic(struct rd *r, struct health_panic *p)
{
	get_str(r, p->reason, HEALTH_REASON_MAX, printable);
	p->fault_addr = get(r, 8);
	p->nframes = (uint32_t)get(r, 1);
	if (p->nframes > HEALTH_FRAMES_MAX) {
		r->bad = 1;
		return;
	}
	for (uint32_t i = 0; i < p->nframes && !r->bad; i++) {
		struct health_frame *f = &p->frames[i];

		f->addr = get(r, 8);
		f->offset = get(r, 8);
		f->where = (uint8_t)get(r, 1);
		get_str(r, f->symbol, HEALTH_SYMBOL_MAX, printable);
		if (f->where > HEALTH_IN_RUNTIME)
			r->bad = 1;
	}
}

static void dec_u32_range(struct rd *r, uint32_t *v, uint32_t min, uint32_t max, int zero_ok)
{
	*v = (uint32_t)get(r, 4);
	if (!(zero_ok && *v == 0) && (*v < min || *v > max))
		r->bad = 1;
}

int ukhealth_decode(uint16_t type, const uint8_t *p, uint32_t len, struct health_msg *out)
{
	struct rd r = {p, len, 0, 0};

	/* Whole struct defined: strings NUL-padded, unused entries zero. */
	*out = (struct health_msg){0};
	out->type = type;
	switch (type) {
	case HEALTH_HELLO:
		out->u.hello.version = (uint16_t)get(&r, 2);
		if (r.bad)
			return HEALTH_E_PAYLOAD;
		if (out->u.hello.version != HEALTH_VERSION)
			return HEALTH_E_VERSION;
		dec_hello(&r, &out->u.hello);
		break;
	case HEALTH_HEARTBEAT: dec_heartbeat(&r, &out->u.heartbeat); break;
	case HEALTH_READY: break;
	case HEALTH_NOT_READY:
		get_str(&r, out->u.not_ready.reason, HEALTH_REASON_MAX, printable);
		break;
	case HEALTH_LOG_DROPPED:
		out->u.log_dropped.console_bytes = get(&r, 8);
		out->u.log_dropped.health_frames = get(&r, 8);
		break;
	case HEALTH_EXIT: dec_exit(&r, &out->u.exit); break;
	case HEALTH_PANIC: dec_panic(&r, &out->u.panic); break;
	case HEALTH_PING: out->u.ping.flags = (uint32_t)get(&r, 4); break;
	case HEALTH_SHUTDOWN:
		dec_u32_range(&r, &out->u.shutdown.deadline_ms, HEALTH_DEADLINE_MIN_MS,
			      HEALTH_DEADLINE_MAX_MS, 0);
		break;
	case HEALTH_SET_INTERVAL:
		dec_u32_range(&r, &out->u.set_interval.interval_ms, HEALTH_INTERVAL_MIN_MS,
			      HEALTH_INTERVAL_MAX_MS, 1);
		break;
	default: return HEALTH_E_TYPE;
	}
	/* Version 1 payloads have exact sizes: trailing bytes are an error too. */
	return r.bad || r.off != len ? HEALTH_E_PAYLOAD : 0;
}

/* --- encoding --- */

static void enc_hello(struct wr *w, const struct health_hello *h)
{
	put(w, h->version, 2);
	put(w, h->flags, 2);
	put(w, h->runtime_version, 4);
	put(w, h->first_ns, 8);
	put(w, h->main_ns, 8);
	put(w, h->wall_ns, 8);
	for (unsigned i = 0; i < HEALTH_DIGEST_SIZE; i++)
		put(w, h->digest[i], 1);
	put_str(w, h->instance_id, HEALTH_ID_MAX, id_char);
}

static void enc_heartbeat(struct wr *w, const struct health_heartbeat *h)
{
	put(w, h->seq, 8);
	put(w, h->uptime_ns, 8);
	put(w, h->mem_used, 8);
	put(w, h->mem_limit, 8);
	put(w, h->mem_peak, 8);
	put(w, h->cpu_ns, 8);
	put(w, h->threads, 4);
	put(w, h->fds, 4);
	for (int i = 0; i < HEALTH_SOCK_NSTATES; i++)
		put(w, h->sockets[i], 4);
	put(w, h->pkts_in, 8);
	put(w, h->pkts_out, 8);
	put(w, h->bytes_in, 8);
	put(w, h->bytes_out, 8);
	put(w, h->unknown_syscalls, 8);
	if (h->nmetrics > HEALTH_METRICS_MAX)
		w->bad = 1;
	put(w, h->nmetrics, 1);
	for (uint32_t i = 0; i < h->nmetrics && !w->bad; i++) {
		if (!metric_name_ok(h->metrics[i].name))
			w->bad = 1;
		put_str(w, h->metrics[i].name, HEALTH_METRIC_NAME_MAX, metric_char);
		put(w, (uint64_t)h->metrics[i].value, 8);
	}
}

static void enc_panic(struct wr *w, const struct health_panic *p)
{
	put_str(w, p->reason, HEALTH_REASON_MAX, printable);
	put(w, p->fault_addr, 8);
	if (p->nframes > HEALTH_FRAMES_MAX)
		w->bad = 1;
	put(w, p->nframes, 1);
	for (uint32_t i = 0; i < p->nframes && !w->bad; i++) {
		put(w, p->frames[i].addr, 8);
		put(w, p->frames[i].offset, 8);
		put(w, p->frames[i].where, 1);
		put_str(w, p->frames[i].symbol, HEALTH_SYMBOL_MAX, printable);
	}
}

static void enc_payload(struct wr *w, const struct health_msg *m)
{
	switch (m->type) {
	case HEALTH_HELLO: enc_hello(w, &m->u.hello); break;
	case HEALTH_HEARTBEAT: enc_heartbeat(w, &m->u.heartbeat); break;
	case HEALTH_READY: break;
	case HEALTH_NOT_READY:
		put_str(w, m->u.not_ready.reason, HEALTH_REASON_MAX, printable);
		break;
	case HEALTH_LOG_DROPPED:
		put(w, m->u.log_dropped.console_bytes, 8);
		put(w, m->u.log_dropped.health_frames, 8);
		break;
	case HEALTH_EXIT:
		put(w, m->u.exit.status, 1);
		put(w, m->u.exit.reason, 1);
		put(w, m->u.exit.signal, 1);
		put(w, 0, 1);
		break;
	case HEALTH_PANIC: enc_panic(w, &m->u.panic); break;
	case HEALTH_PING: put(w, m->u.ping.flags, 4); break;
	case HEALTH_SHUTDOWN: put(w, m->u.shutdown.deadline_ms, 4); break;
	case HEALTH_SET_INTERVAL: put(w, m->u.set_interval.interval_ms, 4); break;
	default: w->bad = 1;
	}
}

int ukhealth_encode(const struct health_msg *m, uint8_t *buf, size_t cap)
{
	struct wr w = {buf, cap, HEALTH_HDR_SIZE, 0};
	struct health_msg check;
	uint32_t len;

	if (cap < HEALTH_HDR_SIZE)
		return HEALTH_E_SPACE;
	enc_payload(&w, m);
	if (w.bad)
		return w.cap - w.n < 1 ? HEALTH_E_SPACE : HEALTH_E_PAYLOAD;
	len = (uint32_t)(w.n - HEALTH_HDR_SIZE);
	if (len > HEALTH_PAYLOAD_MAX)
		return HEALTH_E_SPACE;
	/* Ranges are the decoder's: what it would refuse is never sent. */
	if (ukhealth_decode(m->type, buf + HEALTH_HDR_SIZE, len, &check))
		return HEALTH_E_PAYLOAD;
	w.n = 0;
	put(&w, HEALTH_MAGIC, 2);
	put(&w, m->type, 2);
	put(&w, len, 4);
	return (int)(HEALTH_HDR_SIZE + len);
}

/* --- the incremental reader --- */

void ukhealth_reader_init(struct ukhealth_reader *r, enum health_dir dir)
{
	uint8_t *p = (uint8_t *)r;

	for (size_t i = 0; i < sizeof(*r); i++)
		p[i] = 0;
	r->dir = (uint8_t)dir;
}

static int type_accepted(const struct ukhealth_reader *r, uint16_t type)
{
	if (r->dir == HEALTH_TO_HOST)
		return type >= HEALTH_HELLO && type <= HEALTH_PANIC;
	return type >= HEALTH_PING && type <= HEALTH_SET_INTERVAL;
}

static enum health_event violation(struct ukhealth_reader *r, enum health_violation v,
				   enum health_violation *kind)
{
	r->violations++;
	r->by_kind[v]++;
	if (kind)
		*kind = v;
	return HEALTH_R_VIOLATION;
}

static uint32_t hdr_u32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The header is complete: check it before a single payload byte is kept. */
static enum health_event header_done(struct ukhealth_reader *r, enum health_violation *kind)
{
	uint16_t type = (uint16_t)(r->buf[2] | r->buf[3] << 8);
	uint32_t len = hdr_u32(r->buf + 4);

	if (len > HEALTH_PAYLOAD_MAX) {
		/* The length cannot be trusted to skip by: resynchronise on the next magic. */
		r->have = 0;
		r->in_garbage = 1;
		return violation(r, HEALTH_V_LENGTH, kind);
	}
	if (!type_accepted(r, type)) {
		r->have = 0;
		r->skip = len;
		return violation(r, HEALTH_V_TYPE, kind);
	}
	return HEALTH_R_MORE;
}

static enum health_event frame_done(struct ukhealth_reader *r, struct health_msg *msg,
				    enum health_violation *kind)
{
	uint16_t type = (uint16_t)(r->buf[2] | r->buf[3] << 8);
	uint32_t len = r->have - HEALTH_HDR_SIZE;
	int ret = ukhealth_decode(type, r->buf + HEALTH_HDR_SIZE, len, msg);

	r->have = 0;
	if (ret == HEALTH_E_VERSION) {
		r->peer_version = msg->u.hello.version;
		return violation(r, HEALTH_V_VERSION, kind);
	}
	if (ret)
		return violation(r, ret == HEALTH_E_TYPE ? HEALTH_V_TYPE : HEALTH_V_PAYLOAD, kind);
	r->frames++;
	return HEALTH_R_MSG;
}

/* One byte where a frame header should start. Returns 1 if it was consumed. */
static int magic_byte(struct ukhealth_reader *r, uint8_t b, int *garbage_started)
{
	static const uint8_t magic[2] = {HEALTH_MAGIC & 0xff, HEALTH_MAGIC >> 8};

	if (b == magic[r->have]) {
		r->buf[r->have++] = b;
		return 1;
	}
	/* Once per run of garbage, and again every frame's worth of it: a peer that
	 * sends nothing but noise keeps adding violations. */
	*garbage_started = !r->in_garbage || ++r->garbage == HEALTH_FRAME_MAX;
	if (*garbage_started)
		r->garbage = 0;
	r->in_garbage = 1;
	if (r->have == 1) { /* "U" then not "H": this byte may begin a header itself */
		r->have = 0;
		return 0;
	}
	return 1;
}

enum health_event ukhealth_reader_feed(struct ukhealth_reader *r, const uint8_t *data, size_t len,
				       size_t *used, struct health_msg *msg,
				       enum health_violation *kind)
{
	size_t i = 0;
	enum health_event ev = HEALTH_R_MORE;

	while (i < len && ev == HEALTH_R_MORE) {
		if (r->skip) {
			size_t n = len - i < r->skip ? len - i : r->skip;

			r->skip -= (uint32_t)n;
			i += n;
			continue;
		}
		if (r->have < 2) {
			int started = 0;

			i += (size_t)magic_byte(r, data[i], &started);
			if (started)
				ev = violation(r, HEALTH_V_MAGIC, kind);
			continue;
		}
		r->in_garbage = 0;
		r->buf[r->have++] = data[i++];
		if (r->have == HEALTH_HDR_SIZE)
			ev = header_done(r, kind);
		if (ev == HEALTH_R_MORE && r->have >= HEALTH_HDR_SIZE &&
		    r->have == HEALTH_HDR_SIZE + hdr_u32(r->buf + 4))
			ev = frame_done(r, msg, kind);
	}
	r->bytes += i;
	*used = i;
	return ev;
}

/* --- names --- */

const char *ukhealth_type_name(uint16_t type)
{
	switch (type) {
	case HEALTH_HELLO: return "hello";
	case HEALTH_HEARTBEAT: return "heartbeat";
	case HEALTH_READY: return "ready";
	case HEALTH_NOT_READY: return "not-ready";
	case HEALTH_LOG_DROPPED: return "log-dropped";
	case HEALTH_EXIT: return "exit";
	case HEALTH_PANIC: return "panic";
	case HEALTH_PING: return "ping";
	case HEALTH_SHUTDOWN: return "shutdown";
	case HEALTH_SET_INTERVAL: return "set-heartbeat-interval";
	default: return "unknown";
	}
}

const char *ukhealth_violation_name(enum health_violation v)
{
	static const char *const names[HEALTH_V_NKINDS] = {"magic", "length", "type", "payload",
							   "version"};

	return (unsigned)v < HEALTH_V_NKINDS ? names[v] : "unknown";
}

const char *ukhealth_exit_reason_name(uint8_t reason)
{
	static const char *const names[HEALTH_EXIT_NREASONS] = {"normal", "signal", "out-of-memory",
								"panic", "shutdown-deadline"};

	return reason < HEALTH_EXIT_NREASONS ? names[reason] : "unknown";
}
