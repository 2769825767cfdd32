/* group_open_http_svc: groups and members (spec §6.1-§6.3, §6.5-§6.10, §6.12). Group
 * messages are in api_group_msg.c. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "state.h"

int api_group_load(struct api_ctx *c, struct group_row *g)
{
	const char *id = api_str(c->req, "GroupId");
	if (!id)
		return api_fail(c, 10004, "GroupId is missing or not a string");
	if (!*id || strlen(id) >= sizeof g->id)
		return api_fail(c, 10015, "GroupId is not a valid group id");
	sqlite3_stmt *st = db_query(c->sim->db,
				    "SELECT type, name, owner, create_time, next_seq, latest_msg_time, max_members"
				    " FROM groups WHERE group_id = ?",
				    "s", id);
	int code = 0;
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(g->id, sizeof g->id, "%s", id);
		snprintf(g->type_name, sizeof g->type_name, "%s", db_col_text(st, 0));
		g->type = im_rules_group_type(g->type_name);
		snprintf(g->name, sizeof g->name, "%s", db_col_text(st, 1));
		snprintf(g->owner, sizeof g->owner, "%s", db_col_text(st, 2));
		g->create_time = sqlite3_column_int64(st, 3);
		g->next_seq = sqlite3_column_int64(st, 4);
		g->latest_msg_time = sqlite3_column_int64(st, 5);
		g->max_members = sqlite3_column_int64(st, 6);
	} else {
		code = api_fail(c, 10010, "the group does not exist or was disbanded");
	}
	sqlite3_finalize(st);
	return code;
}

bool api_group_is_member(struct api_ctx *c, const char *group_id, const char *account)
{
	return account && db_int(c->sim->db, 0, "SELECT 1 FROM members WHERE group_id = ? AND account = ?", "ss",
				 group_id, account) == 1;
}

static int64_t member_count(struct api_ctx *c, const char *group_id)
{
	return db_int(c->sim->db, 0, "SELECT COUNT(*) FROM members WHERE group_id = ?", "s", group_id);
}

static int64_t message_count(struct api_ctx *c, const char *group_id)
{
	return db_int(c->sim->db, 0, "SELECT COUNT(*) FROM group_msgs WHERE group_id = ?", "s", group_id);
}

/* "@TGS#2" plus 9 characters from a counter kept in the state, like the service's
 * auto ids; Community ids get the "@TGS#_" prefix they require. */
static void new_group_id(struct api_ctx *c, enum im_group_type t, char *buf, size_t size)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	for (;;) {
		int64_t n = db_int(c->sim->db, 0, "SELECT v FROM meta WHERE k = 'group_counter'", NULL) + 1;
		db_exec(c->sim->db, "INSERT OR REPLACE INTO meta(k, v) VALUES('group_counter', ?)", "I", n);
		uint64_t x = (uint64_t)n * 0x9E3779B97F4A7C15ull;
		char tail[10];
		for (int i = 0; i < 9; i++, x >>= 5)
			tail[i] = alphabet[x & 31];
		tail[9] = '\0';
		snprintf(buf, size, "%s%s", t == IM_GROUP_COMMUNITY ? "@TGS#_@TGS#c" : "@TGS#2", tail);
		if (db_int(c->sim->db, 0, "SELECT 1 FROM groups WHERE group_id = ?", "s", buf) != 1)
			return;
	}
}

static int insert_member(struct api_ctx *c, const char *group_id, const char *account, const char *role,
			 int64_t join_time, int64_t unread, const json_t *m)
{
	return db_exec(c->sim->db,
		       "INSERT INTO members(group_id, account, role, join_time, unread, msg_flag, name_card,"
		       " app_member_defined) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
		       "sssIIssj", group_id, account, role, join_time, unread, api_str(m, "MsgFlag"),
		       api_str(m, "NameCard"), json_object_get(m, "AppMemberDefinedData"));
}

/* The shared part of import_group and create_group. Writes the new id to id. */
static int make_group(struct api_ctx *c, bool import, char *id, size_t id_size, enum im_group_type *type)
{
	const json_t *req = c->req;
	const char *type_s = api_str(req, "Type"), *owner = api_str(req, "Owner_Account");
	const json_t *gid = json_object_get(req, "GroupId"), *ct = json_object_get(req, "CreateTime");
	char why[200];
	enum im_group_type t = im_rules_group_type(type_s);
	*type = t;
	if (t == IM_GROUP_UNKNOWN)
		return api_fail(c, 10004, "Type must be Private, Public, ChatRoom, AVChatRoom or Community");
	if (import && (t == IM_GROUP_AVCHATROOM || t == IM_GROUP_BCHATROOM))
		return api_fail(c, 10007, "%s groups cannot be imported", type_s);
	int code = im_rules_group_info(req, t, true, why, sizeof why);
	if (code)
		return api_fail(c, code, "%s", why);
	if (gid && (!json_is_string(gid) || im_rules_group_id(json_string_value(gid), t, why, sizeof why)))
		return api_fail(c, 10004, "GroupId: %s", json_is_string(gid) ? why : "not a string");
	if (json_object_get(req, "Owner_Account") && !owner)
		return api_fail(c, 10004, "Owner_Account must be a string");
	if (owner && !api_account_exists(c, owner))
		return api_fail(c, 10019, "Owner_Account is not an imported account");
	int64_t create_time = c->now;
	if (import && ct) {
		if (json_integer_value(ct) > c->now || json_integer_value(ct) < 0)
			return api_fail(c, 10004, "CreateTime must be a Unix time before now");
		create_time = json_integer_value(ct);
	}
	if (gid) {
		snprintf(id, id_size, "%s", json_string_value(gid));
		if (db_int(c->sim->db, 0, "SELECT 1 FROM groups WHERE group_id = ?", "s", id) == 1)
			return api_fail(c, import ? 10021 : 10025, "GroupId %s is already in use", id);
	} else {
		new_group_id(c, t, id, id_size);
	}
	const json_t *max = json_object_get(req, "MaxMemberCount");
	if (db_exec(c->sim->db,
		    "INSERT INTO groups(group_id, type, name, owner, introduction, notification, face_url, max_members,"
		    " apply_join, app_defined, create_time, origin) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    "sssssssIsjIs", id, type_s, api_str(req, "Name"), owner, api_str(req, "Introduction"),
		    api_str(req, "Notification"), api_str(req, "FaceUrl"),
		    max ? (int64_t)json_integer_value(max) : (int64_t)2000,
		    api_str(req, "ApplyJoinOption") ? api_str(req, "ApplyJoinOption") : "NeedPermission",
		    json_object_get(req, "AppDefinedData"), create_time, import ? "import" : c->platform))
		return api_fail(c, 10002, "state write failed");
	if (owner && insert_member(c, id, owner, "Owner", create_time, 0, NULL))
		return api_fail(c, 10002, "state write failed");
	json_object_set_new(c->resp, "GroupId", json_string(id));
	return 0;
}

int api_import_group(struct api_ctx *c)
{
	char id[64];
	enum im_group_type t;
	return make_group(c, true, id, sizeof id, &t);
}

int api_create_group(struct api_ctx *c)
{
	const json_t *members = json_object_get(c->req, "MemberList");
	const char *owner = api_str(c->req, "Owner_Account");
	if (members && (!json_is_array(members)))
		return api_fail(c, 10004, "MemberList must be an array");
	if ((int)json_array_size(members) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 10005, "MemberList has %zu accounts, over 100", json_array_size(members));
	size_t i;
	const json_t *m;
	char why[200];
	json_array_foreach(members, i, m) {
		const char *acc = api_str(m, "Member_Account");
		if (!acc)
			return api_fail(c, 10004, "MemberList[%zu].Member_Account must be a string", i);
		if (im_rules_member_fields(m, false, why, sizeof why))
			return api_fail(c, 10004, "MemberList[%zu]: %s", i, why);
		if (!api_account_exists(c, acc))
			return api_fail(c, 10019, "MemberList[%zu].Member_Account is not an imported account", i);
	}
	char id[64];
	enum im_group_type t;
	int code = make_group(c, false, id, sizeof id, &t);
	if (code)
		return code;
	if (t == IM_GROUP_AVCHATROOM && json_array_size(members))
		return api_fail(c, 10007, "AVChatRoom groups take no MemberList");
	json_t *cb_members = json_array();
	if (owner)
		json_array_append_new(cb_members, json_pack("{s:s}", "Member_Account", owner));
	json_array_foreach(members, i, m) {
		const char *acc = api_str(m, "Member_Account");
		if (api_group_is_member(c, id, acc))
			continue;
		const char *role = api_str(m, "Role") && !strcmp(api_str(m, "Role"), "Admin") ? "Admin" : "Member";
		if (insert_member(c, id, acc, role, c->now, 0, m)) {
			json_decref(cb_members);
			return api_fail(c, 10002, "state write failed");
		}
		json_array_append_new(cb_members, json_pack("{s:s}", "Member_Account", acc));
	}
	if (t == IM_GROUP_COMMUNITY) {
		json_object_set_new(c->resp, "HugeGroupFlag", json_integer(1));
		json_object_set_new(c->resp, "Type", json_string("Community"));
	}
	const json_t *app = json_object_get(c->req, "AppDefinedData");
	api_callback(c, "Group.CallbackAfterCreateGroup",
		     json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:o, s:o}", "GroupId", id, "Operator_Account",
			       c->operator_id, "Owner_Account", owner, "Type", api_str(c->req, "Type"), "Name",
			       api_str(c->req, "Name"), "MemberList", cb_members, "UserDefinedDataList",
			       app ? json_incref((json_t *)app) : json_array(), "EventTime", api_event_time(c)));
	return 0;
}

/* JoinTime must lie after the group's creation and before now (spec §6.3). */
static bool join_time_ok(const struct group_row *g, const json_t *jt, int64_t now)
{
	return !jt || (json_integer_value(jt) > g->create_time && json_integer_value(jt) < now);
}

int api_import_group_member(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	if (g.type == IM_GROUP_AVCHATROOM)
		return api_fail(c, 10007, "AVChatRoom groups take no member import");
	const json_t *list = json_object_get(c->req, "MemberList");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return api_fail(c, 10004, "MemberList must be a non-empty array");
	if ((int)json_array_size(list) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 10005, "MemberList has %zu accounts, over %d", json_array_size(list),
				im_rules_batch_max(&c->sim->rules, c->api));
	int64_t msgs = message_count(c, g.id);
	json_t *out = json_array();
	size_t i;
	const json_t *m;
	json_array_foreach(list, i, m) {
		const char *acc = api_str(m, "Member_Account");
		const json_t *jt = json_object_get(m, "JoinTime");
		char why[200];
		int result;
		if (!acc || im_rules_member_fields(m, true, why, sizeof why) || !api_account_exists(c, acc) ||
		    !join_time_ok(&g, jt, c->now)) {
			result = 0;
		} else if (api_group_is_member(c, g.id, acc)) {
			result = 2;
		} else if (member_count(c, g.id) >= g.max_members) {
			result = 0;
		} else {
			int64_t unread = json_integer_value(json_object_get(m, "UnreadMsgNum"));
			/* Clamped to the messages the group has; rooms keep no unread counts. */
			unread = !im_rules_group_has_unread(g.type) || unread < 0 ? 0 : unread > msgs ? msgs : unread;
			if (insert_member(c, g.id, acc, api_str(m, "Role") ? "Admin" : "Member",
					  jt ? json_integer_value(jt) : c->now, unread, m)) {
				json_decref(out);
				return api_fail(c, 10002, "state write failed");
			}
			result = 1;
		}
		json_array_append_new(out, json_pack("{s:O?, s:i}", "Member_Account", json_object_get(m, "Member_Account"),
						     "Result", result));
	}
	json_object_set_new(c->resp, "MemberList", out);
	return 0;
}

int api_set_unread_msg_num(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	const char *acc = api_str(c->req, "Member_Account");
	const json_t *n = json_object_get(c->req, "UnreadMsgNum");
	if (!acc || !json_is_integer(n) || json_integer_value(n) < 0)
		return api_fail(c, 10004, "Member_Account (string) and UnreadMsgNum (integer >= 0) are required");
	if (g.type == IM_GROUP_AVCHATROOM)
		return api_fail(c, 10007, "AVChatRoom groups have no unread counts");
	if (!api_group_is_member(c, g.id, acc))
		return api_fail(c, 10004, "Member_Account is not a member of the group");
	if (!im_rules_group_has_unread(g.type))
		return 0;	/* the call "succeeds" with no effect (spec §6.5) */
	int64_t msgs = message_count(c, g.id), v = json_integer_value(n);
	if (db_exec(c->sim->db, "UPDATE members SET unread = ? WHERE group_id = ? AND account = ?", "Iss",
		    v > msgs ? msgs : v, g.id, acc))
		return api_fail(c, 10002, "state write failed");
	return 0;
}

static json_t *group_info(struct api_ctx *c, const char *id)
{
	sqlite3_stmt *st = db_query(c->sim->db,
				    "SELECT type, name, owner, introduction, notification, face_url, max_members,"
				    " apply_join, app_defined, create_time, next_seq, mute_all FROM groups WHERE group_id = ?",
				    "s", id);
	json_t *info;
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *app = db_col_json(st, 8);
		info = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:o, s:s}",
				 "GroupId", id, "ErrorCode", 0, "ErrorInfo", "", "Type", db_col_text(st, 0), "Name",
				 db_col_text(st, 1), "Owner_Account", db_col_text(st, 2), "Introduction",
				 db_col_text(st, 3), "Notification", db_col_text(st, 4), "FaceUrl", db_col_text(st, 5),
				 "MaxMemberNum", (json_int_t)sqlite3_column_int64(st, 6), "CreateTime",
				 (json_int_t)sqlite3_column_int64(st, 9), "NextMsgSeq",
				 (json_int_t)sqlite3_column_int64(st, 10), "ApplyJoinOption", db_col_text(st, 7),
				 "MemberNum", (json_int_t)member_count(c, id), "AppDefinedData",
				 json_is_array(app) ? json_incref(app) : json_array(), "MuteAllMember",
				 *db_col_text(st, 11) ? db_col_text(st, 11) : "Off");
		json_decref(app);
	} else {
		info = json_pack("{s:s, s:i, s:s}", "GroupId", id, "ErrorCode", 10010, "ErrorInfo",
				 "the group does not exist or was disbanded");
	}
	sqlite3_finalize(st);
	return info;
}

int api_get_group_info(struct api_ctx *c)
{
	const json_t *ids = json_object_get(c->req, "GroupIdList");
	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    (int)json_array_size(ids) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 10004, "GroupIdList must be an array of 1-50 group ids");
	json_t *out = json_array();
	size_t i;
	const json_t *id;
	json_array_foreach(ids, i, id) {
		if (!json_is_string(id)) {
			json_array_append_new(out, json_pack("{s:O, s:i, s:s}", "GroupId", id, "ErrorCode", 10015,
							     "ErrorInfo", "GroupId is not a string"));
			continue;
		}
		json_array_append_new(out, group_info(c, json_string_value(id)));
	}
	json_object_set_new(c->resp, "GroupInfo", out);
	return 0;
}

int api_get_group_member_info(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	const json_t *limit = json_object_get(c->req, "Limit"), *offset = json_object_get(c->req, "Offset");
	if ((limit && (!json_is_integer(limit) || json_integer_value(limit) < 0)) ||
	    (offset && (!json_is_integer(offset) || json_integer_value(offset) < 0)))
		return api_fail(c, 10004, "Limit and Offset must be non-negative integers");
	int64_t lim = limit && json_integer_value(limit) ? json_integer_value(limit) : -1;
	sqlite3_stmt *st = db_query(c->sim->db,
				    "SELECT account, role, join_time, unread, msg_flag, name_card, app_member_defined,"
				    " mute_until FROM members WHERE group_id = ? ORDER BY join_time, account"
				    " LIMIT ? OFFSET ?",
				    "sII", g.id, lim, offset ? (int64_t)json_integer_value(offset) : (int64_t)0);
	json_t *out = json_array();
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *app = db_col_json(st, 6);
		json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:I}", "Member_Account",
						     db_col_text(st, 0), "Role", db_col_text(st, 1), "JoinTime",
						     (json_int_t)sqlite3_column_int64(st, 2), "UnreadMsgNum",
						     (json_int_t)sqlite3_column_int64(st, 3), "MsgFlag",
						     *db_col_text(st, 4) ? db_col_text(st, 4) : "AcceptAndNotify",
						     "NameCard", db_col_text(st, 5), "AppMemberDefinedData",
						     json_is_array(app) ? json_incref(app) : json_array(),
						     "ShutUpUntil", (json_int_t)sqlite3_column_int64(st, 7)));
		json_decref(app);
	}
	sqlite3_finalize(st);
	json_object_set_new(c->resp, "MemberNum", json_integer(member_count(c, g.id)));
	json_object_set_new(c->resp, "MemberList", out);
	return 0;
}

/* AppDefinedData updates merge by Key; an empty Value deletes the key (spec §6.7). */
static json_t *merge_app_data(struct api_ctx *c, const char *group_id, const json_t *updates)
{
	sqlite3_stmt *st = db_query(c->sim->db, "SELECT app_defined FROM groups WHERE group_id = ?", "s", group_id);
	json_t *merged = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		merged = db_col_json(st, 0);
	sqlite3_finalize(st);
	if (!json_is_array(merged)) {
		json_decref(merged);
		merged = json_array();
	}
	size_t i, k;
	const json_t *u;
	json_array_foreach(updates, i, u) {
		const char *key = api_str(u, "Key"), *value = api_str(u, "Value");
		json_t *kv;
		json_array_foreach(merged, k, kv)
			if (!strcmp(api_str(kv, "Key"), key)) {
				json_array_remove(merged, k);
				break;
			}
		if (*value)
			json_array_append_new(merged, json_pack("{s:s, s:s}", "Key", key, "Value", value));
	}
	return merged;
}

int api_modify_group_base_info(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	char why[200];
	if ((code = im_rules_group_info(c->req, g.type, false, why, sizeof why)))
		return api_fail(c, code, "%s", why);
	static const struct {
		const char *field, *column;
		bool notify;	/* fires Group.CallbackAfterGroupInfoChanged */
	} fields[] = {
		{"Name", "name", true},		{"Introduction", "introduction", true},
		{"Notification", "notification", true}, {"FaceUrl", "face_url", true},
		{"ApplyJoinOption", "apply_join", false}, {"MuteAllMember", "mute_all", false},
	};
	json_t *changed = json_pack("{s:s, s:s, s:s, s:o}", "GroupId", g.id, "Type", g.type_name, "Operator_Account",
				    c->operator_id, "EventTime", api_event_time(c));
	bool notify = false;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		const char *v = api_str(c->req, fields[i].field);
		if (!v)
			continue;
		char sql[160];
		snprintf(sql, sizeof sql, "SELECT %s IS NOT ? FROM groups WHERE group_id = ?", fields[i].column);
		bool differs = db_int(c->sim->db, 1, sql, "ss", v, g.id) == 1;
		snprintf(sql, sizeof sql, "UPDATE groups SET %s = ? WHERE group_id = ?", fields[i].column);
		if (db_exec(c->sim->db, sql, "ss", v, g.id)) {
			json_decref(changed);
			return api_fail(c, 10002, "state write failed");
		}
		if (differs && fields[i].notify) {
			json_object_set_new(changed, fields[i].field, json_string(v));
			notify = true;
		}
	}
	const json_t *max = json_object_get(c->req, "MaxMemberNum");
	const json_t *app = json_object_get(c->req, "AppDefinedData");
	if (max && g.type != IM_GROUP_AVCHATROOM)
		db_exec(c->sim->db, "UPDATE groups SET max_members = ? WHERE group_id = ?", "Is",
			(int64_t)json_integer_value(max), g.id);
	if (app) {
		json_t *merged = merge_app_data(c, g.id, app);
		db_exec(c->sim->db, "UPDATE groups SET app_defined = ? WHERE group_id = ?", "js", merged, g.id);
		json_decref(merged);
	}
	if (notify)
		api_callback(c, "Group.CallbackAfterGroupInfoChanged", changed);
	else
		json_decref(changed);
	return 0;
}

int api_add_group_member(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	if (g.type == IM_GROUP_AVCHATROOM)
		return api_fail(c, 10007, "AVChatRoom members join by themselves");
	const json_t *list = json_object_get(c->req, "MemberList"), *silence = json_object_get(c->req, "Silence");
	if (silence && !json_is_integer(silence))
		return api_fail(c, 10004, "Silence must be an integer");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return api_fail(c, 10004, "MemberList must be a non-empty array");
	if ((int)json_array_size(list) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 10005, "MemberList has %zu accounts, over %d", json_array_size(list),
				im_rules_batch_max(&c->sim->rules, c->api));
	json_t *out = json_array(), *joined = json_array();
	size_t i;
	const json_t *m;
	json_array_foreach(list, i, m) {
		const char *acc = api_str(m, "Member_Account");
		int result;
		if (!acc || !api_account_exists(c, acc))
			result = 0;
		else if (api_group_is_member(c, g.id, acc))
			result = 2;
		else if (member_count(c, g.id) >= g.max_members)
			result = 0;
		else if (insert_member(c, g.id, acc, "Member", c->now, 0, NULL)) {
			json_decref(out);
			json_decref(joined);
			return api_fail(c, 10002, "state write failed");
		} else {
			result = 1;
			json_array_append_new(joined, json_pack("{s:s}", "Member_Account", acc));
		}
		json_array_append_new(out, json_pack("{s:O?, s:i}", "Member_Account", json_object_get(m, "Member_Account"),
						     "Result", result));
	}
	json_object_set_new(c->resp, "MemberList", out);
	if (json_array_size(joined))
		api_callback(c, "Group.CallbackAfterNewMemberJoin",
			     json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "GroupId", g.id, "Type", g.type_name, "JoinType",
				       "Invited", "Operator_Account", c->operator_id, "NewMemberList", joined,
				       "EventTime", api_event_time(c)));
	else
		json_decref(joined);
	return 0;
}

int api_delete_group_member(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	const json_t *list = json_object_get(c->req, "MemberToDel_Account");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return api_fail(c, 10004, "MemberToDel_Account must be a non-empty array");
	if ((int)json_array_size(list) > im_rules_batch_max(&c->sim->rules, c->api))
		return api_fail(c, 10005, "MemberToDel_Account has %zu accounts, over %d", json_array_size(list),
				im_rules_batch_max(&c->sim->rules, c->api));
	size_t i;
	const json_t *m;
	json_array_foreach(list, i, m) {
		if (!json_is_string(m))
			return api_fail(c, 10004, "MemberToDel_Account[%zu] is not a string", i);
		if (*g.owner && !strcmp(json_string_value(m), g.owner))
			return api_fail(c, 10004, "the owner cannot be removed; change the owner first");
	}
	json_t *exited = json_array();
	json_array_foreach(list, i, m) {
		/* Removing a non-member succeeds silently (spec §6.9). */
		if (!api_group_is_member(c, g.id, json_string_value(m)))
			continue;
		db_exec(c->sim->db, "DELETE FROM members WHERE group_id = ? AND account = ?", "ss", g.id,
			json_string_value(m));
		json_array_append_new(exited, json_pack("{s:O}", "Member_Account", m));
	}
	if (json_array_size(exited))
		api_callback(c, "Group.CallbackAfterMemberExit",
			     json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "GroupId", g.id, "Type", g.type_name, "ExitType",
				       "Kicked", "Operator_Account", c->operator_id, "ExitMemberList", exited,
				       "EventTime", api_event_time(c)));
	else
		json_decref(exited);
	return 0;
}

#define MEMBER_UPDATE "UPDATE members SET %s = ? WHERE group_id = ? AND account = ?"

int api_modify_group_member_info(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	const char *acc = api_str(c->req, "Member_Account"), *role = api_str(c->req, "Role");
	const json_t *mute = json_object_get(c->req, "MuteTime");
	char why[200];
	if (g.type == IM_GROUP_AVCHATROOM)
		return api_fail(c, 10007, "AVChatRoom members have no member profile");
	if (!acc)
		return api_fail(c, 10004, "Member_Account is missing or not a string");
	if (im_rules_member_fields(c->req, false, why, sizeof why))
		return api_fail(c, 10004, "%s", why);
	if (!api_group_is_member(c, g.id, acc))
		return api_fail(c, 10004, "Member_Account is not a member of the group");
	if (role && !strcmp(acc, g.owner))
		return api_fail(c, 10004, "the owner's role changes only with change_group_owner");
	if (mute && g.type == IM_GROUP_PRIVATE)
		return api_fail(c, 10004, "MuteTime does not apply to Private groups");
	int bad = 0;
	char q[160];
	static const char *const text_fields[][2] = {{"Role", "role"}, {"MsgFlag", "msg_flag"}, {"NameCard", "name_card"}};
	for (size_t i = 0; i < 3; i++) {
		const char *v = api_str(c->req, text_fields[i][0]);
		if (!v)
			continue;
		snprintf(q, sizeof q, MEMBER_UPDATE, text_fields[i][1]);
		bad |= db_exec(c->sim->db, q, "sss", v, g.id, acc);
	}
	if (json_object_get(c->req, "AppMemberDefinedData")) {
		snprintf(q, sizeof q, MEMBER_UPDATE, "app_member_defined");
		bad |= db_exec(c->sim->db, q, "jss", json_object_get(c->req, "AppMemberDefinedData"), g.id, acc);
	}
	if (mute) {
		snprintf(q, sizeof q, MEMBER_UPDATE, "mute_until");
		int64_t secs = json_integer_value(mute);
		bad |= db_exec(c->sim->db, q, "Iss", secs > 0 ? c->now + secs : (int64_t)0, g.id, acc);
	}
	return bad ? api_fail(c, 10002, "state write failed") : 0;
}

int api_destroy_group(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	json_t *members = json_array();
	sqlite3_stmt *st = db_query(c->sim->db, "SELECT account FROM members WHERE group_id = ? ORDER BY join_time",
				    "s", g.id);
	while (st && sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(members, json_pack("{s:s}", "Member_Account", db_col_text(st, 0)));
	sqlite3_finalize(st);
	int bad = db_exec(c->sim->db, "DELETE FROM groups WHERE group_id = ?", "s", g.id) |
		  db_exec(c->sim->db, "DELETE FROM members WHERE group_id = ?", "s", g.id) |
		  db_exec(c->sim->db, "DELETE FROM group_msgs WHERE group_id = ?", "s", g.id);
	if (bad) {
		json_decref(members);
		return api_fail(c, 10002, "state write failed");
	}
	json_t *cb = json_pack("{s:s, s:s, s:s, s:s, s:o}", "GroupId", g.id, "Type", g.type_name, "Owner_Account",
			       g.owner, "Name", g.name, "EventTime", api_event_time(c));
	/* Community callbacks carry no member list (spec §7.2). */
	if (cb && g.type != IM_GROUP_COMMUNITY)
		json_object_set_new(cb, "MemberList", members);
	else
		json_decref(members);
	api_callback(c, "Group.CallbackAfterGroupDestroyed", cb);
	return 0;
}

int api_change_group_owner(struct api_ctx *c)
{
	struct group_row g;
	int code = api_group_load(c, &g);
	if (code)
		return code;
	const char *new_owner = api_str(c->req, "NewOwner_Account");
	if (g.type == IM_GROUP_AVCHATROOM)
		return api_fail(c, 10007, "AVChatRoom groups cannot change owner");
	if (!new_owner)
		return api_fail(c, 10004, "NewOwner_Account is missing or not a string");
	if (!api_group_is_member(c, g.id, new_owner))
		return api_fail(c, 10004, "NewOwner_Account must already be a member");
	int bad = db_exec(c->sim->db, "UPDATE members SET role = 'Member' WHERE group_id = ? AND role = 'Owner'", "s",
			  g.id) |
		  db_exec(c->sim->db, "UPDATE members SET role = 'Owner' WHERE group_id = ? AND account = ?", "ss", g.id,
			  new_owner) |
		  db_exec(c->sim->db, "UPDATE groups SET owner = ? WHERE group_id = ?", "ss", new_owner, g.id);
	if (bad)
		return api_fail(c, 10002, "state write failed");
	/* The payload of this callback is undocumented [U]; these are the fields a sync needs. */
	api_callback(c, "Group.CallbackAfterChangeGroupOwner",
		     json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "GroupId", g.id, "Type", g.type_name, "Operator_Account",
			       c->operator_id, "NewOwner_Account", new_owner, "OldOwner_Account", g.owner, "EventTime",
			       api_event_time(c)));
	return 0;
}
