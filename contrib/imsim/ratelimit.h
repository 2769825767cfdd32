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

/* Takes one token for api at monotonic time now (seconds). True when the call may
 * proceed, false when the caller must answer 60007. Not thread-safe. */
bool ratelimit_take(struct ratelimit *rl, const struct im_api_info *api, double now);

#endif
