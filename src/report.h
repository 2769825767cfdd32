/* The migration report: one self-contained HTML file (inline CSS, inline SVG, no
 * script, no external asset; works offline) built from the stage:
 *   - per-kind counts (staged, landed, dead, not landed) and the API calls;
 *   - the plan (plan.h, over every staged record) against the actual load time,
 *     per kind and for the whole migration;
 *   - throughput over the run as an SVG chart, from progress_samples;
 *   - dead letters grouped by stage, kind, code and reason, with examples
 *     (origin, raw record, payload), every text HTML-escaped;
 *   - the latest verification (verify.h, table verify_runs), when one ran;
 *   - the plan's warnings and the runs.
 *
 * Throughput samples. The loader calls im_report_sample() about once a second
 * during a load with the cumulative landed count of every kind; rows go to
 *   progress_samples(run_id INTEGER NOT NULL, t REAL NOT NULL, kind TEXT NOT NULL,
 *                    landed INTEGER NOT NULL, PRIMARY KEY(run_id, t, kind))
 * created with IF NOT EXISTS on first use. t is Unix time in seconds (fractions
 * allowed); run_id is runs.id of the load (im_stage_run_begin), or 0 for the
 * latest run not ended yet (what `immigrate run` began). Without samples
 * the report falls back to the runs table for the actual time and draws no chart. */
#ifndef IMMIGRATE_REPORT_H
#define IMMIGRATE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "batch.h"
#include "plan.h"
#include "stage.h"

/* Records one sample: landed[k] = records of kind k landed so far (cumulative,
 * all runs included, as the progress counters hold them). run_id 0: the latest
 * run not ended yet. Call it outside the
 * loader's own write transaction or inside it; it opens none. About one call
 * per second keeps the table small (10 rows a second). Returns 0, or -1 with err. */
int im_report_sample(struct im_stage *st, int64_t run_id, double t, const int64_t landed[IM_KIND_COUNT],
		     char *err, size_t err_size);

struct im_report_options {
	const char *title;		   /* e.g. the job name; NULL: the stage file name */
	const struct im_plan_config *plan; /* limits for the plan; NULL: the spec's defaults */
};

/* Writes the report of the stage to out. Returns 0, or -1 with err (stage read
 * errors; write errors on out are the caller's to check with ferror). */
int im_report_write(struct im_stage *st, const struct im_report_options *opt, FILE *out, char *err,
		    size_t err_size);

/* Writes s to out HTML-escaped (& < > " '), with invalid UTF-8 replaced by U+FFFD
 * and control characters other than tab and newline replaced too; at most max
 * bytes of s (0: all), cut between characters, with an ellipsis when cut. */
void im_report_escape(FILE *out, const char *s, size_t max);

#endif
