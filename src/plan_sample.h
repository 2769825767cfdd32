/* The sampled plan: map only the first N native records of a job's source into a
 * scratch stage, and the factor that scales what they made to the whole source,
 * from the plugin's estimate() (records per stream). */
#ifndef IMMIGRATE_PLAN_SAMPLE_H
#define IMMIGRATE_PLAN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

struct im_job;
struct im_stage;

struct im_plan_sample_info {
	uint64_t native;    /* native records read (<= n) */
	int ended;	    /* the source ended within the sample: the sample is everything */
	int64_t estimate;   /* the plugin's estimate of all native records, -1 when it has none */
	double scale;	    /* estimate / native (1 when ended or no estimate) */
};

/* Reads at most n native records of job's source (plugin_dir may be NULL) through
 * the job's script, staging what it makes into scratch (a stage of its own, not
 * the job's: nothing is checkpointed), runs the script's finish(), and fills
 * *info. Returns 0, -1 on a fatal error, -2 on a configuration error (plugin not
 * found or refused, options refused, script does not load); err says why. */
int im_plan_sample(const struct im_job *job, const char *plugin_dir, uint64_t n, struct im_stage *scratch,
		   struct im_plan_sample_info *info, char *err, size_t err_size);

#endif
