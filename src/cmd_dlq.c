/* immigrate dlq list|show|replay JOB: the dead letters of a migration.
 *
 * replay re-runs the job's current mapping script on the raw source records of
 * the dead letters not yet replayed (after the user fixed the script, the data
 * or the target's configuration) and loads what it yields. A record the target
 * refused is taken out of the stage first, so the script's new version of it
 * stages afresh under its dedupe key; records of the same raw record that landed
 * deduplicate as usual. Dead letters without a raw record (made by a script's
 * finish()) are sent again as staged. Replayed dead letters are marked, never
 * deleted: `dlq list --all` shows them.
 *
 * Dead letters of the sync daemon (event_id set: a sync_events row it gave up
 * on) are replayed by putting that event back to pending in the outbox, in the
 * same transaction that marks them replayed: the daemon (running, or at its
 * next start) delivers it again through the job's current script and rules. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "cmd_common.h"
#include "commands.h"
#include "extract.h"
#include "job.h"
#include "load.h"
#include "log.h"
#include "stage.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: immigrate dlq list JOB [--all] [--stage parse|script|validate|api] [--limit N] [--json]\n"
		"       immigrate dlq show JOB ID\n"
		"       immigrate dlq replay JOB [--stage S] [--concurrency N] [--quiet] [--log-format text|json]\n"
		"Each also takes --set key.sub=value to override a field of the job file.\n");
}

struct dlq_args {
	const char *action, *job_path, *id, *stage_filter;
	bool all, json;
	long limit;
	struct im_load_options lo;
};

static const char *text_or(sqlite3_stmt *s, int i, const char *dflt)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? (const char *)t : dflt;
}

/* Prints s with control characters escaped, at most max bytes (0: all). */
static void print_clean(FILE *out, const char *s, size_t max)
{
	size_t n = 0;
	for (; *s && (max == 0 || n < max); s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	if (*s)
		fputs("...", out);
}

static int dlq_list(struct im_stage *st, const struct dlq_args *a)
{
	sqlite3_stmt *s = NULL;
	const char *sql = "SELECT id, stage, kind, code, origin, reason, attempts, replayed FROM dead_letters"
			  " WHERE (?1 OR replayed = 0) AND (?2 IS NULL OR stage = ?2) ORDER BY id LIMIT ?3";
	if (sqlite3_prepare_v2(im_stage_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		im_error("%s: %s", im_stage_path(st), sqlite3_errmsg(im_stage_db(st)));
		return IM_EXIT_FATAL;
	}
	sqlite3_bind_int(s, 1, a->all);
	if (a->stage_filter)
		sqlite3_bind_text(s, 2, a->stage_filter, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, a->limit > 0 ? a->limit : -1);
	long n = 0;
	if (!a->json)
		printf("%-8s %-9s %-13s %-7s %-28s %s\n", "id", "stage", "kind", "code", "origin", "reason");
	while (sqlite3_step(s) == SQLITE_ROW) {
		n++;
		long code = sqlite3_column_int(s, 3);
		if (a->json) {
			json_t *o = json_pack("{sI ss ss? sI ss? ss si sb}", "id", (json_int_t)sqlite3_column_int64(s, 0),
					      "stage", text_or(s, 1, ""), "kind", sqlite3_column_text(s, 2) ? text_or(s, 2, "") : NULL,
					      "code", (json_int_t)code, "origin",
					      sqlite3_column_text(s, 4) ? text_or(s, 4, "") : NULL, "reason", text_or(s, 5, ""),
					      "attempts", sqlite3_column_int(s, 6), "replayed", sqlite3_column_int(s, 7) != 0);
			char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
			if (line)
				puts(line);
			free(line);
			json_decref(o);
			continue;
		}
		char codes[16] = "-";
		if (code)
			snprintf(codes, sizeof codes, "%ld", code);
		printf("%-8lld %-9s %-13s %-7s ", (long long)sqlite3_column_int64(s, 0), text_or(s, 1, ""),
		       text_or(s, 2, "-"), codes);
		print_clean(stdout, text_or(s, 4, "-"), 28);
		fputc(' ', stdout);
		print_clean(stdout, text_or(s, 5, ""), 100);
		if (sqlite3_column_int(s, 7))
			fputs(" (replayed)", stdout);
		fputc('\n', stdout);
	}
	sqlite3_finalize(s);
	if (!a->json)
		printf("%ld dead letter%s%s\n", n, n == 1 ? "" : "s", a->all ? "" : " not yet replayed");
	return IM_EXIT_OK;
}

static int dlq_show(struct im_stage *st, const struct dlq_args *a)
{
	char *end;
	long long id = strtoll(a->id, &end, 10);
	if (!*a->id || *end) {
		fprintf(stderr, "immigrate dlq show: '%s' is not a dead-letter id\n", a->id);
		return IM_EXIT_USAGE;
	}
	sqlite3_stmt *s = NULL;
	const char *sql = "SELECT id, stage, kind, code, origin, reason, attempts, replayed, created_at, record_id,"
			  " raw_id, raw, payload, event_id FROM dead_letters WHERE id = ?1";
	if (sqlite3_prepare_v2(im_stage_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		im_error("%s: %s", im_stage_path(st), sqlite3_errmsg(im_stage_db(st)));
		return IM_EXIT_FATAL;
	}
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		fprintf(stderr, "immigrate dlq show: no dead letter %lld in %s\n", id, im_stage_path(st));
		return IM_EXIT_USAGE;
	}
	long code = sqlite3_column_int(s, 3);
	const char *stage = text_or(s, 1, "");
	time_t created = (time_t)sqlite3_column_int64(s, 8);
	char when[32] = "";
	struct tm tm;
	if (gmtime_r(&created, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("id:        %lld\nstage:     %s\nkind:      %s\n", id, stage, text_or(s, 2, "-"));
	if (code)
		printf("code:      %ld (%s)\n", code,
		       strcmp(stage, "api") == 0 ? im_code_meaning(code) : "validation rule code");
	printf("reason:    ");
	print_clean(stdout, text_or(s, 5, ""), 0);
	printf("\norigin:    %s\nattempts:  %d\ncreated:   %s\nreplayed:  %s\n", text_or(s, 4, "-"),
	       sqlite3_column_int(s, 6), when, sqlite3_column_int(s, 7) ? "yes" : "no");
	if (sqlite3_column_type(s, 9) != SQLITE_NULL && sqlite3_column_int64(s, 9))
		printf("record:    %lld\n", (long long)sqlite3_column_int64(s, 9));
	if (sqlite3_column_int64(s, 13))
		printf("event:     sync event %lld (replay puts it back in the sync daemon's queue)\n",
		       (long long)sqlite3_column_int64(s, 13));
	if (sqlite3_column_text(s, 12))
		printf("IM record: %s\n", text_or(s, 12, ""));
	int64_t raw_id = sqlite3_column_int64(s, 10);
	if (raw_id) {
		char *data = NULL, *stream = NULL, *source_id = NULL, *origin = NULL;
		if (im_stage_get_raw(st, raw_id, &data, &stream, &source_id, &origin) == 0) {
			printf("raw:       stream %s, source id %s, from %s\n           ", stream ? stream : "-",
			       source_id ? source_id : "-", origin ? origin : "-");
			print_clean(stdout, data, 0);
			fputc('\n', stdout);
		}
		free(data);
		free(stream);
		free(source_id);
		free(origin);
	} else if (sqlite3_column_text(s, 11)) {
		printf("raw:       ");
		print_clean(stdout, text_or(s, 11, ""), 0);
		fputc('\n', stdout);
	}
	sqlite3_finalize(s);
	return IM_EXIT_OK;
}

static int exec1(struct im_stage *st, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(im_stage_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Re-runs the script on one raw record (inside the caller's transaction). */
static int replay_raw(struct im_stage *st, struct im_transform *t, int64_t raw_id, int64_t upto,
		      struct im_extract_stats *stats, long *skipped, char *err, size_t err_size)
{
	char *data = NULL, *stream = NULL, *source_id = NULL, *origin = NULL;
	int rc = im_stage_get_raw(st, raw_id, &data, &stream, &source_id, &origin);
	if (rc != 0) {
		(*skipped)++;
		return rc < 0 ? -1 : 0;
	}
	json_error_t je;
	json_t *native = json_loads(data, 0, &je);
	if (!native) {
		/* An unreadable export line: only a fixed export can bring it back. */
		(*skipped)++;
		rc = 0;
		goto out;
	}
	/* Refused records leave the stage so their new version stages afresh. */
	if (exec1(st,
		  "DELETE FROM records WHERE status = 3 AND id IN (SELECT record_id FROM dead_letters"
		  " WHERE raw_id = ?1 AND replayed = 0 AND stage = 'api' AND id <= ?2)",
		  raw_id, upto) < 0) {
		snprintf(err, err_size, "%s: %s", im_stage_path(st), im_stage_errmsg(st));
		rc = -1;
		goto out;
	}
	struct im_script_input in = {.stream = stream, .source_id = source_id, .origin = origin, .data = native};
	rc = im_transform_native(t, &in, raw_id, data, stats, err, err_size);
	if (rc == 0 && exec1(st, "UPDATE dead_letters SET replayed = 1 WHERE raw_id = ?1 AND replayed = 0 AND id <= ?2",
			     raw_id, upto) < 0) {
		snprintf(err, err_size, "%s: %s", im_stage_path(st), im_stage_errmsg(st));
		rc = -1;
	}
out:
	json_decref(native);
	free(data);
	free(stream);
	free(source_id);
	free(origin);
	return rc;
}

/* 1 when the stage has the sync outbox (a sync daemon ran on it), 0 when not,
 * -1 on a database error. */
static int has_sync_events(struct im_stage *st)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(im_stage_db(st),
			       "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_events'", -1, &s,
			       NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Puts event_id back to pending when it is dead, and marks its dead letters
 * (up to upto, of the --stage filter) replayed. Inside the caller's transaction.
 * Returns 1 when re-queued, 0 when the event is not dead (still pending, so a
 * later replay decides; delivered or pruned, so nothing can be re-queued), -1
 * on a database error. The row is updated in place, never copied: its
 * UNIQUE(origin, event_id) keeps deduplicating vendor retries of the event. */
static int requeue_event(struct im_stage *st, int64_t event_id, int64_t upto, const char *stage_filter)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db = im_stage_db(st);
	/* status 3 only: a dead letter written a moment before the daemon's mark
	 * of the event would otherwise be undone by that mark. */
	if (sqlite3_prepare_v2(db,
			       "UPDATE sync_events SET status = 0, attempts = 0, next_at = 0, last_error = NULL,"
			       " done_at = NULL WHERE id = ?1 AND status = 3",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, event_id);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(db) == 0)
		return 0;
	s = NULL;
	if (sqlite3_prepare_v2(db,
			       "UPDATE dead_letters SET replayed = 1 WHERE event_id = ?1 AND replayed = 0 AND id <= ?2"
			       " AND (?3 IS NULL OR stage = ?3)",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, event_id);
	sqlite3_bind_int64(s, 2, upto);
	if (stage_filter)
		sqlite3_bind_text(s, 3, stage_filter, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 1 : -1;
}

/* Re-queues the sync events behind the dead letters up to upto not yet
 * replayed (of the --stage filter), all in one transaction. *queued counts the
 * events put back to pending, *waiting those left as they were (not dead).
 * Returns 0, or -1 with a message in err. A stage no sync daemon ran on has no
 * outbox and nothing to do. */
static int replay_sync(struct im_stage *st, int64_t upto, const char *stage_filter, long *queued, long *waiting,
		       char *err, size_t err_size)
{
	*queued = *waiting = 0;
	int have = has_sync_events(st);
	if (have == 0)
		return 0;
	sqlite3_stmt *s = NULL;
	if (have < 0 || sqlite3_prepare_v2(im_stage_db(st),
					   "SELECT DISTINCT event_id FROM dead_letters WHERE replayed = 0 AND event_id > 0"
					   " AND id <= ?1 AND (?2 IS NULL OR stage = ?2) ORDER BY event_id",
					   -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, err_size, "%s: reading the sync dead letters: %s", im_stage_path(st),
			 im_stage_errmsg(st));
		return -1;
	}
	sqlite3_bind_int64(s, 1, upto);
	if (stage_filter)
		sqlite3_bind_text(s, 2, stage_filter, -1, SQLITE_STATIC);
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *p = realloc(ids, cap * sizeof *p);
			if (!p) {
				rc = SQLITE_NOMEM;
				break;
			}
			ids = p;
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(ids);
		snprintf(err, err_size, "%s: reading the sync dead letters: %s", im_stage_path(st),
			 rc == SQLITE_NOMEM ? "out of memory" : im_stage_errmsg(st));
		return -1;
	}
	if (n == 0) {
		free(ids);
		return 0;
	}
	if (im_stage_begin(st, err, err_size) < 0) {
		free(ids);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int r = requeue_event(st, ids[i], upto, stage_filter);
		if (r < 0) {
			snprintf(err, err_size, "%s: re-queueing sync event %lld: %s", im_stage_path(st),
				 (long long)ids[i], im_stage_errmsg(st));
			im_stage_rollback(st);
			free(ids);
			*queued = *waiting = 0;
			return -1;
		}
		if (r)
			(*queued)++;
		else
			(*waiting)++;
	}
	free(ids);
	if (im_stage_commit(st, err, err_size) < 0) {
		im_stage_rollback(st);
		*queued = *waiting = 0;
		return -1;
	}
	return 0;
}

static int dlq_replay(struct im_job *job, struct im_stage *st, const struct dlq_args *a)
{
	char err[1024] = "";
	struct im_transform *t = NULL;
	struct im_extract_stats stats;
	memset(&stats, 0, sizeof stats);
	if (im_transform_open(job, st, NULL, &t, err, sizeof err) < 0) {
		im_error("%s", err);
		return IM_EXIT_USAGE;
	}
	sqlite3 *db = im_stage_db(st);
	int64_t upto = 0;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM dead_letters", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		upto = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	/* Dead letters this replay makes (id > upto) are for the next replay. */
	s = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT DISTINCT raw_id FROM dead_letters WHERE replayed = 0 AND raw_id > 0 AND id <= ?1"
			       " AND (?2 IS NULL OR stage = ?2) ORDER BY raw_id",
			       -1, &s, NULL) != SQLITE_OK) {
		im_error("%s: %s", im_stage_path(st), sqlite3_errmsg(db));
		im_transform_close(t);
		return IM_EXIT_FATAL;
	}
	sqlite3_bind_int64(s, 1, upto);
	if (a->stage_filter)
		sqlite3_bind_text(s, 2, a->stage_filter, -1, SQLITE_STATIC);
	int64_t *raws = NULL;
	size_t nraw = 0, cap = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (nraw == cap) {
			cap = cap ? cap * 2 : 256;
			int64_t *p = realloc(raws, cap * sizeof *p);
			if (!p)
				break;
			raws = p;
		}
		raws[nraw++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	long skipped = 0;
	int rc = 0;
	for (size_t i = 0; i < nraw && rc == 0; i += 1000) {
		if (im_stage_begin(st, err, sizeof err) < 0) {
			rc = -1;
			break;
		}
		for (size_t j = i; j < nraw && j < i + 1000 && rc == 0; j++)
			rc = replay_raw(st, t, raws[j], upto, &stats, &skipped, err, sizeof err);
		if (rc == 0)
			rc = im_stage_commit(st, err, sizeof err);
		else
			im_stage_rollback(st);
	}
	free(raws);
	/* Refused records without a raw record (made by finish()): send them again. */
	int64_t resent = 0;
	if (rc == 0 && (!a->stage_filter || strcmp(a->stage_filter, "api") == 0)) {
		if (im_stage_begin(st, err, sizeof err) < 0 ||
		    exec1(st,
			  "UPDATE records SET status = 0, attempts = 0, last_code = NULL, retry_at = NULL WHERE status = 3"
			  " AND id IN (SELECT record_id FROM dead_letters WHERE replayed = 0 AND stage = 'api'"
			  " AND coalesce(raw_id, 0) = 0 AND event_id IS NULL AND id <= ?1)",
			  upto, 0) < 0) {
			rc = -1;
		} else {
			resent = sqlite3_changes(db);
			if (exec1(st,
				  "UPDATE dead_letters SET replayed = 1 WHERE replayed = 0 AND stage = 'api'"
				  " AND coalesce(raw_id, 0) = 0 AND event_id IS NULL AND id <= ?1",
				  upto, 0) < 0 ||
			    im_stage_commit(st, err, sizeof err) < 0)
				rc = -1;
		}
		if (rc < 0) {
			if (!*err)
				snprintf(err, sizeof err, "%s: %s", im_stage_path(st), im_stage_errmsg(st));
			im_stage_rollback(st);
		}
	}
	/* Sync dead letters: their events go back to the daemon's queue. */
	long queued = 0, waiting = 0;
	if (rc == 0)
		rc = replay_sync(st, upto, a->stage_filter, &queued, &waiting, err, sizeof err);
	im_transform_close(t);
	if (rc < 0) {
		im_error("%s", err);
		return IM_EXIT_FATAL;
	}
	uint64_t staged = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++)
		staged += stats.staged[k];
	printf("replay: %zu raw records through %s -> %llu IM records (%llu new, %llu already staged), "
	       "%llu dead again; %lld sent again as staged; %ld sync event%s queued again; %ld could not be replayed"
	       " (no parsable raw record, or a sync event not dead)\n",
	       nraw, im_job_script_path(job), (unsigned long long)stats.made, (unsigned long long)staged,
	       (unsigned long long)stats.duplicates,
	       (unsigned long long)(stats.dead_script + stats.dead_validate), (long long)resent, queued, queued == 1 ? "" : "s", skipped + waiting);
	if (!im_job_has_target(job)) {
		printf("load: the job has no target: staged only\n");
		return im_stage_count_dead(st, NULL) > 0 ? IM_EXIT_DEAD_LETTERS : IM_EXIT_OK;
	}
	return im_load_run(job, st, &a->lo);
}

/* Parses the options (the shared ones into cmd) and the operands ACTION JOB
 * [ID]. Returns IM_CMD_NEXT when the command goes on, else the exit code, with
 * cmd released and the reason printed. */
static int parse_args(int argc, char **argv, struct im_cmd *cmd, struct dlq_args *a)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"stage", required_argument, NULL, 'S'},
		{"limit", required_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},
		IM_CMD_OPT_SET,
		{"concurrency", required_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		IM_CMD_OPT_LOG_FORMAT,
		IM_CMD_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	int c, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "aS:l:js:c:qf:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': a->all = true; break;
		case 'S':
			if (strcmp(optarg, "parse") && strcmp(optarg, "script") && strcmp(optarg, "validate") &&
			    strcmp(optarg, "api")) {
				fprintf(stderr, "immigrate dlq: --stage is parse, script, validate or api\n");
				return im_cmd_option(cmd, '?', NULL);
			}
			a->stage_filter = optarg;
			break;
		case 'l': a->limit = strtol(optarg, NULL, 10); break;
		case 'j': a->json = true; break;
		case 'c':
			if (im_cmd_concurrency(cmd, optarg, &a->lo.concurrency) != IM_CMD_NEXT) {
				usage(stderr);
				return IM_EXIT_USAGE;
			}
			break;
		case 'q': a->lo.quiet = true; break;
		default:
			rc = im_cmd_option(cmd, c, optarg);
			if (rc == IM_EXIT_USAGE && c == 'f')
				usage(stderr);
			if (rc != IM_CMD_NEXT)
				return rc;
		}
	}
	a->lo.log_json = cmd->log_json;
	int rest = argc - optind;
	if (rest >= 2) {
		a->action = argv[optind];
		a->job_path = argv[optind + 1];
		if (strcmp(a->action, "show") == 0 && rest == 3) {
			a->id = argv[optind + 2];
			return IM_CMD_NEXT;
		}
		if ((strcmp(a->action, "list") == 0 || strcmp(a->action, "replay") == 0) && rest == 2)
			return IM_CMD_NEXT;
	}
	return im_cmd_option(cmd, '?', NULL);
}

int cmd_dlq(int argc, char **argv)
{
	struct dlq_args a;
	struct im_cmd cmd;
	memset(&a, 0, sizeof a);
	if (im_cmd_init(&cmd, "dlq", usage, argc) < 0)
		return IM_EXIT_FATAL;
	/* Failures go to the log, so --log-format json covers them. */
	cmd.errors_to_log = true;
	int rc = parse_args(argc, argv, &cmd, &a);
	if (rc != IM_CMD_NEXT)
		return rc;
	struct im_job *job = NULL;
	if ((rc = im_cmd_load_job_at(&cmd, a.job_path, &job)) != IM_EXIT_OK)
		return rc;
	struct im_stage *st = NULL;
	if (im_cmd_open_stage(&cmd, job, &st) != IM_EXIT_OK) {
		im_job_free(job);
		return IM_EXIT_FATAL;
	}
	if (strcmp(a.action, "list") == 0)
		rc = dlq_list(st, &a);
	else if (strcmp(a.action, "show") == 0)
		rc = dlq_show(st, &a);
	else
		rc = dlq_replay(job, st, &a);
	im_stage_close(st);
	im_job_free(job);
	return rc;
}
