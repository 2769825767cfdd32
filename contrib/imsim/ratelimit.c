/* Token buckets, one per API. */
#include "config.h"

#include "ratelimit.h"

#include <stdlib.h>

struct bucket {
	const struct im_api_info *api;
	double rate;		/* tokens per second */
	double burst;		/* capacity */
	double tokens;
	double last;		/* when tokens was last brought up to date; < 0 = never */
	long window;		/* the whole second calls are being counted in */
	unsigned calls;		/* calls seen in that second */
	bool alerted;		/* Alert.RequestOverLimit already reported for it */
};

struct ratelimit {
	size_t n;
	struct bucket *buckets;
};

struct ratelimit *ratelimit_new(double scale)
{
	struct ratelimit *rl = calloc(1, sizeof *rl);
	if (!rl)
		return NULL;
	while (im_rules_api_at(rl->n))
		rl->n++;
	rl->buckets = calloc(rl->n, sizeof *rl->buckets);
	if (!rl->buckets) {
		free(rl);
		return NULL;
	}
	for (size_t i = 0; i < rl->n; i++) {
		struct bucket *b = &rl->buckets[i];
		b->api = im_rules_api_at(i);
		b->rate = b->api->qps * scale;
		b->burst = b->rate < 1 ? 1 : b->rate;
		b->tokens = b->burst;
		b->last = -1;
		b->window = -1;
	}
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->buckets);
	free(rl);
}

/* Counts the call in its second and reports when the count first passes 80 % of the rate. */
static void watch_rate(struct bucket *b, double now, struct ratelimit_alert *alert)
{
	long second = (long)now;
	if (second != b->window) {
		b->window = second;
		b->calls = 0;
		b->alerted = false;
	}
	b->calls++;
	if (alert && !b->alerted && b->calls > 0.8 * b->rate) {
		b->alerted = true;
		alert->fire = true;
		alert->observed = b->calls;
		alert->limit = b->rate;
	}
}

bool ratelimit_take(struct ratelimit *rl, const struct im_api_info *api, double now, struct ratelimit_alert *alert)
{
	if (alert)
		alert->fire = false;
	for (size_t i = 0; i < rl->n; i++) {
		struct bucket *b = &rl->buckets[i];
		if (b->api != api)
			continue;
		watch_rate(b, now, alert);
		if (b->last >= 0 && now > b->last) {
			b->tokens += (now - b->last) * b->rate;
			if (b->tokens > b->burst)
				b->tokens = b->burst;
		}
		b->last = now;
		if (b->tokens < 1)
			return false;
		b->tokens -= 1;
		return true;
	}
	return true;
}
