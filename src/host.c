#include "config.h"

#include "host.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define MAX_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_RETRIES 3
#define MAX_RETRIES_CAP 10
/* Backoff: attempt n waits a uniform random time in [0, min(CAP, BASE * 2^n)]
 * ("full jitter"), so many clients retrying at once spread out. */
#define BACKOFF_BASE_MS 100L
#define BACKOFF_CAP_MS 10000L
/* A server's Retry-After is honoured up to this much. */
#define RETRY_AFTER_CAP_MS 60000L
#define HEADERS_MAX (256u * 1024)

struct bucket {
	struct bucket *next;
	char *key;
	double rate;   /* tokens per second */
	double tokens; /* available now, at most max(1, rate) */
	double last;   /* monotonic seconds of the last refill */
};

struct host_ctx {
	struct im_host table; /* first, so the table and the context share one allocation */
	char *plugin_name;
	char *ca_file;
	int insecure;
	long timeout_ms;
	int max_retries;
	CURL *curl;
	struct bucket *buckets;
	uint64_t rng;
};

struct buffer {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
	int overflow;
};

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

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static uint64_t next_random(struct host_ctx *c)
{
	uint64_t x = c->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ---- log ---- */

static void host_log(void *ctx, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void host_log(void *ctx, int level, const char *fmt, ...)
{
	struct host_ctx *c = ctx;
	if (level < IM_SOURCE_LOG_ERROR)
		level = IM_SOURCE_LOG_ERROR;
	if (level > IM_SOURCE_LOG_DEBUG)
		level = IM_SOURCE_LOG_DEBUG;
	/* The source levels mirror log.h's; check before formatting anything. */
	if ((enum im_log_level)level > im_log_get_level())
		return;
	char msg[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	im_log((enum im_log_level)level, "%s: %s", c->plugin_name, msg);
}

/* ---- json_parse ---- */

static json_t *host_json_parse(void *ctx, const char *text, size_t len, char *err, size_t err_size)
{
	(void)ctx;
	if (!text) {
		set_err(err, err_size, "no JSON text");
		return NULL;
	}
	if (len > IM_HOST_JSON_MAX) {
		set_err(err, err_size, "JSON text of %zu bytes exceeds the %u-byte limit", len, IM_HOST_JSON_MAX);
		return NULL;
	}
	json_error_t jerr;
	json_t *v = json_loadb(text, len, 0, &jerr);
	if (!v)
		set_err(err, err_size, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	return v;
}

/* ---- http ---- */

static size_t buffer_append(struct buffer *b, const char *data, size_t n)
{
	if (b->len + n > b->limit) {
		b->overflow = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		if (!grown)
			return 0;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;
	return buffer_append(ud, data, n) == n ? n : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;
	struct buffer *b = ud;
	/* A 100 Continue or similar interim answer: keep only the final header block. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		b->len = 0;
	return buffer_append(b, data, n) == n ? n : 0;
}

static void buffer_free(struct buffer *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

/* "GET https://host/path" without query or fragment: URLs may carry tokens. */
static void describe_url(const char *method, const char *url, char *out, size_t out_size)
{
	size_t keep = strcspn(url, "?#");
	if (keep > 200)
		keep = 200;
	snprintf(out, out_size, "%s %.*s", method, (int)keep, url);
}

static struct bucket *find_bucket(struct host_ctx *c, const char *key, double rate)
{
	for (struct bucket *b = c->buckets; b; b = b->next)
		if (strcmp(b->key, key) == 0) {
			b->rate = rate;
			return b;
		}
	struct bucket *b = calloc(1, sizeof *b);
	if (!b || !(b->key = strdup(key))) {
		free(b);
		return NULL;
	}
	b->rate = rate;
	b->tokens = rate < 1 ? 1 : rate;
	b->last = now_seconds();
	b->next = c->buckets;
	c->buckets = b;
	return b;
}

/* Blocks until the bucket has a token, then takes it. */
static void take_token(struct bucket *b)
{
	double burst = b->rate < 1 ? 1 : b->rate;
	for (;;) {
		double now = now_seconds();
		b->tokens += (now - b->last) * b->rate;
		b->last = now;
		if (b->tokens > burst)
			b->tokens = burst;
		if (b->tokens >= 1) {
			b->tokens -= 1;
			return;
		}
		sleep_seconds((1 - b->tokens) / b->rate);
	}
}

/* Transport failures worth another attempt; the rest (bad URL, TLS verification,
 * oversized answer) would fail the same way again. */
static int transient_curl_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* Retry-After in seconds (the HTTP-date form is ignored), or -1. */
static long retry_after_ms(const char *headers)
{
	for (const char *p = headers; p && *p;) {
		if (strncasecmp(p, "retry-after:", 12) == 0) {
			char *end;
			long s = strtol(p + 12, &end, 10);
			if (end != p + 12 && s >= 0)
				return s > RETRY_AFTER_CAP_MS / 1000 ? RETRY_AFTER_CAP_MS : s * 1000;
			return -1;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static long backoff_ms(struct host_ctx *c, int attempt)
{
	long cap = BACKOFF_BASE_MS << (attempt < 16 ? attempt : 16);
	if (cap > BACKOFF_CAP_MS || cap <= 0)
		cap = BACKOFF_CAP_MS;
	return (long)(next_random(c) % (uint64_t)(cap + 1));
}

static int setup_request(struct host_ctx *c, const struct im_http_request *req, struct curl_slist *headers,
			 struct buffer *body, struct buffer *head)
{
	CURL *h = c->curl;
	/* Reset keeps the connection cache: keep-alive survives between requests. */
	curl_easy_reset(h);
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : c->timeout_ms;
	int rc = 0;
	rc |= curl_easy_setopt(h, CURLOPT_URL, req->url);
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			       timeout < MAX_CONNECT_TIMEOUT_MS ? timeout : MAX_CONNECT_TIMEOUT_MS);
	rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure == 1 ? 0L : 1L);
	rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure == 1 ? 0L : 2L);
	if (c->ca_file)
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	rc |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	rc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	rc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, head);
	if (headers)
		rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	const char *method = req->method ? req->method : "GET";
	if (strcmp(method, "GET") == 0 && !req->body) {
		rc |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		rc |= curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
		if (strcmp(method, "POST") != 0)
			rc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	return rc;
}

static int host_http(void *ctx, const struct im_http_request *req, struct im_http_response *resp, char *err,
		     size_t err_size)
{
	struct host_ctx *c = ctx;
	if (err && err_size)
		err[0] = '\0';
	if (!req || !resp || req->size < IM_HTTP_REQUEST_SIZE_V1 || resp->size < IM_HTTP_RESPONSE_SIZE_V1 ||
	    !req->url) {
		set_err(err, err_size, "http: malformed request (missing url or size fields)");
		return IM_SOURCE_ERROR;
	}
	resp->status = 0;
	resp->body = NULL;
	resp->body_len = 0;
	resp->headers = NULL;
	const char *method = req->method ? req->method : "GET";
	char what[256];
	describe_url(method, req->url, what, sizeof what);
	uint32_t flags = IM_HAS_MEMBER(req, struct im_http_request, flags) ? req->flags : 0;
	int retries = flags & IM_HTTP_NO_RETRY ? 0 : c->max_retries;

	struct curl_slist *headers = NULL;
	for (const char *const *hl = req->headers; hl && *hl; hl++) {
		struct curl_slist *grown = curl_slist_append(headers, *hl);
		if (!grown) {
			curl_slist_free_all(headers);
			set_err(err, err_size, "%s: out of memory", what);
			return IM_SOURCE_ERROR;
		}
		headers = grown;
	}
	struct bucket *bucket = NULL;
	if (req->rate_key && req->rate_per_second > 0 && !(bucket = find_bucket(c, req->rate_key,
										  req->rate_per_second))) {
		curl_slist_free_all(headers);
		set_err(err, err_size, "%s: out of memory", what);
		return IM_SOURCE_ERROR;
	}

	int result = IM_SOURCE_ERROR;
	for (int attempt = 0;; attempt++) {
		struct buffer body = {.limit = IM_HOST_HTTP_BODY_MAX}, head = {.limit = HEADERS_MAX};
		if (bucket)
			take_token(bucket);
		if (setup_request(c, req, headers, &body, &head) != 0) {
			set_err(err, err_size, "%s: libcurl refused the request options", what);
			buffer_free(&body);
			buffer_free(&head);
			break;
		}
		CURLcode rc = curl_easy_perform(c->curl);
		long status = 0;
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		int last = attempt >= retries;
		if (rc == CURLE_OK && ((status != 429 && status < 500) || last)) {
			/* An answer arrived: hand it over, whatever its status. */
			resp->status = status;
			resp->body = body.data ? body.data : strdup("");
			resp->body_len = body.len;
			resp->headers = head.data ? head.data : strdup("");
			if (!resp->body || !resp->headers) {
				free(resp->body);
				free(resp->headers);
				resp->body = resp->headers = NULL;
				set_err(err, err_size, "%s: out of memory", what);
				break;
			}
			result = IM_SOURCE_OK;
			if (err && err_size)
				err[0] = '\0'; /* earlier attempts' failures are not this answer's */
			break;
		}
		long wait_ms = -1;
		int overflow = body.overflow || head.overflow;
		if (rc == CURLE_OK) {
			wait_ms = retry_after_ms(head.data);
			host_log(c, IM_SOURCE_LOG_DEBUG, "%s: HTTP %ld, attempt %d of %d", what, status, attempt + 1,
				 retries + 1);
		} else if (overflow) {
			set_err(err, err_size, "%s: response over the %u-byte limit", what, IM_HOST_HTTP_BODY_MAX);
		} else {
			set_err(err, err_size, "%s: %s (after %d attempt%s)", what, curl_easy_strerror(rc),
				attempt + 1, attempt ? "s" : "");
		}
		buffer_free(&body);
		buffer_free(&head);
		if (rc != CURLE_OK && (overflow || !transient_curl_error(rc) || last))
			break;
		if (wait_ms < 0)
			wait_ms = backoff_ms(c, attempt);
		sleep_seconds(wait_ms / 1000.0);
	}
	curl_slist_free_all(headers);
	return result;
}

static void host_http_free(void *ctx, struct im_http_response *resp)
{
	(void)ctx;
	if (!resp)
		return;
	free(resp->body);
	free(resp->headers);
	resp->body = NULL;
	resp->headers = NULL;
	resp->body_len = 0;
}

/* ---- lifecycle ---- */

struct im_host *im_host_new(const struct im_host_config *cfg)
{
	struct im_host_config defaults = {0};
	if (!cfg)
		cfg = &defaults;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	struct host_ctx *c = calloc(1, sizeof *c);
	if (!c) {
		curl_global_cleanup();
		return NULL;
	}
	c->plugin_name = strdup(cfg->plugin_name ? cfg->plugin_name : "plugin");
	c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	c->insecure = cfg->insecure == 1;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (cfg->max_retries < 0)
		c->max_retries = 0;
	else if (cfg->max_retries == 0)
		c->max_retries = DEFAULT_RETRIES;
	else
		c->max_retries = cfg->max_retries > MAX_RETRIES_CAP ? MAX_RETRIES_CAP : cfg->max_retries;
	c->curl = curl_easy_init();
	if (getrandom(&c->rng, sizeof c->rng, 0) != (ssize_t)sizeof c->rng)
		c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	c->rng |= 1; /* xorshift must not start at zero */
	if (!c->plugin_name || (cfg->ca_file && !c->ca_file) || !c->curl) {
		im_host_free(&c->table);
		return NULL;
	}
	c->table.size = sizeof c->table;
	c->table.abi = IMMIGRATE_SOURCE_ABI;
	c->table.ctx = c;
	c->table.log = host_log;
	c->table.http = host_http;
	c->table.http_free = host_http_free;
	c->table.json_parse = host_json_parse;
	c->table.flags = cfg->text_records == 1 ? IM_HOST_TEXT_RECORDS : 0;
	return &c->table;
}

void im_host_free(struct im_host *h)
{
	if (!h)
		return;
	struct host_ctx *c = (struct host_ctx *)h;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	for (struct bucket *b = c->buckets, *next; b; b = next) {
		next = b->next;
		free(b->key);
		free(b);
	}
	free(c->plugin_name);
	free(c->ca_file);
	free(c);
	curl_global_cleanup();
}
