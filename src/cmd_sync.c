/* immigrate sync JOB: the two-way coexistence daemon (see sync_http.h for the
 * HTTP side, outbox.h for durability, sync_deliver.h for delivery). */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "commands.h"
#include "host.h"
#include "imrecord.h"
#include "job.h"
#include "log.h"
#include "outbox.h"
#include "plugin.h"
#include "script.h"
#include "secret.h"
#include "stage.h"
#include "sync_config.h"
#include "sync_deliver.h"
#include "sync_http.h"
#include "sync_metrics.h"
#include "sync_reverse.h"
#include "tim.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: immigrate sync JOB [--set key.sub=value]... [--plugin-dir DIR] [--log-format text|json]\n"
		     "                           [--verbose]\n"
		     "Serves POST /im/callback (Tencent IM callbacks), POST /source/<plugin> (the old\n"
		     "system's webhooks), GET /healthz and GET /metrics; stores every accepted event\n"
		     "durably before answering, and delivers it to the other side. SIGTERM/SIGINT stop\n"
		     "cleanly; undelivered events are delivered on the next start.\n");
}

/* Everything the daemon holds, released in reverse order by teardown(). */
struct daemon {
	struct im_job *job;
	struct im_sync_config cfg;
	int cfg_ok;
	struct im_stage *stage;
	pthread_mutex_t stage_lock;
	struct im_outbox *outbox;
	struct im_plugin *plugin;
	const struct im_source *src;
	struct im_host *hook_host;
	void *hook_state;
	/* new -> old: one reverse script, host and plugin state per worker */
	size_t n_rev;
	struct im_host **deliver_hosts;
	void **deliver_states;
	struct im_script **reverse_scripts;
	struct im_script *map_script;
	struct im_validator *validator;
	char *key;
	size_t key_len;
	struct im_tim *tim;
	struct im_sync_metrics metrics;
	struct im_sync_deliver *deliver;
	struct im_sync_http *http;
};

static void teardown(struct daemon *d)
{
	im_sync_http_stop(d->http);     /* answers everything accepted */
	im_sync_deliver_stop(d->deliver);
	im_outbox_close(d->outbox);     /* commits the last marks */
	im_tim_free(d->tim);
	im_secret_free(d->key, d->key_len);
	im_validator_free(d->validator);
	im_script_close(d->map_script);
	for (size_t i = 0; i < d->n_rev; i++) {
		if (d->reverse_scripts)
			im_script_close(d->reverse_scripts[i]);
		if (d->src && d->deliver_states)
			d->src->close(d->deliver_states[i]);
		if (d->deliver_hosts)
			im_host_free(d->deliver_hosts[i]);
	}
	free(d->reverse_scripts);
	free(d->deliver_states);
	free(d->deliver_hosts);
	if (d->src)
		d->src->close(d->hook_state);
	im_host_free(d->hook_host);
	im_plugin_unload(d->plugin);
	im_stage_close(d->stage);
	pthread_mutex_destroy(&d->stage_lock);
	if (d->cfg_ok)
		im_sync_config_free(&d->cfg);
	im_job_free(d->job);
}

static int open_plugin_state(struct daemon *d, struct im_host **host, void **state, char *err, size_t err_size)
{
	struct im_host_config hc = {.plugin_name = d->src->name,
				    .ca_file = im_job_target_ca_file(d->job),
				    .timeout_ms = 10000,
				    .max_retries = 2};
	*host = im_host_new(&hc);
	if (!*host) {
		snprintf(err, err_size, "out of memory starting the plugin host");
		return -1;
	}
	char perr[1024] = "";
	if (d->src->open(*host, im_job_source_options(d->job), NULL, state, perr, sizeof perr) != IM_SOURCE_OK) {
		snprintf(err, err_size, "plugin %s: %s", d->src->name, perr);
		return -1;
	}
	return 0;
}

static int start(struct daemon *d, const char *plugin_dir, char *err, size_t err_size)
{
	const struct im_sync_config *cfg = &d->cfg;
	if (im_stage_open(im_job_state_path(d->job), &d->stage, err, err_size) < 0)
		return IM_EXIT_FATAL;
	struct im_outbox_config oc = {.synchronous_full = cfg->fsync, .batch_max = cfg->batch_max};
	if (im_outbox_open(im_job_state_path(d->job), &oc, &d->outbox, err, err_size) < 0)
		return IM_EXIT_FATAL;

	d->plugin = im_plugin_load(im_job_plugin(d->job), plugin_dir, err, err_size);
	if (!d->plugin)
		return IM_EXIT_USAGE;
	d->src = im_plugin_source(d->plugin);
	int want_hook = cfg->old_to_new, want_deliver = cfg->new_to_old;
	if (want_hook && !d->src->webhook) {
		snprintf(err, err_size,
			 "plugin %s has no webhook(): it cannot receive the old system's events "
			 "(set sync.directions.old_to_new = false)",
			 d->src->name);
		return IM_EXIT_USAGE;
	}
	if (want_deliver && !d->src->deliver) {
		snprintf(err, err_size,
			 "plugin %s has no deliver(): it cannot send IM events to the old system "
			 "(set sync.directions.new_to_old = false)",
			 d->src->name);
		return IM_EXIT_USAGE;
	}
	/* Two states: the HTTP thread authenticates webhooks while the delivery
	 * thread sends, and a plugin state (and its host) serves one thread. */
	if (want_hook && open_plugin_state(d, &d->hook_host, &d->hook_state, err, err_size) < 0)
		return IM_EXIT_USAGE;
	if (want_deliver) {
		d->n_rev = (size_t)cfg->deliver_workers;
		d->deliver_hosts = calloc(d->n_rev, sizeof *d->deliver_hosts);
		d->deliver_states = calloc(d->n_rev, sizeof *d->deliver_states);
		d->reverse_scripts = calloc(d->n_rev, sizeof *d->reverse_scripts);
		if (!d->deliver_hosts || !d->deliver_states || !d->reverse_scripts) {
			snprintf(err, err_size, "out of memory");
			return IM_EXIT_FATAL;
		}
		for (size_t i = 0; i < d->n_rev; i++)
			if (open_plugin_state(d, &d->deliver_hosts[i], &d->deliver_states[i], err, err_size) < 0)
				return IM_EXIT_USAGE;
	}

	struct im_script_config sc = {
		.path = im_job_script_path(d->job),
		.options = im_job_script_options(d->job),
		.stage = d->stage,
		.memory_limit = im_job_script_memory(d->job),
		.instruction_limit = im_job_script_instructions(d->job),
	};
	if (want_hook) {
		if (!im_job_has_target(d->job) || !im_job_target_endpoint(d->job) || !im_job_target_sdkappid(d->job) ||
		    !im_job_target_admin(d->job)) {
			snprintf(err, err_size, "%s: sync needs target.endpoint, target.sdkappid and target.admin",
				 im_job_path(d->job));
			return IM_EXIT_USAGE;
		}
		if (im_script_open(&sc, &d->map_script, err, err_size) < 0)
			return IM_EXIT_USAGE;
		/* target.rules apply to live records as to the bulk import. */
		if (!(d->validator = im_validator_new(im_job_rules(d->job)))) {
			snprintf(err, err_size, "out of memory");
			return IM_EXIT_FATAL;
		}
		if (im_job_target_key(d->job, &d->key, &d->key_len, err, err_size) < 0)
			return IM_EXIT_USAGE;
		struct im_tim_config tc;
		im_cmd_tim_config(d->job, d->key, d->key_len, &tc);
		tc.max_connections = cfg->concurrency;
		if (!(d->tim = im_tim_new(&tc, err, err_size)))
			return IM_EXIT_FATAL;
	}
	for (size_t i = 0; want_deliver && i < d->n_rev; i++)
		if (im_sync_reverse_open(sc.path, &sc, &d->reverse_scripts[i], err, err_size) != 0)
			return IM_EXIT_USAGE;
	if (want_deliver && !im_job_target_sdkappid(d->job)) {
		snprintf(err, err_size, "%s: sync needs target.sdkappid to check callbacks", im_job_path(d->job));
		return IM_EXIT_USAGE;
	}

	struct im_sync_deliver_params dp = {
		.cfg = cfg,
		.outbox = d->outbox,
		.metrics = &d->metrics,
		.stage = d->stage,
		.stage_lock = &d->stage_lock,
		.plugin_name = d->src->name,
		.script_path = sc.path,
		.map_script = d->map_script,
		.validator = d->validator,
		.tim = d->tim,
		.reverse_scripts = d->reverse_scripts,
		.deliver_states = d->deliver_states,
		.n_reverse = d->n_rev,
		.src = d->src,
	};
	if (!cfg->deliver)
		im_warn("sync: sync.deliver is false: events are stored and acknowledged, not delivered");
	else if (im_sync_deliver_start(&dp, &d->deliver, err, err_size) < 0)
		return IM_EXIT_FATAL;
	struct im_sync_http_params hp = {
		.cfg = cfg,
		.outbox = d->outbox,
		.metrics = &d->metrics,
		.sdkappid = im_job_target_sdkappid(d->job),
		.admin = im_job_target_admin(d->job),
		.plugin_name = d->src->name,
		.src = d->src,
		.webhook_state = d->hook_state,
	};
	if (im_sync_http_start(&hp, &d->http, err, err_size) < 0)
		return IM_EXIT_USAGE;
	im_info("sync: listening on %s:%d (%s), plugin %s, state %s; old->new %s, new->old %s%s", cfg->listen_host,
		im_sync_http_port(d->http), cfg->tls_cert ? "https" : "http", d->src->name,
		im_job_state_path(d->job), cfg->old_to_new ? "on" : "off", cfg->new_to_old ? "on" : "off",
		cfg->deliver ? "" : " (store only)");
	return IM_EXIT_OK;
}

int cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		IM_CMD_OPT_SET,
		IM_CMD_OPT_PLUGIN_DIR,
		IM_CMD_OPT_LOG_FORMAT,
		{"verbose", no_argument, NULL, 'v'},
		IM_CMD_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	struct im_cmd cmd;
	int c, rc;
	if (im_cmd_init(&cmd, "sync", usage, argc) < 0)
		return IM_EXIT_FATAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:p:f:vh", opts, NULL)) != -1) {
		if (c == 'v')
			im_log_set_level(IM_LOG_DEBUG);
		else if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
			return rc;
	}

	struct daemon d;
	memset(&d, 0, sizeof d);
	if ((rc = im_cmd_load_job(&cmd, argc, argv, &d.job)) != IM_EXIT_OK)
		return rc;
	pthread_mutex_init(&d.stage_lock, NULL);
	char err[2048] = "";
	if (im_sync_config_parse(im_job_sync(d.job), im_job_dir(d.job), &d.cfg, err, sizeof err) < 0) {
		fprintf(stderr, "immigrate sync: %s: %s\n", im_job_path(d.job), err);
		d.cfg_ok = 1;
		teardown(&d);
		return IM_EXIT_USAGE;
	}
	d.cfg_ok = 1;

	/* Every thread started from here on inherits the blocked set; the main
	 * thread alone takes the signals, with sigwait. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = start(&d, cmd.plugin_dir, err, sizeof err);
	if (rc != IM_EXIT_OK) {
		im_cmd_error(&cmd, "%s", err);
		teardown(&d);
		return rc;
	}
	int sig = 0;
	sigwait(&set, &sig);
	im_info("sync: %s received: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	teardown(&d);
	im_info("sync: stopped");
	return IM_EXIT_OK;
}
