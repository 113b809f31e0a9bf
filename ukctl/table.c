/*
 * table.c: tables, times and sizes for people (see table.h).
 *
 * Widths count characters (UTF-8 code points), not bytes, so a name with
 * accents still lines up; colour escapes are added after padding so they
 * never count towards a width.
 */
#define _GNU_SOURCE
#include "table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define TABLE_GAP 3
#define TABLE_CUT "..."

struct table_cell {
	char *text;
	enum table_color color;
};

struct table {
	size_t ncols, ncells, cap;
	const char *const *headers;
	size_t *max;
	struct table_cell *cells;
};

/* The string, or NULL (and nothing leaked) if anything ran out of memory. */
static char *table_buf_take(struct util_buf *b)
{
	if (!b->s)
		util_buf_puts(b, "");
	if (b->oom) {
		util_buf_free(b);
		return NULL;
	}
	return b->s;
}

static size_t table_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Bytes of s that hold its first n characters. */
static size_t table_bytes(const char *s, size_t n)
{
	size_t i = 0;

	for (; s[i]; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && n-- == 0)
			break;
	return i;
}

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->headers = headers;
	if (!(t->max = calloc(ncols, sizeof(*t->max)))) {
		free(t);
		return NULL;
	}
	return t;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i].text);
	free(t->cells);
	free(t->max);
	free(t);
}

void table_max(struct table *t, size_t col, size_t width)
{
	if (col < t->ncols)
		t->max[col] = width;
}

int table_cell(struct table *t, const char *text, enum table_color color)
{
	size_t col = t->ncells % t->ncols, max = t->max[col];
	struct table_cell *c;
	char *s;

	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		if (!(c = realloc(t->cells, cap * sizeof(*c))))
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	text = text ? text : "";
	if (max > strlen(TABLE_CUT) && table_width(text) > max) {
		size_t keep = table_bytes(text, max - strlen(TABLE_CUT));

		s = malloc(keep + sizeof(TABLE_CUT));
		if (s)
			snprintf(s, keep + sizeof(TABLE_CUT), "%.*s%s", (int)keep, text, TABLE_CUT);
	} else {
		s = strdup(text);
	}
	if (!s)
		return -ENOMEM;
	/* Control characters would break the layout (and could drive the terminal). */
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->cells[t->ncells].text = s;
	t->cells[t->ncells].color = color;
	t->ncells++;
	return 0;
}

static const char *table_ansi(enum table_color c)
{
	switch (c) {
	case TABLE_GREEN: return "\033[32m";
	case TABLE_YELLOW: return "\033[33m";
	case TABLE_RED: return "\033[31m";
	case TABLE_GREY: return "\033[90m";
	default: return "";
	}
}

static void table_row_out(const struct table *t, struct util_buf *b, const size_t *w,
			  const struct table_cell *row, int flags)
{
	size_t last = t->ncols - 1;

	/* No padding after the last non-empty cell: no trailing blanks. */
	while (last > 0 && !(row ? row[last].text[0] : t->headers[last][0]))
		last--;
	for (size_t i = 0; i <= last; i++) {
		const char *text = row ? row[i].text : t->headers[i];
		enum table_color color = row ? row[i].color : TABLE_PLAIN;
		int pad = i < last ? (int)(w[i] - table_width(text) + TABLE_GAP) : 0;

		if ((flags & TABLE_COLOR) && color != TABLE_PLAIN)
			util_buf_printf(b, "%s%s\033[0m%*s", table_ansi(color), text, pad, "");
		else
			util_buf_printf(b, "%s%*s", text, pad, "");
	}
	util_buf_printf(b, "\n");
}

char *table_render(const struct table *t, int flags)
{
	struct util_buf b = {0};
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (!w)
		return NULL;
	for (size_t i = 0; i < t->ncols; i++)
		w[i] = table_width(t->headers[i]);
	for (size_t i = 0; i < t->ncells; i++) {
		size_t n = table_width(t->cells[i].text);

		if (n > w[i % t->ncols])
			w[i % t->ncols] = n;
	}
	table_row_out(t, &b, w, NULL, flags);
	for (size_t r = 0; r + t->ncols <= t->ncells; r += t->ncols)
		table_row_out(t, &b, w, t->cells + r, flags);
	free(w);
	return table_buf_take(&b);
}

int table_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	const char *p;
	int frac = 0, digits = 0;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -EINVAL;
	if (*p == '.') {
		/* Milliseconds: the first three digits count, the rest are dropped. */
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (!digits)
			return -EINVAL;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (strcmp(p, "Z"))
		return -EINVAL;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

/* The largest unit that fits: "N unit(s)"; returns 0 if under a second. */
static int table_units(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *name;
		int64_t secs;
	} units[] = {
		{"year", 365 * 86400}, {"month", 30 * 86400}, {"week", 7 * 86400}, {"day", 86400},
		{"hour", 3600},	       {"minute", 60},	      {"second", 1},
	};
	int64_t s = ms / 1000;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		int64_t n = s / units[i].secs;

		if (n >= 1) {
			snprintf(buf, len, "%lld %s%s", (long long)n, units[i].name,
				 n == 1 ? "" : "s");
			return 1;
		}
	}
	return 0;
}

void table_ago(int64_t now_ms, int64_t then_ms, char *buf, size_t len)
{
	char d[48];

	/* A clock a little behind the daemon's is not "in the future". */
	if (!table_units(now_ms - then_ms, d, sizeof(d)))
		snprintf(buf, len, "just now");
	else
		snprintf(buf, len, "%s ago", d);
}

void table_duration(int64_t ms, char *buf, size_t len)
{
	if (!table_units(ms, buf, len))
		snprintf(buf, len, "less than a second");
}

void table_size(int64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%lld B", (long long)bytes);
		return;
	}
	for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); v /= 1024)
		u++;
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

enum table_color table_state_color(const char *state)
{
	if (!state)
		return TABLE_PLAIN;
	if (!strcmp(state, "running"))
		return TABLE_GREEN;
	if (!strcmp(state, "starting") || !strcmp(state, "stopping"))
		return TABLE_YELLOW;
	if (!strcmp(state, "exited"))
		return TABLE_GREY;
	if (!strcmp(state, "crash-loop"))
		return TABLE_RED;
	return TABLE_PLAIN;
}

static const char *table_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "sha256:0123456789abcdef..." -> "0123456789ab". */
static void table_short_id(const char *id, char *buf, size_t len)
{
	if (!id)
		id = "";
	if (!strncmp(id, "sha256:", 7))
		id += 7;
	snprintf(buf, len, "%.12s", id);
}

static void table_ago_of(json_t *o, const char *key, int64_t now, char *buf, size_t len)
{
	int64_t t;

	if (table_parse_time(table_str(o, key), &t) < 0)
		snprintf(buf, len, "-");
	else
		table_ago(now, t, buf, len);
}

static void table_mem(json_t *o, char *buf, size_t len)
{
	json_t *m = json_object_get(o, "memory_mib");

	if (json_is_integer(m))
		snprintf(buf, len, "%lld MiB", (long long)json_integer_value(m));
	else
		snprintf(buf, len, "-");
}

char *table_images(json_t *images, int64_t now_ms, int flags)
{
	static const char *const hdr[] = {"NAME", "TAG", "ID", "SIZE", "MEMORY", "CREATED"};
	struct table *t = table_new(6, hdr);
	char id[16], size[32], mem[32], created[64], *out = NULL;
	size_t i;
	json_t *img;
	int ret = 0;

	if (!t)
		return NULL;
	table_max(t, 0, TABLE_NAME_WIDTH);
	table_max(t, 1, 16);
	json_array_foreach(images, i, img)
	{
		table_short_id(table_str(img, "id"), id, sizeof(id));
		table_size(json_integer_value(json_object_get(img, "size")), size, sizeof(size));
		table_mem(img, mem, sizeof(mem));
		table_ago_of(img, "created", now_ms, created, sizeof(created));
		ret |= table_cell(t, table_str(img, "name") ? table_str(img, "name") : "<none>",
				  TABLE_PLAIN);
		ret |= table_cell(t, table_str(img, "tag") ? table_str(img, "tag") : "<none>",
				  TABLE_PLAIN);
		ret |= table_cell(t, id, TABLE_PLAIN);
		ret |= table_cell(t, size, TABLE_PLAIN);
		ret |= table_cell(t, mem, TABLE_PLAIN);
		ret |= table_cell(t, created, TABLE_PLAIN);
	}
	if (!ret)
		out = table_render(t, flags);
	table_free(t);
	return out;
}

/* NAME:TAG of the image with this id, else its short id. */
static void table_image_ref(json_t *images, const char *id, char *buf, size_t len)
{
	size_t i;
	json_t *img;

	json_array_foreach(images, i, img)
	{
		const char *name = table_str(img, "name"), *tag = table_str(img, "tag");

		if (id && name && !strcmp(id, table_str(img, "id") ? table_str(img, "id") : "")) {
			snprintf(buf, len, "%s:%s", name, tag ? tag : "latest");
			return;
		}
	}
	table_short_id(id, buf, len);
}

/* ", 3 restarts" (restarts by the policy), ", restarting" (one is due), or "". */
static void table_restarts(json_t *inst, char *buf, size_t len)
{
	json_int_t n = json_integer_value(json_object_get(inst, "restart_count"));
	int due = json_is_string(json_object_get(inst, "restart_at"));

	snprintf(buf, len, "%s%.0lld%s%s", n > 0 ? ", " : "", (long long)n,
		 n == 1	 ? " restart"
		 : n > 1 ? " restarts"
			 : "",
		 due ? ", restarting" : "");
}

/*
 * "Up 5 minutes", "Exited (3) 2 seconds ago", "Stopped 1 hour ago", "Created",
 * "Crash-loop (1) 5 seconds ago, 3 restarts".
 */
static void table_status(json_t *inst, int64_t now, char *buf, size_t len)
{
	const char *state = table_str(inst, "state"), *reason = table_str(inst, "exit_reason");
	json_t *st = json_object_get(inst, "exit_status");
	char ago[64], code[32] = "", word[32], restarts[64];
	int64_t t;

	state = state ? state : "";
	table_restarts(inst, restarts, sizeof(restarts));
	if (!strcmp(state, "running") && table_parse_time(table_str(inst, "started"), &t) == 0) {
		table_duration(now - t, ago, sizeof(ago));
		snprintf(buf, len, "Up %s%s", ago, restarts);
		return;
	}
	if (strcmp(state, "exited") && strcmp(state, "crash-loop")) {
		snprintf(buf, len, "%c%s", state[0] ? state[0] - 'a' + 'A' : '-',
			 state[0] ? state + 1 : "");
		return;
	}
	snprintf(word, sizeof(word), "%s",
		 !strcmp(state, "crash-loop") ? state
		 : reason		      ? reason
					      : "exited");
	if (word[0] >= 'a' && word[0] <= 'z')
		word[0] = (char)(word[0] - 'a' + 'A');
	if (json_is_integer(st))
		snprintf(code, sizeof(code), " (%lld)", (long long)json_integer_value(st));
	table_ago_of(inst, "finished", now, ago, sizeof(ago));
	snprintf(buf, len, "%s%s %s%s", word, code, ago, restarts);
}

char *table_instances(json_t *instances, json_t *images, int64_t now_ms, int flags)
{
	static const char *const hdr[] = {"ID",	    "NAME",   "IMAGE",	"STATE",
					  "STATUS", "MEMORY", "CREATED"};
	struct table *t = table_new(7, hdr);
	char id[16], image[300], status[192], mem[32], created[64], *out = NULL;
	size_t i;
	json_t *in;
	int ret = 0;

	if (!t)
		return NULL;
	table_max(t, 1, TABLE_NAME_WIDTH);
	table_max(t, 2, TABLE_NAME_WIDTH);
	json_array_foreach(instances, i, in)
	{
		const char *state = table_str(in, "state");

		table_short_id(table_str(in, "id"), id, sizeof(id));
		table_image_ref(images, table_str(in, "image"), image, sizeof(image));
		table_status(in, now_ms, status, sizeof(status));
		table_mem(in, mem, sizeof(mem));
		table_ago_of(in, "created", now_ms, created, sizeof(created));
		ret |= table_cell(t, id, TABLE_PLAIN);
		ret |= table_cell(t, table_str(in, "name"), TABLE_PLAIN);
		ret |= table_cell(t, image, TABLE_PLAIN);
		ret |= table_cell(t, state, table_state_color(state));
		ret |= table_cell(t, status, TABLE_PLAIN);
		ret |= table_cell(t, mem, TABLE_PLAIN);
		ret |= table_cell(t, created, TABLE_PLAIN);
	}
	if (!ret)
		out = table_render(t, flags);
	table_free(t);
	return out;
}

/* "A / B" of two byte counts, or "-" when a is missing. */
static void table_pair_size(json_t *a, json_t *b, char *buf, size_t len)
{
	char x[32], y[32];

	if (!json_is_integer(a)) {
		snprintf(buf, len, "-");
		return;
	}
	table_size(json_integer_value(a), x, sizeof(x));
	if (json_is_integer(b)) {
		table_size(json_integer_value(b), y, sizeof(y));
		snprintf(buf, len, "%s / %s", x, y);
	} else {
		snprintf(buf, len, "%s", x);
	}
}

/* One row of `ukctl stats` from a stats object (or {"id", "name", "error"}). */
static int table_stats_row(struct table *t, json_t *s)
{
	json_t *cpu = json_object_get(s, "cpu"), *mem = json_object_get(s, "memory");
	json_t *net = json_object_get(s, "network"), *pct = json_object_get(cpu, "percent");
	json_t *used = json_object_get(mem, "guest_used_bytes");
	json_t *max = json_object_get(mem, "max_bytes"), *rss = json_object_get(mem, "rss_bytes");
	char id[16], cpus[32], usage[80], memp[32], netio[80], pkts[64], hrss[32];
	int ret = 0;

	table_short_id(table_str(s, "id"), id, sizeof(id));
	snprintf(cpus, sizeof(cpus), json_is_number(pct) ? "%.2f%%" : "-", json_number_value(pct));
	/* Usage is what the guest's health agent reports; without one it is unknown. */
	if (!json_is_integer(used) && json_is_integer(max)) {
		table_size(json_integer_value(max), hrss, sizeof(hrss));
		snprintf(usage, sizeof(usage), "- / %s", hrss);
	} else {
		table_pair_size(used, max, usage, sizeof(usage));
	}
	if (json_is_integer(used) && json_integer_value(max) > 0)
		snprintf(memp, sizeof(memp), "%.2f%%",
			 (double)json_integer_value(used) * 100.0 /
				 (double)json_integer_value(max));
	else
		snprintf(memp, sizeof(memp), "-");
	table_pair_size(json_object_get(net, "rx_bytes"), json_object_get(net, "tx_bytes"), netio,
			sizeof(netio));
	if (json_is_integer(json_object_get(net, "rx_packets")))
		snprintf(pkts, sizeof(pkts), "%lld / %lld",
			 (long long)json_integer_value(json_object_get(net, "rx_packets")),
			 (long long)json_integer_value(json_object_get(net, "tx_packets")));
	else
		snprintf(pkts, sizeof(pkts), "-");
	if (json_is_integer(rss))
		table_size(json_integer_value(rss), hrss, sizeof(hrss));
	else
		snprintf(hrss, sizeof(hrss), "-");
	ret |= table_cell(t, id, TABLE_PLAIN);
	ret |= table_cell(t, table_str(s, "name"), TABLE_PLAIN);
	ret |= table_cell(t, cpus, TABLE_PLAIN);
	ret |= table_cell(t, usage, TABLE_PLAIN);
	ret |= table_cell(t, memp, TABLE_PLAIN);
	ret |= table_cell(t, netio, TABLE_PLAIN);
	ret |= table_cell(t, pkts, TABLE_PLAIN);
	ret |= table_cell(t, hrss, TABLE_PLAIN);
	return ret;
}

char *table_stats(json_t *stats, int flags)
{
	static const char *const hdr[] = {
		"ID",	 "NAME",	"CPU %",	"MEM USAGE / LIMIT",
		"MEM %", "NET RX / TX", "PKTS RX / TX", "HOST RSS"};
	struct table *t = table_new(8, hdr);
	char *out = NULL;
	size_t i;
	json_t *s;
	int ret = 0;

	if (!t)
		return NULL;
	table_max(t, 1, TABLE_NAME_WIDTH);
	json_array_foreach(stats, i, s) ret |= table_stats_row(t, s);
	if (!ret)
		out = table_render(t, flags);
	table_free(t);
	return out;
}

/* Appends w as a shell word: quoted ('...') unless it is plainly safe. */
static void table_word(struct util_buf *b, const char *w)
{
	if (b->len)
		util_buf_puts(b, " ");
	if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			    "_./:=@%+,-") == strlen(w)) {
		util_buf_puts(b, w);
		return;
	}
	util_buf_puts(b, "'");
	for (; *w; w++)
		util_buf_puts(b, *w == '\'' ? "'\\''" : (char[2]){*w, 0});
	util_buf_puts(b, "'");
}

/* args as the words a shell would take back, env as KEY=VALUE words. */
static char *table_words(json_t *v)
{
	struct util_buf b = {0};
	const char *key;
	json_t *e;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			table_word(&b, json_string_value(e) ? json_string_value(e) : "");
	} else {
		json_object_foreach(v, key, e)
		{
			char *kv = NULL;

			if (asprintf(&kv, "%s=%s", key,
				     json_string_value(e) ? json_string_value(e) : "") < 0) {
				b.oom = 1;
				break;
			}
			table_word(&b, kv);
			free(kv);
		}
	}
	return table_buf_take(&b);
}

/* One value for table_kv: strings as they are, times and sizes explained. */
static char *table_kv_value(const char *key, json_t *v, int64_t now)
{
	const char *s = json_string_value(v);
	char extra[64], *out = NULL;
	int64_t t;

	if (json_is_null(v))
		return strdup("-");
	if (s && table_parse_time(s, &t) == 0) {
		table_ago(now, t, extra, sizeof(extra));
		return asprintf(&out, "%s (%s)", s, extra) < 0 ? NULL : out;
	}
	if (s)
		return strdup(s);
	if (json_is_integer(v) && !strcmp(key, "size")) {
		table_size(json_integer_value(v), extra, sizeof(extra));
		return asprintf(&out, "%lld (%s)", (long long)json_integer_value(v), extra) < 0
			       ? NULL
			       : out;
	}
	if ((json_is_array(v) && !json_array_size(v)) ||
	    (json_is_object(v) && !json_object_size(v)))
		return strdup("-");
	if ((json_is_array(v) && !strcmp(key, "args")) ||
	    (json_is_object(v) && !strcmp(key, "env")))
		return table_words(v);
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Flattens obj into key/value cells, nested objects as "prefix.key" (env stays whole). */
static int table_kv_add(struct table *t, json_t *obj, const char *prefix, int64_t now)
{
	const char *key;
	json_t *v;
	char name[256];
	int ret = 0;

	json_object_foreach(obj, key, v)
	{
		char *val;

		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);
		if (json_is_object(v) && json_object_size(v) && strcmp(key, "env")) {
			ret |= table_kv_add(t, v, name, now);
			continue;
		}
		if (!(val = table_kv_value(key, v, now)))
			return -ENOMEM;
		strncat(name, ":", sizeof(name) - strlen(name) - 1);
		ret |= table_cell(t, name, TABLE_PLAIN);
		ret |= table_cell(t, val,
				  !strcmp(key, "state") ? table_state_color(json_string_value(v))
							: TABLE_PLAIN);
		free(val);
	}
	return ret;
}

char *table_kv(json_t *obj, int64_t now_ms, int flags)
{
	static const char *const hdr[] = {"", ""};
	struct table *t = table_new(2, hdr);
	char *out = NULL, *nl;

	if (!t)
		return NULL;
	if (table_kv_add(t, obj, "", now_ms) == 0 && (out = table_render(t, flags))) {
		/* A key/value list has no header line: drop the (empty) first line. */
		nl = strchr(out, '\n');
		memmove(out, nl + 1, strlen(nl + 1) + 1);
	}
	table_free(t);
	return out;
}

char *table_event_line(json_t *ev)
{
	const char *time = table_str(ev, "time"), *type = table_str(ev, "type");
	const char *name = table_str(ev, "name"), *subject = table_str(ev, "subject");
	const char *detail = table_str(ev, "detail");
	char when[32], who[24];
	char *out;

	/* "2024-05-01T10:00:00.123Z" -> "2024-05-01 10:00:00.123" (UTC, as ukd recorded it). */
	snprintf(when, sizeof(when), "%.23s", time ? time : "-");
	if (strlen(when) > 10 && when[10] == 'T')
		when[10] = ' ';
	/* Names are cut to 20 characters, as the tables cut theirs, so the columns stay put. */
	if (!name)
		snprintf(who, sizeof(who), "%.12s", subject ? subject : "-");
	else if (strlen(name) > 20)
		snprintf(who, sizeof(who), "%.17s...", name);
	else
		snprintf(who, sizeof(who), "%s", name);
	type = type ? type : "?";
	if (!strncmp(type, "instance.", 9))
		type += 9;
	if (asprintf(&out, "%s  %-20s  %-15s%s%s\n", when, who, type, detail ? "  " : "",
		     detail ? detail : "") < 0)
		return NULL;
	/* No trailing blanks when there is no detail. */
	if (!detail) {
		size_t n = strlen(out) - 1;

		while (n && out[n - 1] == ' ')
			n--;
		out[n] = '\n';
		out[n + 1] = 0;
	}
	return out;
}

char *table_events(json_t *events)
{
	struct util_buf b = {0};
	json_t *ev;
	size_t i;
	char *line;

	util_buf_puts(&b, "");
	json_array_foreach(events, i, ev)
	{
		if (!(line = table_event_line(ev))) {
			b.oom = 1;
			break;
		}
		util_buf_puts(&b, line);
		free(line);
	}
	return table_buf_take(&b);
}
