/* Unit tests of the shared spec rules (src/imrules.c) against spec §3-§6. */
#include "config.h"

#include <jansson.h>
#include <string.h>

#include "imrules.h"
#include "../tap.h"

static json_t *J(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!j)
		diag("bad test JSON: %s", text);
	return j;
}

static int profile(const char *text)
{
	json_t *j = J(text);
	int code = im_rules_profile_item(j, NULL, 0);
	json_decref(j);
	return code;
}

static int friend_item(const char *text, bool import)
{
	json_t *j = J(text);
	char why[200] = "";
	int code = im_rules_friend_item(j, import, why, sizeof why);
	json_decref(j);
	return code;
}

static int body(const struct im_rules *r, const char *text, bool group)
{
	json_t *j = J(text);
	char why[200] = "";
	int code = im_rules_msg_body(r, j, group, why, sizeof why);
	json_decref(j);
	return code;
}

static int group_info(const char *text, enum im_group_type t, bool creating)
{
	json_t *j = J(text);
	int code = im_rules_group_info(j, t, creating, NULL, 0);
	json_decref(j);
	return code;
}

static int member(const char *text, bool import)
{
	json_t *j = J(text);
	int code = im_rules_member_fields(j, import, NULL, 0);
	json_decref(j);
	return code;
}

static void test_api_table(void)
{
	struct im_rules r;
	im_rules_defaults(&r);
	const struct im_api_info *a = im_rules_api("im_open_login_svc", "multiaccount_import");
	ok(a && a->qps == 100 && im_rules_batch_max(&r, a) == 100, "multiaccount_import: 100/s, 100 per call");
	a = im_rules_api("im_open_login_svc", "account_import");
	ok(a && a->qps == 200 && a->family == IM_FAMILY_LOGIN, "account_import: 200/s, login family");
	a = im_rules_api("group_open_http_svc", "import_group_msg");
	ok(a && im_rules_batch_max(&r, a) == 7, "import_group_msg: 7 per call by default [CONFLICT 20]");
	char err[128];
	is_int(im_rules_set(&r, "group-msg-batch-max=20", err, sizeof err), 0, "switch group-msg-batch-max");
	ok(im_rules_batch_max(&r, a) == 20, "the switch changes the batch maximum");
	ok(im_rules_set(&r, "no-such-rule=1", err, sizeof err) == -1 && strstr(err, "no-such-rule"),
	   "unknown switch is refused, naming it");
	ok(im_rules_set(&r, "group-msg-equal-time=maybe", err, sizeof err) == -1, "bad boolean refused");
	is_int(im_rules_set(&r, "msg-max-bytes=8000", err, sizeof err), 0, "msg-max-bytes switch");
	is_int(r.msg_max_bytes, 8000, "msg-max-bytes applied");
	ok(r.friend_delete_both && im_rules_set(&r, "friend-delete-both=no", err, sizeof err) == 0 &&
	   !r.friend_delete_both, "friend-delete-both switch");
	ok(im_rules_api("openim", "nosuch") == NULL, "unknown API is NULL");
	ok(im_rules_api("openim", "importmsg")->family == IM_FAMILY_OPENIM, "importmsg is openim");
	is_int(im_rules_bad_json_code(IM_FAMILY_GROUP), 10011, "group bad JSON is 10011");
	is_int(im_rules_bad_json_code(IM_FAMILY_OPENIM), 90001, "openim bad JSON is 90001");
	is_int(im_rules_bad_json_code(IM_FAMILY_SNS), 60003, "sns bad JSON is 60003");
	size_t n = 0;
	while (im_rules_api_at(n))
		n++;
	ok(n >= 31, "the table lists every API the runner uses (%zu)", n);
}

static void test_strings(void)
{
	ok(im_rules_utf8_valid("\xe4\xbd\xa0\xe5\xa5\xbd", 6), "CJK UTF-8 is valid");
	ok(!im_rules_utf8_valid("\xc0\xaf", 2), "overlong encoding is invalid");
	ok(!im_rules_utf8_valid("\xed\xa0\x80", 3), "surrogate is invalid");
	ok(!im_rules_utf8_valid("\xe4\xbd", 2), "truncated sequence is invalid");
	json_t *id = json_string("0123456789012345678901234567890X");
	is_int(im_rules_user_id(id, NULL, 0), 0, "32-byte UserID is fine");
	json_decref(id);
	id = json_string("0123456789012345678901234567890XY");
	char why[100];
	ok(im_rules_user_id(id, why, sizeof why) == -1 && strstr(why, "33 bytes"), "33-byte UserID refused: %s", why);
	json_decref(id);
	id = json_string("\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0"
			 "\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0");	/* 11 CJK = 33 bytes */
	ok(im_rules_user_id(id, NULL, 0) == -1, "11 CJK characters are 33 bytes: refused");
	json_decref(id);
	id = json_integer(5);
	ok(im_rules_user_id(id, NULL, 0) == -1, "a number is not a UserID");
	json_decref(id);
	ok(im_rules_add_source_ok("AddSource_Type_Android"), "AddSource_Type_Android");
	ok(!im_rules_add_source_ok("AddSource_Type_Android1"), "digits are not letters");
	ok(!im_rules_add_source_ok("AddSource_Type_ABCDEFGHI"), "9 letters is too long");
	ok(!im_rules_add_source_ok("AddSource_Type_"), "empty keyword");
	ok(!im_rules_add_source_ok("Android"), "missing prefix");
}

static void test_profile(void)
{
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"n\"}"), 0, "nick ok");
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":5}"), 40610, "nick as number: 40610");
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"Gender_Type_Male\"}"), 0, "gender ok");
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"male\"}"), 40605, "bad gender: 40605");
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_BirthDay\",\"Value\":20190419}"), 0, "birthday ok");
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_BirthDay\",\"Value\":\"20190419\"}"), 40610,
	       "birthday as string: 40610");
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_Location\",\"Value\":\"12345678901234567\"}"), 40601,
	       "17-byte location: 40601");
	is_int(profile("{\"Tag\":\"Tag_Profile_IM_Bogus\",\"Value\":\"x\"}"), 40009, "unknown tag: 40009");
	is_int(profile("{\"Tag\":\"Tag_Profile_Custom_Test\",\"Value\":\"x\"}"), 0, "custom tag ok");
	is_int(profile("{\"Tag\":\"Tag_Profile_Custom_Test1\",\"Value\":\"x\"}"), 40009, "custom keyword with digit");
	is_int(profile("{\"Tag\":\"Tag_Profile_Custom_Test\",\"Value\":1}"), 40610, "custom tag takes no integer");
	is_int(profile("{\"Value\":1}"), 40001, "no Tag: 40001");
}

static void test_friend(void)
{
	is_int(friend_item("{\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\",\"GroupName\":[\"x\"]}", true),
	       0, "friend_import item ok");
	is_int(friend_item("{\"To_Account\":\"b\"}", true), 30001, "friend_import needs AddSource");
	is_int(friend_item("{\"To_Account\":\"b\"}", false), 0, "friend_add does not");
	is_int(friend_item("{\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\",\"GroupName\":\"x\"}", true),
	       30001, "friend_import GroupName must be an array");
	is_int(friend_item("{\"To_Account\":\"b\",\"GroupName\":\"x\"}", false), 0, "friend_add GroupName is a string");
	char remark[200];
	memset(remark, 'r', 97);
	remark[97] = '\0';
	char text[400];
	snprintf(text, sizeof text, "{\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\",\"Remark\":\"%s\"}", remark);
	is_int(friend_item(text, true), 30001, "97-byte Remark refused");
	is_int(friend_item("{\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\","
			   "\"CustomItem\":[{\"Tag\":\"Tag_SNS_Custom_X\",\"Value\":1}]}", true),
	       0, "custom friend tag ok");
	is_int(friend_item("{\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\","
			   "\"CustomItem\":[{\"Tag\":\"Tag_SNS_IM_X\",\"Value\":1}]}", true),
	       30001, "bad custom friend tag");
}

static void test_msg_body(void)
{
	struct im_rules r;
	im_rules_defaults(&r);
	is_int(body(&r, "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]", false), 0, "text ok");
	is_int(body(&r, "{\"MsgType\":\"TIMTextElem\"}", false), 90007, "not an array: 90007");
	is_int(body(&r, "[]", false), 90007, "empty array: 90007");
	is_int(body(&r, "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":1}}]", false), 90010,
	       "Text as number: 90010");
	is_int(body(&r, "[{\"MsgType\":\"TIMBogusElem\",\"MsgContent\":{}}]", false), 90010, "unknown type: 90010");
	is_int(body(&r, "[{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"a\"}},"
			"{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"b\"}}]", false),
	       90010, "two custom elements: 90010");
	const char *sound = "[{\"MsgType\":\"TIMSoundElem\",\"MsgContent\":{\"Url\":\"http://x\",\"UUID\":\"u\","
			    "\"Size\":1,\"Second\":1,\"Download_Flag\":2}}]";
	is_int(body(&r, sound, false), 0, "sound ok");
	is_int(body(&r, sound, true), 90010, "sound refused by import_group_msg by default [U]");
	r.group_msg_any_elem = true;
	is_int(body(&r, sound, true), 0, "... and accepted with group-msg-any-elem");
	is_int(body(&r, "[{\"MsgType\":\"TIMSoundElem\",\"MsgContent\":{\"Url\":\"http://x\",\"UUID\":\"u\","
			"\"Download_Flag\":1}}]", false),
	       90010, "Download_Flag must be 2");
	is_int(body(&r, "[{\"MsgType\":\"TIMImageElem\",\"MsgContent\":{\"UUID\":\"u\",\"ImageFormat\":1,"
			"\"ImageInfoArray\":[{\"Type\":1,\"Size\":1,\"Width\":1,\"Height\":1,\"URL\":\"http://x\"}]}}]",
		    false),
	       0, "image ok");
	is_int(body(&r, "[{\"MsgType\":\"TIMImageElem\",\"MsgContent\":{\"UUID\":\"u\","
			"\"ImageInfoArray\":[{\"Type\":1,\"URL\":\"http://x\"}]}}]", false),
	       90010, "image without Width/Height");
	json_t *b = J("[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]");
	is_int(im_rules_msg_size(b, "ab"), (long long)strlen("[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]") + 2,
	       "message size is compact JSON plus CloudCustomData");
	json_decref(b);
	json_t *v = json_integer(4294967295LL);
	uint32_t u;
	ok(im_rules_uint32(v, &u) && u == 4294967295u, "uint32 max accepted");
	json_decref(v);
	v = json_integer(4294967296LL);
	ok(!im_rules_uint32(v, &u), "2^32 refused");
	json_decref(v);
}

static void test_groups(void)
{
	ok(im_rules_group_type("Public") == IM_GROUP_PUBLIC, "Public");
	ok(im_rules_group_type("public") == IM_GROUP_UNKNOWN, "type names are case-sensitive");
	ok(!im_rules_group_has_unread(IM_GROUP_CHATROOM), "ChatRoom has no unread counts");
	is_int(im_rules_group_id("my-group", IM_GROUP_PUBLIC, NULL, 0), 0, "custom id ok");
	is_int(im_rules_group_id("@TGS#abc", IM_GROUP_PUBLIC, NULL, 0), -1, "@TGS# prefix refused");
	is_int(im_rules_group_id("@TGS#_abc", IM_GROUP_COMMUNITY, NULL, 0), 0, "Community @TGS#_ ok");
	is_int(im_rules_group_id("abc", IM_GROUP_COMMUNITY, NULL, 0), -1, "Community needs @TGS#_");
	is_int(im_rules_group_id("a\tb", IM_GROUP_PUBLIC, NULL, 0), -1, "control character refused");
	char id[60];
	memset(id, 'g', 48);
	id[48] = '\0';
	is_int(im_rules_group_id(id, IM_GROUP_PUBLIC, NULL, 0), -1, "48 bytes refused");
	id[47] = '\0';
	is_int(im_rules_group_id(id, IM_GROUP_PUBLIC, NULL, 0), 0, "47 bytes ok");
	is_int(group_info("{\"Name\":\"n\"}", IM_GROUP_PUBLIC, true), 0, "name only ok");
	is_int(group_info("{}", IM_GROUP_PUBLIC, true), 10004, "Name required when creating");
	is_int(group_info("{}", IM_GROUP_PUBLIC, false), 0, "but not when modifying");
	is_int(group_info("{\"Name\":\"0123456789012345678901234567890\"}", IM_GROUP_PUBLIC, true), 10004,
	       "31-byte name refused");
	is_int(group_info("{\"Name\":\"\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0"
			  "\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\xe4\xbd\xa0\"}", IM_GROUP_PUBLIC, true),
	       0, "10 CJK characters = 30 bytes ok");
	is_int(group_info("{\"Name\":\"n\",\"ApplyJoinOption\":\"Anyone\"}", IM_GROUP_PUBLIC, true), 10004,
	       "bad ApplyJoinOption");
	is_int(group_info("{\"Name\":\"n\",\"MaxMemberCount\":6001}", IM_GROUP_PUBLIC, true), 10004,
	       "MaxMemberCount over 6000");
	is_int(group_info("{\"Name\":\"n\",\"MaxMemberCount\":6001}", IM_GROUP_COMMUNITY, true), 0,
	       "Community may have more");
	is_int(group_info("{\"Name\":\"n\",\"AppDefinedData\":[{\"Key\":\"bad key\",\"Value\":\"v\"}]}",
			  IM_GROUP_PUBLIC, true),
	       10004, "AppDefinedData key pattern");
	is_int(member("{\"Member_Account\":\"a\",\"Role\":\"Admin\"}", true), 0, "import role Admin ok");
	is_int(member("{\"Member_Account\":\"a\",\"Role\":\"Member\"}", true), 10004, "import accepts only Admin");
	is_int(member("{\"Member_Account\":\"a\",\"Role\":\"Member\"}", false), 0, "modify accepts Member");
	is_int(member("{\"Member_Account\":\"a\",\"JoinTime\":\"1\"}", true), 10004, "JoinTime must be integer");
}

int main(void)
{
	test_api_table();
	test_strings();
	test_profile();
	test_friend();
	test_msg_body();
	test_groups();
	return done_testing();
}
