/* Compact JSON text of a Jansson value into a reusable buffer: the staging hot
 * path's serialiser (Jansson's dumper sorts keys through heap arrays and prints
 * integers with snprintf, which cost a tenth of staging a message).
 *
 * Output equals json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY [| JSON_SORT_KEYS])
 * for the values the stage holds: strings escaped the same way (", \, control
 * characters; UTF-8 passes through) except that \u escapes use lower-case hex
 * (\u001f where Jansson writes \u001F: kept, because the derived MsgSeq/MsgRandom
 * of records already staged hash this text), reals as "%.17g" with ".0" when
 * integral. */
#ifndef IMMIGRATE_JSONOUT_H
#define IMMIGRATE_JSONOUT_H

#include <jansson.h>
#include <stddef.h>

struct im_jbuf {
	char *data; /* NUL-terminated after a successful write */
	size_t len, cap;
};

/* Replaces b's content with the text of v. sort_keys: object keys in byte order
 * (deterministic whatever order the object was built in). Returns 0, or -1 when
 * out of memory or nested deeper than 256 levels. */
int im_json_write(struct im_jbuf *b, const json_t *v, int sort_keys);

/* Replaces b's content with the n bytes at s (JSON text someone else already
 * wrote), NUL-terminated. Returns 0, or -1 when out of memory. */
int im_jbuf_set(struct im_jbuf *b, const char *s, size_t n);

void im_jbuf_free(struct im_jbuf *b);

#endif
