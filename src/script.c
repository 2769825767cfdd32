/* The Lua mapping engine: sandbox, budgets, JSON <-> Lua, map()/finish() calls.
 * The `immigrate` helper module lives in script_lib.c. */
#include "config.h"

#include "script.h"
#include "script_priv.h"
#include "script_json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "imrules.h"
#include "imval.h"
#include "log.h"

/* The count hook runs every HOOK_EVERY VM instructions: often enough that a
 * runaway loop stops promptly, rarely enough that budget_hook itself costs
 * little (tens of instructions a record). What a count hook does cost is that
 * Lua checks the count on every VM instruction, whatever the period (some 30
 * machine instructions each): the price of a deterministic budget. */
#define HOOK_EVERY 1000
#define MAX_DEPTH 64

char im_lua_null_key;
char im_lua_array_key;
char im_lua_object_key;
/* Registry key of the table map() or finish() last returned. The arena trees
 * of im_script_map_v point into the strings of the tables they were read from
 * instead of copying them: the emitted tables stay in the emit table and the
 * returned one here until the next call, and no Lua code runs in between to
 * change or collect them. */
static char results_key;

struct im_script {
	lua_State *L;
	char *path;
	int map_ref, finish_ref, emit_ref, kind_ref;
	int ctx_ref; /* ctx's keys and the last stream name, interned (push_ctx) */
	int n_emitted;
	char map_where[192];
	char finish_where[192];
	json_t *results;
	const struct im_script_input *in;
	uint64_t calls;
	int which; /* 0: map, 1: finish, during a call */
	struct im_script_failure *fail;
	int bad_input; /* the call's in->text did not decode: input_error says why */
	char input_error[256];
	int native_identity; /* the script is the bundled identity.lua, byte for byte */
	/* im_script_map_v's results: trees in arena, reset at each call. */
	int want_imv;
	struct imv_arena arena;
	struct imv *vres;
	size_t nvres, capvres;
	struct member_stack {
		struct imv_member *m;
		size_t n, cap;
	} members; /* objects' members while their table is being read */
};

/* scripts/identity.lua as shipped. A script file with exactly this text is run
 * natively for the records it passes through unchanged (see identity_map):
 * mapping a record that already is an IM record then costs a copy instead of a
 * JSON -> Lua -> JSON round trip. test_script checks that the file and this
 * copy agree, and that both paths give the same records. */
static const char identity_lua[] =
	"-- identity: for sources whose records are already IM records (a self-built\n"
	"-- backend exporting straight to the jsonl format): each native record is one IM\n"
	"-- record, {\"kind\": \"...\", <the fields of one item of the REST call>,\n"
	"-- \"_source_id\": optional old id}. Validation happens after the script, so a\n"
	"-- malformed record becomes a dead letter naming the field.\n"
	"\n"
	"function map(rec, ctx)\n"
	"\tif rec.kind == nil then\n"
	"\t\treturn nil, \"record has no kind (identity expects IM records)\"\n"
	"\tend\n"
	"\tif rec._source_id == nil and ctx.source_id ~= nil then\n"
	"\t\trec._source_id = ctx.source_id\n"
	"\tend\n"
	"\treturn rec\n"
	"end\n";

const char *im_script_identity_text(void)
{
	return identity_lua;
}

struct im_sandbox *im_lua_sandbox(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

/* Bytes of freed small blocks kept on the lists, all classes together: room
 * for what one GC cycle frees with the pause gc_pace allows (GC_ROOM). */
#define FREE_BYTES_MAX (1u << 20)
#define SMALL_MAX (IM_LUA_CLASS_SIZE * IM_LUA_CLASSES)

/* The class of a block of n bytes (n > 0), or -1 when it is not small. A small
 * block is always malloc'd at its class's full size, so whichever size Lua
 * later names for it (Lua always passes a block's size back) finds the class. */
static int size_class(size_t n)
{
	return n <= SMALL_MAX ? (int)((n - 1) / IM_LUA_CLASS_SIZE) : -1;
}

static size_t class_bytes(int c)
{
	return (size_t)(c + 1) * IM_LUA_CLASS_SIZE;
}

static void *block_get(struct im_sandbox *sb, size_t n)
{
	int c = size_class(n);
	if (c < 0)
		return malloc(n);
	struct im_free_block *b = sb->free_blocks[c];
	if (!b)
		return malloc(class_bytes(c));
	sb->free_blocks[c] = b->next;
	sb->free_bytes -= class_bytes(c);
	return b;
}

static void block_put(struct im_sandbox *sb, void *p, size_t n)
{
	int c = size_class(n);
	if (c < 0 || sb->free_bytes + class_bytes(c) > FREE_BYTES_MAX) {
		free(p);
		return;
	}
	struct im_free_block *b = p;
	b->next = sb->free_blocks[c];
	sb->free_blocks[c] = b;
	sb->free_bytes += class_bytes(c);
}

static void free_blocks_release(struct im_sandbox *sb)
{
	for (int c = 0; c < IM_LUA_CLASSES; c++) {
		while (sb->free_blocks[c]) {
			struct im_free_block *b = sb->free_blocks[c];
			sb->free_blocks[c] = b->next;
			free(b);
		}
	}
	sb->free_bytes = 0;
}

/* The cases sandbox_alloc's fast path leaves out: malloc when a class's list
 * is empty or the block is large, realloc, and frees past the lists' bound.
 * Out of line so that the fast path, a few dozen calls per record, stays a
 * handful of instructions without a stack frame. */
static __attribute__((noinline)) void *alloc_slow(struct im_sandbox *sb, void *ptr, size_t old, size_t nsize)
{
	if (nsize == 0) {
		if (ptr)
			block_put(sb, ptr, old);
		sb->used -= old;
		return NULL;
	}
	if (nsize > old && sb->used - old + nsize > sb->limit)
		return NULL;
	void *p;
	if (!ptr) {
		p = block_get(sb, nsize);
	} else {
		int oc = size_class(old), nc = size_class(nsize);
		if (oc >= 0 && oc == nc) {
			p = ptr; /* the block already has room */
		} else if (oc < 0 && nc < 0) {
			p = realloc(ptr, nsize);
		} else {
			/* Between a small block and another class or a large one: on
			 * failure the old block stays as it was, as realloc's would. */
			p = block_get(sb, nsize);
			if (p) {
				memcpy(p, ptr, old < nsize ? old : nsize);
				block_put(sb, ptr, old);
			} else if (nsize < old) {
				/* Lua counts on shrinking never failing: keep the bigger
				 * block, valid for any class up to its size. */
				p = ptr;
			}
		}
	}
	if (p)
		sb->used = sb->used - old + nsize;
	return p;
}

/* Counting allocator: refuses growth past the cap, so Lua raises a memory error
 * in the call that asked for it instead of the process running out. The cap
 * counts what Lua asked for; the per-class free lists are outside it (bounded
 * by FREE_BYTES_MAX). Fast path: a small block taken from, or freed to, its
 * class's list. */
static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct im_sandbox *sb = ud;
	if (!ptr) {
		/* A new block (osize is the kind of object being made). nsize - 1
		 * wraps for 0, a free of NULL, which the slow path ignores. */
		if (nsize - 1 < SMALL_MAX) {
			size_t c = (nsize - 1) / IM_LUA_CLASS_SIZE;
			struct im_free_block *b = sb->free_blocks[c];
			if (b && nsize <= sb->limit - sb->used) {
				sb->free_blocks[c] = b->next;
				sb->free_bytes -= (c + 1) * IM_LUA_CLASS_SIZE;
				sb->used += nsize;
				return b;
			}
		}
		if (nsize == 0)
			return NULL;
		osize = 0;
	} else if (nsize == 0 && osize - 1 < SMALL_MAX) {
		size_t c = (osize - 1) / IM_LUA_CLASS_SIZE, bytes = (c + 1) * IM_LUA_CLASS_SIZE;
		if (sb->free_bytes + bytes <= FREE_BYTES_MAX) {
			struct im_free_block *b = ptr;
			b->next = sb->free_blocks[c];
			sb->free_blocks[c] = b;
			sb->free_bytes += bytes;
			sb->used -= osize;
			return NULL;
		}
	}
	return alloc_slow(sb, ptr, osize, nsize);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
	struct im_sandbox *sb = im_lua_sandbox(L);
	if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
		sb->line = ar->currentline;
		/* Usually the same chunk as last time: skip the formatted copy. */
		if (strncmp(sb->src, ar->short_src, sizeof sb->src - 1))
			snprintf(sb->src, sizeof sb->src, "%s", ar->short_src);
	}
	sb->steps += HOOK_EVERY;
	if (sb->steps > sb->step_limit) {
		/* No luaL_where prefix: in a hook, level 1 is the interrupted function's
		 * caller. The message handler finds the interrupted line itself. */
		lua_pushfstring(L, "instruction budget of %I exceeded", (lua_Integer)sb->step_limit);
		lua_error(L);
	}
}

void im_lua_budget_reset(lua_State *L)
{
	struct im_sandbox *sb = im_lua_sandbox(L);
	sb->steps = 0;
	sb->line = 0; /* src is read only with a line: it keeps the last chunk's name */
}

/* load() for text chunks only: precompiled bytecode bypasses the verifier that
 * keeps the sandbox intact, so it is refused whatever mode the caller asks for. */
static int sandbox_load(lua_State *L)
{
	int n = lua_gettop(L);
	if (lua_type(L, 1) == LUA_TSTRING) {
		const char *s = lua_tostring(L, 1);
		if (s[0] == LUA_SIGNATURE[0]) {
			lua_pushnil(L);
			lua_pushliteral(L, "load: binary chunks are not allowed in the sandbox");
			return 2;
		}
	}
	if (n > 4)
		n = 4;
	lua_settop(L, n < 3 ? 3 : n);
	lua_pushliteral(L, "t");
	lua_replace(L, 3);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* print() goes to the log: stdout carries `preview` output. */
static int sandbox_print(lua_State *L)
{
	luaL_Buffer b;
	int n = lua_gettop(L);
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	im_info("script: %s", lua_tostring(L, -1));
	return 0;
}

static int open_sandbox(lua_State *L)
{
	static const struct {
		const char *name;
		lua_CFunction open;
	} libs[] = {
		{LUA_GNAME, luaopen_base},     {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
		{LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},
	};
	for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
		luaL_requiref(L, libs[i].name, libs[i].open, 1);
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	lua_setglobal(L, "dofile");
	lua_pushnil(L);
	lua_setglobal(L, "loadfile");
	lua_getglobal(L, "load");
	lua_pushcclosure(L, sandbox_load, 1);
	lua_setglobal(L, "load");
	lua_pushcfunction(L, sandbox_print);
	lua_setglobal(L, "print");
	lua_getglobal(L, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	/* A fixed seed: a script using math.random maps the same export the same
	 * way on every run, so resumed runs dedupe. */
	lua_getglobal(L, LUA_MATHLIBNAME);
	lua_getfield(L, -1, "randomseed");
	lua_pushinteger(L, 20240101);
	lua_call(L, 1, 0);
	lua_pop(L, 1);

	lua_newtable(L);
	lua_pushliteral(L, "array");
	lua_setfield(L, -2, "__name");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &im_lua_array_key);
	lua_newtable(L);
	lua_pushliteral(L, "object");
	lua_setfield(L, -2, "__name");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &im_lua_object_key);

	im_lua_open_module(L);
	lua_setglobal(L, "immigrate");
	return 0;
}

lua_State *im_lua_new(size_t memory_limit, uint64_t instruction_limit)
{
	struct im_sandbox *sb = calloc(1, sizeof *sb);
	if (!sb)
		return NULL;
	/* The base state costs a few KB; a tiny cap would fail before the sandbox exists. */
	sb->limit = memory_limit ? memory_limit : IM_SCRIPT_DEFAULT_MEMORY;
	sb->step_limit = instruction_limit ? instruction_limit : IM_SCRIPT_DEFAULT_INSTRUCTIONS;
	sb->heap_low = SIZE_MAX;
	lua_State *L = lua_newstate(sandbox_alloc, sb);
	if (!L) {
		free_blocks_release(sb);
		free(sb);
		return NULL;
	}
	lua_pushcfunction(L, open_sandbox);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		lua_close(L);
		free_blocks_release(sb);
		free(sb);
		return NULL;
	}
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
	return L;
}

void im_lua_close(lua_State *L)
{
	if (!L)
		return;
	struct im_sandbox *sb = im_lua_sandbox(L);
	lua_close(L);
	free_blocks_release(sb);
	im_lua_lib_free(sb->lib);
	free(sb);
}

/* ---- JSON -> Lua ---- */

/* script_json.c decodes text to what this pushes from a value: one limit. */
_Static_assert(MAX_DEPTH == IM_LUA_JSON_DEPTH, "push_json and the text decoder must share the depth limit");

static void push_json(lua_State *L, const json_t *v, int depth)
{
	if (depth > MAX_DEPTH)
		luaL_error(L, "JSON nested deeper than %d levels", MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v);
		luaL_checkstack(L, 3, "JSON too deep");
		lua_createtable(L, 0, (int)n);
		if (n == 0) {
			lua_rawgetp(L, LUA_REGISTRYINDEX, &im_lua_object_key);
			lua_setmetatable(L, -2);
			return;
		}
		const char *key;
		size_t key_len;
		json_t *item;
		json_object_keylen_foreach((json_t *)v, key, key_len, item) {
			lua_pushlstring(L, key, key_len);
			push_json(L, item, depth + 1);
			lua_rawset(L, -3);
		}
		return;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		luaL_checkstack(L, 2, "JSON too deep");
		lua_createtable(L, (int)n, 0);
		if (n == 0) {
			lua_rawgetp(L, LUA_REGISTRYINDEX, &im_lua_array_key);
			lua_setmetatable(L, -2);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			push_json(L, json_array_get(v, i), depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		return;
	}
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		return;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(v));
		return;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		return;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		return;
	case JSON_NULL:
		lua_pushlightuserdata(L, &im_lua_null_key);
		return;
	}
}

void im_lua_push_json(lua_State *L, const json_t *v)
{
	if (!v)
		lua_pushnil(L);
	else
		push_json(L, v, 0);
}

/* ---- Lua -> JSON ---- */

/* The path to the value being converted, kept as a stack so that the error path
 * is only formatted when something fails. */
struct conv {
	char *err;
	size_t err_size;
	int depth;
	struct imv_arena *arena;         /* where the tree goes */
	struct member_stack *members;    /* objects' members while being read */
	struct {
		const char *key; /* NULL: array index */
		size_t len;
		lua_Integer index;
	} path[MAX_DEPTH + 1];
};

static int conv_fail(struct conv *c, const char *msg)
{
	if (!c->err || !c->err_size)
		return -1;
	size_t at = 0;
	c->err[0] = '\0';
	for (int i = 0; i < c->depth && at + 1 < c->err_size; i++) {
		int n;
		if (c->path[i].key)
			n = snprintf(c->err + at, c->err_size - at, "%s%.*s", i ? "." : "", (int)c->path[i].len,
				     c->path[i].key);
		else
			n = snprintf(c->err + at, c->err_size - at, "[%lld]", (long long)c->path[i].index);
		if (n < 0)
			break;
		at += (size_t)n;
	}
	if (at >= c->err_size)
		at = c->err_size - 1;
	snprintf(c->err + at, c->err_size - at, "%s", at ? ": " : "");
	at += strlen(c->err + at);
	if (at < c->err_size)
		snprintf(c->err + at, c->err_size - at, "%s", msg);
	return -1;
}

/* im_rules_utf8_valid, word at a time over the ASCII that is usually the whole
 * string, that also tells whether s needs JSON escaping (*plain = 0 if so):
 * one pass over the bytes for both, where the writer would make a second. */
static int utf8_plain(const char *s, size_t n, uint8_t *plain)
{
	uint64_t esc = 0, high = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		high |= w;
		esc |= imv_word_needs_escape(w);
	}
	high &= 0x8080808080808080ull;
	/* The tail (short keys: all of them) through a table: 1 escape, 2 non-ASCII. */
	static const uint8_t byte_class[256] = {
		[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 2,
	};
	unsigned cls = 0;
	for (; i < n; i++)
		cls |= byte_class[(unsigned char)s[i]];
	*plain = !esc && !(cls & 1);
	return high || (cls & 2) ? im_rules_utf8_valid(s, n) : 1;
}

/* 1: forced array, 0: forced object (immigrate.array/object), -1: neither. */
static int table_marker(lua_State *L, int idx)
{
	if (!lua_getmetatable(L, idx))
		return -1;
	int forced = -1;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &im_lua_array_key);
	if (lua_rawequal(L, -1, -2))
		forced = 1;
	lua_pop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &im_lua_object_key);
	if (lua_rawequal(L, -1, -2))
		forced = 0;
	lua_pop(L, 2);
	return forced;
}

/* Counts the keys: exactly len keys with a border at len means 1..len. */
static int keys_are_1_to_len(lua_State *L, int idx, lua_Unsigned len)
{
	lua_Unsigned count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (++count > len) {
			lua_pop(L, 1);
			return 0;
		}
	}
	return count == len;
}

static int to_imv(lua_State *L, int idx, struct conv *c, struct imv *out);

/* One converter for both forms: the value as an arena tree, then as Jansson. */
json_t *im_lua_to_json(lua_State *L, int idx, char *err, size_t err_size)
{
	struct imv_arena arena = {0};
	struct member_stack members = {0};
	struct conv c = {.err = err, .err_size = err_size, .arena = &arena, .members = &members};
	if (err && err_size)
		err[0] = '\0';
	struct imv v;
	json_t *out = NULL;
	if (to_imv(L, lua_absindex(L, idx), &c, &v) == 0 && !(out = imv_to_json(&v)))
		conv_fail(&c, "out of memory");
	free(members.m);
	imv_arena_free(&arena);
	return out;
}

/* ---- Lua -> arena tree ---- */

static int table_to_imv(lua_State *L, int idx, struct conv *c, struct imv *out)
{
	if (c->depth >= MAX_DEPTH)
		return conv_fail(c, "nested deeper than 64 levels (a cycle?)");
	if (!lua_checkstack(L, 4))
		return conv_fail(c, "out of Lua stack");
	/* Array or object by marker metatable, else by shape: keys exactly 1..len.
	 * A table with no border (len 0: every object) is read once, as an
	 * object, which with no keys is the empty array. */
	lua_Unsigned len = lua_rawlen(L, idx);
	int forced = table_marker(L, idx);
	int is_array = forced >= 0 ? forced : len ? keys_are_1_to_len(L, idx, len) : -1;
	int d = c->depth++;
	int top = lua_gettop(L); /* the item (or the key, then the value) goes above */
	if (is_array == 1) {
		struct imv *items = NULL;
		if (len && (len > SIZE_MAX / sizeof *items || !(items = imv_alloc(c->arena, len * sizeof *items)))) {
			c->depth = d;
			return conv_fail(c, "out of memory");
		}
		for (lua_Unsigned i = 1; i <= len; i++) {
			c->path[d].key = NULL;
			c->path[d].index = (lua_Integer)i;
			lua_rawgeti(L, idx, (lua_Integer)i);
			int bad = to_imv(L, top + 1, c, &items[i - 1]);
			lua_pop(L, 1);
			if (bad)
				return -1;
		}
		out->type = IMV_ARRAY;
		out->len = len;
		out->u.items = items;
		c->depth = d;
		return 0;
	}
	/* Members gather on a stack shared with the nested tables, then move to
	 * the arena at their final count. */
	struct member_stack *ms = c->members;
	size_t base = ms->n;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			char msg[80];
			snprintf(msg, sizeof msg, "a table mixes array items with %s keys", luaL_typename(L, -2));
			lua_pop(L, 2);
			ms->n = base;
			c->depth = d;
			return conv_fail(c, msg);
		}
		size_t klen;
		const char *key = lua_tolstring(L, -2, &klen);
		c->path[d].key = key;
		c->path[d].len = klen;
		uint8_t key_plain;
		if (!utf8_plain(key, klen, &key_plain)) {
			lua_pop(L, 2);
			ms->n = base;
			c->depth = d + 1;
			return conv_fail(c, "key is not valid UTF-8");
		}
		struct imv val;
		if (to_imv(L, top + 2, c, &val)) {
			lua_pop(L, 2);
			ms->n = base;
			return -1;
		}
		if (ms->n == ms->cap) {
			size_t cap = ms->cap ? ms->cap * 2 : 64;
			struct imv_member *m = realloc(ms->m, cap * sizeof *m);
			if (!m) {
				lua_pop(L, 2);
				ms->n = base;
				return conv_fail(c, "out of memory");
			}
			ms->m = m;
			ms->cap = cap;
		}
		val.key_plain = key_plain;
		ms->m[ms->n].key = key; /* Lua's own bytes: see results_key */
		ms->m[ms->n].klen = klen;
		ms->m[ms->n++].val = val;
		lua_pop(L, 1);
	}
	size_t n = ms->n - base;
	struct imv_member *m = n ? imv_alloc(c->arena, n * sizeof *m) : NULL;
	if (n && !m) {
		ms->n = base;
		c->depth = d;
		return conv_fail(c, "out of memory");
	}
	if (n)
		memcpy(m, ms->m + base, n * sizeof *m);
	ms->n = base;
	out->type = n || is_array == 0 ? IMV_OBJECT : IMV_ARRAY;
	out->len = n;
	out->u.members = m;
	c->depth = d;
	return 0;
}

static int to_imv(lua_State *L, int idx, struct conv *c, struct imv *out)
{
	out->len = 0;
	out->plain = out->key_plain = 0;
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		out->type = IMV_NULL;
		return 0;
	case LUA_TBOOLEAN:
		out->type = lua_toboolean(L, idx) ? IMV_TRUE : IMV_FALSE;
		return 0;
	case LUA_TNUMBER: {
		if (lua_isinteger(L, idx)) {
			out->type = IMV_INT;
			out->u.i = (int64_t)lua_tointeger(L, idx);
			return 0;
		}
		double d = lua_tonumber(L, idx);
		if (!isfinite(d))
			return conv_fail(c, "not a finite number");
		/* Tencent's integer fields reject 1.7e9 written as a float; an
		 * integral float (from arithmetic like ms / 1000) means the integer. */
		if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) {
			out->type = IMV_INT;
			out->u.i = (int64_t)d;
		} else {
			out->type = IMV_REAL;
			out->u.d = d;
		}
		return 0;
	}
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		if (!utf8_plain(s, len, &out->plain))
			return conv_fail(c, "string is not valid UTF-8");
		out->type = IMV_STRING;
		out->len = len;
		out->u.s = s; /* Lua's own bytes (NUL-terminated): see results_key */
		return 0;
	}
	case LUA_TTABLE:
		return table_to_imv(L, idx, c, out);
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == &im_lua_null_key) {
			out->type = IMV_NULL;
			return 0;
		}
		/* fall through */
	default: {
		char msg[80];
		snprintf(msg, sizeof msg, "cannot convert a %s to JSON", luaL_typename(L, idx));
		return conv_fail(c, msg);
	}
	}
}

/* Appends a result to s->vres; -1 when out of memory. */
static int vres_add(struct im_script *s, const struct imv *rec)
{
	if (s->nvres == s->capvres) {
		size_t cap = s->capvres ? s->capvres * 2 : 16;
		struct imv *r = realloc(s->vres, cap * sizeof *r);
		if (!r)
			return -1;
		s->vres = r;
		s->capvres = cap;
	}
	s->vres[s->nvres++] = *rec;
	return 0;
}

/* Clears the results of the previous call, whichever form they took. */
static void results_clear(struct im_script *s)
{
	json_array_clear(s->results);
	s->nvres = 0;
	s->members.n = 0;
	imv_arena_reset(&s->arena);
}

/* ---- scripts ---- */

struct im_script *im_lua_script(lua_State *L)
{
	return im_lua_sandbox(L)->script;
}

int im_lua_script_option(lua_State *L, const char *name)
{
	struct im_script *s = im_lua_script(L);
	const json_t *opts = s ? im_lua_sandbox(L)->options : NULL;
	im_lua_push_json(L, opts ? json_object_get(opts, name) : NULL);
	return 1;
}

int im_lua_emit(lua_State *L)
{
	struct im_script *s = im_lua_script(L);
	if (!s)
		return luaL_error(L, "immigrate.emit is only available in mapping scripts");
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->emit_ref);
	lua_pushvalue(L, 1);
	lua_rawseti(L, -2, ++s->n_emitted);
	return 0;
}

/* Message handler: remembers where the error happened. A message already
 * prefixed "file.lua:N: " (error() at level 1 or 2) names its own place. */
static int message_handler(lua_State *L)
{
	struct im_script *s = im_lua_script(L);
	if (!s || !s->fail)
		return 1;
	lua_Debug ar;
	s->fail->where[0] = '\0';
	for (int level = 1; lua_getstack(L, level, &ar); level++) {
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			snprintf(s->fail->where, sizeof s->fail->where, "%s:%d", ar.short_src, ar.currentline);
			break;
		}
	}
	return 1;
}

static void split_message(struct im_script *s, lua_State *L, const char *fallback_where)
{
	struct im_script_failure *f = s->fail;
	const char *msg = lua_tostring(L, -1);
	if (!msg)
		msg = lua_isnil(L, -1) ? "error (no message)" : "error object is not a string";
	/* "name.lua:12: text" -> where "name.lua:12", reason "text". */
	const char *colon = strchr(msg, ':');
	if (colon && colon > msg && colon[1] >= '0' && colon[1] <= '9') {
		const char *p = colon + 1;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p[0] == ':' && p[1] == ' ' && (size_t)(p - msg) < sizeof f->where &&
		    memchr(msg, '\n', (size_t)(p - msg)) == NULL) {
			snprintf(f->where, sizeof f->where, "%.*s", (int)(p - msg), msg);
			msg = p + 2;
		}
	}
	if (!f->where[0])
		snprintf(f->where, sizeof f->where, "%s", fallback_where);
	snprintf(f->reason, sizeof f->reason, "%s", msg);
}

/* Adds one result table at idx to s->results; raises a Lua error when it does
 * not convert. The JSON built so far belongs to s->results, so nothing leaks
 * when this raises. */
static void collect_one(lua_State *L, struct im_script *s, int idx, const char *what)
{
	char err[256];
	if (lua_type(L, idx) != LUA_TTABLE)
		luaL_error(L, "%s is a %s, not an IM record table", what, luaL_typename(L, idx));
	if (s->want_imv) {
		struct conv c = {.err = err, .err_size = sizeof err, .arena = &s->arena, .members = &s->members};
		struct imv v;
		err[0] = '\0';
		if (to_imv(L, idx, &c, &v))
			luaL_error(L, "%s: %s", what, err);
		if (v.type != IMV_OBJECT)
			luaL_error(L, "%s is an array, not an IM record (a table with kind)", what);
		if (vres_add(s, &v))
			luaL_error(L, "out of memory");
		return;
	}
	json_t *rec = im_lua_to_json(L, idx, err, sizeof err);
	if (!rec)
		luaL_error(L, "%s: %s", what, err);
	if (!json_is_object(rec)) {
		json_decref(rec);
		luaL_error(L, "%s is an array, not an IM record (a table with kind)", what);
	}
	if (json_array_append_new(s->results, rec))
		luaL_error(L, "out of memory");
}

static int has_kind(lua_State *L, struct im_script *s, int idx)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->kind_ref);
	int t = lua_rawget(L, idx);
	lua_pop(L, 1);
	return t != LUA_TNIL;
}

/* Slots of the table at s->ctx_ref. */
enum { CTX_STREAM = 1, CTX_SOURCE_ID, CTX_ORIGIN, CTX_LAST_STREAM };

/* Pushes a new ctx table {stream, source_id, origin}: new for every call, as
 * a script may keep or change it. Its keys come interned from s->ctx_ref, and
 * so does the stream name when it is the last call's (a run has one or a few):
 * lua_setfield and lua_pushstring would look each text up again. */
static void push_ctx(lua_State *L, struct im_script *s)
{
	const char *stream = s->which ? "finish" : s->in->stream;
	const char *source_id = s->which ? NULL : s->in->source_id, *origin = s->which ? NULL : s->in->origin;
	lua_createtable(L, 0, !!stream + !!source_id + !!origin);
	int ctx = lua_gettop(L), keys = ctx + 1;
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->ctx_ref);
	if (stream) {
		lua_rawgeti(L, keys, CTX_STREAM);
		lua_rawgeti(L, keys, CTX_LAST_STREAM);
		const char *last = lua_tostring(L, -1);
		if (!last || strcmp(last, stream)) {
			lua_pop(L, 1);
			lua_pushstring(L, stream);
			lua_pushvalue(L, -1);
			lua_rawseti(L, keys, CTX_LAST_STREAM);
		}
		lua_rawset(L, ctx);
	}
	/* New text every record, usually in the same buffer: lua_pushstring's
	 * cache (by address) would only miss. */
	if (source_id) {
		lua_rawgeti(L, keys, CTX_SOURCE_ID);
		lua_pushlstring(L, source_id, strlen(source_id));
		lua_rawset(L, ctx);
	}
	if (origin) {
		lua_rawgeti(L, keys, CTX_ORIGIN);
		lua_pushlstring(L, origin, strlen(origin));
		lua_rawset(L, ctx);
	}
	lua_settop(L, ctx);
}

/* The protected body of a map/finish call: arguments, the call, and the
 * conversion of what it made. */
static int protected_call(lua_State *L)
{
	struct im_script *s = lua_touserdata(L, 1);
	lua_settop(L, 0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->emit_ref);
	for (int i = 1; i <= s->n_emitted; i++) {
		lua_pushnil(L);
		lua_rawseti(L, 1, i);
	}
	s->n_emitted = 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->which ? s->finish_ref : s->map_ref);
	int nargs = 1;
	if (!s->which) {
		if (s->in->data) {
			push_json(L, s->in->data, 0);
		} else if (im_lua_decode_json(L, s->in->text, s->in->text_len, s->input_error,
					      sizeof s->input_error) < 0) {
			s->bad_input = 1; /* map() never runs on it */
			return 0;
		}
		nargs = 2;
	}
	push_ctx(L, s);
	lua_call(L, nargs, 2);
	/* stack: emit table (1), result (2), reason (3) */
	if (!lua_toboolean(L, 2) && !lua_isnil(L, 3)) {
		luaL_tolstring(L, 3, NULL);
		lua_pushboolean(L, 1); /* marker: a returned error, not a raised one */
		return 2;
	}
	lua_pushvalue(L, 2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &results_key);
	for (int i = 1; i <= s->n_emitted; i++) {
		lua_rawgeti(L, 1, i);
		collect_one(L, s, lua_gettop(L), "an emitted value");
		lua_pop(L, 1);
	}
	if (lua_toboolean(L, 2)) {
		if (lua_type(L, 2) != LUA_TTABLE)
			luaL_error(L, "%s returned a %s, not an IM record or an array of them",
				   s->which ? "finish" : "map", luaL_typename(L, 2));
		if (has_kind(L, s, 2)) {
			collect_one(L, s, 2, "the returned record");
		} else {
			lua_Unsigned n = lua_rawlen(L, 2);
			lua_pushnil(L);
			lua_Unsigned keys = 0;
			while (lua_next(L, 2)) {
				lua_pop(L, 1);
				keys++;
			}
			if (keys != n)
				luaL_error(L, "%s returned a table that is neither an IM record (no kind) nor an "
					      "array of them", s->which ? "finish" : "map");
			for (lua_Unsigned i = 1; i <= n; i++) {
				lua_rawgeti(L, 2, (lua_Integer)i);
				collect_one(L, s, lua_gettop(L), "an item of the returned array");
				lua_pop(L, 1);
			}
		}
	}
	return 0;
}

/* How much garbage the collector lets pile up before a new cycle. Lua's default
 * pause starts one whenever the heap has doubled since the last, which for the
 * usual script (a live heap of tens of KB) means every few records, each cycle
 * marking everything still alive. A pause of 100% * (1 + GC_ROOM / live) lets
 * a small heap collect about every GC_ROOM bytes of garbage (at most Lua's
 * largest pause, 10x), and keeps the default for a live heap of GC_ROOM or
 * more: a state never holds much more than GC_ROOM beyond what the default
 * would. The live size is taken as the smallest heap seen between calls over
 * the last GC_PACE_CALLS calls (it only ever overstates it). */
#define GC_ROOM (1u << 20)
#define GC_PAUSE_DEFAULT 200
#define GC_PAUSE_MAX 1000
#define GC_PACE_CALLS 64

static void gc_pace(lua_State *L, struct im_sandbox *sb)
{
	if (sb->used < sb->heap_low)
		sb->heap_low = sb->used;
	if (++sb->pace_calls < GC_PACE_CALLS || sb->gc_pause < 0)
		return;
	size_t live = sb->heap_low ? sb->heap_low : 1; /* never 0 with Lua's own state in it */
	sb->pace_calls = 0;
	sb->heap_low = SIZE_MAX;
	uint64_t pause = 100 + 100 * (uint64_t)GC_ROOM / live;
	if (pause > GC_PAUSE_MAX)
		pause = GC_PAUSE_MAX;
	else if (pause < GC_PAUSE_DEFAULT)
		pause = GC_PAUSE_DEFAULT;
	pause -= pause % 50; /* a new setting only when it moves by a step */
	if ((int)pause == sb->gc_pause)
		return;
	sb->gc_pause = (int)pause;
	if (lua_gc(L, LUA_GCINC, (int)pause, 0, 0) == LUA_GCGEN) {
		/* The script chose the generational collector: leave it be. */
		lua_gc(L, LUA_GCGEN, 0, 0);
		sb->gc_pause = -1;
	}
}

static int run_call(struct im_script *s, int which, json_t **records, struct im_script_failure *f)
{
	lua_State *L = s->L;
	s->which = which;
	s->fail = f;
	f->where[0] = '\0';
	f->reason[0] = '\0';
	results_clear(s);
	*records = s->results;
	im_lua_budget_reset(L);
	lua_settop(L, 0);
	lua_pushcfunction(L, message_handler);
	lua_pushcfunction(L, protected_call);
	lua_pushlightuserdata(L, s);
	int rc = lua_pcall(L, 1, 2, 1);
	const char *fallback = which ? s->finish_where : s->map_where;
	int out = 0;
	if (rc == LUA_OK && s->bad_input) {
		snprintf(f->reason, sizeof f->reason, "invalid JSON at %s", s->input_error);
		s->bad_input = 0;
		out = IM_SCRIPT_BAD_INPUT;
	} else if (rc == LUA_OK && lua_gettop(L) == 3 && lua_toboolean(L, 3)) {
		/* return nil, reason */
		snprintf(f->where, sizeof f->where, "%s", fallback);
		snprintf(f->reason, sizeof f->reason, "%s", lua_tostring(L, 2));
		out = 1;
	} else if (rc == LUA_ERRMEM) {
		struct im_sandbox *sb = im_lua_sandbox(L);
		if (sb->line > 0)
			snprintf(f->where, sizeof f->where, "%s:%d", sb->src, sb->line);
		else
			snprintf(f->where, sizeof f->where, "%s", fallback);
		snprintf(f->reason, sizeof f->reason, "memory cap of %zu bytes exceeded", sb->limit);
		out = 1;
	} else if (rc != LUA_OK) {
		split_message(s, L, fallback);
		out = 1;
	}
	if (out) {
		results_clear(s);
		lua_settop(L, 0);
		/* Give back what the failed call left behind before the next record. */
		if (rc == LUA_ERRMEM)
			lua_gc(L, LUA_GCCOLLECT);
	}
	lua_settop(L, 0);
	s->fail = NULL;
	s->in = NULL;
	gc_pace(L, im_lua_sandbox(L));
	return out;
}

/* What push_json then im_lua_to_json make of v, without Lua: containers copied,
 * immutable scalars shared, integral reals as integers. NULL when the Lua round
 * trip would differ or fail (too deep, invalid UTF-8) or out of memory: the
 * caller then takes the Lua path, which reports it exactly. */
static json_t *identity_copy(const json_t *v, int depth)
{
	if (depth >= MAX_DEPTH - 1)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		json_t *out = json_object();
		const char *key;
		size_t key_len;
		json_t *item;
		if (!out)
			return NULL;
		json_object_keylen_foreach((json_t *)v, key, key_len, item) {
			json_t *copy = im_rules_utf8_valid(key, key_len) ? identity_copy(item, depth + 1) : NULL;
			if (!copy || json_object_setn_new_nocheck(out, key, key_len, copy)) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	case JSON_ARRAY: {
		json_t *out = json_array();
		if (!out)
			return NULL;
		for (size_t i = 0, n = json_array_size(v); i < n; i++) {
			json_t *copy = identity_copy(json_array_get(v, i), depth + 1);
			if (!copy || json_array_append_new(out, copy)) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	case JSON_STRING:
		if (!im_rules_utf8_valid(json_string_value(v), json_string_length(v)))
			return NULL;
		return json_incref((json_t *)v);
	case JSON_REAL: {
		double d = json_real_value(v);
		if (!isfinite(d))
			return NULL;
		if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0)
			return json_integer((json_int_t)d);
		return json_incref((json_t *)v);
	}
	default:
		return json_incref((json_t *)v);
	}
}

/* identity.lua's map() for a record it returns: an object with a kind key
 * (JSON null counts: it is immigrate.null, not nil), _source_id added from ctx
 * when absent. Returns 1 when done (the copy is in s->results), 0 when the Lua
 * function must run instead. */
static int identity_map(struct im_script *s, const struct im_script_input *in)
{
	if (!json_is_object(in->data) || !json_object_get(in->data, "kind"))
		return 0;
	json_t *rec = identity_copy(in->data, 0);
	if (!rec)
		return 0;
	if (in->source_id && !json_object_get(rec, "_source_id")) {
		json_t *id = json_string(in->source_id);
		if (!id || json_object_set_new(rec, "_source_id", id)) {
			json_decref(rec);
			return 0;
		}
	}
	json_array_clear(s->results);
	if (json_array_append_new(s->results, rec))
		return 0;
	return 1;
}

/* identity_map for a record given as text: the native path works on a Jansson
 * value, so the text is parsed for it (what the plugin did before text
 * records). Returns identity_map's answer; 0 also when the text does not parse
 * (the Lua path then reports it). */
static int identity_map_text(struct im_script *s, const struct im_script_input *in)
{
	json_t *data = json_loadb(in->text ? in->text : "", in->text_len, JSON_DECODE_ANY, NULL);
	if (!data)
		return 0;
	struct im_script_input parsed = *in;
	parsed.data = data;
	int done = identity_map(s, &parsed);
	json_decref(data);
	return done;
}

int im_script_map(struct im_script *s, const struct im_script_input *in, json_t **records,
		  struct im_script_failure *f)
{
	s->in = in;
	s->calls++;
	if (s->native_identity && (in->data ? identity_map(s, in) : identity_map_text(s, in))) {
		s->in = NULL;
		f->where[0] = f->reason[0] = '\0';
		*records = s->results;
		return 0;
	}
	return run_call(s, 0, records, f);
}

int im_script_finish(struct im_script *s, json_t **records, struct im_script_failure *f)
{
	if (s->finish_ref == LUA_NOREF) {
		json_array_clear(s->results);
		*records = s->results;
		return 0;
	}
	return run_call(s, 1, records, f);
}

/* The _v calls: run_call with the results made as arena trees. */
static int run_call_v(struct im_script *s, int which, const struct imv **records, size_t *n,
		      struct im_script_failure *f)
{
	json_t *unused;
	s->want_imv = 1;
	int rc = run_call(s, which, &unused, f);
	s->want_imv = 0;
	*records = s->vres;
	*n = s->nvres;
	return rc;
}

int im_script_map_v(struct im_script *s, const struct im_script_input *in, const struct imv **records, size_t *n,
		    struct im_script_failure *f)
{
	results_clear(s);
	*records = NULL;
	*n = 0;
	s->in = in;
	s->calls++;
	if (s->native_identity && (in->data ? identity_map(s, in) : identity_map_text(s, in))) {
		s->in = NULL;
		f->where[0] = f->reason[0] = '\0';
		struct imv rec;
		if (imv_from_json(&s->arena, json_array_get(s->results, 0), &rec) || vres_add(s, &rec)) {
			snprintf(f->where, sizeof f->where, "%s", s->map_where);
			snprintf(f->reason, sizeof f->reason, "out of memory");
			results_clear(s);
			return 1;
		}
		*records = s->vres;
		*n = s->nvres;
		return 0;
	}
	return run_call_v(s, 0, records, n, f);
}

int im_script_finish_v(struct im_script *s, const struct imv **records, size_t *n, struct im_script_failure *f)
{
	results_clear(s);
	*records = NULL;
	*n = 0;
	if (s->finish_ref == LUA_NOREF)
		return 0;
	return run_call_v(s, 1, records, n, f);
}

uint64_t im_script_calls(const struct im_script *s)
{
	return s->calls;
}

const char *im_script_path(const struct im_script *s)
{
	return s->path;
}

int im_script_has_finish(const struct im_script *s)
{
	return s->finish_ref != LUA_NOREF;
}

char *im_lua_read_file(const char *path, size_t *len, char *err, size_t err_size)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	const char *why = buf ? NULL : "out of memory";
	while (!why) {
		n += fread(buf + n, 1, cap - n, fp);
		if (n < cap)
			break;
		char *bigger = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
		if (!bigger)
			why = cap < (16u << 20) ? "out of memory" : "larger than 16 MiB";
		else {
			buf = bigger;
			cap *= 2;
		}
	}
	if (!why && ferror(fp))
		why = "read error";
	fclose(fp);
	if (why) {
		free(buf);
		snprintf(err, err_size, "%s: %s", path, why);
		return NULL;
	}
	if (n >= 2 && buf[0] == '#' && buf[1] == '!')
		for (size_t i = 0; i < n && buf[i] != '\n'; i++)
			buf[i] = ' ';
	*len = n;
	return buf;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void function_where(lua_State *L, char *out, size_t out_size, const char *name)
{
	lua_Debug ar;
	lua_pushvalue(L, -1);
	if (lua_getinfo(L, ">S", &ar))
		snprintf(out, out_size, "%s:%d", ar.short_src, ar.linedefined);
	else
		snprintf(out, out_size, "%s", name);
}

int im_script_open(const struct im_script_config *cfg, struct im_script **out, char *err, size_t err_size)
{
	*out = NULL;
	struct im_script *s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(cfg->path)) || !(s->results = json_array())) {
		snprintf(err, err_size, "%s: out of memory", cfg->path);
		goto fail;
	}
	s->map_ref = s->finish_ref = s->emit_ref = s->kind_ref = s->ctx_ref = LUA_NOREF;
	s->L = im_lua_new(cfg->memory_limit, cfg->instruction_limit);
	if (!s->L) {
		snprintf(err, err_size, "%s: cannot create the Lua state", cfg->path);
		goto fail;
	}
	struct im_sandbox *sb = im_lua_sandbox(s->L);
	sb->script = s;
	sb->stage = cfg->stage;
	sb->options = cfg->options ? json_incref((json_t *)cfg->options) : NULL;

	lua_State *L = s->L;
	lua_newtable(L);
	s->emit_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushliteral(L, "kind");
	s->kind_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_createtable(L, CTX_LAST_STREAM, 0);
	lua_pushliteral(L, "stream");
	lua_rawseti(L, -2, CTX_STREAM);
	lua_pushliteral(L, "source_id");
	lua_rawseti(L, -2, CTX_SOURCE_ID);
	lua_pushliteral(L, "origin");
	lua_rawseti(L, -2, CTX_ORIGIN);
	s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	size_t len;
	char *text = im_lua_read_file(cfg->path, &len, err, err_size);
	if (!text)
		goto fail;
	s->native_identity = len == sizeof identity_lua - 1 && !memcmp(text, identity_lua, len) &&
			     !getenv("IMMIGRATE_NO_NATIVE_IDENTITY");
	char chunkname[256];
	snprintf(chunkname, sizeof chunkname, "@%s", base_name(cfg->path));
	int rc = luaL_loadbufferx(L, text, len, chunkname, "t");
	free(text);
	if (rc != LUA_OK) {
		snprintf(err, err_size, "%s", lua_tostring(L, -1));
		goto fail;
	}
	struct im_script_failure f;
	s->fail = &f;
	f.where[0] = '\0';
	im_lua_budget_reset(L);
	lua_pushcfunction(L, message_handler);
	lua_insert(L, -2);
	rc = lua_pcall(L, 0, 0, -2);
	if (rc != LUA_OK) {
		if (rc == LUA_ERRMEM)
			snprintf(err, err_size, "%s: memory cap exceeded while loading", base_name(cfg->path));
		else {
			split_message(s, L, base_name(cfg->path));
			snprintf(err, err_size, "%s: %s", f.where, f.reason);
		}
		goto fail;
	}
	s->fail = NULL;
	lua_settop(L, 0);
	if (lua_getglobal(L, "map") != LUA_TFUNCTION) {
		snprintf(err, err_size, "%s: the script does not define function map(rec, ctx)", cfg->path);
		goto fail;
	}
	function_where(L, s->map_where, sizeof s->map_where, "map");
	s->map_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	int t = lua_getglobal(L, "finish");
	if (t == LUA_TFUNCTION) {
		function_where(L, s->finish_where, sizeof s->finish_where, "finish");
		s->finish_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	} else if (t != LUA_TNIL) {
		snprintf(err, err_size, "%s: finish is a %s, not a function", cfg->path, lua_typename(L, t));
		goto fail;
	} else {
		lua_pop(L, 1);
	}
	*out = s;
	return 0;
fail:
	im_script_close(s);
	return -1;
}

void im_script_close(struct im_script *s)
{
	if (!s)
		return;
	if (s->L) {
		json_decref(im_lua_sandbox(s->L)->options);
		im_lua_close(s->L);
	}
	json_decref(s->results);
	imv_arena_free(&s->arena);
	free(s->vres);
	free(s->members.m);
	free(s->path);
	free(s);
}
