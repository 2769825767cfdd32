/* Unit tests for src/batch.c: the exact request body of every kind, and per-item
 * results mapped back onto records. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "tap.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (!v)
		diag("bad test JSON: %s: %s", text, e.text);
	return v;
}

/* Builds the body of kind from records given as JSON texts and compares its
 * compact serialisation with want. */
static void body_is(enum im_kind kind, const char *want, const char *name, size_t n, ...)
{
	json_t *recs[16];
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		recs[i] = J(va_arg(ap, const char *));
	va_end(ap);
	char err[200] = "";
	json_t *body = im_batch_body(kind, recs, n, err, sizeof err);
	char *got = body ? json_dumps(body, JSON_COMPACT) : NULL;
	is_str(got, want, "%s body", name);
	if (!body)
		diag("error: %s", err);
	free(got);
	json_decref(body);
	for (size_t i = 0; i < n; i++)
		json_decref(recs[i]);
}

int main(void)
{
	is_str(im_kind_info(IM_KIND_ACCOUNT)->command, "multiaccount_import", "account API");
	is_int(im_kind_info(IM_KIND_ACCOUNT)->max_items, 100, "accounts: 100 per call");
	is_int(im_kind_info(IM_KIND_FRIEND)->max_items, 1000, "friends: 1000 per call");
	is_int(im_kind_info(IM_KIND_BLACKLIST)->max_items, 1000, "blacklist: 1000 per call");
	is_int(im_kind_info(IM_KIND_GROUP_MEMBER)->max_items, 300, "members: 300 per call");
	is_int(im_kind_info(IM_KIND_GROUP_MSG)->max_items, 7, "group messages: 7 per call");
	is_int(im_kind_info(IM_KIND_C2C_MSG)->max_items, 1, "c2c: one per call");
	is_str(im_kind_info(IM_KIND_GROUP_UNREAD)->name, "group_unread", "kind names as staged");
	for (int k = 0; k < IM_KIND_COUNT; k++)
		ok((im_kind_info(k)->deps >> k) == 0, "%s depends only on earlier kinds", im_kind_info(k)->name);
	ok(im_kind_info(IM_KIND_GROUP_UNREAD)->deps & (1u << IM_KIND_GROUP_MSG),
	   "unread counts after group history");
	ok(im_kind_info(IM_KIND_C2C_READ)->deps & (1u << IM_KIND_C2C_MSG), "read marks after c2c history");

	body_is(IM_KIND_ACCOUNT,
		"{\"AccountList\":[{\"UserID\":\"u1\",\"Nick\":\"N\",\"FaceUrl\":\"http://f\"},{\"UserID\":\"u2\"}]}",
		"multiaccount_import", 2, "{\"UserID\":\"u1\",\"Nick\":\"N\",\"FaceUrl\":\"http://f\",\"_source_id\":\"9\"}",
		"{\"kind\":\"account\",\"UserID\":\"u2\"}");
	body_is(IM_KIND_PROFILE,
		"{\"From_Account\":\"u1\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"Gender_Type_Male\"}]}",
		"portrait_set", 1,
		"{\"From_Account\":\"u1\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"Gender_Type_Male\"}]}");
	body_is(IM_KIND_FRIEND,
		"{\"From_Account\":\"a\",\"AddFriendItem\":[{\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\","
		"\"Remark\":\"r\",\"AddTime\":1500000000},{\"To_Account\":\"c\",\"AddSource\":\"AddSource_Type_Web\"}]}",
		"friend_import (no AddTime invented)", 2,
		"{\"From_Account\":\"a\",\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\",\"Remark\":\"r\","
		"\"AddTime\":1500000000}",
		"{\"From_Account\":\"a\",\"To_Account\":\"c\",\"AddSource\":\"AddSource_Type_Web\"}");
	body_is(IM_KIND_BLACKLIST, "{\"From_Account\":\"a\",\"To_Account\":[\"b\",\"c\"]}", "black_list_add", 2,
		"{\"From_Account\":\"a\",\"To_Account\":\"b\"}", "{\"From_Account\":\"a\",\"To_Account\":\"c\"}");
	body_is(IM_KIND_GROUP,
		"{\"GroupId\":\"g1\",\"Type\":\"Public\",\"Name\":\"G\",\"Owner_Account\":\"a\",\"CreateTime\":1400000000}",
		"import_group", 1,
		"{\"GroupId\":\"g1\",\"Type\":\"Public\",\"Name\":\"G\",\"Owner_Account\":\"a\",\"CreateTime\":1400000000}");
	body_is(IM_KIND_GROUP_MEMBER,
		"{\"GroupId\":\"g1\",\"MemberList\":[{\"Member_Account\":\"a\",\"Role\":\"Admin\",\"JoinTime\":1400000001},"
		"{\"Member_Account\":\"b\",\"UnreadMsgNum\":3}]}",
		"import_group_member", 2,
		"{\"GroupId\":\"g1\",\"Member_Account\":\"a\",\"Role\":\"Admin\",\"JoinTime\":1400000001}",
		"{\"GroupId\":\"g1\",\"Member_Account\":\"b\",\"UnreadMsgNum\":3}");
	body_is(IM_KIND_GROUP_MSG,
		"{\"GroupId\":\"g1\",\"MsgList\":[{\"From_Account\":\"b\",\"SendTime\":1400000005,\"Random\":2,"
		"\"MsgBody\":[]},{\"From_Account\":\"a\",\"SendTime\":1400000009,\"Random\":1,\"MsgBody\":"
		"[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]}]}",
		"import_group_msg (ascending SendTime)", 2,
		"{\"GroupId\":\"g1\",\"From_Account\":\"a\",\"SendTime\":1400000009,\"Random\":1,\"MsgBody\":"
		"[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]}",
		"{\"GroupId\":\"g1\",\"From_Account\":\"b\",\"SendTime\":1400000005,\"Random\":2,\"MsgBody\":[]}");
	body_is(IM_KIND_GROUP_UNREAD, "{\"GroupId\":\"g1\",\"Member_Account\":\"a\",\"UnreadMsgNum\":4}",
		"set_unread_msg_num", 1, "{\"GroupId\":\"g1\",\"Member_Account\":\"a\",\"UnreadMsgNum\":4}");
	body_is(IM_KIND_C2C_MSG,
		"{\"SyncFromOldSystem\":2,\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":1500000000,"
		"\"MsgSeq\":7,\"MsgRandom\":4294967295,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":"
		"{\"Text\":\"x\"}}],\"CloudCustomData\":\"c\"}",
		"importmsg", 1,
		"{\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":1500000000,\"MsgSeq\":7,"
		"\"MsgRandom\":4294967295,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"x\"}}],"
		"\"CloudCustomData\":\"c\"}");
	body_is(IM_KIND_C2C_READ,
		"{\"Report_Account\":\"a\",\"Peer_Account\":\"b\",\"MsgReadTime\":\"1500000000\"}",
		"admin_set_msg_read (MsgReadTime as the documented string)", 1,
		"{\"Report_Account\":\"a\",\"Peer_Account\":\"b\",\"MsgReadTime\":1500000000}");

	/* Refusals. */
	char err[200];
	json_t *r2[2] = {J("{\"GroupId\":\"g1\",\"Member_Account\":\"a\"}"),
			 J("{\"GroupId\":\"g2\",\"Member_Account\":\"b\"}")};
	ok(im_batch_body(IM_KIND_GROUP_MEMBER, r2, 2, err, sizeof err) == NULL, "members of two groups refused: %s",
	   err);
	ok(im_batch_body(IM_KIND_C2C_MSG, r2, 2, err, sizeof err) == NULL, "two messages in one importmsg refused");
	json_decref(r2[0]);
	json_decref(r2[1]);

	/* Per-item results. */
	long codes[4];
	const char *infos[4];
	json_t *acc[3] = {J("{\"UserID\":\"u1\"}"), J("{\"UserID\":\"u2\"}"), J("{\"UserID\":\"u3\"}")};
	json_t *resp = J("{\"ActionStatus\":\"OK\",\"ErrorCode\":0,\"FailAccounts\":[\"u2\"]}");
	is_int(im_batch_results(IM_KIND_ACCOUNT, resp, acc, 3, codes, infos), 1, "one FailAccount");
	ok(codes[0] == 0 && codes[1] == IM_ITEM_FAILED_NO_CODE && codes[2] == 0, "FailAccounts mapped to u2");
	json_decref(resp);
	for (int i = 0; i < 3; i++)
		json_decref(acc[i]);

	json_t *fr[4] = {J("{\"From_Account\":\"a\",\"To_Account\":\"b\"}"),
			 J("{\"From_Account\":\"a\",\"To_Account\":\"c\"}"),
			 J("{\"From_Account\":\"a\",\"To_Account\":\"d\"}"),
			 J("{\"From_Account\":\"a\",\"To_Account\":\"e\"}")};
	resp = J("{\"ResultItem\":[{\"To_Account\":\"b\",\"ResultCode\":0,\"ResultInfo\":\"\"},"
		 "{\"To_Account\":\"c\",\"ResultCode\":30010,\"ResultInfo\":\"Err_SNS_FriendImport_My_Friend_Num_Exceed_Threshold\"},"
		 "{\"To_Account\":\"d\",\"ResultCode\":30001,\"ResultInfo\":\"Err_SNS_BlackListAdd_Already_Exist\"},"
		 "{\"To_Account\":\"e\",\"ResultCode\":30001,\"ResultInfo\":\"Err_SNS_FriendImport_Friend_Exist\"}],"
		 "\"Fail_Account\":[\"c\",\"d\"],\"ActionStatus\":\"OK\",\"ErrorCode\":0}");
	is_int(im_batch_results(IM_KIND_FRIEND, resp, fr, 4, codes, infos), 1, "one ResultItem failure");
	ok(codes[0] == 0 && codes[1] == 30010 && codes[2] == 0 && codes[3] == 0,
	   "30010 on c; already-existing d and e count as landed");
	is_str(infos[1], "Err_SNS_FriendImport_My_Friend_Num_Exceed_Threshold", "ResultInfo kept");
	is_int(im_batch_results(IM_KIND_BLACKLIST, resp, fr, 4, codes, NULL), 1, "blacklist uses ResultItem too");
	json_decref(resp);
	for (int i = 0; i < 4; i++)
		json_decref(fr[i]);

	json_t *mem[3] = {J("{\"GroupId\":\"g\",\"Member_Account\":\"a\"}"),
			  J("{\"GroupId\":\"g\",\"Member_Account\":\"b\"}"),
			  J("{\"GroupId\":\"g\",\"Member_Account\":\"c\"}")};
	resp = J("{\"MemberList\":[{\"Member_Account\":\"a\",\"Result\":1},{\"Member_Account\":\"b\",\"Result\":0},"
		 "{\"Member_Account\":\"c\",\"Result\":2}]}");
	is_int(im_batch_results(IM_KIND_GROUP_MEMBER, resp, mem, 3, codes, NULL), 1, "one member failed");
	ok(codes[0] == 0 && codes[1] == IM_ITEM_FAILED_NO_CODE && codes[2] == 0, "Result 0 fails, 1 and 2 land");
	json_decref(resp);
	for (int i = 0; i < 3; i++)
		json_decref(mem[i]);

	/* ImportMsgResult follows the request order (ascending SendTime), not the caller's. */
	json_t *gm[3] = {J("{\"GroupId\":\"g\",\"SendTime\":30}"), J("{\"GroupId\":\"g\",\"SendTime\":10}"),
			 J("{\"GroupId\":\"g\",\"SendTime\":20}")};
	resp = J("{\"ImportMsgResult\":[{\"MsgSeq\":1,\"MsgTime\":10,\"Result\":0},"
		 "{\"MsgSeq\":2,\"MsgTime\":20,\"Result\":80002},{\"MsgSeq\":3,\"MsgTime\":30,\"Result\":0}]}");
	is_int(im_batch_results(IM_KIND_GROUP_MSG, resp, gm, 3, codes, NULL), 1, "one group message failed");
	ok(codes[0] == 0 && codes[1] == 0 && codes[2] == 80002, "the failure lands on SendTime 20");
	json_decref(resp);
	for (int i = 0; i < 3; i++)
		json_decref(gm[i]);
	return done_testing();
}
