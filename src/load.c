/* The loader's scheduler and event loop; see load.h.
 *
 * One lane per record kind. A lane starts when every kind it depends on has
 * finished (batch.h deps) and then fills request slots as fast as its API's token
 * bucket allows. Lanes of independent kinds run at the same time, so separate
 * APIs' quotas are used in parallel. Kinds with a conversation field (friends and
 * blocklists per From_Account, members and messages per group, one-to-one
 * messages per user pair) keep one batch in flight per conversation, taken from
 * the head of that conversation in time order. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "classify.h"
#include "commands.h"
#include "load.h"
#include "load_stage.h"
#include "log.h"
#include "pace.h"
#include "plan.h"
#include "progress.h"
#include "report.h"
#include "tim.h"

#define DEFAULT_CONCURRENCY 64
#define DEFAULT_MAX_ATTEMPTS 8
#define BACKOFF_CAP 60.0
#define CONV_SCAN 64
/* Re-probes of a group before giving up on knowing what landed. */
#define PROBE_TRIES 5
/* Seconds between throughput samples: about one a second (report.h), but ten a
 * second during the first SAMPLE_FINE_FOR seconds, so that a short load (the
 * demo takes one second) still draws a chart rather than a single average. */
#define SAMPLE_EVERY 1.0
/* Fresh UserSigs refused in a row before the run stops (clock trouble). */
#define USERSIG_STRIKES 3
#define SAMPLE_FINE_EVERY 0.1
#define SAMPLE_FINE_FOR 10.0

struct loader;

struct batch {
	struct loader *L;
	struct lane *lane;
	int64_t id;
	struct load_row *rows;
	json_t **recs;
	size_t n;
	bool resend; /* an earlier send of these records may have landed */
	bool probe;  /* the request in flight is a group_msg_get_simple check */
	int probe_tries;
	/* Per-item codes of an answer whose 10004 items are being checked: were they
	 * refused, or did they land already (an unseen earlier copy of this call)? */
	long *item_codes;
	struct batch *prev, *next;
};

struct lane {
	enum im_kind kind;
	const struct im_kind_info *ki;
	struct im_pace pace;
	size_t max_items;
	bool conv_mode;
	size_t conv_depth; /* batches in flight per conversation (1: serialised) */
	bool selected, finished;
	size_t in_flight;
	struct batch *batches; /* in flight */
	char *conv_cursor;
	int64_t id_cursor;
	double idle_until;
	struct im_progress_kind *stats;
	/* The conversations with the most records left. Their calls cannot overlap,
	 * so they bound when the kind ends: they get a slot whenever they are free,
	 * the others share the rest in turn. Refreshed every PRIO_REFRESH seconds. */
	char **prio;
	size_t nprio;
	double prio_at;
	/* While a kind this one waits for per conversation (batch.h conv_deps) is
	 * still loading, the lane serves only conversations that kind is done with:
	 * those found when the lane starts, then each as that kind finishes it. At
	 * most READY_MAX are queued; the others wait for the whole kind. */
	bool early;
	bool ready_seeded;
	char **ready;
	size_t nready;
};

#define READY_MAX 4096

#define PRIO_REFRESH 30.0

struct loader {
	struct im_stage *st;
	struct im_tim *tim;
	struct lane lanes[IM_KIND_COUNT];
	struct im_progress_kind stats[IM_KIND_COUNT];
	struct im_progress *progress;
	size_t concurrency;
	size_t in_flight;
	int max_attempts;
	int64_t next_batch;
	/* UserSigs signed after a refusal (70001) with no answer accepting one since:
	 * the service refusing fresh signatures means the clocks disagree. */
	int usersig_strikes;
	bool fatal;
	char fatal_msg[320];
	bool warned_probe;
	bool derived_unread;
	bool stage_failed; /* a write failed inside the loop's transaction */
	double last_reply;	   /* monotonic time of the last HTTP answer */
	unsigned unreachable;	   /* connection failures since then */
	double unreachable_timeout;
	uint64_t rng;
	double last_sample;	   /* monotonic time of the last throughput sample */
	bool warned_sample;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void set_fatal(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_fatal(struct loader *L, const char *fmt, ...)
{
	if (L->fatal)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(L->fatal_msg, sizeof L->fatal_msg, fmt, ap);
	va_end(ap);
	L->fatal = true;
	im_error("%s", L->fatal_msg);
}

/* Throughput sample for the report (report.h): the landed counters the lanes
 * keep, so a sample costs one small insert per kind and no count over the stage.
 * A sample that cannot be written costs the report its chart, not the load. */
static void take_sample(struct loader *L)
{
	int64_t landed[IM_KIND_COUNT];
	for (int k = 0; k < IM_KIND_COUNT; k++)
		landed[k] = L->stats[k].landed;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char err[512] = "";
	if (im_report_sample(L->st, 0, (double)ts.tv_sec + ts.tv_nsec / 1e9, landed, err, sizeof err) < 0 &&
	    !L->warned_sample) {
		im_warn("%s (the report will lack throughput samples)", err);
		L->warned_sample = true;
	}
	L->last_sample = im_pace_now();
}

static double rand01(struct loader *L)
{
	L->rng ^= L->rng >> 12;
	L->rng ^= L->rng << 25;
	L->rng ^= L->rng >> 27;
	return (double)((L->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Exponential backoff with full jitter, as Unix seconds of the next try (the
 * stage keeps whole seconds: the jitter is rounded down, so a first retry goes
 * at once and later ones spread over 0 .. 2^(attempts-1) s, at most a minute). */
static int64_t retry_time(struct loader *L, int attempts)
{
	double cap = ldexp(0.5, attempts < 16 ? attempts : 16);
	if (cap > BACKOFF_CAP)
		cap = BACKOFF_CAP;
	return (int64_t)time(NULL) + (int64_t)floor(rand01(L) * cap);
}

/* Whether ln may start: its kind-level dependencies have finished (those it has
 * per conversation only need to have started: see conv_dep_open). */
static bool deps_finished(const struct loader *L, const struct lane *ln)
{
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if ((ln->ki->deps & ~ln->ki->conv_deps & (1u << k)) && !L->lanes[k].finished)
			return false;
	return true;
}

/* The unfinished kind ln waits for per conversation, or -1. */
static int conv_dep_open(const struct loader *L, const struct lane *ln)
{
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if ((ln->ki->conv_deps & (1u << k)) && !L->lanes[k].finished)
			return k;
	return -1;
}

static void free_ready(struct lane *ln)
{
	for (size_t i = 0; i < ln->nready; i++)
		free(ln->ready[i]);
	free(ln->ready);
	ln->ready = NULL;
	ln->nready = 0;
	ln->ready_seeded = false;
}

static void push_ready(struct lane *ln, const char *conv)
{
	if (!ln->ready)
		ln->ready = calloc(READY_MAX, sizeof *ln->ready);
	if (!ln->ready || ln->nready >= READY_MAX)
		return; /* served when the kind it waits for has finished */
	if ((ln->ready[ln->nready] = strdup(conv))) {
		ln->nready++;
		ln->idle_until = 0;
	}
}

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->recs ? b->recs[i] : NULL);
	free(b->recs);
	free(b->item_codes);
	load_rows_free(b->rows, b->n);
	free(b);
}

static void lane_link(struct lane *ln, struct batch *b)
{
	b->prev = NULL;
	b->next = ln->batches;
	if (ln->batches)
		ln->batches->prev = b;
	ln->batches = b;
	ln->in_flight++;
	b->L->in_flight++;
}

static void lane_unlink(struct lane *ln, struct batch *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		ln->batches = b->next;
	if (b->next)
		b->next->prev = b->prev;
	ln->in_flight--;
	b->L->in_flight--;
	/* A conversation came free or records came back: look for work again. */
	ln->idle_until = 0;
}

/* Whether conv has as many batches in flight as it may have (conv_depth). */
static bool conv_busy(const struct lane *ln, const char *conv)
{
	size_t n = 0;
	for (const struct batch *b = ln->batches; b; b = b->next)
		if (b->n && b->rows[0].conv && strcmp(b->rows[0].conv, conv) == 0 && ++n >= ln->conv_depth)
			return true;
	return false;
}

/* Takes rows[0..n) into a new batch, cutting it at a record that must go alone. */
static struct batch *make_batch(struct loader *L, struct lane *ln, struct load_row *rows, size_t n)
{
	size_t take = 1;
	if (rows[0].last_code != LOAD_CODE_SOLO)
		while (take < n && rows[take].last_code != LOAD_CODE_SOLO)
			take++;
	if (take < n) {
		for (size_t i = take; i < n; i++) {
			free(rows[i].conv);
			free(rows[i].payload);
		}
	}
	struct batch *b = calloc(1, sizeof *b);
	if (!b) {
		load_rows_free(rows, take);
		return NULL;
	}
	b->L = L;
	b->lane = ln;
	b->rows = rows;
	b->n = take;
	for (size_t i = 0; i < take; i++)
		if (rows[i].last_code == LOAD_CODE_RESEND)
			b->resend = true;
	return b;
}

static struct batch *next_by_id(struct loader *L, struct lane *ln, char *err, size_t err_size)
{
	for (int pass = 0; pass < 2; pass++) {
		struct load_row *rows;
		size_t n;
		if (load_stage_fetch_by_id(L->st, ln->ki->name, ln->id_cursor, (int64_t)time(NULL), ln->max_items,
					   &rows, &n, err, err_size) < 0)
			return NULL;
		if (n == 0) {
			free(rows);
			if (ln->id_cursor == 0)
				return NULL;
			ln->id_cursor = 0; /* retried records sit behind the cursor */
			continue;
		}
		struct batch *b = make_batch(L, ln, rows, n);
		if (b)
			ln->id_cursor = b->rows[b->n - 1].id;
		return b;
	}
	return NULL;
}

static void free_prio(struct lane *ln)
{
	for (size_t i = 0; i < ln->nprio; i++)
		free(ln->prio[i]);
	free(ln->prio);
	ln->prio = NULL;
	ln->nprio = 0;
}

/* A batch from the biggest conversations that are free, or NULL. */
static struct batch *next_by_priority(struct loader *L, struct lane *ln, int64_t now, char *err, size_t err_size)
{
	double mono = im_pace_now();
	if (ln->prio_at == 0 || mono - ln->prio_at > PRIO_REFRESH) {
		free_prio(ln);
		ln->prio_at = mono;
		size_t want = L->concurrency / 2;
		if (want > 64)
			want = 64;
		if (want > 0 &&
		    load_stage_biggest_convs(L->st, ln->ki->name, want, &ln->prio, &ln->nprio, err, err_size) < 0)
			return NULL;
	}
	for (size_t i = 0; i < ln->nprio; i++) {
		if (!ln->prio[i] || conv_busy(ln, ln->prio[i]))
			continue;
		struct load_row *rows;
		size_t n;
		if (load_stage_conv_head(L->st, ln->ki->name, ln->prio[i], ln->max_items, &rows, &n, err, err_size) < 0)
			return NULL;
		if (n == 0) {
			free(ln->prio[i]); /* finished (or all dead) */
			ln->prio[i] = NULL;
			free(rows);
			continue;
		}
		if (rows[0].retry_at > now) {
			load_rows_free(rows, n);
			continue;
		}
		return make_batch(L, ln, rows, n);
	}
	return NULL;
}

static struct batch *next_by_conv(struct loader *L, struct lane *ln, char *err, size_t err_size)
{
	int64_t now = (int64_t)time(NULL);
	bool wrapped = false;
	struct batch *pb = next_by_priority(L, ln, now, err, err_size);
	if (pb || *err)
		return pb;
	for (int round = 0; round < 8; round++) {
		char **convs;
		size_t nc;
		if (load_stage_next_convs(L->st, ln->ki->name, ln->conv_cursor ? ln->conv_cursor : "", CONV_SCAN,
					  &convs, &nc, err, err_size) < 0)
			return NULL;
		struct batch *found = NULL;
		size_t i;
		for (i = 0; i < nc && !found; i++) {
			if (conv_busy(ln, convs[i]))
				continue;
			struct load_row *rows;
			size_t n;
			if (load_stage_conv_head(L->st, ln->ki->name, convs[i], ln->max_items, &rows, &n, err,
						 err_size) < 0)
				break;
			if (n == 0 || rows[0].retry_at > now) {
				/* The head decides: later records never overtake it. */
				load_rows_free(rows, n);
				continue;
			}
			found = make_batch(L, ln, rows, n);
		}
		/* Continue after the conversation taken (or the last one looked at). */
		if (nc > 0) {
			free(ln->conv_cursor);
			ln->conv_cursor = strdup(convs[found ? i - 1 : nc - 1]);
		}
		for (size_t j = 0; j < nc; j++)
			free(convs[j]);
		free(convs);
		if (found || *err)
			return found;
		if (nc < CONV_SCAN) {
			if (wrapped)
				return NULL;
			wrapped = true;
			free(ln->conv_cursor);
			ln->conv_cursor = NULL;
		}
	}
	return NULL;
}

/* Early mode: a batch from the conversations the kind waited for is done with. */
static struct batch *next_ready(struct loader *L, struct lane *ln, char *err, size_t err_size)
{
	if (!ln->ready_seeded) {
		char **convs;
		size_t n;
		int dep = conv_dep_open(L, ln);
		if (dep < 0)
			return NULL;
		if (load_stage_ready_convs(L->st, ln->ki->name, im_kind_info(dep)->name, READY_MAX, &convs, &n, err,
					   err_size) < 0)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			push_ready(ln, convs[i]);
			free(convs[i]);
		}
		free(convs);
		ln->ready_seeded = true;
	}
	int64_t now = (int64_t)time(NULL);
	while (ln->nready > 0) {
		char *conv = ln->ready[ln->nready - 1];
		struct load_row *rows;
		size_t n;
		if (load_stage_conv_head(L->st, ln->ki->name, conv, ln->max_items, &rows, &n, err, err_size) < 0)
			return NULL;
		if (n > 0 && rows[0].retry_at <= now)
			return make_batch(L, ln, rows, n); /* the conversation stays queued until drained */
		/* Drained, or deferred (then served once the kind it waits for ends). */
		load_rows_free(rows, n);
		free(conv);
		ln->nready--;
	}
	return NULL;
}

/* b (of a kind others wait for per conversation) settled: queue its
 * conversations that are now done for the lanes waiting on them. */
static void conv_done(struct loader *L, const struct lane *ln, const struct batch *b)
{
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		struct lane *w = &L->lanes[k];
		if (!(w->ki->conv_deps & (1u << ln->kind)) || !w->early || !w->ready_seeded)
			continue;
		for (size_t i = 0; i < b->n; i++) {
			const char *conv = b->rows[i].conv;
			if (!conv || (i > 0 && b->rows[i - 1].conv && strcmp(b->rows[i - 1].conv, conv) == 0))
				continue;
			char err[512] = "";
			int open = load_stage_conv_open(L->st, ln->ki->name, conv, err, sizeof err);
			if (open < 0) {
				L->stage_failed = true;
				set_fatal(L, "%s", err);
				return;
			}
			if (open == 0)
				push_ready(w, conv);
		}
	}
}

static void on_answer(void *arg, const struct im_tim_reply *reply);
static void settle(struct batch *b, struct load_settle *s);
static void dead_reason(char *out, size_t size, long code, const char *info, const char *extra);

static void requeue_all(struct batch *b, int64_t code, int64_t retry_at)
{
	struct load_settle *s = calloc(b->n, sizeof *s);
	if (!s)
		return;
	for (size_t i = 0; i < b->n; i++) {
		s[i].id = b->rows[i].id;
		s[i].fate = LOAD_REQUEUE;
		s[i].attempts = b->rows[i].attempts;
		s[i].code = code;
		s[i].retry_at = retry_at;
	}
	settle(b, s);
	free(s);
}

static int submit_json(struct batch *b, const char *service, const char *command, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return -1;
	/* import_group answers a second copy with "id taken" (10021), which cannot be
	 * told from a real conflict: never let the transport resend it unseen. */
	unsigned flags = b->lane->kind == IM_KIND_GROUP && !b->probe ? IM_TIM_FRESH_CONNECTION : 0;
	int rc = im_tim_submit_flags(b->L->tim, service, command, text, strlen(text), flags, on_answer, b);
	free(text);
	return rc;
}

static int submit_probe(struct batch *b)
{
	json_t *body = json_object();
	size_t want = b->n > 20 ? b->n : 20;
	json_object_set_new(body, "GroupId", json_string(b->rows[0].conv));
	json_object_set_new(body, "ReqMsgNumber", json_integer((json_int_t)want));
	b->probe = true;
	b->probe_tries++;
	int rc = submit_json(b, "group_open_http_svc", "group_msg_get_simple", body);
	json_decref(body);
	if (rc == 0)
		b->lane->stats->calls++;
	return rc;
}

static int parse_records(struct batch *b, char *err, size_t err_size)
{
	b->recs = calloc(b->n, sizeof *b->recs);
	if (!b->recs) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < b->n; i++) {
		json_error_t je;
		b->recs[i] = json_loads(b->rows[i].payload ? b->rows[i].payload : "", 0, &je);
		if (!json_is_object(b->recs[i])) {
			snprintf(err, err_size, "staged record %lld is not a JSON object: %s", (long long)b->rows[i].id,
				 je.text);
			return -1;
		}
	}
	return 0;
}

/* Marks b in flight, then sends it. Returns 0 when sent (or settled without a
 * request), -1 on a stage failure (fatal). */
static int send_batch(struct loader *L, struct lane *ln, struct batch *b)
{
	char err[512] = "";
	b->id = ++L->next_batch;
	int64_t *ids = malloc(b->n * sizeof *ids);
	if (!ids)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		ids[i] = b->rows[i].id;
	int rc = load_stage_mark_inflight(L->st, b->id, ids, b->n, err, sizeof err);
	free(ids);
	if (rc < 0) {
		L->stage_failed = true;
		set_fatal(L, "%s", err);
		batch_free(b);
		return -1;
	}
	lane_link(ln, b);
	for (size_t i = 0; i < b->n; i++)
		if (b->rows[i].attempts > 0)
			ln->stats->retries++;
	json_t *body = NULL;
	if (parse_records(b, err, sizeof err) == 0)
		body = im_batch_body(ln->kind, b->recs, b->n, err, sizeof err);
	if (!body) {
		/* The stage validated these records; a body that cannot be built is a
		 * record problem, not a transport one. */
		struct load_settle *s = calloc(b->n, sizeof *s);
		for (size_t i = 0; s && i < b->n; i++)
			s[i] = (struct load_settle){.id = b->rows[i].id, .raw_id = b->rows[i].raw_id, .fate = LOAD_DEAD,
						    .attempts = b->rows[i].attempts, .kind = ln->ki->name,
						    .payload = b->rows[i].payload, .reason = err};
		if (s)
			settle(b, s);
		free(s);
		return 0;
	}
	if (b->resend && ln->kind == IM_KIND_GROUP_MSG && b->probe_tries == 0) {
		/* Never resend group messages blindly: check what landed first. */
		json_decref(body);
		if (submit_probe(b) < 0) {
			set_fatal(L, "cannot set up a request for %s", ln->ki->command);
			requeue_all(b, LOAD_CODE_RESEND, 0);
		}
		return 0;
	}
	rc = submit_json(b, ln->ki->service, ln->ki->command, body);
	json_decref(body);
	if (rc < 0) {
		set_fatal(L, "cannot set up a request for %s", ln->ki->command);
		requeue_all(b, b->resend ? LOAD_CODE_RESEND : 0, 0);
		return -1;
	}
	ln->stats->calls++;
	im_debug("batch %lld: %zu %s record%s of conversation %s", (long long)b->id, b->n, ln->ki->name,
		 b->n == 1 ? "" : "s", b->rows[0].conv ? b->rows[0].conv : "-");
	return 0;
}

/* Writes the fates in one transaction, counts them, and frees b. */
static void settle(struct batch *b, struct load_settle *s)
{
	struct loader *L = b->L;
	struct lane *ln = b->lane;
	char err[512] = "";
	for (size_t i = 0; i < b->n; i++) {
		s[i].raw_id = b->rows[i].raw_id;
		s[i].kind = ln->ki->name;
		s[i].payload = b->rows[i].payload;
	}
	if (!im_stage_in_transaction(L->st) && im_stage_begin(L->st, err, sizeof err) < 0) {
		L->stage_failed = true;
		set_fatal(L, "%s", err);
	} else if (load_stage_settle(L->st, s, b->n, err, sizeof err) < 0) {
		L->stage_failed = true;
		set_fatal(L, "%s", err);
	} else {
		for (size_t i = 0; i < b->n; i++) {
			if (s[i].fate == LOAD_LANDED)
				ln->stats->landed++;
			else if (s[i].fate == LOAD_DEAD)
				ln->stats->dead++;
		}
		conv_done(L, ln, b);
	}
	lane_unlink(ln, b);
	batch_free(b);
}

static void dead_reason(char *out, size_t size, long code, const char *info, const char *extra)
{
	snprintf(out, size, "%s %ld: %s%s%s%s%s", code < 0 ? "code" : "error", code, im_code_meaning(code),
		 info && *info ? " (" : "", info && *info ? info : "", info && *info ? ")" : "", extra ? extra : "");
}

/* A transient failure of the whole batch: retry each record later, or give up
 * after max_attempts. */
static void fail_transient(struct batch *b, const struct im_verdict *v, struct load_settle *s, char (*reasons)[320])
{
	struct loader *L = b->L;
	for (size_t i = 0; i < b->n; i++) {
		int attempts = b->rows[i].attempts + 1;
		s[i].id = b->rows[i].id;
		s[i].attempts = attempts;
		if (attempts >= L->max_attempts) {
			s[i].fate = LOAD_DEAD;
			s[i].code = v->code;
			snprintf(reasons[i], sizeof reasons[i], "gave up after %d attempts: %s", attempts, v->message);
			s[i].reason = reasons[i];
		} else {
			s[i].fate = LOAD_RETRY;
			s[i].code = v->uncertain || b->resend ? LOAD_CODE_RESEND : v->code;
			s[i].retry_at = retry_time(L, attempts);
		}
	}
}

/* group_msg_get_simple answered: what of b landed? */
static void on_probe(struct batch *b, const struct im_verdict *v, json_t *resp)
{
	struct loader *L = b->L;
	struct load_settle *s = calloc(b->n, sizeof *s);
	if (!s)
		return;
	if (v->outcome == IM_OUTCOME_OK) {
		json_t *list = json_object_get(resp, "RspMsgList");
		char(*reasons)[320] = b->item_codes ? calloc(b->n, sizeof *reasons) : NULL;
		for (size_t i = 0; i < b->n; i++) {
			json_t *r = b->recs[i];
			const char *from = json_string_value(json_object_get(r, "From_Account"));
			json_int_t rnd = json_integer_value(json_object_get(r, "Random"));
			json_int_t t = json_integer_value(json_object_get(r, "SendTime"));
			bool there = false;
			size_t j;
			json_t *m;
			json_array_foreach(list, j, m) {
				const char *mf = json_string_value(json_object_get(m, "From_Account"));
				if (mf && from && strcmp(mf, from) == 0 &&
				    json_integer_value(json_object_get(m, "MsgRandom")) == rnd &&
				    json_integer_value(json_object_get(m, "MsgTimeStamp")) == t) {
					there = true;
					break;
				}
			}
			s[i].id = b->rows[i].id;
			s[i].attempts = b->rows[i].attempts;
			if (b->item_codes) {
				/* Checking an answer: landed items and copies found stay landed. */
				long code = b->item_codes[i];
				s[i].attempts++;
				if (code == 0 || there) {
					s[i].fate = LOAD_LANDED;
				} else {
					s[i].fate = LOAD_DEAD;
					s[i].code = code;
					if (reasons) {
						dead_reason(reasons[i], sizeof reasons[i], code, NULL, NULL);
						s[i].reason = reasons[i];
					}
				}
			} else if (there) {
				s[i].fate = LOAD_LANDED;
			} else {
				/* Certainly not there: the resend is a first send again. */
				s[i].fate = LOAD_REQUEUE;
				s[i].code = 0;
			}
		}
		settle(b, s);
		free(s);
		free(reasons);
		return;
	}
	if ((v->outcome == IM_OUTCOME_TRANSIENT || v->outcome == IM_OUTCOME_RATE_LIMITED ||
	     v->outcome == IM_OUTCOME_USERSIG) &&
	    b->probe_tries < PROBE_TRIES && !L->fatal) {
		free(s);
		/* Stay in flight (the conversation stays blocked) and ask again. */
		if (submit_probe(b) == 0)
			return;
		s = calloc(b->n, sizeof *s);
		if (!s)
			return;
	}
	if (b->item_codes) {
		/* The answer stands as given: items it refused are dead letters. */
		char(*reasons)[320] = calloc(b->n, sizeof *reasons);
		for (size_t i = 0; i < b->n; i++) {
			long code = b->item_codes[i];
			s[i] = (struct load_settle){.id = b->rows[i].id, .attempts = b->rows[i].attempts + 1,
						    .fate = code ? LOAD_DEAD : LOAD_LANDED, .code = code};
			if (code && reasons) {
				dead_reason(reasons[i], sizeof reasons[i], code, NULL,
					    " (could not check whether an earlier copy landed)");
				s[i].reason = reasons[i];
			}
		}
		settle(b, s);
		free(s);
		free(reasons);
		return;
	}
	if (!L->warned_probe) {
		im_warn("cannot check which group messages landed (group_msg_get_simple: %s); resending them, "
			"the target may hold duplicates",
			v->message);
		L->warned_probe = true;
	}
	for (size_t i = 0; i < b->n; i++)
		s[i] = (struct load_settle){.id = b->rows[i].id, .fate = LOAD_REQUEUE, .attempts = b->rows[i].attempts};
	settle(b, s);
	free(s);
}

/* UserSig bookkeeping for every answer: a refusal (70001) of the UserSig in use
 * signs a new one (once for all the requests that carried it); an answer that
 * accepted the newest UserSig shows the clocks agree. */
static void on_usersig(struct loader *L, const struct im_tim_reply *reply, const struct im_verdict *v)
{
	if (v->outcome != IM_OUTCOME_USERSIG) {
		if (reply->http_status == 200 && v->outcome != IM_OUTCOME_AUTH &&
		    reply->usersig_gen == im_tim_usersig_gen(L->tim))
			L->usersig_strikes = 0;
		return;
	}
	int rc = im_tim_usersig_rejected(L->tim, reply);
	if (rc < 0) {
		set_fatal(L, "cannot sign a new UserSig");
	} else if (rc > 0 && ++L->usersig_strikes >= USERSIG_STRIKES) {
		set_fatal(L, "the service rejects freshly signed UserSigs as expired: check this machine's clock");
	} else if (rc > 0) {
		im_info("the service says the UserSig expired (70001): signed a new one, resending");
	}
}

static void on_answer(void *arg, const struct im_tim_reply *reply)
{
	struct batch *b = arg;
	struct loader *L = b->L;
	struct lane *ln = b->lane;
	struct im_answer a = {reply->curl_code, reply->http_status, reply->body, reply->body_len};
	struct im_verdict v;
	json_t *resp = NULL;
	im_classify_answer(&a, &v, &resp);
	if (reply->http_status != 0) {
		L->last_reply = im_pace_now();
		L->unreachable = 0;
	}
	on_usersig(L, reply, &v);
	if (b->probe) {
		b->probe = false;
		on_probe(b, &v, resp);
		json_decref(resp);
		return;
	}
	struct load_settle *s = calloc(b->n, sizeof *s);
	char(*reasons)[320] = calloc(b->n, sizeof *reasons);
	long *codes = calloc(b->n, sizeof *codes);
	const char **infos = calloc(b->n, sizeof *infos);
	if (!s || !reasons || !codes || !infos) {
		set_fatal(L, "out of memory");
		goto out;
	}
	double now = im_pace_now();
	/* import_group says the id is taken when our own earlier send landed. */
	if (v.outcome == IM_OUTCOME_PERMANENT && ln->kind == IM_KIND_GROUP &&
	    (v.code == 10025 || (v.code == 10021 && b->resend)))
		v.outcome = IM_OUTCOME_OK;
	switch (v.outcome) {
	case IM_OUTCOME_OK:
		if (resp)
			im_batch_results(ln->kind, resp, b->recs, b->n, codes, infos);
		if (ln->kind == IM_KIND_GROUP_MSG) {
			bool check = false;
			for (size_t i = 0; i < b->n; i++)
				check |= codes[i] == 10004;
			/* "Not after the latest message" is also what an unseen earlier copy
			 * of this very call produces: look before dead-lettering. */
			if (check) {
				b->item_codes = codes;
				codes = NULL;
				b->probe_tries = 0;
				if (submit_probe(b) == 0) {
					free(s);
					free(reasons);
					free(infos);
					json_decref(resp);
					return;
				}
				codes = b->item_codes;
				b->item_codes = NULL;
			}
		}
		for (size_t i = 0; i < b->n; i++) {
			s[i].id = b->rows[i].id;
			s[i].attempts = b->rows[i].attempts + 1;
			if (codes[i] == 0) {
				s[i].fate = LOAD_LANDED;
			} else if (im_classify_item_code(codes[i]) == IM_OUTCOME_TRANSIENT &&
				   s[i].attempts < L->max_attempts) {
				s[i].fate = LOAD_RETRY;
				s[i].code = codes[i];
				s[i].retry_at = retry_time(L, s[i].attempts);
			} else {
				s[i].fate = LOAD_DEAD;
				s[i].code = codes[i];
				dead_reason(reasons[i], sizeof reasons[i], codes[i], infos[i], NULL);
				s[i].reason = reasons[i];
			}
		}
		break;
	case IM_OUTCOME_RATE_LIMITED:
		ln->stats->throttled++;
		im_pace_throttled(&ln->pace, now);
		for (size_t i = 0; i < b->n; i++)
			s[i] = (struct load_settle){.id = b->rows[i].id, .fate = LOAD_REQUEUE,
						    .attempts = b->rows[i].attempts,
						    .code = b->resend ? LOAD_CODE_RESEND : v.code,
						    .retry_at = v.min_wait > 0 ? (int64_t)time(NULL) + (int64_t)v.min_wait : 0};
		break;
	case IM_OUTCOME_USERSIG:
		/* A new UserSig is signed already (on_usersig): send again, uncharged. */
		for (size_t i = 0; i < b->n; i++)
			s[i] = (struct load_settle){.id = b->rows[i].id, .fate = LOAD_REQUEUE,
						    .attempts = b->rows[i].attempts,
						    .code = b->resend ? LOAD_CODE_RESEND : 0};
		break;
	case IM_OUTCOME_AUTH:
	case IM_OUTCOME_CONFIG:
		set_fatal(L, "%s/%s: %s", ln->ki->service, ln->ki->command, v.message);
		for (size_t i = 0; i < b->n; i++)
			s[i] = (struct load_settle){.id = b->rows[i].id, .fate = LOAD_REQUEUE,
						    .attempts = b->rows[i].attempts,
						    .code = b->resend ? LOAD_CODE_RESEND : v.code};
		break;
	case IM_OUTCOME_TRANSIENT:
		im_debug("%s/%s: %s (batch %lld, will retry)", ln->ki->service, ln->ki->command, v.message,
			 (long long)b->id);
		if (v.kind == IM_CODE_CURL && !v.uncertain) {
			/* Never reached the service: an outage is not the records' fault. Wait
			 * and retry without charging them; give up on the run, not on them. */
			L->unreachable++;
			if (now - L->last_reply > L->unreachable_timeout && L->unreachable >= 3)
				set_fatal(L, "no answer from the endpoint for %.0f s (%s): check target.endpoint and "
					     "the network, then run again",
					  now - L->last_reply, v.message);
			for (size_t i = 0; i < b->n; i++)
				s[i] = (struct load_settle){.id = b->rows[i].id, .fate = LOAD_REQUEUE,
							    .attempts = b->rows[i].attempts,
							    .code = b->resend ? LOAD_CODE_RESEND : v.code,
							    /* at least a second: refusals come back at once */
							    .retry_at = 1 + retry_time(L, L->unreachable < 6 ? (int)L->unreachable : 6)};
			break;
		}
		if (ln->kind == IM_KIND_GROUP_MSG && (v.uncertain || b->resend) &&
		    b->rows[0].attempts + 1 < L->max_attempts) {
			/* Group messages are not idempotent: find out what landed first. */
			free(s);
			free(reasons);
			free(codes);
			free(infos);
			for (size_t i = 0; i < b->n; i++)
				b->rows[i].attempts++;
			b->probe_tries = 0;
			if (submit_probe(b) == 0) {
				json_decref(resp);
				return;
			}
			s = calloc(b->n, sizeof *s);
			reasons = calloc(b->n, sizeof *reasons);
			if (!s || !reasons) {
				set_fatal(L, "out of memory");
				goto out;
			}
		}
		fail_transient(b, &v, s, reasons);
		break;
	case IM_OUTCOME_PERMANENT:
		for (size_t i = 0; i < b->n; i++) {
			s[i].id = b->rows[i].id;
			s[i].attempts = b->rows[i].attempts + 1;
			if (b->n > 1) {
				/* One bad record fails its whole call: send each alone to find it. */
				s[i].fate = LOAD_REQUEUE;
				s[i].code = LOAD_CODE_SOLO;
			} else {
				s[i].fate = LOAD_DEAD;
				s[i].code = v.code;
				snprintf(reasons[i], sizeof reasons[i], "%s", v.message);
				s[i].reason = reasons[i];
			}
		}
		break;
	}
	settle(b, s);
	b = NULL;
out:
	if (b) {
		/* Could not settle: leave the records in flight for the next run's recovery. */
		lane_unlink(ln, b);
		batch_free(b);
	}
	free(s);
	free(reasons);
	free(codes);
	free(infos);
	json_decref(resp);
}

/* Fills free request slots with ln's work. Returns the seconds until ln could
 * send again when it is waiting for its bucket or for deferred records, else a
 * large value. */
static double fill_lane(struct loader *L, struct lane *ln, double now)
{
	char err[512];
	while (L->in_flight < L->concurrency && !L->fatal && !stop_requested) {
		if (ln->idle_until > now)
			return ln->idle_until - now;
		double wait;
		if (im_pace_take(&ln->pace, now, &wait) < 0)
			return wait;
		err[0] = '\0';
		struct batch *b = ln->early	   ? next_ready(L, ln, err, sizeof err)
				  : ln->conv_mode ? next_by_conv(L, ln, err, sizeof err)
						  : next_by_id(L, ln, err, sizeof err);
		if (!b) {
			im_pace_give_back(&ln->pace);
			if (*err) {
				set_fatal(L, "%s", err);
				return 1.0;
			}
			if (ln->early) {
				/* Woken by push_ready, or by the kind it waits for finishing. */
				ln->idle_until = now + 0.5;
				return 0.5;
			}
			if (ln->in_flight == 0) {
				int64_t left = load_stage_remaining(L->st, ln->ki->name);
				if (left == 0) {
					ln->finished = true;
					ln->stats->ended = now;
					return 1e9;
				}
				int64_t at = load_stage_next_retry(L->st, ln->ki->name);
				double d = at > 0 ? (double)(at - (int64_t)time(NULL)) : 0.05;
				ln->idle_until = now + (d > 0.05 ? d : 0.05);
			} else {
				/* Everything left waits for a conversation in flight. */
				ln->idle_until = now + 0.5;
			}
			return ln->idle_until - now;
		}
		if (send_batch(L, ln, b) < 0)
			return 1.0;
	}
	return 1e9;
}

static int recover_batch(void *arg, int64_t batch_id, const char *kind_name)
{
	struct loader *L = arg;
	char err[512] = "";
	if (strcmp(kind_name, im_kind_info(IM_KIND_GROUP_MSG)->name) != 0)
		return 0;
	struct lane *ln = &L->lanes[IM_KIND_GROUP_MSG];
	struct batch *b = calloc(1, sizeof *b);
	if (!b)
		return -1;
	b->L = L;
	b->lane = ln;
	b->id = batch_id;
	b->resend = true;
	if (load_stage_batch_rows(L->st, batch_id, &b->rows, &b->n, err, sizeof err) < 0 || b->n == 0 ||
	    parse_records(b, err, sizeof err) < 0) {
		if (*err)
			set_fatal(L, "%s", err);
		batch_free(b);
		return *err ? -1 : 0;
	}
	lane_link(ln, b);
	if (submit_probe(b) < 0) {
		set_fatal(L, "cannot set up a group_msg_get_simple request");
		return -1;
	}
	return 0;
}

/* Settles what a crashed run left in flight, before anything new is sent. */
static int recover(struct loader *L)
{
	char err[512] = "";
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (k == IM_KIND_GROUP_MSG)
			continue;
		if (load_stage_requeue_inflight(L->st, im_kind_info(k)->name, err, sizeof err) < 0) {
			set_fatal(L, "%s", err);
			return -1;
		}
	}
	if (load_stage_inflight_batches(L->st, recover_batch, L, err, sizeof err) < 0) {
		set_fatal(L, "%s", *err ? err : "cannot recover in-flight group message batches");
		return -1;
	}
	return 0;
}

/* Commits the loop's open transaction. A stage that cannot be written stops the
 * load at once: what was marked or settled since the last commit is rolled back,
 * and nothing of it was sent. */
static int commit_or_fail(struct loader *L)
{
	char err[512] = "";
	if (!L->stage_failed && im_stage_commit(L->st, err, sizeof err) == 0)
		return 0;
	im_stage_rollback(L->st);
	set_fatal(L, "%s", *err ? err : "the stage could not be written");
	return -1;
}

static double limit_for(const json_t *limits, const char *command)
{
	json_t *v = json_object_get(limits, command);
	if (json_is_number(v) && json_number_value(v) > 0)
		return json_number_value(v);
	return im_pace_default_limit(command);
}

static int setup(struct loader *L, const struct im_load_target *tg, const struct im_load_options *opt, char *err,
		 size_t err_size)
{
	if (tg->limits && !json_is_object(tg->limits)) {
		snprintf(err, err_size, "target.limits must be a table");
		return -1;
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)tg->limits, key, val) {
		bool count = strcmp(key, "concurrency") == 0 || strcmp(key, "group_msg_batch") == 0 ||
			     strcmp(key, "c2c_conv_depth") == 0;
		if (count ? !json_is_integer(val) || json_integer_value(val) < 1
			  : !json_is_number(val) || json_number_value(val) <= 0) {
			snprintf(err, err_size, "target.limits.%s must be a %s", key,
				 count ? "positive integer" : "positive number of calls per second");
			return -1;
		}
	}
	json_t *c = json_object_get(tg->limits, "concurrency");
	L->concurrency = opt->concurrency > 0 ? (size_t)opt->concurrency
			 : json_is_integer(c) && json_integer_value(c) > 0 ? (size_t)json_integer_value(c)
									     : DEFAULT_CONCURRENCY;
	L->max_attempts = opt->max_attempts > 0 ? opt->max_attempts : DEFAULT_MAX_ATTEMPTS;
	L->unreachable_timeout = opt->unreachable_timeout > 0 ? opt->unreachable_timeout : 60;
	json_t *gmb = json_object_get(tg->limits, "group_msg_batch");
	int group_msg_max = IM_GROUP_MSG_MAX_DEFAULT;
	if (gmb) {
		if (!json_is_integer(gmb) || json_integer_value(gmb) < 1 || json_integer_value(gmb) > 20) {
			snprintf(err, err_size, "target.limits.group_msg_batch must be an integer from 1 to 20");
			return -1;
		}
		group_msg_max = (int)json_integer_value(gmb);
	}
	/* One-to-one messages are imported in time order per conversation (spec
	 * §5.2), one call at a time by default. The service orders history by
	 * MsgTimeStamp itself, so an app whose history sits in a few huge
	 * conversations may allow a few calls per conversation at once. */
	json_t *depth = json_object_get(tg->limits, "c2c_conv_depth");
	size_t c2c_depth = depth ? (size_t)json_integer_value(depth) : 1;
	if (c2c_depth > 16) {
		snprintf(err, err_size, "target.limits.c2c_conv_depth must be from 1 to 16");
		return -1;
	}
	double now = im_pace_now();
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		struct lane *ln = &L->lanes[k];
		ln->conv_depth = k == IM_KIND_C2C_MSG ? c2c_depth : 1;
		ln->kind = k;
		ln->ki = im_kind_info(k);
		ln->stats = &L->stats[k];
		ln->max_items = k == IM_KIND_GROUP_MSG ? (size_t)group_msg_max : (size_t)ln->ki->max_items;
		ln->conv_mode = ln->ki->conv_field != NULL;
		ln->selected = tg->kinds == 0 || (tg->kinds & (1u << k));
		im_pace_init(&ln->pace, limit_for(tg->limits, ln->ki->command), now);
		L->stats[k].name = ln->ki->name;
		L->stats[k].selected = ln->selected;
		L->stats[k].limit = ln->pace.limit;
		L->stats[k].staged = im_stage_count(L->st, ln->ki->name, -1);
		L->stats[k].landed = im_stage_count(L->st, ln->ki->name, IM_STAGE_LANDED);
		L->stats[k].dead = im_stage_count(L->st, ln->ki->name, IM_STAGE_DEAD);
		L->stats[k].done_before = L->stats[k].landed + L->stats[k].dead;
		/* A kind left out of this load does not hold up the kinds after it. */
		if (!ln->selected)
			ln->finished = true;
	}
	return 0;
}

static void loader_close(struct loader *L)
{
	im_tim_free(L->tim); /* aborts what is still in flight: the records stay in flight */
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		struct lane *ln = &L->lanes[k];
		while (ln->batches) {
			struct batch *b = ln->batches;
			ln->batches = b->next;
			batch_free(b);
		}
		free(ln->conv_cursor);
		free_prio(ln);
		free_ready(ln);
	}
	im_progress_free(L->progress);
}

int im_load_execute(const struct im_load_target *tg, struct im_stage *stage, const struct im_load_options *opt)
{
	struct loader L = {0};
	char err[512] = "";
	L.st = stage;
	L.rng = ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid() ^ 0x2545F4914F6CDD1DULL;
	if (!tg->endpoint || !tg->admin || !tg->key || !tg->key_len || !tg->sdkappid) {
		im_error("target needs endpoint, sdkappid, admin and a key (key_file)");
		return IM_EXIT_USAGE;
	}
	if (setup(&L, tg, opt, err, sizeof err) < 0) {
		im_error("%s", err);
		return IM_EXIT_USAGE;
	}
	/* Two loaders on one stage would each take the other's in-flight batches for
	 * a crash's leftovers and resend them. */
	char lock_path[4096];
	snprintf(lock_path, sizeof lock_path, "%s-load.lock", im_stage_path(stage));
	int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		im_error("%s: %s", lock_path,
			 lock_fd < 0 ? strerror(errno) : "another immigrate is loading this stage right now");
		if (lock_fd >= 0)
			close(lock_fd);
		return IM_EXIT_FATAL;
	}
	struct im_tim_config tc = {
		.endpoint = tg->endpoint,
		.sdkappid = tg->sdkappid,
		.admin = tg->admin,
		.key = tg->key,
		.key_len = tg->key_len,
		.ca_file = tg->ca_file,
		.insecure = tg->insecure,
		.timeout_ms = tg->timeout_ms,
		.max_connections = (int)L.concurrency,
	};
	L.tim = im_tim_new(&tc, err, sizeof err);
	if (!L.tim) {
		im_error("%s", err);
		close(lock_fd);
		return IM_EXIT_FATAL;
	}
	if (load_stage_prepare(stage, err, sizeof err) < 0 ||
	    load_stage_max_batch(stage, &L.next_batch, err, sizeof err) < 0) {
		im_error("%s", err);
		im_tim_free(L.tim);
		close(lock_fd);
		return IM_EXIT_FATAL;
	}
	L.progress = im_progress_new(stderr, isatty(STDERR_FILENO), opt->quiet, opt->log_json);
	/* The total ETA uses the plan's model at the limits this load runs at
	 * (setup() has checked them; the defaults stand if the model refuses one). */
	struct im_plan_config model;
	im_plan_config_defaults(&model);
	if (im_plan_config_from_limits(&model, tg->limits, err, sizeof err) == 0) {
		model.kinds = tg->kinds;
		im_progress_set_model(L.progress, &model);
	}
	if (tg->insecure)
		im_warn("TLS verification is off for %s (target.insecure)", tg->endpoint);

	struct sigaction sa = {0}, old_int, old_term;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	stop_requested = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	double t0 = im_pace_now();
	L.last_reply = t0;
	L.last_sample = -1e9;
	recover(&L);
	bool interrupted = false;
	int rotation = 0;
	for (;;) {
		double now = im_pace_now();
		double wake = 0.1;
		bool all_done = true;
		if (stop_requested && !interrupted) {
			interrupted = true;
			im_warn("stopping: waiting for %zu request%s in flight", L.in_flight, L.in_flight == 1 ? "" : "s");
		}
		/* Rotate which lane fills first, so that with few slots (--concurrency 1)
		 * no kind waits for another independent one to finish. */
		rotation = (rotation + 1) % IM_KIND_COUNT;
		/* The transaction opened before the last poll (holding its settlements)
		 * also takes this pass's marks: one commit per turn of the loop. */
		if (!im_stage_in_transaction(stage) && im_stage_begin(stage, err, sizeof err) < 0) {
			set_fatal(&L, "%s", err);
			break;
		}
		/* In the loop's transaction: committed with what it counts. */
		if (now - L.last_sample >= (now - t0 < SAMPLE_FINE_FOR ? SAMPLE_FINE_EVERY : SAMPLE_EVERY))
			take_sample(&L);
		for (int j = 0; j < IM_KIND_COUNT && !L.fatal && !stop_requested; j++) {
			int k = (rotation + j) % IM_KIND_COUNT;
			struct lane *ln = &L.lanes[k];
			if (ln->finished || !deps_finished(&L, ln))
				continue;
			bool early = conv_dep_open(&L, ln) >= 0;
			if (ln->early && !early) {
				/* The kind it waited for has finished: everything left is due. */
				free_ready(ln);
				ln->id_cursor = 0;
				ln->idle_until = 0;
			}
			ln->early = early;
			if (ln->stats->started == 0)
				ln->stats->started = now;
			if (k == IM_KIND_GROUP_UNREAD && !L.derived_unread) {
				char err2[512] = "";
				int64_t added = 0;
				L.derived_unread = true;
				if (load_stage_derive_member_unread(stage, &added, err2, sizeof err2) < 0) {
					L.stage_failed = true;
					set_fatal(&L, "%s", err2);
					break;
				}
				if (added > 0) {
					im_info("restoring the unread counts of %lld group members (group history reset them)",
						(long long)added);
					ln->stats->staged = im_stage_count(stage, ln->ki->name, -1);
				}
			}
			double w = fill_lane(&L, ln, now);
			if (w < wake)
				wake = w;
		}
		/* The batches of this pass are in flight in the stage before any byte of
		 * them leaves: libcurl only sends from im_tim_run. */
		if (im_stage_in_transaction(stage) && commit_or_fail(&L) < 0)
			break;
		for (int k = 0; k < IM_KIND_COUNT; k++)
			all_done &= L.lanes[k].finished;
		if ((all_done || L.fatal || stop_requested) && L.in_flight == 0)
			break;
		int ms = (int)ceil(wake * 1000.0);
		if (ms < 1)
			ms = 1;
		if (ms > 100)
			ms = 100;
		/* Answers settle in a transaction (opened by the first settlement, so the
		 * stage is not locked while waiting) committed with the next pass's marks;
		 * killed before that, their records are still in flight and recovery
		 * resends them. */
		int got = im_tim_run(L.tim, ms);
		if (L.stage_failed) {
			commit_or_fail(&L);
			break;
		}
		if (got < 0) {
			set_fatal(&L, "libcurl multi interface failed");
			break;
		}
		im_progress_update(L.progress, L.stats, im_pace_now(), false);
	}
	/* Settlements still open are kept; after a stage failure nothing is. */
	if (im_stage_in_transaction(stage) && !L.stage_failed)
		commit_or_fail(&L);
	if (im_stage_in_transaction(stage))
		im_stage_rollback(stage);
	double wall = im_pace_now() - t0;
	im_progress_update(L.progress, L.stats, im_pace_now(), true);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	loader_close(&L);
	close(lock_fd);
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		L.stats[k].landed = im_stage_count(stage, L.stats[k].name, IM_STAGE_LANDED);
		L.stats[k].dead = im_stage_count(stage, L.stats[k].name, IM_STAGE_DEAD);
	}
	/* The last sample: where the load ended (nothing after a stage failure). */
	if (!L.stage_failed)
		take_sample(&L);
	if (!opt->no_summary)
		im_progress_summary(stdout, L.stats, wall, opt->log_json);
	if (L.fatal)
		return IM_EXIT_FATAL;
	if (interrupted) {
		im_warn("interrupted: run the job again to resume where it stopped");
		return IM_EXIT_FATAL;
	}
	/* Dead letters of every stage (parse, script, validate, api) not yet replayed. */
	return im_stage_count_dead(stage, NULL) > 0 ? IM_EXIT_DEAD_LETTERS : IM_EXIT_OK;
}
