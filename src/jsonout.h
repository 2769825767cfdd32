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
#include <stdint.h>

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

/* Appenders for text built piece by piece (not NUL-terminated until a writer
 * above terminates it; room for one more byte is always kept). Each returns
 * 0, or -1 when out of memory (b then holds what it held before the call). */
int im_jbuf_append(struct im_jbuf *b, const char *s, size_t n);
/* s as a JSON string literal (lower-case \u escapes), or null when s is NULL. */
int im_jbuf_append_string(struct im_jbuf *b, const char *s);

/* Writes the decimal text of n at out (room for 20 bytes; not NUL-terminated)
 * and returns its length. */
size_t im_json_int(char *out, int64_t n);

struct imv;

/* The same text for an arena tree (imval.h; its objects are sorted already),
 * appended to b's content. upper_hex: \u escapes in upper case as
 * json_dumps writes them, for text that must equal Jansson's (dead letters,
 * dedupe keys). Returns 0, or -1 when out of memory or nested deeper than 256
 * levels. */
int im_imv_append(struct im_jbuf *b, const struct imv *v, int upper_hex);

/* As im_imv_append, replacing b's content. */
int im_imv_write(struct im_jbuf *b, const struct imv *v, int upper_hex);

/* An integer member added to an object while writing it (or, with skip, the
 * name of one left out). */
struct im_jextra {
	const char *key;
	size_t klen; /* strlen(key) */
	int64_t value;
};

/* Replaces b's content with object obj without its members named in the nskip
 * skip[].key and with the nextra members of extra (sorted by key, none of them
 * a member of obj) merged in at their place in key order. Returns 0, or -1
 * when obj is not an object, out of memory or too deep. */
int im_imv_write_object(struct im_jbuf *b, const struct imv *obj, const struct im_jextra *skip, size_t nskip,
			const struct im_jextra *extra, size_t nextra, int upper_hex);

#endif
