/* The Lua engine: helpers, sandbox refusals, budgets, failures as dead letters,
 * JSON <-> Lua conversion. */
#include "config.h"

#include <lauxlib.h>

#include "imrecord.h"
#include "imval.h"
#include "jsonout.h"
#include "script.h"
#include "stage.h"
#include "tap.h"
#include "util.h"

static lua_State *L;

/* Runs a chunk returning one value; NULL and the message on error. */
static const char *eval_str(const char *code)
{
	static char out[512];
	im_lua_budget_reset(L);
	if (luaL_dostring(L, code) != LUA_OK) {
		snprintf(out, sizeof out, "ERROR: %s", lua_tostring(L, -1));
		lua_settop(L, 0);
		return out;
	}
	const char *s = lua_tostring(L, -1);
	snprintf(out, sizeof out, "%s", s ? s : lua_isnil(L, -1) ? "nil" : "?");
	lua_settop(L, 0);
	return out;
}

static long long eval_int(const char *code)
{
	im_lua_budget_reset(L);
	if (luaL_dostring(L, code) != LUA_OK) {
		diag("error: %s", lua_tostring(L, -1));
		lua_settop(L, 0);
		return -999999;
	}
	long long v = lua_isinteger(L, -1) ? (long long)lua_tointeger(L, -1) : -888888;
	lua_settop(L, 0);
	return v;
}

static void test_helpers(void)
{
	/* Fixed forever (checked against an independent Python implementation of FNV-1a 64 +
	 * murmur3 fmix64 + fold): derived MsgSeq/MsgRandom of staged messages depend on them. */
	is_int(im_id32("", 0), 1430861382u, "id32 of the empty string is fixed");
	is_int(im_id32("hello", 5), 343363716u, "id32('hello') is fixed");
	is_int(eval_int("return immigrate.id32('hello')"), im_id32("hello", 5), "immigrate.id32 = im_id32");
	ok(im_id32("msg-1", 5) != im_id32("msg-2", 5), "id32 tells near ids apart");

	is_int(eval_int("return immigrate.seconds(1700000000)"), 1700000000, "seconds: seconds stay");
	is_int(eval_int("return immigrate.seconds(1700000000123)"), 1700000000, "seconds: milliseconds");
	is_int(eval_int("return immigrate.seconds(1700000000123456)"), 1700000000, "seconds: microseconds");
	is_int(eval_int("return immigrate.seconds(1700000000.75)"), 1700000000, "seconds: a float floors");
	is_int(eval_int("return immigrate.seconds('1700000000123')"), 1700000000, "seconds: a numeric string");
	is_int(eval_int("return immigrate.seconds('2024-01-02T03:04:05Z')"), 1704164645, "seconds: ISO Z");
	is_int(eval_int("return immigrate.seconds('2024-01-02T11:04:05+08:00')"), 1704164645,
	       "seconds: ISO +08:00");
	is_int(eval_int("return immigrate.seconds('2024-01-01T22:04:05-0500')"), 1704164645,
	       "seconds: ISO -0500");
	is_int(eval_int("return immigrate.seconds('2024-01-02T03:04:05.999Z')"), 1704164645,
	       "seconds: fractional seconds do not round up");
	is_int(eval_int("return immigrate.seconds('2024-01-02 03:04:05')"), 1704164645,
	       "seconds: space separator, no zone is UTC");
	is_int(eval_int("return immigrate.seconds('2024-01-02')"), 1704153600, "seconds: a date alone");
	is_int(eval_int("return immigrate.seconds(-1000)"), -1000, "seconds: before 1970");
	ok(!strncmp(eval_str("return immigrate.seconds('yesterday')"), "ERROR:", 6),
	   "seconds: an unreadable string is an error");
	ok(!strncmp(eval_str("return immigrate.seconds('2024-13-01T00:00:00Z')"), "ERROR:", 6),
	   "seconds: month 13 is an error");

	is_str(eval_str("return immigrate.truncate('h\\xc3\\xa9llo', 2)"), "h", "truncate never cuts a 2-byte char");
	is_str(eval_str("return immigrate.truncate('\\xe6\\x97\\xa5\\xe6\\x9c\\xac\\xe8\\xaa\\x9e', 7)"),
	       "\xe6\x97\xa5\xe6\x9c\xac", "truncate keeps whole 3-byte chars");
	is_str(eval_str("return immigrate.truncate('\\xf0\\x9f\\x98\\x80x', 3)"), "", "truncate drops a cut 4-byte char");
	is_str(eval_str("return immigrate.truncate('abc', 5)"), "abc", "truncate leaves short strings");

	is_str(eval_str("return immigrate.userid('alice')"), "alice", "userid keeps a valid id");
	const char *h = eval_str("return immigrate.userid(string.rep('x', 40))");
	ok(strlen(h) == 32 && !strncmp(h, "u_", 2), "userid hashes a 40-byte id to 32 bytes (%s)", h);
	char first[64];
	snprintf(first, sizeof first, "%s", h);
	is_str(eval_str("return immigrate.userid(string.rep('x', 40))"), first, "userid hashing is stable");
	is_str(eval_str("return immigrate.groupid('room-1')"), "room-1", "groupid keeps a valid id");
	h = eval_str("return immigrate.groupid('@TGS#abc')");
	ok(!strncmp(h, "g_", 2) && strlen(h) < 48, "groupid hashes a reserved @TGS# id (%s)", h);
	h = eval_str("return immigrate.groupid('\\xe7\\xbe\\xa4')");
	ok(!strncmp(h, "g_", 2), "groupid hashes a non-ASCII id");

	is_str(eval_str("return immigrate.json_encode(immigrate.text('hi'))"),
	       "{\"MsgContent\":{\"Text\":\"hi\"},\"MsgType\":\"TIMTextElem\"}", "text() builds a TIMTextElem");
	is_str(eval_str("return immigrate.json_encode(immigrate.sound{url='http://x/a.mp3', seconds=3})"),
	       "{\"MsgContent\":{\"Download_Flag\":2,\"Second\":3,\"UUID\":\"9e25e98f498c41296ae872ff5da4145a\","
	       "\"Url\":\"http://x/a.mp3\"},\"MsgType\":\"TIMSoundElem\"}",
	       "sound() fills Download_Flag and a UUID from the URL");
	const char *img = eval_str("return immigrate.json_encode(immigrate.image{url='http://x/p.png', format='png', "
				   "width=10, height=20})");
	ok(strstr(img, "\"ImageFormat\":3") && strstr(img, "\"Type\":3") && strstr(img, "\"Width\":10"),
	   "image() maps the format name and fills three sizes");
	ok(!strncmp(eval_str("return immigrate.image{}"), "ERROR:", 6), "image() without url is an error");
	is_str(eval_str("return immigrate.json_encode({a = immigrate.null, b = {}, c = immigrate.object()})"),
	       "{\"a\":null,\"b\":[],\"c\":{}}", "null, empty array and forced empty object encode");
	is_str(eval_str("local v = immigrate.json_decode('{\"x\":[1,2.5,\"s\",null,{}]}') "
			"return immigrate.json_encode(v)"),
	       "{\"x\":[1,2.5,\"s\",null,{}]}", "json_decode/json_encode round-trip keeps {} and null");
	is_int(eval_int("return math.type(immigrate.json_decode('12')) == 'integer' and 1 or 0"), 1,
	       "JSON integers stay Lua integers");
}

/* The helpers' results and errors, pinned: each case is pcall(<args>), shown
 * as JSON (sorted keys) or "ERR <message>". Recorded from the builders as they
 * were before they took their field names from upvalues and cached ids. */
static void test_helper_results(void)
{
	static const struct {
		const char *args, *want;
	} cases[] = {
		{"immigrate.text, 'hi'",
		 "{\"MsgContent\":{\"Text\":\"hi\"},\"MsgType\":\"TIMTextElem\"}"},
		{"immigrate.text, 42",
		 "{\"MsgContent\":{\"Text\":\"42\"},\"MsgType\":\"TIMTextElem\"}"},
		{"immigrate.text, 1.5",
		 "{\"MsgContent\":{\"Text\":\"1.5\"},\"MsgType\":\"TIMTextElem\"}"},
		{"immigrate.text, nil",
		 "ERR immigrate.text: expected a string, got nil"},
		{"immigrate.text, {}",
		 "ERR immigrate.text: expected a string, got table"},
		{"immigrate.text",
		 "ERR bad argument #1 to '?' (value expected)"},
		{"immigrate.face, {index=1}",
		 "{\"MsgContent\":{\"Index\":1},\"MsgType\":\"TIMFaceElem\"}"},
		{"immigrate.face, {index=1.0, data='d'}",
		 "{\"MsgContent\":{\"Data\":\"d\",\"Index\":1},\"MsgType\":\"TIMFaceElem\"}"},
		{"immigrate.face, {index=1.5}",
		 "{\"MsgContent\":{\"Index\":1.5},\"MsgType\":\"TIMFaceElem\"}"},
		{"immigrate.face, {}",
		 "ERR immigrate.face: index is required"},
		{"immigrate.face, {index='x'}",
		 "ERR immigrate.face: index must be a number"},
		{"immigrate.face, {index='3', data=7}",
		 "{\"MsgContent\":{\"Data\":\"7\",\"Index\":3},\"MsgType\":\"TIMFaceElem\"}"},
		{"immigrate.face, 1",
		 "ERR bad argument #1 to '?' (table expected, got number)"},
		{"immigrate.face, {index=2, data={}}",
		 "ERR immigrate.face: data must be a string, not a table"},
		{"immigrate.location, {lat=1, lng=2, desc='here'}",
		 "{\"MsgContent\":{\"Desc\":\"here\",\"Latitude\":1,\"Longitude\":2},\"MsgType\":\"TIMLocationElem"
		  "\"}"},
		{"immigrate.location, {lat=1.25, lng='2'}",
		 "{\"MsgContent\":{\"Latitude\":1.25,\"Longitude\":2},\"MsgType\":\"TIMLocationElem\"}"},
		{"immigrate.location, {lat=1}",
		 "ERR immigrate.location: lng is required"},
		{"immigrate.location, {lng=1}",
		 "ERR immigrate.location: lat is required"},
		{"immigrate.location, {lat=true, lng=1}",
		 "ERR immigrate.location: lat must be a number"},
		{"immigrate.location, {lat=1, lng=2, desc=false}",
		 "ERR immigrate.location: desc must be a string, not a boolean"},
		{"immigrate.custom, {}",
		 "{\"MsgContent\":{\"Data\":\"\"},\"MsgType\":\"TIMCustomElem\"}"},
		{"immigrate.custom, {data='d', desc=1, ext='e', sound='s'}",
		 "{\"MsgContent\":{\"Data\":\"d\",\"Desc\":\"1\",\"Ext\":\"e\",\"Sound\":\"s\"},\"MsgType\":\"TIMC"
		  "ustomElem\"}"},
		{"immigrate.custom, {data={}}",
		 "ERR immigrate.custom: data must be a string, not a table"},
		{"immigrate.custom, {sound=true}",
		 "ERR immigrate.custom: sound must be a string, not a boolean"},
		{"immigrate.custom, 'x'",
		 "ERR bad argument #1 to '?' (table expected, got string)"},
		{"immigrate.image, {url='u'}",
		 "{\"MsgContent\":{\"ImageFormat\":255,\"ImageInfoArray\":[{\"Height\":0,\"Size\":0,\"Type\":1,\"U"
		  "RL\":\"u\",\"Width\":0},{\"Height\":0,\"Size\":0,\"Type\":2,\"URL\":\"u\",\"Width\":0},{\"Height"
		  "\":0,\"Size\":0,\"Type\":3,\"URL\":\"u\",\"Width\":0}],\"UUID\":\"0bfe935e70c321c7ca3afc75ce0d0c"
		  "a2\"},\"MsgType\":\"TIMImageElem\"}"},
		{"immigrate.image, {url='u', uuid='x', format='JPG', size=10, width=1.5, height='7'}",
		 "{\"MsgContent\":{\"ImageFormat\":1,\"ImageInfoArray\":[{\"Height\":7,\"Size\":10,\"Type\":1,\"UR"
		  "L\":\"u\",\"Width\":1.5},{\"Height\":7,\"Size\":10,\"Type\":2,\"URL\":\"u\",\"Width\":1.5},{\"He"
		  "ight\":7,\"Size\":10,\"Type\":3,\"URL\":\"u\",\"Width\":1.5}],\"UUID\":\"x\"},\"MsgType\":\"TIMI"
		  "mageElem\"}"},
		{"immigrate.image, {url='u', format=2}",
		 "{\"MsgContent\":{\"ImageFormat\":2,\"ImageInfoArray\":[{\"Height\":0,\"Size\":0,\"Type\":1,\"URL"
		  "\":\"u\",\"Width\":0},{\"Height\":0,\"Size\":0,\"Type\":2,\"URL\":\"u\",\"Width\":0},{\"Height\""
		  ":0,\"Size\":0,\"Type\":3,\"URL\":\"u\",\"Width\":0}],\"UUID\":\"0bfe935e70c321c7ca3afc75ce0d0ca2"
		  "\"},\"MsgType\":\"TIMImageElem\"}"},
		{"immigrate.image, {url='u', format=2.5}",
		 "{\"MsgContent\":{\"ImageFormat\":0,\"ImageInfoArray\":[{\"Height\":0,\"Size\":0,\"Type\":1,\"URL"
		  "\":\"u\",\"Width\":0},{\"Height\":0,\"Size\":0,\"Type\":2,\"URL\":\"u\",\"Width\":0},{\"Height\""
		  ":0,\"Size\":0,\"Type\":3,\"URL\":\"u\",\"Width\":0}],\"UUID\":\"0bfe935e70c321c7ca3afc75ce0d0ca2"
		  "\"},\"MsgType\":\"TIMImageElem\"}"},
		{"immigrate.image, {url='u', format='tiff'}",
		 "{\"MsgContent\":{\"ImageFormat\":255,\"ImageInfoArray\":[{\"Height\":0,\"Size\":0,\"Type\":1,\"U"
		  "RL\":\"u\",\"Width\":0},{\"Height\":0,\"Size\":0,\"Type\":2,\"URL\":\"u\",\"Width\":0},{\"Height"
		  "\":0,\"Size\":0,\"Type\":3,\"URL\":\"u\",\"Width\":0}],\"UUID\":\"0bfe935e70c321c7ca3afc75ce0d0c"
		  "a2\"},\"MsgType\":\"TIMImageElem\"}"},
		{"immigrate.image, {url='u', format='jpeg', uuid=12}",
		 "{\"MsgContent\":{\"ImageFormat\":1,\"ImageInfoArray\":[{\"Height\":0,\"Size\":0,\"Type\":1,\"URL"
		  "\":\"u\",\"Width\":0},{\"Height\":0,\"Size\":0,\"Type\":2,\"URL\":\"u\",\"Width\":0},{\"Height\""
		  ":0,\"Size\":0,\"Type\":3,\"URL\":\"u\",\"Width\":0}],\"UUID\":\"12\"},\"MsgType\":\"TIMImageElem"
		  "\"}"},
		{"immigrate.image, {url='u', format={}}",
		 "ERR immigrate.image: format must be a number or a name like \"png\""},
		{"immigrate.image, {url=5}",
		 "ERR immigrate.image: url is required"},
		{"immigrate.image, {}",
		 "ERR immigrate.image: url is required"},
		{"immigrate.image, {url='u', size='big'}",
		 "ERR immigrate.image: size must be a number"},
		{"immigrate.image, {url='u', width={}}",
		 "ERR immigrate.image: width must be a number"},
		{"immigrate.image, {url='u', height=true, size='x'}",
		 "ERR immigrate.image: size must be a number"},
		{"immigrate.image, {url='u', uuid={}}",
		 "ERR immigrate.image: uuid must be a string, not a table"},
		{"immigrate.image, {url='u', uuid={}, format={}}",
		 "ERR immigrate.image: uuid must be a string, not a table"},
		{"immigrate.image, {url='u', format={}, size='x'}",
		 "ERR immigrate.image: format must be a number or a name like \"png\""},
		{"immigrate.image, 'u'",
		 "ERR bad argument #1 to '?' (table expected, got string)"},
		{"immigrate.image, {url='http://x/p.png', format='png', width=10, height=20, size=300}",
		 "{\"MsgContent\":{\"ImageFormat\":3,\"ImageInfoArray\":[{\"Height\":20,\"Size\":300,\"Type\":1,\""
		  "URL\":\"http://x/p.png\",\"Width\":10},{\"Height\":20,\"Size\":300,\"Type\":2,\"URL\":\"http://x"
		  "/p.png\",\"Width\":10},{\"Height\":20,\"Size\":300,\"Type\":3,\"URL\":\"http://x/p.png\",\"Width"
		  "\":10}],\"UUID\":\"35ddf6d071a9b96a29e9a68d1d9efdc9\"},\"MsgType\":\"TIMImageElem\"}"},
		{"immigrate.image, {url='u', format='GIF', size=-1, width=1e3, height=2^53}",
		 "{\"MsgContent\":{\"ImageFormat\":2,\"ImageInfoArray\":[{\"Height\":9007199254740992,\"Size\":-1,"
		  "\"Type\":1,\"URL\":\"u\",\"Width\":1000},{\"Height\":9007199254740992,\"Size\":-1,\"Type\":2,\"U"
		  "RL\":\"u\",\"Width\":1000},{\"Height\":9007199254740992,\"Size\":-1,\"Type\":3,\"URL\":\"u\",\"W"
		  "idth\":1000}],\"UUID\":\"0bfe935e70c321c7ca3afc75ce0d0ca2\"},\"MsgType\":\"TIMImageElem\"}"},
		{"immigrate.sound, {url='u'}",
		 "{\"MsgContent\":{\"Download_Flag\":2,\"UUID\":\"0bfe935e70c321c7ca3afc75ce0d0ca2\",\"Url\":\"u\""
		  "},\"MsgType\":\"TIMSoundElem\"}"},
		{"immigrate.sound, {url='u', uuid='x', size=1, seconds=2.5}",
		 "{\"MsgContent\":{\"Download_Flag\":2,\"Second\":2.5,\"Size\":1,\"UUID\":\"x\",\"Url\":\"u\"},\"M"
		  "sgType\":\"TIMSoundElem\"}"},
		{"immigrate.sound, {}",
		 "ERR immigrate.sound: url is required"},
		{"immigrate.sound, {url=3}",
		 "{\"MsgContent\":{\"Download_Flag\":2,\"UUID\":\"4e07408562bedb8b60ce05c1decfe3ad\",\"Url\":\"3\""
		  "},\"MsgType\":\"TIMSoundElem\"}"},
		{"immigrate.sound, {url='u', seconds='s'}",
		 "ERR immigrate.sound: seconds must be a number"},
		{"immigrate.file, {url='u', name='n', size=3}",
		 "{\"MsgContent\":{\"Download_Flag\":2,\"FileName\":\"n\",\"FileSize\":3,\"UUID\":\"0bfe935e70c321"
		  "c7ca3afc75ce0d0ca2\",\"Url\":\"u\"},\"MsgType\":\"TIMFileElem\"}"},
		{"immigrate.file, {}",
		 "ERR immigrate.file: url is required"},
		{"immigrate.file, {url='u', name={}}",
		 "ERR immigrate.file: name must be a string, not a table"},
		{"immigrate.file, {url='u', uuid='f'}",
		 "{\"MsgContent\":{\"Download_Flag\":2,\"UUID\":\"f\",\"Url\":\"u\"},\"MsgType\":\"TIMFileElem\"}"},
		{"immigrate.video, {url='u'}",
		 "{\"MsgContent\":{\"ThumbDownloadFlag\":2,\"VideoDownloadFlag\":2,\"VideoUUID\":\"0bfe935e70c321c"
		  "7ca3afc75ce0d0ca2\",\"VideoUrl\":\"u\"},\"MsgType\":\"TIMVideoFileElem\"}"},
		{"immigrate.video, {url='u', thumb_url='t'}",
		 "{\"MsgContent\":{\"ThumbDownloadFlag\":2,\"ThumbUUID\":\"e3b98a4da31a127d4bde6e43033f66ba\",\"Th"
		  "umbUrl\":\"t\",\"VideoDownloadFlag\":2,\"VideoUUID\":\"0bfe935e70c321c7ca3afc75ce0d0ca2\",\"Vide"
		  "oUrl\":\"u\"},\"MsgType\":\"TIMVideoFileElem\"}"},
		{"immigrate.video, {url='u', uuid='vu', thumb_url='t', thumb_uuid='tu', format='mp4', thumb_format"
		  "='jpg', size=1, seconds=2, thumb_size=3, thumb_width=4, thumb_height=5}",
		 "{\"MsgContent\":{\"ThumbDownloadFlag\":2,\"ThumbFormat\":\"jpg\",\"ThumbHeight\":5,\"ThumbSize\""
		  ":3,\"ThumbUUID\":\"tu\",\"ThumbUrl\":\"t\",\"ThumbWidth\":4,\"VideoDownloadFlag\":2,\"VideoForma"
		  "t\":\"mp4\",\"VideoSecond\":2,\"VideoSize\":1,\"VideoUUID\":\"vu\",\"VideoUrl\":\"u\"},\"MsgType"
		  "\":\"TIMVideoFileElem\"}"},
		{"immigrate.video, {}",
		 "ERR immigrate.video: url is required"},
		{"immigrate.video, {url='u', thumb_uuid='tu'}",
		 "{\"MsgContent\":{\"ThumbDownloadFlag\":2,\"VideoDownloadFlag\":2,\"VideoUUID\":\"0bfe935e70c321c"
		  "7ca3afc75ce0d0ca2\",\"VideoUrl\":\"u\"},\"MsgType\":\"TIMVideoFileElem\"}"},
		{"immigrate.video, {url='u', thumb_width='w'}",
		 "ERR immigrate.video: thumb_width must be a number"},
		{"immigrate.video, {url='u', thumb_url={}}",
		 "ERR immigrate.video: thumb_url must be a string, not a table"},
		{"immigrate.userid, 'alice'",
		 "string alice"},
		{"immigrate.userid, string.rep('x', 40)",
		 "string u_bd913ff68243d41b9611b2690dfbf2"},
		{"immigrate.userid, string.rep('x', 40)",
		 "string u_bd913ff68243d41b9611b2690dfbf2"},
		{"immigrate.userid, 123",
		 "string 123"},
		{"immigrate.userid, 12.5",
		 "string 12.5"},
		{"immigrate.userid, {}",
		 "ERR bad argument #1 to '?' (string expected, got table)"},
		{"immigrate.userid",
		 "ERR bad argument #1 to '?' (string expected, got no value)"},
		{"immigrate.userid, ''",
		 "string u_e3b0c44298fc1c149afbf4c8996fb9"},
		{"immigrate.userid, 'a\\0b'",
		 "string u_59b271ae1bbcb1d31d41929817f4b1"},
		{"immigrate.userid, 'administrator'",
		 "string administrator"},
		{"immigrate.userid, '\\xe7\\xbe\\xa4'",
		 "string \xe7\xbe\xa4"},
		{"immigrate.userid, '\\xff'",
		 "string u_a8100ae6aa1940d0b663bb31cd4661"},
		{"immigrate.userid, string.rep('y', 32)",
		 "string yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"},
		{"immigrate.userid, string.rep('y', 33)",
		 "string u_d7ba82ebfa31e1fa958857e6be616b"},
		{"immigrate.userid, string.rep('z', 200)",
		 "string u_983a71da81783dfb18f7617e411156"},
		{"immigrate.userid, string.rep('z', 200)",
		 "string u_983a71da81783dfb18f7617e411156"},
		{"immigrate.userid, 'a b'",
		 "string a b"},
		{"immigrate.userid, '@TGS#x'",
		 "string @TGS#x"},
		{"immigrate.groupid, 'room-1'",
		 "string room-1"},
		{"immigrate.groupid, '@TGS#abc'",
		 "string g_6eb08143889f3fc27858ee67398cba281eba8305"},
		{"immigrate.groupid, '\\xe7\\xbe\\xa4'",
		 "string g_0df737cb62bb5175b353053ea9998926432da8e4"},
		{"immigrate.groupid, string.rep('g', 47)",
		 "string ggggggggggggggggggggggggggggggggggggggggggggggg"},
		{"immigrate.groupid, string.rep('g', 48)",
		 "string g_fcf9e935ceb5086c83af273685397d000552388f"},
		{"immigrate.groupid, 7",
		 "string 7"},
		{"immigrate.groupid, 'alice'",
		 "string alice"},
		{"immigrate.groupid, ''",
		 "string g_e3b0c44298fc1c149afbf4c8996fb92427ae41e4"},
		{"immigrate.groupid, nil",
		 "ERR bad argument #1 to '?' (string expected, got nil)"},
		{"immigrate.groupid, 'a\\0b'",
		 "string g_59b271ae1bbcb1d31d41929817f4b16fb439eb4f"},
		{"function() return {immigrate.userid('alice'), immigrate.groupid('alice'), immigrate.userid('alic"
		  "e')} end",
		 "[\"alice\",\"alice\",\"alice\"]"},
		{"function() return {immigrate.userid(string.rep('q', 40)), immigrate.groupid(string.rep('q', 40))"
		  ", immigrate.userid(string.rep('q', 40)), immigrate.groupid(string.rep('q', 40))} end",
		 "[\"u_b74e475685fce884727c00c1016e24\",\"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\",\"u_b74e47568"
		  "5fce884727c00c1016e24\",\"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\"]"},
		{"immigrate.truncate, 'abc', 2",
		 "string ab"},
		{"immigrate.truncate, 123, 2",
		 "string 12"},
		{"immigrate.truncate, 'abc', -1",
		 "ERR immigrate.truncate: negative length"},
		{"immigrate.truncate, 'abc'",
		 "ERR bad argument #2 to '?' (number expected, got no value)"},
		{"immigrate.truncate, 'abc', 1.5",
		 "ERR bad argument #2 to '?' (number has no integer representation)"},
		{"immigrate.seconds, 'x'",
		 "ERR immigrate.seconds: 'x' is neither a number nor an ISO-8601 time"},
		{"immigrate.seconds, {}",
		 "ERR immigrate.seconds: expected a number or a string, got table"},
		{"immigrate.seconds, 0/0",
		 "ERR immigrate.seconds: not a finite number"},
		{"immigrate.seconds, -1700000000123",
		 "number -1700000001"},
		{"immigrate.seconds, -1700000000123456",
		 "number -1700000001"},
		{"function() return math.type(immigrate.seconds(1.5e12)) end",
		 "string integer"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char code[1024];
		snprintf(code, sizeof code,
			 "local ok, v = pcall(%s) "
			 "if not ok then return 'ERR ' .. tostring(v) end "
			 "if type(v) == 'table' then return immigrate.json_encode(v) end "
			 "return type(v) .. ' ' .. tostring(v)",
			 cases[i].args);
		is_str(eval_str(code), cases[i].want, "pcall(%s)", cases[i].args);
	}
}

static void test_sandbox(void)
{
	is_str(eval_str("return tostring(io) .. tostring(os) .. tostring(require) .. tostring(debug) .. "
			"tostring(package) .. tostring(dofile) .. tostring(loadfile)"),
	       "nilnilnilnilnilnilnil", "no io, os, require, debug, package, dofile, loadfile");
	is_str(eval_str("return tostring(string.dump)"), "nil", "no string.dump");
	is_str(eval_str("local f, e = load('\\27Lua\\x54\\0junk') return e"),
	       "load: binary chunks are not allowed in the sandbox", "load refuses bytecode");
	is_int(eval_int("return load('return 1 + 1')()"), 2, "load still runs text chunks");
	ok(strstr(eval_str("local f, e = load(function() return '\\27Lua' end) return tostring(e)"),
		  "binary") != NULL,
	   "load refuses bytecode from a reader function too");
	ok(strstr(eval_str("while true do end"), "instruction budget") != NULL,
	   "an endless loop at top level hits the instruction budget");
}

static const char *script_text =
	"local seen = 0\n"                                                 /* 1 */
	"function map(rec, ctx)\n"                                         /* 2 */
	"  seen = seen + 1\n"                                              /* 3 */
	"  if rec.loop then while true do end end\n"                       /* 4 */
	"  if rec.mem then local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 1000) .. i end end\n" /* 5 */
	"  if rec.boom then error('boom') end\n"                          /* 6 */
	"  if rec.refuse then return nil, 'not this one' end\n"            /* 7 */
	"  if rec.bad then return 42 end\n"                                /* 8 */
	"  if rec.badutf then return {kind='account', UserID=rec.badutf == true and '\\xff' or 'abcdefghijklmnop\\xc3('} end\n" /* 9 */
	"  if rec.many then\n"                                             /* 10 */
	"    immigrate.emit({kind='account', UserID='e1'})\n"              /* 11 */
	"    return {{kind='account', UserID='r1'}, {kind='account', UserID='r2'}}\n"
	"  end\n"
	"  if rec.echo then return {kind='echo', rec=rec, stream=ctx.stream, sid=ctx.source_id, "
	"origin=ctx.origin, opt=immigrate.option('flag')} end\n"
	"  return {kind='account', UserID=rec.id, _source_id=rec.id}\n"
	"end\n"
	"function finish(ctx) return {kind='account', UserID='total' .. seen} end\n";

static int call(struct im_script *s, const char *json, json_t **out, struct im_script_failure *f)
{
	json_t *data = json_loads(json, 0, NULL);
	struct im_script_input in = {.stream = "users", .source_id = "sid-9", .origin = "x.jsonl:3", .data = data};
	int rc = im_script_map(s, &in, out, f);
	json_decref(data);
	return rc;
}

static void test_engine(void)
{
	json_t *opts = json_pack("{s:b}", "flag", 1);
	struct im_script_config cfg = {
		.path = scratch_file("s.lua", script_text),
		.options = opts,
		.memory_limit = 8u << 20,
		.instruction_limit = 200000,
	};
	char err[512];
	struct im_script *s;
	if (!ok(im_script_open(&cfg, &s, err, sizeof err) == 0, "script opens")) {
		diag("%s", err);
		json_decref(opts);
		return;
	}
	ok(im_script_has_finish(s), "finish() is found");
	json_t *out;
	struct im_script_failure f;

	is_int(call(s, "{\"id\":\"u1\"}", &out, &f), 0, "a plain record maps");
	is_int(json_array_size(out), 1, "one record");
	is_str(json_string_value(json_object_get(json_array_get(out, 0), "UserID")), "u1", "with its field");

	is_int(call(s, "{\"loop\":true}", &out, &f), 1, "an endless loop dead-letters the record");
	ok(strstr(f.reason, "instruction budget") != NULL, "reason: %s", f.reason);
	is_str(f.where, "s.lua:4", "where: the looping line");

	is_int(call(s, "{\"mem\":true}", &out, &f), 1, "blowing the memory cap dead-letters the record");
	ok(strstr(f.reason, "memory cap") != NULL, "reason: %s", f.reason);
	ok(!strncmp(f.where, "s.lua:", 6), "where: %s", f.where);
	is_int(call(s, "{\"id\":\"u2\"}", &out, &f), 0, "the next record maps after a memory failure");

	is_int(call(s, "{\"boom\":true}", &out, &f), 1, "error() dead-letters");
	is_str(f.where, "s.lua:6", "where: the error() line");
	is_str(f.reason, "boom", "reason without the position prefix");

	is_int(call(s, "{\"refuse\":true}", &out, &f), 1, "return nil, reason dead-letters");
	is_str(f.reason, "not this one", "with the returned reason");
	is_str(f.where, "s.lua:2", "where: map's definition");

	is_int(call(s, "{\"bad\":true}", &out, &f), 1, "returning a number dead-letters");
	is_int(call(s, "{\"badutf\":true}", &out, &f), 1, "invalid UTF-8 in a result dead-letters");
	ok(strstr(f.reason, "UserID") && strstr(f.reason, "UTF-8"), "naming the field: %s", f.reason);
	is_int(call(s, "{\"badutf\":2}", &out, &f), 1, "invalid UTF-8 after two words of ASCII dead-letters");
	is_int(call(s, "{\"id\":\"abcdefghijklmnop\\u00e9\\ud83d\\ude00xyz\"}", &out, &f), 0,
	       "valid UTF-8 after two words of ASCII maps");
	is_str(json_string_value(json_object_get(json_array_get(out, 0), "UserID")),
	       "abcdefghijklmnop\xC3\xA9\xF0\x9F\x98\x80xyz", "and comes back unchanged");

	is_int(call(s, "{\"many\":true}", &out, &f), 0, "emit plus a returned array");
	is_int(json_array_size(out), 3, "three records");
	is_str(json_string_value(json_object_get(json_array_get(out, 0), "UserID")), "e1", "emitted first");
	is_str(json_string_value(json_object_get(json_array_get(out, 2), "UserID")), "r2", "then returned, in order");

	is_int(call(s, "{\"echo\":true,\"n\":null,\"o\":{},\"a\":[],\"i\":7,\"r\":1.5}", &out, &f), 0, "echo");
	json_t *e = json_array_get(out, 0);
	char *text = json_dumps(json_object_get(e, "rec"), JSON_SORT_KEYS | JSON_COMPACT);
	is_str(text, "{\"a\":[],\"echo\":true,\"i\":7,\"n\":null,\"o\":{},\"r\":1.5}",
	       "the native record survives JSON -> Lua -> JSON");
	free(text);
	is_str(json_string_value(json_object_get(e, "stream")), "users", "ctx.stream");
	is_str(json_string_value(json_object_get(e, "sid")), "sid-9", "ctx.source_id");
	is_str(json_string_value(json_object_get(e, "origin")), "x.jsonl:3", "ctx.origin");
	ok(json_is_true(json_object_get(e, "opt")), "immigrate.option reads script_options");

	is_int(im_script_finish(s, &out, &f), 0, "finish() runs");
	is_str(json_string_value(json_object_get(json_array_get(out, 0), "UserID")), "total12",
	       "finish sees the state map() kept in upvalues (12 calls of map)");
	im_script_close(s);

	cfg.path = scratch_file("syntax.lua", "function map(rec)\n  return {\nend\n");
	ok(im_script_open(&cfg, &s, err, sizeof err) < 0 && strstr(err, "syntax.lua:3"),
	   "a syntax error names file and line: %s", err);
	cfg.path = scratch_file("nomap.lua", "x = 1\n");
	ok(im_script_open(&cfg, &s, err, sizeof err) < 0 && strstr(err, "map"), "a script without map is refused");
	cfg.path = scratch_file("req.lua", "local j = require('json')\nfunction map() end\n");
	ok(im_script_open(&cfg, &s, err, sizeof err) < 0 && strstr(err, "req.lua:1"),
	   "require at load time fails with its line: %s", err);
	json_decref(opts);
}

/* The id of native record i in test_ids: kept as is, hashed, or hashed and
 * longer than the cache keeps inline. */
static void ids_nth(int i, char *out, size_t size)
{
	if (i % 3 == 0)
		snprintf(out, size, "u%d", i);
	else if (i % 3 == 1)
		snprintf(out, size, "a-legacy-id-longer-than-thirty-two-bytes-%d", i);
	else
		snprintf(out, size, "%0100d", i);
}

/* userid/groupid remember what they made: the same answers as computing them
 * afresh, through a cache far smaller than the ids seen (slots reused), and
 * every hashed id in the id map. */
static void test_ids(void)
{
	char err[512];
	struct im_stage *st = NULL;
	const char *db = scratch_file("ids.db", "");
	remove(db);
	if (!ok(im_stage_open(db, &st, err, sizeof err) == 0, "a stage for the id map")) {
		diag("%s", err);
		return;
	}
	struct im_script_config cfg = {
		.path = scratch_file("ids.lua", "function map(rec)\n"
						"  return {kind='x', u=immigrate.userid(rec.id), g=immigrate.groupid(rec.id)}\n"
						"end\n"),
		.stage = st,
	};
	struct im_script *s;
	if (!ok(im_script_open(&cfg, &s, err, sizeof err) == 0, "ids.lua opens")) {
		diag("%s", err);
		im_stage_close(st);
		return;
	}
	int same = 1, mapped = 1;
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < 3000; i++) {
			char id[128], u[IM_GROUPID_MAX + 1], g[IM_GROUPID_MAX + 1];
			ids_nth(pass == 1 ? 2999 - i : i, id, sizeof id);
			json_t *data = json_pack("{s:s}", "id", id);
			struct im_script_input in = {.stream = "s", .data = data};
			json_t *out;
			struct im_script_failure f;
			int rc = im_script_map(s, &in, &out, &f);
			json_t *r = rc == 0 ? json_array_get(out, 0) : NULL;
			const char *gu = json_string_value(json_object_get(r, "u"));
			const char *gg = json_string_value(json_object_get(r, "g"));
			int ru = im_userid_sanitize(id, strlen(id), u), rg = im_groupid_sanitize(id, strlen(id), g);
			if (!gu || !gg || strcmp(gu, u) || strcmp(gg, g)) {
				if (same)
					diag("pass %d id %s: got %s %s, want %s %s", pass, id, gu ? gu : "-",
					     gg ? gg : "-", u, g);
				same = 0;
			}
			char *nu = NULL, *ng = NULL;
			if (pass == 2 && ((ru > 0 && (im_stage_idmap_get(st, "user", id, &nu) != 0 || strcmp(nu, u))) ||
					  (rg > 0 && (im_stage_idmap_get(st, "group", id, &ng) != 0 || strcmp(ng, g)))))
				mapped = 0;
			free(nu);
			free(ng);
			json_decref(data);
		}
	}
	ok(same, "3 x 3000 ids, forwards, backwards, forwards: the ids im_*_sanitize make");
	ok(mapped, "every hashed id is in the id map");
	im_script_close(s);
	im_stage_close(st);
}

/* ctx is a new table on every call, whatever the script did to the last one,
 * and follows the stream of each record. */
static void test_ctx(void)
{
	char err[512];
	struct im_script_config cfg = {
		.path = scratch_file("ctx.lua", "local last\n"
						"function map(rec, ctx)\n"
						"  local same = last == ctx\n"
						"  local n = 0 for _ in pairs(ctx) do n = n + 1 end\n"
						"  local stale = ctx.scribble or ctx.stream == 'changed'\n"
						"  ctx.scribble = true; ctx.stream = 'changed'\n"
						"  last = ctx\n"
						"  return {kind='x', same=same, stale=stale, keys=n}\n"
						"end\n"),
	};
	struct im_script *s;
	if (!ok(im_script_open(&cfg, &s, err, sizeof err) == 0, "ctx.lua opens")) {
		diag("%s", err);
		return;
	}
	static const struct {
		const char *stream, *source_id, *origin;
		int keys;
	} calls[] = {
		{"users", "1", "f:1", 3}, {"users", NULL, "f:2", 2}, {"messages", "3", NULL, 2},
		{"users", "4", "f:4", 3}, {"messages", "5", "f:5", 3},
	};
	int fine = 1;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		json_t *data = json_object();
		struct im_script_input in = {.stream = calls[i].stream, .source_id = calls[i].source_id,
					     .origin = calls[i].origin, .data = data};
		json_t *out;
		struct im_script_failure f;
		int rc = im_script_map(s, &in, &out, &f);
		json_t *r = rc == 0 ? json_array_get(out, 0) : NULL;
		if (!r || json_is_true(json_object_get(r, "same")) || json_is_true(json_object_get(r, "stale")) ||
		    json_integer_value(json_object_get(r, "keys")) != calls[i].keys) {
			diag("call %zu: %s", i, rc ? f.reason : "a reused or scribbled ctx");
			fine = 0;
		}
		json_decref(data);
	}
	ok(fine, "a fresh ctx with exactly its fields on every call");
	im_script_close(s);

	cfg.path = scratch_file("ctx2.lua", "function map(rec, ctx)\n"
					    "  return {kind='x', stream=ctx.stream, sid=ctx.source_id, origin=ctx.origin}\n"
					    "end\n"
					    "function finish(ctx) return {kind='x', stream=ctx.stream, sid=ctx.source_id} end\n");
	if (!ok(im_script_open(&cfg, &s, err, sizeof err) == 0, "ctx2.lua opens")) {
		diag("%s", err);
		return;
	}
	fine = 1;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		json_t *data = json_object();
		struct im_script_input in = {.stream = calls[i].stream, .source_id = calls[i].source_id,
					     .origin = calls[i].origin, .data = data};
		json_t *out;
		struct im_script_failure f;
		json_t *r = im_script_map(s, &in, &out, &f) == 0 ? json_array_get(out, 0) : NULL;
		const char *stream = json_string_value(json_object_get(r, "stream"));
		const char *sid = json_string_value(json_object_get(r, "sid"));
		const char *origin = json_string_value(json_object_get(r, "origin"));
		if (!stream || strcmp(stream, calls[i].stream) || (!sid) != !calls[i].source_id ||
		    (sid && strcmp(sid, calls[i].source_id)) || (!origin) != !calls[i].origin ||
		    (origin && strcmp(origin, calls[i].origin))) {
			diag("call %zu: stream %s sid %s origin %s", i, stream ? stream : "-", sid ? sid : "-",
			     origin ? origin : "-");
			fine = 0;
		}
		json_decref(data);
	}
	ok(fine, "ctx.stream, source_id and origin follow each record as streams alternate");
	json_t *out;
	struct im_script_failure f;
	ok(im_script_finish(s, &out, &f) == 0 &&
		   !strcmp(json_string_value(json_object_get(json_array_get(out, 0), "stream")), "finish") &&
		   !json_object_get(json_array_get(out, 0), "sid"),
	   "finish's ctx: stream \"finish\", no source_id");
	im_script_close(s);
}

/* The collector, paced for small heaps, still keeps a state's memory near what
 * is alive: garbage made call after call never piles up towards the cap, for a
 * small heap and for one holding a few MB; and a script that picks the
 * generational collector keeps it. */
static void test_gc_pace(void)
{
	char err[512];
	static const char *const scripts[] = {
		"local keep = {}\n",
		"local keep = {}\nfor i = 1, 40000 do keep[i] = string.rep('k', 60) .. i end\n",
	};
	for (int big = 0; big < 2; big++) {
		char text[1024];
		snprintf(text, sizeof text,
			 "%s"
			 "local peak, base = 0, collectgarbage('count')\n"
			 "function map(rec)\n"
			 "  for i = 1, 200 do local t = {i, tostring(i) .. 'garbage'} end\n"
			 "  local c = collectgarbage('count')\n"
			 "  if c > peak then peak = c end\n"
			 "  return {kind='x', peak=peak, base=base}\n"
			 "end\n",
			 scripts[big]);
		struct im_script_config cfg = {.path = scratch_file("gc.lua", text), .memory_limit = 32u << 20};
		struct im_script *s;
		if (!ok(im_script_open(&cfg, &s, err, sizeof err) == 0, "gc.lua opens")) {
			diag("%s", err);
			return;
		}
		json_t *data = json_object(), *out = NULL;
		struct im_script_input in = {.stream = "s", .data = data};
		struct im_script_failure f;
		int rc = 0;
		for (int i = 0; i < 3000 && rc == 0; i++)
			rc = im_script_map(s, &in, &out, &f);
		json_t *r = rc == 0 ? json_array_get(out, 0) : NULL;
		double peak = json_number_value(json_object_get(r, "peak"));
		double base = json_number_value(json_object_get(r, "base"));
		/* About 60 MB of garbage went through; what stays is base (the live
		 * heap) plus the 1 MB of room, or twice base, and some slack for the
		 * incremental collector's lag. */
		double bound = (base + 1024 > 2 * base ? base + 1024 : 2 * base) * 1.5;
		ok(rc == 0 && peak > base && peak < bound, "%s heap: peak %.0f KB, live %.0f KB, bound %.0f KB",
		   big ? "a 4 MB" : "a small", peak, base, bound);
		json_decref(data);
		im_script_close(s);
	}

	struct im_script_config cfg = {
		.path = scratch_file("gen.lua", "collectgarbage('generational')\n"
						"function map(rec)\n"
						"  local t = {} for i = 1, 50 do t[i] = {i} end\n"
						"  return {kind='x', mode=collectgarbage('generational')}\n"
						"end\n"),
	};
	struct im_script *s;
	if (!ok(im_script_open(&cfg, &s, err, sizeof err) == 0, "gen.lua opens")) {
		diag("%s", err);
		return;
	}
	json_t *data = json_object(), *out = NULL;
	struct im_script_input in = {.stream = "s", .data = data};
	struct im_script_failure f;
	int kept = 1;
	for (int i = 0; i < 500; i++) {
		const char *mode = im_script_map(s, &in, &out, &f) == 0
					   ? json_string_value(json_object_get(json_array_get(out, 0), "mode"))
					   : NULL;
		if (!mode || strcmp(mode, "generational"))
			kept = 0;
	}
	ok(kept, "a script's own choice of the generational collector stands");
	json_decref(data);
	im_script_close(s);
}

/* The bundled identity.lua runs natively for records it passes through: same
 * records as the Lua function, and the shipped file is the text the engine
 * recognises. */
static void test_identity(void)
{
	char path[1024], err[512];
	const char *top = getenv("top_srcdir");
	snprintf(path, sizeof path, "%s/scripts/identity.lua", top ? top : "..");
	FILE *fp = fopen(path, "rb");
	char file[4096];
	size_t n = fp ? fread(file, 1, sizeof file - 1, fp) : 0;
	if (fp)
		fclose(fp);
	file[n] = '\0';
	is_str(file, im_script_identity_text(), "scripts/identity.lua is the text run natively");

	const char *copy = scratch_file("identity.lua", im_script_identity_text());
	struct im_script_config cfg = {.path = copy, .memory_limit = 8u << 20};
	struct im_script *native = NULL, *lua = NULL;
	ok(im_script_open(&cfg, &native, err, sizeof err) == 0, "identity opens (native)");
	setenv("IMMIGRATE_NO_NATIVE_IDENTITY", "1", 1);
	ok(im_script_open(&cfg, &lua, err, sizeof err) == 0, "identity opens (Lua)");
	unsetenv("IMMIGRATE_NO_NATIVE_IDENTITY");
	if (!native || !lua) {
		im_script_close(native);
		im_script_close(lua);
		return;
	}
	static const char *const inputs[] = {
		"{\"kind\":\"account\",\"UserID\":\"a\",\"Nick\":\"\\u00e9t\\u00e9\"}",
		"{\"kind\":\"c2c_msg\",\"MsgTimeStamp\":1700000000.0,\"x\":1.5,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\","
		"\"MsgContent\":{\"Text\":\"hi\"}}],\"e\":{},\"ea\":[],\"n\":null,\"t\":true,\"f\":false,"
		"\"deep\":[[[{\"a\":[1,2.0,null]}]]]}",
		"{\"kind\":\"account\",\"UserID\":\"b\",\"_source_id\":\"own\"}",
		"{\"kind\":\"account\",\"UserID\":\"b\",\"_source_id\":null}",
		"{\"kind\":null,\"1\":\"numeric key\"}",
		"{\"UserID\":\"no kind\"}",
		"[1,2,3]",
		"{\"kind\":\"account\",\"big\":1e300,\"neg\":-0.0}",
	};
	int same = 1;
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		for (int with_sid = 0; with_sid < 2; with_sid++) {
			json_t *data = json_loads(inputs[i], JSON_DECODE_ANY, NULL);
			struct im_script_input in = {.stream = "s", .source_id = with_sid ? "sid-1" : NULL,
						     .origin = "x:1", .data = data};
			json_t *a, *b;
			struct im_script_failure fa, fb;
			int ra = im_script_map(native, &in, &a, &fa);
			char *ta = ra == 0 ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
			int rb = im_script_map(lua, &in, &b, &fb);
			char *tb = rb == 0 ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
			if (ra != rb || (ta && tb && strcmp(ta, tb)) || (!ta) != (!tb) ||
			    (ra && (strcmp(fa.where, fb.where) || strcmp(fa.reason, fb.reason)))) {
				same = 0;
				diag("input %zu sid %d: native %d %s %s%s | lua %d %s %s%s", i, with_sid, ra,
				     ta ? ta : "", fa.where, fa.reason, rb, tb ? tb : "", fb.where, fb.reason);
			}
			free(ta);
			free(tb);
			json_decref(data);
		}
	}
	ok(same, "native and Lua identity give the same records and the same failures");
	/* A record too big for the Lua state's memory cap goes through natively:
	 * proof that the native path is the one taken. */
	size_t big = 12u << 20;
	char *text = malloc(big + 1);
	memset(text, 'x', big);
	text[big] = '\0';
	json_t *data = json_pack("{s:s,s:s}", "kind", "account", "UserID", text);
	struct im_script_input in = {.stream = "s", .origin = "x:1", .data = data};
	json_t *out;
	struct im_script_failure f;
	ok(im_script_map(native, &in, &out, &f) == 0 && json_array_size(out) == 1,
	   "the native path needs no Lua memory");
	ok(im_script_map(lua, &in, &out, &f) == 1 && strstr(f.reason, "memory"),
	   "the Lua path hits the memory cap with the same record: %s", f.reason);
	json_decref(data);
	free(text);
	ok(im_script_calls(native) == im_script_calls(lua), "calls are counted on both paths");
	im_script_close(native);
	im_script_close(lua);
}

/* im_script_map_v makes the records im_script_map makes, as trees: the same
 * text, the same validation, the same failures; for every shape a table can have. */
static const char shapes_lua[] =
	"local shared = {MsgType='TIMTextElem', MsgContent={Text='shared'}}\n"
	"local function m(extra)\n"
	"  local r = {kind='c2c_msg', From_Account='a', To_Account='b', MsgTimeStamp=1700000000,\n"
	"    MsgBody={immigrate.text('t')}}\n"
	"  for k, v in pairs(extra or {}) do r[k] = v end\n"
	"  return r\n"
	"end\n"
	"local cases = {\n"
	"  function() return m() end,\n"
	"  function() immigrate.emit({kind='account', UserID='e'}); return {m(), m({_source_id='s'})} end,\n"
	"  function() return m({MsgBody={}}) end,\n"
	"  function() return m({MsgBody={{MsgType='TIMCustomElem', MsgContent=immigrate.object({})}}}) end,\n"
	"  function() return m({MsgBody=immigrate.array({shared})}) end,\n"
	"  function() return m({MsgBody=immigrate.array({a=1})}) end,\n"
	"  function() return m({MsgTimeStamp=1.7e9, MsgSeq=42.0, MsgRandom=-0.0}) end,\n"
	"  function() return m({MsgRandom=2.5}) end,\n"
	"  function() return m({MsgBody={shared, x=1}}) end,\n"
	"  function() return m({MsgBody={[1]=shared, [3]=shared}}) end,\n"
	"  function() return m({MsgBody={[2]=shared}}) end,\n"
	"  function() return m({MsgBody={{MsgType='TIMTextElem', MsgContent={Text='\\xff'}}}}) end,\n"
	"  function() return m({['\\xffk']=1}) end,\n"
	"  function() return m({CloudCustomData=print}) end,\n"
	"  function() return m({MsgSeq=0/0}) end,\n"
	"  function() local t = {}; t.t = t; return m({CloudCustomData=t}) end,\n"
	"  function() return 'x' end,\n"
	"  function() return {1, 2} end,\n"
	"  function() return {m(), {1}} end,\n"
	"  function() immigrate.emit({1}) end,\n"
	"  function() return m({_source_id=immigrate.null, CloudCustomData=immigrate.null}) end,\n"
	"  function() return m({_source_id=-17}) end,\n"
	"  function() return nil, 'no' end,\n"
	"  function() immigrate.emit(m()); error('after emit') end,\n"
	"  function() return m({MsgBody={{MsgType='TIMCustomElem', MsgContent={['q\\\"k']=1, ['\\1']=2,\n"
	"    Data='d\\0e', Z={}, Y={true, false, 1.5, 1e300}}}}}) end,\n"
	"  function() return {kind='account', UserID='u', Nick=5} end,\n"
	"  function() return {kind='group', Type='Private', Name='auto'} end,\n"
	"  function() return {} end,\n"
	"}\n"
	"function map(rec) return cases[rec.i]() end\n"
	"function finish() immigrate.emit({kind='account', UserID='f'}); return m() end\n";

static int same_records(json_t *a, const struct imv *b, size_t nb, struct im_validator *va, struct im_validator *vb)
{
	if (json_array_size(a) != nb)
		return 0;
	struct im_jbuf ja = {0}, jb = {0};
	int same = 1;
	for (size_t i = 0; i < nb && same; i++) {
		json_t *rec = json_array_get(a, i);
		same = im_json_write(&ja, rec, 1) == 0 && im_imv_write(&jb, &b[i], 0) == 0 && !strcmp(ja.data, jb.data);
		if (!same) {
			diag("record %zu: %s | %s", i, ja.data, jb.data);
			break;
		}
		struct im_prepared pa, pb;
		char wa[512], wb[512];
		int ra = im_record_prepare(va, rec, 1, &pa, wa, sizeof wa);
		int rb = im_record_prepare_v(vb, &b[i], 1, &pb, wb, sizeof wb);
		same = ra == rb && (ra ? !strcmp(wa, wb)
				       : !strcmp(pa.payload, pb.payload) && !strcmp(pa.dedupe_key, pb.dedupe_key) &&
						 !strcmp(pa.conv, pb.conv) && pa.ord == pb.ord);
		if (!same)
			diag("record %zu: prepare %d %s | %d %s", i, ra, ra ? wa : pa.payload, rb, rb ? wb : pb.payload);
	}
	im_jbuf_free(&ja);
	im_jbuf_free(&jb);
	return same;
}

static void test_map_v(void)
{
	struct im_script_config cfg = {.path = scratch_file("shapes.lua", shapes_lua)};
	struct im_script *sj, *sv;
	char err[256];
	if (im_script_open(&cfg, &sj, err, sizeof err) || im_script_open(&cfg, &sv, err, sizeof err)) {
		ok(0, "shapes.lua opens: %s", err);
		return;
	}
	struct im_validator *va = im_validator_new(NULL), *vb = im_validator_new(NULL);
	int same = 1, failures = 0;
	size_t made = 0;
	for (int i = 1; i <= 28; i++) {
		json_t *data = json_pack("{s:i}", "i", i);
		struct im_script_input in = {.stream = "s", .origin = "x:1", .data = data};
		json_t *a;
		const struct imv *b;
		size_t nb;
		struct im_script_failure fa, fb;
		int ra = im_script_map(sj, &in, &a, &fa);
		int rb = im_script_map_v(sv, &in, &b, &nb, &fb);
		if (ra != rb || (ra && (strcmp(fa.where, fb.where) || strcmp(fa.reason, fb.reason))) ||
		    (!ra && !same_records(a, b, nb, va, vb))) {
			same = 0;
			diag("case %d: %d %s: %s | %d %s: %s", i, ra, fa.where, fa.reason, rb, fb.where, fb.reason);
		}
		failures += ra != 0;
		made += ra ? 0 : nb;
		if (rb && nb)
			same = 0; /* a failed call keeps nothing */
		json_decref(data);
	}
	ok(same, "map_v = map for every shape (%zu records, %d failures)", made, failures);
	ok(made >= 12 && failures >= 10, "the shapes include records and failures");
	json_t *a;
	const struct imv *b;
	size_t nb;
	struct im_script_failure fa, fb;
	ok(im_script_finish(sj, &a, &fa) == 0 && im_script_finish_v(sv, &b, &nb, &fb) == 0 && nb == 2 &&
		   same_records(a, b, nb, va, vb),
	   "finish_v = finish");
	im_validator_free(va);
	im_validator_free(vb);
	im_script_close(sj);
	im_script_close(sv);
}

int main(void)
{
	L = im_lua_new(16u << 20, 1000000);
	if (!L)
		return 99;
	test_helpers();
	test_helper_results();
	test_sandbox();
	/* Blocks of every small size class and beyond, grown, shrunk and reused
	 * (sandbox_alloc keeps freed small blocks): contents survive every move. */
	is_int(eval_int("local acc = 0\n"
			"for round = 1, 20 do\n"
			"  local t, h = {}, {}\n"
			"  for i = 1, 300 do t[i] = string.rep(string.char(65 + i % 26), (i * 7) % 300) .. i end\n"
			"  for i = 1, 300 do h['k' .. i] = t[i] end\n"
			"  for i = 300, 1, -1 do\n"
			"    local want = string.rep(string.char(65 + i % 26), (i * 7) % 300) .. i\n"
			"    if h['k' .. i] ~= want or t[i] ~= want then return -1 end\n"
			"    t[i] = nil; h['k' .. i] = nil\n"
			"  end\n"
			"  h.last = string.rep('z', round * 13)\n"
			"  acc = acc + #h.last + #t\n"
			"end\n"
			"return acc"),
	       13 * 210, "tables and strings of every size keep their contents through the allocator's reuse");
	im_lua_close(L);
	test_engine();
	test_ids();
	test_ctx();
	test_gc_pace();
	test_identity();
	test_map_v();
	scratch_cleanup();
	return done_testing();
}
