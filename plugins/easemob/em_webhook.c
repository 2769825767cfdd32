/* webhook(): one live Easemob post-send callback, authenticated and parsed into
 * the same records the archive reader yields, for `immigrate sync`.
 *
 * Easemob signs callbacks with md5(callId + secret + timestamp) but sends no
 * other authentication, so the secret is required here (an unsigned webhook
 * endpoint would let anyone write into the new system), and the timestamp must
 * be within webhook_max_age seconds of now (a captured request cannot be replayed
 * later; Easemob's own retry comes at once). The event id given to the core for
 * deduplication is the msg_id of a message (Easemob sends the same message as
 * `chat` and again as `chat_offline`, and retries), else the callId. */
#include <stdio.h>
#include <string.h>

#include "em_security.h"
#include "em_state.h"

int em_webhook(void *state, const struct im_webhook_request *req, json_t **records, char *err, size_t err_size)
{
	struct em_state *s = state;
	*records = NULL;
	if (!s->secret) {
		snprintf(err, err_size,
			 "webhook: no callback secret configured (callback_secret_env or callback_secret_file): "
			 "unsigned callbacks are not accepted");
		return IM_SOURCE_ERROR;
	}
	if (!req->method || strcmp(req->method, "POST") != 0) {
		snprintf(err, err_size, "webhook: expected POST, got %.16s", req->method ? req->method : "nothing");
		return IM_SOURCE_ERROR;
	}
	char why[512];
	json_t *obj = s->host->json_parse(s->host->ctx, req->body, req->body_len, why, sizeof(why));
	if (!json_is_object(obj)) {
		snprintf(err, err_size, "webhook: body is not a JSON object%s%s", obj ? "" : ": ", obj ? "" : why);
		json_decref(obj);
		return IM_SOURCE_ERROR;
	}
	if (em_security_check(obj, s->secret, why, sizeof(why)) < 0) {
		snprintf(err, err_size, "webhook: %s", why);
		json_decref(obj);
		return IM_SOURCE_REJECT;
	}
	const json_t *ts = json_object_get(obj, "timestamp");
	int64_t sent = json_is_integer(ts) ? (int64_t)json_integer_value(ts) / 1000 : 0;
	int64_t age = req->now - sent;
	if (!json_is_integer(ts) || age > s->webhook_max_age || -age > s->webhook_max_age) {
		snprintf(err, err_size, "webhook: timestamp is %lld s away from now (limit %lld s): replayed or skewed",
			 (long long)age, (long long)s->webhook_max_age);
		json_decref(obj);
		return IM_SOURCE_REJECT;
	}
	struct em_classified cls;
	if (em_record_callback(obj, s->appkey, &cls, why, sizeof(why)) < 0) {
		snprintf(err, err_size, "webhook: %s", why);
		json_decref(obj);
		return IM_SOURCE_ERROR;
	}
	json_object_set_new(obj, "_input", json_string("webhook"));
	json_t *out = json_array();
	if (out && cls.stream != EM_STREAM_SKIP) {
		const char *id = cls.stream == EM_STREAM_MESSAGES
					 ? cls.id
					 : json_string_value(json_object_get(obj, "callId"));
		json_t *rec = json_pack("{s:s, s:s?, s:O}", "stream", em_stream_names[cls.stream], "id", id, "data",
					obj);
		if (!rec || json_array_append_new(out, rec) < 0) {
			json_decref(out);
			out = NULL;
		}
	}
	json_decref(obj);
	if (!out) {
		snprintf(err, err_size, "webhook: out of memory");
		return IM_SOURCE_ERROR;
	}
	*records = out;
	return IM_SOURCE_OK;
}
