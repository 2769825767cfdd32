/* In-place JSON object parser for the common lines (see lineparse.h). */
#include "lineparse.h"
#include "jsonlex.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_INT_DIGITS 18 /* always fits json_int_t; longer ones go to Jansson */

struct parser {
	const char *p, *end;
	struct jsonl_scratch *scratch;
	int depth;
};

static json_t *parse_value(struct parser *ps);

/* JSON's four whitespace characters, as Jansson's lexer. */
static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int reserve(struct jsonl_scratch *sc, size_t need)
{
	if (need <= sc->cap)
		return 0;
	size_t cap = sc->cap ? sc->cap : 256;
	while (cap < need)
		cap *= 2;
	char *d = realloc(sc->data, cap);
	if (!d)
		return -1;
	sc->data = d;
	sc->cap = cap;
	return 0;
}

/* Decodes the escaped string body [s, e) into the scratch buffer; *n its length.
 * Every escape is at most as long as what it decodes to is short: the body's
 * length bounds the output. */
static int unescape(struct parser *ps, const char *s, const char *e, size_t *n)
{
	if (reserve(ps->scratch, (size_t)(e - s) + 1))
		return -1;
	char *o = ps->scratch->data;
	while (s < e) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++; /* the scan guarantees a character after every backslash */
		switch (*s++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned c, lo;
			if (e - s < 4 || jsonl_hex4(s, &c))
				return -1;
			s += 4;
			if (c >= 0xD800 && c <= 0xDBFF) {
				if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || jsonl_hex4(s + 2, &lo) || lo < 0xDC00 ||
				    lo > 0xDFFF)
					return -1;
				s += 6;
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			} else if ((c >= 0xDC00 && c <= 0xDFFF) || c == 0) {
				return -1; /* a lone low surrogate; \u0000 (Jansson refuses it by default) */
			}
			if (c < 0x80) {
				*o++ = (char)c;
			} else if (c < 0x800) {
				*o++ = (char)(0xC0 | (c >> 6));
				*o++ = (char)(0x80 | (c & 0x3F));
			} else if (c < 0x10000) {
				*o++ = (char)(0xE0 | (c >> 12));
				*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
				*o++ = (char)(0x80 | (c & 0x3F));
			} else {
				*o++ = (char)(0xF0 | (c >> 18));
				*o++ = (char)(0x80 | ((c >> 12) & 0x3F));
				*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
				*o++ = (char)(0x80 | (c & 0x3F));
			}
			break;
		}
		default:
			return -1;
		}
	}
	*n = (size_t)(o - ps->scratch->data);
	return 0;
}

/* Scans a string starting at its opening quote: *body and *body_len its raw body,
 * *escaped whether it holds backslashes. Leaves ps->p after the closing quote. */
static int scan_string(struct parser *ps, const char **body, size_t *body_len, int *escaped)
{
	const char *s = ++ps->p, *p = s;
	*escaped = 0;
	for (;;) {
		if (p >= ps->end)
			return -1;
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c < 0x20)
			return -1; /* control characters must be escaped */
		if (c == '\\') {
			*escaped = 1;
			if (++p >= ps->end)
				return -1;
		}
		p++;
	}
	*body = s;
	*body_len = (size_t)(p - s);
	ps->p = p + 1;
	return 0;
}

static json_t *parse_string(struct parser *ps)
{
	const char *body;
	size_t len;
	int escaped;
	if (scan_string(ps, &body, &len, &escaped))
		return NULL;
	if (!escaped)
		return json_stringn_nocheck(body, len);
	size_t n;
	if (unescape(ps, body, body + len, &n))
		return NULL;
	return json_stringn_nocheck(ps->scratch->data, n);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Jansson's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static json_t *parse_number(struct parser *ps)
{
	const char *s = ps->p, *p = s, *end = ps->end;
	int neg = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end || !is_digit(*p))
		return NULL;
	const char *digits = p;
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return NULL; /* leading zero */
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	size_t ndigits = (size_t)(p - digits);
	int real = 0;
	if (p < end && *p == '.') {
		real = 1;
		p++;
		if (p >= end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	ps->p = p;
	if (!real) {
		if (ndigits > MAX_INT_DIGITS)
			return NULL;
		json_int_t v = 0;
		for (const char *d = digits; d < p; d++)
			v = v * 10 + (*d - '0');
		return json_integer(neg ? -v : v);
	}
	/* strtod reads the locale's decimal point; the token is copied so that it
	 * stops exactly at the token's end. */
	char tmp[64];
	size_t n = (size_t)(p - s);
	const struct lconv *lc = localeconv();
	if (n >= sizeof tmp || !lc->decimal_point || strcmp(lc->decimal_point, "."))
		return NULL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	double d = strtod(tmp, NULL);
	if (isinf(d))
		return NULL; /* overflow: Jansson's error */
	return json_real(d);
}

static json_t *parse_object(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return NULL;
	ps->p++;
	json_t *obj = json_object();
	if (!obj)
		return NULL;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		ps->depth--;
		return obj;
	}
	for (;;) {
		if (ps->p >= ps->end || *ps->p != '"')
			goto fail;
		const char *key;
		size_t klen;
		int escaped;
		/* Keys are used in place, so an escaped one (rare) goes to Jansson. */
		if (scan_string(ps, &key, &klen, &escaped) || escaped)
			goto fail;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			goto fail;
		ps->p++;
		skip_ws(ps);
		json_t *v = parse_value(ps);
		if (!v || json_object_setn_new_nocheck(obj, key, klen, v))
			goto fail;
		skip_ws(ps);
		if (ps->p >= ps->end)
			goto fail;
		if (*ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (*ps->p != '}')
			goto fail;
		ps->p++;
		ps->depth--;
		return obj;
	}
fail:
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return NULL;
	ps->p++;
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		ps->depth--;
		return arr;
	}
	for (;;) {
		json_t *v = parse_value(ps);
		if (!v || json_array_append_new(arr, v))
			goto fail;
		skip_ws(ps);
		if (ps->p >= ps->end)
			goto fail;
		if (*ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (*ps->p != ']')
			goto fail;
		ps->p++;
		ps->depth--;
		return arr;
	}
fail:
	json_decref(arr);
	return NULL;
}

static json_t *literal(struct parser *ps, const char *word, size_t n, json_t *value)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return NULL;
	ps->p += n;
	return value;
}

static json_t *parse_value(struct parser *ps)
{
	if (ps->p >= ps->end)
		return NULL;
	switch (*ps->p) {
	case '{':
		return parse_object(ps);
	case '[':
		return parse_array(ps);
	case '"':
		return parse_string(ps);
	case 't':
		return literal(ps, "true", 4, json_true());
	case 'f':
		return literal(ps, "false", 5, json_false());
	case 'n':
		return literal(ps, "null", 4, json_null());
	default:
		return parse_number(ps);
	}
}

json_t *jsonl_parse_object(const char *text, size_t len, struct jsonl_scratch *scratch)
{
	struct parser ps = {.p = text, .end = text + len, .scratch = scratch};
	skip_ws(&ps);
	if (ps.p >= ps.end || *ps.p != '{')
		return NULL;
	json_t *v = parse_object(&ps);
	if (!v)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_decref(v);
		return NULL;
	}
	return v;
}

void jsonl_scratch_free(struct jsonl_scratch *scratch)
{
	free(scratch->data);
	scratch->data = NULL;
	scratch->cap = 0;
}
