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
#define _GNU_SOURCE /* vasprintf */
#include "sendbird_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum phase { PH_USERS, PH_CHANNELS, PH_MESSAGES, PH_BLOCKS, PH_DONE };
static const char *const phase_names[] = {"users", "channels", "messages", "blocks", "done"};

/* A token-paged list: GET url[&token=T] -> {"<key>": [...], "next": "T2"}. */
struct pager {
	char *url;
	const char *key;
	char *token; /* the page held in items ("" = first page) */
	char *next;
	json_t *items;
	size_t idx; /* items of this page already consumed */
	int loaded;
};

struct sb_pull {
	const struct im_host *host;
	char *base; /* "https://api-APP.sendbird.com" without trailing slash */
	char *auth; /* "Api-Token: ..." — secret */
	int page_size;
	double rate;
	int include_blocks;
	json_int_t from_ts, to_ts;

	enum phase phase;
	struct pager outer; /* users or channels list */
	struct pager inner; /* blocks of one user */
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

	long last_status; /* of the last call: 0 when no answer came */

	/* the record handed out last */
	json_t *data;
	char id[256];
	char origin[512];
	char error[1024];
	char raw[SB_RAW_MAX + 1];
};

static void pager_reset(struct pager *pg)
{
	free(pg->url);
	free(pg->token);
	free(pg->next);
	json_decref(pg->items);
	memset(pg, 0, sizeof(*pg));
}

static int pager_init(struct pager *pg, char *url, const char *key, const char *token, size_t idx)
{
	pager_reset(pg);
	pg->url = url;
	pg->key = key;
	pg->token = strdup(token ? token : "");
	pg->idx = idx;
	return pg->url && pg->token ? 0 : -1;
}

/* Percent-encodes s for a path segment or query value. */
static char *escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* GET url. Returns the parsed body object, or NULL with err filled; *status gets
 * the HTTP status (0 when no answer came). The URL carries no secret. */
static json_t *get_json(struct sb_pull *p, const char *url, long *status, char *err, size_t err_size)
{
	const char *headers[] = {p->auth, "Accept: application/json", NULL};
	struct im_http_request req = {
		.size = sizeof(req),
		.method = "GET",
		.url = url,
		.headers = headers,
		.rate_key = "sendbird",
		.rate_per_second = p->rate,
	};
	struct im_http_response resp = {.size = sizeof(resp)};
	const char *path = url + strlen(p->base);
	json_t *body;
	char perr[256];

	*status = 0;
	p->last_status = 0;
	if (p->host->http(p->host->ctx, &req, &resp, perr, sizeof(perr)) != IM_SOURCE_OK) {
		snprintf(err, err_size, "GET %s: %s", path, perr);
		return NULL;
	}
	*status = resp.status;
	p->last_status = resp.status;
	body = p->host->json_parse(p->host->ctx, resp.body, resp.body_len, perr, sizeof(perr));
	if (resp.status != 200) {
		const char *msg = body ? json_string_value(json_object_get(body, "message")) : NULL;
		snprintf(err, err_size, "GET %s: HTTP %ld%s%s", path, resp.status, msg ? ": " : "", msg ? msg : "");
		json_decref(body);
		body = NULL;
	} else if (!body || !json_is_object(body)) {
		snprintf(err, err_size, "GET %s: the answer is not a JSON object%s%s", path, body ? "" : ": ",
			 body ? "" : perr);
		json_decref(body);
		body = NULL;
	}
	p->host->http_free(p->host->ctx, &resp);
	return body;
}

/* 1 with *item (borrowed until the next page), 0 at the end, -1 with err. */
static int pager_next(struct sb_pull *p, struct pager *pg, json_t **item, long *status, char *err, size_t err_size)
{
	for (;;) {
		if (!pg->loaded) {
			char *url, *tok = NULL;
			json_t *body, *next;
			if (*pg->token && !(tok = escape(pg->token)))
				return -1;
			url = format("%s%slimit=%d%s%s", pg->url, strchr(pg->url, '?') ? "&" : "?", p->page_size,
				     tok ? "&token=" : "", tok ? tok : "");
			free(tok);
			if (!url) {
				snprintf(err, err_size, "out of memory");
				return -1;
			}
			body = get_json(p, url, status, err, err_size);
			free(url);
			if (!body)
				return -1;
			json_decref(pg->items);
			pg->items = json_incref(json_object_get(body, pg->key));
			next = json_object_get(body, "next");
			free(pg->next);
			pg->next = strdup(json_is_string(next) ? json_string_value(next) : "");
			json_decref(body);
			if (!json_is_array(pg->items) || !pg->next) {
				snprintf(err, err_size, "%s: the answer has no \"%s\" list", pg->url + strlen(p->base),
					 pg->key);
				return -1;
			}
			pg->loaded = 1;
		}
		if (pg->idx < json_array_size(pg->items)) {
			*item = json_array_get(pg->items, pg->idx++);
			return 1;
		}
		if (!*pg->next)
			return 0;
		free(pg->token);
		pg->token = pg->next;
		pg->next = NULL;
		pg->idx = 0;
		pg->loaded = 0;
	}
}

/* Every item of a paged list under url, as one new array (members, operators). */
static json_t *fetch_all(struct sb_pull *p, char *url, const char *key, char *err, size_t err_size)
{
	struct pager pg = {0};
	json_t *all = json_array(), *item;
	long status;
	int r;
	if (!all || pager_init(&pg, url, key, "", 0) < 0) {
		snprintf(err, err_size, "out of memory");
		json_decref(all);
		free(url);
		return NULL;
	}
	while ((r = pager_next(p, &pg, &item, &status, err, err_size)) == 1)
		json_array_append(all, item);
	pager_reset(&pg);
	if (r < 0) {
		json_decref(all);
		return NULL;
	}
	return all;
}

static int start_phase(struct sb_pull *p, enum phase ph, const char *token, size_t idx)
{
	char *url = NULL;
	p->phase = ph;
	json_decref(p->cur);
	p->cur = NULL;
	pager_reset(&p->inner);
	if (ph == PH_USERS || ph == PH_BLOCKS)
		url = format("%s/v3/users", p->base);
	else if (ph == PH_CHANNELS)
		/* Members come from /members (all pages), not from show_member. */
		url = format("%s/v3/group_channels?show_read_receipt=true&show_empty=true", p->base);
	else if (ph == PH_MESSAGES)
		url = format("%s/v3/group_channels?show_empty=false", p->base);
	else
		return 0;
	return pager_init(&p->outer, url, ph == PH_CHANNELS || ph == PH_MESSAGES ? "channels" : "users", token, idx);
}

/* A failure about one channel or user that the API answered definitively (4xx)
 * spoils only that item; no answer, 429 or 5xx after the host's retries stops the
 * run so that a later run retries from the checkpoint. */
static int item_failure_is_final(const struct sb_pull *p)
{
	return p->last_status >= 400 && p->last_status < 500 && p->last_status != 429;
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
	if (!(e = escape(url))) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	members = fetch_all(p, format("%s/v3/group_channels/%s/members", p->base, e), "members", err, err_size);
	ops = members ? fetch_all(p, format("%s/v3/group_channels/%s/operators", p->base, e), "operators", err,
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
	char *e = url ? escape(url) : NULL, *full;
	json_t *body;
	long status;

	if (!e) {
		snprintf(err, err_size, url ? "out of memory" : "a channel without channel_url");
		return -1;
	}
	full = format("%s/v3/group_channels/%s/messages?message_ts=%" JSON_INTEGER_FORMAT
		      "&prev_limit=0&next_limit=%d&include=true&reverse=false&with_sorted_meta_array=false",
		      p->base, e, ts, p->page_size);
	free(e);
	if (!full) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	body = get_json(p, full, &status, err, err_size);
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
		fresh = json_array_size(p->msgs) >= (size_t)p->page_size;
		if (fresh && !p->page_new) {
			snprintf(err, err_size, "more than %d messages share the timestamp %" JSON_INTEGER_FORMAT
						" in %s: raise page_size",
				 p->page_size, p->last_ts, json_string_value(json_object_get(p->cur, "channel_url")));
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
			r = pager_next(p, &p->outer, &item, &status, err, err_size);
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
			r = pager_next(p, &p->outer, &item, &status, err, err_size);
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
				r = pager_next(p, &p->outer, &item, &status, err, err_size);
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
				r = pager_next(p, &p->outer, &item, &status, err, err_size);
				if (r < 0)
					return IM_SOURCE_ERROR;
				if (r == 0) {
					start_phase(p, PH_DONE, "", 0);
					continue;
				}
				uid = json_string_value(json_object_get(item, "user_id"));
				if (!uid || !(e = escape(uid)))
					continue;
				p->cur = json_incref(item);
				r = pager_init(&p->inner, format("%s/v3/users/%s/block", p->base, e), "users",
					       p->resume_pending ? p->resume_btoken : "",
					       p->resume_pending ? p->resume_bidx : 0);
				p->resume_pending = 0;
				free(e);
				if (r < 0)
					goto oom;
			}
			r = pager_next(p, &p->inner, &item, &status, p->error, sizeof(p->error));
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
			pager_reset(&p->inner);
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

static char *read_token(const json_t *options, char *err, size_t err_size)
{
	const char *env = json_string_value(json_object_get(options, "api_token_env"));
	const char *file = json_string_value(json_object_get(options, "api_token_file"));
	char buf[512], *tok;
	size_t n;

	if (json_object_get(options, "api_token_env") && !env) {
		snprintf(err, err_size, "source.api_token_env: expected the name of an environment variable");
		return NULL;
	}
	if (json_object_get(options, "api_token_file") && !file) {
		snprintf(err, err_size, "source.api_token_file: expected a path");
		return NULL;
	}
	if (env && file) {
		snprintf(err, err_size, "source: give api_token_env or api_token_file, not both");
		return NULL;
	}
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f) {
			snprintf(err, err_size, "source.api_token_file: %s: %s", file, strerror(errno));
			return NULL;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
	} else {
		const char *v = getenv(env ? env : "SENDBIRD_API_TOKEN");
		if (!v || !*v) {
			snprintf(err, err_size, "source.api_token_env: the environment variable %s is not set",
				 env ? env : "SENDBIRD_API_TOKEN");
			return NULL;
		}
		snprintf(buf, sizeof(buf), "%s", v);
	}
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (!n || strpbrk(buf, "\r\n")) {
		snprintf(err, err_size, "source: the API token %s is empty or spans lines",
			 file ? "file" : "variable");
		return NULL;
	}
	tok = format("Api-Token: %s", buf);
	memset(buf, 0, sizeof(buf));
	if (!tok)
		snprintf(err, err_size, "out of memory");
	return tok;
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
	p->host = host;
	p->page_size = 100;
	p->rate = 10;
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
	p->base = base ? strdup(json_string_value(base)) : format("https://api-%s.sendbird.com", app);
	if (p->base && *p->base && p->base[strlen(p->base) - 1] == '/')
		p->base[strlen(p->base) - 1] = '\0';
	if ((v = json_object_get(options, "page_size"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 200) {
			snprintf(err, err_size, "source.page_size: expected an integer from 1 to 200");
			goto fail;
		}
		p->page_size = (int)json_integer_value(v);
	}
	if ((v = json_object_get(options, "rate_per_second"))) {
		if (!json_is_number(v) || json_number_value(v) <= 0) {
			snprintf(err, err_size, "source.rate_per_second: expected a positive number");
			goto fail;
		}
		p->rate = json_number_value(v);
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
	if (!p->base || !p->seen_at_ts || !(p->auth = read_token(options, err, err_size)))
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
	pager_reset(&p->outer);
	pager_reset(&p->inner);
	json_decref(p->cur);
	json_decref(p->msgs);
	json_decref(p->seen_at_ts);
	json_decref(p->resume_seen);
	json_decref(p->data);
	free(p->resume_btoken);
	free(p->base);
	if (p->auth) {
		memset(p->auth, 0, strlen(p->auth));
		free(p->auth);
	}
	free(p);
}

/* Users and channels are counted by walking their lists (one call per page);
 * message and block counts are not offered by the API and are left out. */
int sb_pull_estimate(struct sb_pull *p, json_t **counts, char *err, size_t err_size)
{
	static const struct {
		const char *stream, *path, *key;
	} lists[] = {{SB_STREAM_USERS, "/v3/users", "users"},
		     {SB_STREAM_CHANNELS, "/v3/group_channels?show_empty=true", "channels"}};
	json_t *c = json_object();
	size_t i;
	for (i = 0; c && i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct pager pg = {0};
		json_t *item;
		json_int_t n = 0;
		long status;
		int r;
		if (pager_init(&pg, format("%s%s", p->base, lists[i].path), lists[i].key, "", 0) < 0) {
			pager_reset(&pg);
			break;
		}
		while ((r = pager_next(p, &pg, &item, &status, err, err_size)) == 1)
			n++;
		pager_reset(&pg);
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
