/* em-read: drive a source plugin module from the command line, for tests.
 *
 *   em-read [-c CHECKPOINT] [-n N] [-e] [-k] [-q] MODULE.la OPTIONS_JSON
 *   em-read -w BODY_FILE -t NOW MODULE.la OPTIONS_JSON
 *
 * Loads MODULE with libltdl, opens it with OPTIONS_JSON (and CHECKPOINT when
 * given) and prints one JSON line per record:
 *   {"stream":..,"source_id":..,"origin":..,"data":..}  or  {..,"error":..,"raw":..}
 * -n N stops after N records; -k prints {"checkpoint": TOKEN} after every record
 * (and once at the end); -e prints the estimate first; -q prints only the
 * number of good and bad records (for measuring the plugin alone). The host
 * handed to the plugin is the runner's own (src/host.c: logging, HTTP with
 * retries and rate limits, JSON limits).
 * -w hands the file's bytes to webhook() as a POST at Unix time NOW and prints
 * {"rc": "ok"|"reject"|"error", "records": [...], "error": "..."}.
 * Exit status: 0 done, 1 a call failed (message on stderr), 2 usage. */
#include <jansson.h>
#include <ltdl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <immigrate/source.h>

#include "host.h"

/* Feeds one file to webhook() and prints the outcome; 0, or 1 on a local failure. */
static int run_webhook(const struct im_source *src, void *state, const char *path, long long now)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	char body[65536];
	size_t len = fread(body, 1, sizeof(body), f);
	fclose(f);
	static const char *const headers[] = {"content-type: application/json", NULL};
	struct im_webhook_request req = {
		.size = sizeof(req),
		.method = "POST",
		.path = "/source/easemob",
		.query = "",
		.headers = headers,
		.body = body,
		.body_len = len,
		.now = now,
	};
	json_t *records = NULL;
	char err[512] = "";
	int rc = src->webhook(state, &req, &records, err, sizeof(err));
	json_t *o = json_pack("{s:s}", "rc", rc == IM_SOURCE_OK ? "ok" : rc == IM_SOURCE_REJECT ? "reject" : "error");
	if (records)
		json_object_set_new(o, "records", records);
	if (err[0])
		json_object_set_new(o, "error", json_string(err));
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	printf("%s\n", text);
	free(text);
	json_decref(o);
	return 0;
}

static void print_checkpoint(const struct im_source *src, void *state)
{
	char *cp = src->checkpoint(state);
	json_t *o = json_pack("{ss}", "checkpoint", cp ? cp : "");
	char *text = json_dumps(o, JSON_COMPACT);
	printf("%s\n", text);
	free(text);
	json_decref(o);
	free(cp);
}

int main(int argc, char **argv)
{
	const char *checkpoint = NULL;
	long limit = -1;
	int want_estimate = 0, want_checkpoints = 0, quiet = 0, opt;
	long good = 0, bad = 0;
	const char *webhook_body = NULL;
	long long now = 0;
	while ((opt = getopt(argc, argv, "c:n:ekqw:t:")) != -1) {
		switch (opt) {
		case 'c': checkpoint = optarg; break;
		case 'n': limit = atol(optarg); break;
		case 'e': want_estimate = 1; break;
		case 'k': want_checkpoints = 1; break;
		case 'q': quiet = 1; break;
		case 'w': webhook_body = optarg; break;
		case 't': now = atoll(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: em-read [-c CHECKPOINT] [-n N] [-e] [-k] [-q] MODULE OPTIONS_JSON\n");
		return 2;
	}
	json_error_t je;
	json_t *options = json_loads(argv[optind + 1], 0, &je);
	if (!options) {
		fprintf(stderr, "em-read: options: %s\n", je.text);
		return 2;
	}
	if (lt_dlinit() != 0) {
		fprintf(stderr, "em-read: lt_dlinit failed\n");
		return 1;
	}
	int status = 1;
	void *state = NULL;
	struct im_host *host = NULL;
	const struct im_source *src = NULL;
	lt_dlhandle mod = lt_dlopen(argv[optind]);
	if (!mod) {
		fprintf(stderr, "em-read: %s: %s\n", argv[optind], lt_dlerror());
		goto out;
	}
	im_source_entry_fn entry = (im_source_entry_fn)lt_dlsym(mod, IMMIGRATE_SOURCE_ENTRY_NAME);
	src = entry ? entry() : NULL;
	if (!src || src->abi != IMMIGRATE_SOURCE_ABI || src->size < IM_SOURCE_SIZE_V1) {
		fprintf(stderr, "em-read: %s: not an ABI %d source plugin\n", argv[optind], IMMIGRATE_SOURCE_ABI);
		goto out;
	}
	struct im_host_config cfg = {.plugin_name = "easemob", .max_retries = 2};
	host = im_host_new(&cfg);
	if (!host) {
		fprintf(stderr, "em-read: cannot make a host\n");
		goto out;
	}
	char err[1024] = "";
	if (src->open(host, options, checkpoint, &state, err, sizeof(err)) != IM_SOURCE_OK) {
		fprintf(stderr, "em-read: open: %s\n", err);
		src->close(state);
		state = NULL;
		goto out;
	}
	if (webhook_body) {
		status = run_webhook(src, state, webhook_body, now);
		goto out;
	}
	if (want_estimate) {
		json_t *counts = NULL;
		if (src->estimate(state, &counts, err, sizeof(err)) != IM_SOURCE_OK) {
			fprintf(stderr, "em-read: estimate: %s\n", err);
			goto out;
		}
		json_t *o = json_pack("{so}", "estimate", counts);
		char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", text);
		free(text);
		json_decref(o);
	}
	for (long n = 0; limit < 0 || n < limit; n++) {
		struct im_record rec;
		memset(&rec, 0, sizeof(rec));
		rec.size = sizeof(rec);
		int rc = src->next(state, &rec, err, sizeof(err));
		if (rc == IM_SOURCE_END)
			break;
		if (rc != IM_SOURCE_OK) {
			fprintf(stderr, "em-read: next: %s\n", err);
			goto out;
		}
		if (quiet) {
			rec.error ? bad++ : good++;
			continue;
		}
		json_t *o = json_pack("{ss*ss*ss*}", "stream", rec.stream, "source_id", rec.source_id, "origin",
				      rec.origin);
		if (rec.data)
			json_object_set(o, "data", rec.data);
		if (rec.error) {
			json_object_set_new(o, "error", json_string(rec.error));
			json_object_set_new(o, "raw", json_string(rec.raw ? rec.raw : ""));
		}
		char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", text);
		free(text);
		json_decref(o);
		if (want_checkpoints)
			print_checkpoint(src, state);
	}
	if (want_checkpoints)
		print_checkpoint(src, state);
	if (quiet)
		printf("%ld good, %ld bad\n", good, bad);
	status = 0;
out:
	if (src && state)
		src->close(state);
	im_host_free(host);
	json_decref(options);
	if (mod)
		lt_dlclose(mod);
	lt_dlexit();
	return status;
}
