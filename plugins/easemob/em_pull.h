/* Pull mode: what Easemob's REST API still has, read through the host's HTTP
 * (its TLS, retries and rate limits).
 *
 *   token       POST {base}/token (client_credentials) -> app token (Bearer)
 *   users       GET {base}/users?limit=&cursor=                    (cursor paging)
 *               + per user GET /metadata/user/{u}, /users/{u}/contacts/users,
 *                 /users/{u}/blocks/users   -> one "users" record per user with
 *                 _metadata, _contacts and _blocks
 *   chatgroups  GET {base}/chatgroups?limit=&cursor=               (cursor paging)
 *               + per group GET /chatgroups/{id}, /chatgroups/{id}/users?pagenum=
 *                 (all pages), /chatgroups/{id}/admin -> one "chatgroups" record with
 *                 _members ([{"owner"|"member": user}]) and _admins
 *   history     GET {base}/chatmessages/{yyyyMMddHH} for each hour of a range ->
 *               the signed file URLs; each file is downloaded (without the app
 *               token: it goes to the storage host) and handed back line by line,
 *               for the caller to read as history lines.
 * Memory is bounded by one page of users or groups, one group's member list and
 * one downloaded history file (kept in a temporary file, read with em_lines).
 * The app token goes only into the Authorization header: never logged, never
 * in a URL or an error message. */
#ifndef EM_PULL_H
#define EM_PULL_H

#include <immigrate/source.h>
#include <jansson.h>
#include <stddef.h>

struct em_pull;

struct em_pull_config {
	const struct im_host *host;
	const char *base_url;      /* "https://a1.easemob.com/org/app"; copied */
	const char *client_id;     /* copied */
	const char *client_secret; /* copied, wiped at free */
	const char *hour_from;     /* "yyyyMMddHH" or NULL: no history pull */
	const char *hour_to;       /* inclusive */
	int page_size;             /* users/chatgroups per page (1..100) */
	double rate_per_second;    /* the host's token bucket for every call */
	size_t max_line;           /* for the downloaded history files */
};

/* Checks the configuration (URL scheme, hour range). Returns the pull state or
 * NULL with err filled. Touches no network (the token is fetched lazily). */
struct em_pull *em_pull_new(const struct em_pull_config *cfg, char *err, size_t err_size);

void em_pull_free(struct em_pull *p);

enum em_pull_kind {
	EM_PULL_ERROR = -1,   /* fatal: err says why (HTTP status, path; never the token) */
	EM_PULL_END = 0,      /* nothing more to pull */
	EM_PULL_RECORD = 1,   /* item.stream/data/source_id/origin */
	EM_PULL_LINE = 2,     /* item.text/len/origin: one line of a history file */
	EM_PULL_TOO_LONG = 3, /* item.text/len/origin: the head of an over-long line */
	EM_PULL_BAD = 4,      /* item.error/origin: a download that could not be read */
};

struct em_pull_item {
	const char *stream;
	json_t *data; /* owned by the pull state, valid until the next call */
	const char *source_id;
	const char *origin;
	const char *text;
	size_t len;
	const char *error;
};

/* Produces the next item. */
int em_pull_next(struct em_pull *p, struct em_pull_item *item, char *err, size_t err_size);

/* The position just after the last item, as a new JSON object, or NULL once
 * everything was pulled. Deterministic, as checkpoint() requires. */
json_t *em_pull_position(const struct em_pull *p);

/* Moves to a position from em_pull_position(): the users/chatgroups phases
 * directly (the page is fetched again), the history phase to the start of its
 * range (the caller then re-reads up to the position). NULL means "done".
 * Returns 0, or -1 with err filled. */
int em_pull_seek(struct em_pull *p, const json_t *pos, char *err, size_t err_size);

/* Non-zero when the pull covers an hour range of history. */
int em_pull_has_history(const struct em_pull *p);

/* Whether pos (from a checkpoint) is in the history phase. */
int em_pull_position_is_history(const json_t *pos);

#endif
