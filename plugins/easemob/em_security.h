/* Authenticity of an archived Easemob callback body.
 *
 * Easemob signs each post-send callback with
 *     security = md5_hex(callId + secret + timestamp)
 * (lower-case hex; timestamp is the body's millisecond number as decimal text).
 * When the customer gives the secret, a line whose signature does not match was
 * not written by Easemob (or was altered) and must not be imported. */
#ifndef EM_SECURITY_H
#define EM_SECURITY_H

#include <jansson.h>
#include <stddef.h>

/* Checks body's `security` against callId, secret and timestamp. Returns 0 when
 * it matches, -1 otherwise with a reason in why (never containing the secret or
 * the expected value). The comparison of the digests runs in constant time. */
int em_security_check(const json_t *body, const char *secret, char *why, size_t why_size);

#endif
