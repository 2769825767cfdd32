/* Old -> new: the REST call that applies one IM record to Tencent IM in real time.
 *
 * Import kinds (validated with imrecord.h first) reuse the bulk sink's request
 * bodies (batch.h) where the import API is also right for live changes, and
 * switch to the real-time API where it is not:
 *   account      -> im_open_login_svc/multiaccount_import (batch.h)
 *   profile      -> profile/portrait_set (batch.h)
 *   friend       -> sns/friend_import (batch.h)
 *   blacklist    -> sns/black_list_add (batch.h)
 *   c2c_msg      -> openim/importmsg with SyncFromOldSystem=5 (unread, pushed, no callback)
 *   c2c_read     -> openim/admin_set_msg_read (batch.h)
 *   group        -> group_open_http_svc/create_group (import_group minus CreateTime)
 *   group_member -> group_open_http_svc/add_group_member (Silence=1)
 *   group_msg    -> group_open_http_svc/send_group_msg with ForbidCallbackControl
 *                   (SendTime cannot be set on a live send; Random dedupes retries)
 * Sync-only kinds, an extension of the mapping contract for changes that have no
 * import form (the mapping script returns them from map() for live events):
 *   group_update      {GroupId, Name?, Introduction?, Notification?, FaceUrl?,
 *                      MaxMemberNum?, ApplyJoinOption?, AppDefinedData?, MuteAllMember?}
 *                     -> modify_group_base_info
 *   group_member_exit {GroupId, Member_Account, Reason?} -> delete_group_member (Silence=1)
 *   group_destroy     {GroupId} -> destroy_group
 *   friend_delete     {From_Account, To_Account} -> sns/friend_delete (Delete_Type_Single)
 *   blacklist_delete  {From_Account, To_Account} -> sns/black_list_delete
 * A record may carry "_source_id" like any other. */
#ifndef IMMIGRATE_SYNC_IM_REQUEST_H
#define IMMIGRATE_SYNC_IM_REQUEST_H

#include <stddef.h>

#include <jansson.h>

struct im_sync_call {
	char kind[32];
	const char *service, *command; /* static strings */
	json_t *body;                  /* owned */
	json_t *item;                  /* the prepared record (payload), owned; for per-item results */
	char conv[160];                /* ordering key: GroupId, "a|b" pair, or From_Account */
	char group_id[64];             /* for group_msg: the group whose history must have landed */
};

/* Whether kind is one of the sync-only kinds above. */
int im_sync_kind_is_live_only(const char *kind);

/* Builds the call for payload, an IM record already validated and stripped of kind
 * and annotations by im_record_prepare (import kinds) or a sync-only record with
 * "kind" removed (live kinds). conv may be NULL (derived from the record). Takes a
 * reference to payload. Returns 0 with *c filled (release with im_sync_call_free),
 * or -1 with err naming the missing field. */
int im_sync_call_build(const char *kind, json_t *payload, const char *conv, struct im_sync_call *c, char *err,
		       size_t err_size);
void im_sync_call_free(struct im_sync_call *c);

/* Reads a successful (ErrorCode 0) answer: returns 0 when the change landed, else
 * the failing item's code with its ResultInfo in *info (borrowed from response, may
 * be NULL). */
long im_sync_call_result(const struct im_sync_call *c, json_t *response, const char **info);

/* Whether an error code from command means the change is already there (a retry
 * of something that landed, or a create for a group that exists). */
int im_sync_code_means_landed(const char *command, long code);

#endif
