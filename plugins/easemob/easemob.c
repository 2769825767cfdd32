/* The Easemob / Agora Chat source plugin: history files, archived callbacks and
 * a REST pull (em_pull.c, read before the files; options in em_options.c).
 *
 * Inputs (options): `history` (files downloaded from GET /chatmessages/{hour}:
 * one JSON record per line, plain or gzip, or a directory of them) and
 * `callbacks` (JSON Lines of post-send callback bodies as the customer archived
 * them). History inputs are read first, then callback inputs, each file from
 * start to end; every line is one record of one stream (see em_record.h). A line
 * that is not valid becomes a bad record naming file:line and the reason, and
 * reading goes on.
 *
 * A message seen twice (history and archive, or a retried callback) is yielded
 * once: the first copy wins; see em_seen.h for the memory this costs.
 * A recall in the archive marks the recalled message `_recalled`: recall events
 * come after their message, so the callback inputs are pre-scanned once at open()
 * for recalls (only lines containing "recall" are parsed); the set is bounded by
 * the number of recalls.
 *
 * Checkpoint: {"file":PATH,"input":I,"line":L,"offset":O}, the position just past
 * the last consumed line of input I (O in uncompressed bytes), or {"input":N} at
 * the end; during the pull {"pull": position} (em_pull.h). Resuming re-reads the inputs up to that position, processing every line
 * exactly as the first pass did but yielding nothing: this rebuilds the seen-set
 * (so deduplication decides as it would have without the interruption), checks
 * that the position is a line boundary of the same file, and needs no seen-set
 * snapshot in the token. The cost is one extra read of what was already read. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <immigrate/source.h>

#include "em_security.h"
#include "em_state.h"

static void release_record(struct em_state *s)
{
	json_decref(s->data);
	s->data = NULL;
	free(s->raw);
	s->raw = NULL;
}

static void em_close(void *state)
{
	struct em_state *s = state;
	if (!s)
		return;
	if (s->opened && s->host && s->host->log && (s->produced || s->bad || s->duplicates || s->skipped))
		s->host->log(s->host->ctx, IM_SOURCE_LOG_INFO,
			     "%llu records, %llu bad, %llu duplicate messages dropped, "
			     "%llu callbacks with nothing to migrate skipped",
			     (unsigned long long)s->produced, (unsigned long long)s->bad,
			     (unsigned long long)s->duplicates, (unsigned long long)s->skipped);
	release_record(s);
	em_lines_close(s->lines);
	em_inputs_free(&s->inputs);
	em_seen_free(s->seen);
	em_seen_free(s->recalled);
	em_pull_free(s->pull);
	if (s->secret) {
		OPENSSL_cleanse(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s->appkey);
	free(s);
}

/* --- reading --------------------------------------------------------------- */

static int blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
			return 0;
	return 1;
}

static json_t *parse_json(struct em_state *s, const char *text, size_t len, char *why, size_t why_size)
{
	if (s->host && s->host->json_parse)
		return s->host->json_parse(s->host->ctx, text, len, why, why_size);
	json_error_t e;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!v)
		snprintf(why, why_size, "column %d: %s", e.column, e.text);
	return v;
}

/* Parses, authenticates and classifies one line. Returns the annotated object (a
 * new reference) with *cls filled, or NULL with the reason in why. */
static json_t *read_record(struct em_state *s, enum em_input_kind kind, const char *text, size_t len,
			   struct em_classified *cls, char *why, size_t why_size)
{
	char perr[256];
	json_t *obj = parse_json(s, text, len, perr, sizeof(perr));
	if (!obj) {
		snprintf(why, why_size, "invalid JSON: %s", perr);
		return NULL;
	}
	int rc;
	if (kind == EM_INPUT_HISTORY)
		rc = em_record_history(obj, s->appkey, cls, why, why_size);
	else if (s->secret && json_is_object(obj) && em_security_check(obj, s->secret, why, why_size) < 0)
		rc = -1;
	else
		rc = em_record_callback(obj, s->appkey, cls, why, why_size);
	if (rc < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static void set_origin(struct em_state *s)
{
	snprintf(s->origin, sizeof(s->origin), "%.4096s:%llu", s->inputs.v[s->input].path,
		 (unsigned long long)s->line);
}

/* A bad record at s->origin (set by the caller). */
static int make_bad(struct em_state *s, const char *text, size_t len, const char *why)
{
	snprintf(s->error, sizeof(s->error), "%s", why);
	s->raw = strndup(text, len < EM_RAW_MAX ? len : EM_RAW_MAX);
	s->bad++;
	return 1;
}

/* Handles one consumed line. Returns 1 when it makes a record (s->data or
 * s->error set), 0 when it makes none (blank, skipped, duplicate), -1 when out of
 * memory. */
static int process_line(struct em_state *s, int kind, enum em_input_kind input_kind, const char *text, size_t len,
			char *err, size_t err_size)
{
	char why[512];
	struct em_classified cls;

	if (kind == EM_LINE_TOO_LONG) {
		snprintf(why, sizeof(why), "line longer than %zu bytes (max_line_bytes)", s->max_line);
		return make_bad(s, text, len, why);
	}
	if (blank(text, len))
		return 0;
	json_t *obj = read_record(s, input_kind, text, len, &cls, why, sizeof(why));
	if (!obj)
		return make_bad(s, text, len, why);
	if (cls.stream == EM_STREAM_SKIP) {
		json_decref(obj);
		s->skipped++;
		return 0;
	}
	if (cls.stream == EM_STREAM_MESSAGES) {
		uint64_t h = em_seen_hash(cls.id, strlen(cls.id));
		int added = em_seen_add(s->seen, h, (uint32_t)(cls.timestamp_ms / 1000));
		if (added < 0) {
			json_decref(obj);
			snprintf(err, err_size, "out of memory (message id set)");
			return -1;
		}
		if (added == 0) {
			json_decref(obj);
			s->duplicates++;
			return 0;
		}
		if (em_seen_find(s->recalled, h, NULL))
			json_object_set_new(obj, "_recalled", json_true());
	} else if (cls.stream == EM_STREAM_READ_ACKS) {
		uint32_t secs;
		if (em_seen_find(s->seen, em_seen_hash(cls.target_id, strlen(cls.target_id)), &secs))
			json_object_set_new(obj, "_acked_time", json_integer(secs));
	}
	s->data = obj;
	snprintf(s->source_id, sizeof(s->source_id), "%s", cls.id);
	s->error[0] = '\0';
	s->out_stream = em_stream_names[cls.stream];
	s->produced++;
	return 1;
}

#define STEP_END 2

/* One step of the pull: a user/group record, or one line of a pulled history
 * file handled like a history input line. Returns as step(). */
static int pull_step(struct em_state *s, char *err, size_t err_size)
{
	struct em_pull_item item;
	int k = em_pull_next(s->pull, &item, err, err_size);
	switch (k) {
	case EM_PULL_END:
		s->pull_done = 1;
		return 0;
	case EM_PULL_RECORD:
		s->data = json_incref(item.data);
		s->out_stream = item.stream;
		snprintf(s->source_id, sizeof(s->source_id), "%s", item.source_id ? item.source_id : "");
		snprintf(s->origin, sizeof(s->origin), "%s", item.origin);
		s->error[0] = '\0';
		s->produced++;
		return 1;
	case EM_PULL_BAD:
		snprintf(s->origin, sizeof(s->origin), "%s", item.origin);
		return make_bad(s, "", 0, item.error);
	case EM_PULL_LINE:
	case EM_PULL_TOO_LONG:
		snprintf(s->origin, sizeof(s->origin), "%s", item.origin);
		return process_line(s, k == EM_PULL_LINE ? EM_LINE_OK : EM_LINE_TOO_LONG, EM_INPUT_HISTORY, item.text,
				    item.len, err, err_size);
	default:
		return -1;
	}
}

/* Consumes one pull item or one line (or moves past the end of the current
 * input). Returns 1 with a record made, 0 with none, STEP_END past the last
 * input, or -1 (fatal, err filled). */
static int step(struct em_state *s, char *err, size_t err_size)
{
	if (s->pull && !s->pull_done)
		return pull_step(s, err, err_size);
	if (s->input >= s->inputs.n)
		return STEP_END;
	const char *path = s->inputs.v[s->input].path;
	if (!s->lines) {
		s->lines = em_lines_open(path, s->max_line, err, err_size);
		if (!s->lines)
			return -1;
	}
	const char *text;
	size_t len;
	char why[512];
	int kind = em_lines_next(s->lines, &text, &len, why, sizeof(why));
	if (kind == EM_LINE_EOF || kind == EM_LINE_ERROR) {
		int made = 0;
		if (kind == EM_LINE_ERROR) {
			/* A damaged file (truncated gzip...): report it once at the line it
			 * broke on and go on with the next input. */
			s->line = em_lines_number(s->lines) + 1;
			set_origin(s);
			made = make_bad(s, "", 0, why);
		}
		em_lines_close(s->lines);
		s->lines = NULL;
		s->input++;
		s->offset = 0;
		s->line = 0;
		return made;
	}
	s->offset = em_lines_offset(s->lines);
	s->line = em_lines_number(s->lines);
	set_origin(s);
	return process_line(s, kind, s->inputs.v[s->input].kind, text, len, err, err_size);
}

static int em_next(void *state, struct im_record *out, char *err, size_t err_size)
{
	struct em_state *s = state;
	release_record(s);
	for (;;) {
		int rc = step(s, err, err_size);
		if (rc < 0)
			return IM_SOURCE_ERROR;
		if (rc == STEP_END)
			return IM_SOURCE_END;
		if (rc == 1)
			break;
	}
	out->stream = s->data ? s->out_stream : em_stream_names[EM_STREAM_MESSAGES];
	out->data = s->data;
	out->source_id = s->data && s->source_id[0] ? s->source_id : NULL;
	out->origin = s->origin;
	out->raw = s->data ? NULL : s->raw;
	out->error = s->data ? NULL : s->error;
	return IM_SOURCE_OK;
}

static char *em_checkpoint(void *state)
{
	struct em_state *s = state;
	json_t *cp;
	if (s->pull && !s->pull_done) {
		json_t *pos = em_pull_position(s->pull);
		cp = pos ? json_pack("{so}", "pull", pos) : json_pack("{sn}", "pull");
	} else if (s->input >= s->inputs.n)
		cp = json_pack("{sI}", "input", (json_int_t)s->inputs.n);
	else
		cp = json_pack("{sIsssIsI}", "input", (json_int_t)s->input, "file", s->inputs.v[s->input].path,
			       "line", (json_int_t)s->line, "offset", (json_int_t)s->offset);
	char *text = cp ? json_dumps(cp, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(cp);
	return text;
}

/* Positions s just after the checkpoint by re-reading (see the file comment). */
/* Re-reads the pulled history from its start, up to pos (NULL: to its end). */
static int rescan_pulled_history(struct em_state *s, const json_t *pos, char *err, size_t err_size)
{
	json_t *start = json_pack("{ss}", "phase", "hours");
	int rc = start ? em_pull_seek(s->pull, start, err, err_size) : -1;
	json_decref(start);
	if (rc < 0)
		return -1;
	for (;;) {
		if (pos && !s->pull_done) {
			json_t *now = em_pull_position(s->pull);
			int here = now && json_equal(now, pos);
			json_decref(now);
			if (here)
				return 0;
		}
		if (s->pull_done) {
			if (!pos)
				return 0;
			snprintf(err, err_size, "checkpoint: not a position of the pulled history (did it change?)");
			return -1;
		}
		if (step(s, err, err_size) < 0)
			return -1;
		release_record(s);
	}
}

static int resume_pull(struct em_state *s, const json_t *pos, char *err, size_t err_size)
{
	if (!s->pull) {
		snprintf(err, err_size, "checkpoint: taken during a pull, but rest_url is not set");
		return -1;
	}
	if (!json_is_object(pos)) {
		s->pull_done = 1;
		return 0;
	}
	if (em_pull_position_is_history(pos))
		return rescan_pulled_history(s, pos, err, err_size);
	/* Users and groups leave nothing to rebuild: go straight there. */
	return em_pull_seek(s->pull, pos, err, err_size);
}

/* Positions s just after the checkpoint by re-reading (see the file comment). */
static int resume(struct em_state *s, const char *checkpoint, char *err, size_t err_size)
{
	json_error_t je;
	json_t *cp = json_loads(checkpoint, 0, &je);
	if (cp && json_object_get(cp, "pull")) {
		int rc = resume_pull(s, json_object_get(cp, "pull"), err, err_size);
		json_decref(cp);
		s->produced = s->bad = s->duplicates = s->skipped = 0;
		return rc;
	}
	json_int_t input = -1, line = 0, offset = 0;
	const char *file = NULL;
	if (!cp || json_unpack(cp, "{sI,s?s,s?I,s?I}", "input", &input, "file", &file, "line", &line, "offset",
			       &offset) < 0 ||
	    input < 0 || (size_t)input > s->inputs.n || line < 0 || offset < 0 ||
	    ((size_t)input < s->inputs.n && !file)) {
		snprintf(err, err_size, "checkpoint: not an easemob checkpoint");
		json_decref(cp);
		return -1;
	}
	if ((size_t)input < s->inputs.n && strcmp(file, s->inputs.v[input].path) != 0) {
		snprintf(err, err_size, "checkpoint: input %lld was %.1000s, now it is %.1000s (inputs changed)",
			 (long long)input + 1, file, s->inputs.v[input].path);
		json_decref(cp);
		return -1;
	}
	json_decref(cp);

	/* The pull is behind us: its history feeds the dedupe set, the rest not. */
	if (s->pull) {
		if (em_pull_has_history(s->pull)) {
			if (rescan_pulled_history(s, NULL, err, err_size) < 0)
				return -1;
		} else
			s->pull_done = 1;
	}
	for (;;) {
		if (s->input == (size_t)input && s->offset == (uint64_t)offset && s->line == (uint64_t)line)
			break;
		if (s->input > (size_t)input || (s->input == (size_t)input && s->offset > (uint64_t)offset)) {
			snprintf(err, err_size,
				 "checkpoint: line %lld at byte %lld is not a position of %.1000s (file changed?)",
				 (long long)line, (long long)offset,
				 (size_t)input < s->inputs.n ? s->inputs.v[input].path : "the end");
			return -1;
		}
		int rc = step(s, err, err_size);
		if (rc < 0)
			return -1;
		if (rc == STEP_END) {
			if ((size_t)input == s->inputs.n)
				break;
			snprintf(err, err_size, "checkpoint: past the end of the inputs");
			return -1;
		}
		release_record(s);
	}
	/* Counters describe this run only. */
	s->produced = s->bad = s->duplicates = s->skipped = 0;
	return 0;
}

/* Collects every recalled msg_id of the callback inputs (see the file comment). */
static int scan_recalls(struct em_state *s, char *err, size_t err_size)
{
	for (size_t i = 0; i < s->inputs.n; i++) {
		if (s->inputs.v[i].kind != EM_INPUT_CALLBACKS)
			continue;
		char why[512];
		struct em_lines *r = em_lines_open(s->inputs.v[i].path, s->max_line, err, err_size);
		if (!r)
			return -1;
		for (;;) {
			const char *text;
			size_t len;
			int kind = em_lines_next(r, &text, &len, why, sizeof(why));
			if (kind == EM_LINE_EOF || kind == EM_LINE_ERROR)
				break; /* the main pass reports damage at its line */
			if (kind != EM_LINE_OK || !memmem(text, len, "recall", 6))
				continue;
			struct em_classified cls;
			json_t *obj = read_record(s, EM_INPUT_CALLBACKS, text, len, &cls, why, sizeof(why));
			if (obj && cls.stream == EM_STREAM_RECALLS &&
			    em_seen_add(s->recalled, em_seen_hash(cls.target_id, strlen(cls.target_id)), 0) < 0) {
				json_decref(obj);
				em_lines_close(r);
				snprintf(err, err_size, "out of memory (recall set)");
				return -1;
			}
			json_decref(obj);
		}
		em_lines_close(r);
	}
	return 0;
}

static int em_open(const struct im_host *host, const json_t *options, const char *checkpoint, void **state,
		   char *err, size_t err_size)
{
	*state = NULL;
	struct em_state *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	s->host = host;
	s->seen = em_seen_new();
	s->recalled = em_seen_new();
	if (!s->seen || !s->recalled) {
		snprintf(err, err_size, "out of memory");
		goto fail;
	}
	if (em_options_parse(s, options, err, err_size) < 0)
		goto fail;
	if (s->inputs.n == 0 && !s->pull &&
	    (json_object_get(options, "history") || json_object_get(options, "callbacks"))) {
		snprintf(err, err_size, "options history/callbacks: no input files found");
		goto fail;
	}
	if (scan_recalls(s, err, err_size) < 0)
		goto fail;
	if (checkpoint && *checkpoint && resume(s, checkpoint, err, err_size) < 0)
		goto fail;
	s->opened = 1;
	*state = s;
	return IM_SOURCE_OK;
fail:
	em_close(s);
	return IM_SOURCE_ERROR;
}

/* --- estimate -------------------------------------------------------------- */

struct em_tally {
	enum em_input_kind kind;
	json_int_t counts[EM_STREAM_COUNT];
};

/* Guesses a callback line's stream from its first bytes: `"chat_type":"..."`. */
static void tally_line(const char *head, size_t len, void *ud)
{
	struct em_tally *t = ud;
	enum em_stream st = EM_STREAM_MESSAGES;
	const char *p = t->kind == EM_INPUT_CALLBACKS ? memmem(head, len, "\"chat_type\"", 11) : NULL;
	if (p) {
		p += 11;
		const char *end = head + len;
		while (p < end && (*p == ' ' || *p == ':' || *p == '\t'))
			p++;
		static const struct {
			const char *text;
			enum em_stream stream;
		} kinds[] = {{"\"roster\"", EM_STREAM_ROSTER},
			     {"\"muc\"", EM_STREAM_GROUPS},
			     {"\"read_ack\"", EM_STREAM_READ_ACKS},
			     {"\"recall\"", EM_STREAM_RECALLS}};
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			size_t n = strlen(kinds[i].text);
			if ((size_t)(end - p) >= n && memcmp(p, kinds[i].text, n) == 0)
				st = kinds[i].stream;
		}
	}
	/* A complete short callback line without chat_type is a login/logout event,
	 * which yields nothing. */
	if (t->kind == EM_INPUT_CALLBACKS && !p && len < 256)
		return;
	if (!blank(head, len))
		t->counts[st]++;
}

static int em_estimate(void *state, json_t **counts, char *err, size_t err_size)
{
	struct em_state *s = state;
	struct em_tally t;
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < s->inputs.n; i++) {
		t.kind = s->inputs.v[i].kind;
		if (em_lines_count(s->inputs.v[i].path, tally_line, &t, err, err_size) < 0)
			return IM_SOURCE_ERROR;
	}
	json_t *o = json_object();
	for (int i = 0; o && i < EM_STREAM_COUNT; i++)
		json_object_set_new(o, em_stream_names[i], json_integer(t.counts[i]));
	if (!o) {
		snprintf(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	*counts = o;
	return IM_SOURCE_OK;
}

static const char *const em_streams[] = {"messages", "roster",     "groups", "read_acks",
					 "recalls",  "users", "chatgroups", NULL};

static const struct im_source em_source = {
	.size = sizeof(struct im_source),
	.abi = IMMIGRATE_SOURCE_ABI,
	.name = "easemob",
	.version = "0.1.0",
	.description = "Easemob / Agora Chat: history files, archived callbacks, REST pull, webhooks",
	.streams = em_streams,
	.capabilities = IM_SOURCE_CAP_READ | IM_SOURCE_CAP_ESTIMATE | IM_SOURCE_CAP_PULL | IM_SOURCE_CAP_WEBHOOK,
	.open = em_open,
	.next = em_next,
	.checkpoint = em_checkpoint,
	.close = em_close,
	.estimate = em_estimate,
	.webhook = em_webhook,
	.deliver = NULL,
};

const struct im_source *IMMIGRATE_SOURCE_ENTRY(void)
{
	return &em_source;
}
