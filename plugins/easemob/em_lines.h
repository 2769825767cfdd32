/* Bounded line reading over a plain or gzip-compressed file.
 *
 * Every input of the Easemob plugin is "one JSON object per line", possibly
 * gzip-compressed (history files arrive as .gz). zlib's gzread reads plain files
 * transparently, so one reader serves both. Memory is bounded by max_line: a
 * longer line is consumed up to its newline without being kept (its first bytes
 * are kept for the bad-record report) and reported as too long. */
#ifndef EM_LINES_H
#define EM_LINES_H

#include <stddef.h>
#include <stdint.h>

struct em_lines;

/* Result of em_lines_next(). */
enum em_line_kind {
	EM_LINE_EOF = 0,      /* no more lines */
	EM_LINE_OK = 1,       /* a complete line (without '\n' and trailing '\r') */
	EM_LINE_TOO_LONG = 2, /* a line over max_line bytes; text holds its first bytes */
	EM_LINE_ERROR = -1,   /* read or decompression failure; err says why */
};

/* Opens path for reading from its start. max_line is the largest line kept.
 * Returns a reader the caller releases with em_lines_close(), or NULL with err
 * filled (the path and the reason). */
struct em_lines *em_lines_open(const char *path, size_t max_line, char *err, size_t err_size);

/* Reads the next line. On EM_LINE_OK / EM_LINE_TOO_LONG, *text and *len describe
 * the line (borrowed until the next call; NUL-terminated). After any call,
 * em_lines_offset() is the byte offset (in uncompressed bytes) just past what was
 * consumed and em_lines_number() the number of lines consumed. A truncated or
 * corrupt gzip stream gives EM_LINE_ERROR once the readable part is consumed. */
int em_lines_next(struct em_lines *r, const char **text, size_t *len, char *err, size_t err_size);

uint64_t em_lines_offset(const struct em_lines *r);
uint64_t em_lines_number(const struct em_lines *r);

/* Closes the file. NULL is fine. */
void em_lines_close(struct em_lines *r);

/* Counts the lines of path (a final line without '\n' counts) without keeping
 * them; calls cb(line, len, ud) for each line's first bytes (at most 256) when cb
 * is not NULL. Returns the count, or -1 with err filled. */
int64_t em_lines_count(const char *path, void (*cb)(const char *head, size_t len, void *ud), void *ud,
		       char *err, size_t err_size);

#endif
