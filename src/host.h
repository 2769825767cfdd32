/* The host table (struct im_host) the runner hands to a plugin.
 *
 * - log: one line through src/log.h, prefixed with the plugin's name.
 * - http: libcurl, one easy handle per host reused for keep-alive; TLS peer and
 *   host verification always on unless the configuration sets insecure=1
 *   explicitly; optional CA bundle; per-request or default timeout; bounded
 *   retries with exponential backoff and full jitter on transport errors, 429
 *   and 5xx (Retry-After honoured, capped); one token bucket per rate_key.
 *   Error messages name the method, scheme, host and path, never the query
 *   string or headers (they may carry tokens).
 * - json_parse: Jansson with a size cap (IM_HOST_JSON_MAX bytes).
 * - flags: IM_HOST_TEXT_RECORDS when the configuration asks for it.
 * A host is used by one thread at a time. */
#ifndef IMMIGRATE_HOST_H
#define IMMIGRATE_HOST_H

#include <immigrate/source.h>

/* Largest JSON text json_parse accepts, and largest HTTP response body kept. */
#define IM_HOST_JSON_MAX (64u * 1024 * 1024)
#define IM_HOST_HTTP_BODY_MAX (64u * 1024 * 1024)

struct im_host_config {
	const char *plugin_name; /* log prefix; copied */
	const char *ca_file;     /* PEM CA bundle instead of the system's, or NULL; copied */
	int insecure;            /* 1: skip TLS verification (test servers only); anything else: verify */
	long timeout_ms;         /* default per-request timeout; <= 0: 30 s */
	int max_retries;         /* retries after the first attempt; 0: the default (3), so a
				  * zeroed config still retries; < 0: none; capped at 10 */
	int text_records;        /* 1: set IM_HOST_TEXT_RECORDS (the caller handles records that
				  * come as text alone); anything else: plugins must fill data */
};

/* Returns a heap struct im_host with ctx set, every call filled in; the caller
 * releases it with im_host_free(). cfg may be NULL (defaults). NULL on
 * allocation failure (libcurl failing to start counts as one). */
struct im_host *im_host_new(const struct im_host_config *cfg);

/* Releases the host, its connection and its buckets. NULL is fine. */
void im_host_free(struct im_host *h);

#endif
