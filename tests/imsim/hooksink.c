/* A webhook receiver for the callback tests:
 *   hooksink PORT-FILE LOG-FILE [STATUS [VERDICT-FILE]]
 * Listens on 127.0.0.1 (free port, written to PORT-FILE), appends one JSON line per
 * request ({"query": {...}, "body": ...}) to LOG-FILE and answers the documented
 * {"ActionStatus":"OK",...} with HTTP STATUS (default 200). VERDICT-FILE, re-read on
 * every request, holds "CallbackCommand ErrorCode" lines: the ErrorCode answered to
 * that command (0 otherwise), so tests can make Before-callbacks refuse. Stops on
 * SIGTERM. */
#include "config.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_path, *verdict_path;
static unsigned status = 200;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

struct body {
	char *data;
	size_t len;
};

/* The ErrorCode to answer command with, from the verdict file. */
static int verdict(const char *command)
{
	FILE *f = verdict_path && command ? fopen(verdict_path, "r") : NULL;
	char name[128];
	int code = 0, c;
	while (f && fscanf(f, "%127s %d", name, &c) == 2)
		if (!strcmp(name, command))
			code = c;
	if (f)
		fclose(f);
	return code;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	json_object_set_new(cls, key, json_string(value ? value : ""));
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct body *b = *state;
	if (!b) {
		*state = b = calloc(1, sizeof *b);
		return b ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		char *d = realloc(b->data, b->len + *upload_size + 1);
		if (!d)
			return MHD_NO;
		memcpy(d + b->len, upload, *upload_size);
		b->data = d;
		b->len += *upload_size;
		b->data[b->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	json_t *query = json_object();
	MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND, add_arg, query);
	json_t *body = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
	json_t *line = json_pack("{s:o, s:o}", "query", query, "body", body ? body : json_string(b->data ? b->data : ""));
	char *text = json_dumps(line, JSON_COMPACT);
	pthread_mutex_lock(&log_lock);
	FILE *f = fopen(log_path, "a");
	if (f) {
		fprintf(f, "%s\n", text);
		fclose(f);
	}
	pthread_mutex_unlock(&log_lock);
	free(text);
	json_decref(line);
	int code = verdict(MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, "CallbackCommand"));
	char answer[128];
	snprintf(answer, sizeof answer, "{\"ActionStatus\":\"%s\",\"ErrorInfo\":\"\",\"ErrorCode\":%d}",
		 code ? "FAIL" : "OK", code);
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(answer), answer, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result res = MHD_queue_response(mc, status, r);
	MHD_destroy_response(r);
	return res;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **state, enum MHD_RequestTerminationCode tc)
{
	struct body *b = *state;
	if (b) {
		free(b->data);
		free(b);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: hooksink PORT-FILE LOG-FILE [STATUS [VERDICT-FILE]]\n");
		return 2;
	}
	log_path = argv[2];
	if (argc >= 4)
		status = (unsigned)atoi(argv[3]);
	if (argc == 5)
		verdict_path = argv[4];
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
						NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sin,
						MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "hooksink: cannot listen\n");
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", info ? info->port : 0) < 0 || fclose(f) || rename(tmp, argv[1])) {
		fprintf(stderr, "hooksink: cannot write %s\n", argv[1]);
		MHD_stop_daemon(d);
		return 1;
	}
	int sig;
	sigwait(&sigs, &sig);
	MHD_stop_daemon(d);
	return 0;
}
