/* loadrun: stages IM records from a JSON Lines file and loads them with the
 * loader (im_load_execute), without the extract half, so the load side can be
 * tested end to end against immigrate-imsim on its own.
 *
 *   loadrun --state DB [--records FILE] --endpoint URL --sdkappid N --admin ID
 *           --key-file F [--concurrency N] [--limits JSON] [--quiet] [--json]
 *           [--ca-file F] [--insecure] [--timeout-ms N] [--unreachable-s N] [--verbose]
 *
 * Each line of FILE is one IM record with "kind" (and optionally "_source_id");
 * the dedupe key is the line's kind and compact sorted JSON, so staging the same
 * file again adds nothing. The exit code is im_load_execute's. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "commands.h"
#include "load.h"
#include "log.h"
#include "secret.h"
#include "stage.h"

static const char *str(const json_t *r, const char *k)
{
	const char *s = json_string_value(json_object_get(r, k));
	return s ? s : "";
}

static int64_t num(const json_t *r, const char *k)
{
	json_t *v = json_object_get(r, k);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_integer_value(v);
}

/* conv and ord per stage.h. */
static void keys(const char *kind, const json_t *r, char *conv, size_t size, int64_t *ord)
{
	const char *a = "", *b = "";
	*ord = 0;
	if (!strcmp(kind, "c2c_msg") || !strcmp(kind, "c2c_read")) {
		int msg = !strcmp(kind, "c2c_msg");
		a = str(r, msg ? "From_Account" : "Report_Account");
		b = str(r, msg ? "To_Account" : "Peer_Account");
		if (strcmp(a, b) > 0) {
			const char *t = a;
			a = b;
			b = t;
		}
		snprintf(conv, size, "%s|%s", a, b);
		*ord = num(r, msg ? "MsgTimeStamp" : "MsgReadTime");
	} else if (!strncmp(kind, "group", 5)) {
		snprintf(conv, size, "%s", str(r, "GroupId"));
		*ord = !strcmp(kind, "group_msg") ? num(r, "SendTime") : 0;
	} else if (!strcmp(kind, "account")) {
		snprintf(conv, size, "%s", str(r, "UserID"));
	} else {
		snprintf(conv, size, "%s", str(r, "From_Account"));
	}
}

static int stage_file(struct im_stage *st, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char err[512], *line = NULL, conv[256];
	size_t cap = 0;
	long lineno = 0;
	int rc = 0;
	if (im_stage_begin(st, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		fclose(f);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		json_error_t je;
		json_t *r = json_loads(line, 0, &je);
		if (!r)
			continue;
		char *kind = strdup(str(r, "kind"));
		const char *sid = json_string_value(json_object_get(r, "_source_id"));
		char *source = sid ? strdup(sid) : NULL;
		json_object_del(r, "kind");
		json_object_del(r, "_source_id");
		char *payload = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
		size_t dl = kind && payload ? strlen(kind) + strlen(payload) + 2 : 0;
		char *dedupe = dl ? malloc(dl) : NULL;
		if (!dedupe) {
			fprintf(stderr, "%s:%ld: out of memory\n", path, lineno);
			free(kind);
			free(source);
			free(payload);
			json_decref(r);
			rc = -1;
			continue;
		}
		snprintf(dedupe, dl, "%s:%s", kind, payload);
		int64_t ord;
		keys(kind, r, conv, sizeof conv, &ord);
		struct im_stage_record rec = {kind, conv, ord, lineno, payload, strlen(payload), source, dedupe, 0};
		if (im_stage_put_record(st, &rec, NULL, err, sizeof err) < 0) {
			fprintf(stderr, "%s:%ld: %s\n", path, lineno, err);
			rc = -1;
		}
		free(kind);
		free(source);
		free(payload);
		free(dedupe);
		json_decref(r);
	}
	free(line);
	fclose(f);
	if (im_stage_commit(st, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	const char *state = NULL, *records = NULL, *key_file = NULL, *limits_text = NULL;
	struct im_load_target tg = {0};
	struct im_load_options opt = {0};
	im_log_set_program("loadrun");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quiet")) {
			opt.quiet = true;
			continue;
		}
		if (!strcmp(a, "--verbose")) {
			im_log_set_level(IM_LOG_DEBUG);
			continue;
		}
		if (!strcmp(a, "--insecure")) {
			tg.insecure = true;
			continue;
		}
		if (!strcmp(a, "--json")) {
			opt.log_json = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "loadrun: %s needs a value\n", a);
			return IM_EXIT_USAGE;
		}
		i++;
		if (!strcmp(a, "--state"))
			state = v;
		else if (!strcmp(a, "--records"))
			records = v;
		else if (!strcmp(a, "--endpoint"))
			tg.endpoint = v;
		else if (!strcmp(a, "--sdkappid"))
			tg.sdkappid = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--admin"))
			tg.admin = v;
		else if (!strcmp(a, "--key-file"))
			key_file = v;
		else if (!strcmp(a, "--concurrency"))
			opt.concurrency = atoi(v);
		else if (!strcmp(a, "--limits"))
			limits_text = v;
		else if (!strcmp(a, "--unreachable-s"))
			opt.unreachable_timeout = atoi(v);
		else if (!strcmp(a, "--ca-file"))
			tg.ca_file = v;
		else if (!strcmp(a, "--timeout-ms"))
			tg.timeout_ms = atol(v);
		else {
			fprintf(stderr, "loadrun: unknown option %s\n", a);
			return IM_EXIT_USAGE;
		}
	}
	if (!state || !key_file) {
		fprintf(stderr, "loadrun: --state and --key-file are required\n");
		return IM_EXIT_USAGE;
	}
	char err[512];
	json_t *limits = NULL;
	if (limits_text) {
		json_error_t je;
		limits = json_loads(limits_text, 0, &je);
		if (!json_is_object(limits)) {
			fprintf(stderr, "loadrun: --limits: %s\n", je.text);
			return IM_EXIT_USAGE;
		}
		tg.limits = limits;
	}
	char *key = NULL;
	if (im_secret_load_file(key_file, &key, &tg.key_len, err, sizeof err) < 0) {
		fprintf(stderr, "loadrun: %s\n", err);
		return IM_EXIT_USAGE;
	}
	tg.key = key;
	struct im_stage *st;
	if (im_stage_open(state, &st, err, sizeof err) < 0) {
		fprintf(stderr, "loadrun: %s\n", err);
		return IM_EXIT_FATAL;
	}
	int rc = IM_EXIT_OK;
	if (records && stage_file(st, records) < 0)
		rc = IM_EXIT_FATAL;
	if (rc == IM_EXIT_OK && tg.endpoint)
		rc = im_load_execute(&tg, st, &opt);
	im_stage_close(st);
	im_secret_free(key, tg.key_len);
	json_decref(limits);
	return rc;
}
