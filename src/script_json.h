/* JSON text straight into a Lua value, for native records a plugin hands over
 * as text (struct im_record.text with IM_HOST_TEXT_RECORDS).
 *
 * The result is exactly what im_lua_push_json(json_loadb(text, len,
 * JSON_DECODE_ANY)) pushes, without building the Jansson tree:
 *   - accepted text: what Jansson 2.14 accepts with JSON_DECODE_ANY and no other
 *     flag: strict UTF-8 everywhere, no control characters in strings, \u escapes
 *     with paired surrogates and never \u0000, integers within int64 (beyond
 *     them: refused, as Jansson's "too big integer"), reals through strtod with
 *     overflow refused (underflow accepted), only the four JSON whitespace
 *     characters, nothing after the value, at most 2048 levels;
 *   - values: null -> immigrate.null, integers -> Lua integers, reals -> Lua
 *     floats, strings -> Lua strings, an empty object or array gets the
 *     object/array shape metatable, duplicate keys: the last value wins (the
 *     table is sized and filled as push_json sizes and fills it, so even pairs()
 *     order is the same);
 *   - valid text holding a value deeper than IM_LUA_JSON_DEPTH raises the very
 *     Lua error push_json raises ("JSON nested deeper than 64 levels").
 * Memory comes from the state's allocator (the sandbox cap applies); nothing is
 * malloc'd outside Lua, so a Lua error at any point leaks nothing. */
#ifndef IMMIGRATE_SCRIPT_JSON_H
#define IMMIGRATE_SCRIPT_JSON_H

#include <lua.h>
#include <stddef.h>

/* Deepest value push_json converts (the root is depth 0). */
#define IM_LUA_JSON_DEPTH 64

/* Decodes text[0..len) (need not be NUL-terminated) and pushes the value.
 * Returns 0 with one value pushed, or -1 with nothing pushed and err filled
 * ("byte 17: invalid escape") when the text is not JSON Jansson would accept.
 * Raises Lua errors (memory, the depth error above): call it inside a
 * protected call. Needs the registry keys script.c sets up (a sandbox state). */
int im_lua_decode_json(lua_State *L, const char *text, size_t len, char *err, size_t err_size);

#endif
