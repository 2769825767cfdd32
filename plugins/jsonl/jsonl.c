/* jsonl: the JSON Lines source plugin.
 *
 * Reads one file or a directory of them (non-recursive, sorted by name with
 * strcmp: *.jsonl, *.json, *.ndjson, each optionally .gz). Everything goes
 * through zlib's gzread, which reads uncompressed files transparently, so plain
 * and gzip files share one code path. Each line is one native record; blank
 * lines are skipped (they still count for line numbers). Memory is bounded by
 * the read buffer plus max_line_bytes.
 *
 * Options: path (required), max_line_bytes (default 1 MiB), stream (default
 * "records"), id_field (the member holding the source id, optional).
 *
 * Checkpoint: {"file":NAME,"line":N,"offset":BYTES} where NAME is the file's
 * name inside the directory (its basename for a single file; null once every
 * file has been read), BYTES the offset in the decompressed stream just after
 * the last record returned and N that record's line number. Names rather than
 * indexes, so a file added to the directory later does not shift the resume
 * point; an integer index is accepted when resuming too.
 *
 * Where the runner takes records as text (IM_HOST_TEXT_RECORDS), a line that
 * linescan.c vouches for is handed over as its text alone, without a json_t;
 * every other line goes through the parse as before, so bad lines give the
 * same dead letters either way. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <immigrate/source.h>

#include "lineparse.h"
#include "linescan.h"

#define JSONL_VERSION "1.0.0"
#define DEFAULT_MAX_LINE (1024u * 1024)
#define MAX_MAX_LINE (64u * 1024 * 1024)
#define READ_BUF_SIZE (256u * 1024)
#define GZ_BUF_SIZE (128u * 1024)
/* Bad records carry at most this much of their text. */
#define RAW_MAX 4096u
/* estimate(): plain files up to this size get an exact newline count; beyond it,
 * and for gzip files, the first SAMPLE bytes are counted and extrapolated. */
#define EXACT_COUNT_MAX (64ull * 1024 * 1024)
#define SAMPLE_BYTES (4u * 1024 * 1024)

static const char *const jsonl_streams[] = {"records", NULL};

struct jsonl {
	const struct im_host *host;
	int text_records; /* the host takes good records as text alone */
	/* options */
	char *path;
	size_t max_line;
	char *stream;
	char *id_field;
	/* input files */
	int is_dir;
	char **names; /* sorted; a single file's basename */
	size_t nfiles;
	/* reading */
	size_t index; /* current file; nfiles once all are read */
	gzFile gz;
	char *display; /* current file, for origins */
	uint64_t offset; /* decompressed bytes consumed in the current file */
	uint64_t line;   /* lines consumed in the current file */
	char *buf;
	size_t buf_len, buf_pos;
	int eof;
	/* the current line when it spans reads or goes over the cap */
	char *acc;
	size_t acc_len, acc_cap;
	uint64_t line_total; /* the line's full length, even past the cap */
	/* resume point after the last record returned */
	size_t cp_index;
	uint64_t cp_offset, cp_line;
	/* the record last returned (owned until the next call) */
	json_t *data;
	char *origin;
	size_t origin_cap;
	const char *origin_file; /* the file origin's prefix was made for, NULL: none */
	size_t origin_prefix;    /* strlen("FILE:") */
	char idbuf[32];
	char *idtext; /* the source id of a text record (NUL-terminated copy) */
	size_t idtext_cap;
	char raw[RAW_MAX + 8];
	char error[512];
	struct jsonl_scratch scratch; /* the fast parser's escape buffer */
};

static void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	if (!err || !err_size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static int wanted_name(const char *name)
{
	static const char *const suffixes[] = {".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz"};
	if (name[0] == '.')
		return 0;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
		if (has_suffix(name, suffixes[i]))
			return 1;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", dir, has_suffix(dir, "/") ? "" : "/", name);
	return p;
}

/* The path of file i, malloc'd. */
static char *file_path(const struct jsonl *j, size_t i)
{
	return j->is_dir ? join_path(j->path, j->names[i]) : strdup(j->path);
}

static int list_files(struct jsonl *j, char *err, size_t err_size)
{
	struct stat st;
	if (stat(j->path, &st) != 0) {
		set_err(err, err_size, "option 'path': %s: %s", j->path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		const char *base = strrchr(j->path, '/');
		j->names = calloc(1, sizeof *j->names);
		if (!j->names || !(j->names[0] = strdup(base ? base + 1 : j->path)))
			goto oom;
		j->nfiles = 1;
		return 0;
	}
	j->is_dir = 1;
	DIR *d = opendir(j->path);
	if (!d) {
		set_err(err, err_size, "option 'path': %s: %s", j->path, strerror(errno));
		return -1;
	}
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!wanted_name(e->d_name))
			continue;
		char *full = join_path(j->path, e->d_name);
		int regular = full && stat(full, &st) == 0 && S_ISREG(st.st_mode);
		free(full);
		if (!regular)
			continue;
		if (j->nfiles == cap) {
			char **grown = realloc(j->names, (cap ? cap * 2 : 16) * sizeof *grown);
			if (!grown) {
				closedir(d);
				goto oom;
			}
			j->names = grown;
			cap = cap ? cap * 2 : 16;
		}
		if (!(j->names[j->nfiles] = strdup(e->d_name))) {
			closedir(d);
			goto oom;
		}
		j->nfiles++;
	}
	closedir(d);
	if (j->nfiles)
		qsort(j->names, j->nfiles, sizeof *j->names, cmp_names);
	return 0;
oom:
	set_err(err, err_size, "out of memory");
	return -1;
}

/* ---- options ---- */

static int parse_options(struct jsonl *j, const json_t *options, char *err, size_t err_size)
{
	if (!json_is_object(options)) {
		set_err(err, err_size, "options must be a JSON object");
		return -1;
	}
	const char *key;
	json_t *value;
	j->max_line = DEFAULT_MAX_LINE;
	json_object_foreach((json_t *)options, key, value) {
		if (strcmp(key, "path") == 0) {
			if (!json_is_string(value) || !json_string_length(value)) {
				set_err(err, err_size, "option 'path' must be a non-empty string");
				return -1;
			}
			j->path = strdup(json_string_value(value));
		} else if (strcmp(key, "max_line_bytes") == 0) {
			json_int_t n = json_is_integer(value) ? json_integer_value(value) : 0;
			if (n < 1 || n > (json_int_t)MAX_MAX_LINE) {
				set_err(err, err_size, "option 'max_line_bytes' must be an integer from 1 to %u",
					MAX_MAX_LINE);
				return -1;
			}
			j->max_line = (size_t)n;
		} else if (strcmp(key, "stream") == 0) {
			if (!json_is_string(value) || !json_string_length(value)) {
				set_err(err, err_size, "option 'stream' must be a non-empty string");
				return -1;
			}
			free(j->stream);
			j->stream = strdup(json_string_value(value));
			if (!j->stream)
				goto oom;
		} else if (strcmp(key, "id_field") == 0) {
			if (!json_is_string(value) || !json_string_length(value)) {
				set_err(err, err_size, "option 'id_field' must be a non-empty string");
				return -1;
			}
			j->id_field = strdup(json_string_value(value));
			if (!j->id_field)
				goto oom;
		} else if (strcmp(key, "plugin") == 0 && json_is_string(value)) {
			/* The runner's own key; tolerated in case it is passed through. */
		} else {
			set_err(err, err_size,
				"unknown option '%.64s' (jsonl knows path, max_line_bytes, stream, id_field)", key);
			return -1;
		}
	}
	if (!j->path) {
		set_err(err, err_size, "option 'path' is required (a .jsonl file, a .gz, or a directory)");
		return -1;
	}
	if (!j->stream && !(j->stream = strdup("records")))
		goto oom;
	return 0;
oom:
	set_err(err, err_size, "out of memory");
	return -1;
}

/* ---- files ---- */

static void close_file(struct jsonl *j)
{
	if (j->gz)
		gzclose_r(j->gz);
	j->gz = NULL;
	free(j->display);
	j->display = NULL;
	j->origin_file = NULL; /* the next file's name may reuse the address */
	j->buf_len = j->buf_pos = 0;
	j->eof = 0;
	j->acc_len = 0;
	j->line_total = 0;
}

/* "FILE:LINE". Every record needs one, so "FILE:" is kept while the file stays
 * the same (close_file forgets it) and only the number is written. */
static int set_origin(struct jsonl *j, const char *file, uint64_t line)
{
	if (file != j->origin_file) {
		size_t n = strlen(file), need = n + 24;
		if (need > j->origin_cap) {
			char *grown = realloc(j->origin, need);
			if (!grown)
				return -1;
			j->origin = grown;
			j->origin_cap = need;
		}
		memcpy(j->origin, file, n);
		j->origin[n] = ':';
		j->origin_prefix = n + 1;
		j->origin_file = file;
	}
	char digits[24];
	int k = 0;
	do
		digits[k++] = (char)('0' + line % 10);
	while ((line /= 10));
	char *o = j->origin + j->origin_prefix;
	while (k)
		*o++ = digits[--k];
	*o = '\0';
	return 0;
}

/* Opens file j->index at decompressed offset `offset`. Returns 0, or -1 with
 * err filled (errno-style reason naming the file). */
static int open_file(struct jsonl *j, uint64_t offset, uint64_t line, char *err, size_t err_size)
{
	close_file(j);
	j->display = file_path(j, j->index);
	if (!j->display) {
		set_err(err, err_size, "out of memory");
		return -1;
	}
	j->gz = gzopen(j->display, "rb");
	if (!j->gz) {
		set_err(err, err_size, "%s: cannot open: %s", j->display, errno ? strerror(errno) : "out of memory");
		return -1;
	}
	gzbuffer(j->gz, GZ_BUF_SIZE);
	j->offset = 0;
	j->line = line;
	if (offset == 0)
		return 0;
	if (gzdirect(j->gz)) {
		/* Plain file: gzseek is an lseek. */
		struct stat st;
		if (stat(j->display, &st) != 0 || (uint64_t)st.st_size < offset) {
			set_err(err, err_size, "%s: checkpoint offset %llu is past the end of the file (was it changed?)",
				j->display, (unsigned long long)offset);
			return -1;
		}
		if (gzseek(j->gz, (z_off_t)offset, SEEK_SET) < 0) {
			set_err(err, err_size, "%s: cannot seek to %llu", j->display, (unsigned long long)offset);
			return -1;
		}
		j->offset = offset;
		return 0;
	}
	/* Compressed: the only way to the offset is to decompress up to it. */
	while (j->offset < offset) {
		uint64_t want = offset - j->offset;
		int n = gzread(j->gz, j->buf, want < READ_BUF_SIZE ? (unsigned)want : READ_BUF_SIZE);
		if (n <= 0) {
			int zerr;
			const char *why = n < 0 ? gzerror(j->gz, &zerr) : "file ends before it";
			set_err(err, err_size, "%s: cannot skip to checkpoint offset %llu: %s", j->display,
				(unsigned long long)offset, why);
			return -1;
		}
		j->offset += (uint64_t)n;
	}
	return 0;
}

/* ---- lines ---- */

/* Appends to the line being assembled, keeping at most max_line bytes. */
static int acc_append(struct jsonl *j, const char *p, size_t n)
{
	j->line_total += n;
	size_t room = j->acc_len < j->max_line ? j->max_line - j->acc_len : 0;
	if (n > room)
		n = room;
	if (!n)
		return 0;
	if (j->acc_len + n > j->acc_cap) {
		size_t cap = j->acc_cap ? j->acc_cap : 4096;
		while (cap < j->acc_len + n)
			cap *= 2;
		if (cap > j->max_line)
			cap = j->max_line;
		char *grown = realloc(j->acc, cap);
		if (!grown)
			return -1;
		j->acc = grown;
		j->acc_cap = cap;
	}
	memcpy(j->acc + j->acc_len, p, n);
	j->acc_len += n;
	return 0;
}

/* Reads the next line of the current file (without its '\n'). *total is its
 * full length; only min(total, max_line) bytes are at *line. Returns 1 for a
 * line, 0 at the end of the file, -1 on a read error (err filled). */
static int read_line(struct jsonl *j, const char **line, size_t *len, uint64_t *total, char *err, size_t err_size)
{
	j->acc_len = 0;
	j->line_total = 0;
	int partial = 0;
	for (;;) {
		if (j->buf_pos < j->buf_len) {
			char *start = j->buf + j->buf_pos;
			size_t avail = j->buf_len - j->buf_pos;
			char *nl = memchr(start, '\n', avail);
			size_t take = nl ? (size_t)(nl - start) : avail;
			size_t consumed = take + (nl ? 1 : 0);
			j->buf_pos += consumed;
			j->offset += consumed;
			if (nl && !partial) {
				/* The common case: the whole line is in the buffer. */
				*line = start;
				*len = take < j->max_line ? take : j->max_line;
				*total = take;
				return 1;
			}
			partial = 1;
			if (acc_append(j, start, take) < 0) {
				set_err(err, err_size, "out of memory");
				return -1;
			}
			if (nl)
				break;
			continue;
		}
		if (j->eof)
			break;
		int n = gzread(j->gz, j->buf, READ_BUF_SIZE);
		if (n < 0) {
			int zerr;
			set_err(err, err_size, "%s", gzerror(j->gz, &zerr));
			return -1;
		}
		j->buf_pos = 0;
		j->buf_len = (size_t)n;
		if (n == 0) {
			/* zlib reports a truncated gzip member as a clean end; say so. */
			int zerr;
			const char *why = gzerror(j->gz, &zerr);
			if (zerr != Z_OK && zerr != Z_STREAM_END) {
				set_err(err, err_size, "%s", why);
				return -1;
			}
			j->eof = 1;
		}
	}
	if (!partial)
		return 0;
	*line = j->acc;
	*len = j->acc_len;
	*total = j->line_total;
	return 1;
}

static int is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\f' && p[i] != '\v')
			return 0;
	return 1;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

/* Offset of the first byte that is not valid UTF-8, or -1. */
static long long utf8_invalid_at(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		/* ASCII fast path, eight bytes at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		size_t len = utf8_seq(p + i, n - i);
		if (!len)
			return (long long)i;
		i += len;
	}
	return -1;
}

/* A copy of at most RAW_MAX bytes for a dead letter: valid UTF-8 (bad bytes and
 * NULs become U+FFFD), never cutting a sequence. */
static void copy_raw(struct jsonl *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t len = p[i] ? utf8_seq(p + i, n - i) : 0;
		size_t out_len = len ? len : 3;
		if (o + out_len > RAW_MAX)
			break;
		if (len)
			memcpy(j->raw + o, p + i, len);
		else
			memcpy(j->raw + o, "\xEF\xBF\xBD", 3);
		o += out_len;
		i += len ? len : 1;
	}
	j->raw[o] = '\0';
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	default:
		return "not an object";
	}
}

static void bad_record(struct jsonl *j, struct im_record *out, const char *text, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void bad_record(struct jsonl *j, struct im_record *out, const char *text, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->error, sizeof j->error, fmt, ap);
	va_end(ap);
	copy_raw(j, text, len);
	out->data = NULL;
	out->raw = j->raw;
	out->error = j->error;
}

/* A line the scan vouched for, as text alone. Returns 0, or -1 when the id
 * cannot be copied (the caller then takes the parse path). */
static int text_record(struct jsonl *j, struct im_record *out, const char *text, size_t len,
		       const struct jsonl_scan_id *id)
{
	if (id->text) {
		if (id->len + 1 > j->idtext_cap) {
			size_t cap = j->idtext_cap ? j->idtext_cap : 64;
			while (cap < id->len + 1)
				cap *= 2;
			char *grown = realloc(j->idtext, cap);
			if (!grown)
				return -1;
			j->idtext = grown;
			j->idtext_cap = cap;
		}
		memcpy(j->idtext, id->text, id->len);
		j->idtext[id->len] = '\0';
		out->source_id = j->idtext;
	}
	out->data = NULL;
	out->raw = NULL;
	out->error = NULL;
	out->text = text;
	out->text_len = len;
	return 0;
}

/* Turns one non-blank line into *out (good or bad). */
static void make_record(struct jsonl *j, struct im_record *out, const char *text, size_t len, uint64_t total)
{
	if (total > j->max_line) {
		bad_record(j, out, text, len, "line of %llu bytes exceeds max_line_bytes (%zu)",
			   (unsigned long long)total, j->max_line);
		return;
	}
	long long bad = utf8_invalid_at(text, len);
	if (bad >= 0) {
		bad_record(j, out, text, len, "invalid UTF-8 at byte %lld", bad + 1);
		return;
	}
	struct jsonl_scan_id scanned_id;
	if (j->text_records && IM_HAS_MEMBER(out, struct im_record, text_len) &&
	    jsonl_scan_object(text, len, j->id_field, &scanned_id) && text_record(j, out, text, len, &scanned_id) == 0)
		return;
	json_error_t jerr;
	/* The fast parser takes the common lines; Jansson the rest, and gives the
	 * verdict and the message for bad ones. DECODE_ANY: a scalar line gets
	 * "not an object", not a parse error. */
	json_t *v = jsonl_parse_object(text, len, &j->scratch);
	if (!v)
		v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!v) {
		bad_record(j, out, text, len, "invalid JSON at column %d: %s", jerr.column, jerr.text);
		return;
	}
	if (!json_is_object(v)) {
		bad_record(j, out, text, len, "a line must hold a JSON object, this one holds %s", json_type_name(v));
		json_decref(v);
		return;
	}
	j->data = v;
	out->data = v;
	out->raw = NULL;
	out->error = NULL;
	/* The line itself is the raw record the core stores: it need not write v out again. */
	if (IM_HAS_MEMBER(out, struct im_record, text_len)) {
		out->text = text;
		out->text_len = len;
	}
	if (j->id_field) {
		json_t *id = json_object_get(v, j->id_field);
		if (json_is_string(id)) {
			out->source_id = json_string_value(id);
		} else if (json_is_integer(id)) {
			snprintf(j->idbuf, sizeof j->idbuf, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
			out->source_id = j->idbuf;
		}
	}
}

/* ---- the calls ---- */

static void jsonl_close(void *state)
{
	struct jsonl *j = state;
	if (!j)
		return;
	close_file(j);
	json_decref(j->data);
	for (size_t i = 0; i < j->nfiles; i++)
		free(j->names[i]);
	free(j->names);
	free(j->path);
	free(j->stream);
	free(j->id_field);
	free(j->buf);
	free(j->acc);
	free(j->origin);
	free(j->idtext);
	jsonl_scratch_free(&j->scratch);
	free(j);
}

/* Sets j->index/offset/line from a checkpoint token. */
static int parse_checkpoint(struct jsonl *j, const char *checkpoint, uint64_t *offset, uint64_t *line, char *err,
			    size_t err_size)
{
	json_error_t jerr;
	json_t *cp = json_loads(checkpoint, 0, &jerr);
	json_t *file = json_object_get(cp, "file"), *off = json_object_get(cp, "offset"),
	       *ln = json_object_get(cp, "line");
	int rc = -1;
	if (!json_is_object(cp) || !json_is_integer(off) || json_integer_value(off) < 0 || !json_is_integer(ln) ||
	    json_integer_value(ln) < 0 || !(json_is_string(file) || json_is_integer(file) || json_is_null(file))) {
		set_err(err, err_size, "checkpoint is not a jsonl checkpoint ({\"file\",\"offset\",\"line\"})");
		goto out;
	}
	*offset = (uint64_t)json_integer_value(off);
	*line = (uint64_t)json_integer_value(ln);
	if (json_is_null(file)) {
		j->index = j->nfiles;
	} else if (json_is_integer(file)) {
		json_int_t i = json_integer_value(file);
		if (i < 0 || (size_t)i >= j->nfiles) {
			set_err(err, err_size, "checkpoint names file #%" JSON_INTEGER_FORMAT ", but %s has %zu",
				i, j->path, j->nfiles);
			goto out;
		}
		j->index = (size_t)i;
	} else {
		const char *name = json_string_value(file);
		char **hit = j->nfiles ? bsearch(&name, j->names, j->nfiles, sizeof *j->names, cmp_names) : NULL;
		if (!j->is_dir && j->nfiles && strcmp(name, j->names[0]) != 0)
			hit = NULL;
		if (!hit) {
			set_err(err, err_size, "checkpoint names file '%.200s', which is not in %s", name, j->path);
			goto out;
		}
		j->index = (size_t)(hit - j->names);
	}
	rc = 0;
out:
	json_decref(cp);
	return rc;
}

static int jsonl_open(const struct im_host *host, const json_t *options, const char *checkpoint, void **state,
		      char *err, size_t err_size)
{
	*state = NULL;
	struct jsonl *j = calloc(1, sizeof *j);
	if (!j) {
		set_err(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	j->host = host;
	j->text_records = host && IM_HAS_MEMBER(host, struct im_host, flags) && (host->flags & IM_HOST_TEXT_RECORDS);
	if (parse_options(j, options, err, err_size) < 0 || list_files(j, err, err_size) < 0)
		goto fail;
	if (!(j->buf = malloc(READ_BUF_SIZE))) {
		set_err(err, err_size, "out of memory");
		goto fail;
	}
	uint64_t offset = 0, line = 0;
	if (checkpoint && parse_checkpoint(j, checkpoint, &offset, &line, err, err_size) < 0)
		goto fail;
	j->cp_index = j->index;
	j->cp_offset = offset;
	j->cp_line = line;
	if (j->index < j->nfiles && open_file(j, offset, line, err, err_size) < 0)
		goto fail;
	*state = j;
	return IM_SOURCE_OK;
fail:
	jsonl_close(j);
	return IM_SOURCE_ERROR;
}

static int jsonl_next(void *state, struct im_record *out, char *err, size_t err_size)
{
	struct jsonl *j = state;
	json_decref(j->data);
	j->data = NULL;
	out->stream = j->stream;
	out->data = NULL;
	out->source_id = NULL;
	out->origin = NULL;
	out->raw = NULL;
	out->error = NULL;
	if (IM_HAS_MEMBER(out, struct im_record, text_len)) {
		out->text = NULL;
		out->text_len = 0;
	}
	char why[256];
	while (j->index < j->nfiles) {
		if (!j->gz) {
			if (open_file(j, 0, 0, why, sizeof why) < 0) {
				/* An unreadable file is one dead letter; the other files still count. */
				if (set_origin(j, j->display ? j->display : j->names[j->index], 0) < 0)
					goto oom;
				bad_record(j, out, "", 0, "%s", why);
				out->origin = j->origin;
				close_file(j);
				j->index++;
				j->cp_index = j->index;
				j->cp_offset = j->cp_line = 0;
				return IM_SOURCE_OK;
			}
		}
		const char *text;
		size_t len;
		uint64_t total;
		int rc;
		while ((rc = read_line(j, &text, &len, &total, why, sizeof why)) == 1) {
			j->line++;
			if (total <= j->max_line && len && text[len - 1] == '\r')
				len--, total--;
			if (total <= j->max_line && is_blank(text, len))
				continue;
			if (set_origin(j, j->display, j->line) < 0)
				goto oom;
			make_record(j, out, text, len, total);
			out->origin = j->origin;
			j->cp_index = j->index;
			j->cp_offset = j->offset;
			j->cp_line = j->line;
			return IM_SOURCE_OK;
		}
		if (rc < 0) {
			/* A corrupt or truncated file: report it once, then go on with the next. */
			if (set_origin(j, j->display, j->line + 1) < 0)
				goto oom;
			bad_record(j, out, "", 0, "read error: %s", why);
			out->origin = j->origin;
			close_file(j);
			j->index++;
			j->cp_index = j->index;
			j->cp_offset = j->cp_line = 0;
			return IM_SOURCE_OK;
		}
		close_file(j);
		j->index++;
	}
	return IM_SOURCE_END;
oom:
	set_err(err, err_size, "out of memory");
	return IM_SOURCE_ERROR;
}

static char *jsonl_checkpoint(void *state)
{
	struct jsonl *j = state;
	json_t *cp = json_pack("{s:s?, s:I, s:I}", "file", j->cp_index < j->nfiles ? j->names[j->cp_index] : NULL,
			       "offset", (json_int_t)j->cp_offset, "line", (json_int_t)j->cp_line);
	char *text = cp ? json_dumps(cp, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(cp);
	return text;
}

/* Lines in one file, counted exactly for plain files up to EXACT_COUNT_MAX, else
 * extrapolated from the first SAMPLE_BYTES: by file size for plain files, by
 * compressed bytes consumed (gzoffset) for gzip ones. */
static int estimate_file(const char *path, char *buf, uint64_t *count)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	gzFile gz = gzopen(path, "rb");
	if (!gz)
		return -1;
	gzbuffer(gz, GZ_BUF_SIZE);
	int plain = gzdirect(gz);
	uint64_t limit = plain && (uint64_t)st.st_size <= EXACT_COUNT_MAX ? UINT64_MAX : SAMPLE_BYTES;
	uint64_t lines = 0, bytes = 0;
	char last = '\n';
	int n, complete = 0;
	while (bytes < limit) {
		n = gzread(gz, buf, READ_BUF_SIZE);
		if (n <= 0) {
			complete = n == 0;
			break;
		}
		for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
			lines++;
		last = buf[n - 1];
		bytes += (uint64_t)n;
	}
	if (complete || bytes < limit) {
		lines += last != '\n';
	} else if (bytes) {
		double consumed = plain ? (double)bytes : (double)gzoffset(gz);
		if (consumed > 0)
			lines = (uint64_t)((double)lines * (double)st.st_size / consumed);
	}
	gzclose_r(gz);
	*count = lines;
	return 0;
}

static int jsonl_estimate(void *state, json_t **counts, char *err, size_t err_size)
{
	struct jsonl *j = state;
	char *buf = malloc(READ_BUF_SIZE);
	if (!buf) {
		set_err(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < j->nfiles; i++) {
		char *path = file_path(j, i);
		uint64_t n = 0;
		/* Unreadable files are reported by next(); they count as nothing here. */
		if (path && estimate_file(path, buf, &n) == 0)
			total += n;
		free(path);
	}
	free(buf);
	*counts = json_pack("{s:I}", j->stream, (json_int_t)total);
	if (!*counts) {
		set_err(err, err_size, "out of memory");
		return IM_SOURCE_ERROR;
	}
	return IM_SOURCE_OK;
}

static const struct im_source jsonl_source = {
	.size = sizeof(struct im_source),
	.abi = IMMIGRATE_SOURCE_ABI,
	.name = "jsonl",
	.version = JSONL_VERSION,
	.description = "JSON Lines files, directories of them, gzip-compressed or not",
	.streams = jsonl_streams,
	.capabilities = IM_SOURCE_CAP_READ | IM_SOURCE_CAP_ESTIMATE,
	.open = jsonl_open,
	.next = jsonl_next,
	.checkpoint = jsonl_checkpoint,
	.close = jsonl_close,
	.estimate = jsonl_estimate,
};

const struct im_source *IMMIGRATE_SOURCE_ENTRY(void)
{
	return &jsonl_source;
}
