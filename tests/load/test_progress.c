/* Unit tests for src/progress.c: rate-limit floors and the summary table. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "tap.h"

int main(void)
{
	struct im_progress_kind k[IM_KIND_COUNT];
	memset(k, 0, sizeof k);
	for (int i = 0; i < IM_KIND_COUNT; i++) {
		k[i].name = im_kind_info(i)->name;
		k[i].selected = true;
		k[i].limit = 200;
	}
	k[IM_KIND_ACCOUNT].limit = 100;
	k[IM_KIND_ACCOUNT].calls = 100;	   /* 1 s */
	k[IM_KIND_C2C_MSG].calls = 2000;   /* 10 s after accounts */
	k[IM_KIND_C2C_READ].calls = 200;   /* 1 s after c2c */
	k[IM_KIND_FRIEND].calls = 400;	   /* 2 s, parallel to c2c */
	k[IM_KIND_GROUP].calls = 10;	   /* 0.05 s */
	k[IM_KIND_GROUP_MSG].calls = 1000; /* 5 s after members */
	ok(fabs(im_progress_floor(&k[IM_KIND_ACCOUNT]) - 1.0) < 1e-9, "floor = calls / limit");
	ok(fabs(im_progress_total_floor(k) - 12.0) < 1e-9, "total floor is the longest dependency chain (%g)",
	   im_progress_total_floor(k));
	k[IM_KIND_C2C_MSG].selected = false;
	ok(fabs(im_progress_total_floor(k) - 6.05) < 1e-9, "kinds left out do not count (%g)",
	   im_progress_total_floor(k));

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	k[IM_KIND_ACCOUNT].staged = 500;
	k[IM_KIND_ACCOUNT].landed = 498;
	k[IM_KIND_ACCOUNT].dead = 2;
	k[IM_KIND_ACCOUNT].started = 10.0;
	k[IM_KIND_ACCOUNT].ended = 11.5;
	im_progress_summary(f, k, 1.5, true);
	fclose(f);
	ok(strstr(buf, "{\"event\":\"summary\",\"kind\":\"account\",\"staged\":500,\"landed\":498,\"dead\":2,"
		       "\"retries\":0,\"calls\":100,\"wall_s\":1.500,\"floor_s\":1.000,\"throttled\":0}") != NULL,
	   "JSON summary line of a kind");
	ok(strstr(buf, "\"kind\":\"total\"") != NULL, "and a total");
	ok(strstr(buf, "\"kind\":\"profile\"") == NULL, "kinds with nothing staged are left out");
	free(buf);
	f = open_memstream(&buf, &len);
	im_progress_summary(f, k, 1.5, false);
	fclose(f);
	ok(strstr(buf, "account") && strstr(buf, "wall time / rate-limit floor"), "text table with the ratio");
	free(buf);
	return done_testing();
}
