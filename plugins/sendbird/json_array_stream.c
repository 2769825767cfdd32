/* Incremental top-level-object / array-element scanner (see json_array_stream.h). */
#include "json_array_stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JAS_INBUF 65536
/* Jansson's own default nesting limit is 2048; deeper input is refused earlier
 * here because the bracket stack is a fixed array. */
#define JAS_MAX_DEPTH 1024

enum jas_state {
	ST_START,
	ST_OBJECT_FIRST, /* after '{': a key or '}' */
	ST_OBJECT,       /* after a value: ',' or '}' */
	ST_AFTER_KEY,    /* after ':': the value */
	ST_ARRAY_FIRST,  /* after '[': an element or ']' */
	ST_ARRAY,        /* after an element: ',' or ']' */
	ST_DONE,
	ST_FAILED,
};

struct jas {
	jas_read_fn read;
	void *ctx;
	enum jas_state state;
	unsigned char in[JAS_INBUF];
	size_t in_pos, in_len;
	uint64_t in_base; /* offset of in[0] */
	uint64_t line;
	int eof;
	int capture;
	char *val;
	size_t val_len, val_cap, max_value;
	uint64_t val_off, val_line;
	char key[256];
	char err[320];
	char stack[JAS_MAX_DEPTH];
};

struct jas *jas_new(jas_read_fn read, void *ctx, size_t max_value)
{
	struct jas *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->read = read;
	s->ctx = ctx;
	s->max_value = max_value ? max_value : 1;
	s->line = 1;
	s->capture = 1;
	s->state = ST_START;
	return s;
}

void jas_free(struct jas *s)
{
	if (!s)
		return;
	free(s->val);
	free(s);
}

void jas_set_capture(struct jas *s, int on)
{
	s->capture = on;
}

uint64_t jas_offset(const struct jas *s)
{
	return s->in_base + s->in_pos;
}

uint64_t jas_line(const struct jas *s)
{
	return s->line;
}

const char *jas_key(const struct jas *s)
{
	return s->key;
}

const char *jas_value(const struct jas *s, size_t *len)
{
	if (len)
		*len = s->val_len;
	return s->val ? s->val : "";
}

uint64_t jas_value_offset(const struct jas *s)
{
	return s->val_off;
}

uint64_t jas_value_line(const struct jas *s)
{
	return s->val_line;
}

const char *jas_error(const struct jas *s)
{
	return s->err;
}

__attribute__((format(printf, 2, 3))) static int fail(struct jas *s, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(s->err, sizeof(s->err), "byte %llu (line %llu): ", (unsigned long long)jas_offset(s),
			 (unsigned long long)s->line);
	if (n < 0 || (size_t)n >= sizeof(s->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(s->err + n, sizeof(s->err) - (size_t)n, fmt, ap);
	va_end(ap);
	s->state = ST_FAILED;
	return JAS_ERROR;
}

/* Makes at least one byte available. 1: data, 0: end of input, -1: read error (failed). */
static int fill(struct jas *s)
{
	ssize_t n;
	if (s->in_pos < s->in_len)
		return 1;
	if (s->eof)
		return 0;
	s->in_base += s->in_len;
	s->in_pos = s->in_len = 0;
	n = s->read(s->ctx, s->in, sizeof(s->in));
	if (n < 0) {
		fail(s, "read error");
		return -1;
	}
	if (n == 0) {
		s->eof = 1;
		return 0;
	}
	s->in_len = (size_t)n;
	return 1;
}

/* The next byte without consuming it: 0..255, -1 at end of input, -2 on a read error. */
static int peek(struct jas *s)
{
	int r = fill(s);
	if (r < 0)
		return -2;
	if (r == 0)
		return -1;
	return s->in[s->in_pos];
}

static void advance(struct jas *s)
{
	if (s->in[s->in_pos] == '\n')
		s->line++;
	s->in_pos++;
}

static int skip_ws(struct jas *s)
{
	for (;;) {
		int c = peek(s);
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return c;
		advance(s);
	}
}

static const char *describe(int c, char *buf, size_t size)
{
	if (c == -1)
		return "end of input";
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", (unsigned)c);
	return buf;
}

static int append(struct jas *s, const unsigned char *p, size_t n, int *oversized)
{
	if (*oversized || n == 0)
		return 0;
	if (s->val_len + n > s->max_value) {
		/* Keep what fits: it is the "raw" shown in the error report. */
		n = s->max_value - s->val_len;
		*oversized = 1;
	}
	if (s->val_len + n + 1 > s->val_cap) {
		size_t cap = s->val_cap ? s->val_cap : 4096;
		char *nv;
		while (cap < s->val_len + n + 1)
			cap *= 2;
		if (cap > s->max_value + 1)
			cap = s->max_value + 1;
		nv = realloc(s->val, cap);
		if (!nv)
			return -1;
		s->val = nv;
		s->val_cap = cap;
	}
	memcpy(s->val + s->val_len, p, n);
	s->val_len += n;
	s->val[s->val_len] = '\0';
	return 0;
}

static int is_scalar_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '-' || c == '.';
}

/* Consumes one value, capturing its bytes when capture is set. */
static int scan_value(struct jas *s, int capture)
{
	int c, depth = 0, in_str = 0, esc = 0, done = 0, oversized = 0;
	char what[16];

	capture = capture && s->capture;
	c = skip_ws(s);
	if (c == -2)
		return JAS_ERROR;
	s->val_len = 0;
	if (s->val)
		s->val[0] = '\0';
	s->val_off = jas_offset(s);
	s->val_line = s->line;
	if (c == -1)
		return fail(s, "end of input where a value was expected (truncated file?)");
	if (c != '{' && c != '[' && c != '"') {
		if (!is_scalar_char(c))
			return fail(s, "unexpected %s where a value was expected", describe(c, what, sizeof(what)));
		while ((c = peek(s)) >= 0 && is_scalar_char(c)) {
			unsigned char b = (unsigned char)c;
			if (capture && append(s, &b, 1, &oversized) < 0)
				return fail(s, "out of memory");
			advance(s);
		}
		if (c == -2)
			return JAS_ERROR;
		return oversized ? JAS_OVERSIZED : JAS_VALUE;
	}
	while (!done) {
		size_t i, start;
		int r = fill(s);
		if (r < 0)
			return JAS_ERROR;
		if (r == 0)
			return fail(s, "end of input inside the value that started at byte %llu (line %llu): "
				       "truncated file?",
				    (unsigned long long)s->val_off, (unsigned long long)s->val_line);
		start = s->in_pos;
		for (i = start; i < s->in_len; i++) {
			unsigned char b = s->in[i];
			if (b == '\n')
				s->line++;
			if (in_str) {
				if (esc)
					esc = 0;
				else if (b == '\\')
					esc = 1;
				else if (b == '"') {
					in_str = 0;
					if (depth == 0) {
						done = 1;
						i++;
						break;
					}
				}
				continue;
			}
			if (b == '"') {
				in_str = 1;
			} else if (b == '{' || b == '[') {
				if (depth >= JAS_MAX_DEPTH) {
					s->in_pos = i;
					return fail(s, "nesting deeper than %d levels", JAS_MAX_DEPTH);
				}
				s->stack[depth++] = (char)(b == '{' ? '}' : ']');
			} else if (b == '}' || b == ']') {
				if (depth == 0 || s->stack[depth - 1] != (char)b) {
					s->in_pos = i;
					return fail(s, "unexpected '%c' inside the value that started at byte %llu",
						    b, (unsigned long long)s->val_off);
				}
				if (--depth == 0) {
					done = 1;
					i++;
					break;
				}
			}
		}
		if (capture && append(s, s->in + start, i - start, &oversized) < 0)
			return fail(s, "out of memory");
		s->in_pos = i;
	}
	return oversized ? JAS_OVERSIZED : JAS_VALUE;
}

static int read_key(struct jas *s)
{
	size_t n = 0;
	int c, esc = 0;
	char what[16];

	c = skip_ws(s);
	if (c != '"')
		return c == -2 ? JAS_ERROR : fail(s, "expected a key, found %s", describe(c, what, sizeof(what)));
	advance(s);
	for (;;) {
		c = peek(s);
		if (c < 0)
			return c == -2 ? JAS_ERROR : fail(s, "end of input inside a key");
		advance(s);
		if (!esc && c == '\\') {
			esc = 1;
			continue;
		}
		if (!esc && c == '"')
			break;
		esc = 0;
		if (n + 1 < sizeof(s->key))
			s->key[n++] = (char)c;
	}
	s->key[n] = '\0';
	c = skip_ws(s);
	if (c != ':')
		return c == -2 ? JAS_ERROR
			       : fail(s, "expected ':' after key \"%s\", found %s", s->key,
				      describe(c, what, sizeof(what)));
	advance(s);
	s->state = ST_AFTER_KEY;
	return JAS_VALUE;
}

int jas_next_key(struct jas *s)
{
	int c, r;
	char what[16];

	switch (s->state) {
	case ST_FAILED:
		return JAS_ERROR;
	case ST_DONE:
		return JAS_END;
	case ST_START:
		c = peek(s);
		if (c == 0xef) { /* UTF-8 byte order mark */
			advance(s);
			if (peek(s) != 0xbb)
				return fail(s, "invalid byte order mark");
			advance(s);
			if (peek(s) != 0xbf)
				return fail(s, "invalid byte order mark");
			advance(s);
		}
		c = skip_ws(s);
		if (c != '{')
			return c == -2 ? JAS_ERROR
				       : fail(s, "the document does not start with '{' (found %s)",
					      describe(c, what, sizeof(what)));
		advance(s);
		s->state = ST_OBJECT_FIRST;
		/* fall through */
	case ST_OBJECT_FIRST:
		c = skip_ws(s);
		if (c == '}') {
			advance(s);
			s->state = ST_DONE;
			return JAS_END;
		}
		return read_key(s);
	case ST_AFTER_KEY:
		/* The caller did not want the value. */
		if ((r = jas_skip_value(s)) != JAS_VALUE)
			return r;
		return jas_next_key(s);
	case ST_ARRAY_FIRST:
	case ST_ARRAY:
		while ((r = jas_next_element(s)) == JAS_VALUE || r == JAS_OVERSIZED)
			;
		if (r == JAS_ERROR)
			return r;
		return jas_next_key(s);
	case ST_OBJECT:
		c = skip_ws(s);
		if (c == '}') {
			advance(s);
			s->state = ST_DONE;
			return JAS_END;
		}
		if (c != ',')
			return c == -2 ? JAS_ERROR
				       : fail(s, "expected ',' or '}' after the value of \"%s\", found %s", s->key,
					      describe(c, what, sizeof(what)));
		advance(s);
		return read_key(s);
	}
	return JAS_ERROR;
}

int jas_skip_value(struct jas *s)
{
	int r;
	if (s->state != ST_AFTER_KEY)
		return s->state == ST_FAILED ? JAS_ERROR : fail(s, "no value to skip here");
	r = scan_value(s, 0);
	if (r == JAS_ERROR)
		return r;
	s->state = ST_OBJECT;
	return JAS_VALUE;
}

int jas_read_value(struct jas *s)
{
	int r;
	if (s->state != ST_AFTER_KEY)
		return s->state == ST_FAILED ? JAS_ERROR : fail(s, "no value to read here");
	r = scan_value(s, 1);
	if (r == JAS_ERROR)
		return r;
	s->state = ST_OBJECT;
	return r;
}

int jas_enter_array(struct jas *s)
{
	int c;
	if (s->state != ST_AFTER_KEY)
		return s->state == ST_FAILED ? JAS_ERROR : fail(s, "no value to enter here");
	c = skip_ws(s);
	if (c == -2)
		return JAS_ERROR;
	if (c != '[')
		return JAS_NOT_ARRAY;
	advance(s);
	s->state = ST_ARRAY_FIRST;
	return JAS_VALUE;
}

int jas_next_element(struct jas *s)
{
	int c, r;
	char what[16];

	if (s->state != ST_ARRAY_FIRST && s->state != ST_ARRAY)
		return s->state == ST_FAILED ? JAS_ERROR : fail(s, "not inside an array");
	c = skip_ws(s);
	if (c == -2)
		return JAS_ERROR;
	if (c == ']') {
		advance(s);
		s->state = ST_OBJECT;
		return JAS_END;
	}
	if (s->state == ST_ARRAY) {
		if (c != ',')
			return fail(s, "expected ',' or ']' after an array element, found %s%s",
				    describe(c, what, sizeof(what)), c == -1 ? " (truncated file?)" : "");
		advance(s);
	}
	r = scan_value(s, 1);
	if (r == JAS_ERROR)
		return r;
	s->state = ST_ARRAY;
	return r;
}

int jas_resume_in_array(struct jas *s, uint64_t offset, uint64_t line)
{
	int c;
	char what[16];

	if (s->state != ST_START)
		return fail(s, "resume on a scanner already in use");
	while (jas_offset(s) < offset) {
		int r = fill(s);
		uint64_t want = offset - jas_offset(s), have;
		if (r < 0)
			return JAS_ERROR;
		if (r == 0)
			return fail(s, "the input ends before the checkpoint offset %llu (it changed since?)",
				    (unsigned long long)offset);
		have = s->in_len - s->in_pos;
		s->in_pos += (size_t)(want < have ? want : have);
	}
	s->line = line ? line : 1;
	s->state = ST_ARRAY;
	c = skip_ws(s);
	if (c == -2)
		return JAS_ERROR;
	if (c != ',' && c != ']')
		return fail(s, "the input does not continue with ',' or ']' at the checkpoint (found %s): it "
			       "changed since",
			    describe(c, what, sizeof(what)));
	return JAS_VALUE;
}
