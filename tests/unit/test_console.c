/*
 * test_console.c: the console log readers of ukd/console.c across a rotation
 * (console.log.1 + console.log, offsets counted on across them) and the
 * index of ukd/logtime.c (base line, lookups, bounded rewrites that never
 * make a lookup late). Exits 0 when all checks pass, else prints each failure.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "console.h"
#include "logtime.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Lines "line NNN\n" (9 bytes each) from first to last. */
static char *lines(int first, int last)
{
	char *s = malloc((size_t)(last - first + 1) * 9 + 1), *p = s;

	for (int i = first; i <= last; i++)
		p += sprintf(p, "line %03d\n", i);
	*p = 0;
	return s;
}

/* The number of the first line of text, or -1. */
static int first_line(const char *text)
{
	int n;

	return sscanf(text, "line %d", &n) == 1 ? n : -1;
}

/* console.log.1 holds lines 0-99 (offsets 0-899), console.log 100-149 (900-1349). */
static void test_rotated(void)
{
	char *old = lines(0, 99), *cur = lines(100, 149), *out, *want;
	long long end, off;
	size_t len;
	int status;

	put("console.log.1", old);
	put("console.log", cur);
	put("console.idx", "base 900\n1000 450\n2000 905\n3000 1350\n");

	CHECK(console_tail(dir, 3, &out, &len, &end) == 0);
	CHECK(!strcmp(out, "line 147\nline 148\nline 149\n"));
	CHECK(end == 1350);
	free(out);
	/* A tail across the rotation. */
	CHECK(console_tail(dir, 60, &out, &len, &end) == 0);
	CHECK(first_line(out) == 90 && len == 60 * 9);
	free(out);
	CHECK(console_tail(dir, -1, &out, &len, &end) == 0);
	want = lines(0, 149);
	CHECK(!strcmp(out, want));
	free(want);
	free(out);

	/* A follower reads on across the boundary. */
	off = 450;
	CHECK(console_read_from(dir, &off, 1000, &out, &len) == 0);
	CHECK(off == 1350 && len == 900 && first_line(out) == 50);
	free(out);
	off = 801;
	CHECK(console_read_from(dir, &off, 200, &out, &len) == 0);
	CHECK(off == 1001 && len == 200 && first_line(out) == 89);
	free(out);
	/* Past the end: a new run's log, from its start. */
	off = 5000;
	CHECK(console_read_from(dir, &off, 18, &out, &len) == 0);
	CHECK(off == 18 && !strcmp(out, "line 000\nline 001\n"));
	free(out);

	/* since: from the offset recorded before T, at a line boundary. */
	CHECK(logtime_base(dir) == 900);
	CHECK(logtime_offset(dir, 500) == 0);
	CHECK(logtime_offset(dir, 1500) == 450);
	CHECK(logtime_offset(dir, 2500) == 905);
	CHECK(console_since(dir, logtime_offset(dir, 2500), -1, &out, &len, &end) == 0);
	CHECK(first_line(out) == 101 && end == 1350);
	free(out);
	CHECK(console_since(dir, logtime_offset(dir, 1500), 2, &out, &len, &end) == 0);
	CHECK(!strcmp(out, "line 148\nline 149\n"));
	free(out);

	/* The exit status line, whichever file it is in. */
	put("console.log", "exit status 7\n");
	CHECK(console_exit_status(dir, &status) == 1 && status == 7);
	put("console.log", "");
	put("console.log.1", "x\nexit status 3\n");
	CHECK(console_exit_status(dir, &status) == 1 && status == 3);
	free(old);
	free(cur);
}

/* Rotated twice since: console.log.1 starts at 1800; older offsets go on from there. */
static void test_gone(void)
{
	char *old = lines(200, 299), *cur = lines(300, 309), *out;
	long long off = 100;
	size_t len;

	put("console.log.1", old);
	put("console.log", cur);
	put("console.idx", "base 2700\n");
	CHECK(console_read_from(dir, &off, 9, &out, &len) == 0);
	CHECK(off == 1809 && !strcmp(out, "line 200\n"));
	free(out);
	CHECK(console_since(dir, 0, -1, &out, &len, NULL) == 0);
	CHECK(first_line(out) == 200 && len == 110 * 9);
	free(out);
	free(old);
	free(cur);
}

/* A missing log is empty; a log without an index starts at offset 0. */
static void test_plain(void)
{
	char path[128], *out;
	long long end;
	size_t len;

	snprintf(path, sizeof(path), "%s/console.log.1", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/console.idx", dir);
	unlink(path);
	put("console.log", "a\r\nb\n");
	CHECK(console_tail(dir, -1, &out, &len, &end) == 0);
	CHECK(!strcmp(out, "a\nb\n") && end == 5);
	free(out);
	snprintf(path, sizeof(path), "%s/console.log", dir);
	unlink(path);
	CHECK(console_tail(dir, -1, &out, &len, &end) == 0);
	CHECK(len == 0 && end == 0);
	free(out);
}

/* 20000 entries (ms i*10, offset i*100) rewritten: bounded, newest kept, never late. */
static void test_rewrite(void)
{
	char path[128], line[64];
	long long base = -1, prev = -1, v;
	struct stat st;
	FILE *f;
	int fd, n = 0, ok = 1;

	snprintf(path, sizeof(path), "%s/console.idx", dir);
	if (!(f = fopen(path, "w")))
		exit(1);
	for (int i = 0; i < 20000; i++)
		fprintf(f, "%d %d\n", i * 10, i * 100);
	fclose(f);
	fd = logtime_rewrite(dir, 1500000, 100000);
	CHECK(fd >= 0);
	CHECK(logtime_append(fd, 200000, 2000000) > 0);
	close(fd);
	CHECK(stat(path, &st) == 0 && st.st_size <= (off_t)LOGTIME_IDX_MAX / 2 + 64);
	CHECK(logtime_base(dir) == 1500000);
	if (!(f = fopen(path, "r")))
		exit(1);
	while (fgets(line, sizeof(line), f)) {
		long long ms, off;

		if (sscanf(line, "base %lld", &v) == 1) {
			base = v;
			continue;
		}
		if (sscanf(line, "%lld %lld", &ms, &off) != 2)
			continue;
		ok &= off >= 100000 && off > prev;
		prev = off;
		n++;
	}
	fclose(f);
	CHECK(ok && base == 1500000 && n > 1000);
	/* The newest entries keep their 10 ms precision. */
	CHECK(logtime_offset(dir, 199995) == 1999900);
	CHECK(logtime_offset(dir, 199985) == 1999800);
	/* Every lookup starts at or before the exact answer (never late). */
	for (int ms = 0; ms < 200000; ms += 37) {
		long long exact = ms <= 0 ? 0 : (long long)((ms - 1) / 10) * 100;

		if (logtime_offset(dir, ms) > exact) {
			fprintf(stderr, "since %d ms: %lld is later than %lld\n", ms,
				logtime_offset(dir, ms), exact);
			failures++;
			break;
		}
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_console.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_rotated();
	test_gone();
	test_plain();
	test_rewrite();
	if (!failures) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		printf("console readers and index: all checks passed\n");
	}
	return failures ? 1 : 0;
}
