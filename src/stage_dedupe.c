/* Removing the duplicates a bulk extract staged (see stage_dedupe.h).
 *
 * Rows staged in bulk all carry the first hash of their key. A scratch index
 * on (dedupe_hash, dedupe_key) is sorted once; with it the later copies of a
 * key are adjacent entries, found in one pass over the index without reading
 * the table. True collisions (two keys, one 64-bit hash) are rare and are
 * moved one by one, as im_stage_put_record would have probed them. */
#include "config.h"

#include "stage_dedupe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Collision rows fetched per pass: the work list stays small whatever the
 * stage holds. */
#define COLLISIONS_PER_PASS 64

struct ctx {
	sqlite3 *db;
	const char *path;
	im_stage_dup_fn on_duplicate;
	void *arg;
	char *err;
	size_t err_size;
};

static int fail(struct ctx *c, const char *what)
{
	if (c->err && c->err_size)
		snprintf(c->err, c->err_size, "%s: removing duplicate records: %s: %s", c->path, what,
			 sqlite3_errmsg(c->db));
	return -1;
}

static int exec(struct ctx *c, const char *sql, const char *what)
{
	return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(c, what);
}

static int prepare(struct ctx *c, const char *sql, sqlite3_stmt **s)
{
	return sqlite3_prepare_v2(c->db, sql, -1, s, NULL) == SQLITE_OK ? 0 : fail(c, "preparing a statement");
}

/* Deletes the records listed in temp.dedupe_doomed, telling on_duplicate of
 * each first. */
static int delete_doomed(struct ctx *c)
{
	if (c->on_duplicate) {
		sqlite3_stmt *s;
		if (prepare(c, "SELECT r.kind, r.id FROM temp.dedupe_doomed d JOIN records r ON r.id = d.id", &s) < 0)
			return -1;
		int rc;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			c->on_duplicate(c->arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return fail(c, "listing duplicates");
	}
	return exec(c, "DELETE FROM records WHERE id IN (SELECT id FROM temp.dedupe_doomed)", "deleting duplicates");
}

struct collision {
	int64_t id, hash;
	char *key, *kind;
};

/* Moves record x (whose hash an earlier record of another key holds) to the
 * first free hash after it, or deletes it when its own key holds one. */
static int move_collision(struct ctx *c, sqlite3_stmt *holder, sqlite3_stmt *move, sqlite3_stmt *drop,
			  const struct collision *x)
{
	uint64_t h = (uint64_t)x->hash;
	for (int probe = 1; probe < IM_STAGE_MAX_PROBES; probe++) {
		sqlite3_reset(holder);
		sqlite3_bind_int64(holder, 1, (int64_t)(h + (uint64_t)probe));
		int rc = sqlite3_step(holder);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(move);
			sqlite3_bind_int64(move, 1, (int64_t)(h + (uint64_t)probe));
			sqlite3_bind_int64(move, 2, x->id);
			return sqlite3_step(move) == SQLITE_DONE ? 0 : fail(c, "moving a colliding key");
		}
		if (rc != SQLITE_ROW)
			return fail(c, "probing a hash");
		const char *key = (const char *)sqlite3_column_text(holder, 0);
		if (key && !strcmp(key, x->key)) {
			if (c->on_duplicate)
				c->on_duplicate(c->arg, x->kind, x->id);
			sqlite3_reset(drop);
			sqlite3_bind_int64(drop, 1, x->id);
			return sqlite3_step(drop) == SQLITE_DONE ? 0 : fail(c, "deleting a duplicate");
		}
	}
	if (c->err && c->err_size)
		snprintf(c->err, c->err_size, "%s: record %lld: %d dedupe hash collisions in a row", c->path,
			 (long long)x->id, IM_STAGE_MAX_PROBES);
	return -1;
}

/* Fetches up to COLLISIONS_PER_PASS records that share their hash with an
 * earlier record (of another key, the copies are gone) into xs. */
static int fetch_collisions(struct ctx *c, sqlite3_stmt *list, struct collision *xs, int *n)
{
	*n = 0;
	sqlite3_reset(list);
	int rc = SQLITE_DONE;
	while (*n < COLLISIONS_PER_PASS && (rc = sqlite3_step(list)) == SQLITE_ROW) {
		struct collision *x = &xs[*n];
		x->id = sqlite3_column_int64(list, 0);
		x->hash = sqlite3_column_int64(list, 1);
		x->key = strdup((const char *)sqlite3_column_text(list, 2));
		x->kind = strdup((const char *)sqlite3_column_text(list, 3));
		++*n;
		if (!x->key || !x->kind) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(list);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	for (int i = 0; i < *n; i++) {
		free(xs[i].key);
		free(xs[i].kind);
	}
	*n = 0;
	if (rc == SQLITE_NOMEM) {
		if (c->err && c->err_size)
			snprintf(c->err, c->err_size, "%s: removing duplicate records: out of memory", c->path);
		return -1;
	}
	return fail(c, "listing hash collisions");
}

/* Moves every collision; the list query is rerun until it finds none (each
 * pass moves or deletes every record it fetched). */
static int move_collisions(struct ctx *c)
{
	sqlite3_stmt *list = NULL, *holder = NULL, *move = NULL, *drop = NULL;
	int ret = -1;
	if (prepare(c,
		    "SELECT r.id, r.dedupe_hash, r.dedupe_key, r.kind FROM records r WHERE r.dedupe_hash IN"
		    " (SELECT dedupe_hash FROM records GROUP BY dedupe_hash HAVING count(*) > 1)"
		    " AND r.id > (SELECT min(id) FROM records o WHERE o.dedupe_hash = r.dedupe_hash)"
		    " ORDER BY r.dedupe_hash, r.id",
		    &list) < 0 ||
	    prepare(c, "SELECT dedupe_key FROM records WHERE dedupe_hash = ?1 ORDER BY id LIMIT 1", &holder) < 0 ||
	    prepare(c, "UPDATE records SET dedupe_hash = ?1 WHERE id = ?2", &move) < 0 ||
	    prepare(c, "DELETE FROM records WHERE id = ?1", &drop) < 0)
		goto out;
	struct collision xs[COLLISIONS_PER_PASS];
	for (;;) {
		int n;
		if (fetch_collisions(c, list, xs, &n) < 0)
			goto out;
		int rc = 0;
		for (int i = 0; i < n; i++) {
			if (!rc)
				rc = move_collision(c, holder, move, drop, &xs[i]);
			free(xs[i].key);
			free(xs[i].kind);
		}
		if (rc < 0)
			goto out;
		if (n == 0)
			break;
	}
	ret = 0;
out:
	sqlite3_finalize(list);
	sqlite3_finalize(holder);
	sqlite3_finalize(move);
	sqlite3_finalize(drop);
	return ret;
}

/* 1 when a record shares its hash with an earlier record of another key, 0
 * when none does, -1 on error. Run after the copies are listed as doomed. */
static int have_collisions(struct ctx *c)
{
	sqlite3_stmt *s;
	if (prepare(c,
		    "SELECT 1 FROM records r WHERE r.id NOT IN (SELECT id FROM temp.dedupe_doomed) AND EXISTS"
		    " (SELECT 1 FROM records o WHERE o.dedupe_hash = r.dedupe_hash AND o.id < r.id"
		    " AND o.dedupe_key <> r.dedupe_key) LIMIT 1",
		    &s) < 0)
		return -1;
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(c, "looking for hash collisions");
	return rc == SQLITE_ROW;
}

int im_stage_resolve_duplicates(sqlite3 *db, const char *path, im_stage_dup_fn on_duplicate, void *arg, char *err,
				size_t err_size)
{
	struct ctx c = {db, path, on_duplicate, arg, err, err_size};
	/* The doomed list is a table (on disk when large), not a buffer here. */
	if (exec(&c,
		 "DROP INDEX IF EXISTS records_dedupe_scan; DROP TABLE IF EXISTS temp.dedupe_doomed;"
		 " CREATE INDEX records_dedupe_scan ON records(dedupe_hash, dedupe_key);"
		 " CREATE TEMP TABLE dedupe_doomed(id INTEGER PRIMARY KEY);"
		 " INSERT INTO temp.dedupe_doomed SELECT r.id FROM records r WHERE EXISTS (SELECT 1 FROM records o"
		 " WHERE o.dedupe_hash = r.dedupe_hash AND o.dedupe_key = r.dedupe_key AND o.id < r.id)",
		 "listing duplicates") < 0)
		return -1;
	int collisions = have_collisions(&c);
	/* Without collisions the scratch index has served: deleting goes faster
	 * without it. */
	int rc = collisions < 0 ? -1 : 0;
	if (!rc && !collisions)
		rc = exec(&c, "DROP INDEX records_dedupe_scan", "dropping the scratch index");
	if (!rc)
		rc = delete_doomed(&c);
	if (!rc && collisions)
		rc = move_collisions(&c);
	if (!rc)
		rc = exec(&c, "DROP INDEX IF EXISTS records_dedupe_scan; DROP TABLE temp.dedupe_doomed",
			  "dropping the scratch index");
	return rc;
}
