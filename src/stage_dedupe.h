/* Duplicates left by a bulk extract (stage.c's private part, see
 * im_stage_bulk_end). */
#ifndef IMMIGRATE_STAGE_DEDUPE_H
#define IMMIGRATE_STAGE_DEDUPE_H

#include <stddef.h>

#include <sqlite3.h>

#include "stage.h"

/* Makes records.dedupe_hash unique the way im_stage_put_record would have,
 * record by record in id order: a later record with the key of an earlier one
 * under the same hash is deleted (on_duplicate, may be NULL, hears of each); a
 * record whose hash an earlier record of another key holds moves to the first
 * of hash+1, hash+2, ... that is free, or is deleted when its own key holds
 * one of them. Runs inside the caller's transaction; memory stays bounded
 * (work lists go to temporary tables). Returns 0, or -1 with err naming path
 * and the reason. */
int im_stage_resolve_duplicates(sqlite3 *db, const char *path, im_stage_dup_fn on_duplicate, void *arg, char *err,
				size_t err_size);

#endif
