/* HTTP front of the emulator: REST convention checks (spec §1, §2.3, §9 items 1-4),
 * latency, faults, dispatch and callback delivery. */
#include "config.h"

#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "callback.h"
#include "inspect.h"
#include "log.h"
#include "reply.h"
#include "state.h"
#include "usersig.h"

/* Bodies beyond this are cut off: no API takes anything near it. */
#define MAX_BODY (4u << 20)

struct server {
	struct sim *sim;
	struct MHD_Daemon *daemon;
	char *tls_cert, *tls_key;
};

struct conn {
	char *body;
	size_t len, cap;
	bool too_big;
};

/* What to do with a request once it has been handled. */
struct answer {
	unsigned status;		/* 200, 404 or 502 */
	json_t *body;			/* NULL = empty body */
	enum fault_kind fault;
	json_t *callbacks;		/* delivered before answering; may be NULL */
};

static double monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int append_body(struct conn *c, const char *data, size_t n)
{
	if (c->too_big || c->len + n > MAX_BODY) {
		c->too_big = true;
		return 0;
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 1024;
		while (cap < c->len + n + 1)
			cap *= 2;
		char *b = realloc(c->body, cap);
		if (!b)
			return -1;
		c->body = b;
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, n);
	c->len += n;
	c->body[c->len] = '\0';
	return 0;
}

static const char *query(struct MHD_Connection *mc, const char *name)
{
	return MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, name);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

/* Fails the request before any handler ran; counts the code. */
static void early_fail(struct sim *sim, struct answer *a, enum im_family family, int code, const char *info)
{
	a->body = reply_error(family, code, info);
	pthread_mutex_lock(&sim->lock);
	stats_code(&sim->stats, code);
	pthread_mutex_unlock(&sim->lock);
}

/* Checks the URL (route, query parameters, UserSig). Returns the API, or NULL after
 * filling a failure answer. */
static const struct im_api_info *check_url(struct sim *sim, struct MHD_Connection *mc, const char *method,
					   const char *url, struct answer *a)
{
	char service[64], command[64];
	const struct im_api_info *api = NULL;
	int n = 0;
	if (sscanf(url, "/v4/%63[^/]/%63[^/?]%n", service, command, &n) == 2 && url[n] == '\0')
		api = im_rules_api(service, command);
	if (strcmp(method, "POST")) {
		early_fail(sim, a, IM_FAMILY_LOGIN, 60002, "REST API calls must use POST");
		return NULL;
	}
	if (!api) {
		early_fail(sim, a, IM_FAMILY_LOGIN, 60009, "requested resource does not exist");
		return NULL;
	}
	pthread_mutex_lock(&sim->lock);
	stats_api(&sim->stats, api);
	pthread_mutex_unlock(&sim->lock);

	const char *appid_s = query(mc, "sdkappid"), *identifier = query(mc, "identifier");
	const char *sig = query(mc, "usersig"), *random_s = query(mc, "random"), *ctype = query(mc, "contenttype");
	uint64_t appid, r;
	if (!appid_s || !*appid_s) {
		early_fail(sim, a, api->family, 60012, "sdkappid is missing from the URL");
		return NULL;
	}
	if (!parse_u64(appid_s, UINT32_MAX, &appid)) {
		early_fail(sim, a, api->family, 60006, "sdkappid is not a valid SDKAppID");
		return NULL;
	}
	if (!identifier || !*identifier) {
		early_fail(sim, a, api->family, 60004, "identifier is missing from the URL");
		return NULL;
	}
	if ((ctype && strcmp(ctype, "json")) || (random_s && !parse_u64(random_s, UINT32_MAX, &r))) {
		early_fail(sim, a, api->family, 60002, "contenttype must be json and random a uint32");
		return NULL;
	}
	struct im_usersig_claims claims;
	int code = sig && *sig ? im_usersig_verify(sig, sim->key, sim->key_len, appid, identifier,
						    (int64_t)time(NULL), &claims)
			       : IM_USERSIG_EMPTY;
	if (code) {
		early_fail(sim, a, api->family, code, im_usersig_strerror(code));
		return NULL;
	}
	if (appid != sim->opt.sdkappid) {
		early_fail(sim, a, api->family, 60006, "SDKAppID is not served here");
		return NULL;
	}
	if (strcmp(identifier, sim->opt.admin)) {
		early_fail(sim, a, api->family, 60010, "identifier is not an app admin");
		return NULL;
	}
	return api;
}

/* Alert.RequestOverLimit (spec §1.6, §7.2): the API passed 80 % of its limit. */
static void queue_alert(struct answer *a, const struct im_api_info *api, const struct ratelimit_alert *alert)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:i, s:I}", "CallbackCommand", "Alert.RequestOverLimit", "ServiceName",
				 api->service, "Command", api->command, "Request", (int)alert->observed, "Limit",
				 (json_int_t)(alert->limit + 0.999));
	if (!a->callbacks)
		a->callbacks = json_array();
	json_array_append_new(a->callbacks, json_pack("{s:s, s:s, s:o}", "command", "Alert.RequestOverLimit",
						      "platform", "RESTAPI", "body", body));
}

static void handle_rest(struct sim *sim, struct MHD_Connection *mc, const char *method, const char *url,
			struct conn *c, struct answer *a)
{
	pthread_mutex_lock(&sim->lock);
	sim->stats.requests++;
	pthread_mutex_unlock(&sim->lock);

	const struct im_api_info *api = check_url(sim, mc, method, url, a);
	if (!api)
		return;
	struct ratelimit_alert alert;
	pthread_mutex_lock(&sim->lock);
	bool allowed = ratelimit_take(sim->limits, api, monotonic_now(), &alert);
	if (!allowed)
		sim->stats.rate_limited++;
	pthread_mutex_unlock(&sim->lock);
	if (alert.fire)
		queue_alert(a, api, &alert);
	if (!allowed) {
		early_fail(sim, a, api->family, 60007, "REST API call frequency limit exceeded");
		return;
	}
	if (c->too_big) {
		early_fail(sim, a, api->family, 93000, "request body is too large");
		return;
	}
	if (c->len == 0) {
		early_fail(sim, a, api->family, 60003, "request body is empty");
		return;
	}
	json_error_t jerr;
	json_t *req = json_loadb(c->body, c->len, 0, &jerr);
	if (!req || !json_is_object(req)) {
		char info[200];
		snprintf(info, sizeof info, "request JSON cannot be parsed: %s", req ? "not an object" : jerr.text);
		json_decref(req);
		early_fail(sim, a, api->family, im_rules_bad_json_code(api->family), info);
		return;
	}
	pthread_mutex_lock(&sim->lock);
	a->fault = faults_next(&sim->faults);
	if (a->fault)
		sim->stats.faults[a->fault]++;
	if (a->fault == FAULT_TRANSIENT) {
		int code = im_rules_internal_code(api->family);
		a->body = reply_error(api->family, code, "internal server error, retry later");
		stats_code(&sim->stats, code);
	} else if (a->fault == FAULT_NONE || a->fault == FAULT_LOST) {
		json_t *fired = NULL;
		a->body = api_dispatch(sim, api, NULL, req, sim->opt.admin, "RESTAPI", &fired);
		if (a->callbacks && fired)
			json_array_extend(a->callbacks, fired);
		else if (fired)
			a->callbacks = json_incref(fired);
		json_decref(fired);
		if (!a->body)
			a->status = 502;
	}
	pthread_mutex_unlock(&sim->lock);
	json_decref(req);
}

static enum MHD_Result send_json(struct MHD_Connection *mc, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct MHD_Response *resp;
	if (text)
		resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	if (text)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result r = MHD_queue_response(mc, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* GET /_sim/dump, streamed a page of rows at a time (state_dump_next) so a large state
 * never sits in memory whole; the lock is held per page, not for the transfer. */
struct dump_stream {
	struct sim *sim;
	struct state_dump *cursor;
	char *chunk;
	size_t len, off;
};

static ssize_t dump_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct dump_stream *ds = cls;
	while (ds->off == ds->len) {
		free(ds->chunk);
		ds->chunk = NULL;
		ds->len = ds->off = 0;
		pthread_mutex_lock(&ds->sim->lock);
		int rc = state_dump_next(ds->sim->db, ds->cursor, &ds->chunk, &ds->len);
		pthread_mutex_unlock(&ds->sim->lock);
		if (rc == 1)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = ds->len - ds->off < max ? ds->len - ds->off : max;
	memcpy(buf, ds->chunk + ds->off, n);
	ds->off += n;
	return (ssize_t)n;
}

static void dump_free(void *cls)
{
	struct dump_stream *ds = cls;
	state_dump_close(ds->cursor);
	free(ds->chunk);
	free(ds);
}

static enum MHD_Result send_dump(struct sim *sim, struct MHD_Connection *mc)
{
	struct dump_stream *ds = calloc(1, sizeof *ds);
	if (!ds || !(ds->cursor = state_dump_open())) {
		free(ds);
		return MHD_NO;
	}
	ds->sim = sim;
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, dump_read, ds,
								      dump_free);
	if (!resp) {
		dump_free(ds);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result r = MHD_queue_response(mc, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Holds a hung request until hang_ms passes or the server stops. */
static void hang(struct sim *sim)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += sim->opt.hang_ms / 1000;
	until.tv_nsec += (long)(sim->opt.hang_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sim->lock);
	while (!sim->stopping)
		if (pthread_cond_timedwait(&sim->stop_cond, &sim->lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&sim->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **state)
{
	struct server *srv = cls;
	struct sim *sim = srv->sim;
	struct conn *c = *state;
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c)
			return MHD_NO;
		*state = c;
		return MHD_YES;
	}
	if (*upload_size) {
		if (append_body(c, upload_data, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/_sim/dump") && !strcmp(method, "GET")) {
		if (sim->opt.latency_ms)
			sleep_ms(sim->opt.latency_ms);
		return send_dump(sim, mc);
	}
	struct answer a = {.status = 200};
	if (!strncmp(url, "/_sim/", 6))
		inspect_handle(sim, method, url, c->body, c->len, &a.status, &a.body, &a.callbacks);
	else
		handle_rest(sim, mc, method, url, c, &a);
	if (sim->opt.verbose)
		im_info("%s %s -> %d%s%s", method, url, (int)json_integer_value(json_object_get(a.body, "ErrorCode")),
			a.fault ? " fault " : "", a.fault ? faults_name(a.fault) : "");
	if (a.callbacks && json_array_size(a.callbacks))
		callback_deliver(sim, a.callbacks);
	json_decref(a.callbacks);
	if (sim->opt.latency_ms)
		sleep_ms(sim->opt.latency_ms);
	enum MHD_Result r;
	switch (a.fault) {
	case FAULT_HANG:
		hang(sim);
		r = MHD_NO;
		break;
	case FAULT_DROP:
	case FAULT_LOST:
		r = MHD_NO;	/* MHD closes the connection without answering */
		break;
	case FAULT_502:
		r = send_json(mc, 502, NULL);
		break;
	default:
		r = send_json(mc, a.status, a.body);
		break;
	}
	json_decref(a.body);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **state, enum MHD_RequestTerminationCode tc)
{
	struct conn *c = *state;
	if (c) {
		free(c->body);
		free(c);
		*state = NULL;
	}
}

/* libmicrohttpd's own messages (e.g. the connections faults close on purpose) are
 * debugging detail, not errors of the emulator. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	if (im_log_get_level() >= IM_LOG_DEBUG)
		im_logv(IM_LOG_DEBUG, fmt, ap);
}

static char *slurp(const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *b = realloc(buf, cap *= 2);
			if (!b) {
				free(buf);
				buf = NULL;
			}
			buf = b;
		}
	}
	fclose(f);
	if (!buf)
		snprintf(err, err_size, "%s: out of memory", path);
	else
		buf[len] = '\0';
	return buf;
}

int server_start(struct sim *sim, struct server **out, unsigned *port, char *err, size_t err_size)
{
	struct server *srv = calloc(1, sizeof *srv);
	if (!srv) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	srv->sim = sim;
	struct sockaddr_in sin4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sim->opt.listen_port)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)sim->opt.listen_port)};
	const char *host = sim->opt.listen_host;
	char host6[64];
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	/* "[::1]" is how URLs spell IPv6 hosts; accept it here too. */
	if (host[0] == '[' && strlen(host) < sizeof host6 + 1 && host[strlen(host) - 1] == ']') {
		snprintf(host6, sizeof host6, "%.*s", (int)strlen(host) - 2, host + 1);
		host = host6;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	const struct sockaddr *sa;
	if (inet_pton(AF_INET, host, &sin4.sin_addr) == 1) {
		sa = (const struct sockaddr *)&sin4;
	} else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
		sa = (const struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, err_size, "--listen: '%s' is not an IPv4 or IPv6 address", sim->opt.listen_host);
		free(srv);
		return -1;
	}
	if (sim->opt.tls_cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			snprintf(err, err_size, "this libmicrohttpd was built without TLS support");
			free(srv);
			return -1;
		}
		srv->tls_cert = slurp(sim->opt.tls_cert, err, err_size);
		srv->tls_key = srv->tls_cert ? slurp(sim->opt.tls_key, err, err_size) : NULL;
		if (!srv->tls_key) {
			free(srv->tls_cert);
			free(srv);
			return -1;
		}
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, sa,
				       MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
				       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				       MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				       MHD_OPTION_ARRAY, sim->opt.tls_cert ? tls_opts : tls_opts + 2, MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(err, err_size, "cannot listen on %s:%u (address in use, or a bad TLS certificate/key)",
			 sim->opt.listen_host, sim->opt.listen_port);
		server_stop(srv);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : sim->opt.listen_port;
	*out = srv;
	return 0;
}

void server_stop(struct server *srv)
{
	if (!srv)
		return;
	pthread_mutex_lock(&srv->sim->lock);
	srv->sim->stopping = true;
	pthread_cond_broadcast(&srv->sim->stop_cond);
	pthread_mutex_unlock(&srv->sim->lock);
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	free(srv->tls_cert);
	free(srv->tls_key);
	free(srv);
}
