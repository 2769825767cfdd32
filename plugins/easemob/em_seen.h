/* A compact set of message ids, with the message's time, for deduplication.
 *
 * The same msg_id arrives from the history files and from the callback archive
 * (and twice in the archive when Easemob retried a callback); it must be yielded
 * once. Keeping the ids themselves would cost ~40 bytes each; instead the set
 * keeps a 64-bit hash per id (open addressing, linear probing) plus the message's
 * Unix time in seconds (read_acks need the acked message's time): 12 bytes per
 * slot, at most 70% full, so about 17 bytes per distinct message. Memory is
 * therefore bounded by the number of distinct messages in the inputs (10 million
 * messages: ~170 MB), not by the input size. Two different ids sharing a 64-bit
 * hash would make the second one look like a duplicate: with n ids the chance is
 * about n^2 / 2^65 (1e7 ids: 3e-6). */
#ifndef EM_SEEN_H
#define EM_SEEN_H

#include <stddef.h>
#include <stdint.h>

struct em_seen;

/* A new empty set, or NULL when out of memory. */
struct em_seen *em_seen_new(void);

/* The 64-bit hash the set keys on (never 0). */
uint64_t em_seen_hash(const char *id, size_t len);

/* Adds hash with time secs. Returns 1 when added, 0 when already present (its
 * time is left as it was), -1 when out of memory. */
int em_seen_add(struct em_seen *s, uint64_t hash, uint32_t secs);

/* Returns 1 and stores the time in *secs when hash is present, else 0. */
int em_seen_find(const struct em_seen *s, uint64_t hash, uint32_t *secs);

size_t em_seen_count(const struct em_seen *s);

/* Releases the set. NULL is fine. */
void em_seen_free(struct em_seen *s);

#endif
