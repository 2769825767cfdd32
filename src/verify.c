/* Verification: read the target back and compare (see verify.h). */
#include "config.h"

#include "verify.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify_priv.h"

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

int im_verify_fail(struct verifier *v, const char *fmt, ...)
{
	va_list ap;
	if (!v->err || !v->err_size)
		return -1;
	va_start(ap, fmt);
	vsnprintf(v->err, v->err_size, fmt, ap);
	va_end(ap);
	return -1;
}

int im_verify_db_fail(struct verifier *v, const char *what)
{
	set_err(v->err, v->err_size, "%s: %s: %s", im_stage_path(v->st), what, sqlite3_errmsg(v->db));
	return -1;
}

/* ---- temporary tables -------------------------------------------------------- */

static int exec(struct verifier *v, const char *sql)
{
	if (sqlite3_exec(v->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return im_verify_db_fail(v, "verification tables");
	return 0;
}

static int setup_temp(struct verifier *v)
{
	return exec(v, "CREATE TEMP TABLE IF NOT EXISTS verify_expected(id INTEGER PRIMARY KEY);"
		       "CREATE TEMP TABLE IF NOT EXISTS verify_found(key TEXT PRIMARY KEY, val TEXT,"
		       " n INTEGER NOT NULL DEFAULT 1);"
		       "DELETE FROM temp.verify_expected; DELETE FROM temp.verify_found;");
}

int im_verify_found(struct verifier *v, const char *key, json_t *val)
{
	static const char *const sql = "INSERT INTO temp.verify_found(key, val) VALUES(?1, ?2)"
				       " ON CONFLICT(key) DO UPDATE SET n = n + 1";
	if (!v->insert_found && sqlite3_prepare_v2(v->db, sql, -1, &v->insert_found, NULL) != SQLITE_OK)
		return im_verify_db_fail(v, "verification tables");
	sqlite3_stmt *s = v->insert_found;
	char *text = val ? json_dumps(val, JSON_COMPACT) : NULL;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, text ? text : "{}", -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	free(text);
	return rc == SQLITE_DONE ? 0 : im_verify_db_fail(v, "verification tables");
}

void im_verify_key(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t len = 0;
	buf[0] = '\0';
	va_start(ap, fmt);
	for (int i = 0; fmt[i] && len < size; i++) {
		const char *sep = i ? IM_VERIFY_SEP : "";
		int n;
		if (fmt[i] == 's') {
			const char *s = va_arg(ap, const char *);
			n = snprintf(buf + len, size - len, "%s%s", sep, s ? s : "");
		} else {
			n = snprintf(buf + len, size - len, "%s%lld", sep, (long long)va_arg(ap, json_int_t));
		}
		if (n < 0)
			break;
		len += (size_t)n;
	}
	va_end(ap);
}

/* ---- comparing ---------------------------------------------------------------- */

/* The identity of a record in the verify_found key space. */
static void record_key(int kind, const char *conv, json_t *p, char *key, size_t size)
{
	switch (kind) {
	case IM_KIND_FRIEND:
		im_verify_key(key, size, "ss", im_verify_sv(p, "From_Account"), im_verify_sv(p, "To_Account"));
		break;
	case IM_KIND_GROUP_MEMBER:
	case IM_KIND_GROUP_UNREAD:
		im_verify_key(key, size, "ss", im_verify_sv(p, "GroupId"), im_verify_sv(p, "Member_Account"));
		break;
	case IM_KIND_GROUP_MSG:
		im_verify_key(key, size, "sii", im_verify_sv(p, "GroupId"), im_verify_iv(p, "Random"), im_verify_iv(p, "SendTime"));
		break;
	case IM_KIND_C2C_MSG:
		im_verify_key(key, size, "siii", conv, im_verify_iv(p, "MsgSeq"), im_verify_iv(p, "MsgRandom"), im_verify_iv(p, "MsgTimeStamp"));
		break;
	default: /* account, profile, group: the conv is the id */
		snprintf(key, size, "%s", conv);
	}
}

static void display_key(const char *key, char *out, size_t size)
{
	size_t o = 0;
	for (const char *k = key; *k && o + 4 < size; k++) {
		if (*k == IM_VERIFY_SEP[0]) {
			memcpy(out + o, " / ", 3);
			o += 3;
		} else {
			out[o++] = *k;
		}
	}
	out[o] = '\0';
}

/* Compact JSON of v, cut to at most max bytes on a UTF-8 boundary. */
static void short_json(const json_t *val, char *out, size_t size)
{
	char *text = val ? json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	const char *s = text ? text : "(absent)";
	size_t len = strlen(s);
	if (len < size) {
		memcpy(out, s, len + 1);
	} else {
		size_t keep = size > 4 ? size - 4 : 0;
		while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
			keep--;
		memcpy(out, s, keep);
		memcpy(out + keep, "...", 4);
	}
	free(text);
}

static void add_diff(struct verifier *v, int kind, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add_diff(struct verifier *v, int kind, const char *key, const char *fmt, ...)
{
	size_t max = v->opt->max_diffs ? v->opt->max_diffs : 10;
	if (v->diffs_this_kind >= max)
		return;
	struct im_verify_result *r = v->res;
	if (r->ndiffs == v->diffs_cap) {
		size_t cap = v->diffs_cap ? v->diffs_cap * 2 : 16;
		struct im_verify_diff *d = realloc(r->diffs, cap * sizeof *d);
		if (!d)
			return;
		r->diffs = d;
		v->diffs_cap = cap;
	}
	struct im_verify_diff *d = &r->diffs[r->ndiffs++];
	v->diffs_this_kind++;
	d->kind = kind;
	display_key(key, d->key, sizeof d->key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->problem, sizeof d->problem, fmt, ap);
	va_end(ap);
}

/* Compares the fields both sides have. Returns 1 when equal, 0 when not (one
 * difference recorded). */
static int compare_fields(struct verifier *v, int kind, const char *key, json_t *expected, json_t *target)
{
	const char *field;
	json_t *tv;
	if (kind == IM_KIND_PROFILE) {
		size_t i;
		json_t *item;
		json_array_foreach(json_object_get(expected, "ProfileItem"), i, item) {
			const char *tag = im_verify_sv(item, "Tag");
			json_t *got = tag ? json_object_get(target, tag) : NULL;
			if (!tag || (got && json_equal(got, json_object_get(item, "Value"))))
				continue;
			char a[160], b[160];
			short_json(json_object_get(item, "Value"), a, sizeof a);
			short_json(got, b, sizeof b);
			add_diff(v, kind, key, "%s: staged %s, target %s", tag, a, b);
			return 0;
		}
		return 1;
	}
	json_object_foreach(target, field, tv) {
		json_t *ev = json_object_get(expected, field);
		if (!ev || json_equal(ev, tv))
			continue;
		char a[160], b[160];
		short_json(ev, a, sizeof a);
		short_json(tv, b, sizeof b);
		add_diff(v, kind, key, "%s: staged %s, target %s", field, a, b);
		return 0;
	}
	return 1;
}

static int compare_kind(struct verifier *v, int kind)
{
	static const char *const sql_rec = "SELECT r.conv, r.payload FROM temp.verify_expected e"
					   " JOIN records r ON r.id = e.id ORDER BY r.conv, r.ord, r.seq";
	static const char *const sql_found = "SELECT val, n FROM temp.verify_found WHERE key = ?1";
	sqlite3_stmt *s, *f;
	if (sqlite3_prepare_v2(v->db, sql_rec, -1, &s, NULL) != SQLITE_OK)
		return im_verify_db_fail(v, "reading records");
	if (sqlite3_prepare_v2(v->db, sql_found, -1, &f, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return im_verify_db_fail(v, "verification tables");
	}
	/* A member's UnreadMsgNum is what a group_unread record sets last, when there
	 * is one for that member: compare it there, not on the member. */
	sqlite3_stmt *unread = NULL;
	if (kind == IM_KIND_GROUP_MEMBER &&
	    (exec(v, "CREATE TEMP TABLE IF NOT EXISTS verify_unread(key TEXT PRIMARY KEY) WITHOUT ROWID;"
		     "DELETE FROM temp.verify_unread;"
		     "INSERT OR IGNORE INTO temp.verify_unread SELECT conv || x'1f' ||"
		     " json_extract(payload, '$.Member_Account') FROM records WHERE kind = 'group_unread'"
		     " AND json_extract(payload, '$.Member_Account') IS NOT NULL") < 0 ||
	     sqlite3_prepare_v2(v->db, "SELECT 1 FROM temp.verify_unread WHERE key = ?1", -1, &unread, NULL) !=
		     SQLITE_OK)) {
		sqlite3_finalize(s);
		sqlite3_finalize(f);
		return im_verify_db_fail(v, "verification tables");
	}
	struct im_verify_kind *k = &v->res->kinds[kind];
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *p = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);
		if (!p)
			continue;
		char key[512];
		record_key(kind, (const char *)sqlite3_column_text(s, 0), p, key, sizeof key);
		if (unread && json_object_get(p, "UnreadMsgNum")) {
			sqlite3_reset(unread);
			sqlite3_bind_text(unread, 1, key, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(unread) == SQLITE_ROW)
				json_object_del(p, "UnreadMsgNum");
			sqlite3_reset(unread);
		}
		k->expected++;
		sqlite3_reset(f);
		sqlite3_bind_text(f, 1, key, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(f) != SQLITE_ROW) {
			k->missing++;
			add_diff(v, kind, key, "missing");
		} else {
			json_t *t = json_loads((const char *)sqlite3_column_text(f, 0), 0, NULL);
			int64_t n = sqlite3_column_int64(f, 1);
			if (n > 1) {
				k->differing++;
				add_diff(v, kind, key, "present %lld times in the target", (long long)n);
			} else if (compare_fields(v, kind, key, p, t)) {
				k->found++;
			} else {
				k->differing++;
			}
			json_decref(t);
		}
		json_decref(p);
	}
	sqlite3_finalize(unread);
	sqlite3_finalize(f);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : im_verify_db_fail(v, "reading records");
}

static int select_expected(struct verifier *v, int kind)
{
	const char *sql = v->opt->sample > 0
				  ? "INSERT INTO temp.verify_expected(id) SELECT id FROM records WHERE kind = ?1"
				    " AND status = 2 ORDER BY random() LIMIT ?2"
				  : "INSERT INTO temp.verify_expected(id) SELECT id FROM records WHERE kind = ?1"
				    " AND status = 2";
	sqlite3_stmt *s;
	if (exec(v, "DELETE FROM temp.verify_expected; DELETE FROM temp.verify_found;") < 0)
		return -1;
	if (sqlite3_prepare_v2(v->db, sql, -1, &s, NULL) != SQLITE_OK)
		return im_verify_db_fail(v, "selecting records");
	sqlite3_bind_text(s, 1, im_kind_info(kind)->name, -1, SQLITE_STATIC);
	if (v->opt->sample > 0)
		sqlite3_bind_int64(s, 2, v->opt->sample);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return im_verify_db_fail(v, "selecting records");
	/* A group imported without a GroupId got one from the service that the stage
	 * does not know: it cannot be looked up, so it is unchecked, not missing. */
	if (sqlite3_prepare_v2(v->db,
			       "DELETE FROM temp.verify_expected WHERE id IN (SELECT e.id FROM temp.verify_expected e"
			       " JOIN records r ON r.id = e.id WHERE r.conv = '')",
			       -1, &s, NULL) != SQLITE_OK)
		return im_verify_db_fail(v, "selecting records");
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return im_verify_db_fail(v, "selecting records");
	v->res->kinds[kind].unchecked += sqlite3_changes(v->db);
	return 0;
}

static int verify_kind(struct verifier *v, int kind)
{
	struct im_verify_kind *k = &v->res->kinds[kind];
	int64_t pending = im_stage_count(v->st, im_kind_info(kind)->name, IM_STAGE_PENDING);
	int64_t inflight = im_stage_count(v->st, im_kind_info(kind)->name, IM_STAGE_INFLIGHT);
	int64_t landed = im_stage_count(v->st, im_kind_info(kind)->name, IM_STAGE_LANDED);
	if (pending < 0 || inflight < 0 || landed < 0)
		return im_verify_db_fail(v, "counting records");
	k->not_landed = pending + inflight;
	v->diffs_this_kind = 0;
	if (kind == IM_KIND_BLACKLIST || kind == IM_KIND_C2C_READ) {
		k->unchecked = v->opt->sample > 0 && v->opt->sample < landed ? v->opt->sample : landed;
		return 0;
	}
	if (select_expected(v, kind) < 0)
		return -1;
	if (im_verify_read_target(v, kind) < 0)
		return -1;
	return compare_kind(v, kind);
}

int im_verify_run(struct im_stage *st, struct im_tim *tim, const struct im_verify_options *opt,
		  struct im_verify_result *res, char *err, size_t err_size)
{
	memset(res, 0, sizeof *res);
	struct im_verify_options defaults = {0};
	struct verifier v = {.st = st, .db = im_stage_db(st), .tim = tim, .opt = opt ? opt : &defaults,
			     .res = res, .err = err, .err_size = err_size};
	res->sample = v.opt->sample;
	double t0 = im_pace_now();
	if (setup_temp(&v) < 0)
		return -1;
	int rc = 0;
	for (int k = 0; k < IM_KIND_COUNT && rc == 0; k++)
		if (!v.opt->kinds || (v.opt->kinds & (1u << k)))
			rc = verify_kind(&v, k);
	sqlite3_finalize(v.insert_found);
	exec(&v, "DELETE FROM temp.verify_expected; DELETE FROM temp.verify_found;");
	res->seconds = im_pace_now() - t0;
	return rc;
}

void im_verify_result_free(struct im_verify_result *res)
{
	if (!res)
		return;
	free(res->diffs);
	res->diffs = NULL;
	res->ndiffs = 0;
}

int64_t im_verify_missing(const struct im_verify_result *res)
{
	int64_t n = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++)
		n += res->kinds[k].missing;
	return n;
}

json_t *im_verify_to_json(const struct im_verify_result *res)
{
	json_t *kinds = json_array(), *diffs = json_array();
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		const struct im_verify_kind *x = &res->kinds[k];
		json_array_append_new(kinds, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "kind",
						       im_kind_info(k)->name, "expected", (json_int_t)x->expected,
						       "found", (json_int_t)x->found, "missing",
						       (json_int_t)x->missing, "differing", (json_int_t)x->differing,
						       "unchecked", (json_int_t)x->unchecked, "not_landed",
						       (json_int_t)x->not_landed));
	}
	for (size_t i = 0; i < res->ndiffs; i++)
		json_array_append_new(diffs, json_pack("{s:s, s:s, s:s}", "kind", im_kind_info(res->diffs[i].kind)->name,
						       "key", res->diffs[i].key, "problem", res->diffs[i].problem));
	return json_pack("{s:I, s:I, s:I, s:f, s:I, s:o, s:o}", "sample", (json_int_t)res->sample, "calls",
			 (json_int_t)res->calls, "throttled", (json_int_t)res->throttled, "seconds",
			 round(res->seconds * 1000) / 1000, "missing", (json_int_t)im_verify_missing(res), "kinds",
			 kinds, "differences", diffs);
}

static const char verify_table_sql[] =
	"CREATE TABLE IF NOT EXISTS verify_runs(id INTEGER PRIMARY KEY, started_at INTEGER,"
	" ended_at INTEGER, sample INTEGER, missing INTEGER, result TEXT)";

int im_verify_save(struct im_stage *st, const struct im_verify_result *res, char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	if (sqlite3_exec(db, verify_table_sql, NULL, NULL, NULL) != SQLITE_OK) {
		set_err(err, err_size, "%s: creating verify_runs: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	json_t *j = im_verify_to_json(res);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		set_err(err, err_size, "out of memory");
		return -1;
	}
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO verify_runs(started_at, ended_at, sample, missing, result)"
				    " VALUES(?1, ?2, ?3, ?4, ?5)",
				    -1, &s, NULL);
	if (rc == SQLITE_OK) {
		int64_t now = (int64_t)time(NULL);
		sqlite3_bind_int64(s, 1, now - (int64_t)ceil(res->seconds));
		sqlite3_bind_int64(s, 2, now);
		sqlite3_bind_int64(s, 3, res->sample);
		sqlite3_bind_int64(s, 4, im_verify_missing(res));
		sqlite3_bind_text(s, 5, text, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	free(text);
	if (rc != SQLITE_DONE) {
		set_err(err, err_size, "%s: saving the verification: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int im_verify_load_latest(struct im_stage *st, json_t **out, char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	*out = NULL;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT result, started_at, ended_at FROM verify_runs ORDER BY id DESC LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK)
		return 1; /* no table: never verified */
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
		if (*out) {
			json_object_set_new(*out, "started_at", json_integer(sqlite3_column_int64(s, 1)));
			json_object_set_new(*out, "ended_at", json_integer(sqlite3_column_int64(s, 2)));
		}
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW || !*out) {
		set_err(err, err_size, "%s: reading verify_runs: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}
