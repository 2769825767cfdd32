/* immigrate report JOB --html FILE: the migration report as one HTML file. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "job.h"
#include "plan.h"
#include "report.h"
#include "stage.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: immigrate report JOB --html FILE [--set key.sub=value]... [--edition NAME]\n"
		     "Writes one self-contained HTML file (no external assets): per-kind counts, the plan\n"
		     "against the actual time, throughput over the run, dead letters grouped by reason with\n"
		     "examples, and the latest `immigrate verify` result. Prints the file's path.\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		IM_CMD_OPT_SET,
		{"html", required_argument, NULL, 'o'},
		{"edition", required_argument, NULL, 'e'},
		IM_CMD_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	struct im_cmd cmd;
	struct im_job *job;
	const char *html = NULL, *edition = NULL;
	int c, rc;
	if (im_cmd_init(&cmd, "report", usage, argc) < 0)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:o:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': html = optarg; break;
		case 'e': edition = optarg; break;
		default:
			if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
				return rc;
		}
	}
	if (!html || !*html) {
		usage(stderr);
		im_cmd_free(&cmd);
		return IM_EXIT_USAGE;
	}
	if ((rc = im_cmd_load_job(&cmd, argc, argv, &job)) != IM_EXIT_OK)
		return rc;
	struct im_plan_config cfg;
	struct im_stage *st;
	if ((rc = im_cmd_plan_config(&cmd, job, edition, &cfg)) != IM_EXIT_OK ||
	    (rc = im_cmd_need_stage(&cmd, job, "run `immigrate run` or `immigrate plan` first")) != IM_EXIT_OK ||
	    (rc = im_cmd_open_stage(&cmd, job, &st)) != IM_EXIT_OK) {
		im_job_free(job);
		return rc;
	}
	char err[2048];
	/* Written beside the target and renamed, so a reader never sees half a file. */
	size_t tlen = strlen(html) + 8;
	char *tmp = malloc(tlen);
	int exit_code = IM_EXIT_FATAL;
	FILE *out = NULL;
	if (!tmp)
		goto done;
	snprintf(tmp, tlen, "%s.tmp", html);
	out = fopen(tmp, "w");
	if (!out) {
		fprintf(stderr, "immigrate report: %s: cannot write: %m\n", tmp);
		goto done;
	}
	struct im_report_options opt = {im_job_name(job), &cfg};
	rc = im_report_write(st, &opt, out, err, sizeof err);
	int bad = ferror(out);
	if (fclose(out) != 0)
		bad = 1;
	if (rc < 0) {
		im_cmd_error(&cmd, "%s", err);
		unlink(tmp);
		goto done;
	}
	if (bad || rename(tmp, html) != 0) {
		fprintf(stderr, "immigrate report: %s: cannot write: %m\n", html);
		unlink(tmp);
		goto done;
	}
	printf("%s\n", html);
	exit_code = IM_EXIT_OK;
done:
	free(tmp);
	im_stage_close(st);
	im_job_free(job);
	return exit_code;
}
