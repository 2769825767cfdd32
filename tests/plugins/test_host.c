/* The host table: log prefix, json_parse limits, and http against a tiny
 * libmicrohttpd server on a free port: bodies and headers both ways, retries on
 * 503/429 (and none on 404 or with IM_HTTP_NO_RETRY), transport errors without
 * the query string in the message, the token bucket never exceeded, and TLS
 * verification on unless insecure=1 (a self-signed server made with openssl). */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "tap.h"

static int hits_flaky, hits_always, hits_429, hits_404, hits_rate;

struct upload {
	char body[4096];
	size_t len;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, const char *header,
			     const char *value)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (header)
		MHD_add_response_header(r, header, value);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls, (void)version;
	if (!*con_cls) {
		*con_cls = calloc(1, sizeof(struct upload));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	struct upload *u = *con_cls;
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		if (n > sizeof u->body - 1 - u->len)
			n = sizeof u->body - 1 - u->len;
		memcpy(u->body + u->len, upload_data, n);
		u->len += n;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/echo") == 0) {
		char out[4200];
		const char *test = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
		snprintf(out, sizeof out, "%s:%s:%s", method, test ? test : "-", u->body);
		return reply(c, 200, out, "X-Echo", "yes");
	}
	if (strcmp(url, "/flaky") == 0)
		return __atomic_add_fetch(&hits_flaky, 1, __ATOMIC_SEQ_CST) <= 2 ? reply(c, 503, "busy", NULL, NULL)
										 : reply(c, 200, "ok", NULL, NULL);
	if (strcmp(url, "/always503") == 0) {
		__atomic_add_fetch(&hits_always, 1, __ATOMIC_SEQ_CST);
		return reply(c, 503, "down", NULL, NULL);
	}
	if (strcmp(url, "/429") == 0)
		return __atomic_add_fetch(&hits_429, 1, __ATOMIC_SEQ_CST) == 1 ? reply(c, 429, "slow down", "Retry-After", "0")
									      : reply(c, 200, "ok", NULL, NULL);
	if (strcmp(url, "/rate") == 0) {
		__atomic_add_fetch(&hits_rate, 1, __ATOMIC_SEQ_CST);
		return reply(c, 200, "ok", NULL, NULL);
	}
	__atomic_add_fetch(&hits_404, 1, __ATOMIC_SEQ_CST);
	return reply(c, 404, "no such thing", NULL, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static struct MHD_Daemon *start(unsigned flags, const char *key, const char *cert, unsigned *port)
{
	struct MHD_Daemon *d;
	if (key)
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | flags, 0, NULL, NULL, handler,
				     NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_HTTPS_MEM_KEY, key,
				     MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
	else
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | flags, 0, NULL, NULL, handler, NULL,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (!d)
		return NULL;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	return d;
}

static int get(struct im_host *h, const char *url, const char *rate_key, double rate, uint32_t flags,
	       struct im_http_response *resp, char *err, size_t err_size)
{
	struct im_http_request req = {.size = sizeof req, .method = "GET", .url = url, .rate_key = rate_key,
				      .rate_per_second = rate, .flags = flags};
	memset(resp, 0, sizeof *resp);
	resp->size = sizeof *resp;
	err[0] = '\0';
	return h->http(h->ctx, &req, resp, err, err_size);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_log_and_json(void)
{
	struct im_host_config cfg = {.plugin_name = "testplug"};
	struct im_host *h = im_host_new(&cfg);
	ok(h && h->size == sizeof *h && h->abi == IMMIGRATE_SOURCE_ABI && h->ctx && h->log && h->http &&
		   h->http_free && h->json_parse,
	   "im_host_new fills every member");

	/* Capture stderr to see the log line. */
	char path[] = "/tmp/immigrate-hostlog.XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	h->log(h->ctx, IM_SOURCE_LOG_WARN, "row %d skipped", 42);
	h->log(h->ctx, IM_SOURCE_LOG_DEBUG, "not shown at the default level");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[512] = "";
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	ok(strstr(buf, "testplug: row 42 skipped") != NULL, "log lines carry the plugin name: %s", buf);
	ok(strstr(buf, "not shown") == NULL, "levels below the configured one are dropped");

	char err[256];
	json_t *v = h->json_parse(h->ctx, "{\"a\": [1, 2]}", 13, err, sizeof err);
	ok(json_is_array(json_object_get(v, "a")), "json_parse parses");
	json_decref(v);
	v = h->json_parse(h->ctx, "{\"a\": [1,\n 2", 12, err, sizeof err);
	ok(!v && strstr(err, "line 2 column"), "a syntax error says where: %s", err);
	/* The length is checked before anything is read. */
	v = h->json_parse(h->ctx, "{}", (size_t)IM_HOST_JSON_MAX + 1, err, sizeof err);
	ok(!v && strstr(err, "exceeds"), "text over the size cap is refused: %s", err);
	im_host_free(h);
	im_host_free(NULL);
}

static void test_http(unsigned port)
{
	struct im_host_config cfg = {.plugin_name = "testplug", .timeout_ms = 5000}; /* default: 3 retries */
	struct im_host *h = im_host_new(&cfg);
	struct im_http_response resp;
	char url[256], err[512];

	snprintf(url, sizeof url, "http://127.0.0.1:%u/echo", port);
	const char *headers[] = {"X-Test: hello", NULL};
	struct im_http_request post = {.size = sizeof post, .method = "POST", .url = url, .headers = headers,
				       .body = "payload", .body_len = 7};
	memset(&resp, 0, sizeof resp);
	resp.size = sizeof resp;
	int rc = h->http(h->ctx, &post, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 200, "POST answered: %s", err);
	is_str(resp.body, "POST:hello:payload", "method, header and body reach the server");
	ok(resp.headers && strstr(resp.headers, "X-Echo: yes"), "response headers are returned");
	h->http_free(h->ctx, &resp);
	ok(!resp.body && !resp.headers, "http_free clears the response");

	snprintf(url, sizeof url, "http://127.0.0.1:%u/flaky", port);
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 200 && hits_flaky == 3, "503 twice then 200: retried (%d hits)",
	   hits_flaky);
	h->http_free(h->ctx, &resp);

	snprintf(url, sizeof url, "http://127.0.0.1:%u/always503", port);
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 503 && hits_always == 4,
	   "always 503: the last answer is returned after 1 + 3 retries (%d hits)", hits_always);
	h->http_free(h->ctx, &resp);
	hits_always = 0;
	rc = get(h, url, NULL, 0, IM_HTTP_NO_RETRY, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 503 && hits_always == 1, "IM_HTTP_NO_RETRY: one attempt");
	h->http_free(h->ctx, &resp);

	snprintf(url, sizeof url, "http://127.0.0.1:%u/429", port);
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 200 && hits_429 == 2, "429 with Retry-After is retried");
	h->http_free(h->ctx, &resp);

	struct im_host_config once = {.plugin_name = "testplug", .max_retries = -1};
	struct im_host *h1 = im_host_new(&once);
	hits_always = 0;
	snprintf(url, sizeof url, "http://127.0.0.1:%u/always503", port);
	rc = get(h1, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 503 && hits_always == 1, "max_retries < 0: one attempt");
	h1->http_free(h1->ctx, &resp);
	im_host_free(h1);

	snprintf(url, sizeof url, "http://127.0.0.1:%u/missing", port);
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 404 && hits_404 == 1, "404 is an answer, not retried");
	h->http_free(h->ctx, &resp);

	/* A port nobody listens on: bind, note it, close. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	bind(s, (struct sockaddr *)&a, sizeof a);
	getsockname(s, (struct sockaddr *)&a, &alen);
	close(s);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/x?access_token=SECRET-TOKEN", ntohs(a.sin_port));
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_ERROR && strstr(err, "after 4 attempts"), "connection refused: retried, then an error: %s",
	   err);
	ok(!strstr(err, "SECRET") && strstr(err, "/x"), "the error names the path but not the query string");
	ok(!resp.body && !resp.headers, "no response is left to free after an error");

	/* Token bucket: 10/s holds 10 tokens, so 15 requests need at least 0.5 s. */
	snprintf(url, sizeof url, "http://127.0.0.1:%u/rate", port);
	double t0 = now();
	int all = 1;
	for (int i = 0; i < 15; i++) {
		all &= get(h, url, "vendor-api", 10, 0, &resp, err, sizeof err) == IM_SOURCE_OK && resp.status == 200;
		h->http_free(h->ctx, &resp);
	}
	double elapsed = now() - t0;
	ok(all && hits_rate == 15, "15 rate-limited requests answered");
	ok(elapsed >= 0.45, "the bucket holds 10 req/s with a 10-request burst (15 took %.2f s)", elapsed);
	t0 = now();
	for (int i = 0; i < 5; i++) {
		get(h, url, "other-key", 0, 0, &resp, err, sizeof err);
		h->http_free(h->ctx, &resp);
	}
	diag("5 unlimited requests took %.3f s", now() - t0);

	struct im_http_request bad = {.size = 8, .url = url};
	memset(&resp, 0, sizeof resp);
	resp.size = sizeof resp;
	ok(h->http(h->ctx, &bad, &resp, err, sizeof err) == IM_SOURCE_ERROR, "a request smaller than its layout is refused");
	im_host_free(h);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 16384);
	size_t n = buf ? fread(buf, 1, 16383, f) : 0;
	fclose(f);
	if (buf && !n) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void test_tls(void)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		ok(1, "# SKIP libmicrohttpd built without TLS");
		return;
	}
	char dir[] = "/tmp/immigrate-tls.XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	char cmd[1024], keyp[64], certp[64];
	snprintf(keyp, sizeof keyp, "%s/key.pem", dir);
	snprintf(certp, sizeof certp, "%s/cert.pem", dir);
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 -subj /CN=localhost "
		 "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
		 keyp, certp);
	char *key = NULL, *cert = NULL;
	if (system(cmd) != 0 || !(key = slurp(keyp)) || !(cert = slurp(certp))) {
		ok(1, "# SKIP cannot make a self-signed certificate with openssl");
		goto out;
	}
	unsigned port = 0;
	struct MHD_Daemon *d = start(0, key, cert, &port);
	if (!d || !port) {
		ok(0, "TLS test server starts");
		goto out;
	}
	char url[128], err[512];
	snprintf(url, sizeof url, "https://127.0.0.1:%u/echo", port);
	struct im_http_response resp;

	struct im_host_config cfg = {.plugin_name = "tls", .timeout_ms = 5000};
	struct im_host *h = im_host_new(&cfg);
	int rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_ERROR && (strstr(err, "SSL") || strstr(err, "certificate")),
	   "a self-signed server is refused by default: %s", err);
	h->http_free(h->ctx, &resp);
	im_host_free(h);

	cfg.insecure = 2; /* only exactly 1 turns verification off */
	h = im_host_new(&cfg);
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_ERROR, "insecure=2 still verifies");
	im_host_free(h);

	cfg.insecure = 1;
	h = im_host_new(&cfg);
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 200, "insecure=1 skips verification: %s", err);
	h->http_free(h->ctx, &resp);
	im_host_free(h);

	cfg.insecure = 0;
	cfg.ca_file = certp;
	h = im_host_new(&cfg);
	rc = get(h, url, NULL, 0, 0, &resp, err, sizeof err);
	ok(rc == IM_SOURCE_OK && resp.status == 200, "ca_file trusts the server's certificate: %s", err);
	h->http_free(h->ctx, &resp);
	im_host_free(h);
	MHD_stop_daemon(d);
out:
	free(key);
	free(cert);
	unlink(keyp);
	unlink(certp);
	rmdir(dir);
}

int main(void)
{
	test_log_and_json();
	unsigned port = 0;
	struct MHD_Daemon *d = start(0, NULL, NULL, &port);
	if (!ok(d && port, "test server listens on a free port (%u)", port))
		return done_testing();
	test_http(port);
	MHD_stop_daemon(d);
	test_tls();
	return done_testing();
}
