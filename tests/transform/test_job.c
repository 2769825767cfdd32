/* Job files: evaluation, keys, --set, relative paths, env(), script lookup. */
#include "config.h"

#include <sys/stat.h>

#include "imrules.h"
#include "job.h"
#include "secret.h"
#include "tap.h"
#include "util.h"

static struct im_job *load(const char *text, const char *const *sets, size_t n, char *err, size_t err_size)
{
	struct im_job *job = NULL;
	if (im_job_load(scratch_file("job.lua", text), sets, n, &job, err, err_size) < 0)
		return NULL;
	return job;
}

int main(void)
{
	char err[1024], want[1024];
	const char *dir = scratch();
	scratch_file("map.lua", "function map(r) return r end\n");
	scratch_file("identity.lua", "function map(r) return r end\n"); /* the default script */
	setenv("IMMIGRATE_SCRIPT_PATH", dir, 1);
	setenv("H3_TEST_ADMIN", "boss", 1);

	struct im_job *job = load("return {\n"
				  "  source = { plugin = 'jsonl', path = 'data/export.jsonl', max_line_bytes = 100,\n"
				  "             cert_file = '/abs/cert.pem' },\n"
				  "  script = 'map.lua',\n"
				  "  script_options = { tenant = 'acme' },\n"
				  "  target = { endpoint = 'http://127.0.0.1:1', sdkappid = 1400000001,\n"
				  "             admin = env('H3_TEST_ADMIN'), key_file = 'keys/im.key',\n"
				  "             limits = { importmsg = 100 } },\n"
				  "  kinds = { 'account', 'c2c_msg' },\n"
				  "  sync = { listen = 8080 },\n"
				  "}\n",
				  NULL, 0, err, sizeof err);
	if (!ok(job != NULL, "a full job file loads"))
		diag("%s", err);
	if (job) {
		is_str(im_job_plugin(job), "jsonl", "source.plugin");
		snprintf(want, sizeof want, "%s/data/export.jsonl", dir);
		is_str(json_string_value(json_object_get(im_job_source_options(job), "path")), want,
		       "source.path is relative to the job file");
		is_str(json_string_value(json_object_get(im_job_source_options(job), "cert_file")), "/abs/cert.pem",
		       "absolute paths stay");
		ok(json_object_get(im_job_source_options(job), "plugin") == NULL, "plugin is not a plugin option");
		is_int(json_integer_value(json_object_get(im_job_source_options(job), "max_line_bytes")), 100,
		       "other source keys pass through");
		snprintf(want, sizeof want, "%s/map.lua", dir);
		is_str(im_job_script_path(job), want, "a script path is relative to the job file");
		is_str(json_string_value(json_object_get(im_job_script_options(job), "tenant")), "acme",
		       "script_options");
		snprintf(want, sizeof want, "%s/job.db", dir);
		is_str(im_job_state_path(job), want, "state defaults to <job name>.db beside the job");
		is_str(im_job_target_admin(job), "boss", "env() reads the environment");
		is_int(im_job_target_sdkappid(job), 1400000001, "target.sdkappid");
		snprintf(want, sizeof want, "%s/keys/im.key", dir);
		is_str(im_job_target_key_file(job), want, "target.key_file is resolved");
		is_int(json_integer_value(json_object_get(im_job_target_limits(job), "importmsg")), 100,
		       "target.limits passes through");
		is_int(im_job_kinds(job), (1u << 0) | (1u << 4), "kinds as a bit mask");
		ok(im_job_sync(job) != NULL, "sync passes through");
		im_job_free(job);
	}

	job = load("return { source = { plugin = 'jsonl', path = 'x' }, script = 'map', bogus = 1 }", NULL, 0, err,
		   sizeof err);
	ok(!job && strstr(err, "unknown key 'bogus'"), "an unknown top-level key is named: %s", err);
	job = load("return { source = { plugin = 'jsonl' }, target = { endpoint = 'http://x', sdkappid = 1, "
		   "admn = 'a' } }",
		   NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "unknown key 'target.admn'"), "an unknown target key is named: %s", err);
	job = load("return { source = { plugin = 'jsonl' }, kinds = { 'acount' } }", NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "kinds[1]"), "an unknown kind is refused: %s", err);
	job = load("return { source = { plugin = 'jsonl' }, target = { endpoint = 'ftp://x' } }", NULL, 0, err,
		   sizeof err);
	ok(!job && strstr(err, "endpoint"), "a non-HTTP endpoint is refused");
	job = load("return {\n  source = { plugin = 'jsonl' },\n  script = nosuch.value\n}", NULL, 0, err,
		   sizeof err);
	ok(!job && strstr(err, "job.lua:3"), "a Lua error names the job file's line: %s", err);
	job = load("return 42", NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "must return a table"), "a job must return a table");
	job = load("return { source = { plugin = 'jsonl' }, script = 'nosuchscript' }", NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "nosuchscript"), "a missing bundled script is named");
	job = load("local f = io.open('/etc/passwd') return {}", NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "io"), "job files run in the sandbox (no io)");

	const char *sets[] = {"source.path=other.jsonl", "target.sdkappid=1400000002", "target.insecure=true",
			      "script=map", "target.limits.importmsg=50", "state=/tmp/abs.db"};
	job = load("return { source = { plugin = 'jsonl', path = 'x' }, target = { endpoint = 'https://h', "
		   "sdkappid = 1, admin = 'a' } }",
		   sets, 6, err, sizeof err);
	if (!ok(job != NULL, "--set overrides apply"))
		diag("%s", err);
	if (job) {
		snprintf(want, sizeof want, "%s/other.jsonl", dir);
		is_str(json_string_value(json_object_get(im_job_source_options(job), "path")), want,
		       "--set source.path (resolved)");
		is_int(im_job_target_sdkappid(job), 1400000002, "--set parses integers");
		ok(im_job_target_insecure(job), "--set parses booleans");
		snprintf(want, sizeof want, "%s/map.lua", dir);
		is_str(im_job_script_path(job), want, "a bare script name is found in IMMIGRATE_SCRIPT_PATH");
		is_int(json_integer_value(json_object_get(im_job_target_limits(job), "importmsg")), 50,
		       "--set creates nested tables");
		is_str(im_job_state_path(job), "/tmp/abs.db", "--set state");
		im_job_free(job);
	}
	const char *bad_set[] = {"target.key=hunter2"};
	job = load("return { source = { plugin = 'jsonl' } }", bad_set, 1, err, sizeof err);
	ok(!job && strstr(err, "never") && !strstr(err, "hunter2"), "--set target.key is refused without echoing it");
	const char *bogus_set[] = {"nope.x=1"};
	job = load("return { source = { plugin = 'jsonl' } }", bogus_set, 1, err, sizeof err);
	ok(!job && strstr(err, "unknown key 'nope'"), "--set of an unknown key is refused");

	/* The key: from key_file, inline (env), or IMMIGRATE_SECRET_KEY; never in the JSON. */
	chmod(scratch_file("k.key", "s3cret\n"), 0600);
	setenv("H3_TEST_KEY", "inline-key", 1);
	job = load("return { source = { plugin = 'jsonl' }, target = { endpoint = 'http://h', sdkappid = 1, admin = 'a', "
		   "key = env('H3_TEST_KEY') } }",
		   NULL, 0, err, sizeof err);
	if (job) {
		char *k;
		size_t n;
		ok(im_job_target_key(job, &k, &n, err, sizeof err) == 0 && !strcmp(k, "inline-key"),
		   "target.key = env(...) works");
		im_secret_free(k, n);
		char *dump = json_dumps(im_job_json(job), 0);
		ok(dump && !strstr(dump, "inline-key"), "the key is not kept in the job's JSON");
		free(dump);
		im_job_free(job);
	} else {
		ok(0, "inline key job loads: %s", err);
		ok(0, "skipped");
	}
	job = load("return { source = { plugin = 'jsonl' }, target = { endpoint = 'http://h', sdkappid = 1, admin = 'a', "
		   "key_file = 'k.key' } }",
		   NULL, 0, err, sizeof err);
	if (job) {
		char *k;
		size_t n;
		ok(im_job_target_key(job, &k, &n, err, sizeof err) == 0 && n == 6 && !strcmp(k, "s3cret"),
		   "target.key_file is read (newline dropped)");
		im_secret_free(k, n);
		im_job_free(job);
	} else {
		ok(0, "key_file job loads: %s", err);
	}
	unsetenv("IMMIGRATE_SECRET_KEY");
	job = load("return { source = { plugin = 'jsonl' }, target = { endpoint = 'http://h', sdkappid = 1, admin = 'a' } }",
		   NULL, 0, err, sizeof err);
	if (job) {
		char *k;
		size_t n;
		ok(im_job_target_key(job, &k, &n, err, sizeof err) < 0 && strstr(err, "IMMIGRATE_SECRET_KEY"),
		   "no key anywhere is an error saying where to put it");
		setenv("IMMIGRATE_SECRET_KEY", "from-env", 1);
		ok(im_job_target_key(job, &k, &n, err, sizeof err) == 0 && !strcmp(k, "from-env"),
		   "IMMIGRATE_SECRET_KEY is used");
		im_secret_free(k, n);
		im_job_free(job);
	} else {
		ok(0, "no-key job loads: %s", err);
		ok(0, "skipped");
	}
	/* Lists of paths (sendbird path = {...}) and easemob's history / callbacks. */
	job = load("return { source = { plugin = 'x', path = { 'a.zip', '/abs/b.zip', 'sub/c.zip' },\n"
		   "  history = 'hist', callbacks = { 'cb/1.jsonl', 7 }, extra_dirs = { 'd' }, names = { 'n' },\n"
		   "  history_from = '2024010100' } }",
		   NULL, 0, err, sizeof err);
	if (!ok(job != NULL, "a job with lists of paths loads"))
		diag("%s", err);
	if (job) {
		const json_t *o = im_job_source_options(job);
		const json_t *paths = json_object_get(o, "path");
		ok(json_is_array(paths) && json_array_size(paths) == 3, "path stays a list of 3");
		snprintf(want, sizeof want, "%s/a.zip", dir);
		is_str(json_string_value(json_array_get(paths, 0)), want, "path[1] is relative to the job file");
		is_str(json_string_value(json_array_get(paths, 1)), "/abs/b.zip", "path[2] absolute stays");
		snprintf(want, sizeof want, "%s/sub/c.zip", dir);
		is_str(json_string_value(json_array_get(paths, 2)), want, "path[3] is resolved");
		snprintf(want, sizeof want, "%s/hist", dir);
		is_str(json_string_value(json_object_get(o, "history")), want, "history (a string) is a path key");
		const json_t *cb = json_object_get(o, "callbacks");
		snprintf(want, sizeof want, "%s/cb/1.jsonl", dir);
		is_str(json_string_value(json_array_get(cb, 0)), want, "callbacks (a list) is a path key");
		is_int(json_integer_value(json_array_get(cb, 1)), 7, "a non-string item is left for the plugin");
		is_str(json_string_value(json_array_get(json_object_get(o, "extra_dirs"), 0)), "d",
		       "a key ending in _dirs is not a path key");
		is_str(json_string_value(json_array_get(json_object_get(o, "names"), 0)), "n",
		       "lists under other keys are untouched");
		is_str(json_string_value(json_object_get(o, "history_from")), "2024010100",
		       "history_from is not a path");
		im_job_free(job);
	}
	const char *set_history[] = {"source.history=h2"};
	job = load("return { source = { plugin = 'x', history = { 'h1' } } }", set_history, 1, err, sizeof err);
	if (job) {
		snprintf(want, sizeof want, "%s/h2", dir);
		is_str(json_string_value(json_object_get(im_job_source_options(job), "history")), want,
		       "--set source.history=... is resolved");
		im_job_free(job);
	} else {
		ok(0, "--set source.history: %s", err);
	}

	/* target.rules: imrules switches per job. */
	job = load("return { source = { plugin = 'x' }, target = { rules = { ['group-msg-any-elem'] = true,\n"
		   "  ['msg-max-bytes'] = 8000, ['legacy-identifier'] = false } } }",
		   NULL, 0, err, sizeof err);
	if (!ok(job != NULL, "a job with target.rules loads"))
		diag("%s", err);
	if (job) {
		const struct im_rules *r = im_job_rules(job);
		ok(r->group_msg_any_elem, "group-msg-any-elem = true");
		is_int((long long)r->msg_max_bytes, 8000, "msg-max-bytes = 8000");
		ok(!r->legacy_identifier, "legacy-identifier = false");
		ok(!r->group_msg_sender_member && r->read_time_number, "the other switches keep their defaults");
		im_job_free(job);
	}
	job = load("return { source = { plugin = 'x' } }", NULL, 0, err, sizeof err);
	if (job) {
		struct im_rules defaults;
		im_rules_defaults(&defaults);
		ok(!memcmp(im_job_rules(job), &defaults, sizeof defaults), "no target: the imrules defaults");
		im_job_free(job);
	} else {
		ok(0, "a job without target: %s", err);
	}
	const char *set_rule[] = {"target.rules.group-msg-any-elem=true"};
	job = load("return { source = { plugin = 'x' }, target = { } }", set_rule, 1, err, sizeof err);
	ok(job && im_job_rules(job)->group_msg_any_elem, "--set target.rules.NAME=true");
	im_job_free(job);
	job = load("return { source = { plugin = 'x' }, target = { rules = { ['group-msg-any-elemz'] = true } } }",
		   NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "target.rules.group-msg-any-elemz") && strstr(err, "unknown"),
	   "an unknown rule is an error naming the key");
	diag("%s", err);
	im_job_free(job);
	job = load("return { source = { plugin = 'x' }, target = { rules = { ['msg-max-bytes'] = 'lots' } } }", NULL,
		   0, err, sizeof err);
	ok(!job && strstr(err, "target.rules.msg-max-bytes"), "a value of the wrong type names the key");
	im_job_free(job);
	job = load("return { source = { plugin = 'x' }, target = { rules = { ['msg-max-bytes'] = -1 } } }", NULL, 0,
		   err, sizeof err);
	ok(!job && strstr(err, "target.rules.msg-max-bytes"), "a bad value names the key");
	im_job_free(job);
	job = load("return { source = { plugin = 'x' }, target = { rules = 'strict' } }", NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "target.rules"), "rules must be a table");
	im_job_free(job);

	/* target.plan: the app's edition, one plan.h knows. */
	job = load("return { source = { plugin = 'x' }, target = { plan = 'pro' } }", NULL, 0, err, sizeof err);
	if (ok(job != NULL, "target.plan = 'pro' loads"))
		is_str(im_job_target_plan(job), "pro", "im_job_target_plan");
	else
		diag("%s", err);
	im_job_free(job);
	job = load("return { source = { plugin = 'x' }, target = { } }", NULL, 0, err, sizeof err);
	ok(job && im_job_target_plan(job) == NULL, "no target.plan: NULL");
	im_job_free(job);
	const char *set_plan[] = {"target.plan=free"};
	job = load("return { source = { plugin = 'x' } }", set_plan, 1, err, sizeof err);
	ok(job && !strcmp(im_job_target_plan(job), "free"), "--set target.plan=free");
	im_job_free(job);
	job = load("return { source = { plugin = 'x' }, target = { plan = 'gold' } }", NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "target.plan") && strstr(err, "'gold'") && strstr(err, "ultimate"),
	   "an unknown edition is refused naming the key, the value and the editions");
	diag("%s", err);
	im_job_free(job);
	job = load("return { source = { plugin = 'x' }, target = { plan = 2 } }", NULL, 0, err, sizeof err);
	ok(!job && strstr(err, "target.plan must be a string"), "target.plan must be a string: %s", err);
	im_job_free(job);

	scratch_cleanup();
	return done_testing();
}
