/* Pacing: one token bucket per REST API (spec §1.6), so the sink never knowingly
 * exceeds a limit, and an AIMD reaction to rate-limit answers: the rate halves
 * (at most once per second), holds, then climbs back linearly to the configured
 * limit. Time is passed in by the caller (seconds on a monotonic clock), which
 * keeps the arithmetic testable with a virtual clock. */
#ifndef IMMIGRATE_PACE_H
#define IMMIGRATE_PACE_H

struct im_pace {
	double limit;	   /* configured calls per second */
	double rate;	   /* current refill rate, limit/64 <= rate <= limit */
	double tokens;	   /* available calls, <= burst */
	double burst;	   /* bucket depth */
	double last;	   /* time of the last refill */
	double hold_until; /* no increase before this time */
	double last_cut;   /* time of the last decrease (-inf before the first) */
	unsigned long throttled; /* rate-limit answers seen */
	unsigned long cuts;	 /* decreases applied */
};

/* Seconds the rate holds after a cut, and the time a full climb from zero to the
 * limit would take. */
#define IM_PACE_HOLD 2.0
#define IM_PACE_CLIMB 10.0

/* Sets up a bucket for limit calls per second (limit > 0) at time now. The bucket
 * starts with one token and is at most limit/50 deep (20 ms worth, at least one
 * call), so that in any window of T seconds at most limit*T + burst calls leave. */
void im_pace_init(struct im_pace *p, double limit, double now);

/* Takes one call's token. Returns 0 when the call may go now; otherwise returns -1
 * and stores in *wait the seconds until a token will be available. */
int im_pace_take(struct im_pace *p, double now, double *wait);

/* Returns one unused token (a call that was paced but not sent). */
void im_pace_give_back(struct im_pace *p);

/* A rate-limit answer came back: halve the rate (once per second at most), empty
 * the bucket and hold the rate for IM_PACE_HOLD seconds. */
void im_pace_throttled(struct im_pace *p, double now);

/* Current rate in calls per second (after refilling to now). */
double im_pace_rate(struct im_pace *p, double now);

/* Seconds on CLOCK_MONOTONIC. */
double im_pace_now(void);

/* The spec's default limit for a command name ("importmsg", "multiaccount_import",
 * ...): 100 for multiaccount_import, account_check and account_delete, 1 or 10
 * for the few slow APIs, 200 for everything else. */
double im_pace_default_limit(const char *command);

#endif
