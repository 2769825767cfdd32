/* A fast path for parsing one JSON Lines line into a Jansson object.
 *
 * json_loadb reads its input through a per-character stream and copies every
 * string through a growing buffer: it was a fifth of the extract's
 * instructions. This parser scans the line in place and builds the same value
 * with the same Jansson calls, for the common case only: a line it is not
 * certain about (anything Jansson would refuse, and a few rare forms it leaves
 * to Jansson: escaped object keys, integers of 19+ digits, reals that overflow,
 * \u0000, nesting deeper than 64) gets NULL, and the caller parses that line
 * with json_loadb, which gives the verdict and the error message.
 *
 * Precondition: the text is valid UTF-8 (the plugin checks every line first);
 * strings are built with json_stringn_nocheck. */
#ifndef IMMIGRATE_JSONL_LINEPARSE_H
#define IMMIGRATE_JSONL_LINEPARSE_H

#include <jansson.h>
#include <stddef.h>

/* Scratch space for decoding escaped strings; zero-initialise, reuse across
 * lines, release with jsonl_scratch_free. */
struct jsonl_scratch {
	char *data;
	size_t cap;
};

/* Parses text[0..len) (not NUL-terminated). Returns a new reference to an
 * object equal to json_loadb(text, len, JSON_DECODE_ANY)'s, with the same key
 * order; or NULL when the line is not a JSON object this parser accepts
 * (including when memory runs out): parse it with json_loadb then. */
json_t *jsonl_parse_object(const char *text, size_t len, struct jsonl_scratch *scratch);

void jsonl_scratch_free(struct jsonl_scratch *scratch);

#endif
