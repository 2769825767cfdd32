/* The stage: idempotent staging, checkpoints atomic with records, dead letters,
 * id map, counts, persistence across reopen. */
#include "config.h"

#include "stage.h"
#include "tap.h"
#include "util.h"

#include <sys/stat.h>

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

/* The native record number i of the chunk test: sizes and texts vary, some
 * need escaping in the chunk's JSON, every 7th has no source id or origin. */
static void raw_fields(int i, char *data, size_t data_size, char *sid, char *origin);

struct raw_walk_state {
	int64_t next;
	int n, bad;
};

/* Counts the records im_stage_raw_foreach hands over and checks their order. */
static int raw_walk(void *arg, int64_t raw_id, const struct im_stage_raw *r)
{
	struct raw_walk_state *w = arg;
	char data[1024], sid[32], origin[64];
	raw_fields((int)(raw_id - 1), data, sizeof data, sid, origin);
	if (raw_id != w->next++ || r->data_len != strlen(data) || strcmp(r->data, data))
		w->bad++;
	w->n++;
	return 0;
}

static void raw_fields(int i, char *data, size_t data_size, char *sid, char *origin)
{
	int n = snprintf(data, data_size, "{\"i\":%d,\"text\":\"%.*s\"}", i, (i * 37) % 900,
			 "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
			 "ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco "
			 "laboris nisi ut aliquip ex ea commodo consequat duis aute irure dolor in reprehenderit in "
			 "voluptate velit esse cillum dolore eu fugiat nulla pariatur excepteur sint occaecat cupidatat "
			 "non proident sunt in culpa qui officia deserunt mollit anim id est laborum lorem ipsum dolor "
			 "sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
			 "magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip "
			 "ex ea commodo consequat duis aute irure dolor in reprehenderit in voluptate velit esse cillum "
			 "dolore eu fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt in culpa");
	(void)n;
	snprintf(sid, 32, "id-%d \"q\" \\ \t é", i);
	snprintf(origin, 64, "dir/export \"%d\".jsonl:%d", i % 3, i + 1);
}

/* Native records are written in chunks (several per raw_chunk row): ids stay
 * consecutive, every record reads back exactly, through the API and the raw
 * view, before and after the commit; a rollback drops the buffered ones. */
static void raw_chunks(void)
{
	char err[512], path[300];
	snprintf(path, sizeof path, "%s/raw.db", scratch());
	struct im_stage *st;
	if (!ok(im_stage_open(path, &st, err, sizeof err) == 0, "raw: a new stage opens")) {
		diag("%s", err);
		return;
	}
	enum { N = 3000 };
	char data[1024], sid[32], origin[64];
	int64_t first = 0, prev = 0;
	int consecutive = 1, failed = 0;
	ok(im_stage_begin(st, err, sizeof err) == 0, "raw: begin");
	for (int i = 0; i < N; i++) {
		raw_fields(i, data, sizeof data, sid, origin);
		int64_t id = 0;
		int bare = i % 7 == 0;
		if (im_stage_put_raw(st, i % 2 ? "users" : "messages", bare ? NULL : sid, bare ? NULL : origin, data,
				     strlen(data), &id, err, sizeof err) < 0) {
			failed = 1;
			diag("%s", err);
			break;
		}
		if (!i)
			first = id;
		else if (id != prev + 1)
			consecutive = 0;
		prev = id;
	}
	ok(!failed && consecutive, "raw: %d native records staged with consecutive ids", N);
	/* Read while some are still buffered: the read writes them first. */
	char *got = NULL, *stream = NULL, *got_sid = NULL, *got_origin = NULL;
	raw_fields(N - 1, data, sizeof data, sid, origin);
	ok(im_stage_get_raw(st, first + N - 1, &got, &stream, &got_sid, &got_origin) == 0 && !strcmp(got, data) &&
		   !strcmp(stream, "users") && !strcmp(got_sid, sid) && !strcmp(got_origin, origin),
	   "raw: the last record reads back inside the transaction");
	free(got);
	free(stream);
	free(got_sid);
	free(got_origin);
	ok(im_stage_commit(st, err, sizeof err) == 0, "raw: commit");
	sqlite3_stmt *q = im_stage_stmt(st, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM raw", err, sizeof err);
	int chunked = 0;
	if (q && sqlite3_step(q) == SQLITE_ROW)
		chunked = sqlite3_column_int(q, 0) == N && sqlite3_column_int(q, 1) == N &&
			  sqlite3_column_int64(q, 2) == first && sqlite3_column_int64(q, 3) == first + N - 1;
	sqlite3_reset(q);
	ok(chunked, "raw: the raw view has one row per native record");
	q = im_stage_stmt(st, "SELECT count(*) > 1, count(*) < 100, sum(n) FROM raw_chunk", err, sizeof err);
	ok(q && sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1 && sqlite3_column_int(q, 1) == 1 &&
		   sqlite3_column_int(q, 2) == N,
	   "raw: in a few chunks");
	sqlite3_reset(q);

	int mismatches = 0;
	q = im_stage_stmt(st, "SELECT stream, source_id, origin, data FROM raw WHERE id = ?1", err, sizeof err);
	for (int i = 0; i < N; i += 97) {
		raw_fields(i, data, sizeof data, sid, origin);
		char *d = NULL;
		int bare = i % 7 == 0;
		if (im_stage_get_raw(st, first + i, &d, NULL, &got_sid, &got_origin) != 0 || strcmp(d, data) ||
		    (bare ? got_sid != NULL || got_origin != NULL : strcmp(got_sid, sid) || strcmp(got_origin, origin)))
			mismatches++;
		free(d);
		free(got_sid);
		free(got_origin);
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, first + i);
		if (sqlite3_step(q) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(q, 0), i % 2 ? "users" : "messages") ||
		    (bare ? sqlite3_column_type(q, 1) != SQLITE_NULL || sqlite3_column_type(q, 2) != SQLITE_NULL
			  : strcmp((const char *)sqlite3_column_text(q, 1), sid) ||
				    strcmp((const char *)sqlite3_column_text(q, 2), origin)) ||
		    strcmp((const char *)sqlite3_column_text(q, 3), data))
			mismatches++;
	}
	sqlite3_reset(q);
	is_int(mismatches, 0, "raw: records read back exactly (API and view), escapes and NULLs included");
	char *none = NULL;
	is_int(im_stage_get_raw(st, first + N, &none, NULL, NULL, NULL), 1, "raw: past the last id: none");
	is_int(im_stage_get_raw(st, 0, &none, NULL, NULL, NULL), 1, "raw: id 0: none");

	struct raw_walk_state w = {first + 1234, 0, 0};
	int rc = im_stage_raw_foreach(st, first + 1234, raw_walk, &w, err, sizeof err);
	ok(rc == 0 && w.n == N - 1234 && !w.bad, "raw: foreach from the middle visits the rest in order (%d)", w.n);

	/* A native record larger than a chunk gets a chunk of its own. */
	size_t big_len = 1 << 20;
	char *big = malloc(big_len + 1);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	big[big_len] = '\0';
	int64_t big_id = 0;
	ok(im_stage_begin(st, err, sizeof err) == 0 &&
		   im_stage_put_raw(st, "s", NULL, NULL, "{}", 2, NULL, err, sizeof err) == 0 &&
		   im_stage_put_raw(st, "s", NULL, NULL, big, big_len, &big_id, err, sizeof err) == 0 &&
		   im_stage_put_raw(st, "s", NULL, NULL, "[]", 2, NULL, err, sizeof err) == 0 &&
		   im_stage_commit(st, err, sizeof err) == 0,
	   "raw: a 1 MiB native record between two small ones");
	ok(im_stage_get_raw(st, big_id, &got, NULL, NULL, NULL) == 0 && strlen(got) == big_len && !strcmp(got, big),
	   "raw: it reads back whole");
	free(got);
	ok(im_stage_get_raw(st, big_id + 1, &got, NULL, NULL, NULL) == 0 && !strcmp(got, "[]"),
	   "raw: and the record after it");
	free(got);
	free(big);
	first += 3; /* the ids the rolled back transaction below takes */

	/* A rolled back transaction leaves no raw row, and its ids are used again. */
	int64_t id = 0;
	ok(im_stage_begin(st, err, sizeof err) == 0 &&
		   im_stage_put_raw(st, "s", NULL, NULL, "{}", 2, &id, err, sizeof err) == 0 && id == first + N,
	   "raw: the next id follows the committed ones");
	im_stage_rollback(st);
	is_int(im_stage_get_raw(st, id, &none, NULL, NULL, NULL), 1, "raw: rolled back: gone");
	int64_t id2 = 0;
	ok(im_stage_put_raw(st, "s", NULL, NULL, "{\"x\":1}", 7, &id2, err, sizeof err) == 0 && id2 == id,
	   "raw: outside a transaction, written at once, under the freed id");
	im_stage_close(st);
	ok(im_stage_open(path, &st, err, sizeof err) == 0, "raw: reopens");
	ok(im_stage_get_raw(st, id2, &got, NULL, NULL, NULL) == 0 && !strcmp(got, "{\"x\":1}"), "raw: it persisted");
	free(got);
	ok(im_stage_put_raw(st, "s", NULL, NULL, "{}", 2, &id, err, sizeof err) == 0 && id == id2 + 1,
	   "raw: ids go on after a reopen");
	im_stage_close(st);
}

/* A conversation's records come in (ord, seq) order, ties on ord included,
 * whatever order they were staged in, straight from the scheduling index: no
 * sort per query (the loader runs this query for every batch; leaving seq out
 * of the index made the build cheaper but added ~35,000 instructions to each
 * of these queries). */
static void sched_order(void)
{
	char err[512], path[300];
	snprintf(path, sizeof path, "%s/sched.db", scratch());
	struct im_stage *st;
	if (!ok(im_stage_open(path, &st, err, sizeof err) == 0, "sched: a new stage opens")) {
		diag("%s", err);
		return;
	}
	static const int64_t ord_seq[][2] = {{10, 5}, {10, 3}, {5, 9}, {10, 4}, {20, 1}, {10, 8}};
	int staged = im_stage_bulk_begin(st, err, sizeof err) == 0 && im_stage_begin(st, err, sizeof err) == 0;
	for (size_t i = 0; i < sizeof ord_seq / sizeof ord_seq[0]; i++) {
		char key[64];
		snprintf(key, sizeof key, "c2c_msg:[%zu]", i);
		struct im_stage_record r = {
			.kind = "c2c_msg", .conv = i == 5 ? "a|c" : "a|b", .ord = ord_seq[i][0], .seq = ord_seq[i][1],
			.payload = "{}", .payload_len = 2, .dedupe_key = key,
		};
		staged = staged && im_stage_put_record(st, &r, NULL, err, sizeof err) == IM_STAGE_NEW;
	}
	staged = staged && im_stage_save_checkpoint(st, "src", NULL, 1, err, sizeof err) == 0 &&
		 im_stage_commit(st, err, sizeof err) == 0 && im_stage_bulk_end(st, NULL, NULL, err, sizeof err) == 0;
	ok(staged, "sched: records staged out of order, index built");
	/* The loader's per-conversation query (load_stage_conv_head). */
	sqlite3_stmt *q = im_stage_stmt(st,
					"SELECT ord, seq FROM records WHERE kind = ?1 AND status = 0 AND conv = ?2"
					" ORDER BY ord, seq LIMIT ?3",
					err, sizeof err);
	char got[128] = "";
	sqlite3_bind_text(q, 1, "c2c_msg", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, "a|b", -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, 4);
	while (q && sqlite3_step(q) == SQLITE_ROW) {
		size_t len = strlen(got);
		snprintf(got + len, sizeof got - len, "%lld/%lld ", (long long)sqlite3_column_int64(q, 0),
			 (long long)sqlite3_column_int64(q, 1));
	}
	sqlite3_reset(q);
	is_str(got, "5/9 10/3 10/4 10/5 ", "sched: (ord, seq) order, the first 4");
	char plan[512] = "";
	q = im_stage_stmt(st,
			  "EXPLAIN QUERY PLAN SELECT ord, seq FROM records WHERE kind = ?1 AND status = 0 AND conv = ?2"
			  " ORDER BY ord, seq LIMIT ?3",
			  err, sizeof err);
	while (q && sqlite3_step(q) == SQLITE_ROW) {
		size_t len = strlen(plan);
		snprintf(plan + len, sizeof plan - len, "%s; ", (const char *)sqlite3_column_text(q, 3));
	}
	sqlite3_reset(q);
	ok(strstr(plan, "records_sched") != NULL && !strstr(plan, "TEMP B-TREE"),
	   "sched: through the scheduling index, no sort (%s)", plan);
	im_stage_close(st);
}

static void note_duplicate(void *arg, const char *kind, int64_t id)
{
	char *out = arg;
	size_t len = strlen(out);
	snprintf(out + len, 256 - len, "%s#%lld;", kind, (long long)id);
}

/* Puts key (as an account record); returns the record id, or -1. */
static int64_t put_key(struct im_stage *st, const char *key, int want)
{
	char err[512];
	struct im_stage_record r = rec(key, "{}");
	int64_t id = -1;
	int got = im_stage_put_record(st, &r, &id, err, sizeof err);
	if (got != want) {
		diag("%s: put gave %d, wanted %d (%s)", key, got, want, got < 0 ? err : "");
		return -1;
	}
	return id;
}

static int64_t column_int(struct im_stage *st, const char *sql, int64_t arg)
{
	char err[512];
	sqlite3_stmt *q = im_stage_stmt(st, sql, err, sizeof err);
	if (!q)
		return -1;
	sqlite3_bind_int64(q, 1, arg);
	int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
	sqlite3_reset(q);
	return v;
}

/* Stores a row with key at the hash another key is first tried under, plus
 * probe; returns its id, or -1. */
static int64_t plant(struct im_stage *st, const char *key, const char *hash_of, int probe)
{
	char sql[300];
	snprintf(sql, sizeof sql,
		 "INSERT INTO records(kind, conv, ord, seq, payload, dedupe_hash, dedupe_key)"
		 " VALUES('account', 'x', 0, 0, '{}', %lld, '%s')",
		 (long long)(im_stage_dedupe_hash(hash_of) + probe), key);
	sqlite3 *db = im_stage_db(st);
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? sqlite3_last_insert_rowid(db) : -1;
}

/* A bulk extract into an empty stage appends what it stages; when it ends
 * the stage holds what staging record by record would have left: the first
 * copy of every key (an earlier, unfinished run's included), colliding keys on
 * the next free hash, and the end names each copy it removed. */
static void bulk_dedupe(void)
{
	char err[512], path[300], seen[256] = "";
	snprintf(path, sizeof path, "%s/bulk.db", scratch());
	struct im_stage *st;
	if (!ok(im_stage_open(path, &st, err, sizeof err) == 0, "bulk: a new stage opens")) {
		diag("%s", err);
		return;
	}
	const char *A = "account:[\"a\"]", *B = "account:[\"b\"]", *K = "account:[\"k\"]", *C = "account:[\"c\"]";
	const char *dedupe_index = "SELECT count(*) FROM sqlite_master WHERE name = 'records_dedupe' AND ?1";
	/* A first run, killed after its first batch: A, and K where probing put it
	 * past an impostor holding its hash. */
	ok(im_stage_bulk_begin(st, err, sizeof err) == 0 && im_stage_begin(st, err, sizeof err) == 0,
	   "bulk: begins on an empty stage");
	is_int(column_int(st, dedupe_index, 1), 0, "bulk: no dedupe index while staging in bulk");
	int64_t a1 = put_key(st, A, IM_STAGE_NEW);
	ok(plant(st, "account:[\"impostor\"]", K, 0) > 0, "bulk: an impostor holds K's hash");
	int64_t k1 = plant(st, K, K, 1);
	ok(im_stage_save_checkpoint(st, "src", "tok-1", 0, err, sizeof err) == 0 &&
		   im_stage_commit(st, err, sizeof err) == 0,
	   "bulk: a first batch committed");
	im_stage_close(st);

	/* Resumed: the index stays away, the records staged again are appended. */
	ok(im_stage_open(path, &st, err, sizeof err) == 0 && im_stage_bulk_begin(st, err, sizeof err) == 0 &&
		   im_stage_begin(st, err, sizeof err) == 0,
	   "bulk: the extract resumes");
	is_int(column_int(st, dedupe_index, 1), 0, "bulk: still no dedupe index");
	int64_t a2 = put_key(st, A, IM_STAGE_NEW);
	int64_t b1 = put_key(st, B, IM_STAGE_NEW);
	is_int(put_key(st, B, IM_STAGE_DUPLICATE), b1, "bulk: a copy made in the same transaction is found at once");
	int64_t k2 = put_key(st, K, IM_STAGE_NEW);
	ok(plant(st, "account:[\"x\"]", C, 0) > 0, "bulk: a row of another key holds C's hash");
	int64_t c1 = put_key(st, C, IM_STAGE_NEW);
	ok(a1 > 0 && k1 > 0 && a2 > 0 && b1 > 0 && k2 > 0 && c1 > 0, "bulk: the other copies are appended");
	ok(im_stage_save_checkpoint(st, "src", NULL, 1, err, sizeof err) == 0 &&
		   im_stage_commit(st, err, sizeof err) == 0,
	   "bulk: the last batch committed");
	if (!ok(im_stage_bulk_end(st, note_duplicate, seen, err, sizeof err) == 0, "bulk: ends"))
		diag("%s", err);
	char want[256];
	snprintf(want, sizeof want, "account#%lld;account#%lld;", (long long)a2, (long long)k2);
	is_str(seen, want, "bulk: the later copies of A and K are named, in id order");
	is_int(column_int(st, "SELECT count(*) FROM records WHERE ?1", 1), 6,
	       "bulk: a, impostor, k, b, x and c remain");
	is_int(column_int(st, "SELECT count(*) FROM records WHERE id IN (?1)", a2) +
		       column_int(st, "SELECT count(*) FROM records WHERE id IN (?1)", k2),
	       0, "bulk: the later copies are the ones gone");
	is_int(column_int(st, "SELECT dedupe_hash FROM records WHERE id = ?1", c1), im_stage_dedupe_hash(C) + 1,
	       "bulk: C moved to its next hash");
	is_int(column_int(st, "SELECT count(*) FROM sqlite_master WHERE name IN ('records_dedupe', 'records_sched')"
			  " AND ?1", 1),
	       2, "bulk: both indexes are back");
	is_int(column_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'records_dedupe_scan' AND ?1", 1), 0,
	       "bulk: the scratch index is gone");
	is_int(put_key(st, C, IM_STAGE_DUPLICATE), c1, "bulk: afterwards C is found where it moved");
	is_int(put_key(st, K, IM_STAGE_DUPLICATE), k1, "bulk: K where the first run put it");
	seen[0] = '\0';
	ok(im_stage_bulk_end(st, note_duplicate, seen, err, sizeof err) == 0 && !seen[0],
	   "bulk: ending again changes nothing");

	/* A copy remembered from a batch rolled back is not a duplicate: its
	 * first copy is gone. */
	const char *D = "account:[\"d\"]";
	ok(im_stage_bulk_begin(st, err, sizeof err) == 0 &&
		   sqlite3_exec(im_stage_db(st), "DROP INDEX records_dedupe", NULL, NULL, NULL) == SQLITE_OK,
	   "bulk: (again) without the dedupe index, as an extract into an empty stage has it");
	ok(im_stage_begin(st, err, sizeof err) == 0 && put_key(st, D, IM_STAGE_NEW) > 0, "bulk: D appended");
	is_int(column_int(st, dedupe_index, 1), 0, "bulk: (no index: the copy would be remembered)");
	im_stage_rollback(st);
	ok(im_stage_begin(st, err, sizeof err) == 0 && put_key(st, D, IM_STAGE_NEW) > 0,
	   "bulk: after a rollback D is new again");
	ok(im_stage_commit(st, err, sizeof err) == 0 && im_stage_bulk_end(st, NULL, NULL, err, sizeof err) == 0,
	   "bulk: and ends");
	is_int(column_int(st, "SELECT count(*) FROM records WHERE dedupe_key = 'account:[\"d\"]' AND ?1", 1), 1,
	       "bulk: one D");

	/* Killed after the extract's last commit, before its end: the next open
	 * of the stage ends it, copies included. */
	{
		char path2[300];
		snprintf(path2, sizeof path2, "%s/bulk-crash.db", scratch());
		struct im_stage *st2;
		const char *E = "account:[\"e\"]";
		int64_t e1 = -1;
		ok(im_stage_open(path2, &st2, err, sizeof err) == 0 && im_stage_bulk_begin(st2, err, sizeof err) == 0 &&
			   im_stage_begin(st2, err, sizeof err) == 0 && (e1 = put_key(st2, E, IM_STAGE_NEW)) > 0 &&
			   im_stage_save_checkpoint(st2, "src", "t", 0, err, sizeof err) == 0 &&
			   im_stage_commit(st2, err, sizeof err) == 0 && im_stage_begin(st2, err, sizeof err) == 0 &&
			   put_key(st2, E, IM_STAGE_NEW) > 0 &&
			   im_stage_save_checkpoint(st2, "src", NULL, 1, err, sizeof err) == 0 &&
			   im_stage_commit(st2, err, sizeof err) == 0,
		   "crash: a copy in a later batch, the source read to its end");
		im_stage_close(st2); /* no bulk_end: as if killed */
		ok(im_stage_open(path2, &st2, err, sizeof err) == 0, "crash: the stage opens");
		is_int(column_int(st2, "SELECT count(*) FROM records WHERE ?1", 1), 1, "crash: one E");
		is_int(column_int(st2, "SELECT min(id) FROM records WHERE ?1", 1), e1, "crash: the first copy");
		is_int(column_int(st2, "SELECT count(*) FROM sqlite_master WHERE name IN ('records_dedupe', 'records_sched')"
				   " AND ?1", 1),
		       2, "crash: both indexes built");
		im_stage_close(st2);
	}

	/* Run again into a stage with records: duplicates are found as they come. */
	ok(im_stage_bulk_begin(st, err, sizeof err) == 0, "bulk: a second extract begins");
	is_int(column_int(st, dedupe_index, 1), 1, "bulk: the dedupe index stays");
	is_int(put_key(st, B, IM_STAGE_DUPLICATE), b1, "bulk: B is a duplicate at once");
	ok(im_stage_bulk_end(st, NULL, NULL, err, sizeof err) == 0, "bulk: and ends");
	im_stage_close(st);
}

int main(void)
{
	char err[512], path[300];
	snprintf(path, sizeof path, "%s/stage.db", scratch());
	struct im_stage *st;
	umask(022); /* a common default, under which SQLite alone would make the file 644 */
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
	{
		/* It will hold every message of the migration: owner-only, whatever the umask. */
		struct stat sb;
		char wal[320];
		snprintf(wal, sizeof wal, "%s-wal", path);
		ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "a new stage file is mode 600");
		ok(stat(wal, &sb) == 0 && (sb.st_mode & 077) == 0, "its WAL is not readable by others");
	}

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
	int64_t dl_id = 0, sync_dl_id = 0;
	ok(im_stage_put_dead(st, &dl, &dl_id, err, sizeof err) == 0, "dead letter stored");
	/* The sync daemon links its dead letters to the outbox row `dlq replay` re-queues. */
	struct im_stage_dead sdl = {.stage = "script", .origin = "sync:im#42", .raw = "{}", .reason = "boom",
				    .event_id = 42};
	ok(im_stage_put_dead(st, &sdl, &sync_dl_id, err, sizeof err) == 0, "sync dead letter stored");
	q = im_stage_stmt(st, "SELECT coalesce(event_id, -1) FROM dead_letters WHERE id = ?1", err, sizeof err);
	sqlite3_bind_int64(q, 1, sync_dl_id);
	is_int(q && sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0, 42, "it keeps its sync event id");
	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, dl_id);
	is_int(q && sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0, -1,
	       "a dead letter of an extract has none (NULL)");
	sqlite3_reset(q);
	/* Out again, so the counts below are those of the extract's dead letters. */
	q = im_stage_stmt(st, "DELETE FROM dead_letters WHERE id = ?1", err, sizeof err);
	sqlite3_bind_int64(q, 1, sync_dl_id);
	ok(q && sqlite3_step(q) == SQLITE_DONE, "removed again");
	sqlite3_reset(q);
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
	       "after reopen a re-staged record is still a duplicate (bulk into a stage with records keeps the"
	       " dedupe index)");

	ok(im_stage_save_checkpoint(st, "src", NULL, 1, err, sizeof err) == 0, "a done checkpoint without token");
	token = (char *)1;
	ok(im_stage_load_checkpoint(st, "src", &token, &done, err, sizeof err) == 0 && token == NULL && done == 1,
	   "reads back as done, no token");
	im_stage_close(st);
	ok(im_stage_open(path, &st, err, sizeof err) == 0, "reopens with the extract done");
	is_int(im_stage_count(st, "account", -1), 4, "u1, u2, victim and the impostor");
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
	raw_chunks();
	sched_order();
	bulk_dedupe();
	scratch_cleanup();
	return done_testing();
}
