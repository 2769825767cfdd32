/* The plan's warnings: what the target will refuse, or may (see plan.h,
 * im_plan_check). Every check is SQL over the stage, shaped so that a stage of
 * millions of records is checked in about a second: ids that are a record's conv
 * on the records_sched index alone, the users of a one-to-one conversation on one
 * record per conversation, everything else in one sequential scan. */
#include "config.h"

#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imrules.h"

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

const char *im_plan_severity_name(enum im_plan_severity s)
{
	switch (s) {
	case IM_PLAN_INFO:
		return "info";
	case IM_PLAN_WARN:
		return "warn";
	case IM_PLAN_REFUSE:
		return "refuse";
	}
	return "?";
}

void im_plan_warnings_free(struct im_plan_warnings *w)
{
	if (!w)
		return;
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

/* Copies at most size-1 bytes of s into buf without cutting a UTF-8 sequence,
 * marking a cut with "...". */
static void copy_example(char *buf, size_t size, const char *s)
{
	if (!s) {
		buf[0] = '\0';
		return;
	}
	size_t len = strlen(s);
	if (len < size) {
		memcpy(buf, s, len + 1);
		return;
	}
	size_t keep = size > 4 ? size - 4 : 0;
	while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
		keep--;
	memcpy(buf, s, keep);
	memcpy(buf + keep, "...", 4);
}

static int add_warning(struct im_plan_warnings *w, enum im_plan_severity sev, const char *kind, int64_t count,
		       const char *example, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int add_warning(struct im_plan_warnings *w, enum im_plan_severity sev, const char *kind, int64_t count,
		       const char *example, const char *fmt, ...)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		struct im_plan_warning *v = realloc(w->v, cap * sizeof *v);
		if (!v)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	struct im_plan_warning *x = &w->v[w->n++];
	memset(x, 0, sizeof *x);
	x->severity = sev;
	x->count = count;
	snprintf(x->kind, sizeof x->kind, "%s", kind ? kind : "");
	copy_example(x->example, sizeof x->example, example);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->what, sizeof x->what, fmt, ap);
	va_end(ap);
	return 0;
}

/* Runs a query returning one row (count, example) with the given text/integer
 * bindings: "s" binds a string, "i" an int64. */
static int query_count(struct im_stage *st, const char *sql, int64_t *count, char *example, size_t ex_size,
		       char *err, size_t err_size, const char *types, ...)
{
	sqlite3_stmt *s = im_stage_stmt(st, sql, err, err_size);
	if (!s)
		return -1;
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 's')
			sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(err, err_size, "%s: checking the stage: %s", im_stage_path(st), im_stage_errmsg(st));
		sqlite3_reset(s);
		return -1;
	}
	*count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	if (example)
		copy_example(example, ex_size,
			     rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 1) : NULL);
	sqlite3_reset(s);
	return 0;
}

/* Ids, message sizes and users named but not staged (spec §3.1, §5.1, §6.1, §8.3),
 * in as few passes as a large stage allows: ids that are a record's conv are
 * checked on the records_sched index alone; the two users of a one-to-one
 * conversation on one record per conversation; the rest in one sequential scan
 * of the records table (far cheaper than reading payloads in index order). Users
 * go to a temporary table, compared with the staged accounts at the end. */
struct id_tally {
	int64_t n[IM_KIND_COUNT][2]; /* per kind, per id field */
	char ex[IM_KIND_COUNT][2][128];
};

static void tally_id(struct id_tally *t, int k, int field, const char *id, size_t max)
{
	if (!id || strlen(id) <= max)
		return;
	if (!t->n[k][field]++)
		copy_example(t->ex[k][field], sizeof t->ex[k][field], id);
}

static int add_user(struct im_stage *st, sqlite3_stmt *ins, const char *id, char *err, size_t err_size)
{
	if (!id)
		return 0;
	sqlite3_reset(ins);
	sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(ins) != SQLITE_DONE) {
		set_err(err, err_size, "%s: collecting users: %s", im_stage_path(st), im_stage_errmsg(st));
		return -1;
	}
	return 0;
}

/* The exact size of message id's body (im_rules_msg_size); 0 when unreadable. */
static size_t message_size(sqlite3_stmt *get, int64_t id)
{
	size_t size = 0;
	sqlite3_reset(get);
	sqlite3_bind_int64(get, 1, id);
	if (sqlite3_step(get) == SQLITE_ROW) {
		json_t *rec = json_loads((const char *)sqlite3_column_text(get, 0), 0, NULL);
		if (rec)
			size = im_rules_msg_size(json_object_get(rec, "MsgBody"),
						 json_string_value(json_object_get(rec, "CloudCustomData")));
		json_decref(rec);
	}
	sqlite3_reset(get);
	return size;
}

static int kind_of(const char *name)
{
	for (int k = 0; name && k < IM_KIND_COUNT; k++)
		if (strcmp(im_kind_info(k)->name, name) == 0)
			return k;
	return -1;
}

static int scan_records(struct im_stage *st, struct im_plan_warnings *w, char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	if (sqlite3_exec(db,
			 "CREATE TEMP TABLE IF NOT EXISTS plan_users(id TEXT PRIMARY KEY) WITHOUT ROWID;"
			 "DELETE FROM temp.plan_users;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		set_err(err, err_size, "%s: temporary table: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	static const char *const sql_scan =
		"SELECT kind, id, uid, big, COALESCE(source_id, conv) FROM (SELECT kind, id, source_id, conv, CASE kind"
		" WHEN 'friend' THEN json_extract(payload, '$.To_Account')"
		" WHEN 'blacklist' THEN json_extract(payload, '$.To_Account')"
		" WHEN 'group_member' THEN json_extract(payload, '$.Member_Account')"
		" WHEN 'group_unread' THEN json_extract(payload, '$.Member_Account')"
		" WHEN 'group_msg' THEN json_extract(payload, '$.From_Account')"
		" WHEN 'group' THEN json_extract(payload, '$.Owner_Account') END AS uid,"
		" kind IN ('c2c_msg', 'group_msg') AND length(CAST(payload AS BLOB)) > 8000 AS big"
		" FROM records NOT INDEXED) WHERE uid IS NOT NULL OR big";
	static const char *const sql_pairs =
		"SELECT r.kind, COALESCE(json_extract(r.payload, '$.From_Account'),"
		" json_extract(r.payload, '$.Report_Account')), COALESCE(json_extract(r.payload, '$.To_Account'),"
		" json_extract(r.payload, '$.Peer_Account')) FROM records r WHERE r.id IN (SELECT MIN(id) FROM records"
		" WHERE kind IN ('c2c_msg', 'c2c_read') GROUP BY kind, status, conv)";
	static const char *const sql_conv_ids =
		"SELECT kind, COUNT(*), MIN(conv) FROM records WHERE kind IN ('account', 'profile', 'friend',"
		" 'blacklist') AND length(CAST(conv AS BLOB)) > 32 GROUP BY kind";
	static const char *const sql_conv_groups =
		"SELECT kind, COUNT(*), MIN(conv) FROM records WHERE kind IN ('group', 'group_member', 'group_msg',"
		" 'group_unread') AND length(CAST(conv AS BLOB)) > 47 GROUP BY kind";
	static const char *const sql_senders =
		"INSERT OR IGNORE INTO temp.plan_users(id) SELECT DISTINCT conv FROM records"
		" WHERE kind IN ('profile', 'friend', 'blacklist')";
	static const char *const sql_unknown =
		"SELECT COUNT(*), MIN(id) FROM temp.plan_users WHERE id NOT IN"
		" (SELECT conv FROM records WHERE kind = 'account')";
	sqlite3_stmt *scan = NULL, *pairs = NULL, *ins = NULL, *get = NULL, *q = NULL;
	struct id_tally *t = calloc(1, sizeof *t);
	int64_t over[IM_KIND_COUNT] = {0}, large[IM_KIND_COUNT] = {0};
	char ex_over[IM_KIND_COUNT][128], ex_large[IM_KIND_COUNT][128];
	int rc = -1, step;
	if (!t) {
		set_err(err, err_size, "out of memory");
		return -1;
	}
	if (sqlite3_prepare_v2(db, sql_scan, -1, &scan, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql_pairs, -1, &pairs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.plan_users(id) VALUES(?1)", -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT payload FROM records WHERE id = ?1", -1, &get, NULL) != SQLITE_OK) {
		set_err(err, err_size, "%s: checking the stage: %s", im_stage_path(st), sqlite3_errmsg(db));
		goto done;
	}
	while ((step = sqlite3_step(scan)) == SQLITE_ROW) {
		int k = kind_of((const char *)sqlite3_column_text(scan, 0));
		if (k < 0)
			continue;
		const char *uid = (const char *)sqlite3_column_text(scan, 2);
		tally_id(t, k, 0, uid, 32);
		if (uid && add_user(st, ins, uid, err, err_size) < 0)
			goto done;
		if (sqlite3_column_int(scan, 3)) {
			size_t size = message_size(get, sqlite3_column_int64(scan, 1));
			const char *id = (const char *)sqlite3_column_text(scan, 4);
			if (size > 12000 && !over[k]++)
				copy_example(ex_over[k], sizeof ex_over[k], id);
			else if (size > 8000 && size <= 12000 && !large[k]++)
				copy_example(ex_large[k], sizeof ex_large[k], id);
		}
	}
	if (step != SQLITE_DONE)
		goto db_error;
	while ((step = sqlite3_step(pairs)) == SQLITE_ROW) {
		int k = kind_of((const char *)sqlite3_column_text(pairs, 0));
		for (int f = 0; f < 2 && k >= 0; f++) {
			const char *id = (const char *)sqlite3_column_text(pairs, 1 + f);
			tally_id(t, k, f, id, 32);
			if (add_user(st, ins, id, err, err_size) < 0)
				goto done;
		}
	}
	if (step != SQLITE_DONE)
		goto db_error;

	static const char *const field_names[IM_KIND_COUNT][2] = {
		[IM_KIND_FRIEND] = {"To_Account", NULL},	  [IM_KIND_BLACKLIST] = {"To_Account", NULL},
		[IM_KIND_GROUP_MEMBER] = {"Member_Account", NULL}, [IM_KIND_GROUP_UNREAD] = {"Member_Account", NULL},
		[IM_KIND_GROUP_MSG] = {"From_Account", NULL},	  [IM_KIND_GROUP] = {"Owner_Account", NULL},
		[IM_KIND_C2C_MSG] = {"From_Account", "To_Account"}, [IM_KIND_C2C_READ] = {"Report_Account", "Peer_Account"},
	};
	for (int k = 0; k < IM_KIND_COUNT; k++)
		for (int f = 0; f < 2; f++)
			if (t->n[k][f] &&
			    add_warning(w, IM_PLAN_REFUSE, im_kind_info(k)->name, t->n[k][f], t->ex[k][f],
					"%s over 32 bytes: a UserID is at most 32 bytes%s", field_names[k][f],
					k == IM_KIND_C2C_MSG || k == IM_KIND_C2C_READ ? " (count: conversations)" : "") < 0)
				goto oom;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (over[k] && add_warning(w, IM_PLAN_REFUSE, im_kind_info(k)->name, over[k], ex_over[k],
					   "message over 12,000 bytes (MsgBody + CloudCustomData): refused") < 0)
			goto oom;
		if (large[k] && add_warning(w, IM_PLAN_WARN, im_kind_info(k)->name, large[k], ex_large[k],
					    "message over 8,000 bytes: within today's 12,000-byte limit, over the "
					    "older 8 KB one (spec §5.1 conflict)") < 0)
			goto oom;
	}
	/* Ids that are the conv: the index answers. */
	for (int pass = 0; pass < 2; pass++) {
		if (sqlite3_prepare_v2(db, pass ? sql_conv_groups : sql_conv_ids, -1, &q, NULL) != SQLITE_OK)
			goto db_error;
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			int k = kind_of((const char *)sqlite3_column_text(q, 0));
			if (k < 0)
				continue;
			const char *what = pass ? "GroupId over 47 bytes: a custom GroupId is under 48 bytes"
				 : k == IM_KIND_ACCOUNT ? "UserID over 32 bytes: a UserID is at most 32 bytes"
							: "From_Account over 32 bytes: a UserID is at most 32 bytes";
			if (add_warning(w, IM_PLAN_REFUSE, im_kind_info(k)->name, sqlite3_column_int64(q, 1),
					(const char *)sqlite3_column_text(q, 2), "%s", what) < 0)
				goto oom;
		}
		sqlite3_finalize(q);
		q = NULL;
		if (step != SQLITE_DONE)
			goto db_error;
	}
	if (sqlite3_exec(db, sql_senders, NULL, NULL, NULL) != SQLITE_OK)
		goto db_error;
	int64_t n;
	char ex[128];
	if (query_count(st, sql_unknown, &n, ex, sizeof ex, err, err_size, "") < 0)
		goto done;
	if (n && add_warning(w, IM_PLAN_WARN, "", n, ex,
			     "users named by records but not staged as accounts: their records are refused "
			     "(70107/90012/30003/40003) unless the accounts exist in the target already") < 0)
		goto oom;
	rc = 0;
	goto done;
db_error:
	set_err(err, err_size, "%s: checking the stage: %s", im_stage_path(st), sqlite3_errmsg(db));
	goto done;
oom:
	set_err(err, err_size, "out of memory");
done:
	sqlite3_finalize(q);
	sqlite3_finalize(scan);
	sqlite3_finalize(pairs);
	sqlite3_finalize(ins);
	sqlite3_finalize(get);
	sqlite3_exec(db, "DELETE FROM temp.plan_users", NULL, NULL, NULL);
	free(t);
	return rc;
}

/* The time field ?2 of record alias a: a group message's SendTime is its ord (in
 * the records_sched index, so its payload is never read); others from JSON. */
#define TIME_OF(a) "(CASE WHEN " a ".kind = 'group_msg' THEN " a ".ord ELSE json_extract(" a ".payload, ?2) END)"

/* Group timing rules (spec §6.3, §6.4, §8.3): history and members must come after
 * the group's CreateTime, which is the import time when the group has none. */
static int check_group_times(struct im_stage *st, struct im_plan_warnings *w, char *err, size_t err_size)
{
	static const char *const sql_before =
		"WITH g AS MATERIALIZED (SELECT conv, json_extract(payload, '$.CreateTime') AS ct"
		" FROM records WHERE kind = 'group')"
		" SELECT COUNT(*), MIN(m.conv) FROM records m JOIN g ON g.conv = m.conv"
		" WHERE m.kind = ?1 AND g.ct IS NOT NULL AND " TIME_OF("m") " < g.ct";
	static const char *const sql_equal =
		"WITH g AS MATERIALIZED (SELECT conv, json_extract(payload, '$.CreateTime') AS ct"
		" FROM records WHERE kind = 'group')"
		" SELECT COUNT(*), MIN(m.conv) FROM records m JOIN g ON g.conv = m.conv"
		" WHERE m.kind = ?1 AND g.ct IS NOT NULL AND " TIME_OF("m") " = g.ct";
	static const char *const sql_no_ct =
		"WITH g AS MATERIALIZED (SELECT conv FROM records WHERE kind = 'group'"
		" AND json_type(payload, '$.CreateTime') IS NULL)"
		" SELECT COUNT(*), MIN(m.conv) FROM records m JOIN g ON g.conv = m.conv"
		" WHERE m.kind = ?1 AND " TIME_OF("m") " IS NOT NULL";
	static const char *const sql_future =
		"SELECT COUNT(*), MIN(r.conv) FROM records r WHERE r.kind = ?1 AND " TIME_OF("r") " > ?3";
	static const struct {
		enum im_kind kind;
		const char *path;
	} rules[] = {{IM_KIND_GROUP_MSG, "$.SendTime"}, {IM_KIND_GROUP_MEMBER, "$.JoinTime"}};
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < 2; i++) {
		const char *kind = im_kind_info(rules[i].kind)->name;
		const char *field = rules[i].path + 2;
		int64_t n;
		char ex[128];
		if (query_count(st, sql_before, &n, ex, sizeof ex, err, err_size, "ss", kind, rules[i].path) < 0)
			return -1;
		if (n && add_warning(w, IM_PLAN_REFUSE, kind, n, ex,
				     "%s before the group's CreateTime: refused (set import_group.CreateTime to "
				     "the original creation time)", field) < 0)
			return -1;
		if (query_count(st, sql_equal, &n, ex, sizeof ex, err, err_size, "ss", kind, rules[i].path) < 0)
			return -1;
		if (n && add_warning(w, IM_PLAN_WARN, kind, n, ex,
				     "%s equal to the group's CreateTime: the service wants it after "
				     "(equality unconfirmed)", field) < 0)
			return -1;
		if (query_count(st, sql_no_ct, &n, ex, sizeof ex, err, err_size, "ss", kind, rules[i].path) < 0)
			return -1;
		if (n && add_warning(w, IM_PLAN_REFUSE, kind, n, ex,
				     "%s in a group without CreateTime: the group is created at import time, so "
				     "every earlier %s is refused", field, field) < 0)
			return -1;
		if (query_count(st, sql_future, &n, ex, sizeof ex, err, err_size, "ssi", kind, rules[i].path,
				now) < 0)
			return -1;
		if (n && add_warning(w, IM_PLAN_REFUSE, kind, n, ex, "%s in the future: refused", field) < 0)
			return -1;
	}
	/* Work, Public and Meeting groups hide what was said before a member joined
	 * (console default, spec §8.3 [I]): worth knowing, not refused. */
	static const char *const sql_late =
		"WITH f AS MATERIALIZED (SELECT conv, MIN(ord) AS first FROM records WHERE kind = 'group_msg'"
		" GROUP BY conv)"
		" SELECT COUNT(*), MIN(m.conv) FROM records m JOIN f ON f.conv = m.conv"
		" WHERE m.kind = 'group_member' AND json_extract(m.payload, '$.JoinTime') > f.first";
	int64_t late;
	char late_ex[128];
	if (query_count(st, sql_late, &late, late_ex, sizeof late_ex, err, err_size, "") < 0)
		return -1;
	if (late && add_warning(w, IM_PLAN_INFO, "group_member", late, late_ex,
				"members joining after their group's first message: by default Work, Public and "
				"Meeting groups do not show them what was said before they joined") < 0)
		return -1;
	static const char *const sql_orphan =
		"SELECT COUNT(*), MIN(conv) FROM records WHERE kind = ?1"
		" AND conv NOT IN (SELECT conv FROM records WHERE kind = 'group')";
	static const enum im_kind group_kinds[] = {IM_KIND_GROUP_MEMBER, IM_KIND_GROUP_MSG, IM_KIND_GROUP_UNREAD};
	for (size_t i = 0; i < 3; i++) {
		const char *kind = im_kind_info(group_kinds[i])->name;
		int64_t n;
		char ex[128];
		if (query_count(st, sql_orphan, &n, ex, sizeof ex, err, err_size, "s", kind) < 0)
			return -1;
		if (n && add_warning(w, IM_PLAN_WARN, kind, n, ex,
				     "records of a group that is not staged: refused (10010) unless the group "
				     "exists in the target already") < 0)
			return -1;
	}
	return 0;
}

static int check_edition(struct im_stage *st, const struct im_plan_config *c, struct im_plan_warnings *w,
			 char *err, size_t err_size)
{
	int64_t n;
	char ex[128];
	static const char *const sql_per_conv =
		"SELECT COUNT(*), MIN(conv) FROM (SELECT conv, COUNT(*) AS n FROM records"
		" WHERE kind = ?1 GROUP BY conv) WHERE n > ?2";
	if (query_count(st, sql_per_conv, &n, ex, sizeof ex, err, err_size, "si", "friend", (int64_t)3000) < 0)
		return -1;
	if (n && add_warning(w, IM_PLAN_REFUSE, "friend", n, ex,
			     "users with more than 3,000 friends: the excess is refused") < 0)
		return -1;
	if (query_count(st, sql_per_conv, &n, ex, sizeof ex, err, err_size, "si", "blacklist", (int64_t)1000) < 0)
		return -1;
	if (n && add_warning(w, IM_PLAN_REFUSE, "blacklist", n, ex,
			     "users blocking more than 1,000 others: the excess is refused") < 0)
		return -1;

	const struct im_plan_edition *e = c->edition[0] ? im_plan_edition(c->edition) : NULL;
	if (!e)
		return 0;
	int64_t accounts = im_stage_count(st, "account", -1);
	int64_t groups = im_stage_count(st, "group", -1);
	if (accounts < 0 || groups < 0) {
		set_err(err, err_size, "%s: counting: %s", im_stage_path(st), im_stage_errmsg(st));
		return -1;
	}
	if (e->max_accounts && accounts > e->max_accounts &&
	    add_warning(w, IM_PLAN_REFUSE, "account", accounts - e->max_accounts, "",
			"%lld accounts on a %s app, which holds %lld: the rest are refused (70398)",
			(long long)accounts, e->name, (long long)e->max_accounts) < 0)
		return -1;
	if (e->max_groups && groups > e->max_groups &&
	    add_warning(w, IM_PLAN_REFUSE, "group", groups - e->max_groups, "",
			"%lld groups on a %s app, which holds %lld: the rest are refused (10058)",
			(long long)groups, e->name, (long long)e->max_groups) < 0)
		return -1;
	/* Members per group, counting an owner who is not also listed as a member. */
	static const char *const sql_members =
		"SELECT COUNT(*), MIN(conv) FROM (SELECT m.conv AS conv, COUNT(*) + EXISTS("
		"  SELECT 1 FROM records g WHERE g.kind = 'group' AND g.conv = m.conv"
		"  AND json_type(g.payload, '$.Owner_Account') = 'text') AS n"
		" FROM records m WHERE m.kind = 'group_member' GROUP BY m.conv) WHERE n > ?1";
	if (query_count(st, sql_members, &n, ex, sizeof ex, err, err_size, "i", e->max_members_raised) < 0)
		return -1;
	if (n && add_warning(w, IM_PLAN_REFUSE, "group_member", n, ex,
			     "groups with more than %lld members, the most a %s app allows: the excess "
			     "is refused", (long long)e->max_members_raised, e->name) < 0)
		return -1;
	if (e->max_members < e->max_members_raised) {
		int64_t over_base;
		if (query_count(st, sql_members, &over_base, ex, sizeof ex, err, err_size, "i", e->max_members) < 0)
			return -1;
		if (over_base - n > 0 &&
		    add_warning(w, IM_PLAN_WARN, "group_member", over_base - n, ex,
				"groups with more than %lld members: a %s app needs its member limit raised "
				"(up to %lld)", (long long)e->max_members, e->name,
				(long long)e->max_members_raised) < 0)
			return -1;
	}
	if (e->retention_days) {
		static const char *const sql_old =
			"SELECT COUNT(*), MIN(conv) FROM records WHERE kind IN ('c2c_msg', 'group_msg')"
			" AND ord < ?1";
		int64_t cutoff = (int64_t)time(NULL) - (int64_t)e->retention_days * 86400;
		if (query_count(st, sql_old, &n, ex, sizeof ex, err, err_size, "i", cutoff) < 0)
			return -1;
		if (n && add_warning(w, IM_PLAN_INFO, "", n, ex,
				     "messages older than the %d-day history retention of a %s app: how "
				     "retention treats imported history is unconfirmed", e->retention_days,
				     e->name) < 0)
			return -1;
	}
	return 0;
}

/* What staging refused already: dead letters of the parse, script and validate
 * stages, grouped by reason (the 20 most frequent). */
static int check_dead(struct im_stage *st, struct im_plan_warnings *w, char *err, size_t err_size)
{
	static const char *const sql =
		"SELECT stage, COALESCE(kind, ''), reason, COUNT(*), MIN(COALESCE(origin, ''))"
		" FROM dead_letters WHERE replayed = 0 AND stage <> 'api'"
		" GROUP BY stage, kind, reason ORDER BY 4 DESC, 1, 3 LIMIT 20";
	sqlite3_stmt *s = im_stage_stmt(st, sql, err, err_size);
	if (!s)
		return -1;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (add_warning(w, IM_PLAN_REFUSE, (const char *)sqlite3_column_text(s, 1),
				sqlite3_column_int64(s, 3), (const char *)sqlite3_column_text(s, 4),
				"dead letter (%s): %s", (const char *)sqlite3_column_text(s, 0),
				(const char *)sqlite3_column_text(s, 2)) < 0) {
			sqlite3_reset(s);
			set_err(err, err_size, "out of memory");
			return -1;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		set_err(err, err_size, "%s: reading dead letters: %s", im_stage_path(st), im_stage_errmsg(st));
		return -1;
	}
	return 0;
}

int im_plan_check(struct im_stage *st, const struct im_plan_config *c, struct im_plan_warnings *w,
		  char *err, size_t err_size)
{
	if (scan_records(st, w, err, err_size) < 0 || check_group_times(st, w, err, err_size) < 0 ||
	    check_edition(st, c, w, err, err_size) < 0 || check_dead(st, w, err, err_size) < 0) {
		if (err && !err[0])
			set_err(err, err_size, "out of memory");
		return -1;
	}
	return 0;
}
