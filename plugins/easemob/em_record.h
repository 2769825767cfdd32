/* Checking, classifying and annotating one Easemob record.
 *
 * The plugin yields the vendor's record unchanged except for a few derived keys,
 * all starting with '_', that spare every mapping script the same parsing:
 *   _input       "history" or "callbacks": which kind of input the line came from
 *   _from, _to   the user ids behind `from` / `to`: a JID such as
 *                "org#app_alice@easemob.com/android_x" becomes "alice"; absent
 *                when nothing is left (a masked or empty id)
 *   _from_admin  true when `from` is the bare appkey (or "{appkey}@..."): the app
 *                admin sent it, not a user
 *   _group_id    the group / chat room id of group messages and muc events
 *                (`group_id`, else the id inside `muc_id`, else `to`)
 *   _chatroom    true for chat room messages (history) and muc events on rooms
 * The plugin adds, from its own bookkeeping (easemob.c):
 *   _recalled    true on a message that a recall event in the archive recalls
 *   _acked_time  on a read_ack: Unix seconds of the acked message, when seen */
#ifndef EM_RECORD_H
#define EM_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum em_stream {
	EM_STREAM_MESSAGES = 0,
	EM_STREAM_ROSTER,
	EM_STREAM_GROUPS,
	EM_STREAM_READ_ACKS,
	EM_STREAM_RECALLS,
	EM_STREAM_COUNT,
	EM_STREAM_SKIP = EM_STREAM_COUNT, /* valid but not for migration (login, notify...) */
};

/* Stream names in enum order, NULL-terminated. */
extern const char *const em_stream_names[EM_STREAM_COUNT + 1];

#define EM_ID_MAX 128

struct em_classified {
	enum em_stream stream;
	char id[EM_ID_MAX];         /* msg_id as text ("" when the record has none) */
	char target_id[EM_ID_MAX];  /* recalls: recalled msg_id; read_acks: acked msg_id */
	int64_t timestamp_ms;
};

/* Checks a parsed history line (an object with msg_id, timestamp, from, to,
 * chat_type chat|groupchat|chatroom and payload.bodies), annotates it and fills
 * out. appkey may be NULL. Returns 0, or -1 with the reason in why. */
int em_record_history(json_t *obj, const char *appkey, struct em_classified *out, char *why, size_t why_size);

/* Same for one archived callback body: messages (chat_type chat|groupchat|
 * chatroom), roster, muc (-> groups), read_ack, recall; any other well-formed
 * callback (login/logout, notify, delivery_ack...) is EM_STREAM_SKIP. appkey
 * (NULL: the body's own `appkey`) identifies the app admin. */
int em_record_callback(json_t *obj, const char *appkey, struct em_classified *out, char *why,
		       size_t why_size);

/* The user id inside an Easemob JID (see above). Returns a malloc'd string, NULL
 * when nothing is left; *is_admin is set when the JID is the bare appkey. */
char *em_user_from_jid(const char *jid, const char *appkey, int *is_admin);

#endif
