/* The sync daemon's outbox: durable acceptance of events with group commit.
 *
 * Where: its own tables inside the stage database (the job's `state` file), on a
 * connection of its own. One file keeps a job's state in one place, lets the
 * delivery side consult the stage (idmap for echo suppression, pending group
 * history) in the same database, and lets the bookkeeping of a delivery commit
 * together with the idmap rows it writes. The stage's own tables are untouched
 * except through im_outbox_exec() callers that know the stage schema.
 *
 *   sync_events(id INTEGER PRIMARY KEY,
 *       origin TEXT NOT NULL,      -- "im" (Tencent callbacks) or "source:<plugin>"
 *       event_id TEXT,             -- the vendor's event id (or a digest of the
 *                                     callback body); NULL: never deduplicated
 *       stream TEXT NOT NULL,      -- CallbackCommand or the plugin's stream
 *       platform TEXT,             -- Tencent callbacks: the OptPlatform query parameter
 *       shard INTEGER NOT NULL DEFAULT 0, -- hash of the ordering key when known at
 *                                     intake (0: unknown), to split work among workers
 *       body TEXT NOT NULL,        -- the event as JSON text
 *       received_at INTEGER NOT NULL, -- Unix ms
 *       status INTEGER NOT NULL DEFAULT 0,   -- enum im_outbox_status
 *       attempts INTEGER NOT NULL DEFAULT 0,
 *       next_at INTEGER NOT NULL DEFAULT 0,  -- Unix ms before which it waits
 *       conv TEXT,                 -- ordering key, learnt at first delivery attempt
 *       last_error TEXT, done_at INTEGER,
 *       UNIQUE(origin, event_id))
 *     index sync_events_pending(status, id)
 *
 * Group commit: one committer thread owns the only writing connection. Callers
 * hand it tickets (a set of events, or a function to run inside the transaction);
 * it takes everything queued, runs it in ONE transaction, commits (with
 * synchronous=FULL by default, so an acknowledged event survives power loss,
 * not just a crash), and only then calls each ticket's completion. While one
 * commit is on disk the next batch gathers, so the fsync cost is shared by every
 * request that arrived meanwhile and nothing is ever answered before it is stored.
 *
 * Dedupe: UNIQUE(origin, event_id). A redelivered event (vendor retry) finds its
 * row and is reported IM_OUTBOX_DUPLICATE: the caller acknowledges and drops it.
 *
 * Threads: submit/exec/wait may be called from any thread; completions run on the
 * committer thread and must not block (signal a condition, resume a connection).
 * Reads (im_outbox_due) use a separate read connection guarded by a mutex. */
#ifndef IMMIGRATE_OUTBOX_H
#define IMMIGRATE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct im_outbox;

enum im_outbox_status {
	IM_OUTBOX_PENDING = 0,   /* stored, not yet delivered */
	IM_OUTBOX_DELIVERED = 1, /* the other side accepted it */
	IM_OUTBOX_DROPPED = 2,   /* nothing to do: an echo of our own write, or mapped to nothing */
	IM_OUTBOX_DEAD = 3,      /* gave up; last_error says why (also in the stage's dead letters) */
};

/* Results of a submission, per ticket. */
enum im_outbox_result {
	IM_OUTBOX_STORED = 0,    /* every event is new and on disk */
	IM_OUTBOX_DUPLICATE = 1, /* every event was stored before (a vendor retry) */
	IM_OUTBOX_FAILED = -1,   /* nothing stored (disk full, I/O error, shutting down) */
};

struct im_outbox_config {
	int synchronous_full; /* 1 (default when the config is NULL): fsync every group commit;
				 0: synchronous=NORMAL (survives a process crash, not power loss) */
	size_t batch_max;     /* tickets per transaction; 0: 4096 */
};

/* One event to store. Strings borrowed for the call (copied by submit). */
struct im_outbox_event {
	const char *origin;   /* "im" or "source:<plugin>" */
	const char *event_id; /* may be NULL */
	const char *stream;
	const char *body;
	size_t body_len;
	const char *platform; /* may be NULL */
	const char *conv;     /* ordering key when known at intake, or NULL */
	uint32_t shard;       /* hash of conv (im_outbox_shard), 0 when unknown */
};

/* Called once per ticket on the committer thread after its transaction ended.
 * result: enum im_outbox_result (mixed new/duplicate events count as STORED).
 * first_id: rowid of the first new event, 0 when none. */
typedef void (*im_outbox_done_fn)(void *arg, int result, int64_t first_id);

/* Opens (creating tables when missing) the outbox in the SQLite file at path (WAL
 * mode) and starts the committer. Returns 0 with *out set, -1 with err naming the
 * file and the reason. */
int im_outbox_open(const char *path, const struct im_outbox_config *cfg, struct im_outbox **out,
		   char *err, size_t err_size);

/* Commits everything already queued, stops the committer and closes. Tickets
 * queued afterwards fail. NULL is fine. */
void im_outbox_close(struct im_outbox *ob);

/* Queues n events (n >= 1) as one ticket; done(arg, ...) follows the commit.
 * Returns 0, or -1 when the ticket cannot be queued (out of memory, closing):
 * done is then never called. */
int im_outbox_submit(struct im_outbox *ob, const struct im_outbox_event *ev, size_t n,
		     im_outbox_done_fn done, void *arg);

/* Blocking form of submit for callers with a thread to spare: returns the
 * enum im_outbox_result, and the first new rowid in *first_id (may be NULL). */
int im_outbox_put(struct im_outbox *ob, const struct im_outbox_event *ev, size_t n, int64_t *first_id);

/* Runs fn(db, arg) inside the next group transaction on the committer thread (for
 * delivery bookkeeping). fn returns 0, or -1 to fail only its own work (its
 * statements are rolled back to a savepoint; others commit). Blocks until the
 * transaction ended; returns fn's result, or -1 when the commit failed. */
int im_outbox_exec(struct im_outbox *ob, int (*fn)(sqlite3 *db, void *arg), void *arg);

/* Like im_outbox_exec without waiting: the work commits with the next group; the
 * caller learns nothing of the outcome (a lost mark redelivers after a crash,
 * which the receivers deduplicate). Returns 0, or -1 when it cannot be queued. */
int im_outbox_exec_async(struct im_outbox *ob, int (*fn)(sqlite3 *db, void *arg), void *arg,
			 void (*free_arg)(void *arg));

/* One pending event read back. All strings malloc'd; release with im_outbox_rows_free. */
struct im_outbox_row {
	int64_t id;
	char *origin, *event_id, *stream, *body, *conv, *platform;
	int64_t received_at, next_at;
	int attempts;
};

/* Reads up to max pending events after after_id in id order whose origin starts
 * with origin_prefix (e.g. "im" or "source:"), due or not (the caller keeps
 * per-conv order by skipping conversations whose head is not due). With nparts
 * > 1 only events whose shard % nparts == part, or whose shard is unknown (0).
 * Stores a malloc'd array in *rows (NULL when none) and the count in *n.
 * Returns 0 or -1. */
int im_outbox_pending(struct im_outbox *ob, const char *origin_prefix, int64_t after_id, size_t max,
		      size_t nparts, size_t part, struct im_outbox_row **rows, size_t *n);

/* The shard of an ordering key: FNV-1a 32, never 0. */
uint32_t im_outbox_shard(const char *conv);
void im_outbox_rows_free(struct im_outbox_row *rows, size_t n);

/* Marks (inside an exec function): set an event's outcome. error may be NULL.
 * conv NULL keeps the stored ordering key. Returns 0 or -1. */
int im_outbox_mark(sqlite3 *db, int64_t id, enum im_outbox_status status, int attempts, int64_t next_at,
		   const char *conv, const char *error);
/* The same with a statement the caller prepared from IM_OUTBOX_MARK_SQL on db
 * (to mark many events with one prepare); the statement is reset after use. */
#define IM_OUTBOX_MARK_SQL                                                                          \
	"UPDATE sync_events SET status = ?, attempts = ?, next_at = ?, conv = coalesce(?, conv),"  \
	" last_error = ?, done_at = CASE WHEN ? = 0 THEN NULL ELSE ? END WHERE id = ?"
int im_outbox_mark_stmt(sqlite3_stmt *stmt, int64_t id, enum im_outbox_status status, int attempts,
			int64_t next_at, const char *conv, const char *error);

/* Waits until events were stored since the caller last looked, timeout_ms passes,
 * or im_outbox_wake is called. *seen is the caller's cursor (start with 0, so
 * the first call returns at once); it is updated on return. Read the pending
 * events after this returns, and call it again with the same cursor: nothing
 * stored in between is missed. Returns 1 when new events arrived, 0 otherwise. */
int im_outbox_wait(struct im_outbox *ob, uint64_t *seen, int timeout_ms);
void im_outbox_wake(struct im_outbox *ob);

/* Inside an exec function: deletes delivered and dropped events whose outcome is
 * older than before_ms (Unix ms). Pending and dead events stay. Their dedupe keys
 * go with them: keep them longer than any vendor retries (days, not minutes).
 * Returns the number of rows deleted, or -1. */
int64_t im_outbox_prune(sqlite3 *db, int64_t before_ms);

/* Counters for /metrics. */
struct im_outbox_stats {
	uint64_t stored, duplicates, failed, commits, tickets;
	uint64_t queue_depth; /* tickets waiting for the committer right now */
};
void im_outbox_stats(struct im_outbox *ob, struct im_outbox_stats *out);

/* Count of events with status (-1: any) and origin prefix (NULL: any). -1 on error. */
int64_t im_outbox_count(struct im_outbox *ob, const char *origin_prefix, int status);

/* Unix time in milliseconds (the outbox's clock). */
int64_t im_outbox_now_ms(void);

#endif
