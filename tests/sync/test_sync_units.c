/* Pure parts of the sync daemon: the job's sync table, the callback helpers of
 * the HTTP front (event ids, echo filter, commands), the Prometheus rendering,
 * and the live REST calls built from IM records. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "sync_config.h"
#include "sync_http.h"
#include "sync_im_request.h"
#include "sync_metrics.h"

static json_t *parse(const char *s)
{
	return json_loads(s, 0, NULL);
}

static int config_fails(const char *json, const char *needle)
{
	struct im_sync_config cfg;
	char err[512] = "";
	json_t *j = parse(json);
	int rc = im_sync_config_parse(j, "/etc/im", &cfg, err, sizeof err);
	im_sync_config_free(&cfg);
	json_decref(j);
	if (rc == 0)
		return 0;
	if (needle && !strstr(err, needle)) {
		diag("error was: %s", err);
		return 0;
	}
	return 1;
}

int main(void)
{
	plan(43);
	char err[512];
	struct im_sync_config cfg;

	/* --- the sync table --- */
	json_t *j = parse("{\"listen\":\"0.0.0.0:9443\",\"port_file\":\"p\",\"tls_cert\":\"/c.pem\",\"tls_key\":\"k.pem\","
			  "\"callback_token\":\"tok\",\"fsync\":false,\"max_attempts\":3,"
			  "\"directions\":{\"old_to_new\":false}}");
	ok(im_sync_config_parse(j, "/etc/im", &cfg, err, sizeof err) == 0, "a full sync table parses");
	is_str(cfg.listen_host, "0.0.0.0", "listen address");
	is_int(cfg.port, 9443, "listen port");
	is_str(cfg.port_file, "/etc/im/p", "relative paths resolve against the job's directory");
	is_str(cfg.tls_cert, "/c.pem", "absolute paths stay");
	is_str(cfg.tls_key, "/etc/im/k.pem", "tls_key resolved");
	ok(cfg.callback_token_len == 3 && memcmp(cfg.callback_token, "tok", 3) == 0, "inline token");
	is_int(cfg.fsync, 0, "fsync off");
	is_int(cfg.max_attempts, 3, "max_attempts");
	ok(!cfg.old_to_new && cfg.new_to_old, "directions");
	im_sync_config_free(&cfg);
	json_decref(j);

	j = parse("{\"listen\":\"[::1]:0\",\"callback_token\":\"t\"}");
	ok(im_sync_config_parse(j, NULL, &cfg, err, sizeof err) == 0 && strcmp(cfg.listen_host, "::1") == 0 &&
		   cfg.port == 0,
	   "IPv6 listen with port 0");
	ok(cfg.fsync == 1 && cfg.callback_window == 60 && cfg.max_body == 1048576 && cfg.deliver == 1, "defaults");
	im_sync_config_free(&cfg);
	json_decref(j);

	unsetenv("IMMIGRATE_CALLBACK_TOKEN");
	ok(config_fails("{}", "callback token"), "no callback token: refused, saying how to give one");
	ok(!config_fails("{\"directions\":{\"new_to_old\":false}}", NULL), "unless new->old is off");
	ok(config_fails("{\"callback_token\":\"t\",\"lisen\":\"x\"}", "sync.lisen: unknown key"), "unknown key named");
	ok(config_fails("{\"callback_token\":\"t\",\"listen\":\"localhost\"}", "sync.listen"), "listen without a port");
	ok(config_fails("{\"callback_token\":\"t\",\"listen\":\"1.2.3.4:70000\"}", "sync.listen"), "port out of range");
	ok(config_fails("{\"callback_token\":\"t\",\"tls_cert\":\"c\"}", "both or neither"), "TLS cert without key");
	ok(config_fails("{\"callback_token\":\"t\",\"max_attempts\":0}", "sync.max_attempts"), "limits are checked");
	ok(config_fails("{\"callback_token\":\"t\",\"fsync\":1}", "true or false"), "booleans are checked");
	ok(config_fails("{\"callback_token_file\":\"/nonexistent/token\"}", "/nonexistent/token"),
	   "an unreadable token file is named");
	ok(config_fails("{\"callback_token\":\"t\",\"directions\":{\"sideways\":true}}", "sideways"),
	   "unknown direction named");

	/* --- callback helpers --- */
	ok(im_sync_callback_supported("Group.CallbackAfterSendMsg") && im_sync_callback_supported("Sns.CallbackFriendAdd"),
	   "after-callbacks for sync are supported");
	ok(!im_sync_callback_supported("State.StateChange") && !im_sync_callback_supported("C2C.CallbackBeforeSendMsg") &&
		   !im_sync_callback_supported(NULL),
	   "others are not");
	json_t *b = parse("{\"Operator_Account\":\"admin\"}");
	ok(im_sync_callback_is_echo("RESTAPI", b, "admin"), "RESTAPI + our admin is an echo");
	ok(im_sync_callback_is_echo("restapi", b, "admin"), "platform compared case-insensitively");
	ok(!im_sync_callback_is_echo("iOS", b, "admin"), "a client platform is not");
	ok(!im_sync_callback_is_echo("RESTAPI", b, "other_admin"), "another admin's REST call is not");
	json_decref(b);
	b = parse("{\"Admin_Account\":\"admin\",\"PairList\":[]}");
	ok(im_sync_callback_is_echo("RESTAPI", b, "admin"), "Admin_Account (Sns) counts too");
	json_decref(b);
	char id1[256], id2[256], id3[256];
	im_sync_callback_event_id("C2C.CallbackAfterSendMsg", "{\"a\":1}", 7, id1, sizeof id1);
	im_sync_callback_event_id("C2C.CallbackAfterSendMsg", "{\"a\":1}", 7, id2, sizeof id2);
	im_sync_callback_event_id("C2C.CallbackAfterSendMsg", "{\"a\":2}", 7, id3, sizeof id3);
	ok(strcmp(id1, id2) == 0 && strcmp(id1, id3) != 0, "callback event ids: same body same id, other body other id");
	ok(strncmp(id1, "C2C.CallbackAfterSendMsg:", 25) == 0 && strlen(id1) == 25 + 40, "command plus 40 hex digits");

	/* --- metrics --- */
	struct im_sync_metrics m;
	memset(&m, 0, sizeof m);
	im_sync_count(&m.stored[IM_SYNC_OLD_TO_NEW], 5);
	im_sync_metrics_ack(&m, 0.0007);
	im_sync_metrics_ack(&m, 0.003);
	im_sync_metrics_ack(&m, 9.0);
	int64_t pending[IM_SYNC_NDIR] = {2, 3};
	char *text = im_sync_metrics_render(&m, 4, pending, 9);
	ok(text && strstr(text, "immigrate_sync_stored_total{direction=\"old_to_new\"} 5\n"), "counters by direction");
	ok(text && strstr(text, "immigrate_sync_ack_seconds_bucket{le=\"0.001\"} 1\n") &&
		   strstr(text, "immigrate_sync_ack_seconds_bucket{le=\"0.005\"} 2\n") &&
		   strstr(text, "immigrate_sync_ack_seconds_bucket{le=\"+Inf\"} 3\n"),
	   "histogram buckets are cumulative");
	ok(text && strstr(text, "immigrate_sync_queue_depth 4\n") &&
		   strstr(text, "immigrate_sync_pending{direction=\"new_to_old\"} 3\n"),
	   "gauges");
	free(text);

	/* --- live calls --- */
	struct im_sync_call c;
	json_t *p = parse("{\"From_Account\":\"a\",\"To_Account\":\"b\",\"MsgTimeStamp\":1,\"MsgSeq\":2,\"MsgRandom\":3,"
			  "\"MsgBody\":[]}");
	ok(im_sync_call_build("c2c_msg", p, "a|b", &c, err, sizeof err) == 0 && strcmp(c.command, "importmsg") == 0,
	   "c2c_msg -> importmsg");
	is_int(json_integer_value(json_object_get(c.body, "SyncFromOldSystem")), 5, "with SyncFromOldSystem 5");
	im_sync_call_free(&c);
	json_decref(p);
	p = parse("{\"GroupId\":\"g\",\"From_Account\":\"a\",\"SendTime\":5,\"Random\":9,\"MsgBody\":[]}");
	ok(im_sync_call_build("group_msg", p, NULL, &c, err, sizeof err) == 0 && strcmp(c.command, "send_group_msg") == 0 &&
		   !json_object_get(c.body, "SendTime") && strcmp(c.group_id, "g") == 0,
	   "group_msg -> send_group_msg without SendTime");
	ok(json_array_size(json_object_get(c.body, "ForbidCallbackControl")) == 2, "with both callbacks forbidden");
	im_sync_call_free(&c);
	json_decref(p);
	p = parse("{\"GroupId\":\"g\",\"Type\":\"Public\",\"Name\":\"n\",\"CreateTime\":1}");
	ok(im_sync_call_build("group", p, NULL, &c, err, sizeof err) == 0 && strcmp(c.command, "create_group") == 0 &&
		   !json_object_get(c.body, "CreateTime"),
	   "group -> create_group without CreateTime");
	im_sync_call_free(&c);
	json_decref(p);
	p = parse("{\"GroupId\":\"g\",\"Member_Account\":\"u\"}");
	ok(im_sync_call_build("group_member_exit", p, NULL, &c, err, sizeof err) == 0 &&
		   strcmp(c.command, "delete_group_member") == 0 &&
		   strcmp(json_string_value(json_array_get(json_object_get(c.body, "MemberToDel_Account"), 0)), "u") == 0,
	   "group_member_exit -> delete_group_member");
	im_sync_call_free(&c);
	json_decref(p);
	p = parse("{\"GroupId\":\"g\"}");
	ok(im_sync_call_build("group_member_exit", p, NULL, &c, err, sizeof err) < 0 && strstr(err, "Member_Account"),
	   "a missing field is named: %s", err);
	im_sync_call_free(&c);
	json_decref(p);
	p = parse("{}");
	ok(im_sync_call_build("teleport", p, NULL, &c, err, sizeof err) < 0 && strstr(err, "teleport"),
	   "an unknown kind is refused by name");
	im_sync_call_free(&c);
	json_decref(p);
	ok(im_sync_code_means_landed("create_group", 10021) && im_sync_code_means_landed("destroy_group", 10010) &&
		   !im_sync_code_means_landed("send_group_msg", 10010),
	   "'already there' codes count as landed only where they mean it");
	return done_testing();
}
