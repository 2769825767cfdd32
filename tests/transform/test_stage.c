/* The stage: idempotent staging, checkpoints atomic with records, dead letters,
 * id map, counts, persistence across reopen. */
#include "config.h"

#include "stage.h"
#include "tap.h"
#include "util.h"

static struct im_stage_record rec(const char *key, const char *payload)
{
	struct im_stage_record r = {
		.kind = "account", .conv = "u", .ord = 1, .seq = 1, .payload = payload,
		.payload_len = strlen(payload), .dedupe_key = key,
	};
	return r;
}

static int count_cb(void *arg, const char *kind, int status, int64_t n)
{
	char *out = arg;
	size_t len = strlen(out);
	snprintf(out + len, 256 - len, "%s/%s=%lld;", kind, im_stage_status_name(status), (long long)n);
	return 0;
}

int main(void)
{
	char err[512], path[300];
	snprintf(path, sizeof path, "%s/stage.db", scratch());
	struct im_stage *st;
	if (!ok(im_stage_open(path, &st, err, sizeof err) == 0, "a new stage opens")) {
		diag("%s", err);
		return done_testing();
	}
	char *mode = NULL;
	sqlite3_stmt *q = im_stage_stmt(st, "PRAGMA journal_mode", err, sizeof err);
	if (q && sqlite3_step(q) == SQLITE_ROW)
		mode = strdup((const char *)sqlite3_column_text(q, 0));
	if (q)
		sqlite3_reset(q); /* a statement left active would hold a transaction open */
	is_str(mode, "wal", "WAL mode");
	free(mode);

	int64_t raw_id = 0, id1 = 0, id2 = 0;
	ok(im_stage_put_raw(st, "users", "s1", "f:1", "{\"a\":1}", 7, &raw_id, err, sizeof err) == 0 && raw_id > 0,
	   "raw record stored");
	char *data = NULL, *stream = NULL, *sid = NULL, *origin = NULL;
	ok(im_stage_get_raw(st, raw_id, &data, &stream, &sid, &origin) == 0 && !strcmp(data, "{\"a\":1}") &&
		   !strcmp(stream, "users") && !strcmp(sid, "s1") && !strcmp(origin, "f:1"),
	   "raw record reads back");
	free(data);
	free(stream);
	free(sid);
	free(origin);
	is_int(im_stage_get_raw(st, 9999, &data, NULL, NULL, NULL), 1, "a missing raw row is 1");

	struct im_stage_record r = rec("account:[\"u1\"]", "{\"UserID\":\"u1\"}");
	r.raw_id = raw_id;
	is_int(im_stage_put_record(st, &r, &id1, err, sizeof err), IM_STAGE_NEW, "first staging is new");
	r.payload = "{\"UserID\":\"u1\",\"Nick\":\"changed\"}";
	r.payload_len = strlen(r.payload);
	is_int(im_stage_put_record(st, &r, &id2, err, sizeof err), IM_STAGE_DUPLICATE, "same dedupe key: duplicate");
	is_int(id2, id1, "the duplicate reports the existing id");
	is_int(im_stage_count(st, NULL, -1), 1, "still one record");

	/* A batch rolled back loses its records and its checkpoint together. */
	ok(im_stage_begin(st, err, sizeof err) == 0, "begin");
	ok(im_stage_begin(st, err, sizeof err) < 0, "no nested transactions");
	struct im_stage_record r2 = rec("account:[\"u2\"]", "{}");
	im_stage_put_record(st, &r2, NULL, err, sizeof err);
	im_stage_save_checkpoint(st, "src", "tok-2", 0, err, sizeof err);
	im_stage_rollback(st);
	char *token = NULL;
	int done = 0;
	is_int(im_stage_load_checkpoint(st, "src", &token, &done, err, sizeof err), 1, "rolled back: no checkpoint");
	is_int(im_stage_count(st, NULL, -1), 1, "rolled back: no record");

	ok(im_stage_begin(st, err, sizeof err) == 0 &&
		   im_stage_put_record(st, &r2, NULL, err, sizeof err) == IM_STAGE_NEW &&
		   im_stage_save_checkpoint(st, "src", "tok-2", 0, err, sizeof err) == 0 &&
		   im_stage_commit(st, err, sizeof err) == 0,
	   "a committed batch");
	struct im_stage_dead dl = {.raw_id = raw_id, .stage = "script", .origin = "f:1", .reason = "map.lua:3: boom"};
	ok(im_stage_put_dead(st, &dl, NULL, err, sizeof err) == 0, "dead letter stored");
	ok(im_stage_idmap_put(st, "user", "a-very-long-id", "u_abc", err, sizeof err) == 0 &&
		   im_stage_idmap_put(st, "user", "a-very-long-id", "u_abc", err, sizeof err) == 0,
	   "id map put is idempotent");
	int64_t run_id;
	ok(im_stage_run_begin(st, "test", &run_id, err, sizeof err) == 0 &&
		   im_stage_run_end(st, run_id, 0, "{}", err, sizeof err) == 0,
	   "runs are recorded");
	im_stage_close(st);

	ok(im_stage_open(path, &st, err, sizeof err) == 0, "reopens");
	is_int(im_stage_load_checkpoint(st, "src", &token, &done, err, sizeof err), 0, "checkpoint survives");
	is_str(token, "tok-2", "its token");
	is_int(done, 0, "not done");
	free(token);
	is_int(im_stage_count(st, "account", IM_STAGE_PENDING), 2, "two pending accounts");
	is_int(im_stage_count_dead(st, "script"), 1, "one script dead letter");
	is_int(im_stage_count_dead(st, "api"), 0, "no api dead letters");
	char *nid = NULL;
	ok(im_stage_idmap_get(st, "user", "a-very-long-id", &nid) == 0 && !strcmp(nid, "u_abc"), "id map reads back");
	free(nid);
	is_int(im_stage_idmap_get(st, "group", "a-very-long-id", &nid), 1, "namespaces are separate");
	char counts[256] = "";
	im_stage_counts(st, count_cb, counts);
	is_str(counts, "account/pending=2;", "counts per kind and status");
	ok(im_stage_bulk_begin(st, err, sizeof err) == 0, "bulk staging drops the scheduling index");
	q = im_stage_stmt(st, "SELECT count(*) FROM sqlite_master WHERE name = 'records_sched'", err, sizeof err);
	is_int(q && sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1, 0, "no scheduling index");
	sqlite3_reset(q);
	im_stage_close(st);
	ok(im_stage_open(path, &st, err, sizeof err) == 0, "reopens while the extract is unfinished");
	q = im_stage_stmt(st, "SELECT count(*) FROM sqlite_master WHERE name = 'records_sched'", err, sizeof err);
	is_int(q && sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1, 0,
	       "and does not build the index behind the extract's back");
	sqlite3_reset(q);
	is_int(im_stage_put_record(st, &r, NULL, err, sizeof err), IM_STAGE_DUPLICATE,
	       "after reopen a re-staged record is still a duplicate");

	/* A hash collision: another key already holds this key's hash. */
	char sql[256];
	snprintf(sql, sizeof sql,
		 "INSERT INTO records(kind, conv, ord, seq, payload, dedupe_hash, dedupe_key)"
		 " VALUES('account', 'x', 0, 0, '{}', %lld, 'account:[\"impostor\"]')",
		 (long long)im_stage_dedupe_hash("account:[\"victim\"]"));
	ok(sqlite3_exec(im_stage_db(st), sql, NULL, NULL, NULL) == SQLITE_OK, "plant a colliding row");
	struct im_stage_record victim = rec("account:[\"victim\"]", "{}");
	int64_t vid1 = 0, vid2 = 0;
	is_int(im_stage_put_record(st, &victim, &vid1, err, sizeof err), IM_STAGE_NEW,
	       "a key whose hash is taken by another key is still staged");
	is_int(im_stage_put_record(st, &victim, &vid2, err, sizeof err), IM_STAGE_DUPLICATE,
	       "and found again as a duplicate");
	is_int(vid2, vid1, "the same record");
	char *stored = NULL;
	q = im_stage_stmt(st, "SELECT dedupe_key FROM records WHERE id = ?1", err, sizeof err);
	sqlite3_bind_int64(q, 1, vid1);
	if (sqlite3_step(q) == SQLITE_ROW)
		stored = strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_reset(q);
	is_str(stored, "account:[\"victim\"]", "under its own key text");
	free(stored);

	ok(im_stage_save_checkpoint(st, "src", NULL, 1, err, sizeof err) == 0, "a done checkpoint without token");
	token = (char *)1;
	ok(im_stage_load_checkpoint(st, "src", &token, &done, err, sizeof err) == 0 && token == NULL && done == 1,
	   "reads back as done, no token");
	im_stage_close(st);
	ok(im_stage_open(path, &st, err, sizeof err) == 0, "reopens with the extract done");
	q = im_stage_stmt(st, "SELECT count(*) FROM sqlite_master WHERE name = 'records_sched'", err, sizeof err);
	is_int(q && sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1, 1, "the scheduling index is built");
	sqlite3_reset(q);
	im_stage_close(st);

	/* Another schema version is refused rather than misread. */
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", NULL, NULL, NULL);
	sqlite3_close(db);
	ok(im_stage_open(path, &st, err, sizeof err) < 0 && strstr(err, "schema version 99"),
	   "a stage of another schema version is refused: %s", err);
	scratch_cleanup();
	return done_testing();
}
