/*
 * table.h: how ukctl shows things to people. Pure functions: the same input
 * (the API's JSON, the current time, the flags) always gives the same text,
 * which the golden-file tests in tests/ukctl/golden/ pin down.
 *
 * Every table_*() that returns char * returns a malloc'd, NUL-terminated
 * string (the caller frees it), or NULL when out of memory.
 */
#ifndef TABLE_H
#define TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Flags for the renderers. */
#define TABLE_COLOR 0x1 /* ANSI colours for states (only ever set on a terminal) */

/* Columns are cut to this many characters, ending in "...", unless set otherwise. */
#define TABLE_NAME_WIDTH 24

enum table_color {
	TABLE_PLAIN,
	TABLE_GREEN,
	TABLE_YELLOW,
	TABLE_RED,
	TABLE_GREY,
};

struct table;

/* A table with ncols columns and these headers; NULL when out of memory. */
struct table *table_new(size_t ncols, const char *const *headers);
void table_free(struct table *t);

/* Cuts column col to at most width characters (0: never). */
void table_max(struct table *t, size_t col, size_t width);

/* Appends a cell to the current row; a new row begins after the last column. */
int table_cell(struct table *t, const char *text, enum table_color color);

/* Left-aligned columns, three spaces apart, no trailing blanks; header first. */
char *table_render(const struct table *t, int flags);

/* "2024-05-01T10:00:00.123Z" (RFC 3339, UTC, as ukd writes it) into ms since the epoch. */
int table_parse_time(const char *s, int64_t *ms);

/* "just now", "1 second ago", "5 minutes ago", "3 days ago", ... */
void table_ago(int64_t now_ms, int64_t then_ms, char *buf, size_t len);

/* "less than a second", "1 minute", "2 hours", ... (rounded down). */
void table_duration(int64_t ms, char *buf, size_t len);

/* "512 B", "12.3 KiB", "4.0 MiB", "1.2 GiB". */
void table_size(int64_t bytes, char *buf, size_t len);

/* The colour a state is shown in. */
enum table_color table_state_color(const char *state);

/* `ukctl images`: NAME TAG ID SIZE MEMORY CREATED. */
char *table_images(json_t *images, int64_t now_ms, int flags);

/*
 * `ukctl list`: ID NAME IMAGE STATE STATUS MEMORY CREATED. images (may be
 * NULL) turns image ids into NAME:TAG.
 */
char *table_instances(json_t *instances, json_t *images, int64_t now_ms, int flags);

/*
 * `ukctl stats`: ID NAME CPU % MEM USAGE / LIMIT MEM % NET RX / TX
 * PKTS RX / TX HOST RSS, one row per stats object of the API; a value the
 * object lacks (an instance that stopped) shows as "-".
 */
char *table_stats(json_t *stats, int flags);

/*
 * An object as aligned "key: value" lines (inspect, info): nested objects
 * flattened to "a.b", times with how long ago, sizes in KiB/MiB too.
 */
char *table_kv(json_t *obj, int64_t now_ms, int flags);

/*
 * One event of GET /v1/events as a line for people:
 * "2024-05-01 10:00:00.123  web                   exited           status 1"
 * (time in UTC, the subject's name, the type without "instance.", the detail).
 */
char *table_event_line(json_t *ev);

/* table_event_line for each event of an array. */
char *table_events(json_t *events);

#endif
