/* The jsonl plugin in detail: what each kind of invalid line becomes, origins,
 * source ids, option errors by name, checkpoint format and refusals, lines
 * across read-buffer boundaries, over-cap lines, truncated gzip files, and
 * estimate(). The generic contract is checked by tests/conformance. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "host.h"
#include "plugin.h"
#include "tap.h"

static const struct im_source *src;
static struct im_host *host;
static char fixtures[PATH_MAX];
static char tmpdir[] = "/tmp/immigrate-jsonl.XXXXXX";

/* Opens with options given as JSON text; NULL with err filled on refusal. */
static void *open_json(const char *options_json, const char *checkpoint, char *err, size_t err_size)
{
	json_t *options = json_loads(options_json, 0, NULL);
	void *state = NULL;
	err[0] = '\0';
	int rc = src->open(host, options, checkpoint, &state, err, err_size);
	json_decref(options);
	if (rc != IM_SOURCE_OK) {
		src->close(state);
		return NULL;
	}
	return state;
}

static int next(void *state, struct im_record *r)
{
	char err[256];
	memset(r, 0, sizeof *r);
	r->size = sizeof *r;
	return src->next(state, r, err, sizeof err);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_plain_fixture(void)
{
	char options[PATH_MAX + 128], err[512];
	snprintf(options, sizeof options, "{\"path\": \"%s/plain.jsonl\", \"max_line_bytes\": 256, \"id_field\": \"id\"}",
		 fixtures);
	void *st = open_json(options, NULL, err, sizeof err);
	ok(st != NULL, "opens the plain fixture: %s", err);
	if (!st)
		return;
	char *cp = src->checkpoint(st);
	is_str(cp, "{\"file\":\"plain.jsonl\",\"line\":0,\"offset\":0}", "checkpoint before the first record");
	free(cp);

	struct im_record r;
	is_int(next(st, &r), IM_SOURCE_OK, "first record");
	ok(r.data && !r.error && ends_with(r.origin, "/plain.jsonl:1"), "line 1 is good: %s", r.origin);
	is_str(r.source_id, "1", "an integer id_field becomes the source id");
	is_str(r.stream, "records", "default stream name");
	ok(r.text && r.text_len == 64 && !memcmp(r.text, "{\"id\": 1, \"kind\": \"account\", \"UserID\": \"alice\", \"Nick\": \"Alice\"}", 64),
	   "a good record hands over its line as text");
	cp = src->checkpoint(st);
	is_str(cp, "{\"file\":\"plain.jsonl\",\"line\":1,\"offset\":65}", "checkpoint: file, line and byte offset");
	free(cp);

	next(st, &r);
	is_str(r.source_id, "m2", "a string id_field is the source id");
	ok(ends_with(r.origin, ":2"), "line 2");

	next(st, &r);
	ok(!r.data && r.error && strstr(r.error, "invalid JSON at column") && ends_with(r.origin, ":4"),
	   "blank line 3 skipped; line 4 is bad JSON: %s (%s)", r.error, r.origin);
	is_str(r.raw, "{\"id\": 3, \"broken\": ", "its raw text is kept");
	is_str(r.stream, "records", "a bad record still has its stream");

	next(st, &r);
	ok(r.error && strstr(r.error, "holds an array") && ends_with(r.origin, ":5"), "line 5 is not an object: %s",
	   r.error);

	next(st, &r);
	ok(r.error && strstr(r.error, "invalid UTF-8 at byte 20") && ends_with(r.origin, ":6"),
	   "line 6 has invalid UTF-8: %s", r.error);
	ok(r.raw && strstr(r.raw, "\xEF\xBF\xBD latin1 caf\xEF\xBF\xBD"), "its raw text replaces bad bytes with U+FFFD");

	next(st, &r);
	ok(r.error && strstr(r.error, "line of 320 bytes exceeds max_line_bytes (256)") && ends_with(r.origin, ":7"),
	   "line 7 is over the cap: %s", r.error);
	ok(r.raw && strlen(r.raw) <= 256 && strncmp(r.raw, "{\"id\": 5, \"pad\": \"xxx", 21) == 0,
	   "its raw text is truncated to the cap");

	next(st, &r);
	ok(r.data && json_is_true(json_object_get(r.data, "crlf")) && ends_with(r.origin, ":8"),
	   "a CRLF line parses");
	ok(r.text && r.text_len == 23 && !memcmp(r.text, "{\"id\": 6, \"crlf\": true}", 23), "its text stops before the CR");
	struct im_record small;
	memset(&small, 0, sizeof small);
	small.size = IM_RECORD_SIZE_V1;
	small.text = "untouched";
	char why[256];
	src->next(st, &small, why, sizeof why);
	ok(small.data && small.text && !strcmp(small.text, "untouched"),
	   "a caller of the first layout gets no text (the appended member is not written)");

	int good = small.data != NULL, bad = 0; /* small read line 10 */
	while (next(st, &r) == IM_SOURCE_OK) {
		good += r.data != NULL;
		bad += r.error != NULL;
		if (r.error)
			ok(strstr(r.error, "holds a number") && ends_with(r.origin, ":23"), "line 23 holds a number: %s",
			   r.error);
		if (r.data && json_integer_value(json_object_get(r.data, "id")) == 20)
			ok(ends_with(r.origin, ":24"), "the last line, without a newline, is read: %s", r.origin);
	}
	is_int(good, 14, "14 more good records");
	is_int(bad, 1, "and one more bad one");
	src->close(st);

	/* Resuming after the 7th record (line 8) skips blank line 9. */
	st = open_json(options, NULL, err, sizeof err);
	char *after7 = NULL;
	for (int i = 0; i < 7 && next(st, &r) == IM_SOURCE_OK; i++) {
		free(after7);
		after7 = src->checkpoint(st);
	}
	src->close(st);
	st = open_json(options, after7, err, sizeof err);
	int resumed = st && next(st, &r) == IM_SOURCE_OK; /* before r.origin is read below */
	ok(resumed && ends_with(r.origin, ":10"), "resuming after the 7th record (line 8) continues at line 10: %s",
	   resumed ? r.origin : err);
	src->close(st);
	free(after7);

	/* estimate(): exact for small plain files (24 lines, blank ones included). */
	st = open_json(options, NULL, err, sizeof err);
	json_t *counts = NULL;
	ok(st && src->estimate(st, &counts, err, sizeof err) == IM_SOURCE_OK &&
		   json_integer_value(json_object_get(counts, "records")) == 24,
	   "estimate counts the lines of a plain file");
	json_decref(counts);
	src->close(st);
}

static void test_options(void)
{
	char err[512], options[PATH_MAX + 128];
	ok(!open_json("{}", NULL, err, sizeof err) && strstr(err, "'path' is required"), "path is required: %s", err);
	ok(!open_json("{\"path\": \"/x\", \"colour\": 1}", NULL, err, sizeof err) && strstr(err, "'colour'"),
	   "unknown options refused by name: %s", err);
	ok(!open_json("{\"path\": \"/x\", \"max_line_bytes\": \"1M\"}", NULL, err, sizeof err) &&
		   strstr(err, "'max_line_bytes'"),
	   "a bad max_line_bytes is refused by name: %s", err);
	ok(!open_json("{\"path\": \"/nonexistent/export.jsonl\"}", NULL, err, sizeof err) &&
		   strstr(err, "/nonexistent/export.jsonl") && strstr(err, "No such file"),
	   "a missing path is refused, naming it: %s", err);

	snprintf(options, sizeof options,
		 "{\"plugin\": \"jsonl\", \"path\": \"%s/plain.jsonl\", \"stream\": \"messages\", \"id_field\": \"nested\"}",
		 fixtures);
	void *st = open_json(options, NULL, err, sizeof err);
	ok(st != NULL, "the runner's own 'plugin' key is tolerated: %s", err);
	struct im_record r;
	if (st) {
		next(st, &r);
		is_str(r.stream, "messages", "the stream option names the records' stream");
		ok(r.source_id == NULL, "a missing id_field member gives no source id");
		json_t *counts = NULL;
		src->estimate(st, &counts, err, sizeof err);
		ok(json_object_get(counts, "messages") != NULL, "estimate() uses the stream name");
		json_decref(counts);
		src->close(st);
	}

	snprintf(options, sizeof options, "{\"path\": \"%s/dir\"}", fixtures);
	ok(!open_json(options, "{\"file\":\"zz.jsonl\",\"line\":3,\"offset\":10}", err, sizeof err) &&
		   strstr(err, "zz.jsonl"),
	   "a checkpoint naming a file not in the directory is refused: %s", err);
	snprintf(options, sizeof options, "{\"path\": \"%s/plain.jsonl\"}", fixtures);
	ok(!open_json(options, "{\"file\":\"plain.jsonl\",\"line\":3,\"offset\":999999}", err, sizeof err) &&
		   strstr(err, "past the end"),
	   "a checkpoint past the end of the file is refused: %s", err);
	st = open_json(options, "{\"file\":0,\"line\":1,\"offset\":65}", err, sizeof err);
	ok(st && next(st, &r) == IM_SOURCE_OK && ends_with(r.origin, ":2"), "a file index is accepted in checkpoints");
	src->close(st);
}

static char *tmp_path(const char *name)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

static void test_buffer_edges(void)
{
	/* 5000 lines of varying length: several 256 KiB reads, lines cut at every edge. */
	FILE *f = fopen(tmp_path("many.jsonl"), "w");
	for (int i = 0; i < 5000; i++)
		fprintf(f, "{\"id\": %d, \"pad\": \"%.*s\"}\n", i, (i * 37) % 200, "");
	/* one line bigger than the read buffer, then a small one */
	fputs("{\"id\": 5000, \"big\": \"", f);
	for (int i = 0; i < 600 * 1024; i++)
		fputc('y', f);
	fputs("\"}\n{\"id\": 5001}\n", f);
	fclose(f);

	char options[PATH_MAX + 128], err[512];
	snprintf(options, sizeof options, "{\"path\": \"%s\"}", tmp_path("many.jsonl"));
	void *st = open_json(options, NULL, err, sizeof err);
	struct im_record r;
	int n = 0, in_order = 1, bad = 0;
	while (st && next(st, &r) == IM_SOURCE_OK) {
		bad += r.error != NULL;
		if (r.data && json_integer_value(json_object_get(r.data, "id")) != n)
			in_order = 0;
		n++;
	}
	src->close(st);
	is_int(n, 5002, "every line across buffer edges is one record");
	ok(in_order && bad == 0, "in order, none damaged (a 600 KiB line included)");

	snprintf(options, sizeof options, "{\"path\": \"%s\", \"max_line_bytes\": 300000}", tmp_path("many.jsonl"));
	st = open_json(options, NULL, err, sizeof err);
	n = 0;
	int over = 0, after = 0;
	while (st && next(st, &r) == IM_SOURCE_OK) {
		if (r.error && strstr(r.error, "exceeds max_line_bytes (300000)") && ends_with(r.origin, ":5001"))
			over = strlen(r.raw) <= 4096;
		if (r.data && json_integer_value(json_object_get(r.data, "id")) == 5001)
			after = 1;
		n++;
	}
	src->close(st);
	ok(over && after && n == 5002, "a line over the cap is one bad record (raw cut to 4 KiB), the next line is read");
}

static void test_truncated_gzip(void)
{
	char path[PATH_MAX];
	if (mkdir(tmp_path("d"), 0700) != 0)
		ok(0, "mkdir");
	snprintf(path, sizeof path, "%s/d/a.jsonl.gz", tmpdir);
	gzFile gz = gzopen(path, "wb");
	for (int i = 0; i < 20000; i++)
		gzprintf(gz, "{\"id\": %d, \"text\": \"message number %d\"}\n", i, i * 7919);
	gzclose(gz);
	FILE *f = fopen(path, "r+");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	if (truncate(path, size / 2) != 0)
		ok(0, "truncate");
	snprintf(path, sizeof path, "%s/d/b.jsonl", tmpdir);
	f = fopen(path, "w");
	fputs("{\"id\": \"b1\"}\n", f);
	fclose(f);

	char options[PATH_MAX + 128], err[512];
	snprintf(options, sizeof options, "{\"path\": \"%s/d\"}", tmpdir);
	void *st = open_json(options, NULL, err, sizeof err);
	struct im_record r;
	int good = 0, read_errors = 0, b1 = 0;
	char *error_cp = NULL;
	while (st && next(st, &r) == IM_SOURCE_OK) {
		if (r.error && strstr(r.error, "read error") && strstr(r.origin, "a.jsonl.gz:")) {
			read_errors++;
			error_cp = src->checkpoint(st);
		} else if (r.data) {
			good++;
		}
		if (r.data && json_is_string(json_object_get(r.data, "id")))
			b1 = 1;
	}
	src->close(st);
	ok(good > 1000 && good < 20000, "a truncated gzip file yields what it holds (%d records)", good);
	is_int(read_errors, 1, "then one bad record naming the file");
	ok(b1, "and the next file is still read");
	is_str(error_cp, "{\"file\":\"b.jsonl\",\"line\":0,\"offset\":0}", "the resume point moves past the broken file");
	free(error_cp);
}

int main(void)
{
	const char *srcdir = getenv("top_srcdir"), *builddir = getenv("top_builddir");
	if (!srcdir || !builddir)
		skip_all("top_srcdir/top_builddir not set (run through make check)");
	char plugin_dir[PATH_MAX];
	snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins/jsonl/.libs", builddir);
	snprintf(fixtures, sizeof fixtures, "%s/tests/conformance/jsonl-data", srcdir);
	if (access(plugin_dir, F_OK) != 0)
		skip_all("jsonl plugin not built");
	char err[512];
	struct im_plugin *plugin = im_plugin_load("jsonl", plugin_dir, err, sizeof err);
	if (!plugin) {
		ok(0, "jsonl loads: %s", err);
		return done_testing();
	}
	src = im_plugin_source(plugin);
	struct im_host_config cfg = {.plugin_name = "jsonl"};
	host = im_host_new(&cfg);
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}

	test_plain_fixture();
	test_options();
	test_buffer_edges();
	test_truncated_gzip();

	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
	im_host_free(host);
	im_plugin_unload(plugin);
	return done_testing();
}
