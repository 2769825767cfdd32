/* The webhook plugin's webhook() and option handling, through the real loader
 * and host: signatures (good, forged, stale, missing), body shapes, ids. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "../tap.h"
#include "host.h"
#include "plugin.h"

static const char secret[] = "unit-secret";

static void sign(const char *key, const char *ts, const char *body, char out[72])
{
	unsigned char md[32];
	size_t n = 0;
	char digest[] = "SHA256";
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
	EVP_MAC_init(c, (const unsigned char *)key, strlen(key), p);
	EVP_MAC_update(c, (const unsigned char *)ts, strlen(ts));
	EVP_MAC_update(c, (const unsigned char *)".", 1);
	EVP_MAC_update(c, (const unsigned char *)body, strlen(body));
	EVP_MAC_final(c, md, &n, sizeof md);
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	strcpy(out, "sha256=");
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Calls webhook() with body signed by key at time ts (NULL key: no signature). */
static int call(const struct im_source *src, void *st, const char *key, long long ts, long long now,
		const char *body, json_t **records, char *err, size_t err_size)
{
	char tsbuf[32], sig[72], h1[128], h2[128];
	snprintf(tsbuf, sizeof tsbuf, "%lld", ts);
	const char *headers[4] = {"content-type: application/json", NULL, NULL, NULL};
	if (key) {
		sign(key, tsbuf, body, sig);
		snprintf(h1, sizeof h1, "x-immigrate-signature: %s", sig);
		snprintf(h2, sizeof h2, "x-immigrate-timestamp: %s", tsbuf);
		headers[1] = h1;
		headers[2] = h2;
	}
	struct im_webhook_request rq = {sizeof rq, "POST", "/source/webhook", "", headers, body, strlen(body), now};
	*records = NULL;
	return src->webhook(st, &rq, records, err, err_size);
}

int main(int argc, char **argv)
{
	char err[512] = "";
	const char *dir = getenv("WEBHOOK_PLUGIN_DIR");
	struct im_plugin *pl = im_plugin_load("webhook", dir, err, sizeof err);
	if (!pl)
		skip_all("webhook plugin not built");
	const struct im_source *src = im_plugin_source(pl);
	struct im_host *host = im_host_new(NULL);
	plan(24);

	void *st = NULL;
	json_t *opts = json_pack("{s:s, s:i}", "secret", secret, "window", 60);
	is_int(src->open(host, opts, NULL, &st, err, sizeof err), IM_SOURCE_OK, "opens with a secret");
	ok(src->capabilities == (IM_SOURCE_CAP_WEBHOOK | IM_SOURCE_CAP_DELIVER), "declares webhook and deliver");

	long long now = (long long)time(NULL);
	json_t *rec = NULL;
	const char *one = "{\"id\":\"e1\",\"stream\":\"messages\",\"data\":{\"text\":\"hi\"}}";
	is_int(call(src, st, secret, now, now, one, &rec, err, sizeof err), IM_SOURCE_OK, "a signed event is accepted");
	is_int(json_array_size(rec), 1, "one record");
	is_str(json_string_value(json_object_get(json_array_get(rec, 0), "stream")), "messages", "its stream");
	is_str(json_string_value(json_object_get(json_array_get(rec, 0), "id")), "e1", "its id");
	is_str(json_string_value(json_object_get(json_object_get(json_array_get(rec, 0), "data"), "text")), "hi",
	       "its data");
	json_decref(rec);

	const char *many = "{\"events\":[{\"id\":7,\"data\":{}},{\"data\":{\"a\":1}}]}";
	is_int(call(src, st, secret, now - 59, now, many, &rec, err, sizeof err), IM_SOURCE_OK,
	       "an events array signed 59 s ago is accepted");
	is_int(json_array_size(rec), 2, "two records");
	ok(json_integer_value(json_object_get(json_array_get(rec, 0), "id")) == 7, "an integer id is kept");
	ok(json_is_null(json_object_get(json_array_get(rec, 1), "id")), "a missing id is null (no dedupe)");
	is_str(json_string_value(json_object_get(json_array_get(rec, 1), "stream")), "events", "default stream");
	json_decref(rec);

	is_int(call(src, st, "another-secret", now, now, one, &rec, err, sizeof err), IM_SOURCE_REJECT,
	       "a forged signature is rejected");
	ok(rec == NULL, "with no records");
	ok(strstr(err, secret) == NULL, "the reason does not carry the secret (%s)", err);
	is_int(call(src, st, secret, now - 61, now, one, &rec, err, sizeof err), IM_SOURCE_REJECT,
	       "61 s old: rejected as stale");
	is_int(call(src, st, secret, now + 61, now, one, &rec, err, sizeof err), IM_SOURCE_REJECT,
	       "61 s in the future: rejected");
	is_int(call(src, st, NULL, now, now, one, &rec, err, sizeof err), IM_SOURCE_REJECT, "unsigned: rejected");
	is_int(call(src, st, secret, now, now, "{\"id\":1}", &rec, err, sizeof err), IM_SOURCE_ERROR,
	       "a signed event without data is an error, not a rejection");
	is_int(call(src, st, secret, now, now, "not json", &rec, err, sizeof err), IM_SOURCE_ERROR,
	       "signed garbage is an error");

	char *remote = NULL;
	json_t *ev = json_pack("{s:s}", "kind", "message");
	is_int(src->deliver(st, ev, &remote, err, sizeof err), IM_SOURCE_ERROR, "deliver without deliver_url fails");
	ok(strstr(err, "deliver_url") != NULL, "and says why: %s", err);
	json_decref(ev);
	src->close(st);
	json_decref(opts);

	opts = json_pack("{s:s, s:s}", "secret", secret, "secret_file", "/nonexistent");
	st = NULL;
	is_int(src->open(host, opts, NULL, &st, err, sizeof err), IM_SOURCE_ERROR, "secret and secret_file together are refused");
	json_decref(opts);
	src->close(st);
	opts = json_pack("{s:s, s:s}", "secret", secret, "deliver_url", "ftp://x/");
	st = NULL;
	is_int(src->open(host, opts, NULL, &st, err, sizeof err), IM_SOURCE_ERROR, "a non-HTTP deliver_url is refused");
	json_decref(opts);
	src->close(st);

	im_host_free(host);
	im_plugin_unload(pl);
	return done_testing();
}
