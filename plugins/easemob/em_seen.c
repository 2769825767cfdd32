/* Open-addressing hash set of 64-bit message id hashes (see em_seen.h). */
#include "em_seen.h"

#include <stdlib.h>

struct em_seen {
	uint64_t *keys;  /* 0 marks an empty slot */
	uint32_t *secs;
	size_t mask;     /* slots - 1; slots is a power of two */
	size_t count;
};

static int alloc_slots(struct em_seen *s, size_t slots)
{
	s->keys = calloc(slots, sizeof(*s->keys));
	s->secs = calloc(slots, sizeof(*s->secs));
	if (!s->keys || !s->secs) {
		free(s->keys);
		free(s->secs);
		s->keys = NULL;
		s->secs = NULL;
		return -1;
	}
	s->mask = slots - 1;
	return 0;
}

struct em_seen *em_seen_new(void)
{
	struct em_seen *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (alloc_slots(s, 1024) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

uint64_t em_seen_hash(const char *id, size_t len)
{
	/* FNV-1a, then a murmur-style finaliser so that ids differing only in their
	 * last digits spread over the whole table. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h ? h : 1;
}

static size_t probe(const struct em_seen *s, uint64_t hash)
{
	size_t i = (size_t)hash & s->mask;
	while (s->keys[i] != 0 && s->keys[i] != hash)
		i = (i + 1) & s->mask;
	return i;
}

static int grow(struct em_seen *s)
{
	struct em_seen old = *s;
	if (alloc_slots(s, (old.mask + 1) * 2) < 0) {
		*s = old;
		return -1;
	}
	for (size_t i = 0; i <= old.mask; i++) {
		if (old.keys[i]) {
			size_t j = probe(s, old.keys[i]);
			s->keys[j] = old.keys[i];
			s->secs[j] = old.secs[i];
		}
	}
	free(old.keys);
	free(old.secs);
	return 0;
}

int em_seen_add(struct em_seen *s, uint64_t hash, uint32_t secs)
{
	if ((s->count + 1) * 10 > (s->mask + 1) * 7 && grow(s) < 0)
		return -1;
	size_t i = probe(s, hash);
	if (s->keys[i])
		return 0;
	s->keys[i] = hash;
	s->secs[i] = secs;
	s->count++;
	return 1;
}

int em_seen_find(const struct em_seen *s, uint64_t hash, uint32_t *secs)
{
	size_t i = probe(s, hash);
	if (!s->keys[i])
		return 0;
	if (secs)
		*secs = s->secs[i];
	return 1;
}

size_t em_seen_count(const struct em_seen *s)
{
	return s->count;
}

void em_seen_free(struct em_seen *s)
{
	if (!s)
		return;
	free(s->keys);
	free(s->secs);
	free(s);
}
