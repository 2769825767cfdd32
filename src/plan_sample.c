/* The sampled plan (see plan_sample.h). */
#include "config.h"

#include "plan_sample.h"

#include <stdio.h>
#include <string.h>

#include "extract.h"
#include "host.h"
#include "job.h"
#include "plugin.h"
#include "stage.h"

int im_plan_sample(const struct im_job *job, const char *plugin_dir, uint64_t n, struct im_stage *scratch,
		   struct im_plan_sample_info *info, char *err, size_t err_size)
{
	memset(info, 0, sizeof *info);
	info->estimate = -1;
	info->scale = 1;
	char why[1024] = "";
	struct im_plugin *plugin = im_plugin_load(im_job_plugin(job), plugin_dir, why, sizeof why);
	if (!plugin) {
		snprintf(err, err_size, "%s: source plugin: %s", im_job_path(job), why);
		return -2;
	}
	const struct im_source *src = im_plugin_source(plugin);
	struct im_host_config hc = {.plugin_name = src->name};
	struct im_host *host = im_host_new(&hc);
	void *state = NULL;
	struct im_transform *t = NULL;
	int rc = -1;
	if (!(src->capabilities & IM_SOURCE_CAP_READ)) {
		snprintf(err, err_size, "%s: plugin '%s' cannot read (no read capability)", im_job_path(job), src->name);
		rc = -2;
		goto done;
	}
	if (!host) {
		snprintf(err, err_size, "cannot set up the plugin host");
		goto done;
	}
	if (src->open(host, im_job_source_options(job), NULL, &state, why, sizeof why) != IM_SOURCE_OK) {
		snprintf(err, err_size, "%s: source %s: %s", im_job_path(job), src->name, why[0] ? why : "open failed");
		state = NULL;
		rc = -2;
		goto done;
	}
	if (im_transform_open(job, scratch, NULL, &t, err, err_size) < 0) {
		rc = -2;
		goto done;
	}
	info->estimate = im_plugin_estimate(src, state);
	struct im_extract_stats stats;
	memset(&stats, 0, sizeof stats);
	if (im_stage_begin(scratch, err, err_size) < 0)
		goto done;
	while (info->native < n) {
		struct im_record r;
		memset(&r, 0, sizeof r);
		r.size = sizeof r;
		why[0] = '\0';
		int got = src->next(state, &r, why, sizeof why);
		if (got == IM_SOURCE_END) {
			info->ended = 1;
			break;
		}
		if (got != IM_SOURCE_OK) {
			snprintf(err, err_size, "source %s: %s", src->name, why[0] ? why : "read failed");
			im_stage_rollback(scratch);
			goto done;
		}
		info->native++;
		if (r.error || !r.data)
			continue; /* a parse dead letter: nothing to plan */
		struct im_script_input in = {
			.stream = r.stream ? r.stream : "records", .source_id = r.source_id, .origin = r.origin, .data = r.data};
		if (im_transform_native(t, &in, 0, NULL, &stats, err, err_size) < 0) {
			im_stage_rollback(scratch);
			goto done;
		}
	}
	if (im_transform_finish(t, &stats, err, err_size) < 0 || im_stage_commit(scratch, err, err_size) < 0) {
		im_stage_rollback(scratch);
		goto done;
	}
	if (!info->ended && info->estimate > 0 && info->native > 0 && (uint64_t)info->estimate > info->native)
		info->scale = (double)info->estimate / (double)info->native;
	rc = 0;
done:
	if (t)
		im_transform_close(t);
	if (state)
		src->close(state);
	im_host_free(host);
	im_plugin_unload(plugin);
	return rc;
}
