/* The sync daemon's delivery workers: stored events out of the outbox, through
 * the mapping script, to the other side. One thread per direction.
 *
 * Old -> new (origin "source:<plugin>"): an event whose vendor id is in the
 * stage's id map under "sync:<plugin>" is our own delivery reported back by the
 * vendor: dropped. Otherwise map(rec, ctx) makes IM records (ctx.stream = the
 * webhook record's stream, ctx.source_id = its vendor id, ctx.origin =
 * "webhook:<outbox id>"), each validated (imrecord.h) and sent with the call
 * sync_im_request.h chooses, through the bulk sink's request layer (tim.h) and
 * classifier (classify.h). A group message waits while the stage still holds
 * pending or in-flight group_msg history for its group (the bulk import is not
 * done with it: import_group_msg would refuse anything older than a live message).
 *
 * New -> old (origin "im"): reverse(event, ctx) (sync_reverse.h) makes events for
 * the old system, each sent with the plugin's deliver(); the id the old system
 * gave it is recorded in the stage's id map ("sync:<plugin>", remote id -> outbox
 * event id) so that the vendor's webhook about it is dropped later.
 *
 * Order and retries: events are taken in arrival order. Each event has an ordering
 * key (GroupId, the sorted user pair of a one-to-one conversation, or the acting
 * user); old -> new, up to sync.concurrency events with different keys are sent at
 * once, one at a time per key, each REST API paced at the spec's default limit.
 * Events creating accounts or groups are barriers: consecutive ones run together,
 * once everything before them has landed, and nothing after them starts before
 * they have landed (a message may name the account created just before it). When
 * an event must wait (retry backoff, group history), every later event with the
 * same key waits behind it, others go on. Transient failures retry with
 * exponential backoff and full jitter up to sync.max_attempts, then the event is
 * dead: status dead in the outbox and a dead letter in the stage (stage "script",
 * "validate" or "api", with the reason). Authentication/configuration answers from
 * IM are logged as errors and retried at the longest backoff (the operator must fix
 * the job; nothing is lost meanwhile). A crash between a delivery and its mark
 * redelivers the event on restart: IM deduplicates importmsg (MsgSeq/MsgRandom)
 * and send_group_msg (Random within 5 minutes); plugins should make deliver()
 * idempotent where the vendor API allows it. */
#ifndef IMMIGRATE_SYNC_DELIVER_H
#define IMMIGRATE_SYNC_DELIVER_H

#include <pthread.h>
#include <stddef.h>

#include <immigrate/source.h>

#include "imrecord.h"
#include "outbox.h"
#include "script.h"
#include "stage.h"
#include "sync_config.h"
#include "sync_metrics.h"
#include "tim.h"

struct im_sync_deliver_params {
	const struct im_sync_config *cfg;
	struct im_outbox *outbox;
	struct im_sync_metrics *metrics;
	struct im_stage *stage;        /* shared; every use holds stage_lock */
	pthread_mutex_t *stage_lock;
	const char *plugin_name;
	const char *script_path;       /* for dead-letter origins */
	/* old -> new; the worker runs when map_script and tim are set. Used by that
	 * worker's thread only. */
	struct im_script *map_script;
	struct im_validator *validator;
	struct im_tim *tim;
	/* new -> old: n_reverse workers (0: none), worker i using reverse_scripts[i]
	 * and deliver_states[i] only (a Lua state and a plugin state serve one
	 * thread). Conversations are partitioned among them by a hash of their key,
	 * so each conversation stays in order while deliveries of different ones
	 * overlap. */
	struct im_script *const *reverse_scripts;
	void *const *deliver_states;
	size_t n_reverse;
	const struct im_source *src;
};

struct im_sync_deliver;

/* Starts the workers. Everything in p must outlive im_sync_deliver_stop. Returns
 * 0 with *out, or -1 with err. */
int im_sync_deliver_start(const struct im_sync_deliver_params *p, struct im_sync_deliver **out, char *err,
			  size_t err_size);

/* Asks the workers to stop after the event each is working on, waits for them and
 * frees. Events not delivered stay pending for the next start. NULL is fine. */
void im_sync_deliver_stop(struct im_sync_deliver *d);

#endif
