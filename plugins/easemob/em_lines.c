/* Bounded line reader over zlib's gzFile (plain files are read transparently). */
#include "em_lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Bytes of an over-long line kept for the bad-record report. */
#define EM_LINES_HEAD 256
#define EM_LINES_CHUNK 65536

struct em_lines {
	gzFile gz;
	char *buf;       /* buf[pos..len) is read but not yet consumed */
	size_t cap, len, pos;
	size_t max_line;
	uint64_t offset; /* uncompressed bytes consumed */
	uint64_t number; /* lines consumed */
	int eof;
	char head[EM_LINES_HEAD + 1];
	char *path;
};

struct em_lines *em_lines_open(const char *path, size_t max_line, char *err, size_t err_size)
{
	struct em_lines *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, err_size, "%s: out of memory", path);
		return NULL;
	}
	r->max_line = max_line;
	r->cap = max_line + EM_LINES_CHUNK + 1;
	r->buf = malloc(r->cap);
	r->path = strdup(path);
	if (!r->buf || !r->path) {
		snprintf(err, err_size, "%s: out of memory", path);
		em_lines_close(r);
		return NULL;
	}
	r->gz = gzopen(path, "rb");
	if (!r->gz) {
		snprintf(err, err_size, "%s: %s", path, errno ? strerror(errno) : "cannot open");
		em_lines_close(r);
		return NULL;
	}
	gzbuffer(r->gz, EM_LINES_CHUNK);
	return r;
}

/* Reads more bytes after compacting; returns bytes read, 0 at EOF, -1 on error. */
static int fill(struct em_lines *r, char *err, size_t err_size)
{
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	size_t room = r->cap - 1 - r->len;
	if (room == 0)
		return 0;
	if (room > EM_LINES_CHUNK)
		room = EM_LINES_CHUNK;
	int n = gzread(r->gz, r->buf + r->len, (unsigned)room);
	if (n < 0) {
		int zerr;
		const char *msg = gzerror(r->gz, &zerr);
		snprintf(err, err_size, "%s: read failed after %llu bytes: %s", r->path,
			 (unsigned long long)r->offset, msg ? msg : "unknown error");
		return -1;
	}
	if (n == 0) {
		int zerr;
		const char *msg = gzerror(r->gz, &zerr);
		if (zerr != Z_OK && zerr != Z_STREAM_END) {
			snprintf(err, err_size, "%s: read failed after %llu bytes: %s", r->path,
				 (unsigned long long)r->offset, msg ? msg : "unknown error");
			return -1;
		}
		r->eof = 1;
	}
	r->len += (size_t)n;
	return n;
}

static void take_line(struct em_lines *r, size_t end, size_t consumed, const char **text, size_t *len)
{
	size_t n = end - r->pos;
	if (n > 0 && r->buf[r->pos + n - 1] == '\r')
		n--;
	r->buf[r->pos + n] = '\0';
	*text = r->buf + r->pos;
	*len = n;
	r->pos += consumed;
	r->offset += consumed;
	r->number++;
}

int em_lines_next(struct em_lines *r, const char **text, size_t *len, char *err, size_t err_size)
{
	size_t scanned = 0; /* bytes of buf[pos..] already known to hold no '\n' */
	for (;;) {
		char *nl = memchr(r->buf + r->pos + scanned, '\n', r->len - r->pos - scanned);
		if (nl) {
			size_t end = (size_t)(nl - r->buf);
			if (end - r->pos > r->max_line)
				break; /* too long, though whole in the buffer */
			take_line(r, end, end - r->pos + 1, text, len);
			return EM_LINE_OK;
		}
		scanned = r->len - r->pos;
		if (scanned > r->max_line)
			break; /* too long: skip to the newline below */
		if (r->eof) {
			if (scanned == 0)
				return EM_LINE_EOF;
			take_line(r, r->len, scanned, text, len);
			return EM_LINE_OK;
		}
		int n = fill(r, err, err_size);
		if (n < 0)
			return EM_LINE_ERROR;
	}

	/* An over-long line: keep its head, drop the rest up to and including '\n'. */
	size_t head_len = r->len - r->pos;
	if (head_len > EM_LINES_HEAD)
		head_len = EM_LINES_HEAD;
	memcpy(r->head, r->buf + r->pos, head_len);
	r->head[head_len] = '\0';
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (nl) {
			size_t consumed = (size_t)(nl - (r->buf + r->pos)) + 1;
			r->pos += consumed;
			r->offset += consumed;
			break;
		}
		r->offset += r->len - r->pos;
		r->pos = r->len;
		if (r->eof)
			break;
		if (fill(r, err, err_size) < 0)
			return EM_LINE_ERROR;
	}
	r->number++;
	*text = r->head;
	*len = head_len;
	return EM_LINE_TOO_LONG;
}

uint64_t em_lines_offset(const struct em_lines *r)
{
	return r->offset;
}

uint64_t em_lines_number(const struct em_lines *r)
{
	return r->number;
}

void em_lines_close(struct em_lines *r)
{
	if (!r)
		return;
	if (r->gz)
		gzclose(r->gz);
	free(r->buf);
	free(r->path);
	free(r);
}

int64_t em_lines_count(const char *path, void (*cb)(const char *head, size_t len, void *ud), void *ud,
		       char *err, size_t err_size)
{
	/* A small max_line: only the head of each line is needed, the rest is skipped. */
	struct em_lines *r = em_lines_open(path, EM_LINES_HEAD, err, err_size);
	if (!r)
		return -1;
	int64_t count = 0;
	for (;;) {
		const char *text;
		size_t len;
		int k = em_lines_next(r, &text, &len, err, err_size);
		if (k == EM_LINE_EOF)
			break;
		if (k == EM_LINE_ERROR) {
			em_lines_close(r);
			return -1;
		}
		count++;
		if (cb)
			cb(text, len, ud);
	}
	em_lines_close(r);
	return count;
}
