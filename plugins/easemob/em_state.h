/* The Easemob plugin's state, shared by its option parsing (em_options.c) and
 * its reading (easemob.c). Internal to the plugin. */
#ifndef EM_STATE_H
#define EM_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <immigrate/source.h>

#include "em_inputs.h"
#include "em_lines.h"
#include "em_pull.h"
#include "em_record.h"
#include "em_seen.h"

#define EM_MAX_LINE_DEFAULT (1024u * 1024)
#define EM_MAX_LINE_MIN 1024u
#define EM_MAX_LINE_MAX (64u * 1024 * 1024)
#define EM_RAW_MAX 2048 /* bytes of a bad line kept in its record */
#define EM_SECRET_MAX 4096
/* Easemob retries a failed callback once, at once: an older one is a replay. */
#define EM_WEBHOOK_MAX_AGE_DEFAULT 300

struct em_state {
	const struct im_host *host;
	struct em_input_list inputs;
	char *appkey;
	char *secret;
	size_t max_line;
	struct em_seen *seen;     /* messages yielded (or passed over on resume) */
	struct em_seen *recalled; /* msg_ids recalled somewhere in the archive */
	struct em_pull *pull;     /* REST pull, read before the files; NULL: none */
	int pull_done;

	size_t input;             /* current input; inputs.n when done */
	struct em_lines *lines;   /* reader of inputs.v[input], opened lazily */
	uint64_t offset, line;    /* consumed position within the current input */

	/* The record last produced; valid until the next call. */
	json_t *data;
	char origin[4096 + 32];
	char source_id[EM_ID_MAX];
	char error[512];
	char *raw;
	const char *out_stream;

	uint64_t produced, bad, duplicates, skipped;
	int opened; /* open() succeeded: close() reports the counters */
	int64_t webhook_max_age; /* seconds a webhook's timestamp may lag or lead */
};

/* Validates the options (unknown keys refused by name) and fills s: inputs,
 * appkey, callback secret, max_line, and the pull (s->pull) when rest_url is
 * given. s->host must be set. Returns 0, or -1 with err naming the option.
 * Secrets are read from the environment or a file, never from the options. */
int em_options_parse(struct em_state *s, const json_t *opts, char *err, size_t err_size);

/* webhook() of the descriptor (em_webhook.c). */
int em_webhook(void *state, const struct im_webhook_request *req, json_t **records, char *err, size_t err_size);

#endif
