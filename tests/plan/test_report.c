/* Unit tests for the report's pieces that need no browser: HTML escaping of
 * hostile and broken text, and progress samples read back as spans and rates. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "report_priv.h"
#include "tap.h"

/* im_report_escape(s, max) into a string (caller frees). */
static char *escaped(const char *s, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	im_report_escape(f, s, max);
	fclose(f);
	return buf;
}

static void escape_is(const char *in, size_t max, const char *want, const char *name)
{
	char *got = escaped(in, max);
	is_str(got, want, "%s", name);
	free(got);
}

int main(void)
{
	escape_is("<script>alert('x')</script>", 0, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "markup escaped");
	escape_is("a & \"b\"", 0, "a &amp; &quot;b&quot;", "ampersand and quotes");
	escape_is("caf\xc3\xa9 \xe4\xb8\xad", 0, "caf\xc3\xa9 \xe4\xb8\xad", "valid UTF-8 kept");
	escape_is("a\xff" "b", 0, "a\xef\xbf\xbd" "b", "invalid byte replaced by U+FFFD");
	escape_is("\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd", "overlong encoding replaced");
	escape_is("\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "surrogate replaced");
	escape_is("\xe4\xb8", 0, "\xef\xbf\xbd\xef\xbf\xbd", "truncated sequence replaced");
	escape_is("a\x01" "b\tc\nd", 0, "a\xef\xbf\xbd" "b\tc\nd", "control characters replaced, tab and newline kept");
	escape_is("abcdef", 3, "abc\xe2\x80\xa6", "cut at max with an ellipsis");
	escape_is("\xe4\xb8\xad\xe4\xb8\xad", 4, "\xe4\xb8\xad\xe2\x80\xa6", "never cuts inside a character");
	escape_is("<", 1, "&lt;", "max counts source bytes");

	is_str(im_report_num(1234567), "1,234,567", "thousands separators");
	is_str(im_report_num(-1000), "-1,000", "negative numbers");
	is_str(im_report_num(999), "999", "small numbers");

	/* Samples: run 1 lands 100 accounts in 2 s, run 2 lands 300 messages in 3 s. */
	char path[] = "/tmp/immigrate-report-test.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		skip_all("mkstemp failed");
	close(fd);
	unlink(path);
	struct im_stage *st;
	char err[256] = "";
	if (im_stage_open(path, &st, err, sizeof err) < 0) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	struct im_report_actual *a = calloc(1, sizeof *a);
	ok(im_report_load_actual(st, a, err, sizeof err) == 0 && !a->have_samples, "no samples: nothing to draw");
	int64_t landed[IM_KIND_COUNT] = {0};
	int64_t run_id = 0;
	im_stage_run_begin(st, "run", &run_id, err, sizeof err);
	for (int t = 0; t <= 2; t++) {
		landed[IM_KIND_ACCOUNT] = 50 * t;
		ok(im_report_sample(st, 0, 1000 + t, landed, err, sizeof err) == 0, "sample at t=%d (%s)", t, err);
	}
	im_stage_run_end(st, run_id, 0, NULL, err, sizeof err);
	for (int t = 0; t <= 3; t++) {
		landed[IM_KIND_C2C_MSG] = 100 * t;
		im_report_sample(st, 7, 5000 + t, landed, err, sizeof err);
	}
	int64_t first_run = -1;
	sqlite3_stmt *s;
	sqlite3_prepare_v2(im_stage_db(st), "SELECT MIN(run_id) FROM progress_samples", -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		first_run = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	is_int(first_run, run_id, "run_id 0 samples the run in progress");
	ok(im_report_load_actual(st, a, err, sizeof err) == 0 && a->have_samples, "samples read back");
	ok(a->elapsed > 4.999 && a->elapsed < 5.001, "load time: 2 s + 3 s, the gap between runs left out (%.3f)",
	   a->elapsed);
	ok(a->kind_seen[IM_KIND_ACCOUNT] && a->kind_start[IM_KIND_ACCOUNT] == 0 && a->kind_end[IM_KIND_ACCOUNT] == 2,
	   "accounts landed from 0 to 2 s");
	ok(a->kind_start[IM_KIND_C2C_MSG] == 2 && a->kind_end[IM_KIND_C2C_MSG] == 5, "messages from 2 to 5 s");
	ok(a->peak > 99.9 && a->peak < 100.1, "peak rate 100 records/s (%.3f)", a->peak);
	double total = 0;
	for (int b = 0; b < a->nbuckets; b++)
		total += a->rate[b][IM_KIND_C2C_MSG] * a->bucket_width;
	ok(total > 299.9 && total < 300.1, "the rate buckets add up to the 300 messages (%.3f)", total);
	free(a);
	im_stage_close(st);
	char side[sizeof path + 8];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	return done_testing();
}
