/* The Lua engine: helpers, sandbox refusals, budgets, failures as dead letters,
 * JSON <-> Lua conversion. */
#include "config.h"

#include <lauxlib.h>

#include "imrecord.h"
#include "imval.h"
#include "jsonout.h"
#include "script.h"
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
	test_identity();
	test_map_v();
	scratch_cleanup();
	return done_testing();
}
