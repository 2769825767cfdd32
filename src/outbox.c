/* The sync outbox: a committer thread writing groups of tickets in one SQLite
 * transaction each. See outbox.h for the schema and the guarantees. */
#include "config.h"

#include "outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

enum ticket_type { T_EVENTS, T_EXEC };

struct ev_copy {
	char *origin, *event_id, *stream, *body, *platform, *conv;
	size_t body_len;
	uint32_t shard;
};

struct ticket {
	struct ticket *next;
	enum ticket_type type;
	size_t n;
	struct ev_copy *ev;
	im_outbox_done_fn done;
	void *arg;
	int (*fn)(sqlite3 *db, void *arg);
	void *fn_arg;
	void (*free_arg)(void *arg);
	/* filled by the committer */
	int result;
	int64_t first_id;
	int any_new;
};

struct im_outbox {
	char *path;
	sqlite3 *wdb; /* committer's connection */
	sqlite3 *rdb; /* readers' connection, under rlock */
	pthread_mutex_t rlock;
	sqlite3_stmt *pending; /* on rdb, under rlock */
	sqlite3_stmt *ins, *sp, *sp_release, *sp_rollback;
	size_t batch_max;

	pthread_mutex_t lock;
	pthread_cond_t work;   /* tickets queued or stopping */
	pthread_cond_t stored; /* generation advanced */
	struct ticket *head, **tail;
	size_t depth;
	int stopping, started;
	uint64_t generation;
	pthread_t thread;

	/* WAL checkpoints run here, not inside the committer's commits, so that
	 * copying pages back into the database never delays an acknowledgement. */
	sqlite3 *cdb;
	pthread_t checkpointer;
	int ck_started;
	uint64_t ck_done_commits;

	struct im_outbox_stats st;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS sync_events("
	" id INTEGER PRIMARY KEY,"
	" origin TEXT NOT NULL,"
	" event_id TEXT,"
	" stream TEXT NOT NULL,"
	" platform TEXT,"
	" shard INTEGER NOT NULL DEFAULT 0,"
	" body TEXT NOT NULL,"
	" received_at INTEGER NOT NULL,"
	" status INTEGER NOT NULL DEFAULT 0,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_at INTEGER NOT NULL DEFAULT 0,"
	" conv TEXT,"
	" last_error TEXT,"
	" done_at INTEGER,"
	" UNIQUE(origin, event_id));"
	"CREATE INDEX IF NOT EXISTS sync_events_pending ON sync_events(status, id);";

int64_t im_outbox_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_conn(const char *path, int full, sqlite3 **db, char *err, size_t err_size)
{
	char *msg = NULL;
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, err_size, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, 10000);
	const char *pragmas = full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				   : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
	if (sqlite3_exec(*db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, err_size, "%s: %s", path, msg ? msg : sqlite3_errmsg(*db));
		sqlite3_free(msg);
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	return 0;
}

static void free_ticket(struct ticket *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->ev[i].origin);
		free(t->ev[i].event_id);
		free(t->ev[i].stream);
		free(t->ev[i].body);
		free(t->ev[i].platform);
		free(t->ev[i].conv);
	}
	free(t->ev);
	if (t->free_arg)
		t->free_arg(t->fn_arg);
	free(t);
}

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Inserts one ticket's events. Returns 0 (result/first_id set) or -1. */
static int run_events(struct im_outbox *ob, struct ticket *t, int64_t now)
{
	int dup = 0, fresh = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct ev_copy *e = &t->ev[i];
		sqlite3_bind_text(ob->ins, 1, e->origin, -1, SQLITE_STATIC);
		if (e->event_id)
			sqlite3_bind_text(ob->ins, 2, e->event_id, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(ob->ins, 2);
		sqlite3_bind_text(ob->ins, 3, e->stream, -1, SQLITE_STATIC);
		sqlite3_bind_text(ob->ins, 4, e->body, (int)e->body_len, SQLITE_STATIC);
		sqlite3_bind_int64(ob->ins, 5, now);
		if (e->platform)
			sqlite3_bind_text(ob->ins, 6, e->platform, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(ob->ins, 6);
		if (e->conv)
			sqlite3_bind_text(ob->ins, 7, e->conv, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(ob->ins, 7);
		sqlite3_bind_int64(ob->ins, 8, e->shard);
		int rc = sqlite3_step(ob->ins);
		sqlite3_reset(ob->ins);
		sqlite3_clear_bindings(ob->ins);
		if (rc != SQLITE_DONE) {
			im_error("outbox %s: storing an event failed: %s", ob->path, sqlite3_errmsg(ob->wdb));
			return -1;
		}
		if (sqlite3_changes(ob->wdb) > 0) {
			if (!fresh)
				t->first_id = sqlite3_last_insert_rowid(ob->wdb);
			fresh++;
		} else {
			dup++;
		}
	}
	t->any_new = fresh > 0;
	t->result = fresh ? IM_OUTBOX_STORED : IM_OUTBOX_DUPLICATE;
	ob->st.stored += (uint64_t)fresh;
	ob->st.duplicates += (uint64_t)dup;
	return 0;
}

/* Runs one ticket between a savepoint and its release, so its failure undoes
 * only its own writes. A single-event ticket needs none: a failed statement
 * already undoes itself. */
static void run_ticket(struct im_outbox *ob, struct ticket *t, int64_t now)
{
	int use_sp = !(t->type == T_EVENTS && t->n == 1);
	if (use_sp && step_done(ob->sp) < 0) {
		t->result = IM_OUTBOX_FAILED;
		return;
	}
	int rc;
	if (t->type == T_EVENTS) {
		rc = run_events(ob, t, now);
	} else {
		rc = t->fn(ob->wdb, t->fn_arg);
		t->result = rc;
	}
	if (rc < 0) {
		t->result = IM_OUTBOX_FAILED;
		t->any_new = 0;
		t->first_id = 0;
		if (use_sp)
			step_done(ob->sp_rollback);
	}
	if (use_sp)
		step_done(ob->sp_release);
}

static void *committer(void *arg)
{
	struct im_outbox *ob = arg;
	for (;;) {
		pthread_mutex_lock(&ob->lock);
		while (!ob->head && !ob->stopping)
			pthread_cond_wait(&ob->work, &ob->lock);
		if (!ob->head) {
			pthread_mutex_unlock(&ob->lock);
			break;
		}
		struct ticket *batch = ob->head, *last = batch;
		size_t k = 1;
		while (last->next && k < ob->batch_max) {
			last = last->next;
			k++;
		}
		ob->head = last->next;
		if (!ob->head)
			ob->tail = &ob->head;
		last->next = NULL;
		ob->depth -= k;
		pthread_mutex_unlock(&ob->lock);

		int64_t now = im_outbox_now_ms();
		int ok = sqlite3_exec(ob->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
		if (!ok)
			im_error("outbox %s: cannot begin a transaction: %s", ob->path, sqlite3_errmsg(ob->wdb));
		for (struct ticket *t = batch; ok && t; t = t->next)
			run_ticket(ob, t, now);
		if (ok && sqlite3_exec(ob->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			im_error("outbox %s: commit failed: %s", ob->path, sqlite3_errmsg(ob->wdb));
			sqlite3_exec(ob->wdb, "ROLLBACK", NULL, NULL, NULL);
			ok = 0;
		}
		int any_new = 0;
		for (struct ticket *t = batch; t; t = t->next) {
			if (!ok) {
				t->result = IM_OUTBOX_FAILED;
				t->first_id = 0;
				t->any_new = 0;
			}
			if (t->type == T_EVENTS && t->result == IM_OUTBOX_FAILED)
				ob->st.failed++;
			any_new |= t->any_new;
		}
		pthread_mutex_lock(&ob->lock);
		ob->st.commits++;
		ob->st.tickets += k;
		if (any_new) {
			ob->generation++;
			pthread_cond_broadcast(&ob->stored);
		}
		pthread_mutex_unlock(&ob->lock);
		while (batch) {
			struct ticket *t = batch;
			batch = t->next;
			if (t->done)
				t->done(t->arg, t->result, t->first_id);
			free_ticket(t);
		}
	}
	return NULL;
}

/* Every 100 ms, a passive checkpoint when commits happened since the last one.
 * Passive: it never waits for the writer, it copies what it can. */
static void *checkpointer(void *arg)
{
	struct im_outbox *ob = arg;
	pthread_mutex_lock(&ob->lock);
	while (!ob->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ob->stored, &ob->lock, &until);
		if (ob->stopping || ob->st.commits == ob->ck_done_commits)
			continue;
		ob->ck_done_commits = ob->st.commits;
		pthread_mutex_unlock(&ob->lock);
		sqlite3_wal_checkpoint_v2(ob->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&ob->lock);
	}
	pthread_mutex_unlock(&ob->lock);
	return NULL;
}

static int prepare(struct im_outbox *ob, const char *sql, sqlite3_stmt **s, char *err, size_t err_size)
{
	if (sqlite3_prepare_v2(ob->wdb, sql, -1, s, NULL) != SQLITE_OK) {
		snprintf(err, err_size, "%s: %s", ob->path, sqlite3_errmsg(ob->wdb));
		return -1;
	}
	return 0;
}

int im_outbox_open(const char *path, const struct im_outbox_config *cfg, struct im_outbox **out,
		   char *err, size_t err_size)
{
	*out = NULL;
	struct im_outbox *ob = calloc(1, sizeof *ob);
	if (!ob || !(ob->path = strdup(path))) {
		free(ob);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	int full = cfg ? cfg->synchronous_full : 1;
	ob->batch_max = cfg && cfg->batch_max ? cfg->batch_max : 4096;
	pthread_mutex_init(&ob->lock, NULL);
	pthread_mutex_init(&ob->rlock, NULL);
	pthread_cond_init(&ob->work, NULL);
	pthread_cond_init(&ob->stored, NULL);
	ob->tail = &ob->head;
	char *msg = NULL;
	if (open_conn(path, full, &ob->wdb, err, err_size) < 0 || open_conn(path, 0, &ob->rdb, err, err_size) < 0 ||
	    open_conn(path, full, &ob->cdb, err, err_size) < 0)
		goto fail;
	sqlite3_wal_autocheckpoint(ob->wdb, 0);
	if (sqlite3_exec(ob->wdb, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, err_size, "%s: creating the outbox tables: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		goto fail;
	}
	/* Tables made by earlier builds lack the later columns: add them (an
	 * existing column makes ALTER fail, which is the no-op we want). */
	sqlite3_exec(ob->wdb, "ALTER TABLE sync_events ADD COLUMN platform TEXT", NULL, NULL, NULL);
	sqlite3_exec(ob->wdb, "ALTER TABLE sync_events ADD COLUMN shard INTEGER NOT NULL DEFAULT 0", NULL, NULL, NULL);
	if (prepare(ob,
		    "INSERT INTO sync_events(origin, event_id, stream, body, received_at, platform, conv, shard)"
		    " VALUES(?,?,?,?,?,?,?,?)"
		    " ON CONFLICT(origin, event_id) DO NOTHING",
		    &ob->ins, err, err_size) < 0 ||
	    prepare(ob, "SAVEPOINT ticket", &ob->sp, err, err_size) < 0 ||
	    prepare(ob, "RELEASE ticket", &ob->sp_release, err, err_size) < 0 ||
	    prepare(ob, "ROLLBACK TO ticket", &ob->sp_rollback, err, err_size) < 0)
		goto fail;
	if (pthread_create(&ob->thread, NULL, committer, ob) != 0) {
		snprintf(err, err_size, "%s: cannot start the committer thread", path);
		goto fail;
	}
	ob->started = 1;
	if (pthread_create(&ob->checkpointer, NULL, checkpointer, ob) == 0)
		ob->ck_started = 1;
	*out = ob;
	return 0;
fail:
	im_outbox_close(ob);
	return -1;
}

void im_outbox_close(struct im_outbox *ob)
{
	if (!ob)
		return;
	pthread_mutex_lock(&ob->lock);
	ob->stopping = 1;
	pthread_cond_broadcast(&ob->work);
	pthread_cond_broadcast(&ob->stored);
	pthread_mutex_unlock(&ob->lock);
	if (ob->started)
		pthread_join(ob->thread, NULL);
	if (ob->ck_started)
		pthread_join(ob->checkpointer, NULL);
	sqlite3_finalize(ob->ins);
	sqlite3_finalize(ob->pending);
	sqlite3_finalize(ob->sp);
	sqlite3_finalize(ob->sp_release);
	sqlite3_finalize(ob->sp_rollback);
	sqlite3_close(ob->wdb);
	sqlite3_close(ob->rdb);
	sqlite3_close(ob->cdb);
	pthread_mutex_destroy(&ob->lock);
	pthread_mutex_destroy(&ob->rlock);
	pthread_cond_destroy(&ob->work);
	pthread_cond_destroy(&ob->stored);
	free(ob->path);
	free(ob);
}

static int enqueue(struct im_outbox *ob, struct ticket *t)
{
	pthread_mutex_lock(&ob->lock);
	if (ob->stopping) {
		pthread_mutex_unlock(&ob->lock);
		return -1;
	}
	*ob->tail = t;
	ob->tail = &t->next;
	ob->depth++;
	pthread_cond_signal(&ob->work);
	pthread_mutex_unlock(&ob->lock);
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int im_outbox_submit(struct im_outbox *ob, const struct im_outbox_event *ev, size_t n,
		     im_outbox_done_fn done, void *arg)
{
	if (n == 0)
		return -1;
	struct ticket *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->type = T_EVENTS;
	t->done = done;
	t->arg = arg;
	t->ev = calloc(n, sizeof *t->ev);
	if (!t->ev) {
		free(t);
		return -1;
	}
	t->n = n;
	for (size_t i = 0; i < n; i++) {
		struct ev_copy *c = &t->ev[i];
		c->origin = strdup(ev[i].origin);
		c->event_id = dup_or_null(ev[i].event_id);
		c->stream = strdup(ev[i].stream);
		c->platform = dup_or_null(ev[i].platform);
		c->conv = dup_or_null(ev[i].conv);
		c->shard = ev[i].shard;
		c->body = malloc(ev[i].body_len + 1);
		if (!c->origin || !c->stream || !c->body || (ev[i].event_id && !c->event_id) ||
		    (ev[i].platform && !c->platform) || (ev[i].conv && !c->conv)) {
			free_ticket(t);
			return -1;
		}
		memcpy(c->body, ev[i].body, ev[i].body_len);
		c->body[ev[i].body_len] = '\0';
		c->body_len = ev[i].body_len;
	}
	if (enqueue(ob, t) < 0) {
		free_ticket(t);
		return -1;
	}
	return 0;
}

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t c;
	int done, result;
	int64_t first_id;
};

static void waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->m, NULL);
	pthread_cond_init(&w->c, NULL);
	w->done = 0;
	w->result = IM_OUTBOX_FAILED;
	w->first_id = 0;
}

static void waiter_done(void *arg, int result, int64_t first_id)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->m);
	w->result = result;
	w->first_id = first_id;
	w->done = 1;
	pthread_cond_signal(&w->c);
	pthread_mutex_unlock(&w->m);
}

static int waiter_wait(struct waiter *w)
{
	pthread_mutex_lock(&w->m);
	while (!w->done)
		pthread_cond_wait(&w->c, &w->m);
	pthread_mutex_unlock(&w->m);
	pthread_mutex_destroy(&w->m);
	pthread_cond_destroy(&w->c);
	return w->result;
}

int im_outbox_put(struct im_outbox *ob, const struct im_outbox_event *ev, size_t n, int64_t *first_id)
{
	struct waiter w;
	waiter_init(&w);
	if (im_outbox_submit(ob, ev, n, waiter_done, &w) < 0) {
		pthread_mutex_destroy(&w.m);
		pthread_cond_destroy(&w.c);
		return IM_OUTBOX_FAILED;
	}
	int r = waiter_wait(&w);
	if (first_id)
		*first_id = w.first_id;
	return r;
}

int im_outbox_exec(struct im_outbox *ob, int (*fn)(sqlite3 *db, void *arg), void *arg)
{
	struct ticket *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	struct waiter w;
	waiter_init(&w);
	t->type = T_EXEC;
	t->fn = fn;
	t->fn_arg = arg;
	t->done = waiter_done;
	t->arg = &w;
	if (enqueue(ob, t) < 0) {
		free(t);
		pthread_mutex_destroy(&w.m);
		pthread_cond_destroy(&w.c);
		return -1;
	}
	return waiter_wait(&w) < 0 ? -1 : 0;
}

int im_outbox_exec_async(struct im_outbox *ob, int (*fn)(sqlite3 *db, void *arg), void *arg,
			 void (*free_arg)(void *arg))
{
	struct ticket *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->type = T_EXEC;
	t->fn = fn;
	t->fn_arg = arg;
	t->free_arg = free_arg;
	if (enqueue(ob, t) < 0) {
		t->free_arg = NULL; /* the caller keeps ownership on failure */
		free(t);
		return -1;
	}
	return 0;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);
	return v ? strdup((const char *)v) : NULL;
}

uint32_t im_outbox_shard(const char *conv)
{
	uint32_t h = 2166136261u;
	for (; *conv; conv++)
		h = (h ^ (unsigned char)*conv) * 16777619u;
	return h ? h : 1;
}

int im_outbox_pending(struct im_outbox *ob, const char *origin_prefix, int64_t after_id, size_t max,
		      size_t nparts, size_t part, struct im_outbox_row **rows, size_t *n)
{
	*rows = NULL;
	*n = 0;
	if (max == 0)
		return 0;
	pthread_mutex_lock(&ob->rlock);
	int rc = SQLITE_OK;
	if (!ob->pending)
		rc = sqlite3_prepare_v2(ob->rdb,
					"SELECT id, origin, event_id, stream, body, conv, received_at, next_at, attempts,"
					" platform FROM sync_events WHERE status = 0 AND id > ? AND substr(origin, 1, ?) = ?"
					" AND (? <= 1 OR shard = 0 OR shard % ? = ?)"
					" ORDER BY id LIMIT ?",
					-1, &ob->pending, NULL);
	if (rc != SQLITE_OK) {
		im_error("outbox %s: %s", ob->path, sqlite3_errmsg(ob->rdb));
		pthread_mutex_unlock(&ob->rlock);
		return -1;
	}
	sqlite3_stmt *s = ob->pending;
	sqlite3_bind_int64(s, 1, after_id);
	sqlite3_bind_int(s, 2, (int)strlen(origin_prefix));
	sqlite3_bind_text(s, 3, origin_prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)nparts);
	sqlite3_bind_int64(s, 5, (int64_t)nparts);
	sqlite3_bind_int64(s, 6, (int64_t)part);
	sqlite3_bind_int64(s, 7, (int64_t)max);
	struct im_outbox_row *r = calloc(max, sizeof *r);
	size_t k = 0;
	int fail = !r;
	while (!fail && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct im_outbox_row *x = &r[k++];
		x->id = sqlite3_column_int64(s, 0);
		x->origin = col_dup(s, 1);
		x->event_id = col_dup(s, 2);
		x->stream = col_dup(s, 3);
		x->body = col_dup(s, 4);
		x->conv = col_dup(s, 5);
		x->received_at = sqlite3_column_int64(s, 6);
		x->next_at = sqlite3_column_int64(s, 7);
		x->attempts = sqlite3_column_int(s, 8);
		x->platform = col_dup(s, 9);
		if (!x->origin || !x->stream || !x->body)
			fail = 1;
	}
	if (!fail && rc != SQLITE_DONE) {
		im_error("outbox %s: %s", ob->path, sqlite3_errmsg(ob->rdb));
		fail = 1;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	pthread_mutex_unlock(&ob->rlock);
	if (fail) {
		im_outbox_rows_free(r, k);
		return -1;
	}
	if (k == 0) {
		free(r);
		r = NULL;
	}
	*rows = r;
	*n = k;
	return 0;
}

void im_outbox_rows_free(struct im_outbox_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].origin);
		free(rows[i].event_id);
		free(rows[i].stream);
		free(rows[i].body);
		free(rows[i].conv);
		free(rows[i].platform);
	}
	free(rows);
}

int im_outbox_mark(sqlite3 *db, int64_t id, enum im_outbox_status status, int attempts, int64_t next_at,
		   const char *conv, const char *error)
{
	sqlite3_stmt *s = NULL;
	/* The committer's connection keeps prepared statements in its cache only
	 * through sqlite3_prepare_v3(PERSISTENT) callers; marks come in pages, so
	 * the prepare is amortised by im_outbox_mark_many. */
	if (sqlite3_prepare_v2(db, IM_OUTBOX_MARK_SQL, -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = im_outbox_mark_stmt(s, id, status, attempts, next_at, conv, error);
	sqlite3_finalize(s);
	return rc;
}

int im_outbox_mark_stmt(sqlite3_stmt *s, int64_t id, enum im_outbox_status status, int attempts,
			int64_t next_at, const char *conv, const char *error)
{
	sqlite3_bind_int(s, 1, (int)status);
	sqlite3_bind_int(s, 2, attempts);
	sqlite3_bind_int64(s, 3, next_at);
	if (conv)
		sqlite3_bind_text(s, 4, conv, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 4);
	if (error)
		sqlite3_bind_text(s, 5, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_int(s, 6, (int)status);
	sqlite3_bind_int64(s, 7, im_outbox_now_ms());
	sqlite3_bind_int64(s, 8, id);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int64_t im_outbox_prune(sqlite3 *db, int64_t before_ms)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "DELETE FROM sync_events WHERE status IN (1, 2) AND done_at < ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, before_ms);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? (int64_t)sqlite3_changes(db) : -1;
}

int im_outbox_wait(struct im_outbox *ob, uint64_t *seen, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ob->lock);
	uint64_t start = *seen;
	int rc = 0;
	while (ob->generation == start && !ob->stopping && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&ob->stored, &ob->lock, &until);
	int fresh = ob->generation != start;
	*seen = ob->generation;
	pthread_mutex_unlock(&ob->lock);
	return fresh;
}

void im_outbox_wake(struct im_outbox *ob)
{
	pthread_mutex_lock(&ob->lock);
	ob->generation++;
	pthread_cond_broadcast(&ob->stored);
	pthread_mutex_unlock(&ob->lock);
}

void im_outbox_stats(struct im_outbox *ob, struct im_outbox_stats *out)
{
	pthread_mutex_lock(&ob->lock);
	*out = ob->st;
	out->queue_depth = ob->depth;
	pthread_mutex_unlock(&ob->lock);
}

int64_t im_outbox_count(struct im_outbox *ob, const char *origin_prefix, int status)
{
	pthread_mutex_lock(&ob->rlock);
	sqlite3_stmt *s = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(ob->rdb,
			       "SELECT count(*) FROM sync_events WHERE (? < 0 OR status = ?)"
			       " AND (? IS NULL OR substr(origin, 1, length(?)) = ?)",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int(s, 1, status);
		sqlite3_bind_int(s, 2, status);
		for (int i = 3; i <= 5; i++)
			if (origin_prefix)
				sqlite3_bind_text(s, i, origin_prefix, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&ob->rlock);
	return n;
}
