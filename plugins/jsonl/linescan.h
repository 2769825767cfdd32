/* Checks one JSON Lines line without building anything, for the runners that
 * take records as text (IM_HOST_TEXT_RECORDS).
 *
 * A line the scanner passes is certainly one JSON object that
 * json_loadb(text, len, JSON_DECODE_ANY) accepts: JSON syntax and whitespace,
 * strings without control characters, valid escapes with paired surrogates and
 * no \u0000, integers within int64 and reals that cannot overflow. Anything it
 * is not certain about (also: values nested deeper than 64 levels, integers of
 * 19+ digits, reals with big exponents, an escaped top-level key while id_field
 * is asked for, an escaped id string) fails the scan, and the caller parses the
 * line fully, which gives the verdict and the message as before.
 *
 * Precondition: the text is valid UTF-8 (the plugin checks every line first). */
#ifndef IMMIGRATE_JSONL_LINESCAN_H
#define IMMIGRATE_JSONL_LINESCAN_H

#include <stddef.h>

/* The source id found by the scan: the last top-level member named id_field
 * (Jansson keeps the last of duplicate keys), when it is a string or an
 * integer; the text to use is [text, text + len) (a string's body, which the
 * scan made sure has no escapes, or an integer's canonical digits). */
struct jsonl_scan_id {
	const char *text; /* NULL: no usable id member */
	size_t len;
};

/* Returns 1 when text[0..len) passes (*id filled when id_field is not NULL), 0
 * when the line must be parsed fully. */
int jsonl_scan_object(const char *text, size_t len, const char *id_field, struct jsonl_scan_id *id);

#endif
