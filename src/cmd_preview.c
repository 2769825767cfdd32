/* immigrate preview JOB: what the mapping script makes of the first records. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		{"set", required_argument, NULL, 's'},
		{"plugin-dir", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **sets = calloc((size_t)argc, sizeof *sets);
	size_t nsets = 0;
	const char *plugin_dir = NULL;
	unsigned long long limit = 10;
	char *end;
	int c;
	if (!sets)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:s:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			limit = strtoull(optarg, &end, 10);
			if (!*optarg || *end || optarg[0] == '-') {
				fprintf(stderr, "immigrate preview: --limit needs a number\n");
				free(sets);
				return IM_EXIT_USAGE;
			}
			break;
		case 's': sets[nsets++] = optarg; break;
		case 'p': plugin_dir = optarg; break;
		case 'h': usage(stdout); free(sets); return IM_EXIT_OK;
		default: usage(stderr); free(sets); return IM_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		free(sets);
		return IM_EXIT_USAGE;
	}
	char err[2048];
	struct im_job *job;
	int rc = im_job_load(argv[optind], sets, nsets, &job, err, sizeof err);
	free(sets);
	if (rc < 0) {
		fprintf(stderr, "immigrate preview: %s\n", err);
		return IM_EXIT_USAGE;
	}
	struct im_extract_stats st;
	rc = im_extract_preview(job, plugin_dir, limit, stdout, &st, err, sizeof err);
	im_job_free(job);
	fflush(stdout);
	if (rc < 0) {
		fprintf(stderr, "immigrate preview: %s\n", err);
		return rc == -2 ? IM_EXIT_USAGE : IM_EXIT_FATAL;
	}
	uint64_t dead = st.dead_parse + st.dead_script + st.dead_validate, made = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++)
		made += st.staged[k];
	fprintf(stderr, "preview: %llu native records -> %llu IM records, %llu dead letters\n",
		(unsigned long long)st.native, (unsigned long long)made, (unsigned long long)dead);
	return dead ? IM_EXIT_DEAD_LETTERS : IM_EXIT_OK;
}
