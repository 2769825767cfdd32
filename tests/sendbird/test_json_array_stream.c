/* Unit tests for the streaming top-level-object / array scanner. Every case runs
 * with several read sizes (1 byte, 7 bytes, whole input) so boundaries that fall
 * inside strings, escapes and keys are exercised. */
#include "tap.h"
#include "json_array_stream.h"

#include <stdint.h>

struct memsrc {
	const char *data;
	size_t len, pos, chunk;
	int fail_at; /* return -1 once pos reaches this (0: never) */
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct memsrc *m = ctx;
	size_t n = m->len - m->pos;
	if (m->fail_at && m->pos >= (size_t)m->fail_at)
		return -1;
	if (n > len)
		n = len;
	if (n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static struct jas *open_mem(struct memsrc *m, const char *text, size_t chunk, size_t max)
{
	memset(m, 0, sizeof(*m));
	m->data = text;
	m->len = strlen(text);
	m->chunk = chunk;
	return jas_new(mem_read, m, max);
}

static const char *val(struct jas *s)
{
	return jas_value(s, NULL);
}

static void basic(size_t chunk)
{
	struct memsrc m;
	const char *doc = "\xef\xbb\xbf {\"ver\\\"sion\" : {\"n\":[1,{\"x\":\"]}\"}]},\n"
			  "  \"messages\": [ {\"a\":\"q\\\"]}\\\\\"}, 42 ,\"s\\u0022\", [[]], {} ],\n"
			  "  \"channel\": {\"channel_url\":\"c1\"}, \"tail\": null }";
	struct jas *s = open_mem(&m, doc, chunk, 1 << 20);

	diag("chunk %zu", chunk);
	is_int(jas_next_key(s), JAS_VALUE, "first key found");
	is_str(jas_key(s), "ver\"sion", "escaped quote in a key is unescaped");
	is_int(jas_enter_array(s), JAS_NOT_ARRAY, "an object is not an array");
	is_int(jas_skip_value(s), JAS_VALUE, "nested value with brackets in strings skipped");
	is_int(jas_next_key(s), JAS_VALUE, "second key");
	is_str(jas_key(s), "messages", "key is messages");
	is_int(jas_enter_array(s), JAS_VALUE, "entered the array");
	is_int(jas_next_element(s), JAS_VALUE, "element 1");
	is_str(val(s), "{\"a\":\"q\\\"]}\\\\\"}", "element 1 bytes exact (escapes, brackets in string)");
	is_int(jas_value_line(s), 2, "element 1 on line 2");
	is_int(jas_next_element(s), JAS_VALUE, "element 2");
	is_str(val(s), "42", "a scalar element");
	is_int(jas_next_element(s), JAS_VALUE, "element 3");
	is_str(val(s), "\"s\\u0022\"", "a string element");
	is_int(jas_next_element(s), JAS_VALUE, "element 4");
	is_str(val(s), "[[]]", "nested arrays");
	is_int(jas_next_element(s), JAS_VALUE, "element 5");
	is_str(val(s), "{}", "empty object");
	is_int(jas_next_element(s), JAS_END, "end of array");
	is_int(jas_next_key(s), JAS_VALUE, "third key");
	is_str(jas_key(s), "channel", "key is channel");
	is_int(jas_read_value(s), JAS_VALUE, "read a whole value");
	is_str(val(s), "{\"channel_url\":\"c1\"}", "the channel object");
	is_int(jas_next_key(s), JAS_VALUE, "fourth key, value never consumed");
	is_int(jas_next_key(s), JAS_END, "the value is skipped and the object ends");
	is_int(jas_next_key(s), JAS_END, "END is sticky");
	jas_free(s);
}

static void resume(size_t chunk)
{
	struct memsrc m;
	const char *doc = "{\"messages\":[\n{\"id\":1},\n{\"id\":2},\n{\"id\":3}\n]}";
	struct jas *s = open_mem(&m, doc, chunk, 1024);
	uint64_t off, line;

	jas_next_key(s);
	jas_enter_array(s);
	jas_next_element(s);
	jas_next_element(s);
	off = jas_offset(s);
	line = jas_line(s);
	is_int(off, strlen("{\"messages\":[\n{\"id\":1},\n{\"id\":2}"), "offset right after element 2");
	jas_free(s);

	s = open_mem(&m, doc, chunk, 1024);
	is_int(jas_resume_in_array(s, off, line), JAS_VALUE, "resume at the checkpoint");
	is_int(jas_next_element(s), JAS_VALUE, "the element after the checkpoint");
	is_str(val(s), "{\"id\":3}", "it is element 3");
	is_int(jas_value_line(s), 4, "line numbers carry over the resume");
	is_int(jas_next_element(s), JAS_END, "then the end");
	is_int(jas_next_key(s), JAS_END, "and the end of the document");
	jas_free(s);

	s = open_mem(&m, doc, chunk, 1024);
	is_int(jas_resume_in_array(s, off - 2, line), JAS_ERROR, "a checkpoint inside an element is refused");
	ok(strstr(jas_error(s), "changed since") != NULL, "and the error says the input changed: %s",
	   jas_error(s));
	jas_free(s);

	s = open_mem(&m, doc, chunk, 1024);
	is_int(jas_resume_in_array(s, 4096, 1), JAS_ERROR, "a checkpoint past the end is refused");
	jas_free(s);
}

static void errors(size_t chunk)
{
	struct memsrc m;
	struct jas *s;
	size_t len;

	/* An element over the cap is skipped and scanning goes on. */
	s = open_mem(&m, "{\"messages\":[{\"a\":\"0123456789012345678901234567890123456789\"},{\"b\":1}]}", chunk,
		     16);
	jas_next_key(s);
	jas_enter_array(s);
	is_int(jas_next_element(s), JAS_OVERSIZED, "oversized element reported");
	jas_value(s, &len);
	is_int(len, 16, "its first max bytes are kept for the report");
	is_int(jas_next_element(s), JAS_VALUE, "the next element still comes");
	is_str(val(s), "{\"b\":1}", "intact");
	is_int(jas_next_element(s), JAS_END, "end");
	jas_free(s);

	/* Truncated inside an element. */
	s = open_mem(&m, "{\"messages\":[{\"a\":1},{\"b\":\"xx", chunk, 1024);
	jas_next_key(s);
	jas_enter_array(s);
	is_int(jas_next_element(s), JAS_VALUE, "the complete element before the cut");
	is_int(jas_next_element(s), JAS_ERROR, "truncated element is an error");
	ok(strstr(jas_error(s), "truncated") && strstr(jas_error(s), "started at byte 21"),
	   "error names truncation and the element's start: %s", jas_error(s));
	is_int(jas_next_element(s), JAS_ERROR, "errors are sticky");
	jas_free(s);

	/* Truncated between elements. */
	s = open_mem(&m, "{\"messages\":[{\"a\":1}", chunk, 1024);
	jas_next_key(s);
	jas_enter_array(s);
	jas_next_element(s);
	is_int(jas_next_element(s), JAS_ERROR, "end of input after an element is an error");
	ok(strstr(jas_error(s), "truncated") != NULL, "it says truncated: %s", jas_error(s));
	jas_free(s);

	/* Mismatched brackets. */
	s = open_mem(&m, "{\"messages\":[{\"a\":[1}]}", chunk, 1024);
	jas_next_key(s);
	jas_enter_array(s);
	is_int(jas_next_element(s), JAS_ERROR, "mismatched bracket");
	ok(strstr(jas_error(s), "unexpected '}'") && strstr(jas_error(s), "byte 20"),
	   "error names the byte: %s", jas_error(s));
	jas_free(s);

	/* Garbage between elements. */
	s = open_mem(&m, "{\"messages\":[{\"a\":1} x {\"b\":2}]}", chunk, 1024);
	jas_next_key(s);
	jas_enter_array(s);
	jas_next_element(s);
	is_int(jas_next_element(s), JAS_ERROR, "garbage between elements");
	ok(strstr(jas_error(s), "expected ',' or ']'") != NULL, "%s", jas_error(s));
	jas_free(s);

	/* Trailing comma. */
	s = open_mem(&m, "{\"messages\":[{\"a\":1},]}", chunk, 1024);
	jas_next_key(s);
	jas_enter_array(s);
	jas_next_element(s);
	is_int(jas_next_element(s), JAS_ERROR, "trailing comma");
	jas_free(s);

	/* Not an object at the top. */
	s = open_mem(&m, "[{\"a\":1}]", chunk, 1024);
	is_int(jas_next_key(s), JAS_ERROR, "a top-level array is refused");
	ok(strstr(jas_error(s), "does not start with '{'") != NULL, "%s", jas_error(s));
	jas_free(s);

	/* Empty input. */
	s = open_mem(&m, "", chunk, 1024);
	is_int(jas_next_key(s), JAS_ERROR, "empty input is refused");
	jas_free(s);

	/* Read error. */
	s = open_mem(&m, "{\"messages\":[{\"a\":1},{\"b\":2}]}", chunk, 1024);
	m.fail_at = 5;
	m.chunk = 4; /* so that a read happens after the failure point */
	while (jas_next_key(s) == JAS_VALUE)
		;
	ok(strstr(jas_error(s), "read error") != NULL, "a read error is reported: %s", jas_error(s));
	jas_free(s);

	/* Empty array, empty object. */
	s = open_mem(&m, " { \"messages\" : [ ] , \"x\":{} } ", chunk, 1024);
	jas_next_key(s);
	is_int(jas_enter_array(s), JAS_VALUE, "empty array entered");
	is_int(jas_next_element(s), JAS_END, "and it is empty");
	is_int(jas_next_key(s), JAS_VALUE, "key after an empty array");
	is_int(jas_next_key(s), JAS_END, "end");
	jas_free(s);
	s = open_mem(&m, "{}", chunk, 1024);
	is_int(jas_next_key(s), JAS_END, "empty object has no keys");
	jas_free(s);
}

/* Many elements through a small cap: the scanner's memory does not grow with the input. */
static void many(void)
{
	size_t n = 20000, i, cap = 64 * n;
	char *doc = malloc(cap), *p = doc;
	struct memsrc m;
	struct jas *s;
	size_t count = 0;
	int r;

	p += sprintf(p, "{\"messages\":[");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s{\"message_id\":%zu,\"t\":\"x\\\"y\"}", i ? "," : "", i);
	sprintf(p, "]}");
	s = open_mem(&m, doc, 4096, 256);
	jas_next_key(s);
	jas_enter_array(s);
	while ((r = jas_next_element(s)) == JAS_VALUE)
		count++;
	is_int(r, JAS_END, "20000 elements scanned to the end");
	is_int(count, n, "all of them");
	jas_free(s);
	free(doc);
}

int main(void)
{
	size_t chunks[] = {1, 7, 1 << 20};
	size_t i;
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		basic(chunks[i]);
		resume(chunks[i]);
		errors(chunks[i]);
	}
	many();
	return done_testing();
}
