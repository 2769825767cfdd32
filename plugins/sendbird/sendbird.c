/* The Sendbird source plugin: descriptor, option checking and dispatch to the
 * export-file reader or the Platform API reader.
 *
 *   source = { plugin = "sendbird", path = "export.zip" }            -- or a directory, or a list
 *   source = { plugin = "sendbird", app_id = "...", api_token_env = "SENDBIRD_API_TOKEN" }
 */
#include "sendbird_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sb_mode { SB_EXPORT, SB_PULL };

struct sb_state {
	enum sb_mode mode;
	struct sb_export *x;
	struct sb_pull *p;
};

static const char *const export_keys[] = {"plugin", "path", "max_record_bytes", NULL};
static const char *const pull_keys[] = {"plugin",       "app_id",         "api_token_env", "api_token_file",
					"api_base",     "page_size",      "rate_per_second", "messages_from",
					"messages_to",  "include_blocks", NULL};

static int listed(const char *const *keys, const char *key)
{
	for (; *keys; keys++)
		if (strcmp(*keys, key) == 0)
			return 1;
	return 0;
}

const char *sb_record_id(const char *stream, const json_t *rec, char *buf, size_t size)
{
	const json_t *v = NULL;
	if (strcmp(stream, SB_STREAM_USERS) == 0)
		v = json_object_get(rec, "user_id");
	else if (strcmp(stream, SB_STREAM_CHANNELS) == 0)
		v = json_object_get(rec, "channel_url");
	else if (strcmp(stream, SB_STREAM_MESSAGES) == 0)
		v = json_object_get(rec, "message_id");
	else if (strcmp(stream, SB_STREAM_BLOCKS) == 0) {
		const char *a = json_string_value(json_object_get(rec, "blocker_id"));
		const char *b = json_string_value(json_object_get(rec, "blocked_id"));
		if (!a || !b)
			return NULL;
		snprintf(buf, size, "%s/%s", a, b);
		return buf;
	}
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		return NULL;
	return buf;
}

static int sb_open(const struct im_host *host, const json_t *options, const char *checkpoint, void **state,
		   char *err, size_t err_size)
{
	struct sb_state *st;
	json_t *ckpt = NULL;
	const char *key, *mode_name;
	json_t *v;
	int pull, rc;

	*state = NULL;
	if (!host || !json_is_object(options)) {
		snprintf(err, err_size, "source: expected a table of options");
		return IM_SOURCE_ERROR;
	}
	pull = json_object_get(options, "app_id") != NULL;
	if (pull && json_object_get(options, "path")) {
		snprintf(err, err_size, "source: give either path (export files) or app_id (Platform API), not both");
		return IM_SOURCE_ERROR;
	}
	if (!pull && !json_object_get(options, "path")) {
		snprintf(err, err_size, "source: path (a Sendbird export zip or directory) or app_id is required");
		return IM_SOURCE_ERROR;
	}
	json_object_foreach((json_t *)options, key, v) {
		if (!listed(pull ? pull_keys : export_keys, key)) {
			snprintf(err, err_size, "source.%s: unknown option for the sendbird plugin (%s mode)", key,
				 pull ? "pull" : "export");
			return IM_SOURCE_ERROR;
		}
	}
	if (checkpoint) {
		json_error_t jerr;
		ckpt = json_loads(checkpoint, 0, &jerr);
		mode_name = json_string_value(json_object_get(ckpt, "mode"));
		if (!ckpt || !mode_name || strcmp(mode_name, pull ? "pull" : "export") != 0) {
			snprintf(err, err_size, "checkpoint: not a sendbird %s checkpoint", pull ? "pull" : "export");
			json_decref(ckpt);
			return IM_SOURCE_ERROR;
		}
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, err_size, "out of memory");
		json_decref(ckpt);
		return IM_SOURCE_ERROR;
	}
	st->mode = pull ? SB_PULL : SB_EXPORT;
	rc = pull ? sb_pull_open(host, options, ckpt, &st->p, err, err_size)
		  : sb_export_open(host, options, ckpt, &st->x, err, err_size);
	json_decref(ckpt);
	if (rc != IM_SOURCE_OK) {
		free(st);
		return rc;
	}
	*state = st;
	return IM_SOURCE_OK;
}

static int sb_next(void *state, struct im_record *out, char *err, size_t err_size)
{
	struct sb_state *st = state;
	if (!st) {
		snprintf(err, err_size, "not open");
		return IM_SOURCE_ERROR;
	}
	return st->mode == SB_PULL ? sb_pull_next(st->p, out, err, err_size)
				   : sb_export_next(st->x, out, err, err_size);
}

static char *sb_checkpoint(void *state)
{
	struct sb_state *st = state;
	json_t *c;
	char *s;
	if (!st)
		return NULL;
	c = st->mode == SB_PULL ? sb_pull_checkpoint(st->p) : sb_export_checkpoint(st->x);
	if (!c)
		return NULL;
	s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(c);
	return s;
}

static int sb_estimate(void *state, json_t **counts, char *err, size_t err_size)
{
	struct sb_state *st = state;
	if (!st) {
		snprintf(err, err_size, "not open");
		return IM_SOURCE_ERROR;
	}
	return st->mode == SB_PULL ? sb_pull_estimate(st->p, counts, err, err_size)
				   : sb_export_estimate(st->x, counts, err, err_size);
}

static void sb_close(void *state)
{
	struct sb_state *st = state;
	if (!st)
		return;
	sb_export_close(st->x);
	sb_pull_close(st->p);
	free(st);
}

static const char *const sb_streams[] = {SB_STREAM_USERS, SB_STREAM_CHANNELS, SB_STREAM_MESSAGES, SB_STREAM_BLOCKS,
					 NULL};

static const struct im_source sb_source = {
	.size = sizeof(struct im_source),
	.abi = IMMIGRATE_SOURCE_ABI,
	.name = "sendbird",
	.version = "1.0.0",
	.description = "Sendbird: data export files (zip or directory) or the Platform API",
	.streams = sb_streams,
	.capabilities = IM_SOURCE_CAP_READ | IM_SOURCE_CAP_ESTIMATE | IM_SOURCE_CAP_PULL,
	.open = sb_open,
	.next = sb_next,
	.checkpoint = sb_checkpoint,
	.close = sb_close,
	.estimate = sb_estimate,
};

const struct im_source *IMMIGRATE_SOURCE_ENTRY(void)
{
	return &sb_source;
}
