/* The rules Tencent Cloud IM applies to REST requests (../shared/spec/tencent-im-api.md),
 * in one place so the runner's validator and the emulator cannot drift apart.
 *
 * Checks answer "would the real service accept this?" and, when not, with which
 * documented code and why. Every check takes a `why` buffer (may be NULL) that
 * receives a short English reason naming the offending field; reasons never
 * contain field values, so they are safe to log next to a record id.
 *
 * Byte limits are UTF-8 bytes (spec intro). Where the spec marks a rule [U] or
 * [CONFLICT], struct im_rules holds the spec's safe choice and lets it be switched. */
#ifndef IMMIGRATE_IMRULES_H
#define IMMIGRATE_IMRULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imval.h"

/* Which error-code family an API answers with (spec §1.5, §3-§6). */
enum im_family {
	IM_FAMILY_LOGIN,	/* im_open_login_svc: 70xxx */
	IM_FAMILY_PROFILE,	/* profile: 40xxx, with ErrorDisplay */
	IM_FAMILY_SNS,		/* sns: 30xxx, with ErrorDisplay */
	IM_FAMILY_OPENIM,	/* openim: 90xxx / 20xxx */
	IM_FAMILY_GROUP,	/* group_open_http_svc: 10xxx */
};

/* One REST API as the spec documents it. */
struct im_api_info {
	const char *service;	/* "im_open_login_svc" */
	const char *command;	/* "account_import" */
	enum im_family family;
	double qps;		/* default per-app call limit per second (spec §1.6) */
	int batch_max;		/* items per call (see im_rules_batch_max), 0 = single item */
};

/* Switches for rules the spec marks [U] or [CONFLICT]. Defaults = the spec's safe choice. */
struct im_rules {
	size_t msg_max_bytes;		/* 12000 [CONFLICT 8000]: serialised MsgBody + CloudCustomData */
	int group_msg_batch_max;	/* import_group_msg: 7 [CONFLICT 20] */
	int add_member_batch_max;	/* add_group_member: 300 [CONFLICT 100] (server side) */
	int delete_member_batch_max;	/* delete_group_member: 100 [CONFLICT 500] */
	bool group_msg_equal_time;	/* import_group_msg: SendTime == latest accepted [U]: true */
	bool group_msg_any_elem;	/* import_group_msg: elements beyond Text/Face/Location/Custom [U]: false */
	bool group_msg_sender_member;	/* import_group_msg: sender must be a member [U]: false */
	bool legacy_identifier;		/* account_import accepts "Identifier" for "UserID" [U]: true */
	bool read_time_number;		/* admin_set_msg_read accepts a JSON number MsgReadTime [U]: true */
	bool friend_import_overwrite;	/* friend_import over an existing friendship overwrites [U]: true */
	bool friend_delete_both;	/* friend_delete without DeleteType deletes both ways [U]: true */
	bool sendmsg_timestamp;		/* sendmsg honours a MsgTimeStamp field [U]: true */
	int group_msgs_per_second;	/* send_group_msg per group before MsgFreqCtrl drops: 40 */
};

/* Fills r with the defaults above. */
void im_rules_defaults(struct im_rules *r);

/* Applies one "name=value" switch (names as in the field comments, with '-' for '_',
 * e.g. "msg-max-bytes=8000", "group-msg-equal-time=no"). Returns 0, or -1 with a
 * message in err for an unknown name or a bad value. */
int im_rules_set(struct im_rules *r, const char *name_eq_value, char *err, size_t err_size);

/* The API at path "service/command", or NULL when the spec does not list it. Static data. */
const struct im_api_info *im_rules_api(const char *service, const char *command);

/* The i-th known API (for iteration), or NULL past the end. Static data. */
const struct im_api_info *im_rules_api_at(size_t i);

/* Items per call the service accepts for api under r (0 for single-item APIs). */
int im_rules_batch_max(const struct im_rules *r, const struct im_api_info *api);

/* The transient "internal error, retry" code of a family (70500, 40006, 30006, 90992, 10002). */
int im_rules_internal_code(enum im_family family);

/* The "invalid parameter" code of a family (70402, 40001, 30001, 90001 is JSON, so 90010 is
 * used for openim, 10004). */
int im_rules_bad_param_code(enum im_family family);

/* The "request JSON cannot be parsed" code of a family (60003 login/profile/sns,
 * 90001 openim, 10011 group; spec §9 item 1). */
int im_rules_bad_json_code(enum im_family family);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool im_rules_utf8_valid(const char *s, size_t len);

/* A UserID: a non-empty string of at most 32 bytes. Returns 0, or -1 with why. */
int im_rules_user_id(const json_t *v, char *why, size_t why_size);

/* AddSource: "AddSource_Type_" followed by 1-8 ASCII letters. */
bool im_rules_add_source_ok(const char *s);

/* One portrait_set {Tag, Value} (spec §3.7). Returns 0, 40009 (unknown tag or bad custom tag
 * name), 40610 (wrong JSON type), 40605 (value not allowed for a standard tag) or 40601
 * (value over its byte limit); 40001 when item is not an object with Tag and Value. */
int im_rules_profile_item(const json_t *item, char *why, size_t why_size);

/* One friend_import (import=true) or friend_add (import=false) AddFriendItem (spec §4.1,
 * §4.2): To_Account, Remark <= 96, GroupName (array of 1-30-byte names, <= 32, for import;
 * one string for add), AddSource (required on import), AddWording <= 256, AddTime and
 * RemarkTime integers, CustomItem tags. Returns 0 or 30001 with why. */
int im_rules_friend_item(const json_t *item, bool import, char *why, size_t why_size);

/* A MsgBody array (spec §5.1): element types and their MsgContent field types, at most one
 * TIMCustomElem. Returns 0, 90007 (not a non-empty array), 90010 (bad element: unknown
 * MsgType, missing or mistyped field). group_import restricts element types as
 * import_group_msg does unless r->group_msg_any_elem. Group callers map codes themselves. */
int im_rules_msg_body(const struct im_rules *r, const json_t *body, bool group_import, char *why,
		      size_t why_size);

/* Bytes a message counts against msg_max_bytes: compact JSON of body plus the bytes of
 * cloud_custom_data (may be NULL). */
size_t im_rules_msg_size(const json_t *body, const char *cloud_custom_data);

/* Group types (spec §6.1). */
enum im_group_type {
	IM_GROUP_UNKNOWN = 0,
	IM_GROUP_PRIVATE,
	IM_GROUP_PUBLIC,
	IM_GROUP_CHATROOM,
	IM_GROUP_AVCHATROOM,
	IM_GROUP_COMMUNITY,
	IM_GROUP_BCHATROOM,
};

/* The type named s ("Private", ...), IM_GROUP_UNKNOWN for anything else. */
enum im_group_type im_rules_group_type(const char *s);

/* True when members of this type keep unread counts (not ChatRoom/AVChatRoom/BChatRoom). */
bool im_rules_group_has_unread(enum im_group_type t);

/* A caller-chosen GroupId for a group of type t: printable ASCII, under 48 bytes, not
 * starting with "@TGS#" except Community ids, which must start with "@TGS#_".
 * Returns 0 or -1 with why. */
int im_rules_group_id(const char *id, enum im_group_type t, char *why, size_t why_size);

/* The group profile fields of import_group / create_group (creating=true) or
 * modify_group_base_info (false): Name (required when creating) <= 30, Introduction <= 240,
 * Notification <= 300, FaceUrl <= 100, MaxMemberCount/MaxMemberNum, ApplyJoinOption,
 * AppDefinedData (<= 10 keys of [A-Za-z0-9_]{1,16}, values <= 512), MuteAllMember.
 * Returns 0 or 10004 with why. */
int im_rules_group_info(const json_t *req, enum im_group_type t, bool creating, char *why,
			size_t why_size);

/* One member's optional fields (Role, NameCard <= 50, MsgFlag, AppMemberDefinedData <= 5
 * values of <= 64 bytes, JoinTime/UnreadMsgNum/MuteTime integers). import=true allows only
 * Role "Admin" (import_group_member); otherwise "Admin" or "Member". Returns 0 or 10004. */
int im_rules_member_fields(const json_t *member, bool import, char *why, size_t why_size);

/* A JSON value as a uint32 (MsgRandom, MsgSeq, Random): an integer in 0..4294967295. */
bool im_rules_uint32(const json_t *v, uint32_t *out);

/* The checks above on an arena tree (imval.h): the rules themselves; the
 * json_t functions convert their argument and call these. An absent value is
 * NULL. Same results. */
int im_rules_user_id_v(const struct imv *v, char *why, size_t why_size);
int im_rules_profile_item_v(const struct imv *item, char *why, size_t why_size);
int im_rules_friend_item_v(const struct imv *item, bool import, char *why, size_t why_size);
int im_rules_msg_body_v(const struct im_rules *r, const struct imv *body, bool group_import, char *why,
			size_t why_size);
/* Counted from the text im_imv_write gives (the length json_dumps gives too). */
size_t im_rules_msg_size_v(const struct imv *body, const char *cloud_custom_data);
int im_rules_group_info_v(const struct imv *req, enum im_group_type t, bool creating, char *why,
			  size_t why_size);
int im_rules_member_fields_v(const struct imv *member, bool import, char *why, size_t why_size);
bool im_rules_uint32_v(const struct imv *v, uint32_t *out);

#endif
