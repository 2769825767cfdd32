/* The arena value tree and its writers: the text they give is the text
 * Jansson's dumper gives (payloads, derived ids and dedupe keys hash it), and
 * validating a tree is validating the JSON it came from. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>

#include "imrecord.h"
#include "imval.h"
#include "jsonout.h"
#include "tap.h"

static char *dumps(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void test_arena(void)
{
	struct imv_arena a = {0};
	int aligned = 1;
	unsigned char *prev = NULL;
	for (int i = 0; i < 20000; i++) {
		unsigned char *p = imv_alloc(&a, (size_t)(i % 37) + 1);
		aligned &= p && ((uintptr_t)p % 16) == 0 && p != prev;
		if (p)
			memset(p, 0xAB, (size_t)(i % 37) + 1);
		prev = p;
	}
	ok(aligned, "20000 small allocations: distinct, 16-byte aligned");
	char *big = imv_alloc(&a, 3u << 20);
	ok(big != NULL, "an allocation larger than any chunk");
	if (big)
		memset(big, 1, 3u << 20);
	imv_arena_reset(&a);
	char *s = imv_strdup(&a, "ab\0cd", 5);
	ok(s && !memcmp(s, "ab\0cd", 6), "after a reset: strdup keeps NUL bytes and terminates");
	imv_arena_free(&a);
	ok(a.chunks == NULL, "freed");
}

static void test_writer(void)
{
	static const char *const samples[] = {
		"{\"b\":1,\"a\":[true,false,null,-5,0,9223372036854775807,-9223372036854775808],\"c\":{}}",
		"[\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001\\u001f del\\u007f utf8 \u00e9\u65e5 slash/\",[]]",
		"{\"r\":[1.5,-0.25,1e300,3.0,100000000000000000000.0,0.1,-0.0,5e-324]}",
		"{\"zz\":{\"y\":1,\"x\":{\"b\":[{\"d\":1,\"c\":2}],\"a\":\"\"}},\"Z\":0,\"\":1,\"aa\":2,\"a\":3}",
		"{\"a\\u0001b\":1,\"a\":2,\"a\\u0001\":3,\"\\u00e9\":4,\"A\":5,\"\\u001f\":6,\"s\":\"a\\u0000b\"}",
		"{\"k40\":1,\"k39\":1,\"k38\":1,\"k37\":1,\"k36\":1,\"k35\":1,\"k34\":1,\"k33\":1,\"k32\":1,\"k31\":1,"
		"\"k30\":1,\"k29\":1,\"k28\":1,\"k27\":1,\"k26\":1,\"k25\":1,\"k24\":1,\"k23\":1,\"k22\":1,\"k21\":1,"
		"\"k20\":1,\"k19\":1,\"k18\":1,\"k17\":1,\"k16\":1,\"k15\":1,\"k14\":1,\"k13\":1,\"k12\":1,\"k11\":1,"
		"\"k10\":1,\"k09\":1,\"k08\":1,\"k07\":1,\"k06\":1,\"k05\":1,\"k04\":1,\"k03\":1,\"k02\":1,\"k01\":1}",
		"\"just a string\"", "42", "null",
	};
	struct imv_arena a = {0};
	struct im_jbuf jb = {0}, jj = {0};
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		json_t *val = json_loads(samples[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		struct imv t;
		int built = val && imv_from_json(&a, val, &t) == 0;
		char *want = val ? dumps(val) : NULL;
		ok(built && im_imv_write(&jb, &t, 1) == 0 && want && !strcmp(jb.data, want),
		   "upper-hex text = json_dumps sorted (sample %zu)", i);
		if (want && jb.data && strcmp(jb.data, want))
			diag("got  %s\nwant %s", jb.data, want);
		ok(built && im_imv_write(&jb, &t, 0) == 0 && im_json_write(&jj, val, 1) == 0 &&
			   !strcmp(jb.data, jj.data),
		   "lower-hex text = im_json_write sorted (sample %zu)", i);
		free(want);
		json_decref(val);
	}
	/* Every ASCII byte at every offset of strings of every length up to 40
	 * (the escaper reads words, and the tail of a string as an overlapping one). */
	int same = 1;
	for (size_t len = 0; len <= 40 && same; len++) {
		for (int c = 1; c < 0x80 && same; c++) {
			for (size_t at = 0; at < len && same; at++) {
				char text[48];
				memset(text, 'a', len);
				if (len >= 4)
					memcpy(text + (at < 2 ? len - 2 : 0), "\xC3\xA9", 2);
				text[at] = (char)c;
				json_t *str = json_stringn(text, len);
				struct imv t;
				char *want = str ? dumps(str) : NULL;
				same = want && imv_from_json(&a, str, &t) == 0 && im_imv_write(&jb, &t, 1) == 0 &&
				       !strcmp(jb.data, want);
				if (!same)
					diag("len %zu byte %d at %zu: got %s want %s", len, c, at, jb.data, want);
				free(want);
				json_decref(str);
			}
		}
	}
	ok(same, "strings escape like json_dumps whatever byte sits at whatever offset, at any length");

	/* A record without kind/_source_id and with derived fields merged in. */
	json_t *rec = json_loads("{\"kind\":\"c2c_msg\",\"_source_id\":\"s\",\"To_Account\":\"b\",\"MsgBody\":[],"
				 "\"From_Account\":\"a\",\"MsgTimeStamp\":1,\"kindly\":0}",
				 0, NULL);
	struct imv t;
	static const struct im_jextra skip[] = {{"kind", 4, 0}, {"_source_id", 10, 0}};
	static const struct im_jextra extra[] = {{"MsgRandom", 9, 7}, {"MsgSeq", 6, -8}, {"zzz", 3, 9}};
	ok(rec && imv_from_json(&a, rec, &t) == 0 && im_imv_write_object(&jb, &t, skip, 2, extra, 3, 0) == 0,
	   "write_object");
	is_str(jb.data,
	       "{\"From_Account\":\"a\",\"MsgBody\":[],\"MsgRandom\":7,\"MsgSeq\":-8,\"MsgTimeStamp\":1,"
	       "\"To_Account\":\"b\",\"kindly\":0,\"zzz\":9}",
	       "members left out by exact name, extras merged in key order");
	struct imv s = {.type = IMV_STRING, .len = 1, .u.s = "x"};
	ok(im_imv_write_object(&jb, &s, NULL, 0, NULL, 0, 0) == -1, "write_object refuses a non-object");
	json_decref(rec);
	im_jbuf_free(&jb);
	im_jbuf_free(&jj);
	imv_arena_free(&a);
}

/* im_record_prepare (json_t, which it modifies) and im_record_prepare_v (a tree
 * of the same JSON) agree on everything, and the rejected text is what
 * json_dumps made of the modified json_t. */
static void test_prepare(void)
{
	static const char *const records[] = {
		"{\"kind\":\"account\",\"UserID\":\"alice\",\"Nick\":\"A\\u0001\",\"_source_id\":7}",
		"{\"kind\":\"account\",\"UserID\":\"alice\",\"Nick\":5}",
		"{\"kind\":\"account\",\"UserID\":\"a\\u0000b\"}",
		"{\"kind\":\"account\",\"UserID\":\"a\",\"_source_id\":1.5}",
		"{\"kind\":\"account\\u0000x\",\"UserID\":\"a\"}",
		"{\"kind\":\"c2c_msg\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":1700000000,"
		"\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi \\u001f\"}}]}",
		"{\"kind\":\"c2c_msg\",\"From_Account\":\"b\",\"To_Account\":\"a\",\"MsgTimeStamp\":1700000000,\"MsgSeq\":5,"
		"\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}],\"_source_id\":\"m1\"}",
		"{\"kind\":\"c2c_msg\",\"From_Account\":\"b\",\"To_Account\":\"a\",\"MsgTimeStamp\":1700000000,"
		"\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"" /* over the 120 bytes below */
		"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
		"\"}}],\"CloudCustomData\":\"CCD\"}",
		"{\"kind\":\"group_msg\",\"GroupId\":\"g1\",\"From_Account\":\"a\",\"SendTime\":1600000000,"
		"\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"x\"}}]}",
		"{\"kind\":\"group_msg\",\"GroupId\":\"g1\",\"From_Account\":\"a\",\"SendTime\":1600000000,\"Random\":3,"
		"\"MsgBody\":[{\"MsgType\":\"TIMSoundElem\",\"MsgContent\":{\"Url\":\"u\",\"UUID\":\"v\",\"Download_Flag\":2}}]}",
		"{\"kind\":\"group\",\"Type\":\"Private\",\"Name\":\"auto\"}",
		"{\"kind\":\"group\",\"Type\":\"Public\",\"Name\":\"n\",\"GroupId\":\"@TGS#x\"}",
		"{\"kind\":\"profile\",\"From_Account\":\"a\",\"ProfileItem\":[{\"Value\":\"\\u001f\",\"Tag\":\"Tag_Profile_Custom_X\"}]}",
		"{\"kind\":\"c2c_read\",\"Report_Account\":\"a\",\"Peer_Account\":\"b\",\"MsgReadTime\":\"17\"}",
		"{\"kind\":\"c2c_read\",\"Report_Account\":\"a\",\"Peer_Account\":\"b\"}",
		"{\"kind\":\"friend\",\"From_Account\":\"a\",\"To_Account\":\"b\",\"AddSource\":\"AddSource_Type_X\","
		"\"GroupName\":[\"\"]}",
		"{\"kind\":\"group_member\",\"GroupId\":\"g\",\"Member_Account\":\"m\",\"UnreadMsgNum\":-1}",
		"[1]",
		"\"x\"",
	};
	struct im_rules small;
	im_rules_defaults(&small);
	small.msg_max_bytes = 120;
	struct im_validator *vj = im_validator_new(&small), *vt = im_validator_new(&small);
	struct imv_arena a = {0};
	int same = 1;
	for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
		json_t *rec = json_loads(records[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		struct imv t;
		if (!rec || imv_from_json(&a, rec, &t)) {
			same = 0;
			diag("record %zu: bad test JSON", i);
			continue;
		}
		struct im_prepared pj, pt;
		char wj[512], wt[512];
		int rj = im_record_prepare(vj, rec, 5, &pj, wj, sizeof wj);
		int rt = im_record_prepare_v(vt, &t, 5, &pt, wt, sizeof wt);
		int agree = rj == rt && pj.kind == pt.kind;
		if (agree && rj == 0)
			agree = !strcmp(pj.payload, pt.payload) && pj.payload_len == pt.payload_len &&
				!strcmp(pj.conv, pt.conv) && !strcmp(pj.dedupe_key, pt.dedupe_key) && pj.ord == pt.ord &&
				(!pj.source_id) == (!pt.source_id) && (!pj.source_id || !strcmp(pj.source_id, pt.source_id));
		if (agree && rj != 0) {
			char *want = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
			const char *got = im_record_rejected_text(vt, &t);
			agree = !strcmp(wj, wt) && (!want) == (!got) && (!want || !strcmp(want, got));
			if (!agree)
				diag("rejected text: %s / %s", want ? want : "(null)", got ? got : "(null)");
			free(want);
		}
		if (!agree) {
			same = 0;
			diag("record %zu: json %d %s | tree %d %s", i, rj, rj ? wj : pj.payload, rt, rt ? wt : pt.payload);
		}
		json_decref(rec);
		imv_arena_reset(&a);
	}
	ok(same, "prepare on json_t and on its tree: same verdicts, reasons, keys, payloads, rejected texts");
	imv_arena_free(&a);
	im_validator_free(vj);
	im_validator_free(vt);
}

int main(void)
{
	test_arena();
	test_writer();
	test_prepare();
	return done_testing();
}
