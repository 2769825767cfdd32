/* Incremental scanner for one JSON document shaped like {"key": [ {...}, {...} ], ...}.
 *
 * Sendbird export files are single JSON documents that can be gigabytes long; a
 * DOM parser would hold the whole file. This scanner only tracks strings, escapes
 * and bracket nesting, so it can walk the top-level object key by key and hand out
 * one array element's bytes at a time (to be parsed by Jansson), with memory
 * bounded by the largest element allowed (max_value).
 *
 * It does not validate what is inside an element: that is the parser's job. It
 * does detect what breaks element boundaries (mismatched brackets, end of input
 * inside a value, garbage between elements); those are structural errors after
 * which the rest of the document cannot be trusted. */
#ifndef SENDBIRD_JSON_ARRAY_STREAM_H
#define SENDBIRD_JSON_ARRAY_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to len bytes into buf. Returns the count, 0 at end of input, -1 on a
 * read error (the scanner then reports JAS_ERROR with "read error"). */
typedef ssize_t (*jas_read_fn)(void *ctx, void *buf, size_t len);

enum jas_status {
	JAS_ERROR = -1,    /* structural or read error: jas_error() says what and where */
	JAS_END = 0,       /* no more keys / elements */
	JAS_VALUE = 1,     /* a key, an element or a value is ready */
	JAS_OVERSIZED = 2, /* an element larger than max_value was skipped; scanning goes on */
	JAS_NOT_ARRAY = 3, /* jas_enter_array: the value is not an array (nothing consumed) */
};

struct jas;

/* A scanner reading through read(ctx). Elements and values larger than max_value
 * bytes are skipped and reported as JAS_OVERSIZED. Returns NULL when out of memory.
 * The caller keeps ownership of ctx; free the scanner with jas_free(). */
struct jas *jas_new(jas_read_fn read, void *ctx, size_t max_value);
void jas_free(struct jas *s);

/* Advances to the next key of the top-level object (the opening '{' is consumed on
 * the first call; a UTF-8 BOM is allowed). The key, unescaped only for \" and \\,
 * is available from jas_key(). Returns JAS_VALUE (positioned before the key's
 * value), JAS_END at the closing '}', or JAS_ERROR. The value of the previous key
 * must have been consumed (skipped, read or iterated to its end). */
int jas_next_key(struct jas *s);
const char *jas_key(const struct jas *s);

/* Consumes the current key's value without keeping it. JAS_VALUE or JAS_ERROR. */
int jas_skip_value(struct jas *s);

/* Captures the current key's value whole (e.g. an object). JAS_VALUE with the bytes
 * in jas_value(), JAS_OVERSIZED (skipped), or JAS_ERROR. */
int jas_read_value(struct jas *s);

/* When the current key's value is an array, consumes the '[' and returns JAS_VALUE;
 * otherwise returns JAS_NOT_ARRAY and consumes nothing. */
int jas_enter_array(struct jas *s);

/* The next element of the array entered with jas_enter_array(): JAS_VALUE (bytes in
 * jas_value()), JAS_OVERSIZED (skipped; jas_value() holds its first bytes for the
 * error report), JAS_END after the closing ']', or JAS_ERROR. */
int jas_next_element(struct jas *s);

/* With capture off, elements and values are scanned but not kept (counting passes):
 * jas_value() is then empty and JAS_OVERSIZED never happens. On by default. */
void jas_set_capture(struct jas *s, int on);

/* The bytes of the last value or element. Borrowed until the next call; NUL-terminated. */
const char *jas_value(const struct jas *s, size_t *len);

/* Byte offset and 1-based line where the last value or element started. */
uint64_t jas_value_offset(const struct jas *s);
uint64_t jas_value_line(const struct jas *s);

/* Bytes consumed so far, and the line the scanner is on: together, the resume point
 * right after the last element returned. */
uint64_t jas_offset(const struct jas *s);
uint64_t jas_line(const struct jas *s);

/* Resumes inside an array: discards input up to offset (a value of jas_offset()
 * taken right after an element was returned, on the same input) and continues as if
 * that element had just been returned. line is the matching jas_line(). JAS_VALUE,
 * or JAS_ERROR when the input is shorter than offset or does not continue with ','
 * or ']' there (the input changed since the checkpoint). */
int jas_resume_in_array(struct jas *s, uint64_t offset, uint64_t line);

/* The last error as "byte N (line L): reason". Borrowed; empty when none. */
const char *jas_error(const struct jas *s);

#endif
