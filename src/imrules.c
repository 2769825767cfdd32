/* Tencent Cloud IM request rules (spec §1.6, §3-§6), shared by runner and emulator. */
#include "config.h"

#include "imrules.h"
#include "jsonout.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct im_api_info apis[] = {
	{"im_open_login_svc", "account_import", IM_FAMILY_LOGIN, 200, 0},
	{"im_open_login_svc", "multiaccount_import", IM_FAMILY_LOGIN, 100, 100},
	{"im_open_login_svc", "account_check", IM_FAMILY_LOGIN, 100, 100},
	{"im_open_login_svc", "account_delete", IM_FAMILY_LOGIN, 100, 100},
	{"profile", "portrait_set", IM_FAMILY_PROFILE, 200, 0},
	{"profile", "portrait_get", IM_FAMILY_PROFILE, 200, 100},
	{"sns", "friend_import", IM_FAMILY_SNS, 200, 1000},
	{"sns", "friend_add", IM_FAMILY_SNS, 200, 1000},
	{"sns", "friend_delete", IM_FAMILY_SNS, 200, 1000},
	{"sns", "black_list_add", IM_FAMILY_SNS, 200, 1000},
	{"sns", "black_list_delete", IM_FAMILY_SNS, 200, 1000},
	{"sns", "friend_get", IM_FAMILY_SNS, 200, 0},
	{"openim", "importmsg", IM_FAMILY_OPENIM, 200, 0},
	{"openim", "admin_set_msg_read", IM_FAMILY_OPENIM, 200, 0},
	{"openim", "sendmsg", IM_FAMILY_OPENIM, 200, 0},
	{"openim", "batchsendmsg", IM_FAMILY_OPENIM, 200, 500},
	{"openim", "admin_getroammsg", IM_FAMILY_OPENIM, 200, 0},
	{"group_open_http_svc", "import_group", IM_FAMILY_GROUP, 200, 0},
	{"group_open_http_svc", "import_group_member", IM_FAMILY_GROUP, 200, 300},
	{"group_open_http_svc", "import_group_msg", IM_FAMILY_GROUP, 200, 7},
	{"group_open_http_svc", "set_unread_msg_num", IM_FAMILY_GROUP, 200, 0},
	{"group_open_http_svc", "create_group", IM_FAMILY_GROUP, 200, 100},
	{"group_open_http_svc", "get_group_info", IM_FAMILY_GROUP, 200, 50},
	{"group_open_http_svc", "get_group_member_info", IM_FAMILY_GROUP, 200, 0},
	{"group_open_http_svc", "modify_group_base_info", IM_FAMILY_GROUP, 200, 0},
	{"group_open_http_svc", "add_group_member", IM_FAMILY_GROUP, 200, 300},
	{"group_open_http_svc", "delete_group_member", IM_FAMILY_GROUP, 200, 100},
	{"group_open_http_svc", "modify_group_member_info", IM_FAMILY_GROUP, 200, 0},
	{"group_open_http_svc", "send_group_msg", IM_FAMILY_GROUP, 200, 0},
	{"group_open_http_svc", "group_msg_get_simple", IM_FAMILY_GROUP, 200, 20},
	{"group_open_http_svc", "destroy_group", IM_FAMILY_GROUP, 200, 0},
	{"group_open_http_svc", "change_group_owner", IM_FAMILY_GROUP, 200, 0},
};

static int fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the reason and returns -1, so checks read "return fail(...)". */
static int fail(char *why, size_t why_size, const char *fmt, ...)
{
	if (why && why_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void im_rules_defaults(struct im_rules *r)
{
	r->msg_max_bytes = 12000;
	r->group_msg_batch_max = 7;
	r->add_member_batch_max = 300;
	r->delete_member_batch_max = 100;
	r->group_msg_equal_time = true;
	r->group_msg_any_elem = false;
	r->group_msg_sender_member = false;
	r->legacy_identifier = true;
	r->read_time_number = true;
	r->friend_import_overwrite = true;
	r->friend_delete_both = true;
	r->sendmsg_timestamp = true;
	r->group_msgs_per_second = 40;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_count(const char *v, long max, long *out)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || *end || n < 1 || n > max)
		return -1;
	*out = n;
	return 0;
}

int im_rules_set(struct im_rules *r, const char *name_eq_value, char *err, size_t err_size)
{
	const char *eq = strchr(name_eq_value, '=');
	if (!eq)
		return fail(err, err_size, "rule switch '%s' is not name=value", name_eq_value);
	size_t n = (size_t)(eq - name_eq_value);
	const char *v = eq + 1;
	long num;
	bool *flag = NULL;
#define NAME_IS(s) (n == strlen(s) && !strncmp(name_eq_value, s, n))
	if (NAME_IS("msg-max-bytes")) {
		if (parse_count(v, 1 << 20, &num))
			return fail(err, err_size, "msg-max-bytes wants a byte count, not '%s'", v);
		r->msg_max_bytes = (size_t)num;
		return 0;
	}
	int *count = NULL;
	if (NAME_IS("group-msg-batch-max"))
		count = &r->group_msg_batch_max;
	else if (NAME_IS("add-member-batch-max"))
		count = &r->add_member_batch_max;
	else if (NAME_IS("delete-member-batch-max"))
		count = &r->delete_member_batch_max;
	else if (NAME_IS("group-msgs-per-second"))
		count = &r->group_msgs_per_second;
	if (count) {
		if (parse_count(v, 100000, &num))
			return fail(err, err_size, "%.*s wants a positive count, not '%s'", (int)n,
				    name_eq_value, v);
		*count = (int)num;
		return 0;
	}
	if (NAME_IS("group-msg-equal-time"))
		flag = &r->group_msg_equal_time;
	else if (NAME_IS("group-msg-any-elem"))
		flag = &r->group_msg_any_elem;
	else if (NAME_IS("group-msg-sender-member"))
		flag = &r->group_msg_sender_member;
	else if (NAME_IS("legacy-identifier"))
		flag = &r->legacy_identifier;
	else if (NAME_IS("read-time-number"))
		flag = &r->read_time_number;
	else if (NAME_IS("friend-import-overwrite"))
		flag = &r->friend_import_overwrite;
	else if (NAME_IS("friend-delete-both"))
		flag = &r->friend_delete_both;
	else if (NAME_IS("sendmsg-timestamp"))
		flag = &r->sendmsg_timestamp;
#undef NAME_IS
	if (!flag)
		return fail(err, err_size, "unknown rule switch '%.*s'", (int)n, name_eq_value);
	if (parse_bool(v, flag))
		return fail(err, err_size, "%.*s wants yes or no, not '%s'", (int)n, name_eq_value, v);
	return 0;
}

const struct im_api_info *im_rules_api(const char *service, const char *command)
{
	for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
		if (!strcmp(apis[i].service, service) && !strcmp(apis[i].command, command))
			return &apis[i];
	return NULL;
}

const struct im_api_info *im_rules_api_at(size_t i)
{
	return i < sizeof apis / sizeof apis[0] ? &apis[i] : NULL;
}

int im_rules_batch_max(const struct im_rules *r, const struct im_api_info *api)
{
	if (!strcmp(api->command, "import_group_msg"))
		return r->group_msg_batch_max;
	if (!strcmp(api->command, "add_group_member"))
		return r->add_member_batch_max;
	if (!strcmp(api->command, "delete_group_member"))
		return r->delete_member_batch_max;
	return api->batch_max;
}

int im_rules_internal_code(enum im_family family)
{
	switch (family) {
	case IM_FAMILY_LOGIN: return 70500;
	case IM_FAMILY_PROFILE: return 40006;
	case IM_FAMILY_SNS: return 30006;
	case IM_FAMILY_OPENIM: return 90992;
	case IM_FAMILY_GROUP: return 10002;
	}
	return 70500;
}

int im_rules_bad_param_code(enum im_family family)
{
	switch (family) {
	case IM_FAMILY_LOGIN: return 70402;
	case IM_FAMILY_PROFILE: return 40001;
	case IM_FAMILY_SNS: return 30001;
	case IM_FAMILY_OPENIM: return 90010;
	case IM_FAMILY_GROUP: return 10004;
	}
	return 70402;
}

int im_rules_bad_json_code(enum im_family family)
{
	switch (family) {
	case IM_FAMILY_OPENIM: return 90001;
	case IM_FAMILY_GROUP: return 10011;
	default: return 60003;
	}
}

bool im_rules_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p++;
		if (c < 0x80)
			continue;
		int more;
		unsigned cp;
		if (c >= 0xC2 && c <= 0xDF) {
			more = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			more = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			more = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (end - p < more)
			return false;
		for (int i = 0; i < more; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		p += more;
		if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
	}
	return true;
}

int im_rules_user_id_v(const struct imv *v, char *why, size_t why_size)
{
	if (!imv_is_string(v))
		return fail(why, why_size, "UserID is not a string");
	size_t n = imv_string_length(v);
	if (n == 0)
		return fail(why, why_size, "UserID is empty");
	if (n > 32)
		return fail(why, why_size, "UserID is %zu bytes, over 32", n);
	if (memchr(imv_string(v), '\0', n))
		return fail(why, why_size, "UserID contains a NUL byte");
	return 0;
}

/* prefix followed by 1..max ASCII letters. */
static bool prefix_letters(const char *s, const char *prefix, size_t max)
{
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl))
		return false;
	s += pl;
	size_t n = strlen(s);
	if (n < 1 || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

bool im_rules_add_source_ok(const char *s)
{
	return s && prefix_letters(s, "AddSource_Type_", 8);
}

enum value_kind { V_STRING, V_UINT32 };

struct profile_tag {
	const char *tag;
	enum value_kind kind;
	size_t max_bytes;		/* strings */
	const char *const *allowed;	/* NULL-terminated, or NULL for any value */
};

static const char *const genders[] = {"Gender_Type_Unknown", "Gender_Type_Female", "Gender_Type_Male", NULL};
static const char *const allow_types[] = {"AllowType_Type_NeedConfirm", "AllowType_Type_AllowAny",
					  "AllowType_Type_DenyAny", NULL};
static const char *const forbid_types[] = {"AdminForbid_Type_None", "AdminForbid_Type_SendOut", NULL};

static const struct profile_tag profile_tags[] = {
	{"Tag_Profile_IM_Nick", V_STRING, 500, NULL},
	{"Tag_Profile_IM_Gender", V_STRING, 500, genders},
	{"Tag_Profile_IM_BirthDay", V_UINT32, 0, NULL},
	{"Tag_Profile_IM_Location", V_STRING, 16, NULL},
	{"Tag_Profile_IM_SelfSignature", V_STRING, 500, NULL},
	{"Tag_Profile_IM_AllowType", V_STRING, 500, allow_types},
	{"Tag_Profile_IM_Language", V_UINT32, 0, NULL},
	{"Tag_Profile_IM_Image", V_STRING, 500, NULL},
	{"Tag_Profile_IM_MsgSettings", V_UINT32, 0, NULL},
	{"Tag_Profile_IM_AdminForbidType", V_STRING, 500, forbid_types},
	{"Tag_Profile_IM_Level", V_UINT32, 0, NULL},
	{"Tag_Profile_IM_Role", V_UINT32, 0, NULL},
};

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

int im_rules_profile_item_v(const struct imv *item, char *why, size_t why_size)
{
	const struct imv *tag = imv_get(item, "Tag");
	const struct imv *value = imv_get(item, "Value");
	if (!imv_is_object(item) || !imv_is_string(tag) || !value) {
		fail(why, why_size, "ProfileItem entry needs a string Tag and a Value");
		return 40001;
	}
	const char *t = imv_string(tag);
	if (!strncmp(t, "Tag_Profile_Custom_", 19)) {
		if (!prefix_letters(t, "Tag_Profile_Custom_", 8)) {
			fail(why, why_size, "custom tag keyword must be 1-8 letters");
			return 40009;
		}
		/* Custom fields take strings or bytes only (spec §3.7). */
		if (!imv_is_string(value)) {
			fail(why, why_size, "custom profile tag %s takes a string", t);
			return 40610;
		}
		if (imv_string_length(value) > 500) {
			fail(why, why_size, "%s value is %zu bytes, over 500", t, imv_string_length(value));
			return 40601;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof profile_tags / sizeof profile_tags[0]; i++) {
		const struct profile_tag *p = &profile_tags[i];
		if (strcmp(t, p->tag))
			continue;
		if (p->kind == V_UINT32) {
			uint32_t u;
			if (!imv_is_integer(value)) {
				fail(why, why_size, "%s takes an integer", t);
				return 40610;
			}
			if (!im_rules_uint32_v(value, &u)) {
				fail(why, why_size, "%s is out of the uint32 range", t);
				return 40605;
			}
			return 0;
		}
		if (!imv_is_string(value)) {
			fail(why, why_size, "%s takes a string", t);
			return 40610;
		}
		if (p->allowed && !in_list(imv_string(value), p->allowed)) {
			fail(why, why_size, "%s has a value outside its allowed set", t);
			return 40605;
		}
		if (imv_string_length(value) > p->max_bytes) {
			fail(why, why_size, "%s value is %zu bytes, over %zu", t, imv_string_length(value),
			     p->max_bytes);
			return 40601;
		}
		return 0;
	}
	fail(why, why_size, "unknown profile tag %s", t);
	return 40009;
}

/* An optional string member of at most max bytes. */
static int opt_string(const struct imv *obj, const char *key, size_t max, char *why, size_t why_size)
{
	const struct imv *v = imv_get(obj, key);
	if (!v)
		return 0;
	if (!imv_is_string(v))
		return fail(why, why_size, "%s is not a string", key);
	if (imv_string_length(v) > max)
		return fail(why, why_size, "%s is %zu bytes, over %zu", key, imv_string_length(v), max);
	return 0;
}

static int opt_integer(const struct imv *obj, const char *key, char *why, size_t why_size)
{
	const struct imv *v = imv_get(obj, key);
	if (v && !imv_is_integer(v))
		return fail(why, why_size, "%s is not an integer", key);
	return 0;
}

static int friend_list_name(const struct imv *v, char *why, size_t why_size)
{
	if (!imv_is_string(v))
		return fail(why, why_size, "GroupName entry is not a string");
	size_t n = imv_string_length(v);
	if (n == 0 || n > 30)
		return fail(why, why_size, "friend list name must be 1-30 bytes, is %zu", n);
	return 0;
}

int im_rules_friend_item_v(const struct imv *item, bool import, char *why, size_t why_size)
{
	if (!imv_is_object(item)) {
		fail(why, why_size, "AddFriendItem entry is not an object");
		return 30001;
	}
	char sub[160];
	if (im_rules_user_id_v(imv_get(item, "To_Account"), sub, sizeof sub)) {
		fail(why, why_size, "To_Account: %s", sub);
		return 30001;
	}
	if (opt_string(item, "Remark", 96, why, why_size) || opt_string(item, "AddWording", 256, why, why_size) ||
	    opt_integer(item, "AddTime", why, why_size) || opt_integer(item, "RemarkTime", why, why_size))
		return 30001;
	const struct imv *src = imv_get(item, "AddSource");
	if (!src && import) {
		fail(why, why_size, "AddSource is required");
		return 30001;
	}
	if (src && !(imv_is_string(src) && im_rules_add_source_ok(imv_string(src)))) {
		fail(why, why_size, "AddSource must be AddSource_Type_ and 1-8 letters");
		return 30001;
	}
	const struct imv *groups = imv_get(item, "GroupName");
	if (groups && import) {
		if (!imv_is_array(groups)) {
			fail(why, why_size, "GroupName must be an array for friend_import");
			return 30001;
		}
		if (imv_array_size(groups) > 32) {
			fail(why, why_size, "GroupName has %zu lists, over 32", imv_array_size(groups));
			return 30001;
		}
		size_t i;
		const struct imv *g;
		imv_array_foreach(groups, i, g)
			if (friend_list_name(g, why, why_size))
				return 30001;
	} else if (groups && friend_list_name(groups, why, why_size)) {
		return 30001;
	}
	const struct imv *custom = imv_get(item, "CustomItem");
	if (custom) {
		if (!imv_is_array(custom)) {
			fail(why, why_size, "CustomItem is not an array");
			return 30001;
		}
		size_t i;
		const struct imv *c;
		imv_array_foreach(custom, i, c) {
			const struct imv *tag = imv_get(c, "Tag"), *value = imv_get(c, "Value");
			if (!imv_is_string(tag) || !prefix_letters(imv_string(tag), "Tag_SNS_Custom_", 8)) {
				fail(why, why_size, "CustomItem Tag must be Tag_SNS_Custom_ and 1-8 letters");
				return 30001;
			}
			if (!(imv_is_integer(value) || (imv_is_string(value) && imv_string_length(value) <= 500))) {
				fail(why, why_size, "CustomItem Value must be an integer or a string <= 500 bytes");
				return 30001;
			}
		}
	}
	return 0;
}

enum field_type { F_STR, F_NUM, F_ARR };

struct elem_field {
	const char *name;
	enum field_type type;
	bool required;
};

struct elem_schema {
	const char *type;
	bool group_import;	/* listed for import_group_msg */
	struct elem_field fields[14];
};

/* Required flags follow "REST senders must fill" in spec §5.1. */
static const struct elem_schema elems[] = {
	{"TIMTextElem", true, {{"Text", F_STR, true}}},
	{"TIMLocationElem", true, {{"Desc", F_STR, false}, {"Latitude", F_NUM, true}, {"Longitude", F_NUM, true}}},
	{"TIMFaceElem", true, {{"Index", F_NUM, true}, {"Data", F_STR, false}}},
	{"TIMCustomElem", true,
	 {{"Data", F_STR, false}, {"Desc", F_STR, false}, {"Ext", F_STR, false}, {"Sound", F_STR, false}}},
	{"TIMSoundElem", false,
	 {{"Url", F_STR, true}, {"UUID", F_STR, true}, {"Size", F_NUM, false}, {"Second", F_NUM, false},
	  {"Download_Flag", F_NUM, true}}},
	{"TIMImageElem", false, {{"UUID", F_STR, true}, {"ImageFormat", F_NUM, false}, {"ImageInfoArray", F_ARR, true}}},
	{"TIMFileElem", false,
	 {{"Url", F_STR, true}, {"UUID", F_STR, true}, {"FileSize", F_NUM, false}, {"FileName", F_STR, false},
	  {"Download_Flag", F_NUM, true}}},
	{"TIMVideoFileElem", false,
	 {{"VideoUrl", F_STR, true}, {"VideoUUID", F_STR, false}, {"VideoSize", F_NUM, false},
	  {"VideoSecond", F_NUM, false}, {"VideoFormat", F_STR, false}, {"VideoDownloadFlag", F_NUM, true},
	  {"ThumbUrl", F_STR, false}, {"ThumbUUID", F_STR, false}, {"ThumbSize", F_NUM, false},
	  {"ThumbWidth", F_NUM, false}, {"ThumbHeight", F_NUM, false}, {"ThumbFormat", F_STR, false},
	  {"ThumbDownloadFlag", F_NUM, true}}},
};

static bool type_matches(const struct imv *v, enum field_type t)
{
	switch (t) {
	case F_STR: return imv_is_string(v);
	case F_NUM: return imv_is_number(v);
	case F_ARR: return imv_is_array(v);
	}
	return false;
}

static int check_image_info(const struct imv *arr, char *why, size_t why_size)
{
	size_t i;
	const struct imv *info;
	if (imv_array_size(arr) == 0)
		return fail(why, why_size, "TIMImageElem ImageInfoArray is empty");
	imv_array_foreach(arr, i, info) {
		static const char *const nums[] = {"Type", "Size", "Width", "Height"};
		if (!imv_is_object(info) || !imv_is_string(imv_get(info, "URL")))
			return fail(why, why_size, "TIMImageElem ImageInfoArray[%zu] needs a string URL", i);
		for (size_t k = 0; k < 4; k++) {
			const struct imv *v = imv_get(info, nums[k]);
			if ((k >= 2 && !v) || (v && !imv_is_integer(v)))
				return fail(why, why_size, "TIMImageElem ImageInfoArray[%zu].%s must be an integer",
					    i, nums[k]);
		}
	}
	return 0;
}

static int check_elem(const struct imv *el, size_t idx, bool group_import, bool any_elem, char *why, size_t why_size)
{
	const struct imv *type = imv_get(el, "MsgType");
	const struct imv *content = imv_get(el, "MsgContent");
	if (!imv_is_object(el) || !imv_is_string(type) || !imv_is_object(content))
		return fail(why, why_size, "MsgBody[%zu] needs a string MsgType and an object MsgContent", idx);
	const char *t = imv_string(type);
	for (size_t i = 0; i < sizeof elems / sizeof elems[0]; i++) {
		const struct elem_schema *s = &elems[i];
		if (strcmp(t, s->type))
			continue;
		if (group_import && !s->group_import && !any_elem)
			return fail(why, why_size, "MsgBody[%zu]: %s is not accepted by import_group_msg", idx, t);
		for (const struct elem_field *f = s->fields; f->name; f++) {
			const struct imv *v = imv_get(content, f->name);
			if (!v && f->required)
				return fail(why, why_size, "MsgBody[%zu] %s lacks %s", idx, t, f->name);
			if (v && !type_matches(v, f->type))
				return fail(why, why_size, "MsgBody[%zu] %s.%s has the wrong type", idx, t, f->name);
			/* The download flag tells clients the file is fetched by URL; 2 is the only value.
			 * (Every flag field is numeric: the name is looked at for those only.) */
			if (v && f->type == F_NUM && strstr(f->name, "ownloadFlag") && imv_integer(v) != 2)
				return fail(why, why_size, "MsgBody[%zu] %s.%s must be 2", idx, t, f->name);
			if (v && f->type == F_NUM && !strcmp(f->name, "Download_Flag") && imv_integer(v) != 2)
				return fail(why, why_size, "MsgBody[%zu] %s.%s must be 2", idx, t, f->name);
		}
		if (!strcmp(t, "TIMImageElem"))
			return check_image_info(imv_get(content, "ImageInfoArray"), why, why_size);
		return 0;
	}
	return fail(why, why_size, "MsgBody[%zu] has unknown MsgType %s", idx, t);
}

int im_rules_msg_body_v(const struct im_rules *r, const struct imv *body, bool group_import, char *why, size_t why_size)
{
	if (!imv_is_array(body) || imv_array_size(body) == 0) {
		fail(why, why_size, "MsgBody must be a non-empty array");
		return 90007;
	}
	size_t i, customs = 0;
	const struct imv *el;
	imv_array_foreach(body, i, el) {
		if (check_elem(el, i, group_import, r->group_msg_any_elem, why, why_size))
			return 90010;
		if (!strcmp(imv_string(imv_get(el, "MsgType")), "TIMCustomElem") && ++customs > 1) {
			fail(why, why_size, "MsgBody holds more than one TIMCustomElem");
			return 90010;
		}
	}
	return 0;
}

/* Counts the bytes json_dump_callback produces without building the string. */
static int count_bytes(const char *buffer, size_t size, void *data)
{
	(void)buffer;
	*(size_t *)data += size;
	return 0;
}

size_t im_rules_msg_size(const json_t *body, const char *cloud_custom_data)
{
	size_t n = 0;
	json_dump_callback(body, count_bytes, &n, JSON_COMPACT | JSON_ENCODE_ANY);
	if (cloud_custom_data)
		n += strlen(cloud_custom_data);
	return n;
}

static const struct {
	const char *name;
	enum im_group_type type;
} group_types[] = {
	{"Private", IM_GROUP_PRIVATE},	   {"Public", IM_GROUP_PUBLIC},
	{"ChatRoom", IM_GROUP_CHATROOM},   {"AVChatRoom", IM_GROUP_AVCHATROOM},
	{"Community", IM_GROUP_COMMUNITY}, {"BChatRoom", IM_GROUP_BCHATROOM},
};

enum im_group_type im_rules_group_type(const char *s)
{
	for (size_t i = 0; s && i < sizeof group_types / sizeof group_types[0]; i++)
		if (!strcmp(s, group_types[i].name))
			return group_types[i].type;
	return IM_GROUP_UNKNOWN;
}

bool im_rules_group_has_unread(enum im_group_type t)
{
	return t == IM_GROUP_PRIVATE || t == IM_GROUP_PUBLIC || t == IM_GROUP_COMMUNITY;
}

int im_rules_group_id(const char *id, enum im_group_type t, char *why, size_t why_size)
{
	size_t n = strlen(id);
	if (n == 0 || n >= 48)
		return fail(why, why_size, "GroupId must be 1-47 bytes, is %zu", n);
	for (const char *p = id; *p; p++)
		if (*p < 0x20 || *p > 0x7E)
			return fail(why, why_size, "GroupId must be printable ASCII");
	if (t == IM_GROUP_COMMUNITY) {
		if (strncmp(id, "@TGS#_", 6))
			return fail(why, why_size, "a Community GroupId must start with @TGS#_");
	} else if (!strncmp(id, "@TGS#", 5)) {
		return fail(why, why_size, "a custom GroupId must not start with @TGS#");
	}
	return 0;
}

static bool app_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 16)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
			return false;
	return true;
}

/* AppDefinedData / AppMemberDefinedData: [{Key, Value}]. */
static int app_data(const struct imv *req, const char *field, size_t max_keys, size_t max_value, char *why,
		    size_t why_size)
{
	const struct imv *arr = imv_get(req, field);
	if (!arr)
		return 0;
	if (!imv_is_array(arr))
		return fail(why, why_size, "%s is not an array", field);
	if (imv_array_size(arr) > max_keys)
		return fail(why, why_size, "%s has %zu keys, over %zu", field, imv_array_size(arr), max_keys);
	size_t i;
	const struct imv *kv;
	imv_array_foreach(arr, i, kv) {
		const struct imv *k = imv_get(kv, "Key"), *v = imv_get(kv, "Value");
		if (!imv_is_string(k) || !app_key_ok(imv_string(k)))
			return fail(why, why_size, "%s[%zu].Key must be 1-16 of [A-Za-z0-9_]", field, i);
		if (!imv_is_string(v) || imv_string_length(v) > max_value)
			return fail(why, why_size, "%s[%zu].Value must be a string <= %zu bytes", field, i,
				    max_value);
	}
	return 0;
}

static int enum_field(const struct imv *req, const char *field, const char *const *allowed, char *why, size_t why_size)
{
	const struct imv *v = imv_get(req, field);
	if (v && !(imv_is_string(v) && in_list(imv_string(v), allowed)))
		return fail(why, why_size, "%s has a value outside its allowed set", field);
	return 0;
}

int im_rules_group_info_v(const struct imv *req, enum im_group_type t, bool creating, char *why, size_t why_size)
{
	static const char *const apply[] = {"FreeAccess", "NeedPermission", "DisableApply", NULL};
	static const char *const on_off[] = {"On", "Off", NULL};
	const struct imv *name = imv_get(req, "Name");
	if (creating && !name) {
		fail(why, why_size, "Name is required");
		return 10004;
	}
	if (name && imv_is_string(name) && imv_string_length(name) == 0) {
		fail(why, why_size, "Name is empty");
		return 10004;
	}
	if (opt_string(req, "Name", 30, why, why_size) || opt_string(req, "Introduction", 240, why, why_size) ||
	    opt_string(req, "Notification", 300, why, why_size) || opt_string(req, "FaceUrl", 100, why, why_size) ||
	    enum_field(req, "ApplyJoinOption", apply, why, why_size) ||
	    enum_field(req, "MuteAllMember", on_off, why, why_size) ||
	    app_data(req, "AppDefinedData", 10, 512, why, why_size))
		return 10004;
	if (t == IM_GROUP_COMMUNITY && imv_get(req, "ApplyJoinOption")) {
		fail(why, why_size, "ApplyJoinOption does not apply to Community groups");
		return 10004;
	}
	const char *max_field = creating ? "MaxMemberCount" : "MaxMemberNum";
	const struct imv *max = imv_get(req, max_field);
	if (max) {
		int64_t limit = t == IM_GROUP_COMMUNITY ? 100000 : 6000;
		if (!imv_is_integer(max) || imv_integer(max) < 1 ||
		    (t != IM_GROUP_AVCHATROOM && imv_integer(max) > limit)) {
			fail(why, why_size, "%s must be an integer in 1..%lld", max_field, (long long)limit);
			return 10004;
		}
	}
	if (opt_integer(req, "CreateTime", why, why_size))
		return 10004;
	return 0;
}

int im_rules_member_fields_v(const struct imv *member, bool import, char *why, size_t why_size)
{
	static const char *const import_roles[] = {"Admin", NULL};
	static const char *const roles[] = {"Admin", "Member", NULL};
	static const char *const flags[] = {"AcceptAndNotify", "AcceptNotNotify", "Discard", "AcceptNotNotifyExceptAt",
					    NULL};
	if (!imv_is_object(member)) {
		fail(why, why_size, "member entry is not an object");
		return 10004;
	}
	if (enum_field(member, "Role", import ? import_roles : roles, why, why_size) ||
	    enum_field(member, "MsgFlag", flags, why, why_size) || opt_string(member, "NameCard", 50, why, why_size) ||
	    opt_integer(member, "JoinTime", why, why_size) || opt_integer(member, "UnreadMsgNum", why, why_size) ||
	    opt_integer(member, "MuteTime", why, why_size) ||
	    app_data(member, "AppMemberDefinedData", 5, 64, why, why_size))
		return 10004;
	return 0;
}

bool im_rules_uint32_v(const struct imv *v, uint32_t *out)
{
	if (!imv_is_integer(v))
		return false;
	int64_t n = imv_integer(v);
	if (n < 0 || n > (int64_t)UINT32_MAX)
		return false;
	if (out)
		*out = (uint32_t)n;
	return true;
}

size_t im_rules_msg_size_v(const struct imv *body, const char *cloud_custom_data)
{
	struct im_jbuf b = {0};
	size_t n = body && im_imv_write(&b, body, 0) == 0 ? b.len : 0;
	im_jbuf_free(&b);
	if (cloud_custom_data)
		n += strlen(cloud_custom_data);
	return n;
}

/* ---- the Jansson entry points: one tree per call, then the rules above ---- */

struct jv {
	struct imv_arena arena;
	struct imv val;
	const struct imv *v; /* NULL for an absent value */
};

/* Converts v; returns -1 (and frees) when out of memory. */
static int jv_open(struct jv *j, const json_t *v)
{
	j->arena = (struct imv_arena){0};
	j->v = NULL;
	if (!v)
		return 0;
	if (imv_from_json(&j->arena, v, &j->val)) {
		imv_arena_free(&j->arena);
		return -1;
	}
	j->v = &j->val;
	return 0;
}

static int oom(char *why, size_t why_size, int code)
{
	fail(why, why_size, "out of memory");
	return code;
}

int im_rules_user_id(const json_t *v, char *why, size_t why_size)
{
	/* No tree needed for a scalar: a string's view is the string. */
	struct imv s = {.type = IMV_NULL};
	if (json_is_string(v)) {
		s.type = IMV_STRING;
		s.len = json_string_length(v);
		s.u.s = json_string_value(v);
	}
	return im_rules_user_id_v(v ? &s : NULL, why, why_size);
}

int im_rules_profile_item(const json_t *item, char *why, size_t why_size)
{
	struct jv j;
	if (jv_open(&j, item))
		return oom(why, why_size, 40006);
	int rc = im_rules_profile_item_v(j.v, why, why_size);
	imv_arena_free(&j.arena);
	return rc;
}

int im_rules_friend_item(const json_t *item, bool import, char *why, size_t why_size)
{
	struct jv j;
	if (jv_open(&j, item))
		return oom(why, why_size, 30006);
	int rc = im_rules_friend_item_v(j.v, import, why, why_size);
	imv_arena_free(&j.arena);
	return rc;
}

int im_rules_msg_body(const struct im_rules *r, const json_t *body, bool group_import, char *why,
		      size_t why_size)
{
	struct jv j;
	if (jv_open(&j, body))
		return oom(why, why_size, 90992);
	int rc = im_rules_msg_body_v(r, j.v, group_import, why, why_size);
	imv_arena_free(&j.arena);
	return rc;
}

int im_rules_group_info(const json_t *req, enum im_group_type t, bool creating, char *why, size_t why_size)
{
	struct jv j;
	if (jv_open(&j, req))
		return oom(why, why_size, 10002);
	int rc = im_rules_group_info_v(j.v, t, creating, why, why_size);
	imv_arena_free(&j.arena);
	return rc;
}

int im_rules_member_fields(const json_t *member, bool import, char *why, size_t why_size)
{
	struct jv j;
	if (jv_open(&j, member))
		return oom(why, why_size, 10002);
	int rc = im_rules_member_fields_v(j.v, import, why, why_size);
	imv_arena_free(&j.arena);
	return rc;
}

bool im_rules_uint32(const json_t *v, uint32_t *out)
{
	struct imv n = {.type = json_is_integer(v) ? IMV_INT : IMV_NULL, .u.i = json_integer_value(v)};
	return im_rules_uint32_v(&n, out);
}
