/* immigrate preview JOB: what the mapping script makes of the first records. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "commands.h"
#include "extract.h"
#include "job.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: immigrate preview JOB [--limit N] [--set key.sub=value]... [--plugin-dir DIR]\n"
		     "Prints the IM records the script makes from the first N native records (default 10,\n"
		     "0 for all), one JSON object per line; dead letters go to stderr. Stages nothing.\n");
}

int cmd_preview(int argc, char **argv)
{
	static const struct option opts[] = {
		{"limit", required_argument, NULL, 'n'},
		IM_CMD_OPT_SET,
		IM_CMD_OPT_PLUGIN_DIR,
		IM_CMD_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	struct im_cmd cmd;
	struct im_job *job;
	unsigned long long limit = 10;
	char *end;
	int c, rc;
	if (im_cmd_init(&cmd, "preview", usage, argc) < 0)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:s:p:h", opts, NULL)) != -1) {
		if (c != 'n') {
			if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
				return rc;
			continue;
		}
		limit = strtoull(optarg, &end, 10);
		if (!*optarg || *end || optarg[0] == '-') {
			im_cmd_error(&cmd, "--limit needs a number");
			im_cmd_free(&cmd);
			return IM_EXIT_USAGE;
		}
	}
	if ((rc = im_cmd_load_job(&cmd, argc, argv, &job)) != IM_EXIT_OK)
		return rc;
	char err[2048];
	struct im_extract_stats st;
	rc = im_extract_preview(job, cmd.plugin_dir, limit, stdout, &st, err, sizeof err);
	im_job_free(job);
	fflush(stdout);
	if (rc < 0) {
		im_cmd_error(&cmd, "%s", err);
		return rc == -2 ? IM_EXIT_USAGE : IM_EXIT_FATAL;
	}
	uint64_t dead = st.dead_parse + st.dead_script + st.dead_validate, made = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++)
		made += st.staged[k];
	fprintf(stderr, "preview: %llu native records -> %llu IM records, %llu dead letters\n",
		(unsigned long long)st.native, (unsigned long long)made, (unsigned long long)dead);
	return dead ? IM_EXIT_DEAD_LETTERS : IM_EXIT_OK;
}
