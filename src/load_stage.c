/* Load-side SQL over the stage (see load_stage.h and stage.h's schema). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "load_stage.h"

static int fail(struct im_stage *st, char *err, size_t err_size, const char *what)
{
	snprintf(err, err_size, "%s: %s: %s", im_stage_path(st), what, im_stage_errmsg(st));
	return -1;
}

static char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? strdup((const char *)t) : NULL;
}

/* Steps s (bound by the caller) and collects its first column, up to max rows,
 * as malloc'd strings (NULL values are skipped). Resets s. On success *out owns
 * the array and its strings; -1 with err naming `what` otherwise. */
static int read_texts(struct im_stage *st, sqlite3_stmt *s, size_t max, char ***out, size_t *n, const char *what,
		      char *err, size_t err_size)
{
	char **v = calloc(max ? max : 1, sizeof *v);
	size_t len = 0;
	int rc = SQLITE_DONE;
	if (!v) {
		sqlite3_reset(s);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	while (len < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((v[len] = col_text(s, 0)))
			len++;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		for (size_t i = 0; i < len; i++)
			free(v[i]);
		free(v);
		return fail(st, err, err_size, what);
	}
	*out = v;
	*n = len;
	return 0;
}

void load_rows_free(struct load_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].conv);
		free(rows[i].payload);
	}
	free(rows);
}

int load_stage_prepare(struct im_stage *st, char *err, size_t err_size)
{
	/* records_sched (kind, status, conv, ord, seq) serves the per-conversation
	 * scans; these serve the id-order scan and the in-flight recovery. */
	static const char *sql = "CREATE INDEX IF NOT EXISTS load_records_kind_id ON records(kind, status, id);"
				 "CREATE INDEX IF NOT EXISTS load_records_batch ON records(batch) WHERE status = 1;";
	if (sqlite3_exec(im_stage_db(st), sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(st, err, err_size, "creating the loader's indexes");
	return 0;
}

int load_stage_max_batch(struct im_stage *st, int64_t *out, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(st, "SELECT coalesce(max(batch), 0) FROM records", err, err_size);
	if (!s)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW)
		return fail(st, err, err_size, "reading batch ids");
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

/* Reads rows of (id, raw_id, conv, payload, attempts, last_code, retry_at). */
static int read_rows(struct im_stage *st, sqlite3_stmt *s, size_t max, struct load_row **rows, size_t *n,
		     char *err, size_t err_size)
{
	*rows = NULL;
	*n = 0;
	struct load_row *v = NULL;
	size_t len = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : (max < 16 ? max : 16);
			struct load_row *p = realloc(v, cap * sizeof *v);
			if (!p) {
				load_rows_free(v, len);
				sqlite3_reset(s);
				snprintf(err, err_size, "out of memory");
				return -1;
			}
			v = p;
		}
		struct load_row *r = &v[len++];
		r->id = sqlite3_column_int64(s, 0);
		r->raw_id = sqlite3_column_int64(s, 1);
		r->conv = col_text(s, 2);
		r->payload = col_text(s, 3);
		r->attempts = sqlite3_column_int(s, 4);
		r->last_code = sqlite3_column_int64(s, 5);
		r->retry_at = sqlite3_column_int64(s, 6);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		load_rows_free(v, len);
		return fail(st, err, err_size, "reading records");
	}
	*rows = v;
	*n = len;
	return 0;
}

int load_stage_fetch_by_id(struct im_stage *st, const char *kind, int64_t after_id, int64_t now,
			   size_t max, struct load_row **rows, size_t *n, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(
		st,
		"SELECT id, raw_id, conv, payload, attempts, last_code, retry_at FROM records "
		"WHERE kind = ?1 AND status = 0 AND id > ?2 AND coalesce(retry_at, 0) <= ?3 ORDER BY id LIMIT ?4",
		err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, after_id);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int64(s, 4, (int64_t)max);
	return read_rows(st, s, max, rows, n, err, err_size);
}

int load_stage_next_convs(struct im_stage *st, const char *kind, const char *after, size_t max,
			  char ***convs, size_t *n, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(st,
					"SELECT DISTINCT conv FROM records WHERE kind = ?1 AND status = 0 AND conv > ?2 "
					"ORDER BY conv LIMIT ?3",
					err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, after, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)max);
	return read_texts(st, s, max, convs, n, "listing conversations", err, err_size);
}

int load_stage_biggest_convs(struct im_stage *st, const char *kind, size_t max, char ***convs, size_t *n,
			     char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(st,
					"SELECT conv FROM records WHERE kind = ?1 AND status = 0 GROUP BY conv"
					" HAVING count(*) >= 2 ORDER BY count(*) DESC, conv LIMIT ?2",
					err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	return read_texts(st, s, max, convs, n, "ranking conversations", err, err_size);
}

int load_stage_conv_head(struct im_stage *st, const char *kind, const char *conv, size_t max,
			 struct load_row **rows, size_t *n, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(
		st,
		"SELECT id, raw_id, conv, payload, attempts, last_code, retry_at FROM records "
		"WHERE kind = ?1 AND status = 0 AND conv = ?2 ORDER BY ord, seq LIMIT ?3",
		err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, conv, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)max);
	return read_rows(st, s, max, rows, n, err, err_size);
}

int load_stage_conv_open(struct im_stage *st, const char *kind, const char *conv, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(
		st, "SELECT 1 FROM records WHERE kind = ?1 AND status IN (0, 1) AND conv = ?2 LIMIT 1", err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, conv, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st, err, err_size, "looking up a conversation");
	return rc == SQLITE_ROW;
}

int load_stage_ready_convs(struct im_stage *st, const char *kind, const char *dep_kind, size_t max, char ***convs,
			   size_t *n, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(
		st,
		"SELECT DISTINCT r.conv FROM records r WHERE r.kind = ?1 AND r.status = 0 AND NOT EXISTS "
		"(SELECT 1 FROM records m WHERE m.kind = ?2 AND m.status IN (0, 1) AND m.conv = r.conv) LIMIT ?3",
		err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, dep_kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)max);
	return read_texts(st, s, max, convs, n, "listing conversations ready for read marks", err, err_size);
}

int64_t load_stage_remaining(struct im_stage *st, const char *kind)
{
	char err[256];
	sqlite3_stmt *s =
		im_stage_stmt(st, "SELECT count(*) FROM records WHERE kind = ?1 AND status IN (0, 1)", err, sizeof err);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_reset(s);
	return n;
}

int64_t load_stage_next_retry(struct im_stage *st, const char *kind)
{
	char err[256];
	sqlite3_stmt *s = im_stage_stmt(
		st, "SELECT coalesce(min(retry_at), 0) FROM records WHERE kind = ?1 AND status = 0 AND retry_at > 0", err,
		sizeof err);
	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	int64_t t = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return t;
}

int load_stage_mark_inflight(struct im_stage *st, int64_t batch, const int64_t *ids, size_t n, char *err,
			     size_t err_size)
{
	/* Inside the caller's transaction when one is open (the loader groups the
	 * batches of one pass), else in one of its own. */
	bool own = !im_stage_in_transaction(st);
	if (own && im_stage_begin(st, err, err_size) < 0)
		return -1;
	sqlite3_stmt *s = im_stage_stmt(st, "UPDATE records SET status = 1, batch = ?1 WHERE id = ?2 AND status = 0",
					err, err_size);
	if (!s) {
		if (own)
			im_stage_rollback(st);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(s, 1, batch);
		sqlite3_bind_int64(s, 2, ids[i]);
		int rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			fail(st, err, err_size, "marking a batch in flight");
			if (own)
				im_stage_rollback(st);
			return -1;
		}
	}
	return own ? im_stage_commit(st, err, err_size) : 0;
}

int load_stage_settle(struct im_stage *st, const struct load_settle *v, size_t n, char *err, size_t err_size)
{
	err[0] = '\0';
	bool own = !im_stage_in_transaction(st);
	if (own && im_stage_begin(st, err, err_size) < 0)
		return -1;
	sqlite3_stmt *landed = im_stage_stmt(
		st, "UPDATE records SET status = 2, last_code = NULL, retry_at = NULL WHERE id = ?1", err, err_size);
	sqlite3_stmt *dead = im_stage_stmt(
		st, "UPDATE records SET status = 3, attempts = ?2, last_code = ?3, retry_at = NULL WHERE id = ?1", err,
		err_size);
	sqlite3_stmt *retry = im_stage_stmt(
		st, "UPDATE records SET status = 0, batch = NULL, attempts = ?2, last_code = ?3, retry_at = ?4 WHERE id = ?1",
		err, err_size);
	if (!landed || !dead || !retry)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		const struct load_settle *x = &v[i];
		sqlite3_stmt *s;
		switch (x->fate) {
		case LOAD_LANDED:
			s = landed;
			sqlite3_bind_int64(s, 1, x->id);
			break;
		case LOAD_DEAD: {
			s = dead;
			sqlite3_bind_int64(s, 1, x->id);
			sqlite3_bind_int(s, 2, x->attempts);
			sqlite3_bind_int64(s, 3, x->code);
			struct im_stage_dead dl = {
				.record_id = x->id,
				.raw_id = x->raw_id,
				.stage = "api",
				.kind = x->kind,
				.payload = x->payload,
				.code = (int)x->code,
				.reason = x->reason ? x->reason : "rejected by the target",
				.attempts = x->attempts,
			};
			if (im_stage_put_dead(st, &dl, NULL, err, err_size) < 0) {
				if (own)
					im_stage_rollback(st);
				return -1;
			}
			break;
		}
		case LOAD_RETRY:
		case LOAD_REQUEUE:
		default:
			s = retry;
			sqlite3_bind_int64(s, 1, x->id);
			sqlite3_bind_int(s, 2, x->attempts);
			if (x->code)
				sqlite3_bind_int64(s, 3, x->code);
			else
				sqlite3_bind_null(s, 3);
			if (x->retry_at)
				sqlite3_bind_int64(s, 4, x->retry_at);
			else
				sqlite3_bind_null(s, 4);
			break;
		}
		int rc = sqlite3_step(s);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (rc != SQLITE_DONE)
			goto bad;
	}
	return own ? im_stage_commit(st, err, err_size) : 0;
bad:
	if (!*err)
		fail(st, err, err_size, "settling a batch");
	if (own)
		im_stage_rollback(st);
	return -1;
}

int load_stage_inflight_batches(struct im_stage *st, int (*fn)(void *arg, int64_t batch, const char *kind),
				void *arg, char *err, size_t err_size)
{
	/* Not the cached statement: fn may run other statements meanwhile. */
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(im_stage_db(st),
			       "SELECT DISTINCT batch, kind FROM records WHERE status = 1 ORDER BY batch", -1, &s,
			       NULL) != SQLITE_OK)
		return fail(st, err, err_size, "listing in-flight batches");
	int rc, ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ret = fn(arg, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1));
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = fail(st, err, err_size, "listing in-flight batches");
	sqlite3_finalize(s);
	return ret;
}

int load_stage_batch_rows(struct im_stage *st, int64_t batch, struct load_row **rows, size_t *n, char *err,
			  size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(
		st,
		"SELECT id, raw_id, conv, payload, attempts, last_code, retry_at FROM records "
		"WHERE batch = ?1 AND status = 1 ORDER BY ord, seq",
		err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, batch);
	return read_rows(st, s, 1000, rows, n, err, err_size);
}

int load_stage_requeue_inflight(struct im_stage *st, const char *kind, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(st,
					"UPDATE records SET status = 0, batch = NULL, last_code = -3, retry_at = NULL "
					"WHERE status = 1 AND kind = ?1",
					err, err_size);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : fail(st, err, err_size, "putting in-flight records back");
}

int load_stage_derive_member_unread(struct im_stage *st, int64_t *count, char *err, size_t err_size)
{
	static const char *sql =
		"SELECT m.id, m.raw_id, m.conv, json_extract(m.payload, '$.Member_Account'),"
		" json_extract(m.payload, '$.UnreadMsgNum') FROM records m"
		" WHERE m.kind = 'group_member' AND m.status = 2"
		" AND json_extract(m.payload, '$.UnreadMsgNum') > 0"
		" AND EXISTS (SELECT 1 FROM records g WHERE g.kind = 'group_msg' AND g.conv = m.conv AND g.status = 2)"
		" AND NOT EXISTS (SELECT 1 FROM records u WHERE u.kind = 'group_unread' AND u.conv = m.conv"
		"  AND json_extract(u.payload, '$.Member_Account') = json_extract(m.payload, '$.Member_Account'))"
		" ORDER BY m.id";
	sqlite3_stmt *s = NULL;
	*count = 0;
	if (sqlite3_prepare_v2(im_stage_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return fail(st, err, err_size, "finding members whose unread counts need restoring");
	bool own = !im_stage_in_transaction(st);
	if (own && im_stage_begin(st, err, err_size) < 0) {
		sqlite3_finalize(s);
		return -1;
	}
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *group = (const char *)sqlite3_column_text(s, 2);
		const char *member = (const char *)sqlite3_column_text(s, 3);
		if (!group || !member)
			continue;
		json_t *p = json_object();
		json_object_set_new(p, "GroupId", json_string(group));
		json_object_set_new(p, "Member_Account", json_string(member));
		json_object_set_new(p, "UnreadMsgNum", json_integer(sqlite3_column_int64(s, 4)));
		char *payload = json_dumps(p, JSON_COMPACT);
		json_t *ident = json_pack("[ss]", group, member);
		char *id_text = json_dumps(ident, JSON_COMPACT);
		json_decref(p);
		json_decref(ident);
		char *dedupe = NULL;
		if (payload && id_text) {
			size_t dl = strlen(id_text) + 32;
			dedupe = malloc(dl);
			if (dedupe)
				snprintf(dedupe, dl, "group_unread:member:%s", id_text);
		}
		int put = -1;
		if (dedupe) {
			struct im_stage_record rec = {
				.kind = "group_unread",
				.conv = group,
				.ord = 0,
				.seq = sqlite3_column_int64(s, 0),
				.payload = payload,
				.payload_len = strlen(payload),
				.dedupe_key = dedupe,
				.raw_id = sqlite3_column_int64(s, 1),
			};
			put = im_stage_put_record(st, &rec, NULL, err, err_size);
		} else {
			snprintf(err, err_size, "out of memory");
		}
		free(payload);
		free(id_text);
		free(dedupe);
		if (put < 0) {
			sqlite3_finalize(s);
			if (own)
				im_stage_rollback(st);
			return -1;
		}
		if (put == IM_STAGE_NEW)
			(*count)++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		fail(st, err, err_size, "finding members whose unread counts need restoring");
		if (own)
			im_stage_rollback(st);
		return -1;
	}
	return own ? im_stage_commit(st, err, err_size) : 0;
}
