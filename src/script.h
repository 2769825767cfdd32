/* The Lua 5.4 mapping engine.
 *
 * The contract scripts are written to: a script defines map(rec, ctx), called
 * once per native record (rec: the record as a table; ctx: {stream, source_id,
 * origin}, a new table each call), which returns nil, one IM record (a table
 * with `kind`), or an array of them, and may call immigrate.emit(imrec) any
 * number of times; `return nil, reason` or error(reason) dead-letters the
 * native record. An optional finish(ctx) runs once at the end of the input.
 * The `immigrate` module (script_lib.c): null, emit, id32, seconds, truncate,
 * userid, groupid, text, face, location, custom, image, sound, file, video,
 * json_encode, json_decode, log, option, and array/object (force the JSON shape
 * of a table).
 *
 * Sandbox: base (load restricted to text chunks; no dofile, loadfile, print goes
 * to the log), string (without dump), table, math, utf8 and `immigrate`. No io,
 * os, debug, package or require. Each state has a memory cap (a counting
 * lua_Alloc) and every call an instruction budget (a count hook); exceeding
 * either fails that one call, which dead-letters that one record, and the run
 * goes on. Every call into Lua is protected. Between map calls the collector's
 * pause is set from the live heap (a small heap may gather up to about 1 MB of
 * garbage before a cycle), replacing any pause a script set itself; a script
 * that switches to the generational collector keeps it.
 *
 * JSON <-> Lua: objects and arrays become tables; JSON null is immigrate.null;
 * integers stay integers. Back to JSON, a table is an array when its keys are
 * exactly 1..n (an empty table is an empty array) and an object otherwise;
 * immigrate.array(t) / immigrate.object(t) force either (tables read from JSON
 * keep what they were). A float with an integral value becomes a JSON integer.
 * Strings must be valid UTF-8. */
#ifndef IMMIGRATE_SCRIPT_H
#define IMMIGRATE_SCRIPT_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

struct im_stage;
struct im_script;

#define IM_SCRIPT_DEFAULT_MEMORY (128u * 1024 * 1024)
#define IM_SCRIPT_DEFAULT_INSTRUCTIONS 10000000ull

struct im_script_config {
	const char *path;            /* the script file */
	const json_t *options;       /* the job's script_options object, or NULL; referenced */
	struct im_stage *stage;      /* where userid()/groupid() record hashed ids; NULL: nowhere */
	size_t memory_limit;         /* bytes for the whole state; 0: IM_SCRIPT_DEFAULT_MEMORY */
	uint64_t instruction_limit;  /* per call; 0: IM_SCRIPT_DEFAULT_INSTRUCTIONS */
};

/* One native record handed to map(). All borrowed for the call. */
struct im_script_input {
	const char *stream;    /* ctx.stream */
	const char *source_id; /* ctx.source_id, may be NULL */
	const char *origin;    /* ctx.origin, may be NULL */
	const json_t *data;    /* becomes `rec` */
	/* When data is NULL: the record as JSON text (text_len bytes, not
	 * NUL-terminated), decoded straight into `rec` (script_json.h), the same
	 * table data would give without building it first. */
	const char *text;
	size_t text_len;
};

/* Why a call failed: where is "file.lua:LINE" (the line of the error, or of the
 * function's definition for `return nil, reason`), reason the message. */
struct im_script_failure {
	char where[192];
	char reason[768];
};

/* Loads and runs the script file (which defines map and optionally finish) in a
 * fresh sandbox. Returns 0 with *out set, or -1 with err naming the file and
 * line (syntax errors, runtime errors at load, no map function). */
int im_script_open(const struct im_script_config *cfg, struct im_script **out, char *err, size_t err_size);

/* Closes the Lua state. NULL is fine. */
void im_script_close(struct im_script *s);

/* The path given at open (owned by the script). */
const char *im_script_path(const struct im_script *s);

/* Non-zero when the script defines finish(ctx). */
int im_script_has_finish(const struct im_script *s);

/* Calls map(rec, ctx). Returns 0 and stores in *records a JSON array of the IM
 * records made (emitted first, then returned; objects, not yet validated),
 * owned by the script and valid until the next call (the caller may modify or
 * steal its items). Returns 1 when the record must be dead-lettered (error(),
 * `return nil, reason`, budget or memory exceeded, a result that is not a
 * record or not convertible to JSON): f says where and why; nothing it emitted
 * is kept. Returns IM_SCRIPT_BAD_INPUT when in->data is NULL and in->text is not
 * JSON. */
int im_script_map(struct im_script *s, const struct im_script_input *in, json_t **records,
		  struct im_script_failure *f);
/* im_script_map's answer when in->text is not JSON (map() was not called): f->where
 * is empty, f->reason says what is wrong ("invalid JSON at byte 17: ..."). A
 * valid text deeper than push_json goes fails like data would (1, the depth
 * error). */
#define IM_SCRIPT_BAD_INPUT 2

/* Calls finish(ctx) (ctx.stream is "finish") when defined; same results as
 * im_script_map. With no finish function returns 0 and an empty array. */
int im_script_finish(struct im_script *s, json_t **records, struct im_script_failure *f);

struct imv;

/* im_script_map and im_script_finish for the staging hot path: the same
 * records, checks and failures, but made as arena trees (imval.h; the objects'
 * members in lua_next order, as im_lua_to_json inserts them) instead of Jansson
 * values. *records points to *n objects owned by the script, valid until its
 * next call. */
int im_script_map_v(struct im_script *s, const struct im_script_input *in, const struct imv **records, size_t *n,
		    struct im_script_failure *f);
int im_script_finish_v(struct im_script *s, const struct imv **records, size_t *n, struct im_script_failure *f);

/* The text of the bundled scripts/identity.lua. A script file with exactly this
 * text maps the records it returns unchanged without entering Lua (the same
 * records, a copy instead of a JSON -> Lua -> JSON round trip); anything else
 * (no kind, not an object) still runs the Lua function. Setting
 * IMMIGRATE_NO_NATIVE_IDENTITY in the environment turns this off (tests compare
 * both paths). Static storage. */
const char *im_script_identity_text(void);

/* Number of native records map() has been called with. */
uint64_t im_script_calls(const struct im_script *s);

/* --- The sandbox, shared with job files (job.c) --- */

/* A new sandboxed state: the libraries above and the `immigrate` module (whose
 * emit/option/userid/groupid need a script and refuse to run without one),
 * a memory cap and an instruction budget (reset with im_lua_budget_reset before
 * each call). NULL on allocation failure. Close with im_lua_close. */
lua_State *im_lua_new(size_t memory_limit, uint64_t instruction_limit);
void im_lua_close(lua_State *L);
void im_lua_budget_reset(lua_State *L);

/* Reads a Lua source file (a mapping script or a job file) whole, at most
 * 16 MiB, with a leading "#!" line blanked (kept as an empty line so line
 * numbers stay right). Returns a malloc'd buffer of *len bytes (not
 * NUL-terminated) that the caller frees, or NULL with err naming the file. */
char *im_lua_read_file(const char *path, size_t *len, char *err, size_t err_size);

/* Converts the Lua value at idx to a new JSON value. Never raises a Lua error.
 * Returns NULL with err naming the offending path ("MsgBody[1].MsgContent.Text:
 * invalid UTF-8") on failure. */
json_t *im_lua_to_json(lua_State *L, int idx, char *err, size_t err_size);

/* Pushes v as a Lua value. May raise a memory error: call inside a protected call. */
void im_lua_push_json(lua_State *L, const json_t *v);

#endif
