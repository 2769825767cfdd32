/* md5 callback signature check through OpenSSL EVP (see em_security.h). */
#include "em_security.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int em_security_check(const json_t *body, const char *secret, char *why, size_t why_size)
{
	const char *call_id = json_string_value(json_object_get(body, "callId"));
	const char *security = json_string_value(json_object_get(body, "security"));
	const json_t *ts = json_object_get(body, "timestamp");
	char ts_text[32];

	if (!call_id || !security) {
		snprintf(why, why_size, "callback has no %s to check the signature with",
			 call_id ? "security" : "callId");
		return -1;
	}
	if (json_is_integer(ts))
		snprintf(ts_text, sizeof(ts_text), "%" PRId64, (int64_t)json_integer_value(ts));
	else if (json_is_string(ts) && json_string_length(ts) < sizeof(ts_text))
		snprintf(ts_text, sizeof(ts_text), "%s", json_string_value(ts));
	else {
		snprintf(why, why_size, "callback has no usable timestamp to check the signature with");
		return -1;
	}

	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	int good = md && EVP_DigestInit_ex(md, EVP_md5(), NULL) == 1 &&
		   EVP_DigestUpdate(md, call_id, strlen(call_id)) == 1 &&
		   EVP_DigestUpdate(md, secret, strlen(secret)) == 1 &&
		   EVP_DigestUpdate(md, ts_text, strlen(ts_text)) == 1 &&
		   EVP_DigestFinal_ex(md, digest, &digest_len) == 1 && digest_len == 16;
	EVP_MD_CTX_free(md);
	if (!good) {
		snprintf(why, why_size, "md5 is unavailable in this OpenSSL");
		return -1;
	}

	static const char hex[] = "0123456789abcdef";
	char expected[32], given[32];
	for (int i = 0; i < 16; i++) {
		expected[2 * i] = hex[digest[i] >> 4];
		expected[2 * i + 1] = hex[digest[i] & 15];
	}
	/* The length of a signature is not secret; its content is compared in
	 * constant time, case-insensitively (md5Hex is lower-case). */
	int match = strlen(security) == 32;
	for (int i = 0; i < 32; i++) {
		char c = match ? security[i] : '0';
		given[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
	}
	match = CRYPTO_memcmp(expected, given, 32) == 0 && match;
	OPENSSL_cleanse(expected, sizeof(expected));
	if (!match) {
		snprintf(why, why_size, "security signature does not match (callId + secret + timestamp)");
		return -1;
	}
	return 0;
}
