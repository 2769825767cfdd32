/* Fault decisions from a seeded hash of the request's ordinal: no shared RNG state,
 * so a run is reproducible from (seed, order of requests) alone. */
#include "config.h"

#include "faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[FAULT_KINDS] = {"none", "502", "drop", "hang", "transient", "lost"};
/* Lost answers are the nasty case for clients, and rarer in life. */
static const unsigned weights[FAULT_KINDS] = {0, 3, 3, 1, 3, 1};

const char *faults_name(enum fault_kind k)
{
	return k < FAULT_KINDS ? names[k] : "?";
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static int parse_kinds(struct faults *f, const char *v, size_t len, char *err, size_t err_size)
{
	f->kinds = 0;
	while (len) {
		const char *plus = memchr(v, '+', len);
		size_t n = plus ? (size_t)(plus - v) : len;
		int found = 0;
		for (int k = 1; k < FAULT_KINDS; k++)
			if (strlen(names[k]) == n && !strncmp(v, names[k], n)) {
				f->kinds |= 1u << k;
				found = 1;
			}
		if (!found) {
			snprintf(err, err_size, "unknown fault kind '%.*s' (502, drop, hang, transient, lost)",
				 (int)n, v);
			return -1;
		}
		v += n + (plus ? 1 : 0);
		len -= n + (plus ? 1 : 0);
	}
	if (!f->kinds) {
		snprintf(err, err_size, "kinds= names no fault kind");
		return -1;
	}
	return 0;
}

int faults_parse(struct faults *f, const char *spec, char *err, size_t err_size)
{
	memset(f, 0, sizeof *f);
	f->kinds = ((1u << FAULT_KINDS) - 1) & ~1u;
	if (!spec)
		return 0;
	const char *p = spec;
	int have_rate = 0;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (!eq) {
			snprintf(err, err_size, "--faults: '%.*s' is not name=value", (int)n, p);
			return -1;
		}
		size_t kl = (size_t)(eq - p), vl = n - kl - 1;
		char val[64];
		if (vl >= sizeof val) {
			snprintf(err, err_size, "--faults: value of '%.*s' is too long", (int)kl, p);
			return -1;
		}
		memcpy(val, eq + 1, vl);
		val[vl] = '\0';
		char *end;
		if (kl == 4 && !strncmp(p, "rate", 4)) {
			f->rate = strtod(val, &end);
			if (end == val || *end || !(f->rate >= 0 && f->rate <= 1)) {
				snprintf(err, err_size, "--faults: rate wants a number in 0..1, not '%s'", val);
				return -1;
			}
			have_rate = 1;
		} else if (kl == 4 && !strncmp(p, "seed", 4)) {
			f->seed = strtoull(val, &end, 10);
			if (end == val || *end || val[0] == '-') {
				snprintf(err, err_size, "--faults: seed wants an unsigned integer, not '%s'", val);
				return -1;
			}
		} else if (kl == 5 && !strncmp(p, "kinds", 5)) {
			if (parse_kinds(f, val, vl, err, err_size))
				return -1;
		} else {
			snprintf(err, err_size, "--faults: unknown setting '%.*s' (rate, seed, kinds)", (int)kl, p);
			return -1;
		}
		p += n + (comma ? 1 : 0);
	}
	if (!have_rate) {
		snprintf(err, err_size, "--faults: rate= is required");
		return -1;
	}
	return 0;
}

enum fault_kind faults_next(struct faults *f)
{
	uint64_t n = f->counter++;
	if (f->rate <= 0)
		return FAULT_NONE;
	uint64_t h = splitmix64(f->seed ^ splitmix64(n));
	double u = (double)(h >> 11) * 0x1.0p-53;
	if (u >= f->rate)
		return FAULT_NONE;
	unsigned total = 0;
	for (int k = 1; k < FAULT_KINDS; k++)
		if (f->kinds & (1u << k))
			total += weights[k];
	unsigned pick = (unsigned)(splitmix64(h) % total);
	for (int k = 1; k < FAULT_KINDS; k++) {
		if (!(f->kinds & (1u << k)))
			continue;
		if (pick < weights[k])
			return (enum fault_kind)k;
		pick -= weights[k];
	}
	return FAULT_NONE;
}
