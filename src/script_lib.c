/* The `immigrate` module scripts call: ids, times, truncation, message element
 * builders, JSON, logging, options. */
#include "config.h"

#include <math.h>
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

/* Recently hashed ids of this state, "<group byte><old id>\0<new id>": scripts
 * ask for the same user on every message, and SHA-256 plus an id map write
 * per call would cost more than the rest of the call. */
static const char *hashed_cached(struct im_sandbox *sb, int group, const char *s, size_t len, char ***slot_out)
{
	uint32_t h = im_id32(s, len) ^ (uint32_t)group;
	char **slot = &sb->idmap_cache[h % IM_IDMAP_CACHE];
	*slot_out = slot;
	const char *e = *slot;
	if (e && (unsigned char)e[0] == (unsigned char)group && strlen(e + 1) == len && !memcmp(e + 1, s, len))
		return e + 1 + len + 1;
	return NULL;
}

static void cache_hashed(char **slot, int group, const char *s, size_t len, const char *out)
{
	size_t olen = strlen(out);
	char *e = malloc(len + olen + 3);
	if (!e)
		return; /* only a cache */
	e[0] = (char)group;
	memcpy(e + 1, s, len);
	e[len + 1] = '\0';
	memcpy(e + len + 2, out, olen + 1);
	free(*slot);
	*slot = e;
}

static int sanitize_id(lua_State *L, int group)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct im_sandbox *sb = im_lua_sandbox(L);
	char **slot;
	const char *known = hashed_cached(sb, group, s, len, &slot);
	if (known) {
		lua_pushstring(L, known);
		return 1;
	}
	char out[IM_GROUPID_MAX + 1];
	int rc = group ? im_groupid_sanitize(s, len, out) : im_userid_sanitize(s, len, out);
	if (rc < 0)
		return luaL_error(L, "immigrate.%s: hashing failed", group ? "groupid" : "userid");
	if (rc == 0) {
		lua_settop(L, 1);
		return 1;
	}
	if (sb->stage) {
		char err[256];
		if (im_stage_idmap_put(sb->stage, group ? "group" : "user", s, out, err, sizeof err) < 0)
			return luaL_error(L, "immigrate.%s: %s", group ? "groupid" : "userid", err);
	}
	cache_hashed(slot, group, s, len, out);
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

/* A new element {MsgType = type, MsgContent = {}} with MsgContent on top and the
 * element below it. */
static void new_elem(lua_State *L, const char *type)
{
	lua_createtable(L, 0, 2);
	lua_pushstring(L, type);
	lua_setfield(L, -2, "MsgType");
	lua_createtable(L, 0, 6);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "MsgContent");
}

enum { OPT = 0, REQ = 1 };

/* Copies args[from] to content[to] as a string. Returns 1 when copied. */
static int put_string(lua_State *L, const char *fn, const char *from, const char *to, int required)
{
	int t = lua_getfield(L, 1, from);
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "immigrate.%s: %s is required", fn, from);
		return 0;
	}
	if (t != LUA_TSTRING && t != LUA_TNUMBER)
		luaL_error(L, "immigrate.%s: %s must be a string, not a %s", fn, from, lua_typename(L, t));
	lua_tostring(L, -1);
	lua_setfield(L, -2, to);
	return 1;
}

/* Copies args[from] to content[to] as a number (integral values as integers);
 * absent: def when def_given, else nothing (or an error when required). */
static void put_number(lua_State *L, const char *fn, const char *from, const char *to, int required, int def_given,
		       lua_Integer def)
{
	int t = lua_getfield(L, 1, from);
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "immigrate.%s: %s is required", fn, from);
		if (def_given) {
			lua_pushinteger(L, def);
			lua_setfield(L, -2, to);
		}
		return;
	}
	int isnum;
	lua_Number n = lua_tonumberx(L, -1, &isnum);
	if (!isnum)
		luaL_error(L, "immigrate.%s: %s must be a number", fn, from);
	lua_pop(L, 1);
	lua_Integer i;
	if (lua_numbertointeger(n, &i) && (lua_Number)i == n)
		lua_pushinteger(L, i);
	else
		lua_pushnumber(L, n);
	lua_setfield(L, -2, to);
}

static void put_integer(lua_State *L, const char *to, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, to);
}

/* UUID given, else a hash of the URL in args[url_key] (already validated). */
static void put_uuid(lua_State *L, const char *fn, const char *uuid_key, const char *url_key, const char *to)
{
	if (put_string(L, fn, uuid_key, to, OPT))
		return;
	lua_getfield(L, 1, url_key);
	size_t len;
	const char *url = lua_tolstring(L, -1, &len);
	char hex[33];
	if (!url || im_hash_hex(url, len, hex, 32) < 0)
		luaL_error(L, "immigrate.%s: cannot derive a UUID from %s", fn, url_key);
	lua_pop(L, 1);
	lua_pushstring(L, hex);
	lua_setfield(L, -2, to);
}

static int finish_elem(lua_State *L)
{
	lua_pop(L, 1); /* MsgContent; the element is on top */
	return 1;
}

static int l_text(lua_State *L)
{
	luaL_checkany(L, 1);
	if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER)
		return luaL_error(L, "immigrate.text: expected a string, got %s", luaL_typename(L, 1));
	lua_tostring(L, 1);
	new_elem(L, "TIMTextElem");
	lua_pushvalue(L, 1);
	lua_setfield(L, -2, "Text");
	return finish_elem(L);
}

static int l_face(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, "TIMFaceElem");
	put_number(L, "face", "index", "Index", REQ, 0, 0);
	put_string(L, "face", "data", "Data", OPT);
	return finish_elem(L);
}

static int l_location(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, "TIMLocationElem");
	put_string(L, "location", "desc", "Desc", OPT);
	put_number(L, "location", "lat", "Latitude", REQ, 0, 0);
	put_number(L, "location", "lng", "Longitude", REQ, 0, 0);
	return finish_elem(L);
}

static int l_custom(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, "TIMCustomElem");
	if (!put_string(L, "custom", "data", "Data", OPT)) {
		lua_pushliteral(L, "");
		lua_setfield(L, -2, "Data");
	}
	put_string(L, "custom", "desc", "Desc", OPT);
	put_string(L, "custom", "ext", "Ext", OPT);
	put_string(L, "custom", "sound", "Sound", OPT);
	return finish_elem(L);
}

static int image_format(lua_State *L)
{
	int t = lua_getfield(L, 1, "format");
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
	new_elem(L, "TIMImageElem");
	if (lua_getfield(L, 1, "url") != LUA_TSTRING)
		return luaL_error(L, "immigrate.image: url is required");
	lua_pop(L, 1);
	put_uuid(L, "image", "uuid", "url", "UUID");
	put_integer(L, "ImageFormat", image_format(L));
	/* Clients show type 3 (thumbnail) in the chat and 1/2 when opened; one
	 * stored file serves all three. */
	lua_createtable(L, 3, 0);
	for (int type = 1; type <= 3; type++) {
		lua_createtable(L, 0, 5);
		put_integer(L, "Type", type);
		put_number(L, "image", "size", "Size", OPT, 1, 0);
		put_number(L, "image", "width", "Width", OPT, 1, 0);
		put_number(L, "image", "height", "Height", OPT, 1, 0);
		put_string(L, "image", "url", "URL", REQ);
		lua_rawseti(L, -2, type);
	}
	lua_setfield(L, -2, "ImageInfoArray");
	return finish_elem(L);
}

static int l_sound(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, "TIMSoundElem");
	put_string(L, "sound", "url", "Url", REQ);
	put_uuid(L, "sound", "uuid", "url", "UUID");
	put_number(L, "sound", "size", "Size", OPT, 0, 0);
	put_number(L, "sound", "seconds", "Second", OPT, 0, 0);
	put_integer(L, "Download_Flag", 2);
	return finish_elem(L);
}

static int l_file(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, "TIMFileElem");
	put_string(L, "file", "url", "Url", REQ);
	put_uuid(L, "file", "uuid", "url", "UUID");
	put_number(L, "file", "size", "FileSize", OPT, 0, 0);
	put_string(L, "file", "name", "FileName", OPT);
	put_integer(L, "Download_Flag", 2);
	return finish_elem(L);
}

static int l_video(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	new_elem(L, "TIMVideoFileElem");
	put_string(L, "video", "url", "VideoUrl", REQ);
	put_uuid(L, "video", "uuid", "url", "VideoUUID");
	put_number(L, "video", "size", "VideoSize", OPT, 0, 0);
	put_number(L, "video", "seconds", "VideoSecond", OPT, 0, 0);
	put_string(L, "video", "format", "VideoFormat", OPT);
	put_integer(L, "VideoDownloadFlag", 2);
	if (put_string(L, "video", "thumb_url", "ThumbUrl", OPT))
		put_uuid(L, "video", "thumb_uuid", "thumb_url", "ThumbUUID");
	put_number(L, "video", "thumb_size", "ThumbSize", OPT, 0, 0);
	put_number(L, "video", "thumb_width", "ThumbWidth", OPT, 0, 0);
	put_number(L, "video", "thumb_height", "ThumbHeight", OPT, 0, 0);
	put_string(L, "video", "thumb_format", "ThumbFormat", OPT);
	put_integer(L, "ThumbDownloadFlag", 2);
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
		{"text", l_text},	  {"face", l_face},	      {"location", l_location},
		{"custom", l_custom},	  {"image", l_image},	      {"sound", l_sound},
		{"file", l_file},	  {"video", l_video},	      {"json_encode", l_json_encode},
		{"json_decode", l_json_decode}, {"log", l_log},       {"option", l_option},
		{"array", l_array},	  {"object", l_object},	      {NULL, NULL},
	};
	luaL_newmetatable(L, "immigrate.jsonbox");
	lua_pushcfunction(L, jsonbox_close);
	lua_setfield(L, -2, "__close");
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	lua_pushlightuserdata(L, &im_lua_null_key);
	lua_setfield(L, -2, "null");
}
