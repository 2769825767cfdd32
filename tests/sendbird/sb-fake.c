/* A small fake of the Sendbird Platform API endpoints the plugin's pull mode
 * reads, serving pages cut from one JSON data file.
 *
 *   sb-fake --data FILE --port-file FILE [--log FILE]
 *
 * The Api-Token header must equal $SB_FAKE_TOKEN (else 401). Token paging uses
 * decimal offsets as tokens. Data file:
 *   {"users": [user...],
 *    "channels": [{channel..., "members": [...], "operators": [...], "messages": [...],
 *                  "fail_messages": true (403) or an HTTP status}],
 *    "blocks": {"user_id": ["blocked id", ...]}}
 * Each request line (method, path, query) is appended to --log, and a line
 * "SECRET-IN-URL" when the token shows up in a URL. Stops on SIGTERM/SIGINT. */
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *data;
static const char *token;
static FILE *log_file_fp;

struct log_ctx {
	char line[2048];
	size_t n;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct log_ctx *c = cls;
	int w = snprintf(c->line + c->n, sizeof(c->line) - c->n, "%s%s=%s", c->n ? "&" : "", key, value ? value : "");
	if (w > 0 && (size_t)w < sizeof(c->line) - c->n)
		c->n += (size_t)w;
	return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;
	MHD_add_response_header(r, "Content-Type", "application/json");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	json_decref(body);
	return rc;
}

static enum MHD_Result error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return reply(conn, status, json_pack("{s:b, s:s, s:i}", "error", 1, "message", msg, "code", 400000 + status));
}

static long arg_long(struct MHD_Connection *conn, const char *name, long dflt)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	return v && *v ? atol(v) : dflt;
}

static int arg_true(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	return v && strcmp(v, "true") == 0;
}

/* {"<key>": list[offset..offset+limit), "next": "offset+limit" or ""} */
static enum MHD_Result page(struct MHD_Connection *conn, const char *key, json_t *list)
{
	long limit = arg_long(conn, "limit", 10), off = arg_long(conn, "token", 0), i;
	json_t *out = json_array();
	char next[32] = "";
	for (i = off; i < off + limit && (size_t)i < json_array_size(list); i++)
		json_array_append(out, json_array_get(list, (size_t)i));
	if ((size_t)(off + limit) < json_array_size(list))
		snprintf(next, sizeof(next), "%ld", off + limit);
	json_decref(list);
	return reply(conn, 200, json_pack("{s:o, s:s}", key, out, "next", next));
}

static json_t *find(const char *list, const char *key, const char *value)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(data, list), i, v)
	{
		const char *s = json_string_value(json_object_get(v, key));
		if (s && strcmp(s, value) == 0)
			return v;
	}
	return NULL;
}

static enum MHD_Result channel_list(struct MHD_Connection *conn)
{
	json_t *out = json_array(), *ch;
	size_t i;
	int members = arg_true(conn, "show_member");
	const char *empty = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "show_empty");
	json_array_foreach(json_object_get(data, "channels"), i, ch)
	{
		json_t *c;
		if (empty && strcmp(empty, "false") == 0 && json_array_size(json_object_get(ch, "messages")) == 0)
			continue;
		c = json_deep_copy(ch);
		json_object_del(c, "messages");
		json_object_del(c, "operators");
		json_object_del(c, "fail_messages");
		if (!members)
			json_object_del(c, "members");
		json_array_append_new(out, c);
	}
	return page(conn, "channels", out);
}

static enum MHD_Result messages(struct MHD_Connection *conn, json_t *ch)
{
	json_int_t ts = arg_long(conn, "message_ts", 0);
	long next = arg_long(conn, "next_limit", 15), prev = arg_long(conn, "prev_limit", 15);
	int include = arg_true(conn, "include");
	json_t *out = json_array(), *m;
	size_t i;
	if (json_is_true(json_object_get(ch, "fail_messages"))) {
		json_decref(out);
		return error(conn, 403, "Forbidden for this channel.");
	}
	if (json_is_integer(json_object_get(ch, "fail_messages"))) {
		json_decref(out);
		return error(conn, (unsigned)json_integer_value(json_object_get(ch, "fail_messages")), "Failing.");
	}
	if (prev != 0) {
		json_decref(out);
		return error(conn, 400, "the fake serves prev_limit=0 only");
	}
	json_array_foreach(json_object_get(ch, "messages"), i, m)
	{
		json_int_t t = json_integer_value(json_object_get(m, "created_at"));
		if ((t > ts || (include && t == ts)) && (long)json_array_size(out) < next)
			json_array_append(out, m);
	}
	return reply(conn, 200, json_pack("{s:o}", "messages", out));
}

static enum MHD_Result blocks(struct MHD_Connection *conn, const char *user)
{
	json_t *ids = json_object_get(json_object_get(data, "blocks"), user), *out = json_array(), *id;
	size_t i;
	json_array_foreach(ids, i, id)
	{
		json_t *u = find("users", "user_id", json_string_value(id));
		json_array_append_new(out, u ? json_deep_copy(u) : json_pack("{s:O}", "user_id", id));
	}
	return page(conn, "users", out);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Api-Token");
	struct log_ctx q = {.n = 0};
	char chan[512], rest[64];

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
	if (log_file_fp) {
		fprintf(log_file_fp, "%s %s?%s\n", method, url, q.line);
		if (token && (strstr(url, token) || strstr(q.line, token)))
			fprintf(log_file_fp, "SECRET-IN-URL\n");
		fflush(log_file_fp);
	}
	if (strcmp(method, "GET") != 0)
		return error(conn, 405, "GET only");
	if (!auth || !token || strcmp(auth, token) != 0)
		return error(conn, 401, "Invalid value: \"Api-Token\".");
	if (strcmp(url, "/v3/users") == 0)
		return page(conn, "users", json_incref(json_object_get(data, "users")));
	if (strcmp(url, "/v3/group_channels") == 0)
		return channel_list(conn);
	/* The path arrives unescaped and a channel_url may hold '/': the last
	 * segment is the resource, everything before it the channel. */
	if (strncmp(url, "/v3/group_channels/", 19) == 0 && strrchr(url, '/') > url + 19 &&
	    strlen(url) - 19 < sizeof(chan)) {
		const char *slash = strrchr(url, '/');
		snprintf(chan, sizeof(chan), "%.*s", (int)(slash - url - 19), url + 19);
		snprintf(rest, sizeof(rest), "%s", slash + 1);
	} else {
		chan[0] = '\0';
	}
	if (*chan) {
		json_t *ch = find("channels", "channel_url", chan);
		if (!ch)
			return error(conn, 400, "Channel not found.");
		if (strcmp(rest, "members") == 0)
			return page(conn, "members", json_incref(json_object_get(ch, "members")));
		if (strcmp(rest, "operators") == 0)
			return page(conn, "operators", json_incref(json_object_get(ch, "operators")));
		if (strcmp(rest, "messages") == 0)
			return messages(conn, ch);
	}
	if (sscanf(url, "/v3/users/%511[^/]/%63s", chan, rest) == 2 && strcmp(rest, "block") == 0)
		return blocks(conn, chan);
	return error(conn, 404, "Not found.");
}

int main(int argc, char **argv)
{
	const char *data_file = NULL, *port_file = NULL, *log_file = NULL;
	struct MHD_Daemon *d;
	struct sockaddr_in loopback = {.sin_family = AF_INET, .sin_port = 0};
	const union MHD_DaemonInfo *info;
	json_error_t jerr;
	sigset_t set;
	int i, sig;
	FILE *f;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--data") == 0)
			data_file = argv[i + 1];
		else if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			log_file = argv[i + 1];
	}
	if (!data_file || !port_file) {
		fprintf(stderr, "usage: sb-fake --data FILE --port-file FILE [--log FILE]\n");
		return 2;
	}
	if (!(data = json_load_file(data_file, 0, &jerr))) {
		fprintf(stderr, "sb-fake: %s:%d: %s\n", data_file, jerr.line, jerr.text);
		return 1;
	}
	token = getenv("SB_FAKE_TOKEN");
	if (log_file && !(log_file_fp = fopen(log_file, "a"))) {
		perror(log_file);
		return 1;
	}
	loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&loopback, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "sb-fake: cannot start the server\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !(f = fopen(port_file, "w"))) {
		MHD_stop_daemon(d);
		return 1;
	}
	fprintf(f, "%u\n", (unsigned)info->port);
	fclose(f);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	json_decref(data);
	if (log_file_fp)
		fclose(log_file_fp);
	return 0;
}
