/* IM records: what mapping scripts produce and the stage holds.
 *
 * An IM record is a JSON object with "kind" plus exactly the fields of one item
 * of the REST call that imports it (spec §3-§6; the table is in imrecord.c), and
 * optionally "_source_id", the old system's id. im_record_prepare() validates
 * one against the spec (through imrules.h), fills in the dedupe fields a record
 * lacks (MsgSeq/MsgRandom for c2c_msg, Random for group_msg) deterministically,
 * and computes what the stage needs: conversation key, order key, dedupe key and
 * the payload text.
 *
 * Determinism (re-runs must land on the same keys): derived values depend only
 * on the record's _source_id, or, without one, on the record's own content
 * (compact JSON with sorted keys). The hash functions below are fixed forever:
 * changing them would make a resumed migration duplicate messages. */
#ifndef IMMIGRATE_IMRECORD_H
#define IMMIGRATE_IMRECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "imrules.h"

enum im_kind {
	IM_KIND_UNKNOWN = -1,
	IM_KIND_ACCOUNT = 0,
	IM_KIND_PROFILE,
	IM_KIND_FRIEND,
	IM_KIND_BLACKLIST,
	IM_KIND_C2C_MSG,
	IM_KIND_C2C_READ,
	IM_KIND_GROUP,
	IM_KIND_GROUP_MEMBER,
	IM_KIND_GROUP_MSG,
	IM_KIND_GROUP_UNREAD,
	IM_KIND_COUNT
};

/* "account", "profile", "friend", "blacklist", "c2c_msg", "c2c_read", "group",
 * "group_member", "group_msg", "group_unread"; NULL outside the enum. Static. */
const char *im_kind_name(enum im_kind kind);
/* The kind named name, or IM_KIND_UNKNOWN. */
enum im_kind im_kind_from_name(const char *name);

/* Deterministic 32-bit id of s[0..len): FNV-1a 64 folded through a murmur3
 * finaliser. Stable across runs, machines and versions. */
uint32_t im_id32(const char *s, size_t len);

/* Lower-case hex of SHA-256(data), truncated to nhex digits (1..64); out holds
 * nhex + 1 bytes. Returns 0, or -1 when libcrypto fails. */
int im_hash_hex(const void *data, size_t len, char *out, size_t nhex);

#define IM_USERID_MAX 32
#define IM_GROUPID_MAX 47

/* A valid UserID for s[0..len): s itself when imrules accepts it (and it is valid
 * UTF-8), else "u_" + 30 hex digits of its SHA-256. out holds IM_USERID_MAX + 1
 * bytes. Returns 0 when s was kept, 1 when hashed, -1 on a crypto failure. */
int im_userid_sanitize(const char *s, size_t len, char *out);

/* A valid custom GroupId for s[0..len): s itself when imrules accepts it for a
 * non-Community group, else "g_" + 40 hex digits of its SHA-256. out holds
 * IM_GROUPID_MAX + 1 bytes. Returns 0 kept, 1 hashed, -1 crypto failure. */
int im_groupid_sanitize(const char *s, size_t len, char *out);

/* Validates and normalises IM records. One per thread; reuses its buffers. */
struct im_validator;

/* rules may be NULL (imrules defaults); copied. NULL on allocation failure. */
struct im_validator *im_validator_new(const struct im_rules *rules);
void im_validator_free(struct im_validator *v);

/* What the stage needs for one record. Strings are owned by the validator (or
 * by the record, for source_id) and valid until the next im_record_prepare() or
 * until the record is released. */
struct im_prepared {
	enum im_kind kind;
	const char *conv;       /* see stage.h */
	int64_t ord;            /* message time, else the seq given */
	const char *payload;    /* compact JSON, sorted keys, no kind/_source_id */
	size_t payload_len;
	const char *source_id;  /* _source_id as text, or NULL */
	const char *dedupe_key; /* "<kind>:" + JSON array of the identity fields */
};

/* Validates rec (an object from the script) and prepares it for staging.
 * rec is modified: "kind" and "_source_id" are removed and derived
 * MsgSeq/MsgRandom/Random added. seq is the input order, used as ord for
 * records without a time. Returns 0 on success; otherwise the record is invalid:
 * why says which field and why (never a field's value) and the return value is
 * the Tencent error code the service would answer (e.g. 90010) or -1 when there
 * is none (unknown kind, unknown field, not an object). */
int im_record_prepare(struct im_validator *v, json_t *rec, int64_t seq, struct im_prepared *out,
		      char *why, size_t why_size);

/* The same checks and results for a record held as an arena tree (imval.h),
 * which is not modified (the payload leaves kind/_source_id out and has the
 * derived fields); the staging hot path, without Jansson objects. */
int im_record_prepare_v(struct im_validator *v, const struct imv *rec, int64_t seq, struct im_prepared *out,
			char *why, size_t why_size);

/* After im_record_prepare_v refused rec: the text im_record_prepare's caller
 * got from json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) of the record as it
 * left it (kind and _source_id dropped once they were checked, derived fields
 * added once made), for the dead letter. Owned by the validator, valid until
 * the next call; NULL for a scalar (as json_dumps) or out of memory. */
const char *im_record_rejected_text(struct im_validator *v, const struct imv *rec);

#endif
