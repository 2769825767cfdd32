/* The load side's SQL over the stage schema of stage.h: fetching work, marking
 * batches in flight, settling answers, crash recovery. Internal to the loader.
 *
 * Ownership: rows returned in struct load_row are malloc'd and freed with
 * load_rows_free(). Every function returns 0 on success or -1 with a message in
 * err naming the stage file. */
#ifndef IMMIGRATE_LOAD_STAGE_H
#define IMMIGRATE_LOAD_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "stage.h"

/* records.last_code values of the loader's own (Tencent codes are positive). */
enum {
	/* The record was in flight when the outcome became unknown (crash, timeout):
	 * the next send is a resend, and "already exists" answers mean it landed. */
	LOAD_CODE_RESEND = -3,
	/* Its batch failed as a whole with a permanent error: send it alone next, so
	 * one bad record does not take its batch-mates down with it. */
	LOAD_CODE_SOLO = -4,
};

struct load_row {
	int64_t id;
	int64_t raw_id;
	char *conv;
	char *payload;
	int attempts;
	int64_t last_code; /* 0 when NULL */
	int64_t retry_at;  /* 0 when NULL */
};

void load_rows_free(struct load_row *rows, size_t n);

/* Creates the loader's indexes (idempotent). */
int load_stage_prepare(struct im_stage *st, char *err, size_t err_size);

/* The largest batch id ever used (0 when none). */
int load_stage_max_batch(struct im_stage *st, int64_t *out, char *err, size_t err_size);

/* Up to max pending records of kind with id > after_id, due at Unix time now, in id
 * order. Stores a malloc'd array in *rows (NULL when none) and its length in *n. */
int load_stage_fetch_by_id(struct im_stage *st, const char *kind, int64_t after_id, int64_t now,
			   size_t max, struct load_row **rows, size_t *n, char *err, size_t err_size);

/* Up to max distinct conv values > after of kind's pending records, ascending.
 * *convs is a malloc'd array of malloc'd strings (free each, then the array). */
int load_stage_next_convs(struct im_stage *st, const char *kind, const char *after, size_t max,
			  char ***convs, size_t *n, char *err, size_t err_size);

/* The max conversations of kind with the most pending records (at least 2),
 * most first: the ones whose serialised calls bound the load's end. *convs as in
 * load_stage_next_convs. */
int load_stage_biggest_convs(struct im_stage *st, const char *kind, size_t max, char ***convs, size_t *n,
			     char *err, size_t err_size);

/* The first max pending records of conv (kind), in (ord, seq) order. */
int load_stage_conv_head(struct im_stage *st, const char *kind, const char *conv, size_t max,
			 struct load_row **rows, size_t *n, char *err, size_t err_size);

/* Whether conv has records of kind pending or in flight: 1 yes, 0 no, -1 on error
 * (with err). */
int load_stage_conv_open(struct im_stage *st, const char *kind, const char *conv, char *err, size_t err_size);

/* Up to max distinct conv values of kind's pending records whose conversation has
 * no record of dep_kind pending or in flight (one pass over kind's pending
 * records). *convs as in load_stage_next_convs. */
int load_stage_ready_convs(struct im_stage *st, const char *kind, const char *dep_kind, size_t max, char ***convs,
			   size_t *n, char *err, size_t err_size);

/* Pending + in-flight records of kind. */
int64_t load_stage_remaining(struct im_stage *st, const char *kind);

/* Earliest retry_at (Unix s) among kind's pending records, 0 when none is deferred. */
int64_t load_stage_next_retry(struct im_stage *st, const char *kind);

/* Marks records ids[0..n) in flight in batch: inside the caller's open
 * transaction when there is one, else in one of its own. */
int load_stage_mark_inflight(struct im_stage *st, int64_t batch, const int64_t *ids, size_t n, char *err,
			     size_t err_size);

/* What to do with one record when its batch settles. */
enum load_fate {
	LOAD_LANDED,
	LOAD_DEAD,    /* + dead letter with code and reason */
	LOAD_RETRY,   /* back to pending, attempts + 1, not before retry_at */
	LOAD_REQUEUE, /* back to pending, attempts unchanged (rate limit, shutdown) */
};

struct load_settle {
	int64_t id;
	int64_t raw_id;
	enum load_fate fate;
	int64_t code;	     /* last_code / dead letter code */
	int64_t retry_at;    /* LOAD_RETRY / LOAD_REQUEUE: Unix seconds, 0 = now */
	int attempts;	     /* attempts after this one (for dead letters and RETRY) */
	const char *kind;
	const char *payload; /* for the dead letter */
	const char *reason;  /* for the dead letter */
};

/* Settles n records: inside the caller's open transaction when there is one,
 * else in one of its own. On failure inside the caller's transaction the caller
 * rolls back. */
int load_stage_settle(struct im_stage *st, const struct load_settle *s, size_t n, char *err, size_t err_size);

/* In-flight batches left by an earlier process: calls fn(arg, batch, kind) per
 * distinct batch. */
int load_stage_inflight_batches(struct im_stage *st, int (*fn)(void *arg, int64_t batch, const char *kind),
				void *arg, char *err, size_t err_size);

/* The records of an in-flight batch, in (ord, seq) order. */
int load_stage_batch_rows(struct im_stage *st, int64_t batch, struct load_row **rows, size_t *n, char *err,
			  size_t err_size);

/* Puts every in-flight record of kind back to pending, marked LOAD_CODE_RESEND. */
int load_stage_requeue_inflight(struct im_stage *st, const char *kind, char *err, size_t err_size);


/* import_group_msg zeroes every member's unread count (spec §6.4), so the
 * UnreadMsgNum a landed group_member record carries would not hold at the end.
 * Stages a group_unread record (set_unread_msg_num) for each such member of a
 * group that received messages, unless the stage already holds a group_unread
 * record for that member. Idempotent (dedupe keys). Stores the count staged in *n.
 * Inside the caller's open transaction when there is one. */
int load_stage_derive_member_unread(struct im_stage *st, int64_t *n, char *err, size_t err_size);

#endif
