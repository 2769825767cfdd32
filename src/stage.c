/* The SQLite stage (see stage.h for the schema and the contract). */
#include "config.h"

#include "stage.h"

#include "jsonout.h"
#include "stage_dedupe.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Statements cached by cached_stmt(): a small open-addressed table. */
#define STMT_SLOTS 128

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *stmt;
};

/* A statement run for (nearly) every record, kept apart from the cache: it is
 * reset after each run and its bindings are never cleared, so a value that
 * repeats from row to row (a record's kind) is bound only when it changes;
 * every other parameter is bound on every run. sticky holds a copy of that
 * value (SQLite keeps its own). */
struct hot_stmt {
	sqlite3_stmt *stmt;
	char sticky[64];
	int sticky_set;
};

/* Keys this connection appended lately while the dedupe index was away, by
 * hash: a script that makes one record again and again (an account for every
 * message) finds the copy here instead of appending rows that the end of the
 * extract deletes (1M such copies took 1.2 times the CPU time of probing the
 * index). Direct-mapped; an entry stands for a row appended in the current
 * transaction, so a hit is a duplicate exactly as the index would have said. */
#define RECENT_SLOTS 4096 /* a power of two */
#define RECENT_KEY_MAX 120

struct recent_key {
	uint64_t hash;
	int64_t id;
	uint8_t len; /* 0: empty */
	char key[RECENT_KEY_MAX];
};

/* Native records waiting to be written as one raw_chunk row (see put_raw). */
struct raw_chunk {
	int64_t first_id; /* raw id of the first buffered record */
	int n;            /* records buffered */
	struct im_jbuf meta, body;
};

struct im_stage {
	sqlite3 *db;
	char *path;
	int in_txn;
	int64_t raw_next; /* the raw id put_raw assigns next; 0: ask the database */
	struct raw_chunk raw;
	struct hot_stmt raw_insert, record_insert, record_append;
	int dedupe; /* enum dedupe_state: how put_record finds duplicates */
	struct recent_key *recent; /* RECENT_SLOTS, or NULL until the first append */
	struct stmt_slot slots[STMT_SLOTS];
};

/* Whether the unique dedupe index exists. An extract into an empty stage drops
 * it while it stages in bulk (im_stage_bulk_begin) and builds it by sorting when
 * it ends: a row-by-
 * row unique insert touches a random page of the index per record, and once the
 * index outgrows the page cache every batch rewrote most of it through the WAL
 * (a 3M-record extract read 18 GB and wrote 17 GB for a 1.7 GB stage). Another
 * connection may drop or build it between our transactions, so the state is
 * looked up again at the start of each (DEDUPE_UNKNOWN). */
enum dedupe_state { DEDUPE_UNKNOWN = 0, DEDUPE_INDEXED, DEDUPE_DEFERRED };

/* Forgets the recently appended keys: at the start of each transaction
 * (another connection may have changed the stage since) and when one rolls
 * back (their rows are gone). */
static void forget_recent(struct im_stage *st)
{
	free(st->recent);
	st->recent = NULL;
}

static const char *const status_names[IM_STAGE_NSTATUS] = {"pending", "inflight", "landed", "dead"};

const char *im_stage_status_name(int status)
{
	return status >= 0 && status < IM_STAGE_NSTATUS ? status_names[status] : NULL;
}

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS raw_chunk(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, meta TEXT NOT NULL,"
	" body BLOB NOT NULL);"
	"CREATE VIEW IF NOT EXISTS raw(id, stream, source_id, origin, data) AS SELECT c.id + j.key,"
	" json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'),"
	" CAST(substr(c.body, json_extract(j.value, '$[3]') + 1, json_extract(j.value, '$[4]')) AS TEXT)"
	" FROM raw_chunk c, json_each(c.meta) j;"
	"CREATE TABLE IF NOT EXISTS records(id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
	" conv TEXT NOT NULL, ord INTEGER NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL,"
	" source_id TEXT, dedupe_hash INTEGER NOT NULL, dedupe_key TEXT NOT NULL, raw_id INTEGER,"
	" status INTEGER NOT NULL DEFAULT 0, batch INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
	" last_code INTEGER, retry_at INTEGER);"
	"CREATE TABLE IF NOT EXISTS dead_letters(id INTEGER PRIMARY KEY, record_id INTEGER,"
	" raw_id INTEGER, stage TEXT NOT NULL, kind TEXT, origin TEXT, raw TEXT, payload TEXT,"
	" code INTEGER, reason TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL, replayed INTEGER NOT NULL DEFAULT 0, event_id INTEGER);"
	"CREATE INDEX IF NOT EXISTS dead_letters_stage ON dead_letters(stage, replayed);"
	"CREATE TABLE IF NOT EXISTS checkpoints(source TEXT PRIMARY KEY, token TEXT,"
	" done INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS idmap(namespace TEXT NOT NULL, old_id TEXT NOT NULL,"
	" new_id TEXT NOT NULL, PRIMARY KEY(namespace, old_id)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, command TEXT, started_at INTEGER,"
	" ended_at INTEGER, exit_code INTEGER, counters TEXT);";

static void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;
	if (!err || !err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static int db_fail(struct im_stage *st, char *err, size_t err_size, const char *what)
{
	set_err(err, err_size, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return -1;
}

static sqlite3_stmt *cached_stmt(struct im_stage *st, const char *sql, char *err, size_t err_size);

/* The hot statement h, prepared on first use. NULL with err filled on failure. */
static sqlite3_stmt *hot_stmt(struct im_stage *st, struct hot_stmt *h, const char *sql, char *err, size_t err_size)
{
	if (!h->stmt && sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &h->stmt, NULL) != SQLITE_OK) {
		db_fail(st, err, err_size, "preparing a statement");
		h->stmt = NULL;
	}
	return h->stmt;
}

/* Binds text to parameter col of h unless it is bound to that text already. */
static void bind_sticky(struct hot_stmt *h, int col, const char *text)
{
	if (h->sticky_set && !strcmp(h->sticky, text))
		return;
	sqlite3_bind_text(h->stmt, col, text, -1, SQLITE_TRANSIENT);
	size_t len = strlen(text);
	/* A value too long to remember is simply bound again next time. */
	h->sticky_set = len < sizeof h->sticky;
	if (h->sticky_set)
		memcpy(h->sticky, text, len + 1);
}

/* Native records go to the raw_chunk table in chunks: one row holds the
 * records with ids id .. id+n-1, so a native record costs an append to two
 * buffers instead of a B-tree insert of its own (about 4,000 instructions).
 * A chunk is written when it is full, before the transaction commits, and
 * before anything else reads the stage through this handle (im_stage_stmt,
 * im_stage_db), so the raw rows and the records made from them still commit
 * together.
 *
 * body holds the records' texts back to back, unescaped; meta is a JSON array
 * with one [stream, source_id, origin, offset, length] per record (offset and
 * length in bytes into body). The raw view decodes both with SQLite's JSON
 * functions, so raw reads as one row per native record from any SQL client. */
#define RAW_CHUNK_BYTES 60000 /* a few overflow pages: little slack per row */
#define RAW_CHUNK_RECORDS 1024

static int raw_next_id(struct im_stage *st, char *err, size_t err_size)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT id + n FROM raw_chunk ORDER BY id DESC LIMIT 1", -1, &s, NULL) !=
	    SQLITE_OK)
		return db_fail(st, err, err_size, "reading the last raw id");
	int rc = sqlite3_step(s);
	st->raw_next = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 1;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		st->raw_next = 0;
		return db_fail(st, err, err_size, "reading the last raw id");
	}
	return 0;
}

/* Writes the buffered chunk. On failure the buffer is kept (a later flush, at
 * the latest the commit, tries again and reports). */
static int flush_raw(struct im_stage *st, char *err, size_t err_size)
{
	struct raw_chunk *c = &st->raw;
	if (!c->n)
		return 0;
	sqlite3_stmt *s = hot_stmt(st, &st->raw_insert, "INSERT INTO raw_chunk(id, n, meta, body) VALUES(?1, ?2, ?3, ?4)",
				   err, err_size);
	if (!s)
		return -1;
	c->meta.data[c->meta.len] = ']';
	sqlite3_bind_int64(s, 1, c->first_id);
	sqlite3_bind_int(s, 2, c->n);
	sqlite3_bind_text(s, 3, c->meta.data, (int)c->meta.len + 1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, c->body.data, (int)c->body.len, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, err_size, "storing raw records");
	c->n = 0;
	c->meta.len = c->body.len = 0;
	/* One huge native record does not keep its buffer for the rest of the run. */
	struct im_jbuf *bufs[] = {&c->meta, &c->body};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		if (bufs[i]->cap > 4 * RAW_CHUNK_BYTES)
			im_jbuf_free(bufs[i]);
	return 0;
}

/* Forgets what is buffered (the transaction it belonged to is gone) and the
 * next id (another connection may write between our transactions). */
static void drop_raw(struct im_stage *st)
{
	st->raw.n = 0;
	st->raw.meta.len = st->raw.body.len = 0;
	st->raw_next = 0;
}

int im_stage_put_raw(struct im_stage *st, const char *stream, const char *source_id,
		     const char *origin, const char *data, size_t data_len, int64_t *raw_id,
		     char *err, size_t err_size)
{
	struct raw_chunk *c = &st->raw;
	if (!c->n) {
		if (!st->raw_next && raw_next_id(st, err, err_size) < 0)
			return -1;
		c->first_id = st->raw_next;
	}
	/* meta gets [stream, source_id, origin, offset, length] */
	struct im_jbuf *m = &c->meta;
	size_t meta_was = m->len, body_was = c->body.len;
	char tail[48]; /* ",OFFSET,LENGTH]" */
	size_t t = 0;
	tail[t++] = ',';
	t += im_json_int(tail + t, (int64_t)c->body.len);
	tail[t++] = ',';
	t += im_json_int(tail + t, (int64_t)data_len);
	tail[t++] = ']';
	if (data_len > INT32_MAX / 2 || im_jbuf_append(m, c->n ? ",[" : "[[", 2) ||
	    im_jbuf_append_string(m, stream) || im_jbuf_append(m, ",", 1) || im_jbuf_append_string(m, source_id) ||
	    im_jbuf_append(m, ",", 1) || im_jbuf_append_string(m, origin) || im_jbuf_append(m, tail, t) ||
	    im_jbuf_append(&c->body, data, data_len)) {
		m->len = meta_was;
		c->body.len = body_was;
		set_err(err, err_size, "%s: out of memory for a native record of %zu bytes", st->path, data_len);
		return -1;
	}
	c->n++;
	if (raw_id)
		*raw_id = st->raw_next;
	st->raw_next++;
	if (sqlite3_get_autocommit(st->db)) {
		/* No transaction: nothing would write it later. */
		int rc = flush_raw(st, err, err_size);
		drop_raw(st);
		return rc;
	}
	if ((c->body.len + c->meta.len >= RAW_CHUNK_BYTES || c->n >= RAW_CHUNK_RECORDS) &&
	    flush_raw(st, err, err_size) < 0) {
		/* As if this call had not happened: the caller gives up on this
		 * record, the ones before it stay buffered for the commit. */
		c->n--;
		m->len = meta_was;
		c->body.len = body_was;
		st->raw_next--;
		return -1;
	}
	return 0;
}

/* The columns of one raw record from its chunk c and meta element j. */
#define RAW_COLUMNS                                                                                                    \
	"json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'),"               \
	" CAST(substr(c.body, json_extract(j.value, '$[3]') + 1, json_extract(j.value, '$[4]')) AS TEXT)"

static char *dup_column(sqlite3_stmt *stmt, int col);

int im_stage_get_raw(struct im_stage *st, int64_t raw_id, char **data, char **stream,
		     char **source_id, char **origin)
{
	*data = NULL;
	if (flush_raw(st, NULL, 0) < 0)
		return -1;
	sqlite3_stmt *s = cached_stmt(st,
				      "SELECT " RAW_COLUMNS " FROM raw_chunk c, json_each(c.meta) j"
				      " WHERE c.id = (SELECT MAX(id) FROM raw_chunk WHERE id <= ?1) AND j.key = ?1 - c.id",
				      NULL, 0);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, raw_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 1;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return -1;
	}
	*data = dup_column(s, 3);
	if (stream)
		*stream = dup_column(s, 0);
	if (source_id)
		*source_id = dup_column(s, 1);
	if (origin)
		*origin = dup_column(s, 2);
	sqlite3_reset(s);
	return *data ? 0 : -1;
}

/* One chunk's records, from the first with id >= from, through fn. */
static int foreach_in_chunk(struct im_stage *st, sqlite3_stmt *chunk, int64_t from,
			    int (*fn)(void *arg, int64_t raw_id, const struct im_stage_raw *r), void *arg, char *err,
			    size_t err_size)
{
	int64_t id = sqlite3_column_int64(chunk, 0);
	const char *body = sqlite3_column_blob(chunk, 2);
	size_t body_len = (size_t)sqlite3_column_bytes(chunk, 2);
	sqlite3_stmt *s = cached_stmt(st,
				      "SELECT key, json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
				      " json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]')"
				      " FROM json_each(?1) WHERE key >= ?2 ORDER BY key",
				      err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_value(s, 1, sqlite3_column_value(chunk, 1));
	sqlite3_bind_int64(s, 2, from - id);
	int rc, ret = 0;
	while (!ret && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t off = sqlite3_column_int64(s, 4), len = sqlite3_column_int64(s, 5);
		struct im_stage_raw r = {
			.stream = (const char *)sqlite3_column_text(s, 1),
			.source_id = (const char *)sqlite3_column_text(s, 2),
			.origin = (const char *)sqlite3_column_text(s, 3),
		};
		if (!r.stream || off < 0 || len < 0 || (uint64_t)off + (uint64_t)len > body_len) {
			set_err(err, err_size, "%s: raw record %lld is damaged", st->path,
				(long long)(id + sqlite3_column_int64(s, 0)));
			sqlite3_reset(s);
			return -1;
		}
		/* Not NUL-terminated in the body: hand over a copy that is. */
		char *data = malloc((size_t)len + 1);
		if (!data) {
			set_err(err, err_size, "out of memory");
			sqlite3_reset(s);
			return -1;
		}
		memcpy(data, body + off, (size_t)len);
		data[len] = '\0';
		r.data = data;
		r.data_len = (size_t)len;
		ret = fn(arg, id + sqlite3_column_int64(s, 0), &r);
		free(data);
	}
	if (!ret && rc != SQLITE_DONE) {
		db_fail(st, err, err_size, "reading raw records");
		ret = -1;
	}
	sqlite3_reset(s);
	return ret;
}

int im_stage_raw_foreach(struct im_stage *st, int64_t from,
			 int (*fn)(void *arg, int64_t raw_id, const struct im_stage_raw *r), void *arg, char *err,
			 size_t err_size)
{
	if (flush_raw(st, err, err_size) < 0)
		return -1;
	/* From the chunk holding from, in id order. */
	sqlite3_stmt *s = cached_stmt(st,
				      "SELECT id, meta, body FROM raw_chunk WHERE id >= (SELECT COALESCE(MAX(id), 0)"
				      " FROM raw_chunk WHERE id <= ?1) ORDER BY id",
				      err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, from);
	int rc, ret = 0;
	while (!ret && (rc = sqlite3_step(s)) == SQLITE_ROW)
		ret = foreach_in_chunk(st, s, from, fn, arg, err, err_size);
	if (!ret && rc != SQLITE_DONE) {
		db_fail(st, err, err_size, "reading raw records");
		ret = -1;
	}
	sqlite3_reset(s);
	return ret;
}

static int exec_sql(struct im_stage *st, const char *sql, char *err, size_t err_size)
{
	char *msg = NULL;
	if (flush_raw(st, err, err_size) < 0)
		return -1;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		set_err(err, err_size, "%s: %s", st->path, msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static char *dup_column(sqlite3_stmt *stmt, int col)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	if (!text)
		return NULL;
	int len = sqlite3_column_bytes(stmt, col);
	char *copy = malloc((size_t)len + 1);
	if (copy) {
		memcpy(copy, text, (size_t)len);
		copy[len] = '\0';
	}
	return copy;
}

static int check_schema(struct im_stage *st, char *err, size_t err_size)
{
	char *version = NULL;
	int rc = im_stage_meta_get(st, "schema_version", &version);
	if (rc < 0)
		return db_fail(st, err, err_size, "reading the schema version");
	if (rc == 1) {
		char buf[16];
		snprintf(buf, sizeof buf, "%d", IM_STAGE_SCHEMA_VERSION);
		return im_stage_meta_set(st, "schema_version", buf, err, err_size);
	}
	int have = atoi(version);
	free(version);
	if (have != IM_STAGE_SCHEMA_VERSION) {
		set_err(err, err_size,
			"%s: stage schema version %d, this immigrate uses %d (finish the migration with the immigrate"
			" that made the stage, or start a new one with another state path)",
			st->path, have, IM_STAGE_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

static const char sched_index_sql[] =
	"CREATE INDEX IF NOT EXISTS records_sched ON records(kind, status, conv, ord, seq)";
static const char dedupe_index_sql[] = "CREATE UNIQUE INDEX IF NOT EXISTS records_dedupe ON records(dedupe_hash)";

/* An extract that has not reached the end of its source builds the scheduling
 * index when it ends (im_stage_bulk_end); until then nobody schedules loads. */
static int extract_in_progress(struct im_stage *st)
{
	sqlite3_stmt *s = NULL;
	int busy = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM checkpoints WHERE done = 0 LIMIT 1", -1, &s, NULL) == SQLITE_OK)
		busy = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return busy;
}

/* Page cache: 16 MiB normally; 8 MiB while an extract stages in bulk without
 * the dedupe index and while the indexes are sorted at the end. Appending
 * needs few pages: 24 MiB and 8 MiB took the same CPU time at 1M and 3M
 * records, at 48 and 31 MB peak RSS. The index builds sort in memory up to the
 * cache size and merge through temporary files beyond it. An extract that
 * probes the dedupe index (into a stage with records) gets 24 MiB, which holds
 * that index for about a million records: with 8 MiB, running a finished 1M
 * export again took 11.2 CPU-s instead of 9.3. */
#define CACHE_SIZE_SQL "PRAGMA cache_size=-16384"
#define BULK_CACHE_SIZE_SQL "PRAGMA cache_size=-8192"
#define PROBE_CACHE_SIZE_SQL "PRAGMA cache_size=-24576"

static int dedupe_deferred(struct im_stage *st, char *err, size_t err_size);

int im_stage_bulk_begin(struct im_stage *st, char *err, size_t err_size)
{
	st->dedupe = DEDUPE_UNKNOWN;
	forget_recent(st);
	if (exec_sql(st, "DROP INDEX IF EXISTS records_sched", err, err_size) < 0)
		return -1;
	/* The dedupe index only goes in an empty stage: an extract run again over
	 * what it staged before would append a copy of every record and delete it
	 * again at the end (1.9 times the CPU time of probing the index, at 1M
	 * records). An index an earlier, unfinished run dropped stays dropped. */
	sqlite3_stmt *q = cached_stmt(st, "SELECT EXISTS (SELECT 1 FROM records)", err, err_size);
	if (!q)
		return -1;
	int rc = sqlite3_step(q);
	int empty = rc == SQLITE_ROW && sqlite3_column_int(q, 0) == 0;
	sqlite3_reset(q);
	if (rc != SQLITE_ROW)
		return db_fail(st, err, err_size, "looking at the records");
	if (empty && exec_sql(st, "DROP INDEX IF EXISTS records_dedupe", err, err_size) < 0)
		return -1;
	int deferred = dedupe_deferred(st, err, err_size);
	if (deferred < 0)
		return -1;
	return exec_sql(st, deferred ? BULK_CACHE_SIZE_SQL : PROBE_CACHE_SIZE_SQL, err, err_size);
}

/* Builds the unique dedupe index; when rows staged in bulk share a hash, first
 * removes the later copies of each key and moves colliding keys (see
 * im_stage_resolve_duplicates). */
static int build_dedupe_index(struct im_stage *st, im_stage_dup_fn on_duplicate, void *arg, char *err,
			      size_t err_size)
{
	if (flush_raw(st, err, err_size) < 0)
		return -1;
	int rc = sqlite3_exec(st->db, dedupe_index_sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	if ((rc & 0xff) != SQLITE_CONSTRAINT)
		return db_fail(st, err, err_size, "building the dedupe index");
	if (im_stage_resolve_duplicates(st->db, st->path, on_duplicate, arg, err, err_size) < 0)
		return -1;
	return exec_sql(st, dedupe_index_sql, err, err_size);
}

int im_stage_bulk_end(struct im_stage *st, im_stage_dup_fn on_duplicate, void *arg, char *err, size_t err_size)
{
	if (exec_sql(st, BULK_CACHE_SIZE_SQL, err, err_size) < 0)
		return -1;
	/* Duplicates go and the index appears together, or neither does (a crash
	 * in between leaves the extract to be ended again at the next open). */
	int own_txn = sqlite3_get_autocommit(st->db);
	int rc = own_txn ? exec_sql(st, "BEGIN IMMEDIATE", err, err_size) : 0;
	if (rc == 0)
		rc = build_dedupe_index(st, on_duplicate, arg, err, err_size);
	if (rc == 0)
		rc = exec_sql(st, sched_index_sql, err, err_size);
	if (own_txn && rc == 0)
		rc = exec_sql(st, "COMMIT", err, err_size);
	else if (own_txn)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	exec_sql(st, CACHE_SIZE_SQL, NULL, 0); /* the bulk is over */
	st->dedupe = DEDUPE_UNKNOWN;
	forget_recent(st);
	return rc;
}

/* Process-wide settings, before SQLite initialises (no effect afterwards).
 * Memory statistics take a global mutex around every allocation SQLite makes:
 * ~1,000 instructions per native record of an extract (callgrind, 50k
 * records). Nothing here reads them (no soft heap limit, no
 * sqlite3_memory_used). */
static pthread_once_t sqlite_config_once = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int im_stage_open(const char *path, struct im_stage **out, char *err, size_t err_size)
{
	*out = NULL;
	pthread_once(&sqlite_config_once, configure_sqlite);
	struct im_stage *st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(path))) {
		free(st);
		set_err(err, err_size, "%s: out of memory", path);
		return -1;
	}
	/* A new stage is created owner-only: it will hold every message of the
	 * migration. SQLite gives its -wal and -shm files the same mode. An
	 * existing file keeps the mode its owner chose. */
	if (strcmp(path, ":memory:") != 0) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		set_err(err, err_size, "%s: cannot open the stage: %s", path,
			st->db ? sqlite3_errmsg(st->db) : "out of memory");
		im_stage_close(st);
		return -1;
	}
	/* A second process on the same stage (e.g. `dlq list` during a run) waits
	 * for the writer's transaction instead of failing at once. */
	sqlite3_busy_timeout(st->db, 10000);
	/* page_size takes effect only while the file is empty, before WAL is on: a
	 * new stage gets 16 KiB pages (fewer B-tree levels and a quarter of the
	 * write calls of 4 KiB pages: about a tenth of the extract's CPU time);
	 * an existing stage keeps its own.
	 *
	 * synchronous stays NORMAL. OFF would save little here (WAL syncs only at
	 * checkpoints: ~3% of an extract) and, unlike NORMAL, lets an OS crash or
	 * power loss during a WAL checkpoint corrupt the database, i.e. lose a
	 * committed checkpoint token without its records or the reverse. With
	 * NORMAL a power loss can only drop the last transactions whole: the
	 * checkpoint token and the records it covers go together, and the next run
	 * resumes from the older token, exactly once.
	 *
	 * secure_delete (on in Debian's build, off in SQLite's own default) zeroes
	 * every byte a B-tree frees, page splits included: ~600 instructions per
	 * staged record, and more at load time, where status updates move index
	 * entries. Everything it would scrub is still in the stage anyway (the raw
	 * records, the payloads). */
	if (exec_sql(st, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 " PRAGMA foreign_keys=OFF; PRAGMA secure_delete=OFF; " CACHE_SIZE_SQL ";",
		     err, err_size) < 0 ||
	    exec_sql(st, "BEGIN IMMEDIATE", err, err_size) < 0) {
		im_stage_close(st);
		return -1;
	}
	if (exec_sql(st, schema_sql, err, err_size) < 0 || check_schema(st, err, err_size) < 0 ||
	    (!extract_in_progress(st) && im_stage_bulk_end(st, NULL, NULL, err, err_size) < 0) ||
	    exec_sql(st, "COMMIT", err, err_size) < 0) {
		im_stage_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

void im_stage_close(struct im_stage *st)
{
	if (!st)
		return;
	if (st->db) {
		if (st->in_txn)
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		for (int i = 0; i < STMT_SLOTS; i++)
			sqlite3_finalize(st->slots[i].stmt);
		sqlite3_finalize(st->raw_insert.stmt);
		sqlite3_finalize(st->record_insert.stmt);
		sqlite3_finalize(st->record_append.stmt);
		sqlite3_close(st->db);
	}
	free(st->recent);
	free(st->raw.meta.data);
	free(st->raw.body.data);
	free(st->path);
	free(st);
}

sqlite3 *im_stage_db(struct im_stage *st)
{
	/* The caller may read raw: write what is buffered (a failure is reported
	 * by the commit, which tries again). */
	flush_raw(st, NULL, 0);
	return st->db;
}

const char *im_stage_path(const struct im_stage *st)
{
	return st->path;
}

const char *im_stage_errmsg(struct im_stage *st)
{
	return sqlite3_errmsg(st->db);
}

/* Keyed by the SQL text's address: callers pass literals, so a lookup costs a
 * pointer compare, not a walk over the text. Equal text from two places just
 * gets two statements. */
static size_t slot_hash(const char *sql)
{
	uintptr_t p = (uintptr_t)sql;
	return (size_t)((p >> 3) ^ (p >> 11)) % STMT_SLOTS;
}

/* im_stage_stmt without writing the raw chunk first: for this file's
 * statements that do not read raw. */
static sqlite3_stmt *cached_stmt(struct im_stage *st, const char *sql, char *err, size_t err_size)
{
	size_t i = slot_hash(sql);
	for (size_t probe = 0; probe < STMT_SLOTS; probe++, i = (i + 1) % STMT_SLOTS) {
		struct stmt_slot *slot = &st->slots[i];
		if (slot->sql == sql) {
			sqlite3_reset(slot->stmt);
			sqlite3_clear_bindings(slot->stmt);
			return slot->stmt;
		}
		if (!slot->sql) {
			if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->stmt, NULL) !=
			    SQLITE_OK) {
				db_fail(st, err, err_size, "preparing a statement");
				slot->stmt = NULL;
				return NULL;
			}
			slot->sql = sql;
			return slot->stmt;
		}
	}
	set_err(err, err_size, "%s: more than %d cached statements", st->path, STMT_SLOTS);
	return NULL;
}

sqlite3_stmt *im_stage_stmt(struct im_stage *st, const char *sql, char *err, size_t err_size)
{
	/* The caller may read raw. */
	if (flush_raw(st, err, err_size) < 0)
		return NULL;
	return cached_stmt(st, sql, err, err_size);
}

int im_stage_begin(struct im_stage *st, char *err, size_t err_size)
{
	if (st->in_txn) {
		set_err(err, err_size, "%s: a transaction is already open", st->path);
		return -1;
	}
	if (!sqlite3_get_autocommit(st->db)) {
		/* A statement stepped but never reset keeps an implicit one open. */
		set_err(err, err_size, "%s: a statement is still active (not reset)", st->path);
		return -1;
	}
	sqlite3_stmt *s = cached_stmt(st, "BEGIN IMMEDIATE", err, err_size);
	if (!s)
		return -1;
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_fail(st, err, err_size, "beginning a transaction");
	sqlite3_reset(s);
	st->in_txn = 1;
	st->raw_next = 0; /* another connection may have written since */
	st->dedupe = DEDUPE_UNKNOWN; /* or dropped or built the dedupe index */
	forget_recent(st);
	return 0;
}

int im_stage_commit(struct im_stage *st, char *err, size_t err_size)
{
	if (flush_raw(st, err, err_size) < 0)
		return -1;
	sqlite3_stmt *s = cached_stmt(st, "COMMIT", err, err_size);
	if (!s)
		return -1;
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, err_size, "committing");
	st->in_txn = 0;
	return 0;
}

void im_stage_rollback(struct im_stage *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_txn = 0;
	drop_raw(st);
	forget_recent(st);
}

int im_stage_in_transaction(const struct im_stage *st)
{
	return st->in_txn;
}

static void bind_text_or_null(sqlite3_stmt *s, int col, const char *text)
{
	if (text)
		sqlite3_bind_text(s, col, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, col);
}

static void bind_id_or_null(sqlite3_stmt *s, int col, int64_t id)
{
	if (id)
		sqlite3_bind_int64(s, col, id);
	else
		sqlite3_bind_null(s, col);
}

static int step_done(struct im_stage *st, sqlite3_stmt *s, char *err, size_t err_size, const char *what)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_fail(st, err, err_size, what);
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return 0;
}

/* 64-bit FNV-1a with a murmur3 finaliser: the dedupe index holds 8-byte
 * integers instead of the key text, which keeps it small enough to stay in the
 * page cache. Collisions are resolved exactly, by the text (see below). */
static uint64_t key_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The record holding hash h: 1 with its id when its key is key, 2 when another
 * key holds it, 0 when free, -1 on error. */
static int hash_owner(struct im_stage *st, int64_t h, const char *key, int64_t *id, char *err, size_t err_size)
{
	sqlite3_stmt *q =
		cached_stmt(st, "SELECT id, dedupe_key FROM records WHERE dedupe_hash = ?1", err, err_size);
	if (!q)
		return -1;
	sqlite3_bind_int64(q, 1, h);
	int rc = sqlite3_step(q), owner = 0;
	if (rc == SQLITE_ROW) {
		const char *stored = (const char *)sqlite3_column_text(q, 1);
		owner = stored && !strcmp(stored, key) ? 1 : 2;
		if (owner == 1 && id)
			*id = sqlite3_column_int64(q, 0);
	} else if (rc != SQLITE_DONE) {
		owner = -1;
		db_fail(st, err, err_size, "looking a dedupe key up");
	}
	sqlite3_reset(q);
	return owner;
}

/* Binds rec, stored under hash h, to the insert statement h_stmt. */
static void bind_record(struct hot_stmt *h_stmt, const struct im_stage_record *rec, uint64_t h)
{
	sqlite3_stmt *s = h_stmt->stmt;
	bind_sticky(h_stmt, 1, rec->kind);
	sqlite3_bind_text(s, 2, rec->conv, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, rec->ord);
	sqlite3_bind_int64(s, 4, rec->seq);
	sqlite3_bind_text(s, 5, rec->payload, (int)rec->payload_len, SQLITE_STATIC);
	bind_text_or_null(s, 6, rec->source_id);
	sqlite3_bind_int64(s, 7, (int64_t)h);
	sqlite3_bind_text(s, 8, rec->dedupe_key, -1, SQLITE_STATIC);
	bind_id_or_null(s, 9, rec->raw_id);
}

#define RECORD_INSERT_SQL                                                                                              \
	"INSERT INTO records(kind, conv, ord, seq, payload, source_id, dedupe_hash, dedupe_key, raw_id)"               \
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"

/* 1 when the dedupe index is absent (duplicates are removed when the bulk
 * extract ends), 0 when it is there, -1 on error. */
static int dedupe_deferred(struct im_stage *st, char *err, size_t err_size)
{
	if (st->dedupe == DEDUPE_UNKNOWN || sqlite3_get_autocommit(st->db)) {
		sqlite3_stmt *q = cached_stmt(
			st, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'records_dedupe'", err,
			err_size);
		if (!q)
			return -1;
		int rc = sqlite3_step(q);
		int indexed = rc == SQLITE_ROW && sqlite3_column_int(q, 0) > 0;
		sqlite3_reset(q);
		if (rc != SQLITE_ROW)
			return db_fail(st, err, err_size, "looking for the dedupe index");
		st->dedupe = indexed ? DEDUPE_INDEXED : DEDUPE_DEFERRED;
	}
	return st->dedupe == DEDUPE_DEFERRED;
}

/* put_record without the dedupe index: a copy made earlier in this
 * transaction is found in st->recent, anything else is appended under its
 * first hash for im_stage_bulk_end to sort out as probing would have. */
static int append_record(struct im_stage *st, const struct im_stage_record *rec, uint64_t h, int64_t *id,
			 char *err, size_t err_size)
{
	size_t key_len = strlen(rec->dedupe_key);
	struct recent_key *seen = st->recent ? &st->recent[h & (RECENT_SLOTS - 1)] : NULL;
	if (seen && seen->len == key_len && seen->hash == h && !memcmp(seen->key, rec->dedupe_key, key_len)) {
		if (id)
			*id = seen->id;
		return IM_STAGE_DUPLICATE;
	}
	if (!hot_stmt(st, &st->record_append, RECORD_INSERT_SQL, err, err_size))
		return -1;
	bind_record(&st->record_append, rec, h);
	if (step_done(st, st->record_append.stmt, err, err_size, "staging a record") < 0)
		return -1;
	int64_t new_id = sqlite3_last_insert_rowid(st->db);
	if (id)
		*id = new_id;
	if (!st->recent)
		st->recent = calloc(RECENT_SLOTS, sizeof *st->recent); /* none: nothing is remembered */
	if (st->recent && key_len < RECENT_KEY_MAX) {
		seen = &st->recent[h & (RECENT_SLOTS - 1)];
		seen->hash = h;
		seen->id = new_id;
		seen->len = (uint8_t)key_len;
		memcpy(seen->key, rec->dedupe_key, key_len);
	}
	return IM_STAGE_NEW;
}

int im_stage_put_record(struct im_stage *st, const struct im_stage_record *rec, int64_t *id,
			char *err, size_t err_size)
{
	uint64_t h = key_hash(rec->dedupe_key);
	int deferred = dedupe_deferred(st, err, err_size);
	if (deferred)
		return deferred < 0 ? -1 : append_record(st, rec, h, id, err, err_size);
	/* ON CONFLICT DO NOTHING keeps the first staging of a record: a re-run (or
	 * a resumed run re-reading what the last checkpoint did not cover) changes
	 * nothing, including the status of records already landed. Two different
	 * keys with one hash: the later one probes h+1, h+2, ...; only later
	 * copies of a key are ever deleted, so a re-run follows the same probe
	 * sequence. */
	for (int probe = 0; probe < IM_STAGE_MAX_PROBES; probe++, h++) {
		sqlite3_stmt *s = hot_stmt(st, &st->record_insert,
					   RECORD_INSERT_SQL " ON CONFLICT(dedupe_hash) DO NOTHING", err, err_size);
		if (!s)
			return -1;
		bind_record(&st->record_insert, rec, h);
		if (step_done(st, s, err, err_size, "staging a record") < 0)
			return -1;
		if (sqlite3_changes(st->db) > 0) {
			if (id)
				*id = sqlite3_last_insert_rowid(st->db);
			return IM_STAGE_NEW;
		}
		int owner = hash_owner(st, (int64_t)h, rec->dedupe_key, id, err, err_size);
		if (owner < 0)
			return -1;
		if (owner == 1)
			return IM_STAGE_DUPLICATE;
		if (owner == 0) {
			set_err(err, err_size, "%s: staging a record: insert ignored without a conflict", st->path);
			return -1;
		}
	}
	set_err(err, err_size, "%s: staging a record: %d dedupe hash collisions in a row", st->path,
		IM_STAGE_MAX_PROBES);
	return -1;
}

/* For tests: the hash a key is stored under first. */
int64_t im_stage_dedupe_hash(const char *key)
{
	return (int64_t)key_hash(key);
}

int im_stage_put_dead(struct im_stage *st, const struct im_stage_dead *dl, int64_t *id, char *err,
		      size_t err_size)
{
	sqlite3_stmt *s = cached_stmt(
		st,
		"INSERT INTO dead_letters(record_id, raw_id, stage, kind, origin, raw, payload, code, reason,"
		" attempts, created_at, event_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
		err, err_size);
	if (!s)
		return -1;
	bind_id_or_null(s, 1, dl->record_id);
	bind_id_or_null(s, 2, dl->raw_id);
	sqlite3_bind_text(s, 3, dl->stage, -1, SQLITE_STATIC);
	bind_text_or_null(s, 4, dl->kind);
	bind_text_or_null(s, 5, dl->origin);
	bind_text_or_null(s, 6, dl->raw);
	bind_text_or_null(s, 7, dl->payload);
	if (dl->code)
		sqlite3_bind_int(s, 8, dl->code);
	else
		sqlite3_bind_null(s, 8);
	sqlite3_bind_text(s, 9, dl->reason ? dl->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, dl->attempts);
	sqlite3_bind_int64(s, 11, (int64_t)time(NULL));
	bind_id_or_null(s, 12, dl->event_id);
	if (step_done(st, s, err, err_size, "storing a dead letter") < 0)
		return -1;
	if (id)
		*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int im_stage_save_checkpoint(struct im_stage *st, const char *source, const char *token, int done,
			     char *err, size_t err_size)
{
	sqlite3_stmt *s = cached_stmt(
		st,
		"INSERT INTO checkpoints(source, token, done, updated_at) VALUES(?1, ?2, ?3, ?4)"
		" ON CONFLICT(source) DO UPDATE SET token = excluded.token, done = excluded.done,"
		" updated_at = excluded.updated_at",
		err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	bind_text_or_null(s, 2, token);
	sqlite3_bind_int(s, 3, done ? 1 : 0);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	return step_done(st, s, err, err_size, "saving the checkpoint");
}

int im_stage_load_checkpoint(struct im_stage *st, const char *source, char **token, int *done,
			     char *err, size_t err_size)
{
	*token = NULL;
	*done = 0;
	sqlite3_stmt *s =
		cached_stmt(st, "SELECT token, done FROM checkpoints WHERE source = ?1", err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 1;
	}
	if (rc != SQLITE_ROW) {
		db_fail(st, err, err_size, "loading the checkpoint");
		sqlite3_reset(s);
		return -1;
	}
	if (sqlite3_column_type(s, 0) != SQLITE_NULL && !(*token = dup_column(s, 0))) {
		sqlite3_reset(s);
		set_err(err, err_size, "out of memory");
		return -1;
	}
	*done = sqlite3_column_int(s, 1);
	sqlite3_reset(s);
	return 0;
}

int im_stage_idmap_put(struct im_stage *st, const char *ns, const char *old_id, const char *new_id,
		       char *err, size_t err_size)
{
	sqlite3_stmt *s = cached_stmt(
		st, "INSERT OR IGNORE INTO idmap(namespace, old_id, new_id) VALUES(?1, ?2, ?3)", err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, old_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, new_id, -1, SQLITE_STATIC);
	return step_done(st, s, err, err_size, "recording an id mapping");
}

int im_stage_idmap_get(struct im_stage *st, const char *ns, const char *old_id, char **new_id)
{
	*new_id = NULL;
	sqlite3_stmt *s =
		cached_stmt(st, "SELECT new_id FROM idmap WHERE namespace = ?1 AND old_id = ?2", NULL, 0);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, old_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*new_id = dup_column(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 1;
	return rc == SQLITE_ROW && *new_id ? 0 : -1;
}

int im_stage_counts(struct im_stage *st,
		    int (*fn)(void *arg, const char *kind, int status, int64_t n), void *arg)
{
	sqlite3_stmt *s = cached_stmt(
		st, "SELECT kind, status, count(*) FROM records GROUP BY kind, status ORDER BY kind, status",
		NULL, 0);
	if (!s)
		return -1;
	int rc, ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ret = fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
			 sqlite3_column_int64(s, 2));
		if (ret)
			break;
	}
	sqlite3_reset(s);
	if (!ret && rc != SQLITE_DONE)
		return -1;
	return ret;
}

int64_t im_stage_count(struct im_stage *st, const char *kind, int status)
{
	sqlite3_stmt *s = cached_stmt(st,
					"SELECT count(*) FROM records WHERE (?1 IS NULL OR kind = ?1)"
					" AND (?2 < 0 OR status = ?2)",
					NULL, 0);
	if (!s)
		return -1;
	bind_text_or_null(s, 1, kind);
	sqlite3_bind_int(s, 2, status);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_reset(s);
	return n;
}

int64_t im_stage_count_dead(struct im_stage *st, const char *stage)
{
	sqlite3_stmt *s = cached_stmt(
		st, "SELECT count(*) FROM dead_letters WHERE (?1 IS NULL OR stage = ?1) AND replayed = 0", NULL,
		0);
	if (!s)
		return -1;
	bind_text_or_null(s, 1, stage);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_reset(s);
	return n;
}

int im_stage_run_begin(struct im_stage *st, const char *command, int64_t *run_id, char *err,
		       size_t err_size)
{
	sqlite3_stmt *s =
		cached_stmt(st, "INSERT INTO runs(command, started_at) VALUES(?1, ?2)", err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, command, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
	if (step_done(st, s, err, err_size, "recording the run") < 0)
		return -1;
	*run_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int im_stage_run_end(struct im_stage *st, int64_t run_id, int exit_code, const char *counters,
		     char *err, size_t err_size)
{
	sqlite3_stmt *s = cached_stmt(
		st, "UPDATE runs SET ended_at = ?2, exit_code = ?3, counters = ?4 WHERE id = ?1", err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
	sqlite3_bind_int(s, 3, exit_code);
	bind_text_or_null(s, 4, counters);
	return step_done(st, s, err, err_size, "recording the end of the run");
}

int im_stage_meta_set(struct im_stage *st, const char *key, const char *value, char *err,
		      size_t err_size)
{
	sqlite3_stmt *s = cached_stmt(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", err,
					err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	bind_text_or_null(s, 2, value);
	return step_done(st, s, err, err_size, "writing meta");
}

int im_stage_meta_get(struct im_stage *st, const char *key, char **value)
{
	*value = NULL;
	sqlite3_stmt *s = cached_stmt(st, "SELECT value FROM meta WHERE key = ?1", NULL, 0);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*value = dup_column(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 1;
	return rc == SQLITE_ROW && *value ? 0 : -1;
}
