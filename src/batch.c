/* Request bodies and per-item results for the import APIs (spec §3-§6). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#define BIT(k) (1u << (k))

static const struct im_kind_info kinds[IM_KIND_COUNT] = {
	[IM_KIND_ACCOUNT] = {IM_KIND_ACCOUNT, "account", "im_open_login_svc", "multiaccount_import", 100, NULL, 0},
	[IM_KIND_PROFILE] = {IM_KIND_PROFILE, "profile", "profile", "portrait_set", 1, NULL, BIT(IM_KIND_ACCOUNT)},
	/* Same-user friend writes conflict (30008): one call in flight per From_Account. */
	[IM_KIND_FRIEND] = {IM_KIND_FRIEND, "friend", "sns", "friend_import", 1000, "From_Account",
			    BIT(IM_KIND_ACCOUNT)},
	/* Blocklisting removes a friendship: it must come after the friends it may cancel. */
	[IM_KIND_BLACKLIST] = {IM_KIND_BLACKLIST, "blacklist", "sns", "black_list_add", 1000, "From_Account",
			       BIT(IM_KIND_ACCOUNT) | BIT(IM_KIND_FRIEND)},
	[IM_KIND_GROUP] = {IM_KIND_GROUP, "group", "group_open_http_svc", "import_group", 1, NULL,
			   BIT(IM_KIND_ACCOUNT)},
	[IM_KIND_GROUP_MEMBER] = {IM_KIND_GROUP_MEMBER, "group_member", "group_open_http_svc",
				  "import_group_member", 300, "GroupId", BIT(IM_KIND_ACCOUNT) | BIT(IM_KIND_GROUP)},
	/* Ordered per group: each call must come after the group's latest message. */
	[IM_KIND_GROUP_MSG] = {IM_KIND_GROUP_MSG, "group_msg", "group_open_http_svc", "import_group_msg",
			       IM_GROUP_MSG_MAX_DEFAULT, "GroupId",
			       BIT(IM_KIND_ACCOUNT) | BIT(IM_KIND_GROUP) | BIT(IM_KIND_GROUP_MEMBER)},
	/* import_group_msg zeroes every member's unread count: unread counts go last. */
	[IM_KIND_GROUP_UNREAD] = {IM_KIND_GROUP_UNREAD, "group_unread", "group_open_http_svc",
				  "set_unread_msg_num", 1, NULL,
				  BIT(IM_KIND_GROUP) | BIT(IM_KIND_GROUP_MEMBER) | BIT(IM_KIND_GROUP_MSG)},
	[IM_KIND_C2C_MSG] = {IM_KIND_C2C_MSG, "c2c_msg", "openim", "importmsg", 1, "", BIT(IM_KIND_ACCOUNT)},
	/* A read mark waits for its own conversation's messages only. */
	[IM_KIND_C2C_READ] = {IM_KIND_C2C_READ, "c2c_read", "openim", "admin_set_msg_read", 1, NULL,
			      BIT(IM_KIND_ACCOUNT) | BIT(IM_KIND_C2C_MSG), BIT(IM_KIND_C2C_MSG)},
};

const struct im_kind_info *im_kind_info(enum im_kind kind)
{
	return &kinds[kind];
}

/* A copy of the record's REST fields: without "kind", "_" annotations and the
 * fields listed in drop (which the body carries once at the top level). */
static json_t *item_fields(const json_t *rec, const char *drop)
{
	json_t *item = json_object();
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)rec, key, val) {
		if (strcmp(key, "kind") == 0 || key[0] == '_' || (drop && strcmp(key, drop) == 0))
			continue;
		json_object_set(item, key, val);
	}
	return item;
}

static const char *str_field(const json_t *rec, const char *name)
{
	return json_string_value(json_object_get(rec, name));
}

static int need_str(const json_t *rec, const char *name, char *err, size_t err_size)
{
	if (str_field(rec, name))
		return 0;
	snprintf(err, err_size, "record has no string %s", name);
	return -1;
}

/* Indexes of group messages in ascending SendTime, stable: an insertion sort over
 * at most a few dozen records. Returns NULL when out of memory. */
static size_t *send_time_order(json_t *const *v, size_t n)
{
	size_t *idx = malloc(n * sizeof *idx);
	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_int_t t = json_integer_value(json_object_get(v[i], "SendTime"));
		size_t j = i;
		while (j > 0 && json_integer_value(json_object_get(v[idx[j - 1]], "SendTime")) > t) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	return idx;
}

static json_t *list_body(const char *top, const char *top_value, const char *list, json_t *items)
{
	json_t *body = json_object();
	json_object_set_new(body, top, json_string(top_value));
	json_object_set_new(body, list, items);
	return body;
}

json_t *im_batch_body(enum im_kind kind, json_t *const *records, size_t n, char *err, size_t err_size)
{
	const struct im_kind_info *ki = &kinds[kind];
	if (n == 0 || (ki->max_items == 1 && n != 1)) {
		snprintf(err, err_size, "%s takes %s record%s per call, not %zu", ki->command,
			 ki->max_items == 1 ? "one" : "at least one", ki->max_items == 1 ? "" : "s", n);
		return NULL;
	}
	const char *conv = NULL;
	if (ki->conv_field && *ki->conv_field) {
		if (need_str(records[0], ki->conv_field, err, err_size) < 0)
			return NULL;
		conv = str_field(records[0], ki->conv_field);
		for (size_t i = 1; i < n; i++) {
			const char *c = str_field(records[i], ki->conv_field);
			if (!c || strcmp(c, conv) != 0) {
				snprintf(err, err_size, "records of one %s call must share %s", ki->command,
					 ki->conv_field);
				return NULL;
			}
		}
	}
	json_t *items;
	switch (kind) {
	case IM_KIND_ACCOUNT:
		items = json_array();
		for (size_t i = 0; i < n; i++) {
			if (need_str(records[i], "UserID", err, err_size) < 0) {
				json_decref(items);
				return NULL;
			}
			json_array_append_new(items, item_fields(records[i], NULL));
		}
		/* The AccountList form, so Nick and FaceUrl travel with the account. */
		json_t *body = json_object();
		json_object_set_new(body, "AccountList", items);
		return body;
	case IM_KIND_FRIEND:
		items = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(items, item_fields(records[i], "From_Account"));
		return list_body("From_Account", conv, "AddFriendItem", items);
	case IM_KIND_BLACKLIST:
		items = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *to = json_object_get(records[i], "To_Account");
			if (!json_is_string(to)) {
				json_decref(items);
				snprintf(err, err_size, "record has no string To_Account");
				return NULL;
			}
			json_array_append(items, to);
		}
		return list_body("From_Account", conv, "To_Account", items);
	case IM_KIND_GROUP_MEMBER:
		items = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(items, item_fields(records[i], "GroupId"));
		return list_body("GroupId", conv, "MemberList", items);
	case IM_KIND_GROUP_MSG: {
		size_t *order = send_time_order(records, n);
		if (!order) {
			snprintf(err, err_size, "out of memory");
			return NULL;
		}
		items = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(items, item_fields(records[order[i]], "GroupId"));
		free(order);
		return list_body("GroupId", conv, "MsgList", items);
	}
	case IM_KIND_C2C_MSG: {
		json_t *msg = json_object();
		/* 2 = history: counted as read and not pushed to devices (spec §5.2). */
		json_object_set_new(msg, "SyncFromOldSystem", json_integer(2));
		json_t *f = item_fields(records[0], NULL);
		json_object_update(msg, f);
		json_decref(f);
		return msg;
	}
	case IM_KIND_C2C_READ: {
		json_t *b = item_fields(records[0], NULL);
		json_t *t = json_object_get(b, "MsgReadTime");
		/* Both doc versions type MsgReadTime as a string; a number is [U]. Same value. */
		if (json_is_integer(t)) {
			char num[24];
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(t));
			json_object_set_new(b, "MsgReadTime", json_string(num));
		}
		return b;
	}
	case IM_KIND_PROFILE:
	case IM_KIND_GROUP:
	case IM_KIND_GROUP_UNREAD:
		return item_fields(records[0], NULL);
	case IM_KIND_UNKNOWN:
	case IM_KIND_COUNT:
		break;
	}
	snprintf(err, err_size, "unknown kind");
	return NULL;
}

/* "Err_SNS_BlackListAdd_Already_Exist", "Err_SNS_FriendImport_Friend_Exist":
 * the relation is there, which is what the import wanted (a resend after a lost
 * answer or a crash meets its own earlier write). */
static bool says_already(const char *info)
{
	return info && (strstr(info, "_Exist") || strstr(info, "already"));
}

/* ResultItem [{To_Account, ResultCode, ResultInfo}] matched by To_Account. */
static size_t sns_results(json_t *response, json_t *const *records, size_t n, long *codes, const char **infos)
{
	json_t *list = json_object_get(response, "ResultItem");
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		const char *to = str_field(records[i], "To_Account");
		size_t j;
		json_t *it;
		json_array_foreach(list, j, it) {
			const char *t = str_field(it, "To_Account");
			if (!t || !to || strcmp(t, to) != 0)
				continue;
			long code = (long)json_integer_value(json_object_get(it, "ResultCode"));
			const char *info = str_field(it, "ResultInfo");
			if (code != 0 && says_already(info))
				code = 0;
			codes[i] = code;
			if (infos)
				infos[i] = code ? info : NULL;
			break;
		}
		if (codes[i])
			failed++;
	}
	return failed;
}

size_t im_batch_results(enum im_kind kind, json_t *response, json_t *const *records, size_t n,
			long *codes, const char **infos)
{
	size_t failed = 0, j;
	json_t *it;
	for (size_t i = 0; i < n; i++) {
		codes[i] = 0;
		if (infos)
			infos[i] = NULL;
	}
	switch (kind) {
	case IM_KIND_ACCOUNT: {
		json_t *fails = json_object_get(response, "FailAccounts");
		for (size_t i = 0; i < n; i++) {
			const char *uid = str_field(records[i], "UserID");
			json_array_foreach(fails, j, it) {
				const char *f = json_string_value(it);
				if (f && uid && strcmp(f, uid) == 0) {
					codes[i] = IM_ITEM_FAILED_NO_CODE;
					failed++;
					break;
				}
			}
		}
		return failed;
	}
	case IM_KIND_FRIEND:
	case IM_KIND_BLACKLIST:
		return sns_results(response, records, n, codes, infos);
	case IM_KIND_GROUP_MEMBER: {
		json_t *list = json_object_get(response, "MemberList");
		for (size_t i = 0; i < n; i++) {
			const char *m = str_field(records[i], "Member_Account");
			json_array_foreach(list, j, it) {
				const char *a = str_field(it, "Member_Account");
				if (!a || !m || strcmp(a, m) != 0)
					continue;
				/* 1 imported, 2 already a member, 0 failed (no reason given). */
				if (json_integer_value(json_object_get(it, "Result")) == 0) {
					codes[i] = IM_ITEM_FAILED_NO_CODE;
					failed++;
				}
				break;
			}
		}
		return failed;
	}
	case IM_KIND_GROUP_MSG: {
		/* Results come in request order, which is the SendTime order the body used. */
		size_t *order = send_time_order(records, n);
		if (!order)
			return 0;
		json_t *list = json_object_get(response, "ImportMsgResult");
		for (size_t s = 0; s < n; s++) {
			json_t *r = json_array_get(list, s);
			long code = r ? (long)json_integer_value(json_object_get(r, "Result")) : 0;
			codes[order[s]] = code;
			if (code)
				failed++;
		}
		free(order);
		return failed;
	}
	default:
		return 0;
	}
}
