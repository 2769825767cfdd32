/* immigrate-imsim: a local emulator of the Tencent Cloud IM REST API, for tests,
 * demos and migration rehearsals. See immigrate-imsim(1). */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "server.h"
#include "sim.h"
#include "state.h"

/* Written to a temporary name and renamed, so a reader never sees a partial number. */
static int write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	int bad = fprintf(f, "%u\n", port) < 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int load_secrets(struct sim *sim)
{
	char err[512];
	if (im_secret_load_file(sim->opt.key_file, &sim->key, &sim->key_len, err, sizeof err)) {
		im_error("%s", err);
		return -1;
	}
	if (sim->opt.callback_token_file) {
		if (im_secret_load_file(sim->opt.callback_token_file, &sim->callback_token, &sim->callback_token_len,
					err, sizeof err)) {
			im_error("%s", err);
			return -1;
		}
	} else if (sim->opt.callback_url &&
		   im_secret_load_env("IMSIM_CALLBACK_TOKEN", &sim->callback_token, &sim->callback_token_len) < 0) {
		im_error("out of memory");
		return -1;
	}
	return 0;
}

static void sim_free(struct sim *sim)
{
	ratelimit_free(sim->limits);
	stats_free(&sim->stats);
	sqlite3_close(sim->db);
	im_secret_free(sim->key, sim->key_len);
	im_secret_free(sim->callback_token, sim->callback_token_len);
	pthread_cond_destroy(&sim->stop_cond);
	pthread_mutex_destroy(&sim->lock);
}

int main(int argc, char **argv)
{
	im_log_set_program("immigrate-imsim");
	struct sim sim = {0};
	int r = sim_options_parse(argc, argv, &sim.opt, &sim.rules);
	if (r)
		return r > 0 ? 0 : 2;
	if (sim.opt.verbose > 1)
		im_log_set_level(IM_LOG_DEBUG);
	pthread_mutex_init(&sim.lock, NULL);
	pthread_cond_init(&sim.stop_cond, NULL);

	/* Signals are taken by sigwait below, never by a connection thread. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	char err[512];
	int status = 1;
	struct server *srv = NULL;
	unsigned port = 0;
	if (faults_parse(&sim.faults, sim.opt.faults_spec, err, sizeof err)) {
		im_error("%s", err);
		status = 2;
		goto out;
	}
	if (load_secrets(&sim))
		goto out;
	if (state_open(sim.opt.state_file, &sim.db, err, sizeof err)) {
		im_error("%s", err);
		goto out;
	}
	sim.limits = ratelimit_new(sim.opt.qps_scale);
	if (!sim.limits || stats_init(&sim.stats) || curl_global_init(CURL_GLOBAL_DEFAULT)) {
		im_error("out of memory");
		goto out;
	}
	if (server_start(&sim, &srv, &port, err, sizeof err)) {
		im_error("%s", err);
		goto out_curl;
	}
	if (sim.opt.port_file && write_port_file(sim.opt.port_file, port)) {
		im_error("%s: cannot write the port file: %s", sim.opt.port_file, strerror(errno));
		goto out_server;
	}
	/* /_sim/ answers anyone who can connect: say so when that is more than this host. */
	if (strncmp(sim.opt.listen_host, "127.", 4) && strcmp(sim.opt.listen_host, "localhost") &&
	    strcmp(sim.opt.listen_host, "::1") &&
	    strcmp(sim.opt.listen_host, "[::1]"))
		im_warn("listening on %s, not loopback: /_sim/ (state dump, simulated sends) needs no credentials",
			sim.opt.listen_host);
	im_info("serving SDKAppID %llu on %s://%s:%u (state: %s)", (unsigned long long)sim.opt.sdkappid,
		sim.opt.tls_cert ? "https" : "http", sim.opt.listen_host, port,
		sim.opt.state_file ? sim.opt.state_file : "in memory");
	int sig = 0;
	sigwait(&sigs, &sig);
	im_info("stopping on signal %d", sig);
	status = 0;
out_server:
	server_stop(srv);
out_curl:
	curl_global_cleanup();
out:
	sim_free(&sim);
	return status;
}
