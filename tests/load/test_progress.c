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
	/* Read marks wait per conversation: they run alongside the messages, and only
	 * one call of theirs (1/200 s) must follow the last message. */
	ok(fabs(im_progress_total_floor(k) - 11.005) < 1e-9, "total floor is the longest dependency chain (%g)",
	   im_progress_total_floor(k));
	k[IM_KIND_C2C_READ].calls = 2400; /* 12 s: longer than the messages */
	ok(fabs(im_progress_total_floor(k) - 13.0) < 1e-9, "read marks longer than the messages set the floor (%g)",
	   im_progress_total_floor(k));
	k[IM_KIND_C2C_READ].calls = 200;
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

	/* The total ETA: the plan's model over what remains, at the model's limits. */
	struct im_progress_kind e[IM_KIND_COUNT];
	memset(e, 0, sizeof e);
	for (int i = 0; i < IM_KIND_COUNT; i++) {
		e[i].name = im_kind_info(i)->name;
		e[i].selected = true;
	}
	e[IM_KIND_C2C_MSG].staged = 3000;
	e[IM_KIND_C2C_MSG].landed = 900;
	e[IM_KIND_C2C_MSG].dead = 100; /* 2000 left: 10 s at importmsg's 200/s */
	e[IM_KIND_ACCOUNT].staged = 500;
	e[IM_KIND_ACCOUNT].landed = 500;
	e[IM_KIND_FRIEND].staged = 7;
	e[IM_KIND_FRIEND].selected = false; /* not part of this load */
	f = open_memstream(&buf, &len);
	struct im_progress *p = im_progress_new(f, false, false, true);
	ok(fabs(im_progress_eta(p, e) - 10.0) < 1e-6, "ETA at the default limits: 2000 messages / 200 per s (%g)",
	   im_progress_eta(p, e));
	struct im_plan_config c;
	im_plan_config_defaults(&c);
	json_t *limits = json_pack("{s:i}", "importmsg", 400);
	ok(im_plan_config_from_limits(&c, limits, NULL, 0) == 0, "model from target.limits");
	json_decref(limits);
	im_progress_set_model(p, &c);
	ok(fabs(im_progress_eta(p, e) - 5.0) < 1e-6, "ETA at the configured limit of 400/s (%g)",
	   im_progress_eta(p, e));
	e[IM_KIND_ACCOUNT].landed = 0; /* 500 accounts first: 5 calls of 100 at multiaccount_import's limit */
	int64_t left[IM_KIND_COUNT] = {0};
	left[IM_KIND_ACCOUNT] = 500;
	left[IM_KIND_C2C_MSG] = 2000;
	double want = im_plan_eta_records(&c, left);
	ok(fabs(im_progress_eta(p, e) - want) < 1e-9 && want > 5.0,
	   "kinds not started yet count in dependency order (%g = plan model %g)", im_progress_eta(p, e), want);
	e[IM_KIND_ACCOUNT].landed = 500;
	e[IM_KIND_C2C_MSG].started = 1.0;
	im_progress_update(p, e, 2.0, true);
	fflush(f);
	ok(strstr(buf, "\"kind\":\"total\",\"staged\":3500,\"landed\":1400,\"dead\":100,\"calls\":0,\"eta_s\":5.0}") !=
		   NULL,
	   "the JSON progress has a total with the model's ETA");
	im_progress_free(p);
	fclose(f);
	free(buf);
	f = open_memstream(&buf, &len);
	p = im_progress_new(f, false, false, false);
	im_progress_set_model(p, &c);
	im_progress_update(p, e, 2.0, true);
	fflush(f);
	ok(strstr(buf, "total") && strstr(buf, "ETA 5.0s at the rate limits"), "the text progress too");
	e[IM_KIND_C2C_MSG].landed = 2900;
	ok(im_progress_eta(p, e) == 0, "nothing left: ETA 0");
	im_progress_free(p);
	fclose(f);
	free(buf);
	return done_testing();
}
