/*
 * hostile.c: the guest side of tests/reliability/test_hostile.py. Built by
 * ukd from a build context and packed with runtime-hostile.elf, whose
 * /dev/health takes "raw BYTES" (sent to the host as they are).
 *
 * hostile MODE DELAY_S [PAIRS WINDOW_S [QUIET_S]]: sleeps DELAY_S seconds, prints
 * "hostile: go MODE", then
 *   frames   floods valid READY frames (8 bytes each, 511 per write)
 *   garbage  floods bytes that are no frame header
 *   huge     floods headers that claim 4 GiB payloads
 *   events   floods alternating READY and NOT_READY frames: valid frames
 *            that each used to be an event in ukd's store
 *   spin     spins the CPU without system calls
 *   wedge    makes the guest kernel spin with interrupts off (no heartbeats)
 *   console  writes to its console as fast as the UART takes it: the line
 *            "hostile: go console K" (or "... for good") over and over, so
 *            that the last line of its log names the window it is in
 *   quiet    sleeps
 * and prints, once a second, what it offered and what the host took.
 * Spin, wedge and console print "hostile: go MODE for good" instead, after
 * first alternating PAIRS times (0 if not given): "hostile: quiet K" and a
 * sleep of QUIET_S (WINDOW_S if not given), "hostile: go MODE K" and
 * WINDOW_S spinning (wedged, flooding the console).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD 4092 /* "raw " + PAYLOAD = one 4 KiB write */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes line to the console over and over until end (now()), or forever if end is 0. */
static void console_flood(const char *line, double end)
{
	static char many[4096];
	size_t n = strlen(line), len = 0;

	while (len + n <= sizeof(many)) {
		memcpy(many + len, line, n);
		len += n;
	}
	fflush(stdout);
	while (!end || now() < end)
		if (write(1, many, len) < 0)
			return;
}

int main(int argc, char **argv)
{
	static char buf[4 + PAYLOAD];
	const char *mode = argc > 1 ? argv[1] : "quiet";
	int delay = argc > 2 ? atoi(argv[2]) : 0;
	size_t len = 4 + PAYLOAD, frame = 0;
	uint64_t ok = 0, dropped = 0;
	double t0, last;
	int fd;

	memcpy(buf, "raw ", 4);
	if (!strcmp(mode, "frames")) {
		frame = 8;
		len = 4 + PAYLOAD / 8 * 8;
		for (size_t i = 4; i + 8 <= len; i += 8)
			memcpy(buf + i, "UH\x03\x00\x00\x00\x00\x00", 8);
	} else if (!strcmp(mode, "events")) {
		static const char pair[18] = "UH\x03\x00\x00\x00\x00\x00"
					     "UH\x04\x00\x02\x00\x00\x00\x01x";

		frame = 9; /* two frames per 18 bytes */
		len = 4 + PAYLOAD / 18 * 18;
		for (size_t i = 4; i + 18 <= len; i += 18)
			memcpy(buf + i, pair, 18);
	} else if (!strcmp(mode, "garbage")) {
		uint32_t x = 2463534242u;

		for (size_t i = 4; i < len; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			buf[i] = (char)(x & 0x7f); /* never 'U' 'H' then a valid type by design */
			if (buf[i] == 'U')
				buf[i] = 'u';
		}
	} else if (!strcmp(mode, "huge")) {
		frame = 8;
		len = 4 + PAYLOAD / 8 * 8;
		for (size_t i = 4; i + 8 <= len; i += 8)
			memcpy(buf + i, "UH\x02\x00\xff\xff\xff\xff", 8);
	}
	printf("hostile: %s in %d s\n", mode, delay);
	fflush(stdout);
	sleep((unsigned)delay);
	if (!strcmp(mode, "spin") || !strcmp(mode, "wedge") || !strcmp(mode, "console")) {
		int pairs = argc > 3 ? atoi(argv[3]) : 0, window = argc > 4 ? atoi(argv[4]) : 0;
		int quiet = argc > 5 ? atoi(argv[5]) : window;
		char cmd[32], line[64];

		fd = open("/dev/health", O_WRONLY);
		snprintf(cmd, sizeof(cmd), "wedge %d", window * 1000);
		for (int k = 1; k <= pairs; k++) {
			printf("hostile: quiet %d\n", k);
			fflush(stdout);
			sleep((unsigned)quiet);
			snprintf(line, sizeof(line), "hostile: go %s %d\n", mode, k);
			fputs(line, stdout);
			fflush(stdout);
			if (!strcmp(mode, "console")) {
				console_flood(line, now() + window);
				continue;
			}
			if (!strcmp(mode, "wedge")) {
				write(fd, cmd, strlen(cmd)); /* returns after window s */
				continue;
			}
			for (double end = now() + window; now() < end;)
				for (volatile uint64_t n = 0; n < 1000000; n++)
					;
		}
		snprintf(line, sizeof(line), "hostile: go %s for good\n", mode);
		fputs(line, stdout);
		fflush(stdout);
		if (!strcmp(mode, "console")) {
			console_flood(line, 0);
			return 1;
		}
		if (!strcmp(mode, "wedge")) {
			write(fd, "wedge", 5); /* never returns */
			return 1;
		}
		for (volatile uint64_t n = 0;; n++)
			;
	}
	printf("hostile: go %s\n", mode);
	fflush(stdout);
	if (!strcmp(mode, "quiet"))
		for (;;)
			sleep(60);
	if ((fd = open("/dev/health", O_WRONLY)) < 0) {
		perror("hostile: /dev/health");
		return 1;
	}
	t0 = last = now();
	for (;;) {
		double t;

		if (write(fd, buf, len) == (ssize_t)len)
			ok++;
		else
			dropped++;
		/* 128 KiB fit the host's socket buffer: the rate before any backpressure. */
		if (ok + dropped == 32) {
			printf("hostile: first 32 writes in %.1f ms (%.0f frames/s, %.0f KiB/s)\n",
			       (now() - t0) * 1000,
			       frame ? 32.0 * (double)(len - 4) / (double)frame / (now() - t0)
				     : 0.0,
			       32.0 * (double)(len - 4) / 1024.0 / (now() - t0));
			fflush(stdout);
		}
		if ((t = now()) - last >= 1.0) {
			printf("hostile: %.0f s: %llu writes taken (%.0f frames/s, %.0f KiB/s), "
			       "%llu dropped\n",
			       t - t0, (unsigned long long)ok,
			       frame ? (double)ok * (double)(len - 4) / (double)frame / (t - t0)
				     : 0.0,
			       (double)ok * (double)(len - 4) / 1024.0 / (t - t0),
			       (unsigned long long)dropped);
			fflush(stdout);
			last = t;
		}
	}
}
