/* Lexical helpers the jsonl plugin's two readers share: the allocating fast
 * parser (lineparse.c) and the non-allocating checker (linescan.c) must agree
 * on every token, so they read them with the same code. */
#ifndef IMMIGRATE_JSONL_JSONLEX_H
#define IMMIGRATE_JSONL_JSONLEX_H

/* The four hex digits of a \uXXXX escape at p (any case) into *out.
 * Returns 0, or -1 when one of them is not a hex digit. */
static inline int jsonl_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

#endif
