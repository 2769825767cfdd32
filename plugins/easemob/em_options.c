/* Option parsing of the Easemob plugin (see em_state.h and doc/easemob.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "em_state.h"

static const char *const em_option_names[] = {
	"history",	  "callbacks",	    "callback_secret_env", "callback_secret_file", "appkey",
	"max_line_bytes", "rest_url",	    "client_id",	   "client_secret_env",	   "client_secret_file",
	"history_from",	  "history_to",	    "page_size",	   "rate_per_second",	   "webhook_max_age",
	NULL};

/* --- options ------------------------------------------------------------- */
static int add_paths(struct em_state *s, const json_t *opts, const char *key, enum em_input_kind kind,
		     char *err, size_t err_size)
{
	const json_t *v = json_object_get(opts, key);
	char why[4400];
	if (!v)
		return 0;
	if (json_is_string(v)) {
		if (em_inputs_add(&s->inputs, json_string_value(v), kind, why, sizeof(why)) < 0) {
			snprintf(err, err_size, "option %s: %s", key, why);
			return -1;
		}
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		snprintf(err, err_size, "option %s: expected a path or a non-empty array of paths", key);
		return -1;
	}
	size_t i;
	const json_t *p;
	json_array_foreach(v, i, p) {
		if (!json_is_string(p)) {
			snprintf(err, err_size, "option %s[%zu]: expected a path string", key, i + 1);
			return -1;
		}
		if (em_inputs_add(&s->inputs, json_string_value(p), kind, why, sizeof(why)) < 0) {
			snprintf(err, err_size, "option %s[%zu]: %s", key, i + 1, why);
			return -1;
		}
	}
	return 0;
}

static char *trimmed_copy(const char *text, size_t len)
{
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
			   text[len - 1] == '\t'))
		len--;
	return len ? strndup(text, len) : NULL;
}

static int load_secret(struct em_state *s, const json_t *opts, char *err, size_t err_size)
{
	const json_t *env = json_object_get(opts, "callback_secret_env");
	const json_t *file = json_object_get(opts, "callback_secret_file");
	if (env && file) {
		snprintf(err, err_size, "options callback_secret_env and callback_secret_file: give only one");
		return -1;
	}
	if (env) {
		const char *name = json_string_value(env);
		const char *value = name ? getenv(name) : NULL;
		if (!name || !*name) {
			snprintf(err, err_size, "option callback_secret_env: expected an environment variable name");
			return -1;
		}
		if (!value || !*value) {
			snprintf(err, err_size, "option callback_secret_env: environment variable %.100s is not set",
				 name);
			return -1;
		}
		s->secret = trimmed_copy(value, strlen(value));
	} else if (file) {
		const char *path = json_string_value(file);
		if (!path) {
			snprintf(err, err_size, "option callback_secret_file: expected a path");
			return -1;
		}
		FILE *f = fopen(path, "rb");
		if (!f) {
			snprintf(err, err_size, "option callback_secret_file: %s: %s", path, strerror(errno));
			return -1;
		}
		char buf[EM_SECRET_MAX];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		s->secret = trimmed_copy(buf, n);
		OPENSSL_cleanse(buf, sizeof(buf));
	} else
		return 0;
	if (!s->secret) {
		snprintf(err, err_size, "option %s: the callback secret is empty",
			 env ? "callback_secret_env" : "callback_secret_file");
		return -1;
	}
	return 0;
}

/* The client secret of a pull, from an environment variable or a file. Returns
 * a malloc'd secret, or NULL with err filled. */
static char *read_client_secret(const json_t *opts, char *err, size_t err_size)
{
	const char *env = json_string_value(json_object_get(opts, "client_secret_env"));
	const char *file = json_string_value(json_object_get(opts, "client_secret_file"));
	char *secret = NULL;
	if ((env != NULL) == (file != NULL)) {
		snprintf(err, err_size, "option rest_url: give exactly one of client_secret_env and client_secret_file");
		return NULL;
	}
	if (env) {
		const char *v = getenv(env);
		if (!v || !*v) {
			snprintf(err, err_size, "option client_secret_env: environment variable %.100s is not set", env);
			return NULL;
		}
		secret = trimmed_copy(v, strlen(v));
	} else {
		FILE *f = fopen(file, "rb");
		if (!f) {
			snprintf(err, err_size, "option client_secret_file: %s: %s", file, strerror(errno));
			return NULL;
		}
		char buf[EM_SECRET_MAX];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		secret = trimmed_copy(buf, n);
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	if (!secret)
		snprintf(err, err_size, "option %s: the client secret is empty",
			 env ? "client_secret_env" : "client_secret_file");
	return secret;
}

static int parse_pull_options(struct em_state *s, const json_t *opts, char *err, size_t err_size)
{
	static const char *const pull_only[] = {"client_id",    "client_secret_env", "client_secret_file",
						"history_from", "history_to",	     "page_size",
						"rate_per_second", NULL};
	const char *url = json_string_value(json_object_get(opts, "rest_url"));
	if (!json_object_get(opts, "rest_url")) {
		for (size_t i = 0; pull_only[i]; i++)
			if (json_object_get(opts, pull_only[i])) {
				snprintf(err, err_size, "option %s: only used with rest_url", pull_only[i]);
				return -1;
			}
		return 0;
	}
	const char *client_id = json_string_value(json_object_get(opts, "client_id"));
	if (!url || !client_id || !*client_id) {
		snprintf(err, err_size, "%s", !url ? "option rest_url: expected https://HOST/ORG_NAME/APP_NAME"
						   : "option client_id: required with rest_url");
		return -1;
	}
	const json_t *from = json_object_get(opts, "history_from"), *to = json_object_get(opts, "history_to");
	if ((from && !json_is_string(from)) || (to && !json_is_string(to)) || (!from != !to)) {
		snprintf(err, err_size, "options history_from/history_to: give both, as \"yyyyMMddHH\" strings");
		return -1;
	}
	const json_t *ps = json_object_get(opts, "page_size"), *rate = json_object_get(opts, "rate_per_second");
	if (ps && (!json_is_integer(ps) || json_integer_value(ps) < 1 || json_integer_value(ps) > 100)) {
		snprintf(err, err_size, "option page_size: expected an integer from 1 to 100");
		return -1;
	}
	if (rate && (!json_is_number(rate) || json_number_value(rate) <= 0)) {
		snprintf(err, err_size, "option rate_per_second: expected a positive number");
		return -1;
	}
	char *secret = read_client_secret(opts, err, err_size);
	if (!secret)
		return -1;
	struct em_pull_config cfg = {
		.host = s->host,
		.base_url = url,
		.client_id = client_id,
		.client_secret = secret,
		.hour_from = json_string_value(from),
		.hour_to = json_string_value(to),
		.page_size = ps ? (int)json_integer_value(ps) : 100,
		/* Easemob's documented default limit is 100 calls/s per app for most
		 * REST calls; stay well under it. */
		.rate_per_second = rate ? json_number_value(rate) : 20,
		.max_line = s->max_line,
	};
	s->pull = em_pull_new(&cfg, err, err_size);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	return s->pull ? 0 : -1;
}

int em_options_parse(struct em_state *s, const json_t *opts, char *err, size_t err_size)
{
	if (!json_is_object(opts)) {
		snprintf(err, err_size, "options: expected an object");
		return -1;
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)opts, key, v) {
		size_t i = 0;
		while (em_option_names[i] && strcmp(em_option_names[i], key) != 0)
			i++;
		if (!em_option_names[i]) {
			snprintf(err, err_size,
				 "unknown option \"%.100s\" (known: history, callbacks, callback_secret_env, "
				 "callback_secret_file, appkey, max_line_bytes, rest_url, client_id, "
				 "client_secret_env, client_secret_file, history_from, history_to, page_size, "
				 "rate_per_second, webhook_max_age)",
				 key);
			return -1;
		}
	}
	/* A sync job receives callbacks through webhook() and reads nothing: the
	 * callback secret alone is then enough. */
	if (!json_object_get(opts, "history") && !json_object_get(opts, "callbacks") &&
	    !json_object_get(opts, "rest_url") && !json_object_get(opts, "callback_secret_env") &&
	    !json_object_get(opts, "callback_secret_file")) {
		snprintf(err, err_size,
			 "options: give history and/or callbacks (a file or directory), rest_url for a pull, "
			 "or a callback secret for webhooks");
		return -1;
	}
	if (add_paths(s, opts, "history", EM_INPUT_HISTORY, err, err_size) < 0 ||
	    add_paths(s, opts, "callbacks", EM_INPUT_CALLBACKS, err, err_size) < 0)
		return -1;
	v = json_object_get(opts, "appkey");
	if (v) {
		const char *ak = json_string_value(v);
		if (!ak || !strchr(ak, '#')) {
			snprintf(err, err_size, "option appkey: expected \"org_name#app_name\"");
			return -1;
		}
		s->appkey = strdup(ak);
	}
	s->max_line = EM_MAX_LINE_DEFAULT;
	v = json_object_get(opts, "max_line_bytes");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < EM_MAX_LINE_MIN ||
		    json_integer_value(v) > EM_MAX_LINE_MAX) {
			snprintf(err, err_size, "option max_line_bytes: expected an integer from %u to %u",
				 EM_MAX_LINE_MIN, EM_MAX_LINE_MAX);
			return -1;
		}
		s->max_line = (size_t)json_integer_value(v);
	}
	s->webhook_max_age = EM_WEBHOOK_MAX_AGE_DEFAULT;
	v = json_object_get(opts, "webhook_max_age");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			snprintf(err, err_size, "option webhook_max_age: expected a number of seconds (>= 1)");
			return -1;
		}
		s->webhook_max_age = (int64_t)json_integer_value(v);
	}
	if (load_secret(s, opts, err, err_size) < 0)
		return -1;
	return parse_pull_options(s, opts, err, err_size);
}
