/* Internals shared by script.c (engine) and script_lib.c (the `immigrate` module). */
#ifndef IMMIGRATE_SCRIPT_PRIV_H
#define IMMIGRATE_SCRIPT_PRIV_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

struct im_lib;
struct im_script;
struct im_stage;

/* Per-state data, reached through the allocator's userdata (lua_getallocf). */
#define IM_LUA_CLASS_SIZE 16 /* size classes of small Lua blocks: 16, 32, ... */
#define IM_LUA_CLASSES 16    /* ... up to 256 bytes */
struct im_free_block {
	struct im_free_block *next;
};

struct im_sandbox {
	size_t used, limit;        /* bytes allocated / cap */
	uint64_t steps, step_limit; /* instructions this call / budget */
	int line;                  /* last line the budget hook saw (memory errors) */
	char src[64];
	struct im_script *script;  /* NULL in job files */
	struct im_stage *stage;    /* id map target, or NULL */
	json_t *options;           /* script_options, or NULL */
	struct im_lib *lib;        /* the helpers' caches (script_lib.c), made on first use */
	/* Blocks Lua freed, by size class (script.c, sandbox_alloc): a record's
	 * tables and strings come and go by the dozen, and malloc/free through
	 * realloc cost more than the Lua work around them. */
	struct im_free_block *free_blocks[IM_LUA_CLASSES];
	size_t free_bytes;         /* on those lists */
	/* GC pacing of mapping scripts (script.c, gc_pace) */
	int gc_pause;              /* the pause last set; 0: none yet, -1: hands off */
	unsigned pace_calls;       /* calls since the last decision */
	size_t heap_low;           /* smallest heap seen after those calls */
};

/* Registry keys (their addresses) and the immigrate.null sentinel. */
extern char im_lua_null_key;
extern char im_lua_array_key;
extern char im_lua_object_key;

struct im_sandbox *im_lua_sandbox(lua_State *L);
struct im_script *im_lua_script(lua_State *L);

/* Frees a state's helper caches (script_lib.c). NULL is fine. */
void im_lua_lib_free(struct im_lib *lib);

/* Pushes the `immigrate` module table. */
void im_lua_open_module(lua_State *L);

/* immigrate.emit and immigrate.option, which need the script's state. */
int im_lua_emit(lua_State *L);
int im_lua_script_option(lua_State *L, const char *name);

/* Parses an ISO-8601 date-time ("2024-01-02T03:04:05Z", "+08:00"/"+0800"
 * offsets, fractional seconds, a space for T, a date alone) or a decimal
 * number string into Unix seconds. Returns 0 or -1. */
int im_parse_time(const char *s, size_t len, int64_t *out);

/* Unix seconds from a number of seconds, milliseconds or microseconds, told
 * apart by magnitude (>= 1e14: microseconds, >= 1e11: milliseconds). */
int64_t im_seconds_from_number(double v);

/* The longest prefix of s[0..len) of at most n bytes that does not cut a UTF-8
 * sequence. */
size_t im_utf8_truncate_len(const char *s, size_t len, size_t n);

#endif
