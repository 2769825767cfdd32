/* The extract half of a migration: source plugin -> mapping script -> validation
 * -> stage, resumable.
 *
 * Every native record is stored in the stage's raw table, mapped, and each IM
 * record it yields validated and staged under its dedupe key. A bad native
 * record (the plugin could not read it) becomes a "parse" dead letter naming its
 * origin; a script failure a "script" dead letter with the script's file:line;
 * an invalid IM record a "validate" dead letter with the spec's code and reason.
 * The run goes on after each.
 *
 * Resume: the plugin's checkpoint token is saved in the same transaction as the
 * records produced since the previous one (every IM_EXTRACT_BATCH native records
 * or IM_EXTRACT_INTERVAL_MS, whichever comes first). Killed at any moment, a
 * second run resumes from the last committed token: nothing is lost, and what
 * is read twice deduplicates. A script's finish() runs once, when the source
 * ends. Script state kept in upvalues survives a resume: before reading on from
 * the checkpoint, a resumed run maps again every native record the earlier runs
 * committed (the raw table, from the first raw.id of this source, noted in meta
 * key "extract_raw_from:<source key>", in id order) and discards what map()
 * makes (it was staged when first read), so finish() sees the whole input and
 * the stage equals a clean run's, after any number of kills.
 *
 * Environment (for tests): IMMIGRATE_EXTRACT_BATCH=N commits every N native
 * records; IMMIGRATE_TEST_KILL_AT=N makes the run SIGKILL itself right after
 * mapping its Nth native record. */
#ifndef IMMIGRATE_EXTRACT_H
#define IMMIGRATE_EXTRACT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "extract_progress.h"
#include "imrecord.h"
#include "script.h"

struct im_job;
struct im_stage;

/* Every commit writes to the WAL each page it changed, and the dedupe index's
 * keys are hashes, so a batch changes pages all over it: 50,000 records per
 * commit instead of 10,000 cut the extract's CPU time by about a tenth (system
 * time by 40%) at 1M records. A crash redoes at most one batch (or second). */
#define IM_EXTRACT_BATCH 50000
#define IM_EXTRACT_INTERVAL_MS 1000

struct im_extract_stats {
	uint64_t native;                 /* native records read by this run */
	uint64_t made;                   /* IM records the script made */
	uint64_t staged[IM_KIND_COUNT];  /* new records staged, per kind */
	uint64_t duplicates;             /* records already staged (same dedupe key) */
	uint64_t dead_parse, dead_script, dead_validate;
	uint64_t replayed;               /* committed native records mapped again on resume */
	int resumed;                     /* started from a saved checkpoint */
	int already_done;                /* the source had been read to its end before */
};

/* Set from a signal handler: the extract commits what it has and returns. */
extern volatile sig_atomic_t im_extract_stop;

/* The transform step on its own: script + validator, writing to a stage or
 * printing (preview). Also what `dlq replay` runs raw records through. */
struct im_transform;

/* Opens the job's script (with the stage for the id map; stage may be NULL).
 * out_fp non-NULL: records are printed there as JSON lines (kind first) and dead
 * letters go to stderr, nothing is staged. Returns 0, or -1 with err. */
int im_transform_open(const struct im_job *job, struct im_stage *stage, FILE *out_fp, struct im_transform **out,
		      char *err, size_t err_size);
void im_transform_close(struct im_transform *t);

/* Maps one native record (raw_id: its raw row, or 0) and stages or prints what
 * it yields, counting into stats. raw_text (may be NULL) is kept in a script dead
 * letter. Returns 0, or -1 on a stage error (err filled): the caller stops. */
int im_transform_native(struct im_transform *t, const struct im_script_input *in, int64_t raw_id,
			const char *raw_text, struct im_extract_stats *stats, char *err, size_t err_size);

/* Calls the script's finish() and stages or prints what it yields. */
int im_transform_finish(struct im_transform *t, struct im_extract_stats *stats, char *err, size_t err_size);

/* Runs extract for job into stage. plugin_dir and watch may be NULL. Returns 0 when the
 * source was read to its end (or had been), 1 when stopped by im_extract_stop,
 * -1 on a fatal error (err says what: plugin, options, script, stage I/O),
 * -2 on a configuration error (plugin not found or refused, options refused,
 * script does not load). */
int im_extract_run(const struct im_job *job, struct im_stage *stage, const char *plugin_dir,
		   const struct im_extract_watch *watch, struct im_extract_stats *stats, char *err, size_t err_size);

/* Maps the first limit native records (0: all) and prints the IM records to out,
 * dead letters to stderr; stages nothing. Returns as im_extract_run. */
int im_extract_preview(const struct im_job *job, const char *plugin_dir, uint64_t limit, FILE *out,
		       struct im_extract_stats *stats, char *err, size_t err_size);

/* Loads the plugin, opens and closes it with the job's options, and compiles
 * the script: no network, nothing staged. Returns 0, or -2 with err. */
int im_extract_check(const struct im_job *job, const char *plugin_dir, char *err, size_t err_size);

/* The checkpoint name the job's source is saved under in the stage:
 * "source:<plugin>:<hash of its options>", so a changed source starts over. */
void im_extract_source_key(const struct im_job *job, char *out, size_t out_size);

#endif
