/* immigrate run JOB: extract, transform and stage; then load the stage. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "commands.h"
#include "extract.h"
#include "job.h"
#include "load.h"
#include "log.h"
#include "stage.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: immigrate run JOB [--set key.sub=value]... [--plugin-dir DIR] [--stage-only]\n"
		     "                          [--concurrency N] [--quiet] [--log-format text|json]\n"
		     "Extracts the source through the mapping script into the stage (resumable), then\n"
		     "loads the stage into the target. Exit 0: all done; 3: dead letters remain.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	im_extract_stop = 1;
}

static void print_stats(const struct im_extract_stats *st, struct im_stage *stage)
{
	if (st->already_done)
		printf("extract: the source had been read to its end by an earlier run\n");
	else
		printf("extract: %llu native records%s -> %llu IM records made\n", (unsigned long long)st->native,
		       st->resumed ? " (resumed)" : "", (unsigned long long)st->made);
	if (st->replayed)
		printf("  %llu staged native records mapped again to rebuild the script's state\n",
		       (unsigned long long)st->replayed);
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (!st->already_done && st->staged[k])
			printf("  %-13s %llu new\n", im_kind_name(k), (unsigned long long)st->staged[k]);
	if (st->duplicates)
		printf("  %llu already staged (deduplicated)\n", (unsigned long long)st->duplicates);
	if (st->dead_parse + st->dead_script + st->dead_validate)
		printf("  dead letters: %llu parse, %llu script, %llu validate\n", (unsigned long long)st->dead_parse,
		       (unsigned long long)st->dead_script, (unsigned long long)st->dead_validate);
	printf("stage: %lld records, %lld dead letters (%s)\n", (long long)im_stage_count(stage, NULL, -1),
	       (long long)im_stage_count_dead(stage, NULL), im_stage_path(stage));
}

/* The extract's counters for the runs table: {"native":N,"staged":{"c2c_msg":N,...},...}. */
static char *stats_json(const struct im_extract_stats *st)
{
	json_t *staged = json_object();
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (st->staged[k])
			json_object_set_new(staged, im_kind_name(k), json_integer((json_int_t)st->staged[k]));
	json_t *j = json_pack("{s:I,s:I,s:I,s:o,s:I,s:{s:I,s:I,s:I},s:b,s:b}", "native", (json_int_t)st->native,
			      "replayed", (json_int_t)st->replayed, "made",
			      (json_int_t)st->made, "staged", staged, "duplicates", (json_int_t)st->duplicates,
			      "dead", "parse", (json_int_t)st->dead_parse, "script", (json_int_t)st->dead_script,
			      "validate", (json_int_t)st->dead_validate, "resumed", st->resumed, "already_done",
			      st->already_done);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		IM_CMD_OPT_SET,
		IM_CMD_OPT_PLUGIN_DIR,
		{"stage-only", no_argument, NULL, 'S'},
		{"concurrency", required_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		IM_CMD_OPT_LOG_FORMAT,
		IM_CMD_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	struct im_cmd cmd;
	struct im_job *job;
	int stage_only = 0;
	struct im_load_options lo;
	memset(&lo, 0, sizeof lo);
	int c, rc;
	if (im_cmd_init(&cmd, "run", usage, argc) < 0)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:p:Sc:qf:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': stage_only = 1; break;
		case 'c':
			if ((rc = im_cmd_concurrency(&cmd, optarg, &lo.concurrency)) != IM_CMD_NEXT)
				return rc;
			break;
		case 'q': lo.quiet = true; break;
		default:
			if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
				return rc;
		}
	}
	lo.log_json = cmd.log_json;
	if ((rc = im_cmd_load_job(&cmd, argc, argv, &job)) != IM_EXIT_OK)
		return rc;
	struct im_stage *stage;
	if (im_cmd_open_stage(&cmd, job, &stage) != IM_EXIT_OK) {
		im_job_free(job);
		return IM_EXIT_FATAL;
	}
	char err[2048];
	int64_t run_id = 0;
	if (im_stage_run_begin(stage, "run", &run_id, err, sizeof err) < 0)
		im_warn("%s", err);

	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	struct im_extract_stats st;
	struct im_extract_watch watch = im_cmd_extract_watch(lo.quiet, cmd.log_json);
	rc = im_extract_run(job, stage, cmd.plugin_dir, &watch, &st, err, sizeof err);
	im_cmd_extract_watch_end(&watch);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	int exit_code;
	if (rc < 0) {
		im_cmd_error(&cmd, "%s", err);
		exit_code = rc == -2 ? IM_EXIT_USAGE : IM_EXIT_FATAL;
	} else if (rc == 1) {
		print_stats(&st, stage);
		fprintf(stderr, "immigrate run: interrupted; run again to resume\n");
		exit_code = IM_EXIT_FATAL;
	} else {
		print_stats(&st, stage);
		exit_code = IM_EXIT_OK;
		if (stage_only) {
			printf("load: skipped (--stage-only)\n");
		} else if (!im_job_has_target(job)) {
			printf("load: the job has no target: staged only\n");
		} else {
			exit_code = im_load_run(job, stage, &lo);
		}
		if (exit_code == IM_EXIT_OK && im_stage_count_dead(stage, NULL) > 0)
			exit_code = IM_EXIT_DEAD_LETTERS;
	}
	char *counters = rc >= 0 ? stats_json(&st) : NULL;
	if (run_id && im_stage_run_end(stage, run_id, exit_code, counters, err, sizeof err) < 0)
		im_warn("%s", err);
	free(counters);
	im_stage_close(stage);
	im_job_free(job);
	return exit_code;
}
