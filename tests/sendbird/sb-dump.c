/* Test driver for the Sendbird plugin: runs it through its ABI with a minimal host
 * (stderr logging, libcurl HTTP) and prints every record as one JSON line.
 *
 *   sb-dump [--checkpoint TOKEN] [--limit N] [--checkpoint-out FILE] [--estimate] [--count] OPTIONS_JSON
 *
 * Good records:  {"stream":..,"id":..,"origin":..,"data":{..}}
 * Bad records:   {"stream":..,"origin":..,"error":..,"raw":..}
 * --count prints only "good N bad M" (for measurements).
 * --checkpoint-out writes the token after the last printed record. Exit 0, or 1 on
 * a fatal error (message on stderr). */
#include <immigrate/source.h>

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int http_calls;

static void host_log(void *ctx, int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	va_list ap;
	fprintf(stderr, "sendbird: %s: ", level >= 0 && level <= 3 ? names[level] : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct buf {
	char *p;
	size_t n;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;
	char *np = realloc(b->p, b->n + n + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, data, n);
	b->p = np;
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

static int host_http(void *ctx, const struct im_http_request *req, struct im_http_response *resp, char *err,
		     size_t err_size)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf body = {0}, head = {0};
	CURLcode rc;
	size_t i;

	http_calls++;
	if (!c) {
		snprintf(err, err_size, "curl init failed");
		return IM_SOURCE_ERROR;
	}
	for (i = 0; req->headers && req->headers[i]; i++)
		h = curl_slist_append(h, req->headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (req->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : 10000L);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(err, err_size, "%s", curl_easy_strerror(rc));
		curl_easy_cleanup(c);
		free(body.p);
		free(head.p);
		return IM_SOURCE_ERROR;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_cleanup(c);
	resp->body = body.p ? body.p : strdup("");
	resp->body_len = body.n;
	resp->headers = head.p ? head.p : strdup("");
	return IM_SOURCE_OK;
}

static void host_http_free(void *ctx, struct im_http_response *resp)
{
	free(resp->body);
	free(resp->headers);
	resp->body = resp->headers = NULL;
}

static json_t *host_json_parse(void *ctx, const char *text, size_t len, char *err, size_t err_size)
{
	json_error_t e;
	json_t *j = json_loadb(text, len, 0, &e);
	if (!j)
		snprintf(err, err_size, "line %d column %d: %s", e.line, e.column, e.text);
	return j;
}

int main(int argc, char **argv)
{
	struct im_host host = {sizeof(host), IMMIGRATE_SOURCE_ABI, NULL, host_log, host_http, host_http_free,
			       host_json_parse, 0 /* flags: this dump wants data */};
	const struct im_source *src = IMMIGRATE_SOURCE_ENTRY();
	const char *ckpt = NULL, *ckpt_out = NULL, *opts_text = NULL;
	long limit = -1, n = 0;
	int estimate = 0, count_only = 0, i, rc, status = 0;
	long good = 0, bad = 0;
	json_t *opts;
	json_error_t jerr;
	void *state = NULL;
	char err[1024] = "";

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc)
			ckpt = argv[++i];
		else if (strcmp(argv[i], "--checkpoint-out") == 0 && i + 1 < argc)
			ckpt_out = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
			limit = atol(argv[++i]);
		else if (strcmp(argv[i], "--estimate") == 0)
			estimate = 1;
		else if (strcmp(argv[i], "--count") == 0)
			count_only = 1;
		else
			opts_text = argv[i];
	}
	if (!opts_text) {
		fprintf(stderr, "usage: sb-dump [--checkpoint T] [--limit N] [--checkpoint-out F] [--estimate] JSON\n");
		return 2;
	}
	opts = json_loads(opts_text, 0, &jerr);
	if (!opts) {
		fprintf(stderr, "options: %s\n", jerr.text);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = src->open(&host, opts, ckpt, &state, err, sizeof(err));
	json_decref(opts);
	if (rc != IM_SOURCE_OK) {
		fprintf(stderr, "open: %s\n", err);
		curl_global_cleanup();
		return 1;
	}
	if (estimate) {
		json_t *counts = NULL;
		char *s;
		rc = src->estimate(state, &counts, err, sizeof(err));
		if (rc != IM_SOURCE_OK) {
			fprintf(stderr, "estimate: %s\n", err);
			status = 1;
		} else {
			s = json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS);
			printf("%s\n", s);
			free(s);
			json_decref(counts);
		}
	}
	while (!estimate && (limit < 0 || n < limit)) {
		struct im_record rec = {.size = sizeof(rec)};
		json_t *line;
		char *s;
		rc = src->next(state, &rec, err, sizeof(err));
		if (rc == IM_SOURCE_END)
			break;
		if (rc != IM_SOURCE_OK) {
			fprintf(stderr, "next: %s\n", err);
			status = 1;
			break;
		}
		n++;
		if (count_only) {
			if (rec.error)
				bad++;
			else
				good++;
			continue;
		}
		if (rec.error)
			line = json_pack("{s:s, s:s?, s:s, s:s?}", "stream", rec.stream, "origin", rec.origin, "error",
					 rec.error, "raw", rec.raw);
		else
			line = json_pack("{s:s, s:s?, s:s?, s:O}", "stream", rec.stream, "id", rec.source_id, "origin",
					 rec.origin, "data", rec.data);
		s = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(line);
	}
	if (count_only)
		printf("good %ld bad %ld\n", good, bad);
	if (ckpt_out) {
		char *token = src->checkpoint(state);
		FILE *f = fopen(ckpt_out, "w");
		if (!token || !f) {
			fprintf(stderr, "checkpoint: cannot write %s\n", ckpt_out);
			status = 1;
		} else {
			fputs(token, f);
		}
		if (f)
			fclose(f);
		free(token);
	}
	src->close(state);
	curl_global_cleanup();
	fprintf(stderr, "sb-dump: %ld record(s), %d HTTP call(s)\n", n, http_calls);
	return status;
}
