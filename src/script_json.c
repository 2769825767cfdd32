/* JSON text -> Lua value with push_json's results (see script_json.h).
 *
 * One recursive-descent pass over the text. A container's members are left on
 * the Lua stack until its end, so that the table is created with its final size
 * (as push_json creates it from the Jansson value's size) and filled in text
 * order: same size, same insertion order, hence the same table. A container
 * with more than SMALL_MAX members is instead checked and counted first, then
 * decoded again straight into a table of that size, which bounds the Lua stack
 * by depth times SMALL_MAX. The same code only checks (emit == 0) while
 * counting and once the text turned out deeper than push_json goes: valid text
 * must then give the depth error, invalid text the syntax error, as before. */
#include "config.h"

#include "script_json.h"
#include "script_priv.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#define JANSSON_MAX_DEPTH 2048 /* JSON_PARSER_MAX_DEPTH: deeper text is refused */
#define SMALL_MAX 256          /* members kept on the stack before a container is counted first */
#define STACK_STEP 16          /* members between two luaL_checkstack calls */
#define SHORT_STRING_MAX 40    /* LUAI_MAXSHORTLEN: Lua interns strings up to this long */
#define SLOTS_MAX 512          /* pointer set for the duplicate-key check: 2 * SMALL_MAX */

struct dec {
	lua_State *L;
	const char *start, *p, *end;
	int emit;        /* push values; 0 while only checking */
	int too_deep;    /* a value past IM_LUA_JSON_DEPTH was met while emitting */
	const char *why; /* the first syntax error, NULL while none */
	size_t at;       /* its byte offset */
	char point;      /* the locale's decimal point, 0 until a real needs it */
};

static int value(struct dec *d, int depth);

static int fail(struct dec *d, const char *at, const char *why)
{
	if (!d->why) {
		d->why = why;
		d->at = (size_t)(at - d->start);
	}
	return -1;
}

/* JSON's four whitespace characters, as Jansson's lexer. */
static void skip_ws(struct dec *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex4(const unsigned char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence at p (n bytes available), or 0: strict,
 * as Jansson's check (no overlongs, surrogates or code points past U+10FFFF). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

/* The first byte at or after p that is a quote, a backslash, a control
 * character or not ASCII (end when none): eight bytes at a time, as most of
 * a record's text is plain ASCII inside strings. */
static const unsigned char *plain_run(const unsigned char *p, const unsigned char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	while (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
		/* Per byte below 0x80: high bit set when < 0x20, == '"' or == '\\' (the
		 * lowest flagged byte is exact); bytes from 0x80 flag themselves. */
		uint64_t flags = (((w - ones * 0x20) | (quote - ones) | (slash - ones)) & ~w & high) | (w & high);
		if (flags)
			return p + (__builtin_ctzll(flags) >> 3);
		p += 8;
	}
#endif
	while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
		p++;
	return p;
}

/* Checks the string whose opening quote is at d->p; [*body, *body + *len) is
 * what lies between the quotes, *escaped whether it holds a backslash. */
static int scan_string(struct dec *d, const char **body, size_t *len, int *escaped)
{
	const unsigned char *p = (const unsigned char *)d->p + 1, *end = (const unsigned char *)d->end;
	const unsigned char *s = p;
	int esc = 0;
	for (;;) {
		p = plain_run(p, end);
		if (p >= end)
			return fail(d, (const char *)p, "premature end of input");
		unsigned c = *p;
		if (c == '"')
			break;
		if (c == '\\') {
			esc = 1;
			if (++p >= end)
				return fail(d, (const char *)p, "premature end of input");
			switch (*p) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p++;
				break;
			case 'u': {
				unsigned v, lo;
				if (end - p < 5 || hex4(p + 1, &v))
					return fail(d, (const char *)p, "invalid escape");
				if (v == 0)
					return fail(d, (const char *)p, "\\u0000 is not allowed");
				if (v >= 0xDC00 && v <= 0xDFFF)
					return fail(d, (const char *)p, "invalid Unicode (lone low surrogate)");
				p += 5;
				if (v >= 0xD800 && v <= 0xDBFF) {
					if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) || lo < 0xDC00 ||
					    lo > 0xDFFF)
						return fail(d, (const char *)p, "invalid Unicode (unpaired surrogate)");
					p += 6;
				}
				break;
			}
			default:
				return fail(d, (const char *)p, "invalid escape");
			}
			continue;
		}
		if (c < 0x20)
			return fail(d, (const char *)p, "control character in a string");
		size_t n = utf8_seq(p, (size_t)(end - p));
		if (!n)
			return fail(d, (const char *)p, "invalid UTF-8");
		p += n;
	}
	*body = (const char *)s;
	*len = (size_t)(p - s);
	*escaped = esc;
	d->p = (const char *)p + 1;
	return 0;
}

static char *put_utf8(char *o, unsigned c)
{
	if (c < 0x80) {
		*o++ = (char)c;
	} else if (c < 0x800) {
		*o++ = (char)(0xC0 | (c >> 6));
		*o++ = (char)(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		*o++ = (char)(0xE0 | (c >> 12));
		*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
		*o++ = (char)(0x80 | (c & 0x3F));
	} else {
		*o++ = (char)(0xF0 | (c >> 18));
		*o++ = (char)(0x80 | ((c >> 12) & 0x3F));
		*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
		*o++ = (char)(0x80 | (c & 0x3F));
	}
	return o;
}

/* Pushes the checked, escaped body [s, e): no escape decodes to more bytes
 * than it is long, so len bytes are enough. */
static void push_unescaped(lua_State *L, const char *s, const char *e)
{
	luaL_Buffer b;
	char *o = luaL_buffinitsize(L, &b, (size_t)(e - s)), *start = o;
	while (s < e) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s++) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned c, lo;
			hex4((const unsigned char *)s, &c);
			s += 4;
			if (c >= 0xD800 && c <= 0xDBFF) {
				hex4((const unsigned char *)s + 2, &lo);
				s += 6;
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			}
			o = put_utf8(o, c);
			break;
		}
		default: *o++ = s[-1]; break; /* " \ / */
		}
	}
	luaL_pushresultsize(&b, (size_t)(o - start));
}

static int string(struct dec *d)
{
	const char *body;
	size_t len;
	int escaped;
	if (scan_string(d, &body, &len, &escaped))
		return -1;
	if (!d->emit)
		return 0;
	if (escaped)
		push_unescaped(d->L, body, body + len);
	else
		lua_pushlstring(d->L, body, len);
	return 0;
}

/* Jansson's number grammar and conversions: integers through strtoll's range
 * (refused beyond it), reals through strtod with the locale's decimal point,
 * refused on overflow. */
static int number(struct dec *d)
{
	const char *s = d->p, *p = s, *end = d->end;
	int neg = *p == '-';
	if (neg)
		p++;
	if (p >= end || !is_digit(*p))
		return fail(d, p, "invalid token");
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return fail(d, p, "invalid token");
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	if (p >= end || (*p != '.' && *p != 'e' && *p != 'E')) {
		uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (const char *q = s + neg; q < p; q++) {
			unsigned digit = (unsigned)(*q - '0');
			if (v > (limit - digit) / 10)
				return fail(d, s, neg ? "too big negative integer" : "too big integer");
			v = v * 10 + digit;
		}
		d->p = p;
		if (d->emit)
			lua_pushinteger(d->L, neg ? (lua_Integer)(0 - v) : (lua_Integer)v);
		return 0;
	}
	if (*p == '.') {
		p++;
		if (p >= end || !is_digit(*p))
			return fail(d, p, "invalid token");
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return fail(d, p, "invalid token");
		while (p < end && is_digit(*p))
			p++;
	}
	d->p = p;
	/* strtod needs a terminated copy; a long token's copy lives in a userdata
	 * so that a memory error leaks nothing. */
	size_t n = (size_t)(p - s);
	char small[64], *tmp = small;
	if (n >= sizeof small)
		tmp = lua_newuserdatauv(d->L, n + 1, 0);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (!d->point) {
		const struct lconv *lc = localeconv();
		d->point = lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point[0] : '.';
	}
	if (d->point != '.') {
		char *dot = memchr(tmp, '.', n);
		if (dot)
			*dot = d->point;
	}
	errno = 0;
	double v = strtod(tmp, NULL);
	int overflow = (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
	if (tmp != small)
		lua_pop(d->L, 1);
	if (overflow)
		return fail(d, s, "real number overflow");
	if (d->emit)
		lua_pushnumber(d->L, v);
	return 0;
}

static int literal(struct dec *d, const char *word, size_t n)
{
	if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
		return fail(d, d->p, "invalid token");
	d->p += n;
	return 0;
}

/* Size class of a table's hash part made for n keys (lua_createtable rounds up
 * to a power of two): tables of one class have one layout. */
static int hash_class(size_t n)
{
	int c = 0;
	if (!n)
		return -1;
	while (((size_t)1 << c) < n)
		c++;
	return c;
}

/* Whether Lua interns strings up to SHORT_STRING_MAX bytes (it does unless
 * built with a smaller LUAI_MAXSHORTLEN): then equal short keys share one
 * address. Checked once, on two separately built equal strings. */
static int short_strings_interned(lua_State *L)
{
	static int known = -1;
	if (known < 0) {
		char a[SHORT_STRING_MAX], b[SHORT_STRING_MAX];
		memset(a, 'k', sizeof a);
		memset(b, 'k', sizeof b);
		lua_pushlstring(L, a, sizeof a);
		lua_pushlstring(L, b, sizeof b);
		known = lua_tostring(L, -1) == lua_tostring(L, -2);
		lua_pop(L, 2);
	}
	return known;
}

/* Number of keys among the n pairs at base+1.. (key, value, key, value...)
 * that repeat an earlier key. Short keys go through a set of their interned
 * addresses; long ones (rare) are compared with each other. */
__attribute__((noinline)) static size_t count_duplicates(lua_State *L, int base, size_t n)
{
	if (n < 2)
		return 0;
	size_t dups = 0;
	if (!short_strings_interned(L)) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (lua_rawequal(L, base + 1 + 2 * (int)i, base + 1 + 2 * (int)j)) {
					dups++;
					break;
				}
		return dups;
	}
	const void *slots[SLOTS_MAX];
	size_t size = 16;
	while (size < 2 * n)
		size *= 2;
	memset(slots, 0, size * sizeof *slots);
	int have_long = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *k = lua_tolstring(L, base + 1 + 2 * (int)i, &len);
		if (len > SHORT_STRING_MAX) {
			have_long = 1;
			continue;
		}
		uintptr_t h = (uintptr_t)k;
		size_t at = (size_t)((h >> 4) ^ (h >> 12)) & (size - 1);
		while (slots[at] && slots[at] != k)
			at = (at + 1) & (size - 1);
		if (slots[at])
			dups++;
		else
			slots[at] = k;
	}
	if (have_long)
		for (size_t i = 1; i < n; i++) {
			int ki = base + 1 + 2 * (int)i;
			if (lua_rawlen(L, ki) <= SHORT_STRING_MAX)
				continue;
			for (size_t j = 0; j < i; j++)
				if (lua_rawequal(L, ki, base + 1 + 2 * (int)j)) {
					dups++;
					break;
				}
		}
	return dups;
}

static void push_empty(lua_State *L, const void *shape_key)
{
	lua_createtable(L, 0, 0);
	lua_rawgetp(L, LUA_REGISTRYINDEX, shape_key);
	lua_setmetatable(L, -2);
}

/* The members of the container at d->p ('{' or '['): object says which. With
 * hint 0 they gather on the stack and the table is built at the end; with hint
 * > 0 (a big container, counted first) the table is created with that size up
 * front and filled as they come. *members: how many members (pairs, duplicates
 * included) the text holds. */
static int container(struct dec *d, int depth, int object, size_t hint, size_t *members)
{
	lua_State *L = d->L;
	const char *open = d->p;
	const char close = object ? '}' : ']';
	*members = 0;
	d->p++;
	skip_ws(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		if (d->emit)
			push_empty(L, object ? &im_lua_object_key : &im_lua_array_key);
		return 0;
	}
	int base = lua_gettop(L); /* with hint: the table's index once created */
	if (d->emit && hint) {
		lua_createtable(L, object ? 0 : (int)hint, object ? (int)hint : 0);
		base++;
	}
	size_t n = 0, dups = 0;
	for (;;) {
		if (d->emit && n % STACK_STEP == 0)
			luaL_checkstack(L, 2 * STACK_STEP + 8, "JSON too big");
		if (object) {
			if (d->p >= d->end || *d->p != '"')
				return fail(d, d->p, "string or '}' expected");
			if (string(d))
				return -1;
			skip_ws(d);
			if (d->p >= d->end || *d->p != ':')
				return fail(d, d->p, "':' expected");
			d->p++;
			skip_ws(d);
		}
		if (value(d, depth + 1))
			return -1;
		n++;
		if (d->emit && hint) {
			if (object) {
				lua_pushvalue(L, -2);
				if (lua_rawget(L, base) != LUA_TNIL)
					dups++;
				lua_pop(L, 1);
				lua_rawset(L, base);
			} else {
				lua_rawseti(L, base, (lua_Integer)n);
			}
		}
		skip_ws(d);
		if (d->p >= d->end)
			return fail(d, d->p, object ? "'}' expected" : "']' expected");
		if (*d->p == close) {
			d->p++;
			break;
		}
		if (*d->p != ',')
			return fail(d, d->p, object ? "'}' expected" : "']' expected");
		d->p++;
		skip_ws(d);
		if (d->emit && !hint && n == SMALL_MAX) {
			/* Big: count first, then decode again into a table of that size. */
			lua_settop(L, base);
			d->p = open;
			d->emit = 0;
			size_t total;
			if (container(d, depth, object, 0, &total))
				return -1;
			d->p = open;
			d->emit = 1;
			return container(d, depth, object, total, members);
		}
	}
	*members = n;
	if (!d->emit)
		return 0;
	if (hint) {
		/* Jansson's object holds each key once: its size is what push_json sizes by. */
		if (object && dups && hash_class(n - dups) != hash_class(hint)) {
			lua_settop(L, base - 1);
			d->p = open;
			return container(d, depth, object, n - dups, members);
		}
		return 0;
	}
	if (!object) {
		lua_createtable(L, (int)n, 0);
		lua_insert(L, base + 1);
		for (lua_Integer i = (lua_Integer)n; i >= 1; i--)
			lua_rawseti(L, base + 1, i);
		return 0;
	}
	lua_createtable(L, 0, (int)(n - count_duplicates(L, base, n)));
	int t = lua_gettop(L);
	for (size_t i = 0; i < n; i++) {
		lua_pushvalue(L, base + 1 + 2 * (int)i);
		lua_pushvalue(L, base + 2 + 2 * (int)i);
		lua_rawset(L, t);
	}
	lua_replace(L, base + 1);
	lua_settop(L, base + 1);
	return 0;
}

static int value(struct dec *d, int depth)
{
	/* Jansson counts the root as level 1. */
	if (depth >= JANSSON_MAX_DEPTH)
		return fail(d, d->p, "maximum parsing depth reached");
	if (d->emit && depth > IM_LUA_JSON_DEPTH) {
		d->emit = 0;
		d->too_deep = 1;
	}
	if (d->p >= d->end)
		return fail(d, d->p, "premature end of input");
	size_t members;
	switch (*d->p) {
	case '{':
		return container(d, depth, 1, 0, &members);
	case '[':
		return container(d, depth, 0, 0, &members);
	case '"':
		return string(d);
	case 't':
		if (literal(d, "true", 4))
			return -1;
		if (d->emit)
			lua_pushboolean(d->L, 1);
		return 0;
	case 'f':
		if (literal(d, "false", 5))
			return -1;
		if (d->emit)
			lua_pushboolean(d->L, 0);
		return 0;
	case 'n':
		if (literal(d, "null", 4))
			return -1;
		if (d->emit)
			lua_pushlightuserdata(d->L, &im_lua_null_key);
		return 0;
	default:
		if (*d->p == '-' || is_digit(*d->p))
			return number(d);
		return fail(d, d->p, "invalid token");
	}
}

int im_lua_decode_json(lua_State *L, const char *text, size_t len, char *err, size_t err_size)
{
	if (!text)
		text = "";
	struct dec d = {.L = L, .start = text, .p = text, .end = text + len, .emit = 1};
	int base = lua_gettop(L);
	luaL_checkstack(L, 2 * STACK_STEP + 8, "JSON too big");
	skip_ws(&d);
	int rc = value(&d, 0);
	if (rc == 0) {
		skip_ws(&d);
		if (d.p != d.end)
			rc = fail(&d, d.p, "end of file expected");
	}
	if (rc != 0) {
		lua_settop(L, base);
		if (err && err_size)
			snprintf(err, err_size, "byte %zu: %s", d.at + 1, d.why ? d.why : "invalid JSON");
		return -1;
	}
	if (d.too_deep) {
		lua_settop(L, base);
		return luaL_error(L, "JSON nested deeper than %d levels", IM_LUA_JSON_DEPTH);
	}
	return 0;
}
