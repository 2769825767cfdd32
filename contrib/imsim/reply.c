/* Response envelopes. */
#include "config.h"

#include "reply.h"

json_t *reply_envelope(enum im_family family)
{
	json_t *env = json_pack("{s:s, s:i, s:s}", "ActionStatus", "OK", "ErrorCode", 0, "ErrorInfo", "");
	if (env && (family == IM_FAMILY_PROFILE || family == IM_FAMILY_SNS))
		json_object_set_new(env, "ErrorDisplay", json_string(""));
	return env;
}

void reply_fail(json_t *env, int code, const char *info)
{
	if (!code)
		return;
	json_object_set_new(env, "ActionStatus", json_string("FAIL"));
	json_object_set_new(env, "ErrorCode", json_integer(code));
	json_object_set_new(env, "ErrorInfo", json_string(info ? info : ""));
}

json_t *reply_error(enum im_family family, int code, const char *info)
{
	json_t *env = reply_envelope(family);
	if (env)
		reply_fail(env, code, info);
	return env;
}
