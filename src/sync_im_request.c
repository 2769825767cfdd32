/* Live REST calls for IM records, see sync_im_request.h. */
#include "config.h"

#include "sync_im_request.h"

#include <stdio.h>
#include <string.h>

#include "batch.h"

static const char *const live_kinds[] = {"group_update", "group_member_exit", "group_destroy", "friend_delete",
					 "blacklist_delete", NULL};

int im_sync_kind_is_live_only(const char *kind)
{
	for (int i = 0; live_kinds[i]; i++)
		if (strcmp(kind, live_kinds[i]) == 0)
			return 1;
	return 0;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int need(const json_t *o, const char *k, const char *kind, char *err, size_t err_size)
{
	if (str(o, k))
		return 0;
	snprintf(err, err_size, "%s record: %s missing or not a string", kind, k);
	return -1;
}

/* A copy of payload without the fields named in drop (NULL-terminated). */
static json_t *without(const json_t *payload, const char *const *drop)
{
	json_t *b = json_deep_copy(payload);
	for (int i = 0; b && drop[i]; i++)
		json_object_del(b, drop[i]);
	return b;
}

static json_t *one(const char *s)
{
	json_t *a = json_array();
	json_array_append_new(a, json_string(s));
	return a;
}

static json_t *forbid_callbacks(void)
{
	json_t *a = json_array();
	json_array_append_new(a, json_string("ForbidBeforeSendMsgCallback"));
	json_array_append_new(a, json_string("ForbidAfterSendMsgCallback"));
	return a;
}

static int via_batch(enum im_kind k, struct im_sync_call *c, char *err, size_t err_size)
{
	const struct im_kind_info *ki = im_kind_info(k);
	c->service = ki->service;
	c->command = ki->command;
	json_t *recs[1] = {c->item};
	c->body = im_batch_body(k, recs, 1, err, err_size);
	return c->body ? 0 : -1;
}

int im_sync_call_build(const char *kind, json_t *payload, const char *conv, struct im_sync_call *c, char *err,
		       size_t err_size)
{
	memset(c, 0, sizeof *c);
	snprintf(c->kind, sizeof c->kind, "%s", kind);
	c->item = json_incref(payload);
	const char *gid = str(payload, "GroupId");
	if (gid)
		snprintf(c->group_id, sizeof c->group_id, "%s", gid);
	if (conv)
		snprintf(c->conv, sizeof c->conv, "%s", conv);
	else if (gid)
		snprintf(c->conv, sizeof c->conv, "%s", gid);
	else if (str(payload, "From_Account"))
		snprintf(c->conv, sizeof c->conv, "%s", str(payload, "From_Account"));

	enum im_kind k = im_kind_from_name(kind);
	switch (k) {
	case IM_KIND_ACCOUNT:
	case IM_KIND_PROFILE:
	case IM_KIND_FRIEND:
	case IM_KIND_BLACKLIST:
	case IM_KIND_C2C_READ:
		return via_batch(k, c, err, err_size);
	case IM_KIND_C2C_MSG:
		if (via_batch(k, c, err, err_size) < 0)
			return -1;
		/* 5 = real-time during coexistence: unread and pushed, and no callback. */
		json_object_set_new(c->body, "SyncFromOldSystem", json_integer(5));
		return 0;
	case IM_KIND_GROUP: {
		static const char *const drop[] = {"CreateTime", NULL};
		c->service = "group_open_http_svc";
		c->command = "create_group";
		c->body = without(payload, drop);
		return c->body ? 0 : -1;
	}
	case IM_KIND_GROUP_MEMBER: {
		if (need(payload, "GroupId", kind, err, err_size) || need(payload, "Member_Account", kind, err, err_size))
			return -1;
		c->service = "group_open_http_svc";
		c->command = "add_group_member";
		json_t *m = json_pack("{s:s}", "Member_Account", str(payload, "Member_Account"));
		c->body = json_pack("{s:s, s:i, s:[o]}", "GroupId", gid, "Silence", 1, "MemberList", m);
		return c->body ? 0 : -1;
	}
	case IM_KIND_GROUP_MSG: {
		static const char *const drop[] = {"SendTime", "MsgSeq", "MsgTimeStamp", NULL};
		c->service = "group_open_http_svc";
		c->command = "send_group_msg";
		c->body = without(payload, drop);
		if (!c->body)
			return -1;
		json_object_set_new(c->body, "ForbidCallbackControl", forbid_callbacks());
		return 0;
	}
	case IM_KIND_GROUP_UNREAD:
		c->service = "group_open_http_svc";
		c->command = "set_unread_msg_num";
		c->body = json_deep_copy(payload);
		return c->body ? 0 : -1;
	default:
		break;
	}
	if (strcmp(kind, "group_update") == 0) {
		if (need(payload, "GroupId", kind, err, err_size))
			return -1;
		c->service = "group_open_http_svc";
		c->command = "modify_group_base_info";
		c->body = json_deep_copy(payload);
	} else if (strcmp(kind, "group_member_exit") == 0) {
		if (need(payload, "GroupId", kind, err, err_size) || need(payload, "Member_Account", kind, err, err_size))
			return -1;
		c->service = "group_open_http_svc";
		c->command = "delete_group_member";
		c->body = json_pack("{s:s, s:i, s:o}", "GroupId", gid, "Silence", 1, "MemberToDel_Account",
				    one(str(payload, "Member_Account")));
		if (c->body && str(payload, "Reason"))
			json_object_set_new(c->body, "Reason", json_string(str(payload, "Reason")));
	} else if (strcmp(kind, "group_destroy") == 0) {
		if (need(payload, "GroupId", kind, err, err_size))
			return -1;
		c->service = "group_open_http_svc";
		c->command = "destroy_group";
		c->body = json_pack("{s:s}", "GroupId", gid);
	} else if (strcmp(kind, "friend_delete") == 0 || strcmp(kind, "blacklist_delete") == 0) {
		if (need(payload, "From_Account", kind, err, err_size) || need(payload, "To_Account", kind, err, err_size))
			return -1;
		c->service = "sns";
		int fr = kind[0] == 'f';
		c->command = fr ? "friend_delete" : "black_list_delete";
		c->body = json_pack("{s:s, s:o}", "From_Account", str(payload, "From_Account"), "To_Account",
				    one(str(payload, "To_Account")));
		if (c->body && fr)
			json_object_set_new(c->body, "DeleteType", json_string("Delete_Type_Single"));
	} else {
		snprintf(err, err_size, "unknown record kind '%s'", kind);
		return -1;
	}
	return c->body ? 0 : -1;
}

void im_sync_call_free(struct im_sync_call *c)
{
	json_decref(c->body);
	json_decref(c->item);
	c->body = c->item = NULL;
}

long im_sync_call_result(const struct im_sync_call *c, json_t *response, const char **info)
{
	*info = NULL;
	enum im_kind k = im_kind_from_name(c->kind);
	if (k == IM_KIND_ACCOUNT || k == IM_KIND_FRIEND || k == IM_KIND_BLACKLIST) {
		json_t *recs[1] = {c->item};
		long codes[1] = {0};
		const char *infos[1] = {NULL};
		im_batch_results(k, response, recs, 1, codes, infos);
		*info = infos[0];
		return codes[0];
	}
	if (strcmp(c->command, "add_group_member") == 0) {
		/* Result 0 failed, 1 added, 2 already a member, 3 awaiting approval. */
		json_t *m = json_array_get(json_object_get(response, "MemberList"), 0);
		json_t *res = json_object_get(m, "Result");
		if (json_is_integer(res) && json_integer_value(res) == 0)
			return -2;
		return 0;
	}
	if (strcmp(c->command, "friend_delete") == 0 || strcmp(c->command, "black_list_delete") == 0) {
		json_t *it = json_array_get(json_object_get(response, "ResultItem"), 0);
		long code = (long)json_integer_value(json_object_get(it, "ResultCode"));
		*info = str(it, "ResultInfo");
		return code;
	}
	return 0;
}

int im_sync_code_means_landed(const char *command, long code)
{
	if (strcmp(command, "create_group") == 0)
		return code == 10021 || code == 10025; /* the group id exists: created before */
	if (strcmp(command, "destroy_group") == 0)
		return code == 10010; /* already gone */
	if (strcmp(command, "add_group_member") == 0)
		return code == 10013; /* already a member */
	return 0;
}
