/* sns: friend_import, friend_add, friend_delete, black_list_add, black_list_delete, friend_get
 * (spec §4). */
#include "config.h"

#include <string.h>

#include "api.h"
#include "state.h"

#define MAX_FRIENDS 3000
#define MAX_BLOCKED 1000

/* From_Account: a string naming an imported account. */
static int sns_from(struct api_ctx *c, const char **from)
{
	*from = api_str(c->req, "From_Account");
	if (!*from)
		return api_fail(c, 30001, "From_Account must be a string");
	if (!api_account_exists(c, *from))
		return api_fail(c, 30003, "From_Account is not an imported account");
	return 0;
}

/* The 1..1000-entry array field of a batch request. */
static int sns_items(struct api_ctx *c, const char *field, const json_t **items)
{
	*items = json_object_get(c->req, field);
	if (!json_is_array(*items) || json_array_size(*items) == 0)
		return api_fail(c, 30001, "%s must be a non-empty array", field);
	if ((int)json_array_size(*items) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 30001, "%s has %zu items, over %d", field, json_array_size(*items),
				im_rules_batch_max(&c->sim->rules, c->api));
	return 0;
}

/* Appends one ResultItem; failed items also go to Fail_Account. */
static void result(json_t *results, json_t *failed, const json_t *to, int code, const char *info)
{
	json_array_append_new(results, json_pack("{s:O?, s:i, s:s}", "To_Account", to, "ResultCode", code,
						 "ResultInfo", info));
	if (code && to)
		json_array_append(failed, (json_t *)to);
}

static void finish(struct api_ctx *c, json_t *results, json_t *failed)
{
	json_object_set_new(c->resp, "ResultItem", results);
	if (json_array_size(failed))
		json_object_set_new(c->resp, "Fail_Account", failed);
	else
		json_decref(failed);
}

/* Ends a pair-changing call: the per-item results, and the callback naming the
 * changed pairs (body gets PairList; both are taken), or nothing when none changed. */
static int finish_pairs(struct api_ctx *c, json_t *results, json_t *failed, const char *command, json_t *pairs,
			json_t *body)
{
	finish(c, results, failed);
	if (!json_array_size(pairs) || !body) {
		json_decref(pairs);
		json_decref(body);
		return 0;
	}
	if (json_object_set_new(body, "PairList", pairs)) /* releases pairs either way */
		json_decref(body);
	else
		api_callback(c, command, body);
	return 0;
}

static bool is_friend(struct api_ctx *c, const char *owner, const char *peer)
{
	return db_int(c->sim->db, 0, "SELECT 1 FROM friends WHERE owner = ? AND peer = ?", "ss", owner, peer) == 1;
}

static bool is_blocked(struct api_ctx *c, const char *owner, const char *peer)
{
	return db_int(c->sim->db, 0, "SELECT 1 FROM blacklist WHERE owner = ? AND peer = ?", "ss", owner, peer) == 1;
}

static int64_t friend_count(struct api_ctx *c, const char *owner)
{
	return db_int(c->sim->db, 0, "SELECT COUNT(*) FROM friends WHERE owner = ?", "s", owner);
}

/* Writes owner -> peer from an AddFriendItem; GroupName may be a string (friend_add). */
static int store_friend(struct api_ctx *c, const char *owner, const char *peer, const json_t *item)
{
	const json_t *groups = json_object_get(item, "GroupName");
	json_t *list = json_is_string(groups) ? json_pack("[O]", groups) : json_incref((json_t *)groups);
	const json_t *add_time = json_object_get(item, "AddTime");
	int r = db_exec(c->sim->db,
			"INSERT OR REPLACE INTO friends(owner, peer, remark, remark_time, group_names, add_source,"
			" add_wording, add_time, custom) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
			"sssIjssIj", owner, peer, api_str(item, "Remark"),
			(int64_t)json_integer_value(json_object_get(item, "RemarkTime")), list,
			api_str(item, "AddSource"), api_str(item, "AddWording"),
			add_time ? (int64_t)json_integer_value(add_time) : c->now, json_object_get(item, "CustomItem"));
	json_decref(list);
	return r;
}

int api_friend_import(struct api_ctx *c)
{
	const char *from;
	const json_t *items;
	int code = sns_from(c, &from);
	if (code || (code = sns_items(c, "AddFriendItem", &items)))
		return code;
	json_t *results = json_array(), *failed = json_array();
	size_t i;
	const json_t *it;
	json_array_foreach(items, i, it) {
		char why[200];
		const json_t *to = json_object_get(it, "To_Account");
		const char *peer = json_string_value(to);
		if ((code = im_rules_friend_item(it, true, why, sizeof why)))
			result(results, failed, to, code, why);
		else if (!strcmp(peer, from))
			result(results, failed, to, 30001, "cannot befriend oneself");
		else if (!api_account_exists(c, peer))
			result(results, failed, to, 30003, "To_Account is not an imported account");
		else if (is_friend(c, from, peer) && !c->sim->rules.friend_import_overwrite)
			result(results, failed, to, 30001, "Err_SNS_FriendImport_Friend_Exist");
		else if (!is_friend(c, from, peer) && friend_count(c, from) >= MAX_FRIENDS)
			result(results, failed, to, 30010, "Err_SNS_FriendImport_My_Friend_Num_Exceed_Threshold");
		else if (store_friend(c, from, peer, it)) {
			json_decref(results);
			json_decref(failed);
			return api_fail(c, 30006, "state write failed");
		}
		else
			result(results, failed, to, 0, "");
	}
	finish(c, results, failed);
	return 0;
}

/* The peer's AllowType profile tag; need-confirm is the service default. */
static const char *allow_type(struct api_ctx *c, const char *user, char *buf, size_t size)
{
	sqlite3_stmt *st = db_query(c->sim->db,
				    "SELECT value FROM profiles WHERE user_id = ? AND tag = 'Tag_Profile_IM_AllowType'",
				    "s", user);
	snprintf(buf, size, "AllowType_Type_NeedConfirm");
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *v = db_col_json(st, 0);
		if (json_is_string(v))
			snprintf(buf, size, "%s", json_string_value(v));
		json_decref(v);
	}
	sqlite3_finalize(st);
	return buf;
}

int api_friend_add(struct api_ctx *c)
{
	const char *from;
	const json_t *items;
	int code = sns_from(c, &from);
	if (code || (code = sns_items(c, "AddFriendItem", &items)))
		return code;
	const char *type = api_str(c->req, "AddType");
	const json_t *force_v = json_object_get(c->req, "ForceAddFlags");
	if (json_object_get(c->req, "AddType") &&
	    !(type && (!strcmp(type, "Add_Type_Single") || !strcmp(type, "Add_Type_Both"))))
		return api_fail(c, 30001, "AddType must be Add_Type_Single or Add_Type_Both");
	if (force_v && !json_is_integer(force_v))
		return api_fail(c, 30001, "ForceAddFlags must be an integer");
	bool both = !type || !strcmp(type, "Add_Type_Both");
	bool force = json_integer_value(force_v) == 1;
	json_t *results = json_array(), *failed = json_array(), *pairs = json_array();
	size_t i;
	const json_t *it;
	json_array_foreach(items, i, it) {
		char why[200], allow[64];
		const json_t *to = json_object_get(it, "To_Account");
		const char *peer = json_string_value(to);
		if ((code = im_rules_friend_item(it, false, why, sizeof why))) {
			result(results, failed, to, code, why);
			continue;
		}
		if (!strcmp(peer, from) || !api_account_exists(c, peer)) {
			result(results, failed, to, 30003, "To_Account is not an imported account");
			continue;
		}
		if (is_blocked(c, from, peer)) {
			result(results, failed, to, 30515, "Err_SNS_FriendAdd_Friend_In_Own_BlackList");
			continue;
		}
		if (is_blocked(c, peer, from)) {
			result(results, failed, to, 30525, "Err_SNS_FriendAdd_Self_In_Peer_BlackList");
			continue;
		}
		if (!force && !strcmp(allow_type(c, peer, allow, sizeof allow), "AllowType_Type_DenyAny")) {
			result(results, failed, to, 30516, "Err_SNS_FriendAdd_Peer_Deny_Any");
			continue;
		}
		if (!force && !strcmp(allow, "AllowType_Type_NeedConfirm")) {
			result(results, failed, to, 30539, "Err_SNS_FriendAdd_Need_Confirm");
			continue;
		}
		if ((!is_friend(c, from, peer) && friend_count(c, from) >= MAX_FRIENDS) ||
		    (both && !is_friend(c, peer, from) && friend_count(c, peer) >= MAX_FRIENDS)) {
			result(results, failed, to, 30010, "Err_SNS_FriendAdd_Friend_Num_Exceed_Threshold");
			continue;
		}
		json_t *back = json_pack("{s:s?}", "AddSource", api_str(it, "AddSource"));
		bool bad = store_friend(c, from, peer, it) || (both && !is_friend(c, peer, from) &&
							       store_friend(c, peer, from, back));
		json_decref(back);
		if (bad) {
			json_decref(results);
			json_decref(failed);
			json_decref(pairs);
			return api_fail(c, 30006, "state write failed");
		}
		result(results, failed, to, 0, "");
		json_array_append_new(pairs, json_pack("{s:s, s:s, s:s}", "From_Account", from, "To_Account", peer,
						       "Initiator_Account", from));
		if (both)
			json_array_append_new(pairs, json_pack("{s:s, s:s, s:s}", "From_Account", peer, "To_Account",
							       from, "Initiator_Account", from));
	}
	return finish_pairs(c, results, failed, "Sns.CallbackFriendAdd", pairs,
			    json_pack("{s:s, s:s, s:i}", "ClientCmd", "friend_add", "Admin_Account", c->operator_id,
				      "ForceFlag", force ? 1 : 0));
}

int api_friend_delete(struct api_ctx *c)
{
	const char *from;
	const json_t *items;
	int code = sns_from(c, &from);
	if (code || (code = sns_items(c, "To_Account", &items)))
		return code;
	const char *type = api_str(c->req, "DeleteType");
	if (json_object_get(c->req, "DeleteType") &&
	    !(type && (!strcmp(type, "Delete_Type_Single") || !strcmp(type, "Delete_Type_Both"))))
		return api_fail(c, 30001, "DeleteType must be Delete_Type_Single or Delete_Type_Both");
	/* The default is undocumented [U]: a switch, both sides unless told otherwise. */
	bool both = type ? !strcmp(type, "Delete_Type_Both") : c->sim->rules.friend_delete_both;
	json_t *results = json_array(), *failed = json_array(), *pairs = json_array();
	size_t i;
	const json_t *to;
	json_array_foreach(items, i, to) {
		const char *peer = json_string_value(to);
		if (!peer || !is_friend(c, from, peer)) {
			result(results, failed, to, 31704, "Err_SNS_FriendDelete_Not_Friend");
			continue;
		}
		db_exec(c->sim->db, "DELETE FROM friends WHERE owner = ? AND peer = ?", "ss", from, peer);
		json_array_append_new(pairs, json_pack("{s:s, s:s}", "From_Account", from, "To_Account", peer));
		if (both && is_friend(c, peer, from)) {
			db_exec(c->sim->db, "DELETE FROM friends WHERE owner = ? AND peer = ?", "ss", peer, from);
			json_array_append_new(pairs, json_pack("{s:s, s:s}", "From_Account", peer, "To_Account", from));
		}
		result(results, failed, to, 0, "");
	}
	return finish_pairs(c, results, failed, "Sns.CallbackFriendDelete", pairs, json_object());
}

int api_black_list_add(struct api_ctx *c)
{
	const char *from;
	const json_t *items;
	int code = sns_from(c, &from);
	if (code || (code = sns_items(c, "To_Account", &items)))
		return code;
	json_t *results = json_array(), *failed = json_array(), *pairs = json_array();
	size_t i;
	const json_t *to;
	json_array_foreach(items, i, to) {
		const char *peer = json_string_value(to);
		if (!peer || !strcmp(peer, from) || !api_account_exists(c, peer)) {
			result(results, failed, to, 30003, "To_Account is not an imported account");
			continue;
		}
		if (is_blocked(c, from, peer)) {
			result(results, failed, to, 30001, "Err_SNS_BlackListAdd_Already_Exist");
			continue;
		}
		if (db_int(c->sim->db, 0, "SELECT COUNT(*) FROM blacklist WHERE owner = ?", "s", from) >= MAX_BLOCKED) {
			result(results, failed, to, 30013, "Err_SNS_BlackListAdd_BlackList_Full");
			continue;
		}
		/* Blocklisting ends the friendship both ways (spec §4.4). */
		if (db_exec(c->sim->db, "INSERT INTO blacklist(owner, peer, add_time) VALUES(?, ?, ?)", "ssI", from,
			    peer, c->now) ||
		    db_exec(c->sim->db, "DELETE FROM friends WHERE (owner = ?1 AND peer = ?2) OR (owner = ?2 AND peer = ?1)",
			    "ss", from, peer)) {
			json_decref(results);
			json_decref(failed);
			json_decref(pairs);
			return api_fail(c, 30006, "state write failed");
		}
		result(results, failed, to, 0, "");
		json_array_append_new(pairs, json_pack("{s:s, s:s}", "From_Account", from, "To_Account", peer));
	}
	return finish_pairs(c, results, failed, "Sns.CallbackBlackListAdd", pairs, json_object());
}

/* black_list_delete: {From_Account, To_Account:[...]}, the inverse of black_list_add. */
int api_black_list_delete(struct api_ctx *c)
{
	const char *from;
	const json_t *items;
	int code = sns_from(c, &from);
	if (code || (code = sns_items(c, "To_Account", &items)))
		return code;
	json_t *results = json_array(), *failed = json_array(), *pairs = json_array();
	size_t i;
	const json_t *to;
	json_array_foreach(items, i, to) {
		const char *peer = json_string_value(to);
		if (!peer || !is_blocked(c, from, peer)) {
			result(results, failed, to, 30001, "Err_SNS_BlackListDelete_Not_Exist");
			continue;
		}
		if (db_exec(c->sim->db, "DELETE FROM blacklist WHERE owner = ? AND peer = ?", "ss", from, peer)) {
			json_decref(results);
			json_decref(failed);
			json_decref(pairs);
			return api_fail(c, 30006, "state write failed");
		}
		result(results, failed, to, 0, "");
		json_array_append_new(pairs, json_pack("{s:s, s:s}", "From_Account", from, "To_Account", peer));
	}
	return finish_pairs(c, results, failed, "Sns.CallbackBlackListDelete", pairs, json_object());
}

/* friend_get pages through From_Account's friends, 100 at a time from StartIndex. */
int api_friend_get(struct api_ctx *c)
{
	const char *from;
	int code = sns_from(c, &from);
	if (code)
		return code;
	const json_t *start_v = json_object_get(c->req, "StartIndex");
	if (!json_is_integer(start_v) || json_integer_value(start_v) < 0)
		return api_fail(c, 30001, "StartIndex must be a non-negative integer");
	int64_t start = json_integer_value(start_v), total = friend_count(c, from);
	sqlite3_stmt *st = db_query(c->sim->db,
				    "SELECT peer, remark, group_names, add_source, add_wording, add_time, custom"
				    " FROM friends WHERE owner = ? ORDER BY peer LIMIT 100 OFFSET ?",
				    "sI", from, start);
	json_t *out = json_array();
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *values = json_array();
		json_t *groups = db_col_json(st, 2), *custom = db_col_json(st, 6);
		if (json_is_array(groups))
			json_array_append_new(values, json_pack("{s:s, s:O}", "Tag", "Tag_SNS_IM_Group", "Value", groups));
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			json_array_append_new(values, json_pack("{s:s, s:s}", "Tag", "Tag_SNS_IM_Remark", "Value",
								db_col_text(st, 1)));
		json_array_append_new(values, json_pack("{s:s, s:s}", "Tag", "Tag_SNS_IM_AddSource", "Value",
							db_col_text(st, 3)));
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			json_array_append_new(values, json_pack("{s:s, s:s}", "Tag", "Tag_SNS_IM_AddWording", "Value",
								db_col_text(st, 4)));
		json_array_append_new(values, json_pack("{s:s, s:I}", "Tag", "Tag_SNS_IM_AddTime", "Value",
							(json_int_t)sqlite3_column_int64(st, 5)));
		size_t k;
		json_t *ci;
		json_array_foreach(custom, k, ci)
			json_array_append(values, ci);
		json_decref(groups);
		json_decref(custom);
		json_array_append_new(out, json_pack("{s:s, s:o}", "To_Account", db_col_text(st, 0), "ValueItem",
						     values));
	}
	sqlite3_finalize(st);
	int64_t next = start + (int64_t)json_array_size(out);
	json_object_set_new(c->resp, "UserDataItem", out);
	json_object_set_new(c->resp, "FriendNum", json_integer(total));
	json_object_set_new(c->resp, "CompleteFlag", json_integer(next >= total ? 1 : 0));
	json_object_set_new(c->resp, "NextStartIndex", json_integer(next >= total ? 0 : next));
	return 0;
}
