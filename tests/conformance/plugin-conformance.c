/* The conformance kit every source plugin passes.
 *
 *   plugin-conformance [--plugin-dir DIR] [--bad M] PLUGIN GOOD.json BAD.json N
 *
 * GOOD.json holds options that read a fixture yielding exactly N good records
 * (and, with --bad, exactly M bad ones); BAD.json options the plugin must refuse.
 * Relative paths inside the options are relative to the options file, as in a
 * job file. Prints TAP. What it asserts:
 *   - the descriptor: size, ABI, name (= PLUGIN), version, streams, and the
 *     capabilities matching which optional calls exist;
 *   - BAD.json, non-object options, an unknown option (named in the message)
 *     and a foreign checkpoint are refused with a message; close() is safe
 *     after a failed open and with NULL;
 *   - a full pass yields N good + M bad records, each well-formed (stream
 *     listed, origin set, data an object xor error set with raw text), and END
 *     stays END; a second pass yields the very same records (estimate() in
 *     between must not disturb it);
 *   - checkpoint() is stable (same position, same string, also right after
 *     resuming from it), and resuming from checkpoints taken before the first
 *     record, in the middle and at the end yields exactly the remainder,
 *     compared record by record (stream, origin, source id, data or error);
 *   - with a host that takes records as text (IM_HOST_TEXT_RECORDS), a pass
 *     yields the very same records and checkpoints, a record given as text
 *     alone being one JSON object equal to its data, also when resuming from
 *     the middle (plugins that ignore the flag pass this trivially; the kit
 *     says how many records came as text). */
#include "config.h"

#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "plugin.h"
#include "tap.h"

#define MAX_RESUME_POINTS 24
#define UNKNOWN_OPTION "conformance_no_such_option"

struct pass {
	char **dumps;       /* one line per record */
	char **checkpoints; /* [0] before the first record, [i] after record i */
	size_t n, cap;
	size_t good, bad;
	int ended;     /* reached IM_SOURCE_END */
	int malformed; /* records failing the shape checks */
	int unstable;  /* checkpoint() twice in a row differed */
	int text_host; /* read through text_host */
	size_t as_text; /* good records given as text alone */
	char error[512];
};

static const struct im_source *src;
static const struct im_host *host;
static const struct im_host *text_host; /* sets IM_HOST_TEXT_RECORDS */

static void pass_free(struct pass *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->dumps[i]);
	for (size_t i = 0; i <= p->n && p->checkpoints; i++)
		free(p->checkpoints[i]);
	free(p->dumps);
	free(p->checkpoints);
	memset(p, 0, sizeof *p);
}

static int stream_listed(const char *stream)
{
	for (const char *const *s = src->streams; stream && *s; s++)
		if (strcmp(*s, stream) == 0)
			return 1;
	return 0;
}

/* One comparable line per record; reports shape problems on the way. */
static char *dump_record(const struct im_record *r, struct pass *p)
{
	int shape_ok = r->stream && stream_listed(r->stream) && r->origin && *r->origin;
	char *data = NULL;
	if (r->error) {
		shape_ok = shape_ok && *r->error && !r->data && r->raw;
	} else {
		/* A record as text alone (text hosts only) stands for what it parses to. */
		json_t *parsed = NULL;
		if (!r->data && r->text && r->text_len && p->text_host) {
			parsed = json_loadb(r->text, r->text_len, 0, NULL);
			if (!parsed)
				diag("a text record does not parse as one JSON object: %.*s", (int)r->text_len, r->text);
			p->as_text++;
		}
		const json_t *value = r->data ? r->data : parsed;
		shape_ok = shape_ok && json_is_object(value);
		data = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(parsed);
	}
	if (!shape_ok) {
		p->malformed++;
		diag("malformed record: stream=%s origin=%s error=%s data=%s", r->stream ? r->stream : "(null)",
		     r->origin ? r->origin : "(null)", r->error ? r->error : "(null)", r->data ? "object?" : "(null)");
	}
	const char *body = r->error ? r->error : data ? data : "(null)";
	size_t n = strlen(r->stream ? r->stream : "") + strlen(r->origin ? r->origin : "") +
		   strlen(r->source_id ? r->source_id : "") + strlen(body) + strlen(r->raw ? r->raw : "") + 32;
	char *line = malloc(n);
	if (line)
		snprintf(line, n, "%s|%s|%s|%s%s|%s", r->stream ? r->stream : "", r->origin ? r->origin : "",
			 r->source_id ? r->source_id : "-", r->error ? "ERROR " : "", body, r->raw ? r->raw : "");
	free(data);
	return line;
}

static int pass_push(struct pass *p, char *dump, char *checkpoint)
{
	if (p->n + 2 > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char **d = realloc(p->dumps, cap * sizeof *d);
		if (d)
			p->dumps = d;
		char **c = realloc(p->checkpoints, cap * sizeof *c);
		if (c)
			p->checkpoints = c;
		if (!d || !c)
			return -1;
		p->cap = cap;
	}
	p->dumps[p->n] = dump;
	p->checkpoints[p->n + 1] = checkpoint;
	p->n++;
	return 0;
}

/* Reads from checkpoint (NULL: the start) to the end. mid_estimate: call
 * estimate() halfway, when the plugin has it. */
static int run_pass_with(const struct im_host *through, const json_t *options, const char *checkpoint, struct pass *p,
			 size_t mid_estimate)
{
	memset(p, 0, sizeof *p);
	p->text_host = through == text_host;
	void *state = NULL;
	if (src->open(through, options, checkpoint, &state, p->error, sizeof p->error) != IM_SOURCE_OK) {
		src->close(state);
		return -1;
	}
	p->cap = 64;
	p->dumps = calloc(p->cap, sizeof *p->dumps);
	p->checkpoints = calloc(p->cap, sizeof *p->checkpoints);
	if (!p->dumps || !p->checkpoints) {
		src->close(state);
		return -1;
	}
	p->checkpoints[0] = src->checkpoint(state);
	for (;;) {
		struct im_record r = {.size = sizeof r};
		int rc = src->next(state, &r, p->error, sizeof p->error);
		if (rc == IM_SOURCE_END) {
			struct im_record again = {.size = sizeof again};
			p->ended = src->next(state, &again, p->error, sizeof p->error) == IM_SOURCE_END;
			break;
		}
		if (rc != IM_SOURCE_OK)
			break;
		if (r.error)
			p->bad++;
		else
			p->good++;
		char *dump = dump_record(&r, p);
		char *cp = src->checkpoint(state);
		char *cp2 = src->checkpoint(state);
		if (!cp || !cp2 || strcmp(cp, cp2) != 0)
			p->unstable++;
		free(cp2);
		if (!dump || !cp || pass_push(p, dump, cp) < 0) {
			free(dump);
			free(cp);
			break;
		}
		if (mid_estimate && p->n == mid_estimate && src->estimate) {
			json_t *counts = NULL;
			char err[256];
			if (src->estimate(state, &counts, err, sizeof err) != IM_SOURCE_OK)
				diag("estimate() mid-pass failed: %s", err);
			json_decref(counts);
		}
	}
	src->close(state);
	return 0;
}

static int run_pass(const json_t *options, const char *checkpoint, struct pass *p, size_t mid_estimate)
{
	return run_pass_with(host, options, checkpoint, p, mid_estimate);
}

static int same_tail(const struct pass *full, size_t from, const struct pass *resumed);

/* The same reading through a host that takes records as text. */
static void check_text_records(const json_t *good, const struct pass *full)
{
	struct pass text;
	int ran = run_pass_with(text_host, good, NULL, &text, 0) == 0;
	int same = ran && text.n == full->n && text.malformed == 0;
	for (size_t i = 0; same && i < full->n; i++) {
		same = strcmp(full->dumps[i], text.dumps[i]) == 0 &&
		       strcmp(full->checkpoints[i + 1], text.checkpoints[i + 1]) == 0;
		if (!same)
			diag("record %zu differs through a text host:\n#   got:  %s\n#   want: %s", i, text.dumps[i],
			     full->dumps[i]);
	}
	ok(same, "through a host taking text records: the same records and checkpoints (%zu of %zu good ones as text)",
	   text.as_text, full->good);
	if (full->n) {
		struct pass mid;
		size_t k = full->n / 2;
		int resumed = run_pass_with(text_host, good, full->checkpoints[k], &mid, 0) == 0 && same_tail(full, k, &mid);
		ok(resumed, "and resuming from the middle through it yields the same remaining records");
		pass_free(&mid);
	}
	pass_free(&text);
}

static json_t *load_options(const char *path)
{
	json_error_t jerr;
	json_t *v = json_load_file(path, 0, &jerr);
	if (!v)
		fprintf(stderr, "plugin-conformance: %s:%d: %s\n", path, jerr.line, jerr.text);
	return v;
}

static void check_descriptor(const char *name)
{
	ok(src->size >= IM_SOURCE_SIZE_V1, "descriptor size %u covers the ABI 1 layout (%zu)", (unsigned)src->size,
	   (size_t)IM_SOURCE_SIZE_V1);
	is_int(src->abi, IMMIGRATE_SOURCE_ABI, "descriptor reports ABI %d", IMMIGRATE_SOURCE_ABI);
	is_str(src->name, name, "descriptor name matches the plugin file");
	ok(src->version && *src->version, "version is set (%s)", src->version ? src->version : "null");
	int streams_ok = src->streams && src->streams[0];
	for (const char *const *s = src->streams; streams_ok && *s; s++)
		streams_ok = **s != '\0';
	ok(streams_ok, "streams listed and non-empty");
	ok(src->open && src->next && src->checkpoint && src->close, "mandatory calls present");
	ok(!!(src->capabilities & IM_SOURCE_CAP_ESTIMATE) == !!src->estimate, "estimate capability matches estimate()");
	ok(!!(src->capabilities & IM_SOURCE_CAP_WEBHOOK) == !!src->webhook, "webhook capability matches webhook()");
	ok(!!(src->capabilities & IM_SOURCE_CAP_DELIVER) == !!src->deliver, "deliver capability matches deliver()");
	ok(src->capabilities & IM_SOURCE_CAP_READ, "declares the read capability (what this kit checks)");
}

static void check_refusals(const json_t *good, const json_t *bad)
{
	char err[512] = "";
	void *state = NULL;
	int rc = src->open(host, bad, NULL, &state, err, sizeof err);
	ok(rc == IM_SOURCE_ERROR && *err, "bad options refused with a message: %s", err);
	src->close(rc == IM_SOURCE_OK ? state : state); /* must be safe either way */

	json_t *unknown = json_deep_copy(good);
	json_object_set_new(unknown, UNKNOWN_OPTION, json_true());
	err[0] = '\0';
	state = NULL;
	rc = src->open(host, unknown, NULL, &state, err, sizeof err);
	ok(rc == IM_SOURCE_ERROR && strstr(err, UNKNOWN_OPTION), "an unknown option is refused by name: %s", err);
	src->close(state);
	json_decref(unknown);

	json_t *array = json_array();
	err[0] = '\0';
	state = NULL;
	rc = src->open(host, array, NULL, &state, err, sizeof err);
	ok(rc == IM_SOURCE_ERROR && *err, "options that are not an object are refused: %s", err);
	src->close(state);
	json_decref(array);

	err[0] = '\0';
	state = NULL;
	rc = src->open(host, good, "{\"conformance\": \"not this plugin's token\"}", &state, err, sizeof err);
	ok(rc == IM_SOURCE_ERROR && *err, "a foreign checkpoint is refused, not silently restarted: %s", err);
	src->close(state);

	src->close(NULL);
	ok(1, "close(NULL) is safe");
}

static int same_tail(const struct pass *full, size_t from, const struct pass *resumed)
{
	if (resumed->n != full->n - from) {
		diag("resumed from record %zu: %zu records, wanted %zu", from, resumed->n, full->n - from);
		return 0;
	}
	for (size_t i = 0; i < resumed->n; i++)
		if (strcmp(resumed->dumps[i], full->dumps[from + i]) != 0) {
			diag("resumed from record %zu, record %zu differs:\n#   got:  %s\n#   want: %s", from, i,
			     resumed->dumps[i], full->dumps[from + i]);
			return 0;
		}
	return 1;
}

static void check_resume(const json_t *good, const struct pass *full)
{
	size_t points[MAX_RESUME_POINTS], npoints = 0;
	size_t step = full->n / (MAX_RESUME_POINTS - 4) + 1;
	for (size_t k = 0; k <= full->n && npoints < MAX_RESUME_POINTS - 3; k += step)
		points[npoints++] = k;
	/* Always the edges and the middle. */
	points[npoints++] = full->n / 2;
	if (full->n)
		points[npoints++] = full->n - 1;
	points[npoints++] = full->n;
	int all_same = 1, all_stable = 1, all_open = 1;
	for (size_t i = 0; i < npoints; i++) {
		size_t k = points[i];
		const char *cp = full->checkpoints[k];
		void *state = NULL;
		char err[512] = "";
		if (src->open(host, good, cp, &state, err, sizeof err) != IM_SOURCE_OK) {
			diag("resume from %s: %s", cp, err);
			all_open = 0;
			src->close(state);
			continue;
		}
		char *again = src->checkpoint(state);
		if (!again || strcmp(again, cp) != 0) {
			diag("resumed from %s, checkpoint() says %s", cp, again ? again : "(null)");
			all_stable = 0;
		}
		free(again);
		src->close(state);
		struct pass resumed;
		if (run_pass(good, cp, &resumed, 0) < 0) {
			diag("resume from %s: %s", cp, resumed.error);
			all_open = 0;
		} else if (!same_tail(full, k, &resumed)) {
			all_same = 0;
		}
		pass_free(&resumed);
	}
	ok(all_open, "every checkpoint is accepted back by open() (%zu tried)", npoints);
	ok(all_stable, "checkpoint() right after resuming equals the token resumed from");
	ok(all_same, "resuming yields exactly the remaining records, from the start, middle and end");
	if (full->n) {
		struct pass mid;
		size_t k = full->n / 2;
		int ran = run_pass(good, full->checkpoints[k], &mid, 0) == 0;
		ok(ran && mid.n == full->n - k, "resume from the middle checkpoint yields the %zu remaining records",
		   full->n - k);
		pass_free(&mid);
	}
}

static void check_estimate(const json_t *good)
{
	if (!src->estimate) {
		ok(1, "# SKIP no estimate()");
		return;
	}
	void *state = NULL;
	char err[512] = "";
	json_t *counts = NULL;
	int rc = src->open(host, good, NULL, &state, err, sizeof err);
	if (rc == IM_SOURCE_OK)
		rc = src->estimate(state, &counts, err, sizeof err);
	int shape = rc == IM_SOURCE_OK && json_is_object(counts) && json_object_size(counts) > 0;
	const char *key;
	json_t *value;
	json_object_foreach(counts, key, value) shape = shape && json_is_integer(value) && json_integer_value(value) >= 0;
	char *text = counts ? json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	ok(shape, "estimate() gives non-negative counts per stream: %s", text ? text : err);
	free(text);
	json_decref(counts);
	src->close(state);
}

static void usage(void)
{
	fprintf(stderr, "usage: plugin-conformance [--plugin-dir DIR] [--bad M] PLUGIN GOOD.json BAD.json N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"plugin-dir", required_argument, NULL, 'd'},
		{"bad", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	const char *plugin_dir = NULL;
	long want_bad = -1;
	int opt;
	while ((opt = getopt_long(argc, argv, "d:b:", options, NULL)) != -1) {
		if (opt == 'd')
			plugin_dir = optarg;
		else if (opt == 'b')
			want_bad = strtol(optarg, NULL, 10);
		else
			usage();
	}
	if (argc - optind != 4)
		usage();
	const char *name = argv[optind];
	long want_good = strtol(argv[optind + 3], NULL, 10);
	json_t *good = load_options(argv[optind + 1]);
	json_t *bad = load_options(argv[optind + 2]);
	char good_path[PATH_MAX];
	if (!good || !bad || !realpath(argv[optind + 1], good_path)) {
		json_decref(good);
		json_decref(bad);
		return 2;
	}
	/* Paths in the options are relative to the options file, as in a job file. */
	if (chdir(dirname(good_path)) != 0) {
		perror("plugin-conformance: chdir");
		return 2;
	}

	char err[512];
	struct im_plugin *plugin = im_plugin_load(name, plugin_dir, err, sizeof err);
	if (!ok(plugin != NULL, "plugin '%s' loads", name)) {
		diag("%s", err);
		json_decref(good);
		json_decref(bad);
		return done_testing();
	}
	diag("loaded %s", im_plugin_path(plugin));
	src = im_plugin_source(plugin);
	struct im_host_config cfg = {.plugin_name = name};
	struct im_host *h = im_host_new(&cfg);
	host = h;
	struct im_host_config text_cfg = {.plugin_name = name, .text_records = 1};
	struct im_host *th = im_host_new(&text_cfg);
	text_host = th;

	check_descriptor(name);
	check_refusals(good, bad);

	struct pass full, second;
	int ran = run_pass(good, NULL, &full, 0) == 0;
	if (!ok(ran, "open() accepts the good options"))
		diag("%s", full.error);
	ok(full.ended, "a full pass ends with END, and END stays END");
	is_int(full.good, want_good, "a full pass yields %ld good records", want_good);
	if (want_bad >= 0)
		is_int(full.bad, want_bad, "a full pass yields %ld bad records", want_bad);
	is_int(full.malformed, 0, "every record is well-formed");
	is_int(full.unstable, 0, "checkpoint() twice at one position gives one string");
	ran = run_pass(good, NULL, &second, full.n / 2 + 1) == 0;
	int same = ran && second.n == full.n;
	for (size_t i = 0; same && i < full.n; i++)
		same = strcmp(full.dumps[i], second.dumps[i]) == 0 &&
		       strcmp(full.checkpoints[i + 1], second.checkpoints[i + 1]) == 0;
	ok(same, "a second pass (estimate() called halfway) yields the same records and checkpoints");
	pass_free(&second);
	check_estimate(good);
	if (full.checkpoints) {
		check_resume(good, &full);
		check_text_records(good, &full);
	}
	pass_free(&full);

	im_host_free(th);
	im_host_free(h);
	im_plugin_unload(plugin);
	json_decref(good);
	json_decref(bad);
	return done_testing();
}
