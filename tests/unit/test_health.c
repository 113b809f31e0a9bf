/*
 * test_health.c: the health protocol's reader (api/ukhealth.c) under hostile
 * input, as ukd runs it on every guest's bytes. Checks that messages survive
 * a round trip, that violations are counted by kind and the reader
 * resynchronises, and that its memory stays fixed whatever arrives:
 * random bytes (--random-mib, default 64; the documented long run is 1024),
 * a million tiny frames, a frame claiming 4 GiB.
 *
 *   test_health [--random-mib N] [--seeds DIR]
 * --seeds writes one valid frame per message type into DIR (fuzz corpus).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ukhealth.h"

#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			exit(1);                                                              \
		}                                                                             \
	} while (0)

static struct ukhealth_reader rd;
static struct health_msg msg;

struct tally {
	uint64_t msgs, viol, by_type[256];
};

static void feed(const uint8_t *p, size_t n, struct tally *t)
{
	size_t used;
	enum health_violation kind;

	while (n) {
		enum health_event ev = ukhealth_reader_feed(&rd, p, n, &used, &msg, &kind);

		p += used;
		n -= used;
		if (ev == HEALTH_R_MSG) {
			t->msgs++;
			t->by_type[msg.type & 0xff]++;
		} else if (ev == HEALTH_R_VIOLATION) {
			t->viol++;
		}
	}
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* One of every guest->host and host->guest message, with fields at their limits. */
static int sample(int i, struct health_msg *m)
{
	memset(m, 0, sizeof(*m));
	switch (i) {
	case 0:
		m->type = HEALTH_HELLO;
		m->u.hello.version = HEALTH_VERSION;
		m->u.hello.runtime_version = 0x000100;
		m->u.hello.first_ns = 123456789;
		m->u.hello.main_ns = 987654321;
		memset(m->u.hello.digest, 0xab, sizeof(m->u.hello.digest));
		strcpy(m->u.hello.instance_id, "0123456789abcdef0123456789abcdef");
		return 1;
	case 1:
		m->type = HEALTH_HEARTBEAT;
		m->u.heartbeat.seq = 7;
		m->u.heartbeat.mem_used = 1 << 20;
		m->u.heartbeat.nmetrics = HEALTH_METRICS_MAX;
		for (int j = 0; j < HEALTH_METRICS_MAX; j++) {
			snprintf(m->u.heartbeat.metrics[j].name, HEALTH_METRIC_NAME_MAX + 1,
				 "metric_%d", j);
			m->u.heartbeat.metrics[j].value = -j;
		}
		return 1;
	case 2: m->type = HEALTH_READY; return 1;
	case 3:
		m->type = HEALTH_NOT_READY;
		memset(m->u.not_ready.reason, 'x', HEALTH_REASON_MAX);
		return 1;
	case 4:
		m->type = HEALTH_LOG_DROPPED;
		m->u.log_dropped.health_frames = 3;
		return 1;
	case 5:
		m->type = HEALTH_EXIT;
		m->u.exit.status = 139;
		m->u.exit.reason = HEALTH_EXIT_PANIC;
		m->u.exit.signal = 11;
		return 1;
	case 6:
		m->type = HEALTH_PANIC;
		strcpy(m->u.panic.reason, "page fault (#PF) in the application");
		m->u.panic.nframes = HEALTH_FRAMES_MAX;
		for (int j = 0; j < HEALTH_FRAMES_MAX; j++) {
			m->u.panic.frames[j].addr = 0x400000 + j;
			memset(m->u.panic.frames[j].symbol, 'f', HEALTH_SYMBOL_MAX);
		}
		return 1;
	case 7:
		m->type = HEALTH_PING;
		m->u.ping.flags = HEALTH_PING_HELLO;
		return 1;
	case 8:
		m->type = HEALTH_SHUTDOWN;
		m->u.shutdown.deadline_ms = 5000;
		return 1;
	case 9:
		m->type = HEALTH_SET_INTERVAL;
		m->u.set_interval.interval_ms = 100;
		return 1;
	}
	return 0;
}

static void test_roundtrip(void)
{
	struct health_msg m;
	uint8_t buf[HEALTH_FRAME_MAX];

	for (int i = 0; sample(i, &m); i++) {
		struct tally t = {0};
		int n = ukhealth_encode(&m, buf, sizeof(buf));

		CHECK(n >= (int)HEALTH_HDR_SIZE);
		ukhealth_reader_init(&rd, m.type < 0x80 ? HEALTH_TO_HOST : HEALTH_TO_GUEST);
		feed(buf, (size_t)n, &t);
		CHECK(t.msgs == 1 && t.viol == 0);
		CHECK(!memcmp(&msg, &m, sizeof(m)));
		/* The other direction refuses it as a type violation, then carries on. */
		ukhealth_reader_init(&rd, m.type < 0x80 ? HEALTH_TO_GUEST : HEALTH_TO_HOST);
		feed(buf, (size_t)n, &t);
		CHECK(rd.by_kind[HEALTH_V_TYPE] == 1 && rd.have == 0 && rd.skip == 0);
	}
	/* The encoder refuses what a decoder would (here: a bad metric name). */
	sample(1, &m);
	strcpy(m.u.heartbeat.metrics[0].name, "9bad name");
	CHECK(ukhealth_encode(&m, buf, sizeof(buf)) == HEALTH_E_PAYLOAD);
}

static size_t ready_frame(uint8_t *p)
{
	struct health_msg m = {.type = HEALTH_READY};

	return (size_t)ukhealth_encode(&m, p, HEALTH_HDR_SIZE);
}

static void test_hostile(void)
{
	uint8_t buf[64], hello[HEALTH_FRAME_MAX];
	struct health_msg m;
	struct tally t = {0};
	size_t n;

	/* A header claiming 4 GiB: one length violation, nothing buffered, the next frame is found.
	 */
	ukhealth_reader_init(&rd, HEALTH_TO_HOST);
	memcpy(buf, "UH\x02\x00\xff\xff\xff\xff", 8);
	n = 8 + ready_frame(buf + 8);
	feed(buf, n, &t);
	CHECK(rd.by_kind[HEALTH_V_LENGTH] == 1 && t.msgs == 1 && t.viol == 1);

	/* Unknown type with a sane length: skipped by its length. */
	memset(&t, 0, sizeof(t));
	ukhealth_reader_init(&rd, HEALTH_TO_HOST);
	memcpy(buf, "UH\x42\x00\x04\x00\x00\x00UHUH", 12);
	n = 12 + ready_frame(buf + 12);
	feed(buf, n, &t);
	CHECK(rd.by_kind[HEALTH_V_TYPE] == 1 && t.msgs == 1 && t.viol == 1);

	/* A hello from a protocol version this side does not speak. */
	memset(&t, 0, sizeof(t));
	sample(0, &m);
	n = (size_t)ukhealth_encode(&m, hello, sizeof(hello));
	hello[8] = 2;
	ukhealth_reader_init(&rd, HEALTH_TO_HOST);
	feed(hello, n, &t);
	CHECK(rd.by_kind[HEALTH_V_VERSION] == 1 && rd.peer_version == 2 && t.msgs == 0);

	/* Truncated frame (a hello cut short), then garbage, then a good frame. */
	memset(&t, 0, sizeof(t));
	ukhealth_reader_init(&rd, HEALTH_TO_HOST);
	hello[8] = 1;
	feed(hello, n / 2, &t);
	CHECK(t.msgs == 0 && t.viol == 0 && rd.have == n / 2);
	/* The rest of the stream completes the claimed length: the payload then fails to decode. */
	memset(hello, 0xee, n);
	feed(hello, n, &t);
	n = ready_frame(buf);
	feed(buf, n, &t);
	CHECK(t.msgs == 1 && rd.by_kind[HEALTH_V_PAYLOAD] == 1);

	/* A payload whose string holds a control character. */
	memset(&t, 0, sizeof(t));
	ukhealth_reader_init(&rd, HEALTH_TO_HOST);
	memcpy(buf, "UH\x04\x00\x03\x00\x00\x00\x02o\n", 11);
	feed(buf, 11, &t);
	CHECK(rd.by_kind[HEALTH_V_PAYLOAD] == 1 && t.msgs == 0);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_floods(long random_mib)
{
	static uint8_t chunk[1 << 16];
	struct tally t = {0};
	long rss0 = maxrss_kib();
	size_t n;

	/* Random bytes: every byte consumed, violations counted, memory fixed. */
	ukhealth_reader_init(&rd, HEALTH_TO_HOST);
	for (long i = 0; i < random_mib * 16; i++) {
		for (size_t j = 0; j < sizeof(chunk); j += 8) {
			uint64_t r = next_rand();

			memcpy(chunk + j, &r, 8);
		}
		feed(chunk, sizeof(chunk), &t);
	}
	CHECK(rd.bytes == (uint64_t)random_mib << 20);
	CHECK((t.viol > 0 || !random_mib) && t.viol == rd.violations);
	printf("random: %ld MiB, %llu violations (magic %llu, length %llu, type %llu, payload "
	       "%llu), %llu messages\n",
	       random_mib, (unsigned long long)t.viol, (unsigned long long)rd.by_kind[0],
	       (unsigned long long)rd.by_kind[1], (unsigned long long)rd.by_kind[2],
	       (unsigned long long)rd.by_kind[3], (unsigned long long)t.msgs);

	/* 10^6 tiny valid frames. */
	memset(&t, 0, sizeof(t));
	ukhealth_reader_init(&rd, HEALTH_TO_HOST);
	n = ready_frame(chunk);
	for (size_t j = n; j + n <= sizeof(chunk); j += n)
		memcpy(chunk + j, chunk, n);
	for (long sent = 0; sent < 1000000;) {
		long k = (long)(sizeof(chunk) / n);

		if (k > 1000000 - sent)
			k = 1000000 - sent;
		feed(chunk, (size_t)k * n, &t);
		sent += k;
	}
	CHECK(t.msgs == 1000000 && t.viol == 0);
	printf("flood: 10^6 frames, %llu messages, reader %zu bytes, maxrss growth %ld KiB\n",
	       (unsigned long long)t.msgs, sizeof(rd), maxrss_kib() - rss0);
	CHECK(maxrss_kib() - rss0 < 1024);
}

static void write_seeds(const char *dir)
{
	struct health_msg m;
	uint8_t buf[HEALTH_FRAME_MAX];
	char path[4096];

	for (int i = 0; sample(i, &m); i++) {
		int n = ukhealth_encode(&m, buf, sizeof(buf));
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, ukhealth_type_name(m.type));
		CHECK(n > 0 && (f = fopen(path, "wb")));
		CHECK(fwrite(buf, 1, (size_t)n, f) == (size_t)n && fclose(f) == 0);
	}
}

int main(int argc, char **argv)
{
	long random_mib = 64;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--random-mib"))
			random_mib = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--seeds"))
			write_seeds(argv[i + 1]);
	}
	test_roundtrip();
	test_hostile();
	test_floods(random_mib);
	printf("ok\n");
	return 0;
}
