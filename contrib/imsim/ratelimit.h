/* Per-API token buckets with the spec's default limits (spec §1.6). */
#ifndef IMSIM_RATELIMIT_H
#define IMSIM_RATELIMIT_H

#include <stdbool.h>

#include "imrules.h"

struct ratelimit;

/* Buckets for every API im_rules knows, each refilling at qps * scale per second and
 * holding at most max(1, qps * scale) tokens (one second of burst). Returns NULL when
 * out of memory. Free with ratelimit_free. */
struct ratelimit *ratelimit_new(double scale);
void ratelimit_free(struct ratelimit *rl);

/* Why Alert.RequestOverLimit fires (spec §1.6): calls in the current second passed
 * 80 % of the API's limit. Reported once per second and API. */
struct ratelimit_alert {
	bool fire;
	unsigned observed;	/* calls in the current second */
	double limit;		/* calls per second allowed (scaled) */
};

/* Takes one token for api at monotonic time now (seconds). True when the call may
 * proceed, false when the caller must answer 60007. alert (may be NULL) reports a
 * crossing of the 80 % mark. Not thread-safe. */
bool ratelimit_take(struct ratelimit *rl, const struct im_api_info *api, double now, struct ratelimit_alert *alert);

#endif
