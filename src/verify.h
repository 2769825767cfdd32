/* Verification: read the target back and compare it with what the stage says
 * landed.
 *
 * For each kind the expected set is the stage's landed records (all of them, or
 * a random sample of N per kind). The target is read through the request layer
 * (tim.h), each API paced by its own token bucket (pace.h, the spec's limits or
 * target.limits), with the read APIs:
 *   account       account_check (100 per call)           presence
 *   profile       portrait_get (100 users per call)      each ProfileItem value
 *   friend        friend_get (pages of one user)          AddSource, Remark, AddWording,
 *                                                         AddTime, GroupName
 *   group         get_group_info (50 per call)            Type, Name, Owner_Account, ...
 *   group_member  get_group_member_info (one group)       Role, JoinTime
 *   group_unread  get_group_member_info                   UnreadMsgNum
 *   group_msg     group_msg_get_simple (pages of 20)      From_Account, MsgBody, matched on
 *                                                         (Random, SendTime)
 *   c2c_msg       admin_getroammsg (pages of 100)         From_Account, MsgBody,
 *                                                         CloudCustomData, matched on
 *                                                         (MsgSeq, MsgRandom, MsgTimeStamp)
 * blacklist and c2c_read have no read API among these: they are counted as
 * unchecked, never as found.
 *
 * Reads run concurrently: list calls and conversations are units of work, up to
 * opt->concurrency of them in flight, the pages of one conversation in order.
 *
 * A record is "found" when the target holds it with every compared field equal,
 * "differing" when it holds it with some field different, "missing" otherwise.
 * What the target returned is kept in a temporary table of the stage's
 * connection while a kind is compared, so memory stays bounded.
 *
 * Results can be stored in the stage (table verify_runs, created on demand:
 * verify_runs(id INTEGER PRIMARY KEY, started_at INTEGER, ended_at INTEGER,
 * sample INTEGER, missing INTEGER, result TEXT) -- result is im_verify_to_json()
 * text) for the report. */
#ifndef IMMIGRATE_VERIFY_H
#define IMMIGRATE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "batch.h"
#include "stage.h"
#include "tim.h"

struct im_verify_kind {
	int64_t expected;   /* landed records compared */
	int64_t found;	    /* present and equal */
	int64_t missing;    /* absent from the target */
	int64_t differing;  /* present with some field different */
	int64_t unchecked;  /* landed records of a kind no read API covers */
	int64_t not_landed; /* staged records not landed yet (pending/in flight): not expected */
};

/* One difference, for the first few of each kind. */
struct im_verify_diff {
	int kind;	    /* enum im_kind */
	char key[128];	    /* the record's identity ("g1|alice", "u1|u2 seq 3 ...") */
	char problem[384];  /* "missing", or "Name: staged \"a\", target \"b\"" */
};

struct im_verify_result {
	struct im_verify_kind kinds[IM_KIND_COUNT];
	struct im_verify_diff *diffs; /* malloc'd, owned */
	size_t ndiffs;
	int64_t sample;		      /* 0: full */
	uint64_t calls;		      /* API calls made */
	uint64_t throttled;	      /* rate-limit answers */
	double seconds;		      /* wall time */
};

struct im_verify_options {
	int64_t sample;		/* records per kind to check, picked at random; 0: all */
	size_t max_diffs;	/* differences listed per kind; 0: 10 */
	const json_t *limits;	/* target.limits (command = calls per second); may be NULL */
	unsigned kinds;		/* bit mask (1u << kind) to verify; 0: all */
	int max_attempts;	/* per request on failures other than rate limits; 0: 8 */
	int concurrency;	/* requests in flight (each conversation's pages in order); 0:
				 * target.limits.concurrency, else 16 */
};

/* Verifies the stage against the target behind tim. Fills *res (free with
 * im_verify_result_free). Returns 0 when the comparison ran (whatever it found),
 * -1 with err when it could not: stage errors, and answers that stop a run
 * (authentication, configuration: the message says what to fix), or a request
 * failing max_attempts times. */
int im_verify_run(struct im_stage *st, struct im_tim *tim, const struct im_verify_options *opt,
		  struct im_verify_result *res, char *err, size_t err_size);

void im_verify_result_free(struct im_verify_result *res);

/* Total missing records over every kind. */
int64_t im_verify_missing(const struct im_verify_result *res);

/* {"sample", "calls", "seconds", "missing", "kinds": [{kind, expected, found,
 * missing, differing, unchecked, not_landed}], "differences": [{kind, key,
 * problem}]}. New reference. */
json_t *im_verify_to_json(const struct im_verify_result *res);

/* Stores res in the stage's verify_runs table (started_at = ended_at - seconds). */
int im_verify_save(struct im_stage *st, const struct im_verify_result *res, char *err, size_t err_size);

/* The latest stored verification as JSON (*out, new reference) with "started_at"
 * and "ended_at" added. Returns 1 when none was stored (or no table), 0 when
 * found, -1 on error. */
int im_verify_load_latest(struct im_stage *st, json_t **out, char *err, size_t err_size);

#endif
