/* Compact, optionally key-sorted JSON serialiser (see jsonout.h). */
#include "config.h"

#include "jsonout.h"
#include "imval.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256
#define SMALL_OBJECT 32

static int grow(struct im_jbuf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 512;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* Room for extra more bytes and a NUL. */
static inline int reserve(struct im_jbuf *b, size_t extra)
{
	return b->len + extra + 1 <= b->cap ? 0 : grow(b, extra);
}

static int put(struct im_jbuf *b, const char *s, size_t n)
{
	if (reserve(b, n))
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* Writes s as a JSON string literal at p, which has room for n * 6 + 2 bytes
 * (every byte a \u00XX); returns the end. */
static char *escape(char *p, const char *s, size_t n, const char *hex)
{
	*p++ = '"';
	size_t i = 0;
	for (;;) {
		/* Eight bytes at a time while none needs escaping (the usual case). */
		uint64_t w;
		while (i + 8 <= n) {
			memcpy(&w, s + i, 8);
			if (imv_word_needs_escape(w))
				break;
			memcpy(p, s + i, 8);
			p += 8;
			i += 8;
		}
		/* A tail under eight bytes: the last eight bytes as one word when the
		 * string has them; rewriting bytes already copied as they were is
		 * harmless, as none of that word needs escaping. */
		if (i < n && i + 8 > n && n >= 8) {
			memcpy(&w, s + n - 8, 8);
			if (!imv_word_needs_escape(w)) {
				size_t back = i - (n - 8);
				memcpy(p - back, s + n - 8, 8);
				p += 8 - back;
				i = n;
			}
		}
		/* Byte by byte up to the next byte to escape (short strings: all). */
		for (; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
			*p++ = (char)c;
		}
		if (i >= n)
			break;
		unsigned char c = (unsigned char)s[i++];
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\b': *p++ = 'b'; break;
		case '\f': *p++ = 'f'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		default:
			*p++ = 'u';
			*p++ = '0';
			*p++ = '0';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p++ = '"';
	return p;
}

static int put_string(struct im_jbuf *b, const char *s, size_t n, const char *hex)
{
	if (reserve(b, n * 6 + 2))
		return -1;
	b->len = (size_t)(escape(b->data + b->len, s, n, hex) - b->data);
	return 0;
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				     "8081828384858687888990919293949596979899";

size_t im_json_int(char *out, int64_t n)
{
	uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	static const uint64_t pow10[19] = {
		10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
		1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
		100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
		1000000000000000000ull, 10000000000000000000ull,
	};
	size_t digits = 1;
	while (digits < 20 && u >= pow10[digits - 1])
		digits++;
	size_t len = digits + (n < 0);
	char *p = out + len;
	/* Two digits a step, from the end. */
	while (u >= 100) {
		unsigned r = (unsigned)(u % 100);
		u /= 100;
		*--p = digit_pairs[2 * r + 1];
		*--p = digit_pairs[2 * r];
	}
	if (u >= 10) {
		*--p = digit_pairs[2 * u + 1];
		*--p = digit_pairs[2 * u];
	} else {
		*--p = (char)('0' + u);
	}
	if (n < 0)
		*--p = '-';
	return len;
}

static int put_integer(struct im_jbuf *b, json_int_t n)
{
	if (reserve(b, 20))
		return -1;
	b->len += im_json_int(b->data + b->len, n);
	return 0;
}

static int put_real(struct im_jbuf *b, double d)
{
	char tmp[40];
	int n = snprintf(tmp, sizeof tmp, "%.17g", d);
	if (n < 0 || (size_t)n >= sizeof tmp - 3)
		return -1;
	/* As Jansson: no '+' and no leading zeros in the exponent ("1e20"). */
	char *e = strchr(tmp, 'e');
	if (e) {
		char *start = e + 1, *end = e + 2;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, strlen(end) + 1);
			n = (int)strlen(tmp);
		}
	}
	/* Jansson marks reals that print like integers, so they read back as reals. */
	if (!strpbrk(tmp, ".eE") && strcmp(tmp, "inf") && strcmp(tmp, "-inf") && strcmp(tmp, "nan")) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	return put(b, tmp, (size_t)n);
}

struct key {
	const char *s;
	size_t len;
	json_t *v;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int write_value(struct im_jbuf *b, const json_t *v, int sort, int depth);

static int write_object(struct im_jbuf *b, const json_t *v, int sort, int depth)
{
	size_t n = json_object_size(v);
	if (put(b, "{", 1))
		return -1;
	struct key small[SMALL_OBJECT], *keys = small;
	if (sort && n > SMALL_OBJECT && !(keys = malloc(n * sizeof *keys)))
		return -1;
	size_t i = 0;
	const char *k;
	size_t klen;
	json_t *item;
	int rc = 0;
	json_object_keylen_foreach((json_t *)v, k, klen, item) {
		if (!sort) {
			if ((i++ && put(b, ",", 1)) || put_string(b, k, klen, hex_lower) || put(b, ":", 1) ||
			    write_value(b, item, sort, depth + 1)) {
				rc = -1;
				break;
			}
			continue;
		}
		keys[i].s = k;
		keys[i].len = klen;
		keys[i].v = item;
		i++;
	}
	if (sort && !rc) {
		/* Objects here are small: insertion sort beats qsort's calls. */
		if (n <= SMALL_OBJECT) {
			for (size_t a = 1; a < n; a++) {
				struct key t = keys[a];
				size_t z = a;
				while (z > 0 && key_cmp(&keys[z - 1], &t) > 0) {
					keys[z] = keys[z - 1];
					z--;
				}
				keys[z] = t;
			}
		} else {
			qsort(keys, n, sizeof *keys, key_cmp);
		}
		for (size_t a = 0; a < n && !rc; a++)
			if ((a && put(b, ",", 1)) || put_string(b, keys[a].s, keys[a].len, hex_lower) || put(b, ":", 1) ||
			    write_value(b, keys[a].v, sort, depth + 1))
				rc = -1;
	}
	if (keys != small)
		free(keys);
	return rc ? -1 : put(b, "}", 1);
}

static int write_value(struct im_jbuf *b, const json_t *v, int sort, int depth)
{
	if (depth > MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return write_object(b, v, sort, depth);
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		if (put(b, "[", 1))
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((i && put(b, ",", 1)) || write_value(b, json_array_get(v, i), sort, depth + 1))
				return -1;
		return put(b, "]", 1);
	}
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v), hex_lower);
	case JSON_INTEGER:
		return put_integer(b, json_integer_value(v));
	case JSON_REAL:
		return put_real(b, json_real_value(v));
	case JSON_TRUE:
		return put(b, "true", 4);
	case JSON_FALSE:
		return put(b, "false", 5);
	case JSON_NULL:
		return put(b, "null", 4);
	}
	return -1;
}

int im_json_write(struct im_jbuf *b, const json_t *v, int sort_keys)
{
	b->len = 0;
	if (!v || write_value(b, v, sort_keys, 0) || reserve(b, 0))
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

/* ---- the arena tree ---- */

static inline int put_ch(struct im_jbuf *b, char c)
{
	if (reserve(b, 1))
		return -1;
	b->data[b->len++] = c;
	return 0;
}

/* "s", known to need no escaping. */
static char *plain_string(char *p, const char *s, size_t n)
{
	*p++ = '"';
	memcpy(p, s, n);
	p += n;
	*p++ = '"';
	return p;
}

/* [,]"key": */
static int put_key(struct im_jbuf *b, const char *key, size_t klen, int plain, const char *hex, int first)
{
	if (reserve(b, klen * 6 + 4))
		return -1;
	char *p = b->data + b->len;
	if (!first)
		*p++ = ',';
	p = plain ? plain_string(p, key, klen) : escape(p, key, klen, hex);
	*p++ = ':';
	b->len = (size_t)(p - b->data);
	return 0;
}

static int imv_value(struct im_jbuf *b, const struct imv *v, const char *hex, int depth);

/* Bytes, then length (json_dumps' JSON_SORT_KEYS). Keys differ early: a
 * loop beats memcmp's call. */
static inline int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	return (alen > blen) - (alen < blen);
}

static int member_cmp(const struct imv_member *x, const struct imv_member *y)
{
	return bytes_cmp(x->key, x->klen, y->key, y->klen);
}

static int member_qcmp(const void *a, const void *b)
{
	return member_cmp(*(const struct imv_member *const *)a, *(const struct imv_member *const *)b);
}

/* Sorts m[0..n) into key order (bytes, then length: json_dumps' JSON_SORT_KEYS). */
static void sort_members(const struct imv_member **m, size_t n)
{
	if (n > SMALL_OBJECT) {
		qsort(m, n, sizeof *m, member_qcmp);
		return;
	}
	for (size_t a = 1; a < n; a++) {
		const struct imv_member *t = m[a];
		size_t z = a;
		while (z > 0 && member_cmp(m[z - 1], t) > 0) {
			m[z] = m[z - 1];
			z--;
		}
		m[z] = t;
	}
}

/* {members m[0..n) (sorted) with extra merged in}. */
static int imv_members(struct im_jbuf *b, const struct imv_member *const *m, size_t n,
		       const struct im_jextra *extra, size_t nextra, const char *hex, int depth)
{
	if (put_ch(b, '{'))
		return -1;
	int first = 1;
	size_t x = 0;
	for (size_t i = 0; i <= n; i++) {
		/* Extra keys are never among the members: merge by key order. */
		for (; x < nextra; x++) {
			if (i < n && bytes_cmp(extra[x].key, extra[x].klen, m[i]->key, m[i]->klen) > 0)
				break;
			if (put_key(b, extra[x].key, extra[x].klen, 0, hex, first) || put_integer(b, extra[x].value))
				return -1;
			first = 0;
		}
		if (i == n)
			break;
		if (put_key(b, m[i]->key, m[i]->klen, m[i]->val.key_plain, hex, first) ||
		    imv_value(b, &m[i]->val, hex, depth + 1))
			return -1;
		first = 0;
	}
	return put_ch(b, '}');
}

/* obj's members, sorted, into small (or a malloc'd array returned in *out). */
static int sorted_members(const struct imv *obj, const struct imv_member **small, const struct imv_member ***out,
			  const struct im_jextra *skip, size_t nskip, size_t *n)
{
	const struct imv_member **m = small;
	if (obj->len > SMALL_OBJECT && !(m = malloc(obj->len * sizeof *m)))
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < obj->len; i++) {
		const struct imv_member *x = &obj->u.members[i];
		size_t s = 0;
		while (s < nskip && !(skip[s].klen == x->klen && !bytes_cmp(skip[s].key, x->klen, x->key, x->klen)))
			s++;
		if (s == nskip)
			m[k++] = x;
	}
	sort_members(m, k);
	*out = m;
	*n = k;
	return 0;
}

static int imv_object(struct im_jbuf *b, const struct imv *obj, const struct im_jextra *skip, size_t nskip,
		      const struct im_jextra *extra, size_t nextra, const char *hex, int depth)
{
	const struct imv_member *small[SMALL_OBJECT], **m;
	size_t n;
	if (sorted_members(obj, small, &m, skip, nskip, &n))
		return -1;
	int rc = imv_members(b, m, n, extra, nextra, hex, depth);
	if (m != small)
		free(m);
	return rc;
}

static int imv_value(struct im_jbuf *b, const struct imv *v, const char *hex, int depth)
{
	if (depth > MAX_DEPTH)
		return -1;
	switch (v->type) {
	case IMV_OBJECT:
		return imv_object(b, v, NULL, 0, NULL, 0, hex, depth);
	case IMV_ARRAY:
		if (put_ch(b, '['))
			return -1;
		for (size_t i = 0; i < v->len; i++)
			if ((i && put_ch(b, ',')) || imv_value(b, &v->u.items[i], hex, depth + 1))
				return -1;
		return put_ch(b, ']');
	case IMV_STRING:
		if (!v->plain)
			return put_string(b, v->u.s, v->len, hex);
		if (reserve(b, v->len + 2))
			return -1;
		b->len = (size_t)(plain_string(b->data + b->len, v->u.s, v->len) - b->data);
		return 0;
	case IMV_INT:
		return put_integer(b, v->u.i);
	case IMV_REAL:
		return put_real(b, v->u.d);
	case IMV_TRUE:
		return put(b, "true", 4);
	case IMV_FALSE:
		return put(b, "false", 5);
	case IMV_NULL:
		return put(b, "null", 4);
	}
	return -1;
}

static int terminate(struct im_jbuf *b)
{
	if (reserve(b, 0))
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

int im_imv_append(struct im_jbuf *b, const struct imv *v, int upper_hex)
{
	return imv_value(b, v, upper_hex ? hex_upper : hex_lower, 0) || terminate(b) ? -1 : 0;
}

int im_imv_write(struct im_jbuf *b, const struct imv *v, int upper_hex)
{
	b->len = 0;
	return im_imv_append(b, v, upper_hex);
}

int im_imv_write_object(struct im_jbuf *b, const struct imv *obj, const struct im_jextra *skip, size_t nskip,
			const struct im_jextra *extra, size_t nextra, int upper_hex)
{
	b->len = 0;
	if (!imv_is_object(obj))
		return -1;
	const char *hex = upper_hex ? hex_upper : hex_lower;
	return imv_object(b, obj, skip, nskip, extra, nextra, hex, 0) || terminate(b) ? -1 : 0;
}

int im_jbuf_set(struct im_jbuf *b, const char *s, size_t n)
{
	b->len = 0;
	if (put(b, s, n))
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

void im_jbuf_free(struct im_jbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int im_jbuf_append(struct im_jbuf *b, const char *s, size_t n)
{
	return put(b, s, n);
}

int im_jbuf_append_string(struct im_jbuf *b, const char *s)
{
	return s ? put_string(b, s, strlen(s), hex_lower) : put(b, "null", 4);
}
