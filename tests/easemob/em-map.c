/* em-map: run a mapping script over em-read's output, for tests.
 *
 *   em-read MODULE OPTS | em-map SCRIPT [SCRIPT_OPTIONS_JSON]
 *
 * Calls map(rec, ctx) for each record line (bad records are counted and passed
 * over, as the runner dead-letters them before the script), then finish(ctx),
 * validates every IM record with the runner's validator and prints one JSON line
 * per result: the IM record as the script made it (sorted keys), or
 * {"invalid": reason, "record": ...}, or {"dead": "file.lua:N", "reason": ...,
 * "origin": ...} for a dead-lettered native record.
 * Exit status: 0 done, 1 failure, 2 usage. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imrecord.h"
#include "script.h"

static void print(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	printf("%s\n", text);
	free(text);
}

static void emit_all(struct im_validator *v, json_t *records, int64_t *seq)
{
	size_t i;
	json_t *rec;
	json_array_foreach(records, i, rec) {
		json_t *shown = json_deep_copy(rec);
		struct im_prepared p;
		char why[512];
		if (im_record_prepare(v, rec, (*seq)++, &p, why, sizeof(why)) == 0) {
			print(shown);
		} else {
			json_t *o = json_pack("{sssO}", "invalid", why, "record", shown);
			print(o);
			json_decref(o);
		}
		json_decref(shown);
	}
}

static void dead(const struct im_script_failure *f, const char *origin)
{
	json_t *o = json_object();
	/* The reason may quote cut-off text: keep what is valid UTF-8. */
	json_t *where = json_string(f->where);
	json_object_set_new(o, "dead", where ? where : json_string("?"));
	json_t *reason = json_string(f->reason);
	json_object_set_new(o, "reason", reason ? reason : json_string("(not UTF-8)"));
	if (origin)
		json_object_set_new(o, "origin", json_string(origin));
	print(o);
	json_decref(o);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: em-map SCRIPT [SCRIPT_OPTIONS_JSON] < records.jsonl\n");
		return 2;
	}
	json_t *options = NULL;
	if (argc == 3) {
		json_error_t je;
		options = json_loads(argv[2], 0, &je);
		if (!options) {
			fprintf(stderr, "em-map: options: %s\n", je.text);
			return 2;
		}
	}
	struct im_script_config cfg = {.path = argv[1], .options = options};
	struct im_script *script = NULL;
	char err[1024];
	if (im_script_open(&cfg, &script, err, sizeof(err)) != 0) {
		fprintf(stderr, "em-map: %s\n", err);
		json_decref(options);
		return 1;
	}
	struct im_validator *v = im_validator_new(NULL);
	int64_t seq = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = 0;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		json_error_t je;
		json_t *in = json_loadb(line, (size_t)n, 0, &je);
		json_t *data = json_object_get(in, "data");
		if (!in || !json_is_object(data)) {
			json_decref(in);
			continue; /* a bad record, an estimate or a checkpoint line */
		}
		struct im_script_input si = {
			.stream = json_string_value(json_object_get(in, "stream")),
			.source_id = json_string_value(json_object_get(in, "source_id")),
			.origin = json_string_value(json_object_get(in, "origin")),
			.data = data,
		};
		json_t *records = NULL;
		struct im_script_failure f;
		if (im_script_map(script, &si, &records, &f) == 0)
			emit_all(v, records, &seq);
		else
			dead(&f, si.origin);
		json_decref(in);
	}
	free(line);
	json_t *records = NULL;
	struct im_script_failure f;
	if (im_script_finish(script, &records, &f) == 0)
		emit_all(v, records, &seq);
	else {
		dead(&f, "finish");
		status = 1;
	}
	im_validator_free(v);
	im_script_close(script);
	json_decref(options);
	return status;
}
