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

/* ---- reading the target: units of work, many in flight ----------------------- */

/* One unit of reading: a list call for up to 100 ids, or the pages of one
 * conversation. Units run concurrently (opt->concurrency in flight), each API
 * paced by its own bucket; pages of one unit go one after the other. */
enum unit_type { U_ACCOUNTS, U_PROFILES, U_GROUPS, U_FRIENDS, U_MEMBERS, U_GROUP_MSGS, U_C2C };

struct unit {
	struct unit *next;
	enum unit_type type;
	char conv[256];
	char from[128], to[128]; /* c2c: the two users */
	json_t *ids, *tags;	 /* list calls */
	json_int_t cursor;	 /* StartIndex, Offset, or ReqMsgSeq (-1: newest) */
	json_int_t lo, hi;	 /* c2c: time span of the expected messages */
	char last_key[128];	 /* c2c: page key */
	int attempts, renewed, in_flight, answered;
	double retry_at;
	int curl_code;
	long http_status;
	char *body;
	size_t body_len;
};

static void unit_free(struct unit *u)
{
	if (!u)
		return;
	json_decref(u->ids);
	json_decref(u->tags);
	free(u->body);
	free(u);
}

static void on_reply(void *arg, const struct im_tim_reply *r)
{
	struct unit *u = arg;
	u->in_flight = 0;
	u->answered = 1;
	u->curl_code = r->curl_code;
	u->http_status = r->http_status;
	free(u->body);
	u->body = NULL;
	u->body_len = 0;
	if (r->body && r->body_len && (u->body = malloc(r->body_len + 1))) {
		memcpy(u->body, r->body, r->body_len);
		u->body[r->body_len] = '\0';
		u->body_len = r->body_len;
	}
}

static const char *const unit_service[] = {"im_open_login_svc", "profile", "group_open_http_svc", "sns",
					   "group_open_http_svc", "group_open_http_svc", "openim"};
static const char *const unit_command[] = {"account_check", "portrait_get", "get_group_info", "friend_get",
					   "get_group_member_info", "group_msg_get_simple", "admin_getroammsg"};

/* The request for the unit's current page. New reference. */
static json_t *unit_request(const struct unit *u)
{
	json_t *body = NULL, *items;
	size_t i;
	json_t *id;
	switch (u->type) {
	case U_ACCOUNTS:
		items = json_array();
		json_array_foreach(u->ids, i, id)
			json_array_append_new(items, json_pack("{s:O}", "UserID", id));
		body = json_pack("{s:o}", "CheckItem", items);
		break;
	case U_PROFILES:
		body = json_pack("{s:O, s:O}", "To_Account", u->ids, "TagList", u->tags);
		break;
	case U_GROUPS:
		body = json_pack("{s:O}", "GroupIdList", u->ids);
		break;
	case U_FRIENDS:
		body = json_pack("{s:s, s:I}", "From_Account", u->conv, "StartIndex", u->cursor);
		break;
	case U_MEMBERS:
		body = json_pack("{s:s, s:I, s:I}", "GroupId", u->conv, "Limit", (json_int_t)500, "Offset", u->cursor);
		break;
	case U_GROUP_MSGS:
		body = json_pack("{s:s, s:i}", "GroupId", u->conv, "ReqMsgNumber", 20);
		if (body && u->cursor >= 0)
			json_object_set_new(body, "ReqMsgSeq", json_integer(u->cursor));
		break;
	case U_C2C:
		body = json_pack("{s:s, s:s, s:i, s:I, s:I}", "Operator_Account", u->from, "Peer_Account", u->to,
				 "MaxCnt", 100, "MinTime", u->lo, "MaxTime", u->hi);
		if (body && u->last_key[0])
			json_object_set_new(body, "LastMsgKey", json_string(u->last_key));
		break;
	}
	return body;
}

/* Copies the fields of src named in names (NULL-terminated) into a new object. */
static json_t *pick(const json_t *src, const char *const *names)
{
	json_t *val = json_object();
	for (size_t f = 0; names[f]; f++)
		if (json_object_get(src, names[f]))
			json_object_set(val, names[f], json_object_get(src, names[f]));
	return val;
}

static int found_new(struct verifier *v, const char *key, json_t *val)
{
	int rc = found(v, key, val);
	json_decref(val);
	return rc;
}

/* Records what one answer holds. Returns 1 when the unit has another page
 * (its cursor moved), 0 when it is complete, -1 on a stage error. */
static int unit_answer(struct verifier *v, struct unit *u, json_t *resp)
{
	size_t i, k;
	json_t *it, *item;
	char key[512];
	switch (u->type) {
	case U_ACCOUNTS:
		json_array_foreach(json_object_get(resp, "ResultItem"), i, it)
			if (iv(it, "ResultCode") == 0 && sv(it, "UserID") && sv(it, "AccountStatus") &&
			    strcmp(sv(it, "AccountStatus"), "Imported") == 0 && found(v, sv(it, "UserID"), NULL) < 0)
				return -1;
		return 0;
	case U_PROFILES:
		json_array_foreach(json_object_get(resp, "UserProfileItem"), i, it) {
			if (iv(it, "ResultCode") != 0 || !sv(it, "To_Account"))
				continue;
			json_t *val = json_object();
			json_array_foreach(json_object_get(it, "ProfileItem"), k, item)
				if (sv(item, "Tag"))
					json_object_set(val, sv(item, "Tag"), json_object_get(item, "Value"));
			if (found_new(v, sv(it, "To_Account"), val) < 0)
				return -1;
		}
		return 0;
	case U_GROUPS: {
		static const char *const fields[] = {"Type",	     "Name",	   "Owner_Account",   "Introduction",
						     "Notification", "FaceUrl",	   "CreateTime",      "ApplyJoinOption",
						     NULL};
		json_array_foreach(json_object_get(resp, "GroupInfo"), i, it) {
			if (iv(it, "ErrorCode") != 0 || !sv(it, "GroupId"))
				continue;
			json_t *val = pick(it, fields);
			if (json_object_get(it, "MaxMemberNum"))
				json_object_set(val, "MaxMemberCount", json_object_get(it, "MaxMemberNum"));
			if (found_new(v, sv(it, "GroupId"), val) < 0)
				return -1;
		}
		return 0;
	}
	case U_FRIENDS: {
		static const struct {
			const char *tag, *field;
		} map[] = {{"Tag_SNS_IM_AddSource", "AddSource"}, {"Tag_SNS_IM_Remark", "Remark"},
			   {"Tag_SNS_IM_AddWording", "AddWording"}, {"Tag_SNS_IM_AddTime", "AddTime"},
			   {"Tag_SNS_IM_Group", "GroupName"}};
		json_array_foreach(json_object_get(resp, "UserDataItem"), i, it) {
			json_t *val = json_object();
			json_array_foreach(json_object_get(it, "ValueItem"), k, item)
				for (size_t m = 0; m < sizeof map / sizeof map[0]; m++)
					if (sv(item, "Tag") && strcmp(sv(item, "Tag"), map[m].tag) == 0)
						json_object_set(val, map[m].field, json_object_get(item, "Value"));
			make_key(key, sizeof key, "ss", u->conv, sv(it, "To_Account"));
			if (found_new(v, key, val) < 0)
				return -1;
		}
		json_int_t next = iv(resp, "NextStartIndex");
		if (iv(resp, "CompleteFlag") == 1 || next <= u->cursor)
			return 0;
		u->cursor = next;
		return 1;
	}
	case U_MEMBERS: {
		static const char *const fields[] = {"Role", "JoinTime", "UnreadMsgNum", "NameCard", "MsgFlag", NULL};
		json_t *list = json_object_get(resp, "MemberList");
		json_array_foreach(list, i, it) {
			make_key(key, sizeof key, "ss", u->conv, sv(it, "Member_Account"));
			if (found_new(v, key, pick(it, fields)) < 0)
				return -1;
		}
		if (json_array_size(list) < 500)
			return 0;
		u->cursor += 500;
		return 1;
	}
	case U_GROUP_MSGS: {
		static const char *const fields[] = {"From_Account", "MsgBody", "CloudCustomData", NULL};
		json_t *list = json_object_get(resp, "RspMsgList");
		json_int_t lowest = -1;
		json_array_foreach(list, i, it) {
			make_key(key, sizeof key, "sii", u->conv, iv(it, "MsgRandom"), iv(it, "MsgTimeStamp"));
			if (found_new(v, key, pick(it, fields)) < 0)
				return -1;
			json_int_t seq = iv(it, "MsgSeq");
			if (lowest < 0 || seq < lowest)
				lowest = seq;
		}
		if (iv(resp, "IsFinished") == 1 || !json_array_size(list) || lowest <= 1)
			return 0;
		u->cursor = lowest - 1;
		return 1;
	}
	case U_C2C: {
		static const char *const fields[] = {"From_Account", "To_Account", "MsgBody", "CloudCustomData", NULL};
		json_t *list = json_object_get(resp, "MsgList");
		json_array_foreach(list, i, it) {
			make_key(key, sizeof key, "siii", u->conv, iv(it, "MsgSeq"), iv(it, "MsgRandom"),
				 iv(it, "MsgTimeStamp"));
			if (found_new(v, key, pick(it, fields)) < 0)
				return -1;
		}
		const char *next = sv(resp, "LastMsgKey");
		if (iv(resp, "Complete") == 1 || !json_array_size(list) || !next || !*next ||
		    strcmp(next, u->last_key) == 0)
			return 0;
		snprintf(u->last_key, sizeof u->last_key, "%s", next);
		return 1;
	}
	}
	return 0;
}

/* Hands out units over the expected records of one kind, in conv order. */
struct producer {
	struct verifier *v;
	int kind;
	sqlite3_stmt *rows; /* conv, ord, id */
	sqlite3_stmt *get;  /* payload by id */
	int have, end;
	char conv[256];
	int64_t ord, id;
};

static int prod_peek(struct producer *p)
{
	if (p->have)
		return 1;
	if (p->end)
		return 0;
	int rc = sqlite3_step(p->rows);
	if (rc == SQLITE_DONE) {
		p->end = 1;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return db_fail(p->v, "reading records");
	const char *conv = (const char *)sqlite3_column_text(p->rows, 0);
	snprintf(p->conv, sizeof p->conv, "%s", conv ? conv : "");
	p->ord = sqlite3_column_int64(p->rows, 1);
	p->id = sqlite3_column_int64(p->rows, 2);
	p->have = 1;
	return 1;
}

static json_t *prod_payload(struct producer *p)
{
	sqlite3_reset(p->get);
	sqlite3_bind_int64(p->get, 1, p->id);
	json_t *payload = NULL;
	if (sqlite3_step(p->get) == SQLITE_ROW)
		payload = json_loads((const char *)sqlite3_column_text(p->get, 0), 0, NULL);
	sqlite3_reset(p->get);
	return payload;
}

/* The next unit in *out: returns 1, 0 when there is none left, -1 on error. */
static int next_unit(struct producer *p, struct unit **out)
{
	*out = NULL;
	int rc = prod_peek(p);
	if (rc <= 0)
		return rc;
	struct unit *u = calloc(1, sizeof *u);
	if (!u) {
		set_err(p->v->err, p->v->err_size, "out of memory");
		return -1;
	}
	snprintf(u->conv, sizeof u->conv, "%s", p->conv);
	u->cursor = 0;
	switch (p->kind) {
	case IM_KIND_ACCOUNT:
	case IM_KIND_PROFILE:
	case IM_KIND_GROUP: {
		u->type = p->kind == IM_KIND_ACCOUNT ? U_ACCOUNTS : p->kind == IM_KIND_PROFILE ? U_PROFILES : U_GROUPS;
		size_t max = p->kind == IM_KIND_GROUP ? 50 : 100;
		u->ids = json_array();
		u->tags = json_array();
		char last[256] = "";
		int first = 1;
		while ((rc = prod_peek(p)) == 1) {
			if (first || strcmp(last, p->conv) != 0) {
				if (json_array_size(u->ids) == max)
					break;
				json_array_append_new(u->ids, json_string(p->conv));
				snprintf(last, sizeof last, "%s", p->conv);
				first = 0;
			}
			if (u->type == U_PROFILES) {
				json_t *payload = prod_payload(p), *item, *t;
				size_t i, k;
				json_array_foreach(json_object_get(payload, "ProfileItem"), i, item) {
					const char *tag = sv(item, "Tag");
					int seen = 0;
					json_array_foreach(u->tags, k, t)
						seen |= tag && strcmp(json_string_value(t), tag) == 0;
					if (tag && !seen)
						json_array_append_new(u->tags, json_string(tag));
				}
				json_decref(payload);
			}
			p->have = 0;
		}
		if (u->type == U_PROFILES && !json_array_size(u->tags))
			json_array_append_new(u->tags, json_string("Tag_Profile_IM_Nick"));
		break;
	}
	case IM_KIND_FRIEND:
	case IM_KIND_GROUP_MEMBER:
	case IM_KIND_GROUP_UNREAD:
	case IM_KIND_GROUP_MSG:
	case IM_KIND_C2C_MSG:
		u->type = p->kind == IM_KIND_FRIEND ? U_FRIENDS
			  : p->kind == IM_KIND_GROUP_MSG ? U_GROUP_MSGS
			  : p->kind == IM_KIND_C2C_MSG	 ? U_C2C
							 : U_MEMBERS;
		if (u->type == U_GROUP_MSGS)
			u->cursor = -1;
		if (u->type == U_C2C) {
			json_t *payload = prod_payload(p);
			snprintf(u->from, sizeof u->from, "%s", payload && sv(payload, "From_Account") ? sv(payload, "From_Account") : "");
			snprintf(u->to, sizeof u->to, "%s", payload && sv(payload, "To_Account") ? sv(payload, "To_Account") : "");
			json_decref(payload);
			u->lo = u->hi = p->ord;
		}
		/* The rest of this conversation's records: only their time span matters. */
		while ((rc = prod_peek(p)) == 1 && strcmp(p->conv, u->conv) == 0) {
			if (p->ord < u->lo)
				u->lo = p->ord;
			if (p->ord > u->hi)
				u->hi = p->ord;
			p->have = 0;
		}
		break;
	default:
		break;
	}
	if (rc < 0) {
		unit_free(u);
		return -1;
	}
	*out = u;
	return 1;
}

/* What an answer means for its unit: 1 done, 0 keep going (next page or a retry
 * scheduled), -1 stop (v->err set). */
static int unit_settle(struct verifier *v, struct unit *u)
{
	const char *service = unit_service[u->type], *command = unit_command[u->type];
	struct im_answer a = {u->curl_code, u->http_status, u->body, u->body_len};
	struct im_verdict verdict;
	json_t *json = NULL;
	u->answered = 0;
	im_classify_answer(&a, &verdict, &json);
	if (verdict.outcome == IM_OUTCOME_OK) {
		int more = unit_answer(v, u, json);
		json_decref(json);
		if (more < 0)
			return -1;
		u->attempts = 0;
		return more ? 0 : 1;
	}
	/* Refused for good (a group that does not exist...): what it held is missing. */
	if (verdict.outcome == IM_OUTCOME_PERMANENT)
		return 1;
	/* Rate-limit answers only slow the API down (the sink's rule too): they do not
	 * count against max_attempts, which bounds real failures. */
	if (verdict.outcome == IM_OUTCOME_RATE_LIMITED) {
		v->res->throttled++;
		im_pace_throttled(pace_for(v, command), im_pace_now());
		u->retry_at = im_pace_now() + fmax(0.05 * ((double)rand() / RAND_MAX), verdict.min_wait);
		return 0;
	}
	u->attempts++;
	int max_attempts = v->opt->max_attempts > 0 ? v->opt->max_attempts : 8;
	if (verdict.outcome == IM_OUTCOME_USERSIG && !u->renewed) {
		u->renewed = 1;
		if (im_tim_renew_usersig(v->tim) == 0)
			return 0;
	}
	if (im_outcome_is_fatal(verdict.outcome) || verdict.outcome == IM_OUTCOME_USERSIG ||
	    u->attempts >= max_attempts) {
		set_err(v->err, v->err_size, "%s/%s: %s%s", service, command, verdict.message,
			u->attempts >= max_attempts ? " (giving up after retries)" : "");
		return -1;
	}
	/* Exponential backoff with full jitter, capped at 5 s. */
	double cap = fmin(5.0, 0.1 * pow(2, u->attempts - 1));
	u->retry_at = im_pace_now() + fmax(cap * ((double)rand() / RAND_MAX), verdict.min_wait);
	return 0;
}

static int read_target(struct verifier *v, int kind)
{
	struct producer p = {.v = v, .kind = kind};
	if (sqlite3_prepare_v2(v->db,
			       "SELECT r.conv, r.ord, r.id FROM temp.verify_expected e JOIN records r ON r.id = e.id"
			       " ORDER BY r.conv",
			       -1, &p.rows, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(v->db, "SELECT payload FROM records WHERE id = ?1", -1, &p.get, NULL) != SQLITE_OK) {
		sqlite3_finalize(p.rows);
		return db_fail(v, "reading records");
	}
	/* Like the sink: the option, else target.limits.concurrency, else 16. */
	const json_t *lc = v->opt->limits ? json_object_get(v->opt->limits, "concurrency") : NULL;
	size_t concurrency = v->opt->concurrency > 0			      ? (size_t)v->opt->concurrency
			     : json_is_integer(lc) && json_integer_value(lc) > 0 ? (size_t)json_integer_value(lc)
										   : 16;
	struct unit *active = NULL;
	size_t nactive = 0, in_flight = 0;
	int exhausted = 0, rc = 0;
	while (rc == 0) {
		while (!exhausted && nactive < concurrency) {
			struct unit *u;
			int got = next_unit(&p, &u);
			if (got < 0)
				rc = -1;
			if (got <= 0) {
				exhausted = 1;
				break;
			}
			u->next = active;
			active = u;
			nactive++;
		}
		if (rc || !active)
			break;
		double now = im_pace_now(), wait = 0.05;
		for (struct unit *u = active; u && rc == 0; u = u->next) {
			if (u->in_flight || u->answered)
				continue;
			if (u->retry_at > now) {
				wait = fmin(wait, u->retry_at - now);
				continue;
			}
			double w;
			if (im_pace_take(pace_for(v, unit_command[u->type]), now, &w) < 0) {
				wait = fmin(wait, w);
				continue;
			}
			json_t *body = unit_request(u);
			char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
			json_decref(body);
			if (!text || im_tim_submit(v->tim, unit_service[u->type], unit_command[u->type], text, strlen(text),
						   on_reply, u) < 0) {
				set_err(v->err, v->err_size, "%s/%s: cannot set up the request", unit_service[u->type],
					unit_command[u->type]);
				rc = -1;
			} else {
				u->in_flight = 1;
				in_flight++;
				v->res->calls++;
			}
			free(text);
		}
		if (rc)
			break;
		/* A zero-timeout step first: im_tim_run polls after its first transfer
		 * step even when that step already finished a request. */
		int n = im_tim_run(v->tim, 0);
		if (n == 0) {
			int ms = (int)ceil((in_flight ? fmin(wait, 0.005) : wait) * 1000);
			n = im_tim_run(v->tim, ms > 0 ? ms : 1);
		}
		if (n < 0) {
			set_err(v->err, v->err_size, "the request layer failed");
			rc = -1;
			break;
		}
		struct unit **link = &active;
		while (*link && rc == 0) {
			struct unit *u = *link;
			if (!u->answered) {
				link = &u->next;
				continue;
			}
			in_flight--;
			int done = unit_settle(v, u);
			if (done < 0)
				rc = -1;
			if (done == 1) {
				*link = u->next;
				unit_free(u);
				nactive--;
			} else {
				link = &u->next;
			}
		}
	}
	/* Requests still out point at their units: let them finish before freeing. */
	for (struct unit *u = active; u; u = u->next)
		while (u->in_flight && im_tim_run(v->tim, 100) >= 0)
			;
	while (active) {
		struct unit *u = active;
		active = u->next;
		unit_free(u);
	}
	sqlite3_finalize(p.rows);
	sqlite3_finalize(p.get);
	return rc;
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
	if (rc != SQLITE_DONE)
		return db_fail(v, "selecting records");
	/* A group imported without a GroupId got one from the service that the stage
	 * does not know: it cannot be looked up, so it is unchecked, not missing. */
	if (sqlite3_prepare_v2(v->db,
			       "DELETE FROM temp.verify_expected WHERE id IN (SELECT e.id FROM temp.verify_expected e"
			       " JOIN records r ON r.id = e.id WHERE r.conv = '')",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(v, "selecting records");
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(v, "selecting records");
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
		return db_fail(v, "counting records");
	k->not_landed = pending + inflight;
	v->diffs_this_kind = 0;
	if (kind == IM_KIND_BLACKLIST || kind == IM_KIND_C2C_READ) {
		k->unchecked = v->opt->sample > 0 && v->opt->sample < landed ? v->opt->sample : landed;
		return 0;
	}
	if (select_expected(v, kind) < 0)
		return -1;
	if (read_target(v, kind) < 0)
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
