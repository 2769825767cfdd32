/* Token buckets with AIMD back-off; see pace.h for the contract. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "pace.h"

static double min_rate(const struct im_pace *p)
{
	double m = p->limit / 64.0;
	return m < 0.1 ? (p->limit < 0.1 ? p->limit : 0.1) : m;
}

static void refill(struct im_pace *p, double now)
{
	double dt = now - p->last;
	if (dt <= 0)
		return;
	/* Additive increase only after the hold: the climb is linear in time so it
	 * does not depend on how often the caller looks. */
	if (p->rate < p->limit && now > p->hold_until) {
		double from = p->last > p->hold_until ? p->last : p->hold_until;
		p->rate += p->limit / IM_PACE_CLIMB * (now - from);
		if (p->rate > p->limit)
			p->rate = p->limit;
	}
	p->tokens += dt * p->rate;
	if (p->tokens > p->burst)
		p->tokens = p->burst;
	p->last = now;
}

void im_pace_init(struct im_pace *p, double limit, double now)
{
	memset(p, 0, sizeof *p);
	p->limit = limit > 0 ? limit : 1;
	p->rate = p->limit;
	p->burst = p->limit / 50.0 < 1.0 ? 1.0 : p->limit / 50.0;
	p->tokens = 1.0;
	p->last = now;
	p->hold_until = now;
	p->last_cut = -INFINITY;
}

int im_pace_take(struct im_pace *p, double now, double *wait)
{
	refill(p, now);
	if (p->tokens >= 1.0) {
		p->tokens -= 1.0;
		return 0;
	}
	if (wait)
		*wait = (1.0 - p->tokens) / p->rate;
	return -1;
}

void im_pace_give_back(struct im_pace *p)
{
	p->tokens += 1.0;
	if (p->tokens > p->burst)
		p->tokens = p->burst;
}

void im_pace_throttled(struct im_pace *p, double now)
{
	refill(p, now);
	p->throttled++;
	p->tokens = 0;
	/* Requests already in flight when the limit was hit answer together: one cut
	 * per second, not one per answer, or the rate would collapse to the floor. */
	if (now - p->last_cut < 1.0)
		return;
	p->last_cut = now;
	p->cuts++;
	p->rate /= 2.0;
	if (p->rate < min_rate(p))
		p->rate = min_rate(p);
	p->hold_until = now + IM_PACE_HOLD;
}

double im_pace_rate(struct im_pace *p, double now)
{
	refill(p, now);
	return p->rate;
}

double im_pace_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double im_pace_default_limit(const char *command)
{
	static const struct {
		const char *command;
		double limit;
	} slow[] = {
		{"multiaccount_import", 100}, {"account_check", 100}, {"account_delete", 100},
		{"get_appid_group_list", 1},  {"send_broadcast_msg", 1}, {"get_history", 10},
	};
	for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
		if (strcmp(slow[i].command, command) == 0)
			return slow[i].limit;
	return 200;
}
