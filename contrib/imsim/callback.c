/* Webhook delivery with libcurl. The token only ever enters the hash, never a log. */
#include "config.h"

#include "callback.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int callback_sign(const char *token, size_t token_len, int64_t request_time, char out[65])
{
	char digits[32];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	int n = snprintf(digits, sizeof digits, "%lld", (long long)request_time);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, token, token_len) &&
		 EVP_DigestUpdate(ctx, digits, (size_t)n) && EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (unsigned i = 0; i < md_len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

struct sink {
	char buf[4096];
	size_t len;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb, room = sizeof s->buf - 1 - s->len;
	memcpy(s->buf + s->len, data, n < room ? n : room);
	s->len += n < room ? n : room;
	s->buf[s->len] = '\0';
	return n;
}

/* POSTs one callback. True when the hook answered HTTP 200 with JSON; its ErrorCode
 * then goes to *verdict (when not NULL). */
static bool deliver_one(struct sim *sim, CURL *curl, const char *command, const char *platform, const json_t *body,
			int *verdict)
{
	char url[2048], sign[65];
	const char *base = sim->opt.callback_url;
	/* Alert URLs carry no ClientIP (spec §7.1). */
	bool alert = !strncmp(command, "Alert.", 6);
	int n = snprintf(url, sizeof url, "%s%sSdkAppid=%llu&CallbackCommand=%s&contenttype=json%s&OptPlatform=%s",
			 base, strchr(base, '?') ? "&" : "?", (unsigned long long)sim->opt.sdkappid, command,
			 alert ? "" : "&ClientIP=127.0.0.1", platform);
	if (sim->callback_token && n > 0 && (size_t)n < sizeof url) {
		int64_t now = (int64_t)time(NULL);
		if (callback_sign(sim->callback_token, sim->callback_token_len, now, sign))
			return false;
		n += snprintf(url + n, sizeof url - (size_t)n, "&Sign=%s&RequestTime=%lld", sign, (long long)now);
	}
	if (n < 0 || (size_t)n >= sizeof url) {
		im_warn("callback %s: URL too long", command);
		return false;
	}
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return false;
	struct sink sink = {.len = 0};
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	CURLcode rc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	free(text);
	if (rc != CURLE_OK) {
		/* The URL carries the Sign, so log the command and the reason only. */
		im_warn("callback %s: %s", command, curl_easy_strerror(rc));
		return false;
	}
	json_t *answer = json_loadb(sink.buf, sink.len, 0, NULL);
	bool ok = status == 200 && answer;
	if (ok && verdict)
		*verdict = (int)json_integer_value(json_object_get(answer, "ErrorCode"));
	json_decref(answer);
	if (!ok)
		im_warn("callback %s: answered HTTP %ld%s", command, status, answer ? "" : " without JSON");
	return ok;
}

void callback_deliver(struct sim *sim, const json_t *callbacks)
{
	if (!sim->opt.callback_url)
		return;
	CURL *curl = curl_easy_init();
	if (!curl)
		return;
	size_t i;
	const json_t *cb;
	json_array_foreach(callbacks, i, cb) {
		bool ok = deliver_one(sim, curl, json_string_value(json_object_get(cb, "command")),
				      json_string_value(json_object_get(cb, "platform")), json_object_get(cb, "body"),
				      NULL);
		pthread_mutex_lock(&sim->lock);
		if (ok)
			sim->stats.callbacks_sent++;
		else
			sim->stats.callbacks_failed++;
		pthread_mutex_unlock(&sim->lock);
	}
	curl_easy_cleanup(curl);
}

int callback_before(struct sim *sim, const char *command, const char *platform, json_t *body)
{
	int verdict = 0;
	if (!sim->opt.callback_url || !sim->opt.before_callbacks || !body)
		return 0;
	json_object_set_new(body, "CallbackCommand", json_string(command));
	CURL *curl = curl_easy_init();
	bool ok = curl && deliver_one(sim, curl, command, platform, body, &verdict);
	curl_easy_cleanup(curl);
	if (ok)
		sim->stats.callbacks_sent++;
	else
		sim->stats.callbacks_failed++;
	/* A Before callback that fails or times out lets the action proceed (the default policy). */
	return ok ? verdict : 0;
}
