/* Compact, optionally key-sorted JSON serialiser (see jsonout.h). */
#include "config.h"

#include "jsonout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256
#define SMALL_OBJECT 32

static int reserve(struct im_jbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return 0;
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

static int put(struct im_jbuf *b, const char *s, size_t n)
{
	if (reserve(b, n))
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

static int put_string(struct im_jbuf *b, const char *s, size_t n)
{
	/* Worst case: every byte becomes \u00XX. */
	if (reserve(b, n * 6 + 2))
		return -1;
	char *p = b->data + b->len;
	*p++ = '"';
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		/* Eight bytes at a time while none needs escaping (the usual case):
		 * a byte is < 0x20, '"' or '\\' exactly when its flag bit is set. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
			uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
			uint64_t flags = ((w - ones * 0x20) | (quote - ones) | (slash - ones)) & ~w & high;
			if (flags)
				break;
			memcpy(p, s + i, 8);
			p += 8;
			i += 8;
		}
		if (i >= n)
			break;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			*p++ = (char)c;
			continue;
		}
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
	b->len = (size_t)(p - b->data);
	return 0;
}

static int put_integer(struct im_jbuf *b, json_int_t n)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (n < 0)
		*--p = '-';
	return put(b, p, (size_t)(tmp + sizeof tmp - p));
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
			if ((i++ && put(b, ",", 1)) || put_string(b, k, klen) || put(b, ":", 1) ||
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
			if ((a && put(b, ",", 1)) || put_string(b, keys[a].s, keys[a].len) || put(b, ":", 1) ||
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
		return put_string(b, json_string_value(v), json_string_length(v));
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
