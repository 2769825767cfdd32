/* Pull mode over Easemob's REST API (see em_pull.h). */
#define _GNU_SOURCE /* timegm */
#include "em_pull.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "em_lines.h"

#define EM_MEMBER_PAGE 100
#define EM_MEMBER_PAGES_MAX 200 /* 20,000 members: beyond any Easemob group size */

enum phase { PH_USERS, PH_GROUPS, PH_HOURS, PH_DONE };
static const char *const phase_names[] = {"users", "chatgroups", "hours", "done"};

/* A cursor-paged list: GET {base}{path}?limit=N[&cursor=C] -> {key: [...], "cursor": C2}. */
struct pager {
	const char *path;
	const char *key;
	char *cursor; /* the cursor that fetched the page held in items; NULL: first page */
	char *next;
	json_t *items;
	size_t idx; /* items of this page already consumed */
	int loaded;
};

struct em_pull {
	const struct im_host *host;
	char *base;
	char *client_id;
	char *client_secret;
	char *token;
	int page_size;
	double rate;
	size_t max_line;

	enum phase phase;
	struct pager pager;

	int has_hours;
	time_t hour_from, hour_to, hour; /* hour starts, UTC */
	json_t *urls;                    /* signed file URLs of `hour`, once fetched */
	size_t file;                     /* index in urls of the file being read */
	struct em_lines *lines;
	uint64_t line, offset;

	json_t *data;
	char source_id[256];
	char origin[512];
	char error[768];
};

static void pager_reset(struct pager *g, const char *path, const char *key)
{
	free(g->cursor);
	free(g->next);
	json_decref(g->items);
	memset(g, 0, sizeof(*g));
	g->path = path;
	g->key = key;
}

static int parse_hour(const char *s, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || strlen(s) != 10 || strspn(s, "0123456789") != 10)
		return -1;
	if (sscanf(s, "%4d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour) != 4)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	return 0;
}

static void format_hour(time_t t, char out[16])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (strftime(out, 16, "%Y%m%d%H", &tm) == 0)
		out[0] = '\0';
}

struct em_pull *em_pull_new(const struct em_pull_config *cfg, char *err, size_t err_size)
{
	if (strncmp(cfg->base_url, "https://", 8) != 0 && strncmp(cfg->base_url, "http://", 7) != 0) {
		snprintf(err, err_size, "option rest_url: expected https://HOST/ORG/APP");
		return NULL;
	}
	struct em_pull *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	p->host = cfg->host;
	p->base = strdup(cfg->base_url);
	p->client_id = strdup(cfg->client_id);
	p->client_secret = strdup(cfg->client_secret);
	if (!p->base || !p->client_id || !p->client_secret) {
		snprintf(err, err_size, "out of memory");
		em_pull_free(p);
		return NULL;
	}
	size_t n = strlen(p->base);
	while (n > 0 && p->base[n - 1] == '/')
		p->base[--n] = '\0';
	p->page_size = cfg->page_size;
	p->rate = cfg->rate_per_second;
	p->max_line = cfg->max_line;
	if (cfg->hour_from || cfg->hour_to) {
		if (parse_hour(cfg->hour_from, &p->hour_from) < 0 || parse_hour(cfg->hour_to, &p->hour_to) < 0 ||
		    p->hour_to < p->hour_from) {
			snprintf(err, err_size,
				 "options history_from/history_to: expected two hours yyyyMMddHH, from <= to");
			em_pull_free(p);
			return NULL;
		}
		p->has_hours = 1;
	}
	p->phase = PH_USERS;
	pager_reset(&p->pager, "/users", "entities");
	return p;
}

static void close_file(struct em_pull *p)
{
	em_lines_close(p->lines);
	p->lines = NULL;
	p->line = p->offset = 0;
}

void em_pull_free(struct em_pull *p)
{
	if (!p)
		return;
	pager_reset(&p->pager, NULL, NULL);
	close_file(p);
	json_decref(p->urls);
	json_decref(p->data);
	if (p->client_secret) {
		OPENSSL_cleanse(p->client_secret, strlen(p->client_secret));
		free(p->client_secret);
	}
	if (p->token) {
		OPENSSL_cleanse(p->token, strlen(p->token));
		free(p->token);
	}
	free(p->client_id);
	free(p->base);
	free(p);
}

/* --- HTTP ------------------------------------------------------------------ */

/* Appends s percent-encoded (everything but unreserved characters). */
static void append_escaped(char *buf, size_t size, const char *s)
{
	size_t n = strlen(buf);
	static const char hex[] = "0123456789ABCDEF";
	for (; *s && n + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == '~') {
			buf[n++] = (char)c;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
}

/* "{base}{a}{escaped b}{c}" */
static void api_url(const struct em_pull *p, char *out, size_t size, const char *a, const char *b, const char *c)
{
	snprintf(out, size, "%s%s", p->base, a);
	if (b)
		append_escaped(out, size, b);
	if (c)
		strncat(out, c, size - strlen(out) - 1);
}

/* The path of a URL without its query, for messages. */
static void url_path(const char *url, char *out, size_t size)
{
	const char *s = strstr(url, "://");
	s = s ? strchr(s + 3, '/') : NULL;
	snprintf(out, size, "%.*s", s ? (int)strcspn(s, "?") : 1, s ? s : "/");
}

static int http(struct em_pull *p, const char *method, const char *url, const char *auth, const char *body,
		struct im_http_response *resp, char *err, size_t err_size)
{
	char auth_header[4096];
	const char *headers[4];
	int h = 0;
	headers[h++] = "Accept: application/json";
	if (body)
		headers[h++] = "Content-Type: application/json";
	if (auth) {
		snprintf(auth_header, sizeof(auth_header), "Authorization: Bearer %s", auth);
		headers[h++] = auth_header;
	}
	headers[h] = NULL;
	struct im_http_request req = {
		.size = sizeof(req),
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.rate_key = "easemob",
		.rate_per_second = p->rate,
	};
	memset(resp, 0, sizeof(*resp));
	resp->size = sizeof(*resp);
	char herr[512];
	int rc = p->host->http(p->host->ctx, &req, resp, herr, sizeof(herr));
	OPENSSL_cleanse(auth_header, sizeof(auth_header));
	if (rc != IM_SOURCE_OK) {
		char path[512];
		url_path(url, path, sizeof(path));
		snprintf(err, err_size, "%s %s: %s", method, path, herr);
		return -1;
	}
	return 0;
}

static int fetch_token(struct em_pull *p, char *err, size_t err_size)
{
	char url[2048];
	api_url(p, url, sizeof(url), "/token", NULL, NULL);
	json_t *req = json_pack("{ssssss}", "grant_type", "client_credentials", "client_id", p->client_id,
				"client_secret", p->client_secret);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	struct im_http_response resp;
	int rc = http(p, "POST", url, NULL, body, &resp, err, err_size);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (rc < 0)
		return -1;
	json_t *doc = NULL;
	if (resp.status == 200)
		doc = p->host->json_parse(p->host->ctx, resp.body, resp.body_len, err, err_size);
	const char *tok = json_string_value(json_object_get(doc, "access_token"));
	if (tok && *tok) {
		free(p->token);
		p->token = strdup(tok);
	} else if (resp.status == 200)
		snprintf(err, err_size, "POST /token: the answer has no access_token");
	else
		snprintf(err, err_size, "POST /token: HTTP %ld (check client_id and the client secret)", resp.status);
	json_decref(doc);
	if (resp.body)
		OPENSSL_cleanse(resp.body, resp.body_len);
	p->host->http_free(p->host->ctx, &resp);
	return p->token ? 0 : -1;
}

/* GET url with the app token. Returns the parsed answer of a 200, or NULL with
 * *status set (404 and friends: the caller decides) and err filled. A 401 gets
 * one new token and one more try (tokens expire). */
static json_t *api_get(struct em_pull *p, const char *url, long *status, char *err, size_t err_size)
{
	*status = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!p->token && fetch_token(p, err, err_size) < 0)
			return NULL;
		struct im_http_response resp;
		if (http(p, "GET", url, p->token, NULL, &resp, err, err_size) < 0)
			return NULL;
		*status = resp.status;
		json_t *doc = NULL;
		if (resp.status == 200)
			doc = p->host->json_parse(p->host->ctx, resp.body, resp.body_len, err, err_size);
		p->host->http_free(p->host->ctx, &resp);
		if (*status == 401 && attempt == 0) {
			free(p->token);
			p->token = NULL;
			continue;
		}
		char path[512];
		url_path(url, path, sizeof(path));
		if (*status == 200 && !doc) {
			char why[256];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, err_size, "GET %s: unreadable answer: %s", path, why);
		} else if (*status != 200)
			snprintf(err, err_size, "GET %s: HTTP %ld", path, *status);
		return doc;
	}
	return NULL;
}

/* GET of a list under `key` ("data"); a 404 is an empty list. */
static json_t *api_list(struct em_pull *p, const char *url, const char *key, char *err, size_t err_size)
{
	long status;
	json_t *doc = api_get(p, url, &status, err, err_size);
	if (!doc) {
		if (status == 404)
			return json_array();
		return NULL;
	}
	json_t *list = json_incref(json_object_get(doc, key));
	json_decref(doc);
	if (!json_is_array(list)) {
		json_decref(list);
		return json_array();
	}
	return list;
}

/* --- users and chatgroups ------------------------------------------------ */

static int pager_load(struct em_pull *p, char *err, size_t err_size)
{
	struct pager *g = &p->pager;
	char url[4096], q[64];
	snprintf(q, sizeof(q), "?limit=%d", p->page_size);
	api_url(p, url, sizeof(url), g->path, NULL, q);
	if (g->cursor) {
		strncat(url, "&cursor=", sizeof(url) - strlen(url) - 1);
		append_escaped(url, sizeof(url), g->cursor);
	}
	long status;
	json_t *doc = api_get(p, url, &status, err, err_size);
	if (!doc)
		return -1;
	json_t *items = json_object_get(doc, g->key);
	const char *next = json_string_value(json_object_get(doc, "cursor"));
	json_decref(g->items);
	g->items = json_is_array(items) ? json_incref(items) : json_array();
	free(g->next);
	g->next = next && *next ? strdup(next) : NULL;
	g->loaded = 1;
	json_decref(doc);
	return 0;
}

static int expand_user(struct em_pull *p, json_t *user, char *err, size_t err_size)
{
	const char *name = json_string_value(json_object_get(user, "username"));
	if (!name) {
		snprintf(err, err_size, "GET /users: an entity without username");
		return -1;
	}
	char url[4096];
	long status;
	api_url(p, url, sizeof(url), "/metadata/user/", name, NULL);
	json_t *meta = api_get(p, url, &status, err, err_size);
	if (!meta && status != 404)
		return -1;
	json_t *data = json_object_get(meta, "data");
	json_object_set_new(user, "_metadata", json_is_object(data) ? json_incref(data) : json_object());
	json_decref(meta);

	api_url(p, url, sizeof(url), "/users/", name, "/contacts/users");
	json_t *contacts = api_list(p, url, "data", err, err_size);
	if (!contacts)
		return -1;
	json_object_set_new(user, "_contacts", contacts);
	api_url(p, url, sizeof(url), "/users/", name, "/blocks/users");
	json_t *blocks = api_list(p, url, "data", err, err_size);
	if (!blocks)
		return -1;
	json_object_set_new(user, "_blocks", blocks);
	snprintf(p->source_id, sizeof(p->source_id), "%s", name);
	return 0;
}

static int expand_group(struct em_pull *p, json_t *item, json_t **out, char *err, size_t err_size)
{
	const char *id = json_string_value(json_object_get(item, "groupid"));
	if (!id)
		id = json_string_value(json_object_get(item, "id"));
	if (!id) {
		snprintf(err, err_size, "GET /chatgroups: a group without groupid");
		return -1;
	}
	char url[4096];
	long status;
	api_url(p, url, sizeof(url), "/chatgroups/", id, NULL);
	json_t *detail = api_get(p, url, &status, err, err_size);
	if (!detail && status != 404)
		return -1;
	json_t *d = json_array_get(json_object_get(detail, "data"), 0);
	/* The list entry's fields, overridden by the detail's (a group deleted in
	 * between keeps the list entry). */
	json_t *g = json_deep_copy(item);
	if (json_is_object(d))
		json_object_update(g, d);
	json_decref(detail);
	json_object_set_new(g, "groupid", json_string(id));

	json_t *members = json_array();
	for (int page = 1; page <= EM_MEMBER_PAGES_MAX; page++) {
		char q[64];
		snprintf(q, sizeof(q), "/users?pagenum=%d&pagesize=%d", page, EM_MEMBER_PAGE);
		api_url(p, url, sizeof(url), "/chatgroups/", id, q);
		json_t *list = api_list(p, url, "data", err, err_size);
		if (!list) {
			json_decref(members);
			json_decref(g);
			return -1;
		}
		size_t n = json_array_size(list);
		json_array_extend(members, list);
		json_decref(list);
		if (n < EM_MEMBER_PAGE)
			break;
	}
	json_object_set_new(g, "_members", members);
	api_url(p, url, sizeof(url), "/chatgroups/", id, "/admin");
	json_t *admins = api_list(p, url, "data", err, err_size);
	if (!admins) {
		json_decref(g);
		return -1;
	}
	json_object_set_new(g, "_admins", admins);
	snprintf(p->source_id, sizeof(p->source_id), "%s", id);
	*out = g;
	return 0;
}

/* Next user or group record. Returns 1 (record), 0 (phase over), -1. */
static int next_listed(struct em_pull *p, struct em_pull_item *item, char *err, size_t err_size)
{
	struct pager *g = &p->pager;
	for (;;) {
		if (!g->loaded && pager_load(p, err, err_size) < 0)
			return -1;
		if (g->idx < json_array_size(g->items))
			break;
		if (!g->next)
			return 0;
		free(g->cursor);
		g->cursor = g->next;
		g->next = NULL;
		g->idx = 0;
		g->loaded = 0;
	}
	json_t *entry = json_array_get(g->items, g->idx);
	json_t *rec = NULL;
	if (p->phase == PH_USERS) {
		rec = json_deep_copy(entry);
		if (!rec || expand_user(p, rec, err, err_size) < 0) {
			json_decref(rec);
			return -1;
		}
	} else if (expand_group(p, entry, &rec, err, err_size) < 0)
		return -1;
	g->idx++;
	json_decref(p->data);
	p->data = rec;
	snprintf(p->origin, sizeof(p->origin), "GET %s #%zu", g->path, g->idx);
	item->stream = p->phase == PH_USERS ? "users" : "chatgroups";
	item->data = rec;
	item->source_id = p->source_id;
	item->origin = p->origin;
	return 1;
}

/* --- history files --------------------------------------------------------- */

static int load_urls(struct em_pull *p, char *err, size_t err_size)
{
	char hour[16], url[4096];
	format_hour(p->hour, hour);
	api_url(p, url, sizeof(url), "/chatmessages/", hour, NULL);
	json_t *list = api_list(p, url, "data", err, err_size);
	if (!list)
		return -1;
	p->urls = list;
	p->file = 0;
	return 0;
}

/* Downloads file p->file of the hour into a temporary file and opens it. Returns
 * 0, 1 when the download failed (p->error says why: a bad item), -1 fatal. */
static int open_download(struct em_pull *p, char *err, size_t err_size)
{
	json_t *entry = json_array_get(p->urls, p->file);
	const char *url = json_string_value(json_object_get(entry, "url"));
	char hour[16];
	format_hour(p->hour, hour);
	if (!url) {
		snprintf(p->error, sizeof(p->error), "chatmessages/%s: entry %zu has no url", hour, p->file + 1);
		return 1;
	}
	struct im_http_response resp;
	/* No app token: the signed URL points at the storage host. */
	if (http(p, "GET", url, NULL, NULL, &resp, err, err_size) < 0)
		return -1;
	if (resp.status != 200) {
		snprintf(p->error, sizeof(p->error), "chatmessages/%s: file %zu: download answered HTTP %ld", hour,
			 p->file + 1, resp.status);
		p->host->http_free(p->host->ctx, &resp);
		return 1;
	}
	const char *tmpdir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/immigrate-easemob-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	int fd = mkstemp(path);
	size_t done = 0;
	while (fd >= 0 && done < resp.body_len) {
		ssize_t w = write(fd, resp.body + done, resp.body_len - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	p->host->http_free(p->host->ctx, &resp);
	if (fd < 0 || done < resp.body_len) {
		snprintf(err, err_size, "temporary file for chatmessages/%s: %s", hour, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return -1;
	}
	close(fd);
	p->lines = em_lines_open(path, p->max_line, err, err_size);
	unlink(path); /* the reader keeps it open; nothing is left behind */
	return p->lines ? 0 : -1;
}

static int next_line(struct em_pull *p, struct em_pull_item *item, char *err, size_t err_size)
{
	char hour[16];
	while (p->hour <= p->hour_to) {
		if (!p->urls && load_urls(p, err, err_size) < 0)
			return -1;
		if (p->file >= json_array_size(p->urls)) {
			json_decref(p->urls);
			p->urls = NULL;
			p->hour += 3600;
			continue;
		}
		format_hour(p->hour, hour);
		if (!p->lines) {
			int rc = open_download(p, err, err_size);
			if (rc < 0)
				return -1;
			if (rc == 1) {
				p->file++;
				snprintf(p->origin, sizeof(p->origin), "chatmessages/%s[%zu]", hour, p->file);
				item->error = p->error;
				item->origin = p->origin;
				return EM_PULL_BAD;
			}
		}
		const char *text;
		size_t len;
		char why[512];
		int k = em_lines_next(p->lines, &text, &len, why, sizeof(why));
		if (k == EM_LINE_EOF || k == EM_LINE_ERROR) {
			uint64_t broken_at = em_lines_number(p->lines) + 1;
			close_file(p);
			p->file++;
			if (k == EM_LINE_ERROR) {
				snprintf(p->origin, sizeof(p->origin), "chatmessages/%s[%zu]:%llu", hour, p->file,
					 (unsigned long long)broken_at);
				snprintf(p->error, sizeof(p->error), "%s", why);
				item->error = p->error;
				item->origin = p->origin;
				return EM_PULL_BAD;
			}
			continue;
		}
		p->line = em_lines_number(p->lines);
		p->offset = em_lines_offset(p->lines);
		snprintf(p->origin, sizeof(p->origin), "chatmessages/%s[%zu]:%llu", hour, p->file + 1,
			 (unsigned long long)p->line);
		item->text = text;
		item->len = len;
		item->origin = p->origin;
		return k == EM_LINE_TOO_LONG ? EM_PULL_TOO_LONG : EM_PULL_LINE;
	}
	return EM_PULL_END;
}

int em_pull_next(struct em_pull *p, struct em_pull_item *item, char *err, size_t err_size)
{
	memset(item, 0, sizeof(*item));
	while (p->phase != PH_DONE) {
		if (p->phase == PH_USERS || p->phase == PH_GROUPS) {
			int rc = next_listed(p, item, err, err_size);
			if (rc < 0)
				return EM_PULL_ERROR;
			if (rc == 1)
				return EM_PULL_RECORD;
			if (p->phase == PH_USERS) {
				p->phase = PH_GROUPS;
				pager_reset(&p->pager, "/chatgroups", "data");
			} else {
				p->phase = p->has_hours ? PH_HOURS : PH_DONE;
				p->hour = p->hour_from;
			}
			continue;
		}
		int rc = next_line(p, item, err, err_size);
		if (rc != EM_PULL_END)
			return rc;
		p->phase = PH_DONE;
	}
	return EM_PULL_END;
}

json_t *em_pull_position(const struct em_pull *p)
{
	switch (p->phase) {
	case PH_USERS:
	case PH_GROUPS:
		return json_pack("{s:s, s:s?, s:I}", "phase", phase_names[p->phase], "cursor", p->pager.cursor, "index",
				 (json_int_t)p->pager.idx);
	case PH_HOURS: {
		char hour[16];
		format_hour(p->hour <= p->hour_to ? p->hour : p->hour_to + 3600, hour);
		return json_pack("{sssssIsIsI}", "phase", "hours", "hour", hour, "file", (json_int_t)p->file, "line",
				 (json_int_t)p->line, "offset", (json_int_t)p->offset);
	}
	default:
		return NULL;
	}
}

int em_pull_has_history(const struct em_pull *p)
{
	return p->has_hours;
}

int em_pull_position_is_history(const json_t *pos)
{
	const char *phase = json_string_value(json_object_get(pos, "phase"));
	return phase && strcmp(phase, "hours") == 0;
}

int em_pull_seek(struct em_pull *p, const json_t *pos, char *err, size_t err_size)
{
	close_file(p);
	json_decref(p->urls);
	p->urls = NULL;
	p->file = 0;
	if (!pos) {
		p->phase = PH_DONE;
		return 0;
	}
	const char *phase = json_string_value(json_object_get(pos, "phase"));
	if (phase && !strcmp(phase, "hours")) {
		if (!p->has_hours) {
			snprintf(err, err_size, "checkpoint: in the history of a pull without history_from/history_to");
			return -1;
		}
		p->phase = PH_HOURS;
		p->hour = p->hour_from;
		return 0;
	}
	json_t *cursor = json_object_get(pos, "cursor");
	json_t *index = json_object_get(pos, "index");
	if (!phase || (strcmp(phase, "users") && strcmp(phase, "chatgroups")) || !json_is_integer(index) ||
	    json_integer_value(index) < 0 || !(json_is_null(cursor) || json_is_string(cursor) || !cursor)) {
		snprintf(err, err_size, "checkpoint: not an easemob pull position");
		return -1;
	}
	int users = !strcmp(phase, "users");
	p->phase = users ? PH_USERS : PH_GROUPS;
	pager_reset(&p->pager, users ? "/users" : "/chatgroups", users ? "entities" : "data");
	if (json_is_string(cursor))
		p->pager.cursor = strdup(json_string_value(cursor));
	p->pager.idx = (size_t)json_integer_value(index);
	return 0;
}
