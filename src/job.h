/* Job files: what to migrate, how, and where.
 *
 * A job file is a Lua file returning a table, evaluated in the mapping sandbox
 * (script.h) plus env("NAME") (an environment variable, or nil):
 *
 *   return {
 *     source = { plugin = "jsonl", path = "export/", ... },  -- the rest goes to the
 *                                                         -- plugin's open() as JSON
 *     script = "identity",          -- or a path; a bare name is a bundled script
 *     script_options = { ... },     -- immigrate.option(name) in the script
 *     script_limits = { memory_mb = 128, instructions = 10000000 },  -- the defaults
 *     target = { endpoint = "https://adminapisgp.im.qcloud.com", sdkappid = 1400000000,
 *                admin = "administrator", key_file = "im.key", ca_file = nil,
 *                insecure = false, timeout_ms = 10000, limits = { ... },
 *                rules = { ["group-msg-any-elem"] = true },  -- imrules switches
                plan = "pro" },  -- the app's IM edition (plan.h), for `plan`/`report`
 *     state = "migration.db",       -- the stage; default "<job name>.db"
 *     kinds = { "account", "c2c_msg" },  -- load only these kinds
 *     sync = { ... },               -- for the sync daemon, passed through
 *   }
 *
 * Paths are relative to the job file's directory: script, state,
 * target.key_file, target.ca_file, and in `source` the values of the keys
 *     path, file, dir, history, callbacks, and any key ending in _path, _file
 *     or _dir
 * whether a string or an array of strings (each resolved; `path = {"a.zip",
 * "b.zip"}`). Absolute paths are kept as they are. A bare script name NAME (no '/', no
 * ".lua") is NAME.lua in the first directory of $IMMIGRATE_SCRIPT_PATH
 * (colon-separated) that has it, else in IMMIGRATE_SCRIPT_DIR (installed).
 *
 * Overrides: "--set key.sub=value" strings; value is parsed as an integer, a
 * number, true/false/null, or else taken as a string.
 *
 * Unknown keys (top level, target) are errors naming the key. The target's secret
 * key is never stored in the job: it is read on demand from key_file, else from
 * $IMMIGRATE_SECRET_KEY (target.key = env("...") is accepted too and kept only
 * in wiped memory). */
#ifndef IMMIGRATE_JOB_H
#define IMMIGRATE_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct im_job;

/* Reads and checks the job file at path, applying the n override strings in
 * sets (may be NULL when n is 0). Returns 0 with *out (free with im_job_free),
 * or -1 with err naming the file and the problem (unknown key, wrong type, Lua
 * error with its line). */
int im_job_load(const char *path, const char *const *sets, size_t n, struct im_job **out, char *err,
		size_t err_size);
void im_job_free(struct im_job *job);

/* The job file's path as given, and its directory. */
const char *im_job_path(const struct im_job *job);
const char *im_job_dir(const struct im_job *job);
/* The job's name: the file name without directory and ".lua". */
const char *im_job_name(const struct im_job *job);

/* source.plugin, and the other source keys (paths resolved) for the plugin's open(). */
const char *im_job_plugin(const struct im_job *job);
const json_t *im_job_source_options(const struct im_job *job);

/* The resolved script path, and script_options (an object, possibly empty). */
const char *im_job_script_path(const struct im_job *job);
const json_t *im_job_script_options(const struct im_job *job);
/* script_limits, 0 when not set (script.h defaults apply). */
size_t im_job_script_memory(const struct im_job *job);
uint64_t im_job_script_instructions(const struct im_job *job);

/* The resolved state (stage database) path. */
const char *im_job_state_path(const struct im_job *job);

/* target.*: NULL / 0 / false when absent. A job without a target can be
 * checked, previewed and staged, not loaded. */
int im_job_has_target(const struct im_job *job);
const char *im_job_target_endpoint(const struct im_job *job);
uint64_t im_job_target_sdkappid(const struct im_job *job);
const char *im_job_target_admin(const struct im_job *job);
const char *im_job_target_key_file(const struct im_job *job); /* resolved */
const char *im_job_target_ca_file(const struct im_job *job);  /* resolved */
bool im_job_target_insecure(const struct im_job *job);
long im_job_target_timeout_ms(const struct im_job *job);
/* target.limits as given (an object), or NULL. Interpreted by the loader. */
const json_t *im_job_target_limits(const struct im_job *job);

/* target.plan: the app's IM edition, one plan.h's im_plan_edition() knows
 * ("free", "trial", "standard", "pro", "pro_plus", "enterprise", "ultimate";
 * another value fails im_job_load naming target.plan), or NULL when not
 * given. Owned by the job. */
const char *im_job_target_plan(const struct im_job *job);

/* Loads the app's secret key: target.key_file, else target.key, else
 * $IMMIGRATE_SECRET_KEY. Returns 0 with a copy the caller releases with
 * im_secret_free(*key, *len), or -1 with err saying where it looked (never the
 * key). */
int im_job_target_key(const struct im_job *job, char **key, size_t *len, char *err, size_t err_size);

/* kinds as a bit mask (1u << enum im_kind); 0 when the job does not restrict them. */
unsigned im_job_kinds(const struct im_job *job);

/* The validation rules for IM records: imrules defaults with the job's
 * target.rules switches applied (names and values as im_rules_set takes them,
 * the emulator's --rule NAME=VALUE: { ["group-msg-any-elem"] = true,
 * ["msg-max-bytes"] = 8000 }; booleans or integers; an unknown name or a bad
 * value fails im_job_load naming target.rules.NAME). Owned by the job. */
struct im_rules;
const struct im_rules *im_job_rules(const struct im_job *job);

/* sync as given, or NULL. */
const json_t *im_job_sync(const struct im_job *job);

/* The whole job as JSON (without any key), for `check` and for the loader's own
 * keys. Borrowed. */
const json_t *im_job_json(const struct im_job *job);

#endif
