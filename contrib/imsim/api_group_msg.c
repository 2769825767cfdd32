/* group_open_http_svc: import_group_msg, send_group_msg, group_msg_get_simple (spec §6.4,
 * §6.11), and the simulated client send behind POST /_sim/send_group_msg. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "callback.h"
#include "state.h"

/* The service drops a later message with the same Random within this window. */
#define DUPLICATE_WINDOW 300

static int store_group_msg(struct api_ctx *c, const struct group_row *g, int64_t seq, const char *from,
			   int64_t time, uint32_t rnd, const json_t *body, const char *ccd, const char *priority,
			   const char *origin)
{
	return db_exec(c->sim->db,
		       "INSERT INTO group_msgs(group_id, msg_seq, from_account, send_time, random, body,"
		       " cloud_custom_data, priority, origin) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
		       "sIsIIjsss", g->id, seq, from, time, (int64_t)rnd, body, ccd, priority, origin) ||
	       db_exec(c->sim->db, "UPDATE groups SET next_seq = ?, latest_msg_time = MAX(latest_msg_time, ?)"
				   " WHERE group_id = ?",
		       "IIs", seq + 1, time, g->id);
}

/* The MsgSeq of an earlier message this one duplicates (same Random, within the window,
 * and for sends the same body), or 0. */
static int64_t duplicate_of(struct api_ctx *c, const struct group_row *g, uint32_t rnd, int64_t time,
			    const json_t *body_or_null)
{
	if (!rnd)
		return 0;
	if (!body_or_null)
		return db_int(c->sim->db, 0,
			      "SELECT msg_seq FROM group_msgs WHERE group_id = ? AND random = ? AND ABS(send_time - ?) <= ?"
			      " ORDER BY msg_seq LIMIT 1",
			      "sIIi", g->id, (int64_t)rnd, time, DUPLICATE_WINDOW);
	char *text = json_dumps(body_or_null, JSON_COMPACT);
	int64_t seq = db_int(c->sim->db, 0,
			     "SELECT msg_seq FROM group_msgs WHERE group_id = ? AND random = ? AND ABS(send_time - ?) <= ?"
			     " AND body = ? ORDER BY msg_seq LIMIT 1",
			     "sIIis", g->id, (int64_t)rnd, time, DUPLICATE_WINDOW, text);
	free(text);
	return seq;
}

/* Structure of one MsgList entry; time rules are per-item results, not request errors. */
static int check_import_item(struct api_ctx *c, const json_t *m, size_t i)
{
	char why[200];
	const json_t *rnd = json_object_get(m, "Random");
	if (!json_is_object(m) || !api_str(m, "From_Account"))
		return api_fail(c, 10004, "MsgList[%zu].From_Account is missing or not a string", i);
	if (!json_is_integer(json_object_get(m, "SendTime")))
		return api_fail(c, 10004, "MsgList[%zu].SendTime is missing or not an integer", i);
	if (rnd && !im_rules_uint32(rnd, NULL))
		return api_fail(c, 10004, "MsgList[%zu].Random is not a uint32", i);
	if (im_rules_msg_body(&c->sim->rules, json_object_get(m, "MsgBody"), true, why, sizeof why))
		return api_fail(c, 10004, "MsgList[%zu]: %s", i, why);
	return 0;
}

int api_import_group_msg(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	if (g.type == IM_GROUP_AVCHATROOM)
		return api_fail(c, 10007, "AVChatRoom groups keep no history");
	const json_t *list = json_object_get(c->req, "MsgList"), *flag = json_object_get(c->req, "RecentContactFlag");
	int max = im_rules_batch_max(&c->sim->rules, c->api);
	if (flag && !json_is_integer(flag))
		return api_fail(c, 10004, "RecentContactFlag must be an integer");
	if (!json_is_array(list) || json_array_size(list) == 0 || (int)json_array_size(list) > max)
		return api_fail(c, 10004, "MsgList must hold 1-%d messages", max);
	size_t i;
	const json_t *m;
	json_array_foreach(list, i, m)
		if ((code = check_import_item(c, m, i)))
			return code;
	json_t *results = json_array();
	int64_t latest = g.latest_msg_time;
	bool stored = false;
	json_array_foreach(list, i, m) {
		const char *from = api_str(m, "From_Account");
		int64_t t = json_integer_value(json_object_get(m, "SendTime")), seq = 0, dup;
		uint32_t rnd = 0;
		im_rules_uint32(json_object_get(m, "Random"), &rnd);
		const json_t *body = json_object_get(m, "MsgBody");
		int result = 0;
		/* After creation, not in the future, and never older than the group's newest message. */
		bool order_ok = c->sim->rules.group_msg_equal_time ? t >= latest : t > latest;
		if (t <= g.create_time || t > c->now || !order_ok)
			result = 10004;
		else if (!api_account_exists(c, from) ||
			 (c->sim->rules.group_msg_sender_member && !api_group_is_member(c, g.id, from)))
			result = 10004;
		else if (im_rules_msg_size(body, NULL) > c->sim->rules.msg_max_bytes)
			result = 80002;
		else if ((dup = duplicate_of(c, &g, rnd, t, NULL)))
			seq = dup;	/* dropped as a duplicate; the first copy stands */
		else if (store_group_msg(c, &g, g.next_seq, from, t, rnd, body, NULL, "Normal", "import")) {
			json_decref(results);
			return api_fail(c, 10002, "state write failed");
		} else {
			seq = g.next_seq++;
			latest = t;
			stored = true;
		}
		json_array_append_new(results, json_pack("{s:I, s:I, s:i}", "MsgSeq", (json_int_t)seq, "MsgTime",
							 (json_int_t)t, "Result", result));
	}
	/* Importing zeroes every member's unread count (spec §6.4). */
	if (stored && db_exec(c->sim->db, "UPDATE members SET unread = 0 WHERE group_id = ?", "s", g.id)) {
		json_decref(results);
		return api_fail(c, 10002, "state write failed");
	}
	json_object_set_new(c->resp, "ImportMsgResult", results);
	return 0;
}

/* send_group_msg and the simulated client send; from == NULL means the admin. */
static int send_group(struct api_ctx *c, const char *from, bool honour_forbid)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	const json_t *req = c->req, *body = json_object_get(req, "MsgBody");
	const json_t *online = json_object_get(req, "OnlineOnlyFlag");
	const char *priority = api_str(req, "MsgPriority"), *ccd = api_str(req, "CloudCustomData");
	char why[200];
	uint32_t rnd;
	if (!im_rules_uint32(json_object_get(req, "Random"), &rnd))
		return api_fail(c, 10004, "Random is missing or not a uint32");
	if (json_object_get(req, "MsgPriority") &&
	    !(priority && (!strcmp(priority, "High") || !strcmp(priority, "Normal") || !strcmp(priority, "Low"))))
		return api_fail(c, 10004, "MsgPriority must be High, Normal or Low");
	if (online && !json_is_integer(online))
		return api_fail(c, 10004, "OnlineOnlyFlag must be an integer");
	if (json_object_get(req, "CloudCustomData") && !ccd)
		return api_fail(c, 10004, "CloudCustomData must be a string");
	if (im_rules_msg_body(&c->sim->rules, body, false, why, sizeof why))
		return api_fail(c, 10004, "%s", why);
	if (im_rules_msg_size(body, ccd) > c->sim->rules.msg_max_bytes)
		return api_fail(c, 80002, "message is over %zu bytes", c->sim->rules.msg_max_bytes);
	if (from && !api_account_exists(c, from))
		return api_fail(c, 10004, "From_Account is not an imported account");
	if (from && db_int(c->sim->db, 0, "SELECT mute_until FROM members WHERE group_id = ? AND account = ?", "ss",
			   g.id, from) > c->now)
		return api_fail(c, 10017, "the sender is muted in this group");
	const char *sender = from ? from : c->operator_id;
	int64_t seq = duplicate_of(c, &g, rnd, c->now, body), time = c->now;
	if (seq) {
		/* A resend within five minutes is dropped; the first copy stands. */
		time = db_int(c->sim->db, c->now, "SELECT send_time FROM group_msgs WHERE group_id = ? AND msg_seq = ?",
			      "sI", g.id, seq);
		json_object_set_new(c->resp, "MsgTime", json_integer(time));
		json_object_set_new(c->resp, "MsgSeq", json_integer(seq));
		return 0;
	}
	const json_t *forbid = honour_forbid ? json_object_get(req, "ForbidCallbackControl") : NULL;
	if (!api_has_flag(forbid, "ForbidBeforeSendMsgCallback")) {
		json_t *before = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:O}", "GroupId", g.id, "Type", g.type_name,
					   "From_Account", sender, "Operator_Account", c->operator_id, "Random",
					   (json_int_t)rnd, "OnlineOnlyFlag", json_integer_value(online) == 1 ? 1 : 0,
					   "MsgBody", body);
		if (before && ccd)
			json_object_set_new(before, "CloudCustomData", json_string(ccd));
		int verdict = callback_before(c->sim, "Group.CallbackBeforeSendMsg", c->platform, before);
		json_decref(before);
		if (verdict >= 120001 && verdict <= 130000)
			return api_fail(c, verdict, "refused by the before-send callback");
		if (verdict)
			return api_fail(c, 10016, "blocked by the before-send callback");
	}
	if (db_int(c->sim->db, 0, "SELECT COUNT(*) FROM group_msgs WHERE group_id = ? AND send_time = ? AND origin <> 'import'",
		   "sI", g.id, c->now) >= c->sim->rules.group_msgs_per_second) {
		/* Past the per-group rate (spec §1.6) the send "succeeds" but is dropped. */
		json_object_set_new(c->resp, "MsgTime", json_integer(c->now));
		json_object_set_new(c->resp, "MsgSeq", json_integer(0));
		json_object_set_new(c->resp, "MsgDropReason", json_string("MsgFreqCtrl"));
		return 0;
	}
	bool online_only = json_integer_value(online) == 1;
	seq = g.next_seq;
	if (online_only) {
		/* Not stored, but it still consumes a sequence number. */
		db_exec(c->sim->db, "UPDATE groups SET next_seq = next_seq + 1 WHERE group_id = ?", "s", g.id);
	} else if (store_group_msg(c, &g, seq, sender, time, rnd, body, ccd, priority ? priority : "Normal",
				   c->platform)) {
		return api_fail(c, 10002, "state write failed");
	}
	if (!online_only && im_rules_group_has_unread(g.type) &&
	    !api_has_flag(json_object_get(req, "SendMsgControl"), "NoUnread"))
		db_exec(c->sim->db, "UPDATE members SET unread = unread + 1 WHERE group_id = ? AND account <> ?", "ss",
			g.id, sender);
	json_object_set_new(c->resp, "MsgTime", json_integer(time));
	json_object_set_new(c->resp, "MsgSeq", json_integer(seq));
	if (api_has_flag(forbid, "ForbidAfterSendMsgCallback"))
		return 0;
	json_t *cb = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:O, s:o}", "GroupId", g.id, "Type",
			       g.type_name, "From_Account", sender, "Operator_Account", c->operator_id, "Random",
			       (json_int_t)rnd, "MsgSeq", (json_int_t)seq, "MsgTime", (json_int_t)time, "OnlineOnlyFlag",
			       online_only ? 1 : 0, "MsgBody", body, "EventTime", api_event_time(c));
	if (cb && ccd)
		json_object_set_new(cb, "CloudCustomData", json_string(ccd));
	api_callback(c, "Group.CallbackAfterSendMsg", cb);
	return 0;
}

int api_send_group_msg(struct api_ctx *c)
{
	const json_t *from = json_object_get(c->req, "From_Account");
	if (from && !json_is_string(from))
		return api_fail(c, 10004, "From_Account must be a string");
	return send_group(c, json_string_value(from), true);
}

int api_sim_send_group_msg(struct api_ctx *c)
{
	const char *from = api_str(c->req, "From_Account"), *gid = api_str(c->req, "GroupId");
	/* A client can only post into a group it belongs to. */
	if (gid && !api_group_is_member(c, gid, from))
		return api_fail(c, 10007, "From_Account is not a member of the group");
	return send_group(c, from, false);
}

int api_group_msg_get_simple(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	const json_t *n = json_object_get(c->req, "ReqMsgNumber"), *from_seq = json_object_get(c->req, "ReqMsgSeq");
	if (!json_is_integer(n) || json_integer_value(n) < 1 ||
	    json_integer_value(n) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 10004, "ReqMsgNumber must be an integer in 1..20");
	if (from_seq && !json_is_integer(from_seq))
		return api_fail(c, 10004, "ReqMsgSeq must be an integer");
	int64_t top = from_seq ? json_integer_value(from_seq) : g.next_seq - 1;
	sqlite3_stmt *st = db_query(c->sim->db,
				    "SELECT from_account, body, priority, random, msg_seq, send_time, cloud_custom_data"
				    " FROM group_msgs WHERE group_id = ? AND msg_seq <= ? ORDER BY msg_seq DESC LIMIT ?",
				    "sII", g.id, top, (int64_t)json_integer_value(n));
	json_t *out = json_array();
	int64_t lowest = 0;
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *m = json_pack("{s:s, s:i, s:o, s:s, s:I, s:I, s:I}", "From_Account", db_col_text(st, 0),
				      "IsPlaceMsg", 0, "MsgBody", db_col_json(st, 1), "MsgPriority", db_col_text(st, 2),
				      "MsgRandom", (json_int_t)sqlite3_column_int64(st, 3), "MsgSeq",
				      (json_int_t)sqlite3_column_int64(st, 4), "MsgTimeStamp",
				      (json_int_t)sqlite3_column_int64(st, 5));
		if (m && sqlite3_column_type(st, 6) != SQLITE_NULL)
			json_object_set_new(m, "CloudCustomData", json_string(db_col_text(st, 6)));
		json_array_append_new(out, m);
		lowest = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	bool finished = !json_array_size(out) ||
			!db_int(c->sim->db, 0, "SELECT 1 FROM group_msgs WHERE group_id = ? AND msg_seq < ? LIMIT 1",
				"sI", g.id, lowest);
	json_object_set_new(c->resp, "GroupId", json_string(g.id));
	json_object_set_new(c->resp, "IsFinished", json_integer(finished ? 1 : 0));
	json_object_set_new(c->resp, "RspMsgList", out);
	return 0;
}
