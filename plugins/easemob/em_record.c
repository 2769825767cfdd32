/* Validation and annotation of history lines and callback bodies (em_record.h). */
#include "em_record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const em_stream_names[EM_STREAM_COUNT + 1] = {"messages", "roster", "groups", "read_acks",
							    "recalls", NULL};

char *em_user_from_jid(const char *jid, const char *appkey, int *is_admin)
{
	*is_admin = 0;
	size_t len = strcspn(jid, "@/"); /* "@domain" and "/resource" are not part of the id */
	const char *id = jid;
	size_t ak = appkey ? strlen(appkey) : 0;
	if (ak > 0 && len >= ak && memcmp(jid, appkey, ak) == 0) {
		if (len == ak) {
			*is_admin = 1;
			return NULL;
		}
		if (jid[ak] == '_') {
			id = jid + ak + 1;
			len -= ak + 1;
		}
	} else if (ak == 0) {
		/* No appkey known: "org#app_user" still carries one before the '_'. */
		const char *hash = memchr(jid, '#', len);
		const char *us = hash ? memchr(hash, '_', len - (size_t)(hash - jid)) : NULL;
		if (us) {
			len -= (size_t)(us + 1 - jid);
			id = us + 1;
		} else if (hash) {
			/* User ids cannot contain '#': this is a bare appkey. */
			*is_admin = 1;
			return NULL;
		}
	}
	if (len == 0)
		return NULL;
	return strndup(id, len);
}

/* msg_id-like fields are strings in callbacks and may be numbers in history. */
static int id_text(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v)) {
		if (json_string_length(v) == 0 || json_string_length(v) >= size)
			return -1;
		memcpy(buf, json_string_value(v), json_string_length(v) + 1);
		return strlen(buf) == json_string_length(v) ? 0 : -1; /* no embedded NUL */
	}
	if (json_is_integer(v)) {
		snprintf(buf, size, "%" PRId64, (int64_t)json_integer_value(v));
		return 0;
	}
	return -1;
}

static int set_user(json_t *obj, const char *key, const char *field, const char *appkey, int *is_admin)
{
	const char *jid = json_string_value(json_object_get(obj, field));
	int admin = 0;
	if (!jid)
		return 0;
	char *user = em_user_from_jid(jid, appkey, &admin);
	if (is_admin)
		*is_admin = admin;
	int rc = 0;
	if (user)
		rc = json_object_set_new(obj, key, json_string(user));
	free(user);
	return rc;
}

static const char *record_appkey(const json_t *obj, const char *appkey)
{
	if (appkey && *appkey)
		return appkey;
	return json_string_value(json_object_get(obj, "appkey"));
}

static int annotate_parties(json_t *obj, const char *appkey, const char *input)
{
	int admin = 0;
	if (set_user(obj, "_from", "from", appkey, &admin) < 0 || set_user(obj, "_to", "to", appkey, NULL) < 0)
		return -1;
	if (admin && json_object_set_new(obj, "_from_admin", json_true()) < 0)
		return -1;
	return json_object_set_new(obj, "_input", json_string(input));
}

static int check_timestamp(const json_t *obj, struct em_classified *out, char *why, size_t why_size)
{
	const json_t *ts = json_object_get(obj, "timestamp");
	if (!json_is_integer(ts) || json_integer_value(ts) <= 0) {
		snprintf(why, why_size, "%s", ts ? "timestamp is not a positive integer (ms)" : "no timestamp");
		return -1;
	}
	out->timestamp_ms = (int64_t)json_integer_value(ts);
	return 0;
}

static int check_message(json_t *obj, const char *chat_type, char *why, size_t why_size)
{
	if (strcmp(chat_type, "chat") != 0 && strcmp(chat_type, "groupchat") != 0 &&
	    strcmp(chat_type, "chatroom") != 0) {
		snprintf(why, why_size, "unknown chat_type \"%.40s\"", chat_type);
		return -1;
	}
	if (!json_is_string(json_object_get(obj, "from")) || !json_is_string(json_object_get(obj, "to"))) {
		snprintf(why, why_size, "message has no from/to");
		return -1;
	}
	const json_t *payload = json_object_get(obj, "payload");
	const json_t *bodies = json_object_get(payload, "bodies");
	if (!json_is_object(payload) || !json_is_array(bodies)) {
		snprintf(why, why_size, "message has no payload.bodies array");
		return -1;
	}
	size_t i;
	const json_t *body;
	json_array_foreach(bodies, i, body) {
		if (!json_is_string(json_object_get(body, "type"))) {
			snprintf(why, why_size, "payload.bodies[%zu] has no type", i);
			return -1;
		}
	}
	return 0;
}

int em_record_history(json_t *obj, const char *appkey, struct em_classified *out, char *why, size_t why_size)
{
	memset(out, 0, sizeof(*out));
	out->stream = EM_STREAM_MESSAGES;
	if (!json_is_object(obj)) {
		snprintf(why, why_size, "not a JSON object");
		return -1;
	}
	if (id_text(json_object_get(obj, "msg_id"), out->id, sizeof(out->id)) < 0) {
		snprintf(why, why_size, "no usable msg_id");
		return -1;
	}
	if (check_timestamp(obj, out, why, why_size) < 0)
		return -1;
	const char *chat_type = json_string_value(json_object_get(obj, "chat_type"));
	if (!chat_type) {
		snprintf(why, why_size, "no chat_type");
		return -1;
	}
	if (check_message(obj, chat_type, why, why_size) < 0)
		return -1;
	if (annotate_parties(obj, appkey, "history") < 0)
		goto oom;
	if (strcmp(chat_type, "chat") != 0) {
		if (json_object_set(obj, "_group_id", json_object_get(obj, "to")) < 0)
			goto oom;
		if (strcmp(chat_type, "chatroom") == 0 && json_object_set_new(obj, "_chatroom", json_true()) < 0)
			goto oom;
	}
	return 0;
oom:
	snprintf(why, why_size, "out of memory");
	return -1;
}

/* "{appkey}_{gid}@conference.easemob.com" -> gid. */
static char *group_from_muc_id(const char *muc_id, const char *appkey)
{
	int admin;
	return em_user_from_jid(muc_id, appkey, &admin);
}

static int annotate_group(json_t *obj, const char *appkey)
{
	const json_t *gid = json_object_get(obj, "group_id");
	if (json_is_string(gid) && json_string_length(gid) > 0)
		return json_object_set(obj, "_group_id", (json_t *)gid);
	const char *muc_id = json_string_value(json_object_get(json_object_get(obj, "payload"), "muc_id"));
	char *g = muc_id ? group_from_muc_id(muc_id, appkey) : NULL;
	int rc = 0;
	if (g)
		rc = json_object_set_new(obj, "_group_id", json_string(g));
	else if (json_is_string(json_object_get(obj, "to")))
		rc = json_object_set(obj, "_group_id", json_object_get(obj, "to"));
	free(g);
	return rc;
}

int em_record_callback(json_t *obj, const char *appkey, struct em_classified *out, char *why,
		       size_t why_size)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		snprintf(why, why_size, "not a JSON object");
		return -1;
	}
	if (!json_is_string(json_object_get(obj, "callId"))) {
		snprintf(why, why_size, "not an Easemob callback body (no callId)");
		return -1;
	}
	const char *chat_type = json_string_value(json_object_get(obj, "chat_type"));
	if (!chat_type) {
		/* Login/logout/replaced events carry no chat_type: nothing to migrate. */
		out->stream = EM_STREAM_SKIP;
		return 0;
	}
	appkey = record_appkey(obj, appkey);
	const json_t *payload = json_object_get(obj, "payload");
	int need_parties = 1;

	if (!strcmp(chat_type, "chat") || !strcmp(chat_type, "groupchat") || !strcmp(chat_type, "chatroom"))
		out->stream = EM_STREAM_MESSAGES;
	else if (!strcmp(chat_type, "roster"))
		out->stream = EM_STREAM_ROSTER;
	else if (!strcmp(chat_type, "muc"))
		out->stream = EM_STREAM_GROUPS;
	else if (!strcmp(chat_type, "read_ack"))
		out->stream = EM_STREAM_READ_ACKS;
	else if (!strcmp(chat_type, "recall"))
		out->stream = EM_STREAM_RECALLS;
	else {
		out->stream = EM_STREAM_SKIP; /* notify, delivery_ack, reaction, thread... */
		return 0;
	}

	if (check_timestamp(obj, out, why, why_size) < 0)
		return -1;
	if (out->stream == EM_STREAM_MESSAGES) {
		if (id_text(json_object_get(obj, "msg_id"), out->id, sizeof(out->id)) < 0) {
			snprintf(why, why_size, "message callback has no usable msg_id");
			return -1;
		}
		if (check_message(obj, chat_type, why, why_size) < 0)
			return -1;
	} else {
		/* Event ids are masked in Easemob's own examples; keep one when usable. */
		if (id_text(json_object_get(obj, "msg_id"), out->id, sizeof(out->id)) < 0)
			out->id[0] = '\0';
		if (out->stream == EM_STREAM_ROSTER || out->stream == EM_STREAM_GROUPS) {
			if (!json_is_string(json_object_get(payload, "operation"))) {
				snprintf(why, why_size, "%s event has no payload.operation", chat_type);
				return -1;
			}
			need_parties = out->stream == EM_STREAM_ROSTER;
		} else if (out->stream == EM_STREAM_READ_ACKS) {
			if (id_text(json_object_get(payload, "ack_message_id"), out->target_id,
				    sizeof(out->target_id)) < 0) {
				snprintf(why, why_size, "read_ack has no payload.ack_message_id");
				return -1;
			}
		} else if (id_text(json_object_get(obj, "recall_id"), out->target_id, sizeof(out->target_id)) < 0 &&
			   id_text(json_object_get(payload, "ack_message_id"), out->target_id,
				   sizeof(out->target_id)) < 0) {
			snprintf(why, why_size, "recall has no recall_id");
			return -1;
		}
		if (need_parties &&
		    (!json_is_string(json_object_get(obj, "from")) || !json_is_string(json_object_get(obj, "to")))) {
			snprintf(why, why_size, "%s event has no from/to", chat_type);
			return -1;
		}
	}

	if (annotate_parties(obj, appkey, "callbacks") < 0)
		goto oom;
	if (out->stream == EM_STREAM_GROUPS ||
	    (out->stream == EM_STREAM_MESSAGES && strcmp(chat_type, "chat") != 0)) {
		if (annotate_group(obj, appkey) < 0)
			goto oom;
		if ((json_is_true(json_object_get(payload, "is_chatroom")) || !strcmp(chat_type, "chatroom")) &&
		    json_object_set_new(obj, "_chatroom", json_true()) < 0)
			goto oom;
		if (!json_object_get(obj, "_group_id")) {
			snprintf(why, why_size, "%s record names no group (group_id, payload.muc_id)", chat_type);
			return -1;
		}
	}
	return 0;
oom:
	snprintf(why, why_size, "out of memory");
	return -1;
}
