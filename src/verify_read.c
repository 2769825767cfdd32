/* Reading the target back for verification (see verify.h): list calls and
 * conversations are units of work, many in flight, each API paced. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "verify_priv.h"

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
	if (v->npaces == IM_VERIFY_MAX_PACES)
		return &v->paces[0].pace; /* cannot happen: verify uses seven APIs */
	v->paces[v->npaces].command = command;
	im_pace_init(&v->paces[v->npaces].pace, limit_for(v, command), im_pace_now());
	return &v->paces[v->npaces++].pace;
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
	int rc = im_verify_found(v, key, val);
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
			if (im_verify_iv(it, "ResultCode") == 0 && im_verify_sv(it, "UserID") && im_verify_sv(it, "AccountStatus") &&
			    strcmp(im_verify_sv(it, "AccountStatus"), "Imported") == 0 && im_verify_found(v, im_verify_sv(it, "UserID"), NULL) < 0)
				return -1;
		return 0;
	case U_PROFILES:
		json_array_foreach(json_object_get(resp, "UserProfileItem"), i, it) {
			if (im_verify_iv(it, "ResultCode") != 0 || !im_verify_sv(it, "To_Account"))
				continue;
			json_t *val = json_object();
			json_array_foreach(json_object_get(it, "ProfileItem"), k, item)
				if (im_verify_sv(item, "Tag"))
					json_object_set(val, im_verify_sv(item, "Tag"), json_object_get(item, "Value"));
			if (found_new(v, im_verify_sv(it, "To_Account"), val) < 0)
				return -1;
		}
		return 0;
	case U_GROUPS: {
		static const char *const fields[] = {"Type",	     "Name",	   "Owner_Account",   "Introduction",
						     "Notification", "FaceUrl",	   "CreateTime",      "ApplyJoinOption",
						     NULL};
		json_array_foreach(json_object_get(resp, "GroupInfo"), i, it) {
			if (im_verify_iv(it, "ErrorCode") != 0 || !im_verify_sv(it, "GroupId"))
				continue;
			json_t *val = pick(it, fields);
			if (json_object_get(it, "MaxMemberNum"))
				json_object_set(val, "MaxMemberCount", json_object_get(it, "MaxMemberNum"));
			if (found_new(v, im_verify_sv(it, "GroupId"), val) < 0)
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
					if (im_verify_sv(item, "Tag") && strcmp(im_verify_sv(item, "Tag"), map[m].tag) == 0)
						json_object_set(val, map[m].field, json_object_get(item, "Value"));
			im_verify_key(key, sizeof key, "ss", u->conv, im_verify_sv(it, "To_Account"));
			if (found_new(v, key, val) < 0)
				return -1;
		}
		json_int_t next = im_verify_iv(resp, "NextStartIndex");
		if (im_verify_iv(resp, "CompleteFlag") == 1 || next <= u->cursor)
			return 0;
		u->cursor = next;
		return 1;
	}
	case U_MEMBERS: {
		static const char *const fields[] = {"Role", "JoinTime", "UnreadMsgNum", "NameCard", "MsgFlag", NULL};
		json_t *list = json_object_get(resp, "MemberList");
		json_array_foreach(list, i, it) {
			im_verify_key(key, sizeof key, "ss", u->conv, im_verify_sv(it, "Member_Account"));
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
			im_verify_key(key, sizeof key, "sii", u->conv, im_verify_iv(it, "MsgRandom"), im_verify_iv(it, "MsgTimeStamp"));
			if (found_new(v, key, pick(it, fields)) < 0)
				return -1;
			json_int_t seq = im_verify_iv(it, "MsgSeq");
			if (lowest < 0 || seq < lowest)
				lowest = seq;
		}
		if (im_verify_iv(resp, "IsFinished") == 1 || !json_array_size(list) || lowest <= 1)
			return 0;
		u->cursor = lowest - 1;
		return 1;
	}
	case U_C2C: {
		static const char *const fields[] = {"From_Account", "To_Account", "MsgBody", "CloudCustomData", NULL};
		json_t *list = json_object_get(resp, "MsgList");
		json_array_foreach(list, i, it) {
			im_verify_key(key, sizeof key, "siii", u->conv, im_verify_iv(it, "MsgSeq"), im_verify_iv(it, "MsgRandom"),
				 im_verify_iv(it, "MsgTimeStamp"));
			if (found_new(v, key, pick(it, fields)) < 0)
				return -1;
		}
		const char *next = im_verify_sv(resp, "LastMsgKey");
		if (im_verify_iv(resp, "Complete") == 1 || !json_array_size(list) || !next || !*next ||
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
		return im_verify_db_fail(p->v, "reading records");
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
		im_verify_fail(p->v, "out of memory");
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
					const char *tag = im_verify_sv(item, "Tag");
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
			snprintf(u->from, sizeof u->from, "%s", payload && im_verify_sv(payload, "From_Account") ? im_verify_sv(payload, "From_Account") : "");
			snprintf(u->to, sizeof u->to, "%s", payload && im_verify_sv(payload, "To_Account") ? im_verify_sv(payload, "To_Account") : "");
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
		im_verify_fail(v, "%s/%s: %s%s", service, command, verdict.message,
			u->attempts >= max_attempts ? " (giving up after retries)" : "");
		return -1;
	}
	/* Exponential backoff with full jitter, capped at 5 s. */
	double cap = fmin(5.0, 0.1 * pow(2, u->attempts - 1));
	u->retry_at = im_pace_now() + fmax(cap * ((double)rand() / RAND_MAX), verdict.min_wait);
	return 0;
}

int im_verify_read_target(struct verifier *v, int kind)
{
	struct producer p = {.v = v, .kind = kind};
	if (sqlite3_prepare_v2(v->db,
			       "SELECT r.conv, r.ord, r.id FROM temp.verify_expected e JOIN records r ON r.id = e.id"
			       " ORDER BY r.conv",
			       -1, &p.rows, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(v->db, "SELECT payload FROM records WHERE id = ?1", -1, &p.get, NULL) != SQLITE_OK) {
		sqlite3_finalize(p.rows);
		return im_verify_db_fail(v, "reading records");
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
				im_verify_fail(v, "%s/%s: cannot set up the request", unit_service[u->type],
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
			im_verify_fail(v, "the request layer failed");
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
