/* The time model of a migration (see plan.h). */
#include "config.h"

#include "plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pace.h"

static void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;
	if (!err || !err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

void im_plan_config_defaults(struct im_plan_config *c)
{
	memset(c, 0, sizeof *c);
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		const struct im_kind_info *ki = im_kind_info(k);
		c->limit[k] = im_pace_default_limit(ki->command);
		c->batch[k] = ki->max_items > 0 ? ki->max_items : 1;
	}
}

/* Editions and the limits the spec gives for them (§3.2 70398, §6.1, §8.3). 0 = none
 * documented. */
static const struct im_plan_edition editions[] = {
	{"free", 100, 100, 20, 20, 7},
	{"trial", 100, 100, 20, 20, 7},
	{"standard", 0, 0, 200, 2000, 7},
	{"pro", 0, 0, 200, 2000, 30},
	{"pro_plus", 0, 0, 2000, 6000, 90},
	{"enterprise", 0, 0, 2000, 6000, 90},
	{"ultimate", 0, 0, 2000, 6000, 0},
};

const struct im_plan_edition *im_plan_edition(const char *name)
{
	for (size_t i = 0; name && i < sizeof editions / sizeof editions[0]; i++)
		if (strcmp(editions[i].name, name) == 0)
			return &editions[i];
	return NULL;
}

int im_plan_config_from_target(struct im_plan_config *c, const json_t *target, char *err, size_t err_size)
{
	if (!target || json_is_null(target))
		return 0;
	if (!json_is_object(target)) {
		set_err(err, err_size, "target: expected a table");
		return -1;
	}
	const json_t *plan = json_object_get(target, "plan");
	if (plan) {
		const char *name = json_string_value(plan);
		if (!name || !im_plan_edition(name) || strlen(name) >= sizeof c->edition) {
			set_err(err, err_size,
				"target.plan: expected one of \"free\", \"trial\", \"standard\", \"pro\", "
				"\"pro_plus\", \"enterprise\", \"ultimate\"");
			return -1;
		}
		snprintf(c->edition, sizeof c->edition, "%s", name);
	}
	const json_t *limits = json_object_get(target, "limits");
	if (!limits || json_is_null(limits))
		return 0;
	if (!json_is_object(limits)) {
		set_err(err, err_size, "target.limits: expected a table of API name = calls per second");
		return -1;
	}
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)limits, key, val) {
		if (!json_is_number(val)) {
			set_err(err, err_size, "target.limits.%s: expected a number", key);
			return -1;
		}
		double v = json_number_value(val);
		if (strcmp(key, "group_msg_batch") == 0) {
			if (!json_is_integer(val) || v < 1 || v > 20) {
				set_err(err, err_size, "target.limits.group_msg_batch: expected an integer 1..20");
				return -1;
			}
			c->batch[IM_KIND_GROUP_MSG] = (int)v;
			continue;
		}
		if (!(v > 0) || !isfinite(v)) {
			set_err(err, err_size, "target.limits.%s: expected calls per second > 0", key);
			return -1;
		}
		for (int k = 0; k < IM_KIND_COUNT; k++)
			if (strcmp(im_kind_info(k)->command, key) == 0)
				c->limit[k] = v;
	}
	return 0;
}

int im_plan_config_from_limits(struct im_plan_config *c, const json_t *limits, char *err, size_t err_size)
{
	if (!limits || json_is_null(limits))
		return 0;
	json_t *target = json_pack("{s:O}", "limits", (json_t *)limits);
	if (!target) {
		set_err(err, err_size, "out of memory");
		return -1;
	}
	int rc = im_plan_config_from_target(c, target, err, err_size);
	json_decref(target);
	return rc;
}

/* Kinds whose calls carry many records of one conversation (friends of one user,
 * members or messages of one group). */
static int batched_by_conv(enum im_kind k)
{
	const struct im_kind_info *ki = im_kind_info(k);
	return ki->conv_field && *ki->conv_field && ki->max_items > 1;
}

/* Kinds whose calls are serialised per conversation (one in flight per conv). */
static int serialised(enum im_kind k)
{
	return im_kind_info(k)->conv_field != NULL;
}

static int64_t ceil_div(int64_t n, int64_t d)
{
	return d > 0 ? (n + d - 1) / d : n;
}

int64_t im_plan_calls_for(const struct im_plan_config *c, enum im_kind kind, int64_t n, int64_t convs)
{
	if (n <= 0)
		return 0;
	int64_t b = c->batch[kind] > 0 ? c->batch[kind] : 1;
	int64_t calls = ceil_div(n, b);
	/* Every conversation starts a call of its own: at least one call per conv. */
	if (batched_by_conv(kind) && convs > calls)
		calls = convs < n ? convs : n;
	return calls;
}

int im_plan_count(struct im_stage *st, const struct im_plan_config *c, enum im_plan_scope scope,
		  struct im_plan_work work[IM_KIND_COUNT], char *err, size_t err_size)
{
	memset(work, 0, sizeof(struct im_plan_work) * IM_KIND_COUNT);
	/* One pass per kind over the records_sched index (kind, status, conv): the
	 * inner GROUP BY walks conv in index order, so no temporary b-tree is built. */
	static const char *const sql_all =
		"SELECT COALESCE(SUM(n), 0), COALESCE(SUM((n + ?2 - 1) / ?2), 0), COUNT(*),"
		" COALESCE(MAX((n + ?2 - 1) / ?2), 0)"
		" FROM (SELECT COUNT(*) AS n FROM records WHERE kind = ?1 GROUP BY conv)";
	static const char *const sql_remaining =
		"SELECT COALESCE(SUM(n), 0), COALESCE(SUM((n + ?2 - 1) / ?2), 0), COUNT(*),"
		" COALESCE(MAX((n + ?2 - 1) / ?2), 0)"
		" FROM (SELECT COUNT(*) AS n FROM records WHERE kind = ?1 AND status IN (0, 1)"
		" GROUP BY conv)";
	sqlite3_stmt *s = im_stage_stmt(st, scope == IM_PLAN_ALL ? sql_all : sql_remaining, err, err_size);
	if (!s)
		return -1;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (c->kinds && !(c->kinds & (1u << k)))
			continue;
		/* Unbatched kinds: the "batch" of the per-conv sum is 1, so calls = records. */
		int64_t per_conv_batch = batched_by_conv(k) ? c->batch[k] : 1;
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, im_kind_info(k)->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, per_conv_batch);
		if (sqlite3_step(s) != SQLITE_ROW) {
			set_err(err, err_size, "%s: counting %s records: %s", im_stage_path(st),
				im_kind_info(k)->name, im_stage_errmsg(st));
			sqlite3_reset(s);
			return -1;
		}
		struct im_plan_work *w = &work[k];
		w->records = sqlite3_column_int64(s, 0);
		w->convs = sqlite3_column_int64(s, 2);
		if (batched_by_conv(k))
			w->calls = sqlite3_column_int64(s, 1);
		else
			w->calls = ceil_div(w->records, c->batch[k] > 0 ? c->batch[k] : 1);
		w->max_conv_calls = serialised(k) ? sqlite3_column_int64(s, 3) : 0;
	}
	sqlite3_reset(s);
	return 0;
}

static double kind_floor(const struct im_plan_config *c, int k, const struct im_plan_work *w)
{
	if (w->calls <= 0)
		return 0;
	double f = (double)w->calls / (c->limit[k] > 0 ? c->limit[k] : 1);
	double serial = (double)w->max_conv_calls * c->rtt;
	return serial > f ? serial : f;
}

void im_plan_schedule(struct im_plan *p, const struct im_plan_config *c,
		      const struct im_plan_work work[IM_KIND_COUNT])
{
	memset(p, 0, sizeof *p);
	p->config = *c;
	memcpy(p->work, work, sizeof p->work);
	for (int k = 0; k < IM_KIND_COUNT; k++)
		p->slot[k].floor = kind_floor(c, k, &work[k]);
	/* Longest path through the dependency DAG. batch.h lists kinds in dependency
	 * order, but relaxing until nothing moves keeps this right if that changes. */
	for (int pass = 0; pass < IM_KIND_COUNT; pass++) {
		int moved = 0;
		for (int k = 0; k < IM_KIND_COUNT; k++) {
			/* A dependency the sink honours per conversation (conv_deps: a read
			 * mark waits only for its own conversation's messages) lets the kind
			 * run alongside it; only its last call must follow that kind's last. */
			double start = 0, after = 0;
			const struct im_kind_info *ki = im_kind_info(k);
			for (int d = 0; d < IM_KIND_COUNT; d++) {
				if (!(ki->deps & (1u << d)) || d == k)
					continue;
				double *bound = ki->conv_deps & (1u << d) ? &after : &start;
				if (p->slot[d].end > *bound)
					*bound = p->slot[d].end;
			}
			double end = start + p->slot[k].floor;
			if (p->slot[k].floor > 0 && work[k].calls > 0) {
				double one_call = p->slot[k].floor / (double)work[k].calls;
				if (after + one_call > end)
					end = after + one_call;
			}
			if (start != p->slot[k].start || end != p->slot[k].end)
				moved = 1;
			p->slot[k].start = start;
			p->slot[k].end = end;
		}
		if (!moved)
			break;
	}
	p->critical_last = -1;
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (p->slot[k].floor > 0 && p->slot[k].end > p->total) {
			p->total = p->slot[k].end;
			p->critical_last = k;
		}
	/* Walk back from the last kind through the dependency that ended last. */
	int k = p->critical_last;
	while (k >= 0) {
		p->slot[k].critical = 1;
		int prev = -1;
		double best = 0;
		unsigned deps = im_kind_info(k)->deps;
		for (int d = 0; d < IM_KIND_COUNT; d++)
			if ((deps & (1u << d)) && d != k && !p->slot[d].critical && p->slot[d].floor > 0 &&
			    p->slot[d].end > best) {
				best = p->slot[d].end;
				prev = d;
			}
		k = prev;
	}
}

double im_plan_eta(const struct im_plan_config *c, const int64_t remaining_calls[IM_KIND_COUNT])
{
	struct im_plan_work work[IM_KIND_COUNT];
	memset(work, 0, sizeof work);
	for (int k = 0; k < IM_KIND_COUNT; k++)
		work[k].calls = remaining_calls[k] > 0 ? remaining_calls[k] : 0;
	struct im_plan p;
	im_plan_schedule(&p, c, work);
	return p.total;
}

double im_plan_eta_records(const struct im_plan_config *c, const int64_t remaining_records[IM_KIND_COUNT])
{
	int64_t calls[IM_KIND_COUNT];
	for (int k = 0; k < IM_KIND_COUNT; k++)
		calls[k] = im_plan_calls_for(c, k, remaining_records[k], 0);
	return im_plan_eta(c, calls);
}

static int64_t scale1(int64_t v, double f)
{
	return (int64_t)ceil((double)v * f);
}

void im_plan_scale(struct im_plan_work work[IM_KIND_COUNT], double factor)
{
	if (!(factor >= 0))
		return;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		work[k].records = scale1(work[k].records, factor);
		work[k].calls = scale1(work[k].calls, factor);
		work[k].convs = scale1(work[k].convs, factor);
		/* A sample shows a conversation's share of the whole, not its full length:
		 * the busiest one grows with the data too. */
		work[k].max_conv_calls = scale1(work[k].max_conv_calls, factor);
	}
}

/* JSON numbers for seconds: three decimals are plenty and keep output stable. */
static json_t *seconds_json(double s)
{
	return json_real(round(s * 1000) / 1000);
}

json_t *im_plan_to_json(const struct im_plan *p, const struct im_plan_warnings *w)
{
	json_t *root = json_object();
	json_t *kinds = json_array();
	json_t *path = json_array();
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		const struct im_kind_info *ki = im_kind_info(k);
		const struct im_plan_slot *s = &p->slot[k];
		json_array_append_new(
			kinds, json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:i, s:o, s:o, s:o, s:b}", "kind", ki->name,
					 "api", ki->command, "records", (json_int_t)p->work[k].records, "calls",
					 (json_int_t)p->work[k].calls, "conversations", (json_int_t)p->work[k].convs,
					 "rate", p->config.limit[k], "batch", p->config.batch[k], "floor",
					 seconds_json(s->floor), "start", seconds_json(s->start), "end",
					 seconds_json(s->end), "critical", s->critical));
	}
	/* The critical path in the order it runs. */
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (p->slot[k].critical)
			json_array_append_new(path, json_string(im_kind_info(k)->name));
	json_object_set_new(root, "total_seconds", seconds_json(p->total));
	char buf[32];
	json_object_set_new(root, "total", json_string(im_plan_format_duration(p->total, buf, sizeof buf)));
	json_object_set_new(root, "critical_path", path);
	json_object_set_new(root, "edition", p->config.edition[0] ? json_string(p->config.edition) : json_null());
	json_object_set_new(root, "kinds", kinds);
	if (w) {
		json_t *ws = json_array();
		for (size_t i = 0; i < w->n; i++) {
			const struct im_plan_warning *x = &w->v[i];
			json_array_append_new(ws, json_pack("{s:s, s:s, s:I, s:s, s:s}", "severity",
							    im_plan_severity_name(x->severity), "kind", x->kind,
							    "count", (json_int_t)x->count, "what", x->what,
							    "example", x->example));
		}
		json_object_set_new(root, "warnings", ws);
	}
	return root;
}

char *im_plan_format_duration(double seconds, char *buf, size_t size)
{
	if (!(seconds >= 0) || !isfinite(seconds)) {
		snprintf(buf, size, "-");
		return buf;
	}
	if (seconds < 1) {
		snprintf(buf, size, "%.2fs", seconds);
		return buf;
	}
	if (seconds < 60) {
		snprintf(buf, size, "%.1fs", seconds);
		return buf;
	}
	long long t = (long long)ceil(seconds);
	long long d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60, s = t % 60;
	if (d)
		snprintf(buf, size, "%lldd %02lld:%02lld:%02lld", d, h, m, s);
	else
		snprintf(buf, size, "%02lld:%02lld:%02lld", h, m, s);
	return buf;
}
