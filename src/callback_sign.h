/* Authentication of Tencent Cloud IM callbacks (spec §7.1).
 *
 * Tencent appends `SdkAppid`, `Sign` and `RequestTime` to the callback URL's query:
 *   Sign = lowercase hex( SHA-256( Token || RequestTime ) )
 * with Token the console's callback token and RequestTime decimal Unix seconds.
 * A request is genuine when the SdkAppid is ours, RequestTime lies within the replay
 * window around our clock, and Sign matches. The comparison is constant-time so the
 * expected value cannot be learnt byte by byte. Nothing here logs; reasons written
 * into err never contain the token or the expected signature. */
#ifndef IMMIGRATE_CALLBACK_SIGN_H
#define IMMIGRATE_CALLBACK_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* Seconds a RequestTime may differ from our clock (the console guide's replay guard). */
#define IM_CALLBACK_WINDOW 60

/* Length of a Sign in hex characters. */
#define IM_CALLBACK_SIGN_HEX 64

enum im_callback_auth {
	IM_CALLBACK_OK = 0,
	IM_CALLBACK_MISSING,  /* Sign, RequestTime or SdkAppid absent */
	IM_CALLBACK_BAD_APPID, /* SdkAppid is not ours (or not a number) */
	IM_CALLBACK_BAD_TIME, /* RequestTime is not a decimal number */
	IM_CALLBACK_STALE,    /* RequestTime outside the window */
	IM_CALLBACK_BAD_SIGN, /* Sign does not match */
};

/* Computes the Sign for token (token_len bytes) and the decimal request_time
 * string into out (IM_CALLBACK_SIGN_HEX + 1 bytes, NUL-terminated, lowercase).
 * Returns 0, or -1 when EVP fails (out then holds an empty string). */
int im_callback_sign(const char *token, size_t token_len, const char *request_time,
		     char out[IM_CALLBACK_SIGN_HEX + 1]);

/* Checks one callback's query parameters (any may be NULL when absent) against
 * our token and SDKAppID at Unix time now, with window seconds of tolerance
 * (<= 0: IM_CALLBACK_WINDOW). Order: presence, SdkAppid, RequestTime syntax,
 * freshness, then the signature (so a stale request costs no hash). Sign is
 * accepted in either case of hex. Returns IM_CALLBACK_OK or the reason; err
 * (may be NULL) receives a one-line human reason without secrets. */
enum im_callback_auth im_callback_verify(const char *token, size_t token_len, uint64_t sdkappid,
					 const char *q_sdkappid, const char *q_sign,
					 const char *q_request_time, int64_t now, int window,
					 char *err, size_t err_size);

/* Short English name of a result ("ok", "stale RequestTime", ...). Static string. */
const char *im_callback_auth_name(enum im_callback_auth a);

#endif
