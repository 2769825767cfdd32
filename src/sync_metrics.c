/* Prometheus text for the sync daemon, see sync_metrics.h. */
#include "config.h"

#include "sync_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double im_sync_lat_bounds[IM_SYNC_LAT_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
							 0.1,	 0.25,	0.5,   1.0,   2.0,   5.0};

void im_sync_metrics_ack(struct im_sync_metrics *m, double seconds)
{
	int i = 0;
	while (i < IM_SYNC_LAT_BUCKETS && seconds > im_sync_lat_bounds[i])
		i++;
	im_sync_count(&m->lat_count[i], 1);
	im_sync_count(&m->lat_sum_us, (uint64_t)(seconds * 1e6));
}

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void __attribute__((format(printf, 2, 3))) put(struct buf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static const char *const dir_name[IM_SYNC_NDIR] = {"old_to_new", "new_to_old"};

static void counter(struct buf *b, const char *name, const char *help, const uint64_t v[IM_SYNC_NDIR])
{
	put(b, "# HELP immigrate_sync_%s_total %s\n# TYPE immigrate_sync_%s_total counter\n", name, help, name);
	for (int d = 0; d < IM_SYNC_NDIR; d++)
		put(b, "immigrate_sync_%s_total{direction=\"%s\"} %llu\n", name, dir_name[d],
		    (unsigned long long)load(&v[d]));
}

char *im_sync_metrics_render(const struct im_sync_metrics *m, uint64_t queue_depth,
			     const int64_t pending[IM_SYNC_NDIR], uint64_t commits)
{
	struct buf b = {malloc(4096), 0, 4096, 0};
	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	counter(&b, "received", "Requests received.", m->received);
	counter(&b, "stored", "Requests whose new events were committed to the outbox before the answer.", m->stored);
	counter(&b, "duplicates", "Requests whose events were all stored before (retries), acknowledged and dropped.", m->duplicates);
	counter(&b, "rejected", "Requests refused for failed authentication; nothing stored.", m->rejected);
	counter(&b, "invalid", "Unparsable requests refused; nothing stored.", m->invalid);
	counter(&b, "ignored", "Genuine requests needing no sync (echoes of our writes, unsynced commands).",
		m->ignored);
	counter(&b, "store_failed", "Requests answered 503 because the outbox commit failed.", m->store_failed);
	counter(&b, "delivered", "Events delivered to the other side.", m->delivered);
	counter(&b, "dropped", "Stored events that needed no delivery.", m->dropped);
	counter(&b, "retried", "Delivery attempts scheduled for retry.", m->retried);
	counter(&b, "dead", "Events given up on (dead letters).", m->dead);
	counter(&b, "deferred", "Group messages held until the group's history has landed.", m->deferred);
	put(&b, "# HELP immigrate_sync_pending Events stored and not yet delivered.\n"
		"# TYPE immigrate_sync_pending gauge\n");
	for (int d = 0; d < IM_SYNC_NDIR; d++)
		put(&b, "immigrate_sync_pending{direction=\"%s\"} %lld\n", dir_name[d], (long long)pending[d]);
	put(&b, "# HELP immigrate_sync_queue_depth Accepted requests waiting for the group commit.\n"
		"# TYPE immigrate_sync_queue_depth gauge\nimmigrate_sync_queue_depth %llu\n",
	    (unsigned long long)queue_depth);
	put(&b, "# HELP immigrate_sync_commits_total Outbox transactions committed.\n"
		"# TYPE immigrate_sync_commits_total counter\nimmigrate_sync_commits_total %llu\n",
	    (unsigned long long)commits);
	put(&b, "# HELP immigrate_sync_ack_seconds Time from request to durable acknowledgement.\n"
		"# TYPE immigrate_sync_ack_seconds histogram\n");
	uint64_t cum = 0;
	for (int i = 0; i < IM_SYNC_LAT_BUCKETS; i++) {
		cum += load(&m->lat_count[i]);
		put(&b, "immigrate_sync_ack_seconds_bucket{le=\"%g\"} %llu\n", im_sync_lat_bounds[i],
		    (unsigned long long)cum);
	}
	cum += load(&m->lat_count[IM_SYNC_LAT_BUCKETS]);
	put(&b, "immigrate_sync_ack_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	put(&b, "immigrate_sync_ack_seconds_sum %.6f\nimmigrate_sync_ack_seconds_count %llu\n",
	    (double)load(&m->lat_sum_us) / 1e6, (unsigned long long)cum);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
