/* Job files (see job.h): evaluation in the sandbox, overrides, checks, paths. */
#include "config.h"

#include "job.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "imrecord.h"
#include "imrules.h"
#include "plan.h"
#include "script.h"
#include "secret.h"

#ifndef IMMIGRATE_SCRIPT_DIR
#define IMMIGRATE_SCRIPT_DIR "/usr/local/share/immigrate/scripts"
#endif

/* Job files are small; a runaway one is stopped early. */
#define JOB_MEMORY (32u * 1024 * 1024)
#define JOB_INSTRUCTIONS 50000000ull

struct im_job {
	char *path, *dir, *name;
	json_t *json;           /* the whole job, key removed */
	json_t *source_options; /* source minus plugin */
	char *script_path, *state_path, *key_file, *ca_file;
	char *key;              /* target.key when given inline; wiped on free */
	size_t key_len;
	unsigned kinds;
	struct im_rules rules;  /* imrules defaults + target.rules */
};

static int fail(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -1;
}

static int l_env(lua_State *L)
{
	const char *v = getenv(luaL_checkstring(L, 1));
	if (v)
		lua_pushstring(L, v);
	else
		lua_pushnil(L);
	return 1;
}

/* Runs the job file and converts the table it returns. */
static json_t *evaluate(const char *path, const char *name, char *err, size_t err_size)
{
	size_t len;
	char *text = im_lua_read_file(path, &len, err, err_size);
	if (!text)
		return NULL;
	lua_State *L = im_lua_new(JOB_MEMORY, JOB_INSTRUCTIONS);
	if (!L) {
		free(text);
		fail(err, err_size, "%s: cannot create the Lua state", path);
		return NULL;
	}
	lua_pushcfunction(L, l_env);
	lua_setglobal(L, "env");
	char chunk[PATH_MAX + 2];
	snprintf(chunk, sizeof chunk, "@%s", name);
	json_t *out = NULL;
	im_lua_budget_reset(L);
	int rc = luaL_loadbufferx(L, text, len, chunk, "t");
	free(text);
	if (rc == LUA_OK)
		rc = lua_pcall(L, 0, 1, 0);
	if (rc != LUA_OK) {
		fail(err, err_size, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "error in the job file");
	} else if (!lua_istable(L, -1)) {
		fail(err, err_size, "%s: the job file must return a table, not a %s", path, luaL_typename(L, -1));
	} else {
		char why[256];
		out = im_lua_to_json(L, -1, why, sizeof why);
		if (!out)
			fail(err, err_size, "%s: %s", path, why);
		else if (!json_is_object(out)) {
			json_decref(out);
			out = NULL;
			fail(err, err_size, "%s: the job file must return a table of keys, not an array", path);
		}
	}
	im_lua_close(L);
	return out;
}

static json_t *parse_value(const char *v)
{
	if (!strcmp(v, "true"))
		return json_true();
	if (!strcmp(v, "false"))
		return json_false();
	if (!strcmp(v, "null"))
		return json_null();
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (*v && !*end && !errno)
		return json_integer(n);
	double d = strtod(v, &end);
	if (*v && !*end && !errno && strspn(v, "0123456789+-.eE") == strlen(v))
		return json_real(d);
	return json_string(v);
}

/* Applies "a.b.c=value" to the job, creating objects on the way. */
static int apply_set(json_t *job, const char *set, const char *path, char *err, size_t err_size)
{
	const char *eq = strchr(set, '=');
	if (!eq || eq == set)
		return fail(err, err_size, "--set %s: expected key.sub=value", set);
	char key[256];
	size_t klen = (size_t)(eq - set);
	if (klen >= sizeof key)
		return fail(err, err_size, "--set: key too long");
	memcpy(key, set, klen);
	key[klen] = '\0';
	if (!strcmp(key, "target.key"))
		return fail(err, err_size, "--set target.key: secrets never go on the command line; use "
					   "target.key_file or IMMIGRATE_SECRET_KEY");
	json_t *obj = job;
	char *save = NULL, *part = strtok_r(key, ".", &save);
	while (part) {
		char *next = strtok_r(NULL, ".", &save);
		if (!next) {
			json_t *val = eq[1] ? parse_value(eq + 1) : json_string("");
			if (!val || json_object_set_new(obj, part, val))
				return fail(err, err_size, "--set %.*s: cannot set the value", (int)klen, set);
			return 0;
		}
		json_t *child = json_object_get(obj, part);
		if (json_is_array(child) && json_array_size(child) == 0)
			child = NULL; /* Lua's {}: an empty table of keys */
		if (!child) {
			child = json_object();
			if (!child || json_object_set_new(obj, part, child))
				return fail(err, err_size, "out of memory");
		} else if (!json_is_object(child)) {
			return fail(err, err_size, "--set %.*s: %s is not a table in %s", (int)klen, set, part, path);
		}
		obj = child;
		part = next;
	}
	return fail(err, err_size, "--set %s: empty key", set);
}

static char *resolve(const char *dir, const char *p)
{
	if (p[0] == '/' || !dir[0])
		return strdup(p);
	size_t n = strlen(dir) + strlen(p) + 2;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", dir, p);
	return out;
}

/* The source keys whose values are paths (see job.h). */
static int is_path_key(const char *k)
{
	size_t n = strlen(k);
	static const char *const names[] = {"path", "file", "dir", "history", "callbacks"};
	static const char *const suffixes[] = {"_path", "_file", "_dir"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(k, names[i]))
			return 1;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		size_t s = strlen(suffixes[i]);
		if (n > s && !strcmp(k + n - s, suffixes[i]))
			return 1;
	}
	return 0;
}

/* A new string: p resolved against dir. NULL when out of memory. */
static json_t *resolved_string(const char *dir, const char *p)
{
	char *abs = resolve(dir, p);
	json_t *v = abs ? json_string(abs) : NULL;
	free(abs);
	return v;
}

/* Resolves a path key's value in place: a string, or each string of an array
 * (other values are left for the plugin to refuse). Returns 0, or -1 when out of
 * memory. */
static int resolve_path_value(const char *dir, json_t *obj, const char *key, json_t *val)
{
	if (json_is_string(val)) {
		json_t *abs = resolved_string(dir, json_string_value(val));
		return abs && json_object_set_new(obj, key, abs) == 0 ? 0 : -1;
	}
	if (!json_is_array(val))
		return 0;
	size_t i;
	json_t *item;
	json_array_foreach(val, i, item) {
		if (!json_is_string(item))
			continue;
		json_t *abs = resolved_string(dir, json_string_value(item));
		if (!abs || json_array_set_new(val, i, abs))
			return -1;
	}
	return 0;
}

static int find_script(const char *name, char **out, char *err, size_t err_size)
{
	char file[PATH_MAX];
	const char *env = getenv("IMMIGRATE_SCRIPT_PATH");
	if (env && *env) {
		char *copy = strdup(env);
		if (!copy)
			return fail(err, err_size, "out of memory");
		char *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
			snprintf(file, sizeof file, "%s/%s.lua", d, name);
			if (access(file, R_OK) == 0) {
				free(copy);
				return (*out = strdup(file)) ? 0 : fail(err, err_size, "out of memory");
			}
		}
		free(copy);
	}
	snprintf(file, sizeof file, "%s/%s.lua", IMMIGRATE_SCRIPT_DIR, name);
	if (access(file, R_OK) == 0)
		return (*out = strdup(file)) ? 0 : fail(err, err_size, "out of memory");
	return fail(err, err_size, "script '%s': no %s.lua in $IMMIGRATE_SCRIPT_PATH (%s) or %s", name, name,
		    env && *env ? env : "unset", IMMIGRATE_SCRIPT_DIR);
}

static int check_keys(const json_t *obj, const char *where, const char *const *allowed, const char *path, char *err,
		      size_t err_size)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		int ok = 0;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, key))
				ok = 1;
		if (!ok)
			return fail(err, err_size, "%s: unknown key '%s%s'", path, where, key);
	}
	return 0;
}

static int want_type(const json_t *obj, const char *key, json_type type, const char *what, const char *where,
		     const char *path, char *err, size_t err_size)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_typeof(v) == type || (type == JSON_TRUE && json_is_boolean(v)) ||
	    (type == JSON_REAL && json_is_number(v)))
		return 0;
	return fail(err, err_size, "%s: %s%s must be %s", path, where, key, what);
}

/* target.rules = { ["group-msg-any-elem"] = true, ["msg-max-bytes"] = 8000 }:
 * each switch goes through im_rules_set, so the names and values are exactly
 * the emulator's --rule ones. */
static int apply_rules(struct im_job *job, const json_t *rules, char *err, size_t err_size)
{
	const char *name;
	json_t *val;
	json_object_foreach((json_t *)rules, name, val) {
		char setting[256], value[32], why[256];
		if (json_is_boolean(val))
			snprintf(value, sizeof value, "%s", json_is_true(val) ? "yes" : "no");
		else if (json_is_integer(val))
			snprintf(value, sizeof value, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
		else
			return fail(err, err_size, "%s: target.rules.%s must be true, false or an integer", job->path,
				    name);
		if ((size_t)snprintf(setting, sizeof setting, "%s=%s", name, value) >= sizeof setting)
			return fail(err, err_size, "%s: target.rules: unknown rule '%.64s...'", job->path, name);
		if (im_rules_set(&job->rules, setting, why, sizeof why) < 0)
			return fail(err, err_size, "%s: target.rules.%s: %s", job->path, name, why);
	}
	return 0;
}

static int check_target(struct im_job *job, json_t *target, char *err, size_t err_size)
{
	static const char *const keys[] = {"endpoint", "sdkappid", "admin",  "key_file", "key",  "ca_file",
					   "insecure", "timeout_ms", "limits", "rules",    "plan",	 NULL};
	const char *p = job->path;
	if (!json_is_object(target))
		return fail(err, err_size, "%s: target must be a table", p);
	if (check_keys(target, "target.", keys, p, err, err_size) ||
	    want_type(target, "endpoint", JSON_STRING, "a URL string", "target.", p, err, err_size) ||
	    want_type(target, "sdkappid", JSON_INTEGER, "an integer", "target.", p, err, err_size) ||
	    want_type(target, "admin", JSON_STRING, "a string", "target.", p, err, err_size) ||
	    want_type(target, "key_file", JSON_STRING, "a path", "target.", p, err, err_size) ||
	    want_type(target, "key", JSON_STRING, "a string (use env(...))", "target.", p, err, err_size) ||
	    want_type(target, "ca_file", JSON_STRING, "a path", "target.", p, err, err_size) ||
	    want_type(target, "insecure", JSON_TRUE, "true or false", "target.", p, err, err_size) ||
	    want_type(target, "timeout_ms", JSON_INTEGER, "an integer", "target.", p, err, err_size) ||
	    want_type(target, "limits", JSON_OBJECT, "a table", "target.", p, err, err_size) ||
	    want_type(target, "rules", JSON_OBJECT, "a table of rule switches", "target.", p, err, err_size) ||
	    want_type(target, "plan", JSON_STRING, "a string naming the IM edition", "target.", p, err, err_size))
		return -1;
	const char *plan = json_string_value(json_object_get(target, "plan"));
	if (plan && !im_plan_edition(plan))
		return fail(err, err_size,
			    "%s: target.plan: '%.32s' is not an IM edition (free, trial, standard, pro, pro_plus, "
			    "enterprise, ultimate)",
			    p, plan);
	json_t *rules = json_object_get(target, "rules");
	if (rules && apply_rules(job, rules, err, err_size) < 0)
		return -1;
	const char *endpoint = json_string_value(json_object_get(target, "endpoint"));
	if (endpoint && strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
		return fail(err, err_size, "%s: target.endpoint must start with http:// or https://", p);
	json_t *sdk = json_object_get(target, "sdkappid");
	if (sdk && json_integer_value(sdk) <= 0)
		return fail(err, err_size, "%s: target.sdkappid must be positive", p);
	json_t *key = json_object_get(target, "key");
	if (key) {
		/* Out of the JSON at once: it is printed by `check` and passed around. */
		job->key_len = json_string_length(key);
		job->key = malloc(job->key_len + 1);
		if (!job->key)
			return fail(err, err_size, "out of memory");
		memcpy(job->key, json_string_value(key), job->key_len + 1);
		json_object_del(target, "key");
	}
	const char *kf = json_string_value(json_object_get(target, "key_file"));
	const char *ca = json_string_value(json_object_get(target, "ca_file"));
	if ((kf && !(job->key_file = resolve(job->dir, kf))) || (ca && !(job->ca_file = resolve(job->dir, ca))))
		return fail(err, err_size, "out of memory");
	return 0;
}

/* Lua cannot tell {} from an empty list; where a table of keys is expected, an
 * empty one is an empty object. */
static void empty_as_object(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_array(v) && json_array_size(v) == 0)
		json_object_set_new(obj, key, json_object());
}

static int check_job(struct im_job *job, char *err, size_t err_size)
{
	static const char *const top[] = {"source", "script", "script_options", "script_limits", "target",
					  "state",  "kinds",  "sync",		NULL};
	const char *p = job->path;
	json_t *j = job->json;
	if (check_keys(j, "", top, p, err, err_size))
		return -1;

	static const char *const objects[] = {"source", "script_options", "script_limits", "target", "sync"};
	for (size_t o = 0; o < sizeof objects / sizeof objects[0]; o++)
		empty_as_object(j, objects[o]);
	if (json_is_object(json_object_get(j, "target"))) {
		empty_as_object(json_object_get(j, "target"), "limits");
		empty_as_object(json_object_get(j, "target"), "rules");
	}
	json_t *source = json_object_get(j, "source");
	if (!json_is_object(source))
		return fail(err, err_size, "%s: source = { plugin = \"...\", ... } is required", p);
	const char *plugin = json_string_value(json_object_get(source, "plugin"));
	if (!plugin || !*plugin)
		return fail(err, err_size, "%s: source.plugin must name a plugin (e.g. \"jsonl\")", p);
	job->source_options = json_deep_copy(source);
	if (!job->source_options)
		return fail(err, err_size, "out of memory");
	json_object_del(job->source_options, "plugin");
	const char *key;
	json_t *val;
	json_object_foreach(job->source_options, key, val) {
		if (is_path_key(key) && resolve_path_value(job->dir, job->source_options, key, val) < 0)
			return fail(err, err_size, "out of memory");
	}

	json_t *script = json_object_get(j, "script");
	if (script && !json_is_string(script))
		return fail(err, err_size, "%s: script must be a name (\"identity\") or a path", p);
	const char *s = script ? json_string_value(script) : "identity";
	size_t slen = strlen(s);
	if (!slen)
		return fail(err, err_size, "%s: script is empty", p);
	if (!strchr(s, '/') && !(slen > 4 && !strcmp(s + slen - 4, ".lua"))) {
		char why[PATH_MAX + 200];
		if (find_script(s, &job->script_path, why, sizeof why))
			return fail(err, err_size, "%s: %s", p, why);
	} else if (!(job->script_path = resolve(job->dir, s))) {
		return fail(err, err_size, "out of memory");
	}

	if (want_type(j, "script_options", JSON_OBJECT, "a table", "", p, err, err_size) ||
	    want_type(j, "script_limits", JSON_OBJECT, "a table", "", p, err, err_size) ||
	    want_type(j, "state", JSON_STRING, "a path", "", p, err, err_size) ||
	    want_type(j, "kinds", JSON_ARRAY, "a list of kind names", "", p, err, err_size) ||
	    want_type(j, "sync", JSON_OBJECT, "a table", "", p, err, err_size))
		return -1;
	json_t *limits = json_object_get(j, "script_limits");
	if (limits) {
		static const char *const lk[] = {"memory_mb", "instructions", NULL};
		if (check_keys(limits, "script_limits.", lk, p, err, err_size))
			return -1;
		json_object_foreach(limits, key, val)
			if (!json_is_integer(val) || json_integer_value(val) <= 0)
				return fail(err, err_size, "%s: script_limits.%s must be a positive integer", p, key);
	}
	if (!json_object_get(j, "script_options") && json_object_set_new(j, "script_options", json_object()))
		return fail(err, err_size, "out of memory");

	const char *state = json_string_value(json_object_get(j, "state"));
	char def[PATH_MAX];
	if (!state) {
		snprintf(def, sizeof def, "%s.db", job->name);
		state = def;
	}
	if (!(job->state_path = resolve(job->dir, state)))
		return fail(err, err_size, "out of memory");

	json_t *kinds = json_object_get(j, "kinds");
	size_t i;
	json_array_foreach(kinds, i, val) {
		enum im_kind k = im_kind_from_name(json_string_value(val));
		if (k == IM_KIND_UNKNOWN)
			return fail(err, err_size, "%s: kinds[%zu] is not a record kind (account, profile, friend, "
						   "blacklist, c2c_msg, c2c_read, group, group_member, group_msg, "
						   "group_unread)", p, i + 1);
		job->kinds |= 1u << k;
	}
	json_t *target = json_object_get(j, "target");
	if (target && check_target(job, target, err, err_size))
		return -1;
	return 0;
}

int im_job_load(const char *path, const char *const *sets, size_t n, struct im_job **out, char *err,
		size_t err_size)
{
	*out = NULL;
	struct im_job *job = calloc(1, sizeof *job);
	if (!job || !(job->path = strdup(path)))
		goto oom;
	im_rules_defaults(&job->rules);
	const char *slash = strrchr(path, '/');
	job->dir = slash ? strndup(path, (size_t)(slash - path) ? (size_t)(slash - path) : 1) : strdup(".");
	const char *base = slash ? slash + 1 : path;
	size_t blen = strlen(base);
	job->name = blen > 4 && !strcmp(base + blen - 4, ".lua") ? strndup(base, blen - 4) : strdup(base);
	if (!job->dir || !job->name)
		goto oom;
	job->json = evaluate(path, base, err, err_size);
	if (!job->json)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (apply_set(job->json, sets[i], path, err, err_size))
			goto fail;
	if (check_job(job, err, err_size))
		goto fail;
	*out = job;
	return 0;
oom:
	fail(err, err_size, "%s: out of memory", path);
fail:
	im_job_free(job);
	return -1;
}

void im_job_free(struct im_job *job)
{
	if (!job)
		return;
	im_secret_free(job->key, job->key_len);
	json_decref(job->json);
	json_decref(job->source_options);
	free(job->path);
	free(job->dir);
	free(job->name);
	free(job->script_path);
	free(job->state_path);
	free(job->key_file);
	free(job->ca_file);
	free(job);
}

const char *im_job_path(const struct im_job *job)
{
	return job->path;
}

const char *im_job_dir(const struct im_job *job)
{
	return job->dir;
}

const char *im_job_name(const struct im_job *job)
{
	return job->name;
}

const char *im_job_plugin(const struct im_job *job)
{
	return json_string_value(json_object_get(json_object_get(job->json, "source"), "plugin"));
}

const json_t *im_job_source_options(const struct im_job *job)
{
	return job->source_options;
}

const char *im_job_script_path(const struct im_job *job)
{
	return job->script_path;
}

const json_t *im_job_script_options(const struct im_job *job)
{
	return json_object_get(job->json, "script_options");
}

size_t im_job_script_memory(const struct im_job *job)
{
	json_int_t mb = json_integer_value(json_object_get(json_object_get(job->json, "script_limits"), "memory_mb"));
	return mb > 0 ? (size_t)mb * 1024 * 1024 : 0;
}

uint64_t im_job_script_instructions(const struct im_job *job)
{
	json_int_t n = json_integer_value(json_object_get(json_object_get(job->json, "script_limits"), "instructions"));
	return n > 0 ? (uint64_t)n : 0;
}

const char *im_job_state_path(const struct im_job *job)
{
	return job->state_path;
}

static const json_t *target_get(const struct im_job *job, const char *key)
{
	return json_object_get(json_object_get(job->json, "target"), key);
}

int im_job_has_target(const struct im_job *job)
{
	return json_object_get(job->json, "target") != NULL;
}

const char *im_job_target_endpoint(const struct im_job *job)
{
	return json_string_value(target_get(job, "endpoint"));
}

uint64_t im_job_target_sdkappid(const struct im_job *job)
{
	json_int_t n = json_integer_value(target_get(job, "sdkappid"));
	return n > 0 ? (uint64_t)n : 0;
}

const char *im_job_target_admin(const struct im_job *job)
{
	return json_string_value(target_get(job, "admin"));
}

const char *im_job_target_key_file(const struct im_job *job)
{
	return job->key_file;
}

const char *im_job_target_ca_file(const struct im_job *job)
{
	return job->ca_file;
}

bool im_job_target_insecure(const struct im_job *job)
{
	return json_is_true(target_get(job, "insecure"));
}

long im_job_target_timeout_ms(const struct im_job *job)
{
	return (long)json_integer_value(target_get(job, "timeout_ms"));
}

const json_t *im_job_target_limits(const struct im_job *job)
{
	return target_get(job, "limits");
}

const char *im_job_target_plan(const struct im_job *job)
{
	return json_string_value(target_get(job, "plan"));
}

int im_job_target_key(const struct im_job *job, char **key, size_t *len, char *err, size_t err_size)
{
	*key = NULL;
	*len = 0;
	if (job->key_file)
		return im_secret_load_file(job->key_file, key, len, err, err_size);
	if (job->key) {
		*key = malloc(job->key_len + 1);
		if (!*key)
			return fail(err, err_size, "out of memory");
		memcpy(*key, job->key, job->key_len + 1);
		*len = job->key_len;
		return 0;
	}
	int rc = im_secret_load_env("IMMIGRATE_SECRET_KEY", key, len);
	if (rc == 0)
		return 0;
	if (rc < 0)
		return fail(err, err_size, "out of memory");
	return fail(err, err_size, "%s: no secret key: set target.key_file, or IMMIGRATE_SECRET_KEY", job->path);
}

unsigned im_job_kinds(const struct im_job *job)
{
	return job->kinds;
}

const struct im_rules *im_job_rules(const struct im_job *job)
{
	return &job->rules;
}

const json_t *im_job_sync(const struct im_job *job)
{
	return json_object_get(job->json, "sync");
}

const json_t *im_job_json(const struct im_job *job)
{
	return job->json;
}
