/* UserSig against the spec's vectors (§2.5) and its failure codes (§2.3). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tap.h"
#include "usersig.h"

#define KEY "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
#define APPID 1400000000ULL
#define T0 1700000000LL

static const char V1_COMPACT[] =
	"eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMikVhRkFqUCxU1NTY3goiWZuSAxc1S1xZnpQJN9yhzNU-Q9y83Tg4vzirPLwqqcXAL8nZ1dkkr9nMtN3D3KQ5wNkjILtJ1MbJVqAa3HMfI_";
static const char V1_PYTHON[] =
	"eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__";
static const char V1_NODE[] =
	"eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMiUZOamKlkZmqOKplYUZBaBxE1NTY3gosWZ6UpWSj5ljuYp*p7l5unBxXnF2WVhVU4uAf7Ozi5JpX7O5SbuHuUhzgZJmQXaTia2SrUAohcx8g__";
static const char V2_COMPACT[] =
	"eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwokpuZl5UInilOzEgoLMFCUrQxMDKIDIpFYUZBalKllZmJnAhEoyc4EChuaoCosz04GGmuSEVhS66TtpBwbru2VUhRpbWPiGl5uYFxu5e3qnF4Q4uxmG54b76OeYRtoq1QIAfj8vbQ__";

static int verify(const char *sig, const char *id, unsigned long long appid, long long now)
{
	return im_usersig_verify(sig, KEY, strlen(KEY), appid, id, now, NULL);
}

/* Builds a UserSig from arbitrary JSON text, as another implementation might. */
static char *wrap_json(const char *json)
{
	uLongf zlen = compressBound(strlen(json));
	unsigned char *z = malloc(zlen);
	compress2(z, &zlen, (const unsigned char *)json, strlen(json), 9);
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-";
	char *out = malloc(4 * ((zlen + 2) / 3) + 1), *p = out;
	for (uLongf i = 0; i < zlen; i += 3) {
		unsigned v = z[i] << 16 | (i + 1 < zlen ? z[i + 1] << 8 : 0) | (i + 2 < zlen ? z[i + 2] : 0);
		*p++ = alphabet[v >> 18 & 63];
		*p++ = alphabet[v >> 12 & 63];
		*p++ = i + 1 < zlen ? alphabet[v >> 6 & 63] : '_';
		*p++ = i + 2 < zlen ? alphabet[v & 63] : '_';
	}
	*p = '\0';
	free(z);
	return out;
}

int main(void)
{
	char sig[64];

	/* §2.5 vectors: exactly the documented TLS.sig. */
	im_usersig_tls_sig(KEY, strlen(KEY), APPID, "xiaojun", T0, 15552000, NULL, 0, sig, sizeof sig);
	is_str(sig, "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4=", "V1 TLS.sig");
	im_usersig_tls_sig(KEY, strlen(KEY), APPID, "admin", T0, 86400, NULL, 0, sig, sizeof sig);
	is_str(sig, "4lUxqF/B+QS/FhzU388MWw47s2GIKgpTCF1WmWL/l5Y=", "V2 TLS.sig");
	im_usersig_tls_sig(KEY, strlen(KEY), APPID, "xiaojun", T0, 15552000, (const unsigned char *)"abc", 3, sig,
			   sizeof sig);
	is_str(sig, "QjT201xPkXk/aM1e+y0vakZb0K2iPrFue++0s5y6bFM=", "V3 TLS.sig (userbuf)");

	/* Our encoder gives the documented compact strings byte for byte. */
	char *ours = NULL;
	ok(im_usersig_sign(KEY, strlen(KEY), APPID, "xiaojun", T0, 15552000, &ours) == 0, "sign V1");
	is_str(ours, V1_COMPACT, "V1 UserSig equals the documented compact string");
	free(ours);
	ok(im_usersig_sign(KEY, strlen(KEY), APPID, "admin", T0, 86400, &ours) == 0, "sign V2");
	is_str(ours, V2_COMPACT, "V2 UserSig equals the documented compact string");
	free(ours);

	/* The three published layouts verify. */
	is_int(verify(V1_COMPACT, "xiaojun", APPID, T0), 0, "V1 compact verifies");
	is_int(verify(V1_PYTHON, "xiaojun", APPID, T0 + 100), 0, "V1 Python-style verifies");
	is_int(verify(V1_NODE, "xiaojun", APPID, T0 + 15552000), 0, "V1 Node-style verifies");
	is_int(verify(V2_COMPACT, "admin", APPID, T0), 0, "V2 verifies");

	/* Expiry boundary: valid up to and including time+expire. */
	is_int(verify(V1_NODE, "xiaojun", APPID, T0 + 15552000), 0, "now = time+expire is valid");
	is_int(verify(V1_NODE, "xiaojun", APPID, T0 + 15552001), IM_USERSIG_EXPIRED, "one second later is 70001");
	is_int(verify(V1_PYTHON, "xiaojun", APPID, T0 + 15552001), IM_USERSIG_EXPIRED, "Python-style expires too");

	/* Failures carry the right codes. */
	is_int(verify("", "xiaojun", APPID, T0), IM_USERSIG_EMPTY, "empty is 70002");
	char truncated[sizeof V1_COMPACT];
	memcpy(truncated, V1_COMPACT, 40);
	truncated[40] = '\0';
	is_int(verify(truncated, "xiaojun", APPID, T0), IM_USERSIG_INVALID, "truncated is 70003");
	is_int(verify("not a usersig!", "xiaojun", APPID, T0), IM_USERSIG_INVALID, "garbage is 70003");
	is_int(verify(V1_COMPACT, "xiaojun2", APPID, T0), IM_USERSIG_IDENTIFIER_MISMATCH, "wrong identifier is 70013");
	is_int(verify(V1_COMPACT, "xiaojun", APPID + 1, T0), IM_USERSIG_SDKAPPID_MISMATCH, "wrong appid is 70014");
	is_int(im_usersig_verify(V1_COMPACT, "another key", 11, APPID, "xiaojun", T0, NULL), IM_USERSIG_BAD_SIGNATURE,
	       "wrong key is 70009");

	/* Tampered: a valid encoding whose claims were altered (expire extended) fails the HMAC. */
	char *tampered = wrap_json("{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"xiaojun\",\"TLS.sdkappid\":1400000000,"
				   "\"TLS.expire\":99999999,\"TLS.time\":1700000000,"
				   "\"TLS.sig\":\"LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4=\"}");
	is_int(verify(tampered, "xiaojun", APPID, T0), IM_USERSIG_BAD_SIGNATURE, "tampered expire is 70009");
	free(tampered);
	/* A flipped character inside the compressed payload breaks decoding or the HMAC. */
	char flipped[sizeof V1_COMPACT];
	memcpy(flipped, V1_COMPACT, sizeof V1_COMPACT);
	flipped[60] = flipped[60] == 'A' ? 'B' : 'A';
	int code = verify(flipped, "xiaojun", APPID, T0);
	ok(code == IM_USERSIG_INVALID || code == IM_USERSIG_BAD_SIGNATURE, "flipped byte fails (%d)", code);

	/* A userbuf-bearing signature (V3 layout, C++ member order) verifies by recomputing with the userbuf line. */
	char *v3 = wrap_json("{\"TLS.ver\":\"2.0\",\"TLS.sdkappid\":1400000000,\"TLS.identifier\":\"xiaojun\","
			     "\"TLS.time\":1700000000,\"TLS.expire\":15552000,\"TLS.userbuf\":\"YWJj\","
			     "\"TLS.sig\":\"QjT201xPkXk/aM1e+y0vakZb0K2iPrFue++0s5y6bFM=\"}");
	is_int(verify(v3, "xiaojun", APPID, T0), 0, "V3 with userbuf verifies");
	free(v3);

	struct im_usersig_claims claims;
	im_usersig_verify(V2_COMPACT, KEY, strlen(KEY), APPID, "admin", T0, &claims);
	ok(strcmp(claims.identifier, "admin") == 0 && claims.expire == 86400 && claims.time == T0,
	   "claims are decoded");
	return done_testing();
}
