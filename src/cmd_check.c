/* immigrate check JOB: validate a job without touching the network. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "commands.h"
#include "extract.h"
#include "job.h"
#include "secret.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: immigrate check JOB [--set key.sub=value]... [--plugin-dir DIR]\n"
		     "Checks the job file, the source plugin's options (open and close, no reading),\n"
		     "the mapping script (loads it) and the target's key, without network access.\n");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		IM_CMD_OPT_SET, IM_CMD_OPT_PLUGIN_DIR, IM_CMD_OPT_HELP, {NULL, 0, NULL, 0},
	};
	struct im_cmd cmd;
	struct im_job *job;
	int c, rc;
	if (im_cmd_init(&cmd, "check", usage, argc) < 0)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:p:h", opts, NULL)) != -1)
		if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
			return rc;
	if ((rc = im_cmd_load_job(&cmd, argc, argv, &job)) != IM_EXIT_OK)
		return rc;
	char err[2048];
	if (im_extract_check(job, cmd.plugin_dir, err, sizeof err) < 0) {
		im_cmd_error(&cmd, "%s", err);
		rc = IM_EXIT_USAGE;
	}
	const char *key_from = "none";
	if (im_job_has_target(job)) {
		char *key;
		size_t len;
		if (!im_job_target_endpoint(job) || !im_job_target_sdkappid(job) || !im_job_target_admin(job)) {
			fprintf(stderr, "immigrate check: %s: target needs endpoint, sdkappid and admin\n",
				im_job_path(job));
			rc = IM_EXIT_USAGE;
		}
		if (im_job_target_key(job, &key, &len, err, sizeof err) < 0) {
			im_cmd_error(&cmd, "%s", err);
			rc = IM_EXIT_USAGE;
		} else {
			im_secret_free(key, len);
			key_from = im_job_target_key_file(job) ? im_job_target_key_file(job) : "inline or $IMMIGRATE_SECRET_KEY";
		}
	}
	if (rc == IM_EXIT_OK) {
		printf("job:    %s\n", im_job_path(job));
		printf("source: %s\n", im_job_plugin(job));
		printf("script: %s\n", im_job_script_path(job));
		printf("state:  %s\n", im_job_state_path(job));
		if (im_job_has_target(job))
			printf("target: %s sdkappid %llu admin %s (key: %s)\n", im_job_target_endpoint(job),
			       (unsigned long long)im_job_target_sdkappid(job), im_job_target_admin(job), key_from);
		else
			printf("target: none (stage only)\n");
		printf("ok\n");
	}
	im_job_free(job);
	return rc;
}
