/* im_load_run: the loader's target taken from a job file (job.h). */
#include "config.h"

#include "commands.h"
#include "job.h"
#include "load.h"
#include "log.h"
#include "secret.h"

int im_load_run(struct im_job *job, struct im_stage *stage, const struct im_load_options *opt)
{
	char err[512];
	if (!im_job_has_target(job)) {
		im_error("%s: the job has no target table: nothing to load into", im_job_path(job));
		return IM_EXIT_USAGE;
	}
	char *key = NULL;
	size_t key_len = 0;
	if (im_job_target_key(job, &key, &key_len, err, sizeof err) < 0) {
		im_error("%s", err);
		return IM_EXIT_USAGE;
	}
	struct im_load_target tg = {
		.endpoint = im_job_target_endpoint(job),
		.sdkappid = im_job_target_sdkappid(job),
		.admin = im_job_target_admin(job),
		.key = key,
		.key_len = key_len,
		.ca_file = im_job_target_ca_file(job),
		.insecure = im_job_target_insecure(job),
		.timeout_ms = im_job_target_timeout_ms(job),
		.limits = im_job_target_limits(job),
		.kinds = im_job_kinds(job),
	};
	int rc = im_load_execute(&tg, stage, opt);
	im_secret_free(key, key_len);
	return rc;
}
