/* im_open_login_svc: account_import, multiaccount_import, account_check, account_delete
 * (spec §3.1-§3.4). */
#include "config.h"

#include <string.h>

#include "api.h"
#include "state.h"

/* Imports id (idempotent) and, when given, stores nick/face as their profile tags. */
static int import_one(struct api_ctx *c, const char *id, const json_t *nick, const json_t *face)
{
	if (db_exec(c->sim->db, "INSERT OR IGNORE INTO accounts(user_id, imported_at) VALUES(?, ?)", "sI", id,
		    c->now))
		return -1;
	const char *sql = "INSERT OR REPLACE INTO profiles(user_id, tag, value) VALUES(?, ?, ?)";
	if (nick && db_exec(c->sim->db, sql, "ssj", id, "Tag_Profile_IM_Nick", nick))
		return -1;
	if (face && db_exec(c->sim->db, sql, "ssj", id, "Tag_Profile_IM_Image", face))
		return -1;
	return 0;
}

/* Nick and FaceUrl are profile strings of at most 500 bytes (40601 beyond). */
static int check_nick_face(struct api_ctx *c, const json_t *obj, const json_t **nick, const json_t **face)
{
	*nick = json_object_get(obj, "Nick");
	*face = json_object_get(obj, "FaceUrl");
	if ((*nick && !json_is_string(*nick)) || (*face && !json_is_string(*face)))
		return api_fail(c, 70402, "Nick and FaceUrl must be strings");
	if ((*nick && json_string_length(*nick) > 500) || (*face && json_string_length(*face) > 500))
		return api_fail(c, 40601, "Nick or FaceUrl is over 500 bytes");
	return 0;
}

int api_account_import(struct api_ctx *c)
{
	const json_t *id = json_object_get(c->req, "UserID");
	if (!id && c->sim->rules.legacy_identifier)
		id = json_object_get(c->req, "Identifier");
	char why[160];
	if (!id)
		return api_fail(c, 70402, "UserID is required");
	if (!json_is_string(id))
		return api_fail(c, 60015, "UserID must be a JSON string");
	if (im_rules_user_id(id, why, sizeof why))
		return api_fail(c, 70402, "%s", why);
	const json_t *nick, *face;
	int code = check_nick_face(c, c->req, &nick, &face);
	if (code)
		return code;
	if (import_one(c, json_string_value(id), nick, face))
		return api_fail(c, 70500, "state write failed");
	return 0;
}

int api_multiaccount_import(struct api_ctx *c)
{
	const json_t *old = json_object_get(c->req, "Accounts"), *list = json_object_get(c->req, "AccountList");
	const json_t *items = list ? list : old;
	if (!items || (old && list))
		return api_fail(c, 70402, "give either Accounts or AccountList");
	if (!json_is_array(items))
		return api_fail(c, 70402, "%s must be an array", list ? "AccountList" : "Accounts");
	if (json_array_size(items) == 0 || json_array_size(items) > 100)
		return api_fail(c, 70206, "%zu accounts in one call; 1-100 allowed", json_array_size(items));
	json_t *failed = json_array();
	size_t i;
	const json_t *it;
	json_array_foreach(items, i, it) {
		const json_t *id = list ? json_object_get(it, "UserID") : it;
		const json_t *nick = NULL, *face = NULL;
		char why[160];
		bool bad = im_rules_user_id(id, why, sizeof why) != 0;
		if (!bad && list) {
			struct api_ctx probe = *c;
			bad = check_nick_face(&probe, it, &nick, &face) != 0;
		}
		if (bad || import_one(c, json_string_value(id), nick, face)) {
			/* An account that is not even a string cannot be named back. */
			if (json_is_string(id))
				json_array_append(failed, (json_t *)id);
		}
	}
	json_object_set_new(c->resp, "FailAccounts", failed);
	return 0;
}

/* CheckItem / DeleteItem: [{UserID}] with 1-100 entries. */
static int item_list(struct api_ctx *c, const char *field, const json_t **items)
{
	*items = json_object_get(c->req, field);
	if (!json_is_array(*items))
		return api_fail(c, 70402, "%s must be an array of {UserID}", field);
	if (json_array_size(*items) == 0 || json_array_size(*items) > 100)
		return api_fail(c, 70206, "%zu items in one call; 1-100 allowed", json_array_size(*items));
	return 0;
}

int api_account_check(struct api_ctx *c)
{
	const json_t *items;
	int code = item_list(c, "CheckItem", &items);
	if (code)
		return code;
	json_t *result = json_array();
	size_t i;
	const json_t *it;
	json_array_foreach(items, i, it) {
		const json_t *id = json_object_get(it, "UserID");
		char why[160];
		if (im_rules_user_id(id, why, sizeof why)) {
			json_array_append_new(result, json_pack("{s:O?, s:i, s:s}", "UserID", id, "ResultCode", 70402,
								"ResultInfo", why));
			continue;
		}
		bool exists = api_account_exists(c, json_string_value(id));
		json_array_append_new(result, json_pack("{s:O, s:i, s:s, s:s}", "UserID", id, "ResultCode", 0,
							"ResultInfo", "", "AccountStatus",
							exists ? "Imported" : "NotImported"));
	}
	json_object_set_new(c->resp, "ResultItem", result);
	return 0;
}

int api_account_delete(struct api_ctx *c)
{
	const json_t *items;
	int code = item_list(c, "DeleteItem", &items);
	if (code)
		return code;
	json_t *result = json_array();
	size_t i;
	const json_t *it;
	json_array_foreach(items, i, it) {
		const json_t *idv = json_object_get(it, "UserID");
		const char *id = json_string_value(idv);
		if (!id || !api_account_exists(c, id)) {
			json_array_append_new(result, json_pack("{s:O?, s:i, s:s}", "UserID", idv, "ResultCode", 70107,
								"ResultInfo",
								"Err_TLS_PT_Open_Login_Account_Not_Exist"));
			continue;
		}
		/* Deleting removes the relationship chain and the profile too (spec §3.4). */
		static const char *const sql[] = {
			"DELETE FROM accounts WHERE user_id = ?1",
			"DELETE FROM profiles WHERE user_id = ?1",
			"DELETE FROM friends WHERE owner = ?1 OR peer = ?1",
			"DELETE FROM blacklist WHERE owner = ?1 OR peer = ?1",
		};
		for (size_t k = 0; k < sizeof sql / sizeof sql[0]; k++)
			if (db_exec(c->sim->db, sql[k], "s", id))
				return api_fail(c, 70500, "state write failed");
		json_array_append_new(result, json_pack("{s:s, s:i, s:s}", "UserID", id, "ResultCode", 0,
							"ResultInfo", ""));
	}
	json_object_set_new(c->resp, "ResultItem", result);
	return 0;
}
