/* Export mode: reads Sendbird export documents one array element at a time.
 *
 * At open every document is classified by its first top-level key that names a
 * Sendbird data type ("active_users", "group_channels", "messages", ...), which
 * costs only the first bytes of each file. The reading plan is then a list of
 * passes in stream order (all users documents, then channels, then messages), so
 * that a mapping script sees users and channels before the messages that refer to
 * them. When the export has no channels document, each messages document's own
 * "channel" object (Sendbird puts it after the messages) is read in the channels
 * pass instead; this costs one extra scan of those files, without parsing.
 *
 * The checkpoint names the pass, its document, how many elements were consumed
 * and the byte offset and line right after the last one, so a resumed run skips
 * the bytes (without parsing) and continues mid-file. */
#define _GNU_SOURCE /* strcasestr */
#include "sendbird_internal.h"
#include "export_input.h"
#include "json_array_stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum pass_kind {
	PASS_ARRAY,  /* every element of the array under key */
	PASS_OBJECT, /* the single object under key (a messages file's "channel") */
	PASS_BROKEN, /* a document that could not even be classified: one bad record */
};

struct pass {
	size_t doc;
	enum pass_kind kind;
	const char *stream;
	const char *key;
	char *error; /* PASS_BROKEN: why */
};

struct sb_export {
	const struct im_host *host;
	struct sb_doc_list docs;
	struct pass *passes;
	size_t npasses;
	size_t max_record;

	/* Reading position. */
	size_t pass;       /* current pass */
	uint64_t elem;     /* elements consumed in it */
	uint64_t off, line; /* right after the last element */
	struct sb_doc_stream *in;
	struct jas *scan;
	int positioned; /* scan is inside the pass's array (or past its object) */

	/* The record handed out last; owned here until the next call. */
	json_t *data;
	char id[128];
	char origin[1024];
	char error[1024];
	char raw[SB_RAW_MAX + 1];
};

struct known_key {
	const char *key;
	const char *stream;
};

/* Top-level keys of the export data types. Open channels are chat rooms without
 * membership history; they have no counterpart in an import and are not listed. */
static const struct known_key known_keys[] = {
	{"active_users", SB_STREAM_USERS},      {"users", SB_STREAM_USERS},
	{"deactivated_users", SB_STREAM_USERS}, {"group_channels", SB_STREAM_CHANNELS},
	{"channels", SB_STREAM_CHANNELS},       {"messages", SB_STREAM_MESSAGES},
	{"blocks", SB_STREAM_BLOCKS},
};

static const struct known_key *find_known(const char *key)
{
	size_t i;
	for (i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strcmp(known_keys[i].key, key) == 0)
			return &known_keys[i];
	return NULL;
}

static const char *const stream_order[] = {SB_STREAM_USERS, SB_STREAM_CHANNELS, SB_STREAM_MESSAGES, SB_STREAM_BLOCKS};

/* A guess for where a broken document's dead letter belongs, from its name. */
static const char *stream_by_name(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strcasestr(base, "user"))
		return SB_STREAM_USERS;
	if (strcasestr(base, "channel"))
		return SB_STREAM_CHANNELS;
	return SB_STREAM_MESSAGES;
}

static void close_input(struct sb_export *x)
{
	jas_free(x->scan);
	sb_doc_close(x->in);
	x->scan = NULL;
	x->in = NULL;
	x->positioned = 0;
}

static int open_input(struct sb_export *x, size_t doc, char *err, size_t err_size)
{
	close_input(x);
	x->in = sb_doc_open(&x->docs.v[doc], err, err_size);
	if (!x->in)
		return -1;
	x->scan = jas_new(sb_doc_read, x->in, x->max_record);
	if (!x->scan) {
		snprintf(err, err_size, "out of memory");
		close_input(x);
		return -1;
	}
	return 0;
}

/* The jas error, with the archive's reason when the read itself failed. */
static void scan_error(struct sb_export *x, char *buf, size_t size)
{
	const char *why = x->in ? sb_doc_error(x->in) : "";
	snprintf(buf, size, "%s%s%s", jas_error(x->scan), *why ? ": " : "", why);
}

static int add_pass(struct sb_export *x, size_t doc, enum pass_kind kind, const char *stream, const char *key,
		    const char *error)
{
	struct pass *nv = realloc(x->passes, (x->npasses + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	x->passes = nv;
	nv[x->npasses].doc = doc;
	nv[x->npasses].kind = kind;
	nv[x->npasses].stream = stream;
	nv[x->npasses].key = key;
	nv[x->npasses].error = error ? strdup(error) : NULL;
	if (error && !nv[x->npasses].error)
		return -1;
	x->npasses++;
	return 0;
}

/* Classifies every document, then lays out the passes in stream order. */
static int plan(struct sb_export *x, char *err, size_t err_size)
{
	const struct known_key **kind = calloc(x->docs.n ? x->docs.n : 1, sizeof(*kind));
	char **broken = calloc(x->docs.n ? x->docs.n : 1, sizeof(*broken));
	size_t d, s;
	int have_channels = 0, rc = -1;

	if (!kind || !broken) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	for (d = 0; d < x->docs.n; d++) {
		char why[768];
		int r;
		if (open_input(x, d, why, sizeof(why)) < 0) {
			broken[d] = strdup(why);
			continue;
		}
		while ((r = jas_next_key(x->scan)) == JAS_VALUE && !(kind[d] = find_known(jas_key(x->scan))))
			;
		if (r == JAS_ERROR) {
			char jerr[512];
			scan_error(x, jerr, sizeof(jerr));
			snprintf(why, sizeof(why), "%s: not a Sendbird export document: %s", x->docs.v[d].name, jerr);
			broken[d] = strdup(why);
		} else if (!kind[d]) {
			x->host->log(x->host->ctx, IM_SOURCE_LOG_WARN,
				     "%s: no Sendbird data (users, group_channels, messages) in this document; skipped",
				     x->docs.v[d].name);
		} else if (strcmp(kind[d]->stream, SB_STREAM_CHANNELS) == 0) {
			have_channels = 1;
		}
		close_input(x);
	}
	for (s = 0; s < sizeof(stream_order) / sizeof(stream_order[0]); s++) {
		for (d = 0; d < x->docs.n; d++) {
			int r = 0;
			const char *stream = stream_order[s];
			if (broken[d] && strcmp(stream_by_name(x->docs.v[d].name), stream) == 0)
				r = add_pass(x, d, PASS_BROKEN, stream, "", broken[d]);
			else if (kind[d] && strcmp(kind[d]->stream, stream) == 0)
				r = add_pass(x, d, PASS_ARRAY, kind[d]->stream, kind[d]->key, NULL);
			else if (kind[d] && !have_channels && strcmp(stream, SB_STREAM_CHANNELS) == 0 &&
				 strcmp(kind[d]->stream, SB_STREAM_MESSAGES) == 0)
				r = add_pass(x, d, PASS_OBJECT, SB_STREAM_CHANNELS, "channel", NULL);
			if (r < 0) {
				snprintf(err, err_size, "out of memory");
				goto out;
			}
		}
	}
	rc = 0;
out:
	for (d = 0; broken && d < x->docs.n; d++)
		free(broken[d]);
	free(broken);
	free(kind);
	return rc;
}

static void warn_host(void *ctx, const char *message)
{
	const struct im_host *host = ctx;
	host->log(host->ctx, IM_SOURCE_LOG_WARN, "%s", message);
}

static int add_paths(struct sb_export *x, const json_t *path, char *err, size_t err_size)
{
	size_t i, skipped = 0;
	json_t *p;

	if (json_is_string(path)) {
		if (sb_docs_add_path(&x->docs, json_string_value(path), &skipped, warn_host, (void *)x->host, err,
				     err_size) < 0)
			return -1;
	} else if (json_is_array(path) && json_array_size(path) > 0) {
		json_array_foreach(path, i, p) {
			if (!json_is_string(p)) {
				snprintf(err, err_size, "source.path[%zu]: expected a string", i + 1);
				return -1;
			}
			if (sb_docs_add_path(&x->docs, json_string_value(p), &skipped, warn_host, (void *)x->host,
					     err, err_size) < 0)
				return -1;
		}
	} else {
		snprintf(err, err_size, "source.path: expected a path or a list of paths");
		return -1;
	}
	if (skipped)
		x->host->log(x->host->ctx, IM_SOURCE_LOG_INFO, "%zu file(s) in the export are not JSON documents; skipped",
			     skipped);
	return 0;
}

int sb_export_open(const struct im_host *host, const json_t *options, const json_t *ckpt, struct sb_export **out,
		   char *err, size_t err_size)
{
	struct sb_export *x = calloc(1, sizeof(*x));
	json_t *mr = json_object_get(options, "max_record_bytes");

	if (!x) {
		snprintf(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	x->host = host;
	x->max_record = SB_DEFAULT_MAX_RECORD;
	x->line = 1;
	if (mr) {
		if (!json_is_integer(mr) || json_integer_value(mr) < 1024) {
			snprintf(err, err_size, "source.max_record_bytes: expected an integer of at least 1024");
			goto fail;
		}
		x->max_record = (size_t)json_integer_value(mr);
	}
	if (add_paths(x, json_object_get(options, "path"), err, err_size) < 0 || plan(x, err, err_size) < 0)
		goto fail;
	if (x->docs.n == 0)
		host->log(host->ctx, IM_SOURCE_LOG_WARN, "no JSON documents found in source.path");
	if (ckpt) {
		json_int_t pass = -1, elem = 0, off = 0, line = 1;
		json_t *docv = NULL;
		const char *doc;
		if (json_unpack((json_t *)ckpt, "{s:I, s?o, s:I, s:I, s:I}", "pass", &pass, "doc", &docv, "elem", &elem,
				"off", &off, "line", &line) < 0 ||
		    pass < 0 || elem < 0 || off < 0 || line < 1 || (docv && !json_is_string(docv) && !json_is_null(docv))) {
			snprintf(err, err_size, "checkpoint: not an export checkpoint of this plugin");
			goto fail;
		}
		doc = json_string_value(docv);
		if ((size_t)pass < x->npasses && (!doc || strcmp(doc, x->docs.v[x->passes[pass].doc].name) != 0)) {
			snprintf(err, err_size,
				 "checkpoint: the input changed since (step %" JSON_INTEGER_FORMAT " was %s, now %s)",
				 pass, doc ? doc : "(none)", x->docs.v[x->passes[pass].doc].name);
			goto fail;
		}
		if ((size_t)pass > x->npasses) {
			snprintf(err, err_size, "checkpoint: the input changed since (fewer documents than before)");
			goto fail;
		}
		x->pass = (size_t)pass;
		x->elem = (uint64_t)elem;
		x->off = (uint64_t)off;
		x->line = (uint64_t)line;
	}
	*out = x;
	return IM_SOURCE_OK;
fail:
	sb_export_close(x);
	return IM_SOURCE_ERROR;
}

void sb_export_close(struct sb_export *x)
{
	size_t i;
	if (!x)
		return;
	close_input(x);
	json_decref(x->data);
	for (i = 0; i < x->npasses; i++)
		free(x->passes[i].error);
	free(x->passes);
	sb_docs_free(&x->docs);
	free(x);
}

json_t *sb_export_checkpoint(struct sb_export *x)
{
	const char *doc = x->pass < x->npasses ? x->docs.v[x->passes[x->pass].doc].name : NULL;
	return json_pack("{s:s, s:I, s:s?, s:I, s:I, s:I}", "mode", "export", "pass", (json_int_t)x->pass, "doc", doc,
			 "elem", (json_int_t)x->elem, "off", (json_int_t)x->off, "line", (json_int_t)x->line);
}

static void next_pass(struct sb_export *x)
{
	close_input(x);
	x->pass++;
	x->elem = 0;
	x->off = 0;
	x->line = 1;
}

static void copy_raw(struct sb_export *x, const char *bytes, size_t len)
{
	if (len > SB_RAW_MAX)
		len = SB_RAW_MAX;
	memcpy(x->raw, bytes, len);
	x->raw[len] = '\0';
}

static void bad_record(struct sb_export *x, struct im_record *out, const struct pass *p)
{
	out->stream = p->stream;
	out->data = NULL;
	out->source_id = NULL;
	out->origin = x->origin;
	out->raw = x->raw;
	out->error = x->error;
}

/* Opens the pass's document and moves the scanner to where reading continues.
 * 1: positioned; 0: the pass has nothing (more) to give; -1: the document is
 * unusable, with x->error set for a bad record. */
static int position(struct sb_export *x, const struct pass *p)
{
	const char *name = x->docs.v[p->doc].name;
	char why[768];
	int r;

	if (p->kind == PASS_OBJECT && x->elem > 0)
		return 0;
	if (open_input(x, p->doc, why, sizeof(why)) < 0) {
		snprintf(x->error, sizeof(x->error), "%s", why);
		return -1;
	}
	if (x->elem > 0) {
		if (jas_resume_in_array(x->scan, x->off, x->line) != JAS_VALUE) {
			scan_error(x, why, sizeof(why));
			snprintf(x->error, sizeof(x->error), "%s: cannot resume: %s", name, why);
			return -1;
		}
		x->positioned = 1;
		return 1;
	}
	while ((r = jas_next_key(x->scan)) == JAS_VALUE && strcmp(jas_key(x->scan), p->key) != 0)
		;
	if (r == JAS_END)
		return 0;
	if (r == JAS_ERROR) {
		scan_error(x, why, sizeof(why));
		snprintf(x->error, sizeof(x->error), "%s: %s", name, why);
		return -1;
	}
	if (p->kind == PASS_ARRAY) {
		r = jas_enter_array(x->scan);
		if (r == JAS_NOT_ARRAY) {
			snprintf(x->error, sizeof(x->error), "%s: byte %" PRIu64 " (line %" PRIu64 "): \"%s\" is not an array",
				 name, jas_offset(x->scan), jas_line(x->scan), p->key);
			return -1;
		}
		if (r == JAS_ERROR) {
			scan_error(x, why, sizeof(why));
			snprintf(x->error, sizeof(x->error), "%s: %s", name, why);
			return -1;
		}
	}
	x->positioned = 1;
	return 1;
}

/* Turns the scanner's current value into a record (good or bad). */
static void produce(struct sb_export *x, struct im_record *out, const struct pass *p, int r)
{
	const char *name = x->docs.v[p->doc].name;
	size_t len;
	const char *bytes = jas_value(x->scan, &len);
	uint64_t voff = jas_value_offset(x->scan), vline = jas_value_line(x->scan);
	json_error_t jerr;

	x->elem++;
	x->off = jas_offset(x->scan);
	x->line = jas_line(x->scan);
	snprintf(x->origin, sizeof(x->origin), "%s:%" PRIu64, name, vline);
	if (r == JAS_OVERSIZED) {
		copy_raw(x, bytes, len);
		snprintf(x->error, sizeof(x->error),
			 "%s: byte %" PRIu64 " (line %" PRIu64 "): %s element %" PRIu64
			 " is larger than max_record_bytes (%zu); skipped",
			 name, voff, vline, p->key, x->elem, x->max_record);
		bad_record(x, out, p);
		return;
	}
	x->data = json_loadb(bytes, len, JSON_ALLOW_NUL, &jerr);
	if (!x->data || !json_is_object(x->data)) {
		copy_raw(x, bytes, len);
		if (x->data)
			snprintf(x->error, sizeof(x->error),
				 "%s: byte %" PRIu64 " (line %" PRIu64 "): %s element %" PRIu64 " is not an object", name,
				 voff, vline, p->key, x->elem);
		else
			snprintf(x->error, sizeof(x->error),
				 "%s: byte %" PRIu64 " (line %" PRIu64 "): invalid JSON in %s element %" PRIu64 ": %s",
				 name, voff + (uint64_t)(jerr.position > 0 ? jerr.position : 0),
				 vline + (uint64_t)(jerr.line > 1 ? jerr.line - 1 : 0), p->key, x->elem, jerr.text);
		json_decref(x->data);
		x->data = NULL;
		bad_record(x, out, p);
		return;
	}
	out->stream = p->stream;
	out->data = x->data;
	out->source_id = sb_record_id(p->stream, x->data, x->id, sizeof(x->id));
	out->origin = x->origin;
	out->raw = NULL;
	out->error = NULL;
}

int sb_export_next(struct sb_export *x, struct im_record *out, char *err, size_t err_size)
{
	json_decref(x->data);
	x->data = NULL;
	while (x->pass < x->npasses) {
		const struct pass *p = &x->passes[x->pass];
		int r;

		if (p->kind == PASS_BROKEN) {
			snprintf(x->error, sizeof(x->error), "%s", p->error);
			snprintf(x->origin, sizeof(x->origin), "%s", x->docs.v[p->doc].name);
			x->raw[0] = '\0';
			bad_record(x, out, p);
			next_pass(x);
			return IM_SOURCE_OK;
		}
		if (!x->positioned) {
			r = position(x, p);
			if (r == 0) {
				next_pass(x);
				continue;
			}
			if (r < 0 && p->kind == PASS_OBJECT) {
				/* The messages pass over the same document reports the damage. */
				next_pass(x);
				continue;
			}
			if (r < 0) {
				snprintf(x->origin, sizeof(x->origin), "%s", x->docs.v[p->doc].name);
				x->raw[0] = '\0';
				bad_record(x, out, p);
				next_pass(x);
				return IM_SOURCE_OK;
			}
		}
		r = p->kind == PASS_OBJECT ? (x->elem ? JAS_END : jas_read_value(x->scan)) : jas_next_element(x->scan);
		if (r == JAS_END) {
			next_pass(x);
			continue;
		}
		if (r == JAS_ERROR && p->kind == PASS_OBJECT) {
			next_pass(x);
			continue;
		}
		if (r == JAS_ERROR) {
			char why[512];
			size_t len;
			const char *partial = jas_value(x->scan, &len);
			scan_error(x, why, sizeof(why));
			snprintf(x->error, sizeof(x->error), "%s: %s; the rest of this document is skipped",
				 x->docs.v[p->doc].name, why);
			snprintf(x->origin, sizeof(x->origin), "%s:%" PRIu64, x->docs.v[p->doc].name,
				 jas_value_line(x->scan));
			copy_raw(x, partial, len);
			bad_record(x, out, p);
			next_pass(x);
			return IM_SOURCE_OK;
		}
		produce(x, out, p, r);
		return IM_SOURCE_OK;
	}
	(void)err;
	(void)err_size;
	return IM_SOURCE_END;
}

/* Counts elements with a separate scanner, so the reading position is untouched. */
int sb_export_estimate(struct sb_export *x, json_t **counts, char *err, size_t err_size)
{
	json_t *c = json_object();
	size_t i;

	if (!c) {
		snprintf(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	for (i = 0; i < sizeof(stream_order) / sizeof(stream_order[0]); i++)
		json_object_set_new(c, stream_order[i], json_integer(0));
	for (i = 0; i < x->npasses; i++) {
		const struct pass *p = &x->passes[i];
		json_int_t n = 0;
		if (p->kind != PASS_ARRAY) {
			n = 1; /* one object or one bad record */
		} else {
			char why[512];
			struct sb_doc_stream *in = sb_doc_open(&x->docs.v[p->doc], why, sizeof(why));
			struct jas *s = in ? jas_new(sb_doc_read, in, 1) : NULL;
			int r;
			if (s) {
				jas_set_capture(s, 0);
				while ((r = jas_next_key(s)) == JAS_VALUE && strcmp(jas_key(s), p->key) != 0)
					;
				if (r == JAS_VALUE && jas_enter_array(s) == JAS_VALUE)
					while ((r = jas_next_element(s)) == JAS_VALUE || r == JAS_OVERSIZED)
						n++;
			}
			jas_free(s);
			sb_doc_close(in);
		}
		json_object_set_new(c, p->stream, json_integer(json_integer_value(json_object_get(c, p->stream)) + n));
	}
	*counts = c;
	return IM_SOURCE_OK;
}
