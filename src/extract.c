/* The extract pipeline: plugin -> script -> validate -> stage (see extract.h). */
#include "config.h"

#include "extract.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "imval.h"
#include "job.h"
#include "jsonout.h"
#include "log.h"
#include "plugin.h"
#include "stage.h"

volatile sig_atomic_t im_extract_stop;

struct im_transform {
	struct im_script *script;
	struct im_validator *validator;
	struct im_stage *stage; /* NULL when printing */
	FILE *out;
	int64_t seq;            /* input order of the next IM record */
	int64_t first_id;       /* records.id of the first record this run staged, 0: none yet */
	char *line;             /* preview output buffer */
	size_t line_cap;
};

static int64_t max_seq(struct im_stage *st)
{
	sqlite3_stmt *s = im_stage_stmt(st, "SELECT COALESCE(MAX(seq), 0) FROM records", NULL, 0);
	if (!s)
		return 0;
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return n;
}

int im_transform_open(const struct im_job *job, struct im_stage *stage, FILE *out_fp, struct im_transform **out,
		      char *err, size_t err_size)
{
	*out = NULL;
	struct im_transform *t = calloc(1, sizeof *t);
	if (!t || !(t->validator = im_validator_new(im_job_rules(job)))) {
		free(t);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	struct im_script_config cfg = {
		.path = im_job_script_path(job),
		.options = im_job_script_options(job),
		.stage = out_fp ? NULL : stage,
		.memory_limit = im_job_script_memory(job),
		.instruction_limit = im_job_script_instructions(job),
	};
	if (im_script_open(&cfg, &t->script, err, err_size) < 0) {
		im_transform_close(t);
		return -1;
	}
	t->stage = out_fp ? NULL : stage;
	t->out = out_fp;
	t->seq = t->stage ? max_seq(t->stage) + 1 : 1;
	*out = t;
	return 0;
}

void im_transform_close(struct im_transform *t)
{
	if (!t)
		return;
	im_script_close(t->script);
	im_validator_free(t->validator);
	free(t->line);
	free(t);
}

static int dead_letter(struct im_transform *t, const struct im_stage_dead *dl, char *err, size_t err_size)
{
	if (t->stage)
		return im_stage_put_dead(t->stage, dl, NULL, err, err_size);
	fprintf(stderr, "dead letter (%s) %s%s%s%s: %s\n", dl->stage, dl->origin ? dl->origin : "",
		dl->kind ? " " : "", dl->kind ? dl->kind : "", dl->code ? "" : "", dl->reason);
	return 0;
}

/* {"kind":"c2c_msg",<payload fields>} on one line. */
static int print_record(struct im_transform *t, const struct im_prepared *p)
{
	const char *kind = im_kind_name(p->kind);
	size_t need = p->payload_len + strlen(kind) + 16;
	if (need > t->line_cap) {
		char *bigger = realloc(t->line, need);
		if (!bigger)
			return -1;
		t->line = bigger;
		t->line_cap = need;
	}
	const char *rest = p->payload_len > 2 ? p->payload + 1 : "}";
	snprintf(t->line, t->line_cap, "{\"kind\":\"%s\"%s%s", kind, p->payload_len > 2 ? "," : "", rest);
	fputs(t->line, t->out);
	fputc('\n', t->out);
	return 0;
}

/* Validates and stages (or prints) each record the script made. */
static int handle_results(struct im_transform *t, const struct imv *records, size_t n,
			  const struct im_script_input *in, int64_t raw_id, struct im_extract_stats *stats, char *err,
			  size_t err_size)
{
	for (size_t i = 0; i < n; i++) {
		const struct imv *rec = &records[i];
		stats->made++;
		char why[512];
		struct im_prepared p;
		int rc = im_record_prepare_v(t->validator, rec, t->seq, &p, why, sizeof why);
		if (rc != 0) {
			struct im_stage_dead dl = {
				.raw_id = raw_id,
				.stage = "validate",
				.kind = im_kind_name(p.kind),
				.origin = in ? in->origin : im_script_path(t->script),
				.payload = im_record_rejected_text(t->validator, rec),
				.code = rc > 0 ? rc : 0,
				.reason = why,
			};
			stats->dead_validate++;
			if (dead_letter(t, &dl, err, err_size))
				return -1;
			continue;
		}
		t->seq++;
		if (!t->stage) {
			if (print_record(t, &p) < 0) {
				snprintf(err, err_size, "out of memory");
				return -1;
			}
			stats->staged[p.kind]++;
			continue;
		}
		struct im_stage_record sr = {
			.kind = im_kind_name(p.kind),
			.conv = p.conv,
			.ord = p.ord,
			.seq = t->seq - 1,
			.payload = p.payload,
			.payload_len = p.payload_len,
			.source_id = p.source_id,
			.dedupe_key = p.dedupe_key,
			.raw_id = raw_id,
		};
		int64_t id = 0;
		int put = im_stage_put_record(t->stage, &sr, t->first_id ? NULL : &id, err, err_size);
		if (put < 0)
			return -1;
		if (put == IM_STAGE_NEW && !t->first_id)
			t->first_id = id;
		if (put == IM_STAGE_NEW)
			stats->staged[p.kind]++;
		else
			stats->duplicates++;
	}
	return 0;
}

int im_transform_native(struct im_transform *t, const struct im_script_input *in, int64_t raw_id,
			const char *raw_text, struct im_extract_stats *stats, char *err, size_t err_size)
{
	const struct imv *records;
	size_t n;
	struct im_script_failure f;
	int mapped = im_script_map_v(t->script, in, &records, &n, &f);
	if (mapped == IM_SCRIPT_BAD_INPUT) {
		/* Text the plugin handed over as good but that does not parse: what a
		 * plugin's own parse error would have been. */
		struct im_stage_dead dl = {
			.raw_id = raw_id,
			.stage = "parse",
			.origin = in->origin,
			.raw = raw_text,
			.reason = f.reason,
		};
		stats->dead_parse++;
		return dead_letter(t, &dl, err, err_size);
	}
	if (mapped != 0) {
		char reason[sizeof f.where + sizeof f.reason + 4];
		snprintf(reason, sizeof reason, "%s: %s", f.where, f.reason);
		struct im_stage_dead dl = {
			.raw_id = raw_id,
			.stage = "script",
			.origin = in->origin,
			.raw = raw_text,
			.reason = reason,
		};
		stats->dead_script++;
		return dead_letter(t, &dl, err, err_size);
	}
	return handle_results(t, records, n, in, raw_id, stats, err, err_size);
}

int im_transform_finish(struct im_transform *t, struct im_extract_stats *stats, char *err, size_t err_size)
{
	const struct imv *records;
	size_t n;
	struct im_script_failure f;
	if (im_script_finish_v(t->script, &records, &n, &f) != 0) {
		char reason[sizeof f.where + sizeof f.reason + 4];
		snprintf(reason, sizeof reason, "%s: %s", f.where, f.reason);
		struct im_stage_dead dl = {.stage = "script", .origin = "finish()", .reason = reason};
		stats->dead_script++;
		return dead_letter(t, &dl, err, err_size);
	}
	return handle_results(t, records, n, NULL, 0, stats, err, err_size);
}

void im_extract_source_key(const struct im_job *job, char *out, size_t out_size)
{
	char *opts = json_dumps(im_job_source_options(job), JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = opts ? im_id32(opts, strlen(opts)) : 0;
	free(opts);
	snprintf(out, out_size, "source:%s:%08x", im_job_plugin(job), h);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

double im_extract_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Tells watch (if any) where the extract stands. */
static void report(const struct im_extract_watch *watch, const struct im_extract_stats *stats, int64_t total,
		   double started, int final, int indexing)
{
	if (!watch || !watch->fn)
		return;
	struct im_extract_progress x = {
		.done = stats->replayed + stats->native,
		.before = stats->replayed,
		.total = total,
		.dead = stats->dead_parse + stats->dead_script + stats->dead_validate,
		.started = started,
		.indexing = indexing,
	};
	for (int k = 0; k < IM_KIND_COUNT; k++)
		x.staged += stats->staged[k];
	watch->fn(watch->arg, &x, final);
}

/* A record the end of the bulk extract found to be a later copy of another:
 * counted as a duplicate instead of as staged, when this run staged it. */
struct late_duplicates {
	struct im_extract_stats *stats;
	int64_t since; /* the first record id this run staged */
};

static void count_late_duplicate(void *arg, const char *kind, int64_t id)
{
	struct late_duplicates *d = arg;
	if (id < d->since)
		return;
	enum im_kind k = im_kind_from_name(kind);
	if (k != IM_KIND_UNKNOWN && d->stats->staged[k] > 0)
		d->stats->staged[k]--;
	d->stats->duplicates++;
}

/* The plugin, its host and its open state. */
struct source {
	struct im_plugin *plugin;
	const struct im_source *src;
	struct im_host *host;
	void *state;
};

static void source_close(struct source *s)
{
	if (s->src && s->state)
		s->src->close(s->state);
	s->state = NULL;
	im_host_free(s->host);
	s->host = NULL;
	im_plugin_unload(s->plugin);
	s->plugin = NULL;
}

static int source_open(const struct im_job *job, const char *plugin_dir, const char *checkpoint, struct source *s,
		       char *err, size_t err_size)
{
	memset(s, 0, sizeof *s);
	char why[1024];
	s->plugin = im_plugin_load(im_job_plugin(job), plugin_dir, why, sizeof why);
	if (!s->plugin) {
		snprintf(err, err_size, "%s: source plugin: %s", im_job_path(job), why);
		return -2;
	}
	s->src = im_plugin_source(s->plugin);
	if (!(s->src->capabilities & IM_SOURCE_CAP_READ)) {
		snprintf(err, err_size, "%s: plugin '%s' cannot read (no read capability)", im_job_path(job),
			 s->src->name);
		source_close(s);
		return -2;
	}
	/* Records go to the script, which decodes JSON text itself (run() below):
	 * plugins that can may skip building a json_t per record. Tests compare
	 * with the other path through IMMIGRATE_NO_TEXT_RECORDS. */
	const char *no_text = getenv("IMMIGRATE_NO_TEXT_RECORDS");
	struct im_host_config hc = {
		.plugin_name = s->src->name,
		.ca_file = NULL,
		.insecure = 0,
		.text_records = no_text && *no_text ? 0 : 1,
	};
	s->host = im_host_new(&hc);
	if (!s->host) {
		snprintf(err, err_size, "cannot set up the plugin host");
		source_close(s);
		return -1;
	}
	why[0] = '\0';
	if (s->src->open(s->host, im_job_source_options(job), checkpoint, &s->state, why, sizeof why) !=
	    IM_SOURCE_OK) {
		snprintf(err, err_size, "%s: source %s: %s", im_job_path(job), s->src->name, why[0] ? why : "open failed");
		s->state = NULL;
		source_close(s);
		return -2;
	}
	return 0;
}

int im_extract_check(const struct im_job *job, const char *plugin_dir, char *err, size_t err_size)
{
	struct source s;
	int rc = source_open(job, plugin_dir, NULL, &s, err, err_size);
	if (rc < 0)
		return -2;
	source_close(&s);
	struct im_transform *t;
	FILE *null = fopen("/dev/null", "w");
	if (!null) {
		snprintf(err, err_size, "cannot open /dev/null");
		return -1;
	}
	rc = im_transform_open(job, NULL, null, &t, err, err_size);
	im_transform_close(t);
	fclose(null);
	return rc < 0 ? -2 : 0;
}

/* Commits the open batch with the source's checkpoint and opens the next. */
static int commit_batch(struct im_stage *st, struct source *s, const char *key, int done, int reopen, char *err,
			size_t err_size)
{
	char *token = s->src->checkpoint(s->state);
	if (!token && !done) {
		snprintf(err, err_size, "source %s: no checkpoint (out of memory?)", s->src->name);
		return -1;
	}
	int rc = im_stage_save_checkpoint(st, key, token, done, err, err_size);
	free(token);
	if (rc < 0 || im_stage_commit(st, err, err_size) < 0)
		return -1;
	return reopen ? im_stage_begin(st, err, err_size) : 0;
}

/* Positive integer from the environment, or fallback. */
static uint64_t env_count(const char *name, uint64_t fallback)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return fallback;
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	return *end || n == 0 ? fallback : (uint64_t)n;
}

/* meta key holding the first raw.id the source key's extract stored. */
static void raw_from_key(const char *source_key, char *out, size_t out_size)
{
	snprintf(out, out_size, "extract_raw_from:%s", source_key);
}

/* A fresh extract notes where its raw rows start (in its first transaction, so
 * the note exists exactly when a checkpoint does). */
static int note_raw_start(struct im_stage *st, const char *source_key, char *err, size_t err_size)
{
	sqlite3_stmt *s = im_stage_stmt(st, "SELECT COALESCE((SELECT id + n FROM raw_chunk ORDER BY id DESC LIMIT 1), 1)",
					err, err_size);
	if (!s)
		return -1;
	int64_t from = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 1;
	sqlite3_reset(s);
	char key[320], value[32];
	raw_from_key(source_key, key, sizeof key);
	snprintf(value, sizeof value, "%lld", (long long)from);
	return im_stage_meta_set(st, key, value, err, err_size);
}

struct replay {
	struct im_transform *t;
	struct im_extract_stats *stats;
};

/* One committed native record through map() again; what it makes is dropped. */
static int replay_one(void *arg, int64_t raw_id, const struct im_stage_raw *raw)
{
	(void)raw_id;
	struct replay *r = arg;
	/* The stored text goes to the script as it is: it decodes it itself. */
	struct im_script_input in = {
		.stream = raw->stream,
		.source_id = raw->source_id,
		.origin = raw->origin,
		.text = raw->data,
		.text_len = raw->data_len,
	};
	json_t *ignored;
	struct im_script_failure f;
	if (im_script_map(r->t->script, &in, &ignored, &f) == IM_SCRIPT_BAD_INPUT)
		return 0; /* not JSON: the plugin could not read it either, map() never saw it */
	r->stats->replayed++;
	return im_extract_stop ? 1 : 0;
}

/* Rebuilds the script's state on resume: every native record the earlier runs
 * of this source committed goes through map() again, in its original order, so
 * upvalue state (users seen, channel facts, counters) is what it was when the
 * plugin's checkpoint was saved, and finish() sees the whole input.
 *
 * What map() makes here is discarded, not staged: each of these raw rows was
 * committed in the same transaction as every record (and dead letter) it made,
 * so staging again could only add duplicates, or, for a script that is not
 * deterministic (math.random), records a clean run never made. Discarding keeps
 * the stage exactly-once and skips validation and inserts. Returns 0, or -1. */
static int replay_raw(struct im_transform *t, struct im_stage *st, const char *source_key,
		      struct im_extract_stats *stats, char *err, size_t err_size)
{
	char key[320];
	raw_from_key(source_key, key, sizeof key);
	char *from_text = NULL;
	int64_t from = 1; /* stages from before the note: every raw row is this source's */
	int rc = im_stage_meta_get(st, key, &from_text);
	if (rc < 0) {
		snprintf(err, err_size, "%s: %s", im_stage_path(st), im_stage_errmsg(st));
		return -1;
	}
	if (rc == 0) {
		from = strtoll(from_text, NULL, 10);
		free(from_text);
	}
	struct replay r = {t, stats};
	rc = im_stage_raw_foreach(st, from, replay_one, &r, err, err_size);
	im_log(IM_LOG_INFO, "resumed: mapped the %llu native records staged before again, to rebuild the script's state",
	       (unsigned long long)stats->replayed);
	return rc < 0 ? -1 : 0;
}

static int run(const struct im_job *job, struct im_stage *st, const char *plugin_dir, uint64_t limit, FILE *out,
	       const struct im_extract_watch *watch, struct im_extract_stats *stats, char *err, size_t err_size)
{
	memset(stats, 0, sizeof *stats);
	char key[256];
	char *token = NULL;
	int done = 0;
	im_extract_source_key(job, key, sizeof key);
	if (st) {
		int rc = im_stage_load_checkpoint(st, key, &token, &done, err, err_size);
		if (rc < 0)
			return -1;
		if (done) {
			free(token);
			stats->already_done = 1;
			return 0;
		}
		stats->resumed = rc == 0;
		if (!out && im_stage_bulk_begin(st, err, err_size) < 0)
			return -1;
	}
	struct im_transform *t = NULL;
	if (im_transform_open(job, st, out, &t, err, err_size) < 0) {
		free(token);
		return -2;
	}
	struct source s;
	int rc = source_open(job, plugin_dir, token, &s, err, err_size);
	free(token);
	if (rc < 0) {
		im_transform_close(t);
		return rc;
	}
	if (st && (im_stage_begin(st, err, err_size) < 0 ||
		   (stats->resumed ? replay_raw(t, st, key, stats, err, err_size)
				   : note_raw_start(st, key, err, err_size)) < 0)) {
		im_stage_rollback(st);
		source_close(&s);
		im_transform_close(t);
		return -1;
	}
	/* Knobs for tests: a small batch gives many checkpoints in a small input;
	 * kill_at makes the process SIGKILL itself right after mapping that native
	 * record (1-based, this run), before its batch commits. */
	const uint64_t batch = env_count("IMMIGRATE_EXTRACT_BATCH", IM_EXTRACT_BATCH);
	const uint64_t kill_at = env_count("IMMIGRATE_TEST_KILL_AT", 0);
	struct im_jbuf text = {0};
	uint64_t in_batch = 0, last_commit = now_ms();
	int result = 0, ended = 0;
	/* The estimate only for a display: a plugin may read the whole input for it. */
	const int64_t total = watch && watch->fn ? im_plugin_estimate(s.src, s.state) : -1;
	const double started = im_extract_clock();
	for (;;) {
		if (im_extract_stop) {
			result = 1;
			break;
		}
		if (limit && stats->native >= limit)
			break;
		struct im_record r;
		memset(&r, 0, sizeof r);
		r.size = sizeof r;
		char why[1024];
		why[0] = '\0';
		int n = s.src->next(s.state, &r, why, sizeof why);
		if (n == IM_SOURCE_END) {
			ended = 1;
			break;
		}
		if (n != IM_SOURCE_OK) {
			snprintf(err, err_size, "source %s: %s", s.src->name, why[0] ? why : "read failed");
			result = -1;
			break;
		}
		stats->native++;
		/* A good record comes as data, or as checked text alone (text_records). */
		int as_text = !r.error && !r.data && r.text && r.text_len;
		if (r.error || (!r.data && !as_text)) {
			struct im_stage_dead dl = {
				.stage = "parse",
				.origin = r.origin,
				.raw = r.raw,
				.reason = r.error ? r.error : "the plugin returned no data",
			};
			stats->dead_parse++;
			if (dead_letter(t, &dl, err, err_size) < 0) {
				result = -1;
				break;
			}
		} else {
			int64_t raw_id = 0;
			size_t len = 0;
			/* The plugin's own text when it hands it over (the line it parsed):
			 * writing data out again would cost as much as parsing it. */
			int have_text = r.text && r.text_len;
			const char *native = (have_text ? im_jbuf_set(&text, r.text, r.text_len)
							: im_json_write(&text, r.data, 0)) == 0
						     ? text.data
						     : NULL;
			len = text.len;
			if (!native) {
				snprintf(err, err_size, "out of memory");
				result = -1;
				break;
			}
			if (st && im_stage_put_raw(st, r.stream ? r.stream : "records", r.source_id, r.origin, native,
						   len, &raw_id, err, err_size) < 0) {
				result = -1;
				break;
			}
			struct im_script_input in = {
				.stream = r.stream ? r.stream : "records",
				.source_id = r.source_id,
				.origin = r.origin,
				.data = r.data,
				.text = as_text ? r.text : NULL,
				.text_len = as_text ? r.text_len : 0,
			};
			if (im_transform_native(t, &in, raw_id, native, stats, err, err_size) < 0) {
				result = -1;
				break;
			}
		}
		if (kill_at && stats->native == kill_at && st)
			kill(getpid(), SIGKILL);
		if ((stats->native & 255) == 0)
			report(watch, stats, total, started, 0, 0);
		/* Checking the clock every record would cost more than the records. */
		if (st && (++in_batch >= batch || ((in_batch & 255) == 0 && now_ms() - last_commit >=
											    IM_EXTRACT_INTERVAL_MS))) {
			if (commit_batch(st, &s, key, 0, 1, err, err_size) < 0) {
				result = -1;
				break;
			}
			in_batch = 0;
			last_commit = now_ms();
		}
	}
	if (ended && im_transform_finish(t, stats, err, err_size) < 0) {
		result = -1;
		ended = 0;
	}
	report(watch, stats, total, started, 1, ended && st && result >= 0);
	if (st) {
		if (result >= 0) {
			/* The end of input and what finish() made land together: a crash
			 * before this commit re-reads the tail and runs finish() again. */
			if (commit_batch(st, &s, key, ended && !limit, 0, err, err_size) < 0)
				result = -1;
			else if (ended) {
				struct late_duplicates d = {stats, t->first_id ? t->first_id : INT64_MAX};
				if (im_stage_bulk_end(st, count_late_duplicate, &d, err, err_size) < 0)
					result = -1;
			}
		} else if (im_stage_in_transaction(st)) {
			/* Records staged since the last checkpoint are consistent with the
			 * plugin's position after its last good record: keep them. */
			char ignore[256];
			if (commit_batch(st, &s, key, 0, 0, ignore, sizeof ignore) < 0)
				im_stage_rollback(st);
		}
	}
	im_jbuf_free(&text);
	source_close(&s);
	im_transform_close(t);
	return result;
}

int im_extract_run(const struct im_job *job, struct im_stage *stage, const char *plugin_dir,
		   const struct im_extract_watch *watch, struct im_extract_stats *stats, char *err, size_t err_size)
{
	return run(job, stage, plugin_dir, 0, NULL, watch, stats, err, err_size);
}

int im_extract_preview(const struct im_job *job, const char *plugin_dir, uint64_t limit, FILE *out,
		       struct im_extract_stats *stats, char *err, size_t err_size)
{
	return run(job, NULL, plugin_dir, limit, out, NULL, stats, err, err_size);
}
