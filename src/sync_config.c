/* Parsing the job's `sync` table, see sync_config.h. */
#include "config.h"

#include "sync_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

static char *resolve(const char *base_dir, const char *p)
{
	if (p[0] == '/' || !base_dir || !*base_dir)
		return strdup(p);
	size_t n = strlen(base_dir) + strlen(p) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", base_dir, p);
	return s;
}

static int get_string(const json_t *v, const char *key, const char **out, char *err, size_t err_size)
{
	if (!json_is_string(v)) {
		snprintf(err, err_size, "sync.%s: expected a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int get_int(const json_t *v, const char *key, long long lo, long long hi, long long *out, char *err,
		   size_t err_size)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, err_size, "sync.%s: expected an integer between %lld and %lld", key, lo, hi);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int get_bool(const json_t *v, const char *key, int *out, char *err, size_t err_size)
{
	if (!json_is_boolean(v)) {
		snprintf(err, err_size, "sync.%s: expected true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int parse_listen(const char *s, struct im_sync_config *cfg, char *err, size_t err_size)
{
	const char *colon;
	size_t hlen;
	const char *host = s;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			goto bad;
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - s);
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535 || hlen == 0)
		goto bad;
	free(cfg->listen_host);
	cfg->listen_host = strndup(host, hlen);
	cfg->port = (int)port;
	return cfg->listen_host ? 0 : -1;
bad:
	snprintf(err, err_size, "sync.listen: expected ADDRESS:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)");
	return -1;
}

int im_sync_config_parse(const json_t *sync, const char *base_dir, struct im_sync_config *cfg, char *err,
			 size_t err_size)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->listen_host = strdup("127.0.0.1");
	cfg->port = 8080;
	cfg->callback_window = 60;
	cfg->max_body = 1048576;
	cfg->max_connections = 1024;
	cfg->connection_timeout = 30;
	cfg->fsync = 1;
	cfg->ack_deadline_ms = 1800;
	cfg->batch_max = 4096;
	cfg->max_attempts = 10;
	cfg->retry_base_ms = 500;
	cfg->retry_max_ms = 60000;
	cfg->history_wait_ms = 2000;
	cfg->old_to_new = cfg->new_to_old = 1;
	cfg->deliver = 1;
	cfg->concurrency = 32;
	cfg->deliver_workers = 4;
	cfg->retention_hours = 168;
	if (!cfg->listen_host) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	const char *token_file = NULL, *token = NULL;
	if (sync && !json_is_object(sync)) {
		snprintf(err, err_size, "sync: expected a table");
		return -1;
	}
	const char *key;
	json_t *v;
	long long n;
	json_object_foreach((json_t *)sync, key, v) {
		const char *s;
		if (strcmp(key, "listen") == 0) {
			if (get_string(v, key, &s, err, err_size) < 0 || parse_listen(s, cfg, err, err_size) < 0)
				return -1;
		} else if (strcmp(key, "port_file") == 0 || strcmp(key, "tls_cert") == 0 ||
			   strcmp(key, "tls_key") == 0) {
			if (get_string(v, key, &s, err, err_size) < 0)
				return -1;
			char **dst = key[0] == 'p' ? &cfg->port_file : key[4] == 'c' ? &cfg->tls_cert : &cfg->tls_key;
			free(*dst);
			if (!(*dst = resolve(base_dir, s)))
				return -1;
		} else if (strcmp(key, "callback_token_file") == 0) {
			if (get_string(v, key, &token_file, err, err_size) < 0)
				return -1;
		} else if (strcmp(key, "callback_token") == 0) {
			if (get_string(v, key, &token, err, err_size) < 0)
				return -1;
		} else if (strcmp(key, "callback_window") == 0) {
			if (get_int(v, key, 1, 3600, &n, err, err_size) < 0)
				return -1;
			cfg->callback_window = (int)n;
		} else if (strcmp(key, "max_body_bytes") == 0) {
			if (get_int(v, key, 1024, 64LL << 20, &n, err, err_size) < 0)
				return -1;
			cfg->max_body = (size_t)n;
		} else if (strcmp(key, "max_connections") == 0) {
			if (get_int(v, key, 1, 100000, &n, err, err_size) < 0)
				return -1;
			cfg->max_connections = (unsigned)n;
		} else if (strcmp(key, "connection_timeout") == 0) {
			if (get_int(v, key, 1, 3600, &n, err, err_size) < 0)
				return -1;
			cfg->connection_timeout = (unsigned)n;
		} else if (strcmp(key, "ack_deadline_ms") == 0) {
			if (get_int(v, key, 10, 600000, &n, err, err_size) < 0)
				return -1;
			cfg->ack_deadline_ms = (long)n;
		} else if (strcmp(key, "fsync") == 0) {
			if (get_bool(v, key, &cfg->fsync, err, err_size) < 0)
				return -1;
		} else if (strcmp(key, "concurrency") == 0) {
			if (get_int(v, key, 1, 256, &n, err, err_size) < 0)
				return -1;
			cfg->concurrency = (int)n;
		} else if (strcmp(key, "deliver_workers") == 0) {
			if (get_int(v, key, 1, 64, &n, err, err_size) < 0)
				return -1;
			cfg->deliver_workers = (int)n;
		} else if (strcmp(key, "retention_hours") == 0) {
			if (get_int(v, key, 1, 24 * 3650, &n, err, err_size) < 0)
				return -1;
			cfg->retention_hours = (long)n;
		} else if (strcmp(key, "deliver") == 0) {
			if (get_bool(v, key, &cfg->deliver, err, err_size) < 0)
				return -1;
		} else if (strcmp(key, "batch_max") == 0) {
			if (get_int(v, key, 1, 100000, &n, err, err_size) < 0)
				return -1;
			cfg->batch_max = (size_t)n;
		} else if (strcmp(key, "max_attempts") == 0) {
			if (get_int(v, key, 1, 1000, &n, err, err_size) < 0)
				return -1;
			cfg->max_attempts = (int)n;
		} else if (strcmp(key, "retry_base_ms") == 0) {
			if (get_int(v, key, 1, 3600000, &n, err, err_size) < 0)
				return -1;
			cfg->retry_base_ms = (long)n;
		} else if (strcmp(key, "retry_max_ms") == 0) {
			if (get_int(v, key, 1, 86400000, &n, err, err_size) < 0)
				return -1;
			cfg->retry_max_ms = (long)n;
		} else if (strcmp(key, "history_wait_ms") == 0) {
			if (get_int(v, key, 1, 3600000, &n, err, err_size) < 0)
				return -1;
			cfg->history_wait_ms = (long)n;
		} else if (strcmp(key, "directions") == 0) {
			if (!json_is_object(v)) {
				snprintf(err, err_size, "sync.directions: expected a table");
				return -1;
			}
			const char *dk;
			json_t *dv;
			json_object_foreach(v, dk, dv) {
				int *dst = strcmp(dk, "old_to_new") == 0   ? &cfg->old_to_new
					   : strcmp(dk, "new_to_old") == 0 ? &cfg->new_to_old
									   : NULL;
				if (!dst) {
					snprintf(err, err_size, "sync.directions.%s: unknown key (old_to_new, new_to_old)",
						 dk);
					return -1;
				}
				if (get_bool(dv, dk, dst, err, err_size) < 0)
					return -1;
			}
		} else {
			snprintf(err, err_size, "sync.%s: unknown key", key);
			return -1;
		}
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		snprintf(err, err_size, "sync.tls_cert and sync.tls_key: give both or neither");
		return -1;
	}
	if (cfg->retry_max_ms < cfg->retry_base_ms)
		cfg->retry_max_ms = cfg->retry_base_ms;
	if (token_file) {
		char *path = resolve(base_dir, token_file);
		int rc = path ? im_secret_load_file(path, &cfg->callback_token, &cfg->callback_token_len, err,
						    err_size)
			      : -1;
		free(path);
		if (rc < 0)
			return -1;
	} else if (token) {
		cfg->callback_token_len = strlen(token);
		if (!(cfg->callback_token = strdup(token)))
			return -1;
	} else if (im_secret_load_env("IMMIGRATE_CALLBACK_TOKEN", &cfg->callback_token,
				      &cfg->callback_token_len) != 0 &&
		   cfg->new_to_old) {
		snprintf(err, err_size,
			 "sync: no Tencent callback token (set sync.callback_token_file, sync.callback_token or "
			 "$IMMIGRATE_CALLBACK_TOKEN, or disable sync.directions.new_to_old)");
		return -1;
	}
	return 0;
}

void im_sync_config_free(struct im_sync_config *cfg)
{
	free(cfg->listen_host);
	free(cfg->port_file);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	im_secret_free(cfg->callback_token, cfg->callback_token_len);
	memset(cfg, 0, sizeof *cfg);
}
