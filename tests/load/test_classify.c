/* Unit tests for src/classify.c: every retry class of spec §1.5, transport and
 * HTTP failures, per-item codes and meanings. */
#include "config.h"

#include <string.h>

#include <curl/curl.h>

#include "classify.h"
#include "tap.h"

static enum im_outcome answer(long http, int cc, const char *body, struct im_verdict *v, json_t **js)
{
	struct im_answer a = {cc, http, body, body ? strlen(body) : 0};
	im_classify_answer(&a, v, js);
	return v->outcome;
}

int main(void)
{
	struct im_verdict v;
	json_t *js;

	/* The spec's Retry column, one code per class and every rate-limit code of the issue. */
	is_int(im_classify_code(60008), IM_OUTCOME_TRANSIENT, "60008 transient");
	is_int(im_classify_code(70169), IM_OUTCOME_TRANSIENT, "70169 transient");
	is_int(im_classify_code(70500), IM_OUTCOME_TRANSIENT, "70500 transient");
	is_int(im_classify_code(10002), IM_OUTCOME_TRANSIENT, "10002 group internal transient");
	is_int(im_classify_code(20004), IM_OUTCOME_TRANSIENT, "20004 transient");
	is_int(im_classify_code(30008), IM_OUTCOME_TRANSIENT, "30008 write conflict transient");
	is_int(im_classify_code(40006), IM_OUTCOME_TRANSIENT, "40006 transient");
	is_int(im_classify_code(91000), IM_OUTCOME_TRANSIENT, "91000 transient");
	long rl[] = {60007, 60011, 60018, 60019, 10006, 10023, 70050};
	for (size_t i = 0; i < sizeof rl / sizeof rl[0]; i++)
		is_int(im_classify_code(rl[i]), IM_OUTCOME_RATE_LIMITED, "%ld rate limited", rl[i]);
	is_int(im_classify_code(70001), IM_OUTCOME_USERSIG, "70001 regenerate UserSig");
	is_int(im_classify_code(70009), IM_OUTCOME_AUTH, "70009 wrong key stops the run");
	is_int(im_classify_code(70013), IM_OUTCOME_AUTH, "70013 auth");
	is_int(im_classify_code(60006), IM_OUTCOME_CONFIG, "60006 bad sdkappid: config");
	is_int(im_classify_code(70403), IM_OUTCOME_CONFIG, "70403 not admin: config");
	is_int(im_classify_code(70398), IM_OUTCOME_CONFIG, "70398 plan limit: config");
	is_int(im_classify_code(90012), IM_OUTCOME_PERMANENT, "90012 permanent");
	is_int(im_classify_code(10004), IM_OUTCOME_PERMANENT, "10004 permanent");
	is_int(im_classify_code(70107), IM_OUTCOME_PERMANENT, "70107 permanent");
	is_int(im_classify_code(123456), IM_OUTCOME_PERMANENT, "unknown code is permanent");
	ok(im_outcome_is_fatal(IM_OUTCOME_AUTH) && im_outcome_is_fatal(IM_OUTCOME_CONFIG) &&
		   !im_outcome_is_fatal(IM_OUTCOME_PERMANENT),
	   "auth and config are fatal, permanent is not");

	/* Per-item codes. */
	is_int(im_classify_item_code(0), IM_OUTCOME_OK, "item 0 ok");
	is_int(im_classify_item_code(30008), IM_OUTCOME_TRANSIENT, "item 30008 transient");
	is_int(im_classify_item_code(30010), IM_OUTCOME_PERMANENT, "item 30010 permanent");
	is_int(im_classify_item_code(30002), IM_OUTCOME_PERMANENT, "item-level config code is the item's");

	/* Meanings. */
	is_str(im_code_meaning(70107), "requested UserID does not exist", "meaning of 70107");
	is_str(im_code_meaning(10002), "group service internal error", "meaning of first table entry");
	is_str(im_code_meaning(93000), "message JSON packet larger than 12 KB", "meaning of last table entry");
	is_str(im_code_meaning(1), "unknown error code", "unknown code meaning");
	ok(strstr(im_code_meaning(-2), "without giving a reason") != NULL, "meaning of a reasonless item failure");

	/* Whole answers. */
	is_int(answer(200, 0, "{\"ActionStatus\":\"OK\",\"ErrorCode\":0,\"ErrorInfo\":\"\",\"FailAccounts\":[]}", &v,
		      &js),
	       IM_OUTCOME_OK, "OK envelope");
	ok(json_is_array(json_object_get(js, "FailAccounts")), "OK envelope hands back the parsed body");
	json_decref(js);
	is_int(answer(200, 0, "{\"ActionStatus\":\"FAIL\",\"ErrorCode\":60007,\"ErrorInfo\":\"freq\"}", &v, &js),
	       IM_OUTCOME_RATE_LIMITED, "60007 answer rate limited");
	ok(js == NULL && v.code == 60007 && v.kind == IM_CODE_TENCENT, "code recorded, no body handed back");
	ok(strstr(v.message, "60007") && strstr(v.message, "freq"), "message has code and ErrorInfo: %s", v.message);
	answer(200, 0, "{\"ActionStatus\":\"FAIL\",\"ErrorCode\":70050}", &v, NULL);
	ok(v.min_wait >= 60.0, "70050 waits at least a minute");
	is_int(answer(200, 0, "{\"ActionStatus\":\"FAIL\",\"ErrorCode\":0}", &v, NULL), IM_OUTCOME_PERMANENT,
	       "FAIL with code 0 is not success");
	is_int(answer(200, 0, "{\"ActionStatus\":\"OK\",\"ErrorCode\":0,\"ErrorInfo\":\"0\"}", &v, NULL),
	       IM_OUTCOME_OK, "ErrorInfo text on success is ignored");
	is_int(answer(200, 0, "{\"ActionStatus\":\"OK\"", &v, NULL), IM_OUTCOME_TRANSIENT, "truncated body transient");
	ok(v.uncertain, "truncated body: outcome uncertain");
	is_int(answer(502, 0, NULL, &v, NULL), IM_OUTCOME_TRANSIENT, "HTTP 502 transient");
	ok(v.uncertain && v.kind == IM_CODE_HTTP && v.code == 502, "HTTP 502 uncertain, code kept");
	is_int(answer(429, 0, NULL, &v, NULL), IM_OUTCOME_RATE_LIMITED, "HTTP 429 rate limited");
	is_int(answer(404, 0, NULL, &v, NULL), IM_OUTCOME_CONFIG, "HTTP 404: wrong endpoint");
	is_int(answer(0, CURLE_COULDNT_CONNECT, NULL, &v, NULL), IM_OUTCOME_TRANSIENT, "connect failure transient");
	ok(!v.uncertain, "connect failure: request certainly not processed");
	is_int(answer(0, CURLE_OPERATION_TIMEDOUT, NULL, &v, NULL), IM_OUTCOME_TRANSIENT, "timeout transient");
	ok(v.uncertain, "timeout: outcome uncertain");
	is_int(answer(0, CURLE_RECV_ERROR, NULL, &v, NULL), IM_OUTCOME_TRANSIENT, "lost connection transient");
	ok(v.uncertain, "lost connection: outcome uncertain");
	is_int(answer(0, CURLE_PEER_FAILED_VERIFICATION, NULL, &v, NULL), IM_OUTCOME_CONFIG,
	       "certificate failure stops the run");
	ok(strstr(v.message, "target.ca_file") != NULL, "and says what to fix");
	return done_testing();
}
