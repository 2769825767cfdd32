/* The emulator's process-wide state, shared by the server, the API handlers and
 * the inspection endpoints. One mutex (lock) serialises everything that touches
 * the database, the rate limiter and the counters; waits (latency, hangs) and
 * callback deliveries happen outside it. */
#ifndef IMSIM_SIM_H
#define IMSIM_SIM_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faults.h"
#include "imrules.h"
#include "options.h"
#include "ratelimit.h"
#include "stats.h"

struct sim {
	struct sim_options opt;
	char *key;			/* the app's UserSig key (secret) */
	size_t key_len;
	char *callback_token;		/* NULL without --callback-token-file (secret) */
	size_t callback_token_len;
	struct im_rules rules;
	sqlite3 *db;
	struct ratelimit *limits;
	struct faults faults;
	struct stats stats;
	pthread_mutex_t lock;
	/* Hung requests wait on this until their time is up or the server stops. */
	pthread_cond_t stop_cond;
	bool stopping;
};

#endif
