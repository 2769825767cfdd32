/* Verification: read the target back and compare (see verify.h). */
#include "config.h"

#include "verify.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "pace.h"

/* Key separator: a control character no id is likely to hold, shown as " / ". */
#define SEP "\x1f"

#define MAX_PACES 8

struct verifier {
	struct im_stage *st;
	sqlite3 *db;
	struct im_tim *tim;
	const struct im_verify_options *opt;
	struct im_verify_result *res;
	struct {
		const char *command;
		struct im_pace pace;
	} paces[MAX_PACES];
	size_t npaces;
	size_t diffs_cap;
	size_t diffs_this_kind;
	sqlite3_stmt *insert_found; /* prepared once: one row per record read back */
	char *err;
	size_t err_size;
};

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

static int db_fail(struct verifier *v, const char *what)
{
	set_err(v->err, v->err_size, "%s: %s: %s", im_stage_path(v->st), what, sqlite3_errmsg(v->db));
	return -1;
}

static void sleep_seconds(double s)
{
	if (!(s > 0))
		return;
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static double limit_for(const struct verifier *v, const char *command)
{
	const json_t *l = v->opt->limits ? json_object_get(v->opt->limits, command) : NULL;
	if (json_is_number(l) && json_number_value(l) > 0)
		return json_number_value(l);
	return im_pace_default_limit(command);
}

static struct im_pace *pace_for(struct verifier *v, const char *command)
{
	for (size_t i = 0; i < v->npaces; i++)
		if (strcmp(v->paces[i].command, command) == 0)
			return &v->paces[i].pace;
	if (v->npaces == MAX_PACES)
		return &v->paces[0].pace; /* cannot happen: verify uses seven APIs */
	v->paces[v->npaces].command = command;
	im_pace_init(&v->paces[v->npaces].pace, limit_for(v, command), im_pace_now());
	return &v->paces[v->npaces++].pace;
}

struct reply_box {
	int done;
	int curl_code;
	long http_status;
	char *body;
	size_t body_len;
};

static void on_reply(void *arg, const struct im_tim_reply *r)
{
	struct reply_box *b = arg;
	b->done = 1;
	b->curl_code = r->curl_code;
	b->http_status = r->http_status;
	if (r->body && r->body_len) {
		b->body = malloc(r->body_len + 1);
		if (b->body) {
			memcpy(b->body, r->body, r->body_len);
			b->body[r->body_len] = '\0';
			b->body_len = r->body_len;
		}
	}
}

enum call_result { CALL_OK = 0, CALL_REFUSED = 1, CALL_FATAL = -1 };

/* One request, paced and retried: CALL_OK with *out (new reference), CALL_REFUSED
 * when the service refused this request for good (*code says why: a group that
 * does not exist, ...), CALL_FATAL with v->err set. */
static enum call_result call(struct verifier *v, const char *service, const char *command, json_t *body,
			     json_t **out, long *code)
{
	*out = NULL;
	*code = 0;
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		set_err(v->err, v->err_size, "out of memory");
		return CALL_FATAL;
	}
	struct im_pace *pace = pace_for(v, command);
	int max_attempts = v->opt->max_attempts > 0 ? v->opt->max_attempts : 6;
	int renewed = 0;
	enum call_result result = CALL_FATAL;
	for (int attempt = 1;; attempt++) {
		double wait;
		while (im_pace_take(pace, im_pace_now(), &wait) < 0)
			sleep_seconds(wait);
		struct reply_box box = {0};
		if (im_tim_submit(v->tim, service, command, text, strlen(text), on_reply, &box) < 0) {
			set_err(v->err, v->err_size, "%s/%s: cannot set up the request", service, command);
			break;
		}
		v->res->calls++;
		/* im_tim_run polls after its first transfer step even when that step
		 * finished the request, so a zero-timeout step comes first: on a fast
		 * target the answer is often complete already. */
		while (!box.done)
			if (im_tim_run(v->tim, 0) < 0 || (!box.done && im_tim_run(v->tim, 5) < 0)) {
				set_err(v->err, v->err_size, "%s/%s: transfer failed", service, command);
				free(text);
				return CALL_FATAL;
			}
		struct im_answer a = {box.curl_code, box.http_status, box.body, box.body_len};
		struct im_verdict verdict;
		json_t *json = NULL;
		im_classify_answer(&a, &verdict, &json);
		free(box.body);
		if (verdict.outcome == IM_OUTCOME_OK) {
			*out = json;
			result = CALL_OK;
			break;
		}
		if (verdict.outcome == IM_OUTCOME_PERMANENT) {
			*code = verdict.code;
			result = CALL_REFUSED;
			break;
		}
		if (verdict.outcome == IM_OUTCOME_USERSIG && !renewed) {
			renewed = 1;
			if (im_tim_renew_usersig(v->tim) == 0)
				continue;
		}
		if (im_outcome_is_fatal(verdict.outcome) || verdict.outcome == IM_OUTCOME_USERSIG ||
		    attempt >= max_attempts) {
			set_err(v->err, v->err_size, "%s/%s: %s%s", service, command, verdict.message,
				attempt >= max_attempts ? " (giving up after retries)" : "");
			break;
		}
		if (verdict.outcome == IM_OUTCOME_RATE_LIMITED) {
			v->res->throttled++;
			im_pace_throttled(pace, im_pace_now());
		}
		/* Exponential backoff with full jitter, capped at 5 s. */
		double cap = fmin(5.0, 0.1 * pow(2, attempt - 1));
		double delay = cap * ((double)rand() / RAND_MAX);
		sleep_seconds(fmax(delay, verdict.min_wait));
	}
	free(text);
	return result;
}

/* ---- temporary tables -------------------------------------------------------- */

static int exec(struct verifier *v, const char *sql)
{
	if (sqlite3_exec(v->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(v, "verification tables");
	return 0;
}

static int setup_temp(struct verifier *v)
{
	return exec(v, "CREATE TEMP TABLE IF NOT EXISTS verify_expected(id INTEGER PRIMARY KEY);"
		       "CREATE TEMP TABLE IF NOT EXISTS verify_found(key TEXT PRIMARY KEY, val TEXT,"
		       " n INTEGER NOT NULL DEFAULT 1);"
		       "DELETE FROM temp.verify_expected; DELETE FROM temp.verify_found;");
}

/* Records what the target holds under key (val: JSON object, borrowed). A key
 * seen twice counts twice: duplicates in the target are differences. */
static int found(struct verifier *v, const char *key, json_t *val)
{
	static const char *const sql = "INSERT INTO temp.verify_found(key, val) VALUES(?1, ?2)"
				       " ON CONFLICT(key) DO UPDATE SET n = n + 1";
	if (!v->insert_found && sqlite3_prepare_v2(v->db, sql, -1, &v->insert_found, NULL) != SQLITE_OK)
		return db_fail(v, "verification tables");
	sqlite3_stmt *s = v->insert_found;
	char *text = val ? json_dumps(val, JSON_COMPACT) : NULL;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, text ? text : "{}", -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	free(text);
	return rc == SQLITE_DONE ? 0 : db_fail(v, "verification tables");
}

static const char *sv(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

/* "a" SEP "b" [SEP "c" ...] from strings and integers; fmt: 's' or 'i'. */
static void make_key(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t len = 0;
	buf[0] = '\0';
	va_start(ap, fmt);
	for (int i = 0; fmt[i] && len < size; i++) {
		const char *sep = i ? SEP : "";
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

static json_int_t iv(const json_t *o, const char *name)
{
	return json_integer_value(json_object_get(o, name));
}

/* ---- reading the target, per kind ------------------------------------------- */

/* Iterates the expected records of the current kind: fn(v, conv, payload, arg). */
typedef int (*each_fn)(struct verifier *v, const char *conv, json_t *payload, void *arg);

static int each_expected(struct verifier *v, const char *order, each_fn fn, void *arg)
{
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT r.conv, r.payload FROM temp.verify_expected e JOIN records r ON r.id = e.id ORDER BY %s",
		 order);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(v->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(v, "reading records");
	int rc, ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *payload = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);
		if (!payload)
			continue;
		ret = fn(v, (const char *)sqlite3_column_text(s, 0), payload, arg);
		json_decref(payload);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = db_fail(v, "reading records");
	sqlite3_finalize(s);
	return ret;
}

/* Batches of ids (distinct conv values) sent to one list API. */
struct id_batch {
	json_t *ids;
	json_t *tags; /* portrait_get: union of tags */
	size_t max;
	int (*flush)(struct verifier *v, struct id_batch *b);
	char last[256];
};

static int batch_add(struct verifier *v, const char *conv, json_t *payload, void *arg)
{
	struct id_batch *b = arg;
	if (strcmp(conv, b->last) != 0) {
		if (json_array_size(b->ids) == b->max) {
			if (b->flush(v, b) < 0)
				return -1;
			json_array_clear(b->ids);
			json_array_clear(b->tags);
		}
		json_array_append_new(b->ids, json_string(conv));
		snprintf(b->last, sizeof b->last, "%s", conv);
	}
	if (b->tags) {
		size_t i, k;
		json_t *item, *t;
		json_array_foreach(json_object_get(payload, "ProfileItem"), i, item) {
			const char *tag = sv(item, "Tag");
			int seen = 0;
			json_array_foreach(b->tags, k, t)
				if (tag && strcmp(json_string_value(t), tag) == 0)
					seen = 1;
			if (tag && !seen)
				json_array_append_new(b->tags, json_string(tag));
		}
	}
	return 0;
}

static int run_batches(struct verifier *v, size_t max, json_t *tags, int (*flush)(struct verifier *, struct id_batch *))
{
	struct id_batch b = {json_array(), tags, max, flush, ""};
	int rc = each_expected(v, "r.conv", batch_add, &b);
	if (!rc && json_array_size(b.ids))
		rc = flush(v, &b);
	json_decref(b.ids);
	json_decref(b.tags);
	return rc;
}

static int flush_accounts(struct verifier *v, struct id_batch *b)
{
	json_t *items = json_array(), *resp;
	size_t i;
	json_t *id;
	json_array_foreach(b->ids, i, id)
		json_array_append_new(items, json_pack("{s:O}", "UserID", id));
	json_t *body = json_pack("{s:o}", "CheckItem", items);
	long code;
	enum call_result r = call(v, "im_open_login_svc", "account_check", body, &resp, &code);
	json_decref(body);
	if (r != CALL_OK)
		return r == CALL_FATAL ? -1 : 0;
	json_t *it;
	int rc = 0;
	json_array_foreach(json_object_get(resp, "ResultItem"), i, it)
		if (iv(it, "ResultCode") == 0 && sv(it, "UserID") && sv(it, "AccountStatus") &&
		    strcmp(sv(it, "AccountStatus"), "Imported") == 0 && (rc = found(v, sv(it, "UserID"), NULL)) < 0)
			break;
	json_decref(resp);
	return rc;
}

static int flush_profiles(struct verifier *v, struct id_batch *b)
{
	if (!json_array_size(b->tags))
		json_array_append_new(b->tags, json_string("Tag_Profile_IM_Nick"));
	json_t *body = json_pack("{s:O, s:O}", "To_Account", b->ids, "TagList", b->tags), *resp;
	long code;
	enum call_result r = call(v, "profile", "portrait_get", body, &resp, &code);
	json_decref(body);
	if (r != CALL_OK)
		return r == CALL_FATAL ? -1 : 0;
	size_t i, k;
	json_t *it, *item;
	int rc = 0;
	json_array_foreach(json_object_get(resp, "UserProfileItem"), i, it) {
		if (iv(it, "ResultCode") != 0 || !sv(it, "To_Account"))
			continue;
		json_t *val = json_object();
		json_array_foreach(json_object_get(it, "ProfileItem"), k, item)
			if (sv(item, "Tag"))
				json_object_set(val, sv(item, "Tag"), json_object_get(item, "Value"));
		rc = found(v, sv(it, "To_Account"), val);
		json_decref(val);
		if (rc < 0)
			break;
	}
	json_decref(resp);
	return rc;
}

static int flush_groups(struct verifier *v, struct id_batch *b)
{
	json_t *body = json_pack("{s:O}", "GroupIdList", b->ids), *resp;
	long code;
	enum call_result r = call(v, "group_open_http_svc", "get_group_info", body, &resp, &code);
	json_decref(body);
	if (r != CALL_OK)
		return r == CALL_FATAL ? -1 : 0;
	static const char *const fields[] = {"Type", "Name", "Owner_Account", "Introduction", "Notification",
					     "FaceUrl", "CreateTime", "ApplyJoinOption"};
	size_t i;
	json_t *it;
	int rc = 0;
	json_array_foreach(json_object_get(resp, "GroupInfo"), i, it) {
		if (iv(it, "ErrorCode") != 0 || !sv(it, "GroupId"))
			continue;
		json_t *val = json_object();
		for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
			if (json_object_get(it, fields[f]))
				json_object_set(val, fields[f], json_object_get(it, fields[f]));
		if (json_object_get(it, "MaxMemberNum"))
			json_object_set(val, "MaxMemberCount", json_object_get(it, "MaxMemberNum"));
		rc = found(v, sv(it, "GroupId"), val);
		json_decref(val);
		if (rc < 0)
			break;
	}
	json_decref(resp);
	return rc;
}

/* Per-conversation reads: called once per distinct conv with its first payload. */
struct per_conv {
	int (*fetch)(struct verifier *v, const char *conv, json_t *first);
	char last[256];
	int started;
};

static int conv_step(struct verifier *v, const char *conv, json_t *payload, void *arg)
{
	struct per_conv *pc = arg;
	if (pc->started && strcmp(conv, pc->last) == 0)
		return 0;
	pc->started = 1;
	snprintf(pc->last, sizeof pc->last, "%s", conv);
	return pc->fetch(v, conv, payload);
}

static int run_per_conv(struct verifier *v, int (*fetch)(struct verifier *, const char *, json_t *))
{
	struct per_conv pc = {fetch, "", 0};
	return each_expected(v, "r.conv", conv_step, &pc);
}

static int fetch_friends(struct verifier *v, const char *conv, json_t *first)
{
	static const struct {
		const char *tag, *field;
	} map[] = {{"Tag_SNS_IM_AddSource", "AddSource"}, {"Tag_SNS_IM_Remark", "Remark"},
		   {"Tag_SNS_IM_AddWording", "AddWording"}, {"Tag_SNS_IM_AddTime", "AddTime"},
		   {"Tag_SNS_IM_Group", "GroupName"}};
	const char *from = sv(first, "From_Account");
	if (!from)
		return 0;
	json_int_t start = 0;
	for (;;) {
		json_t *body = json_pack("{s:s, s:I}", "From_Account", from, "StartIndex", start), *resp;
		long code;
		enum call_result r = call(v, "sns", "friend_get", body, &resp, &code);
		json_decref(body);
		if (r != CALL_OK)
			return r == CALL_FATAL ? -1 : 0;
		size_t i, k;
		json_t *it, *item;
		int rc = 0;
		json_array_foreach(json_object_get(resp, "UserDataItem"), i, it) {
			json_t *val = json_object();
			json_array_foreach(json_object_get(it, "ValueItem"), k, item)
				for (size_t m = 0; m < sizeof map / sizeof map[0]; m++)
					if (sv(item, "Tag") && strcmp(sv(item, "Tag"), map[m].tag) == 0)
						json_object_set(val, map[m].field, json_object_get(item, "Value"));
			char key[256];
			make_key(key, sizeof key, "ss", from, sv(it, "To_Account"));
			rc = found(v, key, val);
			json_decref(val);
			if (rc < 0)
				break;
		}
		json_int_t next = iv(resp, "NextStartIndex");
		int complete = iv(resp, "CompleteFlag") == 1 || next <= start;
		json_decref(resp);
		if (rc < 0)
			return -1;
		if (complete)
			return 0;
		start = next;
	}
}

static int fetch_members(struct verifier *v, const char *conv, json_t *first)
{
	const json_int_t page = 500;
	for (json_int_t offset = 0;; offset += page) {
		json_t *body = json_pack("{s:s, s:I, s:I}", "GroupId", conv, "Limit", page, "Offset", offset), *resp;
		long code;
		enum call_result r = call(v, "group_open_http_svc", "get_group_member_info", body, &resp, &code);
		json_decref(body);
		if (r != CALL_OK)
			return r == CALL_FATAL ? -1 : 0;
		json_t *list = json_object_get(resp, "MemberList");
		size_t i, n = json_array_size(list);
		json_t *it;
		int rc = 0;
		json_array_foreach(list, i, it) {
			json_t *val = json_object();
			static const char *const fields[] = {"Role", "JoinTime", "UnreadMsgNum", "NameCard", "MsgFlag"};
			for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
				if (json_object_get(it, fields[f]))
					json_object_set(val, fields[f], json_object_get(it, fields[f]));
			char key[256];
			make_key(key, sizeof key, "ss", conv, sv(it, "Member_Account"));
			rc = found(v, key, val);
			json_decref(val);
			if (rc < 0)
				break;
		}
		json_decref(resp);
		if (rc < 0)
			return -1;
		if ((json_int_t)n < page)
			return 0;
	}
}

static int fetch_group_msgs(struct verifier *v, const char *conv, json_t *first)
{
	json_int_t from_seq = -1;
	for (;;) {
		json_t *body = json_pack("{s:s, s:i}", "GroupId", conv, "ReqMsgNumber", 20), *resp;
		if (from_seq >= 0)
			json_object_set_new(body, "ReqMsgSeq", json_integer(from_seq));
		long code;
		enum call_result r = call(v, "group_open_http_svc", "group_msg_get_simple", body, &resp, &code);
		json_decref(body);
		if (r != CALL_OK)
			return r == CALL_FATAL ? -1 : 0;
		json_t *list = json_object_get(resp, "RspMsgList");
		size_t i;
		json_t *it;
		int rc = 0;
		json_int_t lowest = -1;
		json_array_foreach(list, i, it) {
			json_t *val = json_object();
			json_object_set(val, "From_Account", json_object_get(it, "From_Account"));
			json_object_set(val, "MsgBody", json_object_get(it, "MsgBody"));
			if (json_object_get(it, "CloudCustomData"))
				json_object_set(val, "CloudCustomData", json_object_get(it, "CloudCustomData"));
			char key[256];
			make_key(key, sizeof key, "sii", conv, iv(it, "MsgRandom"), iv(it, "MsgTimeStamp"));
			rc = found(v, key, val);
			json_decref(val);
			if (rc < 0)
				break;
			json_int_t seq = iv(it, "MsgSeq");
			if (lowest < 0 || seq < lowest)
				lowest = seq;
		}
		int finished = iv(resp, "IsFinished") == 1 || !json_array_size(list) || lowest <= 1;
		json_decref(resp);
		if (rc < 0)
			return -1;
		if (finished)
			return 0;
		from_seq = lowest - 1;
	}
}

/* One-to-one history of a conversation, read within the time span of the expected
 * messages (ord is MsgTimeStamp), newest first, page by page. */
static int fetch_c2c(struct verifier *v, const char *conv, json_t *first)
{
	static const char *const sql = "SELECT MIN(r.ord), MAX(r.ord) FROM temp.verify_expected e"
				       " JOIN records r ON r.id = e.id WHERE r.conv = ?1";
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(v->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(v, "reading records");
	sqlite3_bind_text(s, 1, conv, -1, SQLITE_TRANSIENT);
	json_int_t lo = 0, hi = 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		lo = sqlite3_column_int64(s, 0);
		hi = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	const char *me = sv(first, "From_Account"), *peer = sv(first, "To_Account");
	if (!me || !peer)
		return 0;
	char last_key[128] = "";
	for (;;) {
		json_t *body = json_pack("{s:s, s:s, s:i, s:I, s:I}", "Operator_Account", me, "Peer_Account", peer,
					 "MaxCnt", 100, "MinTime", lo, "MaxTime", hi),
		       *resp;
		if (last_key[0])
			json_object_set_new(body, "LastMsgKey", json_string(last_key));
		long code;
		enum call_result r = call(v, "openim", "admin_getroammsg", body, &resp, &code);
		json_decref(body);
		if (r != CALL_OK)
			return r == CALL_FATAL ? -1 : 0;
		json_t *list = json_object_get(resp, "MsgList");
		size_t i;
		json_t *it;
		int rc = 0;
		json_array_foreach(list, i, it) {
			json_t *val = json_object();
			static const char *const fields[] = {"From_Account", "To_Account", "MsgBody", "CloudCustomData"};
			for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
				if (json_object_get(it, fields[f]))
					json_object_set(val, fields[f], json_object_get(it, fields[f]));
			char key[256];
			make_key(key, sizeof key, "siii", conv, iv(it, "MsgSeq"), iv(it, "MsgRandom"),
				 iv(it, "MsgTimeStamp"));
			rc = found(v, key, val);
			json_decref(val);
			if (rc < 0)
				break;
		}
		const char *next = sv(resp, "LastMsgKey");
		int complete = iv(resp, "Complete") == 1 || !json_array_size(list) || !next || !*next ||
			       strcmp(next, last_key) == 0;
		if (!complete)
			snprintf(last_key, sizeof last_key, "%s", next);
		json_decref(resp);
		if (rc < 0)
			return -1;
		if (complete)
			return 0;
	}
}

/* ---- comparing ---------------------------------------------------------------- */

/* The identity of a record in the verify_found key space. */
static void record_key(int kind, const char *conv, json_t *p, char *key, size_t size)
{
	switch (kind) {
	case IM_KIND_FRIEND:
		make_key(key, size, "ss", sv(p, "From_Account"), sv(p, "To_Account"));
		break;
	case IM_KIND_GROUP_MEMBER:
	case IM_KIND_GROUP_UNREAD:
		make_key(key, size, "ss", sv(p, "GroupId"), sv(p, "Member_Account"));
		break;
	case IM_KIND_GROUP_MSG:
		make_key(key, size, "sii", sv(p, "GroupId"), iv(p, "Random"), iv(p, "SendTime"));
		break;
	case IM_KIND_C2C_MSG:
		make_key(key, size, "siii", conv, iv(p, "MsgSeq"), iv(p, "MsgRandom"), iv(p, "MsgTimeStamp"));
		break;
	default: /* account, profile, group: the conv is the id */
		snprintf(key, size, "%s", conv);
	}
}

static void display_key(const char *key, char *out, size_t size)
{
	size_t o = 0;
	for (const char *k = key; *k && o + 4 < size; k++) {
		if (*k == SEP[0]) {
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
			const char *tag = sv(item, "Tag");
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
		return db_fail(v, "reading records");
	if (sqlite3_prepare_v2(v->db, sql_found, -1, &f, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return db_fail(v, "verification tables");
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
		return db_fail(v, "verification tables");
	}
	struct im_verify_kind *k = &v->res->kinds[kind];
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *p = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);
		if (!p)
			continue;
		char key[256];
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
	return rc == SQLITE_DONE ? 0 : db_fail(v, "reading records");
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
		return db_fail(v, "selecting records");
	sqlite3_bind_text(s, 1, im_kind_info(kind)->name, -1, SQLITE_STATIC);
	if (v->opt->sample > 0)
		sqlite3_bind_int64(s, 2, v->opt->sample);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : db_fail(v, "selecting records");
}

static int verify_kind(struct verifier *v, int kind)
{
	struct im_verify_kind *k = &v->res->kinds[kind];
	int64_t pending = im_stage_count(v->st, im_kind_info(kind)->name, IM_STAGE_PENDING);
	int64_t inflight = im_stage_count(v->st, im_kind_info(kind)->name, IM_STAGE_INFLIGHT);
	int64_t landed = im_stage_count(v->st, im_kind_info(kind)->name, IM_STAGE_LANDED);
	if (pending < 0 || inflight < 0 || landed < 0)
		return db_fail(v, "counting records");
	k->not_landed = pending + inflight;
	v->diffs_this_kind = 0;
	if (kind == IM_KIND_BLACKLIST || kind == IM_KIND_C2C_READ) {
		k->unchecked = v->opt->sample > 0 && v->opt->sample < landed ? v->opt->sample : landed;
		return 0;
	}
	if (select_expected(v, kind) < 0)
		return -1;
	int rc;
	switch (kind) {
	case IM_KIND_ACCOUNT:
		rc = run_batches(v, 100, NULL, flush_accounts);
		break;
	case IM_KIND_PROFILE:
		rc = run_batches(v, 100, json_array(), flush_profiles);
		break;
	case IM_KIND_GROUP:
		rc = run_batches(v, 50, NULL, flush_groups);
		break;
	case IM_KIND_FRIEND:
		rc = run_per_conv(v, fetch_friends);
		break;
	case IM_KIND_GROUP_MEMBER:
	case IM_KIND_GROUP_UNREAD:
		rc = run_per_conv(v, fetch_members);
		break;
	case IM_KIND_GROUP_MSG:
		rc = run_per_conv(v, fetch_group_msgs);
		break;
	case IM_KIND_C2C_MSG:
		rc = run_per_conv(v, fetch_c2c);
		break;
	default:
		rc = 0;
	}
	if (rc < 0)
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
