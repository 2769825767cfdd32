/* Authenticated GETs and token paging against the Sendbird Platform API (see sb_api.h). */
#define _GNU_SOURCE /* vasprintf */
#include "sb_api.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_api_clear(struct sb_api *a)
{
	free(a->base);
	if (a->auth) {
		memset(a->auth, 0, strlen(a->auth));
		free(a->auth);
	}
	a->base = a->auth = NULL;
}

void sb_pager_reset(struct sb_pager *pg)
{
	free(pg->url);
	free(pg->token);
	free(pg->next);
	json_decref(pg->items);
	memset(pg, 0, sizeof(*pg));
}

int sb_pager_init(struct sb_pager *pg, char *url, const char *key, const char *token, size_t idx)
{
	sb_pager_reset(pg);
	pg->url = url;
	pg->key = key;
	pg->token = strdup(token ? token : "");
	pg->idx = idx;
	return pg->url && pg->token ? 0 : -1;
}

/* Percent-encodes s for a path segment or query value. */
char *sb_escape(const char *s)
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

char *sb_format(const char *fmt, ...)
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
json_t *sb_api_get(struct sb_api *p, const char *url, long *status, char *err, size_t err_size)
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
int sb_pager_next(struct sb_api *p, struct sb_pager *pg, json_t **item, long *status, char *err, size_t err_size)
{
	for (;;) {
		if (!pg->loaded) {
			char *url, *tok = NULL;
			json_t *body, *next;
			if (*pg->token && !(tok = sb_escape(pg->token)))
				return -1;
			/* List calls take at most 100 per page (messages take 200). */
			url = sb_format("%s%slimit=%d%s%s", pg->url, strchr(pg->url, '?') ? "&" : "?",
					p->page_size < 100 ? p->page_size : 100,
				     tok ? "&token=" : "", tok ? tok : "");
			free(tok);
			if (!url) {
				snprintf(err, err_size, "out of memory");
				return -1;
			}
			body = sb_api_get(p, url, status, err, err_size);
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
json_t *sb_api_fetch_all(struct sb_api *p, char *url, const char *key, char *err, size_t err_size)
{
	struct sb_pager pg = {0};
	json_t *all = json_array(), *item;
	long status;
	int r;
	if (!all || sb_pager_init(&pg, url, key, "", 0) < 0) {
		snprintf(err, err_size, "out of memory");
		json_decref(all);
		free(url);
		return NULL;
	}
	while ((r = sb_pager_next(p, &pg, &item, &status, err, err_size)) == 1)
		json_array_append(all, item);
	sb_pager_reset(&pg);
	if (r < 0) {
		json_decref(all);
		return NULL;
	}
	return all;
}

char *sb_api_auth_header(const json_t *options, char *err, size_t err_size)
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
	tok = sb_format("Api-Token: %s", buf);
	memset(buf, 0, sizeof(buf));
	if (!tok)
		snprintf(err, err_size, "out of memory");
	return tok;
}

