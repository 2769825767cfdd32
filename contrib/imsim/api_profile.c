/* profile: portrait_set, portrait_get (spec §3.5-§3.7). */
#include "config.h"

#include <string.h>

#include "api.h"
#include "state.h"

int api_portrait_set(struct api_ctx *c)
{
	const json_t *from = json_object_get(c->req, "From_Account");
	const json_t *items = json_object_get(c->req, "ProfileItem");
	if (!json_is_string(from))
		return api_fail(c, 40001, "From_Account must be a string");
	if (!json_is_array(items) || json_array_size(items) == 0)
		return api_fail(c, 40001, "ProfileItem must be a non-empty array");
	const char *id = json_string_value(from);
	if (!api_account_exists(c, id))
		return api_fail(c, 40003, "From_Account is not an imported account");
	size_t i;
	const json_t *it;
	/* All items are checked before any is written: a bad item fails the whole call. */
	json_array_foreach(items, i, it) {
		char why[200];
		int code = im_rules_profile_item(it, why, sizeof why);
		if (code)
			return api_fail(c, code, "ProfileItem[%zu]: %s", i, why);
	}
	json_array_foreach(items, i, it) {
		if (db_exec(c->sim->db, "INSERT OR REPLACE INTO profiles(user_id, tag, value) VALUES(?, ?, ?)", "ssj",
			    id, api_str(it, "Tag"), json_object_get(it, "Value")))
			return api_fail(c, 40006, "state write failed");
	}
	api_callback(c, "Profile.CallbackPortraitSet",
		     json_pack("{s:s, s:s, s:o, s:O}", "Operator_Account", c->operator_id, "From_Account", id,
			       "EventTime", api_event_time(c), "ProfileItem", items));
	return 0;
}

int api_portrait_get(struct api_ctx *c)
{
	const json_t *to = json_object_get(c->req, "To_Account");
	const json_t *tags = json_object_get(c->req, "TagList");
	if (!to)
		return api_fail(c, 40002, "To_Account is missing");
	if (!json_is_array(to) || json_array_size(to) == 0 || json_array_size(to) > 100)
		return api_fail(c, 40001, "To_Account must be an array of 1-100 accounts");
	if (!json_is_array(tags) || json_array_size(tags) == 0)
		return api_fail(c, 40001, "TagList must be a non-empty array");
	size_t i, k;
	const json_t *it, *tag;
	json_array_foreach(tags, k, tag) {
		json_t *probe = json_pack("{s:O, s:s}", "Tag", tag, "Value", "");
		char why[200];
		int code = json_is_string(tag) ? im_rules_profile_item(probe, why, sizeof why) : 40001;
		json_decref(probe);
		if (code == 40009 || code == 40001)
			return api_fail(c, code, "TagList[%zu] is not a profile tag", k);
	}
	json_t *out = json_array(), *failed = json_array();
	json_array_foreach(to, i, it) {
		const char *id = json_string_value(it);
		if (!id || !api_account_exists(c, id)) {
			json_array_append_new(out, json_pack("{s:O, s:i, s:s}", "To_Account", it, "ResultCode", 40003,
							     "ResultInfo", "Err_Profile_Account_Not_Exist"));
			json_array_append(failed, (json_t *)it);
			continue;
		}
		json_t *profile = json_array();
		json_array_foreach(tags, k, tag) {
			sqlite3_stmt *st = db_query(c->sim->db, "SELECT value FROM profiles WHERE user_id = ? AND tag = ?",
						    "ss", id, json_string_value(tag));
			if (st && sqlite3_step(st) == SQLITE_ROW)
				json_array_append_new(profile, json_pack("{s:O, s:o}", "Tag", tag, "Value",
									 db_col_json(st, 0)));
			sqlite3_finalize(st);
		}
		json_array_append_new(out, json_pack("{s:s, s:o, s:i, s:s}", "To_Account", id, "ProfileItem", profile,
						     "ResultCode", 0, "ResultInfo", ""));
	}
	json_object_set_new(c->resp, "UserProfileItem", out);
	if (json_array_size(failed))
		json_object_set_new(c->resp, "Fail_Account", failed);
	else
		json_decref(failed);
	return 0;
}
