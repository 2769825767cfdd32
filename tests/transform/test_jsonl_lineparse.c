/* The jsonl plugin's fast line parser against Jansson: on every line it
 * accepts, the value (and key order) equals json_loadb's; every line Jansson
 * refuses, or that is not an object, it leaves to Jansson (NULL). Hand-picked
 * edge cases, then generated lines and random mutations of them. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "../../plugins/jsonl/lineparse.h"
#include "tap.h"

static struct jsonl_scratch scratch;

enum verdict { FAST, LEFT, WRONG };

static enum verdict check(const char *text, size_t len)
{
	json_t *fast = jsonl_parse_object(text, len, &scratch);
	json_t *ref = json_loadb(text, len, JSON_DECODE_ANY, NULL);
	enum verdict v = LEFT;
	if (fast) {
		v = WRONG;
		if (ref && json_is_object(ref) && json_equal(fast, ref)) {
			char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
			char *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
			if (a && b && !strcmp(a, b))
				v = FAST;
			free(a);
			free(b);
		}
	}
	json_decref(fast);
	json_decref(ref);
	return v;
}

static enum verdict check_str(const char *s)
{
	return check(s, strlen(s));
}

/* xorshift: the same lines on every run. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

struct buf {
	char d[8192];
	size_t n;
};

static void add(struct buf *b, const char *s)
{
	size_t l = strlen(s);
	if (b->n + l < sizeof b->d) {
		memcpy(b->d + b->n, s, l);
		b->n += l;
	}
}

static void ws(struct buf *b)
{
	static const char *const w[] = {"", "", "", " ", "\t", "  ", "\r\n "};
	add(b, w[rnd(7)]);
}

static void gen_string(struct buf *b)
{
	static const char *const parts[] = {
		"a", "hello", " ", "\xC3\xA9", "\xE4\xBD\xA0\xE5\xA5\xBD", "\xF0\x9F\x98\x80", "\\\"", "\\\\", "\\/",
		"\\n", "\\t", "\\b", "\\f", "\\r", "\\u00e9", "\\u4f60", "\\ud83d\\ude00", "\\u0041", "\\u001f",
		"'", "{", "]", ":", ","};
	add(b, "\"");
	for (unsigned i = rnd(5); i > 0; i--)
		add(b, parts[rnd(sizeof parts / sizeof *parts)]);
	add(b, "\"");
}

static void gen_value(struct buf *b, int depth);

static void gen_object(struct buf *b, int depth)
{
	static const char *const keys[] = {"\"id\"", "\"kind\"", "\"UserID\"", "\"\"", "\"k\xC3\xA9y\"", "\"a b\"",
					   "\"id\""};
	add(b, "{");
	ws(b);
	for (unsigned i = rnd(5), first = 1; i > 0; i--, first = 0) {
		if (!first) {
			add(b, ",");
			ws(b);
		}
		add(b, keys[rnd(sizeof keys / sizeof *keys)]);
		ws(b);
		add(b, ":");
		ws(b);
		gen_value(b, depth + 1);
		ws(b);
	}
	add(b, "}");
}

static void gen_value(struct buf *b, int depth)
{
	static const char *const nums[] = {"0", "-0", "7", "-12", "1700000000123", "123456789012345678",
					   "-123456789012345678", "1234567890123456789", "1.5", "-0.25", "1e3",
					   "2E-5", "1.25e+10", "6.02214076e23", "1e400", "0.1", "3.0"};
	switch (depth > 4 ? rnd(4) : rnd(7)) {
	case 0:
		gen_string(b);
		break;
	case 1:
		add(b, nums[rnd(sizeof nums / sizeof *nums)]);
		break;
	case 2:
		add(b, rnd(3) == 0 ? "null" : rnd(2) ? "true" : "false");
		break;
	case 3:
		gen_string(b);
		break;
	case 4:
	case 5:
		gen_object(b, depth);
		break;
	default:
		add(b, "[");
		ws(b);
		for (unsigned i = rnd(4), first = 1; i > 0; i--, first = 0) {
			if (!first)
				add(b, ",");
			ws(b);
			gen_value(b, depth + 1);
			ws(b);
		}
		add(b, "]");
	}
}

int main(void)
{
	/* Lines the fast path must take, equal to Jansson's value. */
	static const char *const common[] = {
		"{}",
		" {\"a\":1} ",
		"{\"id\": 1, \"kind\": \"account\", \"UserID\": \"alice\", \"Nick\": \"Alice\"}",
		"{\"id\": 7, \"nested\": {\"a\": [1, {\"b\": null}], \"c\": 1.5}}",
		"{\"t\":\"caf\xC3\xA9 \\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\n\"}",
		"{\"n\":-0,\"m\":123456789012345678,\"r\":1e-3,\"e\":[],\"o\":{},\"b\":[true,false,null]}",
		"{\"dup\":1,\"x\":2,\"dup\":3}",
		"{\"big\":1.7976931348623157e308,\"tiny\":4.9e-324,\"under\":1e-400}",
		"{\"\":\"\"}",
	};
	for (size_t i = 0; i < sizeof common / sizeof *common; i++)
		is_int(check_str(common[i]), FAST, "fast and equal: %s", common[i]);

	/* Lines Jansson refuses or that are not objects: never taken. */
	static const char *const refused[] = {
		"", "   ", "[1,2]", "\"str\"", "42", "null", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":1}}", "{\"a\":1} x", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}",
		"{\"a\":+1}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
		"{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\\ud83d\\u0041\"}", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"tab\there\"}", "{\"a\":\"unterminated}", "{'a':1}", "{a:1}", "{\"a\":1 \"b\":2}",
		"{\"a\":[1 2]}", "{\"a\":[1,]}", "{\"a\":1e400}", "{\"a\":99999999999999999999}",
		"{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1}\v",
	};
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		is_int(check_str(refused[i]), LEFT, "left to Jansson: %s", refused[i]);

	/* Rare forms left to Jansson although valid: escaped keys, 19 digits, deep nesting. */
	is_int(check_str("{\"k\\u00e9y\":1}"), LEFT, "an escaped key is left to Jansson");
	is_int(check_str("{\"a\":1234567890123456789}"), LEFT, "a 19-digit integer is left to Jansson");
	char deep[300];
	size_t n = 0;
	for (int i = 0; i < 100; i++)
		deep[n++] = '[';
	for (int i = 0; i < 100; i++)
		deep[n++] = ']';
	char line[400];
	snprintf(line, sizeof line, "{\"a\":%.*s}", (int)n, deep);
	is_int(check_str(line), LEFT, "nesting deeper than 64 is left to Jansson");
	/* Not NUL-terminated: the parser stays inside len. */
	is_int(check("{\"a\":1}garbage", 7), FAST, "reads only len bytes");

	/* Generated lines and one-byte mutations of them. */
	int fast = 0, left = 0, wrong = 0;
	const char *first_wrong = NULL;
	static char wrong_line[8200];
	for (int i = 0; i < 20000; i++) {
		struct buf b = {.n = 0};
		ws(&b);
		gen_object(&b, 0);
		ws(&b);
		if (i % 2) {
			static const char junk[] = "{}[],:\"\\ 0-.eEtn\x01";
			size_t at = rnd((unsigned)b.n + 1);
			/* ASCII edits only: the parser's input is valid UTF-8. */
			if (at < b.n && (unsigned char)b.d[at] >= 0x80)
				at = b.n;
			switch (rnd(3)) {
			case 0: /* delete */
				if (at < b.n) {
					memmove(b.d + at, b.d + at + 1, b.n - at - 1);
					b.n--;
				}
				break;
			case 1: /* insert */
				memmove(b.d + at + 1, b.d + at, b.n - at);
				b.d[at] = junk[rnd(sizeof junk - 1)];
				b.n++;
				break;
			default: /* replace */
				if (at < b.n)
					b.d[at] = junk[rnd(sizeof junk - 1)];
			}
		}
		switch (check(b.d, b.n)) {
		case FAST:
			fast++;
			break;
		case LEFT:
			left++;
			break;
		default:
			if (!wrong++) {
				memcpy(wrong_line, b.d, b.n);
				wrong_line[b.n] = '\0';
				first_wrong = wrong_line;
			}
		}
	}
	is_int(wrong, 0, "20,000 generated and mutated lines: no value differs from Jansson's%s%s",
	       first_wrong ? ", first: " : "", first_wrong ? first_wrong : "");
	ok(fast > 8000, "the fast path took most of them (%d, %d left to Jansson)", fast, left);
	jsonl_scratch_free(&scratch);
	return done_testing();
}
