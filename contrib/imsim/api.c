/* Dispatch of REST commands to handlers, and what handlers share. */
#include "config.h"

#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "reply.h"
#include "state.h"

static const struct {
	const char *command;
	api_handler fn;
} handlers[] = {
	{"account_import", api_account_import},
	{"multiaccount_import", api_multiaccount_import},
	{"account_check", api_account_check},
	{"account_delete", api_account_delete},
	{"portrait_set", api_portrait_set},
	{"portrait_get", api_portrait_get},
	{"friend_import", api_friend_import},
	{"friend_add", api_friend_add},
	{"friend_delete", api_friend_delete},
	{"black_list_add", api_black_list_add},
	{"black_list_delete", api_black_list_delete},
	{"friend_get", api_friend_get},
	{"importmsg", api_importmsg},
	{"admin_set_msg_read", api_admin_set_msg_read},
	{"sendmsg", api_sendmsg},
	{"batchsendmsg", api_batchsendmsg},
	{"admin_getroammsg", api_admin_getroammsg},
	{"import_group", api_import_group},
	{"import_group_member", api_import_group_member},
	{"import_group_msg", api_import_group_msg},
	{"set_unread_msg_num", api_set_unread_msg_num},
	{"create_group", api_create_group},
	{"get_group_info", api_get_group_info},
	{"get_group_member_info", api_get_group_member_info},
	{"modify_group_base_info", api_modify_group_base_info},
	{"add_group_member", api_add_group_member},
	{"delete_group_member", api_delete_group_member},
	{"modify_group_member_info", api_modify_group_member_info},
	{"send_group_msg", api_send_group_msg},
	{"group_msg_get_simple", api_group_msg_get_simple},
	{"destroy_group", api_destroy_group},
	{"change_group_owner", api_change_group_owner},
};

api_handler api_handler_for(const struct im_api_info *api)
{
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
		if (!strcmp(handlers[i].command, api->command))
			return handlers[i].fn;
	return NULL;
}

json_t *api_dispatch(struct sim *sim, const struct im_api_info *api, api_handler handler, const json_t *req,
		     const char *operator_id, const char *platform, json_t **callbacks)
{
	struct api_ctx c = {
		.sim = sim,
		.api = api,
		.req = req,
		.resp = reply_envelope(api->family),
		.callbacks = json_array(),
		.operator_id = operator_id,
		.platform = platform,
		.now = (int64_t)time(NULL),
	};
	*callbacks = NULL;
	if (!c.resp || !c.callbacks) {
		json_decref(c.resp);
		json_decref(c.callbacks);
		return NULL;
	}
	if (!handler)
		handler = api_handler_for(api);
	int code;
	if (db_exec(sim->db, "BEGIN IMMEDIATE", NULL)) {
		code = api_fail(&c, im_rules_internal_code(api->family), "state database busy");
	} else {
		code = handler ? handler(&c) : api_fail(&c, 60009, "command not implemented");
		if (db_exec(sim->db, code ? "ROLLBACK" : "COMMIT", NULL) && !code)
			code = api_fail(&c, im_rules_internal_code(api->family), "state database write failed");
	}
	if (code) {
		/* A failed request answers the bare envelope: drop half-built members. */
		json_decref(c.resp);
		c.resp = reply_error(api->family, code, c.info);
		json_array_clear(c.callbacks);
	}
	stats_code(&sim->stats, code);
	*callbacks = c.callbacks;
	return c.resp;
}

int api_fail(struct api_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->info, sizeof c->info, fmt, ap);
	va_end(ap);
	return code;
}

const char *api_str(const json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

bool api_account_exists(struct api_ctx *c, const char *user_id)
{
	return user_id && db_int(c->sim->db, 0, "SELECT 1 FROM accounts WHERE user_id = ?", "s", user_id) == 1;
}

void api_callback(struct api_ctx *c, const char *command, json_t *body)
{
	if (!body)
		return;
	json_object_set_new(body, "CallbackCommand", json_string(command));
	json_array_append_new(c->callbacks, json_pack("{s:s, s:s, s:o}", "command", command, "platform",
						      c->platform, "body", body));
}

json_t *api_event_time(const struct api_ctx *c)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return json_integer((json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

bool api_has_flag(const json_t *control, const char *flag)
{
	size_t i;
	const json_t *v;
	json_array_foreach(control, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), flag))
			return true;
	return false;
}
