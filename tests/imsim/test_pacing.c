/* Unit tests of the emulator's token buckets and fault decisions on a synthetic clock,
 * so refill arithmetic and determinism are checked without any timing. */
#include "config.h"

#include <string.h>

#include "../tap.h"
#include "faults.h"
#include "ratelimit.h"

static void test_buckets(void)
{
	struct ratelimit *rl = ratelimit_new(1.0);
	const struct im_api_info *imp = im_rules_api("openim", "importmsg");
	const struct im_api_info *multi = im_rules_api("im_open_login_svc", "multiaccount_import");
	ok(rl && imp && multi, "buckets for the spec's APIs");
	int passed = 0;
	for (int i = 0; i < 250; i++)
		passed += ratelimit_take(rl, imp, 10.0, NULL);
	is_int(passed, 200, "importmsg: a burst of 200 within one instant");
	passed = 0;
	for (int i = 0; i < 150; i++)
		passed += ratelimit_take(rl, multi, 10.0, NULL);
	is_int(passed, 100, "multiaccount_import: 100, independently of importmsg");
	passed = 0;
	for (int i = 0; i < 100; i++)
		passed += ratelimit_take(rl, imp, 10.25, NULL);
	is_int(passed, 50, "a quarter second later 50 tokens have come back (200/s)");
	passed = 0;
	for (int i = 0; i < 500; i++)
		passed += ratelimit_take(rl, imp, 100.0, NULL);
	is_int(passed, 200, "refill stops at the burst size");
	ratelimit_free(rl);

	rl = ratelimit_new(0.01);
	ok(ratelimit_take(rl, multi, 0.0, NULL), "scaled to 1/s: one token to start with");
	ok(!ratelimit_take(rl, multi, 0.5, NULL), "none half a second later");
	ok(ratelimit_take(rl, multi, 1.01, NULL), "one again after a second");
	ratelimit_free(rl);

	rl = ratelimit_new(1.0);
	struct ratelimit_alert alert;
	int alerts = 0, first = 0;
	for (int i = 1; i <= 200; i++) {
		ratelimit_take(rl, imp, 5.5, &alert);
		if (alert.fire && !alerts++)
			first = i;
	}
	is_int(alerts, 1, "one alert per second and API");
	is_int(first, 161, "the alert fires on the call past 80 %% of 200/s");
	ok(alert.limit == 200, "and reports the limit");
	ratelimit_take(rl, imp, 6.1, &alert);
	ok(!alert.fire, "a new second starts counting again");
	ratelimit_free(rl);
}

static void series(struct faults *f, enum fault_kind *out, int n)
{
	f->counter = 0;
	for (int i = 0; i < n; i++)
		out[i] = faults_next(f);
}

static void test_faults(void)
{
	struct faults f;
	char err[160];
	is_int(faults_parse(&f, NULL, err, sizeof err), 0, "no spec: no faults");
	ok(faults_next(&f) == FAULT_NONE, "... none injected");
	is_int(faults_parse(&f, "rate=0.3,seed=77", err, sizeof err), 0, "rate and seed");
	enum fault_kind a[2000], b[2000];
	series(&f, a, 2000);
	series(&f, b, 2000);
	ok(!memcmp(a, b, sizeof a), "the same seed gives the same series");
	int failed = 0, kinds[FAULT_KINDS] = {0};
	for (int i = 0; i < 2000; i++) {
		failed += a[i] != FAULT_NONE;
		kinds[a[i]]++;
	}
	ok(failed > 500 && failed < 700, "rate 0.3 fails about 30 %% (%d of 2000)", failed);
	ok(kinds[FAULT_LOST] < kinds[FAULT_502] && kinds[FAULT_HANG] < kinds[FAULT_DROP],
	   "lost answers and hangs are the rarer kinds");
	faults_parse(&f, "rate=0.3,seed=78", err, sizeof err);
	series(&f, b, 2000);
	ok(memcmp(a, b, sizeof a), "another seed gives another series");
	is_int(faults_parse(&f, "rate=1,seed=1,kinds=lost+502", err, sizeof err), 0, "kinds subset");
	series(&f, a, 100);
	int other = 0;
	for (int i = 0; i < 100; i++)
		other += a[i] != FAULT_LOST && a[i] != FAULT_502;
	is_int(other, 0, "only the listed kinds are injected");
	ok(faults_parse(&f, "rate=0.1,kinds=fire", err, sizeof err) == -1 && strstr(err, "fire"),
	   "an unknown kind is refused by name");
	ok(faults_parse(&f, "seed=1", err, sizeof err) == -1, "rate is required");
	ok(faults_parse(&f, "rate=1.5", err, sizeof err) == -1, "rate beyond 1 refused");
	ok(faults_parse(&f, "rate=0.1,color=red", err, sizeof err) == -1 && strstr(err, "color"),
	   "an unknown setting is refused by name");
}

int main(void)
{
	test_buckets();
	test_faults();
	return done_testing();
}
