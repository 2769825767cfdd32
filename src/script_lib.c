/* The `immigrate` module scripts call: ids, times, truncation, message element
 * builders, JSON, logging, options. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "imrecord.h"
#include "log.h"
#include "script.h"
#include "script_priv.h"
#include "stage.h"

/* ---- times ---- */

int64_t im_seconds_from_number(double v)
{
	double a = fabs(v);
	if (a >= 1e14)
		v /= 1e6;
	else if (a >= 1e11)
		v /= 1e3;
	return (int64_t)floor(v);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char **p, const char *end, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (*p >= end || **p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int parse_number_string(const char *s, size_t len, int64_t *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	double v = strtod(buf, &end);
	if (*end || !isfinite(v))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789+-.eE", buf[i]))
			return -1; /* no hex, inf or nan */
	*out = im_seconds_from_number(v);
	return 0;
}

int im_parse_time(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - p < 10 || p[4] != '-')
		return parse_number_string(p, (size_t)(end - p), out);
	int y, mo, d, h = 0, mi = 0, sec = 0;
	if (digits(&p, end, 4, &y) || *p++ != '-' || digits(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
	    digits(&p, end, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	int64_t offset = 0;
	if (p < end) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (digits(&p, end, 2, &h) || p >= end || *p++ != ':' || digits(&p, end, 2, &mi))
			return -1;
		if (p < end && *p == ':') {
			p++;
			if (digits(&p, end, 2, &sec))
				return -1;
			if (p < end && (*p == '.' || *p == ',')) {
				p++;
				if (p >= end || *p < '0' || *p > '9')
					return -1;
				while (p < end && *p >= '0' && *p <= '9')
					p++; /* whole seconds: the fraction never rounds up */
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (p < end) {
			if (*p == 'Z' || *p == 'z') {
				p++;
			} else if (*p == '+' || *p == '-') {
				int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
				if (digits(&p, end, 2, &oh))
					return -1;
				if (p < end && *p == ':')
					p++;
				if (p < end && digits(&p, end, 2, &om))
					return -1;
				if (oh > 23 || om > 59)
					return -1;
				offset = sign * (oh * 3600 + om * 60);
			} else {
				return -1;
			}
		}
		if (p != end)
			return -1;
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	return 0;
}

static int l_seconds(lua_State *L)
{
	int64_t secs;
	switch (lua_type(L, 1)) {
	case LUA_TNUMBER:
		if (lua_isinteger(L, 1)) {
			lua_Integer v = lua_tointeger(L, 1);
			/* Integers stay exact: doubles lose microsecond digits. */
			lua_Integer a = v < 0 ? -v : v;
			secs = a >= 100000000000000LL ? v / 1000000 : a >= 100000000000LL ? v / 1000 : v;
			if (v < 0 && (a >= 100000000000LL) && (secs * (a >= 100000000000000LL ? 1000000 : 1000) != v))
				secs--; /* floor for negative values */
		} else {
			double d = lua_tonumber(L, 1);
			if (!isfinite(d))
				return luaL_error(L, "immigrate.seconds: not a finite number");
			secs = im_seconds_from_number(d);
		}
		break;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, 1, &len);
		if (im_parse_time(s, len, &secs) < 0)
			return luaL_error(L, "immigrate.seconds: '%s' is neither a number nor an ISO-8601 time", s);
		break;
	}
	default:
		return luaL_error(L, "immigrate.seconds: expected a number or a string, got %s", luaL_typename(L, 1));
	}
	lua_pushinteger(L, (lua_Integer)secs);
	return 1;
}

/* ---- strings and ids ---- */

size_t im_utf8_truncate_len(const char *s, size_t len, size_t n)
{
	if (len <= n)
		return len;
	size_t cut = n;
	/* Back off continuation bytes: the cut lands before a lead byte. */
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}

static int l_truncate(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	lua_Integer n = luaL_checkinteger(L, 2);
	if (n < 0)
		return luaL_error(L, "immigrate.truncate: negative length");
	size_t keep = im_utf8_truncate_len(s, len, (size_t)n);
	if (keep == len)
		lua_settop(L, 1);
	else
		lua_pushlstring(L, s, keep);
	return 1;
}

static int l_id32(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	lua_pushinteger(L, (lua_Integer)im_id32(s, len));
	return 1;
}

/* Ids this state already sanitised: scripts ask for the same user on every
 * message, and validating an id (or, when it must be hashed, SHA-256 plus an id
 * map write) costs more than the rest of the call. Direct-mapped by a hash of
 * the text; an entry holds the text and, when it had to be hashed, the new id.
 * Outside the Lua heap, so it does not count against the memory cap. */
#define ID_CACHE_SLOTS 1024
#define ID_INLINE 48 /* longer texts get a malloc'd copy */

enum { ID_EMPTY, ID_KEPT, ID_HASHED };

struct id_entry {
	uint64_t hash;
	size_t len;
	unsigned char state, group, out_len;
	char *long_text;
	char text[ID_INLINE];
	char out[IM_GROUPID_MAX + 1];
};

/* A state's helper caches, each made on first use. */
struct im_lib {
	struct id_entry *ids; /* ID_CACHE_SLOTS of them */
};

void im_lua_lib_free(struct im_lib *lib)
{
	if (!lib)
		return;
	if (lib->ids)
		for (size_t i = 0; i < ID_CACHE_SLOTS; i++)
			free(lib->ids[i].long_text);
	free(lib->ids);
	free(lib);
}

/* NULL when out of memory: the callers then work uncached. */
static struct im_lib *lib_of(struct im_sandbox *sb)
{
	if (!sb->lib)
		sb->lib = calloc(1, sizeof *sb->lib);
	return sb->lib;
}

/* Eight bytes at a time: ids are short, and im_id32's byte loop would cost
 * as much as the lookup it serves. Not persisted anywhere, so free to change. */
static uint64_t id_hash(const char *s, size_t len, int group)
{
	uint64_t h = 0x9e3779b97f4a7c15ull * (len + 1) + (uint64_t)group;
	for (; len >= 8; s += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	uint64_t w = 0;
	for (size_t i = 0; i < len; i++)
		w |= (uint64_t)(unsigned char)s[i] << (8 * i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

static int id_entry_is(const struct id_entry *e, uint64_t h, int group, const char *s, size_t len)
{
	return e->state != ID_EMPTY && e->hash == h && e->len == len && e->group == group &&
	       !memcmp(e->long_text ? e->long_text : e->text, s, len);
}

/* out: the hashed id, or NULL when s is kept as it is. */
static void id_entry_set(struct id_entry *e, uint64_t h, int group, const char *s, size_t len, const char *out)
{
	free(e->long_text);
	e->long_text = NULL;
	e->state = ID_EMPTY;
	if (len > ID_INLINE) {
		if (!(e->long_text = malloc(len)))
			return; /* only a cache */
		memcpy(e->long_text, s, len);
	} else {
		memcpy(e->text, s, len);
	}
	e->hash = h;
	e->len = len;
	e->group = (unsigned char)group;
	if (out) {
		size_t n = strlen(out);
		memcpy(e->out, out, n + 1);
		e->out_len = (unsigned char)n;
		e->state = ID_HASHED;
	} else {
		e->state = ID_KEPT;
	}
}

static int sanitize_id(lua_State *L, int group)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct im_sandbox *sb = im_lua_sandbox(L);
	struct im_lib *lib = lib_of(sb);
	if (lib && !lib->ids)
		lib->ids = calloc(ID_CACHE_SLOTS, sizeof *lib->ids);
	uint64_t h = id_hash(s, len, group);
	struct id_entry *e = lib && lib->ids ? &lib->ids[h % ID_CACHE_SLOTS] : NULL;
	if (e && id_entry_is(e, h, group, s, len)) {
		if (e->state == ID_KEPT) {
			lua_settop(L, 1);
			return 1;
		}
		lua_pushlstring(L, e->out, e->out_len);
		return 1;
	}
	char out[IM_GROUPID_MAX + 1];
	int rc = group ? im_groupid_sanitize(s, len, out) : im_userid_sanitize(s, len, out);
	if (rc < 0)
		return luaL_error(L, "immigrate.%s: hashing failed", group ? "groupid" : "userid");
	if (rc > 0 && sb->stage) {
		char err[256];
		if (im_stage_idmap_put(sb->stage, group ? "group" : "user", s, out, err, sizeof err) < 0)
			return luaL_error(L, "immigrate.%s: %s", group ? "groupid" : "userid", err);
	}
	if (e)
		id_entry_set(e, h, group, s, len, rc ? out : NULL);
	if (rc == 0) {
		lua_settop(L, 1);
		return 1;
	}
	lua_pushstring(L, out);
	return 1;
}

static int l_userid(lua_State *L)
{
	return sanitize_id(L, 0);
}

static int l_groupid(lua_State *L)
{
	return sanitize_id(L, 1);
}

/* ---- message element builders ---- */

/* Every field name, element type and argument name the builders use, interned
 * once per state and handed to each builder as its upvalues: lua_setfield and
 * lua_getfield with a C string look the text up again on every call. */
#define BUILDER_STRINGS(X)                                                                                     \
	X(MsgType) X(MsgContent) X(TIMTextElem) X(TIMFaceElem) X(TIMLocationElem) X(TIMCustomElem)              \
	X(TIMImageElem) X(TIMSoundElem) X(TIMFileElem) X(TIMVideoFileElem) X(Text) X(Index) X(Data) X(Desc)    \
	X(Latitude) X(Longitude) X(Ext) X(Sound) X(UUID) X(ImageFormat) X(ImageInfoArray) X(Type) X(Size)      \
	X(Width) X(Height) X(URL) X(Url) X(Second) X(Download_Flag) X(FileSize) X(FileName) X(VideoUrl)       \
	X(VideoUUID) X(VideoSize) X(VideoSecond) X(VideoFormat) X(VideoDownloadFlag) X(ThumbUrl) X(ThumbUUID)  \
	X(ThumbSize) X(ThumbWidth) X(ThumbHeight) X(ThumbFormat) X(ThumbDownloadFlag) X(index) X(data)        \
	X(desc) X(lat) X(lng) X(ext) X(sound) X(url) X(uuid) X(format) X(size) X(width) X(height) X(seconds)   \
	X(name) X(thumb_url) X(thumb_uuid) X(thumb_size) X(thumb_width) X(thumb_height) X(thumb_format)

enum bstr {
#define X(n) S_##n,
	BUILDER_STRINGS(X)
#undef X
	S_COUNT
};

static const char *const bstr_text[] = {
#define X(n) #n,
	BUILDER_STRINGS(X)
#undef X
};

/* A builder's stack: its argument, the element it returns, the element's
 * MsgContent. */
enum { ARGS = 1, ELEM = 2, CONTENT = 3 };

enum { OPT = 0, REQ = 1 };

static void push_bstr(lua_State *L, enum bstr k)
{
	lua_pushvalue(L, lua_upvalueindex(k + 1));
}

/* content[key] = the value on top, popped. */
static void set_content(lua_State *L, enum bstr key)
{
	push_bstr(L, key);
	lua_insert(L, -2);
	lua_rawset(L, CONTENT);
}

static void set_integer(lua_State *L, enum bstr key, lua_Integer v)
{
	push_bstr(L, key);
	lua_pushinteger(L, v);
	lua_rawset(L, CONTENT);
}

/* Pushes args[key] (metamethods apply, as for any table read). */
static int get_arg(lua_State *L, enum bstr key)
{
	push_bstr(L, key);
	return lua_gettable(L, ARGS);
}

/* Leaves the stack as ARGS, ELEM = {MsgType = type, MsgContent = CONTENT},
 * CONTENT = {} with room for `fields` fields. */
static void new_elem(lua_State *L, enum bstr type, int fields)
{
	lua_settop(L, ARGS);
	lua_createtable(L, 0, 2);
	push_bstr(L, S_MsgType);
	push_bstr(L, type);
	lua_rawset(L, ELEM);
	lua_createtable(L, 0, fields);
	push_bstr(L, S_MsgContent);
	lua_pushvalue(L, CONTENT);
	lua_rawset(L, ELEM);
}

static int finish_elem(lua_State *L)
{
	lua_settop(L, ELEM);
	return 1;
}

/* Pushes args[from] as a string (numbers converted) and returns 1; absent:
 * pushes nothing and returns 0, or raises when required. */
static int string_arg(lua_State *L, const char *fn, enum bstr from, int required)
{
	int t = get_arg(L, from);
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "immigrate.%s: %s is required", fn, bstr_text[from]);
		return 0;
	}
	if (t != LUA_TSTRING && t != LUA_TNUMBER)
		luaL_error(L, "immigrate.%s: %s must be a string, not a %s", fn, bstr_text[from], lua_typename(L, t));
	lua_tostring(L, -1);
	return 1;
}

/* Copies args[from] to content[to] as a string. Returns 1 when copied. */
static int put_string(lua_State *L, const char *fn, enum bstr from, enum bstr to, int required)
{
	push_bstr(L, to);
	if (!string_arg(L, fn, from, required)) {
		lua_pop(L, 1);
		return 0;
	}
	lua_rawset(L, CONTENT);
	return 1;
}

/* Pushes args[from] as a number (integral values as integers) and returns 1;
 * absent: pushes nothing and returns 0, or raises when required. */
static int number_arg(lua_State *L, const char *fn, enum bstr from, int required)
{
	if (get_arg(L, from) == LUA_TNIL) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "immigrate.%s: %s is required", fn, bstr_text[from]);
		return 0;
	}
	int isnum;
	lua_Number n = lua_tonumberx(L, -1, &isnum);
	if (!isnum)
		luaL_error(L, "immigrate.%s: %s must be a number", fn, bstr_text[from]);
	lua_pop(L, 1);
	lua_Integer i;
	if (lua_numbertointeger(n, &i) && (lua_Number)i == n)
		lua_pushinteger(L, i);
	else
		lua_pushnumber(L, n);
	return 1;
}

/* Copies args[from] to content[to] as a number. */
static void put_number(lua_State *L, const char *fn, enum bstr from, enum bstr to, int required)
{
	push_bstr(L, to);
	if (number_arg(L, fn, from, required))
		lua_rawset(L, CONTENT);
	else
		lua_pop(L, 1);
}

/* content[to] = args[uuid_key] when given, else a hash of the URL at stack
 * index url (a string, named url_key in errors). */
static void put_uuid(lua_State *L, const char *fn, enum bstr uuid_key, int url, enum bstr url_key, enum bstr to)
{
	if (put_string(L, fn, uuid_key, to, OPT))
		return;
	size_t len;
	const char *s = lua_tolstring(L, url, &len);
	char hex[33];
	if (!s || im_hash_hex(s, len, hex, 32) < 0)
		luaL_error(L, "immigrate.%s: cannot derive a UUID from %s", fn, bstr_text[url_key]);
	push_bstr(L, to);
	lua_pushlstring(L, hex, 32);
	lua_rawset(L, CONTENT);
}

/* content[to] = args.url (required), content[uuid_to] = args.uuid or a hash
 * of the URL: the head of sound, file and video elements. */
static void put_url_uuid(lua_State *L, const char *fn, enum bstr to, enum bstr uuid_to)
{
	string_arg(L, fn, S_url, REQ);
	lua_pushvalue(L, -1);
	set_content(L, to);
	put_uuid(L, fn, S_uuid, lua_gettop(L), S_url, uuid_to);
	lua_pop(L, 1);
}

static int l_text(lua_State *L)
{
	int t = lua_type(L, 1);
	if (t != LUA_TSTRING) {
		if (t != LUA_TNUMBER) {
			luaL_checkany(L, 1);
			return luaL_error(L, "immigrate.text: expected a string, got %s", luaL_typename(L, 1));
		}
		lua_tostring(L, 1);
	}
	new_elem(L, S_TIMTextElem, 1);
	push_bstr(L, S_Text);
	lua_pushvalue(L, ARGS);
	lua_rawset(L, CONTENT);
	return finish_elem(L);
}

static int l_face(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, S_TIMFaceElem, 2);
	put_number(L, "face", S_index, S_Index, REQ);
	put_string(L, "face", S_data, S_Data, OPT);
	return finish_elem(L);
}

static int l_location(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, S_TIMLocationElem, 3);
	put_string(L, "location", S_desc, S_Desc, OPT);
	put_number(L, "location", S_lat, S_Latitude, REQ);
	put_number(L, "location", S_lng, S_Longitude, REQ);
	return finish_elem(L);
}

static int l_custom(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, S_TIMCustomElem, 4);
	if (!put_string(L, "custom", S_data, S_Data, OPT)) {
		lua_pushliteral(L, "");
		set_content(L, S_Data);
	}
	put_string(L, "custom", S_desc, S_Desc, OPT);
	put_string(L, "custom", S_ext, S_Ext, OPT);
	put_string(L, "custom", S_sound, S_Sound, OPT);
	return finish_elem(L);
}

static int image_format(lua_State *L)
{
	int t = get_arg(L, S_format);
	int fmt = 255;
	if (t == LUA_TNUMBER) {
		fmt = (int)lua_tointeger(L, -1);
	} else if (t == LUA_TSTRING) {
		static const struct {
			const char *name;
			int code;
		} names[] = {{"jpg", 1}, {"jpeg", 1}, {"gif", 2}, {"png", 3}, {"bmp", 4}};
		const char *s = lua_tostring(L, -1);
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (!strcasecmp(s, names[i].name))
				fmt = names[i].code;
	} else if (t != LUA_TNIL) {
		luaL_error(L, "immigrate.image: format must be a number or a name like \"png\"");
	}
	lua_pop(L, 1);
	return fmt;
}

static int l_image(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, S_TIMImageElem, 3);
	if (get_arg(L, S_url) != LUA_TSTRING)
		return luaL_error(L, "immigrate.image: url is required");
	const int url = CONTENT + 1;
	put_uuid(L, "image", S_uuid, url, S_url, S_UUID);
	set_integer(L, S_ImageFormat, image_format(L));
	/* Read once, in the order their errors are reported; absent means 0. */
	static const enum bstr dims[] = {S_size, S_width, S_height};
	for (int i = 0; i < 3; i++)
		if (!number_arg(L, "image", dims[i], OPT))
			lua_pushinteger(L, 0);
	/* Clients show type 3 (thumbnail) in the chat and 1/2 when opened; one
	 * stored file serves all three. */
	lua_createtable(L, 3, 0);
	for (int type = 1; type <= 3; type++) {
		lua_createtable(L, 0, 5);
		push_bstr(L, S_Type);
		lua_pushinteger(L, type);
		lua_rawset(L, -3);
		static const enum bstr keys[] = {S_Size, S_Width, S_Height};
		for (int i = 0; i < 3; i++) {
			push_bstr(L, keys[i]);
			lua_pushvalue(L, url + 1 + i);
			lua_rawset(L, -3);
		}
		push_bstr(L, S_URL);
		lua_pushvalue(L, url);
		lua_rawset(L, -3);
		lua_rawseti(L, -2, type);
	}
	set_content(L, S_ImageInfoArray);
	return finish_elem(L);
}

static int l_sound(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, S_TIMSoundElem, 5);
	put_url_uuid(L, "sound", S_Url, S_UUID);
	put_number(L, "sound", S_size, S_Size, OPT);
	put_number(L, "sound", S_seconds, S_Second, OPT);
	set_integer(L, S_Download_Flag, 2);
	return finish_elem(L);
}

static int l_file(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, S_TIMFileElem, 5);
	put_url_uuid(L, "file", S_Url, S_UUID);
	put_number(L, "file", S_size, S_FileSize, OPT);
	put_string(L, "file", S_name, S_FileName, OPT);
	set_integer(L, S_Download_Flag, 2);
	return finish_elem(L);
}

static int l_video(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, S_TIMVideoFileElem, 13);
	put_url_uuid(L, "video", S_VideoUrl, S_VideoUUID);
	put_number(L, "video", S_size, S_VideoSize, OPT);
	put_number(L, "video", S_seconds, S_VideoSecond, OPT);
	put_string(L, "video", S_format, S_VideoFormat, OPT);
	set_integer(L, S_VideoDownloadFlag, 2);
	if (string_arg(L, "video", S_thumb_url, OPT)) {
		lua_pushvalue(L, -1);
		set_content(L, S_ThumbUrl);
		put_uuid(L, "video", S_thumb_uuid, lua_gettop(L), S_thumb_url, S_ThumbUUID);
		lua_pop(L, 1);
	}
	put_number(L, "video", S_thumb_size, S_ThumbSize, OPT);
	put_number(L, "video", S_thumb_width, S_ThumbWidth, OPT);
	put_number(L, "video", S_thumb_height, S_ThumbHeight, OPT);
	put_string(L, "video", S_thumb_format, S_ThumbFormat, OPT);
	set_integer(L, S_ThumbDownloadFlag, 2);
	return finish_elem(L);
}

/* ---- JSON, log, options, markers ---- */

static int l_json_encode(lua_State *L)
{
	char err[256];
	luaL_checkany(L, 1);
	json_t *v = im_lua_to_json(L, 1, err, sizeof err);
	if (!v)
		return luaL_error(L, "immigrate.json_encode: %s", err);
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	json_decref(v);
	if (!text)
		return luaL_error(L, "immigrate.json_encode: out of memory");
	/* Push a copy then free: pushing may raise, so it must not own text. */
	lua_pushstring(L, text);
	free(text);
	return 1;
}

static int l_json_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	json_error_t jerr;
	json_t *v = json_loadb(s, len, JSON_DECODE_ANY, &jerr);
	if (!v) {
		lua_pushnil(L);
		lua_pushfstring(L, "immigrate.json_decode: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return 2;
	}
	/* v must not leak if pushing raises: park it in a to-be-closed slot. */
	json_t **box = lua_newuserdatauv(L, sizeof *box, 0);
	*box = v;
	luaL_setmetatable(L, "immigrate.jsonbox");
	lua_toclose(L, -1);
	im_lua_push_json(L, v);
	return 1;
}

static int jsonbox_close(lua_State *L)
{
	json_t **box = luaL_checkudata(L, 1, "immigrate.jsonbox");
	json_decref(*box);
	*box = NULL;
	return 0;
}

static int l_log(lua_State *L)
{
	const char *level = luaL_checkstring(L, 1);
	const char *msg = luaL_checkstring(L, 2);
	enum im_log_level lv;
	if (!strcmp(level, "error"))
		lv = IM_LOG_ERROR;
	else if (!strcmp(level, "warn"))
		lv = IM_LOG_WARN;
	else if (!strcmp(level, "info"))
		lv = IM_LOG_INFO;
	else if (!strcmp(level, "debug"))
		lv = IM_LOG_DEBUG;
	else
		return luaL_error(L, "immigrate.log: level must be info, warn, error or debug");
	lua_Debug ar;
	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
		im_log(lv, "%s:%d: %s", ar.short_src, ar.currentline, msg);
	else
		im_log(lv, "script: %s", msg);
	return 0;
}

static int l_option(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	if (!im_lua_script(L))
		return luaL_error(L, "immigrate.option is only available in mapping scripts");
	return im_lua_script_option(L, name);
}

static int mark(lua_State *L, void *key)
{
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	else
		luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, key);
	lua_setmetatable(L, 1);
	return 1;
}

static int l_array(lua_State *L)
{
	return mark(L, &im_lua_array_key);
}

static int l_object(lua_State *L)
{
	return mark(L, &im_lua_object_key);
}

void im_lua_open_module(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{"emit", im_lua_emit},	  {"id32", l_id32},	      {"seconds", l_seconds},
		{"truncate", l_truncate}, {"userid", l_userid},	      {"groupid", l_groupid},
		{"json_encode", l_json_encode}, {"json_decode", l_json_decode}, {"log", l_log},
		{"option", l_option},	  {"array", l_array},	      {"object", l_object},
		{NULL, NULL},
	};
	static const luaL_Reg builders[] = {
		{"text", l_text},   {"face", l_face},	{"location", l_location}, {"custom", l_custom},
		{"image", l_image}, {"sound", l_sound}, {"file", l_file},	  {"video", l_video},
		{NULL, NULL},
	};
	luaL_newmetatable(L, "immigrate.jsonbox");
	lua_pushcfunction(L, jsonbox_close);
	lua_setfield(L, -2, "__close");
	lua_pop(L, 1);
	lua_createtable(L, 0, sizeof funcs / sizeof funcs[0] + sizeof builders / sizeof builders[0]);
	luaL_setfuncs(L, funcs, 0);
	luaL_checkstack(L, S_COUNT, "immigrate module");
	for (int k = 0; k < S_COUNT; k++)
		lua_pushstring(L, bstr_text[k]);
	luaL_setfuncs(L, builders, S_COUNT);
	lua_pushlightuserdata(L, &im_lua_null_key);
	lua_setfield(L, -2, "null");
}
