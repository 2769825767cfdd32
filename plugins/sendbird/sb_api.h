/* The Sendbird Platform API as the pull reader uses it: authenticated GETs through
 * the host's HTTP, and token-paged lists. The API token lives only in the
 * Api-Token header line held here; it is never put in a URL, a log or an error. */
#ifndef SENDBIRD_SB_API_H
#define SENDBIRD_SB_API_H

#include <immigrate/source.h>

struct sb_api {
	const struct im_host *host;
	char *base;       /* "https://api-APP.sendbird.com", no trailing slash; owned */
	char *auth;       /* "Api-Token: ..." (secret); owned, wiped by sb_api_clear */
	int page_size;    /* limit= of paged calls (lists: at most 100) */
	double rate;      /* calls per second, shared under the rate key "sendbird" */
	long last_status; /* HTTP status of the last call; 0 when no answer came */
};

/* Frees base and auth (wiping the token first). */
void sb_api_clear(struct sb_api *a);

/* The Api-Token header line from the options api_token_env (default
 * SENDBIRD_API_TOKEN) or api_token_file, as a malloc'd string the caller owns
 * (wipe before freeing). NULL with err filled (naming the option, never the
 * token) when missing or malformed. */
char *sb_api_auth_header(const json_t *options, char *err, size_t err_size);

/* GET url (which must start with a->base and carry no secret). Returns the body
 * as a new JSON object, or NULL with err naming the path and the HTTP status or
 * transport error; *status and a->last_status get the status (0: no answer). */
json_t *sb_api_get(struct sb_api *a, const char *url, long *status, char *err, size_t err_size);

/* A token-paged list: GET url[&token=T] -> {"<key>": [...], "next": "T2"}. */
struct sb_pager {
	char *url;
	const char *key;
	char *token; /* the page held in items ("" = first page) */
	char *next;
	json_t *items;
	size_t idx; /* items of this page already consumed */
	int loaded;
};

/* Takes ownership of url (malloc'd; NULL fails) and starts at page token (""
 * for the first page) with idx items of that page already consumed. 0 or -1. */
int sb_pager_init(struct sb_pager *pg, char *url, const char *key, const char *token, size_t idx);
/* Frees everything and zeroes the pager; safe on a zeroed pager. */
void sb_pager_reset(struct sb_pager *pg);
/* The next item: 1 with *item (borrowed until the next page is fetched), 0 at
 * the end of the list, -1 with err filled. */
int sb_pager_next(struct sb_api *a, struct sb_pager *pg, json_t **item, long *status, char *err, size_t err_size);

/* Every item of the list under url (owned, freed here) as one new array, or NULL
 * with err filled. */
json_t *sb_api_fetch_all(struct sb_api *a, char *url, const char *key, char *err, size_t err_size);

/* Percent-encodes s for a path segment or a query value; malloc'd, NULL on OOM. */
char *sb_escape(const char *s);
/* printf into a malloc'd string; NULL on OOM. */
char *sb_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
