/* A small fake of the Easemob REST endpoints the plugin's pull mode reads,
 * answering from one JSON data file.
 *
 *   em-fake --data FILE --files-dir DIR --port-file FILE [--log FILE] [--expire-after N]
 *
 * Every path starts with /org/app. POST /org/app/token takes client_credentials
 * matching $EM_FAKE_CLIENT_ID / $EM_FAKE_CLIENT_SECRET and issues "tok-1",
 * "tok-2"...; other API calls need "Authorization: Bearer <the latest token>"
 * (401 otherwise). With --expire-after N a token stops working after N calls,
 * to exercise the refresh. Cursors are "c" + decimal offsets. Data file:
 *   {"users": [entity...], "metadata": {user: {...}}, "contacts": {user: [...]},
 *    "blocks": {user: [...]}, "groups": [{"groupid", "groupname", "owner",
 *    "detail": {...}, "members": [{"owner"|"member": u}], "admins": [...]}],
 *    "history": {"yyyyMMddHH": ["name", ...]}}
 * History URLs point at GET /files/NAME?sig=..., served from --files-dir without
 * authentication. The log gets one line per request ("METHOD PATH"), plus
 * "SECRET-IN-URL" when the client secret or a token shows up in a URL, and
 * "TOKEN-TO-STORAGE" when a file download carries an Authorization header.
 * Stops on SIGTERM/SIGINT. */
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "/org/app"

static json_t *data;
static const char *files_dir;
static FILE *log_fp;
static unsigned port;
static int token_serial;
static long calls_with_token;
static long expire_after = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* One log line: a, then " " and b when b is not NULL. */
static void log_line(const char *a, const char *b)
{
	if (!log_fp)
		return;
	pthread_mutex_lock(&lock);
	fprintf(log_fp, "%s%s%s\n", a, b ? " " : "", b ? b : "");
	fflush(log_fp);
	pthread_mutex_unlock(&lock);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, char *text, size_t len,
				  const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return reply_text(conn, status, text, strlen(text), "application/json");
}

static enum MHD_Result error(struct MHD_Connection *conn, unsigned status, const char *what)
{
	return reply(conn, status, json_pack("{ssss}", "error", what, "error_description", what));
}

static long arg_long(struct MHD_Connection *conn, const char *name, long dflt)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	return v ? atol(v) : dflt;
}

/* {key: items[offset..offset+limit), "cursor": "c<next>" while more remain}. */
static enum MHD_Result cursor_page(struct MHD_Connection *conn, const char *key, json_t *all)
{
	long limit = arg_long(conn, "limit", 10);
	const char *c = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
	long off = c && c[0] == 'c' ? atol(c + 1) : 0;
	json_t *page = json_array();
	for (long i = off; i < off + limit && i < (long)json_array_size(all); i++)
		json_array_append(page, json_array_get(all, (size_t)i));
	json_t *body = json_pack("{so}", key, page);
	if (off + limit < (long)json_array_size(all)) {
		char next[32];
		snprintf(next, sizeof(next), "c%ld", off + limit);
		json_object_set_new(body, "cursor", json_string(next));
	}
	return reply(conn, 200, body);
}

static json_t *group(const char *id)
{
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(data, "groups"), i, g) {
		if (strcmp(json_string_value(json_object_get(g, "groupid")), id) == 0)
			return g;
	}
	return NULL;
}

static enum MHD_Result serve_file(struct MHD_Connection *conn, const char *name)
{
	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"))
		log_line("TOKEN-TO-STORAGE", NULL);
	if (strchr(name, '/') || !MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sig"))
		return error(conn, 403, "bad signature");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", files_dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return error(conn, 404, "no such file");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc(n > 0 ? (size_t)n : 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return reply_text(conn, 200, buf, got, "application/octet-stream");
}

struct upload {
	char *body;
	size_t len;
};

static enum MHD_Result token(struct MHD_Connection *conn, const struct upload *up)
{
	json_t *req = up && up->body ? json_loadb(up->body, up->len, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(req, "client_id"));
	const char *secret = json_string_value(json_object_get(req, "client_secret"));
	const char *grant = json_string_value(json_object_get(req, "grant_type"));
	int good = id && secret && grant && !strcmp(grant, "client_credentials") &&
		   !strcmp(id, getenv("EM_FAKE_CLIENT_ID") ? getenv("EM_FAKE_CLIENT_ID") : "") &&
		   !strcmp(secret, getenv("EM_FAKE_CLIENT_SECRET") ? getenv("EM_FAKE_CLIENT_SECRET") : "");
	json_decref(req);
	if (!good)
		return error(conn, 401, "invalid_client");
	pthread_mutex_lock(&lock);
	char tok[32];
	snprintf(tok, sizeof(tok), "tok-%d", ++token_serial);
	calls_with_token = 0;
	pthread_mutex_unlock(&lock);
	return reply(conn, 200, json_pack("{sssis{ss}}", "access_token", tok, "expires_in", 3600, "application",
					  "uuid", "app-uuid"));
}

static int authorized(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	char want[64];
	pthread_mutex_lock(&lock);
	snprintf(want, sizeof(want), "Bearer tok-%d", token_serial);
	int ok = token_serial > 0 && h && !strcmp(h, want) && (expire_after < 0 || calls_with_token < expire_after);
	if (ok)
		calls_with_token++;
	pthread_mutex_unlock(&lock);
	return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct upload *up = *con_cls;
	if (!up) {
		up = calloc(1, sizeof(*up));
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_size) {
		char *b = realloc(up->body, up->len + *upload_size);
		memcpy(b + up->len, upload_data, *upload_size);
		up->body = b;
		up->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	log_line(method, url);
	const char *secret = getenv("EM_FAKE_CLIENT_SECRET");
	const char *query_cursor = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
	if ((secret && *secret && strstr(url, secret)) || strstr(url, "tok-") ||
	    (query_cursor && strstr(query_cursor, "tok-")))
		log_line("SECRET-IN-URL", NULL);

	if (strncmp(url, "/files/", 7) == 0)
		return serve_file(conn, url + 7);
	if (strncmp(url, PREFIX, strlen(PREFIX)) != 0)
		return error(conn, 404, "no such app");
	const char *path = url + strlen(PREFIX);
	if (!strcmp(path, "/token") && !strcmp(method, "POST"))
		return token(conn, up);
	if (!authorized(conn))
		return error(conn, 401, "unauthorized");

	char a[512], b[512];
	if (!strcmp(path, "/users"))
		return cursor_page(conn, "entities", json_object_get(data, "users"));
	if (!strcmp(path, "/chatgroups")) {
		json_t *list = json_array();
		size_t i;
		json_t *g;
		json_array_foreach(json_object_get(data, "groups"), i, g) {
			json_array_append_new(list, json_pack("{sOsOsO}", "groupid", json_object_get(g, "groupid"),
							      "groupname", json_object_get(g, "groupname"), "owner",
							      json_object_get(g, "owner")));
		}
		enum MHD_Result rc = cursor_page(conn, "data", list);
		json_decref(list);
		return rc;
	}
	if (sscanf(path, "/metadata/user/%511s", a) == 1) {
		json_t *m = json_object_get(json_object_get(data, "metadata"), a);
		return reply(conn, 200, json_pack("{so}", "data", m ? json_incref(m) : json_object()));
	}
	if (sscanf(path, "/users/%511[^/]/%511s", a, b) == 2) {
		const char *key = !strcmp(b, "contacts/users") ? "contacts" : !strcmp(b, "blocks/users") ? "blocks" : NULL;
		if (!key)
			return error(conn, 404, "not found");
		json_t *l = json_object_get(json_object_get(data, key), a);
		return reply(conn, 200, json_pack("{sosi}", "data", l ? json_incref(l) : json_array(), "count",
						  (int)json_array_size(l)));
	}
	if (sscanf(path, "/chatmessages/%511s", a) == 1) {
		json_t *names = json_object_get(json_object_get(data, "history"), a);
		if (!names)
			return error(conn, 404, "no history for that hour");
		json_t *urls = json_array();
		size_t i;
		json_t *n;
		json_array_foreach(names, i, n) {
			char u[1024];
			snprintf(u, sizeof(u), "http://127.0.0.1:%u/files/%s?sig=s%zu", port, json_string_value(n), i);
			json_array_append_new(urls, json_pack("{ss}", "url", u));
		}
		return reply(conn, 200, json_pack("{so}", "data", urls));
	}
	int n = sscanf(path, "/chatgroups/%511[^/]/%511s", a, b);
	json_t *g = n >= 1 ? group(a) : NULL;
	if (n >= 1 && !g)
		return error(conn, 404, "group not found");
	if (n == 1)
		return reply(conn, 200, json_pack("{s[O]}", "data", json_object_get(g, "detail")));
	if (n == 2 && !strcmp(b, "users")) {
		long num = arg_long(conn, "pagenum", 1), size = arg_long(conn, "pagesize", 10);
		json_t *all = json_object_get(g, "members"), *page = json_array();
		for (long i = (num - 1) * size; i < num * size && i < (long)json_array_size(all); i++)
			json_array_append(page, json_array_get(all, (size_t)i));
		return reply(conn, 200, json_pack("{so}", "data", page));
	}
	if (n == 2 && !strcmp(b, "admin"))
		return reply(conn, 200, json_pack("{sO}", "data", json_object_get(g, "admins")));
	return error(conn, 404, "not found");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;
	if (up) {
		free(up->body);
		free(up);
	}
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	const char *data_file = NULL, *port_file = NULL, *log_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--data"))
			data_file = argv[i + 1];
		else if (!strcmp(argv[i], "--files-dir"))
			files_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--port-file"))
			port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--log"))
			log_file = argv[i + 1];
		else if (!strcmp(argv[i], "--expire-after"))
			expire_after = atol(argv[i + 1]);
	}
	if (!data_file || !port_file || !files_dir) {
		fprintf(stderr, "usage: em-fake --data FILE --files-dir DIR --port-file FILE [--log FILE] "
				"[--expire-after N]\n");
		return 2;
	}
	json_error_t jerr;
	if (!(data = json_load_file(data_file, 0, &jerr))) {
		fprintf(stderr, "em-fake: %s:%d: %s\n", data_file, jerr.line, jerr.text);
		return 1;
	}
	if (log_file && !(log_fp = fopen(log_file, "a"))) {
		perror(log_file);
		return 1;
	}
	struct sockaddr_in loopback = {.sin_family = AF_INET, .sin_port = 0};
	loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
						handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&loopback,
						MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "em-fake: cannot start the server\n");
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	FILE *f;
	if (!info || !(f = fopen(port_file, "w"))) {
		MHD_stop_daemon(d);
		return 1;
	}
	port = info->port;
	fprintf(f, "%u\n", port);
	fclose(f);
	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	json_decref(data);
	if (log_fp)
		fclose(log_fp);
	return 0;
}
