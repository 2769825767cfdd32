/* SQLite storage of the emulated app. Every table is keyed as the service keys it,
 * so uniqueness rules (dedupe, membership) are the database's job. */
#include "config.h"

#include "state.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char schema[] =
	"PRAGMA foreign_keys=OFF;"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS accounts(user_id TEXT PRIMARY KEY, imported_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS profiles(user_id TEXT NOT NULL, tag TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY(user_id, tag));"
	"CREATE TABLE IF NOT EXISTS friends(owner TEXT NOT NULL, peer TEXT NOT NULL, remark TEXT,"
	" remark_time INTEGER, group_names TEXT, add_source TEXT, add_wording TEXT, add_time INTEGER,"
	" custom TEXT, PRIMARY KEY(owner, peer));"
	"CREATE TABLE IF NOT EXISTS blacklist(owner TEXT NOT NULL, peer TEXT NOT NULL, add_time INTEGER,"
	" PRIMARY KEY(owner, peer));"
	"CREATE TABLE IF NOT EXISTS c2c_msgs(id INTEGER PRIMARY KEY, pair_lo TEXT NOT NULL, pair_hi TEXT NOT NULL,"
	" from_account TEXT NOT NULL, to_account TEXT NOT NULL, msg_seq INTEGER NOT NULL,"
	" msg_random INTEGER NOT NULL, msg_time INTEGER NOT NULL, body TEXT NOT NULL, cloud_custom_data TEXT,"
	" origin TEXT NOT NULL, unread INTEGER NOT NULL,"
	" UNIQUE(pair_lo, pair_hi, msg_seq, msg_random, msg_time));"
	"CREATE TABLE IF NOT EXISTS groups(group_id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL,"
	" owner TEXT, introduction TEXT, notification TEXT, face_url TEXT, max_members INTEGER NOT NULL,"
	" apply_join TEXT, app_defined TEXT, mute_all TEXT, create_time INTEGER NOT NULL,"
	" next_seq INTEGER NOT NULL DEFAULT 1, latest_msg_time INTEGER NOT NULL DEFAULT 0,"
	" origin TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS members(group_id TEXT NOT NULL, account TEXT NOT NULL, role TEXT NOT NULL,"
	" join_time INTEGER NOT NULL, unread INTEGER NOT NULL DEFAULT 0, msg_flag TEXT, name_card TEXT,"
	" app_member_defined TEXT, mute_until INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(group_id, account));"
	"CREATE TABLE IF NOT EXISTS group_msgs(group_id TEXT NOT NULL, msg_seq INTEGER NOT NULL,"
	" from_account TEXT NOT NULL, send_time INTEGER NOT NULL, random INTEGER NOT NULL, body TEXT NOT NULL,"
	" cloud_custom_data TEXT, priority TEXT, origin TEXT NOT NULL, PRIMARY KEY(group_id, msg_seq));";

int state_open(const char *path, sqlite3 **db, char *err, size_t err_size)
{
	*db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
	if (sqlite3_open_v2(path ? path : ":memory:", db, flags, NULL) != SQLITE_OK) {
		snprintf(err, err_size, "%s: cannot open: %s", path ? path : ":memory:",
			 *db ? sqlite3_errmsg(*db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(*db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(*db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, err_size, "%s: cannot create the schema: %s", path ? path : ":memory:",
			 msg ? msg : "unknown error");
		sqlite3_free(msg);
		goto fail;
	}
	/* A file-backed state is a rehearsal target: WAL keeps a crash from losing it. */
	if (path)
		sqlite3_exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
	return 0;
fail:
	sqlite3_close(*db);
	*db = NULL;
	return -1;
}

static sqlite3_stmt *vquery(sqlite3 *db, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		im_error("sqlite: %s (in: %.80s)", sqlite3_errmsg(db), sql);
		return NULL;
	}
	for (int i = 1; fmt && *fmt; fmt++, i++) {
		int rc = SQLITE_OK;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
			break;
		}
		case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int)); break;
		case 'I': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
		case 'j': {
			const json_t *j = va_arg(ap, const json_t *);
			char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
			rc = text ? sqlite3_bind_text(st, i, text, -1, free) : sqlite3_bind_null(st, i);
			break;
		}
		default: rc = SQLITE_MISUSE; break;
		}
		if (rc != SQLITE_OK) {
			im_error("sqlite: cannot bind parameter %d: %s", i, sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

sqlite3_stmt *db_query(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *st = vquery(db, sql, fmt, ap);
	va_end(ap);
	return st;
}

int db_exec(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *st = vquery(db, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		im_error("sqlite: %s (in: %.80s)", sqlite3_errmsg(db), sql);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int64_t db_int(sqlite3 *db, int64_t dflt, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *st = vquery(db, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return dflt;
	int64_t v = dflt;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		im_error("sqlite: %s (in: %.80s)", sqlite3_errmsg(db), sql);
	sqlite3_finalize(st);
	return v;
}

json_t *db_col_json(sqlite3_stmt *st, int i)
{
	const char *text = (const char *)sqlite3_column_text(st, i);
	json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	return j ? j : json_null();
}

const char *db_col_text(sqlite3_stmt *st, int i)
{
	const char *text = (const char *)sqlite3_column_text(st, i);
	return text ? text : "";
}

/* Columns holding JSON text are dumped as JSON, not as strings. */
static bool is_json_column(const char *name)
{
	static const char *const cols[] = {"value", "group_names", "custom", "body", "app_defined",
					   "app_member_defined", NULL};
	for (const char *const *c = cols; *c; c++)
		if (!strcmp(name, *c))
			return true;
	return false;
}

static const char *const dump_tables[] = {"accounts", "profiles", "friends", "blacklist", "c2c_msgs",
					      "groups", "members", "group_msgs", NULL};

/* One row as {column: value}, from column `first` on. */
static json_t *row_json(sqlite3_stmt *st, int first)
{
	json_t *row = json_object();
	for (int i = first; row && i < sqlite3_column_count(st); i++) {
		const char *name = sqlite3_column_name(st, i);
		json_t *v;
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
		case SQLITE_NULL: v = json_null(); break;
		default: v = is_json_column(name) ? db_col_json(st, i) : json_string(db_col_text(st, i)); break;
		}
		json_object_set_new(row, name, v);
	}
	return row;
}

/* Rows per page: what the dump holds in memory at a time. */
#define DUMP_PAGE 256

struct state_dump {
	int table;		/* index in dump_tables; -1 before the opening brace */
	bool in_table;		/* the table's "name":[ has been written */
	bool any_row;		/* a row of this table has been written (comma needed) */
	int64_t last_rowid;	/* rows up to here are written */
	bool done;
};

struct state_dump *state_dump_open(void)
{
	struct state_dump *d = calloc(1, sizeof *d);
	if (d)
		d->table = -1;
	return d;
}

void state_dump_close(struct state_dump *d)
{
	free(d);
}

static int append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n + 1)
			c *= 2;
		char *b = realloc(*buf, c);
		if (!b)
			return -1;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, text, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int state_dump_next(sqlite3 *db, struct state_dump *d, char **text, size_t *len)
{
	size_t cap = 0;
	*text = NULL;
	*len = 0;
	if (d->done)
		return 1;
	if (d->table < 0) {
		d->table = 0;
		return append(text, len, &cap, "{", 1);
	}
	if (!dump_tables[d->table]) {
		d->done = true;
		return append(text, len, &cap, "}", 1);
	}
	if (!d->in_table) {
		char head[64];
		int n = snprintf(head, sizeof head, "%s\"%s\":[", d->table ? "," : "", dump_tables[d->table]);
		d->in_table = true;
		d->any_row = false;
		d->last_rowid = INT64_MIN;
		return append(text, len, &cap, head, (size_t)n);
	}
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT rowid, * FROM %s WHERE rowid > ? ORDER BY rowid LIMIT %d",
		 dump_tables[d->table], DUMP_PAGE);
	sqlite3_stmt *st = db_query(db, sql, "I", d->last_rowid);
	if (!st)
		return -1;
	int rows = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = row_json(st, 1);
		char *r = row ? json_dumps(row, JSON_COMPACT) : NULL;
		json_decref(row);
		if (!r || (d->any_row && append(text, len, &cap, ",", 1)) || append(text, len, &cap, r, strlen(r))) {
			free(r);
			sqlite3_finalize(st);
			return -1;
		}
		free(r);
		d->any_row = true;
		d->last_rowid = sqlite3_column_int64(st, 0);
		rows++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (rows < DUMP_PAGE) {
		d->table++;
		d->in_table = false;
		if (append(text, len, &cap, "]", 1))
			return -1;
	}
	return 0;
}
