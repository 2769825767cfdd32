/* The sync daemon's HTTP front in process, against a real outbox: Tencent
 * callbacks authenticated, stored before the answer, deduplicated, echoes and
 * unsynced commands acknowledged without storing, and a commit that outlasts the
 * acknowledgement deadline answered 503 in time yet still stored. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../tap.h"
#include "callback_sign.h"
#include "outbox.h"
#include "sync_config.h"
#include "sync_http.h"
#include "sync_metrics.h"

static int port;
static char reply[32768];

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	size_t len = strlen(reply), add = size * n;
	if (len + add >= sizeof reply)
		add = sizeof reply - len - 1;
	memcpy(reply + len, p, add);
	reply[len + add] = '\0';
	return size * n;
}

/* One request; returns the HTTP status (0 on transport failure), body in reply. */
static long http(const char *method, const char *path_query, const char *body)
{
	char url[1024];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path_query);
	reply[0] = '\0';
	CURL *c = curl_easy_init();
	long status = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static long callback(const char *command, const char *platform, const char *body, const char *token)
{
	char t[32], sign[IM_CALLBACK_SIGN_HEX + 1], q[512];
	snprintf(t, sizeof t, "%lld", (long long)time(NULL));
	im_callback_sign(token, strlen(token), t, sign);
	snprintf(q, sizeof q,
		 "/im/callback?SdkAppid=1400000001&CallbackCommand=%s&contenttype=json&OptPlatform=%s&Sign=%s"
		 "&RequestTime=%s",
		 command, platform, sign, t);
	return http("POST", q, body);
}

struct gate {
	pthread_mutex_t m;
	pthread_cond_t c;
	int entered, open;
	struct im_outbox *ob;
};

static int hold(sqlite3 *db, void *arg)
{
	struct gate *g = arg;
	pthread_mutex_lock(&g->m);
	g->entered = 1;
	pthread_cond_broadcast(&g->c);
	while (!g->open)
		pthread_cond_wait(&g->c, &g->m);
	pthread_mutex_unlock(&g->m);
	return 0;
}

static void *hold_thread(void *arg)
{
	struct gate *g = arg;
	im_outbox_exec(g->ob, hold, g);
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/immigrate-synchttp.XXXXXX", path[256], err[512] = "";
	if (!mkdtemp(dir))
		skip_all("no temporary directory");
	snprintf(path, sizeof path, "%s/state.db", dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	plan(23);

	struct im_outbox_config oc = {.synchronous_full = 0};
	struct im_outbox *ob = NULL;
	ok(im_outbox_open(path, &oc, &ob, err, sizeof err) == 0, "outbox opens");
	struct im_sync_config cfg;
	json_t *j = json_loads("{\"listen\":\"127.0.0.1:0\",\"callback_token\":\"tok\",\"ack_deadline_ms\":300,"
			       "\"max_body_bytes\":2048}",
			       0, NULL);
	ok(im_sync_config_parse(j, NULL, &cfg, err, sizeof err) == 0, "config parses");
	json_decref(j);
	struct im_sync_metrics m;
	memset(&m, 0, sizeof m);
	struct im_sync_http_params hp = {.cfg = &cfg, .outbox = ob, .metrics = &m, .sdkappid = 1400000001,
					 .admin = "admin"};
	struct im_sync_http *h = NULL;
	ok(im_sync_http_start(&hp, &h, err, sizeof err) == 0, "server starts (%s)", err);
	port = im_sync_http_port(h);
	ok(port > 0, "on a port of its own");

	const char *msg = "{\"CallbackCommand\":\"C2C.CallbackAfterSendMsg\",\"From_Account\":\"a\","
			  "\"To_Account\":\"b\",\"MsgBody\":[]}";
	is_int(callback("C2C.CallbackAfterSendMsg", "iOS", msg, "tok"), 200, "a genuine callback: 200");
	is_str(reply, "{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0}", "Tencent's expected answer");
	is_int(im_outbox_count(ob, "im", -1), 1, "stored before the answer");
	struct im_outbox_row *rows;
	size_t n;
	im_outbox_pending(ob, "im", 0, 10, 1, 0, &rows, &n);
	ok(n == 1 && rows[0].conv && strcmp(rows[0].conv, "c:a|b") == 0 && rows[0].platform &&
		   strcmp(rows[0].platform, "iOS") == 0,
	   "with its ordering key and platform");
	im_outbox_rows_free(rows, n);

	is_int(callback("C2C.CallbackAfterSendMsg", "iOS", msg, "tok"), 200, "the same callback again: 200");
	is_int(im_outbox_count(ob, "im", -1), 1, "nothing new stored");
	is_int(m.duplicates[IM_SYNC_NEW_TO_OLD], 1, "counted as a duplicate");
	is_int(callback("C2C.CallbackAfterSendMsg", "iOS", msg, "forged"), 401, "forged Sign: 401");
	is_int(m.rejected[IM_SYNC_NEW_TO_OLD], 1, "counted as rejected");
	is_int(callback("Group.CallbackAfterCreateGroup", "RESTAPI",
			"{\"GroupId\":\"g\",\"Operator_Account\":\"admin\",\"Type\":\"Public\"}", "tok"),
	       200, "an echo of our admin's REST call: 200");
	is_int(callback("State.StateChange", "iOS", "{\"Info\":{}}", "tok"), 200, "a command we do not sync: 200");
	is_int(m.ignored[IM_SYNC_NEW_TO_OLD], 2, "both ignored");
	is_int(im_outbox_count(ob, "im", -1), 1, "neither stored");
	is_int(callback("C2C.CallbackAfterSendMsg", "iOS", "[1,2]", "tok"), 400, "a body that is not an object: 400");

	is_int(http("GET", "/healthz", NULL), 200, "healthz");
	ok(http("GET", "/metrics", NULL) == 200 && strstr(reply, "immigrate_sync_ack_seconds_count 2\n"),
	   "metrics count the two acknowledgements");

	/* A stalled commit: the committer is held until after the deadline. */
	struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, ob};
	pthread_t th;
	pthread_create(&th, NULL, hold_thread, &g);
	pthread_mutex_lock(&g.m);
	while (!g.entered)
		pthread_cond_wait(&g.c, &g.m);
	pthread_mutex_unlock(&g.m);
	const char *late = "{\"CallbackCommand\":\"C2C.CallbackAfterSendMsg\",\"From_Account\":\"a\","
			   "\"To_Account\":\"c\",\"MsgBody\":[]}";
	is_int(callback("C2C.CallbackAfterSendMsg", "iOS", late, "tok"), 503,
	       "a commit outlasting ack_deadline_ms is answered 503, not left hanging");
	pthread_mutex_lock(&g.m);
	g.open = 1;
	pthread_cond_broadcast(&g.c);
	pthread_mutex_unlock(&g.m);
	pthread_join(th, NULL);
	for (int i = 0; i < 200 && im_outbox_count(ob, "im", -1) < 2; i++)
		usleep(10000); /* waits for the commit; asserts nothing about time */
	is_int(im_outbox_count(ob, "im", -1), 2, "and the event is stored all the same");
	is_int(callback("C2C.CallbackAfterSendMsg", "iOS", late, "tok"), 200,
	       "Tencent's retry of it is then a duplicate");

	im_sync_http_stop(h);
	im_outbox_close(ob);
	im_sync_config_free(&cfg);
	curl_global_cleanup();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
