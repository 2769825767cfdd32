/* What the user sees while loading: a progress line per kind (counts, rate, ETA
 * at the rate seen so far) and a total line whose ETA comes from the plan's time
 * model (plan.h: the remaining records at the configured rate limits, in
 * dependency order, independent kinds in parallel), redrawn in place on a
 * terminal, or a plain line every few seconds otherwise;
 * nothing with quiet; and at the end a table per kind with the rate-limit floor.
 * JSON Lines instead of text with the json flag. Writes to the FILE given
 * (stderr for progress, stdout for the summary in the runner). */
#ifndef IMMIGRATE_PROGRESS_H
#define IMMIGRATE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "batch.h"
#include "extract_progress.h"
#include "plan.h"

/* Per kind counters kept by the loader. Times are seconds on the monotonic clock. */
struct im_progress_kind {
	const char *name;
	bool selected;	   /* part of this load */
	int64_t staged;	   /* records of this kind in the stage */
	int64_t landed;	   /* landed (before and during this run) */
	int64_t dead;	   /* dead letters (before and during this run) */
	int64_t done_before; /* landed + dead when this run started (not part of its rate) */
	uint64_t retries;  /* records sent again after a failed attempt */
	uint64_t calls;	   /* API calls made in this run */
	uint64_t throttled; /* rate-limit answers */
	double limit;	   /* configured calls per second of the kind's API */
	double started;	   /* 0: not started */
	double ended;	   /* 0: not ended */
};

struct im_progress;

/* Starts reporting to out. tty: redraw lines in place; quiet: report nothing
 * until the summary; json: JSON Lines. Returns NULL when out of memory. */
struct im_progress *im_progress_new(FILE *out, bool tty, bool quiet, bool json);

/* The model of the total ETA: c (copied) holds the limits and batch sizes the
 * load runs at (im_plan_config_defaults + im_plan_config_from_limits). Until it
 * is called, the spec's defaults. NULL p: nothing. */
void im_progress_set_model(struct im_progress *p, const struct im_plan_config *c);

/* Seconds the rest of the load needs at the model's limits: im_plan_eta_records()
 * over staged - landed - dead of every selected kind. 0 when nothing remains. */
double im_progress_eta(const struct im_progress *p, const struct im_progress_kind *kinds);

/* Reports kinds[0..IM_KIND_COUNT) at monotonic time now when the last report is
 * old enough (0.25 s on a terminal, 5 s otherwise) or force is set. */
void im_progress_update(struct im_progress *p, const struct im_progress_kind *kinds, double now, bool force);

/* Reports the extract at monotonic time now, when the last report is old
 * enough (as im_progress_update) or final is set: native records read of the
 * plugin's estimate, IM records staged, dead letters, the rate of this run and
 * the ETA at it, on one line (redrawn in place on a terminal), or a JSON object
 * with "phase":"extract"; the final report says whether the index builds come
 * next. NULL p: nothing. */
void im_progress_extract(struct im_progress *p, const struct im_extract_progress *x, double now, bool final);

/* Ends the in-place display (a final newline on a terminal) and frees. NULL ok. */
void im_progress_free(struct im_progress *p);

/* The floor of a kind: seconds its calls need at its API's limit (calls / limit). */
double im_progress_floor(const struct im_progress_kind *k);

/* The migration's floor: kinds run after the kinds they depend on (batch.h deps),
 * so the floor is the longest dependency chain of per-kind floors; a kind that
 * waits per conversation (conv_deps) runs alongside, its last call after the
 * other kind's last. */
double im_progress_total_floor(const struct im_progress_kind *kinds);

/* Prints the final table (or one JSON object per kind and one for the total) to out:
 * staged, landed, dead, retries, API calls, wall time, floor, throttled answers. */
void im_progress_summary(FILE *out, const struct im_progress_kind *kinds, double wall, bool json);

#endif
