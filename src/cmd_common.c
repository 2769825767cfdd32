/* The job commands' shared plumbing (see cmd_common.h). */
#include "config.h"

#include "cmd_common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "job.h"
#include "log.h"
#include "progress.h"
#include "plan.h"
#include "stage.h"
#include "tim.h"

int im_cmd_init(struct im_cmd *cmd, const char *name, void (*usage)(FILE *out), int argc)
{
	memset(cmd, 0, sizeof *cmd);
	cmd->name = name;
	cmd->usage = usage;
	/* Every argument could be a --set value; +1 keeps calloc's size non-zero. */
	cmd->sets = calloc((size_t)argc + 1, sizeof *cmd->sets);
	return cmd->sets ? 0 : -1;
}

void im_cmd_free(struct im_cmd *cmd)
{
	free(cmd->sets);
	cmd->sets = NULL;
	cmd->nsets = 0;
}

void im_cmd_error(const struct im_cmd *cmd, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cmd->errors_to_log)
		im_error("%s", msg);
	else
		fprintf(stderr, "immigrate %s: %s\n", cmd->name, msg);
}

int im_cmd_option(struct im_cmd *cmd, int opt, const char *arg)
{
	switch (opt) {
	case 's':
		cmd->sets[cmd->nsets++] = arg;
		return IM_CMD_NEXT;
	case 'p':
		cmd->plugin_dir = arg;
		return IM_CMD_NEXT;
	case 'f':
		if (strcmp(arg, "json") && strcmp(arg, "text")) {
			fprintf(stderr, "immigrate %s: --log-format is text or json\n", cmd->name);
			im_cmd_free(cmd);
			return IM_EXIT_USAGE;
		}
		cmd->log_json = strcmp(arg, "json") == 0;
		im_log_set_format(cmd->log_json ? IM_LOG_JSON : IM_LOG_TEXT);
		return IM_CMD_NEXT;
	case 'h':
		cmd->usage(stdout);
		im_cmd_free(cmd);
		return IM_EXIT_OK;
	default:
		cmd->usage(stderr);
		im_cmd_free(cmd);
		return IM_EXIT_USAGE;
	}
}

int im_cmd_concurrency(struct im_cmd *cmd, const char *arg, int *out)
{
	char *end;
	long n = strtol(arg, &end, 10);
	if (!*arg || *end || n < 1 || n > 10000) {
		fprintf(stderr, "immigrate %s: --concurrency needs a number from 1 to 10000\n", cmd->name);
		im_cmd_free(cmd);
		return IM_EXIT_USAGE;
	}
	*out = (int)n;
	return IM_CMD_NEXT;
}

int im_cmd_load_job_at(struct im_cmd *cmd, const char *path, struct im_job **job)
{
	char err[2048];
	int rc = im_job_load(path, cmd->sets, cmd->nsets, job, err, sizeof err);
	im_cmd_free(cmd);
	if (rc < 0) {
		im_cmd_error(cmd, "%s", err);
		return IM_EXIT_USAGE;
	}
	return IM_EXIT_OK;
}

int im_cmd_load_job(struct im_cmd *cmd, int argc, char **argv, struct im_job **job)
{
	*job = NULL;
	if (optind != argc - 1) {
		cmd->usage(stderr);
		im_cmd_free(cmd);
		return IM_EXIT_USAGE;
	}
	return im_cmd_load_job_at(cmd, argv[optind], job);
}

int im_cmd_need_stage(const struct im_cmd *cmd, const struct im_job *job, const char *hint)
{
	if (access(im_job_state_path(job), F_OK) == 0)
		return IM_EXIT_OK;
	im_cmd_error(cmd, "%s: no stage yet (%s)", im_job_state_path(job), hint);
	return IM_EXIT_USAGE;
}

int im_cmd_open_stage(const struct im_cmd *cmd, const struct im_job *job, struct im_stage **stage)
{
	char err[2048];
	*stage = NULL;
	if (im_stage_open(im_job_state_path(job), stage, err, sizeof err) < 0) {
		im_cmd_error(cmd, "%s", err);
		return IM_EXIT_FATAL;
	}
	return IM_EXIT_OK;
}

int im_cmd_plan_config(const struct im_cmd *cmd, const struct im_job *job, const char *edition,
		       struct im_plan_config *cfg)
{
	char err[512];
	im_plan_config_defaults(cfg);
	cfg->kinds = im_job_kinds(job);
	if (im_plan_config_from_limits(cfg, im_job_target_limits(job), err, sizeof err) < 0) {
		im_cmd_error(cmd, "%s", err);
		return IM_EXIT_USAGE;
	}
	/* target.plan was checked when the job was loaded; --edition is checked
	 * here, by plan.h, whose message names the setting it stands for. */
	const char *name = edition ? edition : im_job_target_plan(job);
	if (!name)
		return IM_EXIT_OK;
	json_t *target = json_pack("{s:s}", "plan", name);
	int rc = target ? im_plan_config_from_target(cfg, target, err, sizeof err) : -1;
	if (!target)
		snprintf(err, sizeof err, "out of memory");
	json_decref(target);
	if (rc < 0) {
		im_cmd_error(cmd, "%s%s", edition ? "--edition: " : "", err);
		return IM_EXIT_USAGE;
	}
	return IM_EXIT_OK;
}

void im_cmd_tim_config(const struct im_job *job, const char *key, size_t key_len, struct im_tim_config *tc)
{
	memset(tc, 0, sizeof *tc);
	tc->endpoint = im_job_target_endpoint(job);
	tc->sdkappid = im_job_target_sdkappid(job);
	tc->admin = im_job_target_admin(job);
	tc->key = key;
	tc->key_len = key_len;
	tc->ca_file = im_job_target_ca_file(job);
	tc->insecure = im_job_target_insecure(job);
	tc->timeout_ms = im_job_target_timeout_ms(job);
}

static void show_extract(void *arg, const struct im_extract_progress *x, int final)
{
	im_progress_extract(arg, x, im_extract_clock(), final != 0);
}

struct im_extract_watch im_cmd_extract_watch(bool quiet, bool json)
{
	struct im_extract_watch w = {show_extract, im_progress_new(stderr, isatty(STDERR_FILENO), quiet, json)};
	if (!w.arg)
		w.fn = NULL; /* out of memory: no display, the extract goes on */
	return w;
}

void im_cmd_extract_watch_end(struct im_extract_watch *w)
{
	im_progress_free(w->arg);
	w->arg = NULL;
	w->fn = NULL;
}
