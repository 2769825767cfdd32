/* A read-only JSON value tree in an arena: what the rules (imrules.c) and the
 * record validator (imrecord.c) read. The staging hot path builds it straight
 * from Lua tables (script.c) instead of Jansson objects, whose every object is
 * a hash table and every key and string a separate allocation; callers holding
 * Jansson values convert them with imv_from_json, so the rules exist once.
 *
 * Objects keep their members in the order they were made (lua_next's, or the
 * Jansson object's): a record with several bad fields is reported by the first
 * in that order, as it always was. Writers sort (jsonout.h). Strings and keys are NUL-terminated copies that also
 * carry their length (they may hold NUL bytes, as Jansson strings may). */
#ifndef IMMIGRATE_IMVAL_H
#define IMMIGRATE_IMVAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum imv_type { IMV_NULL, IMV_FALSE, IMV_TRUE, IMV_INT, IMV_REAL, IMV_STRING, IMV_ARRAY, IMV_OBJECT };

struct imv_member;

struct imv {
	enum imv_type type;
	/* Known to need no JSON escaping (no byte < 0x20, '"' or '\\'): plain for
	 * this string, key_plain for the key of the member this is the value of.
	 * 0 when not known: writers then escape. */
	uint8_t plain, key_plain;
	size_t len; /* string bytes, array items or object members */
	union {
		int64_t i;
		double d;
		const char *s;
		struct imv *items;
		struct imv_member *members;
	} u;
};

struct imv_member {
	const char *key;
	size_t klen;
	struct imv val;
};

/* Bump allocator; everything in it is freed at once. Zero-initialise. */
struct imv_chunk;
struct imv_arena {
	struct imv_chunk *chunks;
	unsigned char *cur, *end; /* free space of the newest chunk */
};

void *imv_alloc_chunk(struct imv_arena *a, size_t n);

/* n bytes aligned for any imv, or NULL when out of memory. */
static inline void *imv_alloc(struct imv_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if ((size_t)(a->end - a->cur) < n)
		return imv_alloc_chunk(a, n);
	void *p = a->cur;
	a->cur += n;
	return p;
}
/* A NUL-terminated copy of s[0..n), or NULL when out of memory. */
char *imv_strdup(struct imv_arena *a, const char *s, size_t n);
/* Forgets everything allocated; keeps one chunk of moderate size for reuse. */
void imv_arena_reset(struct imv_arena *a);
void imv_arena_free(struct imv_arena *a);

/* A copy of v in a (members in the object's order). Returns 0, or -1 when out of memory. */
int imv_from_json(struct imv_arena *a, const json_t *v, struct imv *out);

/* A new Jansson value equal to v (members in v's order), owned by the caller;
 * NULL when out of memory. */
json_t *imv_to_json(const struct imv *v);

/* Non-zero when one of the 8 bytes of w is < 0x20, '"' or '\\' (exact as an
 * answer to "any?"; which byte it flags is not). */
static inline uint64_t imv_word_needs_escape(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
	return ((w - ones * 0x20) | (quote - ones) | (slash - ones)) & ~w & high;
}

/* Accessors with Jansson's answers for the wrong type or an absent (NULL) value. */
static inline bool imv_is_string(const struct imv *v) { return v && v->type == IMV_STRING; }
static inline bool imv_is_integer(const struct imv *v) { return v && v->type == IMV_INT; }
static inline bool imv_is_number(const struct imv *v) { return v && (v->type == IMV_INT || v->type == IMV_REAL); }
static inline bool imv_is_array(const struct imv *v) { return v && v->type == IMV_ARRAY; }
static inline bool imv_is_object(const struct imv *v) { return v && v->type == IMV_OBJECT; }
static inline bool imv_is_null(const struct imv *v) { return v && v->type == IMV_NULL; }
static inline const char *imv_string(const struct imv *v) { return imv_is_string(v) ? v->u.s : NULL; }
static inline size_t imv_string_length(const struct imv *v) { return imv_is_string(v) ? v->len : 0; }
static inline int64_t imv_integer(const struct imv *v) { return imv_is_integer(v) ? v->u.i : 0; }
static inline size_t imv_array_size(const struct imv *v) { return imv_is_array(v) ? v->len : 0; }
static inline const struct imv *imv_array_get(const struct imv *v, size_t i)
{
	return imv_is_array(v) && i < v->len ? &v->u.items[i] : NULL;
}

/* As json_array_foreach. */
#define imv_array_foreach(arr, index, value)                                                              \
	for (index = 0; index < imv_array_size(arr) && (value = imv_array_get(arr, index)); index++)

/* The member named key[0..klen) of obj, or NULL (absent, or obj is not an
 * object). Inline, with a byte loop: keys are short and a lookup is on every
 * path of the validator. */
static inline const struct imv *imv_getn(const struct imv *obj, const char *key, size_t klen)
{
	if (!imv_is_object(obj))
		return NULL;
	for (size_t i = 0; i < obj->len; i++) {
		const struct imv_member *m = &obj->u.members[i];
		if (m->klen != klen)
			continue;
		size_t j = 0;
		while (j < klen && m->key[j] == key[j])
			j++;
		if (j == klen)
			return &m->val;
	}
	return NULL;
}

/* The same for a C string (inline: strlen of a literal costs nothing). */
static inline const struct imv *imv_get(const struct imv *obj, const char *key)
{
	return imv_getn(obj, key, strlen(key));
}

#endif
