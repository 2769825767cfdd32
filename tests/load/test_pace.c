/* Unit tests for src/pace.c on a virtual clock. */
#include "config.h"

#include <math.h>

#include "pace.h"
#include "tap.h"

/* Calls sent in [t0, t1) when the caller takes tokens as soon as they exist,
 * stepping the virtual clock by the wait the bucket asks for. */
static int drain(struct im_pace *p, double t0, double t1, double *t_end)
{
	double t = t0, wait;
	int n = 0;
	while (t < t1) {
		if (im_pace_take(p, t, &wait) == 0) {
			n++;
			continue;
		}
		t += wait > 1e-6 ? wait : 1e-6;
	}
	if (t_end)
		*t_end = t;
	return n;
}

int main(void)
{
	struct im_pace p;
	double wait;

	is_int(im_pace_default_limit("multiaccount_import"), 100, "multiaccount_import 100/s");
	is_int(im_pace_default_limit("account_check"), 100, "account_check 100/s");
	is_int(im_pace_default_limit("importmsg"), 200, "importmsg 200/s");
	is_int(im_pace_default_limit("import_group_msg"), 200, "import_group_msg 200/s");

	im_pace_init(&p, 200, 1000.0);
	is_int(im_pace_take(&p, 1000.0, &wait), 0, "first call goes at once");
	is_int(im_pace_take(&p, 1000.0, &wait), -1, "second call at the same instant waits");
	ok(fabs(wait - 1.0 / 200) < 1e-9, "for one token's time (%g s)", wait);

	/* Never more than limit*T + burst in any window. */
	im_pace_init(&p, 200, 0.0);
	int n = drain(&p, 0.0, 10.0, NULL);
	ok(n <= 200 * 10 + 4 && n >= 200 * 10 - 1, "10 s at 200/s sends %d calls", n);
	/* An idle second does not bank a second's worth of calls. */
	int burst = drain(&p, 20.0, 20.0 + 1e-9, NULL);
	ok(burst <= 4, "after idling, at most the 20 ms burst goes at once (%d)", burst);

	/* AIMD: halve on a rate-limit answer, once per second. */
	im_pace_init(&p, 200, 0.0);
	im_pace_throttled(&p, 5.0);
	ok(fabs(im_pace_rate(&p, 5.0) - 100) < 1e-9, "rate halves on a rate-limit answer");
	im_pace_throttled(&p, 5.1);
	im_pace_throttled(&p, 5.2);
	ok(fabs(im_pace_rate(&p, 5.2) - 100) < 1e-9, "answers within a second cut once");
	is_int(p.throttled, 3, "all three answers counted");
	is_int(im_pace_take(&p, 5.2, &wait), -1, "bucket emptied by the cut");
	ok(fabs(im_pace_rate(&p, 6.9) - 100) < 1e-9, "rate holds for %g s", IM_PACE_HOLD);
	im_pace_throttled(&p, 7.0);
	ok(fabs(im_pace_rate(&p, 7.0) - 50) < 1e-9, "a later answer cuts again");
	double r = im_pace_rate(&p, 9.0 + IM_PACE_CLIMB / 4);
	ok(fabs(r - (50 + 200 * 0.25)) < 1e-6, "then climbs linearly (%g)", r);
	ok(fabs(im_pace_rate(&p, 100.0) - 200) < 1e-9, "back to the configured limit, never above");
	for (int i = 0; i < 20; i++)
		im_pace_throttled(&p, 200.0 + 2 * i);
	ok(im_pace_rate(&p, 240.0) >= 200.0 / 64 - 1e-9, "rate floor limit/64");

	/* During the hold, the sent count respects the lowered rate. */
	im_pace_init(&p, 200, 0.0);
	im_pace_throttled(&p, 0.0);
	n = drain(&p, 0.0, 1.0, NULL);
	ok(n <= 100 + 2, "one second after a cut sends at the halved rate (%d)", n);

	/* Give back. */
	im_pace_init(&p, 10, 0.0);
	im_pace_take(&p, 0.0, &wait);
	im_pace_give_back(&p);
	is_int(im_pace_take(&p, 0.0, &wait), 0, "a returned token can be taken again");

	ok(im_pace_now() > 0, "monotonic clock runs");
	return done_testing();
}
