/* Pull mode: placeholder until the Platform API reader lands. */
#include "sendbird_internal.h"

#include <stdio.h>

int sb_pull_open(const struct im_host *host, const json_t *options, const json_t *checkpoint, struct sb_pull **out,
		 char *err, size_t err_size)
{
	snprintf(err, err_size, "source.app_id: pull mode is not available in this build");
	return IM_SOURCE_ERROR;
}
int sb_pull_next(struct sb_pull *p, struct im_record *out, char *err, size_t err_size)
{
	return IM_SOURCE_ERROR;
}
json_t *sb_pull_checkpoint(struct sb_pull *p)
{
	return NULL;
}
int sb_pull_estimate(struct sb_pull *p, json_t **counts, char *err, size_t err_size)
{
	return IM_SOURCE_ERROR;
}
void sb_pull_close(struct sb_pull *p)
{
}
