/* Pull mode: the same streams as an export, read from the Sendbird Platform API
 * through the host's HTTP (its TLS, retries and rate limits).
 *
 *   users     GET /v3/users                               (token paging)
 *   channels  GET /v3/group_channels                      (token paging), each with
 *             GET /v3/group_channels/{url}/members and /operators (token paging)
 *   messages  GET /v3/group_channels/{url}/messages       (by timestamp, per channel)
 *   blocks    GET /v3/users/{id}/block                    (token paging, per user)
 *
 * Memory stays bounded by one page: the messages and blocks phases walk the
 * channel and user lists again instead of remembering them. The checkpoint names
 * the phase, the page token of each list being walked and how many items of that
 * page were consumed, and for messages the last timestamp with the ids already
 * seen at it (messages are paged by timestamp, inclusive, so equal timestamps at a
 * page boundary are neither lost nor repeated). The API token goes only into the
 * Api-Token header; it is never logged nor put in a URL or an error. */
#include "sendbird_internal.h"
#include "sb_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum phase { PH_USERS, PH_CHANNELS, PH_MESSAGES, PH_BLOCKS, PH_DONE };
static const char *const phase_names[] = {"users", "channels", "messages", "blocks", "done"};

struct sb_pull {
	struct sb_api api;
	int include_blocks;
	json_int_t from_ts, to_ts;

	enum phase phase;
	struct sb_pager outer; /* users or channels list */
	struct sb_pager inner; /* blocks of one user */
	json_t *cur;        /* the outer item being expanded (messages/blocks phases) */

	/* messages of the current channel */
	json_t *msgs;
	size_t msg_idx;
	json_int_t last_ts;  /* created_at of the last message produced (-1: none yet) */
	json_t *seen_at_ts;  /* ids produced with created_at == last_ts */
	int msgs_end;
	int page_new; /* the current page brought at least one new message */

	/* Restored from a checkpoint taken inside a channel's messages or a user's
	 * blocks: applied when that channel or user is taken from the list again. */
	int resume_pending;
	json_int_t resume_ts;
	json_t *resume_seen;
	char *resume_btoken;
	size_t resume_bidx;

	/* the record handed out last */
	json_t *data;
	char id[256];
	char origin[512];
	char error[1024];
	char raw[SB_RAW_MAX + 1];
};

static int start_phase(struct sb_pull *p, enum phase ph, const char *token, size_t idx)
{
	char *url = NULL;
	p->phase = ph;
	json_decref(p->cur);
	p->cur = NULL;
	sb_pager_reset(&p->inner);
	if (ph == PH_USERS || ph == PH_BLOCKS)
		/* Deactivated users own history too. */
		url = sb_format("%s/v3/users?active_mode=all", p->api.base);
	else if (ph == PH_CHANNELS)
		/* Members come from /members (all pages), not from show_member. */
		url = sb_format("%s/v3/group_channels?show_read_receipt=true&show_empty=true", p->api.base);
	else if (ph == PH_MESSAGES)
		url = sb_format("%s/v3/group_channels?show_empty=false", p->api.base);
	else
		return 0;
	return sb_pager_init(&p->outer, url, ph == PH_CHANNELS || ph == PH_MESSAGES ? "channels" : "users", token, idx);
}

/* A failure about one channel or user that the API answered definitively (4xx)
 * spoils only that item; no answer, 429 or 5xx after the host's retries stops the
 * run so that a later run retries from the checkpoint. */
static int item_failure_is_final(const struct sb_pull *p)
{
	return p->api.last_status >= 400 && p->api.last_status < 500 && p->api.last_status != 429;
}

static void set_record(struct sb_pull *p, struct im_record *out, const char *stream, json_t *data)
{
	json_decref(p->data);
	p->data = data;
	out->stream = stream;
	out->data = data;
	out->source_id = sb_record_id(stream, data, p->id, sizeof(p->id));
	snprintf(p->origin, sizeof(p->origin), "sendbird:%s/%s", stream, out->source_id ? out->source_id : "?");
	out->origin = p->origin;
	out->raw = NULL;
	out->error = NULL;
}

static void set_bad(struct sb_pull *p, struct im_record *out, const char *stream, const char *what)
{
	json_decref(p->data);
	p->data = NULL;
	snprintf(p->origin, sizeof(p->origin), "sendbird:%s/%s", stream, what);
	snprintf(p->raw, sizeof(p->raw), "%s", what);
	out->stream = stream;
	out->data = NULL;
	out->source_id = NULL;
	out->origin = p->origin;
	out->raw = p->raw;
	out->error = p->error;
}

/* A channel with its full member and operator lists. */
static int expand_channel(struct sb_pull *p, json_t *ch, json_t **out, char *err, size_t err_size)
{
	const char *url = json_string_value(json_object_get(ch, "channel_url"));
	char *e;
	json_t *members, *ops, *copy;
	if (!url) {
		snprintf(err, err_size, "a channel without channel_url");
		return -1;
	}
	if (!(e = sb_escape(url))) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	members = sb_api_fetch_all(&p->api, sb_format("%s/v3/group_channels/%s/members", p->api.base, e), "members", err, err_size);
	ops = members ? sb_api_fetch_all(&p->api, sb_format("%s/v3/group_channels/%s/operators", p->api.base, e), "operators", err,
				  err_size)
		      : NULL;
	free(e);
	if (!members || !ops) {
		json_decref(members);
		return -1;
	}
	copy = json_deep_copy(ch);
	json_object_set_new(copy, "members", members);
	json_object_set_new(copy, "operators", ops);
	*out = copy;
	return 0;
}

static int load_messages(struct sb_pull *p, char *err, size_t err_size)
{
	const char *url = json_string_value(json_object_get(p->cur, "channel_url"));
	json_int_t ts = p->last_ts < 0 ? p->from_ts : p->last_ts;
	char *e = url ? sb_escape(url) : NULL, *full;
	json_t *body;
	long status;

	if (!e) {
		snprintf(err, err_size, url ? "out of memory" : "a channel without channel_url");
		return -1;
	}
	full = sb_format("%s/v3/group_channels/%s/messages?message_ts=%" JSON_INTEGER_FORMAT
		      "&prev_limit=0&next_limit=%d&include=true&reverse=false&with_sorted_meta_array=false",
		      p->api.base, e, ts, p->api.page_size);
	free(e);
	if (!full) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	body = sb_api_get(&p->api, full, &status, err, err_size);
	free(full);
	if (!body)
		return -1;
	json_decref(p->msgs);
	p->msgs = json_incref(json_object_get(body, "messages"));
	json_decref(body);
	if (!json_is_array(p->msgs)) {
		snprintf(err, err_size, "messages of %s: the answer has no \"messages\" list", url);
		return -1;
	}
	p->msg_idx = 0;
	p->page_new = 0;
	return 0;
}

static int seen(struct sb_pull *p, json_t *id)
{
	size_t i;
	json_t *v;
	json_array_foreach(p->seen_at_ts, i, v) if (json_equal(v, id)) return 1;
	return 0;
}

/* The next new message of the current channel: 1 (in *msg), 0 when done, -1. */
static int next_message(struct sb_pull *p, json_t **msg, char *err, size_t err_size)
{
	for (;;) {
		int fresh = 0;
		if (p->msgs_end)
			return 0;
		if (!p->msgs && load_messages(p, err, err_size) < 0)
			return -1;
		while (p->msg_idx < json_array_size(p->msgs)) {
			json_t *m = json_array_get(p->msgs, p->msg_idx++);
			json_t *ca = json_object_get(m, "created_at"), *id = json_object_get(m, "message_id");
			json_int_t t = json_integer_value(ca);
			if (!json_is_integer(ca) || !id)
				continue;
			if (p->to_ts && t > p->to_ts) {
				p->msgs_end = 1;
				return 0;
			}
			if (t < p->last_ts || (t == p->last_ts && seen(p, id)))
				continue;
			if (t != p->last_ts) {
				json_array_clear(p->seen_at_ts);
				p->last_ts = t;
			}
			json_array_append(p->seen_at_ts, id);
			p->page_new = 1;
			*msg = m;
			return 1;
		}
		/* The page is used up: a short page was the last one; a full page that
		 * brought nothing new means every message on it shares one timestamp. */
		fresh = json_array_size(p->msgs) >= (size_t)p->api.page_size;
		if (fresh && !p->page_new) {
			snprintf(err, err_size, "more than %d messages share the timestamp %" JSON_INTEGER_FORMAT
						" in %s: raise page_size",
				 p->api.page_size, p->last_ts, json_string_value(json_object_get(p->cur, "channel_url")));
			return -1;
		}
		json_decref(p->msgs);
		p->msgs = NULL;
		if (!fresh) {
			p->msgs_end = 1;
			return 0;
		}
	}
}

static void reset_channel_messages(struct sb_pull *p)
{
	json_decref(p->msgs);
	p->msgs = NULL;
	p->msg_idx = 0;
	p->last_ts = -1;
	p->msgs_end = 0;
	json_array_clear(p->seen_at_ts);
}

int sb_pull_next(struct sb_pull *p, struct im_record *out, char *err, size_t err_size)
{
	json_t *item;
	long status;
	int r;

	json_decref(p->data);
	p->data = NULL;
	for (;;) {
		switch (p->phase) {
		case PH_USERS:
			r = sb_pager_next(&p->api, &p->outer, &item, &status, err, err_size);
			if (r < 0)
				return IM_SOURCE_ERROR;
			if (r == 0) {
				if (start_phase(p, PH_CHANNELS, "", 0) < 0)
					goto oom;
				continue;
			}
			set_record(p, out, SB_STREAM_USERS, json_incref(item));
			return IM_SOURCE_OK;
		case PH_CHANNELS: {
			json_t *full = NULL;
			r = sb_pager_next(&p->api, &p->outer, &item, &status, err, err_size);
			if (r < 0)
				return IM_SOURCE_ERROR;
			if (r == 0) {
				if (start_phase(p, PH_MESSAGES, "", 0) < 0)
					goto oom;
				continue;
			}
			if (expand_channel(p, item, &full, p->error, sizeof(p->error)) < 0) {
				if (!item_failure_is_final(p)) {
					snprintf(err, err_size, "%s", p->error);
					p->outer.idx--; /* take this channel again on resume */
					return IM_SOURCE_ERROR;
				}
				/* One channel's lists refused (deleted meanwhile) spoils only that channel. */
				set_bad(p, out, SB_STREAM_CHANNELS,
					json_string_value(json_object_get(item, "channel_url")) ?: "?");
				return IM_SOURCE_OK;
			}
			set_record(p, out, SB_STREAM_CHANNELS, full);
			return IM_SOURCE_OK;
		}
		case PH_MESSAGES:
			if (!p->cur) {
				r = sb_pager_next(&p->api, &p->outer, &item, &status, err, err_size);
				if (r < 0)
					return IM_SOURCE_ERROR;
				if (r == 0) {
					if (start_phase(p, p->include_blocks ? PH_BLOCKS : PH_DONE, "", 0) < 0)
						goto oom;
					continue;
				}
				p->cur = json_incref(item);
				reset_channel_messages(p);
				if (p->resume_pending) {
					p->resume_pending = 0;
					p->last_ts = p->resume_ts;
					json_array_extend(p->seen_at_ts, p->resume_seen);
				}
			}
			r = next_message(p, &item, p->error, sizeof(p->error));
			if (r == 1) {
				set_record(p, out, SB_STREAM_MESSAGES, json_incref(item));
				return IM_SOURCE_OK;
			}
			if (r < 0 && !item_failure_is_final(p)) {
				snprintf(err, err_size, "%s", p->error);
				return IM_SOURCE_ERROR;
			}
			if (r < 0) {
				set_bad(p, out, SB_STREAM_MESSAGES,
					json_string_value(json_object_get(p->cur, "channel_url")) ?: "?");
			}
			json_decref(p->cur);
			p->cur = NULL;
			reset_channel_messages(p);
			if (r < 0)
				return IM_SOURCE_OK;
			continue;
		case PH_BLOCKS:
			if (!p->cur) {
				const char *uid;
				char *e;
				r = sb_pager_next(&p->api, &p->outer, &item, &status, err, err_size);
				if (r < 0)
					return IM_SOURCE_ERROR;
				if (r == 0) {
					start_phase(p, PH_DONE, "", 0);
					continue;
				}
				uid = json_string_value(json_object_get(item, "user_id"));
				if (!uid || !(e = sb_escape(uid)))
					continue;
				p->cur = json_incref(item);
				r = sb_pager_init(&p->inner, sb_format("%s/v3/users/%s/block", p->api.base, e), "users",
					       p->resume_pending ? p->resume_btoken : "",
					       p->resume_pending ? p->resume_bidx : 0);
				p->resume_pending = 0;
				free(e);
				if (r < 0)
					goto oom;
			}
			r = sb_pager_next(&p->api, &p->inner, &item, &status, p->error, sizeof(p->error));
			if (r == 1) {
				const char *blocker = json_string_value(json_object_get(p->cur, "user_id"));
				const char *blocked = json_string_value(json_object_get(item, "user_id"));
				if (!blocked)
					continue;
				set_record(p, out, SB_STREAM_BLOCKS,
					   json_pack("{s:s, s:s, s:O}", "blocker_id", blocker, "blocked_id", blocked,
						     "blocked_user", item));
				return IM_SOURCE_OK;
			}
			if (r < 0 && !item_failure_is_final(p)) {
				snprintf(err, err_size, "%s", p->error);
				return IM_SOURCE_ERROR;
			}
			if (r < 0)
				set_bad(p, out, SB_STREAM_BLOCKS,
					json_string_value(json_object_get(p->cur, "user_id")) ?: "?");
			json_decref(p->cur);
			p->cur = NULL;
			sb_pager_reset(&p->inner);
			if (r < 0)
				return IM_SOURCE_OK;
			continue;
		case PH_DONE:
			return IM_SOURCE_END;
		}
	}
oom:
	snprintf(err, err_size, "out of memory");
	return IM_SOURCE_ERROR;
}

json_t *sb_pull_checkpoint(struct sb_pull *p)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:I}", "mode", "pull", "phase", phase_names[p->phase], "token",
			      p->outer.token ? p->outer.token : "", "idx", (json_int_t)p->outer.idx);
	if (!c)
		return NULL;
	if (p->cur && p->phase == PH_MESSAGES) {
		json_object_set_new(c, "ts", json_integer(p->last_ts));
		json_object_set(c, "seen", p->seen_at_ts);
	} else if (p->cur && p->phase == PH_BLOCKS) {
		json_object_set_new(c, "btoken", json_string(p->inner.token ? p->inner.token : ""));
		json_object_set_new(c, "bidx", json_integer((json_int_t)p->inner.idx));
	} else if (p->resume_pending) {
		/* Not started again yet: hand the restored position on unchanged. */
		if (p->phase == PH_MESSAGES) {
			json_object_set_new(c, "ts", json_integer(p->resume_ts));
			json_object_set(c, "seen", p->resume_seen);
		} else {
			json_object_set_new(c, "btoken", json_string(p->resume_btoken ? p->resume_btoken : ""));
			json_object_set_new(c, "bidx", json_integer((json_int_t)p->resume_bidx));
		}
		json_object_set_new(c, "idx", json_integer((json_int_t)p->outer.idx + 1));
	}
	return c;
}

static int restore(struct sb_pull *p, const json_t *ck, char *err, size_t err_size)
{
	const char *phase = NULL, *token = NULL, *btoken = NULL;
	json_int_t idx = 0, ts = -1, bidx = 0;
	json_t *seenv = NULL;
	int ph;

	if (json_unpack((json_t *)ck, "{s:s, s:s, s:I, s?I, s?o, s?s, s?I}", "phase", &phase, "token", &token, "idx",
			&idx, "ts", &ts, "seen", &seenv, "btoken", &btoken, "bidx", &bidx) < 0 ||
	    idx < 0) {
		snprintf(err, err_size, "checkpoint: not a sendbird pull checkpoint");
		return -1;
	}
	for (ph = PH_USERS; ph <= PH_DONE; ph++)
		if (strcmp(phase, phase_names[ph]) == 0)
			break;
	if (ph > PH_DONE) {
		snprintf(err, err_size, "checkpoint: unknown phase \"%s\"", phase);
		return -1;
	}
	if ((ph == PH_MESSAGES && seenv) || (ph == PH_BLOCKS && btoken)) {
		if (idx < 1 || (seenv && !json_is_array(seenv))) {
			snprintf(err, err_size, "checkpoint: inconsistent position");
			return -1;
		}
		idx--; /* take the same channel or user again */
		p->resume_pending = 1;
		p->resume_ts = ts;
		p->resume_seen = seenv ? json_incref(seenv) : json_array();
		p->resume_btoken = strdup(btoken ? btoken : "");
		p->resume_bidx = (size_t)(bidx > 0 ? bidx : 0);
	}
	if (start_phase(p, (enum phase)ph, token, (size_t)idx) < 0) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	return 0;
}

int sb_pull_open(const struct im_host *host, const json_t *options, const json_t *checkpoint, struct sb_pull **out,
		 char *err, size_t err_size)
{
	struct sb_pull *p = calloc(1, sizeof(*p));
	const char *app = json_string_value(json_object_get(options, "app_id"));
	json_t *base = json_object_get(options, "api_base"), *v;

	if (!p) {
		snprintf(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	p->api.host = host;
	p->api.page_size = 100;
	p->api.rate = 10;
	p->include_blocks = 1;
	p->last_ts = -1;
	p->seen_at_ts = json_array();
	if (!app || !*app || strspn(app, "0123456789ABCDEFabcdef-") != strlen(app)) {
		snprintf(err, err_size, "source.app_id: expected the Sendbird application id (letters, digits, '-')");
		goto fail;
	}
	if (base && (!json_is_string(base) || (strncmp(json_string_value(base), "https://", 8) != 0 &&
					      strncmp(json_string_value(base), "http://", 7) != 0))) {
		snprintf(err, err_size, "source.api_base: expected an http(s):// URL");
		goto fail;
	}
	p->api.base = base ? strdup(json_string_value(base)) : sb_format("https://api-%s.sendbird.com", app);
	if (p->api.base && *p->api.base && p->api.base[strlen(p->api.base) - 1] == '/')
		p->api.base[strlen(p->api.base) - 1] = '\0';
	if ((v = json_object_get(options, "page_size"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 200) {
			snprintf(err, err_size, "source.page_size: expected an integer from 1 to 200");
			goto fail;
		}
		p->api.page_size = (int)json_integer_value(v);
	}
	if ((v = json_object_get(options, "rate_per_second"))) {
		if (!json_is_number(v) || json_number_value(v) <= 0) {
			snprintf(err, err_size, "source.rate_per_second: expected a positive number");
			goto fail;
		}
		p->api.rate = json_number_value(v);
	}
	if ((v = json_object_get(options, "include_blocks"))) {
		if (!json_is_boolean(v)) {
			snprintf(err, err_size, "source.include_blocks: expected true or false");
			goto fail;
		}
		p->include_blocks = json_is_true(v);
	}
	if ((v = json_object_get(options, "messages_from"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			snprintf(err, err_size, "source.messages_from: expected Unix milliseconds");
			goto fail;
		}
		p->from_ts = json_integer_value(v);
	}
	if ((v = json_object_get(options, "messages_to"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			snprintf(err, err_size, "source.messages_to: expected Unix milliseconds");
			goto fail;
		}
		p->to_ts = json_integer_value(v);
	}
	if (!p->api.base || !p->seen_at_ts || !(p->api.auth = sb_api_auth_header(options, err, err_size)))
		goto fail;
	if (checkpoint ? restore(p, checkpoint, err, err_size) < 0 : start_phase(p, PH_USERS, "", 0) < 0) {
		if (!checkpoint)
			snprintf(err, err_size, "out of memory");
		goto fail;
	}
	*out = p;
	return IM_SOURCE_OK;
fail:
	sb_pull_close(p);
	return IM_SOURCE_ERROR;
}

void sb_pull_close(struct sb_pull *p)
{
	if (!p)
		return;
	sb_pager_reset(&p->outer);
	sb_pager_reset(&p->inner);
	json_decref(p->cur);
	json_decref(p->msgs);
	json_decref(p->seen_at_ts);
	json_decref(p->resume_seen);
	json_decref(p->data);
	free(p->resume_btoken);
	sb_api_clear(&p->api);
	free(p);
}

/* Users and channels are counted by walking their lists (one call per page);
 * message and block counts are not offered by the API and are left out. */
int sb_pull_estimate(struct sb_pull *p, json_t **counts, char *err, size_t err_size)
{
	static const struct {
		const char *stream, *path, *key;
	} lists[] = {{SB_STREAM_USERS, "/v3/users?active_mode=all", "users"},
		     {SB_STREAM_CHANNELS, "/v3/group_channels?show_empty=true", "channels"}};
	json_t *c = json_object();
	size_t i;
	for (i = 0; c && i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct sb_pager pg = {0};
		json_t *item;
		json_int_t n = 0;
		long status;
		int r;
		if (sb_pager_init(&pg, sb_format("%s%s", p->api.base, lists[i].path), lists[i].key, "", 0) < 0) {
			sb_pager_reset(&pg);
			break;
		}
		while ((r = sb_pager_next(&p->api, &pg, &item, &status, err, err_size)) == 1)
			n++;
		sb_pager_reset(&pg);
		if (r < 0) {
			json_decref(c);
			return IM_SOURCE_ERROR;
		}
		json_object_set_new(c, lists[i].stream, json_integer(n));
	}
	if (!c || json_object_size(c) != 2) {
		json_decref(c);
		snprintf(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	*counts = c;
	return IM_SOURCE_OK;
}
