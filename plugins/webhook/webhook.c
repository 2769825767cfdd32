/* webhook: the generic signed-JSON webhook source for self-built chat systems.
 *
 * For `immigrate sync` only (capabilities WEBHOOK and DELIVER; next() has nothing
 * to read). The old system and immigrate share a secret; both directions sign the
 * same way:
 *
 *   X-Immigrate-Timestamp: <Unix seconds>
 *   X-Immigrate-Signature: sha256=<lowercase hex HMAC-SHA256(secret, timestamp + "." + body)>
 *
 * The timestamp is inside the MAC so it cannot be moved, and a request whose
 * timestamp is more than `window` seconds from our clock is refused: a captured
 * request cannot be replayed later. Within the window a replay repeats its event
 * ids, which the daemon's outbox deduplicates (nothing new is stored). The
 * comparison is constant-time (CRYPTO_memcmp).
 *
 * Inbound body (POST /source/webhook): one event object, or {"events": [...]}:
 *   {"id": "evt-123", "stream": "messages", "data": { ...native record... }}
 * `id` (string or integer) is the old system's event id, the dedupe key (absent:
 * never deduplicated); `stream` defaults to "events"; `data` is what the mapping
 * script's map(rec, ctx) receives as rec (ctx.stream = stream, ctx.source_id = id).
 *
 * Outbound (deliver): each event the script's reverse() returns is POSTed as
 * compact JSON to deliver_url with the same two headers plus
 * X-Immigrate-Event-Id (a digest of the body, stable across retries, so the old
 * system can deduplicate). A 2xx answer delivers; its JSON {"id": "..."} (if any)
 * is the id the old system gave the event, used for echo suppression: when the
 * old system's webhook later reports that object, it must carry the same id.
 * 408, 425, 429 and 5xx are transient (retried by the daemon); other statuses are
 * permanent.
 *
 * Options (the job's source table):
 *   secret_file = "hook.secret"   -- or secret = env("..."): the shared secret (required)
 *   deliver_url = "https://old.example.com/immigrate"  -- required for deliver()
 *   deliver_secret_file / deliver_secret  -- another secret for deliveries (default: secret)
 *   window = 300                  -- seconds of timestamp skew accepted (1..86400)
 *   deliver_timeout_ms = 10000, deliver_rate = 0 (requests/s, 0 = unlimited) */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/core_names.h>

#include <immigrate/source.h>

#define WEBHOOK_VERSION "1.0.0"
#define SIG_HEADER "x-immigrate-signature"
#define TS_HEADER "x-immigrate-timestamp"

struct hook {
	const struct im_host *host;
	char *secret, *deliver_secret;
	size_t secret_len, deliver_secret_len;
	char *deliver_url;
	long window;
	long timeout_ms;
	double rate;
};

static const char *const hook_streams[] = {"events", NULL};

static void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	if (!err || !err_size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static void wipe_free(char *s, size_t n)
{
	if (s) {
		OPENSSL_cleanse(s, n);
		free(s);
	}
}

static int read_secret(const char *path, char **out, size_t *len, char *err, size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		set_err(err, err_size, "secret_file %s: cannot open", path);
		return -1;
	}
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	int big = !feof(f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (big || n == 0) {
		OPENSSL_cleanse(buf, sizeof buf);
		set_err(err, err_size, "secret_file %s: %s", path, big ? "larger than 4 KiB" : "empty");
		return -1;
	}
	*out = malloc(n + 1);
	if (*out) {
		memcpy(*out, buf, n);
		(*out)[n] = '\0';
		*len = n;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	if (!*out) {
		set_err(err, err_size, "out of memory");
		return -1;
	}
	return 0;
}

/* hex HMAC-SHA256(key, ts "." body) into out[65]. Returns 0 or -1. */
static int sign(const char *key, size_t key_len, const char *ts, const char *body, size_t body_len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	unsigned char md[32];
	size_t md_len = 0;
	int ok = 0;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
			       OSSL_PARAM_construct_end()};
	if (ctx && EVP_MAC_init(ctx, (const unsigned char *)key, key_len, params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1 &&
	    EVP_MAC_final(ctx, md, &md_len, sizeof md) == 1 && md_len == 32)
		ok = 1;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (!ok)
		return -1;
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(md, sizeof md);
	return 0;
}

static const char *option_string(const json_t *opts, const char *key, int *bad, char *err, size_t err_size)
{
	json_t *v = json_object_get(opts, key);
	if (!v)
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		set_err(err, err_size, "option %s: expected a string", key);
		return NULL;
	}
	return json_string_value(v);
}

static void hook_close(void *state)
{
	struct hook *h = state;
	if (!h)
		return;
	wipe_free(h->secret, h->secret_len);
	wipe_free(h->deliver_secret, h->deliver_secret_len);
	free(h->deliver_url);
	free(h);
}

static int load_secret(const json_t *opts, const char *file_key, const char *inline_key, char **out, size_t *len,
		       int *bad, char *err, size_t err_size)
{
	const char *file = option_string(opts, file_key, bad, err, err_size);
	const char *inl = option_string(opts, inline_key, bad, err, err_size);
	if (*bad)
		return -1;
	if (file && inl) {
		set_err(err, err_size, "options %s and %s: give one, not both", file_key, inline_key);
		return -1;
	}
	if (file)
		return read_secret(file, out, len, err, err_size);
	if (inl) {
		if (!*inl) {
			set_err(err, err_size, "option %s: empty", inline_key);
			return -1;
		}
		*len = strlen(inl);
		*out = strdup(inl);
		if (!*out) {
			set_err(err, err_size, "out of memory");
			return -1;
		}
		return 0;
	}
	return 1;
}

static int hook_open(const struct im_host *host, const json_t *options, const char *checkpoint, void **state,
		     char *err, size_t err_size)
{
	static const char *const known[] = {"secret_file", "secret", "deliver_url", "deliver_secret_file",
					    "deliver_secret", "window", "deliver_timeout_ms", "deliver_rate", NULL};
	*state = NULL;
	if (!json_is_object(options)) {
		set_err(err, err_size, "options must be a table");
		return IM_SOURCE_ERROR;
	}
	if (checkpoint && strcmp(checkpoint, "webhook") != 0) {
		set_err(err, err_size, "checkpoint '%.40s' was not made by the webhook plugin", checkpoint);
		return IM_SOURCE_ERROR;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)options, key, v) {
		int found = 0;
		for (int i = 0; known[i]; i++)
			found |= strcmp(known[i], key) == 0;
		if (!found) {
			set_err(err, err_size, "unknown option '%s'", key);
			return IM_SOURCE_ERROR;
		}
	}
	struct hook *h = calloc(1, sizeof *h);
	if (!h) {
		set_err(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	h->host = host;
	h->window = 300;
	h->timeout_ms = 10000;
	int bad = 0;
	int rc = load_secret(options, "secret_file", "secret", &h->secret, &h->secret_len, &bad, err, err_size);
	if (rc != 0) {
		if (rc > 0)
			set_err(err, err_size, "option secret_file (or secret) is required: the shared HMAC secret");
		goto fail;
	}
	rc = load_secret(options, "deliver_secret_file", "deliver_secret", &h->deliver_secret,
			 &h->deliver_secret_len, &bad, err, err_size);
	if (rc < 0)
		goto fail;
	const char *url = option_string(options, "deliver_url", &bad, err, err_size);
	if (bad)
		goto fail;
	if (url) {
		if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
			set_err(err, err_size, "option deliver_url: expected an http:// or https:// URL");
			goto fail;
		}
		if (!(h->deliver_url = strdup(url)))
			goto oom;
	}
	json_t *w = json_object_get(options, "window");
	if (w && (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > 86400)) {
		set_err(err, err_size, "option window: expected seconds from 1 to 86400");
		goto fail;
	}
	if (w)
		h->window = (long)json_integer_value(w);
	json_t *t = json_object_get(options, "deliver_timeout_ms");
	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 600000)) {
		set_err(err, err_size, "option deliver_timeout_ms: expected 1 to 600000");
		goto fail;
	}
	if (t)
		h->timeout_ms = (long)json_integer_value(t);
	json_t *r = json_object_get(options, "deliver_rate");
	if (r && (!json_is_number(r) || json_number_value(r) < 0)) {
		set_err(err, err_size, "option deliver_rate: expected a number >= 0");
		goto fail;
	}
	if (r)
		h->rate = json_number_value(r);
	*state = h;
	return IM_SOURCE_OK;
oom:
	set_err(err, err_size, "out of memory");
fail:
	hook_close(h);
	return IM_SOURCE_ERROR;
}

static int hook_next(void *state, struct im_record *out, char *err, size_t err_size)
{
	return IM_SOURCE_END; /* events arrive through webhook(), there is nothing to read */
}

static char *hook_checkpoint(void *state)
{
	return strdup("webhook");
}

static const char *header(const struct im_webhook_request *req, const char *name)
{
	size_t n = strlen(name);
	for (const char *const *h = req->headers; h && *h; h++)
		if (strncmp(*h, name, n) == 0 && (*h)[n] == ':') {
			const char *v = *h + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	return NULL;
}

static int parse_ts(const char *s, long long *out)
{
	if (!s || !*s || strlen(s) > 18)
		return -1;
	long long v = 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

static json_t *event_record(json_t *ev, char *err, size_t err_size)
{
	if (!json_is_object(ev)) {
		set_err(err, err_size, "an event is not a JSON object");
		return NULL;
	}
	json_t *data = json_object_get(ev, "data");
	json_t *id = json_object_get(ev, "id");
	json_t *stream = json_object_get(ev, "stream");
	if (!json_is_object(data)) {
		set_err(err, err_size, "an event has no \"data\" object");
		return NULL;
	}
	if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
		set_err(err, err_size, "an event's \"id\" is neither a string nor an integer");
		return NULL;
	}
	if (stream && (!json_is_string(stream) || !json_string_length(stream))) {
		set_err(err, err_size, "an event's \"stream\" is not a non-empty string");
		return NULL;
	}
	return json_pack("{s:s, s:O, s:O}", "stream", stream ? json_string_value(stream) : "events", "id",
			 id ? id : json_null(), "data", data);
}

static int hook_webhook(void *state, const struct im_webhook_request *req, json_t **records, char *err,
			size_t err_size)
{
	struct hook *h = state;
	*records = NULL;
	const char *sig = header(req, SIG_HEADER);
	const char *ts = header(req, TS_HEADER);
	long long t;
	if (!sig || !ts) {
		set_err(err, err_size, "missing %s or %s header", SIG_HEADER, TS_HEADER);
		return IM_SOURCE_REJECT;
	}
	if (parse_ts(ts, &t) < 0) {
		set_err(err, err_size, "%s is not Unix seconds", TS_HEADER);
		return IM_SOURCE_REJECT;
	}
	long long skew = t > req->now ? t - req->now : req->now - t;
	if (skew > h->window) {
		set_err(err, err_size, "timestamp %lld s away from our clock (window %ld s): stale or replayed", skew,
			h->window);
		return IM_SOURCE_REJECT;
	}
	if (strncmp(sig, "sha256=", 7) == 0)
		sig += 7;
	char want[65];
	if (sign(h->secret, h->secret_len, ts, req->body, req->body_len, want) < 0) {
		set_err(err, err_size, "HMAC-SHA256 unavailable");
		return IM_SOURCE_ERROR;
	}
	char got[64];
	size_t n = strlen(sig);
	for (size_t i = 0; i < 64; i++)
		got[i] = i < n ? (char)tolower((unsigned char)sig[i]) : 0;
	int diff = CRYPTO_memcmp(got, want, 64) | (n != 64);
	OPENSSL_cleanse(want, sizeof want);
	if (diff) {
		set_err(err, err_size, "signature does not match");
		return IM_SOURCE_REJECT;
	}
	json_t *body = h->host->json_parse(h->host->ctx, req->body, req->body_len, err, err_size);
	if (!body)
		return IM_SOURCE_ERROR;
	json_t *list = json_object_get(body, "events");
	json_t *out = json_array();
	if (!out) {
		json_decref(body);
		set_err(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	int ok = 1;
	if (list) {
		if (!json_is_array(list)) {
			set_err(err, err_size, "\"events\" is not an array");
			ok = 0;
		}
		size_t i;
		json_t *ev;
		json_array_foreach(list, i, ev) {
			json_t *rec = ok ? event_record(ev, err, err_size) : NULL;
			if (!rec) {
				ok = 0;
				break;
			}
			json_array_append_new(out, rec);
		}
	} else {
		json_t *rec = event_record(body, err, err_size);
		if (rec)
			json_array_append_new(out, rec);
		else
			ok = 0;
	}
	json_decref(body);
	if (!ok) {
		json_decref(out);
		return IM_SOURCE_ERROR;
	}
	*records = out;
	return IM_SOURCE_OK;
}

static int transient_status(long status)
{
	return status == 408 || status == 425 || status == 429 || status >= 500;
}

static int hook_deliver(void *state, const json_t *event, char **remote_id, char *err, size_t err_size)
{
	struct hook *h = state;
	*remote_id = NULL;
	if (!h->deliver_url) {
		set_err(err, err_size, "option deliver_url is not set: nowhere to deliver to");
		return IM_SOURCE_ERROR;
	}
	char *body = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS);
	if (!body) {
		set_err(err, err_size, "event cannot be serialised");
		return IM_SOURCE_ERROR;
	}
	size_t len = strlen(body);
	char ts[24], sig[65], evid[65];
	snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
	const char *key = h->deliver_secret ? h->deliver_secret : h->secret;
	size_t key_len = h->deliver_secret ? h->deliver_secret_len : h->secret_len;
	unsigned char md[32];
	unsigned int md_len = 0;
	if (sign(key, key_len, ts, body, len, sig) < 0 ||
	    EVP_Digest(body, len, md, &md_len, EVP_sha256(), NULL) != 1) {
		free(body);
		set_err(err, err_size, "HMAC-SHA256 unavailable");
		return IM_SOURCE_ERROR;
	}
	for (int i = 0; i < 32; i++)
		snprintf(evid + 2 * i, 3, "%02x", md[i]);
	char h_sig[96], h_ts[64], h_id[96];
	snprintf(h_sig, sizeof h_sig, "X-Immigrate-Signature: sha256=%s", sig);
	snprintf(h_ts, sizeof h_ts, "X-Immigrate-Timestamp: %s", ts);
	snprintf(h_id, sizeof h_id, "X-Immigrate-Event-Id: %s", evid);
	const char *headers[] = {"Content-Type: application/json", h_sig, h_ts, h_id, NULL};
	struct im_http_request rq = {
		.size = sizeof rq,
		.method = "POST",
		.url = h->deliver_url,
		.headers = headers,
		.body = body,
		.body_len = len,
		.timeout_ms = h->timeout_ms,
		.rate_key = h->rate > 0 ? "webhook-deliver" : NULL,
		.rate_per_second = h->rate,
		.flags = IM_HTTP_NO_RETRY,
	};
	struct im_http_response resp = {.size = sizeof resp};
	char herr[512] = "";
	int rc = h->host->http(h->host->ctx, &rq, &resp, herr, sizeof herr);
	OPENSSL_cleanse(h_sig, sizeof h_sig);
	free(body);
	if (rc != IM_SOURCE_OK) {
		set_err(err, err_size, "POST to the old system failed: %s", herr);
		return IM_SOURCE_RETRY;
	}
	long status = resp.status;
	if (status >= 200 && status < 300) {
		json_t *j = resp.body_len ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
		json_t *id = json_object_get(j, "id");
		char num[32];
		const char *s = json_string_value(id);
		if (json_is_integer(id)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(id));
			s = num;
		}
		if (s && *s)
			*remote_id = strdup(s);
		json_decref(j);
		h->host->http_free(h->host->ctx, &resp);
		return IM_SOURCE_OK;
	}
	h->host->http_free(h->host->ctx, &resp);
	set_err(err, err_size, "the old system answered HTTP %ld", status);
	return transient_status(status) ? IM_SOURCE_RETRY : IM_SOURCE_ERROR;
}

static const struct im_source webhook_source = {
	.size = sizeof(struct im_source),
	.abi = IMMIGRATE_SOURCE_ABI,
	.name = "webhook",
	.version = WEBHOOK_VERSION,
	.description = "generic signed-JSON webhooks to and from a self-built chat backend (sync only)",
	.streams = hook_streams,
	.capabilities = IM_SOURCE_CAP_WEBHOOK | IM_SOURCE_CAP_DELIVER,
	.open = hook_open,
	.next = hook_next,
	.checkpoint = hook_checkpoint,
	.close = hook_close,
	.webhook = hook_webhook,
	.deliver = hook_deliver,
};

const struct im_source *IMMIGRATE_SOURCE_ENTRY(void)
{
	return &webhook_source;
}
