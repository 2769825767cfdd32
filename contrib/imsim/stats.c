/* Request counters for /_sim/stats. */
#include "config.h"

#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imrules.h"

int stats_init(struct stats *s)
{
	memset(s, 0, sizeof *s);
	while (im_rules_api_at(s->n_api))
		s->n_api++;
	s->per_api = calloc(s->n_api, sizeof *s->per_api);
	return s->per_api ? 0 : -1;
}

void stats_free(struct stats *s)
{
	free(s->per_api);
	free(s->codes);
	memset(s, 0, sizeof *s);
}

void stats_api(struct stats *s, const struct im_api_info *api)
{
	for (size_t i = 0; i < s->n_api; i++)
		if (im_rules_api_at(i) == api)
			s->per_api[i]++;
}

void stats_code(struct stats *s, int code)
{
	for (size_t i = 0; i < s->n_codes; i++)
		if (s->codes[i].code == code) {
			s->codes[i].count++;
			return;
		}
	if (s->n_codes == s->cap_codes) {
		size_t cap = s->cap_codes ? 2 * s->cap_codes : 16;
		struct stats_code *c = realloc(s->codes, cap * sizeof *c);
		if (!c)
			return;	/* a lost counter is better than a failed request */
		s->codes = c;
		s->cap_codes = cap;
	}
	s->codes[s->n_codes++] = (struct stats_code){code, 1};
}

json_t *stats_json(const struct stats *s)
{
	json_t *per_api = json_object(), *codes = json_object(), *faults = json_object();
	for (size_t i = 0; per_api && i < s->n_api; i++) {
		if (!s->per_api[i])
			continue;
		const struct im_api_info *a = im_rules_api_at(i);
		char name[96];
		snprintf(name, sizeof name, "%s/%s", a->service, a->command);
		json_object_set_new(per_api, name, json_integer((json_int_t)s->per_api[i]));
	}
	for (size_t i = 0; codes && i < s->n_codes; i++) {
		char name[16];
		snprintf(name, sizeof name, "%d", s->codes[i].code);
		json_object_set_new(codes, name, json_integer((json_int_t)s->codes[i].count));
	}
	for (int k = 1; faults && k < FAULT_KINDS; k++)
		json_object_set_new(faults, faults_name((enum fault_kind)k), json_integer((json_int_t)s->faults[k]));
	return json_pack("{s:I, s:o*, s:o*, s:I, s:o*, s:I, s:I}", "requests", (json_int_t)s->requests,
			 "per_api", per_api, "codes", codes, "rate_limited", (json_int_t)s->rate_limited,
			 "faults", faults, "callbacks_sent", (json_int_t)s->callbacks_sent,
			 "callbacks_failed", (json_int_t)s->callbacks_failed);
}
