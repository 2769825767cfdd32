/* IM record kinds, validation against the spec (through imrules), derived
 * dedupe fields and stage keys. */
#include "config.h"

#include "imrecord.h"
#include "jsonout.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

static const char *const kind_names[IM_KIND_COUNT] = {
	"account", "profile", "friend", "blacklist", "c2c_msg", "c2c_read",
	"group", "group_member", "group_msg", "group_unread",
};

const char *im_kind_name(enum im_kind kind)
{
	return kind >= 0 && kind < IM_KIND_COUNT ? kind_names[kind] : NULL;
}

enum im_kind im_kind_from_name(const char *name)
{
	for (int k = 0; name && k < IM_KIND_COUNT; k++)
		if (kind_names[k][0] == name[0] && !strcmp(kind_names[k], name))
			return (enum im_kind)k;
	return IM_KIND_UNKNOWN;
}

uint32_t im_id32(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	/* FNV's low bits mix poorly; the murmur3 finaliser spreads every input bit. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)(h ^ (h >> 32));
}

/* SHA-256, fetched once for the process: with EVP_sha256() OpenSSL 3 looks
 * the implementation up again on every EVP_Digest, which costs more than
 * hashing an id or a URL. Never freed (it lives as long as the process). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int im_hash_hex(const void *data, size_t len, char *out, size_t nhex)
{
	pthread_once(&sha256_once, fetch_sha256);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (nhex < 1 || nhex > 64 ||
	    !EVP_Digest(data, len, md, &mdlen, sha256_md ? sha256_md : EVP_sha256(), NULL))
		return -1;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < nhex; i++)
		out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 0xF];
	out[nhex] = '\0';
	return 0;
}

int im_userid_sanitize(const char *s, size_t len, char *out)
{
	if (len <= IM_USERID_MAX && im_rules_utf8_valid(s, len)) {
		struct imv v = {.type = IMV_STRING, .len = len, .u.s = s};
		if (im_rules_user_id_v(&v, NULL, 0) == 0) {
			memcpy(out, s, len);
			out[len] = '\0';
			return 0;
		}
	}
	memcpy(out, "u_", 2);
	return im_hash_hex(s, len, out + 2, IM_USERID_MAX - 2) < 0 ? -1 : 1;
}

int im_groupid_sanitize(const char *s, size_t len, char *out)
{
	if (len <= IM_GROUPID_MAX && !memchr(s, '\0', len)) {
		char copy[IM_GROUPID_MAX + 1];
		memcpy(copy, s, len);
		copy[len] = '\0';
		if (im_rules_group_id(copy, IM_GROUP_PRIVATE, NULL, 0) == 0) {
			memcpy(out, copy, len + 1);
			return 0;
		}
	}
	memcpy(out, "g_", 2);
	return im_hash_hex(s, len, out + 2, 40) < 0 ? -1 : 1;
}

/* ---- a growable text buffer ---- */

/* imrecord's buffers are jsonout's (struct im_jbuf), so jsonout writes into
 * them directly; the helpers below keep them NUL-terminated. */
static int buf_reserve(struct im_jbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

static int buf_add(struct im_jbuf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n))
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_adds(struct im_jbuf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}


/* ---- the field table ---- */

enum ftype {
	F_USER,    /* a UserID */
	F_GROUPID, /* a GroupId (checked against the group's type where known) */
	F_STRING,
	F_INT,     /* an integer */
	F_UINT32,
	F_TIME,    /* Unix seconds, integer >= 0 */
	F_ARRAY,
	F_OBJECT,
	F_ANY,     /* checked by an imrules function */
};

struct field {
	const char *name;
	enum ftype type;
	bool required;
};

/* Every kind's fields: exactly one item of its REST call (spec §3-§6). */
static const struct field fields[IM_KIND_COUNT][16] = {
	[IM_KIND_ACCOUNT] = {{"UserID", F_USER, true}, {"Nick", F_STRING, false}, {"FaceUrl", F_STRING, false}},
	[IM_KIND_PROFILE] = {{"From_Account", F_USER, true}, {"ProfileItem", F_ARRAY, true}},
	[IM_KIND_FRIEND] = {{"From_Account", F_USER, true}, {"To_Account", F_USER, true},
			    {"AddSource", F_STRING, true}, {"Remark", F_STRING, false},
			    {"RemarkTime", F_INT, false}, {"GroupName", F_ARRAY, false},
			    {"AddWording", F_STRING, false}, {"AddTime", F_INT, false},
			    {"CustomItem", F_ARRAY, false}},
	[IM_KIND_BLACKLIST] = {{"From_Account", F_USER, true}, {"To_Account", F_USER, true}},
	[IM_KIND_C2C_MSG] = {{"From_Account", F_USER, true}, {"To_Account", F_USER, true},
			     {"MsgTimeStamp", F_TIME, true}, {"MsgSeq", F_UINT32, false},
			     {"MsgRandom", F_UINT32, false}, {"MsgBody", F_ARRAY, true},
			     {"CloudCustomData", F_STRING, false}},
	[IM_KIND_C2C_READ] = {{"Report_Account", F_USER, true}, {"Peer_Account", F_USER, true},
			      {"MsgReadTime", F_ANY, false}},
	[IM_KIND_GROUP] = {{"GroupId", F_GROUPID, false}, {"Type", F_STRING, true}, {"Name", F_STRING, true},
			   {"Owner_Account", F_USER, false}, {"CreateTime", F_TIME, false},
			   {"Introduction", F_STRING, false}, {"Notification", F_STRING, false},
			   {"FaceUrl", F_STRING, false}, {"MaxMemberCount", F_INT, false},
			   {"ApplyJoinOption", F_STRING, false}, {"AppDefinedData", F_ARRAY, false},
			   {"SupportTopic", F_INT, false}},
	[IM_KIND_GROUP_MEMBER] = {{"GroupId", F_GROUPID, true}, {"Member_Account", F_USER, true},
				  {"Role", F_STRING, false}, {"JoinTime", F_TIME, false},
				  {"UnreadMsgNum", F_INT, false}},
	[IM_KIND_GROUP_MSG] = {{"GroupId", F_GROUPID, true}, {"From_Account", F_USER, true},
			       {"SendTime", F_TIME, true}, {"Random", F_UINT32, false},
			       {"MsgBody", F_ARRAY, true}},
	[IM_KIND_GROUP_UNREAD] = {{"GroupId", F_GROUPID, true}, {"Member_Account", F_USER, true},
				  {"UnreadMsgNum", F_INT, true}},
};

/* The code the service answers for a bad field, per API family. */
static const int bad_field_code[IM_KIND_COUNT] = {
	[IM_KIND_ACCOUNT] = 70402, [IM_KIND_PROFILE] = 40001, [IM_KIND_FRIEND] = 30001,
	[IM_KIND_BLACKLIST] = 30001, [IM_KIND_C2C_MSG] = 90010, [IM_KIND_C2C_READ] = 90001,
	[IM_KIND_GROUP] = 10004, [IM_KIND_GROUP_MEMBER] = 10004, [IM_KIND_GROUP_MSG] = 10004,
	[IM_KIND_GROUP_UNREAD] = 10004,
};

struct im_validator {
	struct im_rules rules;
	struct im_jbuf payload, conv, key, sid, basis, rejected;
	struct imv_arena arena; /* the json_t entry point's copy of the record */
	/* What the last prepare did to the record, as the json_t entry point
	 * applies it: kind and _source_id dropped, derived fields added. */
	int stripped;
	size_t nderived;
	struct im_jextra derived[2]; /* sorted by key */
	/* The record's fields by their place in fields[kind], filled while they
	 * are checked: the keys and rules below then need no lookups. */
	const struct field *ftable;
	const struct imv *fv[16];
};

struct im_validator *im_validator_new(const struct im_rules *rules)
{
	struct im_validator *v = calloc(1, sizeof *v);
	if (!v)
		return NULL;
	if (rules)
		v->rules = *rules;
	else
		im_rules_defaults(&v->rules);
	return v;
}

void im_validator_free(struct im_validator *v)
{
	if (!v)
		return;
	free(v->payload.data);
	free(v->conv.data);
	free(v->key.data);
	free(v->sid.data);
	free(v->basis.data);
	free(v->rejected.data);
	imv_arena_free(&v->arena);
	free(v);
}

static int invalid(char *why, size_t why_size, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int invalid(char *why, size_t why_size, int code, const char *fmt, ...)
{
	if (why && why_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return code ? code : -1;
}

static const struct field *find_field(enum im_kind k, const char *name)
{
	for (const struct field *f = fields[k]; f->name; f++)
		if (f->name[0] == name[0] && !strcmp(f->name, name))
			return f;
	return NULL;
}

static int check_field(enum im_kind k, const struct field *f, const struct imv *val, char *why, size_t why_size)
{
	int code = bad_field_code[k];
	char sub[200];
	switch (f->type) {
	case F_USER:
		if (im_rules_user_id_v(val, sub, sizeof sub))
			return invalid(why, why_size, code, "%s: %s", f->name, sub);
		return 0;
	case F_GROUPID:
		if (!imv_is_string(val) || imv_string_length(val) == 0)
			return invalid(why, why_size, code, "%s must be a non-empty string", f->name);
		return 0; /* the type-dependent rule is checked with the record */
	case F_STRING:
		return imv_is_string(val) ? 0 : invalid(why, why_size, code, "%s must be a string", f->name);
	case F_INT:
		return imv_is_integer(val) ? 0 : invalid(why, why_size, code, "%s must be an integer", f->name);
	case F_UINT32:
		return im_rules_uint32_v(val, NULL)
			       ? 0
			       : invalid(why, why_size, code, "%s must be an integer in 0..4294967295", f->name);
	case F_TIME:
		return imv_is_integer(val) && imv_integer(val) >= 0
			       ? 0
			       : invalid(why, why_size, code, "%s must be Unix seconds (a non-negative integer)",
					 f->name);
	case F_ARRAY:
		return imv_is_array(val) ? 0 : invalid(why, why_size, code, "%s must be an array", f->name);
	case F_OBJECT:
		return imv_is_object(val) ? 0 : invalid(why, why_size, code, "%s must be an object", f->name);
	case F_ANY:
		return 0;
	}
	return 0;
}

/* The value of field key. The names used below are the field table's own
 * strings (one literal per text in this file), found by address; any other
 * name is looked up. */
static const struct imv *field_value(const struct im_validator *v, const struct imv *rec, const char *key)
{
	for (size_t i = 0; v->ftable && v->ftable[i].name; i++)
		if (v->ftable[i].name == key)
			return v->fv[i];
	return imv_get(rec, key);
}

#define str(rec, key) imv_string(field_value(v, rec, key))

/* An integer field, derived ones included. */
static int64_t num(const struct im_validator *v, const struct imv *rec, const char *key)
{
	const struct imv *val = field_value(v, rec, key);
	if (val) /* a derived field is never one the record has */
		return imv_integer(val);
	for (size_t i = 0; i < v->nderived; i++)
		if (!strcmp(v->derived[i].key, key))
			return v->derived[i].value;
	return 0;
}

/* Field checks that need the spec's rules beyond types. */
static int check_kind_rules(struct im_validator *v, enum im_kind k, const struct imv *rec, char *why,
			    size_t why_size)
{
	char sub[240];
	int rc;
	switch (k) {
	case IM_KIND_ACCOUNT: {
		/* Nick and FaceUrl are stored as the profile tags they name (spec §3.1). */
		static const struct {
			const char *field, *tag;
		} tags[] = {{"Nick", "Tag_Profile_IM_Nick"}, {"FaceUrl", "Tag_Profile_IM_Image"}};
		for (size_t i = 0; i < 2; i++) {
			const struct imv *val = field_value(v, rec, tags[i].field);
			if (!val)
				continue;
			struct imv_member m[2] = {
				{"Tag", 3, {.type = IMV_STRING, .len = strlen(tags[i].tag), .u.s = tags[i].tag}},
				{"Value", 5, *val},
			};
			struct imv item = {.type = IMV_OBJECT, .len = 2, .u.members = m};
			if ((rc = im_rules_profile_item_v(&item, sub, sizeof sub)))
				return invalid(why, why_size, 70402, "%s: %s", tags[i].field, sub);
		}
		return 0;
	}
	case IM_KIND_PROFILE: {
		const struct imv *items = field_value(v, rec, "ProfileItem");
		if (imv_array_size(items) == 0)
			return invalid(why, why_size, 40001, "ProfileItem is empty");
		size_t i;
		const struct imv *item;
		imv_array_foreach(items, i, item)
			if ((rc = im_rules_profile_item_v(item, sub, sizeof sub)))
				return invalid(why, why_size, rc, "ProfileItem[%zu]: %s", i, sub);
		return 0;
	}
	case IM_KIND_FRIEND:
		if ((rc = im_rules_friend_item_v(rec, true, sub, sizeof sub)))
			return invalid(why, why_size, rc, "%s", sub);
		return 0;
	case IM_KIND_C2C_MSG:
	case IM_KIND_GROUP_MSG: {
		bool group = k == IM_KIND_GROUP_MSG;
		const struct imv *body = field_value(v, rec, "MsgBody");
		if ((rc = im_rules_msg_body_v(&v->rules, body, group, sub, sizeof sub)))
			return invalid(why, why_size, group ? 10004 : rc, "%s", sub);
		if (group && num(v, rec, "SendTime") > (int64_t)time(NULL))
			return invalid(why, why_size, 10004, "SendTime is in the future");
		return 0;
	}
	case IM_KIND_C2C_READ: {
		const struct imv *t = field_value(v, rec, "MsgReadTime");
		if (!t || imv_is_integer(t))
			return 0;
		const char *s = imv_string(t);
		if (s && *s && strspn(s, "0123456789") == strlen(s))
			return 0;
		return invalid(why, why_size, 90001, "MsgReadTime must be Unix seconds as a string of digits");
	}
	case IM_KIND_GROUP: {
		const char *type = str(rec, "Type");
		enum im_group_type t = im_rules_group_type(type);
		if (t == IM_GROUP_UNKNOWN)
			return invalid(why, why_size, 10004, "Type must be Private, Public, ChatRoom or Community");
		if (t == IM_GROUP_AVCHATROOM)
			return invalid(why, why_size, 10007, "AVChatRoom groups cannot be imported");
		const char *id = str(rec, "GroupId");
		if (id && im_rules_group_id(id, t, sub, sizeof sub))
			return invalid(why, why_size, 10004, "%s", sub);
		if ((rc = im_rules_group_info_v(rec, t, true, sub, sizeof sub)))
			return invalid(why, why_size, rc, "%s", sub);
		return 0;
	}
	case IM_KIND_GROUP_MEMBER:
		if ((rc = im_rules_member_fields_v(rec, true, sub, sizeof sub)))
			return invalid(why, why_size, rc, "%s", sub);
		if (field_value(v, rec, "UnreadMsgNum") && num(v, rec, "UnreadMsgNum") < 0)
			return invalid(why, why_size, 10004, "UnreadMsgNum is negative");
		return 0;
	case IM_KIND_GROUP_UNREAD:
		if (num(v, rec, "UnreadMsgNum") < 0)
			return invalid(why, why_size, 10004, "UnreadMsgNum is negative");
		return 0;
	default:
		return 0;
	}
}

/* Records of group kinds name their group by GroupId; a group created by this
 * migration has a custom id (never "@TGS#..." unless Community "@TGS#_..."). */
static int check_group_ref(const struct im_validator *v, enum im_kind k, const struct imv *rec, char *why,
			   size_t why_size)
{
	const char *id = str(rec, "GroupId");
	if (!id || k == IM_KIND_GROUP)
		return 0;
	char sub[200];
	enum im_group_type t = strncmp(id, "@TGS#_", 6) ? IM_GROUP_PRIVATE : IM_GROUP_COMMUNITY;
	/* An auto-assigned id of a group that already exists in the target is fine too. */
	if (t == IM_GROUP_PRIVATE && !strncmp(id, "@TGS#", 5))
		t = IM_GROUP_UNKNOWN;
	if (t != IM_GROUP_UNKNOWN && im_rules_group_id(id, t, sub, sizeof sub))
		return invalid(why, why_size, 10015, "%s", sub);
	return 0;
}

/* The members prepare drops: the stage keeps them in columns of their own. */
static const struct im_jextra record_only[] = {{"kind", 4, 0}, {"_source_id", 10, 0}};

/* b = compact sorted JSON of rec as prepare leaves it (see jsonout.h for the
 * \u case). */
static int write_record(struct im_validator *v, struct im_jbuf *b, const struct imv *rec, int stripped,
			size_t nderived, int upper_hex)
{
	return im_imv_write_object(b, rec, record_only, stripped ? 2 : 0, v->derived, nderived, upper_hex);
}

/* Text the derived ids hash: the source id when there is one, else the record's
 * own content. Stored in v->basis. */
static int derive_basis(struct im_validator *v, const struct imv *rec, const char *sid)
{
	v->basis.len = 0;
	if (sid)
		return buf_adds(&v->basis, sid);
	return write_record(v, &v->basis, rec, 1, 0, 0);
}

static uint32_t derive(struct im_validator *v, const char *field)
{
	/* "field:basis": one basis, independent values per field. */
	size_t n = strlen(field);
	size_t total = n + 1 + v->basis.len;
	char small[512];
	char *text = total <= sizeof small ? small : malloc(total);
	if (!text)
		return im_id32(v->basis.data, v->basis.len);
	memcpy(text, field, n);
	text[n] = ':';
	memcpy(text + n + 1, v->basis.data, v->basis.len);
	uint32_t id = im_id32(text, total);
	if (text != small)
		free(text);
	return id;
}

static int add_derived(struct im_validator *v, const struct imv *rec, const char *sid, enum im_kind k)
{
	static const char *const c2c[] = {"MsgSeq", "MsgRandom", NULL};
	static const char *const grp[] = {"Random", NULL};
	const char *const *names = k == IM_KIND_C2C_MSG ? c2c : k == IM_KIND_GROUP_MSG ? grp : NULL;
	if (!names)
		return 0;
	int have_basis = 0;
	for (; *names; names++) {
		if (field_value(v, rec, *names))
			continue;
		if (!have_basis++ && derive_basis(v, rec, sid) < 0)
			return -1;
		v->derived[v->nderived].key = *names;
		v->derived[v->nderived].klen = strlen(*names);
		v->derived[v->nderived++].value = derive(v, *names);
	}
	/* Writers merge them in key order. */
	if (v->nderived == 2 && strcmp(v->derived[0].key, v->derived[1].key) > 0) {
		struct im_jextra t = v->derived[0];
		v->derived[0] = v->derived[1];
		v->derived[1] = t;
	}
	return 0;
}

/* key = "<kind>:[" + the identity fields as JSON + "]". */
static int key_begin(struct im_jbuf *b, enum im_kind k)
{
	b->len = 0;
	return buf_adds(b, kind_names[k]) || buf_adds(b, ":[");
}

static int key_str(struct im_jbuf *b, const char *s)
{
	if (b->data[b->len - 1] != '[' && buf_add(b, ",", 1))
		return -1;
	/* jsonout's escaper, as payloads are written */
	return im_jbuf_append_string(b, s);
}

static int key_int(struct im_jbuf *b, int64_t n)
{
	/* By hand: snprintf is a measurable share of staging a message. */
	if (buf_reserve(b, 21))
		return -1;
	if (b->data[b->len - 1] != '[')
		b->data[b->len++] = ',';
	b->len += im_json_int(b->data + b->len, n);
	b->data[b->len] = '\0';
	return 0;
}

/* json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY): fails, as
 * json_dumps does, for an absent value. */
static int key_json(struct im_jbuf *b, const struct imv *val)
{
	if (b->data[b->len - 1] != '[' && buf_add(b, ",", 1))
		return -1;
	if (!val)
		return -1;
	return im_imv_append(b, val, 1);
}

/* The sorted user pair a one-to-one conversation is keyed by. */
static void pair(const struct im_validator *v, const struct imv *rec, const char *f1, const char *f2,
		 const char **lo, const char **hi)
{
	const char *a = str(rec, f1), *b = str(rec, f2);
	if (strcmp(a, b) <= 0) {
		*lo = a;
		*hi = b;
	} else {
		*lo = b;
		*hi = a;
	}
}

static int read_time(const struct imv *val, int64_t *out)
{
	if (imv_is_integer(val)) {
		*out = imv_integer(val);
		return 1;
	}
	const char *s = imv_string(val);
	if (s && *s) {
		*out = strtoll(s, NULL, 10);
		return 1;
	}
	return 0;
}

static int make_keys(struct im_validator *v, enum im_kind k, const struct imv *rec, const char *sid, int64_t seq,
		     struct im_prepared *out)
{
	struct im_jbuf *key = &v->key, *conv = &v->conv;
	const char *lo, *hi;
	int64_t t;
	int rc = key_begin(key, k);
	conv->len = 0;
	out->ord = seq;
	switch (k) {
	case IM_KIND_ACCOUNT:
		rc = rc || buf_adds(conv, str(rec, "UserID")) || key_str(key, str(rec, "UserID"));
		break;
	case IM_KIND_PROFILE:
		/* Several profile records of one user each set other tags. */
		rc = rc || buf_adds(conv, str(rec, "From_Account")) || key_str(key, str(rec, "From_Account")) ||
		     key_json(key, field_value(v, rec, "ProfileItem"));
		break;
	case IM_KIND_FRIEND:
	case IM_KIND_BLACKLIST:
		rc = rc || buf_adds(conv, str(rec, "From_Account")) || key_str(key, str(rec, "From_Account")) ||
		     key_str(key, str(rec, "To_Account"));
		break;
	case IM_KIND_C2C_MSG:
		/* The target's own dedupe identity (spec §5.2): pair + seq + random + time. */
		pair(v, rec, "From_Account", "To_Account", &lo, &hi);
		out->ord = num(v, rec, "MsgTimeStamp");
		rc = rc || buf_adds(conv, lo) || buf_add(conv, "|", 1) || buf_adds(conv, hi) || key_str(key, lo) ||
		     key_str(key, hi) || key_int(key, num(v, rec, "MsgSeq")) ||
		     key_int(key, num(v, rec, "MsgRandom")) || key_int(key, num(v, rec, "MsgTimeStamp"));
		break;
	case IM_KIND_C2C_READ:
		pair(v, rec, "Report_Account", "Peer_Account", &lo, &hi);
		if (read_time(field_value(v, rec, "MsgReadTime"), &t))
			out->ord = t;
		rc = rc || buf_adds(conv, lo) || buf_add(conv, "|", 1) || buf_adds(conv, hi) ||
		     key_str(key, str(rec, "Report_Account")) || key_str(key, str(rec, "Peer_Account")) ||
		     key_json(key, field_value(v, rec, "MsgReadTime"));
		break;
	case IM_KIND_GROUP:
		if (str(rec, "GroupId"))
			rc = rc || buf_adds(conv, str(rec, "GroupId")) || key_str(key, str(rec, "GroupId"));
		else /* an auto-assigned id: only the source (or the content) identifies it */
			rc = rc || buf_adds(conv, "") || derive_basis(v, rec, sid) ||
			     key_str(key, v->basis.data);
		break;
	case IM_KIND_GROUP_MEMBER:
	case IM_KIND_GROUP_UNREAD:
		rc = rc || buf_adds(conv, str(rec, "GroupId")) || key_str(key, str(rec, "GroupId")) ||
		     key_str(key, str(rec, "Member_Account"));
		break;
	case IM_KIND_GROUP_MSG:
		out->ord = num(v, rec, "SendTime");
		rc = rc || buf_adds(conv, str(rec, "GroupId")) || key_str(key, str(rec, "GroupId"));
		if (sid)
			rc = rc || key_str(key, sid);
		else
			rc = rc || key_int(key, num(v, rec, "Random")) || key_int(key, num(v, rec, "SendTime")) ||
			     key_str(key, str(rec, "From_Account"));
		break;
	default:
		return -1;
	}
	rc = rc || buf_add(key, "]", 1);
	if (rc)
		return -1;
	out->conv = conv->data;
	out->dedupe_key = key->data;
	return 0;
}

int im_record_prepare_v(struct im_validator *v, const struct imv *rec, int64_t seq, struct im_prepared *out,
			char *why, size_t why_size)
{
	memset(out, 0, sizeof *out);
	out->kind = IM_KIND_UNKNOWN;
	v->stripped = 0;
	v->nderived = 0;
	v->ftable = NULL;
	if (!imv_is_object(rec))
		return invalid(why, why_size, 0, "an IM record must be an object");
	const struct imv *kind = imv_get(rec, "kind");
	if (!imv_is_string(kind))
		return invalid(why, why_size, 0, "the record has no kind");
	enum im_kind k = im_kind_from_name(imv_string(kind));
	if (k == IM_KIND_UNKNOWN)
		return invalid(why, why_size, 0, "unknown kind '%.40s'", imv_string(kind));
	out->kind = k;

	/* _source_id: the old system's id, text or number. */
	const char *sid = NULL;
	const struct imv *sidv = imv_get(rec, "_source_id");
	if (sidv && !imv_is_null(sidv)) {
		v->sid.len = 0;
		if (imv_is_string(sidv)) {
			if (buf_add(&v->sid, imv_string(sidv), imv_string_length(sidv)))
				return invalid(why, why_size, 0, "out of memory");
		} else if (imv_is_integer(sidv)) {
			char tmp[32];
			snprintf(tmp, sizeof tmp, "%" PRId64, imv_integer(sidv));
			if (buf_adds(&v->sid, tmp))
				return invalid(why, why_size, 0, "out of memory");
		} else {
			return invalid(why, why_size, 0, "_source_id must be a string or an integer");
		}
		sid = v->sid.data;
	}
	v->stripped = 1;

	memset(v->fv, 0, sizeof v->fv);
	size_t required_seen = 0, required_all = 0;
	for (size_t i = 0; i < rec->len; i++) {
		const struct imv_member *m = &rec->u.members[i];
		if ((m->klen == 4 && !memcmp(m->key, "kind", 4)) || (m->klen == 10 && !memcmp(m->key, "_source_id", 10)))
			continue;
		const struct field *f = find_field(k, m->key);
		if (!f)
			return invalid(why, why_size, 0, "%s records have no field '%.40s'", kind_names[k], m->key);
		int rc = check_field(k, f, &m->val, why, why_size);
		if (rc)
			return rc;
		/* The first member whose C-string name is the field's (a key with a NUL
		 * after the name checks as that field but is not found by name). */
		if (m->klen == strlen(f->name) && !v->fv[f - fields[k]])
			v->fv[f - fields[k]] = &m->val;
		required_seen += f->required; /* keys are unique: each counts once */
	}
	for (const struct field *f = fields[k]; f->name; f++)
		required_all += f->required;
	/* Look the missing one up only when one is missing. */
	for (const struct field *f = fields[k]; required_seen < required_all && f->name; f++)
		if (f->required && !imv_get(rec, f->name))
			return invalid(why, why_size, bad_field_code[k], "%s is required", f->name);
	v->ftable = fields[k];
	int rc = check_kind_rules(v, k, rec, why, why_size);
	if (!rc)
		rc = check_group_ref(v, k, rec, why, why_size);
	if (rc)
		return rc;

	if (add_derived(v, rec, sid, k) < 0 || make_keys(v, k, rec, sid, seq, out) < 0 ||
	    write_record(v, &v->payload, rec, 1, v->nderived, 0) < 0)
		return invalid(why, why_size, 0, "out of memory");
	if ((k == IM_KIND_C2C_MSG || k == IM_KIND_GROUP_MSG) && v->payload.len > v->rules.msg_max_bytes) {
		/* The payload holds MsgBody and CloudCustomData (escaped, so no shorter)
		 * plus other fields: when it fits, the message fits, and the exact count
		 * is only needed for large payloads. */
		size_t size = im_rules_msg_size_v(field_value(v, rec, "MsgBody"), str(rec, "CloudCustomData"));
		if (size > v->rules.msg_max_bytes)
			return invalid(why, why_size, k == IM_KIND_GROUP_MSG ? 80002 : 93000,
				       "message is %zu bytes, over %zu", size, v->rules.msg_max_bytes);
	}
	out->payload = v->payload.data;
	out->payload_len = v->payload.len;
	out->source_id = sid;
	return 0;
}

const char *im_record_rejected_text(struct im_validator *v, const struct imv *rec)
{
	if (imv_is_object(rec))
		return write_record(v, &v->rejected, rec, v->stripped, v->nderived, 1) < 0 ? NULL : v->rejected.data;
	/* json_dumps without JSON_ENCODE_ANY: arrays, but no scalars. */
	struct im_jbuf j = {v->rejected.data, 0, v->rejected.cap};
	int rc = imv_is_array(rec) ? im_imv_write(&j, rec, 1) : -1;
	v->rejected.data = j.data;
	v->rejected.len = j.len;
	v->rejected.cap = j.cap;
	return rc < 0 ? NULL : v->rejected.data;
}

int im_record_prepare(struct im_validator *v, json_t *rec, int64_t seq, struct im_prepared *out, char *why,
		      size_t why_size)
{
	struct imv r;
	imv_arena_reset(&v->arena);
	if (imv_from_json(&v->arena, rec, &r)) {
		memset(out, 0, sizeof *out);
		out->kind = IM_KIND_UNKNOWN;
		return invalid(why, why_size, 0, "out of memory");
	}
	int rc = im_record_prepare_v(v, &r, seq, out, why, why_size);
	/* The record as this entry point always left it. */
	if (v->stripped) {
		json_object_del(rec, "kind");
		json_object_del(rec, "_source_id");
	}
	for (size_t i = 0; i < v->nderived; i++)
		if (json_object_set_new(rec, v->derived[i].key, json_integer(v->derived[i].value)))
			return rc ? rc : invalid(why, why_size, 0, "out of memory");
	return rc;
}
