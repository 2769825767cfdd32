/* The JSON text -> Lua decoder (src/script_json.c) against what it replaces:
 * json_loadb(JSON_DECODE_ANY) then im_lua_push_json. Over a corpus of edge
 * cases and a bounded, deterministic random-mutation loop, both must agree on
 * every input: both refuse it, or both raise the same Lua error, or both give
 * the same value: same types and integer/float subtypes, same bits for
 * floats, same shape metatables, and tables that even iterate (pairs) in the
 * same order. Run under ASan in a sanitizer build, the loop also checks that
 * no input, however broken, makes the decoder misbehave. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "script.h"
#include "script_json.h"
#include "tap.h"

struct input {
	const char *text;
	size_t len;
	json_t *value; /* Jansson's parse, for the old path */
	char err[256];
	int refused;   /* the decoder's -1 */
};

static int call_push(lua_State *L)
{
	struct input *in = lua_touserdata(L, 1);
	lua_settop(L, 0);
	im_lua_push_json(L, in->value);
	return 1;
}

static int call_decode(lua_State *L)
{
	struct input *in = lua_touserdata(L, 1);
	lua_settop(L, 0);
	if (im_lua_decode_json(L, in->text, in->len, in->err, sizeof in->err) < 0) {
		in->refused = 1;
		if (lua_gettop(L) != 0)
			return luaL_error(L, "a refused text left %d values on the stack", lua_gettop(L));
		lua_pushnil(L);
	}
	return 1;
}

static int same_value(lua_State *L, int a, int b, char *why, size_t why_size, int depth);

static int same_table(lua_State *L, int a, int b, char *why, size_t why_size, int depth)
{
	luaL_checkstack(L, 10, "deep comparison");
	int ma = lua_getmetatable(L, a), mb = lua_getmetatable(L, b);
	int same_meta = ma == mb && (!ma || lua_rawequal(L, -1, -2));
	lua_pop(L, ma + mb);
	if (!same_meta) {
		snprintf(why, why_size, "shape metatables differ at depth %d", depth);
		return 0;
	}
	if (lua_rawlen(L, a) != lua_rawlen(L, b)) {
		snprintf(why, why_size, "lengths differ at depth %d", depth);
		return 0;
	}
	/* Walk both in step: same keys in the same order, same values. */
	lua_pushnil(L);
	lua_pushnil(L);
	for (;;) {
		/* stack: ... ka kb */
		lua_pushvalue(L, -2);
		int more_a = lua_next(L, a); /* ... ka kb ka' va */
		if (!more_a) {
			lua_pushvalue(L, -1); /* ... ka kb kb */
			int more_b = lua_next(L, b);
			if (more_b) {
				lua_pop(L, 4);
				snprintf(why, why_size, "the decoder's table has more keys at depth %d", depth);
				return 0;
			}
			lua_pop(L, 2);
			return 1;
		}
		lua_pushvalue(L, -3); /* ... ka kb ka' va kb */
		int more_b = lua_next(L, b); /* ... ka kb ka' va kb' vb */
		if (!more_b) {
			lua_pop(L, 4);
			snprintf(why, why_size, "the decoder's table has fewer keys at depth %d", depth);
			return 0;
		}
		int top = lua_gettop(L);
		if (!lua_rawequal(L, top - 3, top - 1)) {
			lua_pop(L, 6);
			snprintf(why, why_size, "keys differ or come in another order at depth %d", depth);
			return 0;
		}
		if (!same_value(L, top - 2, top, why, why_size, depth + 1)) {
			lua_pop(L, 6);
			return 0;
		}
		/* keep ka' and kb' as the next keys */
		lua_remove(L, top);     /* vb */
		lua_remove(L, top - 2); /* va */
		lua_remove(L, top - 4); /* kb */
		lua_remove(L, top - 5); /* ka */
	}
}

static int same_value(lua_State *L, int a, int b, char *why, size_t why_size, int depth)
{
	a = lua_absindex(L, a);
	b = lua_absindex(L, b);
	int ta = lua_type(L, a), tb = lua_type(L, b);
	if (ta != tb) {
		snprintf(why, why_size, "types differ at depth %d: %s vs %s", depth, lua_typename(L, ta),
			 lua_typename(L, tb));
		return 0;
	}
	switch (ta) {
	case LUA_TNUMBER:
		if (lua_isinteger(L, a) != lua_isinteger(L, b)) {
			snprintf(why, why_size, "integer vs float at depth %d", depth);
			return 0;
		}
		if (lua_isinteger(L, a)) {
			if (lua_tointeger(L, a) != lua_tointeger(L, b)) {
				snprintf(why, why_size, "integers differ at depth %d", depth);
				return 0;
			}
		} else {
			double x = lua_tonumber(L, a), y = lua_tonumber(L, b);
			if (memcmp(&x, &y, sizeof x) != 0) {
				snprintf(why, why_size, "floats differ at depth %d: %.17g vs %.17g", depth, x, y);
				return 0;
			}
		}
		return 1;
	case LUA_TTABLE:
		return same_table(L, a, b, why, why_size, depth);
	default:
		if (!lua_rawequal(L, a, b)) {
			snprintf(why, why_size, "%s values differ at depth %d", lua_typename(L, ta), depth);
			return 0;
		}
		return 1;
	}
}

/* Compares both paths on text[0..len). Returns 1 when they agree; why says how
 * they differ otherwise. *kind: 0 refused, 1 Lua error, 2 value. */
static int agree(lua_State *L, const char *text, size_t len, char *why, size_t why_size, int *kind)
{
	struct input in = {.text = text, .len = len};
	in.value = json_loadb(text, len, JSON_DECODE_ANY, NULL);
	lua_settop(L, 0);
	int old_rc = LUA_OK;
	if (in.value) {
		lua_pushcfunction(L, call_push);
		lua_pushlightuserdata(L, &in);
		old_rc = lua_pcall(L, 1, 1, 0);
	}
	/* stack: old value or error message (1), or nothing when Jansson refused */
	int old_top = lua_gettop(L);
	lua_pushcfunction(L, call_decode);
	lua_pushlightuserdata(L, &in);
	int new_rc = lua_pcall(L, 1, 1, 0);
	json_decref(in.value);
	int result = 0;
	if (!in.value) {
		*kind = 0;
		result = new_rc == LUA_OK && in.refused;
		if (!result)
			snprintf(why, why_size, "Jansson refuses it, the decoder %s", new_rc ? lua_tostring(L, -1) : "accepts it");
	} else if (old_rc != LUA_OK) {
		*kind = 1;
		result = new_rc != LUA_OK && lua_type(L, old_top) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING &&
			 strcmp(lua_tostring(L, old_top), lua_tostring(L, -1)) == 0;
		if (!result)
			snprintf(why, why_size, "push_json raised '%s', the decoder %s", lua_tostring(L, old_top),
				 new_rc ? lua_tostring(L, -1) : in.refused ? in.err : "accepts it");
	} else if (new_rc != LUA_OK || in.refused) {
		*kind = 2;
		snprintf(why, why_size, "Jansson accepts it, the decoder %s", new_rc ? lua_tostring(L, -1) : in.err);
	} else {
		*kind = 2;
		result = same_value(L, old_top, -1, why, why_size, 0);
	}
	lua_settop(L, 0);
	return result;
}

static void check(lua_State *L, const char *label, const char *text, size_t len, int want_kind)
{
	char why[512] = "";
	int kind = -1;
	int same = agree(L, text, len, why, sizeof why, &kind);
	static const char *const kinds[] = {"refused", "a Lua error", "a value"};
	if (!ok(same && (want_kind < 0 || kind == want_kind), "%s: %s", label,
		kind >= 0 ? kinds[kind] : "?"))
		diag("%s (wanted %s)", why, want_kind >= 0 ? kinds[want_kind] : "agreement");
}

#define REFUSED 0
#define LUA_ERROR 1
#define VALUE 2

static const struct {
	const char *label;
	const char *text;
	int kind;
} corpus[] = {
	{"object", "{\"a\": 1, \"b\": \"x\", \"c\": [true, false, null]}", VALUE},
	{"empty object", "{}", VALUE},
	{"empty array", "[]", VALUE},
	{"nested empties", "{\"o\": {}, \"a\": [], \"aa\": [[], {}]}", VALUE},
	{"scalar string", "\"just a string\"", VALUE},
	{"scalar integer", "42", VALUE},
	{"null", "null", VALUE},
	{"escapes", "{\"s\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t end\"}", VALUE},
	{"unicode escapes", "[\"\\u00e9\\u4e16\\u754c\", \"\\u0041\"]", VALUE},
	{"surrogate pair", "[\"\\ud83d\\ude00\"]", VALUE},
	{"surrogate pair, upper-case hex", "[\"\\uD83D\\uDE00x\"]", VALUE},
	{"lone high surrogate", "[\"\\ud83d\"]", REFUSED},
	{"high surrogate then letter", "[\"\\ud83dx\"]", REFUSED},
	{"high surrogate then high", "[\"\\ud83d\\ud83d\"]", REFUSED},
	{"lone low surrogate", "[\"\\ude00\"]", REFUSED},
	{"\\u0000", "[\"a\\u0000b\"]", REFUSED},
	{"\\u0000 in a key", "{\"a\\u0000\": 1}", REFUSED},
	{"escaped key", "{\"\\u0061\": 1, \"b\\n\": 2}", VALUE},
	{"raw UTF-8", "{\"t\": \"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80\"}", VALUE},
	{"invalid UTF-8 byte", "{\"t\": \"caf\xe9\"}", REFUSED},
	{"overlong UTF-8", "[\"\xc0\xaf\"]", REFUSED},
	{"UTF-8 surrogate", "[\"\xed\xa0\x80\"]", REFUSED},
	{"UTF-8 past U+10FFFF", "[\"\xf4\x90\x80\x80\"]", REFUSED},
	{"truncated UTF-8", "[\"\xe4\xb8\"]", REFUSED},
	{"control character", "[\"a\tb\"]", REFUSED},
	{"raw newline in a string", "[\"a\nb\"]", REFUSED},
	{"bad escape", "[\"\\x\"]", REFUSED},
	{"short \\u", "[\"\\u12\"]", REFUSED},
	{"int64 max", "[9223372036854775807]", VALUE},
	{"int64 min", "[-9223372036854775808]", VALUE},
	{"past int64 max", "[9223372036854775808]", REFUSED},
	{"past int64 min", "[-9223372036854775809]", REFUSED},
	{"huge integer", "[123456789012345678901234567890]", REFUSED},
	{"-0", "[-0]", VALUE},
	{"-0.0", "[-0.0]", VALUE},
	{"floats", "[1.5, -2.25, 0.1, 3.0, 1e3, 1E-3, 2.5e+10, 6.02214076e23]", VALUE},
	{"long float token", "[3.14159265358979323846264338327950288419716939937510582097494459230781640628620899]",
	 VALUE},
	{"float overflow", "[1e400]", REFUSED},
	{"negative float overflow", "[-1.5e309]", REFUSED},
	{"float underflow", "[1e-400, 4.9e-324, 2e-320]", VALUE},
	{"leading zero", "[01]", REFUSED},
	{"leading +", "[+1]", REFUSED},
	{"bare dot", "[.5]", REFUSED},
	{"dot without digits", "[1.]", REFUSED},
	{"exponent without digits", "[1e]", REFUSED},
	{"minus alone", "[-]", REFUSED},
	{"NaN", "[NaN]", REFUSED},
	{"Infinity", "[Infinity]", REFUSED},
	{"duplicate keys", "{\"a\": 1, \"b\": 2, \"a\": 3}", VALUE},
	{"duplicate keys, all", "{\"a\": 1, \"a\": {}, \"a\": []}", VALUE},
	{"duplicate keys, nested", "{\"x\": {\"k\": 1, \"k\": 2}, \"x\": {\"k\": 3}}", VALUE},
	{"duplicate long keys", "{\"a-key-longer-than-forty-bytes-so-not-interned-by-lua\": 1, \"b\": 2, "
				"\"a-key-longer-than-forty-bytes-so-not-interned-by-lua\": 3}", VALUE},
	{"whitespace everywhere", " \t\r\n{ \"a\" \n:\r 1 \t, \"b\" : [ 1 , 2 ] } \n\t", VALUE},
	{"form feed is not whitespace", "{\"a\": 1}\f", REFUSED},
	{"vertical tab", "\v{}", REFUSED},
	{"empty text", "", REFUSED},
	{"whitespace only", "  \n ", REFUSED},
	{"truncated object", "{\"a\": 1, \"b\": ", REFUSED},
	{"truncated string", "{\"a\": \"abc", REFUSED},
	{"truncated literal", "[tru", REFUSED},
	{"trailing garbage", "{\"a\": 1} x", REFUSED},
	{"two values", "{} {}", REFUSED},
	{"trailing comma, object", "{\"a\": 1,}", REFUSED},
	{"trailing comma, array", "[1,]", REFUSED},
	{"missing colon", "{\"a\" 1}", REFUSED},
	{"unquoted key", "{a: 1}", REFUSED},
	{"single quotes", "{'a': 1}", REFUSED},
	{"literal with suffix", "[truex]", REFUSED},
	{"literal then number", "[true1]", REFUSED},
	{"number then letter", "[1x]", REFUSED},
	{"hex number", "[0x10]", REFUSED},
	{"comment", "{} // no", REFUSED},
	{"non-ASCII outside strings", "[\xc3\xa9]", REFUSED},
};

/* "[[[...0...]]]" n levels deep (the 0 at depth n). */
static char *nested(int n, const char *open, const char *close, const char *inner)
{
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *s = malloc((size_t)n * (lo + lc) + li + 1), *p = s;
	for (int i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (int i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_depth(lua_State *L)
{
	static const struct {
		int levels;
		int kind;
	} cases[] = {{63, VALUE}, {64, VALUE}, {65, LUA_ERROR}, {100, LUA_ERROR}, {2047, LUA_ERROR},
		     {2048, REFUSED}, {5000, REFUSED}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char label[96];
		char *a = nested(cases[i].levels, "[", "]", "0");
		snprintf(label, sizeof label, "arrays with a value at depth %d", cases[i].levels);
		check(L, label, a, strlen(a), cases[i].kind);
		free(a);
		char *o = nested(cases[i].levels, "{\"k\":", "}", "0");
		snprintf(label, sizeof label, "objects with a value at depth %d", cases[i].levels);
		check(L, label, o, strlen(o), cases[i].kind);
		free(o);
	}
	char *empty = nested(64, "[", "]", "[]");
	check(L, "an empty array at depth 64", empty, strlen(empty), VALUE);
	free(empty);
	/* Too deep but broken: the syntax error wins, as with Jansson first. */
	char *broken = nested(80, "[", "]", "0");
	broken[strlen(broken) - 1] = ',';
	check(L, "too deep and broken", broken, strlen(broken), REFUSED);
	free(broken);
}

/* Containers past the decoder's on-stack limit (counted first, then filled). */
static void test_big(lua_State *L)
{
	static const int sizes[] = {255, 256, 257, 300, 1000, 5000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		int n = sizes[i];
		size_t cap = (size_t)n * 40 + 64, at = 0;
		char *arr = malloc(cap), *obj = malloc(cap), *dup = malloc(cap);
		at = (size_t)snprintf(arr, cap, "[");
		for (int k = 0; k < n; k++)
			at += (size_t)snprintf(arr + at, cap - at, "%s%d", k ? "," : "", k % 7 == 0 ? -k : k);
		snprintf(arr + at, cap - at, "]");
		at = (size_t)snprintf(obj, cap, "{");
		for (int k = 0; k < n; k++)
			at += (size_t)snprintf(obj + at, cap - at, "%s\"key%d\":[%d,{}]", k ? "," : "", k, k);
		snprintf(obj + at, cap - at, "}");
		/* a third of the keys repeat: Jansson's size is the distinct keys */
		at = (size_t)snprintf(dup, cap, "{");
		for (int k = 0; k < n; k++)
			at += (size_t)snprintf(dup + at, cap - at, "%s\"k%d\":%d", k ? "," : "", k % 3 ? k : k / 3, k);
		snprintf(dup + at, cap - at, "}");
		char label[96];
		snprintf(label, sizeof label, "array of %d items", n);
		check(L, label, arr, strlen(arr), VALUE);
		snprintf(label, sizeof label, "object of %d keys", n);
		check(L, label, obj, strlen(obj), VALUE);
		snprintf(label, sizeof label, "object of %d pairs with duplicate keys", n);
		check(L, label, dup, strlen(dup), VALUE);
		/* broken at the very end: the count pass must give the error */
		obj[strlen(obj) - 1] = ',';
		snprintf(label, sizeof label, "object of %d keys, broken at the end", n);
		check(L, label, obj, strlen(obj), REFUSED);
		free(arr);
		free(obj);
		free(dup);
	}
}

/* xorshift64*: reproducible inputs. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static void mutate(char *buf, size_t *len, size_t cap)
{
	static const char pieces[] = "{}[]\",:\\u0000ud83dDE00e-+.0123456789 \t\n\rtruefalsenull\xc3\xa9\xff\x80";
	int edits = next_random() % 3 ? 1 : 2 + (int)(next_random() % 3);
	for (int e = 0; e < edits; e++) {
		size_t at = *len ? (size_t)(next_random() % (*len + 1)) : 0;
		switch (next_random() % 5) {
		case 0: /* replace a byte */
			if (at < *len)
				buf[at] = pieces[next_random() % (sizeof pieces - 1)];
			break;
		case 1: /* insert a byte */
			if (*len + 1 < cap) {
				memmove(buf + at + 1, buf + at, *len - at);
				buf[at] = next_random() % 4 ? pieces[next_random() % (sizeof pieces - 1)]
							  : (char)(next_random() & 0xFF);
				(*len)++;
			}
			break;
		case 2: /* delete a byte */
			if (at < *len) {
				memmove(buf + at, buf + at + 1, *len - at - 1);
				(*len)--;
			}
			break;
		case 3: /* truncate */
			*len = at;
			break;
		default: { /* duplicate a slice */
			size_t from = *len ? (size_t)(next_random() % *len) : 0;
			size_t n = (size_t)(next_random() % 16);
			if (from + n > *len)
				n = *len - from;
			if (*len + n < cap) {
				memmove(buf + at + n, buf + at, *len - at);
				memmove(buf + at, buf + (from < at ? from : from + n), n);
				*len += n;
			}
			break;
		}
		}
	}
}

static void test_mutations(lua_State *L, int rounds)
{
	char buf[1024];
	int disagree = 0, values = 0, refused = 0;
	for (int i = 0; i < rounds; i++) {
		const char *seed = corpus[next_random() % (sizeof corpus / sizeof corpus[0])].text;
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		mutate(buf, &len, sizeof buf);
		char why[512];
		int kind = -1;
		if (!agree(L, buf, len, why, sizeof why, &kind)) {
			if (disagree++ < 5)
				diag("round %d: %.*s: %s", i, (int)len, buf, why);
		}
		values += kind == VALUE;
		refused += kind == REFUSED;
	}
	is_int(disagree, 0, "%d random mutations of the corpus: both paths agree on every one (%d values, %d refused)",
	       rounds, values, refused);
}

int main(void)
{
	lua_State *L = im_lua_new(256u * 1024 * 1024, 0);
	if (!ok(L != NULL, "a sandbox state"))
		return done_testing();
	for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
		check(L, corpus[i].label, corpus[i].text, strlen(corpus[i].text), corpus[i].kind);
	/* Texts with NUL bytes and not NUL-terminated ones. */
	check(L, "a raw NUL byte", "[\"a\0b\"]", 7, REFUSED);
	check(L, "a NUL after the value", "{}\0", 3, REFUSED);
	check(L, "length shorter than the string", "{\"a\": 1}garbage", 8, VALUE);
	test_depth(L);
	test_big(L);
	const char *env = getenv("IMMIGRATE_FUZZ_ROUNDS");
	int rounds = env && atoi(env) > 0 ? atoi(env) : 20000;
	test_mutations(L, rounds);

	/* The memory cap holds: a big array in a small state fails as a Lua memory
	 * error, inside the protected call. */
	lua_State *small = im_lua_new(256 * 1024, 0);
	size_t cap = 1000000;
	char *big = malloc(cap);
	size_t at = (size_t)snprintf(big, cap, "[");
	for (int k = 0; k < 40000; k++)
		at += (size_t)snprintf(big + at, cap - at, "%s\"s%d\"", k ? "," : "", k);
	snprintf(big + at, cap - at, "]");
	struct input in = {.text = big, .len = strlen(big)};
	lua_pushcfunction(small, call_decode);
	lua_pushlightuserdata(small, &in);
	is_int(lua_pcall(small, 1, 1, 0), LUA_ERRMEM, "a text too big for the memory cap is a memory error");
	lua_settop(small, 0);
	in.text = "{\"fits\": true}";
	in.len = strlen(in.text);
	lua_pushcfunction(small, call_decode);
	lua_pushlightuserdata(small, &in);
	ok(lua_pcall(small, 1, 1, 0) == LUA_OK && lua_istable(small, -1), "and the state goes on decoding after it");
	free(big);
	im_lua_close(small);
	im_lua_close(L);
	return done_testing();
}
