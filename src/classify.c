/* Answer classification: spec §1.5 (common codes), §3-§6 (per-service codes).
 * Every decision about retrying lives here so the loader has one policy. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "classify.h"

struct code_info {
	long code;
	enum im_outcome outcome;
	const char *meaning;
};

/* Sorted by code (binary search). The outcome column is the spec's Retry column:
 * T -> transient, R -> rate limited, S -> usersig, N -> permanent unless the code
 * means the credentials or the app's configuration are wrong, which no retry and
 * no later record can fix (auth / config: the run stops). */
static const struct code_info codes[] = {
	{10002, IM_OUTCOME_TRANSIENT, "group service internal error"},
	{10003, IM_OUTCOME_PERMANENT, "invalid group command"},
	{10004, IM_OUTCOME_PERMANENT, "invalid group request parameter (for messages: send time not after the group's creation or latest message)"},
	{10005, IM_OUTCOME_PERMANENT, "too many accounts in the request"},
	{10006, IM_OUTCOME_RATE_LIMITED, "group operation frequency limit"},
	{10007, IM_OUTCOME_PERMANENT, "no permission, or operation not supported for this group type"},
	{10009, IM_OUTCOME_PERMANENT, "the group owner cannot quit"},
	{10010, IM_OUTCOME_PERMANENT, "group does not exist or was disbanded"},
	{10011, IM_OUTCOME_PERMANENT, "group request JSON could not be parsed"},
	{10012, IM_OUTCOME_PERMANENT, "invalid UserID"},
	{10013, IM_OUTCOME_PERMANENT, "user is already a group member"},
	{10014, IM_OUTCOME_PERMANENT, "group is full"},
	{10015, IM_OUTCOME_PERMANENT, "invalid group id"},
	{10016, IM_OUTCOME_PERMANENT, "rejected by the app's webhook"},
	{10017, IM_OUTCOME_PERMANENT, "sender is muted"},
	{10018, IM_OUTCOME_PERMANENT, "response larger than 1 MB"},
	{10019, IM_OUTCOME_PERMANENT, "UserID does not exist"},
	{10020, IM_OUTCOME_PERMANENT, "message larger than 12 KB"},
	{10021, IM_OUTCOME_PERMANENT, "group id already used by someone else"},
	{10023, IM_OUTCOME_RATE_LIMITED, "group message frequency limit"},
	{10025, IM_OUTCOME_PERMANENT, "group id already used by you"},
	{10026, IM_OUTCOME_PERMANENT, "command disabled"},
	{10036, IM_OUTCOME_PERMANENT, "AVChatRoom quota exceeded"},
	{10037, IM_OUTCOME_PERMANENT, "user joined too many groups"},
	{10038, IM_OUTCOME_PERMANENT, "group member limit reached"},
	{10058, IM_OUTCOME_CONFIG, "free edition limited to 100 groups: upgrade the app's plan"},
	{20001, IM_OUTCOME_PERMANENT, "invalid message request"},
	{20002, IM_OUTCOME_AUTH, "UserSig or A2 invalid"},
	{20003, IM_OUTCOME_PERMANENT, "sender or recipient not imported"},
	{20004, IM_OUTCOME_TRANSIENT, "message service network error"},
	{20005, IM_OUTCOME_TRANSIENT, "message service internal error"},
	{20006, IM_OUTCOME_PERMANENT, "blocked by the before-send webhook"},
	{30001, IM_OUTCOME_PERMANENT, "invalid relationship request parameter (or entry already exists)"},
	{30002, IM_OUTCOME_CONFIG, "SDKAppID mismatch in the relationship service"},
	{30003, IM_OUTCOME_PERMANENT, "account does not exist"},
	{30004, IM_OUTCOME_CONFIG, "app admin required for this relationship call"},
	{30006, IM_OUTCOME_TRANSIENT, "relationship service internal error"},
	{30007, IM_OUTCOME_TRANSIENT, "relationship service timeout"},
	{30008, IM_OUTCOME_TRANSIENT, "concurrent writes for the same account (write conflict)"},
	{30010, IM_OUTCOME_PERMANENT, "friend count limit reached"},
	{30011, IM_OUTCOME_PERMANENT, "friend list count limit reached"},
	{30012, IM_OUTCOME_PERMANENT, "pending friend request limit reached"},
	{30013, IM_OUTCOME_PERMANENT, "blocklist full"},
	{30014, IM_OUTCOME_PERMANENT, "peer's friend count limit reached"},
	{30515, IM_OUTCOME_PERMANENT, "peer is in your blocklist"},
	{30516, IM_OUTCOME_PERMANENT, "peer denies all friend requests"},
	{30525, IM_OUTCOME_PERMANENT, "you are in the peer's blocklist"},
	{30539, IM_OUTCOME_PERMANENT, "friend request pending the peer's confirmation"},
	{30540, IM_OUTCOME_RATE_LIMITED, "friend requests too frequent"},
	{31704, IM_OUTCOME_PERMANENT, "not a friend"},
	{31707, IM_OUTCOME_RATE_LIMITED, "friend deletion too frequent"},
	{32216, IM_OUTCOME_PERMANENT, "not a friend (friend list)"},
	{40001, IM_OUTCOME_PERMANENT, "invalid profile request parameter"},
	{40002, IM_OUTCOME_PERMANENT, "To_Account missing"},
	{40003, IM_OUTCOME_PERMANENT, "account does not exist"},
	{40004, IM_OUTCOME_CONFIG, "app admin required for this profile call"},
	{40006, IM_OUTCOME_TRANSIENT, "profile service internal error"},
	{40007, IM_OUTCOME_PERMANENT, "no read permission for the profile tag"},
	{40008, IM_OUTCOME_PERMANENT, "no write permission for the profile tag"},
	{40009, IM_OUTCOME_PERMANENT, "profile tag does not exist (custom tags must be created in the console)"},
	{40601, IM_OUTCOME_PERMANENT, "profile value longer than 500 bytes"},
	{40605, IM_OUTCOME_PERMANENT, "invalid value for a standard profile tag"},
	{40610, IM_OUTCOME_PERMANENT, "wrong value type for a standard profile tag"},
	{50004, IM_OUTCOME_TRANSIENT, "server internal error"},
	{50005, IM_OUTCOME_TRANSIENT, "server internal error"},
	{60002, IM_OUTCOME_PERMANENT, "HTTP parse error (bad URL format)"},
	{60003, IM_OUTCOME_PERMANENT, "request JSON could not be parsed"},
	{60004, IM_OUTCOME_AUTH, "admin identifier or UserSig wrong in the request"},
	{60005, IM_OUTCOME_AUTH, "admin identifier or UserSig wrong in the request"},
	{60006, IM_OUTCOME_CONFIG, "SDKAppID invalid: check target.sdkappid"},
	{60007, IM_OUTCOME_RATE_LIMITED, "REST API call frequency limit exceeded"},
	{60008, IM_OUTCOME_TRANSIENT, "service timeout or malformed HTTP request"},
	{60009, IM_OUTCOME_CONFIG, "requested resource wrong (unknown service/command; is target.endpoint a Tencent IM REST host?)"},
	{60010, IM_OUTCOME_CONFIG, "request needs app-admin permission: target.admin is not an app admin"},
	{60011, IM_OUTCOME_RATE_LIMITED, "SDKAppID-level request frequency exceeded"},
	{60012, IM_OUTCOME_CONFIG, "sdkappid missing from the URL"},
	{60013, IM_OUTCOME_TRANSIENT, "internal JSON parse error in the response"},
	{60014, IM_OUTCOME_TRANSIENT, "account switch timeout"},
	{60015, IM_OUTCOME_PERMANENT, "account in the body has the wrong JSON type"},
	{60016, IM_OUTCOME_CONFIG, "SDKAppID disabled"},
	{60017, IM_OUTCOME_CONFIG, "request disabled for this app"},
	{60018, IM_OUTCOME_RATE_LIMITED, "too many requests, retry later"},
	{60019, IM_OUTCOME_RATE_LIMITED, "too many requests, retry later"},
	{60020, IM_OUTCOME_CONFIG, "Pro edition plan expired"},
	{60021, IM_OUTCOME_CONFIG, "caller IP not in the app's IP allowlist"},
	{70001, IM_OUTCOME_USERSIG, "UserSig expired"},
	{70002, IM_OUTCOME_AUTH, "UserSig is empty"},
	{70003, IM_OUTCOME_AUTH, "UserSig invalid"},
	{70005, IM_OUTCOME_AUTH, "UserSig invalid"},
	{70009, IM_OUTCOME_AUTH, "UserSig verification failed: target.key_file holds the wrong key or another app's key"},
	{70013, IM_OUTCOME_AUTH, "identifier differs from the one in the UserSig"},
	{70014, IM_OUTCOME_AUTH, "SDKAppID differs from the one in the UserSig: check target.sdkappid"},
	{70016, IM_OUTCOME_CONFIG, "no key found for the app"},
	{70020, IM_OUTCOME_CONFIG, "SDKAppID not found: check target.sdkappid"},
	{70050, IM_OUTCOME_RATE_LIMITED, "too many failed UserSig checks; try again after 1 minute"},
	{70051, IM_OUTCOME_PERMANENT, "account is blocklisted"},
	{70107, IM_OUTCOME_PERMANENT, "requested UserID does not exist"},
	{70169, IM_OUTCOME_TRANSIENT, "server timeout, try later"},
	{70202, IM_OUTCOME_TRANSIENT, "server timeout, try later"},
	{70206, IM_OUTCOME_PERMANENT, "invalid batch size in the request"},
	{70398, IM_OUTCOME_CONFIG, "account count over the plan's limit (free edition: 100 accounts)"},
	{70399, IM_OUTCOME_PERMANENT, "a deleted account cannot be re-imported yet"},
	{70402, IM_OUTCOME_PERMANENT, "invalid parameter"},
	{70403, IM_OUTCOME_CONFIG, "app-admin permission required: target.admin is not an app admin"},
	{70500, IM_OUTCOME_TRANSIENT, "internal server error"},
	{71000, IM_OUTCOME_CONFIG, "account deletion only allowed on trial/free apps"},
	{72000, IM_OUTCOME_CONFIG, "trial edition DAU quota exceeded"},
	{80002, IM_OUTCOME_PERMANENT, "message longer than 12,000 bytes"},
	{90001, IM_OUTCOME_PERMANENT, "message request JSON could not be parsed"},
	{90002, IM_OUTCOME_PERMANENT, "invalid MsgBody"},
	{90003, IM_OUTCOME_PERMANENT, "To_Account missing or not a string"},
	{90004, IM_OUTCOME_PERMANENT, "invalid MsgSeq"},
	{90005, IM_OUTCOME_PERMANENT, "MsgRandom missing or not an integer"},
	{90006, IM_OUTCOME_PERMANENT, "MsgTimeStamp missing or not an integer"},
	{90007, IM_OUTCOME_PERMANENT, "MsgBody is not an array"},
	{90008, IM_OUTCOME_PERMANENT, "From_Account missing"},
	{90009, IM_OUTCOME_CONFIG, "app admin required for this message call"},
	{90010, IM_OUTCOME_PERMANENT, "invalid message element format"},
	{90011, IM_OUTCOME_PERMANENT, "more than 500 recipients"},
	{90012, IM_OUTCOME_PERMANENT, "To_Account not imported"},
	{90026, IM_OUTCOME_PERMANENT, "offline retention longer than 7 days"},
	{90030, IM_OUTCOME_PERMANENT, "SyncFromOldSystem missing or not an integer"},
	{90031, IM_OUTCOME_PERMANENT, "SyncOtherMachine not an integer"},
	{90044, IM_OUTCOME_PERMANENT, "MsgLifeTime not an integer"},
	{90048, IM_OUTCOME_PERMANENT, "account does not exist"},
	{90055, IM_OUTCOME_PERMANENT, "batch message packet larger than 8 KB"},
	{90992, IM_OUTCOME_TRANSIENT, "message service internal error"},
	{90994, IM_OUTCOME_TRANSIENT, "message service internal error"},
	{90995, IM_OUTCOME_TRANSIENT, "message service internal error"},
	{91000, IM_OUTCOME_TRANSIENT, "message service internal error"},
	{93000, IM_OUTCOME_PERMANENT, "message JSON packet larger than 12 KB"},
};

static const struct code_info *find_code(long code)
{
	size_t lo = 0, hi = sizeof codes / sizeof codes[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (codes[mid].code == code)
			return &codes[mid];
		if (codes[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

enum im_outcome im_classify_code(long code)
{
	if (code == 0)
		return IM_OUTCOME_OK;
	const struct code_info *c = find_code(code);
	/* An unknown code is most likely a business error about this request:
	 * dead-lettering it keeps the run going and the code is recorded. */
	return c ? c->outcome : IM_OUTCOME_PERMANENT;
}

enum im_outcome im_classify_item_code(long code)
{
	if (code == 0)
		return IM_OUTCOME_OK;
	switch (im_classify_code(code)) {
	case IM_OUTCOME_TRANSIENT:
	case IM_OUTCOME_RATE_LIMITED:
		return IM_OUTCOME_TRANSIENT;
	default:
		/* Per-item auth/config codes concern that item (e.g. another app's account). */
		return IM_OUTCOME_PERMANENT;
	}
}

const char *im_code_meaning(long code)
{
	if (code == 0)
		return "success";
	if (code == -1)
		return "ActionStatus FAIL without an ErrorCode";
	if (code == -2)
		return "the service reported this item as not imported without giving a reason";
	const struct code_info *c = find_code(code);
	return c ? c->meaning : "unknown error code";
}

const char *im_outcome_name(enum im_outcome o)
{
	switch (o) {
	case IM_OUTCOME_OK: return "ok";
	case IM_OUTCOME_TRANSIENT: return "transient";
	case IM_OUTCOME_RATE_LIMITED: return "rate-limited";
	case IM_OUTCOME_USERSIG: return "usersig";
	case IM_OUTCOME_AUTH: return "auth";
	case IM_OUTCOME_CONFIG: return "config";
	case IM_OUTCOME_PERMANENT: return "permanent";
	}
	return "?";
}

bool im_outcome_is_fatal(enum im_outcome o)
{
	return o == IM_OUTCOME_AUTH || o == IM_OUTCOME_CONFIG;
}

__attribute__((format(printf, 5, 6))) static void set(struct im_verdict *v, enum im_outcome o, int kind,
							long code, const char *fmt, ...)
{
	va_list ap;
	v->outcome = o;
	v->kind = kind;
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof v->message, fmt, ap);
	va_end(ap);
}

/* Transport failures. Whether the server may have processed the request decides
 * whether a retry needs deduplication: failures before a connection exists are
 * certain not to have reached it. */
static void classify_curl(int cc, struct im_verdict *v)
{
	const char *what = curl_easy_strerror((CURLcode)cc);
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		set(v, IM_OUTCOME_TRANSIENT, IM_CODE_CURL, cc, "cannot reach the endpoint: %s", what);
		return;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		set(v, IM_OUTCOME_CONFIG, IM_CODE_CURL, cc,
		    "TLS verification failed (%s): set target.ca_file to the CA that signed the "
		    "endpoint's certificate, or target.insecure = true for a test endpoint", what);
		return;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		set(v, IM_OUTCOME_CONFIG, IM_CODE_CURL, cc, "target.endpoint is not a usable URL: %s", what);
		return;
	case CURLE_SSL_CONNECT_ERROR:
		set(v, IM_OUTCOME_TRANSIENT, IM_CODE_CURL, cc, "TLS handshake failed: %s", what);
		return;
	default:
		/* Timeouts, resets, partial reads: the request may have been processed. */
		set(v, IM_OUTCOME_TRANSIENT, IM_CODE_CURL, cc, "transport error: %s", what);
		v->uncertain = true;
		return;
	}
}

void im_classify_answer(const struct im_answer *a, struct im_verdict *v, json_t **json_out)
{
	memset(v, 0, sizeof *v);
	if (json_out)
		*json_out = NULL;
	if (a->curl_code != 0) {
		classify_curl(a->curl_code, v);
		return;
	}
	if (a->http_status != 200) {
		char num[24];
		snprintf(num, sizeof num, "%ld", a->http_status);
		if (a->http_status == 429) {
			set(v, IM_OUTCOME_RATE_LIMITED, IM_CODE_HTTP, 429, "HTTP %s: too many requests", num);
		} else if (a->http_status >= 500 || a->http_status == 408) {
			/* A gateway error may hide a processed request. */
			set(v, IM_OUTCOME_TRANSIENT, IM_CODE_HTTP, a->http_status, "HTTP %s from the endpoint", num);
			v->uncertain = true;
		} else if (a->http_status == 401 || a->http_status == 403) {
			set(v, IM_OUTCOME_AUTH, IM_CODE_HTTP, a->http_status,
			    "HTTP %s: the endpoint refused the credentials or this client", num);
		} else {
			set(v, IM_OUTCOME_CONFIG, IM_CODE_HTTP, a->http_status,
			    "HTTP %s: target.endpoint does not look like a Tencent IM REST host", num);
		}
		return;
	}
	json_error_t jerr;
	json_t *root = a->body ? json_loadb(a->body, a->body_len, 0, &jerr) : NULL;
	if (!json_is_object(root)) {
		json_decref(root);
		set(v, IM_OUTCOME_TRANSIENT, IM_CODE_NONE, 0, "%s", "response body is not a JSON object");
		v->uncertain = true;
		return;
	}
	json_t *ec = json_object_get(root, "ErrorCode");
	const char *status = json_string_value(json_object_get(root, "ActionStatus"));
	long code = json_is_integer(ec) ? (long)json_integer_value(ec) : 0;
	if (code == 0 && status && strcmp(status, "FAIL") == 0)
		code = -1; /* FAIL without a code: nothing to go on but the request itself */
	if (code == 0) {
		v->outcome = IM_OUTCOME_OK;
		v->kind = IM_CODE_TENCENT;
		if (json_out)
			*json_out = root;
		else
			json_decref(root);
		return;
	}
	v->kind = IM_CODE_TENCENT;
	v->code = code;
	v->outcome = code == -1 ? IM_OUTCOME_PERMANENT : im_classify_code(code);
	if (code == 70050)
		v->min_wait = 60.0;
	const char *info = json_string_value(json_object_get(root, "ErrorInfo"));
	snprintf(v->message, sizeof v->message, "error %ld: %s%s%.120s%s", code,
		 code == -1 ? "ActionStatus FAIL without ErrorCode" : im_code_meaning(code),
		 info && *info ? " (" : "", info ? info : "", info && *info ? ")" : "");
	json_decref(root);
}
