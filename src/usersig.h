/* UserSig (TLSSigAPIv2): sign and verify. Shared by the runner and the emulator.
 *
 * The secret key is used as the raw bytes of its string form (spec §2.1), never
 * hex-decoded. Nothing here logs; callers must not log keys or signatures. */
#ifndef IMMIGRATE_USERSIG_H
#define IMMIGRATE_USERSIG_H

#include <stddef.h>
#include <stdint.h>

/* Verification outcomes: 0 or the Tencent IM error code the server answers. */
enum {
	IM_USERSIG_OK = 0,
	IM_USERSIG_EXPIRED = 70001,
	IM_USERSIG_EMPTY = 70002,
	IM_USERSIG_INVALID = 70003,
	IM_USERSIG_BAD_SIGNATURE = 70009,
	IM_USERSIG_IDENTIFIER_MISMATCH = 70013,
	IM_USERSIG_SDKAPPID_MISMATCH = 70014,
};

/* What a decoded UserSig claims (filled by im_usersig_verify when decoding succeeded). */
struct im_usersig_claims {
	char identifier[129];
	uint64_t sdkappid;
	int64_t time;
	int64_t expire;
};

/* TLS.sig: standard base64 of HMAC-SHA256(key, string-to-sign) (spec §2.2 steps 1-3).
 * userbuf may be NULL. Writes a NUL-terminated string into out (45 bytes suffice).
 * Returns 0, or -1 when the HMAC cannot be computed or out is too small. */
int im_usersig_tls_sig(const char *key, size_t key_len, uint64_t sdkappid, const char *identifier,
		       int64_t time, int64_t expire, const unsigned char *userbuf, size_t userbuf_len,
		       char *out, size_t out_size);

/* A complete UserSig for identifier, valid from time for expire seconds.
 * On success returns 0 and stores a malloc'd NUL-terminated string in *out
 * (the caller frees it). Returns -1 on allocation, zlib or crypto failure. */
int im_usersig_sign(const char *key, size_t key_len, uint64_t sdkappid, const char *identifier,
		    int64_t time, int64_t expire, char **out);

/* Verifies sig for (sdkappid, identifier) at Unix time now, by decoding (never by
 * comparing strings), in the order of spec §2.3. Returns IM_USERSIG_OK or one of the
 * 700xx codes above. claims may be NULL; when not NULL it is filled as far as the
 * signature could be decoded. The signature comparison runs in constant time. */
int im_usersig_verify(const char *sig, const char *key, size_t key_len, uint64_t sdkappid,
		      const char *identifier, int64_t now, struct im_usersig_claims *claims);

/* A short English meaning for a code returned by im_usersig_verify. Static string. */
const char *im_usersig_strerror(int code);

#endif
