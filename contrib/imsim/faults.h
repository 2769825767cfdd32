/* Deterministic fault injection: which valid requests fail, and how. */
#ifndef IMSIM_FAULTS_H
#define IMSIM_FAULTS_H

#include <stddef.h>
#include <stdint.h>

enum fault_kind {
	FAULT_NONE = 0,
	FAULT_502,		/* HTTP 502 without a body; nothing applied */
	FAULT_DROP,		/* connection closed without an answer; nothing applied */
	FAULT_HANG,		/* no answer until --hang-ms, then closed; nothing applied */
	FAULT_TRANSIENT,	/* the family's internal-error code; nothing applied */
	FAULT_LOST,		/* the write is applied, then the connection is closed */
	FAULT_KINDS
};

struct faults {
	double rate;		/* fraction of valid requests that fail, 0..1 */
	uint64_t seed;
	unsigned kinds;		/* bit (1 << kind) per enabled kind */
	uint64_t counter;	/* valid requests seen so far */
};

/* Parses "rate=P,seed=S[,kinds=K+K...]" (K: 502, drop, hang, transient, lost; default
 * all) into f. spec may be NULL (no faults). Returns 0, or -1 with a message in err. */
int faults_parse(struct faults *f, const char *spec, char *err, size_t err_size);

/* The fault for the next valid request. The n-th valid request gets the same answer
 * for the same seed on every run. Not thread-safe. */
enum fault_kind faults_next(struct faults *f);

/* "502", "drop", ... for a kind; static string. */
const char *faults_name(enum fault_kind k);

#endif
