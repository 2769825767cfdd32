/* The sync daemon's HTTP front: routing, authentication, suspended connections
 * answered after the outbox's group commit. See sync_http.h. */
#include "config.h"

#include "sync_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "callback_sign.h"
#include "log.h"

struct im_sync_http {
	struct im_sync_http_params p;
	struct MHD_Daemon *d;
	int port;
	char *tls_cert_pem, *tls_key_pem;
	pthread_mutex_t webhook_lock; /* webhook() state is single-threaded */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned waiting;   /* requests not yet answered after reaching the outbox */
	unsigned tickets;   /* outbox tickets still pointing at a request */
	struct req *pend;   /* requests suspended until their commit, oldest first */
	struct req **pend_tail;
	/* The watchdog answers requests whose commit outlasts the deadline. */
	pthread_t watchdog;
	pthread_cond_t wd_wake;
	int wd_started, stopping;
};

enum route { R_NONE, R_CALLBACK, R_SOURCE, R_HEALTH, R_METRICS };
enum req_state { S_READING, S_WAITING, S_STORED };

struct req {
	struct im_sync_http *h;
	struct MHD_Connection *conn;
	enum route route;
	char *body;
	size_t len, cap;
	int too_big;
	enum req_state state;
	int result;
	int counted; /* included in h->waiting */
	int refs;    /* libmicrohttpd's, plus the outbox ticket's while it lives */
	int resumed; /* its answer is decided (commit done or deadline passed) */
	struct req *pnext, **pprev; /* in h->pend while suspended */
	size_t n_events;
	struct timespec t0;
};

/* The result of a request whose commit outlasted sync.ack_deadline_ms. */
#define ACK_LATE (-2)

static const char ok_callback[] = "{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0}";

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type, const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A callback-shaped error body; reason must not carry secrets. */
static enum MHD_Result answer_error(struct MHD_Connection *c, unsigned status, const char *reason)
{
	json_t *j = json_pack("{s:s, s:i, s:s}", "ActionStatus", "FAIL", "ErrorCode", (int)status, "ErrorInfo",
			      reason);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	enum MHD_Result ret = answer(c, status, "application/json", s ? s : "{\"ActionStatus\":\"FAIL\"}");
	free(s);
	json_decref(j);
	return ret;
}

static int dir_of(enum route r)
{
	return r == R_CALLBACK ? IM_SYNC_NEW_TO_OLD : IM_SYNC_OLD_TO_NEW;
}

/* Under h->lock. */
static void pend_remove(struct im_sync_http *h, struct req *r)
{
	if (!r->pprev)
		return;
	*r->pprev = r->pnext;
	if (r->pnext)
		r->pnext->pprev = r->pprev;
	else
		h->pend_tail = r->pprev;
	r->pnext = NULL;
	r->pprev = NULL;
}

/* Under h->lock. */
static void req_unref(struct req *r)
{
	if (--r->refs == 0) {
		free(r->body);
		free(r);
	}
}

/* Committer thread: the ticket's transaction ended. */
static void stored_cb(void *arg, int result, int64_t first_id)
{
	struct req *r = arg;
	struct im_sync_http *h = r->h;
	pthread_mutex_lock(&h->lock);
	int resume = !r->resumed;
	if (resume) {
		r->resumed = 1;
		r->result = result;
		r->state = S_STORED;
		pend_remove(h, r);
	}
	pthread_mutex_unlock(&h->lock);
	/* Outside our lock: libmicrohttpd takes its own. The ticket's reference
	 * keeps r alive even if the answer is sent and the connection closed
	 * before we get to drop it below. */
	if (resume)
		MHD_resume_connection(r->conn);
	pthread_mutex_lock(&h->lock);
	req_unref(r);
	if (--h->tickets == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->lock);
}

static int submit(struct req *r, const struct im_outbox_event *ev, size_t n)
{
	struct im_sync_http *h = r->h;
	r->state = S_WAITING;
	r->n_events = n;
	MHD_suspend_connection(r->conn);
	pthread_mutex_lock(&h->lock);
	h->waiting++;
	r->counted = 1;
	h->tickets++;
	r->refs++;
	r->resumed = 0;
	r->pnext = NULL;
	r->pprev = h->pend_tail;
	*h->pend_tail = r;
	h->pend_tail = &r->pnext;
	pthread_mutex_unlock(&h->lock);
	if (im_outbox_submit(h->p.outbox, ev, n, stored_cb, r) < 0) {
		pthread_mutex_lock(&h->lock);
		pend_remove(h, r);
		r->resumed = 1;
		r->refs--;
		if (--h->tickets == 0)
			pthread_cond_broadcast(&h->idle);
		pthread_mutex_unlock(&h->lock);
		r->state = S_STORED;
		r->result = IM_OUTBOX_FAILED;
		MHD_resume_connection(r->conn);
	}
	return 0;
}

/* Answers requests whose commit has taken longer than sync.ack_deadline_ms
 * (a stalled disk): Tencent gives up after 2 s, so it gets a prompt 503 rather
 * than silence. The commit still completes later and the event is delivered;
 * a retry of it is then recognised as a duplicate. */
static void *watchdog(void *arg)
{
	struct im_sync_http *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->wd_wake, &h->lock, &until);
		struct req *late[64];
		size_t n = 0;
		double deadline = (double)h->p.cfg->ack_deadline_ms / 1000.0;
		while (h->pend && n < 64 && since(&h->pend->t0) > deadline) {
			struct req *r = h->pend;
			pend_remove(h, r);
			r->resumed = 1;
			r->result = ACK_LATE;
			r->state = S_STORED;
			late[n++] = r;
		}
		/* Still suspended, so libmicrohttpd's reference keeps each alive. */
		pthread_mutex_unlock(&h->lock);
		for (size_t i = 0; i < n; i++)
			MHD_resume_connection(late[i]->conn);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* The request no longer holds up a drain. */
static void uncount(struct req *r)
{
	struct im_sync_http *h = r->h;
	pthread_mutex_lock(&h->lock);
	if (r->counted) {
		r->counted = 0;
		if (--h->waiting == 0)
			pthread_cond_broadcast(&h->idle);
	}
	pthread_mutex_unlock(&h->lock);
}

/* The answer once the outbox has spoken. */
static enum MHD_Result finish_stored(struct req *r)
{
	struct im_sync_http *h = r->h;
	int d = dir_of(r->route);
	enum MHD_Result ret;
	uncount(r);
	if (r->result == IM_OUTBOX_FAILED || r->result == ACK_LATE) {
		im_sync_count(&h->p.metrics->store_failed[d], 1);
		if (r->result == ACK_LATE)
			im_warn("sync: storing an event took over %ld ms (sync.ack_deadline_ms): answered 503; "
				"it will still be stored and delivered",
				h->p.cfg->ack_deadline_ms);
		return answer_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				    r->result == ACK_LATE ? "storage is slow; retry" : "could not store the event; retry");
	}
	if (r->result == IM_OUTBOX_DUPLICATE)
		im_sync_count(&h->p.metrics->duplicates[d], 1);
	else
		im_sync_count(&h->p.metrics->stored[d], 1);
	if (r->route == R_CALLBACK)
		ret = answer(r->conn, MHD_HTTP_OK, "application/json", ok_callback);
	else
		ret = answer(r->conn, MHD_HTTP_OK, "application/json",
			     r->result == IM_OUTBOX_DUPLICATE ? "{\"ok\":true,\"duplicate\":true}" : "{\"ok\":true}");
	im_sync_metrics_ack(h->p.metrics, since(&r->t0));
	return ret;
}

void im_sync_callback_conv(const json_t *b, char *out, size_t size)
{
	const char *g = json_string_value(json_object_get(b, "GroupId"));
	const char *f = json_string_value(json_object_get(b, "From_Account"));
	const char *t = json_string_value(json_object_get(b, "To_Account"));
	if (g) {
		snprintf(out, size, "g:%s", g);
	} else if (f && t) {
		int lt = strcmp(f, t) < 0;
		snprintf(out, size, "c:%s|%s", lt ? f : t, lt ? t : f);
	} else {
		json_t *pair = json_array_get(json_object_get(b, "PairList"), 0);
		const char *pf = json_string_value(json_object_get(pair, "From_Account"));
		snprintf(out, size, "u:%s", pf ? pf : "");
	}
}

int im_sync_callback_supported(const char *command)
{
	static const char *const cmds[] = {
		"C2C.CallbackAfterSendMsg",	     "Group.CallbackAfterSendMsg",
		"Group.CallbackAfterCreateGroup",    "Group.CallbackAfterGroupInfoChanged",
		"Group.CallbackAfterNewMemberJoin",  "Group.CallbackAfterMemberExit",
		"Group.CallbackAfterGroupDestroyed", "Sns.CallbackFriendAdd",
		"Sns.CallbackFriendDelete",	     "Sns.CallbackBlackListAdd",
		"Sns.CallbackBlackListDelete",	     NULL,
	};
	if (!command)
		return 0;
	for (int i = 0; cmds[i]; i++)
		if (strcmp(cmds[i], command) == 0)
			return 1;
	return 0;
}

int im_sync_callback_is_echo(const char *opt_platform, const json_t *body, const char *admin)
{
	if (!opt_platform || strcasecmp(opt_platform, "RESTAPI") != 0 || !admin)
		return 0;
	const char *op = json_string_value(json_object_get(body, "Operator_Account"));
	const char *ad = json_string_value(json_object_get(body, "Admin_Account"));
	return (op && strcmp(op, admin) == 0) || (ad && strcmp(ad, admin) == 0);
}

int im_sync_callback_event_id(const char *command, const char *body, size_t len, char *out, size_t out_size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	if (EVP_Digest(body, len, md, &md_len, EVP_sha256(), NULL) != 1)
		return -1;
	char hex[41];
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	int n = snprintf(out, out_size, "%s:%s", command, hex);
	return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

static enum MHD_Result handle_callback(struct req *r)
{
	struct im_sync_http *h = r->h;
	struct MHD_Connection *c = r->conn;
	const int d = IM_SYNC_NEW_TO_OLD;
	char why[256];

	if (!h->p.cfg->new_to_old) {
		im_sync_count(&h->p.metrics->ignored[d], 1);
		return answer(c, MHD_HTTP_OK, "application/json", ok_callback);
	}
	const char *appid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "SdkAppid");
	const char *sign = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "Sign");
	const char *rtime = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "RequestTime");
	enum im_callback_auth a =
		im_callback_verify(h->p.cfg->callback_token, h->p.cfg->callback_token_len, h->p.sdkappid, appid,
				   sign, rtime, (int64_t)time(NULL), h->p.cfg->callback_window, why, sizeof why);
	if (a != IM_CALLBACK_OK) {
		im_sync_count(&h->p.metrics->rejected[d], 1);
		im_warn("sync: callback refused: %s", why);
		return answer_error(c, MHD_HTTP_UNAUTHORIZED, im_callback_auth_name(a));
	}
	json_error_t jerr;
	json_t *body = r->body ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		im_sync_count(&h->p.metrics->invalid[d], 1);
		return answer_error(c, MHD_HTTP_BAD_REQUEST, "callback body is not a JSON object");
	}
	const char *cmd = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "CallbackCommand");
	if (!cmd)
		cmd = json_string_value(json_object_get(body, "CallbackCommand"));
	const char *plat = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "OptPlatform");
	if (!im_sync_callback_supported(cmd) || im_sync_callback_is_echo(plat, body, h->p.admin)) {
		json_decref(body);
		im_sync_count(&h->p.metrics->ignored[d], 1);
		return answer(c, MHD_HTTP_OK, "application/json", ok_callback);
	}
	char id[256];
	if (im_sync_callback_event_id(cmd, r->body, r->len, id, sizeof id) < 0) {
		json_decref(body);
		return answer_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot hash the callback");
	}
	char conv[200];
	im_sync_callback_conv(body, conv, sizeof conv);
	struct im_outbox_event ev = {"im", id, cmd, r->body, r->len, plat, conv, im_outbox_shard(conv)};
	json_decref(body);
	submit(r, &ev, 1);
	return MHD_YES;
}

struct kv_buf {
	char **lines;
	size_t n, cap;
	int oom;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct kv_buf *b = cls;
	if (b->n + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		char **l = realloc(b->lines, cap * sizeof *l);
		if (!l) {
			b->oom = 1;
			return MHD_NO;
		}
		b->lines = l;
		b->cap = cap;
	}
	size_t n = strlen(key) + strlen(value ? value : "") + 3;
	char *s = malloc(n);
	if (!s) {
		b->oom = 1;
		return MHD_NO;
	}
	snprintf(s, n, "%s: %s", key, value ? value : "");
	for (char *p = s; *p && *p != ':'; p++)
		*p = (char)tolower((unsigned char)*p);
	b->lines[b->n++] = s;
	b->lines[b->n] = NULL;
	return MHD_YES;
}

/* Query arguments come decoded from libmicrohttpd: re-encode them into a raw
 * query string for the plugin. */
struct query_buf {
	char *s;
	size_t len, cap;
	int oom;
};

static void qb_put(struct query_buf *q, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; s && *s && !q->oom; s++) {
		if (q->len + 4 >= q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 128;
			char *n = realloc(q->s, cap);
			if (!n) {
				q->oom = 1;
				return;
			}
			q->s = n;
			q->cap = cap;
		}
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || strchr("-._~", ch)) {
			q->s[q->len++] = (char)ch;
		} else {
			q->s[q->len++] = '%';
			q->s[q->len++] = hex[ch >> 4];
			q->s[q->len++] = hex[ch & 15];
		}
		q->s[q->len] = '\0';
	}
}

static void qb_char(struct query_buf *q, char ch)
{
	if (q->oom)
		return;
	if (q->len + 2 >= q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 128;
		char *n = realloc(q->s, cap);
		if (!n) {
			q->oom = 1;
			return;
		}
		q->s = n;
		q->cap = cap;
	}
	q->s[q->len++] = ch;
	q->s[q->len] = '\0';
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_buf *q = cls;
	if (q->len)
		qb_char(q, '&');
	qb_put(q, key);
	if (value) {
		qb_char(q, '=');
		qb_put(q, value);
	}
	return q->oom ? MHD_NO : MHD_YES;
}

static char *id_text(const json_t *id)
{
	char buf[32];
	if (json_is_string(id))
		return strdup(json_string_value(id));
	if (json_is_integer(id)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(id));
		return strdup(buf);
	}
	return NULL;
}

static enum MHD_Result handle_source(struct req *r, const char *url)
{
	struct im_sync_http *h = r->h;
	struct MHD_Connection *c = r->conn;
	const int d = IM_SYNC_OLD_TO_NEW;
	if (!h->p.plugin_name || !h->p.src || !h->p.src->webhook || !h->p.cfg->old_to_new ||
	    strcmp(url + strlen("/source/"), h->p.plugin_name) != 0)
		return answer_error(c, MHD_HTTP_NOT_FOUND, "no such webhook source");

	struct kv_buf hb = {0};
	struct query_buf qb = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hb);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &qb);
	static const char *const no_headers[] = {NULL};
	struct im_webhook_request wr = {
		.size = sizeof wr,
		.method = "POST",
		.path = url,
		.query = qb.s ? qb.s : "",
		.headers = hb.lines ? (const char *const *)hb.lines : no_headers,
		.body = r->body ? r->body : "",
		.body_len = r->len,
		.now = (int64_t)time(NULL),
	};
	json_t *records = NULL;
	char err[512] = "";
	int rc = IM_SOURCE_ERROR;
	if (!hb.oom && !qb.oom) {
		pthread_mutex_lock(&h->webhook_lock);
		rc = h->p.src->webhook(h->p.webhook_state, &wr, &records, err, sizeof err);
		pthread_mutex_unlock(&h->webhook_lock);
	} else {
		snprintf(err, sizeof err, "out of memory");
	}
	for (size_t i = 0; i < hb.n; i++)
		free(hb.lines[i]);
	free(hb.lines);
	free(qb.s);
	if (rc == IM_SOURCE_REJECT) {
		json_decref(records);
		im_sync_count(&h->p.metrics->rejected[d], 1);
		im_warn("sync: %s webhook refused: %s", h->p.plugin_name, err);
		return answer_error(c, MHD_HTTP_UNAUTHORIZED, "webhook authentication failed");
	}
	if (rc != IM_SOURCE_OK || !json_is_array(records)) {
		json_decref(records);
		im_sync_count(&h->p.metrics->invalid[d], 1);
		im_warn("sync: %s webhook unreadable: %s", h->p.plugin_name, err[0] ? err : "no records array");
		return answer_error(c, MHD_HTTP_BAD_REQUEST, err[0] ? err : "unreadable webhook");
	}
	size_t n = json_array_size(records);
	if (n == 0) {
		json_decref(records);
		im_sync_count(&h->p.metrics->ignored[d], 1);
		return answer(c, MHD_HTTP_OK, "application/json", "{\"ok\":true,\"stored\":0}");
	}
	struct im_outbox_event *ev = calloc(n, sizeof *ev);
	char **ids = calloc(n, sizeof *ids), **bodies = calloc(n, sizeof *bodies);
	char origin[160];
	snprintf(origin, sizeof origin, "source:%s", h->p.plugin_name);
	int bad = !ev || !ids || !bodies;
	for (size_t i = 0; !bad && i < n; i++) {
		json_t *rec = json_array_get(records, i);
		const char *stream = json_string_value(json_object_get(rec, "stream"));
		json_t *data = json_object_get(rec, "data");
		if (!stream || !data) {
			bad = 1;
			snprintf(err, sizeof err, "plugin returned a record without stream or data");
			break;
		}
		ids[i] = id_text(json_object_get(rec, "id"));
		bodies[i] = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!bodies[i]) {
			bad = 1;
			break;
		}
		ev[i] = (struct im_outbox_event){origin, ids[i], stream, bodies[i], strlen(bodies[i]), NULL, NULL, 0};
	}
	enum MHD_Result ret = MHD_YES;
	if (bad) {
		im_sync_count(&h->p.metrics->invalid[d], 1);
		ret = answer_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err[0] ? err : "out of memory");
	} else {
		submit(r, ev, n); /* the outbox copies the events */
	}
	for (size_t i = 0; i < n; i++) {
		if (ids)
			free(ids[i]);
		if (bodies)
			free(bodies[i]);
	}
	free(ids);
	free(bodies);
	free(ev);
	json_decref(records);
	return ret;
}

static enum MHD_Result handle_metrics(struct req *r)
{
	struct im_sync_http *h = r->h;
	struct im_outbox_stats st;
	im_outbox_stats(h->p.outbox, &st);
	int64_t pending[IM_SYNC_NDIR] = {im_outbox_count(h->p.outbox, "source:", IM_OUTBOX_PENDING),
					 im_outbox_count(h->p.outbox, "im", IM_OUTBOX_PENDING)};
	char *text = im_sync_metrics_render(h->p.metrics, st.queue_depth, pending, st.commits);
	if (!text)
		return answer_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	enum MHD_Result ret = answer(r->conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text);
	free(text);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload_data, size_t *upload_data_size,
			       void **con_cls)
{
	struct im_sync_http *h = cls;
	struct req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		r->refs = 1;
		r->h = h;
		r->conn = c;
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
		int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
		if (post && strcmp(url, "/im/callback") == 0)
			r->route = R_CALLBACK;
		else if (post && strncmp(url, "/source/", 8) == 0)
			r->route = R_SOURCE;
		else if (get && strcmp(url, "/healthz") == 0)
			r->route = R_HEALTH;
		else if (get && strcmp(url, "/metrics") == 0)
			r->route = R_METRICS;
		*con_cls = r;
		if (r->route == R_CALLBACK || r->route == R_SOURCE)
			im_sync_count(&h->p.metrics->received[dir_of(r->route)], 1);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_big && r->len + *upload_data_size <= h->p.cfg->max_body &&
		    (r->route == R_CALLBACK || r->route == R_SOURCE)) {
			if (r->len + *upload_data_size + 1 > r->cap) {
				size_t cap = (r->len + *upload_data_size + 1) * 2;
				if (cap > h->p.cfg->max_body + 1)
					cap = h->p.cfg->max_body + 1;
				char *b = realloc(r->body, cap);
				if (!b)
					return MHD_NO;
				r->body = b;
				r->cap = cap;
			}
			memcpy(r->body + r->len, upload_data, *upload_data_size);
			r->len += *upload_data_size;
			r->body[r->len] = '\0';
		} else {
			r->too_big = 1;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->state == S_STORED)
		return finish_stored(r);
	if (r->state == S_WAITING)
		return MHD_YES; /* not expected: resumed only after the commit */
	switch (r->route) {
	case R_HEALTH:
		return answer(c, MHD_HTTP_OK, "text/plain", "ok\n");
	case R_METRICS:
		return handle_metrics(r);
	case R_NONE:
		return answer_error(c, MHD_HTTP_NOT_FOUND, "not found");
	default:
		break;
	}
	if (r->too_big) {
		im_sync_count(&h->p.metrics->invalid[dir_of(r->route)], 1);
		return answer_error(c, 413, "request body too large");
	}
	return r->route == R_CALLBACK ? handle_callback(r) : handle_source(r, url);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	if (!r)
		return;
	uncount(r); /* a client that hung up while its request was being stored */
	struct im_sync_http *h = r->h;
	pthread_mutex_lock(&h->lock);
	req_unref(r);
	pthread_mutex_unlock(&h->lock);
	*con_cls = NULL;
}

static char *slurp(const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_size, "%s: cannot open", path);
		return NULL;
	}
	size_t cap = 8192, len = 0;
	char *s = malloc(cap);
	size_t n;
	while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *t = cap < (1u << 20) ? realloc(s, cap * 2) : NULL;
			if (!t) {
				free(s);
				s = NULL;
				break;
			}
			s = t;
			cap *= 2;
		}
	}
	fclose(f);
	if (!s) {
		snprintf(err, err_size, "%s: too large or out of memory", path);
		return NULL;
	}
	s[len] = '\0';
	return s;
}

int im_sync_http_start(const struct im_sync_http_params *p, struct im_sync_http **out, char *err,
		       size_t err_size)
{
	*out = NULL;
	struct im_sync_http *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	h->p = *p;
	pthread_mutex_init(&h->webhook_lock, NULL);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->idle, NULL);
	pthread_cond_init(&h->wd_wake, NULL);
	h->pend_tail = &h->pend;

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
	if (inet_pton(AF_INET, p->cfg->listen_host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p->cfg->port);
	} else if (inet_pton(AF_INET6, p->cfg->listen_host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p->cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, err_size, "sync.listen: '%s' is not a numeric IPv4 or IPv6 address",
			 p->cfg->listen_host);
		goto fail;
	}
	if (p->cfg->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, err_size, "sync.tls_cert: this libmicrohttpd was built without TLS");
			goto fail;
		}
		if (!(h->tls_cert_pem = slurp(p->cfg->tls_cert, err, err_size)) ||
		    !(h->tls_key_pem = slurp(p->cfg->tls_key, err, err_size)))
			goto fail;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_SOCK_ADDR, 0, &ss},
		{MHD_OPTION_CONNECTION_LIMIT, (intptr_t)p->cfg->max_connections, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)p->cfg->connection_timeout, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL},
		{MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
		{h->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert_pem},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key_pem},
		{MHD_OPTION_END, 0, NULL},
	};
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, err_size, "sync.listen: cannot listen on %s:%d (address in use, or bad TLS files?)",
			 p->cfg->listen_host, p->cfg->port);
		goto fail;
	}
	if (pthread_create(&h->watchdog, NULL, watchdog, h) != 0) {
		snprintf(err, err_size, "cannot start the acknowledgement watchdog");
		goto fail;
	}
	h->wd_started = 1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : p->cfg->port;
	if (p->cfg->port_file) {
		char tmp[4200];
		snprintf(tmp, sizeof tmp, "%s.tmp", p->cfg->port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", h->port) < 0 || fclose(f) != 0 || rename(tmp, p->cfg->port_file) != 0) {
			snprintf(err, err_size, "sync.port_file: cannot write %s", p->cfg->port_file);
			goto fail;
		}
	}
	*out = h;
	return 0;
fail:
	im_sync_http_stop(h);
	return -1;
}

int im_sync_http_port(const struct im_sync_http *h)
{
	return h->port;
}

void im_sync_http_stop(struct im_sync_http *h)
{
	if (!h)
		return;
	if (h->d) {
		MHD_quiesce_daemon(h->d);
		/* Every answer decided, and no outbox ticket left pointing at us. */
		pthread_mutex_lock(&h->lock);
		while (h->waiting || h->tickets)
			pthread_cond_wait(&h->idle, &h->lock);
		pthread_mutex_unlock(&h->lock);
		/* The last answers are queued: let the polling thread write them
		 * before the sockets close (bounded: idle keep-alive clients would
		 * otherwise hold the stop until their timeout). */
		for (int i = 0; i < 40; i++) {
			const union MHD_DaemonInfo *ci =
				MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			if (!ci || ci->num_connections == 0)
				break;
			usleep(25000);
		}
		MHD_stop_daemon(h->d);
	}
	if (h->wd_started) {
		pthread_mutex_lock(&h->lock);
		h->stopping = 1;
		pthread_cond_broadcast(&h->wd_wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->watchdog, NULL);
	}
	if (h->tls_key_pem) {
		memset(h->tls_key_pem, 0, strlen(h->tls_key_pem));
		free(h->tls_key_pem);
	}
	free(h->tls_cert_pem);
	pthread_mutex_destroy(&h->webhook_lock);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->idle);
	pthread_cond_destroy(&h->wd_wake);
	free(h);
}
