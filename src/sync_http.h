/* The sync daemon's HTTP front (libmicrohttpd).
 *
 *   POST /im/callback      Tencent IM callbacks: Sign/RequestTime/SdkAppid checked
 *                          (callback_sign.h), echoes of our own REST writes and
 *                          commands we do not sync acknowledged without storing,
 *                          everything else stored, then answered
 *                          {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}.
 *   POST /source/<plugin>  the old system's webhooks: the plugin's webhook() call
 *                          authenticates and parses; rejected -> 401, unparsable ->
 *                          400, both with nothing stored; else stored, then 200.
 *   GET  /healthz          200 "ok" while the outbox accepts work.
 *   GET  /metrics          Prometheus text (sync_metrics.h).
 *
 * Acknowledgement after durability without a thread per request: once a request
 * body is complete and checked, its events go to the outbox as one ticket and the
 * connection is suspended (MHD_suspend_connection). The outbox's committer resumes
 * it after the group commit, and only then is the answer queued. One polling thread
 * serves every connection (epoll), so thousands of requests can wait for the same
 * commit. A failed commit is answered 503 (the vendor retries). A commit that
 * outlasts sync.ack_deadline_ms (default 1.8 s, under Tencent's 2 s) is answered
 * 503 by a watchdog instead of being left to time out; the event is still stored
 * when the commit completes, so a retry of it is a duplicate and nothing is lost
 * either way. Request memory is reference-counted between libmicrohttpd and the
 * outbox ticket, so a late commit never touches a finished request.
 *
 * Dedupe keys: a vendor record's "id" from webhook(); for Tencent callbacks, which
 * carry no event id, the CallbackCommand plus the SHA-256 of the body (a retried
 * callback repeats its body byte for byte; RequestTime and Sign are in the query). */
#ifndef IMMIGRATE_SYNC_HTTP_H
#define IMMIGRATE_SYNC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <immigrate/source.h>

#include "outbox.h"
#include "sync_config.h"
#include "sync_metrics.h"

struct im_sync_http;

struct im_sync_http_params {
	const struct im_sync_config *cfg; /* borrowed for the server's life */
	struct im_outbox *outbox;
	struct im_sync_metrics *metrics;
	uint64_t sdkappid;
	const char *admin;        /* our admin identifier (echo filter); borrowed */
	const char *plugin_name;  /* serves /source/<plugin_name>; NULL: no source route */
	const struct im_source *src;
	void *webhook_state;      /* a plugin state used only by this server's thread */
};

/* Binds, listens and starts serving. Writes the bound port to cfg->port_file when
 * set. Returns 0 with *out, or -1 with err (address in use, TLS files unreadable,
 * TLS unsupported by this libmicrohttpd). */
int im_sync_http_start(const struct im_sync_http_params *p, struct im_sync_http **out, char *err,
		       size_t err_size);

/* The port actually bound. */
int im_sync_http_port(const struct im_sync_http *h);

/* Stops accepting connections, waits until every request already handed to the
 * outbox has been answered, then stops the server. NULL is fine. */
void im_sync_http_stop(struct im_sync_http *h);

/* The event id of a Tencent callback: "<command>:<first 40 hex of SHA-256(body)>"
 * into out (at least 200 bytes). Returns 0 or -1. */
int im_sync_callback_event_id(const char *command, const char *body, size_t len, char *out, size_t out_size);

/* The ordering key of a callback: "g:<GroupId>", "c:<a>|<b>" (the sorted pair of
 * a one-to-one message) or "u:<From_Account of the first pair>" (Sns). */
void im_sync_callback_conv(const json_t *body, char *out, size_t size);

/* Whether we sync this CallbackCommand (spec §7.2 commands for new -> old). */
int im_sync_callback_supported(const char *command);

/* Whether a callback is an echo of our own REST write: OptPlatform RESTAPI
 * (case-insensitive) and Operator_Account or Admin_Account equal to admin. */
int im_sync_callback_is_echo(const char *opt_platform, const json_t *body, const char *admin);

#endif
