/* Progress samples: the loader writes one row per kind about once a second
 * (im_report_sample); the report reads them back as spans and rates. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "report_priv.h"

static void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;
	if (!err || !err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static const char samples_sql[] =
	"CREATE TABLE IF NOT EXISTS progress_samples(run_id INTEGER NOT NULL, t REAL NOT NULL,"
	" kind TEXT NOT NULL, landed INTEGER NOT NULL, PRIMARY KEY(run_id, t, kind))";

int im_report_sample(struct im_stage *st, int64_t run_id, double t, const int64_t landed[IM_KIND_COUNT],
		     char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	if (sqlite3_exec(db, samples_sql, NULL, NULL, NULL) != SQLITE_OK) {
		set_err(err, err_size, "%s: creating progress_samples: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	if (run_id <= 0) {
		/* The run in progress: the latest one not ended yet. */
		sqlite3_stmt *r = im_stage_stmt(st, "SELECT id FROM runs WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1",
						err, err_size);
		if (!r)
			return -1;
		run_id = sqlite3_step(r) == SQLITE_ROW ? sqlite3_column_int64(r, 0) : 0;
		sqlite3_reset(r);
	}
	sqlite3_stmt *s = im_stage_stmt(st,
					"INSERT OR REPLACE INTO progress_samples(run_id, t, kind, landed)"
					" VALUES(?1, ?2, ?3, ?4)",
					err, err_size);
	if (!s)
		return -1;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, run_id);
		sqlite3_bind_double(s, 2, t);
		sqlite3_bind_text(s, 3, im_kind_info(k)->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, landed[k]);
		if (sqlite3_step(s) != SQLITE_DONE) {
			set_err(err, err_size, "%s: writing a progress sample: %s", im_stage_path(st),
				sqlite3_errmsg(db));
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	return 0;
}


static int kind_index(const char *name)
{
	for (int k = 0; name && k < IM_KIND_COUNT; k++)
		if (strcmp(im_kind_info(k)->name, name) == 0)
			return k;
	return -1;
}

/* Walks the samples in (run, t) order calling fn for each step between two
 * consecutive snapshots of one run: [t0, t1) on the elapsed axis and the landed
 * increments per kind. */
typedef void (*step_fn)(struct im_report_actual *a, double e0, double e1, const int64_t delta[IM_KIND_COUNT]);

static int walk_samples(struct im_stage *st, struct im_report_actual *a, step_fn fn, char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT run_id, t, kind, landed FROM progress_samples ORDER BY run_id, t", -1, &s,
			       NULL) != SQLITE_OK)
		return 1; /* no samples table */
	int64_t run = -1;
	double t = 0, run_start = 0, base = 0;
	int64_t prev[IM_KIND_COUNT] = {0}, cur[IM_KIND_COUNT] = {0};
	int have_prev = 0, have_cur = 0;
	int rc;
	double elapsed = 0;
	for (;;) {
		rc = sqlite3_step(s);
		int64_t r = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -2;
		double rt = rc == SQLITE_ROW ? sqlite3_column_double(s, 1) : 0;
		/* A snapshot is complete when the (run, t) changes. */
		if (have_cur && (rc != SQLITE_ROW || r != run || rt != t)) {
			if (have_prev) {
				int64_t delta[IM_KIND_COUNT];
				for (int k = 0; k < IM_KIND_COUNT; k++)
					delta[k] = cur[k] - prev[k];
				double e1 = base + (t - run_start);
				if (fn)
					fn(a, elapsed, e1, delta);
				elapsed = e1;
			} else {
				elapsed = base;
			}
			memcpy(prev, cur, sizeof prev);
			have_prev = 1;
			have_cur = 0;
		}
		if (rc != SQLITE_ROW)
			break;
		if (r != run) {
			base = elapsed;
			run = r;
			run_start = rt;
			have_prev = 0;
		}
		t = rt;
		int k = kind_index((const char *)sqlite3_column_text(s, 2));
		if (k >= 0)
			cur[k] = sqlite3_column_int64(s, 3);
		have_cur = 1;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		set_err(err, err_size, "%s: reading progress samples: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	a->elapsed = elapsed;
	return 0;
}

static void span_step(struct im_report_actual *a, double e0, double e1, const int64_t delta[IM_KIND_COUNT])
{
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (delta[k] > 0) {
			if (!a->kind_seen[k]) {
				a->kind_seen[k] = 1;
				a->kind_start[k] = e0;
			}
			a->kind_end[k] = e1;
		}
}

static void bucket_step(struct im_report_actual *a, double e0, double e1, const int64_t delta[IM_KIND_COUNT])
{
	if (!(e1 > e0) || !(a->bucket_width > 0))
		return;
	/* Spread the step's records evenly over the buckets it covers. */
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (delta[k] <= 0)
			continue;
		double per_second = (double)delta[k] / (e1 - e0);
		int b0 = (int)(e0 / a->bucket_width), b1 = (int)(e1 / a->bucket_width);
		for (int b = b0; b <= b1 && b < a->nbuckets; b++) {
			double lo = fmax(e0, b * a->bucket_width), hi = fmin(e1, (b + 1) * a->bucket_width);
			if (hi > lo)
				a->rate[b][k] += per_second * (hi - lo) / a->bucket_width;
		}
	}
}

int im_report_load_actual(struct im_stage *st, struct im_report_actual *a, char *err, size_t err_size)
{
	memset(a, 0, sizeof *a);
	int rc = walk_samples(st, a, span_step, err, err_size);
	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(a->elapsed > 0))
		return 0;
	a->have_samples = 1;
	a->nbuckets = IM_REPORT_BUCKETS;
	a->bucket_width = a->elapsed / IM_REPORT_BUCKETS;
	if (walk_samples(st, a, bucket_step, err, err_size) < 0)
		return -1;
	for (int b = 0; b < a->nbuckets; b++) {
		double total = 0;
		for (int k = 0; k < IM_KIND_COUNT; k++)
			total += a->rate[b][k];
		if (total > a->peak)
			a->peak = total;
	}
	return 0;
}

/* Load time from the runs table when there are no samples: the runs that loaded. */
