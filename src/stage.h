/* The stage: a SQLite database (WAL, synchronous=NORMAL, 16 KiB pages when
 * created by this version) between the transform and the load halves of a
 * migration.
 *
 * One struct im_stage per process and database file. It caches its prepared
 * statements; every function below reuses them, and im_stage_stmt() lets other
 * modules (the load side) cache their own.
 *
 * Writes are grouped into explicit transactions (im_stage_begin/im_stage_commit):
 * the extractor stages the records produced since the previous checkpoint and the
 * new checkpoint in ONE transaction, so a crash at any moment loses or duplicates
 * nothing. Calls made outside a transaction autocommit.
 *
 * Schema (IM_STAGE_SCHEMA_VERSION; created on first open, checked afterwards):
 *
 *   raw_chunk(id INTEGER PRIMARY KEY, -- raw id of the first record in the row
 *       n INTEGER NOT NULL,        -- records in the row: raw ids id .. id+n-1
 *       meta TEXT NOT NULL,        -- JSON array, one [stream, source_id, origin,
 *                                     offset, length] per record
 *       body BLOB NOT NULL)        -- the records' JSON texts back to back
 *     Chunks of ~60 KB: one B-tree insert per few hundred native records instead
 *     of one each. Kept so a dead letter at any stage can be replayed through a
 *     fixed script and a resumed extract can rebuild the script's state; read
 *     them with im_stage_get_raw / im_stage_raw_foreach.
 *   raw(id, stream, source_id, origin, data): a view with one row per native
 *     record over raw_chunk, for ad-hoc queries and the sqlite3 shell
 *   records(id INTEGER PRIMARY KEY,
 *       kind TEXT NOT NULL,         -- "account", "c2c_msg", ... (imrecord.h names)
 *       conv TEXT NOT NULL,         -- serialisation key: GroupId for group kinds,
 *                                      "a|b" (sorted user pair) for c2c kinds,
 *                                      From_Account for friend/blacklist/profile,
 *                                      UserID for account
 *       ord INTEGER NOT NULL,       -- time order key: MsgTimeStamp/SendTime/
 *                                      MsgReadTime..., else the input order
 *       seq INTEGER NOT NULL,       -- tie breaker: input order within the run
 *       payload TEXT NOT NULL,      -- the IM record as JSON, without "kind" and
 *                                      "_source_id"; derived MsgSeq/MsgRandom/Random
 *                                      are already filled in
 *       source_id TEXT,             -- the old system's id, or NULL
 *       dedupe_hash INTEGER NOT NULL,  -- 64-bit hash of dedupe_key, unique
 *                                      through records_dedupe (collisions probe
 *                                      hash+1...; compare the text)
 *       dedupe_key TEXT NOT NULL,   -- kind + identity
 *       raw_id INTEGER,             -- raw.id of the native record it came from
 *       status INTEGER NOT NULL DEFAULT 0,   -- enum im_stage_status
 *       batch INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
 *       last_code INTEGER, retry_at INTEGER)  -- Unix seconds
 *     unique index records_dedupe(dedupe_hash) and index records_sched(kind,
 *       status, conv, ord, seq): dropped while an extract stages in bulk
 *       (im_stage_bulk_begin) and built when it reaches the end of its source
 *       (im_stage_bulk_end, or the next im_stage_open when no checkpoint is
 *       unfinished). While records_dedupe is absent, records are appended
 *       as they come and the later copies of a key go when it is built.
 *   dead_letters(id INTEGER PRIMARY KEY, record_id INTEGER, raw_id INTEGER,
 *       stage TEXT NOT NULL,        -- "parse" | "script" | "validate" | "api"
 *       kind TEXT, origin TEXT, raw TEXT, payload TEXT, code INTEGER,
 *       reason TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
 *       created_at INTEGER NOT NULL, replayed INTEGER NOT NULL DEFAULT 0,
 *       event_id INTEGER)           -- sync_events.id of a sync event that went
 *                                      dead (outbox.h), else NULL: `dlq replay`
 *                                      puts that event back to pending
 *   checkpoints(source TEXT PRIMARY KEY, token TEXT, done INTEGER NOT NULL,
 *       updated_at INTEGER NOT NULL)
 *   idmap(namespace TEXT, old_id TEXT, new_id TEXT NOT NULL,
 *       PRIMARY KEY(namespace, old_id))
 *   runs(id INTEGER PRIMARY KEY, command TEXT, started_at INTEGER,
 *       ended_at INTEGER, exit_code INTEGER, counters TEXT)  -- counters: JSON
 *   meta(key TEXT PRIMARY KEY, value TEXT)  -- "schema_version", free keys
 *
 * Return codes: 0 success, -1 failure with a message in err (naming the
 * database file and SQLite's reason). Functions taking no err buffer log nothing
 * and return -1; im_stage_errmsg() then says why. */
#ifndef IMMIGRATE_STAGE_H
#define IMMIGRATE_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define IM_STAGE_SCHEMA_VERSION 4

struct im_stage;

/* records.status values. */
enum im_stage_status {
	IM_STAGE_PENDING = 0,  /* staged, not sent */
	IM_STAGE_INFLIGHT = 1, /* part of batch `batch`, outcome not yet known */
	IM_STAGE_LANDED = 2,   /* the target accepted it */
	IM_STAGE_DEAD = 3,     /* gave up; a dead_letters row says why */
};
#define IM_STAGE_NSTATUS 4
/* "pending", "inflight", "landed", "dead"; NULL for other values. */
const char *im_stage_status_name(int status);

/* Results of im_stage_put_record. */
enum { IM_STAGE_NEW = 0, IM_STAGE_DUPLICATE = 1 };

/* Opens (creating when missing) the stage at path, in WAL mode, and creates or
 * checks the schema. A database of another schema version is refused. On success
 * stores a handle in *out (close with im_stage_close) and returns 0. */
int im_stage_open(const char *path, struct im_stage **out, char *err, size_t err_size);

/* Finalises cached statements and closes the database. An open transaction is
 * rolled back. NULL is fine. */
void im_stage_close(struct im_stage *st);

/* The underlying connection, owned by the stage (do not close it). For the load
 * side's own queries; prefer im_stage_stmt() for statements run often. Writes
 * the buffered native records first (see im_stage_put_raw), so that raw reads
 * complete; native records put after this call and read through the same
 * connection need another call (or im_stage_stmt) first. */
sqlite3 *im_stage_db(struct im_stage *st);

/* The path given to im_stage_open (owned by the stage). */
const char *im_stage_path(const struct im_stage *st);

/* SQLite's message for the last failure on this connection. */
const char *im_stage_errmsg(struct im_stage *st);

/* A prepared statement for sql, cached by the stage for its lifetime (keyed by the
 * address of the text: pass string literals or other storage that lives as long
 * as the stage; at most 128). Returned reset with bindings cleared; the caller
 * binds, steps and need not finalise, but must reset it (sqlite3_reset) when it
 * stops before SQLITE_DONE: an active statement keeps a transaction open and
 * im_stage_begin then fails. Writes the buffered native records first (see
 * im_stage_put_raw). NULL with err filled on a prepare or write error. */
sqlite3_stmt *im_stage_stmt(struct im_stage *st, const char *sql, char *err, size_t err_size);

/* Write transactions. begin fails when one is already open (no nesting).
 * rollback is safe when none is open. */
int im_stage_begin(struct im_stage *st, char *err, size_t err_size);
int im_stage_commit(struct im_stage *st, char *err, size_t err_size);
void im_stage_rollback(struct im_stage *st);
/* Non-zero while a transaction from im_stage_begin is open. */
int im_stage_in_transaction(const struct im_stage *st);

/* Stores one native record. stream and data are required; source_id and origin may
 * be NULL. data is JSON text (or the unparsable raw text) of data_len bytes. Stores
 * its new raw id in *raw_id. Inside a transaction the record is buffered and
 * written with others in one raw row: when the chunk is full, at im_stage_commit,
 * or before any statement from im_stage_stmt()/im_stage_db() runs; a rollback
 * drops it with the rest of the transaction. Outside one it is written at once. */
int im_stage_put_raw(struct im_stage *st, const char *stream, const char *source_id,
		     const char *origin, const char *data, size_t data_len, int64_t *raw_id,
		     char *err, size_t err_size);

/* Reads back a raw record: the malloc'd data text (caller frees) and, when the
 * pointers are non-NULL, malloc'd copies of stream / source_id (NULL when none) /
 * origin. Returns 1 when there is no such record, 0 on success, -1 on error. */
int im_stage_get_raw(struct im_stage *st, int64_t raw_id, char **data, char **stream,
		     char **source_id, char **origin);

/* One raw record as im_stage_raw_foreach hands it over: NUL-terminated texts
 * owned by the stage, valid during the call only. */
struct im_stage_raw {
	const char *stream;
	const char *source_id; /* NULL when none */
	const char *origin;    /* NULL when none */
	const char *data;
	size_t data_len;
};

/* Calls fn for every raw record with id >= from, in id order. Stops when fn
 * returns non-zero and returns that value; 0 after the last record; -1 on error
 * (err filled). */
int im_stage_raw_foreach(struct im_stage *st, int64_t from,
			 int (*fn)(void *arg, int64_t raw_id, const struct im_stage_raw *r), void *arg, char *err,
			 size_t err_size);

/* Told about each record im_stage_bulk_end removes as a later copy of a key
 * staged before it: its kind (borrowed for the call) and id. */
typedef void (*im_stage_dup_fn)(void *arg, const char *kind, int64_t id);

/* Bulk staging: begin drops the records_sched index, and records_dedupe when
 * the stage holds no records yet (maintaining them row by row costs more than
 * building them once; see records in the schema above), and sets the page
 * cache to 8 MiB (appending needs few pages), or to 24 MiB when the dedupe
 * index stays (probed per record, it should stay cached). Until the dedupe
 * index is back, im_stage_put_record appends every record as new on any
 * connection, but for a copy made earlier in the same transaction, which it
 * answers as a duplicate. End removes the later copies of every key
 * (calling on_duplicate, which may be NULL, for each), rebuilds both indexes
 * (sorting in 8 MiB) in one transaction (its own unless the caller has one
 * open), and restores the cache. Both are idempotent. */
int im_stage_bulk_begin(struct im_stage *st, char *err, size_t err_size);
int im_stage_bulk_end(struct im_stage *st, im_stage_dup_fn on_duplicate, void *arg, char *err, size_t err_size);

/* Probes of hash+1, hash+2, ... before a key is refused as unstageable. */
#define IM_STAGE_MAX_PROBES 16

/* The dedupe_hash a key is first tried under (exposed for tests and tools). */
int64_t im_stage_dedupe_hash(const char *key);

/* One IM record to stage. All strings borrowed for the call. */
struct im_stage_record {
	const char *kind;       /* imrecord kind name */
	const char *conv;       /* serialisation key */
	int64_t ord;            /* time order key */
	int64_t seq;            /* tie breaker (input order) */
	const char *payload;    /* JSON text without kind/_source_id */
	size_t payload_len;
	const char *source_id;  /* may be NULL */
	const char *dedupe_key; /* kind-prefixed identity, see imrecord.h */
	int64_t raw_id;         /* 0: none */
};

/* Stages rec as pending. Returns IM_STAGE_NEW when inserted, IM_STAGE_DUPLICATE
 * when a record with the same dedupe_key exists already (nothing changes: a re-run
 * never duplicates), -1 on error. *id (may be NULL) receives the new or existing
 * record's id. During a bulk extract (no dedupe index) a record is NEW here
 * unless its copy was staged earlier in the same transaction; other copies
 * are removed by im_stage_bulk_end, which names them. */
int im_stage_put_record(struct im_stage *st, const struct im_stage_record *rec, int64_t *id,
			char *err, size_t err_size);

/* One dead letter. All strings borrowed; any may be NULL except stage and reason. */
struct im_stage_dead {
	int64_t record_id;   /* records.id when the record was staged (api stage), else 0 */
	int64_t raw_id;      /* raw.id of the native record, else 0 */
	const char *stage;   /* "parse" | "script" | "validate" | "api" */
	const char *kind;    /* IM record kind when known */
	const char *origin;  /* "export.jsonl:12", "map.lua:34" ... */
	const char *raw;     /* raw text when there is no raw row (or a copy for humans) */
	const char *payload; /* the IM record JSON when one exists */
	int code;            /* Tencent error code, or 0 */
	const char *reason;  /* human reason */
	int attempts;
	int64_t event_id;    /* sync_events.id when the sync daemon gave up on an event, else 0 */
};

/* Appends a dead letter (created_at = now). *id may be NULL. */
int im_stage_put_dead(struct im_stage *st, const struct im_stage_dead *dl, int64_t *id, char *err,
		      size_t err_size);

/* Saves the resume token of source (e.g. the plugin name): token may be NULL (at
 * the start), done non-zero when the source has been read to its end. Call inside
 * the transaction holding the records produced since the previous checkpoint. */
int im_stage_save_checkpoint(struct im_stage *st, const char *source, const char *token, int done,
			     char *err, size_t err_size);

/* Loads the checkpoint of source. Returns 1 when none was saved (*token NULL,
 * *done 0), 0 when found (*token: malloc'd copy or NULL; caller frees), -1 on error. */
int im_stage_load_checkpoint(struct im_stage *st, const char *source, char **token, int *done,
			     char *err, size_t err_size);

/* Records old_id -> new_id in namespace ("user", "group", ...). An existing
 * mapping for old_id is kept (ids are deterministic, so it is the same). */
int im_stage_idmap_put(struct im_stage *st, const char *ns, const char *old_id, const char *new_id,
		       char *err, size_t err_size);

/* Looks old_id up. Returns 1 when absent, 0 with a malloc'd *new_id, -1 on error. */
int im_stage_idmap_get(struct im_stage *st, const char *ns, const char *old_id, char **new_id);

/* Calls fn once per (kind, status) pair present in records with its count, in kind
 * then status order. Stops and returns fn's value when fn returns non-zero. */
int im_stage_counts(struct im_stage *st,
		    int (*fn)(void *arg, const char *kind, int status, int64_t n), void *arg);

/* Count of records of kind (NULL: all kinds) with status (-1: any). -1 on error. */
int64_t im_stage_count(struct im_stage *st, const char *kind, int status);

/* Count of dead letters at stage (NULL: all) not yet replayed. -1 on error. */
int64_t im_stage_count_dead(struct im_stage *st, const char *stage);

/* Runs: im_stage_run_begin records a run of command and stores its id in *run_id;
 * im_stage_run_end stamps its end, exit code and counters (JSON text, may be NULL). */
int im_stage_run_begin(struct im_stage *st, const char *command, int64_t *run_id, char *err,
		       size_t err_size);
int im_stage_run_end(struct im_stage *st, int64_t run_id, int exit_code, const char *counters,
		     char *err, size_t err_size);

/* meta key/value. get returns 1 when absent, 0 with a malloc'd *value, -1 on error. */
int im_stage_meta_set(struct im_stage *st, const char *key, const char *value, char *err,
		      size_t err_size);
int im_stage_meta_get(struct im_stage *st, const char *key, char **value);

#endif
