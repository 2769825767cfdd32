/* Delivery workers of the sync daemon, see sync_deliver.h. */
#include "config.h"

#include "sync_deliver.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "classify.h"
#include "pace.h"
#include "log.h"
#include "sync_http.h"
#include "sync_im_request.h"

enum oc {
	OC_DELIVERED, /* landed on the other side */
	OC_DROPPED,   /* needed nothing */
	OC_DEAD,      /* gave up */
	OC_RETRY,     /* try again after a backoff */
	OC_DEFER,     /* wait (group history still importing), not an attempt */
	OC_SKIP,      /* its conversation is blocked behind an earlier event */
	OC_NOT_MINE,  /* another new -> old worker's conversation */
};

struct outcome {
	enum oc oc;
	char conv[160];
	char error[600];
	const char *dl_stage; /* dead letters: "script", "validate", "api" */
	const char *kind;     /* dead letters: IM record kind when known */
	long code;
	double min_wait;      /* seconds the answer asked us to wait */
};

struct mark {
	int64_t id;
	int status, attempts;
	int64_t next_at;
	char *conv, *error;
};

struct marks {
	struct mark *v;
	size_t n, cap;
};

/* A set of conversation keys blocked in the current pass (chained hash). */
struct keyset {
	struct key {
		struct key *next;
		char s[];
	} * slot[256];
};

struct worker {
	struct im_sync_deliver *d;
	int dir;
	const char *prefix;
	size_t part, nparts;             /* new -> old: the conversations this worker owns */
	struct im_script *reverse_script; /* new -> old */
	void *deliver_state;
	int pruner;                      /* this worker prunes old events */
	pthread_t thread;
	int started;
};

struct im_sync_deliver {
	struct im_sync_deliver_params p;
	atomic_int stop;
	struct worker *w;
	size_t nw;
	char ns[160]; /* id map namespace of our deliveries to the old system */
};

/* snprintf into o->error; truncation of long reasons is fine. */
static void __attribute__((format(printf, 2, 3))) say(struct outcome *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->error, sizeof o->error, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 4))) fmt_into(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & 255;
}

static int ks_has(struct keyset *k, const char *s)
{
	for (struct key *e = k->slot[hash(s)]; e; e = e->next)
		if (strcmp(e->s, s) == 0)
			return 1;
	return 0;
}

static void ks_add(struct keyset *k, const char *s)
{
	if (!*s || ks_has(k, s))
		return;
	size_t n = strlen(s) + 1;
	struct key *e = malloc(sizeof *e + n);
	if (!e)
		return; /* worst case the conversation is not held back this pass */
	memcpy(e->s, s, n);
	unsigned h = hash(s);
	e->next = k->slot[h];
	k->slot[h] = e;
}

static void ks_clear(struct keyset *k)
{
	for (int i = 0; i < 256; i++) {
		while (k->slot[i]) {
			struct key *e = k->slot[i];
			k->slot[i] = e->next;
			free(e);
		}
	}
}

static int64_t backoff_ms(const struct im_sync_config *cfg, int attempts, double min_wait)
{
	double cap = (double)cfg->retry_base_ms;
	for (int i = 1; i < attempts && cap < (double)cfg->retry_max_ms; i++)
		cap *= 2;
	if (cap > (double)cfg->retry_max_ms)
		cap = (double)cfg->retry_max_ms;
	/* Full jitter: anywhere between nothing and the cap, so retries of many
	 * events spread out instead of arriving together. */
	double wait = cap * ((double)random() / (double)RAND_MAX);
	if (wait < min_wait * 1000)
		wait = min_wait * 1000;
	return (int64_t)wait + 1;
}

static int marks_add(struct marks *m, int64_t id, int status, int attempts, int64_t next_at, const char *conv,
		     const char *error)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct mark *v = realloc(m->v, cap * sizeof *v);
		if (!v)
			return -1;
		m->v = v;
		m->cap = cap;
	}
	struct mark *k = &m->v[m->n++];
	k->id = id;
	k->status = status;
	k->attempts = attempts;
	k->next_at = next_at;
	k->conv = conv && *conv ? strdup(conv) : NULL;
	k->error = error && *error ? strdup(error) : NULL;
	return 0;
}

static int apply_marks(sqlite3 *db, void *arg)
{
	struct marks *m = arg;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, IM_OUTBOX_MARK_SQL, -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < m->n; i++)
		rc = im_outbox_mark_stmt(s, m->v[i].id, m->v[i].status, m->v[i].attempts, m->v[i].next_at,
					 m->v[i].conv, m->v[i].error);
	sqlite3_finalize(s);
	return rc;
}

static void marks_clear(struct marks *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].conv);
		free(m->v[i].error);
	}
	m->n = 0;
}

static void dead_letter(struct im_sync_deliver *d, const struct im_outbox_row *row, const struct outcome *o)
{
	char origin[200];
	snprintf(origin, sizeof origin, "sync:%s#%lld", row->origin, (long long)row->id);
	struct im_stage_dead dl = {
		.stage = o->dl_stage ? o->dl_stage : "api",
		.kind = o->kind,
		.origin = origin,
		.raw = row->body,
		.code = (int)o->code,
		.reason = o->error[0] ? o->error : "delivery failed",
		.attempts = row->attempts + 1,
		/* The explicit link `dlq replay` re-queues by (the origin is for humans). */
		.event_id = row->id,
	};
	char err[256];
	pthread_mutex_lock(d->p.stage_lock);
	if (im_stage_put_dead(d->p.stage, &dl, NULL, err, sizeof err) < 0)
		im_error("sync: cannot record a dead letter for event %lld: %s", (long long)row->id, err);
	pthread_mutex_unlock(d->p.stage_lock);
}

/* ---- echo keys: our own IM writes whose callbacks cannot be recognised ----
 *
 * Sns.CallbackFriendDelete / BlackListAdd / BlackListDelete carry no operator, so
 * the intake's OptPlatform+admin filter cannot tell our writes from a user's. Before
 * we make such a write, its expected callback is noted in the stage's id map
 * (namespace "sync-echo", key "<command>|<From_Account>|<To_Account>", value the
 * time in ms); a RESTAPI callback matching a fresh note consumes it and is dropped.
 * A note older than ECHO_TTL_MS is ignored (the write failed or sent no callback). */
#define ECHO_NS "sync-echo"
#define ECHO_TTL_MS (10 * 60 * 1000)

static const char *echo_command(const char *rest_command)
{
	static const char *const map[][2] = {{"friend_import", "Sns.CallbackFriendAdd"},
					     {"friend_delete", "Sns.CallbackFriendDelete"},
					     {"black_list_add", "Sns.CallbackBlackListAdd"},
					     {"black_list_delete", "Sns.CallbackBlackListDelete"}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i][0], rest_command) == 0)
			return map[i][1];
	return NULL;
}

static void expect_echo(struct im_sync_deliver *d, const struct im_sync_call *c)
{
	const char *cmd = echo_command(c->command);
	const char *from = json_string_value(json_object_get(c->item, "From_Account"));
	const char *to = json_string_value(json_object_get(c->item, "To_Account"));
	if (!cmd || !from || !to)
		return;
	char key[400], when[32], err[256];
	fmt_into(key, sizeof key, "%s|%s|%s", cmd, from, to);
	snprintf(when, sizeof when, "%lld", (long long)im_outbox_now_ms());
	pthread_mutex_lock(d->p.stage_lock);
	sqlite3_stmt *s = im_stage_stmt(d->p.stage,
					"INSERT OR REPLACE INTO idmap(namespace, old_id, new_id) VALUES(?, ?, ?)", err,
					sizeof err);
	if (s) {
		sqlite3_bind_text(s, 1, ECHO_NS, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, when, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			im_warn("sync: cannot note an expected callback: %s", im_stage_errmsg(d->p.stage));
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	pthread_mutex_unlock(d->p.stage_lock);
}

/* 1 when a fresh note for (cmd, from, to) existed; the note is removed either way. */
static int take_echo(struct im_sync_deliver *d, const char *cmd, const char *from, const char *to)
{
	char key[400], *when = NULL, err[256];
	fmt_into(key, sizeof key, "%s|%s|%s", cmd, from, to);
	pthread_mutex_lock(d->p.stage_lock);
	int found = im_stage_idmap_get(d->p.stage, ECHO_NS, key, &when) == 0;
	if (found) {
		sqlite3_stmt *s = im_stage_stmt(d->p.stage, "DELETE FROM idmap WHERE namespace = ? AND old_id = ?",
						err, sizeof err);
		if (s) {
			sqlite3_bind_text(s, 1, ECHO_NS, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
			sqlite3_step(s);
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
		}
	}
	pthread_mutex_unlock(d->p.stage_lock);
	int fresh = found && when && im_outbox_now_ms() - strtoll(when, NULL, 10) < ECHO_TTL_MS;
	free(when);
	return fresh;
}

/* A RESTAPI Sns callback whose every pair is a noted write of ours. */
static int is_sns_echo(struct im_sync_deliver *d, const struct im_outbox_row *row, const json_t *body)
{
	if (!row->platform || strcasecmp(row->platform, "RESTAPI") != 0 || strncmp(row->stream, "Sns.", 4) != 0)
		return 0;
	json_t *pairs = json_object_get(body, "PairList");
	size_t i;
	json_t *p;
	int all = json_array_size(pairs) > 0;
	json_array_foreach(pairs, i, p) {
		const char *f = json_string_value(json_object_get(p, "From_Account"));
		const char *t = json_string_value(json_object_get(p, "To_Account"));
		if (!f || !t || !take_echo(d, row->stream, f, t))
			all = 0;
	}
	return all;
}

/* ---- old -> new ---- */

/* An old -> new event whose REST calls are under way. Up to sync.concurrency
 * events of different conversations are in flight at once (libcurl multi through
 * tim.h); the calls of one event go one after the other. */
enum flight_state { F_WANT_SEND, F_IN_FLIGHT, F_REPLIED, F_DONE };

struct flight {
	struct im_sync_deliver *d;
	const struct im_outbox_row *row;
	struct im_sync_call *calls;
	size_t n, next; /* next: the call to send or in flight */
	int renewed;
	int creates; /* creates an account or a group */
	enum flight_state state;
	struct outcome o;
	/* the reply of the call in flight */
	int curl_code;
	long http_status;
	char *body;
	size_t body_len;
};

/* A token bucket per REST command, at the spec's default limits (pace.h). */
struct pacer {
	char command[48];
	struct im_pace pace;
};

struct engine {
	struct im_sync_deliver *d;
	struct flight *f;
	size_t n, cap;
	size_t active;   /* flights not F_DONE */
	size_t creating; /* of which create accounts or groups */
	struct pacer pacers[24];
	size_t npacers;
};

static struct im_pace *pace_for(struct engine *e, const char *command)
{
	for (size_t i = 0; i < e->npacers; i++)
		if (strcmp(e->pacers[i].command, command) == 0)
			return &e->pacers[i].pace;
	if (e->npacers == sizeof e->pacers / sizeof e->pacers[0])
		return NULL;
	struct pacer *p = &e->pacers[e->npacers++];
	snprintf(p->command, sizeof p->command, "%s", command);
	im_pace_init(&p->pace, im_pace_default_limit(command), im_pace_now());
	return &p->pace;
}

static void flight_reply(void *arg, const struct im_tim_reply *r)
{
	struct flight *f = arg;
	f->state = F_REPLIED;
	f->curl_code = r->curl_code;
	f->http_status = r->http_status;
	f->body = NULL;
	f->body_len = 0;
	if (r->body && (f->body = malloc(r->body_len + 1)) != NULL) {
		memcpy(f->body, r->body, r->body_len);
		f->body[r->body_len] = '\0';
		f->body_len = r->body_len;
	}
}

static void flight_finish(struct engine *e, struct flight *f, enum oc oc)
{
	f->o.oc = oc;
	f->state = F_DONE;
	e->active--;
	e->creating -= (size_t)f->creates;
}

/* Sends the flight's next call when its API's bucket has a token; else stores
 * in *wait the seconds until one will. */
static void flight_send(struct engine *e, struct flight *f, double *wait)
{
	struct im_sync_call *c = &f->calls[f->next];
	struct im_pace *pace = pace_for(e, c->command);
	double w = 0;
	if (pace && im_pace_take(pace, im_pace_now(), &w) < 0) {
		if (w < *wait)
			*wait = w;
		return;
	}
	expect_echo(e->d, c);
	char *text = json_dumps(c->body, JSON_COMPACT);
	f->state = F_IN_FLIGHT;
	if (!text || im_tim_submit(e->d->p.tim, c->service, c->command, text, strlen(text), flight_reply, f) < 0) {
		say(&f->o, "%s/%s: request could not be set up", c->service, c->command);
		flight_finish(e, f, OC_RETRY);
	}
	free(text);
}

/* Classifies the reply of the call in flight and moves the flight on. */
static void flight_handle(struct engine *e, struct flight *f)
{
	struct im_sync_deliver *d = e->d;
	struct im_sync_call *c = &f->calls[f->next];
	struct outcome *o = &f->o;
	struct im_answer a = {f->curl_code, f->http_status, f->body, f->body_len};
	struct im_verdict v;
	json_t *resp = NULL;
	im_classify_answer(&a, &v, &resp);
	free(f->body);
	f->body = NULL;
	int landed = 0;
	if (v.outcome == IM_OUTCOME_OK) {
		const char *info = NULL;
		long code = im_sync_call_result(c, resp, &info);
		if (code == 0) {
			landed = 1;
		} else {
			o->code = code;
			say(o, "%s/%s: item failed with %ld (%s)%s%s", c->service, c->command, code,
			    im_code_meaning(code), info ? ": " : "", info ? info : "");
			json_decref(resp);
			flight_finish(e, f, im_classify_item_code(code) == IM_OUTCOME_TRANSIENT ? OC_RETRY : OC_DEAD);
			return;
		}
	} else if (v.kind == IM_CODE_TENCENT && im_sync_code_means_landed(c->command, v.code)) {
		landed = 1;
	}
	json_decref(resp);
	if (landed) {
		f->renewed = 0;
		if (++f->next == f->n)
			flight_finish(e, f, OC_DELIVERED);
		else
			f->state = F_WANT_SEND;
		return;
	}
	if (v.outcome == IM_OUTCOME_USERSIG && !f->renewed && im_tim_renew_usersig(d->p.tim) == 0) {
		f->renewed = 1;
		f->state = F_WANT_SEND;
		return;
	}
	if (v.outcome == IM_OUTCOME_RATE_LIMITED) {
		struct im_pace *pace = pace_for(e, c->command);
		if (pace)
			im_pace_throttled(pace, im_pace_now());
	}
	o->code = v.code;
	o->min_wait = v.min_wait;
	say(o, "%s/%s: %s", c->service, c->command, v.message);
	switch (v.outcome) {
	case IM_OUTCOME_PERMANENT:
		flight_finish(e, f, OC_DEAD);
		break;
	case IM_OUTCOME_AUTH:
	case IM_OUTCOME_CONFIG:
		im_error("sync: %s/%s: %s: fix the job's target; the event waits", c->service, c->command, v.message);
		o->min_wait = (double)d->p.cfg->retry_max_ms / 1000.0;
		flight_finish(e, f, OC_RETRY);
		break;
	default:
		flight_finish(e, f, OC_RETRY);
		break;
	}
}

/* One round: send what may go, wait for network activity, handle replies. */
static void engine_step(struct engine *e)
{
	double wait = 0.2;
	for (size_t i = 0; i < e->n; i++)
		if (e->f[i].state == F_WANT_SEND)
			flight_send(e, &e->f[i], &wait);
	int ms = (int)(wait * 1000) + 1;
	if (im_tim_in_flight(e->d->p.tim) == 0) {
		/* Nothing on the wire: only the pacer holds us back. */
		struct timespec ts = {0, (long)ms * 1000000L};
		nanosleep(&ts, NULL);
	} else if (im_tim_run(e->d->p.tim, ms > 200 ? 200 : ms) < 0) {
		im_error("sync: the HTTP client failed; in-flight events will be retried");
	}
	for (size_t i = 0; i < e->n; i++)
		if (e->f[i].state == F_REPLIED)
			flight_handle(e, &e->f[i]);
}

/* Whether an event's calls create an account or a group. */
static int creates_entity(const struct im_sync_call *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(calls[i].kind, "account") == 0 || strcmp(calls[i].kind, "group") == 0)
			return 1;
	return 0;
}

/* Whether a flight of conv is still under way. */
static int engine_busy(const struct engine *e, const char *conv)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->f[i].state != F_DONE && strcmp(e->f[i].o.conv, conv) == 0)
			return 1;
	return 0;
}

/* Whether a live message for group_id must wait: the bulk extraction is still
 * running (a checkpoint not done: the group's history may not even be staged
 * yet), or staged history for the group has not landed. Says why in why. */
static int history_pending(struct im_sync_deliver *d, const char *group_id, char *why, size_t why_size)
{
	char err[256];
	int pending = 0;
	pthread_mutex_lock(d->p.stage_lock);
	sqlite3_stmt *s = im_stage_stmt(d->p.stage, "SELECT source FROM checkpoints WHERE done = 0 LIMIT 1", err,
					sizeof err);
	if (s && sqlite3_step(s) == SQLITE_ROW) {
		pending = 1;
		const unsigned char *src = sqlite3_column_text(s, 0);
		fmt_into(why, why_size, "group %s: the bulk import of '%s' is still extracting; live message waits",
			 group_id, src ? (const char *)src : "?");
	}
	if (s)
		sqlite3_reset(s);
	s = pending ? NULL
		    : im_stage_stmt(d->p.stage,
				    "SELECT count(*) FROM records WHERE kind = 'group_msg' AND status IN (0, 1)"
				    " AND conv = ?",
				    err, sizeof err);
	if (s) {
		sqlite3_bind_text(s, 1, group_id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0) {
			pending = 1;
			fmt_into(why, why_size, "group %s: %lld history messages not yet imported; live message waits",
				 group_id, (long long)sqlite3_column_int64(s, 0));
		}
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	pthread_mutex_unlock(d->p.stage_lock);
	return pending;
}

static int idmap_has(struct im_sync_deliver *d, const char *old_id)
{
	char *v = NULL;
	pthread_mutex_lock(d->p.stage_lock);
	int rc = im_stage_idmap_get(d->p.stage, d->ns, old_id, &v);
	pthread_mutex_unlock(d->p.stage_lock);
	free(v);
	return rc == 0;
}

/* Turns the script's records into calls. Returns 0, or -1 with o set to dead. */
static int build_calls(struct im_sync_deliver *d, const struct im_outbox_row *row, json_t *records,
		       struct im_sync_call **calls, size_t *ncalls, struct outcome *o)
{
	size_t n = json_array_size(records);
	*calls = calloc(n ? n : 1, sizeof **calls);
	*ncalls = 0;
	if (!*calls) {
		o->oc = OC_RETRY;
		say(o, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *rec = json_deep_copy(json_array_get(records, i));
		const char *k = json_string_value(json_object_get(rec, "kind"));
		char kind[32], why[400];
		snprintf(kind, sizeof kind, "%s", k ? k : "");
		int rc;
		if (k && im_sync_kind_is_live_only(kind)) {
			json_object_del(rec, "kind");
			json_object_del(rec, "_source_id");
			rc = im_sync_call_build(kind, rec, NULL, &(*calls)[*ncalls], why, sizeof why);
		} else {
			struct im_prepared prep;
			int vr = im_record_prepare(d->p.validator, rec, row->id, &prep, why, sizeof why);
			if (vr != 0) {
				o->oc = OC_DEAD;
				o->dl_stage = "validate";
				o->kind = im_kind_name(im_kind_from_name(kind));
				o->code = vr > 0 ? vr : 0;
				say(o, "record %zu (%s): %s", i + 1, kind[0] ? kind : "?",
					 why);
				json_decref(rec);
				return -1;
			}
			json_t *payload = json_loadb(prep.payload, prep.payload_len, 0, NULL);
			rc = payload ? im_sync_call_build(kind, payload, prep.conv, &(*calls)[*ncalls], why, sizeof why)
				     : -1;
			json_decref(payload);
		}
		json_decref(rec);
		if (rc < 0) {
			im_sync_call_free(&(*calls)[*ncalls]);
			o->oc = OC_DEAD;
			o->dl_stage = "validate";
			say(o, "record %zu: %s", i + 1, why);
			return -1;
		}
		(*ncalls)++;
	}
	return 0;
}

/* Prepares an old -> new event: returns 1 with the calls in *calls_out (owned by the
 * caller) when it must be sent, 0 with o filled when its outcome is already
 * known (echo, mapped to nothing, dead, deferred, its conversation busy). */
static int prepare_old_to_new(struct im_sync_deliver *d, struct engine *e, const struct im_outbox_row *row,
			      struct keyset *blocked, struct outcome *o, struct im_sync_call **calls_out,
			      size_t *ncalls_out)
{
	*calls_out = NULL;
	*ncalls_out = 0;
	if (row->event_id && idmap_has(d, row->event_id)) {
		o->oc = OC_DROPPED;
		say(o, "echo of our own delivery to the old system");
		return 0;
	}
	json_t *data = json_loads(row->body, JSON_DECODE_ANY, NULL);
	if (!data) {
		o->oc = OC_DEAD;
		o->dl_stage = "parse";
		say(o, "stored event is not JSON");
		return 0;
	}
	char origin[64];
	snprintf(origin, sizeof origin, "webhook:%lld", (long long)row->id);
	struct im_script_input in = {.stream = row->stream, .source_id = row->event_id, .origin = origin, .data = data};
	struct im_script_failure f;
	json_t *records = NULL;
	pthread_mutex_lock(d->p.stage_lock);
	int rc = im_script_map(d->p.map_script, &in, &records, &f);
	/* The array belongs to the script until its next call: copy it while we
	 * still hold the only right to call it. */
	json_t *mine = rc == 0 ? json_deep_copy(records) : NULL;
	pthread_mutex_unlock(d->p.stage_lock);
	json_decref(data);
	if (rc != 0) {
		o->oc = OC_DEAD;
		o->dl_stage = "script";
		say(o, "%s: %s", f.where, f.reason);
		return 0;
	}
	if (!mine) {
		o->oc = OC_RETRY;
		say(o, "out of memory");
		return 0;
	}
	if (json_array_size(mine) == 0) {
		json_decref(mine);
		o->oc = OC_DROPPED;
		return 0;
	}
	struct im_sync_call *calls = NULL;
	size_t n = 0;
	int send = 0;
	if (build_calls(d, row, mine, &calls, &n, o) == 0) {
		snprintf(o->conv, sizeof o->conv, "%s", n ? calls[0].conv : "");
		if (ks_has(blocked, o->conv) || engine_busy(e, o->conv)) {
			o->oc = OC_SKIP;
		} else {
			send = 1;
			for (size_t i = 0; i < n; i++) {
				if (strcmp(calls[i].kind, "group_msg") == 0 &&
				    history_pending(d, calls[i].group_id, o->error, sizeof o->error)) {
					o->oc = OC_DEFER;
					send = 0;
					break;
				}
			}
		}
	}
	json_decref(mine);
	if (send) {
		*calls_out = calls;
		*ncalls_out = n;
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		im_sync_call_free(&calls[i]);
	free(calls);
	return 0;
}

/* ---- new -> old ---- */

/* The temporary copy's directory in failure locations becomes the script's. */
static void fix_where(struct im_sync_deliver *d, char *where, size_t size)
{
	if (strncmp(where, "/tmp/immigrate-reverse.", 23) != 0 || !d->p.script_path)
		return;
	const char *tail = strchr(where + 23, '/');
	if (!tail)
		return;
	char buf[400];
	const char *slash = strrchr(d->p.script_path, '/');
	int dirlen = slash ? (int)(slash - d->p.script_path) : 0;
	fmt_into(buf, sizeof buf, "%.*s%s", dirlen, d->p.script_path, slash ? tail : tail + 1);
	fmt_into(where, size, "%s", buf);
}

/* Which new -> old worker owns a conversation (the outbox's shard, as stored). */
static size_t conv_part(const char *conv, size_t nparts)
{
	return nparts > 1 ? im_outbox_shard(conv) % nparts : 0;
}

static void process_new_to_old(struct worker *w, const struct im_outbox_row *row, struct keyset *blocked,
			       struct outcome *o)
{
	struct im_sync_deliver *d = w->d;
	json_t *body = json_loads(row->body, 0, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		o->oc = OC_DEAD;
		o->dl_stage = "parse";
		say(o, "stored callback is not a JSON object");
		return;
	}
	im_sync_callback_conv(body, o->conv, sizeof o->conv);
	if (conv_part(o->conv, w->nparts) != w->part) {
		json_decref(body);
		o->oc = OC_NOT_MINE;
		return;
	}
	if (ks_has(blocked, o->conv)) {
		json_decref(body);
		o->oc = OC_SKIP;
		return;
	}
	if (is_sns_echo(d, row, body)) {
		json_decref(body);
		o->oc = OC_DROPPED;
		say(o, "echo of our own REST write");
		return;
	}
	char origin[64];
	snprintf(origin, sizeof origin, "callback:%lld", (long long)row->id);
	struct im_script_input in = {.stream = row->stream, .source_id = row->event_id, .origin = origin, .data = body};
	struct im_script_failure f;
	json_t *events = NULL;
	pthread_mutex_lock(d->p.stage_lock);
	int rc = im_script_map(w->reverse_script, &in, &events, &f);
	json_t *mine = rc == 0 ? json_deep_copy(events) : NULL;
	pthread_mutex_unlock(d->p.stage_lock);
	json_decref(body);
	if (rc != 0) {
		fix_where(d, f.where, sizeof f.where);
		o->oc = OC_DEAD;
		o->dl_stage = "script";
		say(o, "%s: %s", f.where, f.reason);
		return;
	}
	if (!mine) {
		o->oc = OC_RETRY;
		say(o, "out of memory");
		return;
	}
	o->oc = json_array_size(mine) ? OC_DELIVERED : OC_DROPPED;
	size_t i;
	json_t *ev;
	json_array_foreach(mine, i, ev) {
		char *remote = NULL, err[512] = "";
		int r = d->p.src->deliver(w->deliver_state, ev, &remote, err, sizeof err);
		if (r == IM_SOURCE_OK) {
			if (remote) {
				char e2[256];
				pthread_mutex_lock(d->p.stage_lock);
				if (im_stage_idmap_put(d->p.stage, d->ns, remote, row->event_id ? row->event_id : "",
						       e2, sizeof e2) < 0)
					im_warn("sync: cannot record delivered id for echo suppression: %s", e2);
				pthread_mutex_unlock(d->p.stage_lock);
			}
			free(remote);
			continue;
		}
		free(remote);
		o->oc = r == IM_SOURCE_RETRY ? OC_RETRY : OC_DEAD;
		o->dl_stage = "api";
		say(o, "%s deliver of event %zu: %s", d->p.plugin_name, i + 1,
			 err[0] ? err : "failed");
		break;
	}
	json_decref(mine);
}

/* ---- the loop ---- */

static void settle(struct im_sync_deliver *d, int dir, const struct im_outbox_row *row, struct outcome *o,
		   struct keyset *blocked, struct marks *m, int64_t now, int64_t *next_due)
{
	struct im_sync_metrics *mt = d->p.metrics;
	const struct im_sync_config *cfg = d->p.cfg;
	int attempts = row->attempts + 1;
	switch (o->oc) {
	case OC_SKIP:
	case OC_NOT_MINE:
		return;
	case OC_DELIVERED:
		im_sync_count(&mt->delivered[dir], 1);
		marks_add(m, row->id, IM_OUTBOX_DELIVERED, attempts, 0, o->conv, NULL);
		return;
	case OC_DROPPED:
		im_sync_count(&mt->dropped[dir], 1);
		marks_add(m, row->id, IM_OUTBOX_DROPPED, attempts, 0, o->conv, o->error);
		return;
	case OC_DEFER: {
		im_sync_count(&mt->deferred[dir], 1);
		if (row->next_at == 0) /* the first time this event waits */
			im_info("sync: event %lld: %s", (long long)row->id, o->error);
		int64_t at = now + cfg->history_wait_ms;
		marks_add(m, row->id, IM_OUTBOX_PENDING, row->attempts, at, o->conv, o->error);
		ks_add(blocked, o->conv);
		if (at < *next_due)
			*next_due = at;
		return;
	}
	case OC_RETRY:
		if (attempts < cfg->max_attempts) {
			im_sync_count(&mt->retried[dir], 1);
			int64_t at = now + backoff_ms(cfg, attempts, o->min_wait);
			im_warn("sync: event %lld: %s (attempt %d of %d, retrying)", (long long)row->id, o->error,
				attempts, cfg->max_attempts);
			marks_add(m, row->id, IM_OUTBOX_PENDING, attempts, at, o->conv, o->error);
			ks_add(blocked, o->conv);
			if (at < *next_due)
				*next_due = at;
			return;
		}
		/* fall through: out of attempts */
		/* FALLTHROUGH */
	case OC_DEAD:
		im_error("sync: event %lld (%s) is dead: %s", (long long)row->id, row->stream, o->error);
		dead_letter(d, row, o);
		im_sync_count(&mt->dead[dir], 1);
		marks_add(m, row->id, IM_OUTBOX_DEAD, attempts, 0, o->conv, o->error);
		return;
	}
}

static int prune_old(sqlite3 *db, void *arg)
{
	int64_t n = im_outbox_prune(db, *(int64_t *)arg);
	if (n > 0)
		im_info("sync: pruned %lld delivered events past sync.retention_hours", (long long)n);
	return n < 0 ? -1 : 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct im_sync_deliver *d = w->d;
	struct keyset blocked;
	memset(&blocked, 0, sizeof blocked);
	struct marks m = {0};
	uint64_t seen = 0;
	int64_t next_due = 0, last_prune = 0;
	const size_t page = 256;
	struct engine e;
	memset(&e, 0, sizeof e);
	e.d = d;
	/* Flights are callback arguments: the array is never moved. */
	e.f = calloc(page, sizeof *e.f);
	size_t concurrency = d->p.cfg->concurrency > 0 ? (size_t)d->p.cfg->concurrency : 1;
	if (!e.f) {
		im_error("sync: out of memory starting a delivery worker");
		return NULL;
	}

	while (!atomic_load(&d->stop)) {
		int64_t now = im_outbox_now_ms();
		int timeout = 1000;
		if (next_due > now && next_due - now < timeout)
			timeout = (int)(next_due - now);
		if (next_due <= now && next_due != 0)
			timeout = 0;
		im_outbox_wait(d->p.outbox, &seen, timeout);
		if (atomic_load(&d->stop))
			break;
		now = im_outbox_now_ms();
		/* One worker prunes, every ten minutes. */
		if (w->pruner && now - last_prune > 600000) {
			int64_t before = now - (int64_t)d->p.cfg->retention_hours * 3600000;
			if (im_outbox_exec(d->p.outbox, prune_old, &before) < 0)
				im_warn("sync: pruning delivered events failed; will try again");
			last_prune = now;
		}
		next_due = INT64_MAX;
		int64_t after = 0;
		for (;;) {
			struct im_outbox_row *rows = NULL;
			size_t n = 0;
			if (im_outbox_pending(d->p.outbox, w->prefix, after, page, w->nparts, w->part, &rows, &n) < 0)
				break;
			e.n = 0;
			e.active = e.creating = 0;
			for (size_t i = 0; i < n && !atomic_load(&d->stop); i++) {
				struct im_outbox_row *r = &rows[i];
				after = r->id;
				if (r->conv && ks_has(&blocked, r->conv))
					continue;
				if (r->next_at > now) {
					if (r->conv)
						ks_add(&blocked, r->conv);
					if (r->next_at < next_due)
						next_due = r->next_at;
					continue;
				}
				struct outcome o;
				memset(&o, 0, sizeof o);
				if (w->dir == IM_SYNC_NEW_TO_OLD) {
					if (r->conv && conv_part(r->conv, w->nparts) != w->part)
						continue;
					process_new_to_old(w, r, &blocked, &o);
					settle(d, w->dir, r, &o, &blocked, &m, now, &next_due);
					continue;
				}
				struct im_sync_call *calls;
				size_t ncalls;
				if (prepare_old_to_new(d, &e, r, &blocked, &o, &calls, &ncalls)) {
					/* Creating accounts or groups is a barrier: creations run
					 * together, but only once everything before them has
					 * landed, and nothing after them starts before they have
					 * (later events of other conversations may name them). */
					int creates = creates_entity(calls, ncalls);
					while (e.active >= concurrency ||
					       (creates ? e.active - e.creating : e.creating) > 0)
						engine_step(&e);
					struct flight *f = &e.f[e.n++];
					memset(f, 0, sizeof *f);
					f->d = d;
					f->row = r;
					f->calls = calls;
					f->n = ncalls;
					f->o = o;
					f->state = F_WANT_SEND;
					f->creates = creates;
					e.active++;
					e.creating += (size_t)creates;
					continue;
				}
				if (o.oc == OC_SKIP) {
					/* Behind an event of its conversation: later ones wait too,
					 * and another pass follows at once when this one is done. */
					if (engine_busy(&e, o.conv))
						next_due = now;
					ks_add(&blocked, o.conv);
					continue;
				}
				settle(d, w->dir, r, &o, &blocked, &m, now, &next_due);
			}
			while (e.active)
				engine_step(&e);
			for (size_t i = 0; i < e.n; i++) {
				struct flight *f = &e.f[i];
				settle(d, w->dir, f->row, &f->o, &blocked, &m, now, &next_due);
				for (size_t k = 0; k < f->n; k++)
					im_sync_call_free(&f->calls[k]);
				free(f->calls);
			}
			e.n = 0;
			im_outbox_rows_free(rows, n);
			if (m.n) {
				if (im_outbox_exec(d->p.outbox, apply_marks, &m) < 0)
					im_error("sync: recording delivery outcomes failed; they will be redelivered");
				marks_clear(&m);
			}
			if (n < page || atomic_load(&d->stop))
				break;
		}
		ks_clear(&blocked);
		if (next_due == INT64_MAX)
			next_due = 0;
	}
	ks_clear(&blocked);
	marks_clear(&m);
	free(m.v);
	free(e.f);
	return NULL;
}

int im_sync_deliver_start(const struct im_sync_deliver_params *p, struct im_sync_deliver **out, char *err,
			  size_t err_size)
{
	*out = NULL;
	struct im_sync_deliver *d = calloc(1, sizeof *d);
	int old_to_new = p->map_script && p->tim && p->validator;
	size_t n_new = p->src && p->src->deliver ? p->n_reverse : 0;
	if (d)
		d->w = calloc(1 + n_new, sizeof *d->w);
	if (!d || !d->w) {
		free(d);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	d->p = *p;
	atomic_init(&d->stop, 0);
	snprintf(d->ns, sizeof d->ns, "sync:%s", p->plugin_name ? p->plugin_name : "source");
	if (old_to_new)
		d->w[d->nw++] = (struct worker){.d = d, .dir = IM_SYNC_OLD_TO_NEW, .prefix = "source:"};
	for (size_t i = 0; i < n_new; i++)
		d->w[d->nw++] = (struct worker){.d = d,
						.dir = IM_SYNC_NEW_TO_OLD,
						.prefix = "im",
						.part = i,
						.nparts = n_new,
						.reverse_script = p->reverse_scripts[i],
						.deliver_state = p->deliver_states[i]};
	if (d->nw)
		d->w[0].pruner = 1;
	for (size_t i = 0; i < d->nw; i++) {
		if (pthread_create(&d->w[i].thread, NULL, worker_main, &d->w[i]) != 0) {
			snprintf(err, err_size, "cannot start a delivery thread");
			im_sync_deliver_stop(d);
			return -1;
		}
		d->w[i].started = 1;
	}
	*out = d;
	return 0;
}

void im_sync_deliver_stop(struct im_sync_deliver *d)
{
	if (!d)
		return;
	atomic_store(&d->stop, 1);
	im_outbox_wake(d->p.outbox);
	for (size_t i = 0; i < d->nw; i++)
		if (d->w[i].started)
			pthread_join(d->w[i].thread, NULL);
	free(d->w);
	free(d);
}
