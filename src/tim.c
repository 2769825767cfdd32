/* libcurl multi request layer; see tim.h. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "pace.h"
#include "secret.h"
#include "tim.h"
#include "usersig.h"

/* A response larger than this is cut off (the biggest documented answer is 1 MB). */
#define MAX_BODY (8u << 20)

struct req {
	struct im_tim *t;
	CURL *easy;
	char *url;  /* carries the UserSig: wiped before it is freed */
	char *body; /* request body */
	char *resp;
	size_t resp_len, resp_cap;
	int overflow;
	im_tim_cb cb;
	void *arg;
	double started;
	uint64_t usersig_gen; /* the UserSig its URL carries */
	struct req *next; /* free list, or the active list */
	struct req *prev; /* active list */
};

struct im_tim {
	CURLM *multi;
	struct curl_slist *headers;
	char *endpoint;
	char *admin;
	uint64_t sdkappid;
	const char *key;
	size_t key_len;
	char *ca_file;
	int insecure;
	long timeout_ms, connect_timeout_ms;
	int64_t ttl;
	char *usersig;
	int64_t usersig_time;	/* when it was signed, by this machine's clock */
	uint64_t usersig_gen;	/* 1 for the first, +1 for each renewal */
	int64_t usersig_backdate; /* IMMIGRATE_USERSIG_BACKDATE (tests) */
	size_t in_flight;
	uint64_t calls;
	uint64_t rng;
	struct req *spare;
	struct req *active;
};

static void wipe_free(char *s)
{
	if (s)
		im_secret_free(s, strlen(s));
}

static int sign(struct im_tim *t)
{
	char *sig = NULL;
	int64_t now = (int64_t)time(NULL);
	if (im_usersig_sign(t->key, t->key_len, t->sdkappid, t->admin, now - t->usersig_backdate, t->ttl, &sig) < 0)
		return -1;
	wipe_free(t->usersig);
	t->usersig = sig;
	t->usersig_time = now;
	t->usersig_gen++;
	im_debug("signed a new UserSig for the admin identifier (valid %lld s)", (long long)t->ttl);
	return 0;
}

/* Renew well before expiry, so no request carries a signature that expires in
 * flight: after 90 % of the validity, or an hour before it ends. */
static int ensure_usersig(struct im_tim *t)
{
	int64_t now = (int64_t)time(NULL);
	int64_t margin = t->ttl / 10 < 3600 ? t->ttl / 10 : 3600;
	if (t->usersig && now < t->usersig_time + t->ttl - margin && now >= t->usersig_time)
		return 0;
	return sign(t);
}

static uint32_t next_random(struct im_tim *t)
{
	/* xorshift64*: the URL's random only needs to differ between requests. */
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return (uint32_t)((t->rng * 2685821657736338717ULL) >> 32);
}

/* A test knob: a whole number of seconds in 0..limit from the environment, or -1. */
static int64_t env_seconds(const char *name, int64_t limit)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return -1;
	char *end;
	long long n = strtoll(v, &end, 10);
	if (*end || n < 0 || n > limit) {
		im_warn("%s=%s ignored: expected seconds from 0 to %lld", name, v, (long long)limit);
		return -1;
	}
	return n;
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct im_tim *im_tim_new(const struct im_tim_config *cfg, char *err, size_t err_size)
{
	static int global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, err_size, "libcurl initialisation failed");
			return NULL;
		}
		global_done = 1;
	}
	if (!cfg->endpoint || !*cfg->endpoint || !cfg->admin || !*cfg->admin || !cfg->key || !cfg->key_len) {
		snprintf(err, err_size, "target needs endpoint, admin and a key");
		return NULL;
	}
	struct im_tim *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	size_t el = strlen(cfg->endpoint);
	while (el > 0 && cfg->endpoint[el - 1] == '/')
		el--;
	t->endpoint = strndup(cfg->endpoint, el);
	t->admin = xstrdup(cfg->admin);
	t->ca_file = xstrdup(cfg->ca_file);
	t->sdkappid = cfg->sdkappid;
	t->key = cfg->key;
	t->key_len = cfg->key_len;
	t->insecure = cfg->insecure;
	t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	t->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
	t->ttl = cfg->usersig_ttl > 0 ? cfg->usersig_ttl : 86400;
	int64_t knob = env_seconds("IMMIGRATE_USERSIG_TTL", 365LL * 86400);
	if (knob > 0)
		t->ttl = knob;
	knob = env_seconds("IMMIGRATE_USERSIG_BACKDATE", 365LL * 86400);
	if (knob > 0)
		t->usersig_backdate = knob;
	t->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
	t->multi = curl_multi_init();
	t->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for bodies over 1 KB. */
	t->headers = curl_slist_append(t->headers, "Expect:");
	if (!t->endpoint || !t->admin || (cfg->ca_file && !t->ca_file) || !t->multi || !t->headers) {
		snprintf(err, err_size, "out of memory");
		im_tim_free(t);
		return NULL;
	}
	curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)(cfg->max_connections > 0 ? cfg->max_connections : 64));
	if (sign(t) < 0) {
		snprintf(err, err_size, "cannot sign a UserSig for the admin identifier");
		im_tim_free(t);
		return NULL;
	}
	return t;
}

static void req_release(struct req *r)
{
	struct im_tim *t = r->t;
	wipe_free(r->url);
	r->url = NULL;
	free(r->body);
	r->body = NULL;
	r->resp_len = 0;
	r->overflow = 0;
	/* Keep the easy handle (and its buffers) for the next request. */
	r->next = t->spare;
	t->spare = r;
}

static void unlink_active(struct req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->t->active = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

void im_tim_free(struct im_tim *t)
{
	if (!t)
		return;
	while (t->active) {
		struct req *r = t->active;
		unlink_active(r);
		curl_multi_remove_handle(t->multi, r->easy);
		req_release(r);
	}
	while (t->spare) {
		struct req *r = t->spare;
		t->spare = r->next;
		curl_easy_cleanup(r->easy);
		free(r->resp);
		free(r);
	}
	if (t->multi)
		curl_multi_cleanup(t->multi);
	curl_slist_free_all(t->headers);
	wipe_free(t->usersig);
	free(t->endpoint);
	free(t->admin);
	free(t->ca_file);
	free(t);
}

static size_t on_data(char *ptr, size_t size, size_t n, void *userdata)
{
	struct req *r = userdata;
	size_t len = size * n;
	if (r->resp_len + len + 1 > MAX_BODY) {
		r->overflow = 1;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (r->resp_len + len + 1 > r->resp_cap) {
		size_t cap = r->resp_cap ? r->resp_cap : 1024;
		while (cap < r->resp_len + len + 1)
			cap *= 2;
		char *p = realloc(r->resp, cap);
		if (!p)
			return 0;
		r->resp = p;
		r->resp_cap = cap;
	}
	memcpy(r->resp + r->resp_len, ptr, len);
	r->resp_len += len;
	r->resp[r->resp_len] = '\0';
	return len;
}

int im_tim_submit(struct im_tim *t, const char *service, const char *command, const char *body,
		  size_t body_len, im_tim_cb cb, void *arg)
{
	return im_tim_submit_flags(t, service, command, body, body_len, 0, cb, arg);
}

int im_tim_submit_flags(struct im_tim *t, const char *service, const char *command, const char *body,
			size_t body_len, unsigned flags, im_tim_cb cb, void *arg)
{
	if (ensure_usersig(t) < 0) {
		im_error("cannot sign a new UserSig for %s/%s", service, command);
		return -1;
	}
	struct req *r = t->spare;
	if (r) {
		t->spare = r->next;
		curl_easy_reset(r->easy);
	} else {
		r = calloc(1, sizeof *r);
		if (!r)
			return -1;
		r->easy = curl_easy_init();
		if (!r->easy) {
			free(r);
			return -1;
		}
	}
	r->t = t;
	r->cb = cb;
	r->arg = arg;
	r->usersig_gen = t->usersig_gen;
	r->body = malloc(body_len + 1);
	size_t url_len = strlen(t->endpoint) + strlen(service) + strlen(command) + strlen(t->admin) +
			 strlen(t->usersig) + 128;
	r->url = malloc(url_len);
	if (!r->body || !r->url) {
		req_release(r);
		return -1;
	}
	memcpy(r->body, body, body_len);
	r->body[body_len] = '\0';
	/* The admin identifier is a UserID: printable, no '&' or spaces (spec §3.1);
	 * the UserSig alphabet needs no escaping (spec §1.1). */
	snprintf(r->url, url_len,
		 "%s/v4/%s/%s?sdkappid=%" PRIu64 "&identifier=%s&usersig=%s&random=%" PRIu32 "&contenttype=json",
		 t->endpoint, service, command, t->sdkappid, t->admin, t->usersig, next_random(t));
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->insecure ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->insecure ? 0L : 2L);
	if (t->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
	if (flags & IM_TIM_FRESH_CONNECTION) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}
	r->started = im_pace_now();
	if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
		req_release(r);
		return -1;
	}
	r->prev = NULL;
	r->next = t->active;
	if (t->active)
		t->active->prev = r;
	t->active = r;
	t->in_flight++;
	t->calls++;
	im_debug("sending %s/%s (%zu bytes)", service, command, body_len);
	return 0;
}

/* Calls the callbacks of the requests libcurl has finished. Returns how many. */
static int deliver_finished(struct im_tim *t)
{
	int done = 0;
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(t->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode cc = m->data.result;
		struct req *r = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
		curl_multi_remove_handle(t->multi, e);
		unlink_active(r);
		struct im_tim_reply reply = {0};
		reply.curl_code = (int)cc;
		if (cc == CURLE_WRITE_ERROR && r->overflow)
			reply.curl_code = (int)CURLE_FILESIZE_EXCEEDED;
		if (cc == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &reply.http_status);
		reply.body = r->resp_len ? r->resp : "";
		reply.body_len = r->resp_len;
		reply.seconds = im_pace_now() - r->started;
		reply.usersig_gen = r->usersig_gen;
		t->in_flight--;
		im_tim_cb cb = r->cb;
		void *arg = r->arg;
		/* The callback may submit (the request's slot is free already). */
		cb(arg, &reply);
		req_release(r);
		done++;
	}
	return done;
}

int im_tim_run(struct im_tim *t, int timeout_ms)
{
	int running = 0;
	if (curl_multi_perform(t->multi, &running) != CURLM_OK)
		return -1;
	/* Answers that this step completed (read from sockets that were ready) are
	 * handed over now: polling first would wait for new activity that may never
	 * come, holding them back for the whole timeout. */
	int done = deliver_finished(t);
	if (done > 0 || timeout_ms <= 0)
		return done;
	/* With nothing in flight this just sleeps: the caller waits for a token or a
	 * deferred retry. */
	if (curl_multi_poll(t->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
		return -1;
	if (curl_multi_perform(t->multi, &running) != CURLM_OK)
		return -1;
	return deliver_finished(t);
}

size_t im_tim_in_flight(const struct im_tim *t)
{
	return t->in_flight;
}

int im_tim_renew_usersig(struct im_tim *t)
{
	return sign(t);
}

int im_tim_usersig_rejected(struct im_tim *t, const struct im_tim_reply *reply)
{
	/* The requests in flight all carry the same UserSig and come back refused
	 * one after another: one new signature serves them all. */
	if (reply->usersig_gen != t->usersig_gen)
		return 0;
	return sign(t) < 0 ? -1 : 1;
}

uint64_t im_tim_usersig_gen(const struct im_tim *t)
{
	return t->usersig_gen;
}

uint64_t im_tim_calls(const struct im_tim *t)
{
	return t->calls;
}
