/* IM record validation, derived dedupe fields and stage keys. */
#include "config.h"

#include <ctype.h>

#include "imrecord.h"
#include "jsonout.h"
#include "tap.h"

static struct im_validator *v;
static struct im_prepared p;
static char why[512];

static int prep(const char *json)
{
	json_error_t e;
	json_t *rec = json_loads(json, 0, &e);
	if (!rec) {
		diag("bad test JSON: %s", e.text);
		return -999;
	}
	int rc = im_record_prepare(v, rec, 77, &p, why, sizeof why);
	/* keep the strings alive past the record: copy what the tests read */
	static char payload[4096], key[1024], conv[256];
	snprintf(payload, sizeof payload, "%s", rc == 0 ? p.payload : "");
	snprintf(key, sizeof key, "%s", rc == 0 ? p.dedupe_key : "");
	snprintf(conv, sizeof conv, "%s", rc == 0 ? p.conv : "");
	p.payload = payload;
	p.dedupe_key = key;
	p.conv = conv;
	json_decref(rec);
	return rc;
}

#define TEXT "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]"

int main(void)
{
	v = im_validator_new(NULL);
	is_str(im_kind_name(IM_KIND_GROUP_UNREAD), "group_unread", "kind names");
	is_int(im_kind_from_name("c2c_msg"), IM_KIND_C2C_MSG, "kind from name");
	is_int(im_kind_from_name("nope"), IM_KIND_UNKNOWN, "unknown kind name");

	is_int(prep("{\"kind\":\"account\",\"UserID\":\"alice\",\"Nick\":\"A\",\"_source_id\":\"7\"}"), 0, "account");
	is_str(p.payload, "{\"Nick\":\"A\",\"UserID\":\"alice\"}", "payload: sorted, no kind/_source_id");
	is_str(p.dedupe_key, "account:[\"alice\"]", "account dedupe key");
	is_str(p.conv, "alice", "account conv");
	is_int(p.ord, 77, "no time: ord is the input order");

	is_int(prep("{\"kind\":\"acount\",\"UserID\":\"a\"}"), -1, "unknown kind");
	ok(strstr(why, "unknown kind") != NULL, "why: %s", why);
	is_int(prep("{\"UserID\":\"a\"}"), -1, "no kind");
	is_int(prep("{\"kind\":\"account\",\"UserID\":\"a\",\"Nickname\":\"x\"}"), -1, "unknown field");
	ok(strstr(why, "Nickname") != NULL, "why names the field: %s", why);
	is_int(prep("{\"kind\":\"account\"}"), 70402, "missing UserID");
	is_str(why, "UserID is required", "why names the missing field");
	prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"a\",\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"x\"}}]}");
	is_str(why, "To_Account is required", "the first missing field in spec order, with others present");
	is_int(prep("{\"kind\":\"account\",\"UserID\":\"0123456789012345678901234567890123\"}"), 70402,
	       "UserID over 32 bytes");
	ok(strstr(why, "32") != NULL, "why: %s", why);

	const char *c2c = "{\"kind\":\"c2c_msg\",\"From_Account\":\"bob\",\"To_Account\":\"alice\","
			  "\"MsgTimeStamp\":1700000000,\"MsgBody\":" TEXT ",\"_source_id\":\"m-1\"}";
	is_int(prep(c2c), 0, "c2c_msg");
	char key1[1024];
	snprintf(key1, sizeof key1, "%s", p.dedupe_key);
	is_str(p.conv, "alice|bob", "c2c conv: the sorted pair");
	is_int(p.ord, 1700000000, "c2c ord: MsgTimeStamp");
	ok(strstr(p.payload, "\"MsgSeq\":") && strstr(p.payload, "\"MsgRandom\":"), "MsgSeq/MsgRandom derived");
	is_int(prep(c2c), 0, "the same message again");
	is_str(p.dedupe_key, key1, "derives the same key (deterministic)");
	char sid_key[64];
	snprintf(sid_key, sizeof sid_key, ",%u,%u,1700000000]", im_id32("MsgSeq:m-1", 10), im_id32("MsgRandom:m-1", 13));
	ok(strstr(key1, sid_key) != NULL, "derived from _source_id: %s", key1);
	is_int(prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"bob\",\"To_Account\":\"alice\",\"MsgTimeStamp\":1700000000,"
		    "\"MsgBody\":" TEXT ",\"_source_id\":\"m-2\"}"),
	       0, "another message");
	ok(strcmp(p.dedupe_key, key1) != 0, "another source id, another key");
	is_int(prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"alice\",\"To_Account\":\"bob\",\"MsgTimeStamp\":1700000000,"
		    "\"MsgSeq\":5,\"MsgRandom\":6,\"MsgBody\":" TEXT "}"),
	       0, "explicit MsgSeq/MsgRandom");
	is_str(p.dedupe_key, "c2c_msg:[\"alice\",\"bob\",5,6,1700000000]", "are kept and key the record");
	is_int(prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"alice\",\"To_Account\":\"bob\",\"MsgTimeStamp\":1,"
		    "\"MsgBody\":" TEXT "}"),
	       0, "no _source_id");
	snprintf(key1, sizeof key1, "%s", p.dedupe_key);
	is_int(prep("{\"kind\":\"c2c_msg\",\"MsgTimeStamp\":1,\"To_Account\":\"bob\",\"From_Account\":\"alice\","
		    "\"MsgBody\":" TEXT "}"),
	       0, "same content, other key order");
	is_str(p.dedupe_key, key1, "derivation from content ignores key order");
	is_int(prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":\"x\","
		    "\"MsgBody\":" TEXT "}"),
	       90010, "MsgTimeStamp not an integer");
	is_int(prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":1,"
		    "\"MsgBody\":[]}"),
	       90007, "empty MsgBody (imrules)");
	is_int(prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":1,"
		    "\"MsgBody\":[{\"MsgType\":\"TIMSoundElem\",\"MsgContent\":{\"Url\":\"u\"}}]}"),
	       90010, "element missing required fields (imrules)");
	is_int(prep("{\"kind\":\"c2c_msg\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":1,"
		    "\"MsgSeq\":-1,\"MsgBody\":" TEXT "}"),
	       90010, "MsgSeq out of uint32");
	char big[14000];
	int n = snprintf(big, sizeof big, "{\"kind\":\"c2c_msg\",\"From_Account\":\"a\",\"To_Account\":\"b\","
					 "\"MsgTimeStamp\":1,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"");
	memset(big + n, 'x', 12100);
	snprintf(big + n + 12100, sizeof big - (size_t)n - 12100, "\"}}]}");
	is_int(prep(big), 93000, "a message over 12,000 bytes");

	is_int(prep("{\"kind\":\"group\",\"GroupId\":\"g1\",\"Type\":\"Public\",\"Name\":\"G\",\"CreateTime\":5}"), 0,
	       "group");
	is_str(p.dedupe_key, "group:[\"g1\"]", "group key");
	is_int(prep("{\"kind\":\"group\",\"GroupId\":\"g1\",\"Type\":\"AVChatRoom\",\"Name\":\"G\"}"), 10007,
	       "AVChatRoom cannot be imported");
	is_int(prep("{\"kind\":\"group\",\"GroupId\":\"@TGS#x\",\"Type\":\"Public\",\"Name\":\"G\"}"), 10004,
	       "a custom id must not start with @TGS#");
	is_int(prep("{\"kind\":\"group\",\"GroupId\":\"g\",\"Type\":\"Public\",\"Name\":\"0123456789012345678901234567890\"}"),
	       10004, "Name over 30 bytes (imrules)");
	is_int(prep("{\"kind\":\"group\",\"GroupId\":\"g\",\"Type\":\"Work\",\"Name\":\"n\"}"), 10004, "unknown Type");

	is_int(prep("{\"kind\":\"group_msg\",\"GroupId\":\"g1\",\"From_Account\":\"a\",\"SendTime\":100,"
		    "\"MsgBody\":" TEXT ",\"_source_id\":\"gm-1\"}"),
	       0, "group_msg");
	is_str(p.dedupe_key, "group_msg:[\"g1\",\"gm-1\"]", "group_msg keyed by group and source id");
	is_int(prep("{\"kind\":\"group_msg\",\"GroupId\":\"g1\",\"From_Account\":\"a\",\"SendTime\":100,"
		    "\"MsgBody\":" TEXT ",\"_source_id\":\"q\\\"b\\\\s\\n\\u0001\"}"),
	       0, "group_msg with a source id to escape");
	is_str(p.dedupe_key, "group_msg:[\"g1\",\"q\\\"b\\\\s\\n\\u0001\"]",
	       "the key escapes it as payloads do (schema 4: \\n, not \\u000a)");
	ok(strstr(p.payload, "\"Random\":") != NULL, "Random derived");
	is_int(p.ord, 100, "group_msg ord: SendTime");
	is_int(prep("{\"kind\":\"group_msg\",\"GroupId\":\"g1\",\"From_Account\":\"a\",\"SendTime\":100,"
		    "\"MsgBody\":[{\"MsgType\":\"TIMFileElem\",\"MsgContent\":{\"Url\":\"u\",\"UUID\":\"x\","
		    "\"Download_Flag\":2}}]}"),
	       10004, "import_group_msg refuses file elements");
	is_int(prep("{\"kind\":\"group_msg\",\"GroupId\":\"g1\",\"From_Account\":\"a\",\"SendTime\":99999999999,"
		    "\"MsgBody\":" TEXT "}"),
	       10004, "SendTime in the future");

	is_int(prep("{\"kind\":\"friend\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_Web\"}"),
	       0, "friend");
	is_str(p.dedupe_key, "friend:[\"a\",\"b\"]", "friend key");
	is_int(prep("{\"kind\":\"friend\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"AddSource\":\"Web\"}"), 30001,
	       "bad AddSource (imrules)");
	is_int(prep("{\"kind\":\"profile\",\"From_Account\":\"a\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Gender\","
		    "\"Value\":\"Gender_Type_Robot\"}]}"),
	       40605, "bad profile value (imrules)");
	is_int(prep("{\"kind\":\"group_member\",\"GroupId\":\"g1\",\"Member_Account\":\"a\",\"Role\":\"Owner\"}"), 10004,
	       "import roles are Admin only (imrules)");
	is_int(prep("{\"kind\":\"group_member\",\"GroupId\":\"@TGS#2J4SZEAEL\",\"Member_Account\":\"a\"}"), 0,
	       "a member of an auto-id group is accepted");
	is_int(prep("{\"kind\":\"c2c_read\",\"Report_Account\":\"a\",\"Peer_Account\":\"b\",\"MsgReadTime\":\"1700000000\"}"),
	       0, "c2c_read with a string time");
	is_int(p.ord, 1700000000, "c2c_read ord: MsgReadTime");
	is_int(prep("{\"kind\":\"c2c_read\",\"Report_Account\":\"a\",\"Peer_Account\":\"b\",\"MsgReadTime\":\"soon\"}"),
	       90001, "c2c_read with a non-numeric time");
	is_int(prep("{\"kind\":\"group_unread\",\"GroupId\":\"g1\",\"Member_Account\":\"a\",\"UnreadMsgNum\":-1}"), 10004,
	       "negative unread count");

	/* The staging serialiser writes what Jansson's dumper writes. */
	static const char *const samples[] = {
		"{\"b\":1,\"a\":[true,false,null,-5,0,9223372036854775807,-9223372036854775808],\"c\":{}}",
		"[\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001 del\\u007f utf8 \u00e9\u65e5 slash/\",[]]",
		"{\"r\":[1.5,-0.25,1e300,3.0,100000000000000000000.0,0.1]}",
		"{\"zz\":{\"y\":1,\"x\":{\"b\":[{\"d\":1,\"c\":2}],\"a\":\"\"}},\"Z\":0,\"\":1,\"aa\":2,\"a\":3}",
		"\"just a string\"", "42",
	};
	struct im_jbuf jb = {0};
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		json_t *val = json_loads(samples[i], JSON_DECODE_ANY, NULL);
		for (int sort = 0; sort <= 1; sort++) {
			char *want = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY | (sort ? JSON_SORT_KEYS : 0));
			ok(val && im_json_write(&jb, val, sort) == 0 && want && !strcmp(jb.data, want),
			   "im_json_write = json_dumps (sample %zu, sort %d)", i, sort);
			if (want && jb.data && strcmp(jb.data, want))
				diag("got  %s\nwant %s", jb.data, want);
			free(want);
		}
		json_decref(val);
	}
	/* Every ASCII byte at every offset of a string (the escaper scans words). */
	int same = 1;
	for (int c = 1; c < 0x80 && same; c++) {
		for (int at = 0; at < 24 && same; at++) {
			char text[32];
			memset(text, 'a', 24);
			memcpy(text + (at == 10 || at == 11 ? 16 : 10), "\xC3\xA9", 2); /* U+00E9 among the words */
			text[at] = (char)c;
			text[24] = '\0';
			json_t *str = json_stringn(text, 24);
			char *want = str ? json_dumps(str, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
			/* Jansson writes \u001F, im_json_write \u001f (see jsonout.h). */
			for (char *u = want; u && (u = strstr(u, "\\u")); u += 2)
				for (int h = 2; h < 6; h++)
					u[h] = (char)tolower((unsigned char)u[h]);
			same = want && im_json_write(&jb, str, 0) == 0 && !strcmp(jb.data, want);
			free(want);
			json_decref(str);
		}
	}
	ok(same, "im_json_write escapes like json_dumps whatever byte sits at whatever offset");
	im_jbuf_free(&jb);

	char out[40];
	is_int(im_userid_sanitize("alice", 5, out), 0, "valid user id kept");
	is_int(im_userid_sanitize("\xff\xfe", 2, out), 1, "invalid UTF-8 user id hashed");
	is_int(strlen(out), 32, "to 32 bytes");
	im_validator_free(v);
	return done_testing();
}
