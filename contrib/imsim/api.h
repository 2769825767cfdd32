/* REST API handlers: one function per command, sharing a request context.
 *
 * A handler validates c->req, writes state, adds response members to c->resp and
 * returns 0; per-item failures go in the documented per-item shape and still return
 * 0. A whole-request failure returns its documented code with a reason in c->info
 * (via api_fail); the dispatcher then rolls the transaction back, so a failing
 * handler never leaves a partial write. Handlers run under sim->lock. */
#ifndef IMSIM_API_H
#define IMSIM_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

struct api_ctx {
	struct sim *sim;
	const struct im_api_info *api;
	const json_t *req;
	json_t *resp;			/* the envelope; handlers add members */
	json_t *callbacks;		/* array of {"command", "platform", "body"} to deliver */
	const char *operator_id;	/* the admin from the URL, or the simulated sender */
	const char *platform;		/* OptPlatform of callbacks: "RESTAPI" or a client's */
	int64_t now;			/* Unix seconds of the request */
	char info[256];
};

typedef int (*api_handler)(struct api_ctx *c);

/* The handler for api, or NULL. */
api_handler api_handler_for(const struct im_api_info *api);

/* Runs handler (NULL = api's own) on req in one transaction (rolled back on failure)
 * and returns the full answer body (a new reference, NULL only when out of memory)
 * plus, in *callbacks, the After-callbacks to deliver (a new reference, possibly
 * empty). Counts the answer's code in the stats. Caller holds sim->lock. */
json_t *api_dispatch(struct sim *sim, const struct im_api_info *api, api_handler handler, const json_t *req,
		     const char *operator_id, const char *platform, json_t **callbacks);

/* Records why the request failed and returns code, for "return api_fail(...)". */
int api_fail(struct api_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Member key of req when it is a string, else NULL. */
const char *api_str(const json_t *req, const char *key);

/* True when the account was imported. */
bool api_account_exists(struct api_ctx *c, const char *user_id);

/* Queues callback command with body (stolen; "CallbackCommand" is added). */
void api_callback(struct api_ctx *c, const char *command, json_t *body);

/* Unix milliseconds now, as the EventTime of callbacks. */
json_t *api_event_time(const struct api_ctx *c);

/* True when array `control` (may be NULL) contains the string flag. */
bool api_has_flag(const json_t *control, const char *flag);

/* Handlers, by area. */
int api_account_import(struct api_ctx *c);
int api_multiaccount_import(struct api_ctx *c);
int api_account_check(struct api_ctx *c);
int api_account_delete(struct api_ctx *c);
int api_portrait_set(struct api_ctx *c);
int api_portrait_get(struct api_ctx *c);
int api_friend_import(struct api_ctx *c);
int api_friend_add(struct api_ctx *c);
int api_friend_delete(struct api_ctx *c);
int api_black_list_add(struct api_ctx *c);
int api_black_list_delete(struct api_ctx *c);
int api_friend_get(struct api_ctx *c);
int api_importmsg(struct api_ctx *c);
int api_admin_set_msg_read(struct api_ctx *c);
int api_sendmsg(struct api_ctx *c);
int api_batchsendmsg(struct api_ctx *c);
int api_admin_getroammsg(struct api_ctx *c);
int api_import_group(struct api_ctx *c);
int api_import_group_member(struct api_ctx *c);
int api_set_unread_msg_num(struct api_ctx *c);
int api_create_group(struct api_ctx *c);
int api_get_group_info(struct api_ctx *c);
int api_get_group_member_info(struct api_ctx *c);
int api_modify_group_base_info(struct api_ctx *c);
int api_add_group_member(struct api_ctx *c);
int api_delete_group_member(struct api_ctx *c);
int api_modify_group_member_info(struct api_ctx *c);
int api_destroy_group(struct api_ctx *c);
int api_change_group_owner(struct api_ctx *c);
int api_import_group_msg(struct api_ctx *c);
int api_send_group_msg(struct api_ctx *c);
int api_group_msg_get_simple(struct api_ctx *c);

/* Simulated App 2.0 sends (POST /_sim/send_c2c, /_sim/send_group_msg): like sendmsg /
 * send_group_msg from From_Account on a client platform, firing client callbacks. */
int api_sim_send_c2c(struct api_ctx *c);
int api_sim_send_group_msg(struct api_ctx *c);



/* A group as stored, loaded by api_group_load. */
struct group_row {
	char id[64];
	char type_name[16];
	enum im_group_type type;
	char name[64];
	char owner[64];		/* "" for an ownerless group */
	int64_t create_time;
	int64_t next_seq;	/* the MsgSeq the next message gets */
	int64_t latest_msg_time;
	int64_t max_members;
};

/* Loads the group named by the request's GroupId. Returns 0, or 10004 (GroupId
 * missing or not a string), 10015 (malformed id) or 10010 (no such group) via api_fail. */
int api_group_load(struct api_ctx *c, struct group_row *g);

/* True when account is a member of group_id. */
bool api_group_is_member(struct api_ctx *c, const char *group_id, const char *account);

#endif
