/*
 * fuzz_health.c: libFuzzer target for the health protocol's reader and codec
 * (api/ukhealth.c), which both ukd and the runtime run on bytes from the
 * other side of the VM boundary.
 *
 * The input is fed in chunks whose sizes come from its first byte, to both
 * directions' readers; every message a reader accepts must re-encode to
 * exactly the bytes it came from (so decoder and encoder agree on every
 * range), and every reader must have consumed every byte.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I api \
 *	tests/fuzz/fuzz_health.c api/ukhealth.c -o fuzz_health
 *   ./fuzz_health -max_total_time=3600 CORPUS_DIR SEED_DIR   (the long run)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ukhealth.h"

static struct ukhealth_reader reader;
static struct health_msg msg;
static uint8_t frame[HEALTH_FRAME_MAX];
static uint8_t again[HEALTH_FRAME_MAX];

static void check_roundtrip(const struct ukhealth_reader *r)
{
	uint32_t len = (uint32_t)r->buf[4] | (uint32_t)r->buf[5] << 8 | (uint32_t)r->buf[6] << 16 |
		       (uint32_t)r->buf[7] << 24;
	int n = ukhealth_encode(&msg, again, sizeof(again));

	/* The reader has already reset r->have, but the frame is still in r->buf. */
	if (n != (int)(HEALTH_HDR_SIZE + len) || memcmp(again, r->buf, (size_t)n))
		abort();
}

static void run(enum health_dir dir, const uint8_t *data, size_t size, unsigned chunk)
{
	size_t off = 0, used;
	uint64_t msgs = 0, viol = 0;
	enum health_violation kind;

	ukhealth_reader_init(&reader, dir);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t done = 0;

		while (done < n) {
			enum health_event ev = ukhealth_reader_feed(&reader, data + off + done,
								    n - done, &used, &msg, &kind);

			if (used > n - done)
				abort();
			done += used;
			if (ev == HEALTH_R_MSG) {
				msgs++;
				check_roundtrip(&reader);
			} else if (ev == HEALTH_R_VIOLATION) {
				viol++;
				if ((unsigned)kind >= HEALTH_V_NKINDS)
					abort();
			} else if (done != n) {
				abort(); /* MORE means everything was consumed */
			}
		}
		off += n;
	}
	if (reader.bytes != size || reader.frames != msgs || reader.violations != viol ||
	    reader.have > HEALTH_FRAME_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned chunk = size ? data[0] % 64 + 1 : 1;

	run(HEALTH_TO_HOST, data, size, chunk);
	run(HEALTH_TO_GUEST, data, size, size ? (unsigned)size : 1);
	/* A whole payload for each type, straight into the decoder. */
	if (size > 2 && size - 2 <= HEALTH_PAYLOAD_MAX) {
		uint16_t type = (uint16_t)(data[0] | data[1] << 8);

		if (ukhealth_decode(type, data + 2, (uint32_t)(size - 2), &msg) == 0) {
			int n = ukhealth_encode(&msg, frame, sizeof(frame));

			if (n != (int)(size - 2 + HEALTH_HDR_SIZE) ||
			    memcmp(frame + HEALTH_HDR_SIZE, data + 2, size - 2))
				abort();
		}
	}
	return 0;
}
