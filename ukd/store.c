/*
 * store.c: sqlite-backed state (see store.h).
 *
 * Statements are prepared once and kept (store_prepare, store_done): a
 * lookup such as GET /v1/instances/{id} spent most of its store time in
 * sqlite's SQL parser. The store's statements are a fixed set (a few with
 * a WHERE clause chosen from fixed ones), so STORE_STMTS bounds the cache.
 */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define STORE_STMTS 64

struct store_stmt {
	char *sql; /* NULL: a free slot */
	sqlite3_stmt *s;
	int busy; /* handed out: a nested use of the same SQL gets a statement of its own */
};

struct store {
	sqlite3 *db;
	struct store_stmt stmts[STORE_STMTS];
};

int64_t store_changes(struct store *st)
{
	return (int64_t)sqlite3_total_changes64(st->db);
}

/*
 * Migrations, in order: migration i brings the schema from version i to
 * i + 1. Never edit a released migration; append a new one.
 */
static const char *const store_migrations[] = {
	/* 1: images, instances, events. */
	"CREATE TABLE images ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT,"
	"  tag TEXT,"
	"  size INTEGER NOT NULL,"
	"  mem_mib INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (name, tag));"
	"CREATE TABLE instances ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  image_id TEXT NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  desired TEXT NOT NULL,"
	"  observed TEXT NOT NULL,"
	"  domain_uuid TEXT,"
	"  restart_count INTEGER NOT NULL DEFAULT 0,"
	"  exit_status INTEGER,"
	"  exit_reason TEXT,"
	"  message TEXT,"
	"  created INTEGER NOT NULL,"
	"  started INTEGER,"
	"  finished INTEGER);"
	"CREATE INDEX instances_image ON instances (image_id);"
	"CREATE INDEX instances_domain ON instances (domain_uuid);"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  subject TEXT,"
	"  detail TEXT);",
	/*
	 * 2: networks, the address each attached instance holds, and its
	 * published ports. Addresses and ports go with their instance (ON DELETE
	 * CASCADE); a network cannot go while an address refers to it.
	 */
	"CREATE TABLE networks ("
	"  name TEXT PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  subnet INTEGER NOT NULL,"
	"  prefix INTEGER NOT NULL,"
	"  gateway INTEGER NOT NULL,"
	"  bridge TEXT NOT NULL UNIQUE,"
	"  next INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE addresses ("
	"  instance_id TEXT PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,"
	"  network TEXT NOT NULL REFERENCES networks (name),"
	"  ip INTEGER NOT NULL,"
	"  mac TEXT NOT NULL UNIQUE,"
	"  UNIQUE (network, ip));"
	"CREATE TABLE ports ("
	"  instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,"
	"  proto TEXT NOT NULL,"
	"  host_ip TEXT NOT NULL,"
	"  host_port INTEGER NOT NULL,"
	"  guest_port INTEGER NOT NULL,"
	"  UNIQUE (proto, host_ip, host_port));"
	"CREATE INDEX ports_instance ON ports (instance_id);",
	/*
	 * 3: restart policies. restart_at is when a restart the policy decided
	 * is due (ms since the epoch; NULL: none pending), so a pending restart
	 * survives a ukd restart; restart_streak counts the restarts since the
	 * last run that stayed up long enough (restart.h). Events carry the
	 * subject's name, which outlives a deleted instance.
	 */
	"ALTER TABLE instances ADD COLUMN restart_at INTEGER;"
	"ALTER TABLE instances ADD COLUMN restart_streak INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE events ADD COLUMN name TEXT;"
	"CREATE INDEX events_subject ON events (subject, seq);",
	/*
	 * 4: each instance's guest memory (its spec's memory_mib) in a column
	 * of its own, so that the admission check before every start
	 * (capacity.c) sums it without parsing every instance's spec. Rows
	 * from before take it from their spec.
	 */
	"ALTER TABLE instances ADD COLUMN memory_mib INTEGER NOT NULL DEFAULT 0;"
	"UPDATE instances SET memory_mib = CASE WHEN json_valid(spec) THEN"
	"  max(0, CASE json_type(spec, '$.memory_mib') WHEN 'integer'"
	"  THEN json_extract(spec, '$.memory_mib') ELSE 0 END) ELSE 0 END;",
};

#define STORE_VERSION ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

int store_schema_version(void)
{
	return STORE_VERSION;
}

/* A full disk is -ENOSPC (the API's 507); any other failure -EIO. */
static int store_errno(int rc)
{
	return (rc & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
}

static int store_fail(struct store *st, const char *what)
{
	log_error("store: %s: %s", what, sqlite3_errmsg(st->db));
	return store_errno(sqlite3_errcode(st->db));
}

static int store_exec(struct store *st, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("store: %s: %s", sql, msg ? msg : "failed");
		sqlite3_free(msg);
		return store_errno(rc);
	}
	return 0;
}

/* BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails half-way on it. */
static int store_begin(struct store *st)
{
	return store_exec(st, "BEGIN IMMEDIATE");
}

static int store_commit(struct store *st)
{
	int ret = store_exec(st, "COMMIT");

	if (ret < 0)
		store_exec(st, "ROLLBACK");
	return ret;
}

static int store_rollback(struct store *st, int ret)
{
	store_exec(st, "ROLLBACK");
	return ret;
}

/* A statement for sql, kept from an earlier call if there is one; give it back with store_done. */
static int store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt)
{
	struct store_stmt *slot = NULL;
	int busy = 0;

	for (size_t i = 0; i < STORE_STMTS; i++) {
		struct store_stmt *c = &st->stmts[i];

		if (!c->sql) {
			slot = slot ? slot : c;
		} else if (!strcmp(c->sql, sql)) {
			if (!c->busy) {
				c->busy = 1;
				*stmt = c->s;
				return 0;
			}
			busy = 1;
		}
	}
	if (busy)
		slot = NULL;
	if (sqlite3_prepare_v3(st->db, sql, -1, slot ? SQLITE_PREPARE_PERSISTENT : 0, stmt, NULL) !=
	    SQLITE_OK) {
		int ret = store_fail(st, sql);

		sqlite3_finalize(*stmt);
		*stmt = NULL;
		return ret;
	}
	if (slot && (slot->sql = strdup(sql))) {
		slot->s = *stmt;
		slot->busy = 1;
	}
	return 0;
}

/* Finalizes the kept statements (before the database closes: it would not, with them open). */
static void store_stmts_free(struct store *st)
{
	for (size_t i = 0; i < STORE_STMTS; i++) {
		sqlite3_finalize(st->stmts[i].s);
		free(st->stmts[i].sql);
		st->stmts[i].sql = NULL;
		st->stmts[i].s = NULL;
	}
}

/* Gives a statement of store_prepare back: reset for the next call, or finalized if not kept. */
static void store_done(struct store *st, sqlite3_stmt *s)
{
	for (size_t i = 0; i < STORE_STMTS; i++) {
		if (st->stmts[i].sql && st->stmts[i].s == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			st->stmts[i].busy = 0;
			return;
		}
	}
	sqlite3_finalize(s);
}

/* Binds NULL for an empty string: "no name" and "no uuid" are NULL in the tables. */
static void store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void store_bind_time(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

/* Runs a statement that returns no rows; -EEXIST on a unique constraint. */
static int store_step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return 0;
	if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE)
		return -EEXIST;
	return store_fail(st, what);
}

/*
 * Ends a statement stepped row by row to rc: a walk that a callback stopped
 * keeps the callback's error (ret < 0); one that did not reach SQLITE_DONE
 * is a store failure. Gives s back (store_done).
 */
static int store_rows_end(struct store *st, sqlite3_stmt *s, int rc, int ret, const char *what)
{
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(st, what);
	store_done(st, s);
	return ret;
}

/* Runs a "SELECT count(*) ... WHERE ... = ?" with arg; the count or -errno. */
static int store_count(struct store *st, const char *sql, const char *arg, const char *what)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_prepare(st, sql, &s)) < 0)
		return ret;
	sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	ret = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : store_fail(st, what);
	store_done(st, s);
	return ret;
}

static void store_copy_text(char *dst, size_t len, sqlite3_stmt *s, int col);

static int store_event_insert(struct store *st, const char *kind, const char *subject,
			      const char *detail)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_prepare(st,
				 "INSERT INTO events (time, kind, subject, detail, name) "
				 "VALUES (?1, ?2, ?3, ?4, coalesce("
				 "(SELECT name FROM instances WHERE id = ?3), "
				 "(SELECT name FROM images WHERE id = ?3), "
				 "(SELECT name FROM networks WHERE name = ?3)))",
				 &s)) < 0)
		return ret;
	sqlite3_bind_int64(s, 1, util_now_ms());
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	store_bind_text(s, 3, subject);
	store_bind_text(s, 4, detail);
	ret = store_step_done(st, s, "insert event");
	store_done(st, s);
	return ret;
}

int store_event_add(struct store *st, const char *kind, const char *subject, const char *detail)
{
	int ret;

	if ((ret = store_begin(st)) < 0)
		return ret;
	if ((ret = store_event_insert(st, kind, subject, detail)) < 0)
		return store_rollback(st, ret);
	return store_commit(st);
}

int store_event_list(struct store *st, int64_t after, int64_t since_ms, const char *subject,
		     int limit, store_event_cb cb, void *opaque)
{
	struct store_event ev;
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(st,
				 "SELECT seq, time, kind, subject, name, detail FROM events "
				 "WHERE seq > ?1 AND time >= ?2 AND (?3 IS NULL OR subject = ?3) "
				 "ORDER BY seq LIMIT ?4",
				 &s)) < 0)
		return ret;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, since_ms);
	store_bind_text(s, 3, subject);
	sqlite3_bind_int(s, 4, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&ev, 0, sizeof(ev));
		ev.seq = sqlite3_column_int64(s, 0);
		ev.time = sqlite3_column_int64(s, 1);
		store_copy_text(ev.kind, sizeof(ev.kind), s, 2);
		store_copy_text(ev.subject, sizeof(ev.subject), s, 3);
		store_copy_text(ev.name, sizeof(ev.name), s, 4);
		ev.detail = (const char *)sqlite3_column_text(s, 5);
		if ((ret = cb(&ev, opaque)) < 0)
			break;
	}
	return store_rows_end(st, s, rc, ret, "list events");
}

static int store_get_version(struct store *st, int *version)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_exec(st, "CREATE TABLE IF NOT EXISTS schema_version "
				  "(version INTEGER NOT NULL)")) < 0)
		return ret;
	if ((ret = store_prepare(st, "SELECT max(version) FROM schema_version", &s)) < 0)
		return ret;
	*version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	store_done(st, s);
	return 0;
}

/* Each migration and its version bump commit together, so a crash leaves a known version. */
static int store_migrate(struct store *st)
{
	char sql[96];
	int version, ret;

	if ((ret = store_begin(st)) < 0)
		return ret;
	if ((ret = store_get_version(st, &version)) < 0 || (ret = store_commit(st)) < 0)
		return ret;
	if (version > STORE_VERSION) {
		log_error("store: schema version %d is newer than this ukd's (%d); refusing to "
			  "touch it",
			  version, STORE_VERSION);
		return -EPROTO;
	}
	for (; version < STORE_VERSION; version++) {
		log_info("store: migrating schema to version %d", version + 1);
		snprintf(sql, sizeof(sql),
			 "DELETE FROM schema_version; "
			 "INSERT INTO schema_version VALUES (%d)",
			 version + 1);
		if ((ret = store_begin(st)) < 0)
			return ret;
		if ((ret = store_exec(st, store_migrations[version])) < 0 ||
		    (ret = store_exec(st, sql)) < 0)
			return store_rollback(st, ret);
		if ((ret = store_commit(st)) < 0)
			return ret;
	}
	return 0;
}

int store_open(const char *path, struct store **out)
{
	struct store *st = calloc(1, sizeof(*st));
	int ret = -EIO;

	if (!st)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_error("store: cannot open %s: %s", path,
			  st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto close_db;
	}
	/*
	 * WAL + synchronous=FULL: a commit is durable when it returns, even
	 * against power loss. busy_timeout covers a reader such as the sqlite3
	 * shell holding the database for a moment.
	 */
	if (store_exec(st, "PRAGMA journal_mode=WAL") < 0 ||
	    store_exec(st, "PRAGMA synchronous=FULL") < 0 ||
	    store_exec(st, "PRAGMA foreign_keys=ON") < 0)
		goto close_db;
	sqlite3_busy_timeout(st->db, 5000);
	if ((ret = store_migrate(st)) < 0)
		goto close_db;
	*out = st;
	return 0;
close_db:
	store_stmts_free(st);
	sqlite3_close(st->db);
	free(st);
	return ret;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	store_stmts_free(st);
	sqlite3_close(st->db);
	free(st);
}

/* --- images --- */

static void store_copy_text(char *dst, size_t len, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, len, "%s", t ? (const char *)t : "");
}

#define STORE_IMAGE_COLS "id, name, tag, size, mem_mib, created"

static void store_image_row(sqlite3_stmt *s, struct store_image *img)
{
	memset(img, 0, sizeof(*img));
	store_copy_text(img->id, sizeof(img->id), s, 0);
	store_copy_text(img->name, sizeof(img->name), s, 1);
	store_copy_text(img->tag, sizeof(img->tag), s, 2);
	img->size = sqlite3_column_int64(s, 3);
	img->mem_mib = (unsigned)sqlite3_column_int(s, 4);
	img->created = sqlite3_column_int64(s, 5);
}

int store_image_put(struct store *st, const struct store_image *img)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_begin(st)) < 0)
		return ret;
	/* The name:tag moves: whoever held it becomes untagged. */
	if ((ret = store_prepare(st,
				 "UPDATE images SET name = NULL, tag = NULL "
				 "WHERE name = ? AND tag = ? AND id <> ?",
				 &s)) < 0)
		return store_rollback(st, ret);
	store_bind_text(s, 1, img->name);
	store_bind_text(s, 2, img->tag);
	sqlite3_bind_text(s, 3, img->id, -1, SQLITE_STATIC);
	ret = store_step_done(st, s, "untag image");
	store_done(st, s);
	if (ret < 0)
		return store_rollback(st, ret);
	if ((ret = store_prepare(st,
				 "INSERT INTO images (" STORE_IMAGE_COLS
				 ") VALUES (?, ?, ?, ?, ?, ?) "
				 "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
				 "tag = excluded.tag",
				 &s)) < 0)
		return store_rollback(st, ret);
	sqlite3_bind_text(s, 1, img->id, -1, SQLITE_STATIC);
	store_bind_text(s, 2, img->name);
	store_bind_text(s, 3, img->tag);
	sqlite3_bind_int64(s, 4, img->size);
	sqlite3_bind_int(s, 5, (int)img->mem_mib);
	sqlite3_bind_int64(s, 6, img->created);
	ret = store_step_done(st, s, "insert image");
	store_done(st, s);
	if (ret < 0 || (ret = store_event_insert(st, "image.stored", img->id, img->name)) < 0)
		return store_rollback(st, ret);
	return store_commit(st);
}

/* Runs a query expected to match at most one row; -EINVAL if it matches more. */
static int store_image_one(struct store *st, sqlite3_stmt *s, struct store_image *out)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return store_fail(st, "find image");
	store_image_row(s, out);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return -EINVAL;
	return rc == SQLITE_DONE ? 0 : store_fail(st, "find image");
}

int store_image_find(struct store *st, const char *ref, struct store_image *out)
{
	char name[STORE_NAME_MAX], pattern[STORE_IMAGE_ID_LEN + 2];
	const char *hex = ref, *tag = "latest", *colon;
	size_t len;
	sqlite3_stmt *s;
	int ret;

	if (!strncmp(ref, "sha256:", 7))
		hex = ref + 7;
	len = strlen(hex);
	if (len >= 12 && len <= STORE_IMAGE_ID_LEN && util_is_hex(hex, len)) {
		snprintf(pattern, sizeof(pattern), "%s%%", hex);
		if ((ret = store_prepare(
			     st, "SELECT " STORE_IMAGE_COLS " FROM images WHERE id LIKE ? LIMIT 2",
			     &s)) < 0)
			return ret;
		sqlite3_bind_text(s, 1, pattern, -1, SQLITE_STATIC);
		ret = store_image_one(st, s, out);
		store_done(st, s);
		/* A digest-shaped name is still allowed as a name. */
		if (ret != -ENOENT || hex != ref)
			return ret;
	} else if (hex != ref) {
		return -ENOENT;
	}
	colon = strrchr(ref, ':');
	len = colon ? (size_t)(colon - ref) : strlen(ref);
	if (len == 0 || len >= sizeof(name) || (colon && !colon[1]))
		return -ENOENT;
	memcpy(name, ref, len);
	name[len] = 0;
	if (colon)
		tag = colon + 1;
	if ((ret = store_prepare(
		     st, "SELECT " STORE_IMAGE_COLS " FROM images WHERE name = ? AND tag = ?",
		     &s)) < 0)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tag, -1, SQLITE_STATIC);
	ret = store_image_one(st, s, out);
	store_done(st, s);
	return ret;
}

int store_image_list(struct store *st, store_image_cb cb, void *opaque)
{
	struct store_image img;
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(st, "SELECT " STORE_IMAGE_COLS " FROM images ORDER BY created",
				 &s)) < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_image_row(s, &img);
		if ((ret = cb(&img, opaque)) < 0)
			break;
	}
	return store_rows_end(st, s, rc, ret, "list images");
}

int store_image_users(struct store *st, const char *id)
{
	return store_count(st, "SELECT count(*) FROM instances WHERE image_id = ?", id,
			   "count image users");
}

/* DELETE/UPDATE by id in one transaction with its event; -ENOENT if no row changed. */
static int store_delete_id(struct store *st, const char *sql, const char *id, const char *kind)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_begin(st)) < 0)
		return ret;
	/* The event first, while the row can still lend it its name. */
	if ((ret = store_event_insert(st, kind, id, NULL)) < 0 ||
	    (ret = store_prepare(st, sql, &s)) < 0)
		return store_rollback(st, ret);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	ret = store_step_done(st, s, sql);
	/* A foreign key refused it (an address on the network): read before ROLLBACK clears it. */
	if (ret < 0 && sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
		ret = -EBUSY;
	store_done(st, s);
	if (ret == 0 && sqlite3_changes(st->db) == 0)
		ret = -ENOENT;
	if (ret < 0)
		return store_rollback(st, ret);
	return store_commit(st);
}

int store_image_delete(struct store *st, const char *id)
{
	return store_delete_id(st, "DELETE FROM images WHERE id = ?", id, "image.deleted");
}

/* --- instances --- */

#define STORE_INSTANCE_COLS                                                                      \
	"id, name, image_id, spec, desired, observed, domain_uuid, restart_count, exit_status, " \
	"exit_reason, message, created, started, finished, restart_at, restart_streak, memory_mib"

static int store_instance_row(sqlite3_stmt *s, struct store_instance *inst)
{
	const unsigned char *spec = sqlite3_column_text(s, 3);
	const unsigned char *msg = sqlite3_column_text(s, 10);

	memset(inst, 0, sizeof(*inst));
	store_copy_text(inst->id, sizeof(inst->id), s, 0);
	store_copy_text(inst->name, sizeof(inst->name), s, 1);
	store_copy_text(inst->image_id, sizeof(inst->image_id), s, 2);
	inst->spec = strdup(spec ? (const char *)spec : "{}");
	store_copy_text(inst->desired, sizeof(inst->desired), s, 4);
	store_copy_text(inst->observed, sizeof(inst->observed), s, 5);
	store_copy_text(inst->domain_uuid, sizeof(inst->domain_uuid), s, 6);
	inst->restart_count = sqlite3_column_int64(s, 7);
	inst->has_exit_status = sqlite3_column_type(s, 8) != SQLITE_NULL;
	inst->exit_status = sqlite3_column_int(s, 8);
	store_copy_text(inst->exit_reason, sizeof(inst->exit_reason), s, 9);
	inst->message = msg ? strdup((const char *)msg) : NULL;
	inst->created = sqlite3_column_int64(s, 11);
	inst->started = sqlite3_column_int64(s, 12);
	inst->finished = sqlite3_column_int64(s, 13);
	inst->restart_at = sqlite3_column_int64(s, 14);
	inst->restart_streak = sqlite3_column_int64(s, 15);
	inst->mem_mib = (unsigned)sqlite3_column_int64(s, 16);
	if (!inst->spec || (msg && !inst->message)) {
		store_instance_clear(inst);
		return -ENOMEM;
	}
	return 0;
}

void store_instance_clear(struct store_instance *inst)
{
	free(inst->spec);
	free(inst->message);
	inst->spec = inst->message = NULL;
}

/* Binds every column but id (parameter 1) from parameter 2 on, in STORE_INSTANCE_COLS order. */
static void store_instance_bind(sqlite3_stmt *s, const struct store_instance *inst)
{
	sqlite3_bind_text(s, 1, inst->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, inst->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, inst->image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, inst->spec, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, inst->desired, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, inst->observed, -1, SQLITE_STATIC);
	store_bind_text(s, 7, inst->domain_uuid);
	sqlite3_bind_int64(s, 8, inst->restart_count);
	if (inst->has_exit_status)
		sqlite3_bind_int(s, 9, inst->exit_status);
	else
		sqlite3_bind_null(s, 9);
	store_bind_text(s, 10, inst->exit_reason);
	store_bind_text(s, 11, inst->message);
	sqlite3_bind_int64(s, 12, inst->created);
	store_bind_time(s, 13, inst->started);
	store_bind_time(s, 14, inst->finished);
	store_bind_time(s, 15, inst->restart_at);
	sqlite3_bind_int64(s, 16, inst->restart_streak);
	sqlite3_bind_int64(s, 17, inst->mem_mib);
}

static int store_instance_write(struct store *st, const char *sql,
				const struct store_instance *inst, const char *kind,
				const char *detail)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_begin(st)) < 0)
		return ret;
	if ((ret = store_prepare(st, sql, &s)) < 0)
		return store_rollback(st, ret);
	store_instance_bind(s, inst);
	ret = store_step_done(st, s, "write instance");
	store_done(st, s);
	if (ret == 0 && sqlite3_changes(st->db) == 0)
		ret = -ENOENT;
	if (ret < 0 || (ret = store_event_insert(st, kind, inst->id, detail)) < 0)
		return store_rollback(st, ret);
	return store_commit(st);
}

int store_instance_insert(struct store *st, const struct store_instance *inst)
{
	return store_instance_write(st,
				    "INSERT INTO instances (" STORE_INSTANCE_COLS
				    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				    inst, "instance.created", inst->name);
}

int store_instance_update(struct store *st, const struct store_instance *inst, const char *kind,
			  const char *detail)
{
	return store_instance_write(st,
				    "UPDATE instances SET name = ?2, image_id = ?3, spec = ?4, "
				    "desired = ?5, observed = ?6, domain_uuid = ?7, "
				    "restart_count = ?8, exit_status = ?9, exit_reason = ?10, "
				    "message = ?11, created = ?12, started = ?13, finished = ?14, "
				    "restart_at = ?15, restart_streak = ?16, memory_mib = ?17 "
				    "WHERE id = ?1",
				    inst, kind, detail);
}

static int store_instance_one(struct store *st, sqlite3_stmt *s, struct store_instance *out)
{
	int rc = sqlite3_step(s), ret;

	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return store_fail(st, "find instance");
	if ((ret = store_instance_row(s, out)) < 0)
		return ret;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return 0;
	store_instance_clear(out);
	return rc == SQLITE_ROW ? -EINVAL : store_fail(st, "find instance");
}

static int store_instance_query(struct store *st, const char *where, const char *arg,
				struct store_instance *out)
{
	char sql[256];
	sqlite3_stmt *s;
	int ret;

	snprintf(sql, sizeof(sql), "SELECT " STORE_INSTANCE_COLS " FROM instances WHERE %s", where);
	if ((ret = store_prepare(st, sql, &s)) < 0)
		return ret;
	sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	ret = store_instance_one(st, s, out);
	store_done(st, s);
	return ret;
}

int store_instance_find(struct store *st, const char *ref, struct store_instance *out)
{
	char pattern[STORE_INSTANCE_ID_LEN + 2];
	size_t len = strlen(ref);
	int ret;

	/* A name wins over an id prefix: names are what users type. */
	ret = store_instance_query(st, "name = ?", ref, out);
	if (ret != -ENOENT)
		return ret;
	if (len < 6 || len > STORE_INSTANCE_ID_LEN || !util_is_hex(ref, len))
		return -ENOENT;
	snprintf(pattern, sizeof(pattern), "%s%%", ref);
	return store_instance_query(st, "id LIKE ? LIMIT 2", pattern, out);
}

int store_instance_by_domain(struct store *st, const char *uuid, struct store_instance *out)
{
	return store_instance_query(st, "domain_uuid = ?", uuid, out);
}

int store_instance_list(struct store *st, store_instance_cb cb, void *opaque)
{
	struct store_instance inst;
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(
		     st, "SELECT " STORE_INSTANCE_COLS " FROM instances ORDER BY created", &s)) < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((ret = store_instance_row(s, &inst)) < 0)
			break;
		ret = cb(&inst, opaque);
		store_instance_clear(&inst);
		if (ret < 0)
			break;
	}
	return store_rows_end(st, s, rc, ret, "list instances");
}

int store_instance_delete(struct store *st, const char *id)
{
	return store_delete_id(st, "DELETE FROM instances WHERE id = ?", id, "instance.removed");
}

/* --- networks, addresses and published ports --- */

#define STORE_NETWORK_COLS "name, id, subnet, prefix, gateway, bridge, created"

static void store_network_row(sqlite3_stmt *s, struct store_network *net)
{
	memset(net, 0, sizeof(*net));
	store_copy_text(net->name, sizeof(net->name), s, 0);
	store_copy_text(net->id, sizeof(net->id), s, 1);
	net->subnet = (uint32_t)sqlite3_column_int64(s, 2);
	net->prefix = sqlite3_column_int(s, 3);
	net->gateway = (uint32_t)sqlite3_column_int64(s, 4);
	store_copy_text(net->bridge, sizeof(net->bridge), s, 5);
	net->created = sqlite3_column_int64(s, 6);
}

int store_network_insert(struct store *st, const struct store_network *net)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_begin(st)) < 0)
		return ret;
	if ((ret = store_prepare(st,
				 "INSERT INTO networks (" STORE_NETWORK_COLS
				 ", next) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
				 &s)) < 0)
		return store_rollback(st, ret);
	sqlite3_bind_text(s, 1, net->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, net->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, net->subnet);
	sqlite3_bind_int(s, 4, net->prefix);
	sqlite3_bind_int64(s, 5, net->gateway);
	sqlite3_bind_text(s, 6, net->bridge, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, net->created);
	ret = store_step_done(st, s, "insert network");
	store_done(st, s);
	if (ret < 0 ||
	    (ret = store_event_insert(st, "network.created", net->name, net->bridge)) < 0)
		return store_rollback(st, ret);
	return store_commit(st);
}

int store_network_find(struct store *st, const char *name, struct store_network *out)
{
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(st, "SELECT " STORE_NETWORK_COLS " FROM networks WHERE name = ?",
				 &s)) < 0)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		store_network_row(s, out);
	ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_fail(st, "find network");
	store_done(st, s);
	return ret;
}

int store_network_list(struct store *st, store_network_cb cb, void *opaque)
{
	struct store_network net;
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(st, "SELECT " STORE_NETWORK_COLS " FROM networks ORDER BY created",
				 &s)) < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_network_row(s, &net);
		if ((ret = cb(&net, opaque)) < 0)
			break;
	}
	return store_rows_end(st, s, rc, ret, "list networks");
}

int store_network_users(struct store *st, const char *name)
{
	return store_count(st, "SELECT count(*) FROM addresses WHERE network = ?", name,
			   "count network users");
}

int store_network_delete(struct store *st, const char *name)
{
	/* -EBUSY: an attached instance's address refers to it. */
	return store_delete_id(st, "DELETE FROM networks WHERE name = ?", name, "network.deleted");
}

/* Picks the first free host address at or after the network's cursor and moves the cursor. */
static int store_nic_alloc(struct store *st, struct store_nic *nic)
{
	struct store_network net;
	uint32_t size, start, host = 0;
	uint8_t *used = NULL;
	sqlite3_stmt *s;
	int64_t next;
	int rc, ret;

	if ((ret = store_prepare(st,
				 "SELECT " STORE_NETWORK_COLS ", next FROM networks "
				 "WHERE name = ?",
				 &s)) < 0)
		return ret;
	sqlite3_bind_text(s, 1, nic->network, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		store_network_row(s, &net);
		next = sqlite3_column_int64(s, 7);
	}
	/* The failure is read before store_done resets the statement. */
	ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_fail(st, "find network");
	store_done(st, s);
	if (ret < 0)
		return ret;
	/* network.c bounds prefixes to 16..30: at most 64 Ki addresses, an 8 KiB bitmap. */
	size = 1u << (32 - net.prefix);
	if (!(used = calloc(size / 8 + 1, 1)))
		return -ENOMEM;
	if ((ret = store_prepare(st, "SELECT ip FROM addresses WHERE network = ?", &s)) < 0)
		goto free_used;
	sqlite3_bind_text(s, 1, nic->network, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint32_t h = (uint32_t)sqlite3_column_int64(s, 0) - net.subnet;

		if (h < size)
			used[h / 8] |= (uint8_t)(1u << (h % 8));
	}
	if ((ret = store_rows_end(st, s, rc, 0, "list addresses")) < 0)
		goto free_used;
	/* Host parts 1 .. size-2: never the network or broadcast address, nor the gateway. */
	start = next > 0 && (uint64_t)next < size - 1 ? (uint32_t)next : 1;
	ret = -EADDRNOTAVAIL;
	for (uint32_t i = 0; i < size - 2; i++) {
		host = 1 + (start - 1 + i) % (size - 2);
		if (used[host / 8] & (1u << (host % 8)) || net.subnet + host == net.gateway)
			continue;
		nic->ip = net.subnet + host;
		ret = 0;
		break;
	}
	if (ret < 0)
		goto free_used;
	if ((ret = store_prepare(st, "UPDATE networks SET next = ? WHERE name = ?", &s)) < 0)
		goto free_used;
	sqlite3_bind_int64(s, 1, host + 1);
	sqlite3_bind_text(s, 2, nic->network, -1, SQLITE_STATIC);
	ret = store_step_done(st, s, "move the address cursor");
	store_done(st, s);
free_used:
	free(used);
	return ret;
}

static int store_port_insert(struct store *st, const char *id, const struct store_port *p)
{
	sqlite3_stmt *s;
	int ret;

	if ((ret = store_prepare(st,
				 "INSERT INTO ports (instance_id, proto, host_ip, host_port, "
				 "guest_port) VALUES (?, ?, ?, ?, ?)",
				 &s)) < 0)
		return ret;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, p->proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, p->host_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, (int)p->host_port);
	sqlite3_bind_int(s, 5, (int)p->guest_port);
	ret = store_step_done(st, s, "insert port");
	store_done(st, s);
	return ret == -EEXIST ? -EADDRINUSE : ret;
}

int store_instance_insert_nic(struct store *st, struct store_instance *inst, struct store_nic *nic,
			      const struct store_port *ports, size_t nports, store_nic_fill fill,
			      void *opaque)
{
	sqlite3_stmt *s;
	int ret;

	if (!nic)
		return store_instance_insert(st, inst);
	if ((ret = store_begin(st)) < 0)
		return ret;
	if ((ret = store_nic_alloc(st, nic)) < 0 || (fill && (ret = fill(inst, nic, opaque)) < 0))
		return store_rollback(st, ret);
	if ((ret = store_prepare(st,
				 "INSERT INTO instances (" STORE_INSTANCE_COLS
				 ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				 &s)) < 0)
		return store_rollback(st, ret);
	store_instance_bind(s, inst);
	ret = store_step_done(st, s, "insert instance");
	store_done(st, s);
	if (ret < 0)
		return store_rollback(st, ret);
	if ((ret = store_prepare(st,
				 "INSERT INTO addresses (instance_id, network, ip, mac) "
				 "VALUES (?, ?, ?, ?)",
				 &s)) < 0)
		return store_rollback(st, ret);
	sqlite3_bind_text(s, 1, inst->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, nic->network, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, nic->ip);
	sqlite3_bind_text(s, 4, nic->mac, -1, SQLITE_STATIC);
	ret = store_step_done(st, s, "insert address");
	store_done(st, s);
	/* The MAC comes from the random id: a clash is 2^-40 unlikely, and refused. */
	for (size_t i = 0; ret == 0 && i < nports; i++)
		ret = store_port_insert(st, inst->id, &ports[i]);
	if (ret < 0 || (ret = store_event_insert(st, "instance.created", inst->id, inst->name)) < 0)
		return store_rollback(st, ret);
	return store_commit(st);
}

static void store_nic_row(sqlite3_stmt *s, struct store_nic *nic)
{
	memset(nic, 0, sizeof(*nic));
	store_copy_text(nic->instance_id, sizeof(nic->instance_id), s, 0);
	store_copy_text(nic->network, sizeof(nic->network), s, 1);
	nic->ip = (uint32_t)sqlite3_column_int64(s, 2);
	store_copy_text(nic->mac, sizeof(nic->mac), s, 3);
}

int store_nic_get(struct store *st, const char *instance_id, struct store_nic *out)
{
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(st,
				 "SELECT instance_id, network, ip, mac FROM addresses "
				 "WHERE instance_id = ?",
				 &s)) < 0)
		return ret;
	sqlite3_bind_text(s, 1, instance_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		store_nic_row(s, out);
	ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_fail(st, "find address");
	store_done(st, s);
	return ret;
}

int store_nic_list(struct store *st, store_nic_cb cb, void *opaque)
{
	struct store_nic nic;
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(st, "SELECT instance_id, network, ip, mac FROM addresses", &s)) <
	    0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_nic_row(s, &nic);
		if ((ret = cb(&nic, opaque)) < 0)
			break;
	}
	return store_rows_end(st, s, rc, ret, "list addresses");
}

int store_port_list(struct store *st, const char *instance_id, store_port_cb cb, void *opaque)
{
	struct store_port p;
	sqlite3_stmt *s;
	int rc, ret;

	if ((ret = store_prepare(
		     st,
		     instance_id ? "SELECT instance_id, proto, host_ip, host_port, "
				   "guest_port FROM ports WHERE instance_id = ? ORDER BY rowid"
				 : "SELECT instance_id, proto, host_ip, host_port, "
				   "guest_port FROM ports ORDER BY rowid",
		     &s)) < 0)
		return ret;
	if (instance_id)
		sqlite3_bind_text(s, 1, instance_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&p, 0, sizeof(p));
		store_copy_text(p.instance_id, sizeof(p.instance_id), s, 0);
		store_copy_text(p.proto, sizeof(p.proto), s, 1);
		store_copy_text(p.host_ip, sizeof(p.host_ip), s, 2);
		p.host_port = (unsigned)sqlite3_column_int(s, 3);
		p.guest_port = (unsigned)sqlite3_column_int(s, 4);
		if ((ret = cb(&p, opaque)) < 0)
			break;
	}
	return store_rows_end(st, s, rc, ret, "list ports");
}
