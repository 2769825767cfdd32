/* The arena value tree (see imval.h). */
#include "config.h"

#include "imval.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN (64u * 1024)
/* A chunk kept across resets: larger ones (one huge record) go back to malloc,
 * so memory stays flat. */
#define CHUNK_KEEP_MAX (1024u * 1024)
#define ALIGN 16 /* as imv_alloc rounds */

struct imv_chunk {
	struct imv_chunk *next;
	size_t size; /* bytes of data[] */
	_Alignas(ALIGN) unsigned char data[];
};

void *imv_alloc_chunk(struct imv_arena *a, size_t n)
{
	/* n is rounded to ALIGN by imv_alloc; the rest of the old chunk is left. */
	struct imv_chunk *c = a->chunks;
	size_t size = c && c->size * 2 > CHUNK_MIN ? c->size * 2 : CHUNK_MIN;
	if (size < n)
		size = n;
	struct imv_chunk *fresh = malloc(sizeof *fresh + size);
	if (!fresh)
		return NULL;
	fresh->next = c;
	fresh->size = size;
	a->chunks = fresh;
	a->cur = fresh->data + n;
	a->end = fresh->data + size;
	return fresh->data;
}

char *imv_strdup(struct imv_arena *a, const char *s, size_t n)
{
	char *p = imv_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void imv_arena_reset(struct imv_arena *a)
{
	struct imv_chunk *keep = NULL;
	for (struct imv_chunk *c = a->chunks, *next; c; c = next) {
		next = c->next;
		if (!keep && c->size <= CHUNK_KEEP_MAX) {
			keep = c;
			continue;
		}
		free(c);
	}
	a->chunks = keep;
	a->cur = a->end = NULL;
	if (keep) {
		keep->next = NULL;
		a->cur = keep->data;
		a->end = keep->data + keep->size;
	}
}

void imv_arena_free(struct imv_arena *a)
{
	for (struct imv_chunk *c = a->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	a->chunks = NULL;
	a->cur = a->end = NULL;
}

int imv_from_json(struct imv_arena *a, const json_t *v, struct imv *out)
{
	out->len = 0;
	out->plain = out->key_plain = 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		struct imv_member *m = n ? imv_alloc(a, n * sizeof *m) : NULL;
		if (n && !m)
			return -1;
		const char *key;
		size_t klen;
		json_t *item;
		json_object_keylen_foreach((json_t *)v, key, klen, item) {
			if (!(m[i].key = imv_strdup(a, key, klen)) || imv_from_json(a, item, &m[i].val))
				return -1;
			m[i++].klen = klen;
		}
		out->type = IMV_OBJECT;
		out->len = n;
		out->u.members = m;
		return 0;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		struct imv *items = n ? imv_alloc(a, n * sizeof *items) : NULL;
		if (n && !items)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (imv_from_json(a, json_array_get(v, i), &items[i]))
				return -1;
		out->type = IMV_ARRAY;
		out->len = n;
		out->u.items = items;
		return 0;
	}
	case JSON_STRING:
		out->type = IMV_STRING;
		out->len = json_string_length(v);
		return (out->u.s = imv_strdup(a, json_string_value(v), out->len)) ? 0 : -1;
	case JSON_INTEGER:
		out->type = IMV_INT;
		out->u.i = json_integer_value(v);
		return 0;
	case JSON_REAL:
		out->type = IMV_REAL;
		out->u.d = json_real_value(v);
		return 0;
	case JSON_TRUE:
		out->type = IMV_TRUE;
		return 0;
	case JSON_FALSE:
		out->type = IMV_FALSE;
		return 0;
	case JSON_NULL:
		out->type = IMV_NULL;
		return 0;
	}
	return -1;
}

json_t *imv_to_json(const struct imv *v)
{
	switch (v->type) {
	case IMV_OBJECT: {
		json_t *o = json_object();
		for (size_t i = 0; o && i < v->len; i++) {
			const struct imv_member *m = &v->u.members[i];
			if (json_object_setn_new_nocheck(o, m->key, m->klen, imv_to_json(&m->val))) {
				json_decref(o);
				o = NULL;
			}
		}
		return o;
	}
	case IMV_ARRAY: {
		json_t *a = json_array();
		for (size_t i = 0; a && i < v->len; i++) {
			if (json_array_append_new(a, imv_to_json(&v->u.items[i]))) {
				json_decref(a);
				a = NULL;
			}
		}
		return a;
	}
	case IMV_STRING:
		return json_stringn_nocheck(v->u.s, v->len);
	case IMV_INT:
		return json_integer((json_int_t)v->u.i);
	case IMV_REAL:
		return json_real(v->u.d);
	case IMV_TRUE:
		return json_true();
	case IMV_FALSE:
		return json_false();
	case IMV_NULL:
		return json_null();
	}
	return NULL;
}
