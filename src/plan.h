/* The time model of a migration: how many API calls each record kind needs after
 * batching, how long those calls take at the configured rate limits, and when
 * each kind can start and end given the order the sink loads them in.
 *
 * The model is a floor, not a forecast: kind k needs calls(k) / limit(k) seconds
 * (and, when a round-trip time is given, at least rtt seconds per call of its
 * largest serialised conversation, since those calls cannot overlap). Kinds run
 * as soon as every kind they depend on (batch.h: im_kind_info()->deps, the
 * sink's own table) has finished; kinds without a dependency between them use
 * different APIs and so different quotas, hence run in parallel. The migration's
 * floor is the end of the last kind; the critical path is the chain of kinds
 * that ends there.
 *
 * The same model serves `immigrate plan` (whole stage), the run's progress ETA
 * (im_plan_eta() over the remaining work) and the report (plan against actual).
 *
 * Nothing here logs. Functions returning int return 0 on success and -1 on
 * failure with a message in err (naming the stage file and the reason). */
#ifndef IMMIGRATE_PLAN_H
#define IMMIGRATE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "batch.h"
#include "stage.h"

/* What the model is computed from: per kind, the API's calls per second and the
 * records one call carries; the app's plan (edition) for the plan-limit checks;
 * an optional round-trip time. */
struct im_plan_config {
	double limit[IM_KIND_COUNT]; /* calls per second of the kind's API, > 0 */
	int batch[IM_KIND_COUNT];    /* records per call, >= 1 */
	char edition[16];	     /* "free", "pro", "ultimate"...; "" = not said */
	double rtt;		     /* seconds per serialised call; 0 = rate floor only */
	unsigned kinds;		     /* (1u << kind) of the kinds the job loads; 0 = all */
};

/* Fills c with the spec's defaults: the limits of pace.h's im_pace_default_limit()
 * (spec §1.6) and the batch maxima of batch.h's im_kind_info(); no edition; rtt 0. */
void im_plan_config_defaults(struct im_plan_config *c);

/* Applies a job's `target` table (JSON object, may be NULL): `limits` =
 * {command = calls per second, ...} (REST command names, e.g. importmsg = 400;
 * commands of no imported kind are accepted and ignored, since the sink paces
 * other APIs too), `limits.group_msg_batch` (import_group_msg records per call,
 * 1..20; the spec's conflict 7 vs 20) and `plan` ("free", "trial", "pro",
 * "pro_plus", "enterprise", "ultimate"). Returns 0, or -1 with err naming the key
 * for a value of the wrong type or out of range, or an unknown edition. */
int im_plan_config_from_target(struct im_plan_config *c, const json_t *target, char *err,
			       size_t err_size);

/* The same for target.limits alone (JSON object or NULL), as the loader holds it. */
int im_plan_config_from_limits(struct im_plan_config *c, const json_t *limits, char *err, size_t err_size);

/* An app edition and the limits the spec documents for it (0: none documented). */
struct im_plan_edition {
	const char *name;	     /* "free", "trial", "standard", "pro", "pro_plus", "enterprise", "ultimate" */
	int64_t max_accounts;	     /* 70398 beyond */
	int64_t max_groups;	     /* 10058 beyond */
	int64_t max_members;	     /* per group, default */
	int64_t max_members_raised; /* per group, once raised */
	int retention_days;	     /* history kept on the server */
};

/* The edition named name, or NULL. Static data. */
const struct im_plan_edition *im_plan_edition(const char *name);

/* The work of one kind. */
struct im_plan_work {
	int64_t records;	/* records to send */
	int64_t calls;		/* API calls after batching */
	int64_t convs;		/* distinct serialisation keys (conv) */
	int64_t max_conv_calls; /* calls of the busiest conversation (0: unknown) */
};

/* Which records im_plan_count() looks at. */
enum im_plan_scope {
	IM_PLAN_ALL,	   /* every staged record (landed and dead included): the plan */
	IM_PLAN_REMAINING, /* pending and in-flight records only: what is left to do */
};

/* Counts the stage's records per kind and the exact calls they need under c's
 * batch sizes (per conv for the kinds batched by conversation: friends and
 * blocklists per From_Account, members and group messages per group). Fills
 * work[0..IM_KIND_COUNT). Kinds outside c->kinds (when set) count as no work. */
int im_plan_count(struct im_stage *st, const struct im_plan_config *c, enum im_plan_scope scope,
		  struct im_plan_work work[IM_KIND_COUNT], char *err, size_t err_size);

/* The calls n records of kind need when they fall into convs conversations
 * (convs <= 0: unknown, then the lower bound ceil(n / batch)). For callers that
 * keep counts rather than query the stage (the progress line). */
int64_t im_plan_calls_for(const struct im_plan_config *c, enum im_kind kind, int64_t n, int64_t convs);

/* One kind in the schedule. Times are seconds from the start of the load. */
struct im_plan_slot {
	double floor; /* seconds of work at the limit */
	double start; /* when every dependency has finished */
	double end;   /* start + floor */
	int critical; /* on the critical path */
};

/* The whole plan. */
struct im_plan {
	struct im_plan_config config;
	struct im_plan_work work[IM_KIND_COUNT];
	struct im_plan_slot slot[IM_KIND_COUNT];
	double total;	   /* the migration's wall-time floor */
	int critical_last; /* the kind that ends last (-1 when there is no work) */
};

/* Schedules work under c into p (p->config and p->work are set from the arguments).
 * Pure arithmetic; cannot fail. */
void im_plan_schedule(struct im_plan *p, const struct im_plan_config *c,
		      const struct im_plan_work work[IM_KIND_COUNT]);

/* The ETA function for the progress display (H4's progress.c): the seconds still
 * needed, at least, to send remaining_calls[k] calls of every kind k under c,
 * honouring the dependency order (kinds with nothing left count as finished).
 * Equivalent to im_plan_schedule() over that work, returning total. The caller
 * may scale the result by observed/expected throughput; the model itself never
 * promises more than the limits allow. */
double im_plan_eta(const struct im_plan_config *c, const int64_t remaining_calls[IM_KIND_COUNT]);

/* im_plan_eta() from records rather than calls: remaining_records[k] records of
 * kind k, at the fewest calls they can take (ceil(n / batch)). What a progress
 * display that counts staged, landed and dead records per kind can call once a
 * second (about a microsecond). */
double im_plan_eta_records(const struct im_plan_config *c, const int64_t remaining_records[IM_KIND_COUNT]);

/* Multiplies every count in work by factor (>= 0), rounding up: the plan from a
 * sample of the source, scaled to the plugin's estimate of the whole. */
void im_plan_scale(struct im_plan_work work[IM_KIND_COUNT], double factor);

/* Warnings: what the target will refuse, or may. */
enum im_plan_severity {
	IM_PLAN_INFO = 0,   /* worth knowing (e.g. retention, [U] rules) */
	IM_PLAN_WARN = 1,   /* may be refused or lost */
	IM_PLAN_REFUSE = 2, /* will be refused */
};

struct im_plan_warning {
	enum im_plan_severity severity;
	char kind[16];	    /* record kind, or "" for the whole app */
	int64_t count;	    /* records (or users, groups) concerned */
	char what[192];	    /* what and why, naming the rule */
	char example[128];  /* one record: its conv / source id; "" when none */
};

struct im_plan_warnings {
	struct im_plan_warning *v; /* malloc'd array, owned */
	size_t n, cap;
};

/* Checks the stage for what will be refused: ids over the byte limits (UserID 32,
 * GroupId 47), messages over 12,000 bytes (refused) and over 8,000 (warned: the
 * older limit), group messages older than their group's CreateTime and members
 * joining at or before it, records of groups that are not staged, the edition's
 * limits (free: 100 accounts, 100 groups, 20 members per group; pro 200 members
 * (2,000 raised); ultimate 2,000 (6,000 raised)), friends over 3,000 and blocklist
 * over 1,000 per user, and the dead letters staging already refused, grouped by
 * reason. Appends to w (initialise with {0}); free with im_plan_warnings_free. */
int im_plan_check(struct im_stage *st, const struct im_plan_config *c, struct im_plan_warnings *w,
		  char *err, size_t err_size);

void im_plan_warnings_free(struct im_plan_warnings *w);

/* "info", "warn", "refuse". */
const char *im_plan_severity_name(enum im_plan_severity s);

/* The plan (and warnings, may be NULL) as a JSON object: {"total_seconds",
 * "critical_path": [kinds], "kinds": [{kind, api, records, calls, rate, batch,
 * floor, start, end, critical}], "warnings": [...]}. New reference; NULL only when
 * out of memory. */
json_t *im_plan_to_json(const struct im_plan *p, const struct im_plan_warnings *w);

/* Formats seconds as "3d 04:05:06", "04:05:06" or "12.3s" into buf. Returns buf. */
char *im_plan_format_duration(double seconds, char *buf, size_t size);

#endif
