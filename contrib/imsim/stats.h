/* Counters exposed by GET /_sim/stats. Not thread-safe: callers hold sim->lock. */
#ifndef IMSIM_STATS_H
#define IMSIM_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "faults.h"
#include "imrules.h"

struct stats_code {
	int code;
	uint64_t count;
};

struct stats {
	uint64_t requests;		/* every HTTP request to /v4/ */
	uint64_t *per_api;		/* indexed like im_rules_api_at() */
	size_t n_api;
	struct stats_code *codes;	/* ErrorCode answered -> how often */
	size_t n_codes, cap_codes;
	uint64_t rate_limited;
	uint64_t faults[FAULT_KINDS];
	uint64_t callbacks_sent, callbacks_failed;
};

/* Returns 0 or -1 when out of memory. */
int stats_init(struct stats *s);
void stats_free(struct stats *s);

void stats_api(struct stats *s, const struct im_api_info *api);
void stats_code(struct stats *s, int code);

/* A new JSON object with every counter; NULL when out of memory. Caller decrefs. */
json_t *stats_json(const struct stats *s);

#endif
