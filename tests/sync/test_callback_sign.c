/* Tencent callback Sign: the spec's vectors (§7.1) and every rejection path. */
#include "config.h"

#include <string.h>

#include "callback_sign.h"
#include "../tap.h"

int main(void)
{
	char out[IM_CALLBACK_SIGN_HEX + 1], err[256];

	plan(16);
	ok(im_callback_sign("xxxxyyyy", 8, "1669872112", out) == 0, "sign computes");
	is_str(out, "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061",
	       "spec vector 1 (xxxxyyyy, 1669872112)");
	ok(im_callback_sign("abc123", 6, "1700000000", out) == 0, "sign computes");
	is_str(out, "86417fd0428c677a07a7812e271a0f444e69c29d1e27d8889259cce556dce8ea",
	       "spec vector 2 (abc123, 1700000000)");
	im_callback_sign("xxxyyy", 6, "1669872112", out);
	ok(strcmp(out, "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061") != 0,
	   "the English page's typo token does not reproduce vector 1");

	const char *good = "86417fd0428c677a07a7812e271a0f444e69c29d1e27d8889259cce556dce8ea";
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000000", good, "1700000000", 1700000000, 60,
				  err, sizeof err),
	       IM_CALLBACK_OK, "genuine callback accepted");
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000000",
				  "86417FD0428C677A07A7812E271A0F444E69C29D1E27D8889259CCE556DCE8EA", "1700000000",
				  1700000030, 60, err, sizeof err),
	       IM_CALLBACK_OK, "upper-case hex accepted, 30 s of skew accepted");
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000000", good, "1700000000", 1700000061, 60,
				  err, sizeof err),
	       IM_CALLBACK_STALE, "61 s old: stale");
	ok(strstr(err, "61 s") != NULL, "reason says how far off: %s", err);
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000000", good, "1700000000", 1699999939, 60,
				  err, sizeof err),
	       IM_CALLBACK_STALE, "61 s in the future: stale");
	is_int(im_callback_verify("abc124", 6, 1400000000, "1400000000", good, "1700000000", 1700000000, 60,
				  err, sizeof err),
	       IM_CALLBACK_BAD_SIGN, "other token: bad sign");
	ok(strstr(err, "abc1") == NULL && strstr(err, "86417") == NULL, "reason carries no secret");
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000001", good, "1700000000", 1700000000, 60,
				  err, sizeof err),
	       IM_CALLBACK_BAD_APPID, "other SdkAppid refused");
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000000", NULL, "1700000000", 1700000000, 60,
				  err, sizeof err),
	       IM_CALLBACK_MISSING, "no Sign: missing");
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000000", good, "17e8", 1700000000, 60, err,
				  sizeof err),
	       IM_CALLBACK_BAD_TIME, "non-decimal RequestTime refused");
	is_int(im_callback_verify("abc123", 6, 1400000000, "1400000000", "86417fd0", "1700000000", 1700000000,
				  60, err, sizeof err),
	       IM_CALLBACK_BAD_SIGN, "truncated Sign refused");
	return done_testing();
}
