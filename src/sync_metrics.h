/* Counters of the sync daemon and their Prometheus text rendering (GET /metrics).
 *
 * Every field is updated with relaxed atomics from any thread (HTTP, committer,
 * delivery workers); reading is racy by design (a scrape sees each counter
 * monotonic, not a consistent snapshot). Direction labels: "old_to_new" for
 * vendor webhooks delivered to IM, "new_to_old" for IM callbacks delivered to
 * the old system. */
#ifndef IMMIGRATE_SYNC_METRICS_H
#define IMMIGRATE_SYNC_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum im_sync_dir { IM_SYNC_OLD_TO_NEW = 0, IM_SYNC_NEW_TO_OLD = 1, IM_SYNC_NDIR };

/* Upper bounds (seconds) of the acknowledgement latency histogram buckets. */
#define IM_SYNC_LAT_BUCKETS 13
extern const double im_sync_lat_bounds[IM_SYNC_LAT_BUCKETS];

struct im_sync_metrics {
	uint64_t received[IM_SYNC_NDIR];   /* requests that reached a handler */
	uint64_t stored[IM_SYNC_NDIR];     /* requests whose new events were committed */
	uint64_t duplicates[IM_SYNC_NDIR]; /* requests whose events were all stored before */
	uint64_t rejected[IM_SYNC_NDIR];   /* authentication failures (401), nothing stored */
	uint64_t invalid[IM_SYNC_NDIR];    /* unparsable requests (400) */
	uint64_t ignored[IM_SYNC_NDIR];    /* genuine but not synced: echoes of our own writes, commands we do not sync */
	uint64_t store_failed[IM_SYNC_NDIR]; /* outbox commit failed (503) */
	uint64_t delivered[IM_SYNC_NDIR];  /* events landed on the other side */
	uint64_t dropped[IM_SYNC_NDIR];    /* events that needed no delivery (echo, mapped to nothing) */
	uint64_t retried[IM_SYNC_NDIR];    /* delivery attempts that will be retried */
	uint64_t dead[IM_SYNC_NDIR];       /* events given up on (dead letters) */
	uint64_t deferred[IM_SYNC_NDIR];   /* group messages waiting for their group's history */
	uint64_t lat_count[IM_SYNC_LAT_BUCKETS + 1]; /* non-cumulative; last is +Inf */
	uint64_t lat_sum_us;
};

/* Adds one acknowledgement that took `seconds`. */
void im_sync_metrics_ack(struct im_sync_metrics *m, double seconds);

/* Atomic add. */
static inline void im_sync_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* Renders the metrics plus the given gauges as Prometheus text (version 0.0.4).
 * Returns a malloc'd string (caller frees), NULL on allocation failure. */
char *im_sync_metrics_render(const struct im_sync_metrics *m, uint64_t queue_depth,
			     const int64_t pending[IM_SYNC_NDIR], uint64_t commits);

#endif
