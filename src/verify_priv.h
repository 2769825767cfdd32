/* Internals shared by verify.c (selecting, comparing, storing) and
 * verify_read.c (reading the target back). Not for other modules. */
#ifndef IMMIGRATE_VERIFY_PRIV_H
#define IMMIGRATE_VERIFY_PRIV_H

#include <jansson.h>
#include <sqlite3.h>

#include "pace.h"
#include "verify.h"

/* Key separator: a control character no id is likely to hold, shown as " / ". */
#define IM_VERIFY_SEP "\x1f"

#define IM_VERIFY_MAX_PACES 8

struct verifier {
	struct im_stage *st;
	sqlite3 *db;
	struct im_tim *tim;
	const struct im_verify_options *opt;
	struct im_verify_result *res;
	struct {
		const char *command;
		struct im_pace pace;
	} paces[IM_VERIFY_MAX_PACES];
	size_t npaces;
	size_t diffs_cap;
	size_t diffs_this_kind;
	sqlite3_stmt *insert_found; /* prepared once: one row per record read back */
	char *err;
	size_t err_size;
};

/* Fills v->err; returns -1. */
int im_verify_fail(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* v->err = "<stage>: what: <SQLite's reason>"; returns -1. */
int im_verify_db_fail(struct verifier *v, const char *what);

/* Records what the target holds under key (val: a JSON object, borrowed; NULL:
 * present, nothing to compare). A key seen twice counts twice: duplicates in the
 * target are differences. Returns 0 or -1 (v->err set). */
int im_verify_found(struct verifier *v, const char *key, json_t *val);

/* "a" SEP "b" [SEP ...] from strings ('s') and json_int_t ('i') per fmt. */
void im_verify_key(char *buf, size_t size, const char *fmt, ...);

/* Reads back what the target holds for the records in temp.verify_expected
 * (records of kind), into temp.verify_found. Returns 0 or -1 (v->err set). */
int im_verify_read_target(struct verifier *v, int kind);

static inline const char *im_verify_sv(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static inline json_int_t im_verify_iv(const json_t *o, const char *name)
{
	return json_integer_value(json_object_get(o, name));
}

#endif
