/* The one place that turns an answer of the Tencent IM REST API into what the
 * sink does next (spec §1.5 and the per-service tables of §3-§6).
 *
 * Two levels: the envelope of a whole call (HTTP status, transport error,
 * ActionStatus/ErrorCode) and the per-item result codes of batch APIs. Both
 * return an enum im_outcome; the caller acts on it and never on raw codes. */
#ifndef IMMIGRATE_CLASSIFY_H
#define IMMIGRATE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum im_outcome {
	IM_OUTCOME_OK = 0,	 /* the call was processed; per-item results may still hold failures */
	IM_OUTCOME_TRANSIENT,	 /* retry with exponential backoff and jitter, bounded */
	IM_OUTCOME_RATE_LIMITED, /* slow this API down, then retry */
	IM_OUTCOME_USERSIG,	 /* regenerate the UserSig, retry once */
	IM_OUTCOME_AUTH,	 /* credentials are wrong: stop the run, say what to fix */
	IM_OUTCOME_CONFIG,	 /* app or job configuration is wrong: stop the run, say what to fix */
	IM_OUTCOME_PERMANENT,	 /* this request can never succeed: dead-letter its records */
};

/* Transport-level facts about one exchange. curl_code is a CURLcode (0 = none);
 * http_status is 0 when no response arrived. */
struct im_answer {
	int curl_code;
	long http_status;
	const char *body; /* not owned; may be NULL */
	size_t body_len;
};

/* What the classifier concluded. code is the Tencent ErrorCode, or an HTTP
 * status / CURLcode for transport failures (see kind). */
struct im_verdict {
	enum im_outcome outcome;
	enum { IM_CODE_NONE, IM_CODE_TENCENT, IM_CODE_HTTP, IM_CODE_CURL } kind;
	long code;
	/* Seconds the caller must wait at least before retrying (70050 asks for 60 s). */
	double min_wait;
	/* True when the request may have been processed although no answer was read
	 * (timeout after sending, connection lost): a retry must be deduplicated. */
	bool uncertain;
	/* Human explanation (English, never contains secrets). */
	char message[256];
};

/* Classifies a nonzero Tencent ErrorCode of a whole call. */
enum im_outcome im_classify_code(long code);

/* Classifies a per-item result code (ResultItem.ResultCode, ImportMsgResult.Result, ...):
 * IM_OUTCOME_OK for 0, IM_OUTCOME_TRANSIENT for server-internal or write-conflict codes worth
 * retrying, IM_OUTCOME_PERMANENT for everything else. */
enum im_outcome im_classify_item_code(long code);

/* Classifies a complete answer. On IM_OUTCOME_OK, when *json_out is not NULL, it
 * receives the parsed body (new reference, the caller decrefs); otherwise *json_out is NULL.
 * Never fails: an unparsable body is itself a verdict (transient). */
void im_classify_answer(const struct im_answer *a, struct im_verdict *v, json_t **json_out);

/* English meaning of a Tencent error code for dead letters and messages. Static string;
 * "unknown error code" for codes not in the reference. */
const char *im_code_meaning(long code);

/* Short name of an outcome ("ok", "transient", ...). Static string. */
const char *im_outcome_name(enum im_outcome o);

/* Whether an outcome stops the whole run. */
bool im_outcome_is_fatal(enum im_outcome o);

#endif
