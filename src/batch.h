/* Request bodies for the import APIs, built from staged IM records, and the
 * per-item results of the answers mapped back onto those records.
 *
 * Pure functions over Jansson values: no I/O, no clock, no globals. A record is
 * the IM record as staged (spec §3-§6 item fields plus "kind" and optional
 * "_"-prefixed annotations such as "_source_id"); requests carry each record's
 * fields exactly as the record holds them, minus "kind" and the annotations. */
#ifndef IMMIGRATE_BATCH_H
#define IMMIGRATE_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Record kinds: enum im_kind of imrecord.h (H3's record model), whose order is
 * also a dependency order: a kind never depends on a later one. */
#include "imrecord.h"

/* Item codes of our own for failures the service reports without a code
 * (FailAccounts, MemberList Result 0). Negative so they never clash with Tencent's. */
enum { IM_ITEM_FAILED_NO_CODE = -2 };

struct im_kind_info {
	enum im_kind kind;
	const char *name;    /* the IM record's "kind" value (as im_kind_name()) */
	const char *service; /* REST service name */
	const char *command; /* REST command; also the key of target.limits */
	int max_items;	     /* documented maximum records per call */
	/* Field whose value groups records into one call and serialises calls
	 * (one in flight per value); NULL when records of this kind are independent. */
	const char *conv_field;
	unsigned deps; /* bit mask (1u << kind) of kinds that must be finished first */
	/* Of deps, the kinds this one waits for only per conversation (same stage
	 * conv): a record may go once its conversation's records of those kinds have
	 * all landed or died, before the whole kind has finished (read marks after
	 * their conversation's messages). */
	unsigned conv_deps;
};

/* Static description of a kind. kind must be < IM_KIND_COUNT. */
const struct im_kind_info *im_kind_info(enum im_kind kind);

/* Builds the request body for n records of kind (n >= 1; exactly 1 for kinds
 * whose max_items is 1; the caller keeps n within the configured maximum; all
 * records share the conv_field value when the kind has one). Group messages are put in ascending SendTime order (stable).
 * Returns a new reference, or NULL with a reason in err when a record lacks a
 * field the body needs (the caller dead-letters it). */
json_t *im_batch_body(enum im_kind kind, json_t *const *records, size_t n, char *err, size_t err_size);

/* Maps an answer with ErrorCode 0 back onto the n records the body was built from
 * (same order as given to im_batch_body). Stores per record 0 (landed) or the
 * item's failure code in codes[i], and in infos[i] (may be NULL) the service's
 * ResultInfo when it gave one (borrowed from response). Items the answer does not
 * mention landed (the call succeeded as a whole). Re-imports the target reports
 * as "already there" count as landed: that is the state the migration wants.
 * Returns the number of failed items. */
size_t im_batch_results(enum im_kind kind, json_t *response, json_t *const *records, size_t n,
			long *codes, const char **infos);

/* The default maximum of import_group_msg is 7 (spec §6.4 conflict: 7 vs 20). */
#define IM_GROUP_MSG_MAX_DEFAULT 7

#endif
