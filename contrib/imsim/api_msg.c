/* openim: importmsg, admin_set_msg_read, sendmsg, batchsendmsg, admin_getroammsg
 * (spec §5), and the simulated client send behind POST /_sim/send_c2c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "callback.h"
#include "state.h"

/* batchsendmsg's packet limit (error 90055). */
#define BATCH_MAX_BYTES 8000

static void msg_key(char *buf, size_t size, uint32_t seq, uint32_t random, int64_t time)
{
	snprintf(buf, size, "%u_%u_%lld", seq, random, (long long)time);
}

/* A server-chosen uint32 for an omitted MsgSeq. Callers hold sim->lock. */
static uint32_t server_random(void)
{
	return (uint32_t)random() ^ ((uint32_t)random() << 16);
}

/* Stores one message. The unordered pair plus (MsgSeq, MsgRandom, MsgTimeStamp) is
 * unique, and the first write wins. Returns 1 stored, 0 duplicate, -1 on error. */
static int store_c2c(struct api_ctx *c, const char *from, const char *to, uint32_t seq, uint32_t rnd, int64_t time,
		     const json_t *body, const char *ccd, const char *origin, bool unread)
{
	const char *lo = strcmp(from, to) <= 0 ? from : to, *hi = lo == from ? to : from;
	if (db_exec(c->sim->db,
		    "INSERT OR IGNORE INTO c2c_msgs(pair_lo, pair_hi, from_account, to_account, msg_seq, msg_random,"
		    " msg_time, body, cloud_custom_data, origin, unread) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    "ssssIIIjssi", lo, hi, from, to, (int64_t)seq, (int64_t)rnd, time, body, ccd, origin,
		    unread ? 1 : 0))
		return -1;
	return sqlite3_changes(c->sim->db) > 0;
}

/* MsgBody and CloudCustomData checks shared by every one-to-one send. */
static int check_body(struct api_ctx *c, const json_t *body, const char **ccd)
{
	char why[200];
	int code = im_rules_msg_body(&c->sim->rules, body, false, why, sizeof why);
	if (code)
		return api_fail(c, code, "%s", why);
	const json_t *ccd_v = json_object_get(c->req, "CloudCustomData");
	if (ccd_v && !json_is_string(ccd_v))
		return api_fail(c, 90010, "CloudCustomData must be a string");
	*ccd = json_string_value(ccd_v);
	size_t size = im_rules_msg_size(body, *ccd);
	if (size > c->sim->rules.msg_max_bytes)
		return api_fail(c, 93000, "message is %zu bytes, over %zu", size, c->sim->rules.msg_max_bytes);
	return 0;
}

int api_importmsg(struct api_ctx *c)
{
	const json_t *req = c->req, *sync = json_object_get(req, "SyncFromOldSystem");
	const char *from = api_str(req, "From_Account"), *to = api_str(req, "To_Account"), *ccd;
	const json_t *seq_v = json_object_get(req, "MsgSeq"), *ts = json_object_get(req, "MsgTimeStamp");
	const json_t *body = json_object_get(req, "MsgBody");
	uint32_t rnd, seq;
	if (!json_is_integer(sync))
		return api_fail(c, 90030, "SyncFromOldSystem is missing or not an integer");
	if (json_integer_value(sync) != 2 && json_integer_value(sync) != 5)
		return api_fail(c, 90030, "SyncFromOldSystem must be 2 or 5");
	if (!from)
		return api_fail(c, 90008, "From_Account is missing or not a string");
	if (!to)
		return api_fail(c, 90003, "To_Account is missing or not a string");
	if (!im_rules_uint32(json_object_get(req, "MsgRandom"), &rnd))
		return api_fail(c, 90005, "MsgRandom is missing or not a uint32");
	if (!json_is_integer(ts) || json_integer_value(ts) < 0)
		return api_fail(c, 90006, "MsgTimeStamp is missing or not a Unix time");
	if (seq_v && !im_rules_uint32(seq_v, &seq))
		return api_fail(c, 90004, "MsgSeq is not a uint32");
	int code = check_body(c, body, &ccd);
	if (code)
		return code;
	if (!api_account_exists(c, from))
		return api_fail(c, 90048, "From_Account is not an imported account");
	if (!api_account_exists(c, to))
		return api_fail(c, 90012, "To_Account is not an imported account");
	if (!seq_v)
		seq = server_random();
	/* 2 = history (read, no push); 5 = real-time during coexistence (unread). */
	if (store_c2c(c, from, to, seq, rnd, json_integer_value(ts), body, ccd, "importmsg",
		      json_integer_value(sync) == 5) < 0)
		return api_fail(c, 90992, "state write failed");
	return 0;
}

int api_admin_set_msg_read(struct api_ctx *c)
{
	const char *reader = api_str(c->req, "Report_Account"), *peer = api_str(c->req, "Peer_Account");
	const json_t *t = json_object_get(c->req, "MsgReadTime");
	int64_t read_time = c->now;
	if (!reader)
		return api_fail(c, 90008, "Report_Account is missing or not a string");
	if (!peer)
		return api_fail(c, 90003, "Peer_Account is missing or not a string");
	if (json_is_string(t)) {
		char *end;
		const char *s = json_string_value(t);
		read_time = strtoll(s, &end, 10);
		if (!*s || *end || read_time < 0)
			return api_fail(c, 90010, "MsgReadTime must be Unix seconds");
	} else if (json_is_integer(t) && c->sim->rules.read_time_number) {
		read_time = json_integer_value(t);
	} else if (t) {
		return api_fail(c, 90010, "MsgReadTime must be a string of Unix seconds");
	}
	if (!api_account_exists(c, reader))
		return api_fail(c, 90048, "Report_Account is not an imported account");
	if (!api_account_exists(c, peer))
		return api_fail(c, 90012, "Peer_Account is not an imported account");
	if (db_exec(c->sim->db,
		    "UPDATE c2c_msgs SET unread = 0 WHERE to_account = ? AND from_account = ? AND msg_time <= ?", "ssI",
		    reader, peer, read_time))
		return api_fail(c, 90992, "state write failed");
	return 0;
}

/* Common to sendmsg and the simulated client send. from is already checked. */
static int send_c2c(struct api_ctx *c, const char *from, bool honour_forbid)
{
	const json_t *req = c->req, *body = json_object_get(req, "MsgBody");
	const json_t *seq_v = json_object_get(req, "MsgSeq"), *life = json_object_get(req, "MsgLifeTime");
	const json_t *sync = json_object_get(req, "SyncOtherMachine"), *ts = json_object_get(req, "MsgTimeStamp");
	const char *to = api_str(req, "To_Account"), *ccd;
	uint32_t rnd, seq;
	if (!to)
		return api_fail(c, 90003, "To_Account is missing or not a string");
	if (!im_rules_uint32(json_object_get(req, "MsgRandom"), &rnd))
		return api_fail(c, 90005, "MsgRandom is missing or not a uint32");
	if (seq_v && !im_rules_uint32(seq_v, &seq))
		return api_fail(c, 90004, "MsgSeq is not a uint32");
	if (sync && !json_is_integer(sync))
		return api_fail(c, 90031, "SyncOtherMachine must be an integer");
	if (life && (!json_is_integer(life) || json_integer_value(life) < 0 || json_integer_value(life) > 604800))
		return api_fail(c, 90044, "MsgLifeTime must be an integer in 0..604800");
	if (ts && !json_is_integer(ts))
		return api_fail(c, 90010, "MsgTimeStamp must be an integer");
	int code = check_body(c, body, &ccd);
	if (code)
		return code;
	if (!api_account_exists(c, to))
		return api_fail(c, 90012, "To_Account is not an imported account");
	if (!seq_v)
		seq = server_random();
	/* MsgTimeStamp is accepted by community SDKs but not in current docs [U]. */
	int64_t time = ts && c->sim->rules.sendmsg_timestamp ? json_integer_value(ts) : c->now;
	bool online_only = life && json_integer_value(life) == 0;
	bool unread = !api_has_flag(json_object_get(req, "SendMsgControl"), "NoUnread");
	const json_t *forbid = honour_forbid ? json_object_get(req, "ForbidCallbackControl") : NULL;
	char key[64];
	msg_key(key, sizeof key, seq, rnd, time);
	int verdict = 0;
	if (!api_has_flag(forbid, "ForbidBeforeSendMsgCallback")) {
		json_t *before = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:i, s:O}", "From_Account", from, "To_Account",
					   to, "MsgSeq", (json_int_t)seq, "MsgRandom", (json_int_t)rnd, "MsgTime",
					   (json_int_t)time, "MsgKey", key, "OnlineOnlyFlag", online_only ? 1 : 0, "MsgBody",
					   body);
		if (before && ccd)
			json_object_set_new(before, "CloudCustomData", json_string(ccd));
		verdict = callback_before(c->sim, "C2C.CallbackBeforeSendMsg", c->platform, before);
		json_decref(before);
	}
	if (verdict == 1)
		return api_fail(c, 20006, "blocked by the before-send callback");
	if (verdict >= 120001 && verdict <= 130000)
		return api_fail(c, verdict, "refused by the before-send callback");
	json_object_set_new(c->resp, "MsgTime", json_integer(time));
	json_object_set_new(c->resp, "MsgKey", json_string(key));
	if (verdict == 2)
		return 0;	/* dropped silently: the sender sees success, nothing is stored */
	if (!online_only && store_c2c(c, from, to, seq, rnd, time, body, ccd, c->platform, unread) < 0)
		return api_fail(c, 90992, "state write failed");
	if (api_has_flag(forbid, "ForbidAfterSendMsgCallback"))
		return 0;
	int64_t unread_total = db_int(c->sim->db, 0, "SELECT COUNT(*) FROM c2c_msgs WHERE to_account = ? AND unread = 1",
				      "s", to);
	json_t *cb = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:i, s:i, s:s, s:I, s:O}", "From_Account", from,
			       "To_Account", to, "MsgSeq", (json_int_t)seq, "MsgRandom", (json_int_t)rnd, "MsgTime",
			       (json_int_t)time, "MsgKey", key, "OnlineOnlyFlag", online_only ? 1 : 0, "SendMsgResult", 0,
			       "ErrorInfo", "send msg succeed", "UnreadMsgNum", (json_int_t)unread_total, "MsgBody", body);
	if (cb && ccd)
		json_object_set_new(cb, "CloudCustomData", json_string(ccd));
	api_callback(c, "C2C.CallbackAfterSendMsg", cb);
	return 0;
}

int api_sendmsg(struct api_ctx *c)
{
	const json_t *from_v = json_object_get(c->req, "From_Account");
	if (from_v && !json_is_string(from_v))
		return api_fail(c, 90008, "From_Account must be a string");
	const char *from = from_v ? json_string_value(from_v) : c->operator_id;
	if (from_v && !api_account_exists(c, from))
		return api_fail(c, 90048, "From_Account is not an imported account");
	return send_c2c(c, from, true);
}

int api_sim_send_c2c(struct api_ctx *c)
{
	const char *from = api_str(c->req, "From_Account");
	if (!from || !api_account_exists(c, from))
		return api_fail(c, 90048, "From_Account is not an imported account");
	return send_c2c(c, from, false);
}

int api_batchsendmsg(struct api_ctx *c)
{
	const json_t *req = c->req, *to = json_object_get(req, "To_Account"), *body = json_object_get(req, "MsgBody");
	const json_t *from_v = json_object_get(req, "From_Account"), *seq_v = json_object_get(req, "MsgSeq");
	const json_t *life = json_object_get(req, "MsgLifeTime");
	const char *from = from_v ? json_string_value(from_v) : c->operator_id, *ccd;
	uint32_t rnd, seq;
	if (!json_is_array(to) || json_array_size(to) == 0)
		return api_fail(c, 90003, "To_Account must be a non-empty array");
	if ((int)json_array_size(to) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 90011, "To_Account has %zu recipients, over 500", json_array_size(to));
	if (!from)
		return api_fail(c, 90008, "From_Account must be a string");
	if (!im_rules_uint32(json_object_get(req, "MsgRandom"), &rnd))
		return api_fail(c, 90005, "MsgRandom is missing or not a uint32");
	if (seq_v && !im_rules_uint32(seq_v, &seq))
		return api_fail(c, 90004, "MsgSeq is not a uint32");
	if (life && (!json_is_integer(life) || json_integer_value(life) < 0 || json_integer_value(life) > 604800))
		return api_fail(c, 90044, "MsgLifeTime must be an integer in 0..604800");
	int code = check_body(c, body, &ccd);
	if (code)
		return code;
	/* One message to many is held to a smaller packet than a single send (spec §5.5). */
	if (im_rules_msg_size(body, ccd) > BATCH_MAX_BYTES)
		return api_fail(c, 90055, "batch message is over %d bytes", BATCH_MAX_BYTES);
	if (from_v && !api_account_exists(c, from))
		return api_fail(c, 90048, "From_Account is not an imported account");
	if (!seq_v)
		seq = server_random();
	bool store = !(life && json_integer_value(life) == 0);
	bool unread = !api_has_flag(json_object_get(req, "SendMsgControl"), "NoUnread");
	json_t *errors = json_array();
	size_t i, delivered = 0;
	const json_t *t;
	json_array_foreach(to, i, t) {
		const char *peer = json_string_value(t);
		if (!peer || !api_account_exists(c, peer)) {
			json_array_append_new(errors, json_pack("{s:O, s:i}", "To_Account", t, "ErrorCode", 70107));
			continue;
		}
		if (store && store_c2c(c, from, peer, seq, rnd, c->now, body, ccd, "batchsendmsg", unread) < 0) {
			json_decref(errors);
			return api_fail(c, 90992, "state write failed");
		}
		delivered++;
	}
	if (!delivered) {
		json_decref(errors);
		return api_fail(c, 90012, "invalid To_Account");
	}
	char key[64];
	msg_key(key, sizeof key, seq, rnd, c->now);
	json_object_set_new(c->resp, "MsgKey", json_string(key));
	if (json_array_size(errors)) {
		json_object_set_new(c->resp, "ActionStatus", json_string("SomeError"));
		json_object_set_new(c->resp, "ErrorList", errors);
	} else {
		json_decref(errors);
	}
	return 0;
}

int api_admin_getroammsg(struct api_ctx *c)
{
	const char *me = api_str(c->req, "Operator_Account"), *peer = api_str(c->req, "Peer_Account");
	const json_t *max = json_object_get(c->req, "MaxCnt"), *min_t = json_object_get(c->req, "MinTime");
	const json_t *max_t = json_object_get(c->req, "MaxTime");
	const char *last_key = api_str(c->req, "LastMsgKey");
	if (!me)
		return api_fail(c, 90008, "Operator_Account is missing or not a string");
	if (!peer)
		return api_fail(c, 90003, "Peer_Account is missing or not a string");
	if (!json_is_integer(max) || json_integer_value(max) < 1 || json_integer_value(max) > 100 ||
	    !json_is_integer(min_t) || !json_is_integer(max_t))
		return api_fail(c, 90010, "MaxCnt (1-100), MinTime and MaxTime must be integers");
	const char *lo = strcmp(me, peer) <= 0 ? me : peer, *hi = lo == me ? peer : me;
	/* Newest first, paging backwards: the next page starts after LastMsgKey. */
	sqlite3_stmt *st = db_query(c->sim->db,
				    "SELECT from_account, to_account, msg_seq, msg_random, msg_time, body, cloud_custom_data"
				    " FROM c2c_msgs WHERE pair_lo = ? AND pair_hi = ? AND msg_time BETWEEN ? AND ?"
				    " ORDER BY msg_time DESC, msg_seq DESC, id DESC",
				    "ssII", lo, hi, (int64_t)json_integer_value(min_t), (int64_t)json_integer_value(max_t));
	json_t *list = json_array();
	bool skipping = last_key != NULL, complete = true;
	char key[64], last[64] = "";
	int64_t last_time = 0;
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		uint32_t seq = (uint32_t)sqlite3_column_int64(st, 2), rnd = (uint32_t)sqlite3_column_int64(st, 3);
		int64_t time = sqlite3_column_int64(st, 4);
		msg_key(key, sizeof key, seq, rnd, time);
		if (skipping) {
			skipping = strcmp(key, last_key) != 0;
			continue;
		}
		if ((json_int_t)json_array_size(list) == json_integer_value(max)) {
			complete = false;
			break;
		}
		json_t *m = json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:s, s:o}", "From_Account", db_col_text(st, 0),
				      "To_Account", db_col_text(st, 1), "MsgSeq", (json_int_t)seq, "MsgRandom",
				      (json_int_t)rnd, "MsgTimeStamp", (json_int_t)time, "MsgFlagBits", 0, "MsgKey", key,
				      "MsgBody", db_col_json(st, 5));
		if (m && sqlite3_column_type(st, 6) != SQLITE_NULL)
			json_object_set_new(m, "CloudCustomData", json_string(db_col_text(st, 6)));
		json_array_append_new(list, m);
		snprintf(last, sizeof last, "%s", key);
		last_time = time;
	}
	sqlite3_finalize(st);
	json_object_set_new(c->resp, "Complete", json_integer(complete ? 1 : 0));
	json_object_set_new(c->resp, "MsgCnt", json_integer((json_int_t)json_array_size(list)));
	json_object_set_new(c->resp, "LastMsgTime", json_integer(last_time));
	json_object_set_new(c->resp, "LastMsgKey", json_string(last));
	json_object_set_new(c->resp, "MsgList", list);
	return 0;
}
