/* immigrate plan JOB: how long the migration takes at least, and what will be
 * refused, before anything is sent. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "extract.h"
#include "job.h"
#include "plan.h"
#include "plan_sample.h"
#include "stage.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: immigrate plan JOB [--set key.sub=value]... [--plugin-dir DIR] [--json]\n"
		"                          [--sample N] [--edition free|pro|...] [--rtt MS]\n"
		"Counts what the job migrates per kind, the API calls each kind needs after batching and\n"
		"the wall-time floor at the configured rate limits (target.limits), in dependency order,\n"
		"naming the critical path; warns about what the service will refuse.\n"
		"Extracts into the stage first when the source has not been staged yet. --sample N maps\n"
		"only the first N native records (into a scratch stage) and scales by the plugin's\n"
		"estimate. --edition (or target.plan) checks the plan's limits; --rtt adds a round-trip\n"
		"time per call of a serialised conversation.\n");
}

static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || *s == '-' || v == 0)
		return -1;
	*out = v;
	return 0;
}

/* Makes sure the stage holds the whole source: extracts when the source's
 * checkpoint is not marked done. Returns 0, or an exit code. */
static int ensure_staged(const struct im_job *job, struct im_stage *st, const char *plugin_dir)
{
	char key[256], err[2048];
	char *token = NULL;
	int done = 0;
	im_extract_source_key(job, key, sizeof key);
	int rc = im_stage_load_checkpoint(st, key, &token, &done, err, sizeof err);
	free(token);
	if (rc < 0) {
		fprintf(stderr, "immigrate plan: %s\n", err);
		return IM_EXIT_FATAL;
	}
	if (rc == 0 && done)
		return 0;
	fprintf(stderr, "immigrate plan: the source is not fully staged yet: extracting into %s\n",
		im_stage_path(st));
	struct im_extract_stats stats;
	struct im_extract_watch watch = im_cmd_extract_watch(false, false);
	rc = im_extract_run(job, st, plugin_dir, &watch, &stats, err, sizeof err);
	im_cmd_extract_watch_end(&watch);
	if (rc < 0) {
		fprintf(stderr, "immigrate plan: %s\n", err);
		return rc == -2 ? IM_EXIT_USAGE : IM_EXIT_FATAL;
	}
	if (rc == 1) {
		fprintf(stderr, "immigrate plan: interrupted\n");
		return IM_EXIT_FATAL;
	}
	fprintf(stderr, "immigrate plan: %llu native records staged\n", (unsigned long long)stats.native);
	return 0;
}

static void print_table(const struct im_plan *p, const struct im_plan_warnings *w,
			const struct im_plan_sample_info *sample)
{
	char f[32], s[32], e[32], total[32];
	if (sample)
		printf("sample: the first %llu native records%s; counts below are scaled by %.3g%s\n%s\n",
		       (unsigned long long)sample->native, sample->ended ? " (the whole source)" : "", sample->scale,
		       sample->estimate < 0 && !sample->ended ? " (the plugin gives no estimate: not scaled)" : "",
		       sample->ended ? "" : "(the first records, not a random sample: an export ordered by kind skews it)\n");
	printf("%-13s %12s  %-20s %10s %8s %5s %10s %10s %10s\n", "kind", "records", "API", "calls", "rate",
	       "batch", "floor", "start", "end");
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		const struct im_kind_info *ki = im_kind_info(k);
		if (!p->work[k].records)
			continue;
		printf("%-13s %12lld  %-20s %10lld %6g/s %5d %10s %10s %10s%s\n", ki->name,
		       (long long)p->work[k].records, ki->command, (long long)p->work[k].calls, p->config.limit[k],
		       p->config.batch[k], im_plan_format_duration(p->slot[k].floor, f, sizeof f),
		       im_plan_format_duration(p->slot[k].start, s, sizeof s),
		       im_plan_format_duration(p->slot[k].end, e, sizeof e), p->slot[k].critical ? "  *" : "");
	}
	printf("\nwall-time floor: %s", im_plan_format_duration(p->total, total, sizeof total));
	if (p->critical_last >= 0) {
		printf("  (critical path *:");
		const char *sep = " ";
		for (int k = 0; k < IM_KIND_COUNT; k++)
			if (p->slot[k].critical) {
				printf("%s%s", sep, im_kind_info(k)->name);
				sep = " -> ";
			}
		printf(")");
	}
	printf("\n");
	if (w && w->n) {
		printf("\nwarnings%s:\n", sample ? " (counts in the sample, not scaled)" : "");
		for (size_t i = 0; i < w->n; i++) {
			const struct im_plan_warning *x = &w->v[i];
			printf("  %-6s %-13s %8lld  %s", im_plan_severity_name(x->severity), x->kind[0] ? x->kind : "-",
			       (long long)x->count, x->what);
			if (x->example[0])
				printf(" (e.g. %s)", x->example);
			printf("\n");
		}
	}
}

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		IM_CMD_OPT_SET,
		IM_CMD_OPT_PLUGIN_DIR,
		{"json", no_argument, NULL, 'j'},
		{"sample", required_argument, NULL, 'n'},
		{"edition", required_argument, NULL, 'e'},
		{"rtt", required_argument, NULL, 'r'},
		IM_CMD_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	struct im_cmd cmd;
	struct im_job *job;
	const char *edition = NULL;
	int json = 0;
	uint64_t sample = 0, rtt_ms = 0;
	int c, rc;
	if (im_cmd_init(&cmd, "plan", usage, argc) < 0)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:p:jn:e:r:h", opts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'j': json = 1; break;
		case 'e': edition = optarg; break;
		case 'n':
			if (parse_count(optarg, &sample) < 0)
				bad = "--sample needs a positive number of records";
			break;
		case 'r':
			if (parse_count(optarg, &rtt_ms) < 0 || rtt_ms > 60000)
				bad = "--rtt needs milliseconds from 1 to 60000";
			break;
		default:
			if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
				return rc;
		}
		if (bad) {
			im_cmd_error(&cmd, "%s", bad);
			im_cmd_free(&cmd);
			return IM_EXIT_USAGE;
		}
	}
	if ((rc = im_cmd_load_job(&cmd, argc, argv, &job)) != IM_EXIT_OK)
		return rc;
	const char *plugin_dir = cmd.plugin_dir;
	char err[2048];
	struct im_plan_config cfg;
	if (im_cmd_plan_config(&cmd, job, edition, &cfg) != IM_EXIT_OK) {
		im_job_free(job);
		return IM_EXIT_USAGE;
	}
	cfg.rtt = (double)rtt_ms / 1000;

	int exit_code = IM_EXIT_OK;
	struct im_stage *st = NULL;
	char scratch_dir[] = "/tmp/immigrate-plan.XXXXXX", scratch[64] = "";
	struct im_plan_sample_info info;
	if (sample) {
		if (!mkdtemp(scratch_dir)) {
			fprintf(stderr, "immigrate plan: cannot create a scratch directory in /tmp\n");
			im_job_free(job);
			return IM_EXIT_FATAL;
		}
		snprintf(scratch, sizeof scratch, "%s/sample.db", scratch_dir);
		if (im_stage_open(scratch, &st, err, sizeof err) < 0) {
			im_cmd_error(&cmd, "%s", err);
			exit_code = IM_EXIT_FATAL;
			goto out;
		}
		rc = im_plan_sample(job, plugin_dir, sample, st, &info, err, sizeof err);
		if (rc < 0) {
			im_cmd_error(&cmd, "%s", err);
			exit_code = rc == -2 ? IM_EXIT_USAGE : IM_EXIT_FATAL;
			goto out;
		}
	} else {
		if ((exit_code = im_cmd_open_stage(&cmd, job, &st)) != IM_EXIT_OK)
			goto out;
		if ((exit_code = ensure_staged(job, st, plugin_dir)) != 0)
			goto out;
	}

	struct im_plan_work work[IM_KIND_COUNT];
	struct im_plan_warnings warnings = {0};
	if (im_plan_count(st, &cfg, IM_PLAN_ALL, work, err, sizeof err) < 0 ||
	    im_plan_check(st, &cfg, &warnings, err, sizeof err) < 0) {
		im_cmd_error(&cmd, "%s", err);
		im_plan_warnings_free(&warnings);
		exit_code = IM_EXIT_FATAL;
		goto out;
	}
	if (sample)
		im_plan_scale(work, info.scale);
	struct im_plan *p = malloc(sizeof *p);
	if (!p) {
		im_plan_warnings_free(&warnings);
		exit_code = IM_EXIT_FATAL;
		goto out;
	}
	im_plan_schedule(p, &cfg, work);
	if (json) {
		json_t *j = im_plan_to_json(p, &warnings);
		json_object_set_new(j, "job", json_string(im_job_name(job)));
		if (sample)
			json_object_set_new(j, "sample",
					    json_pack("{s:I, s:b, s:I, s:f}", "native", (json_int_t)info.native, "whole_source",
						      info.ended, "estimate", (json_int_t)info.estimate, "scale", info.scale));
		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(j);
	} else {
		print_table(p, &warnings, sample ? &info : NULL);
	}
	free(p);
	im_plan_warnings_free(&warnings);
out:
	im_stage_close(st);
	if (scratch[0]) {
		static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
		char path[96];
		for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
			snprintf(path, sizeof path, "%s%s", scratch, suffixes[i]);
			unlink(path);
		}
		rmdir(scratch_dir);
	}
	im_job_free(job);
	return exit_code;
}
