/* Non-allocating check of one JSON Lines line (see linescan.h). */
#include "linescan.h"
#include "jsonlex.h"

#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64      /* deeper lines go to the full parse */
#define MAX_INT_DIGITS 18 /* always within int64; longer ones go to the full parse */
#define MAX_EXP_DIGITS 4
#define SAFE_MAGNITUDE 300 /* 10^300 is far below DBL_MAX: no overflow */

struct scan {
	const char *p, *end;
};

static int scan_value(struct scan *s, int depth);

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* After a container's member: the closing character (consumed; returns 0), or
 * a comma and the whitespace after it (returns 1: another member follows);
 * -1 for anything else. */
static int after_member(struct scan *s, char close)
{
	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	if (*s->p == close) {
		s->p++;
		return 0;
	}
	if (*s->p != ',')
		return -1;
	s->p++;
	skip_ws(s);
	return 1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The first quote, backslash or control character at or after p (end when
 * none): eight bytes at a time. */
static const char *plain_run(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	while (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
		/* High bit per byte below 0x80 that is < 0x20, '"' or '\\'; the lowest
		 * flagged byte is exact. Bytes from 0x80 are UTF-8, checked already. */
		uint64_t flags = ((w - ones * 0x20) | (quote - ones) | (slash - ones)) & ~w & high;
		if (flags)
			return p + (__builtin_ctzll(flags) >> 3);
		p += 8;
	}
#endif
	while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
		p++;
	return p;
}

/* The string whose opening quote is at s->p. UTF-8 is valid already, and no
 * byte of a multi-byte sequence is below 0x80: bytes can be looked at alone. */
static int scan_string(struct scan *s, int *escaped)
{
	const char *p = s->p + 1, *end = s->end;
	*escaped = 0;
	for (;;) {
		p = plain_run(p, end);
		if (p >= end || (unsigned char)*p < 0x20)
			return -1;
		if (*p == '"')
			break;
		*escaped = 1;
		if (++p >= end)
			return -1;
		switch (*p) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p++;
			break;
		case 'u': {
			unsigned c, lo;
			if (end - p < 5 || jsonl_hex4(p + 1, &c) || c == 0 || (c >= 0xDC00 && c <= 0xDFFF))
				return -1;
			p += 5;
			if (c >= 0xD800 && c <= 0xDBFF) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || jsonl_hex4(p + 2, &lo) || lo < 0xDC00 ||
				    lo > 0xDFFF)
					return -1;
				p += 6;
			}
			break;
		}
		default:
			return -1;
		}
	}
	s->p = p + 1;
	return 0;
}

/* *integer: whether the token is an integer (then within int64). */
static int scan_number(struct scan *s, int *integer)
{
	const char *p = s->p, *end = s->end;
	if (*p == '-')
		p++;
	const char *digits = p;
	if (p >= end || !is_digit(*p))
		return -1;
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return -1;
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	size_t int_digits = (size_t)(p - digits);
	*integer = p >= end || (*p != '.' && *p != 'e' && *p != 'E');
	if (*integer) {
		s->p = p;
		return int_digits <= MAX_INT_DIGITS ? 0 : -1;
	}
	if (*p == '.') {
		p++;
		if (p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
	}
	long exp = 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		int neg = 0;
		if (p < end && (*p == '+' || *p == '-'))
			neg = *p++ == '-';
		const char *e = p;
		if (p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p)) {
			if (p - e < MAX_EXP_DIGITS)
				exp = exp * 10 + (*p - '0');
			p++;
		}
		if (p - e > MAX_EXP_DIGITS)
			return -1;
		if (neg)
			exp = -exp;
	}
	/* The value is below 10^(int_digits + exp): overflow is impossible while
	 * that stays small. */
	if (int_digits > SAFE_MAGNITUDE || (long)int_digits + exp > SAFE_MAGNITUDE)
		return -1;
	s->p = p;
	return 0;
}

static int literal(struct scan *s, const char *word, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* The object at s->p; at depth 0 also looks for the id member. */
static int scan_object(struct scan *s, int depth, const char *id_field, size_t id_len, struct jsonl_scan_id *id)
{
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (s->p >= s->end || *s->p != '"')
			return -1;
		const char *key = s->p + 1;
		int escaped;
		if (scan_string(s, &escaped))
			return -1;
		size_t key_len = (size_t)(s->p - 1 - key);
		int is_id = 0;
		if (id_field) {
			if (escaped)
				return -1; /* it might spell id_field: the full parse decides */
			is_id = key_len == id_len && memcmp(key, id_field, id_len) == 0;
		}
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -1;
		s->p++;
		skip_ws(s);
		const char *v = s->p;
		if (is_id) {
			/* The last id member wins, as in Jansson's object; only strings and
			 * integers make a source id. */
			id->text = NULL;
			id->len = 0;
			int integer;
			if (v < s->end && *v == '"') {
				if (scan_string(s, &escaped) || escaped)
					return -1;
				id->text = v + 1;
				id->len = (size_t)(s->p - 1 - id->text);
			} else if (v < s->end && (*v == '-' || is_digit(*v))) {
				if (scan_number(s, &integer))
					return -1;
				if (integer) {
					id->text = v;
					id->len = (size_t)(s->p - v);
					if (id->len == 2 && v[0] == '-' && v[1] == '0') { /* Jansson's -0 is 0 */
						id->text++;
						id->len--;
					}
				}
			} else if (scan_value(s, depth + 1)) {
				return -1;
			}
		} else if (scan_value(s, depth + 1)) {
			return -1;
		}
		int more = after_member(s, '}');
		if (more <= 0)
			return more;
	}
}

static int scan_array(struct scan *s, int depth)
{
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (scan_value(s, depth + 1))
			return -1;
		int more = after_member(s, ']');
		if (more <= 0)
			return more;
	}
}

static int scan_value(struct scan *s, int depth)
{
	if (depth > MAX_DEPTH || s->p >= s->end)
		return -1;
	int escaped, integer;
	switch (*s->p) {
	case '{':
		return scan_object(s, depth, NULL, 0, NULL);
	case '[':
		return scan_array(s, depth);
	case '"':
		return scan_string(s, &escaped);
	case 't':
		return literal(s, "true", 4);
	case 'f':
		return literal(s, "false", 5);
	case 'n':
		return literal(s, "null", 4);
	default:
		return scan_number(s, &integer);
	}
}

int jsonl_scan_object(const char *text, size_t len, const char *id_field, struct jsonl_scan_id *id)
{
	struct scan s = {.p = text, .end = text + len};
	if (id) {
		id->text = NULL;
		id->len = 0;
	}
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return 0;
	if (scan_object(&s, 0, id ? id_field : NULL, id_field ? strlen(id_field) : 0, id))
		return 0;
	skip_ws(&s);
	return s.p == s.end;
}
