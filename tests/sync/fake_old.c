/* Test helper: a fake old chat system receiving the sync daemon's deliveries.
 *
 *   fake_old --port-file F --secret-file F --log F
 *
 * POST /deliver: checks X-Immigrate-Timestamp/-Signature (HMAC-SHA256 of
 * ts "." body); a bad signature is answered 401 and logged to F.rejected. While
 * failing (see /_ctl/fail) answers 503. Otherwise appends the body as one line to
 * the log and answers {"id":"old-N"} with N counting deliveries from 1.
 * POST /_ctl/fail with body N: answer 503 to the next N deliveries.
 * Listens on 127.0.0.1, port 0 (written to the port file). Stops on SIGTERM. */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

static char secret[4096];
static size_t secret_len;
static const char *log_path;
static int fail_next;
static int delivered;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct body {
	char *p;
	size_t n;
};

static int hmac_hex(const char *ts, const char *body, size_t len, char out[65])
{
	unsigned char md[32];
	size_t mdl = 0;
	char digest[] = "SHA256";
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
	int ok = c && EVP_MAC_init(c, (unsigned char *)secret, secret_len, p) == 1 &&
		 EVP_MAC_update(c, (const unsigned char *)ts, strlen(ts)) == 1 &&
		 EVP_MAC_update(c, (const unsigned char *)".", 1) == 1 &&
		 EVP_MAC_update(c, (const unsigned char *)body, len) == 1 && EVP_MAC_final(c, md, &mdl, 32) == 1;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	for (int i = 0; ok && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return ok ? 0 : -1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void append(const char *suffix, const char *body, size_t n)
{
	char path[4200];
	snprintf(path, sizeof path, "%s%s", log_path, suffix);
	FILE *f = fopen(path, "a");
	if (f) {
		fwrite(body, 1, n, f);
		fputc('\n', f);
		fclose(f);
	}
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *data, size_t *size, void **con_cls)
{
	struct body *b = *con_cls;
	if (!b) {
		*con_cls = calloc(1, sizeof *b);
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*size) {
		char *p = realloc(b->p, b->n + *size + 1);
		if (!p)
			return MHD_NO;
		memcpy(p + b->n, data, *size);
		b->p = p;
		b->n += *size;
		b->p[b->n] = '\0';
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/_ctl/fail") == 0) {
		pthread_mutex_lock(&lock);
		fail_next = b->p ? atoi(b->p) : 0;
		pthread_mutex_unlock(&lock);
		return reply(c, 200, "{}");
	}
	if (strcmp(url, "/deliver") != 0 || strcmp(method, "POST") != 0)
		return reply(c, 404, "{}");
	const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Immigrate-Timestamp");
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Immigrate-Signature");
	char want[65];
	const char *body = b->p ? b->p : "";
	if (!ts || !sig || strncmp(sig, "sha256=", 7) != 0 || strlen(sig + 7) != 64 ||
	    hmac_hex(ts, body, b->n, want) < 0 || CRYPTO_memcmp(want, sig + 7, 64) != 0) {
		append(".rejected", body, b->n);
		return reply(c, 401, "{\"error\":\"bad signature\"}");
	}
	pthread_mutex_lock(&lock);
	if (fail_next > 0) {
		fail_next--;
		pthread_mutex_unlock(&lock);
		return reply(c, 503, "{\"error\":\"try later\"}");
	}
	int n = ++delivered;
	append("", body, b->n);
	pthread_mutex_unlock(&lock);
	char out[64];
	snprintf(out, sizeof out, "{\"id\":\"old-%d\"}", n);
	return reply(c, 200, out);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct body *b = *con_cls;
	if (b) {
		free(b->p);
		free(b);
	}
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *secret_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port-file"))
			port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--secret-file"))
			secret_file = argv[i + 1];
		else if (!strcmp(argv[i], "--log"))
			log_path = argv[i + 1];
	}
	if (!port_file || !secret_file || !log_path) {
		fprintf(stderr, "usage: fake_old --port-file F --secret-file F --log F\n");
		return 2;
	}
	FILE *f = fopen(secret_file, "rb");
	if (!f)
		return 2;
	secret_len = fread(secret, 1, sizeof secret - 1, f);
	fclose(f);
	while (secret_len && (secret[secret_len - 1] == '\n' || secret[secret_len - 1] == '\r'))
		secret_len--;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(0x7f000001);
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handler, NULL,
						MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, completed,
						NULL, MHD_OPTION_END);
	if (!d)
		return 1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
	f = fopen(tmp, "w");
	if (!f)
		return 1;
	fprintf(f, "%u\n", info->port);
	fclose(f);
	rename(tmp, port_file);
	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
