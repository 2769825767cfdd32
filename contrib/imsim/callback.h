/* Delivery of third-party callbacks (webhooks) to --callback-url (spec §7.1). */
#ifndef IMSIM_CALLBACK_H
#define IMSIM_CALLBACK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* POSTs each {"command", "platform", "body"} of callbacks, in order, with the query
 * parameters SdkAppid, CallbackCommand, contenttype, ClientIP, OptPlatform and, with a
 * token, Sign/RequestTime. 2 s timeout; not retried (After-callbacks, default policy).
 * A non-200 or non-JSON answer counts as failed in the stats. Does nothing without
 * --callback-url. Takes sim->lock only to count. */
void callback_deliver(struct sim *sim, const json_t *callbacks);

/* Fires a Before-callback (with --before-callbacks) and returns the hook's verdict:
 * its ErrorCode (0 allow, 1 reject, 2 drop silently, 120001-130000 a custom refusal),
 * or 0 when the hook fails, times out or is not configured (the default policy lets
 * the action proceed). Adds CallbackCommand to body (borrowed). Caller holds sim->lock:
 * the request waits for the hook, as in the real service. */
int callback_before(struct sim *sim, const char *command, const char *platform, json_t *body);

/* Sign = lowercase hex SHA-256 of token followed by the decimal request_time.
 * Writes 65 bytes (64 hex + NUL) to out. Returns 0, or -1 when hashing fails. */
int callback_sign(const char *token, size_t token_len, int64_t request_time, char out[65]);

#endif
