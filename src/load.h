/* The load half of `immigrate run`: send the stage's records to Tencent IM, in
 * dependency order, batched, paced per API, concurrently, each exactly once, and
 * account for every record that cannot land (dead letters with code and meaning).
 *
 * Exactly-once: a batch is marked in flight with its id before it is sent and
 * settled in one transaction when the answer comes. On start, batches left in
 * flight by a crash are settled first: idempotent kinds and one-to-one messages
 * (the target deduplicates on MsgSeq/MsgRandom/MsgTimeStamp) are resent; group
 * messages are checked against the group's latest messages
 * (group_msg_get_simple) and only what did not land is resent.
 *
 * SIGINT/SIGTERM: no new requests, in-flight ones settle, then the load returns.
 *
 * Throughput: the landed count of every kind is sampled into the stage's
 * progress_samples (report.h, run 0: the run in progress) at the start, about
 * once a second (ten a second in the first ten seconds) and at the end, for the
 * report's chart and actual times. */
#ifndef IMMIGRATE_LOAD_H
#define IMMIGRATE_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "stage.h"

struct im_job;

struct im_load_options {
	int concurrency;  /* requests in flight; 0: target.limits.concurrency or 64; 1: one at a time */
	bool quiet;	  /* no progress lines (the summary still prints) */
	bool log_json;	  /* progress and summary as JSON Lines */
	int max_attempts; /* transient failures per record before it is dead-lettered; 0: 8 */
	bool no_summary;  /* do not print the final table */
	/* Seconds without any answer from the endpoint (only connection failures)
	 * after which the run stops; records are not charged for an unreachable
	 * endpoint. 0: 60. */
	int unreachable_timeout;
};

/* The target as the loader needs it (im_load_run fills it from the job). Strings
 * are borrowed for the call. */
struct im_load_target {
	const char *endpoint;
	uint64_t sdkappid;
	const char *admin;
	const char *key;      /* the app's secret key (borrowed, never logged) */
	size_t key_len;
	const char *ca_file;  /* NULL: system CAs */
	bool insecure;	      /* do not verify TLS */
	long timeout_ms;      /* per request; 0: 10000 */
	/* target.limits: {command = calls/s, concurrency = N, group_msg_batch = 1..20,
	 * c2c_conv_depth = 1..16 (importmsg calls in flight per conversation)}; may be NULL */
	const json_t *limits;
	unsigned kinds;	      /* bit mask (1u << enum im_kind) of kinds to load; 0: all */
};

/* Loads the stage into the job's target. Returns IM_EXIT_OK when every staged
 * record landed, IM_EXIT_DEAD_LETTERS when dead letters remain, IM_EXIT_USAGE for
 * a bad target configuration, IM_EXIT_FATAL when the run stopped (authentication
 * or configuration refused by the service, stage I/O failure, interrupted). */
int im_load_run(struct im_job *job, struct im_stage *stage, const struct im_load_options *opt);

/* Same, with the target given directly. */
int im_load_execute(const struct im_load_target *target, struct im_stage *stage, const struct im_load_options *opt);

#endif
