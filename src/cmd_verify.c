/* immigrate verify JOB: read the target back and compare it with what landed. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "job.h"
#include "secret.h"
#include "stage.h"
#include "tim.h"
#include "verify.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: immigrate verify JOB [--set key.sub=value]... [--sample N] [--json]\n"
		"                            [--kinds KIND,...] [--max-diffs N]\n"
		"Reads the target back (account_check, portrait_get, friend_get, get_group_info,\n"
		"get_group_member_info, group_msg_get_simple, admin_getroammsg), paced by the rate\n"
		"limits, and compares it with the records the stage says landed: per kind expected,\n"
		"found, missing and differing, with the first differences. --sample N checks N random\n"
		"landed records per kind. Up to target.limits.concurrency requests (16) are in flight.\n"
		"The result is stored in the stage for `immigrate report`.\n"
		"Exit 0: nothing missing; 3: records missing; 1: the target could not be read.\n");
}

static int parse_kinds(const char *list, unsigned *mask)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return -1;
	*mask = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k = im_kind_from_name(tok);
		if (k < 0) {
			fprintf(stderr, "immigrate verify: --kinds: '%s' is not a record kind\n", tok);
			free(copy);
			return -1;
		}
		*mask |= 1u << k;
	}
	free(copy);
	return 0;
}

static void print_table(const struct im_verify_result *r)
{
	printf("%-13s %10s %10s %10s %10s %10s %11s\n", "kind", "expected", "found", "missing", "differing",
	       "unchecked", "not landed");
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		const struct im_verify_kind *x = &r->kinds[k];
		if (!x->expected && !x->unchecked && !x->not_landed)
			continue;
		printf("%-13s %10lld %10lld %10lld %10lld %10lld %11lld\n", im_kind_info(k)->name, (long long)x->expected,
		       (long long)x->found, (long long)x->missing, (long long)x->differing, (long long)x->unchecked,
		       (long long)x->not_landed);
	}
	if (r->ndiffs) {
		printf("\nfirst differences:\n");
		for (size_t i = 0; i < r->ndiffs; i++)
			printf("  %-13s %s: %s\n", im_kind_info(r->diffs[i].kind)->name, r->diffs[i].key,
			       r->diffs[i].problem);
	}
	int64_t missing = im_verify_missing(r);
	printf("\n%s%s: %lld missing (%llu calls, %.1fs%s)\n", r->sample ? "sampled verification" : "verification",
	       missing ? " FAILED" : " passed", (long long)missing, (unsigned long long)r->calls, r->seconds,
	       r->throttled ? ", rate-limited answers seen" : "");
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		IM_CMD_OPT_SET,
		{"sample", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"kinds", required_argument, NULL, 'k'},
		{"max-diffs", required_argument, NULL, 'm'},
		IM_CMD_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	struct im_cmd cmd;
	struct im_job *job;
	int json = 0, c, rc;
	struct im_verify_options vo;
	memset(&vo, 0, sizeof vo);
	unsigned kinds = 0;
	if (im_cmd_init(&cmd, "verify", usage, argc) < 0)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:n:jk:m:h", opts, NULL)) != -1) {
		char *end = NULL;
		long long v;
		switch (c) {
		case 'j': json = 1; break;
		case 'n':
		case 'm':
			v = strtoll(optarg, &end, 10);
			if (!*optarg || *end || v < 1) {
				im_cmd_error(&cmd, "--%s needs a positive number", c == 'n' ? "sample" : "max-diffs");
				im_cmd_free(&cmd);
				return IM_EXIT_USAGE;
			}
			if (c == 'n')
				vo.sample = v;
			else
				vo.max_diffs = (size_t)v;
			break;
		case 'k':
			if (parse_kinds(optarg, &kinds) < 0) {
				im_cmd_free(&cmd);
				return IM_EXIT_USAGE;
			}
			break;
		default:
			if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
				return rc;
		}
	}
	if ((rc = im_cmd_load_job(&cmd, argc, argv, &job)) != IM_EXIT_OK)
		return rc;
	if (!im_job_has_target(job) || !im_job_target_endpoint(job)) {
		im_cmd_error(&cmd, "%s: the job has no target to read back", im_job_path(job));
		im_job_free(job);
		return IM_EXIT_USAGE;
	}
	if (im_cmd_need_stage(&cmd, job, "run `immigrate run` first") != IM_EXIT_OK) {
		im_job_free(job);
		return IM_EXIT_USAGE;
	}
	char err[2048];
	char *key = NULL;
	size_t key_len = 0;
	if (im_job_target_key(job, &key, &key_len, err, sizeof err) < 0) {
		im_cmd_error(&cmd, "%s", err);
		im_job_free(job);
		return IM_EXIT_USAGE;
	}
	struct im_tim_config tc;
	im_cmd_tim_config(job, key, key_len, &tc);
	struct im_tim *tim = im_tim_new(&tc, err, sizeof err);
	struct im_stage *st = NULL;
	int exit_code = IM_EXIT_FATAL;
	if (!tim) {
		im_cmd_error(&cmd, "%s", err);
		exit_code = IM_EXIT_USAGE;
		goto out;
	}
	if (im_cmd_open_stage(&cmd, job, &st) != IM_EXIT_OK)
		goto out;
	vo.limits = im_job_target_limits(job);
	vo.kinds = kinds ? kinds : im_job_kinds(job);
	struct im_verify_result res;
	rc = im_verify_run(st, tim, &vo, &res, err, sizeof err);
	if (rc < 0) {
		im_cmd_error(&cmd, "%s", err);
		im_verify_result_free(&res);
		goto out;
	}
	if (im_verify_save(st, &res, err, sizeof err) < 0)
		fprintf(stderr, "immigrate verify: warning: %s\n", err);
	if (json) {
		json_t *j = im_verify_to_json(&res);
		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(j);
	} else {
		print_table(&res);
	}
	exit_code = im_verify_missing(&res) ? IM_EXIT_DEAD_LETTERS : IM_EXIT_OK;
	im_verify_result_free(&res);
out:
	im_stage_close(st);
	im_tim_free(tim);
	im_secret_free(key, key_len);
	im_job_free(job);
	return exit_code;
}
