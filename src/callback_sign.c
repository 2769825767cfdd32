/* Tencent IM callback Sign: SHA-256 over token || RequestTime, see callback_sign.h. */
#include "config.h"

#include "callback_sign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int im_callback_sign(const char *token, size_t token_len, const char *request_time,
		     char out[IM_CALLBACK_SIGN_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int ok = 0;

	out[0] = '\0';
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, token, token_len) == 1 &&
	    EVP_DigestUpdate(ctx, request_time, strlen(request_time)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == IM_CALLBACK_SIGN_HEX / 2)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (unsigned i = 0; i < md_len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * md_len] = '\0';
	OPENSSL_cleanse(md, sizeof md);
	return 0;
}

static int parse_decimal(const char *s, int64_t *v)
{
	if (!s || !*s || strlen(s) > 19)
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	char *end;
	long long x = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

static void set_err(char *err, size_t err_size, const char *msg)
{
	if (err && err_size)
		snprintf(err, err_size, "%s", msg);
}

enum im_callback_auth im_callback_verify(const char *token, size_t token_len, uint64_t sdkappid,
					 const char *q_sdkappid, const char *q_sign,
					 const char *q_request_time, int64_t now, int window,
					 char *err, size_t err_size)
{
	if (window <= 0)
		window = IM_CALLBACK_WINDOW;
	if (!q_sdkappid || !q_sign || !q_request_time) {
		set_err(err, err_size, !q_sdkappid ? "callback without SdkAppid"
				       : "callback without Sign/RequestTime (is callback authentication enabled in the console?)");
		return IM_CALLBACK_MISSING;
	}
	int64_t appid;
	if (parse_decimal(q_sdkappid, &appid) < 0 || (uint64_t)appid != sdkappid) {
		set_err(err, err_size, "callback for another SdkAppid");
		return IM_CALLBACK_BAD_APPID;
	}
	int64_t t;
	if (parse_decimal(q_request_time, &t) < 0) {
		set_err(err, err_size, "RequestTime is not a decimal number");
		return IM_CALLBACK_BAD_TIME;
	}
	if (t > now + window || t < now - window) {
		char buf[128];
		snprintf(buf, sizeof buf, "RequestTime %lld is %lld s away from our clock (window %d s)",
			 (long long)t, (long long)(t > now ? t - now : now - t), window);
		set_err(err, err_size, buf);
		return IM_CALLBACK_STALE;
	}
	if (strlen(q_sign) != IM_CALLBACK_SIGN_HEX) {
		set_err(err, err_size, "Sign has the wrong length");
		return IM_CALLBACK_BAD_SIGN;
	}
	char want[IM_CALLBACK_SIGN_HEX + 1], got[IM_CALLBACK_SIGN_HEX];
	if (im_callback_sign(token, token_len, q_request_time, want) < 0) {
		set_err(err, err_size, "SHA-256 unavailable");
		return IM_CALLBACK_BAD_SIGN;
	}
	/* Lower-casing by arithmetic keeps the work independent of the content. */
	for (int i = 0; i < IM_CALLBACK_SIGN_HEX; i++) {
		unsigned char c = (unsigned char)q_sign[i];
		unsigned char upper = (unsigned char)((c >= 'A') & (c <= 'F'));
		got[i] = (char)(c | (upper << 5));
	}
	int diff = CRYPTO_memcmp(got, want, IM_CALLBACK_SIGN_HEX);
	OPENSSL_cleanse(want, sizeof want);
	if (diff) {
		set_err(err, err_size, "Sign does not match (wrong callback token?)");
		return IM_CALLBACK_BAD_SIGN;
	}
	set_err(err, err_size, "ok");
	return IM_CALLBACK_OK;
}

const char *im_callback_auth_name(enum im_callback_auth a)
{
	switch (a) {
	case IM_CALLBACK_OK: return "ok";
	case IM_CALLBACK_MISSING: return "missing Sign, RequestTime or SdkAppid";
	case IM_CALLBACK_BAD_APPID: return "wrong SdkAppid";
	case IM_CALLBACK_BAD_TIME: return "malformed RequestTime";
	case IM_CALLBACK_STALE: return "stale RequestTime";
	case IM_CALLBACK_BAD_SIGN: return "bad Sign";
	}
	return "unknown";
}
