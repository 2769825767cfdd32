/* UserSig (TLSSigAPIv2), spec §2: HMAC-SHA256 over four lines, wrapped in JSON,
 * zlib-compressed and base64-encoded with a URL-safe substitution. */
#include "usersig.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A UserSig decodes to a small JSON object; anything bigger is not one of ours. */
#define MAX_SIG_LEN 4096
#define MAX_JSON_LEN 4096

static int string_to_sign(char *buf, size_t size, uint64_t sdkappid, const char *identifier, int64_t time,
			  int64_t expire, const char *userbuf_b64)
{
	int n = snprintf(buf, size,
			 "TLS.identifier:%s\nTLS.sdkappid:%" PRIu64 "\nTLS.time:%" PRId64 "\nTLS.expire:%" PRId64
			 "\n%s%s%s",
			 identifier, sdkappid, time, expire, userbuf_b64 ? "TLS.userbuf:" : "",
			 userbuf_b64 ? userbuf_b64 : "", userbuf_b64 ? "\n" : "");
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* Standard base64 of len bytes into out (NUL-terminated). Returns -1 if out is too small. */
static int base64_encode(const unsigned char *in, size_t len, char *out, size_t out_size)
{
	if (out_size < 4 * ((len + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return 0;
}

static int hmac_sig_b64(const char *key, size_t key_len, const char *message, size_t message_len, char *out,
			size_t out_size)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, (const unsigned char *)message, message_len,
		       mac, sizeof mac, &mac_len))
		return -1;
	int rc = base64_encode(mac, mac_len, out, out_size);
	OPENSSL_cleanse(mac, sizeof mac);
	return rc;
}

int im_usersig_tls_sig(const char *key, size_t key_len, uint64_t sdkappid, const char *identifier, int64_t time,
		       int64_t expire, const unsigned char *userbuf, size_t userbuf_len, char *out, size_t out_size)
{
	char userbuf_b64[1024];
	if (userbuf && base64_encode(userbuf, userbuf_len, userbuf_b64, sizeof userbuf_b64) != 0)
		return -1;
	char message[2048];
	int n = string_to_sign(message, sizeof message, sdkappid, identifier, time, expire,
			       userbuf ? userbuf_b64 : NULL);
	if (n < 0)
		return -1;
	return hmac_sig_b64(key, key_len, message, (size_t)n, out, out_size);
}

/* The URL-safe alphabet of spec §2.2 step 6: '+' '/' '=' become '*' '-' '_'. */
static void to_urlsafe(char *s)
{
	for (; *s; s++)
		*s = *s == '+' ? '*' : *s == '/' ? '-' : *s == '=' ? '_' : *s;
}

int im_usersig_sign(const char *key, size_t key_len, uint64_t sdkappid, const char *identifier, int64_t time,
		    int64_t expire, char **out)
{
	char sig[64];
	if (im_usersig_tls_sig(key, key_len, sdkappid, identifier, time, expire, NULL, 0, sig, sizeof sig) != 0)
		return -1;
	/* Member order as the compact layout of vector V1 (ver, identifier, sdkappid, expire, time, sig). */
	json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "TLS.ver", "2.0", "TLS.identifier", identifier,
				"TLS.sdkappid", (json_int_t)sdkappid, "TLS.expire", (json_int_t)expire, "TLS.time",
				(json_int_t)time, "TLS.sig", sig);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (!text)
		return -1;
	size_t text_len = strlen(text);
	uLongf zlen = compressBound(text_len);
	unsigned char *z = malloc(zlen);
	int rc = -1;
	if (z && compress2(z, &zlen, (const unsigned char *)text, text_len, Z_DEFAULT_COMPRESSION) == Z_OK) {
		size_t b64_size = 4 * ((zlen + 2) / 3) + 1;
		char *b64 = malloc(b64_size);
		if (b64 && base64_encode(z, zlen, b64, b64_size) == 0) {
			to_urlsafe(b64);
			*out = b64;
			rc = 0;
		} else {
			free(b64);
		}
	}
	free(z);
	free(text);
	return rc;
}

/* Reverses the URL-safe substitution and base64-decodes. Returns the decoded length or -1. */
static long decode_urlsafe(const char *sig, unsigned char *out, size_t out_size)
{
	size_t len = strlen(sig);
	if (len == 0 || len > MAX_SIG_LEN || len % 4 != 0 || out_size < len / 4 * 3)
		return -1;
	char std[MAX_SIG_LEN + 1];
	size_t pad = 0;
	for (size_t i = 0; i < len; i++) {
		char c = sig[i];
		c = c == '*' ? '+' : c == '-' ? '/' : c == '_' ? '=' : c;
		if (c == '=') {
			pad++;
		} else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				    c == '+' || c == '/')) {
			return -1; /* data after padding, or a character outside the alphabet */
		}
		std[i] = c;
	}
	std[len] = '\0';
	if (pad > 2)
		return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)std, (int)len);
	/* EVP_DecodeBlock counts padding as zero bytes. */
	return n < 0 ? -1 : (long)(n - (int)pad);
}

static int inflate_json(const unsigned char *z, size_t zlen, char *out, size_t out_size, size_t *out_len)
{
	uLongf n = out_size - 1;
	if (uncompress((unsigned char *)out, &n, z, zlen) != Z_OK)
		return -1;
	out[n] = '\0';
	*out_len = n;
	return 0;
}

static int get_int(json_t *doc, const char *name, int64_t *value)
{
	json_t *v = json_object_get(doc, name);
	if (json_is_integer(v)) {
		*value = json_integer_value(v);
		return 0;
	}
	/* Some implementations have emitted numbers as strings; accept decimal strings. */
	if (json_is_string(v)) {
		char *end;
		const char *s = json_string_value(v);
		long long x = strtoll(s, &end, 10);
		if (*s && !*end) {
			*value = x;
			return 0;
		}
	}
	return -1;
}

int im_usersig_verify(const char *sig, const char *key, size_t key_len, uint64_t sdkappid, const char *identifier,
		      int64_t now, struct im_usersig_claims *claims)
{
	if (claims)
		memset(claims, 0, sizeof *claims);
	if (!sig || !*sig)
		return IM_USERSIG_EMPTY;

	unsigned char z[MAX_SIG_LEN];
	long zlen = decode_urlsafe(sig, z, sizeof z);
	char text[MAX_JSON_LEN];
	size_t text_len;
	if (zlen <= 0 || inflate_json(z, (size_t)zlen, text, sizeof text, &text_len) != 0)
		return IM_USERSIG_INVALID;
	json_t *doc = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return IM_USERSIG_INVALID;
	}

	int rc = IM_USERSIG_INVALID;
	const char *doc_identifier = json_string_value(json_object_get(doc, "TLS.identifier"));
	const char *doc_sig = json_string_value(json_object_get(doc, "TLS.sig"));
	const char *doc_userbuf = json_string_value(json_object_get(doc, "TLS.userbuf"));
	int64_t doc_appid, doc_time, doc_expire;
	if (!doc_identifier || !doc_sig || get_int(doc, "TLS.sdkappid", &doc_appid) != 0 ||
	    get_int(doc, "TLS.time", &doc_time) != 0 || get_int(doc, "TLS.expire", &doc_expire) != 0)
		goto out;
	if (claims) {
		snprintf(claims->identifier, sizeof claims->identifier, "%s", doc_identifier);
		claims->sdkappid = (uint64_t)doc_appid;
		claims->time = doc_time;
		claims->expire = doc_expire;
	}
	if (strcmp(doc_identifier, identifier) != 0) {
		rc = IM_USERSIG_IDENTIFIER_MISMATCH;
		goto out;
	}
	if ((uint64_t)doc_appid != sdkappid) {
		rc = IM_USERSIG_SDKAPPID_MISMATCH;
		goto out;
	}
	if (now > doc_time + doc_expire) {
		rc = IM_USERSIG_EXPIRED;
		goto out;
	}
	char message[2048];
	int n = string_to_sign(message, sizeof message, sdkappid, doc_identifier, doc_time, doc_expire, doc_userbuf);
	char expected[64];
	if (n < 0 || hmac_sig_b64(key, key_len, message, (size_t)n, expected, sizeof expected) != 0)
		goto out;
	size_t want = strlen(expected);
	rc = strlen(doc_sig) == want && CRYPTO_memcmp(doc_sig, expected, want) == 0 ? IM_USERSIG_OK
										   : IM_USERSIG_BAD_SIGNATURE;
out:
	json_decref(doc);
	return rc;
}

const char *im_usersig_strerror(int code)
{
	switch (code) {
	case IM_USERSIG_OK:
		return "valid";
	case IM_USERSIG_EXPIRED:
		return "UserSig expired";
	case IM_USERSIG_EMPTY:
		return "UserSig is empty";
	case IM_USERSIG_INVALID:
		return "UserSig invalid (cannot be decoded)";
	case IM_USERSIG_BAD_SIGNATURE:
		return "UserSig verification failed (wrong key, or the key of another app)";
	case IM_USERSIG_IDENTIFIER_MISMATCH:
		return "UserID in the request differs from the identifier inside the UserSig";
	case IM_USERSIG_SDKAPPID_MISMATCH:
		return "SDKAppID in the request differs from the sdkappid inside the UserSig";
	default:
		return "unknown UserSig error";
	}
}
