/* immigrate report JOB --html FILE: the migration report as one HTML file. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
		{"set", required_argument, NULL, 's'},	   {"html", required_argument, NULL, 'o'},
		{"edition", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **sets = calloc((size_t)argc, sizeof *sets);
	size_t nsets = 0;
	const char *html = NULL, *edition = NULL;
	int c;
	if (!sets)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:o:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sets[nsets++] = optarg; break;
		case 'o': html = optarg; break;
		case 'e': edition = optarg; break;
		case 'h': usage(stdout); free(sets); return IM_EXIT_OK;
		default: usage(stderr); free(sets); return IM_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !html || !*html) {
		usage(stderr);
		free(sets);
		return IM_EXIT_USAGE;
	}
	char err[2048];
	struct im_job *job;
	int rc = im_job_load(argv[optind], sets, nsets, &job, err, sizeof err);
	free(sets);
	if (rc < 0) {
		fprintf(stderr, "immigrate report: %s\n", err);
		return IM_EXIT_USAGE;
	}
	struct im_plan_config cfg;
	im_plan_config_defaults(&cfg);
	cfg.kinds = im_job_kinds(job);
	json_t *override = edition ? json_pack("{s:s}", "plan", edition) : NULL;
	if (im_plan_config_from_target(&cfg, json_object_get(im_job_json(job), "target"), err, sizeof err) < 0 ||
	    im_plan_config_from_target(&cfg, override, err, sizeof err) < 0) {
		fprintf(stderr, "immigrate report: %s\n", err);
		json_decref(override);
		im_job_free(job);
		return IM_EXIT_USAGE;
	}
	json_decref(override);
	if (access(im_job_state_path(job), F_OK) != 0) {
		fprintf(stderr, "immigrate report: %s: no stage yet (run `immigrate run` or `immigrate plan` first)\n",
			im_job_state_path(job));
		im_job_free(job);
		return IM_EXIT_USAGE;
	}
	struct im_stage *st;
	if (im_stage_open(im_job_state_path(job), &st, err, sizeof err) < 0) {
		fprintf(stderr, "immigrate report: %s\n", err);
		im_job_free(job);
		return IM_EXIT_FATAL;
	}
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
		fprintf(stderr, "immigrate report: %s\n", err);
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
